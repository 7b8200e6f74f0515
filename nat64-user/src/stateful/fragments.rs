//! RFC 6146 §3.4: fragments other than the first carry no ports, so they follow the binding
//! their first fragment found; those that arrive before it wait, a bounded number for a
//! bounded time (FRAGMENT_MIN, 2 s), and are dropped when it does not come.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::tables::{End4, End6};

/// How long a datagram's binding is remembered for its later fragments, and how long a
/// fragment waits for its first.
pub const FRAGMENT_TIME: Duration = Duration::from_secs(2);
/// Fragments waiting at once, all datagrams together.
pub const MAX_WAITING: usize = 256;
/// Datagrams whose binding is remembered at once.
pub const MAX_DATAGRAMS: usize = 16_384;

/// A datagram: source, destination (IPv4 ones as IPv4-mapped), identification, protocol.
pub type DatagramKey = ([u8; 16], [u8; 16], u32, u8);

pub fn v4_key(src: [u8; 4], dst: [u8; 4], id: u32, proto: u8) -> DatagramKey {
    let map = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets();
    (map(src), map(dst), id, proto)
}

/// What the first fragment found: the pool4 end of an IPv6 datagram's binding, or the IPv6
/// host of an IPv4 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Six(End4),
    Four(End6),
}

#[derive(Debug, Default)]
pub struct Fragments {
    datagrams: HashMap<DatagramKey, (Found, Instant)>,
    waiting: Vec<(DatagramKey, Vec<u8>, Instant)>,
}

impl Fragments {
    /// The first fragment of `key` found `found`.
    pub fn first_seen(&mut self, key: DatagramKey, found: Found, now: Instant) {
        if self.datagrams.len() >= MAX_DATAGRAMS {
            self.expire(now);
        }
        if self.datagrams.len() < MAX_DATAGRAMS {
            self.datagrams.insert(key, (found, now + FRAGMENT_TIME));
        }
    }

    pub fn found(&self, key: &DatagramKey, now: Instant) -> Option<Found> {
        self.datagrams
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(f, _)| *f)
    }

    /// Keeps a fragment until its first comes; `false` when too many wait already.
    pub fn wait(&mut self, key: DatagramKey, packet: &[u8], now: Instant) -> bool {
        if self.waiting.len() >= MAX_WAITING {
            self.expire(now);
        }
        if self.waiting.len() >= MAX_WAITING {
            return false;
        }
        self.waiting
            .push((key, packet.to_vec(), now + FRAGMENT_TIME));
        true
    }

    /// The fragments that waited for `key`'s first.
    pub fn take_waiting(&mut self, key: &DatagramKey) -> Vec<Vec<u8>> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(k, _, _)| k == key);
        self.waiting = rest;
        mine.into_iter().map(|(_, p, _)| p).collect()
    }

    /// Forgets what ran out; returns the fragments dropped unanswered.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.datagrams.retain(|_, (_, until)| *until > now);
        let before = self.waiting.len();
        self.waiting.retain(|(_, _, until)| *until > now);
        before - self.waiting.len()
    }
}
