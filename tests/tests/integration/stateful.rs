//! Stateful NAT64 (`[stateful]`) between real namespaces, on the TC path (the TUN workers
//! open sessions, the TC program translates their flows) and in an unprivileged container
//! (the TUN workers alone): IPv6 clients of two subscribers behind one pool4 address, a
//! static binding reached from IPv4, a subscriber past its port blocks refused while
//! another carries on, expiry with a shortened UDP timer giving the bindings and the block
//! back, and a TCP transfer across a restart under `--keep`; and on XDP (`--iface`), in both
//! forward modes, with the replies translated by XDP as well.

use std::time::Duration;

use nat64_common::counters::Outcome;
use nat64_tests::{
    bpffs::BpfFs,
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
};

const POOL4: &str = "198.51.100.1";
/// A second subscriber (another /64) on the client's link.
const OTHER_SUBSCRIBER: &str = "2001:db8:1:2::2";

fn config(data_dir: &std::path::Path) -> String {
    format!(
        r#"prefix = "{prefix}"
data_dir = "{data_dir}"

[stateful]
pool4 = ["{POOL4}"]
subscriber_prefix_len = 64
block_size = 8
max_blocks = 1
udp_timeout_secs = 3

[[stateful.static]]
protocol = "tcp"
ipv4 = "{POOL4}:8080"
ipv6 = "[2001:db8:1::2]:8000"
"#,
        prefix = gateway_bed::PREFIX,
        data_dir = data_dir.display(),
    )
}

/// One UDP datagram from `src`#`sport` to the echo server; "ok", "refused <errno>" or
/// "timeout".
fn udp_from(bed: &GatewayBed, src: &str, sport: u16) -> String {
    let script = format!(
        r#"
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("{src}", {sport}))
s.settimeout(2)
s.connect(("{SERVER_VIA_PREFIX}", 7777))
s.send(b"hello")
try:
    print("ok" if s.recv(100) == b"hello" else "wrong")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused", e.errno)
"#
    );
    let out = bed
        .client
        .command("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `count` datagrams to the echo server from one socket, one after another; how many came
/// back.
fn udp_conversation(bed: &GatewayBed, count: u32) -> u32 {
    let script = format!(
        r#"
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("{SERVER_VIA_PREFIX}", 7777))
answered = 0
for i in range({count}):
    s.send(b"datagram %d" % i)
    try:
        answered += s.recv(100) == b"datagram %d" % i
    except socket.timeout:
        pass
print(answered)
"#
    );
    answered(bed, &script)
}

/// One datagram each from `count` new sockets (new flows, ports `first_port..`); how many
/// came back.
fn udp_flows(bed: &GatewayBed, count: u16, first_port: u16) -> u32 {
    let script = format!(
        r#"
import socket
answered = 0
for port in range({first_port}, {first_port} + {count}):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))
    s.settimeout(2)
    s.connect(("{SERVER_VIA_PREFIX}", 7777))
    s.send(b"flow %d" % port)
    try:
        answered += s.recv(100) == b"flow %d" % port
    except socket.timeout:
        pass
    s.close()
print(answered)
"#
    );
    answered(bed, &script)
}

