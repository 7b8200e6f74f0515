//! ICMP errors the translator sends itself, from its own address, back to the sender of a
//! packet it would not translate (hop limit, size, segments left, policy).

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::counters::DropReason;

use super::icmp_error::{finish_icmp4, finish_icmp6};
use super::wire::{self, PROTO_ICMP, PROTO_ICMPV6};
use super::{Output, Translator, Verdict};

/// Hop limit / TTL of errors the translator originates (as a host would).
const ORIGINATED_HOP_LIMIT: u8 = 64;

/// The IPv4 header of an ICMP message the translator sends from `ipv4-addr`.
pub(crate) fn write_own_icmp4_header(
    tr: &Translator,
    icmp_len: usize,
    dst: [u8; 4],
    out: &mut Output,
) {
    let id = tr.next_ipv4_id();
    wire::write_v4_header(
        &mut out.buf,
        0,
        (20 + icmp_len) as u16,
        id,
        false,
        0,
        false,
        ORIGINATED_HOP_LIMIT,
        PROTO_ICMP,
        tr.cfg.ipv4_addr.octets(),
        dst,
    );
}

/// The IPv6 header of an ICMPv6 message the translator sends from `ipv6-addr`.
pub(crate) fn write_own_icmp6_header(
    tr: &Translator,
    icmp_len: usize,
    dst: &[u8; 16],
    out: &mut Output,
) {
    wire::write_v6_header(
        &mut out.buf,
        0,
        icmp_len as u16,
        PROTO_ICMPV6,
        ORIGINATED_HOP_LIMIT,
        &tr.cfg.ipv6_addr.octets(),
        dst,
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
    let Some(dst) = wire::array_at::<16>(offending, 8) else {
        return Verdict::Drop(reason);
    };
    if tr.cfg.ipv6_addr == Ipv6Addr::UNSPECIFIED || dst == [0; 16] || dst[0] == 0xff {
        return Verdict::Drop(reason);
    }
    let quote = offending
        .get(..offending.len().min(1280 - 48))
        .unwrap_or(&[]);
    write_own_icmp6_header(tr, 8 + quote.len(), &dst, out);
    let at = out.buf.len();
    let mut header = [0u8; 8];
    header[0] = ty;
    header[1] = code;
    header[4..8].copy_from_slice(&rest.to_be_bytes());
    out.buf.extend_from_slice(&header);
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
    let Some(dst) = wire::array_at::<4>(offending, 12) else {
        return Verdict::Drop(reason);
    };
    let dst_addr = Ipv4Addr::from(dst);
    if tr.cfg.ipv4_addr == Ipv4Addr::UNSPECIFIED
        || dst_addr.is_unspecified()
        || dst_addr.is_multicast()
        || dst_addr.is_broadcast()
    {
        return Verdict::Drop(reason);
    }
    let quote = offending
        .get(..offending.len().min(576 - 28))
        .unwrap_or(&[]);
    write_own_icmp4_header(tr, 8 + quote.len(), dst, out);
    let at = out.buf.len();
    let mut header = [0u8; 8];
    header[0] = ty;
    header[1] = code;
    header[4..8].copy_from_slice(&rest);
    out.buf.extend_from_slice(&header);
    out.buf.extend_from_slice(quote);
    finish_icmp4(out.buf.get_mut(at..).unwrap_or(&mut []));
    out.end_packet();
    Verdict::IcmpError(reason)
}
