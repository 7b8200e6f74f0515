//! What a run found: counts, the first example of each kind of failure (with what replays
//! it), and how the inputs fared, so a reader can tell the generator reached deep.

use std::collections::{BTreeMap, HashMap};

use crate::hex;

/// What kind of failure a finding is; each has its own count in the summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The code under test panicked.
    Crash,
    /// A check failed: the kernel and userspace disagree, or an output, a diagnostic or a
    /// loaded pool breaks a rule.
    Disagreement,
    /// The dynamic pool was asked for an address for a source the rules refuse.
    RefusedSource,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Disagreement => "disagreement",
            Kind::RefusedSource => "refused source given a pool address",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: Kind,
    pub detail: String,
}

impl Finding {
    pub fn crash(detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Crash,
            detail: detail.into(),
        }
    }

    pub fn disagreement(detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Disagreement,
            detail: detail.into(),
        }
    }

    pub fn refused_source(detail: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::RefusedSource,
            detail: detail.into(),
        }
    }
}

/// How many distinct kinds of failure are shown in full.
const MAX_EXAMPLES: usize = 20;

/// One failing input, shown in full, for every kind of failure.
#[derive(Clone, Debug)]
struct Example {
    signature: String,
    finding: Finding,
    index: u64,
    setup: String,
    input: Vec<u8>,
}

#[derive(Debug)]
pub struct Report {
    pub target: &'static str,
    pub seed: u64,
    pub inputs: u64,
    pub crashes: u64,
    pub disagreements: u64,
    pub refused_sources: u64,
    /// Inputs the harness could not run (frames BPF_PROG_TEST_RUN cannot take as a device
    /// would hand them over): neither passed nor failed.
    pub not_run: u64,
    /// How many findings of each kind (by signature), shown or not.
    per_kind: HashMap<String, u64>,
    examples: Vec<Example>,
    /// What became of the inputs (verdicts, outcomes), by name.
    outcomes: BTreeMap<String, u64>,
}

impl Report {
    pub fn new(target: &'static str, seed: u64) -> Report {
        Report {
            target,
            seed,
            inputs: 0,
            crashes: 0,
            disagreements: 0,
            refused_sources: 0,
            not_run: 0,
            per_kind: HashMap::new(),
            examples: Vec::new(),
            outcomes: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, index: u64, setup: &str, input: &[u8], findings: Vec<Finding>) {
        for finding in findings {
            match finding.kind {
                Kind::Crash => self.crashes += 1,
                Kind::Disagreement => self.disagreements += 1,
                Kind::RefusedSource => self.refused_sources += 1,
            }
            let signature = format!("{:?} {}", finding.kind, signature(&finding.detail));
            let seen = self.per_kind.entry(signature.clone()).or_insert(0);
            *seen += 1;
            if *seen == 1 && self.examples.len() < MAX_EXAMPLES {
                self.examples.push(Example {
                    signature,
                    finding,
                    index,
                    setup: setup.to_string(),
                    input: input.to_vec(),
                });
            }
        }
    }

    pub fn count_outcome(&mut self, outcome: &str) {
        if let Some(n) = self.outcomes.get_mut(outcome) {
            *n += 1;
        } else {
            self.outcomes.insert(outcome.to_string(), 1);
        }
    }

    /// The share of the inputs (0 to 1) counted under `outcome`.
    pub fn share(&self, outcome: &str) -> f64 {
        self.outcomes.get(outcome).copied().unwrap_or(0) as f64 / self.inputs.max(1) as f64
    }

    pub fn failed(&self) -> bool {
        self.crashes + self.disagreements + self.refused_sources > 0
    }

    /// `fuzz <target>: N inputs, C crashes, D disagreements, P refused sources given a pool
    /// address (seed S)`
    pub fn summary(&self) -> String {
        format!(
            "fuzz {}: {} inputs, {} crashes, {} disagreements, {} refused sources given a pool address (seed {})",
            self.target,
            self.inputs,
            self.crashes,
            self.disagreements,
            self.refused_sources,
            self.seed
        )
    }

    /// What became of the inputs, most frequent first, as shares of the inputs.
    pub fn outcome_line(&self) -> String {
        let mut by_count: Vec<(&String, &u64)> = self.outcomes.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total = self.inputs.max(1) as f64;
        let shown: Vec<String> = by_count
            .iter()
            .map(|(name, n)| format!("{name} {:.2}%", **n as f64 * 100.0 / total))
            .collect();
        let mut line = format!("  {} outcomes: {}", self.target, shown.join(", "));
        if self.not_run > 0 {
            line.push_str(&format!(
                "; {} not run (frames BPF_PROG_TEST_RUN cannot take as a device hands them over: shorter than their IP header, or longer than a page)",
                self.not_run
            ));
        }
        line
    }

    /// Each distinct failure once, with what replays it.
    pub fn examples(&self) -> Vec<String> {
        self.examples
            .iter()
            .map(|e| {
                let input = hex::encode(&e.input);
                let like = self.per_kind.get(&e.signature).copied().unwrap_or(1);
                format!(
                    "FAIL {} input #{} (setup {}, seed {}; {like} findings of this kind): {}: {}\n  input: {input}\n  replay: nat64-fuzz --target {} --setup {} --replay {input}",
                    self.target,
                    e.index,
                    e.setup,
                    self.seed,
                    e.finding.kind.as_str(),
                    e.finding.detail,
                    self.target,
                    e.setup,
                )
            })
            .collect()
    }
}

/// The detail with every word that holds a digit (numbers, offsets, addresses) blurred, so
/// failures that differ only in those count as one kind.
fn signature(detail: &str) -> String {
    detail
        .split_whitespace()
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                "#"
            } else {
                w
            }
        })
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_and_one_example_per_kind() {
        let mut r = Report::new("translator", 7);
        r.inputs = 3;
        r.record(
            0,
            "a",
            &[0x45],
            vec![Finding::disagreement("byte 12: 01 vs 02")],
        );
        r.record(
            1,
            "a",
            &[0x46],
            vec![Finding::disagreement("byte 14: 03 vs 04")],
        );
        r.record(2, "a", &[0x60], vec![Finding::crash("index out of bounds")]);
        assert_eq!(
            r.summary(),
            "fuzz translator: 3 inputs, 1 crashes, 2 disagreements, 0 refused sources given a pool address (seed 7)"
        );
        assert_eq!(r.examples().len(), 2);
        assert!(r.examples()[0].contains("--replay 45"));
        assert!(r.failed());
    }
}
