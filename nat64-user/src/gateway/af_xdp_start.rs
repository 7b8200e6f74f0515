//! Bringing the AF_XDP slow path up on the interfaces the XDP program runs on: a socket and
//! a worker per receive queue, entered in the program's XSKMAP. Whatever cannot be set up
//! keeps the TUN slow path, and the log says why, per interface and queue.

use std::sync::Arc;

use tracing::{info, warn};

use super::{kernel_path::KernelPath, tun_workers::WorkerShared};
use crate::{
    af_xdp::queues::receive_queues,
    config::{Config, XdpSlowPath},
};
use nat64_common::maps::xsk_key;

/// Starts the slow path on `interfaces` (name, ifindex; the XDP program runs on them);
/// returns what the datapath line says about it.
pub fn start(
    config: &Config,
    shared: &Arc<WorkerShared>,
    kernel: &KernelPath,
    interfaces: &[(String, u32)],
) -> String {
    if config.xdp_slow_path == XdpSlowPath::Tun {
        return "; slow path through the stack and TUN (xdp_slow_path tun)".into();
    }
    let Some(writer) = &shared.slow_path_writer else {
        return "; slow path through the stack and TUN (no TUN handle for AF_XDP, see above)"
            .into();
    };
    let (mut sockets, mut slots, mut served) = (Vec::new(), Vec::new(), Vec::new());
    for (slot, (name, ifindex)) in interfaces.iter().enumerate() {
        let slot = slot as u32;
        let (queues, note) = receive_queues(name);
        if let Some(note) = note {
            warn!("AF_XDP on {name}: {note}");
        }
        let (opened, refused) = shared
            .af_xdp
            .start(name, *ifindex, slot, queues, shared, writer);
        for r in &refused {
            warn!(
                "AF_XDP on {} queue {} refused ({}): that queue's slow path stays the stack and TUN",
                r.interface, r.queue, r.err
            );
        }
        for o in &opened {
            let why = o
                .zero_copy_refused
                .as_ref()
                .map_or(String::new(), |why| format!(" (no zero-copy: {why})"));
            info!("AF_XDP on {name} queue {}: {} mode{why}", o.queue, o.mode);
            sockets.extend(xsk_key(o.slot, o.queue).map(|key| (key, o.fd)));
        }
        if let Some(first) = opened.first() {
            slots.push((*ifindex, slot));
            let copy = opened.iter().filter(|o| o.mode == first.mode).count() == opened.len();
            let mode = if copy {
                format!("{} mode", first.mode)
            } else {
                "mixed modes".into()
            };
            served.push(format!(
                "{name} ({} of {queues} queues, {mode})",
                opened.len()
            ));
        }
    }
    if served.is_empty() {
        return "; slow path through the stack and TUN (AF_XDP refused, see above)".into();
    }
    match kernel.attach_af_xdp(&sockets, &slots) {
        Ok(()) => format!(
            "; slow path by AF_XDP on {} (the TUN workers take what comes by the stack)",
            served.join(", ")
        ),
        Err(err) => {
            warn!(
                "AF_XDP sockets not entered in the XDP program: {err:#}; the TUN slow path serves"
            );
            "; slow path through the stack and TUN (AF_XDP not entered, see above)".into()
        }
    }
}
