//! The pool's free addresses kept as disjoint runs, so finding the next free address after
//! any point, taking one and giving one back are all O(log runs) however big the pool is.
//! (TAYGA keeps the same runs in a sorted linked list and walks it.)

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub(crate) struct FreeRanges {
    /// First address of each free run → its last address (inclusive). Runs never touch.
    runs: BTreeMap<u32, u32>,
    free: u64,
}

impl FreeRanges {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Mark `first..=last` free. Only for building the set: the range must not overlap a
    /// run already present.
    pub(crate) fn add_range(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        self.free += u64::from(last - first) + 1;
        self.runs.insert(first, last);
    }

    pub(crate) fn len(&self) -> u64 {
        self.free
    }

    fn run_containing(&self, addr: u32) -> Option<(u32, u32)> {
        let (&first, &last) = self.runs.range(..=addr).next_back()?;
        (addr <= last).then_some((first, last))
    }

    pub(crate) fn contains(&self, addr: u32) -> bool {
        self.run_containing(addr).is_some()
    }

    /// Take `addr` out of the free set; false if it was not free.
    pub(crate) fn take(&mut self, addr: u32) -> bool {
        let Some((first, last)) = self.run_containing(addr) else {
            return false;
        };
        self.runs.remove(&first);
        if first < addr {
            self.runs.insert(first, addr - 1);
        }
        if addr < last {
            self.runs.insert(addr + 1, last);
        }
        self.free -= 1;
        true
    }

    /// Put `addr` back, merging it with its neighbours; false if it was already free.
    pub(crate) fn give_back(&mut self, addr: u32) -> bool {
        if self.contains(addr) {
            return false;
        }
        let mut first = addr;
        let mut last = addr;
        if let Some((&before_first, &before_last)) = self.runs.range(..addr).next_back() {
            if before_last.checked_add(1) == Some(addr) {
                first = before_first;
                self.runs.remove(&before_first);
            }
        }
        if let Some(after) = addr.checked_add(1) {
            if let Some(after_last) = self.runs.remove(&after) {
                last = after_last;
            }
        }
        self.runs.insert(first, last);
        self.free += 1;
        true
    }

    /// The first free address at or after `from`, wrapping round to the lowest one.
    pub(crate) fn next_free_from(&self, from: u32) -> Option<u32> {
        if self.contains(from) {
            return Some(from);
        }
        self.runs
            .range(from..)
            .next()
            .or_else(|| self.runs.iter().next())
            .map(|(&first, _)| first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_split_and_merge_back() {
        let mut free = FreeRanges::new();
        free.add_range(10, 20);
        assert_eq!(free.len(), 11);
        assert!(free.take(15));
        assert!(!free.take(15));
        assert!(free.take(10));
        assert!(free.take(20));
        assert_eq!(free.len(), 8);
        assert_eq!(free.next_free_from(15), Some(16));
        assert_eq!(free.next_free_from(20), Some(11));
        assert!(free.give_back(15));
        assert!(!free.give_back(15));
        assert!(free.give_back(10));
        assert!(free.give_back(20));
        assert_eq!(free.runs.len(), 1);
        assert_eq!(free.len(), 11);
    }

    #[test]
    fn wraps_and_empties() {
        let mut free = FreeRanges::new();
        free.add_range(0, 0);
        free.add_range(u32::MAX, u32::MAX);
        assert_eq!(free.next_free_from(5), Some(u32::MAX));
        assert!(free.take(u32::MAX));
        assert_eq!(free.next_free_from(5), Some(0));
        assert!(free.take(0));
        assert_eq!(free.next_free_from(5), None);
        assert!(free.give_back(u32::MAX));
        assert!(free.give_back(0));
        assert_eq!(free.len(), 2);
    }
}
