//! Why a packet was dropped, and what a kernel program (TC or XDP) did with one: dense `u32`
//! indices into per-CPU counter arrays.

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
    /// An ICMP error the translator would send, over its rate limit (RFC 4443 §2.4 (f)).
    IcmpRateLimited = "icmp_rate_limited",
    /// The translated packet would not fit the output buffer or the IPv6 size limits.
    TooLarge = "too_large",
    /// Addressed to the translator itself and not an echo request it answers.
    AddressedToTranslator = "addressed_to_translator",
    /// A source or destination that is never translated: unspecified, loopback, multicast,
    /// broadcast, link-local, IPv4-mapped (`address_policy`).
    SpecialAddress = "special_address",
    /// An address behind the prefix that stands for one of the translator's own or mapped
    /// IPv4 addresses: translating it would send the packet round through the translator.
    /// Stateful NAT64: any IPv6 source behind the prefix (Jool's "hairpinning loop").
    TranslatorLoop = "translator_loop",
    /// A fragment that cannot be part of any datagram: past 65,535 bytes, a non-last
    /// fragment whose length is not a multiple of 8, or a second Fragment header.
    BadFragment = "bad_fragment",
    /// Stateful NAT64: an IPv4 packet to a pool4 address and port no binding holds, or IPv6
    /// TCP other than a SYN with no session (RFC 6146 §3.5).
    NoBinding = "no_binding",
    /// Stateful NAT64: address-dependent filtering refused an IPv4 packet (RFC 6146 §3.5.1).
    Filtered = "filtered",
    /// Stateful NAT64: the subscriber holds all the port blocks it may, all full, or the pool
    /// has no block left (RFC 6888 REQ-4).
    PortsExhausted = "ports_exhausted",
    /// Stateful NAT64: an IPv4 SYN held for a simultaneous open (RFC 6146 §3.5.2.2): answered
    /// later, when the incoming-SYN timer runs out without an IPv6 SYN.
    SynHeld = "syn_held",
    /// Stateful NAT64: a fragment that is not the first (its ports are in the first).
    StatefulFragment = "stateful_fragment",
    /// Stateful NAT64: an IPv4 destination outside pool4, or an IPv6 one outside the prefix.
    NotForTranslator = "not_for_translator",
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

macro_rules! outcomes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What a kernel program did with a packet: dense `u32` indices into its per-CPU
        /// counter array (one array per program, the same indices). `Translated*` packets
        /// were translated; `Pass*` packets went on unchanged (from TC to the userspace
        /// translator, from XDP to the kernel stack), for the reason the name gives. XDP
        /// also counts where a translated packet went (`Forward*`), once more per packet.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Outcome {
            $($(#[$doc])* $variant,)*
        }

        impl Outcome {
            /// Every outcome, in index order.
            pub const ALL: [Outcome; Outcome::COUNT] = [$(Outcome::$variant,)*];

            /// snake_case name, used as a metric label.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Outcome::$variant => $name,)*
                }
            }
        }
    };
}

