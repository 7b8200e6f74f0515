//! TCP bulk through the gateway, in Gbit/s: iperf3 from an IPv6-only client to an IPv4-only
//! server through the prefix (and back, `-R`), between the namespaces of the gateway tests.
//! Rows: TAYGA 0.9.2, nat64 on its TUN datapath with the TUN offloads (super-packets translated
//! whole) and without (`NAT64_TUN_OFFLOAD=0`, one packet per system call), and nat64's TC
//! datapath. Every row masquerades the pool out of the server side. Writes
//! target/bench/tcp_bulk.txt.
//!
//! Knobs: `NAT64_BENCH_TCP_SECS` (seconds per iperf3 run, default 5), `NAT64_BENCH_ROWS`.

use std::{process::Stdio, time::Duration};

use anyhow::{bail, Context, Result};
use nat64_bench::{
    gateways::{self, TAYGA},
    settings::{env_or, ready_to_run, Settings},
    Table,
};
use nat64_tests::{
    gateway_bed::{GatewayBed, PREFIX, SERVER_VIA_PREFIX},
    tempdir::TempDir,
};

const POOL: &str = "198.51.100.0/24";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    Tayga,
    TunOffloads,
    TunPlain,
    Tc,
}

impl Row {
    const ALL: [Row; 4] = [Row::Tayga, Row::TunOffloads, Row::TunPlain, Row::Tc];

    fn label(self) -> &'static str {
        match self {
            Row::Tayga => "TAYGA 0.9.2 (TUN)",
            Row::TunOffloads => "nat64 TUN (offloads)",
            Row::TunPlain => "nat64 TUN (NAT64_TUN_OFFLOAD=0)",
            Row::Tc => "nat64 TC",
        }
    }

    fn unavailable(self) -> Option<String> {
        (self == Row::Tayga && !std::path::Path::new(TAYGA).exists())
            .then(|| format!("{TAYGA} missing"))
    }
}

