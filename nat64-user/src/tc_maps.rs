//! Fills the kernel programs' maps (TC and XDP share them) from the translator configuration
//! and reads their counters: the one place that turns userspace types into the kernel layouts
//! of `nat64_common::maps`.

use std::{
    borrow::{Borrow, BorrowMut},
    net::{Ipv4Addr, Ipv6Addr},
};

use anyhow::{anyhow, Context as _};
use aya::maps::{lpm_trie::Key, Array, DevMapHash, HashMap, LpmTrie, MapData, PerCpuArray, XskMap};
use aya::Ebpf;
use nat64_common::counters::Outcome;
use nat64_common::maps::{
    names, ConfigBlock, EamEntry, Ipv4HostKey, Ipv6HostKey, MappingKind, V4ToV6Mapping,
    V6ToV4Mapping, XdpForward,
};

use crate::translate::{Eam, TranslatorConfig};

/// Where the kernel programs send what they translate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    /// The TUN device, whose ingress the TC program redirects into.
    pub tun_ifindex: u32,
    /// What the XDP program does with a translated frame.
    pub xdp_forward: XdpForward,
}

impl Targets {
    /// The TC program alone (and XDP, if attached, handing frames to the stack).
    pub fn tun(tun_ifindex: u32) -> Self {
        Self {
            tun_ifindex,
            xdp_forward: XdpForward::Stack,
        }
    }
}

/// The configuration block for `cfg`, with where the kernel programs send what they translate.
pub fn config_block(cfg: &TranslatorConfig, targets: Targets) -> ConfigBlock {
    let mut block = cfg.config_block();
    block.tun_ifindex = targets.tun_ifindex;
    block.xdp_forward = targets.xdp_forward as u8;
    block
}

pub fn eam_entry(eam: &Eam) -> EamEntry {
    EamEntry {
        v6: eam.v6.octets(),
        v4: eam.v4.octets(),
        v6_len: eam.v6_len,
        v4_len: eam.v4_len,
        _pad: [0; 2],
    }
}

fn map_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut aya::maps::Map> {
    ebpf.map_mut(name)
        .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
}

/// Writes the configuration block and replaces the explicit mappings with `cfg`'s.
pub fn write_config(
    ebpf: &mut Ebpf,
    cfg: &TranslatorConfig,
    targets: Targets,
) -> anyhow::Result<()> {
    let mut config: Array<&mut MapData, ConfigBlock> =
        Array::try_from(map_mut(ebpf, names::CONFIG)?)?;
    config
        .set(0, config_block(cfg, targets), 0)
        .context("writing the configuration block")?;
    replace_eams(ebpf, &cfg.eam)
}

/// Replaces the explicit mappings in both tries. For equal prefixes the first mapping wins,
/// as in the userspace translator (entries are written last to first).
pub fn replace_eams(ebpf: &mut Ebpf, eams: &[Eam]) -> anyhow::Result<()> {
    {
        let mut by_v6: LpmTrie<&mut MapData, [u8; 16], EamEntry> =
            LpmTrie::try_from(map_mut(ebpf, names::EAM_V6)?)?;
        let keys: Vec<_> = by_v6.keys().collect::<Result<_, _>>()?;
        for k in keys {
            by_v6.remove(&k)?;
        }
        for eam in eams.iter().rev() {
            by_v6.insert(
                &Key::new(u32::from(eam.v6_len), eam.v6.octets()),
                eam_entry(eam),
                0,
            )?;
        }
    }
    let mut by_v4: LpmTrie<&mut MapData, [u8; 4], EamEntry> =
        LpmTrie::try_from(map_mut(ebpf, names::EAM_V4)?)?;
    let keys: Vec<_> = by_v4.keys().collect::<Result<_, _>>()?;
    for k in keys {
        by_v4.remove(&k)?;
    }
    for eam in eams.iter().rev() {
        by_v4.insert(
            &Key::new(u32::from(eam.v4_len), eam.v4.octets()),
            eam_entry(eam),
            0,
        )?;
    }
    Ok(())
}

