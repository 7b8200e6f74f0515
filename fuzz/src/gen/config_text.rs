//! Configuration text: `tayga.conf`, nat64's TOML and map-files, made of real directives.
//! Each text draws how wild it is: some are all meaningful values (so the checks between
//! lines, and what the gateway does with an accepted file, are reached), some are mostly
//! noise; then now and then the text is mutated byte by byte.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::config::Config;
use rand::{rngs::StdRng, Rng};

use super::mutate::mutate;
use super::{chance, pick};

/// Which reader the text is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    TaygaConf,
    Toml,
    /// A map-file, applied against a configuration.
    MapFile,
}

/// Configuration text of `kind`; values aim at `base`'s addresses now and then.
pub fn text(rng: &mut StdRng, kind: ConfigKind, base: &Config) -> Vec<u8> {
    let mut out = structured(rng, kind, base);
    if chance(rng, 0.25) {
        let donor = structured(rng, kind, base);
        mutate(rng, &mut out, &donor);
    }
    out
}

fn structured(rng: &mut StdRng, kind: ConfigKind, base: &Config) -> Vec<u8> {
    let wild = pick(rng, &[0.0, 0.0, 0.02, 0.05, 0.1, 0.3, 0.6]);
    let mut values = Values::new(base, wild);
    let lines = match kind {
        ConfigKind::TaygaConf => tayga_lines(rng, &mut values),
        ConfigKind::Toml => toml_lines(rng, &mut values),
        ConfigKind::MapFile => map_file_lines(rng, &mut values),
    };
    let eol = if chance(rng, 0.1) { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if chance(rng, 0.8) {
        text.push_str(eol);
    }
    text.into_bytes()
}

/// `tayga.conf` directives; the ones that may repeat last.
const TAYGA_SINGLE: [&str; 14] = [
    "tun-device",
    "ipv4-addr",
    "ipv6-addr",
    "prefix",
    "wkpf-strict",
    "dynamic-pool",
    "data-dir",
    "map-file",
    "strict-frag-hdr",
    "udp-cksum-mode",
    "log",
    "offlink-mtu",
    "tun-up",
    "workers",
];
const TAYGA_REPEATABLE: [&str; 3] = ["map", "tun-ip", "tun-route"];

fn tayga_lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    let mut lines = Vec::new();
    let mut directives: Vec<&str> = Vec::new();
    if chance(rng, 0.8) {
        // What TAYGA requires, so the other lines meet the checks between them.
        directives.extend(["tun-device", "ipv4-addr"]);
        if chance(rng, 0.8) {
            directives.push("prefix");
        }
    }
    for _ in 0..rng.gen_range(0..=4) {
        let d = pick(rng, &TAYGA_SINGLE);
        if !directives.contains(&d) || chance(rng, v.wild) {
            directives.push(d);
        }
    }
    for _ in 0..rng.gen_range(0..=4) {
        directives.push(pick(rng, &TAYGA_REPEATABLE));
    }
    for d in directives {
        lines.push(tayga_line(rng, d, v));
    }
    for _ in 0..rng.gen_range(0..=2) {
        let at = rng.gen_range(0..=lines.len());
        let extra = match rng.gen_range(0..4) {
            0 => comment(rng),
            1 => String::new(),
            _ if chance(rng, v.wild) => v.junk(rng),
            _ => comment(rng),
        };
        lines.insert(at, extra);
    }
    if chance(rng, 0.2) {
        shuffle(rng, &mut lines);
    }
    lines
}

fn tayga_line(rng: &mut StdRng, directive: &str, v: &mut Values) -> String {
    let mut args = tayga_args(rng, directive, v);
    if chance(rng, v.wild / 4.0) {
        args.push(v.anything(rng));
    }
    if chance(rng, v.wild / 4.0) {
        args.pop();
    }
    let name = if chance(rng, v.wild) {
        match rng.gen_range(0..4) {
            0 => directive.to_uppercase(),
            1 => directive.replace('-', "_"),
            2 => format!("{directive}="),
            _ => directive.get(1..).unwrap_or(directive).to_string(),
        }
    } else {
        directive.to_string()
    };
    let sep = if chance(rng, 0.1) { "\t" } else { " " };
    let mut line = std::iter::once(name)
        .chain(args)
        .collect::<Vec<_>>()
        .join(sep);
    if chance(rng, 0.1) {
        line.push_str(" # a comment");
    }
    if chance(rng, 0.05) {
        line.insert_str(0, "  ");
    }
    line
}

