//! A super-packet translated whole, then cut as the kernel cuts it, must give the packets the
//! per-packet translator gives for its segments; what is not taken whole must say so.

use nat64_common::wire::proto;
use std::net::{Ipv4Addr, Ipv6Addr};

use nat64_common::checksum;
use nat64_common::rfc6052::Prefix;
use nat64_common::wire::{
    ipv4::{self, Ipv4},
    ipv6::Ipv6,
};
use rand::{Rng, SeedableRng};

use super::super::segment::{self, Segments};
use super::super::vnet::{GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4};
use super::*;
use crate::translate::{Eam, NoDynamicMap, Output, Translator, TranslatorConfig, Verdict};

const OWN_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OWN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const HOST_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const HOST_V4: [u8; 4] = [198, 51, 100, 7];
const SERVER_V4: [u8; 4] = [203, 0, 113, 9];
const PREFIX: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn server_v6() -> [u8; 16] {
    Prefix::new(PREFIX, 96).unwrap().embed(SERVER_V4)
}

fn translator() -> Translator {
    Translator::new(TranslatorConfig {
        prefix: Some(Prefix::new(PREFIX, 96).unwrap()),
        eam: vec![Eam::new(Ipv4Addr::from(HOST_V4), 32, Ipv6Addr::from(HOST_V6), 128).unwrap()],
        ipv4_addr: OWN_V4,
        ipv6_addr: OWN_V6,
        rfc6791_v4: Some(OWN_V4),
        ..TranslatorConfig::default()
    })
    .unwrap()
}

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

/// TCP header (with 12 bytes of options, as Linux sends timestamps) or UDP header, then data;
/// the checksum field holds the partial pseudo-header sum `pseudo`.
fn l4(proto: u8, data: &[u8], pseudo: u32) -> Vec<u8> {
    let mut l4 = Vec::new();
    if proto == proto::TCP {
        l4.extend_from_slice(&[0x9c, 0x40, 0x1f, 0x90]); // ports 40000 -> 8080
        l4.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // seq
        l4.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes()); // ack
        l4.extend_from_slice(&[0x80, 0x18 | 0x01, 0xff, 0xff, 0, 0, 0, 0]); // ACK PSH FIN
        l4.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    } else {
        l4.extend_from_slice(&[0x9c, 0x40, 0x00, 0x35]);
        l4.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    }
    l4.extend_from_slice(data);
    let at = if proto == proto::TCP { 16 } else { 6 };
    l4[at..at + 2].copy_from_slice(&checksum::fold(pseudo).to_be_bytes());
    l4
}

fn packet6(proto: u8, hop_limit: u8, data: &[u8]) -> Vec<u8> {
    let l4_len = data.len() + if proto == proto::TCP { 32 } else { 8 };
    let pseudo = checksum::pseudo_header_v6(&HOST_V6, &server_v6(), proto, l4_len as u32);
    let l4 = l4(proto, data, pseudo);
    let mut p = Ipv6::build(
        0x28,
        l4.len() as u16,
        proto,
        hop_limit,
        &HOST_V6,
        &server_v6(),
    )
    .0
    .to_vec();
    p.extend_from_slice(&l4);
    p
}

fn packet4(proto: u8, dont_fragment: bool, data: &[u8]) -> Vec<u8> {
    let l4_len = data.len() + if proto == proto::TCP { 32 } else { 8 };
    let pseudo = checksum::pseudo_header_v4(SERVER_V4, HOST_V4, proto, l4_len as u16);
    let l4 = l4(proto, data, pseudo);
    let mut p = Ipv4::build(&ipv4::Fields {
        tos: 0x28,
        total_len: (20 + l4.len()) as u16,
        id: 0x1234,
        dont_fragment,
        more_fragments: false,
        fragment_offset: 0,
        ttl: 64,
        proto,
        src: SERVER_V4,
        dst: HOST_V4,
    })
    .0
    .to_vec();
    p.extend_from_slice(&l4);
    p
}

