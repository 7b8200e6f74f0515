//! Which addresses a translator may ever translate, in one place for every datapath (the
//! userspace translator, the TC and XDP programs) and for the configuration checks.
//!
//! These are TAYGA's rules (`validate_ip4_addr`, `validate_ip6_addr`, `is_private_ip4_addr`
//! in its `addrmap.c`), which the drop-in promise and RFC 6052 §5.1 / RFC 7915 §4.1 and §5.1
//! ask for: unspecified, loopback, multicast, broadcast and link-local addresses, IPv4-mapped
//! and -compatible IPv6 addresses never cross the translator, whatever the mapping tables say.

use crate::ipv4_scope;

/// What kind of IPv4 address this is, as far as translation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V4Class {
    /// May be translated.
    Unicast,
    /// 169.254.0.0/16 (RFC 3927): may sit in a static map or a dynamic pool (TAYGA warns),
    /// but is never embedded in the RFC 6052 prefix.
    LinkLocal,
    /// 0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) and
    /// 255.255.255.255 (limited broadcast): never translated, in either position.
    Special,
}

/// Classifies an IPv4 address. Class E (240.0.0.0/4, but the broadcast address) is unicast,
/// as TAYGA and the IPv4 unicast extensions treat it.
#[inline(always)]
pub fn classify_v4(a: [u8; 4]) -> V4Class {
    let first = a[0];
    if first == 0 || first == 127 || first & 0xf0 == 0xe0 || a == [255, 255, 255, 255] {
        V4Class::Special
    } else if first == 169 && a[1] == 254 {
        V4Class::LinkLocal
    } else {
        V4Class::Unicast
    }
}