/// Sets the datapath's coarse clock (CLOCK_BOOTTIME ns), what it stamps last use with.
pub fn write_clock(ebpf: &mut Ebpf, boot_ns: u64) -> anyhow::Result<()> {
    let mut clock: Array<&mut MapData, u64> = Array::try_from(map_mut(ebpf, names::CLOCK)?)?;
    clock.set(0, boot_ns, 0).context("writing the clock")?;
    Ok(())
}

/// Enters a host mapping in both host tables.
pub fn insert_host(
    ebpf: &mut Ebpf,
    v6: Ipv6Addr,
    v4: Ipv4Addr,
    kind: MappingKind,
) -> anyhow::Result<()> {
    insert_forward(&mut forward_mut(ebpf)?, v6, v4, kind)?;
    insert_reverse(&mut reverse_mut(ebpf)?, v6, v4, kind)
}

/// The TC program's counters, summed over CPUs, indexed by [`Outcome`].
pub fn tc_counters(ebpf: &Ebpf) -> anyhow::Result<[u64; Outcome::COUNT]> {
    counters_named(ebpf, names::TC_COUNTERS)
}

/// The XDP program's counters, summed over CPUs, indexed by [`Outcome`].
pub fn xdp_counters(ebpf: &Ebpf) -> anyhow::Result<[u64; Outcome::COUNT]> {
    counters_named(ebpf, names::XDP_COUNTERS)
}

fn counters_named(ebpf: &Ebpf, name: &str) -> anyhow::Result<[u64; Outcome::COUNT]> {
    let map = ebpf
        .map(name)
        .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))?;
    counters_of(map)
}

/// The interfaces `--xdp-forward direct` may redirect to: those the XDP program runs on.
pub fn write_xdp_devices(ebpf: &mut Ebpf, ifindexes: &[u32]) -> anyhow::Result<()> {
    let mut devices: DevMapHash<&mut MapData> =
        DevMapHash::try_from(map_mut(ebpf, names::XDP_DEVICES)?)?;
    let stale: Vec<u32> = devices.keys().collect::<Result<_, _>>()?;
    for key in stale.into_iter().filter(|k| !ifindexes.contains(k)) {
        devices.remove(key)?;
    }
    for &ifindex in ifindexes {
        devices
            .insert(ifindex, ifindex, None, 0)
            .with_context(|| format!("entering ifindex {ifindex} in the XDP device map"))?;
    }
    Ok(())
}

/// The AF_XDP sockets (XSKMAP index, descriptor), then each interface's slot (ifindex,
/// slot): the program redirects to an interface's sockets only once they are all in.
pub fn write_xsk_sockets(
    ebpf: &mut Ebpf,
    sockets: &[(u32, i32)],
    slots: &[(u32, u32)],
) -> anyhow::Result<()> {
    let mut xsks: XskMap<&mut MapData> = XskMap::try_from(map_mut(ebpf, names::XSKS)?)?;
    for &(index, fd) in sockets {
        xsks.set(index, fd, 0)
            .with_context(|| format!("entering AF_XDP socket {index} in the XSKMAP"))?;
    }
    let mut by_ifindex: HashMap<&mut MapData, u32, u32> =
        HashMap::try_from(map_mut(ebpf, names::XSK_SLOTS)?)?;
    for &(ifindex, slot) in slots {
        by_ifindex
            .insert(ifindex, slot, 0)
            .with_context(|| format!("entering ifindex {ifindex}'s AF_XDP slot"))?;
    }
    Ok(())
}

/// The counters of a [`names::TC_COUNTERS`] or [`names::XDP_COUNTERS`] map, loaded or
/// reopened from its pin.
pub fn counters_of(map: &aya::maps::Map) -> anyhow::Result<[u64; Outcome::COUNT]> {
    let counters: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map)?;
    let mut out = [0u64; Outcome::COUNT];
    // A map pinned by an older build may have fewer outcomes: the newer ones read as 0.
    let len = counters.len() as usize;
    for (i, slot) in out.iter_mut().enumerate().take(len) {
        *slot = counters.get(&(i as u32), 0)?.iter().sum();
    }
    Ok(out)
}

/// The outcomes that happened, by name, for reports.
pub fn nonzero_outcomes(values: [u64; Outcome::COUNT]) -> Vec<(&'static str, u64)> {
    Outcome::ALL
        .iter()
        .zip(values)
        .filter(|(_, value)| *value > 0)
        .map(|(outcome, value)| (outcome.as_str(), value))
        .collect()
}

