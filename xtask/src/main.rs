//! `cargo xtask`: the one entry point for building, testing, benchmarking and running nat64,
//! so a fresh machine needs nothing but this repository and `cargo`.

mod cmd;
mod deb;
mod fuzz;
mod setup;
mod tayga_suite;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Build, test, benchmark and run nat64")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what the build needs: nightly rust-src, LLVM 22, bpf-linker, test tools.
    Setup,
    /// Build the eBPF object and the `nat64` binary that embeds it.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Run every test: every crate's unit tests and the one integration binary (vectors,
    /// eBPF programs through BPF_PROG_TEST_RUN, namespaces; tests/README.md), then a short
    /// fuzz run of every target (not when a filter is given, unless the filter is `fuzz`),
    /// then TAYGA's own suite against the release binary in both modes (not when a filter is
    /// given, unless the filter is `tayga_suite`).
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// TAYGA's integration suite against the release binary: `root` (kernel datapath),
    /// `userns` (unprivileged container, TUN datapath), or both (the default).
    TaygaSuite {
        #[arg(value_parser = ["root", "userns"])]
        modes: Vec<String>,
    },
    /// Fuzz the translator, the configuration readers, the dynamic.map reader and the kernel
    /// programs (against userspace): `cargo xtask fuzz --secs 60 --target translator`.
    Fuzz {
        /// Seconds per target (default 10 when --inputs is not given either).
        #[arg(long)]
        secs: Option<u64>,
        /// translator, config, dynamic_map, stateful, kernel_tc, kernel_xdp, kernel_stateful_tc,
        /// kernel_stateful_xdp, or all.
        #[arg(long, default_value = "all")]
        target: String,
        /// Inputs per target; with --secs, whichever ends first.
        #[arg(long)]
        inputs: Option<u64>,
        /// The run's seed (default: from the clock), to repeat a run.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run the benchmarks under bench/ and print their tables.
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the Debian package target/deb/nat64_<version>_amd64.deb (release build).
    Deb {
        /// Package this binary instead of building the release one (tests use the debug build).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// Where the .deb goes (default target/deb).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Build (release) and run the gateway as root: `cargo xtask run -- --iface eth0`.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.task {
        Task::Setup => setup::ensure_all(&root),
        Task::Build { release } => {
            setup::ensure_build_tools(&root)?;
            build(&root, release)
        }
        Task::Test { args } => {
            setup::ensure_all(&root)?;
            let suite_only = args.iter().any(|a| a == "tayga_suite");
            let fuzz_only = args.iter().any(|a| a == "fuzz");
            if !suite_only && !fuzz_only {
                let mut cargo = cmd::cargo(&root);
                cargo.args([
                    "test",
                    "--workspace",
                    "--exclude",
                    "nat64-ebpf",
                    "--exclude",
                    "bench-ebpf",
                ]);
                cargo.args(&args);
                cmd::run(&mut cargo)?;
            }
            if args.is_empty() || fuzz_only {
                fuzz::short_run(&root)?;
            }
            if args.is_empty() || suite_only {
                build(&root, true)?;
                tayga_suite::run(&root, &tayga_suite::MODES)?;
            }
            Ok(())
        }
        Task::TaygaSuite { modes } => {
            setup::ensure_all(&root)?;
            build(&root, true)?;
            let modes: Vec<&str> = if modes.is_empty() {
                tayga_suite::MODES.to_vec()
            } else {
                modes.iter().map(String::as_str).collect()
            };
            tayga_suite::run(&root, &modes)
        }
        Task::Fuzz {
            secs,
            target,
            inputs,
            seed,
        } => {
            setup::ensure_build_tools(&root)?;
            fuzz::run(
                &root,
                &fuzz::Run {
                    target: &target,
                    secs,
                    inputs,
                    seed,
                },
            )
        }
        Task::Bench { args } => {
            setup::ensure_all(&root)?;
            let mut cargo = cmd::cargo(&root);
            cargo.args(["bench", "--package", "nat64-bench"]);
            cargo.args(&args);
            cmd::run(&mut cargo)
        }
        Task::Deb { binary, out } => {
            let binary = match binary {
                Some(binary) => binary,
                None => {
                    setup::ensure_build_tools(&root)?;
                    build(&root, true)?;
                    root.join("target/release/nat64")
                }
            };
            let out = out.unwrap_or_else(|| root.join("target/deb"));
            std::fs::create_dir_all(&out)?;
            let deb = deb::build(&root, &binary, &out)?;
            println!("{}", deb.display());
            Ok(())
        }
        Task::Run { args } => {
            setup::ensure_build_tools(&root)?;
            build(&root, true)?;
            let binary = root.join("target/release/nat64");
            let mut gateway = cmd::as_root(&binary);
            gateway.arg("run").args(&args);
            cmd::run(&mut gateway)
        }
    }
}

fn build(root: &std::path::Path, release: bool) -> Result<()> {
    let mut cargo = cmd::cargo(root);
    cargo.args(["build", "--package", "nat64-user"]);
    if release {
        cargo.arg("--release");
    }
    cmd::run(&mut cargo)
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
