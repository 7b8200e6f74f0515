//! What reached the sink, from the sink program's per-CPU counters (the sink drops in XDP, so
//! veth `rx_packets`, which includes XDP drops, would count the same; one source is used
//! throughout).

use anyhow::{Context, Result};
use aya::maps::PerCpuArray;

use crate::programs::BenchPrograms;

/// Indices of `SINK_COUNTS` in bench-ebpf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    Ipv4Udp = 0,
    Ipv6Udp = 1,
}

pub fn count(programs: &BenchPrograms, arrival: Arrival) -> Result<u64> {
    let map = programs
        .ebpf
        .map("SINK_COUNTS")
        .context("no SINK_COUNTS map")?;
    let counts: PerCpuArray<_, u64> = PerCpuArray::try_from(map)?;
    Ok(counts.get(&(arrival as u32), 0)?.iter().sum())
}
