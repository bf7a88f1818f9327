//! Received ICMP errors, turned into what a socket reports (RFC 1122
//! §3.2.2, §4.1.3.3, §4.2.3.9; RFC 5927).
//!
//! # Calling protocol
//!
//! For each received ICMP error message (checksum verified), call
//! [`received_error`]. It gives the error's meaning
//! ([`IcmpErrorKind`]) and the flow of the datagram it quotes
//! ([`QuotedFlow`]): the protocol, addresses and ports (or the ICMP query
//! identifier) of a datagram *we* sent, so the socket is found by looking
//! the flow up with the quoted source as the local end and the quoted
//! destination as the remote one. Deliver the error to that socket:
//!
//! - UDP (RFC 1122 §4.1.3.3: UDP MUST pass ICMP errors to the
//!   application): a connected socket reports it on its next call
//!   (Linux reports asynchronous errors only on connected sockets, unless
//!   `IP_RECVERR`); "port unreachable" is
//!   [`IcmpErrorKind::ConnectionRefused`].
//! - TCP: check that the quoted sequence number is in the window
//!   ([`ReceivedError::quoted_transport`] holds the quoted TCP header's
//!   first bytes) before acting (RFC 5927 §4.3). A
//!   [hard](ReceivedError::hard) error aborts a connection that is
//!   still opening; an established one only records it as a soft error
//!   ([`ReceivedError::should_abort`], RFC 5927 §4.1). "Fragmentation
//!   needed" feeds Path MTU Discovery instead
//!   ([`ReceivedError::pmtu_estimate`]).
//! - ICMP echo sockets: the quoted identifier finds the ping socket.
//!
//! Redirects are a routing matter (RFC 1122 §3.2.2.2) and source quench
//! is to be ignored (RFC 6633 §2); neither is a socket error, and
//! [`received_error`] returns `None` for them.

use core::fmt;
use core::net::Ipv4Addr;

use lamina_ipv4::IpProtocol;

use crate::{IcmpMessage, IcmpPacket, IcmpType, Quote, TimeExceededCode, UnreachableCode};

/// What a received ICMP error means to the socket it concerns.
///
/// Each kind maps to a [`std::io::ErrorKind`] (with the `std` feature,
/// through `From`); the table, with the ICMP messages and the Linux errno
/// for comparison:
///
/// | kind | ICMP | Linux errno | `io::ErrorKind` |
/// |---|---|---|---|
/// | `NetworkUnreachable` | unreachable 0, 6, 11 | `ENETUNREACH` | `NetworkUnreachable` |
/// | `HostUnreachable` | unreachable 1, 7, 8, 12, 14, 15, unknown codes | `EHOSTUNREACH` (7: `EHOSTDOWN`, 8: `ENONET`) | `HostUnreachable` |
/// | `ProtocolUnreachable` | unreachable 2 | `ENOPROTOOPT` | `ConnectionRefused` |
/// | `ConnectionRefused` | unreachable 3 | `ECONNREFUSED` | `ConnectionRefused` |
/// | `MessageTooLong` | unreachable 4 | `EMSGSIZE` | `InvalidInput` |
/// | `SourceRouteFailed` | unreachable 5 | `EOPNOTSUPP` | `HostUnreachable` |
/// | `AdministrativelyProhibited` | unreachable 9, 10, 13 | `ENETUNREACH`/`EHOSTUNREACH` | `HostUnreachable` |
/// | `TtlExceeded` | time exceeded 0 | `EHOSTUNREACH` | `TimedOut` |
/// | `ReassemblyTimeExceeded` | time exceeded 1 | `EHOSTUNREACH` | `TimedOut` |
/// | `ParameterProblem` | parameter problem | `EPROTO` | `InvalidData` |
///
/// ```
/// use lamina_icmp::IcmpErrorKind;
///
/// assert_eq!(IcmpErrorKind::ConnectionRefused.to_string(), "connection refused");
/// # #[cfg(feature = "std")]
/// assert_eq!(
///     std::io::ErrorKind::from(IcmpErrorKind::ConnectionRefused),
///     std::io::ErrorKind::ConnectionRefused,
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpErrorKind {
    /// The destination network is unreachable or unknown.
    NetworkUnreachable,
    /// The destination host is unreachable, unknown or isolated, or a
    /// precedence rule stopped the datagram.
    HostUnreachable,
    /// The destination does not speak the protocol.
    ProtocolUnreachable,
    /// No socket on the destination port ("port unreachable").
    ConnectionRefused,
    /// The datagram was too big for a link on the path and had DF set;
    /// the path MTU is in [`ReceivedError::next_hop_mtu`] (RFC 1191).
    MessageTooLong,
    /// A source route failed.
    SourceRouteFailed,
    /// A filter refused the datagram ("communication administratively
    /// prohibited", RFC 1812 §5.2.7.1).
    AdministrativelyProhibited,
    /// The TTL ran out in transit.
    TtlExceeded,
    /// The destination gave up reassembling the datagram.
    ReassemblyTimeExceeded,
    /// A header field was bad.
    ParameterProblem,
}

