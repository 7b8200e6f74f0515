//! Stateful NAT64 sessions the programs open themselves: a UDP datagram or an ICMPv6 echo
//! request whose flow has no session yet, from a subscriber that lent the programs a port
//! block. The binding is the host end's existing one if there is one (endpoint-independent
//! mapping), else a port of the lent block; the session goes into both session maps and
//! onto the `NAT64_OPENED` ring, from which userspace enters it in its own tables (its
//! timers, listings and saved state). Whatever cannot be done here (no lent block, the block
//! looks full, a hairpinned flow, a map or the ring full) leaves the packet to userspace, as
//! before this existed.
//!
//! Races: every entry is added with `BPF_NOEXIST`, so of two writers of one key (two CPUs,
//! or a CPU and userspace) the first wins and the second takes what the first wrote. The
//! pool4 end of a binding is claimed first: a port is in one binding or in none.

use aya_ebpf::bindings::BPF_NOEXIST;
use nat64_common::{
    counters::Outcome,
    maps::{
        Bib4, Bib6, BibKey4, BibKey6, ConfigBlock, LentBlock, LentKey, Opened, Session4, Session6,
        SessionKey4, SessionKey6, CLAIM_TRIES,
    },
    plan::FlowPorts,
    rfc6052,
};

use crate::maps;

const NOEXIST: u64 = BPF_NOEXIST as u64;
/// Userspace reads the ring on a timer, never waits on it: no wakeup per record (an
/// irq_work each, which the opening would pay for).
const BPF_RB_NO_WAKEUP: u64 = 1;

/// Opens the session of `key` (a flow from `key.host`), returning its pool4 end; the
/// packet is then translated as a packet of an existing session is.
///
/// Three subprograms, one after the other: each gets a small stack frame of its own (the
/// translation's frame leaves 64 of the BPF stack's 512 bytes), and they pass the binding
/// along in the per-CPU [`Scratch`], their answers in one register each.
#[inline(always)]
pub fn open(
    cfg: &ConfigBlock,
    key: &SessionKey6,
    flow: &FlowPorts,
) -> Result<([u8; 4], [u8; 2]), Outcome> {
    if !may_open_step(cfg, key, flow) {
        return Err(Outcome::PassNoSession);
    }
    let bound = bind_step(cfg.subscriber_len, key, flow);
    if bound == NOT_BOUND {
        return Err(Outcome::PassNoSession);
    }
    let packed = enter_step(key, bound == MADE);
    if packed & OPENED_BIT == 0 {
        return Err(Outcome::PassNoSession);
    }
    let [a, b, c, d, p0, p1, _, _] = packed.to_le_bytes();
    Ok(([a, b, c, d], [p0, p1]))
}

/// [`bind_step`]'s answers.
const NOT_BOUND: u64 = 0;
const EXISTING: u64 = 1;
const MADE: u64 = 2;

/// Set in [`enter_step`]'s answer when the session is open; the pool4 address is in its
/// bytes 0–3, the port in 4–5.
const OPENED_BIT: u64 = 1 << 63;

/// Whether the kernel may open this flow's session at all.
#[inline(never)]
fn may_open_step(cfg: &ConfigBlock, key: &SessionKey6, flow: &FlowPorts) -> bool {
    // With an `allow_source` list, userspace decides who may open anything. A source
    // behind the prefix is userspace's to refuse (a translator loop); a destination in
    // pool4 is a hairpinned flow, which userspace translates twice.
    // The map lookup first: nothing of the address compare then lives across a helper
    // call, and the frame stays within what the translation leaves.
    flow.opens != 0
        && cfg.source_filtered == 0
        && maps::NAT64_POOL4.get_ptr(key.remote).is_none()
        && !cfg.prefix().is_some_and(|p| p.contains(&key.host))
}

/// The host end's binding into the scratch's `bib6`.
#[inline(never)]
fn bind_step(subscriber_len: u8, key: &SessionKey6, flow: &FlowPorts) -> u64 {
    match try_bind(subscriber_len, key, flow) {
        Ok(true) => MADE,
        Ok(false) => EXISTING,
        Err(_) => NOT_BOUND,
    }
}

