//! nat64's own command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "nat64",
    version,
    about = "NAT64 gateway: eBPF fast path, TAYGA-compatible control plane"
)]
pub struct NativeCli {
    #[command(subcommand)]
    pub command: NativeCommand,
}

#[derive(Subcommand, Debug)]
pub enum NativeCommand {
    /// Run the gateway. Without --config: prefix 64:ff9b::/96, pool 100.64.0.0/10,
    /// ipv4-addr 100.64.0.1, interface nat64, masquerade out of the default route's interface.
    Run(RunArgs),
    /// Run with TAYGA's command line (also: call this binary through a link named `tayga`).
    Tayga {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the counters, the mapping count and the pool's use: from the running daemon of
    /// this network namespace, or from the kernel path's pinned maps when none runs.
    Stats(StatsArgs),
    /// One screen: datapath and why, uptime, configuration, pool use, active hosts, recent
    /// errors.
    Status(StatsArgs),
    /// List the dynamic mappings of the running daemon, most recently used first.
    Mappings(StatsArgs),
    /// Stateful NAT64: list the bindings (BIB) of the running daemon.
    Bib(StatsArgs),
    /// Stateful NAT64: list the sessions of the running daemon.
    Sessions(StatsArgs),
    /// Stateful NAT64: list the port blocks held by subscribers.
    Blocks(StatsArgs),
    /// Check the host before a start and say what to fix, line by line.
    Doctor(DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from this command line.
    #[command(hide = true)]
    Manpage,
}

#[derive(Parser, Debug, Clone)]
pub struct DoctorArgs {
    /// Check for this tayga.conf or TOML file (prefix, pool, device, pin directory).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An interface XDP would run on (repeatable; default: the configuration's).
    #[arg(long = "iface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Parser, Debug, Clone)]
pub struct StatsArgs {
    /// Take the device and pin directory from this tayga.conf or TOML file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The TUN device the daemon serves (default: the configuration's, else nat64).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Where the kernel path pins its maps (default: the configuration's, else /sys/fs/bpf/nat64).
    #[arg(long, value_name = "DIR")]
    pub pin_dir: Option<PathBuf>,
    /// Print JSON (a stable schema, versioned by its `schema` field) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate a tayga.conf or TOML file; print every problem with its line and the fix.
    Check { file: PathBuf },
}

#[derive(Parser, Debug, Clone)]
pub struct RunArgs {
    /// A tayga.conf or nat64 TOML file; the defaults above apply without one.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A physical interface facing the IPv6 clients (repeatable). Its global IPv6 address
    /// becomes the translator's with the well-known prefix.
    #[arg(long = "iface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Where the XDP program on the --iface interfaces sends what it translated: `stack`
    /// (the kernel routes it; NAT44 and the firewall apply) or `direct` (route lookup in
    /// the program and straight out; for a pool routed to this box, which is then not
    /// masqueraded). Default stack.
    #[arg(long, value_enum)]
    pub xdp_forward: Option<XdpForwardArg>,
    /// Where the XDP program sends what it does not translate itself, when the stack would
    /// route it into the TUN device: `af-xdp` (an AF_XDP socket per receive queue; userspace
    /// translates it without the stack and hands the result to the kernel through the TUN
    /// device), `af-xdp-transmit` (the same, the result sent straight out by AF_XDP transmit
    /// where the route allows; needs --xdp-forward direct; for zero-copy drivers) or `tun`
    /// (through the stack and the TUN device). Default af-xdp, with the TUN path wherever
    /// AF_XDP cannot be set up.
    #[arg(long, value_enum)]
    pub xdp_slow_path: Option<XdpSlowPathArg>,
    /// The IPv4 uplink to masquerade out of (default: the IPv4 default route's interface).
    #[arg(long, value_name = "IFACE")]
    pub egress: Option<String>,
    /// The RFC 6052 prefix (default 64:ff9b::/96).
    #[arg(long, value_name = "IPV6/LEN")]
    pub prefix: Option<String>,
    /// The dynamic pool (default 100.64.0.0/10).
    #[arg(long, value_name = "IPV4/LEN")]
    pub pool: Option<String>,
    /// Where dynamic.map is kept (default /var/lib/nat64).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Which datapath to run.
    #[arg(long, value_enum)]
    pub datapath: Option<DatapathArg>,
    /// Leave the interface, routes, rules and the kernel path (pinned maps and program) in
    /// place on stop, so a restart carries on with the same mappings.
    #[arg(long)]
    pub keep: bool,
    /// Where the kernel path pins its maps and program, in a directory per TUN device
    /// (default /sys/fs/bpf/nat64; must be on a bpf filesystem).
    #[arg(long, value_name = "DIR")]
    pub pin_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (`GET /metrics`), e.g. 127.0.0.1:9464.
    /// Default off (TOML `metrics`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Log level filter (tracing's RUST_LOG syntax), e.g. `debug`.
    #[arg(long, default_value = "info")]
    pub log: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum XdpForwardArg {
    Stack,
    Direct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum XdpSlowPathArg {
    AfXdp,
    AfXdpTransmit,
    Tun,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatapathArg {
    Auto,
    Tc,
    Tun,
}
