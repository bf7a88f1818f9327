//! ICMPv4 for the [Lamina](https://github.com/lamina-net/lamina) network
//! stack: every message of RFC 792, 950, 1122, 1191, 1256 and 1812, echo
//! replies, error generation with rate limits and the
//! never-an-error-about-an-error rules, and received errors turned into
//! socket errors. Everything is sans-I/O: time comes in as an
//! [`Instant`](lamina_netbuf::Instant), randomness from a
//! [`Rng`](lamina_netbuf::Rng), and nothing is sent; the functions say
//! what to send.
//!
//! # Example
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_icmp::{ErrorBuilder, IcmpMessage, IcmpPacket, IcmpRepr, TimeExceededCode};
//! use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
//! use lamina_netbuf::Serializer;
//!
//! let me = Ipv4Addr::new(192, 0, 2, 1);
//! let router = Ipv4Addr::new(192, 0, 2, 254);
//! let target = Ipv4Addr::new(198, 51, 100, 9);
//!
//! // A ping whose TTL runs out at a router...
//! let ping = IcmpRepr::EchoRequest { ident: 7, seq_no: 1 };
//! let ip = Ipv4Repr { ttl: 1, ..Ipv4Repr::new(me, target, IpProtocol::ICMP) };
//! let sent = b"0123456789".wrap_in(&ping).wrap_in(&ip).serialize_vec(0)?;
//!
//! // ...which answers with Time Exceeded, quoting it.
//! let err = ErrorBuilder::new(
//!     IcmpRepr::TimeExceeded { code: TimeExceededCode::TtlExceeded },
//!     sent.as_slice(),
//! )
//! .unwrap();
//! let back = err.wrap_in(&Ipv4Repr::new(router, me, IpProtocol::ICMP)).serialize_vec(0)?;
//!
//! // The sender matches it to its ping.
//! let outer = Ipv4Packet::parse_verified(back.as_slice()).unwrap();
//! let icmp = IcmpPacket::parse_verified(outer.payload()).unwrap();
//! let IcmpMessage::TimeExceeded { code, quote } = icmp.message() else { panic!() };
//! assert_eq!(code, TimeExceededCode::TtlExceeded);
//! assert_eq!(quote.icmp_ident_seq(), Some((7, 1)));
//! assert_eq!(icmp.quoted().unwrap().dst(), target);
//! # Ok::<(), lamina_netbuf::Error>(())
//! ```
//!
//! # The wire format
//!
//! - [`IcmpPacket`]: a zero-copy view of a message, checked on parse
//!   (long enough for its type), with [`checksum_ok`](IcmpPacket::checksum_ok)
//!   / [`parse_verified`](IcmpPacket::parse_verified), and
//!   [`message`](IcmpPacket::message) giving the typed [`IcmpMessage`].
//! - Error messages expose the datagram they quote as a [`Quote`]: the
//!   quoted IPv4 header parsed leniently, the quoted transport bytes, and
//!   the ports or ICMP identifier a stack needs to find the socket. The
//!   RFC 1191 next-hop MTU and the RFC 4884 length and extensions are
//!   exposed when present.
//! - [`IcmpRepr`]: the owned header fields of every message, a
//!   [`PacketBuilder`](lamina_netbuf::PacketBuilder) that computes the
//!   checksum over the body it wraps; [`ErrorBuilder`] quotes an offending
//!   datagram the way RFC 1812 §4.3.2.3 asks.
//!
//! # The machinery (each module documents its calling protocol)
//!
//! - Echo ([`echo`]): [`EchoConfig`] decides which pings to answer;
//!   [`echo_reply_datagram_in_place`] / [`echo_reply_in_place`] turn a
//!   request into its reply where it lies (the fast path: a few header
//!   words change, the ICMP checksum is updated incrementally), and
//!   [`EchoReply`] builds one by copy, with [`echo_reply_options`] for the
//!   IP options RFC 1122 §3.2.2.6 asks to return.
//! - Errors out ([`policy`], [`ratelimit`]): [`should_send_error`] applies
//!   RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7 (never about an ICMP error, a
//!   broadcast, a multicast, a non-first fragment or a non-unicast
//!   source); [`RateLimiter`] is Linux's global and per-destination token
//!   buckets with a type mask; [`ErrorGenerator`] does both and counts
//!   ([`IcmpOutStats`]). Named constructors such as
//!   [`IcmpRepr::PORT_UNREACHABLE`] and [`error_ipv4_repr`] give the
//!   message and its IPv4 header.
//! - Errors in ([`report`]): [`received_error`] turns an error message
//!   into an [`IcmpErrorKind`] (convertible to `std::io::ErrorKind`), its
//!   hardness (RFC 1122 §4.2.3.9, RFC 5927) and the [`QuotedFlow`] that
//!   finds the socket; [`ReceivedError::pmtu_estimate`] serves Path MTU
//!   Discovery (RFC 1191).
//!
//! The crate is `#![no_std]`; it allocates only the rate limiter's
//! per-destination table, once. The `std` feature adds the
//! `std::io::ErrorKind` conversion; `arbitrary` implements
//! `arbitrary::Arbitrary` for [`IcmpRepr`].
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod echo;
mod error;
mod generate;
mod packet;
pub mod policy;
pub mod ratelimit;
pub mod report;
mod repr;
mod types;

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use error::Error;
pub use packet::{
    ICMP_HEADER_LEN, IcmpHeader, IcmpMessage, IcmpPacket, Quote, RouterAddress,
    RouterAdvertisement, Timestamps,
};
pub use repr::{ErrorBuilder, IcmpBuilder, IcmpRepr, MAX_ERROR_QUOTE_LEN, quote_for_error};
pub use types::{IcmpType, ParameterProblemCode, RedirectCode, TimeExceededCode, UnreachableCode};

pub use echo::{
    EchoConfig, EchoId, EchoReply, EchoReplyOptions, ReplyIpFields, echo_reply_datagram_in_place,
    echo_reply_in_place, echo_reply_options, verified_echo_reply,
};
pub use generate::{ErrorGenerator, IcmpOutStats, Suppressed};
pub use policy::{ERROR_DSCP, ErrorContext, Suppression, error_ipv4_repr, should_send_error};
pub use ratelimit::{RateLimitConfig, RateLimitStats, RateLimiter, RateMask};
pub use report::{
    IcmpErrorKind, QuotedFlow, QuotedTransport, ReceivedError, plateau_below, received_error,
    unreachable_is_hard,
};

#[cfg(test)]
mod tests;
