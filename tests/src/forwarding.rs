//! A packet as a router sends it on, and the few fields of a packet the end-to-end
//! comparisons read: what a gateway's forwarding changes after the translator wrote a packet,
//! and nothing else.

use std::net::IpAddr;

use nat64_common::checksum;

/// `packet` (from its IP header on) as the kernel forwards it: the IPv4 TTL or the IPv6 hop
/// limit one less, and the IPv4 header checksum that follows. `Err` when it would expire at
/// the router or is not IP.
pub fn forwarded(packet: &[u8]) -> Result<Vec<u8>, String> {
    let mut packet = packet.to_vec();
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            if packet[8] <= 1 {
                return Err("TTL expires at the router".into());
            }
            packet[8] -= 1;
            let ihl = ipv4_header_len(&packet);
            packet[10..12].fill(0);
            let sum = checksum::finish(checksum::sum(&packet[..ihl], 0));
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Some(6) if packet.len() >= 40 => {
            if packet[7] <= 1 {
                return Err("hop limit expires at the router".into());
            }
            packet[7] -= 1;
        }
        _ => return Err(format!("not an IP packet ({} bytes)", packet.len())),
    }
    Ok(packet)
}

/// A packet's destination address.
pub fn destination(packet: &[u8]) -> Option<IpAddr> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let d: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            Some(IpAddr::V4(d.into()))
        }
        Some(6) => {
            let d: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            Some(IpAddr::V6(d.into()))
        }
        _ => None,
    }
}

/// The IP packet in a frame's payload without link padding: as long as its header says,
/// when the payload holds that much.
pub fn without_padding(payload: &[u8]) -> &[u8] {
    let len = match payload.first().map(|b| b >> 4) {
        Some(4) if payload.len() >= 4 => usize::from(u16::from_be_bytes([payload[2], payload[3]])),
        Some(6) if payload.len() >= 6 => {
            40 + usize::from(u16::from_be_bytes([payload[4], payload[5]]))
        }
        _ => payload.len(),
    };
    payload.get(..len).unwrap_or(payload)
}

/// Whether an IPv4 packet's header checksum is right (true for anything else).
pub fn ipv4_header_checksum_ok(packet: &[u8]) -> bool {
    let is_ipv4 = packet.first().is_some_and(|b| b >> 4 == 4) && packet.len() >= 20;
    if !is_ipv4 {
        return true;
    }
    checksum::finish(checksum::sum(&packet[..ipv4_header_len(packet)], 0)) == 0
}

/// The IPv4 header's length, within the packet.
fn ipv4_header_len(packet: &[u8]) -> usize {
    (usize::from(packet[0] & 0x0f) * 4).clamp(20, packet.len())
}
