//! The send queue of a connection: the bytes the application wrote, from
//! the oldest unacknowledged one to the last written, in chunks that a
//! device can take by reference.
//!
//! The bytes live in a few large allocations (*chunks*, `bytes::BytesMut`).
//! The application's writes are copied into the current chunk, the
//! *tail*; acknowledgements drop bytes from the front. A transmission
//! borrows its payload as at most two slices (a chunk boundary may cut it)
//! and normally copies it into the frame.
//!
//! A device that can send a payload by reference (an in-memory wire, a
//! loopback, a scatter-gather NIC) does better: with
//! [`prepare`](SendQueue::prepare)'s `seal`, the queue *seals* every byte up
//! to the end of the segment (freezes it into a shared, immutable
//! `bytes::Bytes` piece) and hands the piece holding the payload out, so the
//! frame refers to the bytes the application's write put there: the copy
//! into the frame is gone (a receiver on the same machine can even queue
//! the payload where it is). Sealed bytes are never written again; a
//! chunk's allocation is reused once the queue and everyone it lent pieces
//! to have dropped them, otherwise a new chunk is allocated.
//!
//! Memory stays a function of configuration: the queue holds at most its
//! capacity in bytes; chunks are at most [`MAX_CHUNK`] bytes; the pieces
//! are bounded by [`MAX_PIECES`] (past it, nothing more is sealed and
//! payloads are copied).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

/// The largest chunk allocated; a queue's chunks are its capacity up to
/// this. A range no longer than the capacity or 64 KiB (the longest
/// segment, a segmentation-offload batch included) then crosses at most
/// one chunk boundary.
pub const MAX_CHUNK: usize = 1 << 20;
/// Pieces the queue holds at most (sealed segments and full chunks).
pub const MAX_PIECES: usize = 2048;
/// Emptied chunks kept to reuse their allocation.
const RETIRED: usize = 2;

/// A run of queued bytes.
#[derive(Debug)]
enum Piece {
    /// Sealed: shared with whoever took it; never written again.
    Sealed(Bytes),
    /// A full chunk (or part of one) not sealed.
    Open(BytesMut),
}

impl Piece {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Piece::Sealed(b) => b,
            Piece::Open(b) => b,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    #[inline]
    fn advance(&mut self, n: usize) {
        match self {
            Piece::Sealed(b) => b.advance(n),
            Piece::Open(b) => b.advance(n),
        }
    }
}

/// A connection's send buffer (see the module documentation): its state
/// allocated with the first write (an idle connection's costs nothing).
///
/// ```
/// use lamina_tcp::sendq::SendQueue;
///
/// let mut q = SendQueue::new(1 << 16);
/// assert_eq!(q.write(b"hello, world"), 12);
/// // A segment of 5 bytes from offset 7, sealed so that it can be lent.
/// let ((a, b), lent) = q.prepare(7, 5, true);
/// assert_eq!((a, b), (&b"world"[..], &b""[..]));
/// let lent = lent.unwrap().slice_ref(a); // a `bytes::Bytes`, no copy
/// q.consume(12); // all acknowledged
/// q.write(b"more"); // never over the lent bytes
/// assert_eq!(&lent[..], b"world");
/// ```
#[derive(Debug)]
pub struct SendQueue {
    cap: u32,
    len: u32,
    q: Option<alloc::boxed::Box<Queue>>,
}

/// The queue proper.
#[derive(Debug)]
struct Queue {
    cap: usize,
    len: usize,
    /// Stream position (counted from the first byte ever written) of the
    /// front byte.
    front: u64,
    /// The runs before the tail, in order, each with its stream position;
    /// none is empty.
    pieces: VecDeque<(u64, Piece)>,
    /// The chunk being written: its bytes from `tail_head` on follow the
    /// pieces (those before were acknowledged; they are dropped when the
    /// tail is split or moved, or reused when it empties).
    tail: BytesMut,
    tail_head: usize,
    /// Stream position of the tail's first byte.
    tail_start: u64,
    /// Every byte before this stream position is sealed.
    sealed_end: u64,
    /// Emptied chunks whose allocation may come back.
    retired: VecDeque<BytesMut>,
    chunk: usize,
}

