//! nat64's TOML: keys, typed values, `[[map]]` tables, and now and then broken syntax.

use rand::{rngs::StdRng, Rng};

use super::values::Values;
use crate::gen::{chance, pick};

/// The reader's own top-level keys, less those written as tables below (`[[map]]`,
/// `[stateful]`), so a key the reader learns is fuzzed from then on.
static TOML_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    nat64::config::toml_file::KEYS
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "map" | "stateful"))
        .collect()
});

pub(super) fn lines(rng: &mut StdRng, v: &mut Values) -> Vec<String> {
    let mut lines = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..rng.gen_range(0..=6) {
        let key = pick(rng, &TOML_KEYS[..]);
        let key = if chance(rng, v.wild / 2.0) {
            match rng.gen_range(0..3) {
                0 => key.replace('_', "-"),
                1 => format!("{key}x"),
                _ => "map".to_string(),
            }
        } else {
            key.to_string()
        };
        if keys.contains(&key) && !chance(rng, v.wild) {
            continue;
        }
        let value = toml_value(rng, &key, v);
        lines.push(format!("{key} = {value}"));
        keys.push(key);
    }
    for _ in 0..rng.gen_range(0..=3) {
        // Tables go last in TOML: a plain key after one belongs to the table.
        let header = if chance(rng, v.wild / 4.0) {
            "[map]"
        } else {
            "[[map]]"
        };
        lines.push(header.to_string());
        let (a, b) = v.map(rng);
        if !chance(rng, v.wild / 4.0) {
            lines.push(format!("ipv4 = {}", quoted(rng, &a)));
        }
        if !chance(rng, v.wild / 4.0) {
            lines.push(format!("ipv6 = {}", quoted(rng, &b)));
        }
        if chance(rng, v.wild / 4.0) {
            let prefix = v.prefix(rng);
            lines.push(format!("prefix = {}", quoted(rng, &prefix)));
        }
    }
    if chance(rng, v.wild / 4.0) {
        let broken = pick(
            rng,
            &[
                "[",
                "key = ",
                "= 1",
                "a = \"unterminated",
                "[[map]",
                "x.y = 1",
                "a = 1\na = 2",
            ],
        );
        lines.push(broken.into());
    }
    lines
}

fn toml_value(rng: &mut StdRng, key: &str, v: &mut Values) -> String {
    if chance(rng, v.wild / 4.0) {
        // The wrong type.
        return pick(
            rng,
            &[
                "1",
                "-1",
                "1.5",
                "true",
                "[]",
                "{}",
                "\"x\"",
                "1979-05-27",
                "[1, \"a\"]",
            ],
        )
        .to_string();
    }
    let string = match key {
        "tun_device" | "egress" => v.ifname(rng),
        "ipv4_addr" => v.v4(rng),
        "ipv6_addr" => v.v6(rng),
        "prefix" => v.prefix(rng),
        "dynamic_pool" => v.v4_net(rng),
        "data_dir" | "map_file" | "pin_dir" => v.path(rng),
        "udp_cksum_mode" => v.word(rng, &["drop", "fwd", "calc"], &["x"]),
        "datapath" => v.word(rng, &["auto", "tc", "tun"], &["xdp"]),
        "xdp_forward" => v.word(rng, &["stack", "direct"], &["fast"]),
        "metrics" => v.word(
            rng,
            &["127.0.0.1:9464", "[::1]:9464"],
            &["127.0.0.1", ":80", "a:b"],
        ),
        "wkpf_strict" | "tun_up" | "keep" => return pick(rng, &["true", "false"]).into(),
        "offlink_mtu" => return v.number(rng, &["1280", "1500", "9000"]),
        "workers" => return v.number(rng, &["0", "2", "64"]),
        "mapping_idle_secs" | "mapping_forget_secs" => {
            return v.number(rng, &["1", "60", "7440", "1209600"])
        }
        "log" => {
            return array(rng, |rng| {
                v.word(rng, &["drop", "reject", "icmp", "self", "dyn"], &["x"])
            })
        }
        "interfaces" => return array(rng, |rng| v.ifname(rng)),
        "allow_source" => return array(rng, |rng| v.v6_net(rng)),
        "tun_ip" | "tun_route" => return array(rng, |rng| v.net_either(rng)),
        _ => v.anything(rng),
    };
    quoted(rng, &string)
}

fn array(rng: &mut StdRng, mut item: impl FnMut(&mut StdRng) -> String) -> String {
    let items: Vec<String> = (0..rng.gen_range(0..=3))
        .map(|_| {
            let text = item(rng);
            quoted(rng, &text)
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string; now and then with the escaping left out.
fn quoted(rng: &mut StdRng, text: &str) -> String {
    if chance(rng, 0.02) {
        return format!("\"{text}\"");
    }
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}
