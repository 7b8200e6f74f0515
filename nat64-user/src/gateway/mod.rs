//! The running gateway: set the host up, serve the datapath, answer signals, and leave the
//! host as it was on a clean stop.

pub mod host_plan;
pub mod kernel_mappings;
pub mod persistence;
pub mod pins;
pub mod pool_lookup;
pub mod tc_datapath;
pub mod translator_setup;
pub mod tun_workers;
pub mod xdp_interfaces;

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

pub use host_plan::Mode;
use pins::PinDir;
use pool_lookup::{now_epoch_seconds, SharedPool};
use tc_datapath::TcDatapath;
use tun_workers::{TunCounters, WorkerShared};

use crate::{
    config::{Config, Datapath, XdpForward, WELL_KNOWN_PREFIX},
    daemon,
    host::{netlink::Netlink, HostChanges},
    ops::{self, collect::DaemonInfo, control_socket::DaemonView},
    translate::Translator,
    tun::{self, InterfaceName},
};

/// How often expiry runs and `dynamic.map` is considered for a write.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);
/// How often the kernel path's coarse clock (its last-use stamps) moves on.
const CLOCK_INTERVAL: Duration = Duration::from_secs(1);

/// What TAYGA's `-r`, `-u` and `-g` ask for, applied once the host is set up (which needs
/// root) and before the first packet is served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Privileges {
    pub chroot: Option<std::path::PathBuf>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Serves until SIGTERM or SIGINT. Starts the tokio runtime, so call it after daemonising.
/// `info` says how the daemon was started, for `nat64 status` and the metrics.
pub fn run(config: Config, mode: Mode, privileges: Privileges, info: DaemonInfo) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the control-plane runtime")?;
    runtime.block_on(serve(config, mode, privileges, info))
}

