//! The forwarding decision of a router (RFC 1812 §5.2 and §5.3).
//!
//! [`forward`] takes a received datagram that is not for this host, the
//! routing table and a [`ForwardConfig`], and says what to do with it. On
//! [`ForwardDecision::Forward`] it has already decremented the TTL in
//! place, updating the header checksum incrementally (RFC 1624 eqn. 3)
//! rather than summing the header again.
//!
//! # Calling protocol
//!
//! When forwarding is enabled, the `Interface` of `lamina-socket`, for
//! each datagram received on an interface:
//!
//! 1. runs the [`PreRouting`](crate::hook::HookPoint::PreRouting) hook;
//! 2. delivers it locally if its destination is one of the host's
//!    addresses or a broadcast or multicast the host accepts (a router
//!    must deliver those even with TTL 0 or 1, RFC 1812 §5.3.1);
//! 3. otherwise calls [`forward`] with the bytes of the datagram, the
//!    [`Arrival`] (interface, and whether the frame was a link-layer
//!    broadcast or multicast), and acts on the decision:
//!    - [`Forward(to)`](ForwardDecision::Forward): run the
//!      [`Forward`](crate::hook::HookPoint::Forward) hook; if
//!      [`total_len`](ForwardTo::total_len) exceeds the smaller of the
//!      route's MTU and the interface's, fragment it with
//!      [`Fragmenter::from_packet`](crate::fragment::Fragmenter::from_packet),
//!      which refuses when Don't Fragment is set (send ICMP Destination
//!      Unreachable, Fragmentation Needed, with the next-hop MTU: RFC 1191
//!      §4); run [`PostRouting`](crate::hook::HookPoint::PostRouting);
//!      resolve [`next_hop`](ForwardTo::next_hop) and transmit on
//!      [`interface`](ForwardTo::interface). If
//!      [`redirect`](ForwardTo::redirect) is set, also send the source an
//!      ICMP Redirect (RFC 1812 §5.2.7.2).
//!    - [`ForwardMulticast`](ForwardDecision::ForwardMulticast) (only when
//!      [`ForwardConfig::forward_multicast`] is set): the TTL is
//!      decremented; multicast routing picks the interfaces.
//!    - [`TimeExceeded`](ForwardDecision::TimeExceeded): send ICMP Time
//!      Exceeded, code 0, to the source (RFC 1812 §5.3.1); the datagram
//!      is unchanged, as the quote needs it.
//!    - [`NoRoute`](ForwardDecision::NoRoute): send ICMP Destination
//!      Unreachable, network unreachable (RFC 1812 §5.2.7.1).
//!    - [`NotForwardable`](ForwardDecision::NotForwardable): discard
//!      silently and count (RFC 1812 §5.3.7: no ICMP error for martians).
//!    - [`Drop`](ForwardDecision::Drop): discard and count as a header
//!      error (RFC 1812 §5.2.2).
//!
//! ICMP errors are never sent about ICMP errors, fragments other than the
//! first, or broadcast and multicast datagrams (RFC 1812 §4.3.2.7); the
//! ICMP layer enforces that, not this module.
//!
//! Options: datagrams with a Loose or Strict Source Route are not
//! forwarded (RFC 7126 §4.3 and §4.4 recommend dropping them by default,
//! as Linux does with `accept_source_route = 0`). Other options travel
//! unchanged; this router does not add itself to Record Route or
//! Timestamp options.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::forward::{forward, Arrival, ForwardConfig, ForwardDecision};
//! use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Packet, Ipv4Repr, Route, RoutingTable};
//! use lamina_netbuf::Serializer;
//!
//! let mut table = RoutingTable::new(16);
//! table.insert("198.51.100.0/24".parse()?, Route::via(Ipv4Addr::new(192, 0, 2, 9), IfaceId(1)))?;
//!
//! let repr = Ipv4Repr::new(Ipv4Addr::new(203, 0, 113, 5), Ipv4Addr::new(198, 51, 100, 7), IpProtocol::UDP);
//! let mut pkt = b"data".wrap_in(&repr).serialize_vec(0).unwrap().into_vec();
//!
//! match forward(&mut pkt, Arrival::unicast(IfaceId(0)), &table, &ForwardConfig::default()) {
//!     ForwardDecision::Forward(to) => {
//!         assert_eq!(to.interface, IfaceId(1));
//!         assert_eq!(to.next_hop, Ipv4Addr::new(192, 0, 2, 9));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! let p = Ipv4Packet::parse_verified(&pkt)?; // the checksum still holds
//! assert_eq!(p.ttl(), 63);
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```

use core::net::Ipv4Addr;

use lamina_netbuf::checksum;

use crate::route::{IfaceId, RoutingTable};
use crate::{Error, Ipv4AddrExt, Ipv4Cidr, Ipv4Option, Ipv4Packet};

/// How strictly the source address is checked against the routing table
/// (RFC 3704, Linux `rp_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReversePathFilter {
    /// No check (Linux's kernel default, `rp_filter = 0`).
    #[default]
    Off,
    /// The best route back to the source must leave through the interface
    /// the datagram arrived on (RFC 3704 §2.2, `rp_filter = 1`).
    Strict,
    /// Some route back to the source must exist, the default route
    /// included (RFC 3704 §2.4, `rp_filter = 2`).
    Loose,
}

