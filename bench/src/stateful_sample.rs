//! The stateful NAT64 the stateful benches measure: the sample packets' prefix, pool4
//! 198.51.100.0/28 with every port from 1024, /64 subscribers of up to 64 blocks of 1,024.

use std::net::Ipv4Addr;

use nat64::stateful::{Nat64, Pool4Range, PortBlocks, Protocol, StatefulConfig};
use nat64::translate::{Prefix, TranslatorConfig};
use nat64_tests::packets;

/// pool4's addresses: 198.51.100.0 to .15.
pub const POOL4_ADDRESSES: u8 = 16;

pub fn nat64() -> anyhow::Result<Nat64> {
    let translator = TranslatorConfig {
        prefix: Some(
            Prefix::new(packets::PREFIX.0.octets(), packets::PREFIX.1)
                .map_err(|e| anyhow::anyhow!("sample prefix: {e:?}"))?,
        ),
        ipv6_addr: packets::TRANSLATOR_V6,
        wkpf_strict: false,
        ..TranslatorConfig::default()
    };
    let pool4 = (0..POOL4_ADDRESSES)
        .flat_map(|i| {
            Protocol::ALL.map(|protocol| Pool4Range {
                protocol,
                addr: Ipv4Addr::new(198, 51, 100, i),
                ports: 1024..=65535,
            })
        })
        .collect();
    let cfg = StatefulConfig {
        pool4,
        blocks: PortBlocks {
            subscriber_prefix_len: 64,
            block_size: 1024,
            max_blocks: 64,
        },
        ..StatefulConfig::default()
    };
    Nat64::new(translator, cfg)
}

/// The sample IPv6 packet `template` from client `n` (its own /64) and source port `port`.
pub fn from_client(template: &[u8], n: u32, port: u16) -> Vec<u8> {
    let mut p = template.to_vec();
    p[8 + 4..8 + 8].copy_from_slice(&n.to_be_bytes());
    p[40..42].copy_from_slice(&port.to_be_bytes());
    p
}
