//! A packet of a session stateful NAT64 holds, either way: from its IPv6 host to the remote
//! behind the prefix, or from the remote to its pool4 address and port. Mostly what the
//! kernel translates by itself (UDP, echoes, TCP without SYN, FIN or RST), sometimes what it
//! must leave to userspace (TCP control, the last hop, a wrong checksum, a mutation).

use nat64::stateful::tcp::TcpState;
use nat64::stateful::SessionInfo;
use nat64::translate::Prefix;
use nat64_common::wire::tcp::flags::{CWR, FIN, PSH, RST, SYN};
use rand::{rngs::StdRng, Rng};

use super::l4::{Upper, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use super::mutate::{mutate, repair_packet};
use super::{chance, pick, random_bytes, Fill};
use crate::inet;

/// ACK, which `nat64_common::wire::tcp::flags` has no name for.
const ACK: u8 = 0x10;

/// The longest payload drawn: the packet fits a 1500-byte link either way.
const MAX_PAYLOAD: usize = 1400;

/// A packet of session `s`, whose remote the prefix `prefix` embeds on the IPv6 side.
pub fn continuation(rng: &mut StdRng, s: &SessionInfo, prefix: &Prefix) -> Vec<u8> {
    let from_v6 = chance(rng, 0.5);
    let mut p = packet(rng, s, prefix, from_v6);
    if chance(rng, 0.08) {
        let donor = packet(rng, s, prefix, !from_v6);
        mutate(rng, &mut p, &donor);
        if chance(rng, 0.6) {
            repair_packet(&mut p);
        }
    }
    p
}

fn packet(rng: &mut StdRng, s: &SessionInfo, prefix: &Prefix, from_v6: bool) -> Vec<u8> {
    let longest = if chance(rng, 0.3) { 64 } else { MAX_PAYLOAD };
    let len = rng.gen_range(0..=longest);
    let payload = random_bytes(rng, len);
    // The ports as the packet carries them: the host's and the remote's on the IPv6 side,
    // the remote's and pool4's on the IPv4 side.
    let (src_port, dst_port) = if from_v6 {
        (s.port6, s.remote_port)
    } else {
        (s.remote_port, s.port4)
    };
    let mut upper = match s.protocol.as_str() {
        "tcp" => tcp(rng, s.tcp_state, src_port, dst_port, payload),
        "udp" => udp(src_port, dst_port, payload),
        _ => echo(
            rng,
            from_v6,
            if from_v6 { s.port6 } else { s.port4 },
            payload,
        ),
    };
    upper.fill = match rng.gen_range(0..100) {
        0..=4 => Fill::Wrong,
        5..=7 if upper.proto == PROTO_UDP => Fill::Zero,
        _ => Fill::Right,
    };
    let last_hop = chance(rng, 0.04);
    if from_v6 {
        let (src, dst) = (s.v6.octets(), prefix.embed(s.remote.octets()));
        upper.finish(inet::pseudo_v6(&src, &dst, upper.proto, upper.bytes.len()));
        ipv6(rng, src, dst, last_hop, upper)
    } else {
        let (src, dst) = (s.remote.octets(), s.v4.octets());
        upper.finish(inet::pseudo_v4(&src, &dst, upper.proto, upper.bytes.len()));
        ipv4(rng, src, dst, last_hop, upper)
    }
}

/// A segment of the session: mostly ACK (PSH, URG, ECN flags now and then); SYN, FIN or RST
/// sometimes, and often while the handshake is still under way.
fn tcp(
    rng: &mut StdRng,
    state: Option<TcpState>,
    src_port: u16,
    dst_port: u16,
    payload: Vec<u8>,
) -> Upper {
    let settled = matches!(
        state,
        Some(TcpState::Established | TcpState::V6FinRcv | TcpState::V4FinRcv)
    );
    let flags = if !settled && chance(rng, 0.4) {
        SYN | ACK
    } else if chance(rng, if settled { 0.06 } else { 0.3 }) {
        pick(
            rng,
            &[SYN, SYN | ACK, FIN | ACK, FIN | PSH | ACK, RST, RST | ACK],
        )
    } else {
        // URG and ECE now and then, as they come.
        ACK | pick(rng, &[0, 0, PSH, PSH, 0x20, 0x40, CWR])
    };
    let options = if chance(rng, 0.15) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let mut b = Vec::with_capacity(20 + options + payload.len());
    b.extend_from_slice(&src_port.to_be_bytes());
    b.extend_from_slice(&dst_port.to_be_bytes());
    b.extend(random_bytes(rng, 8)); // sequence and acknowledgment numbers
    b.push((((20 + options) / 4) as u8) << 4);
    b.push(flags);
    b.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    b.extend(random_bytes(rng, options));
    b.extend(payload);
    Upper::new(PROTO_TCP, b, Some(16), Fill::Right)
}

fn udp(src_port: u16, dst_port: u16, payload: Vec<u8>) -> Upper {
    let mut b = Vec::with_capacity(8 + payload.len());
    b.extend_from_slice(&src_port.to_be_bytes());
    b.extend_from_slice(&dst_port.to_be_bytes());
    b.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend(payload);
    Upper::new(PROTO_UDP, b, Some(6), Fill::Right)
}

/// An echo with the session's identifier: mostly a request from the IPv6 host and a reply
/// from the remote, sometimes the other way round.
fn echo(rng: &mut StdRng, from_v6: bool, id: u16, payload: Vec<u8>) -> Upper {
    let usual = chance(rng, 0.8);
    let request = if from_v6 { usual } else { !usual };
    let (proto, ty) = match (from_v6, request) {
        (true, true) => (PROTO_ICMPV6, 128),
        (true, false) => (PROTO_ICMPV6, 129),
        (false, true) => (PROTO_ICMP, 8),
        (false, false) => (PROTO_ICMP, 0),
    };
    let mut b = vec![ty, 0, 0, 0];
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    b.extend(payload);
    Upper::new(proto, b, Some(2), Fill::Right)
}

fn ipv6(rng: &mut StdRng, src: [u8; 16], dst: [u8; 16], last_hop: bool, upper: Upper) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + upper.bytes.len());
    let class_and_flow: u32 = if chance(rng, 0.2) { rng.gen() } else { 0 };
    p.extend_from_slice(&((6 << 28) | (class_and_flow & 0x0fff_ffff)).to_be_bytes());
    p.extend_from_slice(&(upper.bytes.len() as u16).to_be_bytes());
    p.push(upper.proto);
    p.push(if last_hop { 1 } else { 64 });
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend(upper.bytes);
    p
}

/// An IPv4 header without options: DF mostly set, the header checksum right.
fn ipv4(rng: &mut StdRng, src: [u8; 4], dst: [u8; 4], last_hop: bool, upper: Upper) -> Vec<u8> {
    let tos: u8 = if chance(rng, 0.1) { rng.gen() } else { 0 };
    let df: u8 = if chance(rng, 0.7) { 0x40 } else { 0 };
    let mut p = vec![0x45, tos];
    p.extend_from_slice(&((20 + upper.bytes.len()) as u16).to_be_bytes());
    p.extend_from_slice(&rng.gen::<u16>().to_be_bytes());
    p.extend_from_slice(&[df, 0, if last_hop { 1 } else { 64 }, upper.proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = inet::checksum(&p, 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend(upper.bytes);
    p
}
