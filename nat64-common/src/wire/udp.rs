//! The UDP header (RFC 768).

use super::be16;

pub const LEN: usize = 8;

/// Field offsets.
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp(pub [u8; LEN]);

impl Udp {
    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Udp> {
        super::array(s).map(Udp)
    }

    /// Source and destination port, as they lie in the header (a flow key).
    #[inline(always)]
    pub fn ports(&self) -> [u8; 4] {
        super::bytes(&self.0, field::SRC_PORT)
    }

    /// Length of header and data.
    #[inline(always)]
    pub fn length(&self) -> u16 {
        be16(&self.0, field::LENGTH)
    }

    /// Zero: the sender computed none (legal in IPv4 only).
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(&self.0, field::CHECKSUM)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let u = Udp::from_slice(&[0x9c, 0x40, 0, 53, 0, 20, 0xab, 0xcd, 1]).unwrap();
        assert_eq!(u.ports(), [0x9c, 0x40, 0, 53]);
        assert_eq!(u.length(), 20);
        assert_eq!(u.checksum(), 0xabcd);
        assert!(Udp::from_slice(&[0; 7]).is_none());
    }
}
