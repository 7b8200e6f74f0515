//! What forwards between generator and sink, one per table row: nothing but the sink itself
//! (the generator's ceiling), the kernel's plain IPv6 forwarding, an XDP program that only
//! redirects (the ceiling of an XDP gateway), TAYGA 0.9.2 and `nat64` on its TUN, TC and XDP
//! datapaths. The translators masquerade the pool out of `eth1`, as a TAYGA site does, so
//! conntrack and NAT44 cost the same on those rows; XDP direct forwarding has no NAT44.

use std::{
    net::Ipv6Addr,
    path::{Path as FsPath, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use nat64_common::maps::XdpForward;
use nat64_tests::tempdir::TempDir;

pub use crate::running::Running;
use crate::{
    nat64_daemon::{self, Datapath},
    running::{gateway_cpus, utf8},
    sink::Arrival,
    testbed::{exec, GatewayXdp, Path, Testbed, POOL, PREFIX, SINK_V6, SINK_VIA_PREFIX},
};

/// Debian's TAYGA, the program nat64 replaces.
pub const TAYGA: &str = "/usr/sbin/tayga";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// Generator straight into the sink: what the generator itself reaches.
    GeneratorCeiling,
    PlainIpv6Forwarding,
    /// An XDP program on the gateway that rewrites the Ethernet header and redirects out of
    /// `eth1`, no translation: the ceiling of an XDP gateway in this bed.
    XdpRedirect,
    Tayga,
    Nat64Tun,
    Nat64TunStateful,
    /// The kernel path: the TC program on the TUN device's egress.
    Nat64Tc,
    Nat64XdpStack,
    Nat64XdpDirect,
    Nat64TcStateful,
    Nat64XdpStatefulStack,
    Nat64XdpStatefulDirect,
}

impl Gateway {
    pub const ALL: [Gateway; 12] = [
        Gateway::GeneratorCeiling,
        Gateway::PlainIpv6Forwarding,
        Gateway::XdpRedirect,
        Gateway::Tayga,
        Gateway::Nat64Tun,
        Gateway::Nat64TunStateful,
        Gateway::Nat64Tc,
        Gateway::Nat64XdpStack,
        Gateway::Nat64XdpDirect,
        Gateway::Nat64TcStateful,
        Gateway::Nat64XdpStatefulStack,
        Gateway::Nat64XdpStatefulDirect,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Gateway::GeneratorCeiling => "generator -> sink (no gateway)",
            Gateway::PlainIpv6Forwarding => "kernel IPv6 forwarding",
            Gateway::XdpRedirect => "XDP redirect only (ceiling)",
            Gateway::Tayga => "TAYGA 0.9.2 (TUN)",
            _ => self.nat64().map_or("", Datapath::label),
        }
    }

    /// The datapath of a nat64 row.
    fn nat64(self) -> Option<Datapath> {
        match self {
            Gateway::Nat64Tun => Some(Datapath::Tun),
            Gateway::Nat64TunStateful => Some(Datapath::TunStateful),
            Gateway::Nat64Tc => Some(Datapath::Tc),
            Gateway::Nat64XdpStack => Some(Datapath::Xdp(XdpForward::Stack)),
            Gateway::Nat64XdpDirect => Some(Datapath::Xdp(XdpForward::Direct)),
            Gateway::Nat64TcStateful => Some(Datapath::TcStateful),
            Gateway::Nat64XdpStatefulStack => Some(Datapath::XdpStateful(XdpForward::Stack)),
            Gateway::Nat64XdpStatefulDirect => Some(Datapath::XdpStateful(XdpForward::Direct)),
            _ => None,
        }
    }

    fn translates(self) -> bool {
        !matches!(
            self,
            Gateway::GeneratorCeiling | Gateway::PlainIpv6Forwarding | Gateway::XdpRedirect
        )
    }

    /// Where the generator addresses its packets.
    pub fn destination(self) -> Ipv6Addr {
        if self.translates() {
            SINK_VIA_PREFIX
        } else {
            SINK_V6
        }
    }

    /// What the sink counts as arrived.
    pub fn arrival(self) -> Arrival {
        if self.translates() {
            Arrival::Ipv4Udp
        } else {
            Arrival::Ipv6Udp
        }
    }

    pub fn is_nat64(self) -> bool {
        self.nat64().is_some()
    }

    /// The program the bed puts on the gateway's `eth0`.
    pub fn gateway_xdp(self) -> GatewayXdp {
        match (self, self.nat64()) {
            (Gateway::XdpRedirect, _) => GatewayXdp::RedirectToSink,
            (_, Some(datapath)) => datapath.gateway_xdp(),
            _ => GatewayXdp::Pass,
        }
    }

    /// Why this row cannot run here, if it cannot.
    pub fn unavailable(self, nat64_binary: &FsPath) -> Option<String> {
        match (self, self.nat64()) {
            (Gateway::Tayga, _) if !FsPath::new(TAYGA).exists() => Some(format!("{TAYGA} missing")),
            (_, Some(datapath)) => datapath.unavailable(nat64_binary),
            _ => None,
        }
    }

    pub fn path(self, bed: &Testbed) -> Result<Path> {
        match self {
            Gateway::GeneratorCeiling => bed.direct_to_sink(),
            _ => bed.through_gateway(),
        }
    }

    pub fn start(self, bed: &mut Testbed, nat64_binary: &FsPath) -> Result<Running> {
        match (self, self.nat64()) {
            (Gateway::Tayga, _) => start_tayga(bed),
            (_, Some(datapath)) => nat64_daemon::start(
                bed,
                nat64_binary,
                &nat64_daemon::Options {
                    datapath,
                    pool: POOL,
                    toml: None,
                    slow_path: Default::default(),
                },
            ),
            _ => Ok(Running {
                pid: None,
                _dir: None,
                _pins: None,
            }),
        }
    }
}

