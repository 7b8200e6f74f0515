//! The `nat64` binary: `nat64 run`, `nat64 config check`, and TAYGA's command line when
//! called as `tayga` (or `nat64 tayga`).

use std::{ffi::OsString, process::ExitCode};

use anyhow::{Context, Result};
use clap::Parser;
use nat64::{
    cli::{
        self,
        native::{
            ConfigCommand, DatapathArg, NativeCli, NativeCommand, RunArgs, XdpForwardArg,
            XdpSlowPathArg,
        },
        operate,
        tayga_flags::TaygaFlags,
    },
    config::{self, Config, Datapath, XdpForward, XdpSlowPath},
    daemon,
    gateway::{self, Mode, Privileges},
    logging::{self, LogTarget},
    ops::collect::DaemonInfo,
    tun::{self, InterfaceName},
};
use tracing::warn;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let result = if cli::invoked_as_tayga(&args) {
        run_tayga(TaygaFlags::parse_from(cli::tayga_args(&args)))
    } else {
        match NativeCli::parse_from(&args).command {
            NativeCommand::Run(run) => run_native(run),
            NativeCommand::Config(ConfigCommand::Check { file }) => check(&file),
            NativeCommand::Stats(args) => operate::stats(&args),
            NativeCommand::Status(args) => operate::status(&args),
            NativeCommand::Mappings(args) => operate::mappings(&args),
            NativeCommand::Bib(args) => operate::stateful(&args, operate::Listing::Bib),
            NativeCommand::Sessions(args) => operate::stateful(&args, operate::Listing::Sessions),
            NativeCommand::Blocks(args) => operate::stateful(&args, operate::Listing::Blocks),
            NativeCommand::Doctor(args) => operate::doctor(&args),
            NativeCommand::Completions { shell } => operate::completions(shell),
            NativeCommand::Manpage => operate::manpage(),
            NativeCommand::Tayga { .. } => unreachable!("dispatched above"),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nat64: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: &std::path::Path) -> Result<Config> {
    // Every problem at once, each naming its line and the fix, before the host is touched.
    config::check_file(path).map_err(|err| anyhow::anyhow!("configuration refused:\n{err}"))
}

fn check(file: &std::path::Path) -> Result<()> {
    let config = load_config(file)?;
    for warning in &config.warnings {
        println!("warning: {warning}");
    }
    println!("{}: OK", file.display());
    Ok(())
}

fn run_native(args: RunArgs) -> Result<()> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::native_defaults(),
    };
    apply_address_overrides(&mut config, &args)?;
    if !args.interfaces.is_empty() {
        config.interfaces = args.interfaces.clone();
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
    }
    if args.egress.is_some() {
        config.egress = args.egress.clone();
    }
    if let Some(forward) = args.xdp_forward {
        config.xdp_forward = match forward {
            XdpForwardArg::Stack => XdpForward::Stack,
            XdpForwardArg::Direct => XdpForward::Direct,
        };
    }
    if let Some(slow_path) = args.xdp_slow_path {
        config.xdp_slow_path = match slow_path {
            XdpSlowPathArg::AfXdp => XdpSlowPath::AfXdp,
            XdpSlowPathArg::AfXdpTransmit => XdpSlowPath::AfXdpTransmit,
            XdpSlowPathArg::Tun => XdpSlowPath::Tun,
        };
    }
    anyhow::ensure!(
        config.xdp_slow_path.fits(config.xdp_forward),
        "--xdp-slow-path af-xdp-transmit sends translations straight out, past the stack, as \
         --xdp-forward direct does; add --xdp-forward direct, or use --xdp-slow-path af-xdp"
    );
    if let Some(datapath) = args.datapath {
        config.datapath = match datapath {
            DatapathArg::Auto => Datapath::Auto,
            DatapathArg::Tc => Datapath::Tc,
            DatapathArg::Tun => Datapath::Tun,
        };
    }
    config.keep |= args.keep;
    if args.metrics.is_some() {
        config.metrics = args.metrics;
    }
    if let Some(dir) = &args.pin_dir {
        anyhow::ensure!(
            dir.is_absolute(),
            "--pin-dir {}: give an absolute path, e.g. /sys/fs/bpf/nat64",
            dir.display()
        );
        config.pin_dir = dir.clone();
    }
    logging::init(LogTarget::StderrOrJournal, &args.log);
    log_warnings(&config);
    let mode = Mode::Native {
        interfaces: config.interfaces.clone(),
        egress: config.egress.clone(),
    };
    let source = args
        .config
        .as_ref()
        .map_or("built-in defaults".to_owned(), |p| p.display().to_string());
    gateway::run(
        config,
        mode,
        Privileges::default(),
        DaemonInfo::new("native", &source),
    )
}

