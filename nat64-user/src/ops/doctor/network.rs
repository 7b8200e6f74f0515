//! The host's network as the gateway will find it: forwarding, reverse-path filtering,
//! routes to the prefix and the pool, the uplink's MTU, XDP per interface.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Check, Verdict};
use crate::config::Config;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|v| v.trim().to_owned())
}

pub fn forwarding() -> Vec<Check> {
    [
        ("net/ipv4/ip_forward", "net.ipv4.ip_forward"),
        ("net/ipv6/conf/all/forwarding", "net.ipv6.conf.all.forwarding"),
    ]
    .into_iter()
    .map(|(path, name)| match sysctl(path).as_deref() {
        Some("1") => Check::new("forwarding", Verdict::Ok, format!("{name} = 1")),
        Some(value) => Check::new(
            "forwarding",
            Verdict::Warn,
            format!("{name} = {value}: `nat64 run` turns it on; TAYGA mode (tayga.conf) leaves it to you, as TAYGA does"),
        )
        .fix(format!("sysctl -w {name}=1 (and in /etc/sysctl.d/ for TAYGA mode)")),
        None => Check::new("forwarding", Verdict::Warn, format!("{name}: unreadable")),
    })
    .collect()
}

pub fn rp_filter(interfaces: &[String]) -> Vec<Check> {
    let all = sysctl("net/ipv4/conf/all/rp_filter").unwrap_or_default();
    let mut checks = vec![Check::new(
        "rp_filter",
        if all == "1" {
            Verdict::Info
        } else {
            Verdict::Ok
        },
        format!(
            "net.ipv4.conf.all.rp_filter = {all}{}",
            if all == "1" {
                " (strict): `nat64 run` sets the XDP interfaces loose or off, and puts it back on stop"
            } else {
                ""
            }
        ),
    )];
    for interface in interfaces {
        let value = sysctl(&format!("net/ipv4/conf/{interface}/rp_filter")).unwrap_or_default();
        let strict = value == "1" || all == "1";
        checks.push(Check::new(
            "rp_filter",
            if strict { Verdict::Info } else { Verdict::Ok },
            format!(
                "{interface}: rp_filter = {value}{}",
                if strict {
                    "; strict filtering drops what XDP hands the stack: `nat64 run` lowers it while it runs"
                } else {
                    ""
                }
            ),
        ));
    }
    checks
}

/// (destination, prefix length, device) of the IPv4 main table.
fn ipv4_routes() -> Vec<(Ipv4Addr, u8, String)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The file holds them in host (little-endian) byte order.
            Some((
                Ipv4Addr::from(u32::from_be(dest)),
                u32::from_be(mask).count_ones() as u8,
                (*f.first()?).to_owned(),
            ))
        })
        .collect()
}

/// (destination, prefix length, device) of the IPv6 routes.
fn ipv6_routes() -> Vec<(Ipv6Addr, u8, String)> {
    let text = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u128::from_str_radix(f.first()?, 16).ok()?;
            let len = u8::from_str_radix(f.get(1)?, 16).ok()?;
            Some((Ipv6Addr::from(dest), len, (*f.get(9)?).to_owned()))
        })
        .collect()
}

fn route_check(what: &str, net: String, device: &str, found: Option<String>) -> Check {
    match found {
        Some(dev) if dev == device => Check::new(
            "routes",
            Verdict::Ok,
            format!("{what} {net} is routed into {device}"),
        ),
        Some(dev) => Check::new(
            "routes",
            Verdict::Warn,
            format!("{what} {net} is routed to {dev}, not {device}: something else serves it"),
        )
        .fix(format!("remove that route (ip route del {net}) or pick another {what}")),
        None => Check::new(
            "routes",
            Verdict::Info,
            format!("no route to the {what} {net} yet: `nat64 run` adds it (TAYGA mode: tun-route, or your own script)"),
        ),
    }
}

pub fn routes(config: &Config) -> Vec<Check> {
    let device = config.tun_device.as_str();
    let mut checks = Vec::new();
    if let Some(prefix) = config.prefix {
        let found = ipv6_routes()
            .into_iter()
            .find(|(dest, len, _)| *dest == prefix.network() && *len == prefix.prefix_len())
            .map(|(_, _, dev)| dev);
        let net = format!("{}/{}", prefix.network(), prefix.prefix_len());
        checks.push(route_check("prefix", net, device, found));
    }
    if let Some(pool) = config.dynamic_pool {
        let found = ipv4_routes()
            .into_iter()
            .find(|(dest, len, _)| *dest == pool.network() && *len == pool.prefix_len())
            .map(|(_, _, dev)| dev);
        let net = format!("{}/{}", pool.network(), pool.prefix_len());
        checks.push(route_check("pool", net, device, found));
    }
    checks
}

