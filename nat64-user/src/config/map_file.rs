//! The `map-file`: more `map` lines, which TAYGA rereads on SIGHUP.
//!
//! Same syntax as `tayga.conf` (`#` comments, whitespace), one `map v4[/n] v6[/m]`
//! per line. A line of just `v4 v6` is taken as a `map` line too. Any other
//! directive is an error: it belongs in the main configuration.

use std::net::Ipv4Addr;
use std::path::Path;

use super::error::Diagnostics;
use super::raw::{Located, Val};
use super::tayga_conf::{parse_map_args, tokens};
use super::validate::{check_map, check_map_against, check_maps_disjoint};
use super::{Config, ConfigError, Format, StaticMap};

const FMT: Format = Format::TaygaConf;

/// Parses a map file on its own: syntax, each map's sizes and addresses, and
/// overlaps between its lines. `file` names it in messages.
pub fn parse(text: &str, file: &Path) -> Result<Vec<StaticMap>, ConfigError> {
    let mut d = Diagnostics::new(file);
    let maps = read(text, &mut d);
    check_maps_disjoint(&[], &maps, &mut d);
    d.finish()?;
    Ok(maps.into_iter().map(|m| m.value).collect())
}

/// [`parse`], and the maps checked against `config`: no overlap with its `maps`
/// (TAYGA lets the main file win; nat64 refuses the reload and says which line),
/// its `prefix`, or its own addresses.
pub fn parse_for(config: &Config, text: &str, file: &Path) -> Result<Vec<StaticMap>, ConfigError> {
    let mut d = Diagnostics::new(file);
    let maps = read(text, &mut d);
    let fixed: Vec<Located<StaticMap>> = config.maps.iter().map(|m| Located::new(*m, 0)).collect();
    check_maps_disjoint(&fixed, &maps, &mut d);
    let prefix = config.prefix.map(|p| Located::new(p, 0));
    for m in &maps {
        check_map_against(prefix.as_ref(), m, FMT, &mut d);
        if m.value.ipv4.contains(config.ipv4_addr) {
            d.error(
                m.line,
                format!(
                    "map {}: contains the translator's ipv4-addr {}",
                    m.value.ipv4, config.ipv4_addr
                ),
                Some("give the map other IPv4 addresses".into()),
            );
        }
        if m.value.ipv6.contains(config.ipv6_addr) {
            d.error(
                m.line,
                format!(
                    "map {}: contains the translator's ipv6-addr {}",
                    m.value.ipv6, config.ipv6_addr
                ),
                Some("give the map other IPv6 addresses".into()),
            );
        }
    }
    d.finish()?;
    Ok(maps.into_iter().map(|m| m.value).collect())
}

fn read(text: &str, d: &mut Diagnostics) -> Vec<Located<StaticMap>> {
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
                    format!("\"{first}\": a map-file holds only map lines"),
                    fix(),
                );
                continue;
            }
        };
        if args.len() != 2 {
            d.error(
                ln,
                format!("map takes 2 arguments, found {}", args.len()),
                fix(),
            );
            continue;
        }
        if let Some(m) = parse_map_args(args[0], args[1], ln, FMT, d) {
            check_map(&m, ln, FMT, d);
            maps.push(Located::new(m, ln));
        }
    }
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_map_lines() {
        let text = "# static\nmap 192.0.2.10 2001:db8:1::10\n\nMAP 198.51.100.0/24 2001:db8:2::/120 # net\n203.0.113.7 2001:db8:3::7\n";
        let maps = parse(text, Path::new("static.map")).unwrap();
        assert_eq!(maps.len(), 3);
        assert_eq!(maps[1].ipv6.prefix_len(), 120);
        assert_eq!(maps[2].ipv4.prefix_len(), 32);
    }

    #[test]
    fn refuses_other_directives_and_overlaps() {
        let text = "prefix 64:ff9b::/96\nmap 192.0.2.0/24 2001:db8::/120\nmap 192.0.2.9 2001:db8:9::9\nmap 192.0.2.300 2001:db8::1\n";
        let e = parse(text, Path::new("static.map")).unwrap_err();
        let lines: Vec<_> = e.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(1), Some(3), Some(4)], "{e}");
        assert!(e.problems[0].message.contains("only map lines"));
        assert!(e.problems[1]
            .message
            .contains("overlaps map 192.0.2.0/24 (line 2)"));
        assert!(
            e.to_string()
                .lines()
                .all(|l| l.starts_with("static.map:") && l.contains("; ")),
            "{e}"
        );
    }

    #[test]
    fn checks_against_the_configuration() {
        let mut c = Config::native_defaults();
        c.maps.push(StaticMap {
            ipv4: "192.0.2.1/32".parse().unwrap(),
            ipv6: "2001:db8::1/128".parse().unwrap(),
        });
        let text =
            "map 192.0.2.1 2001:db8::99\nmap 198.51.100.1 64:ff9b::1\nmap 100.64.0.1 2001:db8::5\n";
        let e = parse_for(&c, text, Path::new("m")).unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        assert!(e.problems[0].message.contains("in the main configuration"));
        assert!(e.problems[1].message.contains("NAT64 prefix 64:ff9b::/96"));
        assert!(e.problems[2].message.contains("ipv4-addr 100.64.0.1"));
    }
}
