//! The TC program on the egress of the TUN device (tcx), and the link that holds it there.

use anyhow::{Context as _, Result};
use aya::{
    programs::{
        links::{FdLink, PinnedLink},
        TcAttachType,
    },
    Ebpf,
};
use tracing::warn;

use super::load::tc_program;
use crate::pins::PinDir;

/// The TC program's pinned link: the program leaves the device when this goes, unless the
/// run ends keeping it (`--keep`). Without pins the loaded program holds its link itself and
/// leaves with the process.
pub(super) struct TcLink {
    pinned: Option<PinnedLink>,
    kept: bool,
}

impl TcLink {
    pub(super) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for TcLink {
    fn drop(&mut self) {
        let Some(link) = self.pinned.take() else {
            return;
        };
        if self.kept {
            return;
        }
        // Unpinned, the link goes with its last descriptor, and the program with it.
        if let Err(err) = link.unpin() {
            warn!("unpinning the TC link: {err}");
        }
    }
}

/// Attaches the loaded program to `device`'s egress. With `pins`, the link is pinned, and a
/// link an earlier run left pinned (still attached under `--keep`) is let go only once the
/// new program is in place, so no packet meets a device without a program.
pub(super) fn attach(ebpf: &mut Ebpf, device: &str, pins: Option<&PinDir>) -> Result<TcLink> {
    let program = tc_program(ebpf)?;
    let id = program
        .attach(device, TcAttachType::Egress)
        .with_context(|| format!("attaching nat64_tc to the egress of {device}"))?;
    let Some(pins) = pins else {
        return Ok(TcLink {
            pinned: None,
            kept: false,
        });
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
    let pinned = link
        .pin(pins.link())
        .with_context(|| format!("pinning the TC link at {}", pins.link().display()))?;
    Ok(TcLink {
        pinned: Some(pinned),
        kept: false,
    })
}
