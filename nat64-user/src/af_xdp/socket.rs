//! One AF_XDP socket on one receive queue of one interface: set up in zero-copy mode where
//! the driver has it, in copy mode otherwise, in two halves a worker holds apart (it
//! receives on one socket while it transmits on another, or on the same one).

use std::{fmt, io, num::NonZeroU32, rc::Rc};

use nat64_common::maps::XSK_FRAME_SIZE;
use xdpilone::{
    xdp::{XdpDesc, XdpStatisticsV2},
    CompletionQueue, Errno, FillQueue, IfInfo, RingRx, RingTx, Socket, SocketConfig, Umem,
    UmemConfig, User,
};

use super::rings::{
    Area, AreaView, BATCH, COMPLETION_RING, FILL_RING, FRAMES, RX_RING, TX_FRAMES, TX_RING,
};

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

/// What keeps a socket alive; both halves hold it, so it goes when the second does, after
/// their rings. Fields drop in order: the socket before the UMEM, the UMEM before the
/// memory it registered.
struct Owner {
    user: User,
    _socket: Socket,
    _umem: Umem,
    _area: Area,
    mode: Mode,
}

/// The receiving half: the receive ring and the fill ring that lends it chunks.
pub struct Receiver {
    ring: RingRx,
    fill: FillQueue,
    view: AreaView,
    /// Chunks read and not yet back on the fill ring (given back at the end of each pass;
    /// what the ring has no room for yet waits for the next).
    spent: Vec<u64>,
    owner: Rc<Owner>,
}

/// The transmitting half: frames written into free transmit chunks, queued through a pass,
/// handed to the kernel at its end, and their chunks taken back off the completion ring.
pub struct Transmitter {
    ring: RingTx,
    completion: CompletionQueue,
    view: AreaView,
    free: Vec<u64>,
    queued: Vec<XdpDesc>,
    owner: Rc<Owner>,
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

/// A socket that came up: its halves, and why the driver refused zero-copy if it did.
pub struct Halves {
    pub rx: Receiver,
    pub tx: Transmitter,
    pub zero_copy_refused: Option<String>,
}

/// A socket on `queue` of the interface `ifindex`: zero-copy if the driver takes it, else
/// copy mode, with the reason zero-copy was refused.
pub fn open(ifindex: u32, queue: u32) -> Result<Halves, OpenError> {
    let zero_copy = SocketConfig::XDP_BIND_ZEROCOPY | SocketConfig::XDP_BIND_NEED_WAKEUP;
    match open_with(ifindex, queue, zero_copy, Mode::ZeroCopy) {
        Ok((rx, tx)) => Ok(Halves {
            rx,
            tx,
            zero_copy_refused: None,
        }),
        // Only the bind tells: everything before it is the same in both modes.
        Err(refused) if refused.step == "bind" => {
            let copy = SocketConfig::XDP_BIND_COPY | SocketConfig::XDP_BIND_NEED_WAKEUP;
            let (rx, tx) = open_with(ifindex, queue, copy, Mode::Copy)?;
            Ok(Halves {
                rx,
                tx,
                zero_copy_refused: Some(refused.err.to_string()),
            })
        }
        Err(err) => Err(err),
    }
}

fn open_with(
    ifindex: u32,
    queue: u32,
    bind_flags: u16,
    mode: Mode,
) -> Result<(Receiver, Transmitter), OpenError> {
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
    // SAFETY: the area is page-aligned (mmap) and outlives the UMEM (`Owner`'s field order).
    let umem = unsafe { Umem::new(config, area.as_slice_ptr()) }.map_err(errno(
        "registering the UMEM (socket(AF_XDP) needs CAP_NET_RAW)",
    ))?;
    let mut info = IfInfo::invalid();
    info.from_ifindex(ifindex)
        .map_err(errno("naming the interface"))?;
    info.set_queue(queue);
    let socket = Socket::with_shared(&info, &umem).map_err(errno("opening the socket"))?;
    let (fill, completion) = umem
        .fq_cq(&socket)
        .map_err(errno("setting up the fill and completion rings"))?
        .into_parts();
    let user = umem
        .rx_tx(
            &socket,
            &SocketConfig {
                rx_size: NonZeroU32::new(RX_RING),
                tx_size: NonZeroU32::new(TX_RING),
                bind_flags,
            },
        )
        .map_err(errno("setting up the receive and transmit rings"))?;
    let rx_ring = user.map_rx().map_err(errno("mapping the receive ring"))?;
    let tx_ring = user.map_tx().map_err(errno("mapping the transmit ring"))?;
    umem.bind(&user).map_err(errno("bind"))?;
    let view = area.view();
    let owner = Rc::new(Owner {
        user,
        _socket: socket,
        _umem: umem,
        _area: area,
        mode,
    });
    let mut rx = Receiver {
        ring: rx_ring,
        fill,
        view,
        spent: Vec::with_capacity(FRAMES as usize),
        owner: Rc::clone(&owner),
    };
    rx.lend_all();
    let tx = Transmitter {
        ring: tx_ring,
        completion,
        view,
        free: (FRAMES..FRAMES + TX_FRAMES).map(chunk_offset).collect(),
        queued: Vec::with_capacity(TX_FRAMES as usize),
        owner,
    };
    Ok((rx, tx))
}

fn chunk_offset(index: u32) -> u64 {
    u64::from(index) * u64::from(XSK_FRAME_SIZE)
}

fn chunk_of(addr: u64) -> u64 {
    addr - addr % u64::from(XSK_FRAME_SIZE)
}

impl Receiver {
    /// Every receive chunk onto the fill ring, which holds them all.
    fn lend_all(&mut self) {
        self.spent.extend((0..FRAMES).map(chunk_offset));
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
            let mut fill = self.fill.fill(self.spent.len() as u32);
            let given = fill.insert(self.spent.iter().copied()) as usize;
            fill.commit();
            drop(fill);
            self.spent.drain(..given);
        }
    }

