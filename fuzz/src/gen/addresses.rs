//! Addresses worth sending from and to under one configuration: the ones it translates
//! (behind the prefix, explicit maps, pool hosts), the ones on its edges (the translator's
//! own, pool addresses nobody holds, the pool's network) and the ones no translator may ever
//! translate (unspecified, loopback, multicast, broadcast, link-local, IPv4-mapped).

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::translate::{Eam, Prefix, TranslatorConfig};
use rand::{rngs::StdRng, Rng};

use super::{chance, pick};

/// IPv4 addresses with a meaning of their own, special ones first.
const INTERESTING_V4: [[u8; 4]; 24] = [
    [0, 0, 0, 0],
    [0, 1, 2, 3],
    [127, 0, 0, 1],
    [127, 255, 255, 255],
    [224, 0, 0, 1],
    [239, 255, 255, 250],
    [255, 255, 255, 255],
    [169, 254, 1, 1],
    [10, 1, 2, 3],
    [172, 16, 0, 1],
    [192, 168, 1, 1],
    [100, 64, 0, 5],
    [192, 0, 0, 8],
    [192, 0, 2, 55],
    [198, 18, 0, 1],
    [198, 51, 100, 7],
    [203, 0, 113, 5],
    [192, 88, 99, 1],
    [240, 0, 0, 1],
    [255, 255, 255, 254],
    [8, 8, 8, 8],
    [1, 1, 1, 1],
    [223, 255, 255, 255],
    [126, 255, 255, 255],
];

/// IPv6 addresses no translator may translate, and a few on the edges of that rule.
const INTERESTING_V6: [&str; 16] = [
    "::",
    "::1",
    "::ffff:192.0.2.1",
    "::192.0.2.1",
    "fe80::1",
    "febf:ffff::1",
    "ff02::1",
    "ff0e::101",
    "64:ff9b::c000:201",
    "64:ff9b::7f00:1",
    "64:ff9b:1::1",
    "2001:db8::1",
    "fec0::1",
    "fd00::1",
    "100::1",
    "2002:c000:201::1",
];

/// What one configuration maps, in the shapes the generators need.
#[derive(Clone, Debug)]
pub struct AddressBook {
    prefix: Option<Prefix>,
    eams: Vec<Eam>,
    own_v4: [u8; 4],
    own_v6: [u8; 16],
    pool: Option<(u32, u8)>,
    hosts: Vec<([u8; 16], [u8; 4])>,
    allow_source: Vec<(Ipv6Addr, u8)>,
    interesting_v6: Vec<[u8; 16]>,
}

impl AddressBook {
    pub fn new(cfg: &TranslatorConfig, hosts: &[(Ipv6Addr, Ipv4Addr)]) -> AddressBook {
        AddressBook {
            prefix: cfg.prefix,
            eams: cfg.eam.clone(),
            own_v4: cfg.ipv4_addr.octets(),
            own_v6: cfg.ipv6_addr.octets(),
            pool: cfg
                .dynamic_pool
                .map(|(net, len)| (u32::from(net), len.min(32))),
            hosts: hosts
                .iter()
                .map(|(a, b)| (a.octets(), b.octets()))
                .collect(),
            allow_source: cfg.allow_source.clone(),
            interesting_v6: INTERESTING_V6
                .iter()
                .filter_map(|s| s.parse::<Ipv6Addr>().ok())
                .map(|a| a.octets())
                .collect(),
        }
    }

    /// An IPv4 address of any kind, special ones often.
    pub fn any_v4(&self, rng: &mut StdRng) -> [u8; 4] {
        match rng.gen_range(0..10) {
            0..=4 => pick(rng, &INTERESTING_V4),
            5 => self.own_v4,
            6 => self.pool_v4(rng).unwrap_or_else(|| rng.gen()),
            7 => self.eam_v4(rng).unwrap_or_else(|| rng.gen()),
            _ => rng.gen(),
        }
    }

    /// An IPv6 address of any kind, special ones often.
    pub fn any_v6(&self, rng: &mut StdRng) -> [u8; 16] {
        match rng.gen_range(0..10) {
            0..=3 => pick(rng, &self.interesting_v6),
            4 => self.own_v6,
            5 => {
                let v4 = self.any_v4_unchecked(rng);
                self.embedded(rng, v4)
            }
            6 => self.host_v6(rng),
            _ => rng.gen(),
        }
    }

    fn any_v4_unchecked(&self, rng: &mut StdRng) -> [u8; 4] {
        if chance(rng, 0.5) {
            pick(rng, &INTERESTING_V4)
        } else {
            rng.gen()
        }
    }

    /// A host on the IPv4 side, as the IPv6 side sees it: behind the prefix or an explicit
    /// map (for IPv6 packets' destinations and the sources of quoted ones).
    pub fn remote_v6(&self, rng: &mut StdRng) -> [u8; 16] {
        if chance(rng, 0.15) {
            return self.any_v6(rng);
        }
        match (self.prefix.is_some(), self.eams.is_empty()) {
            (true, true) => {
                let v4 = self.remote_v4(rng);
                self.embedded(rng, v4)
            }
            (true, false) if chance(rng, 0.7) => {
                let v4 = self.remote_v4(rng);
                self.embedded(rng, v4)
            }
            (_, false) => self.eam_v6(rng).unwrap_or_else(|| rng.gen()),
            (false, true) => rng.gen(),
        }
    }

