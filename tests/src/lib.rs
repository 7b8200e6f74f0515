//! Helpers shared by the integration tests (`tests/tests/integration/`, see `tests/README.md`)
//! and the benchmarks.

pub mod af_packet;
pub mod binary;
pub mod bpffs;
pub mod counter_moves;
pub mod forwarding;
pub mod gateway_bed;
pub mod jool;
pub mod jool_daemon;
pub mod netns;
pub mod packets;
pub mod privileges;
pub mod siit_bed;
pub mod snmp;
pub mod stats;
pub mod tc_program;
pub mod tempdir;
pub mod test_run;
pub mod tools;
pub mod xdp_program;
