//! Where a translated frame goes: to the kernel stack (`--xdp-forward stack`), or straight
//! out of the interface the route lookup names (`direct`), with the stack as the fallback
//! whenever the lookup says it must help.
use aya_ebpf::{
    bindings::{
        bpf_fib_lookup, xdp_action, BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_NO_NEIGH,
        BPF_FIB_LKUP_RET_SUCCESS,
    },
    helpers::bpf_fib_lookup as fib_lookup,
    programs::XdpContext,
    EbpfContext as _,
};
use nat64_common::{
    counters::Outcome,
    maps::{ConfigBlock, XdpForward},
    wire::{
        self,
        ipv4::Ipv4,
        ipv6::{self, Ipv6},
    },
};

use super::{
    count,
    frame::{Frame, ETH_HEADER_LEN},
};
use crate::maps::NAT64_XDP_DEVICES;
use crate::translate::Packet;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Sends on the translated IPv4 packet in the frame.
#[inline(always)]
pub fn ipv4(ctx: &XdpContext, cfg: &ConfigBlock) -> u32 {
    if cfg.xdp_forward != XdpForward::Direct as u8 {
        return to_stack(Outcome::ForwardStack);
    }
    direct_ipv4(ctx)
}

/// Sends on the translated IPv6 packet in the frame.
#[inline(always)]
pub fn ipv6(ctx: &XdpContext, cfg: &ConfigBlock) -> u32 {
    if cfg.xdp_forward != XdpForward::Direct as u8 {
        return to_stack(Outcome::ForwardStack);
    }
    direct_ipv6(ctx)
}

// The route lookups are subprograms of their own, called from the program's entry: their
// parameters never share a call chain with the planner (BPF allows 512 bytes for one).

#[inline(never)]
fn direct_ipv4(ctx: &XdpContext) -> u32 {
    let Ok(header) = Frame(ctx).load(ETH_HEADER_LEN) else {
        return to_stack(Outcome::ForwardFibStack);
    };
    let mut params = ipv4_params(ctx, &Ipv4(header));
    redirect(ctx, &mut params)
}

#[inline(never)]
fn direct_ipv6(ctx: &XdpContext) -> u32 {
    let Ok(header) = Frame(ctx).load(ETH_HEADER_LEN) else {
        return to_stack(Outcome::ForwardFibStack);
    };
    let mut params = ipv6_params(ctx, &Ipv6(header));
    redirect(ctx, &mut params)
}

/// The route lookup's question for an IPv4 packet arriving on the frame's interface.
#[inline(always)]
pub(super) fn ipv4_params(ctx: &XdpContext, ip: &Ipv4) -> bpf_fib_lookup {
    let mut params = lookup_params(ctx, AF_INET, ip.proto());
    params.__bindgen_anon_1.tot_len = ip.total_len();
    params.__bindgen_anon_2.tos = ip.tos();
    // Addresses as they lie in memory (network order), as the helper reads them.
    params.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(ip.src());
    params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(ip.dst());
    params
}

/// The route lookup's question for an IPv6 packet arriving on the frame's interface.
#[inline(always)]
pub(super) fn ipv6_params(ctx: &XdpContext, ip: &Ipv6) -> bpf_fib_lookup {
    let mut params = lookup_params(ctx, AF_INET6, ip.next_header());
    params.__bindgen_anon_1.tot_len = ipv6::LEN as u16 + ip.payload_len();
    // Traffic class and flow label, without the version nibble.
    let [version_class, class_flow, flow1, flow2]: [u8; 4] =
        wire::bytes(&ip.0, ipv6::field::VERSION_CLASS_FLOW);
    params.__bindgen_anon_2.flowinfo =
        u32::from_ne_bytes([version_class & 0x0f, class_flow, flow1, flow2]);
    // SAFETY: 16 bytes as four words, as they lie in memory (network order).
    params.__bindgen_anon_3.ipv6_src =
        unsafe { core::mem::transmute::<[u8; 16], [u32; 4]>(ip.src()) };
    params.__bindgen_anon_4.ipv6_dst =
        unsafe { core::mem::transmute::<[u8; 16], [u32; 4]>(ip.dst()) };
    params
}

#[inline(always)]
fn lookup_params(ctx: &XdpContext, family: u8, l4_protocol: u8) -> bpf_fib_lookup {
    // SAFETY: a plain C struct of integers and unions of integers; all zeroes is valid.
    let mut params: bpf_fib_lookup = unsafe { core::mem::zeroed() };
    params.family = family;
    params.l4_protocol = l4_protocol;
    params.ifindex = ctx.ingress_ifindex() as u32;
    params
}

/// Looks the route up (neighbour included) and redirects through the device map.
#[inline(always)]
fn redirect(ctx: &XdpContext, params: &mut bpf_fib_lookup) -> u32 {
    if let Err(outcome) = look_up(ctx, params) {
        return to_stack(outcome);
    }
    // bpf_redirect_map only names the target (the frame leaves after the program returns), so
    // the one device-map lookup decides before the addresses change: a frame addressed to
    // the neighbour would not be taken by our own stack any more.
    let flags = u64::from(xdp_action::XDP_PASS);
    let action = match NAT64_XDP_DEVICES.redirect(params.ifindex, flags) {
        Ok(action) => action,
        Err(_) => return to_stack(Outcome::ForwardNotXdpInterface),
    };
    let mut macs = [0u8; 12];
    macs[..6].copy_from_slice(&params.dmac);
    macs[6..].copy_from_slice(&params.smac);
    if Frame(ctx).store(0, &macs).is_err() {
        count(Outcome::DroppedHelperFailed);
        return xdp_action::XDP_DROP;
    }
    count(Outcome::ForwardRedirected);
    action
}

/// The kernel's route and neighbour for the packet `params` describes, written into
/// `params` (egress `ifindex`, `smac`, `dmac`); the outcome that sends it to the stack when
/// the stack must help. The one decision of where a translated packet may go straight out,
/// for the program's own translations and for what the AF_XDP workers translate.
#[inline(always)]
pub(super) fn look_up(ctx: &XdpContext, params: &mut bpf_fib_lookup) -> Result<(), Outcome> {
    // SAFETY: the helper reads and writes `params`, which we own, of the size we pass.
    let rc = unsafe {
        fib_lookup(
            ctx.as_ptr(),
            params as *mut bpf_fib_lookup,
            core::mem::size_of::<bpf_fib_lookup>() as i32,
            0,
        )
    };
    match rc {
        r if r == i64::from(BPF_FIB_LKUP_RET_SUCCESS) => Ok(()),
        r if r == i64::from(BPF_FIB_LKUP_RET_NO_NEIGH) => Err(Outcome::ForwardFibNoNeighbour),
        r if r == i64::from(BPF_FIB_LKUP_RET_FRAG_NEEDED) => Err(Outcome::ForwardFibFragNeeded),
        _ => Err(Outcome::ForwardFibStack),
    }
}

#[inline(always)]
fn to_stack(outcome: Outcome) -> u32 {
    count(outcome);
    xdp_action::XDP_PASS
}
