//! ICMPv6 error → ICMPv4 error (RFC 7915 §5.2–5.3).
use nat64_common::{
    checksum,
    counters::Outcome,
    headers,
    icmp_tables::{self, IcmpAction},
    maps::ConfigBlock,
    mtu,
};

use super::{patch_and_checksum, sum_quote, EchoChange, ErrorPlan};
use crate::translate::{
    be16,
    lookup::{self, LastUse},
    six_to_four::{self, ipv4_header, sub16, DF_THRESHOLD},
    Packet, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};

/// An ICMPv4 error fits the IPv4 minimum reassembly size (RFC 1812 §4.3.2.3): 576 bytes
/// with its IP header; a longer quote is cut.
const MAX_ICMP4_ERROR: u32 = 576 - 20;

/// Decides the translation of the ICMPv6 error at `l3` into `plan`; nothing is changed yet.
/// Returns the host mapping to stamp once it is applied.
#[inline(always)]
pub fn plan<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    plan: &mut ErrorPlan<20>,
) -> Result<LastUse, Outcome> {
    check_step(pkt, l3, cfg, plan)?;
    let last_use = map_step(cfg, plan)?;
    quote_step(pkt, l3, plan)?;
    quote_map_step(cfg, plan)?;
    quote_header_step(plan);
    let work = &plan.work;
    let inner_l4 = l3 + 40 + 8 + 40;
    let end = l3 + 40 + work.payload_len as usize;
    let pseudo = checksum::pseudo_header_v6(&work.src6, &work.dst6, PROTO_ICMPV6, work.payload_len);
    sum_quote(pkt, inner_l4, end, pseudo, plan)?;
    let work = &plan.work;
    let inner_proto = work.old_inner[6];
    let echo = EchoChange {
        to_v4: true,
        pseudo_removed: checksum::pseudo_header_v6(
            &work.inner_src6,
            &work.inner_dst6,
            PROTO_ICMPV6,
            u32::from(be16([work.old_inner[4], work.old_inner[5]])),
        ),
        pseudo_added: 0,
    };
    let echo = (inner_proto == PROTO_ICMPV6).then_some(&echo);
    patch_and_checksum(pkt, inner_l4, inner_proto, echo, 0, plan)?;
    outer_header_step(plan);
    Ok(last_use)
}

/// Step: the outer header checked as for any packet, and the new ICMP header.
#[inline(never)]
fn check_step<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    plan: &mut ErrorPlan<20>,
) -> Result<(), Outcome> {
    let checked = six_to_four::check(pkt, l3, cfg)?;
    if checked.ip[6] != PROTO_ICMPV6 {
        return Err(Outcome::PassProtocol);
    }
    let old_icmp: [u8; 8] = pkt.load(l3 + 40)?;
    plan.icmp = header(cfg, old_icmp)?;
    let work = &mut plan.work;
    work.old_icmp = old_icmp;
    work.ip = checked.ip;
    work.payload_len = checked.payload_len;
    work.src6 = sub16(&checked.ip, 8);
    work.dst6 = sub16(&checked.ip, 24);
    Ok(())
}

/// Step: the outer addresses mapped as for any packet.
#[inline(never)]
fn map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<20>) -> Result<LastUse, Outcome> {
    let work = &mut plan.work;
    let (src4, dst4, last_use) = six_to_four::map_addresses(cfg, &work.ip)?;
    work.src4 = src4;
    work.dst4 = dst4;
    Ok(last_use)
}

/// Step: the quoted packet's header, checked.
#[inline(never)]
fn quote_step<P: Packet>(pkt: &P, l3: usize, plan: &mut ErrorPlan<20>) -> Result<(), Outcome> {
    let work = &mut plan.work;
    let quoted = work.payload_len - 8;
    if quoted < 40 {
        return Err(Outcome::PassIcmpQuote);
    }
    let old: [u8; 40] = pkt.load(l3 + 40 + 8)?;
    if old[0] >> 4 != 6 || !matches!(old[6], PROTO_TCP | PROTO_UDP | PROTO_ICMPV6) {
        return Err(Outcome::PassIcmpQuote);
    }
    work.old_inner = old;
    work.inner_src6 = sub16(&old, 8);
    work.inner_dst6 = sub16(&old, 24);
    work.quoted_l4 = quoted - 40;
    work.kept_l4 = work.quoted_l4.min(MAX_ICMP4_ERROR - 8 - 20);
    Ok(())
}