fn tayga_args(rng: &mut StdRng, directive: &str, v: &mut Values) -> Vec<String> {
    match directive {
        "tun-device" => vec![v.ifname(rng)],
        "ipv4-addr" => vec![v.v4(rng)],
        "ipv6-addr" => vec![v.v6(rng)],
        "prefix" => vec![v.prefix(rng)],
        "wkpf-strict" | "strict-frag-hdr" | "tun-up" => vec![v.boolean(rng)],
        "map" => {
            let (a, b) = v.map(rng);
            vec![a, b]
        }
        "dynamic-pool" => vec![v.v4_net(rng)],
        "data-dir" | "map-file" => vec![v.path(rng)],
        "udp-cksum-mode" => {
            vec![v.word(rng, &["drop", "fwd", "calc"], &["dr", "forward", "x", ""])]
        }
        "log" => (0..rng.gen_range(0..=5))
            .map(|_| v.word(rng, &["drop", "reject", "icmp", "self", "dyn"], &["all"]))
            .collect(),
        "offlink-mtu" => vec![v.number(rng, &["1280", "1500", "9000", "65535"])],
        "workers" => vec![v.number(rng, &["0", "1", "4", "64"])],
        _ => vec![v.net_either(rng)],
    }
}

const TOML_KEYS: [&str; 25] = [
    "tun_device",
    "ipv4_addr",
    "ipv6_addr",
    "prefix",
    "wkpf_strict",
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
    "egress",
    "allow_source",
    "mapping_idle_secs",
    "mapping_forget_secs",
    "keep",
    "pin_dir",
    "metrics",
];

fn toml_lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    let mut lines = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..rng.gen_range(0..=6) {
        let key = pick(rng, &TOML_KEYS);
        let key = if chance(rng, v.wild / 2.0) {
            match rng.gen_range(0..3) {
                0 => key.replace('_', "-"),
                1 => format!("{key}x"),
                _ => "map".to_string(),
            }
        } else {
            key.to_string()
        };
        if keys.contains(&key) && !chance(rng, v.wild) {
            continue;
        }
        let value = toml_value(rng, &key, v);
        lines.push(format!("{key} = {value}"));
        keys.push(key);
    }
    for _ in 0..rng.gen_range(0..=3) {
        // Tables go last in TOML: a plain key after one belongs to the table.
        let header = if chance(rng, v.wild / 4.0) {
            "[map]"
        } else {
            "[[map]]"
        };
        lines.push(header.to_string());
        let (a, b) = v.map(rng);
        if !chance(rng, v.wild / 4.0) {
            lines.push(format!("ipv4 = {}", quoted(rng, &a)));
        }
        if !chance(rng, v.wild / 4.0) {
            lines.push(format!("ipv6 = {}", quoted(rng, &b)));
        }
        if chance(rng, v.wild / 4.0) {
            let prefix = v.prefix(rng);
            lines.push(format!("prefix = {}", quoted(rng, &prefix)));
        }
    }
    if chance(rng, v.wild / 4.0) {
        let broken = pick(
            rng,
            &[
                "[",
                "key = ",
                "= 1",
                "a = \"unterminated",
                "[[map]",
                "x.y = 1",
                "a = 1\na = 2",
            ],
        );
        lines.push(broken.into());
    }
    lines
}

