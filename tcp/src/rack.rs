//! RACK: time-based loss detection (RFC 8985 §6).
//!
//! Duplicate-ACK counting (RFC 6675's DupThresh) sees a loss only when
//! enough data above it was SACKed, and never sees a lost retransmission:
//! that waits for the retransmission timeout, which costs a whole window.
//! RACK instead remembers when each segment was (last) sent: once a
//! segment sent *later* than another has been delivered, and a reordering
//! window has passed, the earlier one is lost, whether it is original data
//! or a retransmission.
//!
//! [`Rack`] keeps that per-segment log, bounded to `capacity` entries (a
//! segment sent when the log is full is simply not tracked: RACK will not
//! declare it lost, the duplicate-ACK rule and the retransmission timer
//! still do).
//!
//! ```
//! use lamina_netbuf::{Duration, Instant};
//! use lamina_tcp::SeqNumber;
//! use lamina_tcp::rack::Rack;
//! use lamina_tcp::wire::SackBlock;
//!
//! let t0 = Instant::from_millis(1000);
//! let mut rack = Rack::new(64);
//! // Three segments of 100 bytes, sent 1 ms apart.
//! for i in 0..3u32 {
//!     let start = SeqNumber(100 * i);
//!     rack.on_send(start, start + 100, t0 + Duration::from_millis(u64::from(i)), false);
//! }
//! // 20 ms later the third is SACKed, the first two are not.
//! let now = t0 + Duration::from_millis(22);
//! let sack = [SackBlock { left: SeqNumber(200), right: SeqNumber(300) }];
//! rack.on_ack(SeqNumber(0), &sack, now);
//! // Sent before a delivered segment, but the reordering window (a
//! // quarter of the 20 ms RTT) has not passed yet: a timer is armed.
//! let srtt = Some(Duration::from_millis(20));
//! assert!(!rack.detect_loss(now, srtt, false));
//! let at = rack.timer().unwrap();
//! assert_eq!(at, t0 + Duration::from_millis(25));
//! // When it fires the first is lost, and the second is due 1 ms later.
//! assert!(rack.detect_loss(at, srtt, false));
//! assert_eq!(rack.next_lost(), Some((SeqNumber(0), 100)));
//! assert_eq!(rack.timer(), Some(t0 + Duration::from_millis(26)));
//! assert!(rack.detect_loss(t0 + Duration::from_millis(26), srtt, false));
//! assert_eq!(rack.lost_bytes(), 200);
//! ```

use alloc::collections::VecDeque;

use lamina_netbuf::{Duration, Instant};

use crate::seq::SeqNumber;
use crate::wire::SackBlock;

const SACKED: u8 = 1;
const LOST: u8 = 2;
const RETRANS: u8 = 4;

/// Marked lost and not retransmitted since: due for retransmission, and
/// not in flight.
fn pending(flags: u8) -> bool {
    flags & (SACKED | LOST | RETRANS) == LOST
}

/// RFC 8985 §6.2 step 4: the reordering window grows by one quarter of
/// the minimum RTT per round with a D-SACK, up to this many quarters.
const MAX_REO_WND_MULT: u32 = 16;
/// RFC 8985 §6.2 step 4: after this many loss recoveries without another
/// D-SACK the multiplier returns to one.
const REO_WND_PERSIST: u32 = 16;

/// One segment as sent: its sequence range and when it left last.
#[derive(Debug, Clone, Copy)]
struct Sent {
    start: SeqNumber,
    end: SeqNumber,
    at: Instant,
    flags: u8,
}

impl Sent {
    fn len(&self) -> u32 {
        self.end.0.wrapping_sub(self.start.0)
    }
}

