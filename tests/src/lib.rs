//! Helpers shared by the test files under `tests/tests/`.

pub mod jool;
