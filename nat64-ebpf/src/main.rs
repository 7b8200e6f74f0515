#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod programs;
#[cfg(target_arch = "bpf")]
mod tc;
#[cfg(target_arch = "bpf")]
mod translate;
#[cfg(target_arch = "bpf")]
mod xdp;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    // Built only for bpfel-unknown-none; this stub lets `cargo check --workspace` pass.
}
