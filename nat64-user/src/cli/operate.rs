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

/// Which of stateful NAT64's tables to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Bib,
    Sessions,
    Blocks,
}

pub fn stateful(args: &StatsArgs, listing: Listing) -> Result<()> {
    let config = config_of(args.config.as_deref())?;
    let device = args.device.clone().unwrap_or(config.tun_device);
    let tables = control_socket::ask_stateful(&device)
        .with_context(|| format!("asking the nat64 daemon serving {device}"))?;
    if args.json {
        return match listing {
            Listing::Bib => print_json(&tables.bib),
            Listing::Sessions => print_json(&tables.sessions),
            Listing::Blocks => print_json(&tables.blocks),
        };
    }
    let mut out = std::io::stdout().lock();
    match listing {
        Listing::Bib => {
            writeln!(
                out,
                "{:<5} {:<46} {:<22} {:<7} sessions",
                "proto", "ipv6", "ipv4", "static"
            )?;
            for b in &tables.bib {
                writeln!(
                    out,
                    "{:<5} {:<46} {:<22} {:<7} {}",
                    b.protocol,
                    format!("[{}]:{}", b.v6, b.port6),
                    format!("{}:{}", b.v4, b.port4),
                    b.is_static,
                    b.sessions
                )?;
            }
        }
        Listing::Sessions => {
            writeln!(
                out,
                "{:<5} {:<46} {:<22} {:<22} {:<16} {:<7} expires",
                "proto", "ipv6", "ipv4", "remote", "tcp state", "kernel"
            )?;
            for s in &tables.sessions {
                // A session the kernel translates lives on past this while it has packets.
                let expires = if s.in_kernel {
                    format!(">= {}s", s.expires_in_secs)
                } else {
                    format!("{}s", s.expires_in_secs)
                };
                writeln!(
                    out,
                    "{:<5} {:<46} {:<22} {:<22} {:<16} {:<7} {expires}",
                    s.protocol,
                    format!("[{}]:{}", s.v6, s.port6),
                    format!("{}:{}", s.v4, s.port4),
                    format!("{}:{}", s.remote, s.remote_port),
                    s.tcp_state.map_or("-".to_owned(), |t| format!("{t:?}")),
                    if s.in_kernel { "yes" } else { "-" },
                )?;
            }
        }
        Listing::Blocks => {
            writeln!(
                out,
                "{:<5} {:<40} {:<16} {:<13} in use",
                "proto", "subscriber", "ipv4", "ports"
            )?;
            for b in &tables.blocks {
                writeln!(
                    out,
                    "{:<5} {:<40} {:<16} {:<13} {}",
                    b.protocol,
                    b.subscriber,
                    b.addr,
                    format!("{}-{}", b.first_port, b.last_port),
                    b.in_use
                )?;
            }
        }
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
