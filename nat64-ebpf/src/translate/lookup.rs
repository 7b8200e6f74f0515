//! How the kernel maps addresses: the plan's [`Mapper`], answered from the BPF maps, deciding
//! as the userspace translator does (its `addr_map`, TAYGA's longest-match tables) for the
//! cases the kernel can answer alone. Where userspace would decide something the kernel
//! cannot (allocate a mapping, refuse an address and perhaps answer the sender, break a tie
//! between the pool and a wider explicit mapping), the lookup fails and the packet goes to
//! userspace, which counts what it does.
use aya_ebpf::helpers::bpf_get_prandom_u32;
use nat64_common::{
    address_policy::{self, WkpScope},
    counters::Outcome,
    maps::{ConfigBlock, EamEntry, Ipv4HostKey, Ipv6HostKey, SessionKey4, SessionKey6},
    plan::{FlowPorts, Mapper, PortRewrite, Stamp},
    rfc6052::WELL_KNOWN_PREFIX,
    wire::tcp,
};

use crate::maps;

/// Where to stamp the last use of a host mapping, once the packet is translated; null for
/// none. A plain pointer, not an `Option`: LLVM may leave the payload of a `None` unwritten
/// and then copy it, and the verifier refuses a read of an uninitialised register.
#[derive(Clone, Copy)]
pub struct LastUse(*mut u64);

impl LastUse {
    const NONE: LastUse = LastUse(core::ptr::null_mut());
}

impl Stamp for LastUse {
    #[inline(always)]
    fn stamp(self) {
        if !self.0.is_null() {
            let at = self.0;
            // Written only when the second ticked over: a host's packets on several CPUs
            // do not keep pulling the entry's cache line back and forth. A racing writer
            // stores the same time.
            let now = maps::coarse_now();
            unsafe {
                if *at != now {
                    *at = now;
                }
            }
        }
    }
}

/// Where the IPv6 destination of an IPv4 packet may come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    /// Anything the translator maps: host tables, explicit mappings, and the prefix (TC:
    /// the kernel routed the packet to the translator, so it is meant for it).
    All,
    /// Only host mappings and explicit mappings (XDP: every IPv4 packet the interface
    /// receives passes by, and most are the box's own or someone else's).
    Mapped,
}

/// The kernel's tables, as the plans and the ICMP error planner ask them.
pub struct KernelMapper<'a> {
    pub cfg: &'a ConfigBlock,
    pub destinations: Destinations,
}

impl<'a> KernelMapper<'a> {
    #[inline(always)]
    pub fn new(cfg: &'a ConfigBlock, destinations: Destinations) -> Self {
        KernelMapper { cfg, destinations }
    }
}

impl Mapper for KernelMapper<'_> {
    type Stamp = LastUse;

    #[inline(always)]
    fn remote_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<[u8; 4], Outcome> {
        remote_v6_to_v4(self.cfg, addr)
    }

    #[inline(always)]
    fn host_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<([u8; 4], LastUse), Outcome> {
        host_v6_to_v4(self.cfg, addr)
    }

    #[inline(always)]
    fn remote_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<[u8; 16], Outcome> {
        remote_v4_to_v6(self.cfg, addr)
    }

    #[inline(always)]
    fn host_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<([u8; 16], LastUse), Outcome> {
        match self.destinations {
            Destinations::All => host_v4_to_v6(self.cfg, addr),
            Destinations::Mapped => mapped_host_v4_to_v6(self.cfg, addr),
        }
    }

    #[inline(always)]
    fn host_flow_v6_to_v4(
        &mut self,
        addr: &[u8; 16],
        remote: [u8; 4],
        flow: &FlowPorts,
    ) -> Result<([u8; 4], PortRewrite, LastUse), Outcome> {
        if self.cfg.stateful == 0 {
            let (v4, stamp) = host_v6_to_v4(self.cfg, addr)?;
            return Ok((v4, PortRewrite::NONE, stamp));
        }
        session_v6_to_v4(self.cfg, addr, remote, flow)
    }

    #[inline(always)]
    fn host_flow_v4_to_v6(
        &mut self,
        addr: [u8; 4],
        remote: [u8; 4],
        flow: &FlowPorts,
    ) -> Result<([u8; 16], PortRewrite, LastUse), Outcome> {
        if self.cfg.stateful == 0 {
            let (v6, stamp) = self.host_v4_to_v6(addr)?;
            return Ok((v6, PortRewrite::NONE, stamp));
        }
        session_v4_to_v6(addr, remote, flow)
    }

    /// The kernel numbers the segments of a GSO packet from the one given.
    #[inline(always)]
    fn ipv4_id(&mut self, _count: u32) -> u16 {
        random_ipv4_id()
    }
}

/// Any unique-enough Identification will do (userspace counts instead).
#[inline(always)]
pub fn random_ipv4_id() -> u16 {
    unsafe { bpf_get_prandom_u32() as u16 }
}

