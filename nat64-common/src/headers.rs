//! The IP headers a translation writes, built the same way by the userspace translator and
//! the kernel programs.

use crate::checksum;

/// The fields of an IPv4 header without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Fields {
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

/// The 20-byte IPv4 header, checksum included.
#[inline(always)]
pub fn ipv4(f: &Ipv4Fields) -> [u8; 20] {
    let flags = (u16::from(f.dont_fragment) << 14)
        | (u16::from(f.more_fragments) << 13)
        | (f.fragment_offset & 0x1fff);
    let len = f.total_len.to_be_bytes();
    let id = f.id.to_be_bytes();
    let flags = flags.to_be_bytes();
    let (s, d) = (f.src, f.dst);
    let mut h = [
        0x45, f.tos, len[0], len[1], id[0], id[1], flags[0], flags[1], f.ttl, f.proto, 0, 0, s[0],
        s[1], s[2], s[3], d[0], d[1], d[2], d[3],
    ];
    let c = checksum::finish(checksum::sum_array(&h, 0)).to_be_bytes();
    h[10] = c[0];
    h[11] = c[1];
    h
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
    let mut h = [0u8; 40];
    h[0] = 0x60 | (traffic_class >> 4);
    h[1] = traffic_class << 4;
    let len = payload_len.to_be_bytes();
    h[4] = len[0];
    h[5] = len[1];
    h[6] = next_header;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(src);
    h[24..40].copy_from_slice(dst);
    h
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksums_to_zero_and_carries_the_flags() {
        let h = ipv4(&Ipv4Fields {
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
        assert_eq!(checksum::fold(checksum::sum_array(&h, 0)), 0xffff);
        assert_eq!(h[6], 0x40);
        assert_eq!(&h[2..4], &1300u16.to_be_bytes());
    }

    #[test]
    fn ipv6_header_splits_the_traffic_class() {
        let h = ipv6(0xb8, 8, 17, 63, &[1; 16], &[2; 16]);
        assert_eq!(&h[..4], &[0x6b, 0x80, 0, 0]);
        assert_eq!(h[7], 63);
    }
}
