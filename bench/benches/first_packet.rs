//! First-packet cost: how long the first packet of a new IPv6 host takes through the nat64
//! gateway, while the slow path installs its mapping, against the same host's second packet
//! (a mapping already in place) in the same run; the difference is the install cost.
//!
//! 1,000 hosts, one after the other, each sending one UDP packet and, once it arrived, a
//! second; sent from a packet socket on the generator's veth, stamped by the kernel on
//! arrival at the sink's (SO_TIMESTAMPNS). Rows: the TC datapath and, where the binary has
//! them, XDP (stack) and XDP (direct), each with its slow path through the stack and the TUN
//! device and through AF_XDP. Writes target/bench/first_packet.txt.
//!
//! Goals: first-packet p99 ≤ 1 ms; through AF_XDP, p99 ≤ 0.5× the TUN slow path's (the same
//! forward mode, the same run).
//!
//! `NAT64_BENCH_ROWS` (label parts), `NAT64_BIN` as for the throughput bench.

use anyhow::{Context, Result};
use nat64_bench::{
    first_packet::{quantile, Latencies, Probe, FIRST_HOST},
    gateways,
    nat64_daemon::{self, Datapath, SlowPath},
    settings::{ready_to_run, Settings},
    testbed::{SinkXdp, Testbed},
    Table,
};
use nat64_common::maps::XdpForward;

const HOSTS: u32 = 1_000;
/// Large enough for every host to get an address of its own.
const POOL: &str = "100.64.0.0/16";
const GOAL_P99_MS: f64 = 1.0;
const GOAL_AF_XDP_RATIO: f64 = 0.5;

/// One row: a datapath, and where what its XDP program leaves goes.
#[derive(Clone, Copy)]
struct Row {
    datapath: Datapath,
    slow_path: SlowPath,
    label: &'static str,
}

const ROWS: [Row; 6] = [
    Row {
        datapath: Datapath::Tc,
        slow_path: SlowPath::Tun,
        label: "nat64 TC",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Stack),
        slow_path: SlowPath::Tun,
        label: "nat64 XDP (stack), TUN slow path",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Stack),
        slow_path: SlowPath::AfXdp,
        label: "nat64 XDP (stack), AF_XDP slow path",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::Tun,
        label: "nat64 XDP (direct), TUN slow path",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::AfXdp,
        label: "nat64 XDP (direct), AF_XDP slow path",
    },
    Row {
        datapath: Datapath::Xdp(XdpForward::Direct),
        slow_path: SlowPath::AfXdpTransmit,
        label: "nat64 XDP (direct), AF_XDP slow path, exit by AF_XDP transmit",
    },
];

fn main() -> Result<()> {
    if !ready_to_run("first_packet") {
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let nat64 = gateways::release_nat64()?;
    let mut table = Table::new(
        &format!(
            "first-packet cost: {HOSTS} new IPv6 hosts ({FIRST_HOST} onwards), one UDP packet each, then a second; one-way ms, send call to sink arrival stamp"
        ),
        &[
            "path",
            "1st median",
            "1st p99",
            "2nd median",
            "2nd p99",
            "install median",
            "install p99",
            "lost",
            "mappings after",
        ],
    );
    let (rows, left_out) = settings.select(
        "first_packet",
        &ROWS,
        |r| r.label,
        |r| r.datapath.unavailable(&nat64),
    );
    let mut goals = Vec::new();
    let mut p99s = Vec::new();
    let mut notes = Vec::new();
    for Row {
        datapath,
        slow_path,
        label,
    } in rows
    {
        let mut bed = Testbed::with(datapath.gateway_xdp(), SinkXdp::Pass)?;
        let _running = nat64_daemon::start(
            &mut bed,
            &nat64,
            &nat64_daemon::Options {
                datapath,
                pool: POOL,
                toml: None,
                slow_path,
            },
        )?;
        let latencies = Probe::new(&bed)?
            .measure(HOSTS)
            .with_context(|| format!("{label}; gateway log:\n{}", gateways::log(&bed)))?;
        eprintln!(
            "first_packet: {label}: first p99 {:.3} ms, second p99 {:.3} ms",
            quantile(&latencies.first, 0.99),
            quantile(&latencies.second, 0.99)
        );
        // The slow path did install one mapping per host, or the first packets measured
        // something else.
        let mappings = nat64_daemon::mappings(&bed.gateway, &nat64)?;
        let mut cells = row(label, &latencies);
        cells.push(mappings.to_string());
        table.row(cells);
        goals.push((label, quantile(&latencies.first, 0.99)));
        p99s.push((datapath, slow_path, quantile(&latencies.first, 0.99)));
        notes.extend(gateways::datapath_line(&bed).map(|line| format!("{label}: {line}")));
    }
    for line in notes.iter().chain(&left_out) {
        table.note(line);
    }
    table.note("install = first-packet figure less the second packet's (the same hosts, mapping in place).");
    table.note(&format!(
        "nat64 with --pool {POOL}; TC and XDP (stack) masquerade out of eth1, XDP (direct) does not; the sink passes frames to its stack, where a packet socket stamps them."
    ));
    table.note("");
    for (label, p99) in goals {
        table.note(&format!(
            "goal: {label} first-packet p99 <= {GOAL_P99_MS} ms: {p99:.3} ms ({})",
            if p99 <= GOAL_P99_MS { "met" } else { "NOT met" }
        ));
    }
    for forward in [XdpForward::Stack, XdpForward::Direct] {
        let p99 = |wanted| {
            p99s.iter()
                .find(|(d, s, _)| *d == Datapath::Xdp(forward) && *s == wanted)
                .map(|(_, _, p99)| *p99)
        };
        for af_xdp_path in [SlowPath::AfXdp, SlowPath::AfXdpTransmit] {
            let (Some(tun), Some(af_xdp)) = (p99(SlowPath::Tun), p99(af_xdp_path)) else {
                continue;
            };
            let ratio = af_xdp / tun;
            table.note(&format!(
                "goal: {} first-packet p99 through {} <= {GOAL_AF_XDP_RATIO}x the TUN slow path's: {af_xdp:.3} / {tun:.3} ms = {ratio:.2}x ({})",
                Datapath::Xdp(forward).label(),
                af_xdp_path.label(),
                if ratio <= GOAL_AF_XDP_RATIO { "met" } else { "NOT met" }
            ));
        }
    }
    let path = table.publish("first_packet.txt")?;
    println!("written to {}", path.display());
    Ok(())
}

fn row(label: &str, latencies: &Latencies) -> Vec<String> {
    let [first, second] = [&latencies.first, &latencies.second]
        .map(|values| [quantile(values, 0.5), quantile(values, 0.99)]);
    let mut cells = vec![label.to_owned()];
    cells.extend(first.iter().chain(&second).map(|ms| format!("{ms:.3}")));
    cells.extend((0..2).map(|i| format!("{:.3}", first[i] - second[i])));
    cells.push(latencies.lost.to_string());
    cells
}
