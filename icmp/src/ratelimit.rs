//! Rate limiting of outgoing ICMP messages (RFC 1812 §4.3.2.8, RFC 1122
//! §3.2.2): a global token bucket and a bounded table of per-destination
//! buckets, as Linux has them.
//!
//! # The buckets
//!
//! - The **global** bucket holds up to
//!   [`global_burst`](RateLimitConfig::global_burst) tokens and refills at
//!   [`global_rate`](RateLimitConfig::global_rate) tokens a second (Linux
//!   `icmp_msgs_burst` = 50, `icmp_msgs_per_sec` = 1000). Each message
//!   sent costs one token on average: with
//!   [`randomize`](RateLimitConfig::randomize) (the default) the cost is
//!   drawn between ½ and 1½, so an observer cannot count the bucket to
//!   learn about other traffic (the side channel behind CVE-2020-25705,
//!   which Linux closed the same way).
//! - Each **destination** has a bucket allowing one message every
//!   [`per_dest_interval`](RateLimitConfig::per_dest_interval) with a
//!   burst of [`per_dest_burst`](RateLimitConfig::per_dest_burst) (Linux
//!   `icmp_ratelimit` = 1000 ms and its burst factor 6). The buckets live
//!   in a fixed table of
//!   [`per_dest_capacity`](RateLimitConfig::per_dest_capacity) entries,
//!   4-way set associative under a hash keyed from the caller's
//!   [`Rng`], so a flood of destinations cannot grow memory or aim at one
//!   entry. A destination that is not in the table starts with a full
//!   bucket; when its set is full, an entry whose bucket has refilled
//!   (it holds no information) is replaced first, else the least recently
//!   used one.
//!
//! A message is sent only if both buckets allow it, and only then are
//! tokens taken from both. Only the types in
//! [`mask`](RateLimitConfig::mask) are limited (by default destination
//! unreachable, source quench, time exceeded and parameter problem:
//! Linux `icmp_ratemask` = `0x1818`), so echo replies are not, unless
//! their type is added. Two exemptions follow Linux: "fragmentation
//! needed" (Path MTU Discovery breaks if it is lost), and messages to a
//! loopback address.
//!
//! # Calling protocol
//!
//! Call [`RateLimiter::allow`] once per message about to be sent, with
//! `now`; `true` means send it (tokens were taken), `false` drop it.
//! Nothing else needs driving: buckets refill lazily from the time
//! elapsed, and a clock that goes backwards refills nothing.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use lamina_netbuf::{Duration, Instant, Rng, SeededRng};

use crate::{IcmpType, UnreachableCode};

/// Which ICMP types are rate limited: bit `n` set limits type `n`
/// (types 32 and above are never limited), as Linux's `icmp_ratemask`.
///
/// ```
/// use lamina_icmp::{IcmpType, RateMask};
///
/// let mask = RateMask::default();
/// assert!(mask.contains(IcmpType::DEST_UNREACHABLE));
/// assert!(!mask.contains(IcmpType::ECHO_REPLY));
/// assert!(mask.with(IcmpType::ECHO_REPLY).contains(IcmpType::ECHO_REPLY));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateMask(pub u32);

impl RateMask {
    /// Destination unreachable (3), source quench (4), time exceeded
    /// (11) and parameter problem (12): Linux's default `0x1818`.
    pub const ERRORS: RateMask = RateMask(0x1818);
    /// Nothing is limited.
    pub const NONE: RateMask = RateMask(0);

    /// Whether messages of type `t` are limited.
    #[inline]
    pub const fn contains(self, t: IcmpType) -> bool {
        t.0 < 32 && self.0 & (1 << t.0) != 0
    }

    /// This mask with type `t` added (types from 32 cannot be).
    #[inline]
    pub const fn with(self, t: IcmpType) -> RateMask {
        if t.0 < 32 {
            RateMask(self.0 | 1 << t.0)
        } else {
            self
        }
    }

    /// This mask with type `t` removed.
    #[inline]
    pub const fn without(self, t: IcmpType) -> RateMask {
        if t.0 < 32 {
            RateMask(self.0 & !(1 << t.0))
        } else {
            self
        }
    }
}

impl Default for RateMask {
    fn default() -> RateMask {
        RateMask::ERRORS
    }
}

