//! The dynamic address pool: IPv6 hosts that have no static mapping get an IPv4 address from
//! `dynamic-pool`, with TAYGA 0.9.2's policy, so either program can take over the other's
//! `dynamic.map` and hand every host the address it had.
//!
//! - A new host gets the first free address at or after a point hashed from its IPv6
//!   address ([`allocate::start_address`]).
//! - A known host gets its address back, idle or not: mappings outlive their use.
//! - When no address is free, the least recently used *idle* mapping is taken over.
//!   When none is idle, allocation fails and the caller answers ICMPv6 unreachable.
//! - A mapping unused for [`PoolTimers::forget`] is dropped by [`DynamicPool::expire`].
//!
//! Time is wall-clock seconds since the Unix epoch, passed in by the caller (dynamic.map
//! stores that clock, and tests must not sleep). A datapath that stamps a monotonic clock
//! converts before calling [`DynamicPool::set_last_use`].
//!
//! Every operation is O(1) or O(log n) in the number of mappings.

pub mod allocate;
mod config;
pub mod dynamic_map_file;
mod expiry;
mod free_ranges;
mod gmtime;
mod recency;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use config::{ConfigError, PoolConfig, PoolTimers, DEFAULT_FORGET, DEFAULT_IDLE};
pub use dynamic_map_file::{load, save, save_at, Warning, WarningKind};

use free_ranges::FreeRanges;
use recency::Recency;

/// One IPv6 host ↔ pool address binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
    /// Seconds since the Unix epoch when the mapping last carried a packet.
    pub last_use: u64,
}

/// No address is free and every mapping is still in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFull;

impl fmt::Display for PoolFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dynamic pool exhausted: no free address and no idle mapping to reuse")
    }
}

impl std::error::Error for PoolFull {}

/// What [`DynamicPool::allocate`] did, so the caller can update the datapath's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The host already had this address (active or idle).
    Existing(Ipv4Addr),
    /// A free address was assigned.
    New(Ipv4Addr),
    /// An idle mapping's address was taken from `evicted`, which must be removed from
    /// the datapath.
    Reused { v4: Ipv4Addr, evicted: Ipv6Addr },
}

impl Allocation {
    pub fn v4(&self) -> Ipv4Addr {
        match *self {
            Self::Existing(v4) | Self::New(v4) | Self::Reused { v4, .. } => v4,
        }
    }
}

/// Why a mapping could not be put back into the pool (from dynamic.map or pinned maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    OutsidePool,
    /// The network address, a configured address (`ipv4-addr`, a static map) or a
    /// reserved top address.
    ReservedV4,
    /// Unspecified/`::/8`, multicast or link-local: TAYGA's `validate_ip6_addr`.
    InvalidV6,
    /// Owned by a static map or the translation prefix.
    ReservedV6,
    DuplicateV4,
    DuplicateV6,
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OutsidePool => "lies outside the dynamic pool prefix",
            Self::ReservedV4 => {
                "IPv4 address is not allocatable (network address, ipv4-addr or a static map)"
            }
            Self::InvalidV6 => "invalid IPv6 address (reserved, multicast or link-local)",
            Self::ReservedV6 => {
                "IPv6 address conflicts with a static map or the translation prefix"
            }
            Self::DuplicateV4 => "IPv4 address is already mapped",
            Self::DuplicateV6 => "IPv6 address is already mapped",
        })
    }
}

impl std::error::Error for RestoreError {}

#[derive(Debug, Clone)]
pub struct DynamicPool {
    config: PoolConfig,
    by_v6: HashMap<Ipv6Addr, Ipv4Addr>,
    by_v4: HashMap<Ipv4Addr, Mapping>,
    recency: Recency,
    free: FreeRanges,
    capacity: u64,
    dirty: bool,
}

impl DynamicPool {
    pub fn new(config: PoolConfig) -> Self {
        let free = Self::allocatable_ranges(&config);
        Self {
            capacity: free.len(),
            config,
            by_v6: HashMap::new(),
            by_v4: HashMap::new(),
            recency: Recency::default(),
            free,
            dirty: false,
        }
    }

