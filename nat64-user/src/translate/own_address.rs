//! Packets addressed to the translator itself (`ipv4-addr`, `ipv6-addr`): TAYGA answers ICMP
//! echo requests, so operators can ping the translator to see that it is alive, and
//! drops everything else.

use nat64_common::checksum;

use super::{
    icmp_error::{finish_icmp4, finish_icmp6},
    originate,
    wire::{self, V4Header, V6Headers},
    DropReason, Output, Translator, Verdict,
};

const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// An IPv6 packet to `ipv6-addr`; `pkt` is trimmed to its payload length.
pub(crate) fn answer_v6(tr: &Translator, pkt: &[u8], h: &V6Headers, out: &mut Output) -> Verdict {
    let Some(icmp) = pkt.get(h.l4_offset..) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    let is_echo =
        h.proto == PROTO_ICMPV6 && h.frag.is_none() && icmp.first() == Some(&ECHO_REQUEST_V6);
    if !is_echo || icmp.len() < 8 {
        return Verdict::Drop(DropReason::AddressedToTranslator);
    }
    let pseudo = checksum::pseudo_header_v6(&h.src, &h.dst, PROTO_ICMPV6, icmp.len() as u32);
    if checksum::fold(checksum::sum(icmp, pseudo)) != 0xffff {
        return Verdict::Drop(DropReason::BadIcmpChecksum);
    }
    let own = tr.config().ipv6_addr.octets();
    originate::write_own_icmp6_header(tr, icmp.len(), &h.src, out);
    let at = out.buf.len();
    out.buf.extend_from_slice(icmp);
    let reply = out.buf.get_mut(at..).unwrap_or(&mut []);
    wire::set_u8(reply, 0, ECHO_REPLY_V6);
    finish_icmp6(reply, &own, &h.src);
    out.end_packet();
    Verdict::LocalReply
}

/// An IPv4 packet to `ipv4-addr`; `pkt` is trimmed to its total length.
pub(crate) fn answer_v4(tr: &Translator, pkt: &[u8], h: &V4Header, out: &mut Output) -> Verdict {
    let Some(icmp) = pkt.get(h.header_len..) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    let unfragmented = h.frag.offset == 0 && !h.frag.more;
    let is_echo = h.proto == PROTO_ICMP && unfragmented && icmp.first() == Some(&ECHO_REQUEST_V4);
    if !is_echo || icmp.len() < 8 {
        return Verdict::Drop(DropReason::AddressedToTranslator);
    }
    if checksum::fold(checksum::sum(icmp, 0)) != 0xffff {
        return Verdict::Drop(DropReason::BadIcmpChecksum);
    }
    originate::write_own_icmp4_header(tr, icmp.len(), h.src, out);
    let at = out.buf.len();
    out.buf.extend_from_slice(icmp);
    let reply = out.buf.get_mut(at..).unwrap_or(&mut []);
    wire::set_u8(reply, 0, ECHO_REPLY_V4);
    finish_icmp4(reply);
    out.end_packet();
    Verdict::LocalReply
}
