//! Port blocks per subscriber (RFC 6888 REQ-4, RFC 7422): pool4's ports of one protocol cut
//! into blocks; a subscriber (an IPv6 prefix) is handed whole blocks, more on demand up to a
//! limit, and each new binding takes a port inside its own blocks. A block assigned and a
//! block released are one log line each: the record a carrier keeps instead of one per
//! session.

use std::collections::{HashMap, VecDeque};

/// Where one pool4 range's blocks sit in [`PortSpace::blocks`], so a port finds its block by
/// arithmetic.
#[derive(Debug)]
struct RangeIndex {
    addr: Ipv4Addr,
    first: u32,
    end: u32,
    base: usize,
}
use std::net::{Ipv4Addr, Ipv6Addr};

use super::config::{Pool4Range, PortBlocks, Protocol};
use super::kernel::Lent;

/// A subscriber: the IPv6 address masked to the configured prefix length.
pub type Subscriber = Ipv6Addr;

/// The same mask as the kernel programs apply to key the blocks lent to them.
pub fn subscriber_of(v6: Ipv6Addr, prefix_len: u8) -> Subscriber {
    Ipv6Addr::from(nat64_common::rfc6052::masked(&v6.octets(), prefix_len))
}

#[derive(Debug)]
struct Block {
    addr: Ipv4Addr,
    first: u16,
    len: u16,
    /// One bit per port: taken by a binding (dynamic or static).
    taken: Vec<u64>,
    /// Dynamic bindings in the block (static ones never make a block busy).
    in_use: u32,
    owner: Option<Subscriber>,
    /// Where the next search for a free port starts.
    hint: u16,
}

impl Block {
    fn contains(&self, addr: Ipv4Addr, port: u16) -> bool {
        self.addr == addr && port >= self.first && u32::from(port) < self.end()
    }

    fn end(&self) -> u32 {
        u32::from(self.first) + u32::from(self.len)
    }

    fn is_taken(&self, port: u16) -> bool {
        let i = usize::from(port - self.first);
        self.taken[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, port: u16, on: bool) {
        let i = usize::from(port - self.first);
        if on {
            self.taken[i / 64] |= 1 << (i % 64);
        } else {
            self.taken[i / 64] &= !(1 << (i % 64));
        }
    }

    /// A free port, `preferred` when it is free here.
    fn free_port(&mut self, preferred: u16) -> Option<u16> {
        if self.contains(self.addr, preferred) && !self.is_taken(preferred) {
            return Some(preferred);
        }
        for step in 0..self.len {
            let offset = (u32::from(self.hint) + u32::from(step)) % u32::from(self.len);
            let port = self.first + offset as u16;
            if !self.is_taken(port) {
                self.hint = ((offset + 1) % u32::from(self.len)) as u16;
                return Some(port);
            }
        }
        None
    }
}

/// A block as listed by `nat64 blocks`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockInfo {
    pub protocol: String,
    pub subscriber: Ipv6Addr,
    pub addr: Ipv4Addr,
    pub first_port: u16,
    pub last_port: u16,
    pub in_use: u32,
}

/// Why no port was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// The subscriber holds its limit of blocks, all full.
    SubscriberLimit,
    /// pool4 has no free block left.
    PoolEmpty,
}

/// One protocol's port space.
#[derive(Debug)]
pub struct PortSpace {
    protocol: Protocol,
    blocks: Vec<Block>,
    ranges: Vec<RangeIndex>,
    free: VecDeque<usize>,
    held: HashMap<Subscriber, Vec<usize>>,
    rules: PortBlocks,
    /// Dynamic bindings in all blocks together.
    in_use: u64,
    /// The block each subscriber lends the kernel programs (its newest), for protocols they
    /// open sessions of.
    lent: HashMap<Subscriber, usize>,
    /// Changes of `lent` the kernel has not been told of.
    lendings: Vec<(Subscriber, Option<Lent>)>,
}

