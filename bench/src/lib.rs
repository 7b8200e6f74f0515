//! Shared benchmark plumbing: timing with a same-run baseline, and tables that print ratios
//! as well as absolute figures.

use std::{
    fmt::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

/// Median nanoseconds per call of `op` over `rounds` rounds of `iterations` calls each.
pub fn ns_per_call(rounds: usize, iterations: u32, mut op: impl FnMut()) -> f64 {
    // Warm caches, branch predictors and the output buffers first.
    for _ in 0..iterations / 10 {
        op();
    }
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                op();
            }
            elapsed_ns(start.elapsed()) / f64::from(iterations)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn elapsed_ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// A results table, printed and written under `target/bench/`.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A line printed under the table (method, caveats).
    pub fn note(&mut self, line: &str) {
        self.notes.push(line.to_owned());
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .chain(std::iter::once(&self.header[c]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut text = format!("{}\n", self.title);
        let line = |cells: &[String], text: &mut String| {
            for (c, cell) in cells.iter().enumerate() {
                let _ = write!(text, "{:<width$}  ", cell, width = widths[c]);
            }
            text.push('\n');
        };
        line(&self.header, &mut text);
        for row in &self.rows {
            line(row, &mut text);
        }
        for note in &self.notes {
            let _ = writeln!(text, "{note}");
        }
        text
    }

    /// Prints the table and writes it to `target/bench/<file>`.
    pub fn publish(&self, file: &str) -> anyhow::Result<PathBuf> {
        publish_tables(file, std::slice::from_ref(self))
    }
}

/// Prints the tables, a blank line apart, and writes them to `target/bench/<file>`.
pub fn publish_tables(file: &str, tables: &[Table]) -> anyhow::Result<PathBuf> {
    let text = tables
        .iter()
        .map(Table::render)
        .collect::<Vec<_>>()
        .join("\n");
    print!("{text}");
    write_output(file, &text)
}

/// Writes `target/bench/<file>`.
pub fn write_output(file: &str, contents: &str) -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file);
    std::fs::write(&path, contents)?;
    Ok(path)
}

pub mod cpu;
pub mod expiry_sweep;
pub mod first_packet;
pub mod frames;
pub mod gateways;
pub mod generator;
pub mod memory;
pub mod nat64_daemon;
pub mod packet_socket;
pub mod plot;
pub mod programs;
pub mod rates;
pub mod running;
pub mod search;
pub mod settings;
pub mod sink;
pub mod stateful_sample;
pub mod testbed;
pub mod trial;
