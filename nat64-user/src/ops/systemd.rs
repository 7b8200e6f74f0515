//! The service manager's side of `nat64.service` (Type=notify): READY once the datapath
//! serves, the watchdog kept alive from the run loop, RELOADING/STOPPING around SIGHUP and
//! stop. Without systemd (no `NOTIFY_SOCKET`) every call here does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

/// Whether systemd started this process (it sets `INVOCATION_ID` for every unit it runs).
pub fn started_by_systemd() -> bool {
    std::env::var_os("INVOCATION_ID").is_some_and(|v| !v.is_empty())
}

fn notify(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        debug!("sd_notify: {err}");
    }
}

/// The datapath serves: systemd may start what is ordered after us.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// SIGHUP handling begins; [`reloaded`] ends it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

pub fn reloaded() {
    notify(&[NotifyState::Ready]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// How often to ping the watchdog: half of `WatchdogSec`, as sd_watchdog_enabled(3) advises;
/// `None` when the watchdog is off.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

pub fn watchdog_ping() {
    notify(&[NotifyState::Watchdog]);
}
