//! The rules a configuration must obey, shared by both formats.
//!
//! Pure functions: a [`RawConfig`] and its line numbers in, a [`Config`] or every
//! problem found out. The rules are TAYGA's (conffile.c `config_read` and
//! `config_validate`, addrmap.c `validate_ip4_addr`/`validate_ip6_addr`) plus the
//! RFC 6052 and RFC 7757 checks TAYGA leaves to chance.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use nat64_common::address_policy::{self, V4Class};

use super::error::Diagnostics;
use super::net::{embed_ipv4, IpNet, Ipv4Net, Ipv6Net};
use super::raw::{Located, RawConfig, Val};
use super::{
    Config, ConfigError, Format, StaticMap, MAX_IFNAME_LEN, MAX_WORKERS, NATIVE_DEFAULT_IPV6_ADDR,
    WELL_KNOWN_PREFIX,
};

const RFC6052_LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

pub(crate) fn build(
    raw: RawConfig,
    fmt: Format,
    mut d: Diagnostics,
) -> Result<Config, ConfigError> {
    let native = fmt == Format::Toml;
    let mut c = if native {
        Config::native_defaults()
    } else {
        Config::tayga_defaults()
    };

    if let Some(t) = &raw.tun_device {
        check_ifname("tun-device", &t.value, t.line, fmt, &mut d);
        c.tun_device = t.value.clone();
    } else if !native {
        d.error(
            0,
            "no tun-device directive (TAYGA requires one)",
            Some(fmt.write("tun-device", Val::Str("nat64"))),
        );
    }

    if let Some(w) = &raw.wkpf_strict {
        c.wkpf_strict = w.value;
    }

    if let Some(a) = &raw.ipv4_addr {
        check_unicast_ipv4(
            "ipv4-addr",
            a.value,
            a.line,
            fmt,
            &mut d,
            Val::Str("192.168.255.1"),
        );
        c.ipv4_addr = a.value;
    } else if !native {
        d.error(
            0,
            "no ipv4-addr directive (TAYGA requires one)",
            Some(fmt.write("ipv4-addr", Val::Str("192.168.255.1"))),
        );
    }
    let ipv4_line = raw.ipv4_addr.as_ref().map_or(0, |a| a.line);

    let prefix_line = raw.prefix.as_ref().map_or(0, |p| p.line);
    if let Some(p) = &raw.prefix {
        check_prefix(&p.value, p.line, fmt, &mut d);
        c.prefix = Some(p.value);
    }
    // An invalid prefix is reported once; checking maps against it would only add noise.
    let prefix = c
        .prefix
        .filter(|p| RFC6052_LENGTHS.contains(&p.prefix_len()))
        .map(|p| Located::new(p, prefix_line));

    for m in &raw.maps {
        check_map(&m.value, m.line, fmt, &mut d);
    }
    check_maps_conflict(&raw.maps, &mut d);
    for m in &raw.maps {
        check_map_against(prefix.as_ref(), m, fmt, &mut d);
    }
    c.maps = raw.maps.iter().map(|m| m.value).collect();
    // TAYGA's table holds ipv4-addr as a /32 of its own: only a map of that same /32
    // conflicts; inside a wider map's subnet the longest match, the translator, wins.
    if let Some(m) = raw
        .maps
        .iter()
        .find(|m| m.value.ipv4.prefix_len() == 32 && m.value.ipv4.addr() == c.ipv4_addr)
    {
        d.error(
            ipv4_line,
            format!(
                "ipv4-addr {} is the IPv4 side of map {} (line {})",
                c.ipv4_addr, m.value.ipv4, m.line
            ),
            Some("give ipv4-addr an address no map line uses".into()),
        );
    }

    if let Some(p) = &raw.dynamic_pool {
        check_pool(&p.value, p.line, fmt, &mut d);
        c.dynamic_pool = Some(p.value);
    }
    if let Some(pool) = c.dynamic_pool {
        let pool_line = raw.dynamic_pool.as_ref().map_or(0, |p| p.line);
        // The longest match decides: a map inside the pool takes its addresses out of it,
        // a wider map around the pool leaves the pool's addresses to the pool. Only the
        // same subnet twice conflicts in TAYGA's table.
        for m in raw.maps.iter().filter(|m| m.value.ipv4 == pool) {
            d.error(
                pool_line,
                format!(
                    "dynamic-pool {pool} is the IPv4 side of map {} (line {})",
                    m.value.ipv4, m.line
                ),
                Some(
                    "use a dynamic-pool of its own (a map inside the pool, or around it, is fine)"
                        .into(),
                ),
            );
        }
    }

    if c.prefix.is_none() && c.maps.is_empty() {
        d.error(
            0,
            "no prefix and no map directive: nothing would be translated",
            Some(fmt.write("prefix", Val::Str("64:ff9b::/96"))),
        );
    }

    // Unfiltered: "no ipv6-addr without a prefix" must not fire for a prefix that is merely invalid.
    let written_prefix = c.prefix.map(|p| Located::new(p, prefix_line));
    resolve_ipv6_addr(
        &raw,
        &mut c,
        written_prefix.as_ref(),
        ipv4_line,
        fmt,
        &mut d,
    );

    if let Some(dir) = &raw.data_dir {
        require_absolute(dir, "data-dir", "/", fmt, &mut d);
        c.data_dir = Some(dir.value.clone());
    }
    if let Some(f) = &raw.map_file {
        if f.value.as_os_str().is_empty() {
            d.error(
                f.line,
                "map-file is empty",
                Some(fmt.write("map-file", Val::Str("static.map"))),
            );
        } else if f.value.is_relative() && c.data_dir.is_none() {
            d.warn(
                f.line,
                format!(
                    "map-file {} is relative and there is no data-dir: it is read from the working directory",
                    f.value.display()
                ),
                Some("give map-file an absolute path or set data-dir".into()),
            );
        }
        c.map_file = Some(f.value.clone());
    }

    if let Some(m) = &raw.udp_cksum_mode {
        c.udp_cksum_mode = m.value;
    }
    if let Some(l) = &raw.log {
        c.log = l.value;
    }
    if let Some(m) = &raw.offlink_mtu {
        match u16::try_from(m.value) {
            Ok(v) if v >= 1280 => c.offlink_mtu = v,
            _ => d.error(
                m.line,
                format!("offlink-mtu {} is outside 1280..=65535", m.value),
                Some(fmt.write("offlink-mtu", Val::Int(1280))),
            ),
        }
    }
    if let Some(t) = &raw.tun_up {
        c.tun_up = t.value;
    }
    c.tun_ips = raw.tun_ips.iter().map(|n| n.value).collect();
    for r in &raw.tun_routes {
        if r.value.has_host_bits() {
            d.error(
                r.line,
                format!(
                    "tun-route {} has host bits set (the kernel refuses such a route)",
                    r.value
                ),
                Some(fmt.write("tun-route", Val::List(&[&network_of(&r.value)]))),
            );
        }
    }
    c.tun_routes = raw.tun_routes.iter().map(|n| n.value).collect();
    if let Some(w) = &raw.workers {
        match u16::try_from(w.value) {
            Ok(v) if v <= MAX_WORKERS => c.workers = Some(v),
            _ => d.error(
                w.line,
                format!("workers {} is more than {MAX_WORKERS}", w.value),
                Some(fmt.write("workers", Val::Int(4))),
            ),
        }
    }

    check_native(&raw, &mut c, fmt, &mut d);

    c.warnings = d.finish()?;
    Ok(c)
}

