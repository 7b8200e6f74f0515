//! Behaviour the Jool vectors do not cover: TAYGA's UDP checksum modes, hop limit expiry and
//! the errors the translator sends itself, the well-known-prefix rule, the dynamic pool hook,
//! fragmentation, and robustness against arbitrary input.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;
use nat64_common::checksum;
use nat64_common::rfc6052::WELL_KNOWN_PREFIX;
use rand::{Rng, SeedableRng};

use super::*;

const OWN_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OWN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// An IPv6 host with a static mapping to 198.51.100.7.
const HOST_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const HOST_V4: [u8; 4] = [198, 51, 100, 7];
/// A global IPv4 server.
const SERVER_V4: [u8; 4] = [203, 0, 114, 9];

fn server_v6() -> [u8; 16] {
    WELL_KNOWN_PREFIX.embed(SERVER_V4)
}

fn config() -> TranslatorConfig {
    TranslatorConfig {
        prefix: Some(WELL_KNOWN_PREFIX),
        eam: vec![Eam::new(Ipv4Addr::from(HOST_V4), 32, Ipv6Addr::from(HOST_V6), 128).unwrap()],
        ipv4_addr: OWN_V4,
        ipv6_addr: OWN_V6,
        rfc6791_v4: Some(OWN_V4),
        ..TranslatorConfig::default()
    }
}

fn translator(cfg: TranslatorConfig) -> Translator {
    Translator::new(cfg).unwrap()
}

fn udp4(ttl: u8, payload: &[u8], zero_checksum: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    PacketBuilder::ipv4(SERVER_V4, HOST_V4, ttl)
        .udp(53, 4000)
        .write(&mut buf, payload)
        .unwrap();
    if zero_checksum {
        buf[26] = 0;
        buf[27] = 0;
    }
    buf
}

fn udp6(hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    PacketBuilder::ipv6(HOST_V6, server_v6(), hop_limit)
        .udp(4000, 53)
        .write(&mut buf, payload)
        .unwrap();
    buf
}

fn only_packet(out: &Output) -> Vec<u8> {
    let packets: Vec<&[u8]> = out.packets().collect();
    assert_eq!(packets.len(), 1);
    packets[0].to_vec()
}

/// Whether the UDP/ICMPv6 checksum of an IPv6 packet without extension headers verifies.
fn v6_l4_checksum_ok(pkt: &[u8]) -> bool {
    let src: [u8; 16] = pkt[8..24].try_into().unwrap();
    let dst: [u8; 16] = pkt[24..40].try_into().unwrap();
    let l4 = &pkt[40..];
    let pseudo = checksum::pseudo_header_v6(&src, &dst, pkt[6], l4.len() as u32);
    checksum::fold(checksum::sum(l4, pseudo)) == 0xffff
}

fn v4_l4_checksum_ok(pkt: &[u8]) -> bool {
    let l4 = &pkt[20..];
    let pseudo = if pkt[9] == 1 {
        0
    } else {
        checksum::pseudo_header_v4(
            pkt[12..16].try_into().unwrap(),
            pkt[16..20].try_into().unwrap(),
            pkt[9],
            l4.len() as u16,
        )
    };
    checksum::fold(checksum::sum(l4, pseudo)) == 0xffff
}

