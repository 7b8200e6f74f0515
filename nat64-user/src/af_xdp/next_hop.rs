//! The way straight out for what an AF_XDP worker translated (`--xdp-slow-path
//! af-xdp-transmit`, beside `--xdp-forward direct`): the
//! kernel's own answer, from the program `nat64_next_hop` run on the translated packet's
//! headers with `BPF_PROG_TEST_RUN` as if they had arrived on the worker's interface, so a
//! packet the worker translates leaves exactly as one the XDP program translates: out of
//! the interface the route names, to the neighbour the kernel knows, or through the stack
//! where the stack must help (no neighbour yet, too big for the link, the box's own).
//!
//! A worker keeps the answers for [`FRESH_FOR`], per ingress interface, source and
//! destination: a flood asks once per flow and interval, not once per packet, and a change
//! of route or neighbour reaches it within that interval.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use aya::programs::{TestRun, TestRunOptions, Xdp};
use nat64_common::{
    maps::NEXT_HOP_STACK,
    wire::{
        ethertype,
        ipv4::{self, Ipv4},
        ipv6::{self, Ipv6},
    },
};

/// How long an answer stands.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Answers a worker keeps; past this it forgets them all (a flood of new destinations then
/// asks again, which is what it would do without the memory).
const REMEMBERED: usize = 4096;

const ETH_HEADER_LEN: usize = 14;

/// The loaded `nat64_next_hop`, shared by the workers (running it needs no lock).
pub struct NextHopProgram(Xdp);

impl NextHopProgram {
    pub fn new(program: Xdp) -> Self {
        Self(program)
    }

    /// Runs the program on `frame` (an Ethernet header and the packet's IP header) as
    /// received on `queue` of `ingress`; the egress interface, its MACs written into the
    /// frame, or `None` for the stack.
    fn ask(&self, ingress: u32, queue: u32, frame: &[u8], answer: &mut [u8]) -> Option<u32> {
        let len = frame.len() as u32;
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex.
        let mut ctx = [0u8; 24];
        for (field, value) in ctx.chunks_exact_mut(4).zip([0, len, 0, ingress, queue, 0]) {
            field.copy_from_slice(&u32::to_ne_bytes(value));
        }
        let result = self
            .0
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(answer),
                ctx_in: Some(&ctx),
                ..TestRunOptions::new()
            })
            .ok()?;
        (result.return_value != NEXT_HOP_STACK).then_some(result.return_value)
    }
}

/// Where a translated packet goes straight out: the interface, and the Ethernet header's
/// destination and source addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: u32,
    pub macs: [u8; 12],
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    ingress: u32,
    src: IpAddr,
    dst: IpAddr,
}

struct Answer {
    hop: Option<NextHop>,
    /// The longest packet the route was asked about and took; a longer one asks again (the
    /// link's MTU is the kernel's to check).
    fits: usize,
    /// The shortest packet it refused while it took shorter ones: too big for the link.
    too_big: usize,
    until: Instant,
}

/// One worker's answers.
pub struct NextHops {
    program: Arc<NextHopProgram>,
    answers: HashMap<Key, Answer, foldhash::fast::RandomState>,
}

impl NextHops {
    pub fn new(program: Arc<NextHopProgram>) -> Self {
        Self {
            program,
            answers: HashMap::default(),
        }
    }

