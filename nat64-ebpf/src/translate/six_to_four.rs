//! IPv6 → IPv4 (RFC 7915 §5) for TCP, UDP and ICMPv6 echo without extension headers.
use aya_ebpf::helpers::bpf_get_prandom_u32;
use nat64_common::{checksum, counters::Outcome, headers, maps::ConfigBlock};

use super::{be16, lookup, Packet, Plan, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// RFC 7915 §5.1 as the userspace translator applies it: unfragmented IPv4 packets up to this
/// size leave with DF clear (and an Identification), larger ones with DF set and ID 0.
pub const DF_THRESHOLD: u32 = 1260;

const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;

/// The outer IPv6 header of a packet that can be translated, its addresses mapped.
pub struct Outer {
    pub ip: [u8; 40],
    pub payload_len: u32,
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
    pub src4: [u8; 4],
    pub dst4: [u8; 4],
    pub last_use: lookup::LastUse,
}

impl Outer {
    /// Traffic class, the IPv4 TOS to be.
    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        (self.ip[0] << 4) | (self.ip[1] >> 4)
    }
}

/// The IPv6 header at `l3`, checked: what a translation needs before it maps addresses.
pub struct Checked {
    pub ip: [u8; 40],
    pub payload_len: u32,
}

/// Checks the IPv6 header at `l3` and maps its addresses: everything a translation needs
/// before it looks at the transport header.
#[inline(always)]
pub fn outer<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Outer, Outcome> {
    let Checked { ip, payload_len } = check(pkt, l3, cfg)?;
    let (src4, dst4, last_use) = map_addresses(cfg, &ip)?;
    Ok(Outer {
        ip,
        payload_len,
        src6: sub16(&ip, 8),
        dst6: sub16(&ip, 24),
        src4,
        dst4,
        last_use,
    })
}

/// The header checks of [`outer`], before any lookup.
#[inline(always)]
pub fn check<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Checked, Outcome> {
    let ip: [u8; 40] = pkt.load(l3)?;
    if ip[0] >> 4 != 6 {
        return Err(Outcome::PassNotIp);
    }
    let payload_len = u32::from(be16([ip[4], ip[5]]));
    // Also refuses BIG TCP (payload length 0): userspace decides those. No Ethernet frame
    // carrying IPv6 needs padding, so any trailer is left to the stack or userspace too.
    if l3 as u32 + 40 + payload_len != pkt.len() {
        return Err(Outcome::PassTruncated);
    }
    let l4_header_len = match ip[6] {
        PROTO_TCP => 20,
        PROTO_UDP | PROTO_ICMPV6 => 8,
        // Hop-by-hop, routing, fragment, destination options.
        0 | 43 | 44 | 60 => return Err(Outcome::PassExtensionHeader),
        _ => return Err(Outcome::PassProtocol),
    };
    if payload_len < l4_header_len {
        return Err(Outcome::PassTruncated);
    }
    if ip[24..40] == cfg.ipv6_addr {
        return Err(Outcome::PassToTranslator);
    }
    Ok(Checked { ip, payload_len })
}

/// The address lookups of [`outer`] for a checked header: source and destination in IPv4,
/// and the host mapping to stamp.
#[inline(always)]
pub fn map_addresses(
    cfg: &ConfigBlock,
    ip: &[u8; 40],
) -> Result<([u8; 4], [u8; 4], lookup::LastUse), Outcome> {
    let dst4 = lookup::remote_v6_to_v4(cfg, &sub16(ip, 24))?;
    let (src4, last_use) = lookup::host_v6_to_v4(cfg, &sub16(ip, 8))?;
    if ip[7] <= 1 {
        return Err(Outcome::PassHopLimit);
    }
    Ok((src4, dst4, last_use))
}

/// Decides the translation of the IPv6 packet at `l3`; nothing is changed yet.
#[inline(always)]
pub fn plan<P: Packet>(pkt: &P, l3: usize, cfg: &ConfigBlock) -> Result<Plan<20>, Outcome> {
    let outer = outer(pkt, l3, cfg)?;
    let traffic_class = outer.traffic_class();
    let Outer {
        ip,
        payload_len,
        src6,
        dst6,
        src4,
        dst4,
        last_use,
    } = outer;
    let next_header = ip[6];
    let hop_limit = ip[7];
    let proto4 = if next_header == PROTO_ICMPV6 {
        PROTO_ICMP
    } else {
        next_header
    };

    let l4 = l3 + 40;
    let head: [u8; 8] = pkt.load(l4)?;
    let mut icmp_type = 0;
    let mut tcp_header_len = 0;
    match next_header {
        PROTO_UDP if be16([head[6], head[7]]) == 0 => {
            return Err(Outcome::PassUdpZeroChecksum);
        }
        PROTO_TCP => {
            let offset: [u8; 1] = pkt.load(l4 + 12)?;
            tcp_header_len = u32::from(offset[0] >> 4) * 4;
        }
        PROTO_ICMPV6 => {
            icmp_type = match head[0] {
                ICMPV6_ECHO_REQUEST => ICMP_ECHO_REQUEST,
                ICMPV6_ECHO_REPLY => ICMP_ECHO_REPLY,
                _ => return Err(Outcome::PassIcmpType),
            };
        }
        _ => {}
    }
    let total_len = 20 + payload_len;
    let segment_len = pkt.wire_len(total_len, 20, tcp_header_len.max(8));
    if segment_len > u32::from(cfg.ipv4_mtu) {
        return Err(Outcome::PassTooBig);
    }

    let header = ipv4_header(traffic_class, total_len, hop_limit - 1, proto4, src4, dst4);
    let (removed, added, outcome) = if next_header == PROTO_ICMPV6 {
        // ICMPv4 has no pseudo-header: out go IPv6's and the old type, in the new type.
        let pseudo = checksum::pseudo_header_v6(&src6, &dst6, PROTO_ICMPV6, payload_len);
        let removed = checksum::add_word(pseudo, u16::from(head[0]) << 8);
        let added = u32::from(icmp_type) << 8;
        (removed, added, Outcome::TranslatedV6ToV4Icmp)
    } else {
        // Length and protocol are the same in both pseudo-headers; only addresses change.
        let removed = checksum::sum_array(&dst6, checksum::sum_array(&src6, 0));
        let added = checksum::sum_array(&dst4, checksum::sum_array(&src4, 0));
        let outcome = if next_header == PROTO_TCP {
            Outcome::TranslatedV6ToV4Tcp
        } else {
            Outcome::TranslatedV6ToV4Udp
        };
        (removed, added, outcome)
    };
    Ok(Plan {
        header,
        proto: next_header,
        icmp_type,
        removed,
        added,
        trailer: 0,
        outcome,
        last_use,
    })
}

#[inline(always)]
pub fn sub16(b: &[u8; 40], at: usize) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&b[at..at + 16]);
    out
}

/// The IPv4 header, checksum included; Identification and DF as the userspace translator
/// sets them (its counter becomes a random number here: any unique-enough value will do).
#[inline(always)]
pub fn ipv4_header(
    tos: u8,
    total_len: u32,
    ttl: u8,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
) -> [u8; 20] {
    let dont_fragment = total_len > DF_THRESHOLD;
    let id = if dont_fragment {
        0
    } else {
        unsafe { bpf_get_prandom_u32() as u16 }
    };
    headers::ipv4(&headers::Ipv4Fields {
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
