//! The AF_XDP slow path's workers (`--iface`): one thread per receive queue number, serving
//! that queue's socket on every interface that has it. Each translates what the XDP program
//! sent it with the TUN workers' translator and tables (so a new host's mapping, or a new
//! flow's session, is entered in the kernel first and its next packet stays there).
//!
//! What it translates leaves one of two ways, as the XDP program's own translations do:
//! - `--xdp-slow-path af-xdp-transmit` (only beside `--xdp-forward direct`): by AF_XDP
//!   transmit on the interface the kernel's route names, to the neighbour the kernel knows
//!   (`af_xdp::next_hop`). One thread holds every socket
//!   of its queue number because a ring has one writer: a packet from eth0 queue 0 for
//!   eth1 goes out on eth1 queue 0's socket, which only this thread touches.
//! - otherwise, and wherever the stack must help (no neighbour yet, too big for the link,
//!   an interface without a socket of this queue number, no free transmit chunk): into the
//!   TUN device, where the kernel routes it on exactly as it does the TUN workers' output.
//!   As the TUN workers do, a pass's UDP datagrams of one flow go in one USO super-packet
//!   where the device takes them.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nat64_common::wire::ethertype;
use tracing::warn;

use super::{
    per_packet::{self, PacketCounters},
    tun_workers::WorkerShared,
};
use crate::{
    af_xdp::{
        next_hop::NextHop, rings::BATCH, socket, Mode, NextHopProgram, NextHops, OpenError,
        Receiver, Transmitter,
    },
    offload::coalesce::Coalescer,
    translate::{Output, Translator},
    tun::TunQueue,
};

/// How long a worker waits for a frame before it looks at the stop flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long a worker waits instead while frames it handed to the kernel are not sent yet
/// (a busy link): it asks the kernel to send them again after that.
const UNSENT_RETRY: Duration = Duration::from_millis(1);
/// How long a worker keeps watching its rings after the last frame before it sleeps in poll:
/// frames that come in bursts (a new host's first packets, the fragments of one datagram, a
/// flood) then skip the wake-up, which costs tens of microseconds on a virtual machine. An
/// idle socket costs nothing; a busy one at most this much CPU per lull.
const SPIN_AFTER_ACTIVITY: Duration = Duration::from_micros(200);
/// Passes over the receive rings before the worker looks at the stop flag and the translator
/// again, as a TUN worker does per burst.
const MAX_PASSES: usize = 64;
/// How often a worker copies the kernel's counts for its sockets.
const KERNEL_STATS_EVERY: Duration = Duration::from_secs(1);

const ETH_HEADER_LEN: usize = 14;

/// One socket's counts, for `nat64 stats` and the metrics.
pub struct XskCounters {
    pub interface: String,
    pub queue: u32,
    pub mode: Mode,
    /// Frames read off the receive ring.
    pub received: AtomicU64,
    /// Frames that were not plain IPv4 or IPv6 over Ethernet (dropped; the program sends
    /// none, so any count here is a bug).
    pub not_ip: AtomicU64,
    /// What the packets became (translated, answered, dropped by reason).
    pub packets: PacketCounters,
    /// Packets sent on (translations, ICMP errors, replies), either way.
    pub sent: AtomicU64,
    /// Of those, sent straight out by AF_XDP transmit (the rest went into the TUN device).
    pub sent_direct: AtomicU64,
    /// Frames this socket's transmit ring handed to its interface (from any socket's
    /// packets: this is the egress).
    pub transmitted: AtomicU64,
    /// Packets that were to leave by this socket but found no free transmit chunk (a busy
    /// link), and went into the TUN device instead.
    pub transmit_busy: AtomicU64,
    /// The kernel's counts for the socket: frames dropped because the receive ring was full,
    /// because the fill ring had no chunk, and in all; transmit descriptors it refused.
    pub rx_ring_full: AtomicU64,
    pub fill_ring_empty: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub tx_invalid: AtomicU64,
}

/// An interface the workers serve: its XSKMAP slot and how many receive queues it has.
#[derive(Clone)]
pub struct Interface {
    pub name: String,
    pub ifindex: u32,
    pub slot: u32,
    pub queues: u32,
}

