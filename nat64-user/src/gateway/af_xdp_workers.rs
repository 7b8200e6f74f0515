//! The AF_XDP slow path's workers (`--iface`): one thread per socket, one socket per receive
//! queue. Each translates what the XDP program sent it with the TUN workers' translator and
//! tables (so a new host's mapping, or a new flow's session, is entered in the kernel first
//! and its next packet stays there) and writes the result into the TUN device, where the
//! kernel routes it on exactly as it does the TUN workers' output. As the TUN workers do, a
//! pass's UDP datagrams of one flow go in one USO super-packet where the device takes them:
//! the kernel then forwards the pass in a few writes, not one per packet.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tracing::warn;

use super::{
    per_packet::{self, PacketCounters},
    tun_workers::WorkerShared,
};
use crate::{
    af_xdp::{rings::BATCH, Mode, OpenError, XskSocket},
    offload::coalesce::Coalescer,
    translate::{Output, Translator},
    tun::TunQueue,
};

/// How long a worker waits for a frame before it looks at the stop flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long a worker keeps watching its ring after the last frame before it sleeps in poll:
/// frames that come in bursts (a new host's first packets, the fragments of one datagram, a
/// flood) then skip the wake-up, which costs tens of microseconds on a virtual machine. An
/// idle socket costs nothing; a busy one at most this much CPU per lull.
const SPIN_AFTER_ACTIVITY: Duration = Duration::from_micros(200);
/// Passes over the receive ring before the worker looks at the stop flag and the translator
/// again, as a TUN worker does per burst.
const MAX_PASSES: usize = 64;
/// How often a worker copies the kernel's counts for its socket.
const KERNEL_STATS_EVERY: Duration = Duration::from_secs(1);

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
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
    /// Packets written into the TUN device (translations, ICMP errors, replies).
    pub sent: AtomicU64,
    /// The kernel's counts for the socket: frames dropped because the receive ring was full,
    /// because the fill ring had no chunk, and in all.
    pub rx_ring_full: AtomicU64,
    pub fill_ring_empty: AtomicU64,
    pub kernel_dropped: AtomicU64,
}

/// The workers of this run: none until the XDP program is attached and sockets are open.
#[derive(Default)]
pub struct AfXdpWorkers {
    running: Mutex<Vec<(Arc<XskCounters>, JoinHandle<()>)>>,
}

/// A socket that came up, for the XSKMAP.
pub struct Opened {
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

impl AfXdpWorkers {
    /// Opens a socket on each of `queues` receive queues of `interface` (in XSKMAP slot
    /// `slot`) and starts its worker; the sockets carry nothing until they are entered in
    /// the XSKMAP.
    pub fn start(
        &self,
        interface: &str,
        ifindex: u32,
        slot: u32,
        queues: u32,
        shared: &Arc<WorkerShared>,
        writer: &Arc<TunQueue>,
    ) -> (Vec<Opened>, Vec<Refused>) {
        let (mut opened, mut refused) = (Vec::new(), Vec::new());
        for queue in 0..queues {
            match self.start_one(interface, ifindex, slot, queue, shared, writer) {
                Ok(o) => opened.push(o),
                Err(err) => refused.push(Refused {
                    interface: interface.to_owned(),
                    queue,
                    err,
                }),
            }
        }
        (opened, refused)
    }

    fn start_one(
        &self,
        interface: &str,
        ifindex: u32,
        slot: u32,
        queue: u32,
        shared: &Arc<WorkerShared>,
        writer: &Arc<TunQueue>,
    ) -> Result<Opened, OpenError> {
        // The socket's memory is not `Send`: the thread that serves it opens it, and says
        // how that went.
        let (told, answer) = mpsc::channel();
        let (shared, writer) = (Arc::clone(shared), Arc::clone(writer));
        let name = interface.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("nat64-xsk-{queue}"))
            .spawn(move || {
                let (socket, refused) = match XskSocket::open(ifindex, queue) {
                    Ok(opened) => opened,
                    Err(err) => {
                        let _ = told.send(Err(err));
                        return;
                    }
                };
                let counters = Arc::new(XskCounters::new(name, queue, socket.mode()));
                let _ = told.send(Ok((socket.raw_fd(), refused, Arc::clone(&counters))));
                serve(socket, &counters, &shared, &writer);
            })
            .map_err(|err| OpenError {
                step: "starting the worker thread",
                err,
            })?;
        let (fd, zero_copy_refused, counters) = answer.recv().unwrap_or_else(|_| {
            Err(OpenError {
                step: "the worker thread",
                err: std::io::Error::other("it ended before it answered"),
            })
        })?;
        let mode = counters.mode;
        lock(&self.running).push((counters, spawned));
        Ok(Opened {
            slot,
            queue,
            fd,
            mode,
            zero_copy_refused,
        })
    }