impl IcmpErrorKind {
    /// The kind of a Destination Unreachable with `code`.
    pub const fn from_unreachable(code: UnreachableCode) -> IcmpErrorKind {
        match code {
            UnreachableCode::NetUnreachable
            | UnreachableCode::DestNetworkUnknown
            | UnreachableCode::NetUnreachableForTos => IcmpErrorKind::NetworkUnreachable,
            UnreachableCode::ProtocolUnreachable => IcmpErrorKind::ProtocolUnreachable,
            UnreachableCode::PortUnreachable => IcmpErrorKind::ConnectionRefused,
            UnreachableCode::FragmentationNeeded => IcmpErrorKind::MessageTooLong,
            UnreachableCode::SourceRouteFailed => IcmpErrorKind::SourceRouteFailed,
            UnreachableCode::NetProhibited
            | UnreachableCode::HostProhibited
            | UnreachableCode::CommunicationProhibited => IcmpErrorKind::AdministrativelyProhibited,
            UnreachableCode::HostUnreachable
            | UnreachableCode::DestHostUnknown
            | UnreachableCode::SourceHostIsolated
            | UnreachableCode::HostUnreachableForTos
            | UnreachableCode::HostPrecedenceViolation
            | UnreachableCode::PrecedenceCutoff
            | UnreachableCode::Other(_) => IcmpErrorKind::HostUnreachable,
        }
    }
}

/// Whether a Destination Unreachable with `code` is a hard error: 2 and 3
/// (RFC 1122 §4.2.3.9), and the definitive codes RFC 1122 §4.2.3.9 does
/// not list: 6 and 7 (unknown), 8 (isolated), 9, 10 and 13
/// (prohibited), 14 and 15 (precedence), as Linux has them. Codes 0, 1,
/// 5, 11 and 12 may come from a routing transient (RFC 1122 §3.2.2.1),
/// and 4 is a Path MTU signal (RFC 1191): soft.
///
/// ```
/// use lamina_icmp::{unreachable_is_hard, UnreachableCode};
///
/// assert!(unreachable_is_hard(UnreachableCode::PortUnreachable));
/// assert!(!unreachable_is_hard(UnreachableCode::HostUnreachable));
/// assert!(!unreachable_is_hard(UnreachableCode::FragmentationNeeded));
/// ```
#[inline]
pub const fn unreachable_is_hard(code: UnreachableCode) -> bool {
    matches!(code.value(), 2 | 3 | 6..=10 | 13..=15)
}

impl fmt::Display for IcmpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IcmpErrorKind::NetworkUnreachable => "network unreachable",
            IcmpErrorKind::HostUnreachable => "host unreachable",
            IcmpErrorKind::ProtocolUnreachable => "protocol unreachable",
            IcmpErrorKind::ConnectionRefused => "connection refused",
            IcmpErrorKind::MessageTooLong => "message too long",
            IcmpErrorKind::SourceRouteFailed => "source route failed",
            IcmpErrorKind::AdministrativelyProhibited => "administratively prohibited",
            IcmpErrorKind::TtlExceeded => "time to live exceeded",
            IcmpErrorKind::ReassemblyTimeExceeded => "reassembly time exceeded",
            IcmpErrorKind::ParameterProblem => "parameter problem",
        })
    }
}

