//! The AF_XDP slow path's sockets (`--iface`): what the XDP program does not translate, and
//! the stack would only have routed into the TUN device, reaches userspace through one
//! socket per receive queue, without the stack. What the workers
//! (`gateway::af_xdp_workers`) translate goes into the TUN device, as the TUN workers'
//! output does, and leaves by the kernel's routes, neighbours and netfilter rules; with
//! `--xdp-slow-path af-xdp-transmit` (beside `--xdp-forward direct` only) it leaves by AF_XDP
//! transmit on the interface the kernel's route names instead (`next_hop`), into TUN still
//! where the stack must help.
//!
//! Built on `xdpilone` (pure Rust, no libxdp or libbpf): the XSKMAP is aya's, so nothing
//! else needs a C library.

pub mod next_hop;
pub mod queues;
pub mod rings;
pub mod socket;

pub use next_hop::{NextHopProgram, NextHops};
pub use socket::{Mode, OpenError, Receiver, Transmitter};
