//! One-way latency of single packets through the gateway, sent from a packet socket on the
//! generator's veth and stamped by the kernel on arrival at the sink's: the first packet of
//! a new IPv6 host (the slow path installs its mapping) against its second (fast path).

use std::{net::Ipv6Addr, time::Duration};

use anyhow::{ensure, Result};

use crate::{
    frames::{UdpFrame, ETHERNET_LEN, UDP_LEN},
    packet_socket::{realtime_ns, PacketSocket, ETH_P_IP},
    testbed::{Testbed, SINK_VIA_PREFIX},
};

/// The gateway's `eth0` is 2001:db8:1::1/64; the hosts are 2001:db8:1::1000 onwards.
pub const FIRST_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1000);
const FRAME_LEN: usize = 80;
/// Marks the bench's datagrams among whatever else reaches the sink.
const MAGIC: [u8; 4] = *b"N64P";
/// A packet not at the sink by then counts as lost.
const PATIENCE: Duration = Duration::from_secs(1);

/// The latencies in milliseconds of each host's first and second packet.
#[derive(Debug, Default)]
pub struct Latencies {
    pub first: Vec<f64>,
    pub second: Vec<f64>,
    pub lost: usize,
}

pub struct Probe {
    sender: PacketSocket,
    capture: PacketSocket,
    source_mac: [u8; 6],
    destination_mac: [u8; 6],
    buffer: Vec<u8>,
}

impl Probe {
    /// Needs a bed whose sink passes frames to its stack (`SinkXdp::Pass`).
    pub fn new(bed: &Testbed) -> Result<Self> {
        let path = bed.through_gateway()?;
        let capture = PacketSocket::open(&bed.sink, "s0", ETH_P_IP)?;
        capture.timestamp_arrivals()?;
        Ok(Self {
            sender: PacketSocket::open(&bed.generator, path.interface, 0)?,
            capture,
            source_mac: path.source_mac,
            destination_mac: path.destination_mac,
            buffer: vec![0; 2048],
        })
    }

    /// From `hosts` new sources one after the other: the first packet, then once it arrived
    /// the second.
    pub fn measure(&mut self, hosts: u32) -> Result<Latencies> {
        let mut latencies = Latencies::default();
        for host in 0..hosts {
            let source = Ipv6Addr::from(u128::from(FIRST_HOST) + u128::from(host));
            for (number, into) in [(0, &mut latencies.first), (1, &mut latencies.second)] {
                match self.one_way(source, host, number)? {
                    Some(ms) => into.push(ms),
                    None => latencies.lost += 1,
                }
            }
        }
        ensure!(
            !latencies.first.is_empty() && !latencies.second.is_empty(),
            "nothing reached the sink ({} of {} packets lost)",
            latencies.lost,
            2 * hosts
        );
        Ok(latencies)
    }

    /// Milliseconds from the send call to the sink's receive stamp; `None` if lost.
    fn one_way(&mut self, source: Ipv6Addr, host: u32, number: u32) -> Result<Option<f64>> {
        let tag = tag(host, number);
        let frame = UdpFrame::with_payload(
            FRAME_LEN,
            self.source_mac,
            self.destination_mac,
            source,
            SINK_VIA_PREFIX,
            &tag,
        );
        let sent = realtime_ns();
        self.sender.send(&frame.bytes)?;
        loop {
            let waited = Duration::from_nanos((realtime_ns() - sent).max(0) as u64);
            let Some(left) = PATIENCE.checked_sub(waited) else {
                return Ok(None);
            };
            let Some(received) = self.capture.receive(&mut self.buffer, left)? else {
                return Ok(None);
            };
            if ipv4_udp_payload(&self.buffer[..received.len]).is_some_and(|p| p.starts_with(&tag)) {
                return Ok(Some((received.realtime_ns - sent) as f64 / 1e6));
            }
        }
    }
}

fn tag(host: u32, number: u32) -> [u8; 12] {
    let mut tag = [0u8; 12];
    tag[..4].copy_from_slice(&MAGIC);
    tag[4..8].copy_from_slice(&host.to_be_bytes());
    tag[8..].copy_from_slice(&number.to_be_bytes());
    tag
}

/// The UDP payload of an Ethernet/IPv4/UDP frame.
fn ipv4_udp_payload(frame: &[u8]) -> Option<&[u8]> {
    let ip = frame.get(ETHERNET_LEN..)?;
    if frame.get(12..14)? != [0x08, 0x00] || *ip.get(9)? != 17 {
        return None;
    }
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    ip.get(header_len + UDP_LEN..)
}

/// The `share` quantile (0..=1) of `values`, nearest rank.
pub fn quantile(values: &[f64], share: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 500.0);
        assert_eq!(quantile(&values, 0.99), 990.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
    }

    #[test]
    fn payload_of_a_translated_frame() {
        let mut frame = vec![0u8; 14 + 20 + 8 + 12];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x45;
        frame[14 + 9] = 17;
        frame[42..].copy_from_slice(&tag(7, 1));
        assert_eq!(ipv4_udp_payload(&frame), Some(&tag(7, 1)[..]));
        frame[14 + 9] = 6;
        assert_eq!(ipv4_udp_payload(&frame), None);
    }
}
