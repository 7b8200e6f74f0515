//! A flood only userspace translates: every frame a UDP datagram behind an IPv6 Fragment
//! header (an atomic fragment: offset 0, no more fragments; the XDP program never translates
//! an extension header), from one mapped host, through nat64 XDP (the pool routed to the
//! gateway) in the same run:
//! - with its slow path through the stack and the TUN device (`--xdp-forward direct`);
//! - through AF_XDP, the translations handed to the kernel through the TUN device (the
//!   default exit, `--xdp-slow-path af-xdp`);
//! - through AF_XDP, the translations sent straight out by AF_XDP transmit with the next hop
//!   the kernel's route lookup names (`--xdp-slow-path af-xdp-transmit`).
//!
//! All under `--xdp-forward direct`. Per row: the saturated receive rate and the zero-loss rate, CPU seconds per
//! million packets, and the ratio to the TUN slow path. Writes target/bench/slow_path.txt.
//!
//! Goal: through AF_XDP ≥ 3× the packets per second of the TUN slow path.
//!
//! Knobs: see `nat64_bench::settings` (`NAT64_BENCH_QUICK=1`, `NAT64_BENCH_ROWS`).

use anyhow::{ensure, Context, Result};
use nat64_bench::{
    frames::UdpFrame,
    gateways,
    nat64_daemon::{self, Datapath, SlowPath},
    rates::{self, ratio, Rates},
    settings::{ready_to_run, Settings},
    sink::Arrival,
    testbed::{SinkXdp, Testbed, GENERATOR_V6, POOL, SINK_VIA_PREFIX},
    trial::Route,
    Table,
};
use nat64_common::{counters::Outcome, maps::XdpForward};

/// The throughput bench's 80- and 1,400-byte frames with the 8-byte Fragment header added:
/// the same datagrams, and translated frames long enough for the sink to count (it counts
/// IPv4 UDP frames of 54 bytes and more).
const FRAME_LENS: [usize; 2] = [88, 1408];
const GOAL_RATIO: f64 = 3.0;

#[derive(Clone, Copy)]
struct Row {
    datapath: Datapath,
    slow_path: SlowPath,
    label: &'static str,
}

const ROWS: [Row; 3] = [
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::Tun,
        label: "nat64 XDP, TUN slow path",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::AfXdp,
        label: "nat64 XDP, AF_XDP slow path, exit into TUN",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::AfXdpTransmit,
        label: "nat64 XDP, AF_XDP slow path, exit by AF_XDP transmit",
    },
];

