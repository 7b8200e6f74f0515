//! ICMPv4 and ICMPv6: echo, other informational types, and errors quoting a generated
//! packet of the other way (truncated, padded, with RFC 4884 lengths and extensions).

use rand::{rngs::StdRng, Rng};

use super::addresses::AddressBook;
use super::l4::{Upper, PROTO_ICMP, PROTO_ICMPV6};
use super::{chance, ipv4, ipv6, pick, random_bytes, random_payload, Fill, Flow};
use crate::inet;

/// Quotes nest at most this deep (an error about an error about a packet).
const MAX_DEPTH: u8 = 2;

/// Longest quote an ICMPv4 error carries (576-byte datagram) and an ICMPv6 one (1280).
const ICMP4_QUOTE_MAX: usize = 576 - 28;
const ICMP6_QUOTE_MAX: usize = 1280 - 48;

pub(crate) fn icmp4(rng: &mut StdRng, book: &AddressBook, flow: Flow, depth: u8) -> Upper {
    let error = depth < MAX_DEPTH && chance(rng, if depth == 0 { 0.45 } else { 0.1 });
    if !error {
        let ty = match rng.gen_range(0..10) {
            0..=3 => 8,
            4..=7 => 0,
            _ => pick(rng, &[13u8, 14, 15, 16, 9, 10, 17, 18, 6, 30, 255]),
        };
        return message(PROTO_ICMP, [ty, 0, 0, 0], echo_body(rng), rng);
    }
    let (ty, code, rest) = match rng.gen_range(0..12) {
        0..=4 => {
            let code = if chance(rng, 0.9) {
                rng.gen_range(0..=15)
            } else {
                rng.gen()
            };
            let mtu: u16 = pick(rng, &[0, 68, 296, 576, 1006, 1280, 1492, 1500, 65535]);
            let rest = if code == 4 { mtu.to_be_bytes() } else { [0, 0] };
            (3, code, [0, 0, rest[0], rest[1]])
        }
        5..=7 => (11, rng.gen_range(0..=1), [0; 4]),
        8..=9 => {
            let pointer = pick(rng, &[0u8, 1, 2, 3, 8, 9, 12, 16, 19, 20, 40, 255]);
            (12, rng.gen_range(0..=2), [pointer, 0, 0, 0])
        }
        10 => (4, 0, [0; 4]),
        _ => (5, rng.gen_range(0..=3), rng.gen()),
    };
    let quoted = ipv4::packet(rng, book, flow.reversed(), depth + 1);
    let quote = cut(rng, &quoted, ipv4::minimum_quote(&quoted), ICMP4_QUOTE_MAX);
    // RFC 4884: the length attribute, in 32-bit words, sits in byte 5 of types 3, 11, 12.
    let (length, body) = with_extension(rng, quote, 4, matches!(ty, 3 | 11 | 12));
    let mut rest = rest;
    if let Some(words) = length {
        rest[1] = words;
    }
    let mut u = message(
        PROTO_ICMP,
        [ty, code, 0, 0],
        [rest.to_vec(), body].concat(),
        rng,
    );
    u.quoted_addresses = addresses_of(&quoted, 12, 4);
    u
}

pub(crate) fn icmp6(rng: &mut StdRng, book: &AddressBook, flow: Flow, depth: u8) -> Upper {
    let error = depth < MAX_DEPTH && chance(rng, if depth == 0 { 0.45 } else { 0.1 });
    if !error {
        let ty = match rng.gen_range(0..10) {
            0..=3 => 128,
            4..=7 => 129,
            _ => pick(
                rng,
                &[130u8, 131, 133, 134, 135, 136, 143, 200, 255, 5, 100],
            ),
        };
        return message(PROTO_ICMPV6, [ty, 0, 0, 0], echo_body(rng), rng);
    }
    let (ty, code, rest): (u8, u8, [u8; 4]) = match rng.gen_range(0..12) {
        0..=4 => {
            let code = if chance(rng, 0.9) {
                rng.gen_range(0..=7)
            } else {
                rng.gen()
            };
            (1, code, [0; 4])
        }
        5..=6 => {
            let mtu: u32 = pick(
                rng,
                &[
                    0,
                    68,
                    1279,
                    1280,
                    1281,
                    1480,
                    1500,
                    9000,
                    65535,
                    65536,
                    u32::MAX,
                ],
            );
            (2, 0, mtu.to_be_bytes())
        }
        7..=8 => (3, rng.gen_range(0..=1), [0; 4]),
        _ => {
            let pointer: u32 = pick(rng, &[0, 1, 4, 6, 7, 8, 23, 24, 39, 40, 41, 1000, u32::MAX]);
            (4, rng.gen_range(0..=3), pointer.to_be_bytes())
        }
    };
    let quoted = ipv6::packet(rng, book, flow.reversed(), depth + 1);
    let quote = cut(rng, &quoted, 48, ICMP6_QUOTE_MAX);
    // RFC 4884: the length attribute, in 64-bit words, sits in byte 4 of types 1 and 3.
    let (length, body) = with_extension(rng, quote, 8, matches!(ty, 1 | 3));
    let mut rest = rest;
    if let Some(units) = length {
        rest[0] = units;
    }
    let mut u = message(
        PROTO_ICMPV6,
        [ty, code, 0, 0],
        [rest.to_vec(), body].concat(),
        rng,
    );
    u.quoted_addresses = addresses_of(&quoted, 8, 16);
    u
}

