//! Where a frame the program did not translate goes: to this receive queue's AF_XDP socket
//! when the stack would only have routed it into the TUN device (userspace translates it
//! there without the stack), to the stack otherwise, as before.
use aya_ebpf::{
    bindings::{bpf_fib_lookup, xdp_action, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_SKIP_NEIGH},
    helpers::bpf_fib_lookup as fib_lookup,
    programs::XdpContext,
    EbpfContext as _,
};
use nat64_common::{
    counters::Outcome,
    maps::{xsk_key, ConfigBlock, XSK_MAX_FRAME_LEN},
    wire::{ipv4::Ipv4, ipv6::Ipv6},
};

use super::{
    count,
    forward::{ipv4_params, ipv6_params},
    frame::{Frame, ETH_HEADER_LEN},
};
use crate::{
    maps::{NAT64_XSKS, NAT64_XSK_SLOTS},
    translate::Packet,
};

/// The action for an untranslated, unchanged frame of the family `v6` says.
// A subprogram of its own, called from the entry: the route lookup's parameters never share
// a call chain with the planner's stack frame.
#[inline(never)]
pub fn offer(ctx: &XdpContext, cfg: &ConfigBlock, v6: bool) -> u32 {
    let ifindex = ctx.ingress_ifindex() as u32;
    // SAFETY: a plain u32 value, only read.
    let Some(slot) = (unsafe { NAT64_XSK_SLOTS.get(&ifindex) }) else {
        return xdp_action::XDP_PASS;
    };
    let Some(key) = xsk_key(*slot, ctx.rx_queue_index()) else {
        return xdp_action::XDP_PASS;
    };
    if (ctx.data_end() - ctx.data()) as u32 > XSK_MAX_FRAME_LEN
        || !routed_into_translator(ctx, cfg, v6)
    {
        return xdp_action::XDP_PASS;
    }
    // A queue whose socket is gone (the daemon stopped under --keep) passes to the stack.
    match NAT64_XSKS.redirect(key, u64::from(xdp_action::XDP_PASS)) {
        Ok(action) => {
            count(Outcome::SlowPathAfXdp);
            action
        }
        Err(action) => action,
    }
}

/// Whether the stack would route the frame's packet into the TUN device: the one test that
/// keeps the box's own traffic, and traffic for other interfaces, on the stack, whatever the
/// reason the program left the packet alone (a fragment to the box is not the translator's).
#[inline(always)]
fn routed_into_translator(ctx: &XdpContext, cfg: &ConfigBlock, v6: bool) -> bool {
    let frame = Frame(ctx);
    let mut params = if v6 {
        let Ok(header) = frame.load(ETH_HEADER_LEN) else {
            return false;
        };
        let ip = Ipv6(header);
        if ip.version() != 6 {
            return false;
        }
        ipv6_params(ctx, &ip)
    } else {
        let Ok(header) = frame.load(ETH_HEADER_LEN) else {
            return false;
        };
        let ip = Ipv4(header);
        if ip.version() != 4 {
            return false;
        }
        ipv4_params(ctx, &ip)
    };
    // No MTU check: a packet too big for the TUN device is userspace's to answer, as it is
    // the translator's MTU that matters; and no neighbour, as a TUN device has none.
    params.__bindgen_anon_1.tot_len = 0;
    // SAFETY: the helper reads and writes `params`, which we own, of the size we pass.
    let rc = unsafe {
        fib_lookup(
            ctx.as_ptr(),
            &mut params as *mut bpf_fib_lookup,
            core::mem::size_of::<bpf_fib_lookup>() as i32,
            BPF_FIB_LOOKUP_SKIP_NEIGH,
        )
    };
    rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS) && params.ifindex == cfg.tun_ifindex
}