#[cfg(feature = "std")]
impl From<IcmpErrorKind> for std::io::ErrorKind {
    /// The mapping in the table of [`IcmpErrorKind`].
    fn from(kind: IcmpErrorKind) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match kind {
            IcmpErrorKind::NetworkUnreachable => K::NetworkUnreachable,
            IcmpErrorKind::HostUnreachable
            | IcmpErrorKind::SourceRouteFailed
            | IcmpErrorKind::AdministrativelyProhibited => K::HostUnreachable,
            IcmpErrorKind::ProtocolUnreachable | IcmpErrorKind::ConnectionRefused => {
                K::ConnectionRefused
            }
            IcmpErrorKind::MessageTooLong => K::InvalidInput,
            IcmpErrorKind::TtlExceeded | IcmpErrorKind::ReassemblyTimeExceeded => K::TimedOut,
            IcmpErrorKind::ParameterProblem => K::InvalidData,
        }
    }
}

/// How a quoted datagram's transport header identifies its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotedTransport {
    /// The ports of a TCP, UDP, UDP-Lite, SCTP or DCCP header.
    Ports {
        /// Source port: ours.
        src_port: u16,
        /// Destination port: the peer's.
        dst_port: u16,
    },
    /// The identifier and sequence number of an ICMP query (echo,
    /// timestamp, ...).
    IcmpQuery {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
    },
    /// Nothing usable: another protocol, a later fragment, or a quote cut
    /// too short.
    Unknown,
}

/// The flow of the datagram an ICMP error quotes: a datagram we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotedFlow {
    /// The quoted protocol.
    pub protocol: IpProtocol,
    /// The quoted source: our address.
    pub src: Ipv4Addr,
    /// The quoted destination: the peer.
    pub dst: Ipv4Addr,
    /// Ports or ICMP identifier.
    pub transport: QuotedTransport,
}

impl QuotedFlow {
    /// The quoted `(source, destination)` ports, if any.
    #[inline]
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            QuotedTransport::Ports { src_port, dst_port } => Some((src_port, dst_port)),
            _ => None,
        }
    }

    /// The quoted ICMP query identifier, if any.
    #[inline]
    pub fn icmp_ident(&self) -> Option<u16> {
        match self.transport {
            QuotedTransport::IcmpQuery { ident, .. } => Some(ident),
            _ => None,
        }
    }
}

/// A received ICMP error, ready to be delivered to its socket; see
/// [`received_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedError<'a> {
    /// What it means.
    pub kind: IcmpErrorKind,
    /// The ICMP type (Linux `ee_type`).
    pub msg_type: IcmpType,
    /// The ICMP code (Linux `ee_code`).
    pub code: u8,
    /// Whether it is "hard", proof rather than a hint that the
    /// destination cannot be reached: [`unreachable_is_hard`] for
    /// Destination Unreachable; Time Exceeded and Parameter Problem are
    /// soft (RFC 1122 §4.2.3.9).
    pub hard: bool,
    /// For "fragmentation needed", the next-hop MTU the router reported
    /// (zero from routers older than RFC 1191).
    pub next_hop_mtu: Option<u16>,
    /// For Parameter Problem, the pointer to the bad octet.
    pub pointer: Option<u8>,
    /// The flow of the quoted datagram.
    pub flow: QuotedFlow,
    /// The quoted datagram's total length field (for
    /// [`pmtu_estimate`](Self::pmtu_estimate)).
    pub quoted_total_len: u16,
    /// The quoted transport bytes (usually 8, often more): TCP checks the
    /// quoted sequence number against its window here (RFC 5927 §4.3).
    pub quoted_transport: &'a [u8],
}

impl ReceivedError<'_> {
    /// Whether a TCP connection should abort on this error: a hard error
    /// aborts a connection that is still opening (SYN-SENT, SYN-RECEIVED),
    /// but a synchronized one (`synchronized`: ESTABLISHED and later)
    /// only records it as a soft error, so that forged errors cannot
    /// reset connections (RFC 5927 §4.1, as Linux does). UDP reports
    /// every error instead.
    #[inline]
    pub fn should_abort(&self, synchronized: bool) -> bool {
        self.hard && !synchronized
    }

    /// For "fragmentation needed", the path MTU to use: the reported
    /// next-hop MTU when it is plausible (at least 68, RFC 791, and
    /// below the quoted datagram's length), else, for a router that
    /// predates RFC 1191 or reports nonsense, the next plateau below the
    /// quoted datagram's length (RFC 1191 §5, §7). `None` for other
    /// errors. Callers clamp to their own floor (Linux `min_pmtu` 552).
    pub fn pmtu_estimate(&self) -> Option<u16> {
        let reported = self.next_hop_mtu?;
        let sent = self.quoted_total_len;
        if reported >= MIN_MTU && (sent == 0 || reported < sent) {
            return Some(reported);
        }
        Some(plateau_below(sent))
    }
}

