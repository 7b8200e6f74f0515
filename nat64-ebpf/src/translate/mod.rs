//! What the kernel programs decide about a packet. The plain case (TCP, UDP, echo) is
//! `nat64_common::plan`, the decision every datapath shares; the kernel brings how it maps
//! addresses ([`lookup::KernelMapper`]). ICMP errors with their quote are planned here
//! (`icmp_error`), in steps that fit the verifier. The TC and XDP programs each apply a plan
//! with their own helpers.
pub mod icmp_error;
pub mod lookup;
pub mod open_session;

pub use nat64_common::plan::{echo, four_to_six, six_to_four, Packet, Plan, Stamp};
