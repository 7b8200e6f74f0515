//! The datapath while the daemon forgets a crowd of idle mappings at once: one host keeps
//! sending at saturation, the sink's count is sampled every few tens of milliseconds, and
//! the daemon is asked for its mapping count until its log says the sweep is done. The
//! rate over the sweep (and its worst 100 ms) is set against the rate before it.

use std::{
    path::Path as FsPath,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Result};
use nat64_tests::netns::Netns;

use crate::{
    generator::{self, Offer},
    nat64_daemon,
    sink::SinkCounter,
    testbed::Testbed,
    trial::Route,
};

/// The daemon's log line at the end of a sweep (after the kernel entries are gone).
const SWEPT: &str = "dynamic mappings forgotten";
const MAPPING_CHECK_EVERY: Duration = Duration::from_millis(250);
/// Watched on after the sweep, for the rate to settle back.
const AFTER_SWEEP: Duration = Duration::from_secs(2);
/// The span of the worst-window figures.
const WINDOW: f64 = 0.1;
/// The rate before the sweep is taken over this long.
const BEFORE: f64 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    seconds: f64,
    received: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sweep {
    /// From the last mapping count that was still full to the log line (an upper bound).
    pub seconds: f64,
    pub before_pps: f64,
    pub during_pps: f64,
    /// The lowest rate over any 100 ms before the sweep (the usual jitter) and within it.
    pub worst_before_pps: f64,
    pub worst_during_pps: f64,
    pub mappings_before: u64,
    pub mappings_after: u64,
}

/// What the daemon holds, to be forgotten: the stateless pool's mappings (forgotten all at
/// once by the maintenance sweep, which logs it) or stateful sessions (removed by the
/// once-a-second sweep as their timers run out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    Mappings,
    Sessions,
}

impl Held {
    pub fn count(self, gateway: &Netns, nat64_binary: &FsPath) -> Result<u64> {
        match self {
            Held::Mappings => nat64_daemon::mappings(gateway, nat64_binary),
            Held::Sessions => nat64_daemon::sessions(gateway, nat64_binary),
        }
    }

    /// Whether the sweep is over, by the daemon's log and the count left of `full`.
    fn swept(self, log: &str, count: u64, full: u64) -> bool {
        match self {
            Held::Mappings => log.contains(SWEPT),
            Held::Sessions => count <= full / 100,
        }
    }
}

