//! RFC 6146 conformance against Jool's stateful NAT64 packet vectors, in order (a case may
//! rely on the state an earlier one made), through the userspace stateful translator.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use nat64::stateful::{Nat64, Pool4Range, PortBlocks, Protocol, StatefulConfig, StaticBinding};
use nat64::translate::{Output, Prefix, TranslatorConfig, Verdict};
use nat64_tests::jool::{self, Case, Direction, Tally};

const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// 64:ff9b::192.0.2.2, pool4's address seen from IPv6.
const HAIRPIN_DESTINATION: [u8; 16] = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2];
const TRANSLATOR_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

const NO_ROUTE: &str = "the translated packet has no IPv4 route in Jool's namespace, so Jool \
     answers Host Unreachable itself; our translator leaves routing to the kernel (TUN and TC \
     hand it the packet, XDP asks the FIB), and the kernel answers ICMPv4 unreachable, which we \
     translate back like any error";

/// Cases whose expected packets encode a choice Jool (or the kernel around it) makes that we
/// make differently on purpose, keyed by the sent packet's file and the settings.
pub(super) const DELIBERATE_DIFFERENCES: &[(&str, &str)] = &[
    ("manual/issue132/test.pkt", NO_ROUTE),
    (
        "pktgen/sender/6-icmp6info-csumfail-df-nofrag.pkt",
        "ICMPv6 echo with a wrong checksum: Jool translates it, still wrong; we drop it as TAYGA \
         does (RFC 7915 §5.2 allows it; see the SIIT vectors)",
    ),
    (
        "pktgen/sender/6-icmp6info-csumfail-nodf-nofrag.pkt",
        "ICMPv6 echo with a wrong checksum: dropped, as above",
    ),
    (
        "pktgen/sender/4-icmp4info-csumfail-df-nofrag.pkt",
        "ICMPv4 echo with a wrong checksum: dropped, as above",
    ),
    (
        "pktgen/sender/4-icmp4info-csumfail-nodf-nofrag.pkt",
        "ICMPv4 echo with a wrong checksum: dropped, as above",
    ),
];

fn translator_config(case: &Case) -> TranslatorConfig {
    let mut cfg = TranslatorConfig {
        prefix: Some(Prefix::new("64:ff9b::".parse::<Ipv6Addr>().unwrap().octets(), 96).unwrap()),
        ipv6_addr: TRANSLATOR_V6,
        wkpf_strict: false,
        lowest_ipv6_mtu: 1280,
        ..TranslatorConfig::default()
    };
    for (key, value) in &case.settings {
        match key.as_str() {
            "ipv4-link-mtu" => cfg.ipv4_mtu = value.parse().expect("ipv4-link-mtu"),
            "ipv6-link-mtu" => cfg.ipv6_mtu = value.parse().expect("ipv6-link-mtu"),
            _ => {}
        }
    }
    cfg
}

fn stateful_config() -> StatefulConfig {
    let statics = [
        (Protocol::Tcp, "2001:db8::5", 2000, 2000),
        (Protocol::Udp, "2001:db8::5", 2000, 2000),
        (Protocol::Icmp, "2001:db8::5", 1, 1),
        (Protocol::Udp, "2001:db8:1::5", 1001, 1000),
        (Protocol::Udp, "2001:db8::5", 1003, 1002),
    ];
    StatefulConfig {
        pool4: Protocol::ALL
            .iter()
            .map(|&protocol| Pool4Range {
                protocol,
                addr: POOL4,
                ports: 1..=3000,
            })
            .collect(),
        static_bindings: statics
            .iter()
            .map(|&(protocol, v6, port6, port4)| StaticBinding {
                protocol,
                v6: v6.parse().unwrap(),
                port6,
                v4: POOL4,
                port4,
            })
            .collect(),
        // Jool has no port blocks: one block of the whole range keeps its port choices.
        blocks: PortBlocks {
            subscriber_prefix_len: 128,
            block_size: 3000,
            max_blocks: 1,
        },
        ..StatefulConfig::default()
    }
}

pub(super) fn new_nat64(case: &Case) -> Nat64 {
    Nat64::new(translator_config(case), stateful_config()).expect("configuration")
}

