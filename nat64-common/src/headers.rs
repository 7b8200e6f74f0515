//! The IP headers a translation writes: kept for the callers that build them field by field;
//! the layout itself is `wire::ipv4` and `wire::ipv6`.

pub use crate::wire::ipv4::Fields as Ipv4Fields;
use crate::wire::{ipv4::Ipv4, ipv6::Ipv6};

/// The 20-byte IPv4 header, checksum included.
#[inline(always)]
pub fn ipv4(f: &Ipv4Fields) -> [u8; 20] {
    Ipv4::build(f).0
}

/// The 40-byte IPv6 header; flow label zero (RFC 7915 §4.1).
#[inline(always)]
pub fn ipv6(
    traffic_class: u8,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: &[u8; 16],
    dst: &[u8; 16],
) -> [u8; 40] {
    Ipv6::build(traffic_class, payload_len, next_header, hop_limit, src, dst).0
}
