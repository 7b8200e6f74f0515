//! `kernel_stateful_tc` and `kernel_stateful_xdp`: stateful NAT64 as the gateway runs it,
//! the kernel first. Each packet goes through the program (BPF_PROG_TEST_RUN) with the
//! session and binding maps as userspace's tables left them and the subscribers' blocks
//! lent, so the program opens UDP and echo sessions itself (userspace takes them in from
//! its ring before it translates the same packet, which must then come out the same). What the program passes on, userspace
//! translates at the target's clock (as a TUN worker would) and its changes go into the
//! maps; what the program translates, userspace must translate to the same bytes, and
//! without changing what the kernel holds. The timers run as the clock moves on, and the
//! tables must hold together. Half the inputs continue a session userspace holds, so that
//! the kernel has flows to translate.
//!
//! What an input meets depends on the inputs before it: a replay runs it against empty
//! tables (a continuation then only passes on), so a failure is reproduced by running the
//! seed again up to it (`--seed S --inputs N+1`).

use std::time::Instant;

use nat64::binding_maps::BindingMaps;
use nat64::session_maps::SessionMaps;
use nat64::stateful::{Change, KernelBindings, Nat64, SessionInfo};
use nat64::translate::{Output, Prefix, Verdict};
use nat64_common::counters::Outcome;
use rand::{rngs::StdRng, Rng};

use super::kernel::{finish, Bench, Program, Ran};
use super::stateful::{setups, Clock, Setup, Setups};
use crate::gen::{addresses::AddressBook, chance, packet, session};
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};

/// Inputs drawn from one listing of the sessions (listing them all takes a while).
const LIST_EVERY: u64 = 8;

pub struct KernelStatefulTarget {
    bench: Bench,
    maps: SessionMaps,
    /// The binding maps, with the setup that holds them (or here, before the first).
    bindings: Option<Box<dyn KernelBindings>>,
    holder: Option<usize>,
    setups: Vec<Setup>,
    nat64: Vec<Nat64>,
    books: Vec<AddressBook>,
    /// Each setup's prefix: where its sessions' remotes are on the IPv6 side.
    prefixes: Vec<Prefix>,
    /// The current setup's sessions, as listed at most [`LIST_EVERY`] inputs ago.
    sessions: Vec<SessionInfo>,
    drawn: u64,
    clock: Clock,
    out: Output,
    timers_out: Output,
    changes: Vec<Change>,
    /// Whether userspace ran on the last input (what `out` holds).
    user_ran: bool,
}

