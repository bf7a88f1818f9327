//! IPv4 for the Lamina network stack: addresses and CIDRs, header and options, fragmentation and reassembly, routing with longest-prefix match, and the packet-hook trait.
//!
//! This crate will own `Ipv4Cidr`, the IPv4 header with every field and option, header checksums, fragmentation and reassembly, a routing table with longest-prefix match, and the packet-hook trait that `lamina-filter` implements.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]` (with
//! `alloc`); the `std` feature adds only conveniences.
//!
//! Work on this crate is tracked in the project's issues; until it lands the
//! crate exposes no API.
//!
//! # Example
//!
//! ```
//! use lamina_ipv4 as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
