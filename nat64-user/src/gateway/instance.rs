//! One daemon per device. The first start binds the control socket `@nat64/<tun-device>`
//! (abstract: it belongs to the network namespace, as the device does, and the kernel frees
//! it the moment the holder exits, however it exits) and holds it for its whole run. A second
//! start that finds the name taken refuses at once, before it touches the host, and names the
//! process that holds it. Whoever holds the device itself (TAYGA, another program) is named
//! the same way when the device refuses a queue.

use std::{io, os::unix::net::UnixListener, path::Path};

use anyhow::{bail, Result};

use crate::ops::control_socket::{socket_address, socket_name};

/// The claim on a device: the bound control socket, for the stats server to serve on.
pub struct Instance {
    pub listener: UnixListener,
}

impl Instance {
    /// Claims `device` for this process, or says who has it.
    pub fn claim(device: &str) -> Result<Instance> {
        match socket_address(device).and_then(|addr| UnixListener::bind_addr(&addr)) {
            Ok(listener) => Ok(Instance { listener }),
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => {
                let holder = socket_holder(&socket_name(device))
                    .map_or_else(|| "another process".to_owned(), |p| p.to_string());
                bail!(
                    "{device} is already served by {holder} (it holds @{}); stop it first, or give this one another tun-device",
                    socket_name(device)
                )
            }
            Err(err) => bail!("claiming {device} (@{}): {err}", socket_name(device)),
        }
    }
}

/// A process, as `ps` would name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub name: String,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({})", self.pid, self.name)
    }
}

/// Who has `device` open as a TUN queue (the `iff:` line the kernel writes in the fdinfo of
/// a TUN file descriptor), for the error when the device refuses one more.
pub fn tun_holders(device: &str) -> Vec<Process> {
    let wanted = format!("iff:\t{device}");
    processes_with_fd(|fdinfo, _link| {
        std::fs::read_to_string(fdinfo)
            .is_ok_and(|text| text.lines().any(|line| line.trim_end() == wanted))
    })
}

/// Who holds the abstract Unix socket `name` (its inode in /proc/net/unix, then the process
/// with a descriptor on that inode).
fn socket_holder(name: &str) -> Option<Process> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    let wanted = format!("@{name}");
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(7) == Some(&wanted.as_str()))
            .then(|| fields.get(6).map(|i| (*i).to_owned()))
            .flatten()
    })?;
    let target = format!("socket:[{inode}]");
    processes_with_fd(|_fdinfo, link| link == target)
        .into_iter()
        .next()
}

/// Every process with a file descriptor for which `matches(fdinfo path, link target)` holds.
fn processes_with_fd(matches: impl Fn(&Path, &str) -> bool) -> Vec<Process> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let held = fds.flatten().any(|fd| {
            let link = std::fs::read_link(fd.path())
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let fdinfo = entry.path().join("fdinfo").join(fd.file_name());
            matches(&fdinfo, &link)
        });
        if held {
            let name = std::fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default();
            found.push(Process { pid, name });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_names_the_first_holder() {
        let device = format!("t{}", std::process::id());
        let first = Instance::claim(&device).unwrap();
        let err = Instance::claim(&device).err().unwrap().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("already served by"), "{err}");
        drop(first);
        // Freed with the descriptor: the next claim succeeds at once.
        Instance::claim(&device).unwrap();
    }
}
