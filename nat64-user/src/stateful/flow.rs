//! The transport identity of a packet, as RFC 6146 §3.4 reads it: which IPv6 host and port
//! (or ICMP identifier) it belongs to, which IPv4 remote, and whether it is a query (it may
//! open or refresh a session) or an ICMP error (it only follows a binding, through the
//! packet it quotes, §3.5.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::counters::DropReason;
use nat64_common::rfc6052::Prefix;
use nat64_common::wire::{icmp, proto, tcp};

use super::config::Protocol;
use super::tcp::Flags;
use crate::translate::wire::{self, parse_v4, parse_v6};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// TCP, UDP or an ICMP echo: `opens` when it may make a binding (a TCP SYN, any UDP, an
    /// echo request).
    Query { flags: Flags, opens: bool },
    /// An ICMP error quoting a packet of the flow.
    Error,
}

/// An IPv6 packet's flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow6 {
    pub protocol: Protocol,
    /// The IPv6 host's end (the source of a query, the destination of the quoted packet).
    pub local: (Ipv6Addr, u16),
    /// The IPv4 remote's end, from the prefix (an ICMP query's remote has no port: 0).
    pub remote: (Ipv4Addr, u16),
    pub kind: Kind,
}

/// An IPv4 packet's flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow4 {
    pub protocol: Protocol,
    /// pool4's end (the destination of a query, the source of the quoted packet).
    pub local: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    pub kind: Kind,
}

/// The identifiers at the start of a transport header: (source, destination, TCP flags)
/// for TCP and UDP, the echo identifier twice for an ICMP echo (`None` for anything else).
fn ports(protocol: u8, l4: &[u8], echo: [u8; 2]) -> Option<(Protocol, u16, u16, Flags, bool)> {
    match protocol {
        proto::TCP => {
            let flags = Flags::from_byte(wire::u8_at(l4, tcp::field::FLAGS)?);
            Some((
                Protocol::Tcp,
                wire::u16_at(l4, 0)?,
                wire::u16_at(l4, 2)?,
                flags,
                flags.syn && !flags.rst,
            ))
        }
        proto::UDP => Some((
            Protocol::Udp,
            wire::u16_at(l4, 0)?,
            wire::u16_at(l4, 2)?,
            Flags::default(),
            true,
        )),
        proto::ICMP | proto::ICMPV6 => {
            let ty = wire::u8_at(l4, icmp::field::TYPE)?;
            let id = wire::u16_at(l4, icmp::field::REST)?;
            let [request, reply] = echo;
            (ty == request || ty == reply).then_some((
                Protocol::Icmp,
                id,
                id,
                Flags::default(),
                ty == request,
            ))
        }
        _ => None,
    }
}

/// The flow of an IPv6 packet towards the prefix.
pub(crate) fn of_v6(pkt: &[u8], prefix: &Prefix) -> Result<Flow6, DropReason> {
    let h = parse_v6(pkt).map_err(|_| DropReason::BadIpHeader)?;
    if h.frag.is_some_and(|f| f.offset != 0) {
        return Err(DropReason::StatefulFragment);
    }
    let l4 = pkt.get(h.l4_offset..).ok_or(DropReason::Truncated)?;
    let echo = [icmp::v6::ECHO_REQUEST, icmp::v6::ECHO_REPLY];
    if let Some((protocol, sport, dport, flags, opens)) = ports(h.proto, l4, echo) {
        let remote = prefix.extract(&h.dst).ok_or(DropReason::NotForTranslator)?;
        let remote_port = if protocol == Protocol::Icmp { 0 } else { dport };
        return Ok(Flow6 {
            protocol,
            local: (Ipv6Addr::from(h.src), sport),
            remote: (Ipv4Addr::from(remote), remote_port),
            kind: Kind::Query { flags, opens },
        });
    }
    if h.proto != proto::ICMPV6 {
        return Err(DropReason::UnsupportedProtocol);
    }
    // An error: the quoted packet went from the remote (behind the prefix) to the host.
    let quoted = l4.get(icmp::HEADER_LEN..).ok_or(DropReason::Truncated)?;
    let inner = parse_v6(quoted).map_err(|_| DropReason::BadIcmpError)?;
    if inner.frag.is_some_and(|f| f.offset != 0) {
        return Err(DropReason::BadIcmpError);
    }
    let inner_l4 = quoted.get(inner.l4_offset..).ok_or(DropReason::Truncated)?;
    let (protocol, sport, dport, _, _) =
        ports(inner.proto, inner_l4, echo).ok_or(DropReason::BadIcmpError)?;
    let remote = prefix
        .extract(&inner.src)
        .ok_or(DropReason::NotForTranslator)?;
    let remote_port = if protocol == Protocol::Icmp { 0 } else { sport };
    Ok(Flow6 {
        protocol,
        local: (Ipv6Addr::from(inner.dst), dport),
        remote: (Ipv4Addr::from(remote), remote_port),
        kind: Kind::Error,
    })
}

/// The flow of an IPv4 packet towards pool4.
pub(crate) fn of_v4(pkt: &[u8]) -> Result<Flow4, DropReason> {
    let h = parse_v4(pkt).ok_or(DropReason::BadIpHeader)?;
    if h.frag.offset != 0 {
        return Err(DropReason::StatefulFragment);
    }
    let l4 = pkt.get(h.header_len..).ok_or(DropReason::Truncated)?;
    let echo = [icmp::v4::ECHO_REQUEST, icmp::v4::ECHO_REPLY];
    if let Some((protocol, sport, dport, flags, opens)) = ports(h.proto, l4, echo) {
        let remote_port = if protocol == Protocol::Icmp { 0 } else { sport };
        return Ok(Flow4 {
            protocol,
            local: (Ipv4Addr::from(h.dst), dport),
            remote: (Ipv4Addr::from(h.src), remote_port),
            kind: Kind::Query { flags, opens },
        });
    }
    if h.proto != proto::ICMP {
        return Err(DropReason::UnsupportedProtocol);
    }
    let quoted = l4.get(icmp::HEADER_LEN..).ok_or(DropReason::Truncated)?;
    let inner = parse_v4(quoted).ok_or(DropReason::BadIcmpError)?;
    if inner.frag.offset != 0 {
        return Err(DropReason::BadIcmpError);
    }
    let inner_l4 = quoted
        .get(inner.header_len..)
        .ok_or(DropReason::Truncated)?;
    let (protocol, sport, dport, _, _) =
        ports(inner.proto, inner_l4, echo).ok_or(DropReason::BadIcmpError)?;
    let remote_port = if protocol == Protocol::Icmp { 0 } else { dport };
    Ok(Flow4 {
        protocol,
        local: (Ipv4Addr::from(inner.src), sport),
        remote: (Ipv4Addr::from(inner.dst), remote_port),
        kind: Kind::Error,
    })
}
