//! `nat64 doctor` says what the host allows: as root in a network namespace of its own, the
//! kernel datapath; in an unprivileged user namespace (`unshare --user --map-root-user
//! --net`, what an unprivileged LXC container is), BPF refused and why, the TUN datapath.

use std::process::Command;

use nat64_tests::{binary, netns::Netns, privileges::require_root, tools};
use serde_json::Value;

/// The check named `name` (the first one when repeated).
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
}

fn verdict<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["verdict"].as_str().unwrap_or("")
}

fn parse(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn doctor_as_root_in_a_network_namespace_finds_the_kernel_datapath() {
    let Some(_root) = require_root() else {
        return;
    };
    let ns = Netns::new("doc").expect("namespace");
    ns.exec(&[
        "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
    ])
    .expect("veth");
    let out = ns
        .command(binary::nat64().to_str().expect("UTF-8"))
        .args(["doctor", "--json", "--iface", "d0", "--iface", "nosuch0"])
        .output()
        .expect("nat64 doctor");
    let report = parse(&out);
    assert_eq!(report["schema"], 1);
    assert_eq!(verdict(&report, "tun"), "ok", "{report:#}");
    assert_eq!(verdict(&report, "bpf"), "ok", "{report:#}");
    assert_eq!(report["datapath"], "tc");
    // A fresh namespace forwards nothing and has no default route: said, with the fix.
    assert_eq!(verdict(&report, "forwarding"), "warn");
    assert!(check(&report, "forwarding")["fix"]
        .as_str()
        .is_some_and(|f| f.contains("sysctl -w")));
    assert_eq!(verdict(&report, "uplink"), "warn", "{report:#}");
    let xdp: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["check"] == "xdp")
        .collect();
    assert_eq!(xdp.len(), 2, "{report:#}");
    assert_eq!(xdp[0]["verdict"], "ok");
    assert!(xdp[0]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("veth")));
    // A named interface that does not exist blocks the start: exit status 1.
    assert_eq!(xdp[1]["verdict"], "fail");
    assert_eq!(report["ready"], false);
    assert!(!out.status.success());

    // Without the missing interface the host is ready, and the text says so line by line.
    let text = ns
        .command(binary::nat64().to_str().expect("UTF-8"))
        .args(["doctor", "--iface", "d0"])
        .output()
        .expect("nat64 doctor");
    let screen = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success(), "{screen}");
    assert!(screen.contains("ok    bpf"), "{screen}");
    assert!(
        screen.contains("ready: `nat64 run` would translate in the kernel"),
        "{screen}"
    );
}

#[test]
fn doctor_in_an_unprivileged_user_namespace_explains_the_tun_fallback() {
    let Some(unshare) = tools::require("unshare", None) else {
        return;
    };
    // The same as an unprivileged container: root inside, nobody outside.
    let out = Command::new(unshare)
        .args(["--user", "--map-root-user", "--net"])
        .arg(binary::nat64())
        .args(["doctor", "--json"])
        .output()
        .expect("unshare runs");
    if out.stdout.is_empty() {
        tools::skip(&format!(
            "this host allows no user namespace: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return;
    }
    let report = parse(&out);
    assert_eq!(verdict(&report, "bpf"), "fail", "{report:#}");
    let why = check(&report, "bpf")["detail"].as_str().unwrap_or("");
    assert!(why.contains("user namespace"), "{why}");
    assert!(why.contains("TUN datapath"), "{why}");
    assert!(
        check(&report, "container")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("user namespace")),
        "{report:#}"
    );
    assert_eq!(verdict(&report, "tun"), "ok", "{report:#}");
    assert_eq!(report["datapath"], "tun");
    // BPF refused is not a failure to start: the TUN datapath serves.
    assert_eq!(report["ready"], true, "{report:#}");
    assert!(out.status.success());
}
