//! The Lamina network stack assembled: the [`Interface`] that ties devices
//! to the protocol layers, and the socket API.
//!
//! # Example
//!
//! Two hosts on an in-memory wire; one pings the other (ARP resolution
//! first, then the echo), driven by a fake clock:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ethernet::MacAddr;
//! use lamina_netbuf::{Instant, SeededRng};
//! use lamina_netdev::{wire, LinkConfig};
//! use lamina_socket::{IcmpSocket, Interface, InterfaceConfig, SocketSet};
//!
//! let mut rng = SeededRng::new(1);
//! let (mut dev_a, mut dev_b) = wire(LinkConfig::new());
//! let now = Instant::ZERO;
//!
//! let mut a = Interface::new(InterfaceConfig::default(), &mut rng);
//! let if_a = a.add_device(&dev_a, MacAddr::new(2, 0, 0, 0, 0, 1))?;
//! a.add_address(if_a, "192.0.2.1/24".parse()?, now)?;
//! let mut b = Interface::new(InterfaceConfig::default(), &mut rng);
//! let if_b = b.add_device(&dev_b, MacAddr::new(2, 0, 0, 0, 0, 2))?;
//! b.add_address(if_b, "192.0.2.2/24".parse()?, now)?;
//!
//! let mut sockets_a = SocketSet::new(8, &mut rng);
//! let mut sockets_b = SocketSet::new(8, &mut rng);
//! let ping = sockets_a.add(IcmpSocket::default())?;
//! sockets_a.bind_icmp(ping, Some(0x1234))?;
//! sockets_a.icmp(ping)?.send_echo(Ipv4Addr::new(192, 0, 2, 2), 1, b"hello")?;
//!
//! // No latency on the wire: a few polls at the same instant suffice.
//! for _ in 0..4 {
//!     a.poll(now, &mut dev_a, &mut sockets_a);
//!     b.poll(now, &mut dev_b, &mut sockets_b);
//! }
//! let reply = sockets_a.icmp(ping)?.recv_echo()?;
//! assert_eq!((reply.src, reply.seq_no, &reply.data[..]), (Ipv4Addr::new(192, 0, 2, 2), 1, &b"hello"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`Interface`]: one host (or router) over one or more devices, with
//!   several addresses per device, a routing table, an ARP neighbor cache
//!   per Ethernet device, echo replies, rate-limited ICMP errors, received
//!   ICMP errors delivered to the socket they concern, ICMP redirects
//!   followed (a host) or sent (a router), forwarding, fragmentation and
//!   reassembly, and packet hooks (`lamina-ipv4`). It
//!   owns no clock, device or socket: [`Interface::poll`] takes `now`, a
//!   [`DeviceSet`] (one device, a slice, or a tuple of devices of
//!   different types) and the [`SocketSet`]; [`Interface::poll_at`] says
//!   when to call again.
//! - Sockets in a [`SocketSet`] named by [`SocketHandle`]s:
//!   [`TcpSocket`] (listening with [`SocketSet::listen_tcp`] and
//!   [`SocketSet::accept_tcp`], or connected with
//!   [`SocketSet::connect_tcp`]; the protocol is `lamina-tcp`'s),
//!   [`UdpSocket`], [`IcmpSocket`] (ping) and [`RawSocket`] (by IP
//!   protocol number). Failures are an [`Error`], convertible to
//!   `std::io::Error` with the `std` feature.
//! - With `std`, [`stack`]: a `Stack` running the interface on a TAP (or
//!   any device) in a background thread with the system clock, and
//!   blocking `TcpListener`, `TcpStream` (`std::io::Read` + `Write`),
//!   `UdpSocket` and `PingSocket` wrappers.
//! - [`dissect`]: a frame dissector over every wire crate, which the
//!   `decode` example (a small tcpdump) and the capture-corpus tests use.
//! - [`guide`]: how to embed Lamina in your own OS (clock, `Device`,
//!   `Hal`, the poll loop), write tests with the fake clock and virtual
//!   wires, and replay a pcap corpus in your tests.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]` (with
//! `alloc`); the `std` feature adds only conveniences (the
//! `std::io::Error` conversion and the [`stack`] module).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(feature = "std")]
extern crate std;

mod connmap;
pub mod devices;
pub mod dissect;
mod dst_cache;
mod error;
pub mod guide;
mod icmp;
mod iface;
mod queue;
mod raw;
mod redirect;
mod set;
#[cfg(feature = "std")]
pub mod stack;
mod tcp;
mod udp;

/// The README's examples, run as doctests so that it stays true.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use devices::{DeviceSet, DeviceVisitor};
pub use error::Error;
pub use icmp::{EchoReplyMeta, EchoResponse, IcmpSocket, MAX_ECHO_DATA};
pub use iface::{Interface, InterfaceConfig, InterfaceStats, MAX_QUEUED, QueuedPacket};
/// The TCP protocol crate (configuration, states, errors), re-exported.
pub use lamina_tcp as tcp_proto;
pub use raw::RawSocket;
pub use set::{EPHEMERAL_FIRST, EPHEMERAL_LAST, Socket, SocketHandle, SocketSet};
pub use tcp::{MAX_BACKLOG, Shutdown, TcpSocket};
pub use udp::{MAX_UDP_PAYLOAD, UdpConfig, UdpSocket};
