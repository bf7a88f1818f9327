//! Tests of the error generator: rules, rate limit and counters together.

use core::net::Ipv4Addr;
use std::vec::Vec;

use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::rng::SeededRng;
use lamina_netbuf::serialize::Serializer;
use lamina_netbuf::{Duration, Instant};

use crate::*;

const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const T0: Instant = Instant::from_secs(5);

fn udp_to(dst: Ipv4Addr, payload: usize) -> Vec<u8> {
    let mut body = std::vec![0x30, 0x39, 0, 99, 0, 0, 0, 0];
    body.resize(8 + payload, 0x5a);
    body.as_slice()
        .wrap_in(&Ipv4Repr::new(PEER, dst, IpProtocol::UDP))
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

fn generator() -> ErrorGenerator {
    ErrorGenerator::new(RateLimitConfig::default(), &mut SeededRng::new(3))
}

#[test]
fn port_unreachable_quotes_the_datagram_within_576_bytes_rfc_1812_section_4_3_2_3() {
    let mut g = generator();
    let big = udp_to(ME, 1400);
    let ctx = ErrorContext::default();
    let err = g.error(IcmpRepr::PORT_UNREACHABLE, &big, &ctx, T0).unwrap();
    let ip = Ipv4Packet::parse(&big).unwrap();
    let frame = err
        .wrap_in(&error_ipv4_repr(ip.header(), ME))
        .serialize_vec(0)
        .unwrap();
    assert!(frame.len() <= 576);
    let back = Ipv4Packet::parse_verified(frame.as_slice()).unwrap();
    assert_eq!(back.dst(), PEER);
    let icmp = IcmpPacket::parse_verified(back.payload()).unwrap();
    assert_eq!(icmp.quote().unwrap().ports(), Some((12345, 99)));
    assert_eq!(g.stats().errors_sent, 1);
}

#[test]
fn errors_to_one_source_are_rate_limited_rfc_1812_section_4_3_2_8() {
    let mut g = generator();
    let d = udp_to(ME, 0);
    let ctx = ErrorContext::default();
    let results: Vec<_> = (0..10)
        .map(|_| g.error(IcmpRepr::PORT_UNREACHABLE, &d, &ctx, T0))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 6);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == Suppressed::RateLimited)
    );
    assert_eq!(g.stats().errors_rate_limited, 4);
    assert!(
        g.error(
            IcmpRepr::PORT_UNREACHABLE,
            &d,
            &ctx,
            T0 + Duration::from_secs(1)
        )
        .is_ok()
    );
    assert_eq!(g.limiter().stats().denied_per_dest, 4);
}

#[test]
fn policy_refusals_are_counted_by_reason_and_cost_no_tokens() {
    let mut g = ErrorGenerator::new(
        RateLimitConfig {
            per_dest_burst: 1,
            ..RateLimitConfig::default()
        },
        &mut SeededRng::new(1),
    );
    let ctx = ErrorContext::default();
    for _ in 0..3 {
        assert_eq!(
            g.error(
                IcmpRepr::PORT_UNREACHABLE,
                &udp_to(Ipv4Addr::BROADCAST, 0),
                &ctx,
                T0
            )
            .unwrap_err(),
            Suppressed::Policy(Suppression::BroadcastDestination)
        );
    }
    assert_eq!(g.stats().errors_suppressed, 3);
    assert_eq!(g.stats().suppressed(Suppression::BroadcastDestination), 3);
    assert_eq!(g.stats().suppressed(Suppression::LinkBroadcast), 0);
    // The single token for PEER is still there.
    assert!(
        g.error(IcmpRepr::PORT_UNREACHABLE, &udp_to(ME, 0), &ctx, T0)
            .is_ok()
    );
}

#[test]
fn a_non_error_message_is_invalid() {
    let mut g = generator();
    let d = udp_to(ME, 0);
    let r = g.error(
        IcmpRepr::EchoReply {
            ident: 1,
            seq_no: 1,
        },
        &d,
        &ErrorContext::default(),
        T0,
    );
    assert_eq!(
        r.unwrap_err(),
        Suppressed::Invalid(Error::NotAnError { msg_type: 0 })
    );
    assert_eq!(g.stats().errors_invalid, 1);
    assert!(!std::format!("{}", Suppressed::RateLimited).is_empty());
}

#[test]
fn replies_are_limited_only_when_their_type_is_in_the_mask() {
    let mut g = generator();
    assert!((0..100).all(|_| g.reply_allowed(IcmpType::ECHO_REPLY, PEER, T0)));
    assert_eq!(g.stats().replies_sent, 100);
    let mut g = ErrorGenerator::new(
        RateLimitConfig {
            mask: RateMask::ERRORS.with(IcmpType::ECHO_REPLY),
            ..RateLimitConfig::default()
        },
        &mut SeededRng::new(2),
    );
    let sent = (0..100)
        .filter(|_| g.reply_allowed(IcmpType::ECHO_REPLY, PEER, T0))
        .count();
    assert_eq!(sent, 6);
    assert_eq!(g.stats().replies_rate_limited, 94);
}
