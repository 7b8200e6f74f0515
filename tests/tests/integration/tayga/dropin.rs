//! A TAYGA user's set-up, unchanged, with `tayga` pointing at `nat64`: `tayga --mktun`, the
//! routes the user adds by hand, the daemon with a pid file, `dynamic.map` in the data-dir —
//! and TAYGA 0.9.2 itself taking over that data-dir from nat64 and back, keeping mappings.
//!
//! The pool is routed to the server here (a VPN server's set-up: no NAT44), so the server
//! sees — and tells the client — which pool address a client was given.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use nat64::pool::allocate::start_address;
use nat64_tests::{
    binary,
    gateway_bed::{self, GatewayBed},
    netns::Netns,
    privileges::require_root,
    tempdir::TempDir,
};

const POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 51, 100, 0), 24);
const WHOAMI_PORT: u16 = 5353;
/// Debian's TAYGA 0.9.2, the peer we must interoperate with.
const TAYGA: &str = "/usr/sbin/tayga";

/// TAYGA 0.9.2 predates `map-file`; the takeover test leaves it out.
fn tayga_conf(data_dir: &Path, with_map_file: bool) -> String {
    let map_file = if with_map_file { "map-file maps\n" } else { "" };
    format!(
        "# a TurnKey-style tayga.conf\n\
         tun-device nat64\n\
         ipv4-addr 198.51.100.1\n\
         prefix {}\n\
         dynamic-pool 198.51.100.0/24\n\
         data-dir {}\n\
         {map_file}",
        gateway_bed::PREFIX,
        data_dir.display()
    )
}

/// The bed with what a TAYGA user scripts around the daemon: the persistent device, routes,
/// forwarding; the server routes the pool back through the gateway.
struct TaygaSite {
    bed: GatewayBed,
    dir: TempDir,
    conf: PathBuf,
    /// `tayga` → the nat64 binary, as an operator would install it.
    tayga_link: PathBuf,
}

