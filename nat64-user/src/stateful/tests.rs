//! What the Jool NAT64 vectors do not cover: dynamic bindings and their replies, the
//! subscriber's port blocks and their limit, expiry, address-dependent filtering, and that a
//! packet the translator refuses leaves no binding behind.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use nat64_common::rfc6052::WELL_KNOWN_PREFIX;

use super::*;

const POOL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const SERVER: [u8; 4] = [203, 0, 113, 9];

fn client(subnet: u16, host: u16) -> [u8; 16] {
    Ipv6Addr::new(0x2001, 0xdb8, 0, subnet, 0, 0, 0, host).octets()
}

fn nat64(tweak: impl FnOnce(&mut StatefulConfig)) -> Nat64 {
    let mut cfg = StatefulConfig::on_address(POOL);
    cfg.blocks = PortBlocks {
        subscriber_prefix_len: 64,
        block_size: 4,
        max_blocks: 2,
    };
    tweak(&mut cfg);
    let translator = TranslatorConfig {
        prefix: Some(WELL_KNOWN_PREFIX),
        ipv6_addr: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1),
        // The documentation addresses these tests use are not global.
        wkpf_strict: false,
        ..TranslatorConfig::default()
    };
    Nat64::new(translator, cfg).unwrap()
}

fn udp6(src: [u8; 16], sport: u16, ttl: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    PacketBuilder::ipv6(src, WELL_KNOWN_PREFIX.embed(SERVER), ttl)
        .udp(sport, 53)
        .write(&mut buf, b"query")
        .unwrap();
    buf
}

fn udp4(from: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut buf = Vec::new();
    PacketBuilder::ipv4(from, POOL.octets(), 64)
        .udp(sport, dport)
        .write(&mut buf, b"answer")
        .unwrap();
    buf
}

/// (source address, source port) of a translated IPv4 UDP packet, its checksum verified.
fn v4_source(pkt: &[u8]) -> (Ipv4Addr, u16) {
    let sliced = SlicedPacket::from_ip(pkt).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = sliced.net else {
        panic!("not IPv4")
    };
    let Some(TransportSlice::Udp(udp)) = sliced.transport else {
        panic!("not UDP")
    };
    let expected = udp
        .to_header()
        .calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
        .unwrap();
    assert_eq!(
        udp.checksum(),
        expected,
        "UDP checksum after the port rewrite"
    );
    (ip.header().source_addr(), udp.source_port())
}

/// (destination address, destination port) of a translated IPv6 UDP packet, checksum verified.
fn v6_destination(pkt: &[u8]) -> (Ipv6Addr, u16) {
    let sliced = SlicedPacket::from_ip(pkt).unwrap();
    let Some(etherparse::NetSlice::Ipv6(ip)) = sliced.net else {
        panic!("not IPv6")
    };
    let Some(TransportSlice::Udp(udp)) = sliced.transport else {
        panic!("not UDP")
    };
    let expected = udp
        .to_header()
        .calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
        .unwrap();
    assert_eq!(
        udp.checksum(),
        expected,
        "UDP checksum after the host rewrite"
    );
    (ip.header().destination_addr(), udp.destination_port())
}

#[test]
fn a_client_gets_a_binding_and_the_reply_finds_it() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let now = Instant::now();
    let c = client(1, 5);
    assert_eq!(
        n.translate(&udp6(c, 40000, 64), now, &mut out),
        Verdict::Translated
    );
    let (addr, port) = v4_source(out.packets().next().unwrap());
    assert_eq!(addr, POOL);
    assert_eq!(
        n.translate(&udp4(SERVER, 53, port), now, &mut out),
        Verdict::Translated
    );
    assert_eq!(
        v6_destination(out.packets().next().unwrap()),
        (Ipv6Addr::from(c), 40000)
    );
    // The same flow keeps its binding.
    n.translate(&udp6(c, 40000, 64), now, &mut out);
    assert_eq!(v4_source(out.packets().next().unwrap()).1, port);
    let udp = Protocol::Udp.index();
    let counts = n.counts();
    assert_eq!((counts.bindings[udp], counts.sessions[udp]), (1, 1));
    assert_eq!(
        counts.activity[udp],
        Activity {
            translated_v6_to_v4: 2,
            translated_v4_to_v6: 1,
            sessions_opened: 1,
            sessions_expired: 0,
            ..Activity::default()
        }
    );
    n.expire(now + Duration::from_secs(301), &mut out);
    assert_eq!(n.counts().activity[udp].sessions_expired, 1);
}

