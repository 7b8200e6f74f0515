//! The kernel programs (TC and XDP) against the Jool SIIT vectors and the userspace
//! translator: every packet a program translates must come out byte for byte as userspace
//! writes it; every packet it does not must go on unchanged, counted with a reason.

use std::io::Write as _;

use nat64::tc_maps::{self, Targets};
use nat64::translate::{NoDynamicMap, Output, Translator, Verdict};
use nat64_common::counters::Outcome;
use nat64_common::maps::XdpForward;
use nat64_tests::jool::{self, Case, Direction};
use nat64_tests::privileges::require_root;
use nat64_tests::tc_program::{
    self, ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX, TC_ACT_OK, TC_ACT_REDIRECT,
};
use nat64_tests::xdp_program::{self, XDP_PASS};

/// Which program a case runs through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Program {
    Tc,
    Xdp,
}

impl Program {
    pub(super) fn name(self) -> &'static str {
        match self {
            Program::Tc => "tc",
            Program::Xdp => "xdp",
        }
    }

    /// Where the program's untranslated packets go.
    fn passed_to(self) -> &'static str {
        match self {
            Program::Tc => "to userspace",
            Program::Xdp => "to the stack",
        }
    }

    pub(super) fn counters(self, ebpf: &aya::Ebpf) -> anyhow::Result<[u64; Outcome::COUNT]> {
        match self {
            Program::Tc => tc_maps::tc_counters(ebpf),
            Program::Xdp => tc_maps::xdp_counters(ebpf),
        }
    }

    /// Runs `packet`; returns whether the program says it translated it, and the frame.
    pub(super) fn run(
        self,
        ebpf: &mut aya::Ebpf,
        packet: &[u8],
    ) -> anyhow::Result<(Action, Vec<u8>, Vec<u8>)> {
        match self {
            Program::Tc => {
                let frame = tc_program::frame(packet);
                let (action, out) = tc_program::run(tc_program::program(ebpf)?, &frame)?;
                let action = match action {
                    TC_ACT_REDIRECT => Action::Forwarded,
                    TC_ACT_OK => Action::Passed,
                    other => Action::Other(other),
                };
                Ok((action, frame, out))
            }
            Program::Xdp => {
                let frame = xdp_program::frame(packet);
                let (action, out) = xdp_program::run(xdp_program::program(ebpf)?, &frame)?;
                // Stack forwarding: translated and untranslated frames alike go on with
                // XDP_PASS; the counters tell them apart.
                let action = match action {
                    XDP_PASS => Action::Passed,
                    other => Action::Other(other),
                };
                Ok((action, frame, out))
            }
        }
    }
}

pub(super) enum Action {
    Forwarded,
    Passed,
    Other(u32),
}

/// What the program did with one case.
enum CaseResult {
    /// Translated as userspace translates it.
    Translated,
    /// Passed on unchanged, for this reason.
    Passed(Outcome),
    /// Passed on unchanged where userspace translates, on purpose (the reason says why);
    /// translated as userspace does once the destination has a host mapping.
    PassedOnPurpose(Outcome, &'static str),
    Fail(String),
}

/// The translation outcome counted between two snapshots (XDP also counts where the packet
/// went: `Forward*`, returned second).
pub(super) fn moved(before: &[u64], after: &[u64]) -> Result<(Outcome, Option<Outcome>), String> {
    let changed: Vec<Outcome> = Outcome::ALL
        .iter()
        .copied()
        .filter(|o| after[*o as usize] != before[*o as usize])
        .collect();
    let (forward, what): (Vec<Outcome>, Vec<Outcome>) =
        changed.iter().partition(|o| o.is_forward());
    match (what.as_slice(), forward.as_slice()) {
        ([o], []) => Ok((*o, None)),
        ([o], [f]) => Ok((*o, Some(*f))),
        _ => Err(format!("counters moved: {changed:?}")),
    }
}

/// Compares the program's output with userspace's, except the IPv4 Identification (random in
/// the kernel, a counter in userspace) and the header checksum over it, which is checked on
/// its own.
pub(super) fn compare(kernel: &[u8], user: &[u8]) -> Result<(), String> {
    if kernel.len() != user.len() {
        return Err(format!("length {} expected {}", kernel.len(), user.len()));
    }
    let ipv4_without_df = kernel.first().is_some_and(|b| b >> 4 == 4) && kernel[6] & 0x40 == 0;
    let ignored: &[usize] = if ipv4_without_df {
        &[4, 5, 10, 11]
    } else {
        &[]
    };
    if ipv4_without_df {
        let sum: u32 = kernel[..20]
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        let folded = (sum & 0xffff) + (sum >> 16);
        if (folded & 0xffff) + (folded >> 16) != 0xffff {
            return Err("IPv4 header checksum wrong".into());
        }
    }
    let diffs: Vec<String> = kernel
        .iter()
        .zip(user)
        .enumerate()
        .filter(|(i, (k, u))| k != u && !ignored.contains(i))
        .take(8)
        .map(|(i, (k, u))| format!("@{i}: {k:02x} expected {u:02x}"))
        .collect();
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join(", "))
    }
}

