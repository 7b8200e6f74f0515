//! The daemon's counters, read through its one machine-readable interface:
//! `nat64 stats --json` — the snapshot its control socket serves (`@nat64/<device>`, per
//! network namespace), or what the pinned maps hold when no daemon runs — parsed into
//! [`nat64::ops::snapshot::Snapshot`], the type the daemon serialises. Never the log, never
//! the text of `nat64 stats`: those are written for people. Ask while the daemon still runs;
//! after a stop only a `--keep` run's pins are left to read.

use std::{fmt, ops::Deref};

use anyhow::{bail, Context as _, Result};
use nat64::ops::snapshot::{Snapshot, TunCounters, XskSocketCounters};
use nat64_common::counters::Outcome;

use crate::netns::Netns;

/// One answer of `nat64 stats --json`: typed, with the JSON as printed for failure messages
/// (`{stats}` in an assertion shows every counter).
pub struct Stats {
    snapshot: Snapshot,
    json: String,
}

impl Stats {
    /// `nat64 stats --json --device <device> <args>` inside `ns`.
    pub fn read(ns: &Netns, device: &str, args: &[&str]) -> Result<Self> {
        let binary = crate::binary::nat64();
        let output = ns
            .command(binary.to_str().context("binary path is UTF-8")?)
            .args(["stats", "--json", "--device", device])
            .args(args)
            .output()
            .context("running nat64 stats --json")?;
        if !output.status.success() {
            bail!(
                "nat64 stats --json --device {device} {args:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let json = String::from_utf8(output.stdout).context("nat64 stats --json is UTF-8")?;
        let snapshot = serde_json::from_str(&json)
            .with_context(|| format!("nat64 stats --json is not a snapshot:\n{json}"))?;
        Ok(Self { snapshot, json })
    }

    /// Packets the TC program counted with `outcome`.
    pub fn tc(&self, outcome: Outcome) -> u64 {
        self.kernel("tc", outcome)
    }

    /// Packets the XDP programs counted with `outcome` (all interfaces together).
    pub fn xdp(&self, outcome: Outcome) -> u64 {
        self.kernel("xdp", outcome)
    }

    /// Packets kernel program `program` ("tc", "xdp") counted with `outcome`; panics, with
    /// the whole answer, when the snapshot has no counters of that program (the kernel path
    /// is not up, or no XDP interface was named).
    pub fn kernel(&self, program: &str, outcome: Outcome) -> u64 {
        let Some(counters) = self.snapshot.kernel.iter().find(|p| p.program == program) else {
            panic!("no {program} counters in nat64 stats --json:\n{self}")
        };
        counters
            .outcomes
            .iter()
            .find(|c| c.outcome == outcome.as_str())
            .map(|c| c.packets)
            .unwrap_or_else(|| panic!("no {program} {} in:\n{self}", outcome.as_str()))
    }

    /// A counter of the AF_XDP sockets, summed over interfaces and queues (0 without any).
    pub fn af_xdp(&self, counter: impl Fn(&XskSocketCounters) -> u64) -> u64 {
        self.snapshot.af_xdp.iter().map(counter).sum()
    }

    /// The TUN workers' counters; panics, with the whole answer, when they are not there
    /// (read from the pins: no daemon runs).
    pub fn tun(&self) -> &TunCounters {
        self.snapshot
            .tun
            .as_ref()
            .unwrap_or_else(|| panic!("no tun counters in nat64 stats --json:\n{self}"))
    }
}

/// Every field of the snapshot: `stats.mappings`, `stats.datapath.kind`, `stats.source`, ...
impl Deref for Stats {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

/// The JSON as `nat64 stats --json` printed it.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}
