//! One protocol's BIB and session table (RFC 6146 §3.1–3.2): bindings of an IPv6 host's
//! port to a pool4 address and port, and the sessions that keep each binding alive.

use std::collections::HashMap as StdHashMap;

/// The tables are keyed by what senders choose (addresses, ports): a seeded hasher of good
/// quality, much cheaper than SipHash on these short keys.
type HashMap<K, V> = StdHashMap<K, V, foldhash::quality::RandomState>;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use super::blocks::{BlockInfo, Exhausted, PortSpace};
use super::config::{Filtering, Pool4Range, PortBlocks, Protocol, StaticBinding, Timeouts};
use super::kernel::{self, Change, Claim, KernelBindings, KernelSession, Lent};
use super::saved::{Restored, SavedBinding, SavedSession, SavedState};
use super::tcp::{Flags, Side, TcpState};

pub(crate) type End6 = (Ipv6Addr, u16);
pub(crate) type End4 = (Ipv4Addr, u16);

#[derive(Clone, Copy, Debug)]
struct Binding {
    v6: End6,
    is_static: bool,
    sessions: u32,
}

#[derive(Clone, Copy, Debug)]
struct Session {
    tcp: Option<TcpState>,
    expires: Instant,
    /// Entered in the kernel's session maps.
    in_kernel: bool,
}

/// A binding as `nat64 bib` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BindingInfo {
    pub protocol: String,
    pub v6: Ipv6Addr,
    pub port6: u16,
    pub v4: Ipv4Addr,
    pub port4: u16,
    pub is_static: bool,
    pub sessions: u32,
}

/// A session as `nat64 sessions` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub protocol: String,
    pub v6: Ipv6Addr,
    pub port6: u16,
    pub v4: Ipv4Addr,
    pub port4: u16,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
    pub tcp_state: Option<TcpState>,
    /// As of the last packet userspace saw; the kernel may have seen later ones.
    pub expires_in_secs: u64,
    /// Entered in the kernel's session maps: the TC and XDP programs translate its packets.
    #[serde(default)]
    pub in_kernel: bool,
}

/// What one protocol's table has seen since the start, for the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Activity {
    pub translated_v6_to_v4: u64,
    pub translated_v4_to_v6: u64,
    pub sessions_opened: u64,
    pub sessions_expired: u64,
    /// Of the sessions opened, those the kernel programs opened themselves.
    pub sessions_opened_in_kernel: u64,
    /// Sessions the kernel opened that could not be kept (their binding was taken here
    /// meanwhile): removed from the kernel's maps again.
    pub kernel_conflicts: u64,
}