/// Runs a client script that prints how many answers came back.
fn answered(bed: &GatewayBed, script: &str) -> u32 {
    let out = bed
        .client
        .command("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The server routes pool4 back through the gateway and runs the echo server on 7777.
fn serve_behind_pool4(bed: &mut GatewayBed) {
    bed.server
        .exec(&["ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])
        .expect("route to pool4");
    gateway_bed::spawn_echo_server(&mut bed.server, 7777).expect("echo server");
}

/// Waits for the TC program to be attached (the TUN workers serve until then), and checks
/// the datapath line says what it does with stateful NAT64.
fn wait_for_kernel_path(bed: &GatewayBed) {
    let start = std::time::Instant::now();
    let mut log = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        log = bed.gateway.last_child_output();
        if log.contains("datapath ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log.contains("datapath tc: the kernel translates the flows of open sessions"),
        "{log}"
    );
}

fn json(bed: &GatewayBed, what: &str) -> serde_json::Value {
    let binary = nat64_tests::binary::nat64();
    let out = bed
        .gateway
        .exec(&[
            binary.to_str().unwrap(),
            what,
            "--json",
            "--device",
            "nat64",
        ])
        .unwrap_or_else(|e| panic!("nat64 {what}: {e:#}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "nat64 {what} --json: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn clients_share_one_ipv4_address_with_fair_port_blocks() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    // A second client in the first /64, and a client of another subscriber. Deprecated
    // (preferred_lft 0): used only where a socket binds to them, so the ping and echoes
    // below leave from 2001:db8:1::2.
    for address in ["2001:db8:1::3/64", "2001:db8:1:2::2/64"] {
        bed.client
            .exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                address,
                "dev",
                "c0",
                "nodad",
                "preferred_lft",
                "0",
            ])
            .expect("a client address");
    }
    bed.gateway
        .exec(&[
            "ip",
            "-6",
            "route",
            "add",
            "2001:db8:1:2::/64",
            "via",
            "2001:db8:1::2",
        ])
        .expect("route to the other subscriber");
    serve_behind_pool4(&mut bed);
    // The IPv6 server behind the static binding.
    bed.client
        .spawn(&[
            "python3",
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('2001:db8:1::2', 8000))\ns.listen()\nwhile True:\n    c,_=s.accept()\n    c.sendall(c.recv(100)[::-1])\n    c.close()",
        ])
        .expect("IPv6 server");
    let data_dir = TempDir::new("stateful").expect("data-dir");
    let file = data_dir.path().join("nat64.toml");
    std::fs::write(&file, config(data_dir.path())).expect("config written");
    bed.start_until_serving(&["run", "-c", file.to_str().unwrap()])
        .expect("gateway starts");
    wait_for_kernel_path(&bed);

    // Ping, UDP and TCP from the first client; the server sees pool4. The first packet of
    // each flow opens its session in the TUN workers; the TC program translates the rest
    // from the session maps, both ways.
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 5);
    gateway_bed::assert_echoes(&bed, SERVER_VIA_PREFIX, 7777, &[64, 1200, 20_000]);
    let stats = bed.stats().expect("stats");
    for outcome in [
        Outcome::TranslatedV6ToV4Icmp,
        Outcome::TranslatedV4ToV6Icmp,
        Outcome::TranslatedV4ToV6Udp,
        Outcome::TranslatedV6ToV4Tcp,
        Outcome::TranslatedV4ToV6Tcp,
    ] {
        assert!(
            stats.tc(outcome) > 0,
            "{} in the kernel:\n{stats}",
            outcome.as_str()
        );
    }
    assert!(stats.tc(Outcome::PassNoSession) > 0, "{stats}");
    assert!(stats.tc(Outcome::PassTcpControl) > 0, "{stats}");
    let bib = json(&bed, "bib");
    let dynamic: Vec<_> = bib
        .as_array()
        .expect("a list")
        .iter()
        .filter(|b| b["is_static"] == false)
        .collect();
    assert!(
        dynamic
            .iter()
            .all(|b| b["v4"] == POOL4 && b["v6"] == "2001:db8:1::2"),
        "{bib}"
    );
    for protocol in ["tcp", "udp", "icmp"] {
        assert!(
            dynamic.iter().any(|b| b["protocol"] == protocol),
            "a {protocol} binding: {bib}"
        );
    }

    // A static binding: IPv4 reaches the IPv6 server at pool4:8080.
    let reached = bed
        .server
        .command("python3")
        .args([
            "-c",
            &format!("import socket\ns=socket.create_connection(('{POOL4}', 8080), timeout=3)\ns.sendall(b'abc')\nprint(s.recv(10).decode())"),
        ])
        .output()
        .expect("python3 runs");
    assert_eq!(
        String::from_utf8_lossy(&reached.stdout).trim(),
        "cba",
        "{}\n{}",
        String::from_utf8_lossy(&reached.stderr),
        bed.gateway.last_child_output()
    );

    // The /64 holds one block of 8 UDP ports, some taken by the echoes above: as many more
    // flows (from the second client of the same /64), then a refusal.
    let used = dynamic.iter().filter(|b| b["protocol"] == "udp").count();
    assert!((1..8).contains(&used), "{bib}");
    let free = 8 - used;
    let answers: Vec<String> = (0..=free as u16)
        .map(|i| udp_from(&bed, "2001:db8:1::3", 42000 + i))
        .collect();
    assert!(answers[..free].iter().all(|a| a == "ok"), "{answers:?}");
    assert!(
        answers[free].starts_with("refused"),
        "the ninth flow of the /64 is refused (ICMPv6 administratively prohibited): {answers:?}\n{}",
        bed.gateway.last_child_output()
    );
    assert_eq!(
        udp_from(&bed, OTHER_SUBSCRIBER, 42000),
        "ok",
        "another subscriber carries on"
    );
    let blocks = json(&bed, "blocks");
    let udp_blocks: Vec<_> = blocks
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["protocol"] == "udp")
        .collect();
    assert_eq!(udp_blocks.len(), 2, "{blocks}");
    let stats = bed.stats().expect("stats");
    assert!(stats.to_string().contains("ports_exhausted"), "{stats}");
    let tables = stats
        .stateful
        .as_ref()
        .expect("stateful in nat64 stats --json");
    assert!(
        tables.bindings["udp"] >= 8 && tables.blocks_assigned["udp"] == 2,
        "{stats}"
    );
    assert!(
        tables.sessions_opened["udp"] >= 8 && tables.translated_v4_to_v6["tcp"] > 0,
        "{stats}"
    );
    // The /64's block is lent to the kernel once userspace assigned it: the second client's
    // new flows are opened there (and adopted here from the ring), and the flow past the
    // block still reaches userspace, which refuses it.
    assert!(
        tables.sessions_opened_in_kernel["udp"] >= 1 && tables.kernel_conflicts["udp"] == 0,
        "{stats}"
    );

    // Past the 3 s UDP timer the UDP bindings and their blocks go, each block release logged.
    std::thread::sleep(Duration::from_secs(5));
    let bib = json(&bed, "bib");
    assert!(
        !bib.as_array()
            .unwrap()
            .iter()
            .any(|b| b["protocol"] == "udp"),
        "{bib}"
    );
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("port block assigned: subscriber 2001:db8:1::/64 udp 198.51.100.1")
            && log.contains("port block released: subscriber 2001:db8:1::/64 udp 198.51.100.1"),
        "{log}"
    );
}

