//! Bringing the AF_XDP slow path up on the interfaces the XDP program runs on: a socket per
//! receive queue, a worker per queue number, entered in the program's XSKMAP. Whatever
//! cannot be set up keeps the TUN slow path, and the log says why, per interface and queue.

use std::sync::Arc;

use tracing::{info, warn};

use super::{af_xdp_workers::Interface, kernel_path::KernelPath, tun_workers::WorkerShared};
use crate::{
    af_xdp::{queues::receive_queues, NextHopProgram},
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
    let served: Vec<Interface> = interfaces
        .iter()
        .enumerate()
        .map(|(slot, (name, ifindex))| {
            let (queues, note) = receive_queues(name);
            if let Some(note) = note {
                warn!("AF_XDP on {name}: {note}");
            }
            Interface {
                name: name.clone(),
                ifindex: *ifindex,
                slot: slot as u32,
                queues,
            }
        })
        .collect();
    let (next_hop, exit) = exit(config, kernel);
    let (opened, refused) = shared
        .af_xdp
        .start(&served, shared, writer, next_hop.as_ref());
    for r in &refused {
        warn!(
            "AF_XDP on {} queue {} refused ({}): that queue's slow path stays the stack and TUN",
            r.interface, r.queue, r.err
        );
    }
    let (mut sockets, mut slots, mut described) = (Vec::new(), Vec::new(), Vec::new());
    for interface in &served {
        let mine: Vec<_> = opened
            .iter()
            .filter(|o| o.interface == interface.name)
            .collect();
        for o in &mine {
            let why = o
                .zero_copy_refused
                .as_ref()
                .map_or(String::new(), |why| format!(" (no zero-copy: {why})"));
            info!(
                "AF_XDP on {} queue {}: {} mode{why}",
                interface.name, o.queue, o.mode
            );
            sockets.extend(xsk_key(o.slot, o.queue).map(|key| (key, o.fd)));
        }
        let Some(first) = mine.first() else { continue };
        slots.push((interface.ifindex, interface.slot));
        let mode = if mine.iter().all(|o| o.mode == first.mode) {
            format!("{} mode", first.mode)
        } else {
            "mixed modes".into()
        };
        described.push(format!(
            "{} ({} of {} queues, {mode})",
            interface.name,
            mine.len(),
            interface.queues
        ));
    }
    if described.is_empty() {
        return "; slow path through the stack and TUN (AF_XDP refused, see above)".into();
    }
    match kernel.attach_af_xdp(&sockets, &slots) {
        Ok(()) => format!(
            "; slow path by AF_XDP on {}, {exit} (the TUN workers take what comes by the stack)",
            described.join(", ")
        ),
        Err(err) => {
            warn!(
                "AF_XDP sockets not entered in the XDP program: {err:#}; the TUN slow path serves"
            );
            "; slow path through the stack and TUN (AF_XDP not entered, see above)".into()
        }
    }
}

/// How the workers' translations leave, and the datapath line's words for it.
fn exit(config: &Config, kernel: &KernelPath) -> (Option<Arc<NextHopProgram>>, &'static str) {
    if config.xdp_slow_path != XdpSlowPath::AfXdpTransmit {
        return (None, "its translations into TUN");
    }
    match kernel.next_hop_program() {
        Ok(program) => (
            Some(Arc::new(program)),
            "its translations straight out by AF_XDP transmit where the route allows",
        ),
        Err(err) => {
            warn!("AF_XDP transmit not used: {err:#}; translations go into TUN");
            (
                None,
                "its translations into TUN (no route lookup, see above)",
            )
        }
    }
}
