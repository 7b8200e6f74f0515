//! ICMPv4 error → ICMPv6 error (RFC 7915 §4.2–4.3).
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
    four_to_six,
    lookup::{self, Destinations, KernelMapper, LastUse},
    Packet,
};

/// An ICMPv6 error fits the IPv6 minimum MTU (RFC 4443 §2.4); the kernel leaves the rare
/// ICMPv4 error whose quote must be cut to that to userspace.
const MAX_ICMP6_ERROR: u32 = 1280 - ipv6::LEN as u32;

/// The first 20 bytes of a 40-byte working copy, as the IPv4 header they hold.
#[inline(always)]
fn as_ipv4(header: &[u8; 40]) -> Ipv4 {
    Ipv4(nat64_common::wire::bytes(header, 0))
}

/// Decides the translation of the ICMPv4 error at `l3` into `plan`; nothing is changed yet.
/// Returns the host mapping to stamp once it is applied.
#[inline(always)]
pub fn plan<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    plan: &mut ErrorPlan<40>,
) -> Result<LastUse, Outcome> {
    check_step(pkt, l3, cfg, plan)?;
    let last_use = map_step(cfg, plan)?;
    quote_step(pkt, l3, cfg, plan)?;
    quote_map_step(cfg, plan)?;
    quote_header_step(plan);
    let inner_l4 = l3 + 2 * ipv4::LEN + icmp::HEADER_LEN;
    let end = l3 + ipv4::LEN + plan.work.payload_len as usize;
    sum_quote(pkt, inner_l4, end, 0, plan)?;
    let work = &plan.work;
    let inner = as_ipv4(&work.old_inner);
    let inner_proto = inner.proto();
    let echo = EchoChange {
        to_v4: false,
        pseudo_removed: 0,
        pseudo_added: checksum::pseudo_header_v6(
            &work.inner_src6,
            &work.inner_dst6,
            proto::ICMPV6,
            u32::from(inner.total_len()) - ipv4::LEN as u32,
        ),
    };
    let echo = (inner_proto == proto::ICMP).then_some(&echo);
    let message_len = (icmp::HEADER_LEN + ipv6::LEN) as u32 + work.quoted_l4;
    let pseudo = checksum::pseudo_header_v6(&work.src6, &work.dst6, proto::ICMPV6, message_len);
    patch_and_checksum(pkt, inner_l4, inner_proto, echo, pseudo, plan)?;
    outer_header_step(plan);
    Ok(last_use)
}

/// Step: the outer header checked as for any packet.
#[inline(never)]
fn check_step<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    plan: &mut ErrorPlan<40>,
) -> Result<(), Outcome> {
    let checked = four_to_six::check(pkt, l3, cfg)?;
    if checked.ip.proto() != proto::ICMP || checked.trailer != 0 {
        return Err(Outcome::PassProtocol);
    }
    let work = &mut plan.work;
    work.old_icmp = pkt.load(l3 + ipv4::LEN)?;
    // The arrays hold IPv6 headers too; zeros after the IPv4 header add nothing to sums.
    work.ip[..ipv4::LEN].copy_from_slice(&checked.ip.0);
    work.ip[ipv4::LEN..].fill(0);
    work.payload_len = checked.payload_len;
    work.src4 = checked.ip.src();
    work.dst4 = checked.ip.dst();
    Ok(())
}

/// Step: the outer addresses mapped as for any packet.
#[inline(never)]
fn map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<40>) -> Result<LastUse, Outcome> {
    let work = &mut plan.work;
    let mut map = KernelMapper::new(cfg, Destinations::All);
    let mapped = four_to_six::map_addresses(&mut map, &as_ipv4(&work.ip))?;
    work.src6 = mapped.src;
    work.dst6 = mapped.dst;
    Ok(mapped.stamp)
}