async fn serve(
    mut config: Config,
    mode: Mode,
    privileges: Privileges,
    mut info: DaemonInfo,
) -> Result<()> {
    // Before anything on the host changes: a taken or wrong address refuses the start.
    let metrics_listener = config.metrics.map(ops::http::bind).transpose()?;
    let netlink = Netlink::connect()?;
    adopt_interface_address(&mut config, &mode, &netlink).await?;

    let static_maps = config
        .load_map_file()
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let translator = Translator::new(translator_setup::translator_config(&config, &static_maps)?)?;
    let mut pool = persistence::load_pool(&config, now_epoch_seconds())?;

    let device = InterfaceName::new(&config.tun_device).map_err(anyhow::Error::msg)?;
    let workers = worker_count(&config);
    let opened = tun::offload::open_queues(&device, workers, offloads_wanted())
        .with_context(|| format!("opening TUN device {device}"))?;
    let (queues, offload_mode) = (opened.queues, opened.mode);
    if let Some(note) = opened.single_queue_note {
        info!("{note}");
    }
    info!("{offload_mode}");
    // Native mode owns its interface: with --keep it outlives us (a device goes with its
    // last open queue otherwise), without it a device an earlier --keep run left goes too.
    // TAYGA mode leaves persistence to --mktun/--rmtun, as TAYGA does.
    if matches!(mode, Mode::Native { .. }) {
        if let Some(queue) = queues.first() {
            tun::set_persistent(queue, config.keep)
                .with_context(|| format!("setting {device} persistent: {}", config.keep))?;
        }
    }

    let mut changes = HostChanges::default();
    if let Err(err) = host_plan::apply(&config, &mode, &netlink, &mut changes).await {
        if let Err(undo) = changes.undo_all(&netlink).await {
            error!("{undo:#}");
        }
        return Err(err.context("setting the host up"));
    }

    let (tc, datapath_line) =
        match start_kernel_path(&config, &translator, pool.as_mut(), &netlink, &privileges).await {
            Ok(chosen) => chosen,
            Err(err) => {
                if let Err(undo) = changes.undo_all(&netlink).await {
                    error!("{undo:#}");
                }
                return Err(err);
            }
        };

    if let Err(err) = drop_privileges(&mut config, &privileges) {
        if let Err(undo) = changes.undo_all(&netlink).await {
            error!("{undo:#}");
        }
        return Err(err);
    }

    let shared = Arc::new(WorkerShared {
        translator: arc_swap::ArcSwap::from_pointee(translator),
        pool: SharedPool::new(pool),
        counters: TunCounters::default(),
        stop: Default::default(),
        log: config.log,
        tc,
    });
    let queue_count = queues.len();
    let handles = tun_workers::start(queues, Arc::clone(&shared))?;
    let prefixes = format!(
        "prefix {}, pool {}",
        config.prefix.map_or("none".into(), |p| format!(
            "{}/{}",
            p.network(),
            p.prefix_len()
        )),
        config.dynamic_pool.map_or("none".into(), |p| format!(
            "{}/{}",
            p.network(),
            p.prefix_len()
        )),
    );
    info!(
        "{datapath_line}; {queue_count} TUN worker(s) on {device}; {prefixes}, translator {} / {}",
        config.ipv4_addr, config.ipv6_addr,
    );

    info.datapath_reason = datapath_line;
    info.prefix = prefixes;
    let view = DaemonView {
        device: config.tun_device.clone(),
        shared: Arc::clone(&shared),
        info: Arc::new(info),
    };
    ops::control_socket::spawn_server(view.clone());
    if let Some(listener) = metrics_listener {
        if let Err(err) = ops::http::spawn(listener, view.clone()) {
            error!("{err:#}");
        }
    }
    ops::systemd::ready(&format!(
        "serving {device}: datapath {}",
        view.snapshot().datapath.kind
    ));
    drop(view);

    let served = serve_signals(&config, &shared).await;
    ops::systemd::stopping();

    shared.stop.store(true, Ordering::Relaxed);
    let mut stopped = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.join() {
            Ok(queue) => stopped.push(queue),
            Err(_) => error!("a TUN worker panicked"),
        }
    }
    // A device that outlives us (--keep, --mktun) must not hand super-packets to a next
    // reader that reads without the header (TAYGA).
    if offload_mode.is_vnet() {
        if let Some(queue) = stopped.first() {
            if let Err(err) = tun::offload::clear(queue) {
                warn!("{device}: offloads left on: {err}");
            }
        }
    }
    drop(stopped);
    save(&config, &shared);
    log_counters(&shared);
    // Detach the program (or leave it pinned) before the device and routes go.
    if let Some(tc) = &shared.tc {
        tc.stop(config.keep);
    }
    drop(shared);
    if config.keep {
        info!("--keep: leaving the interface, routes and rules in place");
    } else if let Err(err) = changes.undo_all(&netlink).await {
        error!("{err:#}");
    }
    served
}

/// The kernel path where the configuration asks for it and the kernel allows it; returns it
/// with the one log line that says which datapath runs and why.
async fn start_kernel_path(
    config: &Config,
    translator: &Translator,
    pool: Option<&mut crate::pool::DynamicPool>,
    netlink: &Netlink,
    privileges: &Privileges,
) -> Result<(Option<TcDatapath>, String)> {
    if config.datapath == Datapath::Tun {
        return Ok((None, "datapath tun (chosen with datapath tun)".into()));
    }
    // After -u/-g the daemon may not be allowed to update the kernel's tables, and a mapping
    // it could not remove there would send a reused address's traffic to its old host.
    if privileges.uid.is_some() || privileges.gid.is_some() {
        let why =
            "privileges are dropped (-u/-g), so the kernel's tables could not be kept in step";
        if config.datapath == Datapath::Tc {
            anyhow::bail!("datapath tc: {why}");
        }
        return Ok((None, format!("datapath tun ({why})")));
    }
    let ifindex = netlink.ifindex(&config.tun_device).await?;
    // Without pins the kernel path still runs; it just starts empty after a restart.
    let (pins, pin_note) = match PinDir::prepare(&config.pin_dir, &config.tun_device) {
        Ok(pins) => {
            let note = format!("; maps pinned in {}", pins.dir().display());
            (Some(pins), note)
        }
        Err(err) => (None, format!("; maps not pinned ({err:#})")),
    };
    let now = now_epoch_seconds();
    match TcDatapath::start(
        &config.tun_device,
        ifindex,
        translator.config(),
        pool,
        pins,
        now,
    ) {
        Ok(tc) => {
            let xdp_note = start_xdp(config, translator, &tc, netlink).await;
            Ok((
                Some(tc),
                format!("datapath tc: the kernel translates mapped hosts, the TUN workers take first packets and the rest{pin_note}{xdp_note}"),
            ))
        }
        Err(err) if config.datapath == Datapath::Tc => Err(err.context("datapath tc")),
        Err(err) => Ok((
            None,
            format!("datapath tun (the kernel refused the TC program: {err:#})"),
        )),
    }
}

