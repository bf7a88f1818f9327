//! Bookkeeping for out-of-order receive: which byte ranges beyond
//! `RCV.NXT` have arrived.
//!
//! RFC 9293 §3.10.7.4 lets a receiver hold segments that arrive ahead of
//! `RCV.NXT`; the bytes themselves go into the receive
//! [`RingBuffer`](crate::ring::RingBuffer) with
//! [`write_at`](crate::ring::RingBuffer::write_at), and the [`Assembler`]
//! remembers which ranges are present, so that the connection knows when
//! the hole at the front fills ([`Assembler::remove_front`]) and which
//! SACK blocks to report (RFC 2018 §4, [`Assembler::sack_blocks`]).
//!
//! The number of disjoint ranges is bounded at creation (the storage is
//! allocated once), so a peer sending a comb of tiny segments cannot make
//! the receiver's memory or work grow: beyond the bound a segment that
//! would open a new range is refused with [`TooManyRanges`] and dropped,
//! which TCP tolerates (the sender retransmits it).

use crate::seq::SeqNumber;
use crate::wire::{SackBlock, SackBlocks};
use core::fmt;

use alloc::vec::Vec;

/// Adding a range would exceed the assembler's bound on disjoint ranges;
/// nothing was recorded and the segment's data should be dropped (RFC 9293
/// §3.10.7.4 allows a receiver not to keep out-of-order data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TooManyRanges;

impl fmt::Display for TooManyRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many out-of-order ranges")
    }
}

impl core::error::Error for TooManyRanges {}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// When data was last added to this range (larger is more recent).
    stamp: u64,
}

/// The set of byte ranges received beyond the front (`RCV.NXT`), as
/// offsets relative to the front.
///
/// Ranges are kept sorted, disjoint and non-adjacent (touching ranges are
/// merged), at most `max_ranges` of them beyond offset 0. The assembler also remembers
/// when each range last grew, to order SACK blocks most-recent-first.
///
/// ```
/// use lamina_tcp::SeqNumber;
/// use lamina_tcp::assembler::Assembler;
///
/// let mut asm = Assembler::new(4);
/// asm.add(100, 50).unwrap(); // a segment 100 bytes ahead of RCV.NXT
/// asm.add(300, 10).unwrap();
/// assert_eq!(asm.ranges().collect::<Vec<_>>(), [(100, 150), (300, 310)]);
///
/// // SACK blocks: the most recently received first (RFC 2018 §4).
/// let blocks = asm.sack_blocks(SeqNumber(1000), 4);
/// assert_eq!(blocks.as_slice()[0].left, SeqNumber(1300));
///
/// // The hole fills: 150 bytes become contiguous at the front.
/// asm.add(0, 100).unwrap();
/// assert_eq!(asm.remove_front(), 150);
/// assert_eq!(asm.ranges().collect::<Vec<_>>(), [(150, 160)]);
/// ```
#[derive(Clone)]
pub struct Assembler {
    spans: Vec<Span>,
    max: usize,
    clock: u64,
}

impl Assembler {
    /// An empty assembler holding at most `max_ranges` disjoint
    /// out-of-order ranges, plus possibly one at offset 0 (storage
    /// allocated at the first range, once). With `max_ranges` 0 it keeps no
    /// out-of-order data at all, only the in-order range.
    pub fn new(max_ranges: usize) -> Assembler {
        Assembler {
            // One more slot for a range at offset 0 (see `add`).
            spans: Vec::new(),
            max: max_ranges,
            clock: 0,
        }
    }

    /// The bound given to [`new`](Self::new).
    #[inline]
    pub fn max_ranges(&self) -> usize {
        self.max
    }

    /// The number of disjoint ranges held.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The ranges not at offset 0: those counted against `max_ranges`.
    fn out_of_order(&self) -> usize {
        let front = self.spans.first().is_some_and(|s| s.start == 0);
        self.spans.len() - usize::from(front)
    }

