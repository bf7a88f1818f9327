//! The ICMP output policy in one place: the never-an-error-about rules,
//! the rate limit, and the counters.

use core::fmt;
use core::net::Ipv4Addr;

use lamina_ipv4::Ipv4Header;
use lamina_netbuf::{Instant, Rng};

use crate::{
    Error, ErrorBuilder, ErrorContext, IcmpRepr, IcmpType, RateLimitConfig, RateLimiter,
    Suppression, should_send_error,
};

/// Why [`ErrorGenerator::error`] sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Suppressed {
    /// The rules forbid an error about this datagram
    /// ([`should_send_error`]).
    Policy(Suppression),
    /// The rate limit refused it (RFC 1812 §4.3.2.8).
    RateLimited,
    /// The message is not an error message, or the datagram cannot be
    /// quoted.
    Invalid(Error),
}

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Suppressed::Policy(s) => write!(f, "no ICMP error: datagram {s}"),
            Suppressed::RateLimited => f.write_str("no ICMP error: rate limited"),
            Suppressed::Invalid(e) => write!(f, "no ICMP error: {e}"),
        }
    }
}

/// What an [`ErrorGenerator`] sent and held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IcmpOutStats {
    /// Error messages handed out to be sent.
    pub errors_sent: u64,
    /// Error messages refused by the rate limit.
    pub errors_rate_limited: u64,
    /// Error messages refused by the rules, all reasons.
    pub errors_suppressed: u64,
    /// Error messages refused by the rules, by reason (indexed by
    /// [`Suppression::index`]).
    pub suppressed_by_reason: [u64; Suppression::ALL.len()],
    /// Error messages refused because the message or the datagram was
    /// unusable ([`Suppressed::Invalid`]).
    pub errors_invalid: u64,
    /// Replies (echo, timestamp, ...) allowed by
    /// [`reply_allowed`](ErrorGenerator::reply_allowed).
    pub replies_sent: u64,
    /// Replies refused by the rate limit.
    pub replies_rate_limited: u64,
}

impl IcmpOutStats {
    /// Errors refused for `reason`.
    #[inline]
    pub fn suppressed(&self, reason: Suppression) -> u64 {
        self.suppressed_by_reason
            .get(reason.index())
            .copied()
            .unwrap_or(0)
    }
}

/// Decides, message by message, whether ICMP output goes out: the rules
/// of RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7 for errors, then the
/// [`RateLimiter`], counting every outcome.
///
/// # Calling protocol
///
/// - Errors: call [`error`](Self::error) with the error message, the
///   offending datagram as received, what the caller knows about it
///   ([`ErrorContext`]) and `now`. `Ok` gives the
///   [`ErrorBuilder`] to wrap in an IPv4 header (see
///   [`error_ipv4_repr`](crate::error_ipv4_repr)) and send to the
///   offending datagram's source; `Err` says why nothing is sent.
/// - Replies: call [`reply_allowed`](Self::reply_allowed) before sending
///   an echo (or other query) reply; it applies the rate limit if the
///   reply's type is in the [mask](crate::RateMask) (not by default).
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{ErrorContext, ErrorGenerator, IcmpRepr, RateLimitConfig, Suppressed, Suppression};
/// use lamina_ipv4::{IpProtocol, Ipv4Repr};
/// use lamina_netbuf::{Instant, SeededRng, Serializer};
///
/// let mut errors = ErrorGenerator::new(RateLimitConfig::default(), &mut SeededRng::new(7));
/// let peer = Ipv4Addr::new(192, 0, 2, 9);
/// let me = Ipv4Addr::new(192, 0, 2, 1);
/// let udp = [0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]
///     .wrap_in(&Ipv4Repr::new(peer, me, IpProtocol::UDP))
///     .serialize_vec(0)?;
///
/// let ctx = ErrorContext::default();
/// let now = Instant::from_secs(1);
/// let err = errors.error(IcmpRepr::PORT_UNREACHABLE, udp.as_slice(), &ctx, now).unwrap();
/// assert_eq!(err.quote(), udp.as_slice());
///
/// // The same datagram sent as a link-layer broadcast earns nothing.
/// let bcast = ErrorContext { link_broadcast: true, ..ctx };
/// assert_eq!(
///     errors.error(IcmpRepr::PORT_UNREACHABLE, udp.as_slice(), &bcast, now).unwrap_err(),
///     Suppressed::Policy(Suppression::LinkBroadcast),
/// );
/// assert_eq!(errors.stats().errors_sent, 1);
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ErrorGenerator {
    limiter: RateLimiter,
    stats: IcmpOutStats,
}

impl ErrorGenerator {
    /// A generator with the rate limits of `config`; `rng` seeds the
    /// limiter (see [`RateLimiter::new`]).
    pub fn new<R: Rng + ?Sized>(config: RateLimitConfig, rng: &mut R) -> ErrorGenerator {
        ErrorGenerator {
            limiter: RateLimiter::new(config, rng),
            stats: IcmpOutStats::default(),
        }
    }

    /// The counters.
    #[inline]
    pub fn stats(&self) -> &IcmpOutStats {
        &self.stats
    }

    /// The rate limiter.
    #[inline]
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The error `repr` about `offending` (a whole datagram as received,
    /// or at least its header and the first 8 bytes of its payload),
    /// quoting as much of it as fits in a 576-byte reply (RFC 1812
    /// §4.3.2.3) — if the rules and the rate limit allow one at `now`.
    /// The rate limit is keyed by the offending datagram's source, where
    /// the error goes.
    pub fn error<'a>(
        &mut self,
        repr: IcmpRepr,
        offending: &'a [u8],
        ctx: &ErrorContext,
        now: Instant,
    ) -> Result<ErrorBuilder<'a>, Suppressed> {
        if let Err(reason) = should_send_error(offending, ctx) {
            self.stats.errors_suppressed += 1;
            if let Some(n) = self.stats.suppressed_by_reason.get_mut(reason.index()) {
                *n += 1;
            }
            return Err(Suppressed::Policy(reason));
        }
        let builder = match ErrorBuilder::new(repr, offending) {
            Ok(b) => b,
            Err(e) => {
                self.stats.errors_invalid += 1;
                return Err(Suppressed::Invalid(e));
            }
        };
        let dst = Ipv4Header::peek(offending)
            .map(|h| h.src())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        if !self.limiter.allow(repr.msg_type(), repr.code(), dst, now) {
            self.stats.errors_rate_limited += 1;
            return Err(Suppressed::RateLimited);
        }
        self.stats.errors_sent += 1;
        Ok(builder)
    }

    /// Whether a reply (echo reply, timestamp reply, ...) of `msg_type`
    /// to `dst` may be sent at `now`. Replies are limited only when their
    /// type is in the configured [mask](crate::RateMask).
    #[inline]
    pub fn reply_allowed(&mut self, msg_type: IcmpType, dst: Ipv4Addr, now: Instant) -> bool {
        if self.limiter.allow(msg_type, 0, dst, now) {
            self.stats.replies_sent += 1;
            true
        } else {
            self.stats.replies_rate_limited += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests;
