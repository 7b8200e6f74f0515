//! Scale: nat64 holding 100,000 active mappings. The generator cycles each frame's IPv6
//! source through 100,000 hosts of 2001:db8:1::/64 (no real hosts needed), offered slowly
//! first so the slow path maps every one of them, then:
//!
//! - packets per second with the 100,000 hosts cycling against one host, same run (goal:
//!   within 20%);
//! - memory per mapping: the `memlock` of the maps NAT64_V6_TO_V4 and NAT64_V4_TO_V6 the daemon
//!   holds, and the growth of its resident set, divided by the mapping count;
//! - expiry: the daemon runs with a short forget timer; the 100,000 hosts go idle while one
//!   other host keeps sending at saturation, and its rate during the sweep that forgets them
//!   is set against its rate before (goal: no stall).
//!
//! Rows: the TC datapath and, where the binary has them, XDP (stack) and XDP (direct). A
//! datapath takes about 2 minutes, most of it waiting for the expiry timer. Writes
//! target/bench/scale.txt. Knobs as for the throughput bench (`nat64_bench::settings`).

use std::{
    net::Ipv6Addr,
    path::Path as FsPath,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use nat64_bench::{
    expiry_sweep::{self, Sweep},
    frames::UdpFrame,
    gateways,
    generator::Offer,
    memory::{self, OpenMap},
    nat64_daemon::{self, Datapath},
    publish_tables,
    rates::{self, ratio, Rates},
    settings::{ready_to_run, Settings},
    sink::Arrival,
    testbed::{SinkXdp, Testbed, GENERATOR_V6, SINK_VIA_PREFIX},
    trial::{self, Route},
    Table,
};

const HOSTS: u32 = 100_000;
/// 131,072 addresses: one for each host and to spare.
const POOL: &str = "100.64.0.0/15";
/// Host n is this plus n in the last 32 bits (2001:db8:1::1:0 to 2001:db8:1::2:869f).
const FIRST_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 1, 0);
const FRAME_LEN: usize = 80;
/// New hosts per second offered to the slow path while filling.
const FILL_RATE: f64 = 25_000.0;
const FILL_PASSES: u32 = 6;
/// Long enough that the hosts stay mapped through the one-host measurement (under 30 s), so
/// the sweep comes only once they are left idle.
const FORGET_SECS: u64 = 40;
/// nat64 runs expiry on this period (MAINTENANCE_INTERVAL in nat64-user's gateway).
const MAINTENANCE: Duration = Duration::from_secs(30);
const MAP_NAMES: [&str; 2] = ["NAT64_V6_TO_V4", "NAT64_V4_TO_V6"];

struct Outcome {
    datapath: Datapath,
    fill: Fill,
    one_host: Rates,
    all_hosts: Rates,
    maps: Vec<OpenMap>,
    rss_growth: i64,
    sweep: Sweep,
    /// The daemon's start-up line on its datapath.
    datapath_line: Option<String>,
}

struct Fill {
    passes: u32,
    seconds: f64,
    mappings: u64,
}

