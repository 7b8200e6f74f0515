//! Transport checksums across the translation: the pseudo-header changes, so TCP and UDP
//! checksums are adjusted incrementally (RFC 1624), and ICMP informational messages get their
//! new type and the pseudo-header added (ICMPv6) or removed (ICMPv4).

use nat64_common::checksum;
use nat64_common::icmp_tables::IcmpAction;
use nat64_common::wire::{l4, proto};

use super::wire;

/// Adjusts the TCP or UDP checksum in `l4` for a pseudo-header whose addresses summed to
/// `removed` and now sum to `added`. A UDP checksum of zero (none, IPv4 only) is left alone.
/// Returns false when `l4` is too short to hold the checksum field.
pub(crate) fn adjust_tcp_udp(proto: u8, l4: &mut [u8], removed: u32, added: u32) -> bool {
    let at = match proto {
        proto::TCP | proto::UDP => l4::checksum_offset(proto),
        _ => return true,
    };
    let Some(old) = wire::u16_at(l4, at) else {
        return false;
    };
    if proto == proto::UDP && old == 0 {
        return true;
    }
    let new = l4::checksum_on_wire(proto, checksum::adjust(old, removed, added));
    wire::set_u16(l4, at, new);
    true
}

/// The shortest first fragment TAYGA translates for `proto`: the whole TCP or UDP header
/// must be there for its checksum to be adjusted.
pub(crate) fn min_header_len(proto: u8) -> usize {
    match proto {
        proto::TCP | proto::UDP => l4::min_header_len(proto),
        _ => 0,
    }
}

/// Computes a UDP checksum that the sender left out (`udp-cksum-mode calc`) over `l4`, with
/// the new pseudo-header's partial sum `pseudo`.
pub(crate) fn fill_udp_checksum(l4: &mut [u8], pseudo: u32) {
    wire::set_u16(l4, l4::checksum_offset(proto::UDP), 0);
    let c = l4::udp_checksum_on_wire(checksum::finish(checksum::sum(l4, pseudo)));
    wire::set_u16(l4, l4::checksum_offset(proto::UDP), c);
}

/// Partial sum of two addresses, the part of the pseudo-header that translation replaces.
#[inline]
pub(crate) fn address_sum<const N: usize>(src: &[u8; N], dst: &[u8; N]) -> u32 {
    checksum::sum_array(dst, checksum::sum_array(src, 0))
}

/// Rewrites an ICMP echo header in place: new type and code, checksum adjusted for them and
/// for `pseudo_removed`/`pseudo_added` (the ICMPv6 pseudo-header, on one side or the other).
pub(crate) fn rewrite_informational(
    icmp: &mut [u8],
    action: IcmpAction,
    pseudo_removed: u32,
    pseudo_added: u32,
) -> bool {
    let IcmpAction::Informational { ty, code } = action else {
        return false;
    };
    let (Some(old_word), Some(old_check)) = (wire::u16_at(icmp, 0), wire::u16_at(icmp, 2)) else {
        return false;
    };
    let new_word = u16::from_be_bytes([ty, code]);
    let removed = checksum::add(pseudo_removed, u32::from(old_word));
    let added = checksum::add(pseudo_added, u32::from(new_word));
    wire::set_u8(icmp, 0, ty);
    wire::set_u8(icmp, 1, code);
    wire::set_u16(icmp, 2, checksum::adjust(old_check, removed, added));
    true
}
