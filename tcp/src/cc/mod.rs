//! Congestion control behind a trait, in the manner of Linux's
//! `tcp_congestion_ops`.
//!
//! The connection owns loss *detection* and *recovery* (RFC 6675 with the
//! [`Scoreboard`](crate::sack::Scoreboard), RFC 6582 without SACK) and the
//! retransmission timer; a [`CongestionControl`] only decides the
//! congestion window (`cwnd`) and slow-start threshold (`ssthresh`), told
//! about each event:
//!
//! | event | call |
//! |---|---|
//! | the MSS is known, before data | [`set_mss`](CongestionControl::set_mss) |
//! | new data cumulatively acknowledged, outside recovery | [`on_ack`](CongestionControl::on_ack) |
//! | loss detected by duplicate ACKs or SACK: recovery starts | [`on_loss`](CongestionControl::on_loss) |
//! | the recovery point is acknowledged | [`on_recovery_exit`](CongestionControl::on_recovery_exit) |
//! | the retransmission timer expired | [`on_rto`](CongestionControl::on_rto) |
//! | the sender was idle for more than an RTO | [`on_idle_restart`](CongestionControl::on_idle_restart) |
//! | the last reduction was spurious (optional) | [`on_spurious_congestion`](CongestionControl::on_spurious_congestion) |
//!
//! All windows are in bytes. Two algorithms are built in: [`NewReno`]
//! (RFC 5681 with appropriate byte counting, RFC 3465) and [`Cubic`]
//! (RFC 9438), the default; [`AnyCc`] picks one at run time from a
//! [`CcAlgorithm`]. Both start from the RFC 6928 initial window.
//!
//! ```
//! use lamina_netbuf::{Duration, Instant};
//! use lamina_tcp::cc::{AckEvent, AnyCc, CcAlgorithm, CongestionControl};
//!
//! let mut cc = AnyCc::new(CcAlgorithm::default(), 1460);
//! assert_eq!(cc.name(), "cubic");
//! assert_eq!(cc.window(), 14600); // RFC 6928: 10 segments
//!
//! // Slow start: an ACK of two segments grows cwnd by two segments.
//! let ev = AckEvent { acked: 2920, rtt: Some(Duration::from_millis(20)), in_flight: 14600, app_limited: false };
//! cc.on_ack(&ev, Instant::from_millis(20));
//! assert_eq!(cc.window(), 14600 + 2920);
//!
//! // A loss: CUBIC reduces to 0.7 of the flight (RFC 9438 §4.6).
//! cc.on_loss(17520, Instant::from_millis(40));
//! assert_eq!(cc.window(), 17520 * 7 / 10);
//! ```

use lamina_netbuf::{Duration, Instant};

pub mod cubic;
pub mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

/// A congestion control algorithm: the window policy of one connection.
///
/// Implementations decide `cwnd` and `ssthresh` only; see the
/// [module documentation](self) for which event calls what.
pub trait CongestionControl: core::fmt::Debug {
    /// A short lowercase name (`"newreno"`, `"cubic"`), as Linux's
    /// `net.ipv4.tcp_congestion_control`.
    fn name(&self) -> &'static str;

    /// The congestion window, in bytes.
    fn window(&self) -> u32;

    /// The slow-start threshold, in bytes (`u32::MAX` until the first
    /// congestion event: "arbitrarily high", RFC 5681 §3.1).
    fn ssthresh(&self) -> u32;

    /// Tells the algorithm the sender MSS, once it is known and before data
    /// is sent: while no data has been sent, the window becomes the initial
    /// window `min(10*mss, max(2*mss, 14600))` (RFC 6928 §2). Later calls
    /// (a path MTU change) only change the segment size used from then on.
    fn set_mss(&mut self, mss: u32);

    /// New data was cumulatively acknowledged outside recovery: grows the
    /// window (slow start or congestion avoidance, with appropriate byte
    /// counting, RFC 3465, L = 2*mss). Nothing grows when
    /// `ev.app_limited` (RFC 7661's spirit: an unused window is not
    /// validated).
    fn on_ack(&mut self, ev: &AckEvent, now: Instant);