    /// Whether no range is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Records that bytes `[offset, offset + len)` (relative to the front)
    /// have arrived, merging with any range they overlap or touch. Adding
    /// nothing (`len == 0`) succeeds and changes nothing.
    ///
    /// Fails with [`TooManyRanges`], recording nothing, when the bytes
    /// would open a new out-of-order range (one not at offset 0) and
    /// `max_ranges` of them are already held. A range at offset 0 — data
    /// contiguous with `RCV.NXT`, which the connection must always be able
    /// to accept — is never refused: it does not count against the bound
    /// (and [`remove_front`](Self::remove_front) takes it out at once).
    pub fn add(&mut self, offset: usize, len: usize) -> Result<(), TooManyRanges> {
        if len == 0 {
            return Ok(());
        }
        let end = offset.saturating_add(len);
        // First span that overlaps or touches [offset, end) or lies after it.
        let i = self.spans.partition_point(|s| s.end < offset);
        // First span wholly after [offset, end) without touching it.
        let j = self.spans.partition_point(|s| s.start <= end);
        self.clock += 1;
        let stamp = self.clock;
        if i >= j {
            // No overlap: a new range at index i.
            if offset != 0 && self.out_of_order() >= self.max {
                return Err(TooManyRanges);
            }
            if self.spans.capacity() == 0 {
                self.spans.reserve_exact(self.max.saturating_add(1));
            }
            self.spans.insert(
                i,
                Span {
                    start: offset,
                    end,
                    stamp,
                },
            );
            return Ok(());
        }
        let last_end = self.spans.get(j - 1).map_or(end, |s| s.end);
        if let Some(first) = self.spans.get_mut(i) {
            first.start = first.start.min(offset);
            first.end = last_end.max(end);
            first.stamp = stamp;
        }
        self.spans.drain(i + 1..j);
        Ok(())
    }

    /// Removes the range starting at offset 0, if any, and returns its
    /// length (the bytes that just became contiguous with `RCV.NXT`); the
    /// other ranges' offsets shift down by that length. Returns 0 and
    /// changes nothing when the front is still a hole.
    pub fn remove_front(&mut self) -> usize {
        let n = match self.spans.first() {
            Some(s) if s.start == 0 => s.end,
            _ => return 0,
        };
        self.spans.remove(0);
        for s in &mut self.spans {
            s.start -= n;
            s.end -= n;
        }
        n
    }

    /// Moves the front forward by `n` bytes that were accepted in order
    /// without going through [`add`](Self::add): every offset shifts down
    /// by `n`, and ranges (or parts of them) below the new front are
    /// forgotten. A range left starting at offset 0 is then contiguous:
    /// [`remove_front`](Self::remove_front) returns it.
    pub fn advance(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.spans.retain_mut(|s| {
            if s.end <= n {
                return false;
            }
            s.start = s.start.saturating_sub(n);
            s.end -= n;
            true
        });
    }

    /// Whether the byte at `offset` has arrived.
    pub fn contains(&self, offset: usize) -> bool {
        let i = self.spans.partition_point(|s| s.end <= offset);
        self.spans.get(i).is_some_and(|s| s.start <= offset)
    }