#[test]
fn udp_both_ways_keeps_checksums_valid() {
    let tr = translator(config());
    let mut out = Output::new();
    assert_eq!(
        tr.translate(
            &udp4(64, b"hello world", false),
            &mut NoDynamicMap,
            &mut out
        ),
        Verdict::Translated
    );
    let v6 = only_packet(&out);
    assert_eq!(&v6[8..24], &server_v6());
    assert_eq!(&v6[24..40], &HOST_V6);
    assert_eq!(v6[7], 63);
    assert!(v6_l4_checksum_ok(&v6));

    assert_eq!(
        tr.translate(&udp6(64, b"hello world"), &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
    let v4 = only_packet(&out);
    assert_eq!(&v4[12..16], &HOST_V4);
    assert_eq!(&v4[16..20], &SERVER_V4);
    assert_eq!(v4[8], 63);
    assert!(v4_l4_checksum_ok(&v4));
}

/// TAYGA's `udp-cksum-mode drop` drops silently (RFC 7915 §4.5: SHOULD drop, and log).
#[test]
fn udp_zero_checksum_drop_mode_drops_silently() {
    let tr = translator(TranslatorConfig {
        udp_checksum_mode: UdpChecksumMode::Drop,
        ..config()
    });
    let mut out = Output::new();
    let verdict = tr.translate(&udp4(64, b"x", true), &mut NoDynamicMap, &mut out);
    assert_eq!(verdict, Verdict::Drop(DropReason::UdpZeroChecksum));
    assert!(out.is_empty());
}

#[test]
fn udp_zero_checksum_forward_mode_keeps_zero() {
    let tr = translator(TranslatorConfig {
        udp_checksum_mode: UdpChecksumMode::Forward,
        ..config()
    });
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&udp4(64, b"x", true), &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
    let v6 = only_packet(&out);
    assert_eq!(&v6[46..48], &[0, 0]);
}

#[test]
fn udp_zero_checksum_calc_mode_computes_it() {
    let tr = translator(TranslatorConfig {
        udp_checksum_mode: UdpChecksumMode::Calculate,
        ..config()
    });
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&udp4(64, b"abc", true), &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
    let v6 = only_packet(&out);
    assert_ne!(&v6[46..48], &[0, 0]);
    assert!(v6_l4_checksum_ok(&v6));
}

#[test]
fn udp_zero_checksum_fragment_is_refused_even_in_calc_mode() {
    let tr = translator(TranslatorConfig {
        udp_checksum_mode: UdpChecksumMode::Calculate,
        ..config()
    });
    let mut pkt = udp4(64, &[0u8; 16], true);
    pkt[6] = 0x20; // MF
    pkt[10] = 0;
    pkt[11] = 0;
    let c = checksum::finish(checksum::sum(&pkt[..20], 0));
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Drop(DropReason::UdpZeroChecksum)
    );
}

#[test]
fn hop_limit_expiry_answers_time_exceeded_from_own_ipv6_address() {
    let tr = translator(config());
    let mut out = Output::new();
    let pkt = udp6(1, b"ping");
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::HopLimitExceeded)
    );
    let err = only_packet(&out);
    assert_eq!(err[6], 58);
    assert_eq!(err[7], 64);
    assert_eq!(&err[8..24], &OWN_V6.octets());
    assert_eq!(&err[24..40], &HOST_V6);
    assert_eq!((err[40], err[41]), (3, 0));
    assert_eq!(&err[48..], &pkt[..]);
    assert!(v6_l4_checksum_ok(&err));
}

#[test]
fn ttl_expiry_answers_time_exceeded_from_own_ipv4_address() {
    let tr = translator(config());
    let mut out = Output::new();
    let pkt = udp4(1, b"ping", false);
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::HopLimitExceeded)
    );
    let err = only_packet(&out);
    assert_eq!(&err[12..16], &OWN_V4.octets());
    assert_eq!(&err[16..20], &SERVER_V4);
    assert_eq!(err[8], 64);
    assert_eq!((err[20], err[21]), (11, 0));
    assert_eq!(&err[28..], &pkt[..]);
    assert!(v4_l4_checksum_ok(&err));
}

#[test]
fn well_known_prefix_refuses_non_global_ipv4() {
    let mut out = Output::new();
    let mut pkt = Vec::new();
    PacketBuilder::ipv6(HOST_V6, WELL_KNOWN_PREFIX.embed([10, 1, 2, 3]), 64)
        .udp(1, 2)
        .write(&mut pkt, b"x")
        .unwrap();
    // TAYGA's answer: the destination is unreachable (RFC 6052 §3.1 refuses to reach it).
    let strict = translator(config());
    assert_eq!(
        strict.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::DestinationNotAllowed)
    );
    let err = only_packet(&out);
    assert_eq!(&err[8..24], &OWN_V6.octets());
    assert_eq!(&err[24..40], &HOST_V6);
    assert_eq!((err[40], err[41]), (1, 0));
    assert!(v6_l4_checksum_ok(&err));
    let lax = translator(TranslatorConfig {
        wkpf_strict: false,
        ..config()
    });
    assert_eq!(
        lax.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
}

