//! What must hold of the configuration readers' answers: every problem names its line (or
//! is a problem of the file as a whole), and whatever they accept, the gateway can run
//! without ever translating an address the rules refuse.

use std::net::Ipv4Addr;

use nat64::config::map_file::MapFile;
use nat64::config::{Config, Diagnostic, StaticMap};
use nat64::gateway::{mappings::persistence, translator_setup};
use nat64::translate::Translator;

/// IPv4 blocks no translator may translate (`address_policy`: this network, loopback,
/// multicast, limited broadcast).
const NEVER_TRANSLATED: [([u8; 4], u8); 4] = [
    ([0, 0, 0, 0], 8),
    ([127, 0, 0, 0], 8),
    ([224, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

/// Problems whose line is missing or not in `text`. A problem without a line must be one of
/// the whole file: something missing, or a clash with a default that names the other line.
pub fn unlocated(text: &str, problems: &[Diagnostic]) -> Vec<String> {
    let lines = text.split('\n').count();
    problems
        .iter()
        .filter_map(|d| match d.line {
            Some(n) if (1..=lines).contains(&n) => None,
            Some(n) => Some(format!("line {n} of a {lines}-line file: {d}")),
            None if whole_file(&d.message) => None,
            None => Some(format!("no line: {d}")),
        })
        .collect()
}

fn whole_file(message: &str) -> bool {
    message.starts_with("no ") || message.contains("must be given") || message.contains("(line ")
}

/// What the gateway does next with an accepted configuration must succeed, and nothing it
/// maps may stand for an address that is never translated.
pub fn runnable(config: &Config) -> Vec<String> {
    let mut found = gateway_accepts(config, &[]);
    if let Some(pool) = config.dynamic_pool {
        if let Some(a) = never_translated_inside(pool.network(), pool.prefix_len()) {
            found.push(format!(
                "accepted dynamic-pool {pool}, which would hand out {a}, an address never translated"
            ));
        }
    }
    found.extend(maps_never_translated(&config.maps));
    found
}

/// The translator and the pool take `config` with `extra_maps` (a map-file's).
fn gateway_accepts(config: &Config, extra_maps: &[StaticMap]) -> Vec<String> {
    let mut found = Vec::new();
    match translator_setup::translator_config(config, extra_maps) {
        Ok(mut tc) => {
            translator_setup::set_link_mtu(&mut tc, 1500);
            if let Err(e) = Translator::new(tc) {
                found.push(format!("accepted, but the translator refuses it: {e:#}"));
            }
        }
        Err(e) => found.push(format!(
            "accepted, but the translator setup refuses it: {e:#}"
        )),
    }
    if let Err(e) = persistence::pool_config(config, extra_maps) {
        found.push(format!("accepted, but the pool refuses it: {e:#}"));
    }
    found
}

fn maps_never_translated(maps: &[StaticMap]) -> Vec<String> {
    maps.iter()
        .filter_map(|m| {
            let a = never_translated_inside(m.ipv4.network(), m.ipv4.prefix_len())?;
            Some(format!(
                "accepted map {} {}, which maps {a}, an address never translated",
                m.ipv4, m.ipv6
            ))
        })
        .collect()
}

/// An address of `net/len` that is never translated, if there is one.
fn never_translated_inside(net: Ipv4Addr, len: u8) -> Option<Ipv4Addr> {
    NEVER_TRANSLATED.iter().find_map(|&(block, block_len)| {
        let shorter = len.min(block_len);
        let mask = u32::MAX.checked_shl(32 - u32::from(shorter)).unwrap_or(0);
        let overlap = u32::from(net) & mask == u32::from_be_bytes(block) & mask;
        // The first address both hold: the longer prefix's network.
        overlap.then(|| {
            if len >= block_len {
                net
            } else {
                Ipv4Addr::from(block)
            }
        })
    })
}

/// A map-file as applied: its notes name lines of it, its maps obey the table's rules among
/// themselves and leave the main configuration's alone, and the result can run (what the
/// main configuration itself holds is the `tayga.conf`/TOML cases' business).
pub fn applied_map_file(config: &Config, text: &str, applied: &MapFile) -> Vec<String> {
    let mut found = unlocated(text, &applied.notes);
    for (i, m) in applied.maps.iter().enumerate() {
        for earlier in applied.maps.iter().take(i) {
            if m.ipv4 == earlier.ipv4 || m.ipv6.overlaps(&earlier.ipv6) {
                found.push(format!(
                    "map-file maps {} {} and {} {} both kept",
                    earlier.ipv4, earlier.ipv6, m.ipv4, m.ipv6
                ));
            }
        }
        if let Some(owner) = main_conflict(config, m) {
            found.push(format!(
                "map-file map {} {} kept over {owner}",
                m.ipv4, m.ipv6
            ));
        }
    }
    found.extend(gateway_accepts(config, &applied.maps));
    found.extend(maps_never_translated(&applied.maps));
    found
}

/// What of the main configuration `m` takes over, if anything.
fn main_conflict(config: &Config, m: &StaticMap) -> Option<String> {
    if let Some(c) = config
        .maps
        .iter()
        .find(|c| c.ipv4 == m.ipv4 || c.ipv6.overlaps(&m.ipv6))
    {
        return Some(format!("map {} {}", c.ipv4, c.ipv6));
    }
    if let Some(p) = config.prefix.filter(|p| p.overlaps(&m.ipv6)) {
        return Some(format!("the prefix {p}"));
    }
    if m.ipv4.prefix_len() == 32 && m.ipv4.addr() == config.ipv4_addr {
        return Some("ipv4-addr".into());
    }
    let own_v6_apart =
        config.ipv6_addr_configured && !config.prefix.is_some_and(|p| p.contains(config.ipv6_addr));
    if own_v6_apart && m.ipv6.contains(config.ipv6_addr) {
        return Some("ipv6-addr".into());
    }
    if config.dynamic_pool == Some(m.ipv4) {
        return Some("the dynamic-pool".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_blocks_inside_subnets() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(never_translated_inside(a("10.0.0.0"), 8), None);
        assert_eq!(
            never_translated_inside(a("126.0.0.0"), 7),
            Some(a("127.0.0.0"))
        );
        assert_eq!(
            never_translated_inside(a("128.0.0.0"), 1),
            Some(a("224.0.0.0"))
        );
        assert_eq!(
            never_translated_inside(a("240.0.0.0"), 4),
            Some(a("255.255.255.255"))
        );
        assert_eq!(never_translated_inside(a("240.0.0.0"), 5), None);
        assert_eq!(
            never_translated_inside(a("127.1.0.0"), 16),
            Some(a("127.1.0.0"))
        );
    }
}
