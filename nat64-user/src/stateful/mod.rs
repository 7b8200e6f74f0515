//! Stateful NAT64 (RFC 6146): every IPv6 client behind the addresses of pool4, each new
//! flow given a binding (a pool4 address and port, or ICMP identifier) from its
//! subscriber's port blocks, kept alive by sessions and their timers.
//!
//! Layered on the stateless translator: the flow decides the binding (plan), the RFC 7915
//! translator translates the headers with the binding's addresses, and the binding's port
//! (and on the IPv6 side its host) is then written into the packet or into the packet an
//! ICMP error quotes (apply). Hairpinning (§3.8) is the IPv4 result translated once more.

pub mod blocks;
pub mod config;
mod flow;
mod fragments;
pub mod kernel;
mod rewrite;
pub mod saved;
mod tables;
pub mod tcp;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use anyhow::{ensure, Context as _};
use nat64_common::counters::DropReason;
use nat64_common::rfc6052::Prefix;
use nat64_common::wire::{icmp, ipv4, ipv6};

pub use blocks::BlockInfo;
pub use config::{
    Filtering, Pool4Range, PortBlocks, Protocol, StatefulConfig, StaticBinding, Timeouts,
};
pub use kernel::{Change, Claim, KernelBindings, KernelSession, Lent};
pub use tables::{Activity, BindingInfo, SessionInfo};

use crate::translate::wire::{self, parse_v4, parse_v6};
use crate::translate::{DynamicMap, NoDynamicMap, Output, Translator, TranslatorConfig, Verdict};
use flow::Kind;
use fragments::{DatagramKey, Found};
use tables::{End4, Table};
use tcp::Side;

/// Whether `a` is one of pool4's addresses (`pool4` sorted).
fn pool4_holds(pool4: &[Ipv4Addr], a: Ipv4Addr) -> bool {
    pool4.binary_search(&a).is_ok()
}

/// The stateless translator's pool for one packet: every IPv6 host outside the prefix is
/// the binding's pool4 address (the packet's own host, or a router quoting it).
struct BindingAddress(Ipv4Addr);

impl DynamicMap for BindingAddress {
    fn lookup_v6(&mut self, _v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        Some(self.0)
    }
    fn lookup_v4(&mut self, _v4: &Ipv4Addr) -> Option<Ipv6Addr> {
        None
    }
}

/// An IPv4 SYN with no binding to take it, held for a simultaneous open (§3.5.2.2).
#[derive(Debug)]
struct HeldSyn {
    local: End4,
    remote: End4,
    packet: Vec<u8>,
    /// When the SYN is a hairpinned IPv6 one, the packet its IPv6 sender sent: the error
    /// goes back to it, from the translator's IPv6 address.
    from_v6: Option<Vec<u8>>,
    deadline: Instant,
}

/// Counts of the tables, for `nat64 stats` and the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    pub bindings: [usize; 3],
    pub sessions: [usize; 3],
    pub blocks_assigned: [usize; 3],
    pub blocks_total: [usize; 3],
    pub held_syns: usize,
    /// Since the start, by protocol.
    pub activity: [tables::Activity; 3],
}

/// The stateful translator: the RFC 7915 translator plus the state of RFC 6146.
#[derive(Debug)]
pub struct Nat64 {
    translator: Translator,
    cfg: StatefulConfig,
    prefix: Prefix,
    pool4: Vec<Ipv4Addr>,
    tables: [Table; 3],
    held: Vec<HeldSyn>,
    fragments: fragments::Fragments,
    /// Working space for the first crossing of a hairpinned packet, and for fragments that
    /// waited for their first.
    hairpin: Output,
    /// The kernel programs translate sessions too: their changes are kept for the gateway.
    kernel_sync: bool,
    /// The kernel programs open sessions too: their binding maps, lent blocks and ring.
    kernel: Option<Box<dyn KernelBindings>>,
    /// Working space for the sessions read from the kernel's ring.
    opened: Vec<KernelSession>,
}