/// The RACK state of one connection's sender (RFC 8985 §5.2), with the
/// log of segments in flight it needs.
#[derive(Debug, Clone)]
pub struct Rack {
    log: VecDeque<Sent>,
    capacity: usize,
    /// RACK.xmit_ts / RACK.end_seq: the latest-sent delivered segment.
    xmit_ts: Option<Instant>,
    end_seq: SeqNumber,
    /// RACK.rtt: that segment's round trip.
    rtt: Duration,
    min_rtt: Option<Duration>,
    /// RACK.fack: the highest end of a delivered segment.
    fack: SeqNumber,
    reordering_seen: bool,
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    /// A D-SACK round ends when SND.UNA passes this.
    dsack_round: Option<SeqNumber>,
    lost_bytes: u32,
    lost_count: u32,
    /// Some data in flight was sent while the log was full.
    untracked: bool,
    /// RFC 8985 §6.3: when the reordering timer fires.
    timer: Option<Instant>,
}

impl Rack {
    /// An empty log tracking at most `capacity` segments in flight
    /// (allocated as segments are sent).
    pub fn new(capacity: usize) -> Rack {
        Rack {
            log: VecDeque::new(),
            capacity: capacity.max(1),
            xmit_ts: None,
            end_seq: SeqNumber(0),
            rtt: Duration::ZERO,
            min_rtt: None,
            fack: SeqNumber(0),
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            dsack_round: None,
            lost_bytes: 0,
            lost_count: 0,
            untracked: false,
            timer: None,
        }
    }

    /// Records a segment `[start, end)` sent at `now`. New data (not
    /// `retransmission`) is appended; a retransmission updates the send
    /// time of the tracked segments it covers (splitting one it covers
    /// only in part) and clears their lost mark.
    pub fn on_send(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        now: Instant,
        retransmission: bool,
    ) {
        if !start.lt(end) {
            return;
        }
        if !retransmission {
            if let Some(last) = self.log.back()
                && !last.end.le(start)
            {
                // Overlaps what is tracked: a retransmission after all
                // (go-back-N after a timeout sends "new" data again).
                return self.on_send(start, end, now, true);
            }
            if self.log.len() < self.capacity {
                self.log.push_back(Sent {
                    start,
                    end,
                    at: now,
                    flags: 0,
                });
            } else {
                self.untracked = true;
            }
            return;
        }
        let mut i = self.first_ending_after(start);
        while let Some(e) = self.log.get(i).copied() {
            if !e.start.lt(end) {
                break;
            }
            if e.flags & SACKED != 0 {
                i += 1;
                continue;
            }
            let room = self.log.len() < self.capacity;
            if e.start.lt(start) && room {
                // Split: the part before `start` keeps its send time.
                self.split(i, start);
                i += 1;
                continue;
            }
            if end.lt(e.end) && room {
                // Split: the part after `end` keeps its send time.
                self.split(i, end);
            }
            if let Some(cur) = self.log.get_mut(i) {
                if pending(cur.flags) {
                    self.lost_count -= 1;
                    self.lost_bytes = self.lost_bytes.saturating_sub(cur.len());
                }
                // Whatever made us send it again (RACK, DupThresh, a probe,
                // a timeout), the original counts as lost and this copy as
                // in flight.
                cur.flags |= LOST | RETRANS;
                cur.at = now;
            }
            i += 1;
        }
    }

    /// Splits entry `i` at `at` (inside it) into two with its flags.
    fn split(&mut self, i: usize, at: SeqNumber) {
        let Some(cur) = self.log.get_mut(i) else {
            return;
        };
        let mut tail = *cur;
        cur.end = at;
        tail.start = at;
        if pending(tail.flags) {
            // Same bytes lost, one more entry.
            self.lost_count += 1;
        }
        self.log.insert(i + 1, tail);
    }

    /// Index of the first entry whose end lies after `seq`.
    fn first_ending_after(&self, seq: SeqNumber) -> usize {
        self.log.partition_point(|e| e.end.le(seq))
    }

