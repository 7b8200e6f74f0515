//! Log output: standard error in the foreground, syslog for a detached TAYGA-style daemon
//! (as TAYGA logs), standard output with `--stdout`.

use std::{ffi::CString, io};

use tracing_subscriber::{fmt::MakeWriter, EnvFilter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    Stdout,
    Syslog,
}

pub fn init(target: LogTarget, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, or a re-exec) keeps the first subscriber: not an error.
    let _ = match target {
        LogTarget::Stderr => builder.with_writer(io::stderr).try_init(),
        LogTarget::Stdout => builder.with_writer(io::stdout).try_init(),
        LogTarget::Syslog => {
            open_syslog();
            builder
                .with_ansi(false)
                .without_time()
                .with_level(false)
                .with_writer(SyslogWriter)
                .try_init()
        }
    };
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
