//! Offloaded packets between the TUN device and the translator: the `virtio_net_hdr` a queue
//! opened with IFF_VNET_HDR puts in front of every packet ([`vnet`]), GSO super-packets
//! translated whole ([`gso`]) or cut into the packets they stand for ([`segment`]), and
//! translated datagrams glued back into USO super-packets ([`coalesce`]).
//!
//! One layer, between the device and the translator: `tun` (which opens the queues and
//! negotiates which offloads the kernel grants, `tun::offload`) uses [`vnet`]; this module
//! uses the translator; the translator knows nothing of either.

pub mod coalesce;
pub mod gso;
pub mod segment;
pub mod vnet;
