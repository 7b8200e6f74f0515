//! One AF_XDP socket on one receive queue of one interface: set up in zero-copy mode where
//! the driver has it, in copy mode otherwise, and read frame by frame.

use std::{fmt, io, num::NonZeroU32, time::Duration};

use nat64_common::maps::XSK_FRAME_SIZE;
use xdpilone::{
    xdp::XdpStatisticsV2, DeviceQueue, Errno, IfInfo, RingRx, Socket, SocketConfig, Umem,
    UmemConfig, User,
};

use super::rings::{Area, BATCH, COMPLETION_RING, FILL_RING, FRAMES, RX_RING};

/// How frames reach the socket's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The driver receives straight into the socket's memory.
    ZeroCopy,
    /// The kernel copies each frame in (any driver; veth has only this).
    Copy,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::ZeroCopy => "zero-copy",
            Mode::Copy => "copy",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A bound socket and its memory. Fields drop in order: the rings and the socket before the
/// UMEM, the UMEM before the memory it registered.
pub struct XskSocket {
    rx: RingRx,
    device: DeviceQueue,
    user: User,
    _socket: Socket,
    _umem: Umem,
    area: Area,
    mode: Mode,
    /// Chunks read and not yet back on the fill ring (given back at the end of each pass;
    /// what the ring has no room for yet waits for the next).
    spent: Vec<u64>,
}

/// Why a socket could not be set up.
#[derive(Debug)]
pub struct OpenError {
    pub step: &'static str,
    pub err: io::Error,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.err)
    }
}

impl XskSocket {
    /// A socket on `queue` of the interface `ifindex`: zero-copy if the driver takes it, else
    /// copy mode, with the reason zero-copy was refused.
    pub fn open(ifindex: u32, queue: u32) -> Result<(XskSocket, Option<String>), OpenError> {
        let zero_copy = SocketConfig::XDP_BIND_ZEROCOPY | SocketConfig::XDP_BIND_NEED_WAKEUP;
        match Self::open_with(ifindex, queue, zero_copy, Mode::ZeroCopy) {
            Ok(socket) => Ok((socket, None)),
            // Only the bind tells: everything before it is the same in both modes.
            Err(refused) if refused.step == "bind" => {
                let copy = SocketConfig::XDP_BIND_COPY | SocketConfig::XDP_BIND_NEED_WAKEUP;
                let socket = Self::open_with(ifindex, queue, copy, Mode::Copy)?;
                Ok((socket, Some(refused.err.to_string())))
            }
            Err(err) => Err(err),
        }
    }

    fn open_with(
        ifindex: u32,
        queue: u32,
        bind_flags: u16,
        mode: Mode,
    ) -> Result<XskSocket, OpenError> {
        let area = Area::new().map_err(|err| OpenError {
            step: "mapping the UMEM",
            err,
        })?;
        let config = UmemConfig {
            fill_size: FILL_RING,
            complete_size: COMPLETION_RING,
            frame_size: XSK_FRAME_SIZE,
            headroom: 0,
            flags: 0,
        };
        // SAFETY: the area is page-aligned (mmap) and outlives the UMEM (field order).
        let umem = unsafe { Umem::new(config, area.as_slice_ptr()) }.map_err(errno(
            "registering the UMEM (socket(AF_XDP) needs CAP_NET_RAW)",
        ))?;
        let mut info = IfInfo::invalid();
        info.from_ifindex(ifindex)
            .map_err(errno("naming the interface"))?;
        info.set_queue(queue);
        let socket = Socket::with_shared(&info, &umem).map_err(errno("opening the socket"))?;
        let device = umem
            .fq_cq(&socket)
            .map_err(errno("setting up the fill and completion rings"))?;
        let user = umem
            .rx_tx(
                &socket,
                &SocketConfig {
                    rx_size: NonZeroU32::new(RX_RING),
                    tx_size: None,
                    bind_flags,
                },
            )
            .map_err(errno("setting up the receive ring"))?;
        let rx = user.map_rx().map_err(errno("mapping the receive ring"))?;
        umem.bind(&user).map_err(errno("bind"))?;
        let mut socket = XskSocket {
            rx,
            device,
            user,
            _socket: socket,
            _umem: umem,
            area,
            mode,
            spent: Vec::with_capacity(BATCH as usize),
        };
        socket.lend_all();
        Ok(socket)
    }

    /// Every chunk onto the fill ring, which holds them all.
    fn lend_all(&mut self) {
        self.spent
            .extend((0..FRAMES).map(|i| u64::from(i) * u64::from(XSK_FRAME_SIZE)));
        self.give_back();
    }

    /// Puts the spent chunks back on the fill ring. A reservation sees only the room its
    /// cached view of the kernel's consumer shows, and takes less than asked when that is
    /// short; a second one reads the kernel's index afresh. Whatever still finds no room
    /// stays in `spent`: a chunk never goes missing (the ring would run dry, and every frame
    /// after would be dropped).
    fn give_back(&mut self) {
        for _ in 0..2 {
            if self.spent.is_empty() {
                return;
            }
            let mut fill = self.device.fill(self.spent.len() as u32);
            let given = fill.insert(self.spent.iter().copied()) as usize;
            fill.commit();
            drop(fill);
            self.spent.drain(..given);
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The descriptor the XSKMAP entry takes.
    pub fn raw_fd(&self) -> i32 {
        self.rx.as_raw_fd()
    }

    /// Whether frames wait on the receive ring (no system call).
    pub fn has_frames(&self) -> bool {
        self.rx.available() > 0
    }

    /// Waits up to `timeout` for frames; true when some are there.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.has_frames() {
            return Ok(true);
        }
        crate::readable::within(self.raw_fd(), timeout)
    }

    /// Hands up to [`BATCH`] received frames (Ethernet frames, as the XDP program saw them)
    /// to `each`, then lends their chunks back to the kernel; returns how many there were.
    pub fn receive(&mut self, mut each: impl FnMut(&[u8])) -> u32 {
        let mut n = 0;
        {
            let mut read = self.rx.receive(BATCH);
            while let Some(desc) = read.read() {
                // SAFETY: the chunk came off the receive ring and goes back to the fill ring
                // only below, after `each` is done with it.
                match unsafe { self.area.bytes(desc.addr, desc.len) } {
                    Some(frame) => each(frame),
                    None => each(&[]),
                }
                self.spent
                    .push(desc.addr - desc.addr % u64::from(XSK_FRAME_SIZE));
                n += 1;
            }
            read.release();
        }
        self.give_back();
        // A zero-copy driver may sleep until told the fill ring has chunks again.
        if self.device.needs_wakeup() {
            self.device.wake();
        }
        n
    }

    /// The kernel's counts for this socket (frames it dropped: ring full, no chunk to fill).
    pub fn kernel_stats(&self) -> Option<XdpStatisticsV2> {
        self.user.statistics_v2().ok()
    }
}

fn errno(step: &'static str) -> impl Fn(Errno) -> OpenError {
    move |e| OpenError {
        step,
        err: io::Error::from_raw_os_error(e.get_raw().abs()),
    }
}