fn hdr(gso_type: u8, gso_size: u16, ip_len: u16, proto: u8) -> VnetHdr {
    let (l4h, offset) = if proto == proto::TCP {
        (32, 16)
    } else {
        (8, 6)
    };
    VnetHdr {
        flags: vnet::F_NEEDS_CSUM,
        gso_type,
        hdr_len: ip_len + l4h,
        gso_size,
        csum_start: ip_len,
        csum_offset: offset,
    }
}

/// The read buffer as the worker fills it: headroom, header, packet.
fn read_buffer(h: &VnetHdr, pkt: &[u8]) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; HEADROOM];
    buf.extend_from_slice(&h.to_bytes());
    buf.extend_from_slice(pkt);
    let len = buf.len() - HEADROOM;
    (buf, len)
}

/// What the per-packet path makes of the segments of `pkt`.
fn per_packet(tr: &Translator, h: &VnetHdr, pkt: &[u8]) -> Vec<Vec<u8>> {
    let mut segments = Segments::new();
    segment::split(h, pkt, &mut segments).unwrap();
    let mut out = Output::new();
    segments
        .iter()
        .map(|seg| {
            assert_eq!(
                tr.translate(seg, &mut NoDynamicMap, &mut out),
                Verdict::Translated
            );
            assert_eq!(out.len(), 1);
            out.packets().next().unwrap().to_vec()
        })
        .collect()
}

/// The super-packet translated whole, then cut as the kernel would.
fn whole(tr: &Translator, h: &VnetHdr, pkt: &[u8]) -> (VnetHdr, Vec<Vec<u8>>) {
    let (mut buf, len) = read_buffer(h, pkt);
    let Offloaded::Translated { frame, segments } = translate(tr, &mut buf, len, &mut NoDynamicMap)
    else {
        panic!("not taken whole");
    };
    let frame = &buf[frame];
    let out_hdr = VnetHdr::parse(frame).unwrap();
    let mut cut = Segments::new();
    segment::split(&out_hdr, &frame[vnet::LEN..], &mut cut).unwrap();
    assert_eq!(cut.len(), segments as usize);
    (out_hdr, cut.iter().map(<[u8]>::to_vec).collect())
}

/// IPv4 packets with DF may carry any identification (RFC 6864): the kernel numbers the
/// segments on, the per-packet path writes zero. And one header means one DF flag for every
/// segment: a short last one keeps the DF of the full ones, where the per-packet path would
/// clear it (at most 1,260 bytes).
fn without_id(mut p: Vec<u8>) -> Vec<u8> {
    if p[0] >> 4 == 4 {
        p[4..6].fill(0);
        p[6] &= !0x40;
        p[10..12].fill(0);
        let c = checksum::finish(checksum::sum(&p[..20], 0));
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    p
}

fn assert_same(whole: Vec<Vec<u8>>, per_packet: Vec<Vec<u8>>) {
    assert_eq!(whole.len(), per_packet.len());
    for (i, (w, p)) in whole.into_iter().zip(per_packet).enumerate() {
        assert_eq!(without_id(w), without_id(p), "segment {i}");
    }
}

/// The partial checksum after an address change, as the plan computes it.
fn adjust_partial(partial: u16, removed: u32, added: u32) -> u16 {
    let plan = plan::Plan {
        header: [0u8; 20],
        proto: proto::UDP,
        icmp_type: 0,
        removed,
        added,
        trailer: 0,
        l4_len: 0,
        port: plan::PortRewrite::NONE,
        outcome: Outcome::TranslatedV6ToV4Udp,
        stamp: (),
    };
    plan.new_partial_checksum(partial)
}

fn address_sum<const N: usize>(src: &[u8; N], dst: &[u8; N]) -> u32 {
    checksum::sum_array(dst, checksum::sum_array(src, 0))
}

#[test]
fn partial_checksum_follows_the_addresses() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..500 {
        let (src6, dst6): ([u8; 16], [u8; 16]) = (rng.gen(), rng.gen());
        let (src4, dst4): ([u8; 4], [u8; 4]) = (rng.gen(), rng.gen());
        let len = rng.gen_range(8..2000usize);
        let mut data = payload(len, rng.gen());
        data[6..8].fill(0);
        let proto = if rng.gen() { proto::TCP } else { proto::UDP };
        let partial6 = checksum::fold(checksum::pseudo_header_v6(&src6, &dst6, proto, len as u32));
        let partial4 = adjust_partial(
            partial6,
            address_sum(&src6, &dst6),
            address_sum(&src4, &dst4),
        );
        let wanted = checksum::fold(checksum::pseudo_header_v4(src4, dst4, proto, len as u16));
        // Equal as one's-complement values (0 and 0xffff are both zero).
        assert_eq!(partial4 % 0xffff, wanted % 0xffff);
        // And finishing it gives a checksum that verifies.
        data[6..8].copy_from_slice(&partial4.to_be_bytes());
        segment::finish_partial(&mut data, 0, 6).unwrap();
        let pseudo = checksum::pseudo_header_v4(src4, dst4, proto, len as u16);
        assert_eq!(checksum::fold(checksum::sum(&data, pseudo)), 0xffff);
    }
}

