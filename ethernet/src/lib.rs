//! Ethernet II frames, MAC addresses and 802.1Q/802.1ad VLAN tags for the Lamina network stack: zero-copy parsing and in-place building.
//!
//! This crate will own MAC addresses, EtherTypes, Ethernet II frames with and without FCS, 802.1Q and 802.1ad (QinQ) tags, minimum-size padding on build, and a learning bridge.
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
//! use lamina_ethernet as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
