//! ICMP errors the translator sends itself, from its own address, back to the sender of a
//! packet it would not translate (hop limit, size, segments left, policy).

use nat64_common::wire::{
    icmp::{self, Icmp},
    ipv4::Ipv4,
    ipv6::Ipv6,
    proto,
};
use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::address_policy;
use nat64_common::counters::DropReason;

use super::icmp_error::{finish_icmp4, finish_icmp6};
use super::wire;
use super::{Output, Translator, Verdict};

/// Hop limit / TTL of errors the translator originates (as a host would).
const ORIGINATED_HOP_LIMIT: u8 = 64;

/// The IPv4 header of an ICMP message the translator sends from `src`.
pub(crate) fn write_own_icmp4_header(
    tr: &Translator,
    src: [u8; 4],
    tos: u8,
    icmp_len: usize,
    dst: [u8; 4],
    out: &mut Output,
) {
    let id = tr.next_ipv4_id();
    wire::write_v4_header(
        &mut out.buf,
        tos,
        (20 + icmp_len) as u16,
        id,
        false,
        0,
        false,
        ORIGINATED_HOP_LIMIT,
        proto::ICMP,
        src,
        dst,
    );
}

/// The IPv6 header of an ICMPv6 message the translator sends from `ipv6-addr`.
pub(crate) fn write_own_icmp6_header(
    tr: &Translator,
    traffic_class: u8,
    icmp_len: usize,
    dst: &[u8; 16],
    out: &mut Output,
) {
    out.buf.extend_from_slice(
        &Ipv6::build(
            traffic_class,
            icmp_len as u16,
            proto::ICMPV6,
            ORIGINATED_HOP_LIMIT,
            &tr.cfg.ipv6_addr.octets(),
            dst,
        )
        .0,
    );
}

/// ICMPv6 error to the source of `offending` (an IPv6 packet); `rest` is the 32-bit field
/// after the checksum (MTU or pointer).
pub(crate) fn icmp6_error(
    tr: &Translator,
    offending: &[u8],
    ty: u8,
    code: u8,
    rest: u32,
    reason: DropReason,
    out: &mut Output,
) -> Verdict {
    let src = tr.cfg.ipv6_addr.octets();
    let Some(dst) = Ipv6::from_slice(offending).map(|ip| ip.src()) else {
        return Verdict::Drop(reason);
    };
    if tr.cfg.ipv6_addr == Ipv6Addr::UNSPECIFIED
        || !address_policy::v6_translatable(&dst)
        || about_icmp6_other_than_echo_request(offending)
    {
        return Verdict::Drop(reason);
    }
    if !tr.error_budget.take() {
        return Verdict::Drop(DropReason::IcmpRateLimited);
    }
    let quote = offending
        .get(..offending.len().min(1280 - 48))
        .unwrap_or(&[]);
    write_own_icmp6_header(tr, 0, 8 + quote.len(), &dst, out);
    let at = out.buf.len();
    out.buf.extend_from_slice(&Icmp::new(ty, code, rest).0);
    out.buf.extend_from_slice(quote);
    finish_icmp6(out.buf.get_mut(at..).unwrap_or(&mut []), &src, &dst);
    out.end_packet();
    Verdict::IcmpError(reason)
}

/// ICMPv4 error to the source of `offending` (an IPv4 packet); `rest` is the 32-bit field
/// after the checksum.
pub(crate) fn icmp4_error(
    tr: &Translator,
    offending: &[u8],
    ty: u8,
    code: u8,
    rest: [u8; 4],
    reason: DropReason,
    out: &mut Output,
) -> Verdict {
    let Some((dst, to)) = Ipv4::from_slice(offending).map(|ip| (ip.src(), ip.dst())) else {
        return Verdict::Drop(reason);
    };
    let src = if tr.cfg.v4_errors_from_destination {
        to
    } else {
        tr.cfg.ipv4_addr.octets()
    };
    if src == Ipv4Addr::UNSPECIFIED.octets()
        || !address_policy::v4_translatable(dst)
        || about_icmp4_other_than_echo_request(offending)
    {
        return Verdict::Drop(reason);
    }
    if !tr.error_budget.take() {
        return Verdict::Drop(DropReason::IcmpRateLimited);
    }
    let quote = offending
        .get(..offending.len().min(576 - 28))
        .unwrap_or(&[]);
    write_own_icmp4_header(tr, src, 0, 8 + quote.len(), dst, out);
    let at = out.buf.len();
    out.buf
        .extend_from_slice(&Icmp::new(ty, code, u32::from_be_bytes(rest)).0);
    out.buf.extend_from_slice(quote);
    finish_icmp4(out.buf.get_mut(at..).unwrap_or(&mut []));
    out.end_packet();
    Verdict::IcmpError(reason)
}

/// RFC 1122 §3.2.2 and RFC 4443 §2.4 (e): no error about an error. TAYGA goes further and
/// answers no ICMP message but an echo request, so neither does the translator: a reply, a
/// timestamp or a redirect it cannot pass on is dropped without a word.
fn about_icmp4_other_than_echo_request(offending: &[u8]) -> bool {
    let Some(h) = wire::parse_v4(offending) else {
        return true;
    };
    h.proto == proto::ICMP && wire::u8_at(offending, h.header_len) != Some(icmp::v4::ECHO_REQUEST)
}

fn about_icmp6_other_than_echo_request(offending: &[u8]) -> bool {
    let Ok(h) = wire::parse_v6(offending) else {
        return true;
    };
    h.proto == proto::ICMPV6
        && h.frag.is_none_or(|f| f.offset == 0)
        && wire::u8_at(offending, h.l4_offset) != Some(icmp::v6::ECHO_REQUEST)
}
