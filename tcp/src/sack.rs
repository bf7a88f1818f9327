//! The sender's SACK scoreboard for loss recovery (RFC 6675), tolerant of
//! D-SACK (RFC 2883).
//!
//! The [`Scoreboard`] records which sequence ranges above `SND.UNA` the
//! receiver has selectively acknowledged (RFC 2018), and answers the three
//! questions of RFC 6675's conservative loss recovery:
//!
//! - [`is_lost`](Scoreboard::is_lost): `IsLost(SeqNum)` (§4);
//! - [`pipe`](Scoreboard::pipe): `SetPipe()`, the bytes still in the
//!   network (§4);
//! - [`next_seg`](Scoreboard::next_seg): `NextSeg()`, what to send next
//!   (§4, rules 1–3), and [`rescue_seg`](Scoreboard::rescue_seg) for the
//!   optional rescue retransmission of rule 4 (whose once-per-recovery
//!   `RescueRxt` state the connection keeps).
//!
//! Conventions: sequence ranges are half-open, `[left, right)` as in the
//! SACK option; `high_rxt` is *one past* the highest octet retransmitted
//! in the current recovery (`SND.UNA` when none was), so "S > HighRxt" of
//! RFC 6675 reads `S >= high_rxt` here.
//!
//! The scoreboard is bounded: at most `max_blocks` disjoint ranges,
//! allocated at creation. A block that would need one more range when the
//! board is full makes the board forget its *highest* range (or the block
//! itself, when that is highest). Forgetting SACK information is always
//! safe — SACK is advisory and the receiver may renege (RFC 2018 §8) — and
//! costs at most a needless retransmission or a smaller `pipe` estimate;
//! the receiver repeats its most recent blocks, so the information
//! usually comes back. Merging ranges instead would mark unsent-to-peer
//! data as received, which could stall the connection.

use alloc::vec::Vec;
use core::fmt;

use crate::seq::SeqNumber;
use crate::wire::SackBlock;

/// What an acknowledgment's SACK blocks changed, from
/// [`Scoreboard::on_ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SackUpdate {
    /// Bytes SACKed by this ACK that were not SACKed before.
    pub newly_sacked: u32,
    /// The first block was a D-SACK (RFC 2883 §4): it reports a duplicate
    /// segment (below the cumulative ACK, or inside the second block), and
    /// was not used for the scoreboard.
    pub dsack: bool,
}

/// Bytes from `from` to `to` (`to` at or after `from`).
#[inline]
fn dist(from: SeqNumber, to: SeqNumber) -> u32 {
    to.0.wrapping_sub(from.0)
}

/// The RFC 6675 sender scoreboard: sorted, disjoint, non-adjacent SACKed
/// ranges above `SND.UNA`, at most `max_blocks` of them.
///
/// ```
/// use lamina_tcp::SeqNumber;
/// use lamina_tcp::sack::Scoreboard;
/// use lamina_tcp::wire::SackBlock;
///
/// let (una, mss) = (SeqNumber(1000), 100);
/// let nxt = una + 1000; // ten segments in flight
/// let mut sb = Scoreboard::new(16);
/// // Segment 0 was lost; segments 1..=3 arrived and were SACKed.
/// let up = sb.on_ack(una, nxt, &[SackBlock { left: una + 100, right: una + 400 }]);
/// assert_eq!(up.newly_sacked, 300);
/// // Three segments SACKed above it: segment 0 is lost (DupThresh 3).
/// assert!(sb.is_lost(una, mss, 3));
/// // In flight: 1000 sent - 300 SACKed - 100 lost.
/// assert_eq!(sb.pipe(una, nxt, una, mss, 3), 600);
/// // Retransmit it first (NextSeg rule 1).
/// assert_eq!(sb.next_seg(una, nxt, una, nxt, mss, 3), Some((una, 100)));
/// ```
#[derive(Clone)]
pub struct Scoreboard {
    ranges: Vec<SackBlock>,
    max: usize,
    sacked: u32,
}

impl Scoreboard {
    /// An empty scoreboard holding at most `max_blocks` disjoint ranges
    /// (storage allocated at the first range, once: most connections never
    /// see a SACK block).
    pub fn new(max_blocks: usize) -> Scoreboard {
        Scoreboard {
            ranges: Vec::new(),
            max: max_blocks,
            sacked: 0,
        }
    }

    /// The bound given to [`new`](Self::new).
    pub fn max_blocks(&self) -> usize {
        self.max
    }

