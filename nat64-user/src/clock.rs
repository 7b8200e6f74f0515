//! The two clocks the gateway keeps time by: wall-clock seconds since the Unix epoch (what
//! `dynamic.map`, the pool and the reports count in) and CLOCK_BOOTTIME nanoseconds (what the
//! kernel path stamps last use with).

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// CLOCK_BOOTTIME in nanoseconds: the clock of the kernel path's last-use stamps.
pub fn boot_time_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
