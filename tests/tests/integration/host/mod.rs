//! The host: the namespace test bed every root test stands on (`netns_bed`), and native
//! mode's host changes — interface, routes, masquerade — made and undone (`setup`). Root.

mod netns_bed;
mod setup;
