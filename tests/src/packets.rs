//! Sample packets, as a TUN device hands them over (starting at the IP header), and the
//! translator configuration they are meant for. Shared by tests and benchmarks so both
//! measure the same traffic.
//!
//! Addresses: the IPv6 client 2001:db8:1::10 is mapped to 198.51.100.16 by an explicit
//! address mapping (`map 198.51.100.0/24 2001:db8:1::/120`); IPv4 servers in 203.0.113.0/24
//! are reached through the RFC 6052 prefix 2001:db8:64::/96. All documentation addresses.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{Icmpv4Type, Icmpv6Type, IpHeaders, PacketBuilder, PacketBuilderStep};

pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 16);
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
/// SERVER_V4 as the IPv6 client sees it: 2001:db8:64::203.0.113.5.
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xcb00, 0x7105);
pub const PREFIX: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0), 96);
pub const EAM: ((Ipv4Addr, u8), (Ipv6Addr, u8)) = (
    (Ipv4Addr::new(198, 51, 100, 0), 24),
    (Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0), 120),
);
pub const TRANSLATOR_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const TRANSLATOR_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// Serialises a finished etherparse builder (each transport ends in its own step type).
macro_rules! build {
    ($builder:expr, $payload:expr $(,)?) => {{
        let builder = $builder;
        let payload: &[u8] = $payload;
        let mut packet = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut packet, payload)
            .unwrap_or_else(|e| unreachable!("writing to a Vec cannot fail: {e}"));
        packet
    }};
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn from_client() -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ipv6(CLIENT_V6.octets(), SERVER_V6.octets(), 64)
}

fn from_server() -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ipv4(SERVER_V4.octets(), CLIENT_V4.octets(), 64)
}

/// IPv6 UDP from the client to the server, `len` bytes of payload.
pub fn udp6(len: usize) -> Vec<u8> {
    build!(from_client().udp(40000, 53), &payload(len))
}

/// IPv4 UDP from the server back to the client's IPv4 form.
pub fn udp4(len: usize) -> Vec<u8> {
    build!(from_server().udp(53, 40000), &payload(len))
}

/// IPv6 TCP (ACK|PSH) from the client to the server.
pub fn tcp6(len: usize) -> Vec<u8> {
    build!(
        from_client()
            .tcp(40000, 443, 0x0102_0304, 64240)
            .ack(0x0a0b_0c0d)
            .psh(),
        &payload(len),
    )
}

/// IPv4 TCP from the server to the client.
pub fn tcp4(len: usize) -> Vec<u8> {
    build!(
        from_server()
            .tcp(443, 40000, 0x0a0b_0c0d, 64240)
            .ack(0x0102_0304)
            .psh(),
        &payload(len),
    )
}

/// ICMPv6 echo request from the client.
pub fn icmp6_echo(len: usize) -> Vec<u8> {
    build!(from_client().icmpv6_echo_request(0x1234, 1), &payload(len))
}

/// ICMPv4 echo reply from the server.
pub fn icmp4_echo_reply(len: usize) -> Vec<u8> {
    build!(from_server().icmpv4_echo_reply(0x1234, 1), &payload(len))
}

/// ICMPv4 port unreachable from the server, quoting the client's (translated) UDP datagram
/// with `len` bytes of payload.
pub fn icmp4_port_unreachable(len: usize) -> Vec<u8> {
    let quoted = build!(
        PacketBuilder::ipv4(CLIENT_V4.octets(), SERVER_V4.octets(), 63).udp(40000, 53),
        &payload(len),
    );
    build!(
        from_server().icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        )),
        &quoted,
    )
}

/// ICMPv6 packet too big from a router on the IPv6 side, quoting the server's (translated)
/// UDP datagram to the client.
pub fn icmp6_packet_too_big(len: usize) -> Vec<u8> {
    let quoted = build!(
        PacketBuilder::ipv6(SERVER_V6.octets(), CLIENT_V6.octets(), 63).udp(53, 40000),
        &payload(len),
    );
    build!(
        PacketBuilder::ipv6(
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1).octets(),
            SERVER_V6.octets(),
            64,
        )
        .icmpv6(Icmpv6Type::PacketTooBig { mtu: 1280 }),
        &quoted,
    )
}

/// Every sample kind, by name, at a given payload length: the seeds that fuzzing mutates.
pub fn all_samples(len: usize) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("udp6", udp6(len)),
        ("udp4", udp4(len)),
        ("tcp6", tcp6(len)),
        ("tcp4", tcp4(len)),
        ("icmp6_echo", icmp6_echo(len)),
        ("icmp4_echo_reply", icmp4_echo_reply(len)),
        ("icmp4_port_unreachable", icmp4_port_unreachable(len)),
        ("icmp6_packet_too_big", icmp6_packet_too_big(len)),
    ]
}

/// The translator these samples are addressed for.
pub fn translator() -> nat64::translate::Translator {
    use nat64::translate::{Eam, Prefix, Translator, TranslatorConfig};
    let ((eam_v4, eam_v4_len), (eam_v6, eam_v6_len)) = EAM;
    let config = TranslatorConfig {
        prefix: Some(
            Prefix::new(PREFIX.0.octets(), PREFIX.1)
                .unwrap_or_else(|e| unreachable!("the sample prefix is valid: {e:?}")),
        ),
        eam: vec![Eam::new(eam_v4, eam_v4_len, eam_v6, eam_v6_len)
            .unwrap_or_else(|e| unreachable!("the sample map is valid: {e}"))],
        ipv4_addr: TRANSLATOR_V4,
        ipv6_addr: TRANSLATOR_V6,
        rfc6791_v4: Some(TRANSLATOR_V4),
        rfc6791_v6: Some(TRANSLATOR_V6),
        ..TranslatorConfig::default()
    };
    Translator::new(config)
        .unwrap_or_else(|e| unreachable!("the sample configuration is valid: {e}"))
}