fn main() -> Result<()> {
    if !ready_to_run("tcp_bulk") {
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let secs: u64 = env_or("NAT64_BENCH_TCP_SECS", 5)?;
    let (rows, left_out) = settings.select("tcp_bulk", &Row::ALL, Row::label, Row::unavailable);
    let mut table = Table::new(
        &format!("TCP bulk through the gateway, iperf3, {secs} s per direction, one stream"),
        &[
            "path",
            "IPv6 -> IPv4 Gbit/s",
            "IPv4 -> IPv6 Gbit/s",
            "up / TAYGA",
            "down / TAYGA",
        ],
    );
    let mut measured: Vec<(Row, f64, f64)> = Vec::new();
    let mut notes = Vec::new();
    for row in rows {
        let mut bed = GatewayBed::new()?;
        let _dir = start(row, &mut bed)?;
        let up = iperf(&mut bed, secs, false)
            .with_context(|| format!("{}: {}", row.label(), bed.gateway.last_child_output()))?;
        let down = iperf(&mut bed, secs, true)
            .with_context(|| format!("{}: {}", row.label(), bed.gateway.last_child_output()))?;
        eprintln!(
            "tcp_bulk: {:<32} up {up:.2} Gbit/s, down {down:.2} Gbit/s",
            row.label()
        );
        if row != Row::Tayga {
            if let Some(line) = queue_line(&bed) {
                notes.push(format!("{}: {line}", row.label()));
            }
        }
        measured.push((row, up, down));
    }
    let tayga = measured.iter().find(|(r, _, _)| *r == Row::Tayga).copied();
    for &(row, up, down) in &measured {
        let ratio = |value: f64, base: Option<f64>| {
            base.filter(|b| *b > 0.0)
                .map_or("-".to_owned(), |b| format!("{:.2}x", value / b))
        };
        table.row(vec![
            row.label().to_owned(),
            format!("{up:.2}"),
            format!("{down:.2}"),
            ratio(up, tayga.map(|t| t.1)),
            ratio(down, tayga.map(|t| t.2)),
        ]);
    }
    table.note("");
    table.note(
        "client c0 (2001:db8:1::2) -> gateway eth0 | eth1 -> server s0 (192.0.2.2), veth, no pinning: \
         iperf3 client, server and gateway share the machine's CPUs; the pool (198.51.100.0/24) is \
         masqueraded out of eth1 on every row. The veths keep their default offloads, so TCP \
         super-packets (TSO) reach the gateway.",
    );
    for line in notes.iter().chain(&left_out) {
        table.note(line);
    }
    table.publish("tcp_bulk.txt")?;
    Ok(())
}

/// Starts the row's gateway in the bed; the returned directory lives as long as it runs.
fn start(row: Row, bed: &mut GatewayBed) -> Result<TempDir> {
    let dir = TempDir::new("bench-tcp-bulk")?;
    let data_dir = dir.path().display().to_string();
    let nat64 = |datapath: &str| {
        vec![
            "run".to_owned(),
            "--prefix".into(),
            PREFIX.into(),
            "--pool".into(),
            POOL.into(),
            "--datapath".into(),
            datapath.into(),
            "--egress".into(),
            "eth1".into(),
            "--data-dir".into(),
            data_dir.clone(),
            "--pin-dir".into(),
            format!("{data_dir}/pins"),
        ]
    };
    let (env, args) = match row {
        Row::Tayga => {
            start_tayga(bed, &dir)?;
            return Ok(dir);
        }
        Row::TunOffloads => (vec![], nat64("tun")),
        Row::TunPlain => (vec!["NAT64_TUN_OFFLOAD=0"], nat64("tun")),
        Row::Tc => (vec![], nat64("tc")),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bed.start_gateway_with_env(&env, &args)?;
    Ok(dir)
}

fn start_tayga(bed: &mut GatewayBed, dir: &TempDir) -> Result<()> {
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let conf = dir.path().join("tayga.conf");
    std::fs::write(
        &conf,
        format!(
            "tun-device nat64\nipv4-addr 198.51.100.1\nprefix {PREFIX}\ndynamic-pool {POOL}\ndata-dir {}\n",
            data_dir.display()
        ),
    )?;
    let conf = conf.display().to_string();
    bed.gateway.exec(&[TAYGA, "-c", &conf, "--mktun"])?;
    for cmd in [
        vec!["ip", "link", "set", "nat64", "up"],
        vec!["ip", "route", "add", POOL, "dev", "nat64"],
        vec!["ip", "-6", "route", "add", PREFIX, "dev", "nat64"],
        vec!["sysctl", "-qw", "net.ipv4.ip_forward=1"],
        vec!["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
        vec!["nft", "add", "table", "ip", "bench_nat"],
        vec![
            "nft",
            "add chain ip bench_nat postrouting { type nat hook postrouting priority srcnat ; }",
        ],
    ] {
        bed.gateway.exec(&cmd)?;
    }
    bed.gateway.exec(&[
        "nft",
        &format!("add rule ip bench_nat postrouting oifname \"eth1\" ip saddr {POOL} masquerade"),
    ])?;
    bed.gateway.spawn(&[TAYGA, "-c", &conf, "--nodetach"])?;
    std::thread::sleep(Duration::from_millis(500));
    if let Some(status) = bed.gateway.last_child_exit()? {
        bail!(
            "tayga exited ({status}): {}",
            bed.gateway.last_child_output()
        );
    }
    Ok(())
}

/// One iperf3 run; the receiver's Gbit/s.
fn iperf(bed: &mut GatewayBed, secs: u64, reverse: bool) -> Result<f64> {
    bed.server.spawn(&["iperf3", "-s", "-1", "-p", "5201"])?;
    std::thread::sleep(Duration::from_millis(300));
    let secs = secs.to_string();
    let mut args = vec!["-c", SERVER_VIA_PREFIX, "-p", "5201", "-t", &secs, "-J"];
    if reverse {
        args.push("-R");
    }
    let out = bed
        .client
        .command("iperf3")
        .args(&args)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bits = text
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|rest| rest.split("\"bits_per_second\":").nth(1))
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse::<f64>().ok())
        .with_context(|| format!("no sum_received in iperf3's report: {text}"))?;
    Ok(bits / 1e9)
}

/// nat64's line on how its TUN queues run.
fn queue_line(bed: &GatewayBed) -> Option<String> {
    bed.gateway
        .last_child_output()
        .lines()
        .map(gateways::strip_ansi)
        .find_map(|line| {
            let at = line.find("TUN queues ")?;
            Some(line[at..].trim().to_owned())
        })
}
