//! From the validated configuration to the translator's own settings.

use anyhow::{Context, Result};
use nat64_common::rfc6052::Prefix;

use crate::{
    config::Config,
    translate::{Eam, TranslatorConfig},
};

/// The translator configuration for `config`, with the link MTUs of the two sides.
pub fn translator_config(
    config: &Config,
    static_maps: &[crate::config::StaticMap],
) -> Result<TranslatorConfig> {
    let prefix =
        match config.prefix {
            Some(net) => Some(Prefix::new(net.addr().octets(), net.prefix_len()).map_err(
                |err| anyhow::anyhow!("prefix {}/{}: {err:?}", net.addr(), net.prefix_len()),
            )?),
            None => None,
        };
    let eam = config
        .maps
        .iter()
        .chain(static_maps)
        .map(|map| {
            Eam::new(
                map.ipv4.addr(),
                map.ipv4.prefix_len(),
                map.ipv6.addr(),
                map.ipv6.prefix_len(),
            )
            .with_context(|| {
                format!(
                    "map {}/{} {}/{}",
                    map.ipv4.addr(),
                    map.ipv4.prefix_len(),
                    map.ipv6.addr(),
                    map.ipv6.prefix_len()
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TranslatorConfig {
        prefix,
        eam,
        ipv4_addr: config.ipv4_addr,
        ipv6_addr: config.ipv6_addr,
        // TAYGA answers for untranslatable sources from its own address (RFC 6791).
        rfc6791_v4: Some(config.ipv4_addr),
        rfc6791_v6: Some(config.ipv6_addr),
        wkpf_strict: config.wkpf_strict,
        wkp_scope: config.wkp_scope,
        dynamic_pool: config
            .dynamic_pool
            .map(|pool| (pool.network(), pool.prefix_len())),
        udp_checksum_mode: config.udp_cksum_mode,
        allow_source: config
            .allow_source
            .iter()
            .map(|net| (net.network(), net.prefix_len()))
            .collect(),
        lowest_ipv6_mtu: config.offlink_mtu,
        ..TranslatorConfig::default()
    })
}

/// Both sides' MTU from the TUN device's, as TAYGA reads it at start. The IPv6 side never
/// goes below the IPv6 minimum: a smaller device is refused, as TAYGA refuses it.
pub fn set_link_mtu(config: &mut TranslatorConfig, mtu: u32) {
    let mtu = u16::try_from(mtu).unwrap_or(u16::MAX);
    config.ipv4_mtu = mtu;
    config.ipv6_mtu = mtu;
}
