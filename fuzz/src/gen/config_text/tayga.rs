//! `tayga.conf` lines (and map-file lines, which share their syntax).

use rand::{rngs::StdRng, Rng};

use super::values::Values;
use super::{comment, shuffle};
use crate::gen::{chance, pick};

/// `tayga.conf` directives; the ones that may repeat last.
const TAYGA_SINGLE: [&str; 14] = [
    "tun-device",
    "ipv4-addr",
    "ipv6-addr",
    "prefix",
    "wkpf-strict",
    "dynamic-pool",
    "data-dir",
    "map-file",
    "strict-frag-hdr",
    "udp-cksum-mode",
    "log",
    "offlink-mtu",
    "tun-up",
    "workers",
];
const TAYGA_REPEATABLE: [&str; 3] = ["map", "tun-ip", "tun-route"];

pub(super) fn lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    let mut lines = Vec::new();
    let mut directives: Vec<&str> = Vec::new();
    if chance(rng, 0.8) {
        // What TAYGA requires, so the other lines meet the checks between them.
        directives.extend(["tun-device", "ipv4-addr"]);
        if chance(rng, 0.8) {
            directives.push("prefix");
        }
    }
    for _ in 0..rng.gen_range(0..=4) {
        let d = pick(rng, &TAYGA_SINGLE);
        if !directives.contains(&d) || chance(rng, v.wild) {
            directives.push(d);
        }
    }
    for _ in 0..rng.gen_range(0..=4) {
        directives.push(pick(rng, &TAYGA_REPEATABLE));
    }
    for d in directives {
        lines.push(tayga_line(rng, d, v));
    }
    for _ in 0..rng.gen_range(0..=2) {
        let at = rng.gen_range(0..=lines.len());
        let extra = match rng.gen_range(0..4) {
            0 => comment(rng),
            1 => String::new(),
            _ if chance(rng, v.wild) => v.junk(rng),
            _ => comment(rng),
        };
        lines.insert(at, extra);
    }
    if chance(rng, 0.2) {
        shuffle(rng, &mut lines);
    }
    lines
}

fn tayga_line(rng: &mut StdRng, directive: &str, v: &mut Values) -> String {
    let mut args = tayga_args(rng, directive, v);
    if chance(rng, v.wild / 4.0) {
        args.push(v.anything(rng));
    }
    if chance(rng, v.wild / 4.0) {
        args.pop();
    }
    let name = if chance(rng, v.wild) {
        match rng.gen_range(0..4) {
            0 => directive.to_uppercase(),
            1 => directive.replace('-', "_"),
            2 => format!("{directive}="),
            _ => directive.get(1..).unwrap_or(directive).to_string(),
        }
    } else {
        directive.to_string()
    };
    let sep = if chance(rng, 0.1) { "\t" } else { " " };
    let mut line = std::iter::once(name)
        .chain(args)
        .collect::<Vec<_>>()
        .join(sep);
    if chance(rng, 0.1) {
        line.push_str(" # a comment");
    }
    if chance(rng, 0.05) {
        line.insert_str(0, "  ");
    }
    line
}

fn tayga_args(rng: &mut StdRng, directive: &str, v: &mut Values) -> Vec<String> {
    match directive {
        "tun-device" => vec![v.ifname(rng)],
        "ipv4-addr" => vec![v.v4(rng)],
        "ipv6-addr" => vec![v.v6(rng)],
        "prefix" => vec![v.prefix(rng)],
        "wkpf-strict" | "strict-frag-hdr" | "tun-up" => vec![v.boolean(rng)],
        "map" => {
            let (a, b) = v.map(rng);
            vec![a, b]
        }
        "dynamic-pool" => vec![v.v4_net(rng)],
        "data-dir" | "map-file" => vec![v.path(rng)],
        "udp-cksum-mode" => {
            vec![v.word(rng, &["drop", "fwd", "calc"], &["dr", "forward", "x", ""])]
        }
        "log" => (0..rng.gen_range(0..=5))
            .map(|_| v.word(rng, &["drop", "reject", "icmp", "self", "dyn"], &["all"]))
            .collect(),
        "offlink-mtu" => vec![v.number(rng, &["1280", "1500", "9000", "65535"])],
        "workers" => vec![v.number(rng, &["0", "1", "4", "64"])],
        _ => vec![v.net_either(rng)],
    }
}

pub(super) fn map_file_lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    (0..rng.gen_range(0..=12))
        .map(|_| match rng.gen_range(0..20) {
            0..=11 => {
                let (a, b) = v.map(rng);
                format!("map {a} {b}")
            }
            12..=15 => {
                let (a, b) = v.map(rng);
                format!("{a}\t{b}")
            }
            16 => comment(rng),
            17 => String::new(),
            18 => {
                let d = pick(rng, &TAYGA_SINGLE);
                tayga_line(rng, d, v)
            }
            _ => v.junk(rng),
        })
        .collect()
}
