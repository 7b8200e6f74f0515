//! The TUN datapath with GSO offloads, between real namespaces: TCP bulk and UDP
//! sent as USO super-packets, both ways through `nat64 run --datapath tun`, arrive complete
//! and with correct checksums, and the daemon says it read super-packets and translated them
//! whole. With `NAT64_TUN_OFFLOAD=0` the same traffic goes one packet per system call.
//!
//! Checksums are checked where a wire would check them: the gateway's veths compute in
//! software what they send (`tx off`, which also makes the kernel cut the super-packets the
//! gateway writes), and the client's and server's veths verify what they receive (`rx off`),
//! counting failures in `/proc/net/snmp{,6}`. The client's and server's own sends keep their
//! offloads, so super-packets reach the gateway.

use std::{process::Stdio, time::Duration};

use nat64_tests::{
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    snmp,
    stats::Stats,
};

const TCP_PORT: u16 = 5201;
const UDP_PORT: u16 = 9000;
/// Bytes each TCP direction carries.
const TCP_BYTES: u64 = 64 << 20;

fn gateway_args(data_dir: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--iface",
        "eth0",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tun",
        "--data-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(data_dir.display().to_string());
    args
}

/// The bed with wire-like checksum handling (see the module comment).
fn bed() -> GatewayBed {
    let bed = GatewayBed::new().expect("namespaces");
    for dev in ["eth0", "eth1"] {
        bed.gateway
            .exec(&["ethtool", "-K", dev, "tx", "off"])
            .expect("ethtool tx off");
    }
    bed.client
        .exec(&["ethtool", "-K", "c0", "rx", "off"])
        .expect("ethtool rx off");
    bed.server
        .exec(&["ethtool", "-K", "s0", "rx", "off"])
        .expect("ethtool rx off");
    bed
}

fn start(bed: &mut GatewayBed, data_dir: &nat64_tests::tempdir::TempDir, env: &[&str]) {
    let args = gateway_args(data_dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bed.start_gateway_with_env(env, &args)
        .expect("gateway starts");
}

/// Python: a TCP bulk transfer each way (client to server, then back), every byte hashed.
/// Each side prints `sent <bytes> <sha256>` and `received <bytes> <sha256>`.
const TCP_COMMON: &str = r#"
import hashlib, random, socket, sys
BLOCK = random.Random(64).randbytes(1 << 20)
def send(c, total):
    h, n = hashlib.sha256(), 0
    while n < total:
        c.sendall(BLOCK)
        h.update(BLOCK)
        n += len(BLOCK)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    print("sent", n, h.hexdigest(), flush=True)
def receive(c):
    h, n, buf = hashlib.sha256(), 0, bytearray(1 << 20)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        h.update(memoryview(buf)[:k])
        n += k
    print("received", n, h.hexdigest(), flush=True)
"#;

fn tcp_server_script() -> String {
    format!(
        r#"{TCP_COMMON}
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {TCP_PORT}))
s.listen(2)
c, _ = s.accept()
receive(c)
c.close()
c, _ = s.accept()
send(c, {TCP_BYTES})
c.close()
"#
    )
}

fn tcp_client_script() -> String {
    format!(
        r#"{TCP_COMMON}
import time
def connect():
    c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    c.settimeout(30)
    c.connect(("{SERVER_VIA_PREFIX}", {TCP_PORT}))
    return c
c = connect()
send(c, {TCP_BYTES})
c.close()
time.sleep(0.1)
c = connect()
receive(c)
c.close()
"#
    )
}

/// Both TCP transfers; returns the client's and the server's report lines.
fn tcp_both_ways(bed: &mut GatewayBed) -> (Vec<String>, Vec<String>) {
    bed.server
        .spawn(&["python3", "-c", &tcp_server_script()])
        .expect("tcp server");
    std::thread::sleep(Duration::from_millis(300));
    let out = bed
        .client
        .command("python3")
        .args(["-c", &tcp_client_script()])
        .stdin(Stdio::null())
        .output()
        .expect("tcp client runs");
    let client: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let server: Vec<String> = bed
        .server
        .last_child_output()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        out.status.success() && client.len() == 2 && server.len() == 2,
        "client: {client:?} {}\nserver: {server:?}\ngateway:\n{}",
        String::from_utf8_lossy(&out.stderr),
        bed.gateway.last_child_output()
    );
    (client, server)
}

/// Every byte sent either way arrived, in order and intact.
fn assert_tcp_both_ways(bed: &mut GatewayBed) {
    let (client, server) = tcp_both_ways(bed);
    let expected_len = TCP_BYTES.to_string();
    for (sent, received, way) in [
        (&client[0], &server[0], "client to server"),
        (&server[1], &client[1], "server to client"),
    ] {
        assert!(
            sent.starts_with("sent ") && sent.contains(&expected_len),
            "{way}: {sent}"
        );
        assert_eq!(
            sent.replacen("sent", "received", 1),
            *received,
            "{way}: bytes and hash"
        );
    }
}