/// The limits of a [`RateLimiter`]; the defaults are Linux's.
///
/// ```
/// use lamina_icmp::RateLimitConfig;
/// use lamina_netbuf::Duration;
///
/// let mut config = RateLimitConfig::default();
/// assert_eq!(config.global_rate, 1000);
/// config.per_dest_interval = Duration::from_millis(250);
/// ```
///
/// Zero values mean what the field says they mean; none makes the limiter
/// panic or allocate beyond `per_dest_capacity` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// The types limited (default [`RateMask::ERRORS`]).
    pub mask: RateMask,
    /// Global refill rate in messages per second (Linux
    /// `icmp_msgs_per_sec`; default 1000). Zero turns the global bucket
    /// off: no global limit.
    pub global_rate: u32,
    /// Global bucket size in messages (Linux `icmp_msgs_burst`; default
    /// 50).
    pub global_burst: u32,
    /// Draw each message's global cost between ½ and 1½ tokens instead of
    /// exactly 1 (default true; see the [module documentation](self)).
    pub randomize: bool,
    /// The per-destination interval: one message per interval (Linux
    /// `icmp_ratelimit`; default 1000 ms). Zero turns per-destination
    /// limiting off.
    pub per_dest_interval: Duration,
    /// The per-destination burst, in messages (Linux's
    /// `XRLIM_BURST_FACTOR`; default 6).
    pub per_dest_burst: u32,
    /// Destinations tracked at once (default 256; rounded up to a multiple
    /// of 4). Zero keeps no per-destination state, so every destination
    /// looks new and only the global bucket limits.
    pub per_dest_capacity: usize,
    /// Limit "fragmentation needed" too (default false: Linux exempts it,
    /// because Path MTU Discovery depends on it).
    pub limit_frag_needed: bool,
    /// Limit messages to loopback addresses too (default false, as
    /// Linux).
    pub limit_loopback: bool,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            mask: RateMask::ERRORS,
            global_rate: 1000,
            global_burst: 50,
            randomize: true,
            per_dest_interval: Duration::from_millis(1000),
            per_dest_burst: 6,
            per_dest_capacity: 256,
            limit_frag_needed: false,
            limit_loopback: false,
        }
    }
}

/// What a [`RateLimiter`] decided, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateLimitStats {
    /// Messages allowed that were subject to limiting.
    pub allowed: u64,
    /// Messages allowed without limiting (type not in the mask, or
    /// exempt).
    pub unlimited: u64,
    /// Messages refused by the global bucket.
    pub denied_global: u64,
    /// Messages refused by their destination's bucket.
    pub denied_per_dest: u64,
    /// Per-destination entries replaced to make room for another.
    pub evictions: u64,
}

/// One token, in the global bucket's fixed-point unit.
const TOKEN: u64 = 1_000_000;

/// Ways per set of the destination table.
const WAYS: usize = 4;

#[derive(Debug, Clone, Copy)]
struct DestEntry {
    addr: Ipv4Addr,
    used: bool,
    /// Last refill.
    last: Instant,
    /// Credit, in microseconds of interval.
    tokens: u64,
}

const EMPTY: DestEntry = DestEntry {
    addr: Ipv4Addr::UNSPECIFIED,
    used: false,
    last: Instant::ZERO,
    tokens: 0,
};

/// A message's global cost, fixed point: one token, or uniformly between
/// ½ and 1½ when randomized.
fn draw_cost(rng: &mut SeededRng, randomize: bool) -> u64 {
    if randomize {
        TOKEN / 2 + u64::from(rng.below(u32::try_from(TOKEN).unwrap_or(u32::MAX) + 1))
    } else {
        TOKEN
    }
}

/// The global and per-destination ICMP rate limiter; see the [module
/// documentation](self).
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{IcmpType, RateLimitConfig, RateLimiter};
/// use lamina_netbuf::{Duration, Instant, SeededRng};
///
/// let mut limiter = RateLimiter::new(RateLimitConfig::default(), &mut SeededRng::new(1));
/// let peer = Ipv4Addr::new(192, 0, 2, 9);
/// let t = Instant::from_secs(10);
/// // A burst of 6 to one destination, then one a second.
/// let sent = (0..10).filter(|_| limiter.allow(IcmpType::TIME_EXCEEDED, 0, peer, t)).count();
/// assert_eq!(sent, 6);
/// assert!(limiter.allow(IcmpType::TIME_EXCEEDED, 0, peer, t + Duration::from_secs(1)));
/// // Echo replies are not limited by default.
/// assert!(limiter.allow(IcmpType::ECHO_REPLY, 0, peer, t));
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    rng: SeededRng,
    key: [u64; 2],
    global_tokens: u64,
    global_last: Instant,
    /// The cost of the next message sent, drawn when the previous one
    /// was sent: redrawing on every refusal would favour cheap draws and
    /// let more than the rate through.
    next_cost: u64,
    table: Vec<DestEntry>,
    /// `table.len() / WAYS - 1` when the table is not empty: the number of
    /// sets is a power of two.
    set_mask: usize,
    tracked: usize,
    stats: RateLimitStats,
}

impl RateLimiter {
    /// A limiter with full buckets. `rng` seeds the limiter's own
    /// generator (the random costs) and the key of its destination hash.
    pub fn new<R: Rng + ?Sized>(config: RateLimitConfig, rng: &mut R) -> RateLimiter {
        let sets = config
            .per_dest_capacity
            .div_ceil(WAYS)
            .checked_next_power_of_two()
            .unwrap_or(0);
        let len = if config.per_dest_capacity == 0 {
            0
        } else {
            sets.saturating_mul(WAYS)
        };
        let mut table = Vec::new();
        table.resize(len, EMPTY);
        let mut own = SeededRng::new(rng.next_u64());
        RateLimiter {
            config,
            next_cost: draw_cost(&mut own, config.randomize),
            rng: own,
            key: [rng.next_u64(), rng.next_u64()],
            global_tokens: u64::from(config.global_burst).saturating_mul(TOKEN),
            global_last: Instant::ZERO,
            table,
            set_mask: sets.saturating_sub(1),
            tracked: 0,
            stats: RateLimitStats::default(),
        }
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The counters.
    #[inline]
    pub fn stats(&self) -> &RateLimitStats {
        &self.stats
    }

    /// Destinations with a bucket in the table.
    #[inline]
    pub fn tracked_destinations(&self) -> usize {
        self.tracked
    }

    /// The table's size: the most destinations tracked at once.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.table.len()
    }

