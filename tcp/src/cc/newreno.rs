//! NewReno: the standard window policy of RFC 5681, with appropriate byte
//! counting (RFC 3465) and the window handling of RFC 6582's recovery.

use lamina_netbuf::Instant;

use super::{AckEvent, CongestionControl, half_flight, initial_window, slow_start};

/// RFC 5681 congestion control.
///
/// - Slow start while `cwnd < ssthresh`: `cwnd += min(acked, 2*mss)` per
///   ACK (RFC 3465 §2.2, L = 2).
/// - Congestion avoidance: one MSS per window's worth of acknowledged
///   bytes (RFC 3465 §2.1, RFC 5681 §3.1 "bytes_acked").
/// - Loss (fast retransmit): `ssthresh = max(FlightSize/2, 2*mss)`
///   (RFC 5681 eq. 4), `cwnd = ssthresh`.
/// - Timeout: the same `ssthresh`, `cwnd` = 1 MSS.
/// - Idle restart: `cwnd = min(IW, cwnd)` (RFC 5681 §4.1).
///
/// ```
/// use lamina_netbuf::Instant;
/// use lamina_tcp::cc::{AckEvent, CongestionControl, NewReno};
///
/// let mut cc = NewReno::new(1000);
/// assert_eq!(cc.window(), 10_000); // RFC 6928
/// cc.on_loss(10_000, Instant::ZERO);
/// assert_eq!((cc.ssthresh(), cc.window()), (5000, 5000));
/// // Congestion avoidance: 5000 acknowledged bytes → one more MSS.
/// let ev = AckEvent { acked: 5000, in_flight: 5000, ..AckEvent::default() };
/// cc.on_ack(&ev, Instant::ZERO);
/// assert_eq!(cc.window(), 6000);
/// ```
#[derive(Debug, Clone)]
pub struct NewReno {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance not yet turned into
    /// window growth (RFC 3465 §2.1).
    bytes_acked: u32,
    /// Some data was sent (an event arrived): `set_mss` no longer resets
    /// the initial window.
    started: bool,
    /// The retransmission timer expired and no ACK has come since: a
    /// further expiry keeps `ssthresh`.
    in_rto: bool,
    /// `(cwnd, ssthresh)` before the last reduction, for undoing it.
    prior: Option<(u32, u32)>,
}

impl NewReno {
    /// NewReno for a sender MSS of `mss` bytes (at least 1): `cwnd` the
    /// RFC 6928 initial window, `ssthresh` unbounded.
    pub fn new(mss: u32) -> NewReno {
        let mss = mss.max(1);
        NewReno {
            mss,
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            bytes_acked: 0,
            started: false,
            in_rto: false,
            prior: None,
        }
    }

    /// The MSS the window is counted in.
    pub fn mss(&self) -> u32 {
        self.mss
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn window(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
        if !self.started {
            self.cwnd = initial_window(self.mss);
        }
    }

    fn on_ack(&mut self, ev: &AckEvent, _now: Instant) {
        self.started = true;
        self.in_rto = false;
        if ev.app_limited || ev.acked == 0 {
            return;
        }
        let mut acked = ev.acked;
        if self.cwnd < self.ssthresh {
            let (cwnd, left) = slow_start(self.cwnd, self.ssthresh, acked, self.mss);
            self.cwnd = cwnd;
            acked = left;
            if acked == 0 {
                return;
            }
        }
        // Congestion avoidance, RFC 3465 §2.1: once a window's worth of
        // bytes is acknowledged, grow by one MSS (at most once per ACK).
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
            self.bytes_acked = self.bytes_acked.min(self.cwnd);
        }
    }

