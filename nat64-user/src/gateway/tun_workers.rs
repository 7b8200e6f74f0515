//! The TUN datapath: worker threads that read packets from the `tun-device`, translate them
//! and write the results back, one thread per queue. On queues with a `virtio_net_hdr` a read
//! may be a GSO super-packet: translated whole where [`gso`] can, otherwise cut in userspace
//! and translated segment by segment, as without offloads.

use std::{
    io,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use arc_swap::ArcSwap;
use nat64_common::counters::DropReason;
use tracing::{debug, warn};

use super::{
    mappings::Mappings,
    per_packet::{self, PacketCounters},
    pool_lookup::PoolLookup,
};
use crate::{
    clock::unix_now,
    config::LogOptions,
    offload::{
        coalesce::Coalescer,
        gso::{self, Offloaded, HEADROOM},
        segment::{self, Segments},
        vnet::{self, Gso, VnetHdr},
    },
    translate::{Output, Translator, Verdict},
    tun::TunQueue,
};

/// Reads per burst before the worker looks at the stop flag and the translator again: a
/// queue that never runs dry must not keep it from stopping or from a reloaded map-file.
const MAX_BURST: usize = 4096;
/// Translated packets queued for gluing before they are written: enough for several
/// datagrams of each of many flows, few enough that a burst waits well under a millisecond.
const WRITE_BATCH: usize = 256;

/// How long a worker waits for a packet before it looks at the stop flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Larger than any packet a TUN device with a 64 KiB MTU, or a 64 KiB super-packet with its
/// `virtio_net_hdr`, can hand over; a read that fills it was cut short.
const READ_BUFFER: usize = 65_536 + vnet::LEN + 1;

/// Counters of the TUN datapath, summed over workers.
#[derive(Default)]
pub struct TunCounters {
    /// Reads that returned a packet (a super-packet counts once).
    pub received: AtomicU64,
    /// Of those, GSO super-packets, and the segments they stood for.
    pub gso_super_packets: AtomicU64,
    pub gso_segments: AtomicU64,
    /// Of those, translated whole (one write each).
    pub gso_translated_whole: AtomicU64,
    /// Reads with a partial transport checksum and no GSO (senders on the gateway itself).
    pub partial_checksums: AtomicU64,
    /// Offloaded reads cut in userspace for the per-packet path.
    pub offload_cut: AtomicU64,
    /// Offloaded reads whose header did not match the packet, dropped.
    pub offload_malformed: AtomicU64,
    /// USO super-packets written of datagrams read one by one, and the datagrams glued.
    pub glued_writes: AtomicU64,
    pub glued_datagrams: AtomicU64,
    /// What the packets read became.
    pub packets: PacketCounters,
}

/// What every worker shares.
pub struct WorkerShared {
    /// Swapped whole when SIGHUP brings a new map-file; workers pick it up on their next burst.
    pub translator: ArcSwap<Translator>,
    /// Looked up per packet; a new host's first packet allocates its mapping here, which
    /// enters it in the kernel path's tables too once that is attached.
    pub mappings: Mappings,
    pub counters: TunCounters,
    pub stop: AtomicBool,
    /// tayga.conf's `log`: which packet events are logged one line each.
    pub log: LogOptions,
    /// Stateful NAT64 (`[stateful]`): every packet goes through its tables instead of the
    /// translator's mappings.
    pub stateful: Option<super::stateful_path::StatefulPath>,
    /// A second handle on a TUN queue, where the AF_XDP workers write what they translate
    /// (`None` where it could not be opened: the AF_XDP slow path is then not started).
    pub slow_path_writer: Option<Arc<TunQueue>>,
    /// The AF_XDP slow path's workers, once started.
    pub af_xdp: super::af_xdp_workers::AfXdpWorkers,
}

/// Starts one worker per queue; each hands its queue back when it stops.
pub fn start(
    queues: Vec<TunQueue>,
    shared: Arc<WorkerShared>,
) -> io::Result<Vec<JoinHandle<TunQueue>>> {
    queues
        .into_iter()
        .enumerate()
        .map(|(index, queue)| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("nat64-tun-{index}"))
                .spawn(move || {
                    worker(&queue, &shared);
                    queue
                })
        })
        .collect()
}

