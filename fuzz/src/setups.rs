//! The configurations packets are fuzzed under, written as configuration files and read
//! through the product's own path (`config::parse_str`, `translator_config`, `pool_config`),
//! so every one of them is a configuration an operator can run.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{anyhow, Context as _};
use nat64::config::{self, Config, Format};
use nat64::gateway::{mappings::persistence, translator_setup};
use nat64::pool::{DynamicPool, Mapping, PoolConfig};
use nat64::translate::TranslatorConfig;

/// One configuration: as the file says it, as the translator gets it, and the pool's hosts
/// the fuzzer starts from (entered in the kernel's host tables for the kernel targets).
#[derive(Clone, Debug)]
pub struct Setup {
    pub name: &'static str,
    pub config: Config,
    pub translator: TranslatorConfig,
    pub pool: Option<PoolConfig>,
    /// Dynamic-pool hosts known from the start (IPv6 host, pool address).
    pub hosts: Vec<(Ipv6Addr, Ipv4Addr)>,
}

struct Source {
    name: &'static str,
    /// A configuration on the edge of what should be accepted: fuzzed while the reader
    /// accepts it, skipped (and said so) once it refuses it.
    edge: bool,
    format: Format,
    /// The TUN device's MTU, which both sides' MTUs come from (as at a real start).
    mtu: u32,
    text: &'static str,
}

const SOURCES: &[Source] = &[
    Source {
        // nat64's defaults: 64:ff9b::/96 with wkpf-strict (IANA registry scope), pool
        // 100.64.0.0/10, the translator's addresses inside the pool and outside the /96.
        name: "wkp-strict-native",
        edge: false,
        format: Format::Toml,
        mtu: 1500,
        text: "tun_device = \"nat64\"\n",
    },
    Source {
        name: "nonwkp-96-map",
        edge: false,
        format: Format::TaygaConf,
        mtu: 1280,
        text: "tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8::1\n\
               prefix 2001:db8:64::/96\nmap 198.51.100.0/24 2001:db8:1::/120\n\
               udp-cksum-mode calc\n",
    },
    Source {
        // ipv6-addr derived from ipv4-addr inside the prefix, as TAYGA does.
        name: "prefix-40-fwd",
        edge: false,
        format: Format::TaygaConf,
        mtu: 1500,
        text: "tun-device nat64\nipv4-addr 192.0.2.2\nprefix 2001:db8:100::/40\n\
               udp-cksum-mode fwd\n",
    },
    Source {
        name: "prefix-64-pool",
        edge: false,
        format: Format::TaygaConf,
        mtu: 9000,
        text: "tun-device nat64\nipv4-addr 198.18.0.1\nipv6-addr 2001:db8:ffff::64\n\
               prefix 2001:db8:64:64::/64\ndynamic-pool 198.18.0.0/24\n",
    },
    Source {
        // Explicit maps only, IPv4 subnets inside one another (the longest match wins).
        name: "maps-overlapping",
        edge: false,
        format: Format::TaygaConf,
        mtu: 1500,
        text: "tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8:ffff::1\n\
               map 10.0.0.0/16 2001:db8:beef:0:cafe::/112\n\
               map 10.0.1.0/24 2001:db8:beef:0:1234::100/120\n\
               map 192.0.2.33 2001:db8:2::33\n\
               map 203.0.113.0/24 2001:db8:3::/120\n",
    },
    Source {
        // TurnKey-style: well-known prefix (TAYGA's scope), a pool with the translator's
        // address in it, one map inside the pool and one around it.
        name: "wkp-tayga-pool-maps",
        edge: false,
        format: Format::TaygaConf,
        mtu: 1480,
        text: "tun-device nat64\nipv4-addr 100.64.0.1\nipv6-addr 2001:db8:ffff::1\n\
               prefix 64:ff9b::/96\ndynamic-pool 100.64.0.0/24\n\
               map 100.64.0.192/26 2001:db8:6::/122\n\
               map 100.0.0.0/8 2001:db8:7::/104\n",
    },
    Source {
        name: "pool-allow-source",
        edge: false,
        format: Format::Toml,
        mtu: 1400,
        text: "ipv4_addr = \"198.18.0.1\"\nipv6_addr = \"2001:db8:ffff::64\"\n\
               prefix = \"2001:db8:64::/96\"\ndynamic_pool = \"198.18.0.0/23\"\n\
               allow_source = [\"2001:db8:a::/48\"]\nudp_cksum_mode = \"calc\"\n\
               [[map]]\nipv4 = \"192.0.2.33\"\nipv6 = \"2001:db8:2::33\"\n",
    },
    Source {
        // Maps whose IPv4 subnets hold addresses never translated: the limited broadcast
        // (255.255.255.0/24) and loopback (126.0.0.0/7). Each subnet's first address is
        // ordinary, which is all the reader checks today.
        name: "edge-maps-special",
        edge: true,
        format: Format::TaygaConf,
        mtu: 1500,
        text: "tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8:ffff::1\n\
               prefix 2001:db8:64::/96\nmap 255.255.255.0/24 2001:db8:ff::/120\n\
               map 126.0.0.0/7 2001:db8:7e00::/103\n",
    },
    Source {
        // A pool whose top address is the limited broadcast, which TAYGA hands out.
        name: "edge-pool-special",
        edge: true,
        format: Format::TaygaConf,
        mtu: 1500,
        text: "tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8:ffff::1\n\
               prefix 2001:db8:64::/96\ndynamic-pool 255.255.255.0/24\n",
    },
];

