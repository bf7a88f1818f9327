//! A fixed-capacity byte ring: the receive buffer of a connection (the
//! send side queues its bytes in chunks a device can take by reference
//! instead; the ring serves any other byte FIFO just as well).
//!
//! The storage is allocated once, by [`RingBuffer::new`], and never grows
//! or shrinks, so memory per connection is a function of configuration
//! (DESIGN.md, "bounded everything") and the data path never allocates.
//!
//! Besides the usual FIFO operations the ring serves TCP's needs:
//!
//! - **Receive:** out-of-order data (RFC 9293 §3.10.7.4, "segments with
//!   higher beginning sequence numbers may be held for later processing")
//!   is placed past the readable end with [`write_at`](RingBuffer::write_at)
//!   without becoming readable; once the hole before it fills,
//!   [`commit`](RingBuffer::commit) makes it readable in one step. The
//!   [`Assembler`](crate::assembler::Assembler) tracks which parts arrived.
//! - **Send-style use:** data stays in the ring until it is released
//!   ([`consume`](RingBuffer::consume)); a reader borrows it with
//!   [`slices`](RingBuffer::slices), at most two slices because of the
//!   wrap, so it is copied once, straight to where it goes.

use alloc::boxed::Box;
use alloc::vec;
use core::fmt;
use core::ops::Range;

/// A byte ring with a capacity fixed at creation.
///
/// Positions are *logical*: offset 0 is the oldest readable byte (the read
/// head). Readable bytes are `[0, len())`; [`write_at`](Self::write_at) may
/// store bytes further on, in `[len(), capacity())`, which stay invisible
/// until [`commit`](Self::commit)ted.
///
/// ```
/// use lamina_tcp::ring::RingBuffer;
///
/// let mut ring = RingBuffer::new(8);
/// assert_eq!(ring.write(b"hello, world"), 8); // only 8 fit
/// let mut buf = [0; 5];
/// assert_eq!(ring.read(&mut buf), 5);
/// assert_eq!(&buf, b"hello");
/// assert_eq!(ring.write(b"abc"), 3); // wraps around
/// let (a, b) = ring.slices(0, ring.len());
/// assert_eq!([a, b].concat(), b", wabc");
///
/// // Out-of-order placement: bytes 2.. arrive before bytes 0..2.
/// ring.clear();
/// assert_eq!(ring.write_at(2, b"cd"), 2);
/// assert_eq!(ring.len(), 0);
/// assert_eq!(ring.write_at(0, b"ab"), 2);
/// ring.commit(4);
/// assert_eq!(ring.slices(0, 4).0, b"abcd");
/// ```
pub struct RingBuffer {
    /// The storage: empty until the first byte is stored, then exactly
    /// `cap` bytes (an idle connection's buffers cost nothing).
    buf: Box<[u8]>,
    /// The capacity.
    cap: u32,
    /// Physical index of logical offset 0; `< buf.len()` unless empty storage.
    head: u32,
    /// Readable bytes.
    len: u32,
}