    /// A loss was detected by duplicate ACKs or SACK and recovery starts:
    /// sets `ssthresh` and `cwnd = ssthresh` from the `in_flight` bytes
    /// (FlightSize). Any recovery-time window inflation (RFC 5681 §3.2
    /// steps 4–5 for peers without SACK) is the connection's business; with
    /// SACK, RFC 6675 sends while `pipe < cwnd`.
    fn on_loss(&mut self, in_flight: u32, now: Instant);

    /// Recovery ended (the recovery point was acknowledged): congestion
    /// avoidance resumes from `cwnd = ssthresh` (RFC 6582 §3.2 step 3,
    /// second option).
    fn on_recovery_exit(&mut self, now: Instant);

    /// The retransmission timer expired: `ssthresh` from the flight (for
    /// NewReno `max(in_flight/2, 2*mss)`, RFC 5681 eq. 4) — only on the
    /// first expiry of a series, since later ones see the flight already
    /// collapsed (RFC 5681 §3.1, "has not yet been resent by way of the
    /// retransmission timer") — and `cwnd` = 1 MSS (the loss window).
    fn on_rto(&mut self, in_flight: u32, now: Instant);

    /// The sender was idle for more than an RTO: `cwnd` drops to the
    /// restart window `min(IW, cwnd)` (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, now: Instant);

    /// The last reduction ([`on_loss`](Self::on_loss) or the first
    /// [`on_rto`](Self::on_rto) of a series) was found spurious — by
    /// D-SACK (RFC 3708), timestamps (Eifel, RFC 3522) or F-RTO
    /// (RFC 5682): restores the window state from before it (RFC 9438
    /// §4.9), never lowering the current window. Does nothing when there
    /// is no reduction to undo, or it was already undone. The default does
    /// nothing.
    fn on_spurious_congestion(&mut self, now: Instant) {
        let _ = now;
    }
}

/// What an acknowledgment did, for [`CongestionControl::on_ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckEvent {
    /// Bytes newly acknowledged cumulatively by this ACK.
    pub acked: u32,
    /// An RTT sample taken from this ACK, if any (Karn's rule applied).
    pub rtt: Option<Duration>,
    /// Bytes in flight (FlightSize) before this ACK.
    pub in_flight: u32,
    /// The sender was not using the whole window (too little data to
    /// send, or the receiver's window was the limit); the window does not
    /// grow.
    pub app_limited: bool,
}

/// The built-in algorithms, for configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CcAlgorithm {
    /// [`NewReno`]: RFC 5681 (with RFC 3465 byte counting).
    NewReno,
    /// [`Cubic`]: RFC 9438, as Linux, Windows and Apple stacks default to.
    #[default]
    Cubic,
}

/// A runtime choice between the built-in algorithms (what a connection
/// uses by default): a `match` per call instead of a `Box<dyn>`.
#[derive(Debug, Clone)]
pub enum AnyCc {
    /// RFC 5681 NewReno.
    NewReno(NewReno),
    /// RFC 9438 CUBIC.
    Cubic(Cubic),
}

impl AnyCc {
    /// A fresh instance of `alg` for a connection whose MSS is `mss` (for
    /// now; see [`CongestionControl::set_mss`]).
    pub fn new(alg: CcAlgorithm, mss: u32) -> AnyCc {
        match alg {
            CcAlgorithm::NewReno => AnyCc::NewReno(NewReno::new(mss)),
            CcAlgorithm::Cubic => AnyCc::Cubic(Cubic::new(mss)),
        }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> CcAlgorithm {
        match self {
            AnyCc::NewReno(_) => CcAlgorithm::NewReno,
            AnyCc::Cubic(_) => CcAlgorithm::Cubic,
        }
    }
}

impl From<NewReno> for AnyCc {
    fn from(c: NewReno) -> AnyCc {
        AnyCc::NewReno(c)
    }
}

impl From<Cubic> for AnyCc {
    fn from(c: Cubic) -> AnyCc {
        AnyCc::Cubic(c)
    }
}

macro_rules! delegate {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            AnyCc::NewReno($c) => $e,
            AnyCc::Cubic($c) => $e,
        }
    };
}

