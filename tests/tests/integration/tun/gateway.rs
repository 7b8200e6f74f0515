//! `nat64 run --iface eth0` on the TUN datapath, with no config file, between real
//! namespaces: ping, UDP and TCP from an IPv6-only client to an IPv4-only server through the
//! gateway's masquerade; a clean stop leaves the host as it found it and keeps the mapping
//! in dynamic.map.

use std::time::Duration;

use nat64_tests::{
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
};

fn gateway_args(data_dir: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--iface",
        "eth0",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tun",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push("--data-dir".into());
    args.push(data_dir.display().to_string());
    args
}

#[test]
fn native_mode_translates_ping_udp_and_tcp_and_cleans_up() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    gateway_bed::spawn_echo_server(&mut bed.server, 7777).expect("echo server");
    let data_dir = nat64_tests::tempdir::TempDir::new("tun-gateway").expect("temporary data-dir");
    let args = gateway_args(data_dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bed.start_gateway(&args).expect("gateway starts");

    let ping = bed
        .client
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "2", SERVER_VIA_PREFIX])
        .output()
        .expect("ping runs");
    assert!(
        ping.status.success(),
        "ping through the gateway failed: {}\ngateway log:\n{}",
        String::from_utf8_lossy(&ping.stdout),
        bed.gateway.last_child_output()
    );

    gateway_bed::assert_echoes(&bed, SERVER_VIA_PREFIX, 7777, &[64, 1200]);

    // `nat64 stats` reaches the running daemon: the TUN datapath's counters and the mapping.
    let stats = bed.stats().expect("nat64 stats --json");
    assert_eq!(stats.datapath.kind, "tun", "{stats}");
    assert_eq!(stats.mappings, 1, "{stats}");
    assert!(
        stats.tun().translated >= 6,
        "three echo requests and three replies at least:\n{stats}"
    );
    let pool = stats.pool.as_ref().expect("a dynamic pool");
    assert_eq!(
        (pool.network.as_str(), pool.in_use),
        ("100.64.0.0/10", 1),
        "{stats}"
    );

    // The server saw the gateway's masqueraded address, not the pool.
    let conntrack_free_check = bed
        .gateway
        .exec(&["nft", "list", "table", "ip", "nat64_nat64"])
        .expect("nft");
    assert!(String::from_utf8_lossy(&conntrack_free_check.stdout).contains("masquerade"));

    let gateway = bed.gateway.last_child().expect("gateway process");
    let status =
        gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("gateway stops on SIGTERM");
    assert!(
        status.success(),
        "exit status {status}: {}",
        bed.gateway.last_child_output()
    );

    let routes = bed
        .gateway
        .exec(&["ip", "-6", "route", "show"])
        .expect("routes");
    assert!(
        !String::from_utf8_lossy(&routes.stdout).contains("2001:db8:64::"),
        "prefix route left behind"
    );
    let dynamic_map = std::fs::read_to_string(data_dir.path().join("dynamic.map"))
        .expect("dynamic.map written on stop");
    assert!(
        dynamic_map
            .lines()
            .any(|l| l.contains("2001:db8:1::2") && l.starts_with("100.")),
        "the client's mapping in dynamic.map:\n{dynamic_map}"
    );
    let tables = bed.gateway.exec(&["nft", "list", "tables"]).expect("nft");
    assert!(
        !String::from_utf8_lossy(&tables.stdout).contains("nat64_nat64"),
        "masquerade table left behind"
    );
}

#[test]
fn run_with_no_flags_but_iface_sets_up_a_turnkey_style_box_and_leaves_no_trace() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    // Exactly `nat64 run --iface eth0` (what `cargo xtask run -- --iface eth0` runs), with the
    // default data-dir /var/lib/nat64 kept off the host by a private tmpfs over /var/lib.
    let binary = nat64_tests::binary::nat64();
    let script = format!(
        "mount -t tmpfs tmpfs /var/lib && exec {} run --iface eth0",
        binary.display()
    );
    bed.gateway
        .spawn(&["unshare", "--mount", "sh", "-c", &script])
        .expect("gateway starts");
    let start = std::time::Instant::now();
    let routes = loop {
        let v6 = bed
            .gateway
            .exec(&["ip", "-6", "route", "show", "dev", "nat64"])
            .map(|o| o.stdout);
        let v6 = String::from_utf8_lossy(&v6.unwrap_or_default()).into_owned();
        if v6.contains("64:ff9b::/96") || start.elapsed() > Duration::from_secs(20) {
            break v6;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = bed.gateway.last_child_output();
    assert!(
        routes.contains("64:ff9b::/96"),
        "the well-known prefix is routed into nat64: {routes}\n{log}"
    );
    let v4 = bed
        .gateway
        .exec(&["ip", "-4", "route", "show", "dev", "nat64"])
        .expect("routes");
    let v4 = String::from_utf8_lossy(&v4.stdout).into_owned();
    assert!(
        v4.contains("100.64.0.0/10") && v4.contains("mtu 1480"),
        "the pool, 20 bytes under eth1's MTU: {v4}"
    );
    let rules = bed
        .gateway
        .exec(&["nft", "list", "table", "ip", "nat64_nat64"])
        .expect("nft");
    assert!(
        String::from_utf8_lossy(&rules.stdout)
            .contains("ip saddr 100.64.0.0/10 oifname \"eth1\" masquerade"),
        "masquerade out of the default route's interface"
    );
    let forwarding = bed
        .gateway
        .exec(&["sysctl", "-n", "net.ipv6.conf.all.forwarding"])
        .expect("sysctl");
    assert_eq!(String::from_utf8_lossy(&forwarding.stdout).trim(), "1");
    let start = std::time::Instant::now();
    let log = loop {
        let log = bed.gateway.last_child_output();
        if log.contains("datapath") || start.elapsed() > Duration::from_secs(10) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        log.contains("ipv6-addr 2001:db8:1::1"),
        "the translator's IPv6 address is eth0's:\n{log}"
    );
    // Root on a kernel that allows BPF: `auto` runs the kernel path.
    assert!(log.contains("datapath tc"), "the datapath is named:\n{log}");
    // The well-known prefix keeps RFC 6052 §3.1: documentation (non-global) IPv4 is refused.
    let out = bed
        .client
        .command("ping")
        .args(["-c", "1", "-W", "1", "64:ff9b::c000:202"])
        .output()
        .expect("ping");
    assert!(
        !out.status.success(),
        "non-global IPv4 behind 64:ff9b::/96 must not be translated"
    );

    let gateway = bed.gateway.last_child().expect("gateway");
    let status =
        gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops on SIGTERM");
    assert!(
        status.success(),
        "{status}: {}",
        bed.gateway.last_child_output()
    );
    let forwarding = bed
        .gateway
        .exec(&["sysctl", "-n", "net.ipv6.conf.all.forwarding"])
        .expect("sysctl");
    assert_eq!(
        String::from_utf8_lossy(&forwarding.stdout).trim(),
        "0",
        "forwarding restored"
    );
    let tables = bed.gateway.exec(&["nft", "list", "tables"]).expect("nft");
    assert!(
        !String::from_utf8_lossy(&tables.stdout).contains("nat64"),
        "masquerade table removed"
    );
    assert!(
        bed.gateway.exec(&["ip", "link", "show", "nat64"]).is_err(),
        "the interface is gone"
    );
}
