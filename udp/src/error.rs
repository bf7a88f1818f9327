//! The crate's error type.

/// Everything that can go wrong parsing or building a UDP datagram.
///
/// Each variant is a distinct reason a datagram is dropped, so a stack can
/// count them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the 8-byte header, or (strict
    /// [`parse`](crate::UdpPacket::parse)) shorter than the datagram's
    /// length field says.
    #[error("UDP datagram truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header or the length field calls for.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The length field is below the 8 bytes of the header itself
    /// (RFC 768: the length counts the header).
    #[error("UDP length field {length} is shorter than the 8-byte header")]
    BadLength {
        /// The length field.
        length: u16,
    },
    /// The checksum does not verify (RFC 768; RFC 1122 §4.1.3.4 says such
    /// a datagram is discarded silently).
    #[error("UDP checksum does not verify")]
    BadChecksum,
    /// The checksum field is zero ("not computed", RFC 768) where the
    /// caller asked for a checksum to be required.
    #[error("UDP checksum absent where one is required")]
    MissingChecksum,
}
