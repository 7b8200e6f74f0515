//! The pool's policy, checked against TAYGA 0.9.2's behaviour.

use super::*;

const T0: u64 = 1_700_000_000;
const IDLE: u64 = 7440;

fn v6(n: u32) -> Ipv6Addr {
    Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | u128::from(n))
}

fn pool(net: [u8; 4], len: u8) -> DynamicPool {
    DynamicPool::new(PoolConfig::new(Ipv4Addr::from(net), len).unwrap())
}

#[test]
fn new_host_gets_the_hashed_start_address() {
    let mut p = pool([192, 0, 2, 0], 24);
    let expected = allocate::start_address(&v6(1), Ipv4Addr::new(192, 0, 2, 0), 24);
    assert_eq!(p.allocate(&v6(1), T0), Ok(Allocation::New(expected)));
    assert_eq!(p.lookup_v6(&v6(1)), Some(expected));
    assert_eq!(p.lookup_v4(&expected), Some(v6(1)));
    assert_eq!(p.len(), 1);
    assert!(p.take_dirty());
    assert!(!p.take_dirty());
}

#[test]
fn same_host_gets_same_address_after_idle() {
    let mut p = pool([192, 0, 2, 0], 24);
    let first = p.get_or_allocate(&v6(1), T0).unwrap();
    for n in 2..50 {
        p.get_or_allocate(&v6(n), T0).unwrap();
    }
    let later = T0 + 10 * IDLE;
    assert_eq!(p.is_idle(&first, later), Some(true));
    assert_eq!(p.allocate(&v6(1), later), Ok(Allocation::Existing(first)));
    assert_eq!(p.get(&first).unwrap().last_use, later);
    assert_eq!(p.is_idle(&first, later), Some(false));
}

#[test]
fn collision_probes_to_the_next_free_address() {
    let mut p = pool([192, 0, 2, 0], 24);
    let a = p.get_or_allocate(&v6(1), T0).unwrap();
    // Same sum of 32-bit words, so the same start point.
    let twin = Ipv6Addr::from(u128::from(v6(1)) - 1 + (1u128 << 32));
    assert_eq!(
        allocate::start_address(&twin, p.config().network(), 24),
        allocate::start_address(&v6(1), p.config().network(), 24)
    );
    let b = p.get_or_allocate(&twin, T0).unwrap();
    let next = if a == Ipv4Addr::new(192, 0, 2, 255) {
        Ipv4Addr::new(192, 0, 2, 1)
    } else {
        Ipv4Addr::from(u32::from(a) + 1)
    };
    assert_eq!(b, next);
}

#[test]
fn network_and_ipv4_addr_never_allocated_top_address_is_like_tayga() {
    // A /29: .0 network, .1 the translator, .2–.7 for hosts (TAYGA hands out .7 too).
    let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 29).unwrap();
    cfg.reserved_v4.push((Ipv4Addr::new(192, 0, 2, 1), 32));
    let mut p = DynamicPool::new(cfg.clone());
    assert_eq!(p.capacity(), 6);
    let mut got: Vec<Ipv4Addr> = (0..6)
        .map(|n| p.get_or_allocate(&v6(n), T0).unwrap())
        .collect();
    got.sort();
    let want: Vec<Ipv4Addr> = (2..=7).map(|o| Ipv4Addr::new(192, 0, 2, o)).collect();
    assert_eq!(got, want);
    assert_eq!(p.get_or_allocate(&v6(100), T0), Err(PoolFull));

    cfg.reserve_broadcast = true;
    let mut p = DynamicPool::new(cfg);
    assert_eq!(p.capacity(), 5);
    for n in 0..5 {
        let a = p.get_or_allocate(&v6(n), T0).unwrap();
        assert!(a != Ipv4Addr::new(192, 0, 2, 7) && a.octets()[3] >= 2);
    }
    assert_eq!(p.get_or_allocate(&v6(100), T0), Err(PoolFull));
}

#[test]
fn full_pool_reuses_least_recently_used_idle_mapping() {
    let mut p = pool([192, 0, 2, 0], 29); // 7 addresses
    let addrs: Vec<Ipv4Addr> = (0..7)
        .map(|n| p.get_or_allocate(&v6(n), T0 + u64::from(n)).unwrap())
        .collect();
    // Host 3 is the least recently used; touch host 0 so it is not.
    assert!(p.touch(v6(0), T0 + 100));
    assert!(p.touch(addrs[1], T0 + 100));
    assert!(p.touch(addrs[2], T0 + 100));
    let now = T0 + 100 + IDLE + 1;
    assert_eq!(
        p.allocate(&v6(50), now),
        Ok(Allocation::Reused {
            v4: addrs[3],
            evicted: v6(3)
        })
    );
    assert_eq!(p.lookup_v6(&v6(3)), None);
    assert_eq!(p.lookup_v4(&addrs[3]), Some(v6(50)));
    assert_eq!(p.len(), 7);
    // Next one goes to host 4, the next least recently used.
    assert_eq!(p.get_or_allocate(&v6(51), now), Ok(addrs[4]));
}

#[test]
fn active_mapping_is_never_reused() {
    let mut p = pool([192, 0, 2, 0], 30); // 3 addresses
    for n in 0..3 {
        p.get_or_allocate(&v6(n), T0).unwrap();
    }
    // Exactly at the idle boundary a mapping is still active (TAYGA: `last_use + lease < now`).
    assert_eq!(p.get_or_allocate(&v6(9), T0 + IDLE), Err(PoolFull));
    // The datapath reports host 0 as used recently: the others go idle, host 0 does not.
    let v4_0 = p.lookup_v6(&v6(0)).unwrap();
    assert!(p.set_last_use(v4_0, T0 + IDLE));
    let now = T0 + IDLE + 1;
    let reused = p.allocate(&v6(9), now).unwrap();
    assert!(matches!(reused, Allocation::Reused { evicted, .. } if evicted != v6(0)));
    p.allocate(&v6(10), now).unwrap();
    assert_eq!(p.get_or_allocate(&v6(11), now), Err(PoolFull));
    assert_eq!(p.lookup_v6(&v6(0)), Some(v4_0));
}

