//! What both kernel programs decide about a packet: whether it can be translated here, and if
//! so the new IP header, the transport checksum change and the mapping to stamp. The TC and
//! XDP programs each apply such a [`Plan`] with their own helpers; the decision is one code.
pub mod four_to_six;
pub mod icmp_error;
pub mod lookup;
pub mod six_to_four;

use nat64_common::{checksum, counters::Outcome};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;

/// Read access to the packet a program runs on.
pub trait Packet {
    /// Whether bytes after the IP packet are normal (Ethernet pads short frames): the plan
    /// accepts them and the applier cuts them off. Elsewhere they go to userspace.
    const TRAILER_ALLOWED: bool;

    /// Bytes from the start of the packet data to its end.
    fn len(&self) -> u32;

    /// `N` bytes at `offset`, or `PassTruncated` when the packet is shorter.
    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome>;

    /// Segment size of a GSO packet, 0 when it is not one: the MTU applies per segment.
    fn gso_size(&self) -> u32;

    /// Length of the largest packet this one becomes on the wire: the whole packet, or for
    /// GSO one segment (`l4_header_len` plus the segment payload) behind an `l3_header_len`
    /// header.
    #[inline(always)]
    fn wire_len(&self, total: u32, l3_header_len: u32, l4_header_len: u32) -> u32 {
        match self.gso_size() {
            0 => total,
            seg => l3_header_len + l4_header_len + seg,
        }
    }
}

/// A translation decided: apply it, then stamp `last_use` and count `outcome`.
pub struct Plan<const H: usize> {
    /// The new IP header, checksum included.
    pub header: [u8; H],
    /// The transport protocol as the packet has it now (TCP, UDP, ICMP or ICMPv6).
    pub proto: u8,
    /// ICMP: the new type, written at the start of the ICMP header.
    pub icmp_type: u8,
    /// Partial sums the transport checksum loses and gains (pseudo-header, ICMP type).
    pub removed: u32,
    pub added: u32,
    /// Bytes after the IP packet, to cut off (only where [`Packet::TRAILER_ALLOWED`]).
    pub trailer: u32,
    pub outcome: Outcome,
    pub last_use: lookup::LastUse,
}

impl<const H: usize> Plan<H> {
    pub fn is_icmp(&self) -> bool {
        self.proto == PROTO_ICMP || self.proto == PROTO_ICMPV6
    }

    /// The change as one partial sum, the form the kernel's checksum helpers take: they
    /// add 16-bit words as they lie in memory, so the big-endian sum is stored that way.
    #[inline(always)]
    pub fn delta(&self) -> u32 {
        let sum = checksum::fold(checksum::add(checksum::negate(self.removed), self.added));
        u32::from(u16::from_ne_bytes(sum.to_be_bytes()))
    }

    /// The transport checksum field after the change, computed in place of `check`. A UDP
    /// result of zero is written as 0xffff (zero means "no checksum").
    #[inline(always)]
    pub fn new_checksum(&self, check: u16) -> u16 {
        match checksum::adjust(check, self.removed, self.added) {
            0 if self.proto == PROTO_UDP => 0xffff,
            c => c,
        }
    }
}

/// Offset of the checksum field inside the transport header.
#[inline(always)]
pub fn checksum_offset(proto: u8) -> usize {
    match proto {
        PROTO_TCP => 16,
        PROTO_UDP => 6,
        _ => 2,
    }
}

#[inline(always)]
pub fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}
