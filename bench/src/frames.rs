//! The frame the generator sends: Ethernet + IPv6 + UDP with a zero payload, its UDP
//! checksum computed once here (the generator only adjusts it for the source port).

use std::net::Ipv6Addr;

use nat64_common::{
    checksum,
    wire::{ethertype, ipv6::Ipv6, l4, proto},
};

pub const ETHERNET_LEN: usize = 14;
pub const IPV6_LEN: usize = nat64_common::wire::ipv6::LEN;
pub const UDP_LEN: usize = 8;
pub const FRAGMENT_LEN: usize = 8;
/// The generator rewrites this many leading bytes of every frame from the template.
pub const TEMPLATE_LEN: usize = 64;
pub const BASE_SOURCE_PORT: u16 = 10_000;
pub const DESTINATION_PORT: u16 = 9;

/// A UDP-in-IPv6 Ethernet frame and the checksum it carries for `base_port`.
pub struct UdpFrame {
    pub bytes: Vec<u8>,
    pub udp_checksum: u16,
    /// The source port of the template (the generator adds 0..flows to it).
    pub base_port: u16,
}

/// The atomic fragment's Fragment header: next header UDP, then 0 (reserved). The generator
/// writes its "source port" here (see [`UdpFrame::atomic_fragment`]).
const FRAGMENT_NEXT_HEADER_WORD: u16 = (proto::UDP as u16) << 8;
/// The low half of every fragment's Identification, written where the generator writes its
/// "checksum" (any value but 0, which the generator would turn into 0xffff).
const FRAGMENT_IDENTIFICATION_LOW: u16 = 0x6464;

impl UdpFrame {
    /// `frame_len` counts the Ethernet header, not the FCS (80 → 18 bytes of payload).
    pub fn new(
        frame_len: usize,
        source_mac: [u8; 6],
        destination_mac: [u8; 6],
        source: Ipv6Addr,
        destination: Ipv6Addr,
    ) -> Self {
        Self::with_payload(
            frame_len,
            source_mac,
            destination_mac,
            source,
            destination,
            &[],
        )
    }

    /// As [`UdpFrame::new`], the payload starting with `payload` (zeros after it).
    pub fn with_payload(
        frame_len: usize,
        source_mac: [u8; 6],
        destination_mac: [u8; 6],
        source: Ipv6Addr,
        destination: Ipv6Addr,
        payload: &[u8],
    ) -> Self {
        assert!(frame_len >= ETHERNET_LEN + IPV6_LEN + UDP_LEN + payload.len().max(2));
        let udp_len = frame_len - ETHERNET_LEN - IPV6_LEN;
        let mut bytes = ethernet_ipv6(
            frame_len,
            (source_mac, destination_mac),
            (source, destination),
            proto::UDP,
        );
        let udp = ETHERNET_LEN + IPV6_LEN;
        write_udp_ports_and_length(&mut bytes[udp..], udp_len);
        bytes[udp + UDP_LEN..udp + UDP_LEN + payload.len()].copy_from_slice(payload);
        let udp_checksum = udp6_checksum(&source, &destination, &bytes[udp..]);
        bytes[udp + 6..udp + 8].copy_from_slice(&udp_checksum.to_be_bytes());
        Self {
            bytes,
            udp_checksum,
            base_port: BASE_SOURCE_PORT,
        }
    }

    /// A UDP datagram behind an IPv6 Fragment header that says offset 0 and no more
    /// fragments (an atomic fragment, RFC 6946): what the XDP program never translates (an
    /// extension header), so every such frame takes the slow path, and what the translator
    /// turns into one whole IPv4 datagram, which a router that reassembles (conntrack) still
    /// forwards. For 1 flow and 1 host only: the generator writes its port and checksum words
    /// at the offsets of a plain UDP frame, which here are the Fragment header's next-header
    /// word and the low half of its Identification; `base_port` and `udp_checksum` carry
    /// what must stand there.
    pub fn atomic_fragment(
        frame_len: usize,
        source_mac: [u8; 6],
        destination_mac: [u8; 6],
        source: Ipv6Addr,
        destination: Ipv6Addr,
    ) -> Self {
        let headers = ETHERNET_LEN + IPV6_LEN + FRAGMENT_LEN;
        assert!(frame_len >= headers + UDP_LEN);
        let mut bytes = ethernet_ipv6(
            frame_len,
            (source_mac, destination_mac),
            (source, destination),
            proto::FRAGMENT,
        );
        let fragment = ETHERNET_LEN + IPV6_LEN;
        // Offset 0 and M clear (bytes 2..4) stay zero.
        bytes[fragment..fragment + 2].copy_from_slice(&FRAGMENT_NEXT_HEADER_WORD.to_be_bytes());
        bytes[fragment + 6..fragment + 8]
            .copy_from_slice(&FRAGMENT_IDENTIFICATION_LOW.to_be_bytes());
        let udp = headers;
        write_udp_ports_and_length(&mut bytes[udp..], frame_len - headers);
        let checksum = udp6_checksum(&source, &destination, &bytes[udp..]);
        bytes[udp + 6..udp + 8].copy_from_slice(&checksum.to_be_bytes());
        Self {
            bytes,
            udp_checksum: FRAGMENT_IDENTIFICATION_LOW,
            base_port: FRAGMENT_NEXT_HEADER_WORD,
        }
    }

