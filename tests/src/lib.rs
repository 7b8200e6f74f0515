//! Helpers shared by the test files under `tests/tests/`.

pub mod netns;
pub mod packets;
pub mod privileges;
