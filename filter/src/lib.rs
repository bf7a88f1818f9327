//! Netfilter-style packet filtering for the Lamina network stack: tables
//! and chains of rules at the five hook points, connection tracking, and
//! NAT, on the [`PacketHook`](lamina_ipv4::hook::PacketHook) trait of
//! `lamina-ipv4` (so that `lamina-socket` never depends on this crate and
//! pays nothing without it).
//!
//! # Example
//!
//! A host's input firewall, in the `nft`-like syntax: replies to its own
//! flows, and DNS and NTP from its subnet; everything else is dropped.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_filter::{Filter, FilterConfig, Ruleset};
//! use lamina_ipv4::hook::{HookPoint, PacketHook, Verdict};
//! use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Repr};
//! use lamina_netbuf::{Instant, SeededRng, Serializer};
//! use lamina_udp::UdpRepr;
//!
//! let rules: Ruleset = "
//!     table ip filter {
//!         chain input {
//!             type filter hook input priority 0; policy drop;
//!             ct state established,related accept
//!             ip saddr 192.0.2.0/24 udp dport { 53, 123 } ct state new accept
//!         }
//!     }"
//! .parse()
//! .unwrap();
//! let mut filter = Filter::new(rules, FilterConfig::default(), &mut SeededRng::new(1)).unwrap();
//!
//! let datagram = |src: Ipv4Addr, port: u16| {
//!     let udp = UdpRepr { src_port: 40000, dst_port: port };
//!     let ip = Ipv4Repr::new(src, Ipv4Addr::new(192, 0, 2, 1), IpProtocol::UDP);
//!     b"query".wrap_in(udp.builder(ip.src, ip.dst)).wrap_in(&ip).serialize_vec(0).unwrap()
//! };
//! let mut judge = |mut d: lamina_netbuf::PacketBuf| {
//!     let now = Instant::ZERO;
//!     let lan = Some(IfaceId(0));
//!     match filter.hook(HookPoint::PreRouting, d.as_mut_slice(), lan, None, now) {
//!         Verdict::Accept => filter.hook(HookPoint::Input, d.as_mut_slice(), lan, None, now),
//!         v => v,
//!     }
//! };
//! assert_eq!(judge(datagram(Ipv4Addr::new(192, 0, 2, 7), 53)), Verdict::Accept);
//! assert_eq!(judge(datagram(Ipv4Addr::new(192, 0, 2, 7), 22)), Verdict::Drop);
//! assert_eq!(judge(datagram(Ipv4Addr::new(203, 0, 113, 5), 53)), Verdict::Drop);
//! ```
//!
//! # What is in the crate
//!
//! - [`Ruleset`] → [`Table`] → [`Chain`] → [`Rule`]: the typed model.
//!   Base chains attach to a hook with a priority (netfilter's order:
//!   destination NAT −100, filter 0, source NAT 100) and a default
//!   [`Policy`]; user chains are reached by `jump`/`goto` and left by
//!   `return` (loops and nesting deeper than [`MAX_JUMP_DEPTH`] are
//!   refused when the ruleset is built, [`BuildError`]). [`Match`]es cover
//!   interfaces, addresses through [`AddrSet`] (longest-prefix match), the
//!   protocol, ports through [`PortSet`], ICMP type and code, TCP flags,
//!   length, mark and [`CtState`]; [`Action`]s are accept, drop, reject
//!   (ICMP unreachable or TCP reset, sent through
//!   [`next_injected`](lamina_ipv4::hook::PacketHook::next_injected)),
//!   queue, jump/goto/return, log (to a rate-limited callback), set mark,
//!   and snat/masquerade/dnat. Every rule counts packets and bytes.
//! - [`parse`]: the same model from a text syntax close to `nft`, with
//!   errors giving the byte offset of the bad token; [`Ruleset`]'s
//!   `Display` prints it back.
//! - [`conntrack`]: a bounded table of flows (TCP with window tracking,
//!   UDP, ICMP echo, others by address), ICMP errors related to the flow
//!   they quote, timeouts driven by `now`.
//! - NAT rewrites addresses, ports and echo identifiers in place, inside
//!   the quoted datagram of an ICMP error too, with every checksum fixed
//!   by incremental update (RFC 1624).
//! - [`Filter`] ties them together as a `PacketHook`.
//!
//! # How a datagram is judged
//!
//! At each hook the filter finds the datagram's flow (a datagram seen at
//! the previous hook of its way is recognised even after NAT rewrote it),
//! runs the base chains of that hook in priority order — `nat` chains
//! only for a flow's first datagram, binding its translation — and
//! rewrites the datagram at the NAT point (the destination at PreRouting
//! and Output, the source at PostRouting and Input). A chain's `accept`
//! passes the datagram to the next chain; `drop`, `reject` and `queue`
//! end its way. A new flow enters the conntrack table only when its first
//! datagram is accepted at its last hook (PostRouting, or Input for
//! what arrives; a datagram this host sends itself meets PostRouting
//! too, before it loops back).
//!
//! Fragments: the `Interface` runs PreRouting before reassembly, so the
//! filter sees fragments there (and when forwarding). A first fragment
//! carries the ports and is tracked, filtered and translated like a whole
//! datagram (its transport checksum is fixed incrementally); the later
//! fragments of the same datagram (same source, destination, protocol and
//! identification, RFC 791 §3.2) follow its verdict at each hook and its
//! NAT, addresses only. A later fragment that arrives before its first is
//! [`CtState::Invalid`]. Up to 64 datagrams are remembered, for 30 s.
//!
//! A datagram's mark lives while it crosses the hooks of one way through
//! the stack (it is not stored in the flow).
//!
//! # Damaged, late and stale datagrams
//!
//! A received datagram that would open a flow, or a TCP segment that
//! would move one, is checked first (unless its device did,
//! [`PacketHook::hook_received`](lamina_ipv4::hook::PacketHook::hook_received);
//! [`ConntrackConfig::checksum`]): with a wrong transport checksum it is
//! [`CtState::Invalid`] and changes no flow — a flipped bit cannot open a
//! flow or move one's window. A TCP
//! segment that is merely late belongs to its flow but changes nothing;
//! a SYN on a flow the table still thinks established is let through, and
//! the flow starts over if the server answers it with a SYN-ACK (the
//! [`conntrack`] module docs give the rules).
//!
//! A router that translates should drop what conntrack finds invalid at
//! `input` as well as `forward`: an invalid datagram is not translated,
//! so one addressed to a masqueraded port reaches the router's own stack,
//! whose TCP answers it with a reset toward the peer.
//!
//! ```text
//! chain input { type filter hook input priority 0; policy accept; ct state invalid drop }
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod conntrack;
mod filter;
mod nat;
mod packet;
pub mod parse;
mod rules;

#[cfg(test)]
mod tests;

/// The README's examples, run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use conntrack::{ConnInfo, Conntrack, ConntrackConfig, ConntrackStats, CtState, Dir, TcpState};
pub use filter::{Counters, Filter, FilterConfig, FilterStats, LogRecord};
pub use packet::Tuple;
pub use parse::ParseError;
pub use rules::{
    Action, AddrSet, BaseChain, BuildError, Chain, ChainType, MAX_JUMP_DEPTH, Match, Policy,
    PortSet, RejectWith, Rule, Ruleset, StateSet, Table,
};