#[test]
fn routing_header_with_segments_left_answers_parameter_problem() {
    let tr = translator(config());
    let mut pkt = udp6(64, b"data");
    // Insert a type-0 routing header (8 bytes) with segments left 1 before the UDP header.
    let udp = pkt.split_off(40);
    pkt[6] = 43;
    pkt.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 0]);
    pkt.extend_from_slice(&udp);
    let pl = (pkt.len() - 40) as u16;
    pkt[4..6].copy_from_slice(&pl.to_be_bytes());
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::SegmentsLeft)
    );
    let err = only_packet(&out);
    assert_eq!((err[40], err[41]), (4, 0));
    assert_eq!(&err[44..48], &43u32.to_be_bytes());
}

#[test]
fn untranslatable_icmp_error_source_uses_rfc6791_or_drops() {
    // An ICMPv6 Destination Unreachable from a router outside every mapping.
    let mut inner = Vec::new();
    PacketBuilder::ipv6(server_v6(), HOST_V6, 60)
        .udp(53, 4000)
        .write(&mut inner, b"q")
        .unwrap();
    let router = [
        0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    let mut pkt = Vec::new();
    PacketBuilder::ipv6(router, server_v6(), 64)
        .icmpv6(etherparse::Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut pkt, &inner)
        .unwrap();
    let mut out = Output::new();
    let with = translator(config());
    assert_eq!(
        with.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
    let v4 = only_packet(&out);
    assert_eq!(&v4[12..16], &OWN_V4.octets());
    assert_eq!((v4[20], v4[21]), (3, 3));
    assert!(v4_l4_checksum_ok(&v4));
    let without = translator(TranslatorConfig {
        rfc6791_v4: None,
        ..config()
    });
    assert_eq!(
        without.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Drop(DropReason::NoErrorSource)
    );
}

/// A one-entry pool: 2001:db8:99::5 ↔ 192.0.2.200, once allocated.
struct OneHostPool {
    held: bool,
    allocations: usize,
}

const POOL_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 5);
const POOL_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);

impl DynamicMap for OneHostPool {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        (self.held && *v6 == POOL_V6).then_some(POOL_V4)
    }
    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        (self.held && *v4 == POOL_V4).then_some(POOL_V6)
    }
    fn allocate(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        if *v6 != POOL_V6 {
            return None;
        }
        if !self.held {
            self.held = true;
            self.allocations += 1;
        }
        Some(POOL_V4)
    }
}

#[test]
fn a_new_host_is_allocated_for_once_and_looked_up_after() {
    let tr = translator(TranslatorConfig {
        dynamic_pool: Some((Ipv4Addr::new(192, 0, 2, 192), 26)),
        ..config()
    });
    let mut pool = OneHostPool {
        held: false,
        allocations: 0,
    };
    let mut pkt = Vec::new();
    PacketBuilder::ipv6(POOL_V6.octets(), server_v6(), 64)
        .udp(1, 2)
        .write(&mut pkt, b"x")
        .unwrap();
    for _ in 0..3 {
        let mut out = Output::new();
        assert_eq!(tr.translate(&pkt, &mut pool, &mut out), Verdict::Translated);
        assert_eq!(&only_packet(&out)[12..16], &POOL_V4.octets());
    }
    assert_eq!(pool.allocations, 1);
}

#[test]
fn dynamic_pool_is_consulted_for_hosts() {
    let tr = translator(TranslatorConfig {
        dynamic_pool: Some((Ipv4Addr::new(192, 0, 2, 192), 26)),
        ..config()
    });
    let mut pool = OneHostPool {
        held: true,
        allocations: 0,
    };
    let mut out = Output::new();
    let mut pkt = Vec::new();
    PacketBuilder::ipv6(POOL_V6.octets(), server_v6(), 64)
        .udp(1, 2)
        .write(&mut pkt, b"x")
        .unwrap();
    assert_eq!(tr.translate(&pkt, &mut pool, &mut out), Verdict::Translated);
    assert_eq!(&only_packet(&out)[12..16], &POOL_V4.octets());
    // A host that has an address is looked up, never allocated for again.
    assert_eq!(pool.allocations, 0);

    let mut back = Vec::new();
    PacketBuilder::ipv4(SERVER_V4, POOL_V4.octets(), 64)
        .udp(2, 1)
        .write(&mut back, b"y")
        .unwrap();
    assert_eq!(
        tr.translate(&back, &mut pool, &mut out),
        Verdict::Translated
    );
    assert_eq!(&only_packet(&out)[24..40], &POOL_V6.octets());
}