#[test]
fn a_subscriber_past_its_blocks_is_refused_and_the_others_carry_on() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let now = Instant::now();
    // Two /128s of one /64 share its 2 blocks of 4 ports.
    for i in 0..8 {
        let host = client(1, 1 + i % 2);
        assert_eq!(
            n.translate(&udp6(host, 50000 + i, 64), now, &mut out),
            Verdict::Translated
        );
    }
    let refused = n.translate(&udp6(client(1, 3), 50000, 64), now, &mut out);
    assert_eq!(refused, Verdict::IcmpError(DropReason::PortsExhausted));
    let error = out.packets().next().unwrap();
    assert_eq!(
        (error[40], error[41]),
        (1, 1),
        "ICMPv6 administratively prohibited"
    );
    assert_eq!(
        n.translate(&udp6(client(2, 1), 50000, 64), now, &mut out),
        Verdict::Translated,
        "another subscriber is not affected"
    );
    assert_eq!(n.blocks().len(), 3);
}

#[test]
fn sessions_bindings_and_blocks_expire_with_their_timers() {
    let mut n = nat64(|cfg| cfg.timeouts.udp = Duration::from_secs(3));
    let mut out = Output::new();
    let start = Instant::now();
    n.translate(&udp6(client(1, 5), 40000, 64), start, &mut out);
    let port = v4_source(out.packets().next().unwrap()).1;
    assert_eq!(n.expire(start + Duration::from_secs(2), &mut out), 0);
    assert_eq!(n.expire(start + Duration::from_secs(3), &mut out), 1);
    assert!(n.bindings().is_empty() && n.blocks().is_empty());
    assert_eq!(
        n.translate(&udp4(SERVER, 53, port), start, &mut out),
        Verdict::IcmpError(DropReason::NoBinding),
        "a UDP packet no binding takes is answered port unreachable"
    );
}

#[test]
fn address_dependent_filtering_lets_in_only_the_remotes_the_client_sent_to() {
    let mut n = nat64(|cfg| cfg.filtering = Filtering::AddressDependent);
    let mut out = Output::new();
    let now = Instant::now();
    n.translate(&udp6(client(1, 5), 40000, 64), now, &mut out);
    let port = v4_source(out.packets().next().unwrap()).1;
    assert_eq!(
        n.translate(&udp4([192, 0, 2, 77], 53, port), now, &mut out),
        Verdict::Drop(DropReason::Filtered)
    );
    assert_eq!(
        n.translate(&udp4(SERVER, 5353, port), now, &mut out),
        Verdict::Translated,
        "the same remote address, another port"
    );
    let mut eif = nat64(|_| {});
    eif.translate(&udp6(client(1, 5), 40000, 64), now, &mut out);
    let port = v4_source(out.packets().next().unwrap()).1;
    assert_eq!(
        eif.translate(&udp4([192, 0, 2, 77], 53, port), now, &mut out),
        Verdict::Translated
    );
}

#[test]
fn a_packet_that_is_not_translated_leaves_no_binding() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let verdict = n.translate(&udp6(client(1, 5), 40000, 1), Instant::now(), &mut out);
    assert_eq!(verdict, Verdict::IcmpError(DropReason::HopLimitExceeded));
    assert!(n.bindings().is_empty());
    assert!(n.blocks().iter().all(|b| b.in_use == 0));
}

#[test]
fn a_tcp_segment_other_than_a_syn_opens_nothing() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let mut buf = Vec::new();
    PacketBuilder::ipv6(client(1, 5), WELL_KNOWN_PREFIX.embed(SERVER), 64)
        .tcp(40000, 80, 1, 1000)
        .ack(1)
        .write(&mut buf, b"")
        .unwrap();
    assert_eq!(
        n.translate(&buf, Instant::now(), &mut out),
        Verdict::Drop(DropReason::NoBinding)
    );
    assert!(n.bindings().is_empty());
}

