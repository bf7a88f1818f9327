//! The Lamina network stack assembled: the `Interface` that ties devices to the protocol layers, and TCP, UDP, ICMP and raw sockets.
//!
//! This crate will own the `Interface` that ties one or more `Device`s to the protocol crates, driven by the caller's clock through `poll(now)` and `poll_at()`, and the socket API: TCP, UDP, ICMP echo and raw sockets.
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
//! use lamina_socket as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
