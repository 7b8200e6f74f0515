//! ICMP error messages (RFC 7915 §4.2–4.3, §5.2–5.3): the header fields that change meaning
//! (MTU, pointer), the packet quoted inside (translated like a packet, but truncated and
//! never decremented), and RFC 4884 extensions that follow the quote.

use nat64_common::address_policy;
use nat64_common::checksum;
use nat64_common::counters::DropReason;
use nat64_common::icmp_tables::{self, IcmpAction};
use nat64_common::mtu;
use nat64_common::wire::{
    icmp::{self, Icmp, LengthField},
    ipv4,
    ipv6::{self, Ipv6},
    proto,
};

use super::addr_map::End;
use super::wire;
use super::{transport, DynamicMap, Output, Translator};

/// An ICMPv4 error must fit the IPv4 minimum reassembly size (RFC 1812 §4.3.2.3).
const MAX_ICMP4_ERROR: usize = 576 - 20;
/// An ICMPv6 error must fit the IPv6 minimum MTU (RFC 4443 §2.4).
const MAX_ICMP6_ERROR: usize = 1280 - 40;
/// RFC 4884 §4: with an extension, the quoted datagram is at least this long (zero padded).
const RFC4884_MIN_QUOTE: usize = 128;

/// How the quote and any RFC 4884 extension are laid out in the translated message.
struct Body<'a> {
    /// The quoted packet, as received (may include RFC 4884 padding).
    quote: &'a [u8],
    /// The RFC 4884 extension structure, empty when there is none.
    extension: &'a [u8],
}

/// Splits an ICMP error payload (after the 8-byte header) into quote and extension, given the
/// RFC 4884 length attribute converted to bytes (0: no extension).
fn split_body(payload: &[u8], quote_len: usize) -> Body<'_> {
    if quote_len == 0 || quote_len > payload.len() {
        return Body {
            quote: payload,
            extension: &[],
        };
    }
    let (quote, extension) = payload.split_at(quote_len);
    Body { quote, extension }
}

/// Appends the 8-byte ICMP header, the translated quote (in `quote`) and the extension to
/// `out`, sized to `max_len` with the RFC 4884 rules; `unit` is 4 (ICMPv4) or 8 (ICMPv6) and
/// `length_at` the offset of the length attribute, if the type carries one.
fn assemble(
    out: &mut Vec<u8>,
    header: Icmp,
    quote: &[u8],
    extension: &[u8],
    max_len: usize,
    length: Option<LengthField>,
) {
    let with_extension = !extension.is_empty()
        && length.is_some()
        && icmp::HEADER_LEN + RFC4884_MIN_QUOTE + extension.len() <= max_len;
    match length.filter(|_| with_extension) {
        Some(length) => {
            let unit = length.unit;
            let room = (max_len - icmp::HEADER_LEN - extension.len()) / unit * unit;
            let padded = (quote.len() / unit * unit).max(RFC4884_MIN_QUOTE).min(room);
            let copied = quote.len().min(padded);
            out.extend_from_slice(&header.with_quote_len(length, padded).0);
            out.extend_from_slice(quote.get(..copied).unwrap_or(&[]));
            out.resize(out.len() + (padded - copied), 0);
            out.extend_from_slice(extension);
        }
        None => {
            out.extend_from_slice(&header.0);
            let copied = quote.len().min(max_len - icmp::HEADER_LEN);
            out.extend_from_slice(quote.get(..copied).unwrap_or(&[]));
        }
    }
}

