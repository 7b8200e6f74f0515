//! Where nat64 runs: on a host, in a container (LXC on Proxmox, Docker, nspawn), and
//! whether in a user namespace of its own — an unprivileged container, where the kernel
//! grants no BPF however root the process looks inside.

use super::{Check, Verdict};

#[derive(Clone, Debug, Default)]
pub struct Place {
    /// The container manager, when one is recognised ("lxc", "docker", ...).
    pub container: Option<String>,
    /// Uid 0 here is not uid 0 of the host: a user namespace (unprivileged container,
    /// `unshare --user`).
    pub user_namespace: bool,
    /// The first line of /proc/self/uid_map, for the report.
    pub uid_map: String,
}

/// The initial user namespace maps every id onto itself.
const FULL_MAP: (u64, u64, u64) = (0, 0, 4_294_967_295);

pub fn detect() -> Place {
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let first = uid_map
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let numbers: Vec<u64> = first
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let user_namespace = match numbers.as_slice() {
        [inside, outside, count] => (*inside, *outside, *count) != FULL_MAP,
        _ => false,
    };
    Place {
        container: container_manager(),
        user_namespace,
        uid_map: first,
    }
}

/// systemd's and the container managers' own markers (systemd-detect-virt reads the same).
fn container_manager() -> Option<String> {
    if let Ok(name) = std::fs::read_to_string("/run/systemd/container") {
        let name = name.trim();
        if !name.is_empty() {
            return Some(name.to_owned());
        }
    }
    if let Ok(environ) = std::fs::read("/proc/1/environ") {
        for var in environ.split(|&b| b == 0) {
            if let Some(value) = var.strip_prefix(b"container=") {
                return Some(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    if std::path::Path::new("/.dockerenv").exists() {
        return Some("docker".to_owned());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        return Some("podman".to_owned());
    }
    None
}

impl Place {
    pub fn check(&self) -> Check {
        match (&self.container, self.user_namespace) {
            (Some(kind), true) => Check::new(
                "container",
                Verdict::Info,
                format!(
                    "an unprivileged {kind} container (user namespace, uid map \"{}\"): BPF is refused here, nat64 runs the TUN datapath",
                    self.uid_map
                ),
            )
            .fix("for the kernel datapath run nat64 on the host or in a privileged container (Proxmox: unprivileged: 0); see the README, Proxmox LXC"),
            (Some(kind), false) => Check::new(
                "container",
                Verdict::Info,
                format!("a privileged {kind} container (no user namespace): BPF is possible if the container may use it"),
            ),
            (None, true) => Check::new(
                "container",
                Verdict::Info,
                format!(
                    "a user namespace (uid map \"{}\"; unshare --user or an unrecognised unprivileged container): BPF is refused here, nat64 runs the TUN datapath",
                    self.uid_map
                ),
            ),
            (None, false) => Check::new("container", Verdict::Ok, "not in a container"),
        }
    }
}
