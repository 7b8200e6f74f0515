//! One packet through the userspace translator, as every userspace worker (TUN or AF_XDP)
//! does it: translated (statefully or not), its event logged as TAYGA's `log` asks, and
//! counted; the worker only reads and writes.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::atomic::{AtomicU64, Ordering},
};

use nat64_common::counters::DropReason;
use nat64_common::wire::{ipv4::Ipv4, ipv6::Ipv6};
use tracing::{debug, info, warn};

use super::{pool_lookup::PoolLookup, tun_workers::WorkerShared};
use crate::{
    clock::unix_now,
    config::LogOptions,
    offload::coalesce::{Coalescer, Flushed},
    translate::{Output, Translator, Verdict},
    tun::TunQueue,
};

/// What a worker's packets became, summed over its threads.
#[derive(Default)]
pub struct PacketCounters {
    pub translated_packets_out: AtomicU64,
    pub icmp_errors_sent: AtomicU64,
    /// Echo replies to pings of the translator's own addresses.
    pub local_replies: AtomicU64,
    pub write_errors: AtomicU64,
    pub dropped: [AtomicU64; DropReason::COUNT],
}

impl PacketCounters {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .get(reason as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Drops by reason name; with `zeros`, every reason, else those that occurred.
    pub fn dropped_by_reason(&self, zeros: bool) -> std::collections::BTreeMap<String, u64> {
        DropReason::ALL
            .iter()
            .map(|reason| (reason.as_str().to_owned(), self.dropped(*reason)))
            .filter(|(_, n)| zeros || *n > 0)
            .collect()
    }

    pub fn count_drop(&self, reason: DropReason) {
        if let Some(counter) = self.dropped.get(reason as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Translates `packet` (an IP packet) into `out`; true when `out` holds packets to send (the
/// translation, an ICMP error or a reply), false when it was dropped or is not traffic.
pub fn translate(
    packet: &[u8],
    shared: &WorkerShared,
    translator: &Translator,
    out: &mut Output,
    counters: &PacketCounters,
) -> bool {
    if is_quiet_ipv6_control(packet) {
        return false;
    }
    let mut lookup = PoolLookup::new(&shared.mappings, unix_now());
    let verdict = match &shared.stateful {
        Some(stateful) => stateful.translate(packet, out),
        None => translator.translate(packet, &mut lookup, out),
    };
    if lookup.pool_full {
        warn!("dynamic pool is full and no mapping is idle: new IPv6 hosts get ICMPv6 unreachable");
    }
    log_event(&shared.log, verdict, packet, lookup.allocated);
    match verdict {
        Verdict::Translated => {
            counters
                .translated_packets_out
                .fetch_add(out.len() as u64, Ordering::Relaxed);
        }
        Verdict::IcmpError(reason) => {
            counters.count_drop(reason);
            counters.icmp_errors_sent.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::LocalReply => {
            counters.local_replies.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Drop(reason) => {
            counters.count_drop(reason);
            debug!("dropped a packet: {}", reason.as_str());
            return false;
        }
    }
    true
}

/// Hands what one packet became to the TUN device: queued in `batch` when there is one
/// (written at its flush), else written at once. Returns the packets written now.
pub fn send(
    out: &Output,
    queue: &TunQueue,
    counters: &PacketCounters,
    mut batch: Option<&mut Coalescer>,
) -> u64 {
    out.packets()
        .map(|packet| send_one(packet, queue, counters, batch.as_deref_mut()))
        .sum()
}

/// One packet into the TUN device, as [`send`] does; 1 when it was written now.
pub fn send_one(
    packet: &[u8],
    queue: &TunQueue,
    counters: &PacketCounters,
    batch: Option<&mut Coalescer>,
) -> u64 {
    if let Some(batch) = batch {
        batch.push(packet);
        return 0;
    }
    match queue.write(packet) {
        Ok(_) => 1,
        Err(err) => {
            counters.write_errors.fetch_add(1, Ordering::Relaxed);
            debug!("writing to the TUN device failed: {err}");
            0
        }
    }
}

/// Writes what `batch` holds into the TUN device, gluing what it can; failed writes counted.
pub fn flush(
    batch: &mut Coalescer,
    queue: &TunQueue,
    translator: &Translator,
    counters: &PacketCounters,
) -> Flushed {
    let flushed = batch.flush(
        |frame| queue.write_raw(frame),
        |n| translator.take_ipv4_ids(n),
    );
    if flushed.write_errors > 0 {
        counters
            .write_errors
            .fetch_add(flushed.write_errors, Ordering::Relaxed);
        debug!(
            "writing to the TUN device failed {} times",
            flushed.write_errors
        );
    }
    flushed
}

/// TAYGA's `log drop|reject|icmp|self|dyn`: one line per event of the chosen kinds.
pub fn log_event(
    log: &LogOptions,
    verdict: Verdict,
    packet: &[u8],
    allocated: Option<(Ipv6Addr, Ipv4Addr)>,
) {
    if log.dynamic {
        if let Some((v6, v4)) = allocated {
            info!("assigned new pool address {v4} to {v6}");
        }
    }
    let (wanted, what, reason) = match verdict {
        Verdict::Drop(DropReason::AddressedToTranslator) => {
            (log.to_self, "dropped packet to the translator", "")
        }
        Verdict::Drop(reason) => (log.drop, "dropped", reason.as_str()),
        Verdict::IcmpError(DropReason::HopLimitExceeded | DropReason::PacketTooBig) => {
            (log.icmp, "answered with ICMP", "")
        }
        Verdict::IcmpError(reason) => (log.reject || log.icmp, "rejected", reason.as_str()),
        Verdict::LocalReply => (log.to_self, "answered echo request to the translator", ""),
        Verdict::Translated => (false, "", ""),
    };
    if wanted {
        info!("{what} {reason} {}", describe(packet));
    }
}

/// "src -> dst proto N" of an IP packet, for the event log.
fn describe(packet: &[u8]) -> String {
    let version = packet.first().map(|b| b >> 4);
    if let Some(ip) = Ipv4::from_slice(packet).filter(|_| version == Some(4)) {
        let (src, dst) = (Ipv4Addr::from(ip.src()), Ipv4Addr::from(ip.dst()));
        return format!("{src} -> {dst} proto {}", ip.proto());
    }
    if let Some(ip) = Ipv6::from_slice(packet).filter(|_| version == Some(6)) {
        let (src, dst) = (Ipv6Addr::from(ip.src()), Ipv6Addr::from(ip.dst()));
        return format!("{src} -> {dst} next header {}", ip.next_header());
    }
    format!("({} bytes, not IP)", packet.len())
}

/// IPv6 on the TUN device sends MLD reports and router solicitations of its own; they reach
/// the reader and are not traffic to translate.
fn is_quiet_ipv6_control(packet: &[u8]) -> bool {
    Ipv6::from_slice(packet).is_some_and(|ip| ip.version() == 6 && ip.dst()[0] == 0xff)
}