/// The XDP program on the configured interfaces; returns what the datapath line says about
/// it. A failure leaves the TC path serving alone, with a warning that says why.
async fn start_xdp(
    config: &Config,
    translator: &Translator,
    tc: &TcDatapath,
    netlink: &Netlink,
) -> String {
    if config.interfaces.is_empty() {
        return String::new();
    }
    let mut interfaces = Vec::with_capacity(config.interfaces.len());
    for name in &config.interfaces {
        match netlink.ifindex(name).await {
            Ok(index) => interfaces.push((name.clone(), index)),
            Err(err) => {
                warn!("XDP not attached: interface {name}: {err:#}; the TC path serves alone");
                return "; XDP not attached (see above)".into();
            }
        }
    }
    match tc.attach_xdp(translator.config(), &interfaces, config.xdp_forward) {
        Ok(attached) => {
            let modes: Vec<String> = attached
                .iter()
                .map(|(name, mode)| format!("{name} ({mode})"))
                .collect();
            let forward = match config.xdp_forward {
                XdpForward::Stack => "handing translated packets to the stack",
                XdpForward::Direct => "sending translated packets straight out (fib lookup)",
            };
            format!("; XDP on {}, {forward}", modes.join(", "))
        }
        Err(err) => {
            warn!("XDP not attached: {err:#}; the TC path serves alone");
            "; XDP not attached (see above)".into()
        }
    }
}

fn log_counters(shared: &WorkerShared) {
    let tun = &shared.counters;
    let mut line = format!(
        "counters: tun received {} (gso super-packets {} carrying {} segments, {} translated whole; partial checksums {}; cut in userspace {}) translated {} (glued into {} USO writes: {}) icmp errors {} local replies {}",
        tun.received.load(Ordering::Relaxed),
        tun.gso_super_packets.load(Ordering::Relaxed),
        tun.gso_segments.load(Ordering::Relaxed),
        tun.gso_translated_whole.load(Ordering::Relaxed),
        tun.partial_checksums.load(Ordering::Relaxed),
        tun.offload_cut.load(Ordering::Relaxed),
        tun.translated_packets_out.load(Ordering::Relaxed),
        tun.glued_writes.load(Ordering::Relaxed),
        tun.glued_datagrams.load(Ordering::Relaxed),
        tun.icmp_errors_sent.load(Ordering::Relaxed),
        tun.local_replies.load(Ordering::Relaxed),
    );
    if let Some(tc) = &shared.tc {
        for (program, counters) in [("tc", tc.counters()), ("xdp", tc.xdp_counters())] {
            match counters {
                Ok(counters) => {
                    for (name, value) in counters {
                        line.push_str(&format!("; {program} {name} {value}"));
                    }
                }
                Err(err) => line.push_str(&format!("; {program} counters unreadable: {err:#}")),
            }
        }
    }
    info!("{line}");
}

