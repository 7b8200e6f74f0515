//! Packets per second through a gateway in a namespace test bed: the generator's reach with no
//! gateway, plain kernel IPv6 forwarding, an XDP program that only redirects (the ceiling of
//! the set-up), TAYGA 0.9.2 and `nat64` on its TUN, TC and XDP (stack, direct) datapaths,
//! stateless and stateful (RFC 6146 on one pool4 address, the kernel translating each flow
//! after its first packet),
//! 80- and 1,400-byte frames. Per row: the saturated receive rate (median of repeats) and
//! RFC 8219 throughput (highest offered rate without loss, binary search), with CPU seconds
//! per million packets and ratios to TAYGA and to the XDP redirect-only ceiling. Writes
//! target/bench/throughput.{txt,svg}.
//!
//! Goals: nat64 on TUN ≥ 2× TAYGA's packets per second; nat64 TC ≥ 3× TAYGA and ≥ 60% of plain
//! IPv6 forwarding; nat64 XDP direct ≥ 80% of the XDP redirect-only ceiling; stateful XDP
//! direct ≥ 2× stateless XDP stack (with masquerade), ≥ 90% of stateless XDP direct, and at
//! most 2× the ceiling's CPU per packet.
//!
//! Knobs: see `nat64_bench::settings` (`NAT64_BENCH_QUICK=1` takes about 3 minutes), plus
//! `NAT64_BENCH_RPS=1` (steer the gateway's receive to the non-generator core),
//! `NAT64_BENCH_UDP_GRO=1` (the gateway's veths aggregate forwarded UDP, every row) and `NAT64_BIN`
//! (a nat64 binary instead of building release).

use std::time::Duration;

use anyhow::{Context, Result};
use nat64_bench::{
    frames::UdpFrame,
    gateways::{self, Gateway},
    generator::GENERATOR_CPU,
    plot,
    rates::{self, ratio, Rates},
    settings::{ready_to_run, Settings},
    testbed::{self, Testbed, GENERATOR_V6},
    trial::Route,
    write_output, Table,
};

const FRAME_LENS: [usize; 2] = [80, 1400];

struct Measured {
    gateway: Gateway,
    frame_len: usize,
    rates: Rates,
}

