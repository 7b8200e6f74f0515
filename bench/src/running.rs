//! A gateway started in the test bed, and what starting one takes (its CPUs, paths as
//! arguments): shared by TAYGA's start in [`crate::gateways`] and nat64's in
//! [`crate::nat64_daemon`], which both sit above this.

use std::path::Path as FsPath;

use anyhow::{Context, Result};
use nat64_tests::{bpffs::BpfFs, tempdir::TempDir};

use crate::testbed::gateway_cpus_mask;

/// A started gateway; its process dies with the namespace, its files with the directory.
pub struct Running {
    /// The process whose CPU time is charged to the row.
    pub pid: Option<u32>,
    pub(crate) _dir: Option<TempDir>,
    /// Unmounted after the process is gone (it is killed with the namespace).
    pub(crate) _pins: Option<BpfFs>,
}

/// The translators' processes stay off the generator's core, which the generator's busy
/// loop would share with them in slices of milliseconds — long enough to overflow the TUN
/// queue at any rate. (`taskset` execs, so the pid stays the gateway's.)
pub(crate) fn gateway_cpus() -> String {
    let mask = gateway_cpus_mask();
    (0..64)
        .filter(|cpu| mask & (1u64 << cpu) != 0)
        .map(|cpu: u32| cpu.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn utf8(path: &FsPath) -> Result<String> {
    Ok(path.to_str().context("path is not UTF-8")?.to_owned())
}
