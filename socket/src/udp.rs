//! UDP sockets.

use core::net::{Ipv4Addr, SocketAddrV4};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use lamina_netbuf::checksum::Checksum;

use crate::Error;
use crate::queue::Datagrams;

/// The buffer limits of a [`UdpSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UdpConfig {
    /// Datagrams waiting to be read (default 64); beyond, arrivals are
    /// dropped and counted in [`UdpSocket::rx_dropped`].
    pub rx_packets: usize,
    /// Payload bytes waiting to be read (default 256 KiB). A datagram
    /// left in its frame's buffer counts its payload; such buffers hold
    /// at most twice what they carry, and those read out wait for the
    /// device up to half this bound (see [`UdpSocket`]).
    pub rx_bytes: usize,
    /// Datagrams waiting to be sent (default 64); beyond,
    /// [`send_to`](UdpSocket::send_to) fails with [`Error::QueueFull`].
    pub tx_packets: usize,
    /// Payload bytes waiting to be sent (default 256 KiB).
    pub tx_bytes: usize,
}

impl Default for UdpConfig {
    fn default() -> UdpConfig {
        UdpConfig {
            rx_packets: 64,
            rx_bytes: 256 * 1024,
            tx_packets: 64,
            tx_bytes: 256 * 1024,
        }
    }
}

/// The largest UDP payload an IPv4 datagram carries (65535 − 20 − 8).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Room in front of a payload written into a lent buffer: the Ethernet,
/// IPv4 (no options) and UDP headers.
pub(crate) const TX_HEADROOM: usize = 14 + 20 + 8;

/// Payloads at least this long are written into a lent buffer where the
/// socket has one (shorter ones cost less to copy twice than a buffer
/// costs to lend).
pub(crate) const TX_LENT_MIN: usize = 512;

/// The most transmit buffers a [`UdpSocket`] keeps lent (see its
/// documentation).
pub(crate) const TX_LENT_MAX: usize = 32;

/// A datagram to send, written into a buffer a device lent: the payload
/// at [`TX_HEADROOM`].
#[derive(Debug, Clone)]
pub(crate) struct LentDatagram {
    pub(crate) dst: SocketAddrV4,
    pub(crate) buf: Vec<u8>,
    /// The payload's length.
    pub(crate) len: usize,
    /// The payload's ones' complement sum (taken as it was copied in).
    pub(crate) sum: u16,
}

impl LentDatagram {
    /// The payload, behind the headers' room.
    #[inline]
    pub(crate) fn payload(&self) -> &[u8] {
        self.buf
            .get(TX_HEADROOM..TX_HEADROOM + self.len)
            .unwrap_or_default()
    }
}

/// A socket's datagrams in lent buffers, and its lent buffers not written
/// yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct LentTx {
    pub(crate) queue: VecDeque<LentDatagram>,
    /// The payload bytes in `queue`.
    pub(crate) bytes: usize,
    pub(crate) spare: Vec<Vec<u8>>,
}

impl LentTx {
    /// Copies `data` (and sums it) into a spare buffer, queued for `dst`;
    /// `false` (nothing done) without a spare long enough.
    #[inline]
    fn push(&mut self, dst: SocketAddrV4, data: &[u8]) -> bool {
        let Some(mut buf) = self.spare.pop() else {
            return false;
        };
        let Some(room) = buf.get_mut(TX_HEADROOM..TX_HEADROOM + data.len()) else {
            self.spare.push(buf);
            return false;
        };
        let sum = lamina_netbuf::checksum::copy_with_sum(room, data);
        self.bytes += data.len();
        self.queue.push_back(LentDatagram {
            dst,
            buf,
            len: data.len(),
            sum,
        });
        true
    }

    /// Keeps `buf` (a lent buffer that came back unsent, or whose payload
    /// was copied out) for the next payload, up to [`TX_LENT_MAX`]
    /// buffers (dropped beyond).
    #[inline]
    pub(crate) fn keep_spare(&mut self, buf: Vec<u8>) {
        if self.spare.len() < TX_LENT_MAX {
            self.spare.push(buf);
        }
    }

    /// Takes the oldest datagram.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<LentDatagram> {
        let d = self.queue.pop_front()?;
        self.bytes -= d.len;
        Some(d)
    }
}

