//! The layout itself (see `tests/README.md`): one integration-test binary. A test file
//! dropped into `tests/tests/` or into another crate's `tests/` would become a binary of its
//! own — linked separately, and run beside this one outside the lock that serialises the
//! root tests — and a file under `integration/` that no `mod` line names is never compiled.

use std::path::{Path, PathBuf};

use nat64_tests::tools::workspace_root;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn there_is_one_integration_test_binary() {
    let root = workspace_root();
    let tests = root.join("tests/tests");
    let top: Vec<String> = std::fs::read_dir(&tests)
        .expect("tests/tests")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        top,
        ["integration"],
        "tests/tests/ holds only the integration binary: put a test in a module of an area under tests/tests/integration/ (tests/README.md)"
    );
    for crate_dir in std::fs::read_dir(&root).expect("workspace root") {
        let crate_dir = crate_dir.expect("entry").path();
        if crate_dir.ends_with("tests") || !crate_dir.join("Cargo.toml").is_file() {
            continue;
        }
        let own_tests = crate_dir.join("tests");
        assert!(
            !own_tests.is_dir() || rust_files(&own_tests).is_empty(),
            "{} has integration tests of its own: move them into an area of tests/tests/integration/ (tests/README.md)",
            own_tests.display()
        );
    }
}

#[test]
fn every_test_file_is_a_module() {
    let dir = workspace_root().join("tests/tests/integration");
    for file in rust_files(&dir) {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        if name == "main" || name == "mod" {
            continue;
        }
        let parent = file.parent().expect("in a directory");
        let declared_in = if parent == dir {
            dir.join("main.rs")
        } else {
            parent.join("mod.rs")
        };
        let text = std::fs::read_to_string(&declared_in)
            .unwrap_or_else(|e| panic!("{}: {e}", declared_in.display()));
        assert!(
            text.lines().any(|l| l.trim() == format!("mod {name};")),
            "{} is never compiled: add `mod {name};` to {}",
            file.display(),
            declared_in.display()
        );
    }
}
