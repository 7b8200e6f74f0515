//! Shared benchmark fixtures.
