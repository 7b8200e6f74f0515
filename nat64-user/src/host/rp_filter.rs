//! Reverse-path filtering on the XDP interfaces. What XDP translates and hands to the stack
//! arrives there from a pool address, whose route points into the TUN device. Loose
//! filtering (2) admits it only if the interface has an IPv4 address; an IPv6-only
//! interface (the usual client side) must have none at all, and the kernel applies the
//! larger of `all` and the interface's own value. So `all` is lowered where needed, and every
//! other interface gets its effective value as its own value first: nothing else loses the
//! filtering it had. `default` stays as it is: a write there is copied to every interface
//! not set explicitly, this one included, and its undo would not copy back. (An interface
//! created while the gateway runs so starts with `default`'s value alone.) Every change is
//! recorded for the undo.

use anyhow::{Context as _, Result};
use tracing::info;

use super::{sysctl, HostChange, HostChanges};

const OFF: u8 = 0;
const STRICT: u8 = 1;
const LOOSE: u8 = 2;

fn key(interface: &str) -> [&str; 5] {
    ["net", "ipv4", "conf", interface, "rp_filter"]
}

fn read(interface: &str) -> Result<u8> {
    let text = sysctl::read(&key(interface))?;
    text.parse()
        .with_context(|| format!("rp_filter of {interface}: {text:?}"))
}

fn set(interface: &str, value: u8, changes: &mut HostChanges) -> Result<()> {
    if let Some(change) = sysctl::set(&key(interface), &value.to_string())? {
        changes.record(HostChange::Sysctl(change));
    }
    Ok(())
}

/// Makes the kernel admit translated packets on `interface` (which has an IPv4 address or
/// not), logging what changed and why.
pub fn admit_translated(
    interface: &str,
    has_ipv4_address: bool,
    changes: &mut HostChanges,
) -> Result<()> {
    let all = read("all")?;
    let own = read(interface)?;
    if has_ipv4_address {
        // Loose filtering finds the pool's route; strict would want it through here.
        if own == STRICT || (all == STRICT && own != LOOSE) {
            set(interface, LOOSE, changes)?;
            info!(
                "rp_filter on {interface} set to loose (was {}): XDP hands the stack packets from pool addresses",
                all.max(own)
            );
        }
        return Ok(());
    }
    if all.max(own) == OFF {
        return Ok(());
    }
    if all != OFF {
        for other in other_interfaces(interface)? {
            let other_own = read(&other)?;
            if other_own.max(all) != other_own {
                set(&other, other_own.max(all), changes)?;
            }
        }
        set("all", OFF, changes)?;
    }
    set(interface, OFF, changes)?;
    info!(
        "rp_filter off on {interface} (was {}, every other interface keeps its own): it has no IPv4 address, \
         so no filtering mode admits the pool-sourced packets XDP hands the stack",
        all.max(own)
    );
    Ok(())
}

/// Every interface but `interface`, as /proc/sys lists them.
fn other_interfaces(interface: &str) -> Result<Vec<String>> {
    let dir = "/proc/sys/net/ipv4/conf";
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {dir}"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != "all" && name != "default" && name != interface {
            names.push(name);
        }
    }
    Ok(names)
}
