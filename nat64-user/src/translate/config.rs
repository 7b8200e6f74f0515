//! What the translator is told: prefix, explicit address mappings, its own addresses, MTUs.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{bail, ensure};
use nat64_common::rfc6052::Prefix;

use bytemuck::Zeroable;
pub use nat64_common::address_policy::WkpScope;
use nat64_common::maps::ConfigBlock;
pub use nat64_common::maps::UdpChecksumMode;

/// An RFC 7757 explicit address mapping: `v4/v4_len` ↔ `v6/v6_len`. The IPv4 suffix bits sit
/// right after the IPv6 prefix; the IPv6 suffix may be longer than the IPv4 one (the rest is zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eam {
    pub v4: Ipv4Addr,
    pub v4_len: u8,
    pub v6: Ipv6Addr,
    pub v6_len: u8,
}

impl Eam {
    pub fn new(v4: Ipv4Addr, v4_len: u8, v6: Ipv6Addr, v6_len: u8) -> anyhow::Result<Eam> {
        ensure!(
            v4_len <= 32,
            "IPv4 prefix length /{v4_len} is longer than 32"
        );
        ensure!(
            v6_len <= 128,
            "IPv6 prefix length /{v6_len} is longer than 128"
        );
        let v4_suffix = 32 - u32::from(v4_len);
        let v6_suffix = 128 - u32::from(v6_len);
        if v6_suffix < v4_suffix {
            bail!(
                "mapping {v4}/{v4_len} -> {v6}/{v6_len}: the IPv6 side has {v6_suffix} host bits, \
                 fewer than the {v4_suffix} of the IPv4 side"
            );
        }
        ensure!(
            u32::from(v4) & !mask32(v4_len) == 0,
            "{v4}/{v4_len} has host bits set"
        );
        ensure!(
            u128::from(v6) & !mask128(v6_len) == 0,
            "{v6}/{v6_len} has host bits set"
        );
        Ok(Eam {
            v4,
            v4_len,
            v6,
            v6_len,
        })
    }

    /// Where the IPv4 suffix starts, counted from the least significant bit of the IPv6 address.
    fn shift(&self) -> u32 {
        128 - u32::from(self.v6_len) - (32 - u32::from(self.v4_len))
    }

    pub fn v4_to_v6(&self, addr: Ipv4Addr) -> Option<Ipv6Addr> {
        let a = u32::from(addr);
        let mask = mask32(self.v4_len);
        if a & mask != u32::from(self.v4) {
            return None;
        }
        let suffix = u128::from(a & !mask);
        Some(Ipv6Addr::from(
            u128::from(self.v6) | suffix.checked_shl(self.shift()).unwrap_or(0),
        ))
    }

    pub fn v6_to_v4(&self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        let a = u128::from(addr);
        if a & mask128(self.v6_len) != u128::from(self.v6) {
            return None;
        }
        let suffix = a.checked_shr(self.shift()).unwrap_or(0) as u32 & !mask32(self.v4_len);
        Some(Ipv4Addr::from(u32::from(self.v4) | suffix))
    }
}

pub(crate) fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

pub(crate) fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// The translator's configuration (TAYGA `tayga.conf` terms in brackets).
#[derive(Clone, Debug)]
pub struct TranslatorConfig {
    /// RFC 6052 prefix [`prefix`].
    pub prefix: Option<Prefix>,
    /// RFC 7757 explicit address mappings [`map`]; longest match wins; checked before the prefix.
    pub eam: Vec<Eam>,
    /// The translator's own IPv4 address [`ipv4-addr`]: source of the ICMPv4 errors it sends.
    pub ipv4_addr: Ipv4Addr,
    /// The translator's own IPv6 address [`ipv6-addr`]: source of the ICMPv6 errors it sends.
    pub ipv6_addr: Ipv6Addr,
    /// Source of translated ICMPv4 errors whose IPv6 source has no IPv4 form (RFC 6791);
    /// `None` drops them. TAYGA uses `ipv4_addr`.
    pub rfc6791_v4: Option<Ipv4Addr>,
    /// Source of translated ICMPv6 errors whose IPv4 source has no IPv6 form (Jool's
    /// `rfc6791v6-prefix`); `None` drops them.
    pub rfc6791_v6: Option<Ipv6Addr>,
    /// RFC 6052 §3.1: no non-global IPv4 address behind `64:ff9b::/96` [`wkpf-strict`].
    pub wkpf_strict: bool,
    /// Which IPv4 addresses count as non-global for `wkpf_strict`.
    pub wkp_scope: WkpScope,
    /// The dynamic pool's network [`dynamic-pool`]: its addresses stand only for the hosts
    /// holding them, never for the prefix.
    pub dynamic_pool: Option<(Ipv4Addr, u8)>,
    /// IPv4 UDP with a zero checksum [`udp-cksum-mode`].
    pub udp_checksum_mode: UdpChecksumMode,
    /// IPv4 packets without DF that would exceed this once translated are fragmented
    /// [`offlink-mtu`]; at least 1280.
    pub lowest_ipv6_mtu: u16,
    /// MTU of the IPv4 side: larger translated packets are answered with Packet Too Big.
    pub ipv4_mtu: u16,
    /// MTU of the IPv6 side: larger translated packets with DF are answered with
    /// Fragmentation Needed.
    pub ipv6_mtu: u16,
    /// IPv6 sources allowed to be translated, as (prefix, length); empty: every source
    /// (nat64's `allow_source`). Others are answered with administratively prohibited.
    pub allow_source: Vec<(Ipv6Addr, u8)>,
    /// Stateful NAT64 has no IPv4 address of its own: the ICMPv4 errors it sends about a
    /// packet come from the pool4 address that packet was sent to, as Jool's do.
    pub v4_errors_from_destination: bool,
    /// Stateful NAT64 (set by it): the kernel programs find hosts by flow in the session
    /// maps, never in the host tables.
    pub stateful: bool,
    /// Stateful NAT64 (set by it): the IPv6 prefix length of one subscriber, whose lent port
    /// block the kernel programs open sessions in.
    pub subscriber_prefix_len: u8,
}

