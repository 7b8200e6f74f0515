//! Three namespaces for packet vectors through a real gateway: an IPv6 side, the gateway, an
//! IPv4 side, joined by veths. The sides have no addresses and no IP stack in the way (IPv6
//! off, no IPv4 address): frames go in and are caught with AF_PACKET, as a wire carries
//! them. The gateway sends what it does not route into the translator out of the side of
//! its family, to a neighbour entered by hand (no ARP or ND traffic).
//!
//! ```text
//! [ipv6 side] v6 ── eth0 [gateway] eth1 ── v4 [ipv4 side]
//! ```
//!
//! The peers send complete checksums and take frames the gateway redirects (`tx off gro on`,
//! as in the XDP tests: a veth hands XDP frames only to a peer with NAPI, which GRO turns on).

use std::{
    net::IpAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::{
    af_packet::{self, PacketSocket},
    gateway_bed,
    netns::Netns,
    stats::Stats,
};

/// A side of the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Ipv6,
    Ipv4,
}

impl Side {
    /// The side a packet of this IP version belongs to.
    pub fn of_packet(packet: &[u8]) -> Side {
        match packet.first().map(|b| b >> 4) {
            Some(6) => Side::Ipv6,
            _ => Side::Ipv4,
        }
    }

    /// The gateway's interface on this side.
    pub fn gateway_interface(self) -> &'static str {
        match self {
            Side::Ipv6 => "eth0",
            Side::Ipv4 => "eth1",
        }
    }

    fn peer_interface(self) -> &'static str {
        match self {
            Side::Ipv6 => "v6",
            Side::Ipv4 => "v4",
        }
    }

    /// The gateway's next hop on this side (never on the wire: its MAC is entered by hand).
    fn next_hop(self) -> &'static str {
        match self {
            Side::Ipv6 => "fe80::2",
            Side::Ipv4 => "203.0.113.1",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One side's namespace, its socket and the MACs at both ends of its veth.
struct Wire {
    ns: Netns,
    socket: PacketSocket,
    peer_mac: [u8; 6],
    gateway_mac: [u8; 6],
}

/// A frame caught on a side.
pub struct Caught {
    pub side: Side,
    pub frame: Vec<u8>,
}

pub struct SiitBed {
    pub gateway: Netns,
    /// Indexed by [`Side::index`].
    wires: [Wire; 2],
    /// Host routes added with [`SiitBed::route_to_side`], for [`SiitBed::clear_host_routes`].
    host_routes: Vec<(Side, IpAddr)>,
}

impl SiitBed {
    pub fn new() -> Result<Self> {
        let gateway = Netns::new("siit-gw")?;
        let v6 = Netns::new("siit-v6")?;
        let v4 = Netns::new("siit-v4")?;
        let mut wires = Vec::new();
        for (side, ns) in [(Side::Ipv6, v6), (Side::Ipv4, v4)] {
            let (here, there) = (side.gateway_interface(), side.peer_interface());
            gateway.link(here, &ns, there)?;
            ns.exec(&["ethtool", "-K", there, "tx", "off", "gro", "on"])?;
            // No stack on the sides: nothing of theirs (router solicitations, answers to
            // what they catch) can reach the gateway between two cases.
            ns.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{there}.disable_ipv6=1"),
            ])?;
            let peer_mac = af_packet::mac_address(&ns, there)?;
            let gateway_mac = af_packet::mac_address(&gateway, here)?;
            let neighbour = match side {
                Side::Ipv6 => "-6",
                Side::Ipv4 => "-4",
            };
            gateway.exec(&[
                "ip",
                neighbour,
                "neigh",
                "replace",
                side.next_hop(),
                "lladdr",
                &mac_text(peer_mac),
                "dev",
                here,
                "nud",
                "permanent",
            ])?;
            gateway.exec(&[
                "ip",
                neighbour,
                "route",
                "add",
                "default",
                "via",
                side.next_hop(),
                "dev",
                here,
                "onlink",
            ])?;
            let socket = PacketSocket::open(&ns, there)?;
            wires.push(Wire {
                ns,
                socket,
                peer_mac,
                gateway_mac,
            });
        }
        let [v6, v4]: [Wire; 2] = wires.try_into().map_err(|_| anyhow::anyhow!("two sides"))?;
        Ok(Self {
            gateway,
            wires: [v6, v4],
            host_routes: Vec::new(),
        })
    }

    fn wire(&self, side: Side) -> &Wire {
        &self.wires[side.index()]
    }

    /// Both ends of `side`'s veth get `mtu`.
    pub fn set_link_mtu(&self, side: Side, mtu: u16) -> Result<()> {
        let mtu = mtu.to_string();
        self.gateway.exec(&[
            "ip",
            "link",
            "set",
            "dev",
            side.gateway_interface(),
            "mtu",
            &mtu,
        ])?;
        self.wire(side).ns.exec(&[
            "ip",
            "link",
            "set",
            "dev",
            side.peer_interface(),
            "mtu",
            &mtu,
        ])?;
        Ok(())
    }

    /// `addr` leaves the gateway by `side`, whatever wider route points elsewhere (the
    /// translator's prefix holds the IPv6 side's hosts as well as the IPv4 side's).
    pub fn route_to_side(&mut self, side: Side, addr: IpAddr) -> Result<()> {
        let host = match addr {
            IpAddr::V4(a) => format!("{a}/32"),
            IpAddr::V6(a) => format!("{a}/128"),
        };
        self.gateway.exec(&[
            "ip",
            "route",
            "replace",
            &host,
            "via",
            side.next_hop(),
            "dev",
            side.gateway_interface(),
            "onlink",
        ])?;
        self.host_routes.push((side, addr));
        Ok(())
    }

    /// Removes the routes [`SiitBed::route_to_side`] added.
    pub fn clear_host_routes(&mut self) -> Result<()> {
        for (_, addr) in std::mem::take(&mut self.host_routes) {
            self.gateway
                .exec(&["ip", "route", "del", &addr.to_string()])?;
        }
        Ok(())
    }

    /// Makes the TUN device `name` with `mtu`, for the daemon to open: the daemon takes its
    /// translator's MTUs from the device, as TAYGA does. Not persistent once the daemon has
    /// opened it (a native start clears that), so it goes when the daemon stops.
    pub fn make_tun(&self, name: &str, mtu: u16) -> Result<()> {
        self.gateway.exec(&[
            "ip",
            "tuntap",
            "add",
            "dev",
            name,
            "mode",
            "tun",
            "multi_queue",
        ])?;
        self.gateway
            .exec(&["ip", "link", "set", "dev", name, "mtu", &mtu.to_string()])?;
        Ok(())
    }

    /// Starts `nat64 <args>` in the gateway and waits for its log to name the datapath
    /// (which it does once the kernel programs and the AF_XDP sockets are up).
    pub fn start_nat64(&mut self, args: &[&str]) -> Result<()> {
        let binary = crate::binary::nat64();
        let binary = binary.to_str().context("binary path is UTF-8")?.to_owned();
        let mut argv = vec![binary.as_str()];
        argv.extend_from_slice(args);
        self.gateway.spawn(&argv)?;
        let limit = Duration::from_secs(20);
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.gateway.last_child_output().contains(" datapath ") {
                return Ok(());
            }
            if let Some(status) = self.gateway.last_child_exit()? {
                bail!(
                    "nat64 exited early ({status}): {}",
                    self.gateway.last_child_output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "nat64 did not name its datapath within {limit:?}: {}",
            self.gateway.last_child_output()
        )
    }

    /// Stops the daemon with SIGTERM; its log, or an error with it when the stop failed.
    pub fn stop_nat64(&mut self) -> Result<String> {
        let child = self.gateway.last_child().context("no daemon started")?;
        let status = gateway_bed::terminate(child, Duration::from_secs(10))?;
        let log = self.gateway.last_child_output();
        if !status.success() {
            bail!("nat64 stopped with {status}:\n{log}");
        }
        Ok(log)
    }

    /// The daemon's counters (`nat64 stats --json`).
    pub fn stats(&self, device: &str) -> Result<Stats> {
        Stats::read(&self.gateway, device, &[])
    }

    /// Sends `packet` (from its IP header on) from `side` to the gateway, in an Ethernet
    /// frame addressed to the gateway's interface.
    pub fn inject(&self, side: Side, packet: &[u8]) -> Result<()> {
        let wire = self.wire(side);
        wire.socket.send(&af_packet::ethernet_frame(
            wire.gateway_mac,
            wire.peer_mac,
            packet,
        ))
    }

    /// Forgets whatever the sides caught so far.
    pub fn drain(&self) -> Result<()> {
        for wire in &self.wires {
            wire.socket.drain()?;
        }
        Ok(())
    }

    /// Frames that reach the sides: until `enough` says the caught ones are all that were
    /// awaited (then `grace` longer, for any that should not come), or until `limit`.
    pub fn catch(
        &self,
        limit: Duration,
        grace: Duration,
        mut enough: impl FnMut(&[Caught]) -> bool,
    ) -> Result<Vec<Caught>> {
        let mut caught = Vec::new();
        let mut deadline = Instant::now() + limit;
        let mut done = false;
        while Instant::now() < deadline {
            for (side, wire) in [
                (Side::Ipv6, self.wire(Side::Ipv6)),
                (Side::Ipv4, self.wire(Side::Ipv4)),
            ] {
                let step = (Instant::now() + Duration::from_millis(5)).min(deadline);
                while let Some(frame) = wire.socket.receive_until(step)? {
                    caught.push(Caught { side, frame });
                }
            }
            if !done && enough(&caught) {
                done = true;
                deadline = deadline.min(Instant::now() + grace);
            }
        }
        Ok(caught)
    }

    /// The MACs a frame the gateway sends out of `side` carries: (destination, source).
    pub fn macs_out_of(&self, side: Side) -> ([u8; 6], [u8; 6]) {
        let wire = self.wire(side);
        (wire.peer_mac, wire.gateway_mac)
    }

    /// `ip route get <addr>` in the gateway, for failure messages.
    pub fn route_of(&self, addr: IpAddr) -> String {
        self.gateway
            .command("ip")
            .args(["route", "get", &addr.to_string()])
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
