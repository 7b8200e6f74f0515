//! Translation against vectors: Jool's SIIT suite through the userspace translator (`jool`)
//! and through both kernel programs with BPF_PROG_TEST_RUN (`kernel`, root); Jool's stateful
//! NAT64 suite, in order, through the userspace stateful translator (`jool_nat64`) and through
//! both kernel programs with the userspace tables behind them (`jool_nat64_kernel`, root);
//! 200,000 hostile
//! packets through the userspace translator (`malformed_input`).

mod jool;
mod jool_nat64;
mod jool_nat64_kernel;
mod kernel;
mod malformed_input;
