//! The one translation decision for the plain case, made alike by every datapath: the TC and
//! XDP programs, the userspace GSO path and the userspace per-packet translator.
//!
//! The plain case is TCP, UDP (with a checksum) or an ICMP echo right after a bare IP header
//! (no IPv4 options, no IPv6 extension headers, no fragment), both addresses mapped, hop
//! limit left, and every segment within the MTU. For it a [`Plan`] says everything the packet
//! needs: the new IP header, the transport checksum change, the ICMP type, the mapping to
//! stamp. Anything else is refused with the [`Outcome`] that says why, and goes to the code
//! that handles the rest (userspace's full translator, which also answers with ICMP errors).
//!
//! The plan is generic over how the packet is read ([`Packet`]: the skb, an XDP frame, a
//! userspace buffer) and over how addresses are mapped ([`Mapper`]: the kernel's maps, or
//! userspace's tables and pool). It never allocates a mapping: a source without one is
//! refused, and the slow path allocates it as a step of its own.

pub mod echo;
pub mod four_to_six;
pub mod six_to_four;

use crate::{
    checksum,
    counters::Outcome,
    wire::{self, icmp, l4, proto, tcp},
};

/// Read access to the packet a plan is made for.
// A packet is never empty where it gets here: its length is only compared with its headers'.
#[allow(clippy::len_without_is_empty)]
pub trait Packet {
    /// Whether bytes after the IP packet are normal (Ethernet pads short frames): the plan
    /// accepts them and the applier cuts them off. Elsewhere the packet is refused.
    const TRAILER_ALLOWED: bool;

    /// Bytes from the start of the packet data to its end.
    fn len(&self) -> u32;

    /// `N` bytes at `offset`, or `PassTruncated` when the packet is shorter.
    fn load<const N: usize>(&self, offset: usize) -> Result<[u8; N], Outcome>;

    /// Segment size of a GSO packet, 0 when it is not one: the MTU applies per segment.
    fn gso_size(&self) -> u32;

    /// One's-complement partial sum of the bytes `[from, to)`. The kernel's way by default
    /// ([`echo::sum_range`]: fixed-size loads the verifier accepts, up to a bound); a
    /// datapath that holds the packet as a slice sums it at once.
    #[inline(always)]
    fn sum(&self, from: usize, to: usize) -> Result<u32, Outcome>
    where
        Self: Sized,
    {
        echo::sum_range(self, from, to)
    }

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

/// How a datapath maps addresses, and numbers the IPv4 packets it makes. Each lookup either
/// finds the address's form in the other family or refuses with the outcome that says why
/// (the plan then refuses the packet with it). Lookups never create a mapping.
pub trait Mapper {
    /// What to do once the packet is translated (stamp the mapping's last use).
    type Stamp: Stamp;

    /// An IPv6 destination: a host on the IPv4 side.
    fn remote_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<[u8; 4], Outcome>;
    /// An IPv6 source: a host behind the translator.
    fn host_v6_to_v4(&mut self, addr: &[u8; 16]) -> Result<([u8; 4], Self::Stamp), Outcome>;
    /// An IPv4 source: a host on the IPv4 side.
    fn remote_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<[u8; 16], Outcome>;
    /// An IPv4 destination: a host behind the translator.
    fn host_v4_to_v6(&mut self, addr: [u8; 4]) -> Result<([u8; 16], Self::Stamp), Outcome>;
    /// An IPv6 host's flow to `remote` (the destination, already in IPv4): the packet's IPv4
    /// source, and the port it gets there (stateful NAT64). Stateless datapaths map the host
    /// alone and keep the port.
    #[inline(always)]
    fn host_flow_v6_to_v4(
        &mut self,
        addr: &[u8; 16],
        _remote: [u8; 4],
        _flow: &FlowPorts,
    ) -> Result<([u8; 4], PortRewrite, Self::Stamp), Outcome> {
        let (v4, stamp) = self.host_v6_to_v4(addr)?;
        Ok((v4, PortRewrite::NONE, stamp))
    }

    /// An IPv4 packet's flow to `addr` from `remote`: the IPv6 host behind `addr`, and the
    /// host's port (stateful NAT64). Stateless datapaths map the address alone.
    #[inline(always)]
    fn host_flow_v4_to_v6(
        &mut self,
        addr: [u8; 4],
        _remote: [u8; 4],
        _flow: &FlowPorts,
    ) -> Result<([u8; 16], PortRewrite, Self::Stamp), Outcome> {
        let (v6, stamp) = self.host_v4_to_v6(addr)?;
        Ok((v6, PortRewrite::NONE, stamp))
    }

