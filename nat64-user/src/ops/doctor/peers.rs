//! Another translator already serving: TAYGA (or a nat64 daemon) on the same device, Jool
//! in the kernel.

use super::{Check, Verdict};

/// (pid, command name) of every process this pid namespace shows.
fn processes() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            Some((pid, comm.trim().to_owned()))
        })
        .collect()
}

pub fn check(device: &str) -> Vec<Check> {
    let me = std::process::id();
    let mut checks = Vec::new();
    let running: Vec<_> = processes()
        .into_iter()
        .filter(|(pid, comm)| *pid != me && (comm == "tayga" || comm == "nat64"))
        .collect();
    let device_exists = std::path::Path::new(&format!("/sys/class/net/{device}")).exists();
    if running.is_empty() {
        checks.push(Check::new(
            "translators",
            Verdict::Ok,
            if device_exists {
                format!("no TAYGA or nat64 process runs; device {device} exists (persistent, e.g. from tayga --mktun or --keep): nat64 takes it over")
            } else {
                "no TAYGA or nat64 process runs".to_owned()
            },
        ));
    } else {
        let list: Vec<String> = running
            .iter()
            .map(|(pid, comm)| format!("{comm} (pid {pid})"))
            .collect();
        checks.push(
            Check::new(
                "translators",
                Verdict::Warn,
                format!("already running: {} — if it serves {device}, a second start finds the device busy", list.join(", ")),
            )
            .fix("stop it first (systemctl stop tayga / nat64); nat64 takes over TAYGA's data-dir and dynamic.map"),
        );
    }
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    let jool: Vec<&str> = modules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|m| m.starts_with("jool"))
        .collect();
    if !jool.is_empty() {
        checks.push(
            Check::new(
                "translators",
                Verdict::Warn,
                format!("Jool is loaded ({}): if an instance translates the same prefix, packets are translated twice or not at all", jool.join(", ")),
            )
            .fix("remove the Jool instance for this prefix (jool instance remove / jool_siit instance remove)"),
        );
    }
    checks
}
