//! Becoming a daemon the way TAYGA does: detach (unless `-n`/`-d`), write the pid file,
//! chroot to data-dir (`-r`), then drop to `-u`/`-g`. All of it happens before the first
//! thread starts, since fork() and threads do not mix.

pub mod detach;
pub mod privileges;

pub use detach::{detach, write_pidfile};
pub use privileges::{chroot_to, drop_privileges, resolve_group, resolve_user, Privileges};
