//! RFC 6052 IPv4-embedded IPv6 addresses: the prefix, embedding and extraction for every
//! permitted prefix length (32, 40, 48, 56, 64, 96), with bits 64–71 (the "u-octet") skipped.

use crate::addr_halves::{halves, join};

/// An RFC 6052 translation prefix, laid out so it can sit in a BPF map value as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Prefix {
    pub addr: [u8; 16],
    pub len: u8,
    _pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<Prefix>() == 20);

/// `64:ff9b::/96`, the well-known prefix (RFC 6052 §2.1).
pub const WELL_KNOWN_PREFIX: Prefix = Prefix {
    addr: [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    len: 96,
    _pad: [0; 3],
};

/// Why a prefix is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// RFC 6052 §2.2 allows only 32, 40, 48, 56, 64 and 96.
    BadLength(u8),
    /// Bits after the prefix length are set.
    HostBitsSet,
    /// Bits 64–71 must be zero (RFC 6052 §2.2).
    UOctetSet,
}

impl core::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PrefixError::BadLength(len) => write!(
                f,
                "prefix length /{len} is not one of /32, /40, /48, /56, /64, /96 (RFC 6052)"
            ),
            PrefixError::HostBitsSet => f.write_str("prefix has bits set after its length"),
            PrefixError::UOctetSet => {
                f.write_str("bits 64-71 of the prefix must be zero (RFC 6052)")
            }
        }
    }
}

/// Whether bit `bit` (0 = most significant of byte 0) lies inside the first `len` bits.
#[inline(always)]
fn byte_mask(byte_index: usize, len: u8) -> u8 {
    let start = byte_index * 8;
    let len = len as usize;
    if len >= start + 8 {
        0xff
    } else if len <= start {
        0
    } else {
        // 1..=7 leading ones
        !(0xffu8 >> (len - start))
    }
}

/// Leading-ones masks of the two halves for a prefix of `len` bits.
#[inline(always)]
fn masks(len: u8) -> (u64, u64) {
    let len = u32::from(len.min(128));
    let hi = match len {
        0 => 0,
        1..=63 => u64::MAX << (64 - len),
        _ => u64::MAX,
    };
    let lo = match len {
        0..=64 => 0,
        65..=127 => u64::MAX << (128 - len),
        _ => u64::MAX,
    };
    (hi, lo)
}

/// Whether the first `len` bits of `a` and `b` are equal.
#[inline(always)]
pub fn prefix_matches(a: &[u8; 16], b: &[u8; 16], len: u8) -> bool {
    let (ah, al) = halves(a);
    let (bh, bl) = halves(b);
    let (mh, ml) = masks(len);
    ((ah ^ bh) & mh) | ((al ^ bl) & ml) == 0
}

/// `a` with all but its first `len` bits cleared (a subscriber's prefix, for one).
#[inline(always)]
pub fn masked(a: &[u8; 16], len: u8) -> [u8; 16] {
    let (h, l) = halves(a);
    let (mh, ml) = masks(len);
    join(h & mh, l & ml)
}

/// How a prefix length splits the 32 IPv4 bits around the u-octet (bits 64–71): the number
/// of bits that land in the upper half (right after the prefix) and in the lower half (right
/// after the u-octet). `None` for lengths RFC 6052 does not allow.
#[inline(always)]
fn split(len: u8) -> Option<(u32, u32)> {
    match len {
        32 | 40 | 48 | 56 | 64 => {
            let upper = 64 - u32::from(len);
            Some((upper, 32 - upper))
        }
        // After the u-octet and the 24 bits of suffix that follow it: the last 32 bits.
        96 => Some((0, 32)),
        _ => None,
    }
}

/// Bit shift, within the lower half, of the IPv4 bits that land there.
#[inline(always)]
fn lower_shift(len: u8, lower_bits: u32) -> u32 {
    if len == 96 {
        0
    } else {
        // They start right after the u-octet (bit 8 of the lower half).
        64 - 8 - lower_bits
    }
}

