//! Log output: standard error in the foreground, syslog for a detached TAYGA-style daemon
//! (as TAYGA logs), standard output with `--stdout`, the journal (with fields) for
//! `nat64 run` started by systemd. Warnings and errors are also kept for `nat64 status`.

use std::{ffi::CString, io};

use tracing_subscriber::{
    fmt::MakeWriter, layer::SubscriberExt as _, util::SubscriberInitExt as _, EnvFilter, Layer,
    Registry,
};

use crate::ops::{journal, recent_errors::RecentErrors};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    /// Standard error, or the journal natively when standard error is the journal.
    StderrOrJournal,
    Stdout,
    Syslog,
}

type Filtered = tracing_subscriber::layer::Layered<EnvFilter, Registry>;
type Output = Box<dyn Layer<Filtered> + Send + Sync>;

pub fn init(target: LogTarget, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let text = tracing_subscriber::fmt::layer().with_target(false);
    let output: Output = match target {
        LogTarget::StderrOrJournal if journal::stderr_is_journal() => {
            match tracing_journald::layer() {
                // INFO as syslog's informational, DEBUG as debug: what `journalctl -p`
                // and syslog users expect (the crate's default makes every INFO a notice).
                Ok(journald) => Box::new(
                    journald
                        .with_syslog_identifier("nat64".to_owned())
                        .with_priority_mappings(tracing_journald::PriorityMappings {
                            info: tracing_journald::Priority::Informational,
                            debug: tracing_journald::Priority::Debug,
                            ..tracing_journald::PriorityMappings::new()
                        }),
                ),
                // No journald socket after all: the stream systemd gave us still reaches it.
                Err(_) => Box::new(text.with_writer(io::stderr)),
            }
        }
        LogTarget::Stderr | LogTarget::StderrOrJournal => Box::new(text.with_writer(io::stderr)),
        LogTarget::Stdout => Box::new(text.with_writer(io::stdout)),
        LogTarget::Syslog => {
            open_syslog();
            Box::new(
                text.with_ansi(false)
                    .without_time()
                    .with_level(false)
                    .with_writer(SyslogWriter),
            )
        }
    };
    // A second init (tests, or a re-exec) keeps the first subscriber: not an error.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(RecentErrors)
        .try_init();
}

fn open_syslog() {
    // openlog keeps the pointer: the identity must live for the whole process.
    static IDENT: &[u8] = b"tayga\0";
    // SAFETY: IDENT is a static NUL-terminated string; openlog has no other preconditions.
    unsafe { libc::openlog(IDENT.as_ptr().cast(), libc::LOG_PID, libc::LOG_DAEMON) };
}

#[derive(Clone, Copy)]
struct SyslogWriter;

impl io::Write for SyslogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(line) = CString::new(line.trim_end()) {
                // SAFETY: "%s" with one valid C string argument.
                unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), line.as_ptr()) };
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SyslogWriter {
    type Writer = SyslogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
