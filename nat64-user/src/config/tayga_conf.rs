//! Reader of TAYGA's `tayga.conf`.
//!
//! Syntax as TAYGA's `config_read`: one directive per line; tokens separated by
//! spaces, tabs or CRs; a token that starts with `#` ends the line (so
//! `prefix 64:ff9b::/96 # WKP` works, and `#` inside a token does not start a
//! comment); directive names are case-insensitive.
//!
//! Directives (TAYGA 0.9.2 and the maintained 0.9.5/0.9.6), with TAYGA's defaults:
//!
//! | directive | arguments | default |
//! | --- | --- | --- |
//! | `tun-device` | name | required |
//! | `ipv4-addr` | IPv4 address | required |
//! | `ipv6-addr` | IPv6 address | `ipv4-addr` inside `prefix`; required without `prefix`, or with `64:ff9b::/96` and a non-global `ipv4-addr` |
//! | `prefix` | IPv6 prefix, /32 /40 /48 /56 /64 /96 | none (then only `map` translates) |
//! | `wkpf-strict` | yes/no (also true/false, on/off, 1/0) | yes |
//! | `map` | `v4[/n] v6[/m]`, `32 − n = 128 − m`, repeatable | none |
//! | `dynamic-pool` | IPv4 prefix, /31 or shorter | none |
//! | `data-dir` | absolute path | none (TAYGA then uses `$STATE_DIRECTORY`) |
//! | `map-file` | path, absolute or relative to `data-dir` | none |
//! | `strict-frag-hdr` | anything | deprecated, ignored with a warning |
//! | `udp-cksum-mode` | `drop`, `fwd`, `calc` (TAYGA also takes `dr…`, `forw…`, `calc…`) | `drop` |
//! | `log` | any of `drop reject icmp self dyn` | nothing |
//! | `offlink-mtu` | 1280..=65535 | 1280 |
//! | `tun-up` | yes/no (also `up`, as TAYGA's example file says) | no |
//! | `tun-ip` | address[/len], either family, repeatable | none |
//! | `tun-route` | prefix[/len], either family, repeatable | none |
//! | `workers` | 0..=64 | one per CPU, at most 64 |
//!
//! Where nat64 is stricter than TAYGA: a repeated single-valued directive is an
//! error (TAYGA lets `wkpf-strict`, `udp-cksum-mode`, `tun-up` repeat, last
//! wins); prefix lengths must be plain numbers (TAYGA's `atoi` takes `/24x`);
//! `map` subnets must have their host bits clear; `wkpf-strict` takes only the
//! boolean words (TAYGA 0.9.2–0.9.4 read anything but `no` as yes).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::error::Diagnostics;
use super::net::{IpNet, Ipv4Net, Ipv6Net};
use super::raw::{closest, Located, RawConfig, Val};
use super::{validate, Config, ConfigError, Format, LogOptions, StaticMap, UdpChecksumMode};

const FMT: Format = Format::TaygaConf;

/// How many arguments a directive takes.
#[derive(Clone, Copy)]
enum Args {
    Exactly(usize),
    AnyNumber,
}

struct Directive {
    name: &'static str,
    args: Args,
    /// Arguments of a typical line, for "write e.g." fixes.
    example: &'static str,
}

const fn d(name: &'static str, args: Args, example: &'static str) -> Directive {
    Directive {
        name,
        args,
        example,
    }
}

const DIRECTIVES: &[Directive] = &[
    d("tun-device", Args::Exactly(1), "nat64"),
    d("ipv4-addr", Args::Exactly(1), "192.168.255.1"),
    d("ipv6-addr", Args::Exactly(1), "2001:db8:1::2"),
    d("prefix", Args::Exactly(1), "64:ff9b::/96"),
    d("wkpf-strict", Args::Exactly(1), "yes"),
    d("map", Args::Exactly(2), "192.168.5.42 2001:db8:1:4444::1"),
    d("dynamic-pool", Args::Exactly(1), "192.168.255.0/24"),
    d("data-dir", Args::Exactly(1), "/var/lib/tayga"),
    d("map-file", Args::Exactly(1), "static.map"),
    d("strict-frag-hdr", Args::Exactly(1), "off"),
    d("udp-cksum-mode", Args::Exactly(1), "drop"),
    d("log", Args::AnyNumber, "drop reject"),
    d("offlink-mtu", Args::Exactly(1), "1280"),
    d("tun-up", Args::Exactly(1), "yes"),
    d("tun-ip", Args::Exactly(1), "192.0.0.1/29"),
    d("tun-route", Args::Exactly(1), "64:ff9b::/96"),
    d("workers", Args::Exactly(1), "4"),
];

