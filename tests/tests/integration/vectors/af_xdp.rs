//! Jool's SIIT vectors through a real gateway: `nat64 run --iface eth0 --iface eth1
//! --datapath tc` between an IPv6 side and an IPv4 side (`siit_bed`). Each case's packet is
//! sent to the gateway as a frame on the wire; the XDP program translates it itself or,
//! where it cannot, sends it to an AF_XDP socket, whose worker translates it with the
//! userspace translator. Two runs, one per way out ([`Exit`]):
//! - the default: the worker writes its translation into the TUN device, from where the
//!   kernel routes it out (and the XDP program hands its own to the stack). What reaches the
//!   sides must be what the userspace translator makes of the packet under the case's
//!   settings, byte for byte, but for what the kernel's forwarding changes after the
//!   translator (see [`compare`]).
//! - `--xdp-forward direct --xdp-slow-path af-xdp-transmit`: both send their translations
//!   straight out of the side's interface (the worker by AF_XDP transmit), so what reaches
//!   the sides must be the translator's packets exactly as it made them.
//!
//! The daemon runs a `tayga.conf` per group of cases that need the same one
//! (`jool_daemon::setup_for`: a configuration under which the daemon's translator treats the
//! case's packet exactly as the case's settings do); a case no configuration can express is
//! skipped, named, with why.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use nat64::config::StaticMap;
use nat64::translate::{NoDynamicMap, Output, Translator, Verdict};
use nat64_tests::counter_moves::{Counts, Moved, Path};
use nat64_tests::forwarding::{self, destination, forwarded};
use nat64_tests::jool::{self, Case, Tally};
use nat64_tests::jool_daemon::{self, DaemonSetup, DEVICE};
use nat64_tests::privileges::require_root;
use nat64_tests::siit_bed::{Caught, Side, SiitBed};
use nat64_tests::tempdir::TempDir;

const TITLE: &str = "jool-siit vectors (xdp+af_xdp)";
const TITLE_TRANSMIT: &str = "jool-siit vectors (xdp direct+af_xdp transmit)";

/// How the gateway sends its translations on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Exit {
    /// The daemon's defaults: the XDP program hands its translations to the stack, the
    /// AF_XDP workers write theirs into the TUN device; the kernel forwards both.
    Stack,
    /// Both straight out of the interface the route names, past the stack.
    Transmit,
}

impl Exit {
    pub(super) fn args(self) -> &'static [&'static str] {
        match self {
            Exit::Stack => &[],
            Exit::Transmit => &[
                "--xdp-forward",
                "direct",
                "--xdp-slow-path",
                "af-xdp-transmit",
            ],
        }
    }
}

const EAM_WIDER_IPV6: &str = "its eam+ maps IPv4 /24s to IPv6 /72s (RFC 7757 lets the IPv6 \
     suffix be longer); nat64's configuration takes only maps of subnets of one size, so no \
     daemon can run them (the userspace translator itself does: vectors::jool)";

/// Cases whose settings no nat64 configuration expresses, keyed by their expected packet
/// (the sent one is shared). Checked: a listed case the daemon can run fails the test.
const DAEMON_CANNOT_EXPRESS: &[(&str, &str)] = &[
    ("manual/6791v46e-empty.pkt", EAM_WIDER_IPV6),
    ("manual/6791v46e.pkt", EAM_WIDER_IPV6),
];

/// How long a packet may take through the gateway, and how long to listen for more once
/// the expected ones are in (or for anything, when nothing is expected).
const ARRIVAL_LIMIT: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_millis(100);
const SILENCE: Duration = Duration::from_millis(300);

/// The cases one daemon runs.
struct Group<'a> {
    setup: DaemonSetup,
    cases: Vec<&'a Case>,
}

/// How the cases' packets went through the gateway.
#[derive(Default)]
pub(super) struct Paths {
    pub(super) af_xdp: usize,
    pub(super) xdp: usize,
    /// Of those by XDP, the ones that came out as the translator made them, not forwarded
    /// (`Reference::from_xdp`).
    pub(super) xdp_untouched: usize,
    /// Under [`Exit::Transmit`], the ones the stack forwarded after all
    /// (`Reference::through_stack`).
    pub(super) through_stack: usize,
    pub(super) dropped: usize,
}

#[test]
fn jool_siit_vectors_through_xdp_and_af_xdp() {
    run_suite(Exit::Stack, TITLE);
}

#[test]
fn jool_siit_vectors_through_xdp_direct_and_af_xdp_transmit() {
    run_suite(Exit::Transmit, TITLE_TRANSMIT);
}

