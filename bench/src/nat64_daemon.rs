//! The release `nat64` as a gateway in the test bed: started on one of its datapaths, asked
//! for its mapping count, and told apart from a build that lacks the XDP datapath.

use std::{
    path::Path as FsPath,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use nat64_common::maps::XdpForward;
use nat64_tests::{bpffs::BpfFs, netns::Netns, tempdir::TempDir};

use crate::{
    running::{gateway_cpus, utf8, Running},
    testbed::{GatewayXdp, Testbed, PREFIX},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datapath {
    Tun,
    /// Stateful NAT64 (`[stateful]`) in the TUN workers, pool4 one address of the pool.
    TunStateful,
    /// The TC program on the TUN device only.
    Tc,
    /// Stateful NAT64 with the TC program translating the flows of open sessions.
    TcStateful,
    /// The XDP program on `eth0` and `eth1`, the TC program behind it, sending what it
    /// translated as `--xdp-forward` says.
    Xdp(XdpForward),
    /// The same with stateful NAT64.
    XdpStateful(XdpForward),
}

impl Datapath {
    /// The kernel datapaths, as the first-packet and scale benches run them.
    pub const KERNEL: [Datapath; 3] = [
        Datapath::Tc,
        Datapath::Xdp(XdpForward::Stack),
        Datapath::Xdp(XdpForward::Direct),
    ];

    pub fn label(self) -> &'static str {
        match self {
            Datapath::Tun => "nat64 TUN",
            Datapath::TunStateful => "nat64 TUN stateful",
            Datapath::Tc => "nat64 TC",
            Datapath::Xdp(XdpForward::Stack) => "nat64 XDP (stack)",
            Datapath::Xdp(XdpForward::Direct) => "nat64 XDP (direct)",
            Datapath::TcStateful => "nat64 TC stateful",
            Datapath::XdpStateful(XdpForward::Stack) => "nat64 XDP stateful (stack)",
            Datapath::XdpStateful(XdpForward::Direct) => "nat64 XDP stateful (direct)",
        }
    }

    /// Stateful NAT64 on pool4 ([`STATEFUL_POOL4`]) instead of the dynamic pool.
    pub fn is_stateful(self) -> bool {
        matches!(
            self,
            Datapath::TunStateful | Datapath::TcStateful | Datapath::XdpStateful(_)
        )
    }

    /// Whether the XDP program runs on the bed's veths, and how it forwards.
    fn xdp(self) -> Option<XdpForward> {
        match self {
            Datapath::Xdp(f) | Datapath::XdpStateful(f) => Some(f),
            _ => None,
        }
    }

    /// The bed leaves `eth0` to the daemon when it attaches XDP there.
    pub fn gateway_xdp(self) -> GatewayXdp {
        match self.xdp() {
            Some(_) => GatewayXdp::Gateways,
            None => GatewayXdp::Pass,
        }
    }

    /// Why `binary` cannot run this datapath, if it cannot.
    pub fn unavailable(self, binary: &FsPath) -> Option<String> {
        self.xdp().and_then(|_| xdp_unsupported(binary))
    }
}

/// What a bench asks of the daemon beyond the test bed's fixed addresses.
/// pool4 of the stateful rows: the first address of the pool the other rows hand out.
pub const STATEFUL_POOL4: &str = "198.51.100.1";

pub struct Options<'a> {
    pub datapath: Datapath,
    pub pool: &'a str,
    /// Lines of a TOML configuration file (e.g. short mapping timers); the command line
    /// sets everything else.
    pub toml: Option<&'a str>,
    /// The XDP rows' slow path (the daemon's default: AF_XDP).
    pub slow_path: SlowPath,
}

/// Where the XDP rows' untranslated frames go (`--xdp-slow-path`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowPath {
    /// An AF_XDP socket per receive queue, its translations into the TUN device (the
    /// daemon's default).
    #[default]
    AfXdp,
    /// The same, its translations sent straight out by AF_XDP transmit (direct rows only).
    AfXdpTransmit,
    /// Through the stack into the TUN device.
    Tun,
}

impl SlowPath {
    pub fn label(self) -> &'static str {
        match self {
            SlowPath::AfXdp => "AF_XDP",
            SlowPath::AfXdpTransmit => "AF_XDP transmit",
            SlowPath::Tun => "TUN",
        }
    }
}

/// Why `binary` cannot run the XDP rows, if it cannot.
fn xdp_unsupported(binary: &FsPath) -> Option<String> {
    match std::process::Command::new(binary)
        .args(["run", "--help"])
        .output()
    {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("--xdp-forward") => None,
        Ok(_) => Some(format!(
            "{} run --help has no --xdp-forward (no XDP datapath in this build)",
            binary.display()
        )),
        Err(err) => Some(format!("cannot run {}: {err}", binary.display())),
    }
}

