//! Reader of nat64's native TOML configuration.
//!
//! Keys are the `tayga.conf` directive names in snake_case, plus nat64's own.
//! Unknown keys are errors (naming the closest known key). Every key is
//! optional; a missing key takes its value from
//! [`Config::native_defaults`](super::Config::native_defaults).
//!
//! ```toml
//! tun_device = "nat64"                 # interface name, at most 15 characters
//! ipv4_addr = "100.64.0.1"             # the translator's own IPv4 address
//! ipv6_addr = "2001:db8:1::2"          # own IPv6 address; default: ipv4_addr inside
//!                                      # prefix, or 64:ff9b:1::1 where RFC 6052 forbids that
//! prefix = "64:ff9b::/96"              # /32 /40 /48 /56 /64 or /96
//! wkpf_strict = true
//! dynamic_pool = "100.64.0.0/10"       # /31 or shorter
//! data_dir = "/var/lib/nat64"          # absolute
//! map_file = "static.map"              # absolute or relative to data_dir
//! udp_cksum_mode = "drop"              # "drop" | "fwd" | "calc"
//! log = ["drop", "reject"]             # any of "drop" "reject" "icmp" "self" "dyn"
//! offlink_mtu = 1280                   # 1280..=65535
//! tun_up = true
//! tun_ip = ["192.0.0.1/29"]            # either family
//! tun_route = ["64:ff9b::/96"]         # either family
//! workers = 4                          # 0..=64; default one per CPU
//!
//! # nat64 only
//! datapath = "auto"                    # "auto" | "tc" | "tun"
//! interfaces = ["eth0"]                # XDP on these
//! xdp_forward = "stack"                # "stack" (the kernel routes, NAT44 applies) | "direct" (routed pool)
//! xdp_slow_path = "af_xdp"             # "af_xdp" (what XDP leaves goes to userspace by AF_XDP) | "af_xdp_transmit" (its translations sent straight out; needs xdp_forward "direct") | "tun"
//! egress = "eth0"
//! allow_source = ["2001:db8::/32"]     # IPv6 sources allowed to be translated; default any
//! mapping_idle_secs = 7440             # a dynamic mapping idle this long may be reused
//! mapping_forget_secs = 1209600        # a dormant mapping is forgotten after this (14 days)
//! keep = false                         # leave interface, routes and pinned maps on stop
//! pin_dir = "/sys/fs/bpf/nat64"        # absolute, on a bpf filesystem; maps pinned in <pin_dir>/<tun_device>/
//! metrics = "127.0.0.1:9464"           # Prometheus endpoint (GET /metrics); default off
//!
//! [stateful]                           # stateful NAT64 (RFC 6146) instead of the dynamic
//! pool4 = ["198.51.100.1"]             # pool; the rest of the table: config::stateful_toml
//!
//! [[map]]                              # repeatable; RFC 7757: 32 - n = 128 - m
//! ipv4 = "192.168.5.42"                # /32 when no length is given
//! ipv6 = "2001:db8:1:4444::1"          # /128 when no length is given
//! ```
//!
//! `strict-frag-hdr` has no TOML key: TAYGA itself ignores it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::error::Diagnostics;
use super::net::{IpNet, Ipv4Net, Ipv6Net};
use super::raw::{closest, Located, RawConfig, Val};
use super::tayga_conf::{parse_map_args, parse_udp_cksum_mode, set_log_option};
use super::{
    validate, Config, ConfigError, Datapath, Diagnostic, Format, LogOptions, XdpForward,
    XdpSlowPath,
};