fn toml_value(rng: &mut StdRng, key: &str, v: &mut Values) -> String {
    if chance(rng, v.wild / 4.0) {
        // The wrong type.
        return pick(
            rng,
            &[
                "1",
                "-1",
                "1.5",
                "true",
                "[]",
                "{}",
                "\"x\"",
                "1979-05-27",
                "[1, \"a\"]",
            ],
        )
        .to_string();
    }
    let string = match key {
        "tun_device" | "egress" => v.ifname(rng),
        "ipv4_addr" => v.v4(rng),
        "ipv6_addr" => v.v6(rng),
        "prefix" => v.prefix(rng),
        "dynamic_pool" => v.v4_net(rng),
        "data_dir" | "map_file" | "pin_dir" => v.path(rng),
        "udp_cksum_mode" => v.word(rng, &["drop", "fwd", "calc"], &["x"]),
        "datapath" => v.word(rng, &["auto", "tc", "tun"], &["xdp"]),
        "xdp_forward" => v.word(rng, &["stack", "direct"], &["fast"]),
        "metrics" => v.word(
            rng,
            &["127.0.0.1:9464", "[::1]:9464"],
            &["127.0.0.1", ":80", "a:b"],
        ),
        "wkpf_strict" | "tun_up" | "keep" => return pick(rng, &["true", "false"]).into(),
        "offlink_mtu" => return v.number(rng, &["1280", "1500", "9000"]),
        "workers" => return v.number(rng, &["0", "2", "64"]),
        "mapping_idle_secs" | "mapping_forget_secs" => {
            return v.number(rng, &["1", "60", "7440", "1209600"])
        }
        "log" => {
            return array(rng, |rng| {
                v.word(rng, &["drop", "reject", "icmp", "self", "dyn"], &["x"])
            })
        }
        "interfaces" => return array(rng, |rng| v.ifname(rng)),
        "allow_source" => return array(rng, |rng| v.v6_net(rng)),
        "tun_ip" | "tun_route" => return array(rng, |rng| v.net_either(rng)),
        _ => v.anything(rng),
    };
    quoted(rng, &string)
}

