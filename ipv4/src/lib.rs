//! IPv4 for the [Lamina](https://github.com/lamina-net/lamina) network
//! stack: addresses and CIDRs, the header and its options, and (in later
//! work) fragmentation and reassembly, a routing table with longest-prefix
//! match, and the packet-hook trait that `lamina-filter` implements.
//!
//! What is here now is the wire format:
//!
//! - [`Ipv4Cidr`] and [`Ipv4AddrExt`]: prefixes and address
//!   classification (martian sources and destinations, RFC 1812 §5.3.7).
//! - [`IpProtocol`]: the protocol field, with named constants.
//! - [`Ipv4Packet`]: a zero-copy view of a datagram, checked on parse
//!   (version, IHL, total length, every option), with a lenient
//!   [`parse_truncated`](Ipv4Packet::parse_truncated) for captures cut
//!   short and ICMP quotes, and fragment helpers a reassembler builds on.
//!   [`Ipv4Header`] is the raw fixed header for reading fields of a header
//!   that does not pass those checks.
//! - [`Ipv4Option`] and [`Ipv4OptionIter`]: Record Route, Source Routes,
//!   Timestamp, Router Alert and raw unknown options (RFC 791, 1108, 2113,
//!   7126).
//! - [`Ipv4Repr`]: the owned header, a
//!   [`PacketBuilder`](lamina_netbuf::PacketBuilder) that computes the
//!   total length and the checksum (or leaves it to the device,
//!   [`ChecksumMode::Offload`]).
//!
//! The crate is `#![no_std]` and allocates nothing; the `std` feature adds
//! nothing yet but is kept for the later parts. The `arbitrary` feature
//! implements `arbitrary::Arbitrary` for the owned types, for property
//! tests and fuzzing.
//!
//! # Example
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::{IpProtocol, Ipv4Option, Ipv4OptionsBuf, Ipv4Packet, Ipv4Repr};
//! use lamina_netbuf::Serializer;
//!
//! // Build a UDP-carrying datagram with a Router Alert option...
//! let mut repr = Ipv4Repr::new(
//!     Ipv4Addr::new(192, 0, 2, 1),
//!     Ipv4Addr::new(192, 0, 2, 99),
//!     IpProtocol::UDP,
//! );
//! repr.options.push(&Ipv4Option::RouterAlert(0))?;
//! let mut frame = b"hello".wrap_in(&repr).serialize_vec(0).unwrap().into_vec();
//! // ...as it might arrive with Ethernet padding after it.
//! frame.resize(46, 0);
//!
//! let pkt = Ipv4Packet::parse_verified(&frame)?;
//! assert_eq!(pkt.header_len(), 24);
//! assert_eq!(pkt.total_len(), 29);
//! assert_eq!(pkt.payload(), b"hello"); // the padding is not payload
//! assert_eq!(pkt.protocol(), IpProtocol::UDP);
//! assert_eq!(pkt.iter_options().next(), Some(Ok(Ipv4Option::RouterAlert(0))));
//! assert!(!pkt.is_fragment());
//! assert_eq!(pkt.to_repr(), repr);
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod addr;
mod error;
mod options;
mod packet;
mod protocol;
mod repr;

pub use addr::{Ipv4AddrExt, Ipv4Cidr};
pub use error::{BadOptionReason, Error};
pub use options::{
    Ipv4Option, Ipv4OptionIter, Ipv4OptionsBuf, MAX_OPTIONS_LEN, RouteOption, TimestampEntry,
    TimestampFlag, TimestampOption, option_kind,
};
pub use packet::{
    FragmentKey, IPV4_MAX_HEADER_LEN, IPV4_MAX_PACKET_LEN, IPV4_MIN_HEADER_LEN, IPV4_MIN_MTU,
    Ipv4Header, Ipv4Packet,
};
pub use protocol::IpProtocol;
pub use repr::{ChecksumMode, Ipv4Builder, Ipv4Repr};

#[cfg(test)]
mod tests;
