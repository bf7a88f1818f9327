//! [`Loopback`]: a bounded device that receives what it transmits.

use alloc::collections::VecDeque;
use core::cell::RefCell;
use core::mem;

use lamina_netbuf::Instant;

use crate::frame::{Frame, FreeList};
use crate::{Capabilities, ChecksumSet, Device, Error, RxMeta, RxToken, Stats, TxMeta, TxToken};

/// A device whose transmitted frames come back out of its receive side, in
/// order, through a queue of bounded length.
///
/// Zero copy: a transmit token lends a buffer from the device's free list,
/// the buffer itself joins the queue, the receive token lends that same
/// buffer and returns it to the free list afterwards. At most
/// `queue_len + 2` buffers of [`Capabilities::max_frame_len`] bytes ever
/// exist; they are allocated on first use and recycled, so steady traffic
/// never allocates.
///
/// When the queue is full, [`transmit`](Device::transmit) returns `None`
/// (back-pressure: the stack keeps its packet and retries after
/// receiving); nothing is dropped. The reply token handed out by
/// [`receive`](Device::receive) always has room, since receiving frees a
/// slot.
///
/// Frames are deliverable at once; their [`RxMeta::timestamp`] is the `now`
/// of the transmit. Checksums the stack left to the device (allowed by
/// `caps.checksum.tx`) are reported verified on receive: the bytes never
/// left memory. TSO is never advertised.
///
/// ```
/// use lamina_netdev::{Capabilities, Device, Loopback, Medium, RxToken, TxToken};
/// use lamina_netbuf::Instant;
///
/// let mut lo = Loopback::new(Capabilities::new(Medium::Ip, 1500), 1);
/// let now = Instant::from_millis(5);
/// lo.transmit(now).unwrap().consume(3, |b| b.copy_from_slice(&[1, 2, 3]))?;
/// assert!(lo.transmit(now).is_none(), "queue of one is full");
/// let (rx, _) = lo.receive(now).unwrap();
/// assert_eq!(rx.meta().timestamp, Some(now));
/// assert_eq!(rx.consume(|f| f.to_vec()), [1, 2, 3]);
/// assert_eq!(lo.stats().rx_packets, 1);
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
#[derive(Debug)]
pub struct Loopback {
    caps: Capabilities,
    state: RefCell<State>,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Frame>,
    queue_len: usize,
    free: FreeList,
    stats: Stats,
}

impl Loopback {
    /// A loopback with these capabilities (TSO is cleared) and room for
    /// `queue_len` frames (at least one).
    pub fn new(caps: Capabilities, queue_len: usize) -> Loopback {
        let mut caps = caps;
        caps.tso = None;
        let queue_len = queue_len.max(1);
        Loopback {
            caps,
            state: RefCell::new(State {
                queue: VecDeque::with_capacity(queue_len),
                queue_len,
                free: FreeList::new(caps.max_frame_len(), queue_len.saturating_add(2)),
                stats: Stats::new(),
            }),
        }
    }

    /// Frames waiting to be received.
    pub fn queued(&self) -> usize {
        self.state.borrow().queue.len()
    }

    /// The queue's capacity in frames.
    pub fn queue_len(&self) -> usize {
        self.state.borrow().queue_len
    }

    #[inline]
    fn tx_token(&self, now: Instant) -> LoopbackTxToken<'_> {
        LoopbackTxToken {
            state: &self.state,
            now,
            max_len: self.caps.max_frame_len(),
            tx_offload: self.caps.checksum.tx,
            offload: ChecksumSet::EMPTY,
        }
    }
}

impl Default for Loopback {
    /// Ethernet, MTU 1500, no offloads, a queue of 64 frames.
    fn default() -> Loopback {
        Loopback::new(Capabilities::default(), 64)
    }
}

/// The receive token of a [`Loopback`].
#[derive(Debug)]
pub struct LoopbackRxToken<'a> {
    state: &'a RefCell<State>,
    frame: Frame,
}

/// The transmit token of a [`Loopback`].
#[derive(Debug)]
pub struct LoopbackTxToken<'a> {
    state: &'a RefCell<State>,
    now: Instant,
    max_len: usize,
    /// Checksums the device may take over (`caps.checksum.tx`).
    tx_offload: ChecksumSet,
    /// Checksums the stack left to the device for this frame.
    offload: ChecksumSet,
}

impl RxToken for LoopbackRxToken<'_> {
    #[inline]
    fn meta(&self) -> RxMeta {
        self.frame.rx_meta()
    }

    #[inline]
    fn consume<R, F>(mut self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(self.frame.data_mut())
        // `Drop` returns the buffer to the free list.
    }
}

impl Drop for LoopbackRxToken<'_> {
    #[inline]
    fn drop(&mut self) {
        let buf = mem::take(&mut self.frame.buf);
        self.state.borrow_mut().free.give(buf);
    }
}

impl TxToken for LoopbackTxToken<'_> {
    #[inline]
    fn set_meta(&mut self, meta: TxMeta) {
        self.offload = meta.checksum_offload.intersection(self.tx_offload);
    }

    #[inline]
    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let max = self.max_len;
        let taken = {
            let mut st = self.state.borrow_mut();
            if len > max {
                st.stats.tx_errors = st.stats.tx_errors.wrapping_add(1);
                return Err(Error::FrameTooLong { len, max });
            }
            st.free.take()
        };
        let Some(mut buf) = taken else {
            let mut st = self.state.borrow_mut();
            st.stats.tx_errors = st.stats.tx_errors.wrapping_add(1);
            return Err(Error::NoBuffer);
        };
        let r = f(buf.get_mut(..len).unwrap_or_default());
        let mut st = self.state.borrow_mut();
        st.stats.count_tx(len);
        if st.queue.len() < st.queue_len {
            st.queue
                .push_back(Frame::new(buf, len, self.now, self.offload, false));
        } else {
            st.stats.tx_dropped = st.stats.tx_dropped.wrapping_add(1);
            st.free.give(buf);
        }
        Ok(r)
    }
}

