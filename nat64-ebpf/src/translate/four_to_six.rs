//! IPv4 → IPv6 (RFC 7915 §4) for TCP, UDP with a checksum and ICMPv4 echo, unfragmented and
//! without options.
use nat64_common::{checksum, counters::Outcome, headers, maps::ConfigBlock};

use super::{be16, lookup, Packet, Plan, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAGMENT_OFFSET: u16 = 0x1fff;

/// Where the IPv6 destination of a translated packet may come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    /// Anything the translator maps: host tables, explicit mappings, and without a pool the
    /// prefix (TC: the kernel routed the packet to the translator, so it is meant for it).
    All,
    /// Only host mappings and explicit mappings (XDP: every IPv4 packet the interface
    /// receives passes by, and most are the box's own or someone else's).
    Mapped,
}

/// The outer IPv4 header of a packet that can be translated, its addresses mapped.
pub struct Outer {
    pub ip: [u8; 20],
    pub payload_len: u32,
    pub trailer: u32,
    pub dont_fragment: bool,
    pub src4: [u8; 4],
    pub dst4: [u8; 4],
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
    pub last_use: lookup::LastUse,
}

/// The IPv4 header at `l3`, checked: what a translation needs before it maps addresses.
pub struct Checked {
    pub ip: [u8; 20],
    pub payload_len: u32,
    pub trailer: u32,
}

/// Checks the IPv4 header at `l3` and maps its addresses: everything a translation needs
/// before it looks at the transport header.
#[inline(always)]
pub fn outer<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    destinations: Destinations,
) -> Result<Outer, Outcome> {
    let Checked {
        ip,
        payload_len,
        trailer,
    } = check(pkt, l3, cfg)?;
    let (src6, dst6, last_use) = map_addresses(cfg, &ip, destinations)?;
    Ok(Outer {
        ip,
        payload_len,
        trailer,
        dont_fragment: be16([ip[6], ip[7]]) & FLAG_DF != 0,
        src4: [ip[12], ip[13], ip[14], ip[15]],
        dst4: [ip[16], ip[17], ip[18], ip[19]],
        src6,
        dst6,
        last_use,
    })
}

