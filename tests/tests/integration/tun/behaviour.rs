//! What a production NAT64 must get right beyond the happy path, on the TUN datapath and on
//! the kernel (TC) path alike: Packet Too Big back to the IPv6 sender, hop-limit expiry
//! answered by the translator, a full pool reusing the least recently used idle mapping
//! (on TC the evicted host's kernel entry must go with it); and an unprivileged container
//! (BPF refused) running the same command on TUN.

use std::{
    net::Ipv6Addr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use nat64_tests::{
    binary,
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    netns::Netns,
    privileges::require_root,
    tempdir::TempDir,
};

/// Each behaviour, once per datapath, in beds of its own.
macro_rules! on_both_datapaths {
    ($check:ident, $on_tun:ident, $on_tc:ident) => {
        #[test]
        fn $on_tun() {
            if let Some(_root) = require_root() {
                $check("tun");
            }
        }

        #[test]
        fn $on_tc() {
            if let Some(_root) = require_root() {
                $check("tc");
            }
        }
    };
}

fn start_native(bed: &mut GatewayBed, data_dir: &TempDir, datapath: &str, extra: &[&str]) {
    let data = data_dir.path().to_str().expect("UTF-8").to_owned();
    let mut args = vec![
        "run",
        "--iface",
        "eth0",
        "--datapath",
        datapath,
        "--data-dir",
        &data,
    ];
    if !extra.contains(&"--config") {
        args.extend_from_slice(&["--prefix", gateway_bed::PREFIX]);
    }
    args.extend_from_slice(extra);
    bed.start_gateway(&args).expect("gateway starts");
}

fn ping(ns: &Netns, args: &[&str]) -> String {
    let out = ns.command("ping").args(args).output().expect("ping runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

on_both_datapaths!(
    too_big_for_the_ipv4_path_gets_packet_too_big_with_the_ipv6_mtu,
    packet_too_big_on_tun,
    packet_too_big_on_tc
);

fn too_big_for_the_ipv4_path_gets_packet_too_big_with_the_ipv6_mtu(datapath: &str) {
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("ptb").expect("data-dir");
    // The IPv4 uplink carries at most 1300 bytes.
    bed.gateway
        .exec(&["ip", "link", "set", "eth1", "mtu", "1300"])
        .expect("mtu");
    start_native(&mut bed, &data_dir, datapath, &[]);
    // 1400 bytes of ICMPv6 payload: 1448 on the IPv6 side, 1428 once translated.
    let out = ping(
        &bed.client,
        &[
            "-c",
            "2",
            "-i",
            "0.3",
            "-W",
            "2",
            "-s",
            "1400",
            "-M",
            "do",
            SERVER_VIA_PREFIX,
        ],
    );
    // 1300 on the IPv4 path is 1320 on the IPv6 side (RFC 7915: +20).
    assert!(
        out.contains("mtu=1320"),
        "Packet Too Big with mtu=1320 expected:\n{out}\n{}",
        bed.gateway.last_child_output()
    );
    // A packet that fits still goes through.
    let out = ping(
        &bed.client,
        &["-c", "1", "-W", "2", "-s", "1200", SERVER_VIA_PREFIX],
    );
    assert!(out.contains(" 0% packet loss"), "{out}");
}

on_both_datapaths!(
    hop_limit_expiring_in_the_translator_is_answered_with_time_exceeded,
    hop_limit_on_tun,
    hop_limit_on_tc
);

fn hop_limit_expiring_in_the_translator_is_answered_with_time_exceeded(datapath: &str) {
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("hops").expect("data-dir");
    start_native(&mut bed, &data_dir, datapath, &[]);
    // Hop limit 2: the gateway's kernel forwards it into nat64 with 1 left; the translator,
    // a router itself, may not forward it and answers from its own address.
    let out = ping(
        &bed.client,
        &["-c", "1", "-W", "2", "-t", "2", SERVER_VIA_PREFIX],
    );
    assert!(
        out.contains("Time exceeded"),
        "Time Exceeded expected:\n{out}"
    );
    // The translator's address (ipv4-addr 100.64.0.1 under the prefix) is the sender.
    assert!(
        out.contains("2001:db8:64::6440:1"),
        "answered by the translator:\n{out}"
    );
    // Hops: the gateway kernel, the translator, the gateway kernel again (IPv4), the server.
    let out = ping(
        &bed.client,
        &["-c", "1", "-W", "2", "-t", "4", SERVER_VIA_PREFIX],
    );
    assert!(
        out.contains(" 0% packet loss"),
        "with one more hop it arrives:\n{out}"
    );
}

on_both_datapaths!(
    a_full_pool_reuses_the_least_recently_used_idle_mapping,
    lru_pool_on_tun,
    lru_pool_on_tc
);

fn a_full_pool_reuses_the_least_recently_used_idle_mapping(datapath: &str) {
    let mut bed = GatewayBed::new().expect("namespaces");
    let data_dir = TempDir::new("lru").expect("data-dir");
    // A /30 pool: .1 .2 .3 can be handed out (TAYGA skips the network address); a mapping
    // is idle six seconds after its last packet (last use is kept in whole seconds; the
    // margin absorbs slow python start-ups on a loaded machine).
    let config = data_dir.path().join("nat64.toml");
    std::fs::write(
        &config,
        format!(
            "prefix = \"{}\"\nipv4_addr = \"192.0.2.200\"\ndynamic_pool = \"198.51.100.0/30\"\n\
             data_dir = \"{}\"\nmapping_idle_secs = 6\nlog = [\"dyn\", \"reject\"]\n",
            gateway_bed::PREFIX,
            data_dir.path().display()
        ),
    )
    .expect("config");
    gateway_bed::spawn_echo_server(&mut bed.server, 7777).expect("echo server");
    start_native(
        &mut bed,
        &data_dir,
        datapath,
        &["--config", config.to_str().expect("UTF-8")],
    );

    let hosts: Vec<Ipv6Addr> = (0x21..0x25)
        .map(|h| Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, h))
        .collect();
    for host in &hosts {
        bed.client
            .exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{host}/64"),
                "dev",
                "c0",
                "nodad",
            ])
            .expect("address");
    }
    // One datagram and its echo; `attempts` > 1 rides out a lost first packet (neighbour
    // discovery on a fresh address), 1 is for asserting a refusal.
    let echo_from = |source: &Ipv6Addr, attempts: u32| -> bool {
        let script = format!(
            "import socket, sys\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\ns.bind(('{source}', 0))\n\
             s.settimeout(1)\nfor _ in range({attempts}):\n    s.sendto(b'x', ('{SERVER_VIA_PREFIX}', 7777))\n\
             \x20   try:\n        s.recv(10); sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)\n"
        );
        bed.client
            .command("python3")
            .args(["-c", &script])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // Three hosts fill the pool, a second and more apart so their last use differs.
    for (i, host) in hosts[..3].iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1_100));
        }
        assert!(echo_from(host, 3), "{host} gets an address");
    }
    // The fourth arrives while all three are in use: no address for it.
    assert!(
        !echo_from(&hosts[3], 1),
        "a full pool with nothing idle must refuse {}",
        hosts[3]
    );
    // Once they have gone idle, the fourth takes the least recently used one: the first's.
    std::thread::sleep(Duration::from_millis(6_200));
    assert!(
        echo_from(&hosts[3], 3),
        "{} reuses an idle mapping",
        hosts[3]
    );

    // `log dyn` and `log reject`, as tayga.conf has them: one line per event.
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("assigned new pool address 198.51.100.")
            && log.contains(&hosts[0].to_string()),
        "dyn events logged:\n{log}"
    );
    assert!(
        log.contains("rejected no_source_mapping"),
        "the refusal logged:\n{log}"
    );

    let gateway = bed.gateway.last_child().expect("gateway");
    Command::new("kill")
        .args(["-HUP", &gateway.id().to_string()])
        .status()
        .expect("kill -HUP");
    let map_path = data_dir.path().join("dynamic.map");
    let start = Instant::now();
    let map = loop {
        let map = std::fs::read_to_string(&map_path).unwrap_or_default();
        if map.contains(&hosts[3].to_string()) || start.elapsed() > Duration::from_secs(5) {
            break map;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let address_of = |host: &Ipv6Addr| {
        map.lines()
            .find(|l| l.split('\t').nth(1) == Some(&host.to_string()))
            .and_then(|l| l.split('\t').next().map(str::to_owned))
    };
    let fourth =
        address_of(&hosts[3]).unwrap_or_else(|| panic!("{} in dynamic.map:\n{map}", hosts[3]));
    assert_eq!(
        address_of(&hosts[0]),
        None,
        "the first host's mapping was taken over:\n{map}"
    );
    let others = [address_of(&hosts[1]), address_of(&hosts[2])];
    assert!(
        !others.contains(&Some(fourth.clone())),
        "the fourth took the first's address, not another's:\n{map}"
    );

    // The first host comes back and gets another idle address. Had its old mapping stayed
    // anywhere (on TC: the kernel's table), its datagram would leave with the fourth's
    // address and the echo would go to the fourth.
    assert!(
        echo_from(&hosts[0], 3),
        "{} gets a fresh address, not the one now held by {}",
        hosts[0],
        hosts[3]
    );
}

#[test]
fn an_unprivileged_container_runs_the_tun_datapath() {
    let Some(_root) = require_root() else {
        return;
    };
    // A user namespace mapped to root, its own network and mount namespaces: what an
    // unprivileged LXC container on Proxmox gets. The gateway and both ends live inside it;
    // the IPv4 "server" is an address on its loopback.
    let nat64 = binary::nat64();
    let data_dir = TempDir::new("userns").expect("data-dir");
    let script = format!(
        "set -e\n\
         ip link set lo up\n\
         ip addr add 192.0.2.1/32 dev lo\n\
         ip -6 addr add 2001:db8:1::2/128 dev lo\n\
         {nat64} run --prefix {prefix} --data-dir {data} > {data}/gateway.log 2>&1 &\n\
         pid=$!\n\
         for i in $(seq 50); do ip -6 route show {prefix} | grep -q nat64 && break; sleep 0.1; done\n\
         ping -c 2 -i 0.2 -W 2 -I 2001:db8:1::2 {target}\n\
         kill -TERM $pid; wait $pid\n",
        nat64 = nat64.display(),
        prefix = gateway_bed::PREFIX,
        data = data_dir.path().display(),
        target = "2001:db8:64::c000:201",
    );
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "--mount",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .expect("unshare runs");
    let log = std::fs::read_to_string(data_dir.path().join("gateway.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "inside the container: {}\n{}\ngateway log:\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0% packet loss"));
    let datapath_lines: Vec<&str> = log.lines().filter(|l| l.contains("datapath")).collect();
    assert_eq!(
        datapath_lines.len(),
        1,
        "one log line names the datapath and why:\n{log}"
    );
    assert!(datapath_lines[0].contains("datapath tun"), "{log}");
}
