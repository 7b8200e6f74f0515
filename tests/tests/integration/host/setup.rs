//! Native mode's host changes — TUN interface up, routes with an MTU, the masquerade table —
//! made for real inside a namespace, then undone without a trace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nat64::{
    host::{
        masquerade::Masquerade,
        netlink::{Netlink, OwnedRoute},
        HostChange, HostChanges,
    },
    tun::{self, InterfaceName},
};
use nat64_tests::{netns::Netns, privileges::require_root};

fn text(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn routes_and_masquerade_are_installed_and_undone() {
    let Some(_root) = require_root() else {
        return;
    };
    let ns = Netns::new("host").expect("namespace");
    let name = ns.name().to_owned();
    let (installed_routes, installed_rules, remaining_routes, remaining_tables) = ns
        .run_inside(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let device = InterfaceName::new("nat64").map_err(anyhow::Error::msg)?;
                let (_queues, _) = tun::open_queues(&device, 1)?;
                let netlink = Netlink::connect()?;
                let ifindex = netlink.ifindex("nat64").await?;
                netlink.set_up(ifindex).await?;

                let mut changes = HostChanges::default();
                let pool = OwnedRoute {
                    destination: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)),
                    prefix_len: 24,
                    ifindex,
                    mtu: Some(1480),
                };
                let prefix = OwnedRoute {
                    destination: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0)),
                    prefix_len: 96,
                    ifindex,
                    mtu: None,
                };
                for route in [pool, prefix] {
                    netlink.add_route(&route).await?;
                    changes.record(HostChange::Route(route));
                }
                let rule = Masquerade::new("nat64", (Ipv4Addr::new(192, 0, 2, 0), 24), "eth0");
                rule.install()?;
                changes.record(HostChange::Masquerade(rule));

                let show = |args: &[&str]| {
                    std::process::Command::new(args[0])
                        .args(&args[1..])
                        .output()
                };
                let routes = text(show(&["ip", "-4", "route", "show", "dev", "nat64"])?)
                    + &text(show(&["ip", "-6", "route", "show", "dev", "nat64"])?);
                let rules = text(show(&["nft", "list", "table", "ip", "nat64_nat64"])?);

                changes.undo_all(&netlink).await?;
                let remaining_routes = text(show(&["ip", "-4", "route", "show", "dev", "nat64"])?)
                    + &text(show(&["ip", "-6", "route", "show", "dev", "nat64"])?);
                let tables = text(show(&["nft", "list", "tables"])?);
                Ok((routes, rules, remaining_routes, tables))
            })
        })
        .unwrap_or_else(|err| panic!("host set-up in {name}: {err:#}"));

    assert!(
        installed_routes.contains("192.0.2.0/24") && installed_routes.contains("mtu 1480"),
        "pool route with its MTU: {installed_routes}"
    );
    assert!(
        installed_routes.contains("2001:db8:64::/96"),
        "prefix route: {installed_routes}"
    );
    assert!(
        installed_rules.contains("ip saddr 192.0.2.0/24 oifname \"eth0\" masquerade"),
        "masquerade rule: {installed_rules}"
    );
    assert!(
        !remaining_routes.contains("192.0.2.0/24") && !remaining_routes.contains("2001:db8:64::"),
        "routes left behind: {remaining_routes}"
    );
    assert!(
        !remaining_tables.contains("nat64_nat64"),
        "table left behind: {remaining_tables}"
    );
}
