//! dynamic.map persistence: TAYGA's files load, ours load back, bad lines are skipped.

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nat64::pool::{self, DynamicPool, Mapping, PoolConfig, WarningKind};

const NOW: u64 = 1_700_000_100;

/// A fresh directory under the system temp dir, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nat64-pool-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn map_file(&self) -> PathBuf {
        self.0.join("dynamic.map")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn config() -> PoolConfig {
    let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap();
    cfg.reserved_v4.push((Ipv4Addr::new(192, 0, 2, 1), 32));
    cfg.reserved_v6.push(("64:ff9b::".parse().unwrap(), 96));
    cfg
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn sorted(pool: &DynamicPool) -> Vec<Mapping> {
    let mut all: Vec<Mapping> = pool.iter().collect();
    all.sort_by_key(|m| m.v4);
    all
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tayga-0.9.2-dynamic.map")
}

#[test]
fn missing_file_is_an_empty_pool() {
    let dir = ScratchDir::new();
    let (pool, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert!(pool.is_empty());
    assert!(warnings.is_empty());
}

#[test]
fn loads_a_file_as_tayga_writes_it() {
    let (pool, warnings) = pool::load(&fixture(), config(), NOW).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(pool.len(), 3);
    assert_eq!(
        pool.lookup_v6(&v6("2001:db8::1")),
        Some(Ipv4Addr::new(192, 0, 2, 231))
    );
    assert_eq!(
        pool.get(&Ipv4Addr::new(192, 0, 2, 17)),
        Some(Mapping {
            v4: Ipv4Addr::new(192, 0, 2, 17),
            v6: v6("2001:db8:1::42"),
            last_use: 1_699_990_000,
        })
    );
    // TAYGA hands out the top address of a pool; its mapping survives the takeover.
    assert_eq!(
        pool.lookup_v4(&Ipv4Addr::new(192, 0, 2, 255)),
        Some(v6("2001:db8:2::7"))
    );
    // Returning hosts get their addresses back.
    let mut pool = pool;
    assert_eq!(
        pool.get_or_allocate(&v6("2001:db8:1::42"), NOW),
        Ok(Ipv4Addr::new(192, 0, 2, 17))
    );
}

#[test]
fn round_trip_keeps_every_mapping() {
    let dir = ScratchDir::new();
    let mut pool = DynamicPool::new(config());
    for n in 1..=200u32 {
        let host = Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | u128::from(n));
        pool.get_or_allocate(&host, NOW - u64::from(n)).unwrap();
    }
    pool::save_at(&pool, &dir.map_file(), NOW).unwrap();
    assert!(!dir.0.join("dynamic.map~~").exists());

    let (loaded, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(sorted(&loaded), sorted(&pool));

    let text = fs::read_to_string(dir.map_file()).unwrap();
    assert!(text.starts_with(
        "###\n###\n### TAYGA dynamic map database\n###\n\
         ### You can edit this (carefully!) as long as you shut down TAYGA first\n\
         ###\n###\n### Last written: Tue Nov 14 22:15:00 2023\n###\n###\n\n"
    ));
    let first = text.lines().find(|l| !l.is_empty() && !l.starts_with('#'));
    let newest = pool.lookup_v6(&v6("2001:db8::1")).unwrap();
    assert_eq!(
        first,
        Some(format!("{newest}\t2001:db8::1\t{}", NOW - 1).as_str())
    );
}

#[test]
fn save_replaces_the_old_file() {
    let dir = ScratchDir::new();
    fs::write(dir.map_file(), "192.0.2.9\t2001:db8::9\t5\n").unwrap();
    let pool = DynamicPool::new(config());
    pool::save_at(&pool, &dir.map_file(), NOW).unwrap();
    let (loaded, _) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert!(loaded.is_empty());
}

#[test]
fn save_into_a_missing_directory_fails_cleanly() {
    let dir = ScratchDir::new();
    let path = dir.0.join("no-such-dir/dynamic.map");
    assert!(pool::save_at(&DynamicPool::new(config()), &path, NOW).is_err());
}

#[test]
fn malformed_and_rejected_lines_are_skipped_with_line_numbers() {
    let dir = ScratchDir::new();
    let text = "\
# comment
192.0.2.10\t2001:db8::a\t1700000000
this is not a mapping
192.0.2.11\t2001:db8::b
192.0.2.12\t2001:db8::c\t-3
198.51.100.1\t2001:db8::d\t1700000000
192.0.2.1\t2001:db8::e\t1700000000
192.0.2.10\t2001:db8::f\t1700000000
192.0.2.13\tfe80::1\t1700000000
192.0.2.14\t64:ff9b::c633:6401\t1700000000

192.0.2.15   2001:db8::10   1700000000
";
    fs::write(dir.map_file(), text).unwrap();
    let (pool, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert_eq!(pool.len(), 2);
    let got: Vec<(Option<usize>, WarningKind)> =
        warnings.iter().map(|w| (w.line, w.kind)).collect();
    use nat64::pool::RestoreError::*;
    assert_eq!(
        got,
        vec![
            (Some(3), WarningKind::Malformed),
            (Some(4), WarningKind::Malformed),
            (Some(5), WarningKind::Malformed),
            (Some(6), WarningKind::Rejected(OutsidePool)),
            (Some(7), WarningKind::Rejected(ReservedV4)),
            (Some(8), WarningKind::Rejected(DuplicateV4)),
            (Some(9), WarningKind::Rejected(InvalidV6)),
            (Some(10), WarningKind::Rejected(ReservedV6)),
        ]
    );
    assert!(warnings[0]
        .to_string()
        .starts_with("line 3: ignoring malformed line"));
}

#[test]
fn garbage_never_panics() {
    let dir = ScratchDir::new();
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    junk.extend_from_slice(b"\n\xff\xfe\t\t\n192.0.2.5\t\t\t\n");
    fs::write(dir.map_file(), junk).unwrap();
    let (pool, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert!(pool.is_empty());
    assert!(!warnings.is_empty());
}

#[test]
fn duplicate_host_keeps_the_more_recent_mapping() {
    let dir = ScratchDir::new();
    fs::write(
        dir.map_file(),
        "192.0.2.20\t2001:db8::1\t1699000000\n192.0.2.21\t2001:db8::1\t1700000000\n",
    )
    .unwrap();
    let (pool, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert_eq!(pool.len(), 1);
    assert_eq!(
        pool.lookup_v6(&v6("2001:db8::1")),
        Some(Ipv4Addr::new(192, 0, 2, 21))
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].kind, WarningKind::OlderDuplicateDropped);
    assert_eq!(pool.free_count(), pool.capacity() - 1);
}

#[test]
fn file_dated_in_the_future_is_redated_as_just_idle() {
    let dir = ScratchDir::new();
    fs::write(
        dir.map_file(),
        "192.0.2.20\t2001:db8::1\t1800000000\n192.0.2.21\t2001:db8::2\t1600000000\n",
    )
    .unwrap();
    let (pool, warnings) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert_eq!(warnings.last().unwrap().kind, WarningKind::DatedInFuture);
    let dated = NOW - pool.timers().idle.as_secs();
    assert!(pool.iter().all(|m| m.last_use == dated));
}

#[test]
fn stale_entries_load_and_then_expire() {
    let dir = ScratchDir::new();
    let stale = NOW - 14 * 86_400 - 1;
    fs::write(
        dir.map_file(),
        format!("192.0.2.20\t2001:db8::1\t{stale}\n192.0.2.21\t2001:db8::2\t{NOW}\n"),
    )
    .unwrap();
    let (mut pool, _) = pool::load(&dir.map_file(), config(), NOW).unwrap();
    assert_eq!(pool.len(), 2);
    let gone = pool.expire(NOW);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].v6, v6("2001:db8::1"));
}

#[test]
fn reserved_top_address_is_skipped_at_load() {
    let mut cfg = config();
    cfg.reserve_broadcast = true;
    let (pool, warnings) = pool::load(&fixture(), cfg, NOW).unwrap();
    assert_eq!(pool.len(), 2);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].line, Some(14));
}

