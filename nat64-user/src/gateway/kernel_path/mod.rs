//! The kernel fast path on the `tun-device`: the `nat64_tc` program on the device's egress
//! translates packets of hosts that have a mapping and redirects them into the device's
//! ingress; the rest reach the TUN queue, where the workers (the slow path) translate them
//! and enter new mappings into the program's maps before writing the packet back. With
//! `--iface`, the `nat64_xdp` program of the same object (same maps) runs on those
//! interfaces too (see [`xdp_interfaces`]).

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::Mutex,
};

use anyhow::{Context as _, Result};
use aya::{
    programs::{
        links::{FdLink, PinnedLink},
        SchedClassifier, TcAttachType,
    },
    Ebpf, EbpfLoader,
};
use nat64_common::maps::{names, MappingKind, XdpForward};
use tracing::{info, warn};

use super::{kernel_mappings, xdp_interfaces};
use crate::{
    clock::boot_time_ns,
    ebpf_object,
    pins::{self, PinDir},
    pool::DynamicPool,
    tc_maps::{self, Targets},
    translate::TranslatorConfig,
};

/// The loaded program and its maps; dropping it detaches the program unless its link is
/// pinned.
pub struct TcDatapath {
    ebpf: Mutex<Ebpf>,
    targets: Mutex<Targets>,
    pins: Option<PinDir>,
    link: Mutex<Option<PinnedLink>>,
    xdp: Mutex<Vec<xdp_interfaces::Attachment>>,
}

/// Loads `nat64_tc` with its maps for packets that start at the IP header (`l3_offset` 0 on
/// a TUN device; 14 where a test run hands it Ethernet frames) and has the verifier check it.
pub fn load_program(l3_offset: u32) -> Result<Ebpf> {
    load(l3_offset, None)
}

fn load(l3_offset: u32, pins: Option<&PinDir>) -> Result<Ebpf> {
    let object = ebpf_object::object()?;
    let mut loader = EbpfLoader::new();
    loader.override_global(names::L3_OFFSET, &l3_offset, true);
    if let Some(pins) = pins {
        for name in pins::PINNED_MAPS {
            loader.map_pin_path(name, pins.map(name));
        }
    }
    let mut ebpf = loader.load(object).context("loading the eBPF object")?;
    program(&mut ebpf)?
        .load()
        .context("the verifier refused nat64_tc")?;
    Ok(ebpf)
}

/// Loads with the maps pinned in `pins`, reopening those an earlier run left. Maps that do
/// not fit this build (another version's layout) are replaced by fresh ones.
fn load_pinned(pins: &PinDir) -> Result<(Ebpf, bool)> {
    let reused = pins.has_maps();
    match load(0, Some(pins)) {
        Ok(ebpf) => Ok((ebpf, reused)),
        Err(err) if reused => {
            warn!(
                "the maps pinned in {} do not fit this build ({err:#}); starting with fresh ones",
                pins.dir().display()
            );
            pins.remove_maps()
                .with_context(|| format!("removing the old pins in {}", pins.dir().display()))?;
            Ok((load(0, Some(pins))?, false))
        }
        Err(err) => Err(err),
    }
}

fn program(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut("nat64_tc")
        .context("program nat64_tc is not in the eBPF object")?;
    Ok(program.try_into()?)
}

/// The program through the verifier, its maps made (or reopened from `pins`), nothing
/// attached yet: the slow part of a start, done while the TUN workers already serve.
pub struct Loaded {
    ebpf: Ebpf,
    reused: bool,
    pins: Option<PinDir>,
}

impl Loaded {
    /// Loads the program, with its maps pinned in `pins` when given.
    pub fn load(pins: Option<PinDir>) -> Result<Loaded> {
        let (ebpf, reused) = match &pins {
            Some(pins) => load_pinned(pins)?,
            None => (load(0, None)?, false),
        };
        Ok(Loaded { ebpf, reused, pins })
    }

    /// Not needed after all (the daemon stops before it started): pins it made go too,
    /// unless they are to be kept.
    pub fn discard(self, keep: bool) {
        if let (Some(pins), false) = (&self.pins, keep) {
            if let Err(err) = pins.remove_all() {
                warn!("removing the pins in {}: {err}", pins.dir().display());
            }
        }
    }
}

