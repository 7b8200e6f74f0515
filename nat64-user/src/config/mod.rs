//! Configuration: TAYGA's `tayga.conf` and nat64's own TOML file, validated
//! into one [`Config`] before anything on the host is touched.
//!
//! # Which format
//!
//! [`check_file`] reads the file and picks the format: a name ending in
//! `.toml` is TOML, a name ending in `.conf` is `tayga.conf`; any other name is
//! sniffed ([`detect_format`]): if a line that is not blank or a comment starts
//! with `[` or has the shape `key = value`, it is TOML, otherwise `tayga.conf`.
//!
//! # `tayga.conf`
//!
//! Every directive of TAYGA 0.9.2 and of the maintained TAYGA (0.9.5/0.9.6,
//! github.com/apalrd/tayga), with the same meaning, defaults and syntax: one
//! directive per line, tokens separated by spaces or tabs, directive names
//! case-insensitive, a token starting with `#` ends the line. See
//! [`tayga_conf`] for the directives and where nat64 is stricter than TAYGA.
//!
//! # TOML
//!
//! See [`toml_file`] for the schema. Settings left out take the values of
//! [`Config::native_defaults`].
//!
//! # `map-file`
//!
//! [`map_file::apply`] applies a file of `map` lines against the rest of the
//! configuration as TAYGA does (it rereads it on SIGHUP); [`Config::load_map_file`] reads
//! the configured one.

mod error;
pub mod map_file;
mod net;
mod raw;
mod stateful_toml;
pub mod tayga_conf;
pub mod toml_file;
mod validate;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, Diagnostic};
pub use net::{IpNet, Ipv4Net, Ipv6Net};

/// The well-known prefix of RFC 6052, `64:ff9b::/96`.
pub const WELL_KNOWN_PREFIX: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

/// TAYGA's default `offlink-mtu`: the IPv6 minimum link MTU.
pub const DEFAULT_OFFLINK_MTU: u16 = 1280;

/// TAYGA's `MAX_WORKERS`: the most `workers` TAYGA accepts.
pub const MAX_WORKERS: u16 = 64;

/// TAYGA's dynamic-map lease: "two hours and four minutes after the last packet" (7440 s).
pub const DEFAULT_MAPPING_IDLE: Duration = Duration::from_secs(7200 + 4 * 60);

/// TAYGA's `dyn_max_lease`: a dormant mapping is remembered for 14 days.
pub const DEFAULT_MAPPING_FORGET: Duration = Duration::from_secs(14 * 86_400);

/// The longest interface name Linux accepts (IFNAMSIZ − 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// Where systemd mounts the bpf filesystem, with a directory of ours under it.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/nat64";

/// The format of a configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TAYGA's `tayga.conf`.
    TaygaConf,
    /// nat64's native TOML file.
    Toml,
}

/// A static mapping (`map` directive): an IPv4 subnet and an IPv6 subnet of the
/// same size (RFC 7757), `32 − ipv4.prefix_len() == 128 − ipv6.prefix_len()`.
/// A plain `map a b` is `a/32 ↔ b/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaticMap {
    pub ipv4: Ipv4Net,
    pub ipv6: Ipv6Net,
}

pub use nat64_common::address_policy::WkpScope;
pub use nat64_common::maps::{UdpChecksumMode, XdpForward};

/// Where the frames the XDP program does not translate go, when the stack would route them
/// into the TUN device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpSlowPath {
    /// An AF_XDP socket per receive queue: userspace translates them without the stack
    /// (the TUN path where the sockets cannot be set up), and hands its translations to the
    /// kernel through the TUN device.
    AfXdp,
    /// As `AfXdp`, its translations sent straight out by AF_XDP transmit on the interface
    /// the kernel's route names, past the stack as `xdp_forward direct` sends the XDP
    /// program's own (so only with it). In copy mode (veth) it was measured slower than the
    /// TUN exit: each frame sent is an skb of its own; it is for zero-copy drivers.
    AfXdpTransmit,
    /// Through the stack into the TUN device, as without XDP.
    Tun,
}

impl XdpSlowPath {
    /// Whether the slow path may run with the XDP program forwarding as `forward` says:
    /// AF_XDP transmit sends translations past the stack, as direct forwarding does, and
    /// never with the stack forwarding (netfilter would see half of each flow).
    pub fn fits(self, forward: XdpForward) -> bool {
        self != XdpSlowPath::AfXdpTransmit || forward == XdpForward::Direct
    }
}

