//! The `map-file`: more `map` lines, which TAYGA rereads on SIGHUP.
//!
//! Same syntax as `tayga.conf` (`#` comments, whitespace), one `map v4[/n] v6[/m]` per line.
//! A line of just `v4 v6` is taken as a `map` line too.
//!
//! The file is applied as TAYGA applies it (`addrmap_reload`): line by line, as a whole, so
//! what is in it is mapped and what is not falls back to the prefix.
//! - A line that cannot be read, or that breaks a rule a `map` line must obey, is skipped
//!   and named; the rest of the file still applies.
//! - A line that conflicts with the main configuration (its maps, the prefix, the
//!   translator's own addresses, the dynamic pool's prefix) is skipped and named: the main
//!   configuration cannot be changed from here.
//! - A line that conflicts with an earlier line of the file replaces it: the later line wins.
//!
//! Two maps conflict as in TAYGA's tables: the same IPv4 subnet (a longer IPv4 subnet inside
//! a shorter one is fine, the longest match wins), or IPv6 subnets that overlap at all.

use std::net::Ipv4Addr;
use std::path::Path;

use super::error::{Diagnostic, Diagnostics};
use super::net::{Ipv4Net, Ipv6Net};
use super::raw::Val;
use super::tayga_conf::{parse_map_args, tokens};
use super::validate::check_map;
use super::{Config, ConfigError, Format, StaticMap};

const FMT: Format = Format::TaygaConf;

/// A map-file as applied: the maps in force, in file order, and a note for every line that
/// was skipped or replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapFile {
    pub maps: Vec<StaticMap>,
    pub notes: Vec<Diagnostic>,
}

/// The map-file `text` applied against `config`'s own maps and addresses. `file` names it in
/// the notes.
pub fn apply(config: &Config, text: &str, file: &Path) -> MapFile {
    let mut d = Diagnostics::new(file);
    let fixed = Fixed::of(config);
    let mut accepted: Vec<(usize, StaticMap)> = Vec::new();
    for (ln, m) in read(text, &mut d) {
        if let Some(owner) = fixed.conflict(&m) {
            d.error(
                ln,
                format!(
                    "map {} {}: conflicts with {owner}, which the map-file cannot change; line skipped",
                    m.ipv4, m.ipv6
                ),
                Some("give the map addresses of its own".into()),
            );
            continue;
        }
        accepted.retain(|(earlier_ln, earlier)| {
            let replaced = conflicts(earlier, &m);
            if replaced {
                d.warn(
                    ln,
                    format!(
                        "map {} {} replaces map {} {} (line {earlier_ln})",
                        m.ipv4, m.ipv6, earlier.ipv4, earlier.ipv6
                    ),
                    None,
                );
            }
            !replaced
        });
        accepted.push((ln, m));
    }
    MapFile {
        maps: accepted.into_iter().map(|(_, m)| m).collect(),
        notes: d.into_all(),
    }
}

/// Whether two maps cannot both be in TAYGA's tables.
pub(crate) fn conflicts(a: &StaticMap, b: &StaticMap) -> bool {
    a.ipv4 == b.ipv4 || a.ipv6.overlaps(&b.ipv6)
}

/// What the main configuration holds that a map-file line may not touch.
struct Fixed {
    maps: Vec<StaticMap>,
    prefix: Option<Ipv6Net>,
    own_v4: Ipv4Net,
    /// `ipv6-addr` when it is a table entry of its own (written, outside the prefix).
    own_v6: Option<Ipv6Net>,
    pool: Option<Ipv4Net>,
}

impl Fixed {
    fn of(config: &Config) -> Fixed {
        let own_v6 = Ipv6Net::new(config.ipv6_addr, 128).filter(|own| {
            config.ipv6_addr_configured && !config.prefix.is_some_and(|p| p.overlaps(own))
        });
        Fixed {
            maps: config.maps.clone(),
            prefix: config.prefix,
            own_v4: Ipv4Net::new(config.ipv4_addr, 32).expect("/32 is a valid length"),
            own_v6,
            pool: config.dynamic_pool,
        }
    }

    /// What in the main configuration `m` conflicts with, if anything.
    fn conflict(&self, m: &StaticMap) -> Option<String> {
        if let Some(c) = self.maps.iter().find(|c| conflicts(c, m)) {
            return Some(format!(
                "map {} {} of the main configuration",
                c.ipv4, c.ipv6
            ));
        }
        if let Some(p) = self.prefix.filter(|p| p.overlaps(&m.ipv6)) {
            return Some(format!("the NAT64 prefix {p}"));
        }
        if m.ipv4 == self.own_v4 {
            return Some(format!("the translator's ipv4-addr {}", self.own_v4.addr()));
        }
        if let Some(own) = self.own_v6.filter(|own| own.overlaps(&m.ipv6)) {
            return Some(format!("the translator's ipv6-addr {}", own.addr()));
        }
        if let Some(pool) = self.pool.filter(|pool| *pool == m.ipv4) {
            return Some(format!("the dynamic-pool {pool}"));
        }
        None
    }
}

