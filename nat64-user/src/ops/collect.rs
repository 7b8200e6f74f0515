//! Fills a [`Snapshot`]: from the running daemon's shared state, or, with no daemon, from
//! the kernel path's pinned maps.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
    net::Ipv4Addr,
    sync::atomic::Ordering,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, Result};
use aya::maps::{Array, HashMap, Map, MapData};
use nat64_common::{
    counters::{DropReason, Outcome},
    maps::{names, ConfigBlock, Ipv6HostKey, V6ToV4Mapping},
};

use super::{
    recent_errors,
    snapshot::{
        DaemonFacts, DatapathState, HostActivity, MappingEntry, OutcomeCount, PoolUse,
        ProgramCounters, Snapshot, Source, TunCounters, XdpInterface, ACTIVE_HOSTS, SCHEMA,
    },
};
use crate::{
    gateway::{pins::PinDir, tun_workers::WorkerShared},
    tc_maps,
};

/// What the daemon knows about itself from its start on.
#[derive(Debug)]
pub struct DaemonInfo {
    pub started: Instant,
    pub started_unix: u64,
    /// "native" or "tayga".
    pub mode: String,
    pub config_source: String,
    pub prefix: String,
    /// The datapath line the daemon logged: which one runs, and why. Set once the kernel
    /// path is attached or given up on (it loads while the TUN workers serve).
    pub datapath_reason: std::sync::Mutex<String>,
    pub systemd: bool,
}