/// Whether the case changes the translator (its MTUs): it runs on a translator of its own
/// (with the static bindings, which are all such cases rely on).
pub(super) fn has_own_translator(case: &Case) -> bool {
    case.setting("ipv4-link-mtu").is_some() || case.setting("ipv6-link-mtu").is_some()
}

fn compare(case: &Case, out: &Output) -> Result<(), String> {
    let packets: Vec<&[u8]> = out.packets().collect();
    case.compare_all(&packets)
}

fn run(case: &Case, shared: &mut Nat64, clock: &mut Instant) -> Result<(), String> {
    let mut own;
    let nat64 = if has_own_translator(case) {
        own = new_nat64(case);
        &mut own
    } else {
        shared
    };
    run_in(case, nat64, clock)
}

/// Why a case is on the list of deliberate differences, if it is.
pub(super) fn deliberate(case: &Case) -> Option<&'static str> {
    DELIBERATE_DIFFERENCES
        .iter()
        .find(|(file, _)| *file == case.sent_file)
        .map(|(_, why)| *why)
}

/// Runs `case` through `nat64` at the test clock (moved on 10 ms first).
pub(super) fn run_in(case: &Case, nat64: &mut Nat64, clock: &mut Instant) -> Result<(), String> {
    let mut out = Output::new();
    let incoming_syn = StatefulConfig::default().timeouts.tcp_incoming_syn;
    *clock += Duration::from_millis(10);
    let verdict = nat64.translate(&case.sent, *clock, &mut out);
    if case.settings_text.starts_with("simultaneous-open: expect") {
        // Held, not answered: nothing now, nothing a second before the timer, the error
        // once it runs out.
        if !out.is_empty() {
            return Err(format!("answered at once ({verdict:?})"));
        }
        nat64.expire(*clock + incoming_syn - Duration::from_secs(1), &mut out);
        if !out.is_empty() {
            return Err("answered before the incoming-SYN timer ran out".into());
        }
        *clock += incoming_syn;
        nat64.expire(*clock, &mut out);
        return compare(case, &out);
    }
    if let Some(second) = &case.then_sent {
        if !out.is_empty() {
            return Err(format!("first packet not held ({verdict:?})"));
        }
        let verdict = nat64.translate(second, *clock, &mut out);
        compare(case, &out).map_err(|e| format!("{verdict:?}: {e}"))?;
        // Completed: the held SYN is never answered.
        let mut later = Output::new();
        nat64.expire(*clock + incoming_syn + Duration::from_secs(1), &mut later);
        return if later.is_empty() {
            Ok(())
        } else {
            Err("the held SYN was answered after the open completed".into())
        };
    }
    // A hairpinned packet (§3.8) comes out translated twice, in the family it went in: the
    // suite files it under "66" with the errors.
    let hairpinned = case.direction == Direction::SixErrorBack
        && case.sent.get(24..40) == Some(&HAIRPIN_DESTINATION[..]);
    let verdict_ok = match verdict {
        Verdict::Translated => !case.direction.is_error_back() || hairpinned,
        Verdict::IcmpError(_) => case.direction.is_error_back(),
        Verdict::LocalReply | Verdict::Drop(_) => false,
    };
    if !verdict_ok {
        return Err(format!("verdict {verdict:?}"));
    }
    compare(case, &out)
}

#[test]
fn jool_nat64_vectors() {
    let cases = jool::load_cases_from(&jool::nat64_vectors_dir());
    assert_eq!(cases.len(), 42, "the suite has 42 cases");
    assert!(
        cases
            .iter()
            .all(|c| c.direction != Direction::FourThenSix || c.then_sent.is_some()),
        "a two-sender case lost its second packet"
    );
    let mut shared = new_nat64(&cases[0]);
    let mut clock = Instant::now();
    let mut tally = Tally::default();
    for case in &cases {
        tally.record(case, run(case, &mut shared, &mut clock), deliberate(case));
    }
    tally.report("jool-nat64 vectors (userspace)");
    assert!(
        tally.failed.is_empty(),
        "{} Jool NAT64 vector cases failed",
        tally.failed.len()
    );
}