fn mtu_of(interface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn uplink_mtu(egress: Option<&str>) -> Check {
    let uplink = egress.map(str::to_owned).or_else(|| {
        ipv4_routes()
            .into_iter()
            .find(|(dest, len, _)| dest.is_unspecified() && *len == 0)
            .map(|(_, _, dev)| dev)
    });
    let Some(uplink) = uplink else {
        return Check::new(
            "uplink",
            Verdict::Warn,
            "no IPv4 default route: `nat64 run` cannot tell which interface to masquerade out of",
        )
        .fix("add a default route, or name the uplink with --egress (TOML egress)");
    };
    match mtu_of(&uplink) {
        Some(mtu) if mtu >= 1300 => Check::new(
            "uplink",
            Verdict::Ok,
            format!("uplink {uplink}, MTU {mtu}: the pool route gets MTU {} (IPv6 headers are 20 bytes longer)", mtu - 20),
        ),
        Some(mtu) => Check::new(
            "uplink",
            Verdict::Warn,
            format!("uplink {uplink}, MTU {mtu}: under 1300, translated IPv4 packets cannot fill IPv6's minimum MTU of 1280"),
        )
        .fix(format!("raise the MTU of {uplink} to 1300 or more")),
        None => Check::new(
            "uplink",
            Verdict::Fail,
            format!("uplink {uplink} does not exist"),
        )
        .fix("name an existing interface with --egress"),
    }
}

/// Drivers with native (driver-mode) XDP in current kernels.
const NATIVE_XDP_DRIVERS: &[&str] = &[
    "veth",
    "virtio_net",
    "tun",
    "ixgbe",
    "ixgbevf",
    "i40e",
    "ice",
    "igb",
    "igc",
    "mlx4_en",
    "mlx5_core",
    "bnxt_en",
    "nfp",
    "qede",
    "ena",
    "nicvf",
    "mvneta",
    "mvpp2",
    "sfc",
    "stmmac",
    "netsec",
    "dpaa2-eth",
    "hv_netvsc",
    "xen-netfront",
    "bonding",
    "fec",
    "enetc",
    "mana",
    "gve",
    "vmxnet3",
    "atlantic",
    "mtk_soc_eth",
    "cpsw",
    "am65-cpsw-nuss",
    "tsnep",
    "rvu_nicpf",
    "idpf",
];

pub fn xdp(interface: &str, bpf_ok: bool) -> Check {
    if !std::path::Path::new(&format!("/sys/class/net/{interface}")).exists() {
        return Check::new("xdp", Verdict::Fail, format!("{interface} does not exist"))
            .fix("name an existing interface with --iface");
    }
    if !bpf_ok {
        return Check::new(
            "xdp",
            Verdict::Info,
            format!("{interface}: no XDP without BPF (see bpf)"),
        );
    }
    match driver_of(interface) {
        Some(driver) if NATIVE_XDP_DRIVERS.contains(&driver.as_str()) => Check::new(
            "xdp",
            Verdict::Ok,
            format!("{interface}: driver {driver} runs XDP natively"),
        ),
        Some(driver) => Check::new(
            "xdp",
            Verdict::Info,
            format!("{interface}: driver {driver} is not known for native XDP: nat64 tries native mode, else generic (works, slower)"),
        ),
        None => Check::new(
            "xdp",
            Verdict::Info,
            format!("{interface}: driver unknown: nat64 tries native mode, else generic"),
        ),
    }
}

/// ETHTOOL_GDRVINFO's reply (linux/ethtool.h).
#[repr(C)]
struct DrvInfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x3;

/// The interface's driver name, as `ethtool -i` gives it.
fn driver_of(interface: &str) -> Option<String> {
    let name = interface.as_bytes();
    if name.len() >= libc::IFNAMSIZ {
        return None;
    }
    let mut info = DrvInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    // SAFETY: a zeroed ifreq is valid; we fill its name and point its data at `info`.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    request.ifr_ifru.ifru_data = (&mut info as *mut DrvInfo).cast();
    // SAFETY: socket(2) has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: SIOCETHTOOL reads the ifreq and writes one DrvInfo through ifru_data, both
    // ours and alive for the call; fd is the socket just opened, closed right after.
    let rc = unsafe {
        let rc = libc::ioctl(fd, SIOCETHTOOL as _, &mut request);
        libc::close(fd);
        rc
    };
    if rc != 0 {
        return None;
    }
    let end = info.driver.iter().position(|&b| b == 0).unwrap_or(32);
    let driver = String::from_utf8_lossy(info.driver.get(..end)?).into_owned();
    (!driver.is_empty()).then_some(driver)
}
