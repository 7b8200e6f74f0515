//! Jool's stateful NAT64 vectors, in order, through one real gateway in stateful mode:
//! `nat64 run --config nat64.toml --iface eth0 --iface eth1` with `[stateful]` (pool4
//! `192.0.2.2`, ports 1-3000, the suite's static BIB entries) between an IPv6 side and an
//! IPv4 side (`siit_bed`). Each case's packet is sent to the gateway as a frame on the wire;
//! the XDP program translates it itself from a session the kernel holds or, where it cannot,
//! sends it to an AF_XDP socket, whose worker runs it through the stateful translator (which
//! also enters the sessions it opens into the kernel maps) and writes the result into the
//! TUN device, from where the kernel routes it. What reaches the sides must be what the
//! userspace stateful translator, fed the same cases in the same order, makes of the packet,
//! byte for byte but for what the kernel's forwarding changes after the TUN write (and, from
//! the XDP program, the translator's packets as they are), and the case's ignored offsets.
//!
//! The reference translator is built from the daemon's configuration file by the daemon's
//! own code, so the two differ only in the datapath. A case that depends on timers or on
//! settings the daemon's configuration cannot express is skipped, named, with why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use nat64::config::{self, Format};
use nat64::gateway::translator_setup;
use nat64::stateful::Nat64;
use nat64::translate::Output;
use nat64_tests::forwarding::{destination, forwarded};
use nat64_tests::jool::{self, Case, Tally};
use nat64_tests::jool_daemon::DEVICE;
use nat64_tests::privileges::require_root;
use nat64_tests::siit_bed::{Side, SiitBed};
use nat64_tests::tempdir::TempDir;

use super::af_xdp::{link_mtu, run_case, Paths, Reference};

const TITLE: &str = "jool-nat64 vectors (xdp+af_xdp)";

const PREFIX: &str = "64:ff9b::/96";
const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The translator's IPv6 address in Jool's setup.
const TRANSLATOR_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// Both sides' link MTU in the suite's base setup, and the TUN device's (the daemon takes
/// both of its translator's MTUs from the device).
const MTU: u16 = 1500;

/// The suite's static BIB entries: protocol, IPv4 `addr:port` on pool4, IPv6 `[addr]:port`.
const STATIC_BIB: &[(&str, u16, &str, u16)] = &[
    ("tcp", 2000, "2001:db8::5", 2000),
    ("udp", 2000, "2001:db8::5", 2000),
    ("icmp", 1, "2001:db8::5", 1),
    ("udp", 1000, "2001:db8:1::5", 1001),
    ("udp", 1002, "2001:db8::5", 1003),
];

const TIMERS: &str = "simultaneous open: what comes out (and when) is the incoming-SYN timer's \
     (6 s); the userspace test runs it on a test clock (vectors::jool_nat64)";
const OWN_MTU: &str = "the daemon takes both of its translator's MTUs from the TUN device \
     (as TAYGA does), so no one gateway runs the suite's 1500 and this case's link MTU; the \
     kernel programs' test (vectors::jool_nat64_kernel) and the userspace one run it";

/// Why a case is not run through the gateway, if it is not.
fn skip_reason(case: &Case) -> Option<&'static str> {
    if case.settings_text.starts_with("simultaneous-open") {
        Some(TIMERS)
    } else if super::jool_nat64::has_own_translator(case) {
        Some(OWN_MTU)
    } else {
        None
    }
}

#[test]
fn jool_nat64_vectors_through_xdp_and_af_xdp() {
    let Some(_root) = require_root() else {
        return;
    };
    let cases = jool::load_cases_from(&jool::nat64_vectors_dir());
    assert_eq!(cases.len(), 42, "the suite has 42 cases");
    let mut tally = Tally::default();
    let mut run: Vec<&Case> = Vec::new();
    for case in &cases {
        match skip_reason(case) {
            Some(why) => tally.skipped.push(format!("{}: {why}", case.label())),
            None => run.push(case),
        }
    }

    let data = TempDir::new("nat64-af-xdp").expect("data-dir");
    let toml = config_text(data.path());
    let references = references(&toml, &run);

    let mut bed = SiitBed::new().expect("namespaces");
    for side in [Side::Ipv6, Side::Ipv4] {
        bed.set_link_mtu(side, link_mtu(side, &run, &references))
            .expect("link MTU");
    }
    start_daemon(&mut bed, data.path(), &toml);

    let mut paths = Paths::default();
    for (case, reference) in run.iter().zip(&references) {
        let result = match reference {
            Ok(reference) => run_case(&bed, case, reference, &mut paths),
            Err(why) => Err(format!("reference: {why}")),
        };
        tally.record(case, result, None);
    }

    let stats = bed.stats(DEVICE).expect("nat64 stats --json");
    let af_xdp_translated = stats.af_xdp(|x| x.translated);
    let tun_translated = stats.tun().translated;
    bed.stop_nat64().expect("the gateway stops");
    tally.report(TITLE);
    eprintln!(
        "  through AF_XDP {}, translated by XDP itself {} ({} not forwarded after), dropped as \
         userspace drops them {}; AF_XDP translated {af_xdp_translated} packets",
        paths.af_xdp, paths.xdp, paths.xdp_untouched, paths.dropped,
    );
    assert!(
        tally.failed.is_empty(),
        "{} Jool NAT64 vector cases failed through XDP and AF_XDP",
        tally.failed.len()
    );
    assert_eq!(
        tun_translated, 0,
        "the TUN workers translated nothing of what came in through the veths:\n{stats}"
    );
    assert!(
        af_xdp_translated > 0,
        "the AF_XDP workers translated nothing"
    );
}

