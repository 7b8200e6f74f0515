//! The checksum of an ICMP echo, checked before a plan is made: userspace (as TAYGA) drops an
//! echo whose checksum is wrong instead of translating it incrementally, still wrong, so no
//! datapath translates one.

use super::Packet;
use crate::{
    checksum,
    counters::Outcome,
    wire::{icmp, ipv4::Ipv4, ipv6::Ipv6, proto},
};

/// Longest ICMP message summed: an IPv6 error fills at most the IPv6 minimum MTU.
const MAX_SUMMED: usize = 1280;
const CHUNK: usize = 64;

/// One's-complement partial sum of the packet's bytes `[from, to)`, read in fixed-size
/// pieces (the verifier wants constant sizes): 64-byte chunks, then words, then a last odd
/// byte, each piece an even number of bytes after `from` so the words line up. A function of
/// its own in the kernel: its buffers would not fit on the caller's stack. Longer ranges are
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

/// Whether the echo at `l3` (if it is one, unfragmented, without options) has a right
/// checksum; anything else is left to the plans. In the kernel, a step of its own called
/// where the stack is shallow.
#[inline(never)]
pub fn check_checksum<P: Packet>(pkt: &P, l3: usize, v6: bool) -> Result<(), Outcome> {
    let (l4, len, pseudo) = if v6 {
        let ip = Ipv6(pkt.load(l3)?);
        if ip.next_header() != proto::ICMPV6 {
            return Ok(());
        }
        let len = u32::from(ip.payload_len());
        let pseudo = checksum::pseudo_header_v6(&ip.src(), &ip.dst(), proto::ICMPV6, len);
        (l3 + 40, len, pseudo)
    } else {
        let ip = Ipv4(pkt.load(l3)?);
        if ip.proto() != proto::ICMP || ip.header_len() != 20 || ip.is_fragment() {
            return Ok(());
        }
        (l3 + 20, u32::from(ip.total_len()).saturating_sub(20), 0)
    };
    let ty: [u8; 1] = pkt.load(l4)?;
    if !icmp::is_echo(ty[0]) {
        return Ok(());
    }
    let sum = pkt
        .sum(l4, l4 + len as usize)
        .map_err(|_| Outcome::PassIcmpTooLong)?;
    if checksum::fold(checksum::add(sum, pseudo)) == 0xffff {
        Ok(())
    } else {
        Err(Outcome::PassBadIcmpChecksum)
    }
}
