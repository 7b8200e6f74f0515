//! Helpers shared by the integration tests (`tests/tests/integration/`, see `tests/README.md`)
//! and the benchmarks.

pub mod binary;
pub mod bpffs;
pub mod gateway_bed;
pub mod jool;
pub mod netns;
pub mod packets;
pub mod privileges;
pub mod snmp;
pub mod stats;
pub mod tc_program;
pub mod tempdir;
pub mod test_run;
pub mod tools;
pub mod xdp_program;
