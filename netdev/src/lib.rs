//! The device boundary of the Lamina network stack: the zero-copy, batched `Device` trait, capabilities, statistics, loopback, in-memory wires and hubs, fault injection, pcap capture and replay, and Linux TAP.
//!
//! This crate will own the `Device` trait through which every driver plugs into the stack: batched, zero-copy receive and transmit with a NAPI-style budget, `Capabilities` (medium, MTU, burst, checksum offload, TSO) and `Stats`; the virtual devices every test runs on (`Loopback`, wires and hubs with latency and bandwidth driven by the caller's clock, a seeded `FaultInjector`), pcap/pcapng capture and replay, and (feature `std`) Linux TAP devices.
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
//! use lamina_netdev as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
