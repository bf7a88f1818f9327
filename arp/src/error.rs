//! The crate's error type.

use core::net::Ipv4Addr;

use lamina_ethernet::MacAddr;

/// Why bytes are not an Ethernet/IPv4 ARP packet, or why the neighbor
/// cache refused a configuration change.
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
    /// The neighbor table is full and no entry could be evicted
    /// ([`NeighborConfig::max_entries`](crate::NeighborConfig::max_entries)).
    #[error("neighbor table full")]
    TableFull,
    /// The cache already holds
    /// [`NeighborConfig::max_addresses`](crate::NeighborConfig::max_addresses)
    /// addresses of our own.
    #[error("too many local addresses (at most {max})")]
    TooManyAddresses {
        /// The configured limit.
        max: usize,
    },
    /// The address is not one of ours (announcing an address we do not
    /// have).
    #[error("{ip} is not a local address")]
    NotOurAddress {
        /// The address.
        ip: Ipv4Addr,
    },
    /// The IPv4 address cannot name one host on the link: unspecified,
    /// loopback, multicast, the limited broadcast, a directed broadcast of
    /// one of our subnets, or (for a static neighbour) one of our own.
    #[error("{ip} is not a usable unicast neighbour address")]
    InvalidAddress {
        /// The address.
        ip: Ipv4Addr,
    },
    /// A prefix length above 32.
    #[error("invalid IPv4 prefix length {prefix_len}")]
    InvalidPrefixLen {
        /// The prefix length given.
        prefix_len: u8,
    },
    /// The hardware address cannot name one host: multicast, broadcast or
    /// all zeros.
    #[error("{mac} is not a unicast hardware address")]
    InvalidHardwareAddress {
        /// The address.
        mac: MacAddr,
    },
}
