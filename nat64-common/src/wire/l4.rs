//! What a translator needs of TCP and UDP: where their checksum sits, how long a header must
//! at least be for it to be there, and UDP's "no checksum".

use super::{proto, tcp, udp};

/// Offset of the checksum inside the transport header; the ICMP one for ICMP of either
/// family.
#[inline(always)]
pub const fn checksum_offset(p: u8) -> usize {
    match p {
        proto::TCP => tcp::field::CHECKSUM,
        proto::UDP => udp::field::CHECKSUM,
        _ => super::icmp::field::CHECKSUM,
    }
}

/// The shortest first fragment whose transport checksum can be adjusted: the whole TCP or
/// UDP header (TAYGA drops shorter ones), the 8-byte header of ICMP.
#[inline(always)]
pub const fn min_header_len(p: u8) -> usize {
    match p {
        proto::TCP => tcp::MIN_LEN,
        proto::UDP => udp::LEN,
        proto::ICMP | proto::ICMPV6 => super::icmp::HEADER_LEN,
        _ => 0,
    }
}

/// A UDP checksum that is zero means "none" (legal in IPv4 only, RFC 768 / RFC 8200 §8.1);
/// a computed zero is sent as 0xffff instead.
#[inline(always)]
pub const fn udp_checksum_on_wire(c: u16) -> u16 {
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// A computed transport checksum as `p`'s header carries it (UDP's zero is 0xffff).
#[inline(always)]
pub const fn checksum_on_wire(p: u8, c: u16) -> u16 {
    if p == proto::UDP {
        udp_checksum_on_wire(c)
    } else {
        c
    }
}
