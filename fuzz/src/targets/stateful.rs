//! `stateful`: stateful NAT64 (`stateful::Nat64`) over generated packets, under
//! configurations read from `[stateful]` TOML, with time moving on and the timers running:
//! every output must be a well-formed translation or answer (checksums after the port
//! rewrites included), and the tables must hold together after every input.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use nat64::config::{self, Format};
use nat64::gateway::translator_setup;
use nat64::stateful::Nat64;
use nat64::translate::{Output, TranslatorConfig, Verdict};
use rand::rngs::StdRng;

use super::translator::{outputs_in_hex, packet_for, verdict_name};
use crate::check::translation;
use crate::gen::addresses::AddressBook;
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};

struct Source {
    name: &'static str,
    text: &'static str,
}

const SOURCES: &[Source] = &[
    Source {
        // Four pool4 addresses, blocks of 64, endpoint-independent, statics of each kind.
        name: "stateful-eif",
        text: "prefix = \"64:ff9b::/96\"\nwkpf_strict = false\n[stateful]\n\
               pool4 = [\"198.51.100.0\", \"198.51.100.1\", \"198.51.100.2\", \"198.51.100.3\"]\n\
               block_size = 64\nmax_blocks = 2\n\
               [[stateful.static]]\nprotocol = \"tcp\"\nipv4 = \"198.51.100.1:8080\"\nipv6 = \"[2001:db8:a::1]:80\"\n\
               [[stateful.static]]\nprotocol = \"udp\"\nipv4 = \"198.51.100.1:5353\"\nipv6 = \"[2001:db8:a::2]:53\"\n\
               [[stateful.static]]\nprotocol = \"icmp\"\nipv4 = \"198.51.100.2:7\"\nipv6 = \"[2001:db8:a::3]:7\"\n",
    },
    Source {
        // One address, few ports, address-dependent filtering, /128 subscribers: the
        // subscriber limit and the pool's end are reached often.
        name: "stateful-adf-small",
        text: "prefix = \"2001:db8:64::/96\"\n[stateful]\npool4 = [\"192.0.2.1\"]\n\
               tcp_ports = \"1024-1087\"\nudp_ports = \"1024-1087\"\nicmp_ids = \"1-64\"\n\
               subscriber_prefix_len = 128\nblock_size = 8\nmax_blocks = 2\n\
               filtering = \"address-dependent\"\nudp_timeout_secs = 2\nicmp_timeout_secs = 1\n\
               tcp_transitory_timeout_secs = 3\n",
    },
];

/// How far the clock moves per input, and how often the timers run.
const TICK: Duration = Duration::from_millis(20);
const EXPIRE_EVERY: u64 = 50;

/// The stateful targets' clock: it moves on by [`TICK`] an input.
pub(super) struct Clock {
    now: Instant,
    inputs: u64,
}

impl Clock {
    pub(super) fn new() -> Clock {
        Clock {
            now: Instant::now(),
            inputs: 0,
        }
    }

    pub(super) fn now(&self) -> Instant {
        self.now
    }

    /// The next input's time, and whether the timers run after it.
    pub(super) fn tick(&mut self) -> (Instant, bool) {
        self.inputs += 1;
        self.now += TICK;
        (self.now, self.inputs.is_multiple_of(EXPIRE_EVERY))
    }
}

pub(super) struct Setup {
    pub(super) name: &'static str,
    pub(super) translator: TranslatorConfig,
    /// The translator's configuration with pool4 as a dynamic pool: what the packet
    /// generator draws IPv4 destinations from.
    for_addresses: TranslatorConfig,
    stateful: nat64::stateful::StatefulConfig,
}

impl Setup {
    /// A fresh stateful translator of this setup.
    fn nat64(&self) -> anyhow::Result<Nat64> {
        Nat64::new(self.translator.clone(), self.stateful.clone())
    }

    /// The generator's addresses: pool4, the prefix, and the static bindings' hosts.
    fn book(&self) -> AddressBook {
        let hosts: Vec<(Ipv6Addr, Ipv4Addr)> = self
            .stateful
            .static_bindings
            .iter()
            .map(|b| (b.v6, b.v4))
            .collect();
        AddressBook::new(&self.for_addresses, &hosts)
    }
}

