//! nat64's one integration-test binary: a module per area, each area a directory of test
//! files (or one file). `tests/README.md` says how to add a test, which helpers to use, what
//! needs root and how the tests that do are serialised.
//!
//! | area | what it tests | root |
//! | --- | --- | --- |
//! | [`config`] | configuration files, `dynamic.map` persistence (the library's public API) | no |
//! | [`vectors`] | RFC 7915 vectors through the userspace translator, both kernel programs and a gateway's XDP + AF_XDP path; hostile input | kernel half |
//! | [`ebpf`] | the embedded object loads, verifies and runs (BPF_PROG_TEST_RUN) | yes |
//! | [`tc`] | the TC program under hostile input; the kernel path between namespaces; restarts with `--keep` | yes |
//! | [`xdp`] | the XDP datapath between namespaces, both forward modes | yes |
//! | [`stateful`] | stateful NAT64 between namespaces: TC, XDP (both forward modes), TUN in a container, restarts | yes |
//! | [`tun`] | the TUN device, the TUN datapath between namespaces, offloads, behaviour on both datapaths | yes |
//! | [`tayga`] | the drop-in for TAYGA: its set-up and data-dir, restarts, what is never translated | mostly |
//! | [`host`] | the namespace test bed itself, the host changes of native mode | yes |
//! | [`ops`] | metrics, status and `--json`, systemd units and notify, the journal, the Debian package, `nat64 doctor` | mostly |
//! | [`fuzz`] | short runs of the fuzz targets that need no root: they reach deep, a seed names its inputs | no |
//! | [`layout`] | this layout: one binary, every file compiled | no |

mod af_xdp;
mod config;
mod ebpf;
mod fuzz;
mod host;
mod layout;
mod ops;
mod stateful;
mod tayga;
mod tc;
mod tun;
mod vectors;
mod xdp;
