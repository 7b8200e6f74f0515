//! The TC program against the Jool SIIT vectors and the userspace translator: every packet
//! the program translates must come out byte for byte as userspace writes it; every packet
//! it does not must reach userspace unchanged, counted with a reason.

use std::io::Write as _;

use nat64::tc_maps;
use nat64::translate::{NoDynamicMap, Output, Translator, Verdict};
use nat64_common::counters::TcOutcome;
use nat64_tests::jool::{self, Case};
use nat64_tests::privileges::require_root;
use nat64_tests::tc_program::{
    self, ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX, TC_ACT_OK, TC_ACT_REDIRECT,
};

/// What the program did with one case.
enum Outcome {
    /// Translated as userspace translates it.
    Translated,
    /// Passed on unchanged, for this reason.
    Passed(TcOutcome),
    Fail(String),
}

/// The one outcome counter that moved between two snapshots.
fn moved(before: &[u64], after: &[u64]) -> Option<TcOutcome> {
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| after[i] != before[i])
        .collect();
    match changed.as_slice() {
        [i] => TcOutcome::from_index(*i as u32),
        _ => None,
    }
}

/// Compares the program's output with userspace's, except the IPv4 Identification (random in
/// the kernel, a counter in userspace) and the header checksum over it, which is checked on
/// its own.
fn compare(kernel: &[u8], user: &[u8]) -> Result<(), String> {
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

fn run_case(ebpf: &mut aya::Ebpf, case: &Case) -> anyhow::Result<Outcome> {
    let cfg = jool::config_for(case);
    // No dynamic pool: the vectors use explicit mappings and the prefix only.
    tc_maps::write_config(ebpf, &cfg, None, LOOPBACK_IFINDEX)?;
    let translator = Translator::new(cfg)?;
    let mut out = Output::new();
    let user_verdict = translator.translate(&case.sent, &mut NoDynamicMap, &mut out);

    let frame = tc_program::frame(&case.sent);
    let before = tc_maps::tc_counters(ebpf)?;
    let (action, kernel) = tc_program::run(tc_program::program(ebpf)?, &frame)?;
    let after = tc_maps::tc_counters(ebpf)?;
    let Some(outcome) = moved(&before, &after) else {
        return Ok(Outcome::Fail("not exactly one counter moved".into()));
    };
    match action {
        TC_ACT_REDIRECT => {
            let packets: Vec<&[u8]> = out.packets().collect();
            if user_verdict != Verdict::Translated || packets.len() != 1 {
                return Ok(Outcome::Fail(format!(
                    "translated ({}) where userspace says {user_verdict:?} with {} packets",
                    outcome.as_str(),
                    packets.len()
                )));
            }
            if !outcome.is_translated() {
                return Ok(Outcome::Fail(format!(
                    "redirected but counted {}",
                    outcome.as_str()
                )));
            }
            match compare(&kernel[ETHERNET_HEADER_LEN..], packets[0]) {
                Ok(()) => Ok(Outcome::Translated),
                Err(e) => Ok(Outcome::Fail(format!("differs from userspace: {e}"))),
            }
        }
        TC_ACT_OK if kernel == frame && !outcome.is_translated() => Ok(Outcome::Passed(outcome)),
        TC_ACT_OK => Ok(Outcome::Fail(format!(
            "passed ({}) but changed",
            outcome.as_str()
        ))),
        other => Ok(Outcome::Fail(format!(
            "action {other} ({})",
            outcome.as_str()
        ))),
    }
}

#[test]
fn jool_siit_vectors_through_the_tc_program() {
    if !require_root("jool_siit_vectors_through_the_tc_program") {
        return;
    }
    let cases = jool::load_cases();
    let mut ebpf = tc_program::load().expect("the TC program loads");
    let (mut translated, mut passed_on, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for case in &cases {
        match run_case(&mut ebpf, case) {
            Ok(Outcome::Translated) => translated.push(case.label()),
            Ok(Outcome::Passed(reason)) => passed_on.push((case.label(), reason)),
            Ok(Outcome::Fail(why)) => failed.push(format!("{}: {why}", case.label())),
            Err(e) => failed.push(format!("{}: {e:#}", case.label())),
        }
    }
    let mut report = String::new();
    report.push_str(&format!(
        "jool-siit vectors (tc): {} passed, 0 skipped, {} failed ({} translated in the kernel, \
         {} passed on to userspace)\n",
        translated.len() + passed_on.len(),
        failed.len(),
        translated.len(),
        passed_on.len()
    ));
    for (label, reason) in &passed_on {
        report.push_str(&format!("  to userspace ({}): {label}\n", reason.as_str()));
    }
    for f in &failed {
        report.push_str(&format!("  FAILED {f}\n"));
    }
    // Straight to stderr so the summary shows without --nocapture.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(failed.is_empty(), "{} cases failed", failed.len());
    assert!(!translated.is_empty(), "the program translated nothing");
}
