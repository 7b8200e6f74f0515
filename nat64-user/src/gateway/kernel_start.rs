//! Whether the kernel path runs, and bringing it up while the TUN workers already serve.
//!
//! The verifier takes a good part of a second over the programs. TAYGA answers the moment
//! it starts, and a TAYGA site's tools (its own test suite, `systemctl restart`) expect as
//! much, so the programs are loaded on a thread of its own; until the kernel path is attached
//! the TUN workers translate everything. It is attached from inside
//! [`Mappings::enter_kernel`], with the mappings locked: every mapping the workers made
//! meanwhile is in the kernel's tables before the program sees a packet, and every later one
//! is entered by the allocation that makes it.

use anyhow::{Context as _, Result};
use tokio::sync::oneshot;
use tracing::{info, warn};

use std::sync::Arc;

use super::{
    af_xdp_start,
    kernel_path::{KernelPath, Loaded},
    mappings::Mappings,
    tun_workers::WorkerShared,
};
use crate::{
    clock::unix_now,
    config::{Config, Datapath, XdpForward},
    daemon::Privileges,
    host::netlink::Netlink,
    ops::collect::DaemonInfo,
    pins::PinDir,
};

/// What the configuration and the privileges allow.
pub enum Choice {
    /// The TUN workers alone, for the reason given.
    Tun(String),
    /// The kernel path, loading.
    Loading(Loading),
}

/// The kernel path being loaded on its thread.
pub struct Loading {
    pending: oneshot::Receiver<Result<Loaded>>,
    /// What the datapath line says about the pins.
    pin_note: String,
    /// `datapath tc`, which refuses to run without the kernel path.
    forced: bool,
}

impl Choice {
    /// Decides, and starts loading the programs when the kernel path is wanted.
    pub fn make(config: &Config, privileges: &Privileges) -> Result<Choice> {
        if config.datapath == Datapath::Tun {
            return Ok(Choice::Tun("chosen with datapath tun".into()));
        }
        let refusal = if privileges.uid.is_some() || privileges.gid.is_some() {
            // After -u/-g the daemon may not be allowed to update the kernel's tables, and a
            // mapping it could not remove there would send a reused address's traffic to its
            // old host.
            Some("privileges are dropped (-u/-g), so the kernel's tables could not be kept in step")
        } else if privileges.chroot.is_some() {
            Some("the daemon runs chrooted (-r), out of reach of the bpf filesystem")
        } else {
            None
        };
        let forced = config.datapath == Datapath::Tc;
        if let Some(why) = refusal {
            if forced {
                anyhow::bail!("datapath tc: {why}");
            }
            return Ok(Choice::Tun(why.into()));
        }
        // Without pins the kernel path still runs; it just starts empty after a restart.
        let (pins, pin_note) = match PinDir::prepare(&config.pin_dir, &config.tun_device) {
            Ok(pins) => {
                let note = format!("; maps pinned in {}", pins.dir().display());
                (Some(pins), note)
            }
            Err(err) => (None, format!("; maps not pinned ({err:#})")),
        };
        let with_xdp = !config.interfaces.is_empty();
        let (done, pending) = oneshot::channel();
        std::thread::Builder::new()
            .name("nat64-load".into())
            .spawn(move || {
                let _ = done.send(Loaded::load(pins, with_xdp));
            })
            .context("starting the thread that loads the kernel path")?;
        Ok(Choice::Loading(Loading {
            pending,
            pin_note,
            forced,
        }))
    }
}

impl Loading {
    /// What the loading thread made, once it is done.
    pub async fn loaded(&mut self) -> Result<Loaded> {
        (&mut self.pending)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the loading thread died")))
    }

