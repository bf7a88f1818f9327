//! A sans-I/O TCP for the Lamina network stack: segments and options, the RFC 9293 state machine, listeners, SACK and congestion control.
//!
//! This crate will own TCP segments and options, a sans-I/O connection state machine (RFC 9293) with retransmission, SACK and pluggable congestion control, and listeners with SYN and accept queues.
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
//! use lamina_tcp as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
