//! ns per packet of the userspace translator (the TUN datapath's and the slow path's core),
//! against a same-run baseline that only copies the packet into the output buffer — what a
//! TUN reader that forwards without translating would pay.
//!
//! Goal (issue 2): ≤ 100 ns per 64-byte UDP packet.

use std::hint::black_box;

use nat64::translate::{NoDynamicMap, Output, Verdict};
use nat64_bench::{ns_per_call, Table};
use nat64_tests::packets;

/// Builds a sample packet with the given payload length.
type SampleMaker = fn(usize) -> Vec<u8>;

const ROUNDS: usize = 9;
const ITERATIONS: u32 = 200_000;

fn main() -> anyhow::Result<()> {
    let translator = packets::translator();
    let mut out = Output::new();
    let cases: [(&str, SampleMaker); 5] = [
        ("UDP 6->4", packets::udp6),
        ("UDP 4->6", packets::udp4),
        ("TCP 6->4", packets::tcp6),
        ("ICMP echo 6->4", packets::icmp6_echo),
        ("ICMP error 4->6", packets::icmp4_port_unreachable),
    ];
    let mut table = Table::new(
        &format!(
            "userspace translator, ns per packet (median of {ROUNDS} rounds x {ITERATIONS} packets, one core)"
        ),
        &["case", "payload", "packet bytes", "translate ns", "copy-only ns", "ratio to copy", "Mpps (one core)"],
    );
    let mut udp64 = None;
    for (name, make) in cases {
        for payload in [64usize, 1400] {
            let packet = make(payload);
            let verdict = translator.translate(&packet, &mut NoDynamicMap, &mut out);
            anyhow::ensure!(
                verdict == Verdict::Translated,
                "{name} {payload}: {verdict:?}"
            );

            let translate_ns = ns_per_call(ROUNDS, ITERATIONS, || {
                black_box(translator.translate(black_box(&packet), &mut NoDynamicMap, &mut out));
            });
            let mut copy = Vec::with_capacity(65_536);
            let copy_ns = ns_per_call(ROUNDS, ITERATIONS, || {
                copy.clear();
                copy.extend_from_slice(black_box(&packet));
                black_box(&copy);
            });
            if name == "UDP 6->4" && payload == 64 {
                udp64 = Some(translate_ns);
            }
            table.row(vec![
                name.to_owned(),
                payload.to_string(),
                packet.len().to_string(),
                format!("{translate_ns:.1}"),
                format!("{copy_ns:.1}"),
                format!("{:.1}x", translate_ns / copy_ns),
                format!("{:.2}", 1e3 / translate_ns),
            ]);
        }
    }
    let path = table.publish("translator.txt")?;
    if let Some(ns) = udp64 {
        println!(
            "goal <= 100 ns per 64-byte UDP packet: {ns:.1} ns ({})",
            if ns <= 100.0 { "met" } else { "NOT met" }
        );
    }
    println!("written to {}", path.display());
    Ok(())
}
