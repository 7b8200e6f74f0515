//! The XDP fast path on the physical interfaces (`--iface`): translates the frames of mapped
//! hosts before the kernel allocates an skb, with the same decisions as the TC program (the
//! shared `translate` module), and sends them on (see `forward`). Every other frame goes on
//! untouched: to userspace through an AF_XDP socket where it would have been routed into the
//! translator, to the stack otherwise (see `slow_path`).
mod forward;
mod frame;
pub mod next_hop;
mod slow_path;

use aya_ebpf::{
    bindings::xdp_action,
    helpers::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use nat64_common::{counters::Outcome, maps::ConfigBlock};

use nat64_common::wire::ethertype;

use crate::{
    maps,
    translate::{
        echo, four_to_six,
        lookup::{Destinations, KernelMapper, LastUse},
        six_to_four, Packet, Plan, Stamp,
    },
};
use frame::{Frame, ETHERTYPE_OFFSET, ETH_HEADER_LEN};

/// The XDP action for a frame, counted.
#[inline(always)]
pub fn handle(ctx: &XdpContext) -> u32 {
    let Some(cfg) = maps::config().filter(|c| c.tun_ifindex != 0) else {
        return pass(Outcome::PassNotConfigured);
    };
    let Ok(ethertype) = Frame(ctx).load::<2>(ETHERTYPE_OFFSET) else {
        return pass(Outcome::PassTruncated);
    };
    let v6 = match u16::from_be_bytes(ethertype) {
        ethertype::IPV6 => true,
        ethertype::IPV4 => false,
        ethertype::VLAN | ethertype::QINQ => return pass(Outcome::PassLinkLayer),
        _ => return pass(Outcome::PassNotIp),
    };
    if let Err(outcome) = echo::check_checksum(&Frame(ctx), ETH_HEADER_LEN, v6) {
        count(outcome);
        return slow_path::offer(ctx, cfg, v6);
    }
    let next = if v6 {
        six_to_four(ctx, cfg)
    } else {
        four_to_six(ctx, cfg)
    };
    // Sent on from here, not from the direction's subprogram: the route lookup's stack
    // frame then follows this one, not the planner's.
    match next {
        Next::Forward(ethertype::IPV4) => forward::ipv4(ctx, cfg),
        Next::Forward(_) => forward::ipv6(ctx, cfg),
        Next::Done(action) => action,
        Next::Untranslated => slow_path::offer(ctx, cfg, v6),
    }
}

/// What a direction's subprogram leaves to do.
enum Next {
    /// Translated: send it on; the frame now carries this ethertype.
    Forward(u16),
    /// An XDP action, counted.
    Done(u32),
    /// Left unchanged, counted by why: the slow path's.
    Untranslated,
}

// One BPF subprogram per direction, as in the TC program: each has its own stack frame.
#[inline(never)]
fn six_to_four(ctx: &XdpContext, cfg: &ConfigBlock) -> Next {
    let mut map = KernelMapper::new(cfg, Destinations::Mapped);
    let plan = match six_to_four::plan(&Frame(ctx), ETH_HEADER_LEN, cfg, &mut map) {
        Ok(plan) => plan,
        Err(outcome) => return untranslated(outcome),
    };
    match apply(ctx, &plan, ethertype::IPV4) {
        Ok(()) => Next::Forward(ethertype::IPV4),
        Err(outcome) => refuse(outcome),
    }
}

#[inline(never)]
fn four_to_six(ctx: &XdpContext, cfg: &ConfigBlock) -> Next {
    let mut map = KernelMapper::new(cfg, Destinations::Mapped);
    let plan = match four_to_six::plan(&Frame(ctx), ETH_HEADER_LEN, cfg, &mut map) {
        Ok(plan) => plan,
        Err(outcome) => return untranslated(outcome),
    };
    match apply(ctx, &plan, ethertype::IPV6) {
        Ok(()) => Next::Forward(ethertype::IPV6),
        Err(outcome) => refuse(outcome),
    }
}

/// Rewrites the frame as `plan` says: the IP header grows or shrinks by 20 bytes, so the
/// frame's head moves and the Ethernet header is written anew in front of the new one.
#[inline(always)]
fn apply<const H: usize>(
    ctx: &XdpContext,
    plan: &Plan<H, LastUse>,
    ethertype: u16,
) -> Result<(), Outcome> {
    let frame = Frame(ctx);
    let macs: [u8; 12] = frame.load(0)?;
    if plan.trailer != 0 {
        // Ethernet padding: only the IP packet is translated.
        // SAFETY: the helper checks the context and the delta.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, -(plan.trailer as i32)) } != 0 {
            return Err(Outcome::PassTruncated);
        }
    }
    // The old IP header is 60 - H bytes long (20 or 40).
    let delta = 60 - 2 * H as i32;
    // SAFETY: as above; on failure the frame is unchanged.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Outcome::PassChangeProtoFailed);
    }
    // From here on the frame has changed: any failure drops it.
    let frame = Frame(ctx);
    let changed = |_| Outcome::DroppedHelperFailed;
    frame.store(0, &macs)?;
    frame.store(ETHERTYPE_OFFSET, &ethertype.to_be_bytes())?;
    frame.store(ETH_HEADER_LEN, &plan.header)?;
    let l4 = ETH_HEADER_LEN + H;
    if plan.is_icmp() {
        frame.store(l4, &[plan.icmp_type])?;
    }
    if plan.port.is_some() {
        frame.store(l4 + usize::from(plan.port.at), &plan.port.new)?;
    }
    let at = l4 + plan.checksum_offset();
    let check: [u8; 2] = frame.load(at).map_err(changed)?;
    frame.store(
        at,
        &plan.new_checksum(u16::from_be_bytes(check)).to_be_bytes(),
    )?;
    plan.stamp.stamp();
    count(plan.outcome);
    Ok(())
}

#[inline(always)]
fn count(outcome: Outcome) {
    maps::count(&maps::NAT64_XDP_COUNTERS, outcome);
}

/// Not translated: the frame goes on unchanged.
#[inline(always)]
fn pass(outcome: Outcome) -> u32 {
    count(outcome);
    xdp_action::XDP_PASS
}

/// Not translated here, the frame unchanged: the slow path's.
#[inline(always)]
fn untranslated(outcome: Outcome) -> Next {
    count(outcome);
    Next::Untranslated
}

/// The translation failed: unchanged frames go to the slow path, changed ones are dropped.
#[inline(always)]
fn refuse(outcome: Outcome) -> Next {
    if outcome == Outcome::DroppedHelperFailed {
        count(outcome);
        Next::Done(xdp_action::XDP_DROP)
    } else {
        untranslated(outcome)
    }
}
