//! The AF_XDP slow path between real namespaces: native XDP on the gateway's veths, one
//! AF_XDP socket per receive queue in copy mode (veth has no zero-copy). What `nat64_xdp`
//! cannot translate itself, and the stack would have routed into the TUN device, reaches
//! userspace through the socket instead: the first packet of a new host, fragments, an IPv6
//! extension header, an ICMPv4 error with an RFC 4884 extension. Each is counted by the
//! socket (not by the TUN workers) and arrives translated. With AF_XDP refused (no
//! CAP_NET_RAW) the same traffic takes the TUN path, and the log says why.
//!
//! The pool is routed to the gateway (`--xdp-forward direct`), so IPv4 replies reach XDP on
//! eth1 addressed to the pool, as in production, rather than to a masquerade address. The
//! first test sends the workers' translations straight out by AF_XDP transmit
//! (`--xdp-slow-path af-xdp-transmit`); the others keep the default exit, the TUN device.

use std::time::Duration;

use nat64_common::counters::Outcome;
use nat64_tests::{
    bpffs::BpfFs,
    gateway_bed::{self, GatewayBed, SERVER_V4, SERVER_VIA_PREFIX},
    privileges::require_root,
    stats::Stats,
    tempdir::TempDir,
};

use crate::xdp::{assert_native_xdp, start_wrapped, stop, xdp_bed, ECHO_PORT, ROUTED_POOL};

/// Runs nat64 without CAP_NET_RAW, which socket(AF_XDP) needs and nothing else does.
const WITHOUT_NET_RAW: &[&str] = &["setpriv", "--bounding-set", "-net_raw"];

fn bed_with_routed_pool(wrapper: &[&str], name: &str, extra: &[&str]) -> (GatewayBed, TempDir) {
    let mut bed = xdp_bed();
    bed.server
        .exec(&["ip", "route", "add", ROUTED_POOL, "via", "192.0.2.1"])
        .expect("route to the pool");
    gateway_bed::spawn_echo_server(&mut bed.server, ECHO_PORT).expect("echo server");
    let data = TempDir::new(name).expect("data-dir");
    start_routed(&mut bed, &data, wrapper, extra);
    (bed, data)
}

fn start_routed(bed: &mut GatewayBed, data: &TempDir, wrapper: &[&str], extra: &[&str]) {
    let mut args = vec!["--pool", ROUTED_POOL, "--xdp-forward", "direct"];
    args.extend_from_slice(extra);
    start_wrapped(bed, data, wrapper, &args);
    assert_native_xdp(bed, "eth0");
    assert_native_xdp(bed, "eth1");
}

/// What userspace translated, by path: (AF_XDP sockets, TUN workers).
fn userspace_translated(stats: &Stats) -> (u64, u64) {
    (stats.af_xdp(|s| s.translated), stats.tun().translated)
}

/// Three UDP echoes of 3,000 bytes: IPv6 fragments one way, IPv4 fragments the other,
/// none of which XDP translates. (Not pings: TAYGA, and so the translator, drops fragmented
/// ICMP, whose checksum covers every fragment.)
fn echo_fragmented(bed: &GatewayBed) {
    for _ in 0..3 {
        let echoed =
            gateway_bed::echo_through(&bed.client, "udp", SERVER_VIA_PREFIX, ECHO_PORT, 3000)
                .unwrap_or_else(|e| {
                    panic!(
                        "fragmented UDP echo: {e:#}\n{}\n{}",
                        bed.gateway.last_child_output(),
                        bed.stats()
                            .map_or_else(|e| format!("{e:#}"), |s| s.to_string())
                    )
                });
        assert_eq!(echoed, gateway_bed::echo_payload(3000));
    }
}