/// The workers of this run: none until the XDP program is attached and sockets are open.
#[derive(Default)]
pub struct AfXdpWorkers {
    running: Mutex<Vec<Worker>>,
}

/// A worker's thread and its sockets' counts.
struct Worker {
    counters: Vec<Arc<XskCounters>>,
    thread: JoinHandle<()>,
}

/// A socket that came up, for the XSKMAP.
pub struct Opened {
    pub interface: String,
    pub slot: u32,
    pub queue: u32,
    pub fd: i32,
    pub mode: Mode,
    /// Why the driver refused zero-copy, when it did.
    pub zero_copy_refused: Option<String>,
}

/// A socket that did not.
pub struct Refused {
    pub interface: String,
    pub queue: u32,
    pub err: OpenError,
}

/// How the sockets of a worker came up, as its thread tells it.
type Report = Vec<Result<(Opened, Arc<XskCounters>), Refused>>;

impl AfXdpWorkers {
    /// Opens a socket on each receive queue of each of `interfaces` and starts a worker per
    /// queue number; the sockets carry nothing until they are entered in the XSKMAP. With
    /// `next_hop`, translated packets go straight out where the route allows.
    pub fn start(
        &self,
        interfaces: &[Interface],
        shared: &Arc<WorkerShared>,
        writer: &Arc<TunQueue>,
        next_hop: Option<&Arc<NextHopProgram>>,
    ) -> (Vec<Opened>, Vec<Refused>) {
        let (mut opened, mut refused) = (Vec::new(), Vec::new());
        let queues = interfaces.iter().map(|i| i.queues).max().unwrap_or(0);
        for queue in 0..queues {
            let served: Vec<Interface> = interfaces
                .iter()
                .filter(|i| i.queues > queue)
                .cloned()
                .collect();
            for result in self.start_worker(queue, served, shared, writer, next_hop) {
                match result {
                    Ok(o) => opened.push(o),
                    Err(r) => refused.push(r),
                }
            }
        }
        (opened, refused)
    }

    fn start_worker(
        &self,
        queue: u32,
        interfaces: Vec<Interface>,
        shared: &Arc<WorkerShared>,
        writer: &Arc<TunQueue>,
        next_hop: Option<&Arc<NextHopProgram>>,
    ) -> Vec<Result<Opened, Refused>> {
        // The sockets' memory is not `Send`: the thread that serves them opens them, and
        // says how that went.
        let (told, answer) = mpsc::channel::<Report>();
        let (shared, writer) = (Arc::clone(shared), Arc::clone(writer));
        let next_hops = next_hop.map(|p| NextHops::new(Arc::clone(p)));
        let names: Vec<String> = interfaces.iter().map(|i| i.name.clone()).collect();
        let spawned = std::thread::Builder::new()
            .name(format!("nat64-xsk-{queue}"))
            .spawn(move || {
                let (sockets, report) = open_all(&interfaces, queue);
                let _ = told.send(report);
                if !sockets.is_empty() {
                    serve(sockets, queue, next_hops, &shared, &writer);
                }
            });
        let refuse_all = |err: std::io::Error, step| {
            names
                .iter()
                .map(|name| {
                    Err(Refused {
                        interface: name.clone(),
                        queue,
                        err: OpenError {
                            step,
                            err: std::io::Error::new(err.kind(), err.to_string()),
                        },
                    })
                })
                .collect()
        };
        let spawned = match spawned {
            Ok(handle) => handle,
            Err(err) => return refuse_all(err, "starting the worker thread"),
        };
        let Ok(report) = answer.recv() else {
            return refuse_all(
                std::io::Error::other("it ended before it answered"),
                "the worker thread",
            );
        };
        let mut counters = Vec::new();
        let results = report
            .into_iter()
            .map(|r| {
                r.map(|(opened, c)| {
                    counters.push(c);
                    opened
                })
            })
            .collect();
        lock(&self.running).push(Worker {
            counters,
            thread: spawned,
        });
        results
    }

