//! The Jool SIIT packet vectors (`shared/vectors/jool-siit`): loading the cases and turning
//! each case's settings into a translator configuration. Shared by every datapath's test.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use nat64::translate::{Eam, Prefix, TranslatorConfig, UdpChecksumMode};

/// Jool's own addresses in its test network, the sources of the errors it originates.
pub const TRANSLATOR_IPV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const TRANSLATOR_IPV6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1c0, 2, 1, 0, 0, 0);

/// Mappings of Jool's `setup-jool.sh`, in force for every case.
pub const BASE_EAMS: &[(&str, &str)] = &[
    ("1.0.0.0/24", "2001:db8:3::/120"),
    ("10.0.0.0/24", "2001:db8:2::/120"),
];

/// Which way a case goes, and what kind of answer it expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// IPv6 in, IPv4 out.
    SixToFour,
    /// IPv4 in, IPv6 out.
    FourToSix,
    /// IPv6 in, ICMPv6 error back.
    SixErrorBack,
    /// IPv4 in, ICMPv4 error back.
    FourErrorBack,
    /// IPv4 in (held), then IPv6 in, IPv4 out (Jool NAT64's simultaneous open).
    FourThenSix,
}

impl Direction {
    /// Whether the expected answer is an ICMP error to the sender.
    pub fn is_error_back(self) -> bool {
        matches!(self, Direction::SixErrorBack | Direction::FourErrorBack)
    }
}

/// One row of `cases.tsv`, with its packets loaded.
#[derive(Clone, Debug)]
pub struct Case {
    /// 1-based row number (header excluded).
    pub row: usize,
    pub direction: Direction,
    /// Path of the sent packet, relative to the vectors directory (the case's name).
    pub sent_file: String,
    pub sent: Vec<u8>,
    /// A second packet sent after the first (`a then b` in the sent column).
    pub then_sent: Option<Vec<u8>>,
    pub expected_files: Vec<String>,
    pub expected: Vec<Vec<u8>>,
    pub ignore_offsets: Vec<usize>,
    /// `key=value` pairs, in file order.
    pub settings: Vec<(String, String)>,
    /// The settings column as written.
    pub settings_text: String,
}

impl Case {
    /// A one-line label: row, sent and expected files.
    pub fn label(&self) -> String {
        format!(
            "#{} {} -> {}",
            self.row,
            self.sent_file,
            self.expected_files.join(",")
        )
    }

    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `actual` matches expected packet `i`, byte for byte outside the ignored offsets.
    /// `Err` describes the first differences.
    pub fn compare(&self, i: usize, actual: &[u8]) -> Result<(), String> {
        let expected = self
            .expected
            .get(i)
            .ok_or_else(|| format!("unexpected extra packet {i}"))?;
        let mut diffs = Vec::new();
        if expected.len() != actual.len() {
            diffs.push(format!(
                "length {} expected {}",
                actual.len(),
                expected.len()
            ));
        }
        for (off, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
            if a != e && !self.ignore_offsets.contains(&off) {
                diffs.push(format!("@{off}: {a:02x} expected {e:02x}"));
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            let shown: Vec<_> = diffs.iter().take(8).cloned().collect();
            let more = diffs.len().saturating_sub(shown.len());
            Err(format!(
                "packet {i}: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                }
            ))
        }
    }
}

impl Case {
    /// Whether `packets` are the expected ones, as many and each byte for byte.
    pub fn compare_all(&self, packets: &[&[u8]]) -> Result<(), String> {
        if packets.len() != self.expected.len() {
            return Err(format!(
                "{} packets, expected {}",
                packets.len(),
                self.expected.len()
            ));
        }
        let diffs: Vec<String> = packets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| self.compare(i, p).err())
            .collect();
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("; "))
        }
    }
}

/// A run over the vectors: what passed, what differs on purpose (with why), what failed.
#[derive(Debug, Default)]
pub struct Tally {
    pub passed: usize,
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
}