/// ICMPv6 error → ICMPv4 error, appended to `out.buf` (checksum included).
pub(crate) fn icmp6_to_icmp4<M: DynamicMap>(
    tr: &Translator,
    action: IcmpAction,
    icmp: &[u8],
    map: &mut M,
    out: &mut Output,
) -> Result<(), DropReason> {
    let old = Icmp::from_slice(icmp).ok_or(DropReason::Truncated)?;
    let rest = old.rest();
    let (header, length) = match action {
        IcmpAction::Error { ty, code } => (
            Icmp::new(ty, code, 0),
            icmp::v6::carries_length(old.ty()).then_some(icmp::v4::LENGTH),
        ),
        IcmpAction::ParameterProblem { ty, code } => {
            let pointer =
                icmp_tables::pointer6_to_pointer4(rest).ok_or(DropReason::UntranslatableIcmp)?;
            (Icmp::new(ty, code, u32::from(pointer) << 24), None)
        }
        IcmpAction::PacketTooBig { ty, code } => {
            let mtu = mtu::ptb_to_frag_needed(rest, tr.cfg.ipv4_mtu, tr.cfg.ipv6_mtu);
            (Icmp::new(ty, code, u32::from(mtu)), None)
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => {
            return Err(DropReason::UntranslatableIcmp)
        }
    };
    let payload = icmp.get(icmp::HEADER_LEN..).unwrap_or(&[]);
    let quote_len = if icmp::v6::carries_length(old.ty()) {
        old.quote_len(icmp::v6::LENGTH)
    } else {
        0
    };
    let body = split_body(payload, quote_len);

    let mut scratch = std::mem::take(&mut out.scratch);
    scratch.clear();
    let result = quote_v6_to_v4(tr, body.quote, map, &mut scratch);
    if result.is_ok() {
        let start = out.buf.len();
        assemble(
            &mut out.buf,
            header,
            &scratch,
            body.extension,
            MAX_ICMP4_ERROR,
            length,
        );
        finish_icmp4(out.buf.get_mut(start..).unwrap_or(&mut []));
    }
    out.scratch = scratch;
    result
}

/// ICMPv4 error → ICMPv6 error, appended to `out.buf`; `src6`/`dst6` are the translated outer
/// addresses (the ICMPv6 checksum covers them).
pub(crate) fn icmp4_to_icmp6<M: DynamicMap>(
    tr: &Translator,
    action: IcmpAction,
    icmp: &[u8],
    src6: &[u8; 16],
    dst6: &[u8; 16],
    map: &mut M,
    out: &mut Output,
) -> Result<(), DropReason> {
    let old = Icmp::from_slice(icmp).ok_or(DropReason::Truncated)?;
    let payload = icmp.get(icmp::HEADER_LEN..).unwrap_or(&[]);
    let (header, length) = match action {
        // RFC 4884: ICMPv6 Destination Unreachable and Time Exceeded carry the length.
        IcmpAction::Error { ty, code } => (Icmp::new(ty, code, 0), Some(icmp::v6::LENGTH)),
        IcmpAction::ParameterProblem { ty, code } => {
            let pointer = if old.ty() == icmp::v4::DEST_UNREACHABLE {
                // Protocol Unreachable: the offending field is the Next Header.
                ipv6::field::NEXT_HEADER as u8
            } else {
                icmp_tables::pointer4_to_pointer6((old.rest() >> 24) as u8)
                    .ok_or(DropReason::UntranslatableIcmp)?
            };
            (Icmp::new(ty, code, u32::from(pointer)), None)
        }
        IcmpAction::PacketTooBig { ty, code } => {
            let quoted_total = wire::u16_at(payload, ipv4::field::TOTAL_LEN).unwrap_or(0);
            let mtu = mtu::frag_needed_to_ptb(
                old.rest() as u16,
                quoted_total,
                tr.cfg.ipv4_mtu,
                tr.cfg.ipv6_mtu,
            );
            (Icmp::new(ty, code, mtu), None)
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => {
            return Err(DropReason::UntranslatableIcmp)
        }
    };
    let quote_len = if icmp::v4::carries_length(old.ty()) {
        old.quote_len(icmp::v4::LENGTH)
    } else {
        0
    };
    let body = split_body(payload, quote_len);

    let mut scratch = std::mem::take(&mut out.scratch);
    scratch.clear();
    let result = quote_v4_to_v6(tr, body.quote, map, &mut scratch);
    if result.is_ok() {
        let start = out.buf.len();
        assemble(
            &mut out.buf,
            header,
            &scratch,
            body.extension,
            MAX_ICMP6_ERROR,
            length,
        );
        finish_icmp6(out.buf.get_mut(start..).unwrap_or(&mut []), src6, dst6);
    }
    out.scratch = scratch;
    result
}

/// Fills in the checksum of a complete ICMPv4 message.
pub(crate) fn finish_icmp4(icmp: &mut [u8]) {
    wire::set_u16(icmp, icmp::field::CHECKSUM, 0);
    let c = checksum::finish(checksum::sum(icmp, 0));
    wire::set_u16(icmp, icmp::field::CHECKSUM, c);
}

/// Fills in the checksum of a complete ICMPv6 message.
pub(crate) fn finish_icmp6(icmp: &mut [u8], src: &[u8; 16], dst: &[u8; 16]) {
    wire::set_u16(icmp, icmp::field::CHECKSUM, 0);
    let pseudo = checksum::pseudo_header_v6(src, dst, proto::ICMPV6, icmp.len() as u32);
    let c = checksum::finish(checksum::sum(icmp, pseudo));
    wire::set_u16(icmp, icmp::field::CHECKSUM, c);
}

/// Translates the IPv6 packet quoted in an ICMPv6 error into `out` (header and whatever part
/// of the payload was quoted). The quote was sent by the IPv4 side through us, so its source
/// is a remote address and its destination one of our IPv6 hosts.
fn quote_v6_to_v4<M: DynamicMap>(
    tr: &Translator,
    quote: &[u8],
    map: &mut M,
    out: &mut Vec<u8>,
) -> Result<(), DropReason> {
    // A quoted routing header with segments left is history, not a reason to refuse.
    let h = match wire::parse_v6(quote) {
        Ok(h) => h,
        Err(wire::V6Error::Truncated) => return Err(DropReason::Truncated),
        Err(_) => return Err(DropReason::BadIcmpError),
    };
    if !address_policy::v6_translatable(&h.src) || !address_policy::v6_translatable(&h.dst) {
        return Err(DropReason::SpecialAddress);
    }
    let src4 = tr
        .addrs
        .v6_to_v4(&h.src, map, End::Source)
        .map_err(|r| r.reason)?;
    let dst4 = tr
        .addrs
        .v6_to_v4(&h.dst, map, End::Destination)
        .map_err(|r| r.reason)?;
    let proto4 = match h.proto {
        proto::ICMPV6 => proto::ICMP,
        // A number that means something only inside IPv6 never goes out in an IPv4 header.
        p if p == proto::ICMP || proto::IPV6_ONLY.contains(&p) => {
            return Err(DropReason::BadIcmpError)
        }
        p => p,
    };
    // Lengths come from the quoted header, not from how much of it was quoted.
    let l4_len = (40 + usize::from(h.payload_len)).saturating_sub(h.l4_offset);
    let total_len = (20 + l4_len).min(0xffff) as u16;
    let (id, dont_fragment, frag_offset, more) = match h.frag {
        Some(f) => (f.id as u16, false, f.offset, f.more),
        None => (0, ipv4::dont_fragment_for(usize::from(total_len)), 0, false),
    };
    wire::write_v4_header(
        out,
        h.traffic_class,
        total_len,
        id,
        dont_fragment,
        frag_offset,
        more,
        h.hop_limit,
        proto4,
        src4,
        dst4,
    );
    let at = out.len();
    out.extend_from_slice(quote.get(h.l4_offset..).unwrap_or(&[]));
    if h.frag.is_some_and(|f| f.offset != 0) {
        return Ok(());
    }
    let l4 = out.get_mut(at..).unwrap_or(&mut []);
    if h.proto == proto::ICMPV6 {
        let ty = wire::u8_at(l4, 0).unwrap_or(0);
        if ty < 128 {
            return Err(DropReason::BadIcmpError);
        }
        let action = icmp_tables::icmp6_to_icmp4(ty, wire::u8_at(l4, 1).unwrap_or(0));
        let pseudo = checksum::pseudo_header_v6(&h.src, &h.dst, proto::ICMPV6, l4_len as u32);
        transport::rewrite_informational(l4, action, pseudo, 0);
    } else {
        transport::adjust_tcp_udp(
            h.proto,
            l4,
            transport::address_sum(&h.src, &h.dst),
            transport::address_sum(&src4, &dst4),
        );
    }
    Ok(())
}

/// Translates the IPv4 packet quoted in an ICMPv4 error into `out`. The quote was sent by one
/// of our IPv6 hosts, so its source maps through the pool and its destination is remote.
fn quote_v4_to_v6<M: DynamicMap>(
    tr: &Translator,
    quote: &[u8],
    map: &mut M,
    out: &mut Vec<u8>,
) -> Result<(), DropReason> {
    let h = wire::parse_v4(quote).ok_or(DropReason::BadIcmpError)?;
    if !address_policy::v4_translatable(h.src) || !address_policy::v4_translatable(h.dst) {
        return Err(DropReason::SpecialAddress);
    }
    let proto6 = match h.proto {
        proto::ICMP if h.frag.is_fragmented() => return Err(DropReason::BadIcmpError),
        proto::ICMP => proto::ICMPV6,
        p if proto::IPV6_ONLY.contains(&p) => return Err(DropReason::BadIcmpError),
        p => p,
    };
    let src6 = tr
        .addrs
        .v4_to_v6(h.src, map, End::Source)
        .map_err(|r| r.reason)?;
    let dst6 = tr
        .addrs
        .v4_to_v6(h.dst, map, End::Destination)
        .map_err(|r| r.reason)?;
    let l4_len = usize::from(h.total_len).saturating_sub(h.header_len);
    let fragmented = h.frag.is_fragmented();
    let payload_len = (l4_len + if fragmented { 8 } else { 0 }).min(0xffff) as u16;
    if fragmented {
        out.extend_from_slice(
            &Ipv6::build(h.tos, payload_len, proto::FRAGMENT, h.ttl, &src6, &dst6).0,
        );
        wire::write_fragment_header(out, proto6, h.frag.offset, h.frag.more, h.frag.id);
    } else {
        out.extend_from_slice(&Ipv6::build(h.tos, payload_len, proto6, h.ttl, &src6, &dst6).0);
    }
    let at = out.len();
    out.extend_from_slice(quote.get(h.header_len..).unwrap_or(&[]));
    if h.frag.offset != 0 {
        return Ok(());
    }
    let l4 = out.get_mut(at..).unwrap_or(&mut []);
    if h.proto == proto::ICMP {
        let ty = wire::u8_at(l4, 0).unwrap_or(0);
        let action = icmp_tables::icmp4_to_icmp6(ty, wire::u8_at(l4, 1).unwrap_or(0));
        if !matches!(action, IcmpAction::Informational { .. }) {
            return Err(DropReason::BadIcmpError);
        }
        let pseudo = checksum::pseudo_header_v6(&src6, &dst6, proto::ICMPV6, l4_len as u32);
        transport::rewrite_informational(l4, action, 0, pseudo);
    } else {
        transport::adjust_tcp_udp(
            h.proto,
            l4,
            transport::address_sum(&h.src, &h.dst),
            transport::address_sum(&src6, &dst6),
        );
    }
    Ok(())
}
