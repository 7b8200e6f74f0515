//! Bounds-checked reads and writes of big-endian header fields. Reads return `None` past the
//! end; writes past the end are ignored (callers only write where they have just reserved room).

use nat64_common::wire::{
    fragment::{self, Fragment},
    ipv4::{self, Ipv4},
    ipv6::{self, Extension, Ipv6},
    proto,
};

#[inline(always)]
pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

#[inline(always)]
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

#[inline(always)]
pub(crate) fn array_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let s = b.get(off..off.checked_add(N)?)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Some(a)
}

#[inline(always)]
pub(crate) fn set_u8(b: &mut [u8], off: usize, v: u8) {
    if let Some(x) = b.get_mut(off) {
        *x = v;
    }
}

#[inline(always)]
pub(crate) fn set_u16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off.saturating_add(2)) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Fragment information, from an IPv6 Fragment header or the IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frag {
    /// Offset in 8-byte units.
    pub offset: u16,
    pub more: bool,
    pub id: u32,
}

impl Frag {
    /// Whether this is a real fragment (not an atomic one): its transport checksum covers
    /// bytes this packet does not carry.
    pub fn is_fragmented(&self) -> bool {
        self.offset != 0 || self.more
    }
}

/// The parsed fixed part and extension chain of an IPv6 packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V6Headers {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub traffic_class: u8,
    pub hop_limit: u8,
    pub payload_len: u16,
    /// Upper-layer protocol (or the next header after a non-first fragment's Fragment header).
    pub proto: u8,
    /// Offset of the upper-layer data from the start of the IPv6 header.
    pub l4_offset: usize,
    pub frag: Option<Frag>,
    /// A Routing header with segments left: the offset of that field (RFC 7915 §5.1 refuses
    /// the packet with a Parameter Problem pointing there).
    pub segments_left_at: Option<u32>,
}

/// Why an IPv6 header chain was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V6Error {
    Truncated,
    BadHeader,
    BadExtension,
}

/// Upper bound on extension headers walked, so the loop is bounded (and eBPF-shaped).
const MAX_EXTENSION_HEADERS: usize = 8;

/// Parses the IPv6 header and walks the extension headers RFC 7915 skips. `pkt` may be a
/// truncated quote (inside an ICMP error): only the headers have to be present.
pub(crate) fn parse_v6(pkt: &[u8]) -> Result<V6Headers, V6Error> {
    if u8_at(pkt, 0).ok_or(V6Error::Truncated)? >> 4 != 6 {
        return Err(V6Error::BadHeader);
    }
    let ip = Ipv6::from_slice(pkt).ok_or(V6Error::Truncated)?;
    let mut nh = ip.next_header();
    let mut off = ipv6::LEN;
    let mut frag = None;
    let mut segments_left_at = None;
    for _ in 0..MAX_EXTENSION_HEADERS {
        match nh {
            proto::HOP_BY_HOP | proto::DEST_OPTS | proto::ROUTING => {
                let ext = pkt
                    .get(off..)
                    .and_then(Extension::from_slice)
                    .ok_or(V6Error::Truncated)?;
                if nh == proto::ROUTING && segments_left_at.is_none() && ext.segments_left() != 0 {
                    segments_left_at = Some((off + Extension::SEGMENTS_LEFT) as u32);
                }
                if pkt.len() < off + ext.header_len() {
                    return Err(V6Error::Truncated);
                }
                nh = ext.next_header();
                off += ext.header_len();
            }
            proto::FRAGMENT => {
                let fh = pkt
                    .get(off..)
                    .and_then(Fragment::from_slice)
                    .ok_or(V6Error::Truncated)?;
                let f = Frag {
                    offset: fh.offset(),
                    more: fh.more(),
                    id: fh.id(),
                };
                if frag.is_some() {
                    return Err(V6Error::BadExtension);
                }
                frag = Some(f);
                nh = fh.next_header();
                off += fragment::LEN;
                if f.offset != 0 {
                    // The rest is the middle of the original payload, not headers.
                    break;
                }
            }
            _ => break,
        }
    }
    if matches!(nh, proto::HOP_BY_HOP | proto::DEST_OPTS | proto::ROUTING)
        && frag.is_none_or(|f| f.offset == 0)
    {
        return Err(V6Error::BadExtension);
    }
    if off > ipv6::LEN + usize::from(ip.payload_len()) {
        return Err(V6Error::BadHeader);
    }
    Ok(V6Headers {
        src: ip.src(),
        dst: ip.dst(),
        traffic_class: ip.traffic_class(),
        hop_limit: ip.hop_limit(),
        payload_len: ip.payload_len(),
        proto: nh,
        l4_offset: off,
        frag,
        segments_left_at,
    })
}

/// The parsed IPv4 header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4Header {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub tos: u8,
    pub ttl: u8,
    pub total_len: u16,
    pub header_len: usize,
    pub proto: u8,
    pub dont_fragment: bool,
    pub frag: Frag,
}

/// Parses an IPv4 header; `pkt` may be a truncated quote, only the header must be present.
pub(crate) fn parse_v4(pkt: &[u8]) -> Option<V4Header> {
    let ip = Ipv4::from_slice(pkt)?;
    if ip.version() != 4 {
        return None;
    }
    let header_len = ip.header_len();
    let total_len = ip.total_len();
    if header_len < ipv4::LEN || usize::from(total_len) < header_len || pkt.len() < header_len {
        return None;
    }
    Some(V4Header {
        src: ip.src(),
        dst: ip.dst(),
        tos: ip.tos(),
        ttl: ip.ttl(),
        total_len,
        header_len,
        proto: ip.proto(),
        dont_fragment: ip.dont_fragment(),
        frag: Frag {
            offset: ip.fragment_offset(),
            more: ip.more_fragments(),
            id: u32::from(ip.id()),
        },
    })
}

/// Writes a 20-byte IPv4 header (no options) with its checksum.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_v4_header(
    out: &mut Vec<u8>,
    tos: u8,
    total_len: u16,
    id: u16,
    dont_fragment: bool,
    frag_offset: u16,
    more: bool,
    ttl: u8,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
) {
    out.extend_from_slice(
        &Ipv4::build(&ipv4::Fields {
            tos,
            total_len,
            id,
            dont_fragment,
            more_fragments: more,
            fragment_offset: frag_offset,
            ttl,
            proto,
            src,
            dst,
        })
        .0,
    );
}

/// Writes an IPv6 Fragment header.
pub(crate) fn write_fragment_header(
    out: &mut Vec<u8>,
    next_header: u8,
    offset: u16,
    more: bool,
    id: u32,
) {
    let field = (offset << 3) | u16::from(more);
    let mut h = [0u8; 8];
    h[0] = next_header;
    h[2..4].copy_from_slice(&field.to_be_bytes());
    h[4..8].copy_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&h);
}
