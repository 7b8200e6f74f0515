//! Tests that need root (BPF, namespaces) say so out loud when they cannot run, instead of
//! passing silently. CI runs as root, so there they always run.

/// True when the test may go on. Otherwise prints why it is skipped; with
/// `NAT64_REQUIRE_ROOT_TESTS=1` (set by CI) a missing privilege is a failure instead.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let message = format!(
        "SKIPPED {test}: needs root (BPF and network namespaces); run `sudo cargo xtask test`"
    );
    if std::env::var_os("NAT64_REQUIRE_ROOT_TESTS").is_some_and(|v| v == "1") {
        panic!("{message} (NAT64_REQUIRE_ROOT_TESTS=1)");
    }
    eprintln!("{message}");
    false
}
