//! Running packets through a loaded TC or XDP program with BPF_PROG_TEST_RUN.

use anyhow::Context as _;
use aya::programs::{TestRun, TestRunOptions};

/// A program BPF_PROG_TEST_RUN hands packets to (TC, XDP).
pub trait PacketTestRun:
    for<'a> TestRun<Opts<'a> = TestRunOptions<'a>, Result = aya::TestRunResult>
{
}

impl<P> PacketTestRun for P where
    P: for<'a> TestRun<Opts<'a> = TestRunOptions<'a>, Result = aya::TestRunResult>
{
}

/// Runs one frame once; returns the program's action and the frame as the program left it.
pub fn run<P: PacketTestRun>(program: &P, frame: &[u8]) -> anyhow::Result<(u32, Vec<u8>)> {
    // IPv4 → IPv6 grows the packet by 20 bytes.
    let mut out = vec![0u8; frame.len() + 64];
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..Default::default()
        })
        .context("BPF_PROG_TEST_RUN")?;
    out.truncate(result.data_size_out as usize);
    Ok((result.return_value, out))
}

/// Median nanoseconds the program spends on each of `frames`, each run once, in order: for
/// packets whose first run differs from any later one (a new flow's, which opens its
/// session).
pub fn median_ns_of_each<P: PacketTestRun>(program: &P, frames: &[Vec<u8>]) -> anyhow::Result<f64> {
    median_ns(program, frames.iter().map(Vec::as_slice))
}

/// Median nanoseconds the program spends on `frame`, as BPF_PROG_TEST_RUN measures it, over
/// `runs` runs. One run per call with a fresh copy of the frame: with `repeat > 1` the kernel
/// runs the program again on the packet it has just translated, which measures the other
/// direction (or a pass) instead.
pub fn ns_per_packet<P: PacketTestRun>(
    program: &P,
    frame: &[u8],
    runs: usize,
) -> anyhow::Result<f64> {
    median_ns(program, std::iter::repeat_n(frame, runs))
}

/// The median of one BPF_PROG_TEST_RUN per frame.
fn median_ns<'a, P: PacketTestRun>(
    program: &P,
    frames: impl Iterator<Item = &'a [u8]>,
) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    let mut out = Vec::new();
    for frame in frames {
        out.resize(frame.len() + 64, 0);
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .context("BPF_PROG_TEST_RUN")?;
        samples.push(result.duration.as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples.get(samples.len() / 2).copied().unwrap_or(0.0))
}
