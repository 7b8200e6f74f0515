//! `kernel_tc` and `kernel_xdp`: the kernel programs through BPF_PROG_TEST_RUN, configured
//! from the same `TranslatorConfig` as userspace (host mappings entered in both), each
//! result checked as `tests/tests/tc_robustness.rs` and `kernel_vectors.rs` check theirs:
//! exactly one outcome counted, a pass leaves the frame as it was, and whatever the kernel
//! translates, userspace translates to the same bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use aya::Ebpf;
use nat64::tc_maps::{self, Targets};
use nat64::translate::{DynamicMap, Output, Translator, TranslatorConfig, Verdict};
use nat64_common::counters::Outcome;
use nat64_common::maps::MappingKind;
use nat64_tests::tc_program::{
    self, ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX, TC_ACT_OK, TC_ACT_REDIRECT,
};
use nat64_tests::xdp_program::{self, XDP_PASS};
use rand::rngs::StdRng;

use super::translator::verdict_name;
use crate::check::same_bytes;
use crate::gen::{addresses::AddressBook, packet};
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};
use crate::setups::Setup;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Tc,
    Xdp,
}

impl Program {
    pub fn target_name(self) -> &'static str {
        match self {
            Program::Tc => "kernel_tc",
            Program::Xdp => "kernel_xdp",
        }
    }

    pub fn stateful_target_name(self) -> &'static str {
        match self {
            Program::Tc => "kernel_stateful_tc",
            Program::Xdp => "kernel_stateful_xdp",
        }
    }
}

/// The host mappings userspace holds and has entered in the kernel: looked up, never
/// allocated (the kernel passes a new host on to userspace, which is not checked here).
#[derive(Clone, Debug, Default)]
struct HostTable(Vec<(Ipv6Addr, Ipv4Addr)>);

impl DynamicMap for HostTable {
    fn lookup_v6(&mut self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        self.0.iter().find(|(a, _)| a == v6).map(|(_, b)| *b)
    }

    fn lookup_v4(&mut self, v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        self.0.iter().find(|(_, b)| b == v4).map(|(a, _)| *a)
    }
}

/// A kernel program loaded for test runs, and what every kernel target checks of a run:
/// exactly one outcome counted (XDP: and where the frame went), a pass leaves the frame as
/// it was, a translation is sent on as the program's mode says and comes out as userspace
/// writes it.
pub(super) struct Bench {
    program: Program,
    pub(super) ebpf: Ebpf,
    counters: [u64; Outcome::COUNT],
    /// What the program left in the frame on the last run, for a replay's explanation.
    last_frame: Vec<u8>,
}

/// What the program did with an input, its counters and action checked.
pub(super) enum Ran {
    /// Passed on, unchanged, counted as this.
    Passed(Outcome),
    /// Translated, counted as this; `ip` is the IP packet the program got (with any
    /// Ethernet padding), what userspace is to translate the same way.
    Translated { outcome: Outcome, ip: Vec<u8> },
}

impl Bench {
    /// Loads the program (root only: BPF_PROG_TEST_RUN).
    pub(super) fn load(program: Program) -> anyhow::Result<Bench> {
        let ebpf = match program {
            Program::Tc => tc_program::load()?,
            Program::Xdp => xdp_program::load()?,
        };
        Ok(Bench {
            program,
            ebpf,
            counters: [0; Outcome::COUNT],
            last_frame: Vec::new(),
        })
    }

    pub(super) fn program(&self) -> Program {
        self.program
    }

    /// Configures the program from `cfg` (sending what it translates to the loopback
    /// device), and takes the counters as they stand from here.
    pub(super) fn configure(&mut self, cfg: &TranslatorConfig) -> anyhow::Result<()> {
        tc_maps::write_config(&mut self.ebpf, cfg, Targets::tun(LOOPBACK_IFINDEX))?;
        self.counters = self.counters()?;
        Ok(())
    }

    /// The longest frame the test run hands the program as a device would.
    fn max_frame(&self) -> usize {
        match self.program {
            Program::Tc => TC_TEST_RUN_MAX_FRAME,
            Program::Xdp => XDP_TEST_RUN_MAX_LINEAR,
        }
    }

