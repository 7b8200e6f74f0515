//! The IPv4 header (RFC 791), its fixed 20 bytes; options, when the header has them, follow.

use super::{be16, bytes, set_be16};
use crate::checksum;

/// Offsets of the fields, from the start of the header.
pub mod field {
    pub const VERSION_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const ID: usize = 4;
    pub const FLAGS_FRAGMENT: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTO: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

pub const LEN: usize = 20;
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET: u16 = 0x1fff;

/// RFC 7915 §5.1: a translated packet up to this many bytes leaves with DF clear and an
/// Identification of its own, so an IPv4 path MTU below 1280 cannot black-hole it; a larger
/// one leaves with DF set and Identification 0.
pub const DF_THRESHOLD: usize = 1260;

/// Whether a translated (unfragmented) IPv4 packet of `total_len` bytes carries DF.
#[inline(always)]
pub const fn dont_fragment_for(total_len: usize) -> bool {
    total_len > DF_THRESHOLD
}

/// The fixed part of an IPv4 header.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4(pub [u8; LEN]);

/// The fields of an IPv4 header without options, for building one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub tos: u8,
    pub total_len: u16,
    pub id: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    pub fragment_offset: u16,
    pub ttl: u8,
    pub proto: u8,
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

impl Ipv4 {
    /// The header at the start of `s`, when there are 20 bytes.
    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Ipv4> {
        super::array(s).map(Ipv4)
    }

    /// A 20-byte header built from `f`, checksum included.
    #[inline(always)]
    pub fn build(f: &Fields) -> Ipv4 {
        let mut h = Ipv4([0; LEN]);
        h.0[field::VERSION_IHL] = 0x45;
        h.0[field::TOS] = f.tos;
        set_be16(&mut h.0, field::TOTAL_LEN, f.total_len);
        set_be16(&mut h.0, field::ID, f.id);
        let flags = (u16::from(f.dont_fragment) << 14)
            | (u16::from(f.more_fragments) << 13)
            | (f.fragment_offset & OFFSET);
        set_be16(&mut h.0, field::FLAGS_FRAGMENT, flags);
        h.0[field::TTL] = f.ttl;
        h.0[field::PROTO] = f.proto;
        h.set_src(f.src);
        h.set_dst(f.dst);
        h.fill_checksum();
        h
    }

    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.0[field::VERSION_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.0[field::VERSION_IHL] & 0x0f) * 4
    }

    #[inline(always)]
    pub fn tos(&self) -> u8 {
        self.0[field::TOS]
    }

    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        be16(&self.0, field::TOTAL_LEN)
    }

    #[inline(always)]
    pub fn id(&self) -> u16 {
        be16(&self.0, field::ID)
    }

    #[inline(always)]
    fn flags_fragment(&self) -> u16 {
        be16(&self.0, field::FLAGS_FRAGMENT)
    }

    #[inline(always)]
    pub fn dont_fragment(&self) -> bool {
        self.flags_fragment() & DF != 0
    }

    #[inline(always)]
    pub fn more_fragments(&self) -> bool {
        self.flags_fragment() & MF != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline(always)]
    pub fn fragment_offset(&self) -> u16 {
        self.flags_fragment() & OFFSET
    }

    /// Whether the flags and offset say anything but DF: a fragment, or the reserved bit.
    #[inline(always)]
    pub fn more_than_dont_fragment(&self) -> bool {
        self.flags_fragment() & !DF != 0
    }

    /// A real fragment (not the whole datagram): its transport checksum covers bytes it
    /// does not carry.
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        self.flags_fragment() & (MF | OFFSET) != 0
    }

    #[inline(always)]
    pub fn ttl(&self) -> u8 {
        self.0[field::TTL]
    }

    #[inline(always)]
    pub fn proto(&self) -> u8 {
        self.0[field::PROTO]
    }

    #[inline(always)]
    pub fn src(&self) -> [u8; 4] {
        bytes(&self.0, field::SRC)
    }

    #[inline(always)]
    pub fn dst(&self) -> [u8; 4] {
        bytes(&self.0, field::DST)
    }

    #[inline(always)]
    pub fn set_total_len(&mut self, len: u16) {
        set_be16(&mut self.0, field::TOTAL_LEN, len);
    }

    #[inline(always)]
    pub fn set_id(&mut self, id: u16) {
        set_be16(&mut self.0, field::ID, id);
    }

    #[inline(always)]
    pub fn set_dont_fragment(&mut self, df: bool) {
        let flags = (self.flags_fragment() & !DF) | if df { DF } else { 0 };
        set_be16(&mut self.0, field::FLAGS_FRAGMENT, flags);
    }

    #[inline(always)]
    pub fn set_src(&mut self, a: [u8; 4]) {
        self.0[field::SRC..field::SRC + 4].copy_from_slice(&a);
    }

    #[inline(always)]
    pub fn set_dst(&mut self, a: [u8; 4]) {
        self.0[field::DST..field::DST + 4].copy_from_slice(&a);
    }

    /// Computes the header checksum over the fixed 20 bytes (a header without options).
    #[inline(always)]
    pub fn fill_checksum(&mut self) {
        set_be16(&mut self.0, field::CHECKSUM, 0);
        let c = checksum::finish(checksum::sum_array(&self.0, 0));
        set_be16(&mut self.0, field::CHECKSUM, c);
    }

    /// Whether the checksum over the fixed 20 bytes is right (a header without options;
    /// with options, check the whole header with [`header_checksum_ok`]).
    #[inline(always)]
    pub fn checksum_ok(&self) -> bool {
        checksum::fold(checksum::sum_array(&self.0, 0)) == 0xffff
    }
}

/// Whether the checksum of a whole header, options included, is right.
#[inline(always)]
pub fn header_checksum_ok(header: &[u8]) -> bool {
    checksum::fold(checksum::sum(header, 0)) == 0xffff
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn built_headers_read_back_and_check() {
        let h = Ipv4::build(&Fields {
            tos: 0xb8,
            total_len: 1300,
            id: 0x1234,
            dont_fragment: true,
            more_fragments: false,
            fragment_offset: 0,
            ttl: 63,
            proto: 17,
            src: [198, 51, 100, 2],
            dst: [192, 0, 2, 33],
        });
        assert!(h.checksum_ok());
        assert_eq!(h.0[6], 0x40);
        assert_eq!(
            (h.version(), h.header_len(), h.total_len(), h.id()),
            (4, 20, 1300, 0x1234)
        );
        assert!(h.dont_fragment() && !h.more_fragments() && !h.is_fragment());
        assert_eq!((h.ttl(), h.proto(), h.tos()), (63, 17, 0xb8));
        assert_eq!((h.src(), h.dst()), ([198, 51, 100, 2], [192, 0, 2, 33]));
    }

    #[test]
    fn fragments_and_the_df_rule() {
        let mut raw = [0u8; 20];
        raw[0] = 0x46;
        raw[6] = 0x20;
        raw[7] = 0x03;
        let h = Ipv4(raw);
        assert_eq!(h.header_len(), 24);
        assert!(h.more_fragments() && h.is_fragment());
        assert_eq!(h.fragment_offset(), 3);
        assert!(!dont_fragment_for(1260) && dont_fragment_for(1261));
        assert_eq!(Ipv4::from_slice(&[0u8; 19]), None);
    }
}
