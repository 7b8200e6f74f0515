//! The bench's eBPF object (bench-ebpf, built by build.rs): loading, and attaching its XDP
//! programs to interfaces inside a namespace.

use anyhow::{bail, Context, Result};
use aya::{
    maps::Array,
    programs::{Xdp, XdpMode},
    Ebpf,
};
use nat64_tests::netns::Netns;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bench"));

pub const GENERATOR: &str = "bench_generate";
pub const SINK: &str = "bench_sink";
pub const PASS: &str = "bench_pass";
pub const FORWARD: &str = "bench_xdp_forward";

pub const TC_PASS: &str = "bench_tc_pass";
/// A TC program doing only the helper calls every translated packet needs (the floor).
pub const TC_HELPERS: &str = "bench_tc_helpers";

/// The object with only its TC programs loaded: the empty one (the test-run baseline) and
/// the helpers-only one.
pub fn load_tc_programs() -> Result<Ebpf> {
    if !available() {
        bail!("the bench was built with AYA_BUILD_SKIP=1 and carries no eBPF object");
    }
    let mut ebpf = Ebpf::load(OBJECT).context("loading the bench eBPF object")?;
    for name in [TC_PASS, TC_HELPERS] {
        let program: &mut aya::programs::SchedClassifier = ebpf
            .program_mut(name)
            .with_context(|| format!("no program {name}"))?
            .try_into()?;
        program.load().with_context(|| format!("loading {name}"))?;
    }
    Ok(ebpf)
}

/// True when build.rs built the object (not under `AYA_BUILD_SKIP=1`).
pub fn available() -> bool {
    !OBJECT.is_empty()
}

/// The loaded object, every program loaded into the kernel.
pub struct BenchPrograms {
    pub ebpf: Ebpf,
}

impl BenchPrograms {
    pub fn load() -> Result<Self> {
        if !available() {
            bail!("the bench was built with AYA_BUILD_SKIP=1 and carries no eBPF object");
        }
        let mut ebpf = Ebpf::load(OBJECT).context("loading the bench eBPF object")?;
        for name in [GENERATOR, SINK, PASS, FORWARD] {
            let program: &mut Xdp = ebpf
                .program_mut(name)
                .with_context(|| format!("no program {name}"))?
                .try_into()?;
            program.load().with_context(|| format!("loading {name}"))?;
        }
        Ok(Self { ebpf })
    }

    /// Where `bench_xdp_forward` sends: rewritten to `destination`/`source` MACs, out of
    /// `ifindex` (the layout of `FORWARD_TO` in bench-ebpf).
    pub fn aim_forwarder(
        &mut self,
        destination: [u8; 6],
        source: [u8; 6],
        ifindex: u32,
    ) -> Result<()> {
        let mut to = [0u8; 16];
        to[..6].copy_from_slice(&destination);
        to[6..12].copy_from_slice(&source);
        to[12..].copy_from_slice(&ifindex.to_ne_bytes());
        let map = self
            .ebpf
            .map_mut("FORWARD_TO")
            .context("no FORWARD_TO map")?;
        let mut array: Array<_, [u8; 16]> = Array::try_from(map)?;
        array.set(0, to, 0)?;
        Ok(())
    }

    pub fn xdp(&self, name: &str) -> Result<&Xdp> {
        Ok(self
            .ebpf
            .program(name)
            .with_context(|| format!("no program {name}"))?
            .try_into()?)
    }

    /// Attaches `program` in native (driver) mode to `interface` of `ns`; it stays attached
    /// while `self` lives (or until the namespace and its veth go).
    pub fn attach(&mut self, program: &str, ns: &Netns, interface: &str) -> Result<()> {
        let xdp: &mut Xdp = self
            .ebpf
            .program_mut(program)
            .with_context(|| format!("no program {program}"))?
            .try_into()?;
        // The interface name resolves in the calling thread's namespace.
        in_namespace(ns, || {
            xdp.attach(interface, XdpMode::Driver)
                .with_context(|| format!("attaching {program} to {interface}"))?;
            Ok(())
        })
    }
}

/// Runs `body` on a scoped thread that has entered `ns`, so it may borrow.
pub fn in_namespace<T: Send>(ns: &Netns, body: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                enter(&path)?;
                body()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter(path: &str) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    // SAFETY: setns on a namespace file descriptor we own; it affects this thread only.
    let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns {path}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}