/// Produced by TAYGA 0.9.2 itself (Debian 0.9.2-8, amd64) in a throwaway network namespace:
/// `dynamic-pool 192.0.2.0/25`, `ipv4-addr 192.0.2.1`, one ping from each host, then SIGTERM.
fn real_tayga_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tayga-0.9.2-real-dynamic.map")
}

fn real_tayga_config() -> PoolConfig {
    let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 25).unwrap();
    cfg.reserved_v4.push((Ipv4Addr::new(192, 0, 2, 1), 32));
    cfg
}

/// Just after TAYGA wrote the fixture.
const REAL_NOW: u64 = 1_795_431_100;

const REAL_TAYGA_CHOICES: [(&str, [u8; 4]); 4] = [
    ("2001:db8::1", [192, 0, 2, 42]),
    ("2001:db8::2", [192, 0, 2, 50]),
    ("2001:db8:1::42", [192, 0, 2, 56]),
    ("2001:db8:abcd::1234", [192, 0, 2, 87]),
];

#[cfg(target_endian = "little")]
#[test]
fn assigns_the_addresses_real_tayga_assigned() {
    let mut pool = DynamicPool::new(real_tayga_config());
    for (host, v4) in REAL_TAYGA_CHOICES {
        assert_eq!(
            pool.get_or_allocate(&v6(host), NOW),
            Ok(Ipv4Addr::from(v4)),
            "{host}"
        );
    }
}

#[test]
fn loads_a_file_real_tayga_wrote() {
    let (pool, warnings) =
        pool::load(&real_tayga_fixture(), real_tayga_config(), REAL_NOW).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(pool.len(), 4);
    for (host, v4) in REAL_TAYGA_CHOICES {
        assert_eq!(
            pool.lookup_v6(&v6(host)),
            Some(Ipv4Addr::from(v4)),
            "{host}"
        );
    }
    assert_eq!(
        pool.get(&Ipv4Addr::new(192, 0, 2, 42)).unwrap().last_use,
        1_795_431_082
    );
}

#[test]
fn writes_mapping_lines_exactly_as_real_tayga() {
    let dir = ScratchDir::new();
    let (pool, _) = pool::load(&real_tayga_fixture(), real_tayga_config(), REAL_NOW).unwrap();
    // TAYGA stamped the header with its own clock; use the same second.
    let written_at = 1_795_431_087; // Mon Nov 23 10:51:27 2026
    pool::save_at(&pool, &dir.map_file(), written_at).unwrap();
    assert_eq!(
        fs::read_to_string(dir.map_file()).unwrap(),
        fs::read_to_string(real_tayga_fixture()).unwrap()
    );
}