    fn on_loss(&mut self, in_flight: u32, _now: Instant) {
        self.started = true;
        self.prior = Some((self.cwnd, self.ssthresh));
        self.ssthresh = half_flight(in_flight, self.mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_recovery_exit(&mut self, _now: Instant) {
        self.cwnd = self.cwnd.min(self.ssthresh);
        self.bytes_acked = 0;
    }

    fn on_rto(&mut self, in_flight: u32, _now: Instant) {
        self.started = true;
        if !self.in_rto {
            self.prior = Some((self.cwnd, self.ssthresh));
            self.ssthresh = half_flight(in_flight, self.mss);
            self.in_rto = true;
        }
        self.cwnd = self.mss;
        self.bytes_acked = 0;
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        self.cwnd = self.cwnd.min(initial_window(self.mss));
        self.bytes_acked = 0;
    }

    fn on_spurious_congestion(&mut self, _now: Instant) {
        if let Some((cwnd, ssthresh)) = self.prior.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = ssthresh;
            self.in_rto = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const NOW: Instant = Instant::ZERO;

    fn ack(acked: u32) -> AckEvent {
        AckEvent {
            acked,
            rtt: None,
            in_flight: 100_000,
            app_limited: false,
        }
    }

    #[test]
    fn starts_with_the_rfc6928_window_and_unbounded_ssthresh() {
        // RFC 6928 §2 and RFC 5681 §3.1 ("arbitrarily high" ssthresh).
        let cc = NewReno::new(1460);
        assert_eq!(cc.window(), 14600);
        assert_eq!(cc.ssthresh(), u32::MAX);
    }

    #[test]
    fn set_mss_resets_the_initial_window_only_before_data() {
        let mut cc = NewReno::new(536);
        cc.set_mss(1460);
        assert_eq!(cc.window(), 14600);
        cc.on_ack(&ack(1460), NOW);
        let w = cc.window();
        cc.set_mss(1000);
        assert_eq!(cc.window(), w);
        assert_eq!(cc.mss(), 1000);
    }

    #[test]
    fn slow_start_grows_by_at_most_two_segments_per_ack() {
        // RFC 3465 §2.2 (L = 2*SMSS) and RFC 5681 §3.1.
        let mut cc = NewReno::new(MSS);
        cc.on_ack(&ack(500), NOW);
        assert_eq!(cc.window(), 10_500);
        cc.on_ack(&ack(10_000), NOW); // a stretch ACK
        assert_eq!(cc.window(), 12_500);
    }

    #[test]
    fn congestion_avoidance_adds_one_mss_per_window_of_bytes() {
        // RFC 3465 §2.1 / RFC 5681 §3.1: bytes_acked >= cwnd → cwnd += SMSS.
        let mut cc = NewReno::new(MSS);
        cc.on_loss(20_000, NOW); // ssthresh = cwnd = 10_000
        for _ in 0..9 {
            cc.on_ack(&ack(1000), NOW);
            assert_eq!(cc.window(), 10_000);
        }
        cc.on_ack(&ack(1000), NOW);
        assert_eq!(cc.window(), 11_000);
        // A full window more of small ACKs: another MSS.
        for _ in 0..22 {
            cc.on_ack(&ack(500), NOW);
        }
        assert_eq!(cc.window(), 12_000);
    }

    #[test]
    fn slow_start_hands_leftover_bytes_to_congestion_avoidance() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(30_000, NOW); // ssthresh 15_000, cwnd 1000
        let mut n = 0;
        while cc.window() < cc.ssthresh() {
            cc.on_ack(&ack(2000), NOW);
            n += 1;
        }
        assert_eq!(cc.window(), 15_000);
        assert_eq!(n, 7);
    }

    #[test]
    fn loss_sets_ssthresh_to_half_the_flight() {
        // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
        let mut cc = NewReno::new(MSS);
        cc.on_loss(30_000, NOW);
        assert_eq!((cc.ssthresh(), cc.window()), (15_000, 15_000));
        cc.on_loss(1000, NOW);
        assert_eq!((cc.ssthresh(), cc.window()), (2000, 2000));
        cc.on_recovery_exit(NOW);
        assert_eq!(cc.window(), 2000);
    }

    #[test]
    fn timeout_collapses_to_one_segment_and_keeps_ssthresh_on_repeat() {
        // RFC 5681 §3.1: LW = 1 SMSS; ssthresh is set only when the segment
        // "has not yet been resent by way of the retransmission timer".
        let mut cc = NewReno::new(MSS);
        cc.on_rto(40_000, NOW);
        assert_eq!((cc.ssthresh(), cc.window()), (20_000, 1000));
        cc.on_rto(1000, NOW);
        assert_eq!((cc.ssthresh(), cc.window()), (20_000, 1000));
        cc.on_ack(&ack(1000), NOW);
        cc.on_rto(8000, NOW);
        assert_eq!((cc.ssthresh(), cc.window()), (4000, 1000));
    }

    #[test]
    fn a_spurious_reduction_is_undone_once() {
        // RFC 3522 / RFC 5682 response: restore cwnd and ssthresh.
        let mut cc = NewReno::new(MSS);
        cc.on_loss(10_000, NOW);
        assert_eq!(cc.window(), 5000);
        cc.on_ack(&ack(1000), NOW);
        cc.on_spurious_congestion(NOW);
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, u32::MAX));
        cc.on_spurious_congestion(NOW);
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, u32::MAX));
        // A timeout series is undone to before its first expiry.
        cc.on_rto(10_000, NOW);
        cc.on_rto(10_000, NOW);
        cc.on_spurious_congestion(NOW);
        assert_eq!((cc.window(), cc.ssthresh()), (10_000, u32::MAX));
    }

    #[test]
    fn app_limited_acks_do_not_grow_the_window() {
        // RFC 7661 §4: the window is not increased while not fully used.
        let mut cc = NewReno::new(MSS);
        let ev = AckEvent {
            app_limited: true,
            ..ack(5000)
        };
        cc.on_ack(&ev, NOW);
        assert_eq!(cc.window(), 10_000);
    }

    #[test]
    fn idle_restart_caps_the_window_at_the_initial_window() {
        // RFC 5681 §4.1: RW = min(IW, cwnd).
        let mut cc = NewReno::new(MSS);
        for _ in 0..10 {
            cc.on_ack(&ack(2000), NOW);
        }
        assert_eq!(cc.window(), 30_000);
        cc.on_idle_restart(NOW);
        assert_eq!(cc.window(), 10_000);
        cc.on_rto(10_000, NOW);
        cc.on_idle_restart(NOW);
        assert_eq!(cc.window(), 1000);
    }

    #[test]
    fn window_saturates_instead_of_overflowing() {
        let mut cc = NewReno::new(u32::MAX);
        for _ in 0..4 {
            cc.on_ack(&ack(u32::MAX), NOW);
        }
        assert_eq!(cc.window(), u32::MAX);
        cc.on_loss(u32::MAX, NOW);
        assert_eq!(cc.ssthresh(), u32::MAX);
        cc.on_ack(&ack(u32::MAX), NOW);
        assert_eq!(cc.window(), u32::MAX);
    }

    /// Property test: under random events the window stays at least one
    /// MSS, equals ssthresh right after a loss (RFC 5681 §3.2 with RFC 6675),
    /// never shrinks on an ACK, grows by at most two segments per ACK
    /// (RFC 3465 §2.2) and not at all when application-limited.
    #[test]
    fn window_invariants_hold_under_random_events() {
        use lamina_netbuf::{Rng, SeededRng};
        let mut rng = SeededRng::new(0x5eed_000d);
        for _ in 0..100 {
            let mss = 500 + rng.below(9000);
            let mut cc = NewReno::new(mss);
            for _ in 0..500 {
                let before = cc.window();
                match rng.below(20) {
                    0 => {
                        cc.on_loss(rng.below(before.saturating_mul(2).max(1)), NOW);
                        assert!(cc.window() >= 2 * mss);
                        assert_eq!(cc.window(), cc.ssthresh());
                    }
                    1 => {
                        cc.on_rto(rng.next_u32(), NOW);
                        assert_eq!(cc.window(), mss);
                        assert!(cc.ssthresh() >= 2 * mss);
                    }
                    2 => {
                        cc.on_idle_restart(NOW);
                        assert!(cc.window() <= before);
                    }
                    3 => {
                        cc.on_recovery_exit(NOW);
                        assert!(cc.window() <= before);
                    }
                    4 => {
                        cc.on_spurious_congestion(NOW);
                        assert!(cc.window() >= before);
                    }
                    _ => {
                        let ev = AckEvent {
                            acked: rng.below(4 * mss),
                            rtt: None,
                            in_flight: before,
                            app_limited: rng.below(5) == 0,
                        };
                        cc.on_ack(&ev, NOW);
                        let grown = cc.window() - before;
                        assert!(grown <= 2 * mss);
                        if ev.app_limited {
                            assert_eq!(grown, 0);
                        }
                    }
                }
                assert!(cc.window() >= mss);
            }
        }
    }
}