/// A UDP socket (RFC 768): datagrams in and out through bounded queues,
/// an error slot for ICMP errors (RFC 1122 §4.1.3.3), and a broadcast
/// flag.
///
/// Bind it through [`SocketSet::bind_udp`](crate::SocketSet::bind_udp),
/// which refuses a port already taken and picks an ephemeral port for
/// port 0, and connect it with
/// [`SocketSet::connect_udp`](crate::SocketSet::connect_udp): the set
/// keeps the port table (`lamina_udp::UdpTable`) that demultiplexes
/// received datagrams. A socket that sends while unbound is given an
/// ephemeral port by the interface. Payloads are copied once into the
/// socket on send and once out of the frame on receive; each queue keeps
/// its payloads back to back in one buffer, so a steady flow allocates
/// nothing.
///
/// A large datagram (filling at least half of a frame buffer, from a
/// device that can give its buffers away) is not copied on receive: it
/// waits in the frame's buffer, and its checksum, where the device did
/// not verify it, is verified as [`recv_from`](Self::recv_from) copies it
/// out (one pass over the bytes instead of two, as Linux does). A
/// datagram that fails then is dropped and counted
/// ([`rx_checksum_errors`](Self::rx_checksum_errors)) and the next one is
/// read: so [`can_recv`](Self::can_recv) can say a datagram waits and
/// the read still find none ([`Error::WouldBlock`]). Buffers read out
/// are kept for the device, up to half of [`UdpConfig::rx_bytes`] of
/// them, and go back to it as the next large datagrams arrive.
///
/// Likewise on sending, toward a device that lends its transmit buffers
/// (`lamina_netdev::Device::tx_buffer`; the in-memory wires and hubs do):
/// a large payload is copied, and summed in the same pass, straight into
/// a frame buffer the interface lent the socket, behind room for the
/// headers, which the interface writes there before handing the device
/// the buffer itself (one copy of the payload instead of two). The socket
/// keeps as many such buffers as it queued large datagrams between two
/// transmit passes, at most 32 ([`lent_buffers`](Self::lent_buffers));
/// the datagrams count against [`UdpConfig::tx_packets`] and
/// [`UdpConfig::tx_bytes`] like the others, and leave in the order they
/// were sent.
#[derive(Debug, Clone)]
pub struct UdpSocket {
    pub(crate) local: Option<SocketAddrV4>,
    pub(crate) remote: Option<SocketAddrV4>,
    /// Received datagrams: (source, local address they were sent to).
    pub(crate) rx: Datagrams<(SocketAddrV4, Ipv4Addr), true>,
    /// Datagrams to send, by destination.
    pub(crate) tx: Datagrams<SocketAddrV4>,
    /// Datagrams to send written into buffers a device lent, and the
    /// buffers lent and not written yet (allocated with the first lent).
    pub(crate) lent: Option<Box<LentTx>>,
    /// Large payloads `send_to` queued since the last transmit pass: how
    /// many buffers the socket asks to be lent for the next.
    pub(crate) tx_large: u16,
    rx_dropped: u64,
    /// Datagrams found corrupt as they were read.
    rx_checksum_errors: u64,
    pub(crate) error: Option<Error>,
    pub(crate) broadcast: bool,
    pub(crate) recv_errors: bool,
    pub(crate) ttl: u8,
    pub(crate) dont_fragment: bool,
}

impl Default for UdpSocket {
    fn default() -> UdpSocket {
        UdpSocket::new(UdpConfig::default())
    }
}

impl UdpSocket {
    /// An unbound socket with the limits of `config`.
    pub fn new(config: UdpConfig) -> UdpSocket {
        UdpSocket {
            local: None,
            remote: None,
            rx: Datagrams::new(config.rx_packets, config.rx_bytes),
            tx: Datagrams::new(config.tx_packets, config.tx_bytes),
            lent: None,
            tx_large: 0,
            rx_dropped: 0,
            rx_checksum_errors: 0,
            error: None,
            broadcast: false,
            recv_errors: false,
            ttl: 64,
            dont_fragment: false,
        }
    }

