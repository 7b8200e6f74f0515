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

/// Longest ICMP message the kernel sums: an IPv6 error fills at most the IPv6 minimum MTU.
const MAX_SUMMED: usize = 1280;
const CHUNK: usize = 64;

/// One's-complement partial sum of the packet's bytes `[from, to)`, read in fixed-size
/// pieces (the verifier wants constant sizes): 64-byte chunks, then words, then a last odd
/// byte, each piece an even number of bytes after `from` so the words line up. A function of
/// its own: its buffers would not fit on the caller's stack. Longer ranges are
/// `PassIcmpExtension` (the ICMP error path's reason; other callers say their own).
#[inline(never)]
pub fn sum_range<P: Packet>(pkt: &P, from: usize, to: usize) -> Result<u32, Outcome> {
    let mut at = from;
    let mut acc = 0;
    for _ in 0..MAX_SUMMED / CHUNK {
        if at + CHUNK > to {
            break;
        }
        let chunk: [u8; CHUNK] = pkt.load(at)?;
        acc = checksum::sum_array(&chunk, acc);
        at += CHUNK;
    }
    for _ in 0..CHUNK / 2 {
        if at + 2 > to {
            break;
        }
        let word: [u8; 2] = pkt.load(at)?;
        acc = checksum::sum_array(&word, acc);
        at += 2;
    }
    if at < to {
        let byte: [u8; 1] = pkt.load(at)?;
        acc = checksum::sum_array(&byte, acc);
        at += 1;
    }
    if at == to {
        Ok(acc)
    } else {
        Err(Outcome::PassIcmpExtension)
    }
}

/// The checksum of an ICMP echo, checked before anything else is decided: userspace (as
/// TAYGA) drops an echo whose checksum is wrong instead of translating it incrementally,
/// still wrong, so the kernel must not translate it either. Anything but an unfragmented echo
/// without options is left to the plans. A step of its own, called where the stack is
/// shallow: the sum reads 64-byte chunks.
#[inline(never)]
pub fn check_echo_checksum<P: Packet>(pkt: &P, l3: usize, v6: bool) -> Result<(), Outcome> {
    let (l4, len, pseudo) = if v6 {
        let ip: [u8; 40] = pkt.load(l3)?;
        if ip[6] != PROTO_ICMPV6 {
            return Ok(());
        }
        let len = u32::from(be16([ip[4], ip[5]]));
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&ip[8..24]);
        dst.copy_from_slice(&ip[24..40]);
        let pseudo = checksum::pseudo_header_v6(&src, &dst, PROTO_ICMPV6, len);
        (l3 + 40, len, pseudo)
    } else {
        let ip: [u8; 20] = pkt.load(l3)?;
        let unfragmented = be16([ip[6], ip[7]]) & 0x3fff == 0;
        if ip[9] != PROTO_ICMP || ip[0] != 0x45 || !unfragmented {
            return Ok(());
        }
        let len = u32::from(be16([ip[2], ip[3]])).saturating_sub(20);
        (l3 + 20, len, 0)
    };
    let ty: [u8; 1] = pkt.load(l4)?;
    if !matches!(ty[0], 0 | 8 | 128 | 129) {
        return Ok(());
    }
    let sum = sum_range(pkt, l4, l4 + len as usize).map_err(|_| Outcome::PassIcmpTooLong)?;
    if checksum::fold(checksum::add(sum, pseudo)) == 0xffff {
        Ok(())
    } else {
        Err(Outcome::PassBadIcmpChecksum)
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
