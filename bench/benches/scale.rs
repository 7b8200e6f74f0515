//! Scale: nat64 holding 100,000 active mappings (stateless rows) or 1,001,000 stateful
//! sessions (stateful rows). The generator cycles each frame's IPv6 source through 100,000
//! hosts of 2001:db8:1::/64 (stateless), or 1,000 hosts times 1,001 source ports (stateful,
//! each host a /128 subscriber), no real hosts needed, offered slowly first so the slow path
//! maps (or opens) every one of them, then:
//!
//! - packets per second with all of them cycling against one host (stateless) or 64 flows of
//!   one host (stateful), same run (goal: within 20%);
//! - memory per mapping or session: the `memlock` of the kernel maps the daemon holds (host
//!   tables, or session maps), and the growth of its resident set, divided by the count;
//! - expiry: the daemon runs with a short forget (UDP) timer; the crowd goes idle while one
//!   other host keeps sending at saturation, and its rate during the sweep that forgets them
//!   is set against its rate before (goal: no stall).
//!
//! Rows: the TC datapath and, where the binary has them, XDP (stack) and XDP (direct);
//! stateful TC and XDP (direct). A stateless datapath takes about 2 minutes, most of it
//! waiting for the expiry timer; a stateful one about 4. Writes target/bench/scale.txt. Knobs
//! as for the throughput bench (`nat64_bench::settings`).

