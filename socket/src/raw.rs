//! Raw IPv4 sockets.

use core::net::Ipv4Addr;

use lamina_ipv4::IpProtocol;

use crate::Error;
use crate::queue::Datagrams;

/// A raw IPv4 socket for one protocol number, as Linux's `SOCK_RAW`: it
/// receives a copy of every datagram of that protocol addressed to the
/// interface (whole: IPv4 header included, after reassembly), while the
/// stack goes on handling them, and sends payloads under an IPv4 header
/// the stack builds (source address, identification, fragmentation).
#[derive(Debug, Clone)]
pub struct RawSocket {
    pub(crate) protocol: IpProtocol,
    /// Received datagrams (whole), by source.
    pub(crate) rx: Datagrams<Ipv4Addr>,
    /// Payloads to send, by destination.
    pub(crate) tx: Datagrams<Ipv4Addr>,
    pub(crate) ttl: u8,
    pub(crate) rx_dropped: u64,
}

impl RawSocket {
    /// A socket for `protocol` queueing at most `packets` datagrams and
    /// `bytes` bytes each way.
    pub fn new(protocol: IpProtocol, packets: usize, bytes: usize) -> RawSocket {
        RawSocket {
            protocol,
            rx: Datagrams::new(packets, bytes),
            tx: Datagrams::new(packets, bytes),
            ttl: 64,
            rx_dropped: 0,
        }
    }

    /// The protocol number.
    pub fn protocol(&self) -> IpProtocol {
        self.protocol
    }

    /// Sets the TTL of datagrams sent from now on (default 64).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.ttl = ttl;
    }

    /// Queues `payload` for `dst`, to be sent under an IPv4 header of the
    /// socket's protocol.
    pub fn send_to(&mut self, payload: &[u8], dst: Ipv4Addr) -> Result<(), Error> {
        if dst.is_unspecified() {
            return Err(Error::Unaddressable);
        }
        if payload.len() > 65_515 || !self.tx.fits(payload.len()) {
            return Err(Error::TooLong);
        }
        if self.tx.push(dst, payload) {
            Ok(())
        } else {
            Err(Error::QueueFull)
        }
    }

    /// Copies the next received datagram (IPv4 header included) into
    /// `buf`, cut to its length; returns the bytes copied and the source.
    pub fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, Ipv4Addr), Error> {
        let (&from, data) = self.rx.front().ok_or(Error::WouldBlock)?;
        let n = data.len().min(buf.len());
        if let (Some(out), Some(src)) = (buf.get_mut(..n), data.get(..n)) {
            out.copy_from_slice(src);
        }
        self.rx.drop_front();
        Ok((n, from))
    }

    /// Whether a datagram waits.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Datagrams dropped because the receive queue was full.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    pub(crate) fn deliver(&mut self, src: Ipv4Addr, datagram: &[u8]) {
        if !self.rx.push(src, datagram) {
            self.rx_dropped += 1;
        }
    }
}
