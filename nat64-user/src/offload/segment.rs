//! Cutting an offloaded packet in userspace into the ordinary packets it stands for, each
//! with a finished checksum, as the kernel's own GSO would: what [`super::gso`] does not
//! translate whole then goes through the per-packet translator segment by segment, so it is
//! answered, fragmented or dropped just as without offloads.

use nat64_common::checksum;
use nat64_common::wire::{ipv4, ipv6, l4, proto, tcp, udp};

use super::vnet::{Gso, VnetHdr};
use crate::translate::wire;

/// TCP flags that belong only to the last segment (FIN, PSH) and only to the first (CWR).
const TCP_FIN_PSH: u8 = tcp::flags::FIN | tcp::flags::PSH;
const TCP_CWR: u8 = tcp::flags::CWR;

/// Why an offloaded packet could not be cut: its header promises what the packet is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// Not IPv4 or IPv6, or shorter than its headers.
    BadPacket,
    /// The checksum position lies outside the packet.
    BadChecksumPlace,
    /// GSO of a kind or shape never negotiated (UFO, zero segment size, not TCP/UDP).
    BadGso,
}

impl SplitError {
    pub fn as_str(self) -> &'static str {
        match self {
            SplitError::BadPacket => "offloaded packet malformed",
            SplitError::BadChecksumPlace => "partial checksum outside the packet",
            SplitError::BadGso => "GSO type or size not usable",
        }
    }
}

