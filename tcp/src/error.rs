//! The crate's error type.

/// Everything that can go wrong parsing or building a TCP segment.
///
/// Each variant is a distinct reason a segment is dropped (or cannot be
/// built), so a stack can count them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the 20-byte fixed header, or (strict
    /// [`parse`](crate::TcpSegment::parse)) than the header length the
    /// data offset declares.
    #[error("TCP segment truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header calls for.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The data offset is below 5 words, shorter than the fixed header
    /// (RFC 9293 §3.1).
    #[error("TCP header length {header_len} is shorter than 20 bytes")]
    BadHeaderLength {
        /// The header length the data offset declares, in bytes.
        header_len: usize,
    },
    /// An option's length byte, or the bytes it declares, run past the end
    /// of the options area (RFC 9293 §3.1).
    #[error("TCP option of kind {kind} runs past the end of the header")]
    TruncatedOption {
        /// The option kind.
        kind: u8,
    },
    /// An option's length byte is below 2 (which would not advance), or
    /// is wrong for its kind: MSS is 4 (RFC 9293 §3.2), window scale 3 and
    /// timestamps 10 (RFC 7323), SACK-permitted 2 and SACK 2 + 8n with n
    /// from 1 to 4 (RFC 2018).
    #[error("TCP option of kind {kind} has invalid length {len}")]
    BadOptionLength {
        /// The option kind.
        kind: u8,
        /// The length byte.
        len: u8,
    },
    /// The checksum does not verify (RFC 9293 §3.1).
    #[error("TCP checksum does not verify")]
    BadChecksum,
    /// The options a [`TcpRepr`](crate::TcpRepr) asks for do not fit in the
    /// 40 bytes a header can carry.
    #[error("TCP options need {len} bytes, more than the 40 a header holds")]
    OptionsTooLong {
        /// Bytes the options would need, padded to a multiple of 4.
        len: usize,
    },
}