    /// An IPv4 Identification for a packet without DF (RFC 6864); `count` consecutive ones
    /// for the segments of a GSO packet, which the kernel numbers from the first.
    fn ipv4_id(&mut self, count: u32) -> u16;
}

/// What a plan reads of the transport header, before any address lookup (the cheap refusals
/// first): the first 8 bytes, the ICMP type the message becomes, TCP's header length (0 for
/// the others).
pub struct Transport {
    pub head: [u8; 8],
    pub icmp_type: u8,
    pub tcp_header_len: u32,
    /// TCP's flags byte (0 for the others).
    pub tcp_flags: u8,
}

/// A flow's identifiers as stateful NAT64 keys it (RFC 6146 §3.4), read from a query's
/// transport header: the translator's side is the IPv6 host's source port on the way out,
/// the pool4 destination port on the way in (an echo's identifier, either way).
pub struct FlowPorts {
    /// The IPv4 protocol number (ICMP for an echo of either family).
    pub proto: u8,
    /// Where the translator-side port lies in the transport header.
    pub at: u8,
    pub port: [u8; 2],
    /// The remote's port; zero for an echo.
    pub remote_port: [u8; 2],
    pub tcp_flags: u8,
    /// 1 when the packet may open a session the kernel programs keep by themselves: UDP,
    /// and an ICMPv6 echo request (TCP opens with a SYN, whose state only userspace keeps).
    pub opens: u8,
}

impl FlowPorts {
    /// The rewrite that gives the flow `new` as its translator-side port.
    #[inline(always)]
    pub fn rewrite_to(&self, new: [u8; 2]) -> PortRewrite {
        PortRewrite {
            at: self.at,
            old: self.port,
            new,
        }
    }
}

/// A port (or echo identifier) the translation changes, at `at` in the transport header;
/// `at` is [`PortRewrite::NONE`]'s where nothing changes.
#[derive(Clone, Copy)]
pub struct PortRewrite {
    pub at: u8,
    pub old: [u8; 2],
    pub new: [u8; 2],
}

impl PortRewrite {
    pub const NONE: PortRewrite = PortRewrite {
        at: u8::MAX,
        old: [0; 2],
        new: [0; 2],
    };

    #[inline(always)]
    pub fn is_some(&self) -> bool {
        self.at != u8::MAX
    }

    /// The change as a partial sum to add to a checksum that covers the port (the sum of
    /// the new word and the old one negated); 0 when nothing changes.
    #[inline(always)]
    pub fn sums(&self) -> (u32, u32) {
        if self.is_some() {
            (
                u32::from(u16::from_be_bytes(self.old)),
                u32::from(u16::from_be_bytes(self.new)),
            )
        } else {
            (0, 0)
        }
    }
}

impl Transport {
    /// The transport header at `l4` of a packet carrying `protocol` (TCP, UDP, or `from`'s
    /// ICMP: an echo, whose type becomes the other family's); `to_v6` names the direction.
    #[inline(always)]
    pub fn read<P: Packet>(pkt: &P, l4: usize, protocol: u8, to_v6: bool) -> Result<Self, Outcome> {
        let head: [u8; 8] = pkt.load(l4)?;
        let mut icmp_type = 0;
        let mut tcp_header_len = 0;
        let mut tcp_flags = 0;
        match protocol {
            proto::UDP if wire::be16(&head, l4::checksum_offset(proto::UDP)) == 0 => {
                return Err(Outcome::PassUdpZeroChecksum);
            }
            proto::TCP => {
                let [offset, flags]: [u8; 2] = pkt.load(l4 + tcp::field::DATA_OFFSET)?;
                tcp_header_len = tcp::header_len(offset) as u32;
                tcp_flags = flags;
            }
            proto::ICMP | proto::ICMPV6 => {
                icmp_type = match (to_v6, icmp::Icmp(head).ty()) {
                    (true, icmp::v4::ECHO_REQUEST) => icmp::v6::ECHO_REQUEST,
                    (true, icmp::v4::ECHO_REPLY) => icmp::v6::ECHO_REPLY,
                    (false, icmp::v6::ECHO_REQUEST) => icmp::v4::ECHO_REQUEST,
                    (false, icmp::v6::ECHO_REPLY) => icmp::v4::ECHO_REPLY,
                    _ => return Err(Outcome::PassIcmpType),
                };
            }
            _ => {}
        }
        Ok(Transport {
            head,
            icmp_type,
            tcp_header_len,
            tcp_flags,
        })
    }

