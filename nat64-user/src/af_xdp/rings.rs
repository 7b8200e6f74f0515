//! The sizes of an AF_XDP socket's memory and rings, each with its reason, and the memory
//! itself. One socket serves one receive queue of one interface; it only receives (what it
//! translates leaves through the TUN device), so it has no transmit ring.

use std::{io, ptr::NonNull};

use nat64_common::maps::XSK_FRAME_SIZE;

/// Chunks in one socket's UMEM. A chunk is always in exactly one place: on the fill ring
/// (lent to the kernel), on the receive ring (filled, not read yet) or in a worker's hands
/// (at most [`BATCH`]), and goes back to the fill ring once read; so as many chunks as the
/// fill ring holds keep both rings busy. 2,048 chunks of 4 KiB are 8 MiB of locked memory
/// per receive queue.
pub const FRAMES: u32 = FILL_RING;
/// Chunks lent to the kernel to receive into: a burst of about 3 MB (2,048 frames of new
/// hosts' first packets, or fragments) lands while a worker is busy elsewhere.
pub const FILL_RING: u32 = 2048;
/// Frames received and not yet read: the same depth as the fill ring, since every chunk the
/// kernel fills lands here.
pub const RX_RING: u32 = FILL_RING;
/// The kernel insists on a completion ring for every UMEM; nothing is ever transmitted, so
/// the smallest ring it takes that is still a useful power of two.
pub const COMPLETION_RING: u32 = 64;
/// Frames a worker takes per pass before it gives their chunks back: long enough to pay for
/// a pass's ring reads, short enough that the fill ring never runs dry behind it.
pub const BATCH: u32 = 64;

/// The socket's UMEM: `FRAMES` chunks of [`XSK_FRAME_SIZE`] bytes, page-aligned anonymous
/// memory that the kernel pins once the socket registers it.
pub struct Area {
    ptr: NonNull<u8>,
    len: usize,
}

impl Area {
    pub fn new() -> io::Result<Area> {
        let len = FRAMES as usize * XSK_FRAME_SIZE as usize;
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

    /// The `len` bytes at `offset`, or `None` past the end.
    ///
    /// # Safety
    ///
    /// The kernel must not write these bytes while the slice lives: the chunk holding them
    /// came off the receive ring and is not back on the fill ring.
    pub unsafe fn bytes(&self, offset: u64, len: u32) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds of the mapping (checked above); the caller vouches for writers.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len as usize) })
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of this length; the socket that registered it
        // is gone (it is dropped first: see `XskSocket`'s field order).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
