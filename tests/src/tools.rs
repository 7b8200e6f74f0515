//! External tools some tests drive (promtool, lintian, systemd-analyze, dpkg): found, or the
//! test says `SKIPPED <test>: <why>` — and fails instead under `NAT64_REQUIRE_ROOT_TESTS=1`
//! (CI, where `cargo xtask setup` installed them).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

/// Prints `SKIPPED <test>: <why>` for the test running on this thread, or panics when CI
/// requires every test to run.
pub fn skip(why: &str) {
    let test = crate::privileges::current_test();
    let message = format!("SKIPPED {test}: {why}");
    if std::env::var_os("NAT64_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1") {
        panic!("{message} (NAT64_REQUIRE_ROOT_TESTS=1)");
    }
    // Straight to the process's stderr, past the harness's capture: a skip shows in every
    // run's output, not only with --nocapture.
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// `name` on PATH, or at `fallback` under the workspace root.
pub fn find(name: &str, fallback: Option<&str>) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let path = workspace_root().join(fallback?);
        path.is_file().then_some(path)
    })
}

/// `name`, or a skip (see [`skip`]) naming `cargo xtask setup` as the fix.
pub fn require(name: &str, fallback: Option<&str>) -> Option<PathBuf> {
    let found = find(name, fallback);
    if found.is_none() {
        skip(&format!(
            "{name} is not installed (cargo xtask setup installs it)"
        ));
    }
    found
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