impl SendQueue {
    /// A queue holding up to `capacity` bytes; nothing is allocated before
    /// the first write.
    pub fn new(capacity: usize) -> SendQueue {
        SendQueue {
            cap: u32::try_from(capacity).unwrap_or(u32::MAX),
            len: 0,
            q: None,
        }
    }

    /// Queued bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Room left.
    #[inline]
    pub fn free(&self) -> usize {
        (self.cap - self.len) as usize
    }

    /// Appends up to `free()` bytes of `data`; returns how many were taken.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> usize {
        if data.is_empty() || self.len == self.cap {
            return 0;
        }
        let cap = self.cap as usize;
        let q = self
            .q
            .get_or_insert_with(|| alloc::boxed::Box::new(Queue::new(cap)));
        let n = q.write(data);
        self.len = q.len as u32;
        n
    }

    /// Drops up to `n` bytes from the front (acknowledged); returns how
    /// many.
    #[inline]
    pub fn consume(&mut self, n: usize) -> usize {
        let Some(q) = self.q.as_mut() else {
            return 0;
        };
        let n = q.consume(n);
        self.len = q.len as u32;
        n
    }

    /// Whether no byte is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every byte.
    pub fn clear(&mut self) {
        let n = self.len();
        self.consume(n);
    }

    /// Readies bytes `[offset, offset + n)` (from the front; clamped to
    /// [`len`](Self::len)) for a transmission: with `seal`, every byte up
    /// to the end of the range is sealed (immutable and shareable; at most
    /// [`MAX_PIECES`] pieces, past which nothing more is sealed), and the
    /// range is made to lie in at most two runs (merging, with a copy,
    /// where it spanned more). Returns the range as up to two slices, and,
    /// with `seal`, the sealed piece holding all of it if one does
    /// (`bytes::Bytes::slice_ref` of the first slice then gives it
    /// without copying).
    #[inline]
    pub fn prepare(
        &mut self,
        offset: usize,
        n: usize,
        seal: bool,
    ) -> ((&[u8], &[u8]), Option<&Bytes>) {
        match self.q.as_mut() {
            Some(q) => q.prepare(offset, n, seal),
            None => ((&[], &[]), None),
        }
    }
}

impl Queue {
    fn new(cap: usize) -> Queue {
        Queue {
            cap,
            len: 0,
            front: 0,
            pieces: VecDeque::new(),
            tail: BytesMut::new(),
            tail_head: 0,
            tail_start: 0,
            sealed_end: 0,
            retired: VecDeque::new(),
            chunk: (cap / 2).max(cap.min(64 * 1024)).clamp(1, MAX_CHUNK),
        }
    }

    /// Room left.
    #[inline]
    fn free(&self) -> usize {
        self.cap - self.len
    }

    /// A fresh tail: an emptied chunk whose allocation came back, or a new
    /// one. The old tail goes to the pieces (or, empty, to the retired).
    fn new_tail(&mut self) {
        let mut old = core::mem::take(&mut self.tail);
        let head = core::mem::take(&mut self.tail_head);
        if old.len() == head {
            self.retire(old);
        } else {
            old.advance(head);
            self.pieces.push_back((self.tail_start, Piece::Open(old)));
        }
        self.tail_start = self.front + self.len as u64;
        let chunk = self.chunk;
        let mut reused = None;
        for _ in 0..self.retired.len() {
            let Some(mut c) = self.retired.pop_front() else {
                break;
            };
            if c.try_reclaim(chunk) {
                reused = Some(c);
                break;
            }
            self.retired.push_back(c);
        }
        self.tail = reused.unwrap_or_else(|| BytesMut::with_capacity(chunk));
    }

    /// Keeps an emptied chunk handle to reuse its allocation later.
    fn retire(&mut self, mut c: BytesMut) {
        c.clear();
        if self.retired.len() >= RETIRED {
            self.retired.pop_front();
        }
        self.retired.push_back(c);
    }

