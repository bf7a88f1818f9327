//! ARP (RFC 826) for Ethernet and IPv4, for the
//! [Lamina](https://github.com/lamina-net/lamina) TCP/IPv4 stack:
//! zero-copy parsing and in-place building of the 28-byte packets that map
//! IPv4 addresses to MAC addresses, and the sans-I/O neighbor cache that
//! resolves next hops with them.
//!
//! # Example: resolving a neighbour
//!
//! A packet for 192.0.2.2 waits while the cache asks who has it; the reply
//! releases it.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_arp::{
//!     ArpPacket, ArpRepr, NeighborCache, NeighborConfig, NeighborEvent, NeighborState,
//!     Resolution, TransmitKind,
//! };
//! use lamina_ethernet::{EthernetFrame, MacAddr};
//! use lamina_netbuf::{serialize::EmptyBody, Duration, Instant, SeededRng, Serializer};
//!
//! let our_mac: MacAddr = "02:00:00:00:00:01".parse()?;
//! let their_mac: MacAddr = "02:00:00:00:00:02".parse()?;
//! let (our_ip, their_ip) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
//! let mut now = Instant::ZERO;
//!
//! let mut cache = NeighborCache::new(our_mac, NeighborConfig::default(), &mut SeededRng::new(7));
//! cache.add_address(our_ip, 24, now)?;
//! // Adding an address announces it (RFC 5227 §2.3).
//! assert_eq!(cache.poll_transmit(now).map(|t| t.kind), Some(TransmitKind::Announcement));
//!
//! // The IP layer wants to send to 192.0.2.2: the packet waits...
//! let r = cache.resolve(their_ip, b"an IPv4 packet".to_vec(), now);
//! assert_eq!(r, Resolution::Queued { dropped: 0 });
//! assert_eq!(cache.state(their_ip), Some(NeighborState::Incomplete));
//!
//! // ...and a broadcast request goes out, to be retried in a second.
//! let request = cache.poll_transmit(now).unwrap();
//! assert_eq!(request.packet, ArpRepr::request(our_mac, our_ip, their_ip));
//! let frame = EmptyBody.wrap_in(request.packet).wrap_in(request.ethernet_repr()).serialize_vec(0)?;
//! assert_eq!(EthernetFrame::parse(frame.as_slice())?.dst(), MacAddr::BROADCAST);
//! assert_eq!(cache.poll_at(), Some(now + Duration::from_secs(1)));
//!
//! // The neighbour answers.
//! now += Duration::from_millis(3);
//! let reply = ArpRepr::reply_to(&request.packet, their_mac);
//! let bytes = reply.to_bytes();
//! cache.handle_packet(&ArpPacket::parse(&bytes)?.to_repr(), now);
//! assert_eq!(cache.state(their_ip), Some(NeighborState::Reachable));
//!
//! // The waiting packet is released to the neighbour's MAC.
//! match cache.poll_event(now) {
//!     Some(NeighborEvent::Send { ip, mac, packet }) => {
//!         assert_eq!((ip, mac, &packet[..]), (their_ip, their_mac, &b"an IPv4 packet"[..]));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! // From now on packets go straight out.
//! let r = cache.resolve(their_ip, b"next".to_vec(), now);
//! assert_eq!(r, Resolution::Ready { mac: their_mac, packet: b"next".to_vec() });
//! assert_eq!(cache.stats().resolutions, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`ArpPacket`]: the borrowed view; [`parse`](ArpPacket::parse) accepts
//!   only hardware type 1 with 6-byte addresses and protocol 0x0800 with
//!   4-byte addresses ([`Error::UnsupportedHardware`],
//!   [`Error::UnsupportedProtocol`]), and ignores trailing Ethernet padding.
//! - [`ArpRepr`]: the owned packet and its
//!   [`PacketBuilder`](lamina_netbuf::PacketBuilder), with
//!   [`request`](ArpRepr::request), [`reply_to`](ArpRepr::reply_to),
//!   [`gratuitous`](ArpRepr::gratuitous) and [`probe`](ArpRepr::probe)
//!   (RFC 5227), and the Ethernet header that carries it
//!   ([`ethernet_repr`](ArpRepr::ethernet_repr)).
//! - [`ArpOperation`]: the opcode, with the RFC 826/903/2390 values named.
//! - [`NeighborCache`]: the sans-I/O neighbor cache of one interface:
//!   states (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE, FAILED, static)
//!   and their timers, request retries and rate limiting (RFC 1122
//!   §2.3.2.1), RFC 826 learning, answers for our addresses only,
//!   gratuitous announcements and conflict detection (RFC 5227), and a
//!   bounded queue of packets awaiting resolution per neighbour. Tuned by
//!   [`NeighborConfig`] (Linux defaults); see the [`cache`] module for the
//!   calling protocol.
//!
//! The crate is `#![no_std]` and has no `unsafe`; the wire format
//! allocates nothing, the cache uses `alloc`. The `std` feature (default)
//! only forwards to the dependencies; `arbitrary` implements
//! `arbitrary::Arbitrary` for [`ArpRepr`] and [`ArpOperation`].
//!
//! # Example: answering a request
//!
//! Parsing and building by hand, without the cache:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_arp::{ArpOperation, ArpPacket, ArpRepr};
//! use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
//! use lamina_netbuf::{serialize::EmptyBody, Serializer};
//!
//! let our_mac: MacAddr = "02:00:00:00:00:01".parse()?;
//! let our_ip = Ipv4Addr::new(192, 0, 2, 1);
//!
//! // A request from a neighbour, as it arrives (padded to 60 bytes).
//! let theirs = ArpRepr::request("02:00:00:00:00:02".parse()?, Ipv4Addr::new(192, 0, 2, 2), our_ip);
//! let rx = EmptyBody.wrap_in(theirs).wrap_in(theirs.ethernet_repr()).serialize_vec(0)?;
//!
//! let eth = EthernetFrame::parse(rx.as_slice())?;
//! assert_eq!(eth.inner_ethertype(), EtherType::ARP);
//! let arp = ArpPacket::parse(eth.payload())?;
//! assert_eq!(arp.trailer().len(), 18); // Ethernet padding, ignored
//! if arp.operation() == ArpOperation::REQUEST && arp.target_protocol_addr() == our_ip {
//!     let reply = ArpRepr::reply_to(&arp.to_repr(), our_mac);
//!     let tx = EmptyBody.wrap_in(reply).wrap_in(reply.ethernet_repr()).serialize_vec(0)?;
//!     let back = EthernetFrame::parse(tx.as_slice())?;
//!     assert_eq!(back.dst(), arp.sender_hardware_addr());
//!     assert_eq!(ArpPacket::parse(back.payload())?.to_repr(), reply);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod cache;
mod config;
mod error;
mod packet;

pub use cache::{
    ArpTransmit, Conflict, DropReason, IgnoreReason, MAX_PENDING_CONFLICTS, NeighborCache,
    NeighborEvent, NeighborInfo, NeighborState, NeighborStats, PacketLen, Received, Resolution,
    TransmitKind,
};
pub use config::NeighborConfig;
pub use error::Error;
/// The MAC address type ARP packets carry (re-exported from
/// `lamina-ethernet`).
pub use lamina_ethernet::MacAddr;
pub use packet::{ArpHeader, ArpOperation, ArpPacket, ArpRepr, HTYPE_ETHERNET, PACKET_LEN};
