//! The daemon's state as one serialisable value: what `nat64 stats --json` and
//! `nat64 status --json` print, what the control socket sends, and what the metrics
//! endpoint exports. Its JSON form is a stable interface: fields are only ever added, and
//! [`SCHEMA`] changes when a field changes meaning or goes.
//!
//! Stateful NAT64 (sessions, port blocks, subscribers) adds its own section here when it
//! exists, and a family writer in [`super::metrics`]; nothing else needs to change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the JSON schema below.
pub const SCHEMA: u32 = 1;

/// How many recently active hosts a snapshot lists.
pub const ACTIVE_HOSTS: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SCHEMA`] of the program that made it.
    pub schema: u32,
    /// nat64's version (Cargo package version) of the program that made it.
    pub version: String,
    /// The TUN device the gateway serves.
    pub device: String,
    /// Where the numbers come from.
    pub source: Source,
    pub datapath: DatapathState,
    /// Facts only a running daemon knows; `None` when read from pins.
    pub daemon: Option<DaemonFacts>,
    /// The XDP program per interface.
    pub xdp: Vec<XdpInterface>,
    /// Counters of the userspace TUN datapath; `None` when read from pins.
    pub tun: Option<TunCounters>,
    /// Counters of the kernel programs ("tc", "xdp"), every outcome including zeros.
    pub kernel: Vec<ProgramCounters>,
    /// Kernel counters that could not be read, one sentence each.
    pub kernel_errors: Vec<String>,
    /// Dynamic mappings (IPv6 host ↔ pool address).
    pub mappings: u64,
    pub pool: Option<PoolUse>,
    /// The most recently active mapped hosts, most recent first (at most [`ACTIVE_HOSTS`]).
    pub active_hosts: Vec<HostActivity>,
    /// The last warnings and errors the daemon logged, oldest first.
    pub recent_errors: Vec<LogRecord>,
    /// Warnings and errors logged since the start, by level ("warn", "error").
    pub log_events: BTreeMap<String, u64>,
    /// Stateful NAT64's tables; `None` when it is off.
    #[serde(default)]
    pub stateful: Option<StatefulUse>,
    /// The AF_XDP slow path's sockets, one per interface and receive queue.
    #[serde(default)]
    pub af_xdp: Vec<XskSocketCounters>,
}

/// One AF_XDP socket's counters; see `gateway::af_xdp_workers::XskCounters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XskSocketCounters {
    pub interface: String,
    pub queue: u32,
    /// "zero-copy" or "copy".
    pub mode: String,
    pub received: u64,
    pub translated: u64,
    /// Packets sent on (translations, ICMP errors, replies), either way.
    pub sent: u64,
    /// Of those, sent straight out by AF_XDP transmit (the rest went into the TUN device).
    #[serde(default)]
    pub sent_direct: u64,
    /// Frames this socket transmitted on its interface (the egress of any socket's
    /// translations).
    #[serde(default)]
    pub transmitted: u64,
    /// Packets to leave by this socket that found no free transmit chunk and went into the
    /// TUN device instead.
    #[serde(default)]
    pub transmit_busy: u64,
    pub icmp_errors_sent: u64,
    pub local_replies: u64,
    pub write_errors: u64,
    pub not_ip: u64,
    /// The kernel's drops for the socket: receive ring full, fill ring empty, all.
    pub rx_ring_full: u64,
    pub fill_ring_empty: u64,
    pub kernel_dropped: u64,
    /// Transmit descriptors the kernel refused (any count here is a bug).
    #[serde(default)]
    pub tx_invalid: u64,
    /// Dropped packets by reason (only reasons that occurred).
    pub dropped: BTreeMap<String, u64>,
}

/// Stateful NAT64's tables by protocol ("tcp", "udp", "icmp").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatefulUse {
    pub bindings: BTreeMap<String, u64>,
    pub sessions: BTreeMap<String, u64>,
    pub blocks_assigned: BTreeMap<String, u64>,
    pub blocks_total: BTreeMap<String, u64>,
    /// IPv4 SYNs held for a simultaneous open.
    pub held_syns: u64,
    /// Since the start: packets translated each way, sessions opened and expired.
    #[serde(default)]
    pub translated_v6_to_v4: BTreeMap<String, u64>,
    #[serde(default)]
    pub translated_v4_to_v6: BTreeMap<String, u64>,
    #[serde(default)]
    pub sessions_opened: BTreeMap<String, u64>,
    #[serde(default)]
    pub sessions_expired: BTreeMap<String, u64>,
    /// Of the sessions opened, those the kernel programs opened themselves.
    #[serde(default)]
    pub sessions_opened_in_kernel: BTreeMap<String, u64>,
    /// Sessions the kernel opened on a binding userspace had given away meanwhile, taken
    /// out again.
    #[serde(default)]
    pub kernel_conflicts: BTreeMap<String, u64>,
}

