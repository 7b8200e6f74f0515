//! The receive-side error counters of a namespace (`/proc/net/snmp`, `/proc/net/snmp6`), to
//! show that what a gateway forwarded arrived with correct checksums.

use anyhow::{Context, Result};

use crate::netns::Netns;

/// Counters that count packets dropped for a bad checksum or header on receipt.
const ERROR_COUNTERS: [&str; 6] = [
    "TcpInCsumErrors",
    "UdpInCsumErrors",
    "IpInHdrErrors",
    "Udp6InCsumErrors",
    "Ip6InHdrErrors",
    "Icmp6InCsumErrors",
];

/// Every counter of `/proc/net/snmp` (as `TcpInCsumErrors`, nstat's names) and
/// `/proc/net/snmp6` of the namespace.
pub fn counters(ns: &Netns) -> Result<Vec<(String, u64)>> {
    let snmp = ns.exec(&["cat", "/proc/net/snmp"])?;
    let snmp = String::from_utf8(snmp.stdout).context("snmp is text")?;
    let mut all = Vec::new();
    let lines: Vec<&str> = snmp.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let (Some((group, names)), Some((_, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(value) = value.parse() {
                all.push((format!("{group}{name}"), value));
            }
        }
    }
    let snmp6 = ns.exec(&["cat", "/proc/net/snmp6"])?;
    for line in String::from_utf8(snmp6.stdout)?.lines() {
        let mut parts = line.split_whitespace();
        if let (Some(name), Some(Ok(value))) = (parts.next(), parts.next().map(str::parse)) {
            all.push((name.to_owned(), value));
        }
    }
    Ok(all)
}

/// The checksum and header error counters that are not zero, as `name value` pairs.
pub fn receive_errors(ns: &Netns) -> Result<Vec<(String, u64)>> {
    Ok(counters(ns)?
        .into_iter()
        .filter(|(name, value)| *value > 0 && ERROR_COUNTERS.contains(&name.as_str()))
        .collect())
}
