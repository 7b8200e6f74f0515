//! What an operator reads from a running gateway: the Prometheus endpoint (checked with
//! `promtool check metrics`), `nat64 status`, `stats` and `mappings` with `--json` (their
//! schema pinned here), all from the daemon's one snapshot; and systemd's notify protocol
//! (READY once serving, WATCHDOG, RELOADING on SIGHUP, STOPPING) against a socket of ours.

use std::{
    collections::BTreeSet,
    io::{Read as _, Write as _},
    net::TcpStream,
    os::unix::net::UnixDatagram,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use nat64_tests::{
    binary,
    bpffs::BpfFs,
    gateway_bed::{self, GatewayBed, CLIENT_V6, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
    tools,
};
use serde_json::Value;

/// Inside the gateway's namespace: its own loopback, reachable from nowhere else.
const METRICS: &str = "127.0.0.1:9464";

/// An HTTP request to the metrics endpoint from inside the gateway's namespace; the whole
/// response.
fn http(bed: &GatewayBed, request: &'static str) -> String {
    bed.gateway
        .run_inside(move || {
            let mut stream = TcpStream::connect(METRICS)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(request.as_bytes())?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        })
        .expect("metrics endpoint answers")
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// The value of the sample whose name and labels start with `prefix`.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn json_of(bed: &GatewayBed, args: &[&str]) -> Value {
    let out = bed
        .gateway
        .command(binary::nat64().to_str().expect("UTF-8"))
        .args(args)
        .output()
        .expect("nat64 runs");
    assert!(
        out.status.success(),
        "nat64 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "nat64 {args:?} is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn metrics_status_and_json_tell_one_story() {
    let Some(_root) = require_root() else {
        return;
    };
    let Some(promtool) = tools::require("promtool", Some("target/tools/promtool")) else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let data = TempDir::new("ops-metrics").expect("data-dir");
    let pins = BpfFs::mount("ops-metrics-pins").expect("bpf filesystem");
    let data_dir = data.path().to_str().expect("UTF-8").to_owned();
    let pin_dir = pins.path().to_str().expect("UTF-8").to_owned();
    bed.start_until_serving(&[
        "run",
        "--iface",
        "eth0",
        "--prefix",
        gateway_bed::PREFIX,
        "--datapath",
        "tc",
        "--data-dir",
        &data_dir,
        "--pin-dir",
        &pin_dir,
        "--metrics",
        METRICS,
    ])
    .expect("gateway starts");
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 20);

    // The endpoint: Prometheus text that promtool accepts, with what the pings did.
    let response = http(&bed, "GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("Content-Type: text/plain; version=0.0.4"),
        "{response}"
    );
    let metrics = body(&response).to_owned();
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("metrics to promtool");
    let checked = check.wait_with_output().expect("promtool finishes");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &metrics,
            &format!("nat64_build_info{{version=\"{version}\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "nat64_datapath_info{datapath=\"tc\",device=\"nat64\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "nat64_xdp_attached_info{interface=\"eth0\",mode=\"native\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "nat64_mappings "), Some(1.0), "{metrics}");
    let in_kernel = |outcome: &str| {
        ["tc", "xdp"]
            .iter()
            .filter_map(|dp| {
                sample(
                    &metrics,
                    &format!("nat64_packets_total{{datapath=\"{dp}\",outcome=\"{outcome}\"}}"),
                )
            })
            .sum::<f64>()
    };
    assert!(
        in_kernel("translated_v6_to_v4_icmp") >= 15.0,
        "requests translated in the kernel:\n{metrics}"
    );
    assert!(
        in_kernel("translated_v4_to_v6_icmp") >= 15.0,
        "replies translated in the kernel:\n{metrics}"
    );
    assert!(
        metrics.contains("nat64_dropped_packets_total{datapath=\"tun\",reason=\"truncated\"} 0"),
        "every drop reason is exported, zeros too:\n{metrics}"
    );
    // Anything else gets a plain HTTP error, never a hang or a crash.
    assert!(http(&bed, "GET /nothing HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(&bed, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(http(&bed, "\u{1}\u{2} garbage\r\n\r\n").starts_with("HTTP/1.1 400"));

    // --json: the schema an operator's scripts rely on.
    let stats = json_of(&bed, &["stats", "--json"]);
    assert_eq!(
        keys(&stats),
        set(&[
            "schema",
            "version",
            "device",
            "source",
            "datapath",
            "daemon",
            "xdp",
            "tun",
            "kernel",
            "kernel_errors",
            "mappings",
            "pool",
            "active_hosts",
            "recent_errors",
            "log_events",
            "stateful",
            "af_xdp",
        ]),
        "{stats:#}"
    );
    assert_eq!(stats["schema"], 1);
    assert_eq!(stats["source"]["kind"], "daemon");
    assert_eq!(stats["datapath"]["kind"], "tc");
    assert_eq!(
        keys(&stats["daemon"]),
        set(&[
            "pid",
            "started_unix",
            "uptime_secs",
            "mode",
            "config_source",
            "prefix",
            "systemd"
        ])
    );
    assert_eq!(stats["daemon"]["mode"], "native");
    assert_eq!(stats["xdp"][0]["interface"], "eth0");
    assert_eq!(stats["xdp"][0]["mode"], "native");
    assert_eq!(stats["mappings"], 1);
    assert_eq!(
        keys(&stats["pool"]),
        set(&["network", "capacity", "in_use"])
    );
    assert_eq!(stats["active_hosts"][0]["ipv6"], CLIENT_V6.to_string());
    let kernel_programs: Vec<&str> = stats["kernel"]
        .as_array()
        .expect("kernel counters")
        .iter()
        .filter_map(|p| p["program"].as_str())
        .collect();
    assert_eq!(kernel_programs, ["tc", "xdp"]);
    assert!(stats["tun"]["dropped"]
        .as_object()
        .is_some_and(|d| d.len() > 10));

    // The text forms agree with the JSON.
    let text = bed
        .gateway
        .command(binary::nat64().to_str().expect("UTF-8"))
        .arg("stats")
        .output()
        .expect("nat64 stats");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.lines().any(|l| l == "mappings 1"), "{text}");
    let status = json_of(&bed, &["status", "--json"]);
    assert_eq!(keys(&status), keys(&stats));
    let screen = bed
        .gateway
        .command(binary::nat64().to_str().expect("UTF-8"))
        .arg("status")
        .output()
        .expect("nat64 status");
    let screen = String::from_utf8_lossy(&screen.stdout);
    for expected in [
        "serving nat64 for",
        "datapath       tc",
        "eth0 (native)",
        "pool",
        &CLIENT_V6.to_string(),
        "recent errors",
    ] {
        assert!(screen.contains(expected), "{expected:?} in:\n{screen}");
    }

    let mappings = json_of(&bed, &["mappings", "--json"]);
    assert_eq!(keys(&mappings), set(&["schema", "device", "mappings"]));
    assert_eq!(mappings["mappings"][0]["ipv6"], CLIENT_V6.to_string());
    assert_eq!(
        keys(&mappings["mappings"][0]),
        set(&["ipv6", "ipv4", "last_use_unix"])
    );

    let gateway = bed.gateway.last_child().expect("gateway");
    let stopped = gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops");
    assert!(stopped.success(), "{}", bed.gateway.last_child_output());
}

#[test]
fn a_taken_metrics_address_refuses_the_start_before_the_host_changes() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let data = TempDir::new("ops-taken").expect("data-dir");
    // Something already listens there.
    bed.gateway
        .spawn(&["python3", "-c", "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', 9464))\ns.listen()\ntime.sleep(60)"])
        .expect("listener");
    std::thread::sleep(Duration::from_millis(300));
    let out = bed
        .gateway
        .command(binary::nat64().to_str().expect("UTF-8"))
        .args([
            "run",
            "--prefix",
            gateway_bed::PREFIX,
            "--datapath",
            "tun",
            "--data-dir",
            data.path().to_str().expect("UTF-8"),
            "--metrics",
            METRICS,
        ])
        .output()
        .expect("nat64 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("metrics endpoint 127.0.0.1:9464"),
        "{stderr}"
    );
    let links = bed.gateway.exec(&["ip", "link"]).expect("ip link");
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains("nat64"),
        "the interface was left behind"
    );
}

/// Receives what nat64 tells "systemd" until `want` arrives or `limit` passes.
fn wait_for(socket: &UnixDatagram, want: &str, limit: Duration, seen: &mut Vec<String>) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        if let Ok(n) = socket.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let found = message.lines().any(|l| l == want);
            seen.push(message);
            if found {
                return true;
            }
        }
    }
    false
}

#[test]
fn the_daemon_speaks_systemds_notify_protocol() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut bed = GatewayBed::new().expect("namespaces");
    let dir = TempDir::new("ops-notify").expect("temporary directory");
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data-dir");
    let notify_env = format!("NOTIFY_SOCKET={}", socket_path.display());
    bed.start_gateway_with_env(
        &[
            &notify_env,
            "WATCHDOG_USEC=1000000",
            "INVOCATION_ID=0123456789abcdef",
        ],
        &[
            "run",
            "--prefix",
            gateway_bed::PREFIX,
            "--datapath",
            "tun",
            "--data-dir",
            data_dir.to_str().expect("UTF-8"),
        ],
    )
    .expect("gateway starts");
    let mut seen = Vec::new();
    assert!(
        wait_for(&socket, "READY=1", Duration::from_secs(20), &mut seen),
        "no READY=1: {seen:?}\n{}",
        bed.gateway.last_child_output()
    );
    // Serving by then: the route is in and the control socket answers.
    let stats = bed.stats().expect("stats once READY");
    assert!(stats.daemon.as_ref().is_some_and(|d| d.systemd), "{stats}");
    assert!(
        wait_for(&socket, "WATCHDOG=1", Duration::from_secs(3), &mut seen),
        "no WATCHDOG=1 within 3 s (WatchdogSec 1 s): {seen:?}"
    );
    let pid = bed.gateway.last_child().expect("gateway").id().to_string();
    Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(
        wait_for(&socket, "RELOADING=1", Duration::from_secs(5), &mut seen),
        "no RELOADING=1 on SIGHUP: {seen:?}"
    );
    assert!(
        wait_for(&socket, "READY=1", Duration::from_secs(5), &mut seen),
        "no READY=1 after the reload: {seen:?}"
    );
    let gateway = bed.gateway.last_child().expect("gateway");
    Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status()
        .expect("kill");
    assert!(
        wait_for(&socket, "STOPPING=1", Duration::from_secs(10), &mut seen),
        "no STOPPING=1 on SIGTERM: {seen:?}"
    );
    let stopped = gateway_bed::terminate(gateway, Duration::from_secs(10)).expect("stops");
    assert!(stopped.success(), "{}", bed.gateway.last_child_output());
}
