//! Time for sans-I/O protocols: [`Instant`] and [`Duration`] with microsecond
//! resolution.
//!
//! Nothing in Lamina reads a clock. The caller passes `now` into every call
//! that needs it, and protocols answer with the next [`Instant`] at which
//! they want to be called again. Both types are plain `u64` microsecond
//! counts, so they work the same in a kernel, a unikernel, a simulation with
//! a fake clock, or a user-space process.
//!
//! Arithmetic never wraps silently: the operators (`+`, `-`, `*`) panic on
//! overflow exactly like `core::time::Duration` does, and every operation has
//! a `checked_*` form returning `Option` and a `saturating_*` form that clamps.
//! Use the saturating forms for deadlines computed from configuration (for
//! example `now.saturating_add(timeout)` with a timeout of [`Duration::MAX`]
//! meaning "never").

use core::fmt;
use core::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// A point in time, in microseconds since an epoch chosen by the caller
/// (boot, the start of a test, the Unix epoch: only differences matter).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: u64,
}

/// A span of time in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant { micros: 0 };
    /// The latest representable instant; useful as "never".
    pub const MAX: Instant = Instant { micros: u64::MAX };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    /// An instant `millis` milliseconds after the epoch (saturating at
    /// [`Instant::MAX`]).
    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// An instant `secs` seconds after the epoch (saturating at
    /// [`Instant::MAX`]).
    pub const fn from_secs(secs: u64) -> Instant {
        Instant {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    /// Whole milliseconds since the epoch.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1_000
    }

    /// Whole seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.micros / 1_000_000
    }

    /// `self + d`, or `None` on overflow.
    pub const fn checked_add(self, d: Duration) -> Option<Instant> {
        match self.micros.checked_add(d.micros) {
            Some(micros) => Some(Instant { micros }),
            None => None,
        }
    }

    /// `self - d`, or `None` if that would be before the epoch.
    pub const fn checked_sub(self, d: Duration) -> Option<Instant> {
        match self.micros.checked_sub(d.micros) {
            Some(micros) => Some(Instant { micros }),
            None => None,
        }
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(d.micros),
        }
    }

    /// `self - d`, clamped to [`Instant::ZERO`].
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_sub(d.micros),
        }
    }

    /// The time elapsed from `earlier` to `self`, or `None` if `earlier` is
    /// later than `self`.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.micros.checked_sub(earlier.micros) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is
    /// later than `self` (a clock that went backwards).
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(earlier.micros),
        }
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };
    /// The longest representable span; useful as "forever".
    pub const MAX: Duration = Duration { micros: u64::MAX };
    /// One microsecond.
    pub const MICROSECOND: Duration = Duration { micros: 1 };
    /// One millisecond.
    pub const MILLISECOND: Duration = Duration { micros: 1_000 };
    /// One second.
    pub const SECOND: Duration = Duration { micros: 1_000_000 };

    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Duration {
        Duration { micros }
    }

    /// A span of `millis` milliseconds (saturating at [`Duration::MAX`]).
    pub const fn from_millis(millis: u64) -> Duration {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// A span of `secs` seconds (saturating at [`Duration::MAX`]).
    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The span in microseconds.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    /// The span in whole milliseconds.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1_000
    }

    /// The span in whole seconds.
    pub const fn secs(self) -> u64 {
        self.micros / 1_000_000
    }

    /// Whether this is a zero-length span.
    pub const fn is_zero(self) -> bool {
        self.micros == 0
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Duration) -> Option<Duration> {
        match self.micros.checked_add(other.micros) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self - other`, or `None` if `other` is longer.
    pub const fn checked_sub(self, other: Duration) -> Option<Duration> {
        match self.micros.checked_sub(other.micros) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self * n`, or `None` on overflow.
    pub const fn checked_mul(self, n: u64) -> Option<Duration> {
        match self.micros.checked_mul(n) {
            Some(micros) => Some(Duration { micros }),
            None => None,
        }
    }

    /// `self + other`, clamped to [`Duration::MAX`].
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(other.micros),
        }
    }

    /// `self - other`, clamped to zero.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(other.micros),
        }
    }

    /// `self * n`, clamped to [`Duration::MAX`].
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration {
            micros: self.micros.saturating_mul(n),
        }
    }

    /// The shorter of two spans.
    pub const fn min(self, other: Duration) -> Duration {
        if self.micros <= other.micros {
            self
        } else {
            other
        }
    }

    /// The longer of two spans.
    pub const fn max(self, other: Duration) -> Duration {
        if self.micros >= other.micros {
            self
        } else {
            other
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// On overflow; use [`Instant::saturating_add`] or
    /// [`Instant::checked_add`] where that can happen.
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d)
            .expect("overflow when adding a Duration to an Instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// If the result would be before the epoch.
    fn sub(self, d: Duration) -> Instant {
        self.checked_sub(d)
            .expect("overflow when subtracting a Duration from an Instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// # Panics
    /// If `rhs` is later than `self`; use
    /// [`Instant::saturating_duration_since`] where that can happen.
    fn sub(self, rhs: Instant) -> Duration {
        self.checked_duration_since(rhs)
            .expect("overflow when subtracting a later Instant")
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        self.checked_add(rhs)
            .expect("overflow when adding Durations")
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        self.checked_sub(rhs)
            .expect("overflow when subtracting Durations")
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, n: u64) -> Duration {
        self.checked_mul(n)
            .expect("overflow when multiplying a Duration")
    }
}

impl Div<u64> for Duration {
    type Output = Duration;
    /// # Panics
    /// If `n` is zero.
    fn div(self, n: u64) -> Duration {
        Duration {
            micros: self.micros / n,
        }
    }
}

impl From<core::time::Duration> for Duration {
    /// Converts, truncating below a microsecond and saturating at
    /// [`Duration::MAX`].
    fn from(d: core::time::Duration) -> Duration {
        Duration {
            micros: u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> core::time::Duration {
        core::time::Duration::from_micros(d.micros)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Instant({}.{:06}s)",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros.is_multiple_of(1_000_000) {
            write!(f, "{}s", self.micros / 1_000_000)
        } else if self.micros.is_multiple_of(1_000) {
            write!(f, "{}ms", self.micros / 1_000)
        } else {
            write!(f, "{}us", self.micros)
        }
    }
}

/// A clock backed by `std::time::Instant`, for callers running Lamina in a
/// normal process. Its epoch is the moment it was created.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    start: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    /// A clock whose epoch is now.
    pub fn new() -> StdClock {
        StdClock {
            start: std::time::Instant::now(),
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> Instant {
        let d = self.start.elapsed();
        Instant::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// The `std::time::Instant` that corresponds to `at` on this clock, for
    /// turning a `poll_at()` answer into a sleep deadline.
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.start
            .checked_add(core::time::Duration::from_micros(at.total_micros()))
            .unwrap_or_else(|| self.start + core::time::Duration::from_secs(u32::MAX as u64))
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        StdClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_agree() {
        assert_eq!(Instant::from_secs(2), Instant::from_millis(2_000));
        assert_eq!(Instant::from_millis(3), Instant::from_micros(3_000));
        assert_eq!(Duration::from_secs(1), Duration::SECOND);
        assert_eq!(Duration::from_millis(1500).total_millis(), 1500);
        assert_eq!(Duration::from_millis(1500).secs(), 1);
    }

    #[test]
    fn instant_arithmetic() {
        let t = Instant::from_secs(10);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(10_500));
        assert_eq!(t - Duration::from_secs(1), Instant::from_secs(9));
        assert_eq!(Instant::from_secs(12) - t, Duration::from_secs(2));
        assert_eq!(
            t.saturating_duration_since(Instant::from_secs(11)),
            Duration::ZERO
        );
        assert_eq!(t.checked_duration_since(Instant::from_secs(11)), None);
    }

    #[test]
    fn overflow_is_never_silent() {
        assert_eq!(Instant::MAX.checked_add(Duration::MICROSECOND), None);
        assert_eq!(Instant::MAX.saturating_add(Duration::SECOND), Instant::MAX);
        assert_eq!(Instant::ZERO.checked_sub(Duration::MICROSECOND), None);
        assert_eq!(Duration::MAX.checked_mul(2), None);
        assert_eq!(Duration::MAX.saturating_mul(2), Duration::MAX);
        assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
    }

    #[test]
    #[should_panic(expected = "overflow")]
    fn operator_overflow_panics() {
        let _ = Instant::MAX + Duration::MICROSECOND;
    }

    #[test]
    fn core_duration_round_trip() {
        let d = Duration::from_micros(1_234_567);
        let c: core::time::Duration = d.into();
        assert_eq!(Duration::from(c), d);
        assert_eq!(Duration::from(core::time::Duration::MAX), Duration::MAX);
    }

    #[test]
    fn display() {
        extern crate alloc;
        use alloc::format;
        assert_eq!(format!("{}", Duration::from_millis(200)), "200ms");
        assert_eq!(format!("{}", Duration::from_secs(3)), "3s");
        assert_eq!(format!("{}", Duration::from_micros(7)), "7us");
        assert_eq!(format!("{}", Instant::from_micros(1_000_001)), "1.000001s");
    }
}
