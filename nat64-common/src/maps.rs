//! Layouts of the BPF maps and of the configuration block, shared by the eBPF programs and
//! the userspace loader. Every type is `#[repr(C)]` with its padding spelled out, and its size
//! checked at compile time, so the kernel and userspace can never disagree on a layout.

use bytemuck::{Pod, Zeroable};

use crate::rfc6052::Prefix;

/// Names of the maps in the eBPF object; userspace looks them up and pins them by these.
pub mod names {
    pub const CONFIG: &str = "NAT64_CONFIG";
    pub const V6_TO_V4: &str = "NAT64_V6_TO_V4";
    pub const V4_TO_V6: &str = "NAT64_V4_TO_V6";
    pub const EAM_V6: &str = "NAT64_EAM_V6";
    pub const EAM_V4: &str = "NAT64_EAM_V4";
    pub const COUNTERS: &str = "NAT64_COUNTERS";
    /// Per-CPU `u64` per [`crate::counters::Outcome`], for the TC program.
    pub const TC_COUNTERS: &str = "NAT64_TC_COUNTERS";
    /// The same for the XDP program (its own array, so the two can be told apart).
    pub const XDP_COUNTERS: &str = "NAT64_XDP_COUNTERS";
    /// Device map (ifindex → ifindex) of the interfaces the XDP program runs on: where
    /// `--xdp-forward direct` may redirect to.
    pub const XDP_DEVICES: &str = "NAT64_XDP_DEVICES";
    /// Load-time global (u32): where the IP header starts in `skb->data` for the TC program.
    /// 0 on the TUN device; 14 under BPF_PROG_TEST_RUN, which hands the program an Ethernet frame.
    pub const L3_OFFSET: &str = "L3_OFFSET";
    /// One u64: CLOCK_BOOTTIME in ns, ticked by userspace every second; what the datapath
    /// stamps last use with (a map read instead of a clock read per packet).
    pub const CLOCK: &str = "NAT64_CLOCK";
    /// Stateful NAT64: the sessions by their IPv6 side ([`SessionKey6`] → [`Session6`]).
    /// Both session maps' names fit the kernel's 15 characters, so tools (bpftool, fdinfo)
    /// tell them apart.
    pub const SESSIONS_6: &str = "NAT64_SESSION6";
    /// Stateful NAT64: the same sessions by their IPv4 side ([`SessionKey4`] → [`Session4`]).
    pub const SESSIONS_4: &str = "NAT64_SESSION4";
    /// AF_XDP slow path: the sockets, at [`crate::maps::xsk_key`] (an XSKMAP). Not pinned: a
    /// socket lives as long as the daemon that opened it.
    pub const XSKS: &str = "NAT64_XSKS";
    /// AF_XDP slow path: ifindex → the interface's slot (`u32`), for [`crate::maps::xsk_key`].
    /// An interface without an entry has no sockets: its slow path is the stack and TUN.
    pub const XSK_SLOTS: &str = "NAT64_XSK_SLOTS";
    /// Stateful NAT64, UDP and ICMP echo: the bindings by their IPv6 end ([`BibKey6`] →
    /// [`Bib6`]); written by userspace for every binding it makes and by the programs for
    /// those they make, never overwritten (the first writer wins).
    pub const BIB_6: &str = "NAT64_BIB6";
    /// The same bindings by their pool4 end ([`BibKey4`] → [`Bib4`]): whoever enters a port
    /// here first holds it, which is what keeps two CPUs and userspace from handing out one
    /// port twice.
    pub const BIB_4: &str = "NAT64_BIB4";
    /// The port block each subscriber lends the programs per protocol ([`LentKey`] →
    /// [`LentBlock`]): where they pick a port for a new binding.
    pub const LENT_BLOCKS: &str = "NAT64_LENT";
    /// pool4's addresses (`[u8; 4]` → `u8`): a flow to one of them is hairpinned, which
    /// userspace translates.
    pub const POOL4: &str = "NAT64_POOL4";
    /// Ring buffer of [`Opened`]: each session the programs opened, for userspace's tables.
    pub const OPENED: &str = "NAT64_OPENED";
}

