//! Fuzz target `icmp_policy`: the ICMP echo fast path, the error rules of
//! RFC 1122 §3.2.2 and the rate limiter of `lamina-icmp`, on an IPv4
//! datagram carrying ICMP (built from an arbitrary header and message, or
//! the raw input).
//!
//! - `echo_reply_datagram_in_place` either refuses and writes nothing, or
//!   turns an eligible request into a reply whose IPv4 header verifies,
//!   whose ICMP checksum verifies when the request's did, and which is
//!   byte for byte the reply the copy path (`EchoReply` in the documented
//!   header) builds; padding past the total length is untouched.
//! - `should_send_error` never allows an error about an ICMP error (or an
//!   unknown ICMP type), nor about anything `received_error` takes for an
//!   error; each refusal reason is true of the datagram; the generator
//!   agrees with it, and the error it builds is itself refused (an ICMP
//!   error never gets an error back) and reads back, with
//!   `received_error`, as about the offending datagram's flow.
//! - The rate limiter keeps its table within its capacity, and lets
//!   through no more than the global bucket allows, nor more per
//!   destination than its bucket allows while no destination can have
//!   been evicted.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_icmp::{
    EchoReply, ErrorContext, ErrorGenerator, IcmpPacket, IcmpRepr, IcmpType, RateLimitConfig,
    RateMask, ReplyIpFields, Suppressed, Suppression, echo_reply_datagram_in_place,
    error_ipv4_repr, received_error, should_send_error,
};
use lamina_ipv4::{IpProtocol, Ipv4AddrExt, Ipv4Header, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::{Duration, Instant, SeededRng, Serializer};

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// Sources for built datagrams (few, so that per-destination buckets are
/// exercised and cannot be evicted).
const PEERS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(192, 0, 2, 9),
    Ipv4Addr::new(198, 51, 100, 7),
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(203, 0, 113, 200),
];

