//! The nat64 daemon as a library, so tests and benchmarks drive the same code the binary runs.

pub mod ebpf_object;
pub mod pool;
pub mod translate;
