//! `-u USER`, `-g GROUP` and `-r` (chroot to data-dir), resolved and applied as TAYGA does:
//! names or numbers; the group first, since dropping the user first would forbid it.

use std::{ffi::CString, io, path::Path};

use anyhow::{bail, Context, Result};

/// What TAYGA's `-r`, `-u` and `-g` ask for, applied once the host is set up (which needs
/// root) and before the first packet is served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Privileges {
    pub chroot: Option<std::path::PathBuf>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// A user as `-u` names it: by name (looked up) or by number. Also gives the user's
/// primary group, which applies when `-g` is absent.
pub fn resolve_user(user: &str) -> Result<(u32, u32)> {
    let name = CString::new(user).context("user name contains a NUL byte")?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy out at once
    // and call it from the main thread only (before any other thread exists).
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if !entry.is_null() {
        // SAFETY: non-null means a valid passwd record.
        let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
        return Ok((uid, gid));
    }
    match user.parse::<u32>() {
        Ok(uid) => Ok((uid, uid)),
        Err(_) => {
            bail!("-u {user}: no such user; give a user name from /etc/passwd or a numeric uid")
        }
    }
}

/// A group as `-g` names it: by name or by number.
pub fn resolve_group(group: &str) -> Result<u32> {
    let name = CString::new(group).context("group name contains a NUL byte")?;
    // SAFETY: as in resolve_user, for the group database.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    if !entry.is_null() {
        // SAFETY: non-null means a valid group record.
        return Ok(unsafe { (*entry).gr_gid });
    }
    group.parse::<u32>().map_err(|_| {
        anyhow::anyhow!(
            "-g {group}: no such group; give a group name from /etc/group or a numeric gid"
        )
    })
}

/// chroot() into `dir` and move to its root.
pub fn chroot_to(dir: &Path) -> Result<()> {
    let path =
        CString::new(dir.as_os_str().as_encoded_bytes()).context("data-dir contains a NUL byte")?;
    // SAFETY: plain syscalls on a valid C string.
    if unsafe { libc::chroot(path.as_ptr()) } != 0 {
        let err = io::Error::last_os_error();
        bail!("chroot to {}: {err}", dir.display());
    }
    std::env::set_current_dir("/").context("chdir / after chroot")
}

/// Drops supplementary groups, then the group, then the user.
pub fn drop_privileges(uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    if let Some(gid) = gid {
        // SAFETY: setgroups with an empty list and setgid are plain syscalls.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 || unsafe { libc::setgid(gid) } != 0
        {
            bail!("setgid {gid}: {}", io::Error::last_os_error());
        }
    }
    if let Some(uid) = uid {
        // SAFETY: plain syscall.
        if unsafe { libc::setuid(uid) } != 0 {
            bail!("setuid {uid}: {}", io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups_resolve_by_name_or_number() {
        assert_eq!(resolve_user("root").unwrap(), (0, 0));
        assert_eq!(resolve_user("4242").unwrap(), (4242, 4242));
        assert!(resolve_user("no-such-user-here").is_err());
        assert_eq!(resolve_group("root").unwrap(), 0);
        assert_eq!(resolve_group("4242").unwrap(), 4242);
        let err = resolve_group("no-such-group-here").unwrap_err().to_string();
        assert!(err.contains("numeric gid"), "{err}");
    }
}