/// The segments of the last [`split`], reusable.
#[derive(Debug, Default)]
pub struct Segments {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Segments {
    pub fn new() -> Segments {
        Segments {
            buf: Vec::with_capacity(2 * 65_536),
            ends: Vec::with_capacity(64),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        crate::translate::packets_in(&self.buf, &self.ends)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Cuts `packet` (an IP packet read with header `hdr`) into `out`: the segments of a
/// super-packet, or the packet itself with its checksum finished.
pub fn split(hdr: &VnetHdr, packet: &[u8], out: &mut Segments) -> Result<(), SplitError> {
    out.buf.clear();
    out.ends.clear();
    if hdr.gso() == Gso::None {
        out.buf.extend_from_slice(packet);
        if hdr.needs_csum() {
            finish_partial(
                &mut out.buf,
                usize::from(hdr.csum_start),
                usize::from(hdr.csum_offset),
            )?;
        }
        out.ends.push(out.buf.len());
        return Ok(());
    }
    let shape = Shape::of(hdr, packet)?;
    let gso_size = usize::from(hdr.gso_size);
    if gso_size == 0 {
        return Err(SplitError::BadGso);
    }
    let headers = packet
        .get(..shape.headers_len)
        .ok_or(SplitError::BadPacket)?;
    let payload = packet.get(shape.headers_len..).unwrap_or(&[]);
    let count = payload.len().div_ceil(gso_size).max(1);
    let mut chunks = payload.chunks(gso_size);
    for i in 0..count {
        let chunk = chunks.next().unwrap_or(&[]);
        let start = out.buf.len();
        out.buf.extend_from_slice(headers);
        out.buf.extend_from_slice(chunk);
        let segment = out.buf.get_mut(start..).unwrap_or(&mut []);
        shape.fix_segment(segment, i, count, gso_size);
        out.ends.push(out.buf.len());
    }
    Ok(())
}

/// Where the headers of a super-packet end and what they are.
struct Shape {
    v4: bool,
    ip_len: usize,
    proto: u8,
    headers_len: usize,
}

impl Shape {
    fn of(hdr: &VnetHdr, packet: &[u8]) -> Result<Shape, SplitError> {
        let (v4, ip_len, proto) = match packet.first().map(|b| b >> 4) {
            Some(4) => {
                let h = wire::parse_v4(packet).ok_or(SplitError::BadPacket)?;
                (true, h.header_len, h.proto)
            }
            Some(6) => {
                let h = wire::parse_v6(packet).map_err(|_| SplitError::BadPacket)?;
                if h.frag.is_some() {
                    return Err(SplitError::BadGso);
                }
                (false, h.l4_offset, h.proto)
            }
            _ => return Err(SplitError::BadPacket),
        };
        let l4_len = match (hdr.gso(), proto) {
            (Gso::Tcp4, proto::TCP) if v4 => tcp_header_len(packet, ip_len)?,
            (Gso::Tcp6, proto::TCP) if !v4 => tcp_header_len(packet, ip_len)?,
            (Gso::Udp, proto::UDP) => udp::LEN,
            _ => return Err(SplitError::BadGso),
        };
        let headers_len = ip_len + l4_len;
        if packet.len() < headers_len {
            return Err(SplitError::BadPacket);
        }
        Ok(Shape {
            v4,
            ip_len,
            proto,
            headers_len,
        })
    }

    /// Lengths, sequence number, flags, IPv4 identification and checksums of segment `i`
    /// of `count`, cut every `gso_size` payload bytes.
    fn fix_segment(&self, seg: &mut [u8], i: usize, count: usize, gso_size: usize) {
        let total = seg.len();
        if self.v4 {
            let id = wire::u16_at(seg, ipv4::field::ID)
                .unwrap_or(0)
                .wrapping_add(i as u16);
            wire::set_u16(seg, ipv4::field::TOTAL_LEN, total as u16);
            wire::set_u16(seg, ipv4::field::ID, id);
            wire::set_u16(seg, ipv4::field::CHECKSUM, 0);
            let c = checksum::finish(checksum::sum(seg.get(..self.ip_len).unwrap_or(&[]), 0));
            wire::set_u16(seg, ipv4::field::CHECKSUM, c);
        } else {
            wire::set_u16(seg, ipv6::field::PAYLOAD_LEN, (total - ipv6::LEN) as u16);
        }
        let l4_len = total - self.ip_len;
        let at = self.ip_len;
        let checksum_at = if self.proto == proto::TCP {
            let seq_at = at + tcp::field::SEQUENCE;
            let seq = u32::from_be_bytes(wire::array_at(seg, seq_at).unwrap_or([0; 4]));
            let seq = seq.wrapping_add((i * gso_size) as u32).to_be_bytes();
            if let Some(field) = seg.get_mut(seq_at..seq_at + 4) {
                field.copy_from_slice(&seq);
            }
            let mut flags = wire::u8_at(seg, at + tcp::field::FLAGS).unwrap_or(0);
            if i + 1 < count {
                flags &= !TCP_FIN_PSH;
            }
            if i > 0 {
                flags &= !TCP_CWR;
            }
            wire::set_u8(seg, at + tcp::field::FLAGS, flags);
            at + l4::checksum_offset(proto::TCP)
        } else {
            wire::set_u16(seg, at + udp::field::LENGTH, l4_len as u16);
            at + l4::checksum_offset(proto::UDP)
        };
        wire::set_u16(seg, checksum_at, 0);
        let pseudo = if self.v4 {
            checksum::pseudo_header_v4(
                wire::array_at(seg, ipv4::field::SRC).unwrap_or([0; 4]),
                wire::array_at(seg, ipv4::field::DST).unwrap_or([0; 4]),
                self.proto,
                l4_len as u16,
            )
        } else {
            checksum::pseudo_header_v6(
                &wire::array_at(seg, ipv6::field::SRC).unwrap_or([0; 16]),
                &wire::array_at(seg, ipv6::field::DST).unwrap_or([0; 16]),
                self.proto,
                l4_len as u32,
            )
        };
        let c = finished(checksum::sum(seg.get(at..).unwrap_or(&[]), pseudo));
        wire::set_u16(seg, checksum_at, c);
    }
}

fn tcp_header_len(packet: &[u8], ip_len: usize) -> Result<usize, SplitError> {
    let offset =
        wire::u8_at(packet, ip_len + tcp::field::DATA_OFFSET).ok_or(SplitError::BadPacket)?;
    let len = tcp::header_len(offset);
    if len < tcp::MIN_LEN {
        return Err(SplitError::BadPacket);
    }
    Ok(len)
}

/// Finishes the partial checksum whose field is at `start + offset`: the field already holds
/// the pseudo-header sum, so the data from `start` on is added and the total complemented.
pub fn finish_partial(packet: &mut [u8], start: usize, offset: usize) -> Result<(), SplitError> {
    let at = start
        .checked_add(offset)
        .ok_or(SplitError::BadChecksumPlace)?;
    if at + 2 > packet.len() {
        return Err(SplitError::BadChecksumPlace);
    }
    let c = finished(checksum::sum(packet.get(start..).unwrap_or(&[]), 0));
    wire::set_u16(packet, at, c);
    Ok(())
}

/// The checksum field for a sum, as the kernel writes it: a result of zero goes out as 0xffff
/// (the same one's-complement value), which UDP needs (zero means "no checksum" there).
fn finished(sum: u32) -> u16 {
    l4::udp_checksum_on_wire(checksum::finish(sum))
}