/// A UDP datagram behind an IPv6 Destination Options header (a PadN option, set on the
/// socket), echoed back by the server: true when the echo arrives.
fn echo_behind_extension_header(bed: &GatewayBed) -> bool {
    let script = format!(
        "import socket, sys\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, 'IPV6_DSTOPTS', 59), bytes([0, 0, 1, 4, 0, 0, 0, 0]))\n\
         s.settimeout(3)\n\
         s.sendto(b'behind-an-option', ('{SERVER_VIA_PREFIX}', {ECHO_PORT}))\n\
         sys.exit(0 if s.recv(100) == b'behind-an-option' else 1)\n"
    );
    bed.client
        .command("python3")
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success())
}

/// The server answers a datagram from `client_v4` with an ICMPv4 Destination Unreachable that
/// carries an RFC 4884 extension (an MPLS label stack object); true when the client receives
/// the translated ICMPv6 error.
fn icmp_error_with_extension_arrives(bed: &mut GatewayBed, client_v4: &str) -> bool {
    bed.client
        .spawn(&[
            "timeout",
            "6",
            "tcpdump",
            "-i",
            "c0",
            "-n",
            "-l",
            "-c",
            "1",
            "icmp6 and ip6[40] == 1",
        ])
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(1_500));
    let script = format!(
        "from scapy.all import IP, UDP, Raw, send, conf, checksum\n\
         import struct\n\
         conf.verb = 0\n\
         quoted = bytes(IP(src='{client_v4}', dst='{SERVER_V4}')/UDP(sport=40002, dport=9)/Raw(b'q'*20))\n\
         quoted = quoted.ljust(128, b'\\0')\n\
         obj = struct.pack('!HBB', 8, 1, 1) + struct.pack('!I', (16 << 12) | (1 << 8) | 64)\n\
         ext = struct.pack('!BBH', 0x20, 0, 0) + obj\n\
         ext = ext[:2] + struct.pack('!H', checksum(ext)) + ext[4:]\n\
         body = struct.pack('!BBHBBH', 3, 1, 0, 0, 128 // 4, 0) + quoted + ext\n\
         body = body[:2] + struct.pack('!H', checksum(body)) + body[4:]\n\
         send(IP(src='{SERVER_V4}', dst='{client_v4}', proto=1)/Raw(body), iface='s0')\n"
    );
    let sent = bed
        .server
        .command("/usr/bin/python3")
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "scapy sends the ICMP error");
    let tcpdump = bed.client.last_child().expect("tcpdump");
    let status = gateway_bed::terminate(tcpdump, Duration::from_secs(8)).expect("tcpdump ends");
    let seen = bed.client.last_child_output();
    status.success() && seen.contains("ICMP6, destination unreachable")
}

/// The client's pool address, from the daemon's active hosts.
fn client_pool_address(stats: &Stats) -> String {
    stats
        .active_hosts
        .iter()
        .find(|h| h.ipv6 == gateway_bed::CLIENT_V6.to_string())
        .map(|h| h.ipv4.clone())
        .unwrap_or_else(|| panic!("the client has no mapping:\n{stats}"))
}

