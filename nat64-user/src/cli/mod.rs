//! The command lines: nat64's own, and TAYGA's when invoked as `tayga` or `nat64 tayga`.

pub mod native;
pub mod operate;
pub mod tayga_flags;

use std::{ffi::OsString, path::Path};

/// Which command line applies: TAYGA's when the program is called through a `tayga` link
/// (argv[0]) or with `tayga` as its first argument, nat64's otherwise.
pub fn invoked_as_tayga(args: &[OsString]) -> bool {
    let program_is_tayga = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .is_some_and(|name| name == "tayga");
    let subcommand_is_tayga = args.get(1).is_some_and(|arg| arg == "tayga");
    program_is_tayga || subcommand_is_tayga
}

/// TAYGA's argument vector from ours: `nat64 tayga -c f` becomes `tayga -c f`.
pub fn tayga_args(args: &[OsString]) -> Vec<OsString> {
    let program_is_tayga = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .is_some_and(|name| name == "tayga");
    let via_subcommand = !program_is_tayga && args.get(1).is_some_and(|arg| arg == "tayga");
    let rest = if via_subcommand {
        args.get(2..)
    } else {
        args.get(1..)
    };
    std::iter::once(OsString::from("tayga"))
        .chain(rest.unwrap_or_default().iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn tayga_is_recognised_by_link_name_or_subcommand() {
        assert!(invoked_as_tayga(&os(&["/usr/sbin/tayga", "-c", "f"])));
        assert!(invoked_as_tayga(&os(&["nat64", "tayga", "--mktun"])));
        assert!(!invoked_as_tayga(&os(&["nat64", "run", "--iface", "eth0"])));
        assert_eq!(
            tayga_args(&os(&["nat64", "tayga", "--mktun"])),
            os(&["tayga", "--mktun"])
        );
        assert_eq!(
            tayga_args(&os(&["/usr/sbin/tayga", "-n"])),
            os(&["tayga", "-n"])
        );
    }
}
