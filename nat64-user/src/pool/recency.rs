//! Mappings ordered by last use, so the least recently used one (the only candidate for
//! reuse, and the first to be forgotten) is found without scanning the pool.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Ties on last use go to the lower IPv4 address, so the choice is deterministic.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recency {
    order: BTreeSet<(u64, u32)>,
}

impl Recency {
    pub(crate) fn insert(&mut self, last_use: u64, v4: Ipv4Addr) {
        self.order.insert((last_use, u32::from(v4)));
    }

    pub(crate) fn remove(&mut self, last_use: u64, v4: Ipv4Addr) {
        self.order.remove(&(last_use, u32::from(v4)));
    }

    pub(crate) fn moved(&mut self, old: u64, new: u64, v4: Ipv4Addr) {
        if old != new {
            self.remove(old, v4);
            self.insert(new, v4);
        }
    }

    /// The least recently used mapping.
    pub(crate) fn oldest(&self) -> Option<(u64, Ipv4Addr)> {
        self.order
            .first()
            .map(|&(last_use, v4)| (last_use, Ipv4Addr::from(v4)))
    }
}

impl Recency {
    pub(crate) fn iter_oldest_first(&self) -> impl Iterator<Item = (u64, Ipv4Addr)> + '_ {
        self.order
            .iter()
            .map(|&(last_use, v4)| (last_use, Ipv4Addr::from(v4)))
    }
}