impl Default for TranslatorConfig {
    fn default() -> Self {
        TranslatorConfig {
            prefix: None,
            eam: Vec::new(),
            ipv4_addr: Ipv4Addr::UNSPECIFIED,
            ipv6_addr: Ipv6Addr::UNSPECIFIED,
            rfc6791_v4: None,
            rfc6791_v6: None,
            wkpf_strict: true,
            wkp_scope: WkpScope::Registry,
            dynamic_pool: None,
            udp_checksum_mode: UdpChecksumMode::Drop,
            lowest_ipv6_mtu: 1280,
            ipv4_mtu: 1500,
            ipv6_mtu: 1500,
            allow_source: Vec::new(),
            v4_errors_from_destination: false,
            stateful: false,
            subscriber_prefix_len: 128,
        }
    }
}

impl TranslatorConfig {
    /// The settings as the plain-case plan (`nat64_common::plan`) reads them, the same block
    /// the kernel programs get (without where they send packets, which is the kernel's).
    pub fn config_block(&self) -> ConfigBlock {
        let mut block = ConfigBlock::zeroed();
        if let Some(prefix) = self.prefix {
            block.prefix = prefix;
        }
        block.ipv6_addr = self.ipv6_addr.octets();
        block.ipv4_addr = self.ipv4_addr.octets();
        if let Some(a) = self.rfc6791_v4 {
            block.rfc6791_v4 = a.octets();
            block.has_rfc6791_v4 = 1;
        }
        block.wkpf_strict = u8::from(self.wkpf_strict);
        block.wkp_scope = self.wkp_scope as u8;
        block.udp_zero_checksum = self.udp_checksum_mode as u8;
        block.source_filtered = u8::from(!self.allow_source.is_empty());
        block.lowest_ipv6_mtu = self.lowest_ipv6_mtu;
        block.ipv4_mtu = self.ipv4_mtu;
        block.ipv6_mtu = self.ipv6_mtu;
        block.has_eam = u8::from(!self.eam.is_empty());
        block.stateful = u8::from(self.stateful);
        block.subscriber_len = self.subscriber_prefix_len;
        if let Some((net, len)) = self.dynamic_pool {
            block.has_pool = 1;
            block.pool_v4 = net.octets();
            block.pool_len = len;
        }
        block
    }

    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.lowest_ipv6_mtu >= 1280,
            "lowest IPv6 MTU {} is below the IPv6 minimum of 1280",
            self.lowest_ipv6_mtu
        );
        ensure!(
            self.ipv6_mtu >= 1280,
            "IPv6 MTU {} is below the IPv6 minimum of 1280",
            self.ipv6_mtu
        );
        ensure!(
            self.ipv4_mtu >= 68,
            "IPv4 MTU {} is below the IPv4 minimum of 68",
            self.ipv4_mtu
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eam_equal_suffixes() {
        let e = Eam::new(
            "10.0.0.0".parse().unwrap(),
            24,
            "2001:db8:2::".parse().unwrap(),
            120,
        )
        .unwrap();
        assert_eq!(
            e.v4_to_v6("10.0.0.96".parse().unwrap()),
            Some("2001:db8:2::60".parse().unwrap())
        );
        assert_eq!(
            e.v6_to_v4("2001:db8:2::60".parse().unwrap()),
            Some("10.0.0.96".parse().unwrap())
        );
        assert_eq!(e.v4_to_v6("10.0.1.1".parse().unwrap()), None);
        assert_eq!(e.v6_to_v4("2001:db8:2::1:0".parse().unwrap()), None);
    }

    #[test]
    fn eam_longer_ipv6_suffix() {
        let e = Eam::new(
            "192.0.2.0".parse().unwrap(),
            24,
            "2001:db8:1c0:2::".parse().unwrap(),
            72,
        )
        .unwrap();
        assert_eq!(
            e.v4_to_v6("192.0.2.33".parse().unwrap()),
            Some("2001:db8:1c0:2:21::".parse().unwrap())
        );
        assert_eq!(
            e.v6_to_v4("2001:db8:1c0:2:21::".parse().unwrap()),
            Some("192.0.2.33".parse().unwrap())
        );
    }

    #[test]
    fn eam_rejects() {
        let v4: Ipv4Addr = "192.0.2.0".parse().unwrap();
        let v6: Ipv6Addr = "2001:db8::".parse().unwrap();
        assert!(Eam::new(v4, 24, v6, 124).is_err());
        assert!(Eam::new("192.0.2.1".parse().unwrap(), 24, v6, 120).is_err());
        assert!(Eam::new(v4, 33, v6, 120).is_err());
        assert!(Eam::new(v4, 32, v6, 128).is_ok());
    }
}