/// Removes a host mapping from both host tables (expiry, or the pool handing its address
/// to another host). A missing entry is not an error.
pub fn remove_host(ebpf: &mut Ebpf, v6: Ipv6Addr, v4: Ipv4Addr) -> anyhow::Result<()> {
    remove_forward(ebpf, v6)?;
    remove_reverse(ebpf, v4)
}

/// Removes `v6`'s entry from the IPv6 → IPv4 table, if there is one.
pub fn remove_forward(ebpf: &mut Ebpf, v6: Ipv6Addr) -> anyhow::Result<()> {
    let _ = forward_mut(ebpf)?.remove(&Ipv6HostKey { addr: v6.octets() });
    Ok(())
}

/// Removes `v4`'s entry from the IPv4 → IPv6 table, if there is one.
pub fn remove_reverse(ebpf: &mut Ebpf, v4: Ipv4Addr) -> anyhow::Result<()> {
    let _ = reverse_mut(ebpf)?.remove(&Ipv4HostKey { addr: v4.octets() });
    Ok(())
}

/// The last-use stamps the program wrote (`bpf_ktime_get_boot_ns`), per pool address, from
/// both directions' tables: whichever is later.
pub fn host_last_uses(ebpf: &Ebpf) -> anyhow::Result<Vec<(Ipv4Addr, u64)>> {
    last_uses_in(&forward(ebpf)?, &reverse(ebpf)?)
}

/// Every host mapping in the IPv6 → IPv4 table, with its kind.
pub fn host_mappings(ebpf: &Ebpf) -> anyhow::Result<Vec<(Ipv6Addr, Ipv4Addr, u32)>> {
    forward_entries(&forward(ebpf)?)
}

/// Every entry of the IPv4 → IPv6 table.
pub fn reverse_mappings(ebpf: &Ebpf) -> anyhow::Result<Vec<(Ipv4Addr, Ipv6Addr)>> {
    reverse_entries(&reverse(ebpf)?)
}

type Forward<T> = HashMap<T, Ipv6HostKey, V6ToV4Mapping>;
type Reverse<T> = HashMap<T, Ipv4HostKey, V4ToV6Mapping>;

/// The two host tables (IPv6 host → pool address and back), taken out of the loaded object:
/// whoever holds this is the only one who can write them. The programs keep using them
/// (their references to the maps were resolved when the object was loaded), so take them
/// only once every program of the object is loaded, and keep them while it runs.
pub struct HostTables {
    forward: Forward<MapData>,
    reverse: Reverse<MapData>,
}

impl HostTables {
    /// Takes both tables out of `ebpf`.
    pub fn take(ebpf: &mut Ebpf) -> anyhow::Result<HostTables> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
        };
        let forward = HashMap::try_from(take(names::V6_TO_V4)?)?;
        let reverse = HashMap::try_from(take(names::V4_TO_V6)?)?;
        Ok(HostTables { forward, reverse })
    }

    /// Enters a host mapping in both tables.
    pub fn insert(&mut self, v6: Ipv6Addr, v4: Ipv4Addr, kind: MappingKind) -> anyhow::Result<()> {
        insert_forward(&mut self.forward, v6, v4, kind)?;
        insert_reverse(&mut self.reverse, v6, v4, kind)
    }

    /// Removes a host mapping from both tables; a missing entry is not an error.
    pub fn remove(&mut self, v6: Ipv6Addr, v4: Ipv4Addr) {
        self.remove_forward(v6);
        self.remove_reverse(v4);
    }

    /// Removes `v6`'s entry from the IPv6 → IPv4 table, if there is one.
    pub fn remove_forward(&mut self, v6: Ipv6Addr) {
        let _ = self.forward.remove(&Ipv6HostKey { addr: v6.octets() });
    }

    /// Removes `v4`'s entry from the IPv4 → IPv6 table, if there is one.
    pub fn remove_reverse(&mut self, v4: Ipv4Addr) {
        let _ = self.reverse.remove(&Ipv4HostKey { addr: v4.octets() });
    }

    /// Every entry of the IPv6 → IPv4 table, with its kind.
    pub fn forward_entries(&self) -> anyhow::Result<Vec<(Ipv6Addr, Ipv4Addr, u32)>> {
        forward_entries(&self.forward)
    }

    /// Every entry of the IPv4 → IPv6 table.
    pub fn reverse_entries(&self) -> anyhow::Result<Vec<(Ipv4Addr, Ipv6Addr)>> {
        reverse_entries(&self.reverse)
    }

    /// The programs' last-use stamps per pool address (see [`host_last_uses`]).
    pub fn last_uses(&self) -> anyhow::Result<Vec<(Ipv4Addr, u64)>> {
        last_uses_in(&self.forward, &self.reverse)
    }
}

