//! The dynamic mappings (IPv6 host ↔ pool address) and their one owner. [`Mappings`] holds
//! the pool, the kernel path's host tables (once it is attached) and the place of
//! `dynamic.map`, and is the only code that writes any of them, so the three stay in step:
//!
//! - an allocation enters the new mapping in the kernel's tables, and takes out the one it
//!   evicted, before the packet that asked for it is written back;
//! - expiry takes forgotten mappings out of the pool and the tables together;
//! - the kernel path is attached from inside [`Mappings::enter_kernel`], with the mappings
//!   locked: an earlier run's tables are squared with the pool ([`reconcile`]) and every
//!   mapping the pool holds is entered before the program sees a packet;
//! - `dynamic.map` is read at start and written from here ([`persistence`]).
//!
//! Everyone else looks up: the TUN workers through `gateway::pool_lookup`, the readers
//! (`nat64 stats`, the metrics) through [`Mappings::read`].

pub mod persistence;
pub mod reconcile;

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    sync::{Mutex, MutexGuard},
    time::Instant,
};

use anyhow::Result;
use nat64_common::maps::MappingKind;
use tracing::warn;

use crate::{
    clock::boot_time_ns,
    pool::{Allocation, DynamicPool},
    tc_maps::HostTables,
};

/// The pool, the kernel's host tables and `dynamic.map`, kept in step.
pub struct Mappings {
    state: Mutex<State>,
    /// Whether there is a pool (`dynamic-pool`): without one every lookup misses, unlocked.
    pooled: bool,
    /// `data-dir/dynamic.map`, when there is a data-dir.
    file: Option<PathBuf>,
}

struct State {
    pool: Option<DynamicPool>,
    /// The kernel path's host tables, from the moment it is attached.
    kernel: Option<HostTables>,
    /// When `dynamic.map` was last written (TAYGA's periodic write counts from there).
    last_write: Instant,
}

/// Why [`Mappings::allocate`] gave no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unallocated {
    /// No `dynamic-pool` is configured.
    NoPool,
    /// Every address is taken and no mapping is idle.
    PoolFull,
}

/// What squaring an earlier run's host tables with the pool found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reopened {
    /// Host mappings in the kernel's IPv6 → IPv4 table.
    pub found: usize,
    /// Of those, taken into the pool (`dynamic.map` missed them).
    pub adopted: usize,
    /// Removed as stale (the pool gave the address, or the host, to another).
    pub dropped: usize,
}

impl Mappings {
    /// `pool` as `dynamic.map` left it (see [`persistence::load_pool`]), kept in `file`.
    pub fn new(pool: Option<DynamicPool>, file: Option<PathBuf>) -> Self {
        Self {
            pooled: pool.is_some(),
            state: Mutex::new(State {
                pool,
                kernel: None,
                last_write: Instant::now(),
            }),
            file,
        }
    }

    /// A poisoned lock means a worker panicked mid-update; the pool's own invariants are
    /// kept by its methods, so carrying on beats stopping the datapath.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a pool is configured.
    pub fn has_pool(&self) -> bool {
        self.pooled
    }

    /// The pool address `v6` holds, active or idle, stamped as used at `now` (a lookup is a
    /// use, as in TAYGA: a host whose packets take the plain path stays fresh). Nothing is
    /// made.
    pub fn address_of(&self, v6: &Ipv6Addr, now: u64) -> Option<Ipv4Addr> {
        if !self.pooled {
            return None;
        }
        let mut state = self.lock();
        let pool = state.pool.as_mut()?;
        let v4 = pool.lookup_v6(v6)?;
        pool.touch(v4, now);
        Some(v4)
    }

    /// The host holding `v4`, if its mapping is active; stamped as used at `now`. TAYGA does
    /// not translate towards a mapping that has gone idle: its address may be handed to
    /// another host at any moment.
    pub fn active_host(&self, v4: &Ipv4Addr, now: u64) -> Option<Ipv6Addr> {
        if !self.pooled {
            return None;
        }
        let mut state = self.lock();
        let pool = state.pool.as_mut()?;
        if pool.is_idle(v4, now) != Some(false) {
            return None;
        }
        pool.touch(*v4, now);
        pool.lookup_v4(v4)
    }

    /// The slow path's explicit step for the source of a packet being translated: `v6`'s
    /// address, a new one when it has none (TAYGA's policy: see [`DynamicPool::allocate`]),
    /// stamped as used at `now`. A new mapping is in the kernel's tables, and the one it
    /// evicted out of them, when this returns.
    pub fn allocate(&self, v6: &Ipv6Addr, now: u64) -> Result<Allocation, Unallocated> {
        if !self.pooled {
            return Err(Unallocated::NoPool);
        }
        let mut state = self.lock();
        let State { pool, kernel, .. } = &mut *state;
        let pool = pool.as_mut().ok_or(Unallocated::NoPool)?;
        let allocation = pool
            .allocate(v6, now)
            .map_err(|_full| Unallocated::PoolFull)?;
        if let Some(tables) = kernel {
            if let Allocation::Reused { v4, evicted } = allocation {
                tables.remove(evicted, v4);
            }
            if !matches!(allocation, Allocation::Existing(_)) {
                let v4 = allocation.v4();
                if let Err(err) = tables.insert(*v6, v4, MappingKind::Dynamic) {
                    warn!("could not enter {v6} -> {v4} in the kernel tables (it stays on the slow path): {err:#}");
                }
            }
        }
        Ok(allocation)
    }

