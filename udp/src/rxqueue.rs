//! A socket's bounded receive queue.
//!
//! # Calling protocol
//!
//! The socket layer keeps one [`RxQueue`] per UDP socket. On input, after
//! [`UdpTable::lookup`](crate::UdpTable::lookup), it pushes the datagram
//! ([`push_slice`](RxQueue::push_slice) copies the payload into an owned
//! buffer, [`push`](RxQueue::push) takes a buffer already owned); a
//! refusal means the queue is full and the datagram is dropped, the newest
//! one, as Linux drops on `SO_RCVBUF` overflow — count it in
//! [`UdpStats::rcvbuf_errors`](crate::UdpStats::rcvbuf_errors). The
//! application takes datagrams out with [`pop`](RxQueue::pop) or
//! [`recv_slice`](RxQueue::recv_slice), oldest first.
//!
//! The queue is bounded twice: in datagrams (so empty datagrams cannot
//! pile up) and in payload bytes. A datagram is accepted only if both
//! limits still hold with it, so a datagram larger than the byte limit is
//! never accepted.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

/// A datagram was dropped: the receive queue is full (Linux counts it as
/// `RcvbufErrors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueFull;

impl core::fmt::Display for QueueFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("receive queue full")
    }
}

/// A received datagram waiting in an [`RxQueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxDatagram<P = Vec<u8>> {
    /// Who sent it (`recvfrom`'s address).
    pub src: SocketAddrV4,
    /// The address it was sent to: one of ours, or a broadcast address
    /// (`IP_PKTINFO`'s `ipi_addr`).
    pub dst: Ipv4Addr,
    /// The UDP payload.
    pub payload: P,
}

/// What [`RxQueue::recv_slice`] copied out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecvInfo {
    /// Who sent the datagram.
    pub src: SocketAddrV4,
    /// The address it was sent to.
    pub dst: Ipv4Addr,
    /// Bytes copied into the buffer.
    pub copied: usize,
    /// The datagram's whole length; more than `copied` when the buffer
    /// was too small and the rest was discarded (`MSG_TRUNC`).
    pub len: usize,
}

impl RecvInfo {
    /// Whether part of the datagram was discarded.
    #[inline]
    pub fn truncated(&self) -> bool {
        self.copied < self.len
    }
}

/// A FIFO of received datagrams bounded in count and bytes, dropping the
/// newest when full; see the [module documentation](self).
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddrV4};
/// use lamina_udp::RxQueue;
///
/// let peer = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 5353);
/// let me = Ipv4Addr::new(192, 0, 2, 1);
/// let mut q = RxQueue::new(2, 1500);
/// assert!(q.push_slice(peer, me, b"one").is_ok());
/// assert!(q.push_slice(peer, me, b"two").is_ok());
/// assert!(q.push_slice(peer, me, b"three").is_err()); // full: dropped
/// assert_eq!(q.drops(), 1);
///
/// let mut buf = [0u8; 2];
/// let got = q.recv_slice(&mut buf).unwrap();
/// assert_eq!((&buf[..], got.len, got.truncated()), (&b"on"[..], 3, true));
/// assert_eq!(q.pop().unwrap().payload, b"two");
/// ```
#[derive(Debug, Clone)]
pub struct RxQueue<P = Vec<u8>> {
    queue: VecDeque<RxDatagram<P>>,
    bytes: usize,
    max_datagrams: usize,
    max_bytes: usize,
    drops: u64,
}

impl<P: AsRef<[u8]>> RxQueue<P> {
    /// An empty queue holding at most `max_datagrams` datagrams and
    /// `max_bytes` bytes of payload. Nothing is allocated until a
    /// datagram arrives.
    pub fn new(max_datagrams: usize, max_bytes: usize) -> RxQueue<P> {
        RxQueue {
            queue: VecDeque::new(),
            bytes: 0,
            max_datagrams,
            max_bytes,
            drops: 0,
        }
    }

    /// The datagram limit.
    #[inline]
    pub fn max_datagrams(&self) -> usize {
        self.max_datagrams
    }

    /// The byte limit.
    #[inline]
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Changes the limits (`SO_RCVBUF`). Datagrams already queued stay,
    /// even beyond the new limits; new ones wait for room.
    pub fn set_limits(&mut self, max_datagrams: usize, max_bytes: usize) {
        self.max_datagrams = max_datagrams;
        self.max_bytes = max_bytes;
    }

    /// Datagrams queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Payload bytes queued.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams dropped because the queue was full.
    #[inline]
    pub fn drops(&self) -> u64 {
        self.drops
    }

    /// Whether a datagram of `len` payload bytes would be accepted now.
    #[inline]
    pub fn has_room(&self, len: usize) -> bool {
        self.queue.len() < self.max_datagrams
            && self
                .bytes
                .checked_add(len)
                .is_some_and(|b| b <= self.max_bytes)
    }

    /// Queues `datagram`, or gives it back (counted in
    /// [`drops`](Self::drops)) when there is no room.
    pub fn push(&mut self, datagram: RxDatagram<P>) -> Result<(), RxDatagram<P>> {
        let len = datagram.payload.as_ref().len();
        if !self.has_room(len) {
            self.drops += 1;
            return Err(datagram);
        }
        self.bytes += len;
        self.queue.push_back(datagram);
        Ok(())
    }

    /// The oldest datagram, taken out.
    pub fn pop(&mut self) -> Option<RxDatagram<P>> {
        let d = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(d.payload.as_ref().len());
        Some(d)
    }

    /// The oldest datagram, left in place (`MSG_PEEK`).
    #[inline]
    pub fn peek(&self) -> Option<&RxDatagram<P>> {
        self.queue.front()
    }

    /// Takes out the oldest datagram, copying as much of its payload as
    /// fits into `buf`; the rest is discarded, as `recvfrom` does.
    pub fn recv_slice(&mut self, buf: &mut [u8]) -> Option<RecvInfo> {
        let d = self.pop()?;
        let payload = d.payload.as_ref();
        let copied = payload.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..copied), payload.get(..copied)) {
            dst.copy_from_slice(src);
        }
        Some(RecvInfo {
            src: d.src,
            dst: d.dst,
            copied,
            len: payload.len(),
        })
    }

    /// Drops every queued datagram (on close); the drop counter stays.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }
}

impl RxQueue<Vec<u8>> {
    /// Queues a copy of `payload` from `src` sent to `dst`. Room is
    /// checked before anything is allocated, so a flood into a full queue
    /// costs no allocation. [`QueueFull`] means dropped (counted in
    /// [`drops`](Self::drops)).
    pub fn push_slice(
        &mut self,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        payload: &[u8],
    ) -> Result<(), QueueFull> {
        if !self.has_room(payload.len()) {
            self.drops += 1;
            return Err(QueueFull);
        }
        self.push(RxDatagram {
            src,
            dst,
            payload: payload.to_vec(),
        })
        .map_err(|_| QueueFull)
    }
}

#[cfg(test)]
mod tests;
