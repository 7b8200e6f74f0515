//! Configuration and persistence through the library's public API: whole `tayga.conf` and
//! TOML files (`files`) and `dynamic.map` as TAYGA and nat64 write it (`dynamic_pool`).
//! Fixtures live in `tests/fixtures/`. No root.

mod dynamic_pool;
mod files;