#[test]
fn tcp6_super_packet_gives_the_per_packet_segments() {
    let data = payload(3 * 1400 + 321, 1);
    let pkt = packet6(proto::TCP, 64, &data);
    let h = hdr(GSO_TCPV6, 1400, 40, proto::TCP);
    let (out, segments) = whole(&translator(), &h, &pkt);
    assert_eq!(out.gso_type, GSO_TCPV4);
    assert_eq!(
        (out.csum_start, out.csum_offset, out.gso_size),
        (20, 16, 1400)
    );
    assert_eq!(segments.len(), 4);
    assert_same(segments, per_packet(&translator(), &h, &pkt));
}

#[test]
fn small_segments_leave_df_clear_with_the_identifications_the_per_packet_path_uses() {
    let data = payload(5 * 500, 2);
    let pkt = packet6(proto::TCP, 64, &data);
    let h = hdr(GSO_TCPV6, 500, 40, proto::TCP);
    let (_, segments) = whole(&translator(), &h, &pkt);
    assert!(segments.iter().all(|s| s[6] & 0x40 == 0));
    // Byte for byte, identifications included.
    assert_eq!(segments, per_packet(&translator(), &h, &pkt));
}

#[test]
fn tcp4_super_packet_gives_the_per_packet_segments() {
    let data = payload(10 * 1380, 3);
    let pkt = packet4(proto::TCP, true, &data);
    let h = hdr(GSO_TCPV4, 1380, 20, proto::TCP);
    let (out, segments) = whole(&translator(), &h, &pkt);
    assert_eq!(out.gso_type, GSO_TCPV6);
    assert_eq!((out.csum_start, out.hdr_len), (40, 72));
    assert_eq!(segments, per_packet(&translator(), &h, &pkt));
}

#[test]
fn uso_both_ways_gives_the_per_packet_datagrams() {
    let data = payload(7 * 1200 + 5, 4);
    let pkt = packet6(proto::UDP, 64, &data);
    let h = hdr(GSO_UDP_L4, 1200, 40, proto::UDP);
    let (out, segments) = whole(&translator(), &h, &pkt);
    assert_eq!(out.gso_type, GSO_UDP_L4);
    assert_same(segments, per_packet(&translator(), &h, &pkt));

    let pkt = packet4(proto::UDP, true, &data);
    let h = hdr(GSO_UDP_L4, 1200, 20, proto::UDP);
    let (_, segments) = whole(&translator(), &h, &pkt);
    assert_eq!(segments, per_packet(&translator(), &h, &pkt));
}

#[test]
fn partial_checksum_without_gso_is_finished_like_the_per_packet_output() {
    for proto in [proto::TCP, proto::UDP] {
        let data = payload(99, 5);
        let pkt = packet6(proto, 64, &data);
        let h = hdr(GSO_NONE, 0, 40, proto);
        let (out, segments) = whole(&translator(), &h, &pkt);
        assert_eq!((out.gso_type, out.flags), (GSO_NONE, vnet::F_NEEDS_CSUM));
        assert_eq!(segments, per_packet(&translator(), &h, &pkt));

        let pkt = packet4(proto, false, &data);
        let h = hdr(GSO_NONE, 0, 20, proto);
        let (_, segments) = whole(&translator(), &h, &pkt);
        assert_eq!(segments, per_packet(&translator(), &h, &pkt));
    }
}

