//! Tests that need root (BPF, network namespaces, daemons) say so out loud when they cannot
//! run, instead of passing silently, and run one at a time. CI runs as root, so there they
//! always run.
//!
//! ```no_run
//! use nat64_tests::privileges::require_root;
//!
//! // #[test]
//! fn the_gateway_does_something() {
//!     let Some(_root) = require_root() else {
//!         return;
//!     };
//!     // ... namespaces, BPF, a daemon ...
//! }
//! # the_gateway_does_something();
//! ```

use std::sync::{Mutex, MutexGuard};

/// Held by the root test that runs now: every root test of the integration binary takes it,
/// so they run one after another while the tests that need no root run beside them. Root
/// tests start daemons, load BPF and push traffic between namespaces on a machine of a few
/// cores; side by side they would starve each other's timing (pings across a restart, idle
/// timers, bulk transfers).
static ONE_ROOT_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A root test's turn; the next root test starts when it is dropped (at the end of the test,
/// after the namespaces and processes the test made, which were made after it, are gone).
#[must_use = "the turn ends when this is dropped: keep it until the end of the test"]
pub struct RootTest {
    _turn: MutexGuard<'static, ()>,
}

/// The name of the test running on this thread, as the test harness prints it
/// (`tc::gateway::the_kernel_translates_after_the_first_packet`): the harness names each
/// test's thread after it.
pub fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "<this test>".to_owned(),
    }
}

/// The test's turn when it may go on: it runs as root. Otherwise prints
/// `SKIPPED <test>: needs root ...` and returns `None`; with `NAT64_REQUIRE_ROOT_TESTS=1`
/// (set by CI) a missing privilege is a failure instead.
pub fn require_root() -> Option<RootTest> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        crate::tools::skip(
            "needs root (BPF and network namespaces); run `sudo -E cargo xtask test`",
        );
        return None;
    }
    // A root test that failed poisoned the lock: the next one runs all the same.
    let turn = ONE_ROOT_TEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(RootTest { _turn: turn })
}
