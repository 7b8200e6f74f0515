//! The dynamic mappings as the translator consults them for one packet: lookups, and the
//! slow path's one explicit allocation. Everything it changes, [`Mappings`] changes.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::mappings::{Mappings, Unallocated};
use crate::{pool::Allocation, translate::DynamicMap};

/// One packet's view of the mappings. Lookups stamp last use; an address is allocated only
/// for the source of a packet being translated, never for an address quoted in an ICMP
/// error or a destination.
pub struct PoolLookup<'a> {
    mappings: &'a Mappings,
    now: u64,
    /// Set when allocation found the pool full: the worker logs it once per burst.
    pub pool_full: bool,
    /// Set when this packet's source got a new address (for `log dyn`).
    pub allocated: Option<(Ipv6Addr, Ipv4Addr)>,
}

impl<'a> PoolLookup<'a> {
    pub fn new(mappings: &'a Mappings, now: u64) -> Self {
        Self {
            mappings,
            now,
            pool_full: false,
            allocated: None,
        }
    }

    /// The explicit step: `v6`'s address, a new one if it has none (entered in the kernel's
    /// tables by [`Mappings::allocate`] before the packet is written back).
    fn allocate_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        match self.mappings.allocate(v6, self.now) {
            Ok(Allocation::Existing(v4)) => Some(v4),
            Ok(allocation) => {
                self.allocated = Some((*v6, allocation.v4()));
                Some(allocation.v4())
            }
            Err(Unallocated::PoolFull) => {
                self.pool_full = true;
                None
            }
            Err(Unallocated::NoPool) => None,
        }
    }
}

impl DynamicMap for PoolLookup<'_> {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.mappings.address_of(v6, self.now)
    }

    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        self.mappings.active_host(v4, self.now)
    }

    fn allocate(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.allocate_v6(v6)
    }
}
