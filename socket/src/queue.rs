//! The sockets' datagram queues: bounded in packets and in bytes, the
//! payloads back to back in one buffer (or, for a large received one, in
//! the device buffer it arrived in).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A FIFO of datagrams (each a small header `M` and its payload) whose
/// payloads lie back to back in one byte buffer: no buffer per datagram.
/// At most `max_packets` datagrams and `max_bytes` payload bytes wait; a
/// push that would exceed either is refused (tail drop).
///
/// Pushing appends to the buffer, popping advances a read offset; the
/// buffer is emptied whenever the queue is, and compacted when the bytes
/// already read outweigh those waiting, so it never holds more than
/// about twice `max_bytes`. A payload can be written in place
/// ([`push_with`](Self::push_with)) and taken back if the writer says so
/// (a checksum computed while copying that turns out bad).
///
/// A payload can also stay in the buffer it arrived in
/// ([`push_kept`](Self::push_kept)): a device's frame buffer, handed over
/// by the device after the push ([`attach`](Self::attach)). Such payloads
/// count against `max_bytes` like the others. Their buffers, once read,
/// wait for the device ([`take_spare`](Self::take_spare)), up to
/// `max_bytes / 2` of them; more are freed. Only a queue with `KEEP` set
/// takes such payloads (the others skip every check for them).
#[derive(Debug, Clone)]
pub(crate) struct Datagrams<M, const KEEP: bool = false> {
    /// Each datagram's header and payload length (with [`KEPT`] set for
    /// a payload in `kept`); the oldest waiting is at `head` (those before
    /// it were read).
    items: Vec<(M, usize)>,
    head: usize,
    /// The payloads, the oldest starting at `read`, the newest ending at
    /// `end`. The vector keeps its length past `end` (bytes of earlier
    /// payloads): a payload written in place needs no zeroing first.
    bytes: Vec<u8>,
    read: usize,
    end: usize,
    /// The kept payloads and the buffers read out (allocated at the first
    /// kept payload: most queues never keep one).
    kept: Option<Box<KeptStore>>,
    max_packets: usize,
    max_bytes: usize,
}

/// Marks, in an item's length, a payload kept in its own buffer.
const KEPT: usize = 1 << (usize::BITS - 1);

/// The kept payloads of a queue, in order, and the buffers read out.
#[derive(Debug, Clone, Default)]
struct KeptStore {
    queue: VecDeque<Kept>,
    /// Payload bytes waiting in `queue`.
    bytes: usize,
    spares: Vec<Vec<u8>>,
    /// The spares' total capacity.
    spare_bytes: usize,
}

/// A payload left in the buffer it arrived in.
#[derive(Debug, Clone)]
struct Kept {
    /// The buffer; empty until the device hands it over (pending).
    buf: Vec<u8>,
    /// Where the payload starts in it.
    start: usize,
    /// Set when the payload's checksum is to be verified as it is read:
    /// the rest of the sum (see `lamina_udp::UdpPacket::header_sum`).
    check: Option<u16>,
}

/// Read bytes below this are never worth a compaction.
const COMPACT_MIN: usize = 4096;

/// Read entries below this are never worth a compaction.
const COMPACT_ITEMS: usize = 64;

impl<M, const KEEP: bool> Datagrams<M, KEEP> {
    pub(crate) fn new(max_packets: usize, max_bytes: usize) -> Datagrams<M, KEEP> {
        Datagrams {
            items: Vec::new(),
            head: 0,
            bytes: Vec::new(),
            read: 0,
            end: 0,
            kept: None,
            max_packets,
            max_bytes,
        }
    }

    /// Payload bytes waiting.
    #[inline]
    fn queued_bytes(&self) -> usize {
        let kept = if KEEP {
            self.kept.as_ref().map_or(0, |k| k.bytes)
        } else {
            0
        };
        self.end - self.read + kept
    }

