//! The crate's error type.

/// Everything that can go wrong in `lamina-netbuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `pull` or `trim` asked for more bytes than the buffer holds.
    #[error("buffer holds {available} bytes, {requested} requested")]
    Underflow {
        /// Bytes asked for.
        requested: usize,
        /// Bytes present.
        available: usize,
    },
    /// A caller-supplied buffer is too small for the packet.
    #[error("{needed} bytes needed, buffer has {available}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer offers.
        available: usize,
    },
    /// A body is longer than the enclosing layer allows (for example a
    /// payload longer than an IPv4 total length can express).
    #[error("body of {len} bytes exceeds the layer's maximum of {max}")]
    BodyTooLong {
        /// The body's length.
        len: usize,
        /// The largest body the layer accepts.
        max: usize,
    },
    /// Adding up header, body and footer lengths overflowed `usize`.
    #[error("packet length overflows")]
    LengthOverflow,
    /// Every buffer of a [`BufferPool`](crate::BufferPool) is in use.
    #[error("buffer pool exhausted: all {capacity} buffers in use")]
    PoolExhausted {
        /// The pool's size.
        capacity: usize,
    },
}