fn worker(queue: &TunQueue, shared: &WorkerShared) {
    // Headroom in front of what is read, so IPv4 → IPv6 offloaded packets grow in place.
    let mut buf = vec![0u8; HEADROOM + READ_BUFFER];
    let mut out = Output::new();
    let mut segments = Segments::new();
    let (uso4, uso6) = queue.takes_uso();
    let mut batch = (uso4 || uso6).then(|| Coalescer::new(uso4, uso6));
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(stateful) = &shared.stateful {
            stateful.sweep_if_due(&mut out);
            send(&out, queue, shared, None);
        }
        match wait_readable(queue) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                warn!("polling the TUN device failed: {err}");
                std::thread::sleep(POLL_INTERVAL);
                continue;
            }
        }
        // Drain what is queued before polling again: one poll per burst, not per packet.
        let translator = shared.translator.load();
        for _ in 0..MAX_BURST {
            if batch.as_ref().is_some_and(|b| b.len() >= WRITE_BATCH) {
                flush(&mut batch, queue, shared, &translator);
            }
            let len = match queue.read(buf.get_mut(HEADROOM..).unwrap_or(&mut [])) {
                Ok(len) => len,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    warn!("reading the TUN device failed: {err}");
                    break;
                }
            };
            shared.counters.received.fetch_add(1, Ordering::Relaxed);
            if len >= READ_BUFFER {
                shared.counters.packets.count_drop(DropReason::TooLarge);
                continue;
            }
            if !queue.has_vnet_hdr() {
                let packet = buf.get(HEADROOM..HEADROOM + len).unwrap_or(&[]);
                handle_packet(packet, queue, shared, &translator, &mut out, None);
                continue;
            }
            let Some(hdr) = buf.get(HEADROOM..).and_then(VnetHdr::parse) else {
                shared.counters.packets.count_drop(DropReason::Truncated);
                continue;
            };
            if hdr.is_offloaded() {
                // What is queued goes first, so nothing overtakes it within a flow (a packet
                // with only a partial checksum joins the batch instead).
                if hdr.gso() != Gso::None {
                    flush(&mut batch, queue, shared, &translator);
                }
                handle_offloaded(
                    &hdr,
                    &mut buf,
                    len,
                    queue,
                    shared,
                    &translator,
                    &mut out,
                    &mut segments,
                    batch.as_mut(),
                );
            } else {
                let packet = buf.get(HEADROOM + vnet::LEN..HEADROOM + len).unwrap_or(&[]);
                handle_packet(packet, queue, shared, &translator, &mut out, batch.as_mut());
            }
        }
        flush(&mut batch, queue, shared, &translator);
    }
}

/// Writes what the batch holds, gluing what it can.
fn flush(
    batch: &mut Option<Coalescer>,
    queue: &TunQueue,
    shared: &WorkerShared,
    translator: &Translator,
) {
    let Some(batch) = batch.as_mut().filter(|b| !b.is_empty()) else {
        return;
    };
    let counters = &shared.counters;
    let flushed = per_packet::flush(batch, queue, translator, &counters.packets);
    counters
        .glued_writes
        .fetch_add(flushed.super_packets, Ordering::Relaxed);
    counters
        .glued_datagrams
        .fetch_add(flushed.glued, Ordering::Relaxed);
}

