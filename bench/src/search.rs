//! The two figures per row: the saturated receive rate (offer as much as the generator can,
//! count what arrives; median of repeats) and RFC 8219 throughput (the highest offered rate
//! with no loss, found by binary search).

use anyhow::Result;

use crate::trial::Trial;

/// Median by received rate of `repeats` saturated trials; `trial(None)` offers all it can.
pub fn saturated(
    repeats: usize,
    mut trial: impl FnMut(Option<f64>) -> Result<Trial>,
) -> Result<Trial> {
    let mut trials = (0..repeats.max(1))
        .map(|_| trial(None))
        .collect::<Result<Vec<_>>>()?;
    trials.sort_by(|a, b| a.received_pps().total_cmp(&b.received_pps()));
    Ok(trials[trials.len() / 2])
}

/// The outcome of the zero-loss search.
#[derive(Clone, Copy, Debug)]
pub enum ZeroLoss {
    /// The highest passing trial.
    Found(Trial),
    /// Even the lowest rate tried lost packets.
    Below(f64),
}

/// Binary search over the offered rate, `steps` halvings. It starts at `start_pps`; when that
/// passes (a gateway in receive livelock delivers less when saturated than it can without
/// loss), it doubles the rate up to `ceiling_pps` (what the generator reaches) until a trial
/// fails. A trial passes when it lost at most `loss_ratio` of what it sent (0 is RFC 8219's
/// definition).
pub fn zero_loss(
    start_pps: f64,
    ceiling_pps: f64,
    steps: usize,
    loss_ratio: f64,
    mut trial: impl FnMut(Option<f64>) -> Result<Trial>,
) -> Result<ZeroLoss> {
    let passes = |t: &Trial| t.sent > 0 && t.lost() as f64 <= loss_ratio * t.sent as f64;
    let (mut low, mut high) = (0.0, start_pps.min(ceiling_pps));
    let mut best = None;
    loop {
        let t = trial(Some(high))?;
        if !passes(&t) {
            break;
        }
        best = Some(t);
        low = high;
        if high >= ceiling_pps {
            return Ok(ZeroLoss::Found(t));
        }
        high = (high * 2.0).min(ceiling_pps);
    }
    for _ in 0..steps {
        let rate = (low + high) / 2.0;
        let t = trial(Some(rate))?;
        if passes(&t) {
            low = rate;
            best = Some(t);
        } else {
            high = rate;
        }
    }
    Ok(match best {
        Some(t) => ZeroLoss::Found(t),
        None => ZeroLoss::Below(high),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gateway that forwards everything up to `capacity` packets per second.
    fn gateway(capacity: f64) -> impl FnMut(Option<f64>) -> Result<Trial> {
        move |rate| {
            let offered = rate.unwrap_or(5e6);
            Ok(Trial {
                sent: offered as u64,
                received: offered.min(capacity) as u64,
                seconds: 1.0,
                cpu_seconds: 0.0,
            })
        }
    }

    #[test]
    fn search_converges_below_capacity() {
        let ZeroLoss::Found(t) = zero_loss(1e6, 5e6, 8, 0.0, gateway(300e3)).unwrap() else {
            panic!("no passing rate");
        };
        assert!(t.offered_pps() <= 300e3 && t.offered_pps() > 300e3 * 0.98);
    }

    #[test]
    fn search_climbs_when_the_start_passes() {
        let ZeroLoss::Found(t) = zero_loss(20e3, 5e6, 8, 0.0, gateway(150e3)).unwrap() else {
            panic!("no passing rate");
        };
        assert!(t.offered_pps() <= 150e3 && t.offered_pps() > 150e3 * 0.95);
    }

    #[test]
    fn saturated_reports_what_arrives() {
        let t = saturated(3, gateway(150e3)).unwrap();
        assert_eq!(t.received_pps(), 150e3);
    }
}