impl Device for Loopback {
    type RxToken<'a> = LoopbackRxToken<'a>;
    type TxToken<'a> = LoopbackTxToken<'a>;

    #[inline]
    fn receive(&mut self, now: Instant) -> Option<(LoopbackRxToken<'_>, LoopbackTxToken<'_>)> {
        let frame = {
            let mut st = self.state.borrow_mut();
            let frame = st.queue.pop_front()?;
            st.stats.count_rx(frame.len);
            frame
        };
        Some((
            LoopbackRxToken {
                state: &self.state,
                frame,
            },
            self.tx_token(now),
        ))
    }

    #[inline]
    fn transmit(&mut self, now: Instant) -> Option<LoopbackTxToken<'_>> {
        let st = self.state.borrow();
        if st.queue.len() >= st.queue_len {
            return None;
        }
        drop(st);
        Some(self.tx_token(now))
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn stats(&self) -> Stats {
        self.state.borrow().stats
    }

    fn poll_at(&self) -> Option<Instant> {
        self.state.borrow().queue.front().map(|f| f.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecksumCapabilities, ChecksumProto, Medium};
    use alloc::vec::Vec;

    fn send(lo: &mut Loopback, now: Instant, byte: u8, len: usize) -> bool {
        match lo.transmit(now) {
            Some(tx) => tx.consume(len, |f| f.fill(byte)).is_ok(),
            None => false,
        }
    }

    #[test]
    fn delivers_frames_in_order() {
        let mut lo = Loopback::default();
        for i in 0..10u8 {
            assert!(send(&mut lo, Instant::ZERO, i, 60 + usize::from(i)));
        }
        let mut got = Vec::new();
        assert_eq!(
            lo.poll_rx(Instant::ZERO, 100, |f, _, _| got.push((f[0], f.len()))),
            10
        );
        let want: Vec<_> = (0..10u8).map(|i| (i, 60 + usize::from(i))).collect();
        assert_eq!(got, want);
        let s = lo.stats();
        assert_eq!(
            (s.tx_packets, s.rx_packets, s.rx_bytes),
            (10, 10, want.iter().map(|w| w.1 as u64).sum())
        );
    }

    #[test]
    fn full_queue_refuses_transmit_instead_of_dropping() {
        let mut lo = Loopback::new(Capabilities::default(), 2);
        assert!(send(&mut lo, Instant::ZERO, 1, 10));
        assert!(send(&mut lo, Instant::ZERO, 2, 10));
        assert!(lo.transmit(Instant::ZERO).is_none());
        assert_eq!(lo.queued(), 2);
        // Receiving frees a slot, so the reply token can always send.
        let (rx, tx) = lo.receive(Instant::ZERO).unwrap();
        assert_eq!(rx.consume(|f| f[0]), 1);
        tx.consume(10, |f| f.fill(3)).unwrap();
        assert_eq!(lo.queued(), 2);
        assert_eq!(lo.stats().tx_dropped, 0);
    }

    #[test]
    fn buffers_are_recycled_so_steady_traffic_never_runs_out() {
        let mut lo = Loopback::new(Capabilities::default(), 4);
        for round in 0..1000u32 {
            for _ in 0..4 {
                assert!(send(&mut lo, Instant::ZERO, round as u8, 1514));
            }
            // Drop half the receive tokens unconsumed: their buffers return too.
            for i in 0..4 {
                let (rx, _) = lo.receive(Instant::ZERO).unwrap();
                if i % 2 == 0 {
                    rx.consume(|f| assert_eq!(f[0], round as u8));
                }
            }
        }
        let st = lo.state.borrow();
        assert!(st.free.allocated_for_tests() <= 6);
    }

    #[test]
    fn oversized_frame_is_refused_without_calling_the_writer() {
        let mut lo = Loopback::new(Capabilities::new(Medium::Ethernet, 100), 4);
        let tx = lo.transmit(Instant::ZERO).unwrap();
        let err = tx
            .consume(115, |_| panic!("must not be called"))
            .unwrap_err();
        assert!(matches!(err, Error::FrameTooLong { len: 115, max: 114 }));
        assert_eq!(lo.stats().tx_errors, 1);
        assert_eq!(lo.queued(), 0);
    }

    #[test]
    fn offloaded_checksums_arrive_verified_and_timestamped() {
        let caps = Capabilities::default().with_checksum(ChecksumCapabilities {
            rx: ChecksumSet::of(ChecksumProto::Tcp),
            tx: ChecksumSet::of(ChecksumProto::Tcp),
        });
        let mut lo = Loopback::new(caps, 4);
        let mut tx = lo.transmit(Instant::from_millis(7)).unwrap();
        // UDP is not offloaded by this device: not vouched for.
        let offload = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
        tx.set_meta(TxMeta::new().with_checksum_offload(offload, 14, 34));
        tx.consume(54, |f| f.fill(0)).unwrap();
        let (rx, _) = lo.receive(Instant::from_millis(9)).unwrap();
        assert_eq!(
            rx.meta().checksum_verified,
            ChecksumSet::of(ChecksumProto::Tcp)
        );
        assert_eq!(rx.meta().timestamp, Some(Instant::from_millis(7)));
    }
}
