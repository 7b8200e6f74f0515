//! The drop-in for TAYGA: a TAYGA site's set-up with `tayga` pointing at nat64, and TAYGA
//! 0.9.2 taking over nat64's data-dir and back (`dropin`, root); restarts as an operator's
//! tools make them (`restarts`, root); what must never be translated, in userspace and in
//! both kernel programs (`never_translated`, the kernel half root). TAYGA's own suite runs
//! from `cargo xtask test` (`cargo xtask tayga-suite`).

mod dropin;
mod never_translated;
mod restarts;
