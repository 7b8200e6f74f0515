//! The dynamic pool's life on disk: built from the configuration, filled from
//! `data-dir/dynamic.map` at start, written back (by [`super::Mappings`]) on SIGHUP, on stop
//! and as TAYGA does periodically, so TAYGA and nat64 can take over from each other.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tracing::{info, warn};

use crate::{
    config::{Config, StaticMap},
    pool::{self, DynamicPool, PoolConfig, PoolTimers},
};

pub const DYNAMIC_MAP_FILE: &str = "dynamic.map";

/// Where the pool is kept, when the configuration keeps it at all.
pub fn dynamic_map_path(config: &Config) -> Option<PathBuf> {
    config
        .data_dir
        .as_ref()
        .map(|dir| dir.join(DYNAMIC_MAP_FILE))
}

/// What inside the pool belongs to something more specific and is never handed out: the
/// translator's own address and every map (main configuration and `map_file_maps`) whose
/// IPv4 side is longer than the pool's prefix. A map around the pool leaves it alone: the
/// longest match, the pool, wins there.
pub fn reserved_v4(config: &Config, map_file_maps: &[StaticMap]) -> Vec<(Ipv4Addr, u8)> {
    let pool_len = config.dynamic_pool.map_or(32, |p| p.prefix_len());
    std::iter::once((config.ipv4_addr, 32))
        .chain(
            config
                .maps
                .iter()
                .chain(map_file_maps)
                .filter(|m| m.ipv4.prefix_len() > pool_len)
                .map(|m| (m.ipv4.network(), m.ipv4.prefix_len())),
        )
        .collect()
}

/// The pool's settings: its network, and what inside it is never handed out.
pub fn pool_config(config: &Config, map_file_maps: &[StaticMap]) -> Result<Option<PoolConfig>> {
    let Some(net) = config.dynamic_pool else {
        return Ok(None);
    };
    let mut pool = PoolConfig::new(net.network(), net.prefix_len()).map_err(|err| {
        anyhow::anyhow!("dynamic-pool {}/{}: {err}", net.network(), net.prefix_len())
    })?;
    pool.reserved_v4 = reserved_v4(config, map_file_maps);
    for map in config.maps.iter().chain(map_file_maps) {
        pool.reserved_v6
            .push((map.ipv6.network(), map.ipv6.prefix_len()));
    }
    if let Some(prefix) = config.prefix {
        pool.reserved_v6
            .push((prefix.network(), prefix.prefix_len()));
    }
    pool.timers = PoolTimers {
        idle: config.mapping_idle,
        forget: config.mapping_forget,
    };
    Ok(Some(pool))
}

/// The pool as `dynamic.map` left it (an empty one when there is no file yet).
pub fn load_pool(
    config: &Config,
    map_file_maps: &[StaticMap],
    now: u64,
) -> Result<Option<DynamicPool>> {
    let Some(pool_config) = pool_config(config, map_file_maps)? else {
        return Ok(None);
    };
    let Some(path) = dynamic_map_path(config) else {
        return Ok(Some(DynamicPool::new(pool_config)));
    };
    let (pool, warnings) = pool::load(&path, pool_config, now)
        .with_context(|| format!("reading {}", path.display()))?;
    for warning in &warnings {
        warn!("{}: {warning}", path.display());
    }
    info!("{} mappings restored from {}", pool.len(), path.display());
    Ok(Some(pool))
}

/// Writes `pool` to `path` (atomically: temporary file, then rename).
pub fn save_pool(path: &Path, pool: &DynamicPool) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data-dir {}", dir.display()))?;
    }
    pool::save(pool, path).with_context(|| format!("writing {}", path.display()))
}
