//! What must never be translated, one case per finding of the 2,000-packet comparison with
//! TAYGA (issue "What must never be translated"): special sources and destinations,
//! multicast and broadcast, impossible fragments, bad checksums, and the ICMP errors the
//! translator sends or must not send. Each case runs through the userspace translator (the
//! answer TAYGA gives, and no pool address spent) and through the TC and XDP programs with
//! BPF_PROG_TEST_RUN (never translated in the kernel, even when a host mapping exists for
//! the address: the address rule comes before the tables).
//!
//! The configuration is TAYGA's own test configuration: prefix 3fff:6464::/96,
//! `ipv4-addr 172.16.0.3`, pool 172.16.0.0/24, two `map` lines, `wkpf-strict no`.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::tc_maps::{self, Targets};
use nat64::translate::{DynamicMap, Eam, Output, Translator, TranslatorConfig, Verdict};
use nat64_common::checksum;
use nat64_common::counters::{DropReason, Outcome};
use nat64_common::maps::{MappingKind, XdpForward};
use nat64_common::rfc6052::Prefix;
use nat64_tests::privileges::require_root;
use nat64_tests::{tc_program, test_run, xdp_program};

const OWN_V4: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 3);
const PUBLIC_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x69);
const HOST_V4: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 80);

fn prefix() -> Prefix {
    Prefix::new(Ipv6Addr::new(0x3fff, 0x6464, 0, 0, 0, 0, 0, 0).octets(), 96).expect("a /96")
}

fn xlate(v4: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from(prefix().embed(v4.octets()))
}

fn own_v6() -> Ipv6Addr {
    xlate(OWN_V4)
}

fn config() -> TranslatorConfig {
    let map = |v4: [u8; 4], v6: u16| {
        Eam::new(
            Ipv4Addr::from(v4),
            32,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, v6),
            128,
        )
        .expect("a /32 map")
    };
    TranslatorConfig {
        prefix: Some(prefix()),
        eam: vec![map([172, 16, 0, 1], 1), map([172, 16, 0, 2], 2)],
        ipv4_addr: OWN_V4,
        ipv6_addr: own_v6(),
        rfc6791_v4: Some(OWN_V4),
        rfc6791_v6: Some(own_v6()),
        wkpf_strict: false,
        wkp_scope: nat64::translate::WkpScope::Tayga,
        dynamic_pool: Some((Ipv4Addr::new(172, 16, 0, 0), 24)),
        ..TranslatorConfig::default()
    }
}

/// The pool as the daemon holds it: one host, and a count of what was allocated.
#[derive(Default)]
struct CountingPool {
    allocated: Vec<Ipv6Addr>,
}

impl DynamicMap for CountingPool {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        (*v6 == HOST_V6).then_some(HOST_V4)
    }
    fn allocate(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        if *v6 == HOST_V6 {
            return Some(HOST_V4);
        }
        self.allocated.push(*v6);
        Some(Ipv4Addr::new(172, 16, 0, 200))
    }
    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        (*v4 == HOST_V4).then_some(HOST_V6)
    }
}

/// What userspace must do with a case.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Dropped without a word, for this reason.
    Drop(DropReason),
    /// Answered with this ICMP type and code (of the packet's own family), for this reason.
    Answer(u8, u8, DropReason),
    /// Answered as a ping of the translator: an echo reply keeping the traffic class.
    EchoReply { traffic_class: u8 },
}

struct Case {
    name: &'static str,
    packet: Vec<u8>,
    expect: Expect,
    /// A (bogus) host mapping to enter in the kernel's tables first, to show the address
    /// rule is not a mere table miss.
    kernel_host: Option<(Ipv6Addr, Ipv4Addr)>,
}

