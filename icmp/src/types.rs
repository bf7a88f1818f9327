//! Message types and the typed codes of the error messages.

use core::fmt;

/// The ICMPv4 Type field (IANA "ICMP Type Numbers").
///
/// ```
/// use lamina_icmp::IcmpType;
///
/// assert_eq!(IcmpType::from(8), IcmpType::ECHO_REQUEST);
/// assert!(IcmpType::TIME_EXCEEDED.is_error());
/// assert_eq!(IcmpType::REDIRECT.to_string(), "Redirect");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IcmpType(pub u8);

impl IcmpType {
    /// Echo Reply (RFC 792).
    pub const ECHO_REPLY: IcmpType = IcmpType(0);
    /// Destination Unreachable (RFC 792, 1122, 1191, 1812).
    pub const DEST_UNREACHABLE: IcmpType = IcmpType(3);
    /// Source Quench (RFC 792; deprecated by RFC 6633).
    pub const SOURCE_QUENCH: IcmpType = IcmpType(4);
    /// Redirect (RFC 792).
    pub const REDIRECT: IcmpType = IcmpType(5);
    /// Echo Request (RFC 792).
    pub const ECHO_REQUEST: IcmpType = IcmpType(8);
    /// Router Advertisement (RFC 1256).
    pub const ROUTER_ADVERTISEMENT: IcmpType = IcmpType(9);
    /// Router Solicitation (RFC 1256).
    pub const ROUTER_SOLICITATION: IcmpType = IcmpType(10);
    /// Time Exceeded (RFC 792).
    pub const TIME_EXCEEDED: IcmpType = IcmpType(11);
    /// Parameter Problem (RFC 792, 1108, 1812).
    pub const PARAMETER_PROBLEM: IcmpType = IcmpType(12);
    /// Timestamp (RFC 792).
    pub const TIMESTAMP: IcmpType = IcmpType(13);
    /// Timestamp Reply (RFC 792).
    pub const TIMESTAMP_REPLY: IcmpType = IcmpType(14);
    /// Information Request (RFC 792; obsolete per RFC 6918).
    pub const INFORMATION_REQUEST: IcmpType = IcmpType(15);
    /// Information Reply (RFC 792; obsolete per RFC 6918).
    pub const INFORMATION_REPLY: IcmpType = IcmpType(16);
    /// Address Mask Request (RFC 950).
    pub const ADDRESS_MASK_REQUEST: IcmpType = IcmpType(17);
    /// Address Mask Reply (RFC 950).
    pub const ADDRESS_MASK_REPLY: IcmpType = IcmpType(18);

    /// Whether this is an error message, which quotes the datagram that
    /// caused it (RFC 1122 §3.2.2): Destination Unreachable, Source
    /// Quench, Redirect, Time Exceeded, Parameter Problem.
    #[inline]
    pub const fn is_error(self) -> bool {
        matches!(self.0, 3 | 4 | 5 | 11 | 12)
    }

    /// Whether this is a query or its reply, whose bytes 4 to 8 are an
    /// identifier and a sequence number (echo, timestamp, information,
    /// address mask).
    #[inline]
    pub const fn is_query(self) -> bool {
        matches!(self.0, 0 | 8 | 13..=18)
    }

    /// The message's name, if the type is one this crate decodes.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Echo Reply",
            3 => "Destination Unreachable",
            4 => "Source Quench",
            5 => "Redirect",
            8 => "Echo Request",
            9 => "Router Advertisement",
            10 => "Router Solicitation",
            11 => "Time Exceeded",
            12 => "Parameter Problem",
            13 => "Timestamp",
            14 => "Timestamp Reply",
            15 => "Information Request",
            16 => "Information Reply",
            17 => "Address Mask Request",
            18 => "Address Mask Reply",
            _ => return None,
        })
    }
}

impl From<u8> for IcmpType {
    #[inline]
    fn from(v: u8) -> IcmpType {
        IcmpType(v)
    }
}

