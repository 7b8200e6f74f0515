//! The throughput bench's XDP programs. The map layouts are mirrored in
//! `bench/src/generator.rs` and `bench/src/sink.rs` (index constants, u64 words).
use aya_ebpf::{
    bindings::{xdp_action, BPF_F_INGRESS, BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR, TC_ACT_OK},
    helpers::{bpf_ktime_get_ns, bpf_redirect},
    macros::{classifier, map, xdp},
    maps::{Array, PerCpuArray},
    programs::{TcContext, XdpContext},
};

/// Generator configuration, written by userspace before each trial.
const CFG_START_NS: usize = 0;
const CFG_DEADLINE_NS: usize = 1;
/// Nanoseconds between packets; 0 sends as fast as the loop runs (saturation).
const CFG_INTERVAL_NS: usize = 2;
const CFG_FLOWS: usize = 3;
const CFG_BASE_PORT: usize = 4;
/// The UDP checksum of the template, valid for source port CFG_BASE_PORT.
const CFG_TEMPLATE_CSUM: usize = 5;
/// Distinct IPv6 sources, sent round-robin: the template's source plus 0..hosts in its last
/// 32 bits; 0 or 1 leaves the source alone.
const CFG_HOSTS: usize = 6;

const STATE_NEXT_NS: usize = 0;
const STATE_SENT: usize = 1;

/// Ethernet (14) + IPv6 (40) + UDP (8) = 62 bytes of headers, rounded up to 8 words.
const TEMPLATE_WORDS: usize = 8;
const UDP_SOURCE_PORT_OFFSET: usize = 14 + 40;
const UDP_CHECKSUM_OFFSET: usize = 14 + 40 + 6;
/// The last 32 bits of the IPv6 source address, as two 16-bit checksum words.
const SOURCE_LOW_OFFSET: usize = 14 + 8 + 12;
/// After a stall (the CPU taken away) the generator catches up at most this many packets in
/// a burst, so a trial never turns into a line-rate burst that overflows the veth ring.
const MAX_CATCH_UP: u64 = 32;

#[map]
static GEN_CONFIG: Array<[u64; 8]> = Array::with_max_entries(1, 0);
#[map]
static GEN_STATE: Array<[u64; 2]> = Array::with_max_entries(1, 0);
#[map]
static GEN_TEMPLATE: Array<[u64; TEMPLATE_WORDS]> = Array::with_max_entries(1, 0);

/// Where `bench_xdp_forward` sends frames: bytes 0..12 the new Ethernet destination and
/// source, 12..16 the egress ifindex (native-endian). Mirrored in `bench/src/forwarder.rs`.
#[map]
static FORWARD_TO: Array<[u8; 16]> = Array::with_max_entries(1, 0);

/// Per-CPU counts of what reached the sink: translated IPv4 UDP, IPv6 UDP, anything else.
#[map]
static SINK_COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(3, 0);

/// Called once per live frame by `BPF_PROG_TEST_RUN`; frames it returns `XDP_TX` for leave
/// through the `ingress_ifindex` veth, the rest are recycled unsent.
#[xdp]
pub fn bench_generate(ctx: XdpContext) -> u32 {
    let (Some(config), Some(state), Some(template)) = (
        GEN_CONFIG.get(0),
        GEN_STATE.get_ptr_mut(0),
        GEN_TEMPLATE.get(0),
    ) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: an array map value, valid while the program runs; one CPU runs the generator.
    let state = unsafe { &mut *state };
    let now = unsafe { bpf_ktime_get_ns() };
    if now < config[CFG_START_NS] || now >= config[CFG_DEADLINE_NS] {
        return xdp_action::XDP_DROP;
    }
    let interval = config[CFG_INTERVAL_NS];
    if interval != 0 {
        let next = state[STATE_NEXT_NS];
        if now < next {
            return xdp_action::XDP_DROP;
        }
        state[STATE_NEXT_NS] = if now - next > interval * MAX_CATCH_UP {
            now
        } else {
            next + interval
        };
    }

    let data = ctx.data();
    if data + TEMPLATE_WORDS * 8 > ctx.data_end() {
        return xdp_action::XDP_ABORTED;
    }
    // Live-frame pages come back recycled, their headers changed by whoever received them
    // (hop limit, for one): every frame gets the template again.
    for (i, word) in template.iter().enumerate() {
        // SAFETY: bounds checked above for the whole template.
        unsafe { ((data + i * 8) as *mut u64).write_unaligned(*word) };
    }

    // Spread over `flows` source ports so RSS/RPS and TUN queue hashing see many flows, and
    // over `hosts` source addresses so the gateway holds that many mappings; the checksum
    // follows both by one's-complement arithmetic (RFC 1624), never recomputed.
    let sent = state[STATE_SENT];
    let flows = config[CFG_FLOWS].max(1);
    let offset = (sent % flows) as u32;
    let port = config[CFG_BASE_PORT] as u32 + offset;
    let mut sum = (!(config[CFG_TEMPLATE_CSUM] as u16)) as u32 + offset;
    let hosts = config[CFG_HOSTS];
    if hosts > 1 {
        // SAFETY: within the template, bounds checked above.
        let (old_high, old_low) = unsafe {
            (
                u16::from_be(((data + SOURCE_LOW_OFFSET) as *const u16).read_unaligned()),
                u16::from_be(((data + SOURCE_LOW_OFFSET + 2) as *const u16).read_unaligned()),
            )
        };
        let source = ((old_high as u32) << 16 | old_low as u32).wrapping_add((sent % hosts) as u32);
        let (new_high, new_low) = ((source >> 16) as u16, source as u16);
        sum += (!old_high) as u32 + new_high as u32 + (!old_low) as u32 + new_low as u32;
        unsafe {
            ((data + SOURCE_LOW_OFFSET) as *mut u16).write_unaligned(new_high.to_be());
            ((data + SOURCE_LOW_OFFSET + 2) as *mut u16).write_unaligned(new_low.to_be());
        }
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let mut checksum = !(sum as u16);
    if checksum == 0 {
        checksum = 0xffff;
    }
    unsafe {
        ((data + UDP_SOURCE_PORT_OFFSET) as *mut u16).write_unaligned((port as u16).to_be());
        ((data + UDP_CHECKSUM_OFFSET) as *mut u16).write_unaligned(checksum.to_be());
    }
    state[STATE_SENT] += 1;
    xdp_action::XDP_TX
}

/// Counts and drops: the sink namespace needs no stack, only a tally.
#[xdp]
pub fn bench_sink(ctx: XdpContext) -> u32 {
    let data = ctx.data();
    let index = if data + 14 + 40 > ctx.data_end() {
        2
    } else {
        // SAFETY: bounds checked above.
        let ethertype = u16::from_be(unsafe { *((data + 12) as *const u16) });
        let v4_protocol = unsafe { *((data + 14 + 9) as *const u8) };
        let v6_next_header = unsafe { *((data + 14 + 6) as *const u8) };
        match (ethertype, v4_protocol, v6_next_header) {
            (0x0800, 17, _) => 0,
            (0x86dd, _, 17) => 1,
            _ => 2,
        }
    };
    if let Some(count) = SINK_COUNTS.get_ptr_mut(index) {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *count += 1 };
    }
    xdp_action::XDP_DROP
}

