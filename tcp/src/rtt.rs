//! The retransmission timer's clock: RFC 6298 round-trip estimation.
//!
//! [`RttEstimator`] keeps the smoothed round-trip time (SRTT) and its
//! variation (RTTVAR) from RTT samples, derives the retransmission timeout
//! (RTO) from them, and doubles it on each expiry (exponential backoff,
//! RFC 6298 §5.5). Which segments may be sampled is the connection's
//! business (Karn's algorithm, RFC 6298 §3: never a retransmitted
//! segment, unless timestamps disambiguate it, RFC 7323 §4).
//!
//! All arithmetic is integer microseconds.

use lamina_netbuf::Duration;

/// Clock granularity G of RFC 6298 §2: 1 ms, the resolution at which the
/// connection's timers are expected to fire.
pub const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// The initial RTO of RFC 6298 §2.1: 1 second.
pub const INITIAL_RTO: Duration = Duration::from_secs(1);

/// The minimum RTO recommended by RFC 6298 §2.4: 1 second. (Linux uses
/// 200 ms; the minimum is a parameter of [`RttEstimator::new`].)
pub const MIN_RTO: Duration = Duration::from_secs(1);

/// A maximum RTO of 120 seconds; RFC 6298 §2.5 requires any maximum to be
/// at least 60 seconds (Linux uses 120 s).
pub const MAX_RTO: Duration = Duration::from_secs(120);

/// The RFC 6298 estimator of the retransmission timeout.
///
/// ```
/// use lamina_netbuf::Duration;
/// use lamina_tcp::rtt::RttEstimator;
///
/// let ms = Duration::from_millis;
/// let mut rtt = RttEstimator::new(ms(1000), ms(200), ms(60_000));
/// assert_eq!(rtt.rto(), ms(1000)); // no sample yet: the initial RTO
///
/// rtt.sample(ms(100)); // first sample: SRTT = R, RTTVAR = R/2
/// assert_eq!(rtt.srtt(), Some(ms(100)));
/// assert_eq!(rtt.rttvar(), ms(50));
/// assert_eq!(rtt.rto(), ms(300)); // SRTT + 4 * RTTVAR
///
/// rtt.backoff(); // the timer expired: RTO doubles
/// assert_eq!(rtt.rto(), ms(600));
/// ```
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    initial: Duration,
    min: Duration,
    max: Duration,
    /// Number of doublings since the last reset.
    backoffs: u32,
}

impl RttEstimator {
    /// The estimator before any sample: the RTO is `initial_rto` (RFC 6298
    /// §2.1: 1 s), always clamped to `[min_rto, max_rto]`. A `max_rto`
    /// below `min_rto` is raised to `min_rto`.
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            initial: initial_rto,
            min: min_rto,
            max: max_rto.max(min_rto),
            backoffs: 0,
        }
    }

    /// Takes a round-trip time measurement `rtt`.
    ///
    /// The first sets SRTT = R and RTTVAR = R/2 (RFC 6298 §2.2); later ones
    /// update RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT +
    /// 1/8 R (§2.3: alpha = 1/8, beta = 1/4, RTTVAR first). A valid sample
    /// means a segment sent once was acknowledged, so it also clears the
    /// backoff (Karn's algorithm, RFC 6298 §5 and [`reset_backoff`](Self::reset_backoff)).
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.total_micros();
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = Duration::from_micros(r / 2);
            }
            Some(srtt) => {
                let s = srtt.total_micros();
                let var = self.rttvar.total_micros();
                let dev = s.abs_diff(r);
                // 3/4 var + 1/4 dev and 7/8 s + 1/8 r, without overflow.
                let var = var - var / 4 + dev / 4;
                let s = s - s / 8 + r / 8;
                self.rttvar = Duration::from_micros(var);
                self.srtt = Some(Duration::from_micros(s));
            }
        }
        self.backoffs = 0;
    }

    /// The RTO before backoff: SRTT + max(G, 4 * RTTVAR) (RFC 6298 §2.2,
    /// §2.3), or the initial RTO without samples, clamped to `[min, max]`
    /// (§2.4, §2.5).
    pub fn base_rto(&self) -> Duration {
        let raw = match self.srtt {
            None => self.initial,
            Some(srtt) => srtt.saturating_add(CLOCK_GRANULARITY.max(self.rttvar.saturating_mul(4))),
        };
        raw.max(self.min).min(self.max)
    }

    /// The current RTO: [`base_rto`](Self::base_rto) doubled once per
    /// [`backoff`](Self::backoff) since the last reset, never above the
    /// maximum (RFC 6298 §5.5, §2.5).
    pub fn rto(&self) -> Duration {
        let base = self.base_rto();
        let factor = 1u64.checked_shl(self.backoffs).unwrap_or(u64::MAX);
        base.saturating_mul(factor).min(self.max)
    }

    /// The retransmission timer expired: doubles the RTO (RFC 6298 §5.5,
    /// "back off the timer"), up to the maximum. Counts the expiry for
    /// [`backoffs`](Self::backoffs) even once the maximum is reached.
    pub fn backoff(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// Forgets the backoff (an acknowledgment of new data arrived), so
    /// the RTO comes from SRTT and RTTVAR again.
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// Consecutive expiries since the last reset (for a retry limit such
    /// as RFC 9293 §3.8.3's R2).
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// The smoothed RTT, `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The RTT variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Forgets all samples and the backoff, as RFC 6298 §5 allows "after
    /// backing off the timer multiple times" (the path may have changed):
    /// the next sample is treated as the first.
    pub fn reset(&mut self) {
        self.srtt = None;
        self.rttvar = Duration::ZERO;
        self.backoffs = 0;
    }
}

