//! What a translator and a segmenter touch of the TCP header (RFC 9293): where its fields
//! are, and which flags belong to the first or last segment only.

/// The header without options.
pub const MIN_LEN: usize = 20;

/// Field offsets.
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQUENCE: usize = 4;
    /// The high nibble: the header length in 32-bit words.
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const CHECKSUM: usize = 16;
}

/// Flags (the byte at [`field::FLAGS`]).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const CWR: u8 = 0x80;
}

/// The header length from the byte at [`field::DATA_OFFSET`].
#[inline(always)]
pub const fn header_len(data_offset_byte: u8) -> usize {
    (data_offset_byte >> 4) as usize * 4
}
