//! An IPv6 address as two big-endian `u64` halves: register arithmetic only, so code built on
//! it inlines into a BPF program without stack arrays or variable-offset accesses (the BPF
//! target has no 128-bit shifts).

#[inline(always)]
pub(crate) fn halves(addr: &[u8; 16]) -> (u64, u64) {
    let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = *addr;
    (
        u64::from_be_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
        u64::from_be_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
    )
}

#[inline(always)]
pub(crate) fn join(hi: u64, lo: u64) -> [u8; 16] {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = hi.to_be_bytes();
    let [b0, b1, b2, b3, b4, b5, b6, b7] = lo.to_be_bytes();
    [
        a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7,
    ]
}
