//! Reading and writing the packet. Everything goes through bpf_skb_load_bytes /
//! bpf_skb_store_bytes: GSO packets are linear only in their headers, and copies to the stack
//! need no bounds proofs the verifier might reject after LLVM rewrites them.
use aya_ebpf::programs::TcContext;
use nat64_common::counters::TcOutcome;

/// Where the IP header starts in `skb->data`, set at load time (`EbpfLoader::set_global`):
/// 0 on the TUN device (no link-layer header), 14 under BPF_PROG_TEST_RUN, which hands
/// SCHED_CLS programs an Ethernet frame.
#[no_mangle]
static L3_OFFSET: u32 = 0;

#[inline(always)]
pub fn l3_offset() -> usize {
    // Volatile: the value is patched into .rodata at load time, after compilation.
    unsafe { core::ptr::read_volatile(&L3_OFFSET) as usize }
}

/// `N` bytes at `offset`, or `PassTruncated` when the packet is shorter.
#[inline(always)]
pub fn load<const N: usize>(ctx: &TcContext, offset: usize) -> Result<[u8; N], TcOutcome> {
    ctx.load::<[u8; N]>(offset)
        .map_err(|_| TcOutcome::PassTruncated)
}

/// Writes `bytes` at `offset`; a failure here comes after the packet was changed.
#[inline(always)]
pub fn store<const N: usize>(
    ctx: &TcContext,
    offset: usize,
    bytes: &[u8; N],
) -> Result<(), TcOutcome> {
    ctx.store(offset, bytes, 0)
        .map_err(|_| TcOutcome::DroppedHelperFailed)
}

/// Segment size of a GSO packet (0 when it is not one): the MTU applies per segment.
#[inline(always)]
pub fn gso_size(ctx: &TcContext) -> u32 {
    unsafe { (*ctx.skb.skb).gso_size }
}

/// Length of the largest packet this one becomes on the wire: the whole packet, or for GSO
/// one segment (`l4_header_len` plus the segment payload) behind an `l3_header_len` header.
#[inline(always)]
pub fn wire_len(ctx: &TcContext, total: u32, l3_header_len: u32, l4_header_len: u32) -> u32 {
    match gso_size(ctx) {
        0 => total,
        seg => l3_header_len + l4_header_len + seg,
    }
}

#[inline(always)]
pub fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}