fn start_tayga(bed: &mut Testbed) -> Result<Running> {
    let dir = TempDir::new("bench-tayga")?;
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let conf = dir.path().join("tayga.conf");
    std::fs::write(
        &conf,
        format!(
            "tun-device nat64\n\
             ipv4-addr 198.51.100.1\n\
             prefix {PREFIX}\n\
             dynamic-pool {POOL}\n\
             data-dir {}\n",
            data_dir.display()
        ),
    )?;
    let conf = utf8(&conf)?;
    // A TAYGA site's set-up: persistent device, routes by hand, masquerade out of the uplink.
    bed.gateway.exec(&[TAYGA, "-c", &conf, "--mktun"])?;
    for cmd in [
        "ip link set nat64 up".to_owned(),
        format!("ip route add {POOL} dev nat64"),
        format!("ip -6 route add {PREFIX} dev nat64"),
    ] {
        exec(&bed.gateway, &cmd)?;
    }
    let rules = dir.path().join("masquerade.nft");
    std::fs::write(
        &rules,
        format!(
            "table ip bench_nat {{\n\
             \x20 chain postrouting {{\n\
             \x20   type nat hook postrouting priority srcnat;\n\
             \x20   oifname \"eth1\" ip saddr {POOL} masquerade\n\
             \x20 }}\n\
             }}\n"
        ),
    )?;
    bed.gateway.exec(&["nft", "-f", &utf8(&rules)?])?;
    let cpus = gateway_cpus();
    let pid = bed
        .gateway
        .spawn(&["taskset", "-c", &cpus, TAYGA, "-c", &conf, "--nodetach"])?
        .id();
    std::thread::sleep(Duration::from_millis(500));
    if let Some(status) = bed.gateway.last_child_exit()? {
        bail!(
            "tayga exited ({status}): {}",
            bed.gateway.last_child_output()
        );
    }
    Ok(Running {
        pid: Some(pid),
        _dir: Some(dir),
        _pins: None,
    })
}

/// The gateway's log so far.
pub fn log(bed: &Testbed) -> String {
    bed.gateway.last_child_output()
}

/// nat64's start-up line on the datapath it runs (workers, XDP attach modes), from its log,
/// plain text without the timestamp.
pub fn datapath_line(bed: &Testbed) -> Option<String> {
    log(bed).lines().map(strip_ansi).find_map(|line| {
        let at = line.find(" datapath ")?;
        Some(line[at + 1..].trim().to_owned())
    })
}

/// What nat64's kernel programs counted, most frequent first (from `nat64 stats`): where the
/// packets of a row went (translated, passed to userspace, forwarded how).
pub fn kernel_counters_line(bed: &Testbed, binary: &FsPath) -> Option<String> {
    let binary = utf8(binary).ok()?;
    let out = bed
        .gateway
        .exec(&[&binary, "stats", "--device", "nat64"])
        .ok()?;
    let mut counts: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("tc ") || l.starts_with("xdp "))
        .filter_map(|l| {
            let (name, n) = l.rsplit_once(' ')?;
            Some((n.parse().ok()?, name.to_owned()))
        })
        .collect();
    if counts.is_empty() {
        return None;
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.0));
    let shown: Vec<String> = counts
        .iter()
        .take(8)
        .map(|(n, name)| format!("{name} {n}"))
        .collect();
    Some(format!("kernel counters: {}", shown.join(", ")))
}

/// nat64's line on how its TUN queues run (offloads or one packet per call), if it wrote one.
pub fn tun_queue_line(bed: &Testbed) -> Option<String> {
    log(bed).lines().map(strip_ansi).find_map(|line| {
        let at = line.find(" TUN queues ")?;
        Some(line[at + 1..].trim().to_owned())
    })
}

/// The log is coloured; the tables are plain text.
pub fn strip_ansi(line: &str) -> String {
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

/// A release `nat64` (the figure that matters), built unless `NAT64_BIN` names one.
pub fn release_nat64() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("NAT64_BIN") {
        return Ok(PathBuf::from(path));
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("bench has a parent")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "nat64-user",
            "--bin",
            "nat64",
        ])
        .current_dir(&workspace)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p nat64-user failed");
    }
    Ok(workspace.join("target/release/nat64"))
}