/// The nat64-only settings (only a TOML file sets them).
fn check_native(raw: &RawConfig, c: &mut Config, fmt: Format, d: &mut Diagnostics) {
    if let Some(p) = &raw.datapath {
        c.datapath = p.value;
    }
    for i in &raw.interfaces {
        check_ifname("interfaces", &i.value, i.line, fmt, d);
    }
    c.interfaces = raw.interfaces.iter().map(|i| i.value.clone()).collect();
    if let Some(f) = &raw.xdp_forward {
        c.xdp_forward = f.value;
    }
    if let Some(p) = &raw.xdp_slow_path {
        c.xdp_slow_path = p.value;
        if !c.xdp_slow_path.fits(c.xdp_forward) {
            d.error(
                p.line,
                "xdp_slow_path af_xdp_transmit sends translations straight out, past the stack, \
                 as xdp_forward direct does, and never beside xdp_forward stack",
                Some(fmt.write("xdp_forward", Val::Str("direct"))),
            );
        }
    }
    if let Some(e) = &raw.egress {
        check_ifname("egress", &e.value, e.line, fmt, d);
        c.egress = Some(e.value.clone());
    }
    for s in &raw.allow_source {
        if s.value.has_host_bits() {
            d.error(
                s.line,
                format!("allow_source {} has host bits set", s.value),
                Some(
                    fmt.write(
                        "allow_source",
                        Val::List(&[&Ipv6Net::new(s.value.network(), s.value.prefix_len())
                            .expect("same length")
                            .to_string()]),
                    ),
                ),
            );
        }
    }
    c.allow_source = raw.allow_source.iter().map(|s| s.value).collect();
    if let Some(s) = &raw.mapping_idle_secs {
        if s.value == 0 {
            d.error(
                s.line,
                "mapping_idle_secs must be more than 0",
                Some(fmt.write("mapping_idle_secs", Val::Int(7440))),
            );
        }
        c.mapping_idle = Duration::from_secs(s.value);
    }
    if let Some(s) = &raw.mapping_forget_secs {
        c.mapping_forget = Duration::from_secs(s.value);
    }
    if c.mapping_forget < c.mapping_idle {
        let line = raw
            .mapping_forget_secs
            .as_ref()
            .or(raw.mapping_idle_secs.as_ref())
            .map_or(0, |s| s.line);
        d.error(
            line,
            format!(
                "mapping_forget_secs ({}) is shorter than mapping_idle_secs ({}): a mapping would be forgotten while in use",
                c.mapping_forget.as_secs(),
                c.mapping_idle.as_secs()
            ),
            Some(fmt.write("mapping_forget_secs", Val::Int(c.mapping_idle.as_secs().max(1_209_600)))),
        );
    }
    if let Some(k) = &raw.keep {
        c.keep = k.value;
    }
    if let Some(dir) = &raw.pin_dir {
        require_absolute(dir, "pin_dir", "/sys/fs/bpf/", fmt, d);
        c.pin_dir = dir.value.clone();
    }
    if let Some(addr) = &raw.metrics {
        c.metrics = Some(addr.value);
    }
    if let Some(stateful) = &raw.stateful {
        let exclusive = "stateful NAT64 shares pool4 among all IPv6 hosts";
        if let Some(pool) = &raw.dynamic_pool {
            d.error(
                pool.line,
                format!("dynamic_pool and [stateful] exclude each other: {exclusive}"),
                Some("remove dynamic_pool".into()),
            );
        }
        if let Some(map) = raw.maps.first() {
            d.error(
                map.line,
                format!("[[map]] and [stateful] exclude each other: {exclusive}"),
                Some("remove the [[map]] entries (use [[stateful.static]] for servers)".into()),
            );
        }
        if let Some(file) = &raw.map_file {
            d.error(
                file.line,
                format!("map_file and [stateful] exclude each other: {exclusive}"),
                Some("remove map_file".into()),
            );
        }
        c.dynamic_pool = None;
        c.stateful = Some(stateful.value.clone());
    }
}

