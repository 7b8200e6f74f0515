//! `cargo xtask fuzz`: the structure-aware fuzzer (`fuzz/`, the `nat64-fuzz` binary) built
//! with the `fuzz` profile (release optimisation, overflow checks on), then run.

use std::path::Path;

use anyhow::Result;

use crate::cmd;

/// Seconds per target of the short run `cargo xtask test` makes.
pub const SHORT_RUN_SECS: u64 = 5;

/// What to fuzz and for how long.
pub struct Run<'a> {
    pub target: &'a str,
    pub secs: Option<u64>,
    pub inputs: Option<u64>,
    pub seed: Option<u64>,
}

pub fn run(root: &Path, run: &Run<'_>) -> Result<()> {
    let mut cargo = cmd::cargo(root);
    cargo.args(["build", "--profile", "fuzz", "--package", "nat64-fuzz"]);
    cmd::run(&mut cargo)?;
    let mut fuzz = std::process::Command::new(root.join("target/fuzz/nat64-fuzz"));
    fuzz.args(["--target", run.target]);
    if let Some(secs) = run.secs {
        fuzz.args(["--secs", &secs.to_string()]);
    }
    if let Some(inputs) = run.inputs {
        fuzz.args(["--inputs", &inputs.to_string()]);
    }
    if let Some(seed) = run.seed {
        fuzz.args(["--seed", &seed.to_string()]);
    }
    cmd::run(&mut fuzz)
}

/// The short run of every target that `cargo xtask test` makes after the tests.
pub fn short_run(root: &Path) -> Result<()> {
    run(
        root,
        &Run {
            target: "all",
            secs: Some(SHORT_RUN_SECS),
            inputs: None,
            seed: None,
        },
    )
}
