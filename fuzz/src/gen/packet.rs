//! One packet as a TUN device (or a wire, behind an Ethernet header) would hand it over:
//! mostly structured, sometimes mutated, now and then pure noise.

use rand::{rngs::StdRng, Rng};

use super::addresses::AddressBook;
use super::mutate::{mutate, repair_packet};
use super::{chance, ipv4, ipv6, random_bytes, Flow};

pub fn packet(rng: &mut StdRng, book: &AddressBook) -> Vec<u8> {
    let mut p = match rng.gen_range(0..100) {
        0..=2 => return noise(rng),
        3..=45 => ipv6::packet(rng, book, Flow::FromHosts, 0),
        46..=88 => ipv4::packet(rng, book, Flow::ToHosts, 0),
        // Each family the other way too: a hairpin, or something routed in by mistake.
        89..=94 => ipv6::packet(rng, book, Flow::ToHosts, 0),
        _ => ipv4::packet(rng, book, Flow::FromHosts, 0),
    };
    if chance(rng, 0.25) {
        let donor = structured(rng, book);
        mutate(rng, &mut p, &donor);
        if chance(rng, 0.6) {
            repair_packet(&mut p);
        }
    }
    p
}

fn structured(rng: &mut StdRng, book: &AddressBook) -> Vec<u8> {
    if chance(rng, 0.5) {
        ipv6::packet(rng, book, Flow::FromHosts, 0)
    } else {
        ipv4::packet(rng, book, Flow::ToHosts, 0)
    }
}

/// Random bytes, mostly with an IP version nibble.
fn noise(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(0..=120);
    let mut p = random_bytes(rng, len);
    if let Some(first) = p.first_mut() {
        if chance(rng, 0.7) {
            *first = (*first & 0x0f) | if chance(rng, 0.5) { 0x40 } else { 0x60 };
        }
    }
    p
}