/// A TCP transfer that runs while the gateway is stopped and started again with `--keep`
/// completes intact: the binding, its port and its session come back from the state file.
#[test]
fn a_tcp_transfer_survives_a_restart_under_keep() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    serve_behind_pool4(&mut bed);
    let data_dir = TempDir::new("stateful-keep").expect("data-dir");
    let file = data_dir.path().join("nat64.toml");
    std::fs::write(&file, format!("keep = true\n{}", config(data_dir.path()))).expect("config");
    // Kept pins on a bpf filesystem of the test's own: they go with its mount, also when
    // the test fails half-way.
    let bpffs = BpfFs::mount("stateful-keep-bpffs").expect("a bpf filesystem of the test's own");
    let pins = bpffs.path().join("nat64");
    let args = [
        "run",
        "-c",
        file.to_str().unwrap(),
        "--pin-dir",
        pins.to_str().expect("UTF-8"),
    ];
    bed.start_until_serving(&args).expect("gateway starts");

    // 3 MiB echoed back in 48 KiB steps, paced to last about 4 s; the sender and the reader
    // run side by side so the window never fills.
    let script = format!(
        r#"
import hashlib, socket, threading, time
data = bytes((i * 31 + 7) % 251 for i in range(3 * 1024 * 1024))
s = socket.create_connection(("{SERVER_VIA_PREFIX}", 7777), timeout=30)
got = bytearray()
def read():
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got.extend(chunk)
reader = threading.Thread(target=read)
reader.start()
for at in range(0, len(data), 48 * 1024):
    s.sendall(data[at:at + 48 * 1024])
    time.sleep(0.06)
reader.join(timeout=60)
print("intact" if hashlib.sha256(got).digest() == hashlib.sha256(data).digest() else "damaged %d" % len(got), flush=True)
"#
    );
    bed.client
        .spawn(&["python3", "-c", &script])
        .expect("transfer starts");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        bed.client.last_child_output().trim().is_empty(),
        "the transfer is still running when the gateway stops"
    );

    let gateway = bed.gateway.last_child().expect("the gateway runs");
    gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops on SIGTERM");
    let first = bed.gateway.last_child_output();
    assert!(
        first.contains("stateful: kept 1 bindings and 1 sessions"),
        "{first}"
    );
    bed.start_until_serving(&args)
        .expect("gateway starts again");
    let second = bed.gateway.last_child_output();
    assert!(
        second.contains("stateful: took back 1 bindings and 1 sessions"),
        "{second}"
    );
    wait_for_kernel_path(&bed);
    let second = bed.gateway.last_child_output();
    assert!(
        second.contains("stateful: 1 sessions and ")
            && second.contains("bindings entered in the kernel's maps"),
        "the established connection goes back into the kernel: {second}"
    );

    let start = std::time::Instant::now();
    let mut result = String::new();
    while start.elapsed() < Duration::from_secs(60) {
        result = bed.client.last_child_output();
        if !result.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        result.trim(),
        "intact",
        "the transfer across the restart\n{}",
        bed.gateway.last_child_output()
    );
    let gateway = bed.gateway.last_child().expect("the gateway runs");
    gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops on SIGTERM");
    // --keep left the device and its routes: take them away as an operator would.
    let _ = bed.gateway.exec(&["ip", "link", "del", "nat64"]);
}

