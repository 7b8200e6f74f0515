//! The nat64 daemon as a library, so tests and benchmarks drive the same code the binary runs.

pub mod af_xdp;
pub mod binding_maps;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod ebpf_object;
pub mod gateway;
pub mod host;
#[cfg(test)]
mod layers;
pub mod logging;
pub mod offload;
pub mod ops;
pub mod pins;
pub mod pool;
pub mod readable;
pub mod session_maps;
pub mod stateful;
pub mod tc_maps;
pub mod translate;
pub mod tun;
