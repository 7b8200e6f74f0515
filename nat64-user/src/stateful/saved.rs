//! The state a restart carries over (RFC 6146 leaves it to the implementation; an upgrade
//! that dropped it would break every open connection): the dynamic bindings, each with the
//! port it holds, and their sessions with the time they have left. Static bindings and
//! blocks follow from the configuration and the bindings.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::tcp::TcpState;

/// Bumped when the layout changes; a file of another version is not read.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    pub version: u32,
    pub bindings: Vec<SavedBinding>,
    pub sessions: Vec<SavedSession>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedBinding {
    pub protocol: String,
    pub v6: Ipv6Addr,
    pub port6: u16,
    pub v4: Ipv4Addr,
    pub port4: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    pub protocol: String,
    pub v4: Ipv4Addr,
    pub port4: u16,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
    pub tcp_state: Option<TcpState>,
    pub expires_in_ms: u64,
}

/// What a restore kept and what it could not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub bindings: usize,
    pub sessions: usize,
    /// Bindings the configuration no longer allows (pool4 or blocks changed), or that clash.
    pub dropped: usize,
}
