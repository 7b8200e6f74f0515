//! Stateful NAT64 in the TUN workers: one state shared by every worker (a lock per packet:
//! the tables must agree on which port is whose), and its timers run from the workers
//! themselves, so what a timer answers (a held SYN's port unreachable) leaves by a queue.
//!
//! Once the kernel path is attached, the sessions it may translate are entered in its
//! session maps as the tables open them (under the same lock), and expiry asks the maps when
//! the kernel last translated a packet of a session before it removes it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracing::{info, warn};

use crate::binding_maps::BindingMaps;
use crate::clock::boot_time_ns;
use crate::session_maps::SessionMaps;
use crate::stateful::{
    saved, BindingInfo, BlockInfo, Change, KernelSession, Nat64, SessionInfo, TableCounts,
};

/// Where the state a restart carries over is kept, in `data_dir`.
pub const STATE_FILE: &str = "stateful.json";
use crate::translate::{Output, Verdict};

/// How often the timers run.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct State {
    nat64: Nat64,
    last_sweep: Instant,
    /// The kernel's session maps, once the kernel path is attached.
    kernel: Option<SessionMaps>,
    changes: Vec<Change>,
    /// Sessions the kernel's maps had no room for (they stay with the TUN workers).
    refused_by_kernel: u64,
}

impl State {
    /// Writes what the tables changed into the kernel's maps.
    fn sync_kernel(&mut self) {
        let Some(maps) = &mut self.kernel else {
            return;
        };
        self.nat64.take_kernel_changes(&mut self.changes);
        for change in self.changes.drain(..) {
            if let Err(err) = maps.apply(&change) {
                self.refused_by_kernel += 1;
                // The first, then every thousandth: a full map refuses many in a row.
                if self.refused_by_kernel % 1000 == 1 {
                    warn!(
                        "stateful: {err:#} ({} refused so far; their packets stay with the TUN workers)",
                        self.refused_by_kernel
                    );
                }
            }
        }
    }
}

/// What [`StatefulPath::enter_kernel`] entered in the kernel's maps.
pub struct Entered {
    pub sessions: usize,
    pub bindings: usize,
}

/// `stamp_ns` (CLOCK_BOOTTIME) as an instant on the monotonic clock.
fn instant_of(stamp_ns: u64, now: Instant, boot_now_ns: u64) -> Option<Instant> {
    now.checked_sub(Duration::from_nanos(boot_now_ns.saturating_sub(stamp_ns)))
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
                kernel: None,
                changes: Vec::new(),
                refused_by_kernel: 0,
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

    /// The settings of the stateful translator (what the kernel programs are configured
    /// from).
    pub fn translator_config(&self) -> crate::translate::TranslatorConfig {
        self.lock().nat64.translator().config().clone()
    }

    /// Hands the kernel's session and binding maps over: what the kernel opened while no
    /// daemon read its ring taken in, the maps emptied, then given every session the kernel
    /// may translate, every binding and every lent block, then `attach` runs, all under
    /// the lock, so no session the workers open meanwhile is missed.
    pub fn enter_kernel(
        &self,
        mut maps: SessionMaps,
        bindings: BindingMaps,
        attach: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<Entered> {
        let mut state = self.lock();
        let now = Instant::now();
        let bindings = state.nat64.start_kernel_opening(Box::new(bindings), now);
        maps.clear().context("emptying the kernel's session maps")?;
        state.nat64.start_kernel_sync();
        state.kernel = Some(maps);
        state.sync_kernel();
        let entered = Entered {
            sessions: state.kernel.as_ref().map_or(0, SessionMaps::len),
            bindings,
        };
        if let Err(err) = attach() {
            state.kernel = None;
            state.nat64.stop_kernel_sync();
            return Err(err);
        }
        Ok(entered)
    }

    /// Takes in the sessions the kernel opened since the last call (the control plane's
    /// timer calls this often enough that the ring never fills at any rate this box takes).
    pub fn adopt_opened(&self) {
        let mut state = self.lock();
        if state.nat64.adopt_opened(Instant::now()) > 0 {
            state.sync_kernel();
        }
    }

    pub fn translate(&self, packet: &[u8], out: &mut Output) -> Verdict {
        let mut state = self.lock();
        let verdict = state.nat64.translate(packet, Instant::now(), out);
        state.sync_kernel();
        verdict
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
        let State { nat64, kernel, .. } = &mut *state;
        match kernel {
            Some(maps) => {
                let boot_now = boot_time_ns();
                let mut last_use = |s: &KernelSession| {
                    maps.last_use_ns(s)
                        .and_then(|ns| instant_of(ns, now, boot_now))
                };
                nat64.expire_with_kernel(now, out, &mut last_use);
            }
            None => {
                nat64.expire(now, out);
            }
        }
        state.sync_kernel();
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
