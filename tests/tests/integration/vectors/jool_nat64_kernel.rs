//! Jool's stateful NAT64 vectors, in order, through the TC and the XDP program
//! (BPF_PROG_TEST_RUN) as the gateway runs them: each packet meets the kernel program first,
//! with the session and binding maps as the userspace tables left them and the subscriber's
//! block lent, so the program opens UDP and echo sessions itself; what the program passes
//! on goes to the userspace stateful translator, whose changes are then written into the
//! maps, and what the program opened is taken into the tables from its ring. A packet the
//! kernel translates must come out as the vector expects.

use std::io::Write as _;
use std::time::Instant;

use nat64::binding_maps::BindingMaps;
use nat64::session_maps::SessionMaps;
use nat64::stateful::{Change, KernelBindings, Nat64};
use nat64::tc_maps::{self, Targets};
use nat64_common::maps::XdpForward;
use nat64_tests::jool::{self, Case, Direction, Tally};
use nat64_tests::privileges::require_root;
use nat64_tests::tc_program::{ETHERNET_HEADER_LEN, LOOPBACK_IFINDEX};
use nat64_tests::xdp_program;

use super::jool_nat64::{deliberate, has_own_translator, new_nat64, run_in};
use super::kernel::{compare, moved, Action, Program};

/// Writes what `nat64`'s tables changed into the maps.
fn sync(nat64: &mut Nat64, maps: &mut SessionMaps) -> Result<(), String> {
    let mut changes: Vec<Change> = Vec::new();
    nat64.take_kernel_changes(&mut changes);
    for c in &changes {
        maps.apply(c).map_err(|e| format!("{e:#}"))?;
    }
    Ok(())
}

/// The maps hold `nat64`'s sessions, bindings and lent blocks and nothing else, and the
/// programs its settings.
fn hand_over(
    ebpf: &mut aya::Ebpf,
    nat64: &mut Nat64,
    maps: &mut SessionMaps,
    bindings: Box<dyn KernelBindings>,
) -> Result<(), String> {
    nat64.start_kernel_opening(bindings, Instant::now());
    maps.clear().map_err(|e| format!("{e:#}"))?;
    nat64.start_kernel_sync();
    sync(nat64, maps)?;
    let targets = Targets {
        tun_ifindex: LOOPBACK_IFINDEX,
        xdp_forward: XdpForward::Stack,
    };
    tc_maps::write_config(ebpf, nat64.translator().config(), targets).map_err(|e| format!("{e:#}"))
}

/// What the kernel did with a case's packet.
enum Kernel {
    /// Translated, as expected (or not: the error says how not).
    Translated(Result<(), String>),
    /// Passed on unchanged (the counters say why).
    Passed,
}

fn through_kernel(ebpf: &mut aya::Ebpf, program: Program, case: &Case) -> Result<Kernel, String> {
    let err = |e: anyhow::Error| format!("{e:#}");
    let before = program.counters(ebpf).map_err(err)?;
    let (action, frame, out) = program.run(ebpf, &case.sent).map_err(err)?;
    let after = program.counters(ebpf).map_err(err)?;
    let (outcome, _) = moved(&before, &after)?;
    if !outcome.is_translated() {
        return match action {
            Action::Passed if out == frame => Ok(Kernel::Passed),
            _ => Err(format!("not translated ({}) but changed", outcome.as_str())),
        };
    }
    let sent_on = matches!(
        (program, &action),
        (Program::Tc, Action::Forwarded) | (Program::Xdp, Action::Passed)
    );
    if !sent_on {
        return Err(format!("translated ({}) but not sent on", outcome.as_str()));
    }
    let result = if case.direction.is_error_back() || case.expected.len() != 1 {
        Err(format!(
            "translated ({}) where the vector expects {} packets back or out",
            outcome.as_str(),
            case.expected.len()
        ))
    } else {
        compare(&out[ETHERNET_HEADER_LEN..], &case.expected[0])
    };
    Ok(Kernel::Translated(result))
}

