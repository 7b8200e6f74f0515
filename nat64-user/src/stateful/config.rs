//! What stateful NAT64 (RFC 6146) is told: pool4, static bindings, the subscribers' port
//! blocks, timers and filtering.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use anyhow::{bail, ensure};

/// The three transport identifiers a binding holds: TCP and UDP ports, ICMP query
/// identifiers. Each has its own BIB, sessions and port space (RFC 6146 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }

    /// Whether the kernel programs open sessions of this protocol themselves (in blocks
    /// lent to them): UDP and ICMP echo. A TCP session opens with a SYN, and its state is
    /// userspace's alone.
    pub fn opens_in_kernel(self) -> bool {
        self != Protocol::Tcp
    }

    /// The protocol of an IPv4 protocol number, as the kernel's maps key it.
    pub fn of_ipv4_number(number: u8) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.ipv4_number() == number)
    }

    /// The IPv4 protocol number (an echo of either family is keyed as ICMP).
    pub fn ipv4_number(self) -> u8 {
        use nat64_common::wire::proto;
        match self {
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
            Protocol::Icmp => proto::ICMP,
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Protocol> {
        match s {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "icmp" => Ok(Protocol::Icmp),
            other => bail!("protocol {other:?}: expected tcp, udp or icmp"),
        }
    }
}

/// One pool4 entry: an IPv4 address and the ports (or ICMP identifiers) of one protocol
/// that bindings may take on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool4Range {
    pub protocol: Protocol,
    pub addr: Ipv4Addr,
    pub ports: RangeInclusive<u16>,
}

/// A binding made by configuration: an IPv6 server reachable from IPv4 at `v4#port4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticBinding {
    pub protocol: Protocol,
    pub v6: Ipv6Addr,
    pub port6: u16,
    pub v4: Ipv4Addr,
    pub port4: u16,
}

/// RFC 6146 §3.5.1.1: which IPv4 packets a binding lets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Filtering {
    /// Any remote may use a binding (RFC 4787 endpoint-independent filtering): what lets
    /// peer-to-peer applications work; the default.
    #[default]
    EndpointIndependent,
    /// Only remotes the IPv6 host has sent to (any port).
    AddressDependent,
}

/// The RFC 6146 §4 timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP session (at least 2 min, default 5 min).
    pub udp: Duration,
    /// TCP established (at least 2 h 4 min).
    pub tcp_established: Duration,
    /// TCP transitory: opening, closing, reset (4 min).
    pub tcp_transitory: Duration,
    /// ICMP query (60 s).
    pub icmp: Duration,
    /// An IPv4 SYN held for a simultaneous open (6 s).
    pub tcp_incoming_syn: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            udp: Duration::from_secs(5 * 60),
            tcp_established: Duration::from_secs(2 * 3600 + 4 * 60),
            tcp_transitory: Duration::from_secs(4 * 60),
            icmp: Duration::from_secs(60),
            tcp_incoming_syn: Duration::from_secs(6),
        }
    }
}

/// How pool4's ports are shared among subscribers (RFC 6888 REQ-4, RFC 7422): each gets
/// whole blocks on one address, a block assigned and released as one log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortBlocks {
    /// The length of the IPv6 prefix that is one subscriber: /128 for a VPN client, /64 or
    /// /56 for a customer whose privacy addresses rotate.
    pub subscriber_prefix_len: u8,
    /// Ports per block.
    pub block_size: u16,
    /// Blocks one subscriber may hold per protocol.
    pub max_blocks: u16,
}

impl Default for PortBlocks {
    fn default() -> Self {
        PortBlocks {
            subscriber_prefix_len: 64,
            block_size: 512,
            max_blocks: 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatefulConfig {
    pub pool4: Vec<Pool4Range>,
    pub static_bindings: Vec<StaticBinding>,
    pub blocks: PortBlocks,
    pub timeouts: Timeouts,
    pub filtering: Filtering,
    /// IPv4 SYNs held at once for simultaneous opens; more are dropped.
    pub max_held_syns: usize,
}

impl Default for StatefulConfig {
    fn default() -> Self {
        StatefulConfig {
            pool4: Vec::new(),
            static_bindings: Vec::new(),
            blocks: PortBlocks::default(),
            timeouts: Timeouts::default(),
            filtering: Filtering::default(),
            max_held_syns: 1024,
        }
    }
}

impl StatefulConfig {
    /// pool4 as one address with the unprivileged ports of every protocol (ICMP identifiers
    /// from 1): what `nat64 run` takes with no configuration.
    pub fn on_address(addr: Ipv4Addr) -> StatefulConfig {
        StatefulConfig {
            pool4: vec![
                Pool4Range {
                    protocol: Protocol::Tcp,
                    addr,
                    ports: 1024..=65535,
                },
                Pool4Range {
                    protocol: Protocol::Udp,
                    addr,
                    ports: 1024..=65535,
                },
                Pool4Range {
                    protocol: Protocol::Icmp,
                    addr,
                    ports: 1..=65535,
                },
            ],
            ..StatefulConfig::default()
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            !self.pool4.is_empty(),
            "pool4 is empty: stateful NAT64 needs at least one IPv4 address"
        );
        for r in &self.pool4 {
            ensure!(
                r.ports.start() <= r.ports.end(),
                "pool4 {} {}: port range {}-{} is empty",
                r.protocol.name(),
                r.addr,
                r.ports.start(),
                r.ports.end()
            );
            ensure!(
                nat64_common::address_policy::v4_translatable(r.addr.octets()),
                "pool4 address {} is never translated (special-purpose, multicast or broadcast)",
                r.addr
            );
        }
        let b = &self.blocks;
        ensure!(
            (1..=128).contains(&b.subscriber_prefix_len),
            "subscriber prefix length /{} is not within /1../128",
            b.subscriber_prefix_len
        );
        ensure!(b.block_size >= 1, "port block size must be at least 1");
        ensure!(
            b.max_blocks >= 1,
            "blocks per subscriber must be at least 1"
        );
        let t = &self.timeouts;
        for (name, d) in [
            ("udp", t.udp),
            ("tcp established", t.tcp_established),
            ("tcp transitory", t.tcp_transitory),
            ("icmp", t.icmp),
            ("tcp incoming syn", t.tcp_incoming_syn),
        ] {
            ensure!(!d.is_zero(), "the {name} timeout must not be zero");
        }
        for s in &self.static_bindings {
            ensure!(
                self.pool4
                    .iter()
                    .any(|r| r.addr == s.v4 && r.protocol == s.protocol),
                "static {} binding {}#{} -> [{}]#{}: {} is not a pool4 address for {}",
                s.protocol.name(),
                s.v4,
                s.port4,
                s.v6,
                s.port6,
                s.v4,
                s.protocol.name()
            );
        }
        Ok(())
    }
}
