//! The eBPF object built by `build.rs`, embedded in the binary so one file carries both
//! datapaths.

/// The ELF object with every eBPF program and map, aligned as aya's loader requires.
/// Empty when the binary was built with `AYA_BUILD_SKIP=1`.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/nat64"));

/// Refuses a binary built without its eBPF object, with the command that fixes it.
pub fn object() -> anyhow::Result<&'static [u8]> {
    if OBJECT.is_empty() {
        anyhow::bail!(
            "this nat64 binary was built with AYA_BUILD_SKIP=1 and carries no eBPF object; \
             rebuild with `cargo xtask build`"
        );
    }
    Ok(OBJECT)
}
