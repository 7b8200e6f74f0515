//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) share the layout of their first 8 bytes: type,
//! code, checksum, then 4 bytes whose meaning the type gives (identifier and sequence of an
//! echo, an MTU, a pointer, RFC 4884's length).

use super::{be16, set_be16};

pub const HEADER_LEN: usize = 8;

pub mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
}

/// Where an error carries RFC 4884's length attribute (the quote's length before its
/// extension structure), and in what unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthField {
    /// Offset in the ICMP header.
    pub at: usize,
    /// Bytes per unit of the attribute.
    pub unit: usize,
}

/// ICMPv4 types.
pub mod v4 {
    use super::LengthField;

    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
    /// Destination Unreachable codes.
    pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
    pub const CODE_FRAG_NEEDED: u8 = 4;

    /// The types that are errors (RFC 1122 §3.2.2): an error is never answered with one.
    #[inline(always)]
    pub const fn is_error(ty: u8) -> bool {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    }

    /// RFC 4884 §4.1: 32-bit words, in the second byte after the checksum.
    pub const LENGTH: LengthField = LengthField { at: 5, unit: 4 };

    /// The errors RFC 4884 gives a length attribute.
    #[inline(always)]
    pub const fn carries_length(ty: u8) -> bool {
        matches!(ty, DEST_UNREACHABLE | TIME_EXCEEDED | PARAMETER_PROBLEM)
    }
}

/// ICMPv6 types.
pub mod v6 {
    use super::LengthField;

    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;

    /// Errors are types 0 to 127 (RFC 4443 §2.1).
    #[inline(always)]
    pub const fn is_error(ty: u8) -> bool {
        ty < 128
    }

    /// RFC 4884 §4.2: 64-bit words, in the first byte after the checksum.
    pub const LENGTH: LengthField = LengthField { at: 4, unit: 8 };

    /// The errors RFC 4884 gives a length attribute.
    #[inline(always)]
    pub const fn carries_length(ty: u8) -> bool {
        matches!(ty, DEST_UNREACHABLE | TIME_EXCEEDED)
    }
}

/// Whether `ty` is an echo request or reply of either family.
#[inline(always)]
pub const fn is_echo(ty: u8) -> bool {
    matches!(
        ty,
        v4::ECHO_REQUEST | v4::ECHO_REPLY | v6::ECHO_REQUEST | v6::ECHO_REPLY
    )
}

/// The first 8 bytes of an ICMP message of either family.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp(pub [u8; HEADER_LEN]);

impl Icmp {
    #[inline(always)]
    pub fn from_slice(s: &[u8]) -> Option<Icmp> {
        super::array(s).map(Icmp)
    }

    #[inline(always)]
    pub fn new(ty: u8, code: u8, rest: u32) -> Icmp {
        let mut h = Icmp([0; HEADER_LEN]);
        h.0[field::TYPE] = ty;
        h.0[field::CODE] = code;
        h.0[field::REST..].copy_from_slice(&rest.to_be_bytes());
        h
    }

    #[inline(always)]
    pub fn ty(&self) -> u8 {
        self.0[field::TYPE]
    }

    #[inline(always)]
    pub fn code(&self) -> u8 {
        self.0[field::CODE]
    }

    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(&self.0, field::CHECKSUM)
    }

    /// The 4 bytes after the checksum, as one number.
    #[inline(always)]
    pub fn rest(&self) -> u32 {
        u32::from_be_bytes([self.0[4], self.0[5], self.0[6], self.0[7]])
    }

    /// The quote's length by RFC 4884's attribute, in bytes (0: none given).
    #[inline(always)]
    pub fn quote_len(&self, length: LengthField) -> usize {
        usize::from(self.0.get(length.at).copied().unwrap_or(0)) * length.unit
    }

    /// The header with RFC 4884's attribute set to `len` bytes (a multiple of the unit).
    #[inline(always)]
    pub fn with_quote_len(mut self, length: LengthField, len: usize) -> Icmp {
        if let Some(b) = self.0.get_mut(length.at) {
            *b = (len / length.unit) as u8;
        }
        self
    }

    #[inline(always)]
    pub fn set_type(&mut self, ty: u8) {
        self.0[field::TYPE] = ty;
    }

    #[inline(always)]
    pub fn set_checksum(&mut self, c: u16) {
        set_be16(&mut self.0, field::CHECKSUM, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let h = Icmp::new(3, 4, 1400);
        assert_eq!((h.ty(), h.code(), h.rest()), (3, 4, 1400));
        assert!(v4::is_error(h.ty()) && !v6::is_error(128) && is_echo(129));
    }
}
