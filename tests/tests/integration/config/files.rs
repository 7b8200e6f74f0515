//! Whole configuration files: TAYGA's examples, the TurnKey appliance's file,
//! their TOML equivalents, every error path and the map-file.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use nat64::config::{
    check_file, map_file, Config, ConfigError, Datapath, StaticMap, UdpChecksumMode,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/config")
        .join(name)
}

fn check(name: &str) -> Result<Config, ConfigError> {
    check_file(fixture(name))
}

/// Configurations compare equal apart from where their warnings came from.
/// What a file means, but for what follows its format: warnings, and which list of
/// non-global addresses `wkpf-strict` uses (TAYGA's for a tayga.conf, the IANA registry's for
/// a TOML file; see `Config::wkp_scope`).
fn meaning(mut c: Config) -> Config {
    c.warnings.clear();
    c.wkp_scope = nat64::config::WkpScope::Registry;
    c
}

#[test]
fn debian_example_parses_with_taygas_defaults() {
    let c = check("debian-example.conf").unwrap();
    assert_eq!(c.tun_device, "nat64");
    assert_eq!(c.ipv4_addr, Ipv4Addr::new(192, 168, 255, 1));
    // RFC 6052: 192.168.255.1 embedded in the /96.
    assert_eq!(
        c.ipv6_addr,
        "2001:db8:1:ffff::c0a8:ff01".parse::<Ipv6Addr>().unwrap()
    );
    assert!(!c.ipv6_addr_configured);
    assert_eq!(c.prefix.unwrap().to_string(), "2001:db8:1:ffff::/96");
    assert_eq!(c.dynamic_pool.unwrap().to_string(), "192.168.255.0/24");
    assert_eq!(c.data_dir.as_deref(), Some(Path::new("/var/spool/tayga")));
    assert!(c.wkpf_strict);
    assert_eq!(c.udp_cksum_mode, UdpChecksumMode::Drop);
    assert_eq!(c.offlink_mtu, 1280);
    assert!(!c.tun_up);
    assert_eq!(c.workers, None);
    assert_eq!(c.datapath, Datapath::Auto);
    assert_eq!(c.mapping_idle.as_secs(), 7440);
    assert_eq!(c.mapping_forget.as_secs(), 14 * 86_400);
    assert!(c.warnings.is_empty());
}

#[test]
fn installed_debian_example_parses() {
    // Debian's own file, when the tayga package is installed.
    let installed = Path::new("/usr/share/doc/tayga/tayga.conf.example");
    if installed.exists() {
        let c = check_file(installed).unwrap();
        assert_eq!(meaning(c), meaning(check("debian-example.conf").unwrap()));
    }
}

#[test]
fn turnkey_config_needs_ipv6_addr_as_tayga_says() {
    let e = check("turnkey.conf").unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("turnkey.conf:3: ipv6-addr must be given"),
        "{msg}"
    );
    assert!(msg.contains("prefix 64:ff9b::/96"), "{msg}");
    assert!(
        msg.contains("192.168.255.1 is not a global address"),
        "{msg}"
    );
    assert!(msg.contains("write e.g. \"ipv6-addr "), "{msg}");
    assert!(msg.contains("\"wkpf-strict no\""), "{msg}");

    let c = check("turnkey-fixed.conf").unwrap();
    assert_eq!(c.ipv6_addr, "2001:db8:1::2".parse::<Ipv6Addr>().unwrap());
    assert_eq!(c.data_dir.as_deref(), Some(Path::new("/var/db/tayga")));
}

#[test]
fn toml_equivalents_parse_to_the_same_config() {
    for (conf, toml) in [
        ("debian-example.conf", "debian-example.toml"),
        ("turnkey-fixed.conf", "turnkey-fixed.toml"),
        ("full.conf", "full.toml"),
    ] {
        assert_eq!(
            meaning(check(conf).unwrap()),
            meaning(check(toml).unwrap()),
            "{conf} vs {toml}"
        );
    }
}

