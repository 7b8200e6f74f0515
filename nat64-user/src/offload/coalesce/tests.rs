//! Glued datagrams, cut apart as the kernel cuts them, must be the datagrams that went in
//! (IPv4 identification aside), flow by flow and in order.

use nat64_common::checksum;
use nat64_common::wire::proto;
use nat64_common::wire::{
    ipv4::{self, Ipv4},
    ipv6::Ipv6,
};

use super::*;
use crate::offload::segment::{self, Segments};

fn udp4(src_port: u16, payload: usize, dont_fragment: bool, id: u16) -> Vec<u8> {
    let src = [198, 51, 100, 7];
    let dst = [203, 0, 113, 9];
    let mut p = Ipv4::build(&ipv4::Fields {
        tos: 0,
        total_len: (28 + payload) as u16,
        id,
        dont_fragment,
        more_fragments: false,
        fragment_offset: 0,
        ttl: 63,
        proto: proto::UDP,
        src,
        dst,
    })
    .0
    .to_vec();
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&53u16.to_be_bytes());
    p.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload).map(|i| (i as u8).wrapping_mul(7).wrapping_add(src_port as u8)));
    let pseudo = checksum::pseudo_header_v4(src, dst, proto::UDP, (8 + payload) as u16);
    let c = match checksum::finish(checksum::sum(&p[20..], pseudo)) {
        0 => 0xffff,
        c => c,
    };
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

fn udp6(src_port: u16, payload: usize) -> Vec<u8> {
    let src = [
        0x20, 1, 0xd, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 0xcb, 0, 0x71, 9,
    ];
    let dst = [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    let mut p = Ipv6::build(0, (8 + payload) as u16, proto::UDP, 63, &src, &dst)
        .0
        .to_vec();
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&53u16.to_be_bytes());
    p.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload).map(|i| (i as u8) ^ (src_port as u8)));
    let pseudo = checksum::pseudo_header_v6(&src, &dst, proto::UDP, (8 + payload) as u32);
    let c = match checksum::finish(checksum::sum(&p[40..], pseudo)) {
        0 => 0xffff,
        c => c,
    };
    p[46..48].copy_from_slice(&c.to_be_bytes());
    p
}

/// Pushes `packets`, flushes, and cuts every frame written: the packets as they leave, and
/// how many super-packets carried them.
fn through(c: &mut Coalescer, packets: &[Vec<u8>]) -> (Vec<Vec<u8>>, Flushed) {
    for p in packets {
        c.push(p);
    }
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut next_id = 0x4000u16;
    let flushed = c.flush(
        |frame| {
            frames.push(frame.to_vec());
            Ok(frame.len())
        },
        |n| {
            let first = next_id;
            next_id = next_id.wrapping_add(n as u16);
            first
        },
    );
    assert!(c.is_empty());
    let mut out = Vec::new();
    let mut cut = Segments::new();
    for frame in frames {
        let hdr = VnetHdr::parse(&frame).unwrap();
        segment::split(&hdr, &frame[vnet::LEN..], &mut cut).unwrap();
        out.extend(cut.iter().map(<[u8]>::to_vec));
    }
    (out, flushed)
}

fn without_id(mut p: Vec<u8>) -> Vec<u8> {
    if p[0] >> 4 == 4 {
        p[4..6].fill(0);
        p[10..12].fill(0);
    }
    p
}

fn flow(packets: &[Vec<u8>], port: u16) -> Vec<Vec<u8>> {
    packets
        .iter()
        .filter(|p| {
            let at = if p[0] >> 4 == 4 { 20 } else { 40 };
            p[at..at + 2] == port.to_be_bytes()
        })
        .cloned()
        .map(without_id)
        .collect()
}