impl Nat64 {
    /// `translator` gives the prefix, the translator's IPv6 address, MTUs and checksum
    /// policy; its IPv4 address, explicit mappings and dynamic pool have no place here.
    pub fn new(mut translator: TranslatorConfig, cfg: StatefulConfig) -> anyhow::Result<Nat64> {
        cfg.validate()?;
        let prefix = translator
            .prefix
            .context("stateful NAT64 needs a prefix (pool6), e.g. 64:ff9b::/96")?;
        ensure!(
            translator.eam.is_empty() && translator.dynamic_pool.is_none(),
            "stateful NAT64 takes no explicit address mappings and no dynamic pool: pool4 is \
             where IPv6 hosts get their IPv4 address and port"
        );
        translator.ipv4_addr = Ipv4Addr::UNSPECIFIED;
        translator.rfc6791_v4 = None;
        translator.v4_errors_from_destination = true;
        translator.stateful = true;
        translator.subscriber_prefix_len = cfg.blocks.subscriber_prefix_len;
        let mut pool4: Vec<Ipv4Addr> = cfg.pool4.iter().map(|r| r.addr).collect();
        pool4.sort();
        pool4.dedup();
        let tables =
            Protocol::ALL.map(|p| Table::new(p, &cfg.pool4, cfg.blocks, &cfg.static_bindings));
        Ok(Nat64 {
            translator: Translator::new(translator)?,
            cfg,
            prefix,
            pool4,
            tables,
            held: Vec::new(),
            fragments: fragments::Fragments::default(),
            hairpin: Output::new(),
            kernel_sync: false,
            kernel: None,
            opened: Vec::new(),
        })
    }

    pub fn translator(&self) -> &Translator {
        &self.translator
    }

    fn in_pool4(&self, a: Ipv4Addr) -> bool {
        pool4_holds(&self.pool4, a)
    }

    /// Enters a query's session in the kernel's maps when the kernel may translate its
    /// packets. A session to a pool4 address stays here: the kernel would send a hairpinned
    /// flow out instead of round again (and the second crossing gives back the hop).
    fn offer_to_kernel(&mut self, protocol: Protocol, local: End4, remote: End4) {
        if self.kernel_sync && !self.in_pool4(remote.0) {
            self.tables[protocol.index()].offer_to_kernel(local, remote);
        }
    }

    /// Translates one packet (starting at its IP header) at time `now`.
    pub fn translate(&mut self, pkt: &[u8], now: Instant, out: &mut Output) -> Verdict {
        out.clear();
        // What the kernel opened first: a packet of a session it opened meanwhile is
        // then one of a known session here too.
        self.adopt_opened(now);
        let verdict = match pkt.first().map(|b| b >> 4) {
            Some(6) => self.six_to_four(pkt, now, out),
            Some(4) => self.four_to_six(pkt, now, None, out),
            Some(_) => Verdict::Drop(DropReason::UnknownVersion),
            None => Verdict::Drop(DropReason::Truncated),
        };
        self.flush_kernel_bindings();
        verdict
    }

