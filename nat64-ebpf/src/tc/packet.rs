//! Reading and writing the skb. Everything goes through bpf_skb_load_bytes /
//! bpf_skb_store_bytes: GSO packets are linear only in their headers, and copies to the stack
//! need no bounds proofs the verifier might reject after LLVM rewrites them.
use aya_ebpf::programs::TcContext;
use nat64_common::counters::Outcome;

use crate::translate::Packet;

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

/// The packet as the TC program sees it.
pub struct Skb<'a>(pub &'a TcContext);

impl Packet for Skb<'_> {
    const TRAILER_ALLOWED: bool = false;

    #[inline(always)]
    fn len(&self) -> u32 {
        self.0.len()
    }

    #[inline(always)]
    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome> {
        self.0
            .load::<[u8; N]>(offset)
            .map_err(|_| Outcome::PassTruncated)
    }

    #[inline(always)]
    fn gso_size(&self) -> u32 {
        unsafe { (*self.0.skb.skb).gso_size }
    }
}

/// Writes `bytes` at `offset`; a failure here comes after the packet was changed.
#[inline(always)]
pub fn store<const N: usize>(
    ctx: &TcContext,
    offset: usize,
    bytes: &[u8; N],
) -> Result<(), Outcome> {
    ctx.store(offset, bytes, 0)
        .map_err(|_| Outcome::DroppedHelperFailed)
}