#[test]
fn every_directive_of_the_maintained_tayga() {
    let c = check("full.conf").unwrap();
    assert!(!c.wkpf_strict);
    assert_eq!(c.maps.len(), 2);
    assert_eq!(c.maps[1].ipv6.prefix_len(), 120);
    assert_eq!(c.udp_cksum_mode, UdpChecksumMode::Calculate);
    assert!(c.log.drop && c.log.reject && c.log.icmp && c.log.to_self && c.log.dynamic);
    assert_eq!(c.offlink_mtu, 1492);
    assert!(c.tun_up);
    assert_eq!(c.tun_ips.len(), 2);
    assert_eq!(c.tun_routes.len(), 2);
    assert_eq!(c.workers, Some(4));
    assert_eq!(
        c.map_file_path().unwrap(),
        Path::new("/var/lib/tayga/static.map")
    );
    // strict-frag-hdr is accepted with a warning that names its line.
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0]
        .to_string()
        .contains("full.conf:12: strict-frag-hdr is deprecated"));
}

/// Every problem of a broken file is reported at once, each with its line and a fix.
fn assert_all_reported(e: &ConfigError, file: &str, expected_lines: &[usize]) {
    let text = e.to_string();
    for p in &e.problems {
        assert!(p.line.is_some(), "no line: {p}");
        assert!(p.fix.is_some(), "no fix: {p}");
        assert!(
            p.to_string()
                .contains(&format!("{file}:{}: ", p.line.unwrap())),
            "{p}"
        );
    }
    let mut lines: Vec<usize> = e.problems.iter().filter_map(|p| p.line).collect();
    lines.dedup();
    assert_eq!(lines, expected_lines, "{text}");
}

