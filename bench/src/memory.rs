//! What a gateway process holds in memory: the locked memory the kernel charges for the BPF
//! maps it has open (`memlock` in `/proc/<pid>/fdinfo/<fd>`, as `bpftool map show` prints
//! it), and its resident set.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aya::maps::MapInfo;

/// One BPF map the process has open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenMap {
    pub name: String,
    pub memlock_bytes: u64,
    pub max_entries: u32,
}

/// The maps `pid` has open whose names are in `names`, each once (by map id).
pub fn open_maps(pid: u32, names: &[&str]) -> Result<Vec<OpenMap>> {
    let mut by_id = BTreeMap::new();
    let dir = format!("/proc/{pid}/fdinfo");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        // A descriptor closed since the listing is not an error.
        let Ok(text) = std::fs::read_to_string(entry?.path()) else {
            continue;
        };
        let (Some(id), Some(memlock)) = (field(&text, "map_id"), field(&text, "memlock")) else {
            continue;
        };
        let info = MapInfo::from_id(id as u32)?;
        let Some(name) = info.name_as_str().filter(|n| names.contains(n)) else {
            continue;
        };
        by_id.insert(
            id,
            OpenMap {
                name: name.to_owned(),
                memlock_bytes: memlock,
                max_entries: info.max_entries(),
            },
        );
    }
    Ok(by_id.into_values().collect())
}

/// The resident set of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no VmRSS in /proc/<pid>/status")?
        .parse::<u64>()?;
    Ok(kib * 1024)
}

/// A `name:\tvalue` line of an fdinfo file.
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_fields() {
        let text = "pos:\t0\nflags:\t02000002\nmap_type:\t1\nmax_entries:\t262144\nmemlock:\t23085056\nmap_id:\t41\n";
        assert_eq!(field(text, "memlock"), Some(23_085_056));
        assert_eq!(field(text, "map_id"), Some(41));
        assert_eq!(field(text, "map"), None);
    }
}
