//! `dynamic.map`, in TAYGA 0.9.2's format (`dynamic.c`: `load_dynamic`, `write_to_file`),
//! so TAYGA and nat64 can each start from the other's data-dir.
//!
//! ```text
//! ###
//! ###
//! ### TAYGA dynamic map database
//! ###
//! ### You can edit this (carefully!) as long as you shut down TAYGA first
//! ###
//! ###
//! ### Last written: Tue Nov 14 22:13:20 2023
//! ###
//! ###
//!
//! 192.0.2.231<TAB>2001:db8::1<TAB>1700000000
//! ```
//!
//! One mapping a line: IPv4, IPv6, last use in seconds since the Unix epoch, separated by
//! spaces or tabs (TAYGA writes one tab). A line whose first word starts with `#` is a comment.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::gmtime::asctime_utc;
use super::{DynamicPool, Mapping, PoolConfig, RestoreError};

/// Something in dynamic.map that was skipped or adjusted; never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line number, if the warning is about one line.
    pub line: Option<usize>,
    pub kind: WarningKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Not `IPv4 IPv6 seconds` with a positive number of seconds.
    Malformed,
    /// A well-formed mapping the current configuration cannot take.
    Rejected(RestoreError),
    /// The same IPv6 host appeared twice; the more recently used mapping was kept.
    OlderDuplicateDropped,
    /// Some last-use time lies in the future (clock stepped back): as TAYGA does, every
    /// mapping is dated `now - idle` instead.
    DatedInFuture,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        match self.kind {
            WarningKind::Malformed => write!(f, "ignoring malformed line: {}", self.detail),
            WarningKind::Rejected(why) => write!(f, "ignoring map {}: {why}", self.detail),
            WarningKind::OlderDuplicateDropped => {
                write!(f, "ignoring older duplicate map {}", self.detail)
            }
            WarningKind::DatedInFuture => write!(
                f,
                "maps are dated in the future ({}); treating them as just gone idle",
                self.detail
            ),
        }
    }
}

/// Read `path` into a new pool for `config`. A missing file is an empty pool. Lines that
/// do not parse, or that the configuration rejects, are skipped with a warning.
///
/// Like TAYGA, mappings already past the forget timer are kept until the next
/// [`DynamicPool::expire`].
pub fn load(path: &Path, config: PoolConfig, now: u64) -> io::Result<(DynamicPool, Vec<Warning>)> {
    let mut pool = DynamicPool::new(config);
    let mut warnings = Vec::new();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((pool, warnings)),
        Err(e) => return Err(e),
    };
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some(m)) => {
                if let Some(w) = restore_line(&mut pool, m) {
                    warnings.push(Warning {
                        line: Some(line),
                        ..w
                    });
                }
            }
            Err(detail) => warnings.push(Warning {
                line: Some(line),
                kind: WarningKind::Malformed,
                detail,
            }),
        }
    }
    if let Some(newest) = pool.iter().map(|m| m.last_use).max() {
        if newest > now {
            let dated = now.saturating_sub(pool.timers().idle.as_secs());
            pool.redate_all(dated);
            warnings.push(Warning {
                line: None,
                kind: WarningKind::DatedInFuture,
                detail: format!("newest {newest}, now {now}"),
            });
        }
    }
    // Loading is not a change: nothing needs writing back yet.
    pool.take_dirty();
    Ok((pool, warnings))
}

/// `Ok(None)` for blank and comment lines; `Err` explains what is wrong.
fn parse_line(raw: &[u8]) -> Result<Option<Mapping>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_string())?;
    // TAYGA's DELIM: space, tab, CR, LF.
    let mut words = text
        .split([' ', '\t', '\r', '\n'])
        .filter(|word| !word.is_empty());
    let Some(first) = words.next() else {
        return Ok(None);
    };
    if first.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&str> = std::iter::once(first).chain(words).collect();
    let [v4, v6, last_use] = fields[..] else {
        return Err(format!(
            "expected IPv4 address, IPv6 address and last-use seconds, found {} field(s): {:?}",
            fields.len(),
            text.trim_end()
        ));
    };
    let v4: Ipv4Addr = v4
        .parse()
        .map_err(|_| format!("{v4:?} is not an IPv4 address"))?;
    let v6: Ipv6Addr = v6
        .parse()
        .map_err(|_| format!("{v6:?} is not an IPv6 address"))?;
    let last_use = last_use
        .parse::<i64>()
        .ok()
        .filter(|&t| t > 0)
        .ok_or_else(|| format!("{last_use:?} is not a positive number of seconds"))?;
    Ok(Some(Mapping {
        v4,
        v6,
        last_use: last_use as u64,
    }))
}

