//! The sockets' datagram queues: bounded in packets and in bytes, the
//! payloads back to back in one buffer.

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
#[derive(Debug, Clone)]
pub(crate) struct Datagrams<M> {
    /// Each datagram's header and payload length; the oldest waiting is
    /// at `head` (those before it were read).
    items: Vec<(M, usize)>,
    head: usize,
    /// The payloads, the oldest starting at `read`, the newest ending at
    /// `end`. The vector keeps its length past `end` (bytes of earlier
    /// payloads): a payload written in place needs no zeroing first.
    bytes: Vec<u8>,
    read: usize,
    end: usize,
    max_packets: usize,
    max_bytes: usize,
}

/// Read bytes below this are never worth a compaction.
const COMPACT_MIN: usize = 4096;

/// Read entries below this are never worth a compaction.
const COMPACT_ITEMS: usize = 64;

impl<M> Datagrams<M> {
    pub(crate) fn new(max_packets: usize, max_bytes: usize) -> Datagrams<M> {
        Datagrams {
            items: Vec::new(),
            head: 0,
            bytes: Vec::new(),
            read: 0,
            end: 0,
            max_packets,
            max_bytes,
        }
    }

    /// Payload bytes waiting.
    #[inline]
    fn queued_bytes(&self) -> usize {
        self.end - self.read
    }

    /// Whether a datagram of `size` bytes would be accepted now.
    #[inline]
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.len() < self.max_packets && self.queued_bytes().saturating_add(size) <= self.max_bytes
    }

    /// Whether a datagram of `size` bytes could ever be accepted.
    pub(crate) fn fits(&self, size: usize) -> bool {
        self.max_packets > 0 && size <= self.max_bytes
    }

    /// Queues `meta` and a copy of `data`; `false` (nothing queued) when
    /// there is no room.
    #[inline]
    pub(crate) fn push(&mut self, meta: M, data: &[u8]) -> bool {
        let Some(dst) = self.reserve(data.len()) else {
            return false;
        };
        dst.copy_from_slice(data);
        self.end += data.len();
        self.items.push((meta, data.len()));
        true
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
        if self.read >= COMPACT_MIN && self.read >= self.queued_bytes() {
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
        let data = self.bytes.get(self.read..(self.read + len).min(self.end))?;
        Some((meta, data))
    }

    /// Drops the oldest datagram; whether there was one.
    #[inline]
    pub(crate) fn drop_front(&mut self) -> bool {
        let Some(&(_, len)) = self.items.get(self.head) else {
            return false;
        };
        self.head += 1;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
            self.read = 0;
            self.end = 0;
        } else {
            self.read += len;
        }
        true
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
