//! The program entry points; their work lives in `tc` and `xdp`.
use aya_ebpf::{
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};

use crate::{tc, xdp};

/// Egress of the `nat64` TUN device: translate in place and redirect to its ingress, or pass
/// the packet on unchanged to the userspace translator reading the device.
#[classifier]
pub fn nat64_tc(ctx: TcContext) -> i32 {
    tc::handle(&ctx)
}

/// The physical interfaces named with `--iface`: translate frames of mapped hosts in the
/// driver and send them on; pass everything else to the stack.
#[xdp]
pub fn nat64_xdp(ctx: XdpContext) -> u32 {
    xdp::handle(&ctx)
}

/// Never attached: the AF_XDP workers run it on a translated packet's headers to learn the
/// way straight out (`xdp::next_hop`).
#[xdp]
pub fn nat64_next_hop(ctx: XdpContext) -> u32 {
    xdp::next_hop::answer(&ctx)
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any path that could reach here; this only satisfies no_std.
    loop {}
}