impl Tally {
    /// Records `case`'s result; `deliberate` is why we differ from the vector on purpose,
    /// when we do (a case that says so and then passes is a failure: the list is stale).
    pub fn record(&mut self, case: &Case, result: Result<(), String>, deliberate: Option<&str>) {
        match (result, deliberate) {
            (Ok(()), None) => self.passed += 1,
            (Err(_), Some(why)) => self.skipped.push(format!("{}: {why}", case.label())),
            (Ok(()), Some(_)) => self.failed.push(format!(
                "{}: listed in DELIBERATE_DIFFERENCES but passes; remove it from the list",
                case.label()
            )),
            (Err(diff), None) => self.failed.push(format!("{}: {diff}", case.label())),
        }
    }

    /// `<title>: P passed, S skipped, F failed`, then every skip and failure. Straight to the
    /// process's stderr, not through the test harness's capture, so they show in every run.
    pub fn report(&self, title: &str) {
        let mut report = format!(
            "{title}: {} passed, {} skipped, {} failed\n",
            self.passed,
            self.skipped.len(),
            self.failed.len()
        );
        for s in &self.skipped {
            report.push_str(&format!("  skipped {s}\n"));
        }
        for f in &self.failed {
            report.push_str(&format!("  FAILED {f}\n"));
        }
        let _ = std::io::Write::write_all(&mut std::io::stderr(), report.as_bytes());
    }
}

/// The vectors directory: `$NAT64_VECTORS_DIR`, else `../shared/vectors/jool-siit` from the
/// workspace root.
pub fn vectors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NAT64_VECTORS_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().unwrap_or(manifest);
    workspace.join("../shared/vectors/jool-siit")
}

/// Loads every case; panics with a clear message when the vectors are missing or malformed
/// (a test must not silently pass without them).
pub fn load_cases() -> Vec<Case> {
    load_cases_from(&vectors_dir())
}

/// The Jool NAT64 vectors: `$NAT64_NAT64_VECTORS_DIR`, else `../shared/vectors/jool-nat64`.
pub fn nat64_vectors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NAT64_NAT64_VECTORS_DIR") {
        return PathBuf::from(dir);
    }
    vectors_dir().with_file_name("jool-nat64")
}

/// The cases of a vectors directory in the shared `cases.tsv` layout, in order.
pub fn load_cases_from(dir: &Path) -> Vec<Case> {
    match try_load_cases(dir) {
        Ok(cases) => cases,
        Err(e) => panic!(
            "cannot load the Jool vectors from {} (set NAT64_VECTORS_DIR or \
             NAT64_NAT64_VECTORS_DIR to override): {e:#}",
            dir.display()
        ),
    }
}

pub fn try_load_cases(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let tsv_path = dir.join("cases.tsv");
    let tsv = std::fs::read_to_string(&tsv_path)
        .with_context(|| format!("reading {}", tsv_path.display()))?;
    let read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let mut cases = Vec::new();
    for (n, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        // The NAT64 vectors lead with the order they run in, which is the row order.
        let cols = match cols.as_slice() {
            [_order, rest @ ..] if rest.len() == 5 => rest,
            all => all,
        };
        let [direction, sent, expected, ignore, settings] = cols else {
            bail!("cases.tsv line {}: expected 5 tab-separated columns", n + 1);
        };
        let direction = match *direction {
            "64" => Direction::SixToFour,
            "46" => Direction::FourToSix,
            "66" => Direction::SixErrorBack,
            "44" => Direction::FourErrorBack,
            "46+64" => Direction::FourThenSix,
            other => bail!("cases.tsv line {}: unknown direction {other:?}", n + 1),
        };
        let (sent, then_sent) = match sent.split_once(" then ") {
            Some((first, second)) => (first, Some(read(second)?)),
            None => (*sent, None),
        };
        let expected_files: Vec<String> = expected
            .split([',', ' '])
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        let expected = expected_files
            .iter()
            .map(|f| read(f))
            .collect::<anyhow::Result<_>>()?;
        let ignore_offsets = ignore
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .with_context(|| format!("cases.tsv line {}: offset {s:?}", n + 1))
            })
            .collect::<anyhow::Result<_>>()?;
        let settings_text = (*settings).to_owned();
        let settings = settings
            .split(';')
            .filter(|s| !s.is_empty() && *s != "-")
            // A note without `=` (the NAT64 vectors' prose) is kept as a key of its own;
            // a translator's configuration refuses keys it does not know.
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.to_owned(), String::new()),
            })
            .collect();
        cases.push(Case {
            row: n,
            direction,
            settings_text,
            sent_file: sent.to_owned(),
            sent: read(sent)?,
            then_sent,
            expected_files,
            expected,
            ignore_offsets,
            settings,
        });
    }
    if cases.is_empty() {
        bail!("{} lists no cases", tsv_path.display());
    }
    Ok(cases)
}