fn taken_whole(tr: &Translator, h: &VnetHdr, pkt: &[u8]) -> bool {
    let (mut buf, len) = read_buffer(h, pkt);
    matches!(
        translate(tr, &mut buf, len, &mut NoDynamicMap),
        Offloaded::Translated { .. }
    )
}

#[test]
fn what_the_per_packet_path_would_answer_or_fragment_is_left_to_it() {
    let tr = translator();
    let data = payload(4 * 1400, 6);
    let tcp6 = hdr(GSO_TCPV6, 1400, 40, proto::TCP);
    assert!(taken_whole(&tr, &tcp6, &packet6(proto::TCP, 64, &data)));
    // Hop limit expiry: Time Exceeded per segment.
    assert!(!taken_whole(&tr, &tcp6, &packet6(proto::TCP, 1, &data)));
    // Segments too big for the IPv4 MTU: Packet Too Big.
    let big = hdr(GSO_TCPV6, 1460, 40, proto::TCP);
    assert!(!taken_whole(&tr, &big, &packet6(proto::TCP, 64, &data)));
    // A checksum already complete is not the offload this path reasons about.
    let full = VnetHdr { flags: 0, ..tcp6 };
    assert!(!taken_whole(&tr, &full, &packet6(proto::TCP, 64, &data)));
    // GSO type of the other family.
    let wrong = hdr(GSO_TCPV4, 1400, 40, proto::TCP);
    assert!(!taken_whole(&tr, &wrong, &packet6(proto::TCP, 64, &data)));
    // An extension header in front of TCP.
    let mut ext = packet6(proto::TCP, 64, &data);
    ext[6] = 0;
    ext.splice(40..40, [proto::TCP, 0, 1, 4, 0, 0, 0, 0]);
    let len = u16::from_be_bytes([ext[4], ext[5]]) + 8;
    ext[4..6].copy_from_slice(&len.to_be_bytes());
    assert!(!taken_whole(
        &tr,
        &hdr(GSO_TCPV6, 1400, 48, proto::TCP),
        &ext
    ));
    // IPv4 without DF beyond the lowest IPv6 MTU (1280): fragmented per packet.
    let tcp4 = hdr(GSO_TCPV4, 1300, 20, proto::TCP);
    assert!(taken_whole(&tr, &tcp4, &packet4(proto::TCP, true, &data)));
    assert!(!taken_whole(&tr, &tcp4, &packet4(proto::TCP, false, &data)));
    // A bad IPv4 header checksum is the per-packet path's to count.
    let mut bad = packet4(proto::TCP, true, &data);
    bad[10] ^= 1;
    assert!(!taken_whole(&tr, &tcp4, &bad));
    // Truncated input never panics.
    let pkt = packet6(proto::TCP, 64, &data);
    for cut in [0, 1, 39, 40, 50, 71, 72, 500] {
        assert!(!taken_whole(&tr, &tcp6, &pkt[..cut]));
    }
}

#[test]
fn cutting_refuses_what_it_cannot_cut_without_panicking() {
    let mut out = Segments::new();
    let data = payload(3000, 8);
    let pkt = packet6(proto::TCP, 64, &data);
    let zero = hdr(GSO_TCPV6, 0, 40, proto::TCP);
    assert!(segment::split(&zero, &pkt, &mut out).is_err());
    let ufo = VnetHdr {
        gso_type: vnet::GSO_UDP,
        ..hdr(GSO_UDP_L4, 1000, 40, proto::UDP)
    };
    assert!(segment::split(&ufo, &pkt, &mut out).is_err());
    let outside = VnetHdr {
        csum_start: 60_000,
        ..hdr(GSO_NONE, 0, 40, proto::TCP)
    };
    assert!(segment::split(&outside, &pkt, &mut out).is_err());
    let tcp6 = hdr(GSO_TCPV6, 1000, 40, proto::TCP);
    for cut in [0, 1, 39, 40, 50, 71] {
        assert!(
            segment::split(&tcp6, &pkt[..cut], &mut out).is_err(),
            "cut {cut}"
        );
    }
}