/// On the gateway's ingress veth: a veth only accepts XDP_TX'd (redirected) frames when its
/// peer runs an XDP program; this one hands every frame to the stack unchanged.
#[xdp]
pub fn bench_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// On the gateway's ingress veth in place of `bench_pass`: what a gateway costs that does no
/// translation at all, only the XDP receive and a redirect out of the other veth — the
/// ceiling an XDP translator can approach. IPv6 UDP only; anything else (ND, MLD) goes to the
/// stack as with `bench_pass`.
#[xdp]
pub fn bench_xdp_forward(ctx: XdpContext) -> u32 {
    let data = ctx.data();
    if data + 14 + 40 > ctx.data_end() {
        return xdp_action::XDP_PASS;
    }
    // SAFETY: bounds checked above for the Ethernet and IPv6 headers.
    let ethertype = u16::from_be(unsafe { *((data + 12) as *const u16) });
    let next_header = unsafe { *((data + 14 + 6) as *const u8) };
    if ethertype != 0x86dd || next_header != 17 {
        return xdp_action::XDP_PASS;
    }
    let Some(to) = FORWARD_TO.get(0) else {
        return xdp_action::XDP_ABORTED;
    };
    let ifindex = u32::from_ne_bytes([to[12], to[13], to[14], to[15]]);
    if ifindex == 0 {
        return xdp_action::XDP_ABORTED;
    }
    for (i, byte) in to[..12].iter().enumerate() {
        // SAFETY: within the Ethernet header checked above.
        unsafe { *((data + i) as *mut u8) = *byte };
    }
    // SAFETY: a helper call with a plain ifindex; it returns the XDP action.
    unsafe { bpf_redirect(ifindex, 0) as u32 }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any path that could reach here; this only satisfies no_std.
    loop {}
}

/// A TC program that does nothing: what `BPF_PROG_TEST_RUN` itself costs per run, the
/// baseline of the TC program's ns-per-packet bench.
#[classifier]
pub fn bench_tc_pass(_ctx: TcContext) -> i32 {
    0
}

/// The kernel work issue 4 prescribes for every translated packet, without any decision or
/// lookup: the protocol change (IPv6 → IPv4), one 20-byte header store, one transport
/// checksum fix-up and the redirect into a device's ingress. The floor under the TC
/// program's ns per packet: what it costs beyond this is its own. Runs on an Ethernet frame
/// (BPF_PROG_TEST_RUN's), so the IP header starts at 14.
#[classifier]
pub fn bench_tc_helpers(ctx: TcContext) -> i32 {
    const L3: usize = 14;
    if ctx.change_proto(0x0800u16.to_be(), 0).is_err() {
        return TC_ACT_OK;
    }
    let header = [0x45u8; 20];
    if ctx.store(L3, &header, 0).is_err() {
        return TC_ACT_OK;
    }
    let flags = u64::from(BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
    if ctx.l4_csum_replace(L3 + 20 + 6, 0, 0x1234, flags).is_err() {
        return TC_ACT_OK;
    }
    // SAFETY: a helper call with plain integer arguments.
    unsafe { bpf_redirect(1, u64::from(BPF_F_INGRESS)) as i32 }
}
