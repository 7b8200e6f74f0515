//! IPv6 → IPv4 (RFC 7915 §5) for TCP, UDP and ICMPv6 echo without extension headers.

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

/// The IPv6 header at `l3`, checked: what a translation needs before it maps addresses.
pub struct Checked {
    pub ip: Ipv6,
    pub payload_len: u32,
}

/// Checks the IPv6 header at `l3`: a bare header whose length fits the packet, a protocol
/// the plan translates, not addressed to the translator, addresses that may be translated.
#[inline(always)]
pub fn check<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Checked, Outcome> {
    let ip = Ipv6(pkt.load(l3)?);
    if ip.version() != 6 {
        return Err(Outcome::PassNotIp);
    }
    let payload_len = u32::from(ip.payload_len());
    // Also refuses BIG TCP (payload length 0): userspace decides those. No Ethernet frame
    // carrying IPv6 needs padding, so any trailer is left to the stack or userspace too.
    if l3 as u32 + ipv6::LEN as u32 + payload_len != pkt.len() {
        return Err(Outcome::PassTruncated);
    }
    let l4_header_len = match ip.next_header() {
        p @ (proto::TCP | proto::UDP | proto::ICMPV6) => l4::min_header_len(p) as u32,
        proto::HOP_BY_HOP | proto::ROUTING | proto::FRAGMENT | proto::DEST_OPTS => {
            return Err(Outcome::PassExtensionHeader)
        }
        _ => return Err(Outcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(Outcome::PassTruncated);
    }
    if ip.dst() == cfg.ipv6_addr {
        return Err(Outcome::PassToTranslator);
    }
    if !address_policy::v6_translatable(&ip.src()) || !address_policy::v6_translatable(&ip.dst()) {
        return Err(Outcome::PassSpecialAddress);
    }
    Ok(Checked { ip, payload_len })
}

/// The address lookups for a checked header: source and destination in IPv4, and the
/// mapping to stamp.
#[inline(always)]
pub fn map_addresses<M: Mapper>(map: &mut M, ip: &Ipv6) -> Result<Mapped<4, M::Stamp>, Outcome> {
    // Before the lookups: a refusal for want of a source mapping then means that allocating
    // one is all the packet lacks to get this far.
    if ip.hop_limit() <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    let dst = map.remote_v6_to_v4(&ip.dst())?;
    let (src, stamp) = map.host_v6_to_v4(&ip.src())?;
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
    ip: &Ipv6,
    l4: &Transport,
) -> Result<Mapped<4, M::Stamp>, Outcome> {
    if ip.hop_limit() <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    let dst = map.remote_v6_to_v4(&ip.dst())?;
    let flow = l4.flow(ip.next_header(), false);
    let (src, port, stamp) = map.host_flow_v6_to_v4(&ip.src(), dst, &flow)?;
    Ok(Mapped {
        src,
        dst,
        stamp,
        port,
    })
}

/// Decides the translation of the IPv6 packet at `l3`; nothing is changed yet.
#[inline(always)]
pub fn plan<P: Packet, M: Mapper>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    map: &mut M,
) -> Result<Plan<{ ipv4::LEN }, M::Stamp>, Outcome> {
    let Checked { ip, payload_len } = check(pkt, l3, cfg)?;
    let next_header = ip.next_header();
    let proto4 = if next_header == proto::ICMPV6 {
        proto::ICMP
    } else {
        next_header
    };
    let l4 = Transport::read(pkt, l3 + ipv6::LEN, next_header, false)?;
    let Mapped {
        src: src4,
        dst: dst4,
        stamp,
        port,
    } = map_flow(map, &ip, &l4)?;

    let total_len = ipv4::LEN as u32 + payload_len;
    let segment_len = pkt.wire_len(total_len, ipv4::LEN as u32, l4.segment_header_len());
    if segment_len > u32::from(cfg.ipv4_mtu) {
        return Err(Outcome::PassTooBig);
    }

    let segments = match pkt.gso_size() {
        0 => 1,
        // A data offset beyond the payload gives one (the segmenter refuses such a packet).
        seg => payload_len
            .saturating_sub(l4.segment_header_len())
            .div_ceil(seg)
            .max(1),
    };
    let header = ipv4_header(
        || map.ipv4_id(segments),
        ip.traffic_class(),
        total_len,
        segment_len,
        ip.hop_limit() - 1,
        proto4,
        src4,
        dst4,
    );
    let (src6, dst6) = (ip.src(), ip.dst());
    let (removed, added, outcome) = if next_header == proto::ICMPV6 {
        // ICMPv4 has no pseudo-header: out go IPv6's and the old type, in the new type.
        let pseudo = checksum::pseudo_header_v6(&src6, &dst6, proto::ICMPV6, payload_len);
        let removed = checksum::add_word(pseudo, u16::from(icmp::Icmp(l4.head).ty()) << 8);
        let added = u32::from(l4.icmp_type) << 8;
        (removed, added, Outcome::TranslatedV6ToV4Icmp)
    } else {
        // Length and protocol are the same in both pseudo-headers; only addresses change.
        let removed = checksum::sum_array(&dst6, checksum::sum_array(&src6, 0));
        let added = checksum::sum_array(&dst4, checksum::sum_array(&src4, 0));
        let outcome = if next_header == proto::TCP {
            Outcome::TranslatedV6ToV4Tcp
        } else {
            Outcome::TranslatedV6ToV4Udp
        };
        (removed, added, outcome)
    };
    Ok(Plan {
        header: header.0,
        proto: next_header,
        icmp_type: l4.icmp_type,
        removed,
        added,
        trailer: 0,
        l4_len: payload_len,
        port,
        outcome,
        stamp,
    })
}

/// The IPv4 header of a translated packet, checksum included, with RFC 7915 §5.1's DF and
/// Identification rule applied to the largest packet it becomes on the wire (`wire_len`: one
/// segment of a GSO packet, which the kernel numbers from the Identification given here);
/// `next_id` is asked only when the packet needs one.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn ipv4_header(
    next_id: impl FnOnce() -> u16,
    tos: u8,
    total_len: u32,
    wire_len: u32,
    ttl: u8,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
) -> Ipv4 {
    let dont_fragment = ipv4::dont_fragment_for(wire_len as usize);
    let id = if dont_fragment { 0 } else { next_id() };
    Ipv4::build(&ipv4::Fields {
        tos,
        total_len: total_len as u16,
        id,
        dont_fragment,
        more_fragments: false,
        fragment_offset: 0,
        ttl,
        proto,
        src,
        dst,
    })
}