#[test]
fn large_ipv4_without_df_is_fragmented_and_reassembles() {
    let tr = translator(config());
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let mut pkt = udp4(64, &payload, false);
    pkt[6] &= !0x40; // clear DF (etherparse sets it)
    pkt[10] = 0;
    pkt[11] = 0;
    let c = checksum::finish(checksum::sum(&pkt[..20], 0));
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
    let mut reassembled = vec![0u8; 8 + payload.len()];
    let mut count = 0;
    for frag in out.packets() {
        count += 1;
        assert!(frag.len() <= 1280);
        assert_eq!(frag[6], 44);
        let field = u16::from_be_bytes([frag[42], frag[43]]);
        let offset = usize::from(field >> 3) * 8;
        let data = &frag[48..];
        reassembled[offset..offset + data.len()].copy_from_slice(data);
    }
    assert_eq!(count, 3);
    assert_eq!(&reassembled[8..], &payload[..]);
}

#[test]
fn df_packet_too_big_for_ipv6_answers_fragmentation_needed() {
    let tr = translator(config());
    let pkt = udp4(64, &[0u8; 1480 - 8], false);
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::PacketTooBig)
    );
    let err = only_packet(&out);
    assert_eq!((err[20], err[21]), (3, 4));
    assert_eq!(u16::from_be_bytes([err[26], err[27]]), 1480);
    assert_eq!(err.len(), 576);
}

#[test]
fn output_does_not_grow_once_warmed_up() {
    let tr = translator(config());
    let mut out = Output::new();
    let packets = [
        udp4(64, &[1u8; 3000], false),
        udp6(64, &[2u8; 1200]),
        udp4(1, b"x", false),
    ];
    for p in &packets {
        tr.translate(p, &mut NoDynamicMap, &mut out);
    }
    let capacities = (
        out.buf.capacity(),
        out.ends.capacity(),
        out.scratch.capacity(),
    );
    for _ in 0..100 {
        for p in &packets {
            tr.translate(p, &mut NoDynamicMap, &mut out);
        }
    }
    assert_eq!(
        capacities,
        (
            out.buf.capacity(),
            out.ends.capacity(),
            out.scratch.capacity()
        )
    );
}

#[test]
fn arbitrary_input_never_panics() {
    let tr = translator(TranslatorConfig {
        wkpf_strict: false,
        ..config()
    });
    let mut out = Output::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7915);
    let seeds = [udp4(64, b"seed", false), udp6(64, b"seed")];
    for i in 0..50_000 {
        let pkt: Vec<u8> = if i % 2 == 0 {
            let len = rng.gen_range(0..200);
            let mut p: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if let Some(b) = p.first_mut() {
                *b = if rng.gen() { 0x45 } else { 0x60 };
            }
            p
        } else {
            let mut p = seeds[rng.gen_range(0..seeds.len())].clone();
            for _ in 0..rng.gen_range(1..6) {
                let at = rng.gen_range(0..p.len());
                p[at] = rng.gen();
            }
            p.truncate(rng.gen_range(0..=p.len()));
            p
        };
        let _ = tr.translate(&pkt, &mut NoDynamicMap, &mut out);
    }
}

/// An IPv6 host with no mapping at all (no static map, no pool).
const UNMAPPED_HOST_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];

/// A dynamic pool of 198.51.100.0/24 in which nobody holds an address.
struct EmptyPool;

impl DynamicMap for EmptyPool {
    fn lookup_v6(&mut self, _v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        None
    }
    fn lookup_v4(&mut self, _v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        None
    }
    fn allocate(&mut self, _v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        None
    }
}