/// An IPv4 address the prefix may stand for: not special, not refused by the well-known
/// prefix's RFC 6052 §3.1 rule.
#[inline(always)]
fn check_embeddable(cfg: &ConfigBlock, v4: [u8; 4]) -> Result<(), Outcome> {
    if !address_policy::v4_embeddable(v4) {
        return Err(Outcome::PassSpecialAddress);
    }
    let wkp = cfg.prefix.len == WELL_KNOWN_PREFIX.len && cfg.prefix.addr == WELL_KNOWN_PREFIX.addr;
    if cfg.wkpf_strict != 0 && wkp && WkpScope::from_u8(cfg.wkp_scope).refuses(v4) {
        Err(Outcome::PassNotGlobal)
    } else {
        Ok(())
    }
}

/// An address inside the prefix: the IPv4 address it embeds, unless that address belongs to
/// something else in the IPv4 table (the translator, the pool, an explicit mapping), which
/// would send the packet round through the translator.
#[inline(always)]
fn behind_prefix(cfg: &ConfigBlock, addr: &[u8; 16]) -> Result<[u8; 4], Outcome> {
    let prefix = cfg.prefix().ok_or(Outcome::PassNoDestinationMapping)?;
    let v4 = prefix
        .extract(addr)
        .ok_or(Outcome::PassNoDestinationMapping)?;
    check_embeddable(cfg, v4)?;
    if v4 == cfg.ipv4_addr || cfg.pool_contains(v4) || maps::eam_by_v4(cfg, v4).is_some() {
        return Err(Outcome::PassSpecialAddress);
    }
    Ok(v4)
}

// The address rules once more for the quoted packets of ICMP errors, whose addresses no plan
// checked.
#[inline(always)]
fn check_v6(addr: &[u8; 16]) -> Result<(), Outcome> {
    if address_policy::v6_translatable(addr) {
        Ok(())
    } else {
        Err(Outcome::PassSpecialAddress)
    }
}

#[inline(always)]
fn check_v4(addr: [u8; 4]) -> Result<(), Outcome> {
    if address_policy::v4_translatable(addr) {
        Ok(())
    } else {
        Err(Outcome::PassSpecialAddress)
    }
}

/// An IPv6 destination (a host on the IPv4 side): explicit mapping, then the prefix.
#[inline(always)]
pub fn remote_v6_to_v4(cfg: &ConfigBlock, addr: &[u8; 16]) -> Result<[u8; 4], Outcome> {
    check_v6(addr)?;
    if let Some(eam) = maps::eam_by_v6(cfg, addr) {
        return Ok(eam.v6_to_v4(addr));
    }
    behind_prefix(cfg, addr)
}

/// A TCP segment that moves the RFC 6146 state machine: userspace's to see.
#[inline(always)]
fn check_tcp_flags(flow: &FlowPorts) -> Result<(), Outcome> {
    if flow.tcp_flags & (tcp::flags::SYN | tcp::flags::FIN | tcp::flags::RST) != 0 {
        Err(Outcome::PassTcpControl)
    } else {
        Ok(())
    }
}

/// Stateful NAT64, an IPv6 host's query: its session's pool4 address and port.
#[inline(always)]
fn session_v6_to_v4(
    cfg: &ConfigBlock,
    host: &[u8; 16],
    remote: [u8; 4],
    flow: &FlowPorts,
) -> Result<([u8; 4], PortRewrite, LastUse), Outcome> {
    check_tcp_flags(flow)?;
    let key = SessionKey6 {
        host: *host,
        remote,
        host_port: flow.port,
        remote_port: flow.remote_port,
        proto: flow.proto,
        _pad: [0; 3],
    };
    let Some(session) = maps::NAT64_SESSION6.get_ptr_mut(&key) else {
        // Stamped as it was entered.
        let (local, port) = super::open_session::open(cfg, &key, flow)?;
        return Ok((local, flow.rewrite_to(port), LastUse::NONE));
    };
    // SAFETY: a map value, valid while the program runs.
    let (local, port, last_use) = unsafe {
        (
            (*session).local,
            (*session).local_port,
            core::ptr::addr_of_mut!((*session).last_use_ns),
        )
    };
    Ok((local, flow.rewrite_to(port), LastUse(last_use)))
}

/// Stateful NAT64, a remote's query to pool4: the IPv6 host and port behind it.
#[inline(always)]
fn session_v4_to_v6(
    local: [u8; 4],
    remote: [u8; 4],
    flow: &FlowPorts,
) -> Result<([u8; 16], PortRewrite, LastUse), Outcome> {
    check_tcp_flags(flow)?;
    let key = SessionKey4 {
        remote,
        local,
        remote_port: flow.remote_port,
        local_port: flow.port,
        proto: flow.proto,
        _pad: [0; 3],
    };
    let session = maps::NAT64_SESSION4
        .get_ptr_mut(&key)
        .ok_or(Outcome::PassNoSession)?;
    // SAFETY: as above.
    let (host, port, last_use) = unsafe {
        (
            (*session).host,
            (*session).host_port,
            core::ptr::addr_of_mut!((*session).last_use_ns),
        )
    };
    Ok((host, flow.rewrite_to(port), LastUse(last_use)))
}

