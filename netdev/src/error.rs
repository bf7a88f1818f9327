//! The crate's error type.

/// Everything that can go wrong in `lamina-netdev`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A transmit asked for a frame longer than the device can send
    /// ([`Capabilities::max_tx_len`](crate::Capabilities::max_tx_len)).
    #[error("frame of {len} bytes exceeds the device's maximum of {max}")]
    FrameTooLong {
        /// The length asked for.
        len: usize,
        /// The longest frame the device accepts.
        max: usize,
    },
    /// The device had no free buffer for the frame. The in-memory devices
    /// size their buffer sets so that this cannot happen while the
    /// [`Device`](crate::Device) contract is kept.
    #[error("no free transmit buffer")]
    NoBuffer,
    /// The data is neither pcap nor pcapng: its first four bytes are no
    /// known magic number.
    #[error("not a pcap or pcapng capture (magic {magic:#010x})")]
    UnknownFormat {
        /// The first four bytes, read big-endian.
        magic: u32,
    },
    /// The capture ends in the middle of a header or record.
    #[error("capture truncated at byte {offset}")]
    Truncated {
        /// Offset of the incomplete header or record.
        offset: u64,
    },
    /// A header or block of the capture is inconsistent.
    #[error("malformed capture at byte {offset}: {reason}")]
    Malformed {
        /// Offset of the offending header or block.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A capture record or block is longer than this reader accepts
    /// (libpcap's limit of 262144 bytes per frame; 16 MiB per pcapng block).
    #[error("capture record of {len} bytes at byte {offset} exceeds the limit of {max}")]
    RecordTooLong {
        /// Offset of the record.
        offset: u64,
        /// Its declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The capture's link type is not one a [`Medium`](crate::Medium) can
    /// carry (Ethernet 1, raw IP 101, IPv4 228).
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    /// An operating-system or writer error.
    #[cfg(feature = "std")]
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
