//! The kernel's stateful binding maps, lent blocks, pool4 set and ring of opened sessions:
//! the [`KernelBindings`] the stateful tables claim their bindings in and adopt the kernel's
//! sessions from. The one place that turns them into the layouts of `nat64_common::maps`.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::anyhow;
use aya::maps::{HashMap, MapData, MapError, RingBuf};
use aya::Ebpf;
use nat64_common::maps::{names, Bib4, Bib6, BibKey4, BibKey6, LentBlock, LentKey, Opened};
use tracing::warn;

use crate::stateful::{Claim, KernelBindings, KernelSession, Lent, Protocol};

/// `BPF_NOEXIST`: the first writer of a key wins.
const NOEXIST: u64 = 1;

pub struct BindingMaps {
    pool4: HashMap<MapData, [u8; 4], u8>,
    by_v6: HashMap<MapData, BibKey6, Bib6>,
    by_v4: HashMap<MapData, BibKey4, Bib4>,
    lent: HashMap<MapData, LentKey, LentBlock>,
    opened: RingBuf<MapData>,
}

impl std::fmt::Debug for BindingMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindingMaps")
    }
}

fn key6(protocol: Protocol, v6: (Ipv6Addr, u16)) -> BibKey6 {
    BibKey6 {
        host: v6.0.octets(),
        host_port: v6.1.to_be_bytes(),
        proto: protocol.ipv4_number(),
        _pad: 0,
    }
}

fn key4(protocol: Protocol, v4: (Ipv4Addr, u16)) -> BibKey4 {
    BibKey4 {
        local: v4.0.octets(),
        local_port: v4.1.to_be_bytes(),
        proto: protocol.ipv4_number(),
        _pad: 0,
    }
}

fn value4(v6: (Ipv6Addr, u16)) -> Bib4 {
    Bib4 {
        host: v6.0.octets(),
        host_port: v6.1.to_be_bytes(),
        _pad: [0; 2],
    }
}

fn value6(v4: (Ipv4Addr, u16)) -> Bib6 {
    Bib6 {
        local: v4.0.octets(),
        local_port: v4.1.to_be_bytes(),
        _pad: [0; 2],
    }
}

fn v4_of(b: &Bib6) -> (Ipv4Addr, u16) {
    (Ipv4Addr::from(b.local), u16::from_be_bytes(b.local_port))
}

fn v6_of(b: &Bib4) -> (Ipv6Addr, u16) {
    (Ipv6Addr::from(b.host), u16::from_be_bytes(b.host_port))
}

fn session_of(o: &Opened) -> Option<KernelSession> {
    Some(KernelSession {
        protocol: Protocol::of_ipv4_number(o.proto)?,
        host: (Ipv6Addr::from(o.host), u16::from_be_bytes(o.host_port)),
        local: (Ipv4Addr::from(o.local), u16::from_be_bytes(o.local_port)),
        remote: (Ipv4Addr::from(o.remote), u16::from_be_bytes(o.remote_port)),
    })
}

impl BindingMaps {
    /// Takes the maps out of the loaded object. Take them once every program of the object
    /// is loaded.
    pub fn take(ebpf: &mut Ebpf) -> anyhow::Result<BindingMaps> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
        };
        Ok(BindingMaps {
            pool4: HashMap::try_from(take(names::POOL4)?)?,
            by_v6: HashMap::try_from(take(names::BIB_6)?)?,
            by_v4: HashMap::try_from(take(names::BIB_4)?)?,
            lent: HashMap::try_from(take(names::LENT_BLOCKS)?)?,
            opened: RingBuf::try_from(take(names::OPENED)?)?,
        })
    }
}

/// A random offset into a block of `len` ports.
fn random_offset(len: u16) -> u16 {
    let mut bytes = [0u8; 2];
    // SAFETY: getrandom writes at most the buffer's length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != 2 {
        return 0;
    }
    u16::from_ne_bytes(bytes) % len.max(1)
}

/// Rounds of [`KernelBindings::claim`] against programs that claim and take back.
const CLAIM_ROUNDS: usize = 4;

/// A full map: the programs cannot enter anything either; the binding is userspace's
/// alone.
fn refused(v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16), err: &MapError) -> Claim {
    warn!("stateful: the kernel's binding map refused {v6:?} -> {v4:?}: {err}");
    Claim::Took
}

/// Whether an insert failed because the key is there already.
fn exists(err: &MapError) -> bool {
    matches!(err, MapError::SyscallError(e) if e.io_error.raw_os_error() == Some(libc::EEXIST))
}

