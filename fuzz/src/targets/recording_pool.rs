//! The dynamic pool as the TUN workers consult it (`gateway::pool_lookup`), recording every
//! request for a new address so the fuzzer can tell when the translator asked for one on
//! behalf of a source the rules refuse.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::pool::DynamicPool;
use nat64::translate::{DynamicMap, Eam, Prefix, TranslatorConfig};
use nat64_common::address_policy::{v4_translatable, v6_translatable};

/// The pool's clock: every mapping is fresh, none idle.
pub const NOW: u64 = 1_700_000_000;

/// Which IPv6 sources may ever be given a pool address: translatable at all, not inside
/// the prefix, an explicit map or the translator's own address, inside the allow-list, and
/// the source of the packet being translated (never a quoted or a destination address).
#[derive(Clone, Debug)]
struct SourceRules {
    prefix: Option<Prefix>,
    eams: Vec<Eam>,
    own_v6: Ipv6Addr,
    allow_source: Vec<(Ipv6Addr, u8)>,
}

impl SourceRules {
    fn refusal(&self, v6: &Ipv6Addr, packet_source: Option<[u8; 16]>) -> Option<&'static str> {
        let octets = v6.octets();
        if !v6_translatable(&octets) {
            Some("an address that is never translated")
        } else if self.prefix.is_some_and(|p| p.contains(&octets)) {
            Some("inside the prefix")
        } else if self.eams.iter().any(|e| e.v6_to_v4(*v6).is_some()) {
            Some("inside an explicit map")
        } else if *v6 == self.own_v6 {
            Some("the translator's own address")
        } else if !self.allow_source.is_empty()
            && !self.allow_source.iter().any(|(net, len)| {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from((*len).min(128)))
                    .unwrap_or(0);
                u128::from(*v6) & mask == u128::from(*net) & mask
            })
        {
            Some("outside allow_source")
        } else if packet_source != Some(octets) {
            Some("not the source of the packet being translated")
        } else {
            None
        }
    }
}

pub struct RecordingPool {
    initial: Option<DynamicPool>,
    pool: Option<DynamicPool>,
    rules: SourceRules,
    /// The outer IPv6 source of the packet being translated.
    pub packet_source: Option<[u8; 16]>,
    /// Requests for a new address on behalf of a refused source, since the last take.
    pub refused: Vec<String>,
    /// Pool addresses handed out that are never translated.
    pub bad_addresses: Vec<String>,
    /// Requests for a new address since the last take (the check above was exercised).
    pub requests: u32,
}

impl RecordingPool {
    pub fn new(cfg: &TranslatorConfig, pool: Option<DynamicPool>) -> RecordingPool {
        RecordingPool {
            initial: pool.clone(),
            pool,
            rules: SourceRules {
                prefix: cfg.prefix,
                eams: cfg.eam.clone(),
                own_v6: cfg.ipv6_addr,
                allow_source: cfg.allow_source.clone(),
            },
            packet_source: None,
            refused: Vec::new(),
            bad_addresses: Vec::new(),
            requests: 0,
        }
    }

    /// Back to the hosts it started with (a pool filled by strangers only refuses).
    pub fn reset(&mut self) {
        self.pool.clone_from(&self.initial);
    }
}

impl DynamicMap for RecordingPool {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        let pool = self.pool.as_mut()?;
        let v4 = pool.lookup_v6(v6)?;
        pool.touch(v4, NOW);
        Some(v4)
    }

    fn allocate(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.requests += 1;
        if let Some(why) = self.rules.refusal(v6, self.packet_source) {
            self.refused
                .push(format!("pool address asked for {v6}: {why}"));
        }
        let v4 = self.pool.as_mut()?.allocate(v6, NOW).ok()?.v4();
        if !v4_translatable(v4.octets()) {
            self.bad_addresses.push(format!(
                "the pool gave {v6} {v4}, an address never translated"
            ));
        }
        Some(v4)
    }

    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        // As the TUN workers: an idle mapping's address may go to another host any moment.
        let pool = self.pool.as_mut()?;
        if pool.is_idle(v4, NOW) != Some(false) {
            return None;
        }
        pool.touch(*v4, NOW);
        pool.lookup_v4(v4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setups;

    fn pool_setup() -> (TranslatorConfig, DynamicPool) {
        let all = setups::all().unwrap();
        let s = all
            .list
            .into_iter()
            .find(|s| s.name == "wkp-tayga-pool-maps")
            .unwrap();
        (s.translator.clone(), DynamicPool::new(s.pool.unwrap()))
    }

    #[test]
    fn requests_for_refused_sources_are_recorded() {
        let (cfg, pool) = pool_setup();
        let mut p = RecordingPool::new(&cfg, Some(pool));
        let host: Ipv6Addr = "2001:db8:a::99".parse().unwrap();
        p.packet_source = Some(host.octets());
        assert!(p.allocate(&host).is_some());
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        // A quoted address is only looked up: no request.
        let stranger: Ipv6Addr = "2001:db8:b::1".parse().unwrap();
        assert_eq!(p.lookup_v6(&stranger), None);
        assert!(p.refused.is_empty());
        for refused in [
            "::1",
            "fe80::1",
            "64:ff9b::c000:201",
            "2001:db8:6::1",
            "2001:db8:b::1",
        ] {
            let a: Ipv6Addr = refused.parse().unwrap();
            p.allocate(&a);
        }
        assert_eq!(p.refused.len(), 5, "{:?}", p.refused);
        assert_eq!(p.requests, 6);
    }
}
