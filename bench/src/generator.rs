//! The packet generator: one long `BPF_PROG_TEST_RUN` in live-frames mode. The kernel calls
//! `bench_generate` for frame after frame; the program paces itself on `bpf_ktime_get_ns`,
//! writes the header template into the frames it sends and returns `XDP_TX` for them, which
//! the kernel turns into a transmit on the `ingress_ifindex` veth — its peer receives them.
//! Skipped slots return `XDP_DROP` and cost a page recycle. The run ends by signal.
//!
//! This reaches several Mpps on one core where iperf3 (0.2 Mpps) and AF_PACKET `sendmmsg`
//! (0.5 Mpps) fall short of what the plain-forwarding baseline takes.

use std::{
    ffi::CString,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

use anyhow::{bail, Context, Result};
use aya::{
    maps::Array,
    programs::{TestRun, TestRunAttrs, TestRunOptions},
};
use nat64_tests::netns::Netns;

use crate::{
    frames::UdpFrame,
    programs::{enter, BenchPrograms, GENERATOR},
};

/// The generator thread runs here; the gateway's receive work is steered to the other core.
pub const GENERATOR_CPU: usize = 0;
/// Frames per kernel batch (the kernel's maximum is 256).
const BATCH: u32 = 64;
/// Lets the run get into the kernel before the first timed slot.
const LEAD_IN: Duration = Duration::from_millis(150);

/// What the generator is asked to send.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    /// Packets per second; `None` sends as fast as the generator runs.
    pub rate_pps: Option<f64>,
    pub duration: Duration,
    /// Distinct UDP source ports, sent round-robin.
    pub flows: u32,
    /// Distinct IPv6 sources, sent round-robin: the frame's source with 0..hosts added to its
    /// last 32 bits. 1: the frame's source only.
    pub hosts: u32,
}

/// Sends `frame` out of `interface` (in `ns`) as `offer` says; returns how many it sent.
pub fn send(
    programs: &mut BenchPrograms,
    ns: &Netns,
    interface: &str,
    frame: &UdpFrame,
    offer: &Offer,
) -> Result<u64> {
    send_while(programs, ns, interface, frame, offer, || true)
}

/// As [`send`], ending early once `keep_going` says no; it is asked about every 20 ms while
/// the generator runs, so it may also watch the gateway.
pub fn send_while(
    programs: &mut BenchPrograms,
    ns: &Netns,
    interface: &str,
    frame: &UdpFrame,
    offer: &Offer,
    mut keep_going: impl FnMut() -> bool,
) -> Result<u64> {
    let start = monotonic_ns() + LEAD_IN.as_nanos() as u64;
    let deadline = start + offer.duration.as_nanos() as u64;
    let interval = offer.rate_pps.map_or(0, |pps| (1e9 / pps.max(1.0)) as u64);
    let config: [u64; 8] = [
        start,
        deadline,
        interval,
        u64::from(offer.flows),
        u64::from(frame.base_port),
        u64::from(frame.udp_checksum),
        u64::from(offer.hosts),
        0,
    ];
    write_map(programs, "GEN_CONFIG", config)?;
    write_map(programs, "GEN_STATE", [start, 0u64])?;
    write_map(programs, "GEN_TEMPLATE", frame.template_words())?;

    install_stop_signal();
    let program = programs.xdp(GENERATOR)?;
    let path = format!("/run/netns/{}", ns.name());
    let interface = CString::new(interface)?;
    let stopping = AtomicBool::new(false);
    let (tid_tx, tid_rx) = mpsc::channel();
    std::thread::scope(|scope| -> Result<()> {
        let runner = scope.spawn(|| -> Result<()> {
            // SAFETY: pthread_self has no preconditions.
            let _ = tid_tx.send(unsafe { libc::pthread_self() });
            enter(&path)?;
            pin_to_cpu(GENERATOR_CPU);
            // SAFETY: a valid NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(interface.as_ptr()) };
            if ifindex == 0 {
                bail!("no interface {interface:?} in {path}");
            }
            let context = xdp_md(frame.bytes.len() as u32, ifindex);
            while !stopping.load(Ordering::Acquire) {
                let run = program.test_run(TestRunOptions {
                    data_in: Some(&frame.bytes),
                    ctx_in: Some(&context),
                    repeat: u32::MAX,
                    attrs: TestRunAttrs::new().xdp_live_frames(BATCH),
                    ..TestRunOptions::new()
                });
                // The stop signal interrupts the run with EINTR; any other error is real.
                if let Err(error) = run {
                    if !stopping.load(Ordering::Acquire) {
                        return Err(error).context("BPF_PROG_TEST_RUN (live frames)");
                    }
                }
            }
            Ok(())
        });
        let tid = tid_rx.recv().context("generator thread did not start")?;
        let until_done = Duration::from_nanos(deadline.saturating_sub(monotonic_ns()));
        // Ends early if the thread failed (it then has nothing to interrupt).
        let step = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        while waited < until_done && !runner.is_finished() && keep_going() {
            std::thread::sleep(step);
            waited += step;
        }
        stopping.store(true, Ordering::Release);
        // Signalled until it notices: a signal that lands between two runs is lost.
        while !runner.is_finished() {
            // SAFETY: the thread is alive (not finished) and scoped, so its id is valid.
            unsafe { libc::pthread_kill(tid, libc::SIGUSR1) };
            std::thread::sleep(Duration::from_millis(5));
        }
        runner
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;

    let state: Array<_, [u64; 2]> =
        Array::try_from(programs.ebpf.map("GEN_STATE").context("no GEN_STATE")?)?;
    Ok(state.get(&0, 0)?[1])
}

fn write_map<const N: usize>(
    programs: &mut BenchPrograms,
    name: &str,
    value: [u64; N],
) -> Result<()>
where
    [u64; N]: aya::Pod,
{
    let map = programs
        .ebpf
        .map_mut(name)
        .with_context(|| format!("no map {name}"))?;
    let mut array: Array<_, [u64; N]> = Array::try_from(map)?;
    array.set(0, value, 0)?;
    Ok(())
}

/// `struct xdp_md` for the test run: the frame spans `[0, len)`, received on `ifindex`.
fn xdp_md(len: u32, ifindex: u32) -> Vec<u8> {
    // data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    [0, len, 0, ifindex, 0, 0]
        .iter()
        .flat_map(|field: &u32| field.to_ne_bytes())
        .collect()
}

/// CLOCK_MONOTONIC, the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// SIGUSR1 with a handler that does nothing and without SA_RESTART: delivered to the
/// generator thread, it makes the kernel end the test run with EINTR.
fn install_stop_signal() {
    extern "C" fn ignore(_: libc::c_int) {}
    // SAFETY: installs a handler that touches nothing.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
}
