//! The operator's commands: `stats`, `status`, `mappings`, `doctor`, `completions`,
//! `manpage`. Each reads the daemon through its control socket (never its log) or the
//! host, and prints text or, with `--json`, the stable JSON of [`crate::ops::snapshot`].

use std::io::Write as _;

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;

use super::native::{DoctorArgs, NativeCli, StatsArgs};
use crate::{
    clock::unix_now,
    config::{self, Config},
    ops::{collect, control_socket, doctor, snapshot::Snapshot, stats_text, status_text},
    pins::PinDir,
};

fn config_of(path: Option<&std::path::Path>) -> Result<Config> {
    match path {
        Some(path) => {
            config::check_file(path).map_err(|err| anyhow::anyhow!("configuration refused:\n{err}"))
        }
        None => Ok(Config::native_defaults()),
    }
}

/// The daemon's snapshot, or what the pins hold when no daemon runs.
fn snapshot(args: &StatsArgs) -> Result<Snapshot> {
    let config = config_of(args.config.as_deref())?;
    let device = args.device.clone().unwrap_or(config.tun_device);
    let pin_root = args.pin_dir.clone().unwrap_or(config.pin_dir);
    match control_socket::ask_snapshot(&device) {
        Ok(snapshot) => return Ok(snapshot),
        Err(err) => tracing::debug!("no daemon on @nat64/{device}: {err:#}"),
    }
    let pins = PinDir::at(&pin_root, &device);
    if !pins.has_maps() {
        anyhow::bail!(
            "no nat64 daemon serves {device} in this network namespace, and nothing is pinned in {}",
            pins.dir().display()
        );
    }
    collect::from_pins(&device, &pins)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    println!("{text}");
    Ok(())
}

pub fn stats(args: &StatsArgs) -> Result<()> {
    let snapshot = snapshot(args)?;
    if args.json {
        print_json(&snapshot)
    } else {
        print!("{}", stats_text::render(&snapshot));
        Ok(())
    }
}

pub fn status(args: &StatsArgs) -> Result<()> {
    let snapshot = snapshot(args)?;
    if args.json {
        print_json(&snapshot)
    } else {
        print!("{}", status_text::render(&snapshot, unix_now()));
        Ok(())
    }
}

pub fn mappings(args: &StatsArgs) -> Result<()> {
    let config = config_of(args.config.as_deref())?;
    let device = args.device.clone().unwrap_or(config.tun_device);
    let list = control_socket::ask_mappings(&device)
        .with_context(|| format!("no nat64 daemon serves {device} in this network namespace"))?;
    if args.json {
        return print_json(&list);
    }
    let now = unix_now();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<40} {:<16} idle", "ipv6", "ipv4")?;
    for m in &list.mappings {
        writeln!(
            out,
            "{:<40} {:<16} {}s",
            m.ipv6,
            m.ipv4,
            now.saturating_sub(m.last_use_unix)
        )?;
    }
    Ok(())
}

/// Prints the report; fails (exit status 1) when something blocks a start.
pub fn doctor(args: &DoctorArgs) -> Result<()> {
    let config = config_of(args.config.as_deref())?;
    let interfaces = if args.interfaces.is_empty() {
        config.interfaces.clone()
    } else {
        args.interfaces.clone()
    };
    let report = doctor::run(&config, &interfaces);
    if args.json {
        print_json(&report)?;
    } else {
        print!("{}", doctor::render(&report));
    }
    anyhow::ensure!(report.ready, "the host is not ready for nat64 (see above)");
    Ok(())
}

pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut command = NativeCli::command();
    clap_complete::generate(shell, &mut command, "nat64", &mut std::io::stdout());
    Ok(())
}

pub fn manpage() -> Result<()> {
    let command = NativeCli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .section("8")
        .render(&mut out)
        .context("rendering the manual page")?;
    std::io::stdout().write_all(&out)?;
    Ok(())
}
