//! `dynamic_map`: the `dynamic.map` reader (`pool::load`) over generated and mutated files,
//! under each pool a setup builds (and two small ones), then the writer and reader once more
//! on what it loaded, then one allocation.

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use nat64::pool::{self, DynamicPool, PoolConfig};
use rand::rngs::StdRng;

use crate::check::pool_rules;
use crate::gen::dynamic_map_text::{self, NOW};
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};
use crate::setups::Setup;

/// A host no file names (the generator writes hosts in 2001:db8:a::/48 and special ones).
const NEW_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0xabcd);

pub struct DynamicMapTarget {
    pools: Vec<(String, PoolConfig)>,
    dir: PathBuf,
}

impl DynamicMapTarget {
    pub fn new(setups: &[Setup]) -> anyhow::Result<DynamicMapTarget> {
        let mut pools: Vec<(String, PoolConfig)> = setups
            .iter()
            .filter_map(|s| Some((s.name.to_string(), s.pool.clone()?)))
            .collect();
        pools.push((
            "pool-31".into(),
            PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 31)?,
        ));
        let mut reserved_top = PoolConfig::new(Ipv4Addr::new(198, 51, 100, 0), 29)?;
        reserved_top.reserve_broadcast = true;
        reserved_top
            .reserved_v4
            .push((Ipv4Addr::new(198, 51, 100, 4), 30));
        pools.push(("pool-29-top-reserved".into(), reserved_top));
        // tmpfs where there is one: a million small files never touch a disk.
        let base = ["/dev/shm", "/run"]
            .iter()
            .map(PathBuf::from)
            .find(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("nat64-fuzz-{}", std::process::id()));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(DynamicMapTarget { pools, dir })
    }
}

impl Drop for DynamicMapTarget {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Target for DynamicMapTarget {
    fn name(&self) -> &'static str {
        "dynamic_map"
    }

    fn setups(&self) -> Vec<String> {
        self.pools.iter().map(|(name, _)| name.clone()).collect()
    }

    fn select(&mut self, _setup: usize) -> anyhow::Result<()> {
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        match self.pools.get(setup) {
            Some((_, config)) => dynamic_map_text::file(rng, config),
            None => Vec::new(),
        }
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        let Some((_, config)) = self.pools.get(setup) else {
            return Checked::default();
        };
        let path = self.dir.join("dynamic.map");
        let saved = self.dir.join("saved.map");
        if let Err(e) = fs::write(&path, input) {
            return Checked {
                findings: Vec::new(),
                outcome: format!("not run: {e}"),
                not_run: true,
                notes: Vec::new(),
            };
        }
        let result = guarded(|| {
            let mut problems = Vec::new();
            let (mut pool, warnings) = match pool::load(&path, config.clone(), NOW) {
                Ok(loaded) => loaded,
                Err(e) => return ("load failed".to_string(), vec![format!("load failed: {e}")]),
            };
            problems.extend(pool_rules::violations(&pool, NOW));
            problems.extend(pool_rules::unlocated_warnings(input, &warnings));
            problems.extend(round_trip(&pool, config, &saved));
            problems.extend(allocate_one(&mut pool));
            let outcome = match (pool.len(), warnings.is_empty()) {
                (0, _) => "no mapping loaded",
                (_, true) => "loaded, no warning",
                (_, false) => "loaded, with warnings",
            };
            (outcome.to_string(), problems)
        });
        match result {
            Ok((outcome, problems)) => Checked {
                findings: problems.into_iter().map(Finding::disagreement).collect(),
                outcome,
                not_run: false,
                notes: Vec::new(),
            },
            Err(panic) => Checked::crashed(panic),
        }
    }
}

/// Whatever was loaded, written out and read back, is the same pool, without a warning.
fn round_trip(pool: &DynamicPool, config: &PoolConfig, saved: &Path) -> Vec<String> {
    if let Err(e) = pool::save_at(pool, saved, NOW) {
        return vec![format!("saving what was loaded failed: {e}")];
    }
    let (again, warnings) = match pool::load(saved, config.clone(), NOW) {
        Ok(loaded) => loaded,
        Err(e) => return vec![format!("reading back what was saved failed: {e}")],
    };
    let mut found = Vec::new();
    let set = |p: &DynamicPool| -> BTreeSet<(Ipv4Addr, Ipv6Addr, u64)> {
        p.iter().map(|m| (m.v4, m.v6, m.last_use)).collect()
    };
    if set(pool) != set(&again) {
        found.push(format!(
            "saved and read back: {} mappings became {}",
            pool.len(),
            again.len()
        ));
    }
    if let Some(w) = warnings.first() {
        found.push(format!("reading back what was saved warns: {w}"));
    }
    found
}

/// A new host after the load gets a free, allocatable address (or none when the pool is
/// full) that obeys the rules a loaded mapping obeys, and the books still balance.
fn allocate_one(pool: &mut DynamicPool) -> Vec<String> {
    let held: BTreeSet<Ipv4Addr> = pool.iter().map(|m| m.v4).collect();
    let mut found = Vec::new();
    if let Ok(allocation) = pool.allocate(&NEW_HOST, NOW) {
        let v4 = allocation.v4();
        if held.contains(&v4) && !matches!(allocation, pool::Allocation::Reused { .. }) {
            found.push(format!("allocated {v4}, which a host already held"));
        }
        match pool.get(&v4) {
            Some(m) => found.extend(
                pool_rules::mapping_violations(pool, &m, NOW)
                    .into_iter()
                    .map(|v| format!("allocated: {v}")),
            ),
            None => found.push(format!("allocated {v4}, which the pool then does not hold")),
        }
    }
    found.extend(pool_rules::books_balanced(pool));
    found
}
