//! The `tun-device` interface: opening its queues, and TAYGA's `--mktun` / `--rmtun`.
//!
//! Packets carry no packet-information header (IFF_NO_PI): the translator sees the IP header
//! at offset 0, as the TC program does on the same device.

mod ioctl;

use std::{
    fs::{File, OpenOptions},
    io,
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
};

pub use ioctl::InterfaceName;

const CLONE_DEVICE: &str = "/dev/net/tun";

/// One queue of the TUN device: packets routed into the interface are read here, packets
/// written here enter the stack as if received on it.
pub struct TunQueue {
    file: File,
}

impl TunQueue {
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &self.file, buf)
    }

    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &self.file, packet)
    }

    pub fn as_raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

/// Opens `queues` queues of the device `name`, creating it (non-persistent) if it does not
/// exist. More than one queue needs a multi-queue device; a persistent device made by
/// `tayga --mktun` is single-queue, so it gets one queue and the reason is returned.
pub fn open_queues(
    name: &InterfaceName,
    queues: usize,
) -> io::Result<(Vec<TunQueue>, Option<String>)> {
    let queues = queues.max(1);
    if queues > 1 {
        match open_one(name, libc::IFF_MULTI_QUEUE) {
            Ok(first) => {
                let mut all = vec![first];
                for _ in 1..queues {
                    all.push(open_one(name, libc::IFF_MULTI_QUEUE)?);
                }
                return Ok((all, None));
            }
            // EINVAL: the device exists without IFF_MULTI_QUEUE (a TAYGA-made persistent one).
            Err(err) if err.kind() == io::ErrorKind::InvalidInput => {
                let single = open_one(name, 0)?;
                let why = format!(
                    "{} is a single-queue TUN device (made by `--mktun` or TAYGA): one queue serves all workers",
                    name
                );
                return Ok((vec![single], Some(why)));
            }
            Err(err) => return Err(err),
        }
    }
    Ok((vec![open_one(name, 0)?], None))
}

/// TAYGA's `--mktun`: create `name` as a persistent single-queue TUN device, owned by
/// `owner`/`group` when given, so it exists before the daemon starts (routes can point at it).
pub fn make_persistent(
    name: &InterfaceName,
    owner: Option<u32>,
    group: Option<u32>,
) -> io::Result<()> {
    let queue = open_one(name, 0)?;
    let fd = queue.as_raw_fd();
    if let Some(uid) = owner {
        ioctl::set_owner(fd, uid)?;
    }
    if let Some(gid) = group {
        ioctl::set_group(fd, gid)?;
    }
    set_persistent(&queue, true)
}

/// Whether the device outlives the last open queue (TUNSETPERSIST).
pub fn set_persistent(queue: &TunQueue, persistent: bool) -> io::Result<()> {
    ioctl::set_persist(queue.as_raw_fd(), persistent)
}

/// TAYGA's `--rmtun`: remove the persistent device `name`.
pub fn remove_persistent(name: &InterfaceName) -> io::Result<()> {
    set_persistent(&open_one(name, 0)?, false)
}

fn open_one(name: &InterfaceName, extra_flags: libc::c_int) -> io::Result<TunQueue> {
    // Non-blocking: workers drain a burst and go back to poll() when the queue is empty.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(CLONE_DEVICE)
        .map_err(|err| io::Error::new(err.kind(), format!("{CLONE_DEVICE}: {err}")))?;
    ioctl::set_iff(
        file.as_raw_fd(),
        name,
        libc::IFF_TUN | libc::IFF_NO_PI | extra_flags,
    )?;
    Ok(TunQueue { file })
}
