//! IPv4 for the [Lamina](https://github.com/lamina-net/lamina) network
//! stack: addresses and CIDRs, the header and its options, and the
//! sans-I/O machinery of a host and a router: a routing table with
//! longest-prefix match, the forwarding decision, fragmentation,
//! reassembly, IP identification, and the packet-hook trait that
//! `lamina-filter` implements.
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
//!
//! Routing it:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::{IfaceId, Route, RoutingTable};
//!
//! let (eth0, wg0) = (IfaceId(0), IfaceId(1));
//! let mut table = RoutingTable::new(1000);
//! table.insert("192.0.2.0/24".parse()?, Route::on_link(eth0))?;
//! table.insert("198.51.100.0/24".parse()?, Route::via(Ipv4Addr::new(10, 9, 0, 1), wg0).with_mtu(1420))?;
//! table.set_default_route(Route::via(Ipv4Addr::new(192, 0, 2, 1), eth0))?;
//!
//! let dst = Ipv4Addr::new(198, 51, 100, 20);
//! let m = table.lookup(dst).unwrap();
//! assert_eq!(m.prefix.to_string(), "198.51.100.0/24");
//! assert_eq!((m.route.interface, m.next_hop(dst), m.route.mtu), (wg0, Ipv4Addr::new(10, 9, 0, 1), Some(1420)));
//! assert_eq!(table.lookup(Ipv4Addr::new(203, 0, 113, 1)).unwrap().next_hop(dst), Ipv4Addr::new(192, 0, 2, 1));
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```
//!
//! # What is in the crate
//!
//! The wire format:
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
//! The machinery, plain data structures driven by their callers (time is
//! an [`Instant`](lamina_netbuf::Instant) passed in, randomness an
//! injected [`Rng`](lamina_netbuf::Rng)); each module documents its
//! calling protocol:
//!
//! - [`route`]: [`RoutingTable`], longest-prefix match through a
//!   compressed multibit trie (tens of millions of lookups a second on
//!   100,000 prefixes), routes with gateway, interface, MTU and metric, a
//!   default route, a bounded number of routes.
//! - [`forward`]: the router's decision for a datagram not addressed to
//!   it, with the TTL decremented in place and the checksum updated
//!   incrementally (RFC 1812, RFC 1624).
//! - [`fragment`]: [`Fragmenter`], an allocation-free iterator of
//!   fragments to serialize straight into transmit buffers (RFC 791).
//! - [`reassembly`]: [`Reassembler`], bounded in datagrams, bytes and
//!   fragments, with timeouts, dropping whole datagrams on overlap (RFC
//!   5722, as Linux does for IPv4).
//! - [`ident`]: [`IpIdGenerator`], identifiers from keyed per-destination
//!   counters rather than a global one (RFC 7739).
//! - [`hook`]: [`PacketHook`], the netfilter-style hook points, and
//!   [`NoHooks`].
//!
//! The crate is `#![no_std]` and needs `alloc` for the routing table and
//! the reassembler (the wire format allocates nothing). The `std` feature
//! adds nothing yet. The `arbitrary` feature implements
//! `arbitrary::Arbitrary` for the owned wire types, for property tests
//! and fuzzing.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod addr;
mod error;
mod options;
mod packet;
mod protocol;
mod repr;

pub mod forward;
pub mod fragment;
pub mod hook;
pub mod ident;
pub mod reassembly;
pub mod route;

pub use addr::{Ipv4AddrExt, Ipv4Cidr};
pub use error::{BadOptionReason, Error};
pub use forward::{ForwardConfig, ForwardDecision};
pub use fragment::{Fragment, Fragmenter};
pub use hook::{HookPoint, NoHooks, PacketHook, Verdict};
pub use ident::IpIdGenerator;
pub use options::{
    Ipv4Option, Ipv4OptionIter, Ipv4OptionsBuf, MAX_OPTIONS_LEN, RouteOption, TimestampEntry,
    TimestampFlag, TimestampOption, option_kind,
};
pub use packet::{
    FragmentKey, IPV4_MAX_HEADER_LEN, IPV4_MAX_PACKET_LEN, IPV4_MIN_HEADER_LEN, IPV4_MIN_MTU,
    Ipv4Header, Ipv4Packet,
};
pub use protocol::IpProtocol;
pub use reassembly::{Reassembler, Reassembly, ReassemblyConfig};
pub use repr::{ChecksumMode, Ipv4Builder, Ipv4Repr};
pub use route::{IfaceId, Route, RouteMatch, RoutingTable};

#[cfg(test)]
mod tests;