    /// Attaches what was loaded (or says why not) and logs the one line that names the
    /// datapath. An error only when `datapath tc` was asked for and cannot be had.
    pub async fn finish(
        self,
        loaded: Result<Loaded>,
        config: &Config,
        shared: &Arc<WorkerShared>,
        kernel: &KernelPath,
        netlink: &Netlink,
        info: &DaemonInfo,
    ) -> Result<()> {
        match attach(loaded, config, shared, kernel, netlink).await {
            Ok(()) => {
                let xdp_note = start_xdp(config, shared, kernel, netlink).await;
                // Who "the slow path" is comes at the end: TUN workers, AF_XDP workers or both.
                let what = if config.stateful.is_some() {
                    "the kernel translates the flows of open sessions, the slow path opens sessions and takes the rest"
                } else {
                    "the kernel translates mapped hosts, the slow path takes first packets and the rest"
                };
                name_datapath(
                    info,
                    &format!("datapath tc: {what}{}{xdp_note}", self.pin_note),
                );
                Ok(())
            }
            Err(err) if self.forced => Err(err.context("datapath tc")),
            Err(err) => {
                name_datapath(
                    info,
                    &format!("datapath tun (the kernel refused the TC program: {err:#})"),
                );
                Ok(())
            }
        }
    }

    /// The daemon stops before the kernel path came up: waits for the loading thread, so
    /// pins it made go too (unless `keep`).
    pub async fn abandon(mut self, keep: bool) {
        if let Ok(loaded) = self.loaded().await {
            loaded.discard(keep);
        }
    }
}

/// The one line that says which datapath runs and why, for the log and `nat64 status`.
pub fn name_datapath(info: &DaemonInfo, line: &str) {
    info!("{line}");
    info.set_datapath(line);
}

async fn attach(
    loaded: Result<Loaded>,
    config: &Config,
    shared: &WorkerShared,
    kernel: &KernelPath,
    netlink: &Netlink,
) -> Result<()> {
    let loaded = loaded?;
    let ifindex = netlink.ifindex(&config.tun_device).await?;
    let translator = shared.translator.load();
    let (prepared, tables, sessions, bindings) = loaded.configure(translator.config(), ifindex)?;
    let pin_dir = prepared
        .pin_dir()
        .map_or(String::new(), |p| p.dir().display().to_string());
    if let Some(stateful) = &shared.stateful {
        // Stateful NAT64 keeps no host mappings: the sessions are what the kernel needs.
        let entered = stateful.enter_kernel(sessions, bindings, || {
            kernel.attach(prepared, &config.tun_device)
        })?;
        info!(
            "stateful: {} sessions and {} bindings entered in the kernel's maps; the kernel \
             opens UDP and ICMP echo sessions itself in a port block each subscriber lends it",
            entered.sessions, entered.bindings
        );
        return Ok(());
    }
    let reused = prepared.reused();
    let mappings: &Mappings = &shared.mappings;
    let reopened = mappings.enter_kernel(tables, reused, unix_now(), || {
        kernel.attach(prepared, &config.tun_device)
    })?;
    if let Some(reopened) = reopened {
        info!(
            "kernel tables reopened from {pin_dir}: {} host mappings, {} taken into the pool, {} dropped as stale",
            reopened.found, reopened.adopted, reopened.dropped
        );
    }
    Ok(())
}

/// The XDP program on the configured interfaces; returns what the datapath line says about
/// it. A failure leaves the TC path serving alone, with a warning that says why.
async fn start_xdp(
    config: &Config,
    shared: &Arc<WorkerShared>,
    kernel: &KernelPath,
    netlink: &Netlink,
) -> String {
    if config.interfaces.is_empty() {
        return "; the TUN workers are the slow path".into();
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
    let translator = shared.translator.load();
    match kernel.attach_xdp(translator.config(), &interfaces, config.xdp_forward) {
        Ok(attached) => {
            let modes: Vec<String> = attached
                .iter()
                .map(|(name, mode)| format!("{name} ({mode})"))
                .collect();
            let forward = match config.xdp_forward {
                XdpForward::Stack => "handing translated packets to the stack",
                XdpForward::Direct => "sending translated packets straight out (fib lookup)",
            };
            let slow_path = af_xdp_start::start(config, shared, kernel, &interfaces);
            format!("; XDP on {}, {forward}{slow_path}", modes.join(", "))
        }
        Err(err) => {
            warn!("XDP not attached: {err:#}; the TC path serves alone");
            "; XDP not attached (see above)".into()
        }
    }
}
