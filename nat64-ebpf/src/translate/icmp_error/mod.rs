//! ICMP errors with the packet they quote (RFC 7915 §4.2–4.3, §5.2–5.3), decided as the
//! userspace translator decides them and giving the same bytes. The quote's IP header changes
//! size like the outer one, so the packet changes shape in two places; only the TC program
//! applies such plans (XDP leaves errors to the stack, which routes them to TC).
//!
//! The kernel takes the common case: a quote of an unfragmented TCP, UDP or echo packet
//! without IPv4 options or IPv6 extension headers, no RFC 4884 extension, and (IPv4 → IPv6)
//! no need to shorten the quote. Everything else goes to userspace, counted.
pub mod four_to_six;
pub mod six_to_four;

use nat64_common::{
    checksum,
    counters::Outcome,
    icmp_tables::{self, IcmpAction},
};

use nat64_common::wire::{icmp::Icmp, l4, proto};

use super::{echo::sum_range, Packet};

/// An ICMP error translation being decided; `H` is the new IP header length (outer and
/// quoted). It lives in a per-CPU map, not on the stack: the planner runs as a sequence of
/// steps (subprograms), each filling in part of it, because the 512-byte BPF stack holds
/// neither all of it nor the steps' temporaries together.
pub struct ErrorPlan<const H: usize> {
    /// The new outer IP header, checksum included.
    pub outer: [u8; H],
    /// The new ICMP header, checksum included (computed over the whole new message).
    pub icmp: [u8; 8],
    /// The new header of the quoted packet.
    pub inner: [u8; H],
    /// The quoted transport header's change.
    pub patch: InnerPatch,
    /// Length of the new packet from the IP header on.
    pub total_len: u32,
    /// Whether the quote is cut short at `total_len` (IPv4's 576-byte limit for errors).
    pub cut: bool,
    pub outcome: Outcome,
    /// Working values of the steps.
    pub work: Work,
}

/// What one planning step leaves for the next.
#[derive(Clone, Copy)]
pub struct Work {
    /// The outer header as received (IPv4: its first 20 bytes).
    pub ip: [u8; 40],
    /// The outer header's payload length (the ICMP message).
    pub payload_len: u32,
    /// Outer addresses in both families.
    pub src6: [u8; 16],
    pub dst6: [u8; 16],
    pub src4: [u8; 4],
    pub dst4: [u8; 4],
    /// The received ICMP header.
    pub old_icmp: [u8; 8],
    /// The quoted header as received (IPv4: its first 20 bytes).
    pub old_inner: [u8; 40],
    /// Quoted addresses in both families.
    pub inner_src6: [u8; 16],
    pub inner_dst6: [u8; 16],
    pub inner_src4: [u8; 4],
    pub inner_dst4: [u8; 4],
    /// The quoted transport bytes: how many there are, and how many the new message keeps.
    pub quoted_l4: u32,
    pub kept_l4: u32,
    /// Partial sum of the kept quoted transport bytes as received.
    pub kept_sum: u32,
    /// Partial sums of the quoted words the patch takes out and puts in.
    pub patch_removed: u32,
    pub patch_added: u32,
}

/// What changes in the quoted transport header, at an offset from its start.
#[derive(Clone, Copy)]
pub enum InnerPatch {
    /// Nothing: no checksum within the quote, or a UDP datagram without one.
    None,
    /// A TCP or UDP checksum adjusted for the new pseudo-header addresses.
    Checksum { at: usize, value: [u8; 2] },
    /// An echo's type, code and checksum (4 bytes at the start).
    Echo([u8; 4]),
}

/// Step: the sums over the quoted transport bytes. Checks the received message's checksum
/// (`pseudo`: the ICMPv6 pseudo-header, 0 for ICMPv4; userspace recomputes error checksums,
/// so it drops a wrong one) and keeps the sum of the bytes the new message keeps.
#[inline(never)]
pub fn sum_quote<P: Packet, const H: usize>(
    pkt: &P,
    inner_l4: usize,
    end: usize,
    pseudo: u32,
    plan: &mut ErrorPlan<H>,
) -> Result<(), Outcome> {
    let work = &mut plan.work;
    let kept_end = inner_l4 + work.kept_l4 as usize;
    work.kept_sum = sum_range(pkt, inner_l4, kept_end)?;
    let rest = sum_range(pkt, kept_end, end)?;
    // Headers stored shorter than their arrays are padded with zeros, which add nothing.
    let received =
        checksum::sum_array(&work.old_icmp, checksum::sum_array(&work.old_inner, pseudo));
    if checksum::fold(checksum::add(checksum::add(received, work.kept_sum), rest)) != 0xffff {
        return Err(Outcome::PassBadIcmpChecksum);
    }
    Ok(())
}

