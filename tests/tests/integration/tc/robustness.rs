//! The TC program under hostile input and with host mappings: every packet is counted once,
//! the verdict is always "redirect" or "pass on unchanged", and whatever the program
//! translates, userspace translates the same way.

use std::net::{Ipv4Addr, Ipv6Addr};

use nat64::tc_maps;
use nat64::translate::{DynamicMap, NoDynamicMap, Output, Translator, Verdict};
use nat64_common::counters::Outcome;
use nat64_common::maps::{names, Ipv6HostKey, MappingKind, V6ToV4Mapping};
use nat64_tests::privileges::require_root;
use nat64_tests::tc_program::{
    self, ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX, TC_ACT_OK, TC_ACT_REDIRECT,
};
use nat64_tests::{jool, packets};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Runs `packet` through the program and checks it against `translator`; `Err` says how
/// they disagree.
fn check<M: DynamicMap>(
    ebpf: &mut aya::Ebpf,
    translator: &Translator,
    map: &mut M,
    packet: &[u8],
) -> Result<Outcome, String> {
    let frame = tc_program::frame(packet);
    let before = tc_maps::tc_counters(ebpf).map_err(|e| e.to_string())?;
    let program = tc_program::program(ebpf).map_err(|e| e.to_string())?;
    let (action, out) = match tc_program::run(program, &frame) {
        Ok(r) => r,
        // BPF_PROG_TEST_RUN itself refuses (EINVAL) IP frames shorter than their fixed
        // header; on the device such packets reach the program, which finds them truncated.
        Err(_) if packet.len() < ip_header_len(packet) => return Ok(Outcome::PassTruncated),
        Err(e) => return Err(format!("{e:#}")),
    };
    let after = tc_maps::tc_counters(ebpf).map_err(|e| e.to_string())?;
    let moved: Vec<usize> = (0..Outcome::COUNT)
        .filter(|&i| after[i] != before[i])
        .collect();
    let outcome = match moved.as_slice() {
        [i] if after[*i] == before[*i] + 1 => Outcome::ALL[*i],
        _ => return Err(format!("counters moved at {moved:?}")),
    };
    match action {
        TC_ACT_OK if out == frame && !outcome.is_translated() => Ok(outcome),
        TC_ACT_OK => Err(format!("passed on ({}) but changed", outcome.as_str())),
        TC_ACT_REDIRECT if outcome.is_translated() => {
            let mut user = Output::new();
            let verdict = translator.translate(packet, map, &mut user);
            let packets: Vec<&[u8]> = user.packets().collect();
            if verdict != Verdict::Translated || packets.len() != 1 {
                return Err(format!("translated, userspace says {verdict:?}"));
            }
            same_translation(&out[ETHERNET_HEADER_LEN..], packets[0])?;
            Ok(outcome)
        }
        other => Err(format!("action {other} counted {}", outcome.as_str())),
    }
}

fn ip_header_len(packet: &[u8]) -> usize {
    match packet.first().map(|b| b >> 4) {
        Some(4) => 20,
        Some(6) => 40,
        _ => 0,
    }
}

/// Equal except the IPv4 Identification and the header checksum over it (random in the
/// kernel, a counter in userspace) when DF is clear.
fn same_translation(kernel: &[u8], user: &[u8]) -> Result<(), String> {
    if kernel.len() != user.len() {
        return Err(format!(
            "length {} vs userspace {}",
            kernel.len(),
            user.len()
        ));
    }
    let skip_id = kernel[0] >> 4 == 4 && kernel[6] & 0x40 == 0;
    for (i, (k, u)) in kernel.iter().zip(user).enumerate() {
        if k != u && !(skip_id && matches!(i, 4 | 5 | 10 | 11)) {
            return Err(format!("byte {i}: {k:02x} vs userspace {u:02x}"));
        }
    }
    Ok(())
}

fn mutate(rng: &mut StdRng, packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    match rng.gen_range(0..4) {
        0 => p.truncate(rng.gen_range(0..=p.len())),
        1 => {
            for _ in 0..rng.gen_range(1..=4) {
                if !p.is_empty() {
                    let at = rng.gen_range(0..p.len());
                    p[at] = rng.gen();
                }
            }
        }
        2 => {
            // Header fields only: lengths, next header, hop limit, addresses.
            let at = rng.gen_range(0..p.len().clamp(1, 48));
            if let Some(b) = p.get_mut(at) {
                *b = rng.gen();
            }
        }
        _ => {
            let len = rng.gen_range(0..200);
            p = (0..len).map(|_| rng.gen()).collect();
            if let Some(first) = p.first_mut() {
                *first = (*first & 0x0f) | if rng.gen() { 0x40 } else { 0x60 };
            }
        }
    }
    p
}

