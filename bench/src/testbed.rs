//! Three namespaces joined by veth, plus a direct generator–sink pair (what the generator
//! reaches with no gateway at all):
//!
//! ```text
//! gen g0 ──────── eth0 2001:db8:1::1/64 [gateway] eth1 192.0.2.1/24 2001:db8:2::1/64 ──── s0 sink
//! gen g1 ──────────────────────────────────────────────────────────────────────────────── s1 sink
//! ```
//!
//! The generator needs no addresses (it crafts its frames). The sink drops everything in XDP
//! (unless a bench passes `s0`'s frames to its stack to timestamp them), ARP and ND included,
//! so the gateway knows its neighbour statically. The gateway's `eth0` runs an XDP program
//! (an XDP_PASS one unless the row brings its own), without which a veth refuses frames its
//! peer XDP-transmits; likewise the sink's `s0` for frames the gateway XDP-redirects.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Context, Result};
use nat64_tests::netns::Netns;

use crate::{
    generator::GENERATOR_CPU,
    programs::{BenchPrograms, FORWARD, PASS, SINK},
};

pub const GENERATOR_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
pub const SINK_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);
pub const SINK_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const PREFIX: &str = "2001:db8:64::/96";
/// SINK_V4 behind PREFIX.
pub const SINK_VIA_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc000, 0x202);
/// The dynamic pool both translators allocate from.
pub const POOL: &str = "198.51.100.0/24";

pub struct Testbed {
    pub generator: Netns,
    pub gateway: Netns,
    pub sink: Netns,
    /// Dropped before the namespaces (field order), detaching the programs first.
    pub programs: BenchPrograms,
}

/// The XDP program the bed puts on the gateway's `eth0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayXdp {
    /// `bench_pass`: every frame to the kernel stack.
    Pass,
    /// `bench_xdp_forward`: IPv6 UDP redirected out of `eth1` to the sink, untranslated.
    RedirectToSink,
    /// None: the gateway under test attaches its own (one XDP program per interface).
    Gateways,
}

/// The XDP program on the sink's `s0`, the gateway's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkXdp {
    /// `bench_sink`: count and drop.
    Count,
    /// `bench_pass`: to the sink's stack, where a packet socket can timestamp each arrival.
    Pass,
}

/// The generator's side of a path: which veth it sends from and to what MAC.
pub struct Path {
    pub interface: &'static str,
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
}

impl Testbed {
    /// The bed with `gateway_xdp` on the gateway's `eth0` and `sink_xdp` on the sink's `s0`.
    pub fn with(gateway_xdp: GatewayXdp, sink_xdp: SinkXdp) -> Result<Self> {
        let generator = Netns::new("bgen")?;
        let gateway = Netns::new("bgw")?;
        let sink = Netns::new("bsink")?;
        generator.link("g0", &gateway, "eth0")?;
        gateway.link("eth1", &sink, "s0")?;
        generator.link("g1", &sink, "s1")?;

        for cmd in [
            "ip -6 addr add 2001:db8:1::1/64 dev eth0 nodad",
            "ip -6 addr add 2001:db8:2::1/64 dev eth1 nodad",
            "ip addr add 192.0.2.1/24 dev eth1",
            "ip route add default via 192.0.2.2",
            "sysctl -qw net.ipv4.ip_forward=1",
            "sysctl -qw net.ipv6.conf.all.forwarding=1",
        ] {
            exec(&gateway, cmd)?;
        }
        let sink_mac = mac_text(&sink, "s0")?;
        exec(
            &gateway,
            &format!("ip neigh replace {SINK_V4} lladdr {sink_mac} dev eth1 nud permanent"),
        )?;
        exec(
            &gateway,
            &format!("ip -6 neigh replace {SINK_V6} lladdr {sink_mac} dev eth1 nud permanent"),
        )?;
        if udp_gro() {
            // Every row alike. A veth leaves GRO off unless asked; forwarded UDP is aggregated
            // only with rx-udp-gro-forwarding too.
            for dev in ["eth0", "eth1"] {
                exec(
                    &gateway,
                    &format!("ethtool -K {dev} gro on rx-udp-gro-forwarding on"),
                )?;
            }
        }
        if std::env::var("NAT64_BENCH_RPS").is_ok_and(|v| v == "1") {
            // The gateway's receive (and what it triggers: routing, TUN enqueue, netfilter)
            // moves off the generator's core.
            let rps_mask = format!("{:x}", gateway_cpus_mask());
            exec(
                &gateway,
                &format!("sh -c 'echo {rps_mask} > /sys/class/net/eth0/queues/rx-0/rps_cpus'"),
            )?;
        }

        let mut programs = BenchPrograms::load()?;
        match gateway_xdp {
            GatewayXdp::Pass => programs.attach(PASS, &gateway, "eth0")?,
            GatewayXdp::RedirectToSink => {
                programs.aim_forwarder(
                    mac(&sink, "s0")?,
                    mac(&gateway, "eth1")?,
                    ifindex(&gateway, "eth1")?,
                )?;
                programs.attach(FORWARD, &gateway, "eth0")?;
            }
            GatewayXdp::Gateways => {}
        }
        let s0_program = match sink_xdp {
            SinkXdp::Count => SINK,
            SinkXdp::Pass => PASS,
        };
        programs.attach(s0_program, &sink, "s0")?;
        programs.attach(SINK, &sink, "s1")?;
        Ok(Self {
            generator,
            gateway,
            sink,
            programs,
        })
    }

