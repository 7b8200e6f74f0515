//! The running gateway: set the host up, serve the datapath, answer signals, and leave the
//! host as it was on a clean stop.

pub mod af_xdp_start;
pub mod af_xdp_workers;
pub mod host_plan;
pub mod instance;
pub mod kernel_path;
pub mod kernel_start;
pub mod mappings;
pub mod observe;
pub mod per_packet;
pub mod pool_lookup;
pub mod stateful_path;
pub mod translator_setup;
pub mod tun_workers;

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

pub use crate::daemon::Privileges;
use host_plan::HostGuard;
pub use host_plan::Mode;
use kernel_path::KernelPath;
use kernel_start::{Choice, Loading};
use mappings::{persistence, Mappings};
use tun_workers::{TunCounters, WorkerShared};

use crate::{
    clock::unix_now,
    config::{Config, WELL_KNOWN_PREFIX},
    daemon,
    host::{netlink::Netlink, HostChanges},
    ops::{self, collect::DaemonInfo, control_socket::DaemonView},
    tc_maps,
    translate::Translator,
    tun::{self, InterfaceName},
};

/// How often expiry runs and `dynamic.map` is considered for a write.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);
/// How often the kernel path's coarse clock (its last-use stamps) moves on.
const CLOCK_INTERVAL: Duration = Duration::from_secs(1);
/// How often the sessions the kernel opened are taken into the stateful tables: its ring
/// holds 128 Ki of them, over a second's worth at the rates this box takes every 10 ms.
const OPENED_DRAIN_INTERVAL: Duration = Duration::from_millis(10);

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
    info: DaemonInfo,
) -> Result<()> {
    // From the first moment: a stop asked for while the daemon starts is a clean stop once
    // it serves, never the default action that would leave the host changed.
    let signals = Signals::catch()?;
    // Before anything on the host changes: a daemon already serving the device, or a taken
    // or wrong metrics address, refuses the start.
    let instance = instance::Instance::claim(&config.tun_device)?;
    let metrics_listener = config.metrics.map(ops::http::bind).transpose()?;
    let netlink = Netlink::connect()?;
    adopt_interface_address(&mut config, &mode, &netlink).await?;

    let map_file = config
        .load_map_file()
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    log_map_file_notes(&map_file);
    let translator_config = translator_setup::translator_config(&config, &map_file.maps)?;
    if let Some(stateful) = &config.stateful {
        // Refused here, before the host is touched, rather than once it is set up.
        crate::stateful::Nat64::new(translator_config.clone(), stateful.clone())
            .context("stateful NAT64")?;
    }
    let pool = persistence::load_pool(&config, &map_file.maps, unix_now())?;

    let device = InterfaceName::new(&config.tun_device).map_err(anyhow::Error::msg)?;
    let workers = worker_count(&config);
    let opened = tun::offload::open_queues(&device, workers, offloads_wanted())
        .map_err(|err| refused_queue(&device, err))?;
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

    // Every change to the host from here on is undone when this goes, however the run ends,
    // unless it ends cleanly with --keep.
    let mut host = HostGuard::default();
    let setup = Setup {
        translator_config,
        pool,
        queues,
        offload_mode,
        device,
        instance,
        metrics_listener,
        info,
        signals,
    };
    let served = serve_on_host(
        &mut config,
        &mode,
        &privileges,
        setup,
        &netlink,
        host.changes(),
    )
    .await;
    if config.keep && served.is_ok() {
        host.keep();
    }
    served
}

/// What a start prepared before it touched the host.
struct Setup {
    translator_config: crate::translate::TranslatorConfig,
    pool: Option<crate::pool::DynamicPool>,
    queues: Vec<tun::TunQueue>,
    offload_mode: tun::offload::Mode,
    device: InterfaceName,
    instance: instance::Instance,
    metrics_listener: Option<std::net::TcpListener>,
    info: DaemonInfo,
    signals: Signals,
}