/// How long a session lives after a packet that leaves it in `tcp` (RFC 6146 §3.5).
fn lifetime(protocol: Protocol, tcp: Option<TcpState>, timeouts: &Timeouts) -> std::time::Duration {
    match tcp {
        Some(state) => state.lifetime(timeouts),
        None if protocol == Protocol::Udp => timeouts.udp,
        None => timeouts.icmp,
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    protocol: Protocol,
    activity: Activity,
    by_v6: HashMap<End6, End4>,
    by_v4: HashMap<End4, Binding>,
    /// Keyed by (pool4 end, remote end): the pool4 end names the binding.
    sessions: HashMap<(End4, End4), Session>,
    /// Sessions per (binding, remote address), for address-dependent filtering.
    remote_hosts: HashMap<(End4, Ipv4Addr), u32>,
    ports: PortSpace,
    /// What the kernel's session maps must follow, since the gateway last took it.
    kernel_changes: Vec<Change>,
    /// Bindings removed whose entries in the kernel's binding maps must go too.
    released: Vec<(End6, End4)>,
}

impl Table {
    pub fn new(
        protocol: Protocol,
        pool4: &[Pool4Range],
        blocks: PortBlocks,
        statics: &[StaticBinding],
    ) -> Table {
        let mut t = Table {
            protocol,
            activity: Activity::default(),
            by_v6: HashMap::default(),
            by_v4: HashMap::default(),
            sessions: HashMap::default(),
            remote_hosts: HashMap::default(),
            ports: PortSpace::new(protocol, pool4, blocks),
            kernel_changes: Vec::new(),
            released: Vec::new(),
        };
        for s in statics.iter().filter(|s| s.protocol == protocol) {
            let v6 = (s.v6, s.port6);
            let v4 = (s.v4, s.port4);
            t.ports.reserve_static(s.v4, s.port4);
            t.insert(v6, v4, true);
        }
        t
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// A change the kernel's session maps must follow, decided outside the table.
    pub fn push_kernel_change(&mut self, change: Change) {
        self.kernel_changes.push(change);
    }

    pub fn v4_of(&self, v6: End6) -> Option<End4> {
        self.by_v6.get(&v6).copied()
    }

    pub fn v6_of(&self, v4: End4) -> Option<End6> {
        self.by_v4.get(&v4).map(|b| b.v6)
    }

    /// `v6`'s binding, made (its port from the subscriber's blocks) when it has none.
    /// `true` with a binding made now. With `kernel`, a binding the kernel made first is
    /// taken over, and a new one is claimed there before it counts.
    pub fn bind(
        &mut self,
        v6: End6,
        kernel: Option<&mut (dyn KernelBindings + 'static)>,
    ) -> Result<(End4, bool), Exhausted> {
        if let Some(v4) = self.v4_of(v6) {
            return Ok((v4, false));
        }
        let Some(kernel) = kernel.filter(|_| self.protocol.opens_in_kernel()) else {
            let v4 = self.ports.take(v6.0, v6.1)?;
            self.insert(v6, v4, false);
            return Ok((v4, true));
        };
        if let Some(v4) = kernel.bound(self.protocol, v6) {
            if self.adopt_binding(v6, v4) {
                return Ok((v4, false));
            }
        }
        // Each round takes a port the kernel holds out of the way (adopting its binding),
        // so this ends within the subscriber's ports.
        for _ in 0..=u16::MAX {
            let v4 = self.ports.take(v6.0, v6.1)?;
            match kernel.claim(self.protocol, v6, v4) {
                Claim::Took => {
                    self.insert(v6, v4, false);
                    return Ok((v4, true));
                }
                Claim::PortTaken(theirs) => {
                    self.ports.release(v4.0, v4.1);
                    if !self.adopt_binding(theirs, v4) {
                        // Theirs conflicts with one of ours: the port is kept out of use.
                        self.ports.reserve_static(v4.0, v4.1);
                        self.activity.kernel_conflicts += 1;
                    }
                }
                Claim::HostBound(theirs) => {
                    self.ports.release(v4.0, v4.1);
                    if self.adopt_binding(v6, theirs) {
                        return Ok((theirs, false));
                    }
                    self.activity.kernel_conflicts += 1;
                    return Err(Exhausted::SubscriberLimit);
                }
            }
        }
        Err(Exhausted::SubscriberLimit)
    }

    /// Takes in a binding the kernel made: `false` when it conflicts with one of ours.
    fn adopt_binding(&mut self, v6: End6, v4: End4) -> bool {
        match (self.by_v6.get(&v6), self.by_v4.contains_key(&v4)) {
            (Some(&ours), _) => ours == v4,
            (None, true) => false,
            (None, false) => {
                if !self.ports.claim(v6.0, v4.0, v4.1) {
                    return false;
                }
                self.insert(v6, v4, false);
                true
            }
        }
    }

    /// Takes in a session the kernel opened (already in its session maps), at `now`.
    /// `false` when its binding conflicts with one of ours: the caller takes it out of the
    /// kernel's maps again.
    pub fn adopt_session(&mut self, s: &KernelSession, now: Instant, timeouts: &Timeouts) -> bool {
        if !self.adopt_binding(s.host, s.local) {
            self.activity.kernel_conflicts += 1;
            return false;
        }
        let opened = !self.has_session(s.local, s.remote);
        self.touch(
            s.local,
            s.remote,
            Side::V6,
            Flags::default(),
            true,
            now,
            timeouts,
        );
        if let Some(session) = self.sessions.get_mut(&(s.local, s.remote)) {
            session.in_kernel = true;
        }
        if opened {
            self.activity.sessions_opened_in_kernel += 1;
        }
        true
    }

    /// Every binding, for a kernel whose binding maps are empty (statics included).
    pub fn all_bindings(&self) -> Vec<(End6, End4)> {
        if !self.protocol.opens_in_kernel() {
            return Vec::new();
        }
        self.by_v4.iter().map(|(v4, b)| (b.v6, *v4)).collect()
    }

    /// Lends again every block lent (the kernel's maps were emptied).
    pub fn lend_all(&mut self) {
        self.ports.lend_all();
    }

    /// Hands over the bindings removed and the blocks lent or taken back since the last
    /// call, for the kernel's maps.
    pub fn take_binding_changes(
        &mut self,
        released: &mut Vec<(End6, End4)>,
        lendings: &mut Vec<(Ipv6Addr, Option<Lent>)>,
    ) {
        released.append(&mut self.released);
        self.ports.take_lendings(lendings);
    }

    fn insert(&mut self, v6: End6, v4: End4, is_static: bool) {
        self.by_v6.insert(v6, v4);
        self.by_v4.insert(
            v4,
            Binding {
                v6,
                is_static,
                sessions: 0,
            },
        );
    }

    /// Takes back a binding made for a packet that was then not translated.
    pub fn unbind(&mut self, v4: End4) {
        if let Some(b) = self.by_v4.get(&v4) {
            if b.is_static || b.sessions != 0 {
                return;
            }
            let v6 = b.v6;
            self.by_v6.remove(&v6);
            self.by_v4.remove(&v4);
            self.ports.release(v4.0, v4.1);
            if self.protocol.opens_in_kernel() {
                self.released.push((v6, v4));
            }
        }
    }

    pub fn has_session(&self, local: End4, remote: End4) -> bool {
        self.sessions.contains_key(&(local, remote))
    }

    /// Whether an IPv4 packet from `remote` may use binding `local` (RFC 6146 §3.5.1.1).
    pub fn admits(&self, local: End4, remote: End4, filtering: Filtering) -> bool {
        match filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => {
                self.has_session(local, remote)
                    || self.remote_hosts.contains_key(&(local, remote.0))
            }
        }
    }

    /// Opens (`open`) or refreshes the session of a packet from `side`; `false` when there
    /// is none and `open` is not set.
    #[allow(clippy::too_many_arguments)]
    pub fn touch(
        &mut self,
        local: End4,
        remote: End4,
        side: Side,
        flags: Flags,
        open: bool,
        now: Instant,
        timeouts: &Timeouts,
    ) -> bool {
        let key = (local, remote);
        let protocol = self.protocol;
        let lifetime_of = |tcp| lifetime(protocol, tcp, timeouts);
        if let Some(s) = self.sessions.get_mut(&key) {
            s.tcp = s.tcp.map(|state| state.next(side, flags));
            s.expires = now + lifetime_of(s.tcp);
            return true;
        }
        if !open {
            return false;
        }
        let tcp = (self.protocol == Protocol::Tcp).then(|| TcpState::opened_by(side));
        self.sessions.insert(
            key,
            Session {
                tcp,
                expires: now + lifetime_of(tcp),
                in_kernel: false,
            },
        );
        if let Some(b) = self.by_v4.get_mut(&local) {
            b.sessions += 1;
        }
        *self.remote_hosts.entry((local, remote.0)).or_default() += 1;
        self.activity.sessions_opened += 1;
        true
    }

    /// A packet of this protocol went through, from `side`.
    pub fn translated(&mut self, side: Side) {
        match side {
            Side::V6 => self.activity.translated_v6_to_v4 += 1,
            Side::V4 => self.activity.translated_v4_to_v6 += 1,
        }
    }

    pub fn activity(&self) -> Activity {
        self.activity
    }

    /// Enters the session of (`local`, `remote`) in the kernel's maps when its state lets
    /// the kernel translate its packets, or takes it out when it no longer does.
    pub fn offer_to_kernel(&mut self, local: End4, remote: End4) {
        let Some(host) = self.by_v4.get(&local).map(|b| b.v6) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&(local, remote)) else {
            return;
        };
        let wanted = kernel::may_translate(s.tcp);
        if wanted == s.in_kernel {
            return;
        }
        s.in_kernel = wanted;
        let session = KernelSession {
            protocol: self.protocol,
            host,
            local,
            remote,
        };
        self.kernel_changes.push(if wanted {
            Change::Install(session)
        } else {
            Change::Remove(session)
        });
    }

    /// Forgets what the kernel holds (its maps were emptied, or are gone).
    pub fn forget_kernel(&mut self) {
        for s in self.sessions.values_mut() {
            s.in_kernel = false;
        }
        self.kernel_changes.clear();
    }

    /// Offers every session to a remote `allowed` lets in (see [`Table::offer_to_kernel`]).
    pub fn offer_all_to_kernel(&mut self, allowed: impl Fn(Ipv4Addr) -> bool) {
        let keys: Vec<(End4, End4)> = self.sessions.keys().copied().collect();
        for (local, remote) in keys.into_iter().filter(|(_, r)| allowed(r.0)) {
            self.offer_to_kernel(local, remote);
        }
    }

    /// Hands over what the kernel's maps must follow.
    pub fn take_kernel_changes(&mut self, into: &mut Vec<Change>) {
        into.append(&mut self.kernel_changes);
    }

    /// Removes the sessions that ran out, then the dynamic bindings left without one, then
    /// the blocks left without a binding. A session the kernel translates ran out only if
    /// its last packet there (`kernel_last_use`) is as old. Returns the sessions removed.
    pub fn expire(
        &mut self,
        now: Instant,
        timeouts: &Timeouts,
        kernel_last_use: &mut dyn FnMut(&KernelSession) -> Option<Instant>,
    ) -> usize {
        let mut gone: Vec<(End4, End4)> = Vec::new();
        for (key, s) in self.sessions.iter_mut().filter(|(_, s)| s.expires <= now) {
            if s.in_kernel {
                let host = self.by_v4.get(&key.0).map(|b| b.v6);
                let used = host.and_then(|host| {
                    kernel_last_use(&KernelSession {
                        protocol: self.protocol,
                        host,
                        local: key.0,
                        remote: key.1,
                    })
                });
                if let Some(used) = used {
                    let expires = used + lifetime(self.protocol, s.tcp, timeouts);
                    if expires > now {
                        s.expires = expires;
                        continue;
                    }
                }
            }
            gone.push(*key);
        }
        for (local, remote) in &gone {
            if let Some(s) = self.sessions.remove(&(*local, *remote)) {
                if s.in_kernel {
                    if let Some(b) = self.by_v4.get(local) {
                        self.kernel_changes.push(Change::Remove(KernelSession {
                            protocol: self.protocol,
                            host: b.v6,
                            local: *local,
                            remote: *remote,
                        }));
                    }
                }
            }
            if let Some(n) = self.remote_hosts.get_mut(&(*local, remote.0)) {
                *n -= 1;
                if *n == 0 {
                    self.remote_hosts.remove(&(*local, remote.0));
                }
            }
            if let Some(b) = self.by_v4.get_mut(local) {
                b.sessions = b.sessions.saturating_sub(1);
            }
        }
        let idle: Vec<End4> = self
            .by_v4
            .iter()
            .filter(|(_, b)| !b.is_static && b.sessions == 0)
            .map(|(k, _)| *k)
            .collect();
        for v4 in idle {
            self.unbind(v4);
        }
        self.ports.release_idle_blocks();
        self.activity.sessions_expired += gone.len() as u64;
        gone.len()
    }

    pub fn bindings(&self) -> Vec<BindingInfo> {
        let mut list: Vec<BindingInfo> = self
            .by_v4
            .iter()
            .map(|(v4, b)| BindingInfo {
                protocol: self.protocol.name().to_owned(),
                v6: b.v6.0,
                port6: b.v6.1,
                v4: v4.0,
                port4: v4.1,
                is_static: b.is_static,
                sessions: b.sessions,
            })
            .collect();
        list.sort_by_key(|b| (b.v4, b.port4));
        list
    }

    pub fn sessions(&self, now: Instant) -> Vec<SessionInfo> {
        let mut list: Vec<SessionInfo> = self
            .sessions
            .iter()
            .filter_map(|((local, remote), s)| {
                let b = self.by_v4.get(local)?;
                Some(SessionInfo {
                    protocol: self.protocol.name().to_owned(),
                    v6: b.v6.0,
                    port6: b.v6.1,
                    v4: local.0,
                    port4: local.1,
                    remote: remote.0,
                    remote_port: remote.1,
                    tcp_state: s.tcp,
                    expires_in_secs: s.expires.saturating_duration_since(now).as_secs(),
                    in_kernel: s.in_kernel,
                })
            })
            .collect();
        list.sort_by_key(|s| (s.v4, s.port4, s.remote, s.remote_port));
        list
    }

    pub fn blocks(&self) -> Vec<BlockInfo> {
        self.ports.listing()
    }

    /// The dynamic bindings and every session, for a restart.
    pub fn save(&self, now: Instant, into: &mut SavedState) {
        let protocol = self.protocol.name();
        for (v4, b) in self.by_v4.iter().filter(|(_, b)| !b.is_static) {
            into.bindings.push(SavedBinding {
                protocol: protocol.to_owned(),
                v6: b.v6.0,
                port6: b.v6.1,
                v4: v4.0,
                port4: v4.1,
            });
        }
        for ((local, remote), s) in &self.sessions {
            into.sessions.push(SavedSession {
                protocol: protocol.to_owned(),
                v4: local.0,
                port4: local.1,
                remote: remote.0,
                remote_port: remote.1,
                tcp_state: s.tcp,
                expires_in_ms: s.expires.saturating_duration_since(now).as_millis() as u64,
            });
        }
    }

    /// Takes back what [`Table::save`] wrote, as far as the configuration allows.
    pub fn restore(&mut self, saved: &SavedState, now: Instant, restored: &mut Restored) {
        let protocol = self.protocol.name();
        for b in saved.bindings.iter().filter(|b| b.protocol == protocol) {
            let (v6, v4) = ((b.v6, b.port6), (b.v4, b.port4));
            if self.by_v6.contains_key(&v6)
                || self.by_v4.contains_key(&v4)
                || !self.ports.claim(b.v6, b.v4, b.port4)
            {
                restored.dropped += 1;
                continue;
            }
            self.insert(v6, v4, false);
            restored.bindings += 1;
        }
        for s in saved.sessions.iter().filter(|s| s.protocol == protocol) {
            let (local, remote) = ((s.v4, s.port4), (s.remote, s.remote_port));
            if !self.by_v4.contains_key(&local) || self.sessions.contains_key(&(local, remote)) {
                continue;
            }
            self.sessions.insert(
                (local, remote),
                Session {
                    tcp: s.tcp_state,
                    expires: now + std::time::Duration::from_millis(s.expires_in_ms),
                    in_kernel: false,
                },
            );
            if let Some(b) = self.by_v4.get_mut(&local) {
                b.sessions += 1;
            }
            *self.remote_hosts.entry((local, remote.0)).or_default() += 1;
            restored.sessions += 1;
        }
    }

    /// What must hold between the tables whatever packets came (for tests and the fuzzer):
    /// each binding found from both ends, each dynamic one on a port its subscriber's block
    /// holds, each session on a binding that counts it.
    pub fn violations(&self) -> Vec<String> {
        let p = self.protocol.name();
        let mut found = Vec::new();
        let mut counted: HashMap<End4, u32> = HashMap::default();
        for (local, _) in self.sessions.keys() {
            *counted.entry(*local).or_default() += 1;
            if !self.by_v4.contains_key(local) {
                found.push(format!("{p} session on {local:?}, which has no binding"));
            }
        }
        for (v4, b) in &self.by_v4 {
            if self.by_v6.get(&b.v6) != Some(v4) {
                found.push(format!("{p} binding {v4:?} not found from its IPv6 end"));
            }
            if !b.is_static && !self.ports.held_by(b.v6.0, v4.0, v4.1) {
                found.push(format!(
                    "{p} binding {v4:?} on a port its subscriber does not hold"
                ));
            }
            let sessions = counted.get(v4).copied().unwrap_or(0);
            if sessions != b.sessions {
                found.push(format!(
                    "{p} binding {v4:?} counts {} sessions of {sessions}",
                    b.sessions
                ));
            }
        }
        for (v6, v4) in &self.by_v6 {
            if self.by_v4.get(v4).map(|b| b.v6) != Some(*v6) {
                found.push(format!("{p} binding {v6:?} not found from its IPv4 end"));
            }
        }
        let dynamic = self.by_v4.values().filter(|b| !b.is_static).count() as u64;
        if self.ports.in_use() != dynamic {
            found.push(format!(
                "{p}: {} ports in use in the blocks, {dynamic} dynamic bindings",
                self.ports.in_use()
            ));
        }
        found
    }

    pub fn block_usage(&self) -> (usize, usize) {
        self.ports.usage()
    }

    pub fn counts(&self) -> (usize, usize) {
        (self.by_v4.len(), self.sessions.len())
    }
}