fn main() -> Result<()> {
    if !ready_to_run("scale") {
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let nat64 = gateways::release_nat64()?;
    let (datapaths, left_out) = settings.select("scale", &Datapath::KERNEL, Datapath::label, |d| {
        d.unavailable(&nat64)
    });
    let outcomes = datapaths
        .into_iter()
        .map(|d| run(&nat64, d, &settings).with_context(|| d.label()))
        .collect::<Result<Vec<_>>>()?;
    publish(&outcomes, &left_out)
}

fn run(nat64: &FsPath, datapath: Datapath, settings: &Settings) -> Result<Outcome> {
    let mut bed = Testbed::with(datapath.gateway_xdp(), SinkXdp::Count)?;
    bed.untrack(POOL)?;
    let timers = format!("mapping_idle_secs = 10\nmapping_forget_secs = {FORGET_SECS}\n");
    let running = nat64_daemon::start(
        &mut bed,
        nat64,
        &nat64_daemon::Options {
            datapath,
            pool: POOL,
            toml: Some(&timers),
        },
    )?;
    let pid = running.pid.context("nat64 has a pid")?;
    let rss_empty = memory::rss_bytes(pid)?;
    let path = bed.through_gateway()?;
    let frame_from = |source| {
        UdpFrame::new(
            FRAME_LEN,
            path.source_mac,
            path.destination_mac,
            source,
            SINK_VIA_PREFIX,
        )
    };
    let (hosts_frame, other_frame) = (frame_from(FIRST_HOST), frame_from(GENERATOR_V6));
    let route_of = |frame| Route {
        interface: path.interface,
        frame,
        arrival: Arrival::Ipv4Udp,
        gateway_pid: Some(pid),
    };
    let (hosts, other) = (route_of(&hosts_frame), route_of(&other_frame));
    let label = datapath.label();

    let filled = fill(&mut bed, &hosts, nat64)
        .with_context(|| format!("filling; gateway log:\n{}", gateways::log(&bed)))?;
    eprintln!(
        "scale: {label}: {} mappings after {} pass(es), {:.1} s",
        filled.mappings, filled.passes, filled.seconds
    );
    let maps = memory::open_maps(pid, &MAP_NAMES)?;
    let rss_growth = memory::rss_bytes(pid)? as i64 - rss_empty as i64;
    // Host 0 alone, the others idle meanwhile (shorter than the forget timer).
    let one_host = rates::measure(&mut bed, &hosts, 1, 1, settings)?;
    fill(&mut bed, &hosts, nat64).context("refreshing the mappings")?;
    let all_hosts = rates::measure(&mut bed, &hosts, 1, HOSTS, settings)?;
    for (n, r) in [(1, &one_host), (HOSTS, &all_hosts)] {
        eprintln!(
            "scale: {label}: {n} host(s): saturated {:.3} Mpps, zero-loss {:.3} Mpps",
            r.saturated.received_pps() / 1e6,
            r.zero_loss_pps() / 1e6
        );
    }

    // From here the hosts are idle; another one keeps the datapath busy.
    let warm_up = trial::run(
        &mut bed,
        &other,
        &Offer {
            rate_pps: Some(20_000.0),
            duration: Duration::from_millis(500),
            flows: 1,
            hosts: 1,
        },
    )?;
    ensure!(
        warm_up.received > 0,
        "the other host's packets did not arrive"
    );
    let full = nat64_daemon::mappings(&bed.gateway, nat64)?;
    let patience = Duration::from_secs(FORGET_SECS) + 2 * MAINTENANCE + Duration::from_secs(10);
    let sweep = expiry_sweep::watch(&mut bed, &other, nat64, full, patience)
        .with_context(|| format!("expiry; gateway log:\n{}", gateways::log(&bed)))?;
    eprintln!(
        "scale: {label}: sweep of {} mappings in <= {:.2} s: {:.3} Mpps before, {:.3} during",
        sweep.mappings_before - sweep.mappings_after,
        sweep.seconds,
        sweep.before_pps / 1e6,
        sweep.during_pps / 1e6
    );
    Ok(Outcome {
        datapath,
        fill: filled,
        one_host,
        all_hosts,
        maps,
        rss_growth,
        sweep,
        datapath_line: gateways::datapath_line(&bed),
    })
}

/// Offers every host once per pass, slowly enough for the slow path, until each has a
/// mapping; the first packets of a pass that overflowed a queue come again in the next.
fn fill(bed: &mut Testbed, route: &Route<'_>, nat64: &FsPath) -> Result<Fill> {
    let start = Instant::now();
    let offer = Offer {
        rate_pps: Some(FILL_RATE),
        duration: Duration::from_secs_f64(f64::from(HOSTS) / FILL_RATE),
        flows: 1,
        hosts: HOSTS,
    };
    let mut mappings = 0;
    for passes in 1..=FILL_PASSES {
        let pass = trial::run(bed, route, &offer)?;
        ensure!(
            pass.received > 0,
            "nothing reached the sink ({} sent)",
            pass.sent
        );
        mappings = nat64_daemon::mappings(&bed.gateway, nat64)?;
        if mappings >= u64::from(HOSTS) {
            return Ok(Fill {
                passes,
                seconds: start.elapsed().as_secs_f64(),
                mappings,
            });
        }
    }
    bail!("{mappings} of {HOSTS} hosts mapped after {FILL_PASSES} passes at {FILL_RATE} pps")
}

fn publish(outcomes: &[Outcome], left_out: &[String]) -> Result<()> {
    let mut rates_table = Table::new(
        &format!(
            "scale: packets/s through nat64 with {HOSTS} hosts cycling vs 1 host ({FRAME_LEN} B frames, one flow per host)"
        ),
        &[
            "path",
            "hosts",
            "saturated Mpps",
            "offered Mpps",
            "zero-loss Mpps",
            "CPU s/Mpkt",
            "saturated / 1 host",
            "zero-loss / 1 host",
        ],
    );
    let mut memory_table = Table::new(
        "scale: memory per mapping (maps: memlock from /proc/<pid>/fdinfo; RSS: growth from start to all hosts mapped)",
        &[
            "path",
            "mappings",
            "fill",
            "map memlock MiB",
            "maps B/mapping",
            "maps B/entry (capacity)",
            "RSS growth MiB",
            "RSS B/mapping",
        ],
    );
    let mut expiry_table = Table::new(
        &format!(
            "scale: expiry of {HOSTS} idle mappings (forget timer {FORGET_SECS} s) while one other host sends at saturation"
        ),
        &[
            "path",
            "forgotten",
            "sweep s (<=)",
            "Mpps before",
            "Mpps during",
            "during / before",
            "worst 100 ms before",
            "worst 100 ms during",
            "worst during / worst before",
        ],
    );
    let mut goals = Vec::new();
    for o in outcomes {
        let label = o.datapath.label();
        let one = &o.one_host;
        for (hosts, r) in [(1, one), (HOSTS, &o.all_hosts)] {
            rates_table.row(vec![
                label.to_owned(),
                hosts.to_string(),
                r.saturated_text(),
                format!("{:.3}", r.saturated.offered_pps() / 1e6),
                r.zero_loss_text(),
                format!("{:.2}", r.cpu_trial().cpu_seconds_per_million()),
                ratio(
                    r.saturated.received_pps(),
                    Some(one.saturated.received_pps()),
                ),
                ratio(r.zero_loss_pps(), Some(one.zero_loss_pps())),
            ]);
        }
        let shares = [
            o.all_hosts.saturated.received_pps() / one.saturated.received_pps(),
            o.all_hosts.zero_loss_pps() / one.zero_loss_pps(),
        ];
        goals.push(format!(
            "goal: {label} with {HOSTS} hosts within 20% of 1 host: saturated {:.2}x, zero-loss {:.2}x ({})",
            shares[0],
            shares[1],
            met(shares.iter().all(|s| *s >= 0.8))
        ));

        let memlock: u64 = o.maps.iter().map(|m| m.memlock_bytes).sum();
        let capacity = o.maps.iter().map(|m| m.max_entries).max().unwrap_or(0);
        let per_mapping = |bytes: f64| bytes / o.fill.mappings as f64;
        memory_table.row(vec![
            label.to_owned(),
            o.fill.mappings.to_string(),
            format!("{} pass(es), {:.1} s", o.fill.passes, o.fill.seconds),
            format!("{:.1}", mib(memlock as f64)),
            format!("{:.0}", per_mapping(memlock as f64)),
            format!(
                "{:.0} ({capacity} entries)",
                memlock as f64 / f64::from(capacity.max(1))
            ),
            format!("{:.1}", mib(o.rss_growth as f64)),
            format!("{:.0}", per_mapping(o.rss_growth as f64)),
        ]);

        let s = &o.sweep;
        let mpps = |pps: f64| format!("{:.3}", pps / 1e6);
        let worst_share = s.worst_during_pps / s.worst_before_pps;
        expiry_table.row(vec![
            label.to_owned(),
            (s.mappings_before - s.mappings_after).to_string(),
            format!("{:.2}", s.seconds),
            mpps(s.before_pps),
            mpps(s.during_pps),
            format!("{:.2}x", s.during_pps / s.before_pps),
            mpps(s.worst_before_pps),
            mpps(s.worst_during_pps),
            format!("{worst_share:.2}x"),
        ]);
        goals.push(format!(
            "goal: {label} forgets {HOSTS} mappings without stalling (worst 100 ms during the sweep >= 80% of the worst before): {worst_share:.2}x ({})",
            met(worst_share >= 0.8)
        ));
    }
    rates_table.note("The IPv4 side is not tracked (nft notrack on the pool): one masquerade address has about 64,000 ports towards the sink's address and port, fewer than the hosts; so the pool is routed to the box on every row, as XDP (direct) needs anyway.");
    rates_table.note("1 host: host 0 of the same frames, the others idle meanwhile; before the 100,000-host row every host is offered once more so all mappings are live.");
    memory_table.note("The maps are hash maps preallocated for their capacity: memlock is the same with 1 mapping as with 100,000; B/entry is the cost per possible mapping.");
    memory_table.note("fill: passes of every host once at 25,000 new hosts/s (the slow path) until `nat64 stats` counts them all.");
    expiry_table.note(&format!(
        "nat64 with mapping_forget_secs = {FORGET_SECS} (expiry runs every {} s); the sweep lasts from the last `nat64 stats` still counting all mappings (polled every 250 ms) to the log line after the kernel entries are deleted.",
        MAINTENANCE.as_secs()
    ));
    expiry_table.note("Rates from the sink's counters sampled every ~20 ms; worst 100 ms = the lowest rate over any 100 ms span (the whole sweep when it is shorter).");
    let datapath_lines = outcomes.iter().filter_map(|o| {
        let line = o.datapath_line.as_ref()?;
        Some(format!("{}: {line}", o.datapath.label()))
    });
    for line in datapath_lines.chain(left_out.iter().cloned()) {
        expiry_table.note(&line);
    }
    expiry_table.note("");
    for goal in &goals {
        expiry_table.note(goal);
    }
    let path = publish_tables("scale.txt", &[rates_table, memory_table, expiry_table])?;
    println!("written to {}", path.display());
    Ok(())
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}