    /// Takes an acknowledgment: ranges at or below `snd_una` (and beyond
    /// `snd_nxt`) are pruned, then the SACK `blocks` recorded.
    ///
    /// A first block below `snd_una` or inside the second block is a
    /// D-SACK (RFC 2883 §4) and is ignored, as is any block that is empty,
    /// ends at or below `snd_una`, or ends beyond `snd_nxt` (the receiver
    /// cannot have data that was never sent; RFC 2018 §3 blocks end at most
    /// at `SND.NXT`); a block straddling `snd_una` counts from `snd_una`.
    /// A block covering data already SACKed adds nothing.
    pub fn on_ack(
        &mut self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        blocks: &[SackBlock],
    ) -> SackUpdate {
        self.prune(snd_una, snd_nxt);
        let dsack = match blocks {
            [first, rest @ ..] => {
                first.right.le(snd_una)
                    || rest.first().is_some_and(|second| {
                        second.left.le(first.left)
                            && first.right.le(second.right)
                            && second.left.lt(second.right)
                    })
            }
            [] => false,
        };
        let mut newly = 0u32;
        for b in blocks.iter().skip(usize::from(dsack)) {
            if !b.left.lt(b.right) || !b.right.gt(snd_una) || b.right.gt(snd_nxt) {
                continue;
            }
            let left = b.left.max(snd_una);
            newly = newly.saturating_add(self.insert(left, b.right));
        }
        SackUpdate {
            newly_sacked: newly,
            dsack,
        }
    }

    /// Forgets what lies at or below `snd_una` or at or beyond `snd_nxt`.
    fn prune(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber) {
        let mut sacked = self.sacked;
        self.ranges.retain_mut(|r| {
            let before = dist(r.left, r.right);
            if r.left.lt(snd_una) {
                r.left = snd_una.min(r.right);
            }
            if r.right.gt(snd_nxt) {
                r.right = snd_nxt.max(r.left);
            }
            let after = if r.left.lt(r.right) {
                dist(r.left, r.right)
            } else {
                0
            };
            sacked = sacked.saturating_sub(before.saturating_sub(after));
            after > 0
        });
        self.sacked = sacked;
    }

    /// Records `[left, right)` (non-empty, above `SND.UNA`); returns the
    /// bytes newly covered.
    fn insert(&mut self, left: SeqNumber, right: SeqNumber) -> u32 {
        // First range touching or after the block; first range after it
        // without touching.
        let i = self.ranges.partition_point(|r| r.right.lt(left));
        let j = self.ranges.partition_point(|r| r.left.le(right));
        if i >= j {
            if self.ranges.len() >= self.max {
                // Full: forget the highest range, or the block if highest.
                match self.ranges.last() {
                    Some(last) if last.left.gt(left) => {
                        self.sacked = self.sacked.saturating_sub(dist(last.left, last.right));
                        self.ranges.pop();
                    }
                    _ => return 0,
                }
            }
            let n = dist(left, right);
            // `i` is within bounds for consistent sequence numbers; the
            // clamp only guards against a caller's inconsistent ones.
            let i = i.min(self.ranges.len());
            if self.ranges.capacity() == 0 {
                self.ranges.reserve_exact(self.max);
            }
            self.ranges.insert(i, SackBlock { left, right });
            self.sacked = self.sacked.saturating_add(n);
            return n;
        }
        let old: u32 = self
            .ranges
            .get(i..j)
            .unwrap_or_default()
            .iter()
            .fold(0u32, |acc, r| acc.saturating_add(dist(r.left, r.right)));
        let last_right = self.ranges.get(j - 1).map_or(right, |r| r.right);
        let Some(first) = self.ranges.get_mut(i) else {
            return 0;
        };
        first.left = first.left.min(left);
        first.right = last_right.max(right);
        let merged = dist(first.left, first.right);
        self.ranges.drain(i + 1..j);
        self.sacked = self.sacked.saturating_sub(old).saturating_add(merged);
        merged.saturating_sub(old)
    }

    /// Whether the octet `seq` has been SACKed.
    pub fn is_sacked(&self, seq: SeqNumber) -> bool {
        let i = self.ranges.partition_point(|r| r.right.le(seq));
        self.ranges.get(i).is_some_and(|r| r.left.le(seq))
    }

    /// RFC 6675 §4 `IsLost(SeqNum)`: whether `dupthresh` (at least 1)
    /// discontiguous SACKed ranges lie above `seq`, or more than
    /// `(dupthresh - 1) * mss` SACKed bytes have sequence numbers greater
    /// than `seq`.
    pub fn is_lost(&self, seq: SeqNumber, mss: u32, dupthresh: u32) -> bool {
        let dupthresh = dupthresh.max(1);
        let above = seq + 1;
        let mut count = 0u32;
        let mut bytes = 0u64;
        for r in self.ranges.iter().rev() {
            if !r.right.gt(above) {
                break;
            }
            if r.left.gt(seq) {
                count += 1;
            }
            bytes += u64::from(dist(r.left.max(above), r.right));
        }
        count >= dupthresh || bytes > u64::from(dupthresh - 1) * u64::from(mss)
    }