    fn six_to_four(&mut self, pkt: &[u8], now: Instant, out: &mut Output) -> Verdict {
        let dst = wire::array_at::<16>(pkt, ipv6::field::DST);
        if dst.is_some_and(|d| !self.prefix.contains(&d)) {
            // Not through the translator: only its own address is answered (an echo).
            return if dst == Some(self.translator.config().ipv6_addr.octets()) {
                self.translator.translate(pkt, &mut NoDynamicMap, out)
            } else {
                Verdict::Drop(DropReason::NotForTranslator)
            };
        }
        if wire::array_at::<16>(pkt, ipv6::field::SRC).is_some_and(|s| self.prefix.contains(&s)) {
            // A source behind the prefix stands for an IPv4 address, never for a host of
            // ours: it gets no binding (Jool's "hairpinning loop").
            return Verdict::Drop(DropReason::TranslatorLoop);
        }
        let datagram = match parse_v6(pkt) {
            Ok(h) => h.frag.map(|f| ((h.src, h.dst, f.id, h.proto), f)),
            Err(_) => None,
        };
        if let Some((key, _)) = datagram.filter(|(_, f)| f.offset != 0) {
            return self.later_fragment(key, pkt, now, out);
        }
        let flow = match flow::of_v6(pkt, &self.prefix) {
            Ok(f) => f,
            Err(reason) => return Verdict::Drop(reason),
        };
        let table = &mut self.tables[flow.protocol.index()];
        let (local, made) = match flow.kind {
            Kind::Query { opens: true, .. } => {
                match table.bind(flow.local, self.kernel.as_deref_mut()) {
                    Ok(b) => b,
                    Err(_) => {
                        return self.translator.icmp_error(
                            pkt,
                            icmp::v6::DEST_UNREACHABLE,
                            1,
                            DropReason::PortsExhausted,
                            out,
                        )
                    }
                }
            }
            _ => match table.v4_of(flow.local) {
                Some(v4) => (v4, false),
                None => return Verdict::Drop(DropReason::NoBinding),
            },
        };
        let verdict = self
            .translator
            .translate(pkt, &mut BindingAddress(local.0), out);
        // The session is looked up once, as it is refreshed (or opened); only a packet that
        // was not translated, or found none, asks again why.
        let accepted = verdict == Verdict::Translated
            && match flow.kind {
                Kind::Query { flags, opens } => table.touch(
                    local,
                    flow.remote,
                    Side::V6,
                    flags,
                    opens,
                    now,
                    &self.cfg.timeouts,
                ),
                Kind::Error => true,
            };
        if !accepted {
            if let Kind::Query { opens: false, .. } = flow.kind {
                if !table.has_session(local, flow.remote) {
                    out.clear();
                    return Verdict::Drop(DropReason::NoBinding);
                }
            }
            if made {
                table.unbind(local);
            }
            return verdict;
        }
        table.translated(Side::V6);
        if let Kind::Query { .. } = flow.kind {
            self.offer_to_kernel(flow.protocol, local, flow.remote);
        }
        match flow.kind {
            Kind::Query { flags, .. } => {
                out.for_each_packet_mut(|p| rewrite::v4_source_port(p, local.1));
                if flow.protocol == Protocol::Tcp && flags.syn {
                    // §3.5.2.2: the IPv6 SYN completes a simultaneous open; the held IPv4
                    // SYN is not answered.
                    self.held
                        .retain(|h| (h.local, h.remote) != (local, flow.remote));
                }
            }
            Kind::Error => {
                out.for_each_packet_mut(|p| rewrite::v4_quoted_destination_port(p, local.1))
            }
        }
        if self.in_pool4(flow.remote.0) {
            return self.hairpin(pkt, now, out);
        }
        if let Some((key, _)) = datagram.filter(|(_, f)| f.more) {
            self.first_fragment(key, Found::Six(local), now, out);
        }
        Verdict::Translated
    }

    /// A datagram's first fragment went through with `found`: its later fragments follow it,
    /// and those that came before it go now, after it.
    fn first_fragment(&mut self, key: DatagramKey, found: Found, now: Instant, out: &mut Output) {
        self.fragments.first_seen(key, found, now);
        let mut scratch = std::mem::take(&mut self.hairpin);
        for waited in self.fragments.take_waiting(&key) {
            if self.translate_later_fragment(&waited, found, &mut scratch) == Verdict::Translated {
                for p in scratch.packets() {
                    out.push_packet(p);
                }
            }
        }
        self.hairpin = scratch;
    }

