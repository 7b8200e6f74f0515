//! Address mapping in both directions: explicit mappings (longest match), then the dynamic
//! pool, then the RFC 6052 prefix (with the well-known-prefix scope rule).

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::{
    ipv4_scope,
    rfc6052::{Prefix, WELL_KNOWN_PREFIX},
};

use super::config::{Eam, TranslatorConfig};
use super::{DropReason, DynamicMap};

/// Why an address has no form in the other family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unmapped {
    /// Outside every mapping and the prefix.
    NoMapping,
    /// Behind the well-known prefix but not a global IPv4 address (RFC 6052 §3.1).
    NotGlobal,
}

impl Unmapped {
    pub(crate) fn as_source(self) -> DropReason {
        match self {
            Unmapped::NoMapping => DropReason::NoSourceMapping,
            Unmapped::NotGlobal => DropReason::SourceNotAllowed,
        }
    }

    pub(crate) fn as_destination(self) -> DropReason {
        match self {
            Unmapped::NoMapping => DropReason::NoDestinationMapping,
            Unmapped::NotGlobal => DropReason::DestinationNotAllowed,
        }
    }
}

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
    ) -> Result<[u8; 4], Unmapped> {
        let v6 = Ipv6Addr::from(*addr);
        for eam in &self.eam_by_v6 {
            if let Some(v4) = eam.v6_to_v4(v6) {
                return Ok(v4.octets());
            }
        }
        if let Role::Host { allocate } = role {
            if let Some(v4) = map.v6_to_v4(&v6, allocate) {
                return Ok(v4.octets());
            }
        }
        let prefix = self.prefix.as_ref().ok_or(Unmapped::NoMapping)?;
        let v4 = prefix.extract(addr).ok_or(Unmapped::NoMapping)?;
        self.check_scope(v4)?;
        Ok(v4)
    }

    /// IPv4 → IPv6.
    pub(crate) fn v4_to_v6<M: DynamicMap>(
        &self,
        addr: [u8; 4],
        map: &mut M,
        role: Role,
    ) -> Result<[u8; 16], Unmapped> {
        let v4 = Ipv4Addr::from(addr);
        for eam in &self.eam_by_v4 {
            if let Some(v6) = eam.v4_to_v6(v4) {
                return Ok(v6.octets());
            }
        }
        if let Role::Host { .. } = role {
            if let Some(v6) = map.v4_to_v6(&v4) {
                return Ok(v6.octets());
            }
            // A pool address nobody holds has no other form: the prefix must not turn it
            // into an IPv6 address that routes straight back into the translator.
            if map.pool_contains(&v4) {
                return Err(Unmapped::NoMapping);
            }
        }
        let prefix = self.prefix.as_ref().ok_or(Unmapped::NoMapping)?;
        self.check_scope(addr)?;
        Ok(prefix.embed(addr))
    }

    fn check_scope(&self, v4: [u8; 4]) -> Result<(), Unmapped> {
        if self.scope_checked && !ipv4_scope::is_global(v4) {
            Err(Unmapped::NotGlobal)
        } else {
            Ok(())
        }
    }
}
