//! The `struct virtio_net_hdr` that starts every read and write of a queue opened with
//! IFF_VNET_HDR: it tells whether the packet is a GSO super-packet (one IP header for many
//! segments the kernel cuts, or has already glued together) and whether its transport checksum
//! is still to be computed (`NEEDS_CSUM`: the field holds only the pseudo-header sum).
//!
//! The fields are in the host's byte order: a TUN device without TUNSETVNETLE/BE speaks the
//! legacy virtio layout, which is native-endian.

/// Size of the header the queues are set to (TUNSETVNETHDRSZ).
pub const LEN: usize = 10;

/// The transport checksum is partial: `csum_start`/`csum_offset` say where to finish it.
pub const F_NEEDS_CSUM: u8 = 1;
/// The kernel already checked the checksum (reads only).
pub const F_DATA_VALID: u8 = 2;

pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
/// UFO (IPv4 fragmentation offload): never asked for, so never read.
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
/// USO: UDP datagrams of `gso_size` bytes each, each with its own UDP header once cut.
pub const GSO_UDP_L4: u8 = 5;
/// Set with a TCP type when the segments carry ECN's CWR the kernel has to keep on the first.
pub const GSO_ECN: u8 = 0x80;

/// One `virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers (IP and transport) each segment repeats; a hint for the kernel.
    pub hdr_len: u16,
    /// Payload bytes per segment (GSO only).
    pub gso_size: u16,
    /// Where the checksummed data starts, from the IP header (NEEDS_CSUM only).
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

/// What kind of super-packet a header announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gso {
    None,
    Tcp4,
    Tcp6,
    /// USO, either family (the IP header says which).
    Udp,
    /// A type this program never negotiates (UFO, tunnels): cut in userspace or dropped.
    Other(u8),
}

impl VnetHdr {
    /// A plain packet: nothing for the kernel to do.
    pub const PLAIN: VnetHdr = VnetHdr {
        flags: 0,
        gso_type: GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    pub fn parse(bytes: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; LEN] = bytes.get(..LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    pub fn to_bytes(self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    pub fn gso(&self) -> Gso {
        match self.gso_type & !GSO_ECN {
            GSO_NONE => Gso::None,
            GSO_TCPV4 => Gso::Tcp4,
            GSO_TCPV6 => Gso::Tcp6,
            GSO_UDP_L4 => Gso::Udp,
            other => Gso::Other(other),
        }
    }

    /// Whether the packet needs anything beyond the per-packet path: a super-packet, or a
    /// checksum left for someone else to finish.
    pub fn is_offloaded(&self) -> bool {
        self.gso_type != GSO_NONE || self.needs_csum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_host_order() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6 | GSO_ECN,
            hdr_len: 72,
            gso_size: 1428,
            csum_start: 40,
            csum_offset: 16,
        };
        let bytes = h.to_bytes();
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[1], 0x84);
        assert_eq!(&bytes[4..6], &1428u16.to_ne_bytes());
        assert_eq!(VnetHdr::parse(&bytes), Some(h));
        assert_eq!(h.gso(), Gso::Tcp6);
        assert!(h.needs_csum() && h.is_offloaded());
    }

    #[test]
    fn short_input_is_refused_and_plain_is_not_offloaded() {
        assert_eq!(VnetHdr::parse(&[0; LEN - 1]), None);
        assert!(!VnetHdr::PLAIN.is_offloaded());
        assert_eq!(VnetHdr::parse(&[0; LEN]).unwrap(), VnetHdr::PLAIN);
        let valid = VnetHdr {
            flags: F_DATA_VALID,
            ..VnetHdr::PLAIN
        };
        assert!(!valid.is_offloaded());
        let ufo = VnetHdr {
            gso_type: GSO_UDP,
            ..VnetHdr::PLAIN
        };
        assert_eq!(ufo.gso(), Gso::Other(GSO_UDP));
    }
}