fn build(source: &Source) -> anyhow::Result<Setup> {
    let config = config::parse_str(source.text, Path::new(source.name), Format::Toml)
        .map_err(|e| anyhow!("setup {}: {e}", source.name))?;
    let stateful = config
        .stateful
        .clone()
        .with_context(|| format!("setup {} has no [stateful]", source.name))?;
    let mut translator = translator_setup::translator_config(&config, &[])?;
    translator_setup::set_link_mtu(&mut translator, 1500);
    let mut for_addresses = translator.clone();
    let first = stateful
        .pool4
        .first()
        .map_or(Ipv4Addr::UNSPECIFIED, |r| r.addr);
    for_addresses.dynamic_pool = Some((first, 30));
    Ok(Setup {
        name: source.name,
        translator,
        for_addresses,
        stateful,
    })
}

/// Every stateful setup, each with a fresh translator and the generator's addresses.
pub(super) struct Setups {
    pub(super) list: Vec<Setup>,
    pub(super) nat64: Vec<Nat64>,
    pub(super) books: Vec<AddressBook>,
}

pub(super) fn setups() -> anyhow::Result<Setups> {
    let list: Vec<Setup> = SOURCES.iter().map(build).collect::<anyhow::Result<_>>()?;
    let nat64 = list
        .iter()
        .map(Setup::nat64)
        .collect::<anyhow::Result<_>>()?;
    let books = list.iter().map(Setup::book).collect();
    Ok(Setups { list, nat64, books })
}

pub struct StatefulTarget {
    setups: Vec<Setup>,
    nat64: Vec<Nat64>,
    books: Vec<AddressBook>,
    out: Output,
    timers_out: Output,
    clock: Clock,
}

impl StatefulTarget {
    pub fn new() -> anyhow::Result<StatefulTarget> {
        let Setups {
            list: setups,
            nat64,
            books,
        } = setups()?;
        Ok(StatefulTarget {
            setups,
            nat64,
            books,
            out: Output::new(),
            timers_out: Output::new(),
            clock: Clock::new(),
        })
    }
}

impl Target for StatefulTarget {
    fn name(&self) -> &'static str {
        "stateful"
    }

    fn setups(&self) -> Vec<String> {
        self.setups.iter().map(|s| s.name.to_string()).collect()
    }

    fn select(&mut self, _setup: usize) -> anyhow::Result<()> {
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        packet_for(&self.books, setup, rng)
    }

    fn explain(&self) -> Vec<String> {
        outputs_in_hex(&self.out)
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        let (Some(nat64), Some(s)) = (self.nat64.get_mut(setup), self.setups.get(setup)) else {
            return Checked::default();
        };
        let (now, expire) = self.clock.tick();
        let (out, timers_out) = (&mut self.out, &mut self.timers_out);
        let ran = guarded(|| {
            let verdict = nat64.translate(input, now, out);
            if expire {
                nat64.expire(now, timers_out);
            }
            verdict
        });
        let verdict = match ran {
            Ok(v) => v,
            Err(panic) => return Checked::crashed(panic),
        };
        // Errors about IPv4 packets come from the pool4 address they were sent to.
        let mut cfg = s.translator.clone();
        if let Some(dst) = input.get(16..20).filter(|_| input[0] >> 4 == 4) {
            cfg.ipv4_addr = Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3]);
        }
        let outputs: Vec<&[u8]> = self.out.packets().collect();
        // A hairpinned packet comes out in its own family, translated twice.
        let hairpin = verdict == Verdict::Translated
            && outputs
                .first()
                .is_some_and(|p| p.first().map(|b| b >> 4) == input.first().map(|b| b >> 4));
        let mut findings: Vec<Finding> = if hairpin {
            Vec::new()
        } else {
            translation::violations(&cfg, input, verdict, &outputs)
                .into_iter()
                .map(Finding::disagreement)
                .collect()
        };
        findings.extend(nat64.violations().into_iter().map(Finding::disagreement));
        let outcome = match verdict {
            Verdict::Translated if hairpin => "translated hairpin".into(),
            other => verdict_name(other),
        };
        Checked {
            findings,
            outcome,
            not_run: false,
            notes: Vec::new(),
        }
    }
}
