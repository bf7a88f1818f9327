//! A sans-I/O TCP for the Lamina network stack: segments and options, the
//! RFC 9293 state machine, listeners, SACK and congestion control.
//!
//! # Example
//!
//! A handshake and some data between a client [`Connection`] and
//! a [`Listener`], each segment serialised and parsed as on a wire:
//!
//! ```
//! use core::net::{Ipv4Addr, SocketAddrV4};
//! use lamina_netbuf::{Instant, SeededRng, Serializer, serialize::EmptyBody};
//! use lamina_tcp::{ChecksumMode, Connection, Listener, ListenerVerdict, SeqNumber, State,
//!                  TcpConfig, TcpSegment};
//!
//! let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 80));
//! let (ca, sb) = (SocketAddrV4::new(a, 40000), SocketAddrV4::new(b, 80));
//! let config = TcpConfig::default();
//! let now = Instant::ZERO;
//! let mut listener = Listener::new(sb, config.clone(), 8, &mut SeededRng::new(1));
//! let mut client = Connection::connect(ca, sb, &config, SeqNumber(7), 1460, now);
//! let mut server: Option<Box<Connection>> = None;
//! let mut buf = [0u8; 1600];
//! client.send(b"hello")?;
//! for _ in 0..10 {
//!     // Client -> server.
//!     while let Some(out) = client.poll_transmit(now) {
//!         let n = out.write(a, b, &mut buf, ChecksumMode::Compute);
//!         let seg = TcpSegment::parse_verified(&buf[..n], a, b).unwrap();
//!         match server.as_mut() {
//!             Some(s) => s.on_segment(&seg, now),
//!             None => {
//!                 let v = listener.on_segment(b, ca, &seg, 1460, now);
//!                 assert_eq!(v, ListenerVerdict::Handled);
//!                 server = listener.accept();
//!             }
//!         }
//!     }
//!     // Server -> client.
//!     let mut replies = Vec::new();
//!     while let Some((_, _, repr)) = listener.poll_transmit(now) {
//!         replies.push(EmptyBody.wrap_in(repr.builder(b, a).unwrap()).serialize_vec(0).unwrap().as_slice().to_vec());
//!     }
//!     if let Some(s) = server.as_mut() {
//!         while let Some(out) = s.poll_transmit(now) {
//!             let n = out.write(b, a, &mut buf, ChecksumMode::Compute);
//!             replies.push(buf[..n].to_vec());
//!         }
//!     }
//!     for r in replies {
//!         client.on_segment(&TcpSegment::parse_verified(&r, b, a).unwrap(), now);
//!     }
//! }
//! let server = server.as_mut().unwrap();
//! assert_eq!(client.state(), State::Established);
//! let mut got = [0u8; 16];
//! assert_eq!(server.recv(&mut got)?, 5);
//! assert_eq!(&got[..5], b"hello");
//! # Ok::<(), lamina_tcp::ConnError>(())
//! ```
//!
//! # What is in the crate
//!
//! The wire format ([`wire`], re-exported here) and sequence-number
//! arithmetic:
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
//! On top of it, the protocol itself, sans-I/O (segments and the caller's
//! clock in, segments and the next timer out):
//!
//! - [`Connection`]: the RFC 9293 state machine (all eleven states,
//!   simultaneous open and close, half-close, RST handling with RFC 5961
//!   challenge ACKs, TIME-WAIT), with a send queue that can lend its
//!   bytes to a device ([`sendq::SendQueue`]) and a receive [`RingBuffer`],
//!   out-of-order reassembly ([`Assembler`]), RFC 6298 retransmission
//!   ([`RttEstimator`]), NewReno fast recovery (RFC 5681, 6582) and SACK
//!   loss recovery ([`Scoreboard`], RFC 6675) with RACK time-based loss
//!   detection ([`Rack`], RFC 8985), window scaling and
//!   timestamps with PAWS (RFC 7323), Nagle, delayed ACKs, silly-window
//!   avoidance, zero-window probes and keepalive, and congestion control
//!   behind the [`CongestionControl`] trait ([`NewReno`], [`Cubic`]).
//! - [`Listener`]: a bounded SYN queue of small half-open entries, SYN
//!   cookies ([`SynCookies`]) when it is full, and a bounded accept queue;
//!   ISNs per RFC 6528 ([`IsnGenerator`]).
//! - [`reset_for`]: the RST answering a segment that reached nothing.
//!
//! It is part of [Lamina](https://github.com/lamina-net/lamina), a TCP/IPv4
//! stack built as a family of independent crates. It is `#![no_std]`; the
//! `std` feature adds only conveniences, and `arbitrary` derives
//! `arbitrary::Arbitrary` for [`TcpRepr`] and its parts.
//!
//! # Example: a segment, built and parsed
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

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod assembler;
pub mod cc;
mod config;
mod conn;
pub mod cookie;
mod error;
pub mod isn;
mod listener;
pub mod rack;
mod recvq;
pub mod ring;
pub mod rtt;
pub mod sack;
pub mod sendq;
mod seq;
pub mod wire;

pub use assembler::{Assembler, TooManyRanges};
pub use cc::{AckEvent, AnyCc, CcAlgorithm, CongestionControl, Cubic, NewReno};
pub use config::{Keepalive, TcpConfig};
pub use conn::{ConnError, ConnStats, Connection, Outgoing, State, reset_for};
pub use cookie::{CookieParams, SynCookies};
pub use error::Error;
pub use isn::IsnGenerator;
pub use listener::{Listener, ListenerStats, ListenerVerdict};
pub use rack::Rack;
pub use ring::RingBuffer;
pub use rtt::RttEstimator;
pub use sack::{SackUpdate, Scoreboard};
pub use sendq::SendQueue;

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use seq::SeqNumber;
pub use wire::{
    ChecksumMode, HEADER_LEN, IP_PROTOCOL, MAX_HEADER_LEN, MAX_OPTIONS_LEN, OptionBytes, SackBlock,
    SackBlocks, SynOptions, TcpBuilder, TcpFlags, TcpHeader, TcpOption, TcpOptionIter, TcpOptions,
    TcpRepr, TcpSegment, Timestamps,
};