/// XDP sees every IPv4 packet the interface receives, most of them the host's own or bound
/// elsewhere, so it translates IPv4 only towards the translator's own mapped addresses
/// (host or explicit mappings), never to an address merely embedded with the prefix. The
/// vectors without a dynamic pool send IPv4 to such addresses: the TC program and userspace
/// translate them (the kernel routed them into the TUN), XDP leaves them to the stack,
/// which routes them to the TUN device where TC translates them. Each such case is run
/// again with the destination entered as a host mapping, and must then translate.
const XDP_PREFIX_ONLY_DESTINATION: &str =
    "XDP translates IPv4 only to mapped addresses; the stack routes this one to the TC path";

fn run_case(ebpf: &mut aya::Ebpf, program: Program, case: &Case) -> anyhow::Result<CaseResult> {
    let result = run_once(ebpf, program, case)?;
    let CaseResult::PassedOnPurpose(..) = result else {
        return Ok(result);
    };
    // The same packet once the slow path has mapped its destination: XDP must translate it
    // exactly as userspace does.
    let translator = Translator::new(jool::config_for(case))?;
    let mut out = Output::new();
    translator.translate(&case.sent, &mut NoDynamicMap, &mut out);
    let Some(translated) = out.packets().next() else {
        return Ok(CaseResult::Fail("userspace output vanished".into()));
    };
    let v4 = std::net::Ipv4Addr::new(case.sent[16], case.sent[17], case.sent[18], case.sent[19]);
    let mut v6 = [0u8; 16];
    v6.copy_from_slice(&translated[24..40]);
    let v6 = std::net::Ipv6Addr::from(v6);
    tc_maps::insert_host(ebpf, v6, v4, nat64_common::maps::MappingKind::Dynamic)?;
    let mapped = run_once(ebpf, program, case);
    tc_maps::remove_host(ebpf, v6, v4)?;
    match mapped? {
        CaseResult::Translated => Ok(result),
        // Passed on for a reason of its own too (an ICMP error, options): as TC does.
        passed @ CaseResult::Passed(_) => Ok(passed),
        CaseResult::Fail(why) => Ok(CaseResult::Fail(format!("with a host mapping: {why}"))),
        CaseResult::PassedOnPurpose(..) => Ok(CaseResult::Fail(
            "not translated even with a host mapping".into(),
        )),
    }
}