impl Prefix {
    /// Validates an RFC 6052 prefix.
    pub fn new(addr: [u8; 16], len: u8) -> Result<Prefix, PrefixError> {
        if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
            return Err(PrefixError::BadLength(len));
        }
        for (i, byte) in addr.iter().enumerate() {
            if byte & !byte_mask(i, len) != 0 {
                return Err(PrefixError::HostBitsSet);
            }
        }
        if addr[8] != 0 {
            return Err(PrefixError::UOctetSet);
        }
        Ok(Prefix {
            addr,
            len,
            _pad: [0; 3],
        })
    }

    /// Whether `v6` lies inside this prefix.
    #[inline(always)]
    pub fn contains(&self, v6: &[u8; 16]) -> bool {
        prefix_matches(&self.addr, v6, self.len)
    }

    /// The IPv6 address that represents `v4` under this prefix (suffix and u-octet zero).
    #[inline(always)]
    pub fn embed(&self, v4: [u8; 4]) -> [u8; 16] {
        let Some((upper, lower)) = split(self.len) else {
            return self.addr;
        };
        let v4 = u64::from(u32::from_be_bytes(v4));
        let (mut hi, mut lo) = halves(&self.addr);
        if upper > 0 {
            hi |= v4 >> lower;
        }
        if lower > 0 {
            let low_bits = v4 & ((1u64 << lower) - 1);
            lo |= low_bits << lower_shift(self.len, lower);
        }
        join(hi, lo)
    }

    /// The IPv4 address embedded in `v6`, or `None` when `v6` is not inside this prefix.
    #[inline(always)]
    pub fn extract(&self, v6: &[u8; 16]) -> Option<[u8; 4]> {
        if !self.contains(v6) {
            return None;
        }
        let (upper, lower) = split(self.len)?;
        let (hi, lo) = halves(v6);
        let mut v4 = 0u64;
        if upper > 0 {
            v4 = (hi & ((1u64 << upper) - 1)) << lower;
        }
        if lower > 0 {
            v4 |= (lo >> lower_shift(self.len, lower)) & ((1u64 << lower) - 1);
        }
        Some((v4 as u32).to_be_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        // Tiny parser for the test addresses: full groups, one optional "::".
        let mut out = [0u16; 8];
        let (head, tail) = match s.split_once("::") {
            Some((h, t)) => (h, Some(t)),
            None => (s, None),
        };
        let parse = |part: &str| -> [u16; 8] {
            let mut g = [0u16; 8];
            let mut n = 0;
            if !part.is_empty() {
                for x in part.split(':') {
                    g[n] = u16::from_str_radix(x, 16).unwrap_or(0xdead);
                    n += 1;
                }
            }
            g
        };
        let count = |part: &str| {
            if part.is_empty() {
                0
            } else {
                part.split(':').count()
            }
        };
        let h = parse(head);
        out[..count(head)].copy_from_slice(&h[..count(head)]);
        if let Some(t) = tail {
            let tv = parse(t);
            let n = count(t);
            out[8 - n..].copy_from_slice(&tv[..n]);
        }
        let mut b = [0u8; 16];
        for i in 0..8 {
            b[2 * i..2 * i + 2].copy_from_slice(&out[i].to_be_bytes());
        }
        b
    }

    // RFC 6052 §2.4, every row of the table.
    const EXAMPLES: &[(&str, u8, &str)] = &[
        ("2001:db8::", 32, "2001:db8:c000:221::"),
        ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
        ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
        ("2001:db8:122:344::", 96, "2001:db8:122:344::c000:221"),
        ("64:ff9b::", 96, "64:ff9b::c000:221"),
    ];

    #[test]
    fn rfc6052_examples() {
        for (prefix, len, expected) in EXAMPLES {
            let p = Prefix::new(v6(prefix), *len).unwrap();
            let got = p.embed([192, 0, 2, 33]);
            assert_eq!(got, v6(expected), "/{len}");
            assert_eq!(p.extract(&got), Some([192, 0, 2, 33]), "/{len}");
        }
    }

    #[test]
    fn round_trips_every_length() {
        for len in [32u8, 40, 48, 56, 64, 96] {
            let p = Prefix::new(v6("2001:db8::"), len).unwrap();
            for v4 in [
                [0, 0, 0, 0],
                [255, 255, 255, 255],
                [1, 2, 3, 4],
                [203, 0, 113, 8],
            ] {
                let a = p.embed(v4);
                assert!(p.contains(&a));
                assert_eq!(a[8], 0, "u-octet stays zero for /{len}");
                assert_eq!(p.extract(&a), Some(v4));
            }
        }
    }

    #[test]
    fn well_known_prefix() {
        assert_eq!(Prefix::new(v6("64:ff9b::"), 96), Ok(WELL_KNOWN_PREFIX));
        assert_eq!(
            WELL_KNOWN_PREFIX.embed([192, 0, 2, 33]),
            v6("64:ff9b::c000:221")
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            Prefix::new(v6("2001:db8::"), 33),
            Err(PrefixError::BadLength(33))
        );
        assert_eq!(
            Prefix::new(v6("2001:db8::"), 128),
            Err(PrefixError::BadLength(128))
        );
        assert_eq!(
            Prefix::new(v6("2001:db8::1"), 96),
            Err(PrefixError::HostBitsSet)
        );
        assert_eq!(
            Prefix::new(v6("2001:db8:100::"), 32),
            Err(PrefixError::HostBitsSet)
        );
        assert_eq!(
            Prefix::new(v6("2001:db8:0:0:ff00::"), 96),
            Err(PrefixError::UOctetSet)
        );
    }

    #[test]
    fn extract_outside_prefix() {
        let p = Prefix::new(v6("2001:db8:100::"), 40).unwrap();
        assert_eq!(p.extract(&v6("2001:db8:200::")), None);
        assert!(!p.contains(&v6("2001:db9:100::")));
        assert_eq!(WELL_KNOWN_PREFIX.extract(&v6("64:ff9b:1::1")), None);
    }
}
