//! The daemon's state as its readers see it (`nat64 stats`, `status`, `mappings`, the metrics
//! endpoint): the workers' counters, the kernel path's, the pool, rendered into the snapshot
//! `ops` defines and serves.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{atomic::Ordering, Arc},
};

use super::{af_xdp_workers::XskCounters, kernel_path::KernelPath, tun_workers::WorkerShared};
use crate::{
    clock::unix_now,
    ops::{
        collect::{program_counters, version, DaemonInfo},
        control_socket::DaemonState,
        recent_errors,
        snapshot::{
            DaemonFacts, DatapathState, HostActivity, MappingEntry, PoolUse, Snapshot, Source,
            TunCounters, XdpInterface, XskSocketCounters, ACTIVE_HOSTS, SCHEMA,
        },
    },
};

/// The running daemon, read-only.
pub struct Observed {
    pub device: String,
    pub shared: Arc<WorkerShared>,
    pub kernel: Arc<KernelPath>,
    pub info: Arc<DaemonInfo>,
}

impl DaemonState for Observed {
    fn snapshot(&self) -> Snapshot {
        snapshot(&self.device, &self.shared, &self.kernel, &self.info)
    }

    fn mappings(&self) -> Vec<MappingEntry> {
        mappings(&self.shared)
    }

    fn stateful(&self) -> Option<crate::ops::control_socket::StatefulTables> {
        let path = self.shared.stateful.as_ref()?;
        Some(crate::ops::control_socket::StatefulTables {
            bib: path.bindings(),
            sessions: path.sessions(),
            blocks: path.blocks(),
            ..Default::default()
        })
    }
}

/// The running daemon's snapshot.
fn snapshot(
    device: &str,
    shared: &WorkerShared,
    kernel_path: &KernelPath,
    info: &DaemonInfo,
) -> Snapshot {
    let now = unix_now();
    let mut kernel = Vec::new();
    let mut kernel_errors = Vec::new();
    let mut xdp = Vec::new();
    if let Some(counters) = kernel_path.counters() {
        xdp = counters
            .xdp_modes
            .into_iter()
            .map(|(interface, mode)| XdpInterface {
                interface,
                mode: mode.label().to_owned(),
            })
            .collect();
        match counters.tc {
            Ok(values) => kernel.push(program_counters("tc", values)),
            Err(err) => kernel_errors.push(format!("tc counters unreadable: {err:#}")),
        }
        match counters.xdp {
            Some(Ok(values)) => kernel.push(program_counters("xdp", values)),
            Some(Err(err)) => kernel_errors.push(format!("xdp counters unreadable: {err:#}")),
            None => {}
        }
    }
    let pooled = shared.mappings.read(|pool| {
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
            kind: if kernel_path.is_attached() {
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
        stateful: shared
            .stateful
            .as_ref()
            .map(|s| crate::ops::snapshot::StatefulUse::from_counts(&s.counts())),
        af_xdp: shared
            .af_xdp
            .counters()
            .iter()
            .map(|c| xsk_counters(c))
            .collect(),
    }
}

fn xsk_counters(c: &XskCounters) -> XskSocketCounters {
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let p = &c.packets;
    XskSocketCounters {
        interface: c.interface.clone(),
        queue: c.queue,
        mode: c.mode.label().to_owned(),
        received: load(&c.received),
        translated: load(&p.translated_packets_out),
        sent: load(&c.sent),
        sent_direct: load(&c.sent_direct),
        transmitted: load(&c.transmitted),
        transmit_busy: load(&c.transmit_busy),
        icmp_errors_sent: load(&p.icmp_errors_sent),
        local_replies: load(&p.local_replies),
        write_errors: load(&p.write_errors),
        not_ip: load(&c.not_ip),
        rx_ring_full: load(&c.rx_ring_full),
        fill_ring_empty: load(&c.fill_ring_empty),
        kernel_dropped: load(&c.kernel_dropped),
        tx_invalid: load(&c.tx_invalid),
        dropped: p.dropped_by_reason(false),
    }
}

/// Every dynamic mapping the daemon holds, most recently used first.
fn mappings(shared: &WorkerShared) -> Vec<MappingEntry> {
    let mut all = shared
        .mappings
        .read(|pool| pool.iter().collect::<Vec<_>>())
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
        translated: load(&c.packets.translated_packets_out),
        icmp_errors_sent: load(&c.packets.icmp_errors_sent),
        local_replies: load(&c.packets.local_replies),
        write_errors: load(&c.packets.write_errors),
        gso_super_packets: load(&c.gso_super_packets),
        gso_segments: load(&c.gso_segments),
        gso_translated_whole: load(&c.gso_translated_whole),
        partial_checksums: load(&c.partial_checksums),
        offload_cut: load(&c.offload_cut),
        offload_malformed: load(&c.offload_malformed),
        glued_writes: load(&c.glued_writes),
        glued_datagrams: load(&c.glued_datagrams),
        dropped: c.packets.dropped_by_reason(true),
    }
}
