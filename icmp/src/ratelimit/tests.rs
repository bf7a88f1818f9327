//! Tests of the token buckets and the bounded destination table.

use core::net::Ipv4Addr;

use lamina_netbuf::rng::{Rng, SeededRng};
use lamina_netbuf::{Duration, Instant};

use crate::*;

const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
const T0: Instant = Instant::from_secs(100);
const UNREACH: IcmpType = IcmpType::DEST_UNREACHABLE;

fn limiter(config: RateLimitConfig) -> RateLimiter {
    RateLimiter::new(config, &mut SeededRng::new(11))
}

fn global_only() -> RateLimitConfig {
    RateLimitConfig {
        per_dest_interval: Duration::ZERO,
        randomize: false,
        ..RateLimitConfig::default()
    }
}

fn dest(i: u32) -> Ipv4Addr {
    Ipv4Addr::from_bits(0xc633_0000 | i)
}

#[test]
fn defaults_are_linuxs() {
    let c = RateLimitConfig::default();
    assert_eq!(c.mask, RateMask(0x1818));
    assert_eq!((c.global_rate, c.global_burst), (1000, 50));
    assert_eq!(c.per_dest_interval, Duration::from_millis(1000));
    assert_eq!(c.per_dest_burst, 6);
    assert!(!c.limit_frag_needed && !c.limit_loopback && c.randomize);
}

#[test]
fn global_bucket_allows_its_burst_then_its_rate_rfc_1812_section_4_3_2_8() {
    let mut l = limiter(global_only());
    let sent = (0..100)
        .filter(|i| l.allow(UNREACH, 3, dest(*i), T0))
        .count();
    assert_eq!(sent, 50);
    // 1000 a second: 10 more after 10 ms.
    let t = T0 + Duration::from_millis(10);
    let sent = (0..100)
        .filter(|i| l.allow(UNREACH, 3, dest(*i), t))
        .count();
    assert_eq!(sent, 10);
    assert_eq!(l.stats().denied_global, 50 + 90);
    assert_eq!(l.stats().allowed, 60);
    // Never more than the burst, however long the pause.
    let t = t + Duration::from_secs(3600);
    let sent = (0..100)
        .filter(|i| l.allow(UNREACH, 3, dest(*i), t))
        .count();
    assert_eq!(sent, 50);
}

#[test]
fn randomized_global_cost_averages_one_token() {
    let mut l = limiter(RateLimitConfig {
        randomize: true,
        ..global_only()
    });
    // Ten seconds at 1000/s, offered 5000/s.
    let mut sent = 0u32;
    for step in 0..50_000u64 {
        let t = T0 + Duration::from_micros(step * 200);
        sent += u32::from(l.allow(UNREACH, 3, dest(step as u32), t));
    }
    assert!((9_300..=10_700).contains(&sent), "{sent}");
}

#[test]
fn per_destination_bucket_allows_burst_then_one_per_interval_rfc_1812_section_4_3_2_8() {
    let mut l = limiter(RateLimitConfig::default());
    let sent = (0..20).filter(|_| l.allow(UNREACH, 3, PEER, T0)).count();
    assert_eq!(sent, 6);
    assert!(!l.allow(UNREACH, 3, PEER, T0 + Duration::from_millis(999)));
    assert!(l.allow(UNREACH, 3, PEER, T0 + Duration::from_millis(1000)));
    assert!(!l.allow(UNREACH, 3, PEER, T0 + Duration::from_millis(1001)));
    // Another destination has its own bucket.
    assert!(l.allow(UNREACH, 3, dest(1), T0));
    assert_eq!(l.stats().denied_per_dest, 14 + 2);
}

#[test]
fn a_per_destination_refusal_costs_no_global_token() {
    let mut l = limiter(RateLimitConfig {
        randomize: false,
        global_burst: 7,
        global_rate: 1,
        ..RateLimitConfig::default()
    });
    // 6 to PEER, then refusals by PEER's bucket that must not drain the
    // global bucket: one token is left for another destination.
    for _ in 0..50 {
        l.allow(UNREACH, 3, PEER, T0);
    }
    assert!(l.allow(UNREACH, 3, dest(1), T0));
    assert!(!l.allow(UNREACH, 3, dest(2), T0));
}

