//! When mappings go idle and when they are forgotten (TAYGA 0.9.2 `dynamic_maint`).

use std::net::Ipv4Addr;

use super::{DynamicPool, Mapping, PoolTimers};

/// TAYGA: `last_use + dyn_min_lease < now` moves a mapping to the dormant list.
pub(crate) fn is_idle(last_use: u64, now: u64, timers: &PoolTimers) -> bool {
    last_use.saturating_add(timers.idle_secs()) < now
}

/// TAYGA: a dormant mapping with `last_use + dyn_max_lease < now` is freed.
pub(crate) fn is_forgotten(last_use: u64, now: u64, timers: &PoolTimers) -> bool {
    last_use.saturating_add(timers.forget_secs()) < now
}

impl DynamicPool {
    /// Forget every mapping unused for longer than the forget timer, freeing its address,
    /// and return them so the caller can remove them from the datapath. Oldest first.
    pub fn expire(&mut self, now: u64) -> Vec<Mapping> {
        let mut gone = Vec::new();
        while let Some((last_use, v4)) = self.recency.oldest() {
            if !is_forgotten(last_use, now, &self.config.timers) {
                break;
            }
            gone.extend(self.remove(&v4));
        }
        gone
    }

    /// The mappings that are idle at `now` (unused for longer than the idle timer), least
    /// recently used first. Walks only the idle ones.
    pub fn idle_mappings(&self, now: u64) -> impl Iterator<Item = Mapping> + '_ {
        let timers = self.config.timers;
        self.recency
            .iter_oldest_first()
            .take_while(move |&(last_use, _)| is_idle(last_use, now, &timers))
            .filter_map(move |(_, v4): (u64, Ipv4Addr)| self.get(&v4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_strict_like_tayga() {
        let t = PoolTimers::default();
        assert!(!is_idle(1000, 1000 + 7440, &t));
        assert!(is_idle(1000, 1000 + 7441, &t));
        assert!(!is_forgotten(1000, 1000 + 14 * 86_400, &t));
        assert!(is_forgotten(1000, 1000 + 14 * 86_400 + 1, &t));
    }
}