    /// Takes an acknowledgment: everything below `snd_una` and inside the
    /// SACK `blocks` is delivered (RFC 8985 §6.2 steps 1–3). `dsack`
    /// says the ACK carried a D-SACK (RFC 2883), which widens the
    /// reordering window (§6.2 step 4).
    pub fn on_ack(&mut self, snd_una: SeqNumber, blocks: &[SackBlock], now: Instant) {
        // Cumulatively acknowledged segments.
        while let Some(front) = self.log.front().copied() {
            if front.end.le(snd_una) {
                self.log.pop_front();
                if pending(front.flags) {
                    self.lost_count -= 1;
                    self.lost_bytes = self.lost_bytes.saturating_sub(front.len());
                }
                if front.flags & SACKED == 0 {
                    self.deliver(&front, now);
                }
            } else {
                if front.start.lt(snd_una)
                    && let Some(f) = self.log.front_mut()
                {
                    let cut = snd_una.0.wrapping_sub(f.start.0);
                    f.start = snd_una;
                    if pending(f.flags) {
                        self.lost_bytes = self.lost_bytes.saturating_sub(cut);
                    }
                }
                break;
            }
        }
        if self.log.is_empty() {
            self.untracked = false;
        }
        if let Some(round) = self.dsack_round
            && round.le(snd_una)
        {
            self.dsack_round = None;
        }
        for b in blocks {
            if !b.left.lt(b.right) || b.right.le(snd_una) {
                continue;
            }
            let mut i = self.first_ending_after(b.left);
            while let Some(e) = self.log.get(i).copied() {
                if !e.start.lt(b.right) {
                    break;
                }
                if e.flags & SACKED == 0 && b.left.le(e.start) && e.end.le(b.right) {
                    if let Some(cur) = self.log.get_mut(i) {
                        cur.flags |= SACKED;
                    }
                    if pending(e.flags) {
                        self.lost_count -= 1;
                        self.lost_bytes = self.lost_bytes.saturating_sub(e.len());
                    }
                    self.deliver(&e, now);
                }
                i += 1;
            }
        }
    }

    /// A D-SACK arrived (RFC 8985 §6.2 step 4): a segment was delivered
    /// twice, so some retransmission was spurious: the reordering window
    /// grows by a quarter RTT, once per round trip (`snd_max` ends it).
    pub fn on_dsack(&mut self, snd_max: SeqNumber) {
        self.reordering_seen = true;
        if self.dsack_round.is_none() {
            self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(MAX_REO_WND_MULT);
            self.reo_wnd_persist = REO_WND_PERSIST;
            self.dsack_round = Some(snd_max);
        }
    }

