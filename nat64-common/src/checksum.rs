//! Internet checksum arithmetic (RFC 1071) and incremental update (RFC 1624).
//!
//! Partial sums are `u32` values that have not been folded or complemented; they can be
//! added together with [`add`] and turned into a checksum field with [`finish`].

/// Adds `bytes` (big-endian 16-bit words, an odd last byte padded with zero) to `initial`.
#[inline(always)]
pub fn sum(bytes: &[u8], initial: u32) -> u32 {
    // 32-bit words summed into 64 bits: a word hi·2^16 + lo is congruent to hi + lo modulo
    // 0xffff, so folding the total gives the same one's-complement sum as 16-bit words.
    let mut acc = u64::from(initial);
    let mut words = bytes.chunks_exact(4);
    for w in words.by_ref() {
        if let [a, b, c, d] = w {
            acc += u64::from(u32::from_be_bytes([*a, *b, *c, *d]));
        }
    }
    match words.remainder() {
        [a, b, c] => acc += (u64::from(*a) << 8) + u64::from(*b) + (u64::from(*c) << 8),
        [a, b] => acc += (u64::from(*a) << 8) + u64::from(*b),
        [a] => acc += u64::from(*a) << 8,
        _ => {}
    }
    fold64(acc)
}

/// Like [`sum`] for a fixed-size block, for callers (eBPF) that want a bounded loop.
#[inline(always)]
pub fn sum_array<const N: usize>(bytes: &[u8; N], initial: u32) -> u32 {
    sum(bytes.as_slice(), initial)
}

#[inline(always)]
fn fold64(mut acc: u64) -> u32 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u32
}

/// One's-complement addition of two partial sums.
#[inline(always)]
pub fn add(a: u32, b: u32) -> u32 {
    fold64(u64::from(a) + u64::from(b))
}

/// Adds one 16-bit word to a partial sum.
#[inline(always)]
pub fn add_word(acc: u32, word: u16) -> u32 {
    add(acc, u32::from(word))
}

/// Folds a partial sum into 16 bits (not complemented).
#[inline(always)]
pub fn fold(acc: u32) -> u16 {
    let mut a = (acc & 0xffff) + (acc >> 16);
    a = (a & 0xffff) + (a >> 16);
    a as u16
}

/// The checksum field for a partial sum: folded and complemented.
#[inline(always)]
pub fn finish(acc: u32) -> u16 {
    !fold(acc)
}

/// The partial sum that, added, removes `acc` from a sum (one's-complement negation).
#[inline(always)]
pub fn negate(acc: u32) -> u32 {
    u32::from(!fold(acc))
}

