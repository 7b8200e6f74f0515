//! What a file said, before validation: each setting with the line it came from.
//!
//! Both readers (`tayga_conf`, `toml_file`) fill a [`RawConfig`]; `validate`
//! turns it into a [`Config`](super::Config), so both formats obey the same rules
//! and name lines the same way.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::net::{IpNet, Ipv4Net, Ipv6Net};
use super::{Datapath, Format, LogOptions, StaticMap, UdpChecksumMode, XdpForward, XdpSlowPath};

/// A value and the 1-based line it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Located<T> {
    pub value: T,
    pub line: usize,
}

impl<T> Located<T> {
    pub fn new(value: T, line: usize) -> Self {
        Self { value, line }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RawConfig {
    pub tun_device: Option<Located<String>>,
    pub ipv4_addr: Option<Located<Ipv4Addr>>,
    pub ipv6_addr: Option<Located<Ipv6Addr>>,
    pub prefix: Option<Located<Ipv6Net>>,
    pub wkpf_strict: Option<Located<bool>>,
    pub maps: Vec<Located<StaticMap>>,
    pub dynamic_pool: Option<Located<Ipv4Net>>,
    pub data_dir: Option<Located<PathBuf>>,
    pub map_file: Option<Located<PathBuf>>,
    pub udp_cksum_mode: Option<Located<UdpChecksumMode>>,
    pub log: Option<Located<LogOptions>>,
    pub offlink_mtu: Option<Located<u64>>,
    pub tun_up: Option<Located<bool>>,
    pub tun_ips: Vec<Located<IpNet>>,
    pub tun_routes: Vec<Located<IpNet>>,
    pub workers: Option<Located<u64>>,
    pub datapath: Option<Located<Datapath>>,
    pub interfaces: Vec<Located<String>>,
    pub xdp_forward: Option<Located<XdpForward>>,
    pub xdp_slow_path: Option<Located<XdpSlowPath>>,
    pub egress: Option<Located<String>>,
    pub allow_source: Vec<Located<Ipv6Net>>,
    pub mapping_idle_secs: Option<Located<u64>>,
    pub mapping_forget_secs: Option<Located<u64>>,
    pub keep: Option<Located<bool>>,
    pub pin_dir: Option<Located<PathBuf>>,
    pub metrics: Option<Located<std::net::SocketAddr>>,
    pub stateful: Option<Located<crate::stateful::StatefulConfig>>,
}

/// A value to show in a fix, rendered in the syntax of the file being read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Bool(bool),
    Int(u64),
    /// `map`: the IPv4 and IPv6 sides.
    Map(&'a str, &'a str),
    /// A list (`log`, `interfaces`).
    List(&'a [&'a str]),
}

impl Format {
    /// The name of a setting in this format; `name` is TAYGA's spelling.
    pub(crate) fn key(self, name: &str) -> String {
        match self {
            Format::TaygaConf => name.to_string(),
            Format::Toml => name.replace('-', "_"),
        }
    }

    /// `write e.g. "<setting>"`, in the syntax of this format.
    pub(crate) fn write(self, name: &str, val: Val<'_>) -> String {
        format!("write e.g. {}", self.setting(name, val))
    }

    /// One setting as it would appear in a file of this format.
    pub(crate) fn setting(self, name: &str, val: Val<'_>) -> String {
        match self {
            Format::TaygaConf => {
                let v = match val {
                    Val::Str(s) => s.to_string(),
                    Val::Bool(b) => if b { "yes" } else { "no" }.to_string(),
                    Val::Int(i) => i.to_string(),
                    Val::Map(a, b) => format!("{a} {b}"),
                    Val::List(l) => l.join(" "),
                };
                format!("\"{name} {v}\"")
            }
            Format::Toml => {
                let key = self.key(name);
                match val {
                    Val::Str(s) => format!("{key} = \"{s}\""),
                    Val::Bool(b) => format!("{key} = {b}"),
                    Val::Int(i) => format!("{key} = {i}"),
                    Val::Map(a, b) => format!("[[map]] with ipv4 = \"{a}\" and ipv6 = \"{b}\""),
                    Val::List(l) => {
                        let items: Vec<String> = l.iter().map(|s| format!("\"{s}\"")).collect();
                        format!("{key} = [{}]", items.join(", "))
                    }
                }
            }
        }
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to
/// be a plausible typo (at most a third of the word, at least 1 edit allowed).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|&(dist, _)| dist <= limit)
        .min_by_key(|&(dist, _)| dist)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counted in chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_only() {
        let names = ["prefix", "dynamic-pool", "ipv4-addr", "ipv6-addr"];
        assert_eq!(closest("prefx", names), Some("prefix"));
        assert_eq!(closest("dynamic_pool", names), Some("dynamic-pool"));
        assert_eq!(closest("IPV4-ADDR", names), Some("ipv4-addr"));
        assert_eq!(closest("banana", names), None);
    }

    #[test]
    fn fixes_in_each_syntax() {
        assert_eq!(
            Format::TaygaConf.write("prefix", Val::Str("64:ff9b::/96")),
            "write e.g. \"prefix 64:ff9b::/96\""
        );
        assert_eq!(
            Format::Toml.write("wkpf-strict", Val::Bool(false)),
            "write e.g. wkpf_strict = false"
        );
        assert_eq!(
            Format::TaygaConf.write("wkpf-strict", Val::Bool(false)),
            "write e.g. \"wkpf-strict no\""
        );
        assert_eq!(
            Format::Toml.write("log", Val::List(&["drop", "self"])),
            "write e.g. log = [\"drop\", \"self\"]"
        );
    }
}
