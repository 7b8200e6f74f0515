//! What the pool is made of: the IPv4 prefix, the addresses inside it that belong to
//! something else, and the timers that decide when a mapping is idle or forgotten.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// TAYGA 0.9.2 (`conffile.c`, `read_config`): `dyn_min_lease = 7200 + 4 * 60`, "just over
/// two hours", so a host that pauses for the usual two-hour TCP keepalive keeps its address.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(7200 + 4 * 60);
/// TAYGA 0.9.2: `dyn_max_lease = 14 * 86400`.
pub const DEFAULT_FORGET: Duration = Duration::from_secs(14 * 86_400);

/// When a mapping stops being protected, and when it is dropped altogether.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolTimers {
    /// A mapping unused for longer than this is idle: its address may be handed to another
    /// IPv6 host when the pool has no free address left.
    pub idle: Duration,
    /// A mapping unused for longer than this is forgotten and its address freed.
    pub forget: Duration,
}

impl Default for PoolTimers {
    fn default() -> Self {
        Self {
            idle: DEFAULT_IDLE,
            forget: DEFAULT_FORGET,
        }
    }
}

impl PoolTimers {
    /// TAYGA rewrites dynamic.map at least this often even when nothing was assigned
    /// (`max_commit_delay = dyn_max_lease / 4`), so last-use times on disk stay fresh.
    pub fn commit_delay(&self) -> Duration {
        self.forget / 4
    }

    pub(crate) fn idle_secs(&self) -> u64 {
        self.idle.as_secs()
    }

    pub(crate) fn forget_secs(&self) -> u64 {
        self.forget.as_secs()
    }
}

/// The `dynamic-pool` directive plus what the rest of the configuration claims inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    network: Ipv4Addr,
    prefix_len: u8,
    /// Subnets (network, length) inside the pool that must never be handed out: the
    /// translator's own `ipv4-addr` and the IPv4 side of `map` lines more specific than the
    /// pool (TAYGA skips any address whose most specific map is not the pool itself).
    pub reserved_v4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 ranges owned by static maps or the RFC 6052 prefix; a dynamic.map entry whose
    /// IPv6 side falls in one of them is skipped at load, as TAYGA does.
    pub reserved_v6: Vec<(Ipv6Addr, u8)>,
    /// TAYGA 0.9.2 hands out the top address of the pool like any other (the pool is routed,
    /// not on a link). Set this to keep it back anyway; dynamic.map entries on it are then
    /// skipped at load with a warning.
    pub reserve_broadcast: bool,
    pub timers: PoolTimers,
}

/// Why a `dynamic-pool` prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// TAYGA refuses anything longer than /31; a /0 pool would hold the whole Internet.
    PrefixLength(u8),
    /// Host bits set, e.g. `192.0.2.1/24`: almost always a typo for the network.
    HostBitsSet { network: Ipv4Addr, prefix_len: u8 },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PrefixLength(len) => write!(
                f,
                "dynamic-pool prefix length /{len} is not allowed: use /1 to /31"
            ),
            Self::HostBitsSet {
                network,
                prefix_len,
            } => {
                let mask = u32::MAX << (32 - u32::from(*prefix_len));
                let fixed = Ipv4Addr::from(u32::from(*network) & mask);
                write!(
                    f,
                    "dynamic-pool {network}/{prefix_len} has host bits set: did you mean {fixed}/{prefix_len}?"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Whether `addr` lies in `net/len`.
pub(crate) fn in_prefix4(addr: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    u32::from(addr) & mask == u32::from(net) & mask
}

impl PoolConfig {
    /// A pool with TAYGA's defaults: nothing reserved but the network address, default timers.
    pub fn new(network: Ipv4Addr, prefix_len: u8) -> Result<Self, ConfigError> {
        if !(1..=31).contains(&prefix_len) {
            return Err(ConfigError::PrefixLength(prefix_len));
        }
        let host_mask = u32::MAX >> prefix_len;
        if u32::from(network) & host_mask != 0 {
            return Err(ConfigError::HostBitsSet {
                network,
                prefix_len,
            });
        }
        Ok(Self {
            network,
            prefix_len,
            reserved_v4: Vec::new(),
            reserved_v6: Vec::new(),
            reserve_broadcast: false,
            timers: PoolTimers::default(),
        })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The highest address of the pool (its "broadcast" address).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | self.host_mask())
    }

    pub(crate) fn host_mask(&self) -> u32 {
        u32::MAX >> self.prefix_len
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & !self.host_mask() == u32::from(self.network)
    }

    /// True when the pool may hand this address out: inside the pool, not the network
    /// address, not claimed by the configuration.
    pub fn is_allocatable(&self, addr: Ipv4Addr) -> bool {
        self.contains(addr)
            && addr != self.network
            && !(self.reserve_broadcast && addr == self.last())
            && !self
                .reserved_v4
                .iter()
                .any(|&(net, len)| in_prefix4(addr, net, len))
    }

    pub(crate) fn is_reserved_v6(&self, addr: &Ipv6Addr) -> bool {
        self.reserved_v6
            .iter()
            .any(|(prefix, len)| in_prefix6(addr, prefix, *len))
    }
}

fn in_prefix6(addr: &Ipv6Addr, prefix: &Ipv6Addr, len: u8) -> bool {
    let len = u32::from(len.min(128));
    if len == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - len);
    u128::from(*addr) & mask == u128::from(*prefix) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_prefixes() {
        let net = Ipv4Addr::new(192, 0, 2, 0);
        assert_eq!(PoolConfig::new(net, 0), Err(ConfigError::PrefixLength(0)));
        assert_eq!(PoolConfig::new(net, 32), Err(ConfigError::PrefixLength(32)));
        let err = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 1), 24).unwrap_err();
        assert!(err.to_string().contains("192.0.2.0/24"), "{err}");
    }

    #[test]
    fn allocatable_addresses() {
        let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap();
        cfg.reserved_v4.push((Ipv4Addr::new(192, 0, 2, 1), 32));
        assert!(!cfg.is_allocatable(Ipv4Addr::new(192, 0, 2, 0)));
        assert!(!cfg.is_allocatable(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(cfg.is_allocatable(Ipv4Addr::new(192, 0, 2, 2)));
        assert!(cfg.is_allocatable(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(!cfg.is_allocatable(Ipv4Addr::new(192, 0, 3, 1)));
        cfg.reserve_broadcast = true;
        assert!(!cfg.is_allocatable(Ipv4Addr::new(192, 0, 2, 255)));
    }

    #[test]
    fn reserved_v6_prefixes() {
        let mut cfg = PoolConfig::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap();
        cfg.reserved_v6.push(("64:ff9b::".parse().unwrap(), 96));
        assert!(cfg.is_reserved_v6(&"64:ff9b::c000:201".parse().unwrap()));
        assert!(!cfg.is_reserved_v6(&"2001:db8::1".parse().unwrap()));
    }
}