    /// A packet from `draw`, drawn again (a few times) rather than spend the input on a
    /// frame the test run cannot take; the draws come from the input's own RNG, so it stays
    /// reproducible.
    pub(super) fn draw(
        &self,
        rng: &mut StdRng,
        mut draw: impl FnMut(&mut StdRng) -> Vec<u8>,
    ) -> Vec<u8> {
        let mut p = draw(rng);
        for _ in 0..4 {
            if ETHERNET_HEADER_LEN + p.len() <= self.max_frame() {
                break;
            }
            p = draw(rng);
        }
        p
    }

    fn counters(&self) -> anyhow::Result<[u64; Outcome::COUNT]> {
        match self.program {
            Program::Tc => tc_maps::tc_counters(&self.ebpf),
            Program::Xdp => tc_maps::xdp_counters(&self.ebpf),
        }
    }

    fn test_run(&mut self, frame: &[u8]) -> anyhow::Result<(u32, Vec<u8>)> {
        match self.program {
            Program::Tc => tc_program::run(tc_program::program(&mut self.ebpf)?, frame),
            Program::Xdp => xdp_program::run(xdp_program::program(&mut self.ebpf)?, frame),
        }
    }

    /// Runs `input` (an IP packet) as a device hands it over. `Err` is the input's result
    /// when there is nothing more to check: not run, the test run failed, or a check of the
    /// run failed.
    pub(super) fn run(&mut self, input: &[u8]) -> Result<Ran, Checked> {
        let frame = match self.program {
            Program::Tc => tc_program::frame(input),
            Program::Xdp => xdp_program::frame(input),
        };
        if frame.len() > self.max_frame() {
            return Err(not_run());
        }
        let (action, out) = match self.test_run(&frame) {
            Ok(r) => r,
            Err(_) if shorter_than_fixed_header(input) => return Err(not_run()),
            Err(e) => {
                return Err(Checked {
                    findings: vec![Finding::disagreement(format!("BPF_PROG_TEST_RUN: {e:#}"))],
                    outcome: "test run failed".into(),
                    not_run: false,
                    notes: Vec::new(),
                })
            }
        };
        let judged = self.judge(&frame, action, &out);
        self.last_frame = out;
        let outcome = judged.map_err(|detail| finish(Err(Finding::disagreement(detail))))?;
        if !outcome.is_translated() {
            return Ok(Ran::Passed(outcome));
        }
        // Userspace gets what the program got: the IP packet with any Ethernet padding.
        let ip = frame.get(ETHERNET_HEADER_LEN..).unwrap_or(&[]).to_vec();
        Ok(Ran::Translated { outcome, ip })
    }

    /// The outcome counted for the last run (and, for XDP, where a translated frame went).
    fn moved(&mut self) -> Result<(Outcome, Option<Outcome>), String> {
        let after = self
            .counters()
            .map_err(|e| format!("reading the counters: {e:#}"))?;
        let changed: Vec<(Outcome, u64)> = Outcome::ALL
            .iter()
            .zip(after.iter().zip(self.counters.iter()))
            .filter(|(_, (a, b))| a != b)
            .map(|(o, (a, b))| (*o, a.wrapping_sub(*b)))
            .collect();
        self.counters = after;
        let (forward, what): (Vec<_>, Vec<_>) = changed.iter().partition(|(o, _)| o.is_forward());
        match (self.program, what.as_slice(), forward.as_slice()) {
            (_, [(o, 1)], []) => Ok((*o, None)),
            (Program::Xdp, [(o, 1)], [(f, 1)]) => Ok((*o, Some(*f))),
            _ => Err(format!("counters moved: {changed:?}")),
        }
    }

