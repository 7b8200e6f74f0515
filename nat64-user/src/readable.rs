//! Waiting for a worker's descriptor (a TUN queue, an AF_XDP socket) to have something to
//! read, for at most a while, so the worker can look at its stop flag in between.

use std::{io, os::fd::RawFd, time::Duration};

/// Whether `fd` became readable within `timeout`; an interrupted wait counts as a timeout.
pub fn within(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut fds, 1, timeout) };
    match rc {
        n if n > 0 => Ok(true),
        0 => Ok(false),
        _ => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            }
        }
    }
}
