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

/// RFC 7915 §5.2: the MTU an ICMPv4 Fragmentation Needed carries for an ICMPv6 Packet Too
/// Big reporting `mtu6`, given the translator's MTUs on both sides.
#[inline]
pub fn ptb_to_frag_needed(mtu6: u32, ipv4_mtu: u16, ipv6_mtu: u16) -> u16 {
    mtu6.saturating_sub(20)
        .min(u32::from(ipv4_mtu))
        .min(u32::from(ipv6_mtu).saturating_sub(20))
        .clamp(68, 0xffff) as u16
}

/// RFC 7915 §4.2: the MTU an ICMPv6 Packet Too Big carries for an ICMPv4 Fragmentation
/// Needed reporting `mtu4` about a packet `quoted_total_len` bytes long; routers that predate
/// the MTU field send 0, and the plateau below the quoted length stands in for it.
#[inline]
pub fn frag_needed_to_ptb(mtu4: u16, quoted_total_len: u16, ipv4_mtu: u16, ipv6_mtu: u16) -> u32 {
    let mtu4 = if mtu4 == 0 {
        plateau_below(quoted_total_len)
    } else {
        mtu4
    };
    (u32::from(mtu4) + 20)
        .min(u32::from(ipv6_mtu))
        .min(u32::from(ipv4_mtu) + 20)
        .max(1280)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn packet_too_big_both_ways() {
        assert_eq!(ptb_to_frag_needed(1400, 1500, 1500), 1380);
        assert_eq!(ptb_to_frag_needed(1400, 1300, 1500), 1300);
        assert_eq!(ptb_to_frag_needed(40, 1500, 1500), 68);
        assert_eq!(frag_needed_to_ptb(1400, 0, 1500, 1500), 1420);
        assert_eq!(frag_needed_to_ptb(0, 1500, 9000, 9000), 1512);
        assert_eq!(frag_needed_to_ptb(0, 1500, 1500, 1500), 1500);
        assert_eq!(frag_needed_to_ptb(576, 0, 1500, 1500), 1280);
        assert_eq!(frag_needed_to_ptb(1500, 0, 1500, 1400), 1400);
    }

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
