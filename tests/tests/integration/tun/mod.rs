//! The TUN datapath: the device itself (`device`), `nat64 run` on TUN between namespaces
//! (`gateway`), GSO/USO offloads (`offload`), and what must hold on TUN and TC alike
//! (`behaviour`). Root.

mod behaviour;
mod device;
mod gateway;
mod offload;
