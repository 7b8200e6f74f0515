//! Where the kernel path outlives the daemon: `<pin-dir>/<tun-device>/` on a bpf filesystem
//! holds the programs' maps (one file per map), the TC program's tcx link and the XDP
//! program's link per interface. A restart reopens the same
//! maps, so hosts the kernel was translating keep their mappings and counters; with `--keep`
//! the pinned link keeps the program attached while no daemon runs.

use std::{
    ffi::CString,
    io,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};
use nat64_common::maps::names;
use tracing::info;

/// statfs(2) f_type of a bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Where systemd mounts the bpf filesystem; mounted here when nothing is.
const SYSTEM_BPF_FS: &str = "/sys/fs/bpf";
/// The file of the pinned tcx link, beside the maps.
const LINK_FILE: &str = "tc_link";
/// The files of the pinned XDP links: this, then the interface name.
const XDP_LINK_PREFIX: &str = "xdp_link_";

/// Every map of the kernel path, by the name it has in the eBPF object and as a pin file.
pub const PINNED_MAPS: [&str; 16] = [
    names::CONFIG,
    names::CLOCK,
    names::V6_TO_V4,
    names::V4_TO_V6,
    names::EAM_V6,
    names::EAM_V4,
    names::TC_COUNTERS,
    names::XDP_COUNTERS,
    names::XDP_DEVICES,
    names::SESSIONS_6,
    names::SESSIONS_4,
    names::BIB_6,
    names::BIB_4,
    names::LENT_BLOCKS,
    names::POOL4,
    names::OPENED,
];

/// One device's pin directory.
#[derive(Clone, Debug)]
pub struct PinDir {
    dir: PathBuf,
}

impl PinDir {
    /// `<root>/<device>`, without touching the filesystem (for readers such as `nat64 stats`).
    pub fn at(root: &Path, device: &str) -> Self {
        Self {
            dir: root.join(device),
        }
    }

    /// Makes `<root>/<device>` on a bpf filesystem, mounting one on /sys/fs/bpf when `root`
    /// lies under it and nothing is mounted there (a host without systemd, or a fresh mount
    /// namespace).
    pub fn prepare(root: &Path, device: &str) -> Result<Self> {
        let pins = Self::at(root, device);
        if !on_bpf_fs(&nearest_existing(root))? {
            if root.starts_with(SYSTEM_BPF_FS) && !on_bpf_fs(Path::new(SYSTEM_BPF_FS))? {
                mount_bpf_fs(Path::new(SYSTEM_BPF_FS))?;
                info!("mounted a bpf filesystem on {SYSTEM_BPF_FS} for the pinned maps");
            } else {
                bail!(
                    "{} is not on a bpf filesystem: mount one (`mount -t bpf bpf {}`) or choose another pin-dir",
                    root.display(),
                    root.display()
                );
            }
        }
        std::fs::create_dir_all(&pins.dir)
            .with_context(|| format!("creating {}", pins.dir.display()))?;
        Ok(pins)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn link(&self) -> PathBuf {
        self.dir.join(LINK_FILE)
    }

    /// The XDP link on `interface`.
    pub fn xdp_link(&self, interface: &str) -> PathBuf {
        self.dir.join(format!("{XDP_LINK_PREFIX}{interface}"))
    }

    /// The XDP links pinned here, by interface name.
    pub fn xdp_links(&self) -> Vec<(String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e
                    .file_name()
                    .to_str()?
                    .strip_prefix(XDP_LINK_PREFIX)?
                    .to_owned();
                Some((name, e.path()))
            })
            .collect()
    }

    /// Whether an earlier run left maps here.
    pub fn has_maps(&self) -> bool {
        PINNED_MAPS.iter().any(|name| self.map(name).exists())
    }

    /// Removes the map pins (the maps go once nothing else holds them).
    pub fn remove_maps(&self) -> io::Result<()> {
        for name in PINNED_MAPS {
            remove_if_present(&self.map(name))?;
        }
        Ok(())
    }

    /// Removes every pin and the directory, and the root too when that leaves it empty.
    pub fn remove_all(&self) -> io::Result<()> {
        self.remove_maps()?;
        remove_if_present(&self.link())?;
        for (_, link) in self.xdp_links() {
            remove_if_present(&link)?;
        }
        self.remove_if_empty()
    }

    /// Removes the directory, and the root, where nothing is pinned in them (what
    /// [`PinDir::prepare`] made for a kernel path that then could not be loaded).
    pub fn remove_if_empty(&self) -> io::Result<()> {
        remove_dir_if_empty(&self.dir)?;
        if let Some(root) = self.dir.parent() {
            remove_dir_if_empty(root)?;
        }
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

fn remove_dir_if_empty(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir(dir) {
        Err(err)
            if !matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Err(err)
        }
        _ => Ok(()),
    }
}

/// `path` or its closest ancestor that exists: what a directory made there would sit on.
fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

fn on_bpf_fs(path: &Path) -> Result<bool> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: an all-zero statfs is a valid value for the kernel to overwrite.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs we own.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("statfs {}", path.display()));
    }
    Ok(stat.f_type as i64 == BPF_FS_MAGIC)
}

fn mount_bpf_fs(target: &Path) -> Result<()> {
    let target_c = CString::new(target.as_os_str().as_bytes())?;
    let bpf = c"bpf";
    let options = c"mode=0700";
    // SAFETY: NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            bpf.as_ptr(),
            target_c.as_ptr(),
            bpf.as_ptr(),
            0,
            options.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("mounting a bpf filesystem on {}", target.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_live_in_a_directory_per_device() {
        let pins = PinDir::at(Path::new("/sys/fs/bpf/nat64"), "nat64");
        assert_eq!(
            pins.map(names::V6_TO_V4),
            Path::new("/sys/fs/bpf/nat64/nat64/NAT64_V6_TO_V4")
        );
        assert_eq!(pins.link(), Path::new("/sys/fs/bpf/nat64/nat64/tc_link"));
        assert_eq!(
            pins.xdp_link("eth0.100"),
            Path::new("/sys/fs/bpf/nat64/nat64/xdp_link_eth0.100")
        );
    }

    #[test]
    fn an_ordinary_directory_is_not_a_bpf_filesystem() {
        assert!(!on_bpf_fs(Path::new("/")).unwrap());
        assert_eq!(
            nearest_existing(Path::new("/no/such/dir/here")),
            Path::new("/")
        );
    }
}
