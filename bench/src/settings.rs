//! The benches' knobs, from the environment, shared by every namespace bench.
//!
//! `NAT64_BENCH_QUICK=1`: one repeat, 1 s trials, 4 search steps. `NAT64_BENCH_FLOWS`
//! (default 64 source ports), `NAT64_BENCH_LOSS` (tolerated loss ratio for the search,
//! default 0), `NAT64_BENCH_ROWS` (comma-separated label parts: only those rows),
//! `NAT64_BENCH_TRIAL_SECS` (trial length, e.g. long enough to profile a gateway under load).

use std::time::Duration;

use anyhow::{Context, Result};

pub struct Settings {
    pub trial: Duration,
    pub repeats: usize,
    pub search_steps: usize,
    pub flows: u32,
    pub loss_ratio: f64,
    pub quick: bool,
    /// Only the rows whose label contains one of these (`NAT64_BENCH_ROWS=TAYGA,nat64`).
    rows: Vec<String>,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        let quick = std::env::var("NAT64_BENCH_QUICK").is_ok_and(|v| v == "1");
        Ok(Self {
            trial: Duration::from_secs(env_or(
                "NAT64_BENCH_TRIAL_SECS",
                if quick { 1 } else { 2 },
            )?),
            repeats: if quick { 1 } else { 3 },
            search_steps: if quick { 4 } else { 6 },
            flows: env_or("NAT64_BENCH_FLOWS", 64)?,
            loss_ratio: env_or("NAT64_BENCH_LOSS", 0.0)?,
            quick,
            rows: std::env::var("NAT64_BENCH_ROWS")
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }

    /// Whether `NAT64_BENCH_ROWS` lets the row labelled `label` run.
    pub fn wants(&self, label: &str) -> bool {
        self.rows.is_empty() || self.rows.iter().any(|r| label.contains(r.as_str()))
    }
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(value) => value.parse().with_context(|| format!("{name}={value}")),
        Err(_) => Ok(default),
    }
}

/// True when run as root; otherwise says why `bench` is skipped.
pub fn running_as_root(bench: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED {bench}: needs root (BPF, network namespaces); run `sudo -E cargo xtask bench`");
    }
    root
}