impl RingBuffer {
    /// A ring holding up to `capacity` bytes, allocated when the first
    /// byte is stored, once, and never again.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            buf: Box::default(),
            // Ring positions are 32-bit (this keeps a connection small):
            // at most 4 GiB per buffer.
            cap: u32::try_from(capacity).unwrap_or(u32::MAX),
            head: 0,
            len: 0,
        }
    }

    /// Allocates the storage if it is not yet.
    #[inline]
    fn ensure_storage(&mut self) {
        if self.buf.len() != self.cap as usize {
            self.buf = vec![0u8; self.cap as usize].into_boxed_slice();
        }
    }

    /// Whether the storage has been allocated (after the first byte
    /// stored).
    pub fn is_allocated(&self) -> bool {
        self.cap == 0 || self.buf.len() == self.cap as usize
    }

    /// The fixed number of bytes the ring holds.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Bytes readable, contiguous from the read head.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no byte is readable.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len as usize == 0
    }

    /// Room left: `capacity() - len()`.
    #[inline]
    pub fn free(&self) -> usize {
        self.capacity() - self.len as usize
    }

    /// Whether no more byte can be written.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.free() == 0
    }

    /// Physical index of logical offset `logical` (`<= capacity()`).
    #[inline]
    fn phys(&self, logical: usize) -> usize {
        let cap = self.cap as usize;
        // head < cap and logical <= cap, and a slice is at most isize::MAX
        // bytes, so this cannot overflow.
        let p = self.head as usize + logical;
        if p >= cap { p - cap } else { p }
    }

    /// The physical ranges of logical `[off, off + n)`, which the caller
    /// keeps within the capacity: up to two, because of the wrap.
    #[inline]
    fn spans(&self, off: usize, n: usize) -> (Range<usize>, Range<usize>) {
        if n == 0 {
            return (0..0, 0..0);
        }
        let start = self.phys(off);
        let first = n.min(self.cap as usize - start);
        (start..start + first, 0..n - first)
    }

    /// Copies `data` into logical `[off, off + data.len())`, which the
    /// caller keeps within the capacity.
    fn copy_in(&mut self, off: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.ensure_storage();
        let (a, b) = self.spans(off, data.len());
        let (da, db) = data.split_at(a.len());
        if let Some(dst) = self.buf.get_mut(a) {
            dst.copy_from_slice(da);
        }
        if let Some(dst) = self.buf.get_mut(b) {
            dst.copy_from_slice(db);
        }
    }

    /// Appends up to `free()` bytes of `data`, which become readable;
    /// returns how many were taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let data = data.get(..n).unwrap_or_default();
        self.copy_in(self.len as usize, data);
        self.len += n as u32;
        n
    }

    /// Places `data` starting `offset` bytes past the end of the readable
    /// data, *without* making it readable (out-of-order receive). Returns
    /// how many bytes fit: those that would fall beyond the capacity are
    /// dropped. Bytes placed at offsets `0..n` become readable with
    /// [`commit(n)`](Self::commit); a later [`write`](Self::write)
    /// overwrites them.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let free = self.free();
        if offset >= free {
            return 0;
        }
        let n = data.len().min(free - offset);
        let data = data.get(..n).unwrap_or_default();
        self.copy_in(self.len as usize + offset, data);
        n
    }

    /// The free storage for bytes `offset..offset + len` past the readable
    /// end, as up to two mutable slices (the second non-empty only when the
    /// range wraps), clamped to `free()`: what
    /// [`write_at`](Self::write_at) would write into, lent out so that a
    /// caller can fill it in place (for instance copying a segment's
    /// payload while summing its checksum). Nothing becomes readable until
    /// [`commit`](Self::commit).
    pub fn free_slices_mut(&mut self, offset: usize, len: usize) -> (&mut [u8], &mut [u8]) {
        let free = self.free();
        let offset = offset.min(free);
        let n = len.min(free - offset);
        if n > 0 {
            self.ensure_storage();
        }
        let (a, b) = self.spans(self.len as usize + offset, n);
        // `b`, when non-empty, starts at 0 and ends before `a` starts.
        let (lo, hi) = self.buf.split_at_mut(a.start);
        let first = hi.get_mut(..a.len()).unwrap_or_default();
        let second = lo.get_mut(b).unwrap_or_default();
        (first, second)
    }

    /// Makes the `n` bytes just past the readable end (placed there by
    /// [`write_at`](Self::write_at)) readable; clamped to `free()`.
    pub fn commit(&mut self, n: usize) {
        let n = n.min(self.free());
        if n > 0 {
            self.ensure_storage();
        }
        self.len += n as u32;
    }

    /// Copies readable bytes from logical `offset` into `buf` without
    /// consuming them; returns how many were copied (0 when `offset` is at
    /// or past `len()`).
    pub fn peek(&self, offset: usize, buf: &mut [u8]) -> usize {
        if offset >= self.len as usize {
            return 0;
        }
        let n = buf.len().min(self.len as usize - offset);
        let (a, b) = self.slices(offset, n);
        let (da, rest) = buf.split_at_mut(a.len());
        da.copy_from_slice(a);
        if let Some(db) = rest.get_mut(..b.len()) {
            db.copy_from_slice(b);
        }
        n
    }

    /// Copies readable bytes into `buf` and consumes them; returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.peek(0, buf);
        self.consume(n);
        n
    }

    /// Drops up to `n` bytes from the read head (acknowledged send data,
    /// or receive data the user has read in place); returns how many.
    ///
    /// Bytes placed beyond the readable end by
    /// [`write_at`](Self::write_at) keep their logical offsets relative to
    /// the readable end.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len as usize);
        if n > 0 {
            self.head = self.phys(n) as u32;
            if self.head == self.cap {
                self.head = 0;
            }
            self.len -= n as u32;
        }
        n
    }

    /// Readable bytes `[offset, offset + len)` as up to two slices (the
    /// second is non-empty only when the range wraps), for zero-copy
    /// transmission. The range is clamped to `len()`.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let offset = offset.min(self.len as usize);
        let n = len.min(self.len as usize - offset);
        let (a, b) = self.spans(offset, n);
        (
            self.buf.get(a).unwrap_or_default(),
            self.buf.get(b).unwrap_or_default(),
        )
    }

    /// Forgets every byte, readable or placed, and rewinds the head to the
    /// start of the storage (keeping the allocation).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

