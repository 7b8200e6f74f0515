//! The kernel path, and the one type that attaches, swaps and detaches it: the `nat64_tc`
//! program on the `tun-device`'s egress translates packets of hosts that have a mapping and
//! redirects them into the device's ingress; the rest reach the TUN queue, where the workers
//! (the slow path) translate them. With `--iface`, the `nat64_xdp` program of the same object
//! (same maps) runs on those interfaces too ([`xdp`]).
//!
//! [`KernelPath`] owns the loaded object, the TC link and the XDP attachments, and answers
//! for them: attach (swapping its programs into the links an earlier `--keep` run left),
//! configure, tick the clock, count, and on stop detach or keep. It does not own the host
//! tables: those are taken out of the object before it is attached and kept by
//! `gateway::mappings`, the only writer of them. How a start comes to attach it (or not) is
//! `gateway::kernel_start`'s business.

mod load;
mod tc;
pub mod xdp;

use std::sync::{Mutex, OnceLock};

use anyhow::{Context as _, Result};
use aya::Ebpf;
use nat64_common::{counters::Outcome, maps::XdpForward};
use tracing::{info, warn};

pub use load::{load_program, Loaded, Prepared};
use load::{OwnedPins, XdpLoad};
use tc::TcLink;
pub use xdp::AttachMode;

use crate::{
    clock::boot_time_ns,
    tc_maps::{self, Targets},
    translate::TranslatorConfig,
};

/// The kernel path of this run. Not attached until [`KernelPath::attach`] (the TUN workers
/// serve alone until then, or for good); every question asked before is answered as for a
/// run without it.
#[derive(Default)]
pub struct KernelPath {
    attached: OnceLock<Attached>,
}

struct Attached {
    /// The programs, the configuration block, the clock and the counters (the host tables
    /// were taken out: `Loaded::configure`).
    ebpf: Mutex<Ebpf>,
    targets: Mutex<Targets>,
    xdp_load: Mutex<XdpLoad>,
    links: Mutex<Links>,
}

/// What holds the programs on the device and the interfaces, and the pins: let go in this
/// order (XDP, TC, pins) when they go, unless kept.
#[derive(Default)]
struct Links {
    xdp: Vec<xdp::Attachment>,
    tc: Option<TcLink>,
    pins: Option<OwnedPins>,
}

impl Links {
    fn release(mut self, keep: bool) {
        if keep {
            self.xdp.iter_mut().for_each(xdp::Attachment::keep);
            self.tc.iter_mut().for_each(TcLink::keep);
            if let Some(pins) = &mut self.pins {
                pins.keep();
                info!(
                    "--keep: the kernel path stays attached, its maps pinned in {}",
                    pins.dir().dir().display()
                );
            }
        }
        drop(std::mem::take(&mut self.xdp));
        drop(self.tc.take());
        drop(self.pins.take());
    }
}

/// The kernel programs' counters, summed over CPUs and indexed by [`Outcome`].
pub struct KernelCounters {
    pub tc: Result<[u64; Outcome::COUNT]>,
    /// `None` while the XDP program runs on no interface.
    pub xdp: Option<Result<[u64; Outcome::COUNT]>>,
    /// The interfaces the XDP program runs on, with its mode on each.
    pub xdp_modes: Vec<(String, AttachMode)>,
}

impl KernelPath {
    /// Attaches the prepared program on `device`'s egress (its host tables already filled:
    /// `Mappings::enter_kernel` calls this with them). With pins, a program an earlier run
    /// left attached is replaced without a gap. Any error means the kernel path is not
    /// available: what was made for it is let go.
    pub fn attach(&self, prepared: Prepared, device: &str) -> Result<()> {
        let Prepared {
            mut ebpf,
            pins,
            xdp,
            targets,
            ..
        } = prepared;
        let tc = tc::attach(&mut ebpf, device, pins.as_ref().map(OwnedPins::dir))?;
        let attached = Attached {
            ebpf: Mutex::new(ebpf),
            targets: Mutex::new(targets),
            xdp_load: Mutex::new(xdp),
            links: Mutex::new(Links {
                xdp: Vec::new(),
                tc: Some(tc),
                pins,
            }),
        };
        self.attached
            .set(attached)
            .map_err(|_| anyhow::anyhow!("the kernel path is attached already"))
    }

    /// Whether the kernel path runs.
    pub fn is_attached(&self) -> bool {
        self.attached.get().is_some()
    }

