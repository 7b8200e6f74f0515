//! The one way this workspace's build scripts build an eBPF crate (nightly,
//! bpfel-unknown-none, bpf-linker, through aya-build) for the calling crate to embed.
//!
//! With `AYA_BUILD_SKIP=1` the object is left empty, so userspace builds without the
//! nightly toolchain; whoever embeds it must refuse an empty object with a clear message.

use std::{env, fs, path::PathBuf};

use anyhow::{anyhow, Context as _};

/// Builds the workspace crate `package` (in the directory of that name beside the calling
/// crate) and leaves its binary `object` in `OUT_DIR`. `also_watch` names further sibling
/// directories whose changes must rebuild it (shared code it depends on).
pub fn build_sibling(package: &str, object: &str, also_watch: &[&str]) -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", manifest_dir.display()))?;
    for watched in also_watch {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let object = PathBuf::from(env::var("OUT_DIR")?).join(object);
    // Cleared first so a skipped build never embeds a stale object from an earlier run.
    let _ = fs::remove_file(&object);

    let package_dir = workspace.join(package);
    let package_dir = package_dir
        .to_str()
        .ok_or_else(|| anyhow!("workspace path is not UTF-8"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: package,
            root_dir: package_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .with_context(|| {
        format!(
            "building the eBPF crate {package} failed; `cargo xtask setup` installs what it needs"
        )
    })?;

    if !object.exists() {
        fs::write(&object, [])?;
    }
    Ok(())
}