impl PortSpace {
    pub fn new(protocol: Protocol, pool4: &[Pool4Range], rules: PortBlocks) -> PortSpace {
        let mut blocks = Vec::new();
        let mut ranges = Vec::new();
        for range in pool4.iter().filter(|r| r.protocol == protocol) {
            let end = u32::from(*range.ports.end()) + 1;
            let mut first = u32::from(*range.ports.start());
            ranges.push(RangeIndex {
                addr: range.addr,
                first,
                end,
                base: blocks.len(),
            });
            while first < end {
                let len = (end - first).min(u32::from(rules.block_size)) as u16;
                blocks.push(Block {
                    addr: range.addr,
                    first: first as u16,
                    len,
                    taken: vec![0; usize::from(len).div_ceil(64)],
                    in_use: 0,
                    owner: None,
                    hint: 0,
                });
                first += u32::from(len);
            }
        }
        PortSpace {
            protocol,
            free: (0..blocks.len()).collect(),
            blocks,
            ranges,
            held: HashMap::new(),
            rules,
            in_use: 0,
            lent: HashMap::new(),
            lendings: Vec::new(),
        }
    }

    /// Lends block `i` (`None`: nothing) to `sub`'s new bindings in the kernel.
    fn lend(&mut self, sub: Subscriber, i: Option<usize>) {
        if !self.protocol.opens_in_kernel() {
            return;
        }
        match i {
            Some(i) => self.lent.insert(sub, i),
            None => self.lent.remove(&sub),
        };
        let block = i.and_then(|i| self.blocks.get(i)).map(|b| Lent {
            addr: b.addr,
            first: b.first,
            len: b.len,
        });
        self.lendings.push((sub, block));
    }

    /// Lends again every block lent (the kernel's maps were emptied).
    pub fn lend_all(&mut self) {
        let lent: Vec<(Subscriber, usize)> = self.lent.iter().map(|(s, i)| (*s, *i)).collect();
        for (sub, i) in lent {
            self.lend(sub, Some(i));
        }
    }

    /// Hands over the lendings the kernel has not been told of.
    pub fn take_lendings(&mut self, into: &mut Vec<(Subscriber, Option<Lent>)>) {
        into.append(&mut self.lendings);
    }

    fn block_of(&self, addr: Ipv4Addr, port: u16) -> Option<usize> {
        let port = u32::from(port);
        let r = self
            .ranges
            .iter()
            .find(|r| r.addr == addr && (r.first..r.end).contains(&port))?;
        let i = r.base + ((port - r.first) / u32::from(self.rules.block_size)) as usize;
        self.blocks
            .get(i)
            .filter(|b| b.contains(addr, port as u16))
            .map(|_| i)
    }

    /// Marks a static binding's port taken for good. A port outside pool4 needs nothing.
    pub fn reserve_static(&mut self, addr: Ipv4Addr, port: u16) {
        if let Some(i) = self.block_of(addr, port) {
            self.blocks[i].set(port, true);
        }
    }

    /// A port for a new binding of `v6`'s subscriber: `preferred` (the IPv6 side's own
    /// port) when it is free in one of its blocks, else any free port in them, else in a
    /// block newly assigned.
    pub fn take(&mut self, v6: Ipv6Addr, preferred: u16) -> Result<(Ipv4Addr, u16), Exhausted> {
        let sub = subscriber_of(v6, self.rules.subscriber_prefix_len);
        let held = self.held.get(&sub).map_or(&[][..], Vec::as_slice);
        let with_preferred = held.iter().copied().find(|&i| {
            let b = &self.blocks[i];
            b.contains(b.addr, preferred) && !b.is_taken(preferred)
        });
        let held_count = held.len();
        for k in 0..=held_count {
            let i = match (k, with_preferred) {
                (0, Some(i)) => i,
                (0, None) => continue,
                (k, _) => match self.held.get(&sub).and_then(|h| h.get(k - 1)) {
                    Some(&i) => i,
                    None => break,
                },
            };
            if let Some(port) = self.blocks[i].free_port(preferred) {
                return Ok(self.mark(i, port));
            }
        }
        if held_count >= usize::from(self.rules.max_blocks) {
            return Err(Exhausted::SubscriberLimit);
        }
        let i = self.assign_block(sub, preferred)?;
        let port = self.blocks[i]
            .free_port(preferred)
            .ok_or(Exhausted::PoolEmpty)?;
        Ok(self.mark(i, port))
    }

