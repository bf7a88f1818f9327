//! The crate's error type.

use core::fmt;

/// Everything that can go wrong parsing or building IPv4 headers, options
/// and CIDRs.
///
/// Every variant is precise enough to be counted in receive statistics
/// (a router's "header errors", "bad options", "truncated" counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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
}

/// Why an option is malformed (the `reason` of [`Error::BadOption`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
