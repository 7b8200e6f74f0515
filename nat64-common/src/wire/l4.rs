//! What a translator needs of TCP and UDP: where their checksum sits, how long a header must
//! at least be for it to be there, and UDP's "no checksum".

use super::proto;

/// Offset of the checksum inside the transport header; the ICMP one for ICMP of either
/// family.
#[inline(always)]
pub const fn checksum_offset(p: u8) -> usize {
    match p {
        proto::TCP => 16,
        proto::UDP => 6,
        _ => 2,
    }
}

/// The shortest first fragment whose transport checksum can be adjusted: the whole TCP or
/// UDP header (TAYGA drops shorter ones), the 8-byte header of ICMP.
#[inline(always)]
pub const fn min_header_len(p: u8) -> usize {
    match p {
        proto::TCP => 20,
        proto::UDP | proto::ICMP | proto::ICMPV6 => 8,
        _ => 0,
    }
}

/// TCP's header length from its data offset (the 13th byte's high nibble).
#[inline(always)]
pub const fn tcp_header_len(data_offset_byte: u8) -> usize {
    (data_offset_byte >> 4) as usize * 4
}

/// Offset of TCP's data offset byte.
pub const TCP_DATA_OFFSET: usize = 12;

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