fn main() -> Result<()> {
    if !ready_to_run("throughput") {
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let nat64 = gateways::release_nat64()?;
    let (rows, left_out) = settings.select("throughput", &Gateway::ALL, Gateway::label, |g| {
        g.unavailable(&nat64)
    });
    let mut measured = Vec::new();
    // What the daemon chose (workers, XDP attach mode), from its log.
    let mut gateway_notes = Vec::new();
    for gateway in rows {
        // A fresh bed per row: nothing one gateway left behind (routes, conntrack, nft)
        // reaches the next.
        let mut bed = Testbed::with(gateway.gateway_xdp(), testbed::SinkXdp::Count)?;
        let running = gateway.start(&mut bed, &nat64)?;
        let path = gateway.path(&bed)?;
        for frame_len in FRAME_LENS {
            let frame = UdpFrame::new(
                frame_len,
                path.source_mac,
                path.destination_mac,
                GENERATOR_V6,
                gateway.destination(),
            );
            let route = Route {
                interface: path.interface,
                frame: &frame,
                arrival: gateway.arrival(),
                gateway_pid: running.pid,
            };
            let rates = rates::measure(&mut bed, &route, settings.flows, 1, &settings)
                .with_context(|| {
                    format!(
                        "{} {frame_len} B; gateway log:\n{}",
                        gateway.label(),
                        gateways::log(&bed)
                    )
                })?;
            eprintln!(
                "throughput: {:<30} {frame_len:>5} B: saturated {:.3} Mpps (offered {:.3}), zero-loss {:.3} Mpps",
                gateway.label(),
                rates.saturated.received_pps() / 1e6,
                rates.saturated.offered_pps() / 1e6,
                rates.zero_loss_pps() / 1e6
            );
            measured.push(Measured {
                gateway,
                frame_len,
                rates,
            });
        }
        if gateway.is_nat64() {
            for line in [
                gateways::datapath_line(&bed),
                gateways::tun_queue_line(&bed),
                gateways::kernel_counters_line(&bed, &nat64),
            ]
            .into_iter()
            .flatten()
            {
                gateway_notes.push(format!("{}: {line}", gateway.label()));
            }
        }
    }
    publish(&measured, &settings, &gateway_notes, &left_out)
}

fn publish(
    measured: &[Measured],
    settings: &Settings,
    gateway_notes: &[String],
    left_out: &[String],
) -> Result<()> {
    let mut table = Table::new(
        &format!(
            "throughput, IPv6 UDP in, {} trials, saturated = median of {}, zero-loss = binary search ({} steps), {} flows",
            humantime(settings.trial),
            settings.repeats,
            settings.search_steps,
            settings.flows
        ),
        &[
            "path",
            "frame B",
            "saturated Mpps",
            "offered Mpps",
            "zero-loss Mpps",
            "CPU s/Mpkt",
            "saturated / TAYGA",
            "zero-loss / TAYGA",
            "saturated / ceiling",
            "zero-loss / ceiling",
        ],
    );
    let row_of = |gateway: Gateway, frame_len: usize| {
        measured
            .iter()
            .find(|m| m.gateway == gateway && m.frame_len == frame_len)
            .map(|m| m.rates)
    };
    let mut groups = Vec::new();
    for m in measured {
        let r = &m.rates;
        let bases = [Gateway::Tayga, Gateway::XdpRedirect].map(|g| row_of(g, m.frame_len));
        let mut cells = vec![
            m.gateway.label().to_owned(),
            m.frame_len.to_string(),
            r.saturated_text(),
            format!("{:.3}", r.saturated.offered_pps() / 1e6),
            r.zero_loss_text(),
            format!("{:.2}", r.cpu_trial().cpu_seconds_per_million()),
        ];
        for base in bases {
            cells.push(ratio(
                r.saturated.received_pps(),
                base.map(|b| b.saturated.received_pps()),
            ));
            cells.push(ratio(r.zero_loss_pps(), base.map(|b| b.zero_loss_pps())));
        }
        table.row(cells);
        groups.push(plot::Group {
            label: format!("{} {} B", m.gateway.label(), m.frame_len),
            saturated_mpps: r.saturated.received_pps() / 1e6,
            zero_loss_mpps: r.zero_loss_pps() / 1e6,
        });
    }
    table.note("");
    let receive = if std::env::var("NAT64_BENCH_RPS").is_ok_and(|v| v == "1") {
        "steered by RPS to the other CPU(s)"
    } else {
        "on the generator's CPU (its veth transmit runs the gateway's receive softirq)"
    };
    table.note(&format!(
        "generator: XDP live frames (BPF_PROG_TEST_RUN) on CPU {GENERATOR_CPU}, XDP_TX into a veth; \
         gateway receive {receive}; TAYGA and nat64 pinned (taskset) to the other CPU(s); \
         the sink counts in XDP and drops."
    ));
    table.note(if testbed::udp_gro() {
        "GRO: the gateway's eth0 and eth1 aggregate forwarded UDP (gro on, rx-udp-gro-forwarding on, \
         NAT64_BENCH_UDP_GRO=1), for every row alike."
    } else {
        "GRO: forwarded UDP is not aggregated (the veths' gro and rx-udp-gro-forwarding off on \
         every row; NAT64_BENCH_UDP_GRO=1 turns both on for all)."
    });
    table.note(
        "saturated = what reached the sink per second while the generator offered all it could (offered Mpps); \
         zero-loss = highest offered rate that lost nothing.",
    );
    table.note(
        ">= : nothing was lost even at saturation, so the generator (sharing its core with the \
         gateway's receive work) set the pace; the gateway takes at least this much.",
    );
    table.note(
        "CPU s/Mpkt = (gateway process user+system from /proc/<pid>/stat + softirq of all CPUs from /proc/stat) \
         per million packets received, in the zero-loss trial (saturated if none); the generator's own CPU is not counted.",
    );
    table.note(
        "ceiling = the XDP redirect-only row: an XDP program on the gateway's eth0 that rewrites \
         the Ethernet header and redirects out of eth1, no translation; the generator -> sink \
         row (no gateway at all) is what the generator reaches and is not used in ratios.",
    );
    table.note(
        "TAYGA, nat64 TUN, TC and XDP (stack) masquerade the pool (198.51.100.0/24) out of eth1 \
         (nftables); nat64 XDP (direct) redirects after a FIB lookup with no NAT44 (the pool is \
         routed to the box); the stateful rows share 198.51.100.1 among the flows with their \
         own tables (RFC 6146, no nftables, no conntrack): TUN in the workers alone, TC and XDP \
         in the kernel's session maps after each flow's first packet.",
    );
    for line in left_out {
        table.note(line);
    }
    table.note("");
    for frame_len in FRAME_LENS {
        let goals = [
            (Gateway::Nat64Tun, Gateway::Tayga, 2.0, "2x TAYGA"),
            (Gateway::Nat64Tc, Gateway::Tayga, 3.0, "3x TAYGA"),
            (
                Gateway::Nat64Tc,
                Gateway::PlainIpv6Forwarding,
                0.6,
                "60% of kernel IPv6 forwarding",
            ),
            (
                Gateway::Nat64XdpDirect,
                Gateway::XdpRedirect,
                0.8,
                "80% of the XDP redirect-only ceiling",
            ),
            (
                Gateway::Nat64XdpStatefulDirect,
                Gateway::Nat64XdpStack,
                2.0,
                "2x stateless XDP (stack) with masquerade",
            ),
            (
                Gateway::Nat64XdpStatefulDirect,
                Gateway::Nat64XdpDirect,
                0.9,
                "90% of stateless XDP (direct)",
            ),
        ];
        for (gateway, base, share, goal) in goals {
            table.note(&goal_line(
                gateway,
                frame_len,
                row_of(gateway, frame_len),
                row_of(base, frame_len),
                share,
                goal,
            ));
        }
    }
    for frame_len in FRAME_LENS {
        table.note(&cpu_goal_line(
            Gateway::Nat64XdpStatefulDirect,
            frame_len,
            row_of(Gateway::Nat64XdpStatefulDirect, frame_len),
            row_of(Gateway::XdpRedirect, frame_len),
            2.0,
        ));
    }
    for line in gateway_notes {
        table.note(line);
    }
    let path = table.publish("throughput.txt")?;
    let svg = plot::bar_chart("packets per second through the gateway (Mpps)", &groups);
    let svg_path = write_output("throughput.svg", &svg)?;
    println!("written: {} and {}", path.display(), svg_path.display());
    Ok(())
}

/// Whether `rates` reach `share` of `base`, on both figures.
fn goal_line(
    gateway: Gateway,
    frame_len: usize,
    rates: Option<Rates>,
    base: Option<Rates>,
    share: f64,
    goal: &str,
) -> String {
    let head = format!("goal: {} >= {goal}, {frame_len} B:", gateway.label());
    let (Some(r), Some(b)) = (rates, base) else {
        return format!("{head} not measured (row missing)");
    };
    let shares = [
        r.saturated.received_pps() / b.saturated.received_pps(),
        r.zero_loss_pps() / b.zero_loss_pps(),
    ];
    let met = shares.iter().all(|s| *s >= share);
    format!(
        "{head} saturated {:.2}x, zero-loss {:.2}x ({})",
        shares[0],
        shares[1],
        if met { "met" } else { "NOT met" }
    )
}

/// Whether `rates` cost at most `times` the CPU per packet of `base`.
fn cpu_goal_line(
    gateway: Gateway,
    frame_len: usize,
    rates: Option<Rates>,
    base: Option<Rates>,
    times: f64,
) -> String {
    let head = format!(
        "goal: {} CPU per packet <= {times}x the XDP redirect-only ceiling's, {frame_len} B:",
        gateway.label()
    );
    let (Some(r), Some(b)) = (rates, base) else {
        return format!("{head} not measured (row missing)");
    };
    let (ours, ceiling) = (
        r.cpu_trial().cpu_seconds_per_million(),
        b.cpu_trial().cpu_seconds_per_million(),
    );
    let share = ours / ceiling;
    format!(
        "{head} {ours:.2} against {ceiling:.2} CPU s/Mpkt, {share:.2}x ({})",
        if share <= times { "met" } else { "NOT met" }
    )
}

fn humantime(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
