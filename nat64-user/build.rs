//! Builds the eBPF object (nat64-ebpf, nightly, bpfel-unknown-none) so the `nat64` binary can
//! embed it. `cargo xtask build` installs the toolchain this needs; `AYA_BUILD_SKIP=1` builds the
//! userspace alone (the loader then reports that the binary carries no eBPF object).
use std::{env, fs, path::PathBuf};

use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("nat64-user has no parent directory"))?;
    let ebpf_dir = workspace.join("nat64-ebpf");
    let common_dir = workspace.join("nat64-common");
    println!("cargo:rerun-if-changed={}", common_dir.display());

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let object = out_dir.join("nat64");
    // Cleared first so a skipped build never embeds a stale object from an earlier run.
    let _ = fs::remove_file(&object);

    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("workspace path is not UTF-8"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "nat64-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context("building the eBPF object failed; `cargo xtask setup` installs what it needs")?;

    if !object.exists() {
        // AYA_BUILD_SKIP: an empty object, which the loader refuses with a clear message.
        fs::write(&object, [])?;
    }
    Ok(())
}