impl TcDatapath {
    /// Configures and attaches the loaded program on `device`'s egress, and enters the
    /// mappings the pool has. With pins, an earlier run's mappings are squared with the pool
    /// (see [`kernel_mappings`]) and its program, if still attached, is replaced without a
    /// gap. Any error means the kernel path is not available.
    pub fn start(
        loaded: Loaded,
        device: &str,
        ifindex: u32,
        translator: &TranslatorConfig,
        mut pool: Option<&mut DynamicPool>,
        now: u64,
    ) -> Result<Self> {
        let Loaded {
            mut ebpf,
            reused,
            pins,
        } = loaded;
        tc_maps::write_config(&mut ebpf, translator, Targets::tun(ifindex))?;
        tc_maps::write_clock(&mut ebpf, boot_time_ns())?;
        if reused {
            let found = tc_maps::host_mappings(&ebpf)?;
            let outcome = kernel_mappings::reconcile(
                &found,
                &tc_maps::reverse_mappings(&ebpf)?,
                pool.as_deref_mut(),
                now,
            );
            for v6 in &outcome.remove_forward {
                tc_maps::remove_forward(&mut ebpf, *v6)?;
            }
            for v4 in &outcome.remove_reverse {
                tc_maps::remove_reverse(&mut ebpf, *v4)?;
            }
            info!(
                "kernel tables reopened from {}: {} host mappings, {} taken into the pool, {} dropped as stale",
                pins.as_ref().map_or(String::new(), |p| p.dir().display().to_string()),
                found.len(),
                outcome.adopted,
                outcome.remove_forward.len()
            );
        }
        for mapping in pool.as_deref().into_iter().flat_map(DynamicPool::iter) {
            tc_maps::insert_host(&mut ebpf, mapping.v6, mapping.v4, MappingKind::Dynamic)?;
        }
        let link = attach(&mut ebpf, device, pins.as_ref())?;
        Ok(Self {
            ebpf: Mutex::new(ebpf),
            targets: Mutex::new(Targets::tun(ifindex)),
            pins,
            link: Mutex::new(link),
            xdp: Mutex::new(Vec::new()),
        })
    }

    /// Runs the XDP program on `interfaces` (name, ifindex), sending what it translates as
    /// `forward` says. On error nothing is attached: the TC path serves alone.
    pub fn attach_xdp(
        &self,
        translator: &TranslatorConfig,
        interfaces: &[(String, u32)],
        forward: XdpForward,
    ) -> Result<Vec<(String, xdp_interfaces::AttachMode)>> {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let attached = self.with(|ebpf| -> Result<_> {
            xdp_interfaces::load_program(ebpf)?;
            let ifindexes: Vec<u32> = interfaces.iter().map(|(_, i)| *i).collect();
            tc_maps::write_xdp_devices(ebpf, &ifindexes)?;
            let wanted = Targets {
                xdp_forward: forward,
                ..*targets
            };
            tc_maps::write_config(ebpf, translator, wanted)?;
            *targets = wanted;
            if let Some(pins) = &self.pins {
                xdp_interfaces::release_unnamed(pins, interfaces);
            }
            xdp_interfaces::attach_all(ebpf, interfaces, self.pins.as_ref())
        })?;
        let summary = attached
            .iter()
            .map(|a| (a.interface.clone(), a.mode))
            .collect();
        *self.xdp.lock().unwrap_or_else(|p| p.into_inner()) = attached;
        Ok(summary)
    }

