//! Stateful NAT64 (`stateful::Nat64`, the TUN datapath's core in `[stateful]` mode) in one
//! process: ns per packet of an established flow against the stateless translator on the same
//! packet (same run), ns per packet that opens a new binding and session, the same
//! established flow among 1,000,000 sessions, the memory one session takes (resident set
//! before and after), and an expiry sweep over them.
//!
//! Goals (issue 13, as they apply to the userspace path): new sessions at ≥ 0.5× the
//! established-flow packet rate; 1,000,000 sessions within 20% of the 64-flow rate.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nat64::stateful::Protocol;
use nat64::translate::{NoDynamicMap, Output, Verdict};
use nat64_bench::stateful_sample::{from_client, nat64};
use nat64_bench::{ns_per_call, Table};
use nat64_tests::packets;

const ROUNDS: usize = 7;
const ITERATIONS: u32 = 200_000;
const SESSIONS: u32 = 1_000_000;

/// Resident set, bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() -> anyhow::Result<()> {
    let template = packets::udp6(64);
    let stateless = packets::translator();
    let mut out = Output::new();
    let now = Instant::now();
    let mut table = Table::new(
        &format!("stateful NAT64 in userspace, ns per packet (median of {ROUNDS} rounds x {ITERATIONS} packets, one core)"),
        &["case", "ns", "Mpps (one core)", "ratio"],
    );

    // The stateless translator on the same packet: the baseline.
    let base_ns = ns_per_call(ROUNDS, ITERATIONS, || {
        black_box(stateless.translate(black_box(&template), &mut NoDynamicMap, &mut out));
    });

    // An established flow among 64.
    let mut n = nat64()?;
    let flows: Vec<Vec<u8>> = (0..64)
        .map(|i| from_client(&template, 1, 40000 + i))
        .collect();
    for f in &flows {
        anyhow::ensure!(n.translate(f, now, &mut out) == Verdict::Translated);
    }
    let mut i = 0;
    let established_ns = ns_per_call(ROUNDS, ITERATIONS, || {
        i = (i + 1) % flows.len();
        black_box(n.translate(black_box(&flows[i]), now, &mut out));
    });

    // Every packet a new flow: a binding, a port from the blocks, a session. Clients and
    // ports advance so nothing repeats; the tables are emptied between rounds.
    let mut fresh = nat64()?;
    let mut next = 0u32;
    let mut packet = template.clone();
    let new_ns = ns_per_call(ROUNDS, ITERATIONS, || {
        next += 1;
        if next.is_multiple_of(60_000) {
            fresh.expire(now + Duration::from_secs(3600 * 3), &mut out);
        }
        packet[12..16].copy_from_slice(&(next / 1000).to_be_bytes());
        packet[40..42].copy_from_slice(&(1024 + (next % 1000) as u16).to_be_bytes());
        black_box(fresh.translate(black_box(&packet), now, &mut out));
    });
    drop(fresh);

    // 1,000,000 sessions: 1,000 subscribers of 1,000 flows.
    let before = resident();
    let mut big = nat64()?;
    let build = Instant::now();
    for k in 0..SESSIONS {
        let p = from_client(&template, 2 + k / 1000, 1024 + (k % 1000) as u16);
        if big.translate(&p, now, &mut out) != Verdict::Translated {
            anyhow::bail!("session {k} not made");
        }
    }
    let build_secs = build.elapsed().as_secs_f64();
    let per_session = (resident().saturating_sub(before)) as f64 / f64::from(SESSIONS);
    let counts = big.counts();
    anyhow::ensure!(counts.sessions[Protocol::Udp.index()] as u32 == SESSIONS);
    let mut j = 0u32;
    let among_million_ns = ns_per_call(ROUNDS, ITERATIONS, || {
        // Flows spread over the whole table, so the lookups miss the caches as they would.
        j = j.wrapping_add(7919) % SESSIONS;
        let mut p = template.clone();
        p[12..16].copy_from_slice(&(2 + j / 1000).to_be_bytes());
        p[40..42].copy_from_slice(&(1024 + (j % 1000) as u16).to_be_bytes());
        black_box(big.translate(black_box(&p), now, &mut out));
    });
    let copy_ns = ns_per_call(ROUNDS, ITERATIONS, || {
        black_box(template.clone());
    });
    let sweep = Instant::now();
    let expired = big.expire(now + Duration::from_secs(1), &mut out);
    let sweep_nothing = sweep.elapsed();
    let sweep = Instant::now();
    let expired_all = big.expire(now + Duration::from_secs(3600 * 3), &mut out);
    let sweep_all = sweep.elapsed();

    let row = |table: &mut Table, case: &str, ns: f64, ratio: String| {
        table.row(vec![
            case.to_owned(),
            format!("{ns:.1}"),
            format!("{:.2}", 1e3 / ns),
            ratio,
        ]);
    };
    row(
        &mut table,
        "stateless translator, UDP 6->4 64 B (baseline)",
        base_ns,
        "1.00x".into(),
    );
    row(
        &mut table,
        "stateful, established flow among 64",
        established_ns,
        format!("{:.2}x the baseline", established_ns / base_ns),
    );
    row(
        &mut table,
        "stateful, every packet a new session (its expiry included)",
        new_ns,
        format!("rate {:.2}x the established", established_ns / new_ns),
    );
    let among = among_million_ns - copy_ns;
    row(
        &mut table,
        "stateful, established flow among 1,000,000 (packet copy taken off)",
        among,
        format!("rate {:.2}x the 64-flow", established_ns / among),
    );
    table.note(&format!(
        "1,000,000 sessions: made in {build_secs:.2} s; resident set grew {:.0} bytes per session \
         (binding, session, address-filter entry, port bit); expiry sweep {:.0} ms when none \
         ran out ({expired} removed), {:.0} ms removing all ({expired_all} removed)",
        per_session,
        sweep_nothing.as_secs_f64() * 1e3,
        sweep_all.as_secs_f64() * 1e3,
    ));
    let new_ratio = established_ns / new_ns;
    table.note(&format!(
        "goal: new sessions at >= 0.5x the established-flow rate: {new_ratio:.2}x ({})",
        if new_ratio >= 0.5 { "met" } else { "NOT met" }
    ));
    let scale_ratio = established_ns / among;
    table.note(&format!(
        "goal: 1,000,000 sessions within 20% of the 64-flow rate: {scale_ratio:.2}x ({})",
        if scale_ratio >= 0.8 { "met" } else { "NOT met" }
    ));
    let path = table.publish("stateful.txt")?;
    println!("written to {}", path.display());
    Ok(())
}
