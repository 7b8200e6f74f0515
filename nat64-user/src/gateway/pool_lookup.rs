//! The dynamic pool as the translator consults it, shared by the TUN workers.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    pool::{Allocation, DynamicPool},
    translate::DynamicMap,
};

/// Wall-clock seconds, the unit `dynamic.map` stores last use in.
pub fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The pool, shared by every worker.
pub struct SharedPool {
    pub pool: Mutex<DynamicPool>,
}

/// One packet's view of the pool: lookups stamp last use, allocation happens only for
/// sources of packets being translated (never for addresses quoted in ICMP errors).
pub struct PoolLookup<'a> {
    pub shared: &'a SharedPool,
    pub now: u64,
    /// Set when allocation found the pool full: the worker logs it once per burst.
    pub pool_full: bool,
    /// Set when this packet's source got a new address (for `log dyn`).
    pub allocated: Option<(Ipv6Addr, Ipv4Addr)>,
}

impl<'a> PoolLookup<'a> {
    pub fn new(shared: &'a SharedPool, now: u64) -> Self {
        Self {
            shared,
            now,
            pool_full: false,
            allocated: None,
        }
    }
}

impl DynamicMap for PoolLookup<'_> {
    fn v6_to_v4(&mut self, v6: &Ipv6Addr, allocate: bool) -> Option<Ipv4Addr> {
        // A poisoned lock means a worker panicked mid-update; the pool's own invariants are
        // kept by its methods, so carrying on beats stopping the datapath.
        let mut pool = self.shared.pool.lock().unwrap_or_else(|p| p.into_inner());
        if !allocate {
            return pool.lookup_v6(v6);
        }
        match pool.allocate(v6, self.now) {
            Ok(Allocation::Existing(v4)) => Some(v4),
            Ok(allocation) => {
                self.allocated = Some((*v6, allocation.v4()));
                Some(allocation.v4())
            }
            Err(_full) => {
                self.pool_full = true;
                None
            }
        }
    }

    fn pool_contains(&self, v4: &Ipv4Addr) -> bool {
        let pool = self.shared.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.config().contains(*v4)
    }

    fn v4_to_v6(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        let mut pool = self.shared.pool.lock().unwrap_or_else(|p| p.into_inner());
        // TAYGA does not translate towards a mapping that has gone idle: its address may be
        // handed to another host at any moment.
        if pool.is_idle(v4, self.now) != Some(false) {
            return None;
        }
        pool.touch(*v4, self.now);
        pool.lookup_v4(v4)
    }
}