/// The map lines of `text` that can be read and obey the rules of a `map` line, with their
/// line numbers; the others are named in `d`.
fn read(text: &str, d: &mut Diagnostics) -> Vec<(usize, StaticMap)> {
    let mut maps = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let ln = index + 1;
        let toks = tokens(line);
        let fix = || Some(FMT.write("map", Val::Map("192.168.5.42", "2001:db8:1:4444::1")));
        let args = match toks.as_slice() {
            [] => continue,
            [first, rest @ ..] if first.eq_ignore_ascii_case("map") => rest,
            all @ [first, ..]
                if first
                    .split('/')
                    .next()
                    .is_some_and(|a| a.parse::<Ipv4Addr>().is_ok()) =>
            {
                all
            }
            [first, ..] => {
                d.error(
                    ln,
                    format!("\"{first}\": a map-file holds only map lines; line skipped"),
                    fix(),
                );
                continue;
            }
        };
        if args.len() != 2 {
            d.error(
                ln,
                format!("map takes 2 arguments, found {}; line skipped", args.len()),
                fix(),
            );
            continue;
        }
        let errors_before = d.error_count();
        if let Some(m) = parse_map_args(args[0], args[1], ln, FMT, d) {
            check_map(&m, ln, FMT, d);
            if d.error_count() == errors_before {
                maps.push((ln, m));
            }
        }
    }
    maps
}

/// The configured map-file, read: an error only when it cannot be read at all (TAYGA then
/// keeps its old maps on SIGHUP, and refuses to start).
pub(crate) fn load(config: &Config, path: &Path) -> Result<MapFile, ConfigError> {
    let text = super::read_text(path)?;
    Ok(apply(config, &text, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::native_defaults();
        c.maps.push(StaticMap {
            ipv4: "192.0.2.1/32".parse().unwrap(),
            ipv6: "2001:db8::1/128".parse().unwrap(),
        });
        c
    }

    fn maps(applied: &MapFile) -> Vec<String> {
        applied
            .maps
            .iter()
            .map(|m| format!("{} {}", m.ipv4, m.ipv6))
            .collect()
    }

    #[test]
    fn reads_map_lines() {
        let text = "# static\nmap 192.0.2.10 2001:db8:1::10\n\nMAP 198.51.100.0/24 2001:db8:2::/120 # net\n203.0.113.7 2001:db8:3::7\n";
        let applied = apply(&config(), text, Path::new("static.map"));
        assert_eq!(applied.maps.len(), 3, "{:?}", applied.notes);
        assert_eq!(applied.maps[1].ipv6.prefix_len(), 120);
        assert_eq!(applied.maps[2].ipv4.prefix_len(), 32);
        assert!(applied.notes.is_empty());
    }

    #[test]
    fn bad_lines_are_skipped_and_named_and_the_rest_applies() {
        let text = "prefix 64:ff9b::/96\nmap 192.0.2.300 2001:db8:4::1\nmap 198.51.100.9 2001:db8:9::9\nmap 198.51.100.0/24 2001:db8:5::/121\n";
        let applied = apply(&config(), text, Path::new("static.map"));
        assert_eq!(maps(&applied), ["198.51.100.9/32 2001:db8:9::9/128"]);
        let lines: Vec<_> = applied.notes.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(1), Some(2), Some(4)], "{:?}", applied.notes);
        assert!(applied.notes[0].message.contains("only map lines"));
        assert!(applied
            .notes
            .iter()
            .all(|n| n.to_string().starts_with("static.map:")));
    }

    /// TAYGA's reload cases (its suite's mapfile.py): a later line evicts the earlier ones
    /// it conflicts with, on either side.
    #[test]
    fn later_lines_replace_earlier_conflicting_ones() {
        let c = config();
        let cases: &[(&str, &[&str])] = &[
            (
                "192.168.2.1 2001:db8:1::1\n192.168.2.3 2001:db8:1::1\n",
                &["192.168.2.3/32 2001:db8:1::1/128"],
            ),
            (
                "192.168.2.2 2001:db8:1::2\n192.168.2.2 2001:db8:1::1\n",
                &["192.168.2.2/32 2001:db8:1::1/128"],
            ),
            (
                "192.168.2.1 2001:db8:1::3\n192.168.2.0/30 2001:db8:1::/126\n",
                &["192.168.2.0/30 2001:db8:1::/126"],
            ),
            (
                "192.168.2.0/30 2001:db8:1::/126\n192.168.2.3 2001:db8:1::3\n",
                &["192.168.2.3/32 2001:db8:1::3/128"],
            ),
            // IPv4 subnets inside one another are not a conflict: the longest match wins.
            (
                "10.0.0.0/16 2001:db8:beef:0:cafe::/112\n10.0.1.0/24 2001:db8:beef:0:1234::100/120\n",
                &[
                    "10.0.0.0/16 2001:db8:beef:0:cafe::/112",
                    "10.0.1.0/24 2001:db8:beef:0:1234::100/120",
                ],
            ),
        ];
        for (text, want) in cases {
            let applied = apply(&c, text, Path::new("m"));
            assert_eq!(maps(&applied), *want, "{text}");
        }
    }

    #[test]
    fn the_main_configuration_wins() {
        let mut c = config();
        c.ipv4_addr = "192.0.2.99".parse().unwrap();
        let text = "map 192.0.2.1 2001:db8::99\nmap 198.51.100.1 64:ff9b::1\nmap 192.0.2.99 2001:db8::5\nmap 203.0.113.1 2001:db8::1\nmap 100.64.0.0/10 2001:db8:7::/106\nmap 198.51.100.7 2001:db8:6::7\n";
        let applied = apply(&c, text, Path::new("m"));
        assert_eq!(maps(&applied), ["198.51.100.7/32 2001:db8:6::7/128"]);
        let messages: Vec<_> = applied.notes.iter().map(|n| n.message.clone()).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[0].contains("map 192.0.2.1/32 2001:db8::1/128 of the main configuration"));
        assert!(messages[1].contains("NAT64 prefix 64:ff9b::/96"));
        assert!(messages[2].contains("ipv4-addr 192.0.2.99"));
        assert!(messages[3].contains("of the main configuration"));
        assert!(
            messages[4].contains("dynamic-pool 100.64.0.0/10"),
            "{messages:#?}"
        );
    }
}
