//! Stateful NAT64 in the TUN workers: one state shared by every worker (a lock per packet:
//! the tables must agree on which port is whose), and its timers run from the workers
//! themselves, so what a timer answers (a held SYN's port unreachable) leaves by a queue.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracing::{info, warn};

use crate::stateful::{saved, BindingInfo, BlockInfo, Nat64, SessionInfo, TableCounts};

/// Where the state a restart carries over is kept, in `data_dir`.
pub const STATE_FILE: &str = "stateful.json";
use crate::translate::{Output, Verdict};

/// How often the timers run.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct State {
    nat64: Nat64,
    last_sweep: Instant,
}

pub struct StatefulPath {
    state: Mutex<State>,
    /// `None`: no `data_dir`, nothing carried over.
    file: Option<PathBuf>,
}

impl StatefulPath {
    /// Serves `nat64`, with what the last run left in `file` taken back.
    pub fn new(mut nat64: Nat64, file: Option<PathBuf>) -> StatefulPath {
        if let Some(path) = &file {
            match load(path) {
                Ok(Some(state)) => {
                    let r = nat64.restore(&state, Instant::now());
                    info!(
                        "stateful: took back {} bindings and {} sessions from {}{}",
                        r.bindings,
                        r.sessions,
                        path.display(),
                        if r.dropped > 0 {
                            format!(
                                " ({} bindings left out: the configuration no longer holds them)",
                                r.dropped
                            )
                        } else {
                            String::new()
                        }
                    );
                }
                Ok(None) => {}
                Err(err) => warn!("stateful: starting empty: {err:#}"),
            }
        }
        StatefulPath {
            state: Mutex::new(State {
                nat64,
                last_sweep: Instant::now(),
            }),
            file,
        }
    }

    /// Writes the state for the next run (on a clean stop; replaced whole, never half).
    pub fn save(&self) -> anyhow::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let state = self.lock().nat64.save(Instant::now());
        let text = serde_json::to_vec(&state)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        info!(
            "stateful: kept {} bindings and {} sessions in {}",
            state.bindings.len(),
            state.sessions.len(),
            path.display()
        );
        Ok(())
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

/// The saved state, `None` when there is none; an unreadable file is an error (the caller
/// starts empty and says so), never a refusal to start.
fn load(path: &std::path::Path) -> anyhow::Result<Option<saved::SavedState>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let state: saved::SavedState = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a state this version wrote", path.display()))?;
    anyhow::ensure!(
        state.version == saved::VERSION,
        "{} is of version {}, this nat64 reads {}",
        path.display(),
        state.version,
        saved::VERSION
    );
    Ok(Some(state))
}
