//! IPv4 → IPv6 (RFC 7915 §4): the outer packet.

use nat64_common::address_policy;
use nat64_common::checksum;
use nat64_common::counters::DropReason;
use nat64_common::icmp_tables::{self, IcmpAction};
use nat64_common::wire::{
    icmp,
    ipv6::{self, Ipv6},
    l4, proto,
};

use super::addr_map::End;
use super::config::UdpChecksumMode;
use super::wire;
use super::{
    fragment, icmp_error, originate, own_address, transport, DynamicMap, Output, Translator,
    Verdict,
};

/// Upper bound on IPv4 options walked (40 bytes of options, at least 1 byte each).
const MAX_OPTIONS: usize = 40;

/// What TAYGA checks before it looks at an IPv4 packet's addresses (`parse_ip4`,
/// `handle_ip4`): a header that adds up, addresses that may be translated at all, a length
/// the packet holds, fragments that can belong to a datagram, and a right ICMP checksum.
fn check(pkt: &[u8]) -> Result<wire::V4Header, DropReason> {
    if pkt.len() < 20 {
        return Err(DropReason::Truncated);
    }
    let h = wire::parse_v4(pkt).ok_or(DropReason::BadIpHeader)?;
    if !address_policy::v4_translatable(h.src) || !address_policy::v4_translatable(h.dst) {
        return Err(DropReason::SpecialAddress);
    }
    let pkt = pkt
        .get(..usize::from(h.total_len))
        .ok_or(DropReason::Truncated)?;
    let header = pkt.get(..h.header_len).ok_or(DropReason::Truncated)?;
    if checksum::fold(checksum::sum(header, 0)) != 0xffff {
        return Err(DropReason::BadIpv4Checksum);
    }
    if h.ttl == 0 {
        return Err(DropReason::HopLimitExceeded);
    }
    let payload = pkt.get(h.header_len..).unwrap_or(&[]);
    if h.proto == proto::ICMP {
        if h.frag.is_fragmented() {
            return Err(DropReason::FragmentedIcmp);
        }
        if payload.len() < 8 {
            return Err(DropReason::Truncated);
        }
        // The checksum of everything ICMP is verified: what is translated incrementally would
        // otherwise carry a wrong one on, and errors are rebuilt from what they quote.
        if checksum::fold(checksum::sum(payload, 0)) != 0xffff {
            return Err(DropReason::BadIcmpChecksum);
        }
    } else if proto::IPV6_ONLY.contains(&h.proto) {
        return Err(DropReason::UnsupportedProtocol);
    } else if (h.frag.more && payload.len() % 8 != 0)
        || usize::from(h.frag.offset) * 8 + payload.len()
            > nat64_common::wire::fragment::MAX_DATAGRAM
    {
        return Err(DropReason::BadFragment);
    }
    Ok(h)
}

