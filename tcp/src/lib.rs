//! A sans-I/O TCP for the Lamina network stack: segments and options,
//! and (later) the RFC 9293 state machine, listeners, SACK and congestion
//! control.
//!
//! Today the crate holds the TCP wire format ([`wire`], re-exported here)
//! and sequence-number arithmetic:
//!
//! - [`TcpSegment`]: a zero-copy view of a segment. [`TcpSegment::parse`]
//!   checks the data offset and the syntax of every option up front (bad
//!   lengths are typed errors, never a panic or a loop), so the accessors
//!   — ports, numbers, all 12 control bits as [`TcpFlags`], window,
//!   urgent pointer, [`options_iter`](TcpSegment::options_iter),
//!   [`mss`](TcpSegment::mss), [`window_scale`](TcpSegment::window_scale),
//!   [`sack_permitted`](TcpSegment::sack_permitted),
//!   [`sack_blocks`](TcpSegment::sack_blocks),
//!   [`timestamps`](TcpSegment::timestamps) — cannot fail.
//!   [`TcpSegment::parse_verified`] adds the pseudo-header checksum;
//!   [`TcpSegment::parse_truncated`] reads captures cut inside the header.
//! - [`TcpRepr`]: every header field plus the MSS, window-scale,
//!   SACK-permitted, SACK (up to four blocks, inline) and timestamps
//!   options; [`TcpRepr::builder`] gives a [`TcpBuilder`], a
//!   [`lamina_netbuf::PacketBuilder`] that lays the options out with NOP
//!   alignment as Linux does and computes the checksum (or leaves it to
//!   transmit offload).
//! - [`SeqNumber`]: wrapping sequence numbers compared by signed distance
//!   (RFC 9293 §3.4, RFC 1982).
//!
//! The connection state machine (RFC 9293 §3.10) with retransmission,
//! SACK-based recovery and pluggable congestion control, and listeners
//! with SYN and accept queues, will live here too; they are not written
//! yet.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]`; the
//! `std` feature adds only conveniences, and `arbitrary` derives
//! `arbitrary::Arbitrary` for [`TcpRepr`] and its parts.
//!
//! # Example
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_netbuf::Serializer;
//! use lamina_tcp::{SeqNumber, TcpFlags, TcpRepr, TcpSegment, Timestamps};
//!
//! let (client, server) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 80));
//! let syn = TcpRepr {
//!     src_port: 49152,
//!     dst_port: 80,
//!     seq_number: SeqNumber(1_000_000),
//!     flags: TcpFlags::SYN,
//!     window_len: 64240,
//!     max_seg_size: Some(1460),
//!     window_scale: Some(7),
//!     sack_permitted: true,
//!     timestamps: Some(Timestamps { tsval: 1, tsecr: 0 }),
//!     ..TcpRepr::default()
//! };
//!
//! // Build: Linux's SYN layout, MSS, SACKOK TS, NOP WS: 40-byte header.
//! let builder = syn.builder(client, server).expect("options fit");
//! let bytes = lamina_netbuf::serialize::EmptyBody.wrap_in(builder).serialize_vec(0)?;
//! assert_eq!(bytes.len(), 40);
//!
//! // Parse, verifying the checksum against the pseudo-header.
//! let seg = TcpSegment::parse_verified(bytes.as_slice(), client, server).unwrap();
//! assert!(seg.syn() && !seg.ack());
//! assert_eq!(seg.mss(), Some(1460));
//! assert_eq!(seg.window_scale(), Some(7));
//! assert_eq!(seg.segment_len(), 1); // SYN occupies one sequence number
//! assert_eq!(seg.to_repr(), syn);
//! assert_eq!(format!("{}", seg.flags()), "S");
//! # Ok::<(), lamina_netbuf::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod seq;
pub mod wire;

pub use error::Error;

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use seq::SeqNumber;
pub use wire::{
    ChecksumMode, HEADER_LEN, IP_PROTOCOL, MAX_HEADER_LEN, MAX_OPTIONS_LEN, OptionBytes, SackBlock,
    SackBlocks, TcpBuilder, TcpFlags, TcpHeader, TcpOption, TcpOptionIter, TcpOptions, TcpRepr,
    TcpSegment, Timestamps,
};