/// Step: the quoted packet's header, checked; and the new ICMP header (an MTU-less
/// Fragmentation Needed takes the quoted length).
#[inline(never)]
fn quote_step<P: Packet>(
    pkt: &P,
    l3: usize,
    cfg: &ConfigBlock,
    plan: &mut ErrorPlan<40>,
) -> Result<(), Outcome> {
    let work = &mut plan.work;
    let quoted = work.payload_len - icmp::HEADER_LEN as u32;
    if quoted < ipv4::LEN as u32 {
        return Err(Outcome::PassIcmpQuote);
    }
    let old = Ipv4(pkt.load(l3 + ipv4::LEN + icmp::HEADER_LEN)?);
    if old.version() != 4
        || old.header_len() != ipv4::LEN
        || usize::from(old.total_len()) < ipv4::LEN
        || old.is_fragment()
        || !matches!(old.proto(), proto::TCP | proto::UDP | proto::ICMP)
    {
        return Err(Outcome::PassIcmpQuote);
    }
    work.quoted_l4 = quoted - ipv4::LEN as u32;
    work.kept_l4 = work.quoted_l4;
    if (icmp::HEADER_LEN + ipv6::LEN) as u32 + work.quoted_l4 > MAX_ICMP6_ERROR {
        return Err(Outcome::PassIcmpExtension);
    }
    plan.icmp = header(cfg, Icmp(work.old_icmp), old.total_len())?;
    work.old_inner[..ipv4::LEN].copy_from_slice(&old.0);
    work.old_inner[ipv4::LEN..].fill(0);
    work.inner_src4 = old.src();
    work.inner_dst4 = old.dst();
    Ok(())
}

/// Step: the quoted packet's addresses mapped. It went out from one of the translator's
/// hosts: its source maps through the host table, its destination is remote.
#[inline(never)]
fn quote_map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<40>) -> Result<(), Outcome> {
    let work = &mut plan.work;
    work.inner_src6 = lookup::host_v4_to_v6(cfg, work.inner_src4)?.0;
    work.inner_dst6 = lookup::remote_v4_to_v6(cfg, work.inner_dst4)?;
    Ok(())
}

/// Step: the quoted packet's new header.
#[inline(never)]
fn quote_header_step(plan: &mut ErrorPlan<40>) {
    let work = &plan.work;
    let old = as_ipv4(&work.old_inner);
    // Lengths come from the quoted header, not from how much of the packet was quoted.
    let payload_len = old.total_len() - ipv4::LEN as u16;
    let next_header = if old.proto() == proto::ICMP {
        proto::ICMPV6
    } else {
        old.proto()
    };
    plan.inner = Ipv6::build(
        old.tos(),
        payload_len,
        next_header,
        old.ttl(),
        &work.inner_src6,
        &work.inner_dst6,
    )
    .0;
}

/// Step: the new outer header.
#[inline(never)]
fn outer_header_step(plan: &mut ErrorPlan<40>) {
    let work = &plan.work;
    let ip = as_ipv4(&work.ip);
    let message_len = (icmp::HEADER_LEN + ipv6::LEN) as u32 + work.quoted_l4;
    plan.outer = Ipv6::build(
        ip.tos(),
        message_len as u16,
        proto::ICMPV6,
        ip.ttl() - 1,
        &work.src6,
        &work.dst6,
    )
    .0;
    plan.total_len = ipv6::LEN as u32 + message_len;
    plan.cut = false;
    plan.outcome = Outcome::TranslatedV4ToV6IcmpError;
}

/// The ICMPv6 header for an ICMPv4 error (checksum zero), as the userspace translator writes
/// it; `quoted_total` is the quoted packet's total length (for an MTU-less Fragmentation
/// Needed).
#[inline(always)]
fn header(cfg: &ConfigBlock, old: Icmp, quoted_total: u16) -> Result<[u8; 8], Outcome> {
    if icmp::v4::carries_length(old.ty()) && old.quote_len(icmp::v4::LENGTH) != 0 {
        return Err(Outcome::PassIcmpExtension);
    }
    let new = match icmp_tables::icmp4_to_icmp6(old.ty(), old.code()) {
        IcmpAction::Error { ty, code } => Icmp::new(ty, code, 0),
        IcmpAction::ParameterProblem { ty, code } => {
            let pointer = if old.ty() == icmp::v4::DEST_UNREACHABLE {
                // Protocol Unreachable: the offending field is the Next Header.
                u8::try_from(ipv6::field::NEXT_HEADER).unwrap_or(6)
            } else {
                icmp_tables::pointer4_to_pointer6((old.rest() >> 24) as u8)
                    .ok_or(Outcome::PassIcmpType)?
            };
            Icmp::new(ty, code, u32::from(pointer))
        }
        IcmpAction::PacketTooBig { ty, code } => {
            let mtu4 = old.rest() as u16;
            let mtu = mtu::frag_needed_to_ptb(mtu4, quoted_total, cfg.ipv4_mtu, cfg.ipv6_mtu);
            Icmp::new(ty, code, mtu)
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => return Err(Outcome::PassIcmpType),
    };
    Ok(new.0)
}