/// The smallest MTU of an IPv4 link (RFC 791).
const MIN_MTU: u16 = 68;

/// RFC 1191 §7's table of common MTU plateaus, largest first.
const PLATEAUS: [u16; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// The largest plateau of RFC 1191 §7 below `len` (68 at least).
///
/// ```
/// assert_eq!(lamina_icmp::plateau_below(1500), 1492);
/// assert_eq!(lamina_icmp::plateau_below(1492), 1006);
/// assert_eq!(lamina_icmp::plateau_below(60), 68);
/// ```
#[inline]
pub fn plateau_below(len: u16) -> u16 {
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| p < len)
        .unwrap_or(MIN_MTU)
}

/// The socket error an ICMP error message carries, with the flow of the
/// datagram it quotes; see the [module documentation](self) for what to
/// do with it.
///
/// `None` for messages that are not errors, for Redirect (a routing
/// matter, RFC 1122 §3.2.2.2) and Source Quench (ignored, RFC 6633 §2),
/// and when the quote does not hold a readable IPv4 header.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{received_error, ErrorBuilder, IcmpErrorKind, IcmpPacket, IcmpRepr};
/// use lamina_ipv4::{IpProtocol, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let (me, peer) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 9));
/// // We sent a UDP datagram from port 40000 to port 53...
/// let sent = [0x9c, 0x40, 0x00, 0x35, 0, 8, 0, 0]
///     .wrap_in(&Ipv4Repr::new(me, peer, IpProtocol::UDP))
///     .serialize_vec(0)?;
/// // ...and the peer answered "port unreachable".
/// let icmp = ErrorBuilder::new(IcmpRepr::PORT_UNREACHABLE, sent.as_slice())
///     .unwrap()
///     .serialize_vec(0)?;
/// let icmp = IcmpPacket::parse_verified(icmp.as_slice()).unwrap();
///
/// let err = received_error(&icmp).unwrap();
/// assert_eq!(err.kind, IcmpErrorKind::ConnectionRefused);
/// assert_eq!((err.flow.protocol, err.flow.src, err.flow.dst), (IpProtocol::UDP, me, peer));
/// assert_eq!(err.flow.ports(), Some((40000, 53)));
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
pub fn received_error<'a>(icmp: &IcmpPacket<'a>) -> Option<ReceivedError<'a>> {
    let (kind, hard, next_hop_mtu, pointer, quote) = match icmp.message() {
        IcmpMessage::DestUnreachable {
            code,
            next_hop_mtu,
            quote,
        } => (
            IcmpErrorKind::from_unreachable(code),
            unreachable_is_hard(code),
            next_hop_mtu,
            None,
            quote,
        ),
        IcmpMessage::TimeExceeded { code, quote } => {
            let kind = match code {
                TimeExceededCode::FragmentReassembly => IcmpErrorKind::ReassemblyTimeExceeded,
                _ => IcmpErrorKind::TtlExceeded,
            };
            (kind, false, None, None, quote)
        }
        IcmpMessage::ParameterProblem { pointer, quote, .. } => (
            IcmpErrorKind::ParameterProblem,
            false,
            None,
            Some(pointer),
            quote,
        ),
        _ => return None,
    };
    let header = quote.header()?;
    Some(ReceivedError {
        kind,
        msg_type: icmp.msg_type(),
        code: icmp.code(),
        hard,
        next_hop_mtu,
        pointer,
        flow: QuotedFlow {
            protocol: header.protocol(),
            src: header.src(),
            dst: header.dst(),
            transport: quoted_transport(&quote),
        },
        quoted_total_len: header.total_len(),
        quoted_transport: quote.l4_bytes().unwrap_or(&[]),
    })
}

fn quoted_transport(quote: &Quote<'_>) -> QuotedTransport {
    if let Some((src_port, dst_port)) = quote.ports() {
        QuotedTransport::Ports { src_port, dst_port }
    } else if let Some((ident, seq_no)) = quote.icmp_ident_seq() {
        QuotedTransport::IcmpQuery { ident, seq_no }
    } else {
        QuotedTransport::Unknown
    }
}

#[cfg(test)]
mod tests;
