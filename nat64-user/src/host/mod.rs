//! What the gateway changes on the host in native mode — interface up, addresses, routes,
//! forwarding, masquerade — recorded as it goes, so a clean stop (or a failed start) undoes
//! exactly that, in reverse order.

pub mod masquerade;
pub mod netlink;
pub mod rp_filter;
pub mod sysctl;

use anyhow::Result;

use self::{
    masquerade::Masquerade,
    netlink::{Netlink, OwnedRoute},
    sysctl::SysctlChange,
};

/// One change made to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostChange {
    Route(OwnedRoute),
    Sysctl(SysctlChange),
    Masquerade(Masquerade),
}

/// The changes made so far, newest last.
#[derive(Debug, Default)]
pub struct HostChanges {
    done: Vec<HostChange>,
}

impl HostChanges {
    pub fn record(&mut self, change: HostChange) {
        self.done.push(change);
    }

    pub fn changes(&self) -> &[HostChange] {
        &self.done
    }

    /// Undoes every change, newest first. Keeps going past failures (the rest still has to
    /// go) and returns them together.
    pub async fn undo_all(&mut self, netlink: &Netlink) -> Result<()> {
        let mut failures = Vec::new();
        while let Some(change) = self.done.pop() {
            let result = match &change {
                HostChange::Route(route) => netlink.delete_route(route).await,
                HostChange::Sysctl(sysctl) => sysctl::restore(sysctl),
                HostChange::Masquerade(rule) => rule.remove(),
            };
            if let Err(err) = result {
                failures.push(format!("{err:#}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("could not undo every host change: {}", failures.join("; "))
        }
    }
}
