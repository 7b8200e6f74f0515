//! Stateful NAT64 in the TUN workers: one state shared by every worker (a lock per packet:
//! the tables must agree on which port is whose), and its timers run from the workers
//! themselves, so what a timer answers (a held SYN's port unreachable) leaves by a queue.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::stateful::{BindingInfo, BlockInfo, Nat64, SessionInfo, TableCounts};
use crate::translate::{Output, Verdict};

/// How often the timers run.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct State {
    nat64: Nat64,
    last_sweep: Instant,
}

pub struct StatefulPath {
    state: Mutex<State>,
}

impl StatefulPath {
    pub fn new(nat64: Nat64) -> StatefulPath {
        StatefulPath {
            state: Mutex::new(State {
                nat64,
                last_sweep: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A worker that panicked mid-packet left the tables as they were between two
        // packets' changes at worst; serving on beats stopping every worker.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn translate(&self, packet: &[u8], out: &mut Output) -> Verdict {
        self.lock().nat64.translate(packet, Instant::now(), out)
    }

    /// Runs the timers when they are due; what they answer is in `out` (empty otherwise).
    pub fn sweep_if_due(&self, out: &mut Output) {
        let now = Instant::now();
        let mut state = self.lock();
        out.clear();
        if now.duration_since(state.last_sweep) < SWEEP_INTERVAL {
            return;
        }
        state.last_sweep = now;
        state.nat64.expire(now, out);
    }

    pub fn counts(&self) -> TableCounts {
        self.lock().nat64.counts()
    }

    pub fn bindings(&self) -> Vec<BindingInfo> {
        self.lock().nat64.bindings()
    }

    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.lock().nat64.sessions(Instant::now())
    }

    pub fn blocks(&self) -> Vec<BlockInfo> {
        self.lock().nat64.blocks()
    }
}
