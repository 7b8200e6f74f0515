//! The snapshot in the Prometheus text exposition format (0.0.4), as `promtool check
//! metrics` reads it: counters end in `_total`, units are in the names, fixed facts are
//! `_info` gauges of value 1.
//!
//! Each metric family has its writer in [`FAMILIES`]; the stateful datapath adds its own
//! (sessions by protocol and state, port blocks, subscribers) next to its snapshot section.

use anyhow::{Context as _, Result};
use prometheus::{
    core::Collector, Encoder as _, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::snapshot::Snapshot;

/// The content type of what [`encode`] returns.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type FamilyWriter = fn(&Snapshot, &Registry) -> prometheus::Result<()>;

/// Every family, in the order they are written.
const FAMILIES: &[FamilyWriter] = &[
    build_info,
    datapath_info,
    start_time,
    packets,
    tun_dropped,
    tun_offload,
    af_xdp_sockets,
    mappings_and_pool,
    stateful_tables,
    xdp_interfaces,
    log_events,
];

/// The exposition of `snapshot`.
pub fn encode(snapshot: &Snapshot) -> Result<String> {
    let registry = Registry::new();
    for write in FAMILIES {
        write(snapshot, &registry).context("building the metric families")?;
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .context("encoding the metrics")?;
    String::from_utf8(out).context("the metrics are not UTF-8")
}

fn registered<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> prometheus::Result<C> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn gauge(registry: &Registry, name: &str, help: &str, value: i64) -> prometheus::Result<()> {
    registered(registry, IntGauge::new(name, help)?)?.set(value);
    Ok(())
}

fn as_gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn build_info(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    gauge_vec(
        r,
        "nat64_build_info",
        "The nat64 build serving; always 1.",
        &["version"],
    )?
    .with_label_values(&[s.version.as_str()])
    .set(1);
    Ok(())
}

fn datapath_info(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    gauge_vec(
        r,
        "nat64_datapath_info",
        "Which datapath serves the device: tc (kernel, with the TUN workers as slow path) or tun (userspace alone); always 1.",
        &["device", "datapath"],
    )?
    .with_label_values(&[s.device.as_str(), s.datapath.kind.as_str()])
    .set(1);
    Ok(())
}

fn start_time(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    match &s.daemon {
        Some(daemon) => gauge(
            r,
            "nat64_start_time_seconds",
            "When the daemon started, in seconds since the Unix epoch.",
            as_gauge(daemon.started_unix),
        ),
        None => Ok(()),
    }
}

fn packets(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    let family = counter_vec(
        r,
        "nat64_packets_total",
        "Packets by datapath (tc, xdp: kernel programs; tun: userspace workers) and what became of them.",
        &["datapath", "outcome"],
    )?;
    for program in &s.kernel {
        for count in &program.outcomes {
            family
                .with_label_values(&[program.program.as_str(), count.outcome.as_str()])
                .inc_by(count.packets);
        }
    }
    if let Some(tun) = &s.tun {
        for (outcome, value) in [
            ("translated", tun.translated),
            ("icmp_error_sent", tun.icmp_errors_sent),
            ("local_reply", tun.local_replies),
            ("write_error", tun.write_errors),
        ] {
            family.with_label_values(&["tun", outcome]).inc_by(value);
        }
    }
    Ok(())
}

fn tun_dropped(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    let Some(tun) = &s.tun else { return Ok(()) };
    let family = counter_vec(
        r,
        "nat64_dropped_packets_total",
        "Packets the userspace translator dropped or answered with an ICMP error instead of translating, by reason.",
        &["datapath", "reason"],
    )?;
    for (reason, value) in &tun.dropped {
        family
            .with_label_values(&["tun", reason.as_str()])
            .inc_by(*value);
    }
    Ok(())
}

fn af_xdp_sockets(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    if s.af_xdp.is_empty() {
        return Ok(());
    }
    let family = counter_vec(
        r,
        "nat64_af_xdp_packets_total",
        "Frames of the AF_XDP slow path, by interface, receive queue, and what became of them (received, translated, sent, sent straight out, transmitted, dropped reasons, ring full).",
        &["interface", "queue", "outcome"],
    )?;
    for x in &s.af_xdp {
        let queue = x.queue.to_string();
        let fixed = [
            ("received", x.received),
            ("translated", x.translated),
            ("sent", x.sent),
            ("sent_direct", x.sent_direct),
            ("transmitted", x.transmitted),
            ("transmit_busy", x.transmit_busy),
            ("icmp_error_sent", x.icmp_errors_sent),
            ("local_reply", x.local_replies),
            ("write_error", x.write_errors),
            ("not_ip", x.not_ip),
            ("rx_ring_full", x.rx_ring_full),
            ("fill_ring_empty", x.fill_ring_empty),
            ("kernel_dropped", x.kernel_dropped),
            ("tx_invalid", x.tx_invalid),
        ];
        let dropped = x.dropped.iter().map(|(reason, n)| (reason.as_str(), *n));
        for (outcome, value) in fixed.into_iter().chain(dropped) {
            family
                .with_label_values(&[x.interface.as_str(), queue.as_str(), outcome])
                .inc_by(value);
        }
    }
    Ok(())
}

fn tun_offload(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    let Some(tun) = &s.tun else { return Ok(()) };
    for (name, help, value) in [
        (
            "nat64_tun_reads_total",
            "Reads from the TUN device that returned a packet (a super-packet counts once).",
            tun.received,
        ),
        (
            "nat64_tun_gso_super_packets_total",
            "GSO super-packets read.",
            tun.gso_super_packets,
        ),
        (
            "nat64_tun_gso_segments_total",
            "Segments the GSO super-packets stood for.",
            tun.gso_segments,
        ),
        (
            "nat64_tun_gso_translated_whole_total",
            "Super-packets translated whole, in one write.",
            tun.gso_translated_whole,
        ),
        (
            "nat64_tun_partial_checksums_total",
            "Reads with a partial checksum and no GSO.",
            tun.partial_checksums,
        ),
        (
            "nat64_tun_offload_cut_total",
            "Offloaded reads cut into packets in userspace.",
            tun.offload_cut,
        ),
        (
            "nat64_tun_offload_malformed_total",
            "Offloaded reads whose virtio-net header did not match the packet.",
            tun.offload_malformed,
        ),
        (
            "nat64_tun_glued_writes_total",
            "USO super-packets written of datagrams read one by one.",
            tun.glued_writes,
        ),
        (
            "nat64_tun_glued_datagrams_total",
            "Datagrams glued into USO writes.",
            tun.glued_datagrams,
        ),
    ] {
        registered(r, prometheus::IntCounter::new(name, help)?)?.inc_by(value);
    }
    Ok(())
}

fn mappings_and_pool(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    gauge(
        r,
        "nat64_mappings",
        "Dynamic mappings (IPv6 host to pool address).",
        as_gauge(s.mappings),
    )?;
    if let Some(pool) = &s.pool {
        gauge_vec(
            r,
            "nat64_pool_addresses",
            "Addresses of the dynamic pool that can be handed out.",
            &["pool"],
        )?
        .with_label_values(&[pool.network.as_str()])
        .set(as_gauge(pool.capacity));
        gauge_vec(
            r,
            "nat64_pool_addresses_in_use",
            "Addresses of the dynamic pool mapped now.",
            &["pool"],
        )?
        .with_label_values(&[pool.network.as_str()])
        .set(as_gauge(pool.in_use));
    }
    Ok(())
}

fn stateful_tables(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    let Some(st) = &s.stateful else {
        return Ok(());
    };
    for (name, help, values) in [
        (
            "nat64_stateful_bindings",
            "Stateful NAT64 bindings (BIB entries), static ones included.",
            &st.bindings,
        ),
        (
            "nat64_stateful_sessions",
            "Stateful NAT64 sessions.",
            &st.sessions,
        ),
        (
            "nat64_stateful_port_blocks_assigned",
            "Port blocks held by subscribers.",
            &st.blocks_assigned,
        ),
        (
            "nat64_stateful_port_blocks",
            "Port blocks pool4 is cut into.",
            &st.blocks_total,
        ),
    ] {
        let family = gauge_vec(r, name, help, &["protocol"])?;
        for (protocol, value) in values {
            family
                .with_label_values(&[protocol.as_str()])
                .set(as_gauge(*value));
        }
    }
    let packets = counter_vec(
        r,
        "nat64_stateful_packets_total",
        "Packets stateful NAT64 translated, by protocol and direction.",
        &["protocol", "direction"],
    )?;
    for (direction, values) in [
        ("v6_to_v4", &st.translated_v6_to_v4),
        ("v4_to_v6", &st.translated_v4_to_v6),
    ] {
        for (protocol, value) in values {
            packets
                .with_label_values(&[protocol.as_str(), direction])
                .inc_by(*value);
        }
    }
    for (name, help, values) in [
        (
            "nat64_stateful_sessions_opened_total",
            "Stateful NAT64 sessions opened.",
            &st.sessions_opened,
        ),
        (
            "nat64_stateful_sessions_expired_total",
            "Stateful NAT64 sessions removed when their timer ran out.",
            &st.sessions_expired,
        ),
        (
            "nat64_stateful_sessions_opened_in_kernel_total",
            "Stateful NAT64 sessions the kernel programs opened themselves.",
            &st.sessions_opened_in_kernel,
        ),
        (
            "nat64_stateful_kernel_conflicts_total",
            "Sessions the kernel opened on a binding given away meanwhile, taken out again.",
            &st.kernel_conflicts,
        ),
    ] {
        let family = counter_vec(r, name, help, &["protocol"])?;
        for (protocol, value) in values {
            family
                .with_label_values(&[protocol.as_str()])
                .inc_by(*value);
        }
    }
    gauge(
        r,
        "nat64_stateful_held_syns",
        "IPv4 SYNs held for a simultaneous open.",
        as_gauge(st.held_syns),
    )
}

fn xdp_interfaces(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    if s.xdp.is_empty() {
        return Ok(());
    }
    let family = gauge_vec(
        r,
        "nat64_xdp_attached_info",
        "The XDP program on an interface and its mode (native, generic, or kept from an earlier run); always 1.",
        &["interface", "mode"],
    )?;
    for attached in &s.xdp {
        family
            .with_label_values(&[attached.interface.as_str(), attached.mode.as_str()])
            .set(1);
    }
    Ok(())
}

fn log_events(s: &Snapshot, r: &Registry) -> prometheus::Result<()> {
    if s.daemon.is_none() {
        return Ok(());
    }
    let family = counter_vec(
        r,
        "nat64_log_messages_total",
        "Warnings and errors the daemon logged, by level.",
        &["level"],
    )?;
    for (level, count) in &s.log_events {
        family.with_label_values(&[level.as_str()]).inc_by(*count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ops::snapshot::{
        DaemonFacts, DatapathState, OutcomeCount, PoolUse, ProgramCounters, Source, TunCounters,
        XdpInterface, SCHEMA,
    };

    fn snapshot() -> Snapshot {
        Snapshot {
            schema: SCHEMA,
            version: "9.9.9".into(),
            device: "nat64".into(),
            source: Source::Daemon,
            datapath: DatapathState {
                kind: "tc".into(),
                reason: "because \"quoted\"\nand a newline".into(),
            },
            daemon: Some(DaemonFacts {
                pid: 1,
                started_unix: 1_700_000_000,
                uptime_secs: 5,
                mode: "native".into(),
                config_source: "built-in defaults".into(),
                prefix: String::new(),
                systemd: false,
            }),
            xdp: vec![XdpInterface {
                interface: "eth\"0".into(),
                mode: "native".into(),
            }],
            tun: Some(TunCounters {
                translated: 7,
                dropped: BTreeMap::from([("truncated".to_owned(), 2)]),
                ..TunCounters::default()
            }),
            kernel: vec![ProgramCounters {
                program: "tc".into(),
                outcomes: vec![OutcomeCount {
                    outcome: "translated_v6_to_v4_udp".into(),
                    packets: 40,
                }],
            }],
            kernel_errors: Vec::new(),
            mappings: 3,
            pool: Some(PoolUse {
                network: "100.64.0.0/10".into(),
                capacity: 4_194_302,
                in_use: 3,
            }),
            active_hosts: Vec::new(),
            recent_errors: Vec::new(),
            log_events: BTreeMap::from([("warn".to_owned(), 1)]),
            af_xdp: Vec::new(),
            stateful: Some(crate::ops::snapshot::StatefulUse {
                sessions: BTreeMap::from([("udp".to_owned(), 5)]),
                translated_v4_to_v6: BTreeMap::from([("tcp".to_owned(), 9)]),
                blocks_assigned: BTreeMap::from([("tcp".to_owned(), 2)]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn families_follow_the_naming_conventions() {
        let text = encode(&snapshot()).expect("encodes");
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let words: Vec<&str> = line.split(' ').collect();
            let (name, kind) = (words[2], words[3]);
            assert!(name.starts_with("nat64_"), "{line}");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
        }
        assert!(text.contains(
            "nat64_packets_total{datapath=\"tc\",outcome=\"translated_v6_to_v4_udp\"} 40"
        ));
        assert!(text.contains("nat64_packets_total{datapath=\"tun\",outcome=\"translated\"} 7"));
        assert!(text.contains("nat64_pool_addresses_in_use{pool=\"100.64.0.0/10\"} 3"));
        assert!(
            text.contains("nat64_stateful_sessions{protocol=\"udp\"} 5"),
            "{text}"
        );
        assert!(text.contains("nat64_stateful_port_blocks_assigned{protocol=\"tcp\"} 2"));
        assert!(text
            .contains("nat64_stateful_packets_total{direction=\"v4_to_v6\",protocol=\"tcp\"} 9"));
        // Label values are escaped, never break a line.
        assert!(text.contains("interface=\"eth\\\"0\""), "{text}");
    }

    #[test]
    fn a_snapshot_read_from_pins_has_no_daemon_families() {
        let mut s = snapshot();
        s.daemon = None;
        s.tun = None;
        let text = encode(&s).expect("encodes");
        assert!(!text.contains("nat64_start_time_seconds"));
        assert!(!text.contains("nat64_tun_"));
        assert!(text.contains("nat64_mappings 3"));
    }
}