/// The TC program, configured like the sample packets' translator (no dynamic pool).
fn loaded_for_samples() -> (aya::Ebpf, Translator) {
    let mut ebpf = tc_program::load().expect("the TC program loads");
    let translator = packets::translator();
    tc_maps::write_config(
        &mut ebpf,
        translator.config(),
        tc_maps::Targets::tun(LOOPBACK_IFINDEX),
    )
    .expect("configuring the maps");
    (ebpf, translator)
}

#[test]
fn hostile_packets_are_counted_and_never_dropped() {
    let Some(_root) = require_root() else {
        return;
    };
    let (mut ebpf, translator) = loaded_for_samples();
    let mut seeds: Vec<Vec<u8>> = [0, 1, 17, 100, 1300]
        .iter()
        .flat_map(|&len| packets::all_samples(len).into_iter().map(|(_, p)| p))
        .collect();
    seeds.extend(jool::load_cases().into_iter().map(|c| c.sent));

    let mut rng = StdRng::seed_from_u64(0x006e_6174_3634);
    let mut failures = Vec::new();
    let mut translated = 0;
    let runs = 4000;
    for _ in 0..runs {
        let seed = &seeds[rng.gen_range(0..seeds.len())];
        let packet = mutate(&mut rng, seed);
        match check(&mut ebpf, &translator, &mut NoDynamicMap, &packet) {
            Ok(o) if o.is_translated() => translated += 1,
            Ok(_) => {}
            Err(e) => failures.push(format!("{e}: {packet:02x?}")),
        }
    }
    eprintln!(
        "tc hostile packets: {runs} runs, {translated} translated, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The unmutated samples must have been translated at least sometimes.
    assert!(translated > 0);
}

/// The dynamic pool as userspace would hold it: one host.
struct OneHost {
    v6: Ipv6Addr,
    v4: Ipv4Addr,
}

impl DynamicMap for OneHost {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        (*v6 == self.v6).then_some(self.v4)
    }
    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        (*v4 == self.v4).then_some(self.v6)
    }
}

fn udp(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv6(src.octets(), dst.octets(), 64).udp(40000, 53);
    let mut p = Vec::new();
    builder.write(&mut p, &[7u8; 40]).expect("writing to a Vec");
    p
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv4(src.octets(), dst.octets(), 64).udp(53, 40000);
    let mut p = Vec::new();
    builder.write(&mut p, &[7u8; 40]).expect("writing to a Vec");
    p
}

#[test]
fn host_mappings_translate_both_ways_and_stamp_last_use() {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = tc_program::load().expect("the TC program loads");
    let translator = packets::translator();
    let pool = (Ipv4Addr::new(100, 64, 0, 0), 24);
    let config = nat64::translate::TranslatorConfig {
        dynamic_pool: Some(pool),
        ..translator.config().clone()
    };
    tc_maps::write_config(&mut ebpf, &config, tc_maps::Targets::tun(LOOPBACK_IFINDEX))
        .expect("configuring the maps");
    let translator = nat64::translate::Translator::new(config).expect("translator");
    const CLOCK_NS: u64 = 4_242_000_000_000;
    tc_maps::write_clock(&mut ebpf, CLOCK_NS).expect("setting the clock");
    let host = OneHost {
        v6: "2001:db8:5::10".parse().expect("address"),
        v4: Ipv4Addr::new(100, 64, 0, 5),
    };
    tc_maps::insert_host(&mut ebpf, host.v6, host.v4, MappingKind::Dynamic).expect("mapping");
    let (host_v6, host_v4) = (host.v6, host.v4);
    let mut map = host;
    let server_v6 = packets::SERVER_V6;

    let out = check(&mut ebpf, &translator, &mut map, &udp(host_v6, server_v6));
    assert_eq!(out, Ok(Outcome::TranslatedV6ToV4Udp));
    let back = udp4(packets::SERVER_V4, host_v4);
    assert_eq!(
        check(&mut ebpf, &translator, &mut map, &back),
        Ok(Outcome::TranslatedV4ToV6Udp)
    );

    // A new host waits for userspace to allocate; a free pool address is userspace's to answer.
    let stranger: Ipv6Addr = "2001:db8:5::11".parse().expect("address");
    assert_eq!(
        check(&mut ebpf, &translator, &mut map, &udp(stranger, server_v6)),
        Ok(Outcome::PassNoSourceMapping)
    );
    let free = udp4(packets::SERVER_V4, Ipv4Addr::new(100, 64, 0, 6));
    assert_eq!(
        check(&mut ebpf, &translator, &mut map, &free),
        Ok(Outcome::PassNoDestinationMapping)
    );

    let forward: aya::maps::HashMap<_, Ipv6HostKey, V6ToV4Mapping> =
        aya::maps::HashMap::try_from(ebpf.map(names::V6_TO_V4).expect("map")).expect("hash map");
    let value = forward
        .get(
            &Ipv6HostKey {
                addr: host_v6.octets(),
            },
            0,
        )
        .expect("the mapping is still there");
    assert_eq!(
        value.last_use_ns, CLOCK_NS,
        "the datapath stamps the last use with the clock userspace ticks"
    );
}

