//! TCP sequence numbers: 32-bit counters compared modulo 2^32.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A TCP sequence (or acknowledgment) number.
///
/// Sequence numbers live in a circle of 2^32 values (RFC 9293 §3.4), so
/// arithmetic wraps and comparison is by signed distance, as in serial
/// number arithmetic (RFC 1982): `a` is before `b` when `b - a`, taken as a
/// signed 32-bit number, is positive. Such an order is not transitive
/// across the whole circle, which is why this type implements neither
/// `PartialOrd` nor `Ord`; use [`lt`](Self::lt), [`le`](Self::le),
/// [`gt`](Self::gt), [`ge`](Self::ge) and
/// [`in_window`](Self::in_window). Two numbers exactly 2^31 apart are each
/// "before" the other (RFC 1982 leaves that case undefined); TCP windows
/// are far smaller, so it never arises in a correct connection.
///
/// ```
/// use lamina_tcp::SeqNumber;
///
/// let near_end = SeqNumber(u32::MAX - 1);
/// let wrapped = near_end + 10;
/// assert_eq!(wrapped, SeqNumber(8));
/// assert!(near_end.lt(wrapped));
/// assert_eq!(wrapped - near_end, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The number as it goes on the wire.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self + n`, modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// `self - n`, modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn wrapping_sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }

    /// The signed distance from `other` to `self` (`self - other`): positive
    /// when `self` comes after `other`.
    #[inline]
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Whether `self` comes strictly before `other` (RFC 9293 §3.4 "<").
    #[inline]
    pub const fn lt(self, other: SeqNumber) -> bool {
        self.diff(other) < 0
    }

    /// Whether `self` comes before or is `other` ("=<").
    #[inline]
    pub const fn le(self, other: SeqNumber) -> bool {
        self.diff(other) <= 0
    }

    /// Whether `self` comes strictly after `other` (">").
    #[inline]
    pub const fn gt(self, other: SeqNumber) -> bool {
        self.diff(other) > 0
    }

    /// Whether `self` comes after or is `other` (">=").
    #[inline]
    pub const fn ge(self, other: SeqNumber) -> bool {
        self.diff(other) >= 0
    }

    /// The later of the two.
    #[inline]
    #[must_use]
    pub const fn max(self, other: SeqNumber) -> SeqNumber {
        if self.lt(other) { other } else { self }
    }

    /// The earlier of the two.
    #[inline]
    #[must_use]
    pub const fn min(self, other: SeqNumber) -> SeqNumber {
        if self.lt(other) { self } else { other }
    }

    /// Whether `self` lies in the `len` numbers starting at `start`,
    /// `start =< self < start + len` modulo 2^32: the receive-window test
    /// of RFC 9293 §3.10.7.4. Empty when `len` is 0.
    #[inline]
    pub const fn in_window(self, start: SeqNumber, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }
}

impl From<u32> for SeqNumber {
    #[inline]
    fn from(v: u32) -> SeqNumber {
        SeqNumber(v)
    }
}

impl From<SeqNumber> for u32 {
    #[inline]
    fn from(v: SeqNumber) -> u32 {
        v.0
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    /// Wrapping addition.
    #[inline]
    fn add(self, n: u32) -> SeqNumber {
        self.wrapping_add(n)
    }
}

impl AddAssign<u32> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, n: u32) {
        *self = self.wrapping_add(n);
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    /// Wrapping subtraction.
    #[inline]
    fn sub(self, n: u32) -> SeqNumber {
        self.wrapping_sub(n)
    }
}

impl SubAssign<u32> for SeqNumber {
    #[inline]
    fn sub_assign(&mut self, n: u32) {
        *self = self.wrapping_sub(n);
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = i32;
    /// The signed distance, as [`SeqNumber::diff`].
    #[inline]
    fn sub(self, other: SeqNumber) -> i32 {
        self.diff(other)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addition_wraps_at_2_pow_32_rfc9293_3_4() {
        assert_eq!(SeqNumber(u32::MAX) + 1, SeqNumber(0));
        assert_eq!(SeqNumber(0) - 1, SeqNumber(u32::MAX));
        let mut s = SeqNumber(u32::MAX - 2);
        s += 5;
        assert_eq!(s, SeqNumber(2));
        s -= 3;
        assert_eq!(s, SeqNumber(u32::MAX));
    }

    #[test]
    fn comparison_holds_across_wraparound_rfc1982() {
        let before = SeqNumber(u32::MAX - 5);
        let after = SeqNumber(4);
        assert!(before.lt(after) && before.le(after));
        assert!(after.gt(before) && after.ge(before));
        assert!(!after.lt(before) && !before.gt(after));
        assert_eq!(after - before, 10);
        assert_eq!(before - after, -10);
        assert_eq!(before.max(after), after);
        assert_eq!(before.min(after), before);
    }

    #[test]
    fn equal_numbers_are_neither_before_nor_after() {
        let s = SeqNumber(0x8000_0000);
        assert!(!s.lt(s) && !s.gt(s));
        assert!(s.le(s) && s.ge(s));
        assert_eq!(s - s, 0);
    }

    #[test]
    fn order_flips_at_half_the_circle_rfc1982_3_2() {
        let a = SeqNumber(0);
        assert!(a.lt(SeqNumber(0x7fff_ffff)));
        assert!(a.gt(SeqNumber(0x8000_0001)));
        // Exactly 2^31 apart: undefined in RFC 1982; here both are "before".
        let b = SeqNumber(0x8000_0000);
        assert!(a.lt(b) && b.lt(a));
    }

    #[test]
    fn window_test_handles_wraparound_rfc9293_3_10_7_4() {
        let start = SeqNumber(u32::MAX - 1);
        assert!(start.in_window(start, 1));
        assert!(SeqNumber(1).in_window(start, 4));
        assert!(!SeqNumber(2).in_window(start, 4));
        assert!(!SeqNumber(u32::MAX - 2).in_window(start, 4));
        assert!(!start.in_window(start, 0), "a zero window holds nothing");
    }

    #[test]
    fn displays_as_the_plain_number() {
        extern crate alloc;
        assert_eq!(alloc::format!("{}", SeqNumber(3_004_817_861)), "3004817861");
        assert_eq!(u32::from(SeqNumber::from(7)), 7);
    }
}