/// Interfaces that may have AF_XDP sockets (as many as the XDP device map holds).
pub const MAX_XSK_INTERFACES: u32 = 64;
/// Receive queues per interface that may have a socket; queues beyond keep the stack slow
/// path. A 2-core box has 1–2; a large NIC's 64 combined channels still fit.
pub const MAX_XSK_QUEUES: u32 = 64;

/// The size of one frame's chunk in an AF_XDP socket's UMEM: one page, the unit drivers
/// receive into, so zero-copy drivers can take it as it is.
pub const XSK_FRAME_SIZE: u32 = 4096;
/// The longest frame an AF_XDP socket takes: the chunk less the kernel's XDP headroom (256
/// bytes). A longer one would be dropped by the redirect, so the program passes it to the
/// stack instead (jumbo frames keep the TUN slow path).
pub const XSK_MAX_FRAME_LEN: u32 = XSK_FRAME_SIZE - 256;

/// What `nat64_next_hop` returns when a translated packet must go through the stack (no
/// route straight out, no neighbour yet, too big for the link); any other value is the
/// egress interface's index, the neighbour's and the interface's addresses written into the
/// frame's Ethernet header.
pub const NEXT_HOP_STACK: u32 = 0;

/// The XSKMAP index of receive queue `queue` of the interface in `slot`, or `None` where
/// either is out of range.
#[inline(always)]
pub const fn xsk_key(slot: u32, queue: u32) -> Option<u32> {
    if slot >= MAX_XSK_INTERFACES || queue >= MAX_XSK_QUEUES {
        return None;
    }
    Some(slot * MAX_XSK_QUEUES + queue)
}

/// Upper bound of dynamic plus static host mappings the kernel tables hold (a /15 pool has
/// 131,070 usable addresses; TAYGA's largest practical pools are smaller).
pub const MAX_MAPPINGS: u32 = 262_144;
/// Upper bound of the stateful sessions the kernel translates (userspace keeps more; the
/// rest it translates itself). The tables are not preallocated: each session costs its two
/// entries, about 200 bytes of kernel memory together.
pub const MAX_KERNEL_SESSIONS: u32 = 1 << 21;
/// Upper bound of RFC 7757 explicit address mappings (`map` lines).
pub const MAX_EAM: u32 = 4_096;
/// Upper bound of the stateful bindings in the kernel's binding maps (a binding has one
/// session or more, so this follows [`MAX_KERNEL_SESSIONS`]).
pub const MAX_KERNEL_BINDINGS: u32 = MAX_KERNEL_SESSIONS;
/// Subscribers that may lend the programs a block at once, per protocol together.
pub const MAX_LENT_BLOCKS: u32 = 1 << 18;
/// pool4 addresses the programs know (more than any pool4 a configuration check lets by).
pub const MAX_POOL4_ADDRESSES: u32 = 4_096;
/// Bytes of the [`names::OPENED`] ring: 128 Ki sessions of 40 bytes (with the ring's own
/// header) between two drains. Full, the programs leave new sessions to userspace.
pub const OPENED_RING_BYTES: u32 = 8 << 20;
/// Ports a program tries in a lent block, one after another from its hint, before it
/// leaves the binding to userspace (which knows every free port there, and assigns the
/// next block).
pub const CLAIM_TRIES: u32 = 8;

/// Key of the IPv6 → IPv4 host table: an IPv6 host address in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct Ipv6HostKey {
    pub addr: [u8; 16],
}

/// Key of the IPv4 → IPv6 host table: an IPv4 address in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct Ipv4HostKey {
    pub addr: [u8; 4],
}

/// Where a host mapping came from; a static one never expires.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingKind {
    Dynamic = 0,
    Static = 1,
}

/// Value of the IPv6 → IPv4 host table.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct V6ToV4Mapping {
    pub v4: [u8; 4],
    /// A [`MappingKind`] as u32.
    pub kind: u32,
    /// `bpf_ktime_get_boot_ns` of the last translated packet, stamped by the datapath, read
    /// by userspace expiry (boot time, so a suspended host does not expire everything).
    pub last_use_ns: u64,
}

/// Value of the IPv4 → IPv6 host table.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct V4ToV6Mapping {
    pub v6: [u8; 16],
    /// A [`MappingKind`] as u32.
    pub kind: u32,
    pub _pad: u32,
    pub last_use_ns: u64,
}