/// Step: the quoted packet's addresses mapped. It went out from the IPv4 side through the
/// translator: its source is a remote address, its destination one of the translator's
/// hosts.
#[inline(never)]
fn quote_map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<20>) -> Result<(), Outcome> {
    let work = &mut plan.work;
    work.inner_src4 = lookup::remote_v6_to_v4(cfg, &work.inner_src6)?;
    work.inner_dst4 = lookup::host_v6_to_v4(cfg, &work.inner_dst6)?.0;
    Ok(())
}

/// Step: the quoted packet's new header.
#[inline(never)]
fn quote_header_step(plan: &mut ErrorPlan<20>) {
    let work = &plan.work;
    let old = &work.old_inner;
    // Lengths come from the quoted header, not from how much of the packet was quoted.
    let total_len = (20 + u32::from(be16([old[4], old[5]]))).min(0xffff);
    plan.inner = headers::ipv4(&headers::Ipv4Fields {
        tos: (old[0] << 4) | (old[1] >> 4),
        total_len: total_len as u16,
        id: 0,
        dont_fragment: total_len > DF_THRESHOLD,
        more_fragments: false,
        fragment_offset: 0,
        ttl: old[7],
        proto: if old[6] == PROTO_ICMPV6 {
            PROTO_ICMP
        } else {
            old[6]
        },
        src: work.inner_src4,
        dst: work.inner_dst4,
    });
}

/// Step: the new outer header, around the message as cut.
#[inline(never)]
fn outer_header_step(plan: &mut ErrorPlan<20>) {
    let work = &plan.work;
    let total_len = 20 + 8 + 20 + work.kept_l4;
    let tos = (work.ip[0] << 4) | (work.ip[1] >> 4);
    plan.outer = ipv4_header(
        tos,
        total_len,
        work.ip[7] - 1,
        PROTO_ICMP,
        work.src4,
        work.dst4,
    );
    plan.total_len = total_len;
    plan.cut = work.kept_l4 < work.quoted_l4;
    plan.outcome = Outcome::TranslatedV6ToV4IcmpError;
}

/// The ICMPv4 header for an ICMPv6 error (checksum zero), as the userspace translator
/// writes it.
#[inline(always)]
fn header(cfg: &ConfigBlock, old: [u8; 8]) -> Result<[u8; 8], Outcome> {
    let rest = u32::from_be_bytes([old[4], old[5], old[6], old[7]]);
    let mut new = [0u8; 8];
    match icmp_tables::icmp6_to_icmp4(old[0], old[1]) {
        IcmpAction::Error { ty, code } => {
            // Destination Unreachable and Time Exceeded carry an RFC 4884 length.
            if matches!(old[0], 1 | 3) && old[4] != 0 {
                return Err(Outcome::PassIcmpExtension);
            }
            new[0] = ty;
            new[1] = code;
        }
        IcmpAction::ParameterProblem { ty, code } => {
            new[0] = ty;
            new[1] = code;
            new[4] = icmp_tables::pointer6_to_pointer4(rest).ok_or(Outcome::PassIcmpType)?;
        }
        IcmpAction::PacketTooBig { ty, code } => {
            new[0] = ty;
            new[1] = code;
            let mtu = mtu::ptb_to_frag_needed(rest, cfg.ipv4_mtu, cfg.ipv6_mtu);
            new[6..8].copy_from_slice(&mtu.to_be_bytes());
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => return Err(Outcome::PassIcmpType),
    }
    Ok(new)
}
