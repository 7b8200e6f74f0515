//! IPv6 packets: extension-header chains in any order (repeated and duplicate Fragment
//! headers included), routing headers with segments left, wrong payload lengths, every kind
//! of address.

use rand::{rngs::StdRng, Rng};

use super::addresses::AddressBook;
use super::l4::{self, Upper};
use super::{chance, icmp, pick, random_bytes, Flow};
use crate::inet;

use crate::check::ip::{DEST_OPTS, FRAGMENT, HOP_BY_HOP, ROUTING};
/// Extension headers RFC 7915 does not skip: ESP, AH, Mobility, HIP, Shim6, experimental.
const OTHER_EXTENSIONS: [u8; 6] = [50, 51, 135, 139, 140, 253];

/// An IPv6 packet going `flow`; `depth` is how deep inside ICMP errors it sits.
pub(crate) fn packet(rng: &mut StdRng, book: &AddressBook, flow: Flow, depth: u8) -> Vec<u8> {
    let (mut src, mut dst) = match (flow, rng.gen_range(0..10)) {
        (_, 0) => (book.any_v6(rng), book.any_v6(rng)),
        (Flow::FromHosts, _) => (book.host_v6(rng), book.remote_v6(rng)),
        (Flow::ToHosts, _) => (book.remote_v6(rng), book.host_v6(rng)),
    };
    let mut upper = match rng.gen_range(0..100) {
        0..=29 => l4::tcp(rng),
        30..=59 => l4::udp(rng),
        60..=93 => icmp::icmp6(rng, book, flow, depth),
        _ => l4::other(rng, true),
    };
    if let Some((qsrc, qdst)) = upper.quoted_addresses.take() {
        if chance(rng, 0.8) {
            dst = to_v6(&qsrc).unwrap_or(dst);
            if chance(rng, 0.5) {
                src = to_v6(&qdst).unwrap_or(src);
            }
        }
    }
    upper.finish(inet::pseudo_v6(&src, &dst, upper.proto, upper.bytes.len()));
    let chain = if chance(rng, 0.3) {
        extension_chain(rng)
    } else {
        Vec::new()
    };
    assemble(rng, src, dst, chain, upper)
}

fn to_v6(bytes: &[u8]) -> Option<[u8; 16]> {
    bytes.try_into().ok()
}

/// One extension header: its type and its bytes, the Next Header byte still to be linked.
struct Extension {
    kind: u8,
    bytes: Vec<u8>,
}

fn assemble(
    rng: &mut StdRng,
    src: [u8; 16],
    dst: [u8; 16],
    mut chain: Vec<Extension>,
    upper: Upper,
) -> Vec<u8> {
    let kinds: Vec<u8> = chain.iter().map(|e| e.kind).collect();
    for (i, ext) in chain.iter_mut().enumerate() {
        if let Some(first) = ext.bytes.first_mut() {
            *first = kinds.get(i + 1).copied().unwrap_or(upper.proto);
        }
    }
    let next_header = kinds.first().copied().unwrap_or(upper.proto);
    let payload_len: usize = chain.iter().map(|e| e.bytes.len()).sum::<usize>() + upper.bytes.len();
    let payload_field = if chance(rng, 0.05) {
        match rng.gen_range(0..4) {
            0 => 0,
            1 => payload_len.saturating_sub(rng.gen_range(1..9)) as u16,
            2 => payload_len.saturating_add(rng.gen_range(1..9)) as u16,
            _ => rng.gen(),
        }
    } else {
        payload_len.min(0xffff) as u16
    };
    let traffic_class: u8 = if chance(rng, 0.1) { rng.gen() } else { 0 };
    let flow_label: u32 = if chance(rng, 0.2) { rng.gen() } else { 0 };
    let hop_limit = pick(rng, &[64u8, 64, 64, 64, 64, 64, 64, 64, 0, 1, 2, 255]);
    let mut p = Vec::with_capacity(40 + payload_len + 8);
    p.push(0x60 | (traffic_class >> 4));
    p.push((traffic_class << 4) | ((flow_label >> 16) & 0x0f) as u8);
    p.extend_from_slice(&(flow_label as u16).to_be_bytes());
    p.extend_from_slice(&payload_field.to_be_bytes());
    p.push(next_header);
    p.push(hop_limit);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    for ext in chain {
        p.extend(ext.bytes);
    }
    p.extend(upper.bytes);
    if chance(rng, 0.04) {
        let extra = rng.gen_range(1..=40);
        p.extend(random_bytes(rng, extra));
    }
    p
}

