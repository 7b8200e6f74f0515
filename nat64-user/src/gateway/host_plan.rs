//! What the gateway adds to the host before it serves, per mode:
//!
//! - native (`nat64 run`): what TAYGA users script by hand — the interface up, routes for the
//!   prefix, the pool and the translator's own addresses into it (the pool route with an MTU 20
//!   bytes under the egress link's, so the kernel answers IPv4 senders with Fragmentation
//!   Needed before a translated packet could outgrow the IPv6 side), forwarding on, and the
//!   masquerade rule for the pool out of the egress interface (none with `--xdp-forward
//!   direct`: that pool is routed to the box), and reverse-path filtering on the XDP
//!   interfaces that admits what XDP translates (see `host::rp_filter`);
//! - TAYGA (`tayga`): only what tayga.conf asks for (`tun-up`, `tun-ip`, `tun-route`).
//!
//! Every change is recorded as it is made, in a [`HostGuard`] that undoes them all when it
//! goes — a failure half-way undoes the first half — unless the run ends keeping them.

use std::net::IpAddr;

use anyhow::{Context, Result};
use tracing::{error, info, warn};

use crate::{
    config::{Config, IpNet, XdpForward},
    host::{
        masquerade::Masquerade,
        netlink::{Netlink, OwnedRoute},
        rp_filter, sysctl, HostChange, HostChanges,
    },
};

/// The changes a run made to the host: undone, newest first, when this goes — at the end of
/// a run, on an error half-way through setting up, in a panic — unless [`HostGuard::keep`]
/// was called (a clean stop with `--keep`).
#[derive(Default)]
pub struct HostGuard {
    changes: HostChanges,
    kept: bool,
}

impl HostGuard {
    /// Where the changes are recorded as they are made.
    pub fn changes(&mut self) -> &mut HostChanges {
        &mut self.changes
    }

    /// Leaves every change in place.
    pub fn keep(&mut self) {
        info!("--keep: leaving the interface, routes and rules in place");
        self.kept = true;
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        if self.kept || self.changes.changes().is_empty() {
            return;
        }
        let mut changes = std::mem::take(&mut self.changes);
        // Netlink answers through a task on a runtime, and the daemon's may be the one this
        // drop blocks (or be unwinding): the undo gets a thread and a runtime of its own.
        let undone = std::thread::Builder::new()
            .name("nat64-undo".into())
            .spawn(move || -> Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting a runtime to undo the host changes")?;
                runtime.block_on(async {
                    let netlink = Netlink::connect()?;
                    changes.undo_all(&netlink).await
                })
            })
            .map(|thread| thread.join());
        match undone {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => error!("{err:#}"),
            Ok(Err(_)) => error!("undoing the host changes panicked"),
            Err(err) => error!("undoing the host changes: no thread for it: {err}"),
        }
    }
}

/// IPv4 → IPv6 translation grows a packet by this much (20-byte IPv4 header, 40-byte IPv6).
const TRANSLATION_GROWTH: u32 = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `nat64 run`: set the host up as a NAT64 box.
    Native {
        interfaces: Vec<String>,
        egress: Option<String>,
    },
    /// `tayga`: touch nothing TAYGA would not.
    Tayga,
}

pub async fn apply(
    config: &Config,
    mode: &Mode,
    netlink: &Netlink,
    changes: &mut HostChanges,
) -> Result<()> {
    let tun = netlink.ifindex(&config.tun_device).await?;
    match mode {
        Mode::Tayga => apply_tayga_directives(config, tun, netlink, changes).await,
        Mode::Native { egress, interfaces } => {
            netlink.set_up(tun).await?;
            apply_tayga_directives(config, tun, netlink, changes).await?;
            let egress = egress_interface(egress.as_deref(), netlink).await?;
            let egress_mtu = match &egress {
                Some((index, _)) => netlink.mtu_of(*index).await?,
                None => 1500,
            };
            for route in native_routes(config, tun, egress_mtu) {
                add_route(route, netlink, changes).await?;
            }
            for key in [
                ["net", "ipv4", "ip_forward"].as_slice(),
                &["net", "ipv6", "conf", "all", "forwarding"],
            ] {
                if let Some(change) = sysctl::set(key, "1")? {
                    info!("enabled forwarding: {}", change.path.display());
                    changes.record(HostChange::Sysctl(change));
                }
            }
            for interface in interfaces {
                let index = netlink
                    .ifindex(interface)
                    .await
                    .with_context(|| format!("--iface {interface}"))?;
                let has_ipv4 = netlink.has_ipv4_address(index).await?;
                rp_filter::admit_translated(interface, has_ipv4, changes)?;
            }
            let direct = config.xdp_forward == XdpForward::Direct && !interfaces.is_empty();
            match (config.dynamic_pool, egress) {
                (Some(pool), _) if direct => info!(
                    "xdp-forward direct: {}/{} is routed to this box and not masqueraded",
                    pool.network(),
                    pool.prefix_len()
                ),
                (Some(pool), Some((_, name))) => {
                    let rule = Masquerade::new(
                        &config.tun_device,
                        (pool.network(), pool.prefix_len()),
                        &name,
                    );
                    rule.install()?;
                    info!(
                        "masquerading {}/{} out of {name}",
                        pool.network(),
                        pool.prefix_len()
                    );
                    changes.record(HostChange::Masquerade(rule));
                }
                (Some(_), None) => warn!(
                    "no IPv4 default route and no --egress: the pool is not masqueraded; \
                     name the IPv4 uplink with --egress"
                ),
                (None, _) => {}
            }
            Ok(())
        }
    }
}