    /// Every socket's counts.
    pub fn counters(&self) -> Vec<Arc<XskCounters>> {
        lock(&self.running)
            .iter()
            .flat_map(|w| w.counters.iter().map(Arc::clone))
            .collect()
    }

    /// Waits for the workers once the stop flag is up; their sockets close with them, which
    /// takes them out of the XSKMAP (the program then passes to the stack).
    pub fn join(&self) {
        for Worker { thread, .. } in std::mem::take(&mut *lock(&self.running)) {
            let name = thread.thread().name().unwrap_or("nat64-xsk").to_owned();
            if thread.join().is_err() {
                warn!("the AF_XDP worker {name} panicked");
            }
        }
    }
}

impl XskCounters {
    fn new(interface: String, queue: u32, mode: Mode) -> Self {
        Self {
            interface,
            queue,
            mode,
            received: AtomicU64::new(0),
            not_ip: AtomicU64::new(0),
            packets: PacketCounters::default(),
            sent: AtomicU64::new(0),
            sent_direct: AtomicU64::new(0),
            transmitted: AtomicU64::new(0),
            transmit_busy: AtomicU64::new(0),
            rx_ring_full: AtomicU64::new(0),
            fill_ring_empty: AtomicU64::new(0),
            kernel_dropped: AtomicU64::new(0),
            tx_invalid: AtomicU64::new(0),
        }
    }
}

/// A worker's sockets, one per interface, in parallel vectors: a pass reads one receive
/// ring while it writes to any transmit ring.
struct Sockets {
    rx: Vec<Receiver>,
    tx: Vec<Transmitter>,
    counters: Vec<Arc<XskCounters>>,
    ifindexes: Vec<u32>,
}

impl Sockets {
    fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

fn open_all(interfaces: &[Interface], queue: u32) -> (Sockets, Report) {
    let mut sockets = Sockets {
        rx: Vec::new(),
        tx: Vec::new(),
        counters: Vec::new(),
        ifindexes: Vec::new(),
    };
    let mut report = Vec::new();
    for interface in interfaces {
        match socket::open(interface.ifindex, queue) {
            Ok(halves) => {
                let mode = halves.rx.mode();
                let counters = Arc::new(XskCounters::new(interface.name.clone(), queue, mode));
                report.push(Ok((
                    Opened {
                        interface: interface.name.clone(),
                        slot: interface.slot,
                        queue,
                        fd: halves.rx.raw_fd(),
                        mode,
                        zero_copy_refused: halves.zero_copy_refused,
                    },
                    Arc::clone(&counters),
                )));
                sockets.rx.push(halves.rx);
                sockets.tx.push(halves.tx);
                sockets.counters.push(counters);
                sockets.ifindexes.push(interface.ifindex);
            }
            Err(err) => report.push(Err(Refused {
                interface: interface.name.clone(),
                queue,
                err,
            })),
        }
    }
    (sockets, report)
}

/// Where a worker's translations leave: its transmit rings or the TUN device.
struct Exits<'a> {
    tx: Vec<Transmitter>,
    tx_counters: Vec<Arc<XskCounters>>,
    ifindexes: Vec<u32>,
    queue: u32,
    next_hops: Option<NextHops>,
    writer: &'a TunQueue,
    /// A device without USO (no virtio-net header: one `tayga --mktun` made) takes packets
    /// one write each.
    batch: Option<Coalescer>,
}

