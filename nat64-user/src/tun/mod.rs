//! The `tun-device` interface: opening its queues, and TAYGA's `--mktun` / `--rmtun`.
//!
//! Packets carry no packet-information header (IFF_NO_PI): the translator sees the IP header
//! at offset 0, as the TC program does on the same device. Where the kernel allows it the
//! queues also carry a `virtio_net_hdr` (IFF_VNET_HDR, see [`offload`]), so the device can
//! hand over and take back GSO super-packets.

mod ioctl;
pub mod offload;

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
    /// Whether reads and writes start with a `virtio_net_hdr`.
    vnet: bool,
    /// The TUN_F_* offloads the device was granted (none without the header).
    offloads: libc::c_uint,
}

impl TunQueue {
    /// One packet, preceded by its `virtio_net_hdr` when [`TunQueue::has_vnet_hdr`].
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &self.file, buf)
    }

    /// One plain packet (no offload asked of the kernel), whatever the queue's mode.
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        if !self.vnet {
            return io::Write::write(&mut &self.file, packet);
        }
        let header = crate::offload::vnet::VnetHdr::PLAIN.to_bytes();
        let parts = [io::IoSlice::new(&header), io::IoSlice::new(packet)];
        io::Write::write_vectored(&mut &self.file, &parts)
    }

    /// `frame` as it is: on a vnet-header queue it starts with its own header.
    pub fn write_raw(&self, frame: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &self.file, frame)
    }

    pub fn has_vnet_hdr(&self) -> bool {
        self.vnet
    }

    /// Whether the kernel takes USO super-packets of IPv4 and of IPv6 from this queue.
    pub fn takes_uso(&self) -> (bool, bool) {
        (
            self.offloads & libc::TUN_F_USO4 != 0,
            self.offloads & libc::TUN_F_USO6 != 0,
        )
    }

    pub fn as_raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    /// The same queue on a second descriptor: for a writer that must not share the reader's
    /// handle (the AF_XDP workers hand their results to the stack here).
    pub fn try_clone(&self) -> io::Result<TunQueue> {
        Ok(TunQueue {
            file: self.file.try_clone()?,
            vnet: self.vnet,
            offloads: self.offloads,
        })
    }
}

/// Opens `queues` queues of the device `name`, creating it (non-persistent) if it does not
/// exist. More than one queue needs a multi-queue device; a persistent device made by
/// `tayga --mktun` is single-queue, so it gets one queue and the reason is returned.
pub fn open_queues(
    name: &InterfaceName,
    queues: usize,
) -> io::Result<(Vec<TunQueue>, Option<String>)> {
    open_set(name, queues, 0)
}

/// [`open_queues`] with `extra_flags` on every queue (all queues of a device share its flags).
fn open_set(
    name: &InterfaceName,
    queues: usize,
    extra_flags: libc::c_int,
) -> io::Result<(Vec<TunQueue>, Option<String>)> {
    let queues = queues.max(1);
    if queues > 1 {
        match open_one(name, libc::IFF_MULTI_QUEUE | extra_flags) {
            Ok(first) => {
                let mut all = vec![first];
                for _ in 1..queues {
                    all.push(open_one(name, libc::IFF_MULTI_QUEUE | extra_flags)?);
                }
                return Ok((all, None));
            }
            // EINVAL: the device exists without IFF_MULTI_QUEUE (a TAYGA-made persistent one).
            Err(err) if err.kind() == io::ErrorKind::InvalidInput => {
                let single = open_one(name, extra_flags)?;
                let why = format!(
                    "{} is a single-queue TUN device (made by `--mktun` or TAYGA): one queue serves all workers",
                    name
                );
                return Ok((vec![single], Some(why)));
            }
            Err(err) => return Err(err),
        }
    }
    Ok((vec![open_one(name, extra_flags)?], None))
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
    // A device a killed nat64 left with offloads on would hand the next reader (TAYGA, which
    // reads without a virtio-net header) super-packets: --mktun hands it over plain.
    ioctl::set_offload(fd, 0)?;
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
    Ok(TunQueue {
        file,
        vnet: extra_flags & libc::IFF_VNET_HDR != 0,
        offloads: 0,
    })
}