/// Which packets to log (`log` directive); TAYGA logs none by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// `drop`: packets dropped.
    pub drop: bool,
    /// `reject`: packets rejected with an ICMP error.
    pub reject: bool,
    /// `icmp`: packets that caused any ICMP error, including ordinary ones (Packet Too Big, Time Exceeded).
    pub icmp: bool,
    /// `self`: packets addressed to the translator itself.
    pub to_self: bool,
    /// `dyn`: dynamic-pool mapping events.
    pub dynamic: bool,
}

/// Which packet path to run (nat64 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Datapath {
    /// TC (and XDP on `interfaces`) where BPF is allowed, TUN otherwise.
    #[default]
    Auto,
    /// BPF only; refuse to start without it.
    Tc,
    /// The userspace TUN translator only.
    Tun,
}

/// A validated configuration.
///
/// Fields marked (TAYGA) come from `tayga.conf` directives of the same name;
/// fields marked (nat64) exist only in the TOML file and take their defaults
/// when a `tayga.conf` is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// (TAYGA `tun-device`) The TUN interface name. Required in `tayga.conf`; native default `nat64`.
    pub tun_device: String,
    /// (TAYGA `ipv4-addr`) The translator's own IPv4 address: source of ICMPv4 errors, answers pings.
    /// Required in `tayga.conf`; native default `100.64.0.1`. Removed from the dynamic pool when inside it.
    pub ipv4_addr: Ipv4Addr,
    /// (TAYGA `ipv6-addr`) The translator's own IPv6 address. When not configured it is
    /// `ipv4_addr` embedded in `prefix` (RFC 6052), as TAYGA does; see [`Config::ipv6_addr_configured`].
    pub ipv6_addr: Ipv6Addr,
    /// Whether `ipv6_addr` was written in the file (false: derived or native default).
    pub ipv6_addr_configured: bool,
    /// (TAYGA `prefix`) The RFC 6052 translation prefix; `None` when only `map` lines translate.
    /// Native default `64:ff9b::/96`.
    pub prefix: Option<Ipv6Net>,
    /// (TAYGA `wkpf-strict`) Refuse the well-known prefix combined with non-global IPv4
    /// addresses (RFC 6052 section 3.1). Default true.
    pub wkpf_strict: bool,
    /// Which IPv4 addresses `wkpf_strict` keeps from behind the well-known prefix: TAYGA's
    /// list for a `tayga.conf`, the IANA registry's non-global blocks for a TOML file.
    pub wkp_scope: WkpScope,
    /// (TAYGA `map`) Static mappings from the configuration file, in file order.
    pub maps: Vec<StaticMap>,
    /// (TAYGA `dynamic-pool`) IPv4 addresses handed to IPv6 hosts without a mapping. The first
    /// address, `ipv4_addr` and the IPv4 side of `maps` are never handed out.
    /// Native default `100.64.0.0/10`.
    pub dynamic_pool: Option<Ipv4Net>,
    /// (TAYGA `data-dir`) Where `dynamic.map` is kept; absolute. `None`: mappings are not kept
    /// (TAYGA then falls back to `$STATE_DIRECTORY`, which is the caller's business: this
    /// module reads no environment). Native default `/var/lib/nat64`.
    pub data_dir: Option<PathBuf>,
    /// (TAYGA `map-file`) A file of more `map` lines, reloaded on SIGHUP, as written: absolute
    /// or relative to `data_dir`. See [`Config::map_file_path`].
    pub map_file: Option<PathBuf>,
    /// (TAYGA `udp-cksum-mode`) Default [`UdpChecksumMode::Drop`].
    pub udp_cksum_mode: UdpChecksumMode,
    /// (TAYGA `log`) Default: nothing logged.
    pub log: LogOptions,
    /// (TAYGA `offlink-mtu`) IPv4→IPv6 packets larger than this are fragmented unless DF is set.
    /// 1280..=65535, default 1280.
    pub offlink_mtu: u16,
    /// (TAYGA `tun-up`) Bring the TUN interface up at start. TAYGA's default false;
    /// native default true.
    pub tun_up: bool,
    /// (TAYGA `tun-ip`) Addresses to put on the TUN interface, in file order.
    pub tun_ips: Vec<IpNet>,
    /// (TAYGA `tun-route`) Routes to point at the TUN interface, in file order.
    pub tun_routes: Vec<IpNet>,
    /// (TAYGA `workers`) Worker threads; `None`: one per CPU, at most 64 (TAYGA's default);
    /// `Some(0)`: no multiqueue.
    pub workers: Option<u16>,
    /// (nat64 `datapath`) Default [`Datapath::Auto`].
    pub datapath: Datapath,
    /// (nat64 `interfaces`) Physical interfaces to attach the XDP program to. Default none.
    pub interfaces: Vec<String>,
    /// (nat64 `xdp_forward`) Where the XDP program sends what it translated. Default
    /// [`XdpForward::Stack`].
    pub xdp_forward: XdpForward,
    /// (nat64 `xdp_slow_path`) Where what the XDP program does not translate goes.
    /// Default [`XdpSlowPath::AfXdp`].
    pub xdp_slow_path: XdpSlowPath,
    /// (nat64 `egress`) The interface translated IPv4 leaves by, when it cannot be found
    /// from the routing table. Default `None`.
    pub egress: Option<String>,
    /// (nat64 `allow_source`) IPv6 source prefixes allowed to be translated; empty: any source.
    pub allow_source: Vec<Ipv6Net>,
    /// (nat64 `mapping_idle_secs`) A dynamic mapping unused this long may be reused. Default 7440 s.
    pub mapping_idle: Duration,
    /// (nat64 `mapping_forget_secs`) A dormant dynamic mapping is forgotten after this long.
    /// Default 14 days.
    pub mapping_forget: Duration,
    /// (nat64 `keep`) Leave the interface, routes and pinned maps in place on a clean stop.
    /// Default false.
    pub keep: bool,
    /// (nat64 `pin_dir`) Where the kernel path's maps and link are pinned, one directory per
    /// `tun_device`, so a restart finds the mappings the kernel was serving. Default
    /// `/sys/fs/bpf/nat64`.
    pub pin_dir: PathBuf,
    /// (nat64 `metrics`) Where the Prometheus endpoint listens (`GET /metrics`). Default off.
    pub metrics: Option<std::net::SocketAddr>,
    /// (nat64 `[stateful]`) Stateful NAT64 (RFC 6146) on pool4 instead of the dynamic pool.
    /// Default off.
    pub stateful: Option<crate::stateful::StatefulConfig>,
    /// Warnings found while reading (deprecated directives, risky addresses), for the caller
    /// to log once. Not part of the configuration's meaning.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// nat64's defaults for a TOML file: a self-contained NAT64 on the well-known prefix.
    ///
    /// `prefix 64:ff9b::/96`, `dynamic-pool 100.64.0.0/10` (RFC 6598 shared space, rarely
    /// used on a LAN), `ipv4-addr 100.64.0.1`, `tun-device nat64`, `data-dir /var/lib/nat64`,
    /// `tun-up yes`. `ipv6_addr` is `64:ff9b:1::1` (RFC 8215 local-use translation space):
    /// TAYGA's rule refuses to derive it from a non-global `ipv4_addr` under the well-known
    /// prefix, and that address is outside the /96.
    pub fn native_defaults() -> Config {
        Config {
            tun_device: "nat64".to_string(),
            ipv4_addr: Ipv4Addr::new(100, 64, 0, 1),
            ipv6_addr: NATIVE_DEFAULT_IPV6_ADDR,
            ipv6_addr_configured: false,
            prefix: Some(Ipv6Net::new(WELL_KNOWN_PREFIX, 96).expect("/96 is a valid length")),
            wkpf_strict: true,
            wkp_scope: WkpScope::Registry,
            maps: Vec::new(),
            dynamic_pool: Some(
                Ipv4Net::new(Ipv4Addr::new(100, 64, 0, 0), 10).expect("/10 is a valid length"),
            ),
            data_dir: Some(PathBuf::from("/var/lib/nat64")),
            map_file: None,
            tun_up: true,
            ..Config::tayga_defaults()
        }
    }

    /// TAYGA's defaults for everything `tayga.conf` may leave out (conffile.c `config_init`).
    ///
    /// `tun-device` and `ipv4-addr` have no default in TAYGA (a `tayga.conf` without them is
    /// refused); here they hold placeholders (`""`, `0.0.0.0`) that validation always replaces.
    pub(crate) fn tayga_defaults() -> Config {
        Config {
            tun_device: String::new(),
            ipv4_addr: Ipv4Addr::UNSPECIFIED,
            ipv6_addr: Ipv6Addr::UNSPECIFIED,
            ipv6_addr_configured: false,
            prefix: None,
            wkpf_strict: true,
            wkp_scope: WkpScope::Tayga,
            maps: Vec::new(),
            dynamic_pool: None,
            data_dir: None,
            map_file: None,
            udp_cksum_mode: UdpChecksumMode::Drop,
            log: LogOptions::default(),
            offlink_mtu: DEFAULT_OFFLINK_MTU,
            tun_up: false,
            tun_ips: Vec::new(),
            tun_routes: Vec::new(),
            workers: None,
            datapath: Datapath::Auto,
            interfaces: Vec::new(),
            xdp_forward: XdpForward::Stack,
            xdp_slow_path: XdpSlowPath::AfXdp,
            egress: None,
            allow_source: Vec::new(),
            mapping_idle: DEFAULT_MAPPING_IDLE,
            mapping_forget: DEFAULT_MAPPING_FORGET,
            keep: false,
            pin_dir: PathBuf::from(DEFAULT_PIN_DIR),
            metrics: None,
            stateful: None,
            warnings: Vec::new(),
        }
    }

    /// Where the map file is: `map_file` as is when absolute, else under `data_dir`
    /// (relative to the working directory when there is no `data_dir`).
    pub fn map_file_path(&self) -> Option<PathBuf> {
        let file = self.map_file.as_ref()?;
        Some(match &self.data_dir {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.clone(),
        })
    }

    /// Reads the `map-file` (if any) and applies it against this configuration as TAYGA
    /// does ([`map_file::apply`]). An error only when the file cannot be read: TAYGA then
    /// refuses to start, and keeps its old maps on SIGHUP.
    pub fn load_map_file(&self) -> Result<map_file::MapFile, ConfigError> {
        let Some(path) = self.map_file_path() else {
            return Ok(map_file::MapFile::default());
        };
        map_file::load(self, &path)
    }
}

