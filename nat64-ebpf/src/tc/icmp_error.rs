//! Applies an ICMP error plan to the skb: the outer IP header changes size at the front
//! (`bpf_skb_change_proto`), the quoted one right behind the 8-byte ICMP header
//! (`bpf_skb_adjust_room` at the network layer, which opens or closes room after the outer
//! header), and an IPv4 error may lose the end of its quote (`bpf_skb_change_tail`).
use aya_ebpf::{
    bindings::bpf_adj_room_mode::BPF_ADJ_ROOM_NET, helpers::bpf_skb_change_tail, maps::PerCpuArray,
    programs::TcContext,
};
use nat64_common::{counters::Outcome, maps::ConfigBlock, wire::ethertype};

use super::{finish, packet, packet::Skb, Verdict};
use crate::{
    maps,
    translate::{
        icmp_error::{four_to_six, six_to_four, ErrorPlan, InnerPatch},
        lookup::LastUse,
        Stamp,
    },
};

// A subprogram per direction, called from the program's entry rather than from the
// direction's own subprogram: the stack frames of a call chain share 512 bytes.
#[inline(never)]
pub fn six_to_four(ctx: &TcContext, cfg: &ConfigBlock) -> i32 {
    let verdict = working_memory(&maps::NAT64_ICMP_ERROR_TO_V4).and_then(|plan| {
        six_to_four::plan(&Skb(ctx), packet::l3_offset(), cfg, plan)
            .and_then(|last_use| apply(ctx, plan, last_use, ethertype::IPV4))
    });
    finish(verdict, cfg.tun_ifindex)
}

#[inline(never)]
pub fn four_to_six(ctx: &TcContext, cfg: &ConfigBlock) -> i32 {
    let verdict = working_memory(&maps::NAT64_ICMP_ERROR_TO_V6).and_then(|plan| {
        four_to_six::plan(&Skb(ctx), packet::l3_offset(), cfg, plan)
            .and_then(|last_use| apply(ctx, plan, last_use, ethertype::IPV6))
    });
    finish(verdict, cfg.tun_ifindex)
}

/// This CPU's plan. The lookup cannot fail for index 0 of a per-CPU array; should it,
/// userspace translates the packet.
#[inline(always)]
fn working_memory<const H: usize>(
    map: &'static PerCpuArray<ErrorPlan<H>>,
) -> Result<&'static mut ErrorPlan<H>, Outcome> {
    // SAFETY: per-CPU memory, and a TC program runs to completion on its CPU.
    map.get_ptr_mut(0)
        .map(|p| unsafe { &mut *p })
        .ok_or(Outcome::PassNotConfigured)
}

#[inline(always)]
fn apply<const H: usize>(
    ctx: &TcContext,
    plan: &ErrorPlan<H>,
    last_use: LastUse,
    ethertype: u16,
) -> Verdict {
    ctx.change_proto(ethertype.to_be(), 0)
        .map_err(|_| Outcome::PassChangeProtoFailed)?;
    // From here on the packet has changed: a failure drops it.
    let changed = |_| Outcome::DroppedHelperFailed;
    // The quoted header grows or shrinks by as much as the outer one: 20 bytes.
    let room = 2 * H as i32 - 60;
    ctx.adjust_room(room, BPF_ADJ_ROOM_NET, 0)
        .map_err(changed)?;
    let l3 = packet::l3_offset();
    if plan.cut {
        // SAFETY: the helper checks the context and the length.
        let rc = unsafe { bpf_skb_change_tail(ctx.skb.skb, (l3 as u32) + plan.total_len, 0) };
        if rc != 0 {
            return Err(Outcome::DroppedHelperFailed);
        }
    }
    packet::store(ctx, l3, &plan.outer)?;
    packet::store(ctx, l3 + H, &plan.icmp)?;
    packet::store(ctx, l3 + H + 8, &plan.inner)?;
    let inner_l4 = l3 + 2 * H + 8;
    match plan.patch {
        InnerPatch::None => {}
        InnerPatch::Checksum { at, value } => packet::store(ctx, inner_l4 + at, &value)?,
        InnerPatch::Echo(bytes) => packet::store(ctx, inner_l4, &bytes)?,
    }
    last_use.stamp();
    Ok(plan.outcome)
}
