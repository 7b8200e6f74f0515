//! Builds the throughput bench's eBPF object (bench-ebpf: generator, sink); with
//! `AYA_BUILD_SKIP=1` the throughput bench says it cannot run.
fn main() -> anyhow::Result<()> {
    ebpf_build::build_sibling("bench-ebpf", "bench", &[])
}
