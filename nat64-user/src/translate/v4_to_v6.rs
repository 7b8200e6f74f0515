//! IPv4 → IPv6 (RFC 7915 §4): the outer packet.

use nat64_common::checksum;
use nat64_common::counters::DropReason;
use nat64_common::icmp_tables::{self, IcmpAction};

use super::addr_map::Role;
use super::config::UdpChecksumMode;
use super::wire::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP, UDP_CHECKSUM};
use super::{
    fragment, icmp_error, originate, own_address, transport, DynamicMap, Output, Translator,
    Verdict,
};

/// Upper bound on IPv4 options walked (40 bytes of options, at least 1 byte each).
const MAX_OPTIONS: usize = 40;

pub(crate) fn translate<M: DynamicMap>(
    tr: &Translator,
    pkt: &[u8],
    map: &mut M,
    out: &mut Output,
) -> Verdict {
    if pkt.len() < 20 {
        return Verdict::Drop(DropReason::Truncated);
    }
    let Some(h) = wire::parse_v4(pkt) else {
        return Verdict::Drop(DropReason::BadIpHeader);
    };
    let Some(pkt) = pkt.get(..usize::from(h.total_len)) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    let Some(header) = pkt.get(..h.header_len) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if checksum::fold(checksum::sum(header, 0)) != 0xffff {
        return Verdict::Drop(DropReason::BadIpv4Checksum);
    }
    if h.dst == tr.cfg.ipv4_addr.octets() {
        return own_address::answer_v4(tr, pkt, &h, out);
    }
    let payload = pkt.get(h.header_len..).unwrap_or(&[]);
    let first_fragment = h.frag.offset == 0;
    let icmp_type = if h.proto == PROTO_ICMP && first_fragment {
        wire::u8_at(payload, 0)
    } else {
        None
    };
    let is_icmp_error = icmp_type.is_some_and(|t| matches!(t, 3 | 4 | 5 | 11 | 12));

    let dst6 = match tr
        .addrs
        .v4_to_v6(h.dst, map, Role::Host { allocate: false })
    {
        Ok(a) => a,
        // TAYGA: an IPv4 host sending to an address nobody holds (a free pool address, an
        // idle mapping) learns that the host is unreachable.
        Err(e) if e.as_destination() == DropReason::NoDestinationMapping && !is_icmp_error => {
            return originate::icmp4_error(
                tr,
                pkt,
                3,
                1,
                [0; 4],
                DropReason::NoDestinationMapping,
                out,
            );
        }
        Err(e) => return Verdict::Drop(e.as_destination()),
    };
    let src6 = match tr.addrs.v4_to_v6(h.src, map, Role::Remote) {
        Ok(a) => a,
        Err(_) if is_icmp_error => match tr.cfg.rfc6791_v6 {
            Some(a) => a.octets(),
            None => return Verdict::Drop(DropReason::NoErrorSource),
        },
        Err(e) => return Verdict::Drop(e.as_source()),
    };

    let error_back = |ty: u8, code: u8, rest: [u8; 4], reason: DropReason, out: &mut Output| {
        if is_icmp_error {
            Verdict::Drop(reason)
        } else {
            originate::icmp4_error(tr, pkt, ty, code, rest, reason, out)
        }
    };

    match unexpired_source_route(header.get(20..).unwrap_or(&[])) {
        // RFC 7915 §4.1: Destination Unreachable, Source Route Failed.
        Some(true) => return error_back(3, 5, [0; 4], DropReason::Ipv4Options, out),
        Some(false) => {}
        None => return Verdict::Drop(DropReason::BadIpHeader),
    }
    if h.ttl <= 1 {
        return error_back(11, 0, [0; 4], DropReason::HopLimitExceeded, out);
    }
    if h.proto == PROTO_ICMPV6 {
        return Verdict::Drop(DropReason::UnsupportedProtocol);
    }
    let proto6 = if h.proto == PROTO_ICMP {
        PROTO_ICMPV6
    } else {
        h.proto
    };

    let mut compute_udp_checksum = false;
    if h.proto == PROTO_UDP && first_fragment && wire::u16_at(payload, UDP_CHECKSUM) == Some(0) {
        match tr.cfg.udp_checksum_mode {
            UdpChecksumMode::Forward => {}
            // A fragment's checksum would need the whole datagram.
            UdpChecksumMode::Calculate if !h.frag.is_fragmented() => compute_udp_checksum = true,
            UdpChecksumMode::Calculate | UdpChecksumMode::Drop => {
                return error_back(3, 13, [0; 4], DropReason::UdpZeroChecksum, out)
            }
        }
    }

    let fragmented = h.frag.is_fragmented();
    let out_len = 40 + if fragmented { 8 } else { 0 } + payload.len();
    let mut split_at = None;
    if !is_icmp_error {
        if h.dont_fragment && out_len > usize::from(tr.cfg.ipv6_mtu) {
            let mtu = tr.cfg.ipv6_mtu.saturating_sub(20).to_be_bytes();
            return error_back(3, 4, [0, 0, mtu[0], mtu[1]], DropReason::PacketTooBig, out);
        }
        let limit = usize::from(tr.cfg.lowest_ipv6_mtu.min(tr.cfg.ipv6_mtu));
        if !h.dont_fragment && out_len > limit {
            split_at = Some(limit);
        }
    }

    let start = out.buf.len();
    let hop_limit = h.ttl - 1;
    if fragmented || split_at.is_some() {
        wire::write_v6_header(
            &mut out.buf,
            h.tos,
            0,
            wire::NH_FRAGMENT,
            hop_limit,
            &src6,
            &dst6,
        );
        wire::write_fragment_header(&mut out.buf, proto6, h.frag.offset, h.frag.more, h.frag.id);
    } else {
        wire::write_v6_header(&mut out.buf, h.tos, 0, proto6, hop_limit, &src6, &dst6);
    }
    let l4_start = out.buf.len();

    if first_fragment {
        let result = translate_l4(
            tr,
            &h,
            payload,
            &src6,
            &dst6,
            compute_udp_checksum,
            map,
            out,
        );
        if let Err(reason) = result {
            out.abandon_packet();
            return Verdict::Drop(reason);
        }
    } else {
        out.buf.extend_from_slice(payload);
    }

    let payload_len = out.buf.len() - start - 40;
    if payload_len > 0xffff {
        out.abandon_packet();
        return Verdict::Drop(DropReason::TooLarge);
    }
    if let Some(header) = out.buf.get_mut(start..l4_start) {
        wire::set_u16(header, 4, payload_len as u16);
    }
    match split_at {
        Some(limit) => fragment::split_v6(out, limit),
        None => out.end_packet(),
    }
    Verdict::Translated
}

