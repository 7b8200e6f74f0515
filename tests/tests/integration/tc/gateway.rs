//! The kernel fast path between real namespaces: `nat64 run --datapath tc` carries ping, UDP
//! and TCP both ways through the gateway's masquerade, and after a host's first packet its
//! packets no longer reach the TUN reader (the counters say where each packet went).

use std::time::Duration;

use nat64_common::counters::Outcome;
use nat64_tests::{
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
};

/// `nat64 run --datapath tc` on the bed, once serving: the program is attached before the
/// first ping, so every packet is counted. No --iface: XDP would translate the clients'
/// packets before TC sees them (that path is the `xdp` area's).
fn start_tc_gateway(bed: &mut GatewayBed, data_dir: &str) {
    bed.start_until_serving(&[
        "run",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tc",
        "--data-dir",
        data_dir,
    ])
    .expect("gateway starts");
}

#[test]
fn the_kernel_translates_after_the_first_packet() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("tc-gateway").expect("data-dir");
    gateway_bed::spawn_echo_server(&mut bed.server, 7777).expect("echo server");
    let data = data_dir.path().to_str().expect("UTF-8").to_owned();
    start_tc_gateway(&mut bed, &data);

    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 20);
    gateway_bed::assert_echoes(&bed, SERVER_VIA_PREFIX, 7777, &[64, 1200, 20_000]);

    // Where each packet went, from the daemon while it runs.
    let stats = bed.stats().expect("nat64 stats --json");
    let icmp_in_kernel = stats.tc(Outcome::TranslatedV6ToV4Icmp);
    let icmp_back_in_kernel = stats.tc(Outcome::TranslatedV4ToV6Icmp);
    // The first echo request goes through the TUN worker (it creates the mapping); the rest
    // and the replies stay in the kernel. (A loaded machine may hand a request or two to the
    // slow path while the mapping is entered; most must not.)
    assert!(
        icmp_in_kernel >= 15,
        "echo requests translated in the kernel: {icmp_in_kernel}\n{stats}"
    );
    assert!(
        icmp_back_in_kernel >= 15,
        "echo replies translated in the kernel: {icmp_back_in_kernel}\n{stats}"
    );
    let udp = stats.tc(Outcome::TranslatedV6ToV4Udp) + stats.tc(Outcome::TranslatedV4ToV6Udp);
    let tcp = stats.tc(Outcome::TranslatedV6ToV4Tcp) + stats.tc(Outcome::TranslatedV4ToV6Tcp);
    assert!(
        udp > 0 && tcp > 0,
        "UDP and TCP in the kernel ({udp}, {tcp}):\n{stats}"
    );
    // What the TUN reader saw: first packets, the 20 kB UDP datagram's fragments, the
    // device's own IPv6 chatter — far fewer than the packets exchanged.
    let tun = stats.tun().received;
    let in_kernel = icmp_in_kernel + icmp_back_in_kernel + udp + tcp;
    assert!(
        tun < in_kernel,
        "the TUN reader saw {tun} packets, the kernel translated {in_kernel}:\n{stats}"
    );
    eprintln!(
        "in the kernel: {icmp_in_kernel} echo requests, {icmp_back_in_kernel} replies, {udp} UDP, {tcp} TCP; the TUN reader saw {tun}"
    );

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
    // aya falls back to loading without BTF; a type the kernel rejects is a build bug.
    assert!(!log.contains("BTF couldn't be loaded"), "{log}");
}

/// The client's connected UDP socket sends to a closed port of the server `tries` times; how
/// many sends the kernel reported refused (an ICMPv6 port unreachable came back).
fn refused_from_client(bed: &GatewayBed, port: u16, tries: u32) -> String {
    let script = format!(
        r#"
import socket, time
refused = 0
for _ in range({tries}):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(("{SERVER_VIA_PREFIX}", {port}))
    s.send(b"anyone there?")
    try:
        s.recv(100)
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        pass
    s.close()
    time.sleep(0.05)
print("refused", refused)
"#
    );
    let out = bed
        .client
        .command("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn icmp_errors_cross_the_kernel_path_both_ways() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("tc-icmp-errors").expect("data-dir");
    let data = data_dir.path().to_str().expect("UTF-8").to_owned();
    start_tc_gateway(&mut bed, &data);
    // The client's mapping first: from then on its packets stay in the kernel.
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 3);

    // IPv4 → IPv6: the server's port unreachable, de-masqueraded by conntrack, reaches the
    // client as an ICMPv6 error its socket reports.
    let client_side = refused_from_client(&bed, 9, 5);
    assert!(
        client_side.contains("refused 5"),
        "{client_side}\n{}",
        bed.gateway.last_child_output()
    );

    // IPv6 → IPv4: the server answers a datagram whose client socket is gone; the client's
    // port unreachable reaches the server's socket through translation and masquerade.
    let server_script = r#"
import socket, time
def bound():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", 7000))
    return s
s = bound()
s.settimeout(10)
refused = 0
for _ in range(3):
    data, peer = s.recvfrom(100)
    # The client's socket closes right after sending: answer once it surely has.
    time.sleep(0.3)
    # From the port the datagram went to, so conntrack takes the answer for a reply; a
    # connected socket, so the kernel reports the port unreachable to it.
    back = bound()
    back.settimeout(2)
    back.connect(peer)
    back.send(b"are you still there?")
    try:
        back.recv(100)
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        print("no answer to", peer, flush=True)
    back.close()
print("refused", refused, flush=True)
"#;
    bed.server
        .spawn(&["python3", "-c", server_script])
        .expect("server script");
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        // Sent from a socket that is closed at once: the answer finds no one.
        let send = format!(
            "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); \
             s.sendto(b'hello', ('{SERVER_VIA_PREFIX}', 7000))"
        );
        bed.client
            .exec(&["python3", "-c", &send])
            .expect("client sends");
        std::thread::sleep(Duration::from_millis(400));
    }
    let server = bed.server.last_child().expect("server script");
    let _ = server.wait();
    let server_side = bed.server.last_child_output();
    assert!(
        server_side.contains("refused 3"),
        "{server_side}\n{}\n{}",
        bed.gateway.last_child_output(),
        bed.stats()
            .map_or_else(|e| format!("{e:#}"), |s| s.to_string())
    );

    let stats = bed.stats().expect("nat64 stats --json");
    let to_v6 = stats.tc(Outcome::TranslatedV4ToV6IcmpError);
    let to_v4 = stats.tc(Outcome::TranslatedV6ToV4IcmpError);
    assert!(
        to_v6 >= 5 && to_v4 >= 3,
        "ICMP errors translated in the kernel: {to_v6} to IPv6, {to_v4} to IPv4\n{stats}"
    );
    eprintln!("icmp errors in the kernel: {to_v6} to IPv6, {to_v4} to IPv4");

    let gateway = bed.gateway.last_child().expect("gateway");
    gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops on SIGTERM");
}
