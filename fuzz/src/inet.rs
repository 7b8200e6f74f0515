//! The Internet checksum (RFC 1071) written plainly, word by word, so the checks do not lean
//! on the shared arithmetic in `nat64_common::checksum` that the code under test uses.

/// One's-complement sum of `bytes` (an odd last byte padded with zero) added to `initial`,
/// folded to 16 bits.
pub fn sum(bytes: &[u8], initial: u32) -> u32 {
    let mut acc = u64::from(initial);
    for pair in bytes.chunks(2) {
        let hi = u64::from(pair.first().copied().unwrap_or(0));
        let lo = u64::from(pair.get(1).copied().unwrap_or(0));
        acc += (hi << 8) | lo;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// The checksum field value that makes `bytes` (with the field zero) sum to 0xffff.
pub fn checksum(bytes: &[u8], initial: u32) -> u16 {
    !(sum(bytes, initial) as u16)
}

/// Whether `bytes`, checksum field included, sum to 0xffff (or to zero, the other
/// representation of one's-complement zero, which an all-zero header sums to).
pub fn verifies(bytes: &[u8], initial: u32) -> bool {
    sum(bytes, initial) == 0xffff
}

/// Partial sum of the IPv4 pseudo-header.
pub fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, len: usize) -> u32 {
    let mut acc = sum(src, 0) + sum(dst, 0) + u32::from(proto);
    acc += (len & 0xffff) as u32;
    sum(&[], acc)
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: usize) -> u32 {
    let len = len as u32;
    let acc = sum(src, 0) + sum(dst, 0) + u32::from(next_header) + (len >> 16) + (len & 0xffff);
    sum(&[], acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of these words is ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&bytes, 0), 0xddf2);
        assert_eq!(checksum(&bytes, 0), !0xddf2);
    }

    #[test]
    fn a_filled_in_checksum_verifies() {
        let mut header = [
            0x45, 0, 0, 28, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 203, 0, 113, 5,
        ];
        let c = checksum(&header, 0).to_be_bytes();
        header[10] = c[0];
        header[11] = c[1];
        assert!(verifies(&header, 0));
        header[8] = 63;
        assert!(!verifies(&header, 0));
    }
}
