//! The crate's error type.

/// Everything that can go wrong parsing or building ICMPv4 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is shorter than its type requires: 8 bytes for every
    /// type, 20 for timestamps, 12 for address masks, and the advertised
    /// entries for a router advertisement.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The checksum over the message does not verify (RFC 792).
    #[error("bad ICMP checksum")]
    BadChecksum,
    /// A router advertisement announces addresses with an entry size
    /// below 2 words (RFC 1256 §3).
    #[error("router advertisement entry size {size} below 2 words")]
    BadAddressEntrySize {
        /// The Addr Entry Size field.
        size: u8,
    },
    /// A quote was asked of a message that is not an error (only
    /// Destination Unreachable, Source Quench, Redirect, Time Exceeded and
    /// Parameter Problem carry one), or an error builder was given a
    /// non-error message.
    #[error("ICMP type {msg_type} is not an error message")]
    NotAnError {
        /// The message type.
        msg_type: u8,
    },
    /// The quoted (or to be quoted) datagram is not a readable IPv4
    /// header.
    #[error("quoted datagram: {0}")]
    BadQuote(lamina_ipv4::Error),
    /// An echo reply was asked for a message that is not an Echo Request
    /// (type 8).
    #[error("ICMP type {msg_type} is not an echo request")]
    NotAnEchoRequest {
        /// The message type.
        msg_type: u8,
    },
    /// The datagram to answer in place is not a whole, option-free IPv4
    /// datagram carrying ICMP: the in-place fast path only rewrites a
    /// 20-byte header. Answer through the copying path
    /// ([`EchoReply`](crate::EchoReply) and
    /// [`echo_reply_options`](crate::echo_reply_options)) instead.
    #[error("not an option-free, unfragmented ICMP datagram: {reason}")]
    NotInPlaceEligible {
        /// Why.
        reason: &'static str,
    },
    /// The IPv4 datagram (or its options) could not be read.
    #[error("IPv4: {0}")]
    Ipv4(lamina_ipv4::Error),
}