impl StatefulUse {
    pub fn from_counts(c: &crate::stateful::TableCounts) -> StatefulUse {
        let by_protocol = |v: &[usize; 3]| {
            crate::stateful::Protocol::ALL
                .iter()
                .map(|p| (p.name().to_owned(), v[p.index()] as u64))
                .collect()
        };
        let activity = |f: fn(&crate::stateful::Activity) -> u64| {
            crate::stateful::Protocol::ALL
                .iter()
                .map(|p| (p.name().to_owned(), f(&c.activity[p.index()])))
                .collect()
        };
        StatefulUse {
            translated_v6_to_v4: activity(|a| a.translated_v6_to_v4),
            translated_v4_to_v6: activity(|a| a.translated_v4_to_v6),
            sessions_opened: activity(|a| a.sessions_opened),
            sessions_expired: activity(|a| a.sessions_expired),
            sessions_opened_in_kernel: activity(|a| a.sessions_opened_in_kernel),
            kernel_conflicts: activity(|a| a.kernel_conflicts),
            bindings: by_protocol(&c.bindings),
            sessions: by_protocol(&c.sessions),
            blocks_assigned: by_protocol(&c.blocks_assigned),
            blocks_total: by_protocol(&c.blocks_total),
            held_syns: c.held_syns as u64,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The running daemon answered on its control socket.
    Daemon,
    /// No daemon runs: read from the kernel path's maps pinned in `dir`.
    Pins { dir: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatapathState {
    /// "tc" (kernel path, with the TUN workers as slow path) or "tun" (userspace alone).
    pub kind: String,
    /// Why this datapath runs, as the daemon logged it at start.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonFacts {
    pub pid: u32,
    /// Seconds since the Unix epoch when the daemon started.
    pub started_unix: u64,
    pub uptime_secs: u64,
    /// "native" (`nat64 run`) or "tayga" (TAYGA's command line).
    pub mode: String,
    /// The configuration file, or "built-in defaults".
    pub config_source: String,
    /// The RFC 6052 prefix and the dynamic pool, as configured ("none" when absent).
    pub prefix: String,
    /// Whether systemd started it (and so hears READY and the watchdog).
    pub systemd: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpInterface {
    pub interface: String,
    /// "native", "generic" or "kept" (the link an earlier `--keep` run left).
    pub mode: String,
}

/// The TUN workers' counters; see `gateway::tun_workers::TunCounters` for their meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunCounters {
    pub received: u64,
    pub translated: u64,
    pub icmp_errors_sent: u64,
    pub local_replies: u64,
    pub write_errors: u64,
    pub gso_super_packets: u64,
    pub gso_segments: u64,
    pub gso_translated_whole: u64,
    pub partial_checksums: u64,
    pub offload_cut: u64,
    pub offload_malformed: u64,
    pub glued_writes: u64,
    pub glued_datagrams: u64,
    /// Dropped packets by reason, every reason including zeros.
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramCounters {
    /// "tc" or "xdp".
    pub program: String,
    /// Packets by outcome name (`nat64_common::counters::Outcome`), in index order.
    pub outcomes: Vec<OutcomeCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCount {
    pub outcome: String,
    pub packets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUse {
    /// The pool, e.g. "100.64.0.0/10".
    pub network: String,
    /// Addresses it can hand out.
    pub capacity: u64,
    /// Addresses mapped now.
    pub in_use: u64,
}

impl PoolUse {
    pub fn percent(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.in_use as f64 * 100.0 / self.capacity as f64
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostActivity {
    pub ipv6: String,
    pub ipv4: String,
    /// Seconds since the mapping last carried a packet (as of the last sweep of the kernel's
    /// stamps, every 30 s).
    pub idle_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub unix: u64,
    /// "warn" or "error".
    pub level: String,
    pub message: String,
}

/// One dynamic mapping, as `nat64 mappings` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingEntry {
    pub ipv6: String,
    pub ipv4: String,
    /// Seconds since the Unix epoch of its last packet.
    pub last_use_unix: u64,
}

/// What `nat64 mappings --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingList {
    pub schema: u32,
    pub device: String,
    pub mappings: Vec<MappingEntry>,
}
