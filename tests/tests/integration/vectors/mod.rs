//! Translation against vectors: Jool's SIIT suite through the userspace translator (`jool`),
//! through both kernel programs with BPF_PROG_TEST_RUN (`kernel`, root), and end to end
//! through a real gateway — the XDP program and the AF_XDP workers behind it, between
//! namespaces, compared with the userspace translator byte for byte (`af_xdp`, root); Jool's
//! stateful NAT64 suite, in order, through the userspace stateful translator (`jool_nat64`)
//! and through both kernel programs with the userspace tables behind them
//! (`jool_nat64_kernel`, root), and end to end through a real stateful gateway — XDP and the
//! AF_XDP workers, compared with the userspace stateful translator byte for byte
//! (`af_xdp_nat64`, root); 200,000 hostile packets through the userspace translator
//! (`malformed_input`).

mod af_xdp;
mod af_xdp_nat64;
mod jool;
mod jool_nat64;
mod jool_nat64_kernel;
mod kernel;
mod malformed_input;