impl KernelStatefulTarget {
    /// Loads the program (root only: BPF_PROG_TEST_RUN).
    pub fn new(program: Program) -> anyhow::Result<KernelStatefulTarget> {
        let mut bench = Bench::load(program)?;
        let maps = SessionMaps::take(&mut bench.ebpf)?;
        let bindings = BindingMaps::take(&mut bench.ebpf)?;
        let Setups {
            list: setups,
            nat64,
            books,
        } = setups()?;
        let prefixes = setups
            .iter()
            .map(|s| {
                s.translator
                    .prefix
                    .ok_or_else(|| anyhow::anyhow!("setup {} has no prefix", s.name))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(KernelStatefulTarget {
            bench,
            maps,
            bindings: Some(Box::new(bindings)),
            holder: None,
            setups,
            nat64,
            books,
            prefixes,
            sessions: Vec::new(),
            drawn: 0,
            clock: Clock::new(),
            out: Output::new(),
            timers_out: Output::new(),
            changes: Vec::new(),
            user_ran: false,
        })
    }

    /// Writes what setup `setup`'s tables changed into the maps.
    fn sync(&mut self, setup: usize, checked: &mut Checked) {
        self.take_changes(setup);
        self.apply_changes(checked);
    }

    fn take_changes(&mut self, setup: usize) {
        self.changes.clear();
        if let Some(nat64) = self.nat64.get_mut(setup) {
            nat64.take_kernel_changes(&mut self.changes);
        }
    }

    /// A change the maps refuse is a finding: they have room for far more sessions than a
    /// run opens.
    fn apply_changes(&mut self, checked: &mut Checked) {
        for change in &self.changes {
            if let Err(e) = self.maps.apply(change) {
                checked.findings.push(Finding::disagreement(format!(
                    "the session maps refuse a change: {e:#}"
                )));
            }
        }
    }

    /// Userspace on what the kernel passed on, as a TUN worker gets it.
    fn pass_on(&mut self, setup: usize, input: &[u8], now: Instant, outcome: Outcome) -> Checked {
        let Some(nat64) = self.nat64.get_mut(setup) else {
            return finish(Err(Finding::disagreement("no such setup")));
        };
        self.user_ran = true;
        let out = &mut self.out;
        let mut checked = match guarded(|| nat64.translate(input, now, out)) {
            Ok(verdict) => {
                let mut checked = finish(Ok(outcome));
                if verdict == Verdict::Translated {
                    checked.notes.push("(passed on, translated by userspace)");
                }
                checked
            }
            Err(panic) => finish(Err(Finding::crash(format!(
                "userspace crashed on what the kernel passed on: {panic}"
            )))),
        };
        self.sync(setup, &mut checked);
        checked
    }

    /// Userspace on what the kernel translated: the same packet, and nothing for the
    /// kernel's maps (a packet the kernel may translate changes no session's standing).
    fn compare(&mut self, setup: usize, outcome: Outcome, ip: &[u8], now: Instant) -> Checked {
        let Some(nat64) = self.nat64.get_mut(setup) else {
            return finish(Err(Finding::disagreement("no such setup")));
        };
        self.user_ran = true;
        let result = self
            .bench
            .against_user(outcome, &mut self.out, |out| nat64.translate(ip, now, out));
        self.take_changes(setup);
        let result = result.and_then(|outcome| match self.changes.as_slice() {
            [] => Ok(outcome),
            changes => Err(Finding::disagreement(format!(
                "kernel translated ({}), userspace changed the kernel's sessions: {changes:?}",
                outcome.as_str()
            ))),
        });
        let mut checked = finish(result);
        // What userspace changed all the same goes into the maps, to go on in step.
        self.apply_changes(&mut checked);
        checked
    }

    /// The timers, their changes into the maps, then the tables' invariants.
    fn run_timers(&mut self, setup: usize, now: Instant, checked: &mut Checked) {
        let Some(nat64) = self.nat64.get_mut(setup) else {
            return;
        };
        let timers_out = &mut self.timers_out;
        if let Err(panic) = guarded(|| nat64.expire(now, timers_out)) {
            checked
                .findings
                .push(Finding::crash(format!("userspace timers crashed: {panic}")));
        }
        checked
            .findings
            .extend(nat64.violations().into_iter().map(Finding::disagreement));
        self.sync(setup, checked);
    }
}

impl Target for KernelStatefulTarget {
    fn name(&self) -> &'static str {
        self.bench.program().stateful_target_name()
    }

    fn setups(&self) -> Vec<String> {
        self.setups.iter().map(|s| s.name.to_string()).collect()
    }

    /// The maps hold `setup`'s sessions, bindings and lent blocks and nothing else, and the
    /// program its settings.
    fn select(&mut self, setup: usize) -> anyhow::Result<()> {
        let now = self.clock.now();
        if let Some(holder) = self.holder.take().and_then(|h| self.nat64.get_mut(h)) {
            self.bindings = holder.take_kernel_opening(now);
        }
        let Some(nat64) = self.nat64.get_mut(setup) else {
            anyhow::bail!("no setup {setup}");
        };
        let bindings = self
            .bindings
            .take()
            .ok_or_else(|| anyhow::anyhow!("the binding maps were not given back"))?;
        nat64.start_kernel_opening(bindings, now);
        self.holder = Some(setup);
        self.maps.clear()?;
        nat64.start_kernel_sync();
        self.bench.configure(nat64.translator().config())?;
        let mut checked = Checked::default();
        self.sync(setup, &mut checked);
        if let Some(f) = checked.findings.first() {
            anyhow::bail!("{}", f.detail);
        }
        self.sessions.clear();
        self.drawn = 0;
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        let (Some(nat64), Some(book), Some(prefix)) = (
            self.nat64.get(setup),
            self.books.get(setup),
            self.prefixes.get(setup),
        ) else {
            return Vec::new();
        };
        if self.drawn.is_multiple_of(LIST_EVERY) {
            self.sessions = nat64.sessions(self.clock.now());
        }
        self.drawn += 1;
        let sessions = &self.sessions;
        self.bench.draw(rng, |rng| {
            if !sessions.is_empty() && chance(rng, 0.5) {
                let s = &sessions[rng.gen_range(0..sessions.len())];
                session::continuation(rng, s, prefix)
            } else {
                packet::packet(rng, book)
            }
        })
    }

    fn explain(&self) -> Vec<String> {
        self.bench.explain(self.user_ran.then_some(&self.out))
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        self.user_ran = false;
        let (now, expire) = self.clock.tick();
        let mut checked = match self.bench.run(input) {
            Ok(Ran::Passed(outcome)) => self.pass_on(setup, input, now, outcome),
            Ok(Ran::Translated { outcome, ip }) => self.compare(setup, outcome, &ip, now),
            Err(checked) => checked,
        };
        if expire {
            self.run_timers(setup, now, &mut checked);
        }
        checked
    }
}