/// RFC 1624 eqn. 3: the new checksum field after one 16-bit word changed from `old` to `new`.
#[inline(always)]
pub fn update_word(check: u16, old: u16, new: u16) -> u16 {
    // HC' = ~(~HC + ~m + m')
    let acc = u32::from(!check) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// RFC 1624 eqn. 3 for a block of equal length (`old` replaced by `new`).
#[inline(always)]
pub fn update_bytes<const N: usize>(check: u16, old: &[u8; N], new: &[u8; N]) -> u16 {
    adjust(check, sum_array(old, 0), sum_array(new, 0))
}

/// RFC 1624 eqn. 3 for arbitrary changes: the checksum field after data summing to
/// `removed` was taken out of the covered data and data summing to `added` was put in.
#[inline(always)]
pub fn adjust(check: u16, removed: u32, added: u32) -> u16 {
    let acc = add(add(u32::from(!check), negate(removed)), added);
    !fold(acc)
}

/// Partial sum of the IPv4 pseudo-header (RFC 768, RFC 793).
#[inline(always)]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u32 {
    let acc = sum_array(&src, 0);
    let acc = sum_array(&dst, acc);
    add(acc, u32::from(protocol) + u32::from(length))
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1).
#[inline(always)]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, length: u32) -> u32 {
    let acc = sum_array(src, 0);
    let acc = sum_array(dst, acc);
    let acc = add(acc, length >> 16);
    add(acc, (length & 0xffff) + u32::from(next_header))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn recompute(data: &[u8]) -> u16 {
        finish(sum(data, 0))
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0)),
            0xddf2
        );
    }

    #[test]
    fn matches_naive_16_bit_sum_for_every_length() {
        let data: [u8; 67] = core::array::from_fn(|i| (i as u8).wrapping_mul(151).wrapping_add(7));
        for len in 0..=data.len() {
            let mut naive = 0u32;
            for pair in data[..len].chunks(2) {
                let hi = u32::from(pair[0]) << 8;
                naive += hi + pair.get(1).map_or(0, |b| u32::from(*b));
            }
            assert_eq!(fold(sum(&data[..len], 0)), fold(naive), "length {len}");
            assert_eq!(
                fold(sum(&data[..len], 0xfffe)),
                fold(naive + 0xfffe),
                "length {len}"
            );
        }
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            sum(&[0x12, 0x34, 0x56], 0),
            sum(&[0x12, 0x34, 0x56, 0x00], 0)
        );
    }

    #[test]
    fn verifying_a_correct_checksum_gives_zero() {
        let mut data = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = recompute(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(recompute(&data), 0);
    }

    #[test]
    fn rfc1624_corner_cases() {
        // RFC 1624 §3: a header summing to 0xCD7A with a word changing 0x5555 -> 0x3285;
        // eqn. 3 gives 0x0000 where eqn. 2 would give the wrong 0xFFFF.
        assert_eq!(update_word(0xdd2f, 0x5555, 0x3285), 0x0000);
        // A field of 0x0000 (data summing to -0) stays 0x0000 when nothing changes.
        assert_eq!(update_word(0x0000, 0xabcd, 0xabcd), 0x0000);
        // Eqn. 3 never produces 0xFFFF from data that does not sum to +0: the UDP "no
        // checksum" value 0x0000 is the one callers must map to 0xFFFF themselves.
        assert_eq!(update_word(0x1234, 0x0000, 0x0000), 0x1234);
    }

    #[test]
    fn incremental_equals_recompute() {
        // Deterministic pseudo-random data (xorshift), so the test needs no crate.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let mut data = [0u8; 40];
            for b in data.iter_mut() {
                *b = next() as u8;
            }
            let before = recompute(&data);
            let at = (next() % 36) as usize & !1;
            let mut old = [0u8; 4];
            old.copy_from_slice(&data[at..at + 4]);
            let new = (next() as u32).to_be_bytes();
            data[at..at + 4].copy_from_slice(&new);
            let after = recompute(&data);
            let inc = update_bytes(before, &old, &new);
            // 0x0000 and 0xFFFF are the same one's-complement value.
            assert_eq!(
                fold(u32::from(inc)) % 0xffff,
                fold(u32::from(after)) % 0xffff
            );
            let w_old = u16::from_be_bytes([old[0], old[1]]);
            let w_new = u16::from_be_bytes([new[0], new[1]]);
            let inc_w = update_word(
                update_word(before, w_old, w_new),
                u16::from_be_bytes([old[2], old[3]]),
                u16::from_be_bytes([new[2], new[3]]),
            );
            assert_eq!(inc_w % 0xffff, after % 0xffff);
        }
    }

    #[test]
    fn pseudo_headers() {
        let v4 = pseudo_header_v4([192, 0, 2, 1], [198, 51, 100, 2], 17, 8);
        let mut raw = [0u8; 12];
        raw[..4].copy_from_slice(&[192, 0, 2, 1]);
        raw[4..8].copy_from_slice(&[198, 51, 100, 2]);
        raw[9] = 17;
        raw[10..12].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(fold(v4), fold(sum(&raw, 0)));

        let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let v6 = pseudo_header_v6(&src, &dst, 58, 0x0001_0008);
        let mut raw = [0u8; 40];
        raw[..16].copy_from_slice(&src);
        raw[16..32].copy_from_slice(&dst);
        raw[32..36].copy_from_slice(&0x0001_0008u32.to_be_bytes());
        raw[39] = 58;
        assert_eq!(fold(v6), fold(sum(&raw, 0)));
    }
}
