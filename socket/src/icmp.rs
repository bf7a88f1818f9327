//! ICMP echo ("ping") sockets.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use crate::Error;
use crate::queue::Datagrams;

/// An Echo Reply received by an [`IcmpSocket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoResponse {
    /// Who answered.
    pub src: Ipv4Addr,
    /// The sequence number.
    pub seq_no: u16,
    /// The echoed data.
    pub data: Vec<u8>,
}

/// What [`IcmpSocket::recv_echo_into`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReplyMeta {
    /// Who answered.
    pub src: Ipv4Addr,
    /// The sequence number.
    pub seq_no: u16,
    /// Bytes copied into the caller's buffer.
    pub len: usize,
    /// The echoed data's whole length (more than `len` when cut).
    pub data_len: usize,
}

/// The largest echo data an IPv4 datagram carries (65535 − 20 − 8).
pub const MAX_ECHO_DATA: usize = 65_507;

/// A ping socket, as Linux's `SOCK_DGRAM`/`IPPROTO_ICMP`: it owns an
/// echo identifier, sends Echo Requests (RFC 792) with it and receives
/// the Echo Replies that carry it, and the ICMP errors that quote its
/// requests (a router's "TTL exceeded", "host unreachable").
///
/// The interface answers pings addressed to it by itself; a ping socket
/// is for sending them.
#[derive(Debug, Clone)]
pub struct IcmpSocket {
    pub(crate) ident: Option<u16>,
    /// Echo Replies received: who answered, the sequence number.
    pub(crate) rx: Datagrams<(Ipv4Addr, u16)>,
    /// Echo Requests to send: the destination, the sequence number.
    pub(crate) tx: Datagrams<(Ipv4Addr, u16)>,
    pub(crate) error: Option<Error>,
    pub(crate) ttl: u8,
    pub(crate) rx_dropped: u64,
}

impl Default for IcmpSocket {
    fn default() -> IcmpSocket {
        IcmpSocket::new(64, 256 * 1024)
    }
}

impl IcmpSocket {
    /// An unbound socket queueing at most `packets` datagrams and `bytes`
    /// bytes each way.
    pub fn new(packets: usize, bytes: usize) -> IcmpSocket {
        IcmpSocket {
            ident: None,
            rx: Datagrams::new(packets, bytes),
            tx: Datagrams::new(packets, bytes),
            error: None,
            ttl: 64,
            rx_dropped: 0,
        }
    }

    /// The echo identifier, once bound.
    pub fn ident(&self) -> Option<u16> {
        self.ident
    }

    /// Sets the TTL of requests sent from now on (default 64).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.ttl = ttl;
    }

    /// Queues an Echo Request to `dst` with sequence number `seq_no` and
    /// `data`. The socket must be bound
    /// ([`SocketSet::bind_icmp`](crate::SocketSet::bind_icmp)). Fails with
    /// a pending error first, like [`UdpSocket::send_to`](crate::UdpSocket::send_to).
    #[inline]
    pub fn send_echo(&mut self, dst: Ipv4Addr, seq_no: u16, data: &[u8]) -> Result<(), Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.ident.is_none() {
            return Err(Error::AddrNotAvailable);
        }
        if dst.is_unspecified() || dst.is_broadcast() {
            return Err(Error::Unaddressable);
        }
        if data.len() > MAX_ECHO_DATA || !self.tx.fits(data.len()) {
            return Err(Error::TooLong);
        }
        if self.tx.push((dst, seq_no), data) {
            Ok(())
        } else {
            Err(Error::QueueFull)
        }
    }

    /// The next Echo Reply, or the pending error, or
    /// [`Error::WouldBlock`].
    pub fn recv_echo(&mut self) -> Result<EchoResponse, Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let (&(src, seq_no), data) = self.rx.front().ok_or(Error::WouldBlock)?;
        let r = EchoResponse {
            src,
            seq_no,
            data: data.to_vec(),
        };
        self.rx.drop_front();
        Ok(r)
    }

    /// The next Echo Reply copied into `buf` (cut to its length, as
    /// POSIX does): who answered, the sequence number and the bytes
    /// copied. Allocates nothing once warm, unlike
    /// [`recv_echo`](Self::recv_echo). Fails like `recv_echo`.
    #[inline]
    pub fn recv_echo_into(&mut self, buf: &mut [u8]) -> Result<EchoReplyMeta, Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let (&(src, seq_no), data) = self.rx.front().ok_or(Error::WouldBlock)?;
        let n = data.len().min(buf.len());
        if let (Some(out), Some(d)) = (buf.get_mut(..n), data.get(..n)) {
            out.copy_from_slice(d);
        }
        let meta = EchoReplyMeta {
            src,
            seq_no,
            len: n,
            data_len: data.len(),
        };
        self.rx.drop_front();
        Ok(meta)
    }

    /// Takes the pending error, if any.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Whether a reply waits.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Replies dropped because the receive queue was full.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    #[inline]
    pub(crate) fn deliver(&mut self, src: Ipv4Addr, seq_no: u16, data: &[u8]) {
        if !self.rx.push((src, seq_no), data) {
            self.rx_dropped += 1;
        }
    }
}
