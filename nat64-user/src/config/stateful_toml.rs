//! The `[stateful]` table of nat64's TOML file: stateful NAT64 (RFC 6146) on pool4.
//!
//! ```toml
//! [stateful]
//! pool4 = ["198.51.100.1"]             # IPv4 addresses routed to this box
//! tcp_ports = "1024-65535"             # per protocol, on every pool4 address
//! udp_ports = "1024-65535"
//! icmp_ids = "1-65535"
//! subscriber_prefix_len = 64           # one subscriber: /128 VPN client, /64 or /56 customer
//! block_size = 512                     # ports per block handed to a subscriber
//! max_blocks = 8                       # blocks per subscriber and protocol
//! filtering = "endpoint-independent"   # or "address-dependent"
//! udp_timeout_secs = 300
//! tcp_established_timeout_secs = 7440
//! tcp_transitory_timeout_secs = 240
//! icmp_timeout_secs = 60
//! tcp_incoming_syn_timeout_secs = 6
//!
//! [[stateful.static]]                  # an IPv6 server reachable from IPv4
//! protocol = "tcp"
//! ipv4 = "198.51.100.1:8080"
//! ipv6 = "[2001:db8::5]:80"
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::Diagnostics;
use super::raw::Located;
use crate::stateful::{Filtering, Pool4Range, PortBlocks, Protocol, StatefulConfig, StaticBinding};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TomlStateful {
    #[serde(default)]
    pool4: Vec<Spanned<String>>,
    tcp_ports: Option<Spanned<String>>,
    udp_ports: Option<Spanned<String>>,
    icmp_ids: Option<Spanned<String>>,
    subscriber_prefix_len: Option<Spanned<u64>>,
    block_size: Option<Spanned<u64>>,
    max_blocks: Option<Spanned<u64>>,
    filtering: Option<Spanned<String>>,
    udp_timeout_secs: Option<Spanned<u64>>,
    tcp_established_timeout_secs: Option<Spanned<u64>>,
    tcp_transitory_timeout_secs: Option<Spanned<u64>>,
    icmp_timeout_secs: Option<Spanned<u64>>,
    tcp_incoming_syn_timeout_secs: Option<Spanned<u64>>,
    #[serde(default, rename = "static")]
    statics: Vec<Spanned<TomlStatic>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlStatic {
    protocol: Spanned<String>,
    ipv4: Spanned<String>,
    ipv6: Spanned<String>,
}

fn port_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("\"{s}\" is not a range of ports like \"1024-65535\""))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a > b {
        return Err(format!("\"{s}\" runs backwards"));
    }
    Ok(a..=b)
}

