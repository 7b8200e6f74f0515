//! The rate at which the translator originates ICMP errors (RFC 4443 §2.4 (f): an IPv6 node
//! MUST limit it; RFC 1812 §4.3.2.8 asks the same of IPv4 routers), so a flood of packets it
//! refuses cannot make it flood the senders back, or anyone whose address they forge.
//!
//! One budget for the whole translator, shared by every worker without a lock: the generic
//! cell rate algorithm keeps a single "theoretical arrival time" in an atomic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Errors per second, sustained.
pub const ERRORS_PER_SECOND: u64 = 1000;
/// Errors that may go at once after a quiet spell.
pub const BURST: u64 = 200;

#[derive(Debug)]
pub(crate) struct ErrorBudget {
    start: Instant,
    /// When, in nanoseconds since `start`, the budget is back to full if nothing more is sent.
    full_at: AtomicU64,
    interval_ns: u64,
    tolerance_ns: u64,
}

impl ErrorBudget {
    pub(crate) fn new(per_second: u64, burst: u64) -> ErrorBudget {
        let interval_ns = 1_000_000_000 / per_second.max(1);
        ErrorBudget {
            start: Instant::now(),
            full_at: AtomicU64::new(0),
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(burst.saturating_sub(1)),
        }
    }

    /// Whether one more error may be sent now; takes it from the budget if so.
    pub(crate) fn take(&self) -> bool {
        self.take_at(self.start.elapsed())
    }

    fn take_at(&self, now: Duration) -> bool {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let mut full_at = self.full_at.load(Ordering::Relaxed);
        loop {
            let base = full_at.max(now);
            if base - now > self.tolerance_ns {
                return false;
            }
            match self.full_at.compare_exchange_weak(
                full_at,
                base + self.interval_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => full_at = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let budget = ErrorBudget::new(10, 5);
        let at = |ms: u64| Duration::from_millis(ms);
        let sent = (0..20).filter(|_| budget.take_at(at(1000))).count();
        assert_eq!(sent, 5, "the burst");
        assert!(!budget.take_at(at(1050)), "not yet: one per 100 ms");
        assert!(budget.take_at(at(1100)));
        assert!(!budget.take_at(at(1150)));
        // A quiet spell refills it, but never past the burst.
        let sent = (0..20).filter(|_| budget.take_at(at(9000))).count();
        assert_eq!(sent, 5);
    }
}