impl From<IcmpType> for u8 {
    #[inline]
    fn from(t: IcmpType) -> u8 {
        t.0
    }
}

impl fmt::Display for IcmpType {
    /// The name of a known type, `type N` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type {}", self.0),
        }
    }
}

/// Defines a code enum with a catch-all `Other(u8)`, conversions from and
/// to the wire value (`From<u8>` never yields `Other` for a named value),
/// and `Arbitrary` through the wire value.
macro_rules! code_enum {
    (
        $(#[$m:meta])*
        $name:ident {
            $( $(#[$vm:meta])* $variant:ident = $value:literal, )*
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $variant, )*
            /// A code this crate does not name (kept as is).
            Other(u8),
        }

        impl $name {
            /// The code's value on the wire.
            #[inline]
            pub const fn value(self) -> u8 {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Other(v) => v,
                }
            }
        }

        impl From<u8> for $name {
            #[inline]
            fn from(v: u8) -> $name {
                match v {
                    $( $value => $name::$variant, )*
                    v => $name::Other(v),
                }
            }
        }

        impl From<$name> for u8 {
            #[inline]
            fn from(c: $name) -> u8 {
                c.value()
            }
        }

        #[cfg(feature = "arbitrary")]
        impl<'a> arbitrary::Arbitrary<'a> for $name {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                Ok($name::from(u8::arbitrary(u)?))
            }
        }
    };
}

code_enum! {
    /// Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812
    /// §5.2.7.1).
    UnreachableCode {
        /// 0: net unreachable.
        NetUnreachable = 0,
        /// 1: host unreachable.
        HostUnreachable = 1,
        /// 2: protocol unreachable.
        ProtocolUnreachable = 2,
        /// 3: port unreachable.
        PortUnreachable = 3,
        /// 4: fragmentation needed and DF set; carries the next-hop MTU
        /// (RFC 1191 §4).
        FragmentationNeeded = 4,
        /// 5: source route failed.
        SourceRouteFailed = 5,
        /// 6: destination network unknown.
        DestNetworkUnknown = 6,
        /// 7: destination host unknown.
        DestHostUnknown = 7,
        /// 8: source host isolated.
        SourceHostIsolated = 8,
        /// 9: communication with destination network administratively
        /// prohibited.
        NetProhibited = 9,
        /// 10: communication with destination host administratively
        /// prohibited.
        HostProhibited = 10,
        /// 11: network unreachable for type of service.
        NetUnreachableForTos = 11,
        /// 12: host unreachable for type of service.
        HostUnreachableForTos = 12,
        /// 13: communication administratively prohibited (RFC 1812).
        CommunicationProhibited = 13,
        /// 14: host precedence violation (RFC 1812).
        HostPrecedenceViolation = 14,
        /// 15: precedence cutoff in effect (RFC 1812).
        PrecedenceCutoff = 15,
    }
}

code_enum! {
    /// Redirect codes (RFC 792).
    RedirectCode {
        /// 0: redirect datagrams for the network (treated as host by
        /// RFC 1122 §3.2.2.2).
        Network = 0,
        /// 1: redirect datagrams for the host.
        Host = 1,
        /// 2: for the type of service and network.
        TosNetwork = 2,
        /// 3: for the type of service and host.
        TosHost = 3,
    }
}

code_enum! {
    /// Time Exceeded codes (RFC 792).
    TimeExceededCode {
        /// 0: time to live exceeded in transit.
        TtlExceeded = 0,
        /// 1: fragment reassembly time exceeded.
        FragmentReassembly = 1,
    }
}

code_enum! {
    /// Parameter Problem codes (RFC 792, RFC 1108, RFC 1812 §5.2.7.3 /
    /// IANA).
    ParameterProblemCode {
        /// 0: the pointer indicates the error.
        Pointer = 0,
        /// 1: a required option is missing (RFC 1108).
        MissingOption = 1,
        /// 2: bad length.
        BadLength = 2,
    }
}