/// Reads the table; `line` gives the line of a spanned value. Errors name the line and the
/// fix; `None` when one was found.
pub(crate) fn convert(
    t: Spanned<TomlStateful>,
    line: impl Fn(std::ops::Range<usize>) -> usize,
    d: &mut Diagnostics,
) -> Option<Located<StatefulConfig>> {
    let table_line = line(t.span());
    let t = t.into_inner();
    let before = d.error_count();
    let mut cfg = StatefulConfig::default();
    let mut addrs = Vec::new();
    for a in &t.pool4 {
        match a.get_ref().parse::<Ipv4Addr>() {
            Ok(addr) if nat64_common::address_policy::v4_translatable(addr.octets()) => {
                addrs.push(addr)
            }
            Ok(addr) => d.error(
                line(a.span()),
                format!("stateful.pool4: {addr} is never translated (special-purpose, multicast or broadcast)"),
                Some("write e.g. pool4 = [\"198.51.100.1\"] (an address routed to this box)".into()),
            ),
            Err(_) => d.error(
                line(a.span()),
                format!("stateful.pool4: \"{}\" is not an IPv4 address", a.get_ref()),
                Some("write e.g. pool4 = [\"198.51.100.1\"]".into()),
            ),
        }
    }
    if t.pool4.is_empty() {
        d.error(
            table_line,
            "[stateful] has no pool4: stateful NAT64 needs the IPv4 addresses it shares",
            Some("write e.g. pool4 = [\"198.51.100.1\"] under [stateful]".into()),
        );
    }
    let mut ranges = [1024..=65535, 1024..=65535, 1..=65535];
    for (i, (key, value)) in [
        ("tcp_ports", &t.tcp_ports),
        ("udp_ports", &t.udp_ports),
        ("icmp_ids", &t.icmp_ids),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(v) = value {
            match port_range(v.get_ref()) {
                Ok(r) => ranges[i] = r,
                Err(e) => d.error(
                    line(v.span()),
                    format!("stateful.{key}: {e}"),
                    Some(format!("write e.g. {key} = \"1024-65535\"")),
                ),
            }
        }
    }
    for addr in &addrs {
        for (protocol, ports) in Protocol::ALL.iter().zip(&ranges) {
            cfg.pool4.push(Pool4Range {
                protocol: *protocol,
                addr: *addr,
                ports: ports.clone(),
            });
        }
    }
    let mut int =
        |v: &Option<Spanned<u64>>, key: &str, range: RangeInclusive<u64>, example: u64| {
            let v = v.as_ref()?;
            if range.contains(v.get_ref()) {
                Some(*v.get_ref())
            } else {
                d.error(
                    line(v.span()),
                    format!(
                        "stateful.{key} {} is not within {}..={}",
                        v.get_ref(),
                        range.start(),
                        range.end()
                    ),
                    Some(format!("write e.g. {key} = {example}")),
                );
                None
            }
        };
    let defaults = PortBlocks::default();
    cfg.blocks = PortBlocks {
        subscriber_prefix_len: int(
            &t.subscriber_prefix_len,
            "subscriber_prefix_len",
            1..=128,
            64,
        )
        .map_or(defaults.subscriber_prefix_len, |v| v as u8),
        block_size: int(&t.block_size, "block_size", 1..=65535, 512)
            .map_or(defaults.block_size, |v| v as u16),
        max_blocks: int(&t.max_blocks, "max_blocks", 1..=65535, 8)
            .map_or(defaults.max_blocks, |v| v as u16),
    };
    // A week at most: longer would keep a binding nobody uses.
    let week = 86_400 * 7;
    let defaults = cfg.timeouts;
    let timers: [(&Option<Spanned<u64>>, &str, &mut Duration, Duration); 5] = [
        (
            &t.udp_timeout_secs,
            "udp_timeout_secs",
            &mut cfg.timeouts.udp,
            defaults.udp,
        ),
        (
            &t.tcp_established_timeout_secs,
            "tcp_established_timeout_secs",
            &mut cfg.timeouts.tcp_established,
            defaults.tcp_established,
        ),
        (
            &t.tcp_transitory_timeout_secs,
            "tcp_transitory_timeout_secs",
            &mut cfg.timeouts.tcp_transitory,
            defaults.tcp_transitory,
        ),
        (
            &t.icmp_timeout_secs,
            "icmp_timeout_secs",
            &mut cfg.timeouts.icmp,
            defaults.icmp,
        ),
        (
            &t.tcp_incoming_syn_timeout_secs,
            "tcp_incoming_syn_timeout_secs",
            &mut cfg.timeouts.tcp_incoming_syn,
            defaults.tcp_incoming_syn,
        ),
    ];
    for (value, key, timer, default) in timers {
        if let Some(secs) = int(value, key, 1..=week, default.as_secs()) {
            *timer = Duration::from_secs(secs);
        }
    }
    if let Some(f) = &t.filtering {
        match f.get_ref().as_str() {
            "endpoint-independent" => cfg.filtering = Filtering::EndpointIndependent,
            "address-dependent" => cfg.filtering = Filtering::AddressDependent,
            other => d.error(
                line(f.span()),
                format!("stateful.filtering \"{other}\" is not endpoint-independent or address-dependent"),
                Some("write e.g. filtering = \"endpoint-independent\"".into()),
            ),
        }
    }
    for s in &t.statics {
        let at = line(s.span());
        let s = s.get_ref();
        let fix = Some(
            "write e.g. [[stateful.static]] protocol = \"tcp\", ipv4 = \"198.51.100.1:8080\", \
             ipv6 = \"[2001:db8::5]:80\""
                .to_string(),
        );
        let protocol = s.protocol.get_ref().parse::<Protocol>();
        let v4 = s.ipv4.get_ref().parse::<SocketAddr>();
        let v6 = s.ipv6.get_ref().parse::<SocketAddr>();
        match (protocol, v4, v6) {
            (Ok(protocol), Ok(SocketAddr::V4(v4)), Ok(SocketAddr::V6(v6))) => {
                if !addrs.contains(v4.ip()) {
                    d.error(
                        line(s.ipv4.span()),
                        format!("stateful.static: {} is not in pool4", v4.ip()),
                        Some(format!("add \"{}\" to pool4, or use a pool4 address", v4.ip())),
                    );
                    continue;
                }
                cfg.static_bindings.push(StaticBinding {
                    protocol,
                    v6: *v6.ip(),
                    port6: v6.port(),
                    v4: *v4.ip(),
                    port4: v4.port(),
                });
            }
            (Err(e), _, _) => d.error(line(s.protocol.span()), format!("stateful.static: {e}"), fix),
            _ => d.error(
                at,
                format!(
                    "stateful.static: \"{}\" and \"{}\" are not an IPv4 address:port and an [IPv6 address]:port",
                    s.ipv4.get_ref(),
                    s.ipv6.get_ref()
                ),
                fix,
            ),
        }
    }
    (d.error_count() == before).then(|| Located::new(cfg, table_line))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::toml_file::{errors, parse};
    use crate::stateful::{Filtering, Protocol};

    #[test]
    fn a_stateful_table_replaces_the_dynamic_pool() {
        let text = r#"
[stateful]
pool4 = ["198.51.100.1", "198.51.100.2"]
udp_ports = "2000-2999"
subscriber_prefix_len = 56
block_size = 256
max_blocks = 4
filtering = "address-dependent"
udp_timeout_secs = 120

[[stateful.static]]
protocol = "tcp"
ipv4 = "198.51.100.2:443"
ipv6 = "[2001:db8::5]:8443"
"#;
        let c = parse(text, Path::new("n.toml")).unwrap();
        assert_eq!(c.dynamic_pool, None);
        let s = c.stateful.unwrap();
        assert_eq!(s.pool4.len(), 6);
        let udp = s
            .pool4
            .iter()
            .find(|r| r.protocol == Protocol::Udp)
            .unwrap();
        assert_eq!(udp.ports, 2000..=2999);
        assert_eq!(s.blocks.subscriber_prefix_len, 56);
        assert_eq!(s.blocks.block_size, 256);
        assert_eq!(s.filtering, Filtering::AddressDependent);
        assert_eq!(s.timeouts.udp.as_secs(), 120);
        assert_eq!(s.static_bindings[0].port6, 8443);
    }

    #[test]
    fn stateful_errors_name_the_line_and_the_fix() {
        let e = errors(
            "[stateful]\npool4 = [\"198.51.100.300\"]\ntcp_ports = \"9-2\"\nblock_size = 0\nfiltering = \"open\"\n",
        );
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].starts_with("nat64.toml:2: stateful.pool4: \"198.51.100.300\" is not an IPv4 address; write e.g."), "{}", e[0]);
        assert!(
            e[1].starts_with("nat64.toml:3: stateful.tcp_ports: \"9-2\" runs backwards"),
            "{}",
            e[1]
        );
        assert!(e[2].starts_with("nat64.toml:4: stateful.block_size 0 is not within 1..=65535; write e.g. block_size = 512"), "{}", e[2]);
        assert!(
            e[3].starts_with("nat64.toml:5: stateful.filtering \"open\""),
            "{}",
            e[3]
        );
    }

    #[test]
    fn stateful_excludes_the_dynamic_pool_and_maps() {
        let e =
            errors("dynamic_pool = \"100.64.0.0/10\"\n[stateful]\npool4 = [\"198.51.100.1\"]\n");
        assert!(
            e[0].starts_with("nat64.toml:1: dynamic_pool and [stateful] exclude each other"),
            "{}",
            e[0]
        );
        assert!(e[0].ends_with("remove dynamic_pool"), "{}", e[0]);
        let e = errors("[stateful]\npool4 = [\"224.0.0.1\"]\n");
        assert!(e[0].contains("is never translated"), "{}", e[0]);
        let e = errors("[stateful]\npool4 = [\"198.51.100.1\"]\n[[stateful.static]]\nprotocol = \"tcp\"\nipv4 = \"198.51.100.9:80\"\nipv6 = \"[2001:db8::5]:80\"\n");
        assert!(
            e[0].starts_with("nat64.toml:5: stateful.static: 198.51.100.9 is not in pool4"),
            "{}",
            e[0]
        );
    }
}
