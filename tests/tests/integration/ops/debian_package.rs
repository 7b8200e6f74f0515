//! `cargo xtask deb` makes a package lintian finds no error in, that installs with
//! `dpkg -i`, runs (`nat64 --version`, `nat64 config check` on its example), brings its
//! unit, manual page and completions, offers itself as the `tayga` alternative without
//! taking TAYGA's place, and purges without a trace.

use std::{path::Path, process::Command};

use nat64_tests::{binary, privileges::require_root, tempdir::TempDir, tools};

/// Purges the package when the test ends, however it ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "nat64"]).output();
    }
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{command:?}: {text}");
    text
}

fn package_installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "nat64"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

#[test]
fn the_debian_package_lints_installs_runs_and_purges() {
    let Some(_root) = require_root() else {
        return;
    };
    let (Some(_), Some(lintian)) = (
        tools::require("dpkg-deb", None),
        tools::require("lintian", None),
    ) else {
        return;
    };
    if package_installed() {
        tools::skip("a nat64 package is installed on this machine; the test would replace it");
        return;
    }
    let out = TempDir::new("deb").expect("temporary directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .current_dir(tools::workspace_root())
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "deb",
            "--binary",
        ])
        .arg(binary::nat64())
        .arg("--out")
        .arg(out.path()));
    let deb = out
        .path()
        .join(format!("nat64_{}_amd64.deb", env!("CARGO_PKG_VERSION")));
    assert!(deb.exists(), "no {}", deb.display());

    let lint = Command::new(&lintian)
        .args(["--fail-on", "error"])
        .arg(&deb)
        .output()
        .expect("lintian runs");
    let findings = String::from_utf8_lossy(&lint.stdout);
    assert!(
        lint.status.success() && !findings.lines().any(|l| l.starts_with("E: ")),
        "lintian:\n{findings}{}",
        String::from_utf8_lossy(&lint.stderr)
    );

    let tayga_before = std::fs::symlink_metadata("/usr/sbin/tayga").ok();
    let _installed = Installed;
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let version = run(Command::new("/usr/sbin/nat64").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("nat64 {}", env!("CARGO_PKG_VERSION"))
    );
    let checked =
        run(Command::new("/usr/sbin/nat64").args(["config", "check", "/etc/nat64/nat64.toml"]));
    assert!(checked.contains("/etc/nat64/nat64.toml: OK"), "{checked}");
    for file in [
        "/lib/systemd/system/nat64.service",
        "/usr/share/man/man8/nat64.8.gz",
        "/usr/share/bash-completion/completions/nat64",
        "/usr/share/zsh/vendor-completions/_nat64",
        "/usr/share/fish/vendor_completions.d/nat64.fish",
        "/usr/share/doc/nat64/copyright",
    ] {
        assert!(Path::new(file).exists(), "{file} not installed");
    }
    if let Some(analyze) = tools::find("systemd-analyze", None) {
        run(Command::new(analyze).args([
            "verify",
            "--man=no",
            "/lib/systemd/system/nat64.service",
        ]));
    }

    // Offered as the tayga alternative; a TAYGA binary already there stays as it was.
    let query = run(Command::new("update-alternatives").args(["--query", "tayga"]));
    assert!(query.contains("Alternative: /usr/sbin/nat64"), "{query}");
    match &tayga_before {
        Some(meta) if meta.file_type().is_file() => {
            let now = std::fs::symlink_metadata("/usr/sbin/tayga").expect("tayga still there");
            assert!(
                now.file_type().is_file(),
                "TAYGA's binary was replaced by a link"
            );
        }
        _ => {}
    }

    drop(_installed);
    assert!(!package_installed());
    assert!(!Path::new("/usr/sbin/nat64").exists());
    assert!(
        !Path::new("/etc/nat64/nat64.toml").exists(),
        "purge leaves the conffile"
    );
    let gone = Command::new("update-alternatives")
        .args(["--query", "tayga"])
        .output()
        .expect("update-alternatives");
    assert!(
        !String::from_utf8_lossy(&gone.stdout).contains("/usr/sbin/nat64"),
        "the alternative outlived the package"
    );
}
