//! CUBIC (RFC 9438): a window that grows as a cubic function of the time
//! since the last congestion event, independent of the RTT.
//!
//! In windows of segments, with `t` the time since the current congestion
//! avoidance stage began:
//!
//! - `W_cubic(t) = C*(t - K)^3 + W_max` (§4.2), `C = 0.4`,
//!   `K = cbrt((W_max - cwnd_epoch)/C)`: concave up to the window of the
//!   last congestion event `W_max`, a plateau around it, then convex;
//! - each ACK moves `cwnd` towards `target = W_cubic(t + RTT)`, clamped to
//!   `[cwnd, 1.5*cwnd]`, by `(target - cwnd)/cwnd` per segment acknowledged
//!   (§4.4, §4.5);
//! - a Reno-friendly estimate `W_est` grows by `alpha_cubic =
//!   3(1-beta)/(1+beta)` segments per window (1 once it passes the window
//!   before the reduction) and wins where it is larger (§4.3);
//! - on loss, `ssthresh = 0.7*FlightSize` (`beta_cubic = 0.7`, §4.6) and
//!   `W_max` is the window before the reduction, or 0.85 of it when it is
//!   below the previous `W_max` (fast convergence, §4.7);
//! - after a timeout, the next congestion avoidance stage starts with
//!   `K = 0` and `W_max = cwnd_epoch` (§4.8);
//! - a reduction found spurious is undone (§4.9,
//!   [`on_spurious_congestion`](super::CongestionControl::on_spurious_congestion));
//! - slow start is standard (RFC 5681 with RFC 3465 byte counting;
//!   HyStart++ is not used).
//!
//! All arithmetic is integer: windows in bytes, time in microseconds, the
//! cube root by [`icbrt`]. Application-limited periods (no growth) are
//! excluded from `t` (§5.8).

use lamina_netbuf::{Duration, Instant};

use super::{AckEvent, CongestionControl, initial_window, slow_start};

/// `C` of RFC 9438 §4.2, 0.4, as a fraction.
const C_NUM: i128 = 4;
const C_DEN: i128 = 10;
/// `beta_cubic` of RFC 9438 §4.6, 0.7.
const BETA_NUM: u64 = 7;
const BETA_DEN: u64 = 10;
/// `alpha_cubic = 3(1 - beta)/(1 + beta) = 0.9/1.7 = 9/17` (§4.3).
const ALPHA_NUM: u128 = 9;
const ALPHA_DEN: u128 = 17;
/// |t - K| is clamped to 2^35 µs (about 9.5 hours) so that the cube fits.
const MAX_DT_US: i128 = 1 << 35;

/// The integer cube root: the largest `r` with `r^3 <= n`.
///
/// ```
/// use lamina_tcp::cc::cubic::icbrt;
/// assert_eq!(icbrt(26), 2);
/// assert_eq!(icbrt(27), 3);
/// assert_eq!(icbrt(u128::MAX), 6_981_463_658_331);
/// ```
pub fn icbrt(n: u128) -> u64 {
    // Binary search over [0, 2^43): (2^43)^3 = 2^129 exceeds any u128.
    let (mut lo, mut hi) = (0u128, 1u128 << 43);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match mid.checked_mul(mid).and_then(|m| m.checked_mul(mid)) {
            Some(c) if c <= n => lo = mid,
            _ => hi = mid,
        }
    }
    lo as u64
}

