//! A route's two figures, as every namespace bench measures them: the saturated receive rate
//! and the zero-loss rate, after a warm-up that must deliver something.

use std::time::Duration;

use anyhow::Result;

use crate::{
    generator::Offer,
    search::{self, ZeroLoss},
    settings::Settings,
    testbed::Testbed,
    trial::{self, Route, Trial},
};

#[derive(Clone, Copy, Debug)]
pub struct Rates {
    pub saturated: Trial,
    pub zero_loss: ZeroLoss,
}

impl Rates {
    /// CPU per packet is charged where nothing is lost: at saturation, the receive work of
    /// packets later dropped at the TUN queue would count against the ones delivered.
    pub fn cpu_trial(&self) -> Trial {
        match self.zero_loss {
            ZeroLoss::Found(t) => t,
            ZeroLoss::Below(_) => self.saturated,
        }
    }

    pub fn zero_loss_pps(&self) -> f64 {
        match self.zero_loss {
            ZeroLoss::Found(t) => t.offered_pps(),
            ZeroLoss::Below(_) => 0.0,
        }
    }

    /// Nothing was lost at saturation: the generator, not the gateway, set the pace.
    pub fn bound(&self) -> &'static str {
        if self.saturated.lost() == 0 {
            ">="
        } else {
            ""
        }
    }

    /// The saturated rate in Mpps, marked `>=` when the generator set the pace.
    pub fn saturated_text(&self) -> String {
        format!("{}{:.3}", self.bound(), self.saturated.received_pps() / 1e6)
    }

    /// The zero-loss rate in Mpps, `<x` when even the lowest rate tried lost packets.
    pub fn zero_loss_text(&self) -> String {
        match self.zero_loss {
            ZeroLoss::Found(t) => format!("{}{:.3}", self.bound(), t.offered_pps() / 1e6),
            ZeroLoss::Below(rate) => format!("<{:.3}", rate / 1e6),
        }
    }
}

/// Both figures for `route`, `flows` source ports and `hosts` source addresses per offer.
pub fn measure(
    bed: &mut Testbed,
    route: &Route<'_>,
    flows: u32,
    hosts: u32,
    settings: &Settings,
) -> Result<Rates> {
    let mut run = |rate: Option<f64>, duration: Duration| {
        let offer = Offer {
            rate_pps: rate,
            duration,
            flows,
            hosts,
        };
        trial::run(bed, route, &offer)
    };
    // Mappings, conntrack entries and neighbour state exist before anything is timed; and a
    // gateway that forwards nothing is an error, not a zero in the table.
    let warm_up = run(Some(20_000.0), Duration::from_millis(500))?;
    anyhow::ensure!(
        warm_up.received > 0,
        "nothing reached the sink during warm-up ({} sent)",
        warm_up.sent
    );
    let saturated = search::saturated(settings.repeats, |rate| run(rate, settings.trial))?;
    // The zero-loss rate is usually near what the gateway delivers when saturated; the
    // search climbs from there when it is higher (receive livelock), up to the generator's
    // rate.
    let zero_loss = search::zero_loss(
        saturated.received_pps() * 1.05,
        saturated.offered_pps(),
        settings.search_steps,
        settings.loss_ratio,
        |rate| run(rate, settings.trial),
    )?;
    Ok(Rates {
        saturated,
        zero_loss,
    })
}

/// `value / base` as `1.23x`, or `-` without a base.
pub fn ratio(value: f64, base: Option<f64>) -> String {
    match base {
        Some(base) if base > 0.0 => format!("{:.2}x", value / base),
        _ => "-".to_owned(),
    }
}