    /// Hands the kernel path's host tables over and attaches it, with the mappings locked.
    /// `reused`: the tables are an earlier run's (pinned), squared with the pool first:
    /// mappings the pool lacks are adopted (used `now`), entries that contradict it go. Then
    /// every mapping of the pool is entered, and `attach` puts the program on the device.
    /// On error the tables are let go and the workers carry on alone.
    pub fn enter_kernel(
        &self,
        mut tables: HostTables,
        reused: bool,
        now: u64,
        attach: impl FnOnce() -> Result<()>,
    ) -> Result<Option<Reopened>> {
        let mut state = self.lock();
        let State { pool, kernel, .. } = &mut *state;
        let reopened = if reused {
            let found = tables.forward_entries()?;
            let outcome =
                reconcile::reconcile(&found, &tables.reverse_entries()?, pool.as_mut(), now);
            for v6 in &outcome.remove_forward {
                tables.remove_forward(*v6);
            }
            for v4 in &outcome.remove_reverse {
                tables.remove_reverse(*v4);
            }
            Some(Reopened {
                found: found.len(),
                adopted: outcome.adopted,
                dropped: outcome.remove_forward.len(),
            })
        } else {
            None
        };
        for mapping in pool.iter().flat_map(DynamicPool::iter) {
            tables.insert(mapping.v6, mapping.v4, MappingKind::Dynamic)?;
        }
        attach()?;
        *kernel = Some(tables);
        Ok(reopened)
    }

    /// Copies the kernel's last-use stamps into the pool, so mappings the kernel serves do
    /// not look idle to the allocator or to expiry.
    pub fn sync_last_use(&self, now: u64) {
        let mut state = self.lock();
        let State { pool, kernel, .. } = &mut *state;
        let (Some(pool), Some(tables)) = (pool, kernel) else {
            return;
        };
        let stamps = match tables.last_uses() {
            Ok(stamps) => stamps,
            Err(err) => {
                warn!("reading the kernel's last-use stamps failed: {err:#}");
                return;
            }
        };
        let boot_now = boot_time_ns();
        for (v4, stamp_ns) in stamps {
            if stamp_ns == 0 || stamp_ns > boot_now {
                continue;
            }
            let age_secs = (boot_now - stamp_ns) / 1_000_000_000;
            pool.set_last_use(v4, now.saturating_sub(age_secs));
        }
    }

    /// Forgets the mappings unused for longer than the forget timer, in the pool and the
    /// kernel's tables at once; returns how many.
    pub fn expire(&self, now: u64) -> usize {
        let mut state = self.lock();
        let State { pool, kernel, .. } = &mut *state;
        let Some(pool) = pool else {
            return 0;
        };
        let expired = pool.expire(now);
        if let Some(tables) = kernel {
            for mapping in &expired {
                tables.remove(mapping.v6, mapping.v4);
            }
        }
        expired.len()
    }

    /// A new set of reserved IPv4 subnets (SIGHUP's map-file): mapped addresses keep their
    /// hosts; only free ones are taken out of (or put back into) circulation.
    pub fn reserve_v4(&self, reserved: Vec<(Ipv4Addr, u8)>) {
        if let Some(pool) = self.lock().pool.as_mut() {
            pool.reserve_v4(reserved);
        }
    }

    /// Writes `dynamic.map` now (SIGHUP, stop).
    pub fn save(&self) -> Result<()> {
        let mut state = self.lock();
        self.write(&mut state)
    }

    /// TAYGA's periodic write: `dynamic.map` is written when mappings changed since the last
    /// write, or the commit delay has passed. Whether it was.
    pub fn save_if_due(&self) -> Result<bool> {
        let mut state = self.lock();
        let Some(pool) = state.pool.as_mut() else {
            return Ok(false);
        };
        let commit_delay = pool.timers().commit_delay();
        let due = pool.take_dirty() || state.last_write.elapsed() >= commit_delay;
        if due {
            self.write(&mut state)?;
        }
        Ok(due)
    }

    fn write(&self, state: &mut State) -> Result<()> {
        state.last_write = Instant::now();
        let (Some(pool), Some(file)) = (state.pool.as_mut(), &self.file) else {
            return Ok(());
        };
        pool.take_dirty();
        persistence::save_pool(file, pool)
    }

    /// Runs `f` on the pool, read-only, with the mappings locked (the workers wait: keep it
    /// short); `None` without a pool.
    pub fn read<R>(&self, f: impl FnOnce(&DynamicPool) -> R) -> Option<R> {
        if !self.pooled {
            return None;
        }
        self.lock().pool.as_ref().map(f)
    }
}