impl Exits<'_> {
    /// What one frame became, sent on: straight out where the route allows, else queued for
    /// the pass's TUN flush (or written at once without a batch).
    fn send(&mut self, out: &Output, from: &XskCounters, ingress: u32, now: Instant) {
        for packet in out.packets() {
            if self.straight_out(packet, ingress, now) {
                from.sent.fetch_add(1, Ordering::Relaxed);
                from.sent_direct.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let written =
                per_packet::send_one(packet, self.writer, &from.packets, self.batch.as_mut());
            from.sent.fetch_add(written, Ordering::Relaxed);
        }
    }

    /// Queues `packet` on the transmit ring of the interface its route names; false when it
    /// must go through the stack.
    fn straight_out(&mut self, packet: &[u8], ingress: u32, now: Instant) -> bool {
        let Some(hops) = &mut self.next_hops else {
            return false;
        };
        let Some(NextHop { ifindex, macs }) = hops.way_out(ingress, self.queue, packet, now) else {
            return false;
        };
        let Some(egress) = self.ifindexes.iter().position(|&i| i == ifindex) else {
            return false;
        };
        let ethertype = match packet.first().map(|b| b >> 4) {
            Some(4) => ethertype::IPV4,
            _ => ethertype::IPV6,
        };
        let queued = self.tx[egress].queue(ETH_HEADER_LEN + packet.len(), |frame| {
            frame[..12].copy_from_slice(&macs);
            frame[12..ETH_HEADER_LEN].copy_from_slice(&ethertype.to_be_bytes());
            frame[ETH_HEADER_LEN..].copy_from_slice(packet);
        });
        if !queued {
            self.tx_counters[egress]
                .transmit_busy
                .fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// Writes what `from`'s frames queued for the TUN device (in order, one flow's datagrams
    /// glued where the device lets), counted on `from`.
    fn flush_tun(&mut self, from: &XskCounters, translator: &Translator) {
        let Some(batch) = self.batch.as_mut().filter(|b| !b.is_empty()) else {
            return;
        };
        let flushed = per_packet::flush(batch, self.writer, translator, &from.packets);
        from.sent
            .fetch_add(flushed.packets_written, Ordering::Relaxed);
    }

    /// The end of a pass: what the transmit rings hold handed to the kernel.
    fn hand_over(&mut self) {
        for (tx, counters) in self.tx.iter_mut().zip(&self.tx_counters) {
            let handed = tx.flush();
            counters
                .transmitted
                .fetch_add(u64::from(handed), Ordering::Relaxed);
        }
    }

    fn unsent(&self) -> bool {
        self.tx.iter().any(|tx| tx.unsent() > 0)
    }
}

fn serve(
    sockets: Sockets,
    queue: u32,
    next_hops: Option<NextHops>,
    shared: &WorkerShared,
    writer: &TunQueue,
) {
    let Sockets {
        mut rx,
        tx,
        counters,
        ifindexes,
    } = sockets;
    let (uso4, uso6) = writer.takes_uso();
    let mut exits = Exits {
        tx,
        tx_counters: counters.clone(),
        ifindexes: ifindexes.clone(),
        queue,
        next_hops,
        writer,
        batch: (uso4 || uso6).then(|| Coalescer::new(uso4, uso6)),
    };
    let mut out = Output::new();
    let mut stats_due = Instant::now();
    let mut last_frame = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if stats_due.elapsed() >= KERNEL_STATS_EVERY {
            copy_kernel_stats(&rx, &counters);
            stats_due = Instant::now();
        }
        if !frames_within(&rx, last_frame + SPIN_AFTER_ACTIVITY) {
            let timeout = if exits.unsent() {
                exits.hand_over();
                UNSENT_RETRY
            } else {
                POLL_INTERVAL
            };
            match wait(&rx, timeout) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    warn!("polling the AF_XDP sockets of queue {queue} failed: {err}");
                    std::thread::sleep(POLL_INTERVAL);
                    continue;
                }
            }
        }
        let translator = shared.translator.load();
        for _ in 0..MAX_PASSES {
            let now = Instant::now();
            let mut most = 0;
            for (i, receiver) in rx.iter_mut().enumerate() {
                let (from, ingress) = (&*counters[i], ifindexes[i]);
                let n = receiver.receive(|frame| {
                    handle_frame(frame, from, shared, &translator, &mut out);
                    exits.send(&out, from, ingress, now);
                });
                exits.flush_tun(from, &translator);
                most = most.max(n);
            }
            exits.hand_over();
            if most > 0 {
                last_frame = now;
            }
            if most < BATCH {
                break;
            }
        }
    }
    copy_kernel_stats(&rx, &counters);
}

