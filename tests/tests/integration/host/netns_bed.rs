//! The namespace test bed itself: namespaces come and go, veth links carry packets, and
//! nothing is left behind when a test fails.

use nat64_tests::{netns::Netns, privileges::require_root};

fn namespace_exists(name: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|n| n == name)
}

#[test]
fn linked_namespaces_reach_each_other_and_vanish_on_drop() {
    let Some(_root) = require_root() else {
        return;
    };
    let (a_name, b_name);
    {
        let a = Netns::new("a").expect("namespace a");
        let b = Netns::new("b").expect("namespace b");
        a_name = a.name().to_owned();
        b_name = b.name().to_owned();
        a.link("veth-a", &b, "veth-b").expect("veth pair");
        a.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", "veth-a"])
            .expect("address a");
        b.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", "veth-b"])
            .expect("address b");
        a.exec(&["ping", "-c", "1", "-W", "2", "192.0.2.2"])
            .expect("a pings b");
    }
    assert!(!namespace_exists(&a_name), "{a_name} was left behind");
    assert!(!namespace_exists(&b_name), "{b_name} was left behind");
}

#[test]
fn a_panicking_test_still_removes_its_namespace_and_processes() {
    let Some(_root) = require_root() else {
        return;
    };
    let name = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let mut ns = Netns::new("panic").expect("namespace");
        *name.lock().unwrap() = ns.name().to_owned();
        ns.spawn(&["sleep", "600"]).expect("sleep starts");
        panic!("the test body fails");
    });
    assert!(result.is_err());
    let name = name.into_inner().unwrap();
    assert!(!namespace_exists(&name), "{name} was left behind");
}
