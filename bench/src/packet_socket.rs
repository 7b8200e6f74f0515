//! An AF_PACKET socket on one interface of a namespace: sends whole Ethernet frames, and
//! receives them with the kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME), for
//! latencies too low a rate to need the XDP generator.

use std::{
    mem::{size_of, zeroed},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use nat64_tests::netns::Netns;

use crate::programs::in_namespace;

/// The socket's protocol: what `ETH_P_IP` says in C.
pub const ETH_P_IP: u16 = nat64_common::wire::ethertype::IPV4;

pub struct PacketSocket {
    fd: OwnedFd,
}

/// A received frame: its length in the caller's buffer and when the kernel took it in.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub len: usize,
    pub realtime_ns: i128,
}

impl PacketSocket {
    /// Bound to `interface` of `ns`; receives frames of ethertype `protocol` (0: none, a
    /// sender only). The socket stays in `ns` whichever thread uses it.
    pub fn open(ns: &Netns, interface: &str, protocol: u16) -> Result<Self> {
        let name = std::ffi::CString::new(interface)?;
        in_namespace(ns, || {
            // SAFETY: plain socket creation; the descriptor is owned at once.
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    i32::from(protocol.to_be()),
                )
            };
            if raw < 0 {
                bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
            }
            // SAFETY: a fresh descriptor nobody else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: a valid NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                bail!("no interface {interface} in {}", ns.name());
            }
            // SAFETY: all-zero is a valid sockaddr_ll.
            let mut address: libc::sockaddr_ll = unsafe { zeroed() };
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_protocol = protocol.to_be();
            address.sll_ifindex = ifindex as i32;
            // SAFETY: a sockaddr_ll of the size given.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&address as *const libc::sockaddr_ll).cast(),
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if rc != 0 {
                bail!(
                    "binding to {interface}: {}",
                    std::io::Error::last_os_error()
                );
            }
            Ok(Self { fd })
        })
        .with_context(|| format!("packet socket on {interface} in {}", ns.name()))
    }

    /// Asks the kernel to stamp every frame this socket receives.
    pub fn timestamp_arrivals(&self) -> Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: an int option of the size given.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        if rc != 0 {
            bail!("SO_TIMESTAMPNS: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Transmits `frame` as is out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: a buffer of the length given.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if sent != frame.len() as isize {
            bail!("AF_PACKET send: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The next frame within `timeout`, into `buffer`; `None` when none came.
    pub fn receive(&self, buffer: &mut [u8], timeout: Duration) -> Result<Option<Received>> {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready < 0 {
            bail!("poll: {}", std::io::Error::last_os_error());
        }
        if ready == 0 {
            return Ok(None);
        }
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // Room for one timespec control message, u64-aligned as cmsghdr wants.
        let mut control = [0u64; 8];
        // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
        let mut message: libc::msghdr = unsafe { zeroed() };
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = size_of::<[u64; 8]>();
        // SAFETY: the msghdr points at live buffers of the sizes given.
        let len = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut message, libc::MSG_DONTWAIT) };
        if len < 0 {
            bail!("recvmsg: {}", std::io::Error::last_os_error());
        }
        let stamp = arrival_stamp(&message).context("no SO_TIMESTAMPNS stamp on the frame")?;
        Ok(Some(Received {
            len: len as usize,
            realtime_ns: stamp,
        }))
    }
}

/// The SCM_TIMESTAMPNS control message of a received message, in nanoseconds.
fn arrival_stamp(message: &libc::msghdr) -> Option<i128> {
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled, within its length.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(message);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let stamp = (libc::CMSG_DATA(cmsg) as *const libc::timespec).read_unaligned();
                return Some(i128::from(stamp.tv_sec) * 1_000_000_000 + i128::from(stamp.tv_nsec));
            }
            cmsg = libc::CMSG_NXTHDR(message, cmsg);
        }
    }
    None
}

/// CLOCK_REALTIME, the clock of SO_TIMESTAMPNS stamps.
pub fn realtime_ns() -> i128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
}