/// Key of an LPM trie over IPv6 prefixes (layout fixed by the kernel: length first).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Ipv6LpmKey {
    pub prefix_len: u32,
    pub addr: [u8; 16],
}

/// Key of an LPM trie over IPv4 prefixes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Ipv4LpmKey {
    pub prefix_len: u32,
    pub addr: [u8; 4],
}

/// One RFC 7757 explicit address mapping, stored under both of its prefixes so either
/// direction finds it with one LPM lookup.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct EamEntry {
    pub v6: [u8; 16],
    pub v4: [u8; 4],
    pub v6_len: u8,
    pub v4_len: u8,
    pub _pad: [u8; 2],
}

/// Key of the stateful sessions by their IPv6 side: a query from an IPv6 host, as the
/// kernel reads it. Ports in network byte order; an ICMP echo's identifier is the host's
/// port and the remote's port is zero. `proto` is the IPv4 protocol number (ICMP for echo).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct SessionKey6 {
    pub host: [u8; 16],
    /// The IPv4 remote, as the prefix embeds it in the destination.
    pub remote: [u8; 4],
    pub host_port: [u8; 2],
    pub remote_port: [u8; 2],
    pub proto: u8,
    pub _pad: [u8; 3],
}

/// What a session gives an IPv6 host's packet: its pool4 address and port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Session6 {
    pub local: [u8; 4],
    pub local_port: [u8; 2],
    pub _pad: [u8; 2],
    /// Coarse CLOCK_BOOTTIME ns of the last packet the kernel translated this way (0: none
    /// yet); userspace reads it before it expires the session.
    pub last_use_ns: u64,
}

/// Key of the stateful sessions by their IPv4 side: a query from an IPv4 remote to pool4.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct SessionKey4 {
    pub remote: [u8; 4],
    pub local: [u8; 4],
    pub remote_port: [u8; 2],
    pub local_port: [u8; 2],
    pub proto: u8,
    pub _pad: [u8; 3],
}

/// What a session gives a remote's packet: the IPv6 host and port behind the pool4 end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Session4 {
    pub host: [u8; 16],
    pub host_port: [u8; 2],
    pub _pad: [u8; 6],
    pub last_use_ns: u64,
}

/// Key of the kernel's bindings by their IPv6 end. `proto` is the IPv4 protocol number.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct BibKey6 {
    pub host: [u8; 16],
    pub host_port: [u8; 2],
    pub proto: u8,
    pub _pad: u8,
}

/// An IPv6 end's pool4 end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Bib6 {
    pub local: [u8; 4],
    pub local_port: [u8; 2],
    pub _pad: [u8; 2],
}

/// Key of the kernel's bindings by their pool4 end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct BibKey4 {
    pub local: [u8; 4],
    pub local_port: [u8; 2],
    pub proto: u8,
    pub _pad: u8,
}

/// A pool4 end's IPv6 end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Bib4 {
    pub host: [u8; 16],
    pub host_port: [u8; 2],
    pub _pad: [u8; 2],
}

/// A subscriber (the IPv6 source masked to [`ConfigBlock::subscriber_len`]) and protocol.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct LentKey {
    pub subscriber: [u8; 16],
    pub proto: u8,
    pub _pad: [u8; 3],
}

/// A port block lent to the programs: ports `first .. first + len` of `addr` (host byte
/// order: arithmetic, never on the wire).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct LentBlock {
    pub addr: [u8; 4],
    pub first: u16,
    pub len: u16,
    /// Where the programs try next (an offset into the block): after the port they took
    /// last, so a block fills in order and a try rarely meets a taken port. Only a hint:
    /// CPUs that race for it each claim their port in the binding map. Userspace starts it
    /// at a random offset.
    pub next: u16,
    pub _pad: u16,
}

/// A session a program opened (a record of the [`names::OPENED`] ring). Ports in network
/// byte order as in the session keys.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Opened {
    pub host: [u8; 16],
    pub local: [u8; 4],
    pub remote: [u8; 4],
    pub host_port: [u8; 2],
    pub local_port: [u8; 2],
    pub remote_port: [u8; 2],
    pub proto: u8,
    pub _pad: u8,
}

