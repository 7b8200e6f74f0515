//! TAYGA 0.9.2's choice of a new pool address (`dynamic.c`, `assign_dynamic`).
//!
//! TAYGA folds the IPv6 address into a starting point inside the pool and probes upwards,
//! wrapping round, for the first free address. The same host therefore tends to land on the
//! same address even after it was forgotten, and both programs pick the same address for
//! the same host, which keeps logs and firewall rules stable across a switch.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::free_ranges::FreeRanges;

/// Where TAYGA starts looking for a free address for `v6` in `network/prefix_len`.
///
/// TAYGA adds the address as four 32-bit words read straight from memory (`s6_addr32`, so in
/// host byte order: we read them the same way to agree with a TAYGA on the same machine),
/// folding the carry above the host bits back in after each word, like a ones'-complement sum.
pub fn start_address(v6: &Ipv6Addr, network: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let host_bits = 32 - u32::from(prefix_len);
    let max = u32::MAX >> prefix_len;
    let mut base: u32 = 0;
    for word in v6.octets().chunks_exact(4) {
        let word = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        base = base.wrapping_add(word);
        while base & !max != 0 {
            base = (base & max) + (base >> host_bits);
        }
    }
    Ipv4Addr::from(u32::from(network) | (base & max))
}

/// The address TAYGA would assign: the first free one at or after the start point, wrapping
/// round the pool. `None` when no address is free.
pub(crate) fn choose_free(free: &FreeRanges, start: Ipv4Addr) -> Option<Ipv4Addr> {
    free.next_free_from(u32::from(start)).map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(v6: &str, net: [u8; 4], len: u8) -> Ipv4Addr {
        start_address(&v6.parse().unwrap(), Ipv4Addr::from(net), len)
    }

    /// Worked by hand from the C on a little-endian machine.
    #[cfg(target_endian = "little")]
    #[test]
    fn matches_tayga_fold_by_hand() {
        // 2001:db8::1 → words (LE) 0xb80d0120, 0, 0, 0x01000000.
        // /24: max = 0xff, host_bits = 8.
        // 0xb80d0120 folds: 0x20 + 0xb80d01 = 0xb80d21 → 0x21 + 0xb80d = 0xb82e
        //   → 0x2e + 0xb8 = 0xe6.
        // + 0x01000000 = 0x010000e6 → 0xe6 + 0x010000 = 0x0100e6 → 0xe6 + 0x0100 = 0x01e6
        //   → 0xe6 + 0x01 = 0xe7.
        assert_eq!(
            start("2001:db8::1", [192, 0, 2, 0], 24),
            Ipv4Addr::new(192, 0, 2, 0xe7)
        );
    }

    #[test]
    fn start_stays_inside_the_pool() {
        for len in 1..=31u8 {
            let net = Ipv4Addr::from(0xc000_0000u32 & (u32::MAX << (32 - u32::from(len))));
            for v6 in [
                "2001:db8::1",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "::",
            ] {
                let s = start_address(&v6.parse().unwrap(), net, len);
                let mask = u32::MAX << (32 - u32::from(len));
                assert_eq!(u32::from(s) & mask, u32::from(net), "{v6} /{len}");
            }
        }
    }

    #[test]
    fn probes_upward_and_wraps() {
        let mut free = FreeRanges::new();
        free.add_range(1, 255);
        assert!(free.take(0xe7));
        let start = Ipv4Addr::from(0xe7u32);
        assert_eq!(choose_free(&free, start), Some(Ipv4Addr::from(0xe8u32)));
        for a in 0xe8..=0xff {
            free.take(a);
        }
        assert_eq!(choose_free(&free, start), Some(Ipv4Addr::from(1u32)));
    }
}