/// The session into both maps and onto the ring, with the scratch's binding.
#[inline(never)]
fn enter_step(key: &SessionKey6, made: bool) -> u64 {
    match try_enter(key, made) {
        Ok((local, port)) => {
            let [a, b, c, d] = local;
            let [p0, p1] = port;
            u64::from_le_bytes([a, b, c, d, p0, p1, 0, 0]) | OPENED_BIT
        }
        Err(_) => 0,
    }
}

#[inline(always)]
fn scratch() -> Result<&'static mut Scratch, Outcome> {
    let s = maps::NAT64_OPEN_SCRATCH
        .get_ptr_mut(0)
        .ok_or(Outcome::PassNoSession)?;
    // SAFETY: this CPU's element, nobody else's while the program runs.
    Ok(unsafe { &mut *s })
}

/// Working memory of one opening: the keys and values the map helpers take by pointer. It
/// does not fit the BPF stack beside the translation's own frame.
#[repr(C)]
pub struct Scratch {
    key4: SessionKey4,
    six: Session6,
    four: Session4,
    opened: Opened,
    bib_key6: BibKey6,
    bib6: Bib6,
    bib_key4: BibKey4,
    bib4: Bib4,
    lent: LentKey,
    block: LentBlock,
}

#[inline(always)]
fn try_bind(subscriber_len: u8, key: &SessionKey6, flow: &FlowPorts) -> Result<bool, Outcome> {
    let s = scratch()?;
    s.bib_key6.host = key.host;
    s.bib_key6.host_port = flow.port;
    s.bib_key6.proto = flow.proto;
    s.bib_key6._pad = 0;
    bind(subscriber_len, s)
}

#[inline(always)]
fn try_enter(key: &SessionKey6, made: bool) -> Result<([u8; 4], [u8; 2]), Outcome> {
    let s = scratch()?;
    let now = maps::coarse_now();
    // Field by field: a whole-struct assignment into map memory becomes a call to
    // `memset`, a subprogram whose frame the verifier adds to the translation's.
    s.key4.remote = key.remote;
    s.key4.local = s.bib6.local;
    s.key4.remote_port = key.remote_port;
    s.key4.local_port = s.bib6.local_port;
    s.key4.proto = key.proto;
    zero3(&mut s.key4._pad);
    s.six.local = s.bib6.local;
    s.six.local_port = s.bib6.local_port;
    s.six.last_use_ns = now;
    s.four.host = key.host;
    s.four.host_port = key.host_port;
    s.four.last_use_ns = now;
    s.opened.host = key.host;
    s.opened.local = s.bib6.local;
    s.opened.remote = key.remote;
    s.opened.host_port = key.host_port;
    s.opened.local_port = s.bib6.local_port;
    s.opened.remote_port = key.remote_port;
    s.opened.proto = key.proto;
    if maps::NAT64_SESSION6.insert(key, &s.six, NOEXIST).is_err() {
        // Another CPU opened it meanwhile (or the map is full: then userspace's).
        undo_binding(made, s);
        return match maps::NAT64_SESSION6.get_ptr(key) {
            Some(found) => Ok(unsafe { ((*found).local, (*found).local_port) }),
            None => Err(Outcome::PassNoSession),
        };
    }
    // No room to keep it or to report it: a session userspace would never learn of must
    // not exist, so what was entered goes again (and only that: an entry someone else
    // made stays).
    if maps::NAT64_SESSION4
        .insert(&s.key4, &s.four, NOEXIST)
        .is_err()
    {
        let _ = maps::NAT64_SESSION6.remove(key);
        undo_binding(made, s);
        return Err(Outcome::PassNoSession);
    }
    if maps::NAT64_OPENED
        .output::<Opened>(&s.opened, BPF_RB_NO_WAKEUP)
        .is_err()
    {
        let _ = maps::NAT64_SESSION4.remove(&s.key4);
        let _ = maps::NAT64_SESSION6.remove(key);
        undo_binding(made, s);
        return Err(Outcome::PassNoSession);
    }
    Ok((s.bib6.local, s.bib6.local_port))
}

