//! Offloaded packets — GSO super-packets and packets whose transport checksum is still partial,
//! as a TUN queue with a `virtio_net_hdr` hands them over — translated once, headers only, in
//! place in the read buffer, and returned with the header that lets the kernel cut (or pass on)
//! the result.
//!
//! Only the plain case is taken here: TCP or UDP right after a bare IP header (no IPv6
//! extension headers, no IPv4 options, no fragment), both addresses mapped, hop limit left, and
//! every segment within the MTU the per-packet path would allow. Anything else is
//! [`Offloaded::PerPacket`]: the caller cuts it in userspace ([`super::segment`]) and gives each
//! segment to [`Translator::translate`], which answers, fragments or drops it exactly as it
//! would have without offloads.
//!
//! The checksum field of such a packet holds the folded pseudo-header sum (not complemented,
//! the data not yet added), over the super-packet's whole transport length. TCP and UDP put the
//! same protocol number and length in both pseudo-headers, so only the addresses change: the
//! old ones come out of the partial sum, the new ones go in.

use std::ops::Range;

use nat64_common::{address_policy, checksum, headers};

use super::vnet::{self, Gso, VnetHdr};
use crate::translate::addr_map::End;
use crate::translate::transport::address_sum;
use crate::translate::wire::{self, PROTO_TCP, PROTO_UDP, TCP_CHECKSUM, UDP_CHECKSUM};
use crate::translate::{DynamicMap, Translator};

/// Free bytes the read buffer keeps before the `virtio_net_hdr`, so that IPv4 → IPv6, whose
/// header is 20 bytes longer, is written in place too.
pub const HEADROOM: usize = 20;

/// RFC 7915 §5.1 (as in the per-packet path): IPv4 packets up to this size leave with DF clear.
const DF_THRESHOLD: usize = 1260;

/// What became of an offloaded packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offloaded {
    /// The translated frame, its `virtio_net_hdr` first, is `buf[frame]`; on the wire it is
    /// `segments` packets.
    Translated { frame: Range<usize>, segments: u32 },
    /// Not a case taken whole: cut it and translate the segments one by one.
    PerPacket,
}

/// Translates the offloaded packet read into `buf[HEADROOM..HEADROOM + len]` (its
/// `virtio_net_hdr`, then the IP packet).
pub fn translate<M: DynamicMap>(
    tr: &Translator,
    buf: &mut [u8],
    len: usize,
    map: &mut M,
) -> Offloaded {
    let Some(frame) = buf.get(HEADROOM..HEADROOM + len) else {
        return Offloaded::PerPacket;
    };
    let Some(hdr) = VnetHdr::parse(frame) else {
        return Offloaded::PerPacket;
    };
    let packet = frame.get(vnet::LEN..).unwrap_or(&[]);
    let plan = match packet.first().map(|b| b >> 4) {
        Some(6) => plan_six_to_four(tr, &hdr, packet, map),
        Some(4) => plan_four_to_six(tr, &hdr, packet, map),
        _ => None,
    };
    match plan {
        Some(plan) => plan.write(buf, len),
        None => Offloaded::PerPacket,
    }
}

/// The transport layer of an offloaded packet, checked against its `virtio_net_hdr`.
#[derive(Clone, Copy, Debug)]
struct Transport {
    proto: u8,
    /// Transport header length (TCP data offset, or 8).
    header_len: usize,
    /// Whole transport length (headers and payload of the super-packet).
    len: usize,
    segments: u32,
    /// Payload bytes per segment; 0 when not GSO.
    gso_size: usize,
}

impl Transport {
    /// Bytes of one full segment on the wire, IP header of `ip_len` bytes included.
    fn segment_len(&self, ip_len: usize) -> usize {
        if self.gso_size == 0 {
            ip_len + self.len
        } else {
            ip_len + self.header_len + self.gso_size
        }
    }
}