/// What a router forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardConfig {
    /// Forward multicast (other than `224.0.0.0/24`, which never leaves
    /// the link, RFC 5771 §4) with
    /// [`ForwardMulticast`](ForwardDecision::ForwardMulticast). Default
    /// false.
    pub forward_multicast: bool,
    /// Forward datagrams to the broadcast address of a directly connected
    /// subnet (RFC 1812 §5.3.5.2). Default false, as RFC 2644 requires.
    pub forward_directed_broadcast: bool,
    /// Verify the header checksum (RFC 1812 §5.2.2). Turn off only when
    /// the device has verified it (receive offload).
    pub verify_checksum: bool,
    /// Offer ICMP Redirects ([`ForwardTo::redirect`], RFC 1812
    /// §5.2.7.2). Default true, as Linux's `send_redirects`.
    pub send_redirects: bool,
    /// Source address validation against the routing table. Default off.
    pub reverse_path: ReversePathFilter,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            forward_multicast: false,
            forward_directed_broadcast: false,
            verify_checksum: true,
            send_redirects: true,
            reverse_path: ReversePathFilter::Off,
        }
    }
}

/// How a datagram arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arrival {
    /// The receiving interface.
    pub interface: IfaceId,
    /// Whether the link-layer frame was addressed to a link broadcast or
    /// multicast address (an Ethernet group address).
    pub link_broadcast: bool,
}

impl Arrival {
    /// Arrival on `interface` in a unicast frame.
    #[inline]
    pub const fn unicast(interface: IfaceId) -> Arrival {
        Arrival {
            interface,
            link_broadcast: false,
        }
    }
}

/// Where a forwarded datagram goes; see [`ForwardDecision::Forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardTo {
    /// The outgoing interface.
    pub interface: IfaceId,
    /// The address to resolve on that link: the route's gateway, or the
    /// destination itself on a connected route.
    pub next_hop: Ipv4Addr,
    /// The prefix that matched.
    pub prefix: Ipv4Cidr,
    /// The route's MTU, if it has one; the interface's MTU bounds too.
    pub route_mtu: Option<u16>,
    /// The datagram's total length (bytes after it in the buffer are link
    /// padding, not to be sent on).
    pub total_len: usize,
    /// Whether Don't Fragment is set.
    pub dont_fragment: bool,
    /// The TTL after the decrement.
    pub ttl: u8,
    /// Set when the datagram leaves through the interface it came in on
    /// towards a next hop on the source's own subnet: the source should
    /// be told, with an ICMP Redirect, to use this address instead (RFC
    /// 1812 §5.2.7.2). The datagram is still forwarded.
    pub redirect: Option<Ipv4Addr>,
}