#[test]
fn af_xdp_takes_what_xdp_cannot_translate_and_it_arrives() {
    let Some(_root) = require_root() else {
        return;
    };
    let (mut bed, _data) =
        bed_with_routed_pool(&[], "af-xdp", &["--xdp-slow-path", "af-xdp-transmit"]);

    // The first packet of a new host: XDP has no mapping for it.
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 1);
    let stats = bed.stats().expect("nat64 stats --json");
    assert!(
        stats.xdp(Outcome::PassNoSourceMapping) >= 1,
        "the first request passed XDP by:\n{stats}"
    );
    assert!(stats.xdp(Outcome::SlowPathAfXdp) >= 1, "{stats}");
    assert_eq!(
        userspace_translated(&stats),
        (1, 0),
        "the first request went through AF_XDP, not TUN:\n{stats}"
    );
    // The mapping was made first: the rest stay in the kernel.
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 20);
    let stats = bed.stats().expect("nat64 stats --json");
    assert!(stats.xdp(Outcome::TranslatedV6ToV4Icmp) >= 20, "{stats}");
    assert!(stats.xdp(Outcome::TranslatedV4ToV6Icmp) >= 20, "{stats}");
    assert_eq!(userspace_translated(&stats), (1, 0), "{stats}");

    // Fragments, both ways.
    echo_fragmented(&bed);
    let after_fragments = bed.stats().expect("nat64 stats --json");
    let (af_xdp, tun) = userspace_translated(&after_fragments);
    assert!(
        af_xdp >= 19,
        "the first request, and 3 datagrams of 3 fragments each way, through AF_XDP:\n{after_fragments}"
    );
    assert_eq!(tun, 0, "{after_fragments}");
    assert!(
        after_fragments.xdp(Outcome::PassExtensionHeader) >= 9,
        "{after_fragments}"
    );
    assert!(
        after_fragments.xdp(Outcome::PassFragment) >= 9,
        "{after_fragments}"
    );

    // An extension header (the echo comes back as plain UDP, which XDP translates).
    assert!(
        echo_behind_extension_header(&bed),
        "UDP behind a Destination Options header is echoed:\n{}",
        bed.gateway.last_child_output()
    );
    let after_option = bed.stats().expect("nat64 stats --json");
    assert_eq!(
        userspace_translated(&after_option),
        (af_xdp + 1, 0),
        "{after_option}"
    );

    // An ICMPv4 error with an RFC 4884 extension, IPv4 → IPv6.
    let client_v4 = client_pool_address(&after_option);
    assert!(
        icmp_error_with_extension_arrives(&mut bed, &client_v4),
        "the translated ICMPv6 error reaches the client:\n{}",
        bed.gateway.last_child_output()
    );
    let after_error = bed.stats().expect("nat64 stats --json");
    assert_eq!(
        userspace_translated(&after_error),
        (af_xdp + 2, 0),
        "{after_error}"
    );
    // Nothing the sockets received was dropped, and everything translated was written on
    // (an IPv4 fragment may become two IPv6 ones, so more leave than came).
    // 1 first request + 3 × 3 IPv6 fragments + 1 option + 3 × 3 IPv4 fragments + 1 error.
    assert_eq!(after_error.af_xdp(|s| s.received), 21, "{after_error}");
    assert_eq!(
        after_error.af_xdp(|s| s.dropped.values().sum()),
        0,
        "{after_error}"
    );
    assert_eq!(
        after_error.af_xdp(|s| s.sent),
        after_error.af_xdp(|s| s.translated),
        "{after_error}"
    );
    assert_eq!(after_error.af_xdp(|s| s.kernel_dropped), 0, "{after_error}");
    // With af-xdp-transmit the translations leave as XDP's own do under --xdp-forward direct:
    // straight out by AF_XDP transmit once the kernel knows the neighbour (the first
    // request's ARP is the stack's, through TUN). At least the 3 × 3 fragments each way went so, and every frame
    // handed to a transmit ring was taken.
    assert!(
        after_error.af_xdp(|s| s.sent_direct) >= 18,
        "the fragments left by AF_XDP transmit:\n{after_error}"
    );
    assert_eq!(
        after_error.af_xdp(|s| s.transmitted),
        after_error.af_xdp(|s| s.sent_direct),
        "{after_error}"
    );
    assert_eq!(after_error.af_xdp(|s| s.transmit_busy), 0, "{after_error}");
    assert_eq!(after_error.af_xdp(|s| s.tx_invalid), 0, "{after_error}");

    let log = stop(&mut bed);
    for dev in ["eth0", "eth1"] {
        assert!(
            log.contains(&format!(
                "AF_XDP on {dev} queue 0: copy mode (no zero-copy: "
            )),
            "the start-up line names the mode per interface and queue:\n{log}"
        );
    }
    assert!(
        log.contains(
            "slow path by AF_XDP on eth0 (1 of 1 queues, copy mode), eth1 (1 of 1 queues, copy mode)"
        ),
        "{log}"
    );
}