    /// The leading bytes as the generator's template map holds them (native-endian words
    /// that store back as these exact bytes).
    pub fn template_words(&self) -> [u64; TEMPLATE_LEN / 8] {
        let mut words = [0u64; TEMPLATE_LEN / 8];
        for (i, word) in words.iter_mut().enumerate() {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&self.bytes[i * 8..i * 8 + 8]);
            *word = u64::from_ne_bytes(chunk);
        }
        words
    }
}

/// A `frame_len`-byte frame of zeros behind its Ethernet and IPv6 headers (hop limit 64),
/// the IPv6 payload running to the end of the frame.
fn ethernet_ipv6(
    frame_len: usize,
    (source_mac, destination_mac): ([u8; 6], [u8; 6]),
    (source, destination): (Ipv6Addr, Ipv6Addr),
    next_header: u8,
) -> Vec<u8> {
    let mut bytes = vec![0u8; frame_len];
    bytes[0..6].copy_from_slice(&destination_mac);
    bytes[6..12].copy_from_slice(&source_mac);
    bytes[12..14].copy_from_slice(&ethertype::IPV6.to_be_bytes());
    let ip = Ipv6::build(
        0,
        (frame_len - ETHERNET_LEN - IPV6_LEN) as u16,
        next_header,
        64,
        &source.octets(),
        &destination.octets(),
    );
    bytes[ETHERNET_LEN..ETHERNET_LEN + IPV6_LEN].copy_from_slice(&ip.0);
    bytes
}

/// The UDP header's ports (the generator's base source port, the discard port) and length.
fn write_udp_ports_and_length(udp: &mut [u8], udp_len: usize) {
    udp[0..2].copy_from_slice(&BASE_SOURCE_PORT.to_be_bytes());
    udp[2..4].copy_from_slice(&DESTINATION_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
}

fn udp6_checksum(source: &Ipv6Addr, destination: &Ipv6Addr, udp: &[u8]) -> u16 {
    let pseudo = checksum::pseudo_header_v6(
        &source.octets(),
        &destination.octets(),
        proto::UDP,
        udp.len() as u32,
    );
    l4::udp_checksum_on_wire(checksum::finish(checksum::sum(udp, pseudo)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_verifies_to_zero() {
        let src: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:64::c000:202".parse().unwrap();
        let frame = UdpFrame::new(80, [2; 6], [4; 6], src, dst);
        assert_eq!(frame.bytes.len(), 80);
        // A datagram carrying its own checksum sums to 0xffff (checksum 0).
        let udp = &frame.bytes[ETHERNET_LEN + IPV6_LEN..];
        assert_eq!(udp6_checksum(&src, &dst, udp), 0xffff);
    }

    #[test]
    fn the_generators_words_land_on_the_fragment_header() {
        let src: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:64::c000:202".parse().unwrap();
        let frame = UdpFrame::atomic_fragment(80, [2; 6], [4; 6], src, dst);
        assert_eq!(frame.bytes.len(), 80);
        let udp = &frame.bytes[ETHERNET_LEN + IPV6_LEN + FRAGMENT_LEN..];
        assert_eq!(udp6_checksum(&src, &dst, udp), 0xffff);
        let fragment = ETHERNET_LEN + IPV6_LEN;
        // What the generator writes at the UDP port and checksum offsets of a plain frame
        // (bench-ebpf: 14 + 40 and 14 + 40 + 6) is what the frame already holds there.
        assert_eq!(
            frame.bytes[fragment..fragment + 2],
            frame.base_port.to_be_bytes()
        );
        assert_eq!(
            frame.bytes[fragment + 6..fragment + 8],
            frame.udp_checksum.to_be_bytes()
        );
        assert_eq!(frame.bytes[fragment], proto::UDP);
        assert_eq!(frame.bytes[ETHERNET_LEN + 6], proto::FRAGMENT);
    }
}