    /// A loss recovery ended: after 16 of them without a
    /// D-SACK the reordering window shrinks back (RFC 8985 §6.2 step 4).
    pub fn on_recovery_exit(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// RFC 8985 §6.2 steps 2–3 for one delivered segment `e`.
    fn deliver(&mut self, e: &Sent, now: Instant) {
        let rtt = now.saturating_duration_since(e.at);
        if e.flags & RETRANS != 0 && self.min_rtt.is_some_and(|m| rtt < m) {
            // Delivered sooner than any round trip could: the ACK is for
            // the original, not this retransmission. Ambiguous, skip.
            return;
        }
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        let newer = match self.xmit_ts {
            None => true,
            Some(t) => e.at > t || (e.at == t && e.end.gt(self.end_seq)),
        };
        if newer {
            self.xmit_ts = Some(e.at);
            self.end_seq = e.end;
            self.rtt = rtt;
        }
        if e.end.lt(self.fack) {
            if e.flags & RETRANS == 0 {
                // Delivered below a segment already delivered, and never
                // retransmitted: the network reordered them.
                self.reordering_seen = true;
            }
        } else {
            self.fack = e.end;
        }
    }

    /// RFC 8985 §6.2 step 4: the reordering window.
    fn reo_wnd(&self, srtt: Option<Duration>, in_recovery: bool) -> Duration {
        if !self.reordering_seen && in_recovery {
            return Duration::ZERO;
        }
        let min = self.min_rtt.unwrap_or(Duration::ZERO);
        let w = Duration::from_micros(min.total_micros() / 4)
            .saturating_mul(u64::from(self.reo_wnd_mult));
        match srtt {
            Some(s) => w.min(s),
            None => w,
        }
    }

    /// RFC 8985 §6.2 step 5: marks lost every segment sent before the
    /// latest delivered one, longer ago than its RTT plus the reordering
    /// window; arms [`timer`](Self::timer) for the ones that will be.
    /// Returns whether any segment was newly marked lost.
    pub fn detect_loss(&mut self, now: Instant, srtt: Option<Duration>, in_recovery: bool) -> bool {
        self.timer = None;
        let Some(latest) = self.xmit_ts else {
            return false;
        };
        let reo_wnd = self.reo_wnd(srtt, in_recovery);
        let wait = self.rtt.saturating_add(reo_wnd);
        let mut newly = false;
        let mut timer: Option<Instant> = None;
        let (mut lost_count, mut lost_bytes) = (self.lost_count, self.lost_bytes);
        let end_seq = self.end_seq;
        for e in self.log.iter_mut() {
            // Candidates: sent once and not yet marked, or retransmitted
            // (that copy may be lost too).
            if e.flags & SACKED != 0 || pending(e.flags) {
                continue;
            }
            let before = e.at < latest || (e.at == latest && e.end.lt(end_seq));
            if !before {
                continue;
            }
            let deadline = e.at.saturating_add(wait);
            if deadline <= now {
                e.flags = (e.flags | LOST) & !RETRANS;
                lost_count += 1;
                lost_bytes = lost_bytes.saturating_add(e.len());
                newly = true;
            } else {
                timer = Some(timer.map_or(deadline, |t| t.min(deadline)));
            }
        }
        self.lost_count = lost_count;
        self.lost_bytes = lost_bytes;
        self.timer = timer;
        newly
    }

    /// When the reordering timer is due (RFC 8985 §6.3): call
    /// [`detect_loss`](Self::detect_loss) then.
    pub fn timer(&self) -> Option<Instant> {
        self.timer
    }

    /// The lowest segment marked lost and not yet retransmitted, as
    /// `(start, length)`.
    pub fn next_lost(&self) -> Option<(SeqNumber, u32)> {
        if self.lost_count == 0 {
            return None;
        }
        self.log
            .iter()
            .find(|e| pending(e.flags))
            .map(|e| (e.start, e.len()))
    }

    /// Bytes marked lost and not yet retransmitted (not in flight, for
    /// the RFC 6675 pipe).
    pub fn lost_bytes(&self) -> u32 {
        self.lost_bytes
    }

    /// Whether every segment sent up to `snd_max` is tracked (the log was
    /// never full while they were sent), so that
    /// [`lost_bytes`](Self::lost_bytes) accounts for all the flight.
    pub fn covers(&self, snd_max: SeqNumber) -> bool {
        !self.untracked && self.log.back().is_none_or(|e| e.end == snd_max)
    }

    /// Number of segments tracked.
    pub fn tracked(&self) -> usize {
        self.log.len()
    }

    /// The smallest round trip seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// A retransmission timeout: what was SACKed may be reneged (RFC 2018
    /// §8) and everything from SND.UNA is sent again (go-back-N), so the
    /// lost and SACKed marks are forgotten.
    pub fn on_rto(&mut self) {
        for e in self.log.iter_mut() {
            e.flags &= RETRANS;
        }
        self.lost_bytes = 0;
        self.lost_count = 0;
        self.timer = None;
    }

    /// Forgets every tracked segment (the connection closed).
    pub fn clear(&mut self) {
        self.untracked = false;
        self.log.clear();
        self.log.shrink_to_fit();
        self.lost_bytes = 0;
        self.lost_count = 0;
        self.timer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use lamina_netbuf::{Rng, SeededRng};

    fn ms(n: u64) -> Instant {
        Instant::from_millis(1000 + n)
    }

    fn seg(i: u32) -> (SeqNumber, SeqNumber) {
        (SeqNumber(100 * i), SeqNumber(100 * i + 100))
    }

    fn blk(l: u32, r: u32) -> SackBlock {
        SackBlock {
            left: SeqNumber(l),
            right: SeqNumber(r),
        }
    }

    /// The counters agree with the log, which stays sorted and disjoint.
    fn check(r: &Rack) {
        let pend: Vec<&Sent> = r.log.iter().filter(|e| pending(e.flags)).collect();
        assert_eq!(r.lost_count as usize, pend.len());
        assert_eq!(r.lost_bytes, pend.iter().map(|e| e.len()).sum::<u32>());
        for w in r.log.iter().collect::<Vec<_>>().windows(2) {
            assert!(w[0].end.le(w[1].start), "{:?}", r.log);
        }
        assert!(r.log.iter().all(|e| e.start.lt(e.end)));
        assert!(r.log.len() <= r.capacity);
    }

    #[test]
    fn a_segment_sent_before_a_delivered_one_is_lost_after_rtt_and_window_rfc8985_6_2() {
        let mut r = Rack::new(16);
        for i in 0..4 {
            let (s, e) = seg(i);
            r.on_send(s, e, ms(u64::from(i)), false);
        }
        // Segment 2 SACKed at 42 ms: its RTT is 40 ms.
        r.on_ack(SeqNumber(0), &[blk(200, 300)], ms(42));
        // Not in recovery, no reordering seen: window = min RTT / 4.
        assert!(!r.detect_loss(ms(42), None, false));
        assert_eq!(r.timer(), Some(ms(40 + 10)));
        // Segments 0 and 1 (sent at 0 and 1 ms) are lost at 50 and 51 ms;
        // segment 3 was sent after the delivered one.
        assert!(r.detect_loss(ms(50), None, false));
        assert_eq!(r.lost_bytes(), 100);
        assert!(r.detect_loss(ms(51), None, false));
        assert_eq!(r.lost_bytes(), 200);
        assert_eq!(r.timer(), None);
        check(&r);
    }

    #[test]
    fn in_recovery_without_reordering_the_window_is_zero_rfc8985_6_2_step_4() {
        let mut r = Rack::new(16);
        for i in 0..3 {
            let (s, e) = seg(i);
            r.on_send(s, e, ms(u64::from(i)), false);
        }
        r.on_ack(SeqNumber(0), &[blk(200, 300)], ms(22));
        assert!(r.detect_loss(ms(22), None, true));
        assert_eq!(r.lost_bytes(), 200);
        check(&r);
    }

    #[test]
    fn reordering_seen_keeps_a_window_in_recovery_rfc8985_6_2_step_3() {
        let mut r = Rack::new(16);
        for i in 0..3 {
            let (s, e) = seg(i);
            r.on_send(s, e, ms(u64::from(i)), false);
        }
        r.on_ack(SeqNumber(0), &[blk(200, 300)], ms(20));
        // Segment 1 arrives after segment 2: reordering, not loss.
        r.on_ack(SeqNumber(0), &[blk(100, 300)], ms(21));
        assert!(!r.detect_loss(ms(21), None, true));
        assert!(r.timer().is_some());
        check(&r);
    }

    #[test]
    fn a_lost_retransmission_is_lost_again_once_later_data_is_delivered_rfc8985_6_2() {
        let mut r = Rack::new(16);
        for i in 0..4 {
            let (s, e) = seg(i);
            r.on_send(s, e, ms(u64::from(i)), false);
        }
        r.on_ack(SeqNumber(0), &[blk(100, 400)], ms(30));
        assert!(r.detect_loss(ms(30), None, true));
        assert_eq!(r.next_lost(), Some((SeqNumber(0), 100)));
        // Retransmitted at 30 ms: no longer due.
        r.on_send(SeqNumber(0), SeqNumber(100), ms(30), true);
        assert_eq!((r.next_lost(), r.lost_bytes()), (None, 0));
        // New data sent at 31 ms is SACKed at 60 ms; the retransmission
        // was not: it is lost too.
        r.on_send(SeqNumber(400), SeqNumber(500), ms(31), false);
        r.on_ack(SeqNumber(0), &[blk(100, 500)], ms(60));
        assert!(r.detect_loss(ms(60), None, true));
        assert_eq!(r.next_lost(), Some((SeqNumber(0), 100)));
        check(&r);
    }

    #[test]
    fn a_partial_retransmission_splits_the_segment_and_keeps_the_rest_due() {
        let mut r = Rack::new(16);
        r.on_send(SeqNumber(0), SeqNumber(300), ms(0), false);
        r.on_send(SeqNumber(300), SeqNumber(400), ms(1), false);
        r.on_ack(SeqNumber(0), &[blk(300, 400)], ms(20));
        assert!(r.detect_loss(ms(20), None, true));
        assert_eq!(r.lost_bytes(), 300);
        r.on_send(SeqNumber(100), SeqNumber(200), ms(21), true);
        assert_eq!(r.lost_bytes(), 200);
        assert_eq!(r.tracked(), 4);
        assert_eq!(r.next_lost(), Some((SeqNumber(0), 100)));
        r.on_send(SeqNumber(0), SeqNumber(100), ms(21), true);
        assert_eq!(r.next_lost(), Some((SeqNumber(200), 100)));
        check(&r);
    }

    #[test]
    fn the_log_is_bounded_and_says_when_it_does_not_cover_the_flight() {
        let mut r = Rack::new(4);
        for i in 0..6 {
            let (s, e) = seg(i);
            r.on_send(s, e, ms(0), false);
        }
        assert_eq!(r.tracked(), 4);
        assert!(!r.covers(SeqNumber(600)));
        r.on_ack(SeqNumber(600), &[], ms(10));
        assert_eq!(r.tracked(), 0);
        assert!(r.covers(SeqNumber(600)));
        check(&r);
    }

    #[test]
    fn dsack_widens_the_reordering_window_once_per_round_rfc8985_6_2_step_4() {
        let mut r = Rack::new(16);
        r.on_send(SeqNumber(0), SeqNumber(100), ms(0), false);
        r.on_ack(SeqNumber(100), &[], ms(40));
        r.on_dsack(SeqNumber(100));
        r.on_dsack(SeqNumber(100));
        assert_eq!(r.reo_wnd_mult, 2);
        assert_eq!(r.reo_wnd(None, true), Duration::from_millis(20));
        // Capped at SRTT.
        assert_eq!(
            r.reo_wnd(Some(Duration::from_millis(15)), true),
            Duration::from_millis(15)
        );
        for _ in 0..REO_WND_PERSIST {
            r.on_recovery_exit();
        }
        assert_eq!(r.reo_wnd_mult, 1);
    }

    #[test]
    fn random_operations_keep_the_counters_exact() {
        let mut rng = SeededRng::new(8985);
        for _ in 0..200 {
            let mut r = Rack::new(1 + (rng.next_u32() % 40) as usize);
            let (mut una, mut max) = (0u32, 0u32);
            let mut now = 0u64;
            for _ in 0..300 {
                now += u64::from(rng.next_u32() % 5);
                match rng.next_u32() % 6 {
                    0 | 1 => {
                        let len = 1 + rng.next_u32() % 200;
                        r.on_send(SeqNumber(max), SeqNumber(max + len), ms(now), false);
                        max += len;
                    }
                    2 if max > una => {
                        let a = una + rng.next_u32() % (max - una);
                        let b = a + 1 + rng.next_u32() % (max - a);
                        r.on_send(SeqNumber(a), SeqNumber(b.min(max)), ms(now), true);
                    }
                    3 => {
                        let mut blocks = Vec::new();
                        for _ in 0..rng.next_u32() % 4 {
                            let a = una + rng.next_u32() % (max - una + 1);
                            let b = a + rng.next_u32() % (max - a + 1);
                            blocks.push(blk(a, b));
                        }
                        if rng.next_u32().is_multiple_of(3) && max > una {
                            una += 1 + rng.next_u32() % (max - una);
                        }
                        r.on_ack(SeqNumber(una), &blocks, ms(now));
                    }
                    4 => {
                        r.detect_loss(ms(now), None, rng.next_u32().is_multiple_of(2));
                    }
                    _ => {
                        if rng.next_u32().is_multiple_of(10) {
                            r.on_rto();
                        }
                        if let Some((s, l)) = r.next_lost() {
                            r.on_send(s, s + l, ms(now), true);
                        }
                    }
                }
                check(&r);
            }
        }
    }
}
