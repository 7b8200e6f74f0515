//! The Jool SIIT vectors' settings as the nat64 daemon runs them: a `tayga.conf` and the MTU
//! of the TUN device, for the tests that push the vectors through a real gateway.
//!
//! A daemon cannot say everything a case's settings say. It answers for untranslatable
//! sources from its own addresses (there is no RFC 6791 pool of its own), its IPv6 address
//! may lie inside the prefix only when it is derived from `ipv4-addr` (TAYGA's rule) and
//! never inside a map, and it takes both sides' MTU from the TUN device, as TAYGA does. So
//! for each case [`setup_for`] looks for a configuration under which the daemon's translator
//! — built from the file by the daemon's own code — treats the case's packet exactly as the
//! case's settings do. A case with none cannot be run through a daemon as written.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{anyhow, Context as _};
use nat64::config::{self, Format};
use nat64::gateway::translator_setup;
use nat64::translate::{NoDynamicMap, Output, Prefix, Translator, TranslatorConfig, Verdict};

use crate::jool::{self, Case, BASE_EAMS, TRANSLATOR_IPV4, TRANSLATOR_IPV6};

/// The TUN device the daemon serves.
pub const DEVICE: &str = "nat64";

/// One daemon's configuration: what goes into its `tayga.conf`, and its device's MTU.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DaemonSetup {
    pub ipv4_addr: Ipv4Addr,
    /// Written as `ipv6-addr`; `None`: derived from `ipv4_addr` through the prefix.
    pub ipv6_addr: Option<Ipv6Addr>,
    /// `prefix`, as `addr/len`; `None`: explicit mappings only.
    pub prefix: Option<String>,
    /// `map` lines: IPv4 subnet, IPv6 subnet.
    pub maps: Vec<(String, String)>,
    /// `udp-cksum-mode`.
    pub udp_cksum_mode: &'static str,
    /// `offlink-mtu`: Jool's `lowest-ipv6-mtu`.
    pub offlink_mtu: u16,
    /// The TUN device's MTU, which the daemon takes as both sides' MTU.
    pub tun_mtu: u16,
}

impl DaemonSetup {
    /// The `tayga.conf` text, with `extra` lines (`tun-route`, `data-dir`) at the end.
    pub fn tayga_conf(&self, extra: &[String]) -> String {
        let mut lines = vec![
            format!("tun-device {DEVICE}"),
            format!("ipv4-addr {}", self.ipv4_addr),
        ];
        if let Some(v6) = self.ipv6_addr {
            lines.push(format!("ipv6-addr {v6}"));
        }
        if let Some(prefix) = &self.prefix {
            lines.push(format!("prefix {prefix}"));
        }
        for (v4, v6) in &self.maps {
            lines.push(format!("map {v4} {v6}"));
        }
        lines.push(format!("udp-cksum-mode {}", self.udp_cksum_mode));
        lines.push(format!("offlink-mtu {}", self.offlink_mtu));
        lines.extend(extra.iter().cloned());
        lines.join("\n") + "\n"
    }

    /// The configuration as the daemon reads it (its own parser and validation).
    pub fn config(&self) -> anyhow::Result<config::Config> {
        config::parse_str(
            &self.tayga_conf(&[]),
            Path::new("vectors.conf"),
            Format::TaygaConf,
        )
        .map_err(|e| anyhow!("{e}"))
    }

    /// The translator configuration the daemon builds from it (its own code), with the
    /// device's MTU as both sides'.
    pub fn translator_config(&self) -> anyhow::Result<TranslatorConfig> {
        let config = self.config()?;
        let mut translator = translator_setup::translator_config(&config, &[])?;
        translator_setup::set_link_mtu(&mut translator, u32::from(self.tun_mtu));
        Ok(translator)
    }
}