/// A directory setting must be absolute; the fix puts `base` in front of what was written.
fn require_absolute(
    dir: &Located<std::path::PathBuf>,
    name: &str,
    base: &str,
    fmt: Format,
    d: &mut Diagnostics,
) {
    if !dir.value.is_absolute() {
        let fixed = format!("{base}{}", dir.value.display());
        d.error(
            dir.line,
            format!("{name} {} is not an absolute path", dir.value.display()),
            Some(fmt.write(name, Val::Str(&fixed))),
        );
    }
}

/// TAYGA's rules for its own IPv6 address (conffile.c `config_validate`, 0.9.5+).
fn resolve_ipv6_addr(
    raw: &RawConfig,
    c: &mut Config,
    prefix: Option<&Located<Ipv6Net>>,
    ipv4_line: usize,
    fmt: Format,
    d: &mut Diagnostics,
) {
    let own_example = Val::Str("2001:db8:1::2");
    if let Some(a) = &raw.ipv6_addr {
        c.ipv6_addr = a.value;
        c.ipv6_addr_configured = true;
        if is_reserved_ipv6(a.value) {
            d.error(
                a.line,
                format!("ipv6-addr {} is a reserved address (unspecified, IPv4-compatible, multicast or link-local)", a.value),
                Some(fmt.write("ipv6-addr", own_example)),
            );
        } else if c.wkpf_strict && in_well_known_96(a.value) {
            d.error(
                a.line,
                format!(
                    "ipv6-addr {} is inside the well-known prefix 64:ff9b::/96",
                    a.value
                ),
                Some(format!(
                    "{} (an address of yours, routed to tun-device)",
                    fmt.write("ipv6-addr", own_example)
                )),
            );
        } else if let Some(p) = prefix.filter(|p| p.value.contains(a.value)) {
            d.error(
                a.line,
                format!(
                    "ipv6-addr {} is inside the NAT64 prefix {}{}",
                    a.value,
                    p.value,
                    on_line(p.line)
                ),
                Some(format!(
                    "{} (an address outside the prefix)",
                    fmt.write("ipv6-addr", own_example)
                )),
            );
        }
        check_own_ipv6_outside_maps(a.value, a.line, raw, d);
        return;
    }
    let Some(p) = prefix else {
        if !raw.maps.is_empty() {
            d.error(
                0,
                "no ipv6-addr directive: it is required when there is no prefix directive",
                Some(fmt.write("ipv6-addr", own_example)),
            );
        }
        return;
    };
    if !RFC6052_LENGTHS.contains(&p.value.prefix_len()) {
        return; // Already reported; there is no address to derive.
    }
    let wkp = p.value.network() == WELL_KNOWN_PREFIX && p.value.prefix_len() == 96;
    if wkp && c.wkpf_strict && c.wkp_scope.refuses(c.ipv4_addr.octets()) {
        if fmt == Format::Toml {
            // nat64's own default, outside the /96, instead of refusing.
            c.ipv6_addr = NATIVE_DEFAULT_IPV6_ADDR;
            check_own_ipv6_outside_maps(c.ipv6_addr, 0, raw, d);
            return;
        }
        d.error(
            ipv4_line,
            format!(
                "ipv6-addr must be given: with prefix 64:ff9b::/96, ipv4-addr {} is not a global address, \
                 so TAYGA will not build ipv6-addr from it (RFC 6052 section 3.1)",
                c.ipv4_addr
            ),
            Some(format!(
                "{} (an address of yours outside 64:ff9b::/96, routed to tun-device), or {}",
                fmt.write("ipv6-addr", own_example),
                fmt.setting("wkpf-strict", Val::Bool(false))
            )),
        );
        return;
    }
    c.ipv6_addr = embed_ipv4(&p.value, c.ipv4_addr);
}