#[test]
fn ipv4_to_a_pool_address_nobody_holds_answers_host_unreachable() {
    let mut cfg = config();
    // A prefix that would happily embed 198.51.100.8 if the pool did not claim it.
    cfg.prefix = Some(
        Prefix::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0).octets(),
            96,
        )
        .unwrap(),
    );
    cfg.dynamic_pool = Some((Ipv4Addr::new(198, 51, 100, 0), 24));
    let tr = translator(cfg);
    let mut out = Output::new();
    let mut pkt = udp4(64, b"hello", false);
    // 198.51.100.8: no static map, no pool mapping.
    pkt[19] = 8;
    let sum = checksum::finish(checksum::sum(
        &{
            let mut h = pkt[..20].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        },
        0,
    ));
    pkt[10..12].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        tr.translate(&pkt, &mut EmptyPool, &mut out),
        Verdict::IcmpError(DropReason::NoDestinationMapping)
    );
    let err = only_packet(&out);
    assert_eq!(err[9], 1, "ICMPv4");
    assert_eq!(&err[12..16], &OWN_V4.octets());
    assert_eq!(&err[16..20], &SERVER_V4);
    assert_eq!((err[20], err[21]), (3, 1), "host unreachable");
    assert!(v4_l4_checksum_ok(&err));
}

#[test]
fn ipv6_host_without_an_address_is_told_source_policy_failed() {
    let tr = translator(config());
    let mut out = Output::new();
    let mut pkt = udp6(64, b"hello");
    pkt[8..24].copy_from_slice(&UNMAPPED_HOST_V6);
    // The UDP checksum covers the source; keep it valid so only the mapping is missing.
    pkt[46] = 0;
    pkt[47] = 0;
    let sum = checksum::finish(checksum::sum(
        &pkt[40..],
        checksum::pseudo_header_v6(&UNMAPPED_HOST_V6, &server_v6(), 17, (pkt.len() - 40) as u32),
    ));
    pkt[46..48].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::NoSourceMapping)
    );
    let err = only_packet(&out);
    assert_eq!(&err[24..40], &UNMAPPED_HOST_V6);
    assert_eq!(
        (err[40], err[41]),
        (1, 5),
        "source address failed ingress/egress policy"
    );
    assert!(v6_l4_checksum_ok(&err));
}

#[test]
fn sources_outside_the_allow_list_are_administratively_prohibited() {
    let mut cfg = config();
    cfg.allow_source = vec![(Ipv6Addr::new(0x2001, 0xdb8, 0xfd, 0, 0, 0, 0, 0), 64)];
    let tr = translator(cfg);
    let mut out = Output::new();
    let pkt = udp6(64, b"hello");
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::SourceNotAllowed)
    );
    let err = only_packet(&out);
    assert_eq!((err[40], err[41]), (1, 1), "administratively prohibited");

    let mut cfg = config();
    cfg.allow_source = vec![(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32)];
    let tr = translator(cfg);
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
}

#[test]
fn pings_of_the_translators_own_addresses_are_answered() {
    let tr = translator(config());
    let mut out = Output::new();

    let mut ping6 = Vec::new();
    PacketBuilder::ipv6(HOST_V6, OWN_V6.octets(), 64)
        .icmpv6_echo_request(7, 1)
        .write(&mut ping6, b"are you there")
        .unwrap();
    assert_eq!(
        tr.translate(&ping6, &mut NoDynamicMap, &mut out),
        Verdict::LocalReply
    );
    let reply = only_packet(&out);
    assert_eq!(&reply[8..24], &OWN_V6.octets());
    assert_eq!(&reply[24..40], &HOST_V6);
    assert_eq!(reply[40], 129, "echo reply");
    assert_eq!(
        &reply[44..],
        &ping6[44..],
        "identifier, sequence and data echoed"
    );
    assert!(v6_l4_checksum_ok(&reply));

    let mut ping4 = Vec::new();
    PacketBuilder::ipv4(SERVER_V4, OWN_V4.octets(), 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut ping4, b"are you there")
        .unwrap();
    assert_eq!(
        tr.translate(&ping4, &mut NoDynamicMap, &mut out),
        Verdict::LocalReply
    );
    let reply = only_packet(&out);
    assert_eq!(&reply[12..16], &OWN_V4.octets());
    assert_eq!(&reply[16..20], &SERVER_V4);
    assert_eq!(reply[20], 0, "echo reply");
    assert_eq!(&reply[24..], &ping4[24..]);
    assert!(v4_l4_checksum_ok(&reply));

    // Another protocol for the translator itself is told it is not spoken here, as TAYGA
    // does: unrecognized Next Header (pointing at the IPv6 header's), protocol unreachable.
    let mut udp = Vec::new();
    PacketBuilder::ipv6(HOST_V6, OWN_V6.octets(), 64)
        .udp(4000, 53)
        .write(&mut udp, b"x")
        .unwrap();
    assert_eq!(
        tr.translate(&udp, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::AddressedToTranslator)
    );
    let err = only_packet(&out);
    assert_eq!((err[40], err[41]), (4, 1));
    assert_eq!(&err[44..48], &6u32.to_be_bytes());
    assert!(v6_l4_checksum_ok(&err));

    let mut udp = Vec::new();
    PacketBuilder::ipv4(SERVER_V4, OWN_V4.octets(), 64)
        .udp(53, 4000)
        .write(&mut udp, b"x")
        .unwrap();
    assert_eq!(
        tr.translate(&udp, &mut NoDynamicMap, &mut out),
        Verdict::IcmpError(DropReason::AddressedToTranslator)
    );
    assert_eq!((only_packet(&out)[20], only_packet(&out)[21]), (3, 2));

    // Other ICMP for the translator is dropped without a word.
    let mut reply = Vec::new();
    PacketBuilder::ipv4(SERVER_V4, OWN_V4.octets(), 64)
        .icmpv4_echo_reply(7, 1)
        .write(&mut reply, b"x")
        .unwrap();
    assert_eq!(
        tr.translate(&reply, &mut NoDynamicMap, &mut out),
        Verdict::Drop(DropReason::AddressedToTranslator)
    );
}