#[test]
fn arbitrary_input_never_panics_and_keeps_the_tables_consistent() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let seeds = [udp6(client(1, 5), 40000, 64), udp4(SERVER, 53, 1024)];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let now = Instant::now();
    for round in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut p = seeds[round % 2].clone();
        let at = (state as usize) % p.len();
        p[at] = (state >> 32) as u8;
        let _ = n.translate(&p, now, &mut out);
    }
    n.expire(now + Duration::from_secs(3600 * 3), &mut out);
    assert!(n.bindings().is_empty(), "every dynamic binding expires");
    assert!(n.blocks().is_empty(), "and every block goes back");
}

#[test]
fn a_restart_keeps_bindings_sessions_and_blocks() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let now = Instant::now();
    let c = client(1, 5);
    n.translate(&udp6(c, 40000, 64), now, &mut out);
    let port = v4_source(out.packets().next().unwrap()).1;
    let text = serde_json::to_string(&n.save(now + Duration::from_secs(10))).unwrap();

    let mut after = nat64(|_| {});
    let later = Instant::now() + Duration::from_secs(60);
    let restored = after.restore(&serde_json::from_str(&text).unwrap(), later);
    assert_eq!(
        (restored.bindings, restored.sessions, restored.dropped),
        (1, 1, 0)
    );
    assert_eq!(after.blocks(), n.blocks());
    assert_eq!(
        after.translate(&udp4(SERVER, 53, port), later, &mut out),
        Verdict::Translated,
        "the reply finds the binding made before the restart"
    );
    assert_eq!(
        v6_destination(out.packets().next().unwrap()),
        (Ipv6Addr::from(c), 40000)
    );
    // The session keeps the time it had left (5 min less the 10 s), not a fresh 5 min.
    let expires = after.sessions(later)[0].expires_in_secs;
    assert!((285..=300).contains(&expires), "{expires}");

    // A binding the new configuration cannot hold is dropped, not forced in.
    let mut elsewhere =
        nat64(|cfg| *cfg = StatefulConfig::on_address(Ipv4Addr::new(198, 51, 100, 2)));
    let restored = elsewhere.restore(&serde_json::from_str(&text).unwrap(), later);
    assert_eq!((restored.bindings, restored.dropped), (0, 1));
}

