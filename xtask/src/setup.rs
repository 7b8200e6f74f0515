//! Installs what building and testing need on a fresh machine of this project's kind. The
//! one place that knows the toolchain: `.ci/run`, the README and every xtask go through it.
//! Each step checks first, so a warm machine pays a few milliseconds.

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::cmd;

const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
/// Debian packages bpf-linker links against.
const BUILD_PACKAGES: &[&str] = &["llvm-22-dev", "libpolly-22-dev"];
/// Debian packages the namespace tests and benchmarks drive: TAYGA is the peer we compare
/// against and take over from; the rest build and observe the test networks.
const TEST_PACKAGES: &[&str] = &[
    "tayga",
    "iproute2",
    "iputils-ping",
    "iperf3",
    "tcpdump",
    "nftables",
    "iptables",
    "ethtool",
    "bpftool",
    "python3-scapy",
    // TAYGA's own suite (../shared/peer) drives its namespaces with pyroute2.
    "python3-pyroute2",
];

/// Everything: the build tools and the test tools.
pub fn ensure_all(root: &Path) -> Result<()> {
    ensure_build_tools(root)?;
    ensure_debian_packages(TEST_PACKAGES)
}

/// What `cargo build` of nat64-user needs: nightly with rust-src, LLVM 22, bpf-linker.
pub fn ensure_build_tools(root: &Path) -> Result<()> {
    ensure_rust_src(root)?;
    ensure_debian_packages(BUILD_PACKAGES)?;
    ensure_bpf_linker()
}

fn ensure_rust_src(root: &Path) -> Result<()> {
    if has_rust_src()? {
        return Ok(());
    }
    let added = cmd::output(Command::new("rustup").args([
        "component",
        "add",
        "rust-src",
        "--toolchain",
        "nightly",
    ]))?;
    if added.status.success() && has_rust_src()? {
        return Ok(());
    }
    eprintln!(
        "xtask: rustup could not download rust-src ({}); trying the copy in ../shared/toolchain",
        String::from_utf8_lossy(&added.stderr).trim()
    );
    install_rust_src_from_shared(root)
}

fn has_rust_src() -> Result<bool> {
    let sysroot = nightly_sysroot()?;
    Ok(Path::new(&sysroot)
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .exists())
}

fn nightly_sysroot() -> Result<String> {
    let out = cmd::output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
    if !out.status.success() {
        bail!(
            "no nightly toolchain: the eBPF crate needs one (`rustup toolchain install nightly`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn install_rust_src_from_shared(root: &Path) -> Result<()> {
    let shared = root.join("../shared/toolchain");
    let tarball = std::fs::read_dir(&shared)
        .with_context(|| format!("no {}", shared.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("rust-src-"))
        })
        .with_context(|| format!("no rust-src tarball in {}", shared.display()))?;
    let rustlib = Path::new(&nightly_sysroot()?).join("lib/rustlib");
    cmd::run(
        Command::new("tar")
            .arg("-C")
            .arg(&rustlib)
            .arg("-xJf")
            .arg(&tarball),
    )?;
    if !has_rust_src()? {
        bail!(
            "{} did not provide rust-src for this nightly (`rustc +nightly -vV` must match its name)",
            tarball.display()
        );
    }
    Ok(())
}

fn ensure_debian_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !cmd::is_root() {
        bail!(
            "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y {}",
            missing.join(" ")
        );
    }
    cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
    cmd::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn ensure_bpf_linker() -> Result<()> {
    let installed = Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(BPF_LINKER_VERSION));
    if installed {
        return Ok(());
    }
    cmd::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("LLVM_PREFIX", LLVM_PREFIX)
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--no-default-features",
                "--features",
                "llvm-22",
            ]),
    )
}