    /// The counted outcome, checked against the action and what became of the frame.
    fn judge(&mut self, frame: &[u8], action: u32, out: &[u8]) -> Result<Outcome, String> {
        let (outcome, forward) = self.moved()?;
        let passed = match self.program {
            Program::Tc => TC_ACT_OK,
            Program::Xdp => XDP_PASS,
        };
        if !outcome.is_translated() {
            return match (action == passed, out == frame) {
                (true, true) => Ok(outcome),
                (true, false) => Err(format!("passed on ({}) but changed", outcome.as_str())),
                (false, _) => Err(format!("action {action} counted {}", outcome.as_str())),
            };
        }
        let expected_action = match self.program {
            Program::Tc => TC_ACT_REDIRECT,
            Program::Xdp => XDP_PASS,
        };
        if action != expected_action {
            return Err(format!(
                "translated ({}) with action {action}",
                outcome.as_str()
            ));
        }
        if self.program == Program::Xdp {
            if forward != Some(Outcome::ForwardStack) {
                return Err(format!("translated but sent on as {forward:?}"));
            }
            if out.get(..12) != frame.get(..12) {
                return Err("Ethernet addresses changed".into());
            }
        }
        Ok(outcome)
    }

    /// Userspace's translation (`translate`, writing into `out`) of what the kernel
    /// translated as `outcome`: one packet, the kernel's to the byte.
    pub(super) fn against_user(
        &self,
        outcome: Outcome,
        out: &mut Output,
        translate: impl FnOnce(&mut Output) -> Verdict,
    ) -> Result<Outcome, Finding> {
        let verdict = guarded(|| translate(&mut *out)).map_err(|panic| {
            Finding::crash(format!(
                "userspace crashed on what the kernel translated: {panic}"
            ))
        })?;
        let packets: Vec<&[u8]> = out.packets().collect();
        self.same_as_user(outcome, verdict, &packets)
            .map_err(Finding::disagreement)
    }

    fn same_as_user(
        &self,
        outcome: Outcome,
        verdict: Verdict,
        packets: &[&[u8]],
    ) -> Result<Outcome, String> {
        let [user] = packets else {
            return Err(format!(
                "kernel translated ({}), userspace says {} with {} packets",
                outcome.as_str(),
                verdict_name(verdict),
                packets.len()
            ));
        };
        if verdict != Verdict::Translated {
            return Err(format!(
                "kernel translated ({}), userspace says {}",
                outcome.as_str(),
                verdict_name(verdict)
            ));
        }
        let out = &self.last_frame;
        if self.program == Program::Xdp {
            let ethertype = out.get(12..14).map(|e| u16::from_be_bytes([e[0], e[1]]));
            let expected = if user.first().is_some_and(|b| b >> 4 == 4) {
                0x0800
            } else {
                0x86dd
            };
            if ethertype != Some(expected) {
                return Err(format!("EtherType {ethertype:04x?} after translation"));
            }
        }
        let kernel = out.get(ETHERNET_HEADER_LEN..).unwrap_or(&[]);
        match same_bytes::differences(kernel, user) {
            None => Ok(outcome),
            Some(d) => Err(format!(
                "kernel ({}) and userspace differ: {d}",
                outcome.as_str()
            )),
        }
    }

    /// For a replay: the frame the program left, and what userspace wrote (`user`, when it
    /// ran on the input).
    pub(super) fn explain(&self, user: Option<&Output>) -> Vec<String> {
        let mut lines = vec![format!(
            "kernel frame out: {}",
            crate::hex::encode(&self.last_frame)
        )];
        lines.extend(
            user.into_iter()
                .flat_map(Output::packets)
                .enumerate()
                .map(|(i, p)| format!("userspace output {i}: {}", crate::hex::encode(p))),
        );
        lines
    }
}

/// An input the harness could not run.
fn not_run() -> Checked {
    Checked {
        findings: Vec::new(),
        outcome: "not run".into(),
        not_run: true,
        notes: Vec::new(),
    }
}

/// An input's result: the outcome counted, or what failed.
pub(super) fn finish(result: Result<Outcome, Finding>) -> Checked {
    match result {
        Ok(outcome) => Checked {
            findings: Vec::new(),
            outcome: outcome.as_str().to_string(),
            not_run: false,
            notes: Vec::new(),
        },
        Err(finding) => Checked {
            findings: vec![finding],
            outcome: "disagreement".into(),
            not_run: false,
            notes: Vec::new(),
        },
    }
}