/// The same in an unprivileged container (`unshare --user --map-root-user --net`), where BPF
/// is refused and nftables is not needed: ping and TCP from an IPv6 address to an IPv4 one,
/// both on the container's loopback, through stateful NAT64 on pool4.
#[test]
fn an_unprivileged_container_runs_stateful_nat64() {
    let Some(_root) = require_root() else {
        return;
    };
    let nat64 = nat64_tests::binary::nat64();
    let data_dir = TempDir::new("stateful-userns").expect("data-dir");
    let data = data_dir.path().display().to_string();
    std::fs::write(
        data_dir.path().join("nat64.toml"),
        format!("data_dir = \"{data}\"\n[stateful]\npool4 = [\"{POOL4}\"]\n"),
    )
    .expect("config");
    let echo = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('192.0.2.1', 7777))\ns.listen()\nc,_=s.accept()\nc.sendall(c.recv(100))";
    let client = format!(
        "import socket\ns=socket.socket(socket.AF_INET6)\ns.bind(('2001:db8:1::2', 0))\ns.settimeout(5)\ns.connect(('{SERVER}', 7777))\ns.sendall(b'stateful')\nprint(s.recv(100).decode())",
        SERVER = "2001:db8:64::c000:201"
    );
    let script = format!(
        "set -e\n\
         ip link set lo up\n\
         ip addr add 192.0.2.1/32 dev lo\n\
         ip -6 addr add 2001:db8:1::2/128 dev lo\n\
         {nat64} run -c {data}/nat64.toml --prefix {prefix} > {data}/gateway.log 2>&1 &\n\
         pid=$!\n\
         for i in $(seq 50); do ip -6 route show {prefix} | grep -q nat64 && break; sleep 0.1; done\n\
         python3 -c \"$ECHO\" &\n\
         sleep 0.3\n\
         ping -c 2 -i 0.2 -W 2 -I 2001:db8:1::2 2001:db8:64::c000:201\n\
         python3 -c \"$CLIENT\"\n\
         {nat64} sessions --json --device nat64 > {data}/sessions.json\n\
         kill -TERM $pid; wait $pid\n",
        nat64 = nat64.display(),
        prefix = gateway_bed::PREFIX,
    );
    let out = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "--mount",
            "sh",
            "-c",
            &script,
        ])
        .env("ECHO", echo)
        .env("CLIENT", client)
        .output()
        .expect("unshare runs");
    let log = std::fs::read_to_string(data_dir.path().join("gateway.log")).unwrap_or_default();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "inside the container: {stdout}\n{}\ngateway log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0% packet loss"), "{stdout}");
    assert!(stdout.contains("stateful"), "the TCP echo: {stdout}");
    assert!(log.contains("datapath tun"), "{log}");
    // --prefix on the command line brings no dynamic pool along with it.
    assert!(!log.contains("masquerad"), "{log}");
    let sessions: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.path().join("sessions.json")).unwrap_or_default(),
    )
    .expect("nat64 sessions --json");
    for protocol in ["tcp", "icmp"] {
        assert!(
            sessions
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["protocol"] == protocol
                    && s["v4"] == POOL4
                    && s["remote"] == "192.0.2.1"),
            "a {protocol} session on pool4: {sessions}"
        );
    }
}