/// RFC 9438 CUBIC congestion control.
///
/// ```
/// use lamina_netbuf::{Duration, Instant};
/// use lamina_tcp::cc::{AckEvent, CongestionControl, Cubic};
///
/// let mss = 1000;
/// let mut cc = Cubic::new(mss);
/// // Grow to 100 segments, then lose one: cwnd falls to 70 segments.
/// for _ in 0..45 {
///     cc.on_ack(&AckEvent { acked: 2000, ..AckEvent::default() }, Instant::ZERO);
/// }
/// assert_eq!(cc.window(), 100_000);
/// cc.on_loss(100_000, Instant::ZERO);
/// assert_eq!(cc.window(), 70_000);
/// assert_eq!(cc.w_max(), 100_000);
///
/// // Congestion avoidance starts: K = cbrt((100 - 70) / 0.4) ≈ 4.217 s.
/// let ev = AckEvent { acked: 1000, rtt: Some(Duration::from_millis(100)), in_flight: 70_000, app_limited: false };
/// cc.on_ack(&ev, Instant::from_secs(1));
/// assert_eq!(cc.k().total_millis(), 4217);
/// ```
#[derive(Debug, Clone)]
pub struct Cubic {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    started: bool,
    in_rto: bool,
    fast_convergence: bool,
    /// W_max in bytes: the window before the last reduction (§4.7).
    w_max: u32,
    /// cwnd before the last reduction, for alpha_cubic's switch (§4.3).
    cwnd_prior: u32,
    /// The next congestion avoidance stage follows a timeout (§4.8).
    after_rto: bool,
    /// Start of the current congestion avoidance stage, `None` outside it.
    epoch: Option<Instant>,
    cwnd_epoch: u32,
    k: Duration,
    /// Reno-friendly estimate W_est in bytes, and its fractional part
    /// (numerator over `den * cwnd`).
    w_est: u32,
    est_acc: u64,
    /// Fractional cubic growth (numerator over cwnd).
    cubic_acc: u64,
    srtt: Option<Duration>,
    /// Since when ACKs have been application-limited (time excluded from
    /// `t`, §5.8).
    app_limited_since: Option<Instant>,
    /// The state before the last reduction, for §4.9's undo.
    prior: Option<Saved>,
}

/// What RFC 9438 §4.9 restores after a spurious congestion event.
#[derive(Debug, Clone, Copy)]
struct Saved {
    cwnd: u32,
    ssthresh: u32,
    w_max: u32,
    cwnd_prior: u32,
    after_rto: bool,
    epoch: Option<Instant>,
    cwnd_epoch: u32,
    k: Duration,
    w_est: u32,
}

impl Cubic {
    /// CUBIC for a sender MSS of `mss` bytes (at least 1): `cwnd` the
    /// RFC 6928 initial window, `ssthresh` unbounded, fast convergence on.
    pub fn new(mss: u32) -> Cubic {
        let mss = mss.max(1);
        Cubic {
            mss,
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            started: false,
            in_rto: false,
            fast_convergence: true,
            w_max: 0,
            cwnd_prior: 0,
            after_rto: false,
            epoch: None,
            cwnd_epoch: 0,
            k: Duration::ZERO,
            w_est: 0,
            est_acc: 0,
            cubic_acc: 0,
            srtt: None,
            app_limited_since: None,
            prior: None,
        }
    }

    /// Turns fast convergence (RFC 9438 §4.7) on or off (on by default).
    pub fn set_fast_convergence(&mut self, on: bool) {
        self.fast_convergence = on;
    }

    /// `W_max`, in bytes: the window at the last congestion event (0
    /// before any).
    pub fn w_max(&self) -> u32 {
        self.w_max
    }

    /// `K`: the time the current congestion avoidance stage takes to grow
    /// back to `W_max` (zero outside congestion avoidance or after a
    /// timeout).
    pub fn k(&self) -> Duration {
        self.k
    }

    /// The Reno-friendly estimate `W_est` in bytes (§4.3).
    pub fn w_est(&self) -> u32 {
        self.w_est
    }

    /// The MSS the window is counted in.
    pub fn mss(&self) -> u32 {
        self.mss
    }

