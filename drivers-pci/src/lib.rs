//! PCI and NIC drivers (e1000, virtio-net) for the Lamina network stack, behind a HAL for OS embedding.
//!
//! This crate will own PCI configuration space and capabilities, a HAL trait for MMIO and DMA that an OS implements, and NIC drivers (e1000, virtio-net) that implement `lamina-netdev`'s `Device`.
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
//! use lamina_drivers_pci as _;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;
