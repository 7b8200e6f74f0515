//! The dynamic pool as the translator consults it, shared by the TUN workers.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::{Mutex, OnceLock},
};

use super::tc_datapath::TcDatapath;
use crate::{
    pool::{Allocation, DynamicPool},
    translate::DynamicMap,
};

/// The pool, shared by every worker; absent when the configuration has no `dynamic-pool`.
pub struct SharedPool(Option<Mutex<DynamicPool>>);

impl SharedPool {
    pub fn new(pool: Option<DynamicPool>) -> Self {
        Self(pool.map(Mutex::new))
    }

    /// Runs `f` on the pool, or on nothing when there is none, with the pool locked.
    pub fn with_either<R>(&self, f: impl FnOnce(Option<&mut DynamicPool>) -> R) -> R {
        match &self.0 {
            Some(pool) => f(Some(&mut pool.lock().unwrap_or_else(|p| p.into_inner()))),
            None => f(None),
        }
    }

    /// Runs `f` on the pool, if there is one.
    pub fn with<R>(&self, f: impl FnOnce(&mut DynamicPool) -> R) -> Option<R> {
        // A poisoned lock means a worker panicked mid-update; the pool's own invariants are
        // kept by its methods, so carrying on beats stopping the datapath.
        let mut pool = self.0.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
        Some(f(&mut pool))
    }
}

/// One packet's view of the pool: lookups stamp last use, allocation happens only for
/// sources of packets being translated (never for addresses quoted in ICMP errors).
pub struct PoolLookup<'a> {
    pub shared: &'a SharedPool,
    /// The kernel path, once attached: a host that gets an address is entered there before
    /// its packet is written back, so its next packets never leave the kernel. Asked at each
    /// allocation, not once per burst: the path may come up in between.
    pub tc: &'a OnceLock<TcDatapath>,
    pub now: u64,
    /// Set when allocation found the pool full: the worker logs it once per burst.
    pub pool_full: bool,
    /// Set when this packet's source got a new address (for `log dyn`).
    pub allocated: Option<(Ipv6Addr, Ipv4Addr)>,
}

impl<'a> PoolLookup<'a> {
    pub fn new(shared: &'a SharedPool, tc: &'a OnceLock<TcDatapath>, now: u64) -> Self {
        Self {
            shared,
            tc,
            now,
            pool_full: false,
            allocated: None,
        }
    }
}

impl DynamicMap for PoolLookup<'_> {
    fn v6_to_v4(&mut self, v6: &Ipv6Addr, allocate: bool) -> Option<Ipv4Addr> {
        let now = self.now;
        let outcome = self.shared.with(|pool| {
            if allocate {
                pool.allocate(v6, now).map_err(|_full| ())
            } else {
                pool.lookup_v6(v6).map(Allocation::Existing).ok_or(())
            }
        })?;
        match outcome {
            Ok(Allocation::Existing(v4)) => Some(v4),
            Ok(allocation) => {
                if let Some(tc) = self.tc.get() {
                    if let Allocation::Reused { v4, evicted } = allocation {
                        tc.forget(evicted, v4);
                    }
                    tc.enter(*v6, allocation.v4());
                }
                self.allocated = Some((*v6, allocation.v4()));
                Some(allocation.v4())
            }
            Err(()) => {
                self.pool_full = allocate;
                None
            }
        }
    }

    fn v4_to_v6(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        let now = self.now;
        self.shared
            .with(|pool| {
                // TAYGA does not translate towards a mapping that has gone idle: its address
                // may be handed to another host at any moment.
                if pool.is_idle(v4, now) != Some(false) {
                    return None;
                }
                pool.touch(*v4, now);
                pool.lookup_v4(v4)
            })
            .flatten()
    }
}