/// Why a datagram is not forwarded, silently (RFC 1812 §5.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotForwardable {
    /// The source is `0.0.0.0/8`, loopback, multicast, class E or the
    /// limited broadcast (RFC 1812 §5.3.7, §4.2.2.11).
    MartianSource,
    /// The destination is `0.0.0.0/8`, loopback or class E (RFC 1812
    /// §5.3.7).
    MartianDestination,
    /// The source or destination is IPv4 link-local, `169.254.0.0/16`
    /// (RFC 3927 §2.7).
    LinkLocal,
    /// The destination is the limited broadcast `255.255.255.255` (RFC
    /// 1812 §5.3.5.1).
    LimitedBroadcast,
    /// The destination is the broadcast address of a directly connected
    /// subnet and directed broadcasts are not forwarded (RFC 2644).
    DirectedBroadcast,
    /// A multicast destination and multicast forwarding is off.
    Multicast,
    /// A multicast destination in `224.0.0.0/24`, never forwarded (RFC
    /// 5771 §4).
    LinkLocalMulticast,
    /// A multicast datagram whose TTL ran out; no ICMP error is sent about
    /// multicast (RFC 1812 §5.3.1).
    MulticastTtlExpired,
    /// A unicast datagram that arrived in a link-layer broadcast or
    /// multicast frame (RFC 1812 §5.3.4).
    LinkLayerBroadcast,
    /// The datagram carries a Loose or Strict Source Route option (RFC
    /// 7126 §4.3, §4.4).
    SourceRouted,
    /// The source fails the reverse-path check (RFC 3704).
    ReversePath,
}

/// Why a datagram is discarded as a header error (RFC 1812 §5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The header does not parse.
    Malformed(Error),
    /// The header checksum does not verify.
    BadChecksum,
}

/// What to do with a datagram that is not for this host; see the [module
/// docs](self) for each case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardDecision {
    /// Forward it (TTL already decremented, checksum updated).
    Forward(ForwardTo),
    /// Forward a multicast datagram (TTL already decremented, checksum
    /// updated); multicast routing decides where.
    ForwardMulticast {
        /// The datagram's total length.
        total_len: usize,
        /// The TTL after the decrement.
        ttl: u8,
    },
    /// The TTL would reach zero: send ICMP Time Exceeded, code 0 (RFC 1812
    /// §5.3.1). The datagram is unchanged.
    TimeExceeded,
    /// No route: send ICMP Destination Unreachable, network unreachable
    /// (RFC 1812 §5.2.7.1).
    NoRoute,
    /// Discard silently.
    NotForwardable(NotForwardable),
    /// Discard as a header error.
    Drop(DropReason),
}

/// Whether `a` is in `224.0.0.0/24`, the Local Network Control Block.
#[inline]
fn is_local_control_multicast(a: Ipv4Addr) -> bool {
    let [x, y, z, _] = a.octets();
    x == 224 && y == 0 && z == 0
}

