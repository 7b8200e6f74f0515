//! RFC 7915 conformance against Jool's SIIT packet vectors, through the userspace translator.

use nat64::translate::{NoDynamicMap, Output, Translator, Verdict};
use nat64_tests::jool::{self, Case, Tally};

/// Cases whose expected packets encode a choice Jool (or the kernel around it) makes that we
/// make differently on purpose. Keyed by the sent packet's file.
const EXT_AFTER_FRAGMENT: &str = "extension headers after the Fragment header: Jool's host \
     answers admin-prohibited; we skip them like any other and translate the fragment";

const BAD_ICMP_CHECKSUM: &str = "ICMP informational message with a wrong checksum: Jool \
     translates it incrementally, still wrong; we drop it, as TAYGA does and RFC 7915 §4.2/§5.2 \
     allow (the receiver would drop it anyway), so a bad checksum never crosses the translator";
const MISALIGNED_FRAGMENT: &str = "a fragment that is not the last and is not a multiple of 8 \
     bytes long belongs to no datagram (RFC 791, RFC 8200 §4.5 'must be discarded'): Jool \
     translates it, we drop it, as TAYGA does";
const SPECIAL_SOURCE: &str = "an ICMP error from 127.0.0.1 or 0.0.0.0, which never appear on a \
     wire (RFC 1122 §3.2.1.3): Jool translates it from its RFC 6791 address, we drop it, as TAYGA \
     does";

const DELIBERATE_DIFFERENCES: &[(&str, &str)] = &[
    (
        "pktgen/sender/6-icmp6info-csumfail-df-nofrag.pkt",
        BAD_ICMP_CHECKSUM,
    ),
    (
        "pktgen/sender/6-icmp6info-csumfail-nodf-nofrag.pkt",
        BAD_ICMP_CHECKSUM,
    ),
    (
        "pktgen/sender/4-icmp4info-csumfail-df-nofrag.pkt",
        BAD_ICMP_CHECKSUM,
    ),
    (
        "pktgen/sender/4-icmp4info-csumfail-nodf-nofrag.pkt",
        BAD_ICMP_CHECKSUM,
    ),
    ("7915/abt3.pkt", MISALIGNED_FRAGMENT),
    ("7915/cat2.pkt", MISALIGNED_FRAGMENT),
    ("7915/cgt2.pkt", MISALIGNED_FRAGMENT),
    ("7915/cjt1.pkt", MISALIGNED_FRAGMENT),
    ("7915/ect1.pkt", MISALIGNED_FRAGMENT),
    (
        "7915/eat1.pkt",
        "IPv4 UDP with a zero checksum under `udp-cksum-mode drop`: Jool answers ICMP, we drop \
         it and log it, as TAYGA does and RFC 7915 §4.5 asks (drop, and a system management event)",
    ),
    ("7915/hat1.pkt", SPECIAL_SOURCE),
    ("7915/hat2.pkt", SPECIAL_SOURCE),
    (
        "manual/6791v66t.pkt",
        "hairpinning: Jool turns the packet around inside the translator; we emit it to IPv4 and \
         the kernel routes it back through us (TAYGA's behaviour)",
    ),
    (
        "7915/gat1.pkt",
        "hairpinning: Jool turns the packet around inside the translator; we emit it to IPv4 and \
         the kernel routes it back through us (TAYGA's behaviour)",
    ),
    ("7915/act1.pkt", EXT_AFTER_FRAGMENT),
    ("7915/act2.pkt", EXT_AFTER_FRAGMENT),
    ("7915/act3.pkt", EXT_AFTER_FRAGMENT),
    ("7915/act4.pkt", EXT_AFTER_FRAGMENT),
    ("7915/act5.pkt", EXT_AFTER_FRAGMENT),
    (
        "7915/act6.pkt",
        "extension headers after the Fragment header, the last a routing header with segments \
         left: Jool's host answers admin-prohibited, we answer Parameter Problem (RFC 7915 5.1)",
    ),
];

