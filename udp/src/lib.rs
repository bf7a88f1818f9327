//! UDP for the Lamina network stack: the wire format with its
//! pseudo-header checksum, and (later) port demultiplexing.
//!
//! Today the crate holds the UDP wire format ([`wire`], re-exported here):
//!
//! - [`UdpPacket`]: a zero-copy view of a datagram. [`UdpPacket::parse`]
//!   checks structure (header present, RFC 768 length between 8 and the
//!   buffer; link padding past the length is cut off);
//!   [`UdpPacket::parse_truncated`] also reads captures cut short;
//!   [`UdpPacket::parse_verified`] adds the pseudo-header checksum.
//!   [`UdpPacket::checksum_status`] tells a good, bad, absent (zero, "not
//!   computed") or unverifiable checksum apart.
//! - [`UdpRepr`]: the ports, and [`UdpBuilder`], a
//!   [`lamina_netbuf::PacketBuilder`] that writes the header around a body
//!   already in place, computing the checksum (or leaving it to transmit
//!   offload, or zero).
//!
//! Port demultiplexing and the socket-facing parts of UDP will live here
//! too; they are not written yet.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]`; the
//! `std` feature adds only conveniences, and `arbitrary` derives
//! `arbitrary::Arbitrary` for [`UdpRepr`].
//!
//! # Example
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_netbuf::Serializer;
//! use lamina_udp::{ChecksumStatus, UdpPacket, UdpRepr};
//!
//! let (src, dst) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 53));
//! let repr = UdpRepr { src_port: 49152, dst_port: 53 };
//!
//! // Build: the header goes in front of the payload, checksum included.
//! let datagram = b"hello".wrap_in(repr.builder(src, dst)).serialize_vec(0)?;
//! assert_eq!(datagram.len(), 8 + 5);
//!
//! // Parse, verifying the checksum against the pseudo-header.
//! let udp = UdpPacket::parse_verified(datagram.as_slice(), src, dst).unwrap();
//! assert_eq!(udp.to_repr(), repr);
//! assert_eq!(udp.payload(), b"hello");
//! assert_eq!(udp.checksum_status(src, dst), ChecksumStatus::Good);
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
pub mod wire;

pub use error::Error;

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use wire::{
    ChecksumMode, ChecksumStatus, HEADER_LEN, IP_PROTOCOL, MAX_PAYLOAD_LEN, UdpBuilder, UdpHeader,
    UdpPacket, UdpRepr,
};