/// The signals the daemon answers, caught from its start on.
struct Signals {
    hangup: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn catch() -> Result<Signals> {
        Ok(Signals {
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }
}

/// Everything from the first change to the host to the last packet: the caller's guard
/// undoes the changes whatever happens here (unless `--keep` after a clean stop).
async fn serve_on_host(
    config: &mut Config,
    mode: &Mode,
    privileges: &Privileges,
    setup: Setup,
    netlink: &Netlink,
    changes: &mut HostChanges,
) -> Result<()> {
    let Setup {
        mut translator_config,
        pool,
        queues,
        offload_mode,
        device,
        instance,
        metrics_listener,
        mut info,
        signals,
    } = setup;
    host_plan::apply(config, mode, netlink, changes)
        .await
        .context("setting the host up")?;
    // TAYGA takes both sides' MTU from the device, once, at start.
    let mtu = device_mtu(netlink, &config.tun_device).await?;
    translator_setup::set_link_mtu(&mut translator_config, mtu);
    let nat64 = match &config.stateful {
        Some(cfg) => Some(
            crate::stateful::Nat64::new(translator_config.clone(), cfg.clone())
                .context("starting stateful NAT64")?,
        ),
        None => None,
    };
    // Stateful: the translator's settings as stateful NAT64 has them, which is also what the
    // kernel programs are configured from.
    let translator = match &nat64 {
        Some(nat64) => Translator::new(nat64.translator().config().clone())?,
        None => Translator::new(translator_config)?,
    };
    let choice = Choice::make(config, privileges)?;
    drop_privileges(config, privileges)?;
    // After the chroot, as dynamic.map: the state file is where the daemon now sees data-dir.
    let stateful = nat64.map(|nat64| {
        let file = config
            .data_dir
            .as_ref()
            .map(|dir| dir.join(stateful_path::STATE_FILE));
        stateful_path::StatefulPath::new(nat64, file)
    });

    // After the chroot: dynamic.map is where the daemon now sees data-dir.
    let mappings = Mappings::new(pool, persistence::dynamic_map_path(config));
    let slow_path_writer = match queues.first().map(tun::TunQueue::try_clone) {
        Some(Ok(writer)) => Some(Arc::new(writer)),
        Some(Err(err)) => {
            warn!("{device}: no second handle for the AF_XDP slow path ({err}); it stays off");
            None
        }
        None => None,
    };
    let shared = Arc::new(WorkerShared {
        translator: arc_swap::ArcSwap::from_pointee(translator),
        mappings,
        counters: TunCounters::default(),
        stop: Default::default(),
        log: config.log,
        stateful,
        slow_path_writer,
        af_xdp: Default::default(),
    });
    let kernel = Arc::new(KernelPath::default());
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
        "serving: {queue_count} TUN worker(s) on {device}; {prefixes}, translator {} / {}",
        config.ipv4_addr, config.ipv6_addr,
    );

    info.prefix = prefixes;
    let info = Arc::new(info);
    let view = DaemonView {
        device: config.tun_device.clone(),
        state: Arc::new(observe::Observed {
            device: config.tun_device.clone(),
            shared: Arc::clone(&shared),
            kernel: Arc::clone(&kernel),
            info: Arc::clone(&info),
        }),
    };
    ops::control_socket::spawn_server(view.clone(), instance.listener);
    if let Some(listener) = metrics_listener {
        if let Err(err) = ops::http::spawn(listener, view.clone()) {
            error!("{err:#}");
        }
    }
    // The TUN workers serve from here on; the kernel path, when it comes, only speeds up.
    ops::systemd::ready(&format!("serving {device}"));
    drop(view);

    let served = serve_signals(config, &shared, &kernel, choice, signals, netlink, &info).await;
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
    shared.af_xdp.join();
    save(&shared.mappings);
    if let Some(stateful) = &shared.stateful {
        if let Err(err) = stateful.save() {
            error!("stateful: not kept for the next run: {err:#}");
        }
    }
    log_counters(&shared, &kernel);
    // Detach the programs (or leave them pinned) before the routes go.
    kernel.stop(config.keep);
    served
}

fn log_counters(shared: &WorkerShared, kernel: &KernelPath) {
    let tun = &shared.counters;
    let mut line = format!(
        "counters: tun received {} (gso super-packets {} carrying {} segments, {} translated whole; partial checksums {}; cut in userspace {}) translated {} (glued into {} USO writes: {}) icmp errors {} local replies {}",
        tun.received.load(Ordering::Relaxed),
        tun.gso_super_packets.load(Ordering::Relaxed),
        tun.gso_segments.load(Ordering::Relaxed),
        tun.gso_translated_whole.load(Ordering::Relaxed),
        tun.partial_checksums.load(Ordering::Relaxed),
        tun.offload_cut.load(Ordering::Relaxed),
        tun.packets.translated_packets_out.load(Ordering::Relaxed),
        tun.glued_writes.load(Ordering::Relaxed),
        tun.glued_datagrams.load(Ordering::Relaxed),
        tun.packets.icmp_errors_sent.load(Ordering::Relaxed),
        tun.packets.local_replies.load(Ordering::Relaxed),
    );
    if let Some(counters) = kernel.counters() {
        for (program, values) in [("tc", Some(counters.tc)), ("xdp", counters.xdp)] {
            match values {
                Some(Ok(values)) => {
                    for (name, value) in tc_maps::nonzero_outcomes(values) {
                        line.push_str(&format!("; {program} {name} {value}"));
                    }
                }
                Some(Err(err)) => {
                    line.push_str(&format!("; {program} counters unreadable: {err:#}"))
                }
                None => {}
            }
        }
    }
    info!("{line}");
}

/// SIGHUP: re-read the map-file and write dynamic.map, as TAYGA does; SIGTERM/SIGINT: stop;
/// a timer runs expiry and TAYGA's periodic write; the kernel path comes up when loaded.
async fn serve_signals(
    config: &Config,
    shared: &Arc<WorkerShared>,
    kernel: &KernelPath,
    choice: Choice,
    signals: Signals,
    netlink: &Netlink,
    info: &DaemonInfo,
) -> Result<()> {
    let mut loading = match choice {
        Choice::Tun(why) => {
            kernel_start::name_datapath(info, &format!("datapath tun ({why})"));
            None
        }
        Choice::Loading(loading) => Some(loading),
    };
    let served =
        serve_signals_until_stop(config, shared, kernel, signals, &mut loading, netlink, info)
            .await;
    // Stopped while the programs were still loading: wait for them, so pins they made go too.
    if let Some(loading) = loading {
        loading.abandon(config.keep).await;
    }
    served
}

async fn serve_signals_until_stop(
    config: &Config,
    shared: &Arc<WorkerShared>,
    kernel: &KernelPath,
    signals: Signals,
    loading: &mut Option<Loading>,
    netlink: &Netlink,
    info: &DaemonInfo,
) -> Result<()> {
    let Signals {
        mut hangup,
        mut terminate,
        mut interrupt,
    } = signals;
    let mut maintenance = tokio::time::interval(MAINTENANCE_INTERVAL);
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    let mut opened = tokio::time::interval(OPENED_DRAIN_INTERVAL);
    // systemd's watchdog is pinged from this loop, so a loop that hangs gets the daemon
    // restarted; without WatchdogSec the timer never fires.
    let watchdog_every = ops::systemd::watchdog_interval();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            loaded = async { loading.as_mut().expect("guarded").loaded().await }, if loading.is_some() => {
                let pending = loading.take().expect("guarded");
                pending.finish(loaded, config, shared, kernel, netlink, info).await?;
            }
            _ = hangup.recv() => {
                ops::systemd::reloading();
                if config.map_file.is_some() {
                    reload_map_file(config, shared, kernel);
                }
                info!("SIGHUP: writing dynamic.map");
                save(&shared.mappings);
                ops::systemd::reloaded();
            }
            _ = watchdog.tick(), if watchdog_every.is_some() => ops::systemd::watchdog_ping(),
            _ = clock.tick() => kernel.tick_clock(),
            _ = opened.tick(), if shared.stateful.is_some() => {
                if let Some(stateful) = &shared.stateful {
                    stateful.adopt_opened();
                }
            }
            _ = terminate.recv() => { info!("SIGTERM: stopping"); return Ok(()); }
            _ = interrupt.recv() => { info!("SIGINT: stopping"); return Ok(()); }
            _ = maintenance.tick() => {
                let now = unix_now();
                let mappings = &shared.mappings;
                mappings.sync_last_use(now);
                let expired = mappings.expire(now);
                if expired > 0 {
                    info!("{expired} dynamic mappings forgotten");
                }
                if let Err(err) = mappings.save_if_due() {
                    error!("{err:#}");
                }
            }
        }
    }
}