/// A super-packet or a packet with a partial checksum, read into `buf[HEADROOM..][..len]`
/// behind its header `hdr`: translated whole, or cut and given to the per-packet path.
#[allow(clippy::too_many_arguments)]
fn handle_offloaded(
    hdr: &VnetHdr,
    buf: &mut [u8],
    len: usize,
    queue: &TunQueue,
    shared: &WorkerShared,
    translator: &Translator,
    out: &mut Output,
    segments: &mut Segments,
    mut batch: Option<&mut Coalescer>,
) {
    let counters = &shared.counters;
    if hdr.gso() == Gso::None {
        counters.partial_checksums.fetch_add(1, Ordering::Relaxed);
    } else {
        counters.gso_super_packets.fetch_add(1, Ordering::Relaxed);
    }
    let mut lookup = PoolLookup::new(&shared.mappings, unix_now());
    // Stateful NAT64 sees every segment: each may open, refresh or close a session.
    let outcome = if shared.stateful.is_some() {
        Offloaded::PerPacket
    } else {
        gso::translate(translator, buf, len, &mut lookup)
    };
    if lookup.pool_full {
        warn!("dynamic pool is full and no mapping is idle: new IPv6 hosts get ICMPv6 unreachable");
    }
    if let Offloaded::Translated { frame, segments } = outcome {
        if hdr.gso() != Gso::None {
            counters
                .gso_segments
                .fetch_add(u64::from(segments), Ordering::Relaxed);
            counters
                .gso_translated_whole
                .fetch_add(1, Ordering::Relaxed);
        }
        let frame = buf.get(frame).unwrap_or(&[]);
        per_packet::log_event(
            &shared.log,
            Verdict::Translated,
            frame.get(vnet::LEN..).unwrap_or(&[]),
            lookup.allocated,
        );
        counters
            .packets
            .translated_packets_out
            .fetch_add(u64::from(segments), Ordering::Relaxed);
        if let (Some(batch), Gso::None) = (batch.as_deref_mut(), hdr.gso()) {
            if let Some(out_hdr) = VnetHdr::parse(frame) {
                batch.push_with(out_hdr, frame.get(vnet::LEN..).unwrap_or(&[]));
                return;
            }
        }
        if let Err(err) = queue.write_raw(frame) {
            counters
                .packets
                .write_errors
                .fetch_add(1, Ordering::Relaxed);
            debug!("writing to the TUN device failed: {err}");
        }
        return;
    }
    // Not taken whole (the buffer is untouched): the per-packet path decides, segment by
    // segment, as it would have had the kernel cut the packet.
    if lookup.allocated.is_some() {
        per_packet::log_event(&shared.log, Verdict::Translated, &[], lookup.allocated);
    }
    let packet = buf.get(HEADROOM + vnet::LEN..HEADROOM + len).unwrap_or(&[]);
    match segment::split(hdr, packet, segments) {
        Ok(()) => {
            counters.offload_cut.fetch_add(1, Ordering::Relaxed);
            if hdr.gso() != Gso::None {
                counters
                    .gso_segments
                    .fetch_add(segments.len() as u64, Ordering::Relaxed);
            }
            for segment in segments.iter() {
                handle_packet(
                    segment,
                    queue,
                    shared,
                    translator,
                    out,
                    batch.as_deref_mut(),
                );
            }
        }
        Err(err) => {
            counters.offload_malformed.fetch_add(1, Ordering::Relaxed);
            debug!("dropped an offloaded packet: {}", err.as_str());
        }
    }
}

fn handle_packet(
    packet: &[u8],
    queue: &TunQueue,
    shared: &WorkerShared,
    translator: &Translator,
    out: &mut Output,
    batch: Option<&mut Coalescer>,
) {
    if per_packet::translate(packet, shared, translator, out, &shared.counters.packets) {
        send(out, queue, shared, batch);
    }
}

/// Writes what a call produced, through the batch when there is one.
fn send(out: &Output, queue: &TunQueue, shared: &WorkerShared, batch: Option<&mut Coalescer>) {
    per_packet::send(out, queue, &shared.counters.packets, batch);
}

fn wait_readable(queue: &TunQueue) -> io::Result<bool> {
    crate::readable::within(queue.as_raw_fd(), POLL_INTERVAL)
}
