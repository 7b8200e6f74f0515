//! Raw Ethernet frames in and out of one interface of a namespace (AF_PACKET): what a wire
//! would deliver, byte for byte, with no stack of the sending namespace in between, and
//! every frame that arrives, as it arrived.

use std::{
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::netns::Netns;

/// Large enough for any frame the tests send (jumbo links included).
const MAX_FRAME: usize = 65_536;

/// An AF_PACKET socket bound to one interface of a namespace; closed on drop.
pub struct PacketSocket {
    fd: OwnedFd,
    interface: String,
}

impl PacketSocket {
    /// A socket for every protocol on `interface` of `ns`. It is made by a thread inside the
    /// namespace and stays bound to that interface wherever it is used from.
    pub fn open(ns: &Netns, interface: &str) -> Result<Self> {
        let name = interface.to_owned();
        let fd = ns
            .run_inside(move || open_bound(&name))
            .with_context(|| format!("AF_PACKET socket on {interface} in {}", ns.name()))?;
        Ok(Self {
            fd,
            interface: interface.to_owned(),
        })
    }

    /// Sends one whole frame (Ethernet header included) out of the interface.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: the buffer is valid for its length; the socket is bound to the interface.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if sent < 0 {
            bail!(
                "sending {} bytes on {}: {}",
                frame.len(),
                self.interface,
                std::io::Error::last_os_error()
            );
        }
        if sent as usize != frame.len() {
            bail!("sent {sent} of {} bytes on {}", frame.len(), self.interface);
        }
        Ok(())
    }

    /// The next frame that arrived on the interface (not one sent from this namespace)
    /// before `deadline`, if any.
    pub fn receive_until(&self, deadline: Instant) -> Result<Option<Vec<u8>>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.wait_readable(left)? {
                return Ok(None);
            }
            if let Some(frame) = self.read_incoming()? {
                return Ok(Some(frame));
            }
        }
    }

    /// Throws away every frame queued so far; returns how many there were.
    pub fn drain(&self) -> Result<usize> {
        let mut n = 0;
        while self.wait_readable(Duration::ZERO)? {
            self.read_incoming()?;
            n += 1;
        }
        Ok(n)
    }

    fn wait_readable(&self, timeout: Duration) -> Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(true);
            }
            bail!("poll on {}: {err}", self.interface);
        }
        Ok(rc > 0)
    }

    /// One queued frame: `Some` when it came in, `None` when it went out (the socket sees
    /// both directions) or nothing was there after all.
    fn read_incoming(&self) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; MAX_FRAME];
        // SAFETY: zeroed sockaddr_ll is a valid value; the kernel fills it.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: the buffer and the address are valid for the lengths passed.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            bail!("receiving on {}: {err}", self.interface);
        }
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            return Ok(None);
        }
        buf.truncate(n as usize);
        Ok(Some(buf))
    }
}

/// Runs inside the namespace: a raw socket for every protocol, bound to `interface`.
fn open_bound(interface: &str) -> Result<OwnedFd> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket creation; the descriptor is owned below.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(all),
        )
    };
    if raw < 0 {
        bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just returned by socket(), owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let name = std::ffi::CString::new(interface).context("interface name")?;
    // SAFETY: a valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        bail!(
            "no interface {interface}: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: zeroed sockaddr_ll is a valid value; the fields bind() reads are set.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = all;
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: the address is valid for the length passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        bail!(
            "binding to {interface}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(fd)
}

/// The MAC address of `interface` in `ns`.
pub fn mac_address(ns: &Netns, interface: &str) -> Result<[u8; 6]> {
    // `ip netns exec` mounts the namespace's own /sys.
    let out = ns.exec(&["cat", &format!("/sys/class/net/{interface}/address")])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .with_context(|| format!("MAC address of {interface}: {text:?}"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("MAC address of {interface}: {text:?}"))
}

/// `packet` (starting at its IP header) in an Ethernet frame from `source` to `destination`,
/// with the ethertype its version says.
pub fn ethernet_frame(destination: [u8; 6], source: [u8; 6], packet: &[u8]) -> Vec<u8> {
    let ethertype: u16 = match packet.first().map(|b| b >> 4) {
        Some(6) => 0x86dd,
        _ => 0x0800,
    };
    let mut frame = Vec::with_capacity(14 + packet.len());
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(packet);
    frame
}