/// The ranges [`classify_v4`] calls [`V4Class::Special`], as (first address, prefix length),
/// for the checks of whole subnets (a map or pool must not cover any of them).
pub const SPECIAL_V4: [([u8; 4], u8); 4] = [
    ([0, 0, 0, 0], 8),
    ([127, 0, 0, 0], 8),
    ([224, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

/// The range [`classify_v4`] calls [`V4Class::LinkLocal`].
pub const LINK_LOCAL_V4: ([u8; 4], u8) = ([169, 254, 0, 0], 16);

/// Whether an IPv4 packet with this source or destination may be handled at all.
#[inline(always)]
pub fn v4_translatable(a: [u8; 4]) -> bool {
    classify_v4(a) != V4Class::Special
}

/// Whether an IPv4 address may be represented behind the RFC 6052 prefix.
#[inline(always)]
pub fn v4_embeddable(a: [u8; 4]) -> bool {
    classify_v4(a) == V4Class::Unicast
}

/// Whether an IPv6 packet with this source or destination may be handled at all: not in
/// `::/8` (unspecified, loopback, IPv4-mapped and -compatible), not multicast (`ff00::/8`),
/// not link-local (`fe80::/10`). Addresses in the well-known prefix's /32 are always fine.
#[inline(always)]
pub fn v6_translatable(a: &[u8; 16]) -> bool {
    if a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b {
        return true;
    }
    !(a[0] == 0x00 || a[0] == 0xff || (a[0] == 0xfe && a[1] & 0xc0 == 0x80))
}

/// Which IPv4 addresses the well-known prefix `64:ff9b::/96` refuses to represent under
/// `wkpf-strict` (RFC 6052 §3.1).
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WkpScope {
    /// Everything the IANA special-purpose registry marks not globally reachable (nat64's
    /// own configuration).
    #[default]
    Registry = 0,
    /// TAYGA's list (`tayga.conf`): RFC 1918, RFC 6598 shared space, the three TEST-NETs and
    /// the benchmarking block; the rest of 192.0.0.0/24 and 6to4's relay block are translated.
    Tayga = 1,
}

impl WkpScope {
    #[inline(always)]
    pub fn from_u8(v: u8) -> WkpScope {
        if v == WkpScope::Tayga as u8 {
            WkpScope::Tayga
        } else {
            WkpScope::Registry
        }
    }

    /// Whether `a` must not be represented behind the well-known prefix.
    #[inline(always)]
    pub fn refuses(self, a: [u8; 4]) -> bool {
        match self {
            WkpScope::Registry => !ipv4_scope::is_global(a),
            WkpScope::Tayga => is_tayga_private(a),
        }
    }
}

/// (network, prefix length) of the blocks TAYGA's `is_private_ip4_addr` lists.
const TAYGA_PRIVATE: [([u8; 4], u8); 8] = [
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([172, 16, 0, 0], 12),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
];

#[inline(always)]
fn is_tayga_private(a: [u8; 4]) -> bool {
    let addr = u32::from_be_bytes(a);
    for (net, len) in TAYGA_PRIVATE {
        let mask = u32::MAX << (32 - u32::from(len));
        if addr & mask == u32::from_be_bytes(net) {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// The range lists say what `classify_v4` decides: every address inside a listed range
    /// has its class, and the addresses next to each range do not.
    #[test]
    fn range_lists_match_the_classes() {
        let edges = |(start, len): ([u8; 4], u8)| {
            let first = u32::from_be_bytes(start);
            let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            (first, last)
        };
        for (range, class) in SPECIAL_V4
            .iter()
            .map(|r| (*r, V4Class::Special))
            .chain([(LINK_LOCAL_V4, V4Class::LinkLocal)])
        {
            let (first, last) = edges(range);
            for a in [first, first + (last - first) / 2, last] {
                assert_eq!(classify_v4(a.to_be_bytes()), class, "{a:#x}");
            }
            for a in [first.checked_sub(1), last.checked_add(1)]
                .into_iter()
                .flatten()
            {
                let outside = classify_v4(a.to_be_bytes());
                let also_listed = SPECIAL_V4.iter().any(|r| {
                    let (f, l) = edges(*r);
                    (f..=l).contains(&a)
                });
                assert!(outside != class || also_listed, "{a:#x}");
            }
        }
    }

    #[test]
    fn ipv4_classes() {
        for a in [
            [0, 0, 0, 0],
            [0, 1, 1, 1],
            [127, 0, 0, 1],
            [127, 1, 1, 1],
            [224, 0, 0, 1],
            [239, 255, 255, 255],
            [255, 255, 255, 255],
        ] {
            assert_eq!(classify_v4(a), V4Class::Special, "{a:?}");
            assert!(!v4_translatable(a) && !v4_embeddable(a));
        }
        for a in [[169, 254, 0, 42], [169, 254, 255, 255]] {
            assert_eq!(classify_v4(a), V4Class::LinkLocal, "{a:?}");
            assert!(v4_translatable(a) && !v4_embeddable(a));
        }
        for a in [
            [1, 0, 0, 0],
            [126, 255, 255, 255],
            [128, 0, 0, 0],
            [169, 253, 255, 255],
            [169, 255, 0, 0],
            [223, 255, 255, 255],
            [240, 0, 0, 1],
            [255, 255, 255, 254],
            [192, 0, 2, 1],
        ] {
            assert_eq!(classify_v4(a), V4Class::Unicast, "{a:?}");
            assert!(v4_embeddable(a));
        }
    }

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<core::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn ipv6_refused() {
        for s in [
            "::",
            "::1",
            "::ffff:c000:201",
            "::c000:201",
            "ff02::1",
            "ff0e::1",
            "fe80::1",
            "febf::1",
        ] {
            assert!(!v6_translatable(&v6(s)), "{s}");
        }
        for s in [
            "64:ff9b::c000:201",
            "64:ff9b:1::1",
            "2001:db8::1",
            "fec0::1",
            "fd00::1",
            "100::1",
        ] {
            assert!(v6_translatable(&v6(s)), "{s}");
        }
    }

    #[test]
    fn well_known_prefix_scopes() {
        let tayga = WkpScope::Tayga;
        for a in [
            [10, 1, 3, 4],
            [100, 69, 96, 2],
            [172, 18, 6, 7],
            [192, 168, 22, 69],
            [192, 0, 2, 6],
            [198, 51, 100, 10],
            [203, 0, 113, 69],
            [198, 18, 0, 0],
            [198, 19, 255, 255],
        ] {
            assert!(tayga.refuses(a) && WkpScope::Registry.refuses(a), "{a:?}");
        }
        for a in [
            [9, 255, 255, 255],
            [11, 0, 0, 0],
            [100, 63, 255, 255],
            [100, 128, 0, 0],
            [172, 15, 255, 255],
            [172, 32, 0, 0],
            [192, 167, 255, 255],
            [192, 169, 0, 0],
            [198, 17, 255, 255],
            [198, 20, 0, 0],
        ] {
            assert!(!tayga.refuses(a) && !WkpScope::Registry.refuses(a), "{a:?}");
        }
        // TAYGA translates the rest of the IETF block and the 6to4 relay; the registry does not.
        for a in [[192, 0, 0, 1], [192, 0, 0, 7], [192, 88, 99, 52]] {
            assert!(!tayga.refuses(a) && WkpScope::Registry.refuses(a), "{a:?}");
        }
        assert_eq!(WkpScope::from_u8(1), WkpScope::Tayga);
        assert_eq!(WkpScope::from_u8(0), WkpScope::Registry);
        assert_eq!(WkpScope::from_u8(9), WkpScope::Registry);
    }
}