/// The native default `ipv6_addr`, see [`Config::native_defaults`].
pub const NATIVE_DEFAULT_IPV6_ADDR: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 1);

/// Reads and validates a configuration file, in the format its name or content says.
///
/// The only I/O is reading `path`; nothing on the host changes.
pub fn check_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_str(&text, path, detect_format(path, &text))
}

/// Validates configuration text; `file` is only used to name it in messages.
pub fn parse_str(text: &str, file: &Path, format: Format) -> Result<Config, ConfigError> {
    match format {
        Format::TaygaConf => tayga_conf::parse(text, file),
        Format::Toml => toml_file::parse(text, file),
    }
}

/// `.toml` → TOML, `.conf` → `tayga.conf`, otherwise by content (see the module documentation).
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("toml") => return Format::Toml,
        Some(e) if e.eq_ignore_ascii_case("conf") => return Format::TaygaConf,
        _ => {}
    }
    let looks_like_toml = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| {
            // No tayga.conf directive contains '=' or starts with '[', and every TOML
            // line that is not a table header is `key = value`.
            l.starts_with('[')
                || l.split_once('=').is_some_and(|(k, _)| {
                    let k = k.trim();
                    !k.is_empty() && !k.contains(char::is_whitespace)
                })
        });
    if looks_like_toml {
        Format::Toml
    } else {
        Format::TaygaConf
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::whole_file(
            path,
            format!("cannot read the configuration: {e}"),
            Some("check the path (TAYGA's default is /etc/tayga.conf) and its permissions".into()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_by_name_then_content() {
        assert_eq!(
            detect_format(Path::new("a.toml"), "tun-device x"),
            Format::Toml
        );
        assert_eq!(
            detect_format(Path::new("a.conf"), "x = 1"),
            Format::TaygaConf
        );
        assert_eq!(
            detect_format(Path::new("cfg"), "# c\nprefix = \"64:ff9b::/96\""),
            Format::Toml
        );
        assert_eq!(detect_format(Path::new("cfg"), "[[map]]\n"), Format::Toml);
        assert_eq!(
            detect_format(Path::new("cfg"), "# a = b\ntun-device nat64\n"),
            Format::TaygaConf
        );
    }

    #[test]
    fn native_defaults_are_valid() {
        let text = "";
        let c = parse_str(text, Path::new("empty.toml"), Format::Toml).unwrap();
        assert_eq!(c, Config::native_defaults());
    }

    #[test]
    fn map_file_path_is_relative_to_data_dir() {
        let mut c = Config::native_defaults();
        c.map_file = Some("static.map".into());
        assert_eq!(
            c.map_file_path().unwrap(),
            Path::new("/var/lib/nat64/static.map")
        );
        c.map_file = Some("/etc/static.map".into());
        assert_eq!(c.map_file_path().unwrap(), Path::new("/etc/static.map"));
    }
}