    /// A fragment other than the first: through its datagram's binding, or kept until the
    /// first fragment has found one.
    fn later_fragment(
        &mut self,
        key: DatagramKey,
        pkt: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Verdict {
        match self.fragments.found(&key, now) {
            Some(found) => self.translate_later_fragment(pkt, found, out),
            None => {
                self.fragments.wait(key, pkt, now);
                Verdict::Drop(DropReason::StatefulFragment)
            }
        }
    }

    fn translate_later_fragment(&self, pkt: &[u8], found: Found, out: &mut Output) -> Verdict {
        match found {
            Found::Six(local) => {
                let verdict = self
                    .translator
                    .translate(pkt, &mut BindingAddress(local.0), out);
                // A hairpinned datagram's later fragments would need its second crossing's
                // binding too; they are not followed.
                if verdict == Verdict::Translated
                    && out.packets().any(|p| {
                        wire::array_at::<4>(p, ipv4::field::DST)
                            .is_some_and(|d| self.in_pool4(Ipv4Addr::from(d)))
                    })
                {
                    out.clear();
                    return Verdict::Drop(DropReason::StatefulFragment);
                }
                verdict
            }
            Found::Four(host) => {
                let verdict = self.translator.translate(pkt, &mut NoDynamicMap, out);
                if verdict == Verdict::Translated {
                    out.for_each_packet_mut(|p| {
                        rewrite::v6_destination(p, host.0.octets(), host.1)
                    });
                }
                verdict
            }
        }
    }

    /// §3.8: a packet from an IPv6 host to a pool4 address goes back in as IPv4.
    fn hairpin(&mut self, from_v6: &[u8], now: Instant, out: &mut Output) -> Verdict {
        let mut first: Vec<Vec<u8>> = out.packets().map(<[u8]>::to_vec).collect();
        out.clear();
        let mut scratch = std::mem::take(&mut self.hairpin);
        let mut verdict = Verdict::Drop(DropReason::NoBinding);
        for p in &mut first {
            rewrite::give_back_ttl(p);
            verdict = self.four_to_six(p, now, Some(from_v6), &mut scratch);
            if let Verdict::IcmpError(reason) = verdict {
                // The second crossing refused it: the IPv6 sender hears it from the
                // translator, about what it sent (as for a held SYN that runs out).
                self.hairpin = scratch;
                out.clear();
                let (ty, code) = match reason {
                    DropReason::NoBinding => (icmp::v6::DEST_UNREACHABLE, 4),
                    DropReason::HopLimitExceeded => (icmp::v6::TIME_EXCEEDED, 0),
                    _ => (icmp::v6::DEST_UNREACHABLE, 0),
                };
                return self.translator.icmp_error(from_v6, ty, code, reason, out);
            }
            for q in scratch.packets() {
                out.push_packet(q);
            }
        }
        self.hairpin = scratch;
        verdict
    }

    fn four_to_six(
        &mut self,
        pkt: &[u8],
        now: Instant,
        from_v6: Option<&[u8]>,
        out: &mut Output,
    ) -> Verdict {
        out.clear();
        let dst = wire::array_at::<4>(pkt, ipv4::field::DST).map(Ipv4Addr::from);
        if !dst.is_some_and(|d| self.in_pool4(d)) {
            return Verdict::Drop(DropReason::NotForTranslator);
        }
        let datagram =
            parse_v4(pkt).map(|h| (fragments::v4_key(h.src, h.dst, h.frag.id, h.proto), h.frag));
        if let Some((key, _)) = datagram.filter(|(_, f)| f.offset != 0) {
            return self.later_fragment(key, pkt, now, out);
        }
        let flow = match flow::of_v4(pkt) {
            Ok(f) => f,
            Err(reason) => return Verdict::Drop(reason),
        };
        let table = &self.tables[flow.protocol.index()];
        let Some(host) = table.v6_of(flow.local) else {
            return match flow.kind {
                Kind::Query { flags, .. } if flow.protocol == Protocol::Tcp && flags.syn => {
                    self.hold(pkt, flow.local, flow.remote, from_v6, now)
                }
                // §3.5.1.1 / Jool: a UDP packet no binding takes is answered port
                // unreachable.
                Kind::Query { .. } if flow.protocol == Protocol::Udp => self.translator.icmp_error(
                    pkt,
                    icmp::v4::DEST_UNREACHABLE,
                    3,
                    DropReason::NoBinding,
                    out,
                ),
                _ => Verdict::Drop(DropReason::NoBinding),
            };
        };
        let verdict = self.translator.translate(pkt, &mut NoDynamicMap, out);
        let timeouts = self.cfg.timeouts;
        let table = &mut self.tables[flow.protocol.index()];
        // An established flow's session is found once, as it is refreshed; the filtering
        // decisions below are for a packet with none (or one that was not translated).
        let refreshed = verdict == Verdict::Translated
            && match flow.kind {
                Kind::Query { flags, .. } => table.touch(
                    flow.local,
                    flow.remote,
                    Side::V4,
                    flags,
                    false,
                    now,
                    &timeouts,
                ),
                Kind::Error => true,
            };
        if !refreshed {
            if let Kind::Query { flags, opens } = flow.kind {
                if !table.has_session(flow.local, flow.remote) {
                    if !opens {
                        out.clear();
                        return Verdict::Drop(DropReason::NoBinding);
                    }
                    if !table.admits(flow.local, flow.remote, self.cfg.filtering) {
                        out.clear();
                        return if flow.protocol == Protocol::Tcp && flags.syn {
                            self.hold(pkt, flow.local, flow.remote, from_v6, now)
                        } else {
                            Verdict::Drop(DropReason::Filtered)
                        };
                    }
                }
                if verdict == Verdict::Translated {
                    table.touch(
                        flow.local,
                        flow.remote,
                        Side::V4,
                        flags,
                        true,
                        now,
                        &timeouts,
                    );
                }
            }
            if verdict != Verdict::Translated {
                return verdict;
            }
        }
        self.tables[flow.protocol.index()].translated(Side::V4);
        // A hairpin's second crossing comes from a pool4 address: it stays here too.
        if let Kind::Query { .. } = flow.kind {
            self.offer_to_kernel(flow.protocol, flow.local, flow.remote);
        }
        match flow.kind {
            Kind::Query { .. } => {
                out.for_each_packet_mut(|p| rewrite::v6_destination(p, host.0.octets(), host.1))
            }
            Kind::Error => out
                .for_each_packet_mut(|p| rewrite::v6_error_destination(p, host.0.octets(), host.1)),
        }
        if let Some((key, _)) = datagram.filter(|(_, f)| f.more) {
            self.first_fragment(key, Found::Four(host), now, out);
        }
        Verdict::Translated
    }

    fn hold(
        &mut self,
        pkt: &[u8],
        local: End4,
        remote: End4,
        from_v6: Option<&[u8]>,
        now: Instant,
    ) -> Verdict {
        if self
            .held
            .iter()
            .any(|h| (h.local, h.remote) == (local, remote))
        {
            return Verdict::Drop(DropReason::SynHeld);
        }
        if self.held.len() >= self.cfg.max_held_syns {
            return Verdict::Drop(DropReason::NoBinding);
        }
        self.held.push(HeldSyn {
            local,
            remote,
            packet: pkt.to_vec(),
            from_v6: from_v6.map(<[u8]>::to_vec),
            deadline: now + self.cfg.timeouts.tcp_incoming_syn,
        });
        Verdict::Drop(DropReason::SynHeld)
    }

    /// Runs the timers: held SYNs whose time ran out are answered port unreachable (into
    /// `out`), sessions that ran out are removed, then bindings and blocks left idle.
    /// Returns the sessions removed.
    pub fn expire(&mut self, now: Instant, out: &mut Output) -> usize {
        self.expire_with_kernel(now, out, &mut |_| None)
    }

    /// [`Nat64::expire`] where the kernel translates sessions too: `kernel_last_use` says
    /// when it last translated a packet of one (a session ran out only if that is as old).
    pub fn expire_with_kernel(
        &mut self,
        now: Instant,
        out: &mut Output,
        kernel_last_use: &mut dyn FnMut(&KernelSession) -> Option<Instant>,
    ) -> usize {
        out.clear();
        let (due, kept): (Vec<HeldSyn>, Vec<HeldSyn>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.deadline <= now);
        self.held = kept;
        for h in due {
            match &h.from_v6 {
                Some(v6) => self.translator.icmp_error(
                    v6,
                    icmp::v6::DEST_UNREACHABLE,
                    4,
                    DropReason::NoBinding,
                    out,
                ),
                None => self.translator.icmp_error(
                    &h.packet,
                    icmp::v4::DEST_UNREACHABLE,
                    3,
                    DropReason::NoBinding,
                    out,
                ),
            };
        }
        self.fragments.expire(now);
        self.adopt_opened(now);
        let timeouts = self.cfg.timeouts;
        let expired = self
            .tables
            .iter_mut()
            .map(|t| t.expire(now, &timeouts, kernel_last_use))
            .sum();
        self.flush_kernel_bindings();
        expired
    }

    /// From now on the kernel programs open UDP and ICMP echo sessions too, in blocks lent
    /// to them: `kernel`'s maps (emptied) get every binding and lent block the tables
    /// hold. What its ring still holds from before is taken in first. Returns the bindings
    /// entered.
    pub fn start_kernel_opening(
        &mut self,
        mut kernel: Box<dyn KernelBindings>,
        now: Instant,
    ) -> usize {
        if !kernel.enter_pool4(&self.pool4) {
            tracing::warn!(
                "stateful: pool4 could not be entered in the kernel; it opens no sessions"
            );
            return 0;
        }
        let mut stale = Vec::new();
        kernel.opened(&mut stale);
        self.kernel = Some(kernel);
        self.adopt(&stale, now);
        let Some(kernel) = self.kernel.as_deref_mut() else {
            return 0;
        };
        kernel.clear();
        let mut entered = 0;
        for t in &mut self.tables {
            for (v6, v4) in t.all_bindings() {
                // Empty maps take every binding; anything else is a bug to hear of.
                let claim = kernel.claim(t.protocol(), v6, v4);
                entered += 1;
                if claim != Claim::Took {
                    tracing::warn!(
                        "stateful: the kernel refused binding {v6:?} -> {v4:?}: {claim:?}"
                    );
                }
            }
            t.lend_all();
        }
        self.flush_kernel_bindings();
        entered
    }

    /// The kernel's binding maps back, for another translator (the kernel opens nothing
    /// more for this one). What the ring holds is taken in first.
    pub fn take_kernel_opening(&mut self, now: Instant) -> Option<Box<dyn KernelBindings>> {
        self.adopt_opened(now);
        self.flush_kernel_bindings();
        self.kernel.take()
    }

    /// Takes in the sessions the kernel opened since the last call; returns how many.
    pub fn adopt_opened(&mut self, now: Instant) -> usize {
        let Some(kernel) = self.kernel.as_deref_mut() else {
            return 0;
        };
        let mut opened = std::mem::take(&mut self.opened);
        kernel.opened(&mut opened);
        let n = opened.len();
        self.adopt(&opened, now);
        opened.clear();
        self.opened = opened;
        n
    }

    fn adopt(&mut self, opened: &[KernelSession], now: Instant) {
        let timeouts = self.cfg.timeouts;
        for s in opened {
            let table = &mut self.tables[s.protocol.index()];
            if table.adopt_session(s, now, &timeouts) {
                continue;
            }
            // Its binding is taken here: the kernel's session and binding go again.
            table.push_kernel_change(Change::Remove(*s));
            if let Some(kernel) = self.kernel.as_deref_mut() {
                kernel.release(s.protocol, s.host, s.local);
            }
        }
    }

    /// Tells the kernel of bindings removed and blocks lent or taken back.
    fn flush_kernel_bindings(&mut self) {
        let mut released = Vec::new();
        let mut lendings = Vec::new();
        for t in &mut self.tables {
            t.take_binding_changes(&mut released, &mut lendings);
            let Some(kernel) = self.kernel.as_deref_mut() else {
                continue;
            };
            for (v6, v4) in released.drain(..) {
                kernel.release(t.protocol(), v6, v4);
            }
            for (subscriber, block) in lendings.drain(..) {
                kernel.lend(t.protocol(), subscriber, block);
            }
        }
    }

    /// From now on the kernel translates sessions too: every session it may translate is
    /// to be entered in its (empty) maps; [`Nat64::take_kernel_changes`] hands them over.
    pub fn start_kernel_sync(&mut self) {
        self.kernel_sync = true;
        let pool4 = &self.pool4;
        for t in &mut self.tables {
            t.forget_kernel();
            t.offer_all_to_kernel(|remote| !pool4_holds(pool4, remote));
        }
    }

    /// The kernel path is gone (it could not be attached): the tables stop keeping changes,
    /// and the kernel opens nothing.
    pub fn stop_kernel_sync(&mut self) {
        self.kernel_sync = false;
        self.kernel = None;
        for t in &mut self.tables {
            t.forget_kernel();
        }
    }

    /// What the kernel's session maps must follow since the last call.
    pub fn take_kernel_changes(&mut self, into: &mut Vec<Change>) {
        for t in &mut self.tables {
            t.take_kernel_changes(into);
        }
    }

    /// What must hold between the tables whatever packets came; empty when all does.
    pub fn violations(&self) -> Vec<String> {
        self.tables.iter().flat_map(Table::violations).collect()
    }

    /// The state a restart carries over.
    pub fn save(&self, now: Instant) -> saved::SavedState {
        let mut state = saved::SavedState {
            version: saved::VERSION,
            ..Default::default()
        };
        for t in &self.tables {
            t.save(now, &mut state);
        }
        state
    }

    /// Takes back a saved state: the bindings the configuration still allows, with their
    /// ports and blocks, and their sessions with the time they had left.
    pub fn restore(&mut self, state: &saved::SavedState, now: Instant) -> saved::Restored {
        let mut restored = saved::Restored::default();
        for t in &mut self.tables {
            t.restore(state, now, &mut restored);
        }
        restored
    }

    pub fn bindings(&self) -> Vec<BindingInfo> {
        self.tables.iter().flat_map(Table::bindings).collect()
    }

    pub fn sessions(&self, now: Instant) -> Vec<SessionInfo> {
        self.tables.iter().flat_map(|t| t.sessions(now)).collect()
    }

    pub fn blocks(&self) -> Vec<BlockInfo> {
        self.tables.iter().flat_map(Table::blocks).collect()
    }

    pub fn counts(&self) -> TableCounts {
        let mut c = TableCounts {
            held_syns: self.held.len(),
            ..TableCounts::default()
        };
        for (i, t) in self.tables.iter().enumerate() {
            (c.bindings[i], c.sessions[i]) = t.counts();
            (c.blocks_assigned[i], c.blocks_total[i]) = t.block_usage();
            c.activity[i] = t.activity();
        }
        c
    }
}

#[cfg(test)]
mod tests;
