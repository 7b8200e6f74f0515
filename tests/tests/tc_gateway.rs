//! The kernel fast path between real namespaces: `nat64 run --datapath tc` carries ping, UDP
//! and TCP both ways through the gateway's masquerade, and after a host's first packet its
//! packets no longer reach the TUN reader (the counters say where each packet went).

use std::time::Duration;

use nat64_tests::{
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
};

/// The value after `name` in the gateway's closing counters line.
fn counter(log: &str, name: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("counters:"))
        .unwrap_or_else(|| panic!("no counters line in the log:\n{log}"));
    line.split(';')
        .flat_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            words
                .windows(2)
                .filter(|w| w[0] == name)
                .map(|w| w[1].parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or(0)
}

#[test]
fn the_kernel_translates_after_the_first_packet() {
    if !require_root("the_kernel_translates_after_the_first_packet") {
        return;
    }
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("tc-gateway").expect("data-dir");
    gateway_bed::spawn_echo_server(&mut bed.server, 7777).expect("echo server");
    let data = data_dir.path().to_str().expect("UTF-8").to_owned();
    // No --iface: XDP would translate the clients' packets before TC sees them (that path
    // is xdp_gateway.rs's).
    bed.start_gateway(&[
        "run",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tc",
        "--data-dir",
        &data,
    ])
    .expect("gateway starts");

    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 20);
    gateway_bed::assert_echoes(&bed, SERVER_VIA_PREFIX, 7777, &[64, 1200, 20_000]);

    let gateway = bed.gateway.last_child().expect("gateway");
    let status =
        gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops on SIGTERM");
    assert!(
        status.success(),
        "{status}: {}",
        bed.gateway.last_child_output()
    );
    let log = bed.gateway.last_child_output();
    assert!(log.contains("datapath tc"), "the kernel path ran:\n{log}");

    let icmp_in_kernel = counter(&log, "translated_v6_to_v4_icmp");
    let icmp_back_in_kernel = counter(&log, "translated_v4_to_v6_icmp");
    // The first echo request goes through the TUN worker (it creates the mapping); the rest
    // and the replies stay in the kernel. (A loaded machine may hand a request or two to the
    // slow path while the mapping is entered; most must not.)
    assert!(
        icmp_in_kernel >= 15,
        "echo requests translated in the kernel: {icmp_in_kernel}\n{log}"
    );
    assert!(
        icmp_back_in_kernel >= 15,
        "echo replies translated in the kernel: {icmp_back_in_kernel}\n{log}"
    );
    let udp = counter(&log, "translated_v6_to_v4_udp") + counter(&log, "translated_v4_to_v6_udp");
    let tcp = counter(&log, "translated_v6_to_v4_tcp") + counter(&log, "translated_v4_to_v6_tcp");
    assert!(
        udp > 0 && tcp > 0,
        "UDP and TCP in the kernel ({udp}, {tcp}):\n{log}"
    );
    // What the TUN reader saw: first packets, the 20 kB UDP datagram's fragments, the
    // device's own IPv6 chatter — far fewer than the packets exchanged.
    let tun = counter(&log, "received");
    let in_kernel = icmp_in_kernel + icmp_back_in_kernel + udp + tcp;
    assert!(
        tun < in_kernel,
        "the TUN reader saw {tun} packets, the kernel translated {in_kernel}:\n{log}"
    );
    eprintln!(
        "{}",
        log.lines()
            .find(|l| l.contains("counters:"))
            .unwrap_or_default()
    );
}