    /// Appends up to `free()` bytes of `data`; returns how many were taken.
    #[inline(always)]
    fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n <= self.tail.capacity() - self.tail.len() {
            // The common case: it fits in the tail.
            self.tail
                .extend_from_slice(data.get(..n).unwrap_or_default());
            self.len += n;
            return n;
        }
        self.write_chunks(data.get(..n).unwrap_or_default())
    }

    /// [`write`](Self::write) across chunks.
    #[inline(never)]
    fn write_chunks(&mut self, data: &[u8]) -> usize {
        let n = data.len();
        let mut rest = data.get(..n).unwrap_or_default();
        while !rest.is_empty() {
            let room = self.tail.capacity() - self.tail.len();
            if room == 0 {
                self.new_tail();
                continue;
            }
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.tail.extend_from_slice(now);
            self.len += now.len();
            rest = later;
        }
        n
    }

    /// Drops up to `n` bytes from the front (acknowledged); returns how
    /// many.
    #[inline(always)]
    fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if self.pieces.is_empty() {
            // The common case: all in the tail.
            self.consume_tail(n);
            self.front += n as u64;
            self.len -= n;
            self.sealed_end = self.sealed_end.max(self.front);
            if self.len == 0 && self.tail.capacity() < self.chunk / 2 {
                self.restart_chunk();
            }
            return n;
        }
        self.consume_pieces(n)
    }

    /// With everything acknowledged and little room left in the tail:
    /// writes start over at the chunk's beginning when no one else holds
    /// a part of it (whole segments then lie in one chunk again).
    #[cold]
    fn restart_chunk(&mut self) {
        if self.tail.try_reclaim(self.chunk) {
            self.tail_start = self.front;
        }
    }

    /// Drops `n` bytes from the tail's front.
    #[inline(always)]
    fn consume_tail(&mut self, n: usize) {
        if n > 0 {
            self.tail_head += n;
            self.tail_start += n as u64;
            if self.tail_head == self.tail.len() {
                // All acknowledged: the tail's bytes are written again
                // from its start (which stays warm).
                self.tail.clear();
                self.tail_head = 0;
            }
        }
    }

    /// [`consume`](Self::consume) with pieces (`n <= len`).
    #[inline(never)]
    fn consume_pieces(&mut self, n: usize) -> usize {
        let mut left = n;
        while left > 0 {
            let Some((start, piece)) = self.pieces.front_mut() else {
                break;
            };
            let plen = piece.len();
            if plen > left {
                piece.advance(left);
                *start += left as u64;
                left = 0;
            } else {
                left -= plen;
                if let Some((_, Piece::Open(c))) = self.pieces.pop_front() {
                    self.retire(c);
                }
            }
        }
        self.consume_tail(left);
        self.front += n as u64;
        self.len -= n;
        self.sealed_end = self.sealed_end.max(self.front);
        if self.len == 0 && self.tail.capacity() < self.chunk / 2 {
            self.restart_chunk();
        }
        n
    }

    /// The index in `pieces` of the piece holding stream position `pos`
    /// (`pieces.len()` for the tail).
    #[inline]
    fn find(&self, pos: u64) -> usize {
        if pos >= self.tail_start {
            return self.pieces.len();
        }
        // New data sits in the last pieces, retransmissions in the first.
        match self.pieces.back() {
            Some((s, _)) if *s <= pos => self.pieces.len() - 1,
            _ => self
                .pieces
                .partition_point(|(s, _)| *s <= pos)
                .saturating_sub(1),
        }
    }

    /// Bytes in the tail.
    #[inline]
    fn tail_len(&self) -> usize {
        self.tail.len() - self.tail_head
    }

    /// The first `take` bytes of the tail, sealed (split off it).
    fn take_tail(&mut self, take: usize) -> Bytes {
        let mut head = self.tail.split_to(self.tail_head + take);
        head.advance(self.tail_head);
        self.tail_head = 0;
        head.freeze()
    }

    /// Seals every byte before stream position `end`.
    fn seal_to(&mut self, end: u64) {
        if end <= self.sealed_end {
            return;
        }
        let from = self.find(self.sealed_end);
        let mut i = from;
        while i < self.pieces.len() {
            let Some((start, piece)) = self.pieces.get_mut(i) else {
                break;
            };
            let start = *start;
            if start >= end {
                break;
            }
            if let Piece::Open(b) = piece {
                let take = (end - start).min(b.len() as u64) as usize;
                if take < b.len() {
                    // Seal the first part, the rest stays open behind it.
                    let head = b.split_to(take).freeze();
                    self.pieces.insert(i, (start, Piece::Sealed(head)));
                    if let Some((s, _)) = self.pieces.get_mut(i + 1) {
                        *s = start + take as u64;
                    }
                } else {
                    let b = core::mem::take(b);
                    if let Some((_, p)) = self.pieces.get_mut(i) {
                        *p = Piece::Sealed(b.freeze());
                    }
                }
            }
            i += 1;
        }
        if end > self.tail_start {
            let take = ((end - self.tail_start) as usize).min(self.tail_len());
            if take > 0 {
                let head = self.take_tail(take);
                self.pieces
                    .push_back((self.tail_start, Piece::Sealed(head)));
                self.tail_start += take as u64;
            }
        }
        self.sealed_end = end.min(self.tail_start.max(self.sealed_end));
    }

    /// Merges the whole pieces from `first` to the one ending at stream
    /// position `end` into one sealed piece (a copy: only when a range
    /// spans more than two runs, a retransmission over many small
    /// segments).
    fn merge(&mut self, first: usize, end: u64) {
        // Cut the last piece at `end` so that only the range is copied.
        let last = self.find(end.saturating_sub(1));
        if last == self.pieces.len() {
            // The range reaches into the tail: take that part out first.
            let take = ((end - self.tail_start) as usize).min(self.tail_len());
            let head = self.take_tail(take);
            self.pieces
                .push_back((self.tail_start, Piece::Sealed(head)));
            self.tail_start += take as u64;
        } else if let Some((start, piece)) = self.pieces.get_mut(last) {
            let cut = (end - *start) as usize;
            if cut < piece.len() {
                let start = *start;
                let head = match piece {
                    Piece::Sealed(b) => Piece::Sealed(b.split_to(cut)),
                    Piece::Open(b) => Piece::Open(b.split_to(cut)),
                };
                if let Some((s, _)) = self.pieces.get_mut(last) {
                    *s = start + cut as u64;
                }
                self.pieces.insert(last, (start, head));
            }
        }
        let last = self
            .find(end.saturating_sub(1))
            .min(self.pieces.len().saturating_sub(1));
        let Some(&(start, _)) = self.pieces.get(first) else {
            return;
        };
        let mut joined = Vec::with_capacity((end - start) as usize);
        for (_, p) in self.pieces.drain(first..=last) {
            joined.extend_from_slice(p.as_slice());
        }
        self.pieces
            .insert(first, (start, Piece::Sealed(Bytes::from(joined))));
    }

    /// Run `k`: piece `k`, or the tail past the pieces; with its stream
    /// position.
    #[inline]
    fn run(&self, k: usize) -> (u64, &[u8]) {
        match self.pieces.get(k) {
            Some((s, p)) => (*s, p.as_slice()),
            None => (
                self.tail_start,
                self.tail.get(self.tail_head..).unwrap_or_default(),
            ),
        }
    }

    /// Readies bytes `[offset, offset + n)` (from the front; clamped to
    /// `len()`) for a transmission: with `seal`, every byte up to the end
    /// of the range is sealed (bounded by [`MAX_PIECES`]); and the range
    /// is made to lie in at most two runs. Then returns the range as up
    /// to two slices, and the sealed piece holding all of it, if one does.
    #[inline(always)]
    fn prepare(&mut self, offset: usize, n: usize, seal: bool) -> ((&[u8], &[u8]), Option<&Bytes>) {
        let offset = offset.min(self.len);
        let n = n.min(self.len - offset);
        let pos = self.front + offset as u64;
        if !seal && pos >= self.tail_start {
            // The common case without sharing: all in the tail.
            let at = self.tail_head + (pos - self.tail_start) as usize;
            let a = self.tail.get(at..at + n).unwrap_or_default();
            return ((a, &[]), None);
        }
        if n == 0 {
            return ((&[], &[]), None);
        }
        self.prepare_runs(pos, n, seal)
    }

    /// [`prepare`](Self::prepare) beyond the tail, or sealing (`n > 0`).
    #[inline(never)]
    fn prepare_runs(&mut self, pos: u64, n: usize, seal: bool) -> ((&[u8], &[u8]), Option<&Bytes>) {
        let end = pos + n as u64;
        if seal && self.pieces.len() < MAX_PIECES {
            self.seal_to(end);
        }
        let i = self.find(pos);
        if i + 1 < self.pieces.len() {
            // Three runs or more? Only when the second ends before `end`.
            let second_end = self.pieces.get(i + 2).map_or(self.tail_start, |(s, _)| *s);
            if second_end < end {
                // From the range's first run when it starts there (the
                // merged piece then holds the whole range, which can be
                // shared), else from the second.
                let starts_run = self.pieces.get(i).is_some_and(|(s, _)| *s == pos);
                self.merge(if starts_run { i } else { i + 1 }, end);
            }
        }
        let i = self.find(pos);
        let (s, first) = self.run(i);
        let at = (pos - s) as usize;
        let a = first.get(at..).unwrap_or_default();
        let a = a.get(..n.min(a.len())).unwrap_or_default();
        let b = if a.len() < n {
            let (_, second) = self.run(i + 1);
            second
                .get(..(n - a.len()).min(second.len()))
                .unwrap_or_default()
        } else {
            &[]
        };
        let shared = match self.pieces.get(i) {
            Some((_, Piece::Sealed(bytes))) if seal && b.is_empty() => Some(bytes),
            _ => None,
        };
        ((a, b), shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::{Rng, SeededRng};

    fn collect(q: &mut SendQueue, off: usize, n: usize, seal: bool) -> (Vec<u8>, bool) {
        let ((a, b), shared) = q.prepare(off, n, seal);
        let mut v = a.to_vec();
        v.extend_from_slice(b);
        let whole = match shared {
            Some(s) => {
                // The shared piece holds the payload.
                let (p, l) = (s.as_ptr() as usize, s.len());
                assert!(a.as_ptr() as usize >= p && a.as_ptr() as usize + a.len() <= p + l);
                assert!(b.is_empty());
                true
            }
            None => false,
        };
        (v, whole)
    }

    #[test]
    fn writes_read_back_across_chunks() {
        let mut q = SendQueue::new(200_000);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(q.write(&data[..150_000]), 150_000);
        assert_eq!(q.write(&data[150_000..]), 50_000);
        assert_eq!(q.write(b"x"), 0);
        assert_eq!(q.free(), 0);
        for (off, n) in [
            (0, 1000),
            (65_000, 65_536),
            (131_000, 60_000),
            (199_000, 5000),
        ] {
            let (v, _) = collect(&mut q, off, n, false);
            let end = (off + n).min(200_000);
            assert_eq!(v, &data[off..end]);
        }
        assert_eq!(q.consume(70_000), 70_000);
        let (v, _) = collect(&mut q, 0, 10, false);
        assert_eq!(v, &data[70_000..70_010]);
    }

    #[test]
    fn sealed_segments_are_shared_and_survive_a_later_write() {
        let mut q = SendQueue::new(1 << 20);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        q.write(&data[..100_000]);
        let mut held = Vec::new();
        let mut off = 0;
        while off < 100_000 {
            let n = 1460.min(100_000 - off);
            let ((a, b), shared) = q.prepare(off, n, true);
            assert!(b.is_empty());
            let s = shared.expect("a sealed segment is shared");
            held.push((off, s.slice_ref(a)));
            off += n;
        }
        // The application writes on; what was lent does not change.
        q.write(&data[100_000..300_000]);
        q.consume(50_000);
        for (off, b) in &held {
            assert_eq!(&b[..], &data[*off..*off + b.len()]);
        }
        let (v, _) = collect(&mut q, 0, 50_000, true);
        assert_eq!(v, &data[50_000..100_000]);
    }

    #[test]
    fn a_retransmission_over_many_pieces_is_merged() {
        let mut q = SendQueue::new(1 << 16);
        let data: Vec<u8> = (0..4000u32).map(|i| (i % 249) as u8).collect();
        q.write(&data);
        // Small segments, each sealed.
        for k in 0..40 {
            let _ = q.prepare(k * 100, 100, true);
        }
        assert!(q.q.as_ref().unwrap().pieces.len() >= 40);
        // A retransmission of 1460 bytes from the front: one run.
        let (v, whole) = collect(&mut q, 0, 1460, true);
        assert_eq!(v, &data[..1460]);
        assert!(whole);
        let (v, _) = collect(&mut q, 50, 3950, false);
        assert_eq!(v, &data[50..]);
    }

    /// Once everything is acknowledged, writing starts over at the
    /// chunk's beginning: at once without sealing; with sealing once the
    /// lent pieces are dropped (and never over a piece still held).
    #[test]
    fn a_drained_chunk_is_reused_only_when_nobody_holds_it() {
        let mut q = SendQueue::new(100_000);
        let data = alloc::vec![7u8; 60_000];
        q.write(&data);
        let start = q.prepare(0, 10, false).0.0.as_ptr();
        q.consume(60_000);
        q.write(b"again");
        let ((a, _), _) = q.prepare(0, 5, false);
        assert_eq!(
            (a, a.as_ptr()),
            (&b"again"[..], start),
            "the chunk's start reused"
        );
        q.consume(5);

        // Lent and held: the next bytes go elsewhere.
        q.write(&data);
        let lent = q.prepare(0, 60_000, true).1.expect("sealed").clone();
        assert_eq!(lent.as_ptr(), start);
        q.consume(60_000);
        q.write(b"fresh");
        let ((a, _), _) = q.prepare(0, 5, false);
        assert_eq!(a, b"fresh");
        let end = lent.as_ptr().wrapping_add(lent.len());
        assert!(
            a.as_ptr() < lent.as_ptr() || a.as_ptr() >= end,
            "written over a lent piece"
        );
        assert!(lent.iter().all(|b| *b == 7));
        q.consume(5);

        // Lent and dropped: back to the start.
        drop(lent);
        q.write(b"x");
        q.consume(1);
        q.write(b"reused");
        let ((a, _), _) = q.prepare(0, 6, false);
        assert_eq!((a, a.as_ptr()), (&b"reused"[..], start));
    }

    /// Random writes, transmissions (sealed or not) and acknowledgements
    /// against a plain model.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = SeededRng::new(7);
        for cap in [1usize, 100, 5000, 70_000, 300_000] {
            let mut q = SendQueue::new(cap);
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut next = 0u8;
            let mut held: Vec<(Vec<u8>, Bytes)> = Vec::new();
            for _ in 0..3000 {
                match rng.next_u32() % 4 {
                    0 => {
                        let n = (rng.next_u32() as usize) % (cap / 3 + 2);
                        let data: Vec<u8> = (0..n)
                            .map(|_| {
                                next = next.wrapping_add(1);
                                next
                            })
                            .collect();
                        let took = q.write(&data);
                        assert_eq!(took, n.min(cap - model.len()));
                        model.extend(&data[..took]);
                    }
                    1 | 2 => {
                        if model.is_empty() {
                            continue;
                        }
                        let off = (rng.next_u32() as usize) % model.len();
                        let n = 1 + (rng.next_u32() as usize) % 70_000;
                        let seal = rng.next_u32().is_multiple_of(2);
                        let ((a, b), shared) = q.prepare(off, n, seal);
                        let want: Vec<u8> = model.iter().skip(off).take(n).copied().collect();
                        let mut got = a.to_vec();
                        got.extend_from_slice(b);
                        assert_eq!(got, want);
                        if let Some(s) = shared {
                            let lent = s.slice_ref(a);
                            if held.len() < 64 {
                                held.push((want, lent));
                            }
                        }
                    }
                    _ => {
                        let n = (rng.next_u32() as usize) % (model.len() + 1);
                        assert_eq!(q.consume(n), n);
                        model.drain(..n);
                    }
                }
                assert_eq!(q.len(), model.len());
                assert!(
                    q.q.as_ref()
                        .is_none_or(|q| q.pieces.len() <= MAX_PIECES + 2)
                );
            }
            for (want, lent) in &held {
                assert_eq!(&lent[..], &want[..]);
            }
        }
    }
}
