//! The maps both programs read (configuration, host tables, explicit mappings, filled by
//! userspace) and write (per-CPU outcome counters, last-use stamps in the host tables): one
//! set, so a mapping the slow path enters serves the TC and the XDP program alike.
use crate::translate::icmp_error::ErrorPlan;
use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{lpm_trie::Key, Array, DevMapHash, HashMap, LpmTrie, PerCpuArray, RingBuf, XskMap},
};
use nat64_common::{
    counters::Outcome,
    maps::{
        Bib4, Bib6, BibKey4, BibKey6, ConfigBlock, EamEntry, Ipv4HostKey, Ipv6HostKey, LentBlock,
        LentKey, Session4, Session6, SessionKey4, SessionKey6, V4ToV6Mapping, V6ToV4Mapping,
        MAX_EAM, MAX_KERNEL_BINDINGS, MAX_KERNEL_SESSIONS, MAX_LENT_BLOCKS, MAX_MAPPINGS,
        MAX_POOL4_ADDRESSES, MAX_XSK_INTERFACES, MAX_XSK_QUEUES, OPENED_RING_BYTES,
    },
};

/// One element: the translator's settings (see `nat64_common::maps::ConfigBlock`).
#[map]
static NAT64_CONFIG: Array<ConfigBlock> = Array::with_max_entries(1, 0);

/// IPv6 host → IPv4 pool address (dynamic and static host mappings).
#[map]
pub static NAT64_V6_TO_V4: HashMap<Ipv6HostKey, V6ToV4Mapping> =
    HashMap::with_max_entries(MAX_MAPPINGS, 0);

/// IPv4 pool address → IPv6 host.
#[map]
pub static NAT64_V4_TO_V6: HashMap<Ipv4HostKey, V4ToV6Mapping> =
    HashMap::with_max_entries(MAX_MAPPINGS, 0);

/// Stateful NAT64: the sessions by their IPv6 side, opened by userspace or, for UDP and
/// ICMP echo, by the programs (never overwritten by them: an entry exists or is added
/// whole). Only userspace removes entries. Not preallocated: a stateless gateway, or a
/// small one, should not pay for two million sessions up front (about 200 MB per table).
#[map]
pub static NAT64_SESSION6: HashMap<SessionKey6, Session6> =
    HashMap::with_max_entries(MAX_KERNEL_SESSIONS, BPF_F_NO_PREALLOC);

/// The same sessions by their IPv4 side.
#[map]
pub static NAT64_SESSION4: HashMap<SessionKey4, Session4> =
    HashMap::with_max_entries(MAX_KERNEL_SESSIONS, BPF_F_NO_PREALLOC);

/// Stateful NAT64 bindings (UDP, ICMP echo) by their IPv6 end; see
/// `nat64_common::maps::names::BIB_6`.
#[map]
pub static NAT64_BIB6: HashMap<BibKey6, Bib6> =
    HashMap::with_max_entries(MAX_KERNEL_BINDINGS, BPF_F_NO_PREALLOC);

/// The same bindings by their pool4 end: the port claim.
#[map]
pub static NAT64_BIB4: HashMap<BibKey4, Bib4> =
    HashMap::with_max_entries(MAX_KERNEL_BINDINGS, BPF_F_NO_PREALLOC);

/// The block each subscriber lends the programs, per protocol.
#[map]
pub static NAT64_LENT: HashMap<LentKey, LentBlock> =
    HashMap::with_max_entries(MAX_LENT_BLOCKS, BPF_F_NO_PREALLOC);

/// pool4's addresses: a flow to one is hairpinned (userspace's).
#[map]
pub static NAT64_POOL4: HashMap<[u8; 4], u8> = HashMap::with_max_entries(MAX_POOL4_ADDRESSES, 0);

/// Working memory of a session the programs open, one per CPU; holds nothing between
/// packets.
#[map]
pub static NAT64_OPEN_SCRATCH: PerCpuArray<crate::translate::open_session::Scratch> =
    PerCpuArray::with_max_entries(1, 0);

/// The sessions the programs opened, for userspace's tables.
#[map]
pub static NAT64_OPENED: RingBuf = RingBuf::with_byte_size(OPENED_RING_BYTES, 0);

/// RFC 7757 explicit address mappings keyed by their IPv6 prefix.
#[map]
static NAT64_EAM_V6: LpmTrie<[u8; 16], EamEntry> = LpmTrie::with_max_entries(MAX_EAM, 0);

/// The same mappings keyed by their IPv4 prefix.
#[map]
static NAT64_EAM_V4: LpmTrie<[u8; 4], EamEntry> = LpmTrie::with_max_entries(MAX_EAM, 0);

/// CLOCK_BOOTTIME in ns as of userspace's last tick (about once a second).
#[map]
static NAT64_CLOCK: Array<u64> = Array::with_max_entries(1, 0);

/// Packets per [`Outcome`], TC program.
#[map]
pub static NAT64_TC_COUNTERS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(Outcome::COUNT as u32, 0);

/// Packets per [`Outcome`], XDP program.
#[map]
pub static NAT64_XDP_COUNTERS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(Outcome::COUNT as u32, 0);

/// The interfaces the XDP program runs on (ifindex → ifindex): `--xdp-forward direct`
/// redirects only to these, whose drivers take XDP frames.
#[map]
pub static NAT64_XDP_DEVICES: DevMapHash = DevMapHash::with_max_entries(64, 0);

/// The AF_XDP slow path's sockets, one per receive queue of each interface
/// (`nat64_common::maps::xsk_key`).
#[map]
pub static NAT64_XSKS: XskMap = XskMap::with_max_entries(MAX_XSK_INTERFACES * MAX_XSK_QUEUES, 0);

/// ifindex → slot of the interfaces that have AF_XDP sockets.
#[map]
pub static NAT64_XSK_SLOTS: HashMap<u32, u32> = HashMap::with_max_entries(MAX_XSK_INTERFACES, 0);

/// Working memory of the TC program's ICMP error translations, one per CPU and direction
/// (it does not fit the BPF stack; see `ErrorPlan`). Not pinned: it holds nothing between
/// packets.
#[map]
pub static NAT64_ICMP_ERROR_TO_V4: PerCpuArray<ErrorPlan<20>> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static NAT64_ICMP_ERROR_TO_V6: PerCpuArray<ErrorPlan<40>> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn config() -> Option<&'static ConfigBlock> {
    NAT64_CONFIG.get(0)
}

#[inline(always)]
pub fn count(counters: &PerCpuArray<u64>, outcome: Outcome) {
    if let Some(slot) = counters.get_ptr_mut(outcome as u32) {
        // Per-CPU slot: no other writer.
        unsafe { *slot += 1 };
    }
}

/// The coarse clock; 0 before userspace's first tick.
#[inline(always)]
pub fn coarse_now() -> u64 {
    NAT64_CLOCK.get(0).copied().unwrap_or(0)
}

#[inline(always)]
pub fn eam_by_v6(cfg: &ConfigBlock, addr: &[u8; 16]) -> Option<&'static EamEntry> {
    if cfg.has_eam == 0 {
        return None;
    }
    NAT64_EAM_V6.get(Key::new(128, *addr))
}

#[inline(always)]
pub fn eam_by_v4(cfg: &ConfigBlock, addr: [u8; 4]) -> Option<&'static EamEntry> {
    if cfg.has_eam == 0 {
        return None;
    }
    NAT64_EAM_V4.get(Key::new(32, addr))
}
