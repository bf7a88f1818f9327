//! ICMPv4 for the Lamina network stack: every RFC 792/950/1122/1812 message, echo, and rate-limited error generation.
//!
//! This crate will own every ICMPv4 message of RFC 792, 950, 1122 and 1812, echo handling, and error generation with rate limits and the never-an-error-about-an-error rules.
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
//! use lamina_icmp as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
