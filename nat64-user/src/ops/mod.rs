//! Operations: what an operator sees and runs around the datapath — the daemon's snapshot
//! (one source for `nat64 stats`, `nat64 status`, `--json` and the metrics endpoint), the
//! Prometheus endpoint, systemd integration, and `nat64 doctor`.

pub mod collect;
pub mod control_socket;
pub mod doctor;
pub mod http;
pub mod journal;
pub mod metrics;
pub mod recent_errors;
pub mod snapshot;
pub mod stats_text;
pub mod status_text;
pub mod systemd;
