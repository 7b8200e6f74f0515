//! The fuzzing loop: inputs numbered from 0, each generated from its own RNG seeded by the
//! run's seed and its number (so a run is reproducible input by input), spread over the
//! target's setups in blocks, until the time or the input budget is spent.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, SeedableRng};

use crate::report::{Finding, Report};

/// Inputs in a row under one setup (switching rewrites the kernel maps).
pub const BLOCK: u64 = 512;

/// A fuzz target: a piece of the product, the inputs it takes and the checks on what it did.
pub trait Target {
    fn name(&self) -> &'static str;
    /// The configurations (formats, pools) inputs are spread over, by name.
    fn setups(&self) -> Vec<String>;
    /// Makes `setup` the current one.
    fn select(&mut self, setup: usize) -> anyhow::Result<()>;
    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8>;
    /// Runs `input` and checks what became of it; the outcome names it for the statistics.
    fn check(&mut self, setup: usize, input: &[u8]) -> Checked;
    /// For a replay: what the code under test wrote for the input checked last.
    fn explain(&self) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Debug, Default)]
pub struct Checked {
    pub findings: Vec<Finding>,
    /// What became of the input (a verdict, a counter), for the outcome statistics.
    pub outcome: String,
    /// The harness could not run the input (neither a pass nor a failure).
    pub not_run: bool,
    /// Events worth counting beside the outcome (the pool asked for an address).
    pub notes: Vec<&'static str>,
}

impl Checked {
    /// The code under test panicked (the panic's message).
    pub fn crashed(panic: String) -> Checked {
        Checked {
            findings: vec![crate::report::Finding::crash(panic)],
            outcome: "crash".into(),
            not_run: false,
            notes: Vec::new(),
        }
    }
}

/// How long to go on: whichever limit comes first.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub time: Option<Duration>,
    pub inputs: Option<u64>,
}

pub fn run(target: &mut dyn Target, seed: u64, budget: Budget) -> anyhow::Result<Report> {
    let mut report = Report::new(target.name(), seed);
    let setups = target.setups();
    if setups.is_empty() {
        return Ok(report);
    }
    let start = Instant::now();
    let mut current = None;
    for index in 0u64.. {
        if budget.inputs.is_some_and(|n| index >= n)
            || budget.time.is_some_and(|t| start.elapsed() >= t)
        {
            break;
        }
        let setup = ((index / BLOCK) % setups.len() as u64) as usize;
        if current != Some(setup) {
            target.select(setup)?;
            current = Some(setup);
        }
        let mut rng = StdRng::seed_from_u64(input_seed(seed, index));
        let input = target.generate(setup, &mut rng);
        let checked = target.check(setup, &input);
        report.inputs += 1;
        if checked.not_run {
            report.not_run += 1;
        }
        report.count_outcome(&checked.outcome);
        for note in &checked.notes {
            report.count_outcome(note);
        }
        report.record(index, &setups[setup], &input, checked.findings);
    }
    Ok(report)
}

/// Runs one input (a replay) under the setup named `setup`.
pub fn replay(target: &mut dyn Target, setup: &str, input: &[u8]) -> anyhow::Result<Checked> {
    let setups = target.setups();
    let index = setups
        .iter()
        .position(|s| s == setup)
        .ok_or_else(|| anyhow::anyhow!("no setup {setup}; the setups are {}", setups.join(", ")))?;
    target.select(index)?;
    Ok(target.check(index, input))
}

/// SplitMix64 of the run's seed and the input's number: inputs far apart in number get
/// unrelated streams.
fn input_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err(message with its location)`. Inside `f` the panic
/// is not printed (the caller reports it with the input that caused it); anywhere else it
/// is, as always.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic".to_string())
            .replace('\n', " ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_messages_with_their_location() {
        let caught = guarded(|| {
            let v: Vec<u8> = Vec::new();
            v[usize::from(v.is_empty())]
        });
        let message = caught.unwrap_err();
        assert!(message.contains("index out of bounds"), "{message}");
        assert!(message.contains("runner.rs"), "{message}");
        assert_eq!(guarded(|| 5), Ok(5));
    }

    #[test]
    fn seeds_differ_per_input_and_repeat_per_run() {
        assert_eq!(input_seed(1, 2), input_seed(1, 2));
        assert_ne!(input_seed(1, 2), input_seed(1, 3));
        assert_ne!(input_seed(1, 2), input_seed(2, 2));
    }
}
