//! Guides: how to put Lamina to work beyond the crate examples. Each is
//! short, and every example in them is a doctest that runs (`cargo test -p
//! lamina-socket --doc guide`), so they stay true.
//!
//! - [`embedding`]: embedding Lamina in your own OS or unikernel: your
//!   clock, your randomness, your [`Device`](lamina_netdev::Device) driver,
//!   your `Hal` for the PCI drivers, `no_std` + `alloc`, and the
//!   `poll`/`poll_at` loop.
//! - [`testing`]: writing tests with the fake clock and virtual wires:
//!   hosts on wires and hubs, seeded fault injection, multi-host networks
//!   that run a minute of traffic in milliseconds.
//! - [`pcap_replay`]: replaying a pcap corpus in your tests: reading
//!   captures, a capture as a device, recording a simulation for
//!   Wireshark, and comparing with tshark's decode (`LAMINA_PCAP_DIR`,
//!   skipped when absent).
//!
//! The crate-level example of each Lamina crate shows its main use; the
//! repository's README shows how to run the demo, the tests, the
//! benchmarks, the fuzzers and the Linux and QEMU interop scripts.

pub mod embedding;
pub mod pcap_replay;
pub mod testing;