pub struct KernelTarget {
    bench: Bench,
    setups: Vec<Setup>,
    translators: Vec<Translator>,
    books: Vec<AddressBook>,
    hosts: HostTable,
    out: Output,
    /// Whether userspace translated the last input (only what the kernel translated is).
    user_ran: bool,
}

impl KernelTarget {
    /// Loads the program (root only: BPF_PROG_TEST_RUN).
    pub fn new(program: Program, setups: Vec<Setup>) -> anyhow::Result<KernelTarget> {
        let bench = Bench::load(program)?;
        let translators = setups
            .iter()
            .map(|s| Translator::new(s.translator.clone()))
            .collect::<anyhow::Result<_>>()?;
        let books = setups
            .iter()
            .map(|s| AddressBook::new(&s.translator, &s.hosts))
            .collect();
        Ok(KernelTarget {
            bench,
            setups,
            translators,
            books,
            hosts: HostTable::default(),
            out: Output::new(),
            user_ran: false,
        })
    }

    /// Userspace on what the kernel translated.
    fn compare(&mut self, setup: usize, outcome: Outcome, ip: &[u8]) -> Result<Outcome, Finding> {
        let (Some(translator), hosts) = (self.translators.get(setup), &mut self.hosts) else {
            return Err(Finding::disagreement("no such setup"));
        };
        self.user_ran = true;
        self.bench.against_user(outcome, &mut self.out, |out| {
            translator.translate(ip, hosts, out)
        })
    }
}

/// BPF_PROG_TEST_RUN builds a TC program's skb in one page: 4096 bytes less NET_SKB_PAD (64)
/// and the shared info (320). Longer frames are refused (EINVAL); on a device they reach the
/// program (GSO super-packets), so they are left to the namespace tests.
const TC_TEST_RUN_MAX_FRAME: usize = 3712;
/// Past one page (4096 less XDP_PACKET_HEADROOM 256 and the shared info 320) the test run
/// hands an XDP program a multi-buffer frame, which no device gives a program that, as
/// `nat64_xdp`, does not declare multi-buffer support.
const XDP_TEST_RUN_MAX_LINEAR: usize = 3520;

/// BPF_PROG_TEST_RUN refuses (EINVAL) frames whose IP packet is shorter than its fixed
/// header; on a device such packets reach the program, which counts them truncated.
fn shorter_than_fixed_header(packet: &[u8]) -> bool {
    let fixed = match packet.first().map(|b| b >> 4) {
        Some(4) => 20,
        Some(6) => 40,
        _ => 0,
    };
    packet.len() < fixed
}

impl Target for KernelTarget {
    fn name(&self) -> &'static str {
        self.bench.program().target_name()
    }

    fn setups(&self) -> Vec<String> {
        self.setups.iter().map(|s| s.name.to_string()).collect()
    }

    fn select(&mut self, setup: usize) -> anyhow::Result<()> {
        let Some(s) = self.setups.get(setup) else {
            anyhow::bail!("no setup {setup}");
        };
        for (v6, v4) in std::mem::take(&mut self.hosts.0) {
            tc_maps::remove_host(&mut self.bench.ebpf, v6, v4)?;
        }
        self.bench.configure(&s.translator)?;
        for &(v6, v4) in &s.hosts {
            tc_maps::insert_host(&mut self.bench.ebpf, v6, v4, MappingKind::Dynamic)?;
        }
        self.hosts = HostTable(s.hosts.clone());
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        match self.books.get(setup) {
            Some(book) => self.bench.draw(rng, |rng| packet::packet(rng, book)),
            None => Vec::new(),
        }
    }

    fn explain(&self) -> Vec<String> {
        self.bench.explain(self.user_ran.then_some(&self.out))
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        self.user_ran = false;
        match self.bench.run(input) {
            Ok(Ran::Passed(outcome)) => finish(Ok(outcome)),
            Ok(Ran::Translated { outcome, ip }) => finish(self.compare(setup, outcome, &ip)),
            Err(checked) => checked,
        }
    }
}