// ---- packet builders --------------------------------------------------------------------

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, proto: u8, flags_offset: u16, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34]);
    p.extend_from_slice(&flags_offset.to_be_bytes());
    p.extend_from_slice(&[ttl, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum::finish(checksum::sum(&p, 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(l4);
    p
}

fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    traffic_class: u8,
    chain: &[u8],
    nh: u8,
) -> Vec<u8> {
    let mut p = vec![0x60 | (traffic_class >> 4), traffic_class << 4, 0, 0];
    p.extend_from_slice(&(chain.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(chain);
    p
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0x9c, 0x40, 0x00, 0x35];
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// UDP with its checksum filled for the given pseudo-header sum.
fn udp_with(pseudo: u32, payload: &[u8]) -> Vec<u8> {
    let mut u = udp(payload);
    let c = match checksum::finish(checksum::sum(&u, pseudo)) {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let len = 8 + 32;
    let pseudo = checksum::pseudo_header_v6(&src.octets(), &dst.octets(), 17, len);
    ipv6(src, dst, 64, 0, &udp_with(pseudo, &[0x5a; 32]), 17)
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let pseudo = checksum::pseudo_header_v4(src.octets(), dst.octets(), 17, 40);
    ipv4(src, dst, ttl, 17, 0, &udp_with(pseudo, &[0x5a; 32]))
}

fn icmp4(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0, 0x12, 0x34, 0, 1];
    m.extend_from_slice(body);
    let c = checksum::finish(checksum::sum(&m, 0));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn icmp6(src: Ipv6Addr, dst: Ipv6Addr, ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0, 0x12, 0x34, 0, 1];
    m.extend_from_slice(body);
    let pseudo = checksum::pseudo_header_v6(&src.octets(), &dst.octets(), 58, m.len() as u32);
    let c = checksum::finish(checksum::sum(&m, pseudo));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn echo6(src: Ipv6Addr, dst: Ipv6Addr, traffic_class: u8) -> Vec<u8> {
    ipv6(
        src,
        dst,
        64,
        traffic_class,
        &icmp6(src, dst, 128, b"are you there"),
        58,
    )
}

/// A Fragment header followed by `data` (`offset` in 8-byte units).
fn fragment(offset: u16, more: bool, next: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![next, 0];
    f.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x42, 0x42]);
    f.extend_from_slice(data);
    f
}

fn cases() -> Vec<Case> {
    let public_v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2); // mapped to 172.16.0.2
    let remote = xlate(PUBLIC_V4);
    let case = |name, packet, expect| Case {
        name,
        packet,
        expect,
        kernel_host: None,
    };
    let spoofed = |name, src: Ipv6Addr, reason| Case {
        name,
        packet: udp6(src, remote),
        expect: Expect::Drop(reason),
        kernel_host: Some((src, Ipv4Addr::new(172, 16, 0, 99))),
    };
    let mut bad_echo = echo6(HOST_V6, remote, 0);
    let last = bad_echo.len() - 1;
    bad_echo[last] ^= 0x40;
    let timestamp = icmp4(13, &[0; 12]);
    let timestamp_reply = icmp4(14, &[0; 12]);
    vec![
        // Sources that must never get a pool address.
        spoofed(
            "source ::1",
            Ipv6Addr::LOCALHOST,
            DropReason::SpecialAddress,
        ),
        spoofed(
            "source ::",
            Ipv6Addr::UNSPECIFIED,
            DropReason::SpecialAddress,
        ),
        spoofed(
            "source fe80::1",
            "fe80::1".parse().expect("address"),
            DropReason::SpecialAddress,
        ),
        spoofed(
            "source ff02::1",
            "ff02::1".parse().expect("address"),
            DropReason::SpecialAddress,
        ),
        spoofed(
            "source ::ffff:192.0.2.1",
            "::ffff:192.0.2.1".parse().expect("address"),
            DropReason::SpecialAddress,
        ),
        spoofed(
            "source inside the prefix, a pool address (3fff:6464::172.16.0.1)",
            xlate(Ipv4Addr::new(172, 16, 0, 1)),
            DropReason::TranslatorLoop,
        ),
        // Multicast and broadcast.
        case(
            "IPv6 to the prefix's 224.0.0.1",
            udp6(HOST_V6, xlate(Ipv4Addr::new(224, 0, 0, 1))),
            Expect::Drop(DropReason::SpecialAddress),
        ),
        case(
            "IPv4 from 224.0.0.1",
            udp4(Ipv4Addr::new(224, 0, 0, 1), HOST_V4, 64),
            Expect::Drop(DropReason::SpecialAddress),
        ),
        case(
            "IPv4 echo to 224.0.0.1",
            ipv4(
                PUBLIC_V4,
                Ipv4Addr::new(224, 0, 0, 1),
                64,
                1,
                0,
                &icmp4(8, b"ping"),
            ),
            Expect::Drop(DropReason::SpecialAddress),
        ),
        case(
            "IPv4 to 255.255.255.255",
            udp4(PUBLIC_V4, Ipv4Addr::BROADCAST, 64),
            Expect::Drop(DropReason::SpecialAddress),
        ),
        // Impossible fragments.
        case(
            "IPv4 fragment past 65,535 bytes",
            ipv4(PUBLIC_V4, HOST_V4, 64, 17, 8190, &[0u8; 48]),
            Expect::Drop(DropReason::BadFragment),
        ),
        case(
            "IPv6 non-last fragment not a multiple of 8",
            ipv6(
                HOST_V6,
                remote,
                64,
                0,
                &fragment(0, true, 17, &udp(&[1u8; 13])),
                44,
            ),
            Expect::Drop(DropReason::BadFragment),
        ),
        case(
            "IPv6 atomic fragment from ::1",
            ipv6(
                Ipv6Addr::LOCALHOST,
                remote,
                64,
                0,
                &fragment(0, false, 17, &udp(&[1u8; 16])),
                44,
            ),
            Expect::Drop(DropReason::SpecialAddress),
        ),
        case(
            "IPv6 with two Fragment headers",
            ipv6(
                HOST_V6,
                remote,
                64,
                0,
                &fragment(0, false, 44, &fragment(0, false, 17, &udp(&[1u8; 16]))),
                44,
            ),
            Expect::Drop(DropReason::BadExtensionHeader),
        ),
        // Bad checksums and lengths.
        Case {
            name: "ICMPv6 echo with a bad checksum",
            packet: bad_echo,
            expect: Expect::Drop(DropReason::BadIcmpChecksum),
            kernel_host: None,
        },
        case(
            "IPv4 total length longer than the packet",
            {
                let mut p = udp4(PUBLIC_V4, HOST_V4, 64);
                p.truncate(p.len() - 4);
                p
            },
            Expect::Drop(DropReason::Truncated),
        ),
        // ICMP the translator must not send.
        case(
            "ICMPv4 timestamp with TTL 1: no Time Exceeded",
            ipv4(PUBLIC_V4, HOST_V4, 1, 1, 0, &timestamp),
            Expect::Drop(DropReason::HopLimitExceeded),
        ),
        case(
            "ICMPv4 timestamp reply to a free pool address: no Host Unreachable",
            ipv4(
                PUBLIC_V4,
                Ipv4Addr::new(172, 16, 0, 81),
                64,
                1,
                0,
                &timestamp_reply,
            ),
            Expect::Drop(DropReason::NoDestinationMapping),
        ),
        case(
            "IPv6 with hop limit 0: no Time Exceeded",
            {
                let mut p = udp6(HOST_V6, remote);
                p[7] = 0;
                p
            },
            Expect::Drop(DropReason::HopLimitExceeded),
        ),
        // ICMP the translator must send, as TAYGA does.
        case(
            "UDP to the translator's IPv4 address: Protocol Unreachable",
            udp4(PUBLIC_V4, OWN_V4, 64),
            Expect::Answer(3, 2, DropReason::AddressedToTranslator),
        ),
        case(
            "UDP to the translator's IPv6 address: Parameter Problem",
            udp6(HOST_V6, own_v6()),
            Expect::Answer(4, 1, DropReason::AddressedToTranslator),
        ),
        case(
            "IPv6 to a destination nothing maps: ICMPv6 unreachable",
            udp6(HOST_V6, Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 1)),
            Expect::Answer(1, 0, DropReason::NoDestinationMapping),
        ),
        case(
            "a ping of the translator keeps its traffic class",
            echo6(public_v6, own_v6(), 0xb8),
            Expect::EchoReply {
                traffic_class: 0xb8,
            },
        ),
    ]
}

fn check_userspace(translator: &Translator, case: &Case) -> Result<(), String> {
    let mut pool = CountingPool::default();
    let mut out = Output::new();
    let verdict = translator.translate(&case.packet, &mut pool, &mut out);
    if !pool.allocated.is_empty() {
        return Err(format!("spent pool addresses on {:?}", pool.allocated));
    }
    let packets: Vec<&[u8]> = out.packets().collect();
    match case.expect {
        Expect::Drop(reason) if verdict == Verdict::Drop(reason) && packets.is_empty() => Ok(()),
        Expect::Answer(ty, code, reason) if verdict == Verdict::IcmpError(reason) => {
            let answer = packets.first().copied().unwrap_or_default();
            let at = if answer.first().is_some_and(|b| b >> 4 == 6) {
                40
            } else {
                20
            };
            match (answer.get(at), answer.get(at + 1)) {
                (Some(&t), Some(&c)) if (t, c) == (ty, code) => Ok(()),
                other => Err(format!("answered {other:?}, not ({ty}, {code})")),
            }
        }
        Expect::EchoReply { traffic_class } if verdict == Verdict::LocalReply => {
            let reply = packets.first().copied().unwrap_or_default();
            let tc = reply
                .first()
                .map(|b| (b << 4) | (reply.get(1).unwrap_or(&0) >> 4));
            match (tc, reply.get(40)) {
                (Some(tc), Some(129)) if tc == traffic_class => Ok(()),
                other => Err(format!("reply (traffic class, type) {other:?}")),
            }
        }
        expected => Err(format!(
            "{verdict:?}, {} packets; expected {expected:?}",
            packets.len()
        )),
    }
}

#[test]
fn userspace_refuses_and_answers_as_taygas_rules_say() {
    let translator = Translator::new(config()).expect("translator");
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|case| {
            check_userspace(&translator, case)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A kernel program under test: how it is loaded, framed and what "not translated" looks like.
#[derive(Clone, Copy)]
enum Program {
    Tc,
    Xdp,
}

fn run_kernel(
    ebpf: &mut aya::Ebpf,
    program: Program,
    packet: &[u8],
) -> anyhow::Result<(u32, Vec<u8>, Vec<u8>)> {
    Ok(match program {
        Program::Tc => {
            let frame = tc_program::frame(packet);
            let (action, out) = test_run::run(tc_program::program(ebpf)?, &frame)?;
            (action, frame, out)
        }
        Program::Xdp => {
            let frame = xdp_program::frame(packet);
            let (action, out) = test_run::run(xdp_program::program(ebpf)?, &frame)?;
            (action, frame, out)
        }
    })
}

#[test]
fn the_kernel_programs_never_translate_them() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = xdp_program::load().expect("both programs load");
    let cfg = config();
    tc_maps::write_config(
        &mut ebpf,
        &cfg,
        Targets {
            tun_ifindex: tc_program::LOOPBACK_IFINDEX,
            xdp_forward: XdpForward::Stack,
        },
    )
    .expect("configuring the maps");
    tc_maps::insert_host(&mut ebpf, HOST_V6, HOST_V4, MappingKind::Dynamic).expect("the host");
    let mut failures = Vec::new();
    for case in cases() {
        if let Some((v6, v4)) = case.kernel_host {
            tc_maps::insert_host(&mut ebpf, v6, v4, MappingKind::Dynamic).expect("a bogus mapping");
        }
        for (program, passed) in [
            (Program::Tc, tc_program::TC_ACT_OK),
            (Program::Xdp, xdp_program::XDP_PASS),
        ] {
            let name = match program {
                Program::Tc => "tc",
                Program::Xdp => "xdp",
            };
            match run_kernel(&mut ebpf, program, &case.packet) {
                Ok((action, frame, out)) if action == passed && out == frame => {}
                Ok((action, ..)) => {
                    failures.push(format!("{name} {}: action {action}, changed", case.name))
                }
                // BPF_PROG_TEST_RUN refuses some runts before the program sees them.
                Err(err) => failures.push(format!("{name} {}: {err:#}", case.name)),
            }
        }
        if let Some((v6, v4)) = case.kernel_host {
            tc_maps::remove_host(&mut ebpf, v6, v4).expect("removing it");
        }
    }
    // And the host's own packets still are translated: the rule refuses only what it must.
    let remote = xlate(PUBLIC_V4);
    let (action, ..) = run_kernel(&mut ebpf, Program::Tc, &udp6(HOST_V6, remote)).expect("runs");
    assert_eq!(
        action,
        tc_program::TC_ACT_REDIRECT,
        "a mapped host's packet is translated"
    );
    let counters = tc_maps::tc_counters(&ebpf).expect("counters");
    assert!(counters[Outcome::PassSpecialAddress as usize] > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
