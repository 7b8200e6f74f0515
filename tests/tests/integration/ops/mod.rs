//! Operations: metrics, `status`/`stats`/`mappings --json` and systemd's notify protocol
//! (`operations`), `nat64 doctor` (`doctor`), the systemd units (`systemd_units`), logging to
//! the journal (`journal_logging`), the Debian package (`debian_package`). Most need root
//! and some an external tool (promtool, lintian, systemd-analyze, unshare), which
//! `cargo xtask setup` installs.

mod debian_package;
mod doctor;
mod journal_logging;
mod operations;
mod systemd_units;
