//! The sizes of an AF_XDP socket's memory and rings, each with its reason, and the memory
//! itself. One socket serves one receive queue of one interface: it receives what the XDP
//! program sends it, and transmits out of that interface what a worker translated and the
//! route lookup sends that way.

use std::{io, ptr::NonNull};

use nat64_common::maps::XSK_FRAME_SIZE;

/// Chunks in one socket's UMEM for receiving. A receive chunk is always in exactly one place:
/// on the fill ring (lent to the kernel), on the receive ring (filled, not read yet) or in a
/// worker's hands (at most [`BATCH`]), and goes back to the fill ring once read; so as many
/// chunks as the fill ring holds keep both rings busy. With the transmit chunks, 2,560
/// chunks of 4 KiB are 10 MiB of locked memory per receive queue.
pub const FRAMES: u32 = FILL_RING;
/// Chunks for transmitting, after the receive chunks: free, queued in a worker's pass, on
/// the transmit ring or on the completion ring. Copy mode sends what it is handed within
/// the system call that hands it over, so a few passes' worth (8 × [`BATCH`]) covers a
/// driver that sends later (zero-copy); a worker that finds none free sends the packet
/// into the TUN device instead, counted.
pub const TX_FRAMES: u32 = 8 * BATCH;
/// Every transmit chunk fits on the transmit ring at once, so queueing one never fails.
pub const TX_RING: u32 = TX_FRAMES;
/// Chunks lent to the kernel to receive into: a burst of about 3 MB (2,048 frames of new
/// hosts' first packets, or fragments) lands while a worker is busy elsewhere.
pub const FILL_RING: u32 = 2048;
/// Frames received and not yet read: the same depth as the fill ring, since every chunk the
/// kernel fills lands here.
pub const RX_RING: u32 = FILL_RING;
/// Every transmit chunk fits on the completion ring at once: the kernel stops transmitting
/// when it cannot post a completion.
pub const COMPLETION_RING: u32 = TX_FRAMES;
/// Frames a worker takes per pass before it gives their chunks back: long enough to pay for
/// a pass's ring reads, short enough that the fill ring never runs dry behind it.
pub const BATCH: u32 = 64;

/// The socket's UMEM: [`FRAMES`] + [`TX_FRAMES`] chunks of [`XSK_FRAME_SIZE`] bytes,
/// page-aligned anonymous memory that the kernel pins once the socket registers it.
pub struct Area {
    ptr: NonNull<u8>,
    len: usize,
}

impl Area {
    pub fn new() -> io::Result<Area> {
        let len = (FRAMES + TX_FRAMES) as usize * XSK_FRAME_SIZE as usize;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Area { ptr, len })
    }

    /// The whole area, for registering it as the UMEM.
    pub fn as_slice_ptr(&self) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.ptr, self.len)
    }

    /// A handle for reading and writing chunks, which the receive and transmit halves each
    /// keep; it must not outlive the area (the halves hold the socket that owns it).
    pub fn view(&self) -> AreaView {
        AreaView {
            ptr: self.ptr,
            len: self.len,
        }
    }
}

/// Where the area lies, for the halves of a socket. Receive and transmit chunks are
/// disjoint, so each half touches only bytes the other never does.
#[derive(Clone, Copy)]
pub struct AreaView {
    ptr: NonNull<u8>,
    len: usize,
}

impl AreaView {
    /// The `len` bytes at `offset`, or `None` past the end.
    ///
    /// # Safety
    ///
    /// The area must still be mapped, and the kernel must not write these bytes while the
    /// slice lives: the chunk holding them came off the receive ring and is not back on the
    /// fill ring.
    pub unsafe fn bytes(&self, offset: u64, len: u32) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds of the mapping (checked above); the caller vouches for writers.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len as usize) })
    }

    /// The whole chunk at `offset`, to write a frame into, or `None` past the end.
    ///
    /// # Safety
    ///
    /// The area must still be mapped, and nobody else may touch the chunk while the slice
    /// lives: it is a free transmit chunk, on no ring.
    #[allow(clippy::mut_from_ref)] // the chunk is the caller's alone, by the contract above
    pub unsafe fn chunk_mut(&self, offset: u64) -> Option<&mut [u8]> {
        let start = usize::try_from(offset).ok()?;
        let len = XSK_FRAME_SIZE as usize;
        if start.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: in bounds of the mapping (checked above); the caller vouches for the rest.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), len) })
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of this length; the socket that registered it
        // is gone (it is dropped first: see `XskSocket`'s field order).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