const FMT: Format = Format::Toml;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    tun_device: Option<Spanned<String>>,
    ipv4_addr: Option<Spanned<String>>,
    ipv6_addr: Option<Spanned<String>>,
    prefix: Option<Spanned<String>>,
    wkpf_strict: Option<Spanned<bool>>,
    #[serde(default)]
    map: Vec<Spanned<TomlMap>>,
    dynamic_pool: Option<Spanned<String>>,
    data_dir: Option<Spanned<String>>,
    map_file: Option<Spanned<String>>,
    udp_cksum_mode: Option<Spanned<String>>,
    log: Option<Spanned<Vec<Spanned<String>>>>,
    offlink_mtu: Option<Spanned<u64>>,
    tun_up: Option<Spanned<bool>>,
    #[serde(default)]
    tun_ip: Vec<Spanned<String>>,
    #[serde(default)]
    tun_route: Vec<Spanned<String>>,
    workers: Option<Spanned<u64>>,
    datapath: Option<Spanned<String>>,
    #[serde(default)]
    interfaces: Vec<Spanned<String>>,
    xdp_forward: Option<Spanned<String>>,
    xdp_slow_path: Option<Spanned<String>>,
    egress: Option<Spanned<String>>,
    #[serde(default)]
    allow_source: Vec<Spanned<String>>,
    mapping_idle_secs: Option<Spanned<u64>>,
    mapping_forget_secs: Option<Spanned<u64>>,
    keep: Option<Spanned<bool>>,
    pin_dir: Option<Spanned<String>>,
    metrics: Option<Spanned<String>>,
    stateful: Option<Spanned<super::stateful_toml::TomlStateful>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlMap {
    ipv4: Spanned<String>,
    ipv6: Spanned<String>,
}

/// Every top-level key, for "did you mean" suggestions (and the fuzzer's generator).
pub const KEYS: &[&str] = &[
    "tun_device",
    "ipv4_addr",
    "ipv6_addr",
    "prefix",
    "wkpf_strict",
    "map",
    "dynamic_pool",
    "data_dir",
    "map_file",
    "udp_cksum_mode",
    "log",
    "offlink_mtu",
    "tun_up",
    "tun_ip",
    "tun_route",
    "workers",
    "datapath",
    "interfaces",
    "xdp_forward",
    "xdp_slow_path",
    "egress",
    "allow_source",
    "mapping_idle_secs",
    "mapping_forget_secs",
    "keep",
    "pin_dir",
    "metrics",
    "stateful",
];

/// Parses and validates TOML text; `file` names it in messages.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let mut d = Diagnostics::new(file);
    let doc: TomlFile = match toml::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            let message = e.message().trim().to_string();
            let fix = unknown_key(&message)
                .and_then(|k| closest(k, KEYS.iter().copied()))
                .map(|k| format!("did you mean {k}?"))
                .or_else(|| {
                    Some("see the TOML schema in nat64's documentation (config::toml_file)".into())
                });
            d.error(line, message, fix);
            return Err(d.finish().expect_err("an error was recorded"));
        }
    };
    let raw = convert(doc, text, &mut d);
    match validate::build(raw, FMT, d) {
        Ok(mut c) => {
            c.warnings.iter_mut().for_each(use_toml_names);
            Ok(c)
        }
        Err(mut e) => {
            e.problems.iter_mut().for_each(use_toml_names);
            Err(e)
        }
    }
}

/// Validation names settings as `tayga.conf` does (`ipv4-addr`); a TOML user
/// should read the key they wrote (`ipv4_addr`).
fn use_toml_names(d: &mut Diagnostic) {
    const HYPHENATED: &[&str] = &[
        "tun-device",
        "ipv4-addr",
        "ipv6-addr",
        "wkpf-strict",
        "dynamic-pool",
        "data-dir",
        "map-file",
        "udp-cksum-mode",
        "offlink-mtu",
        "tun-up",
        "tun-ip",
        "tun-route",
    ];
    for name in HYPHENATED {
        let key = name.replace('-', "_");
        d.message = d.message.replace(name, &key);
        if let Some(fix) = &mut d.fix {
            *fix = fix.replace(name, &key);
        }
    }
}