    /// `W_cubic(t)` in bytes (§4.2), `t` in microseconds since the epoch.
    pub fn w_cubic(&self, t: Duration) -> u64 {
        let t = i128::from(t.total_micros());
        let d = (t - i128::from(self.k.total_micros())).clamp(-MAX_DT_US, MAX_DT_US);
        // C * (d / 1e6 s)^3 segments = C * d^3 / 1e18; divided in two steps
        // so that d^3 (< 2^105) times mss (< 2^32) cannot overflow.
        let cube = d * d * d / 10_000_000_000;
        let delta = cube * C_NUM * i128::from(self.mss) / (C_DEN * 100_000_000);
        (i128::from(self.w_max) + delta).clamp(0, i128::from(u32::MAX)) as u64
    }

    /// `K = cbrt((W_max - cwnd_epoch) / C)` (§4.2), 0 when `cwnd_epoch`
    /// is at or above `W_max`.
    fn compute_k(&self) -> Duration {
        let diff = u128::from(self.w_max.saturating_sub(self.cwnd_epoch));
        // In µs^3: diff/mss segments / C * 1e18.
        let c_den = C_DEN as u128;
        let c_num = C_NUM as u128;
        let n = diff * c_den * 1_000_000_000_000_000_000 / (c_num * u128::from(self.mss));
        Duration::from_micros(icbrt(n))
    }

    /// Starts a congestion avoidance stage at `now` (§4.2, §4.3, §4.8).
    fn start_epoch(&mut self, now: Instant) {
        self.epoch = Some(now);
        self.cwnd_epoch = self.cwnd;
        if self.after_rto || self.w_max <= self.cwnd {
            self.w_max = self.w_max.max(self.cwnd);
            if self.after_rto {
                self.w_max = self.cwnd;
            }
            self.k = Duration::ZERO;
        } else {
            self.k = self.compute_k();
        }
        self.after_rto = false;
        self.w_est = self.cwnd;
        self.est_acc = 0;
        self.cubic_acc = 0;
    }

