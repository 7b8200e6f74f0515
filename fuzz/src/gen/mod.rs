//! Structure-aware input generators. Each input comes from its own seeded RNG, so a run is
//! reproducible input by input; the generators never panic on any draw.

pub mod addresses;
pub mod config_text;
pub mod dynamic_map_text;
mod icmp;
mod ipv4;
mod ipv6;
mod l4;
pub mod mutate;
pub mod packet;
pub mod session;

use rand::{rngs::StdRng, Rng};

/// True with probability `p`.
pub(crate) fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.gen_bool(p.clamp(0.0, 1.0))
}

/// One of `items`, which the caller keeps non-empty (constant tables).
pub(crate) fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// Which way a generated packet goes through the translator: the IPv6 hosts behind it are
/// "hosts", the IPv4 side "remote". Quotes inside ICMP errors go the other way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    FromHosts,
    ToHosts,
}

impl Flow {
    pub(crate) fn reversed(self) -> Flow {
        match self {
            Flow::FromHosts => Flow::ToHosts,
            Flow::ToHosts => Flow::FromHosts,
        }
    }
}

/// How a generated checksum field is filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    Right,
    Wrong,
    /// UDP only: no checksum.
    Zero,
}

impl Fill {
    /// Mostly right, sometimes wrong.
    pub(crate) fn draw(rng: &mut StdRng) -> Fill {
        if chance(rng, 0.06) {
            Fill::Wrong
        } else {
            Fill::Right
        }
    }
}

/// A payload length: empty, small, around the MTUs, jumbo.
pub(crate) fn payload_len(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..100) {
        0..=9 => 0,
        10..=54 => rng.gen_range(1..=64),
        55..=77 => rng.gen_range(65..=600),
        78..=91 => rng.gen_range(1180..=1500),
        _ => rng.gen_range(1500..=9000),
    }
}

/// Random bytes of a [`payload_len`].
pub(crate) fn random_payload(rng: &mut StdRng) -> Vec<u8> {
    let len = payload_len(rng);
    random_bytes(rng, len)
}

pub(crate) fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(v.as_mut_slice());
    v
}
