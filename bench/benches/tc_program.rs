//! ns per packet of the kernel path's TC program, as BPF_PROG_TEST_RUN times it, against a
//! same-run baseline: an empty TC program run the same way (what a test run itself costs).
//!
//! Each sample is one run on a fresh copy of the packet (repeat 1): with a larger repeat the
//! kernel would run the program again on the packet it has just translated. The median of
//! many samples is reported; "net" is the program's time less the empty program's.
//!
//! Goal (issue 4): ≤ 100 ns per packet.

use anyhow::{Context as _, Result};
use aya::programs::SchedClassifier;
use nat64::tc_maps;
use nat64_bench::{programs, Table};
use nat64_common::maps::MappingKind;
use nat64_tests::{packets, tc_program};

const RUNS: usize = 20_000;

fn main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED tc_program: BPF_PROG_TEST_RUN needs root; run `sudo -E cargo xtask bench`"
        );
        return Ok(());
    }
    if !programs::available() {
        eprintln!("SKIPPED tc_program: built with AYA_BUILD_SKIP=1, no eBPF object");
        return Ok(());
    }
    let mut nat64 = tc_program::load()?;
    let translator = packets::translator();
    // Two configurations: the samples' (prefix and one explicit mapping for the client, so
    // both LPM tries are searched) and a TurnKey box's (prefix only, the tries skipped, the
    // client's address from the host tables as a dynamic mapping).
    let with_map = translator.config().clone();
    let mut prefix_only = with_map.clone();
    prefix_only.eam.clear();
    let mut baseline_object = programs::load_tc_pass()?;
    let baseline: &mut SchedClassifier = baseline_object
        .program_mut(programs::TC_PASS)
        .context("the empty TC program")?
        .try_into()?;

    let mut table = Table::new(
        &format!(
            "TC program, ns per packet (BPF_PROG_TEST_RUN, median of {RUNS} single runs, one core)"
        ),
        &[
            "case",
            "payload",
            "static maps",
            "outcome",
            "nat64_tc ns",
            "empty program ns",
            "net ns",
            "Mpps (one core, net)",
        ],
    );
    let mut goal = Vec::new();
    for (maps, config) in [("none", &prefix_only), ("1", &with_map)] {
        tc_maps::write_config(
            &mut nat64,
            config,
            None,
            tc_maps::Targets::tun(tc_program::LOOPBACK_IFINDEX),
        )?;
        if config.eam.is_empty() {
            tc_maps::insert_host(
                &mut nat64,
                packets::CLIENT_V6,
                packets::CLIENT_V4,
                MappingKind::Dynamic,
            )?;
        } else {
            tc_maps::remove_host(&mut nat64, packets::CLIENT_V6, packets::CLIENT_V4)?;
        }
        let program = tc_program::program(&mut nat64)?;
        for payload in [64usize, 1400] {
            for (name, packet) in packets::all_samples(payload) {
                let frame = tc_program::frame(&packet);
                let (action, _) = tc_program::run(program, &frame)?;
                let outcome = match action {
                    tc_program::TC_ACT_REDIRECT => "translated",
                    tc_program::TC_ACT_OK => "to userspace",
                    tc_program::TC_ACT_SHOT => "dropped",
                    _ => "other",
                };
                // Interleaved, so drift of the machine touches both alike.
                let empty = tc_program::ns_per_packet(baseline, &frame, RUNS)?;
                let measured = tc_program::ns_per_packet(program, &frame, RUNS)?;
                let net = (measured - empty).max(0.0);
                if payload == 64 && maps == "none" && action == tc_program::TC_ACT_REDIRECT {
                    goal.push((name, net));
                }
                table.row(vec![
                    name.to_owned(),
                    payload.to_string(),
                    maps.to_owned(),
                    outcome.to_owned(),
                    format!("{measured:.0}"),
                    format!("{empty:.0}"),
                    format!("{net:.0}"),
                    format!("{:.1}", 1e3 / net.max(1.0)),
                ]);
            }
        }
    }
    table.note("outcome: translated = redirected into the device's ingress; to userspace = left to the TUN reader (TC_ACT_OK).");
    table.note("samples are kernel-timed single runs (ktime around one run), so the empty program's figure is mostly the timer itself.");
    let path = table.publish("tc_program.txt")?;
    for (name, net) in goal {
        println!(
            "goal <= 100 ns per packet, {name} (64 B, prefix only): {net:.0} ns net ({})",
            if net <= 100.0 { "met" } else { "NOT met" }
        );
    }
    println!("written to {}", path.display());
    Ok(())
}