impl KernelBindings for BindingMaps {
    fn bound(&self, protocol: Protocol, v6: (Ipv6Addr, u16)) -> Option<(Ipv4Addr, u16)> {
        self.by_v6
            .get(&key6(protocol, v6), 0)
            .ok()
            .map(|b| v4_of(&b))
    }

    fn claim(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16)) -> Claim {
        let (k4, k6) = (key4(protocol, v4), key6(protocol, v6));
        // An entry found taken but gone again before it could be read was a program's
        // claim taken back: try again, a few times.
        for _ in 0..CLAIM_ROUNDS {
            match self.by_v4.insert(k4, value4(v6), NOEXIST) {
                Ok(()) => {}
                Err(err) if exists(&err) => match self.by_v4.get(&k4, 0) {
                    Ok(theirs) => return Claim::PortTaken(v6_of(&theirs)),
                    Err(_) => continue,
                },
                Err(err) => return refused(v6, v4, &err),
            }
            match self.by_v6.insert(k6, value6(v4), NOEXIST) {
                Ok(()) => return Claim::Took,
                Err(err) => {
                    let _ = self.by_v4.remove(&k4);
                    if !exists(&err) {
                        return refused(v6, v4, &err);
                    }
                    if let Ok(theirs) = self.by_v6.get(&k6, 0) {
                        return Claim::HostBound(v4_of(&theirs));
                    }
                }
            }
        }
        Claim::Took
    }

    fn release(&mut self, protocol: Protocol, v6: (Ipv6Addr, u16), v4: (Ipv4Addr, u16)) {
        // Only what still says so: the programs never change an entry, only add.
        let k6 = key6(protocol, v6);
        if self.by_v6.get(&k6, 0).is_ok_and(|b| v4_of(&b) == v4) {
            let _ = self.by_v6.remove(&k6);
        }
        let k4 = key4(protocol, v4);
        if self.by_v4.get(&k4, 0).is_ok_and(|b| v6_of(&b) == v6) {
            let _ = self.by_v4.remove(&k4);
        }
    }

    fn lend(&mut self, protocol: Protocol, subscriber: Ipv6Addr, block: Option<Lent>) {
        let key = LentKey {
            subscriber: subscriber.octets(),
            proto: protocol.ipv4_number(),
            _pad: [0; 3],
        };
        let result = match block {
            Some(b) => self.lent.insert(
                key,
                LentBlock {
                    addr: b.addr.octets(),
                    first: b.first,
                    len: b.len,
                    // A random start: which ports a subscriber's flows get is not told
                    // by the block alone (RFC 6056).
                    next: random_offset(b.len),
                    _pad: 0,
                },
                0,
            ),
            None => self.lent.remove(&key).or(Ok(())),
        };
        if let Err(err) = result {
            // The subscriber's sessions are then opened by userspace alone.
            warn!(
                "stateful: lending {subscriber}'s {} block to the kernel: {err}",
                protocol.name()
            );
        }
    }

    fn enter_pool4(&mut self, pool4: &[Ipv4Addr]) -> bool {
        let old: Vec<[u8; 4]> = self.pool4.keys().filter_map(Result::ok).collect();
        for k in &old {
            let _ = self.pool4.remove(k);
        }
        for a in pool4 {
            if let Err(err) = self.pool4.insert(a.octets(), 1, 0) {
                warn!("stateful: entering pool4 address {a} in the kernel: {err}");
                return false;
            }
        }
        true
    }

    fn clear(&mut self) {
        let k6: Vec<BibKey6> = self.by_v6.keys().filter_map(Result::ok).collect();
        for k in &k6 {
            let _ = self.by_v6.remove(k);
        }
        let k4: Vec<BibKey4> = self.by_v4.keys().filter_map(Result::ok).collect();
        for k in &k4 {
            let _ = self.by_v4.remove(k);
        }
        let lent: Vec<LentKey> = self.lent.keys().filter_map(Result::ok).collect();
        for k in &lent {
            let _ = self.lent.remove(k);
        }
    }

    fn opened(&mut self, into: &mut Vec<KernelSession>) {
        while let Some(item) = self.opened.next() {
            if item.len() >= std::mem::size_of::<Opened>() {
                let o: Opened =
                    bytemuck::pod_read_unaligned(&item[..std::mem::size_of::<Opened>()]);
                into.extend(session_of(&o));
            }
        }
    }
}
