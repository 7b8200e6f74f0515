//! A small IP parser of the fuzzer's own: strict for what the translator writes, lenient
//! for what it was given, independent of the translator's `wire` module it checks (a wrong
//! number there must not be shared by the check). The generators take their numbers from
//! here too.

use crate::inet;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
pub const HOP_BY_HOP: u8 = 0;
pub const ROUTING: u8 = 43;
pub const FRAGMENT: u8 = 44;
pub const DEST_OPTS: u8 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag {
    /// In 8-byte units.
    pub offset: u16,
    pub more: bool,
    pub id: u32,
}

impl Frag {
    pub fn is_fragment(&self) -> bool {
        self.offset != 0 || self.more
    }
}

/// One packet's IP layer.
#[derive(Clone, Copy, Debug)]
pub struct Ip<'a> {
    pub v6: bool,
    pub src: &'a [u8],
    pub dst: &'a [u8],
    /// The upper-layer protocol (after any Fragment header).
    pub proto: u8,
    pub hop_limit: u8,
    pub frag: Option<Frag>,
    /// The bytes after the IP headers, up to the length the header declares.
    pub upper: &'a [u8],
    /// Whether the IPv4 header checksum is right (always true for IPv6).
    pub header_checksum_ok: bool,
    /// The IPv4 Don't Fragment flag.
    pub dont_fragment: bool,
}

impl Ip<'_> {
    pub fn is_fragment(&self) -> bool {
        self.frag.is_some_and(|f| f.is_fragment())
    }

    /// The pseudo-header sum for `len` bytes of this packet's upper layer.
    pub fn pseudo(&self, len: usize) -> u32 {
        match (
            <[u8; 16]>::try_from(self.src),
            <[u8; 16]>::try_from(self.dst),
            <[u8; 4]>::try_from(self.src),
            <[u8; 4]>::try_from(self.dst),
        ) {
            (Ok(s), Ok(d), _, _) => inet::pseudo_v6(&s, &d, self.proto, len),
            (_, _, Ok(s), Ok(d)) => inet::pseudo_v4(&s, &d, self.proto, len),
            _ => 0,
        }
    }
}

/// Parses a packet the translator wrote: lengths exact, at most one Fragment header and no
/// other extension header (the translator writes none).
pub fn parse_output(p: &[u8]) -> Result<Ip<'_>, String> {
    match p.first().map(|b| b >> 4) {
        Some(4) => parse_v4(p, true),
        Some(6) => parse_v6(p, true),
        Some(v) => Err(format!("version {v}")),
        None => Err("empty packet".into()),
    }
}

/// Parses a packet as it was handed to the translator; `None` when it is not one whose
/// headers add up.
pub fn parse_input(p: &[u8]) -> Option<Ip<'_>> {
    match p.first().map(|b| b >> 4) {
        Some(4) => parse_v4(p, false).ok(),
        Some(6) => parse_v6(p, false).ok(),
        _ => None,
    }
}

fn parse_v4(p: &[u8], strict: bool) -> Result<Ip<'_>, String> {
    let header: &[u8; 20] = p
        .get(..20)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| format!("IPv4 packet of {} bytes", p.len()))?;
    let ihl = usize::from(header[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if strict && ihl != 20 {
        return Err(format!(
            "IPv4 header length {ihl} (the translator writes no options)"
        ));
    }
    if strict && total != p.len() {
        return Err(format!(
            "IPv4 total length {total} in a {}-byte packet",
            p.len()
        ));
    }
    if ihl < 20 || total < ihl || total > p.len() {
        return Err(format!(
            "IPv4 header length {ihl}, total {total}, {} bytes",
            p.len()
        ));
    }
    let flags = u16::from_be_bytes([header[6], header[7]]);
    let frag = Frag {
        offset: flags & 0x1fff,
        more: flags & 0x2000 != 0,
        id: u32::from(u16::from_be_bytes([header[4], header[5]])),
    };
    Ok(Ip {
        v6: false,
        src: p.get(12..16).unwrap_or(&[]),
        dst: p.get(16..20).unwrap_or(&[]),
        proto: header[9],
        hop_limit: header[8],
        frag: Some(frag),
        upper: p.get(ihl..total).unwrap_or(&[]),
        header_checksum_ok: inet::verifies(p.get(..ihl).unwrap_or(&[]), 0),
        dont_fragment: flags & 0x4000 != 0,
    })
}

fn parse_v6(p: &[u8], strict: bool) -> Result<Ip<'_>, String> {
    if p.len() < 40 {
        return Err(format!("IPv6 packet of {} bytes", p.len()));
    }
    let end = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
    if strict && end != p.len() {
        return Err(format!(
            "IPv6 payload length {} in a {}-byte packet",
            end - 40,
            p.len()
        ));
    }
    if end > p.len() {
        return Err(format!("IPv6 payload length {} past the packet", end - 40));
    }
    let mut nh = p[6];
    let mut at = 40;
    let mut frag = None;
    // Bounded: each step moves at least 8 bytes into a packet of at most 64 KiB.
    loop {
        match nh {
            FRAGMENT => {
                if frag.is_some() {
                    return Err("two Fragment headers".into());
                }
                let h = p.get(at..at + 8).ok_or("Fragment header past the end")?;
                let field = u16::from_be_bytes([h[2], h[3]]);
                let f = Frag {
                    offset: field >> 3,
                    more: field & 1 != 0,
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                };
                frag = Some(f);
                nh = h[0];
                at += 8;
                if f.offset != 0 {
                    break;
                }
            }
            HOP_BY_HOP | ROUTING | DEST_OPTS if !strict => {
                let h = p.get(at..at + 2).ok_or("extension header past the end")?;
                nh = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                return Err(format!("extension header {nh} in a translated packet"))
            }
            _ => break,
        }
        if at > end {
            return Err("extension headers past the payload".into());
        }
    }
    Ok(Ip {
        v6: true,
        src: p.get(8..24).unwrap_or(&[]),
        dst: p.get(24..40).unwrap_or(&[]),
        proto: nh,
        hop_limit: p[7],
        frag,
        upper: p.get(at..end).unwrap_or(&[]),
        header_checksum_ok: true,
        dont_fragment: false,
    })
}

/// Whether the transport checksum of a whole (unfragmented) message `upper` of `ip` is
/// right; `None` for protocols without one, for fragments and for cut-short headers.
pub fn transport_checksum_ok(ip: &Ip<'_>, upper: &[u8]) -> Option<bool> {
    let pseudo = match ip.proto {
        PROTO_TCP if upper.len() >= 20 => ip.pseudo(upper.len()),
        PROTO_UDP if upper.len() >= 8 => ip.pseudo(upper.len()),
        PROTO_ICMPV6 if ip.v6 && upper.len() >= 4 => ip.pseudo(upper.len()),
        PROTO_ICMP if !ip.v6 && upper.len() >= 4 => 0,
        _ => return None,
    };
    Some(inet::verifies(upper, pseudo))
}

/// A UDP message sent without a checksum (IPv4 allows it).
pub fn udp_checksum_zero(ip: &Ip<'_>, upper: &[u8]) -> bool {
    ip.proto == PROTO_UDP && upper.get(6..8) == Some(&[0, 0])
}
