//! The Ethernet frame as the XDP program sees it: direct packet access, every read and write
//! checked against the frame's end for its full length (the verifier wants that proof).
use aya_ebpf::programs::XdpContext;
use nat64_common::counters::Outcome;

use crate::translate::Packet;

pub const ETH_HEADER_LEN: usize = 14;
/// Offset of the EtherType in the Ethernet header.
pub const ETHERTYPE_OFFSET: usize = 12;

pub struct Frame<'a>(pub &'a XdpContext);

impl Packet for Frame<'_> {
    /// Ethernet pads frames to 60 bytes: a short IPv4 packet arrives with a trailer.
    const TRAILER_ALLOWED: bool = true;

    #[inline(always)]
    fn len(&self) -> u32 {
        (self.0.data_end() - self.0.data()) as u32
    }

    #[inline(always)]
    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome> {
        let at = self.0.data() + offset;
        if at + N > self.0.data_end() {
            return Err(Outcome::PassTruncated);
        }
        // SAFETY: [at, at + N) lies inside the frame, checked above.
        Ok(unsafe { (at as *const [u8; N]).read_unaligned() })
    }

    /// XDP frames are single buffers the size of one packet (the program does not declare
    /// multi-buffer support).
    #[inline(always)]
    fn gso_size(&self) -> u32 {
        0
    }
}

impl Frame<'_> {
    /// Writes `bytes` at `offset`; fails (and writes nothing) past the end of the frame.
    #[inline(always)]
    pub fn store<const N: usize>(&self, offset: usize, bytes: &[u8; N]) -> Result<(), Outcome> {
        let at = self.0.data() + offset;
        if at + N > self.0.data_end() {
            return Err(Outcome::DroppedHelperFailed);
        }
        // SAFETY: [at, at + N) lies inside the frame, checked above.
        unsafe { (at as *mut [u8; N]).write_unaligned(*bytes) };
        Ok(())
    }
}