    /// Runs the XDP program (loaded with the TC program) on `interfaces` (name, ifindex),
    /// sending what it translates as `forward` says. On error nothing is attached: the TC
    /// path serves alone.
    pub fn attach_xdp(
        &self,
        translator: &TranslatorConfig,
        interfaces: &[(String, u32)],
        forward: XdpForward,
    ) -> Result<Vec<(String, AttachMode)>> {
        let attached = self
            .attached
            .get()
            .context("the kernel path is not attached")?;
        match std::mem::replace(&mut *lock(&attached.xdp_load), XdpLoad::NotWanted) {
            XdpLoad::Loaded => {}
            XdpLoad::Refused(err) => return Err(err),
            XdpLoad::NotWanted => anyhow::bail!("the XDP program was not loaded"),
        }
        let mut links = lock(&attached.links);
        let mut targets = lock(&attached.targets);
        let mut ebpf = lock(&attached.ebpf);
        let ifindexes: Vec<u32> = interfaces.iter().map(|(_, i)| *i).collect();
        tc_maps::write_xdp_devices(&mut ebpf, &ifindexes)?;
        let wanted = Targets {
            xdp_forward: forward,
            ..*targets
        };
        tc_maps::write_config(&mut ebpf, translator, wanted)?;
        *targets = wanted;
        let pins = links.pins.as_ref().map(OwnedPins::dir);
        if let Some(pins) = pins {
            xdp::release_unnamed(pins, interfaces);
        }
        let attachments = xdp::attach_all(&mut ebpf, interfaces, pins)?;
        let summary = attachments
            .iter()
            .map(|a| (a.interface.clone(), a.mode))
            .collect();
        links.xdp = attachments;
        Ok(summary)
    }

    /// Sends the slow path of the XDP program's interfaces to AF_XDP sockets: `sockets` are
    /// (XSKMAP index, descriptor), `slots` (ifindex, slot) of the interfaces that have them.
    pub fn attach_af_xdp(&self, sockets: &[(u32, i32)], slots: &[(u32, u32)]) -> Result<()> {
        let attached = self
            .attached
            .get()
            .context("the kernel path is not attached")?;
        tc_maps::write_xsk_sockets(&mut lock(&attached.ebpf), sockets, slots)
    }

    /// A handle on the loaded `nat64_next_hop`, for the AF_XDP workers' route lookups.
    pub fn next_hop_program(&self) -> Result<crate::af_xdp::NextHopProgram> {
        let attached = self
            .attached
            .get()
            .context("the kernel path is not attached")?;
        xdp::next_hop_program(&mut lock(&attached.ebpf))
    }

    /// Ends the kernel path. `keep`: the programs stay attached through their pinned links
    /// and the maps stay pinned, so mapped hosts are translated until the next start takes
    /// over; otherwise the programs are detached and the pins removed.
    pub fn stop(&self, keep: bool) {
        if let Some(attached) = self.attached.get() {
            std::mem::take(&mut *lock(&attached.links)).release(keep);
        }
    }

    /// A new translator configuration (SIGHUP's map-file): the kernel takes the same maps.
    pub fn reconfigure(&self, translator: &TranslatorConfig) -> Result<()> {
        let Some(attached) = self.attached.get() else {
            return Ok(());
        };
        let targets = *lock(&attached.targets);
        tc_maps::write_config(&mut lock(&attached.ebpf), translator, targets)
    }

    /// Moves the programs' coarse clock on (once a second is enough: last use counts in
    /// seconds). While no daemon runs (`--keep`), stamps keep the time of its last tick.
    pub fn tick_clock(&self) {
        let Some(attached) = self.attached.get() else {
            return;
        };
        if let Err(err) = tc_maps::write_clock(&mut lock(&attached.ebpf), boot_time_ns()) {
            warn!("the kernel path's clock: {err:#}");
        }
    }

    /// The programs' counters; `None` while the kernel path is not attached.
    pub fn counters(&self) -> Option<KernelCounters> {
        let attached = self.attached.get()?;
        let xdp_modes: Vec<(String, AttachMode)> = lock(&attached.links)
            .xdp
            .iter()
            .map(|a| (a.interface.clone(), a.mode))
            .collect();
        let ebpf = lock(&attached.ebpf);
        Some(KernelCounters {
            tc: tc_maps::tc_counters(&ebpf),
            xdp: (!xdp_modes.is_empty()).then(|| tc_maps::xdp_counters(&ebpf)),
            xdp_modes,
        })
    }
}

/// A poisoned lock means a thread panicked mid-update; the kernel objects behind it are
/// still whole, so carrying on beats stopping the datapath.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
