//! Transport checksum fix-ups through the kernel's helpers, which also keep partial
//! (CHECKSUM_PARTIAL, from local senders) and complete checksums consistent.
use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    programs::TcContext,
};
use nat64_common::counters::Outcome;

use nat64_common::wire::{l4::checksum_offset, proto};

/// Applies a pseudo-header address change to a TCP or UDP checksum at `l4 + offset`. UDP:
/// a result of zero is written as 0xffff (zero means "no checksum").
#[inline(always)]
pub fn replace_pseudo(ctx: &TcContext, l4: usize, protocol: u8, delta: u32) -> Result<(), Outcome> {
    replace_l4(ctx, l4, protocol, delta, u64::from(BPF_F_PSEUDO_HDR))
}

/// Applies a change inside a TCP or UDP header or payload (a port): a complete checksum
/// takes it, a partial one is left as it is (whoever completes the sum adds the bytes).
#[inline(always)]
pub fn replace_payload(
    ctx: &TcContext,
    l4: usize,
    protocol: u8,
    delta: u32,
) -> Result<(), Outcome> {
    replace_l4(ctx, l4, protocol, delta, 0)
}

#[inline(always)]
fn replace_l4(
    ctx: &TcContext,
    l4: usize,
    protocol: u8,
    delta: u32,
    mut flags: u64,
) -> Result<(), Outcome> {
    if protocol == proto::UDP {
        flags |= u64::from(BPF_F_MARK_MANGLED_0);
    }
    ctx.l4_csum_replace(l4 + checksum_offset(protocol), 0, u64::from(delta), flags)
        .map_err(|_| Outcome::DroppedHelperFailed)
}

/// Applies an ICMP checksum change (IPv6 pseudo-header added or removed, type changed): ICMP
/// checksums are always complete, so no pseudo-header flag.
#[inline(always)]
pub fn replace_icmp(ctx: &TcContext, l4: usize, delta: u32) -> Result<(), Outcome> {
    ctx.l4_csum_replace(l4 + 2, 0, u64::from(delta), 0)
        .map_err(|_| Outcome::DroppedHelperFailed)
}
