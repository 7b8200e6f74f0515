//! Waiting for a worker's descriptors (a TUN queue, AF_XDP sockets) to have something to
//! read, for at most a while, so the worker can look at its stop flag in between.

use std::{io, os::fd::RawFd, time::Duration};

/// Whether `fd` became readable within `timeout`; an interrupted wait counts as a timeout.
pub fn within(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    any_within(&[fd], timeout)
}

/// Whether any of `fds` became readable within `timeout`; an interrupted wait counts as a
/// timeout.
pub fn any_within(fds: &[RawFd], timeout: Duration) -> io::Result<bool> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `polled` holds this many valid pollfds for the duration of the call.
    let rc = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, timeout) };
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
