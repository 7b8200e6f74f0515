//! Values for directives, meaningful or wild.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::config::Config;
use rand::{rngs::StdRng, Rng};

use crate::gen::{chance, pick};

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
pub(super) struct Values {
    pub(super) wild: f64,
    base_v4: Vec<String>,
    base_v6: Vec<String>,
    used_v4: Vec<String>,
    used_v6: Vec<String>,
}

impl Values {
    pub(super) fn new(base: &Config, wild: f64) -> Values {
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

    pub(super) fn v4(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn v6(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn length(&self, rng: &mut StdRng, max: u32, usual: &[u32]) -> String {
        if chance(rng, self.wild) {
            return match rng.gen_range(0..2) {
                0 => pick(rng, &["", "x", "-1", "033", "4294967297", " 24", "24x"]).to_string(),
                _ => rng.gen_range(0..=max + 8).to_string(),
            };
        }
        pick(rng, usual).to_string()
    }

    pub(super) fn v4_net(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn v6_net(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn prefix(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn net_either(&mut self, rng: &mut StdRng) -> String {
        match rng.gen_range(0..3) {
            0 => self.v4_net(rng),
            1 => self.v6_net(rng),
            _ => self.v4(rng),
        }
    }

    /// A map's two sides: the same size (RFC 7757) unless wild, host bits clear unless
    /// wild, lengths written or left out.
    pub(super) fn map(&mut self, rng: &mut StdRng) -> (String, String) {
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
    pub(super) fn word(&mut self, rng: &mut StdRng, good: &[&str], bad: &[&str]) -> String {
        if chance(rng, self.wild) && !bad.is_empty() {
            pick(rng, bad).to_string()
        } else {
            pick(rng, good).to_string()
        }
    }

    pub(super) fn boolean(&mut self, rng: &mut StdRng) -> String {
        self.word(
            rng,
            &["yes", "no", "true", "false", "on", "off", "1", "0", "up"],
            &["YES", "maybe", ""],
        )
    }

    pub(super) fn number(&mut self, rng: &mut StdRng, good: &[&str]) -> String {
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

    pub(super) fn path(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn ifname(&mut self, rng: &mut StdRng) -> String {
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

    pub(super) fn anything(&mut self, rng: &mut StdRng) -> String {
        match rng.gen_range(0..4) {
            0 => self.v4(rng),
            1 => self.v6(rng),
            2 => rng.gen::<u16>().to_string(),
            _ => self.junk(rng),
        }
    }

    /// Printable noise, some of it outside ASCII.
    pub(super) fn junk(&mut self, rng: &mut StdRng) -> String {
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
