//! ns per packet of the kernel path's programs — `nat64_tc` on the TUN device and `nat64_xdp`
//! on the physical interfaces — as BPF_PROG_TEST_RUN times them, each against a same-run
//! baseline: an empty program of its kind run the same way (what a test run itself costs).
//!
//! Each sample is one run on a fresh copy of the packet (repeat 1): with a larger repeat the
//! kernel would run the program again on the packet it has just translated. The median of
//! many samples is reported; "net" is the program's time less the empty program's.
//!
//! Goal (issue 4): ≤ 100 ns per packet for the TC program.

use anyhow::{Context as _, Result};
use aya::programs::SchedClassifier;
use nat64::{tc_maps, translate::TranslatorConfig};
use nat64_bench::{programs, Table};
use nat64_common::maps::MappingKind;
use nat64_tests::{packets, tc_program, test_run::PacketTestRun, xdp_program};

const RUNS: usize = 20_000;

/// What a program's action on a frame means (given the frame sent and returned), and
/// whether it translated it.
type Classify<'a> = &'a dyn Fn(u32, &[u8], &[u8]) -> (&'static str, bool);

/// One program and how to run and read it.
struct Subject<'a, P> {
    name: &'static str,
    program: &'a P,
    baseline: &'a P,
    frame: fn(&[u8]) -> Vec<u8>,
    /// The action's meaning and whether the packet was translated (XDP's XDP_PASS covers
    /// both, so XDP reads its counters instead).
    outcome: Classify<'a>,
}

fn main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED kernel_programs: BPF_PROG_TEST_RUN needs root; run `sudo -E cargo xtask bench`"
        );
        return Ok(());
    }
    if !programs::available() {
        eprintln!("SKIPPED kernel_programs: built with AYA_BUILD_SKIP=1, no eBPF object");
        return Ok(());
    }
    let mut nat64 = xdp_program::load()?;
    let translator = packets::translator();
    // Two configurations: the samples' (prefix and one explicit mapping for the client, so
    // both LPM tries are searched) and a TurnKey box's (prefix only, the tries skipped, the
    // client's address from the host tables as a dynamic mapping).
    let with_map = translator.config().clone();
    let mut prefix_only = with_map.clone();
    prefix_only.eam.clear();
    let tc_bench_object = programs::load_tc_programs()?;
    let tc_baseline: &SchedClassifier = tc_bench_object
        .program(programs::TC_PASS)
        .context("the empty TC program")?
        .try_into()?;
    let tc_helpers: &SchedClassifier = tc_bench_object
        .program(programs::TC_HELPERS)
        .context("the helpers-only TC program")?
        .try_into()?;
    let floor = helpers_floor(tc_helpers, tc_baseline)?;
    let xdp_baseline_object = programs::BenchPrograms::load()?;
    let xdp_baseline = xdp_baseline_object.xdp(programs::PASS)?;

    let mut tables = Vec::new();
    let mut goal = Vec::new();
    for kernel_program in ["tc", "xdp"] {
        let mut table = Table::new(
            &format!(
                "nat64_{kernel_program}, ns per packet (BPF_PROG_TEST_RUN, median of {RUNS} single runs, one core)"
            ),
            &[
                "case",
                "payload",
                "static maps",
                "outcome",
                "program ns",
                "empty program ns",
                "net ns",
                "Mpps (one core, net)",
            ],
        );
        for (maps, config) in [("none", &prefix_only), ("1", &with_map)] {
            configure(&mut nat64, config)?;
            let rows = if kernel_program == "tc" {
                let program = tc_program::program(&mut nat64)?;
                let outcome = |action: u32, _: &[u8], _: &[u8]| match action {
                    tc_program::TC_ACT_REDIRECT => ("translated", true),
                    tc_program::TC_ACT_OK => ("to userspace", false),
                    tc_program::TC_ACT_SHOT => ("dropped", false),
                    _ => ("other", false),
                };
                measure(&Subject {
                    name: "tc",
                    program: &*program,
                    baseline: tc_baseline,
                    frame: tc_program::frame,
                    outcome: &outcome,
                })?
            } else {
                let program = xdp_program::program(&mut nat64)?;
                // A translated frame changes its EtherType; a passed one comes back as sent.
                let outcome = |action: u32, sent: &[u8], out: &[u8]| match action {
                    xdp_program::XDP_PASS if sent.get(12..14) != out.get(12..14) => {
                        ("translated, to the stack", true)
                    }
                    xdp_program::XDP_PASS => ("to the stack", false),
                    xdp_program::XDP_DROP => ("dropped", false),
                    _ => ("other", false),
                };
                measure(&Subject {
                    name: "xdp",
                    program: &*program,
                    baseline: xdp_baseline,
                    frame: xdp_program::frame,
                    outcome: &outcome,
                })?
            };
            for row in rows {
                if kernel_program == "tc" && row.payload == 64 && maps == "none" && row.translated {
                    goal.push((row.case, row.net));
                }
                table.row(vec![
                    row.case.to_owned(),
                    row.payload.to_string(),
                    maps.to_owned(),
                    row.outcome.to_owned(),
                    format!("{:.0}", row.measured),
                    format!("{:.0}", row.empty),
                    format!("{:.0}", row.net),
                    format!("{:.1}", 1e3 / row.net.max(1.0)),
                ]);
            }
        }
        tables.push(table);
    }
    let [mut tc_table, mut xdp_table] =
        <[Table; 2]>::try_from(tables).map_err(|_| anyhow::anyhow!("one table per program"))?;
    tc_table.note("outcome: translated = redirected into the device's ingress; to userspace = left to the TUN reader (TC_ACT_OK).");
    xdp_table.note("outcome: translated, to the stack = rewritten in place and XDP_PASS (--xdp-forward stack); Ethernet frames, IPv4 ones padded to 60 bytes as a wire delivers them.");
    for table in [&mut tc_table, &mut xdp_table] {
        table.note("samples are kernel-timed single runs (ktime around one run), so the empty program's figure is mostly the timer itself.");
    }
    let text = format!("{}\n{}", tc_table.render(), xdp_table.render());
    print!("{text}");
    let path = nat64_bench::write_output("kernel_programs.txt", &text)?;
    println!(
        "floor: the helper calls every TC translation makes (change_proto, one header store, \
         one checksum fix-up, redirect), alone, on udp6 64 B: {floor:.0} ns net"
    );
    for (name, net) in goal {
        println!(
            "goal <= 100 ns per packet, nat64_tc {name} (64 B, prefix only): {net:.0} ns net ({}; {:.1}x the helpers-only floor)",
            if net <= 100.0 { "met" } else { "NOT met" },
            net / floor.max(1.0)
        );
    }
    println!("written to {}", path.display());
    Ok(())
}