outcomes! {
    TranslatedV6ToV4Udp = "translated_v6_to_v4_udp",
    TranslatedV6ToV4Tcp = "translated_v6_to_v4_tcp",
    TranslatedV6ToV4Icmp = "translated_v6_to_v4_icmp",
    TranslatedV4ToV6Udp = "translated_v4_to_v6_udp",
    TranslatedV4ToV6Tcp = "translated_v4_to_v6_tcp",
    TranslatedV4ToV6Icmp = "translated_v4_to_v6_icmp",
    /// An ICMPv6 error with the packet it quotes (TC only).
    TranslatedV6ToV4IcmpError = "translated_v6_to_v4_icmp_error",
    /// An ICMPv4 error with the packet it quotes (TC only).
    TranslatedV4ToV6IcmpError = "translated_v4_to_v6_icmp_error",
    /// The configuration block is not written yet (no ifindex to redirect to).
    PassNotConfigured = "pass_not_configured",
    /// Neither IPv4 nor IPv6, or the version nibble disagrees with the skb protocol.
    PassNotIp = "pass_not_ip",
    /// Shorter than its headers, or its length field disagrees with the packet's length.
    PassTruncated = "pass_truncated",
    /// IPv4 header with a bad length or checksum.
    PassBadIpv4Header = "pass_bad_ipv4_header",
    /// IPv4 options (userspace handles source routes and strips the rest).
    PassIpv4Options = "pass_ipv4_options",
    /// IPv6 extension headers (including Fragment headers).
    PassExtensionHeader = "pass_extension_header",
    /// An IPv4 fragment.
    PassFragment = "pass_fragment",
    /// Neither TCP, UDP nor ICMP of the packet's family.
    PassProtocol = "pass_protocol",
    /// An ICMP type the program does not translate: XDP translates echo only, TC echo and
    /// the RFC 7915 errors; userspace drops the rest.
    PassIcmpType = "pass_icmp_type",
    /// An ICMP error quoting a packet the TC program leaves to userspace: too short,
    /// fragmented, with options or extension headers, or neither TCP, UDP nor echo.
    PassIcmpQuote = "pass_icmp_quote",
    /// An ICMP error with an RFC 4884 extension, or one userspace must cut to size.
    PassIcmpExtension = "pass_icmp_extension",
    /// An ICMP message whose checksum is wrong (userspace drops it).
    PassBadIcmpChecksum = "pass_bad_icmp_checksum",
    /// An ICMP echo longer than the kernel sums for its checksum (userspace checks it).
    PassIcmpTooLong = "pass_icmp_too_long",
    /// Hop limit or TTL of 1 or less (userspace answers Time Exceeded).
    PassHopLimit = "pass_hop_limit",
    /// UDP with checksum zero (userspace applies `udp-cksum-mode`).
    PassUdpZeroChecksum = "pass_udp_zero_checksum",
    /// Addressed to the translator's own IPv4 or IPv6 address.
    PassToTranslator = "pass_to_translator",
    /// The source has no mapping yet (the first packet of a new IPv6 host).
    PassNoSourceMapping = "pass_no_source_mapping",
    /// The destination has no mapping (userspace answers or drops).
    PassNoDestinationMapping = "pass_no_destination_mapping",
    /// A non-global IPv4 address behind the well-known prefix (userspace drops it).
    PassNotGlobal = "pass_not_global",
    /// An address that is never translated, or one behind the prefix that would loop
    /// through the translator (`address_policy`; userspace drops it, counted).
    PassSpecialAddress = "pass_special_address",
    /// Stateful NAT64: the flow has no session in the kernel's tables (a new flow, a
    /// hairpinned one, or one in a TCP state userspace follows): userspace decides.
    PassNoSession = "pass_no_session",
    /// Stateful NAT64: a TCP SYN, FIN or RST, which moves the session's state (userspace
    /// keeps the RFC 6146 state machine).
    PassTcpControl = "pass_tcp_control",
    /// `allow_source` configured and the source is not in the host table.
    PassSourceFiltered = "pass_source_filtered",
    /// Larger than the next link's MTU (userspace answers Packet Too Big or fragments).
    PassTooBig = "pass_too_big",
    /// bpf_skb_change_proto refused the packet (it leaves it unchanged when it fails).
    PassChangeProtoFailed = "pass_change_proto_failed",
    /// A helper failed after the packet was changed: dropped, it cannot be passed on.
    DroppedHelperFailed = "dropped_helper_failed",
    /// XDP: a VLAN-tagged or otherwise non-plain Ethernet frame (the stack handles it).
    PassLinkLayer = "pass_link_layer",
    /// XDP: translated and handed to the kernel stack (`--xdp-forward stack`).
    ForwardStack = "forward_stack",
    /// XDP: translated and sent out of the egress interface the route lookup chose.
    ForwardRedirected = "forward_redirected",
    /// XDP direct: translated, but the route's neighbour is not resolved yet; the stack
    /// forwards it (and resolves the neighbour).
    ForwardFibNoNeighbour = "forward_fib_no_neighbour",
    /// XDP direct: translated, but larger than the egress MTU; the stack answers it.
    ForwardFibFragNeeded = "forward_fib_frag_needed",
    /// XDP direct: translated, but the route lookup says the stack must decide (local
    /// delivery, unreachable, blackhole, forwarding off).
    ForwardFibStack = "forward_fib_stack",
    /// XDP direct: the egress interface is not one the program runs on (not in its device
    /// map); the stack forwards it.
    ForwardNotXdpInterface = "forward_not_xdp_interface",
    /// XDP: not translated here (counted above by why), and routed into the TUN device: sent
    /// to this queue's AF_XDP socket, where userspace translates it without the stack.
    SlowPathAfXdp = "slow_path_af_xdp",
}

impl Outcome {
    /// Number of outcomes (size of the counter array).
    pub const COUNT: usize = Outcome::SlowPathAfXdp as usize + 1;

    /// The outcome with index `i`, if any.
    #[inline]
    pub fn from_index(i: u32) -> Option<Outcome> {
        Outcome::ALL.get(i as usize).copied()
    }

    /// Whether the packet was translated.
    #[inline(always)]
    pub const fn is_translated(self) -> bool {
        (self as u32) <= Outcome::TranslatedV4ToV6IcmpError as u32
    }

    /// Whether this counts where XDP sent a translated packet (not what it did with it).
    #[inline(always)]
    pub const fn is_forward(self) -> bool {
        (self as u32) >= Outcome::ForwardStack as u32
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

    #[test]
    fn tc_outcomes_dense_and_named() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
            assert_eq!(Outcome::from_index(i as u32), Some(*o));
            assert_eq!(o.is_translated(), o.as_str().starts_with("translated_"));
        }
        assert_eq!(Outcome::from_index(Outcome::COUNT as u32), None);
    }
}
