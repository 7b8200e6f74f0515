//! IPv4 → IPv6 (RFC 7915 §4) for TCP, UDP with a checksum and ICMPv4 echo, unfragmented and
//! without options.
use aya_ebpf::programs::TcContext;
use nat64_common::{checksum, counters::TcOutcome, maps::ConfigBlock};

use super::{
    csum::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP},
    lookup,
    packet::{self, be16},
    Verdict, ETH_P_IPV6,
};

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAGMENT_OFFSET: u16 = 0x1fff;

#[inline(always)]
pub fn translate(ctx: &TcContext, cfg: &ConfigBlock) -> Verdict {
    let l3 = packet::l3_offset();
    let ip: [u8; 20] = packet::load(ctx, l3)?;
    if ip[0] >> 4 != 4 {
        return Err(TcOutcome::PassNotIp);
    }
    match ip[0] & 0x0f {
        5 => {}
        0..=4 => return Err(TcOutcome::PassBadIpv4Header),
        _ => return Err(TcOutcome::PassIpv4Options),
    }
    let total_len = u32::from(be16([ip[2], ip[3]]));
    if total_len < 20 {
        return Err(TcOutcome::PassBadIpv4Header);
    }
    if l3 as u32 + total_len != ctx.len() {
        return Err(TcOutcome::PassTruncated);
    }
    if checksum::fold(checksum::sum_array(&ip, 0)) != 0xffff {
        return Err(TcOutcome::PassBadIpv4Header);
    }
    let flags = be16([ip[6], ip[7]]);
    if flags & (FLAG_MF | FRAGMENT_OFFSET) != 0 {
        return Err(TcOutcome::PassFragment);
    }
    let dont_fragment = flags & FLAG_DF != 0;
    let ttl = ip[8];
    let proto = ip[9];
    let payload_len = total_len - 20;
    let (l4_header_len, proto6) = match proto {
        PROTO_TCP => (20, PROTO_TCP),
        PROTO_UDP => (8, PROTO_UDP),
        PROTO_ICMP => (8, PROTO_ICMPV6),
        _ => return Err(TcOutcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(TcOutcome::PassTruncated);
    }
    let src4 = [ip[12], ip[13], ip[14], ip[15]];
    let dst4 = [ip[16], ip[17], ip[18], ip[19]];
    if dst4 == cfg.ipv4_addr {
        return Err(TcOutcome::PassToTranslator);
    }
    let (dst6, last_use) = lookup::host_v4_to_v6(cfg, dst4)?;
    let src6 = lookup::remote_v4_to_v6(cfg, src4)?;
    if ttl <= 1 {
        return Err(TcOutcome::PassHopLimit);
    }

    let l4 = l3 + 20;
    let head: [u8; 8] = packet::load(ctx, l4)?;
    let mut icmp_type = 0;
    let mut tcp_header_len = 0;
    match proto {
        PROTO_UDP if be16([head[6], head[7]]) == 0 => {
            return Err(TcOutcome::PassUdpZeroChecksum);
        }
        PROTO_TCP => {
            let offset: [u8; 1] = packet::load(ctx, l4 + 12)?;
            tcp_header_len = u32::from(offset[0] >> 4) * 4;
        }
        PROTO_ICMP => {
            icmp_type = match head[0] {
                ICMP_ECHO_REQUEST => ICMPV6_ECHO_REQUEST,
                ICMP_ECHO_REPLY => ICMPV6_ECHO_REPLY,
                _ => return Err(TcOutcome::PassIcmpNotEcho),
            };
        }
        _ => {}
    }
    // Userspace answers Fragmentation Needed (DF) or fragments (no DF) beyond these.
    let out_len = packet::wire_len(ctx, 40 + payload_len, 40, tcp_header_len.max(8));
    let limit = if dont_fragment {
        cfg.ipv6_mtu
    } else {
        cfg.ipv6_mtu.min(cfg.lowest_ipv6_mtu)
    };
    if out_len > u32::from(limit) {
        return Err(TcOutcome::PassTooBig);
    }

    let header = ipv6_header(ip[1], payload_len as u16, proto6, ttl - 1, &src6, &dst6);

    let delta = if proto == PROTO_ICMP {
        // Out: the old type; in: the IPv6 pseudo-header and the new type.
        let mut to = [0u8; 44];
        to[..32].copy_from_slice(&header[8..40]);
        to[32..36].copy_from_slice(&payload_len.to_be_bytes());
        to[39] = PROTO_ICMPV6;
        to[40] = icmp_type;
        to[41] = head[1];
        csum::diff(&[head[0], head[1], 0, 0], &to)?
    } else {
        let mut from = [0u8; 8];
        from[..4].copy_from_slice(&src4);
        from[4..].copy_from_slice(&dst4);
        let mut to = [0u8; 32];
        to.copy_from_slice(&header[8..40]);
        csum::diff(&from, &to)?
    };

    ctx.change_proto(ETH_P_IPV6.to_be(), 0)
        .map_err(|_| TcOutcome::PassChangeProtoFailed)?;
    packet::store(ctx, l3, &header)?;
    let l4 = l3 + 40;
    let outcome = if proto == PROTO_ICMP {
        packet::store(ctx, l4, &[icmp_type])?;
        csum::replace_icmp(ctx, l4, delta)?;
        TcOutcome::TranslatedV4ToV6Icmp
    } else {
        csum::replace_pseudo(ctx, l4, proto, delta)?;
        if proto == PROTO_TCP {
            TcOutcome::TranslatedV4ToV6Tcp
        } else {
            TcOutcome::TranslatedV4ToV6Udp
        }
    };
    last_use.stamp();
    Ok(outcome)
}

/// The IPv6 header: traffic class from the TOS, flow label zero (RFC 7915 §4.1).
#[inline(always)]
fn ipv6_header(
    tos: u8,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: &[u8; 16],
    dst: &[u8; 16],
) -> [u8; 40] {
    let mut h = [0u8; 40];
    h[0] = 0x60 | (tos >> 4);
    h[1] = tos << 4;
    let len = payload_len.to_be_bytes();
    h[4] = len[0];
    h[5] = len[1];
    h[6] = next_header;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(src);
    h[24..40].copy_from_slice(dst);
    h
}