/// `l4` after an IP header of `ip_len` bytes: TCP or UDP with a partial checksum where the
/// header says, and a GSO type that fits the family (`tcp_gso`) and the protocol.
fn transport(
    hdr: &VnetHdr,
    ip_len: usize,
    proto: u8,
    l4: &[u8],
    tcp_gso: Gso,
) -> Option<Transport> {
    if !hdr.needs_csum() || usize::from(hdr.csum_start) != ip_len {
        return None;
    }
    let (header_len, csum_offset) = match proto {
        PROTO_TCP => (usize::from(wire::u8_at(l4, 12)? >> 4) * 4, TCP_CHECKSUM),
        PROTO_UDP => (8, UDP_CHECKSUM),
        _ => return None,
    };
    if usize::from(hdr.csum_offset) != csum_offset || header_len < 8 || l4.len() < header_len {
        return None;
    }
    let gso_size = match (hdr.gso(), proto) {
        (Gso::None, _) => 0,
        (gso, PROTO_TCP) if gso == tcp_gso => usize::from(hdr.gso_size),
        (Gso::Udp, PROTO_UDP) => usize::from(hdr.gso_size),
        _ => return None,
    };
    if hdr.gso() != Gso::None && gso_size == 0 {
        return None;
    }
    let payload = l4.len() - header_len;
    let segments = if gso_size == 0 {
        1
    } else {
        payload.div_ceil(gso_size).max(1)
    };
    Some(Transport {
        proto,
        header_len,
        len: l4.len(),
        segments: u32::try_from(segments).ok()?,
        gso_size,
    })
}

/// What one translation writes: the new IP header and `virtio_net_hdr`, and the partial
/// checksum's address change.
struct Plan {
    family: Family,
    l4: Transport,
    /// Partial sums of the old and the new addresses.
    removed: u32,
    added: u32,
    gso_type: u8,
}

enum Family {
    /// IPv6 → IPv4: the header shrinks by 20 bytes.
    ToFour([u8; 20]),
    /// IPv4 → IPv6: it grows by 20.
    ToSix([u8; 40]),
}

fn plan_six_to_four<M: DynamicMap>(
    tr: &Translator,
    hdr: &VnetHdr,
    pkt: &[u8],
    map: &mut M,
) -> Option<Plan> {
    let h = wire::parse_v6(pkt).ok()?;
    if h.l4_offset != 40 || h.frag.is_some() || 40 + usize::from(h.payload_len) != pkt.len() {
        return None;
    }
    let l4 = transport(hdr, 40, h.proto, pkt.get(40..)?, Gso::Tcp6)?;
    if h.dst == tr.cfg.ipv6_addr.octets()
        || h.hop_limit <= 1
        || !address_policy::v6_translatable(&h.src)
        || !address_policy::v6_translatable(&h.dst)
    {
        return None;
    }
    let dst4 = tr
        .addrs
        .v6_to_v4(&h.dst, map, End::Destination, false)
        .ok()?;
    if !tr.source_allowed(&h.src) {
        return None;
    }
    let src4 = tr.addrs.v6_to_v4(&h.src, map, End::Source, true).ok()?;
    let total_len = u16::try_from(20 + l4.len).ok()?;
    let segment_len = l4.segment_len(20);
    if segment_len > usize::from(tr.cfg.ipv4_mtu) {
        return None;
    }
    // The per-packet rule, by the size of a full segment (one header holds one DF for all: a
    // short last segment keeps the full ones' DF). The kernel numbers the segments from `id`
    // on, so a run of identifications is taken for them.
    let dont_fragment = segment_len > DF_THRESHOLD;
    let id = if dont_fragment {
        0
    } else {
        tr.take_ipv4_ids(l4.segments)
    };
    let header = headers::ipv4(&headers::Ipv4Fields {
        tos: h.traffic_class,
        total_len,
        id,
        dont_fragment,
        more_fragments: false,
        fragment_offset: 0,
        ttl: h.hop_limit - 1,
        proto: h.proto,
        src: src4,
        dst: dst4,
    });
    Some(Plan {
        family: Family::ToFour(header),
        l4,
        removed: address_sum(&h.src, &h.dst),
        added: address_sum(&src4, &dst4),
        gso_type: out_gso_type(hdr, vnet::GSO_TCPV4),
    })
}

