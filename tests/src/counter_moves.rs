//! What one packet moved in a gateway's counters (`nat64 stats --json` read before and
//! after it): which way it went through an XDP gateway — translated by the XDP program
//! itself or handed to an AF_XDP worker — what the TUN workers and TC did, and what the
//! AF_XDP workers dropped, by reason.

use std::{collections::BTreeMap, fmt};

use nat64_common::counters::Outcome;

use crate::stats::Stats;

/// The counters a packet may move, at one moment.
pub struct Counts {
    xdp: Vec<u64>,
    tc_translated: u64,
    af_xdp_received: u64,
    af_xdp_dropped: BTreeMap<String, u64>,
    tun_received: u64,
    tun_translated: u64,
}

impl Counts {
    /// From a daemon that runs XDP (panics, with the answer, on one that does not).
    pub fn of(stats: &Stats) -> Counts {
        let mut af_xdp_dropped = BTreeMap::new();
        for socket in &stats.af_xdp {
            for (reason, n) in &socket.dropped {
                *af_xdp_dropped.entry(reason.clone()).or_default() += n;
            }
        }
        Counts {
            xdp: Outcome::ALL.iter().map(|o| stats.xdp(*o)).collect(),
            tc_translated: Outcome::ALL
                .iter()
                .filter(|o| o.is_translated())
                .map(|o| stats.tc(*o))
                .sum(),
            af_xdp_received: stats.af_xdp(|s| s.received),
            af_xdp_dropped,
            tun_received: stats.tun().received,
            tun_translated: stats.tun().translated,
        }
    }
}

/// Which way a packet went through the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// To an AF_XDP socket, translated (or dropped) by its worker.
    AfXdp,
    /// Translated by the XDP program itself.
    Xdp,
}

/// What moved between two readings.
pub struct Moved {
    xdp: Vec<(Outcome, u64)>,
    tc_translated: u64,
    af_xdp_received: u64,
    af_xdp_dropped: Vec<(String, u64)>,
    tun_received: u64,
    /// Packets the TUN workers translated.
    pub tun_translated: u64,
}

impl Moved {
    pub fn between(before: &Counts, after: &Counts) -> Moved {
        let grew = |a: u64, b: u64| a.saturating_sub(b);
        Moved {
            xdp: Outcome::ALL
                .iter()
                .zip(before.xdp.iter().zip(&after.xdp))
                .filter(|(_, (b, a))| a != b)
                .map(|(o, (b, a))| (*o, grew(*a, *b)))
                .collect(),
            tc_translated: grew(after.tc_translated, before.tc_translated),
            af_xdp_received: grew(after.af_xdp_received, before.af_xdp_received),
            af_xdp_dropped: after
                .af_xdp_dropped
                .iter()
                .map(|(r, a)| {
                    (
                        r.clone(),
                        grew(*a, *before.af_xdp_dropped.get(r).unwrap_or(&0)),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
            tun_received: grew(after.tun_received, before.tun_received),
            tun_translated: grew(after.tun_translated, before.tun_translated),
        }
    }

    /// The way one packet went: exactly one received by the AF_XDP sockets and none
    /// translated by XDP, or the other way round.
    pub fn path(&self) -> Result<Path, String> {
        let xdp_translated: u64 = self
            .xdp
            .iter()
            .filter(|(o, _)| o.is_translated())
            .map(|(_, n)| n)
            .sum();
        match (self.af_xdp_received, xdp_translated) {
            (1, 0) => Ok(Path::AfXdp),
            (0, 1) => Ok(Path::Xdp),
            _ => Err(format!("not one packet through one path: {self}")),
        }
    }

    /// Whether the AF_XDP workers dropped exactly one packet, for `reason` (as
    /// `DropReason::as_str` names it), and nothing else.
    pub fn af_xdp_dropped_one(&self, reason: &str) -> bool {
        matches!(self.af_xdp_dropped.as_slice(), [(r, 1)] if r == reason)
    }
}

/// Every counter that moved, for failure messages.
impl fmt::Display for Moved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xdp: Vec<String> = self
            .xdp
            .iter()
            .map(|(o, n)| format!("{} {n}", o.as_str()))
            .collect();
        write!(
            f,
            "xdp [{}], af_xdp received {} dropped {:?}, tun received {} translated {}, tc \
             translated {}",
            xdp.join(", "),
            self.af_xdp_received,
            self.af_xdp_dropped,
            self.tun_received,
            self.tun_translated,
            self.tc_translated
        )
    }
}