/// Step: a quoted echo header's new type and checksum, as userspace rewrites them.
#[inline(never)]
fn patch_quoted_echo<P: Packet, const H: usize>(
    pkt: &P,
    inner_l4: usize,
    change: &EchoChange,
    plan: &mut ErrorPlan<H>,
) -> Result<(), Outcome> {
    let work = &mut plan.work;
    if work.quoted_l4 < 4 {
        return Err(Outcome::PassIcmpQuote);
    }
    let first: [u8; 4] = pkt.load(inner_l4)?;
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&first);
    let old = Icmp(header);
    let new_type = change
        .new_type(old.ty(), old.code())
        .ok_or(Outcome::PassIcmpQuote)?;
    let old_word = u32::from(u16::from_be_bytes([old.ty(), old.code()]));
    let new_word = u32::from(u16::from_be_bytes([new_type, old.code()]));
    let check = checksum::adjust(
        old.checksum(),
        checksum::add(change.pseudo_removed, old_word),
        checksum::add(change.pseudo_added, new_word),
    )
    .to_be_bytes();
    let new = [new_type, old.code(), check[0], check[1]];
    work.patch_removed = checksum::sum_array(&first, 0);
    work.patch_added = checksum::sum_array(&new, 0);
    plan.patch = InnerPatch::Echo(new);
    Ok(())
}

/// Step: a quoted TCP or UDP checksum adjusted from the old to the new addresses, as
/// userspace adjusts it: left alone when the quote ends before it, or when UDP carries none.
#[inline(never)]
fn patch_quoted_checksum<P: Packet, const H: usize>(
    pkt: &P,
    inner_l4: usize,
    protocol: u8,
    plan: &mut ErrorPlan<H>,
) -> Result<(), Outcome> {
    let work = &mut plan.work;
    let at = match protocol {
        proto::TCP | proto::UDP => l4::checksum_offset(protocol),
        _ => return Err(Outcome::PassIcmpQuote),
    };
    plan.patch = InnerPatch::None;
    work.patch_removed = 0;
    work.patch_added = 0;
    if work.quoted_l4 < at as u32 + 2 {
        return Ok(());
    }
    let old: [u8; 2] = pkt.load(inner_l4 + at)?;
    if protocol == proto::UDP && old == [0, 0] {
        return Ok(());
    }
    let v4 = checksum::sum_array(&work.inner_dst4, checksum::sum_array(&work.inner_src4, 0));
    let v6 = checksum::sum_array(&work.inner_dst6, checksum::sum_array(&work.inner_src6, 0));
    // H is the new header's length: 20 when the quote becomes IPv4.
    let (removed, added) = if H == 20 { (v6, v4) } else { (v4, v6) };
    let old = u16::from_be_bytes(old);
    let value = l4::checksum_on_wire(protocol, checksum::adjust(old, removed, added));
    work.patch_removed = u32::from(old);
    work.patch_added = u32::from(value);
    plan.patch = InnerPatch::Checksum {
        at,
        value: value.to_be_bytes(),
    };
    Ok(())
}

/// Steps: the quoted transport header's change (`echo` for an echo, else its TCP or UDP
/// checksum), then the new message's checksum (`pseudo`: the ICMPv6 pseudo-header, or 0).
#[inline(always)]
pub fn patch_and_checksum<P: Packet, const H: usize>(
    pkt: &P,
    inner_l4: usize,
    protocol: u8,
    echo: Option<&EchoChange>,
    pseudo: u32,
    plan: &mut ErrorPlan<H>,
) -> Result<(), Outcome> {
    match echo {
        Some(change) => patch_quoted_echo(pkt, inner_l4, change, plan)?,
        None => patch_quoted_checksum(pkt, inner_l4, protocol, plan)?,
    }
    finish_checksum(pseudo, plan);
    Ok(())
}

/// How a quoted echo header changes: the type by the RFC 7915 table, and the ICMPv6
/// pseudo-header its checksum loses or gains.
#[derive(Clone, Copy)]
pub struct EchoChange {
    pub to_v4: bool,
    pub pseudo_removed: u32,
    pub pseudo_added: u32,
}

impl EchoChange {
    #[inline(always)]
    fn new_type(&self, ty: u8, code: u8) -> Option<u8> {
        let action = if self.to_v4 {
            icmp_tables::icmp6_to_icmp4(ty, code)
        } else {
            icmp_tables::icmp4_to_icmp6(ty, code)
        };
        match action {
            IcmpAction::Informational { ty, .. } => Some(ty),
            _ => None,
        }
    }
}

/// Step: the new message's checksum field, from its header (checksum zero), the quote's new
/// header, the kept quoted bytes as summed, the patch's change and any pseudo-header.
#[inline(never)]
fn finish_checksum<const H: usize>(pseudo: u32, plan: &mut ErrorPlan<H>) {
    let work = &plan.work;
    let sum = checksum::sum_array(&plan.icmp, checksum::sum_array(&plan.inner, pseudo));
    let sum = checksum::add(sum, work.kept_sum);
    let sum = checksum::add(sum, checksum::negate(work.patch_removed));
    let check = checksum::finish(checksum::add(sum, work.patch_added)).to_be_bytes();
    plan.icmp[2] = check[0];
    plan.icmp[3] = check[1];
}
