//! The crate's error type.

/// Why bytes are not an Ethernet/IPv4 ARP packet.
///
/// Each variant is precise enough to be counted in interface statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer than the 28 bytes of an Ethernet/IPv4 ARP packet.
    #[error("truncated ARP packet: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes an Ethernet/IPv4 ARP packet needs (28).
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The hardware type is not Ethernet (1) with 6-byte addresses.
    #[error("unsupported ARP hardware type {htype} with {hlen}-byte addresses")]
    UnsupportedHardware {
        /// The hardware type field.
        htype: u16,
        /// The hardware address length field.
        hlen: u8,
    },
    /// The protocol type is not IPv4 (0x0800) with 4-byte addresses.
    #[error("unsupported ARP protocol type {ptype:#06x} with {plen}-byte addresses")]
    UnsupportedProtocol {
        /// The protocol type field.
        ptype: u16,
        /// The protocol address length field.
        plen: u8,
    },
}
