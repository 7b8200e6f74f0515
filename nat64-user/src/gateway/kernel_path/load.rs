//! Loading the kernel path: the object through the verifier with its maps made, or reopened
//! from the pins an earlier run left. The slow part of a start, done on a thread of its own
//! while the TUN workers already serve; nothing is attached here.

use anyhow::{Context as _, Result};
use aya::{programs::SchedClassifier, Ebpf, EbpfLoader};
use nat64_common::maps::names;
use tracing::warn;

use super::xdp;
use crate::{
    binding_maps::BindingMaps,
    clock::boot_time_ns,
    ebpf_object,
    pins::{self, PinDir},
    session_maps::SessionMaps,
    tc_maps::{self, HostTables, Targets},
    translate::TranslatorConfig,
};

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
    tc_program(&mut ebpf)?
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

pub(super) fn tc_program(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut("nat64_tc")
        .context("program nat64_tc is not in the eBPF object")?;
    Ok(program.try_into()?)
}

/// The XDP program, loaded with the TC program when interfaces are named.
pub(super) enum XdpLoad {
    NotWanted,
    Loaded,
    /// The verifier (or the kernel) refused it: the TC path serves alone.
    Refused(anyhow::Error),
}

/// The pins of this run's kernel path: removed when this goes (after the links, which hold
/// the programs on the device), unless the run ends keeping them (`--keep`).
pub(super) struct OwnedPins {
    dir: PinDir,
    kept: bool,
}

impl OwnedPins {
    pub(super) fn dir(&self) -> &PinDir {
        &self.dir
    }

    pub(super) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for OwnedPins {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Err(err) = self.dir.remove_all() {
            warn!("removing the pins in {}: {err}", self.dir.dir().display());
        }
    }
}

/// Every program this run needs through the verifier, its maps made (or reopened from the
/// pins), nothing attached yet.
pub struct Loaded {
    ebpf: Ebpf,
    reused: bool,
    pins: Option<OwnedPins>,
    xdp: XdpLoad,
}

impl Loaded {
    /// Loads the programs, with their maps pinned in `pins` when given; the XDP program too
    /// when `with_xdp` (its refusal leaves the TC program serving alone).
    pub fn load(pins: Option<PinDir>, with_xdp: bool) -> Result<Loaded> {
        let loaded = match &pins {
            Some(pins) => load_pinned(pins),
            None => load(0, None).map(|ebpf| (ebpf, false)),
        };
        let (mut ebpf, reused) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                // The directories prepared for the pins go again; an earlier run's kept
                // pins stay for a run that can load them.
                if let Some(pins) = &pins {
                    if let Err(e) = pins.remove_if_empty() {
                        warn!("removing {}: {e}", pins.dir().display());
                    }
                }
                return Err(err);
            }
        };
        let xdp = if with_xdp {
            match xdp::load_program(&mut ebpf) {
                Ok(()) => XdpLoad::Loaded,
                Err(err) => XdpLoad::Refused(err),
            }
        } else {
            XdpLoad::NotWanted
        };
        Ok(Loaded {
            ebpf,
            reused,
            pins: pins.map(|dir| OwnedPins { dir, kept: false }),
            xdp,
        })
    }

    /// Not needed after all (the daemon stops before it started): pins it made or reopened
    /// go too, unless they are to be kept.
    pub fn discard(mut self, keep: bool) {
        if let (Some(pins), true) = (&mut self.pins, keep) {
            pins.keep();
        }
    }

    /// Writes the configuration block (with the TUN device `ifindex` as the target) and the
    /// clock, and takes the host tables and the session maps out of the object for the ones
    /// who keep them.
    pub fn configure(
        mut self,
        translator: &TranslatorConfig,
        ifindex: u32,
    ) -> Result<(Prepared, HostTables, SessionMaps, BindingMaps)> {
        let targets = Targets::tun(ifindex);
        tc_maps::write_config(&mut self.ebpf, translator, targets)?;
        tc_maps::write_clock(&mut self.ebpf, boot_time_ns())?;
        let tables = HostTables::take(&mut self.ebpf)?;
        let sessions = SessionMaps::take(&mut self.ebpf)?;
        let bindings = BindingMaps::take(&mut self.ebpf)?;
        let Loaded {
            ebpf,
            reused,
            pins,
            xdp,
        } = self;
        Ok((
            Prepared {
                ebpf,
                reused,
                pins,
                xdp,
                targets,
            },
            tables,
            sessions,
            bindings,
        ))
    }
}

/// Configured, its host tables handed over, ready to be attached.
pub struct Prepared {
    pub(super) ebpf: Ebpf,
    reused: bool,
    pub(super) pins: Option<OwnedPins>,
    pub(super) xdp: XdpLoad,
    pub(super) targets: Targets,
}

impl Prepared {
    /// Whether the host tables are an earlier run's, to be squared with the pool.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Where the maps are pinned, if they are.
    pub fn pin_dir(&self) -> Option<&PinDir> {
        self.pins.as_ref().map(OwnedPins::dir)
    }
}
