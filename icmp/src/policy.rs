//! When an ICMP error may be sent at all (RFC 1122 §3.2.2, RFC 1812
//! §4.3.2.7), the error messages a stack sends, and the IPv4 header they
//! go in.
//!
//! # Calling protocol
//!
//! When the IP layer or a transport drops a datagram for a reason that
//! earns an error (no socket on a UDP port, an unknown protocol, a DF
//! datagram too big for the next hop, a TTL run out, a bad header field),
//! it hands the datagram, as received, to
//! [`ErrorGenerator::error`](crate::ErrorGenerator::error), which applies
//! [`should_send_error`], then the rate limit, and gives back an
//! [`ErrorBuilder`](crate::ErrorBuilder) to wrap in
//! [`error_ipv4_repr`]'s header. [`should_send_error`] can also be called
//! alone.
//!
//! What the address checks need that a datagram does not say — whether
//! the frame was a link-layer broadcast, and whether an address is a
//! directed broadcast of an attached subnet — the caller states in an
//! [`ErrorContext`]; the limited broadcast, multicast, zero, loopback and
//! class E addresses are recognised from the addresses themselves.

use core::fmt;
use core::net::Ipv4Addr;

use lamina_ipv4::{IpProtocol, Ipv4AddrExt, Ipv4Header, Ipv4Repr};

use crate::{IcmpRepr, IcmpType, ParameterProblemCode, TimeExceededCode, UnreachableCode};

/// What the caller knows about a datagram that an error would be about,
/// beyond its bytes.
///
/// ```
/// use lamina_icmp::ErrorContext;
///
/// let ctx = ErrorContext { link_broadcast: true, ..ErrorContext::default() };
/// assert!(!ctx.dst_is_broadcast);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErrorContext {
    /// The frame was sent to a link-layer broadcast or multicast address
    /// (RFC 1122 §3.2.2: no error about it).
    pub link_broadcast: bool,
    /// The datagram's destination is a directed broadcast address of an
    /// attached subnet (RFC 1122 §3.3.6). The limited broadcast and
    /// multicast addresses need no flag.
    pub dst_is_broadcast: bool,
    /// The datagram's source is a directed broadcast address of an
    /// attached subnet, so it does not name a single host.
    pub src_is_broadcast: bool,
    /// The datagram arrived on a loopback interface. A loopback source
    /// (`127.0.0.0/8`) is then a host of ours and may be answered (a UDP
    /// socket on `127.0.0.1` gets "connection refused"); from any other
    /// interface it is a martian (RFC 1122 §3.2.1.3 (g)) and is not.
    pub loopback_interface: bool,
}

/// Why no error is sent about a datagram (RFC 1122 §3.2.2, RFC 1812
/// §4.3.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suppression {
    /// The datagram is itself an ICMP error message, or an ICMP message
    /// of a type this crate does not know (treated as an error to be
    /// safe), or an ICMP datagram too short to show its type.
    AboutIcmpError,
    /// The datagram was sent to the limited broadcast `255.255.255.255`,
    /// a directed broadcast ([`ErrorContext::dst_is_broadcast`]) or the
    /// obsolete all-zeros broadcast `0.0.0.0`.
    BroadcastDestination,
    /// The datagram was sent to a multicast address (`224.0.0.0/4`).
    MulticastDestination,
    /// The frame was a link-layer broadcast or multicast
    /// ([`ErrorContext::link_broadcast`]).
    LinkBroadcast,
    /// The datagram is a fragment other than the first (nonzero offset).
    NonInitialFragment,
    /// The datagram's source does not name a single host: `0.0.0.0/8`,
    /// loopback (off a loopback interface), the limited broadcast, a
    /// directed broadcast, multicast or class E.
    SourceNotUnicast,
    /// The datagram's IPv4 header cannot be read (too short, not version
    /// 4, a header length below 5), so it can neither be judged nor
    /// quoted.
    Unreadable,
}

impl Suppression {
    /// Every reason, in declaration order.
    pub const ALL: [Suppression; 7] = [
        Suppression::AboutIcmpError,
        Suppression::BroadcastDestination,
        Suppression::MulticastDestination,
        Suppression::LinkBroadcast,
        Suppression::NonInitialFragment,
        Suppression::SourceNotUnicast,
        Suppression::Unreadable,
    ];

