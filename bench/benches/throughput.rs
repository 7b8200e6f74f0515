//! Packets per second through a gateway in a namespace test bed: the generator's ceiling,
//! plain kernel IPv6 forwarding, TAYGA 0.9.2 and `nat64` on its TUN datapath, 80- and
//! 1,400-byte frames. Per row: the saturated receive rate (median of repeats) and RFC 8219
//! throughput (highest offered rate without loss, binary search), with CPU seconds per
//! million packets and ratios to TAYGA. Writes target/bench/throughput.{txt,svg}.
//!
//! Goals: nat64 on TUN ≥ 2× TAYGA's packets per second; nat64 TC ≥ 3× TAYGA and ≥ 60% of plain
//! IPv6 forwarding.
//!
//! `NAT64_BENCH_QUICK=1`: one repeat, 1 s trials, 4 search steps (about 2 minutes).
//! `NAT64_BENCH_FLOWS` (default 64 source ports), `NAT64_BENCH_LOSS` (tolerated loss ratio
//! for the search, default 0), `NAT64_BENCH_ROWS` (comma-separated label parts: only those
//! rows), `NAT64_BENCH_RPS=1` (steer the gateway's receive to the non-generator core),
//! `NAT64_BIN` (a nat64 binary instead of building release), `NAT64_BENCH_TRIAL_SECS` (trial
//! length, e.g. long enough to profile a gateway under load).

use std::{path::Path, time::Duration};

use anyhow::{Context, Result};
use nat64_bench::{
    frames::UdpFrame,
    gateways::{self, Gateway},
    generator::{Offer, GENERATOR_CPU},
    plot, programs,
    search::{self, ZeroLoss},
    testbed::{Testbed, GENERATOR_V6},
    trial::{self, Route, Trial},
    write_output, Table,
};

const FRAME_LENS: [usize; 2] = [80, 1400];

struct Settings {
    trial: Duration,
    repeats: usize,
    search_steps: usize,
    flows: u32,
    loss_ratio: f64,
    /// Only the rows whose label contains one of these (`NAT64_BENCH_ROWS=TAYGA,nat64`).
    rows: Vec<String>,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let quick = std::env::var("NAT64_BENCH_QUICK").is_ok_and(|v| v == "1");
        Ok(Self {
            trial: Duration::from_secs(env_or(
                "NAT64_BENCH_TRIAL_SECS",
                if quick { 1 } else { 2 },
            )?),
            repeats: if quick { 1 } else { 3 },
            search_steps: if quick { 4 } else { 6 },
            flows: env_or("NAT64_BENCH_FLOWS", 64)?,
            loss_ratio: env_or("NAT64_BENCH_LOSS", 0.0)?,
            rows: std::env::var("NAT64_BENCH_ROWS")
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(value) => value.parse().with_context(|| format!("{name}={value}")),
        Err(_) => Ok(default),
    }
}

struct Measured {
    gateway: Gateway,
    frame_len: usize,
    saturated: Trial,
    zero_loss: ZeroLoss,
}

impl Measured {
    /// CPU per packet is charged where nothing is lost: at saturation, the receive work of
    /// packets later dropped at the TUN queue would count against the ones delivered.
    fn cpu_trial(&self) -> Trial {
        match self.zero_loss {
            ZeroLoss::Found(t) => t,
            ZeroLoss::Below(_) => self.saturated,
        }
    }

    fn zero_loss_pps(&self) -> f64 {
        match self.zero_loss {
            ZeroLoss::Found(t) => t.offered_pps(),
            ZeroLoss::Below(_) => 0.0,
        }
    }
}

fn main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED throughput: needs root (BPF, network namespaces); run `sudo -E cargo xtask bench`");
        return Ok(());
    }
    if !programs::available() {
        eprintln!("SKIPPED throughput: built with AYA_BUILD_SKIP=1, no eBPF generator");
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let nat64 = gateways::release_nat64()?;
    let mut measured = Vec::new();
    let mut nat64_workers = String::new();
    for gateway in Gateway::ALL {
        if !settings.rows.is_empty()
            && !settings
                .rows
                .iter()
                .any(|r| gateway.label().contains(r.as_str()))
        {
            continue;
        }
        if gateway == Gateway::Tayga && !Path::new(gateways::TAYGA).exists() {
            eprintln!(
                "throughput: {} missing, TAYGA row left out",
                gateways::TAYGA
            );
            continue;
        }
        // A fresh bed per row: nothing one gateway left behind (routes, conntrack, nft)
        // reaches the next.
        let mut bed = Testbed::new()?;
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
            let m =
                measure(&mut bed, &route, gateway, frame_len, &settings).with_context(|| {
                    format!(
                        "{} {frame_len} B; gateway log:\n{}",
                        gateway.label(),
                        gateways::log(&bed)
                    )
                })?;
            eprintln!(
                "throughput: {:<28} {frame_len:>5} B: saturated {:.3} Mpps (offered {:.3}), zero-loss {:.3} Mpps",
                gateway.label(),
                m.saturated.received_pps() / 1e6,
                m.saturated.offered_pps() / 1e6,
                m.zero_loss_pps() / 1e6
            );
            measured.push(m);
        }
        if gateway == Gateway::Nat64Tun {
            nat64_workers = gateways::log(&bed)
                .lines()
                .find(|l| l.contains("worker(s)"))
                .map(|l| strip_ansi(l.trim()))
                .unwrap_or_default();
        }
    }
    publish(&measured, &settings, &nat64_workers)
}

