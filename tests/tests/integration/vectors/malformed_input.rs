//! Hostile input never panics the translator, and every packet gets a verdict: translated
//! packets that are well-formed, an ICMP error, or a drop with a reason. Inputs: random
//! bytes, every sample packet cut short at every length, and samples with random bytes
//! flipped — 200,000 packets in all, from a fixed seed so a failure replays.

use std::{
    collections::BTreeMap,
    io::Write,
    panic::{catch_unwind, AssertUnwindSafe},
};

use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};
use nat64::translate::{NoDynamicMap, Output, Translator, Verdict};
use nat64_tests::packets;
use rand::{rngs::StdRng, Rng, SeedableRng};

const SEED: u64 = 0x006e_6174_3634;
const RANDOM_PACKETS: usize = 100_000;
const MUTATED_PACKETS: usize = 100_000;

#[derive(Default)]
struct Tally {
    total: usize,
    verdicts: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, verdict: Verdict) {
        self.total += 1;
        let key = match verdict {
            Verdict::Translated => "translated".to_owned(),
            Verdict::LocalReply => "local_reply".to_owned(),
            Verdict::IcmpError(reason) => format!("icmp_error:{}", reason.as_str()),
            Verdict::Drop(reason) => format!("drop:{}", reason.as_str()),
        };
        *self.verdicts.entry(key).or_default() += 1;
    }
}

/// Runs one packet; a panic fails the test with the packet in hex so it can be replayed.
fn translate(translator: &Translator, packet: &[u8], out: &mut Output) -> Verdict {
    let result = catch_unwind(AssertUnwindSafe(|| {
        translator.translate(packet, &mut NoDynamicMap, out)
    }));
    match result {
        Ok(verdict) => {
            check_output(packet, verdict, out);
            verdict
        }
        Err(_) => panic!("translator panicked on {}", hex(packet)),
    }
}

/// Whatever comes out parses as an IP packet whose length field matches its size, with a
/// valid IPv4 header checksum.
fn check_output(input: &[u8], verdict: Verdict, out: &Output) {
    match verdict {
        Verdict::Drop(_) => assert!(out.is_empty(), "a drop emitted packets for {}", hex(input)),
        Verdict::Translated | Verdict::IcmpError(_) | Verdict::LocalReply => {
            assert!(
                !out.is_empty(),
                "{verdict:?} with no packet for {}",
                hex(input)
            );
            for packet in out.packets() {
                check_packet(packet, input);
            }
        }
    }
}

fn check_packet(packet: &[u8], input: &[u8]) {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let header = Ipv4HeaderSlice::from_slice(packet)
                .unwrap_or_else(|e| panic!("bad IPv4 output {e} for {}", hex(input)));
            assert_eq!(
                usize::from(header.total_len()),
                packet.len(),
                "IPv4 length for {}",
                hex(input)
            );
            let computed = header.to_header().calc_header_checksum();
            assert_eq!(
                header.header_checksum(),
                computed,
                "IPv4 header checksum for {}",
                hex(input)
            );
        }
        Some(6) => {
            let header = Ipv6HeaderSlice::from_slice(packet)
                .unwrap_or_else(|e| panic!("bad IPv6 output {e} for {}", hex(input)));
            assert_eq!(
                usize::from(header.payload_length()) + 40,
                packet.len(),
                "IPv6 length for {}",
                hex(input)
            );
        }
        _ => panic!("output is not IP for {}", hex(input)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn two_hundred_thousand_hostile_packets_get_a_verdict_and_never_a_panic() {
    let translator = packets::translator();
    let mut out = Output::new();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut tally = Tally::default();

    for _ in 0..RANDOM_PACKETS {
        let len = rng.gen_range(0..1600);
        let mut packet: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Half of them claim a valid version so they get past the first byte.
        if let Some(first) = packet.first_mut() {
            if rng.gen_bool(0.5) {
                *first = if rng.gen_bool(0.5) { 0x45 } else { 0x60 };
            }
        }
        tally.add(translate(&translator, &packet, &mut out));
    }

    let seeds: Vec<(&str, Vec<u8>)> = [0usize, 8, 64, 1400]
        .into_iter()
        .flat_map(packets::all_samples)
        .collect();
    for (name, seed) in &seeds {
        assert_eq!(
            translate(&translator, seed, &mut out),
            Verdict::Translated,
            "sample {name} itself must translate"
        );
        // Every strict prefix of a packet is shorter than its length field says: a drop.
        for cut in 0..seed.len() {
            let verdict = translate(&translator, &seed[..cut], &mut out);
            assert!(
                matches!(verdict, Verdict::Drop(_)),
                "{name} cut to {cut} bytes gave {verdict:?}"
            );
            tally.add(verdict);
        }
    }

    for _ in 0..MUTATED_PACKETS {
        let (_, seed) = &seeds[rng.gen_range(0..seeds.len())];
        let mut packet = seed.clone();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..packet.len());
            packet[at] = rng.gen();
        }
        if rng.gen_bool(0.2) {
            packet.truncate(rng.gen_range(0..=packet.len()));
        }
        tally.add(translate(&translator, &packet, &mut out));
    }

    assert!(tally.total >= 200_000, "only {} packets", tally.total);
    let translated = tally.verdicts.get("translated").copied().unwrap_or(0);
    assert!(
        translated > 0,
        "mutations never produced a translatable packet: the test is not reaching the translator"
    );
    // Written straight to stderr so the summary shows in CI output without --nocapture.
    let mut summary = format!(
        "malformed input: {} packets, 0 panics; verdicts:",
        tally.total
    );
    for (verdict, count) in &tally.verdicts {
        summary.push_str(&format!(" {verdict}={count}"));
    }
    let _ = writeln!(std::io::stderr(), "{summary}");
}