impl CongestionControl for AnyCc {
    fn name(&self) -> &'static str {
        delegate!(self, c => c.name())
    }
    fn window(&self) -> u32 {
        delegate!(self, c => c.window())
    }
    fn ssthresh(&self) -> u32 {
        delegate!(self, c => c.ssthresh())
    }
    fn set_mss(&mut self, mss: u32) {
        delegate!(self, c => c.set_mss(mss))
    }
    fn on_ack(&mut self, ev: &AckEvent, now: Instant) {
        delegate!(self, c => c.on_ack(ev, now))
    }
    fn on_loss(&mut self, in_flight: u32, now: Instant) {
        delegate!(self, c => c.on_loss(in_flight, now))
    }
    fn on_recovery_exit(&mut self, now: Instant) {
        delegate!(self, c => c.on_recovery_exit(now))
    }
    fn on_rto(&mut self, in_flight: u32, now: Instant) {
        delegate!(self, c => c.on_rto(in_flight, now))
    }
    fn on_idle_restart(&mut self, now: Instant) {
        delegate!(self, c => c.on_idle_restart(now))
    }
    fn on_spurious_congestion(&mut self, now: Instant) {
        delegate!(self, c => c.on_spurious_congestion(now))
    }
}

/// The initial window of RFC 6928 §2: `min(10*mss, max(2*mss, 14600))`
/// bytes.
pub const fn initial_window(mss: u32) -> u32 {
    let ten = mss.saturating_mul(10);
    let two = mss.saturating_mul(2);
    let floor = if two > 14600 { two } else { 14600 };
    if ten < floor { ten } else { floor }
}

/// Slow start with appropriate byte counting (RFC 3465 §2.2, RFC 5681
/// §3.1): grows `cwnd` by `min(acked, 2*mss)`, but not past `ssthresh`.
/// Returns the new window and the acknowledged bytes left over for
/// congestion avoidance once `ssthresh` is reached.
pub(crate) fn slow_start(cwnd: u32, ssthresh: u32, acked: u32, mss: u32) -> (u32, u32) {
    let inc = acked.min(mss.saturating_mul(2));
    let room = ssthresh.saturating_sub(cwnd);
    if inc < room {
        (cwnd.saturating_add(inc), 0)
    } else {
        (ssthresh.max(cwnd), acked - room.min(acked))
    }
}

/// The RFC 5681 eq. 4 threshold `max(flight/2, 2*mss)`.
pub(crate) fn half_flight(in_flight: u32, mss: u32) -> u32 {
    (in_flight / 2).max(mss.saturating_mul(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc6928() {
        // RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(1200), 12000);
        assert_eq!(initial_window(8960), 17920);
        assert_eq!(initial_window(65535), 131070);
        assert_eq!(initial_window(u32::MAX), u32::MAX);
    }

    #[test]
    fn slow_start_counts_bytes_up_to_two_segments_per_ack() {
        // RFC 3465 §2.2: cwnd += min(N, L*SMSS), L = 2.
        assert_eq!(slow_start(10_000, u32::MAX, 500, 1000), (10_500, 0));
        assert_eq!(slow_start(10_000, u32::MAX, 5000, 1000), (12_000, 0));
        // Reaching ssthresh: the rest goes to congestion avoidance.
        assert_eq!(slow_start(10_000, 10_500, 2000, 1000), (10_500, 1500));
    }

    #[test]
    fn any_cc_delegates_to_the_chosen_algorithm() {
        let mut a = AnyCc::new(CcAlgorithm::NewReno, 1000);
        let mut b = NewReno::new(1000);
        assert_eq!(a.name(), "newreno");
        assert_eq!(a.algorithm(), CcAlgorithm::NewReno);
        let now = Instant::from_secs(1);
        let ev = AckEvent {
            acked: 3000,
            rtt: None,
            in_flight: 10_000,
            app_limited: false,
        };
        a.on_ack(&ev, now);
        b.on_ack(&ev, now);
        assert_eq!(a.window(), b.window());
        a.on_loss(12_000, now);
        b.on_loss(12_000, now);
        assert_eq!((a.window(), a.ssthresh()), (b.window(), b.ssthresh()));
        assert_eq!(AnyCc::from(Cubic::new(1000)).name(), "cubic");
        assert_eq!(CcAlgorithm::default(), CcAlgorithm::Cubic);
    }
}
