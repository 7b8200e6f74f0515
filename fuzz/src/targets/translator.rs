//! `translator`: the userspace translator (`Translator::translate`) over generated packets,
//! under every setup, with a recording dynamic pool.

use nat64::pool::{DynamicPool, Mapping};
use nat64::translate::{Output, Translator, Verdict};
use rand::rngs::StdRng;

use super::recording_pool::{RecordingPool, NOW};
use crate::check::{ip, translation};
use crate::gen::{addresses::AddressBook, packet};
use crate::report::Finding;
use crate::runner::{guarded, Checked, Target};
use crate::setups::Setup;

/// Inputs after which the pool goes back to its first hosts.
const POOL_RESET: u64 = 128;

pub struct TranslatorTarget {
    setups: Vec<Setup>,
    translators: Vec<Translator>,
    books: Vec<AddressBook>,
    pools: Vec<RecordingPool>,
    out: Output,
    since_reset: u64,
}

impl TranslatorTarget {
    pub fn new(setups: Vec<Setup>) -> anyhow::Result<TranslatorTarget> {
        let mut translators = Vec::new();
        let mut books = Vec::new();
        let mut pools = Vec::new();
        for s in &setups {
            translators.push(Translator::new(s.translator.clone())?);
            books.push(AddressBook::new(&s.translator, &s.hosts));
            let pool = s.pool.clone().map(|config| {
                let mut pool = DynamicPool::new(config);
                for &(v6, v4) in &s.hosts {
                    // The setup checked these restore.
                    let _ = pool.restore(Mapping {
                        v4,
                        v6,
                        last_use: NOW,
                    });
                }
                pool
            });
            pools.push(RecordingPool::new(&s.translator, pool));
        }
        Ok(TranslatorTarget {
            setups,
            translators,
            books,
            pools,
            out: Output::new(),
            since_reset: 0,
        })
    }
}

/// A packet from setup `setup`'s addresses.
pub fn packet_for(books: &[AddressBook], setup: usize, rng: &mut StdRng) -> Vec<u8> {
    match books.get(setup) {
        Some(book) => packet::packet(rng, book),
        None => Vec::new(),
    }
}

/// What a translator wrote, one packet a line, for a replay.
pub fn outputs_in_hex(out: &Output) -> Vec<String> {
    out.packets()
        .enumerate()
        .map(|(i, p)| format!("output {i}: {}", crate::hex::encode(p)))
        .collect()
}

/// A verdict's name for the outcome statistics.
pub fn verdict_name(verdict: Verdict) -> String {
    match verdict {
        Verdict::Translated => "translated".into(),
        Verdict::LocalReply => "local_reply".into(),
        Verdict::IcmpError(r) => format!("icmp_error:{}", r.as_str()),
        Verdict::Drop(r) => format!("drop:{}", r.as_str()),
    }
}

/// What a packet carries, for the statistics of what was translated.
fn what_it_carries(input: &[u8]) -> &'static str {
    let Some(ip) = ip::parse_input(input) else {
        return "?";
    };
    if ip.frag.is_some_and(|f| f.offset != 0) {
        return "fragment";
    }
    match (ip.proto, ip.upper.first()) {
        (ip::PROTO_TCP, _) => "tcp",
        (ip::PROTO_UDP, _) => "udp",
        (ip::PROTO_ICMP, Some(0 | 8)) | (ip::PROTO_ICMPV6, Some(128 | 129)) => "echo",
        (ip::PROTO_ICMP | ip::PROTO_ICMPV6, _) => "icmp error",
        _ => "other protocol",
    }
}

impl Target for TranslatorTarget {
    fn name(&self) -> &'static str {
        "translator"
    }

    fn setups(&self) -> Vec<String> {
        self.setups.iter().map(|s| s.name.to_string()).collect()
    }

    fn select(&mut self, setup: usize) -> anyhow::Result<()> {
        if let Some(pool) = self.pools.get_mut(setup) {
            pool.reset();
        }
        self.since_reset = 0;
        Ok(())
    }

    fn generate(&mut self, setup: usize, rng: &mut StdRng) -> Vec<u8> {
        packet_for(&self.books, setup, rng)
    }

    fn explain(&self) -> Vec<String> {
        outputs_in_hex(&self.out)
    }

    fn check(&mut self, setup: usize, input: &[u8]) -> Checked {
        let (Some(translator), Some(pool), Some(s)) = (
            self.translators.get(setup),
            self.pools.get_mut(setup),
            self.setups.get(setup),
        ) else {
            return Checked::default();
        };
        self.since_reset += 1;
        if self.since_reset >= POOL_RESET {
            pool.reset();
            self.since_reset = 0;
        }
        pool.packet_source = match input.first().map(|b| b >> 4) {
            Some(6) => input.get(8..24).and_then(|a| a.try_into().ok()),
            _ => None,
        };
        let out = &mut self.out;
        let verdict = match guarded(|| translator.translate(input, pool, out)) {
            Ok(v) => v,
            Err(panic) => {
                pool.reset();
                return Checked::crashed(panic);
            }
        };
        let outputs: Vec<&[u8]> = self.out.packets().collect();
        let mut findings: Vec<Finding> =
            translation::violations(&s.translator, input, verdict, &outputs)
                .into_iter()
                .map(Finding::disagreement)
                .collect();
        findings.extend(pool.refused.drain(..).map(Finding::refused_source));
        findings.extend(pool.bad_addresses.drain(..).map(Finding::disagreement));
        let asked = std::mem::take(&mut pool.requests) > 0;
        let outcome = match verdict {
            Verdict::Translated => format!("translated {}", what_it_carries(input)),
            other => verdict_name(other),
        };
        Checked {
            findings,
            outcome,
            not_run: false,
            notes: if asked {
                vec!["(a pool address asked for)"]
            } else {
                Vec::new()
            },
        }
    }
}
