//! Kernel settings the gateway needs (forwarding, loose reverse-path filtering), with the
//! previous value kept so a clean stop puts it back.

use std::{fs, path::PathBuf};

use anyhow::{Context, Result};

/// A sysctl value as it was before we changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysctlChange {
    pub path: PathBuf,
    pub previous: String,
}

/// `key` is given as path segments, since interface names may contain dots (`eth0.100`).
fn path_of(key: &[&str]) -> PathBuf {
    key.iter()
        .fold(PathBuf::from("/proc/sys"), |path, segment| {
            path.join(segment)
        })
}

pub fn read(key: &[&str]) -> Result<String> {
    let path = path_of(key);
    Ok(fs::read_to_string(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_owned())
}

/// Sets `key` to `value`; returns what to restore, or None when it already had that value.
pub fn set(key: &[&str], value: &str) -> Result<Option<SysctlChange>> {
    let previous = read(key)?;
    if previous == value {
        return Ok(None);
    }
    let path = path_of(key);
    fs::write(&path, value).with_context(|| format!("writing {value} to {}", path.display()))?;
    Ok(Some(SysctlChange { path, previous }))
}

pub fn restore(change: &SysctlChange) -> Result<()> {
    fs::write(&change.path, &change.previous)
        .with_context(|| format!("restoring {} to {}", change.path.display(), change.previous))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_map_to_proc_sys_paths() {
        assert_eq!(
            super::path_of(&["net", "ipv4", "conf", "eth0.100", "rp_filter"]),
            std::path::PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
    }
}