/// The host end's binding (`s.bib_key6`) into `s.bib6`, made in the subscriber's lent block
/// when it has none (`true`: made now). Everything it works on is in the scratch: what
/// lives across its helper calls there, not in registers to spill, keeps its frame small.
#[inline(always)]
fn bind(subscriber_len: u8, s: &mut Scratch) -> Result<bool, Outcome> {
    if existing(s) {
        return Ok(false);
    }
    s.lent.subscriber = rfc6052::masked(&s.bib_key6.host, subscriber_len);
    s.lent.proto = s.bib_key6.proto;
    zero3(&mut s.lent._pad);
    let block = maps::NAT64_LENT
        .get_ptr(&s.lent)
        .ok_or(Outcome::PassNoSession)?;
    // SAFETY: a map value, valid while the program runs. Copied into the scratch: what
    // the claim loop needs lives there, not in registers the helper calls would spill.
    s.block = unsafe { *block };
    if s.block.len == 0 {
        return Err(Outcome::PassNoSession);
    }
    s.bib4.host = s.bib_key6.host;
    s.bib4.host_port = s.bib_key6.host_port;
    s.bib_key4.local = s.block.addr;
    s.bib_key4.proto = s.bib_key6.proto;
    s.bib_key4._pad = 0;
    s.bib6.local = s.block.addr;
    // The host's own port first when the block has it (as userspace and Jool keep it),
    // then on from the block's hint.
    let wanted = u16::from_be_bytes(s.bib_key6.host_port).wrapping_sub(s.block.first);
    // Compares, not `%`: the block is re-read after each helper call, and a remainder by
    // a length the compiler cannot prove non-zero brings a panic path the verifier refuses.
    if wanted < s.block.len {
        s.block.next = wanted;
    } else if s.block.next >= s.block.len {
        s.block.next = 0;
    }
    for _ in 0..CLAIM_TRIES {
        s.bib_key4.local_port = s.block.first.wrapping_add(s.block.next).to_be_bytes();
        s.block.next = s.block.next.wrapping_add(1);
        if s.block.next >= s.block.len {
            s.block.next = 0;
        }
        if maps::NAT64_BIB4
            .insert(&s.bib_key4, &s.bib4, NOEXIST)
            .is_err()
        {
            continue;
        }
        if let Some(lent) = maps::NAT64_LENT.get_ptr_mut(&s.lent) {
            // SAFETY: a map value; a racing CPU's store is as good a hint.
            unsafe { (*lent).next = s.block.next };
        }
        s.bib6.local_port = s.bib_key4.local_port;
        if maps::NAT64_BIB6
            .insert(&s.bib_key6, &s.bib6, NOEXIST)
            .is_ok()
        {
            return Ok(true);
        }
        // The host end was bound meanwhile (another CPU, or userspace): that binding.
        let _ = maps::NAT64_BIB4.remove(&s.bib_key4);
        return if existing(s) {
            Ok(false)
        } else {
            Err(Outcome::PassNoSession)
        };
    }
    Err(Outcome::PassNoSession)
}

/// Byte by byte: three bytes at once become a `memset` call (see above).
#[inline(always)]
fn zero3(pad: &mut [u8; 3]) {
    let [a, b, c] = pad;
    *a = 0;
    *b = 0;
    *c = 0;
}

/// Copies the host end's existing binding into `s.bib6`; `false` when it has none.
#[inline(always)]
fn existing(s: &mut Scratch) -> bool {
    match maps::NAT64_BIB6.get_ptr(&s.bib_key6) {
        Some(b) => {
            // SAFETY: a map value, valid while the program runs.
            let (local, port) = unsafe { ((*b).local, (*b).local_port) };
            s.bib6.local = local;
            s.bib6.local_port = port;
            true
        }
        None => false,
    }
}

/// Takes back a binding made for a session that was then not opened (`s.bib_key6` and
/// `s.bib_key4` still name it).
#[inline(always)]
fn undo_binding(made: bool, s: &Scratch) {
    if made {
        let _ = maps::NAT64_BIB6.remove(&s.bib_key6);
        let _ = maps::NAT64_BIB4.remove(&s.bib_key4);
    }
}