/// An IPv6 source (a host behind the translator): explicit mapping, the prefix, then the host
/// table (a host without an entry is userspace's to allocate for, or to refuse).
#[inline(always)]
pub fn host_v6_to_v4(cfg: &ConfigBlock, addr: &[u8; 16]) -> Result<([u8; 4], LastUse), Outcome> {
    check_v6(addr)?;
    if cfg.stateful != 0 {
        // Only a flow's session maps a host (and an error's quoted flow is userspace's).
        return Err(Outcome::PassNoSession);
    }
    if let Some(eam) = maps::eam_by_v6(cfg, addr) {
        if cfg.source_filtered != 0 {
            return Err(Outcome::PassSourceFiltered);
        }
        return Ok((eam.v6_to_v4(addr), LastUse::NONE));
    }
    // A source inside the prefix stands for an IPv4 address, never for a host of the pool
    // (userspace never gives it one; a table entry saying otherwise is stale or forged).
    if cfg.prefix().is_some_and(|p| p.contains(addr)) {
        if cfg.source_filtered != 0 {
            return Err(Outcome::PassSourceFiltered);
        }
        return behind_prefix(cfg, addr).map(|v4| (v4, LastUse::NONE));
    }
    let key = Ipv6HostKey { addr: *addr };
    let Some(mapping) = maps::NAT64_V6_TO_V4.get_ptr_mut(&key) else {
        return Err(Outcome::PassNoSourceMapping);
    };
    let v4 = unsafe { (*mapping).v4 };
    let last_use = unsafe { core::ptr::addr_of_mut!((*mapping).last_use_ns) };
    Ok((v4, LastUse(last_use)))
}

/// An IPv4 source (a host on the IPv4 side): explicit mapping, then the prefix. The
/// translator's own address and the pool's stand for IPv6 hosts: userspace's to decide.
#[inline(always)]
pub fn remote_v4_to_v6(cfg: &ConfigBlock, addr: [u8; 4]) -> Result<[u8; 16], Outcome> {
    check_v4(addr)?;
    if addr == cfg.ipv4_addr || cfg.pool_contains(addr) {
        return Err(Outcome::PassNoSourceMapping);
    }
    if let Some(eam) = maps::eam_by_v4(cfg, addr) {
        return Ok(eam.v4_to_v6(addr));
    }
    let prefix = cfg.prefix().ok_or(Outcome::PassNoSourceMapping)?;
    check_embeddable(cfg, addr)?;
    Ok(prefix.embed(addr))
}

/// An IPv4 destination (a host behind the translator): a mapping, else the prefix unless
/// the address is in the dynamic pool (a pool address nobody holds is userspace's to
/// answer).
#[inline(always)]
pub fn host_v4_to_v6(cfg: &ConfigBlock, addr: [u8; 4]) -> Result<([u8; 16], LastUse), Outcome> {
    match mapped_host_v4_to_v6(cfg, addr) {
        Err(Outcome::PassNoDestinationMapping) if !cfg.pool_contains(addr) => {
            let prefix = cfg.prefix().ok_or(Outcome::PassNoDestinationMapping)?;
            check_embeddable(cfg, addr)?;
            Ok((prefix.embed(addr), LastUse::NONE))
        }
        found => found,
    }
}

/// An IPv4 destination that is one of the translator's own: an explicit mapping or a host
/// mapping, never the prefix alone. Inside the pool an explicit mapping counts only when it
/// is more specific than the pool (the longest match).
#[inline(always)]
pub fn mapped_host_v4_to_v6(
    cfg: &ConfigBlock,
    addr: [u8; 4],
) -> Result<([u8; 16], LastUse), Outcome> {
    check_v4(addr)?;
    if cfg.stateful != 0 {
        return Err(Outcome::PassNoSession);
    }
    // The translator's own address stands for its own IPv6 address (a quoted packet it
    // sent): userspace's to map.
    if addr == cfg.ipv4_addr {
        return Err(Outcome::PassToTranslator);
    }
    let key = Ipv4HostKey { addr };
    if let Some(mapping) = maps::NAT64_V4_TO_V6.get_ptr_mut(&key) {
        let v6 = unsafe { (*mapping).v6 };
        let last_use = unsafe { core::ptr::addr_of_mut!((*mapping).last_use_ns) };
        return Ok((v6, LastUse(last_use)));
    }
    let eam = maps::eam_by_v4(cfg, addr).ok_or(Outcome::PassNoDestinationMapping)?;
    if cfg.pool_contains(addr) && !more_specific_than_pool(cfg, eam) {
        return Err(Outcome::PassNoDestinationMapping);
    }
    Ok((eam.v4_to_v6(addr), LastUse::NONE))
}

#[inline(always)]
fn more_specific_than_pool(cfg: &ConfigBlock, eam: &EamEntry) -> bool {
    eam.v4_len > cfg.pool_len
}
