//! Byte-level mutations of a structured input: truncate, flip, overwrite, splice, insert,
//! delete, duplicate; and, for packets, a repair of the lengths and the IPv4 header checksum
//! so that mutated packets get past the first checks.

use rand::{rngs::StdRng, Rng};

use super::{chance, pick, random_bytes};
use crate::inet;

const INTERESTING_BYTES: [u8; 9] = [0x00, 0x01, 0x06, 0x11, 0x3a, 0x7f, 0x80, 0xfe, 0xff];

/// One to three mutations of `input`; `donor` lends bytes to splices.
pub fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, donor: &[u8]) {
    for _ in 0..rng.gen_range(1..=3) {
        mutate_once(rng, input, donor);
    }
}

fn mutate_once(rng: &mut StdRng, input: &mut Vec<u8>, donor: &[u8]) {
    let len = input.len();
    match rng.gen_range(0..8) {
        0 => input.truncate(rng.gen_range(0..=len)),
        1 if len > 0 => {
            for _ in 0..rng.gen_range(1..=4) {
                let at = rng.gen_range(0..len);
                input[at] ^= 1 << rng.gen_range(0..8);
            }
        }
        2 if len > 0 => {
            // Header bytes are where the decisions are made.
            let at = rng.gen_range(0..len.min(64));
            input[at] = if chance(rng, 0.5) {
                pick(rng, &INTERESTING_BYTES)
            } else {
                rng.gen()
            };
        }
        3 if !donor.is_empty() => {
            let from = rng.gen_range(0..donor.len());
            let to = rng.gen_range(from..=donor.len());
            let at = rng.gen_range(0..=len);
            let end = rng.gen_range(at..=len);
            input.splice(at..end, donor[from..to].iter().copied());
        }
        4 => {
            let at = rng.gen_range(0..=len);
            let count = rng.gen_range(1..=16);
            input.splice(at..at, random_bytes(rng, count));
        }
        5 if len > 0 => {
            let at = rng.gen_range(0..len);
            let end = rng.gen_range(at..=len.min(at + 32));
            input.drain(at..end);
        }
        6 if len > 0 => {
            let at = rng.gen_range(0..len);
            let end = rng.gen_range(at..=len.min(at + 32));
            let copy: Vec<u8> = input[at..end].to_vec();
            let to = rng.gen_range(0..=len);
            input.splice(to..to, copy);
        }
        _ => {
            // Overwrite a 16-bit field anywhere with a boundary value.
            if len >= 2 {
                let at = rng.gen_range(0..len - 1);
                let v: u16 = pick(rng, &[0, 1, 7, 8, 0x7fff, 0x8000, 0xfffe, 0xffff]);
                input[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
}

/// Makes the IP length field agree with the packet again and, for IPv4, the header checksum
/// right, so a mutation deeper in the packet is what the translator sees.
pub fn repair_packet(packet: &mut [u8]) {
    let len = packet.len();
    match packet.first().map(|b| b >> 4) {
        Some(4) if len >= 20 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            if ihl < 20 || ihl > len {
                return;
            }
            let total = (len.min(0xffff) as u16).to_be_bytes();
            packet[2..4].copy_from_slice(&total);
            packet[10..12].copy_from_slice(&[0, 0]);
            let c = inet::checksum(&packet[..ihl], 0);
            packet[10..12].copy_from_slice(&c.to_be_bytes());
        }
        Some(6) if len >= 40 => {
            let payload = ((len - 40).min(0xffff) as u16).to_be_bytes();
            packet[4..6].copy_from_slice(&payload);
        }
        _ => {}
    }
}
