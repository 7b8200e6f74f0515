//! The units an operator installs: `nat64.service` passes `systemd-analyze verify` and asks
//! for what the gateway needs and no more; and a TAYGA site's own unit (the maintained
//! TAYGA's `tayga@.service` shape: `tayga --config ... -n`, only CAP_NET_ADMIN,
//! `StateDirectory=`) keeps working when `tayga` is a link to nat64 — verified, then its
//! command run as systemd would run it, translating through the TUN datapath.

use std::{
    os::unix::fs::{symlink, PermissionsExt as _},
    path::Path,
    process::Command,
    time::Duration,
};

use nat64_tests::{
    binary,
    gateway_bed::{self, GatewayBed, SERVER_VIA_PREFIX},
    privileges::require_root,
    tempdir::TempDir,
    tools,
};

fn unit_text() -> String {
    std::fs::read_to_string(tools::workspace_root().join("packaging/nat64.service"))
        .expect("packaging/nat64.service")
}

/// A root directory for `systemd-analyze verify --root`: the host's unit directory (for the
/// targets units refer to), `/bin/kill`, and `binary` at `usr/sbin/<name>`.
fn verify_root(dir: &Path, binary_name: &str) {
    let units = dir.join("lib/systemd/system");
    std::fs::create_dir_all(&units).expect("unit dir");
    for entry in std::fs::read_dir("/lib/systemd/system").expect("/lib/systemd/system") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let _ = std::fs::copy(&path, units.join(path.file_name().expect("name")));
        }
    }
    for (from, to) in [
        (binary::nat64(), dir.join("usr/sbin").join(binary_name)),
        ("/bin/kill".into(), dir.join("bin/kill")),
    ] {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
        std::fs::copy(&from, &to).expect("copy");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::create_dir_all(dir.join("etc/systemd/system")).expect("etc unit dir");
}

