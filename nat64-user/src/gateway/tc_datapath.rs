//! The kernel fast path on the `tun-device`: the `nat64_tc` program on the device's egress
//! translates packets of hosts that have a mapping and redirects them into the device's
//! ingress; the rest reach the TUN queue, where the workers (the slow path) translate them
//! and enter new mappings into the program's maps before writing the packet back.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::Mutex,
};

use anyhow::{Context as _, Result};
use aya::{
    programs::{SchedClassifier, TcAttachType},
    Ebpf, EbpfLoader,
};
use nat64_common::maps::{names, MappingKind};
use tracing::warn;

use crate::{ebpf_object, pool::DynamicPool, tc_maps, translate::TranslatorConfig};

/// The loaded program and its maps; dropping it detaches the program.
pub struct TcDatapath {
    ebpf: Mutex<Ebpf>,
    ifindex: u32,
    pool: Option<(Ipv4Addr, u8)>,
}

/// Loads `nat64_tc` with its maps for packets that start at the IP header (`l3_offset` 0 on
/// a TUN device; 14 where a test run hands it Ethernet frames) and has the verifier check it.
pub fn load_program(l3_offset: u32) -> Result<Ebpf> {
    let object = ebpf_object::object()?;
    let mut ebpf = EbpfLoader::new()
        .override_global(names::L3_OFFSET, &l3_offset, true)
        .load(object)
        .context("loading the eBPF object")?;
    program(&mut ebpf)?
        .load()
        .context("the verifier refused nat64_tc")?;
    Ok(ebpf)
}

fn program(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    let program = ebpf
        .program_mut("nat64_tc")
        .context("program nat64_tc is not in the eBPF object")?;
    Ok(program.try_into()?)
}

impl TcDatapath {
    /// Loads, configures and attaches the program on `device`'s egress, and enters the
    /// mappings the pool already has. Any error means the kernel path is not available.
    pub fn start(
        device: &str,
        ifindex: u32,
        translator: &TranslatorConfig,
        pool: Option<&DynamicPool>,
    ) -> Result<Self> {
        let mut ebpf = load_program(0)?;
        let pool_net = pool.map(|p| (p.config().network(), p.config().prefix_len()));
        tc_maps::write_config(&mut ebpf, translator, pool_net, ifindex)?;
        for mapping in pool.into_iter().flat_map(DynamicPool::iter) {
            tc_maps::insert_host(&mut ebpf, mapping.v6, mapping.v4, MappingKind::Dynamic)?;
        }
        program(&mut ebpf)?
            .attach(device, TcAttachType::Egress)
            .with_context(|| format!("attaching nat64_tc to the egress of {device}"))?;
        Ok(Self {
            ebpf: Mutex::new(ebpf),
            ifindex,
            pool: pool_net,
        })
    }

    /// A new translator configuration (SIGHUP's map-file): the kernel takes the same maps.
    pub fn reconfigure(&self, translator: &TranslatorConfig) -> Result<()> {
        self.with(|ebpf| tc_maps::write_config(ebpf, translator, self.pool, self.ifindex))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ebpf) -> R) -> R {
        let mut ebpf = self.ebpf.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut ebpf)
    }

    /// A host got an address: from now on the kernel translates its packets.
    pub fn enter(&self, v6: Ipv6Addr, v4: Ipv4Addr) {
        if let Err(err) = self.with(|ebpf| tc_maps::insert_host(ebpf, v6, v4, MappingKind::Dynamic))
        {
            warn!("could not enter {v6} -> {v4} in the kernel tables (it stays on the slow path): {err:#}");
        }
    }

    /// A mapping ended (expired, or its address went to another host).
    pub fn forget(&self, v6: Ipv6Addr, v4: Ipv4Addr) {
        if let Err(err) = self.with(|ebpf| tc_maps::remove_host(ebpf, v6, v4)) {
            warn!("could not remove {v6} -> {v4} from the kernel tables: {err:#}");
        }
    }

    /// Copies the kernel's last-use stamps into the pool, so mappings the kernel serves do
    /// not look idle to the allocator.
    pub fn sync_last_use(&self, pool: &mut DynamicPool, now_epoch: u64) {
        let boot_now = boot_time_ns();
        let stamps = match self.with(|ebpf| tc_maps::host_last_uses(ebpf)) {
            Ok(stamps) => stamps,
            Err(err) => {
                warn!("reading the kernel's last-use stamps failed: {err:#}");
                return;
            }
        };
        for (v4, stamp_ns) in stamps {
            if stamp_ns == 0 || stamp_ns > boot_now {
                continue;
            }
            let age_secs = (boot_now - stamp_ns) / 1_000_000_000;
            pool.set_last_use(v4, now_epoch.saturating_sub(age_secs));
        }
    }

    /// The program's counters, by outcome name.
    pub fn counters(&self) -> Result<Vec<(&'static str, u64)>> {
        let values = self.with(|ebpf| tc_maps::tc_counters(ebpf))?;
        Ok(nat64_common::counters::TcOutcome::ALL
            .iter()
            .zip(values)
            .map(|(outcome, value)| (outcome.as_str(), value))
            .collect())
    }
}

/// CLOCK_BOOTTIME in nanoseconds: the clock `bpf_ktime_get_boot_ns` reads.
fn boot_time_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