/// Stateful NAT64 with XDP on both of the gateway's interfaces, forwarding as `forward`
/// says: each flow's first packet comes to userspace by AF_XDP (not through the stack and
/// TUN) and opens its session there; XDP translates the rest both ways from the session maps.
fn stateful_over_xdp(forward: &str) {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = crate::xdp::xdp_bed();
    serve_behind_pool4(&mut bed);
    let data_dir = TempDir::new("stateful-xdp").expect("data-dir");
    let file = data_dir.path().join("nat64.toml");
    std::fs::write(
        &file,
        format!(
            "prefix = \"{}\"\ndata_dir = \"{}\"\n[stateful]\npool4 = [\"{POOL4}\"]\n",
            gateway_bed::PREFIX,
            data_dir.path().display()
        ),
    )
    .expect("config");
    let args = [
        "run",
        "-c",
        file.to_str().unwrap(),
        "--iface",
        "eth0",
        "--iface",
        "eth1",
        "--xdp-forward",
        forward,
    ];
    bed.start_until_serving(&args).expect("gateway starts");
    wait_for_kernel_path(&bed);
    crate::xdp::assert_native_xdp(&bed, "eth0");
    crate::xdp::assert_native_xdp(&bed, "eth1");

    crate::xdp::ping_and_echo(&bed);
    // One UDP flow of many datagrams: its first opens the session, XDP takes the rest.
    assert_eq!(
        udp_conversation(&bed, 10),
        10,
        "UDP datagrams echoed on one flow"
    );
    let stats = bed.stats().expect("nat64 stats --json");
    crate::xdp::assert_xdp_translated_both_ways(&stats);
    let (sent_on, not_used) = match forward {
        "direct" => (Outcome::ForwardRedirected, Outcome::ForwardStack),
        _ => (Outcome::ForwardStack, Outcome::ForwardRedirected),
    };
    assert!(stats.xdp(sent_on) >= 30, "{stats}");
    assert_eq!(stats.xdp(not_used), 0, "{stats}");
    assert!(
        stats.xdp(Outcome::PassNoSession) > 0 && stats.af_xdp(|s| s.translated) > 0,
        "flows without a session open theirs by AF_XDP:\n{stats}"
    );
    assert_eq!(stats.tun().translated, 0, "nothing by TUN:\n{stats}");

    // New flows of a subscriber that holds a block: XDP opens their sessions itself, in
    // the block lent to it, with no packet through userspace; userspace takes them in from
    // the ring (listed, counted, expired from there).
    const NEW_FLOWS: u16 = 20;
    let by_af_xdp = stats.af_xdp(|s| s.translated);
    assert_eq!(
        udp_flows(&bed, NEW_FLOWS, 43000),
        u32::from(NEW_FLOWS),
        "new UDP flows echoed"
    );
    std::thread::sleep(Duration::from_millis(200));
    let stats = bed.stats().expect("nat64 stats --json");
    let tables = stats.stateful.as_ref().expect("stateful in nat64 stats");
    assert!(
        tables.sessions_opened_in_kernel["udp"] >= u64::from(NEW_FLOWS)
            && tables.kernel_conflicts["udp"] == 0,
        "the kernel opened the new flows' sessions:\n{stats}"
    );
    assert_eq!(
        stats.af_xdp(|s| s.translated),
        by_af_xdp,
        "no new flow's packet went through userspace:\n{stats}"
    );
    let sessions = json(&bed, "sessions");
    let opened_here = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["protocol"] == "udp"
                && s["in_kernel"] == true
                && (43000..43000 + u64::from(NEW_FLOWS)).contains(&s["port6"].as_u64().unwrap_or(0))
        })
        .count();
    assert_eq!(opened_here, usize::from(NEW_FLOWS), "listed: {sessions}");
    let sessions = json(&bed, "sessions");
    for protocol in ["udp", "icmp"] {
        assert!(
            sessions
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["protocol"] == protocol && s["v4"] == POOL4 && s["in_kernel"] == true),
            "a {protocol} session in the kernel: {sessions}"
        );
    }
    let log = crate::xdp::stop(&mut bed);
    assert!(log.contains("XDP on eth0: native mode"), "{log}");
    assert!(!log.contains("masquerad"), "no masquerade: {log}");
}

#[test]
fn xdp_direct_carries_stateful_nat64_both_ways() {
    stateful_over_xdp("direct");
}

#[test]
fn xdp_stack_carries_stateful_nat64_both_ways() {
    stateful_over_xdp("stack");
}
