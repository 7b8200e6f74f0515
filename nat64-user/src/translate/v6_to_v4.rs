//! IPv6 → IPv4 (RFC 7915 §5): the outer packet.

use nat64_common::address_policy;
use nat64_common::checksum;
use nat64_common::counters::DropReason;
use nat64_common::icmp_tables::{self, IcmpAction};
use nat64_common::wire::{
    icmp,
    ipv4::{self, Ipv4},
    l4, proto,
};

use super::addr_map::End;
use super::config::UdpChecksumMode;
use super::wire::{self, Frag, V6Error};
use super::{
    icmp_error, originate, own_address, transport, DynamicMap, Output, Translator, Verdict,
};

/// What TAYGA checks before it looks at an IPv6 packet's addresses (`parse_ip6`,
/// `handle_ip6`): addresses that may be translated at all, an extension header chain that
/// adds up, fragments that can belong to a datagram, a length the packet holds, a hop limit
/// and a right ICMPv6 checksum.
fn check(pkt: &[u8]) -> Result<wire::V6Headers, DropReason> {
    let h = match wire::parse_v6(pkt) {
        Ok(h) => h,
        Err(V6Error::Truncated) => return Err(DropReason::Truncated),
        Err(V6Error::BadHeader) => return Err(DropReason::BadIpHeader),
        Err(V6Error::BadExtension) => return Err(DropReason::BadExtensionHeader),
    };
    if !address_policy::v6_translatable(&h.src) || !address_policy::v6_translatable(&h.dst) {
        return Err(DropReason::SpecialAddress);
    }
    let pkt = pkt
        .get(..40 + usize::from(h.payload_len))
        .ok_or(DropReason::Truncated)?;
    let payload = pkt.get(h.l4_offset..).ok_or(DropReason::Truncated)?;
    if let Some(f) = h.frag {
        if (f.more && payload.len() % 8 != 0)
            || usize::from(f.offset) * 8 + payload.len()
                > nat64_common::wire::fragment::MAX_DATAGRAM
        {
            return Err(DropReason::BadFragment);
        }
    }
    if h.proto == proto::ICMPV6 {
        if h.frag.is_some_and(|f| f.is_fragmented()) {
            return Err(DropReason::FragmentedIcmp);
        }
        if payload.len() < 8 {
            return Err(DropReason::Truncated);
        }
    } else if h.proto == proto::ICMP || proto::IPV6_ONLY.contains(&h.proto) {
        // ICMPv4 inside IPv6 is nonsense; an extension header named by the Fragment header of
        // a later fragment (the headers themselves are in the first) would leave as an IPv4
        // protocol number that means something only inside IPv6. TAYGA sends the latter on.
        return Err(DropReason::UnsupportedProtocol);
    }
    if h.hop_limit == 0 {
        return Err(DropReason::HopLimitExceeded);
    }
    if h.proto == proto::ICMPV6 {
        // Everything ICMPv6 is verified: what is translated incrementally would otherwise
        // carry a wrong checksum on, and errors are rebuilt from what they quote.
        let pseudo =
            checksum::pseudo_header_v6(&h.src, &h.dst, proto::ICMPV6, payload.len() as u32);
        if checksum::fold(checksum::sum(payload, pseudo)) != 0xffff {
            return Err(DropReason::BadIcmpChecksum);
        }
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
    let end = 40 + usize::from(h.payload_len);
    let Some(pkt) = pkt.get(..end) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if let Some(pointer) = h.segments_left_at {
        // RFC 7915 §5.1: not translated; Parameter Problem, erroneous header field.
        return originate::icmp6_error(tr, pkt, 4, 0, pointer, DropReason::SegmentsLeft, out);
    }
    if h.dst == tr.cfg.ipv6_addr.octets() {
        return own_address::answer_v6(tr, pkt, &h, out);
    }
    if h.hop_limit == 1 {
        return originate::icmp6_error(tr, pkt, 3, 0, 0, DropReason::HopLimitExceeded, out);
    }
    let Some(payload) = pkt.get(h.l4_offset..) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    let first_fragment = h.frag.is_none_or(|f| f.offset == 0);
    let icmp_type = if h.proto == proto::ICMPV6 {
        wire::u8_at(payload, 0)
    } else {
        None
    };
    let is_icmp_error =
        icmp_type.is_some_and(|t| !matches!(t, icmp::v6::ECHO_REQUEST | icmp::v6::ECHO_REPLY));

    let dst4 = match tr.addrs.v6_to_v4(&h.dst, map, End::Destination) {
        Ok(a) => a,
        Err(r) if r.answer && !is_icmp_error => {
            return originate::icmp6_error(tr, pkt, 1, 0, 0, r.reason, out);
        }
        Err(r) => return Verdict::Drop(r.reason),
    };
    if !is_icmp_error && !tr.source_allowed(&h.src) {
        // A VPN server's allow-list: clients outside it are told, not silently dropped.
        return originate::icmp6_error(tr, pkt, 1, 1, 0, DropReason::SourceNotAllowed, out);
    }
    // The source of an error is only looked up: an error never makes a mapping.
    let src4 = if is_icmp_error {
        tr.addrs.v6_to_v4(&h.src, map, End::Source)
    } else {
        tr.addrs.source_v6_to_v4(&h.src, map)
    };
    let src4 = match src4 {
        Ok(a) => a,
        // RFC 6791: an ICMPv6 error from a router with no IPv4 form still has to reach the
        // IPv4 host, from a stand-in address.
        Err(_) if is_icmp_error => match tr.cfg.rfc6791_v4 {
            Some(a) => a.octets(),
            None => return Verdict::Drop(DropReason::NoErrorSource),
        },
        // TAYGA: "source address failed ingress/egress policy".
        Err(r) if r.answer => {
            return originate::icmp6_error(tr, pkt, 1, 5, 0, r.reason, out);
        }
        Err(r) => return Verdict::Drop(r.reason),
    };

    let proto4 = if h.proto == proto::ICMPV6 {
        proto::ICMP
    } else {
        h.proto
    };
    let mut total_len = 20 + payload.len();
    if total_len > usize::from(tr.cfg.ipv4_mtu) && !is_icmp_error {
        let mtu = (u32::from(tr.cfg.ipv4_mtu) + 20).max(1280);
        return originate::icmp6_error(tr, pkt, 2, 0, mtu, DropReason::PacketTooBig, out);
    }

    let start = out.buf.len();
    // The header is written with a provisional length and checksum, fixed at the end (ICMP
    // errors change size).
    let (frag_offset, more) = h.frag.map_or((0, false), |f| (f.offset, f.more));
    wire::write_v4_header(
        &mut out.buf,
        h.traffic_class,
        0,
        0,
        false,
        frag_offset,
        more,
        h.hop_limit - 1,
        proto4,
        src4,
        dst4,
    );
    let l4_start = out.buf.len();

    if first_fragment {
        if let Err(reason) = translate_l4(tr, &h, payload, src4, dst4, h.frag, map, out) {
            out.abandon_packet();
            return Verdict::Drop(reason);
        }
    } else {
        out.buf.extend_from_slice(payload);
    }

    total_len = ipv4::LEN + (out.buf.len() - l4_start);
    let Some(header) = out.buf.get_mut(start..l4_start) else {
        return Verdict::Drop(DropReason::TooLarge);
    };
    let Some(mut ip) = Ipv4::from_slice(header) else {
        return Verdict::Drop(DropReason::TooLarge);
    };
    ip.set_total_len(total_len as u16);
    let id = match h.frag {
        Some(f) => f.id as u16,
        None if ipv4::dont_fragment_for(total_len) => {
            ip.set_dont_fragment(true);
            0
        }
        None => tr.next_ipv4_id(),
    };
    ip.set_id(id);
    ip.fill_checksum();
    if let Some(fixed) = header.get_mut(..ipv4::LEN) {
        fixed.copy_from_slice(&ip.0);
    }
    out.end_packet();
    Verdict::Translated
}

/// Appends the translated upper-layer part of a first (or only) fragment.
#[allow(clippy::too_many_arguments)]
fn translate_l4<M: DynamicMap>(
    tr: &Translator,
    h: &wire::V6Headers,
    payload: &[u8],
    src4: [u8; 4],
    dst4: [u8; 4],
    frag: Option<Frag>,
    map: &mut M,
    out: &mut Output,
) -> Result<(), DropReason> {
    let removed = transport::address_sum(&h.src, &h.dst);
    if h.proto != proto::ICMPV6 {
        if payload.len() < transport::min_header_len(h.proto) {
            return Err(DropReason::Truncated);
        }
        let at = out.buf.len();
        out.buf.extend_from_slice(payload);
        let l4 = out.buf.get_mut(at..).unwrap_or(&mut []);
        if h.proto == proto::UDP && wire::u16_at(l4, l4::checksum_offset(proto::UDP)) == Some(0) {
            // Not allowed in IPv6 (RFC 8200 §8.1), but TAYGA applies `udp-cksum-mode` to it.
            match tr.cfg.udp_checksum_mode {
                UdpChecksumMode::Forward => return Ok(()),
                UdpChecksumMode::Calculate if !frag.is_some_and(|f| f.is_fragmented()) => {
                    let pseudo = checksum::pseudo_header_v4(src4, dst4, h.proto, l4.len() as u16);
                    transport::fill_udp_checksum(l4, pseudo);
                    return Ok(());
                }
                UdpChecksumMode::Calculate | UdpChecksumMode::Drop => {
                    return Err(DropReason::UdpZeroChecksum)
                }
            }
        }
        transport::adjust_tcp_udp(h.proto, l4, removed, transport::address_sum(&src4, &dst4));
        return Ok(());
    }

    // Fragmented ICMPv6 never gets here (`check`): its checksum would cover bytes it lacks.
    let (Some(ty), Some(code)) = (wire::u8_at(payload, 0), wire::u8_at(payload, 1)) else {
        return Err(DropReason::Truncated);
    };
    let action = icmp_tables::icmp6_to_icmp4(ty, code);
    match action {
        IcmpAction::Drop => Err(DropReason::UntranslatableIcmp),
        IcmpAction::Informational { .. } => {
            let at = out.buf.len();
            out.buf.extend_from_slice(payload);
            let icmp = out.buf.get_mut(at..).unwrap_or(&mut []);
            let pseudo =
                checksum::pseudo_header_v6(&h.src, &h.dst, proto::ICMPV6, payload.len() as u32);
            if transport::rewrite_informational(icmp, action, pseudo, 0) {
                Ok(())
            } else {
                Err(DropReason::Truncated)
            }
        }
        _ => icmp_error::icmp6_to_icmp4(tr, action, payload, map, out),
    }
}
