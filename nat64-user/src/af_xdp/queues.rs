//! How many receive queues an interface has: one socket each, since the XDP program
//! redirects a frame to the socket of the queue it arrived on.

use std::path::Path;

use nat64_common::maps::MAX_XSK_QUEUES;

/// The receive queues of `interface` that get a socket, and a note when some or all of them
/// cannot be counted or served.
pub fn receive_queues(interface: &str) -> (u32, Option<String>) {
    let dir = Path::new("/sys/class/net").join(interface).join("queues");
    let counted = std::fs::read_dir(&dir).map(|entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
            .count() as u32
    });
    match counted {
        Ok(0) | Err(_) => (
            1,
            Some(format!(
                "{} unreadable: serving queue 0 only",
                dir.display()
            )),
        ),
        Ok(n) if n > MAX_XSK_QUEUES => (
            MAX_XSK_QUEUES,
            Some(format!(
                "{n} receive queues: queues {MAX_XSK_QUEUES} and above keep the TUN slow path"
            )),
        ),
        Ok(n) => (n, None),
    }
}
