//! IPv4 packets: options, fragments (including impossible ones), wrong lengths and header
//! checksums, every kind of address.

use rand::{rngs::StdRng, Rng};

use super::addresses::AddressBook;
use super::l4::{self, Upper};
use super::{chance, icmp, pick, random_bytes, Fill, Flow};
use crate::inet;

/// An IPv4 packet going `flow`; `depth` is how deep inside ICMP errors it sits.
pub(crate) fn packet(rng: &mut StdRng, book: &AddressBook, flow: Flow, depth: u8) -> Vec<u8> {
    let (mut src, mut dst) = match (flow, rng.gen_range(0..10)) {
        (_, 0) => (book.any_v4(rng), book.any_v4(rng)),
        (Flow::ToHosts, _) => (book.remote_v4(rng), book.host_v4(rng)),
        (Flow::FromHosts, _) => (book.host_v4(rng), book.remote_v4(rng)),
    };
    let mut upper = match rng.gen_range(0..100) {
        0..=29 => l4::tcp(rng),
        30..=59 => l4::udp(rng),
        60..=93 => icmp::icmp4(rng, book, flow, depth),
        _ => l4::other(rng, false),
    };
    if let Some((qsrc, qdst)) = upper.quoted_addresses.take() {
        // The error goes back to the quoted packet's sender, from its destination or a router.
        if chance(rng, 0.8) {
            dst = to_v4(&qsrc).unwrap_or(dst);
            if chance(rng, 0.5) {
                src = to_v4(&qdst).unwrap_or(src);
            }
        }
    }
    upper.finish(inet::pseudo_v4(&src, &dst, upper.proto, upper.bytes.len()));
    assemble(rng, src, dst, upper)
}

fn to_v4(bytes: &[u8]) -> Option<[u8; 4]> {
    bytes.try_into().ok()
}

fn assemble(rng: &mut StdRng, src: [u8; 4], dst: [u8; 4], upper: Upper) -> Vec<u8> {
    let options = if chance(rng, 0.12) {
        options(rng)
    } else {
        Vec::new()
    };
    let header_len = 20 + options.len();
    let ihl = if chance(rng, 0.02) {
        rng.gen_range(0..16)
    } else {
        (header_len / 4) as u8
    };
    let total_len = if chance(rng, 0.05) {
        match rng.gen_range(0..4) {
            0 => 0,
            1 => rng.gen_range(0..20),
            2 => (header_len + upper.bytes.len()).saturating_add(rng.gen_range(1..9)) as u16,
            _ => rng.gen(),
        }
    } else {
        (header_len + upper.bytes.len()).min(0xffff) as u16
    };
    let (flags, offset) = fragment_fields(rng, upper.bytes.len());
    let ttl = pick(rng, &[64u8, 64, 64, 64, 64, 64, 64, 64, 0, 1, 2, 255]);
    let mut h = Vec::with_capacity(header_len + upper.bytes.len() + 8);
    h.push(0x40 | (ihl & 0x0f));
    h.push(if chance(rng, 0.1) { rng.gen() } else { 0 });
    h.extend_from_slice(&total_len.to_be_bytes());
    h.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    h.extend_from_slice(&(flags | offset).to_be_bytes());
    h.push(ttl);
    h.push(upper.proto);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(&options);
    let c = match Fill::draw(rng) {
        Fill::Right | Fill::Zero => inet::checksum(&h, 0),
        Fill::Wrong => inet::checksum(&h, 0) ^ 0x0800,
    };
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(&upper.bytes);
    if chance(rng, 0.04) {
        // Bytes past the total length (a link's padding, or garbage).
        let extra = rng.gen_range(1..=40);
        h.extend(random_bytes(rng, extra));
    }
    h
}

const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const RESERVED: u16 = 0x8000;

/// Flags and fragment offset: mostly whole packets (DF or not), sometimes fragments,
/// sometimes fragments no datagram can hold (past 65,535 bytes, a non-last fragment whose
/// length is not a multiple of 8).
fn fragment_fields(rng: &mut StdRng, payload: usize) -> (u16, u16) {
    let mut flags = if chance(rng, 0.5) { DF } else { 0 };
    if chance(rng, 0.02) {
        flags |= RESERVED;
    }
    let offset = match rng.gen_range(0..100) {
        0..=84 => 0,
        85..=89 => {
            flags |= MF;
            0
        }
        90..=94 => {
            if chance(rng, 0.5) {
                flags |= MF;
            }
            rng.gen_range(1..=200)
        }
        95..=97 => {
            // The datagram would end past 65,535 bytes.
            let room = (65_535usize.saturating_sub(payload) / 8) as u16;
            room.saturating_add(1).min(0x1fff)
        }
        _ => 0x1fff,
    };
    (flags, offset)
}

/// 1 to 40 bytes of options, padded to a multiple of 4: no-ops, record route, source
/// routes with hops left or not, timestamps, router alert, and malformed lengths.
fn options(rng: &mut StdRng) -> Vec<u8> {
    let mut o = Vec::new();
    for _ in 0..rng.gen_range(1..=4) {
        let room = 40usize.saturating_sub(o.len());
        if room == 0 {
            break;
        }
        match rng.gen_range(0..10) {
            0 => o.push(1),
            1 => {
                o.push(0);
                break;
            }
            2..=4 => {
                // Loose or strict source route: 3 + 4k bytes, pointer at a hop or past them.
                let kind = if chance(rng, 0.5) { 0x83 } else { 0x89 };
                let hops = rng.gen_range(1..=((room.saturating_sub(3)) / 4).clamp(1, 8));
                let len = 3 + 4 * hops;
                let pointer = if chance(rng, 0.5) { 4 } else { len + 1 };
                o.extend_from_slice(&[kind, len as u8, pointer as u8]);
                o.extend(random_bytes(rng, 4 * hops));
            }
            5 => {
                o.extend_from_slice(&[7, 7, 4]);
                o.extend(random_bytes(rng, 4));
            }
            6 => o.extend_from_slice(&[0x94, 4, 0, 0]),
            7 => {
                o.extend_from_slice(&[0x44, 8, 5, 0]);
                o.extend(random_bytes(rng, 4));
            }
            8 => {
                // A length that lies: 0, 1, or past the options.
                let len = pick(rng, &[0u8, 1, 2, 41, 255]);
                o.extend_from_slice(&[rng.gen_range(2..=255), len]);
            }
            _ => {
                let len = rng.gen_range(2..=6);
                o.push(rng.gen_range(2..=255));
                o.push(len as u8);
                o.extend(random_bytes(rng, len - 2));
            }
        }
    }
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0);
    }
    if o.is_empty() {
        o.extend_from_slice(&[1, 1, 1, 0]);
    }
    o
}

/// The shortest quote an ICMPv4 error carries: the IP header and 8 bytes.
pub(crate) fn minimum_quote(packet: &[u8]) -> usize {
    let ihl = packet.first().map_or(5, |b| usize::from(b & 0x0f));
    ihl * 4 + 8
}