#[test]
fn echo_replies_are_not_limited_by_default_but_the_mask_is_configurable() {
    let mut l = limiter(RateLimitConfig::default());
    for _ in 0..1000 {
        assert!(l.allow(IcmpType::ECHO_REPLY, 0, PEER, T0));
    }
    assert_eq!(l.stats().unlimited, 1000);
    let mut l = limiter(RateLimitConfig {
        mask: RateMask::ERRORS.with(IcmpType::ECHO_REPLY),
        ..RateLimitConfig::default()
    });
    let sent = (0..20)
        .filter(|_| l.allow(IcmpType::ECHO_REPLY, 0, PEER, T0))
        .count();
    assert_eq!(sent, 6);
    // And unreachables can be let through entirely.
    let mut l = limiter(RateLimitConfig {
        mask: RateMask::ERRORS.without(UNREACH),
        ..RateLimitConfig::default()
    });
    assert!((0..100).all(|_| l.allow(UNREACH, 3, PEER, T0)));
    assert!(!RateMask::NONE.contains(UNREACH));
    assert!(!RateMask(u32::MAX).contains(IcmpType(40)));
    assert_eq!(RateMask::NONE.with(IcmpType(40)), RateMask::NONE);
}

#[test]
fn default_mask_covers_unreachable_quench_time_exceeded_parameter_problem() {
    let m = RateMask::default();
    for t in 0..=255u8 {
        assert_eq!(m.contains(IcmpType(t)), matches!(t, 3 | 4 | 11 | 12), "{t}");
    }
}

#[test]
fn fragmentation_needed_and_loopback_are_exempt_unless_configured() {
    let mut l = limiter(RateLimitConfig::default());
    assert!((0..100).all(|_| l.allow(UNREACH, 4, PEER, T0)));
    assert!((0..100).all(|_| l.allow(UNREACH, 3, Ipv4Addr::LOCALHOST, T0)));
    let mut l = limiter(RateLimitConfig {
        limit_frag_needed: true,
        limit_loopback: true,
        ..RateLimitConfig::default()
    });
    assert_eq!(
        (0..100).filter(|_| l.allow(UNREACH, 4, PEER, T0)).count(),
        6
    );
    assert_eq!(
        (0..100)
            .filter(|_| l.allow(UNREACH, 3, Ipv4Addr::LOCALHOST, T0))
            .count(),
        6
    );
}

#[test]
fn zero_capacity_keeps_no_state_and_only_the_global_bucket_limits() {
    let mut l = limiter(RateLimitConfig {
        per_dest_capacity: 0,
        randomize: false,
        ..RateLimitConfig::default()
    });
    assert_eq!(l.capacity(), 0);
    let sent = (0..100).filter(|_| l.allow(UNREACH, 3, PEER, T0)).count();
    assert_eq!(sent, 50);
    assert_eq!(l.tracked_destinations(), 0);
}

#[test]
fn zero_burst_refuses_every_limited_message() {
    let mut l = limiter(RateLimitConfig {
        per_dest_burst: 0,
        ..RateLimitConfig::default()
    });
    assert!(!l.allow(UNREACH, 3, PEER, T0));
    let mut l = limiter(RateLimitConfig {
        global_burst: 0,
        ..RateLimitConfig::default()
    });
    assert!(!l.allow(UNREACH, 3, PEER, T0 + Duration::from_secs(5)));
    // A zero rate turns the global bucket off instead.
    let mut l = limiter(RateLimitConfig {
        global_rate: 0,
        global_burst: 0,
        per_dest_interval: Duration::ZERO,
        ..RateLimitConfig::default()
    });
    assert!((0..1000).all(|i| l.allow(UNREACH, 3, dest(i), T0)));
}

#[test]
fn a_clock_going_backwards_refills_nothing() {
    let mut l = limiter(RateLimitConfig::default());
    let t = T0 + Duration::from_secs(10);
    assert_eq!((0..10).filter(|_| l.allow(UNREACH, 3, PEER, t)).count(), 6);
    assert!(!l.allow(UNREACH, 3, PEER, T0));
    assert!(!l.allow(UNREACH, 3, PEER, t));
    assert!(l.allow(UNREACH, 3, PEER, t + Duration::from_secs(1)));
}

