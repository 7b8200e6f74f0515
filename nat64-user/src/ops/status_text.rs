//! `nat64 status`: one screen an operator reads at a glance — what serves, since when and
//! why, from which configuration, how full the pool is, who is active, what went wrong.

use std::fmt::Write as _;

use super::snapshot::{Snapshot, Source};

/// The screen for `s`, as of `now` (seconds since the Unix epoch).
pub fn render(s: &Snapshot, now: u64) -> String {
    let mut out = String::new();
    let mut row = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<15}{value}");
    };
    match (&s.source, &s.daemon) {
        (Source::Daemon, Some(d)) => {
            let manager = if d.systemd {
                ", started by systemd"
            } else {
                ""
            };
            row(
                "nat64",
                &format!(
                    "{} serving {} for {} (pid {}{manager})",
                    s.version,
                    s.device,
                    duration(d.uptime_secs),
                    d.pid
                ),
            );
            row(
                "configuration",
                &format!("{} ({} mode)", d.config_source, d.mode),
            );
        }
        (source, _) => {
            let dir = match source {
                Source::Pins { dir } => dir.as_str(),
                Source::Daemon => "?",
            };
            row(
                "nat64",
                &format!(
                    "no daemon serves {} (read from the maps pinned in {dir})",
                    s.device
                ),
            );
        }
    }
    row(
        "datapath",
        &format!("{} — {}", s.datapath.kind, s.datapath.reason),
    );
    if s.xdp.is_empty() {
        row("xdp", "not attached");
    } else {
        let list: Vec<String> = s
            .xdp
            .iter()
            .map(|x| format!("{} ({})", x.interface, x.mode))
            .collect();
        row("xdp", &list.join(", "));
    }
    if let Some(d) = &s.daemon {
        if !d.prefix.is_empty() {
            row("translation", &d.prefix);
        }
    }
    match &s.pool {
        Some(pool) => row(
            "pool",
            &format!(
                "{}: {} of {} addresses in use ({:.1}%)",
                pool.network,
                pool.in_use,
                pool.capacity,
                pool.percent()
            ),
        ),
        None => row("pool", "no dynamic pool"),
    }
    row("traffic", &traffic(s));
    if s.active_hosts.is_empty() {
        row("active hosts", "none");
    } else {
        for (i, host) in s.active_hosts.iter().enumerate() {
            let label = if i == 0 { "active hosts" } else { "" };
            row(
                label,
                &format!(
                    "{} -> {} (last packet {} ago)",
                    host.ipv6,
                    host.ipv4,
                    duration(host.idle_secs)
                ),
            );
        }
    }
    let errors: Vec<_> = s.recent_errors.iter().rev().take(5).collect();
    if errors.is_empty() {
        row("recent errors", "none");
    } else {
        for (i, record) in errors.iter().enumerate() {
            let label = if i == 0 { "recent errors" } else { "" };
            row(
                label,
                &format!(
                    "{} ago {}: {}",
                    duration(now.saturating_sub(record.unix)),
                    record.level,
                    record.message
                ),
            );
        }
    }
    for error in &s.kernel_errors {
        row("counters", error);
    }
    out
}

/// Translated packets per datapath, and what did not get through.
fn traffic(s: &Snapshot) -> String {
    let mut parts = Vec::new();
    let mut dropped = 0u64;
    let mut punted = 0u64;
    for program in &s.kernel {
        let translated: u64 = program
            .outcomes
            .iter()
            .filter(|c| c.outcome.starts_with("translated_"))
            .map(|c| c.packets)
            .sum();
        punted += program
            .outcomes
            .iter()
            .filter(|c| c.outcome.starts_with("pass_"))
            .map(|c| c.packets)
            .sum::<u64>();
        dropped += program
            .outcomes
            .iter()
            .filter(|c| c.outcome.starts_with("dropped_"))
            .map(|c| c.packets)
            .sum::<u64>();
        parts.push(format!("{} {translated}", program.program));
    }
    if let Some(tun) = &s.tun {
        parts.push(format!("tun {}", tun.translated));
        dropped += tun.dropped.values().sum::<u64>();
    }
    let mut line = format!("translated: {}", parts.join(", "));
    if !s.kernel.is_empty() {
        let _ = write!(line, "; passed on by the kernel programs {punted}");
    }
    let _ = write!(line, "; dropped {dropped}");
    line
}

/// `3d 4h`, `2h 05m`, `4m 10s`, `12s`.
fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(12), "12s");
        assert_eq!(duration(250), "4m 10s");
        assert_eq!(duration(7500), "2h 05m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600), "3d 4h");
    }
}