    /// The local address and port, once bound (the address may be
    /// `0.0.0.0`: any of the interface's addresses).
    pub fn local_addr(&self) -> Option<SocketAddrV4> {
        self.local
    }

    /// The connected peer, if any.
    pub fn peer_addr(&self) -> Option<SocketAddrV4> {
        self.remote
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&mut self, on: bool) {
        self.broadcast = on;
    }

    /// Whether sending to broadcast addresses is allowed.
    pub fn broadcast(&self) -> bool {
        self.broadcast
    }

    /// Reports ICMP errors on an unconnected socket too (Linux
    /// `IP_RECVERR`); by default only a connected socket reports them.
    /// A connected socket reports every error about its traffic, soft
    /// ones (TTL or reassembly time exceeded, network or host
    /// unreachable) as well as hard ones (port or protocol unreachable),
    /// as RFC 1122 §4.1.3.3 asks; Linux, without `IP_RECVERR`, reports
    /// only the hard ones. And connected or not, a socket hears "host
    /// unreachable" for a datagram of its own that could not even be
    /// queued, its next hop's ARP resolution having failed already
    /// (RFC 1122 §3.2.2.1).
    pub fn set_recv_errors(&mut self, on: bool) {
        self.recv_errors = on;
    }

    /// Sets Don't Fragment on datagrams sent from now on (Linux
    /// `IP_PMTUDISC_DO`; default off): a datagram over the route's MTU
    /// fails with [`Error::TooLong`] here, and a router with a smaller
    /// next-hop MTU answers Fragmentation Needed, reported as
    /// [`Error::Icmp`]`(MessageTooLong)` (RFC 1191).
    pub fn set_dont_fragment(&mut self, on: bool) {
        self.dont_fragment = on;
    }

