//! Configuration text: `tayga.conf`, nat64's TOML and map-files, made of real directives.
//! Each text draws how wild it is: some are all meaningful values (so the checks between
//! lines, and what the gateway does with an accepted file, are reached), some are mostly
//! noise; then now and then the text is mutated byte by byte.

mod tayga;
mod toml;
mod values;

use nat64::config::Config;
use rand::{rngs::StdRng, Rng};

use super::mutate::mutate;
use super::{chance, pick};
use values::Values;

/// Which reader the text is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    TaygaConf,
    Toml,
    /// A map-file, applied against a configuration.
    MapFile,
}

/// Configuration text of `kind`; values aim at `base`'s addresses now and then.
pub fn text(rng: &mut StdRng, kind: ConfigKind, base: &Config) -> Vec<u8> {
    let mut out = structured(rng, kind, base);
    if chance(rng, 0.25) {
        let donor = structured(rng, kind, base);
        mutate(rng, &mut out, &donor);
    }
    out
}

fn structured(rng: &mut StdRng, kind: ConfigKind, base: &Config) -> Vec<u8> {
    let wild = pick(rng, &[0.0, 0.0, 0.02, 0.05, 0.1, 0.3, 0.6]);
    let mut values = Values::new(base, wild);
    let lines = match kind {
        ConfigKind::TaygaConf => tayga::lines(rng, &mut values),
        ConfigKind::Toml => toml::lines(rng, &mut values),
        ConfigKind::MapFile => tayga::map_file_lines(rng, &mut values),
    };
    let eol = if chance(rng, 0.1) { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if chance(rng, 0.8) {
        text.push_str(eol);
    }
    text.into_bytes()
}

pub(super) fn comment(rng: &mut StdRng) -> String {
    pick(
        rng,
        &["# comment", "#", "  # map 1.2.3.4 2001:db8::1", "#map"],
    )
    .to_string()
}

pub(super) fn shuffle(rng: &mut StdRng, lines: &mut [String]) {
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.gen_range(0..=i));
    }
}
