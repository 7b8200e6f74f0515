//! The nat64 daemon as a library, so tests and benchmarks drive the same code the binary runs.

pub mod config;
pub mod ebpf_object;
pub mod translate;
