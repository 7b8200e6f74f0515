//! `dynamic.map` files as TAYGA and nat64 write them, and as a careless edit, a crash or a
//! different configuration leaves them: addresses outside the pool or reserved in it,
//! duplicates on either side, hosts that may never be translated, dates in the future.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::pool::PoolConfig;
use rand::{rngs::StdRng, Rng};

use super::mutate::mutate;
use super::{chance, pick};

/// The clock the generated files and their loading share.
pub const NOW: u64 = 1_700_000_000;

const HEADER: &str = "###\n###\n### TAYGA dynamic map database\n###\n\
    ### You can edit this (carefully!) as long as you shut down TAYGA first\n\
    ###\n###\n### Last written: Tue Nov 14 22:13:20 2023\n###\n###\n\n";

const SPECIAL_V6: [&str; 8] = [
    "::",
    "::1",
    "fe80::1",
    "ff02::1",
    "::ffff:192.0.2.1",
    "::192.0.2.1",
    "64:ff9b::c000:201",
    "64:ff9b:1::1",
];

pub fn file(rng: &mut StdRng, pool: &PoolConfig) -> Vec<u8> {
    let mut out = structured(rng, pool);
    if chance(rng, 0.25) {
        let donor = structured(rng, pool);
        mutate(rng, &mut out, &donor);
    }
    out
}

fn structured(rng: &mut StdRng, pool: &PoolConfig) -> Vec<u8> {
    let mut text = String::new();
    if chance(rng, 0.6) {
        text.push_str(HEADER);
    }
    let mut lines = Lines {
        wild: pick(rng, &[0.0, 0.0, 0.05, 0.2, 0.5]),
        ..Lines::default()
    };
    for _ in 0..rng.gen_range(0..=40) {
        let line = match rng.gen_range(0..20) {
            0 => "# a comment".to_string(),
            1 => String::new(),
            2 if chance(rng, lines.wild) => {
                pick(rng, &["192.0.2.1", "a b c", "\t", "###", "1 2 3 4"]).to_string()
            }
            _ => lines.mapping(rng, pool),
        };
        text.push_str(&line);
        text.push_str(if chance(rng, 0.05) { "\r\n" } else { "\n" });
    }
    text.into_bytes()
}

/// What earlier lines used, so later ones can repeat it; how often a field is odd.
#[derive(Default)]
struct Lines {
    wild: f64,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

impl Lines {
    fn mapping(&mut self, rng: &mut StdRng, pool: &PoolConfig) -> String {
        let v4 = self.v4(rng, pool);
        let v6 = self.v6(rng, pool);
        let last_use = if chance(rng, self.wild) {
            odd_last_use(rng)
        } else {
            (NOW - rng.gen_range(0..=30 * 86_400)).to_string()
        };
        let sep = pick(rng, &["\t", "\t", " ", "  \t "]);
        let mut fields = vec![v4, v6, last_use];
        if chance(rng, self.wild / 4.0) {
            match rng.gen_range(0..3) {
                0 => {
                    fields.pop();
                }
                1 => fields.push("extra".into()),
                _ => fields.swap(0, 1),
            }
        }
        fields.join(sep)
    }

    fn v4(&mut self, rng: &mut StdRng, pool: &PoolConfig) -> String {
        let net = u32::from(pool.network());
        let host_mask = u32::MAX >> pool.prefix_len().min(31);
        let sane = !chance(rng, self.wild);
        let a = match rng.gen_range(0..20) {
            _ if sane => Ipv4Addr::from(net | (rng.gen::<u32>() & host_mask)),
            0..=9 => Ipv4Addr::from(net | (rng.gen::<u32>() & host_mask)),
            10 => pool.network(),
            11 => pool.last(),
            12 if !pool.reserved_v4.is_empty() => pick(rng, &pool.reserved_v4).0,
            13 if !self.v4.is_empty() => pick(rng, &self.v4),
            14 => Ipv4Addr::from(rng.gen::<u32>()),
            15 => return pick(rng, &["192.0.2.256", "1.2.3", "", "0x01020304", "::1"]).into(),
            _ => Ipv4Addr::from(net | (rng.gen::<u32>() & host_mask & 0xff)),
        };
        self.v4.push(a);
        a.to_string()
    }

    fn v6(&mut self, rng: &mut StdRng, pool: &PoolConfig) -> String {
        let sane = !chance(rng, self.wild);
        let a = match rng.gen_range(0..20) {
            0..=9 => {
                let mut a: [u8; 16] = rng.gen();
                a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a]);
                Ipv6Addr::from(a)
            }
            _ if sane => {
                let mut a: [u8; 16] = rng.gen();
                a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a]);
                Ipv6Addr::from(a)
            }
            10..=11 => {
                let s = pick(rng, &SPECIAL_V6);
                s.parse().unwrap_or(Ipv6Addr::LOCALHOST)
            }
            12..=13 if !pool.reserved_v6.is_empty() => {
                let (net, len) = pick(rng, &pool.reserved_v6);
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(len.min(128)))
                    .unwrap_or(0);
                Ipv6Addr::from((u128::from(net) & mask) | (rng.gen::<u128>() & !mask))
            }
            14..=15 if !self.v6.is_empty() => pick(rng, &self.v6),
            16 => return pick(rng, &["2001:db8:::1", "g::1", "", "2001:db8::1%lo"]).into(),
            _ => Ipv6Addr::from(rng.gen::<u128>()),
        };
        self.v6.push(a);
        a.to_string()
    }
}

fn odd_last_use(rng: &mut StdRng) -> String {
    match rng.gen_range(0..20) {
        0..=12 => (NOW - rng.gen_range(0..=30 * 86_400)).to_string(),
        13 => "0".into(),
        14 => "-5".into(),
        15 => (NOW + rng.gen_range(1..=1_000_000)).to_string(),
        16 => pick(
            rng,
            &[
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551615",
            ],
        )
        .into(),
        17 => pick(rng, &["12abc", "", "+5", "1.5", "0x10"]).into(),
        _ => rng.gen_range(1..=100u64).to_string(),
    }
}
