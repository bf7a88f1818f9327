//! The receive queue of a connection: a ring of bytes copied in, and,
//! between them, payloads left in the buffers they arrived in.
//!
//! In-order data is normally copied into the [`RingBuffer`]. A large
//! segment that arrived in a buffer the device gave away can instead stay
//! there: the queue then holds the buffer itself (an *owned piece*) at its
//! place in the stream, and a read copies out of it directly — one copy
//! of the payload fewer. Out-of-order data always goes into the ring.
//!
//! The stream is: `head` bytes at the front of the ring, then the pieces
//! in order (runs of ring bytes, owned buffers, or a payload accepted but
//! not attached yet). The bytes held in owned and pending pieces count
//! against the capacity like ring bytes, so the window means the same
//! thing either way.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::ring::RingBuffer;

/// Buffers kept for the device to take back, at most (the interface takes
/// them on its next pass over the connection).
const SPARES: usize = 64;

#[derive(Debug)]
enum Piece {
    /// The next `n` bytes of the ring.
    Ring(usize),
    /// `buf[start..end]`.
    Owned { buf: Held, start: usize, end: usize },
    /// `n` bytes accepted whose buffer is yet to be attached.
    Pending(usize),
}

/// The buffer of an owned piece.
#[derive(Debug)]
enum Held {
    /// A device's buffer, given back to it once read.
    Device(Vec<u8>),
    /// A payload the sender lent by reference (dropped once read).
    Shared(bytes::Bytes),
}

impl Held {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Held::Device(v) => v,
            Held::Shared(b) => b,
        }
    }
}

/// A connection's receive buffer (see the module documentation).
#[derive(Debug)]
pub(crate) struct RecvQueue {
    ring: RingBuffer,
    /// Ring bytes before the first piece (all of them when there is none).
    head: usize,
    /// The pieces, allocated with the first owned payload (most
    /// connections never see one: they stay small).
    ext: Option<Box<Pieces>>,
}

#[derive(Debug, Default)]
struct Pieces {
    pieces: VecDeque<Piece>,
    /// Bytes in owned and pending pieces.
    owned: usize,
    /// Buffers of owned pieces read to the end, for the device.
    spare: Vec<Vec<u8>>,
}

impl RecvQueue {
    pub(crate) fn new(capacity: usize) -> RecvQueue {
        RecvQueue {
            ring: RingBuffer::new(capacity),
            head: 0,
            ext: None,
        }
    }

    #[inline]
    fn owned(&self) -> usize {
        self.ext.as_ref().map_or(0, |e| e.owned)
    }

    /// Bytes the queue holds at most.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Readable bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.ring.len() + self.owned()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room left.
    #[inline]
    pub(crate) fn free(&self) -> usize {
        self.capacity().saturating_sub(self.len())
    }

    /// Records `n` more ring bytes at the end of the stream.
    #[inline]
    fn push_ring(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.ext.as_mut().and_then(|e| e.pieces.back_mut()) {
            None => self.head += n,
            Some(Piece::Ring(k)) => *k += n,
            Some(_) => {
                if let Some(e) = self.ext.as_mut() {
                    e.pieces.push_back(Piece::Ring(n));
                }
            }
        }
    }

