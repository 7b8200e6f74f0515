//! What reached the sink, from the sink program's per-CPU counters (the sink drops in XDP, so
//! veth `rx_packets`, which includes XDP drops, would count the same; one source is used
//! throughout).

use std::borrow::Borrow;

use anyhow::{bail, Context, Result};
use aya::maps::{Map, MapData, PerCpuArray};

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
    sum(&counts, arrival)
}

fn sum<T: Borrow<MapData>>(counts: &PerCpuArray<T, u64>, arrival: Arrival) -> Result<u64> {
    Ok(counts.get(&(arrival as u32), 0)?.iter().sum())
}

/// The sink's counters through a map handle of its own, so they can be read while the
/// generator holds the bench's programs.
pub struct SinkCounter {
    counts: PerCpuArray<MapData, u64>,
    arrival: Arrival,
}

impl SinkCounter {
    pub fn open(programs: &BenchPrograms, arrival: Arrival) -> Result<Self> {
        let Some(Map::PerCpuArray(data)) = programs.ebpf.map("SINK_COUNTS") else {
            bail!("no per-CPU SINK_COUNTS map");
        };
        let own = MapData::from_id(data.info()?.id())?;
        Ok(Self {
            counts: PerCpuArray::try_from(Map::PerCpuArray(own))?,
            arrival,
        })
    }

    pub fn count(&self) -> Result<u64> {
        sum(&self.counts, self.arrival)
    }
}
