//! The checks applied to what the code under test does with an input.

pub mod config_rules;
pub mod ip;
pub mod pool_rules;
pub mod same_bytes;
pub mod translation;
