//! Packet buffers, nested serialization, the Internet checksum, time and
//! randomness: the ground every crate of the
//! [Lamina](https://github.com/lamina-net/lamina) TCP/IPv4 stack stands on.
//!
//! # Example
//!
//! Building a packet of two toy layers around a payload, in one buffer:
//!
//! ```
//! use lamina_netbuf::checksum;
//! use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};
//!
//! /// A transport-like layer: ports and a checksum over header and body.
//! struct L4 { sport: u16, dport: u16 }
//! impl PacketBuilder for L4 {
//!     fn constraints(&self) -> PacketConstraints { PacketConstraints::new(6, 0, 0, 1000) }
//!     fn serialize(&self, t: SerializeTarget<'_>) {
//!         t.header[..2].copy_from_slice(&self.sport.to_be_bytes());
//!         t.header[2..4].copy_from_slice(&self.dport.to_be_bytes());
//!         t.header[4..6].fill(0);
//!         let mut sum = checksum::Checksum::new();
//!         sum.add_bytes(t.header);
//!         sum.add_bytes(t.body);
//!         let c = sum.finish();
//!         t.header[4..6].copy_from_slice(&c.to_be_bytes());
//!     }
//! }
//!
//! /// A link-like layer with a minimum body (padding) and a trailer.
//! struct L2;
//! impl PacketBuilder for L2 {
//!     fn constraints(&self) -> PacketConstraints { PacketConstraints::new(2, 1, 16, 1500) }
//!     fn serialize(&self, t: SerializeTarget<'_>) {
//!         t.header.copy_from_slice(&[0xAB, 0xCD]);
//!         t.footer[0] = 0xEF;
//!     }
//! }
//!
//! let frame = b"hello".wrap_in(L4 { sport: 1, dport: 2 }).wrap_in(L2).serialize_vec(0)?;
//! assert_eq!(frame.len(), 2 + 16 + 1); // 6 + 5 bytes padded to 16
//! assert_eq!(checksum::checksum(&frame.as_slice()[2..13]), 0);
//! # Ok::<(), lamina_netbuf::Error>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`PacketBuf`]: an owned buffer with head room and tail room
//!   (`push`/`pull`/`put`/`trim`), backed by a `Vec`, a [`BufferPool`] slot
//!   or (feature `bytes`) `BytesMut`.
//! - [`serialize`]: a body wrapped in layer builders, serialized into one
//!   buffer in one pass, innermost layer first.
//! - [`checksum`]: RFC 1071 with SIMD kernels, the IPv4 pseudo-header, and
//!   RFC 1624 incremental update.
//! - [`time`]: [`Instant`] and [`Duration`] in microseconds, supplied by
//!   the caller (nothing here reads a clock).
//! - [`rng`]: the injected [`Rng`] and a seeded default.
//! - [`hash`]: SipHash-2-4, the keyed hash behind IP identifiers, TCP
//!   initial sequence numbers, SYN cookies and ephemeral ports.
//! - [`BufferPool`]: fixed-size buffers allocated once and recycled, for
//!   drivers' fast paths.
//!
//! The crate is `#![no_std]` and needs `alloc`. The `std` feature (on by
//! default) adds run-time CPU feature detection for the checksum and a
//! `std::time` clock; `bytes` adds conversions to and from the `bytes`
//! crate.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod buf;
pub mod checksum;
mod error;
pub mod hash;
mod pool;
pub mod rng;
pub mod serialize;
pub mod time;

pub use buf::PacketBuf;
pub use error::Error;
pub use pool::{BufferPool, PoolBuf};
pub use rng::{Rng, SeededRng};
pub use serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};
pub use time::{Duration, Instant};
