//! IPv4 → IPv6 (RFC 7915 §4) for TCP, UDP with a checksum and ICMPv4 echo, unfragmented and
//! without options.

use super::{Mapped, Mapper, Packet, Plan, Transport};
use crate::{
    address_policy, checksum,
    counters::Outcome,
    maps::ConfigBlock,
    wire::{
        icmp,
        ipv4::{self, Ipv4},
        ipv6::{self, Ipv6},
        l4, proto,
    },
};

/// The IPv4 header at `l3`, checked: what a translation needs before it maps addresses.
pub struct Checked {
    pub ip: Ipv4,
    pub payload_len: u32,
    pub trailer: u32,
}

/// Checks the IPv4 header at `l3`: no options, a length that fits the packet (a trailer
/// only where the link pads), a right checksum, not a fragment, a protocol the plan
/// translates, not addressed to the translator, addresses that may be translated.
#[inline(always)]
pub fn check<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Checked, Outcome> {
    let ip = Ipv4(pkt.load(l3)?);
    if ip.version() != 4 {
        return Err(Outcome::PassNotIp);
    }
    match ip.header_len() {
        ipv4::LEN => {}
        0..ipv4::LEN => return Err(Outcome::PassBadIpv4Header),
        _ => return Err(Outcome::PassIpv4Options),
    }
    let total_len = u32::from(ip.total_len());
    if total_len < ipv4::LEN as u32 {
        return Err(Outcome::PassBadIpv4Header);
    }
    let end = l3 as u32 + total_len;
    let trailer = match pkt.len().checked_sub(end) {
        Some(0) => 0,
        Some(extra) if P::TRAILER_ALLOWED => extra,
        _ => return Err(Outcome::PassTruncated),
    };
    if !ip.checksum_ok() {
        return Err(Outcome::PassBadIpv4Header);
    }
    if ip.is_fragment() {
        return Err(Outcome::PassFragment);
    }
    let payload_len = total_len - ipv4::LEN as u32;
    let l4_header_len = match ip.proto() {
        p @ (proto::TCP | proto::UDP | proto::ICMP) => l4::min_header_len(p) as u32,
        _ => return Err(Outcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(Outcome::PassTruncated);
    }
    if ip.dst() == cfg.ipv4_addr {
        return Err(Outcome::PassToTranslator);
    }
    if !address_policy::v4_translatable(ip.src()) || !address_policy::v4_translatable(ip.dst()) {
        return Err(Outcome::PassSpecialAddress);
    }
    Ok(Checked {
        ip,
        payload_len,
        trailer,
    })
}

/// The address lookups for a checked header: source and destination in IPv6, and the
/// mapping to stamp.
#[inline(always)]
pub fn map_addresses<M: Mapper>(map: &mut M, ip: &Ipv4) -> Result<Mapped<16, M::Stamp>, Outcome> {
    if ip.ttl() <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    let (dst, stamp) = map.host_v4_to_v6(ip.dst())?;
    let src = map.remote_v4_to_v6(ip.src())?;
    Ok(Mapped {
        src,
        dst,
        stamp,
        port: super::PortRewrite::NONE,
    })
}

/// The lookups for a checked query: [`map_addresses`] by flow, with the port the flow gets.
#[inline(always)]
pub fn map_flow<M: Mapper>(
    map: &mut M,
    ip: &Ipv4,
    l4: &Transport,
) -> Result<Mapped<16, M::Stamp>, Outcome> {
    if ip.ttl() <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    let flow = l4.flow(ip.proto(), true);
    let (dst, port, stamp) = map.host_flow_v4_to_v6(ip.dst(), ip.src(), &flow)?;
    let src = map.remote_v4_to_v6(ip.src())?;
    Ok(Mapped {
        src,
        dst,
        stamp,
        port,
    })
}

/// Decides the translation of the IPv4 packet at `l3`; nothing is changed yet.
#[inline(always)]
pub fn plan<P: Packet, M: Mapper>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    map: &mut M,
) -> Result<Plan<{ ipv6::LEN }, M::Stamp>, Outcome> {
    let Checked {
        ip,
        payload_len,
        trailer,
    } = check(pkt, l3, cfg)?;
    let protocol = ip.proto();
    let proto6 = if protocol == proto::ICMP {
        proto::ICMPV6
    } else {
        protocol
    };
    let l4 = Transport::read(pkt, l3 + ipv4::LEN, protocol, true)?;
    let Mapped {
        src: src6,
        dst: dst6,
        stamp,
        port,
    } = map_flow(map, &ip, &l4)?;

    // Userspace answers Fragmentation Needed (DF) or fragments (no DF) beyond these.
    let out_len = pkt.wire_len(
        ipv6::LEN as u32 + payload_len,
        ipv6::LEN as u32,
        l4.segment_header_len(),
    );
    let limit = if ip.dont_fragment() {
        cfg.ipv6_mtu
    } else {
        cfg.ipv6_mtu.min(cfg.lowest_ipv6_mtu)
    };
    if out_len > u32::from(limit) {
        return Err(Outcome::PassTooBig);
    }

    // Traffic class from the TOS, flow label zero (RFC 7915 §4.1).
    let header = Ipv6::build(
        ip.tos(),
        payload_len as u16,
        proto6,
        ip.ttl() - 1,
        &src6,
        &dst6,
    );
    let (src4, dst4) = (ip.src(), ip.dst());
    let (removed, added, outcome) = if protocol == proto::ICMP {
        // ICMPv6 covers a pseudo-header: out goes the old type, in the pseudo-header and the
        // new type.
        let pseudo = checksum::pseudo_header_v6(&src6, &dst6, proto::ICMPV6, payload_len);
        let added = checksum::add_word(pseudo, u16::from(l4.icmp_type) << 8);
        (
            u32::from(icmp::Icmp(l4.head).ty()) << 8,
            added,
            Outcome::TranslatedV4ToV6Icmp,
        )
    } else {
        let removed = checksum::sum_array(&dst4, checksum::sum_array(&src4, 0));
        let added = checksum::sum_array(&dst6, checksum::sum_array(&src6, 0));
        let outcome = if protocol == proto::TCP {
            Outcome::TranslatedV4ToV6Tcp
        } else {
            Outcome::TranslatedV4ToV6Udp
        };
        (removed, added, outcome)
    };
    Ok(Plan {
        header: header.0,
        proto: protocol,
        icmp_type: l4.icmp_type,
        removed,
        added,
        trailer,
        l4_len: payload_len,
        port,
        outcome,
        stamp,
    })
}
