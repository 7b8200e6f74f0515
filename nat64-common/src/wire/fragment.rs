//! The IPv6 Fragment header (RFC 8200 §4.5).

use super::{be16, set_be16};

pub const LEN: usize = 8;

/// Largest datagram a fragment of either family can belong to: IPv4's total length and
/// IPv6's payload length are 16 bits.
pub const MAX_DATAGRAM: usize = 65_535;

#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment(pub [u8; LEN]);

impl Fragment {
    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Fragment> {
        super::array(s).map(Fragment)
    }

    /// `offset` in 8-byte units.
    #[inline(always)]
    pub fn build(next_header: u8, offset: u16, more: bool, id: u32) -> Fragment {
        let mut f = Fragment([0; LEN]);
        f.0[0] = next_header;
        set_be16(&mut f.0, 2, (offset << 3) | u16::from(more));
        f.0[4..8].copy_from_slice(&id.to_be_bytes());
        f
    }

    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.0[0]
    }

    /// Offset in 8-byte units.
    #[inline(always)]
    pub fn offset(&self) -> u16 {
        be16(&self.0, 2) >> 3
    }

    #[inline(always)]
    pub fn more(&self) -> bool {
        be16(&self.0, 2) & 1 != 0
    }

    #[inline(always)]
    pub fn id(&self) -> u32 {
        u32::from_be_bytes([self.0[4], self.0[5], self.0[6], self.0[7]])
    }

    #[inline(always)]
    pub fn set_offset_more(&mut self, offset: u16, more: bool) {
        set_be16(&mut self.0, 2, (offset << 3) | u16::from(more));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let f = Fragment::build(17, 181, true, 0x4242);
        assert_eq!(
            (f.next_header(), f.offset(), f.more(), f.id()),
            (17, 181, true, 0x4242)
        );
    }
}
