//! The RFC 7915 stateless IP/ICMP translator (SIIT) used by the TUN datapath.
//!
//! One call translates one packet (starting at the IP header) into zero or more packets of the
//! other family, or into one ICMP error back to the sender, or into a drop with a reason. All
//! output is written into a reusable [`Output`], so a warmed-up translator allocates nothing.

// `pub(crate)` for `offload::gso` and `offload::segment`, which translate super-packets
// whole with the translator's address tables and header parsing.
mod addr_map;
mod config;
mod fragment;
mod icmp_error;
mod originate;
mod own_address;
mod plain;
mod rate_limit;
mod transport;
mod v4_to_v6;
mod v6_to_v4;
pub(crate) mod wire;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};

pub use config::{Eam, TranslatorConfig, UdpChecksumMode, WkpScope};
pub use nat64_common::counters::DropReason;
pub use nat64_common::rfc6052::Prefix;

use addr_map::AddrMap;

/// The dynamic pool's hosts (TAYGA `dynamic-pool`): IPv6 hosts mapped to IPv4 pool
/// addresses. Consulted for IPv6 addresses outside every mapping and the prefix, and for
/// IPv4 addresses inside the pool's range (`TranslatorConfig::dynamic_pool`).
///
/// Lookups never create a mapping; the slow path allocates for the source of a packet it
/// translates as a step of its own ([`DynamicMap::allocate`]).
pub trait DynamicMap {
    /// The pool address `v6` holds (a lookup is a use: it stamps the mapping).
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr>;
    /// The IPv6 host that holds pool address `v4` and is active.
    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr>;
    /// `v6`'s pool address, a new one when it has none; `None` without a pool or when it is
    /// full.
    /// (A map that cannot make mappings answers what it has.)
    fn allocate(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.lookup_v6(v6)
    }
}

/// No dynamic pool: every lookup misses.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDynamicMap;

impl DynamicMap for NoDynamicMap {
    fn lookup_v6(&mut self, _v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        None
    }
    fn lookup_v4(&mut self, _v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        None
    }
}

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// One or more packets of the other family are in the [`Output`].
    Translated,
    /// One ICMP error to the sender (same family as the input) is in the [`Output`]; the
    /// reason says why the packet itself was not translated.
    IcmpError(DropReason),
    /// An echo reply from the translator's own address to a ping of it (one packet, same
    /// family as the input).
    LocalReply,
    /// Nothing to send.
    Drop(DropReason),
}

/// Reusable output buffers. Cleared by every [`Translator::translate`] call.
#[derive(Debug)]
pub struct Output {
    buf: Vec<u8>,
    /// End offset in `buf` of each packet.
    ends: Vec<usize>,
    /// Working space (inner packets of ICMP errors, payload being fragmented).
    scratch: Vec<u8>,
}

/// The packets laid end to end in `buf`, each ending at the next of `ends`.
pub(crate) fn packets_in<'a>(
    buf: &'a [u8],
    ends: &'a [usize],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut start = 0;
    ends.iter().map(move |&end| {
        let packet = buf.get(start..end).unwrap_or(&[]);
        start = end;
        packet
    })
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

impl Output {
    pub fn new() -> Output {
        // Room for a 64 KiB packet split into fragments plus their headers, so the buffers
        // never grow after the first packets.
        Output {
            buf: Vec::with_capacity(2 * 65_536),
            ends: Vec::with_capacity(64),
            scratch: Vec::with_capacity(65_536),
        }
    }