fn run_once(ebpf: &mut aya::Ebpf, program: Program, case: &Case) -> anyhow::Result<CaseResult> {
    let cfg = jool::config_for(case);
    // No dynamic pool: the vectors use explicit mappings and the prefix only.
    let targets = Targets {
        tun_ifindex: LOOPBACK_IFINDEX,
        xdp_forward: XdpForward::Stack,
    };
    tc_maps::write_config(ebpf, &cfg, targets)?;
    let translator = Translator::new(cfg)?;
    let mut out = Output::new();
    let user_verdict = translator.translate(&case.sent, &mut NoDynamicMap, &mut out);
    let packets: Vec<&[u8]> = out.packets().collect();
    let user_translated = user_verdict == Verdict::Translated && packets.len() == 1;

    let before = program.counters(ebpf)?;
    let (action, frame, kernel) = program.run(ebpf, &case.sent)?;
    let after = program.counters(ebpf)?;
    let (outcome, forward) = match moved(&before, &after) {
        Ok(m) => m,
        Err(why) => return Ok(CaseResult::Fail(why)),
    };
    let translated = outcome.is_translated();
    match (program, &action) {
        (Program::Tc, Action::Forwarded) | (Program::Xdp, Action::Passed) if translated => {
            if program == Program::Xdp && forward != Some(Outcome::ForwardStack) {
                return Ok(CaseResult::Fail(format!(
                    "translated but sent on as {forward:?}"
                )));
            }
            if !user_translated {
                return Ok(CaseResult::Fail(format!(
                    "translated ({}) where userspace says {user_verdict:?} with {} packets",
                    outcome.as_str(),
                    packets.len()
                )));
            }
            if program == Program::Xdp {
                let ethertype = u16::from_be_bytes([kernel[12], kernel[13]]);
                let expected = if packets[0][0] >> 4 == 4 {
                    0x0800
                } else {
                    0x86dd
                };
                if ethertype != expected || kernel[..12] != frame[..12] {
                    return Ok(CaseResult::Fail(format!(
                        "Ethernet header {:02x?}",
                        &kernel[..14]
                    )));
                }
            }
            match compare(&kernel[ETHERNET_HEADER_LEN..], packets[0]) {
                Ok(()) => Ok(CaseResult::Translated),
                Err(e) => Ok(CaseResult::Fail(format!("differs from userspace: {e}"))),
            }
        }
        (_, Action::Passed) if kernel == frame && !translated => {
            let on_purpose = program == Program::Xdp
                && user_translated
                && case.direction == Direction::FourToSix
                && outcome == Outcome::PassNoDestinationMapping;
            if on_purpose {
                Ok(CaseResult::PassedOnPurpose(
                    outcome,
                    XDP_PREFIX_ONLY_DESTINATION,
                ))
            } else {
                Ok(CaseResult::Passed(outcome))
            }
        }
        (_, Action::Passed) => Ok(CaseResult::Fail(format!(
            "passed ({}) but changed",
            outcome.as_str()
        ))),
        (_, Action::Forwarded) => Ok(CaseResult::Fail(format!(
            "redirected but counted {}",
            outcome.as_str()
        ))),
        (_, Action::Other(other)) => Ok(CaseResult::Fail(format!(
            "action {other} ({})",
            outcome.as_str()
        ))),
    }
}

/// Runs every case through `program`, prints the summary line and the passed-on cases, and
/// returns how many were translated in the kernel.
fn run_all(program: Program, ebpf: &mut aya::Ebpf) -> usize {
    let cases = jool::load_cases();
    let (mut translated, mut passed_on, mut on_purpose, mut failed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for case in &cases {
        match run_case(ebpf, program, case) {
            Ok(CaseResult::Translated) => translated.push(case.label()),
            Ok(CaseResult::Passed(reason)) => passed_on.push((case.label(), reason)),
            Ok(CaseResult::PassedOnPurpose(reason, why)) => {
                on_purpose.push((case.label(), reason, why))
            }
            Ok(CaseResult::Fail(why)) => failed.push(format!("{}: {why}", case.label())),
            Err(e) => failed.push(format!("{}: {e:#}", case.label())),
        }
    }
    let passed_to = program.passed_to();
    let mut report = format!(
        "jool-siit vectors ({}): {} passed, 0 skipped, {} failed ({} translated in the kernel, \
         {} passed on {passed_to}; {} of them only for want of a host mapping, on purpose, \
         and translated once given one)\n",
        program.name(),
        translated.len() + passed_on.len() + on_purpose.len(),
        failed.len(),
        translated.len(),
        passed_on.len() + on_purpose.len(),
        on_purpose.len(),
    );
    for (label, reason) in &passed_on {
        report.push_str(&format!("  {passed_to} ({}): {label}\n", reason.as_str()));
    }
    for (label, reason, why) in &on_purpose {
        report.push_str(&format!(
            "  {passed_to} on purpose ({}: {why}): {label}\n",
            reason.as_str()
        ));
    }
    for f in &failed {
        report.push_str(&format!("  FAILED {f}\n"));
    }
    // Straight to stderr so the summary shows without --nocapture.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(failed.is_empty(), "{} cases failed", failed.len());
    translated.len()
}

#[test]
fn jool_siit_vectors_through_the_tc_program() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = tc_program::load().expect("the TC program loads");
    assert!(
        run_all(Program::Tc, &mut ebpf) > 0,
        "the program translated nothing"
    );
}

#[test]
fn jool_siit_vectors_through_the_xdp_program() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = xdp_program::load().expect("the XDP program loads");
    assert!(
        run_all(Program::Xdp, &mut ebpf) > 0,
        "the program translated nothing"
    );
}