impl Default for RttEstimator {
    /// [`INITIAL_RTO`], [`MIN_RTO`], [`MAX_RTO`].
    fn default() -> RttEstimator {
        RttEstimator::new(INITIAL_RTO, MIN_RTO, MAX_RTO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::{Rng, SeededRng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn est() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(200), ms(60_000))
    }

    #[test]
    fn initial_rto_before_any_sample() {
        // RFC 6298 §2.1: "set RTO <- 1 second" until a measurement.
        let r = RttEstimator::default();
        assert_eq!(r.rto(), Duration::from_secs(1));
        assert_eq!(r.srtt(), None);
        assert_eq!(r.rttvar(), Duration::ZERO);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        // RFC 6298 §2.2.
        let mut r = est();
        r.sample(ms(400));
        assert_eq!(r.srtt(), Some(ms(400)));
        assert_eq!(r.rttvar(), ms(200));
        assert_eq!(r.rto(), ms(400 + 4 * 200));
    }

    #[test]
    fn later_samples_use_alpha_eighth_and_beta_quarter() {
        // RFC 6298 §2.3: RTTVAR updated with the old SRTT, then SRTT.
        let mut r = est();
        r.sample(ms(100)); // srtt 100, var 50
        r.sample(ms(200)); // var = 37.5 + 25 = 62.5; srtt = 87.5 + 25 = 112.5
        assert_eq!(r.rttvar(), us(62_500));
        assert_eq!(r.srtt(), Some(us(112_500)));
        assert_eq!(r.rto(), us(112_500 + 4 * 62_500));
    }

    #[test]
    fn granularity_bounds_the_variance_term() {
        // RFC 6298 §2.3: RTO = SRTT + max(G, K*RTTVAR); with a perfectly
        // stable RTT the variance decays and G = 1 ms remains.
        let mut r = RttEstimator::new(ms(1000), Duration::ZERO, ms(60_000));
        for _ in 0..200 {
            r.sample(ms(10));
        }
        assert_eq!(r.srtt(), Some(ms(10)));
        assert!(r.rttvar() < us(250));
        assert_eq!(r.rto(), ms(11));
    }

    #[test]
    fn rto_is_clamped_to_min_and_max() {
        // RFC 6298 §2.4 (minimum) and §2.5 (maximum).
        let mut r = est();
        r.sample(ms(1));
        assert_eq!(r.rto(), ms(200));
        r.sample(ms(100_000));
        assert_eq!(r.rto(), ms(60_000));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        // RFC 6298 §5.5: "RTO <- RTO * 2"; §2.5: a maximum may be placed.
        let mut r = est();
        let mut expect = 1000;
        for _ in 0..10 {
            assert_eq!(r.rto(), ms(expect.min(60_000)));
            r.backoff();
            expect *= 2;
        }
        assert_eq!(r.rto(), ms(60_000));
        assert_eq!(r.backoffs(), 10);
        for _ in 0..100 {
            r.backoff();
        }
        assert_eq!(r.rto(), ms(60_000));
        r.reset_backoff();
        assert_eq!(r.rto(), ms(1000));
    }

    #[test]
    fn a_valid_sample_clears_the_backoff() {
        // Karn's algorithm (RFC 6298 §5, note after 5.7): the backed-off
        // RTO is kept until a new, unambiguous sample arrives.
        let mut r = est();
        r.sample(ms(100));
        r.backoff();
        r.backoff();
        assert_eq!(r.rto(), ms(1200));
        r.sample(ms(100));
        assert_eq!(r.backoffs(), 0);
        assert!(r.rto() < ms(400));
    }

    #[test]
    fn reset_forgets_samples() {
        let mut r = est();
        r.sample(ms(100));
        r.backoff();
        r.reset();
        assert_eq!(r.srtt(), None);
        assert_eq!(r.rto(), ms(1000));
        r.sample(ms(300));
        assert_eq!(r.rttvar(), ms(150));
    }

    #[test]
    fn max_below_min_is_raised_to_min() {
        let r = RttEstimator::new(ms(50), ms(300), ms(100));
        assert_eq!(r.rto(), ms(300));
    }

    #[test]
    fn extreme_samples_never_overflow() {
        let mut r = RttEstimator::new(ms(1000), ms(200), Duration::MAX);
        r.sample(Duration::MAX);
        r.sample(Duration::ZERO);
        r.sample(Duration::MAX);
        for _ in 0..70 {
            r.backoff();
        }
        assert_eq!(r.rto(), Duration::MAX);
    }

    /// Property test: SRTT stays between the smallest and largest sample
    /// seen, and the RTO always lies within [min, max].
    #[test]
    fn srtt_stays_within_the_sample_range() {
        let mut rng = SeededRng::new(0x5eed_0004);
        for _ in 0..200 {
            let mut r = est();
            let (mut lo, mut hi) = (u64::MAX, 0);
            for _ in 0..50 {
                let s = u64::from(rng.below(5_000_000));
                lo = lo.min(s);
                hi = hi.max(s);
                r.sample(us(s));
                let srtt = r.srtt().unwrap().total_micros();
                // Integer division truncates, at most 1 µs per step.
                assert!(srtt + 50 >= lo && srtt <= hi, "{lo} {srtt} {hi}");
                assert!(r.rto() >= ms(200) && r.rto() <= ms(60_000));
                if rng.below(4) == 0 {
                    r.backoff();
                    assert!(r.rto() <= ms(60_000));
                }
            }
        }
    }
}
