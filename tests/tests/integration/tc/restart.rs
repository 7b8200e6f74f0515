//! A restart of the daemon during a ping, on the kernel path with `--keep`: while no daemon
//! runs, the pinned program carries the mapped host; the new daemon reopens the pinned maps
//! and keeps the host's mapping; at most the packets in flight are lost. A clean stop
//! without `--keep` then removes the pins and the interface.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use nat64::ops::snapshot::Source;
use nat64_common::counters::Outcome;
use nat64_tests::{
    bpffs::BpfFs,
    gateway_bed::{self, GatewayBed, CLIENT_V6, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
};

/// The client's line of dynamic.map without its timestamp: "IPv4<TAB>IPv6".
fn client_mapping(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("dynamic.map")).unwrap_or_default();
    text.lines()
        .find(|l| l.contains(&CLIENT_V6.to_string()))
        .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join("\t"))
        .unwrap_or_else(|| panic!("no mapping for {CLIENT_V6} in dynamic.map:\n{text}"))
}

/// (transmitted, received) from ping's summary.
fn ping_summary(output: &str) -> (u32, u32) {
    let line = output
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary:\n{output}"));
    let numbers: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn a_restart_keeps_the_mapping_and_the_kernel_translates_meanwhile() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("tc-restart").expect("data-dir");
    let bpffs = BpfFs::mount("tc-restart-bpffs").expect("a bpf filesystem of the test's own");
    let pin_root = bpffs.path().join("nat64");
    let pinned = pin_root.join("nat64");
    let data = data_dir.path().to_str().expect("UTF-8").to_owned();
    let pins = pin_root.to_str().expect("UTF-8").to_owned();
    // No --iface: XDP would translate the clients' packets before TC sees them.
    let common = [
        "run",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tc",
        "--data-dir",
        &data,
        "--pin-dir",
        &pins,
    ];
    let keep: Vec<&str> = common.iter().copied().chain(["--keep"]).collect();
    // Until the log names the datapath: the kernel path is attached before the first ping
    // (a loaded machine may take longer to load the programs than to route the prefix).
    bed.start_until_serving(&keep).expect("gateway starts");

    let first = bed
        .client
        .command("ping")
        .args(["-c", "2", "-W", "2", SERVER_VIA_PREFIX])
        .output()
        .expect("ping runs");
    assert!(
        first.status.success(),
        "first ping: {}\n{}",
        String::from_utf8_lossy(&first.stdout),
        bed.gateway.last_child_output()
    );

    let stats = bed.stats().expect("nat64 stats --json from the daemon");
    assert_eq!(stats.datapath.kind, "tc", "{stats}");
    assert_eq!(stats.mappings, 1, "{stats}");
    assert!(
        stats.tc(Outcome::TranslatedV4ToV6Icmp) > 0,
        "the echo reply came back through the kernel:\n{stats}"
    );

    // 250 echo requests 20 ms apart span the stop, 1 s without any daemon, and the start.
    let long_ping = bed
        .client
        .command("ping")
        .args(["-c", "250", "-i", "0.02", "-W", "1", SERVER_VIA_PREFIX])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ping starts");
    std::thread::sleep(Duration::from_millis(1000));

    let gateway = bed.gateway.last_child().expect("gateway");
    let status = gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops");
    assert!(status.success(), "{}", bed.gateway.last_child_output());
    let first_log = bed.gateway.last_child_output();
    assert!(
        first_log.contains("maps pinned in"),
        "the first run pinned its maps:\n{first_log}"
    );
    assert!(
        pinned.join("tc_link").exists() && pinned.join("NAT64_V6_TO_V4").exists(),
        "--keep left the link and maps pinned in {}",
        pinned.display()
    );
    let mapping_before = client_mapping(data_dir.path());
    let stats = bed
        .stats_with(&["--pin-dir", &pins])
        .expect("nat64 stats --json from pins");
    assert!(
        matches!(stats.source, Source::Pins { .. }),
        "no daemon running:\n{stats}"
    );
    assert_eq!(stats.mappings, 1, "{stats}");
    assert!(
        stats.tc(Outcome::TranslatedV6ToV4Icmp) >= 20,
        "the kernel's counters survive the daemon:\n{stats}"
    );
    eprintln!("nat64 stats --json with no daemon running:\n{stats}");
    std::thread::sleep(Duration::from_millis(1000));

    let stopped_at = Instant::now();
    bed.start_until_serving(&common)
        .expect("gateway starts again");
    eprintln!("restart took {:?}", stopped_at.elapsed());
    let second_start = bed.gateway.last_child_output();
    assert!(
        second_start.contains("kernel tables reopened"),
        "the second run reopened the pinned maps:\n{second_start}"
    );

    let ping = long_ping.wait_with_output().expect("ping ends");
    let text = String::from_utf8_lossy(&ping.stdout).into_owned();
    let (sent, received) = ping_summary(&text);
    eprintln!("ping across the restart: {sent} sent, {received} received");
    assert!(
        sent >= 240 && sent - received <= 3,
        "at most the packets in flight are lost across the restart:\n{text}\n{}",
        bed.gateway.last_child_output()
    );

    let gateway = bed.gateway.last_child().expect("gateway");
    let status = gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops");
    assert!(status.success(), "{}", bed.gateway.last_child_output());
    assert_eq!(
        client_mapping(data_dir.path()),
        mapping_before,
        "the host kept its address across the restart"
    );
    assert!(
        !pinned.exists(),
        "a clean stop without --keep removes {}",
        pinned.display()
    );
    let link = bed
        .gateway
        .command("ip")
        .args(["link", "show", "nat64"])
        .output()
        .expect("ip runs");
    assert!(
        !link.status.success(),
        "a clean stop without --keep removes the interface the --keep run left"
    );
}