#[test]
fn broken_tayga_conf_reports_everything() {
    let e = check("broken.conf").unwrap_err();
    assert_all_reported(&e, "broken.conf", &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let text = e.to_string();
    for expected in [
        "broken.conf:2: ipv4-addr 127.0.0.1: 127.0.0.0/8 (loopback) cannot be used",
        "broken.conf:3: prefix 2001:db8::/33: RFC 6052 allows /32, /40, /48, /56, /64 or /96; write e.g. \"prefix 64:ff9b::/96\"",
        "broken.conf:4: unknown directive \"prefx\"; did you mean prefix?",
        "broken.conf:5: map 192.0.2.1/24 2001:db8:5::/120: host bits are set",
        "write e.g. \"map 192.0.2.0/24 2001:db8:5::/120\"",
        "broken.conf:6: map 198.51.100.0/24 2001:db8:6::/64: the IPv4 and IPv6 subnets must be the same size",
        "broken.conf:7: dynamic-pool 10.0.0.0/32: the prefix must be /31 or shorter",
        "broken.conf:8: data-dir var/lib/tayga is not an absolute path; write e.g. \"data-dir /var/lib/tayga\"",
        "broken.conf:9: offlink-mtu 1000 is outside 1280..=65535",
        "broken.conf:10: workers 65 is more than 64",
        "broken.conf:11: duplicate tun-device directive (the first is on line 1)",
        "broken.conf:12: tun-route 10.1.2.3/24 has host bits set",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn broken_toml_reports_everything_in_toml_syntax() {
    let e = check("broken.toml").unwrap_err();
    assert_all_reported(&e, "broken.toml", &[2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 17]);
    let text = e.to_string();
    for expected in [
        "broken.toml:3: prefix 2001:db8::/33: RFC 6052 allows /32, /40, /48, /56, /64 or /96; write e.g. prefix = \"64:ff9b::/96\"",
        "broken.toml:5: data_dir var/lib/tayga is not an absolute path; write e.g. data_dir = \"/var/lib/tayga\"",
        "broken.toml:9: allow_source 2001:db8::1/64 has host bits set; write e.g. allow_source = [\"2001:db8::/64\"]",
        "broken.toml:13: map 192.0.2.1/24 2001:db8:5::/120: host bits are set",
        "broken.toml:17: map 198.51.100.0/24 2001:db8:6::/64",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn whole_file_problems_name_the_file_and_the_fix() {
    let e = nat64::config::parse_str(
        "# nothing\n",
        Path::new("empty.conf"),
        nat64::config::Format::TaygaConf,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("empty.conf: no tun-device directive (TAYGA requires one); write e.g. \"tun-device nat64\""), "{text}");
    assert!(text.contains("empty.conf: no ipv4-addr directive (TAYGA requires one); write e.g. \"ipv4-addr 192.168.255.1\""), "{text}");
    assert!(
        text.contains("empty.conf: no prefix and no map directive"),
        "{text}"
    );

    let e = check_file(fixture("does-not-exist.conf")).unwrap_err();
    assert!(
        e.to_string()
            .contains("does-not-exist.conf: cannot read the configuration"),
        "{e}"
    );
}

#[test]
fn rules_between_settings() {
    let base = "tun-device nat64\nipv4-addr 192.0.2.1\n";
    let parse = |extra: &str| {
        nat64::config::parse_str(
            &format!("{base}{extra}"),
            Path::new("t.conf"),
            nat64::config::Format::TaygaConf,
        )
    };
    let err = |extra: &str| parse(extra).unwrap_err().to_string();

    // Map v6 side inside the prefix.
    assert!(err("prefix 2001:db8:64::/96\nmap 198.51.100.1 2001:db8:64::1\n")
        .contains("t.conf:4: map 2001:db8:64::1/128: the IPv6 side overlaps the NAT64 prefix 2001:db8:64::/96 (line 3)"));
    // TAYGA's map table: the same IPv4 subnet twice, or IPv6 subnets that overlap, are
    // refused; an IPv4 subnet inside another is fine (the longest match wins).
    let e = err("map 198.51.100.0/30 2001:db8:1::/126\nmap 198.51.100.2 2001:db8:2::2\nmap 203.0.113.1 2001:db8:1::3\nmap 198.51.100.0/30 2001:db8:3::/126\n");
    assert!(!e.contains("t.conf:4"), "{e}");
    assert!(
        e.contains(
            "t.conf:5: map 2001:db8:1::3/128: the IPv6 side overlaps map 2001:db8:1::/126 (line 3)"
        ),
        "{e}"
    );
    assert!(
        e.contains(
            "t.conf:6: map 198.51.100.0/30: the same IPv4 subnet as map 198.51.100.0/30 (line 3)"
        ),
        "{e}"
    );
    // No prefix: ipv6-addr is required.
    assert!(err("map 198.51.100.1 2001:db8:1::1\n")
        .contains("no ipv6-addr directive: it is required when there is no prefix"));
    // ipv6-addr inside the prefix, or in the WKP /96.
    assert!(err("prefix 2001:db8:64::/96\nipv6-addr 2001:db8:64::5\n")
        .contains("t.conf:4: ipv6-addr 2001:db8:64::5 is inside the NAT64 prefix"));
    assert!(err("prefix 2001:db8:64::/96\nipv6-addr 64:ff9b::5\n")
        .contains("is inside the well-known prefix 64:ff9b::/96"));
    // The u octet of a /96.
    assert!(err("prefix 2001:db8:0:0:ff00::/96\n").contains("bits 64 to 71 must be zero"));
    // A map of the pool's own subnet; a wider map around the pool is fine (the pool is the
    // longest match for its addresses).
    assert!(err("prefix 2001:db8:64::/96\ndynamic-pool 198.51.100.0/25\nmap 198.51.100.0/25 2001:db8:1::/121\n")
        .contains("t.conf:4: dynamic-pool 198.51.100.0/25 is the IPv4 side of map 198.51.100.0/25 (line 5)"));
    parse("prefix 2001:db8:64::/96\ndynamic-pool 198.51.100.0/25\nmap 198.51.100.0/24 2001:db8:1::/120\n")
        .unwrap();

    // Allowed, as in TAYGA: ipv4-addr and maps inside the pool; a global ipv4-addr under the WKP.
    let c = parse("prefix 64:ff9b::/96\ndynamic-pool 192.0.2.0/24\nmap 192.0.2.7 2001:db8:1::7\n")
        .unwrap_err();
    assert!(
        c.to_string().contains("ipv6-addr must be given"),
        "192.0.2.1 is documentation space: {c}"
    );
    let c = nat64::config::parse_str(
        "tun-device nat64\nipv4-addr 8.8.8.8\nprefix 64:ff9b::/96\ndynamic-pool 8.8.8.0/24\nmap 8.8.8.7 2001:db8:1::7\n",
        Path::new("t.conf"),
        nat64::config::Format::TaygaConf,
    )
    .unwrap();
    assert_eq!(c.ipv6_addr, "64:ff9b::808:808".parse::<Ipv6Addr>().unwrap());
    // wkpf-strict no lifts the rule.
    let c = parse("prefix 64:ff9b::/96\nwkpf-strict no\n").unwrap();
    assert_eq!(
        c.ipv6_addr,
        "64:ff9b::c000:201".parse::<Ipv6Addr>().unwrap()
    );
}

#[test]
fn native_toml_falls_back_to_its_own_ipv6_addr() {
    // The native defaults: a non-global ipv4_addr under the WKP; nat64 uses 64:ff9b:1::1.
    let c = nat64::config::parse_str(
        "ipv4_addr = \"100.64.0.9\"\n",
        Path::new("n.toml"),
        nat64::config::Format::Toml,
    )
    .unwrap();
    assert_eq!(c.ipv6_addr, nat64::config::NATIVE_DEFAULT_IPV6_ADDR);
    assert_eq!(
        Config::native_defaults().ipv6_addr,
        "64:ff9b:1::1".parse::<Ipv6Addr>().unwrap()
    );
}

#[test]
fn map_file_applies_against_the_config() {
    let text = std::fs::read_to_string(fixture("static.map")).unwrap();
    let mut c = check("full.conf").unwrap();
    let applied = map_file::apply(&c, &text, Path::new("static.map"));
    assert!(applied.notes.is_empty(), "{:?}", applied.notes);
    assert_eq!(
        applied.maps,
        [
            StaticMap {
                ipv4: "192.0.2.20/32".parse().unwrap(),
                ipv6: "2001:db8:1:4444::20/128".parse().unwrap()
            },
            StaticMap {
                ipv4: "192.0.2.32/28".parse().unwrap(),
                ipv6: "2001:db8:1:5555::/124".parse().unwrap()
            },
        ]
    );

    c.data_dir = Some(fixture(""));
    assert_eq!(c.load_map_file().unwrap().maps, applied.maps);

    // A map-file line clashing with a tayga.conf map is skipped and named with its line; the
    // rest of the file still applies.
    let applied = map_file::apply(
        &c,
        "\nmap 192.0.2.10 2001:db8:9::1\nmap 192.0.2.21 2001:db8:9::2\n",
        Path::new("static.map"),
    );
    assert_eq!(applied.maps.len(), 1);
    let note = applied.notes[0].to_string();
    assert!(
        note.starts_with(
            "static.map:2: map 192.0.2.10/32 2001:db8:9::1/128: conflicts with map 192.0.2.10/32"
        ),
        "{note}"
    );
}

/// A map or pool that covers an address never translated is refused on its line, not only
/// when its first address is one (found by the fuzzer: `map 126.0.0.0/7` covered loopback).
#[test]
fn maps_and_pools_covering_special_addresses_are_refused_on_their_line() {
    use nat64::config::{parse_str, Format};
    let base = "tun-device nat64\nipv4-addr 192.0.2.1\nipv6-addr 2001:db8:ffff::1\nprefix 2001:db8:64::/96\n";
    for (line, covered) in [
        (
            "map 126.0.0.0/7 2001:db8:7e00::/103",
            "127.0.0.0/8 (loopback)",
        ),
        (
            "map 128.0.0.0/1 2001:db8:8000::/97",
            "224.0.0.0/4 (multicast)",
        ),
        (
            "map 255.255.255.0/24 2001:db8:ff::/120",
            "255.255.255.255 (broadcast)",
        ),
        ("dynamic-pool 128.0.0.0/1", "224.0.0.0/4 (multicast)"),
        (
            "dynamic-pool 255.255.255.0/24",
            "255.255.255.255 (broadcast)",
        ),
    ] {
        let text = format!("{base}{line}\n");
        let e = parse_str(&text, Path::new("tayga.conf"), Format::TaygaConf)
            .expect_err(&format!("{line} must be refused"));
        let msg = e.to_string();
        assert!(
            msg.contains("tayga.conf:5:") && msg.contains(covered),
            "{line}: {msg}"
        );
    }
    // Next to them, the same shapes are fine.
    let text = format!(
        "{base}map 198.51.100.0/24 2001:db8:c633:6400::/120\ndynamic-pool 203.0.113.0/24\n"
    );
    parse_str(&text, Path::new("tayga.conf"), Format::TaygaConf).expect("ordinary subnets");
}