#[derive(Debug, Arbitrary)]
enum Datagram {
    /// An Echo Request in a built header.
    Echo {
        header: Ipv4Repr,
        ident: u16,
        seq_no: u16,
        data: Vec<u8>,
        /// Corrupt the ICMP checksum.
        corrupt: bool,
        padding: u8,
    },
    /// Any ICMP message in a built header.
    Message {
        header: Ipv4Repr,
        peer: u8,
        message: IcmpRepr,
        body: Vec<u8>,
    },
    /// The bytes as they come.
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Step {
    datagram: Datagram,
    ctx: (bool, bool, bool, bool),
    reply: (Ipv4Addr, u8, u16),
    error: u8,
    advance_ms: u16,
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

struct Limits {
    start: Instant,
    per_dest: BTreeMap<Ipv4Addr, (Instant, u64)>,
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let config = {
        let mut c = RateLimitConfig::default();
        c.mask = RateMask(u.arbitrary()?);
        c.global_rate = u.int_in_range(0..=2000)?;
        c.global_burst = u.int_in_range(0..=60)?;
        c.randomize = u.arbitrary()?;
        c.per_dest_interval = Duration::from_millis(u.int_in_range(0..=2000)?);
        c.per_dest_burst = u.int_in_range(0..=8)?;
        c.per_dest_capacity = u.int_in_range(0..=40)?;
        c.limit_frag_needed = u.arbitrary()?;
        c.limit_loopback = u.arbitrary()?;
        c
    };
    let mut generator = ErrorGenerator::new(config, &mut SeededRng::new(u.arbitrary()?));
    let cap = generator.limiter().capacity();
    assert!(cap >= config.per_dest_capacity && cap <= 2 * (config.per_dest_capacity + 3));
    let mut now = Instant::from_secs(1);
    let mut limits = Limits {
        start: now,
        per_dest: BTreeMap::new(),
    };
    let mut calls = 0u64;
    let mut steps = 0;
    while !u.is_empty() && steps < 64 {
        steps += 1;
        let step: Step = u.arbitrary()?;
        now += Duration::from_millis(u64::from(step.advance_ms));
        let bytes = build(step.datagram);
        let ctx = ErrorContext {
            link_broadcast: step.ctx.0,
            dst_is_broadcast: step.ctx.1,
            src_is_broadcast: step.ctx.2,
            loopback_interface: step.ctx.3,
        };
        let fields = ReplyIpFields {
            src: step.reply.0,
            ttl: step.reply.1,
            identification: step.reply.2,
        };
        echo_in_place(&bytes, &fields);
        policy(&bytes, &ctx);
        let repr = match step.error % 4 {
            0 => IcmpRepr::PORT_UNREACHABLE,
            1 => IcmpRepr::TTL_EXCEEDED,
            2 => IcmpRepr::fragmentation_needed(1280),
            _ => IcmpRepr::parameter_problem(step.error),
        };
        calls += 1;
        let allowed = should_send_error(&bytes, &ctx);
        let before = generator.limiter().stats().allowed;
        match generator.error(repr, &bytes, &ctx, now) {
            Ok(builder) => {
                assert_eq!(allowed, Ok(()));
                let header = Ipv4Header::peek(&bytes).expect("allowed means readable");
                count(&generator, &mut limits, before, header.src(), now);
                let ip = error_ipv4_repr(header, LOCAL);
                let err = builder
                    .wrap_in(&ip)
                    .serialize_vec(0)
                    .expect("an error builds");
                assert!(err.len() <= 576, "RFC 1812 §4.3.2.3: {} bytes", err.len());
                // RFC 1122 §3.2.2: no error about an ICMP error.
                assert_eq!(
                    should_send_error(err.as_slice(), &ErrorContext::default()),
                    Err(Suppression::AboutIcmpError)
                );
                let p = Ipv4Packet::parse_verified(err.as_slice()).expect("error parses");
                let icmp = IcmpPacket::parse_verified(p.payload()).expect("error verifies");
                assert!(icmp.is_error());
                let got = received_error(&icmp).expect("our error reads back");
                assert_eq!(
                    (got.flow.src, got.flow.dst, got.flow.protocol),
                    (header.src(), header.dst(), header.protocol())
                );
            }
            Err(Suppressed::Policy(reason)) => assert_eq!(allowed, Err(reason)),
            Err(Suppressed::RateLimited) => assert_eq!(allowed, Ok(())),
            Err(Suppressed::Invalid(_)) => assert_eq!(allowed, Ok(())),
            Err(other) => panic!("unexpected {other:?}"),
        }
        let dst = step.reply.0;
        let before = generator.limiter().stats().allowed;
        if generator.reply_allowed(IcmpType::ECHO_REPLY, dst, now) {
            count(&generator, &mut limits, before, dst, now);
        }
        check_limits(&generator, &limits, now);
        let s = generator.stats();
        assert_eq!(
            s.errors_sent + s.errors_suppressed + s.errors_rate_limited + s.errors_invalid,
            calls
        );
        assert_eq!(
            s.suppressed_by_reason.iter().sum::<u64>(),
            s.errors_suppressed
        );
    }
    Ok(())
}

/// Records a message the limiter let through, if it was subject to it.
fn count(g: &ErrorGenerator, l: &mut Limits, before: u64, dst: Ipv4Addr, now: Instant) {
    if g.limiter().stats().allowed > before {
        let e = l.per_dest.entry(dst).or_insert((now, 0));
        e.1 += 1;
    }
}

fn check_limits(g: &ErrorGenerator, l: &Limits, now: Instant) {
    let lim = g.limiter();
    let c = lim.config();
    assert!(lim.tracked_destinations() <= lim.capacity());
    let allowed = lim.stats().allowed;
    if c.global_rate > 0 {
        // Costs are at least half a token; the bucket starts full and
        // refills from time zero.
        let refill = u128::from(now.total_micros()) * u128::from(c.global_rate) / 1_000_000;
        let budget = u128::from(c.global_burst) + refill;
        let bound = if c.randomize { 2 * budget + 1 } else { budget };
        assert!(
            u128::from(allowed) <= bound,
            "global: {allowed} allowed, bound {bound}"
        );
    }
    let interval = c.per_dest_interval.total_micros();
    // With at most four destinations no bucket is ever evicted.
    if interval > 0 && lim.capacity() > 0 && l.per_dest.len() <= 4 {
        for (dst, (first, n)) in &l.per_dest {
            let elapsed = now.saturating_duration_since(*first).total_micros();
            let bound = u64::from(c.per_dest_burst) + elapsed / interval + 1;
            assert!(*n <= bound, "{dst}: {n} allowed, bound {bound}");
        }
    }
    let _ = l.start;
}

fn build(d: Datagram) -> Vec<u8> {
    match d {
        Datagram::Echo {
            mut header,
            ident,
            seq_no,
            data,
            corrupt,
            padding,
        } => {
            header.protocol = IpProtocol::ICMP;
            header.src = PEERS[usize::from(ident) % PEERS.len()];
            let Ok(b) = data
                .as_slice()
                .wrap_in(&IcmpRepr::EchoRequest { ident, seq_no })
                .wrap_in(&header)
                .serialize_vec(0)
            else {
                return Vec::new();
            };
            let mut v = b.into_vec();
            if corrupt && let Some(at) = header_len(&v).and_then(|h| v.get_mut(h + 2)) {
                *at ^= 0x5a;
            }
            v.extend(std::iter::repeat_n(0xee, usize::from(padding % 8)));
            v
        }
        Datagram::Message {
            mut header,
            peer,
            message,
            body,
        } => {
            header.protocol = IpProtocol::ICMP;
            header.src = PEERS[usize::from(peer) % PEERS.len()];
            body.as_slice()
                .wrap_in(&message)
                .wrap_in(&header)
                .serialize_vec(0)
                .map(|b| b.into_vec())
                .unwrap_or_default()
        }
        Datagram::Raw(v) => v,
    }
}

fn header_len(v: &[u8]) -> Option<usize> {
    Ipv4Packet::parse(v).ok().map(|p| p.header_len())
}

fn echo_in_place(bytes: &[u8], fields: &ReplyIpFields) {
    let mut out = bytes.to_vec();
    let Ok(id) = echo_reply_datagram_in_place(&mut out, fields) else {
        assert_eq!(out, bytes, "a refused request is left untouched");
        return;
    };
    let req = Ipv4Packet::parse(bytes).expect("an eligible request parses");
    assert_eq!(req.header_len(), 20);
    assert!(!req.is_fragment());
    assert_eq!(req.protocol(), IpProtocol::ICMP);
    let total = usize::from(req.total_len());
    assert_eq!(out.get(total..), bytes.get(total..), "padding untouched");
    let rep = Ipv4Packet::parse_verified(&out).expect("the reply's header verifies");
    assert_eq!((rep.src(), rep.dst()), (fields.src, req.src()));
    assert_eq!(
        (rep.ttl(), rep.identification()),
        (fields.ttl, fields.identification)
    );
    assert_eq!((rep.dscp(), rep.ecn()), (req.dscp(), 0));
    assert!(!rep.dont_fragment() && !rep.more_fragments() && !rep.reserved_flag());
    assert_eq!(rep.total_len(), req.total_len());
    assert_eq!(rep.protocol(), IpProtocol::ICMP);

    let request = IcmpPacket::parse(req.payload()).expect("an echo request parses");
    assert_eq!(request.msg_type(), IcmpType::ECHO_REQUEST);
    let reply = IcmpPacket::parse(rep.payload()).expect("the reply parses");
    assert_eq!(reply.msg_type(), IcmpType::ECHO_REPLY);
    assert_eq!(reply.code(), 0);
    assert_eq!(reply.rest_of_header(), request.rest_of_header());
    assert_eq!(
        u16::from_be_bytes([reply.rest_of_header()[0], reply.rest_of_header()[1]]),
        id.ident
    );
    assert_eq!(
        reply.payload(),
        request.payload(),
        "RFC 1122 §3.2.2.6: all the data"
    );
    assert_eq!(reply.checksum_ok(), request.checksum_ok());
    if request.checksum_ok() {
        // The copy path gives the same bytes.
        let mut ip = Ipv4Repr::new(fields.src, req.src(), IpProtocol::ICMP);
        ip.ttl = fields.ttl;
        ip.identification = fields.identification;
        ip.dscp = req.dscp();
        let copy = EchoReply::new(&request)
            .expect("a request")
            .wrap_in(&ip)
            .serialize_vec(0)
            .expect("the copy builds");
        assert_eq!(copy.as_slice(), &out[..total], "in place = copy");
    }
}

fn policy(bytes: &[u8], ctx: &ErrorContext) {
    let verdict = should_send_error(bytes, ctx);
    let header = Ipv4Header::peek(bytes).ok();
    let icmp = Ipv4Packet::parse_truncated(bytes)
        .ok()
        .filter(|p| p.protocol() == IpProtocol::ICMP)
        .and_then(|p| p.l4_payload().map(|l4| (p, l4)));
    // RFC 1122 §3.2.2: never an error about an ICMP error message.
    if let Some((p, l4)) = &icmp
        && p.fragment_offset() == 0
        && let Some(&t) = l4.first()
    {
        let t = IcmpType(t);
        if t.is_error() || t.name().is_none() {
            assert!(verdict.is_err(), "an error about ICMP type {t:?}");
        }
        if let Ok(m) = IcmpPacket::parse(l4)
            && received_error(&m).is_some()
        {
            assert!(verdict.is_err(), "an error about a received error");
        }
    }
    match verdict {
        Ok(()) => {
            let h = header.expect("readable");
            assert_eq!(h.version(), 4);
            assert_eq!(h.fragment_offset(), 0);
            let (src, dst) = (h.src(), h.dst());
            assert!(!dst.is_multicast() && !dst.is_broadcast() && !dst.is_unspecified());
            assert!(!ctx.link_broadcast && !ctx.dst_is_broadcast && !ctx.src_is_broadcast);
            assert!(!src.is_multicast() && !src.is_broadcast() && !src.is_this_network());
            assert!(!src.is_reserved_class_e());
            assert!(!src.is_loopback() || ctx.loopback_interface);
        }
        Err(Suppression::Unreadable) => assert!(
            header.is_none_or(|h| h.version() != 4 || h.ihl() < 5 || bytes.len() < h.header_len())
        ),
        Err(Suppression::NonInitialFragment) => {
            assert_ne!(header.expect("readable").fragment_offset(), 0)
        }
        Err(Suppression::MulticastDestination) => {
            assert!(header.expect("readable").dst().is_multicast())
        }
        Err(Suppression::BroadcastDestination) => {
            let d = header.expect("readable").dst();
            assert!(d.is_broadcast() || d.is_unspecified() || ctx.dst_is_broadcast)
        }
        Err(Suppression::LinkBroadcast) => assert!(ctx.link_broadcast),
        Err(Suppression::SourceNotUnicast) => {}
        Err(Suppression::AboutIcmpError) => {
            assert_eq!(header.expect("readable").protocol(), IpProtocol::ICMP)
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}