    /// Takes `addr#port` for `v6`'s subscriber, as a restart restores it: the block holding
    /// it becomes the subscriber's if it is free (logged), and must be its own otherwise.
    /// `false` when that cannot be (outside pool4, another's block, taken, past the limit).
    pub fn claim(&mut self, v6: Ipv6Addr, addr: Ipv4Addr, port: u16) -> bool {
        let sub = subscriber_of(v6, self.rules.subscriber_prefix_len);
        let Some(i) = self.block_of(addr, port) else {
            return false;
        };
        match self.blocks[i].owner {
            Some(owner) if owner != sub => return false,
            Some(_) => {}
            None => {
                let held = self.held.get(&sub).map_or(0, Vec::len);
                let Some(at) = self.free.iter().position(|&j| j == i) else {
                    return false;
                };
                if held >= usize::from(self.rules.max_blocks) {
                    return false;
                }
                self.free.remove(at);
                self.blocks[i].owner = Some(sub);
                self.held.entry(sub).or_default().push(i);
                self.log_block("assigned", i);
                if !self.lent.contains_key(&sub) {
                    self.lend(sub, Some(i));
                }
            }
        }
        if self.blocks[i].is_taken(port) {
            return false;
        }
        self.mark(i, port);
        true
    }

    fn log_block(&self, what: &str, i: usize) {
        let b = &self.blocks[i];
        if let Some(sub) = b.owner {
            tracing::info!(
                target: "nat64::port_blocks",
                "port block {what}: subscriber {sub}/{} {} {} ports {}-{}",
                self.rules.subscriber_prefix_len,
                self.protocol.name(),
                b.addr,
                b.first,
                b.end() - 1
            );
        }
    }

    fn mark(&mut self, i: usize, port: u16) -> (Ipv4Addr, u16) {
        let b = &mut self.blocks[i];
        b.set(port, true);
        b.in_use += 1;
        self.in_use += 1;
        (b.addr, port)
    }

    /// A free block for `sub` (one holding `preferred` if there is one, so a port is kept
    /// where it can be), logged.
    fn assign_block(&mut self, sub: Subscriber, preferred: u16) -> Result<usize, Exhausted> {
        let usable = |b: &Block| (0..b.len).any(|o| !b.is_taken(b.first + o));
        let pick = self
            .free
            .iter()
            .position(|&i| {
                let b = &self.blocks[i];
                b.contains(b.addr, preferred) && !b.is_taken(preferred)
            })
            .or_else(|| self.free.iter().position(|&i| usable(&self.blocks[i])))
            .ok_or(Exhausted::PoolEmpty)?;
        let i = self.free.remove(pick).ok_or(Exhausted::PoolEmpty)?;
        let b = &mut self.blocks[i];
        b.owner = Some(sub);
        b.hint = 0;
        self.held.entry(sub).or_default().push(i);
        self.log_block("assigned", i);
        self.lend(sub, Some(i));
        Ok(i)
    }

    /// Gives a dynamic binding's port back.
    pub fn release(&mut self, addr: Ipv4Addr, port: u16) {
        if let Some(i) = self.block_of(addr, port) {
            let b = &mut self.blocks[i];
            if b.is_taken(port) {
                b.set(port, false);
                b.in_use = b.in_use.saturating_sub(1);
                self.in_use = self.in_use.saturating_sub(1);
            }
        }
    }

