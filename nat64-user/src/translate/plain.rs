//! The plain case — TCP, UDP or an echo right after a bare header, both addresses mapped —
//! decided by the plan every datapath shares (`nat64_common::plan`), with this translator's
//! tables as its [`Mapper`], and applied to the output buffer. What the plan refuses goes on
//! to the full translator (`v6_to_v4`, `v4_to_v6`), which handles the rest and answers what
//! it must.

use nat64_common::counters::Outcome;
use nat64_common::plan::{self, echo, four_to_six, six_to_four, Mapper, Packet};
use nat64_common::wire::{self, icmp};

use super::addr_map::End;
use super::{DynamicMap, Output, Translator, Verdict};

/// A packet that starts at its IP header, as the plan reads it.
struct Slice<'a>(&'a [u8]);

impl Packet for Slice<'_> {
    const TRAILER_ALLOWED: bool = false;

    fn len(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }

    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome> {
        self.0
            .get(offset..)
            .and_then(nat64_common::wire::array)
            .ok_or(Outcome::PassTruncated)
    }

    fn gso_size(&self) -> u32 {
        0
    }

    fn sum(&self, from: usize, to: usize) -> Result<u32, Outcome> {
        self.0
            .get(from..to)
            .map(|bytes| nat64_common::checksum::sum(bytes, 0))
            .ok_or(Outcome::PassTruncated)
    }
}

/// This translator's tables as the plan asks them: lookups only (a host without an address
/// is the full translator's to allocate for), any refusal the full translator's to answer.
struct TableMapper<'a, M> {
    pub tr: &'a Translator,
    pub map: &'a mut M,
}

impl<M: DynamicMap> Mapper for TableMapper<'_, M> {
    type Stamp = ();

    fn remote_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<[u8; 4], Outcome> {
        self.tr
            .addrs
            .v6_to_v4(addr, self.map, End::Destination)
            .map_err(|_| Outcome::PassNoDestinationMapping)
    }

    fn host_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<([u8; 4], ()), Outcome> {
        if !self.tr.source_allowed(addr) {
            return Err(Outcome::PassSourceFiltered);
        }
        self.tr
            .addrs
            .v6_to_v4(addr, self.map, End::Source)
            .map(|v4| (v4, ()))
            .map_err(|_| Outcome::PassNoSourceMapping)
    }

    fn remote_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<[u8; 16], Outcome> {
        self.tr
            .addrs
            .v4_to_v6(addr, self.map, End::Source)
            .map_err(|_| Outcome::PassNoSourceMapping)
    }

    fn host_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<([u8; 16], ()), Outcome> {
        self.tr
            .addrs
            .v4_to_v6(addr, self.map, End::Destination)
            .map(|v6| (v6, ()))
            .map_err(|_| Outcome::PassNoDestinationMapping)
    }

    fn ipv4_id(&mut self, count: u32) -> u16 {
        self.tr.take_ipv4_ids(count)
    }
}

impl Translator {
    /// The plan for the IPv6 packet `pkt`, with this translator's tables (lookups only).
    pub(crate) fn plan_six_to_four<P: Packet, M: DynamicMap>(
        &self,
        pkt: &P,
        map: &mut M,
    ) -> Result<plan::Plan<{ wire::ipv4::LEN }, ()>, Outcome> {
        six_to_four::plan(pkt, 0, &self.block, &mut TableMapper { tr: self, map })
    }

    /// The plan for the IPv4 packet `pkt`, with this translator's tables (lookups only).
    pub(crate) fn plan_four_to_six<P: Packet, M: DynamicMap>(
        &self,
        pkt: &P,
        map: &mut M,
    ) -> Result<plan::Plan<{ wire::ipv6::LEN }, ()>, Outcome> {
        four_to_six::plan(pkt, 0, &self.block, &mut TableMapper { tr: self, map })
    }

    /// The slow path's allocation step, for a source a plan found unmapped: whether it has
    /// an address now.
    pub(crate) fn allocate_source<M: DynamicMap>(&self, src: &[u8; 16], map: &mut M) -> bool {
        self.source_allowed(src) && self.addrs.source_v6_to_v4(src, map).is_ok()
    }
}

/// Translates `pkt` if it is the plain case; `None` when it is not (nothing written).
pub(crate) fn translate<M: DynamicMap>(
    tr: &Translator,
    pkt: &[u8],
    map: &mut M,
    out: &mut Output,
) -> Option<Verdict> {
    let v6 = pkt.first()? >> 4 == 6;
    let packet = Slice(pkt);
    echo::check_checksum(&packet, 0, v6).ok()?;
    if v6 {
        let plan = tr.plan_six_to_four(&packet, map).ok()?;
        apply(plan, pkt, wire::ipv6::LEN, out)
    } else {
        let plan = tr.plan_four_to_six(&packet, map).ok()?;
        apply(plan, pkt, wire::ipv4::LEN, out)
    }
}

/// Writes the translated packet: the plan's header, then the transport part with its type
/// (ICMP) and checksum changed as planned.
fn apply<const H: usize>(
    plan: plan::Plan<H, ()>,
    pkt: &[u8],
    old_header_len: usize,
    out: &mut Output,
) -> Option<Verdict> {
    let l4 = pkt.get(old_header_len..old_header_len + plan.l4_len as usize)?;
    out.buf.extend_from_slice(&plan.header);
    let at = out.buf.len();
    out.buf.extend_from_slice(l4);
    let l4 = out.buf.get_mut(at..)?;
    if plan.is_icmp() {
        *l4.get_mut(icmp::field::TYPE)? = plan.icmp_type;
    }
    if plan.port.is_some() {
        let at = usize::from(plan.port.at);
        l4.get_mut(at..at + 2)?.copy_from_slice(&plan.port.new);
    }
    let check_at = plan.checksum_offset();
    let [hi, lo] = l4.get_mut(check_at..check_at + 2)? else {
        return None;
    };
    let check = plan
        .new_checksum(u16::from_be_bytes([*hi, *lo]))
        .to_be_bytes();
    (*hi, *lo) = (check[0], check[1]);
    out.end_packet();
    Some(Verdict::Translated)
}
