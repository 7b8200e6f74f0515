//! Gluing the translated UDP datagrams of one flow into a USO super-packet, so a burst read
//! one datagram at a time is written back in a few writes: the kernel's forwarding, conntrack
//! and NAT then run once per super-packet, and the datagrams are cut apart again on the way
//! out (as wireguard-go does on its TUN writes).
//!
//! Packets are queued as they come out of the translator and written on [`Coalescer::flush`],
//! in order: datagrams of one flow join its open super-packet while they are as long as its
//! first (a shorter one closes it, as the last segment may be), everything else is written as
//! it is. A flow's datagrams keep their order; only packets of different flows may pass each
//! other.

use nat64_common::wire::{
    ipv4::{self, Ipv4},
    ipv6::{self, Ipv6},
    proto,
    udp::{self, Udp},
};
use std::collections::HashMap;

use nat64_common::checksum;

use super::vnet::{self, VnetHdr};
use crate::translate::wire::set_u16;

/// Segments per super-packet: the kernel's UDP GRO makes no more, and USO accepts them.
const MAX_SEGMENTS: usize = 64;
/// IP total length (IPv4) or payload length (IPv6) must fit 16 bits.
const MAX_LEN: usize = 65_535;

/// What identifies a flow's datagrams that may share one header: every header byte except
/// lengths, identification and checksums.
type FlowKey = [u8; 44];

#[derive(Clone, Copy, Debug)]
struct Queued {
    start: usize,
    len: usize,
    /// The header it is written with when it goes alone (a partial checksum stays partial).
    hdr: VnetHdr,
}

#[derive(Debug)]
struct Group {
    /// Indices into `queued`, in order.
    members: Vec<usize>,
    /// Payload bytes of each segment (the first datagram's); 0 for a packet not glued.
    gso_size: usize,
    payload_total: usize,
    open: bool,
    ipv4: bool,
    ip_len: usize,
}

/// Queued packets and their grouping. Reusable; allocates only while warming up.
#[derive(Debug)]
pub struct Coalescer {
    buf: Vec<u8>,
    queued: Vec<Queued>,
    groups: Vec<Group>,
    /// Spare member lists, so groups do not allocate once warm.
    spare: Vec<Vec<usize>>,
    open: HashMap<FlowKey, usize>,
    scratch: Vec<u8>,
    /// Whether USO may be asked of the kernel for IPv4 and for IPv6 output.
    uso4: bool,
    uso6: bool,
}

/// What a flush wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Super-packets written, and the datagrams they carried.
    pub super_packets: u64,
    pub glued: u64,
    pub write_errors: u64,
    /// Packets the writes carried (a super-packet's datagrams each count).
    pub packets_written: u64,
}

