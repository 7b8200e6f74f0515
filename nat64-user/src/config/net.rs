//! IPv4 and IPv6 prefixes as written in a configuration file.
//!
//! A prefix keeps the address exactly as written, host bits included, so that
//! validation can point at `192.0.2.1/24` and suggest `192.0.2.0/24` instead of
//! silently masking it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 address and prefix length, e.g. `192.168.255.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    len: u8,
}

/// An IPv6 address and prefix length, e.g. `64:ff9b::/96`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    len: u8,
}

/// Either family, for `tun-ip` and `tun-route`, which take both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpNet {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// Splits `addr/len`; `len` must be plain decimal digits (TAYGA's `atoi` would
/// take `/24x` as 24, which hides typos).
fn split_cidr(s: &str) -> Result<(&str, Option<u8>), String> {
    match s.split_once('/') {
        None => Ok((s, None)),
        Some((addr, len)) => {
            if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "\"{s}\": the prefix length \"/{len}\" is not a number"
                ));
            }
            Ok((
                addr,
                Some(
                    len.parse()
                        .map_err(|_| format!("\"{s}\": bad prefix length"))?,
                ),
            ))
        }
    }
}

impl Ipv4Net {
    /// `None` when `len` is over 32.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then_some(Self { addr, len })
    }

    /// A single address, `/32`.
    pub fn host(addr: Ipv4Addr) -> Self {
        Self { addr, len: 32 }
    }

    /// The address as written (host bits included).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The address with the host bits cleared.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask32(self.len))
    }

    /// The number of addresses covered (2^(32 − len)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }

    pub fn has_host_bits(&self) -> bool {
        self.network() != self.addr
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & mask32(self.len) == u32::from(self.network())
    }

    /// Whether every address of `other` is inside `self`.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        self.len <= other.len && self.contains(other.network())
    }

    /// CIDR blocks either nest or are disjoint, so overlap means one covers the other.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// Parses `a.b.c.d/len`, or a bare address with `default_len`.
    pub fn parse_with_default(s: &str, default_len: Option<u8>) -> Result<Self, String> {
        let (addr, len) = split_cidr(s)?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("\"{s}\" is not an IPv4 address"))?;
        let len = len
            .or(default_len)
            .ok_or_else(|| format!("\"{s}\" has no prefix length (\"/n\")"))?;
        Self::new(addr, len).ok_or_else(|| format!("\"{s}\": an IPv4 prefix length is at most 32"))
    }
}

impl Ipv6Net {
    /// `None` when `len` is over 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then_some(Self { addr, len })
    }

    /// A single address, `/128`.
    pub fn host(addr: Ipv6Addr) -> Self {
        Self { addr, len: 128 }
    }

    /// The address as written (host bits included).
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The address with the host bits cleared.
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & mask128(self.len))
    }

    pub fn has_host_bits(&self) -> bool {
        self.network() != self.addr
    }

    pub fn contains(&self, a: Ipv6Addr) -> bool {
        u128::from(a) & mask128(self.len) == u128::from(self.network())
    }

    /// Whether every address of `other` is inside `self`.
    pub fn covers(&self, other: &Ipv6Net) -> bool {
        self.len <= other.len && self.contains(other.network())
    }

    /// CIDR blocks either nest or are disjoint, so overlap means one covers the other.
    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// Parses `x:y::z/len`, or a bare address with `default_len`.
    pub fn parse_with_default(s: &str, default_len: Option<u8>) -> Result<Self, String> {
        let (addr, len) = split_cidr(s)?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("\"{s}\" is not an IPv6 address"))?;
        let len = len
            .or(default_len)
            .ok_or_else(|| format!("\"{s}\" has no prefix length (\"/n\")"))?;
        Self::new(addr, len).ok_or_else(|| format!("\"{s}\": an IPv6 prefix length is at most 128"))
    }
}

impl IpNet {
    /// Parses either family; a bare address is a host route (`/32` or `/128`), as TAYGA's `tun-ip`.
    pub fn parse_host_default(s: &str) -> Result<Self, String> {
        let (addr, _) = split_cidr(s)?;
        if addr.contains(':') {
            Ipv6Net::parse_with_default(s, Some(128)).map(IpNet::V6)
        } else if addr.parse::<Ipv4Addr>().is_ok() {
            Ipv4Net::parse_with_default(s, Some(32)).map(IpNet::V4)
        } else {
            Err(format!("\"{s}\" is neither an IPv4 nor an IPv6 address"))
        }
    }

    pub fn has_host_bits(&self) -> bool {
        match self {
            IpNet::V4(n) => n.has_host_bits(),
            IpNet::V6(n) => n.has_host_bits(),
        }
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse_with_default(s, None)
    }
}

impl FromStr for Ipv6Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse_with_default(s, None)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpNet::V4(n) => n.fmt(f),
            IpNet::V6(n) => n.fmt(f),
        }
    }
}

/// RFC 6052 section 2.2 embedding, by the code the datapath uses. Only meaningful for the
/// six lengths RFC 6052 allows (validation checks the length first).
pub(crate) fn embed_ipv4(prefix: &Ipv6Net, v4: Ipv4Addr) -> Ipv6Addr {
    let prefix = nat64_common::rfc6052::Prefix::new(prefix.network().octets(), prefix.prefix_len());
    match prefix {
        Ok(prefix) => Ipv6Addr::from(prefix.embed(v4.octets())),
        Err(_) => Ipv6Addr::UNSPECIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let n: Ipv4Net = "192.0.2.1/24".parse().unwrap();
        assert!(n.has_host_bits());
        assert_eq!(n.network(), Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(n.size(), 256);
        let n: Ipv6Net = "64:ff9b::/96".parse().unwrap();
        assert!(!n.has_host_bits());
        assert!(n.contains("64:ff9b::c000:201".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("10.0.0.0/2x".parse::<Ipv4Net>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Net>().is_err());
        assert_eq!(
            Ipv4Net::parse_with_default("10.0.0.1", Some(32))
                .unwrap()
                .prefix_len(),
            32
        );
    }

    #[test]
    fn overlap_is_nesting() {
        let a: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        let b: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        let c: Ipv4Net = "11.0.0.0/8".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a) && a.covers(&b) && !b.covers(&a));
        assert!(!a.overlaps(&c));
        let zero: Ipv6Net = "::/0".parse().unwrap();
        assert!(zero.contains(Ipv6Addr::LOCALHOST));
    }

    #[test]
    fn embeds_every_rfc6052_length() {
        // The examples of RFC 6052 section 2.4, 192.0.2.33 under 2001:db8::/n.
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        for (prefix, expected) in [
            ("2001:db8::/32", "2001:db8:c000:221::"),
            ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
            ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
        ] {
            let p: Ipv6Net = prefix.parse().unwrap();
            assert_eq!(
                embed_ipv4(&p, v4),
                expected.parse::<Ipv6Addr>().unwrap(),
                "{prefix}"
            );
        }
    }

    #[test]
    fn either_family() {
        assert_eq!(
            IpNet::parse_host_default("192.0.0.1").unwrap().to_string(),
            "192.0.0.1/32"
        );
        assert_eq!(
            IpNet::parse_host_default("2001:db8::1/64")
                .unwrap()
                .to_string(),
            "2001:db8::1/64"
        );
        assert!(IpNet::parse_host_default("nat64").is_err());
    }
}
