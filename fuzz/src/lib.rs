//! Structure-aware fuzzing of nat64 (issue 16, "what must never be translated"): the
//! userspace translator, the configuration readers, the `dynamic.map` reader, and the kernel
//! programs through BPF_PROG_TEST_RUN checked against userspace. `cargo xtask fuzz` runs it.

pub mod check;
pub mod gen;
pub mod hex;
pub mod inet;
pub mod report;
pub mod runner;
pub mod setups;
pub mod targets;