fn parse_v4_net(s: &str) -> anyhow::Result<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    Ok((a.parse()?, l.parse()?))
}

fn parse_v6_net(s: &str) -> anyhow::Result<(Ipv6Addr, u8)> {
    let (a, l) = s.split_once('/').unwrap_or((s, "128"));
    Ok((a.parse()?, l.parse()?))
}

fn eam(v4: &str, v6: &str) -> anyhow::Result<Eam> {
    let (a4, l4) = parse_v4_net(v4)?;
    let (a6, l6) = parse_v6_net(v6)?;
    Eam::new(a4, l4, a6, l6)
}

/// The translator configuration that reproduces the case's Jool settings; panics (failing the
/// test) on a setting it does not know.
pub fn config_for(case: &Case) -> TranslatorConfig {
    match try_config_for(case) {
        Ok(cfg) => cfg,
        Err(e) => panic!("{}: {e:#}", case.label()),
    }
}

/// [`config_for`], reporting unknown or malformed settings as an error.
pub fn try_config_for(case: &Case) -> anyhow::Result<TranslatorConfig> {
    let mut cfg = TranslatorConfig {
        ipv4_addr: TRANSLATOR_IPV4,
        ipv6_addr: TRANSLATOR_IPV6,
        ..TranslatorConfig::default()
    };
    for (v4, v6) in BASE_EAMS {
        cfg.eam.push(eam(v4, v6)?);
    }
    for (key, value) in &case.settings {
        match key.as_str() {
            "pool6" if value == "null" => cfg.prefix = None,
            "pool6" => {
                let (a, l) = parse_v6_net(value)?;
                cfg.prefix =
                    Some(Prefix::new(a.octets(), l).map_err(|e| anyhow!("pool6 {value}: {e}"))?);
            }
            "eam+" => {
                for pair in value.split(',') {
                    let (v4, v6) = pair
                        .split_once('=')
                        .ok_or_else(|| anyhow!("eam+ entry {pair:?}"))?;
                    cfg.eam.push(eam(v4, v6)?);
                }
            }
            // Jool falls back to its own address when no RFC 6791 pool is configured.
            "rfc6791v4-prefix" if value == "null" => cfg.rfc6791_v4 = Some(TRANSLATOR_IPV4),
            "rfc6791v4-prefix" => cfg.rfc6791_v4 = Some(parse_v4_net(value)?.0),
            "rfc6791v6-prefix" if value == "null" => cfg.rfc6791_v6 = Some(TRANSLATOR_IPV6),
            "rfc6791v6-prefix" => cfg.rfc6791_v6 = Some(parse_v6_net(value)?.0),
            "amend-udp-checksum-zero" => {
                cfg.udp_checksum_mode = if value == "1" {
                    UdpChecksumMode::Calculate
                } else {
                    UdpChecksumMode::Drop
                }
            }
            "lowest-ipv6-mtu" => cfg.lowest_ipv6_mtu = value.parse()?,
            "mtu.to_client_v4" => cfg.ipv4_mtu = value.parse()?,
            "mtu.to_client_v6" => cfg.ipv6_mtu = value.parse()?,
            other => bail!("{}: unknown setting {other:?}", case.label()),
        }
    }
    Ok(cfg)
}