/// The key named in toml's "unknown field `x`, expected ..." message.
fn unknown_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Turns a spanned string into a located value, or records why it is not one.
struct Reader<'a> {
    text: &'a str,
}

impl Reader<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_of(self.text, s.span().start)
    }

    fn located<T>(&self, s: Spanned<T>) -> Located<T> {
        let line = self.line(&s);
        Located::new(s.into_inner(), line)
    }

    fn parsed<T>(
        &self,
        s: Option<Spanned<String>>,
        key: &str,
        example: &str,
        d: &mut Diagnostics,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Located<T>> {
        let s = s?;
        let line = self.line(&s);
        match parse(s.get_ref()) {
            Ok(v) => Some(Located::new(v, line)),
            Err(e) => {
                d.error(
                    line,
                    format!("{}: {e}", FMT.key(key)),
                    Some(FMT.write(key, Val::Str(example))),
                );
                None
            }
        }
    }

    fn parsed_list<T>(
        &self,
        items: Vec<Spanned<String>>,
        key: &str,
        example: &str,
        d: &mut Diagnostics,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<Located<T>> {
        items
            .into_iter()
            .filter_map(|s| {
                let line = self.line(&s);
                match parse(s.get_ref()) {
                    Ok(v) => Some(Located::new(v, line)),
                    Err(e) => {
                        let fix = FMT.write(key, Val::List(&[example]));
                        d.error(line, format!("{}: {e}", FMT.key(key)), Some(fix));
                        None
                    }
                }
            })
            .collect()
    }
}

fn convert(doc: TomlFile, text: &str, d: &mut Diagnostics) -> RawConfig {
    let r = Reader { text };
    let addr4 = |s: &str| {
        s.parse::<Ipv4Addr>()
            .map_err(|_| format!("\"{s}\" is not an IPv4 address"))
    };
    let addr6 = |s: &str| {
        s.parse::<Ipv6Addr>()
            .map_err(|_| format!("\"{s}\" is not an IPv6 address"))
    };
    let mut raw = RawConfig {
        tun_device: doc.tun_device.map(|s| r.located(s)),
        ipv4_addr: r.parsed(doc.ipv4_addr, "ipv4-addr", "192.168.255.1", d, addr4),
        ipv6_addr: r.parsed(doc.ipv6_addr, "ipv6-addr", "2001:db8:1::2", d, addr6),
        prefix: r.parsed(doc.prefix, "prefix", "64:ff9b::/96", d, |s| {
            s.parse::<Ipv6Net>()
        }),
        wkpf_strict: doc.wkpf_strict.map(|s| r.located(s)),
        dynamic_pool: r.parsed(doc.dynamic_pool, "dynamic-pool", "100.64.0.0/10", d, |s| {
            s.parse::<Ipv4Net>()
        }),
        data_dir: doc
            .data_dir
            .map(|s| r.located(s))
            .map(|l| Located::new(PathBuf::from(l.value), l.line)),
        map_file: doc
            .map_file
            .map(|s| r.located(s))
            .map(|l| Located::new(PathBuf::from(l.value), l.line)),
        udp_cksum_mode: r.parsed(doc.udp_cksum_mode, "udp-cksum-mode", "drop", d, |s| {
            parse_udp_cksum_mode(s).ok_or_else(|| format!("\"{s}\" is not drop, fwd or calc"))
        }),
        offlink_mtu: doc.offlink_mtu.map(|s| r.located(s)),
        tun_up: doc.tun_up.map(|s| r.located(s)),
        tun_ips: r.parsed_list(
            doc.tun_ip,
            "tun-ip",
            "192.0.0.1/29",
            d,
            IpNet::parse_host_default,
        ),
        tun_routes: r.parsed_list(
            doc.tun_route,
            "tun-route",
            "64:ff9b::/96",
            d,
            IpNet::parse_host_default,
        ),
        workers: doc.workers.map(|s| r.located(s)),
        datapath: r.parsed(doc.datapath, "datapath", "auto", d, |s| match s {
            "auto" => Ok(Datapath::Auto),
            "tc" => Ok(Datapath::Tc),
            "tun" => Ok(Datapath::Tun),
            _ => Err(format!("\"{s}\" is not auto, tc or tun")),
        }),
        interfaces: doc.interfaces.into_iter().map(|s| r.located(s)).collect(),
        xdp_forward: r.parsed(doc.xdp_forward, "xdp_forward", "stack", d, |s| match s {
            "stack" => Ok(XdpForward::Stack),
            "direct" => Ok(XdpForward::Direct),
            _ => Err(format!("\"{s}\" is not stack or direct")),
        }),
        xdp_slow_path: r.parsed(
            doc.xdp_slow_path,
            "xdp_slow_path",
            "af_xdp",
            d,
            |s| match s {
                "af_xdp" => Ok(XdpSlowPath::AfXdp),
                "af_xdp_transmit" => Ok(XdpSlowPath::AfXdpTransmit),
                "tun" => Ok(XdpSlowPath::Tun),
                _ => Err(format!("\"{s}\" is not af_xdp, af_xdp_transmit or tun")),
            },
        ),
        egress: doc.egress.map(|s| r.located(s)),
        allow_source: r.parsed_list(doc.allow_source, "allow_source", "2001:db8::/32", d, |s| {
            s.parse::<Ipv6Net>()
        }),
        mapping_idle_secs: doc.mapping_idle_secs.map(|s| r.located(s)),
        mapping_forget_secs: doc.mapping_forget_secs.map(|s| r.located(s)),
        keep: doc.keep.map(|s| r.located(s)),
        pin_dir: doc
            .pin_dir
            .map(|s| r.located(s))
            .map(|l| Located::new(PathBuf::from(l.value), l.line)),
        metrics: r.parsed(doc.metrics, "metrics", "127.0.0.1:9464", d, |s| {
            s.parse::<std::net::SocketAddr>()
                .map_err(|_| format!("\"{s}\" is not an address:port"))
        }),
        stateful: doc
            .stateful
            .and_then(|t| super::stateful_toml::convert(t, |span| line_of(text, span.start), d)),
        ..RawConfig::default()
    };
    if let Some(log) = doc.log {
        let line = r.line(&log);
        let mut opts = LogOptions::default();
        let mut ok = true;
        for word in log.into_inner() {
            if !set_log_option(&mut opts, word.get_ref()) {
                ok = false;
                d.error(
                    r.line(&word),
                    format!(
                        "log option \"{}\" is not one of drop, reject, icmp, self, dyn",
                        word.get_ref()
                    ),
                    Some(FMT.write("log", Val::List(&["drop", "reject"]))),
                );
            }
        }
        if ok {
            raw.log = Some(Located::new(opts, line));
        }
    }
    for m in doc.map {
        let line = r.line(&m);
        let m = m.into_inner();
        // The line of the `ipv4` key is where the user looks for the entry.
        let line = r.line(&m.ipv4).max(line);
        if let Some(map) = parse_map_args(m.ipv4.get_ref(), m.ipv6.get_ref(), line, FMT, d) {
            raw.maps.push(Located::new(map, line));
        }
    }
    raw
}

/// The problems `text` is refused with, one line each, as read from `nat64.toml`.
#[cfg(test)]
pub(crate) fn errors(text: &str) -> Vec<String> {
    parse(text, Path::new("nat64.toml"))
        .unwrap_err()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_the_closest() {
        let e = errors("tun_device = \"nat64\"\nprefx = \"64:ff9b::/96\"\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("nat64.toml:2: unknown field `prefx`"),
            "{}",
            e[0]
        );
        assert!(e[0].ends_with("did you mean prefix?"), "{}", e[0]);
    }

    #[test]
    fn pin_dir_must_be_absolute() {
        let e = errors("tun_device = \"nat64\"\npin_dir = \"nat64\"\n");
        assert_eq!(
            e,
            vec![
                "nat64.toml:2: pin_dir nat64 is not an absolute path; write e.g. pin_dir = \"/sys/fs/bpf/nat64\""
                    .to_string()
            ]
        );
        let c = parse("pin_dir = \"/run/bpf/x\"\n", Path::new("n.toml")).unwrap();
        assert_eq!(c.pin_dir, Path::new("/run/bpf/x"));
    }

    #[test]
    fn wrong_type_has_a_line() {
        let e = errors("\n\nofflink_mtu = \"big\"\n");
        assert!(e[0].starts_with("nat64.toml:3: "), "{}", e[0]);
    }

    #[test]
    fn values_carry_their_line() {
        let e =
            errors("tun_device = \"nat64\"\n\nprefix = \"2001:db8::/33\"\ndatapath = \"xdp\"\n");
        assert_eq!(
            e[0],
            "nat64.toml:3: prefix 2001:db8::/33: RFC 6052 allows /32, /40, /48, /56, /64 or /96; write e.g. prefix = \"64:ff9b::/96\""
        );
        assert!(e[1].starts_with("nat64.toml:4: datapath: \"xdp\" is not auto, tc or tun; write e.g. datapath = \"auto\""), "{}", e[1]);
    }

    #[test]
    fn af_xdp_transmit_only_beside_direct_forwarding() {
        let e = errors("tun_device = \"nat64\"\nxdp_slow_path = \"af_xdp_transmit\"\n");
        assert_eq!(
            e,
            vec![
                "nat64.toml:2: xdp_slow_path af_xdp_transmit sends translations straight out, past the stack, as xdp_forward direct does, and never beside xdp_forward stack; write e.g. xdp_forward = \"direct\""
                    .to_string()
            ]
        );
        let c = parse(
            "xdp_forward = \"direct\"\nxdp_slow_path = \"af_xdp_transmit\"\n",
            Path::new("n.toml"),
        )
        .unwrap();
        assert_eq!(c.xdp_slow_path, XdpSlowPath::AfXdpTransmit);
    }

    #[test]
    fn map_tables_and_native_settings() {
        let text = r#"
prefix = "2001:db8:64::/96"
datapath = "tun"
interfaces = ["eth0", "eth1"]
egress = "eth0"
allow_source = ["2001:db8:1::/48"]
mapping_idle_secs = 600
mapping_forget_secs = 86400
keep = true
log = ["drop", "self"]

[[map]]
ipv4 = "192.0.2.0/24"
ipv6 = "2001:db8:2::/120"

[[map]]
ipv4 = "198.51.100.1"
ipv6 = "2001:db8:3::1"
"#;
        let c = parse(text, Path::new("n.toml")).unwrap();
        assert_eq!(c.maps.len(), 2);
        assert_eq!(c.datapath, Datapath::Tun);
        assert_eq!(c.interfaces, ["eth0", "eth1"]);
        assert_eq!(c.mapping_idle.as_secs(), 600);
        assert!(c.keep && c.log.drop && c.log.to_self);
        // ipv4_addr is the default 100.64.0.1: not global, but the prefix is not the WKP.
        assert_eq!(
            c.ipv6_addr,
            "2001:db8:64::6440:1".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn map_errors_name_the_entry_line() {
        let e = errors("[[map]]\nipv4 = \"192.0.2.0/24\"\nipv6 = \"2001:db8:2::/64\"\n");
        assert!(e[0].starts_with("nat64.toml:2: map 192.0.2.0/24 2001:db8:2::/64: the IPv4 and IPv6 subnets must be the same size"), "{}", e[0]);
        assert!(
            e[0].contains("[[map]] with ipv4 = \"192.0.2.0/24\" and ipv6 = \"2001:db8:2::/120\""),
            "{}",
            e[0]
        );
    }
}
