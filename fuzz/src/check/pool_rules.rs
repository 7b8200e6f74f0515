//! What must hold of a dynamic pool whatever `dynamic.map` held: every mapping inside the
//! pool and allocatable, one mapping per address on either side, hosts that may be
//! translated at all, the books balanced, nothing dated in the future.

use std::collections::HashSet;
use std::net::Ipv6Addr;

use nat64::pool::{DynamicPool, Mapping, PoolConfig, Warning};
use nat64_common::address_policy::{v4_translatable, v6_translatable};

pub fn violations(pool: &DynamicPool, now: u64) -> Vec<String> {
    let mut found = Vec::new();
    let mut hosts = HashSet::new();
    for m in pool.iter() {
        found.extend(mapping_violations(pool, &m, now));
        if !hosts.insert(m.v6) {
            found.push(format!(
                "mapping {} {}: a second mapping of the host",
                m.v4, m.v6
            ));
        }
    }
    found.extend(books_balanced(pool));
    found
}

/// What must hold of one mapping the pool holds.
pub fn mapping_violations(pool: &DynamicPool, m: &Mapping, now: u64) -> Vec<String> {
    let config = pool.config();
    let what = format!("mapping {} {}", m.v4, m.v6);
    let mut found = Vec::new();
    if !config.contains(m.v4) {
        found.push(format!("{what}: outside the pool"));
    } else if !config.is_allocatable(m.v4) {
        found.push(format!("{what}: an address the pool never hands out"));
    }
    if !v4_translatable(m.v4.octets()) {
        found.push(format!("{what}: an IPv4 address never translated"));
    }
    if !v6_translatable(&m.v6.octets()) {
        found.push(format!("{what}: an IPv6 host never translated"));
    }
    if reserved_v6(config, &m.v6) {
        found.push(format!("{what}: an IPv6 host a map or the prefix owns"));
    }
    if pool.lookup_v6(&m.v6) != Some(m.v4) || pool.lookup_v4(&m.v4) != Some(m.v6) {
        found.push(format!("{what}: the two lookups disagree"));
    }
    if m.last_use > now {
        found.push(format!("{what}: last used in the future ({})", m.last_use));
    }
    found
}

/// Every address of the pool is either held or free.
pub fn books_balanced(pool: &DynamicPool) -> Option<String> {
    (pool.len() as u64 + pool.free_count() != pool.capacity()).then(|| {
        format!(
            "{} mappings + {} free != capacity {}",
            pool.len(),
            pool.free_count(),
            pool.capacity()
        )
    })
}

fn reserved_v6(config: &PoolConfig, v6: &Ipv6Addr) -> bool {
    config.reserved_v6.iter().any(|(net, len)| {
        let mask = u128::MAX
            .checked_shl(128 - u32::from((*len).min(128)))
            .unwrap_or(0);
        u128::from(*v6) & mask == u128::from(*net) & mask
    })
}

/// Warnings must name a line of the file (or be about the file as a whole).
pub fn unlocated_warnings(file: &[u8], warnings: &[Warning]) -> Vec<String> {
    let lines = file.split(|&b| b == b'\n').count();
    warnings
        .iter()
        .filter_map(|w| match w.line {
            Some(n) if !(1..=lines).contains(&n) => {
                Some(format!("warning on line {n} of a {lines}-line file: {w}"))
            }
            _ => None,
        })
        .collect()
}
