//! Builds the eBPF object (nat64-ebpf) so the `nat64` binary can embed it; with
//! `AYA_BUILD_SKIP=1` the loader reports that the binary carries no eBPF object.
fn main() -> anyhow::Result<()> {
    ebpf_build::build_sibling("nat64-ebpf", "nat64", &["nat64-common"])
}