fn check_own_ipv6_outside_maps(a: Ipv6Addr, line: usize, raw: &RawConfig, d: &mut Diagnostics) {
    if let Some(m) = raw.maps.iter().find(|m| m.value.ipv6.contains(a)) {
        d.error(
            line,
            format!(
                "ipv6-addr {a} is inside map {} (line {})",
                m.value.ipv6, m.line
            ),
            Some("give ipv6-addr an address outside every map's IPv6 subnet".into()),
        );
    }
}

fn on_line(line: usize) -> String {
    if line > 0 {
        format!(" (line {line})")
    } else {
        String::new()
    }
}

fn check_prefix(p: &Ipv6Net, line: usize, fmt: Format, d: &mut Diagnostics) {
    let example = Val::Str("64:ff9b::/96");
    if !RFC6052_LENGTHS.contains(&p.prefix_len()) {
        d.error(
            line,
            format!("prefix {p}: RFC 6052 allows /32, /40, /48, /56, /64 or /96"),
            Some(fmt.write("prefix", example)),
        );
        return;
    }
    if p.has_host_bits() {
        let fixed = format!("{}/{}", p.network(), p.prefix_len());
        d.error(
            line,
            format!("prefix {p} has bits set after the first {}", p.prefix_len()),
            Some(fmt.write("prefix", Val::Str(&fixed))),
        );
    } else if p.prefix_len() == 96 && p.addr().octets()[8] != 0 {
        let mut octets = p.addr().octets();
        octets[8] = 0;
        let fixed = format!("{}/96", Ipv6Addr::from(octets));
        d.error(
            line,
            format!("prefix {p}: bits 64 to 71 must be zero (RFC 6052 section 2.2)"),
            Some(fmt.write("prefix", Val::Str(&fixed))),
        );
    }
    if is_reserved_ipv6(p.addr()) {
        d.error(
            line,
            format!("prefix {p} is reserved address space (unspecified, IPv4-compatible, multicast or link-local)"),
            Some(format!("{} or a prefix of your own", fmt.write("prefix", example))),
        );
    }
}

