//! The XDP datapath between real namespaces: `nat64 run --iface eth0 --iface eth1` runs
//! `nat64_xdp` natively on the gateway's veths (the mode read back from the kernel) and
//! carries ping, UDP and TCP in both forward modes:
//!
//! - `stack`: XDP translates the clients' packets and hands them to the stack, which
//!   masquerades them; the replies come back through the TC path;
//! - `direct`: the pool is routed to the gateway (no NAT44); XDP translates both ways and
//!   sends the frames straight out of the interface the route lookup names.
//!
//! Senders' veths compute checksums in software here (`tx off`): XDP cannot tell a partial
//! checksum, which only local senders produce, from a complete one, as a wire delivers.

use nat64_common::counters::Outcome;
use nat64_tests::{
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
};

pub(crate) const ECHO_PORT: u16 = 7777;
/// Routed to the gateway in direct mode.
pub(crate) const ROUTED_POOL: &str = "198.51.100.0/24";

/// A bed whose client and server send complete checksums, and whose veths accept frames
/// the gateway redirects out of its own (a veth hands XDP frames only to a peer with NAPI,
/// which GRO turns on).
pub(crate) fn xdp_bed() -> GatewayBed {
    let bed = GatewayBed::new().expect("namespaces");
    for (ns, dev) in [(&bed.client, "c0"), (&bed.server, "s0")] {
        ns.exec(&["ethtool", "-K", dev, "tx", "off", "gro", "on"])
            .expect("ethtool");
    }
    bed
}

pub(crate) fn start(bed: &mut GatewayBed, data: &TempDir, extra: &[&str]) {
    start_wrapped(bed, data, &[], extra);
}

/// [`start`] with nat64 run under `wrapper` (see `GatewayBed::start_until_serving_wrapped`).
pub(crate) fn start_wrapped(
    bed: &mut GatewayBed,
    data: &TempDir,
    wrapper: &[&str],
    extra: &[&str],
) {
    let data = data.path().to_str().expect("UTF-8").to_owned();
    let mut args = vec![
        "run",
        "--iface",
        "eth0",
        "--iface",
        "eth1",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tc",
        "--data-dir",
        &data,
    ];
    args.extend_from_slice(extra);
    bed.start_until_serving_wrapped(wrapper, &args)
        .expect("gateway starts");
}

/// Native XDP on `dev`, as the kernel reports it (`ip` says `xdpgeneric` for generic mode).
pub(crate) fn assert_native_xdp(bed: &GatewayBed, dev: &str) {
    let out = bed
        .gateway
        .exec(&["ip", "-d", "link", "show", "dev", dev])
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("prog/xdp ") && !text.contains("xdpgeneric"),
        "{dev} has no native XDP program:\n{text}"
    );
}

pub(crate) fn ping_and_echo(bed: &GatewayBed) {
    gateway_bed::assert_pings(bed, SERVER_VIA_PREFIX, 20);
    gateway_bed::assert_echoes(bed, SERVER_VIA_PREFIX, ECHO_PORT, &[64, 1200, 20_000]);
}

/// XDP translated the pings both ways (all but the first few) and UDP and TCP both ways.
pub(crate) fn assert_xdp_translated_both_ways(stats: &nat64_tests::stats::Stats) {
    for outcome in [Outcome::TranslatedV6ToV4Icmp, Outcome::TranslatedV4ToV6Icmp] {
        assert!(
            stats.xdp(outcome) >= 15,
            "xdp {}:\n{stats}",
            outcome.as_str()
        );
    }
    for outcome in [
        Outcome::TranslatedV6ToV4Udp,
        Outcome::TranslatedV4ToV6Udp,
        Outcome::TranslatedV6ToV4Tcp,
        Outcome::TranslatedV4ToV6Tcp,
    ] {
        assert!(stats.xdp(outcome) > 0, "xdp {}:\n{stats}", outcome.as_str());
    }
}

pub(crate) fn stop(bed: &mut GatewayBed) -> String {
    let gateway = bed.gateway.last_child().expect("gateway");
    let status = gateway_bed::terminate(gateway, std::time::Duration::from_secs(10))
        .expect("stops on SIGTERM");
    let log = bed.gateway.last_child_output();
    assert!(status.success(), "{status}:\n{log}");
    log
}