    /// Every socket's counts.
    pub fn counters(&self) -> Vec<Arc<XskCounters>> {
        lock(&self.running)
            .iter()
            .map(|(c, _)| Arc::clone(c))
            .collect()
    }

    /// Waits for the workers once the stop flag is up; their sockets close with them, which
    /// takes them out of the XSKMAP (the program then passes to the stack).
    pub fn join(&self) {
        for (counters, handle) in std::mem::take(&mut *lock(&self.running)) {
            if handle.join().is_err() {
                warn!(
                    "the AF_XDP worker of {} queue {} panicked",
                    counters.interface, counters.queue
                );
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
            rx_ring_full: AtomicU64::new(0),
            fill_ring_empty: AtomicU64::new(0),
            kernel_dropped: AtomicU64::new(0),
        }
    }
}

fn serve(mut socket: XskSocket, counters: &XskCounters, shared: &WorkerShared, writer: &TunQueue) {
    let mut out = Output::new();
    let (uso4, uso6) = writer.takes_uso();
    // A device without USO (no virtio-net header: one `tayga --mktun` made) takes packets
    // one write each.
    let mut batch = (uso4 || uso6).then(|| Coalescer::new(uso4, uso6));
    let mut stats_due = Instant::now();
    let mut last_frame = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if stats_due.elapsed() >= KERNEL_STATS_EVERY {
            copy_kernel_stats(&socket, counters);
            stats_due = Instant::now();
        }
        if !frames_within(&socket, last_frame + SPIN_AFTER_ACTIVITY) {
            match socket.wait(POLL_INTERVAL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    warn!(
                        "polling the AF_XDP socket of {} queue {} failed: {err}",
                        counters.interface, counters.queue
                    );
                    std::thread::sleep(POLL_INTERVAL);
                    continue;
                }
            }
        }
        let translator = shared.translator.load();
        for _ in 0..MAX_PASSES {
            let n = socket.receive(|frame| {
                handle_frame(frame, counters, shared, &translator, &mut out);
                send(&out, counters, writer, batch.as_mut());
            });
            if let Some(batch) = &mut batch {
                flush(batch, counters, writer, &translator);
            }
            if n > 0 {
                last_frame = Instant::now();
            }
            if n < BATCH {
                break;
            }
        }
    }
    copy_kernel_stats(&socket, counters);
}

/// Watches the receive ring until `deadline`; true as soon as frames are there.
fn frames_within(socket: &XskSocket, deadline: Instant) -> bool {
    loop {
        if socket.has_frames() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::hint::spin_loop();
    }
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

/// What one frame became, queued for the pass's flush, or written at once without a batch.
fn send(out: &Output, counters: &XskCounters, writer: &TunQueue, batch: Option<&mut Coalescer>) {
    let written = per_packet::send(out, writer, &counters.packets, batch);
    counters.sent.fetch_add(written, Ordering::Relaxed);
}

/// Writes what a pass queued (in order, one flow's datagrams glued where the device lets).
fn flush(
    batch: &mut Coalescer,
    counters: &XskCounters,
    writer: &TunQueue,
    translator: &Translator,
) {
    if batch.is_empty() {
        return;
    }
    let flushed = per_packet::flush(batch, writer, translator, &counters.packets);
    counters
        .sent
        .fetch_add(flushed.packets_written, Ordering::Relaxed);
}

/// The IP packet in an Ethernet frame, without the link's padding (the translator reads a
/// packet as the TUN device would have handed it over).
fn ip_packet(frame: &[u8]) -> Option<&[u8]> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let packet = frame.get(ETH_HEADER_LEN..)?;
    let len = match ethertype {
        ETHERTYPE_IPV4 => usize::from(u16::from_be_bytes(packet.get(2..4)?.try_into().ok()?)),
        ETHERTYPE_IPV6 => match u16::from_be_bytes(packet.get(4..6)?.try_into().ok()?) {
            // A jumbogram's length is in its options: the translator decides.
            0 => packet.len(),
            payload => 40 + usize::from(payload),
        },
        _ => return None,
    };
    // A length beyond the frame is the translator's to refuse, counted as it counts it.
    Some(packet.get(..len).unwrap_or(packet))
}

fn copy_kernel_stats(socket: &XskSocket, counters: &XskCounters) {
    if let Some(stats) = socket.kernel_stats() {
        counters
            .rx_ring_full
            .store(stats.rx_ring_full, Ordering::Relaxed);
        counters
            .fill_ring_empty
            .store(stats.rx_fill_ring_empty_descs, Ordering::Relaxed);
        counters
            .kernel_dropped
            .store(stats.rx_dropped, Ordering::Relaxed);
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