/// A new translator from the map-file as it is now, applied as TAYGA applies it (bad or
/// conflicting lines skipped and named); only a file that cannot be read keeps the old one.
fn reload_map_file(config: &Config, shared: &WorkerShared, kernel: &KernelPath) {
    let rebuilt = config
        .load_map_file()
        .map_err(|err| anyhow::anyhow!("{err}"))
        .and_then(|map_file| {
            log_map_file_notes(&map_file);
            let current = shared.translator.load();
            let mut translator_config =
                translator_setup::translator_config(config, &map_file.maps)?;
            translator_setup::set_link_mtu(
                &mut translator_config,
                u32::from(current.config().ipv4_mtu),
            );
            Ok((map_file.maps, Translator::new(translator_config)?))
        });
    match rebuilt {
        Ok((maps, translator)) => {
            if let Err(err) = kernel.reconfigure(translator.config()) {
                error!("SIGHUP: the kernel tables keep the old maps: {err:#}");
            }
            shared
                .mappings
                .reserve_v4(persistence::reserved_v4(config, &maps));
            shared.translator.store(Arc::new(translator));
            info!("SIGHUP: map-file reloaded, {} maps", maps.len());
        }
        Err(err) => error!("SIGHUP: map-file unreadable, keeping the old maps: {err:#}"),
    }
}