impl Coalescer {
    pub fn new(uso4: bool, uso6: bool) -> Coalescer {
        Coalescer {
            buf: Vec::with_capacity(256 * 1024),
            queued: Vec::with_capacity(256),
            groups: Vec::with_capacity(256),
            spare: Vec::new(),
            open: HashMap::with_capacity(256),
            scratch: Vec::with_capacity(vnet::LEN + MAX_LEN),
            uso4,
            uso6,
        }
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Queues one translated packet (starting at its IP header) with a complete checksum.
    pub fn push(&mut self, packet: &[u8]) {
        self.push_with(VnetHdr::PLAIN, packet);
    }

    /// Queues one translated packet that would be written alone with `hdr` (no GSO; a
    /// partial checksum is fine: a super-packet's is recomputed for all its segments).
    pub fn push_with(&mut self, hdr: VnetHdr, packet: &[u8]) {
        let index = self.queued.len();
        self.queued.push(Queued {
            start: self.buf.len(),
            len: packet.len(),
            hdr,
        });
        if hdr.gso_type != vnet::GSO_NONE {
            self.new_group(index, 0, false, 0);
            return;
        }
        self.buf.extend_from_slice(packet);
        let Some(udp) = self.udp_shape(packet) else {
            self.new_group(index, 0, false, 0);
            return;
        };
        if let Some(&g) = self.open.get(&udp.key) {
            if let Some(group) = self.groups.get_mut(g) {
                let fits = group.open
                    && udp.payload <= group.gso_size
                    && group.members.len() < MAX_SEGMENTS
                    && group.ip_len + 8 + group.payload_total + udp.payload <= MAX_LEN;
                if fits {
                    group.members.push(index);
                    group.payload_total += udp.payload;
                    // A shorter datagram can only be the last segment.
                    group.open = udp.payload == group.gso_size;
                    return;
                }
                group.open = false;
            }
        }
        let g = self.new_group(index, udp.payload, udp.ipv4, udp.ip_len);
        if udp.payload > 0 {
            self.open.insert(udp.key, g);
        }
    }

    fn new_group(&mut self, index: usize, gso_size: usize, ipv4: bool, ip_len: usize) -> usize {
        let mut members = self.spare.pop().unwrap_or_default();
        members.clear();
        members.push(index);
        self.groups.push(Group {
            members,
            gso_size,
            payload_total: gso_size,
            open: gso_size > 0,
            ipv4,
            ip_len,
        });
        self.groups.len() - 1
    }

    /// Writes everything queued, in order, through `write` (each frame starts with its
    /// `virtio_net_hdr`); `take_ids(n)` gives the first of `n` fresh IPv4 identifications
    /// for the segments of an IPv4 super-packet without DF, which the kernel numbers on.
    pub fn flush(
        &mut self,
        mut write: impl FnMut(&[u8]) -> std::io::Result<usize>,
        mut take_ids: impl FnMut(u32) -> u16,
    ) -> Flushed {
        let mut flushed = Flushed::default();
        let groups = std::mem::take(&mut self.groups);
        for group in &groups {
            self.scratch.clear();
            if group.members.len() == 1 {
                let q = group
                    .members
                    .first()
                    .and_then(|&i| self.queued.get(i))
                    .copied();
                let Some(q) = q else { continue };
                self.scratch.extend_from_slice(&q.hdr.to_bytes());
                self.scratch
                    .extend_from_slice(self.buf.get(q.start..q.start + q.len).unwrap_or(&[]));
            } else {
                self.glue(group, &mut take_ids);
                flushed.super_packets += 1;
                flushed.glued += group.members.len() as u64;
            }
            if write(&self.scratch).is_ok() {
                flushed.packets_written += group.members.len() as u64;
                continue;
            }
            if group.members.len() == 1 {
                flushed.write_errors += 1;
                continue;
            }
            // A super-packet the kernel refused: its datagrams go one by one instead.
            flushed.super_packets -= 1;
            flushed.glued -= group.members.len() as u64;
            for &i in &group.members {
                let Some(q) = self.queued.get(i).copied() else {
                    continue;
                };
                self.scratch.clear();
                self.scratch.extend_from_slice(&q.hdr.to_bytes());
                self.scratch
                    .extend_from_slice(self.buf.get(q.start..q.start + q.len).unwrap_or(&[]));
                if write(&self.scratch).is_ok() {
                    flushed.packets_written += 1;
                } else {
                    flushed.write_errors += 1;
                }
            }
        }
        self.groups = groups;
        for group in self.groups.drain(..) {
            self.spare.push(group.members);
        }
        self.queued.clear();
        self.buf.clear();
        self.open.clear();
        flushed
    }

    /// The super-packet of `group` into `scratch`: the first datagram's headers with the
    /// lengths of the whole, every payload behind them, and the partial checksum the kernel
    /// finishes per segment.
    fn glue(&mut self, group: &Group, take_ids: &mut impl FnMut(u32) -> u16) {
        let segments = group.members.len();
        let header_len = group.ip_len + 8;
        let udp_len = 8 + group.payload_total;
        let hdr = VnetHdr {
            flags: vnet::F_NEEDS_CSUM,
            gso_type: vnet::GSO_UDP_L4,
            hdr_len: header_len as u16,
            gso_size: group.gso_size as u16,
            csum_start: group.ip_len as u16,
            csum_offset: 6,
        };
        self.scratch.extend_from_slice(&hdr.to_bytes());
        let at = self.scratch.len();
        for (n, &i) in group.members.iter().enumerate() {
            let Some(q) = self.queued.get(i) else {
                continue;
            };
            let packet = self.buf.get(q.start..q.start + q.len).unwrap_or(&[]);
            let from = if n == 0 { 0 } else { header_len };
            self.scratch
                .extend_from_slice(packet.get(from..).unwrap_or(&[]));
        }
        let Some(head) = self.scratch.get_mut(at..at + header_len) else {
            return;
        };
        let pseudo = if group.ipv4 {
            let Some(mut ip) = Ipv4::from_slice(head) else {
                return;
            };
            ip.set_total_len((group.ip_len + udp_len) as u16);
            // Without DF every datagram had an identification of its own: the kernel numbers
            // the segments from the first, so they get a fresh run. With DF it is not used.
            if !ip.dont_fragment() {
                ip.set_id(take_ids(segments as u32));
            }
            ip.fill_checksum();
            if let Some(h) = head.get_mut(..ipv4::LEN) {
                h.copy_from_slice(&ip.0);
            }
            checksum::pseudo_header_v4(ip.src(), ip.dst(), proto::UDP, udp_len as u16)
        } else {
            let Some(mut ip) = Ipv6::from_slice(head) else {
                return;
            };
            ip.set_payload_len(udp_len as u16);
            if let Some(h) = head.get_mut(..ipv6::LEN) {
                h.copy_from_slice(&ip.0);
            }
            checksum::pseudo_header_v6(&ip.src(), &ip.dst(), proto::UDP, udp_len as u32)
        };
        let l4 = group.ip_len;
        set_u16(head, l4 + udp::field::LENGTH, udp_len as u16);
        set_u16(head, l4 + udp::field::CHECKSUM, checksum::fold(pseudo));
    }

    /// The flow of a UDP datagram that may be glued: right after a bare IP header, not a
    /// fragment, with a checksum (a zero one would come out computed), and USO granted for
    /// its family. Its checksum may be complete or partial: a super-packet's is recomputed.
    fn udp_shape(&self, p: &[u8]) -> Option<UdpShape> {
        let mut key = [0u8; 44];
        let (ipv4, ip_len) = match p.first()? >> 4 {
            4 if self.uso4 => {
                let ip = Ipv4::from_slice(p)?;
                // No options, UDP, not a fragment (only DF may be set).
                if ip.header_len() != ipv4::LEN
                    || ip.proto() != proto::UDP
                    || ip.more_than_dont_fragment()
                {
                    return None;
                }
                // What may differ within a flow (lengths, identification, checksum) is left
                // out of the key.
                key[0] = 4;
                key[1] = ip.tos();
                key[2] = u8::from(ip.dont_fragment());
                key[3] = ip.ttl();
                key[4..8].copy_from_slice(&ip.src());
                key[8..12].copy_from_slice(&ip.dst());
                (true, ipv4::LEN)
            }
            6 if self.uso6 => {
                let ip = Ipv6::from_slice(p)?;
                if ip.next_header() != proto::UDP {
                    return None;
                }
                key[0] = 6;
                key[1..5].copy_from_slice(p.get(..4)?);
                key[5] = ip.hop_limit();
                key[6..22].copy_from_slice(&ip.src());
                key[22..38].copy_from_slice(&ip.dst());
                (false, ipv6::LEN)
            }
            _ => return None,
        };
        let udp = Udp::from_slice(p.get(ip_len..)?)?;
        if udp.checksum() == 0 || usize::from(udp.length()) != p.len() - ip_len {
            return None;
        }
        key[38..42].copy_from_slice(&udp.ports());
        Some(UdpShape {
            key,
            ipv4,
            ip_len,
            payload: p.len() - ip_len - udp::LEN,
        })
    }
}

struct UdpShape {
    key: FlowKey,
    ipv4: bool,
    ip_len: usize,
    payload: usize,
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests;