/// Settings that exist only in nat64's TOML file.
const TOML_ONLY: &[&str] = &[
    "datapath",
    "interfaces",
    "xdp_forward",
    "xdp_slow_path",
    "egress",
    "allow_source",
    "mapping_idle_secs",
    "mapping_forget_secs",
    "keep",
];

/// Parses and validates `tayga.conf` text; `file` names it in messages.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let mut diags = Diagnostics::new(file);
    let raw = read(text, &mut diags);
    validate::build(raw, FMT, diags)
}

/// The tokens of one line, as TAYGA's `strtok` loop sees them.
pub(crate) fn tokens(line: &str) -> Vec<&str> {
    line.split([' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
        .take_while(|t| !t.starts_with('#'))
        .collect()
}

fn example(name: &str) -> String {
    let dir = DIRECTIVES
        .iter()
        .find(|d| d.name == name)
        .expect("known directive");
    FMT.write(dir.name, Val::Str(dir.example))
}

fn read(text: &str, d: &mut Diagnostics) -> RawConfig {
    let mut raw = RawConfig::default();
    for (index, line) in text.lines().enumerate() {
        let ln = index + 1;
        let toks = tokens(line);
        let Some((&name, args)) = toks.split_first() else {
            continue;
        };
        let Some(dir) = DIRECTIVES
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
        else {
            unknown_directive(name, line, ln, d);
            continue;
        };
        if let Args::Exactly(n) = dir.args {
            if args.len() != n {
                d.error(
                    ln,
                    format!(
                        "{} takes {n} argument{}, found {}",
                        dir.name,
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                    Some(example(dir.name)),
                );
                continue;
            }
        }
        apply(dir.name, args, ln, &mut raw, d);
    }
    raw
}

fn unknown_directive(name: &str, line: &str, ln: usize, d: &mut Diagnostics) {
    let key = name.trim_end_matches('=');
    let fix = if TOML_ONLY.contains(&key.replace('-', "_").as_str()) {
        Some(format!(
            "{key} exists only in nat64's TOML configuration (a file ending in .toml)"
        ))
    } else if let Some(known) = closest(key, DIRECTIVES.iter().map(|d| d.name)) {
        Some(format!("did you mean {known}? {}", example(known)))
    } else if line.contains('=') {
        Some(
            "tayga.conf lines are \"directive value\", without '='; for TOML, name the file *.toml"
                .into(),
        )
    } else {
        Some(format!(
            "the directives are {}",
            DIRECTIVES
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    d.error(ln, format!("unknown directive \"{name}\""), fix);
}

fn set_once<T>(
    slot: &mut Option<Located<T>>,
    value: T,
    ln: usize,
    name: &str,
    d: &mut Diagnostics,
) {
    if let Some(first) = slot {
        d.error(
            ln,
            format!(
                "duplicate {name} directive (the first is on line {})",
                first.line
            ),
            Some(format!(
                "keep one {name} line: delete line {} or line {ln}",
                first.line
            )),
        );
    } else {
        *slot = Some(Located::new(value, ln));
    }
}

/// TAYGA's boolean words; `extra_true` for `tun-up up`.
fn parse_bool(word: &str, extra_true: &[&str]) -> Option<bool> {
    let w = word.to_ascii_lowercase();
    if ["true", "on", "yes", "1"].contains(&w.as_str()) || extra_true.contains(&w.as_str()) {
        Some(true)
    } else if ["false", "off", "no", "0"].contains(&w.as_str()) {
        Some(false)
    } else {
        None
    }
}

fn apply(name: &'static str, args: &[&str], ln: usize, raw: &mut RawConfig, d: &mut Diagnostics) {
    let arg = args.first().copied().unwrap_or("");
    match name {
        "tun-device" => set_once(&mut raw.tun_device, arg.to_string(), ln, name, d),
        "ipv4-addr" => match arg.parse::<Ipv4Addr>() {
            Ok(a) => set_once(&mut raw.ipv4_addr, a, ln, name, d),
            Err(_) => d.error(
                ln,
                format!("ipv4-addr \"{arg}\" is not an IPv4 address"),
                Some(example(name)),
            ),
        },
        "ipv6-addr" => match arg.parse::<Ipv6Addr>() {
            Ok(a) => set_once(&mut raw.ipv6_addr, a, ln, name, d),
            Err(_) => d.error(
                ln,
                format!("ipv6-addr \"{arg}\" is not an IPv6 address"),
                Some(example(name)),
            ),
        },
        "prefix" => match arg.parse::<Ipv6Net>() {
            Ok(p) => set_once(&mut raw.prefix, p, ln, name, d),
            Err(e) => d.error(ln, format!("prefix: {e}"), Some(example(name))),
        },
        "wkpf-strict" => match parse_bool(arg, &[]) {
            Some(b) => set_once(&mut raw.wkpf_strict, b, ln, name, d),
            None => d.error(
                ln,
                format!("wkpf-strict \"{arg}\" is not yes or no"),
                Some(example(name)),
            ),
        },
        "map" => {
            if let Some(m) = parse_map_args(args[0], args[1], ln, FMT, d) {
                raw.maps.push(Located::new(m, ln));
            }
        }
        "dynamic-pool" => match arg.parse::<Ipv4Net>() {
            Ok(p) => set_once(&mut raw.dynamic_pool, p, ln, name, d),
            Err(e) => d.error(ln, format!("dynamic-pool: {e}"), Some(example(name))),
        },
        "data-dir" => set_once(&mut raw.data_dir, PathBuf::from(arg), ln, name, d),
        "map-file" => set_once(&mut raw.map_file, PathBuf::from(arg), ln, name, d),
        "strict-frag-hdr" => d.warn(
            ln,
            "strict-frag-hdr is deprecated and ignored (as by TAYGA 0.9.5 and later)",
            Some("delete the line".into()),
        ),
        "udp-cksum-mode" => match parse_udp_cksum_mode(arg) {
            Some(m) => set_once(&mut raw.udp_cksum_mode, m, ln, name, d),
            None => d.error(
                ln,
                format!("udp-cksum-mode \"{arg}\" is not drop, fwd or calc"),
                Some(example(name)),
            ),
        },
        "log" => {
            let mut opts = LogOptions::default();
            let mut ok = true;
            for word in args {
                if !set_log_option(&mut opts, word) {
                    ok = false;
                    d.error(
                        ln,
                        format!(
                            "log option \"{word}\" is not one of drop, reject, icmp, self, dyn"
                        ),
                        Some(example(name)),
                    );
                }
            }
            if ok {
                set_once(&mut raw.log, opts, ln, name, d);
            }
        }
        "offlink-mtu" => match arg.parse::<u64>() {
            Ok(v) => set_once(&mut raw.offlink_mtu, v, ln, name, d),
            Err(_) => d.error(
                ln,
                format!("offlink-mtu \"{arg}\" is not a number of bytes"),
                Some(example(name)),
            ),
        },
        "tun-up" => match parse_bool(arg, &["up"]) {
            Some(b) => set_once(&mut raw.tun_up, b, ln, name, d),
            None => d.error(
                ln,
                format!("tun-up \"{arg}\" is not yes or no"),
                Some(example(name)),
            ),
        },
        "tun-ip" => match IpNet::parse_host_default(arg) {
            Ok(n) => raw.tun_ips.push(Located::new(n, ln)),
            Err(e) => d.error(ln, format!("tun-ip: {e}"), Some(example(name))),
        },
        "tun-route" => match IpNet::parse_host_default(arg) {
            Ok(n) => raw.tun_routes.push(Located::new(n, ln)),
            Err(e) => d.error(ln, format!("tun-route: {e}"), Some(example(name))),
        },
        "workers" => match arg.parse::<u64>() {
            Ok(v) => set_once(&mut raw.workers, v, ln, name, d),
            Err(_) => d.error(
                ln,
                format!("workers \"{arg}\" is not a number"),
                Some(example(name)),
            ),
        },
        _ => unreachable!("every entry of DIRECTIVES has a case"),
    }
}

/// TAYGA matches on prefixes: `dr…` drops, `calc…` calculates, `fwd…`/`forw…` forwards.
pub(crate) fn parse_udp_cksum_mode(word: &str) -> Option<UdpChecksumMode> {
    let w = word.to_ascii_lowercase();
    if w.starts_with("dr") {
        Some(UdpChecksumMode::Drop)
    } else if w.starts_with("calc") {
        Some(UdpChecksumMode::Calculate)
    } else if w.starts_with("fwd") || w.starts_with("forw") {
        Some(UdpChecksumMode::Forward)
    } else {
        None
    }
}

/// Sets the option `word` names; false when it names none.
pub(crate) fn set_log_option(opts: &mut LogOptions, word: &str) -> bool {
    let flag = match word.to_ascii_lowercase().as_str() {
        "drop" => &mut opts.drop,
        "reject" => &mut opts.reject,
        "icmp" => &mut opts.icmp,
        "self" => &mut opts.to_self,
        "dyn" => &mut opts.dynamic,
        _ => return false,
    };
    *flag = true;
    true
}

/// The two sides of a `map` line; a side without `/len` is a single host.
/// Only syntax here: sizes and overlaps are checked by validation.
pub(crate) fn parse_map_args(
    v4: &str,
    v6: &str,
    ln: usize,
    fmt: Format,
    d: &mut Diagnostics,
) -> Option<StaticMap> {
    let fix = || Some(fmt.write("map", Val::Map("192.168.5.42", "2001:db8:1:4444::1")));
    let ipv4 = Ipv4Net::parse_with_default(v4, Some(32))
        .map_err(|e| d.error(ln, format!("map: {e}"), fix()));
    let ipv6 = Ipv6Net::parse_with_default(v6, Some(128))
        .map_err(|e| d.error(ln, format!("map: {e}"), fix()));
    Some(StaticMap {
        ipv4: ipv4.ok()?,
        ipv6: ipv6.ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse(text, Path::new("tayga.conf"))
            .unwrap_err()
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    const BASE: &str = "tun-device nat64\nipv4-addr 192.0.2.1\nprefix 2001:db8:64::/96\n";

    #[test]
    fn tokens_follow_tayga() {
        assert_eq!(
            tokens("  prefix\t64:ff9b::/96   # wkp\r"),
            ["prefix", "64:ff9b::/96"]
        );
        assert_eq!(tokens("# all comment"), Vec::<&str>::new());
        assert_eq!(tokens("tun-device na#t64"), ["tun-device", "na#t64"]);
    }

    #[test]
    fn directive_names_are_case_insensitive() {
        let c = parse(
            &format!("{BASE}Dynamic-Pool 192.0.2.0/24\n"),
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(c.dynamic_pool.unwrap().to_string(), "192.0.2.0/24");
    }

    #[test]
    fn unknown_directive_names_the_closest() {
        let e = errors(&format!("{BASE}dynamic_pool 10.0.0.0/8\n"));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "tayga.conf:4: unknown directive \"dynamic_pool\"; did you mean dynamic-pool?"
            ),
            "{}",
            e[0]
        );
        let e = errors(&format!("{BASE}datapath tc\n"));
        assert!(e[0].contains("only in nat64's TOML"), "{}", e[0]);
    }

    #[test]
    fn duplicates_and_arity() {
        let e = errors(&format!("{BASE}prefix 64:ff9b::/96\nmap 192.0.2.9\n"));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("tayga.conf:4: duplicate prefix directive (the first is on line 3)")
        );
        assert!(e[1].starts_with("tayga.conf:5: map takes 2 arguments, found 1; write e.g. \"map "));
    }

    #[test]
    fn every_value_error_has_line_and_fix() {
        let bad = [
            "ipv4-addr 300.1.1.1",
            "ipv6-addr 2001:db8::g",
            "prefix 2001:db8::",
            "wkpf-strict maybe",
            "map 192.0.2.5/33 2001:db8::5",
            "dynamic-pool 10.0.0.0",
            "udp-cksum-mode zero",
            "log drop everything",
            "offlink-mtu big",
            "tun-up sideways",
            "tun-ip nat64",
            "tun-route 10.0.0.0/99",
            "workers many",
        ];
        for line in bad {
            let e = errors(&format!("{BASE}{line}\n"));
            assert!(
                e.iter()
                    .any(|m| m.starts_with("tayga.conf:4: ") && m.contains("; write e.g. ")),
                "{line}: {e:?}"
            );
        }
    }

    #[test]
    fn values_and_defaults() {
        let c = parse(
            &format!(
                "{BASE}udp-cksum-mode forward\nlog drop SELF dyn\nofflink-mtu 1492\ntun-up up\n\
                 tun-ip 192.0.0.1/29\ntun-route 2001:db8:64::/96\nworkers 0\nstrict-frag-hdr on\n"
            ),
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(c.udp_cksum_mode, UdpChecksumMode::Forward);
        assert!(c.log.drop && c.log.to_self && c.log.dynamic && !c.log.reject);
        assert_eq!(c.offlink_mtu, 1492);
        assert!(c.tun_up);
        assert_eq!(c.workers, Some(0));
        assert_eq!(c.tun_routes[0].to_string(), "2001:db8:64::/96");
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0]
            .to_string()
            .starts_with("t:11: strict-frag-hdr is deprecated"));

        let c = parse(BASE, Path::new("t")).unwrap();
        assert_eq!(c.udp_cksum_mode, UdpChecksumMode::Drop);
        assert_eq!(c.offlink_mtu, 1280);
        assert!(c.wkpf_strict && !c.tun_up && c.workers.is_none() && c.data_dir.is_none());
        assert_eq!(
            c.ipv6_addr,
            "2001:db8:64::c000:201".parse::<Ipv6Addr>().unwrap()
        );
        assert!(!c.ipv6_addr_configured);
    }
}
