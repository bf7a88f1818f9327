//! The crate's error type.

use core::net::{Ipv4Addr, SocketAddrV4};

/// Everything that can go wrong parsing or building a UDP datagram, or
/// binding and connecting in a [`UdpTable`](crate::UdpTable).
///
/// Each parsing variant is a distinct reason a datagram is dropped, so a
/// stack can count them separately.
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
    /// The local address and port are taken: another binding on the port
    /// has the same address, or one of the two is the wildcard address,
    /// and not both set [`reuse_addr`](crate::BindOptions::reuse_addr)
    /// (`EADDRINUSE`).
    #[error("address in use: {addr}:{port}")]
    AddrInUse {
        /// The address asked for.
        addr: Ipv4Addr,
        /// The port asked for.
        port: u16,
    },
    /// Every port of the ephemeral range is taken (`EAGAIN` in Linux).
    #[error("no free ephemeral port")]
    NoEphemeralPort,
    /// The table holds its maximum number of bindings.
    #[error("UDP table full: {max} bindings")]
    TableFull {
        /// The configured maximum.
        max: usize,
    },
    /// The handle is already bound (`EINVAL`).
    #[error("socket already bound")]
    AlreadyBound,
    /// The handle is not bound.
    #[error("socket not bound")]
    NotBound,
    /// A remote endpoint with port 0 or the unspecified address cannot be
    /// connected to.
    #[error("invalid remote endpoint {0}")]
    InvalidRemote(SocketAddrV4),
}
