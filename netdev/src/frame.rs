//! Buffers shared by the in-memory devices: queued frames and a bounded
//! free list, so that frames move between queues instead of being copied.

use alloc::vec;
use alloc::vec::Vec;

use lamina_netbuf::Instant;

use crate::{ChecksumSet, RxMeta};

/// A frame in a queue: a whole buffer, the used length, when it becomes
/// deliverable and which checksums the device vouches for.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) buf: Vec<u8>,
    pub(crate) len: usize,
    pub(crate) at: Instant,
    /// What the receiver is told: `at` and the checksums the device
    /// vouches for. Kept whole, to be copied whole: built field by field
    /// as a frame is taken, its one-byte field was stored narrow and read
    /// back by the wider loads that move it on (a store-forwarding stall
    /// per frame).
    meta: RxMeta,
    /// Whether a payload the sender lent by reference follows `buf[..len]`
    /// (kept by the queue beside, in order: frames stay small as they
    /// move between queues).
    pub(crate) shared: bool,
}

impl Frame {
    /// A frame of the first `len` bytes of `buf`, deliverable at `at`,
    /// with the checksums in `verified` vouched for.
    #[inline]
    pub(crate) fn new(
        buf: Vec<u8>,
        len: usize,
        at: Instant,
        verified: ChecksumSet,
        shared: bool,
    ) -> Frame {
        let mut meta = RxMeta::at(at);
        meta.checksum_verified = verified;
        Frame {
            buf,
            len,
            at,
            meta,
            shared,
        }
    }

    /// What the receiver is told: arrival time and verified checksums.
    #[inline]
    pub(crate) fn rx_meta(&self) -> RxMeta {
        self.meta
    }

    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or_default()
    }

    /// Puts a payload lent by reference after the headers (the buffer
    /// holds a whole frame of the link's size): the frame becomes whole.
    pub(crate) fn append(&mut self, payload: &[u8]) {
        let (start, end) = (self.len, self.len + payload.len());
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(payload);
            self.len = end;
        }
        self.shared = false;
    }
}

/// A bounded FIFO of frames: a ring of slots allocated once, at its
/// capacity. Pushing and popping are inlined where they are used, so a
/// frame built by the sender is written into its slot field by field:
/// through `VecDeque::push_back` (not inlined) it was first built on the
/// stack and then copied with wider loads than its fields' stores, which
/// cannot be forwarded and stalled every frame sent.
#[derive(Debug)]
pub(crate) struct FrameQueue {
    slots: Vec<Option<Frame>>,
    /// The slot of the oldest frame.
    head: usize,
    len: usize,
}

impl FrameQueue {
    /// An empty queue for at most `capacity` frames.
    pub(crate) fn with_capacity(capacity: usize) -> FrameQueue {
        FrameQueue {
            slots: (0..capacity).map(|_| None).collect(),
            head: 0,
            len: 0,
        }
    }

    /// Frames queued.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot `offset` places after the head, wrapped.
    #[inline(always)]
    fn slot(&self, offset: usize) -> usize {
        let i = self.head + offset;
        if i >= self.slots.len() {
            i - self.slots.len()
        } else {
            i
        }
    }

    /// Queues `frame` last; gives it back when the queue is full.
    #[inline(always)]
    pub(crate) fn push_back(&mut self, frame: Frame) -> Result<(), Frame> {
        if self.len >= self.slots.len() {
            return Err(frame);
        }
        let i = self.slot(self.len);
        match self.slots.get_mut(i) {
            Some(slot) => {
                // The slot is empty (it is past the last frame): nothing to
                // drop, and not read to find out (the check was the hottest
                // instruction of a ping's receive path).
                let empty = slot.replace(frame);
                debug_assert!(empty.is_none());
                core::mem::forget(empty);
                self.len += 1;
                Ok(())
            }
            None => Err(frame),
        }
    }

    /// The oldest frame.
    #[inline(always)]
    pub(crate) fn front(&self) -> Option<&Frame> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.head)?.as_ref()
    }

    /// Takes the oldest frame out.
    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<Frame> {
        if self.len == 0 {
            return None;
        }
        let frame = self.slots.get_mut(self.head)?.take()?;
        self.len -= 1;
        // Emptied, it starts again at the first slot: a queue that rarely
        // holds more than a frame or two keeps using the same few slots
        // (in cache), instead of a new one, cold, per frame.
        self.head = if self.len == 0 { 0 } else { self.slot(1) };
        Some(frame)
    }
}

/// A bounded set of equally sized buffers, allocated on first use and
/// recycled afterwards. At most `limit` buffers ever exist, so memory is a
/// function of configuration; steady-state traffic never allocates.
#[derive(Debug)]
pub(crate) struct FreeList {
    free: Vec<Vec<u8>>,
    buf_len: usize,
    limit: usize,
    allocated: usize,
}

