//! ICMPv6 error → ICMPv4 error (RFC 7915 §5.2–5.3).
use nat64_common::{
    checksum,
    counters::Outcome,
    icmp_tables::{self, IcmpAction},
    maps::ConfigBlock,
    mtu,
    wire::{
        icmp::{self, Icmp},
        ipv4::{self, Ipv4},
        ipv6::{self, Ipv6},
        proto,
    },
};

use super::{patch_and_checksum, sum_quote, EchoChange, ErrorPlan};
use crate::translate::{
    lookup::{self, Destinations, KernelMapper, LastUse},
    six_to_four::{self, ipv4_header},
    Packet,
};

/// An ICMPv4 error fits the IPv4 minimum reassembly size (RFC 1812 §4.3.2.3): 576 bytes
/// with its IP header; a longer quote is cut.
const MAX_ICMP4_ERROR: u32 = 576 - ipv4::LEN as u32;

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
    let inner_l4 = l3 + 2 * ipv6::LEN + icmp::HEADER_LEN;
    let end = l3 + ipv6::LEN + work.payload_len as usize;
    let pseudo =
        checksum::pseudo_header_v6(&work.src6, &work.dst6, proto::ICMPV6, work.payload_len);
    sum_quote(pkt, inner_l4, end, pseudo, plan)?;
    let work = &plan.work;
    let inner = Ipv6(work.old_inner);
    let inner_proto = inner.next_header();
    let echo = EchoChange {
        to_v4: true,
        pseudo_removed: checksum::pseudo_header_v6(
            &work.inner_src6,
            &work.inner_dst6,
            proto::ICMPV6,
            u32::from(inner.payload_len()),
        ),
        pseudo_added: 0,
    };
    let echo = (inner_proto == proto::ICMPV6).then_some(&echo);
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
    if checked.ip.next_header() != proto::ICMPV6 {
        return Err(Outcome::PassProtocol);
    }
    let old_icmp = Icmp(pkt.load(l3 + ipv6::LEN)?);
    plan.icmp = header(cfg, old_icmp)?;
    let work = &mut plan.work;
    work.old_icmp = old_icmp.0;
    work.ip = checked.ip.0;
    work.payload_len = checked.payload_len;
    work.src6 = checked.ip.src();
    work.dst6 = checked.ip.dst();
    Ok(())
}

/// Step: the outer addresses mapped as for any packet.
#[inline(never)]
fn map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<20>) -> Result<LastUse, Outcome> {
    let work = &mut plan.work;
    let mut map = KernelMapper::new(cfg, Destinations::All);
    let mapped = six_to_four::map_addresses(&mut map, &Ipv6(work.ip))?;
    work.src4 = mapped.src;
    work.dst4 = mapped.dst;
    Ok(mapped.stamp)
}

/// Step: the quoted packet's header, checked.
#[inline(never)]
fn quote_step<P: Packet>(pkt: &P, l3: usize, plan: &mut ErrorPlan<20>) -> Result<(), Outcome> {
    let work = &mut plan.work;
    let quoted = work.payload_len - icmp::HEADER_LEN as u32;
    if quoted < ipv6::LEN as u32 {
        return Err(Outcome::PassIcmpQuote);
    }
    let old = Ipv6(pkt.load(l3 + ipv6::LEN + icmp::HEADER_LEN)?);
    if old.version() != 6 || !matches!(old.next_header(), proto::TCP | proto::UDP | proto::ICMPV6) {
        return Err(Outcome::PassIcmpQuote);
    }
    work.old_inner = old.0;
    work.inner_src6 = old.src();
    work.inner_dst6 = old.dst();
    work.quoted_l4 = quoted - ipv6::LEN as u32;
    work.kept_l4 = work
        .quoted_l4
        .min(MAX_ICMP4_ERROR - (icmp::HEADER_LEN + ipv4::LEN) as u32);
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
    let old = Ipv6(work.old_inner);
    // Lengths come from the quoted header, not from how much of the packet was quoted.
    let total_len = (ipv4::LEN as u32 + u32::from(old.payload_len())).min(0xffff);
    plan.inner = Ipv4::build(&ipv4::Fields {
        tos: old.traffic_class(),
        total_len: total_len as u16,
        id: 0,
        dont_fragment: ipv4::dont_fragment_for(total_len as usize),
        more_fragments: false,
        fragment_offset: 0,
        ttl: old.hop_limit(),
        proto: if old.next_header() == proto::ICMPV6 {
            proto::ICMP
        } else {
            old.next_header()
        },
        src: work.inner_src4,
        dst: work.inner_dst4,
    })
    .0;
}

/// Step: the new outer header, around the message as cut.
#[inline(never)]
fn outer_header_step(plan: &mut ErrorPlan<20>) {
    let work = &plan.work;
    let ip = Ipv6(work.ip);
    let total_len = (ipv4::LEN + icmp::HEADER_LEN + ipv4::LEN) as u32 + work.kept_l4;
    plan.outer = ipv4_header(
        lookup::random_ipv4_id,
        ip.traffic_class(),
        total_len,
        total_len,
        ip.hop_limit() - 1,
        proto::ICMP,
        work.src4,
        work.dst4,
    )
    .0;
    plan.total_len = total_len;
    plan.cut = work.kept_l4 < work.quoted_l4;
    plan.outcome = Outcome::TranslatedV6ToV4IcmpError;
}

/// The ICMPv4 header for an ICMPv6 error (checksum zero), as the userspace translator
/// writes it.
#[inline(always)]
fn header(cfg: &ConfigBlock, old: Icmp) -> Result<[u8; 8], Outcome> {
    let new = match icmp_tables::icmp6_to_icmp4(old.ty(), old.code()) {
        IcmpAction::Error { ty, code } => {
            // An RFC 4884 extension is userspace's to translate.
            if icmp::v6::carries_length(old.ty()) && old.quote_len(icmp::v6::LENGTH) != 0 {
                return Err(Outcome::PassIcmpExtension);
            }
            Icmp::new(ty, code, 0)
        }
        IcmpAction::ParameterProblem { ty, code } => {
            let pointer =
                icmp_tables::pointer6_to_pointer4(old.rest()).ok_or(Outcome::PassIcmpType)?;
            Icmp::new(ty, code, u32::from(pointer) << 24)
        }
        IcmpAction::PacketTooBig { ty, code } => {
            let mtu = mtu::ptb_to_frag_needed(old.rest(), cfg.ipv4_mtu, cfg.ipv6_mtu);
            Icmp::new(ty, code, u32::from(mtu))
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => return Err(Outcome::PassIcmpType),
    };
    Ok(new.0)
}