    /// The reason's position in [`Suppression::ALL`].
    #[inline]
    pub const fn index(self) -> usize {
        match self {
            Suppression::AboutIcmpError => 0,
            Suppression::BroadcastDestination => 1,
            Suppression::MulticastDestination => 2,
            Suppression::LinkBroadcast => 3,
            Suppression::NonInitialFragment => 4,
            Suppression::SourceNotUnicast => 5,
            Suppression::Unreadable => 6,
        }
    }
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Suppression::AboutIcmpError => "about an ICMP error",
            Suppression::BroadcastDestination => "sent to a broadcast address",
            Suppression::MulticastDestination => "sent to a multicast address",
            Suppression::LinkBroadcast => "sent as a link-layer broadcast",
            Suppression::NonInitialFragment => "a non-initial fragment",
            Suppression::SourceNotUnicast => "from a source that is not a unicast host",
            Suppression::Unreadable => "unreadable IPv4 header",
        })
    }
}

/// Whether an ICMP error may be sent about `offending`, a datagram as
/// received (its IPv4 header and whatever follows; link padding does no
/// harm). `Ok(())` means yes; otherwise the reason it must not be.
///
/// RFC 1122 §3.2.2 and RFC 1812 §4.3.2.7 forbid an error about:
///
/// - an ICMP error message (but ICMP queries, such as an Echo Request to
///   a protocol-less host, may earn one). An ICMP type this crate does
///   not know is treated as an error, as Linux does;
/// - a datagram destined to an IP broadcast or multicast address;
/// - a datagram sent as a link-layer broadcast;
/// - a fragment other than the first;
/// - a datagram whose source does not define a single host: a zero,
///   loopback, broadcast, multicast or class E address.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{should_send_error, ErrorContext, Suppression};
/// use lamina_ipv4::{IpProtocol, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let to = |dst| {
///     let ip = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 9), dst, IpProtocol::UDP);
///     [0u8; 8].wrap_in(&ip).serialize_vec(0).unwrap()
/// };
/// let ctx = ErrorContext::default();
/// assert_eq!(should_send_error(to(Ipv4Addr::new(192, 0, 2, 1)).as_slice(), &ctx), Ok(()));
/// assert_eq!(
///     should_send_error(to(Ipv4Addr::BROADCAST).as_slice(), &ctx),
///     Err(Suppression::BroadcastDestination),
/// );
/// ```
pub fn should_send_error(offending: &[u8], ctx: &ErrorContext) -> Result<(), Suppression> {
    let h = Ipv4Header::peek(offending).map_err(|_| Suppression::Unreadable)?;
    if h.version() != 4 || h.ihl() < 5 || offending.len() < h.header_len() {
        return Err(Suppression::Unreadable);
    }
    if h.fragment_offset() != 0 {
        return Err(Suppression::NonInitialFragment);
    }
    let (src, dst) = (h.src(), h.dst());
    if dst.is_multicast() {
        return Err(Suppression::MulticastDestination);
    }
    if dst.is_broadcast() || dst.is_unspecified() || ctx.dst_is_broadcast {
        return Err(Suppression::BroadcastDestination);
    }
    if ctx.link_broadcast {
        return Err(Suppression::LinkBroadcast);
    }
    let loopback_ok = ctx.loopback_interface && src.is_loopback();
    if src.is_this_network()
        || (src.is_loopback() && !loopback_ok)
        || src.is_broadcast()
        || src.is_multicast()
        || src.is_reserved_class_e()
        || ctx.src_is_broadcast
    {
        return Err(Suppression::SourceNotUnicast);
    }
    if h.protocol() == IpProtocol::ICMP {
        // The type octet, if the datagram (up to its total length) has one.
        let msg_type = offending
            .get(h.header_len())
            .copied()
            .filter(|_| usize::from(h.total_len()) > h.header_len());
        match msg_type.map(IcmpType) {
            Some(t) if t.name().is_some() && !t.is_error() => {}
            _ => return Err(Suppression::AboutIcmpError),
        }
    }
    Ok(())
}

