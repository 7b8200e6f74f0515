//! Offloaded packets — GSO super-packets and packets whose transport checksum is still partial,
//! as a TUN queue with a `virtio_net_hdr` hands them over — translated once, headers only, in
//! place in the read buffer, and returned with the header that lets the kernel cut (or pass on)
//! the result.
//!
//! Only the plain case is taken here, decided by the plan every datapath shares
//! (`nat64_common::plan`, the segment size telling it which MTU rule applies): TCP or UDP
//! right after a bare IP header, both addresses mapped, hop limit left, and every segment
//! within the MTU the per-packet path would allow. Anything else is [`Offloaded::PerPacket`]:
//! the caller cuts it in userspace ([`super::segment`]) and gives each segment to
//! [`Translator::translate`], which answers, fragments or drops it exactly as it would have
//! without offloads.
//!
//! The checksum field of such a packet holds the folded pseudo-header sum (not complemented,
//! the data not yet added), over the super-packet's whole transport length. TCP and UDP put the
//! same protocol number and length in both pseudo-headers, so only the addresses change: the
//! plan's sums come out of the partial sum and go in ([`plan::Plan::new_partial_checksum`]).

use std::ops::Range;

use nat64_common::counters::Outcome;
use nat64_common::plan::{self, Packet};
use nat64_common::wire::{self as common_wire, ipv4, ipv6, l4, proto, tcp};

use super::vnet::{self, Gso, VnetHdr};
use crate::translate::{wire, DynamicMap, Translator};

/// Free bytes the read buffer keeps before the `virtio_net_hdr`, so that IPv4 → IPv6, whose
/// header is 20 bytes longer, is written in place too.
pub const HEADROOM: usize = 20;

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
    let written = match packet.first().map(|b| b >> 4) {
        Some(6) => decide_six_to_four(tr, &hdr, packet, map).map(|d| d.write(buf, len)),
        Some(4) => decide_four_to_six(tr, &hdr, packet, map).map(|d| d.write(buf, len)),
        _ => None,
    };
    written.unwrap_or(Offloaded::PerPacket)
}

/// The packet after the `virtio_net_hdr`, as the plan reads it: one GSO segment is what
/// goes on the wire.
struct Offload<'a> {
    pkt: &'a [u8],
    gso_size: u32,
}

impl Packet for Offload<'_> {
    const TRAILER_ALLOWED: bool = false;

    fn len(&self) -> u32 {
        u32::try_from(self.pkt.len()).unwrap_or(u32::MAX)
    }

    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome> {
        self.pkt
            .get(offset..)
            .and_then(common_wire::array)
            .ok_or(Outcome::PassTruncated)
    }

    fn gso_size(&self) -> u32 {
        self.gso_size
    }
}

/// The transport layer of an offloaded packet, checked against its `virtio_net_hdr`.
#[derive(Clone, Copy, Debug)]
struct Transport {
    /// Transport header length (TCP data offset, or 8).
    header_len: usize,
    segments: u32,
    /// Payload bytes per segment; 0 when not GSO.
    gso_size: usize,
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
    let header_len = match proto {
        proto::TCP => tcp::header_len(wire::u8_at(l4, tcp::field::DATA_OFFSET)?),
        proto::UDP => l4::min_header_len(proto::UDP),
        _ => return None,
    };
    if usize::from(hdr.csum_offset) != l4::checksum_offset(proto)
        || header_len < 8
        || l4.len() < header_len
    {
        return None;
    }
    let gso_size = match (hdr.gso(), proto) {
        (Gso::None, _) => 0,
        (gso, proto::TCP) if gso == tcp_gso => usize::from(hdr.gso_size),
        (Gso::Udp, proto::UDP) => usize::from(hdr.gso_size),
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
        header_len,
        segments: u32::try_from(segments).ok()?,
        gso_size,
    })
}

/// What one translation writes: the plan (new IP header, partial checksum change) and the
/// new `virtio_net_hdr`'s parts.
struct Decided<const H: usize> {
    plan: plan::Plan<H, ()>,
    l4: Transport,
    gso_type: u8,
}

fn decide_six_to_four<M: DynamicMap>(
    tr: &Translator,
    hdr: &VnetHdr,
    pkt: &[u8],
    map: &mut M,
) -> Option<Decided<{ ipv4::LEN }>> {
    let next_header = *pkt.get(ipv6::field::NEXT_HEADER)?;
    let l4 = transport(
        hdr,
        ipv6::LEN,
        next_header,
        pkt.get(ipv6::LEN..)?,
        Gso::Tcp6,
    )?;
    let packet = Offload {
        pkt,
        gso_size: l4.gso_size as u32,
    };
    let plan = match tr.plan_six_to_four(&packet, map) {
        // A host seen for the first time: its address is allocated as a step of its own (the
        // plan only looks up), then the plan is made again.
        Err(Outcome::PassNoSourceMapping) => {
            let src = common_wire::array(pkt.get(ipv6::field::SRC..)?)?;
            if !tr.allocate_source(&src, map) {
                return None;
            }
            tr.plan_six_to_four(&packet, map).ok()?
        }
        planned => planned.ok()?,
    };
    Some(Decided {
        plan,
        l4,
        gso_type: out_gso_type(hdr, vnet::GSO_TCPV4),
    })
}

fn decide_four_to_six<M: DynamicMap>(
    tr: &Translator,
    hdr: &VnetHdr,
    pkt: &[u8],
    map: &mut M,
) -> Option<Decided<{ ipv6::LEN }>> {
    let protocol = *pkt.get(ipv4::field::PROTO)?;
    let l4 = transport(hdr, ipv4::LEN, protocol, pkt.get(ipv4::LEN..)?, Gso::Tcp4)?;
    let packet = Offload {
        pkt,
        gso_size: l4.gso_size as u32,
    };
    let plan = tr.plan_four_to_six(&packet, map).ok()?;
    Some(Decided {
        plan,
        l4,
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

impl<const H: usize> Decided<H> {
    /// Writes the new `virtio_net_hdr` and IP header in front of the transport part, where
    /// the old ones end (the old header is 60 - H bytes long), and the partial checksum.
    fn write(self, buf: &mut [u8], len: usize) -> Offloaded {
        let old_ip_len = 60 - H;
        let l4_start = HEADROOM + vnet::LEN + old_ip_len;
        let end = HEADROOM + len;
        let check_at = l4_start + self.plan.checksum_offset();
        let Some(field) = buf.get(check_at..check_at + 2) else {
            return Offloaded::PerPacket;
        };
        let partial = self
            .plan
            .new_partial_checksum(u16::from_be_bytes([field[0], field[1]]));
        let Some(frame_start) = (l4_start - H).checked_sub(vnet::LEN) else {
            return Offloaded::PerPacket;
        };
        let out = VnetHdr {
            flags: vnet::F_NEEDS_CSUM,
            gso_type: self.gso_type,
            hdr_len: (H + self.l4.header_len) as u16,
            gso_size: self.l4.gso_size as u16,
            csum_start: H as u16,
            csum_offset: self.plan.checksum_offset() as u16,
        };
        let Some(head) = buf.get_mut(frame_start..l4_start) else {
            return Offloaded::PerPacket;
        };
        let (vnet_part, ip_part) = head.split_at_mut(vnet::LEN);
        vnet_part.copy_from_slice(&out.to_bytes());
        ip_part.copy_from_slice(&self.plan.header);
        wire::set_u16(buf, check_at, partial);
        Offloaded::Translated {
            frame: frame_start..end,
            segments: self.l4.segments,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests;