/// The setups to fuzz under, in a fixed order (a setup's index is part of a reproducible
/// run), and the edge setups the configuration reader now refuses.
pub struct Setups {
    pub list: Vec<Setup>,
    pub refused_edges: Vec<String>,
}

pub fn all() -> anyhow::Result<Setups> {
    let mut setups = Setups {
        list: Vec::new(),
        refused_edges: Vec::new(),
    };
    for source in SOURCES {
        match build(source) {
            Ok(setup) => setups.list.push(setup),
            Err(e) if source.edge => setups.refused_edges.push(format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    Ok(setups)
}

fn build(source: &Source) -> anyhow::Result<Setup> {
    let config = config::parse_str(source.text, Path::new(source.name), source.format)
        .map_err(|e| anyhow!("setup {}: {e}", source.name))?;
    let mut translator = translator_setup::translator_config(&config, &[])
        .with_context(|| format!("setup {}", source.name))?;
    translator_setup::set_link_mtu(&mut translator, source.mtu);
    let pool = persistence::pool_config(&config, &[])?;
    let hosts = pool.as_ref().map(first_hosts).unwrap_or_default();
    Ok(Setup {
        name: source.name,
        config,
        translator,
        pool,
        hosts,
    })
}

/// A few hosts the pool would take back from `dynamic.map`: IPv6 hosts inside the
/// allow-list when there is one, on allocatable pool addresses.
fn first_hosts(pool: &PoolConfig) -> Vec<(Ipv6Addr, Ipv4Addr)> {
    let mut scratch = DynamicPool::new(pool.clone());
    let base = u32::from(pool.network());
    (1u16..=4)
        .filter_map(|k| {
            let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, k);
            let v4 = Ipv4Addr::from(base + 4 + 3 * u32::from(k));
            let held = scratch.restore(Mapping {
                v4,
                v6,
                last_use: 1,
            });
            held.is_ok().then_some((v6, v4))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setup_is_accepted_and_pools_have_hosts() {
        let setups = all().unwrap();
        assert_eq!(
            setups.list.len() + setups.refused_edges.len(),
            SOURCES.len()
        );
        for s in &setups.list {
            nat64::translate::Translator::new(s.translator.clone()).unwrap();
            assert_eq!(s.pool.is_some(), !s.hosts.is_empty(), "{}", s.name);
        }
    }
}
