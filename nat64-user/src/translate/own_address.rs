//! Packets addressed to the translator itself (`ipv4-addr`, `ipv6-addr`): TAYGA answers ICMP
//! echo requests, so operators can ping the translator to see that it is alive, tells other
//! protocols they are not spoken here, and drops other ICMP.

use super::{
    icmp_error::{finish_icmp4, finish_icmp6},
    originate,
    wire::{self, V4Header, V6Headers},
    DropReason, Output, Translator, Verdict,
};
use nat64_common::wire::{icmp, proto};

/// An IPv6 packet to `ipv6-addr`; `pkt` is trimmed to its payload length and its ICMPv6
/// checksum, if any, was verified. Another upper layer is told "unrecognized Next Header"
/// (pointing at the IPv6 header's, as TAYGA does).
pub(crate) fn answer_v6(tr: &Translator, pkt: &[u8], h: &V6Headers, out: &mut Output) -> Verdict {
    if h.proto != proto::ICMPV6 {
        return originate::icmp6_error(tr, pkt, 4, 1, 6, DropReason::AddressedToTranslator, out);
    }
    let Some(icmp) = pkt.get(h.l4_offset..) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if icmp.first() != Some(&icmp::v6::ECHO_REQUEST) || icmp.len() < 8 {
        return Verdict::Drop(DropReason::AddressedToTranslator);
    }
    let own = tr.config().ipv6_addr.octets();
    originate::write_own_icmp6_header(tr, h.traffic_class, icmp.len(), &h.src, out);
    let at = out.buf.len();
    out.buf.extend_from_slice(icmp);
    let reply = out.buf.get_mut(at..).unwrap_or(&mut []);
    wire::set_u8(reply, 0, icmp::v6::ECHO_REPLY);
    finish_icmp6(reply, &own, &h.src);
    out.end_packet();
    Verdict::LocalReply
}

/// An IPv4 packet to `ipv4-addr`; `pkt` is trimmed to its total length and its ICMP
/// checksum, if any, was verified. Another protocol is told "protocol unreachable".
pub(crate) fn answer_v4(tr: &Translator, pkt: &[u8], h: &V4Header, out: &mut Output) -> Verdict {
    if h.proto != proto::ICMP {
        return originate::icmp4_error(
            tr,
            pkt,
            3,
            2,
            [0; 4],
            DropReason::AddressedToTranslator,
            out,
        );
    }
    let Some(icmp) = pkt.get(h.header_len..) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if icmp.first() != Some(&icmp::v4::ECHO_REQUEST) || icmp.len() < 8 {
        return Verdict::Drop(DropReason::AddressedToTranslator);
    }
    originate::write_own_icmp4_header(tr, h.dst, h.tos, icmp.len(), h.src, out);
    let at = out.buf.len();
    out.buf.extend_from_slice(icmp);
    let reply = out.buf.get_mut(at..).unwrap_or(&mut []);
    wire::set_u8(reply, 0, icmp::v4::ECHO_REPLY);
    finish_icmp4(reply);
    out.end_packet();
    Verdict::LocalReply
}
