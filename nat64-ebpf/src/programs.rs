//! The program entry points. The TC program's work lives in `tc`; XDP is a placeholder that
//! passes every packet until the XDP datapath comes.
use aya_ebpf::{
    bindings::xdp_action,
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};

use crate::tc;

/// Egress of the `nat64` TUN device: translate in place and redirect to its ingress, or pass
/// the packet on unchanged to the userspace translator reading the device.
#[classifier]
pub fn nat64_tc(ctx: TcContext) -> i32 {
    tc::handle(&ctx)
}

#[xdp]
pub fn nat64_xdp(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any path that could reach here; this only satisfies no_std.
    loop {}
}
