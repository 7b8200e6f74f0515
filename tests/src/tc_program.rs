//! The TC program loaded for BPF_PROG_TEST_RUN: the embedded object with `L3_OFFSET` set for
//! the Ethernet frames test runs hand to SCHED_CLS programs, and helpers to run packets.

use anyhow::Context as _;
use aya::programs::SchedClassifier;
use aya::Ebpf;

pub use crate::test_run::{ns_per_packet, run};

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
    nat64::gateway::kernel_path::load_program(ETHERNET_HEADER_LEN as u32)
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