    /// The ranges held, as `(start, end)` offsets (end exclusive), in
    /// ascending order.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.spans.iter().map(|s| (s.start, s.end))
    }

    /// Forgets every range (keeping the allocation).
    pub fn clear(&mut self) {
        self.spans.clear();
    }

    /// Up to `max` SACK blocks (at most [`SackBlocks::MAX`]) as absolute
    /// sequence numbers given the current `rcv_nxt`, per RFC 2018 §4: the
    /// block holding the most recently received segment first, then the
    /// others, most recently extended first. A range at offset 0 (not yet
    /// [`remove_front`](Self::remove_front)ed) is not reported, since it is
    /// acknowledged cumulatively.
    pub fn sack_blocks(&self, rcv_nxt: SeqNumber, max: usize) -> SackBlocks {
        let mut out = SackBlocks::new();
        let max = max.min(SackBlocks::MAX);
        // Selection by decreasing stamp: at most 4 passes over a small,
        // bounded list, no allocation.
        let mut below = u64::MAX;
        while out.len() < max {
            let best = self
                .spans
                .iter()
                .filter(|s| s.start != 0 && s.stamp < below)
                .max_by_key(|s| s.stamp);
            let Some(s) = best else { break };
            below = s.stamp;
            let block = SackBlock {
                left: rcv_nxt.wrapping_add(s.start as u32),
                right: rcv_nxt.wrapping_add(s.end as u32),
            };
            if out.push(block).is_err() {
                break;
            }
        }
        out
    }
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assembler")
            .field("max_ranges", &self.max)
            .field("ranges", &self.spans.as_slice())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use lamina_netbuf::{Rng, SeededRng};

    fn ranges(a: &Assembler) -> Vec<(usize, usize)> {
        a.ranges().collect()
    }

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        // RFC 9293 §3.10.7.4: duplicate or overlapping segments are
        // trimmed; the assembler stores their union.
        let mut a = Assembler::new(4);
        a.add(10, 5).unwrap();
        a.add(20, 5).unwrap();
        assert_eq!(ranges(&a), [(10, 15), (20, 25)]);
        a.add(15, 5).unwrap(); // touches both
        assert_eq!(ranges(&a), [(10, 25)]);
        a.add(5, 30).unwrap(); // covers
        assert_eq!(ranges(&a), [(5, 35)]);
        a.add(12, 3).unwrap(); // inside
        assert_eq!(ranges(&a), [(5, 35)]);
        a.add(0, 0).unwrap();
        assert_eq!(ranges(&a), [(5, 35)]);
    }

    #[test]
    fn refuses_a_new_range_beyond_the_bound() {
        let mut a = Assembler::new(2);
        a.add(10, 1).unwrap();
        a.add(20, 1).unwrap();
        assert_eq!(a.add(30, 1), Err(TooManyRanges));
        assert_eq!(ranges(&a), [(10, 11), (20, 21)]);
        // Extending or bridging existing ranges is still fine.
        a.add(11, 9).unwrap();
        assert_eq!(ranges(&a), [(10, 21)]);
        a.add(30, 1).unwrap();
    }

    #[test]
    fn in_order_data_is_accepted_even_when_full() {
        // RFC 9293 §3.10.7.4: in-order data is always processed; only
        // out-of-order data may be dropped.
        let mut a = Assembler::new(2);
        a.add(10, 1).unwrap();
        a.add(20, 1).unwrap();
        a.add(0, 5).unwrap();
        assert_eq!(ranges(&a), [(0, 5), (10, 11), (20, 21)]);
        // The front range does not make room for another one.
        assert_eq!(a.add(30, 1), Err(TooManyRanges));
        assert_eq!(a.remove_front(), 5);
        assert_eq!(ranges(&a), [(5, 6), (15, 16)]);
    }

    #[test]
    fn zero_bound_keeps_only_in_order_data() {
        let mut a = Assembler::new(0);
        assert_eq!(a.add(3, 1), Err(TooManyRanges));
        assert!(a.is_empty());
        a.add(0, 4).unwrap();
        assert_eq!(a.remove_front(), 4);
        assert!(a.is_empty());
    }

    #[test]
    fn remove_front_returns_only_a_range_at_offset_zero() {
        let mut a = Assembler::new(4);
        a.add(3, 4).unwrap();
        assert_eq!(a.remove_front(), 0);
        a.add(0, 3).unwrap();
        assert_eq!(a.remove_front(), 7);
        assert!(a.is_empty());
        assert_eq!(a.remove_front(), 0);
    }

    #[test]
    fn advance_shifts_and_trims_ranges_below_the_front() {
        let mut a = Assembler::new(4);
        a.add(2, 2).unwrap();
        a.add(6, 4).unwrap();
        a.add(20, 1).unwrap();
        a.advance(7);
        assert_eq!(ranges(&a), [(0, 3), (13, 14)]);
        assert_eq!(a.remove_front(), 3);
        assert_eq!(ranges(&a), [(10, 11)]);
    }

    #[test]
    fn huge_offsets_saturate_instead_of_overflowing() {
        let mut a = Assembler::new(2);
        a.add(usize::MAX - 1, 10).unwrap();
        assert_eq!(ranges(&a), [(usize::MAX - 1, usize::MAX)]);
        assert!(a.contains(usize::MAX - 1));
        assert!(!a.contains(usize::MAX - 2));
    }

    #[test]
    fn sack_blocks_put_the_most_recent_segment_first() {
        // RFC 2018 §4: the first block must be the one holding the
        // segment that triggered the ACK; the others repeat the most
        // recently reported blocks.
        let mut a = Assembler::new(8);
        a.add(100, 10).unwrap();
        a.add(300, 10).unwrap();
        a.add(500, 10).unwrap();
        a.add(700, 10).unwrap();
        a.add(110, 10).unwrap(); // extends the first range: now most recent
        let rcv_nxt = SeqNumber(u32::MAX - 50); // blocks wrap around 2^32
        let b = a.sack_blocks(rcv_nxt, 3);
        let got: Vec<(u32, u32)> = b.iter().map(|b| (b.left.0, b.right.0)).collect();
        let abs = |o: u32| rcv_nxt.0.wrapping_add(o);
        assert_eq!(
            got,
            [
                (abs(100), abs(120)),
                (abs(700), abs(710)),
                (abs(500), abs(510))
            ]
        );
        assert_eq!(a.sack_blocks(rcv_nxt, 10).len(), 4);
        assert!(a.sack_blocks(rcv_nxt, 0).is_empty());
    }

    #[test]
    fn sack_blocks_skip_a_range_at_the_front() {
        let mut a = Assembler::new(4);
        a.add(50, 5).unwrap();
        a.add(0, 5).unwrap();
        let b = a.sack_blocks(SeqNumber(1000), 4);
        assert_eq!(
            b.as_slice(),
            [SackBlock {
                left: SeqNumber(1050),
                right: SeqNumber(1055)
            }]
        );
    }

    /// Property test: the assembler against a bitmap of received bytes,
    /// under random adds (including refusals at the bound),
    /// front removals and advances.
    #[test]
    fn matches_a_bitmap_model() {
        const N: usize = 96;
        fn model_ranges(bits: &[bool]) -> Vec<(usize, usize)> {
            let mut out = vec![];
            let mut i = 0;
            while i < bits.len() {
                if bits[i] {
                    let s = i;
                    while i < bits.len() && bits[i] {
                        i += 1;
                    }
                    out.push((s, i));
                } else {
                    i += 1;
                }
            }
            out
        }
        let mut rng = SeededRng::new(0x5eed_0002);
        for _ in 0..400 {
            let max = rng.below(6) as usize;
            let mut a = Assembler::new(max);
            let mut bits = vec![false; N];
            for _ in 0..120 {
                match rng.below(6) {
                    0 => {
                        let k = a.remove_front();
                        let lead = bits.iter().take_while(|&&b| b).count();
                        assert_eq!(k, lead);
                        bits.drain(..lead);
                        bits.resize(N, false);
                    }
                    1 => {
                        let k = rng.below(8) as usize;
                        a.advance(k);
                        bits.drain(..k);
                        bits.resize(N, false);
                    }
                    _ => {
                        let off = if rng.below(4) == 0 {
                            0
                        } else {
                            rng.below(60) as usize
                        };
                        let len = rng.below(12) as usize;
                        let mut after = bits.clone();
                        after[off..off + len].iter_mut().for_each(|b| *b = true);
                        let ooo =
                            |bits: &[bool]| model_ranges(bits).iter().filter(|r| r.0 != 0).count();
                        let res = a.add(off, len);
                        if ooo(&after) > max.max(ooo(&bits)) {
                            assert_eq!(res, Err(TooManyRanges));
                        } else {
                            assert_eq!(res, Ok(()));
                            bits = after;
                        }
                    }
                }
                assert_eq!(ranges(&a), model_ranges(&bits));
                assert!(a.out_of_order() <= max);
                for (o, &b) in bits.iter().enumerate() {
                    assert_eq!(a.contains(o), b);
                }
            }
        }
    }

    /// Property test: SACK blocks are valid (non-empty, disjoint, beyond
    /// `rcv_nxt`), each one a range held, and the first always the range
    /// last added to (RFC 2018 §4).
    #[test]
    fn sack_blocks_are_held_ranges_first_the_latest() {
        let mut rng = SeededRng::new(0x5eed_0003);
        for _ in 0..300 {
            let mut a = Assembler::new(6);
            let rcv_nxt = SeqNumber(rng.next_u32());
            for _ in 0..20 {
                let off = 1 + rng.below(200) as usize;
                let len = 1 + rng.below(20) as usize;
                if a.add(off, len).is_err() {
                    continue;
                }
                let blocks = a.sack_blocks(rcv_nxt, 4);
                assert_eq!(blocks.len(), a.len().min(4));
                let held: Vec<(usize, usize)> = a.ranges().collect();
                let first = blocks.as_slice()[0];
                let (s, e) = held
                    .iter()
                    .copied()
                    .find(|&(s, e)| s <= off && off + len <= e)
                    .unwrap();
                assert_eq!(first.left, rcv_nxt + s as u32);
                assert_eq!(first.right, rcv_nxt + e as u32);
                for b in &blocks {
                    let (s, e) = ((b.left - rcv_nxt) as usize, (b.right - rcv_nxt) as usize);
                    assert!(held.contains(&(s, e)));
                }
                for (i, x) in blocks.iter().enumerate() {
                    for y in blocks.iter().skip(i + 1) {
                        assert_ne!(x, y);
                    }
                }
            }
        }
    }

    /// Property test: the receive path of RFC 9293 §3.10.7.4 built from a
    /// [`RingBuffer`](crate::ring::RingBuffer) and an assembler delivers
    /// exactly the sent stream, whatever the order, duplication, overlap
    /// and window clipping of the arriving segments, and whatever the
    /// assembler's bound.
    #[test]
    fn ring_and_assembler_reassemble_any_arrival_order() {
        use crate::ring::RingBuffer;
        let mut rng = SeededRng::new(0x5eed_000b);
        for trial in 0..200u32 {
            let total = 1 + rng.below(3000) as usize;
            let stream: Vec<u8> = (0..total)
                .map(|i| (i as u32).wrapping_mul(31).wrapping_add(trial) as u8)
                .collect();
            let mut ring = RingBuffer::new(16 + rng.below(300) as usize);
            let mut asm = Assembler::new(rng.below(6) as usize);
            let mut delivered: Vec<u8> = Vec::new();
            let mut steps = 0;
            while delivered.len() < total {
                steps += 1;
                assert!(steps < 100_000, "no progress");
                // The receiver's RCV.NXT as a stream offset.
                let rcv_nxt = delivered.len() + ring.len();
                let window = ring.free();
                // A segment somewhere around the window (sometimes exactly
                // at RCV.NXT, so that the transfer progresses).
                let start = if rng.below(3) == 0 {
                    rcv_nxt
                } else {
                    (rcv_nxt + rng.below(window as u32 + 40) as usize).saturating_sub(20)
                }
                .min(total);
                let end = (start + 1 + rng.below(40) as usize).min(total);
                // Trim to [RCV.NXT, RCV.NXT + RCV.WND).
                let s = start.max(rcv_nxt);
                if s < end {
                    let off = s - rcv_nxt;
                    let n = ring.write_at(off, &stream[s..end]);
                    if n > 0 && asm.add(off, n).is_err() {
                        // Dropped: the bytes stay unaccounted in the ring
                        // and will be overwritten.
                    }
                    ring.commit(asm.remove_front());
                }
                // The application reads now and then.
                if rng.below(2) == 0 {
                    let mut buf = [0u8; 64];
                    let want = rng.below(64) as usize;
                    let n = ring.read(&mut buf[..want]);
                    delivered.extend_from_slice(&buf[..n]);
                }
            }
            assert_eq!(delivered, stream);
            assert!(asm.is_empty());
        }
    }
}
