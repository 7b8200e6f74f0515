//! The TC fast path: translates what it fully understands (TCP, UDP, ICMP echo and the common
//! ICMP errors of known mappings, no options or extension headers) exactly as the userspace
//! translator would, and leaves everything else untouched for userspace, saying why in the
//! counters.
mod csum;
mod icmp_error;
mod packet;

use aya_ebpf::{
    bindings::{BPF_F_INGRESS, TC_ACT_OK, TC_ACT_SHOT},
    helpers::bpf_redirect,
    programs::TcContext,
};
use nat64_common::{counters::Outcome, maps::ConfigBlock, wire::ethertype};

use crate::{
    maps,
    translate::{
        echo, four_to_six,
        lookup::{Destinations, KernelMapper, LastUse},
        six_to_four, Plan, Stamp,
    },
};
use packet::Skb;

/// `Ok(how it was translated)` or `Err(why it was not)`.
type Verdict = Result<Outcome, Outcome>;

/// The TC action for a packet, counted.
#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    let Some(cfg) = maps::config().filter(|c| c.tun_ifindex != 0) else {
        return finish(Err(Outcome::PassNotConfigured), 0);
    };
    // skb->protocol rather than the version nibble: it is what bpf_skb_change_proto checks.
    let v6 = match u16::from_be(ctx.skb.protocol() as u16) {
        ethertype::IPV6 => true,
        ethertype::IPV4 => false,
        _ => return finish(Err(Outcome::PassNotIp), 0),
    };
    if let Err(outcome) = echo::check_checksum(&Skb(ctx), packet::l3_offset(), v6) {
        return finish(Err(outcome), 0);
    }
    if v6 {
        six_to_four(ctx, cfg).unwrap_or_else(|| icmp_error::six_to_four(ctx, cfg))
    } else {
        four_to_six(ctx, cfg).unwrap_or_else(|| icmp_error::four_to_six(ctx, cfg))
    }
}

// One BPF subprogram per direction: each gets its own 512-byte stack frame, which the two
// together inlined into one function would exceed. `None`: an ICMP type other than echo,
// for the ICMP error path (`icmp_error`) to decide and count.
#[inline(never)]
fn six_to_four(ctx: &TcContext, cfg: &ConfigBlock) -> Option<i32> {
    let mut map = KernelMapper::new(cfg, Destinations::All);
    let verdict = match six_to_four::plan(&Skb(ctx), packet::l3_offset(), cfg, &mut map) {
        Err(Outcome::PassIcmpType) => return None,
        plan => plan.and_then(|plan| apply(ctx, plan, ethertype::IPV4)),
    };
    Some(finish(verdict, cfg.tun_ifindex))
}

#[inline(never)]
fn four_to_six(ctx: &TcContext, cfg: &ConfigBlock) -> Option<i32> {
    let mut map = KernelMapper::new(cfg, Destinations::All);
    let verdict = match four_to_six::plan(&Skb(ctx), packet::l3_offset(), cfg, &mut map) {
        Err(Outcome::PassIcmpType) => return None,
        plan => plan.and_then(|plan| apply(ctx, plan, ethertype::IPV6)),
    };
    Some(finish(verdict, cfg.tun_ifindex))
}

/// Rewrites the packet as `plan` says, into the family of `ethertype`.
#[inline(always)]
fn apply<const H: usize>(ctx: &TcContext, plan: Plan<H, LastUse>, ethertype: u16) -> Verdict {
    ctx.change_proto(ethertype.to_be(), 0)
        .map_err(|_| Outcome::PassChangeProtoFailed)?;
    let l3 = packet::l3_offset();
    packet::store(ctx, l3, &plan.header)?;
    let l4 = l3 + H;
    if plan.port.is_some() {
        packet::store(ctx, l4 + usize::from(plan.port.at), &plan.port.new)?;
    }
    if plan.is_icmp() {
        packet::store(ctx, l4, &[plan.icmp_type])?;
        csum::replace_icmp(ctx, l4, plan.delta_with_port())?;
    } else {
        csum::replace_pseudo(ctx, l4, plan.proto, plan.delta())?;
        if plan.port.is_some() {
            // Not a pseudo-header change: a partial checksum leaves it to whoever
            // completes the sum.
            csum::replace_payload(ctx, l4, plan.proto, plan.port_delta())?;
        }
    }
    plan.stamp.stamp();
    Ok(plan.outcome)
}

/// Counts the outcome and turns it into the TC action.
#[inline(always)]
fn finish(verdict: Verdict, ifindex: u32) -> i32 {
    let counters = &maps::NAT64_TC_COUNTERS;
    match verdict {
        Ok(outcome) => {
            maps::count(counters, outcome);
            // BPF_F_INGRESS: the translated packet re-enters the stack as if the TUN reader
            // had written it, so routing, conntrack and MASQUERADE apply to it.
            unsafe { bpf_redirect(ifindex, u64::from(BPF_F_INGRESS)) as i32 }
        }
        Err(outcome) => {
            maps::count(counters, outcome);
            if outcome == Outcome::DroppedHelperFailed {
                TC_ACT_SHOT as i32
            } else {
                TC_ACT_OK
            }
        }
    }
}