fn forward(ebpf: &Ebpf) -> anyhow::Result<Forward<&MapData>> {
    let map = ebpf
        .map(names::V6_TO_V4)
        .ok_or_else(|| anyhow!("the eBPF object has no map {}", names::V6_TO_V4))?;
    Ok(HashMap::try_from(map)?)
}

fn reverse(ebpf: &Ebpf) -> anyhow::Result<Reverse<&MapData>> {
    let map = ebpf
        .map(names::V4_TO_V6)
        .ok_or_else(|| anyhow!("the eBPF object has no map {}", names::V4_TO_V6))?;
    Ok(HashMap::try_from(map)?)
}

fn forward_mut(ebpf: &mut Ebpf) -> anyhow::Result<Forward<&mut MapData>> {
    Ok(HashMap::try_from(map_mut(ebpf, names::V6_TO_V4)?)?)
}

fn reverse_mut(ebpf: &mut Ebpf) -> anyhow::Result<Reverse<&mut MapData>> {
    Ok(HashMap::try_from(map_mut(ebpf, names::V4_TO_V6)?)?)
}

fn insert_forward<T: BorrowMut<MapData>>(
    forward: &mut Forward<T>,
    v6: Ipv6Addr,
    v4: Ipv4Addr,
    kind: MappingKind,
) -> anyhow::Result<()> {
    let value = V6ToV4Mapping {
        v4: v4.octets(),
        kind: kind as u32,
        last_use_ns: 0,
    };
    forward.insert(Ipv6HostKey { addr: v6.octets() }, value, 0)?;
    Ok(())
}

fn insert_reverse<T: BorrowMut<MapData>>(
    reverse: &mut Reverse<T>,
    v6: Ipv6Addr,
    v4: Ipv4Addr,
    kind: MappingKind,
) -> anyhow::Result<()> {
    let value = V4ToV6Mapping {
        v6: v6.octets(),
        kind: kind as u32,
        _pad: 0,
        last_use_ns: 0,
    };
    reverse.insert(Ipv4HostKey { addr: v4.octets() }, value, 0)?;
    Ok(())
}

fn last_uses_in<F: Borrow<MapData>, R: Borrow<MapData>>(
    forward: &Forward<F>,
    reverse: &Reverse<R>,
) -> anyhow::Result<Vec<(Ipv4Addr, u64)>> {
    let mut stamps = Vec::new();
    for entry in forward.iter() {
        let (_, mapping) = entry?;
        let v4 = Ipv4Addr::from(mapping.v4);
        let back = reverse
            .get(&Ipv4HostKey { addr: mapping.v4 }, 0)
            .map_or(0, |m| m.last_use_ns);
        stamps.push((v4, mapping.last_use_ns.max(back)));
    }
    Ok(stamps)
}

fn forward_entries<T: Borrow<MapData>>(
    forward: &Forward<T>,
) -> anyhow::Result<Vec<(Ipv6Addr, Ipv4Addr, u32)>> {
    forward
        .iter()
        .map(|entry| {
            let (key, mapping) = entry?;
            Ok((
                Ipv6Addr::from(key.addr),
                Ipv4Addr::from(mapping.v4),
                mapping.kind,
            ))
        })
        .collect()
}

fn reverse_entries<T: Borrow<MapData>>(
    reverse: &Reverse<T>,
) -> anyhow::Result<Vec<(Ipv4Addr, Ipv6Addr)>> {
    reverse
        .iter()
        .map(|entry| {
            let (key, mapping) = entry?;
            Ok((Ipv4Addr::from(key.addr), Ipv6Addr::from(mapping.v6)))
        })
        .collect()
}