impl DaemonInfo {
    pub fn datapath(&self) -> String {
        self.datapath_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_datapath(&self, line: &str) {
        *self
            .datapath_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = line.to_owned();
    }

    pub fn new(mode: &str, config_source: &str) -> Self {
        Self {
            started: Instant::now(),
            started_unix: unix_now(),
            mode: mode.to_owned(),
            config_source: config_source.to_owned(),
            prefix: String::new(),
            datapath_reason: Default::default(),
            systemd: super::systemd::started_by_systemd(),
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The running daemon's snapshot.
pub fn from_daemon(device: &str, shared: &WorkerShared, info: &DaemonInfo) -> Snapshot {
    let now = unix_now();
    let mut kernel = Vec::new();
    let mut kernel_errors = Vec::new();
    let mut xdp = Vec::new();
    if let Some(tc) = shared.tc.get() {
        xdp = tc
            .xdp_modes()
            .into_iter()
            .map(|(interface, mode)| XdpInterface {
                interface,
                mode: mode.label().to_owned(),
            })
            .collect();
        match tc.counter_values() {
            Ok(values) => kernel.push(program_counters("tc", values)),
            Err(err) => kernel_errors.push(format!("tc counters unreadable: {err:#}")),
        }
        if !xdp.is_empty() {
            match tc.xdp_counter_values() {
                Ok(values) => kernel.push(program_counters("xdp", values)),
                Err(err) => kernel_errors.push(format!("xdp counters unreadable: {err:#}")),
            }
        }
    }
    let pooled = shared.pool.with(|pool| {
        // The workers wait on this lock: keep only the few most recent while walking the
        // pool (no copy of a pool of 100,000 mappings, no sort of it).
        let mut recent = BinaryHeap::with_capacity(ACTIVE_HOSTS + 1);
        for m in pool.iter() {
            // A min-heap on last use: the oldest of the kept goes first.
            recent.push(Reverse((m.last_use, m.v4, m.v6)));
            if recent.len() > ACTIVE_HOSTS {
                recent.pop();
            }
        }
        // Sorted by Reverse: the most recent first.
        let active = recent
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((last_use, v4, v6))| HostActivity {
                ipv6: v6.to_string(),
                ipv4: v4.to_string(),
                idle_secs: now.saturating_sub(last_use),
            })
            .collect::<Vec<_>>();
        let config = pool.config();
        let usage = PoolUse {
            network: format!("{}/{}", config.network(), config.prefix_len()),
            capacity: pool.capacity(),
            in_use: pool.len() as u64,
        };
        (usage, active)
    });
    let (pool, active_hosts) = match pooled {
        Some((usage, active)) => (Some(usage), active),
        None => (None, Vec::new()),
    };
    let (recent, log_events) = recent_errors::read();
    Snapshot {
        schema: SCHEMA,
        version: version(),
        device: device.to_owned(),
        source: Source::Daemon,
        datapath: DatapathState {
            kind: if shared.tc.get().is_some() {
                "tc"
            } else {
                "tun"
            }
            .to_owned(),
            reason: info.datapath(),
        },
        daemon: Some(DaemonFacts {
            pid: std::process::id(),
            started_unix: info.started_unix,
            uptime_secs: info.started.elapsed().as_secs(),
            mode: info.mode.clone(),
            config_source: info.config_source.clone(),
            prefix: info.prefix.clone(),
            systemd: info.systemd,
        }),
        xdp,
        tun: Some(tun_counters(shared)),
        kernel,
        kernel_errors,
        mappings: pool.as_ref().map_or(0, |p| p.in_use),
        pool,
        active_hosts,
        recent_errors: recent,
        log_events,
    }
}

/// Every dynamic mapping the daemon holds, most recently used first.
pub fn mappings_of(shared: &WorkerShared) -> Vec<MappingEntry> {
    let mut all = shared
        .pool
        .with(|pool| pool.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    all.sort_by(|a, b| b.last_use.cmp(&a.last_use).then(a.v4.cmp(&b.v4)));
    all.into_iter()
        .map(|m| MappingEntry {
            ipv6: m.v6.to_string(),
            ipv4: m.v4.to_string(),
            last_use_unix: m.last_use,
        })
        .collect()
}

fn tun_counters(shared: &WorkerShared) -> TunCounters {
    let c = &shared.counters;
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    TunCounters {
        received: load(&c.received),
        translated: load(&c.translated_packets_out),
        icmp_errors_sent: load(&c.icmp_errors_sent),
        local_replies: load(&c.local_replies),
        write_errors: load(&c.write_errors),
        gso_super_packets: load(&c.gso_super_packets),
        gso_segments: load(&c.gso_segments),
        gso_translated_whole: load(&c.gso_translated_whole),
        partial_checksums: load(&c.partial_checksums),
        offload_cut: load(&c.offload_cut),
        offload_malformed: load(&c.offload_malformed),
        glued_writes: load(&c.glued_writes),
        glued_datagrams: load(&c.glued_datagrams),
        dropped: DropReason::ALL
            .iter()
            .map(|reason| (reason.as_str().to_owned(), c.dropped(*reason)))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn program_counters(program: &str, values: [u64; Outcome::COUNT]) -> ProgramCounters {
    ProgramCounters {
        program: program.to_owned(),
        outcomes: Outcome::ALL
            .iter()
            .zip(values)
            .map(|(outcome, packets)| OutcomeCount {
                outcome: outcome.as_str().to_owned(),
                packets,
            })
            .collect(),
    }
}

/// The kernel path's counters and mappings, read from the pinned maps of a daemon that is
/// not running (stopped with `--keep`, or gone).
pub fn from_pins(device: &str, pins: &PinDir) -> Result<Snapshot> {
    let open = |name: &str| {
        MapData::from_pin(pins.map(name))
            .with_context(|| format!("opening {}", pins.map(name).display()))
    };
    let mut kernel = Vec::new();
    let mut xdp = Vec::new();
    for (program, name) in [("tc", names::TC_COUNTERS), ("xdp", names::XDP_COUNTERS)] {
        // An earlier build's pins may lack the XDP counters.
        if program == "xdp" && !pins.map(name).exists() {
            continue;
        }
        let values = tc_maps::counters_of(&Map::PerCpuArray(open(name)?))?;
        kernel.push(program_counters(program, values));
    }
    for (interface, _) in pins.xdp_links() {
        xdp.push(XdpInterface {
            interface,
            mode: "kept".to_owned(),
        });
    }
    let forward: HashMap<MapData, Ipv6HostKey, V6ToV4Mapping> =
        HashMap::try_from(Map::HashMap(open(names::V6_TO_V4)?))?;
    let mappings = forward.keys().filter(Result::is_ok).count() as u64;
    let config: Array<MapData, ConfigBlock> = Array::try_from(Map::Array(open(names::CONFIG)?))?;
    let block = config.get(&0, 0)?;
    let pool = (block.has_pool != 0).then(|| PoolUse {
        network: format!("{}/{}", Ipv4Addr::from(block.pool_v4), block.pool_len),
        capacity: 1u64 << (32 - u32::from(block.pool_len.min(32))),
        in_use: mappings,
    });
    Ok(Snapshot {
        schema: SCHEMA,
        version: version(),
        device: device.to_owned(),
        source: Source::Pins {
            dir: pins.dir().display().to_string(),
        },
        datapath: DatapathState {
            kind: "tc".to_owned(),
            reason: "no daemon running: the kernel path left attached (--keep) serves mapped hosts"
                .to_owned(),
        },
        daemon: None,
        xdp,
        tun: None,
        kernel,
        kernel_errors: Vec::new(),
        mappings,
        pool,
        active_hosts: Vec::new(),
        recent_errors: Vec::new(),
        log_events: BTreeMap::new(),
    })
}