    /// Where `packet` (an IP packet a worker made) goes straight out, having come in on
    /// `queue` of `ingress`; `None` when it must go through the stack.
    pub fn way_out(
        &mut self,
        ingress: u32,
        queue: u32,
        packet: &[u8],
        now: Instant,
    ) -> Option<NextHop> {
        let headers = Headers::of(packet)?;
        let key = Key {
            ingress,
            src: headers.src,
            dst: headers.dst,
        };
        if let Some(known) = self.answers.get(&key).filter(|a| now < a.until) {
            match known.hop {
                None => return None,
                Some(hop) if headers.len <= known.fits => return Some(hop),
                Some(_) if headers.len >= known.too_big => return None,
                Some(_) => {}
            }
        }
        let mut frame = [0u8; ETH_HEADER_LEN + ipv6::LEN];
        let frame = &mut frame[..ETH_HEADER_LEN + headers.header.len()];
        frame[12..14].copy_from_slice(&headers.ethertype.to_be_bytes());
        frame[ETH_HEADER_LEN..].copy_from_slice(headers.header);
        let mut answer = [0u8; ETH_HEADER_LEN + ipv6::LEN];
        let answer = &mut answer[..frame.len()];
        let hop = self
            .program
            .ask(ingress, queue, frame, answer)
            .map(|ifindex| {
                let mut macs = [0u8; 12];
                macs.copy_from_slice(&answer[..12]);
                NextHop { ifindex, macs }
            });
        self.remember(key, hop, headers.len, now);
        hop
    }

    fn remember(&mut self, key: Key, hop: Option<NextHop>, len: usize, now: Instant) {
        if self.answers.len() >= REMEMBERED && !self.answers.contains_key(&key) {
            self.answers.clear();
        }
        let until = now + FRESH_FOR;
        let entry = self.answers.entry(key).or_insert(Answer {
            hop,
            fits: 0,
            too_big: usize::MAX,
            until,
        });
        let same_way = entry.hop.is_some() && now < entry.until;
        match hop {
            Some(hop) if same_way && entry.hop == Some(hop) => entry.fits = entry.fits.max(len),
            Some(hop) => {
                *entry = Answer {
                    hop: Some(hop),
                    fits: len,
                    too_big: usize::MAX,
                    until,
                }
            }
            // A way that took shorter packets refuses this one: its size, not the route.
            None if same_way && len > entry.fits => entry.too_big = entry.too_big.min(len),
            None => {
                *entry = Answer {
                    hop: None,
                    fits: 0,
                    too_big: 0,
                    until,
                }
            }
        }
    }
}

/// What the route lookup reads of a packet.
struct Headers<'a> {
    ethertype: u16,
    header: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    len: usize,
}

impl<'a> Headers<'a> {
    fn of(packet: &'a [u8]) -> Option<Self> {
        match packet.first()? >> 4 {
            4 => {
                let ip = Ipv4::from_slice(packet)?;
                Some(Headers {
                    ethertype: ethertype::IPV4,
                    header: packet.get(..ipv4::LEN)?,
                    src: ip.src().into(),
                    dst: ip.dst().into(),
                    len: packet.len(),
                })
            }
            6 => {
                let ip = Ipv6::from_slice(packet)?;
                Some(Headers {
                    ethertype: ethertype::IPV6,
                    header: packet.get(..ipv6::LEN)?,
                    src: ip.src().into(),
                    dst: ip.dst().into(),
                    len: packet.len(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;

    #[test]
    fn headers_of_both_families_and_nothing_else() {
        let mut v4 = vec![0x45u8; 28];
        v4[12..16].copy_from_slice(&[192, 0, 2, 1]);
        v4[16..20].copy_from_slice(&[198, 51, 100, 7]);
        let h = Headers::of(&v4).unwrap();
        assert_eq!((h.ethertype, h.header.len(), h.len), (0x0800, 20, 28));
        assert_eq!(h.dst.to_string(), "198.51.100.7");
        let mut v6 = vec![0x60u8; 48];
        v6[24..40].copy_from_slice(
            &"2001:db8::9"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        let h = Headers::of(&v6).unwrap();
        assert_eq!((h.ethertype, h.header.len()), (0x86dd, 40));
        assert_eq!(h.dst.to_string(), "2001:db8::9");
        assert!(Headers::of(&[0x45; 19]).is_none());
        assert!(Headers::of(&[0x20; 60]).is_none());
        assert!(Headers::of(&[]).is_none());
    }
}