/// An ICMP error of type `icmp` from `from`, quoting `quoted` (IPv4).
fn icmp4_error(from: Ipv4Addr, icmp: etherparse::Icmpv4Type, quoted: &[u8]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv4(from.octets(), packets::CLIENT_V4.octets(), 64)
        .icmpv4(icmp);
    let mut p = Vec::new();
    builder.write(&mut p, quoted).expect("writing to a Vec");
    p
}

/// An ICMPv6 error of type `icmp` from the client, quoting `quoted`.
fn icmp6_error(icmp: etherparse::Icmpv6Type, quoted: &[u8]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv6(
        packets::CLIENT_V6.octets(),
        packets::SERVER_V6.octets(),
        64,
    )
    .icmpv6(icmp);
    let mut p = Vec::new();
    builder.write(&mut p, quoted).expect("writing to a Vec");
    p
}

#[test]
fn icmp_errors_translate_in_the_kernel_as_userspace_translates_them() {
    let Some(_root) = require_root() else {
        return;
    };
    use etherparse::{icmpv4, icmpv6, Icmpv4Type, Icmpv6Type, PacketBuilder};
    let (mut ebpf, translator) = loaded_for_samples();
    let (client4, server4) = (packets::CLIENT_V4.octets(), packets::SERVER_V4.octets());
    let (client6, server6) = (packets::CLIENT_V6.octets(), packets::SERVER_V6.octets());
    let router4 = Ipv4Addr::new(203, 0, 113, 254);
    let body = |len: usize| -> Vec<u8> { (0..len).map(|i| (i * 13 + 1) as u8).collect() };
    // Each transport ends the builder in a type of its own.
    macro_rules! build {
        ($builder:expr, $payload:expr) => {{
            let mut p = Vec::new();
            $builder.write(&mut p, $payload).expect("writing to a Vec");
            p
        }};
    }

    let mut checked = 0;
    for len in [0usize, 13, 100, 1100] {
        let payload = body(len);
        // What the client sent, as it left the translator for the IPv4 side.
        let udp4 = build!(
            PacketBuilder::ipv4(client4, server4, 63).udp(40000, 53),
            &payload
        );
        let tcp4 = build!(
            PacketBuilder::ipv4(client4, server4, 63)
                .tcp(40000, 443, 7, 64240)
                .syn(),
            &payload
        );
        let echo4 = build!(
            PacketBuilder::ipv4(client4, server4, 63).icmpv4_echo_request(0x4242, 9),
            &payload
        );
        // What the server sent, as it left the translator for the IPv6 side.
        let udp6 = build!(
            PacketBuilder::ipv6(server6, client6, 63).udp(53, 40000),
            &payload
        );
        let tcp6 = build!(
            PacketBuilder::ipv6(server6, client6, 63)
                .tcp(443, 40000, 7, 64240)
                .ack(8),
            &payload
        );
        let echo6 = build!(
            PacketBuilder::ipv6(server6, client6, 63).icmpv6_echo_reply(0x4242, 9),
            &payload
        );
        let unreachable = Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port);
        let frag_needed = Icmpv4Type::DestinationUnreachable(
            icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 0 },
        );
        let ttl = Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit);
        let to_v6 = [
            icmp4_error(server4.into(), unreachable, &udp4),
            icmp4_error(router4, ttl, &tcp4),
            icmp4_error(router4, frag_needed, &echo4),
        ];
        let port6 = Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port);
        let to_v4 = [
            icmp6_error(port6, &udp6),
            icmp6_error(Icmpv6Type::PacketTooBig { mtu: 1400 }, &tcp6),
            icmp6_error(
                Icmpv6Type::ParameterProblem(icmpv6::ParameterProblemHeader {
                    code: icmpv6::ParameterProblemCode::ErroneousHeaderField,
                    pointer: 7,
                }),
                &echo6,
            ),
        ];
        for packet in to_v6.iter().chain(&to_v4) {
            let outcome = check(&mut ebpf, &translator, &mut NoDynamicMap, packet);
            let expected = if packet[0] >> 4 == 6 {
                Outcome::TranslatedV6ToV4IcmpError
            } else if packet.len() - 20 + 40 > 1280 {
                // Longer than an ICMPv6 error may be: userspace cuts the quote.
                Outcome::PassIcmpExtension
            } else {
                Outcome::TranslatedV4ToV6IcmpError
            };
            assert_eq!(
                outcome,
                Ok(expected),
                "{len}-byte quoted payload: {packet:02x?}"
            );
            checked += 1;
        }
    }
    eprintln!("icmp errors through the tc program: {checked} checked");
}
