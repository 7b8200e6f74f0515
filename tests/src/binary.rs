//! The `nat64` binary under test, built once per test process.

use std::{path::PathBuf, process::Command, sync::OnceLock};

/// Path of a freshly built `target/<profile>/nat64` (cargo builds it if sources changed).
pub fn nat64() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("NAT64_BIN") {
                return PathBuf::from(path);
            }
            // Test executables live in target/<profile>/deps; the binary one level up, built
            // with the same profile (a release test run must not start a stale release
            // binary while cargo refreshes the debug one).
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target/<profile>/deps layout");
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args([
                "build",
                "--quiet",
                "--package",
                "nat64-user",
                "--bin",
                "nat64",
            ]);
            if release {
                build.arg("--release");
            }
            let status = build
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the nat64 binary failed");
            profile_dir.join("nat64")
        })
        .clone()
}
