//! The Lamina network stack assembled: the `Interface` that ties devices to the protocol layers, and TCP, UDP, ICMP and raw sockets.
//!
//! This crate will own the `Interface` that ties one or more `Device`s to the protocol crates, driven by the caller's clock through `poll(now)` and `poll_at()`, and the socket API: TCP, UDP, ICMP echo and raw sockets.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]` (with
//! `alloc`); the `std` feature adds only conveniences.
//!
//! Today it offers [`dissect`]: a frame dissector over every wire crate,
//! which the `decode` example (a small tcpdump) and the capture-corpus
//! tests use. The `Interface` and the sockets are tracked in the project's
//! issues.
//!
//! # Example
//!
//! ```
//! use lamina_socket::dissect::{dissect, LinkType};
//!
//! // A raw IPv4 datagram too short to hold its header.
//! let d = dissect(LinkType::RawIpv4, &[0x45, 0, 0, 20], 4);
//! assert!(d.ipv4.is_none());
//! assert!(d.error.as_deref().unwrap_or("").starts_with("ipv4:"));
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod dissect;

#[cfg(feature = "std")]
extern crate std;
