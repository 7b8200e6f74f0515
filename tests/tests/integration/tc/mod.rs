//! The TC datapath: the program under hostile input and with host mappings, through
//! BPF_PROG_TEST_RUN (`robustness`); `nat64 run --datapath tc` between namespaces
//! (`gateway`); a restart with `--keep` while the kernel translates (`restart`). Root.

mod gateway;
mod restart;
mod robustness;
