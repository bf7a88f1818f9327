//! The socket API's [`Error`].

use lamina_icmp::IcmpErrorKind;

/// What a socket or interface call can fail with.
///
/// With the `std` feature every variant converts to a
/// [`std::io::Error`] whose [`kind`](std::io::Error::kind) is
/// [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to receive now (`EAGAIN`): poll the interface and try
    /// again.
    #[error("operation would block")]
    WouldBlock,
    /// The socket's transmit queue is full (`ENOBUFS`): poll the
    /// interface so that it drains, then try again.
    #[error("transmit queue full")]
    QueueFull,
    /// The local address and port are taken by another socket
    /// (`EADDRINUSE`).
    #[error("address in use")]
    AddrInUse,
    /// The local address is not one of the interface's addresses, or no
    /// ephemeral port is free (`EADDRNOTAVAIL`).
    #[error("address not available")]
    AddrNotAvailable,
    /// The socket is already bound (`EINVAL`).
    #[error("socket already bound")]
    AlreadyBound,
    /// The call needs a connected socket (`ENOTCONN`).
    #[error("socket not connected")]
    NotConnected,
    /// A destination that cannot be sent to: port 0, the unspecified
    /// address, or a broadcast without the broadcast flag (`EACCES`).
    #[error("destination not allowed")]
    Unaddressable,
    /// The datagram is larger than the socket's buffer or than IPv4
    /// allows (`EMSGSIZE`).
    #[error("message too long")]
    TooLong,
    /// No route to the destination (`ENETUNREACH`).
    #[error("no route to host")]
    NoRoute,
    /// The handle names no socket of this set, or a socket of another
    /// type.
    #[error("invalid socket handle")]
    InvalidHandle,
    /// The socket set is at its capacity.
    #[error("socket set full")]
    SetFull,
    /// A packet hook (a filter) refused the datagram (`EPERM`).
    #[error("refused by a packet filter")]
    Filtered,
    /// The interface cannot take another device or address.
    #[error("interface limit reached")]
    InterfaceFull,
    /// An ICMP error concerning the socket's traffic (RFC 1122
    /// §4.1.3.3), or the local stack's own verdict of the same kind (an
    /// ARP failure is [`IcmpErrorKind::HostUnreachable`], RFC 1122
    /// §3.2.2.1). Reported once, by the next call on the socket.
    #[error("{0}")]
    Icmp(IcmpErrorKind),
    /// A TCP connection failed or was closed: refused, reset, timed out,
    /// aborted, or closed for sending.
    #[error("{0}")]
    Tcp(lamina_tcp::ConnError),
    /// The socket is not in a state for this call (connecting a listening
    /// socket, listening on a connected one, accepting on a socket that
    /// does not listen).
    #[error("invalid socket state for this call")]
    InvalidState,
}

impl Error {
    /// The `std::io::ErrorKind` closest to this error.
    #[cfg(feature = "std")]
    pub fn kind(&self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Error::WouldBlock => K::WouldBlock,
            Error::QueueFull => K::OutOfMemory,
            Error::AddrInUse => K::AddrInUse,
            Error::AddrNotAvailable => K::AddrNotAvailable,
            Error::AlreadyBound => K::InvalidInput,
            Error::NotConnected => K::NotConnected,
            Error::Unaddressable | Error::Filtered => K::PermissionDenied,
            Error::TooLong => K::InvalidInput,
            Error::NoRoute => K::NetworkUnreachable,
            Error::InvalidHandle => K::NotFound,
            Error::SetFull | Error::InterfaceFull => K::OutOfMemory,
            Error::Icmp(kind) => K::from(*kind),
            Error::Tcp(e) => e.io_kind(),
            Error::InvalidState => K::InvalidInput,
        }
    }
}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::new(e.kind(), e)
    }
}
