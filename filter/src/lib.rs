//! Netfilter-style packet filtering for the Lamina network stack: hooks, tables and chains, connection tracking and NAT.
//!
//! This crate will own hook points, tables, chains and rules with address and port sets, connection tracking and NAT, implemented on the packet-hook trait that `lamina-ipv4` defines.
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
//! use lamina_filter as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