/// One `map` on its own: RFC 7757 sizes, clean subnets, usable addresses.
pub(crate) fn check_map(m: &StaticMap, line: usize, fmt: Format, d: &mut Diagnostics) {
    let (n, len6) = (m.ipv4.prefix_len(), m.ipv6.prefix_len());
    if 32 - u32::from(n) != 128 - u32::from(len6) {
        let v4 = m.ipv4.to_string();
        let v6 = format!("{}/{}", m.ipv6.addr(), 96 + n);
        d.error(
            line,
            format!(
                "map {} {}: the IPv4 and IPv6 subnets must be the same size (RFC 7757): \
                 /{n} leaves {} host bits, /{len6} leaves {}",
                m.ipv4,
                m.ipv6,
                32 - u32::from(n),
                128 - u32::from(len6)
            ),
            Some(fmt.write("map", Val::Map(&v4, &v6))),
        );
        return;
    }
    if m.ipv4.has_host_bits() || m.ipv6.has_host_bits() {
        let v4 = format!("{}/{}", m.ipv4.network(), n);
        let v6 = format!("{}/{}", m.ipv6.network(), len6);
        d.error(
            line,
            format!(
                "map {} {}: host bits are set; a subnet starts at its first address",
                m.ipv4, m.ipv6
            ),
            Some(fmt.write("map", Val::Map(&v4, &v6))),
        );
    }
    match subnet_reservation(&m.ipv4) {
        Reservation::None => {}
        Reservation::LinkLocal => d.warn(
            line,
            format!("map {}: link-local IPv4 address, use with caution", m.ipv4),
            None,
        ),
        Reservation::Reserved(why) => d.error(
            line,
            format!("map {}: covers {why}, which is never translated", m.ipv4),
            Some(fmt.write("map", Val::Map("192.168.5.42", "2001:db8:1:4444::1"))),
        ),
    }
    if is_reserved_ipv6(m.ipv6.addr()) {
        d.error(
            line,
            format!("map {}: reserved IPv6 address (unspecified, IPv4-compatible, multicast or link-local)", m.ipv6),
            Some(fmt.write("map", Val::Map("192.168.5.42", "2001:db8:1:4444::1"))),
        );
    }
}

/// TAYGA's map table: no two maps with the same IPv4 subnet (one inside another is fine,
/// the longest match wins) and no IPv6 subnets that overlap at all.
pub(crate) fn check_maps_conflict(maps: &[Located<StaticMap>], d: &mut Diagnostics) {
    for (i, m) in maps.iter().enumerate() {
        for e in maps.iter().take(i) {
            if m.value.ipv4 == e.value.ipv4 {
                d.error(
                    m.line,
                    format!(
                        "map {}: the same IPv4 subnet as map {} (line {})",
                        m.value.ipv4, e.value.ipv4, e.line
                    ),
                    Some("give each map its own IPv4 subnet, or delete one of the two".into()),
                );
            }
            if m.value.ipv6.overlaps(&e.value.ipv6) {
                d.error(
                    m.line,
                    format!(
                        "map {}: the IPv6 side overlaps map {} (line {})",
                        m.value.ipv6, e.value.ipv6, e.line
                    ),
                    Some("give each map its own IPv6 addresses, or delete one of the two".into()),
                );
            }
        }
    }
}

/// A map against the prefix and the translator's own addresses.
pub(crate) fn check_map_against(
    prefix: Option<&Located<Ipv6Net>>,
    m: &Located<StaticMap>,
    fmt: Format,
    d: &mut Diagnostics,
) {
    if let Some(p) = prefix.filter(|p| p.value.overlaps(&m.value.ipv6)) {
        d.error(
            m.line,
            format!(
                "map {}: the IPv6 side overlaps the NAT64 prefix {}{}",
                m.value.ipv6,
                p.value,
                on_line(p.line)
            ),
            Some(format!(
                "use IPv6 addresses outside {} ({}): addresses inside the prefix are translated by RFC 6052 already",
                p.value,
                fmt.setting("map", Val::Map("192.168.5.42", "2001:db8:1:4444::1"))
            )),
        );
    }
}

fn check_pool(p: &Ipv4Net, line: usize, fmt: Format, d: &mut Diagnostics) {
    if p.prefix_len() > 31 {
        d.error(
            line,
            format!("dynamic-pool {p}: the prefix must be /31 or shorter (its first address is never handed out)"),
            Some(fmt.write("dynamic-pool", Val::Str("192.168.255.0/24"))),
        );
    } else if p.has_host_bits() {
        let fixed = format!("{}/{}", p.network(), p.prefix_len());
        d.error(
            line,
            format!("dynamic-pool {p} has host bits set"),
            Some(fmt.write("dynamic-pool", Val::Str(&fixed))),
        );
    }
    match subnet_reservation(p) {
        Reservation::None => {}
        Reservation::LinkLocal => d.warn(
            line,
            format!("dynamic-pool {p}: link-local addresses, use with caution"),
            None,
        ),
        Reservation::Reserved(why) => d.error(
            line,
            format!("dynamic-pool {p}: covers {why}, which is never handed out"),
            Some(fmt.write("dynamic-pool", Val::Str("192.168.255.0/24"))),
        ),
    }
}