    /// Ends the kernel path. `keep`: the program stays attached through its pinned link and
    /// the maps stay pinned, so mapped hosts are translated until the next start takes over;
    /// otherwise the program is detached and the pins removed.
    pub fn stop(&self, keep: bool) {
        for attachment in self.xdp.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            attachment.stop(keep);
        }
        let link = self.link.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(pins) = &self.pins else {
            return;
        };
        if keep {
            info!(
                "--keep: the kernel path stays attached, its maps pinned in {}",
                pins.dir().display()
            );
            return;
        }
        if let Some(link) = link {
            if let Err(err) = link.unpin() {
                warn!("unpinning the TC link: {err}");
            }
        }
        if let Err(err) = pins.remove_all() {
            warn!("removing the pins in {}: {err}", pins.dir().display());
        }
    }

    /// A new translator configuration (SIGHUP's map-file): the kernel takes the same maps.
    pub fn reconfigure(&self, translator: &TranslatorConfig) -> Result<()> {
        let targets = *self.targets.lock().unwrap_or_else(|p| p.into_inner());
        self.with(|ebpf| tc_maps::write_config(ebpf, translator, targets))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ebpf) -> R) -> R {
        let mut ebpf = self.ebpf.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut ebpf)
    }

    /// Moves the datapath's coarse clock on (once a second is enough: last use counts in
    /// seconds). While no daemon runs (`--keep`), stamps keep the time of its last tick.
    pub fn tick_clock(&self) {
        if let Err(err) = self.with(|ebpf| tc_maps::write_clock(ebpf, boot_time_ns())) {
            warn!("the kernel path's clock: {err:#}");
        }
    }

    /// A host got an address: from now on the kernel translates its packets.
    pub fn enter(&self, v6: Ipv6Addr, v4: Ipv4Addr) {
        if let Err(err) = self.with(|ebpf| tc_maps::insert_host(ebpf, v6, v4, MappingKind::Dynamic))
        {
            warn!("could not enter {v6} -> {v4} in the kernel tables (it stays on the slow path): {err:#}");
        }
    }

    /// A mapping ended (expired, or its address went to another host).
    pub fn forget(&self, v6: Ipv6Addr, v4: Ipv4Addr) {
        if let Err(err) = self.with(|ebpf| tc_maps::remove_host(ebpf, v6, v4)) {
            warn!("could not remove {v6} -> {v4} from the kernel tables: {err:#}");
        }
    }

    /// Copies the kernel's last-use stamps into the pool, so mappings the kernel serves do
    /// not look idle to the allocator.
    pub fn sync_last_use(&self, pool: &mut DynamicPool, now_epoch: u64) {
        let boot_now = boot_time_ns();
        let stamps = match self.with(|ebpf| tc_maps::host_last_uses(ebpf)) {
            Ok(stamps) => stamps,
            Err(err) => {
                warn!("reading the kernel's last-use stamps failed: {err:#}");
                return;
            }
        };
        for (v4, stamp_ns) in stamps {
            if stamp_ns == 0 || stamp_ns > boot_now {
                continue;
            }
            let age_secs = (boot_now - stamp_ns) / 1_000_000_000;
            pool.set_last_use(v4, now_epoch.saturating_sub(age_secs));
        }
    }

    /// The TC program's counters that are not zero, by outcome name.
    pub fn counters(&self) -> Result<Vec<(&'static str, u64)>> {
        let values = self.with(|ebpf| tc_maps::tc_counters(ebpf))?;
        Ok(tc_maps::nonzero_outcomes(values))
    }

    /// Every TC counter, indexed by [`nat64_common::counters::Outcome`].
    pub fn counter_values(&self) -> Result<[u64; nat64_common::counters::Outcome::COUNT]> {
        self.with(|ebpf| tc_maps::tc_counters(ebpf))
    }

    /// Every XDP counter (zeros while it is not attached).
    pub fn xdp_counter_values(&self) -> Result<[u64; nat64_common::counters::Outcome::COUNT]> {
        self.with(|ebpf| tc_maps::xdp_counters(ebpf))
    }

    /// The interfaces the XDP program runs on, with its mode on each.
    pub fn xdp_modes(&self) -> Vec<(String, xdp_interfaces::AttachMode)> {
        self.xdp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|a| (a.interface.clone(), a.mode))
            .collect()
    }

    /// The XDP program's counters that are not zero; none when it is not attached.
    pub fn xdp_counters(&self) -> Result<Vec<(&'static str, u64)>> {
        if self
            .xdp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return Ok(Vec::new());
        }
        let values = self.with(|ebpf| tc_maps::xdp_counters(ebpf))?;
        Ok(tc_maps::nonzero_outcomes(values))
    }
}

/// Attaches the loaded program to `device`'s egress. With `pins`, the link is pinned, and a
/// link an earlier run left pinned (still attached under `--keep`) is let go only once the
/// new program is in place, so no packet meets a device without a program.
fn attach(ebpf: &mut Ebpf, device: &str, pins: Option<&PinDir>) -> Result<Option<PinnedLink>> {
    let program = program(ebpf)?;
    let id = program
        .attach(device, TcAttachType::Egress)
        .with_context(|| format!("attaching nat64_tc to the egress of {device}"))?;
    let Some(pins) = pins else {
        return Ok(None);
    };
    let link: FdLink = program
        .take_link(id)?
        .try_into()
        .context("the TC link is not a tcx link, so it cannot be pinned")?;
    if let Ok(previous) = PinnedLink::from_pin(pins.link()) {
        previous
            .unpin()
            .with_context(|| format!("letting go of {}", pins.link().display()))?;
    }
    Ok(Some(link.pin(pins.link()).with_context(|| {
        format!("pinning the TC link at {}", pins.link().display())
    })?))
}