#[test]
fn last_use_never_moves_backwards() {
    let mut p = pool([192, 0, 2, 0], 24);
    let a = p.get_or_allocate(&v6(1), T0).unwrap();
    assert!(p.set_last_use(a, T0 - 50));
    assert_eq!(p.get(&a).unwrap().last_use, T0);
    assert!(!p.set_last_use(Ipv4Addr::new(192, 0, 2, 99), T0));
    assert!(!p.touch(v6(2), T0));
}

#[test]
fn expiry_after_forget_time_frees_the_address() {
    let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap();
    cfg.timers = PoolTimers {
        idle: std::time::Duration::from_secs(60),
        forget: std::time::Duration::from_secs(600),
    };
    let mut p = DynamicPool::new(cfg);
    let a = p.get_or_allocate(&v6(1), T0).unwrap();
    let b = p.get_or_allocate(&v6(2), T0 + 300).unwrap();
    let free_before = p.free_count();
    assert!(p.expire(T0 + 600).is_empty());
    let gone = p.expire(T0 + 601);
    assert_eq!(
        gone,
        vec![Mapping {
            v4: a,
            v6: v6(1),
            last_use: T0
        }]
    );
    assert_eq!(p.lookup_v6(&v6(1)), None);
    assert_eq!(p.lookup_v4(&a), None);
    assert_eq!(p.lookup_v4(&b), Some(v6(2)));
    assert_eq!(p.free_count(), free_before + 1);
    // A forgotten host that returns lands on its old address again: same hash, now free.
    assert_eq!(p.get_or_allocate(&v6(1), T0 + 700), Ok(a));
}

#[test]
fn idle_mappings_lists_only_idle_ones_oldest_first() {
    let mut p = pool([192, 0, 2, 0], 24);
    let a = p.get_or_allocate(&v6(1), T0).unwrap();
    let b = p.get_or_allocate(&v6(2), T0 + 10).unwrap();
    p.get_or_allocate(&v6(3), T0 + 5000).unwrap();
    let idle: Vec<Ipv4Addr> = p.idle_mappings(T0 + 10 + IDLE + 1).map(|m| m.v4).collect();
    assert_eq!(idle, vec![a, b]);
}

#[test]
fn restore_checks_like_taygas_load_map() {
    let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap();
    cfg.reserved_v4.push((Ipv4Addr::new(192, 0, 2, 1), 32));
    cfg.reserved_v6.push(("64:ff9b::".parse().unwrap(), 96));
    let mut p = DynamicPool::new(cfg);
    let m = |v4: [u8; 4], v6: &str| Mapping {
        v4: Ipv4Addr::from(v4),
        v6: v6.parse().unwrap(),
        last_use: T0,
    };
    assert_eq!(p.restore(m([192, 0, 2, 10], "2001:db8::a")), Ok(()));
    assert_eq!(
        p.restore(m([198, 51, 100, 1], "2001:db8::b")),
        Err(RestoreError::OutsidePool)
    );
    assert_eq!(
        p.restore(m([192, 0, 2, 0], "2001:db8::b")),
        Err(RestoreError::ReservedV4)
    );
    assert_eq!(
        p.restore(m([192, 0, 2, 1], "2001:db8::b")),
        Err(RestoreError::ReservedV4)
    );
    assert_eq!(
        p.restore(m([192, 0, 2, 10], "2001:db8::b")),
        Err(RestoreError::DuplicateV4)
    );
    assert_eq!(
        p.restore(m([192, 0, 2, 11], "2001:db8::a")),
        Err(RestoreError::DuplicateV6)
    );
    for bad in ["::1", "ff02::1", "fe80::1"] {
        assert_eq!(
            p.restore(m([192, 0, 2, 12], bad)),
            Err(RestoreError::InvalidV6),
            "{bad}"
        );
    }
    assert_eq!(
        p.restore(m([192, 0, 2, 12], "64:ff9b::c633:6401")),
        Err(RestoreError::ReservedV6)
    );
    assert_eq!(p.len(), 1);
    assert_eq!(p.free_count(), p.capacity() - 1);
    // The restored address is no longer handed out.
    for n in 1000..1253 {
        assert_ne!(
            p.get_or_allocate(&v6(n), T0).unwrap(),
            Ipv4Addr::new(192, 0, 2, 10)
        );
    }
    assert_eq!(p.get_or_allocate(&v6(999), T0), Err(PoolFull));
}

#[test]
fn fills_a_slash_15_with_100_000_hosts() {
    let mut p = pool([10, 0, 0, 0], 15);
    assert_eq!(p.capacity(), (1 << 17) - 1);
    for n in 0..100_000u32 {
        let host =
            Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | (u128::from(n) << 20));
        p.get_or_allocate(&host, T0 + u64::from(n % 1000)).unwrap();
    }
    assert_eq!(p.len(), 100_000);
    assert_eq!(p.free_count(), p.capacity() - 100_000);
    let gone = p.expire(T0 + 14 * 86_400 + 500);
    assert_eq!(gone.len(), 100 * 500);
    assert_eq!(p.len(), 50_000);
}