#[test]
fn xdp_translates_and_hands_packets_to_the_stack() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = xdp_bed();
    // Strict reverse-path filtering, as some distributions ship it: the stack would drop what
    // XDP translated on eth0, which has no IPv4 address; the gateway must turn it off there
    // (and only there).
    bed.gateway
        .exec(&["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"])
        .expect("sysctl");
    gateway_bed::spawn_echo_server(&mut bed.server, ECHO_PORT).expect("echo server");
    let data = TempDir::new("xdp-stack").expect("data-dir");
    start(&mut bed, &data, &[]);
    assert_native_xdp(&bed, "eth0");
    assert_native_xdp(&bed, "eth1");

    ping_and_echo(&bed);
    let stats = bed.stats().expect("nat64 stats --json");
    // The first echo request goes through the slow path (it creates the mapping); the rest
    // are translated in the driver and passed to the stack, which masquerades them.
    assert!(
        stats.xdp(Outcome::TranslatedV6ToV4Icmp) >= 15,
        "requests translated by XDP:\n{stats}"
    );
    assert!(stats.xdp(Outcome::TranslatedV6ToV4Udp) > 0, "{stats}");
    assert!(stats.xdp(Outcome::TranslatedV6ToV4Tcp) > 0, "{stats}");
    assert!(stats.xdp(Outcome::ForwardStack) > 0, "{stats}");
    assert_eq!(stats.xdp(Outcome::ForwardRedirected), 0, "{stats}");
    // Replies reach the masquerade address; conntrack turns them back to the pool address,
    // which is routed into the TUN device: the TC path translates them.
    assert!(
        stats.tc(Outcome::TranslatedV4ToV6Icmp) >= 15,
        "replies translated by TC:\n{stats}"
    );

    let log = stop(&mut bed);
    assert!(log.contains("XDP on eth0: native mode"), "{log}");
    assert!(log.contains("rp_filter off on eth0"), "{log}");
    for (key, before) in [("all", "1"), ("eth0", "0"), ("eth1", "0"), ("default", "0")] {
        let rp = bed
            .gateway
            .exec(&["sysctl", "-n", &format!("net.ipv4.conf.{key}.rp_filter")])
            .expect("sysctl");
        assert_eq!(
            String::from_utf8_lossy(&rp.stdout).trim(),
            before,
            "the stop puts rp_filter back on {key}"
        );
    }
    let link = bed
        .gateway
        .exec(&["ip", "-d", "link", "show", "dev", "eth0"])
        .expect("ip link");
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("prog/xdp"),
        "the stop detaches XDP"
    );
}

#[test]
fn xdp_direct_forwards_both_ways_without_the_stack() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = xdp_bed();
    // The pool is routed to the gateway: no NAT44 anywhere.
    bed.server
        .exec(&["ip", "route", "add", ROUTED_POOL, "via", "192.0.2.1"])
        .expect("route to the pool");
    gateway_bed::spawn_echo_server(&mut bed.server, ECHO_PORT).expect("echo server");
    let data = TempDir::new("xdp-direct").expect("data-dir");
    start(
        &mut bed,
        &data,
        &["--pool", ROUTED_POOL, "--xdp-forward", "direct"],
    );
    assert_native_xdp(&bed, "eth0");
    assert_native_xdp(&bed, "eth1");

    ping_and_echo(&bed);
    let stats = bed.stats().expect("nat64 stats --json");
    assert_xdp_translated_both_ways(&stats);
    assert!(
        stats.xdp(Outcome::ForwardRedirected) >= 30,
        "frames sent straight out:\n{stats}"
    );
    assert_eq!(stats.xdp(Outcome::ForwardStack), 0, "{stats}");
    // The replies never met the TC program: XDP on eth1 translated them first.
    assert_eq!(stats.tc(Outcome::TranslatedV4ToV6Icmp), 0, "{stats}");

    let log = stop(&mut bed);
    assert!(
        log.contains("is routed to this box and not masqueraded"),
        "{log}"
    );
}
