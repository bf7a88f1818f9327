//! The crate's error type.

/// Everything that can go wrong parsing or describing an Ethernet frame.
///
/// Each variant is precise enough to be counted in interface statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the header (MAC addresses, every VLAN tag and
    /// the type field, plus the FCS when one is expected) is complete.
    #[error("truncated frame: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header (and FCS) need.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// More VLAN tags are stacked than the parser accepts
    /// ([`MAX_VLAN_TAGS`](crate::MAX_VLAN_TAGS)).
    #[error("more than {max} stacked VLAN tags")]
    TooManyVlanTags {
        /// The largest number of tags accepted.
        max: usize,
    },
    /// An IEEE 802.3 length field (a type field below 0x0600) claims more
    /// bytes than follow the header.
    #[error("802.3 length field says {length} bytes but {available} follow the header")]
    BadLength {
        /// The length field's value.
        length: u16,
        /// Bytes present after the header (FCS excluded).
        available: usize,
    },
    /// The frame check sequence does not match the frame's CRC-32.
    #[error("bad FCS: frame carries {received:#010x}, computed {computed:#010x}")]
    BadFcs {
        /// The FCS the frame carries.
        received: u32,
        /// The CRC-32 of the frame's bytes.
        computed: u32,
    },
    /// Text that is not a MAC address (`aa:bb:cc:dd:ee:ff` or
    /// `aa-bb-cc-dd-ee-ff`).
    #[error("invalid MAC address syntax")]
    BadMacAddr,
}
