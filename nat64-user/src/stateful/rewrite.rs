//! What stateful NAT64 changes in a packet the stateless translator has translated: the
//! pool4 port (or ICMP identifier) of the binding on the IPv4 side, the IPv6 host's address
//! and port on the IPv6 side, in the packet itself or in the packet an ICMP error quotes;
//! checksums follow (RFC 1624 where the packet is whole, recomputed over an error).

use nat64_common::checksum;
use nat64_common::wire::{icmp, ipv4, ipv6, proto, tcp, udp};

use crate::translate::wire::{self, parse_v4, parse_v6};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Source,
    Destination,
}

/// Sets a port (an echo's identifier for ICMP) in a transport header that may be cut short
/// (a quote), with its checksum adjusted for the port and for `pseudo`, the sums of the
/// pseudo-header address that changed (old, new), where the checksum covers one.
fn set_port(l4: &mut [u8], protocol: u8, which: Which, port: u16, pseudo: Option<(u32, u32)>) {
    let (at, check_at) = match protocol {
        proto::TCP | proto::UDP => (
            if which == Which::Source { 0 } else { 2 },
            if protocol == proto::TCP {
                tcp::field::CHECKSUM
            } else {
                udp::field::CHECKSUM
            },
        ),
        proto::ICMP | proto::ICMPV6 => (icmp::field::REST, icmp::field::CHECKSUM),
        _ => return,
    };
    let Some(old) = wire::u16_at(l4, at) else {
        return;
    };
    wire::set_u16(l4, at, port);
    let Some(check) = wire::u16_at(l4, check_at) else {
        return;
    };
    if protocol == proto::UDP && check == 0 {
        // IPv4 UDP without a checksum stays without one.
        return;
    }
    let mut new = checksum::update_word(check, old, port);
    if let (Some((removed, added)), true) = (pseudo, protocol != proto::ICMP) {
        new = checksum::adjust(new, removed, added);
    }
    if protocol == proto::UDP {
        new = nat64_common::wire::l4::udp_checksum_on_wire(new);
    }
    wire::set_u16(l4, check_at, new);
}

fn address_sum(a: &[u8]) -> u32 {
    checksum::sum(a, 0)
}

/// IPv6 → IPv4, a query: the binding's pool4 port as the source port of the (first)
/// translated packet.
pub(crate) fn v4_source_port(pkt: &mut [u8], port: u16) {
    let Some(h) = parse_v4(pkt) else { return };
    if h.frag.offset != 0 {
        return;
    }
    if let Some(l4) = pkt.get_mut(h.header_len..) {
        set_port(l4, h.proto, Which::Source, port, None);
    }
}

/// IPv6 → IPv4, an ICMP error: the binding's pool4 port as the destination port of the
/// quoted packet; the ICMP checksum recomputed.
pub(crate) fn v4_quoted_destination_port(pkt: &mut [u8], port: u16) {
    let Some(h) = parse_v4(pkt) else { return };
    let Some(message) = pkt.get_mut(h.header_len..) else {
        return;
    };
    if let Some(quoted) = message.get_mut(icmp::HEADER_LEN..) {
        if let Some(inner) = parse_v4(quoted) {
            if let Some(l4) = quoted.get_mut(inner.header_len..) {
                set_port(l4, inner.proto, Which::Destination, port, None);
            }
        }
    }
    wire::set_u16(message, icmp::field::CHECKSUM, 0);
    let sum = checksum::finish(checksum::sum(message, 0));
    wire::set_u16(message, icmp::field::CHECKSUM, sum);
}

const DST: std::ops::Range<usize> = ipv6::field::DST..ipv6::field::DST + 16;
const SRC: std::ops::Range<usize> = ipv6::field::SRC..ipv6::field::SRC + 16;

/// IPv4 → IPv6, a query: the IPv6 host as the destination of every translated packet (of
/// every fragment), and its port as the destination port of the first.
pub(crate) fn v6_destination(pkt: &mut [u8], host: [u8; 16], port: u16) {
    let Some(old) = pkt.get(DST).map(address_sum) else {
        return;
    };
    let Ok(h) = parse_v6(pkt) else { return };
    pkt[DST].copy_from_slice(&host);
    if h.frag.is_some_and(|f| f.offset != 0) {
        return;
    }
    if let Some(l4) = pkt.get_mut(h.l4_offset..) {
        set_port(
            l4,
            h.proto,
            Which::Destination,
            port,
            Some((old, address_sum(&host))),
        );
    }
}

/// IPv4 → IPv6, an ICMP error: the IPv6 host as the destination, and as the source (with its
/// port) of the quoted packet; the ICMPv6 checksum recomputed.
pub(crate) fn v6_error_destination(pkt: &mut [u8], host: [u8; 16], port: u16) {
    let Ok(h) = parse_v6(pkt) else { return };
    if pkt.len() < ipv6::LEN {
        return;
    }
    pkt[DST].copy_from_slice(&host);
    let src: [u8; 16] = pkt[SRC].try_into().unwrap_or([0; 16]);
    let Some(message) = pkt.get_mut(h.l4_offset..) else {
        return;
    };
    if let Some(quoted) = message.get_mut(icmp::HEADER_LEN..) {
        if let Ok(inner) = parse_v6(quoted) {
            if quoted.len() >= ipv6::LEN {
                let old = address_sum(&quoted[SRC]);
                quoted[SRC].copy_from_slice(&host);
                if let Some(l4) = quoted.get_mut(inner.l4_offset..) {
                    set_port(
                        l4,
                        inner.proto,
                        Which::Source,
                        port,
                        Some((old, address_sum(&host))),
                    );
                }
            }
        }
    }
    wire::set_u16(message, icmp::field::CHECKSUM, 0);
    let pseudo = checksum::pseudo_header_v6(&src, &host, proto::ICMPV6, message.len() as u32);
    let sum = checksum::finish(checksum::sum(message, pseudo));
    wire::set_u16(message, icmp::field::CHECKSUM, sum);
}

/// A hairpinned packet crosses the translator twice but is one hop: the TTL the first
/// crossing took is given back before the second takes it again.
pub(crate) fn give_back_ttl(pkt: &mut [u8]) {
    // TTL and protocol make one 16-bit word of the header checksum.
    let at = ipv4::field::TTL;
    let (Some(word), Some(check)) = (
        wire::u16_at(pkt, at),
        wire::u16_at(pkt, ipv4::field::CHECKSUM),
    ) else {
        return;
    };
    let new = word.wrapping_add(0x100);
    wire::set_u16(pkt, at, new);
    wire::set_u16(
        pkt,
        ipv4::field::CHECKSUM,
        checksum::update_word(check, word, new),
    );
}