pub(crate) fn translate<M: DynamicMap>(
    tr: &Translator,
    pkt: &[u8],
    map: &mut M,
    out: &mut Output,
) -> Verdict {
    let h = match check(pkt) {
        Ok(h) => h,
        Err(reason) => return Verdict::Drop(reason),
    };
    let Some(pkt) = pkt.get(..usize::from(h.total_len)) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if h.dst == tr.cfg.ipv4_addr.octets() {
        return own_address::answer_v4(tr, pkt, &h, out);
    }
    if h.ttl == 1 {
        return originate::icmp4_error(tr, pkt, 11, 0, [0; 4], DropReason::HopLimitExceeded, out);
    }
    let payload = pkt.get(h.header_len..).unwrap_or(&[]);
    let first_fragment = h.frag.offset == 0;
    let icmp_type = if h.proto == proto::ICMP {
        wire::u8_at(payload, 0)
    } else {
        None
    };
    let is_icmp_error =
        icmp_type.is_some_and(|t| !matches!(t, icmp::v4::ECHO_REPLY | icmp::v4::ECHO_REQUEST));

    let dst6 = match tr.addrs.v4_to_v6(h.dst, map, End::Destination) {
        Ok(a) => a,
        Err(r) if r.answer && !is_icmp_error => {
            return originate::icmp4_error(tr, pkt, 3, 1, [0; 4], r.reason, out);
        }
        Err(r) => return Verdict::Drop(r.reason),
    };
    let src6 = match tr.addrs.v4_to_v6(h.src, map, End::Source) {
        Ok(a) => a,
        // RFC 6791: an ICMPv4 error from a router with no IPv6 form still has to reach the
        // IPv6 host, from a stand-in address.
        Err(_) if is_icmp_error => match tr.cfg.rfc6791_v6 {
            Some(a) => a.octets(),
            None => return Verdict::Drop(DropReason::NoErrorSource),
        },
        Err(r) if r.answer => {
            return originate::icmp4_error(tr, pkt, 3, 10, [0; 4], r.reason, out);
        }
        Err(r) => return Verdict::Drop(r.reason),
    };

    let options = pkt.get(20..h.header_len).unwrap_or(&[]);
    match unexpired_source_route(options) {
        // RFC 7915 §4.1: not translated; Destination Unreachable, Source Route Failed.
        Some(true) if is_icmp_error => return Verdict::Drop(DropReason::Ipv4Options),
        Some(true) => {
            return originate::icmp4_error(tr, pkt, 3, 5, [0; 4], DropReason::Ipv4Options, out)
        }
        Some(false) => {}
        None => return Verdict::Drop(DropReason::BadIpHeader),
    }
    let proto6 = if h.proto == proto::ICMP {
        proto::ICMPV6
    } else {
        h.proto
    };

    let mut compute_udp_checksum = false;
    if h.proto == proto::UDP
        && first_fragment
        && wire::u16_at(payload, l4::checksum_offset(proto::UDP)) == Some(0)
    {
        match tr.cfg.udp_checksum_mode {
            UdpChecksumMode::Forward => {}
            // A fragment's checksum would need the whole datagram.
            UdpChecksumMode::Calculate if !h.frag.is_fragmented() => compute_udp_checksum = true,
            UdpChecksumMode::Calculate | UdpChecksumMode::Drop => {
                return Verdict::Drop(DropReason::UdpZeroChecksum)
            }
        }
    }

    let fragmented = h.frag.is_fragmented();
    let out_len = 40 + if fragmented { 8 } else { 0 } + payload.len();
    let mut split_at = None;
    if !is_icmp_error {
        // RFC 7915 §4: DF on a fragment is not honoured; its IPv6 form needs 8 more bytes
        // than the sender allowed for.
        if h.dont_fragment && !fragmented && out_len > usize::from(tr.cfg.ipv6_mtu) {
            let mtu = tr.cfg.ipv6_mtu.saturating_sub(20).to_be_bytes();
            return originate::icmp4_error(
                tr,
                pkt,
                3,
                4,
                [0, 0, mtu[0], mtu[1]],
                DropReason::PacketTooBig,
                out,
            );
        }
        let limit = usize::from(tr.cfg.lowest_ipv6_mtu.min(tr.cfg.ipv6_mtu));
        if (fragmented || !h.dont_fragment) && out_len > limit {
            split_at = Some(limit);
        }
    }

    let start = out.buf.len();
    let hop_limit = h.ttl - 1;
    if fragmented || split_at.is_some() {
        out.buf
            .extend_from_slice(&Ipv6::build(h.tos, 0, proto::FRAGMENT, hop_limit, &src6, &dst6).0);
        wire::write_fragment_header(&mut out.buf, proto6, h.frag.offset, h.frag.more, h.frag.id);
    } else {
        out.buf
            .extend_from_slice(&Ipv6::build(h.tos, 0, proto6, hop_limit, &src6, &dst6).0);
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

    let payload_len = out.buf.len() - start - ipv6::LEN;
    if payload_len > 0xffff {
        out.abandon_packet();
        return Verdict::Drop(DropReason::TooLarge);
    }
    if let Some(header) = out.buf.get_mut(start..l4_start) {
        wire::set_u16(header, ipv6::field::PAYLOAD_LEN, payload_len as u16);
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
    if h.proto != proto::ICMP {
        if payload.len() < transport::min_header_len(h.proto) {
            return Err(DropReason::Truncated);
        }
        let at = out.buf.len();
        out.buf.extend_from_slice(payload);
        let l4 = out.buf.get_mut(at..).unwrap_or(&mut []);
        if compute_udp_checksum {
            transport::fill_udp_checksum(
                l4,
                checksum::pseudo_header_v6(src6, dst6, proto::UDP, l4.len() as u32),
            );
            return Ok(());
        }
        let removed = transport::address_sum(&h.src, &h.dst);
        transport::adjust_tcp_udp(h.proto, l4, removed, transport::address_sum(src6, dst6));
        return Ok(());
    }

    // Fragmented ICMP never gets here (`check`): its checksum would cover bytes it lacks.
    let ty = wire::u8_at(payload, 0).unwrap_or(0);
    let code = wire::u8_at(payload, 1).unwrap_or(0);
    let action = icmp_tables::icmp4_to_icmp6(ty, code);
    match action {
        IcmpAction::Drop => Err(DropReason::UntranslatableIcmp),
        IcmpAction::Informational { .. } => {
            let at = out.buf.len();
            out.buf.extend_from_slice(payload);
            let icmp = out.buf.get_mut(at..).unwrap_or(&mut []);
            let pseudo =
                checksum::pseudo_header_v6(src6, dst6, proto::ICMPV6, payload.len() as u32);
            transport::rewrite_informational(icmp, action, 0, pseudo);
            Ok(())
        }
        _ => icmp_error::icmp4_to_icmp6(tr, action, payload, src6, dst6, map, out),
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
