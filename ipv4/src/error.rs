//! The crate's error type.

use core::fmt;

/// Everything that can go wrong parsing or building IPv4 headers, options
/// and CIDRs.
///
/// Every variant is precise enough to be counted in receive statistics
/// (a router's "header errors", "bad options", "truncated" counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the structure it must hold: the 20-byte fixed
    /// header, the header with its options (IHL), or, for a strict
    /// [`parse`](crate::Ipv4Packet::parse), the whole datagram (total
    /// length).
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The version field is not 4 (RFC 791 §3.1).
    #[error("IP version {version}, expected 4")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The Internet Header Length is below 5 words (RFC 791 §3.1).
    #[error("IHL {ihl} words is below the minimum of 5")]
    BadHeaderLength {
        /// The IHL field, in 32-bit words.
        ihl: u8,
    },
    /// The total length is smaller than the header length (RFC 1812
    /// §5.2.2 check 4).
    #[error("total length {total_len} is smaller than the {header_len}-byte header")]
    BadTotalLength {
        /// The total length field.
        total_len: u16,
        /// The header length in bytes.
        header_len: usize,
    },
    /// The header checksum does not verify (RFC 791 §3.1, RFC 1812 §5.2.2).
    #[error("bad IPv4 header checksum")]
    BadChecksum,
    /// An option is malformed (RFC 791 §3.1, RFC 1812 §5.2.4).
    #[error("bad option {kind} at header offset {offset}: {reason}")]
    BadOption {
        /// The option type octet.
        kind: u8,
        /// Offset of the offending octet from the start of the IPv4
        /// header (options start at 20); suitable as the pointer of an
        /// ICMP Parameter Problem (RFC 792).
        offset: usize,
        /// What is wrong with it.
        reason: BadOptionReason,
    },
    /// Options would exceed the 40 bytes an IPv4 header can carry.
    #[error("{len} bytes of options exceed the maximum of 40")]
    OptionsTooLong {
        /// The length the options would have.
        len: usize,
    },
    /// A CIDR prefix length above 32.
    #[error("prefix length {prefix_len} exceeds 32")]
    BadPrefixLength {
        /// The prefix length given.
        prefix_len: u8,
    },
    /// A netmask whose one bits are not contiguous from the top.
    #[error("netmask is not contiguous")]
    BadNetmask,
    /// Text that is not `a.b.c.d/len`.
    #[error("invalid CIDR syntax")]
    BadCidrSyntax,
    /// A route's prefix has host bits set (`192.0.2.1/24` instead of
    /// `192.0.2.0/24`); use [`Ipv4Cidr::normalized`](crate::Ipv4Cidr::normalized).
    #[error("prefix has host bits set")]
    PrefixNotNormalized,
    /// The routing table already holds its configured maximum of routes.
    #[error("routing table full: {max} routes")]
    RouteTableFull {
        /// The configured maximum.
        max: usize,
    },
    /// A route for this prefix with this metric already exists (use
    /// [`RoutingTable::replace`](crate::RoutingTable::replace) to change it).
    #[error("a route with this prefix and metric exists")]
    RouteExists,
    /// A link MTU below the 68 bytes every IPv4 link must carry (RFC 791
    /// §3.2, RFC 1122 §3.3.2).
    #[error("MTU {mtu} is below the IPv4 minimum of 68")]
    MtuTooSmall {
        /// The MTU given.
        mtu: u16,
    },
    /// The datagram is larger than the MTU and has Don't Fragment set:
    /// the sender of a forwarded datagram gets an ICMP Destination
    /// Unreachable, Fragmentation Needed, carrying `mtu` as the next-hop
    /// MTU (RFC 792, RFC 1191 §4); a local sender learns its path MTU.
    #[error("fragmentation needed and DF set (next-hop MTU {mtu})")]
    FragmentationNeeded {
        /// The next-hop MTU to report.
        mtu: u16,
    },
    /// A datagram (header, payload and fragment offset) would exceed the
    /// 65535 bytes the total length field can describe (RFC 791 §3.1).
    #[error("datagram of {len} bytes exceeds 65535")]
    DatagramTooLong {
        /// The length it would have.
        len: usize,
    },
}

/// Why an option is malformed (the `reason` of [`Error::BadOption`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BadOptionReason {
    /// A multi-octet option's type is the last octet of the options area,
    /// leaving no room for its length octet.
    MissingLength,
    /// The length octet is below 2 (it counts the type and itself).
    LengthTooShort,
    /// The length runs past the end of the options area.
    PastEnd,
    /// The length is wrong for the option: not the fixed length (Router
    /// Alert: 4), too short for the fixed fields, or not a whole number of
    /// entries (routes: 3 + 4n; timestamps: 4 + 4n or 4 + 8n).
    BadLength,
    /// The pointer is below its minimum (4 for routes, 5 for timestamps)
    /// or, within the data area, not at the start of an entry.
    BadPointer,
    /// A timestamp flag other than 0, 1 or 3 (RFC 791 §3.1).
    BadTimestampFlag,
}

impl fmt::Display for BadOptionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadOptionReason::MissingLength => "no length octet",
            BadOptionReason::LengthTooShort => "length below 2",
            BadOptionReason::PastEnd => "length runs past the options area",
            BadOptionReason::BadLength => "wrong length for this option",
            BadOptionReason::BadPointer => "pointer out of range",
            BadOptionReason::BadTimestampFlag => "undefined timestamp flag",
        })
    }
}
