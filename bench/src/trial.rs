//! One trial: offer a rate for a while, count what the sink got and what CPU it cost.

use std::time::Duration;

use anyhow::Result;

use crate::{
    cpu::CpuSnapshot,
    frames::UdpFrame,
    generator::{self, Offer},
    sink::{self, Arrival},
    testbed::Testbed,
};

/// Time for packets still queued in the gateway (TUN queue, veth rings) to reach the sink
/// after the generator stops.
const DRAIN: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
pub struct Trial {
    pub sent: u64,
    pub received: u64,
    pub seconds: f64,
    /// Gateway process + softirq CPU seconds (see cpu.rs), over the trial and its drain.
    pub cpu_seconds: f64,
}

impl Trial {
    pub fn offered_pps(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
    pub fn received_pps(&self) -> f64 {
        self.received as f64 / self.seconds
    }
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
    pub fn cpu_seconds_per_million(&self) -> f64 {
        if self.received == 0 {
            f64::NAN
        } else {
            self.cpu_seconds / (self.received as f64 / 1e6)
        }
    }
}

/// Where a trial's packets go and how they are counted.
pub struct Route<'a> {
    pub interface: &'a str,
    pub frame: &'a UdpFrame,
    pub arrival: Arrival,
    pub gateway_pid: Option<u32>,
}

pub fn run(bed: &mut Testbed, route: &Route<'_>, offer: &Offer) -> Result<Trial> {
    let received_before = sink::count(&bed.programs, route.arrival)?;
    let cpu_before = CpuSnapshot::take(route.gateway_pid)?;
    let sent = generator::send(
        &mut bed.programs,
        &bed.generator,
        route.interface,
        route.frame,
        offer,
    )?;
    std::thread::sleep(DRAIN);
    let cpu_after = CpuSnapshot::take(route.gateway_pid)?;
    let received = sink::count(&bed.programs, route.arrival)? - received_before;
    Ok(Trial {
        sent,
        received,
        seconds: offer.duration.as_secs_f64(),
        cpu_seconds: cpu_before.seconds_until(&cpu_after),
    })
}