fn check_unicast_ipv4(
    name: &str,
    a: Ipv4Addr,
    line: usize,
    fmt: Format,
    d: &mut Diagnostics,
    example: Val<'_>,
) {
    match ipv4_reservation(a) {
        Reservation::None => {}
        Reservation::LinkLocal => d.warn(
            line,
            format!("{name} {a} is link-local, use with caution"),
            None,
        ),
        Reservation::Reserved(why) => d.error(
            line,
            format!("{name} {a}: {why} cannot be used"),
            Some(fmt.write(name, example)),
        ),
    }
}

fn check_ifname(name: &str, value: &str, line: usize, fmt: Format, d: &mut Diagnostics) {
    let bad = value.is_empty()
        || value.len() > MAX_IFNAME_LEN
        || value == "."
        || value == ".."
        || value.contains(['/', ':'])
        || value.contains(char::is_whitespace);
    if bad {
        let example = if name == "tun-device" {
            "nat64"
        } else {
            "eth0"
        };
        let fix = if name == "interfaces" {
            fmt.write(name, Val::List(&[example]))
        } else {
            fmt.write(name, Val::Str(example))
        };
        d.error(
            line,
            format!("{name} \"{value}\" is not a valid interface name (1 to {MAX_IFNAME_LEN} characters, no '/', ':' or spaces)"),
            Some(fix),
        );
    }
}

fn network_of(n: &IpNet) -> String {
    match n {
        IpNet::V4(n) => format!("{}/{}", n.network(), n.prefix_len()),
        IpNet::V6(n) => format!("{}/{}", n.network(), n.prefix_len()),
    }
}

enum Reservation {
    None,
    LinkLocal,
    Reserved(&'static str),
}

/// The datapath's rule (`address_policy`), with the reason in words for the message.
fn ipv4_reservation(a: Ipv4Addr) -> Reservation {
    let o = a.octets();
    match address_policy::classify_v4(o) {
        V4Class::Unicast => Reservation::None,
        V4Class::LinkLocal => Reservation::LinkLocal,
        V4Class::Special if o[0] == 0 => Reservation::Reserved("0.0.0.0/8 (\"this network\")"),
        V4Class::Special if o[0] == 127 => Reservation::Reserved("127.0.0.0/8 (loopback)"),
        V4Class::Special if a.is_multicast() => Reservation::Reserved("224.0.0.0/4 (multicast)"),
        V4Class::Special => Reservation::Reserved("255.255.255.255 (broadcast)"),
    }
}

/// The datapath's rule for a whole subnet (a map, a pool): reserved when it covers any
/// address that is never translated, not only when its first address is one.
fn subnet_reservation(net: &Ipv4Net) -> Reservation {
    let covers = |(start, len): ([u8; 4], u8)| {
        Ipv4Net::new(Ipv4Addr::from(start), len).filter(|range| range.overlaps(net))
    };
    if let Some(range) = address_policy::SPECIAL_V4.into_iter().find_map(covers) {
        return ipv4_reservation(range.network());
    }
    match covers(address_policy::LINK_LOCAL_V4) {
        Some(_) => Reservation::LinkLocal,
        None => Reservation::None,
    }
}

/// The datapath's rule (`address_policy`): ::/8, multicast and link-local are never
/// translated; 64:ff9b::/32 (well-known and local-use translation space) is fine.
fn is_reserved_ipv6(a: Ipv6Addr) -> bool {
    !address_policy::v6_translatable(&a.octets())
}

fn in_well_known_96(a: Ipv6Addr) -> bool {
    let s = a.segments();
    s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ipv6() {
        assert!(!is_reserved_ipv6("64:ff9b::1".parse().unwrap()));
        assert!(!is_reserved_ipv6("64:ff9b:1::1".parse().unwrap()));
        assert!(is_reserved_ipv6("::1".parse().unwrap()));
        assert!(is_reserved_ipv6("ff02::1".parse().unwrap()));
        assert!(is_reserved_ipv6("fe80::1".parse().unwrap()));
        assert!(!is_reserved_ipv6("2001:db8::1".parse().unwrap()));
    }
}