/// `--prefix` and `--pool` on the command line, checked by the same rules as a file.
fn apply_address_overrides(config: &mut Config, args: &RunArgs) -> Result<()> {
    if args.prefix.is_none() && args.pool.is_none() {
        return Ok(());
    }
    if let (Some(pool), Some(_)) = (&args.pool, &config.stateful) {
        anyhow::bail!(
            "--pool {pool} and [stateful] exclude each other: stateful NAT64 shares pool4 among \
             all IPv6 hosts; remove --pool"
        );
    }
    let mut text = String::new();
    text.push_str(&format!("tun_device = \"{}\"\n", config.tun_device));
    text.push_str(&format!("ipv4_addr = \"{}\"\n", config.ipv4_addr));
    if config.ipv6_addr_configured {
        text.push_str(&format!("ipv6_addr = \"{}\"\n", config.ipv6_addr));
    }
    let prefix = args.prefix.clone().or(config
        .prefix
        .map(|p| format!("{}/{}", p.network(), p.prefix_len())));
    if let Some(prefix) = prefix {
        text.push_str(&format!("prefix = \"{prefix}\"\n"));
    }
    let pool = args.pool.clone().or(config
        .dynamic_pool
        .map(|p| format!("{}/{}", p.network(), p.prefix_len())));
    if let Some(pool) = &pool {
        text.push_str(&format!("dynamic_pool = \"{pool}\"\n"));
    }
    let overrides = config::parse_str(
        &text,
        std::path::Path::new("command line"),
        config::Format::Toml,
    )
    .map_err(|err| anyhow::anyhow!("--prefix/--pool refused:\n{err}"))?;
    config.prefix = overrides.prefix;
    // The text above names a pool only where there was one: the native default the reader
    // would fill in must not appear where the configuration had none (e.g. [stateful]).
    config.dynamic_pool = pool.and(overrides.dynamic_pool);
    config.ipv6_addr = overrides.ipv6_addr;
    config.ipv6_addr_configured = overrides.ipv6_addr_configured;
    Ok(())
}

fn run_tayga(flags: TaygaFlags) -> Result<()> {
    let mut config = load_config(&flags.config)?;
    // As the maintained TAYGA: without data-dir, systemd's StateDirectory= (tayga@.service
    // has StateDirectory="tayga-%I") keeps dynamic.map.
    if config.data_dir.is_none() {
        config.data_dir = state_directory();
    }
    let device = InterfaceName::new(&config.tun_device).map_err(anyhow::Error::msg)?;
    let (uid, gid) = resolve_ids(&flags)?;
    let target = if flags.stdout {
        LogTarget::Stdout
    } else if flags.syslog || flags.journal || !flags.stays_in_foreground() {
        LogTarget::Syslog
    } else {
        LogTarget::Stderr
    };
    // `-d` is the gateway's own detail: aya's loader traces every relocation of the eBPF
    // object at debug (tens of kilobytes per start), which says nothing to an operator.
    logging::init(
        target,
        if flags.debug {
            "debug,aya=info,aya_obj=info"
        } else {
            "info"
        },
    );
    log_warnings(&config);

    if flags.mktun {
        tun::make_persistent(&device, uid, gid).with_context(|| format!("--mktun {device}"))?;
        tracing::info!("Created persistent tun device {device}");
        return Ok(());
    }
    if flags.rmtun {
        tun::remove_persistent(&device).with_context(|| format!("--rmtun {device}"))?;
        tracing::info!("Removed persistent tun device {device}");
        return Ok(());
    }
    if !flags.stays_in_foreground() {
        daemon::detach().context("detaching from the terminal")?;
    }
    if let Some(pidfile) = &flags.pidfile {
        daemon::write_pidfile(pidfile)?;
    }
    let privileges = Privileges {
        chroot: flags.chroot.then(|| config.data_dir.clone()).flatten(),
        uid,
        gid,
    };
    if flags.chroot && privileges.chroot.is_none() {
        anyhow::bail!("--chroot needs a data-dir in {}", flags.config.display());
    }
    let info = DaemonInfo::new("tayga", &flags.config.display().to_string());
    gateway::run(config, Mode::Tayga, privileges, info)
}

/// The first absolute path of `$STATE_DIRECTORY` (systemd sets a colon-separated list).
fn state_directory() -> Option<std::path::PathBuf> {
    let value = std::env::var_os("STATE_DIRECTORY")?;
    let first = value.to_str()?.split(':').next()?;
    let path = std::path::PathBuf::from(first);
    path.is_absolute().then_some(path)
}

fn resolve_ids(flags: &TaygaFlags) -> Result<(Option<u32>, Option<u32>)> {
    let user = flags
        .user
        .as_deref()
        .map(daemon::resolve_user)
        .transpose()?;
    let group = flags
        .group
        .as_deref()
        .map(daemon::resolve_group)
        .transpose()?;
    // As TAYGA: -u alone also takes the user's primary group.
    let gid = group.or(user.map(|(_, gid)| gid));
    Ok((user.map(|(uid, _)| uid), gid))
}

fn log_warnings(config: &Config) {
    for warning in &config.warnings {
        warn!("{warning}");
    }
}
