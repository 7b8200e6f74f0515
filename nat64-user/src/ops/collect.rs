//! What a [`Snapshot`] is made of: the facts the daemon keeps about itself ([`DaemonInfo`]),
//! and, with no daemon, the kernel path's pinned maps. The running daemon fills its own
//! snapshot (`gateway::observe`) from these parts.

use std::{collections::BTreeMap, net::Ipv4Addr, time::Instant};

use anyhow::{Context as _, Result};
use aya::maps::{Array, HashMap, Map, MapData};
use nat64_common::{
    counters::Outcome,
    maps::{names, ConfigBlock, Ipv6HostKey, V6ToV4Mapping},
};

use super::snapshot::{
    DatapathState, OutcomeCount, PoolUse, ProgramCounters, Snapshot, Source, XdpInterface, SCHEMA,
};
use crate::{clock::unix_now, pins::PinDir, tc_maps};

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

pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// One program's counters, every outcome including zeros.
pub fn program_counters(program: &str, values: [u64; Outcome::COUNT]) -> ProgramCounters {
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
        stateful: None,
        af_xdp: Vec::new(),
    })
}
