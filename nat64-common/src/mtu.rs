//! RFC 1191 §7 MTU plateaus, used when an ICMPv4 Fragmentation Needed carries no MTU.

/// The plateau table of RFC 1191 §7, largest first.
pub const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The largest plateau strictly below `len` (the total length of the packet that was too
/// big); 68, the IPv4 minimum, when there is none.
#[inline]
pub fn plateau_below(len: u16) -> u16 {
    for p in PLATEAUS {
        if p < len {
            return p;
        }
    }
    68
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn plateaus() {
        assert_eq!(plateau_below(65535), 32000);
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(1492), 1006);
        assert_eq!(plateau_below(1493), 1492);
        assert_eq!(plateau_below(600), 508);
        assert_eq!(plateau_below(69), 68);
        assert_eq!(plateau_below(68), 68);
        assert_eq!(plateau_below(0), 68);
    }
}
