//! Opening the queues with a `virtio_net_hdr` and as many offloads as the kernel grants, as
//! wireguard-go does on Linux: the device then hands over TCP and UDP super-packets (up to
//! 64 KiB, one read) and takes them back (one write), where without it every segment costs a
//! read and a write. Whatever is refused falls back — fewer offloads, or none and no header —
//! and the caller logs which mode the queues run in.

use std::{fmt, io};

use super::{ioctl, open_set, InterfaceName, TunQueue};
use crate::offload::vnet;

/// Offload sets asked for, best first: USO came with Linux 6.2, TSO and checksums long before.
const WANTED: [libc::c_uint; 3] = [
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_USO4 | libc::TUN_F_USO6,
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6,
    libc::TUN_F_CSUM,
];

/// How the queues exchange packets with the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every read and write starts with a `virtio_net_hdr`; `flags` are the TUN_F_* granted.
    Vnet { flags: libc::c_uint },
    /// One packet per read and write; `why` says what the kernel refused.
    Plain { why: String },
}

impl Mode {
    pub fn is_vnet(&self) -> bool {
        matches!(self, Mode::Vnet { .. })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Vnet { flags } => {
                let names: Vec<&str> = [
                    (libc::TUN_F_CSUM, "csum"),
                    (libc::TUN_F_TSO4, "tso4"),
                    (libc::TUN_F_TSO6, "tso6"),
                    (libc::TUN_F_USO4, "uso4"),
                    (libc::TUN_F_USO6, "uso6"),
                ]
                .iter()
                .filter(|(flag, _)| flags & flag != 0)
                .map(|(_, name)| *name)
                .collect();
                write!(
                    f,
                    "TUN queues batch through GSO: virtio-net headers, offloads {}; super-packets are translated whole, one read and one write each",
                    names.join("+")
                )?;
                if flags & (libc::TUN_F_USO4 | libc::TUN_F_USO6) != 0 {
                    f.write_str("; translated UDP datagrams of one flow read in a burst are written as one USO super-packet")?;
                }
                Ok(())
            }
            Mode::Plain { why } => write!(
                f,
                "TUN queues read and write one packet per system call ({why})"
            ),
        }
    }
}

/// The queues, whether the device had to be single-queue (and why), and their mode.
pub struct Opened {
    pub queues: Vec<TunQueue>,
    pub single_queue_note: Option<String>,
    pub mode: Mode,
}

/// Opens `count` queues of `name` (see [`super::open_queues`]) with offloads when `wanted`
/// and the kernel grants them, otherwise plain.
pub fn open_queues(name: &InterfaceName, count: usize, wanted: bool) -> io::Result<Opened> {
    let why = if wanted {
        match open_set(name, count, libc::IFF_VNET_HDR) {
            Ok((mut queues, single_queue_note)) => match negotiate(&queues) {
                Ok(flags) => {
                    for queue in &mut queues {
                        queue.offloads = flags;
                    }
                    return Ok(Opened {
                        queues,
                        single_queue_note,
                        mode: Mode::Vnet { flags },
                    });
                }
                // Closing these queues removes a device we created; the plain open below
                // makes it again, before anything was configured on it.
                Err(err) => format!("the kernel refused the offloads: {err}"),
            },
            Err(err) => format!("the kernel refused IFF_VNET_HDR: {err}"),
        }
    } else {
        "offloads not asked for".to_owned()
    };
    let (queues, single_queue_note) = open_set(name, count, 0)?;
    // A persistent device keeps the offloads an earlier reader set; without the header to
    // announce them, a super-packet would reach us as one giant packet.
    if let Some(first) = queues.first() {
        let _ = ioctl::set_offload(first.as_raw_fd(), 0);
    }
    Ok(Opened {
        queues,
        single_queue_note,
        mode: Mode::Plain { why },
    })
}

/// Sets the header size and the best offload set the kernel accepts; the offloads belong to
/// the device, so one queue is enough.
fn negotiate(queues: &[TunQueue]) -> io::Result<libc::c_uint> {
    let first = queues
        .first()
        .ok_or_else(|| io::Error::other("no queue opened"))?;
    let fd = first.as_raw_fd();
    ioctl::set_vnet_hdr_sz(fd, vnet::LEN)?;
    let size = ioctl::vnet_hdr_sz(fd)?;
    if size != vnet::LEN {
        return Err(io::Error::other(format!(
            "the header is {size} bytes, not {}",
            vnet::LEN
        )));
    }
    let mut last = io::Error::other("no offload set tried");
    for flags in WANTED {
        match ioctl::set_offload(fd, flags) {
            Ok(()) => return Ok(flags),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// Takes the offloads back before a persistent device is left to the next reader (TAYGA
/// reads without the header, so it must never be handed a super-packet).
pub fn clear(queue: &TunQueue) -> io::Result<()> {
    ioctl::set_offload(queue.as_raw_fd(), 0)
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn the_mode_line_names_the_offloads_or_the_refusal() {
        let vnet = Mode::Vnet {
            flags: libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_USO6,
        };
        assert!(vnet.to_string().contains("offloads csum+tso4+uso6"));
        let plain = Mode::Plain {
            why: "the kernel refused IFF_VNET_HDR: EINVAL".into(),
        };
        assert!(plain
            .to_string()
            .contains("one packet per system call (the kernel refused"));
    }
}