/// One to five extension headers in any order; types may repeat.
fn extension_chain(rng: &mut StdRng) -> Vec<Extension> {
    let count = match rng.gen_range(0..10) {
        0..=5 => 1,
        6..=7 => 2,
        _ => rng.gen_range(3..=5),
    };
    (0..count)
        .map(|_| match rng.gen_range(0..20) {
            0..=3 => options_header(rng, HOP_BY_HOP),
            4..=7 => options_header(rng, DEST_OPTS),
            8..=10 => routing(rng),
            11..=18 => fragment(rng),
            _ => Extension {
                kind: pick(rng, &OTHER_EXTENSIONS),
                bytes: {
                    let mut b = random_bytes(rng, 8);
                    if let Some(len) = b.get_mut(1) {
                        *len = 0;
                    }
                    b
                },
            },
        })
        .collect()
}

/// Hop-by-Hop or Destination Options: padding, router alert, a jumbo payload option, or
/// unknown options (the high bits say what a node must do with them).
fn options_header(rng: &mut StdRng, kind: u8) -> Extension {
    let units = if chance(rng, 0.8) {
        0
    } else {
        rng.gen_range(1..=3)
    };
    let len = (units + 1) * 8;
    let mut b = vec![0u8, units as u8];
    while b.len() < len {
        let room = len - b.len();
        match rng.gen_range(0..5) {
            0 => b.push(0),
            1 if room >= 4 => b.extend_from_slice(&[5, 2, 0, 0]),
            2 if room >= 6 => {
                b.extend_from_slice(&[0xc2, 4]);
                b.extend(random_bytes(rng, 4));
            }
            3 if room >= 2 => {
                let data = rng.gen_range(0..=room - 2);
                b.extend_from_slice(&[rng.gen(), data as u8]);
                b.extend(random_bytes(rng, data));
            }
            _ => {
                // PadN over the rest.
                if room >= 2 {
                    b.extend_from_slice(&[1, (room - 2) as u8]);
                    b.extend(std::iter::repeat_n(0, room - 2));
                } else {
                    b.push(0);
                }
            }
        }
    }
    b.truncate(len);
    Extension { kind, bytes: b }
}

/// A routing header (types 0, 2, 3, 4), with or without segments left.
fn routing(rng: &mut StdRng) -> Extension {
    let addresses = rng.gen_range(0..=3usize);
    let segments_left = if chance(rng, 0.5) {
        0
    } else {
        rng.gen_range(1..=addresses.max(1) as u8)
    };
    let mut b = vec![
        0,
        (addresses * 2) as u8,
        pick(rng, &[0u8, 2, 3, 4]),
        segments_left,
    ];
    b.extend_from_slice(&[0; 4]);
    b.extend(random_bytes(rng, 16 * addresses));
    Extension {
        kind: ROUTING,
        bytes: b,
    }
}

/// A Fragment header: atomic, first, middle or last, offsets up to the largest.
fn fragment(rng: &mut StdRng) -> Extension {
    let offset: u16 = match rng.gen_range(0..10) {
        0..=4 => 0,
        5..=7 => rng.gen_range(1..=200),
        8 => 0x1fff,
        _ => rng.gen::<u16>() & 0x1fff,
    };
    let more = chance(rng, 0.4);
    let reserved = if chance(rng, 0.05) { 0b110 } else { 0 };
    let field = (offset << 3) | reserved | u16::from(more);
    let mut b = vec![0, if chance(rng, 0.05) { rng.gen() } else { 0 }];
    b.extend_from_slice(&field.to_be_bytes());
    b.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
    Extension {
        kind: FRAGMENT,
        bytes: b,
    }
}