    /// Keeps IPv4 from `sources` out of conntrack in the gateway, so no NAT44 applies to it:
    /// the pool is then routed to the box, as with XDP direct forwarding. (One masquerade
    /// address has about 64,000 ports towards one sink address and port, fewer than the
    /// scale bench's hosts.)
    pub fn untrack(&self, sources: &str) -> Result<()> {
        for cmd in [
            "nft add table ip bench_raw".to_owned(),
            "nft add chain ip bench_raw prerouting { type filter hook prerouting priority raw ; }"
                .to_owned(),
            format!("nft add rule ip bench_raw prerouting ip saddr {sources} notrack"),
        ] {
            exec(&self.gateway, &cmd)?;
        }
        Ok(())
    }

    /// Generator → gateway.
    pub fn through_gateway(&self) -> Result<Path> {
        Ok(Path {
            interface: "g0",
            source_mac: mac(&self.generator, "g0")?,
            destination_mac: mac(&self.gateway, "eth0")?,
        })
    }

    /// Generator → sink directly: the generator's ceiling.
    pub fn direct_to_sink(&self) -> Result<Path> {
        Ok(Path {
            interface: "g1",
            source_mac: mac(&self.generator, "g1")?,
            destination_mac: mac(&self.sink, "s1")?,
        })
    }
}

/// `NAT64_BENCH_UDP_GRO=1`: the gateway's veths aggregate the UDP they forward (GRO), so a
/// gateway that takes super-packets reads several datagrams at once.
pub fn udp_gro() -> bool {
    std::env::var("NAT64_BENCH_UDP_GRO").is_ok_and(|v| v == "1")
}

/// Every CPU but the generator's (all of them on a single-CPU machine).
pub fn gateway_cpus_mask() -> u64 {
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(64);
    let all = if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    };
    let others = all & !(1u64 << GENERATOR_CPU);
    if others == 0 {
        all
    } else {
        others
    }
}

pub fn exec(ns: &Netns, command: &str) -> Result<()> {
    // Quoted arguments (sh -c '...') stay whole.
    let mut argv = Vec::new();
    let mut rest = command;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').context("unterminated quote")?;
            argv.push(&quoted[..end]);
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            argv.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    argv.retain(|a| !a.is_empty());
    ns.exec(&argv)
        .with_context(|| format!("in {}: {command}", ns.name()))?;
    Ok(())
}

fn mac_text(ns: &Netns, interface: &str) -> Result<String> {
    let out = ns.exec(&["cat", &format!("/sys/class/net/{interface}/address")])?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn ifindex(ns: &Netns, interface: &str) -> Result<u32> {
    let out = ns.exec(&["cat", &format!("/sys/class/net/{interface}/ifindex")])?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn mac(ns: &Netns, interface: &str) -> Result<[u8; 6]> {
    let text = mac_text(ns, interface)?;
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(text.split(':')) {
        *byte = u8::from_str_radix(part, 16).with_context(|| format!("MAC {text}"))?;
    }
    Ok(mac)
}
