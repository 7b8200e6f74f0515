//! Address mapping in both directions: explicit mappings (longest match), then the dynamic
//! pool, then the RFC 6052 prefix (with the well-known-prefix scope rule).

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::{
    ipv4_scope,
    rfc6052::{Prefix, WELL_KNOWN_PREFIX},
};

use super::config::{Eam, TranslatorConfig};
use super::DynamicMap;

/// Which side of the translator an address belongs to, which decides whether the dynamic
/// pool is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// An IPv6 host behind the translator (IPv6 source, IPv4 pool destination): explicit
    /// mappings, then the dynamic pool, then the prefix. `allocate`: whether the pool may
    /// create a mapping (only for the source of a packet, never inside ICMP errors).
    Host { allocate: bool },
    /// A host on the IPv4 side (IPv4 source, IPv6 destination inside the prefix): explicit
    /// mappings, then the prefix.
    Remote,
}

/// The mapping tables, precomputed from the configuration.
#[derive(Debug)]
pub(crate) struct AddrMap {
    /// Sorted by IPv4 prefix length, longest first.
    eam_by_v4: Vec<Eam>,
    /// Sorted by IPv6 prefix length, longest first.
    eam_by_v6: Vec<Eam>,
    prefix: Option<Prefix>,
    /// Whether non-global IPv4 addresses are refused behind the prefix (it is the WKP and
    /// the rule is on).
    scope_checked: bool,
}

impl AddrMap {
    pub(crate) fn new(cfg: &TranslatorConfig) -> AddrMap {
        let mut eam_by_v4 = cfg.eam.clone();
        eam_by_v4.sort_by_key(|e| std::cmp::Reverse(e.v4_len));
        let mut eam_by_v6 = cfg.eam.clone();
        eam_by_v6.sort_by_key(|e| std::cmp::Reverse(e.v6_len));
        AddrMap {
            eam_by_v4,
            eam_by_v6,
            prefix: cfg.prefix,
            scope_checked: cfg.wkpf_strict && cfg.prefix == Some(WELL_KNOWN_PREFIX),
        }
    }

    /// IPv6 → IPv4.
    pub(crate) fn v6_to_v4<M: DynamicMap>(
        &self,
        addr: &[u8; 16],
        map: &mut M,
        role: Role,
    ) -> Option<[u8; 4]> {
        let v6 = Ipv6Addr::from(*addr);
        for eam in &self.eam_by_v6 {
            if let Some(v4) = eam.v6_to_v4(v6) {
                return Some(v4.octets());
            }
        }
        if let Role::Host { allocate } = role {
            if let Some(v4) = map.v6_to_v4(&v6, allocate) {
                return Some(v4.octets());
            }
        }
        let v4 = self.prefix.as_ref()?.extract(addr)?;
        self.scope_allows(v4).then_some(v4)
    }

    /// IPv4 → IPv6.
    pub(crate) fn v4_to_v6<M: DynamicMap>(
        &self,
        addr: [u8; 4],
        map: &mut M,
        role: Role,
    ) -> Option<[u8; 16]> {
        let v4 = Ipv4Addr::from(addr);
        for eam in &self.eam_by_v4 {
            if let Some(v6) = eam.v4_to_v6(v4) {
                return Some(v6.octets());
            }
        }
        if let Role::Host { .. } = role {
            if let Some(v6) = map.v4_to_v6(&v4) {
                return Some(v6.octets());
            }
        }
        let prefix = self.prefix.as_ref()?;
        self.scope_allows(addr).then(|| prefix.embed(addr))
    }

    fn scope_allows(&self, v4: [u8; 4]) -> bool {
        !self.scope_checked || ipv4_scope::is_global(v4)
    }
}