/// Watches the receive rings until `deadline`; true as soon as frames are there.
fn frames_within(rx: &[Receiver], deadline: Instant) -> bool {
    loop {
        if rx.iter().any(Receiver::has_frames) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::hint::spin_loop();
    }
}

/// Waits up to `timeout` for frames on any of the rings; true when some are there.
fn wait(rx: &[Receiver], timeout: Duration) -> std::io::Result<bool> {
    if rx.iter().any(Receiver::has_frames) {
        return Ok(true);
    }
    let fds: Vec<i32> = rx.iter().map(Receiver::raw_fd).collect();
    crate::readable::any_within(&fds, timeout)
}

fn handle_frame(
    frame: &[u8],
    counters: &XskCounters,
    shared: &WorkerShared,
    translator: &Translator,
    out: &mut Output,
) {
    out.clear();
    counters.received.fetch_add(1, Ordering::Relaxed);
    let Some(packet) = ip_packet(frame) else {
        counters.not_ip.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if !per_packet::translate(packet, shared, translator, out, &counters.packets) {
        out.clear();
    }
}

/// The IP packet in an Ethernet frame, without the link's padding (the translator reads a
/// packet as the TUN device would have handed it over).
fn ip_packet(frame: &[u8]) -> Option<&[u8]> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let packet = frame.get(ETH_HEADER_LEN..)?;
    let len = match ethertype {
        ethertype::IPV4 => usize::from(u16::from_be_bytes(packet.get(2..4)?.try_into().ok()?)),
        ethertype::IPV6 => match u16::from_be_bytes(packet.get(4..6)?.try_into().ok()?) {
            // A jumbogram's length is in its options: the translator decides.
            0 => packet.len(),
            payload => 40 + usize::from(payload),
        },
        _ => return None,
    };
    // A length beyond the frame is the translator's to refuse, counted as it counts it.
    Some(packet.get(..len).unwrap_or(packet))
}

fn copy_kernel_stats(rx: &[Receiver], counters: &[Arc<XskCounters>]) {
    for (receiver, counters) in rx.iter().zip(counters) {
        if let Some(stats) = receiver.kernel_stats() {
            counters
                .rx_ring_full
                .store(stats.rx_ring_full, Ordering::Relaxed);
            counters
                .fill_ring_empty
                .store(stats.rx_fill_ring_empty_descs, Ordering::Relaxed);
            counters
                .kernel_dropped
                .store(stats.rx_dropped, Ordering::Relaxed);
            counters
                .tx_invalid
                .store(stats.tx_invalid_descs, Ordering::Relaxed);
        }
    }
}

/// A poisoned lock means a worker thread panicked while starting; the list is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::ip_packet;

    fn frame(ethertype: u16, packet: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(packet);
        f
    }

    #[test]
    fn ipv4_padding_is_cut_to_the_total_length() {
        let mut packet = vec![0x45, 0, 0, 28];
        packet.resize(28, 0);
        let mut padded = packet.clone();
        padded.resize(46, 0);
        assert_eq!(ip_packet(&frame(0x0800, &padded)), Some(&packet[..]));
    }

    #[test]
    fn ipv6_length_comes_from_the_payload_length() {
        let mut packet = vec![0x60, 0, 0, 0, 0, 8];
        packet.resize(48, 0);
        let mut longer = packet.clone();
        longer.extend_from_slice(&[1, 2, 3]);
        assert_eq!(ip_packet(&frame(0x86dd, &longer)), Some(&packet[..]));
    }

    #[test]
    fn a_length_beyond_the_frame_is_left_to_the_translator() {
        let mut packet = vec![0x45, 0, 0x05, 0xdc];
        packet.resize(40, 0);
        assert_eq!(ip_packet(&frame(0x0800, &packet)), Some(&packet[..]));
    }

    #[test]
    fn other_ethertypes_and_short_frames_are_not_ip() {
        assert_eq!(ip_packet(&frame(0x0806, &[0; 28])), None);
        assert_eq!(ip_packet(&[0u8; 13]), None);
        assert_eq!(ip_packet(&frame(0x0800, &[0x45])), None);
    }
}
