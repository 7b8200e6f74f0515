//! Address mapping in both directions, decided as TAYGA decides it (`addrmap.c`): one
//! longest-match table per family over the explicit mappings (`map`, `map-file`), the
//! translator's own address, the dynamic pool (with its hosts) and the RFC 6052 prefix.
//!
//! The same tables serve both addresses of a packet: an IPv4 source inside the pool is
//! translated to the IPv6 host holding it, and an IPv6 destination inside the prefix is
//! checked against the IPv4 side like a source would be. A refusal says whether TAYGA
//! answers it with an ICMP error ([`Refusal::answer`]) or drops it silently.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::address_policy::{self, WkpScope};
use nat64_common::rfc6052::{Prefix, WELL_KNOWN_PREFIX};

use super::config::{mask32, Eam, TranslatorConfig};
use super::{DropReason, DynamicMap};

/// Why an address has no form in the other family, and whether the sender is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub reason: DropReason,
    /// TAYGA's `ERROR_REJECT` (an ICMP error goes back) as opposed to `ERROR_DROP`.
    pub answer: bool,
}

impl Refusal {
    fn reject(reason: DropReason) -> Refusal {
        Refusal {
            reason,
            answer: true,
        }
    }

    fn drop(reason: DropReason) -> Refusal {
        Refusal {
            reason,
            answer: false,
        }
    }
}

/// Which end of the packet an address is, for the counted reason only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Source,
    Destination,
}

impl End {
    fn unmapped(self) -> DropReason {
        match self {
            End::Source => DropReason::NoSourceMapping,
            End::Destination => DropReason::NoDestinationMapping,
        }
    }

    fn not_allowed(self) -> DropReason {
        match self {
            End::Source => DropReason::SourceNotAllowed,
            End::Destination => DropReason::DestinationNotAllowed,
        }
    }
}

/// The mapping tables, precomputed from the configuration.
#[derive(Debug)]
pub(crate) struct AddrMap {
    /// Sorted by IPv4 prefix length, longest first.
    eam_by_v4: Vec<Eam>,
    /// The IPv6 sides never overlap (the configuration refuses it), so any order finds the one.
    eam_by_v6: Vec<Eam>,
    prefix: Option<Prefix>,
    /// The well-known prefix under `wkpf-strict`: which IPv4 addresses it refuses.
    wkp_rule: Option<WkpScope>,
    own_v4: [u8; 4],
    own_v6: [u8; 16],
    /// The configured `ipv6-addr` when it lies outside the prefix (TAYGA maps it to
    /// `ipv4-addr`); inside the prefix it is found through the prefix like any other.
    own_v6_outside_prefix: Option<[u8; 16]>,
    /// The dynamic pool's network and length.
    pool: Option<(u32, u8)>,
}

impl AddrMap {
    pub(crate) fn new(cfg: &TranslatorConfig) -> AddrMap {
        let mut eam_by_v4 = cfg.eam.clone();
        eam_by_v4.sort_by_key(|e| std::cmp::Reverse(e.v4_len));
        let own_v6 = cfg.ipv6_addr.octets();
        let in_prefix = cfg.prefix.is_some_and(|p| p.contains(&own_v6));
        AddrMap {
            eam_by_v4,
            eam_by_v6: cfg.eam.clone(),
            prefix: cfg.prefix,
            wkp_rule: (cfg.wkpf_strict && cfg.prefix == Some(WELL_KNOWN_PREFIX))
                .then_some(cfg.wkp_scope),
            own_v4: cfg.ipv4_addr.octets(),
            own_v6,
            own_v6_outside_prefix: (cfg.ipv6_addr != Ipv6Addr::UNSPECIFIED && !in_prefix)
                .then_some(own_v6),
            pool: cfg
                .dynamic_pool
                .map(|(net, len)| (u32::from(net) & mask32(len), len)),
        }
    }

    fn pool_contains(&self, a: [u8; 4]) -> Option<u8> {
        let (net, len) = self.pool?;
        (u32::from_be_bytes(a) & mask32(len) == net).then_some(len)
    }