use std::{
    net::Ipv6Addr,
    path::Path as FsPath,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use nat64_bench::{
    expiry_sweep::{self, Held, Sweep},
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
use nat64_common::maps::{names, XdpForward};

/// 131,072 addresses: one for each host and to spare.
const POOL: &str = "100.64.0.0/15";
/// pool4 of the stateful rows (198.51.100.16 to .31) lies in here.
const STATEFUL_SOURCES: &str = "198.51.100.0/24";
/// Host n is this plus n in the last 32 bits (2001:db8:1::1:0 and on).
const FIRST_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 1, 0);
const FRAME_LEN: usize = 80;
const FILL_PASSES: u32 = 6;
/// nat64 runs the stateless pool's expiry on this period (MAINTENANCE_INTERVAL in
/// nat64-user's gateway); stateful expiry runs every second.
const MAINTENANCE: Duration = Duration::from_secs(30);

/// What a row makes the daemon hold, and how.
struct Load {
    held: Held,
    /// Source addresses and, per address, source ports the generator cycles through (coprime
    /// counts: every pair comes up).
    hosts: u32,
    flows: u32,
    /// What the crowd is set against: this many flows of one host.
    baseline_flows: u32,
    /// New sources per second offered to the slow path while filling.
    fill_rate: f64,
    /// Long enough that the crowd stays through the baseline measurement (under 30 s), so
    /// the sweep comes only once it is left idle.
    forget_secs: u64,
    sweep_every: Duration,
    maps: [&'static str; 2],
    toml: String,
    /// Sources left out of conntrack on the gateway.
    untracked: &'static str,
}

impl Load {
    fn of(datapath: Datapath) -> Load {
        const FORGET_SECS: u64 = 40;
        if datapath.is_stateful() {
            let pool4: Vec<String> = (16..32).map(|i| format!("\"198.51.100.{i}\"")).collect();
            Load {
                held: Held::Sessions,
                hosts: 1_000,
                flows: 1_001,
                baseline_flows: 64,
                fill_rate: 50_000.0,
                forget_secs: FORGET_SECS,
                sweep_every: Duration::from_secs(1),
                maps: [names::SESSIONS_6, names::SESSIONS_4],
                // 16 addresses of 63 blocks of 1,024 ports: a block for each of the 1,000
                // subscribers.
                toml: format!(
                    "[stateful]\npool4 = [{}]\nsubscriber_prefix_len = 128\nblock_size = 1024\n\
                     max_blocks = 1\nudp_timeout_secs = {FORGET_SECS}\n",
                    pool4.join(", ")
                ),
                untracked: STATEFUL_SOURCES,
            }
        } else {
            Load {
                held: Held::Mappings,
                hosts: 100_000,
                flows: 1,
                baseline_flows: 1,
                fill_rate: 25_000.0,
                forget_secs: FORGET_SECS,
                sweep_every: MAINTENANCE,
                maps: [names::V6_TO_V4, names::V4_TO_V6],
                toml: format!("mapping_idle_secs = 10\nmapping_forget_secs = {FORGET_SECS}\n"),
                untracked: POOL,
            }
        }
    }

    fn entries(&self) -> u64 {
        u64::from(self.hosts) * u64::from(self.flows)
    }

    fn what(&self) -> &'static str {
        match self.held {
            Held::Mappings => "mappings",
            Held::Sessions => "sessions",
        }
    }
}

/// The rows: the stateless kernel datapaths, then stateful TC and XDP (direct).
const ROWS: [Datapath; 5] = [
    Datapath::Tc,
    Datapath::Xdp(XdpForward::Stack),
    Datapath::Xdp(XdpForward::Direct),
    Datapath::TcStateful,
    Datapath::XdpStateful(XdpForward::Direct),
];

struct Outcome {
    datapath: Datapath,
    load: Load,
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
    let (datapaths, left_out) =
        settings.select("scale", &ROWS, Datapath::label, |d| d.unavailable(&nat64));
    let outcomes = datapaths
        .into_iter()
        .map(|d| run(&nat64, d, &settings).with_context(|| d.label()))
        .collect::<Result<Vec<_>>>()?;
    publish(&outcomes, &left_out)
}

fn run(nat64: &FsPath, datapath: Datapath, settings: &Settings) -> Result<Outcome> {
    let load = Load::of(datapath);
    let mut bed = Testbed::with(datapath.gateway_xdp(), SinkXdp::Count)?;
    bed.untrack(load.untracked)?;
    let running = nat64_daemon::start(
        &mut bed,
        nat64,
        &nat64_daemon::Options {
            datapath,
            pool: POOL,
            toml: Some(&load.toml),
            slow_path: Default::default(),
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

    let filled = fill(&mut bed, &hosts, nat64, &load)
        .with_context(|| format!("filling; gateway log:\n{}", gateways::log(&bed)))?;
    eprintln!(
        "scale: {label}: {} {} after {} pass(es), {:.1} s",
        filled.mappings,
        load.what(),
        filled.passes,
        filled.seconds
    );
    let maps = memory::open_maps(pid, &load.maps)?;
    let rss_growth = memory::rss_bytes(pid)? as i64 - rss_empty as i64;
    // The baseline alone, the others idle meanwhile (shorter than the forget timer).
    let one_host = rates::measure(&mut bed, &hosts, load.baseline_flows, 1, settings)?;
    fill(&mut bed, &hosts, nat64, &load).context("refreshing the crowd")?;
    let all_hosts = rates::measure(&mut bed, &hosts, load.flows, load.hosts, settings)?;
    for (n, r) in [
        (load.baseline_flows.into(), &one_host),
        (load.entries(), &all_hosts),
    ] {
        eprintln!(
            "scale: {label}: {n} source(s): saturated {:.3} Mpps, zero-loss {:.3} Mpps",
            r.saturated.received_pps() / 1e6,
            r.zero_loss_pps() / 1e6
        );
    }

    // From here the crowd is idle; another host keeps the datapath busy.
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
    let full = load.held.count(&bed.gateway, nat64)?;
    let patience =
        Duration::from_secs(load.forget_secs) + 2 * load.sweep_every + Duration::from_secs(40);
    let sweep = expiry_sweep::watch(&mut bed, &other, nat64, load.held, full, patience)
        .with_context(|| format!("expiry; gateway log:\n{}", gateways::log(&bed)))?;
    eprintln!(
        "scale: {label}: sweep of {} {} in <= {:.2} s: {:.3} Mpps before, {:.3} during",
        sweep.mappings_before - sweep.mappings_after,
        load.what(),
        sweep.seconds,
        sweep.before_pps / 1e6,
        sweep.during_pps / 1e6
    );
    Ok(Outcome {
        datapath,
        load,
        fill: filled,
        one_host,
        all_hosts,
        maps,
        rss_growth,
        sweep,
        datapath_line: gateways::datapath_line(&bed),
    })
}

/// Offers every source once per pass, slowly enough for the slow path, until each has its
/// mapping or session; the first packets of a pass that overflowed a queue come again in
/// the next.
fn fill(bed: &mut Testbed, route: &Route<'_>, nat64: &FsPath, load: &Load) -> Result<Fill> {
    let start = Instant::now();
    let wanted = load.entries();
    let offer = Offer {
        rate_pps: Some(load.fill_rate),
        duration: Duration::from_secs_f64(wanted as f64 / load.fill_rate),
        flows: load.flows,
        hosts: load.hosts,
    };
    let mut count = 0;
    for passes in 1..=FILL_PASSES {
        let pass = trial::run(bed, route, &offer)?;
        ensure!(
            pass.received > 0,
            "nothing reached the sink ({} sent)",
            pass.sent
        );
        count = load.held.count(&bed.gateway, nat64)?;
        if count >= wanted {
            return Ok(Fill {
                passes,
                seconds: start.elapsed().as_secs_f64(),
                mappings: count,
            });
        }
    }
    bail!(
        "{count} of {wanted} {} after {FILL_PASSES} passes at {} per second",
        load.what(),
        load.fill_rate
    )
}

fn publish(outcomes: &[Outcome], left_out: &[String]) -> Result<()> {
    let mut rates_table = Table::new(
        &format!(
            "scale: packets/s through nat64 with all its mappings or sessions cycling vs a few ({FRAME_LEN} B frames)"
        ),
        &[
            "path",
            "sources (host x port)",
            "saturated Mpps",
            "offered Mpps",
            "zero-loss Mpps",
            "CPU s/Mpkt",
            "saturated / baseline",
            "zero-loss / baseline",
        ],
    );
    let mut memory_table = Table::new(
        "scale: memory per mapping or session (maps: memlock from /proc/<pid>/fdinfo; RSS: growth from start to all held)",
        &[
            "path",
            "held",
            "fill",
            "map memlock MiB",
            "maps B/entry held",
            "maps B/entry (capacity)",
            "RSS growth MiB",
            "RSS B/entry held",
        ],
    );
    let mut expiry_table = Table::new(
        "scale: expiry of the idle crowd (forget or UDP timer 40 s) while one other host sends at saturation",
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
        let baseline = format!("1 x {}", o.load.baseline_flows);
        let crowd = format!("{} x {}", o.load.hosts, o.load.flows);
        for (sources, r) in [(baseline, one), (crowd, &o.all_hosts)] {
            rates_table.row(vec![
                label.to_owned(),
                sources,
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
            "goal: {label} with {} {} within 20% of the baseline: saturated {:.2}x, zero-loss {:.2}x ({})",
            o.load.entries(),
            o.load.what(),
            shares[0],
            shares[1],
            met(shares.iter().all(|s| *s >= 0.8))
        ));

        let memlock: u64 = o.maps.iter().map(|m| m.memlock_bytes).sum();
        let capacity = o.maps.iter().map(|m| m.max_entries).max().unwrap_or(0);
        let per_mapping = |bytes: f64| bytes / o.fill.mappings as f64;
        memory_table.row(vec![
            label.to_owned(),
            format!("{} {}", o.fill.mappings, o.load.what()),
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
            "goal: {label} forgets {} {} without stalling (worst 100 ms during the sweep >= 80% of the worst before): {worst_share:.2}x ({})",
            s.mappings_before - s.mappings_after,
            o.load.what(),
            met(worst_share >= 0.8)
        ));
    }
    rates_table.note("The IPv4 side is not tracked (nft notrack on the pool, or on pool4's /24): one masquerade address has about 64,000 ports towards the sink's address and port, fewer than the hosts; so the pool is routed to the box on every stateless row, as XDP (direct) needs anyway, and stateful NAT64 needs no conntrack.");
    rates_table.note("baseline: host 0's first flow (stateless) or first 64 flows (stateful) of the same frames, the others idle meanwhile; before the crowd's row every source is offered once more so all are live.");
    memory_table.note("The host tables are hash maps preallocated for their capacity: memlock is the same with 1 mapping as with 100,000; B/entry (capacity) is the cost per possible mapping. The session maps are not preallocated: memlock follows the sessions held.");
    memory_table.note("fill: passes of every source once at 25,000 (stateless) or 50,000 (stateful) new ones per second, the slow path's pace, until `nat64 stats` counts them all.");
    expiry_table.note(&format!(
        "stateless: mapping_forget_secs = 40, expiry every {} s, the sweep from the last `nat64 stats` still counting all mappings (polled every 250 ms) to the log line after the kernel entries are deleted; stateful: udp_timeout_secs = 40, expiry every second, the sweep until 1% of the sessions are left.",
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