/// Net ns per packet of the helpers-only TC program on a 64-byte UDP/IPv6 sample.
fn helpers_floor(helpers: &SchedClassifier, baseline: &SchedClassifier) -> Result<f64> {
    let frame = tc_program::frame(&packets::udp6(64));
    let (action, _) = nat64_tests::test_run::run(helpers, &frame)?;
    anyhow::ensure!(
        action == tc_program::TC_ACT_REDIRECT,
        "the helpers-only program did not get through its helpers (action {action})"
    );
    let empty = tc_program::ns_per_packet(baseline, &frame, RUNS)?;
    let measured = tc_program::ns_per_packet(helpers, &frame, RUNS)?;
    Ok((measured - empty).max(0.0))
}

/// The samples' configuration; without explicit mappings the client gets a host mapping.
fn configure(nat64: &mut aya::Ebpf, config: &TranslatorConfig) -> Result<()> {
    tc_maps::write_config(
        nat64,
        config,
        tc_maps::Targets::tun(tc_program::LOOPBACK_IFINDEX),
    )?;
    if config.eam.is_empty() {
        tc_maps::insert_host(
            nat64,
            packets::CLIENT_V6,
            packets::CLIENT_V4,
            MappingKind::Dynamic,
        )
    } else {
        tc_maps::remove_host(nat64, packets::CLIENT_V6, packets::CLIENT_V4)
    }
}

struct Row {
    case: &'static str,
    payload: usize,
    outcome: &'static str,
    translated: bool,
    measured: f64,
    empty: f64,
    net: f64,
}

fn measure<P: PacketTestRun>(subject: &Subject<'_, P>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for payload in [64usize, 1400] {
        for (case, packet) in packets::all_samples(payload) {
            let frame = (subject.frame)(&packet);
            let (action, out) = nat64_tests::test_run::run(subject.program, &frame)
                .with_context(|| format!("{} {case}", subject.name))?;
            let (outcome, translated) = (subject.outcome)(action, &frame, &out);
            // Interleaved, so drift of the machine touches both alike.
            let empty = tc_program::ns_per_packet(subject.baseline, &frame, RUNS)?;
            let measured = tc_program::ns_per_packet(subject.program, &frame, RUNS)?;
            rows.push(Row {
                case,
                payload,
                outcome,
                translated,
                measured,
                empty,
                net: (measured - empty).max(0.0),
            });
        }
    }
    Ok(rows)
}
