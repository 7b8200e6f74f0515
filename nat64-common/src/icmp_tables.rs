//! RFC 7915 ICMP type/code translation: §4.2 (ICMPv4 → ICMPv6) and §5.2 (ICMPv6 → ICMPv4),
//! with the Parameter Problem pointer tables (Figure 3 and Figure 6).

/// What to do with an ICMP message of a given type and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpAction {
    /// An informational message (echo): new type/code, the rest of the header kept.
    Informational { ty: u8, code: u8 },
    /// An error whose 4 bytes after the checksum are unused: new type/code, inner packet
    /// translated.
    Error { ty: u8, code: u8 },
    /// Parameter Problem: new type/code, pointer translated with the pointer table.
    ParameterProblem { ty: u8, code: u8 },
    /// Packet Too Big ↔ Fragmentation Needed: new type/code, MTU field recomputed.
    PacketTooBig { ty: u8, code: u8 },
    /// Not translatable: silently dropped.
    Drop,
}

pub use crate::wire::icmp::{v4, v6};

/// RFC 7915 §4.2: ICMPv4 (type, code) → ICMPv6.
#[inline]
pub fn icmp4_to_icmp6(ty: u8, code: u8) -> IcmpAction {
    use IcmpAction::*;
    match (ty, code) {
        (8, _) => Informational { ty: 128, code },
        (0, _) => Informational { ty: 129, code },
        // Destination Unreachable
        (3, 0 | 1) => Error { ty: 1, code: 0 },
        (3, 2) => ParameterProblem { ty: 4, code: 1 },
        (3, 3) => Error { ty: 1, code: 4 },
        (3, 4) => PacketTooBig { ty: 2, code: 0 },
        (3, 5..=8) => Error { ty: 1, code: 0 },
        (3, 9 | 10) => Error { ty: 1, code: 1 },
        (3, 11 | 12) => Error { ty: 1, code: 0 },
        (3, 13 | 15) => Error { ty: 1, code: 1 },
        // Time Exceeded
        (11, _) => Error { ty: 3, code },
        // Parameter Problem: pointer-indicates-error and bad-length only
        (12, 0 | 2) => ParameterProblem { ty: 4, code: 0 },
        // Precedence cutoff (14), other unreachables, source quench, redirect, alternative
        // host, router advertisement/solicitation, timestamp, info, address mask, unknown.
        _ => Drop,
    }
}

/// RFC 7915 §5.2: ICMPv6 (type, code) → ICMPv4.
#[inline]
pub fn icmp6_to_icmp4(ty: u8, code: u8) -> IcmpAction {
    use IcmpAction::*;
    match (ty, code) {
        (128, _) => Informational { ty: 8, code },
        (129, _) => Informational { ty: 0, code },
        // Destination Unreachable
        (1, 0 | 2 | 3) => Error { ty: 3, code: 1 },
        (1, 1) => Error { ty: 3, code: 10 },
        (1, 4) => Error { ty: 3, code: 3 },
        (2, _) => PacketTooBig { ty: 3, code: 4 },
        (3, _) => Error { ty: 11, code },
        (4, 0) => ParameterProblem { ty: 12, code: 0 },
        // Unrecognized Next Header → Protocol Unreachable (no pointer in ICMPv4).
        (4, 1) => Error { ty: 3, code: 2 },
        // Unrecognized option, MLD, ND, unknown informational and error types.
        _ => Drop,
    }
}

/// RFC 7915 Figure 3: ICMPv4 Parameter Problem pointer → ICMPv6 pointer (`None`: drop).
#[inline]
pub fn pointer4_to_pointer6(pointer: u8) -> Option<u8> {
    match pointer {
        0 => Some(0),        // Version/IHL → Version/Traffic Class
        1 => Some(1),        // Type of Service → Traffic Class
        2 | 3 => Some(4),    // Total Length → Payload Length
        8 => Some(7),        // Time to Live → Hop Limit
        9 => Some(6),        // Protocol → Next Header
        12..=15 => Some(8),  // Source Address
        16..=19 => Some(24), // Destination Address
        // Identification, Flags/Fragment Offset, Header Checksum, options: n/a.
        _ => None,
    }
}