fn run_suite(exit: Exit, title: &str) {
    let Some(_root) = require_root() else {
        return;
    };
    let cases = jool::load_cases();
    let mut tally = Tally::default();
    let groups = plan(&cases, &mut tally);
    let mut bed = SiitBed::new().expect("namespaces");
    let mut paths = Paths::default();
    let mut moved = Sent::default();
    for group in &groups {
        let sent = run_group(&mut bed, group, &mut tally, &mut paths, exit);
        moved.translated += sent.translated;
        moved.straight_out += sent.straight_out;
    }
    tally.report(title);
    eprintln!(
        "  through AF_XDP {}, translated by XDP itself {}, dropped as userspace drops them {}, \
         forwarded by the stack {}; AF_XDP translated {} packets, sent {} of them straight out; \
         {} daemon configurations",
        paths.af_xdp,
        paths.xdp,
        paths.dropped,
        paths.through_stack,
        moved.translated,
        moved.straight_out,
        groups.len()
    );
    assert!(
        tally.failed.is_empty(),
        "{} Jool vector cases failed through XDP and AF_XDP",
        tally.failed.len()
    );
    assert!(
        moved.translated > 0,
        "the AF_XDP workers translated nothing"
    );
    match exit {
        Exit::Stack => assert_eq!(moved.straight_out, 0, "AF_XDP transmit was not asked for"),
        // The bed's neighbours are entered by hand and its links fit every packet: the
        // stack never has to help, so every translation leaves as the translator made it.
        Exit::Transmit => {
            assert!(
                moved.straight_out > 0,
                "the AF_XDP workers sent nothing straight out"
            );
            assert_eq!(
                paths.through_stack, 0,
                "translations forwarded by the stack"
            );
        }
    }
}

/// What the AF_XDP workers of a run translated, and of that sent straight out.
#[derive(Default)]
struct Sent {
    translated: u64,
    straight_out: u64,
}

/// The cases by the daemon configuration they run under, in order of first use; the ones
/// without a configuration go to the tally as skipped (listed) or failed (not listed).
fn plan<'a>(cases: &'a [Case], tally: &mut Tally) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for case in cases {
        let listed = DAEMON_CANNOT_EXPRESS
            .iter()
            .find(|(expected, _)| case.expected_files.iter().any(|f| f == expected))
            .map(|(_, why)| *why);
        match (jool_daemon::setup_for(case), listed) {
            (Err(_), Some(why)) => tally.skipped.push(format!("{}: {why}", case.label())),
            (Err(why), None) => tally.failed.push(format!("{}: {why}", case.label())),
            (Ok(_), Some(_)) => tally.failed.push(format!(
                "{}: listed in DAEMON_CANNOT_EXPRESS but a daemon can run it; remove it",
                case.label()
            )),
            (Ok(setup), None) => match groups.iter_mut().find(|g| g.setup == setup) {
                Some(group) => group.cases.push(case),
                None => groups.push(Group {
                    setup,
                    cases: vec![case],
                }),
            },
        }
    }
    groups
}

/// Starts a daemon for `group`, runs its cases, stops it; returns what its AF_XDP workers
/// translated and sent straight out.
fn run_group(
    bed: &mut SiitBed,
    group: &Group,
    tally: &mut Tally,
    paths: &mut Paths,
    exit: Exit,
) -> Sent {
    let routing = Routing::for_group(group);
    let references: Vec<Result<Reference, String>> = group
        .cases
        .iter()
        .map(|case| Reference::of(case, &routing, exit))
        .collect();
    let _data = start_daemon(bed, group, &routing, &references, exit);
    route_ipv6_hosts(bed, group, &references);

    for (case, reference) in group.cases.iter().zip(&references) {
        let result = match reference {
            Ok(reference) => run_case(bed, case, reference, paths),
            Err(why) => Err(format!("reference: {why}")),
        };
        tally.record(case, result, None);
    }

    let stats = bed.stats(DEVICE).expect("nat64 stats --json");
    assert_eq!(
        stats.tun().translated,
        0,
        "the TUN workers translated nothing of what came in through the veths:\n{stats}"
    );
    let sent = Sent {
        translated: stats.af_xdp(|x| x.translated),
        straight_out: stats.af_xdp(|x| x.sent_direct),
    };
    bed.stop_nat64().expect("the gateway stops");
    bed.clear_host_routes().expect("host routes removed");
    sent
}

