//! Why a packet was dropped: dense `u32` indices into the per-CPU drop counter array.

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every reason the translator drops (or answers instead of translating) a packet.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DropReason {
            $($(#[$doc])* $variant,)*
        }

        impl DropReason {
            /// Every reason, in index order.
            pub const ALL: [DropReason; DropReason::COUNT] = [$(DropReason::$variant,)*];

            /// snake_case name, used as a metric label.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }
        }
    };
}

drop_reasons! {
    /// Shorter than its headers say, or than a header needs.
    Truncated = "truncated",
    /// Version, header length or length fields inconsistent.
    BadIpHeader = "bad_ip_header",
    /// IPv4 header checksum wrong.
    BadIpv4Checksum = "bad_ipv4_checksum",
    /// An ICMP checksum that had to be verified (it is recomputed) is wrong.
    BadIcmpChecksum = "bad_icmp_checksum",
    /// IPv4 options such as source routing that RFC 7915 does not translate.
    Ipv4Options = "ipv4_options",
    /// Malformed or unsupported IPv6 extension header chain.
    BadExtensionHeader = "bad_extension_header",
    /// Routing header with segments left; answered with Parameter Problem.
    SegmentsLeft = "segments_left",
    /// Transport protocol that cannot be translated (e.g. ICMPv6 in IPv4).
    UnsupportedProtocol = "unsupported_protocol",
    /// ICMP type/code without a translation.
    UntranslatableIcmp = "untranslatable_icmp",
    /// ICMP error fragmented, or an ICMP error inside an ICMP error.
    BadIcmpError = "bad_icmp_error",
    /// Fragmented ICMP (its checksum covers the whole message; cannot be adjusted).
    FragmentedIcmp = "fragmented_icmp",
    /// Source address has no mapping to the other family.
    NoSourceMapping = "no_source_mapping",
    /// Destination address has no mapping to the other family.
    NoDestinationMapping = "no_destination_mapping",
    /// Source not allowed (non-global IPv4 behind the well-known prefix, or the translator's
    /// own, multicast or broadcast addresses).
    SourceNotAllowed = "source_not_allowed",
    /// Destination not allowed (same reasons as the source).
    DestinationNotAllowed = "destination_not_allowed",
    /// Hop limit or TTL would reach zero; answered with Time Exceeded.
    HopLimitExceeded = "hop_limit_exceeded",
    /// Too big for the next link with DF set; answered with Fragmentation Needed/Packet Too Big.
    PacketTooBig = "packet_too_big",
    /// IPv4 UDP with a zero checksum that policy says to drop (or a fragment, where the
    /// checksum cannot be computed).
    UdpZeroChecksum = "udp_zero_checksum",
    /// An ICMP error the translator would send, but it has no address to send it from.
    NoErrorSource = "no_error_source",
    /// The translated packet would not fit the output buffer or the IPv6 size limits.
    TooLarge = "too_large",
    /// Addressed to the translator itself and not an echo request it answers.
    AddressedToTranslator = "addressed_to_translator",
    /// Neither IPv4 nor IPv6.
    UnknownVersion = "unknown_version",
}

impl DropReason {
    /// Number of reasons (size of the counter array).
    pub const COUNT: usize = DropReason::UnknownVersion as usize + 1;

    /// The reason with index `i`, if any.
    #[inline]
    pub fn from_index(i: u32) -> Option<DropReason> {
        DropReason::ALL.get(i as usize).copied()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_named() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(DropReason::from_index(i as u32), Some(*r));
            let name = r.as_str();
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            );
        }
        assert_eq!(DropReason::from_index(DropReason::COUNT as u32), None);
        let mut names: [&str; DropReason::COUNT] = [""; DropReason::COUNT];
        for (n, r) in names.iter_mut().zip(DropReason::ALL) {
            *n = r.as_str();
        }
        names.sort_unstable();
        assert!(names.windows(2).all(|w| w[0] != w[1]));
    }
}