fn run_case(
    ebpf: &mut aya::Ebpf,
    maps: &mut SessionMaps,
    program: Program,
    case: &Case,
    nat64: &mut Nat64,
    clock: &mut Instant,
    in_kernel: &mut Vec<String>,
) -> Result<(), String> {
    // A held SYN and its simultaneous open are timers and state only userspace keeps: the
    // kernel sees the IPv4 SYN, which it always passes on.
    let first = through_kernel(ebpf, program, case)?;
    let result = match first {
        Kernel::Translated(result) => {
            in_kernel.push(case.label());
            result
        }
        Kernel::Passed => run_in(case, nat64, clock),
    };
    nat64.adopt_opened(*clock);
    sync(nat64, maps)?;
    result
}

fn run_all(program: Program) {
    let Some(_root) = require_root() else {
        return;
    };
    let mut ebpf = xdp_program::load().expect("both programs load");
    let mut maps = SessionMaps::take(&mut ebpf).expect("the session maps");
    let bindings = BindingMaps::take(&mut ebpf).expect("the binding maps");
    let cases = jool::load_cases_from(&jool::nat64_vectors_dir());
    assert_eq!(cases.len(), 42, "the suite has 42 cases");
    let mut shared = new_nat64(&cases[0]);
    hand_over(&mut ebpf, &mut shared, &mut maps, Box::new(bindings))
        .expect("the maps take the tables");
    let mut opened_in_kernel = 0;
    let mut clock = Instant::now();
    let mut tally = Tally::default();
    let mut in_kernel = Vec::new();
    for case in &cases {
        let result = if has_own_translator(case) {
            // Other MTUs: a translator of its own, its sessions alone in the maps; the shared
            // tables come back after it.
            let mut own = new_nat64(case);
            let bindings = shared
                .take_kernel_opening(clock)
                .expect("the shared translator has the binding maps");
            let result = hand_over(&mut ebpf, &mut own, &mut maps, bindings).and_then(|()| {
                run_case(
                    &mut ebpf,
                    &mut maps,
                    program,
                    case,
                    &mut own,
                    &mut clock,
                    &mut in_kernel,
                )
            });
            opened_in_kernel += kernel_opened(&own);
            let bindings = own
                .take_kernel_opening(clock)
                .expect("the case's translator has the binding maps");
            hand_over(&mut ebpf, &mut shared, &mut maps, bindings)
                .expect("the shared tables come back");
            result
        } else {
            run_case(
                &mut ebpf,
                &mut maps,
                program,
                case,
                &mut shared,
                &mut clock,
                &mut in_kernel,
            )
        };
        tally.record(case, result, deliberate(case));
    }
    tally.report(&format!("jool-nat64 vectors ({})", program.name()));
    opened_in_kernel += kernel_opened(&shared);
    let mut report = format!(
        "jool-nat64 vectors ({}): {} translated in the kernel, {opened_in_kernel} sessions of them opened by the kernel itself\n",
        program.name(),
        in_kernel.len()
    );
    for label in &in_kernel {
        report.push_str(&format!("  in the kernel: {label}\n"));
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(
        tally.failed.is_empty(),
        "{} Jool NAT64 vector cases failed through {}",
        tally.failed.len(),
        program.name()
    );
    // UDP, TCP and echo of open sessions come back in both directions in the suite.
    assert!(
        in_kernel.len() >= 6,
        "only {} cases translated in the kernel",
        in_kernel.len()
    );
    // The UDP and echo flows after a subscriber's first open their sessions in the kernel,
    // in the block lent to it, with the ports the vectors expect (the host's own).
    assert!(
        opened_in_kernel >= 4,
        "only {opened_in_kernel} sessions opened by the kernel itself"
    );
    let directions = |d: Direction| {
        cases
            .iter()
            .any(|c| c.direction == d && in_kernel.contains(&c.label()))
    };
    assert!(
        directions(Direction::SixToFour) && directions(Direction::FourToSix),
        "the kernel translated in one direction only"
    );
}

/// Sessions the kernel opened for `nat64`, all protocols together.
fn kernel_opened(nat64: &Nat64) -> u64 {
    nat64
        .counts()
        .activity
        .iter()
        .map(|a| a.sessions_opened_in_kernel)
        .sum()
}

#[test]
fn jool_nat64_vectors_through_the_tc_program() {
    run_all(Program::Tc);
}

#[test]
fn jool_nat64_vectors_through_the_xdp_program() {
    run_all(Program::Xdp);
}