/// Links, TUN device and `tayga.conf` for `group`, and the daemon on them, with its AF_XDP
/// slow path up on both interfaces; returns the data-dir (removed when dropped).
fn start_daemon(
    bed: &mut SiitBed,
    group: &Group,
    routing: &Routing,
    references: &[Result<Reference, String>],
    exit: Exit,
) -> TempDir {
    for side in [Side::Ipv6, Side::Ipv4] {
        bed.set_link_mtu(side, link_mtu(side, &group.cases, references))
            .expect("link MTU");
    }
    bed.make_tun(DEVICE, group.setup.tun_mtu)
        .expect("TUN device");
    let data = TempDir::new("siit-af-xdp").expect("data-dir");
    let mut extra: Vec<String> = routing
        .tun_routes
        .iter()
        .map(|a| format!("tun-route {a}/32"))
        .collect();
    extra.push(format!("data-dir {}", data.path().display()));
    let conf = data.path().join("vectors.conf");
    std::fs::write(&conf, group.setup.tayga_conf(&extra)).expect("writing the configuration");
    start_with_af_xdp(bed, &conf, exit);
    data
}

/// `nat64 run --config <config>` with XDP on both interfaces and the TC path behind it; its
/// log must show the AF_XDP slow path up on both. Returns the log.
pub(super) fn start_with_af_xdp(bed: &mut SiitBed, config: &std::path::Path, exit: Exit) -> String {
    let config = config.to_str().expect("UTF-8 path");
    let mut args = vec![
        "run",
        "--config",
        config,
        "--iface",
        "eth0",
        "--iface",
        "eth1",
        "--datapath",
        "tc",
    ];
    args.extend_from_slice(exit.args());
    bed.start_nat64(&args).expect("the gateway starts");
    let log = bed.gateway.last_child_output();
    assert!(
        log.contains("slow path by AF_XDP on eth0 (") && log.contains("eth1 ("),
        "the AF_XDP slow path is up on both interfaces:\n{log}"
    );
    log
}

/// The IPv6 side's hosts (the destinations of what the group expects there) live inside the
/// prefix the daemon routes into the translator: each gets a route out of the IPv6 side.
/// None may be a destination the group sends to, which must go into the translator.
fn route_ipv6_hosts(bed: &mut SiitBed, group: &Group, references: &[Result<Reference, String>]) {
    let mut hosts: Vec<IpAddr> = references
        .iter()
        .flatten()
        .flat_map(|r| &r.packets)
        .filter_map(|(_, p)| destination(p).filter(IpAddr::is_ipv6))
        .collect();
    hosts.sort();
    hosts.dedup();
    for host in hosts {
        let sent_to = group
            .cases
            .iter()
            .find(|c| destination(&c.sent) == Some(host));
        assert!(
            sent_to.is_none(),
            "{host} is both an IPv6 host and where {} sends to",
            sent_to.map(|c| c.label()).unwrap_or_default()
        );
        bed.route_to_side(Side::Ipv6, host).expect("host route");
    }
}

/// Each side's link MTU: 1500 (the vectors' links), more where a packet the group sends or
/// expects on that side would not fit.
pub(super) fn link_mtu(
    side: Side,
    cases: &[&Case],
    references: &[Result<Reference, String>],
) -> u16 {
    let sent = cases
        .iter()
        .filter(|c| Side::of_packet(&c.sent) == side)
        .map(|c| c.sent.len());
    let expected = references
        .iter()
        .flatten()
        .flat_map(|r| &r.packets)
        .filter(|(s, _)| *s == side)
        .map(|(_, p)| p.len());
    let largest = sent.chain(expected).max().unwrap_or(0);
    u16::try_from(largest.max(1500)).unwrap_or(u16::MAX)
}

/// Which IPv4 addresses the gateway routes into the translator: those that stand for the
/// IPv6 side's hosts (the maps' IPv4 subnets, the translator's own address, and the
/// destinations of the group's IPv4 packets, which the daemon is told to route in with
/// `tun-route`). Every other IPv4 address is on the IPv4 side (the default route).
struct Routing {
    maps: Vec<StaticMap>,
    ipv4_addr: Ipv4Addr,
    tun_routes: Vec<Ipv4Addr>,
}

impl Routing {
    fn for_group(group: &Group) -> Routing {
        let maps = jool_daemon::map_subnets(&group.setup).expect("the group's configuration");
        let ipv4_addr = group.setup.ipv4_addr;
        let mut routing = Routing {
            maps,
            ipv4_addr,
            tun_routes: Vec::new(),
        };
        for case in &group.cases {
            if let Some(IpAddr::V4(dst)) = destination(&case.sent) {
                if !routing.routes_into_translator(dst) {
                    routing.tun_routes.push(dst);
                }
            }
        }
        routing
    }

