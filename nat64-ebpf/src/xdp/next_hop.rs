//! The route lookup the AF_XDP workers ask for the packets they translate (run by
//! `BPF_PROG_TEST_RUN` on the translated frame's headers, as received on the socket's
//! interface): the same lookup and the same answer as for the program's own translations
//! under `--xdp-forward direct`, so both leave the same way.
use aya_ebpf::programs::XdpContext;
use nat64_common::{
    maps::NEXT_HOP_STACK,
    wire::{ethertype, ipv4::Ipv4, ipv6::Ipv6},
};

use super::{
    forward::{ipv4_params, ipv6_params, look_up},
    frame::{Frame, ETHERTYPE_OFFSET, ETH_HEADER_LEN},
};
use crate::translate::Packet;

/// The egress interface's index, with the neighbour's and the interface's addresses written
/// into the frame, or [`NEXT_HOP_STACK`].
#[inline(always)]
pub fn answer(ctx: &XdpContext) -> u32 {
    let Ok(ethertype) = Frame(ctx).load::<2>(ETHERTYPE_OFFSET) else {
        return NEXT_HOP_STACK;
    };
    match u16::from_be_bytes(ethertype) {
        ethertype::IPV4 => ipv4(ctx),
        ethertype::IPV6 => ipv6(ctx),
        _ => NEXT_HOP_STACK,
    }
}

#[inline(never)]
fn ipv4(ctx: &XdpContext) -> u32 {
    let Ok(header) = Frame(ctx).load(ETH_HEADER_LEN) else {
        return NEXT_HOP_STACK;
    };
    let mut params = ipv4_params(ctx, &Ipv4(header));
    resolved(ctx, &mut params)
}

#[inline(never)]
fn ipv6(ctx: &XdpContext) -> u32 {
    let Ok(header) = Frame(ctx).load(ETH_HEADER_LEN) else {
        return NEXT_HOP_STACK;
    };
    let mut params = ipv6_params(ctx, &Ipv6(header));
    resolved(ctx, &mut params)
}

#[inline(always)]
fn resolved(ctx: &XdpContext, params: &mut aya_ebpf::bindings::bpf_fib_lookup) -> u32 {
    if look_up(ctx, params).is_err() {
        return NEXT_HOP_STACK;
    }
    let mut macs = [0u8; 12];
    macs[..6].copy_from_slice(&params.dmac);
    macs[6..].copy_from_slice(&params.smac);
    if Frame(ctx).store(0, &macs).is_err() {
        return NEXT_HOP_STACK;
    }
    params.ifindex
}
