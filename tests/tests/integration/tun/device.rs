//! The TUN device: multi-queue where we create it, one queue on a persistent device made by
//! `--mktun` (as TAYGA makes it), and packets in both directions.

use nat64::tun::{self, InterfaceName};
use nat64_tests::{netns::Netns, privileges::require_root};

#[test]
fn queues_match_how_the_device_was_made() {
    let Some(_root) = require_root() else {
        return;
    };
    let ns = Netns::new("tun").expect("namespace");
    let (fresh, persistent) = ns
        .run_inside(|| {
            let fresh = {
                let name = InterfaceName::new("mq0").map_err(anyhow::Error::msg)?;
                let (queues, note) = tun::open_queues(&name, 3)?;
                (queues.len(), note)
            };
            let name = InterfaceName::new("nat64").map_err(anyhow::Error::msg)?;
            tun::make_persistent(&name, None, None)?;
            let persistent = {
                let (queues, note) = tun::open_queues(&name, 3)?;
                (queues.len(), note)
            };
            tun::remove_persistent(&name)?;
            Ok((fresh, persistent))
        })
        .expect("TUN operations");
    assert_eq!(fresh, (3, None));
    assert_eq!(persistent.0, 1);
    assert!(persistent
        .1
        .is_some_and(|note| note.contains("single-queue")));
    let links = ns.exec(&["ip", "link", "show"]).expect("ip link");
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains("nat64"),
        "--rmtun removed it"
    );
}

#[test]
fn packets_written_to_the_device_arrive_and_routed_packets_are_read() {
    let Some(_root) = require_root() else {
        return;
    };
    let ns = Netns::new("tunio").expect("namespace");
    let read = ns
        .run_inside(|| {
            let name = InterfaceName::new("t0").map_err(anyhow::Error::msg)?;
            let (queues, _) = tun::open_queues(&name, 1)?;
            let run = |args: &[&str]| std::process::Command::new("ip").args(args).status();
            run(&["link", "set", "t0", "up"])?;
            run(&["route", "add", "192.0.2.0/24", "dev", "t0"])?;
            // A datagram routed into the device is what the reader gets, IP header first
            // (after the device's own IPv6 chatter — MLD, router solicitations — skipped).
            let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
            socket.send_to(b"hello", "192.0.2.7:9")?;
            let mut buf = [0u8; 2048];
            let start = std::time::Instant::now();
            loop {
                match queues[0].read(&mut buf) {
                    Ok(_) if buf[0] >> 4 == 6 => continue,
                    Ok(len) => return Ok(buf[..len].to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        anyhow::ensure!(start.elapsed().as_secs() < 5, "nothing arrived");
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        })
        .expect("TUN read");
    assert_eq!(
        read[0], 0x45,
        "an IPv4 header at offset 0: no packet-information header"
    );
    assert_eq!(&read[16..20], &[192, 0, 2, 7]);
    assert!(read.ends_with(b"hello"));
}