/// RFC 4443 §2.4 (f): a flood of packets the translator refuses does not become a flood of
/// errors: after the burst, the rest are dropped and counted.
#[test]
fn originated_icmp_errors_are_rate_limited() {
    let tr = translator(config());
    let mut out = Output::new();
    let pkt = udp6(1, b"expiring");
    let verdicts: Vec<Verdict> = (0..2000)
        .map(|_| tr.translate(&pkt, &mut NoDynamicMap, &mut out))
        .collect();
    let sent = verdicts
        .iter()
        .filter(|v| **v == Verdict::IcmpError(DropReason::HopLimitExceeded))
        .count();
    let limited = verdicts
        .iter()
        .filter(|v| **v == Verdict::Drop(DropReason::IcmpRateLimited))
        .count();
    assert_eq!(sent + limited, 2000);
    assert!(
        sent >= super::rate_limit::BURST as usize,
        "the burst goes out: {sent}"
    );
    assert!(limited > 0, "the flood is cut: {sent} errors sent");
}

/// A later fragment whose Fragment header names an extension header (the headers themselves
/// are in the first fragment) is dropped: its next header would leave as an IPv4 protocol
/// number that means something only inside IPv6 (found by the fuzzer; TAYGA sends it on).
#[test]
fn later_fragments_naming_an_extension_header_are_not_translated() {
    let tr = translator(config());
    for next_header in [0u8, 43, 44, 60] {
        let mut pkt = vec![0x60, 0, 0, 0, 0, 16, 44, 64];
        pkt.extend_from_slice(&HOST_V6);
        pkt.extend_from_slice(&server_v6());
        // Fragment header: offset 8 (in 8-byte units), no more fragments, some id.
        pkt.extend_from_slice(&[next_header, 0, 0, 64, 0, 0, 0x12, 0x34]);
        pkt.extend_from_slice(&[0xab; 8]);
        let mut out = Output::new();
        assert_eq!(
            tr.translate(&pkt, &mut NoDynamicMap, &mut out),
            Verdict::Drop(DropReason::UnsupportedProtocol),
            "next header {next_header}"
        );
    }
    // The same fragment carrying UDP is translated.
    let mut pkt = vec![0x60, 0, 0, 0, 0, 16, 44, 64];
    pkt.extend_from_slice(&HOST_V6);
    pkt.extend_from_slice(&server_v6());
    pkt.extend_from_slice(&[17, 0, 0, 64, 0, 0, 0x12, 0x34]);
    pkt.extend_from_slice(&[0xab; 8]);
    let mut out = Output::new();
    assert_eq!(
        tr.translate(&pkt, &mut NoDynamicMap, &mut out),
        Verdict::Translated
    );
}
