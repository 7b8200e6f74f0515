//! Three namespaces as a TAYGA user's network looks: an IPv6-only client, the gateway, an
//! IPv4-only server; veth between them. The gateway's interfaces are named `eth0` (towards
//! the clients) and `eth1` (the IPv4 uplink, where the default route points).
//!
//! client c0 2001:db8:1::2/64 ── eth0 2001:db8:1::1/64 [gateway] eth1 192.0.2.1/24 ── s0 192.0.2.2/24 server

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{netns::Netns, stats::Stats};

pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
pub const GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The prefix the tests translate through (documentation space: RFC 6052's well-known
/// prefix would refuse the documentation addresses the servers have).
pub const PREFIX: &str = "2001:db8:64::/96";
/// SERVER_V4 behind PREFIX.
pub const SERVER_VIA_PREFIX: &str = "2001:db8:64::c000:202";
/// The TUN device the gateway serves (nat64's default).
pub const DEVICE: &str = "nat64";

pub struct GatewayBed {
    pub client: Netns,
    pub gateway: Netns,
    pub server: Netns,
    /// Environment of the next nat64 started.
    env: Vec<String>,
    /// A command nat64 runs under, for the next start only.
    wrapper: Vec<String>,
}

impl GatewayBed {
    pub fn new() -> Result<Self> {
        let client = Netns::new("cli")?;
        let gateway = Netns::new("gw")?;
        let server = Netns::new("srv")?;
        client.link("c0", &gateway, "eth0")?;
        gateway.link("eth1", &server, "s0")?;
        client.exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:1::2/64",
            "dev",
            "c0",
            "nodad",
        ])?;
        client.exec(&[
            "ip",
            "-6",
            "route",
            "add",
            "default",
            "via",
            "2001:db8:1::1",
        ])?;
        gateway.exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            "eth0",
            "nodad",
        ])?;
        gateway.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", "eth1"])?;
        gateway.exec(&["ip", "route", "add", "default", "via", "192.0.2.2"])?;
        server.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", "s0"])?;
        Ok(Self {
            client,
            gateway,
            server,
            env: Vec::new(),
            wrapper: Vec::new(),
        })
    }

    /// Starts `nat64 <args>` in the gateway namespace and waits until its interface routes
    /// the prefix (the gateway is serving), or fails with its output.
    pub fn start_gateway(&mut self, args: &[&str]) -> Result<()> {
        self.spawn_nat64(args)?;
        self.wait_until(
            "route 2001:db8:64::/96",
            Duration::from_millis(100),
            |bed| {
                let routes =
                    bed.gateway
                        .exec(&["ip", "-6", "route", "show", "2001:db8:64::/96"])?;
                Ok(!routes.stdout.is_empty())
            },
        )
    }

    /// Starts `nat64 <args>` and waits for its log to say it serves: after the routes (a
    /// restart finds those a `--keep` run left) and after the kernel programs are attached
    /// (the line that names the datapath comes once they are, or once they are not to be).
    pub fn start_until_serving(&mut self, args: &[&str]) -> Result<()> {
        self.spawn_nat64(args)?;
        self.wait_until("serving", Duration::from_millis(20), |bed| {
            Ok(bed.gateway.last_child_output().contains(" datapath "))
        })
    }

    /// The gateway's counters, from `nat64 stats --json --device nat64` in its namespace
    /// (see [`crate::stats`]): ask before stopping the daemon.
    pub fn stats(&self) -> Result<Stats> {
        Stats::read(&self.gateway, DEVICE, &[])
    }

    /// [`GatewayBed::stats`] with more arguments: `--pin-dir DIR` reads what a `--keep` run
    /// left pinned once no daemon runs.
    pub fn stats_with(&self, args: &[&str]) -> Result<Stats> {
        Stats::read(&self.gateway, DEVICE, args)
    }

    /// [`GatewayBed::start_until_serving`] with nat64 run by `wrapper` (`setpriv ...`), which
    /// execs the rest of its command line.
    pub fn start_until_serving_wrapped(&mut self, wrapper: &[&str], args: &[&str]) -> Result<()> {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        let started = self.start_until_serving(args);
        self.wrapper.clear();
        started
    }

    /// [`GatewayBed::start_gateway`] with `env` (`NAME=value`) in nat64's environment.
    pub fn start_gateway_with_env(&mut self, env: &[&str], args: &[&str]) -> Result<()> {
        self.env = env.iter().map(|s| s.to_string()).collect();
        let started = self.start_gateway(args);
        self.env.clear();
        started
    }

    fn spawn_nat64(&mut self, args: &[&str]) -> Result<()> {
        let binary = crate::binary::nat64();
        let binary = binary.to_str().context("binary path is UTF-8")?.to_owned();
        let env = self.env.clone();
        let wrapper = self.wrapper.clone();
        let mut argv: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        if !env.is_empty() {
            argv.push("env");
            argv.extend(env.iter().map(String::as_str));
        }
        argv.push(binary.as_str());
        argv.extend_from_slice(args);
        self.gateway.spawn(&argv)?;
        Ok(())
    }

    /// Polls `ready` every `step` for 20 s; fails at once, with the log, if nat64 exits.
    fn wait_until(
        &mut self,
        what: &str,
        step: Duration,
        mut ready: impl FnMut(&mut Self) -> Result<bool>,
    ) -> Result<()> {
        let limit = Duration::from_secs(20);
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready(self)? {
                return Ok(());
            }
            if let Some(status) = self.gateway.last_child_exit()? {
                bail!(
                    "nat64 exited early ({status}): {}",
                    self.gateway.last_child_output()
                );
            }
            std::thread::sleep(step);
        }
        bail!(
            "nat64 not {what} within {limit:?}: {}",
            self.gateway.last_child_output()
        )
    }
}