/// Restore one mapping; on a duplicate IPv6 host keep whichever was used more recently
/// (TAYGA loads both, but only ever reactivates the more recent one).
fn restore_line(pool: &mut DynamicPool, m: Mapping) -> Option<Warning> {
    let rejected = |why| Warning {
        line: None,
        kind: WarningKind::Rejected(why),
        detail: format!("{} {}", m.v4, m.v6),
    };
    match pool.restore(m) {
        Ok(()) => None,
        Err(RestoreError::DuplicateV6) => {
            let held = pool.lookup_v6(&m.v6).and_then(|v4| pool.get(&v4))?;
            if held.last_use >= m.last_use {
                return Some(Warning {
                    line: None,
                    kind: WarningKind::OlderDuplicateDropped,
                    detail: format!("{} {} (keeping {})", m.v4, m.v6, held.v4),
                });
            }
            pool.remove(&held.v4);
            if let Err(why) = pool.restore(m) {
                // The address check passed once already; put the old one back rather than
                // lose both.
                let _ = pool.restore(held);
                return Some(rejected(why));
            }
            Some(Warning {
                line: None,
                kind: WarningKind::OlderDuplicateDropped,
                detail: format!("{} {} (replaced by {})", held.v4, held.v6, m.v4),
            })
        }
        Err(why) => Some(rejected(why)),
    }
}

/// Write the pool to `path` the way TAYGA does, stamping the header with the current time.
pub fn save(pool: &DynamicPool, path: &Path) -> io::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    save_at(pool, path, now)
}

/// Write the pool to `path`, with `now` in the "Last written" header line. The file is
/// written beside `path` as `<name>~~` (TAYGA's temporary name), synced, then renamed over
/// `path`, so a crash leaves either the old file or the new one, never half of one.
pub fn save_at(pool: &DynamicPool, path: &Path, now: u64) -> io::Result<()> {
    let tmp = temporary_path(path);
    let written = write_file(pool, &tmp, now).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable; a failure here loses nothing already on disk.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push("~~");
    PathBuf::from(name)
}

fn write_file(pool: &DynamicPool, tmp: &Path, now: u64) -> io::Result<()> {
    let file = File::create(tmp)?;
    let mut out = BufWriter::new(file);
    write!(
        out,
        "###\n###\n### TAYGA dynamic map database\n###\n\
         ### You can edit this (carefully!) as long as you shut down TAYGA first\n\
         ###\n###\n### Last written: {}###\n###\n\n",
        asctime_utc(now)
    )?;
    // Most recently used first, as TAYGA's dormant list is kept.
    let mut mappings: Vec<Mapping> = pool.iter().collect();
    mappings.sort_unstable_by(|a, b| b.last_use.cmp(&a.last_use).then(a.v4.cmp(&b.v4)));
    for m in mappings {
        writeln!(out, "{}\t{}\t{}", m.v4, m.v6, m.last_use)?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tayga_lines() {
        let m = parse_line(b"192.0.2.231\t2001:db8::1\t1700000000")
            .unwrap()
            .unwrap();
        assert_eq!(m.v4, Ipv4Addr::new(192, 0, 2, 231));
        assert_eq!(m.v6, "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(m.last_use, 1_700_000_000);
        // Spaces and CRLF are accepted too (TAYGA's DELIM).
        assert!(parse_line(b"  192.0.2.1   2001:db8::2 5\r")
            .unwrap()
            .is_some());
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        assert_eq!(parse_line(b""), Ok(None));
        assert_eq!(parse_line(b" \t\r"), Ok(None));
        assert_eq!(parse_line(b"### Last written: x"), Ok(None));
        assert_eq!(parse_line(b"  #192.0.2.1 2001:db8::1 5"), Ok(None));
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            &b"192.0.2.1"[..],
            b"192.0.2.1 2001:db8::1",
            b"192.0.2.1 2001:db8::1 5 extra",
            b"192.0.2.1 2001:db8::1 0",
            b"192.0.2.1 2001:db8::1 -5",
            b"192.0.2.1 2001:db8::1 12abc",
            b"192.0.2.256 2001:db8::1 5",
            b"192.0.2.1 2001:db8::g 5",
            b"2001:db8::1 192.0.2.1 5",
            b"192.0.2.1 2001:db8::1 \xff",
        ] {
            assert!(
                parse_line(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn temporary_name_is_taygas() {
        assert_eq!(
            temporary_path(Path::new("/var/spool/tayga/dynamic.map")),
            PathBuf::from("/var/spool/tayga/dynamic.map~~")
        );
    }
}