fn assert_no_receive_errors(bed: &GatewayBed) {
    for (who, ns) in [("client", &bed.client), ("server", &bed.server)] {
        let errors = snmp::receive_errors(ns).expect("snmp counters");
        assert!(
            errors.is_empty(),
            "{who} counted receive errors: {errors:?}"
        );
    }
}

fn stats(bed: &GatewayBed) -> Stats {
    bed.stats().expect("nat64 stats --json")
}

#[test]
fn tcp_bulk_through_tun_goes_as_super_packets_and_arrives_whole() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = bed();
    let data_dir = nat64_tests::tempdir::TempDir::new("tun-offload-tcp").expect("data-dir");
    start(&mut bed, &data_dir, &[]);
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("TUN queues batch through GSO") && log.contains("tso4+tso6"),
        "the queues run with offloads:\n{log}"
    );

    assert_tcp_both_ways(&mut bed);
    assert_no_receive_errors(&bed);

    let stats = stats(&bed);
    let tun = stats.tun();
    assert!(
        tun.gso_super_packets > 0
            && tun.gso_segments > 2 * tun.gso_super_packets
            && tun.gso_translated_whole > 0,
        "super-packets read and translated whole:\n{stats}"
    );
    assert_eq!(tun.offload_malformed, 0, "{stats}");

    let gateway = bed.gateway.last_child().expect("gateway");
    gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops");
    // The log line a stop writes for people (the counters above came from --json).
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("gso super-packets") && !log.contains("gso super-packets 0 "),
        "the closing counters name the super-packets:\n{log}"
    );
}

/// Python: UDP with UDP_SEGMENT (USO) from the client, the server answering the same way
/// once the client's last datagram arrived; every datagram numbered and checked.
const UDP_COMMON: &str = r#"
import hashlib, socket, sys, time
SOL_UDP, UDP_SEGMENT = 17, 103
SEG, PER_SEND, SENDS = 1000, 16, 40
def datagram(n):
    head = n.to_bytes(4, "big")
    return head + (hashlib.sha256(head).digest() * 32)[: SEG - 4]
def send_all(s, peer):
    s.setsockopt(SOL_UDP, UDP_SEGMENT, SEG)
    for i in range(SENDS):
        s.sendto(b"".join(datagram(i * PER_SEND + j) for j in range(PER_SEND)), peer)
        time.sleep(0.003)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, 0)
    time.sleep(0.2)
    s.sendto(b"end", peer)
def receive_all(s):
    good, bad, peer = 0, 0, None
    while True:
        data, peer = s.recvfrom(65535)
        if data == b"end":
            return good, bad, peer
        n = int.from_bytes(data[:4], "big")
        if data == datagram(n):
            good += 1
        else:
            bad += 1
"#;

fn udp_server_script() -> String {
    format!(
        r#"{UDP_COMMON}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("0.0.0.0", {UDP_PORT}))
s.settimeout(20)
good, bad, peer = receive_all(s)
print("server", good, bad, flush=True)
send_all(s, peer)
"#
    )
}

fn udp_client_script() -> String {
    format!(
        r#"{UDP_COMMON}
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.settimeout(20)
peer = ("{SERVER_VIA_PREFIX}", {UDP_PORT})
send_all(s, peer)
good, bad, _ = receive_all(s)
print("client", good, bad, SENDS * PER_SEND, flush=True)
"#
    )
}

#[test]
fn udp_segmented_sends_through_tun_arrive_datagram_for_datagram() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = bed();
    let data_dir = nat64_tests::tempdir::TempDir::new("tun-offload-udp").expect("data-dir");
    start(&mut bed, &data_dir, &[]);
    assert!(
        bed.gateway.last_child_output().contains("uso4+uso6"),
        "{}",
        bed.gateway.last_child_output()
    );
    bed.server
        .spawn(&["python3", "-c", &udp_server_script()])
        .expect("udp server");
    std::thread::sleep(Duration::from_millis(300));
    let out = bed
        .client
        .command("python3")
        .args(["-c", &udp_client_script()])
        .stdin(Stdio::null())
        .output()
        .expect("udp client runs");
    let client = String::from_utf8_lossy(&out.stdout).into_owned();
    let server = bed.server.last_child_output();
    let expected = 40 * 16;
    assert_eq!(
        client.split_whitespace().collect::<Vec<_>>(),
        ["client", &expected.to_string(), "0", &expected.to_string()],
        "every datagram from the server arrived intact: {client}{}\nserver: {server}\ngateway:\n{}",
        String::from_utf8_lossy(&out.stderr),
        bed.gateway.last_child_output()
    );
    assert_eq!(
        server.split_whitespace().take(3).collect::<Vec<_>>(),
        ["server", &expected.to_string(), "0"],
        "every datagram from the client arrived intact"
    );
    assert_no_receive_errors(&bed);
    let stats = stats(&bed);
    assert!(
        stats.tun().gso_translated_whole >= 2,
        "USO super-packets both ways translated whole:\n{stats}"
    );
}