/// SIGHUP: re-read the map-file and write dynamic.map, as TAYGA does; SIGTERM/SIGINT: stop;
/// a timer runs expiry and TAYGA's periodic write.
async fn serve_signals(config: &Config, shared: &WorkerShared) -> Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut maintenance = tokio::time::interval(MAINTENANCE_INTERVAL);
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    // systemd's watchdog is pinged from this loop, so a loop that hangs gets the daemon
    // restarted; without WatchdogSec the timer never fires.
    let watchdog_every = ops::systemd::watchdog_interval();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    let mut last_write = Instant::now();
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                ops::systemd::reloading();
                if config.map_file.is_some() {
                    reload_map_file(config, shared);
                }
                info!("SIGHUP: writing dynamic.map");
                save(config, shared);
                last_write = Instant::now();
                ops::systemd::reloaded();
            }
            _ = watchdog.tick(), if watchdog_every.is_some() => ops::systemd::watchdog_ping(),
            _ = clock.tick() => {
                if let Some(tc) = &shared.tc {
                    tc.tick_clock();
                }
            }
            _ = terminate.recv() => { info!("SIGTERM: stopping"); return Ok(()); }
            _ = interrupt.recv() => { info!("SIGINT: stopping"); return Ok(()); }
            _ = maintenance.tick() => {
                let now = now_epoch_seconds();
                let Some((expired, dirty, commit_delay)) = shared.pool.with(|pool| {
                    if let Some(tc) = &shared.tc {
                        tc.sync_last_use(pool, now);
                    }
                    let expired = pool.expire(now);
                    (expired, pool.take_dirty(), pool.timers().commit_delay())
                }) else {
                    continue;
                };
                if let Some(tc) = &shared.tc {
                    for mapping in &expired {
                        tc.forget(mapping.v6, mapping.v4);
                    }
                }
                let expired = expired.len();
                if expired > 0 {
                    info!("{expired} dynamic mappings forgotten");
                }
                if dirty || expired > 0 || last_write.elapsed() >= commit_delay {
                    save(config, shared);
                    last_write = Instant::now();
                }
            }
        }
    }
}

/// A new translator from the map-file as it is now; on any error the old one stays.
fn reload_map_file(config: &Config, shared: &WorkerShared) {
    let rebuilt = config
        .load_map_file()
        .map_err(|err| anyhow::anyhow!("{err}"))
        .and_then(|maps| {
            let translator = Translator::new(translator_setup::translator_config(config, &maps)?)?;
            Ok((maps.len(), translator))
        });
    match rebuilt {
        Ok((count, translator)) => {
            if let Some(tc) = &shared.tc {
                if let Err(err) = tc.reconfigure(translator.config()) {
                    error!("SIGHUP: the kernel tables keep the old maps: {err:#}");
                }
            }
            shared.translator.store(Arc::new(translator));
            info!("SIGHUP: map-file reloaded, {count} maps");
        }
        Err(err) => error!("SIGHUP: map-file refused, keeping the old maps: {err:#}"),
    }
}

fn drop_privileges(config: &mut Config, privileges: &Privileges) -> Result<()> {
    if let Some(dir) = &privileges.chroot {
        daemon::chroot_to(dir)?;
        // dynamic.map now lives at the root of the chroot.
        config.data_dir = Some("/".into());
    }
    daemon::drop_privileges(privileges.uid, privileges.gid)
}

fn save(config: &Config, shared: &WorkerShared) {
    if let Some(Err(err)) = shared
        .pool
        .with(|pool| persistence::save_pool(config, pool))
    {
        error!("{err:#}");
    }
}

/// Native mode with the well-known prefix: the translator's IPv6 address is the global
/// address of the first `--iface`, as the TurnKey appliance configures it.
async fn adopt_interface_address(
    config: &mut Config,
    mode: &Mode,
    netlink: &Netlink,
) -> Result<()> {
    let Mode::Native { interfaces, .. } = mode else {
        return Ok(());
    };
    let well_known = config
        .prefix
        .is_some_and(|p| p.network() == WELL_KNOWN_PREFIX && p.prefix_len() == 96);
    let Some(first) = interfaces.first() else {
        return Ok(());
    };
    if config.ipv6_addr_configured || !well_known {
        return Ok(());
    }
    let index = netlink
        .ifindex(first)
        .await
        .with_context(|| format!("--iface {first}"))?;
    match netlink.global_ipv6_of(index).await? {
        Some(addr) => {
            info!("ipv6-addr {addr}: the global address of {first}");
            config.ipv6_addr = addr;
        }
        None => info!(
            "{first} has no global IPv6 address; ipv6-addr stays {}",
            config.ipv6_addr
        ),
    }
    Ok(())
}

/// `NAT64_TUN_OFFLOAD=0` keeps the queues at one packet per system call (to compare, or to
/// rule the offloads out when something looks wrong).
fn offloads_wanted() -> bool {
    std::env::var("NAT64_TUN_OFFLOAD").map_or(true, |v| v != "0")
}

fn worker_count(config: &Config) -> usize {
    match config.workers {
        Some(0) => 1,
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
