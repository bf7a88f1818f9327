//! The IPv4 protocol field.

use core::fmt;

/// The IPv4 Protocol field (IANA "Assigned Internet Protocol Numbers").
///
/// A newtype rather than an enum: every value is valid on the wire and
/// forwarded unchanged, and the named constants cover the common ones.
///
/// ```
/// use lamina_ipv4::IpProtocol;
///
/// assert_eq!(IpProtocol::from(6), IpProtocol::TCP);
/// assert_eq!(IpProtocol::UDP.to_string(), "UDP");
/// assert_eq!(IpProtocol(253).to_string(), "253");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPv6 Hop-by-Hop Option (RFC 8200).
    pub const HOPOPT: IpProtocol = IpProtocol(0);
    /// Internet Control Message Protocol (RFC 792).
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// Internet Group Management Protocol (RFC 1112, 2236, 3376).
    pub const IGMP: IpProtocol = IpProtocol(2);
    /// IPv4 encapsulated in IPv4 (RFC 2003).
    pub const IPIP: IpProtocol = IpProtocol(4);
    /// Transmission Control Protocol (RFC 9293).
    pub const TCP: IpProtocol = IpProtocol(6);
    /// Exterior Gateway Protocol (RFC 888).
    pub const EGP: IpProtocol = IpProtocol(8);
    /// User Datagram Protocol (RFC 768).
    pub const UDP: IpProtocol = IpProtocol(17);
    /// Datagram Congestion Control Protocol (RFC 4340).
    pub const DCCP: IpProtocol = IpProtocol(33);
    /// IPv6 encapsulated in IPv4 (RFC 4213).
    pub const IPV6: IpProtocol = IpProtocol(41);
    /// Resource Reservation Protocol (RFC 2205).
    pub const RSVP: IpProtocol = IpProtocol(46);
    /// Generic Routing Encapsulation (RFC 2784).
    pub const GRE: IpProtocol = IpProtocol(47);
    /// Encapsulating Security Payload (RFC 4303).
    pub const ESP: IpProtocol = IpProtocol(50);
    /// Authentication Header (RFC 4302).
    pub const AH: IpProtocol = IpProtocol(51);
    /// ICMP for IPv6 (RFC 4443).
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// Enhanced Interior Gateway Routing Protocol (RFC 7868).
    pub const EIGRP: IpProtocol = IpProtocol(88);
    /// Open Shortest Path First (RFC 2328).
    pub const OSPF: IpProtocol = IpProtocol(89);
    /// Protocol Independent Multicast (RFC 7761).
    pub const PIM: IpProtocol = IpProtocol(103);
    /// Virtual Router Redundancy Protocol (RFC 9568).
    pub const VRRP: IpProtocol = IpProtocol(112);
    /// Layer Two Tunneling Protocol v3 (RFC 3931).
    pub const L2TP: IpProtocol = IpProtocol(115);
    /// Stream Control Transmission Protocol (RFC 9260).
    pub const SCTP: IpProtocol = IpProtocol(132);
    /// UDP-Lite (RFC 3828).
    pub const UDPLITE: IpProtocol = IpProtocol(136);
    /// MPLS in IP (RFC 4023).
    pub const MPLS_IN_IP: IpProtocol = IpProtocol(137);

    /// The protocol's usual name, if it is one of the named constants.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "HOPOPT",
            1 => "ICMP",
            2 => "IGMP",
            4 => "IPIP",
            6 => "TCP",
            8 => "EGP",
            17 => "UDP",
            33 => "DCCP",
            41 => "IPv6",
            46 => "RSVP",
            47 => "GRE",
            50 => "ESP",
            51 => "AH",
            58 => "ICMPv6",
            88 => "EIGRP",
            89 => "OSPF",
            103 => "PIM",
            112 => "VRRP",
            115 => "L2TP",
            132 => "SCTP",
            136 => "UDPLite",
            137 => "MPLS-in-IP",
            _ => return None,
        })
    }

    /// Whether the protocol's header starts with 16-bit source and
    /// destination ports (TCP, UDP, UDP-Lite, SCTP, DCCP), so that the
    /// first four bytes of a quoted header identify the flow.
    pub const fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 33 | 132 | 136)
    }
}

impl From<u8> for IpProtocol {
    #[inline]
    fn from(v: u8) -> IpProtocol {
        IpProtocol(v)
    }
}

impl From<IpProtocol> for u8 {
    #[inline]
    fn from(p: IpProtocol) -> u8 {
        p.0
    }
}

impl fmt::Display for IpProtocol {
    /// The name of a known protocol, the decimal number otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}