/// The 4-byte type/code/checksum part, then `body`; the checksum mostly right.
fn message(proto: u8, head: [u8; 4], body: Vec<u8>, rng: &mut StdRng) -> Upper {
    let mut bytes = head.to_vec();
    bytes.extend(body);
    Upper {
        proto,
        bytes,
        checksum_at: Some(2),
        pseudo: proto == PROTO_ICMPV6,
        fill: Fill::draw(rng),
        quoted_addresses: None,
    }
}

/// Identifier, sequence number and data of an echo (or the body of another informational
/// message); sometimes shorter than the 8-byte header.
fn echo_body(rng: &mut StdRng) -> Vec<u8> {
    let mut body = random_bytes(rng, 4);
    body.extend(random_payload(rng));
    if chance(rng, 0.03) {
        body.truncate(rng.gen_range(0..4));
    }
    body
}

/// The quoted packet as an error carries it: whole (up to `max`), just the headers and 8
/// bytes, or cut anywhere.
fn cut(rng: &mut StdRng, packet: &[u8], minimum: usize, max: usize) -> Vec<u8> {
    let len = match rng.gen_range(0..10) {
        0..=3 => packet.len().min(max),
        4..=6 => minimum.min(packet.len()),
        _ => rng.gen_range(0..=packet.len().min(max)),
    };
    packet.get(..len).unwrap_or(packet).to_vec()
}

/// The quote with, sometimes, an RFC 4884 length (in `unit`-byte words) and an extension
/// structure after the zero-padded quote; sometimes a length that lies.
fn with_extension(
    rng: &mut StdRng,
    mut quote: Vec<u8>,
    unit: usize,
    has_length: bool,
) -> (Option<u8>, Vec<u8>) {
    if !has_length {
        return (None, quote);
    }
    match rng.gen_range(0..10) {
        0..=1 => {
            let padded = quote.len().max(128).div_ceil(unit) * unit;
            quote.resize(padded, 0);
            let words = (padded / unit).min(255) as u8;
            quote.truncate(usize::from(words) * unit);
            quote.extend(extension(rng));
            (Some(words), quote)
        }
        2 => (Some(rng.gen()), quote),
        _ => (None, quote),
    }
}

/// An RFC 4884 extension structure: version 2, checksum, one object (RFC 4950 MPLS label
/// stack or RFC 5837 interface information).
fn extension(rng: &mut StdRng) -> Vec<u8> {
    let data = rng.gen_range(0..=3) * 4;
    let object_len = (4 + data) as u16;
    let mut e = vec![0x20, 0, 0, 0];
    e.extend_from_slice(&object_len.to_be_bytes());
    e.push(pick(rng, &[1u8, 2]));
    e.push(1);
    e.extend(random_bytes(rng, data));
    let c = inet::checksum(&e, 0);
    if let Some(field) = e.get_mut(2..4) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    e
}

/// The (source, destination) of a generated packet, addresses `len` bytes long from `at`.
fn addresses_of(packet: &[u8], at: usize, len: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let src = packet.get(at..at + len)?.to_vec();
    let dst = packet.get(at + len..at + 2 * len)?.to_vec();
    Some((src, dst))
}
