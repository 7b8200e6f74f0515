//! Builds the throughput bench's eBPF object (bench-ebpf, nightly, bpfel-unknown-none) so the
//! bench can embed it; `AYA_BUILD_SKIP=1` leaves an empty object and the throughput bench
//! then says it cannot run.
use std::{env, fs, path::PathBuf};

use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("bench has no parent directory"))?;
    let ebpf_dir = workspace.join("bench-ebpf");

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let object = out_dir.join("bench");
    // Cleared first so a skipped build never embeds a stale object from an earlier run.
    let _ = fs::remove_file(&object);

    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("workspace path is not UTF-8"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "bench-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context("building the bench eBPF object failed; `cargo xtask setup` installs what it needs")?;

    if !object.exists() {
        fs::write(&object, [])?;
    }
    Ok(())
}