    /// The point below which every octet not SACKed is lost: `IsLost(s)`
    /// holds exactly for `s` before it. `None` when nothing is lost.
    fn lost_boundary(&self, mss: u32, dupthresh: u32) -> Option<SeqNumber> {
        let dupthresh = dupthresh.max(1);
        // By count: lost iff before the left edge of the dupthresh-th
        // highest range.
        let by_count = self
            .ranges
            .len()
            .checked_sub(dupthresh as usize)
            .and_then(|k| self.ranges.get(k))
            .map(|r| r.left);
        // By bytes: the highest s with more than T SACKed bytes above it.
        let t = u64::from(dupthresh - 1) * u64::from(mss);
        let mut b = 0u64;
        let mut by_bytes = None;
        for r in self.ranges.iter().rev() {
            let len = u64::from(dist(r.left, r.right));
            if b + len > t {
                // bytes_above(s) = b + (right - 1 - s) > t  ⟺  s < right - 1 - (t - b).
                by_bytes = Some(r.right - 1 - (t - b) as u32);
                break;
            }
            b += len;
        }
        match (by_count, by_bytes) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// SACKed bytes within `[from, to)` (`from` at or before `to`).
    fn sacked_within(&self, from: SeqNumber, to: SeqNumber) -> u32 {
        let mut n = 0;
        for r in &self.ranges {
            let (l, h) = (r.left.max(from), r.right.min(to));
            if l.lt(h) {
                n = dist(l, h).saturating_add(n);
            }
        }
        n
    }

    /// Bytes of `[from, to)` not SACKed (0 when `to` is not after `from`).
    fn unsacked_within(&self, from: SeqNumber, to: SeqNumber) -> u32 {
        if from.lt(to) {
            dist(from, to).saturating_sub(self.sacked_within(from, to))
        } else {
            0
        }
    }

    /// RFC 6675 §4 `SetPipe()`: the sender's estimate of the bytes in the
    /// network. Every octet of `[snd_una, snd_nxt)` not SACKed counts once
    /// if it is not lost ([`is_lost`](Self::is_lost)) and once more if it
    /// was retransmitted (before `high_rxt`).
    pub fn pipe(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        mss: u32,
        dupthresh: u32,
    ) -> u32 {
        if !snd_una.lt(snd_nxt) {
            return 0;
        }
        let in_flight_from = match self.lost_boundary(mss, dupthresh) {
            Some(l) => l.max(snd_una).min(snd_nxt),
            None => snd_una,
        };
        let rxt_to = high_rxt.max(snd_una).min(snd_nxt);
        self.unsacked_within(in_flight_from, snd_nxt)
            .saturating_add(self.unsacked_within(snd_una, rxt_to))
    }

    /// RFC 6675 §4 `NextSeg()`, rules 1–3: the next `(seq, len)` to send,
    /// `len` at most `mss`, given that data up to `new_data_end` may be
    /// sent (the end of the buffered data, further limited by the
    /// receiver's window).
    ///
    /// 1. The first octet not SACKed, at or after `high_rxt`, below the
    ///    highest SACKed octet, and lost: a retransmission up to the next
    ///    SACKed range.
    /// 2. Otherwise new data from `snd_nxt`, if any may be sent.
    /// 3. Otherwise the octet of rule 1 even though not yet deemed lost.
    pub fn next_seg(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        new_data_end: SeqNumber,
        mss: u32,
        dupthresh: u32,
    ) -> Option<(SeqNumber, u32)> {
        let mss = mss.max(1);
        let hole = self.first_hole(high_rxt.max(snd_una), snd_nxt);
        // Rule 1.
        if let Some((s, len)) = hole
            && self.lost_boundary(mss, dupthresh).is_some_and(|l| s.lt(l))
        {
            return Some((s, len.min(mss)));
        }
        // Rule 2.
        if snd_nxt.lt(new_data_end) {
            return Some((snd_nxt, dist(snd_nxt, new_data_end).min(mss)));
        }
        // Rule 3.
        hole.map(|(s, len)| (s, len.min(mss)))
    }

    /// RFC 6675 §4 `NextSeg()` rule 4, the optional rescue
    /// retransmission: up to `mss` octets ending with the highest
    /// outstanding octet not SACKed (below `snd_nxt`), for when rules 1–3
    /// return nothing during recovery. The connection keeps `RescueRxt`:
    /// it may send this once per recovery, when `SND.UNA` has passed the
    /// previous `RescueRxt` (or none was sent), then sets `RescueRxt` to
    /// the recovery point, and does not move `high_rxt` for it. `None` when
    /// every outstanding octet is SACKed or nothing is outstanding.
    pub fn rescue_seg(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        mss: u32,
    ) -> Option<(SeqNumber, u32)> {
        let mss = mss.max(1);
        // Walk down from SND.NXT past the SACKed ranges touching the top.
        let mut end = snd_nxt;
        let mut start = snd_una;
        for r in self.ranges.iter().rev() {
            if r.right.gt(end) && r.left.lt(end) {
                end = r.left;
            } else if r.right.le(end) {
                if r.right == end {
                    end = r.left;
                    continue;
                }
                start = r.right;
                break;
            }
        }
        if !snd_una.lt(end) {
            return None;
        }
        let start = start.max(snd_una).max(end - mss);
        Some((start, dist(start, end)))
    }

    /// The first run of octets not SACKed at or after `from`, below the
    /// highest SACKed octet and below `snd_nxt`: `(start, length)`.
    fn first_hole(&self, from: SeqNumber, snd_nxt: SeqNumber) -> Option<(SeqNumber, u32)> {
        let mut s = from;
        for r in &self.ranges {
            if r.right.le(s) {
                continue;
            }
            if r.left.le(s) {
                s = r.right;
                continue;
            }
            // s lies in the gap before r.
            let end = r.left.min(snd_nxt);
            return s.lt(end).then(|| (s, dist(s, end)));
        }
        None
    }

    /// One past the highest SACKed octet, if any is SACKed.
    pub fn highest_sacked(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|r| r.right)
    }

