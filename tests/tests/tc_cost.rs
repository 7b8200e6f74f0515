//! Cost per packet of the TC program (BPF_PROG_TEST_RUN's own timing), printed for the record
//! next to the outcome each sample gets. Nothing is asserted about speed: the machine is shared.

use std::io::Write as _;

use nat64::tc_maps;
use nat64_tests::privileges::require_root;
use nat64_tests::{packets, tc_program};

#[test]
fn tc_cost_per_packet() {
    if !require_root("tc_cost_per_packet") {
        return;
    }
    let mut ebpf = tc_program::load().expect("the TC program loads");
    let translator = packets::translator();
    tc_maps::write_config(
        &mut ebpf,
        translator.config(),
        None,
        tc_program::LOOPBACK_IFINDEX,
    )
    .expect("configuring the maps");
    let program = tc_program::program(&mut ebpf).expect("nat64_tc");
    let mut report = String::from("tc program cost (median of 2000 test runs, 64-byte payload):\n");
    for (name, packet) in packets::all_samples(64) {
        let frame = tc_program::frame(&packet);
        let (action, _) = tc_program::run(program, &frame).expect("test run");
        let ns = tc_program::ns_per_packet(program, &frame, 2000).expect("timing");
        let verdict = match action {
            tc_program::TC_ACT_REDIRECT => "translated",
            tc_program::TC_ACT_OK => "to userspace",
            _ => "other",
        };
        report.push_str(&format!("  {name:<24} {verdict:<13} {ns:>6.0} ns\n"));
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
}