impl TaygaSite {
    fn new(with_map_file: bool) -> Self {
        let mut bed = GatewayBed::new().expect("namespaces");
        let dir = TempDir::new("tayga").expect("temporary directory");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data-dir");
        write_map_file(&data_dir, MAPPED_V4[0]);
        let conf = dir.path().join("tayga.conf");
        std::fs::write(&conf, tayga_conf(&data_dir, with_map_file)).expect("tayga.conf");
        let tayga_link = dir.path().join("tayga");
        std::os::unix::fs::symlink(binary::nat64(), &tayga_link).expect("tayga symlink");

        let conf_arg = conf.to_str().expect("UTF-8 path").to_owned();
        let link_arg = tayga_link.to_str().expect("UTF-8 path").to_owned();
        bed.gateway
            .exec(&[&link_arg, "-c", &conf_arg, "--mktun"])
            .expect("tayga --mktun (nat64)");
        for cmd in [
            "ip link set nat64 up",
            "ip route add 198.51.100.0/24 dev nat64",
            "ip -6 route add 2001:db8:64::/96 dev nat64",
            "ip route add 203.0.113.0/24 dev nat64",
            "sysctl -qw net.ipv4.ip_forward=1",
            "sysctl -qw net.ipv6.conf.all.forwarding=1",
        ] {
            let argv: Vec<&str> = cmd.split(' ').collect();
            bed.gateway
                .exec(&argv)
                .unwrap_or_else(|e| panic!("{cmd}: {e:#}"));
        }
        for routed in ["198.51.100.0/24", "203.0.113.0/24"] {
            bed.server
                .exec(&["ip", "route", "add", routed, "via", "192.0.2.1"])
                .expect("route back to the gateway");
        }
        spawn_whoami(&mut bed.server);
        Self {
            bed,
            dir,
            conf,
            tayga_link,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("tayga.pid")
    }

    /// Starts a daemon (`program -c conf -p pidfile`, detaching as TAYGA does) and returns its pid.
    fn start_daemon(&self, program: &str) -> u32 {
        let _ = std::fs::remove_file(self.pidfile());
        let conf = self.conf.to_str().expect("UTF-8");
        let pidfile = self.pidfile();
        let pidfile = pidfile.to_str().expect("UTF-8");
        self.bed
            .gateway
            .exec(&[program, "-c", conf, "-p", pidfile])
            .unwrap_or_else(|e| panic!("{program} -c {conf} -p {pidfile}: {e:#}"));
        let start = Instant::now();
        loop {
            if let Some(pid) = std::fs::read_to_string(self.pidfile())
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                // Give it a moment to open the device after writing the pid file.
                std::thread::sleep(Duration::from_millis(300));
                return pid;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{program} wrote no pid file"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_daemon(&self, pid: u32) {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let start = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pid {pid} ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pool address the server sees for a client source address.
    fn pool_address_of(&self, source: Ipv6Addr) -> Ipv4Addr {
        whoami(&self.bed.client, source).unwrap_or_else(|e| panic!("whoami from {source}: {e:#}"))
    }

    fn dynamic_map(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("dynamic.map")).unwrap_or_default()
    }
}

impl Drop for TaygaSite {
    fn drop(&mut self) {
        // Whatever daemon is still running dies with the namespace; the device goes with it.
        if let Ok(pid) = std::fs::read_to_string(self.pidfile()) {
            if Path::new(&format!("/proc/{}", pid.trim())).exists() {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
    }
}

/// The host the map-file maps statically, and the IPv4 addresses it is mapped to before and
/// after the SIGHUP reload.
const MAPPED_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x77);
const MAPPED_V4: [Ipv4Addr; 2] = [
    Ipv4Addr::new(203, 0, 113, 10),
    Ipv4Addr::new(203, 0, 113, 11),
];

fn write_map_file(data_dir: &Path, v4: Ipv4Addr) {
    std::fs::write(data_dir.join("maps"), format!("map {v4} {MAPPED_HOST}\n")).expect("map-file");
}

/// A UDP server that answers every datagram with the sender's address, as text.
fn spawn_whoami(server: &mut Netns) {
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('0.0.0.0', {WHOAMI_PORT}))\n\
         while True:\n\
         \x20   data, peer = s.recvfrom(2048)\n\
         \x20   s.sendto(peer[0].encode(), peer)\n"
    );
    server
        .spawn(&["python3", "-c", &script])
        .expect("whoami server");
    std::thread::sleep(Duration::from_millis(300));
}

fn whoami(client: &Netns, source: Ipv6Addr) -> anyhow::Result<Ipv4Addr> {
    let script = format!(
        "import socket, sys\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         s.bind(('{source}', 0))\n\
         s.settimeout(2)\n\
         for attempt in range(3):\n\
         \x20   s.sendto(b'who', ('{}', {WHOAMI_PORT}))\n\
         \x20   try:\n\
         \x20       sys.stdout.write(s.recv(100).decode()); break\n\
         \x20   except socket.timeout:\n\
         \x20       pass\n",
        gateway_bed::SERVER_VIA_PREFIX
    );
    let out = client.command("python3").args(["-c", &script]).output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.parse().map_err(|_| {
        anyhow::anyhow!(
            "no answer (stdout {text:?}, stderr {})",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Two client addresses TAYGA's allocator starts at the same pool address: the second to
/// arrive gets the next one, so only a kept mapping explains it keeping that address later.
fn colliding_clients() -> (Ipv6Addr, Ipv6Addr) {
    let first = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
    let start = start_address(&first, POOL.0, POOL.1);
    let second = (0x11u16..0xffff)
        .map(|k| Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 1, k))
        .find(|candidate| start_address(candidate, POOL.0, POOL.1) == start)
        .expect("some address collides within 64k candidates");
    (first, second)
}

fn add_client_addresses(client: &Netns, addresses: &[Ipv6Addr]) {
    for addr in addresses {
        client
            .exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                "c0",
                "nodad",
            ])
            .expect("client address");
    }
}

#[test]
fn tayga_link_to_nat64_serves_a_tayga_site_as_a_daemon() {
    let Some(_root) = require_root() else {
        return;
    };
    let site = TaygaSite::new(true);
    let link = site.tayga_link.to_str().expect("UTF-8").to_owned();
    let pid = site.start_daemon(&link);

    let ping = site
        .bed
        .client
        .command("ping")
        .args([
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            gateway_bed::SERVER_VIA_PREFIX,
        ])
        .output()
        .expect("ping runs");
    assert!(
        ping.status.success(),
        "ping through tayga→nat64: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let client = gateway_bed::CLIENT_V6;
    let assigned = site.pool_address_of(client);
    assert!(
        u32::from(assigned) >> 8 == u32::from(POOL.0) >> 8
            && assigned != Ipv4Addr::new(198, 51, 100, 1),
        "the client got {assigned}, not a pool address"
    );

    // SIGHUP re-reads the map-file, as TAYGA does.
    add_client_addresses(&site.bed.client, &[MAPPED_HOST]);
    assert_eq!(
        site.pool_address_of(MAPPED_HOST),
        MAPPED_V4[0],
        "the map-file's mapping"
    );
    write_map_file(&site.data_dir(), MAPPED_V4[1]);
    Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        site.pool_address_of(MAPPED_HOST),
        MAPPED_V4[1],
        "the reloaded mapping"
    );

    site.stop_daemon(pid);
    let map = site.dynamic_map();
    assert!(
        map.lines()
            .any(|l| l.starts_with(&format!("{assigned}\t{client}\t"))),
        "dynamic.map after SIGTERM:\n{map}"
    );
    assert!(
        map.contains("TAYGA dynamic map database"),
        "TAYGA's header:\n{map}"
    );

    // The persistent device outlives the daemon, as with TAYGA, until --rmtun.
    site.bed
        .gateway
        .exec(&["ip", "link", "show", "nat64"])
        .expect("device kept");
    let conf = site.conf.to_str().expect("UTF-8");
    site.bed
        .gateway
        .exec(&[&link, "-c", conf, "--rmtun"])
        .expect("tayga --rmtun");
    assert!(
        site.bed
            .gateway
            .exec(&["ip", "link", "show", "nat64"])
            .is_err(),
        "device removed"
    );
}

#[test]
fn tayga_and_nat64_take_over_each_others_data_dir() {
    let Some(_root) = require_root() else {
        return;
    };
    if !Path::new(TAYGA).exists() {
        panic!("{TAYGA} is missing: `cargo xtask setup` installs Debian's tayga package");
    }
    let site = TaygaSite::new(false);
    let (first, second) = colliding_clients();
    add_client_addresses(&site.bed.client, &[first, second]);
    let link = site.tayga_link.to_str().expect("UTF-8").to_owned();

    // TAYGA assigns both; the second is pushed to the address after the shared start point.
    let pid = site.start_daemon(TAYGA);
    let first_v4 = site.pool_address_of(first);
    let second_v4 = site.pool_address_of(second);
    site.stop_daemon(pid);
    assert_ne!(first_v4, second_v4);

    // nat64 takes over: the second client alone comes back and keeps its address, which a
    // fresh allocation would not give it (the first client's is free to it otherwise).
    let pid = site.start_daemon(&link);
    assert_eq!(
        site.pool_address_of(second),
        second_v4,
        "nat64 kept TAYGA's mapping"
    );
    let third = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 2, 1);
    add_client_addresses(&site.bed.client, &[third]);
    let third_v4 = site.pool_address_of(third);
    site.stop_daemon(pid);

    // And back: TAYGA reads what nat64 wrote, including the mapping nat64 made.
    let pid = site.start_daemon(TAYGA);
    assert_eq!(
        site.pool_address_of(third),
        third_v4,
        "TAYGA kept nat64's mapping"
    );
    assert_eq!(
        site.pool_address_of(second),
        second_v4,
        "TAYGA kept the original mapping"
    );
    site.stop_daemon(pid);
}