/// Appends the translated upper-layer part of a first (or only) fragment.
#[allow(clippy::too_many_arguments)]
fn translate_l4<M: DynamicMap>(
    tr: &Translator,
    h: &wire::V4Header,
    payload: &[u8],
    src6: &[u8; 16],
    dst6: &[u8; 16],
    compute_udp_checksum: bool,
    map: &mut M,
    out: &mut Output,
) -> Result<(), DropReason> {
    if h.proto != PROTO_ICMP {
        let at = out.buf.len();
        out.buf.extend_from_slice(payload);
        let l4 = out.buf.get_mut(at..).unwrap_or(&mut []);
        if compute_udp_checksum {
            let pseudo = checksum::pseudo_header_v6(src6, dst6, PROTO_UDP, l4.len() as u32);
            let mut c = checksum::finish(checksum::sum(l4, pseudo));
            if c == 0 {
                c = 0xffff;
            }
            wire::set_u16(l4, UDP_CHECKSUM, c);
            return Ok(());
        }
        let removed = transport::address_sum(&h.src, &h.dst);
        if !transport::adjust_tcp_udp(h.proto, l4, removed, transport::address_sum(src6, dst6)) {
            return Err(DropReason::Truncated);
        }
        return Ok(());
    }

    // ICMPv4: its checksum covers the whole message, so a fragment cannot be fixed up.
    if h.frag.is_fragmented() {
        return Err(DropReason::FragmentedIcmp);
    }
    if payload.len() < 8 {
        return Err(DropReason::Truncated);
    }
    let ty = wire::u8_at(payload, 0).unwrap_or(0);
    let code = wire::u8_at(payload, 1).unwrap_or(0);
    let action = icmp_tables::icmp4_to_icmp6(ty, code);
    match action {
        IcmpAction::Drop => Err(DropReason::UntranslatableIcmp),
        IcmpAction::Informational { .. } => {
            let at = out.buf.len();
            out.buf.extend_from_slice(payload);
            let icmp = out.buf.get_mut(at..).unwrap_or(&mut []);
            let pseudo = checksum::pseudo_header_v6(src6, dst6, PROTO_ICMPV6, payload.len() as u32);
            transport::rewrite_informational(icmp, action, 0, pseudo);
            Ok(())
        }
        _ => {
            // Errors are recomputed from scratch, so their checksum must be right to begin with.
            if checksum::fold(checksum::sum(payload, 0)) != 0xffff {
                return Err(DropReason::BadIcmpChecksum);
            }
            icmp_error::icmp4_to_icmp6(tr, action, payload, src6, dst6, map, out)
        }
    }
}

/// Whether the IPv4 options hold a source route that still has hops to visit
/// (`None`: the options are malformed).
fn unexpired_source_route(options: &[u8]) -> Option<bool> {
    let mut i = 0;
    for _ in 0..MAX_OPTIONS {
        let Some(&kind) = options.get(i) else {
            return Some(false);
        };
        match kind {
            0 => return Some(false),
            1 => i += 1,
            _ => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                // Loose (0x83) and strict (0x89) source routes: the pointer (1-based) is past
                // the length once every hop was visited.
                if matches!(kind, 0x83 | 0x89) && usize::from(*options.get(i + 2)?) <= len {
                    return Some(true);
                }
                i += len;
            }
        }
    }
    Some(false)
}