    pub fn mode(&self) -> Mode {
        self.owner.mode
    }

    /// The descriptor the XSKMAP entry takes.
    pub fn raw_fd(&self) -> i32 {
        self.ring.as_raw_fd()
    }

    /// Whether frames wait on the receive ring (no system call).
    pub fn has_frames(&self) -> bool {
        self.ring.available() > 0
    }

    /// Hands up to [`BATCH`] received frames (Ethernet frames, as the XDP program saw them)
    /// to `each`, then lends their chunks back to the kernel; returns how many there were.
    pub fn receive(&mut self, mut each: impl FnMut(&[u8])) -> u32 {
        let mut n = 0;
        {
            let mut read = self.ring.receive(BATCH);
            while let Some(desc) = read.read() {
                // SAFETY: the chunk came off the receive ring and goes back to the fill ring
                // only below, after `each` is done with it; the area lives as long as `owner`.
                match unsafe { self.view.bytes(desc.addr, desc.len) } {
                    Some(frame) => each(frame),
                    None => each(&[]),
                }
                self.spent.push(chunk_of(desc.addr));
                n += 1;
            }
            read.release();
        }
        self.give_back();
        // A zero-copy driver may sleep until told the fill ring has chunks again.
        if self.fill.needs_wakeup() {
            self.fill.wake();
        }
        n
    }

    /// The kernel's counts for this socket (frames it dropped: ring full, no chunk to fill).
    pub fn kernel_stats(&self) -> Option<XdpStatisticsV2> {
        self.owner.user.statistics_v2().ok()
    }
}

/// System calls a flush may make to have copy mode send what is queued: the kernel sends a
/// budget of frames per call (32 in Linux 6.x) and asks to be called again for the rest.
const KICKS: usize = (TX_RING / 32) as usize;

impl Transmitter {
    /// Writes a frame of `len` bytes with `write` into a free chunk and queues it for the
    /// pass's [`flush`](Self::flush); false (nothing written) when no chunk is free or the
    /// frame does not fit one.
    pub fn queue(&mut self, len: usize, write: impl FnOnce(&mut [u8])) -> bool {
        if len > XSK_FRAME_SIZE as usize {
            return false;
        }
        if self.free.is_empty() {
            self.reap();
        }
        let Some(addr) = self.free.pop() else {
            return false;
        };
        // SAFETY: a free transmit chunk is on no ring and in no other hands; the area lives
        // as long as `owner`.
        let Some(chunk) = (unsafe { self.view.chunk_mut(addr) }) else {
            return false;
        };
        write(&mut chunk[..len]);
        self.queued.push(XdpDesc {
            addr,
            len: len as u32,
            options: 0,
        });
        true
    }

    /// Hands the queued frames to the kernel and has it send them; returns how many it
    /// took. The ring holds every transmit chunk, so all of them fit (the second
    /// reservation reads the kernel's index afresh, as the fill ring's does).
    pub fn flush(&mut self) -> u32 {
        let mut handed = 0;
        for _ in 0..2 {
            if self.queued.is_empty() {
                break;
            }
            let mut tx = self.ring.transmit(self.queued.len() as u32);
            let n = tx.insert(self.queued.iter().copied()) as usize;
            tx.commit();
            drop(tx);
            self.queued.drain(..n);
            handed += n as u32;
        }
        self.kick();
        self.reap();
        handed
    }

    /// Frames handed to the kernel and not sent yet.
    pub fn unsent(&self) -> u32 {
        self.ring.pending()
    }

    fn kick(&mut self) {
        for _ in 0..KICKS {
            if self.ring.pending() == 0
                || (self.owner.mode == Mode::ZeroCopy && !self.ring.needs_wakeup())
            {
                return;
            }
            self.ring.wake();
        }
    }

    /// Takes the chunks of sent frames back off the completion ring.
    fn reap(&mut self) {
        let mut done = self.completion.complete(COMPLETION_RING);
        while let Some(addr) = done.read() {
            self.free.push(chunk_of(addr));
        }
        done.release();
    }
}

fn errno(step: &'static str) -> impl Fn(Errno) -> OpenError {
    move |e| OpenError {
        step,
        err: io::Error::from_raw_os_error(e.get_raw().abs()),
    }
}
