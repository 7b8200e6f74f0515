//! The crate's layers point one way (the design's "Layers"): each top-level module may name
//! only the modules below it. Checked from the source: every `crate::` path (grouped imports
//! included) of every file of a module, test code included.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Top-level modules and the crate modules each must never name. (`super::` stays inside a
/// module; siblings are reached through `crate::`.)
const FORBIDDEN: &[(&str, &[&str])] = &[
    // The RFC 7915 core: nothing device-specific, nothing of the running daemon.
    (
        "translate",
        &["tun", "offload", "gateway", "ops", "cli", "host", "pool"],
    ),
    // Between the device and the translator.
    ("offload", &["tun", "gateway", "ops", "cli"]),
    ("tun", &["translate", "gateway", "ops", "cli"]),
    // What operators read: the daemon serves it, not the other way round.
    ("ops", &["gateway", "cli"]),
    ("pool", &["gateway", "ops", "cli", "tun", "offload"]),
    // RFC 6146 on top of the RFC 7915 core: no device, no daemon.
    (
        "stateful",
        &["tun", "offload", "gateway", "ops", "cli", "host", "pool"],
    ),
    ("config", &["gateway", "ops", "cli", "tun", "offload"]),
    ("host", &["gateway", "ops", "cli"]),
    ("pins", &["gateway", "ops", "cli"]),
    ("tc_maps", &["gateway", "ops", "cli"]),
    ("binding_maps", &["gateway", "ops", "cli"]),
    ("session_maps", &["gateway", "ops", "cli"]),
    ("clock", &["gateway", "ops", "cli"]),
    ("gateway", &["cli"]),
];

fn sources(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            sources(&entry, out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The first segment of every `crate::` path in `text`, `crate::{a::b, c}` giving a and c.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        // `nat64_crate::` or the like is not this crate.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && item_start && (c.is_alphanumeric() || c == '_') {
                    item.push(c);
                    continue;
                }
                if !item.is_empty() {
                    names.insert(std::mem::take(&mut item));
                }
                if !c.is_whitespace() {
                    item_start = false;
                }
            }
            if !item.is_empty() {
                names.insert(item);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

#[test]
fn layers_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for (module, forbidden) in FORBIDDEN {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for name in named_modules(&text) {
                if forbidden.contains(&name.as_str()) {
                    breaches.push(format!("{} names crate::{name}", file.display()));
                }
            }
        }
    }
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn grouped_imports_are_read() {
    let names = named_modules(
        "use crate::{\n    config::{self, X},\n    tun::TunQueue, ops};\nlet a = crate::pool::x;",
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, ["config", "ops", "pool", "tun"]);
}
