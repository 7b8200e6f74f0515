//! The IPv6 header (RFC 8200), its fixed 40 bytes.

use super::{be16, bytes, set_be16};

pub mod field {
    pub const VERSION_CLASS_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

pub const LEN: usize = 40;

#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6(pub [u8; LEN]);

impl Ipv6 {
    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Ipv6> {
        super::array(s).map(Ipv6)
    }

    /// A header with flow label zero (RFC 7915 §4.1).
    #[inline(always)]
    pub fn build(
        traffic_class: u8,
        payload_len: u16,
        next_header: u8,
        hop_limit: u8,
        src: &[u8; 16],
        dst: &[u8; 16],
    ) -> Ipv6 {
        let mut h = Ipv6([0; LEN]);
        h.0[0] = 0x60 | (traffic_class >> 4);
        h.0[1] = traffic_class << 4;
        set_be16(&mut h.0, field::PAYLOAD_LEN, payload_len);
        h.0[field::NEXT_HEADER] = next_header;
        h.0[field::HOP_LIMIT] = hop_limit;
        h.0[field::SRC..field::SRC + 16].copy_from_slice(src);
        h.0[field::DST..field::DST + 16].copy_from_slice(dst);
        h
    }

    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.0[0] >> 4
    }

    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        (self.0[0] << 4) | (self.0[1] >> 4)
    }

    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        be16(&self.0, field::PAYLOAD_LEN)
    }

    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.0[field::NEXT_HEADER]
    }

    #[inline(always)]
    pub fn hop_limit(&self) -> u8 {
        self.0[field::HOP_LIMIT]
    }

    #[inline(always)]
    pub fn src(&self) -> [u8; 16] {
        bytes(&self.0, field::SRC)
    }

    #[inline(always)]
    pub fn dst(&self) -> [u8; 16] {
        bytes(&self.0, field::DST)
    }

    #[inline(always)]
    pub fn set_payload_len(&mut self, len: u16) {
        set_be16(&mut self.0, field::PAYLOAD_LEN, len);
    }
}

/// The first bytes of a Hop-by-Hop, Destination Options or Routing header (RFC 8200 §4.3,
/// §4.4, §4.6): what a walk of the chain reads to step over one.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension(pub [u8; Extension::LEN]);

impl Extension {
    /// Bytes read: next header, length, and (Routing) type and segments left.
    pub const LEN: usize = 4;
    /// Offset of a Routing header's Segments Left field.
    pub const SEGMENTS_LEFT: usize = 3;

    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Extension> {
        super::array(s).map(Extension)
    }

    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.0[0]
    }

    /// Length of the whole header in bytes (the field counts 8-byte units after the first).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        (usize::from(self.0[1]) + 1) * 8
    }

    /// A Routing header's Segments Left.
    #[inline(always)]
    pub fn segments_left(&self) -> u8 {
        self.0[Self::SEGMENTS_LEFT]
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn built_headers_read_back() {
        let h = Ipv6::build(0xb8, 8, 17, 63, &[1; 16], &[2; 16]);
        assert_eq!(&h.0[..4], &[0x6b, 0x80, 0, 0]);
        assert_eq!(
            (h.version(), h.traffic_class(), h.payload_len()),
            (6, 0xb8, 8)
        );
        assert_eq!((h.next_header(), h.hop_limit()), (17, 63));
        assert_eq!((h.src(), h.dst()), ([1; 16], [2; 16]));
    }
}