    /// The total of SACKed bytes.
    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    /// Whether nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The number of disjoint SACKed ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The SACKed ranges, `[left, right)`, in sequence order.
    pub fn ranges(&self) -> impl Iterator<Item = SackBlock> + '_ {
        self.ranges.iter().copied()
    }

    /// Forgets everything (after a retransmission timeout the sender must
    /// not trust SACK information, RFC 2018 §8 and RFC 6675 §5.1), keeping
    /// the allocation.
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.sacked = 0;
    }
}

impl fmt::Debug for Scoreboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoreboard")
            .field("max_blocks", &self.max)
            .field("sacked", &self.sacked)
            .field("ranges", &self.ranges.as_slice())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use lamina_netbuf::{Rng, SeededRng};

    fn blk(una: SeqNumber, l: u32, r: u32) -> SackBlock {
        SackBlock {
            left: una + l,
            right: una + r,
        }
    }

    fn offsets(sb: &Scoreboard, una: SeqNumber) -> Vec<(u32, u32)> {
        sb.ranges()
            .map(|b| (dist(una, b.left), dist(una, b.right)))
            .collect()
    }

    const UNA: SeqNumber = SeqNumber(u32::MAX - 500); // wraps within the window

    #[test]
    fn records_and_merges_sack_blocks() {
        // RFC 2018 §3-4: each block is a contiguous received range.
        let nxt = UNA + 2000;
        let mut sb = Scoreboard::new(8);
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 100, 200), blk(UNA, 300, 400)]);
        assert_eq!(
            up,
            SackUpdate {
                newly_sacked: 200,
                dsack: false
            }
        );
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 150, 350)]);
        assert_eq!(up.newly_sacked, 100);
        assert_eq!(offsets(&sb, UNA), [(100, 400)]);
        assert_eq!(sb.sacked_bytes(), 300);
        assert!(sb.is_sacked(UNA + 100) && sb.is_sacked(UNA + 399));
        assert!(!sb.is_sacked(UNA + 400) && !sb.is_sacked(UNA + 99));
        assert_eq!(sb.highest_sacked(), Some(UNA + 400));
    }

    #[test]
    fn cumulative_ack_prunes_ranges_below_snd_una() {
        let nxt = UNA + 2000;
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 200), blk(UNA, 300, 400)]);
        let una = UNA + 150;
        let up = sb.on_ack(una, nxt, &[]);
        assert_eq!(up.newly_sacked, 0);
        assert_eq!(offsets(&sb, UNA), [(150, 200), (300, 400)]);
        assert_eq!(sb.sacked_bytes(), 150);
        sb.on_ack(UNA + 400, nxt, &[]);
        assert!(sb.is_empty());
        assert_eq!(sb.sacked_bytes(), 0);
        assert_eq!(sb.highest_sacked(), None);
    }

    #[test]
    fn ignores_blocks_outside_the_window() {
        // RFC 2018 §3 blocks lie within (SND.UNA, SND.NXT]; anything else
        // is bogus or stale.
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        let up = sb.on_ack(
            UNA,
            nxt,
            &[
                blk(UNA, 10, 20),    // valid
                blk(UNA, 900, 1100), // beyond SND.NXT
                blk(UNA, 500, 500),  // empty
                blk(UNA, 700, 600),  // inverted
                SackBlock {
                    left: UNA - 50,
                    right: UNA + 30,
                }, // straddles SND.UNA
            ],
        );
        assert_eq!(up.newly_sacked, 30);
        assert_eq!(offsets(&sb, UNA), [(0, 30)]);
    }

    #[test]
    fn recognises_dsack_below_the_cumulative_ack() {
        // RFC 2883 §4: a first block at or below the ACK is a D-SACK.
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        let up = sb.on_ack(
            UNA,
            nxt,
            &[
                SackBlock {
                    left: UNA - 100,
                    right: UNA,
                },
                blk(UNA, 200, 300),
            ],
        );
        assert_eq!(
            up,
            SackUpdate {
                newly_sacked: 100,
                dsack: true
            }
        );
        assert_eq!(offsets(&sb, UNA), [(200, 300)]);
    }

    #[test]
    fn recognises_dsack_inside_the_second_block() {
        // RFC 2883 §4: a first block contained in the second is a D-SACK
        // of data above the ACK; it changes nothing.
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 200, 400)]);
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 250, 300), blk(UNA, 200, 400)]);
        assert_eq!(
            up,
            SackUpdate {
                newly_sacked: 0,
                dsack: true
            }
        );
        // An already-SACKed single block is simply no news.
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 250, 300)]);
        assert_eq!(
            up,
            SackUpdate {
                newly_sacked: 0,
                dsack: false
            }
        );
        assert_eq!(sb.sacked_bytes(), 200);
    }

    #[test]
    fn full_board_forgets_its_highest_range() {
        let nxt = UNA + 10_000;
        let mut sb = Scoreboard::new(2);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 200), blk(UNA, 300, 400)]);
        // Higher than everything held: dropped.
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 500, 600)]);
        assert_eq!(up.newly_sacked, 0);
        assert_eq!(offsets(&sb, UNA), [(100, 200), (300, 400)]);
        // Lower: the highest range makes room.
        let up = sb.on_ack(UNA, nxt, &[blk(UNA, 10, 20)]);
        assert_eq!(up.newly_sacked, 10);
        assert_eq!(offsets(&sb, UNA), [(10, 20), (100, 200)]);
        assert_eq!(sb.sacked_bytes(), 110);
        // Merging still works when full.
        sb.on_ack(UNA, nxt, &[blk(UNA, 20, 100)]);
        assert_eq!(offsets(&sb, UNA), [(10, 200)]);
        let mut none = Scoreboard::new(0);
        assert_eq!(none.on_ack(UNA, nxt, &[blk(UNA, 1, 2)]).newly_sacked, 0);
        assert!(none.is_empty());
    }

    #[test]
    fn is_lost_needs_dupthresh_segments_sacked_above() {
        // RFC 6675 §4 IsLost: DupThresh discontiguous SACKed sequences, or
        // more than (DupThresh - 1) * SMSS SACKed bytes, above SeqNum.
        let nxt = UNA + 5000;
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 300)]); // two segments of 100
        assert!(!sb.is_lost(UNA, 100, 3));
        sb.on_ack(UNA, nxt, &[blk(UNA, 300, 301)]); // 201 bytes > 200
        assert!(sb.is_lost(UNA, 100, 3));
        // Three discontiguous tiny ranges also suffice.
        let mut sb = Scoreboard::new(8);
        sb.on_ack(
            UNA,
            nxt,
            &[blk(UNA, 100, 101), blk(UNA, 200, 201), blk(UNA, 300, 301)],
        );
        assert!(sb.is_lost(UNA, 1000, 3));
        assert!(!sb.is_lost(UNA + 101, 1000, 3));
    }

    #[test]
    fn pipe_counts_unsacked_unlost_and_retransmitted_bytes() {
        // RFC 6675 §4 SetPipe, with 10 segments of 100 bytes: 0 and 4 lost
        // (holes with 3+ segments SACKed above), 1-3 and 5-7 SACKed, 8-9
        // not SACKed and not lost.
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 400), blk(UNA, 500, 800)]);
        assert_eq!(sb.pipe(UNA, nxt, UNA, 100, 3), 200);
        // After retransmitting segment 0, it counts once more.
        assert_eq!(sb.pipe(UNA, nxt, UNA + 100, 100, 3), 300);
        // And segment 4 as well (the SACKed octets between are not counted).
        assert_eq!(sb.pipe(UNA, nxt, UNA + 500, 100, 3), 400);
        // Without SACK information the whole flight is in the pipe.
        assert_eq!(Scoreboard::new(4).pipe(UNA, nxt, UNA, 100, 3), 1000);
    }

    #[test]
    fn next_seg_retransmits_lost_holes_then_sends_new_data() {
        // RFC 6675 §4 NextSeg: rule 1 (lost holes above HighRxt), then rule
        // 2 (new data), then rule 3 (holes not yet deemed lost).
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 400), blk(UNA, 500, 800)]);
        let seg =
            |high_rxt: u32, end: u32| sb.next_seg(UNA, nxt, UNA + high_rxt, UNA + end, 100, 3);
        assert_eq!(seg(0, 1000), Some((UNA, 100)));
        assert_eq!(seg(100, 1000), Some((UNA + 400, 100)));
        // Both holes retransmitted: new data, at most one MSS.
        assert_eq!(seg(500, 2000), Some((nxt, 100)));
        assert_eq!(seg(500, 1050), Some((nxt, 50)));
        // No new data and both holes retransmitted: the unSACKed tail
        // above the highest SACKed octet is not a hole, so nothing.
        assert_eq!(seg(500, 1000), None);
        // Rule 3: a hole not yet lost, when no new data may be sent.
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 100, 200)]);
        assert_eq!(
            sb.next_seg(UNA, nxt, UNA, UNA + 2000, 100, 3),
            Some((nxt, 100))
        );
        assert_eq!(sb.next_seg(UNA, nxt, UNA, nxt, 100, 3), Some((UNA, 100)));
        // A hole smaller than an MSS is sent alone.
        let mut sb = Scoreboard::new(8);
        sb.on_ack(UNA, nxt, &[blk(UNA, 30, 400)]);
        assert_eq!(sb.next_seg(UNA, nxt, UNA, nxt, 100, 3), Some((UNA, 30)));
    }

    #[test]
    fn rescue_seg_ends_with_the_highest_unsacked_octet() {
        // RFC 6675 §4 NextSeg rule 4: at most one SMSS, and it must
        // cover the highest outstanding octet not SACKed.
        let nxt = UNA + 1000;
        let mut sb = Scoreboard::new(8);
        assert_eq!(sb.rescue_seg(UNA, nxt, 100), Some((nxt - 100, 100)));
        sb.on_ack(UNA, nxt, &[blk(UNA, 900, 1000), blk(UNA, 700, 850)]);
        assert_eq!(sb.rescue_seg(UNA, nxt, 100), Some((UNA + 850, 50)));
        sb.on_ack(UNA, nxt, &[blk(UNA, 850, 900)]);
        assert_eq!(sb.rescue_seg(UNA, nxt, 100), Some((UNA + 600, 100)));
        sb.on_ack(UNA, nxt, &[blk(UNA, 0, 700)]);
        assert_eq!(sb.rescue_seg(UNA, nxt, 100), None);
        assert_eq!(Scoreboard::new(2).rescue_seg(UNA, UNA, 100), None);
    }

    /// Property test: the scoreboard against a bitmap of SACKed octets,
    /// with the bound large enough never to drop; `newly_sacked` and
    /// `sacked_bytes` are exact.
    #[test]
    fn matches_a_bitmap_model() {
        const W: u32 = 300;
        let mut rng = SeededRng::new(0x5eed_0007);
        for _ in 0..300 {
            let mut una = SeqNumber(rng.next_u32());
            let mut sb = Scoreboard::new(W as usize);
            let mut bits = vec![false; W as usize]; // octet una + i
            for _ in 0..40 {
                let adv = if rng.below(4) == 0 { rng.below(40) } else { 0 };
                una += adv;
                bits.drain(..adv as usize);
                bits.resize(W as usize, false);
                let nxt = una + W;
                let mut blocks = [SackBlock::default(); 4];
                let n = rng.below(5) as usize;
                for b in blocks.iter_mut().take(n) {
                    let l = rng.below(W + 60) as i64 - 30;
                    let r = l + rng.below(60) as i64 - 5;
                    *b = SackBlock {
                        left: una + l as u32,
                        right: una + r as u32,
                    };
                }
                let blocks = &blocks[..n];
                let before = bits.iter().filter(|&&b| b).count() as u32;
                let up = sb.on_ack(una, nxt, blocks);
                for b in blocks.iter().skip(usize::from(up.dsack)) {
                    let (l, r) = (b.left.diff(una) as i64, b.right.diff(una) as i64);
                    if l < r && r > 0 && r <= i64::from(W) {
                        for i in l.max(0)..r {
                            bits[i as usize] = true;
                        }
                    }
                }
                let after = bits.iter().filter(|&&b| b).count() as u32;
                assert_eq!(up.newly_sacked, after - before);
                assert_eq!(sb.sacked_bytes(), after);
                for (i, &b) in bits.iter().enumerate() {
                    assert_eq!(sb.is_sacked(una + i as u32), b);
                }
            }
        }
    }

    /// Property test: with a small bound the board holds at most
    /// `max_blocks` ranges, and never claims an octet SACKed that the
    /// receiver did not SACK (forgetting is the only approximation).
    #[test]
    fn bounded_board_only_forgets() {
        const W: u32 = 400;
        let mut rng = SeededRng::new(0x5eed_0008);
        for _ in 0..300 {
            let max = rng.below(5) as usize;
            let una = SeqNumber(rng.next_u32());
            let nxt = una + W;
            let mut sb = Scoreboard::new(max);
            let mut bits = vec![false; W as usize];
            for _ in 0..30 {
                let l = rng.below(W - 1);
                let r = (l + 1 + rng.below(30)).min(W);
                sb.on_ack(
                    una,
                    nxt,
                    &[SackBlock {
                        left: una + l,
                        right: una + r,
                    }],
                );
                bits[l as usize..r as usize]
                    .iter_mut()
                    .for_each(|b| *b = true);
                assert!(sb.len() <= max);
                let mut total = 0;
                for i in 0..W {
                    if sb.is_sacked(una + i) {
                        assert!(bits[i as usize]);
                        total += 1;
                    }
                }
                assert_eq!(sb.sacked_bytes(), total);
            }
        }
    }

    /// Property test: `pipe` and `next_seg` agree with the octet-by-octet
    /// definitions of RFC 6675 §4 evaluated with `is_lost`/`is_sacked`.
    #[test]
    fn pipe_and_next_seg_match_the_octet_definitions() {
        let mut rng = SeededRng::new(0x5eed_0009);
        for _ in 0..400 {
            let una = SeqNumber(rng.next_u32());
            let flight = 1 + rng.below(600);
            let nxt = una + flight;
            let mss = 1 + rng.below(120);
            let dupthresh = 1 + rng.below(4);
            let mut sb = Scoreboard::new(16);
            for _ in 0..rng.below(8) {
                let l = rng.below(flight);
                let r = (l + 1 + rng.below(100)).min(flight);
                sb.on_ack(
                    una,
                    nxt,
                    &[SackBlock {
                        left: una + l,
                        right: una + r,
                    }],
                );
            }
            let high_rxt = una + rng.below(flight + 1);
            let new_end = una + flight + rng.below(2) * rng.below(300);

            let mut pipe = 0;
            for i in 0..flight {
                let s = una + i;
                if sb.is_sacked(s) {
                    continue;
                }
                if !sb.is_lost(s, mss, dupthresh) {
                    pipe += 1;
                }
                if s.lt(high_rxt) {
                    pipe += 1;
                }
            }
            assert_eq!(sb.pipe(una, nxt, high_rxt, mss, dupthresh), pipe);

            // NextSeg by brute force.
            let highest = sb.highest_sacked();
            let hole = (dist(una, high_rxt)..flight)
                .map(|i| una + i)
                .find(|&s| !sb.is_sacked(s) && highest.is_some_and(|h| s.lt(h)));
            let hole_len = |s: SeqNumber| {
                let mut n = 0;
                while n < mss && (s + n).lt(nxt) && !sb.is_sacked(s + n) {
                    n += 1;
                }
                n
            };
            let expect = match hole {
                Some(s) if sb.is_lost(s, mss, dupthresh) => Some((s, hole_len(s))),
                _ if nxt.lt(new_end) => Some((nxt, dist(nxt, new_end).min(mss))),
                Some(s) => Some((s, hole_len(s))),
                None => None,
            };
            assert_eq!(
                sb.next_seg(una, nxt, high_rxt, new_end, mss, dupthresh),
                expect
            );

            // Rule 4 by brute force: the highest unSACKed octet, and the
            // unSACKed run of at most one MSS ending with it.
            let top = (0..flight)
                .rev()
                .map(|i| una + i)
                .find(|&s| !sb.is_sacked(s));
            let rescue = top.map(|t| {
                let mut start = t;
                while dist(start, t) + 1 < mss && start != una && !sb.is_sacked(start - 1) {
                    start -= 1;
                }
                (start, dist(start, t) + 1)
            });
            assert_eq!(sb.rescue_seg(una, nxt, mss), rescue);
        }
    }

    /// Property test: RFC 6675 loss recovery driven by this scoreboard
    /// repairs loss patterns without a timeout. A sender keeps `SetPipe()`
    /// below a fixed cwnd at all times (so the first duplicate ACKs release
    /// new data, as RFC 6675 §5 step (C) — Limited Transmit — requires),
    /// enters recovery when `IsLost(SND.UNA)`, and in recovery sends what
    /// `next_seg` says; a receiver built on the
    /// [`Assembler`](crate::assembler::Assembler) answers every segment
    /// with a cumulative ACK and up to three SACK blocks (RFC 2018 §4).
    /// Original transmissions are lost at random, but each loss is followed
    /// by at least three delivered segments (what DupThresh needs; a loss
    /// with fewer behind it is a case for the RTO), and retransmissions
    /// get through. The transfer must complete with the ACK clock never
    /// stopping, and (without reordering) every rule-1 retransmission must
    /// repair a segment that really was lost.
    #[test]
    fn recovery_repairs_random_losses_without_timeouts() {
        simulate_recovery(0x5eed_000c, 16, true);
    }

    /// The same with a scoreboard too small for the loss pattern: it
    /// forgets SACKed ranges, which may cost needless retransmissions but
    /// must neither stall the ACK clock nor lose data.
    #[test]
    fn bounded_scoreboard_still_completes_recovery() {
        simulate_recovery(0x5eed_0010, 1, false);
        simulate_recovery(0x5eed_0011, 3, false);
    }

    /// The simulation of the two tests above: `board` ranges in the
    /// sender's scoreboard; `exact` checks every rule-1 retransmission.
    fn simulate_recovery(seed: u64, board: usize, exact: bool) {
        use crate::assembler::Assembler;
        use crate::wire::SackBlocks;
        const MSS: u32 = 100;
        const DUPTHRESH: u32 = 3;
        let mut rng = SeededRng::new(seed);
        let mut total_losses = 0;
        for _ in 0..300 {
            let segs = 5 + rng.below(80);
            let total = segs * MSS;
            let cwnd = MSS * (4 + rng.below(20));
            let loss_pct = 1 + rng.below(40);
            let mut lost = vec![false; segs as usize];
            for k in 0..segs.saturating_sub(3) as usize {
                let recent = lost[k.saturating_sub(3)..k].iter().any(|&l| l);
                lost[k] = !recent && rng.below(100) < loss_pct;
            }
            total_losses += lost.iter().filter(|&&l| l).count();
            let isn = SeqNumber(rng.next_u32());
            let at = |o: u32| isn + o;

            // Receiver.
            let mut rcv_nxt = 0u32;
            let mut asm = Assembler::new(16);
            let mut received = vec![false; segs as usize];
            // Sender.
            let (mut una, mut nxt, mut high_rxt) = (0u32, 0u32, 0u32);
            let mut recovery: Option<u32> = None;
            let mut sb = Scoreboard::new(board);

            // Segments on the wire: (start, len, retransmission).
            let mut wire: Vec<(u32, u32, bool)> = Vec::new();
            let mut acks: Vec<(u32, SackBlocks)> = Vec::new();
            let mut first = true;
            let mut rounds = 0;
            loop {
                // Sender: each ACK of the last round, then send.
                let events = if first { 1 } else { acks.len() };
                let mut pending = acks.drain(..);
                for _ in 0..events {
                    if let Some((ack, blocks)) = pending.next() {
                        una = una.max(ack);
                        sb.on_ack(at(una), at(nxt), blocks.as_slice());
                    }
                    high_rxt = high_rxt.max(una);
                    if recovery.is_some_and(|rp| una >= rp) {
                        recovery = None;
                    }
                    if recovery.is_none() && una < nxt && sb.is_lost(at(una), MSS, DUPTHRESH) {
                        recovery = Some(nxt);
                    }
                    loop {
                        let pipe = sb.pipe(at(una), at(nxt), at(high_rxt), MSS, DUPTHRESH);
                        let seg = if recovery.is_some() {
                            sb.next_seg(at(una), at(nxt), at(high_rxt), at(total), MSS, DUPTHRESH)
                        } else {
                            (nxt < total).then(|| (at(nxt), (total - nxt).min(MSS)))
                        };
                        let Some((start, len)) = seg else { break };
                        if pipe + len > cwnd {
                            break;
                        }
                        let start = dist(isn, start);
                        if start < nxt {
                            if exact && sb.is_lost(at(start), MSS, DUPTHRESH) {
                                let k = (start / MSS) as usize;
                                assert!(!received[k], "spurious rule-1 retransmission");
                            }
                            high_rxt = high_rxt.max(start + len);
                            wire.push((start, len, true));
                        } else {
                            nxt = start + len;
                            wire.push((start, len, false));
                        }
                    }
                }
                drop(pending);
                first = false;
                if una == total {
                    break;
                }
                rounds += 1;
                assert!(rounds < 1000, "recovery stalled");
                assert!(
                    !wire.is_empty(),
                    "ACK clock stopped: una {una} nxt {nxt} high_rxt {high_rxt} cwnd {cwnd} sb {:?}",
                    offsets(&sb, isn)
                );
                // Network and receiver.
                for (start, len, rxt) in wire.drain(..) {
                    let k = (start / MSS) as usize;
                    if !rxt && lost[k] {
                        continue;
                    }
                    received[k] = true;
                    let end = start + len;
                    if end > rcv_nxt {
                        let s = start.max(rcv_nxt);
                        let _ = asm.add((s - rcv_nxt) as usize, (end - s) as usize);
                        rcv_nxt += asm.remove_front() as u32;
                    }
                    acks.push((rcv_nxt, asm.sack_blocks(at(rcv_nxt), 3)));
                }
            }
            assert_eq!(rcv_nxt, total);
        }
        assert!(total_losses > 500, "{total_losses}");
    }

    /// Property test (a fuzz stand-in): arbitrary, even inconsistent,
    /// `snd_una`/`snd_nxt`/`high_rxt` and blocks never panic, and the
    /// board stays within its bound.
    #[test]
    fn arbitrary_inputs_never_panic() {
        let mut rng = SeededRng::new(0x5eed_000f);
        for _ in 0..300 {
            let max = rng.below(6) as usize;
            let mut sb = Scoreboard::new(max);
            let base = rng.next_u32();
            let near = |rng: &mut SeededRng| {
                if rng.below(3) == 0 {
                    SeqNumber(rng.next_u32())
                } else {
                    SeqNumber(base.wrapping_add(rng.below(4000)))
                }
            };
            for _ in 0..50 {
                let (una, nxt, hr) = (near(&mut rng), near(&mut rng), near(&mut rng));
                let mut blocks = [SackBlock::default(); 4];
                for b in &mut blocks {
                    *b = SackBlock {
                        left: near(&mut rng),
                        right: near(&mut rng),
                    };
                }
                let n = rng.below(5) as usize;
                sb.on_ack(una, nxt, &blocks[..n]);
                assert!(sb.len() <= max);
                let mss = rng.below(3000);
                let dt = rng.below(5);
                let _ = sb.pipe(una, nxt, hr, mss, dt);
                let _ = sb.next_seg(una, nxt, hr, near(&mut rng), mss, dt);
                let _ = sb.rescue_seg(una, nxt, mss);
                let _ = sb.is_lost(near(&mut rng), mss, dt);
                let _ = sb.is_sacked(near(&mut rng));
            }
        }
    }
}