    /// Whether a datagram of `size` bytes would be accepted now.
    #[inline]
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.len() < self.max_packets && self.queued_bytes().saturating_add(size) <= self.max_bytes
    }

    /// Whether a datagram of `size` bytes would be accepted now with
    /// `packets` more datagrams of `bytes` bytes in all counted against
    /// the same bounds (those queued elsewhere).
    #[inline]
    pub(crate) fn has_room_besides(&self, size: usize, packets: usize, bytes: usize) -> bool {
        self.len() + packets < self.max_packets
            && self.queued_bytes() + bytes + size <= self.max_bytes
    }

    /// Whether a datagram of `size` bytes could ever be accepted.
    pub(crate) fn fits(&self, size: usize) -> bool {
        self.max_packets > 0 && size <= self.max_bytes
    }

    /// Queues `meta` and a copy of `data`; `false` (nothing queued) when
    /// there is no room.
    #[inline(always)]
    pub(crate) fn push(&mut self, meta: M, data: &[u8]) -> bool {
        let Some(dst) = self.reserve(data.len()) else {
            return false;
        };
        dst.copy_from_slice(data);
        self.end += data.len();
        self.items.push((meta, data.len()));
        true
    }

    /// Queues `meta` and a payload of `len` bytes that stays at `start`
    /// in a buffer handed over next ([`attach`](Self::attach)); `check`
    /// as [`front_check`](Self::front_check) gives it back. `false`
    /// (nothing queued) when there is no room.
    #[inline]
    pub(crate) fn push_kept(
        &mut self,
        meta: M,
        start: usize,
        len: usize,
        check: Option<u16>,
    ) -> bool {
        if !KEEP || !self.has_room(len) || len >= KEPT {
            return false;
        }
        let k = self.kept.get_or_insert_default();
        k.queue.push_back(Kept {
            buf: Vec::new(),
            start,
            check,
        });
        k.bytes += len;
        self.items.push((meta, len | KEPT));
        true
    }

    /// Gives the newest datagram, queued by [`push_kept`](Self::push_kept),
    /// its buffer, whose first `valid` bytes are the frame; the buffer back
    /// (and the datagram withdrawn) when they do not hold the payload, or
    /// when no datagram waits for one.
    #[inline]
    pub(crate) fn attach(&mut self, buf: Vec<u8>, valid: usize) -> Result<(), Vec<u8>> {
        let Some(len) = self.pending_len() else {
            return Err(buf);
        };
        match self.kept.as_mut().and_then(|k| k.queue.back_mut()) {
            Some(k) if k.start.saturating_add(len) <= valid.min(buf.len()) => {
                k.buf = buf;
                Ok(())
            }
            _ => {
                self.cancel_pending();
                Err(buf)
            }
        }
    }

    /// The length of the newest datagram if it waits for its buffer.
    #[inline]
    fn pending_len(&self) -> Option<usize> {
        let &(_, len) = self.items.last().filter(|_| !self.is_empty())?;
        let k = self.kept.as_ref()?.queue.back()?;
        (len & KEPT != 0 && k.buf.is_empty()).then_some(len & !KEPT)
    }

    /// Withdraws the newest datagram if it still waits for its buffer.
    #[inline]
    pub(crate) fn cancel_pending(&mut self) {
        if let Some(len) = self.pending_len() {
            self.items.pop();
            if let Some(k) = &mut self.kept {
                k.queue.pop_back();
                k.bytes -= len;
            }
            if self.is_empty() {
                self.reset();
            }
        }
    }

    /// The `len` bytes where the next payload goes (earlier bytes in
    /// them), or `None` when it would not fit the bounds.
    #[inline]
    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        if !self.has_room(len) {
            return None;
        }
        if self.read >= COMPACT_MIN || self.head >= COMPACT_ITEMS {
            self.compact();
        }
        let end = self.end + len;
        if end > self.bytes.len() {
            self.grow(end);
        }
        self.bytes.get_mut(self.end..end)
    }

    /// Queues `meta` and a payload of `len` bytes that `write` puts in
    /// place (the slice it gets is exactly `len` bytes, holding earlier
    /// bytes); the datagram is kept only if `write` returns `true`.
    /// `None` (and `write` not called) when there is no room; otherwise
    /// what `write` returned.
    #[inline]
    pub(crate) fn push_with(
        &mut self,
        meta: M,
        len: usize,
        write: impl FnOnce(&mut [u8]) -> bool,
    ) -> Option<bool> {
        let dst = self.reserve(len)?;
        if !write(dst) {
            return Some(false);
        }
        self.end += len;
        self.items.push((meta, len));
        Some(true)
    }

    /// Lengthens the byte buffer to `len` (zeroed once; kept after).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, len: usize) {
        self.bytes.resize(len, 0);
    }

    /// Drops what was read once it outweighs what waits: the bytes (and
    /// entries) read go when they are at least as many as those waiting,
    /// so the buffer holds at most about twice `max_bytes` and the list
    /// twice `max_packets` (plus the minimums).
    #[cold]
    #[inline(never)]
    fn compact(&mut self) {
        if self.read >= COMPACT_MIN && self.read >= self.end - self.read {
            self.bytes.copy_within(self.read..self.end, 0);
            self.end -= self.read;
            self.read = 0;
        }
        if self.head >= COMPACT_ITEMS && self.head >= self.len() {
            self.items.drain(..self.head);
            self.head = 0;
        }
    }

    /// The oldest datagram.
    #[inline]
    pub(crate) fn front(&self) -> Option<(&M, &[u8])> {
        let (meta, len) = self.items.get(self.head)?;
        if KEEP && len & KEPT != 0 {
            return self.kept_payload(0, *len).map(|(data, _)| (meta, data));
        }
        let data = self.bytes.get(self.read..(self.read + len).min(self.end))?;
        Some((meta, data))
    }

    /// The oldest datagram, with the sum to verify its payload against
    /// if that is still to be done (a kept payload pushed with one).
    #[inline]
    pub(crate) fn front_check(&self) -> Option<(&M, &[u8], Option<u16>)> {
        let (meta, len) = self.items.get(self.head)?;
        if KEEP && len & KEPT != 0 {
            let (data, check) = self.kept_payload(0, *len)?;
            return Some((meta, data, check));
        }
        let data = self.bytes.get(self.read..(self.read + len).min(self.end))?;
        Some((meta, data, None))
    }

    /// The payload of the `n`th kept datagram waiting, `len` long (with
    /// [`KEPT`]), and its check.
    #[inline]
    fn kept_payload(&self, n: usize, len: usize) -> Option<(&[u8], Option<u16>)> {
        let k = self.kept.as_ref()?.queue.get(n)?;
        let data = k.buf.get(k.start..k.start.saturating_add(len & !KEPT))?;
        Some((data, k.check))
    }

    /// The `i`th datagram waiting (0: the oldest), as
    /// [`front_check`](Self::front_check).
    pub(crate) fn get(&self, i: usize) -> Option<(&M, &[u8], Option<u16>)> {
        let at = self.head.checked_add(i)?;
        let skipped = self.items.get(self.head..at)?;
        let (meta, len) = self.items.get(at)?;
        let kept_before = skipped.iter().filter(|(_, l)| l & KEPT != 0).count();
        if KEEP && len & KEPT != 0 {
            let (data, check) = self.kept_payload(kept_before, *len)?;
            return Some((meta, data, check));
        }
        let read = skipped
            .iter()
            .filter(|(_, l)| l & KEPT == 0)
            .fold(self.read, |r, (_, l)| r + l);
        let data = self.bytes.get(read..(read + len).min(self.end))?;
        Some((meta, data, None))
    }

    /// Drops the oldest datagram; whether there was one.
    #[inline]
    pub(crate) fn drop_front(&mut self) -> bool {
        let Some(&(_, len)) = self.items.get(self.head) else {
            return false;
        };
        if KEEP && len & KEPT != 0 {
            return self.drop_kept_front();
        }
        self.head += 1;
        if self.head == self.items.len() {
            self.reset();
        } else {
            self.read += len;
        }
        true
    }

    /// [`drop_front`](Self::drop_front) for a kept payload: its buffer
    /// becomes a spare.
    #[inline(never)]
    fn drop_kept_front(&mut self) -> bool {
        let Some(&(_, len)) = self.items.get(self.head) else {
            return false;
        };
        self.head += 1;
        let spare_max = self.max_bytes / 2;
        if let Some(k) = &mut self.kept
            && let Some(Kept { buf, .. }) = k.queue.pop_front()
        {
            k.bytes -= len & !KEPT;
            let total = k.spare_bytes.saturating_add(buf.capacity());
            if total <= spare_max && !buf.is_empty() {
                k.spare_bytes = total;
                k.spares.push(buf);
            }
        }
        if self.head == self.items.len() {
            self.reset();
        }
        true
    }

    /// A buffer read out of a kept payload, for its device.
    #[inline]
    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        let k = self.kept.as_mut()?;
        let buf = k.spares.pop()?;
        k.spare_bytes -= buf.capacity();
        Some(buf)
    }

    /// Empties the queue (nothing waits).
    #[inline]
    fn reset(&mut self) {
        self.items.clear();
        self.head = 0;
        self.read = 0;
        self.end = 0;
        if KEEP && let Some(k) = &mut self.kept {
            k.queue.clear();
            k.bytes = 0;
        }
    }

    /// Datagrams waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len() - self.head
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_keep_order_and_bounds() {
        let mut q: Datagrams<u8> = Datagrams::new(3, 10);
        assert!(q.push(1, b"abc"));
        assert!(q.push(2, b"defg"));
        assert!(!q.push(3, b"hijk"), "11 bytes exceed the byte bound");
        assert!(q.push(3, b"hij"));
        assert!(!q.push(4, b""), "the packet bound");
        assert_eq!(q.front(), Some((&1, &b"abc"[..])));
        assert!(q.drop_front());
        assert!(q.push(4, b"k"));
        let mut got = Vec::new();
        while let Some((m, d)) = q.front() {
            got.push((*m, d.to_vec()));
            q.drop_front();
        }
        assert_eq!(
            got,
            [
                (2, b"defg".to_vec()),
                (3, b"hij".to_vec()),
                (4, b"k".to_vec())
            ]
        );
        assert!(!q.drop_front());
        assert!(q.is_empty());
    }

    #[test]
    fn a_payload_written_in_place_is_kept_only_when_the_writer_says_so() {
        let mut q: Datagrams<u8> = Datagrams::new(4, 16);
        assert!(q.push(1, b"abcd"));
        // Refused by the writer: nothing queued, the next push lands where
        // it would have.
        assert_eq!(
            q.push_with(2, 3, |d| {
                d.copy_from_slice(b"xyz");
                false
            }),
            Some(false)
        );
        assert_eq!(q.len(), 1);
        assert_eq!(
            q.push_with(3, 2, |d| {
                assert_eq!(d.len(), 2);
                d.copy_from_slice(b"ok");
                true
            }),
            Some(true)
        );
        // No room: the writer is not called.
        assert_eq!(q.push_with(4, 11, |_| unreachable!()), None);
        let mut got = Vec::new();
        while let Some((m, d)) = q.front() {
            got.push((*m, d.to_vec()));
            q.drop_front();
        }
        assert_eq!(got, [(1, b"abcd".to_vec()), (3, b"ok".to_vec())]);
        // Emptied: a payload shorter than what the buffer held reads back
        // exactly, not the older bytes behind it.
        assert!(q.push(5, b"q"));
        assert_eq!(q.front(), Some((&5, &b"q"[..])));
    }

    /// A frame buffer holding `payload` at `start`.
    fn frame_buf(start: usize, payload: &[u8], cap: usize) -> Vec<u8> {
        let mut buf = alloc::vec![0xeeu8; cap];
        buf[start..start + payload.len()].copy_from_slice(payload);
        buf
    }

    #[test]
    fn kept_payloads_wait_in_order_among_copied_ones_and_count_against_the_bound() {
        let mut q: Datagrams<u8, true> = Datagrams::new(8, 100);
        assert!(q.push(1, b"copied"));
        assert!(q.push_kept(2, 10, 40, Some(0x1234)));
        assert_eq!(q.attach(frame_buf(10, &[7; 40], 64), 64), Ok(()));
        assert!(q.push(3, b"again"));
        assert!(q.push_kept(4, 0, 49, None));
        assert_eq!(q.attach(frame_buf(0, &[9; 49], 64), 49), Ok(()));
        // 6 + 40 + 5 + 49 = 100 bytes: full.
        assert!(!q.has_room(1));
        assert!(!q.push_kept(5, 0, 1, None));
        assert_eq!(q.get(1), Some((&2, &[7u8; 40][..], Some(0x1234))));
        assert_eq!(q.get(2), Some((&3, &b"again"[..], None)));
        assert_eq!(q.get(3), Some((&4, &[9u8; 49][..], None)));
        assert_eq!(q.get(4), None);
        let mut got = Vec::new();
        while let Some((m, d, c)) = q.front_check() {
            got.push((*m, d.len(), c));
            assert!(q.drop_front());
        }
        assert_eq!(
            got,
            [
                (1, 6, None),
                (2, 40, Some(0x1234)),
                (3, 5, None),
                (4, 49, None)
            ]
        );
        assert!(q.is_empty());
        assert!(q.has_room(100));
        // The buffers read out (64 bytes each) exceed half the bound (50
        // bytes): freed, none waits for the device.
        assert_eq!(q.take_spare(), None);
    }

    #[test]
    fn a_kept_payload_whose_buffer_does_not_hold_it_is_withdrawn() {
        let mut q: Datagrams<u8, true> = Datagrams::new(8, 1000);
        // No datagram waits for a buffer: refused.
        assert_eq!(q.attach(alloc::vec![0; 8], 8).map_err(|b| b.len()), Err(8));
        assert!(q.push(1, b"x"));
        assert_eq!(q.attach(alloc::vec![0; 8], 8).map_err(|b| b.len()), Err(8));
        // The frame (its first 20 bytes) ends before the payload does.
        assert!(q.push_kept(2, 10, 20, None));
        assert_eq!(
            q.attach(alloc::vec![0; 64], 20).map_err(|b| b.len()),
            Err(64)
        );
        assert_eq!(q.len(), 1);
        // A buffer that never came: withdrawn, its bytes free again.
        assert!(q.push_kept(3, 0, 900, None));
        assert!(!q.has_room(100));
        q.cancel_pending();
        assert_eq!(q.len(), 1);
        assert!(q.has_room(999));
        // Only a datagram still waiting for its buffer is withdrawn.
        q.cancel_pending();
        assert_eq!(q.front(), Some((&1, &b"x"[..])));
        assert!(q.push_kept(4, 0, 3, None));
        assert_eq!(q.attach(frame_buf(0, b"abc", 3), 3), Ok(()));
        q.cancel_pending();
        assert_eq!(q.len(), 2);
        assert!(q.drop_front());
        assert_eq!(q.front(), Some((&4, &b"abc"[..])));
    }

    #[test]
    fn buffers_read_out_wait_for_the_device_up_to_half_the_bound() {
        let mut q: Datagrams<(), true> = Datagrams::new(64, 4096);
        for _ in 0..4 {
            assert!(q.push_kept((), 0, 600, None));
            assert_eq!(q.attach(frame_buf(0, &[1; 600], 1000), 1000), Ok(()));
        }
        while q.drop_front() {}
        // 2048 bytes: two buffers of 1000; the others were freed.
        let mut spares = 0;
        while let Some(b) = q.take_spare() {
            assert_eq!(b.capacity(), 1000);
            spares += 1;
        }
        assert_eq!(spares, 2);
    }

    #[test]
    fn datagrams_buffer_stays_bounded_when_never_drained() {
        let mut q: Datagrams<()> = Datagrams::new(64, 8192);
        let data = [7u8; 1000];
        for i in 0..10_000 {
            assert!(q.push((), &data), "push {i}");
            if q.len() > 4 {
                assert!(q.drop_front());
            }
            assert!(q.bytes.len() <= 2 * 8192 + COMPACT_MIN + data.len());
            assert!(q.items.len() <= 2 * 64 + COMPACT_ITEMS);
        }
        assert_eq!(q.front().map(|(_, d)| d.len()), Some(1000));
    }
}
