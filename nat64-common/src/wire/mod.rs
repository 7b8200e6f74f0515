//! Typed views of the headers a translator reads and writes, one file per protocol: the
//! field layout is written once here, as constant offsets over fixed-size arrays, so the
//! eBPF programs (which load exactly those bytes) and the userspace translator (which copies
//! them out of a slice) read and write the same fields the same way, without panics and
//! without a raw offset anywhere else.
//!
//! A view is checked once where it is made ([`ipv4::Ipv4::check`], ...) and its accessors are
//! infallible after that.

pub mod fragment;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod tcp;
pub mod udp;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), IPv4's protocol field
/// and IPv6's next header alike.
pub mod proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const DEST_OPTS: u8 = 60;

    /// Numbers that only mean something inside IPv6: an IPv4 packet (or quote) carrying one
    /// is never translated, it would turn into an extension header or ICMPv6.
    pub const IPV6_ONLY: [u8; 5] = [HOP_BY_HOP, ROUTING, FRAGMENT, ICMPV6, DEST_OPTS];

    /// The extension headers RFC 7915 §5.1 walks over (the Fragment header apart).
    #[inline(always)]
    pub const fn is_skippable_extension(nh: u8) -> bool {
        matches!(nh, HOP_BY_HOP | ROUTING | DEST_OPTS)
    }
}

/// EtherTypes of the two families (for TC's `skb->protocol` and XDP's frames).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// VLAN tags (802.1Q, 802.1ad): a frame the XDP program leaves to the stack.
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
}

/// A big-endian u16 at a constant offset of a fixed-size header.
#[inline(always)]
pub fn be16<const N: usize>(h: &[u8; N], at: usize) -> u16 {
    match h.get(at..at + 2) {
        Some([a, b]) => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

#[inline(always)]
pub(crate) fn set_be16<const N: usize>(h: &mut [u8; N], at: usize, v: u16) {
    if let Some(s) = h.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// `N` bytes of a fixed-size header at a constant offset.
#[inline(always)]
pub fn bytes<const M: usize, const N: usize>(h: &[u8; M], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = h.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

/// The first `N` bytes of `s`, when it has them.
#[inline(always)]
pub fn array<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    out.copy_from_slice(s.get(..N)?);
    Some(out)
}
