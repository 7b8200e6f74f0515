//! TAYGA's command line, accepted as TAYGA accepts it, so `tayga` can be a symlink to us:
//! `tayga [-c|--config FILE] [-d] [-n|--nodetach] [-u|--user USER] [-g|--group GROUP]
//! [-r|--chroot] [-p|--pidfile FILE] [--mktun] [--rmtun] [--syslog|--stdout|--journal]`.
//! The log-destination flags are those of the maintained TAYGA (0.9.5 on).

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Where TAYGA looks for its configuration when `-c` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/tayga.conf";

#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "tayga",
    about = "nat64 in TAYGA's clothes: reads tayga.conf and takes TAYGA's flags",
    disable_version_flag = true
)]
pub struct TaygaFlags {
    /// Read configuration options from FILE.
    #[arg(short = 'c', long = "config", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Enable debug messages (implies --nodetach).
    #[arg(short = 'd', action = ArgAction::SetTrue)]
    pub debug: bool,
    /// Do not detach from the terminal.
    #[arg(short = 'n', long = "nodetach")]
    pub nodetach: bool,
    /// Set uid to USER (name or number) after initialization.
    #[arg(short = 'u', long = "user", value_name = "USERID")]
    pub user: Option<String>,
    /// Set gid to GROUP (name or number) after initialization.
    #[arg(short = 'g', long = "group", value_name = "GROUPID")]
    pub group: Option<String>,
    /// chroot() to data-dir (specified in the config file).
    #[arg(short = 'r', long = "chroot")]
    pub chroot: bool,
    /// Write the process ID of the daemon to FILE.
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Create the persistent TUN interface and exit.
    #[arg(long = "mktun", conflicts_with = "rmtun")]
    pub mktun: bool,
    /// Remove the persistent TUN interface and exit.
    #[arg(long = "rmtun")]
    pub rmtun: bool,
    /// Log to syslog.
    #[arg(long = "syslog", group = "log_destination")]
    pub syslog: bool,
    /// Log to standard output.
    #[arg(long = "stdout", group = "log_destination")]
    pub stdout: bool,
    /// Log to the systemd journal.
    #[arg(long = "journal", group = "log_destination")]
    pub journal: bool,
}

impl TaygaFlags {
    /// TAYGA stays in the foreground with -n or -d, and for --mktun/--rmtun (which exit).
    pub fn stays_in_foreground(&self) -> bool {
        self.nodetach || self.debug || self.mktun || self.rmtun
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TaygaFlags, clap::Error> {
        TaygaFlags::try_parse_from(std::iter::once("tayga").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_match_taygas() {
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.config, PathBuf::from("/etc/tayga.conf"));
        assert!(!flags.stays_in_foreground());
    }

    #[test]
    fn short_and_long_forms_are_both_accepted() {
        let short = parse(&[
            "-c",
            "/x.conf",
            "-n",
            "-u",
            "nobody",
            "-g",
            "nogroup",
            "-r",
            "-p",
            "/run/t.pid",
        ])
        .unwrap();
        let long = parse(&[
            "--config",
            "/x.conf",
            "--nodetach",
            "--user",
            "nobody",
            "--group",
            "nogroup",
            "--chroot",
            "--pidfile",
            "/run/t.pid",
        ])
        .unwrap();
        assert_eq!(short, long);
        assert_eq!(short.user.as_deref(), Some("nobody"));
        assert!(short.chroot && short.stays_in_foreground());
    }

    #[test]
    fn debug_implies_foreground_and_mktun_excludes_rmtun() {
        assert!(parse(&["-d"]).unwrap().stays_in_foreground());
        assert!(parse(&["--mktun"]).unwrap().mktun);
        assert!(parse(&["--mktun", "--rmtun"]).is_err());
        assert!(parse(&["--syslog", "--stdout"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
