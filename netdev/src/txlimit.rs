//! [`TxLimit`]: a transmit ring that fills, around any [`Device`].
//!
//! A NIC takes frames into a ring of descriptors and frees them as the
//! hardware sends them; its driver sees the room again when it reaps the
//! completions, typically when the stack polls it. While the ring is full
//! [`Device::transmit`] says `None`, and a stack must hold its data back
//! rather than lose it. In-memory wires never fill; wrap one in a
//! `TxLimit` to test what a stack (or an application on it) does when the
//! device pushes back.

use alloc::vec::Vec;

use lamina_netbuf::Instant;

use crate::{Capabilities, Device, Stats};

/// A device whose transmit path takes at most `limit` frames between two
/// refills, refilled whenever the stack looks for a received frame
/// ([`Device::receive`], which the provided `poll_rx` calls: as a driver
/// reaps its completions when polled) or, with
/// [`manual`](Self::manual), only by [`refill`](Self::refill). A limit of
/// `None` takes everything; `Some(0)` takes nothing (a dead transmitter).
///
/// ```
/// use lamina_netbuf::Instant;
/// use lamina_netdev::{Device, LinkConfig, TxLimit, wire};
///
/// let (a, mut b) = wire(LinkConfig::new());
/// let mut a = TxLimit::new(a, Some(2));
/// let now = Instant::ZERO;
/// assert!(a.transmit(now).is_some());
/// assert!(a.transmit(now).is_some());
/// assert!(a.transmit(now).is_none(), "the ring is full");
/// assert_eq!(a.refused(), 1);
/// // The stack polls the device: completions reaped, room again.
/// assert!(a.receive(now).is_none());
/// assert!(a.transmit(now).is_some());
/// # let _ = b.receive(now);
/// ```
#[derive(Debug)]
pub struct TxLimit<D> {
    inner: D,
    limit: Option<usize>,
    room: usize,
    auto: bool,
    refused: u64,
}

impl<D> TxLimit<D> {
    /// `inner` with a ring of `limit` frames (`None`: no limit), full of
    /// room, refilled whenever the stack polls for received frames.
    pub fn new(inner: D, limit: Option<usize>) -> TxLimit<D> {
        TxLimit {
            inner,
            limit,
            room: limit.unwrap_or(0),
            auto: true,
            refused: 0,
        }
    }

    /// This device refilled only by [`refill`](Self::refill), not by
    /// receive polls (a test decides when the hardware catches up).
    pub fn manual(mut self) -> TxLimit<D> {
        self.auto = false;
        self
    }

    /// Frees the whole ring: `limit` frames may go again.
    pub fn refill(&mut self) {
        self.room = self.limit.unwrap_or(0);
    }

    /// The ring's size (`None`: no limit).
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Changes the ring's size; the room left is the new size.
    pub fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit;
        self.refill();
    }

    /// Frames the ring takes before the next refill (`None`: no limit).
    pub fn room(&self) -> Option<usize> {
        self.limit.map(|_| self.room)
    }

    /// Transmits refused because the ring was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, to change.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The wrapped device back.
    pub fn into_inner(self) -> D {
        self.inner
    }

    #[inline]
    fn polled(&mut self) {
        if self.auto {
            self.refill();
        }
    }
}

impl<D: Device> Device for TxLimit<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.polled();
        self.inner.receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        if self.limit.is_some() {
            if self.room == 0 {
                self.refused = self.refused.wrapping_add(1);
                return None;
            }
            self.room -= 1;
        }
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn flush(&mut self, now: Instant) {
        self.inner.flush(now)
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        self.inner.recycle(buf)
    }

    /// The inner device's (a lent buffer takes no room in the ring until
    /// it is sent, through a token the ring counted).
    fn tx_buffer(&mut self) -> Option<Vec<u8>> {
        self.inner.tx_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LinkConfig, TxToken, wire};

    fn send(dev: &mut impl Device, n: usize) -> usize {
        (0..n)
            .filter(|_| {
                dev.transmit(Instant::ZERO)
                    .is_some_and(|t| t.consume(60, |f| f.fill(1)).is_ok())
            })
            .count()
    }

    #[test]
    fn a_full_ring_refuses_until_the_stack_polls() {
        let (a, mut b) = wire(LinkConfig::new());
        let mut a = TxLimit::new(a, Some(3));
        assert_eq!(send(&mut a, 5), 3);
        assert_eq!(a.refused(), 2);
        assert_eq!(a.room(), Some(0));
        assert_eq!(a.poll_rx(Instant::ZERO, 8, |_, _, _| {}), 0);
        assert_eq!(a.room(), Some(3));
        assert_eq!(send(&mut a, 5), 3);
        assert_eq!(b.poll_rx(Instant::ZERO, 16, |_, _, _| {}), 6);
    }

    #[test]
    fn a_manual_ring_waits_for_refill_and_none_takes_all() {
        let (a, _b) = wire(LinkConfig::new().with_queue_len(256));
        let mut a = TxLimit::new(a, Some(1)).manual();
        assert_eq!(send(&mut a, 2), 1);
        assert!(a.receive(Instant::ZERO).is_none());
        assert_eq!(send(&mut a, 2), 0, "polling does not free a manual ring");
        a.refill();
        assert_eq!(send(&mut a, 2), 1);
        a.set_limit(Some(0));
        assert_eq!(send(&mut a, 1), 0, "a dead transmitter");
        a.set_limit(None);
        assert_eq!(a.room(), None);
        assert_eq!(send(&mut a, 100), 100);
        assert_eq!(a.refused(), 5);
    }
}