#[test]
fn interleaved_flows_are_glued_per_flow_and_cut_back_to_the_same_datagrams() {
    let mut c = Coalescer::new(true, true);
    let mut packets = Vec::new();
    for i in 0..10u16 {
        packets.push(udp4(1000, 100, false, i * 2));
        packets.push(udp4(2000, 1300, true, 0));
        packets.push(udp6(3000, if i == 9 { 17 } else { 500 }));
    }
    let (out, flushed) = through(&mut c, &packets);
    assert_eq!(flushed.super_packets, 3);
    assert_eq!(flushed.glued, 30);
    for port in [1000, 2000, 3000] {
        assert_eq!(flow(&out, port), flow(&packets, port), "flow {port}");
    }
    // The IPv4 flow without DF got a fresh run of identifications.
    let ids: Vec<u16> = out
        .iter()
        .filter(|p| p[0] >> 4 == 4 && p[6] & 0x40 == 0)
        .map(|p| u16::from_be_bytes([p[4], p[5]]))
        .collect();
    assert_eq!(ids, (0x4000..0x400a).collect::<Vec<_>>());
}

#[test]
fn a_longer_datagram_or_other_traffic_starts_anew_and_order_holds() {
    let mut c = Coalescer::new(true, true);
    let mut zero = udp4(5, 50, true, 0);
    zero[26..28].fill(0);
    let mut tcp = udp4(6, 50, true, 0);
    tcp[9] = 6;
    let packets = vec![
        udp4(1, 200, true, 0),
        udp4(1, 200, true, 0),
        udp4(1, 100, true, 0),
        // After a shorter one the flow's super-packet is closed.
        udp4(1, 200, true, 0),
        udp4(1, 300, true, 0),
        zero.clone(),
        tcp.clone(),
        udp4(1, 300, true, 0),
    ];
    let (out, flushed) = through(&mut c, &packets);
    assert_eq!(flushed.super_packets, 2);
    assert_eq!(flow(&out, 1), flow(&packets, 1));
    // Not glued, and written as they were.
    assert!(out.contains(&zero) && out.contains(&tcp));
}

#[test]
fn without_uso_every_packet_goes_alone_and_unchanged() {
    let mut c = Coalescer::new(false, false);
    let packets: Vec<Vec<u8>> = (0..5).map(|_| udp4(1, 100, false, 7)).collect();
    let (out, flushed) = through(&mut c, &packets);
    assert_eq!(
        flushed,
        Flushed {
            packets_written: 5,
            ..Flushed::default()
        }
    );
    assert_eq!(out, packets);
}

#[test]
fn a_super_packet_holds_at_most_64_segments_and_64_kib() {
    let mut c = Coalescer::new(true, true);
    let packets: Vec<Vec<u8>> = (0..130).map(|_| udp6(9, 100)).collect();
    let (out, flushed) = through(&mut c, &packets);
    assert_eq!(flushed.super_packets, 3);
    assert_eq!(out, packets);
    let big: Vec<Vec<u8>> = (0..60).map(|_| udp6(9, 1400)).collect();
    let (out, flushed) = through(&mut c, &big);
    assert_eq!(out, big);
    assert_eq!(flushed.super_packets, 2, "46 of 1,400 bytes fill 64 KiB");
}

#[test]
fn junk_never_panics_and_goes_alone() {
    let mut c = Coalescer::new(true, true);
    for len in 0..80 {
        let mut p = udp6(1, 40);
        p.truncate(len);
        c.push(&p);
        let mut q = udp4(1, 40, true, 0);
        q.truncate(len);
        c.push(&q);
    }
    let mut written = 0;
    let flushed = c.flush(
        |f| {
            written += 1;
            Ok(f.len())
        },
        |_| 0,
    );
    // The untruncated copies (lengths past the packet's) are glued; the rest go alone.
    assert_eq!(written + flushed.glued - flushed.super_packets, 160);
    assert_eq!(flushed.super_packets, 1);
}

#[test]
fn a_refused_super_packet_is_written_datagram_by_datagram() {
    let mut c = Coalescer::new(true, true);
    let packets: Vec<Vec<u8>> = (0..4).map(|_| udp6(9, 100)).collect();
    for p in &packets {
        c.push(p);
    }
    let mut written = Vec::new();
    let flushed = c.flush(
        |frame| {
            if VnetHdr::parse(frame).unwrap().gso_type != vnet::GSO_NONE {
                return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
            }
            written.push(frame[vnet::LEN..].to_vec());
            Ok(frame.len())
        },
        |_| 0,
    );
    assert_eq!(
        flushed,
        Flushed {
            packets_written: packets.len() as u64,
            ..Flushed::default()
        }
    );
    assert_eq!(written, packets);
}