/// `pkt` (IPv6, no extension headers) cut into two fragments at `at` bytes of its payload (a
/// multiple of 8).
fn fragments_v6(pkt: &[u8], at: usize, id: u32) -> [Vec<u8>; 2] {
    let (header, payload) = pkt.split_at(40);
    let next = header[6];
    let piece = |offset: usize, data: &[u8], more: bool| {
        let mut p = header.to_vec();
        p[6] = 44;
        p[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&(((offset / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(data);
        p
    };
    [
        piece(0, &payload[..at], true),
        piece(at, &payload[at..], false),
    ]
}

/// `pkt` (IPv4, no options) cut into two fragments at `at` bytes of its payload.
fn fragments_v4(pkt: &[u8], at: usize) -> [Vec<u8>; 2] {
    let (header, payload) = pkt.split_at(20);
    let piece = |offset: usize, data: &[u8], more: bool| {
        let mut p = header.to_vec();
        p[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        p[6..8]
            .copy_from_slice(&((offset / 8) as u16 | if more { 0x2000 } else { 0 }).to_be_bytes());
        p[10..12].fill(0);
        let c = nat64_common::checksum::finish(nat64_common::checksum::sum(&p, 0));
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(data);
        p
    };
    [
        piece(0, &payload[..at], true),
        piece(at, &payload[at..], false),
    ]
}

#[test]
fn later_fragments_follow_their_first_and_wait_for_it() {
    let mut n = nat64(|_| {});
    let mut out = Output::new();
    let now = Instant::now();
    let c = client(1, 5);
    let mut big = Vec::new();
    PacketBuilder::ipv6(c, WELL_KNOWN_PREFIX.embed(SERVER), 64)
        .udp(40000, 53)
        .write(&mut big, &[7u8; 2000])
        .unwrap();
    let [first, second] = fragments_v6(&big, 1000, 0x1234);
    // The second comes first: it waits, unanswered.
    assert_eq!(
        n.translate(&second, now, &mut out),
        Verdict::Drop(DropReason::StatefulFragment)
    );
    assert!(out.is_empty());
    assert_eq!(n.translate(&first, now, &mut out), Verdict::Translated);
    let packets: Vec<&[u8]> = out.packets().collect();
    assert_eq!(packets.len(), 2, "the first, then the one that waited");
    let port = u16::from_be_bytes([packets[0][20], packets[0][21]]);
    assert_eq!(
        &packets[1][12..16],
        &POOL.octets(),
        "the later fragment from pool4"
    );
    assert_ne!(
        u16::from_be_bytes([packets[1][6], packets[1][7]]) & 0x1fff,
        0
    );

    // The reply, fragmented the other way, in order this time.
    let mut reply = Vec::new();
    PacketBuilder::ipv4(SERVER, POOL.octets(), 64)
        .udp(53, port)
        .write(&mut reply, &[9u8; 2000])
        .unwrap();
    let [first, second] = fragments_v4(&reply, 1000);
    assert_eq!(n.translate(&first, now, &mut out), Verdict::Translated);
    assert_eq!(n.translate(&second, now, &mut out), Verdict::Translated);
    let later = out.packets().next().unwrap();
    assert_eq!(&later[24..40], &c, "the later fragment to the IPv6 host");

    // A later fragment whose first never comes is dropped once its time runs out.
    let [_, orphan] = fragments_v6(&big, 1000, 0x9999);
    n.translate(&orphan, now, &mut out);
    n.expire(now + Duration::from_secs(3), &mut out);
    assert!(out.is_empty());
}

#[test]
fn the_tables_hold_together_after_every_kind_of_packet() {
    let mut n = nat64(|cfg| cfg.timeouts.udp = Duration::from_secs(1));
    let mut out = Output::new();
    let now = Instant::now();
    for i in 0..10 {
        n.translate(&udp6(client(1, i), 40000 + i, 64), now, &mut out);
        assert!(n.violations().is_empty(), "{:?}", n.violations());
    }
    n.expire(now + Duration::from_secs(2), &mut out);
    assert!(n.violations().is_empty(), "{:?}", n.violations());
}

fn tcp6(src: [u8; 16], sport: u16, syn: bool, fin: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let b = PacketBuilder::ipv6(src, WELL_KNOWN_PREFIX.embed(SERVER), 64).tcp(sport, 80, 1, 1000);
    let b = if syn { b.syn() } else { b };
    let b = if fin { b.fin() } else { b };
    b.write(&mut buf, b"").unwrap();
    buf
}

fn tcp4(dport: u16, syn: bool, fin: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let b = PacketBuilder::ipv4(SERVER, POOL.octets(), 64).tcp(80, dport, 1, 1000);
    let b = if syn { b.syn().ack(2) } else { b };
    let b = if fin { b.fin() } else { b };
    b.write(&mut buf, b"").unwrap();
    buf
}

fn changes(n: &mut Nat64) -> Vec<Change> {
    let mut c = Vec::new();
    n.take_kernel_changes(&mut c);
    c
}

#[test]
fn the_kernel_gets_a_tcp_session_once_established_and_loses_it_at_the_second_fin() {
    let mut n = nat64(|_| {});
    n.start_kernel_sync();
    let mut out = Output::new();
    let now = Instant::now();
    let c = client(1, 5);
    n.translate(&tcp6(c, 40000, true, false), now, &mut out);
    assert!(
        changes(&mut n).is_empty(),
        "a SYN sent is not yet a connection"
    );
    let port = wire::u16_at(out.packets().next().unwrap(), 20).unwrap();
    assert_eq!(
        n.translate(&tcp4(port, true, false), now, &mut out),
        Verdict::Translated
    );
    let expected = KernelSession {
        protocol: Protocol::Tcp,
        host: (Ipv6Addr::from(c), 40000),
        local: (POOL, port),
        remote: (Ipv4Addr::from(SERVER), 80),
    };
    assert_eq!(changes(&mut n), vec![Change::Install(expected)]);
    n.translate(&tcp6(c, 40000, false, true), now, &mut out);
    assert!(
        changes(&mut n).is_empty(),
        "one FIN: the kernel keeps the flow"
    );
    n.translate(&tcp4(port, false, true), now, &mut out);
    assert_eq!(changes(&mut n), vec![Change::Remove(expected)]);
}

#[test]
fn a_session_the_kernel_still_uses_does_not_expire() {
    let mut n = nat64(|cfg| cfg.timeouts.udp = Duration::from_secs(10));
    n.start_kernel_sync();
    let mut out = Output::new();
    let start = Instant::now();
    let c = client(1, 5);
    n.translate(&udp6(c, 40000, 64), start, &mut out);
    let [Change::Install(session)] = changes(&mut n)[..] else {
        panic!("UDP goes to the kernel at once")
    };
    // The kernel translated a packet at 8 s: at 11 s the session lives on, to 18 s.
    let used = start + Duration::from_secs(8);
    let mut stamps = |s: &KernelSession| (*s == session).then_some(used);
    assert_eq!(
        n.expire_with_kernel(start + Duration::from_secs(11), &mut out, &mut stamps),
        0
    );
    assert!(changes(&mut n).is_empty());
    assert_eq!(
        n.expire_with_kernel(start + Duration::from_secs(19), &mut out, &mut stamps),
        1
    );
    assert_eq!(changes(&mut n), vec![Change::Remove(session)]);
    assert!(n.bindings().is_empty());
}

#[test]
fn a_hairpinned_flow_stays_in_userspace() {
    let mut n = nat64(|_| {});
    n.start_kernel_sync();
    let mut out = Output::new();
    let now = Instant::now();
    let mut buf = Vec::new();
    PacketBuilder::ipv6(client(1, 5), WELL_KNOWN_PREFIX.embed(POOL.octets()), 64)
        .udp(40000, 53)
        .write(&mut buf, b"hairpin")
        .unwrap();
    n.translate(&buf, now, &mut out);
    assert!(changes(&mut n).is_empty());
}

#[test]
fn a_source_behind_the_prefix_gets_no_binding() {
    let mut n = nat64(|_| {});
    n.start_kernel_sync();
    let mut out = Output::new();
    // 64:ff9b::100.64.0.1 stands for an IPv4 address: translated, it would leave with that
    // address as its source and a pool4 port (Jool drops it as a hairpinning loop).
    let behind = WELL_KNOWN_PREFIX.embed([100, 64, 0, 1]);
    assert_eq!(
        n.translate(&udp6(behind, 40000, 64), Instant::now(), &mut out),
        Verdict::Drop(DropReason::TranslatorLoop)
    );
    assert!(n.bindings().is_empty());
    assert!(changes(&mut n).is_empty());
}

#[test]
fn a_session_with_a_remote_in_pool4_stays_in_userspace() {
    let mut n = nat64(|_| {});
    n.start_kernel_sync();
    let mut out = Output::new();
    let now = Instant::now();
    n.translate(&udp6(client(1, 5), 40000, 64), now, &mut out);
    let port = v4_source(out.packets().next().unwrap()).1;
    changes(&mut n);
    // Endpoint-independent filtering lets a packet from pool4's own address in: its
    // session is a hairpin's, which the kernel would send out instead of round again.
    assert_eq!(
        n.translate(&udp4(POOL.octets(), 53, port), now, &mut out),
        Verdict::Translated
    );
    assert_eq!(n.sessions(now).len(), 2);
    assert!(changes(&mut n).is_empty());
}

/// The kernel's binding maps as userspace sees them through [`KernelBindings`]: first writer
/// wins, entries removed only where they still say so; what the kernel "opened" is pushed by
/// the test. The real maps and programs are exercised by the vector and namespace tests.
#[derive(Debug, Default)]
struct FakeKernel {
    by_v6: std::collections::HashMap<(Protocol, (Ipv6Addr, u16)), (Ipv4Addr, u16)>,
    by_v4: std::collections::HashMap<(Protocol, (Ipv4Addr, u16)), (Ipv6Addr, u16)>,
    lent: std::collections::HashMap<(Protocol, Ipv6Addr), Lent>,
    opened: Vec<KernelSession>,
}

#[derive(Clone, Debug, Default)]
struct SharedFake(std::sync::Arc<std::sync::Mutex<FakeKernel>>);

impl SharedFake {
    fn with<R>(&self, f: impl FnOnce(&mut FakeKernel) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// The kernel opens `s` as its program would: binding first, then the session.
    fn kernel_opens(&self, s: KernelSession) {
        self.with(|k| {
            k.by_v4.entry((s.protocol, s.local)).or_insert(s.host);
            k.by_v6.entry((s.protocol, s.host)).or_insert(s.local);
            k.opened.push(s);
        });
    }
}

impl KernelBindings for SharedFake {
    fn bound(&self, protocol: Protocol, v6: (Ipv6Addr, u16)) -> Option<(Ipv4Addr, u16)> {
        self.with(|k| k.by_v6.get(&(protocol, v6)).copied())
    }

    fn claim(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16)) -> Claim {
        self.with(|k| {
            if let Some(theirs) = k.by_v4.get(&(protocol, v4)) {
                return Claim::PortTaken(*theirs);
            }
            if let Some(theirs) = k.by_v6.get(&(protocol, v6)) {
                return Claim::HostBound(*theirs);
            }
            k.by_v4.insert((protocol, v4), v6);
            k.by_v6.insert((protocol, v6), v4);
            Claim::Took
        })
    }

    fn release(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16)) {
        self.with(|k| {
            if k.by_v6.get(&(protocol, v6)) == Some(&v4) {
                k.by_v6.remove(&(protocol, v6));
            }
            if k.by_v4.get(&(protocol, v4)) == Some(&v6) {
                k.by_v4.remove(&(protocol, v4));
            }
        });
    }

    fn lend(&mut self, protocol: Protocol, subscriber: Ipv6Addr, block: Option<Lent>) {
        self.with(|k| match block {
            Some(b) => k.lent.insert((protocol, subscriber), b),
            None => k.lent.remove(&(protocol, subscriber)),
        });
    }

    fn enter_pool4(&mut self, _pool4: &[Ipv4Addr]) -> bool {
        true
    }

    fn clear(&mut self) {
        self.with(|k| {
            k.by_v6.clear();
            k.by_v4.clear();
            k.lent.clear();
        });
    }

    fn opened(&mut self, into: &mut Vec<KernelSession>) {
        self.with(|k| into.append(&mut k.opened));
    }
}

fn with_fake_kernel(n: &mut Nat64, now: Instant) -> SharedFake {
    let fake = SharedFake::default();
    n.start_kernel_sync();
    n.start_kernel_opening(Box::new(fake.clone()), now);
    fake
}

#[test]
fn a_binding_is_claimed_in_the_kernel_and_its_block_lent() {
    let mut n = nat64(|_| {});
    let now = Instant::now();
    let fake = with_fake_kernel(&mut n, now);
    let mut out = Output::new();
    let c = client(1, 5);
    assert_eq!(
        n.translate(&udp6(c, 40000, 64), now, &mut out),
        Verdict::Translated
    );
    let local = v4_source(out.packets().next().unwrap());
    let subscriber = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0);
    fake.with(|k| {
        assert_eq!(
            k.by_v6.get(&(Protocol::Udp, (Ipv6Addr::from(c), 40000))),
            Some(&local)
        );
        let lent = k
            .lent
            .get(&(Protocol::Udp, subscriber))
            .expect("the block is lent");
        assert_eq!(lent.addr, POOL);
        assert!((lent.first..lent.first + lent.len).contains(&local.1));
    });
    // TCP is never lent: its sessions open with a SYN, userspace's alone.
    n.translate(&tcp6(c, 40001, true, false), now, &mut out);
    fake.with(|k| assert!(!k.lent.contains_key(&(Protocol::Tcp, subscriber))));
}

#[test]
fn a_port_the_kernel_holds_is_not_handed_out_again() {
    let mut n = nat64(|_| {});
    let now = Instant::now();
    let fake = with_fake_kernel(&mut n, now);
    let mut out = Output::new();
    let (a, b) = (client(1, 5), client(1, 6));
    n.translate(&udp6(a, 40000, 64), now, &mut out);
    let first = v4_source(out.packets().next().unwrap());
    // The kernel bound b#40001 to the next port of the block; its ring is not read yet.
    let next = (POOL, first.1 + 1);
    let theirs = KernelSession {
        protocol: Protocol::Udp,
        host: (Ipv6Addr::from(b), 40001),
        local: next,
        remote: (Ipv4Addr::from(SERVER), 53),
    };
    fake.with(|k| {
        k.by_v4.insert((Protocol::Udp, next), theirs.host);
        k.by_v6.insert((Protocol::Udp, theirs.host), next);
    });
    // a's next flows want that port; they get others, and the kernel's binding is taken in.
    for port in [first.1 + 1, first.1 + 2] {
        n.translate(&udp6(a, port, 64), now, &mut out);
        assert_ne!(v4_source(out.packets().next().unwrap()), next);
    }
    assert!(n
        .bindings()
        .iter()
        .any(|x| x.v6 == Ipv6Addr::from(b) && x.port4 == next.1));
    // And a host end the kernel bound is the kernel's binding here too.
    n.translate(&udp6(b, 40001, 64), now, &mut out);
    assert_eq!(v4_source(out.packets().next().unwrap()), next);
    assert!(n.violations().is_empty(), "{:?}", n.violations());
}

#[test]
fn a_session_the_kernel_opened_is_taken_in_listed_and_expired() {
    let mut n = nat64(|cfg| cfg.timeouts.udp = Duration::from_secs(10));
    let start = Instant::now();
    let fake = with_fake_kernel(&mut n, start);
    let mut out = Output::new();
    let c = client(1, 5);
    n.translate(&udp6(c, 40000, 64), start, &mut out);
    let first = v4_source(out.packets().next().unwrap());
    changes(&mut n);
    let opened = KernelSession {
        protocol: Protocol::Udp,
        host: (Ipv6Addr::from(client(1, 7)), 50000),
        local: (POOL, first.1 + 1),
        remote: (Ipv4Addr::from(SERVER), 53),
    };
    fake.kernel_opens(opened);
    assert_eq!(n.adopt_opened(start), 1);
    assert!(
        changes(&mut n).is_empty(),
        "it is in the kernel's maps already"
    );
    let listed = n.sessions(start);
    assert!(listed
        .iter()
        .any(|s| s.port6 == 50000 && s.port4 == first.1 + 1 && s.in_kernel));
    let udp = Protocol::Udp.index();
    assert_eq!(n.counts().activity[udp].sessions_opened_in_kernel, 1);
    // The reply finds it in userspace too.
    assert_eq!(
        n.translate(&udp4(SERVER, 53, first.1 + 1), start, &mut out),
        Verdict::Translated
    );
    assert_eq!(
        v6_destination(out.packets().next().unwrap()),
        (Ipv6Addr::from(client(1, 7)), 50000)
    );
    // Unused, it expires: out of the kernel's session maps, its binding out of the
    // binding maps, and the idle block taken back from the kernel.
    n.expire_with_kernel(start + Duration::from_secs(11), &mut out, &mut |_| None);
    assert!(changes(&mut n).contains(&Change::Remove(opened)));
    fake.with(|k| {
        assert!(k.by_v6.is_empty() && k.by_v4.is_empty(), "{k:?}");
        assert!(k.lent.is_empty(), "{k:?}");
    });
    assert!(n.violations().is_empty(), "{:?}", n.violations());
}

#[test]
fn a_kernel_session_on_a_port_userspace_gave_away_is_taken_out_again() {
    let mut n = nat64(|_| {});
    let now = Instant::now();
    let fake = with_fake_kernel(&mut n, now);
    let mut out = Output::new();
    let c = client(1, 5);
    n.translate(&udp6(c, 40000, 64), now, &mut out);
    let ours = v4_source(out.packets().next().unwrap());
    changes(&mut n);
    // A session the kernel reports on our port for another host (the block was taken
    // back and given away while a program was opening it).
    let stale = KernelSession {
        protocol: Protocol::Udp,
        host: (Ipv6Addr::from(client(1, 9)), 50000),
        local: ours,
        remote: (Ipv4Addr::from(SERVER), 53),
    };
    fake.with(|k| k.opened.push(stale));
    n.adopt_opened(now);
    assert_eq!(changes(&mut n), vec![Change::Remove(stale)]);
    let udp = Protocol::Udp.index();
    assert_eq!(n.counts().activity[udp].kernel_conflicts, 1);
    assert!(n.violations().is_empty(), "{:?}", n.violations());
}
