//! Keeps the daemon's last warnings and errors for `nat64 status`, and counts them for the
//! metrics endpoint: a tracing layer beside whatever writes the log.

use std::{
    collections::{BTreeMap, VecDeque},
    fmt::Write as _,
    sync::Mutex,
};

use tracing::{field::Field, Event, Level, Subscriber};
use tracing_subscriber::{layer::Context, Layer};

use super::snapshot::LogRecord;

/// How many records are kept.
const KEPT: usize = 20;
/// The longest message kept (a runaway message must not grow the daemon).
const MAX_MESSAGE: usize = 512;

struct Ring {
    records: VecDeque<LogRecord>,
    counts: BTreeMap<String, u64>,
}

static RING: Mutex<Ring> = Mutex::new(Ring {
    records: VecDeque::new(),
    counts: BTreeMap::new(),
});

/// The kept records, oldest first, and the counts by level since the start.
pub fn read() -> (Vec<LogRecord>, BTreeMap<String, u64>) {
    let ring = RING.lock().unwrap_or_else(|p| p.into_inner());
    let mut counts = ring.counts.clone();
    for level in ["warn", "error"] {
        counts.entry(level.to_owned()).or_insert(0);
    }
    (ring.records.iter().cloned().collect(), counts)
}

/// Records a warning or error (also what the layer calls).
pub fn record(level: &str, message: &str) {
    let mut message = message.to_owned();
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    let mut ring = RING.lock().unwrap_or_else(|p| p.into_inner());
    *ring.counts.entry(level.to_owned()).or_insert(0) += 1;
    if ring.records.len() == KEPT {
        ring.records.pop_front();
    }
    ring.records.push_back(LogRecord {
        unix: crate::clock::unix_now(),
        level: level.to_owned(),
        message,
    });
}

/// The layer: WARN and ERROR events go to the ring.
pub struct RecentErrors;

impl<S: Subscriber> Layer<S> for RecentErrors {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            _ => return,
        };
        let mut text = MessageText::default();
        event.record(&mut text);
        record(level, &text.0);
    }
}

#[derive(Default)]
struct MessageText(String);

impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_records_and_counts_all() {
        for i in 0..(KEPT + 5) {
            record("warn", &format!("test warning {i}"));
        }
        record("error", &"x".repeat(MAX_MESSAGE * 2));
        let (records, counts) = read();
        assert_eq!(records.len(), KEPT);
        assert!(counts["warn"] >= (KEPT + 5) as u64);
        let last = records.last().expect("a record");
        assert_eq!(last.level, "error");
        assert!(last.message.chars().count() <= MAX_MESSAGE + 1);
    }
}