fn main() -> Result<()> {
    if !ready_to_run("slow_path") {
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let nat64 = gateways::release_nat64()?;
    let (rows, left_out) = settings.select(
        "slow_path",
        &ROWS,
        |r| r.label,
        |r| r.datapath.unavailable(&nat64),
    );
    let mut measured: Vec<(&'static str, SlowPath, usize, Rates)> = Vec::new();
    let mut table = Table::new(
        &format!(
            "slow-path flood: UDP in IPv6 atomic fragments (a Fragment header, never translated in XDP) from one mapped host, {} trials, saturated = median of {}, zero-loss = binary search ({} steps)",
            humantime(settings.trial),
            settings.repeats,
            settings.search_steps,
        ),
        &[
            "path",
            "frame B",
            "saturated Mpps",
            "offered Mpps",
            "zero-loss Mpps",
            "CPU s/Mpkt",
            "saturated / TUN",
            "zero-loss / TUN",
        ],
    );
    for Row {
        datapath,
        slow_path,
        label,
    } in rows
    {
        let mut bed = Testbed::with(datapath.gateway_xdp(), SinkXdp::Count)?;
        let running = nat64_daemon::start(
            &mut bed,
            &nat64,
            &nat64_daemon::Options {
                datapath,
                pool: POOL,
                toml: None,
                slow_path,
            },
        )?;
        let path = bed.through_gateway()?;
        for frame_len in FRAME_LENS {
            let frame = UdpFrame::atomic_fragment(
                frame_len,
                path.source_mac,
                path.destination_mac,
                GENERATOR_V6,
                SINK_VIA_PREFIX,
            );
            let route = Route {
                interface: path.interface,
                frame: &frame,
                arrival: Arrival::Ipv4Udp,
                gateway_pid: running.pid,
            };
            // One flow and one host: the generator's rewrites stay on the Fragment header.
            let rates = rates::measure(&mut bed, &route, 1, 1, &settings).with_context(|| {
                let stats = nat64_tests::stats::Stats::read(&bed.gateway, "nat64", &[])
                    .map_or_else(|e| format!("{e:#}"), |s| s.to_string());
                format!(
                    "{label} {frame_len} B; gateway log:\n{}\nnat64 stats --json:\n{stats}",
                    gateways::log(&bed)
                )
            })?;
            eprintln!(
                "slow_path: {label} {frame_len} B: saturated {}, zero-loss {}",
                rates.saturated_text(),
                rates.zero_loss_text()
            );
            measured.push((label, slow_path, frame_len, rates));
        }
        // The flood took the path the row names: the counters say so.
        let stats = slow_path_counts(&bed)?;
        ensure!(
            stats.translated_by(slow_path) > 0 && stats.translated_by(other(slow_path)) == 0,
            "{label}: the flood did not go through its slow path alone: {stats:?}"
        );
        // And left the way the row names.
        let transmit = slow_path == SlowPath::AfXdpTransmit;
        ensure!(
            slow_path == SlowPath::Tun || (stats.sent_direct > stats.af_xdp / 2) == transmit,
            "{label}: the translations did not leave the way the row names: {stats:?}"
        );
        table.note(&format!(
            "{label}: xdp pass_extension_header {}, xdp slow_path_af_xdp {}, AF_XDP translated {} (sent by AF_XDP transmit {}), TUN translated {}",
            stats.passed, stats.redirected, stats.af_xdp, stats.sent_direct, stats.tun
        ));
        if let Some(line) = gateways::datapath_line(&bed) {
            table.note(&format!("{label}: {line}"));
        }
    }
    let tun_rates = |frame_len: usize| {
        measured
            .iter()
            .find(|(_, s, l, _)| *s == SlowPath::Tun && *l == frame_len)
            .map(|(_, _, _, r)| *r)
    };
    let mut goals = Vec::new();
    for (label, slow_path, frame_len, r) in &measured {
        let base = tun_rates(*frame_len);
        table.row(vec![
            (*label).to_owned(),
            frame_len.to_string(),
            r.saturated_text(),
            format!("{:.3}", r.saturated.offered_pps() / 1e6),
            r.zero_loss_text(),
            format!("{:.2}", r.cpu_trial().cpu_seconds_per_million()),
            ratio(
                r.saturated.received_pps(),
                base.map(|b| b.saturated.received_pps()),
            ),
            ratio(r.zero_loss_pps(), base.map(|b| b.zero_loss_pps())),
        ]);
        if let (SlowPath::AfXdp | SlowPath::AfXdpTransmit, Some(base)) = (slow_path, base) {
            goals.push((
                *label,
                *frame_len,
                r.saturated.received_pps() / base.saturated.received_pps(),
            ));
        }
    }
    for line in &left_out {
        table.note(line);
    }
    table.note("");
    table.note(
        "CPU s/Mpkt = (gateway process user+system + softirq of all CPUs) per million packets received, \
         in the zero-loss trial (saturated if none); the generator's own CPU is not counted.",
    );
    table.note(
        ">= : nothing was lost even at saturation: the generator set the pace, the gateway takes at least this much.",
    );
    for (label, frame_len, achieved) in goals {
        table.note(&format!(
            "goal: {label} >= {GOAL_RATIO}x the TUN slow path's packets per second ({frame_len} B, saturated): {achieved:.2}x ({})",
            if achieved >= GOAL_RATIO { "met" } else { "NOT met" }
        ));
    }
    let path = table.publish("slow_path.txt")?;
    println!("written to {}", path.display());
    Ok(())
}

fn other(slow_path: SlowPath) -> SlowPath {
    match slow_path {
        SlowPath::Tun => SlowPath::AfXdp,
        SlowPath::AfXdp | SlowPath::AfXdpTransmit => SlowPath::Tun,
    }
}

/// What the gateway's counters say about the flood.
#[derive(Debug)]
struct SlowPathCounts {
    passed: u64,
    redirected: u64,
    af_xdp: u64,
    sent_direct: u64,
    tun: u64,
}

impl SlowPathCounts {
    fn translated_by(&self, slow_path: SlowPath) -> u64 {
        match slow_path {
            SlowPath::Tun => self.tun,
            SlowPath::AfXdp | SlowPath::AfXdpTransmit => self.af_xdp,
        }
    }
}

fn slow_path_counts(bed: &Testbed) -> Result<SlowPathCounts> {
    let stats = nat64_tests::stats::Stats::read(&bed.gateway, "nat64", &[])?;
    Ok(SlowPathCounts {
        passed: stats.xdp(Outcome::PassExtensionHeader),
        redirected: stats.xdp(Outcome::SlowPathAfXdp),
        af_xdp: stats.af_xdp(|s| s.translated),
        sent_direct: stats.af_xdp(|s| s.sent_direct),
        tun: stats.tun().translated,
    })
}

fn humantime(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