fn array(rng: &mut StdRng, mut item: impl FnMut(&mut StdRng) -> String) -> String {
    let items: Vec<String> = (0..rng.gen_range(0..=3))
        .map(|_| {
            let text = item(rng);
            quoted(rng, &text)
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string; now and then with the escaping left out.
fn quoted(rng: &mut StdRng, text: &str) -> String {
    if chance(rng, 0.02) {
        return format!("\"{text}\"");
    }
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn map_file_lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    (0..rng.gen_range(0..=12))
        .map(|_| match rng.gen_range(0..20) {
            0..=11 => {
                let (a, b) = v.map(rng);
                format!("map {a} {b}")
            }
            12..=15 => {
                let (a, b) = v.map(rng);
                format!("{a}\t{b}")
            }
            16 => comment(rng),
            17 => String::new(),
            18 => {
                let d = pick(rng, &TAYGA_SINGLE);
                tayga_line(rng, d, v)
            }
            _ => v.junk(rng),
        })
        .collect()
}

fn comment(rng: &mut StdRng) -> String {
    pick(
        rng,
        &["# comment", "#", "  # map 1.2.3.4 2001:db8::1", "#map"],
    )
    .to_string()
}

fn shuffle(rng: &mut StdRng, lines: &mut [String]) {
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.gen_range(0..=i));
    }
}

const V4_WILD: [&str; 12] = [
    "192.0.2.300",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "0x7f.0.0.1",
    "",
    "-1.0.0.0",
    "::1",
    "999999999999",
    "1.2.3.4/",
    "1.2.3.4//24",
    "ä.b.c.d",
];
/// IPv4 addresses a file may name: ordinary, private, on the edges of the special blocks.
const V4_UNICAST: [&str; 12] = [
    "192.0.2.1",
    "192.0.2.33",
    "198.51.100.0",
    "203.0.113.0",
    "10.0.0.0",
    "100.64.0.0",
    "100.64.0.1",
    "128.0.0.0",
    "240.0.0.0",
    "255.255.255.0",
    "126.0.0.0",
    "223.255.255.0",
];
/// Never translated (or link-local): the readers must refuse or warn.
const V4_SPECIAL: [&str; 6] = [
    "169.254.0.0",
    "127.0.0.1",
    "0.0.0.0",
    "224.0.0.0",
    "255.255.255.255",
    "239.255.255.255",
];
const V6_WILD: [&str; 8] = [
    "2001:db8:::1",
    "1:2:3:4:5:6:7:8:9",
    "g::1",
    "[2001:db8::1]",
    "2001:db8::1%eth0",
    "",
    "::ffff:1.2.3.256",
    "2001:db8::/",
];
const V6_UNICAST: [&str; 7] = [
    "2001:db8::1",
    "2001:db8:1::",
    "64:ff9b::",
    "64:ff9b:1::1",
    "64:ff9b::c000:201",
    "2001:db8:64::",
    "2001:db8:ffff::1",
];
const V6_SPECIAL: [&str; 5] = ["::", "::1", "fe80::1", "ff02::1", "::ffff:192.0.2.1"];

/// Values for directives: meaningful ones (sometimes ones used before, or the base
/// configuration's, so lines clash), and with probability `wild` noise or special ones.
struct Values {
    wild: f64,
    base_v4: Vec<String>,
    base_v6: Vec<String>,
    used_v4: Vec<String>,
    used_v6: Vec<String>,
}

impl Values {
    fn new(base: &Config, wild: f64) -> Values {
        let mut base_v4 = vec![base.ipv4_addr.to_string()];
        let mut base_v6 = vec![base.ipv6_addr.to_string()];
        if let Some(p) = base.prefix {
            base_v6.push(p.network().to_string());
        }
        if let Some(p) = base.dynamic_pool {
            base_v4.push(p.network().to_string());
        }
        for m in &base.maps {
            base_v4.push(m.ipv4.network().to_string());
            base_v6.push(m.ipv6.network().to_string());
        }
        Values {
            wild,
            base_v4,
            base_v6,
            used_v4: Vec::new(),
            used_v6: Vec::new(),
        }
    }

    fn v4(&mut self, rng: &mut StdRng) -> String {
        let a = if chance(rng, self.wild) {
            if chance(rng, 0.5) {
                pick(rng, &V4_WILD).to_string()
            } else {
                pick(rng, &V4_SPECIAL).to_string()
            }
        } else {
            match rng.gen_range(0..10) {
                0..=1 if !self.used_v4.is_empty() => pick_string(rng, &self.used_v4),
                2..=3 => pick_string(rng, &self.base_v4),
                4..=6 => pick(rng, &V4_UNICAST).to_string(),
                _ => {
                    let mut a: [u8; 4] = rng.gen();
                    a[0] = rng.gen_range(1..=223);
                    if a[0] == 127 {
                        a[0] = 128;
                    }
                    Ipv4Addr::from(a).to_string()
                }
            }
        };
        self.used_v4.push(a.clone());
        a
    }

    fn v6(&mut self, rng: &mut StdRng) -> String {
        let a = if chance(rng, self.wild) {
            if chance(rng, 0.5) {
                pick(rng, &V6_WILD).to_string()
            } else {
                pick(rng, &V6_SPECIAL).to_string()
            }
        } else {
            match rng.gen_range(0..10) {
                0..=1 if !self.used_v6.is_empty() => pick_string(rng, &self.used_v6),
                2..=3 => pick_string(rng, &self.base_v6),
                4..=5 => pick(rng, &V6_UNICAST).to_string(),
                _ => {
                    let mut a: [u8; 16] = rng.gen();
                    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                    Ipv6Addr::from(a).to_string()
                }
            }
        };
        self.used_v6.push(a.clone());
        a
    }

    fn length(&self, rng: &mut StdRng, max: u32, usual: &[u32]) -> String {
        if chance(rng, self.wild) {
            return match rng.gen_range(0..2) {
                0 => pick(rng, &["", "x", "-1", "033", "4294967297", " 24", "24x"]).to_string(),
                _ => rng.gen_range(0..=max + 8).to_string(),
            };
        }
        pick(rng, usual).to_string()
    }

    fn v4_net(&mut self, rng: &mut StdRng) -> String {
        let len = self.length(rng, 32, &[1, 4, 7, 8, 10, 16, 23, 24, 26, 30, 31, 32]);
        let a = self.v4(rng);
        match (a.parse::<Ipv4Addr>(), len.parse::<u32>()) {
            (Ok(addr), Ok(n)) if n <= 32 && !chance(rng, self.wild) => {
                let mask = u32::MAX.checked_shl(32 - n).unwrap_or(0);
                format!("{}/{n}", Ipv4Addr::from(u32::from(addr) & mask))
            }
            _ => format!("{a}/{len}"),
        }
    }

    fn v6_net(&mut self, rng: &mut StdRng) -> String {
        let len = self.length(rng, 128, &[32, 40, 48, 56, 64, 96, 104, 120, 128]);
        let a = self.v6(rng);
        match (a.parse::<Ipv6Addr>(), len.parse::<u32>()) {
            (Ok(addr), Ok(n)) if n <= 128 && !chance(rng, self.wild) => {
                let mask = u128::MAX.checked_shl(128 - n).unwrap_or(0);
                format!("{}/{n}", Ipv6Addr::from(u128::from(addr) & mask))
            }
            _ => format!("{a}/{len}"),
        }
    }

    fn prefix(&mut self, rng: &mut StdRng) -> String {
        if chance(rng, 0.6) {
            return pick(
                rng,
                &[
                    "64:ff9b::/96",
                    "2001:db8:64::/96",
                    "2001:db8:100::/40",
                    "2001:db8::/32",
                    "64:ff9b:1::/48",
                    "2001:db8:64:64::/64",
                ],
            )
            .to_string();
        }
        self.v6_net(rng)
    }

    fn net_either(&mut self, rng: &mut StdRng) -> String {
        match rng.gen_range(0..3) {
            0 => self.v4_net(rng),
            1 => self.v6_net(rng),
            _ => self.v4(rng),
        }
    }

    /// A map's two sides: the same size (RFC 7757) unless wild, host bits clear unless
    /// wild, lengths written or left out.
    fn map(&mut self, rng: &mut StdRng) -> (String, String) {
        if chance(rng, 0.3) {
            return (self.v4(rng), self.v6(rng));
        }
        let n = pick(rng, &[32u32, 32, 30, 28, 24, 24, 16, 8, 7, 4, 1]);
        let m = if chance(rng, self.wild) {
            rng.gen_range(0..=130)
        } else {
            96 + n
        };
        let v4: Ipv4Addr = self.v4(rng).parse().unwrap_or(Ipv4Addr::new(192, 0, 2, 0));
        let v6: Ipv6Addr = self.v6(rng).parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let (v4, v6) = if chance(rng, self.wild) {
            (v4, v6)
        } else {
            let mask4 = u32::MAX.checked_shl(32 - n).unwrap_or(0);
            let mask6 = u128::MAX.checked_shl(128 - m.min(128)).unwrap_or(0);
            (
                Ipv4Addr::from(u32::from(v4) & mask4),
                Ipv6Addr::from(u128::from(v6) & mask6),
            )
        };
        (format!("{v4}/{n}"), format!("{v6}/{m}"))
    }

    /// One of `good`, or now and then one of `bad` or noise.
    fn word(&mut self, rng: &mut StdRng, good: &[&str], bad: &[&str]) -> String {
        if chance(rng, self.wild) && !bad.is_empty() {
            pick(rng, bad).to_string()
        } else {
            pick(rng, good).to_string()
        }
    }

    fn boolean(&mut self, rng: &mut StdRng) -> String {
        self.word(
            rng,
            &["yes", "no", "true", "false", "on", "off", "1", "0", "up"],
            &["YES", "maybe", ""],
        )
    }

    fn number(&mut self, rng: &mut StdRng, good: &[&str]) -> String {
        self.word(
            rng,
            good,
            &[
                "0",
                "1279",
                "65536",
                "-1",
                "1e3",
                "0x10",
                "18446744073709551616",
                "9223372036854775807",
                "65",
            ],
        )
    }

    fn path(&mut self, rng: &mut StdRng) -> String {
        if chance(rng, self.wild / 4.0) {
            return "x".repeat(rng.gen_range(200..=5000));
        }
        self.word(
            rng,
            &[
                "/var/lib/nat64",
                "/sys/fs/bpf/",
                "static.map",
                "/etc/nat64/static.map",
            ],
            &["relative/dir", "", "/", "a/../b"],
        )
    }

    fn ifname(&mut self, rng: &mut StdRng) -> String {
        self.word(
            rng,
            &["nat64", "eth0", "tun0"],
            &[
                "",
                "abcdefghijklmnop",
                "a/b",
                "a:b",
                "ä",
                "..",
                ".",
                "tun 0",
            ],
        )
    }

    fn anything(&mut self, rng: &mut StdRng) -> String {
        match rng.gen_range(0..4) {
            0 => self.v4(rng),
            1 => self.v6(rng),
            2 => rng.gen::<u16>().to_string(),
            _ => self.junk(rng),
        }
    }

    /// Printable noise, some of it outside ASCII.
    fn junk(&mut self, rng: &mut StdRng) -> String {
        const ALPHABET: [char; 16] = [
            'a', 'Z', '0', '=', '[', ']', '"', '\'', '#', '/', ':', '.', ' ', 'ä', '→', '\t',
        ];
        (0..rng.gen_range(0..=30))
            .map(|_| pick(rng, &ALPHABET))
            .collect()
    }
}

fn pick_string(rng: &mut StdRng, items: &[String]) -> String {
    items
        .get(rng.gen_range(0..items.len().max(1)))
        .cloned()
        .unwrap_or_default()
}