    fn routes_into_translator(&self, addr: Ipv4Addr) -> bool {
        addr == self.ipv4_addr
            || self.tun_routes.contains(&addr)
            || self.maps.iter().any(|m| m.ipv4.contains(addr))
    }
}

/// What the userspace translator makes of a case's packet under the case's settings, as
/// the gateway sends it on: the verdict, and the packets in order with the side each leaves
/// by. Sent on means forwarded ([`forwarded`]: TTL or hop limit one less, the IPv4 header
/// checksum that follows), the one change the kernel makes after the translator: a packet
/// an AF_XDP worker writes into the TUN device is routed out like any received one, and one
/// the XDP program translates itself (`--xdp-forward stack`) is forwarded by the stack.
pub(super) struct Reference {
    pub(super) verdict: Verdict,
    pub(super) packets: Vec<(Side, Vec<u8>)>,
    /// Also accepted from a packet the XDP program translated itself, when set: the
    /// translator's packets as they are (stateful NAT64 from a session map).
    pub(super) from_xdp: Option<Vec<(Side, Vec<u8>)>>,
    /// Under [`Exit::Transmit`], also accepted by either path: the translator's packets as
    /// the stack forwards them, where it had to help.
    pub(super) through_stack: Option<Vec<(Side, Vec<u8>)>>,
}

impl Reference {
    fn of(case: &Case, routing: &Routing, exit: Exit) -> Result<Reference, String> {
        let translator = Translator::new(jool::config_for(case)).map_err(|e| format!("{e:#}"))?;
        let mut out = Output::new();
        let verdict = translator.translate(&case.sent, &mut NoDynamicMap, &mut out);
        // Forwarded copies; under Exit::Transmit only an alternative (a packet the stack
        // could not forward, a TTL of 1, has none).
        let (mut packets, mut as_made) = (Vec::new(), Vec::new());
        let mut unforwardable = None;
        for packet in out.packets() {
            // An IPv4 packet to an IPv6 host's IPv4 address would be routed back into the
            // translator (TAYGA's hairpinning); the translator refuses the vectors' hairpins
            // itself (translator_loop), and a second pass is not modelled here.
            if let Some(IpAddr::V4(dst)) = destination(packet) {
                if routing.routes_into_translator(dst) {
                    return Err(format!("{dst} would be routed back into the translator"));
                }
            }
            match forwarded(packet) {
                Ok(sent_on) => packets.push((Side::of_packet(packet), sent_on)),
                Err(why) => unforwardable = Some(why),
            }
            as_made.push((Side::of_packet(packet), packet.to_vec()));
        }
        if let (Exit::Stack, Some(why)) = (exit, &unforwardable) {
            return Err(why.clone());
        }
        Ok(match exit {
            Exit::Stack => Reference {
                verdict,
                packets,
                from_xdp: None,
                through_stack: None,
            },
            Exit::Transmit => Reference {
                verdict,
                packets: as_made,
                from_xdp: None,
                through_stack: unforwardable.is_none().then_some(packets),
            },
        })
    }
}

/// Sends `case`'s packet into the gateway and checks what comes out against `reference`,
/// and which way it went: the AF_XDP workers or the XDP program, never the TUN workers.
pub(super) fn run_case(
    bed: &SiitBed,
    case: &Case,
    reference: &Reference,
    paths: &mut Paths,
) -> Result<(), String> {
    let fail = |e: anyhow::Error| format!("{e:#}");
    let counts = || bed.stats(DEVICE).map(|s| Counts::of(&s)).map_err(fail);
    bed.drain().map_err(fail)?;
    let before = counts()?;
    bed.inject(Side::of_packet(&case.sent), &case.sent)
        .map_err(fail)?;
    let wanted = reference.packets.len();
    let caught = if wanted == 0 {
        bed.catch(SILENCE, SILENCE, |_| false)
    } else {
        bed.catch(ARRIVAL_LIMIT, GRACE, |c| {
            c.iter().filter(|c| !is_noise(&c.frame)).count() >= wanted
        })
    }
    .map_err(fail)?;
    let moved = Moved::between(&before, &counts()?);
    let caught: Vec<&Caught> = caught.iter().filter(|c| !is_noise(&c.frame)).collect();

    let path = moved.path()?;
    // What comes in through a veth is the XDP program's or the AF_XDP workers', never the
    // TUN workers'.
    if moved.tun_translated != 0 {
        return Err(format!("the TUN workers translated: {moved}"));
    }
    if let Verdict::Drop(reason) = reference.verdict {
        if path != Path::AfXdp || !moved.af_xdp_dropped_one(reason.as_str()) || !caught.is_empty() {
            return Err(format!(
                "userspace drops it ({}); {} frames came out; {moved}",
                reason.as_str(),
                caught.len()
            ));
        }
        paths.dropped += 1;
        return Ok(());
    }
    if let Err(e) = compare_caught(bed, case, &reference.packets, &caught) {
        let untouched = match (path, &reference.from_xdp) {
            (Path::Xdp, Some(untouched)) => compare_caught(bed, case, untouched, &caught),
            _ => Err(String::new()),
        };
        let forwarded = match &reference.through_stack {
            Some(forwarded) => compare_caught(bed, case, forwarded, &caught),
            None => Err(String::new()),
        };
        match (untouched, forwarded) {
            (Ok(()), _) => paths.xdp_untouched += 1,
            (_, Ok(())) => paths.through_stack += 1,
            _ => return Err(format!("{e} [{moved}]")),
        }
    }
    match path {
        Path::AfXdp => paths.af_xdp += 1,
        Path::Xdp => paths.xdp += 1,
    }
    Ok(())
}

