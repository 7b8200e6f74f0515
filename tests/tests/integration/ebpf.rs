//! The eBPF object embedded in the `nat64` binary loads into this kernel, passes the
//! verifier, and its programs run packet by packet through BPF_PROG_TEST_RUN.

use aya::{programs::Xdp, Ebpf};
use nat64_tests::{
    privileges::require_root,
    test_run::{self, PacketTestRun},
};

/// TC_ACT_OK and XDP_PASS, as the kernel defines them.
const TC_ACT_OK: u32 = 0;
const XDP_PASS: u32 = 2;

/// An Ethernet frame carrying an IPv6 UDP datagram to 64:ff9b::c000:201 (192.0.2.1).
fn ipv6_udp_frame() -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(
            [
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ],
            [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1],
            64,
        )
        .udp(40000, 53);
    let payload = [0xabu8; 32];
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder
        .write(&mut frame, &payload)
        .expect("writing to a Vec cannot fail");
    frame
}

fn load() -> Ebpf {
    let object = nat64::ebpf_object::object().expect("the binary carries its eBPF object");
    Ebpf::load(object).expect("the kernel accepts the eBPF object")
}

/// Runs `frame` through a loaded program once; returns its verdict and output.
fn run_once<P: PacketTestRun>(program: &P, frame: &[u8]) -> (u32, Vec<u8>) {
    test_run::run(program, frame).expect("BPF_PROG_TEST_RUN runs the program")
}

#[test]
fn tc_program_passes_the_verifier_and_runs() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = nat64_tests::tc_program::load().expect("the verifier accepts nat64_tc");
    let frame = ipv6_udp_frame();
    let program = nat64_tests::tc_program::program(&mut ebpf).expect("nat64_tc");
    // Not configured yet: everything goes to userspace.
    assert_eq!(run_once(program, &frame), (TC_ACT_OK, frame.clone()));

    // Configured with a dynamic pool but no mapping for this host: the first packet of a new
    // host goes to userspace unchanged, which allocates its mapping.
    let cfg = nat64::translate::TranslatorConfig {
        prefix: Some(
            nat64::translate::Prefix::new(
                [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                96,
            )
            .expect("prefix"),
        ),
        wkpf_strict: false,
        ..Default::default()
    };
    let cfg = nat64::translate::TranslatorConfig {
        dynamic_pool: Some((std::net::Ipv4Addr::new(100, 64, 0, 0), 10)),
        ..cfg
    };
    nat64::tc_maps::write_config(
        &mut ebpf,
        &cfg,
        nat64::tc_maps::Targets::tun(nat64_tests::tc_program::LOOPBACK_IFINDEX),
    )
    .expect("configuring the maps");
    let program = nat64_tests::tc_program::program(&mut ebpf).expect("nat64_tc");
    assert_eq!(run_once(program, &frame), (TC_ACT_OK, frame.clone()));
    let counters = nat64::tc_maps::tc_counters(&ebpf).expect("counters");
    let outcome = nat64_common::counters::Outcome::PassNoSourceMapping;
    assert_eq!(counters[outcome as usize], 1);
}

#[test]
fn xdp_program_passes_the_verifier_and_runs() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = load();
    let program: &mut Xdp = ebpf
        .program_mut("nat64_xdp")
        .expect("program nat64_xdp is in the object")
        .try_into()
        .expect("nat64_xdp is an XDP program");
    program.load().expect("the verifier accepts nat64_xdp");
    let frame = ipv6_udp_frame();
    assert_eq!(run_once(program, &frame), (XDP_PASS, frame));
}
