//! `nat64 stats` as text: one `name value` per line, the form scripts and tests have always
//! read (`tun translated 12`, `tc translated_v6_to_v4_udp 40`, `mappings 3`). Counters that
//! are zero are left out; `--json` has them all.

use std::fmt::Write as _;

use nat64_common::counters::DropReason;

use super::snapshot::{Snapshot, Source};

pub fn render(s: &Snapshot) -> String {
    let mut out = format!("device {}\n", s.device);
    match &s.source {
        Source::Daemon => {
            let _ = writeln!(out, "datapath {}", s.datapath.kind);
        }
        Source::Pins { dir } => {
            let _ = writeln!(
                out,
                "datapath tc (no daemon running: from the maps pinned in {dir})"
            );
        }
    }
    if let Some(tun) = &s.tun {
        for (name, value) in [
            ("received", tun.received),
            ("translated", tun.translated),
            ("icmp_errors_sent", tun.icmp_errors_sent),
            ("local_replies", tun.local_replies),
            ("write_errors", tun.write_errors),
            ("gso_super_packets", tun.gso_super_packets),
            ("gso_segments", tun.gso_segments),
            ("gso_translated_whole", tun.gso_translated_whole),
            ("partial_checksums", tun.partial_checksums),
            ("offload_cut", tun.offload_cut),
            ("offload_malformed", tun.offload_malformed),
            ("glued_writes", tun.glued_writes),
            ("glued_datagrams", tun.glued_datagrams),
        ] {
            let _ = writeln!(out, "tun {name} {value}");
        }
        for reason in DropReason::ALL {
            let n = tun.dropped.get(reason.as_str()).copied().unwrap_or(0);
            if n > 0 {
                let _ = writeln!(out, "tun dropped {} {n}", reason.as_str());
            }
        }
    }
    for x in &s.af_xdp {
        let _ = writeln!(
            out,
            "af_xdp {} queue {} mode {}",
            x.interface, x.queue, x.mode
        );
        for (name, value) in [
            ("received", x.received),
            ("translated", x.translated),
            ("sent", x.sent),
            ("sent_direct", x.sent_direct),
            ("transmitted", x.transmitted),
            ("transmit_busy", x.transmit_busy),
            ("icmp_errors_sent", x.icmp_errors_sent),
            ("local_replies", x.local_replies),
            ("write_errors", x.write_errors),
            ("not_ip", x.not_ip),
            ("rx_ring_full", x.rx_ring_full),
            ("fill_ring_empty", x.fill_ring_empty),
            ("kernel_dropped", x.kernel_dropped),
            ("tx_invalid", x.tx_invalid),
        ] {
            let _ = writeln!(out, "af_xdp {} {} {name} {value}", x.interface, x.queue);
        }
        for (reason, n) in &x.dropped {
            let _ = writeln!(
                out,
                "af_xdp {} {} dropped {reason} {n}",
                x.interface, x.queue
            );
        }
    }
    for program in &s.kernel {
        for count in program.outcomes.iter().filter(|c| c.packets > 0) {
            let _ = writeln!(
                out,
                "{} {} {}",
                program.program, count.outcome, count.packets
            );
        }
    }
    for error in &s.kernel_errors {
        let _ = writeln!(out, "{error}");
    }
    match (&s.source, &s.pool) {
        (Source::Daemon, Some(pool)) => {
            let _ = writeln!(out, "mappings {}", s.mappings);
            let _ = writeln!(
                out,
                "pool {}: {} of {} addresses in use ({:.1}%)",
                pool.network,
                pool.in_use,
                pool.capacity,
                pool.percent()
            );
        }
        (Source::Daemon, None) if s.stateful.is_some() => {}
        (Source::Daemon, None) => {
            let _ = writeln!(out, "mappings 0 (no dynamic pool)");
        }
        (Source::Pins { .. }, pool) => {
            let _ = writeln!(out, "mappings {}", s.mappings);
            if let Some(pool) = pool {
                let _ = writeln!(
                    out,
                    "pool {}: {} of {} addresses mapped in the kernel ({:.1}%)",
                    pool.network,
                    pool.in_use,
                    pool.capacity,
                    pool.percent()
                );
            }
        }
    }
    if let Some(st) = &s.stateful {
        let line = |m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "stateful bindings: {}", line(&st.bindings));
        let _ = writeln!(out, "stateful sessions: {}", line(&st.sessions));
        let blocks: Vec<String> = st
            .blocks_assigned
            .iter()
            .map(|(p, n)| {
                format!(
                    "{p} {n} of {}",
                    st.blocks_total.get(p).copied().unwrap_or(0)
                )
            })
            .collect();
        let _ = writeln!(out, "stateful port blocks assigned: {}", blocks.join(", "));
        let _ = writeln!(out, "stateful held syns {}", st.held_syns);
        let _ = writeln!(
            out,
            "stateful translated 6->4: {}; 4->6: {}",
            line(&st.translated_v6_to_v4),
            line(&st.translated_v4_to_v6)
        );
        let _ = writeln!(
            out,
            "stateful sessions opened: {}; expired: {}",
            line(&st.sessions_opened),
            line(&st.sessions_expired)
        );
        let _ = writeln!(
            out,
            "stateful sessions opened in the kernel: {}; conflicts: {}",
            line(&st.sessions_opened_in_kernel),
            line(&st.kernel_conflicts)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ops::snapshot::{
        DatapathState, OutcomeCount, PoolUse, ProgramCounters, TunCounters, SCHEMA,
    };

    #[test]
    fn the_text_keeps_its_lines() {
        let snapshot = Snapshot {
            schema: SCHEMA,
            version: "0".into(),
            device: "nat64".into(),
            source: Source::Daemon,
            datapath: DatapathState {
                kind: "tc".into(),
                reason: String::new(),
            },
            daemon: None,
            xdp: Vec::new(),
            tun: Some(TunCounters {
                received: 5,
                translated: 4,
                dropped: BTreeMap::from([
                    ("truncated".to_owned(), 1),
                    ("bad_ip_header".to_owned(), 0),
                ]),
                ..TunCounters::default()
            }),
            kernel: vec![ProgramCounters {
                program: "tc".into(),
                outcomes: vec![
                    OutcomeCount {
                        outcome: "translated_v6_to_v4_icmp".into(),
                        packets: 9,
                    },
                    OutcomeCount {
                        outcome: "pass_fragment".into(),
                        packets: 0,
                    },
                ],
            }],
            kernel_errors: Vec::new(),
            mappings: 1,
            pool: Some(PoolUse {
                network: "198.51.100.0/24".into(),
                capacity: 253,
                in_use: 1,
            }),
            active_hosts: Vec::new(),
            recent_errors: Vec::new(),
            log_events: BTreeMap::new(),
            stateful: None,
            af_xdp: Vec::new(),
        };
        let text = render(&snapshot);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "device nat64",
                "datapath tc",
                "tun received 5",
                "tun translated 4"
            ]
        );
        assert!(lines.contains(&"tun dropped truncated 1"));
        assert!(!text.contains("bad_ip_header"));
        assert!(lines.contains(&"tc translated_v6_to_v4_icmp 9"));
        assert!(!text.contains("pass_fragment"));
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "mappings 1",
                "pool 198.51.100.0/24: 1 of 253 addresses in use (0.4%)"
            ]
        );
    }
}