#[test]
fn af_xdp_refused_leaves_the_slow_path_to_tun() {
    let Some(_root) = require_root() else {
        return;
    };
    let (mut bed, _data) = bed_with_routed_pool(WITHOUT_NET_RAW, "af-xdp-refused", &[]);

    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 5);
    echo_fragmented(&bed);
    assert!(
        echo_behind_extension_header(&bed),
        "{}",
        bed.gateway.last_child_output()
    );
    let stats = bed.stats().expect("nat64 stats --json");
    assert!(stats.af_xdp.is_empty(), "no AF_XDP sockets:\n{stats}");
    assert_eq!(stats.xdp(Outcome::SlowPathAfXdp), 0, "{stats}");
    let (af_xdp, tun) = userspace_translated(&stats);
    assert_eq!(af_xdp, 0, "{stats}");
    assert!(
        tun >= 20,
        "the first request, the fragments and the option through TUN:\n{stats}"
    );
    // XDP still translates what it can.
    assert!(stats.xdp(Outcome::TranslatedV6ToV4Icmp) >= 4, "{stats}");

    let log = stop(&mut bed);
    assert!(
        log.contains("AF_XDP on eth0 queue 0 refused (registering the UMEM (socket(AF_XDP) needs CAP_NET_RAW): Operation not permitted"),
        "the log says why:\n{log}"
    );
    assert!(
        log.contains("slow path through the stack and TUN (AF_XDP refused, see above)"),
        "{log}"
    );
}

/// A stop under `--keep` closes the sockets while the XDP program stays attached (it passes
/// what it cannot translate to the stack again, and still translates mapped hosts with no
/// daemon running); the next start brings the AF_XDP slow path back.
#[test]
fn af_xdp_closes_under_keep_and_comes_back_with_the_next_start() {
    let Some(_root) = require_root() else {
        return;
    };
    let bpffs = BpfFs::mount("af-xdp-keep-bpffs").expect("a bpf filesystem of the test's own");
    let pins = bpffs.path().join("nat64");
    let pins = pins.to_str().expect("UTF-8");
    let keep = ["--pin-dir", pins, "--keep"];
    let (mut bed, data) = bed_with_routed_pool(&[], "af-xdp-keep", &keep);
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 1);
    let stats = bed.stats().expect("nat64 stats --json");
    assert_eq!(userspace_translated(&stats), (1, 0), "{stats}");

    let log = stop(&mut bed);
    assert!(
        log.contains("--keep: the kernel path stays attached"),
        "{log}"
    );
    assert_native_xdp(&bed, "eth0");
    // No daemon: the mapped client is translated by XDP both ways.
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 5);

    start_routed(&mut bed, &data, &[], &keep);
    // A new host: its first packet takes the AF_XDP slow path of the new run.
    bed.client
        .exec(&["ip", "addr", "add", NEW_HOST, "dev", "c0", "nodad"])
        .expect("a second client address");
    let ping = bed
        .client
        .command("ping")
        .args(["-c", "3", "-i", "0.1", "-W", "2", "-I", NEW_HOST_ADDR])
        .arg(SERVER_VIA_PREFIX)
        .output()
        .expect("ping runs");
    assert!(
        String::from_utf8_lossy(&ping.stdout).contains(" 0% packet loss"),
        "{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        bed.gateway.last_child_output()
    );
    let stats = bed.stats().expect("nat64 stats --json");
    assert_eq!(
        userspace_translated(&stats),
        (1, 0),
        "the new host's first request by AF_XDP, the rest by XDP:\n{stats}"
    );
    // The default exit: the worker's translation went into the TUN device.
    assert_eq!(stats.af_xdp(|s| s.sent), 1, "{stats}");
    assert_eq!(stats.af_xdp(|s| s.sent_direct), 0, "{stats}");
    let log = stop(&mut bed);
    assert!(
        log.contains("AF_XDP on eth0 queue 0: copy mode"),
        "the sockets are back:\n{log}"
    );
    // --keep left the device and its routes: take them away as an operator would.
    let _ = bed.gateway.exec(&["ip", "link", "del", "nat64"]);
}

/// A second client address on the client's /64, for a host the gateway has not seen.
const NEW_HOST: &str = "2001:db8:1::3/64";
const NEW_HOST_ADDR: &str = "2001:db8:1::3";
