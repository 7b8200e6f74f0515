//! ICMPv4 error → ICMPv6 error (RFC 7915 §4.2–4.3).
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
    four_to_six::{self, Destinations},
    lookup::{self, LastUse},
    Packet, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};

/// An ICMPv6 error fits the IPv6 minimum MTU (RFC 4443 §2.4); the kernel leaves the rare
/// ICMPv4 error whose quote must be cut to that to userspace.
const MAX_ICMP6_ERROR: u32 = 1280 - 40;

const FLAG_MF: u16 = 0x2000;
const FRAGMENT_OFFSET: u16 = 0x1fff;

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
    let inner_l4 = l3 + 20 + 8 + 20;
    let end = l3 + 20 + plan.work.payload_len as usize;
    sum_quote(pkt, inner_l4, end, 0, plan)?;
    let work = &plan.work;
    let inner_proto = work.old_inner[9];
    let echo = EchoChange {
        to_v4: false,
        pseudo_removed: 0,
        pseudo_added: checksum::pseudo_header_v6(
            &work.inner_src6,
            &work.inner_dst6,
            PROTO_ICMPV6,
            u32::from(be16([work.old_inner[2], work.old_inner[3]])) - 20,
        ),
    };
    let echo = (inner_proto == PROTO_ICMP).then_some(&echo);
    let message_len = 8 + 40 + work.quoted_l4;
    let pseudo = checksum::pseudo_header_v6(&work.src6, &work.dst6, PROTO_ICMPV6, message_len);
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
    if checked.ip[9] != PROTO_ICMP || checked.trailer != 0 {
        return Err(Outcome::PassProtocol);
    }
    let work = &mut plan.work;
    work.old_icmp = pkt.load(l3 + 20)?;
    // The arrays hold IPv6 headers too; zeros after the IPv4 header add nothing to sums.
    work.ip[..20].copy_from_slice(&checked.ip);
    work.ip[20..].fill(0);
    work.payload_len = checked.payload_len;
    work.src4 = [
        checked.ip[12],
        checked.ip[13],
        checked.ip[14],
        checked.ip[15],
    ];
    work.dst4 = [
        checked.ip[16],
        checked.ip[17],
        checked.ip[18],
        checked.ip[19],
    ];
    Ok(())
}

/// Step: the outer addresses mapped as for any packet.
#[inline(never)]
fn map_step(cfg: &ConfigBlock, plan: &mut ErrorPlan<40>) -> Result<LastUse, Outcome> {
    let work = &mut plan.work;
    let mut ip = [0u8; 20];
    ip.copy_from_slice(&work.ip[..20]);
    let (src6, dst6, last_use) = four_to_six::map_addresses(cfg, &ip, Destinations::All)?;
    work.src6 = src6;
    work.dst6 = dst6;
    Ok(last_use)
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
    let quoted = work.payload_len - 8;
    if quoted < 20 {
        return Err(Outcome::PassIcmpQuote);
    }
    let old: [u8; 20] = pkt.load(l3 + 20 + 8)?;
    let total_len = be16([old[2], old[3]]);
    let flags = be16([old[6], old[7]]);
    if old[0] != 0x45
        || total_len < 20
        || flags & (FLAG_MF | FRAGMENT_OFFSET) != 0
        || !matches!(old[9], PROTO_TCP | PROTO_UDP | PROTO_ICMP)
    {
        return Err(Outcome::PassIcmpQuote);
    }
    work.quoted_l4 = quoted - 20;
    work.kept_l4 = work.quoted_l4;
    if 8 + 40 + work.quoted_l4 > MAX_ICMP6_ERROR {
        return Err(Outcome::PassIcmpExtension);
    }
    plan.icmp = header(cfg, work.old_icmp, total_len)?;
    work.old_inner[..20].copy_from_slice(&old);
    work.old_inner[20..].fill(0);
    work.inner_src4 = [old[12], old[13], old[14], old[15]];
    work.inner_dst4 = [old[16], old[17], old[18], old[19]];
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
    let old = &work.old_inner;
    // Lengths come from the quoted header, not from how much of the packet was quoted.
    let payload_len = be16([old[2], old[3]]) - 20;
    let proto = if old[9] == PROTO_ICMP {
        PROTO_ICMPV6
    } else {
        old[9]
    };
    plan.inner = headers::ipv6(
        old[1],
        payload_len,
        proto,
        old[8],
        &work.inner_src6,
        &work.inner_dst6,
    );
}

/// Step: the new outer header.
#[inline(never)]
fn outer_header_step(plan: &mut ErrorPlan<40>) {
    let work = &plan.work;
    let message_len = 8 + 40 + work.quoted_l4;
    plan.outer = headers::ipv6(
        work.ip[1],
        message_len as u16,
        PROTO_ICMPV6,
        work.ip[8] - 1,
        &work.src6,
        &work.dst6,
    );
    plan.total_len = 40 + message_len;
    plan.cut = false;
    plan.outcome = Outcome::TranslatedV4ToV6IcmpError;
}

/// The ICMPv6 header for an ICMPv4 error (checksum zero), as the userspace translator writes
/// it; `quoted_total` is the quoted packet's total length (for an MTU-less Fragmentation
/// Needed).
#[inline(always)]
fn header(cfg: &ConfigBlock, old: [u8; 8], quoted_total: u16) -> Result<[u8; 8], Outcome> {
    // Destination Unreachable, Time Exceeded and Parameter Problem carry an RFC 4884 length.
    if matches!(old[0], 3 | 11 | 12) && old[5] != 0 {
        return Err(Outcome::PassIcmpExtension);
    }
    let mut new = [0u8; 8];
    match icmp_tables::icmp4_to_icmp6(old[0], old[1]) {
        IcmpAction::Error { ty, code } => {
            new[0] = ty;
            new[1] = code;
        }
        IcmpAction::ParameterProblem { ty, code } => {
            new[0] = ty;
            new[1] = code;
            let pointer = if old[0] == icmp_tables::v4::DEST_UNREACHABLE {
                // Protocol Unreachable: the offending field is the Next Header.
                6
            } else {
                icmp_tables::pointer4_to_pointer6(old[4]).ok_or(Outcome::PassIcmpType)?
            };
            new[4..8].copy_from_slice(&u32::from(pointer).to_be_bytes());
        }
        IcmpAction::PacketTooBig { ty, code } => {
            new[0] = ty;
            new[1] = code;
            let mtu4 = be16([old[6], old[7]]);
            let mtu = mtu::frag_needed_to_ptb(mtu4, quoted_total, cfg.ipv4_mtu, cfg.ipv6_mtu);
            new[4..8].copy_from_slice(&mtu.to_be_bytes());
        }
        IcmpAction::Informational { .. } | IcmpAction::Drop => return Err(Outcome::PassIcmpType),
    }
    Ok(new)
}
