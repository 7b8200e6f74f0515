//! `nat64 stats`: the running daemon answers on a control socket with its counters, mapping
//! count and pool use; with no daemon, the kernel path's pinned maps still tell theirs.
//!
//! The socket is an abstract Unix socket, `@nat64/<tun-device>`: it belongs to the network
//! namespace (as the device does), needs no directory, survives `-r` chroot and leaves
//! nothing behind. It only ever reads out counters.

use std::{
    fmt::Write as _,
    io::Read as _,
    net::Ipv4Addr,
    os::unix::net::{UnixListener, UnixStream},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use anyhow::{Context as _, Result};
use aya::maps::{Array, HashMap, Map, MapData};
use nat64_common::{
    counters::DropReason,
    maps::{names, ConfigBlock, Ipv6HostKey, V6ToV4Mapping},
};
use tokio::io::AsyncWriteExt as _;
use tracing::{debug, warn};

use super::{instance::socket_address, pins::PinDir, tun_workers::WorkerShared};
use crate::tc_maps;

/// Answers every connection on the daemon's control socket (`@nat64/<device>`, claimed at
/// start: see [`super::instance`]) with [`report`].
pub fn spawn_server(device: &str, listener: UnixListener, shared: Arc<WorkerShared>) {
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener));
    let listener = match listener {
        Ok(listener) => listener,
        Err(err) => {
            warn!(
                "no stats socket @nat64/{device} (`nat64 stats` cannot reach this daemon): {err}"
            );
            return;
        }
    };
    let device = device.to_owned();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((mut stream, _)) => {
                    let text = report(&device, &shared);
                    if let Err(err) = stream.write_all(text.as_bytes()).await {
                        debug!("stats socket: {err}");
                    }
                }
                Err(err) => {
                    warn!("stats socket: {err}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// The daemon's view: both datapaths' counters, mappings and pool use.
pub fn report(device: &str, shared: &WorkerShared) -> String {
    let datapath = if shared.tc.get().is_some() {
        "tc"
    } else {
        "tun"
    };
    let mut out = format!("device {device}\ndatapath {datapath}\n");
    let tun = &shared.counters;
    let _ = writeln!(
        out,
        "tun received {}\ntun translated {}\ntun icmp_errors_sent {}\ntun local_replies {}\ntun write_errors {}",
        tun.received.load(Ordering::Relaxed),
        tun.translated_packets_out.load(Ordering::Relaxed),
        tun.icmp_errors_sent.load(Ordering::Relaxed),
        tun.local_replies.load(Ordering::Relaxed),
        tun.write_errors.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "tun gso_super_packets {}\ntun gso_segments {}\ntun gso_translated_whole {}\ntun partial_checksums {}\ntun offload_cut {}\ntun offload_malformed {}\ntun glued_writes {}\ntun glued_datagrams {}",
        tun.gso_super_packets.load(Ordering::Relaxed),
        tun.gso_segments.load(Ordering::Relaxed),
        tun.gso_translated_whole.load(Ordering::Relaxed),
        tun.partial_checksums.load(Ordering::Relaxed),
        tun.offload_cut.load(Ordering::Relaxed),
        tun.offload_malformed.load(Ordering::Relaxed),
        tun.glued_writes.load(Ordering::Relaxed),
        tun.glued_datagrams.load(Ordering::Relaxed),
    );
    for reason in DropReason::ALL {
        let n = tun.dropped(reason);
        if n > 0 {
            let _ = writeln!(out, "tun dropped {} {n}", reason.as_str());
        }
    }
    if let Some(tc) = shared.tc.get() {
        for (program, counters) in [("tc", tc.counters()), ("xdp", tc.xdp_counters())] {
            match counters {
                Ok(counters) => write_counter_lines(&mut out, program, &counters),
                Err(err) => {
                    let _ = writeln!(out, "{program} counters unreadable: {err:#}");
                }
            }
        }
    }
    match shared.pool.with(|pool| {
        (
            pool.len(),
            pool.capacity(),
            pool.config().network(),
            pool.config().prefix_len(),
        )
    }) {
        Some((len, capacity, net, prefix_len)) => {
            let _ = writeln!(out, "mappings {len}");
            let _ = writeln!(
                out,
                "pool {net}/{prefix_len}: {len} of {capacity} addresses in use ({:.1}%)",
                percent(len as u64, capacity)
            );
        }
        None => {
            let _ = writeln!(out, "mappings 0 (no dynamic pool)");
        }
    }
    out
}

fn write_counter_lines(out: &mut String, program: &str, counters: &[(&str, u64)]) {
    for (name, value) in counters {
        let _ = writeln!(out, "{program} {name} {value}");
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// What `nat64 stats` prints: the daemon's report, or else what the pins hold.
pub fn query(device: &str, pins: &PinDir) -> Result<String> {
    match ask_daemon(device) {
        Ok(text) => return Ok(text),
        Err(err) => debug!("no daemon on @nat64/{device}: {err}"),
    }
    if !pins.has_maps() {
        anyhow::bail!(
            "no nat64 daemon serves {device} in this network namespace, and nothing is pinned in {}",
            pins.dir().display()
        );
    }
    from_pins(device, pins)
}

fn ask_daemon(device: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect_addr(&socket_address(device)?)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// The kernel path's counters and mappings, read from the pinned maps of a daemon that is
/// not running (stopped with `--keep`, or gone).
pub fn from_pins(device: &str, pins: &PinDir) -> Result<String> {
    let open = |name: &str| {
        MapData::from_pin(pins.map(name))
            .with_context(|| format!("opening {}", pins.map(name).display()))
    };
    let mut out = format!(
        "device {device}\ndatapath tc (no daemon running: from the maps pinned in {})\n",
        pins.dir().display()
    );
    for (program, name) in [("tc", names::TC_COUNTERS), ("xdp", names::XDP_COUNTERS)] {
        // An earlier build's pins may lack the XDP counters.
        if program == "xdp" && !pins.map(name).exists() {
            continue;
        }
        let counters = tc_maps::counters_of(&Map::PerCpuArray(open(name)?))?;
        write_counter_lines(&mut out, program, &tc_maps::nonzero_outcomes(counters));
    }
    let forward: HashMap<MapData, Ipv6HostKey, V6ToV4Mapping> =
        HashMap::try_from(Map::HashMap(open(names::V6_TO_V4)?))?;
    let mappings = forward.keys().filter(Result::is_ok).count() as u64;
    let _ = writeln!(out, "mappings {mappings}");
    let config: Array<MapData, ConfigBlock> = Array::try_from(Map::Array(open(names::CONFIG)?))?;
    let block = config.get(&0, 0)?;
    if block.has_pool != 0 {
        let size = 1u64 << (32 - u32::from(block.pool_len.min(32)));
        let _ = writeln!(
            out,
            "pool {}/{}: {mappings} of {size} addresses mapped in the kernel ({:.1}%)",
            Ipv4Addr::from(block.pool_v4),
            block.pool_len,
            percent(mappings, size)
        );
    }
    Ok(out)
}
