//! The AF_XDP slow path's sockets (`--iface`): what the XDP program does not translate, and
//! the stack would only have routed into the TUN device, reaches userspace through one
//! socket per receive queue, without the stack. The sockets only receive: the workers
//! (`gateway::af_xdp_workers`) hand what they translate to the TUN device, as the TUN workers
//! do, so it leaves by the kernel's routes, neighbours and netfilter rules.
//!
//! Built on `xdpilone` (pure Rust, no libxdp or libbpf): the XSKMAP is aya's, so nothing
//! else needs a C library.

pub mod queues;
pub mod rings;
pub mod socket;

pub use socket::{Mode, OpenError, XskSocket};
