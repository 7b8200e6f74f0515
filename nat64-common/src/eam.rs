//! RFC 7757 explicit address mapping arithmetic on [`EamEntry`]: the IPv4 suffix sits right
//! after the IPv6 prefix. Written on two `u64` halves because the BPF target has no 128-bit
//! shifts; the userspace `Eam` (u128) is the reference the tests compare against.

use crate::addr_halves::{halves, join};

use crate::maps::EamEntry;

/// Leading-ones mask of `len` bits (0..=32).
#[inline(always)]
fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

impl EamEntry {
    /// Bit position of the IPv4 suffix in the IPv6 address, counted from the least
    /// significant bit (0..=128; bits shifted past either end are dropped).
    #[inline(always)]
    fn shift(&self) -> u32 {
        let v6_len = u32::from(self.v6_len.min(128));
        let v4_suffix = 32 - u32::from(self.v4_len.min(32));
        (128 - v6_len).saturating_sub(v4_suffix)
    }

    /// The IPv4 form of `addr`, which the caller found inside this entry's IPv6 prefix.
    #[inline(always)]
    pub fn v6_to_v4(&self, addr: &[u8; 16]) -> [u8; 4] {
        let (hi, lo) = halves(addr);
        let shift = self.shift();
        let window = if shift >= 128 {
            0
        } else if shift >= 64 {
            (hi >> (shift - 64)) as u32
        } else if shift == 0 {
            lo as u32
        } else {
            ((lo >> shift) | (hi << (64 - shift))) as u32
        };
        let v4 = u32::from_be_bytes(self.v4) | (window & !mask32(self.v4_len));
        v4.to_be_bytes()
    }

    /// The IPv6 form of `addr`, which the caller found inside this entry's IPv4 prefix.
    #[inline(always)]
    pub fn v4_to_v6(&self, addr: [u8; 4]) -> [u8; 16] {
        let suffix = u64::from(u32::from_be_bytes(addr) & !mask32(self.v4_len));
        let (mut hi, mut lo) = halves(&self.v6);
        let shift = self.shift();
        if shift >= 128 {
            // A /32 mapped onto a whole address space: no suffix bits.
        } else if shift >= 64 {
            hi |= suffix << (shift - 64);
        } else {
            lo |= suffix << shift;
            if shift > 32 {
                hi |= suffix >> (64 - shift);
            }
        }
        join(hi, lo)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// The u128 formulation, as the userspace translator has it.
    fn reference_v4_to_v6(e: &EamEntry, addr: [u8; 4]) -> [u8; 16] {
        let shift = 128 - u32::from(e.v6_len) - (32 - u32::from(e.v4_len));
        let suffix = u128::from(u32::from_be_bytes(addr) & !mask32(e.v4_len));
        (u128::from_be_bytes(e.v6) | suffix.checked_shl(shift).unwrap_or(0)).to_be_bytes()
    }

    fn reference_v6_to_v4(e: &EamEntry, addr: &[u8; 16]) -> [u8; 4] {
        let shift = 128 - u32::from(e.v6_len) - (32 - u32::from(e.v4_len));
        let window = u128::from_be_bytes(*addr).checked_shr(shift).unwrap_or(0) as u32;
        (u32::from_be_bytes(e.v4) | (window & !mask32(e.v4_len))).to_be_bytes()
    }

    #[test]
    fn matches_the_u128_formulation_for_every_shift() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for v4_len in 0..=32u8 {
            for v6_len in 0..=(96 + v4_len) {
                let v6_mask = u128::MAX.checked_shl(128 - u32::from(v6_len)).unwrap_or(0);
                let v6 = (u128::from(next()) << 64 | u128::from(next())) & v6_mask;
                let v4 = (next() as u32) & mask32(v4_len);
                let e = EamEntry {
                    v6: v6.to_be_bytes(),
                    v4: v4.to_be_bytes(),
                    v6_len,
                    v4_len,
                    _pad: [0; 2],
                };
                let host = (next() as u32).to_be_bytes();
                let inside = {
                    let mut a = host;
                    let m = mask32(v4_len).to_be_bytes();
                    for i in 0..4 {
                        a[i] = (a[i] & !m[i]) | e.v4[i];
                    }
                    a
                };
                let six = e.v4_to_v6(inside);
                assert_eq!(six, reference_v4_to_v6(&e, inside), "/{v4_len} /{v6_len}");
                assert_eq!(e.v6_to_v4(&six), inside, "/{v4_len} /{v6_len}");
                let any6 = (v6 | (u128::from(next()) & !v6_mask)).to_be_bytes();
                assert_eq!(e.v6_to_v4(&any6), reference_v6_to_v4(&e, &any6));
            }
        }
    }
}