fn verify(analyze: &Path, root: &Path, unit: &Path) {
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .arg(unit)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify {}: {}{}",
        unit.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nat64_service_verifies_and_asks_for_no_more_than_it_needs() {
    let Some(analyze) = tools::require("systemd-analyze", None) else {
        return;
    };
    let text = unit_text();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_RAW CAP_IPC_LOCK",
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_XDP",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=nat64",
        "ExecStart=/usr/sbin/nat64 run --config /etc/nat64/nat64.toml",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "nat64.service lacks {line:?}"
        );
    }
    // The daemon writes /proc/sys/net (forwarding, rp_filter): tunables must stay writable.
    assert!(!text.contains("ProtectKernelTunables=yes"));

    let dir = TempDir::new("unit-verify").expect("temporary directory");
    verify_root(dir.path(), "nat64");
    let unit = dir.path().join("etc/systemd/system/nat64.service");
    std::fs::write(&unit, &text).expect("unit");
    verify(&analyze, dir.path(), &unit);

    // The example configuration it starts with is valid.
    let example = tools::workspace_root().join("packaging/nat64.toml");
    let check = Command::new(binary::nat64())
        .args(["config", "check"])
        .arg(&example)
        .output()
        .expect("nat64 config check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// A TAYGA site's unit in the maintained TAYGA's shape, `tayga` found on PATH.
const TAYGA_UNIT: &str = "[Unit]
Description=TAYGA NAT64 (%i)
After=network.target

[Service]
Type=simple
DynamicUser=true
AmbientCapabilities=CAP_NET_ADMIN
NoNewPrivileges=true
ProtectSystem=full
ProtectKernelTunables=true
StateDirectory=tayga-%I
ExecStart=/usr/sbin/tayga --config /etc/tayga/%i.conf -n

[Install]
WantedBy=multi-user.target
";

#[test]
fn taygas_own_unit_runs_nat64_through_the_tayga_link() {
    let Some(_root) = require_root() else {
        return;
    };
    let (Some(analyze), Some(setpriv)) = (
        tools::require("systemd-analyze", None),
        tools::require("setpriv", None),
    ) else {
        return;
    };
    let dir = TempDir::new("tayga-unit").expect("temporary directory");
    verify_root(dir.path(), "tayga");
    let unit = dir.path().join("etc/systemd/system/tayga@.service");
    std::fs::write(&unit, TAYGA_UNIT).expect("unit");
    let instance = dir.path().join("etc/systemd/system/tayga@site.service");
    symlink("tayga@.service", &instance).expect("instance link");
    verify(&analyze, dir.path(), &instance);

    // The command the unit runs, as systemd runs it: capabilities cut to CAP_NET_ADMIN, the
    // state directory in $STATE_DIRECTORY. DynamicUser's uid where /dev/net/tun is open to
    // all (as Debian ships it); uid 0 without any other capability where it is not (a
    // container's /dev may be root-only): BPF is refused either way.
    let tun_open_to_all =
        std::fs::metadata("/dev/net/tun").is_ok_and(|m| m.permissions().mode() & 0o006 == 0o006);
    let uid = if tun_open_to_all { 65534 } else { 0 };
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    std::os::unix::fs::chown(&state, Some(uid), Some(uid)).expect("chown state dir");
    let tayga = dir.path().join("tayga");
    symlink(binary::nat64(), &tayga).expect("tayga -> nat64");
    let conf = dir.path().join("site.conf");
    std::fs::write(
        &conf,
        format!(
            "tun-device nat64\nipv4-addr 198.51.100.1\nprefix {}\ndynamic-pool 198.51.100.0/24\n\
             tun-up yes\ntun-route {}\ntun-route 198.51.100.0/24\n",
            gateway_bed::PREFIX,
            gateway_bed::PREFIX
        ),
    )
    .expect("tayga.conf");

    let mut bed = GatewayBed::new().expect("namespaces");
    // A TAYGA site without NAT44: forwarding on, the pool routed back to the gateway.
    bed.gateway
        .exec(&[
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ])
        .expect("forwarding");
    bed.server
        .exec(&["ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])
        .expect("pool route");
    let uid_arg = format!("--reuid={uid}");
    let gid_arg = format!("--regid={uid}");
    let state_env = format!("STATE_DIRECTORY={}", state.display());
    bed.gateway
        .spawn(&[
            setpriv.to_str().expect("UTF-8"),
            &uid_arg,
            &gid_arg,
            "--clear-groups",
            "--inh-caps=-all,+net_admin",
            "--ambient-caps=-all,+net_admin",
            "--bounding-set=-all,+net_admin",
            "--no-new-privs",
            "env",
            &state_env,
            tayga.to_str().expect("UTF-8"),
            "--config",
            conf.to_str().expect("UTF-8"),
            "-n",
        ])
        .expect("tayga unit's command");
    let start = std::time::Instant::now();
    while !bed.gateway.last_child_output().contains("TUN worker(s)") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not serving: {}",
            bed.gateway.last_child_output()
        );
        assert!(
            bed.gateway.last_child_exit().expect("status").is_none(),
            "exited: {}",
            bed.gateway.last_child_output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gateway_bed::assert_pings(&bed, SERVER_VIA_PREFIX, 5);
    let log = bed.gateway.last_child_output();
    assert!(log.contains("datapath tun (the kernel refused"), "{log}");

    // systemctl reload / stop: SIGHUP writes dynamic.map into the state directory.
    let pid = bed.gateway.last_child().expect("daemon").id().to_string();
    Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    let map = state.join("dynamic.map");
    let start = std::time::Instant::now();
    while !map.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = std::fs::read_to_string(&map).unwrap_or_default();
    assert!(
        written.contains("2001:db8:1::2"),
        "dynamic.map in $STATE_DIRECTORY: {written:?}\n{}",
        bed.gateway.last_child_output()
    );
    let daemon = bed.gateway.last_child().expect("daemon");
    let stopped = gateway_bed::terminate(daemon, Duration::from_secs(10)).expect("stops");
    assert!(stopped.success(), "{}", bed.gateway.last_child_output());
}