/// A configuration under which the daemon treats `case`'s packet exactly as the case's
/// settings do: the same verdict and the same packets, byte for byte. `Err` says why there
/// is none (a setting the daemon cannot express that matters for this packet).
pub fn setup_for(case: &Case) -> Result<DaemonSetup, String> {
    let wanted = jool::try_config_for(case).map_err(|e| format!("settings: {e:#}"))?;
    let wanted_treatment = treatment(wanted.clone(), &case.sent)?;
    let candidates = candidates(case, &wanted)?;
    let mut refused = Vec::new();
    for setup in &candidates {
        let daemon = match setup.translator_config() {
            Ok(daemon) => daemon,
            Err(e) => {
                refused.push(format!("{e:#}"));
                continue;
            }
        };
        if treatment(daemon, &case.sent)? == wanted_treatment {
            return Ok(setup.clone());
        }
    }
    // One line: the first thing the daemon's reader refused, when it refused any.
    let first_refusal = refused
        .first()
        .and_then(|r| r.lines().next())
        .map_or(String::new(), |line| format!("; first refusal: {line}"));
    Err(format!(
        "no nat64 configuration treats it as `{}` does ({} tried, {} refused by the daemon's \
         reader{first_refusal})",
        case.settings_text,
        candidates.len(),
        refused.len(),
    ))
}

/// What a fresh translator makes of `packet`: its verdict and its packets.
fn treatment(config: TranslatorConfig, packet: &[u8]) -> Result<(Verdict, Vec<Vec<u8>>), String> {
    let translator = Translator::new(config).map_err(|e| format!("config refused: {e:#}"))?;
    let mut out = Output::new();
    let verdict = translator.translate(packet, &mut NoDynamicMap, &mut out);
    Ok((verdict, out.packets().map(<[u8]>::to_vec).collect()))
}

/// The configurations that could stand for the case's settings, the most common first (so
/// most cases share a daemon). What is fixed: the prefix, the maps (Jool's and `eam+`), the
/// UDP checksum mode and `offlink-mtu`. What is tried: as `ipv4-addr`, Jool's own address,
/// the RFC 6791 source, or the address whose embedding in the prefix is Jool's own IPv6
/// address (the daemon then derives that one, as TAYGA does); as `ipv6-addr`, derived, Jool's
/// own or the RFC 6791 source; as the device's MTU, either side's.
fn candidates(case: &Case, wanted: &TranslatorConfig) -> Result<Vec<DaemonSetup>, String> {
    let prefix = case
        .setting("pool6")
        .filter(|p| *p != "null")
        .map(str::to_owned);
    let mut maps: Vec<(String, String)> = BASE_EAMS
        .iter()
        .map(|(v4, v6)| ((*v4).to_owned(), (*v6).to_owned()))
        .collect();
    if let Some(more) = case.setting("eam+") {
        for pair in more.split(',') {
            let (v4, v6) = pair
                .split_once('=')
                .ok_or_else(|| format!("eam+ entry {pair:?}"))?;
            maps.push((v4.to_owned(), v6.to_owned()));
        }
    }
    let udp_cksum_mode = match case.setting("amend-udp-checksum-zero") {
        Some("1") => "calc",
        _ => "drop",
    };

    let mut ipv4_addrs = vec![TRANSLATOR_IPV4];
    ipv4_addrs.extend(wanted.rfc6791_v4);
    ipv4_addrs.extend(wanted.prefix.and_then(|p: Prefix| {
        p.extract(&TRANSLATOR_IPV6.octets())
            .filter(|v4| p.embed(*v4) == TRANSLATOR_IPV6.octets())
            .map(Ipv4Addr::from)
    }));
    let mut ipv6_addrs = vec![None, Some(TRANSLATOR_IPV6)];
    ipv6_addrs.extend(wanted.rfc6791_v6.map(Some));
    let mut mtus = vec![wanted.ipv6_mtu, wanted.ipv4_mtu];
    dedup(&mut ipv4_addrs);
    dedup(&mut ipv6_addrs);
    dedup(&mut mtus);

    let mut all = Vec::new();
    for &ipv4_addr in &ipv4_addrs {
        for &ipv6_addr in &ipv6_addrs {
            for &tun_mtu in &mtus {
                all.push(DaemonSetup {
                    ipv4_addr,
                    ipv6_addr,
                    prefix: prefix.clone(),
                    maps: maps.clone(),
                    udp_cksum_mode,
                    offlink_mtu: wanted.lowest_ipv6_mtu,
                    tun_mtu,
                });
            }
        }
    }
    Ok(all)
}

/// Removes repeats, keeping the first of each.
fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::new();
    for item in items.drain(..) {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    *items = kept;
}

/// The subnets of `setup`'s maps, parsed, for routing decisions.
pub fn map_subnets(setup: &DaemonSetup) -> anyhow::Result<Vec<config::StaticMap>> {
    Ok(setup.config().context("the setup's configuration")?.maps)
}