fn log_map_file_notes(map_file: &crate::config::map_file::MapFile) {
    for note in &map_file.notes {
        warn!("map-file: {note}");
    }
}

async fn device_mtu(netlink: &Netlink, device: &str) -> Result<u32> {
    let index = netlink.ifindex(device).await?;
    netlink
        .mtu_of(index)
        .await
        .with_context(|| format!("reading the MTU of {device}"))
}

fn drop_privileges(config: &mut Config, privileges: &Privileges) -> Result<()> {
    if let Some(dir) = &privileges.chroot {
        daemon::chroot_to(dir)?;
        // dynamic.map now lives at the root of the chroot.
        config.data_dir = Some("/".into());
    }
    daemon::drop_privileges(privileges.uid, privileges.gid)
}

/// Writes dynamic.map (SIGHUP, stop); a failure is logged, the daemon carries on.
fn save(mappings: &Mappings) {
    if let Err(err) = mappings.save() {
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

/// The device would not give us a queue: when it is busy, say who has it.
fn refused_queue(device: &InterfaceName, err: std::io::Error) -> anyhow::Error {
    let holders = instance::tun_holders(device.as_str());
    if err.raw_os_error() == Some(libc::EBUSY) && !holders.is_empty() {
        let names: Vec<String> = holders.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "opening TUN device {device}: it is in use by {} (a single-queue device serves one reader); stop that first",
            names.join(", ")
        )
    } else {
        anyhow::anyhow!("opening TUN device {device}: {err}")
    }
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