pub fn start(bed: &mut Testbed, binary: &FsPath, options: &Options<'_>) -> Result<Running> {
    let dir = TempDir::new("bench-nat64")?;
    // A bpf filesystem of its own: the daemon's default pin directory is one per host, shared
    // with any other nat64 running on it (tests, another bench).
    let pins = BpfFs::mount("bench-nat64-pins")?;
    let binary = utf8(binary)?;
    let data_dir = utf8(dir.path())?;
    let pin_dir = utf8(pins.path())?;
    let cpus = gateway_cpus();
    let mut argv: Vec<&str> = vec!["taskset", "-c", &cpus, &binary, "run"];
    let config_file;
    // Stateful NAT64 shares the pool's first address instead of handing out the pool.
    let stateful = format!(
        "{}[stateful]\npool4 = [\"{}\"]\n",
        options.toml.unwrap_or(""),
        STATEFUL_POOL4
    );
    // A TOML of the caller's with a [stateful] table of its own is used as it is.
    let own_stateful = options.toml.is_some_and(|t| t.contains("[stateful]"));
    let toml = if options.datapath.is_stateful() && !own_stateful {
        Some(stateful.as_str())
    } else {
        options.toml
    };
    if let Some(toml) = toml {
        config_file = utf8(&dir.path().join("nat64.toml"))?;
        std::fs::write(&config_file, toml)?;
        argv.extend(["--config", &config_file]);
    }
    let datapath = match options.datapath {
        Datapath::Tun | Datapath::TunStateful => "tun",
        _ => "tc",
    };
    argv.extend(["--prefix", PREFIX]);
    if !options.datapath.is_stateful() {
        argv.extend(["--pool", options.pool]);
    }
    argv.extend([
        "--datapath",
        datapath,
        "--data-dir",
        &data_dir,
        "--pin-dir",
        &pin_dir,
    ]);
    // `--iface` attaches the XDP program, so only the XDP rows name interfaces. The
    // stateless pool is masqueraded out of eth1 (`--egress`) except where XDP forwards
    // directly; stateful NAT64 needs no masquerade at all.
    if let Some(forward) = options.datapath.xdp() {
        argv.extend(["--iface", "eth0", "--iface", "eth1", "--xdp-forward"]);
        argv.push(match forward {
            XdpForward::Stack => "stack",
            XdpForward::Direct => "direct",
        });
        match options.slow_path {
            SlowPath::Tun => argv.extend(["--xdp-slow-path", "tun"]),
            SlowPath::AfXdpTransmit => argv.extend(["--xdp-slow-path", "af-xdp-transmit"]),
            SlowPath::AfXdp => {}
        }
    }
    let masqueraded =
        !options.datapath.is_stateful() && options.datapath != Datapath::Xdp(XdpForward::Direct);
    if masqueraded {
        argv.extend(["--egress", "eth1"]);
    }
    let pid = bed.gateway.spawn(&argv)?.id();
    wait_until_serving(bed, options.datapath.xdp().is_some())?;
    Ok(Running {
        pid: Some(pid),
        _dir: Some(dir),
        _pins: Some(pins),
    })
}

/// Ready once the prefix is routed into the device, the log names the datapath (the kernel
/// path is attached, or not to be) and, for XDP, both veths carry a program.
fn wait_until_serving(bed: &mut Testbed, xdp: bool) -> Result<()> {
    let start = Instant::now();
    loop {
        let routed = !bed
            .gateway
            .exec(&["ip", "-6", "route", "show", PREFIX])?
            .stdout
            .is_empty();
        let named = bed.gateway.last_child_output().contains(" datapath ");
        if routed && named && (!xdp || (has_xdp(bed, "eth0")? && has_xdp(bed, "eth1")?)) {
            return Ok(());
        }
        if let Some(status) = bed.gateway.last_child_exit()? {
            bail!(
                "nat64 exited ({status}): {}",
                bed.gateway.last_child_output()
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            bail!(
                "nat64 did not start serving (route to {PREFIX}{}): {}",
                if xdp { ", XDP on eth0 and eth1" } else { "" },
                bed.gateway.last_child_output()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn has_xdp(bed: &Testbed, interface: &str) -> Result<bool> {
    let out = bed
        .gateway
        .exec(&["ip", "-details", "link", "show", "dev", interface])?;
    Ok(String::from_utf8_lossy(&out.stdout).contains("prog/xdp"))
}

/// The dynamic mapping count of the daemon running in `gateway`, as `nat64 stats` prints it.
pub fn mappings(gateway: &Netns, binary: &FsPath) -> Result<u64> {
    let out = gateway.exec(&[&utf8(binary)?, "stats", "--device", "nat64"])?;
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .find_map(|line| line.strip_prefix("mappings "))
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("no mappings line in nat64 stats:\n{text}"))?
        .parse()
        .context("nat64 stats: mappings")
}

/// The stateful session count (every protocol) of the daemon running in `gateway`, as
/// `nat64 stats` prints it.
pub fn sessions(gateway: &Netns, binary: &FsPath) -> Result<u64> {
    let out = gateway.exec(&[&utf8(binary)?, "stats", "--device", "nat64"])?;
    let text = String::from_utf8(out.stdout)?;
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("stateful sessions: "))
        .with_context(|| format!("no stateful sessions line in nat64 stats:\n{text}"))?;
    line.split(", ")
        .map(|part| {
            part.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .with_context(|| format!("nat64 stats: stateful sessions: {line}"))
        })
        .sum()
}