    /// Takes back every block no binding uses any more, logged.
    pub fn release_idle_blocks(&mut self) {
        for i in 0..self.blocks.len() {
            let b = &self.blocks[i];
            let Some(sub) = b.owner else { continue };
            if b.in_use != 0 {
                continue;
            }
            self.log_block("released", i);
            self.blocks[i].owner = None;
            if let Some(list) = self.held.get_mut(&sub) {
                list.retain(|&j| j != i);
                if list.is_empty() {
                    self.held.remove(&sub);
                }
            }
            if self.lent.get(&sub) == Some(&i) {
                let newest = self.held.get(&sub).and_then(|h| h.last()).copied();
                self.lend(sub, newest);
            }
            self.free.push_back(i);
        }
    }

    /// Whether `addr#port` is taken in a block `v6`'s subscriber holds (what every dynamic
    /// binding must be).
    pub fn held_by(&self, v6: Ipv6Addr, addr: Ipv4Addr, port: u16) -> bool {
        let sub = subscriber_of(v6, self.rules.subscriber_prefix_len);
        self.block_of(addr, port).is_some_and(|i| {
            let b = &self.blocks[i];
            b.owner == Some(sub) && b.is_taken(port)
        })
    }

    /// Dynamic bindings counted in the blocks, all blocks together.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    pub fn listing(&self) -> Vec<BlockInfo> {
        self.blocks
            .iter()
            .filter_map(|b| {
                Some(BlockInfo {
                    protocol: self.protocol.name().to_owned(),
                    subscriber: b.owner?,
                    addr: b.addr,
                    first_port: b.first,
                    last_port: (b.end() - 1) as u16,
                    in_use: b.in_use,
                })
            })
            .collect()
    }

    /// (blocks assigned, blocks in pool4)
    pub fn usage(&self) -> (usize, usize) {
        (self.blocks.len() - self.free.len(), self.blocks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(block_size: u16, max_blocks: u16, ports: std::ops::RangeInclusive<u16>) -> PortSpace {
        PortSpace::new(
            Protocol::Udp,
            &[Pool4Range {
                protocol: Protocol::Udp,
                addr: Ipv4Addr::new(192, 0, 2, 2),
                ports,
            }],
            PortBlocks {
                subscriber_prefix_len: 64,
                block_size,
                max_blocks,
            },
        )
    }

    fn host(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n)
    }

    #[test]
    fn a_port_is_kept_when_it_is_free_in_the_subscribers_block() {
        let mut s = space(100, 2, 1000..=1999);
        assert_eq!(s.take(host(1), 1050).unwrap().1, 1050);
        // Same /64: the same block, the preferred port taken, another one given.
        let (_, p) = s.take(host(2), 1050).unwrap();
        assert!((1000..1100).contains(&p) && p != 1050);
        assert_eq!(s.usage().0, 1);
    }

    #[test]
    fn a_subscriber_past_its_blocks_is_refused_and_others_carry_on() {
        let mut s = space(2, 2, 1000..=1009);
        for _ in 0..4 {
            s.take(host(1), 0).unwrap();
        }
        assert_eq!(s.take(host(1), 0), Err(Exhausted::SubscriberLimit));
        let other = Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
        assert!(s.take(other, 0).is_ok());
    }

    #[test]
    fn idle_blocks_go_back_to_the_pool() {
        let mut s = space(10, 1, 1000..=1019);
        let (a, p) = s.take(host(1), 0).unwrap();
        s.release_idle_blocks();
        assert_eq!(s.usage().0, 1, "a block in use stays");
        s.release(a, p);
        s.release_idle_blocks();
        assert_eq!(s.usage().0, 0);
        assert!(s.listing().is_empty());
    }

    #[test]
    fn static_ports_are_never_handed_out() {
        let mut s = space(3, 1, 1000..=1002);
        s.reserve_static(Ipv4Addr::new(192, 0, 2, 2), 1001);
        let mut got = vec![
            s.take(host(1), 1001).unwrap().1,
            s.take(host(1), 1001).unwrap().1,
        ];
        got.sort();
        assert_eq!(got, vec![1000, 1002]);
        assert!(s.take(host(1), 0).is_err());
    }
}