    /// Appends in-order data (copied into the ring); returns how much fit.
    #[inline]
    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        let data = data.get(..data.len().min(self.free())).unwrap_or_default();
        let n = self.ring.write(data);
        self.push_ring(n);
        n
    }

    /// Places out-of-order data `offset` bytes past the end of the stream,
    /// not readable yet (see [`RingBuffer::write_at`]); returns how much
    /// fit.
    #[inline]
    pub(crate) fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let room = self.free().saturating_sub(offset);
        let data = data.get(..data.len().min(room)).unwrap_or_default();
        self.ring.write_at(offset, data)
    }

    /// Makes `n` bytes placed with [`write_at`](Self::write_at) readable.
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        let before = self.ring.len();
        self.ring.commit(n);
        let added = self.ring.len() - before;
        self.push_ring(added);
    }

    /// Accepts `n` in-order bytes whose buffer comes later
    /// ([`attach`](Self::attach)). False (and nothing done) when they do not
    /// fit or another payload is still pending.
    pub(crate) fn defer(&mut self, n: usize) -> bool {
        if n == 0 || n > self.free() {
            return false;
        }
        let e = self.ext.get_or_insert_with(Box::default);
        if e.pieces.iter().any(|p| matches!(p, Piece::Pending(_))) {
            return false;
        }
        e.pieces.push_back(Piece::Pending(n));
        e.owned += n;
        true
    }

    /// The buffer of the pending payload: `buf[start..start + n]` with the
    /// `n` given to [`defer`](Self::defer). False if nothing that long is
    /// pending or `buf` is too short (the payload stays pending).
    pub(crate) fn attach(&mut self, buf: Vec<u8>, start: usize) -> bool {
        let Some(e) = self.ext.as_mut() else {
            return false;
        };
        for p in e.pieces.iter_mut() {
            if let Piece::Pending(n) = *p {
                let end = start.saturating_add(n);
                if end > buf.len() {
                    return false;
                }
                *p = Piece::Owned {
                    buf: Held::Device(buf),
                    start,
                    end,
                };
                return true;
            }
        }
        false
    }

    /// As [`attach`](Self::attach), for a payload lent by reference: all
    /// of `buf` is the pending payload. False if nothing of its length is
    /// pending.
    pub(crate) fn attach_shared(&mut self, buf: bytes::Bytes) -> bool {
        let Some(e) = self.ext.as_mut() else {
            return false;
        };
        for p in e.pieces.iter_mut() {
            if let Piece::Pending(n) = *p {
                if n != buf.len() {
                    return false;
                }
                *p = Piece::Owned {
                    buf: Held::Shared(buf),
                    start: 0,
                    end: n,
                };
                return true;
            }
        }
        false
    }

    /// Withdraws the pending payload when it is the end of the stream (its
    /// buffer never came): returns its length, no longer part of the
    /// stream; 0 if there is none or other bytes follow it.
    pub(crate) fn cancel_pending(&mut self) -> usize {
        let Some(e) = self.ext.as_mut() else {
            return 0;
        };
        let Some(&Piece::Pending(n)) = e.pieces.back() else {
            return 0;
        };
        e.pieces.pop_back();
        e.owned -= n;
        self.normalize();
        n
    }

    /// Folds leading ring runs into `head`.
    fn normalize(&mut self) {
        let Some(e) = self.ext.as_mut() else {
            return;
        };
        while let Some(Piece::Ring(k)) = e.pieces.front() {
            self.head += *k;
            e.pieces.pop_front();
        }
    }

    /// Moves readable bytes into `out`; returns how many.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let mut done = 0;
        while let Some(rest) = out.get_mut(done..) {
            if rest.is_empty() {
                break;
            }
            if self.head > 0 {
                let k = rest.len().min(self.head);
                let n = self.ring.read(rest.get_mut(..k).unwrap_or_default());
                self.head -= n;
                done += n;
                if n < k {
                    break;
                }
                continue;
            }
            let Some(e) = self.ext.as_mut() else {
                break;
            };
            match e.pieces.front_mut() {
                Some(Piece::Ring(k)) => {
                    self.head = *k;
                    e.pieces.pop_front();
                }
                Some(Piece::Owned { buf, start, end }) => {
                    let avail = buf.as_slice().get(*start..*end).unwrap_or_default();
                    let n = avail.len().min(rest.len());
                    if let (Some(dst), Some(src)) = (rest.get_mut(..n), avail.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    *start += n;
                    e.owned -= n;
                    done += n;
                    if *start >= *end
                        && let Some(Piece::Owned {
                            buf: Held::Device(buf),
                            ..
                        }) = e.pieces.pop_front()
                        && e.spare.len() < SPARES
                    {
                        e.spare.push(buf);
                    }
                }
                // A payload not attached yet is not readable.
                Some(Piece::Pending(_)) | None => break,
            }
        }
        done
    }

    /// Copies readable bytes into `out` without consuming them; returns
    /// how many.
    pub(crate) fn peek(&self, out: &mut [u8]) -> usize {
        let mut done = 0;
        let mut ring_at = 0;
        let take_ring = |k: usize, ring_at: &mut usize, done: &mut usize, out: &mut [u8]| {
            let Some(rest) = out.get_mut(*done..) else {
                return;
            };
            let k = k.min(rest.len());
            let n = self
                .ring
                .peek(*ring_at, rest.get_mut(..k).unwrap_or_default());
            *ring_at += n;
            *done += n;
        };
        take_ring(self.head, &mut ring_at, &mut done, out);
        let pieces = self.ext.as_ref().map(|e| &e.pieces);
        for p in pieces.into_iter().flatten() {
            if done >= out.len() {
                break;
            }
            match p {
                Piece::Ring(k) => take_ring(*k, &mut ring_at, &mut done, out),
                Piece::Owned { buf, start, end } => {
                    let avail = buf.as_slice().get(*start..*end).unwrap_or_default();
                    let rest = out.get_mut(done..).unwrap_or_default();
                    let n = avail.len().min(rest.len());
                    if let (Some(dst), Some(src)) = (rest.get_mut(..n), avail.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    done += n;
                }
                Piece::Pending(_) => break,
            }
        }
        done
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.head = 0;
        if let Some(e) = self.ext.as_mut() {
            e.pieces.clear();
            e.owned = 0;
        }
    }

    /// A buffer read to the end, to give back to the device.
    pub(crate) fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.ext.as_mut()?.spare.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A model: the stream as plain bytes.
    #[test]
    fn random_operations_match_a_plain_byte_stream() {
        let mut rng = lamina_netbuf::SeededRng::new(7);
        use lamina_netbuf::Rng;
        for round in 0..200 {
            let cap = 64 + rng.below(400) as usize;
            let mut q = RecvQueue::new(cap);
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut pending: Option<Vec<u8>> = None;
            let mut next = 0u8;
            let mut bytes = |n: usize| -> Vec<u8> {
                (0..n)
                    .map(|_| {
                        next = next.wrapping_add(1);
                        next
                    })
                    .collect()
            };
            for _ in 0..300 {
                match rng.below(7) {
                    0 | 1 => {
                        let d = bytes(rng.below(100) as usize);
                        let n = q.write(&d);
                        assert_eq!(n, d.len().min(cap - model.len()), "round {round}");
                        model.extend(&d[..n]);
                    }
                    2 => {
                        // Out of order, then filled and committed.
                        let gap = rng.below(20) as usize;
                        let d = bytes(rng.below(60) as usize + gap);
                        let n = q.write_at(gap, &d[gap..]);
                        let filled = q.write_at(0, &d[..gap]);
                        if filled == gap && gap + n <= q.free() {
                            q.commit(gap + n);
                            model.extend(&d[..gap + n]);
                        }
                    }
                    3 if pending.is_none() => {
                        let d = bytes(rng.below(150) as usize + 1);
                        if q.defer(d.len()) {
                            model.extend(&d);
                            pending = Some(d);
                        }
                    }
                    4 => {
                        if let Some(d) = pending.take() {
                            let pre = rng.below(8) as usize;
                            let mut buf = vec![0xee; pre];
                            buf.extend(&d);
                            buf.extend([0xdd; 3]);
                            assert!(q.attach(buf, pre));
                        }
                    }
                    5 => {
                        let mut out = vec![0u8; rng.below(120) as usize];
                        let n = q.peek(&mut out);
                        let readable = readable_len(&model, &pending, &q);
                        assert_eq!(n, readable.min(out.len()));
                        assert!(out[..n].iter().eq(model.iter().take(n)));
                        let n = q.read(&mut out);
                        assert_eq!(n, readable.min(out.len()));
                        for (i, b) in out[..n].iter().enumerate() {
                            assert_eq!(Some(*b), model.pop_front(), "round {round} byte {i}");
                        }
                    }
                    _ => {
                        if pending.is_some()
                            && matches!(
                                q.ext.as_ref().and_then(|e| e.pieces.back()),
                                Some(Piece::Pending(_))
                            )
                            && rng.below(4) == 0
                        {
                            let d = pending.take().expect("pending");
                            assert_eq!(q.cancel_pending(), d.len());
                            // The withdrawn bytes are the last ones.
                            for _ in 0..d.len() {
                                model.pop_back();
                            }
                        }
                    }
                }
                assert_eq!(q.len(), model.len());
                assert_eq!(q.free(), cap - model.len());
            }
        }
    }

    /// Bytes readable now: all of them, unless a payload is pending (then
    /// those before it).
    fn readable_len(model: &VecDeque<u8>, pending: &Option<Vec<u8>>, q: &RecvQueue) -> usize {
        match pending {
            None => model.len(),
            Some(_) => {
                let mut n = q.head;
                for p in q.ext.iter().flat_map(|e| e.pieces.iter()) {
                    match p {
                        Piece::Ring(k) => n += k,
                        Piece::Owned { start, end, .. } => n += end - start,
                        Piece::Pending(_) => break,
                    }
                }
                n
            }
        }
    }

    #[test]
    fn a_buffer_read_to_the_end_is_given_back() {
        let mut q = RecvQueue::new(1000);
        assert!(q.defer(10));
        assert!(q.attach(vec![1; 20], 5));
        let mut out = [0u8; 10];
        assert_eq!(q.read(&mut out), 10);
        let spare = q.take_spare().expect("spare");
        assert_eq!(spare.len(), 20);
        assert!(q.take_spare().is_none());
    }
}
