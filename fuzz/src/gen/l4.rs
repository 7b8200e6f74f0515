//! Upper-layer messages (TCP, UDP, other protocols), checksums left to fill in once the IP
//! addresses are known.

use rand::{rngs::StdRng, Rng};

use super::{chance, random_bytes, random_payload, Fill};
use crate::inet;

pub(crate) use crate::check::ip::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// An upper-layer message and how its checksum is to be filled in.
#[derive(Clone, Debug)]
pub(crate) struct Upper {
    pub proto: u8,
    pub bytes: Vec<u8>,
    /// Offset of the checksum field, if the protocol has one.
    pub checksum_at: Option<usize>,
    /// Whether the checksum covers a pseudo-header (all but ICMPv4).
    pub pseudo: bool,
    pub fill: Fill,
    /// Addresses an ICMP error wants on the outer header: the quoted packet's (source,
    /// destination), so the error goes back to whoever sent the quoted packet.
    pub quoted_addresses: Option<(Vec<u8>, Vec<u8>)>,
}

impl Upper {
    pub(crate) fn new(proto: u8, bytes: Vec<u8>, checksum_at: Option<usize>, fill: Fill) -> Upper {
        Upper {
            proto,
            bytes,
            checksum_at,
            pseudo: proto != PROTO_ICMP,
            fill,
            quoted_addresses: None,
        }
    }

    /// Fills the checksum in, given the pseudo-header's partial sum (ignored for ICMPv4).
    pub(crate) fn finish(&mut self, pseudo_sum: u32) {
        let Some(at) = self.checksum_at else {
            return;
        };
        if self.bytes.len() < at + 2 {
            return;
        }
        self.bytes[at] = 0;
        self.bytes[at + 1] = 0;
        let initial = if self.pseudo { pseudo_sum } else { 0 };
        let value = match self.fill {
            Fill::Zero => 0,
            Fill::Right => match inet::checksum(&self.bytes, initial) {
                // UDP sends a computed zero as 0xffff (zero means "none").
                0 if self.proto == PROTO_UDP => 0xffff,
                c => c,
            },
            Fill::Wrong => inet::checksum(&self.bytes, initial) ^ 0x0101,
        };
        self.bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }
}

fn port(rng: &mut StdRng) -> u16 {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => 53,
        2 => 443,
        3 => 65535,
        _ => rng.gen(),
    }
}

/// TCP: a full header (options sometimes), a short one now and then.
pub(crate) fn tcp(rng: &mut StdRng) -> Upper {
    let options = if chance(rng, 0.2) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let data_offset = if chance(rng, 0.03) {
        rng.gen_range(0..16)
    } else {
        ((20 + options) / 4) as u8
    };
    let mut b = Vec::with_capacity(20 + options + 64);
    b.extend_from_slice(&port(rng).to_be_bytes());
    b.extend_from_slice(&port(rng).to_be_bytes());
    b.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
    b.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
    b.push(data_offset << 4);
    b.push(rng.gen());
    b.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    b.extend(random_bytes(rng, options));
    b.extend(random_payload(rng));
    if chance(rng, 0.03) {
        b.truncate(rng.gen_range(0..20));
    }
    Upper::new(PROTO_TCP, b, Some(16), Fill::draw(rng))
}

/// UDP: length field right or not, checksum right, wrong or zero.
pub(crate) fn udp(rng: &mut StdRng) -> Upper {
    let payload = random_payload(rng);
    let len = if chance(rng, 0.05) {
        rng.gen()
    } else {
        (8 + payload.len()).min(0xffff) as u16
    };
    let mut b = Vec::with_capacity(8 + payload.len());
    b.extend_from_slice(&port(rng).to_be_bytes());
    b.extend_from_slice(&port(rng).to_be_bytes());
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend(payload);
    if chance(rng, 0.03) {
        b.truncate(rng.gen_range(0..8));
    }
    let fill = if chance(rng, 0.12) {
        Fill::Zero
    } else {
        Fill::draw(rng)
    };
    Upper::new(PROTO_UDP, b, Some(6), fill)
}

/// A protocol the translator does not speak (or must refuse in this family).
pub(crate) fn other(rng: &mut StdRng, in_ipv6: bool) -> Upper {
    const V4_ODD: [u8; 8] = [0, 43, 44, 58, 60, 47, 132, 255];
    const V6_ODD: [u8; 7] = [PROTO_ICMP, 47, 132, 59, 50, 51, 255];
    let proto = match (in_ipv6, chance(rng, 0.8)) {
        (false, true) => super::pick(rng, &V4_ODD),
        (true, true) => super::pick(rng, &V6_ODD),
        _ => rng.gen(),
    };
    let len = rng.gen_range(0..=80);
    Upper::new(proto, random_bytes(rng, len), None, Fill::Right)
}