/// The header checks of [`outer`], before any lookup.
#[inline(always)]
pub fn check<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Checked, Outcome> {
    let ip: [u8; 20] = pkt.load(l3)?;
    if ip[0] >> 4 != 4 {
        return Err(Outcome::PassNotIp);
    }
    match ip[0] & 0x0f {
        5 => {}
        0..=4 => return Err(Outcome::PassBadIpv4Header),
        _ => return Err(Outcome::PassIpv4Options),
    }
    let total_len = u32::from(be16([ip[2], ip[3]]));
    if total_len < 20 {
        return Err(Outcome::PassBadIpv4Header);
    }
    let end = l3 as u32 + total_len;
    let trailer = match pkt.len().checked_sub(end) {
        Some(0) => 0,
        Some(extra) if P::TRAILER_ALLOWED => extra,
        _ => return Err(Outcome::PassTruncated),
    };
    if checksum::fold(checksum::sum_array(&ip, 0)) != 0xffff {
        return Err(Outcome::PassBadIpv4Header);
    }
    let flags = be16([ip[6], ip[7]]);
    if flags & (FLAG_MF | FRAGMENT_OFFSET) != 0 {
        return Err(Outcome::PassFragment);
    }
    let payload_len = total_len - 20;
    let l4_header_len = match ip[9] {
        PROTO_TCP => 20,
        PROTO_UDP | PROTO_ICMP => 8,
        _ => return Err(Outcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(Outcome::PassTruncated);
    }
    if ip[16..20] == cfg.ipv4_addr {
        return Err(Outcome::PassToTranslator);
    }
    Ok(Checked {
        ip,
        payload_len,
        trailer,
    })
}

/// The address lookups of [`outer`] for a checked header: source and destination in IPv6,
/// and the host mapping to stamp.
#[inline(always)]
pub fn map_addresses(
    cfg: &ConfigBlock,
    ip: &[u8; 20],
    destinations: Destinations,
) -> Result<([u8; 16], [u8; 16], lookup::LastUse), Outcome> {
    let src4 = [ip[12], ip[13], ip[14], ip[15]];
    let dst4 = [ip[16], ip[17], ip[18], ip[19]];
    let (dst6, last_use) = match destinations {
        Destinations::All => lookup::host_v4_to_v6(cfg, dst4)?,
        Destinations::Mapped => lookup::mapped_host_v4_to_v6(cfg, dst4)?,
    };
    let src6 = lookup::remote_v4_to_v6(cfg, src4)?;
    if ip[8] <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    Ok((src6, dst6, last_use))
}

/// Decides the translation of the IPv4 packet at `l3`; nothing is changed yet.
#[inline(always)]
pub fn plan<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    destinations: Destinations,
) -> Result<Plan<40>, Outcome> {
    let Outer {
        ip,
        payload_len,
        trailer,
        dont_fragment,
        src4,
        dst4,
        src6,
        dst6,
        last_use,
    } = outer(pkt, l3, cfg, destinations)?;
    let proto = ip[9];
    let ttl = ip[8];
    let proto6 = if proto == PROTO_ICMP {
        PROTO_ICMPV6
    } else {
        proto
    };

    let l4 = l3 + 20;
    let head: [u8; 8] = pkt.load(l4)?;
    let mut icmp_type = 0;
    let mut tcp_header_len = 0;
    match proto {
        PROTO_UDP if be16([head[6], head[7]]) == 0 => {
            return Err(Outcome::PassUdpZeroChecksum);
        }
        PROTO_TCP => {
            let offset: [u8; 1] = pkt.load(l4 + 12)?;
            tcp_header_len = u32::from(offset[0] >> 4) * 4;
        }
        PROTO_ICMP => {
            icmp_type = match head[0] {
                ICMP_ECHO_REQUEST => ICMPV6_ECHO_REQUEST,
                ICMP_ECHO_REPLY => ICMPV6_ECHO_REPLY,
                _ => return Err(Outcome::PassIcmpType),
            };
        }
        _ => {}
    }
    // Userspace answers Fragmentation Needed (DF) or fragments (no DF) beyond these.
    let out_len = pkt.wire_len(40 + payload_len, 40, tcp_header_len.max(8));
    let limit = if dont_fragment {
        cfg.ipv6_mtu
    } else {
        cfg.ipv6_mtu.min(cfg.lowest_ipv6_mtu)
    };
    if out_len > u32::from(limit) {
        return Err(Outcome::PassTooBig);
    }

    // Traffic class from the TOS, flow label zero (RFC 7915 §4.1).
    let header = headers::ipv6(ip[1], payload_len as u16, proto6, ttl - 1, &src6, &dst6);
    let (removed, added, outcome) = if proto == PROTO_ICMP {
        // ICMPv6 covers a pseudo-header: out goes the old type, in the pseudo-header and the
        // new type.
        let pseudo = checksum::pseudo_header_v6(&src6, &dst6, PROTO_ICMPV6, payload_len);
        let added = checksum::add_word(pseudo, u16::from(icmp_type) << 8);
        (
            u32::from(head[0]) << 8,
            added,
            Outcome::TranslatedV4ToV6Icmp,
        )
    } else {
        let removed = checksum::sum_array(&dst4, checksum::sum_array(&src4, 0));
        let added = checksum::sum_array(&dst6, checksum::sum_array(&src6, 0));
        let outcome = if proto == PROTO_TCP {
            Outcome::TranslatedV4ToV6Tcp
        } else {
            Outcome::TranslatedV4ToV6Udp
        };
        (removed, added, outcome)
    };
    Ok(Plan {
        header,
        proto,
        icmp_type,
        removed,
        added,
        trailer,
        outcome,
        last_use,
    })
}
