//! Restarts as an operator's tools make them, on a TAYGA site (`tayga --mktun`, then the
//! daemon in the foreground as a systemd unit runs it): a stop followed at once by a start
//! (`systemctl restart`), a `kill -9` followed by a start, and two starts racing for the same
//! device. Each must end in one daemon serving, or in a clear error naming the holder, and a
//! clean stop must leave nothing of ours behind (offloads, pinned maps, an attached program).
//!
//! "Serving" is what an operator checks first: the translator answers pings of its own IPv4
//! address through the `nat64` device.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use nat64_tests::{binary, netns::Netns, privileges::require_root, tempdir::TempDir};

const OWN_V4: &str = "192.0.2.1";

/// One namespace with a persistent TUN device made by `tayga --mktun`, a `tayga.conf` for it,
/// and the routes a TAYGA site adds by hand.
struct Site {
    ns: Netns,
    dir: TempDir,
    device: String,
    conf: PathBuf,
}

impl Site {
    fn new() -> Site {
        let ns = Netns::new("restart").expect("namespace");
        let dir = TempDir::new("restart").expect("temporary directory");
        // bpffs is shared by every namespace: a device name of our own keeps our pins apart.
        let device = format!(
            "rs{}",
            ns.name().rsplit('-').take(2).collect::<Vec<_>>().join("")
        );
        let device: String = device.chars().take(15).collect();
        let conf = dir.path().join("tayga.conf");
        std::fs::write(
            &conf,
            format!(
                "tun-device {device}\nipv4-addr {OWN_V4}\nprefix 2001:db8:64::/96\n\
                 dynamic-pool 198.51.100.0/24\ndata-dir {}\n",
                dir.path().display()
            ),
        )
        .expect("tayga.conf");
        let site = Site {
            ns,
            dir,
            device,
            conf,
        };
        site.tayga(&["--mktun"]).expect("tayga --mktun");
        for cmd in [
            format!("ip link set {} up", site.device),
            format!("ip addr add 198.51.100.254/24 dev {}", site.device),
            format!("ip route add {OWN_V4}/32 dev {}", site.device),
        ] {
            let argv: Vec<&str> = cmd.split(' ').collect();
            site.ns
                .exec(&argv)
                .unwrap_or_else(|e| panic!("{cmd}: {e:#}"));
        }
        site
    }

    fn tayga(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let nat64 = binary::nat64();
        let mut argv = vec![nat64.to_str().expect("UTF-8"), "tayga", "-c"];
        argv.push(self.conf.to_str().expect("UTF-8"));
        argv.extend_from_slice(args);
        self.ns.exec(&argv)
    }

    /// The daemon in the foreground (`tayga -c FILE -d`), as a systemd unit starts it.
    fn start(&mut self) -> u32 {
        let nat64 = binary::nat64();
        let conf = self.conf.to_str().expect("UTF-8").to_owned();
        let child = self
            .ns
            .spawn(&[nat64.to_str().expect("UTF-8"), "tayga", "-c", &conf, "-d"])
            .expect("daemon starts");
        child.id()
    }

    /// Waits until the translator answers a ping of its own address; how long that took.
    fn serving(&self) -> Duration {
        let start = Instant::now();
        loop {
            let ping = self
                .ns
                .exec(&["ping", "-c1", "-W1", "-I", "198.51.100.254", OWN_V4]);
            if ping.is_ok() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the translator never answered a ping:\n{}",
                self.ns.last_child_output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pins(&self) -> PathBuf {
        Path::new("/sys/fs/bpf/nat64").join(&self.device)
    }

    /// What of ours is still on the device and in bpffs once no daemon runs.
    fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self.pins().exists() {
            found.push(format!("pins in {}", self.pins().display()));
        }
        let attached = self
            .ns
            .exec(&["bpftool", "net", "show", "dev", &self.device])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if attached.contains("nat64_tc") {
            found.push(format!("nat64_tc still attached: {attached}"));
        }
        let features = self
            .ns
            .exec(&["ethtool", "-k", &self.device])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if let Some(on) = features
            .lines()
            .find(|l| l.starts_with("tcp-segmentation-offload:") && l.contains(" on"))
        {
            found.push(format!("offloads left on: {on}"));
        }
        found
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        // The namespace takes the daemons and the device; the pins outlive it otherwise.
        let _ = std::fs::remove_dir_all(self.pins());
        let _ = &self.dir;
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pid {} did not exit",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stop_followed_at_once_by_a_start_serves_again() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut site = Site::new();
    let first = site.start();
    println!("first start served after {:?}", site.serving());
    signal(first, "-TERM");
    let status = wait_exit(site.ns.last_child().expect("the first daemon"));
    assert!(status.success(), "a clean stop exits 0: {status}");
    site.start();
    println!("restart served after {:?}", site.serving());
    signal(site.ns.last_child().expect("daemon").id(), "-TERM");
    wait_exit(site.ns.last_child().expect("daemon"));
    assert_eq!(site.leftovers(), Vec::<String>::new());
}

#[test]
fn a_start_after_kill_9_serves_and_the_next_clean_stop_leaves_nothing() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut site = Site::new();
    let first = site.start();
    site.serving();
    signal(first, "-KILL");
    wait_exit(site.ns.last_child().expect("the first daemon"));
    // A killed daemon cleans nothing up: what it left must not stop the next one.
    site.start();
    println!("start after kill -9 served after {:?}", site.serving());
    signal(site.ns.last_child().expect("daemon").id(), "-TERM");
    let status = wait_exit(site.ns.last_child().expect("daemon"));
    assert!(status.success(), "{status}");
    assert_eq!(site.leftovers(), Vec::<String>::new());
}

#[test]
fn two_starts_racing_end_in_one_daemon_and_an_error_naming_it() {
    let Some(_root) = require_root() else {
        return;
    };
    let site = Site::new();
    let nat64 = binary::nat64();
    let conf = site.conf.to_str().expect("UTF-8").to_owned();
    let argv = [nat64.to_str().expect("UTF-8"), "tayga", "-c", &conf, "-d"];
    // Both at once: neither waits for the other.
    let mut racers: Vec<Child> = (0..2)
        .map(|_| {
            site.ns
                .command(argv[0])
                .args(&argv[1..])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("daemon starts")
        })
        .collect();
    site.serving();
    std::thread::sleep(Duration::from_millis(500));
    let exited: Vec<usize> = (0..2)
        .filter(|&i| racers[i].try_wait().expect("wait").is_some())
        .collect();
    assert_eq!(exited.len(), 1, "exactly one of two racing starts gives up");
    let loser = exited[0];
    let winner = 1 - loser;
    let out = std::mem::replace(
        &mut racers[loser],
        Command::new("true").spawn().expect("true"),
    )
    .wait_with_output()
    .expect("loser's output");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the loser fails: {said}");
    let winner_pid = racers[winner].id().to_string();
    assert!(
        said.contains("already served by") || said.contains("in use by"),
        "the loser says why: {said}"
    );
    // `ip netns exec` runs the daemon as its child's image: the pid the loser names is the
    // winner's own.
    assert!(
        said.contains(&format!("pid {winner_pid}")),
        "the loser names the winner, pid {winner_pid}: {said}"
    );
    signal(racers[winner].id(), "-TERM");
    let status = wait_exit(&mut racers[winner]);
    assert!(status.success(), "{status}");
    for mut racer in racers {
        let _ = racer.kill();
        let _ = racer.wait();
    }
    assert_eq!(site.leftovers(), Vec::<String>::new());
}
