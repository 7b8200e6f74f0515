//! Shared by the eBPF programs (`no_std`, no allocation) and the userspace daemon.
//!
//! Everything here is value-level: no I/O, no allocation, no panics on any input, so the
//! same code can be inlined into a verifier-checked BPF program and into the userspace
//! translator, and both datapaths translate identically.
#![no_std]
#![deny(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod addr_halves;
pub mod address_policy;
pub mod checksum;
pub mod counters;
pub mod eam;
pub mod icmp_tables;
pub mod ipv4_scope;
pub mod maps;
pub mod mtu;
pub mod plan;
pub mod rfc6052;
pub mod wire;
