//! TAYGA's own integration suite (`../shared/peer/run-tayga-suite.sh`) against the release
//! binary, in a root network namespace (the kernel datapath) and in an unprivileged user
//! namespace (the TUN datapath). It is the definition of "drop-in": TAYGA itself passes
//! 2,332 checks, so must we, in both modes.

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::cmd;

/// What TAYGA (apalrd/tayga 8a028c7) scores; nat64 must not score less in either mode.
pub const TAYGA_PASSES: u32 = 2332;

/// The two ways the suite runs the daemon.
pub const MODES: [&str; 2] = ["root", "userns"];

/// Runs the suite in `modes` and fails when a mode passes fewer checks than TAYGA.
pub fn run(root: &Path, modes: &[&str]) -> Result<()> {
    let script = root.join("../shared/peer/run-tayga-suite.sh");
    if !script.exists() {
        bail!(
            "{} is missing: the TAYGA suite needs the shared peer directory beside the repository",
            script.display()
        );
    }
    if !cmd::is_root() {
        let message =
            "SKIPPED tayga_suite: needs root (network namespaces); run `sudo -E cargo xtask test`";
        if std::env::var_os("NAT64_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1") {
            bail!("{message} (NAT64_REQUIRE_ROOT_TESTS=1)");
        }
        eprintln!("{message}");
        return Ok(());
    }
    let binary = root.join("target/release/nat64");
    let mut short = Vec::new();
    for mode in modes {
        let out = cmd::output(Command::new(&script).arg(&binary).arg(mode))?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        let passed = passed(&text, mode)
            .with_context(|| format!("the TAYGA suite ({mode}) printed no total"))?;
        if passed < TAYGA_PASSES {
            short.push(format!("{mode}: {passed} passed"));
        }
    }
    if !short.is_empty() {
        bail!(
            "the TAYGA suite passed fewer than TAYGA's {TAYGA_PASSES} checks ({}); the results directory above keeps every FAIL line",
            short.join(", ")
        );
    }
    Ok(())
}

/// The passed count of the script's last line, `tayga suite (MODE): P passed, F failed ...`.
fn passed(output: &str, mode: &str) -> Option<u32> {
    let prefix = format!("tayga suite ({mode}): ");
    output
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_total_line() {
        let out = "mapfile: passed 144 failed 1\nresults in /tmp/x\ntayga suite (root): 2345 passed, 6 failed (TAYGA itself: 2332 passed, 19 failed)\n";
        assert_eq!(passed(out, "root"), Some(2345));
        assert_eq!(passed(out, "userns"), None);
        assert_eq!(passed("", "root"), None);
    }
}
