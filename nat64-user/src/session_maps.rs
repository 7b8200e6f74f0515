//! The kernel's stateful session maps, written from the stateful tables' changes: the one
//! place that turns a [`KernelSession`] into the layouts of `nat64_common::maps`, and reads
//! back when the kernel last translated a packet of one.

use anyhow::{anyhow, Context as _};
use aya::maps::{HashMap, MapData};
use aya::Ebpf;
use nat64_common::maps::{names, Session4, Session6, SessionKey4, SessionKey6};

use crate::stateful::{Change, KernelSession};

type Sessions6 = HashMap<MapData, SessionKey6, Session6>;
type Sessions4 = HashMap<MapData, SessionKey4, Session4>;

/// Both session maps, taken out of the loaded object: whoever holds this is the only one who
/// writes them (the programs only stamp last use). Take them once every program of the
/// object is loaded.
pub struct SessionMaps {
    six: Sessions6,
    four: Sessions4,
}

fn key6(s: &KernelSession) -> SessionKey6 {
    SessionKey6 {
        host: s.host.0.octets(),
        remote: s.remote.0.octets(),
        host_port: s.host.1.to_be_bytes(),
        remote_port: s.remote.1.to_be_bytes(),
        proto: s.protocol.ipv4_number(),
        _pad: [0; 3],
    }
}

fn key4(s: &KernelSession) -> SessionKey4 {
    SessionKey4 {
        remote: s.remote.0.octets(),
        local: s.local.0.octets(),
        remote_port: s.remote.1.to_be_bytes(),
        local_port: s.local.1.to_be_bytes(),
        proto: s.protocol.ipv4_number(),
        _pad: [0; 3],
    }
}

impl SessionMaps {
    pub fn take(ebpf: &mut Ebpf) -> anyhow::Result<SessionMaps> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
        };
        Ok(SessionMaps {
            six: HashMap::try_from(take(names::SESSIONS_6)?)?,
            four: HashMap::try_from(take(names::SESSIONS_4)?)?,
        })
    }

    /// Empties both maps (what an earlier run left is entered again from its state file).
    pub fn clear(&mut self) -> anyhow::Result<usize> {
        let six: Vec<SessionKey6> = self.six.keys().collect::<Result<_, _>>()?;
        let four: Vec<SessionKey4> = self.four.keys().collect::<Result<_, _>>()?;
        for k in &six {
            let _ = self.six.remove(k);
        }
        for k in &four {
            let _ = self.four.remove(k);
        }
        Ok(six.len().max(four.len()))
    }

    /// Applies one change. A session the maps have no room for stays with userspace (its
    /// packets keep reaching the TUN workers): an error to count, not to stop for.
    pub fn apply(&mut self, change: &Change) -> anyhow::Result<()> {
        match change {
            Change::Install(s) => {
                let six = Session6 {
                    local: s.local.0.octets(),
                    local_port: s.local.1.to_be_bytes(),
                    _pad: [0; 2],
                    last_use_ns: 0,
                };
                let four = Session4 {
                    host: s.host.0.octets(),
                    host_port: s.host.1.to_be_bytes(),
                    _pad: [0; 6],
                    last_use_ns: 0,
                };
                self.six
                    .insert(key6(s), six, 0)
                    .with_context(|| format!("entering session {s:?}"))?;
                if let Err(err) = self.four.insert(key4(s), four, 0) {
                    let _ = self.six.remove(&key6(s));
                    return Err(err).with_context(|| format!("entering session {s:?}"));
                }
            }
            Change::Remove(s) => {
                let _ = self.six.remove(&key6(s));
                let _ = self.four.remove(&key4(s));
            }
        }
        Ok(())
    }

    /// When the kernel last translated a packet of `s`, either way (CLOCK_BOOTTIME ns); `None`
    /// when it has not, or holds no such session.
    pub fn last_use_ns(&self, s: &KernelSession) -> Option<u64> {
        let six = self.six.get(&key6(s), 0).map_or(0, |v| v.last_use_ns);
        let four = self.four.get(&key4(s), 0).map_or(0, |v| v.last_use_ns);
        Some(six.max(four)).filter(|&t| t != 0)
    }

    /// The maps' file descriptors (their fdinfo tells the kernel memory they take).
    pub fn fds(&self) -> [i32; 2] {
        use aya::maps::IterableMap as _;
        use std::os::fd::{AsFd as _, AsRawFd as _};
        [
            self.six.map().fd().as_fd().as_raw_fd(),
            self.four.map().fd().as_fd().as_raw_fd(),
        ]
    }

    /// Sessions in the IPv6-side map.
    pub fn len(&self) -> usize {
        self.six.keys().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