impl fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuffer")
            .field("capacity", &self.capacity())
            .field("len", &self.len)
            .field("head", &self.head)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;
    use lamina_netbuf::{Rng, SeededRng};

    fn contents(r: &RingBuffer) -> Vec<u8> {
        let (a, b) = r.slices(0, r.len());
        [a, b].concat()
    }

    #[test]
    fn storage_is_allocated_at_the_first_byte_stored() {
        let mut r = RingBuffer::new(1 << 20);
        assert!(!r.is_allocated());
        assert_eq!((r.capacity(), r.free(), r.len()), (1 << 20, 1 << 20, 0));
        assert_eq!(r.slices(0, 10), (&[][..], &[][..]));
        assert_eq!(r.write(&[]), 0);
        assert!(!r.is_allocated());
        assert_eq!(r.write(b"x"), 1);
        assert!(r.is_allocated());
        assert_eq!(r.slices(0, 10).0, b"x");
    }

    #[test]
    fn write_is_bounded_by_capacity() {
        let mut r = RingBuffer::new(4);
        assert_eq!(r.write(b"abcdef"), 4);
        assert_eq!(r.len(), 4);
        assert_eq!(r.free(), 0);
        assert!(r.is_full());
        assert_eq!(r.write(b"x"), 0);
        assert_eq!(contents(&r), b"abcd");
    }

    #[test]
    fn zero_capacity_ring_accepts_nothing_and_never_panics() {
        let mut r = RingBuffer::new(0);
        assert_eq!(r.write(b"a"), 0);
        assert_eq!(r.write_at(0, b"a"), 0);
        r.commit(5);
        assert_eq!(r.len(), 0);
        assert_eq!(r.consume(3), 0);
        assert_eq!(r.peek(0, &mut [0; 4]), 0);
        assert_eq!(r.slices(0, 10), (&[][..], &[][..]));
    }

    #[test]
    fn read_consumes_in_fifo_order_across_the_wrap() {
        let mut r = RingBuffer::new(5);
        r.write(b"abc");
        let mut buf = [0; 2];
        assert_eq!(r.read(&mut buf), 2);
        assert_eq!(&buf, b"ab");
        assert_eq!(r.write(b"defg"), 4);
        let (a, b) = r.slices(0, 5);
        assert_eq!(a, b"cde");
        assert_eq!(b, b"fg");
        let mut out = [0; 8];
        assert_eq!(r.read(&mut out), 5);
        assert_eq!(&out[..5], b"cdefg");
        assert!(r.is_empty());
    }

    #[test]
    fn peek_copies_from_an_offset_without_consuming() {
        let mut r = RingBuffer::new(6);
        r.write(b"xxxx");
        r.consume(4);
        r.write(b"012345");
        let mut buf = [0; 4];
        assert_eq!(r.peek(1, &mut buf), 4);
        assert_eq!(&buf, b"1234");
        assert_eq!(r.peek(4, &mut buf), 2);
        assert_eq!(&buf[..2], b"45");
        assert_eq!(r.peek(6, &mut buf), 0);
        assert_eq!(r.len(), 6);
    }

    #[test]
    fn slices_clamp_to_the_readable_data() {
        // Retransmission (RFC 9293 §3.10.7.4) asks for ranges that may
        // overrun what is buffered; the ring clamps instead of panicking.
        let mut r = RingBuffer::new(8);
        r.write(b"abc");
        assert_eq!(r.slices(1, 100), (&b"bc"[..], &[][..]));
        assert_eq!(r.slices(5, 2), (&[][..], &[][..]));
        assert_eq!(r.slices(usize::MAX, usize::MAX), (&[][..], &[][..]));
    }

    #[test]
    fn out_of_order_bytes_stay_invisible_until_committed() {
        // RFC 9293 §3.10.7.4: out-of-window-order segments are held; they
        // are delivered only when the gap before them is filled.
        let mut r = RingBuffer::new(8);
        r.write(b"ab");
        assert_eq!(r.write_at(2, b"ef"), 2);
        assert_eq!(r.len(), 2);
        assert_eq!(contents(&r), b"ab");
        assert_eq!(r.write_at(0, b"cd"), 2);
        r.commit(4);
        assert_eq!(contents(&r), b"abcdef");
    }

    #[test]
    fn write_at_drops_what_falls_past_the_capacity() {
        let mut r = RingBuffer::new(6);
        r.write(b"ab");
        assert_eq!(r.write_at(2, b"xyzw"), 2);
        assert_eq!(r.write_at(4, b"q"), 0);
        assert_eq!(r.write_at(usize::MAX, b"q"), 0);
        r.commit(100);
        assert_eq!(r.len(), 6);
    }

    #[test]
    fn placed_bytes_survive_consuming_the_readable_data() {
        let mut r = RingBuffer::new(4);
        r.write(b"abc");
        assert_eq!(r.write_at(0, b"d"), 1);
        assert_eq!(r.consume(3), 3);
        // Head moved to the end; the placed byte is still offset 0 past it.
        r.commit(1);
        assert_eq!(contents(&r), b"d");
    }

    #[test]
    fn free_slices_mut_lend_the_storage_write_at_would_use() {
        let mut r = RingBuffer::new(8);
        r.write(b"abcdef");
        r.consume(5); // head at 5, one readable byte
        let (a, b) = r.free_slices_mut(1, 100);
        assert_eq!((a.len(), b.len()), (1, 5)); // clamped to free() - 1
        a.copy_from_slice(b"x");
        b.copy_from_slice(b"yzUVW");
        let (a, b) = r.free_slices_mut(0, 1);
        assert_eq!((a.len(), b.len()), (1, 0));
        a[0] = b'-';
        r.commit(7);
        assert_eq!(contents(&r), b"f-xyzUVW");
        assert_eq!(r.free_slices_mut(0, 5).0.len(), 0);
    }

    #[test]
    fn clear_empties_and_keeps_capacity() {
        let mut r = RingBuffer::new(3);
        r.write(b"abc");
        r.consume(1);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.capacity(), 3);
        assert_eq!(r.write(b"xyz"), 3);
        assert_eq!(r.slices(0, 3).0, b"xyz");
    }

    /// Property test: the ring against a model — a `VecDeque` of readable
    /// bytes and a sparse array of placed-but-uncommitted bytes — under
    /// random operation sequences and capacities.
    #[test]
    fn behaves_like_a_vecdeque_model() {
        let mut rng = SeededRng::new(0x5eed_0001);
        for _ in 0..300 {
            let cap = rng.below(40) as usize;
            let mut r = RingBuffer::new(cap);
            let mut readable: VecDeque<Option<u8>> = VecDeque::new();
            // placed[i]: byte stored at offset i past the readable end.
            let mut placed: VecDeque<Option<u8>> = VecDeque::new();
            let mut next = 0u8;
            for _ in 0..200 {
                let mut data = [0u8; 48];
                let dlen = rng.below(20) as usize;
                for b in data.iter_mut().take(dlen) {
                    *b = next;
                    next = next.wrapping_add(1);
                }
                let data = &data[..dlen];
                let free = cap - readable.len();
                match rng.below(7) {
                    0 => {
                        let n = r.write(data);
                        assert_eq!(n, dlen.min(free));
                        for &b in &data[..n] {
                            readable.push_back(Some(b));
                            placed.pop_front();
                        }
                    }
                    1 => {
                        let off = rng.below(cap as u32 + 3) as usize;
                        let n = if rng.below(2) == 0 {
                            r.write_at(off, data)
                        } else {
                            let (x, y) = r.free_slices_mut(off, data.len());
                            let (dx, rest) = data.split_at(x.len().min(data.len()));
                            x.copy_from_slice(dx);
                            let dy = &rest[..y.len()];
                            y.copy_from_slice(dy);
                            dx.len() + dy.len()
                        };
                        let expect = if off >= free { 0 } else { dlen.min(free - off) };
                        assert_eq!(n, expect);
                        for (i, &b) in data[..n].iter().enumerate() {
                            while placed.len() <= off + i {
                                placed.push_back(None);
                            }
                            placed[off + i] = Some(b);
                        }
                    }
                    2 => {
                        let k = rng.below(cap as u32 + 3) as usize;
                        r.commit(k);
                        for _ in 0..k.min(free) {
                            readable.push_back(placed.pop_front().flatten());
                        }
                    }
                    3 => {
                        let mut buf = [0u8; 48];
                        let want = rng.below(20) as usize;
                        let n = r.read(&mut buf[..want]);
                        assert_eq!(n, want.min(readable.len()));
                        for &b in &buf[..n] {
                            let m = readable.pop_front().unwrap();
                            if let Some(m) = m {
                                assert_eq!(b, m);
                            }
                        }
                    }
                    4 => {
                        let k = rng.below(20) as usize;
                        let n = r.consume(k);
                        assert_eq!(n, k.min(readable.len()));
                        readable.drain(..n);
                    }
                    5 => {
                        let off = rng.below(cap as u32 + 2) as usize;
                        let mut buf = [0u8; 48];
                        let want = rng.below(20) as usize;
                        let n = r.peek(off, &mut buf[..want]);
                        let expect = readable.len().saturating_sub(off).min(want);
                        assert_eq!(n, expect);
                        for (i, &b) in buf[..n].iter().enumerate() {
                            if let Some(m) = readable[off + i] {
                                assert_eq!(b, m);
                            }
                        }
                    }
                    _ => {
                        let off = rng.below(cap as u32 + 2) as usize;
                        let want = rng.below(cap as u32 + 2) as usize;
                        let (a, b) = r.slices(off, want);
                        let got: Vec<u8> = [a, b].concat();
                        let start = off.min(readable.len());
                        let expect_len = want.min(readable.len() - start);
                        assert_eq!(got.len(), expect_len);
                        assert!(b.is_empty() || a.len() + b.len() == expect_len);
                        for (i, &g) in got.iter().enumerate() {
                            if let Some(m) = readable[start + i] {
                                assert_eq!(g, m);
                            }
                        }
                    }
                }
                assert_eq!(r.len(), readable.len());
                assert_eq!(r.free(), cap - readable.len());
                placed.truncate(cap - readable.len());
            }
        }
    }
}
