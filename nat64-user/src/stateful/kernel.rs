//! Which sessions the kernel programs translate by themselves: those whose packets need no
//! decision of ours, so that a packet the kernel translates changes nothing but the
//! session's last use (UDP, ICMP echo, and TCP between its handshake and its second FIN:
//! the programs leave every SYN, FIN and RST to us). Hairpinned flows stay here (the second
//! crossing gives back the hop the first took). The tables say what changes; the gateway
//! writes it into the kernel's session maps.
//!
//! The programs also open UDP and ICMP echo sessions themselves, in a port block the
//! subscriber lends them ([`KernelBindings`]). The bindings are where the two may race (a
//! host's packets on two CPUs, or one in the kernel and one here): whoever enters a binding
//! in the kernel's binding maps first holds it, so userspace claims its own there as it
//! makes them, synchronously, and adopts what the kernel opened from its ring.

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

/// What holds a binding userspace tried to enter in the kernel's binding maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// It is entered: the binding is userspace's to make.
    Took,
    /// The pool4 end is the kernel's already, bound to this IPv6 end.
    PortTaken((Ipv6Addr, u16)),
    /// The IPv6 end is bound already, to this pool4 end.
    HostBound((Ipv4Addr, u16)),
}

/// A port block lent to the kernel programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lent {
    pub addr: Ipv4Addr,
    pub first: u16,
    pub len: u16,
}

/// The kernel's binding maps, lent blocks and the ring of sessions it opened: what the
/// stateful tables ask and tell synchronously, as they make and remove bindings.
pub trait KernelBindings: Send + std::fmt::Debug {
    /// The binding the kernel holds for `v6`, if any.
    fn bound(&self, protocol: Protocol, v6: (Ipv6Addr, u16)) -> Option<(Ipv4Addr, u16)>;
    /// Enters `v6` ↔ `v4` unless either end is held already: then what holds it.
    fn claim(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16)) -> Claim;
    /// Removes `v6` ↔ `v4` (only entries that still say so).
    fn release(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16));
    /// Lends `block` to `subscriber`'s new bindings (`None`: takes back what it lent).
    fn lend(&mut self, protocol: Protocol, subscriber: Ipv6Addr, block: Option<Lent>);
    /// Replaces the pool4 addresses the programs know (a flow to one is hairpinned, left
    /// to userspace); `false` when they could not be entered, and nothing must be lent.
    fn enter_pool4(&mut self, pool4: &[Ipv4Addr]) -> bool;
    /// Empties the binding maps and lent blocks (the sessions the ring still holds are
    /// read first by whoever calls this).
    fn clear(&mut self);
    /// The sessions the kernel opened since the last call, oldest first.
    fn opened(&mut self, into: &mut Vec<KernelSession>);
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