    /// The packets produced by the last call, in sending order.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        packets_in(&self.buf, &self.ends)
    }

    /// Number of packets produced by the last call.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.scratch.clear();
    }

    /// Changes each packet of the last call in place (stateful NAT64's ports and hosts).
    pub(crate) fn for_each_packet_mut(&mut self, mut change: impl FnMut(&mut [u8])) {
        let mut start = 0;
        for &end in &self.ends {
            if let Some(packet) = self.buf.get_mut(start..end) {
                change(packet);
            }
            start = end;
        }
    }

    /// Appends a finished packet.
    pub(crate) fn push_packet(&mut self, packet: &[u8]) {
        self.buf.extend_from_slice(packet);
        self.end_packet();
    }

    /// Start offset of the packet being written.
    fn packet_start(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Marks everything written since the previous packet as one packet.
    fn end_packet(&mut self) {
        self.ends.push(self.buf.len());
    }

    /// Forgets a packet being written (after a late drop decision).
    fn abandon_packet(&mut self) {
        let start = self.packet_start();
        self.buf.truncate(start);
    }
}

/// The translator: configuration plus what is precomputed from it.
#[derive(Debug)]
pub struct Translator {
    cfg: TranslatorConfig,
    /// `cfg` as the plain-case plan reads it.
    block: nat64_common::maps::ConfigBlock,
    addrs: AddrMap,
    /// IPv4 Identification for packets that need one (RFC 6864).
    next_id: AtomicU32,
    /// How many ICMP errors it may still originate.
    error_budget: rate_limit::ErrorBudget,
}

impl Translator {
    pub fn new(cfg: TranslatorConfig) -> anyhow::Result<Translator> {
        cfg.validate()?;
        Ok(Translator {
            addrs: AddrMap::new(&cfg),
            block: cfg.config_block(),
            cfg,
            next_id: AtomicU32::new(1),
            error_budget: rate_limit::ErrorBudget::new(
                rate_limit::ERRORS_PER_SECOND,
                rate_limit::BURST,
            ),
        })
    }

    pub fn config(&self) -> &TranslatorConfig {
        &self.cfg
    }

    /// Translates one packet that starts at its IP header.
    pub fn translate<M: DynamicMap>(
        &self,
        packet: &[u8],
        map: &mut M,
        out: &mut Output,
    ) -> Verdict {
        out.clear();
        if let Some(verdict) = plain::translate(self, packet, map, out) {
            return verdict;
        }
        out.clear();
        let verdict = match packet.first().map(|b| b >> 4) {
            Some(6) => v6_to_v4::translate(self, packet, map, out),
            Some(4) => v4_to_v6::translate(self, packet, map, out),
            Some(_) => Verdict::Drop(DropReason::UnknownVersion),
            None => Verdict::Drop(DropReason::Truncated),
        };
        if let Verdict::Drop(_) = verdict {
            out.clear();
        }
        verdict
    }

    /// An ICMP error of `offending`'s family (`ty` and `code` of that family) to its sender,
    /// appended to `out`: stateful NAT64's answer to a packet no binding takes (RFC 6146
    /// §3.5).
    pub(crate) fn icmp_error(
        &self,
        offending: &[u8],
        ty: u8,
        code: u8,
        reason: DropReason,
        out: &mut Output,
    ) -> Verdict {
        match offending.first().map(|b| b >> 4) {
            Some(4) => originate::icmp4_error(self, offending, ty, code, [0; 4], reason, out),
            _ => originate::icmp6_error(self, offending, ty, code, 0, reason, out),
        }
    }

    /// Whether `src` may be translated under the `allow_source` list.
    pub(crate) fn source_allowed(&self, src: &[u8; 16]) -> bool {
        self.cfg.allow_source.is_empty()
            || self
                .cfg
                .allow_source
                .iter()
                .any(|(net, len)| nat64_common::rfc6052::prefix_matches(&net.octets(), src, *len))
    }

    pub(crate) fn next_ipv4_id(&self) -> u16 {
        self.next_id.fetch_add(1, Ordering::Relaxed) as u16
    }

    /// The first of `count` consecutive identifications, for the segments of a super-packet
    /// the kernel numbers from it.
    pub fn take_ipv4_ids(&self, count: u32) -> u16 {
        self.next_id.fetch_add(count, Ordering::Relaxed) as u16
    }
}

#[cfg(test)]
mod tests;
