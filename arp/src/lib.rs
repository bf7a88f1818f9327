//! ARP (RFC 826) for Ethernet and IPv4, for the
//! [Lamina](https://github.com/lamina-net/lamina) TCP/IPv4 stack:
//! zero-copy parsing and in-place building of the 28-byte packets that map
//! IPv4 addresses to MAC addresses.
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
//!
//! The crate is `#![no_std]`, allocates nothing, and has no `unsafe`. The
//! `std` feature (default) only forwards to the dependencies; `arbitrary`
//! implements `arbitrary::Arbitrary` for [`ArpRepr`] and [`ArpOperation`].
//!
//! # Example
//!
//! Answer a request for one of our addresses:
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

#[cfg(test)]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod packet;

pub use error::Error;
/// The MAC address type ARP packets carry (re-exported from
/// `lamina-ethernet`).
pub use lamina_ethernet::MacAddr;
pub use packet::{ArpHeader, ArpOperation, ArpPacket, ArpRepr, HTYPE_ETHERNET, PACKET_LEN};
