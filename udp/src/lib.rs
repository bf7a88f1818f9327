//! UDP for the Lamina network stack: the wire format with its
//! pseudo-header checksum, and the sans-I/O parts a socket layer builds
//! UDP sockets from: the port table, receive queues, the checksum policy
//! and the counters.
//!
//! # Example: the wire format
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
//!
//! # The wire format ([`wire`], re-exported here)
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
//! # The socket machinery
//!
//! - [`UdpTable`] ([`demux`]): binds handles of the socket layer's
//!   choosing to local endpoints (a specific address or any, port 0 → a
//!   random ephemeral port, RFC 6056), with Linux's `EADDRINUSE` rule and
//!   `SO_REUSEADDR`; connect, disconnect, unbind; and finds the socket of
//!   a received datagram ([`lookup`](UdpTable::lookup): connected 4-tuple
//!   first, then the bound address, then the wildcard; an O(1) port probe,
//!   never a scan) or every socket of a broadcast
//!   ([`lookup_all`](UdpTable::lookup_all)). Bounded in bindings.
//! - [`RxQueue`] ([`rxqueue`]): a socket's receive queue, bounded in
//!   datagrams and bytes, dropping the newest when full and counting it.
//! - [`ChecksumPolicy`] and [`UdpStats`] ([`policy`]): RFC 1122 §4.1.3.4
//!   checksum handling (verify unless the device did, zero accepted or
//!   not, compute on send) and the RFC 4113 counters.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]` with
//! `alloc` (the table and the queues allocate; the wire format does not);
//! the `std` feature adds only conveniences, and `arbitrary` derives
//! `arbitrary::Arbitrary` for [`UdpRepr`].
//!
//! # Example: the receive path
//!
//! What a socket layer does with each received UDP datagram (the IPv4
//! layer has handed over the payload, the addresses, whether the
//! destination is a broadcast for us, and whether the device verified the
//! checksum):
//!
//! ```
//! use core::net::{Ipv4Addr, SocketAddrV4};
//! use lamina_netbuf::{SeededRng, Serializer};
//! use lamina_udp::{BindOptions, ChecksumPolicy, RxQueue, UdpRepr, UdpStats, UdpTable, UdpTableConfig};
//!
//! let me = Ipv4Addr::new(192, 0, 2, 1);
//! let peer = Ipv4Addr::new(192, 0, 2, 9);
//! let mut table = UdpTable::new(UdpTableConfig::default());
//! let mut queues = vec![RxQueue::new(64, 64 * 1024)];
//! let (policy, mut stats) = (ChecksumPolicy::default(), UdpStats::default());
//! table.bind(0usize, Ipv4Addr::UNSPECIFIED, 7, BindOptions::default(), &mut SeededRng::new(1))?;
//!
//! let repr = UdpRepr { src_port: 40000, dst_port: 7 };
//! let bytes = b"echo me".wrap_in(repr.builder(peer, me)).serialize_vec(0).unwrap();
//! let (src, dst, broadcast, device_verified) = (peer, me, false, false);
//!
//! let port_unreachable = match policy.parse(bytes.as_slice(), src, dst, device_verified) {
//!     Err(e) => { stats.record_rx_error(&e); false }
//!     Ok(udp) if broadcast => {
//!         let mut any = false;
//!         for h in table.lookup_all(dst, udp.dst_port(), src, udp.src_port()) {
//!             any = true;
//!             let from = SocketAddrV4::new(src, udp.src_port());
//!             match queues[h].push_slice(from, dst, udp.payload()) {
//!                 Ok(()) => stats.record_delivered(),
//!                 Err(_) => stats.record_rcvbuf_error(),
//!             }
//!         }
//!         if !any { stats.record_no_port(true); }
//!         false // never an ICMP error about a broadcast
//!     }
//!     Ok(udp) => match table.lookup(dst, udp.dst_port(), src, udp.src_port()) {
//!         Some(h) => {
//!             let from = SocketAddrV4::new(src, udp.src_port());
//!             match queues[h].push_slice(from, dst, udp.payload()) {
//!                 Ok(()) => stats.record_delivered(),
//!                 Err(_) => stats.record_rcvbuf_error(),
//!             }
//!             false
//!         }
//!         None => { stats.record_no_port(false); true } // RFC 1122 §4.1.3.1
//!     },
//! };
//! assert!(!port_unreachable);
//! assert_eq!(stats.in_datagrams, 1);
//! assert_eq!(queues[0].pop().unwrap().payload, b"echo me");
//! # Ok::<(), lamina_udp::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod demux;
mod error;
pub mod policy;
pub mod rxqueue;
pub mod wire;

pub use demux::{BindOptions, BindingInfo, PortRange, UdpTable, UdpTableConfig};
pub use error::Error;
pub use policy::{ChecksumPolicy, UdpStats};
pub use rxqueue::{QueueFull, RecvInfo, RxDatagram, RxQueue};

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use wire::{
    ChecksumMode, ChecksumStatus, HEADER_LEN, IP_PROTOCOL, MAX_PAYLOAD_LEN, UdpBuilder, UdpHeader,
    UdpPacket, UdpRepr,
};