/// What to do with an IPv4 UDP datagram whose checksum is zero — legal in IPv4, not in
/// IPv6 (TAYGA's `udp-cksum-mode`). One definition for the configuration, the userspace
/// translator and the datapath's configuration block.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UdpChecksumMode {
    /// Refuse it (TAYGA's default `drop`): answered with ICMPv4 administratively prohibited.
    #[default]
    Drop = 0,
    /// Forward it with the zero checksum (`fwd`; receivers may drop it).
    Forward = 1,
    /// Compute the checksum (`calc`, RFC 7915 §4.5); fragments still cannot be computed.
    Calculate = 2,
}

/// Where the XDP program sends a packet it translated (`--xdp-forward`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpForward {
    /// `XDP_PASS`: the kernel routes it, netfilter (NAT44, MASQUERADE) applies.
    #[default]
    Stack = 0,
    /// Route lookup in the program and redirect out of the egress interface; the stack
    /// only where the lookup says it must help. For pools routed to this box (no NAT44).
    Direct = 1,
}

/// The translator's settings as the datapath sees them: one element of an array map,
/// written once by userspace before the programs are attached.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ConfigBlock {
    /// RFC 6052 prefix; a length of 0 means no prefix.
    pub prefix: Prefix,
    /// The translator's own IPv6 address: packets to it go to userspace.
    pub ipv6_addr: [u8; 16],
    /// The translator's own IPv4 address: packets to it go to userspace.
    pub ipv4_addr: [u8; 4],
    /// RFC 6791 source of ICMPv4 errors whose IPv6 source has no IPv4 form.
    pub rfc6791_v4: [u8; 4],
    /// ifindex of the `tun-device`, where translated packets are redirected to (ingress).
    /// 0: not configured yet, every packet goes to userspace.
    pub tun_ifindex: u32,
    /// 1: the RFC 6052 §3.1 rule for 64:ff9b::/96 (non-global IPv4 not translated).
    pub wkpf_strict: u8,
    /// A [`UdpChecksumMode`] as u8.
    pub udp_zero_checksum: u8,
    /// 1 when `rfc6791_v4` is set.
    pub has_rfc6791_v4: u8,
    /// 1 when an `allow_source` list is configured: the datapath then translates only
    /// sources found in the IPv6 → IPv4 host table (userspace enters allowed hosts only) and
    /// leaves explicit-mapping sources to userspace, which applies the list.
    pub source_filtered: u8,
    /// IPv6 packets translated from IPv4 are fragmented to fit this (TAYGA `offlink-mtu`).
    pub lowest_ipv6_mtu: u16,
    pub ipv4_mtu: u16,
    pub ipv6_mtu: u16,
    /// 1 when a dynamic pool exists. Then an IPv6 source without a host mapping waits for
    /// userspace to allocate one, and a pool address without one is userspace's to answer;
    /// without a pool both go through the prefix, as in the userspace translator.
    pub has_pool: u8,
    pub pool_len: u8,
    pub pool_v4: [u8; 4],
    /// 1 when explicit mappings exist: without them the datapath skips both LPM tries, the
    /// dearest lookups of a packet.
    pub has_eam: u8,
    /// An [`XdpForward`] as u8: where the XDP program sends what it translated.
    pub xdp_forward: u8,
    /// A [`crate::address_policy::WkpScope`] as u8: which IPv4 addresses `wkpf_strict`
    /// keeps from behind the well-known prefix.
    pub wkp_scope: u8,
    /// 1: stateful NAT64 (RFC 6146). IPv6 hosts and pool4 are found by flow in the session
    /// tables, never in the host tables; what has no session goes to userspace.
    pub stateful: u8,
    /// Stateful NAT64: the IPv6 prefix length of one subscriber (the key of the lent
    /// blocks).
    pub subscriber_len: u8,
    pub _reserved: [u8; 3],
}

impl ConfigBlock {
    /// The prefix, when one is configured.
    #[inline(always)]
    pub fn prefix(&self) -> Option<&Prefix> {
        if self.prefix.len == 0 {
            None
        } else {
            Some(&self.prefix)
        }
    }

    /// Whether `v4` lies in the dynamic pool's range.
    #[inline(always)]
    pub fn pool_contains(&self, v4: [u8; 4]) -> bool {
        let mask = match self.pool_len {
            0 => 0,
            len => u32::MAX << (32 - u32::from(len.min(32))),
        };
        self.has_pool != 0
            && u32::from_be_bytes(v4) & mask == u32::from_be_bytes(self.pool_v4) & mask
    }
}