    /// IPv4 → IPv6 (TAYGA `map_ip4_to_ip6`), for either address of an IPv4 packet or of a
    /// quoted one.
    pub(crate) fn v4_to_v6<M: DynamicMap>(
        &self,
        addr: [u8; 4],
        map: &mut M,
        end: End,
    ) -> Result<[u8; 16], Refusal> {
        let v4 = Ipv4Addr::from(addr);
        let eam = self
            .eam_by_v4
            .iter()
            .find_map(|e| e.v4_to_v6(v4).map(|v6| (e.v4_len, v6)));
        if let Some((32, v6)) = eam {
            return Ok(v6.octets());
        }
        if addr == self.own_v4 {
            // The translator's own address stands for its own IPv6 address.
            return Ok(self.own_v6);
        }
        if let Some(pool_len) = self.pool_contains(addr) {
            if eam.is_none_or(|(len, _)| pool_len >= len) {
                // An address of the pool stands only for the host holding it now.
                return match map.lookup_v4(&v4) {
                    Some(v6) => Ok(v6.octets()),
                    None => Err(Refusal::reject(end.unmapped())),
                };
            }
        }
        if let Some((_, v6)) = eam {
            return Ok(v6.octets());
        }
        let prefix = self
            .prefix
            .as_ref()
            .ok_or(Refusal::reject(end.unmapped()))?;
        if !address_policy::v4_embeddable(addr) {
            return Err(Refusal::drop(DropReason::SpecialAddress));
        }
        if self.wkp_rule.is_some_and(|rule| rule.refuses(addr)) {
            return Err(Refusal::reject(end.not_allowed()));
        }
        Ok(prefix.embed(addr))
    }

    /// IPv6 → IPv4 (TAYGA `map_ip6_to_ip4`): a lookup, nothing is made.
    pub(crate) fn v6_to_v4<M: DynamicMap>(
        &self,
        addr: &[u8; 16],
        map: &mut M,
        end: End,
    ) -> Result<[u8; 4], Refusal> {
        self.walk_v6(addr, end, |v6| map.lookup_v6(v6))
    }

    /// The source of a packet the slow path translates: as [`AddrMap::v6_to_v4`], and where
    /// the dynamic pool is the answer, the host's address made if it has none (the one
    /// explicit allocation step).
    pub(crate) fn source_v6_to_v4<M: DynamicMap>(
        &self,
        addr: &[u8; 16],
        map: &mut M,
    ) -> Result<[u8; 4], Refusal> {
        self.walk_v6(addr, End::Source, |v6| map.allocate(v6))
    }

    /// TAYGA's IPv6 table in order (own address, explicit mappings, the prefix), then the
    /// dynamic pool as `pool` answers.
    fn walk_v6(
        &self,
        addr: &[u8; 16],
        end: End,
        pool: impl FnOnce(&Ipv6Addr) -> Option<Ipv4Addr>,
    ) -> Result<[u8; 4], Refusal> {
        if self.own_v6_outside_prefix.as_ref() == Some(addr) {
            return Ok(self.own_v4);
        }
        let v6 = Ipv6Addr::from(*addr);
        if let Some(v4) = self.eam_by_v6.iter().find_map(|e| e.v6_to_v4(v6)) {
            return never_special(v4);
        }
        if let Some(prefix) = self.prefix.as_ref().filter(|p| p.contains(addr)) {
            return self.behind_prefix(prefix, addr, end);
        }
        match pool(&v6) {
            Some(v4) => never_special(v4),
            None => Err(Refusal::reject(end.unmapped())),
        }
    }

    /// An address inside the prefix: the IPv4 address it embeds, if that address is one
    /// the prefix stands for (not special, not refused by the well-known prefix's rule, and
    /// not one the IPv4 table gives to something else, which would loop).
    fn behind_prefix(
        &self,
        prefix: &Prefix,
        addr: &[u8; 16],
        end: End,
    ) -> Result<[u8; 4], Refusal> {
        let v4 = prefix
            .extract(addr)
            .ok_or(Refusal::drop(DropReason::SpecialAddress))?;
        if !address_policy::v4_embeddable(v4) {
            return Err(Refusal::drop(DropReason::SpecialAddress));
        }
        if self.wkp_rule.is_some_and(|rule| rule.refuses(v4)) {
            return Err(Refusal::reject(end.not_allowed()));
        }
        if self.claims_v4(v4) {
            return Err(Refusal::drop(DropReason::TranslatorLoop));
        }
        Ok(v4)
    }

    /// Whether the IPv4 table gives `v4` to something other than the prefix: the
    /// translator, an explicit mapping or the dynamic pool.
    pub(crate) fn claims_v4(&self, v4: [u8; 4]) -> bool {
        let a = Ipv4Addr::from(v4);
        v4 == self.own_v4
            || self.pool_contains(v4).is_some()
            || self.eam_by_v4.iter().any(|e| e.v4_to_v6(a).is_some())
    }
}

/// A mapping's IPv4 address, unless it is one never translated. The configuration refuses
/// maps and pools that cover such addresses; this holds whatever the tables say.
fn never_special(v4: Ipv4Addr) -> Result<[u8; 4], Refusal> {
    if address_policy::v4_translatable(v4.octets()) {
        Ok(v4.octets())
    } else {
        Err(Refusal::drop(DropReason::SpecialAddress))
    }
}