#[test]
fn eviction_prefers_a_refilled_entry_then_the_least_recently_used() {
    // Capacity 4: a single set of 4 ways.
    let mut l4 = limiter(RateLimitConfig {
        per_dest_capacity: 4,
        ..RateLimitConfig::default()
    });
    assert_eq!(l4.capacity(), 4);
    // Drain 4 destinations at successive times (dest(0) least recent).
    for i in 0..4 {
        let t = T0 + Duration::from_millis(u64::from(i));
        while l4.allow(UNREACH, 3, dest(i), t) {}
    }
    assert_eq!(l4.tracked_destinations(), 4);
    // A fifth evicts the least recently used, dest(0)...
    let t = T0 + Duration::from_millis(10);
    assert!(l4.allow(UNREACH, 3, dest(4), t));
    assert_eq!(l4.stats().evictions, 1);
    // ...and dest(1..4) are still drained.
    for i in 1..4 {
        assert!(!l4.allow(UNREACH, 3, dest(i), t), "dest {i}");
    }
    // dest(0) comes back with a full bucket (and evicts another).
    assert!(l4.allow(UNREACH, 3, dest(0), t));
    assert_eq!(l4.tracked_destinations(), 4);
}

#[test]
fn an_entry_whose_bucket_refilled_is_evicted_before_a_drained_one() {
    // One set of 4 ways; one message per 10 s, burst 6.
    let mut l = limiter(RateLimitConfig {
        per_dest_capacity: 4,
        per_dest_interval: Duration::from_secs(10),
        ..RateLimitConfig::default()
    });
    for i in 1..4 {
        while l.allow(UNREACH, 3, dest(i), T0) {}
    }
    // dest(0): one message at T0 + 1 s; its bucket is full again at
    // T0 + 11 s, while dest(1..4) have earned one message each.
    assert!(l.allow(UNREACH, 3, dest(0), T0 + Duration::from_secs(1)));
    let t = T0 + Duration::from_secs(11);
    // LRU would evict dest(1); the refilled dest(0) goes instead.
    assert!(l.allow(UNREACH, 3, dest(9), t));
    for i in 1..4 {
        let sent = (0..10).filter(|_| l.allow(UNREACH, 3, dest(i), t)).count();
        assert_eq!(sent, 1, "dest {i} kept its drained bucket");
    }
}

/// Property: under a flood of random destinations and types at random
/// times, the table never tracks more than its capacity, the global
/// bucket never lets more than burst + rate × time through, and nothing
/// panics.
#[test]
fn table_and_buckets_stay_bounded_under_random_floods() {
    let mut rng = SeededRng::new(0xf100d);
    for round in 0..20 {
        let cap = rng.below(70) as usize;
        let config = RateLimitConfig {
            per_dest_capacity: cap,
            per_dest_burst: rng.below(8),
            per_dest_interval: Duration::from_micros(u64::from(rng.below(2_000_000))),
            global_rate: rng.below(5000),
            global_burst: rng.below(100),
            randomize: round % 2 == 0,
            ..RateLimitConfig::default()
        };
        let mut l = RateLimiter::new(config, &mut rng);
        let expected = if cap == 0 {
            0
        } else {
            cap.div_ceil(4).next_power_of_two() * 4
        };
        assert_eq!(l.capacity(), expected);
        let mut t = T0;
        let mut limited_sent = 0u64;
        for _ in 0..5000 {
            t += Duration::from_micros(u64::from(rng.below(3000)));
            let dst = Ipv4Addr::from_bits(rng.next_u32());
            let ty = IcmpType(rng.below(20) as u8);
            let code = rng.below(16) as u8;
            let limited = l.is_limited(ty, code, dst);
            if l.allow(ty, code, dst, t) && limited {
                limited_sent += 1;
            }
            assert!(l.tracked_destinations() <= l.capacity());
        }
        if config.global_rate > 0 {
            let elapsed = t.saturating_duration_since(T0).total_micros();
            let max = u64::from(config.global_burst)
                + elapsed * u64::from(config.global_rate) / 1_000_000
                + 1;
            // Randomized costs may be as low as half a token.
            let max = if config.randomize { max * 2 } else { max };
            assert!(limited_sent <= max, "{limited_sent} > {max}");
        }
    }
}