/// The caught frames against the reference, side by side, in order.
fn compare_caught(
    bed: &SiitBed,
    case: &Case,
    packets: &[(Side, Vec<u8>)],
    caught: &[&Caught],
) -> Result<(), String> {
    let mut diffs = Vec::new();
    for side in [Side::Ipv6, Side::Ipv4] {
        let expected: Vec<&Vec<u8>> = packets
            .iter()
            .filter(|(s, _)| *s == side)
            .map(|(_, p)| p)
            .collect();
        let got: Vec<&Vec<u8>> = caught
            .iter()
            .filter(|c| c.side == side)
            .map(|c| &c.frame)
            .collect();
        if expected.len() != got.len() {
            let routes: Vec<String> = expected
                .iter()
                .filter_map(|p| destination(p))
                .map(|d| bed.route_of(d))
                .collect();
            diffs.push(format!(
                "{side:?} side: {} packets, expected {} (routes: {})",
                got.len(),
                expected.len(),
                routes.join("; ")
            ));
            continue;
        }
        for (i, (frame, wanted)) in got.iter().zip(&expected).enumerate() {
            let checked = check_ethernet(bed, side, frame, wanted).and_then(|()| {
                let packet = forwarding::without_padding(&frame[14..]);
                compare(packet, wanted, &case.ignore_offsets)
            });
            if let Err(e) = checked {
                diffs.push(format!("{side:?} side packet {i}: {e}"));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// Frames that are not the vectors' traffic: not IP, or IPv6 to a multicast group (the
/// gateway's own router solicitations and MLD reports as its interfaces come up).
fn is_noise(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => false,
        Some([0x86, 0xdd]) => frame.get(38) == Some(&0xff),
        _ => true,
    }
}

/// The gateway's frame: to the side's host from the gateway's interface, with the
/// ethertype of the packet's version.
fn check_ethernet(bed: &SiitBed, side: Side, frame: &[u8], wanted: &[u8]) -> Result<(), String> {
    let (dst, src) = bed.macs_out_of(side);
    let ethertype: [u8; 2] = if Side::of_packet(wanted) == Side::Ipv6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    };
    if frame.len() < 14 || frame[..6] != dst || frame[6..12] != src || frame[12..14] != ethertype {
        return Err(format!(
            "Ethernet header {:02x?}",
            &frame[..frame.len().min(14)]
        ));
    }
    Ok(())
}

/// `actual` against the reference packet as forwarded, byte for byte, but for the case's
/// `ignore_offsets`: Jool's random IPv4 Identifications and the checksums over them, which
/// are also where the daemon's translator, counting Identifications since it started,
/// differs from a fresh one. An IPv4 header checksum must be right whatever is ignored.
fn compare(actual: &[u8], wanted: &[u8], ignore: &[usize]) -> Result<(), String> {
    if actual.len() != wanted.len() {
        return Err(format!("length {} expected {}", actual.len(), wanted.len()));
    }
    if !forwarding::ipv4_header_checksum_ok(actual) {
        return Err("IPv4 header checksum wrong".into());
    }
    let diffs: Vec<String> = actual
        .iter()
        .zip(wanted)
        .enumerate()
        .filter(|(i, (a, w))| a != w && !ignore.contains(i))
        .map(|(i, (a, w))| format!("@{i}: {a:02x} expected {w:02x}"))
        .collect();
    if diffs.is_empty() {
        return Ok(());
    }
    let more = diffs.len().saturating_sub(8);
    Err(format!(
        "{}{}",
        diffs[..diffs.len().min(8)].join(", "),
        if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        }
    ))
}