    /// The flow's identifiers; `to_v6` names the direction (the translator's side is the
    /// destination port on the way to IPv6, the source port on the way to IPv4).
    #[inline(always)]
    pub fn flow(&self, protocol: u8, to_v6: bool) -> FlowPorts {
        let word = |at: usize| wire::bytes::<8, 2>(&self.head, at);
        if protocol == proto::ICMP || protocol == proto::ICMPV6 {
            return FlowPorts {
                proto: proto::ICMP,
                at: icmp::field::REST as u8,
                port: word(icmp::field::REST),
                remote_port: [0; 2],
                tcp_flags: 0,
                opens: u8::from(
                    protocol == proto::ICMPV6 && self.head.first() == Some(&icmp::v6::ECHO_REQUEST),
                ),
            };
        }
        let (ours, theirs) = if to_v6 {
            (tcp::field::DST_PORT, tcp::field::SRC_PORT)
        } else {
            (tcp::field::SRC_PORT, tcp::field::DST_PORT)
        };
        FlowPorts {
            proto: protocol,
            at: ours as u8,
            port: word(ours),
            remote_port: word(theirs),
            tcp_flags: self.tcp_flags,
            opens: u8::from(protocol == proto::UDP && !to_v6),
        }
    }

    /// The bytes of transport header that come again in every GSO segment (UDP's 8 for
    /// anything not TCP).
    #[inline(always)]
    pub fn segment_header_len(&self) -> u32 {
        self.tcp_header_len.max(8)
    }
}

/// Both addresses of a packet in the other family, and the mapping to stamp.
pub struct Mapped<const N: usize, S> {
    pub src: [u8; N],
    pub dst: [u8; N],
    pub stamp: S,
    /// The port the flow gets on the translator's side (stateful NAT64 only).
    pub port: PortRewrite,
}

/// The last-use stamp of a mapping, put on it once its packet is translated.
pub trait Stamp {
    fn stamp(self);
}

impl Stamp for () {
    #[inline(always)]
    fn stamp(self) {}
}

/// A translation decided: apply it, then stamp and count `outcome`.
pub struct Plan<const H: usize, S> {
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
    /// Length of the transport part (header and payload).
    pub l4_len: u32,
    /// The port (or echo identifier) to write, stateful NAT64's; not in `removed` and
    /// `added`, which a partial checksum takes whole (it covers the pseudo-header only).
    pub port: PortRewrite,
    pub outcome: Outcome,
    pub stamp: S,
}

/// The sums `removed` and `added` as one partial sum, the form the kernel's checksum
/// helpers take: they add 16-bit words as they lie in memory, so the big-endian sum is
/// stored that way.
#[inline(always)]
fn helper_delta(removed: u32, added: u32) -> u32 {
    let sum = checksum::fold(checksum::add(checksum::negate(removed), added));
    u32::from(u16::from_ne_bytes(sum.to_be_bytes()))
}

impl<const H: usize, S> Plan<H, S> {
    pub fn is_icmp(&self) -> bool {
        self.proto == proto::ICMP || self.proto == proto::ICMPV6
    }

    /// Offset of the transport checksum inside the transport header.
    #[inline(always)]
    pub fn checksum_offset(&self) -> usize {
        crate::wire::l4::checksum_offset(self.proto)
    }

    /// The change as one partial sum, the form the kernel's checksum helpers take (see
    /// [`helper_delta`]): the pseudo-header and ICMP type, without the port.
    #[inline(always)]
    pub fn delta(&self) -> u32 {
        helper_delta(self.removed, self.added)
    }

    /// [`Plan::delta`] with the port change in it: for a checksum that is always complete
    /// (ICMP's).
    #[inline(always)]
    pub fn delta_with_port(&self) -> u32 {
        let (old, new) = self.port.sums();
        helper_delta(
            checksum::add(self.removed, old),
            checksum::add(self.added, new),
        )
    }

    /// The port change alone, in the helpers' form.
    #[inline(always)]
    pub fn port_delta(&self) -> u32 {
        let (old, new) = self.port.sums();
        helper_delta(old, new)
    }

    /// The transport checksum field after the change (port included), computed in place
    /// of `check`. A UDP result of zero is written as 0xffff (zero means "no checksum").
    #[inline(always)]
    pub fn new_checksum(&self, check: u16) -> u16 {
        let (old, new) = self.port.sums();
        crate::wire::l4::checksum_on_wire(
            self.proto,
            checksum::adjust(
                check,
                checksum::add(self.removed, old),
                checksum::add(self.added, new),
            ),
        )
    }

    /// The partial (pseudo-header) checksum a GSO or checksum-offload packet carries, after
    /// the change: not complemented, so the update is a plain one's-complement sum.
    #[inline(always)]
    pub fn new_partial_checksum(&self, partial: u16) -> u16 {
        checksum::fold(checksum::add(
            checksum::add(u32::from(partial), checksum::negate(self.removed)),
            self.added,
        ))
    }
}