/// The error messages a host or router sends, by name.
impl IcmpRepr {
    /// Destination Unreachable, port unreachable: no socket on the
    /// destination port (RFC 1122 §4.1.3.1 for UDP).
    pub const PORT_UNREACHABLE: IcmpRepr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::PortUnreachable,
        next_hop_mtu: 0,
    };

    /// Destination Unreachable, protocol unreachable: no transport for
    /// the datagram's protocol (RFC 1122 §3.2.2.1).
    pub const PROTOCOL_UNREACHABLE: IcmpRepr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::ProtocolUnreachable,
        next_hop_mtu: 0,
    };

    /// Destination Unreachable, host unreachable: for example the next
    /// hop's address could not be resolved (RFC 1122 §2.3.2.1).
    pub const HOST_UNREACHABLE: IcmpRepr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::HostUnreachable,
        next_hop_mtu: 0,
    };

    /// Destination Unreachable, net unreachable: no route (RFC 1812
    /// §5.2.7.1).
    pub const NET_UNREACHABLE: IcmpRepr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::NetUnreachable,
        next_hop_mtu: 0,
    };

    /// Time Exceeded, TTL exceeded in transit (RFC 1812 §5.3.1).
    pub const TTL_EXCEEDED: IcmpRepr = IcmpRepr::TimeExceeded {
        code: TimeExceededCode::TtlExceeded,
    };

    /// Time Exceeded, fragment reassembly time exceeded (RFC 1122
    /// §3.3.2; sent only when the first fragment arrived).
    pub const REASSEMBLY_TIME_EXCEEDED: IcmpRepr = IcmpRepr::TimeExceeded {
        code: TimeExceededCode::FragmentReassembly,
    };

    /// Destination Unreachable, fragmentation needed and DF set, with the
    /// next-hop MTU (RFC 1191 §4, RFC 1812 §5.2.7.1).
    #[inline]
    pub const fn fragmentation_needed(next_hop_mtu: u16) -> IcmpRepr {
        IcmpRepr::DestUnreachable {
            code: UnreachableCode::FragmentationNeeded,
            next_hop_mtu,
        }
    }

    /// Parameter Problem pointing at the offending octet of the quoted
    /// datagram (RFC 792, RFC 1122 §3.2.2.5).
    #[inline]
    pub const fn parameter_problem(pointer: u8) -> IcmpRepr {
        IcmpRepr::ParameterProblem {
            code: ParameterProblemCode::Pointer,
            pointer,
        }
    }
}

/// The DSCP of the ICMP errors this crate's helpers address: class
/// selector 6, "internetwork control" (RFC 1812 §4.3.2.5 asks for
/// precedence 6 or 7; RFC 2474 §4.2.2 maps it to CS6).
pub const ERROR_DSCP: u8 = 48;

/// The IPv4 header of an error about a datagram whose header is
/// `offending`: from `local` (one of our addresses: the offending
/// datagram's destination when it was ours, else the address of the
/// interface it came in on, RFC 1122 §3.2.2 / RFC 1812 §4.3.2.4) to the
/// offending datagram's source, protocol ICMP, TTL 64, DSCP
/// [`ERROR_DSCP`], no options. The IP layer fills the identification.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{error_ipv4_repr, ERROR_DSCP};
/// use lamina_ipv4::{IpProtocol, Ipv4Header, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let peer = Ipv4Addr::new(192, 0, 2, 9);
/// let me = Ipv4Addr::new(192, 0, 2, 1);
/// let dgram = [0u8; 8].wrap_in(&Ipv4Repr::new(peer, me, IpProtocol::UDP)).serialize_vec(0)?;
/// let ip = error_ipv4_repr(Ipv4Header::peek(dgram.as_slice()).unwrap(), me);
/// assert_eq!((ip.src, ip.dst, ip.protocol, ip.dscp), (me, peer, IpProtocol::ICMP, ERROR_DSCP));
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[inline]
pub fn error_ipv4_repr(offending: &Ipv4Header, local: Ipv4Addr) -> Ipv4Repr {
    Ipv4Repr {
        dscp: ERROR_DSCP,
        ..Ipv4Repr::new(local, offending.src(), IpProtocol::ICMP)
    }
}

#[cfg(test)]
mod tests;