/// A UDP and TCP echo server on the server, in python3 (what the machine has).
pub fn spawn_echo_server(ns: &mut Netns, port: u16) -> Result<()> {
    let script = format!(
        r#"
import socket, threading
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", {port}))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)
def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", {port}))
    s.listen(16)
    while True:
        c, _ = s.accept()
        def serve(c):
            while True:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)
            c.close()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
tcp()
"#
    );
    ns.spawn(&["python3", "-c", &script])?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// Sends `payload` to the echo server over UDP or TCP from the client; returns the echo.
pub fn echo_through(
    ns: &Netns,
    proto: &str,
    target: &str,
    port: u16,
    payload_len: usize,
) -> Result<Vec<u8>> {
    let script = format!(
        r#"
import socket, sys
payload = bytes((i * 7 + 3) % 256 for i in range({payload_len}))
kind = socket.SOCK_DGRAM if "{proto}" == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET6, kind)
s.settimeout(5)
s.connect(("{target}", {port}))
s.sendall(payload)
got = b""
while len(got) < len(payload):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sys.stdout.buffer.write(got)
"#
    );
    let out = ns
        .command("python3")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .context("running the echo client")?;
    if !out.status.success() {
        bail!(
            "echo client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// `count` pings from the client to `target`, 50 ms apart, all answered; a failure panics
/// with the ping's output, the gateway's log and its counters.
pub fn assert_pings(bed: &GatewayBed, target: &str, count: u32) {
    let ping = bed
        .client
        .command("ping")
        .args(["-c", &count.to_string(), "-i", "0.05", "-W", "2", target])
        .output()
        .expect("ping runs");
    assert!(
        String::from_utf8_lossy(&ping.stdout).contains(" 0% packet loss"),
        "ping {target}: {}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        bed.gateway.last_child_output(),
        bed.stats()
            .map_or_else(|e| format!("{e:#}"), |s| s.to_string())
    );
}

/// UDP and TCP echoes of each length through the gateway come back byte for byte; a failure
/// panics with the gateway's log.
pub fn assert_echoes(bed: &GatewayBed, target: &str, port: u16, lengths: &[usize]) {
    for proto in ["udp", "tcp"] {
        for &len in lengths {
            let echoed = echo_through(&bed.client, proto, target, port, len).unwrap_or_else(|e| {
                panic!(
                    "{proto} echo of {len} bytes: {e:#}\n{}",
                    bed.gateway.last_child_output()
                )
            });
            assert_eq!(echoed, echo_payload(len), "{proto} echo of {len} bytes");
        }
    }
}

/// The bytes the echo client sends.
pub fn echo_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + 3) % 256) as u8).collect()
}

/// Sends SIGTERM to every process of the namespace started by the bed and waits for them.
pub fn terminate(child: &mut Child, limit: Duration) -> Result<std::process::ExitStatus> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            bail!("did not stop within {limit:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