    /// Whether a message of `msg_type`/`code` to `dst` is subject to
    /// limiting at all.
    #[inline]
    pub fn is_limited(&self, msg_type: IcmpType, code: u8, dst: Ipv4Addr) -> bool {
        if !self.config.mask.contains(msg_type) {
            return false;
        }
        if !self.config.limit_frag_needed
            && msg_type == IcmpType::DEST_UNREACHABLE
            && code == UnreachableCode::FragmentationNeeded.value()
        {
            return false;
        }
        !dst.is_loopback() || self.config.limit_loopback
    }

    /// Whether a message of `msg_type`/`code` to `dst` may be sent at
    /// `now`; if so, its tokens are taken.
    #[inline]
    pub fn allow(&mut self, msg_type: IcmpType, code: u8, dst: Ipv4Addr, now: Instant) -> bool {
        if !self.is_limited(msg_type, code, dst) {
            self.stats.unlimited += 1;
            return true;
        }
        self.allow_limited(dst, now)
    }

    /// [`allow`](Self::allow) for a message subject to limiting (out of
    /// line: an unlimited one, an echo reply by default, is answered
    /// inline).
    #[inline(never)]
    fn allow_limited(&mut self, dst: Ipv4Addr, now: Instant) -> bool {
        // The global bucket: refill, then check without taking.
        let cost = self.next_cost;
        if self.config.global_rate > 0 {
            let elapsed = now.saturating_duration_since(self.global_last);
            self.global_last = self.global_last.max(now);
            let cap = u64::from(self.config.global_burst).saturating_mul(TOKEN);
            let refill = elapsed
                .total_micros()
                .saturating_mul(u64::from(self.config.global_rate));
            self.global_tokens = self.global_tokens.saturating_add(refill).min(cap);
            if self.global_tokens < cost {
                self.stats.denied_global += 1;
                return false;
            }
        }
        if !self.take_per_dest(dst, now) {
            self.stats.denied_per_dest += 1;
            return false;
        }
        if self.config.global_rate > 0 {
            self.global_tokens -= cost.min(self.global_tokens);
            self.next_cost = draw_cost(&mut self.rng, self.config.randomize);
        }
        self.stats.allowed += 1;
        true
    }

    /// A keyed hash of a destination (a 64-bit mixer over the address
    /// and two secret words).
    fn hash(&self, addr: Ipv4Addr) -> u64 {
        let mut x = u64::from(addr.to_bits()) ^ self.key[0];
        x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= self.key[1];
        x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    /// Refills `dst`'s bucket and takes one message's worth if it holds
    /// it.
    fn take_per_dest(&mut self, dst: Ipv4Addr, now: Instant) -> bool {
        let interval = self.config.per_dest_interval.total_micros();
        if interval == 0 {
            return true;
        }
        let cap = interval.saturating_mul(u64::from(self.config.per_dest_burst));
        if self.table.is_empty() {
            // No state: every destination looks new, with a full bucket.
            return cap >= interval;
        }
        let set = (self.hash(dst) as usize & self.set_mask) * WAYS;
        let Some(ways) = self.table.get_mut(set..set + WAYS) else {
            return true;
        };
        let refilled = |e: &DestEntry| {
            e.tokens
                .saturating_add(now.saturating_duration_since(e.last).total_micros())
                .min(cap)
        };
        let slot = match ways.iter().position(|e| e.used && e.addr == dst) {
            Some(i) => i,
            None => {
                // Free way, else one whose bucket is full again, else LRU.
                let i = ways
                    .iter()
                    .position(|e| !e.used)
                    .or_else(|| ways.iter().position(|e| refilled(e) >= cap))
                    .or_else(|| {
                        ways.iter()
                            .enumerate()
                            .min_by_key(|(_, e)| e.last)
                            .map(|(i, _)| i)
                    })
                    .unwrap_or(0);
                let Some(e) = ways.get_mut(i) else {
                    return true;
                };
                if e.used {
                    self.stats.evictions += 1;
                } else {
                    self.tracked += 1;
                }
                *e = DestEntry {
                    addr: dst,
                    used: true,
                    last: now,
                    tokens: cap,
                };
                i
            }
        };
        let Some(e) = ways.get_mut(slot) else {
            return true;
        };
        e.tokens = refilled(e);
        e.last = e.last.max(now);
        if e.tokens >= interval {
            e.tokens -= interval;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
