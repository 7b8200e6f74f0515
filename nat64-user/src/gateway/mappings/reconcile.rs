//! Squares the host tables an earlier run left pinned with the pool read from `dynamic.map`.
//! The kernel may know hosts the file does not (mappings made after its last write, before a
//! crash): those are adopted into the pool, so their addresses are not handed to anyone
//! else. Where the two disagree the pool wins and the kernel entry goes, so no address ever
//! leads to two hosts.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::maps::MappingKind;

use crate::pool::{DynamicPool, Mapping};

/// What to remove from the kernel's tables, and how many mappings the pool took over.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub adopted: usize,
    pub remove_forward: Vec<Ipv6Addr>,
    pub remove_reverse: Vec<Ipv4Addr>,
}

/// `forward`: the IPv6 → IPv4 table (with each entry's kind); `reverse`: the IPv4 → IPv6
/// table. Adopted mappings count as used `now`: the kernel was serving them.
pub fn reconcile(
    forward: &[(Ipv6Addr, Ipv4Addr, u32)],
    reverse: &[(Ipv4Addr, Ipv6Addr)],
    mut pool: Option<&mut DynamicPool>,
    now: u64,
) -> Reconciled {
    let mut out = Reconciled::default();
    for &(v6, v4, kind) in forward {
        let keep = match pool.as_deref_mut() {
            Some(pool) if kind == MappingKind::Dynamic as u32 => match pool.lookup_v6(&v6) {
                Some(held) => held == v4,
                None => {
                    let adopted = pool
                        .restore(Mapping {
                            v4,
                            v6,
                            last_use: now,
                        })
                        .is_ok();
                    out.adopted += usize::from(adopted);
                    adopted
                }
            },
            _ => false,
        };
        if !keep {
            out.remove_forward.push(v6);
        }
    }
    for &(v4, v6) in reverse {
        let consistent = pool
            .as_deref()
            .is_some_and(|pool| pool.lookup_v4(&v4) == Some(v6));
        if !consistent {
            out.remove_reverse.push(v4);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolConfig;

    const DYNAMIC: u32 = MappingKind::Dynamic as u32;

    fn pool() -> DynamicPool {
        DynamicPool::new(PoolConfig::new(Ipv4Addr::new(198, 51, 100, 0), 24).unwrap())
    }

    fn v6(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
    }

    fn v4(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 51, 100, last)
    }

    #[test]
    fn kernel_mappings_unknown_to_the_pool_are_adopted() {
        let mut pool = pool();
        let out = reconcile(
            &[(v6(1), v4(10), DYNAMIC)],
            &[(v4(10), v6(1))],
            Some(&mut pool),
            1000,
        );
        assert_eq!(out.adopted, 1);
        assert!(out.remove_forward.is_empty() && out.remove_reverse.is_empty());
        assert_eq!(pool.lookup_v6(&v6(1)), Some(v4(10)));
        assert_eq!(pool.get(&v4(10)).unwrap().last_use, 1000);
    }

    #[test]
    fn where_kernel_and_pool_disagree_the_kernel_entry_goes() {
        let mut pool = pool();
        pool.restore(Mapping {
            v4: v4(10),
            v6: v6(1),
            last_use: 5,
        })
        .unwrap();
        let out = reconcile(
            // v6(2) claims v4(10), which the pool gave v6(1); v6(1) itself is known by the pool.
            &[(v6(2), v4(10), DYNAMIC), (v6(1), v4(10), DYNAMIC)],
            &[(v4(10), v6(2)), (v4(11), v6(3))],
            Some(&mut pool),
            1000,
        );
        assert_eq!(out.adopted, 0);
        assert_eq!(out.remove_forward, vec![v6(2)]);
        assert_eq!(out.remove_reverse, vec![v4(10), v4(11)]);
        assert_eq!(pool.lookup_v4(&v4(10)), Some(v6(1)));
    }

    #[test]
    fn without_a_pool_or_outside_it_nothing_is_kept() {
        let out = reconcile(&[(v6(1), v4(10), DYNAMIC)], &[(v4(10), v6(1))], None, 0);
        assert_eq!((out.remove_forward.len(), out.remove_reverse.len()), (1, 1));
        let mut pool = pool();
        let outside = Ipv4Addr::new(192, 0, 2, 1);
        let out = reconcile(&[(v6(1), outside, DYNAMIC)], &[], Some(&mut pool), 0);
        assert_eq!(out.remove_forward, vec![v6(1)]);
        assert!(pool.is_empty());
    }
}