fn run(case: &Case) -> Result<(), String> {
    let cfg = jool::try_config_for(case).map_err(|e| format!("settings: {e:#}"))?;
    let translator = Translator::new(cfg).map_err(|e| format!("config refused: {e:#}"))?;
    let mut out = Output::new();
    let verdict = translator.translate(&case.sent, &mut NoDynamicMap, &mut out);
    let verdict_ok = match verdict {
        Verdict::Translated => !case.direction.is_error_back(),
        Verdict::IcmpError(_) => case.direction.is_error_back(),
        Verdict::LocalReply | Verdict::Drop(_) => false,
    };
    if !verdict_ok {
        return Err(format!("verdict {verdict:?}"));
    }
    let packets: Vec<&[u8]> = out.packets().collect();
    case.compare_all(&packets)
}

#[test]
fn jool_siit_vectors() {
    let mut tally = Tally::default();
    for case in &jool::load_cases() {
        let deliberate = DELIBERATE_DIFFERENCES
            .iter()
            .find(|(file, _)| *file == case.sent_file)
            .map(|(_, why)| *why);
        tally.record(case, run(case), deliberate);
    }
    tally.report("jool-siit vectors");
    assert!(
        tally.failed.is_empty(),
        "{} Jool vector cases failed",
        tally.failed.len()
    );
}

/// Mutated and truncated versions of every sent packet, under every case's settings: the
/// translator must never panic (debug build: arithmetic overflow panics too).
#[test]
fn mutated_vectors_never_panic() {
    let cases = jool::load_cases();
    let mut out = Output::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in &cases {
        let translator = Translator::new(jool::config_for(case)).expect("config");
        for _ in 0..1000 {
            let mut pkt = case.sent.clone();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % pkt.len();
                pkt[at] = next() as u8;
            }
            if next() % 3 == 0 {
                let keep = (next() as usize) % (pkt.len() + 1);
                pkt.truncate(keep);
            }
            if next() % 2 == 0 {
                fix_checksums(&mut pkt);
            }
            let _ = translator.translate(&pkt, &mut NoDynamicMap, &mut out);
        }
    }
}

/// Recomputes the IPv4 header checksum and an outer ICMP/ICMPv6 checksum (no extension
/// headers), so mutations reach past the checks that would otherwise reject them early.
fn fix_checksums(pkt: &mut [u8]) {
    use nat64_common::checksum;
    match pkt.first().map(|b| b >> 4) {
        Some(4) if pkt.len() >= 20 => {
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            if ihl < 20 || ihl > pkt.len() {
                return;
            }
            pkt[10..12].fill(0);
            let c = checksum::finish(checksum::sum(&pkt[..ihl], 0));
            pkt[10..12].copy_from_slice(&c.to_be_bytes());
            let tl = usize::from(u16::from_be_bytes([pkt[2], pkt[3]])).min(pkt.len());
            if pkt[9] == 1 && tl >= ihl + 4 {
                pkt[ihl + 2..ihl + 4].fill(0);
                let c = checksum::finish(checksum::sum(&pkt[ihl..tl], 0));
                pkt[ihl + 2..ihl + 4].copy_from_slice(&c.to_be_bytes());
            }
        }
        Some(6) if pkt.len() >= 44 && pkt[6] == 58 => {
            let end = (40 + usize::from(u16::from_be_bytes([pkt[4], pkt[5]]))).min(pkt.len());
            let src: [u8; 16] = pkt[8..24].try_into().unwrap();
            let dst: [u8; 16] = pkt[24..40].try_into().unwrap();
            pkt[42..44].fill(0);
            let pseudo = checksum::pseudo_header_v6(&src, &dst, 58, (end - 40) as u32);
            let c = checksum::finish(checksum::sum(&pkt[40..end], pseudo));
            pkt[42..44].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
}