/// The daemon's `nat64.toml`: Jool's base setup (prefix, the translator's IPv6 address,
/// pool4, one port block per host as Jool has none, the static BIB entries, the lowest IPv6
/// MTU of 1280), the documentation addresses as translatable as Jool takes them.
fn config_text(data_dir: &Path) -> String {
    let mut text = format!(
        "tun_device = \"{DEVICE}\"\n\
         prefix = \"{PREFIX}\"\n\
         ipv6_addr = \"{TRANSLATOR_V6}\"\n\
         wkpf_strict = false\n\
         offlink_mtu = 1280\n\
         data_dir = \"{}\"\n\
         \n\
         [stateful]\n\
         pool4 = [\"{POOL4}\"]\n\
         tcp_ports = \"1-3000\"\n\
         udp_ports = \"1-3000\"\n\
         icmp_ids = \"1-3000\"\n\
         subscriber_prefix_len = 128\n\
         block_size = 3000\n\
         max_blocks = 1\n",
        data_dir.display()
    );
    for (protocol, port4, v6, port6) in STATIC_BIB {
        text.push_str(&format!(
            "\n[[stateful.static]]\nprotocol = \"{protocol}\"\nipv4 = \"{POOL4}:{port4}\"\n\
             ipv6 = \"[{v6}]:{port6}\"\n"
        ));
    }
    text
}

/// What the userspace stateful translator makes of each case's packet, fed them in order
/// (10 ms apart), as the gateway sends it on. The translator is the daemon's: built from
/// `toml` by the daemon's own code, with the TUN device's MTU; beside it runs the one of
/// Jool's base setup that `vectors::jool_nat64` checks against the vectors, and the two must
/// agree on every case (else the file does not say what the suite's setup says).
fn references(toml: &str, cases: &[&Case]) -> Vec<Result<Reference, String>> {
    let config = config::parse_str(toml, Path::new("nat64.toml"), Format::Toml)
        .unwrap_or_else(|e| panic!("the daemon's configuration: {e}"));
    let mut translator =
        translator_setup::translator_config(&config, &[]).expect("the translator's settings");
    translator_setup::set_link_mtu(&mut translator, u32::from(MTU));
    let stateful = config.stateful.clone().expect("[stateful]");
    let mut nat64 = Nat64::new(translator, stateful).expect("the stateful translator");
    let mut base = super::jool_nat64::new_nat64(cases[0]);
    // The routes the daemon points into the TUN device (native mode).
    let into_translator = |addr: IpAddr| match addr {
        IpAddr::V4(a) => a == POOL4 || a == config.ipv4_addr,
        IpAddr::V6(a) => config.prefix.is_some_and(|p| p.contains(a)) || a == config.ipv6_addr,
    };
    let mut clock = Instant::now();
    let (mut out, mut base_out) = (Output::new(), Output::new());
    cases
        .iter()
        .map(|case| {
            clock += Duration::from_millis(10);
            let verdict = nat64.translate(&case.sent, clock, &mut out);
            let base_verdict = base.translate(&case.sent, clock, &mut base_out);
            if (verdict, out.packets().collect::<Vec<_>>())
                != (base_verdict, base_out.packets().collect::<Vec<_>>())
            {
                return Err(format!(
                    "the daemon's translator ({verdict:?}) and the suite's base setup's \
                     ({base_verdict:?}) differ"
                ));
            }
            let mut packets = Vec::new();
            let mut untouched = Vec::new();
            for packet in out.packets() {
                if let Some(dst) = destination(packet).filter(|d| into_translator(*d)) {
                    return Err(format!("{dst} would be routed back into the translator"));
                }
                packets.push((Side::of_packet(packet), forwarded(packet)?));
                untouched.push((Side::of_packet(packet), packet.to_vec()));
            }
            Ok(Reference {
                verdict,
                packets,
                from_xdp: Some(untouched),
                through_stack: None,
            })
        })
        .collect()
}

/// The TUN device, and the daemon on it with `toml`, its AF_XDP slow path up on both
/// interfaces.
fn start_daemon(bed: &mut SiitBed, data_dir: &Path, toml: &str) {
    bed.make_tun(DEVICE, MTU).expect("TUN device");
    let file = data_dir.join("nat64.toml");
    std::fs::write(&file, toml).expect("writing the configuration");
    let log = super::af_xdp::start_with_af_xdp(bed, &file, super::af_xdp::Exit::Stack);
    assert!(
        log.contains("the kernel translates the flows of open sessions"),
        "stateful NAT64 on the kernel path:\n{log}"
    );
}
