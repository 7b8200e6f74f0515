//! Address mapping, in the userspace translator's order: explicit mappings first, then the
//! host tables (for IPv6 hosts) or the RFC 6052 prefix (for IPv4 hosts). Where userspace
//! would decide something the kernel cannot (allocate a mapping, refuse a pool address nobody
//! holds), the lookup fails and the packet goes to userspace.
use nat64_common::{
    counters::Outcome,
    ipv4_scope,
    maps::{ConfigBlock, Ipv4HostKey, Ipv6HostKey},
    rfc6052::WELL_KNOWN_PREFIX,
};

use crate::maps;

/// Where to stamp the last use of a host mapping, once the packet is translated.
pub struct LastUse(Option<*mut u64>);

impl LastUse {
    #[inline(always)]
    pub fn stamp(self) {
        if let Some(at) = self.0 {
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

/// RFC 6052 §3.1: with the well-known prefix, only global IPv4 addresses are represented.
#[inline(always)]
fn check_scope(cfg: &ConfigBlock, v4: [u8; 4]) -> Result<(), Outcome> {
    let wkp = cfg.prefix.len == WELL_KNOWN_PREFIX.len && cfg.prefix.addr == WELL_KNOWN_PREFIX.addr;
    if cfg.wkpf_strict != 0 && wkp && !ipv4_scope::is_global(v4) {
        Err(Outcome::PassNotGlobal)
    } else {
        Ok(())
    }
}

/// An IPv6 destination (a host on the IPv4 side): explicit mapping, then the prefix.
#[inline(always)]
pub fn remote_v6_to_v4(cfg: &ConfigBlock, addr: &[u8; 16]) -> Result<[u8; 4], Outcome> {
    if let Some(eam) = maps::eam_by_v6(cfg, addr) {
        return Ok(eam.v6_to_v4(addr));
    }
    let prefix = cfg.prefix().ok_or(Outcome::PassNoDestinationMapping)?;
    let v4 = prefix
        .extract(addr)
        .ok_or(Outcome::PassNoDestinationMapping)?;
    check_scope(cfg, v4)?;
    Ok(v4)
}

/// An IPv6 source (a host behind the translator): explicit mapping, then the host table;
/// without a dynamic pool, the prefix (with a pool, userspace allocates instead).
#[inline(always)]
pub fn host_v6_to_v4(cfg: &ConfigBlock, addr: &[u8; 16]) -> Result<([u8; 4], LastUse), Outcome> {
    if let Some(eam) = maps::eam_by_v6(cfg, addr) {
        if cfg.source_filtered != 0 {
            return Err(Outcome::PassSourceFiltered);
        }
        return Ok((eam.v6_to_v4(addr), LastUse(None)));
    }
    let key = Ipv6HostKey { addr: *addr };
    let Some(mapping) = maps::NAT64_V6_TO_V4.get_ptr_mut(&key) else {
        if cfg.has_pool != 0 || cfg.source_filtered != 0 {
            return Err(Outcome::PassNoSourceMapping);
        }
        let prefix = cfg.prefix().ok_or(Outcome::PassNoSourceMapping)?;
        let v4 = prefix.extract(addr).ok_or(Outcome::PassNoSourceMapping)?;
        check_scope(cfg, v4)?;
        return Ok((v4, LastUse(None)));
    };
    let v4 = unsafe { (*mapping).v4 };
    let last_use = unsafe { core::ptr::addr_of_mut!((*mapping).last_use_ns) };
    Ok((v4, LastUse(Some(last_use))))
}

/// An IPv4 source (a host on the IPv4 side): explicit mapping, then the prefix.
#[inline(always)]
pub fn remote_v4_to_v6(cfg: &ConfigBlock, addr: [u8; 4]) -> Result<[u8; 16], Outcome> {
    if let Some(eam) = maps::eam_by_v4(cfg, addr) {
        return Ok(eam.v4_to_v6(addr));
    }
    let prefix = cfg.prefix().ok_or(Outcome::PassNoSourceMapping)?;
    check_scope(cfg, addr)?;
    Ok(prefix.embed(addr))
}

/// An IPv4 destination (a host behind the translator): explicit mapping, then the host
/// table, then the prefix unless the address is in the dynamic pool (a pool address nobody
/// holds is userspace's to answer).
#[inline(always)]
pub fn host_v4_to_v6(cfg: &ConfigBlock, addr: [u8; 4]) -> Result<([u8; 16], LastUse), Outcome> {
    match mapped_host_v4_to_v6(cfg, addr) {
        Err(Outcome::PassNoDestinationMapping) if !cfg.pool_contains(addr) => {
            let prefix = cfg.prefix().ok_or(Outcome::PassNoDestinationMapping)?;
            check_scope(cfg, addr)?;
            Ok((prefix.embed(addr), LastUse(None)))
        }
        found => found,
    }
}

/// An IPv4 destination that is one of the translator's own: an explicit mapping or a host
/// mapping, never the prefix alone.
#[inline(always)]
pub fn mapped_host_v4_to_v6(
    cfg: &ConfigBlock,
    addr: [u8; 4],
) -> Result<([u8; 16], LastUse), Outcome> {
    if let Some(eam) = maps::eam_by_v4(cfg, addr) {
        return Ok((eam.v4_to_v6(addr), LastUse(None)));
    }
    let key = Ipv4HostKey { addr };
    let mapping = maps::NAT64_V4_TO_V6
        .get_ptr_mut(&key)
        .ok_or(Outcome::PassNoDestinationMapping)?;
    let v6 = unsafe { (*mapping).v6 };
    let last_use = unsafe { core::ptr::addr_of_mut!((*mapping).last_use_ns) };
    Ok((v6, LastUse(Some(last_use))))
}