/// RFC 7915 Figure 6: ICMPv6 Parameter Problem pointer → ICMPv4 pointer (`None`: drop).
#[inline]
pub fn pointer6_to_pointer4(pointer: u32) -> Option<u8> {
    match pointer {
        0 => Some(0),        // Version/Traffic Class → Version/IHL
        1 => Some(1),        // Traffic Class/Flow Label → Type of Service
        4 | 5 => Some(2),    // Payload Length → Total Length
        6 => Some(9),        // Next Header → Protocol
        7 => Some(8),        // Hop Limit → Time to Live
        8..=23 => Some(12),  // Source Address
        24..=39 => Some(16), // Destination Address
        // Flow Label (2, 3) and anything past the fixed header: n/a.
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::IcmpAction::*;
    use super::*;

    #[test]
    fn icmp4_to_icmp6_rows() {
        let rows: &[((u8, u8), IcmpAction)] = &[
            ((8, 0), Informational { ty: 128, code: 0 }),
            ((0, 0), Informational { ty: 129, code: 0 }),
            ((13, 0), Drop), // timestamp
            ((14, 0), Drop), // timestamp reply
            ((15, 0), Drop), // information request
            ((16, 0), Drop), // information reply
            ((17, 0), Drop), // address mask request
            ((18, 0), Drop), // address mask reply
            ((9, 0), Drop),  // router advertisement
            ((10, 0), Drop), // router solicitation
            ((3, 0), Error { ty: 1, code: 0 }),
            ((3, 1), Error { ty: 1, code: 0 }),
            ((3, 2), ParameterProblem { ty: 4, code: 1 }),
            ((3, 3), Error { ty: 1, code: 4 }),
            ((3, 4), PacketTooBig { ty: 2, code: 0 }),
            ((3, 5), Error { ty: 1, code: 0 }),
            ((3, 6), Error { ty: 1, code: 0 }),
            ((3, 7), Error { ty: 1, code: 0 }),
            ((3, 8), Error { ty: 1, code: 0 }),
            ((3, 9), Error { ty: 1, code: 1 }),
            ((3, 10), Error { ty: 1, code: 1 }),
            ((3, 11), Error { ty: 1, code: 0 }),
            ((3, 12), Error { ty: 1, code: 0 }),
            ((3, 13), Error { ty: 1, code: 1 }),
            ((3, 14), Drop),
            ((3, 15), Error { ty: 1, code: 1 }),
            ((3, 16), Drop),
            ((4, 0), Drop), // source quench
            ((5, 0), Drop), // redirect
            ((6, 0), Drop), // alternative host address
            ((11, 0), Error { ty: 3, code: 0 }),
            ((11, 1), Error { ty: 3, code: 1 }),
            ((12, 0), ParameterProblem { ty: 4, code: 0 }),
            ((12, 1), Drop),
            ((12, 2), ParameterProblem { ty: 4, code: 0 }),
            ((12, 3), Drop),
            ((42, 0), Drop),
        ];
        for ((ty, code), want) in rows {
            assert_eq!(icmp4_to_icmp6(*ty, *code), *want, "type {ty} code {code}");
        }
    }

    #[test]
    fn icmp6_to_icmp4_rows() {
        let rows: &[((u8, u8), IcmpAction)] = &[
            ((128, 0), Informational { ty: 8, code: 0 }),
            ((129, 0), Informational { ty: 0, code: 0 }),
            ((130, 0), Drop), // MLD query
            ((131, 0), Drop), // MLD report
            ((132, 0), Drop), // MLD done
            ((133, 0), Drop), // router solicitation
            ((134, 0), Drop), // router advertisement
            ((135, 0), Drop), // neighbor solicitation
            ((136, 0), Drop), // neighbor advertisement
            ((137, 0), Drop), // redirect
            ((200, 0), Drop), // unknown informational
            ((1, 0), Error { ty: 3, code: 1 }),
            ((1, 1), Error { ty: 3, code: 10 }),
            ((1, 2), Error { ty: 3, code: 1 }),
            ((1, 3), Error { ty: 3, code: 1 }),
            ((1, 4), Error { ty: 3, code: 3 }),
            ((1, 5), Drop),
            ((2, 0), PacketTooBig { ty: 3, code: 4 }),
            ((3, 0), Error { ty: 11, code: 0 }),
            ((3, 1), Error { ty: 11, code: 1 }),
            ((4, 0), ParameterProblem { ty: 12, code: 0 }),
            ((4, 1), Error { ty: 3, code: 2 }),
            ((4, 2), Drop),
            ((100, 0), Drop), // unknown error
        ];
        for ((ty, code), want) in rows {
            assert_eq!(icmp6_to_icmp4(*ty, *code), *want, "type {ty} code {code}");
        }
    }

    #[test]
    fn figure_3_rows() {
        let rows: &[(u8, Option<u8>)] = &[
            (0, Some(0)),
            (1, Some(1)),
            (2, Some(4)),
            (3, Some(4)),
            (4, None),
            (5, None),
            (6, None),
            (7, None),
            (8, Some(7)),
            (9, Some(6)),
            (10, None),
            (11, None),
            (12, Some(8)),
            (13, Some(8)),
            (14, Some(8)),
            (15, Some(8)),
            (16, Some(24)),
            (17, Some(24)),
            (18, Some(24)),
            (19, Some(24)),
            (20, None),
        ];
        for (p, want) in rows {
            assert_eq!(pointer4_to_pointer6(*p), *want, "pointer {p}");
        }
    }

    #[test]
    fn figure_6_rows() {
        let rows: &[(u32, Option<u8>)] = &[
            (0, Some(0)),
            (1, Some(1)),
            (2, None),
            (3, None),
            (4, Some(2)),
            (5, Some(2)),
            (6, Some(9)),
            (7, Some(8)),
            (8, Some(12)),
            (23, Some(12)),
            (24, Some(16)),
            (39, Some(16)),
            (40, None),
            (u32::MAX, None),
        ];
        for (p, want) in rows {
            assert_eq!(pointer6_to_pointer4(*p), *want, "pointer {p}");
        }
    }
}