    /// Sets the TTL of datagrams sent from now on (default 64).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.ttl = ttl;
    }

    /// Queues `data` for `dst`. Fails with the pending ICMP error if there
    /// is one (reporting it once), [`Error::Unaddressable`] for port 0,
    /// the unspecified address or a broadcast without
    /// [`set_broadcast`](Self::set_broadcast), [`Error::TooLong`] for a
    /// payload larger than the queue or than IPv4 carries, and
    /// [`Error::QueueFull`] when the transmit queue has no room now.
    #[inline]
    pub fn send_to(&mut self, data: &[u8], dst: SocketAddrV4) -> Result<(), Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if dst.port() == 0 || dst.ip().is_unspecified() {
            return Err(Error::Unaddressable);
        }
        if dst.ip().is_broadcast() && !self.broadcast {
            return Err(Error::Unaddressable);
        }
        if data.len() > MAX_UDP_PAYLOAD || !self.tx.fits(data.len()) {
            return Err(Error::TooLong);
        }
        let large = data.len() >= TX_LENT_MIN;
        if let Some(lent) = self.lent.as_deref_mut() {
            if !self
                .tx
                .has_room_besides(data.len(), lent.queue.len(), lent.bytes)
            {
                return Err(Error::QueueFull);
            }
            // Into a lent buffer while nothing older waits in the queue
            // (the lent go out first).
            if large && self.tx.is_empty() && lent.push(dst, data) {
                self.tx_large = self.tx_large.saturating_add(1);
                return Ok(());
            }
        }
        if !self.tx.push(dst, data) {
            return Err(Error::QueueFull);
        }
        if large {
            self.tx_large = self.tx_large.saturating_add(1);
        }
        Ok(())
    }

    /// Whether nothing waits to be sent.
    #[inline]
    pub(crate) fn tx_is_empty(&self) -> bool {
        self.tx.is_empty() && self.lent.as_ref().is_none_or(|l| l.queue.is_empty())
    }

    /// Drops every datagram waiting to be sent.
    pub(crate) fn drop_tx(&mut self) {
        while self.tx.drop_front() {}
        if let Some(lent) = self.lent.as_deref_mut() {
            while lent.pop().is_some() {}
        }
    }

    /// Queues `data` for the connected peer.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        let peer = self.remote.ok_or(Error::NotConnected)?;
        self.send_to(data, peer)
    }

    /// Reads the next datagram into `buf`: the bytes copied (a longer
    /// datagram is cut, as POSIX does) and its source. Fails with the
    /// pending ICMP error first, then [`Error::WouldBlock`] if nothing is
    /// queued (or only datagrams that fail their checksum, dropped here).
    #[inline]
    pub fn recv_from(&mut self, buf: &mut [u8]) -> Result<(usize, SocketAddrV4), Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        loop {
            let ((from, _), payload, check) = self.rx.front_check().ok_or(Error::WouldBlock)?;
            let from = *from;
            let n = payload.len().min(buf.len());
            let (Some(out), Some(src)) = (buf.get_mut(..n), payload.get(..n)) else {
                return Err(Error::WouldBlock);
            };
            let good = match check {
                None => {
                    out.copy_from_slice(src);
                    true
                }
                Some(rest) => {
                    let mut sum = Checksum::new();
                    sum.add_u16(rest);
                    sum.add_copy(out, src);
                    sum.add_bytes(payload.get(n..).unwrap_or_default());
                    sum.finish() == 0
                }
            };
            self.rx.drop_front();
            if good {
                return Ok((n, from));
            }
            self.rx_checksum_errors += 1;
        }
    }

    /// Reads the next datagram from the connected peer.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// The next datagram without dequeuing it: its payload, its source and
    /// the local address it was sent to. A datagram whose checksum is
    /// still to be verified is verified here (and passed over if it
    /// fails: the next read drops it).
    pub fn peek(&self) -> Result<(&[u8], SocketAddrV4, Ipv4Addr), Error> {
        (0..self.rx.len())
            .filter_map(|i| self.rx.get(i))
            .find(|(_, payload, check)| {
                check.is_none_or(|rest| {
                    let mut sum = Checksum::new();
                    sum.add_u16(rest);
                    sum.add_bytes(payload);
                    sum.finish() == 0
                })
            })
            .map(|(&(src, dst), payload, _)| (payload, src, dst))
            .ok_or(Error::WouldBlock)
    }

    /// Takes the pending error, if any, without another call failing.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Whether a datagram waits to be read.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Whether a datagram of `len` bytes would be queued now.
    pub fn can_send(&self, len: usize) -> bool {
        match self.lent.as_deref() {
            Some(l) => self.tx.has_room_besides(len, l.queue.len(), l.bytes),
            None => self.tx.has_room(len),
        }
    }

    /// Datagrams waiting to be read.
    pub fn recv_queue_len(&self) -> usize {
        self.rx.len()
    }

    /// Datagrams waiting to be sent.
    pub fn send_queue_len(&self) -> usize {
        self.tx.len() + self.lent.as_ref().map_or(0, |l| l.queue.len())
    }

    /// Transmit buffers a device lent the socket for its next large
    /// datagrams, not written yet (see the type's documentation): memory
    /// the socket holds on the device's behalf.
    pub fn lent_buffers(&self) -> usize {
        self.lent.as_ref().map_or(0, |l| l.spare.len())
    }

    /// Datagrams dropped because the receive queue was full.
    pub fn rx_dropped(&self) -> u64 {
        self.rx_dropped
    }

    /// Datagrams dropped as they were read because their checksum failed
    /// (those kept in their frame's buffer, verified only then; the
    /// others are verified on arrival and counted in the interface's
    /// `UdpStats`).
    pub fn rx_checksum_errors(&self) -> u64 {
        self.rx_checksum_errors
    }

    /// Queues a received datagram of `len` bytes that stays at `start` in
    /// the frame buffer to be attached next
    /// ([`attach_kept`](Self::attach_kept)), its checksum verified as it
    /// is read when `check` (the pseudo-header's and header's sum) is
    /// given. `false` if there is no room (nothing counted: check
    /// [`has_room`](Self::has_room) first).
    #[inline]
    pub(crate) fn deliver_kept(
        &mut self,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        start: usize,
        len: usize,
        check: Option<u16>,
    ) -> bool {
        self.rx.push_kept((src, dst), start, len, check)
    }

    /// The frame buffer (the frame its first `len` bytes) of the datagram
    /// just queued by [`deliver_kept`](Self::deliver_kept); back if it
    /// does not hold it (the datagram withdrawn).
    #[inline]
    pub(crate) fn attach_kept(&mut self, buf: Vec<u8>, len: usize) -> Result<(), Vec<u8>> {
        self.rx.attach(buf, len)
    }

    /// Withdraws the datagram queued by
    /// [`deliver_kept`](Self::deliver_kept) whose buffer did not come.
    #[inline]
    pub(crate) fn cancel_kept(&mut self) {
        self.rx.cancel_pending();
    }

    /// A buffer read out, to give back to a device.
    #[inline]
    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.rx.take_spare()
    }

    /// Whether a datagram of `len` bytes would be queued now.
    #[inline]
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.rx.has_room(len)
    }

    /// Queues a datagram of `len` bytes that `write` copies in place, kept
    /// only if `write` returns `true` (see `Datagrams::push_with`); call
    /// where [`has_room`](Self::has_room) said so (`false` otherwise,
    /// `write` not called, nothing counted).
    #[inline]
    pub(crate) fn deliver_with(
        &mut self,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        len: usize,
        write: impl FnOnce(&mut [u8]) -> bool,
    ) -> bool {
        self.rx.push_with((src, dst), len, write) == Some(true)
    }

    /// Queues a received datagram; `false` if the queue was full (the
    /// drop is counted).
    #[inline]
    pub(crate) fn deliver(&mut self, src: SocketAddrV4, dst: Ipv4Addr, data: &[u8]) -> bool {
        let queued = self.rx.push((src, dst), data);
        if !queued {
            self.rx_dropped += 1;
        }
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dst() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 7)
    }

    #[test]
    fn send_to_refuses_what_cannot_be_sent() {
        let mut s = UdpSocket::default();
        let zero_port = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 0);
        assert_eq!(s.send_to(b"x", zero_port), Err(Error::Unaddressable));
        let bcast = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);
        assert_eq!(s.send_to(b"x", bcast), Err(Error::Unaddressable));
        s.set_broadcast(true);
        assert_eq!(s.send_to(b"x", bcast), Ok(()));
        let big = alloc::vec![0u8; MAX_UDP_PAYLOAD + 1];
        assert_eq!(s.send_to(&big, dst()), Err(Error::TooLong));
        assert_eq!(s.send(b"x"), Err(Error::NotConnected));
    }

    #[test]
    fn a_full_transmit_queue_pushes_back() {
        let config = UdpConfig {
            tx_packets: 2,
            ..UdpConfig::default()
        };
        let mut s = UdpSocket::new(config);
        s.send_to(b"1", dst()).unwrap();
        s.send_to(b"2", dst()).unwrap();
        assert!(!s.can_send(1));
        assert_eq!(s.send_to(b"3", dst()), Err(Error::QueueFull));
        assert_eq!(s.send_queue_len(), 2);
    }

    /// RFC 1122 §4.1.3.3: a pending ICMP error is reported once, by the
    /// next call, ahead of queued data.
    #[test]
    fn a_pending_error_is_reported_once_before_data() {
        let mut s = UdpSocket::default();
        let src = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 9);
        assert!(s.deliver(src, Ipv4Addr::new(192, 0, 2, 1), b"data"));
        s.error = Some(Error::Icmp(lamina_icmp::IcmpErrorKind::ConnectionRefused));
        let mut buf = [0u8; 2];
        assert_eq!(
            s.recv_from(&mut buf),
            Err(Error::Icmp(lamina_icmp::IcmpErrorKind::ConnectionRefused))
        );
        assert_eq!(s.peek().map(|p| p.0.len()), Ok(4));
        // Cut to the buffer, as POSIX.
        assert_eq!(s.recv_from(&mut buf), Ok((2, src)));
        assert_eq!(buf, *b"da");
        assert_eq!(s.recv_from(&mut buf), Err(Error::WouldBlock));
    }

    #[test]
    fn a_full_receive_queue_drops_and_counts() {
        let config = UdpConfig {
            rx_packets: 1,
            ..UdpConfig::default()
        };
        let mut s = UdpSocket::new(config);
        let src = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 9);
        assert!(s.deliver(src, Ipv4Addr::new(192, 0, 2, 1), b"a"));
        assert!(!s.deliver(src, Ipv4Addr::new(192, 0, 2, 1), b"b"));
        assert_eq!(s.rx_dropped(), 1);
        assert_eq!(s.recv_queue_len(), 1);
    }
}