impl FreeList {
    pub(crate) fn new(buf_len: usize, limit: usize) -> FreeList {
        FreeList {
            free: Vec::with_capacity(limit),
            buf_len,
            limit,
            allocated: 0,
        }
    }

    #[inline]
    pub(crate) fn buf_len(&self) -> usize {
        self.buf_len
    }

    /// A buffer of `buf_len` bytes (contents unspecified), or `None` when
    /// all `limit` buffers are out.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Vec<u8>> {
        if let Some(buf) = self.free.pop() {
            return Some(buf);
        }
        if self.allocated < self.limit {
            self.allocated += 1;
            return Some(vec![0u8; self.buf_len]);
        }
        None
    }

    /// Forgets a buffer taken from this list that will not come back (a
    /// frame given away): one more may be allocated.
    #[inline]
    pub(crate) fn release(&mut self) {
        self.allocated = self.allocated.saturating_sub(1);
    }

    /// Lends a buffer out of the set (see [`Port`](crate::Port)'s
    /// `tx_buffer`): taken as by [`take`](Self::take), then forgotten as by
    /// [`release`](Self::release).
    #[inline]
    pub(crate) fn lend(&mut self) -> Option<Vec<u8>> {
        let buf = self.take()?;
        self.release();
        Some(buf)
    }

    /// Counts a buffer from outside back into the set as it is sent (a
    /// frame built in a lent buffer): `true` if it has this list's size and
    /// the set is below its bound; `false` (nothing counted) otherwise.
    #[inline]
    pub(crate) fn rejoin(&mut self, buf: &[u8]) -> bool {
        if buf.len() == self.buf_len && self.allocated < self.limit {
            self.allocated += 1;
            true
        } else {
            false
        }
    }

    /// Takes in a buffer from outside (one released earlier) if it has this
    /// list's size and the list is below its bound; drops it otherwise.
    #[inline]
    pub(crate) fn adopt(&mut self, buf: Vec<u8>) {
        if buf.len() == self.buf_len && self.allocated < self.limit {
            self.allocated += 1;
            self.free.push(buf);
        }
    }

    /// Returns a buffer taken from this list. An empty stand-in buffer (left
    /// behind by `mem::take`) is ignored.
    #[inline]
    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        if buf.len() != self.buf_len {
            return;
        }
        if self.free.len() < self.limit {
            self.free.push(buf);
        } else {
            self.allocated = self.allocated.saturating_sub(1);
        }
    }
}

#[cfg(test)]
impl FreeList {
    /// Buffers ever allocated.
    pub(crate) fn allocated_for_tests(&self) -> usize {
        self.allocated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_list_never_exceeds_its_limit() {
        let mut fl = FreeList::new(8, 2);
        let a = fl.take().unwrap();
        let b = fl.take().unwrap();
        assert!(fl.take().is_none());
        fl.give(a);
        fl.give(Vec::new()); // an empty buffer is ignored
        let c = fl.take().unwrap();
        assert_eq!(c.len(), 8);
        assert!(fl.take().is_none());
        fl.give(b);
        fl.give(c);
        assert_eq!(fl.allocated_for_tests(), 2);
    }

    fn frame(len: usize) -> Frame {
        Frame::new(
            alloc::vec![len as u8; len],
            len,
            Instant::from_micros(len as u64),
            ChecksumSet::EMPTY,
            len % 2 == 1,
        )
    }

    #[test]
    fn frame_queue_is_fifo_across_the_wrap_and_refuses_when_full() {
        let mut q = FrameQueue::with_capacity(3);
        assert!(q.front().is_none() && q.pop_front().is_none());
        let mut next_in = 1;
        let mut next_out = 1;
        // Pushes and pops out of step, so the ring wraps many times.
        for round in 0..20 {
            while q.len() < 3 {
                assert!(q.push_back(frame(next_in)).is_ok());
                next_in += 1;
            }
            let refused = q.push_back(frame(99)).expect_err("full");
            assert_eq!(refused.len, 99, "the refused frame comes back");
            for _ in 0..1 + round % 3 {
                assert_eq!(q.front().map(|f| f.len), Some(next_out));
                let f = q.pop_front().expect("queued");
                assert_eq!(
                    (f.len, f.buf.len(), f.shared),
                    (next_out, next_out, next_out % 2 == 1)
                );
                next_out += 1;
            }
        }
        while let Some(f) = q.pop_front() {
            assert_eq!(f.len, next_out);
            next_out += 1;
        }
        assert_eq!((q.len(), next_out), (0, next_in));
    }

    #[test]
    fn an_empty_frame_queue_refuses_everything() {
        let mut q = FrameQueue::with_capacity(0);
        assert!(q.push_back(frame(1)).is_err());
        assert_eq!(q.len(), 0);
        assert!(q.pop_front().is_none());
    }
}