fn measure(
    bed: &mut Testbed,
    route: &Route<'_>,
    gateway: Gateway,
    frame_len: usize,
    settings: &Settings,
) -> Result<Measured> {
    let mut run = |rate: Option<f64>, duration: Duration| {
        let offer = Offer {
            rate_pps: rate,
            duration,
            flows: settings.flows,
        };
        trial::run(bed, route, &offer)
    };
    // Mappings, conntrack entries and neighbour state exist before anything is timed; and a
    // gateway that forwards nothing is an error, not a zero in the table.
    let warm_up = run(Some(20_000.0), Duration::from_millis(500))?;
    anyhow::ensure!(
        warm_up.received > 0,
        "nothing reached the sink during warm-up ({} sent)",
        warm_up.sent
    );
    let saturated = search::saturated(settings.repeats, |rate| run(rate, settings.trial))?;
    // The zero-loss rate is usually near what the gateway delivers when saturated; the
    // search climbs from there when it is higher (receive livelock), up to the generator's
    // rate.
    let zero_loss = search::zero_loss(
        saturated.received_pps() * 1.05,
        saturated.offered_pps(),
        settings.search_steps,
        settings.loss_ratio,
        |rate| run(rate, settings.trial),
    )?;
    Ok(Measured {
        gateway,
        frame_len,
        saturated,
        zero_loss,
    })
}

fn publish(measured: &[Measured], settings: &Settings, nat64_workers: &str) -> Result<()> {
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
        ],
    );
    let tayga = |frame_len: usize| {
        measured
            .iter()
            .find(|m| m.gateway == Gateway::Tayga && m.frame_len == frame_len)
    };
    let ratio = |value: f64, base: Option<f64>| match base {
        Some(base) if base > 0.0 => format!("{:.2}x", value / base),
        _ => "-".to_owned(),
    };
    let mut groups = Vec::new();
    for m in measured {
        let base = tayga(m.frame_len);
        // Nothing lost at saturation: the generator, not the gateway, set the pace.
        let bound = if m.saturated.lost() == 0 { ">=" } else { "" };
        let zero_loss = match m.zero_loss {
            ZeroLoss::Found(t) => format!("{bound}{:.3}", t.offered_pps() / 1e6),
            ZeroLoss::Below(rate) => format!("<{:.3}", rate / 1e6),
        };
        table.row(vec![
            m.gateway.label().to_owned(),
            m.frame_len.to_string(),
            format!("{bound}{:.3}", m.saturated.received_pps() / 1e6),
            format!("{:.3}", m.saturated.offered_pps() / 1e6),
            zero_loss,
            format!("{:.2}", m.cpu_trial().cpu_seconds_per_million()),
            ratio(
                m.saturated.received_pps(),
                base.map(|b| b.saturated.received_pps()),
            ),
            ratio(m.zero_loss_pps(), base.map(Measured::zero_loss_pps)),
        ]);
        groups.push(plot::Group {
            label: format!("{} {} B", m.gateway.label(), m.frame_len),
            saturated_mpps: m.saturated.received_pps() / 1e6,
            zero_loss_mpps: m.zero_loss_pps() / 1e6,
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
    table
        .note("TAYGA and nat64 both masquerade the pool (198.51.100.0/24) out of eth1 (nftables).");
    if !nat64_workers.is_empty() {
        table.note(&format!("nat64: {nat64_workers}"));
    }
    let path = table.publish("throughput.txt")?;
    let svg = plot::bar_chart("packets per second through the gateway (Mpps)", &groups);
    let svg_path = write_output("throughput.svg", &svg)?;
    println!("written: {} and {}", path.display(), svg_path.display());
    Ok(())
}

fn humantime(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The gateway's log is coloured; the table is plain text.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