async fn apply_tayga_directives(
    config: &Config,
    tun: u32,
    netlink: &Netlink,
    changes: &mut HostChanges,
) -> Result<()> {
    if config.tun_up {
        netlink.set_up(tun).await?;
    }
    for net in &config.tun_ips {
        // An address keeps its host bits (`tun-ip 192.168.255.1/24`), unlike a route.
        let (addr, len) = match net {
            IpNet::V4(n) => (IpAddr::from(n.addr()), n.prefix_len()),
            IpNet::V6(n) => (IpAddr::from(n.addr()), n.prefix_len()),
        };
        netlink.add_address(tun, addr, len).await?;
    }
    for net in &config.tun_routes {
        let (destination, prefix_len) = net_parts(net);
        add_route(
            OwnedRoute {
                destination,
                prefix_len,
                ifindex: tun,
                mtu: None,
            },
            netlink,
            changes,
        )
        .await?;
    }
    Ok(())
}

/// The routes native mode points into the TUN device.
fn native_routes(config: &Config, tun: u32, egress_mtu: u32) -> Vec<OwnedRoute> {
    let route = |destination: IpAddr, prefix_len: u8, mtu: Option<u32>| OwnedRoute {
        destination,
        prefix_len,
        ifindex: tun,
        mtu,
    };
    let v4_mtu = Some(egress_mtu.saturating_sub(TRANSLATION_GROWTH).max(68));
    let mut routes = Vec::new();
    if let Some(prefix) = config.prefix {
        routes.push(route(prefix.network().into(), prefix.prefix_len(), None));
    }
    if let Some(pool) = config.dynamic_pool {
        routes.push(route(pool.network().into(), pool.prefix_len(), v4_mtu));
    }
    if let Some(stateful) = &config.stateful {
        let mut pool4: Vec<_> = stateful.pool4.iter().map(|r| r.addr).collect();
        pool4.sort();
        pool4.dedup();
        for addr in pool4 {
            routes.push(route(addr.into(), 32, v4_mtu));
        }
    }
    let in_pool = config
        .dynamic_pool
        .is_some_and(|pool| pool.contains(config.ipv4_addr));
    if !in_pool {
        routes.push(route(config.ipv4_addr.into(), 32, v4_mtu));
    }
    let in_prefix = config
        .prefix
        .is_some_and(|prefix| prefix.contains(config.ipv6_addr));
    if !in_prefix {
        routes.push(route(config.ipv6_addr.into(), 128, None));
    }
    for map in &config.maps {
        routes.push(route(
            map.ipv4.network().into(),
            map.ipv4.prefix_len(),
            v4_mtu,
        ));
        routes.push(route(
            map.ipv6.network().into(),
            map.ipv6.prefix_len(),
            None,
        ));
    }
    routes.retain(|r| {
        !config
            .tun_routes
            .iter()
            .any(|t| net_parts(t) == (r.destination, r.prefix_len))
    });
    routes
}

async fn add_route(route: OwnedRoute, netlink: &Netlink, changes: &mut HostChanges) -> Result<()> {
    if !netlink.add_route(&route).await? {
        info!(
            "route {}/{} was already there (an earlier run's, kept); it is ours now",
            route.destination, route.prefix_len
        );
    }
    changes.record(HostChange::Route(route));
    Ok(())
}

async fn egress_interface(named: Option<&str>, netlink: &Netlink) -> Result<Option<(u32, String)>> {
    if let Some(name) = named {
        let index = netlink
            .ifindex(name)
            .await
            .with_context(|| format!("--egress {name}"))?;
        return Ok(Some((index, name.to_owned())));
    }
    match netlink.default_route_ifindex_v4().await? {
        Some(index) => Ok(Some((index, netlink.name_of(index).await?))),
        None => Ok(None),
    }
}

fn net_parts(net: &IpNet) -> (IpAddr, u8) {
    match net {
        IpNet::V4(n) => (n.network().into(), n.prefix_len()),
        IpNet::V6(n) => (n.network().into(), n.prefix_len()),
    }
}
