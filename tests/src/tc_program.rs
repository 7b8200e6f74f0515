//! The TC program loaded for BPF_PROG_TEST_RUN: the embedded object with `L3_OFFSET` set for
//! the Ethernet frames test runs hand to SCHED_CLS programs, and helpers to run packets.

use anyhow::Context as _;
use aya::programs::{SchedClassifier, TestRun, TestRunOptions};
use aya::Ebpf;

/// TC actions, as the kernel defines them.
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;
pub const TC_ACT_REDIRECT: u32 = 7;

pub const ETHERNET_HEADER_LEN: usize = 14;
/// A device every network namespace has, as the redirect target of test configurations.
pub const LOOPBACK_IFINDEX: u32 = 1;

/// Loads the object and the verified `nat64_tc` program, reading packets after an Ethernet
/// header.
pub fn load() -> anyhow::Result<Ebpf> {
    nat64::gateway::tc_datapath::load_program(ETHERNET_HEADER_LEN as u32)
}

pub fn program(ebpf: &mut Ebpf) -> anyhow::Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut("nat64_tc")
        .context("program nat64_tc is not in the object")?;
    Ok(program.try_into()?)
}

/// `packet` (starting at its IP header) behind an Ethernet header whose EtherType follows
/// the version nibble, as a TUN device's skb->protocol would.
pub fn frame(packet: &[u8]) -> Vec<u8> {
    let ethertype: u16 = match packet.first().map(|b| b >> 4) {
        Some(4) => 0x0800,
        Some(6) => 0x86dd,
        _ => 0x88b5, // local experimental
    };
    let mut f = Vec::with_capacity(ETHERNET_HEADER_LEN + packet.len());
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// Runs one frame once; returns the TC action and the frame as the program left it.
pub fn run(program: &SchedClassifier, frame: &[u8]) -> anyhow::Result<(u32, Vec<u8>)> {
    // IPv4 → IPv6 grows the packet by 20 bytes.
    let mut out = vec![0u8; frame.len() + 64];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..Default::default()
        })
        .context("BPF_PROG_TEST_RUN")?;
    out.truncate(result.data_size_out as usize);
    Ok((result.return_value, out))
}

/// Median nanoseconds the program spends on `frame`, as BPF_PROG_TEST_RUN measures it, over
/// `runs` runs. One run per call with a fresh copy of the frame: with `repeat > 1` the kernel
/// runs the program again on the packet it has just translated, which measures the other
/// direction (or a pass) instead.
pub fn ns_per_packet(program: &SchedClassifier, frame: &[u8], runs: usize) -> anyhow::Result<f64> {
    let mut out = vec![0u8; frame.len() + 64];
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN")?;
        samples.push(result.duration.as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples.get(samples.len() / 2).copied().unwrap_or(0.0))
}