const _: () = assert!(core::mem::size_of::<Ipv6HostKey>() == 16);
const _: () = assert!(core::mem::size_of::<Ipv4HostKey>() == 4);
const _: () = assert!(core::mem::size_of::<V6ToV4Mapping>() == 16);
const _: () = assert!(core::mem::size_of::<V4ToV6Mapping>() == 32);
const _: () = assert!(core::mem::size_of::<Ipv6LpmKey>() == 20);
const _: () = assert!(core::mem::size_of::<Ipv4LpmKey>() == 8);
const _: () = assert!(core::mem::size_of::<EamEntry>() == 24);
const _: () = assert!(core::mem::size_of::<ConfigBlock>() == 72);
const _: () = assert!(core::mem::size_of::<SessionKey6>() == 28);
const _: () = assert!(core::mem::size_of::<Session6>() == 16);
const _: () = assert!(core::mem::size_of::<SessionKey4>() == 16);
const _: () = assert!(core::mem::size_of::<Session4>() == 32);
const _: () = assert!(core::mem::size_of::<BibKey6>() == 20);
const _: () = assert!(core::mem::size_of::<Bib6>() == 8);
const _: () = assert!(core::mem::size_of::<BibKey4>() == 8);
const _: () = assert!(core::mem::size_of::<Bib4>() == 20);
const _: () = assert!(core::mem::size_of::<LentKey>() == 20);
const _: () = assert!(core::mem::size_of::<LentBlock>() == 12);
const _: () = assert!(core::mem::size_of::<Opened>() == 32);

#[cfg(feature = "user")]
mod aya_pod {
    // SAFETY: every type is #[repr(C)], has no padding bytes (bytemuck::Pod is derived, which
    // checks exactly that) and is valid for any bit pattern.
    unsafe impl aya::Pod for super::Ipv6HostKey {}
    unsafe impl aya::Pod for super::Ipv4HostKey {}
    unsafe impl aya::Pod for super::V6ToV4Mapping {}
    unsafe impl aya::Pod for super::V4ToV6Mapping {}
    unsafe impl aya::Pod for super::EamEntry {}
    unsafe impl aya::Pod for super::ConfigBlock {}
    unsafe impl aya::Pod for super::SessionKey6 {}
    unsafe impl aya::Pod for super::Session6 {}
    unsafe impl aya::Pod for super::SessionKey4 {}
    unsafe impl aya::Pod for super::Session4 {}
    unsafe impl aya::Pod for super::BibKey6 {}
    unsafe impl aya::Pod for super::Bib6 {}
    unsafe impl aya::Pod for super::BibKey4 {}
    unsafe impl aya::Pod for super::Bib4 {}
    unsafe impl aya::Pod for super::LentKey {}
    unsafe impl aya::Pod for super::LentBlock {}
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn config_block_round_trips_through_bytes() {
        let mut block = ConfigBlock::zeroed();
        assert_eq!(block.prefix(), None);
        block.prefix = crate::rfc6052::WELL_KNOWN_PREFIX;
        block.lowest_ipv6_mtu = 1280;
        block.has_eam = 1;
        assert_eq!(block.prefix(), Some(&crate::rfc6052::WELL_KNOWN_PREFIX));
        let bytes = bytemuck::bytes_of(&block);
        assert_eq!(bytes.len(), 72);
        assert_eq!(bytes[64], 1, "has_eam follows the pool fields");
        let back: ConfigBlock = bytemuck::pod_read_unaligned(bytes);
        assert_eq!(back, block);
        assert!(!block.pool_contains([100, 64, 0, 1]));
        block.has_pool = 1;
        block.pool_v4 = [100, 64, 0, 0];
        block.pool_len = 10;
        assert!(block.pool_contains([100, 127, 255, 255]));
        assert!(!block.pool_contains([100, 128, 0, 0]));
    }

    #[test]
    fn lpm_keys_put_the_length_first_as_the_kernel_expects() {
        let key = Ipv6LpmKey {
            prefix_len: 40,
            addr: [0x20; 16],
        };
        let bytes = bytemuck::bytes_of(&key);
        assert_eq!(&bytes[..4], &40u32.to_ne_bytes());
        assert_eq!(&bytes[4..], &[0x20; 16]);
    }
}
