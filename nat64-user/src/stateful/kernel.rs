//! Which sessions the kernel programs translate by themselves: those whose packets need no
//! decision of ours, so that a packet the kernel translates changes nothing but the
//! session's last use (UDP, ICMP echo, and TCP between its handshake and its second FIN:
//! the programs leave every SYN, FIN and RST to us). Hairpinned flows stay here (the second
//! crossing gives back the hop the first took). The tables say what changes; the gateway
//! writes it into the kernel's session maps.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::config::Protocol;
use super::tcp::TcpState;

/// A session as the kernel's maps hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSession {
    pub protocol: Protocol,
    /// The IPv6 host's end (address, port or echo identifier).
    pub host: (Ipv6Addr, u16),
    /// pool4's end.
    pub local: (Ipv4Addr, u16),
    /// The IPv4 remote's end (port 0 for an echo).
    pub remote: (Ipv4Addr, u16),
}

/// A change the kernel's session maps must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Install(KernelSession),
    Remove(KernelSession),
}

/// Whether the kernel may translate a session's packets in this state: a packet without
/// SYN, FIN or RST leaves the state as it is and sets the lifetime the state has.
pub(crate) fn may_translate(tcp: Option<TcpState>) -> bool {
    match tcp {
        None => true,
        Some(state) => matches!(
            state,
            TcpState::Established | TcpState::V6FinRcv | TcpState::V4FinRcv
        ),
    }
}
