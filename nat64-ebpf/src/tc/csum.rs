//! Transport checksum fix-ups through the kernel's helpers, which also keep partial
//! (CHECKSUM_PARTIAL, from local senders) and complete checksums consistent.
use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    helpers::bpf_csum_diff,
    programs::TcContext,
};
use nat64_common::counters::TcOutcome;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// Offset of the checksum field inside the transport header.
#[inline(always)]
pub fn checksum_offset(proto: u8) -> usize {
    match proto {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => 2,
    }
}

/// One's-complement sum of `to` minus `from` (`bpf_csum_diff`); sizes are multiples of 4.
#[inline(always)]
pub fn diff<const F: usize, const T: usize>(
    from: &[u8; F],
    to: &[u8; T],
) -> Result<u64, TcOutcome> {
    let d = unsafe {
        bpf_csum_diff(
            from.as_ptr() as *mut u32,
            F as u32,
            to.as_ptr() as *mut u32,
            T as u32,
            0,
        )
    };
    if d < 0 {
        Err(TcOutcome::DroppedHelperFailed)
    } else {
        Ok(d as u64)
    }
}

/// Applies a pseudo-header address change to a TCP or UDP checksum at `l4 + offset`. UDP:
/// a result of zero is written as 0xffff (zero means "no checksum").
#[inline(always)]
pub fn replace_pseudo(ctx: &TcContext, l4: usize, proto: u8, d: u64) -> Result<(), TcOutcome> {
    let mut flags = u64::from(BPF_F_PSEUDO_HDR);
    if proto == PROTO_UDP {
        flags |= u64::from(BPF_F_MARK_MANGLED_0);
    }
    ctx.l4_csum_replace(l4 + checksum_offset(proto), 0, d, flags)
        .map_err(|_| TcOutcome::DroppedHelperFailed)
}

/// Applies an ICMP checksum change (IPv6 pseudo-header added or removed, type changed): ICMP
/// checksums are always complete, so no pseudo-header flag.
#[inline(always)]
pub fn replace_icmp(ctx: &TcContext, l4: usize, d: u64) -> Result<(), TcOutcome> {
    ctx.l4_csum_replace(l4 + 2, 0, d, 0)
        .map_err(|_| TcOutcome::DroppedHelperFailed)
}