#[test]
fn without_offloads_the_same_traffic_goes_one_packet_per_call() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = bed();
    let data_dir = nat64_tests::tempdir::TempDir::new("tun-offload-off").expect("data-dir");
    start(&mut bed, &data_dir, &["NAT64_TUN_OFFLOAD=0"]);
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("one packet per system call (offloads not asked for)"),
        "{log}"
    );
    assert_tcp_both_ways(&mut bed);
    assert_no_receive_errors(&bed);
    let stats = stats(&bed);
    assert_eq!(stats.tun().gso_super_packets, 0, "{stats}");
}

/// Python: `COUNT` numbered datagrams of 300 bytes, each checked on arrival.
const BURST_COMMON: &str = r#"
import hashlib, socket, sys
COUNT, SIZE = 200, 300
def datagram(n):
    head = n.to_bytes(4, "big")
    return head + (hashlib.sha256(head).digest() * 10)[: SIZE - 4]
"#;

#[test]
fn a_burst_of_small_datagrams_is_written_back_glued_and_arrives_intact() {
    let Some(_root) = require_root() else {
        return;
    };
    burst_is_glued(true);
}

#[test]
fn a_burst_with_complete_checksums_is_glued_too() {
    let Some(_root) = require_root() else {
        return;
    };
    burst_is_glued(false);
}

/// `partial`: the client leaves its checksums to the (virtual) NIC, so the gateway reads
/// them partial; otherwise complete, as from a wire.
fn burst_is_glued(partial: bool) {
    let mut bed = bed();
    if !partial {
        bed.client
            .exec(&["ethtool", "-K", "c0", "tx", "off"])
            .expect("ethtool tx off");
    }
    let data_dir = nat64_tests::tempdir::TempDir::new("tun-offload-glue").expect("data-dir");
    start(&mut bed, &data_dir, &[]);
    // One datagram first, so the client's mapping exists before the burst.
    let server = format!(
        r#"{BURST_COMMON}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("0.0.0.0", {UDP_PORT}))
s.settimeout(20)
s.recvfrom(65535)
good = bad = 0
while good + bad < COUNT:
    data, _ = s.recvfrom(65535)
    n = int.from_bytes(data[:4], "big")
    if data == datagram(n):
        good += 1
    else:
        bad += 1
print("server", good, bad, flush=True)
"#
    );
    bed.server
        .spawn(&["python3", "-c", &server])
        .expect("udp server");
    std::thread::sleep(Duration::from_millis(300));
    let send = |what: &str| {
        let script = format!(
            r#"{BURST_COMMON}
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect(("{SERVER_VIA_PREFIX}", {UDP_PORT}))
if "{what}" == "first":
    s.send(b"first")
else:
    for n in range(COUNT):
        s.send(datagram(n))
"#
        );
        let out = bed
            .client
            .command("python3")
            .args(["-c", &script])
            .output()
            .expect("udp client");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send("first");
    std::thread::sleep(Duration::from_millis(200));
    // With the gateway stopped the burst waits in the TUN queue (500 packets deep), and the
    // worker then reads it in one go.
    let pid = bed.gateway.last_child().expect("gateway").id().to_string();
    nat64_tests::netns::run_checked(std::process::Command::new("kill").args(["-STOP", &pid]))
        .expect("SIGSTOP");
    send("burst");
    std::thread::sleep(Duration::from_millis(100));
    nat64_tests::netns::run_checked(std::process::Command::new("kill").args(["-CONT", &pid]))
        .expect("SIGCONT");
    let start = std::time::Instant::now();
    while !bed.server.last_child_output().contains("server")
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = stats(&bed);
    assert_eq!(
        bed.server.last_child_output().trim(),
        "server 200 0",
        "every datagram arrived intact\n{stats}\ngateway:\n{}",
        bed.gateway.last_child_output()
    );
    assert_no_receive_errors(&bed);
    let tun = stats.tun();
    assert!(
        tun.glued_writes > 0 && tun.glued_datagrams >= 100,
        "the burst went out in USO writes:\n{stats}"
    );
    assert_eq!(tun.partial_checksums >= 200, partial, "{stats}");
}
