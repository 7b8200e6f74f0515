//! IPv6 → IPv4 (RFC 7915 §5) for TCP, UDP and ICMPv6 echo without extension headers.
use aya_ebpf::{helpers::bpf_get_prandom_u32, programs::TcContext};
use nat64_common::{checksum, counters::TcOutcome, maps::ConfigBlock};

use super::{
    csum::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP},
    lookup,
    packet::{self, be16},
    Verdict, ETH_P_IP,
};

/// RFC 7915 §5.1 as the userspace translator applies it: unfragmented IPv4 packets up to this
/// size leave with DF clear (and an Identification), larger ones with DF set and ID 0.
const DF_THRESHOLD: u32 = 1260;

const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;

#[inline(always)]
pub fn translate(ctx: &TcContext, cfg: &ConfigBlock) -> Verdict {
    let l3 = packet::l3_offset();
    let ip: [u8; 40] = packet::load(ctx, l3)?;
    if ip[0] >> 4 != 6 {
        return Err(TcOutcome::PassNotIp);
    }
    let payload_len = u32::from(be16([ip[4], ip[5]]));
    // Also refuses trailing bytes and BIG TCP (payload length 0): userspace trims and
    // decides those.
    if l3 as u32 + 40 + payload_len != ctx.len() {
        return Err(TcOutcome::PassTruncated);
    }
    let next_header = ip[6];
    let hop_limit = ip[7];
    let (l4_header_len, proto4) = match next_header {
        PROTO_TCP => (20, PROTO_TCP),
        PROTO_UDP => (8, PROTO_UDP),
        PROTO_ICMPV6 => (8, PROTO_ICMP),
        // Hop-by-hop, routing, fragment, destination options.
        0 | 43 | 44 | 60 => return Err(TcOutcome::PassExtensionHeader),
        _ => return Err(TcOutcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(TcOutcome::PassTruncated);
    }
    let src6: [u8; 16] = sub16(&ip, 8);
    let dst6: [u8; 16] = sub16(&ip, 24);
    if dst6 == cfg.ipv6_addr {
        return Err(TcOutcome::PassToTranslator);
    }
    let dst4 = lookup::remote_v6_to_v4(cfg, &dst6)?;
    let (src4, last_use) = lookup::host_v6_to_v4(cfg, &src6)?;
    if hop_limit <= 1 {
        return Err(TcOutcome::PassHopLimit);
    }

    let l4 = l3 + 40;
    let head: [u8; 8] = packet::load(ctx, l4)?;
    let mut icmp_type = 0;
    let mut tcp_header_len = 0;
    match next_header {
        PROTO_UDP if be16([head[6], head[7]]) == 0 => {
            return Err(TcOutcome::PassUdpZeroChecksum);
        }
        PROTO_TCP => {
            let offset: [u8; 1] = packet::load(ctx, l4 + 12)?;
            tcp_header_len = u32::from(offset[0] >> 4) * 4;
        }
        PROTO_ICMPV6 => {
            icmp_type = match head[0] {
                ICMPV6_ECHO_REQUEST => ICMP_ECHO_REQUEST,
                ICMPV6_ECHO_REPLY => ICMP_ECHO_REPLY,
                _ => return Err(TcOutcome::PassIcmpNotEcho),
            };
        }
        _ => {}
    }
    let total_len = 20 + payload_len;
    let segment_len = packet::wire_len(ctx, total_len, 20, tcp_header_len.max(8));
    if segment_len > u32::from(cfg.ipv4_mtu) {
        return Err(TcOutcome::PassTooBig);
    }

    let traffic_class = (ip[0] << 4) | (ip[1] >> 4);
    let header = ipv4_header(traffic_class, total_len, hop_limit - 1, proto4, src4, dst4);

    // Checksum deltas are computed before the packet changes, from the addresses on the stack.
    let delta = if next_header == PROTO_ICMPV6 {
        // Out: the IPv6 pseudo-header and the old type; in: the new type.
        let mut from = [0u8; 44];
        from[..16].copy_from_slice(&src6);
        from[16..32].copy_from_slice(&dst6);
        from[32..36].copy_from_slice(&payload_len.to_be_bytes());
        from[39] = PROTO_ICMPV6;
        from[40] = head[0];
        from[41] = head[1];
        csum::diff(&from, &[icmp_type, head[1], 0, 0])?
    } else {
        let mut to = [0u8; 8];
        to[..4].copy_from_slice(&src4);
        to[4..].copy_from_slice(&dst4);
        csum::diff(&addresses(&src6, &dst6), &to)?
    };

    ctx.change_proto(ETH_P_IP.to_be(), 0)
        .map_err(|_| TcOutcome::PassChangeProtoFailed)?;
    packet::store(ctx, l3, &header)?;
    let l4 = l3 + 20;
    let outcome = if next_header == PROTO_ICMPV6 {
        packet::store(ctx, l4, &[icmp_type])?;
        csum::replace_icmp(ctx, l4, delta)?;
        TcOutcome::TranslatedV6ToV4Icmp
    } else {
        csum::replace_pseudo(ctx, l4, next_header, delta)?;
        if next_header == PROTO_TCP {
            TcOutcome::TranslatedV6ToV4Tcp
        } else {
            TcOutcome::TranslatedV6ToV4Udp
        }
    };
    last_use.stamp();
    Ok(outcome)
}

#[inline(always)]
fn sub16(b: &[u8; 40], at: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&b[at..at + 16]);
    out
}

#[inline(always)]
fn addresses(src: &[u8; 16], dst: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(src);
    out[16..].copy_from_slice(dst);
    out
}

/// The IPv4 header, checksum included; Identification and DF as the userspace translator
/// sets them (its counter becomes a random number here: any unique-enough value will do).
#[inline(always)]
fn ipv4_header(
    tos: u8,
    total_len: u32,
    ttl: u8,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
) -> [u8; 20] {
    let (id, flags) = if total_len > DF_THRESHOLD {
        (0u16, 0x40u8)
    } else {
        (unsafe { bpf_get_prandom_u32() } as u16, 0)
    };
    let len = (total_len as u16).to_be_bytes();
    let id = id.to_be_bytes();
    let mut h = [
        0x45, tos, len[0], len[1], id[0], id[1], flags, 0, ttl, proto, 0, 0, src[0], src[1],
        src[2], src[3], dst[0], dst[1], dst[2], dst[3],
    ];
    let c = checksum::finish(checksum::sum_array(&h, 0)).to_be_bytes();
    h[10] = c[0];
    h[11] = c[1];
    h
}