/// Saturates `route` (one host) until the daemon has forgotten what it `held` (`full`
/// before), at most `patience`.
pub fn watch(
    bed: &mut Testbed,
    route: &Route<'_>,
    nat64_binary: &FsPath,
    held: Held,
    full: u64,
    patience: Duration,
) -> Result<Sweep> {
    let counter = SinkCounter::open(&bed.programs, route.arrival)?;
    let offer = Offer {
        rate_pps: None,
        duration: patience,
        flows: 1,
        hosts: 1,
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut checks: Vec<(f64, u64)> = Vec::new();
    let mut swept_at = None;
    let mut failure = None;
    let gateway = &bed.gateway;
    generator::send_while(
        &mut bed.programs,
        &bed.generator,
        route.interface,
        route.frame,
        &offer,
        || {
            let seconds = start.elapsed().as_secs_f64();
            let mut step = || -> Result<()> {
                samples.push(Sample {
                    seconds,
                    received: counter.count()?,
                });
                let due = checks
                    .last()
                    .is_none_or(|(at, _)| seconds - at >= MAPPING_CHECK_EVERY.as_secs_f64());
                if due && swept_at.is_none() {
                    let count = held.count(gateway, nat64_binary)?;
                    checks.push((seconds, count));
                    if held.swept(&gateway.last_child_output(), count, full) {
                        swept_at = Some(seconds);
                    }
                }
                Ok(())
            };
            if let Err(err) = step() {
                failure = Some(err);
                return false;
            }
            swept_at.is_none_or(|at| seconds - at < AFTER_SWEEP.as_secs_f64())
        },
    )?;
    if let Some(err) = failure {
        return Err(err);
    }
    let Some(end) = swept_at else {
        bail!(
            "no sweep within {} s (mapping counts: first {:?}, last {:?})",
            patience.as_secs(),
            checks.first(),
            checks.last()
        );
    };
    let mappings_after = held.count(&bed.gateway, nat64_binary)?;
    analyse(&samples, &checks, end, full, mappings_after)
}

fn analyse(
    samples: &[Sample],
    checks: &[(f64, u64)],
    end: f64,
    full: u64,
    mappings_after: u64,
) -> Result<Sweep> {
    ensure!(
        samples
            .last()
            .is_some_and(|s| s.received > samples[0].received),
        "nothing reached the sink while watching the sweep"
    );
    // The pool forgets first, then the kernel entries go: the count halves at the start.
    let start = checks
        .iter()
        .rev()
        .find(|(at, count)| *at < end && *count >= full / 2)
        .map_or(0.0, |(at, _)| *at);
    let before = (start - BEFORE).max(samples[0].seconds);
    Ok(Sweep {
        seconds: end - start,
        before_pps: rate(samples, before, start),
        during_pps: rate(samples, start, end),
        worst_before_pps: worst_window(samples, before, start),
        worst_during_pps: worst_window(samples, start, end),
        mappings_before: full,
        mappings_after,
    })
}

/// Packets per second between the first sample at or after `from` and the last at or
/// before `to` (the two nearest when the span holds fewer than two).
fn rate(samples: &[Sample], from: f64, to: f64) -> f64 {
    let first = samples
        .iter()
        .position(|s| s.seconds >= from)
        .unwrap_or(samples.len() - 1);
    let last = samples
        .iter()
        .rposition(|s| s.seconds <= to)
        .unwrap_or(0)
        .max(first + 1)
        .min(samples.len() - 1);
    let first = first.min(last.saturating_sub(1));
    let (a, b) = (samples[first], samples[last]);
    if b.seconds <= a.seconds {
        return 0.0;
    }
    (b.received - a.received) as f64 / (b.seconds - a.seconds)
}

/// The lowest rate over any span of at least WINDOW starting within `[from, to]`; the whole
/// span's rate when it is shorter.
fn worst_window(samples: &[Sample], from: f64, to: f64) -> f64 {
    let mut worst = f64::INFINITY;
    for (i, a) in samples.iter().enumerate() {
        if a.seconds < from || a.seconds + WINDOW > to.max(from + WINDOW) {
            continue;
        }
        if let Some(b) = samples[i..]
            .iter()
            .find(|b| b.seconds - a.seconds >= WINDOW)
        {
            worst = worst.min((b.received - a.received) as f64 / (b.seconds - a.seconds));
        }
    }
    if worst.is_finite() {
        worst
    } else {
        rate(samples, from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 packets per 20 ms sample, with no arrivals between 10.0 and 10.2 s.
    fn samples() -> Vec<Sample> {
        let mut received = 0;
        (0..1000)
            .map(|i| {
                let seconds = f64::from(i) * 0.02;
                if !(10.0..10.2).contains(&seconds) {
                    received += 1000;
                }
                Sample { seconds, received }
            })
            .collect()
    }

    #[test]
    fn a_stall_shows_in_the_worst_window() {
        let checks = [(9.5, 100_001), (9.75, 100_001), (10.0, 1)];
        let sweep = analyse(&samples(), &checks, 10.3, 100_001, 1).unwrap();
        assert!((sweep.seconds - 0.55).abs() < 1e-9);
        assert!((sweep.before_pps - 50_000.0).abs() < 1.0);
        assert!((sweep.worst_before_pps - 50_000.0).abs() < 1.0);
        assert_eq!(sweep.worst_during_pps, 0.0);
        assert!(sweep.during_pps < 50_000.0);
    }

    #[test]
    fn a_sweep_shorter_than_a_window_takes_its_own_rate() {
        let samples = samples();
        assert_eq!(worst_window(&samples, 2.0, 2.05), rate(&samples, 2.0, 2.05));
    }
}