    /// Every address of the pool except the network address (TAYGA's free list starts one
    /// above it) and whatever the configuration reserves.
    fn allocatable_ranges(config: &PoolConfig) -> FreeRanges {
        let network = u32::from(config.network());
        let last = u32::from(config.last());
        let mut holes: Vec<(u32, u32)> = config
            .reserved_v4
            .iter()
            .map(|&(net, len)| {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(len.min(32)))
                    .unwrap_or(0);
                let first = u32::from(net) & mask;
                (first.max(network), (first | !mask).min(last))
            })
            .filter(|(first, last)| first <= last)
            .collect();
        holes.push((network, network));
        if config.reserve_broadcast {
            holes.push((last, last));
        }
        holes.sort_unstable();

        let mut free = FreeRanges::new();
        // The first address not yet known to be a hole (u64: it may pass the last address).
        let mut next = u64::from(network);
        for (first, hole_last) in holes {
            if next < u64::from(first) {
                free.add_range(next as u32, first - 1);
            }
            next = next.max(u64::from(hole_last) + 1);
        }
        if next <= u64::from(last) {
            free.add_range(next as u32, last);
        }
        free
    }

    /// A new set of reserved subnets (a reloaded map-file): addresses held keep their hosts,
    /// as in TAYGA, where a host's own /32 is more specific than any map; only free ones
    /// are taken out of (or put back into) circulation.
    pub fn reserve_v4(&mut self, reserved: Vec<(Ipv4Addr, u8)>) {
        self.config.reserved_v4 = reserved;
        let mut free = Self::allocatable_ranges(&self.config);
        self.capacity = free.len();
        for v4 in self.by_v4.keys() {
            free.take(u32::from(*v4));
        }
        self.free = free;
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn timers(&self) -> PoolTimers {
        self.config.timers
    }

    /// The pool address of `v6`, active or idle.
    pub fn lookup_v6(&self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.by_v6.get(v6).copied()
    }

    /// The IPv6 host holding `v4`, active or idle. (TAYGA translates inbound IPv4 only to
    /// active mappings: see [`DynamicPool::is_idle`].)
    pub fn lookup_v4(&self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        self.by_v4.get(v4).map(|m| m.v6)
    }

    pub fn get(&self, v4: &Ipv4Addr) -> Option<Mapping> {
        self.by_v4.get(v4).copied()
    }

    /// The address for `v6`, assigning one if needed; see [`DynamicPool::allocate`].
    pub fn get_or_allocate(&mut self, v6: &Ipv6Addr, now: u64) -> Result<Ipv4Addr, PoolFull> {
        self.allocate(v6, now).map(|a| a.v4())
    }

    /// TAYGA's `assign_dynamic`: the host's existing mapping if any; else the first free
    /// address from the host's hashed start point; else the least recently used idle
    /// mapping's address. Stamps the mapping as used at `now`.
    pub fn allocate(&mut self, v6: &Ipv6Addr, now: u64) -> Result<Allocation, PoolFull> {
        if let Some(v4) = self.lookup_v6(v6) {
            self.touch_v4(v4, now);
            return Ok(Allocation::Existing(v4));
        }
        let start = allocate::start_address(v6, self.config.network(), self.config.prefix_len());
        if let Some(v4) = allocate::choose_free(&self.free, start) {
            self.free.take(u32::from(v4));
            self.insert_mapping(Mapping {
                v4,
                v6: *v6,
                last_use: now,
            });
            self.dirty = true;
            return Ok(Allocation::New(v4));
        }
        let (last_use, v4) = self.recency.oldest().ok_or(PoolFull)?;
        if !expiry::is_idle(last_use, now, &self.config.timers) {
            return Err(PoolFull);
        }
        let evicted = self.by_v4[&v4].v6;
        self.by_v6.remove(&evicted);
        self.by_v6.insert(*v6, v4);
        self.by_v4.insert(
            v4,
            Mapping {
                v4,
                v6: *v6,
                last_use: now,
            },
        );
        self.recency.moved(last_use, now, v4);
        self.dirty = true;
        Ok(Allocation::Reused { v4, evicted })
    }

    fn insert_mapping(&mut self, m: Mapping) {
        self.by_v6.insert(m.v6, m.v4);
        self.by_v4.insert(m.v4, m);
        self.recency.insert(m.last_use, m.v4);
    }

    /// Stamp the mapping holding `addr` (either side) as used at `now`. Returns false if
    /// `addr` has no mapping. Last use never moves backwards.
    pub fn touch(&mut self, addr: impl Into<IpAddr>, now: u64) -> bool {
        let v4 = match addr.into() {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => match self.lookup_v6(&v6) {
                Some(v4) => v4,
                None => return false,
            },
        };
        self.touch_v4(v4, now)
    }

    /// Copy in the last-use time the datapath stamped for `v4` (seconds since the Unix
    /// epoch). Last use never moves backwards, so a stale copy cannot make an active
    /// mapping look idle.
    pub fn set_last_use(&mut self, v4: Ipv4Addr, seconds: u64) -> bool {
        self.touch_v4(v4, seconds)
    }

    fn touch_v4(&mut self, v4: Ipv4Addr, now: u64) -> bool {
        let Some(m) = self.by_v4.get_mut(&v4) else {
            return false;
        };
        if now > m.last_use {
            self.recency.moved(m.last_use, now, v4);
            m.last_use = now;
        }
        true
    }

    /// Put back a mapping known from elsewhere (dynamic.map, pinned datapath maps), with
    /// the checks TAYGA's `load_map` makes.
    pub fn restore(&mut self, m: Mapping) -> Result<(), RestoreError> {
        if !self.config.contains(m.v4) {
            return Err(RestoreError::OutsidePool);
        }
        if self.by_v4.contains_key(&m.v4) {
            return Err(RestoreError::DuplicateV4);
        }
        if !self.config.is_allocatable(m.v4) {
            return Err(RestoreError::ReservedV4);
        }
        if !is_valid_host_v6(&m.v6) {
            return Err(RestoreError::InvalidV6);
        }
        if self.config.is_reserved_v6(&m.v6) {
            return Err(RestoreError::ReservedV6);
        }
        if self.by_v6.contains_key(&m.v6) {
            return Err(RestoreError::DuplicateV6);
        }
        self.free.take(u32::from(m.v4));
        self.insert_mapping(m);
        Ok(())
    }

    /// Drop the mapping holding `v4` and free the address.
    pub fn remove(&mut self, v4: &Ipv4Addr) -> Option<Mapping> {
        let m = self.by_v4.remove(v4)?;
        self.by_v6.remove(&m.v6);
        self.recency.remove(m.last_use, m.v4);
        self.free.give_back(u32::from(m.v4));
        self.dirty = true;
        Some(m)
    }

    /// True when `v4` is mapped and its mapping has been unused for longer than the idle
    /// timer: TAYGA's "dormant" state, in which inbound IPv4 is not translated and the
    /// address may be given to another host when the pool is full.
    pub fn is_idle(&self, v4: &Ipv4Addr, now: u64) -> Option<bool> {
        self.by_v4
            .get(v4)
            .map(|m| expiry::is_idle(m.last_use, now, &self.config.timers))
    }

    /// Every mapping, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Mapping> + '_ {
        self.by_v4.values().copied()
    }

    pub fn len(&self) -> usize {
        self.by_v4.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_v4.is_empty()
    }

    /// How many addresses the pool can hand out.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// How many addresses are neither mapped nor reserved.
    pub fn free_count(&self) -> u64 {
        self.free.len()
    }

    /// True if mappings were assigned, reassigned or dropped since the last call: TAYGA
    /// then writes dynamic.map at the next maintenance pass (`map_write_pending`).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

/// An IPv6 host the translator could ever have translated (`address_policy`).
pub(crate) fn is_valid_host_v6(v6: &Ipv6Addr) -> bool {
    nat64_common::address_policy::v6_translatable(&v6.octets())
}

impl DynamicPool {
    /// Give every mapping the same last use (load's answer to a file dated in the future).
    pub(crate) fn redate_all(&mut self, last_use: u64) {
        let mut recency = Recency::default();
        for m in self.by_v4.values_mut() {
            m.last_use = last_use;
            recency.insert(last_use, m.v4);
        }
        self.recency = recency;
    }
}

#[cfg(test)]
mod tests;
