//! Detaching from the terminal and recording the daemon's pid.

use std::{fs, io, path::Path};

/// Forks into the background as daemon(3) does: the parent exits 0, the child starts a new
/// session, moves to `/` and points its standard streams at /dev/null.
///
/// Must be called while the process has a single thread.
pub fn detach() -> io::Result<()> {
    // SAFETY: called before any thread exists; the child continues with a copy of this
    // single-threaded process, the parent exits without running destructors, as daemon(3).
    let rc = unsafe { libc::daemon(0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes the current pid and a newline, as TAYGA's `--pidfile` does.
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    fs::write(path, format!("{}\n", std::process::id())).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("writing pid file {}: {err}", path.display()),
        )
    })
}