    fn congestion_avoidance(&mut self, acked: u32, now: Instant) {
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                self.start_epoch(now);
                now
            }
        };
        let t = now.saturating_duration_since(epoch);
        let cwnd = u128::from(self.cwnd.max(1));
        let acked = u128::from(acked);

        // Reno-friendly region (§4.3): W_est += alpha * acked_segments / cwnd_segments.
        let (num, den) = if self.w_est >= self.cwnd_prior {
            (1, 1)
        } else {
            (ALPHA_NUM, ALPHA_DEN)
        };
        // The remainders stay below `unit` (< 17 * 2^32), so they are
        // stored in 64 bits and only the products need 128.
        let est = u128::from(self.est_acc) + num * acked * u128::from(self.mss);
        let unit = den * cwnd;
        let inc = est / unit;
        self.est_acc = u64::try_from(est - inc * unit).unwrap_or(0);
        self.w_est = u32::try_from(u128::from(self.w_est) + inc).unwrap_or(u32::MAX);

        if self.w_cubic(t) < u64::from(self.w_est) {
            self.cwnd = self.cwnd.max(self.w_est);
            return;
        }
        // Concave and convex regions (§4.4, §4.5).
        let rtt = self.srtt.unwrap_or(Duration::ZERO);
        let target = u128::from(self.w_cubic(t.saturating_add(rtt))).clamp(cwnd, cwnd * 3 / 2);
        let acc = u128::from(self.cubic_acc) + (target - cwnd) * acked;
        let inc = acc / cwnd;
        self.cubic_acc = u64::try_from(acc - inc * cwnd).unwrap_or(0);
        self.cwnd = u32::try_from(cwnd + inc).unwrap_or(u32::MAX);
    }

    fn save(&mut self) {
        self.prior = Some(Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            cwnd_prior: self.cwnd_prior,
            after_rto: self.after_rto,
            epoch: self.epoch,
            cwnd_epoch: self.cwnd_epoch,
            k: self.k,
            w_est: self.w_est,
        });
    }

    /// `ssthresh = max(beta * flight, 2*mss)` (§4.6).
    fn reduced(&self, in_flight: u32) -> u32 {
        let s = u64::from(in_flight) * BETA_NUM / BETA_DEN;
        (s as u32).max(self.mss.saturating_mul(2))
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
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

    fn on_ack(&mut self, ev: &AckEvent, now: Instant) {
        self.started = true;
        self.in_rto = false;
        if let Some(r) = ev.rtt {
            self.srtt = Some(match self.srtt {
                None => r,
                Some(s) => Duration::from_micros(
                    s.total_micros() - s.total_micros() / 8 + r.total_micros() / 8,
                ),
            });
        }
        if ev.app_limited {
            self.app_limited_since.get_or_insert(now);
            return;
        }
        if let Some(since) = self.app_limited_since.take()
            && let Some(e) = self.epoch
        {
            // §5.8: t must not include application-limited periods.
            self.epoch = Some(e.saturating_add(now.saturating_duration_since(since)));
        }
        if ev.acked == 0 {
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
        self.congestion_avoidance(acked, now);
    }

    fn on_loss(&mut self, in_flight: u32, _now: Instant) {
        self.started = true;
        self.save();
        let cwnd = self.cwnd;
        // §4.7 fast convergence: W_max = cwnd * (1 + beta) / 2 when the
        // window did not reach the previous W_max.
        self.w_max = if self.fast_convergence && cwnd < self.w_max {
            (u64::from(cwnd) * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN)) as u32
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.ssthresh = self.reduced(in_flight);
        self.cwnd = self.ssthresh;
        // A loss detected by ACKs sets a real W_max: the timeout rule of
        // §4.8 no longer applies.
        self.after_rto = false;
        self.epoch = None;
        self.k = Duration::ZERO;
        self.app_limited_since = None;
    }

    fn on_recovery_exit(&mut self, _now: Instant) {
        self.cwnd = self.cwnd.min(self.ssthresh);
        self.epoch = None;
    }

    fn on_rto(&mut self, in_flight: u32, _now: Instant) {
        self.started = true;
        if !self.in_rto {
            self.save();
            // §4.8: ssthresh as on loss (beta_cubic); W_max is set when
            // congestion avoidance resumes.
            self.cwnd_prior = self.cwnd;
            self.ssthresh = self.reduced(in_flight);
            self.in_rto = true;
        }
        self.cwnd = self.mss;
        self.after_rto = true;
        self.epoch = None;
        self.k = Duration::ZERO;
        self.app_limited_since = None;
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        self.cwnd = self.cwnd.min(initial_window(self.mss));
        self.epoch = None;
        self.app_limited_since = None;
    }

    fn on_spurious_congestion(&mut self, _now: Instant) {
        // §4.9: restore the state of before the congestion event.
        let Some(p) = self.prior.take() else { return };
        self.cwnd = self.cwnd.max(p.cwnd);
        self.ssthresh = p.ssthresh;
        self.w_max = p.w_max;
        self.cwnd_prior = p.cwnd_prior;
        self.after_rto = p.after_rto;
        self.epoch = p.epoch;
        self.cwnd_epoch = p.cwnd_epoch;
        self.k = p.k;
        self.w_est = p.w_est;
        self.est_acc = 0;
        self.cubic_acc = 0;
        self.in_rto = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::{Rng, SeededRng};

    const MSS: u32 = 1000;

    fn ack(acked: u32, rtt_ms: u64) -> AckEvent {
        AckEvent {
            acked,
            rtt: Some(Duration::from_millis(rtt_ms)),
            in_flight: 0,
            app_limited: false,
        }
    }

    /// A CUBIC at `segs` segments that has just lost: W_max = segs.
    fn after_loss(segs: u32) -> Cubic {
        let mut cc = Cubic::new(MSS);
        cc.on_loss(segs * MSS * 2, Instant::ZERO); // ssthresh = 1.4 segs
        cc.cwnd = segs * MSS;
        cc.w_max = 0;
        cc.on_loss(segs * MSS, Instant::ZERO);
        cc
    }

    /// Acknowledges one window per RTT, one segment per ACK, from `from`
    /// for `rtts` round trips; returns the time reached.
    fn run(cc: &mut Cubic, from: Instant, rtt_ms: u64, rtts: u32) -> Instant {
        let mut now = from;
        for _ in 0..rtts {
            let segs = cc.window() / MSS;
            for _ in 0..segs {
                cc.on_ack(&ack(MSS, rtt_ms), now);
            }
            now += Duration::from_millis(rtt_ms);
        }
        now
    }

    #[test]
    fn icbrt_is_the_floor_of_the_cube_root() {
        for (n, r) in [
            (0, 0),
            (1, 1),
            (7, 1),
            (8, 2),
            (63, 3),
            (64, 4),
            (999, 9),
            (1000, 10),
        ] {
            assert_eq!(icbrt(n), r);
        }
        let mut rng = SeededRng::new(0x5eed_0005);
        for _ in 0..2000 {
            let bits = rng.below(128);
            let n = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) >> bits;
            let r = u128::from(icbrt(n));
            assert!(r * r * r <= n);
            let r1 = r + 1;
            assert!(
                r1.checked_mul(r1)
                    .and_then(|x| x.checked_mul(r1))
                    .is_none_or(|c| c > n)
            );
        }
    }

    #[test]
    fn loss_reduces_by_beta_0_7() {
        // RFC 9438 §4.6: ssthresh = flight * beta_cubic, cwnd = ssthresh,
        // at least 2 SMSS.
        let cc = after_loss(100);
        assert_eq!(cc.window(), 70_000);
        assert_eq!(cc.ssthresh(), 70_000);
        assert_eq!(cc.w_max(), 100_000);
        let mut small = Cubic::new(MSS);
        small.on_loss(1000, Instant::ZERO);
        assert_eq!(small.window(), 2000);
    }

    #[test]
    fn fast_convergence_lowers_w_max_below_the_previous_one() {
        // RFC 9438 §4.7: cwnd < W_max → W_max = cwnd * (1 + beta) / 2.
        let mut cc = after_loss(100);
        cc.cwnd = 80_000;
        cc.on_loss(80_000, Instant::ZERO);
        assert_eq!(cc.w_max(), 68_000);
        let mut off = after_loss(100);
        off.set_fast_convergence(false);
        off.cwnd = 80_000;
        off.on_loss(80_000, Instant::ZERO);
        assert_eq!(off.w_max(), 80_000);
    }

    #[test]
    fn k_is_the_time_to_regain_w_max() {
        // RFC 9438 §4.2: K = cbrt((W_max - cwnd_epoch) / C) = cbrt(75) s.
        let mut cc = after_loss(100);
        cc.on_ack(&ack(MSS, 100), Instant::from_secs(5));
        let k = cc.k().total_micros();
        assert!(k.abs_diff(4_217_163) <= 1, "{k}");
        // W_cubic(0) = cwnd_epoch, W_cubic(K) = W_max.
        assert!(cc.w_cubic(Duration::ZERO).abs_diff(70_000) <= 1);
        assert_eq!(cc.w_cubic(cc.k()), 100_000);
        // Convex beyond: W_max + C * 2^3 segments two seconds after K.
        let two_after = cc.k() + Duration::from_secs(2);
        assert!(cc.w_cubic(two_after).abs_diff(103_200) <= 1);
    }

    #[test]
    fn window_is_concave_up_to_w_max_then_convex() {
        // RFC 9438 §4.4 (concave region) and §4.5 (convex region), with a
        // 100 ms RTT where the cubic curve is above the Reno estimate.
        let mut cc = after_loss(100);
        let start = Instant::from_secs(10);
        let now = run(&mut cc, start, 100, 21); // t ≈ K/2
        let w = cc.window();
        assert!(w > 90_000 && w < 100_000, "{w}");
        assert!(cc.w_est() < w);
        let now = run(&mut cc, now, 100, 21); // t ≈ K
        let w = cc.window();
        assert!(w.abs_diff(100_000) <= 3_000, "{w}");
        assert!(cc.w_est() < w);
        run(&mut cc, now, 100, 30); // t ≈ K + 3 s
        let w = cc.window();
        assert!(w > 106_000 && w < 117_000, "{w}");
    }

    #[test]
    fn reno_friendly_region_wins_on_short_rtts() {
        // RFC 9438 §4.3: with a 1 ms RTT the cubic curve barely moves in
        // 200 ms, but a Reno flow would have grown by alpha (then 1) segment
        // per RTT: cwnd follows W_est.
        let mut cc = after_loss(100);
        let start = Instant::from_secs(10);
        let now = run(&mut cc, start, 1, 200);
        let t = now.saturating_duration_since(start);
        let w = cc.window();
        assert!(u64::from(w) > cc.w_cubic(t) + 50_000, "{w}");
        assert_eq!(w, cc.w_est());
        // alpha = 9/17 until W_est reaches cwnd_prior (100 segments), then 1.
        assert!(w > 200_000 && w < 260_000, "{w}");
    }

    #[test]
    fn growth_per_rtt_is_capped_at_half_the_window() {
        // RFC 9438 §4.4/4.5: target is at most 1.5 * cwnd.
        let mut cc = after_loss(100);
        cc.on_ack(&ack(MSS, 100), Instant::from_secs(1));
        let before = cc.window();
        // Hours later, W_cubic is huge; one RTT of ACKs still only adds 50%.
        let late = Instant::from_secs(1 + 3600);
        let segs = before / MSS;
        for _ in 0..segs {
            cc.on_ack(&ack(MSS, 100), late);
        }
        let after = cc.window();
        assert!(after <= before * 3 / 2 + MSS, "{before} {after}");
        assert!(after >= before * 14 / 10, "{before} {after}");
    }

    #[test]
    fn timeout_restarts_with_k_zero_and_w_max_at_the_epoch() {
        // RFC 9438 §4.8: cwnd = 1 SMSS, ssthresh by beta; the first
        // congestion avoidance stage after it uses K = 0 and W_max = cwnd
        // at its start.
        let mut cc = after_loss(100);
        cc.on_rto(70_000, Instant::from_secs(1));
        assert_eq!(cc.window(), MSS);
        assert_eq!(cc.ssthresh(), 49_000);
        cc.on_rto(1000, Instant::from_secs(2)); // repeated: ssthresh kept
        assert_eq!(cc.ssthresh(), 49_000);
        let mut now = Instant::from_secs(3);
        while cc.window() < cc.ssthresh() {
            cc.on_ack(&ack(MSS, 100), now);
            now += Duration::from_millis(1);
        }
        cc.on_ack(&ack(MSS, 100), now);
        assert_eq!(cc.k(), Duration::ZERO);
        assert_eq!(cc.w_max(), 49_000);
        // Convex from the start: W_cubic(1 s) = W_max + 0.4 segments.
        assert_eq!(cc.w_cubic(Duration::from_secs(1)), 49_400);
    }

    #[test]
    fn application_limited_time_is_excluded_from_t() {
        // RFC 9438 §5.8: no growth while application-limited, and t must
        // not include such periods.
        let mut a = after_loss(100);
        let mut b = after_loss(100);
        let t0 = Instant::from_secs(10);
        a.on_ack(&ack(MSS, 100), t0);
        b.on_ack(&ack(MSS, 100), t0);
        let idle = AckEvent {
            app_limited: true,
            ..ack(MSS, 100)
        };
        for s in 0..20 {
            a.on_ack(&idle, t0 + Duration::from_secs(s));
        }
        assert_eq!(a.window(), b.window());
        let t1 = t0 + Duration::from_secs(20);
        let ta = run(&mut a, t1, 100, 10);
        run(&mut b, t0, 100, 10);
        assert_eq!(ta, t1 + Duration::from_secs(1));
        assert!(
            a.window().abs_diff(b.window()) <= MSS,
            "{} {}",
            a.window(),
            b.window()
        );
    }

    #[test]
    fn a_loss_after_a_timeout_sets_w_max_normally() {
        // RFC 9438 §4.8 applies to the first congestion avoidance stage
        // after a timeout only if no fast-retransmit loss came in between.
        let mut cc = after_loss(100);
        cc.on_rto(70_000, Instant::from_secs(1));
        let mut now = Instant::from_secs(2);
        for _ in 0..30 {
            cc.on_ack(&ack(MSS, 100), now);
            now += Duration::from_millis(1);
        }
        let w = cc.window();
        cc.on_loss(w, now);
        cc.on_ack(&ack(MSS, 100), now);
        // Below the W_max of before the timeout: fast convergence (§4.7).
        assert_eq!(cc.w_max(), w * 17 / 20);
        assert!(cc.k() > Duration::ZERO);
    }

    #[test]
    fn a_spurious_congestion_event_is_undone() {
        // RFC 9438 §4.9: restore cwnd, ssthresh, W_max, K and the epoch.
        let mut cc = after_loss(100);
        cc.on_ack(&ack(MSS, 100), Instant::from_secs(1));
        let (w, s, wmax, k) = (cc.window(), cc.ssthresh(), cc.w_max(), cc.k());
        cc.on_loss(w, Instant::from_secs(2));
        assert!(cc.window() < w);
        cc.on_spurious_congestion(Instant::from_secs(2));
        assert_eq!(
            (cc.window(), cc.ssthresh(), cc.w_max(), cc.k()),
            (w, s, wmax, k)
        );
        // The epoch continues: growth resumes as if nothing happened.
        cc.on_ack(&ack(MSS, 100), Instant::from_secs(3));
        assert_eq!(cc.k(), k);
        // Nothing left to undo.
        let w = cc.window();
        cc.on_spurious_congestion(Instant::from_secs(3));
        assert_eq!(cc.window(), w);
    }

    #[test]
    fn idle_restart_returns_to_the_initial_window() {
        // RFC 5681 §4.1, which RFC 9438 keeps.
        let mut cc = after_loss(100);
        cc.on_idle_restart(Instant::from_secs(1));
        assert_eq!(cc.window(), 10_000);
        assert_eq!(cc.ssthresh(), 70_000);
    }

    /// Property test: under random events the window stays at least one
    /// MSS (two after a loss), never shrinks on an ACK, and never grows on
    /// an application-limited one.
    #[test]
    fn window_invariants_hold_under_random_events() {
        let mut rng = SeededRng::new(0x5eed_0006);
        for _ in 0..100 {
            let mss = 500 + rng.below(9000);
            let mut cc = Cubic::new(mss);
            let mut now = Instant::from_secs(1);
            for _ in 0..500 {
                now += Duration::from_micros(u64::from(rng.below(200_000)));
                let before = cc.window();
                match rng.below(20) {
                    0 => {
                        cc.on_loss(rng.below(before.saturating_mul(2).max(1)), now);
                        assert!(cc.window() >= 2 * mss);
                        assert_eq!(cc.window(), cc.ssthresh());
                    }
                    1 => {
                        cc.on_rto(rng.next_u32(), now);
                        assert_eq!(cc.window(), mss);
                    }
                    2 => cc.on_idle_restart(now),
                    3 => cc.on_recovery_exit(now),
                    4 => {
                        cc.on_spurious_congestion(now);
                        assert!(cc.window() >= before);
                    }
                    _ => {
                        let ev = AckEvent {
                            acked: rng.below(4 * mss),
                            rtt: Some(Duration::from_micros(u64::from(rng.below(300_000)))),
                            in_flight: before,
                            app_limited: rng.below(5) == 0,
                        };
                        cc.on_ack(&ev, now);
                        assert!(cc.window() >= before);
                        if ev.app_limited {
                            assert_eq!(cc.window(), before);
                        }
                    }
                }
                assert!(cc.window() >= mss);
            }
        }
    }
}
