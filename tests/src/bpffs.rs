//! A bpf filesystem of the test's own, mounted on a temporary directory: pins made there
//! meet no other test's (the daemon's default, /sys/fs/bpf, is one per host) and go with
//! the mount.

use std::{path::Path, process::Command};

use anyhow::{bail, Result};

use crate::tempdir::TempDir;

pub struct BpfFs {
    dir: TempDir,
}

impl BpfFs {
    pub fn mount(role: &str) -> Result<Self> {
        let dir = TempDir::new(role)?;
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(dir.path())
            .status()?;
        if !status.success() {
            bail!("mount -t bpf on {}: {status}", dir.path().display());
        }
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for BpfFs {
    fn drop(&mut self) {
        // Lazy: a pinned link or map still open elsewhere must not keep the mount busy.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
