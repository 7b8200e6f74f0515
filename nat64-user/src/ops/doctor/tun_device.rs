//! `/dev/net/tun`: every datapath needs the TUN device (the kernel path's slow path too).

use std::{io::ErrorKind, os::unix::fs::FileTypeExt as _};

use super::{Check, Verdict};

const TUN: &str = "/dev/net/tun";

pub fn check() -> Check {
    let meta = match std::fs::metadata(TUN) {
        Ok(meta) => meta,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Check::new("tun", Verdict::Fail, format!("{TUN} does not exist"))
                .fix("modprobe tun on the host; in an LXC container pass the device in (lxc.cgroup2.devices.allow: c 10:200 rwm and lxc.mount.entry: /dev/net dev/net none bind,create=dir)");
        }
        Err(err) => return Check::new("tun", Verdict::Fail, format!("{TUN}: {err}")),
    };
    if !meta.file_type().is_char_device() {
        return Check::new(
            "tun",
            Verdict::Fail,
            format!("{TUN} is not a character device"),
        )
        .fix(format!(
            "remove it and create the device: mknod {TUN} c 10 200"
        ));
    }
    match std::fs::OpenOptions::new().read(true).write(true).open(TUN) {
        Ok(_) => Check::new("tun", Verdict::Ok, format!("{TUN} opens for reading and writing")),
        Err(err) if err.kind() == ErrorKind::PermissionDenied => Check::new(
            "tun",
            Verdict::Fail,
            format!("{TUN} exists but may not be opened ({err}): the device cgroup or permissions refuse it"),
        )
        .fix("in an LXC container allow the device: lxc.cgroup2.devices.allow: c 10:200 rwm"),
        Err(err) => Check::new("tun", Verdict::Fail, format!("{TUN} cannot be opened: {err}"))
            .fix("modprobe tun on the host"),
    }
}
