//! The TUN ioctls, wrapped so the unsafe code stays in one small place.

use std::{fmt, io};

/// A Linux interface name: 1 to 15 bytes, no '/', no whitespace, not "." or "..".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceName(String);

impl InterfaceName {
    pub fn new(name: &str) -> Result<Self, String> {
        let valid = !name.is_empty()
            && name.len() < libc::IFNAMSIZ
            && name != "."
            && name != ".."
            && !name
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a valid interface name: 1 to {} characters, no '/', ':' or spaces",
                libc::IFNAMSIZ - 1
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

pub fn set_iff(fd: i32, name: &InterfaceName, flags: libc::c_int) -> io::Result<()> {
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: flags as libc::c_short,
        _rest: [0; 22],
    };
    for (slot, byte) in req.name.iter_mut().zip(name.as_str().bytes()) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: TUNSETIFF reads and writes one struct ifreq, which IfReqFlags lays out
    // (16-byte name, then the flags union member, padded to the union's 24 bytes).
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut req as *mut IfReqFlags) };
    check(rc, "TUNSETIFF", name.as_str())
}

pub fn set_persist(fd: i32, persist: bool) -> io::Result<()> {
    // SAFETY: TUNSETPERSIST takes its argument by value.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETPERSIST, libc::c_ulong::from(persist)) };
    check(rc, "TUNSETPERSIST", "")
}

pub fn set_owner(fd: i32, uid: u32) -> io::Result<()> {
    // SAFETY: TUNSETOWNER takes a uid by value.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETOWNER, libc::c_ulong::from(uid)) };
    check(rc, "TUNSETOWNER", "")
}

pub fn set_group(fd: i32, gid: u32) -> io::Result<()> {
    // SAFETY: TUNSETGROUP takes a gid by value.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETGROUP, libc::c_ulong::from(gid)) };
    check(rc, "TUNSETGROUP", "")
}

/// Sets the size of the header that starts every read and write of a vnet-header queue.
pub fn set_vnet_hdr_sz(fd: i32, size: usize) -> io::Result<()> {
    let size = size as libc::c_int;
    // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETVNETHDRSZ, &size as *const libc::c_int) };
    check(rc, "TUNSETVNETHDRSZ", "")
}

pub fn vnet_hdr_sz(fd: i32) -> io::Result<usize> {
    let mut size: libc::c_int = 0;
    // SAFETY: TUNGETVNETHDRSZ writes one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, libc::TUNGETVNETHDRSZ, &mut size as *mut libc::c_int) };
    check(rc, "TUNGETVNETHDRSZ", "")?;
    Ok(usize::try_from(size).unwrap_or(0))
}

/// The offloads (TUN_F_*) the device may hand over and take back; EINVAL names a flag this
/// kernel does not know.
pub fn set_offload(fd: i32, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD, libc::c_ulong::from(flags)) };
    check(rc, "TUNSETOFFLOAD", "")
}

fn check(rc: libc::c_int, what: &str, name: &str) -> io::Result<()> {
    if rc >= 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    Err(io::Error::new(err.kind(), format!("{what} {name}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::InterfaceName;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert!(InterfaceName::new("nat64").is_ok());
        assert!(InterfaceName::new("a23456789012345").is_ok());
        assert!(InterfaceName::new("a234567890123456").is_err());
        assert!(InterfaceName::new("").is_err());
        assert!(InterfaceName::new("a/b").is_err());
        assert!(InterfaceName::new("a b").is_err());
        assert!(InterfaceName::new("..").is_err());
    }
}
