//! Interfaces, addresses and routes through rtnetlink: what TAYGA users do by hand with
//! `ip link`, `ip addr` and `ip route`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{anyhow, Context, Result};
use futures_util::TryStreamExt;
use rtnetlink::{
    packet_route::{
        address::AddressAttribute,
        link::LinkAttribute,
        route::{RouteAttribute, RouteMessage, RouteMetric},
    },
    Handle, LinkUnspec, RouteMessageBuilder,
};

/// A route the gateway owns: destination prefix out of one interface, optionally with an MTU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRoute {
    pub destination: IpAddr,
    pub prefix_len: u8,
    pub ifindex: u32,
    pub mtu: Option<u32>,
}

impl OwnedRoute {
    fn message(&self) -> RouteMessage {
        let mut message = match self.destination {
            IpAddr::V4(addr) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(addr, self.prefix_len)
                .output_interface(self.ifindex)
                .build(),
            IpAddr::V6(addr) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(addr, self.prefix_len)
                .output_interface(self.ifindex)
                .build(),
        };
        if let Some(mtu) = self.mtu {
            message
                .attributes
                .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(mtu)]));
        }
        message
    }
}

fn is_exists(err: &rtnetlink::Error) -> bool {
    matches!(err, rtnetlink::Error::NetlinkError(msg)
        if msg.code.is_some_and(|c| c.get() == -libc::EEXIST))
}

/// A netlink connection, its driver task spawned on the current tokio runtime.
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    pub fn connect() -> Result<Self> {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening a netlink socket")?;
        tokio::spawn(connection);
        Ok(Self { handle })
    }

    pub async fn ifindex(&self, name: &str) -> Result<u32> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(anyhow!("no interface named {name}")),
            Err(err) => Err(anyhow!("no interface named {name}: {err}")),
        }
    }

    pub async fn set_up(&self, ifindex: u32) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(ifindex).up().build())
            .execute()
            .await
            .with_context(|| format!("setting interface {ifindex} up"))
    }

    /// Adds the address; one already there (a kept or persistent device) is left as it is.
    pub async fn add_address(&self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> Result<()> {
        match self
            .handle
            .address()
            .add(ifindex, addr, prefix_len)
            .execute()
            .await
        {
            Err(err) if is_exists(&err) => Ok(()),
            other => {
                other.with_context(|| format!("adding {addr}/{prefix_len} to interface {ifindex}"))
            }
        }
    }

    /// Adds the route; returns false when an equal route was already there (left by a run
    /// with `--keep`) and has been replaced by this one.
    pub async fn add_route(&self, route: &OwnedRoute) -> Result<bool> {
        let context = || format!("adding route {}/{}", route.destination, route.prefix_len);
        match self.handle.route().add(route.message()).execute().await {
            Ok(()) => Ok(true),
            Err(err) if is_exists(&err) => {
                self.handle
                    .route()
                    .add(route.message())
                    .replace()
                    .execute()
                    .await
                    .with_context(context)?;
                Ok(false)
            }
            Err(err) => Err(err).with_context(context),
        }
    }

    pub async fn delete_route(&self, route: &OwnedRoute) -> Result<()> {
        self.handle
            .route()
            .del(route.message())
            .execute()
            .await
            .with_context(|| format!("deleting route {}/{}", route.destination, route.prefix_len))
    }

    /// The interface of the IPv4 default route in the main table: where masquerade applies
    /// unless `--egress` names another.
    pub async fn default_route_ifindex_v4(&self) -> Result<Option<u32>> {
        let query = RouteMessageBuilder::<Ipv4Addr>::new().build();
        let mut routes = self.handle.route().get(query).execute();
        while let Some(route) = routes.try_next().await? {
            if route.header.destination_prefix_length != 0
                || route.header.table != RouteMessageBuilder::<Ipv4Addr>::new().build().header.table
            {
                continue;
            }
            let oif = route.attributes.iter().find_map(|attr| match attr {
                RouteAttribute::Oif(index) => Some(*index),
                _ => None,
            });
            if oif.is_some() {
                return Ok(oif);
            }
        }
        Ok(None)
    }

    /// The first global-scope IPv6 address of an interface (what `ipv6-addr` defaults to in
    /// native mode with the well-known prefix).
    pub async fn global_ipv6_of(&self, ifindex: u32) -> Result<Option<Ipv6Addr>> {
        let mut addresses = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        while let Some(message) = addresses.try_next().await? {
            for attr in &message.attributes {
                if let AddressAttribute::Address(IpAddr::V6(addr)) = attr {
                    if is_global_unicast_v6(addr) {
                        return Ok(Some(*addr));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Whether an interface has any IPv4 address.
    pub async fn has_ipv4_address(&self, ifindex: u32) -> Result<bool> {
        let mut addresses = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        while let Some(message) = addresses.try_next().await? {
            if message
                .attributes
                .iter()
                .any(|attr| matches!(attr, AddressAttribute::Address(IpAddr::V4(_))))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The MTU of an interface.
    pub async fn mtu_of(&self, ifindex: u32) -> Result<u32> {
        self.link_attribute(ifindex, "MTU", |attr| match attr {
            LinkAttribute::Mtu(mtu) => Some(*mtu),
            _ => None,
        })
        .await
    }

    pub async fn name_of(&self, ifindex: u32) -> Result<String> {
        self.link_attribute(ifindex, "name", |attr| match attr {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
        .await
    }

    async fn link_attribute<T>(
        &self,
        ifindex: u32,
        what: &str,
        pick: impl Fn(&LinkAttribute) -> Option<T>,
    ) -> Result<T> {
        let mut links = self.handle.link().get().match_index(ifindex).execute();
        let link = links
            .try_next()
            .await?
            .ok_or_else(|| anyhow!("no interface with index {ifindex}"))?;
        link.attributes
            .iter()
            .find_map(pick)
            .ok_or_else(|| anyhow!("interface {ifindex} reports no {what}"))
    }
}

/// Global unicast: not link-local, loopback, multicast, unspecified or unique-local.
fn is_global_unicast_v6(addr: &Ipv6Addr) -> bool {
    let first = addr.segments()[0];
    !(addr.is_loopback()
        || addr.is_unspecified()
        || addr.is_multicast()
        || (first & 0xffc0) == 0xfe80
        || (first & 0xfe00) == 0xfc00)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_global_unicast_v6_is_taken_as_the_translators_address() {
        assert!(is_global_unicast_v6(&"2001:db8::1".parse().unwrap()));
        assert!(!is_global_unicast_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_global_unicast_v6(&"fd00::1".parse().unwrap()));
        assert!(!is_global_unicast_v6(&"::1".parse().unwrap()));
        assert!(!is_global_unicast_v6(&"ff02::1".parse().unwrap()));
    }
}