    /// A host behind the translator: a pool host, an explicit map's IPv6 side, someone in
    /// the allow-list, a stranger (for IPv6 packets' sources).
    pub fn host_v6(&self, rng: &mut StdRng) -> [u8; 16] {
        match rng.gen_range(0..12) {
            0..=3 if !self.hosts.is_empty() => pick(rng, &self.hosts).0,
            0..=5 if !self.eams.is_empty() => self.eam_v6(rng).unwrap_or_else(|| rng.gen()),
            0..=6 if !self.allow_source.is_empty() => {
                let (net, len) = pick(rng, &self.allow_source);
                random_inside_v6(rng, net.octets(), len)
            }
            7 => self.own_v6,
            8 => pick(rng, &self.interesting_v6),
            9 if self.prefix.is_some() => {
                let v4 = self.host_v4(rng);
                self.embedded(rng, v4)
            }
            _ => {
                // A stranger in documentation space (the pool gives it an address).
                let mut a: [u8; 16] = rng.gen();
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                a
            }
        }
    }

    /// A host on the IPv4 side (for IPv4 packets' sources and quoted destinations).
    pub fn remote_v4(&self, rng: &mut StdRng) -> [u8; 4] {
        match rng.gen_range(0..10) {
            0..=3 => {
                // Global unicast, most of the time.
                let mut a: [u8; 4] = rng.gen();
                a[0] = rng.gen_range(1..=223);
                if a[0] == 127 || a[0] == 10 {
                    a[0] = 203;
                }
                a
            }
            4..=6 => pick(rng, &INTERESTING_V4),
            7 => self.eam_v4(rng).unwrap_or_else(|| rng.gen()),
            _ => self.any_v4(rng),
        }
    }

    /// The IPv4 form of a host behind the translator (for IPv4 packets' destinations and
    /// quoted sources): a pool address (held or not), an explicit map, the translator's own.
    pub fn host_v4(&self, rng: &mut StdRng) -> [u8; 4] {
        match rng.gen_range(0..10) {
            0..=2 if !self.hosts.is_empty() => pick(rng, &self.hosts).1,
            0..=4 => self
                .pool_v4(rng)
                .or_else(|| self.eam_v4(rng))
                .unwrap_or(self.own_v4),
            5..=6 => self.eam_v4(rng).unwrap_or_else(|| self.remote_v4(rng)),
            7 => self.own_v4,
            8 if self.prefix.is_some() => self.remote_v4(rng),
            _ => self.any_v4(rng),
        }
    }

    /// An address of the pool: its network, its top, a random one.
    fn pool_v4(&self, rng: &mut StdRng) -> Option<[u8; 4]> {
        let (net, len) = self.pool?;
        let host_bits = !u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let offset = match rng.gen_range(0..6) {
            0 => 0,
            1 => host_bits,
            2 => 1,
            _ => rng.gen::<u32>() & host_bits,
        };
        Some((net | offset).to_be_bytes())
    }

    fn eam_v4(&self, rng: &mut StdRng) -> Option<[u8; 4]> {
        let eam = *pick_opt(rng, &self.eams)?;
        Some(random_inside_v4(rng, eam.v4.octets(), eam.v4_len))
    }

    fn eam_v6(&self, rng: &mut StdRng) -> Option<[u8; 16]> {
        let eam = *pick_opt(rng, &self.eams)?;
        if chance(rng, 0.8) {
            // One the map translates: the IPv6 form of an IPv4 address inside it.
            let v4 = random_inside_v4(rng, eam.v4.octets(), eam.v4_len);
            return eam.v4_to_v6(Ipv4Addr::from(v4)).map(|a| a.octets());
        }
        Some(random_inside_v6(rng, eam.v6.octets(), eam.v6_len))
    }

    /// `v4` behind the prefix; sometimes with the u-octet or the suffix set, which RFC 6052
    /// says must be zero.
    fn embedded(&self, rng: &mut StdRng, v4: [u8; 4]) -> [u8; 16] {
        let Some(prefix) = self.prefix else {
            return rng.gen();
        };
        let mut a = prefix.embed(v4);
        if chance(rng, 0.05) {
            a[8] = rng.gen();
        }
        if prefix.len < 96 && chance(rng, 0.05) {
            a[15] = rng.gen();
        }
        a
    }
}

fn pick_opt<'a, T>(rng: &mut StdRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.gen_range(0..items.len()))
    }
}

fn random_inside_v4(rng: &mut StdRng, net: [u8; 4], len: u8) -> [u8; 4] {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    ((u32::from_be_bytes(net) & mask) | (rng.gen::<u32>() & !mask)).to_be_bytes()
}

fn random_inside_v6(rng: &mut StdRng, net: [u8; 16], len: u8) -> [u8; 16] {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0);
    ((u128::from_be_bytes(net) & mask) | (rng.gen::<u128>() & !mask)).to_be_bytes()
}
