//! The TC fast path: translates what it fully understands (TCP, UDP, ICMP echo of known
//! mappings, no options or extension headers) exactly as the userspace translator would, and
//! leaves everything else untouched for userspace, saying why in the counters.
pub mod maps;

mod csum;
mod lookup;
mod packet;
mod v4_to_v6;
mod v6_to_v4;

use aya_ebpf::{
    bindings::{BPF_F_INGRESS, TC_ACT_OK, TC_ACT_SHOT},
    helpers::bpf_redirect,
    programs::TcContext,
};
use nat64_common::{counters::TcOutcome, maps::ConfigBlock};

/// `Ok(how it was translated)` or `Err(why it was not)`.
pub type Verdict = Result<TcOutcome, TcOutcome>;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// The TC action for a packet, counted.
#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    let Some(cfg) = maps::config().filter(|c| c.tun_ifindex != 0) else {
        return finish(Err(TcOutcome::PassNotConfigured), 0);
    };
    // skb->protocol rather than the version nibble: it is what bpf_skb_change_proto checks.
    match u16::from_be(ctx.skb.protocol() as u16) {
        ETH_P_IPV6 => six_to_four(ctx, cfg),
        ETH_P_IP => four_to_six(ctx, cfg),
        _ => finish(Err(TcOutcome::PassNotIp), 0),
    }
}

// One BPF subprogram per direction: each gets its own 512-byte stack frame, which the two
// together inlined into one function would exceed.
#[inline(never)]
fn six_to_four(ctx: &TcContext, cfg: &ConfigBlock) -> i32 {
    finish(v6_to_v4::translate(ctx, cfg), cfg.tun_ifindex)
}

#[inline(never)]
fn four_to_six(ctx: &TcContext, cfg: &ConfigBlock) -> i32 {
    finish(v4_to_v6::translate(ctx, cfg), cfg.tun_ifindex)
}

/// Counts the outcome and turns it into the TC action.
#[inline(always)]
fn finish(verdict: Verdict, ifindex: u32) -> i32 {
    match verdict {
        Ok(outcome) => {
            maps::count(outcome);
            // BPF_F_INGRESS: the translated packet re-enters the stack as if the TUN reader
            // had written it, so routing, conntrack and MASQUERADE apply to it.
            unsafe { bpf_redirect(ifindex, u64::from(BPF_F_INGRESS)) as i32 }
        }
        Err(outcome) => {
            maps::count(outcome);
            if outcome == TcOutcome::DroppedHelperFailed {
                TC_ACT_SHOT as i32
            } else {
                TC_ACT_OK
            }
        }
    }
}