fn plan_four_to_six<M: DynamicMap>(
    tr: &Translator,
    hdr: &VnetHdr,
    pkt: &[u8],
    map: &mut M,
) -> Option<Plan> {
    let h = wire::parse_v4(pkt)?;
    if h.header_len != 20 || usize::from(h.total_len) != pkt.len() || h.frag.is_fragmented() {
        return None;
    }
    if checksum::fold(checksum::sum(pkt.get(..20)?, 0)) != 0xffff {
        return None;
    }
    let l4 = transport(hdr, 20, h.proto, pkt.get(20..)?, Gso::Tcp4)?;
    if h.dst == tr.cfg.ipv4_addr.octets()
        || h.ttl <= 1
        || !address_policy::v4_translatable(h.src)
        || !address_policy::v4_translatable(h.dst)
    {
        return None;
    }
    let dst6 = tr.addrs.v4_to_v6(h.dst, map, End::Destination).ok()?;
    let src6 = tr.addrs.v4_to_v6(h.src, map, End::Source).ok()?;
    // Beyond these the per-packet path answers Packet Too Big (DF) or fragments (no DF).
    let limit = if h.dont_fragment {
        tr.cfg.ipv6_mtu
    } else {
        tr.cfg.lowest_ipv6_mtu.min(tr.cfg.ipv6_mtu)
    };
    if l4.segment_len(40) > usize::from(limit) {
        return None;
    }
    let header = headers::ipv6(
        h.tos,
        u16::try_from(l4.len).ok()?,
        h.proto,
        h.ttl - 1,
        &src6,
        &dst6,
    );
    Some(Plan {
        family: Family::ToSix(header),
        l4,
        removed: address_sum(&h.src, &h.dst),
        added: address_sum(&src6, &dst6),
        gso_type: out_gso_type(hdr, vnet::GSO_TCPV6),
    })
}

/// The GSO type of the translated packet: TCP changes family (ECN kept), USO and none stay.
fn out_gso_type(hdr: &VnetHdr, tcp: u8) -> u8 {
    match hdr.gso() {
        Gso::Tcp4 | Gso::Tcp6 => tcp | (hdr.gso_type & vnet::GSO_ECN),
        _ => hdr.gso_type,
    }
}

impl Plan {
    fn write(self, buf: &mut [u8], len: usize) -> Offloaded {
        let old_ip_len = match self.family {
            Family::ToFour(_) => 40,
            Family::ToSix(_) => 20,
        };
        let l4_start = HEADROOM + vnet::LEN + old_ip_len;
        let end = HEADROOM + len;
        let check_at = l4_start
            + if self.l4.proto == PROTO_TCP {
                TCP_CHECKSUM
            } else {
                UDP_CHECKSUM
            };
        let Some(field) = buf.get(check_at..check_at + 2) else {
            return Offloaded::PerPacket;
        };
        let partial = u16::from_be_bytes([field[0], field[1]]);
        let partial = adjust_partial(partial, self.removed, self.added);
        let (ip_header, ip_len): (&[u8], usize) = match &self.family {
            Family::ToFour(h) => (h, 20),
            Family::ToSix(h) => (h, 40),
        };
        let Some(frame_start) = (l4_start - ip_len).checked_sub(vnet::LEN) else {
            return Offloaded::PerPacket;
        };
        let out = VnetHdr {
            flags: vnet::F_NEEDS_CSUM,
            gso_type: self.gso_type,
            hdr_len: (ip_len + self.l4.header_len) as u16,
            gso_size: self.l4.gso_size as u16,
            csum_start: ip_len as u16,
            csum_offset: (check_at - l4_start) as u16,
        };
        let Some(head) = buf.get_mut(frame_start..l4_start) else {
            return Offloaded::PerPacket;
        };
        let (vnet_part, ip_part) = head.split_at_mut(vnet::LEN);
        vnet_part.copy_from_slice(&out.to_bytes());
        ip_part.copy_from_slice(ip_header);
        wire::set_u16(buf, check_at, partial);
        Offloaded::Translated {
            frame: frame_start..end,
            segments: self.l4.segments,
        }
    }
}

/// A partial (pseudo-header) checksum field after data summing to `removed` left the
/// pseudo-header and data summing to `added` came in. Unlike a finished checksum it is not
/// complemented, so the update is a plain one's-complement sum.
pub fn adjust_partial(partial: u16, removed: u32, added: u32) -> u16 {
    checksum::fold(checksum::add(
        checksum::add(u32::from(partial), checksum::negate(removed)),
        added,
    ))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests;
