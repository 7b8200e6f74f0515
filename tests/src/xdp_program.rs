//! The XDP program loaded for BPF_PROG_TEST_RUN: the kernel object (shared maps, the TC
//! program beside it) with `nat64_xdp` verified, and helpers to run Ethernet frames through it.

use aya::programs::Xdp;
use aya::Ebpf;

pub use crate::tc_program::{ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX};
pub use crate::test_run::run;

/// XDP actions, as the kernel defines them.
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_REDIRECT: u32 = 4;

/// Ethernet pads shorter frames (without the FCS) to this length.
const MINIMUM_FRAME_LEN: usize = 60;

/// Loads the object with both kernel programs verified.
pub fn load() -> anyhow::Result<Ebpf> {
    let mut ebpf = crate::tc_program::load()?;
    nat64::gateway::kernel_path::xdp::load_program(&mut ebpf)?;
    Ok(ebpf)
}

pub fn program(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    nat64::gateway::kernel_path::xdp::program(ebpf)
}

/// `packet` as a wire delivers it: behind an Ethernet header, padded to the minimum frame.
pub fn frame(packet: &[u8]) -> Vec<u8> {
    let mut f = crate::tc_program::frame(packet);
    if f.len() < MINIMUM_FRAME_LEN {
        f.resize(MINIMUM_FRAME_LEN, 0);
    }
    f
}
