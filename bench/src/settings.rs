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

    /// The rows of `candidates` this run measures: those `NAT64_BENCH_ROWS` lets through and
    /// that can run here. For the ones that cannot, a `left out: <label>: <reason>` line each,
    /// also printed at once under the name of `bench`.
    pub fn select<T: Copy>(
        &self,
        bench: &str,
        candidates: &[T],
        label: impl Fn(T) -> &'static str,
        unavailable: impl Fn(T) -> Option<String>,
    ) -> (Vec<T>, Vec<String>) {
        let mut chosen = Vec::new();
        let mut left_out = Vec::new();
        for &row in candidates {
            if !self.wants(label(row)) {
                continue;
            }
            match unavailable(row) {
                Some(reason) => {
                    eprintln!("{bench}: {} left out: {reason}", label(row));
                    left_out.push(format!("left out: {}: {reason}", label(row)));
                }
                None => chosen.push(row),
            }
        }
        (chosen, left_out)
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

/// True when run as root with the bench's eBPF object built; otherwise says why `bench` is
/// skipped.
pub fn ready_to_run(bench: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED {bench}: needs root (BPF, network namespaces); run `sudo -E cargo xtask bench`");
        return false;
    }
    if !crate::programs::available() {
        eprintln!("SKIPPED {bench}: built with AYA_BUILD_SKIP=1, no eBPF object");
        return false;
    }
    true
}
