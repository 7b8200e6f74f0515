//! The XDP program on the interfaces named with `--iface`: native (driver) mode where the
//! driver has it, generic mode otherwise, the mode in use logged. It shares the TC program's
//! object and maps, so a mapping the slow path enters serves both programs at once.

use std::fmt;

use anyhow::{Context as _, Result};
use aya::{
    programs::{
        links::{FdLink, PinnedLink},
        xdp::XdpLink,
        Xdp, XdpMode,
    },
    Ebpf,
};
use tracing::{info, warn};

use aya_obj::programs::XdpAttachType;

use crate::{af_xdp::NextHopProgram, pins::PinDir};

const PROGRAM: &str = "nat64_xdp";
/// The AF_XDP workers' route lookup (`af_xdp::next_hop`); loaded, never attached.
const NEXT_HOP: &str = "nat64_next_hop";

/// How the program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver, before an skb exists.
    Native,
    /// In the stack, on the skb (any interface; slower).
    Generic,
    /// Swapped into the link an earlier run left attached (`--keep`); the link keeps the
    /// mode it was made with.
    Kept,
}

impl AttachMode {
    /// One word, for `nat64 status` and the metrics' `mode` label.
    pub fn label(self) -> &'static str {
        match self {
            AttachMode::Native => "native",
            AttachMode::Generic => "generic",
            AttachMode::Kept => "kept",
        }
    }
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Native => "native mode",
            AttachMode::Generic => "generic mode",
            AttachMode::Kept => "the link kept from the last run, its mode unchanged",
        })
    }
}

/// The program on one interface: it leaves the interface when this goes (a failed start
/// included), unless the run ends keeping it (`--keep`).
#[derive(Debug)]
pub(super) struct Attachment {
    pub interface: String,
    pub mode: AttachMode,
    /// The pinned link, when the kernel path pins (else the program holds the link).
    link: Option<PinnedLink>,
    kept: bool,
}

pub fn program(ebpf: &mut Ebpf) -> Result<&mut Xdp> {
    let program = ebpf
        .program_mut(PROGRAM)
        .with_context(|| format!("program {PROGRAM} is not in the eBPF object"))?;
    Ok(program.try_into()?)
}

/// Has the verifier check `nat64_xdp` in an object whose maps are already loaded, and
/// `nat64_next_hop` (its refusal only keeps the AF_XDP workers' translations on the TUN
/// device: see [`next_hop_program`]).
pub fn load_program(ebpf: &mut Ebpf) -> Result<()> {
    program(ebpf)?
        .load()
        .with_context(|| format!("the verifier refused {PROGRAM}"))?;
    if let Err(err) = next_hop(ebpf).and_then(|p| Ok(p.load()?)) {
        warn!("the verifier refused {NEXT_HOP}: {err:#}");
    }
    Ok(())
}

fn next_hop(ebpf: &mut Ebpf) -> Result<&mut Xdp> {
    let program = ebpf
        .program_mut(NEXT_HOP)
        .with_context(|| format!("program {NEXT_HOP} is not in the eBPF object"))?;
    Ok(program.try_into()?)
}

/// A handle of its own on the loaded `nat64_next_hop`, which the workers share.
pub fn next_hop_program(ebpf: &mut Ebpf) -> Result<NextHopProgram> {
    let info = next_hop(ebpf)?
        .info()
        .with_context(|| format!("{NEXT_HOP} is not loaded"))?;
    let program = Xdp::from_program_info(info, NEXT_HOP.into(), XdpAttachType::Interface)
        .with_context(|| format!("opening {NEXT_HOP}"))?;
    Ok(NextHopProgram::new(program))
}

/// Attaches the loaded program to each of `interfaces` (name, ifindex). With `pins`, each
/// link is pinned; a link an earlier run left there gets the new program swapped in
/// atomically, so that interface never runs without one. On error the interfaces attached
/// so far are detached again (dropped).
pub(super) fn attach_all(
    ebpf: &mut Ebpf,
    interfaces: &[(String, u32)],
    pins: Option<&PinDir>,
) -> Result<Vec<Attachment>> {
    let program = program(ebpf)?;
    let mut attached = Vec::with_capacity(interfaces.len());
    for (interface, ifindex) in interfaces {
        let attachment = attach_one(program, interface, *ifindex, pins)
            .with_context(|| format!("attaching {PROGRAM} to {interface}"))?;
        info!("XDP on {interface}: {}", attachment.mode);
        attached.push(attachment);
    }
    Ok(attached)
}

fn attach_one(
    program: &mut Xdp,
    interface: &str,
    ifindex: u32,
    pins: Option<&PinDir>,
) -> Result<Attachment> {
    let kept = pins
        .map(|p| p.xdp_link(interface))
        .filter(|path| path.exists());
    let (id, mode) = match kept {
        Some(path) => {
            let previous: FdLink = PinnedLink::from_pin(&path)
                .with_context(|| format!("opening {}", path.display()))?
                .unpin()
                .with_context(|| format!("taking over {}", path.display()))?;
            let link = XdpLink::try_from(previous)?;
            (program.attach_to_link(link)?, AttachMode::Kept)
        }
        None => match program.attach_to_if_index(ifindex, XdpMode::Driver) {
            Ok(id) => (id, AttachMode::Native),
            Err(native) => {
                warn!("{interface}: no native XDP ({native}); running in generic mode");
                let id = program
                    .attach_to_if_index(ifindex, XdpMode::Skb)
                    .context("generic mode too")?;
                (id, AttachMode::Generic)
            }
        },
    };
    let link = match pins {
        Some(pins) => {
            let path = pins.xdp_link(interface);
            let fd: FdLink = program
                .take_link(id)?
                .try_into()
                .context("the XDP link is a netlink attachment, which cannot be pinned")?;
            Some(
                fd.pin(&path)
                    .with_context(|| format!("pinning the XDP link at {}", path.display()))?,
            )
        }
        None => None,
    };
    Ok(Attachment {
        interface: interface.to_owned(),
        mode,
        link,
        kept: false,
    })
}

/// Links an earlier `--keep` run left on interfaces no longer named: detached now, so no
/// interface keeps translating that the configuration no longer asks for.
pub(super) fn release_unnamed(pins: &PinDir, interfaces: &[(String, u32)]) {
    for (interface, path) in pins.xdp_links() {
        if interfaces.iter().any(|(name, _)| *name == interface) {
            continue;
        }
        let unpinned = PinnedLink::from_pin(&path)
            .map_err(anyhow::Error::from)
            .and_then(|l| Ok(l.unpin()?));
        match unpinned {
            Ok(link) => {
                drop(link);
                info!("XDP on {interface} (left by an earlier run) detached: not named any more");
            }
            Err(err) => warn!("XDP link {}: {err}", path.display()),
        }
    }
}

impl Attachment {
    /// The program stays attached through its pinned link when this goes.
    pub(super) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let Some(link) = self.link.take() else {
            return;
        };
        if self.kept {
            return;
        }
        match link.unpin() {
            // Dropping the last reference to the link detaches the program.
            Ok(fd) => drop(fd),
            Err(err) => warn!("unpinning the XDP link on {}: {err}", self.interface),
        }
    }
}
