//! ARP (RFC 826) packets and the neighbor cache for the Lamina network stack.
//!
//! This crate will own Ethernet/IPv4 ARP packets (RFC 826) and the neighbor cache: entry states and timers, bounded size with eviction, and a bounded queue of packets awaiting resolution.
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
//! use lamina_arp as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