/// Decides the fate of `packet` (an IPv4 datagram, possibly followed by
/// link padding), received as `arrival` and not addressed to this host,
/// and on [`ForwardDecision::Forward`] or
/// [`ForwardDecision::ForwardMulticast`] decrements its TTL in place.
///
/// The checks, in order (the order Linux applies them): the header (RFC
/// 1812 §5.2.2), source and destination addresses (§5.3.7, §5.3.5,
/// §5.3.4, RFC 3927 §2.7), source routes, the reverse path, the route
/// (§5.2.7.1), directed broadcast, then the TTL (§5.3.1).
pub fn forward<T>(
    packet: &mut [u8],
    arrival: Arrival,
    table: &RoutingTable<T>,
    config: &ForwardConfig,
) -> ForwardDecision {
    use ForwardDecision as D;
    use NotForwardable as N;
    let (src, dst, ttl, total_len, dont_fragment, source_routed) = {
        let p = match Ipv4Packet::parse(packet) {
            Ok(p) => p,
            Err(e) => return D::Drop(DropReason::Malformed(e)),
        };
        if config.verify_checksum && !p.checksum_ok() {
            return D::Drop(DropReason::BadChecksum);
        }
        let source_routed = !p.options().is_empty()
            && p.iter_options().any(|o| {
                matches!(
                    o,
                    Ok(Ipv4Option::LooseSourceRoute(_) | Ipv4Option::StrictSourceRoute(_))
                )
            });
        (
            p.src(),
            p.dst(),
            p.ttl(),
            usize::from(p.total_len()),
            p.dont_fragment(),
            source_routed,
        )
    };
    if src.is_martian_source() {
        return D::NotForwardable(N::MartianSource);
    }
    if dst.is_broadcast() {
        return D::NotForwardable(N::LimitedBroadcast);
    }
    let multicast = dst.is_multicast();
    if multicast {
        if is_local_control_multicast(dst) {
            return D::NotForwardable(N::LinkLocalMulticast);
        }
        if !config.forward_multicast {
            return D::NotForwardable(N::Multicast);
        }
    } else {
        if dst.is_martian_destination() {
            return D::NotForwardable(N::MartianDestination);
        }
        if arrival.link_broadcast {
            return D::NotForwardable(N::LinkLayerBroadcast);
        }
    }
    if src.is_link_local() || dst.is_link_local() {
        return D::NotForwardable(N::LinkLocal);
    }
    if source_routed {
        return D::NotForwardable(N::SourceRouted);
    }
    let reverse_ok = match config.reverse_path {
        ReversePathFilter::Off => true,
        ReversePathFilter::Strict => table
            .lookup(src)
            .is_some_and(|m| m.route.interface == arrival.interface),
        ReversePathFilter::Loose => table.lookup(src).is_some(),
    };
    if !reverse_ok {
        return D::NotForwardable(N::ReversePath);
    }
    if multicast {
        if ttl <= 1 {
            return D::NotForwardable(N::MulticastTtlExpired);
        }
        let ttl = decrement_ttl(packet);
        return D::ForwardMulticast { total_len, ttl };
    }
    let Some(m) = table.lookup(dst) else {
        return D::NoRoute;
    };
    if m.route.next_hop.is_none()
        && m.prefix.broadcast() == Some(dst)
        && !config.forward_directed_broadcast
    {
        return D::NotForwardable(N::DirectedBroadcast);
    }
    if ttl <= 1 {
        return D::TimeExceeded;
    }
    let next_hop = m.next_hop(dst);
    let redirect = (config.send_redirects && m.route.interface == arrival.interface)
        .then(|| table.lookup(src))
        .flatten()
        .filter(|s| {
            s.route.next_hop.is_none()
                && s.route.interface == arrival.interface
                && s.prefix.contains(next_hop)
        })
        .map(|_| next_hop);
    let to = ForwardTo {
        interface: m.route.interface,
        next_hop,
        prefix: m.prefix,
        route_mtu: m.route.mtu,
        total_len,
        dont_fragment,
        ttl: ttl - 1,
        redirect,
    };
    decrement_ttl(packet);
    D::Forward(to)
}

