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
    // The operations tests: systemd-analyze verifies the units, lintian the package,
    // dpkg-deb/strip/objdump build it, setpriv runs TAYGA's unit's user.
    "systemd",
    "lintian",
    "binutils",
    "util-linux",
];
/// Where `promtool` is unpacked when the machine has none (see [`ensure_promtool`]).
pub const PROMTOOL: &str = "target/tools/promtool";

/// Everything: the build tools and the test tools.
pub fn ensure_all(root: &Path) -> Result<()> {
    ensure_build_tools(root)?;
    ensure_debian_packages(TEST_PACKAGES)?;
    ensure_promtool(root)
}

/// `promtool`, which checks the metrics endpoint's output. Debian ships it in the
/// `prometheus` package, whose installation starts a Prometheus server where an init system
/// runs: the tests need only the tool, so it is unpacked from the package into
/// `target/tools/` instead (no root needed).
fn ensure_promtool(root: &Path) -> Result<()> {
    let target = root.join(PROMTOOL);
    let on_path = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if on_path || target.exists() {
        return Ok(());
    }
    let work = root.join("target/tools/prometheus-deb");
    std::fs::create_dir_all(&work)?;
    let download = || {
        cmd::output(
            Command::new("apt-get")
                .current_dir(&work)
                .args(["download", "prometheus"]),
        )
    };
    if !download()?.status.success() {
        if cmd::is_root() {
            cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
        }
        let again = download()?;
        if !again.status.success() {
            bail!(
                "apt-get download prometheus failed (for promtool): {}",
                String::from_utf8_lossy(&again.stderr).trim()
            );
        }
    }
    let deb = std::fs::read_dir(&work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb")?;
    let unpacked = work.join("root");
    cmd::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    std::fs::copy(unpacked.join("usr/bin/promtool"), &target)
        .with_context(|| format!("copying promtool to {}", target.display()))?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
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
