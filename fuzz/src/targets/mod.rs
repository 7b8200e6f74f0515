//! The fuzz targets, by name.

pub mod config;
pub mod dynamic_map;
pub mod kernel;
pub mod kernel_stateful;
pub mod recording_pool;
pub mod stateful;
pub mod translator;

use crate::runner::Target;
use crate::setups;

/// Every target, in the order `--target all` runs them.
pub const NAMES: [&str; 8] = [
    "translator",
    "config",
    "dynamic_map",
    "stateful",
    "kernel_tc",
    "kernel_xdp",
    "kernel_stateful_tc",
    "kernel_stateful_xdp",
];

/// What became of a request for a target.
pub enum Made {
    Ready(Box<dyn Target>),
    /// It needs what this run does not have (root); the reason is printed as is.
    Skipped(String),
}

pub fn make(name: &str) -> anyhow::Result<Made> {
    let all = setups::all()?;
    for refused in &all.refused_edges {
        eprintln!("fuzz {name}: edge setup not fuzzed, the reader refuses it now: {refused}");
    }
    let setups = all.list;
    let target: Box<dyn Target> = match name {
        "translator" => Box::new(translator::TranslatorTarget::new(setups)?),
        "config" => Box::new(config::ConfigTarget::new(&setups)),
        "dynamic_map" => Box::new(dynamic_map::DynamicMapTarget::new(&setups)?),
        "stateful" => Box::new(stateful::StatefulTarget::new()?),
        "kernel_tc" | "kernel_xdp" | "kernel_stateful_tc" | "kernel_stateful_xdp" => {
            if !is_root() {
                return Ok(Made::Skipped(format!(
                    "SKIPPED {name}: needs root (BPF_PROG_TEST_RUN)"
                )));
            }
            let program = if name.ends_with("_tc") {
                kernel::Program::Tc
            } else {
                kernel::Program::Xdp
            };
            if name.starts_with("kernel_stateful_") {
                Box::new(kernel_stateful::KernelStatefulTarget::new(program)?)
            } else {
                Box::new(kernel::KernelTarget::new(program, setups)?)
            }
        }
        other => anyhow::bail!("no target {other}; the targets are {}", NAMES.join(", ")),
    };
    Ok(Made::Ready(target))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