/// Decrements the TTL of a parsed header (TTL ≥ 1) and updates its
/// checksum incrementally: the TTL shares a 16-bit word with the protocol
/// (RFC 1624 eqn. 3). Returns the new TTL.
fn decrement_ttl(packet: &mut [u8]) -> u8 {
    let Some([ttl, protocol, c0, c1]) = packet
        .get_mut(8..12)
        .and_then(|b| <&mut [u8; 4]>::try_from(b).ok())
    else {
        return 0;
    };
    let new_ttl = ttl.saturating_sub(1);
    let old_word = u16::from_be_bytes([*ttl, *protocol]);
    let new_word = u16::from_be_bytes([new_ttl, *protocol]);
    let sum = checksum::update_u16(u16::from_be_bytes([*c0, *c1]), old_word, new_word);
    *ttl = new_ttl;
    [*c0, *c1] = sum.to_be_bytes();
    new_ttl
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Route;
    use crate::{IpProtocol, Ipv4OptionsBuf, Ipv4Repr, RouteOption};
    use lamina_netbuf::{Rng, SeededRng, Serializer};
    use std::vec::Vec;

    const IN: IfaceId = IfaceId(0);
    const OUT: IfaceId = IfaceId(1);

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A router on 192.0.2.0/24 (in) and 198.51.100.0/24 (out), with
    /// 203.0.113.0/24 behind 198.51.100.1 and a default route via
    /// 192.0.2.254.
    fn table() -> RoutingTable {
        let mut t = RoutingTable::new(16);
        t.insert("192.0.2.0/24".parse().unwrap(), Route::on_link(IN))
            .unwrap();
        t.insert("198.51.100.0/24".parse().unwrap(), Route::on_link(OUT))
            .unwrap();
        t.insert(
            "203.0.113.0/24".parse().unwrap(),
            Route::via(a("198.51.100.1"), OUT).with_mtu(1400),
        )
        .unwrap();
        t.set_default_route(Route::via(a("192.0.2.254"), IN))
            .unwrap();
        t
    }

    fn packet(src: &str, dst: &str, ttl: u8) -> Vec<u8> {
        let mut r = Ipv4Repr::new(a(src), a(dst), IpProtocol::UDP);
        r.ttl = ttl;
        r.identification = 0x4242;
        b"payload!".wrap_in(&r).serialize_vec(0).unwrap().into_vec()
    }

    fn decide(pkt: &mut [u8]) -> ForwardDecision {
        forward(
            pkt,
            Arrival::unicast(IN),
            &table(),
            &ForwardConfig::default(),
        )
    }

    fn not_fwd(src: &str, dst: &str) -> ForwardDecision {
        decide(&mut packet(src, dst, 64))
    }

    #[test]
    fn forwards_with_ttl_decremented_and_checksum_updated_rfc_1812_section_5_3_1() {
        let mut pkt = packet("192.0.2.10", "203.0.113.7", 64);
        let ForwardDecision::Forward(to) = decide(&mut pkt) else {
            panic!()
        };
        assert_eq!(to.interface, OUT);
        assert_eq!(to.next_hop, a("198.51.100.1"));
        assert_eq!(to.prefix, "203.0.113.0/24".parse().unwrap());
        assert_eq!(to.route_mtu, Some(1400));
        assert_eq!(to.total_len, 28);
        assert_eq!(to.ttl, 63);
        assert_eq!(to.redirect, None);
        let p = Ipv4Packet::parse_verified(&pkt).unwrap();
        assert_eq!(p.ttl(), 63);
        // The incremental update gives what a full recomputation gives.
        let mut r = p.to_repr();
        r.ttl = 63;
        let fresh = b"payload!".wrap_in(&r).serialize_vec(0).unwrap();
        assert_eq!(pkt, fresh.as_slice());
    }

    #[test]
    fn incremental_checksum_verifies_for_every_header_rfc_1624() {
        let mut rng = SeededRng::new(11);
        for _ in 0..5000 {
            let mut r = Ipv4Repr::new(
                Ipv4Addr::from_bits(0xc000_0200 | rng.below(256)),
                Ipv4Addr::from_bits(0xcb00_7100 | rng.below(256)),
                IpProtocol(rng.below(256) as u8),
            );
            r.ttl = rng.in_range(2, 255) as u8;
            r.identification = rng.next_u32() as u16;
            r.dscp = rng.below(64) as u8;
            let mut pkt = b"x".wrap_in(&r).serialize_vec(0).unwrap().into_vec();
            let ForwardDecision::Forward(_) = decide(&mut pkt) else {
                panic!()
            };
            assert!(Ipv4Packet::parse_verified(&pkt).is_ok());
        }
    }

    #[test]
    fn ttl_one_or_zero_is_time_exceeded_and_left_unchanged_rfc_1812_section_5_3_1() {
        for ttl in [0, 1] {
            let mut pkt = packet("192.0.2.10", "203.0.113.7", ttl);
            let before = pkt.clone();
            assert_eq!(decide(&mut pkt), ForwardDecision::TimeExceeded);
            assert_eq!(pkt, before);
        }
        let mut pkt = packet("192.0.2.10", "203.0.113.7", 2);
        assert!(matches!(
            decide(&mut pkt),
            ForwardDecision::Forward(ForwardTo { ttl: 1, .. })
        ));
    }

    #[test]
    fn martian_sources_are_not_forwarded_rfc_1812_section_5_3_7() {
        for src in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.9",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert_eq!(
                not_fwd(src, "203.0.113.7"),
                ForwardDecision::NotForwardable(NotForwardable::MartianSource),
                "{src}"
            );
        }
    }

    #[test]
    fn martian_destinations_are_not_forwarded_rfc_1812_section_5_3_7() {
        for dst in ["0.0.0.1", "127.0.0.1", "127.255.255.254", "240.1.2.3"] {
            assert_eq!(
                not_fwd("192.0.2.10", dst),
                ForwardDecision::NotForwardable(NotForwardable::MartianDestination),
                "{dst}"
            );
        }
    }

    #[test]
    fn limited_broadcast_is_never_forwarded_rfc_1812_section_5_3_5_1() {
        assert_eq!(
            not_fwd("192.0.2.10", "255.255.255.255"),
            ForwardDecision::NotForwardable(NotForwardable::LimitedBroadcast)
        );
    }

    #[test]
    fn directed_broadcast_is_off_by_default_rfc_2644_and_optional_rfc_1812_section_5_3_5_2() {
        assert_eq!(
            not_fwd("192.0.2.10", "198.51.100.255"),
            ForwardDecision::NotForwardable(NotForwardable::DirectedBroadcast)
        );
        // Behind a gateway it is not ours to judge: the last router does.
        assert!(matches!(
            not_fwd("192.0.2.10", "203.0.113.255"),
            ForwardDecision::Forward(_)
        ));
        let config = ForwardConfig {
            forward_directed_broadcast: true,
            ..ForwardConfig::default()
        };
        let mut pkt = packet("192.0.2.10", "198.51.100.255", 64);
        assert!(matches!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config),
            ForwardDecision::Forward(ForwardTo { interface: OUT, .. })
        ));
    }

    #[test]
    fn multicast_is_forwarded_only_when_enabled_and_never_link_scope_rfc_5771_section_4() {
        assert_eq!(
            not_fwd("192.0.2.10", "239.1.2.3"),
            ForwardDecision::NotForwardable(NotForwardable::Multicast)
        );
        let config = ForwardConfig {
            forward_multicast: true,
            ..ForwardConfig::default()
        };
        let mut pkt = packet("192.0.2.10", "239.1.2.3", 9);
        assert_eq!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config),
            ForwardDecision::ForwardMulticast {
                total_len: 28,
                ttl: 8
            }
        );
        assert_eq!(Ipv4Packet::parse_verified(&pkt).unwrap().ttl(), 8);
        // Arriving in a link multicast frame is normal for multicast.
        let mut pkt = packet("192.0.2.10", "239.1.2.3", 9);
        let arrival = Arrival {
            interface: IN,
            link_broadcast: true,
        };
        assert!(matches!(
            forward(&mut pkt, arrival, &table(), &config),
            ForwardDecision::ForwardMulticast { .. }
        ));
        let mut pkt = packet("192.0.2.10", "224.0.0.5", 9);
        assert_eq!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config),
            ForwardDecision::NotForwardable(NotForwardable::LinkLocalMulticast)
        );
        let mut pkt = packet("192.0.2.10", "239.1.2.3", 1);
        assert_eq!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config),
            ForwardDecision::NotForwardable(NotForwardable::MulticastTtlExpired)
        );
    }

    #[test]
    fn link_local_addresses_are_not_forwarded_rfc_3927_section_2_7() {
        for (s, d) in [
            ("169.254.1.1", "203.0.113.7"),
            ("192.0.2.10", "169.254.9.9"),
        ] {
            assert_eq!(
                not_fwd(s, d),
                ForwardDecision::NotForwardable(NotForwardable::LinkLocal)
            );
        }
    }

    #[test]
    fn unicast_in_a_link_broadcast_frame_is_not_forwarded_rfc_1812_section_5_3_4() {
        let mut pkt = packet("192.0.2.10", "203.0.113.7", 64);
        let arrival = Arrival {
            interface: IN,
            link_broadcast: true,
        };
        assert_eq!(
            forward(&mut pkt, arrival, &table(), &ForwardConfig::default()),
            ForwardDecision::NotForwardable(NotForwardable::LinkLayerBroadcast)
        );
    }

    #[test]
    fn source_routed_datagrams_are_dropped_rfc_7126_sections_4_3_and_4_4() {
        for lsrr in [true, false] {
            let mut r = Ipv4Repr::new(a("192.0.2.10"), a("203.0.113.7"), IpProtocol::UDP);
            let route = RouteOption {
                pointer: 4,
                data: &[198, 51, 100, 1],
            };
            let mut opts = Ipv4OptionsBuf::new();
            opts.push(&if lsrr {
                Ipv4Option::LooseSourceRoute(route)
            } else {
                Ipv4Option::StrictSourceRoute(route)
            })
            .unwrap();
            r.options = opts;
            let mut pkt = b"x".wrap_in(&r).serialize_vec(0).unwrap().into_vec();
            assert_eq!(
                decide(&mut pkt),
                ForwardDecision::NotForwardable(NotForwardable::SourceRouted)
            );
        }
        // Other options travel unchanged.
        let mut r = Ipv4Repr::new(a("192.0.2.10"), a("203.0.113.7"), IpProtocol::UDP);
        r.options.push(&Ipv4Option::RouterAlert(0)).unwrap();
        let mut pkt = b"x".wrap_in(&r).serialize_vec(0).unwrap().into_vec();
        assert!(matches!(decide(&mut pkt), ForwardDecision::Forward(_)));
        assert_eq!(Ipv4Packet::parse(&pkt).unwrap().options(), &[148, 4, 0, 0]);
    }

    #[test]
    fn no_route_asks_for_net_unreachable_rfc_1812_section_5_2_7_1() {
        let mut t = table();
        t.remove("0.0.0.0/0".parse().unwrap(), 0).unwrap();
        let mut pkt = packet("192.0.2.10", "8.8.8.8", 64);
        assert_eq!(
            forward(
                &mut pkt,
                Arrival::unicast(IN),
                &t,
                &ForwardConfig::default()
            ),
            ForwardDecision::NoRoute
        );
    }

    #[test]
    fn header_errors_are_dropped_rfc_1812_section_5_2_2() {
        let mut pkt = packet("192.0.2.10", "203.0.113.7", 64);
        pkt[10] ^= 0xff;
        assert_eq!(
            decide(&mut pkt),
            ForwardDecision::Drop(DropReason::BadChecksum)
        );
        // With receive offload the checksum is the device's business.
        let config = ForwardConfig {
            verify_checksum: false,
            ..ForwardConfig::default()
        };
        assert!(matches!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config),
            ForwardDecision::Forward(_)
        ));
        let mut short = packet("192.0.2.10", "203.0.113.7", 64);
        short.truncate(25);
        assert!(matches!(
            decide(&mut short),
            ForwardDecision::Drop(DropReason::Malformed(Error::Truncated { .. }))
        ));
        let mut v6 = packet("192.0.2.10", "203.0.113.7", 64);
        v6[0] = 0x65;
        assert!(matches!(
            decide(&mut v6),
            ForwardDecision::Drop(DropReason::Malformed(Error::BadVersion { version: 6 }))
        ));
        assert!(matches!(decide(&mut []), ForwardDecision::Drop(_)));
    }

    #[test]
    fn redirect_offered_when_leaving_by_the_arrival_interface_rfc_1812_section_5_2_7_2() {
        // 192.0.2.10 sends to us what its default gateway 192.0.2.254
        // should have had.
        let mut pkt = packet("192.0.2.10", "8.8.8.8", 64);
        let ForwardDecision::Forward(to) = decide(&mut pkt) else {
            panic!()
        };
        assert_eq!(to.interface, IN);
        assert_eq!(to.redirect, Some(a("192.0.2.254")));
        // A source not on that subnet gets none.
        let mut pkt = packet("203.0.113.9", "8.8.8.8", 64);
        let ForwardDecision::Forward(to) = decide(&mut pkt) else {
            panic!()
        };
        assert_eq!(to.redirect, None);
        // Nor when redirects are off.
        let config = ForwardConfig {
            send_redirects: false,
            ..ForwardConfig::default()
        };
        let mut pkt = packet("192.0.2.10", "8.8.8.8", 64);
        let ForwardDecision::Forward(to) =
            forward(&mut pkt, Arrival::unicast(IN), &table(), &config)
        else {
            panic!()
        };
        assert_eq!(to.redirect, None);
    }

    #[test]
    fn reverse_path_filter_checks_the_source_rfc_3704() {
        let strict = ForwardConfig {
            reverse_path: ReversePathFilter::Strict,
            ..ForwardConfig::default()
        };
        // 198.51.100.9 lives behind OUT but arrives on IN: spoofed.
        let mut pkt = packet("198.51.100.9", "192.0.2.10", 64);
        assert_eq!(
            forward(&mut pkt, Arrival::unicast(IN), &table(), &strict),
            ForwardDecision::NotForwardable(NotForwardable::ReversePath)
        );
        let mut pkt = packet("198.51.100.9", "192.0.2.10", 64);
        assert!(matches!(
            forward(&mut pkt, Arrival::unicast(OUT), &table(), &strict),
            ForwardDecision::Forward(_)
        ));
        let loose = ForwardConfig {
            reverse_path: ReversePathFilter::Loose,
            ..ForwardConfig::default()
        };
        let mut t = table();
        t.remove("0.0.0.0/0".parse().unwrap(), 0).unwrap();
        let mut pkt = packet("8.8.8.8", "192.0.2.10", 64);
        assert_eq!(
            forward(&mut pkt, Arrival::unicast(OUT), &t, &loose),
            ForwardDecision::NotForwardable(NotForwardable::ReversePath)
        );
        let mut pkt = packet("198.51.100.9", "192.0.2.10", 64);
        assert!(matches!(
            forward(&mut pkt, Arrival::unicast(IN), &t, &loose),
            ForwardDecision::Forward(_)
        ));
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = SeededRng::new(5);
        let t = table();
        for _ in 0..20_000 {
            let mut buf = std::vec![0u8; rng.below(80) as usize];
            rng.fill_bytes(&mut buf);
            if let Some(b) = buf.first_mut() {
                *b = 0x45;
            }
            let config = ForwardConfig {
                verify_checksum: rng.below(2) == 0,
                ..ForwardConfig::default()
            };
            let _ = forward(&mut buf, Arrival::unicast(IN), &t, &config);
        }
    }
}
