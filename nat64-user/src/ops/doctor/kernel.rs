//! What the kernel lets this process do: capabilities, loading a BPF program of the kind
//! nat64 attaches (a TC classifier), kernel lockdown, the bpf filesystem for the pins.

use std::path::Path;

use super::{container::Place, Check, Verdict};

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set, from /proc/self/status.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

/// Whether a seccomp filter is on (Docker's default profile refuses bpf(2)).
fn seccomp_filtered() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Seccomp:"))
                .map(|v| v.trim() == "2")
        })
        .unwrap_or(false)
}

pub fn capabilities() -> Check {
    let Some(caps) = effective_caps() else {
        return Check::new(
            "capabilities",
            Verdict::Warn,
            "cannot read /proc/self/status",
        );
    };
    let mut missing = Vec::new();
    if !has(caps, CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    let bpf_capable = has(caps, CAP_BPF) || has(caps, CAP_SYS_ADMIN);
    if !bpf_capable {
        missing.push("CAP_BPF");
    }
    if !(has(caps, CAP_PERFMON) || has(caps, CAP_SYS_ADMIN)) {
        missing.push("CAP_PERFMON");
    }
    if missing.is_empty() {
        Check::new(
            "capabilities",
            Verdict::Ok,
            "CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) are effective",
        )
    } else if has(caps, CAP_NET_ADMIN) {
        Check::new(
            "capabilities",
            Verdict::Warn,
            format!("missing {}: the kernel datapath needs them", missing.join(", ")),
        )
        .fix("run as root, or give the service AmbientCapabilities=CAP_NET_ADMIN CAP_BPF CAP_PERFMON (nat64.service does)")
    } else {
        Check::new(
            "capabilities",
            Verdict::Fail,
            format!(
                "missing {}: the gateway cannot set up its interface",
                missing.join(", ")
            ),
        )
        .fix("run as root (sudo), or as the nat64.service unit")
    }
}

/// bpf(2) attributes for BPF_PROG_LOAD, as far as this probe sets them; the rest stays zero
/// (the kernel requires unknown trailing bytes to be zero).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    rest: [u8; 80],
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;

/// Loads `r0 = 0; exit` as a TC classifier — what nat64 attaches needs the same rights —
/// and closes it at once. Ok(()) or the errno.
fn probe_bpf() -> Result<(), std::io::Error> {
    // mov64 r0, 0 (opcode 0xb7) and exit (0x95); every other field zero.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SCHED_CLS,
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        rest: [0; 80],
    };
    // SAFETY: bpf(BPF_PROG_LOAD) reads `attr` (size given) and the instruction and license
    // buffers it points to, all alive for the call; it writes nothing of ours.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is the program descriptor the kernel just returned to us.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

pub fn bpf(place: &Place) -> Check {
    let err = match probe_bpf() {
        Ok(()) => {
            return Check::new(
                "bpf",
                Verdict::Ok,
                "the kernel loads a TC program: the kernel datapath (TC, XDP) is available",
            )
        }
        Err(err) => err,
    };
    let errno = err.raw_os_error().unwrap_or(0);
    let why = if errno == libc::ENOSYS {
        "this kernel has no bpf(2)".to_owned()
    } else if errno != libc::EPERM && errno != libc::EACCES {
        format!("the kernel refused a minimal program: {err}")
    } else if place.user_namespace {
        "this is a user namespace (an unprivileged container): the kernel grants BPF only to CAP_BPF in the host's initial user namespace, which no process in here can have".to_owned()
    } else if seccomp_filtered() {
        "a seccomp filter refuses bpf(2) (a container runtime's default profile)".to_owned()
    } else if !effective_caps().is_some_and(|c| has(c, CAP_BPF) || has(c, CAP_SYS_ADMIN)) {
        "this process lacks CAP_BPF".to_owned()
    } else {
        let lockdown = lockdown_mode().unwrap_or_default();
        format!(
            "refused ({err}){}",
            if lockdown.is_empty() || lockdown == "none" {
                String::new()
            } else {
                format!("; kernel lockdown is {lockdown}")
            }
        )
    };
    let fix = if place.user_namespace {
        "nothing to fix for the TUN datapath; for the kernel one run nat64 on the host or in a privileged container"
    } else {
        "run as root or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; `--datapath tun` avoids BPF"
    };
    Check::new(
        "bpf",
        Verdict::Fail,
        format!("BPF refused: {why}; nat64 runs the TUN datapath (userspace)"),
    )
    .fix(fix)
}

/// The active mode in /sys/kernel/security/lockdown (`none [integrity] confidentiality`).
fn lockdown_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let start = text.find('[')?;
    let end = text.get(start..)?.find(']')? + start;
    text.get(start + 1..end).map(str::to_owned)
}

pub fn lockdown() -> Check {
    match lockdown_mode().as_deref() {
        None => Check::new("lockdown", Verdict::Ok, "no kernel lockdown (or securityfs not mounted)"),
        Some("none") => Check::new("lockdown", Verdict::Ok, "kernel lockdown is off"),
        Some(mode) => Check::new(
            "lockdown",
            Verdict::Warn,
            format!("kernel lockdown is {mode} (Secure Boot): BPF programs that read kernel memory are refused; nat64's TC and XDP programs do not, but a failing load above may be why"),
        ),
    }
}

/// statfs(2) f_type of a bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn on_bpf_fs(path: &Path) -> bool {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes one struct statfs, which we own, for a NUL-terminated path.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c_path.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

pub fn bpffs(pin_dir: &Path) -> Check {
    let mut dir = pin_dir;
    while !dir.exists() {
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
    if on_bpf_fs(dir) {
        Check::new(
            "bpffs",
            Verdict::Ok,
            format!("{} is on a bpf filesystem: the kernel path's maps are pinned there and survive a restart", dir.display()),
        )
    } else if pin_dir.starts_with("/sys/fs/bpf") {
        Check::new(
            "bpffs",
            Verdict::Info,
            "no bpf filesystem on /sys/fs/bpf: nat64 mounts one at start",
        )
    } else {
        Check::new(
            "bpffs",
            Verdict::Warn,
            format!("{} is not on a bpf filesystem: the maps will not be pinned (a restart starts empty)", pin_dir.display()),
        )
        .fix(format!("mount -t bpf bpf {}", dir.display()))
    }
}
