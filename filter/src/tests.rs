//! Unit and property tests of matches, actions, conntrack, NAT and the
//! parser, driving the filter through its hook as the `Interface` does.

use std::string::ToString;
use std::sync::{Arc, Mutex};
use std::vec;
use std::vec::Vec;

use core::net::Ipv4Addr;

use lamina_icmp::{IcmpMessage, IcmpPacket, IcmpRepr, UnreachableCode};
use lamina_ipv4::hook::{HookPoint, PacketHook, Verdict};
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::checksum::{checksum, ipv4_pseudo_header};
use lamina_netbuf::{Duration, Instant, Rng, SeededRng, Serializer};
use lamina_tcp::{SeqNumber, TcpFlags, TcpRepr, TcpSegment};
use lamina_udp::UdpRepr;

use crate::conntrack::ENTRY_SIZE;
use crate::nat::{self, Side};
use crate::packet::Parsed;
use crate::*;

const LAN: IfaceId = IfaceId(0);
const WAN: IfaceId = IfaceId(1);
const L1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const L2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const T0: Instant = Instant::ZERO;

fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, data: &[u8]) -> Vec<u8> {
    let ip = Ipv4Repr::new(src, dst, IpProtocol::UDP);
    let u = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    data.wrap_in(u.builder(src, dst))
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

#[allow(clippy::too_many_arguments)]
fn tcp(
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    data: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
    let t = TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq_number: SeqNumber(seq),
        ack_number: SeqNumber(ack),
        flags,
        window_len: 8192,
        ..TcpRepr::default()
    };
    data.wrap_in(t.builder(src, dst).unwrap())
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

fn echo(src: Ipv4Addr, dst: Ipv4Addr, request: bool, ident: u16, seq_no: u16) -> Vec<u8> {
    let ip = Ipv4Repr::new(src, dst, IpProtocol::ICMP);
    let m = if request {
        IcmpRepr::EchoRequest { ident, seq_no }
    } else {
        IcmpRepr::EchoReply { ident, seq_no }
    };
    b"ping data"
        .wrap_in(m.builder())
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

/// An ICMP error from `from` to the source of `offending`, quoting it.
fn icmp_error(from: Ipv4Addr, offending: &[u8]) -> Vec<u8> {
    let src = Ipv4Packet::parse(offending).unwrap().src();
    let e = lamina_icmp::ErrorBuilder::new(
        IcmpRepr::DestUnreachable {
            code: UnreachableCode::PortUnreachable,
            next_hop_mtu: 0,
        },
        offending,
    )
    .unwrap();
    e.wrap_in(&Ipv4Repr::new(from, src, IpProtocol::ICMP))
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
fn synack() -> TcpFlags {
    TcpFlags::SYN.union(TcpFlags::ACK)
}

fn filter(text: &str) -> Filter {
    filter_with(text, FilterConfig::default())
}

fn filter_with(text: &str, config: FilterConfig) -> Filter {
    let rs: Ruleset = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut f = Filter::new(rs, config, &mut SeededRng::new(7)).unwrap();
    f.set_interface_address(LAN, ROUTER_LAN);
    f.set_interface_address(WAN, ROUTER);
    f
}

/// The hooks a forwarded datagram meets.
fn forward(f: &mut Filter, pkt: &mut [u8], i: IfaceId, o: IfaceId, now: Instant) -> Verdict {
    for p in [
        HookPoint::PreRouting,
        HookPoint::Forward,
        HookPoint::PostRouting,
    ] {
        let (inp, out) = match p {
            HookPoint::PreRouting => (Some(i), None),
            HookPoint::Forward => (Some(i), Some(o)),
            _ => (None, Some(o)),
        };
        let v = f.hook(p, pkt, inp, out, now);
        if v != Verdict::Accept {
            return v;
        }
    }
    Verdict::Accept
}

/// The hooks a datagram for this host meets.
fn local_in(f: &mut Filter, pkt: &mut [u8], i: IfaceId, now: Instant) -> Verdict {
    match f.hook(HookPoint::PreRouting, pkt, Some(i), None, now) {
        Verdict::Accept => f.hook(HookPoint::Input, pkt, Some(i), None, now),
        v => v,
    }
}

/// The hooks a datagram this host sends meets.
fn local_out(f: &mut Filter, pkt: &mut [u8], o: IfaceId, now: Instant) -> Verdict {
    match f.hook(HookPoint::Output, pkt, None, Some(o), now) {
        Verdict::Accept => f.hook(HookPoint::PostRouting, pkt, None, Some(o), now),
        v => v,
    }
}

/// Every checksum of `pkt` recomputed from scratch (an ICMP error's
/// quoted IPv4 header included), compared with the stored ones.
fn assert_checksums(pkt: &[u8]) {
    let ip = Ipv4Packet::parse(pkt).unwrap();
    assert!(ip.checksum_ok(), "IPv4 header checksum");
    let l4 = ip.payload();
    match ip.protocol() {
        IpProtocol::TCP => {
            assert!(TcpSegment::parse_verified(l4, ip.src(), ip.dst()).is_ok());
        }
        IpProtocol::UDP => {
            let stored = u16::from_be_bytes([l4[6], l4[7]]);
            if stored != 0 {
                let mut z = l4.to_vec();
                z[6] = 0;
                z[7] = 0;
                let mut c = ipv4_pseudo_header(ip.src(), ip.dst(), 17, l4.len() as u16);
                c.add_bytes(&z);
                let mut want = c.finish();
                if want == 0 {
                    want = 0xffff;
                }
                assert_eq!(stored, want, "UDP checksum");
            }
        }
        IpProtocol::ICMP => {
            let mut z = l4.to_vec();
            z[2] = 0;
            z[3] = 0;
            assert_eq!(
                u16::from_be_bytes([l4[2], l4[3]]),
                checksum(&z),
                "ICMP checksum"
            );
            let icmp = IcmpPacket::parse(l4).unwrap();
            if icmp.is_error() {
                let q = icmp.quoted().unwrap();
                assert!(q.checksum_ok(), "quoted IPv4 header checksum");
            }
        }
        _ => {}
    }
}

fn addrs(pkt: &[u8]) -> (Ipv4Addr, Ipv4Addr) {
    let ip = Ipv4Packet::parse(pkt).unwrap();
    (ip.src(), ip.dst())
}

fn ports(pkt: &[u8]) -> (u16, u16) {
    Parsed::parse(pkt).unwrap().ports().unwrap()
}

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().unwrap()
}

const NAT: &str = "table ip nat {
    chain post { type nat hook postrouting priority srcnat; oif 1 masquerade }
    chain pre { type nat hook prerouting priority dstnat;
        iif 1 udp dport 5353 dnat to 192.168.1.10:53
        iif 1 tcp dport 8080 dnat to 192.168.1.10:80 }
}";

/// Hairpin NAT: the public address's port 5353 goes to L1's DNS, and LAN
/// hosts reaching it are masqueraded behind the router's LAN address.
const HAIRPIN: &str = "table ip nat {
    chain pre { type nat hook prerouting priority dstnat;
        ip daddr 198.51.100.2 udp dport 5353 dnat to 192.168.1.10:53 }
    chain post { type nat hook postrouting priority srcnat;
        oif 1 masquerade
        ip saddr 192.168.1.0/24 ip daddr 192.168.1.10 oif 0 masquerade }
}";

// ---- Matches ---------------------------------------------------------------

#[test]
fn interface_matches_compare_the_hook_interfaces() {
    let mut f = filter(
        "table ip t { chain fwd { type filter hook forward priority 0; policy drop;
         iif 0 oif 1 accept } }",
    );
    let mut p = udp(L1, 1000, SERVER, 53, b"q");
    assert_eq!(forward(&mut f, &mut p, LAN, WAN, T0), Verdict::Accept);
    let mut p = udp(SERVER, 53, L1, 1000, b"q");
    assert_eq!(forward(&mut f, &mut p, WAN, LAN, T0), Verdict::Drop);
}

#[test]
fn address_matches_use_cidr_prefixes_and_negation() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy accept;
         ip saddr 203.0.113.0/24 drop
         ip daddr != 192.168.1.1 drop } }",
    );
    let mut p = udp(Ipv4Addr::new(203, 0, 113, 77), 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut p = udp(Ipv4Addr::new(203, 0, 114, 77), 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = udp(Ipv4Addr::new(203, 0, 114, 77), 1, ROUTER, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
}

/// Property: a large set (trie) answers as a linear scan of its prefixes.
#[test]
fn address_set_of_10000_prefixes_agrees_with_a_linear_scan() {
    let mut rng = SeededRng::new(3);
    let prefixes: Vec<Ipv4Cidr> = (0..10_000)
        .map(|_| {
            let len = 8 + (rng.next_u32() % 25) as u8;
            Ipv4Cidr::new(Ipv4Addr::from(rng.next_u32()), len)
                .unwrap()
                .normalized()
        })
        .collect();
    let set: AddrSet = prefixes.iter().copied().collect();
    for i in 0..20_000u32 {
        let a = if i % 2 == 0 {
            Ipv4Addr::from(rng.next_u32())
        } else {
            // Inside a prefix of the set.
            let p = prefixes[(rng.next_u32() % 10_000) as usize];
            Ipv4Addr::from(u32::from(p.network()) | (rng.next_u32() & !u32::from(p.netmask())))
        };
        assert_eq!(
            set.contains(a),
            prefixes.iter().any(|p| p.contains(a)),
            "{a}"
        );
    }
    let small = AddrSet::single(cidr("10.0.0.0/8"));
    assert!(small.contains(Ipv4Addr::new(10, 9, 9, 9)));
    assert!(!small.contains(Ipv4Addr::new(11, 0, 0, 0)));
}

/// Property: a port set (ranges, then a bitmap) answers as its ranges do.
#[test]
fn port_set_agrees_with_its_ranges() {
    let mut rng = SeededRng::new(4);
    for n in [1usize, 5, 8, 9, 50] {
        let mut s = PortSet::new();
        let mut ranges = Vec::new();
        for _ in 0..n {
            let lo = rng.next_u32() as u16;
            let hi = lo.saturating_add((rng.next_u32() % 300) as u16);
            s.insert_range(lo, hi);
            ranges.push((lo, hi));
        }
        for _ in 0..5000 {
            let p = rng.next_u32() as u16;
            assert_eq!(s.contains(p), ranges.iter().any(|&(l, h)| l <= p && p <= h));
        }
        for &(l, h) in &ranges {
            assert!(s.contains(l) && s.contains(h));
        }
    }
}

#[test]
fn protocol_and_port_matches_cover_ranges_and_sets() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy drop;
         tcp dport { 22, 8000-8080 } accept
         udp sport 53 accept
         meta l4proto icmp accept } }",
    );
    let cases: Vec<(Vec<u8>, Verdict)> = vec![
        (
            tcp(L1, 5000, ROUTER_LAN, 22, 1, 0, SYN, b""),
            Verdict::Accept,
        ),
        (
            tcp(L1, 5000, ROUTER_LAN, 8080, 1, 0, SYN, b""),
            Verdict::Accept,
        ),
        (
            tcp(L1, 5000, ROUTER_LAN, 8081, 1, 0, SYN, b""),
            Verdict::Drop,
        ),
        (udp(L1, 5000, ROUTER_LAN, 22, b""), Verdict::Drop),
        (udp(L1, 53, ROUTER_LAN, 9999, b""), Verdict::Accept),
        (echo(L1, ROUTER_LAN, true, 1, 1), Verdict::Accept),
    ];
    for (mut p, want) in cases {
        assert_eq!(local_in(&mut f, &mut p, LAN, T0), want);
    }
}

#[test]
fn port_negation_does_not_match_datagrams_without_ports() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy accept;
         th dport != 22 drop } }",
    );
    let mut p = echo(L1, ROUTER_LAN, true, 1, 1);
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = udp(L1, 1, ROUTER_LAN, 23, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut p = udp(L1, 1, ROUTER_LAN, 22, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
}

/// RFC 792: type and code.
#[test]
fn icmp_type_and_code_matches() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy drop;
         icmp type echo-request icmp code 0 accept
         icmp type { destination-unreachable, time-exceeded } accept } }",
    );
    let mut p = echo(L1, ROUTER_LAN, true, 1, 1);
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = echo(L1, ROUTER_LAN, false, 1, 1);
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let sent = udp(ROUTER_LAN, 1, L1, 2, b"x");
    let mut e = icmp_error(L1, &sent);
    assert_eq!(local_in(&mut f, &mut e, LAN, T0), Verdict::Accept);
}

/// RFC 9293 §3.1: the control bits, masked and compared.
#[test]
fn tcp_flags_match_under_a_mask() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy accept;
         tcp flags & (syn|ack) == syn tcp dport 1 drop
         tcp flags & (fin|syn|rst|ack) == 0 drop } }",
    );
    let mut p = tcp(L1, 9, ROUTER_LAN, 1, 1, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut p = tcp(L1, 9, ROUTER_LAN, 2, 1, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = tcp(L1, 9, ROUTER_LAN, 1, 1, 5, synack(), b"");
    assert_ne!(
        f.hook(HookPoint::Input, &mut p, Some(LAN), None, T0),
        Verdict::Drop
    );
    // Null scan.
    let mut p = tcp(L1, 9, ROUTER_LAN, 3, 1, 0, TcpFlags::empty(), b"");
    assert_eq!(
        f.hook(HookPoint::Input, &mut p, Some(LAN), None, T0),
        Verdict::Drop
    );
}

#[test]
fn length_match_uses_the_total_length() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy accept;
         ip length 100-65535 drop } }",
    );
    let mut small = udp(L1, 1, ROUTER_LAN, 2, &[0; 71]); // 99 bytes
    assert_eq!(local_in(&mut f, &mut small, LAN, T0), Verdict::Accept);
    let mut big = udp(L1, 1, ROUTER_LAN, 2, &[0; 72]); // 100 bytes
    assert_eq!(local_in(&mut f, &mut big, LAN, T0), Verdict::Drop);
}

/// A mark set at PreRouting is seen at Input, for the same datagram.
#[test]
fn mark_set_at_one_hook_is_matched_at_the_next() {
    let mut f = filter(
        "table ip t {
         chain pre { type filter hook prerouting priority 0; ip saddr 192.168.1.10 meta mark set 0x2a }
         chain in { type filter hook input priority 0; policy accept; meta mark 0x2a drop } }",
    );
    let mut p = udp(L1, 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut p = udp(L2, 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
}

// ---- Actions ---------------------------------------------------------------

#[test]
fn accept_in_one_chain_still_runs_the_next_chain_of_the_hook() {
    let mut f = filter(
        "table ip a { chain in { type filter hook input priority -10; accept } }
         table ip b { chain in { type filter hook input priority 10; policy drop; } }",
    );
    let mut p = udp(L1, 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
}

/// RFC 792 / RFC 1122 §3.2.2.1: `reject` answers Port Unreachable by
/// default, quoting the datagram, from the address it was sent to.
#[test]
fn reject_queues_an_icmp_unreachable_for_next_injected() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; udp dport 7 reject;
         udp dport 9 reject with icmp type admin-prohibited } }",
    );
    let mut p = udp(L1, 1234, ROUTER_LAN, 7, b"hello");
    let original = p.clone();
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut buf = [0u8; 1500];
    let n = f.next_injected(&mut buf, T0).unwrap();
    let ans = &buf[..n];
    assert_checksums(ans);
    assert_eq!(addrs(ans), (ROUTER_LAN, L1));
    let ip = Ipv4Packet::parse(ans).unwrap();
    let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
    let IcmpMessage::DestUnreachable { code, quote, .. } = icmp.message() else {
        panic!("not unreachable");
    };
    assert_eq!(code, UnreachableCode::PortUnreachable);
    assert_eq!(quote.bytes(), &original[..]);
    assert_eq!(f.next_injected(&mut buf, T0), None);

    let mut p = udp(L1, 1234, ROUTER_LAN, 9, b"hello");
    local_in(&mut f, &mut p, LAN, T0);
    let n = f.next_injected(&mut buf, T0).unwrap();
    let icmp = IcmpPacket::parse(Ipv4Packet::parse(&buf[..n]).unwrap().payload())
        .unwrap()
        .to_repr();
    assert!(matches!(
        icmp,
        IcmpRepr::DestUnreachable {
            code: UnreachableCode::CommunicationProhibited,
            ..
        }
    ));
    // Too small a buffer: dropped, never truncated.
    let mut p = udp(L1, 1234, ROUTER_LAN, 9, b"hello");
    local_in(&mut f, &mut p, LAN, T0);
    assert_eq!(f.next_injected(&mut [0u8; 20], T0), None);
    assert_eq!(f.stats().injected_dropped, 1);
}

/// RFC 9293 §3.10.7.1: the reset of a segment with ACK takes its
/// sequence number from the ACK; of one without, acknowledges it.
#[test]
fn reject_with_tcp_reset_answers_as_a_closed_port_would() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; tcp dport 23 reject with tcp reset } }",
    );
    let mut buf = [0u8; 1500];
    let mut p = tcp(L1, 40000, ROUTER_LAN, 23, 1000, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let n = f.next_injected(&mut buf, T0).unwrap();
    assert_checksums(&buf[..n]);
    let ip = Ipv4Packet::parse(&buf[..n]).unwrap();
    assert_eq!((ip.src(), ip.dst()), (ROUTER_LAN, L1));
    let seg = TcpSegment::parse(ip.payload()).unwrap();
    assert!(seg.rst() && seg.ack());
    assert_eq!((seg.src_port(), seg.dst_port()), (23, 40000));
    assert_eq!(seg.ack_number(), SeqNumber(1001));

    let mut p = tcp(L1, 40000, ROUTER_LAN, 23, 5000, 777, ACK, b"data");
    f.hook(HookPoint::Input, &mut p, Some(LAN), None, T0);
    let n = f.next_injected(&mut buf, T0).unwrap();
    let ip = Ipv4Packet::parse(&buf[..n]).unwrap();
    let seg = TcpSegment::parse(ip.payload()).unwrap();
    assert!(seg.rst() && !seg.ack());
    assert_eq!(seg.seq_number(), SeqNumber(777));

    // Never a reset about a reset.
    let mut p = tcp(L1, 40000, ROUTER_LAN, 23, 5000, 777, TcpFlags::RST, b"");
    f.hook(HookPoint::Input, &mut p, Some(LAN), None, T0);
    assert_eq!(f.next_injected(&mut buf, T0), None);
}

/// RFC 1122 §3.2.2: no ICMP error about an ICMP error or a broadcast.
#[test]
fn reject_never_answers_an_icmp_error_or_a_broadcast() {
    let mut f = filter("table ip t { chain in { type filter hook input priority 0; reject } }");
    let sent = udp(ROUTER_LAN, 1, L1, 2, b"x");
    let mut e = icmp_error(L1, &sent);
    assert_eq!(local_in(&mut f, &mut e, LAN, T0), Verdict::Drop);
    let mut b = udp(L1, 1, Ipv4Addr::BROADCAST, 2, b"");
    assert_eq!(local_in(&mut f, &mut b, LAN, T0), Verdict::Drop);
    assert_eq!(f.injected_len(), 0);
}

#[test]
fn log_calls_back_within_its_rate_limit() {
    let config = FilterConfig {
        log_rate: 2,
        log_burst: 3,
        ..FilterConfig::default()
    };
    let mut f = filter_with(
        "table ip t { chain in { type filter hook input priority 0; log prefix \"in: \" accept } }",
        config,
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    f.set_logger(move |r: &LogRecord<'_>| {
        s2.lock()
            .unwrap()
            .push((r.prefix.to_string(), r.point, r.input, r.packet.len()))
    });
    for _ in 0..10 {
        let mut p = udp(L1, 1, ROUTER_LAN, 2, b"abc");
        local_in(&mut f, &mut p, LAN, T0);
    }
    assert_eq!(seen.lock().unwrap().len(), 3, "the burst");
    assert_eq!(f.stats().log_suppressed, 7);
    assert_eq!(
        seen.lock().unwrap()[0],
        ("in: ".to_string(), HookPoint::Input, Some(LAN), 31)
    );
    // One second later: two more tokens.
    for _ in 0..10 {
        let mut p = udp(L1, 1, ROUTER_LAN, 2, b"abc");
        local_in(&mut f, &mut p, LAN, Instant::from_secs(1));
    }
    assert_eq!(seen.lock().unwrap().len(), 5);
}

#[test]
fn every_rule_counts_packets_and_bytes() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0;
         udp dport 1 counter
         udp dport 1 drop } }",
    );
    for _ in 0..3 {
        let mut p = udp(L1, 9, ROUTER_LAN, 1, b"12345");
        assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    }
    let mut p = udp(L1, 9, ROUTER_LAN, 2, b"");
    local_in(&mut f, &mut p, LAN, T0);
    let c = f.counters("t", "in", 0).unwrap();
    assert_eq!(
        c,
        Counters {
            packets: 3,
            bytes: 3 * 33
        }
    );
    assert_eq!(f.counters("t", "in", 1).unwrap().packets, 3);
    assert_eq!(f.counters("t", "nope", 0), None);
}

#[test]
fn jump_returns_to_the_caller_goto_does_not() {
    let mut f = filter(
        "table ip t {
         chain in { type filter hook input priority 0; policy drop;
             udp dport 1 jump sub
             udp dport 1 accept
             udp dport 2 goto sub
             udp dport 2 accept }
         chain sub { udp sport 7 drop; return } }",
    );
    let mut p = udp(L1, 9, ROUTER_LAN, 1, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = udp(L1, 7, ROUTER_LAN, 1, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    // goto then return: back to the base chain's caller, the policy.
    let mut p = udp(L1, 9, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
}

#[test]
fn bad_rulesets_are_refused_when_built() {
    let build = |t: &str| {
        Filter::new(
            t.parse().unwrap(),
            FilterConfig::default(),
            &mut SeededRng::new(1),
        )
    };
    assert!(matches!(
        build("table ip t { chain a { jump b } chain b { jump a } }"),
        Err(BuildError::Loop { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { jump a } }"),
        Err(BuildError::Loop { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { jump zz } }"),
        Err(BuildError::UnknownChain { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { jump b } chain b { type filter hook input priority 0; } }"),
        Err(BuildError::JumpToBaseChain { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { accept } chain a { drop } }"),
        Err(BuildError::DuplicateChain { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { type filter hook forward priority 0; dnat to 10.0.0.1 } }"),
        Err(BuildError::MisplacedNat { .. })
    ));
    assert!(matches!(
        build("table ip t { chain a { type nat hook prerouting priority 0; masquerade } }"),
        Err(BuildError::MisplacedNat { .. })
    ));
    assert!(matches!(
        build(
            "table ip t { chain a { type nat hook postrouting priority 0; jump s } chain s { dnat to 10.0.0.1 } }"
        ),
        Err(BuildError::MisplacedNat { .. })
    ));
    // 17 nested jumps.
    let mut text = std::string::String::from("table ip t {");
    for i in 0..=MAX_JUMP_DEPTH {
        text += &std::format!(" chain c{i} {{ jump c{} }}", i + 1);
    }
    text += &std::format!(" chain c{} {{ accept }} }}", MAX_JUMP_DEPTH + 1);
    assert!(matches!(build(&text), Err(BuildError::TooDeep { .. })));
    let typed = Ruleset::new().table(
        Table::new("t")
            .chain(Chain::user("a").rule(Rule::new(vec![], vec![Action::Drop, Action::Accept]))),
    );
    assert!(matches!(
        Filter::new(typed, FilterConfig::default(), &mut SeededRng::new(1)),
        Err(BuildError::VerdictNotLast { .. })
    ));
}

// ---- Connection tracking ---------------------------------------------------

const FIREWALL: &str = "table ip filter {
    chain input { type filter hook input priority 0; policy drop;
        ct state established,related accept
        ct state invalid drop
        ip saddr 192.168.1.0/24 tcp dport 22 ct state new accept }
    chain output { type filter hook output priority 0; policy accept; }
}";

/// RFC 9293 §3.5: the three-way handshake makes a flow ESTABLISHED; a
/// segment outside the window is INVALID (and dropped by the rules).
#[test]
fn tcp_handshake_then_out_of_window_segment_is_invalid() {
    let mut f = filter(FIREWALL);
    let mut syn = tcp(L1, 40000, ROUTER_LAN, 22, 1000, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut syn, LAN, T0), Verdict::Accept);
    let mut sa = tcp(ROUTER_LAN, 22, L1, 40000, 5000, 1001, synack(), b"");
    assert_eq!(local_out(&mut f, &mut sa, LAN, T0), Verdict::Accept);
    let mut ack = tcp(L1, 40000, ROUTER_LAN, 22, 1001, 5001, ACK, b"hello");
    assert_eq!(local_in(&mut f, &mut ack, LAN, T0), Verdict::Accept);
    let t = crate::Tuple {
        src: L1,
        dst: ROUTER_LAN,
        sport: 40000,
        dport: 22,
        proto: 6,
    };
    let (info, dir) = f.conntrack().lookup(&t).unwrap();
    assert_eq!(
        (info.tcp_state, dir),
        (TcpState::Established, Dir::Original)
    );
    // Far beyond what the peer's window (8192) allows.
    let mut bad = tcp(L1, 40000, ROUTER_LAN, 22, 1001 + 100_000, 5001, ACK, b"x");
    assert_eq!(local_in(&mut f, &mut bad, LAN, T0), Verdict::Drop);
    // Acknowledging data never sent.
    let mut bad = tcp(L1, 40000, ROUTER_LAN, 22, 1006, 90_000, ACK, b"x");
    assert_eq!(local_in(&mut f, &mut bad, LAN, T0), Verdict::Drop);
    assert!(f.conntrack().stats().invalid >= 2);
    // In window again: fine.
    let mut ok = tcp(L1, 40000, ROUTER_LAN, 22, 1006, 5001, ACK, b"more");
    assert_eq!(local_in(&mut f, &mut ok, LAN, T0), Verdict::Accept);
}

#[test]
fn tcp_to_a_port_not_allowed_is_dropped_and_never_tracked() {
    let mut f = filter(FIREWALL);
    let mut syn = tcp(L1, 40000, ROUTER_LAN, 23, 1000, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut syn, LAN, T0), Verdict::Drop);
    assert!(f.conntrack().is_empty());
    let mut syn = tcp(SERVER, 40000, ROUTER_LAN, 22, 1000, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut syn, WAN, T0), Verdict::Drop);
    // A lone SYN-ACK opens nothing: invalid.
    let mut sa = tcp(L1, 40000, ROUTER_LAN, 22, 1000, 5, synack(), b"");
    assert_eq!(local_in(&mut f, &mut sa, LAN, T0), Verdict::Drop);
    assert!(f.conntrack().is_empty());
}

/// RFC 9293 §3.6: FINs both ways then the last ACK lead to TIME_WAIT; a
/// reset closes; a new SYN on a closed flow reopens it.
#[test]
fn tcp_close_sequences_and_reopen() {
    let mut f = filter("");
    let mut step = |pkt: Vec<u8>, out: bool| {
        let mut p = pkt;
        if out {
            local_out(&mut f, &mut p, LAN, T0)
        } else {
            local_in(&mut f, &mut p, LAN, T0)
        }
    };
    step(tcp(L1, 1, ROUTER_LAN, 2, 100, 0, SYN, b""), false);
    step(tcp(ROUTER_LAN, 2, L1, 1, 900, 101, synack(), b""), true);
    step(tcp(L1, 1, ROUTER_LAN, 2, 101, 901, ACK, b""), false);
    let fin = TcpFlags::FIN.union(TcpFlags::ACK);
    step(tcp(L1, 1, ROUTER_LAN, 2, 101, 901, fin, b""), false);
    step(tcp(ROUTER_LAN, 2, L1, 1, 901, 102, fin, b""), true);
    step(tcp(L1, 1, ROUTER_LAN, 2, 102, 902, ACK, b""), false);
    let st = f.conntrack().iter().next().unwrap().tcp_state;
    assert_eq!(st, TcpState::TimeWait);
    assert_eq!(
        f.conntrack().iter().next().unwrap().expires,
        T0 + Duration::from_secs(120)
    );
    // Reopen with a fresh SYN.
    let mut syn = tcp(L1, 1, ROUTER_LAN, 2, 50_000, 0, SYN, b"");
    assert_eq!(local_in(&mut f, &mut syn, LAN, T0), Verdict::Accept);
    assert_eq!(f.conntrack().len(), 1);
    assert_eq!(
        f.conntrack().iter().next().unwrap().tcp_state,
        TcpState::SynSent
    );
    // A reset in window closes.
    let mut rst = tcp(
        ROUTER_LAN,
        2,
        L1,
        1,
        0,
        50_001,
        TcpFlags::RST.union(TcpFlags::ACK),
        b"",
    );
    local_out(&mut f, &mut rst, LAN, T0);
    assert_eq!(
        f.conntrack().iter().next().unwrap().tcp_state,
        TcpState::Close
    );
}

/// A flow seen from the middle (no SYN) is picked up when loose, refused
/// when strict.
#[test]
fn tcp_midstream_pickup_follows_the_loose_setting() {
    let mut f = filter(FIREWALL);
    let mut mid = tcp(L1, 40000, ROUTER_LAN, 22, 777, 888, ACK, b"x");
    assert_eq!(local_in(&mut f, &mut mid, LAN, T0), Verdict::Accept);
    assert_eq!(f.conntrack().len(), 1);
    let mut strict = FilterConfig::default();
    strict.conntrack.tcp_loose = false;
    let mut f = filter_with(FIREWALL, strict);
    let mut mid = tcp(L1, 40000, ROUTER_LAN, 22, 777, 888, ACK, b"x");
    assert_eq!(local_in(&mut f, &mut mid, LAN, T0), Verdict::Drop);
}

/// A flow picked up midstream keeps the SYN-SENT timeout until it is
/// answered: a stray or scanning ACK, never answered, does not hold an
/// entry (and a NAT port) for the five days of an established flow.
#[test]
fn a_midstream_flow_gets_the_established_timeout_only_once_answered() {
    let mut f = filter(STATEFUL);
    let to = FilterConfig::default().conntrack.timeouts;
    let expires = |f: &Filter| f.conntrack().iter().next().unwrap().expires;
    let mid = tcp(L1, 40000, SERVER, 22, 777, 888, ACK, b"x");
    assert_eq!(fwd(&mut f, mid, true), Verdict::Accept);
    assert_eq!(expires(&f), T0 + to.tcp_syn_sent);
    let more = tcp(L1, 40000, SERVER, 22, 778, 888, ACK, b"y");
    assert_eq!(fwd(&mut f, more, true), Verdict::Accept);
    assert_eq!(expires(&f), T0 + to.tcp_syn_sent);
    let answer = tcp(SERVER, 22, L1, 40000, 888, 779, ACK, b"");
    assert_eq!(fwd(&mut f, answer, false), Verdict::Accept);
    assert_eq!(expires(&f), T0 + to.tcp_established);
    let again = tcp(L1, 40000, SERVER, 22, 779, 888, ACK, b"z");
    assert_eq!(fwd(&mut f, again, true), Verdict::Accept);
    assert_eq!(expires(&f), T0 + to.tcp_established);
}

/// UDP pseudo-connections: replies are ESTABLISHED until the timeout,
/// then the flow is gone and a reply is NEW (and dropped here).
#[test]
fn udp_flow_expires_after_its_timeout() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy drop; ct state established accept } }",
    );
    let mut q = udp(ROUTER, 5000, SERVER, 53, b"q");
    assert_eq!(local_out(&mut f, &mut q, WAN, T0), Verdict::Accept);
    let mut r = udp(SERVER, 53, ROUTER, 5000, b"r");
    assert_eq!(
        local_in(&mut f, &mut r, WAN, Instant::from_secs(29)),
        Verdict::Accept
    );
    // Replied: the stream timeout (120 s) now applies.
    let mut r = udp(SERVER, 53, ROUTER, 5000, b"r");
    assert_eq!(
        local_in(&mut f, &mut r, WAN, Instant::from_secs(148)),
        Verdict::Accept
    );
    let mut r = udp(SERVER, 53, ROUTER, 5000, b"r");
    assert_eq!(
        local_in(&mut f, &mut r, WAN, Instant::from_secs(300)),
        Verdict::Drop
    );
    assert_eq!(f.conntrack_mut().gc(Instant::from_secs(300)), 0);
    assert!(f.conntrack().is_empty());
}

/// RFC 792: an echo reply belongs to its request's flow; alone it is
/// invalid.
#[test]
fn icmp_echo_is_a_pseudo_connection() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy drop; ct state established accept } }",
    );
    let mut lone = echo(SERVER, ROUTER, false, 9, 1);
    assert_eq!(local_in(&mut f, &mut lone, WAN, T0), Verdict::Drop);
    let mut req = echo(ROUTER, SERVER, true, 9, 1);
    assert_eq!(local_out(&mut f, &mut req, WAN, T0), Verdict::Accept);
    let mut rep = echo(SERVER, ROUTER, false, 9, 1);
    assert_eq!(local_in(&mut f, &mut rep, WAN, T0), Verdict::Accept);
    let mut other = echo(SERVER, ROUTER, false, 10, 1);
    assert_eq!(local_in(&mut f, &mut other, WAN, T0), Verdict::Drop);
}

/// RFC 1122 §3.2.2: an ICMP error quoting a tracked flow's datagram is
/// RELATED; one quoting nothing known is INVALID.
#[test]
fn icmp_error_about_a_tracked_flow_is_related() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; policy drop; ct state related accept } }",
    );
    let mut q = udp(ROUTER, 5000, SERVER, 53, b"q");
    let sent = q.clone();
    local_out(&mut f, &mut q, WAN, T0);
    let mut e = icmp_error(SERVER, &sent);
    assert_eq!(local_in(&mut f, &mut e, WAN, T0), Verdict::Accept);
    let other = udp(ROUTER, 5001, SERVER, 53, b"q");
    let mut e = icmp_error(SERVER, &other);
    assert_eq!(local_in(&mut f, &mut e, WAN, T0), Verdict::Drop);
}

/// The bound holds under a flood of random new flows; replied flows are
/// never evicted; when only replied flows remain new ones are refused.
#[test]
fn conntrack_never_exceeds_its_bound_under_a_random_flood() {
    let mut config = FilterConfig::default();
    config.conntrack.max_entries = 64;
    let mut f = filter_with("", config);
    // 32 replied flows.
    for i in 0..32u16 {
        let mut q = udp(ROUTER, 1000 + i, SERVER, 53, b"q");
        local_out(&mut f, &mut q, WAN, T0);
        let mut r = udp(SERVER, 53, ROUTER, 1000 + i, b"r");
        local_in(&mut f, &mut r, WAN, T0);
    }
    let mut rng = SeededRng::new(11);
    for k in 0..20_000u32 {
        let src = Ipv4Addr::from(rng.next_u32());
        let mut p = match k % 3 {
            0 => udp(
                src,
                rng.next_u32() as u16,
                ROUTER,
                rng.next_u32() as u16,
                b"",
            ),
            1 => tcp(
                src,
                rng.next_u32() as u16,
                ROUTER,
                80,
                rng.next_u32(),
                0,
                SYN,
                b"",
            ),
            _ => echo(src, ROUTER, true, rng.next_u32() as u16, 0),
        };
        local_in(
            &mut f,
            &mut p,
            WAN,
            T0 + Duration::from_millis(u64::from(k)),
        );
        assert!(f.conntrack().len() <= 64);
    }
    assert_eq!(f.conntrack().len(), 64);
    assert!(f.conntrack().stats().evicted > 19_000);
    let replied = f.conntrack().iter().filter(|c| c.seen_reply).count();
    assert_eq!(replied, 32, "replied flows are never evicted");
    // Fill with replied flows: then new flows are refused.
    let mut config = FilterConfig::default();
    config.conntrack.max_entries = 4;
    let mut f = filter_with("", config);
    for i in 0..4u16 {
        let mut q = udp(ROUTER, 1000 + i, SERVER, 53, b"q");
        local_out(&mut f, &mut q, WAN, T0);
        let mut r = udp(SERVER, 53, ROUTER, 1000 + i, b"r");
        local_in(&mut f, &mut r, WAN, T0);
    }
    let mut q = udp(ROUTER, 2000, SERVER, 53, b"q");
    assert_eq!(local_out(&mut f, &mut q, WAN, T0), Verdict::Drop);
    assert_eq!(f.conntrack().stats().dropped_full, 1);
    // Once they expire, room again.
    let mut q = udp(ROUTER, 2000, SERVER, 53, b"q");
    assert_eq!(
        local_out(&mut f, &mut q, WAN, Instant::from_secs(1000)),
        Verdict::Accept
    );
}

#[test]
fn conntrack_entry_is_under_160_bytes() {
    const { assert!(ENTRY_SIZE < 160) };
    std::println!("conntrack entry: {ENTRY_SIZE} bytes");
}

// ---- NAT -------------------------------------------------------------------

/// RFC 3022 §2.2: the LAN host's datagrams leave with the router's
/// address; replies come back to the LAN host; checksums stay right.
#[test]
fn masquerade_translates_udp_both_ways() {
    let mut f = filter(NAT);
    let mut q = udp(L1, 40000, SERVER, 53, b"query");
    assert_eq!(forward(&mut f, &mut q, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(addrs(&q), (ROUTER, SERVER));
    assert_eq!(ports(&q), (40000, 53), "the port is kept when free");
    assert_checksums(&q);
    let mut r = udp(SERVER, 53, ROUTER, 40000, b"answer");
    assert_eq!(forward(&mut f, &mut r, WAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&r), (SERVER, L1));
    assert_eq!(ports(&r), (53, 40000));
    assert_checksums(&r);
}

/// RFC 4787 §4.1: two LAN hosts using the same port get distinct
/// external ports; each reply finds its host.
#[test]
fn masquerade_picks_another_port_on_collision() {
    let mut f = filter(NAT);
    let mut a = udp(L1, 40000, SERVER, 53, b"a");
    let mut b = udp(L2, 40000, SERVER, 53, b"b");
    forward(&mut f, &mut a, LAN, WAN, T0);
    forward(&mut f, &mut b, LAN, WAN, T0);
    let (pa, pb) = (ports(&a).0, ports(&b).0);
    assert_eq!(pa, 40000);
    assert_ne!(pb, 40000);
    assert!(pb >= 1024);
    assert_checksums(&b);
    let mut rb = udp(SERVER, 53, ROUTER, pb, b"rb");
    forward(&mut f, &mut rb, WAN, LAN, T0);
    assert_eq!((addrs(&rb).1, ports(&rb).1), (L2, 40000));
    let mut ra = udp(SERVER, 53, ROUTER, pa, b"ra");
    forward(&mut f, &mut ra, WAN, LAN, T0);
    assert_eq!((addrs(&ra).1, ports(&ra).1), (L1, 40000));
}

/// Port forwarding: a WAN client reaches a LAN TCP service through the
/// router's address, over a full handshake and data (crafted segments).
#[test]
fn dnat_forwards_a_tcp_port_to_a_lan_host() {
    let mut f = filter(NAT);
    let client = Ipv4Addr::new(203, 0, 113, 9);
    let mut syn = tcp(client, 50000, ROUTER, 8080, 1, 0, SYN, b"");
    assert_eq!(forward(&mut f, &mut syn, WAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&syn), (client, L1));
    assert_eq!(ports(&syn), (50000, 80));
    assert_checksums(&syn);
    let mut sa = tcp(L1, 80, client, 50000, 100, 2, synack(), b"");
    assert_eq!(forward(&mut f, &mut sa, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(addrs(&sa), (ROUTER, client));
    assert_eq!(ports(&sa), (8080, 50000));
    assert_checksums(&sa);
    let mut ack = tcp(client, 50000, ROUTER, 8080, 2, 101, ACK, b"GET /");
    assert_eq!(forward(&mut f, &mut ack, WAN, LAN, T0), Verdict::Accept);
    assert_eq!((addrs(&ack).1, ports(&ack).1), (L1, 80));
    assert_checksums(&ack);
    let info = f.conntrack().iter().next().unwrap();
    assert_eq!(info.tcp_state, TcpState::Established);
}

/// The server's SYN-ACK is lost past the router: the client sends its
/// SYN again, to a flow that has seen the SYN-ACK. The SYN belongs to
/// the flow and is translated like the first (Linux ignores it for the
/// state and lets it by); marked invalid, it would miss the port
/// forwarding and reach the router itself, whose reset ends the
/// connection (lifecycle scan: NAT to port forwarding, seed 1209).
#[test]
fn a_syn_sent_again_after_a_lost_syn_ack_is_forwarded_like_the_first() {
    let mut f = filter(&alloc::format!(
        "{NAT}
        table ip t {{ chain f {{ type filter hook forward priority 0; policy drop;
            ct state invalid drop
            ct state established,related accept
            iif 1 oif 0 ip daddr 192.168.1.10 ct state new accept }} }}"
    ));
    let client = Ipv4Addr::new(203, 0, 113, 9);
    for _ in 0..2 {
        let mut syn = tcp(client, 50000, ROUTER, 8080, 1, 0, SYN, b"");
        assert_eq!(forward(&mut f, &mut syn, WAN, LAN, T0), Verdict::Accept);
        assert_eq!(addrs(&syn), (client, L1));
        assert_eq!(ports(&syn), (50000, 80));
        assert_checksums(&syn);
        // The answer, lost beyond the router.
        let mut sa = tcp(L1, 80, client, 50000, 100, 2, synack(), b"");
        assert_eq!(forward(&mut f, &mut sa, LAN, WAN, T0), Verdict::Accept);
        assert_eq!((addrs(&sa).0, ports(&sa).0), (ROUTER, 8080));
        assert_eq!(state(&f), TcpState::SynRecv);
    }
    let mut ack = tcp(client, 50000, ROUTER, 8080, 2, 101, ACK, b"GET /");
    assert_eq!(forward(&mut f, &mut ack, WAN, LAN, T0), Verdict::Accept);
    assert_eq!((addrs(&ack).1, ports(&ack).1), (L1, 80));
    assert_eq!(state(&f), TcpState::Established);
    assert_eq!(f.conntrack().len(), 1);
}

/// A TCP flow out through masquerade, with window tracking on the
/// translated side.
#[test]
fn masquerade_translates_a_tcp_flow() {
    let mut f = filter(NAT);
    let mut syn = tcp(L1, 33000, SERVER, 443, 10, 0, SYN, b"");
    assert_eq!(forward(&mut f, &mut syn, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(addrs(&syn).0, ROUTER);
    let sport = ports(&syn).0;
    let mut sa = tcp(SERVER, 443, ROUTER, sport, 500, 11, synack(), b"");
    assert_eq!(forward(&mut f, &mut sa, WAN, LAN, T0), Verdict::Accept);
    assert_eq!((addrs(&sa).1, ports(&sa).1), (L1, 33000));
    assert_checksums(&sa);
    let mut data = tcp(L1, 33000, SERVER, 443, 11, 501, ACK, &[7u8; 1000]);
    assert_eq!(forward(&mut f, &mut data, LAN, WAN, T0), Verdict::Accept);
    assert_checksums(&data);
}

/// RFC 5508 §3: echo identifiers are translated like ports; two LAN
/// hosts pinging with the same identifier stay apart.
#[test]
fn icmp_echo_identifiers_are_translated() {
    let mut f = filter(NAT);
    let mut a = echo(L1, SERVER, true, 77, 1);
    let mut b = echo(L2, SERVER, true, 77, 1);
    assert_eq!(forward(&mut f, &mut a, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(forward(&mut f, &mut b, LAN, WAN, T0), Verdict::Accept);
    assert_checksums(&a);
    assert_checksums(&b);
    let id = |p: &[u8]| Parsed::parse(p).unwrap().tuple().unwrap().sport;
    let (ia, ib) = (id(&a), id(&b));
    assert_eq!(ia, 77);
    assert_ne!(ib, 77);
    let mut rb = echo(SERVER, ROUTER, false, ib, 1);
    assert_eq!(forward(&mut f, &mut rb, WAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&rb).1, L2);
    assert_eq!(Parsed::parse(&rb).unwrap().tuple().unwrap().dport, 77);
    assert_checksums(&rb);
}

/// RFC 5508 §4.2 / RFC 3022 §4.3: an ICMP error about a translated
/// datagram is translated, outer header and quote alike.
#[test]
fn icmp_errors_are_translated_inside_their_quote() {
    let mut f = filter(NAT);
    let mut a = udp(L1, 40000, SERVER, 53, b"a");
    let mut b = udp(L2, 40000, SERVER, 53, b"b");
    forward(&mut f, &mut a, LAN, WAN, T0);
    forward(&mut f, &mut b, LAN, WAN, T0);
    // The server's error about b (as it saw it).
    let mut e = icmp_error(SERVER, &b);
    assert_eq!(forward(&mut f, &mut e, WAN, LAN, T0), Verdict::Accept);
    assert_checksums(&e);
    assert_eq!(addrs(&e), (SERVER, L2));
    let ip = Ipv4Packet::parse(&e).unwrap();
    let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
    let q = icmp.quote().unwrap();
    assert_eq!(q.ipv4().unwrap().src(), L2);
    assert_eq!(q.ports(), Some((40000, 53)));

    // From a router on the way: its own source address stays.
    let hop = Ipv4Addr::new(203, 0, 113, 254);
    let mut e = icmp_error(hop, &a);
    assert_eq!(forward(&mut f, &mut e, WAN, LAN, T0), Verdict::Accept);
    assert_checksums(&e);
    assert_eq!(addrs(&e), (hop, L1));

    // And the other way: the LAN host's error about a reply.
    let reply = udp(SERVER, 53, L1, 40000, b"late");
    let mut e = icmp_error(L1, &reply);
    assert_eq!(forward(&mut f, &mut e, LAN, WAN, T0), Verdict::Accept);
    assert_checksums(&e);
    assert_eq!(addrs(&e), (ROUTER, SERVER));
    let ip = Ipv4Packet::parse(&e).unwrap();
    let icmp = IcmpPacket::parse(ip.payload()).unwrap();
    assert_eq!(icmp.quote().unwrap().ipv4().unwrap().dst(), ROUTER);
    assert_eq!(icmp.quote().unwrap().ports(), Some((53, 40000)));
}

/// RFC 5508 §4.2, RFC 1191: an error the router itself sends about a
/// datagram it translated (here about a reply it de-masqueraded, as
/// "fragmentation needed" on the way to the LAN is) quotes the datagram
/// as it arrived: the quote's destination goes back to the router's
/// address and port. The error's own source is that address already; only
/// it was compared, so the quote kept the LAN host's address, the server
/// could not match the error to its connection, and path MTU discovery
/// through the NAT failed. The same for a port forward that keeps the
/// port (the quote's destination address alone differs).
#[test]
fn the_routers_own_error_about_a_translated_datagram_quotes_it_as_it_arrived() {
    // The router's error about `d` sent out its WAN side: the error's
    // addresses, and the quote's addresses and ports.
    let error_about = |f: &mut Filter, d: &[u8]| {
        let mut e = icmp_error(ROUTER, d);
        assert_eq!(local_out(f, &mut e, WAN, T0), Verdict::Accept);
        assert_checksums(&e);
        let ip = Ipv4Packet::parse(&e[..]).unwrap();
        let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
        let q = icmp.quote().unwrap();
        let inner = q.ipv4().unwrap();
        (addrs(&e), (inner.src(), inner.dst(), q.ports().unwrap()))
    };
    let mut f = filter(NAT);
    let mut q = udp(L1, 40000, SERVER, 53, b"query");
    assert_eq!(forward(&mut f, &mut q, LAN, WAN, T0), Verdict::Accept);
    let mut r = udp(SERVER, 53, ROUTER, 40000, b"a long answer");
    assert_eq!(
        f.hook(HookPoint::PreRouting, &mut r, Some(WAN), None, T0),
        Verdict::Accept
    );
    assert_eq!(addrs(&r), (SERVER, L1));
    assert_eq!(
        error_about(&mut f, &r),
        ((ROUTER, SERVER), (SERVER, ROUTER, (53, 40000)))
    );

    // A port forward keeping its port: a WAN client's datagram to the
    // router's port 7 goes to the LAN host's port 7.
    let mut f = filter(
        "table ip nat { chain pre { type nat hook prerouting priority dstnat;
            iif 1 udp dport 7 dnat to 192.168.1.10:7 } }",
    );
    let client = Ipv4Addr::new(203, 0, 113, 9);
    let mut d = udp(client, 5000, ROUTER, 7, b"echo me");
    assert_eq!(forward(&mut f, &mut d, WAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&d), (client, L1));
    assert_eq!(
        error_about(&mut f, &d),
        ((ROUTER, client), (client, ROUTER, (5000, 7)))
    );
}

/// The same with hairpin NAT: the router's own error about a datagram it
/// translated at both ends (as "fragmentation needed" on the way to the
/// LAN server is) goes, as the datagram's source reads, to the router
/// itself; destination NAT at Output turns it to the client, and source
/// NAT at PostRouting must finish the quote. Output without an output
/// interface (a datagram for this host) counted as the error's last
/// hook, so its flow was forgotten before PostRouting, looked up afresh
/// from the half-translated quote, not found, and the error reached the
/// client quoting the LAN server: path MTU discovery through the hairpin
/// failed.
#[test]
fn the_routers_own_error_about_a_hairpinned_datagram_is_translated_at_both_ends() {
    let mut f = filter(HAIRPIN);
    let mut q = udp(L2, 41000, ROUTER, 5353, b"a long query");
    assert_eq!(forward(&mut f, &mut q, LAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&q), (ROUTER_LAN, L1));
    let mut e = icmp_error(ROUTER_LAN, &q);
    assert_eq!(addrs(&e), (ROUTER_LAN, ROUTER_LAN));
    assert_eq!(
        f.hook(HookPoint::Output, &mut e, None, None, T0),
        Verdict::Accept
    );
    assert_eq!(addrs(&e).1, L2, "sent on to the client");
    assert_eq!(
        f.hook(HookPoint::PostRouting, &mut e, None, Some(LAN), T0),
        Verdict::Accept
    );
    assert_checksums(&e);
    let ip = Ipv4Packet::parse(&e[..]).unwrap();
    let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
    let quote = icmp.quote().unwrap();
    let inner = quote.ipv4().unwrap();
    assert_eq!(
        (inner.src(), inner.dst(), quote.ports()),
        (L2, ROUTER, Some((41000, 5353))),
        "the quote as the client sent it"
    );
}

/// RFC 1624 §3: updating a checksum incrementally gives +0 (`0x0000`)
/// where the message has become all zeros, whose checksum computed
/// afresh is -0 (`0xffff`), the only form a receiver accepts: an echo
/// reply with no data and sequence number 0 whose identifier NAT turns
/// into 0 (found by the `filter_hook` fuzz target).
#[test]
fn an_echo_reply_translated_to_all_zeros_keeps_a_valid_checksum() {
    let ip = Ipv4Repr::new(SERVER, ROUTER, IpProtocol::ICMP);
    let reply = IcmpRepr::EchoReply {
        ident: 0x03e9,
        seq_no: 0,
    };
    let mut pkt = b""
        .wrap_in(reply.builder())
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec();
    let p = Parsed::parse(&pkt).unwrap();
    nat::rewrite(&mut pkt, &p, Side::Dst, L1, 0);
    assert_checksums(&pkt);
    let ip = Ipv4Packet::parse(&pkt).unwrap();
    assert_eq!(
        (ip.dst(), ip.payload()),
        (L1, &[0, 0, 0xff, 0xff, 0, 0, 0, 0][..])
    );
}

/// RFC 768: a zero UDP checksum means none, and stays zero under NAT.
#[test]
fn zero_udp_checksum_stays_zero_under_nat() {
    let mut f = filter(NAT);
    let mut q = udp(L1, 40000, SERVER, 53, b"q");
    q[26] = 0;
    q[27] = 0;
    forward(&mut f, &mut q, LAN, WAN, T0);
    assert_eq!(addrs(&q).0, ROUTER);
    assert_eq!(&q[26..28], &[0, 0]);
    assert_checksums(&q);
}

/// RFC 5128 §2.9 hairpinning: a LAN host reaches a LAN service through
/// the router's public address; with masquerade on the hairpin the
/// server replies through the router.
#[test]
fn hairpin_nat_reaches_a_lan_service_through_the_public_address() {
    let mut f = filter(HAIRPIN);
    let mut q = udp(L2, 41000, ROUTER, 5353, b"q");
    assert_eq!(forward(&mut f, &mut q, LAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&q), (ROUTER_LAN, L1));
    assert_eq!(ports(&q).1, 53);
    assert_checksums(&q);
    let sport = ports(&q).0;
    let mut r = udp(L1, 53, ROUTER_LAN, sport, b"r");
    assert_eq!(forward(&mut f, &mut r, LAN, LAN, T0), Verdict::Accept);
    assert_eq!(addrs(&r), (ROUTER, L2));
    assert_eq!(ports(&r), (5353, 41000));
    assert_checksums(&r);
}

#[test]
fn masquerade_without_an_interface_address_drops() {
    let rs: Ruleset = NAT.parse().unwrap();
    let mut f = Filter::new(rs, FilterConfig::default(), &mut SeededRng::new(1)).unwrap();
    let mut q = udp(L1, 40000, SERVER, 53, b"q");
    assert_eq!(forward(&mut f, &mut q, LAN, WAN, T0), Verdict::Drop);
    assert_eq!(f.stats().nat_failed, 1);
}

/// Property (RFC 1624): rewriting any address or port of random TCP, UDP
/// and ICMP datagrams by incremental update leaves exactly the checksums
/// a full recomputation gives.
#[test]
fn incremental_checksum_fixups_equal_full_recomputation() {
    let mut rng = SeededRng::new(99);
    for k in 0..3000 {
        let src = Ipv4Addr::from(rng.next_u32() | 1);
        let dst = Ipv4Addr::from(rng.next_u32() | 1);
        let len = (rng.next_u32() % 64) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        let (sp, dp) = (rng.next_u32() as u16, rng.next_u32() as u16);
        let mut pkt = match k % 5 {
            0 => tcp(src, sp, dst, dp, rng.next_u32(), rng.next_u32(), ACK, &data),
            1 => udp(src, sp, dst, dp, &data),
            2 => echo(src, dst, true, sp, dp),
            3 => echo(src, dst, false, sp, dp),
            _ => {
                let inner = if rng.next_u32().is_multiple_of(2) {
                    udp(dst, sp, src, dp, &data)
                } else {
                    tcp(dst, sp, src, dp, 1, 2, SYN, &data)
                };
                icmp_error(src, &inner)
            }
        };
        let side = if rng.next_u32().is_multiple_of(2) {
            Side::Src
        } else {
            Side::Dst
        };
        let p = Parsed::parse(&pkt).unwrap();
        nat::rewrite(
            &mut pkt,
            &p,
            side,
            Ipv4Addr::from(rng.next_u32() | 1),
            rng.next_u32() as u16,
        );
        assert_checksums(&pkt);
        // The quoted transport checksum too, where the quote is whole.
        let ip = Ipv4Packet::parse(&pkt).unwrap();
        if ip.protocol() == IpProtocol::ICMP
            && let Ok(icmp) = IcmpPacket::parse(ip.payload())
            && icmp.is_error()
        {
            let q = icmp.quoted().unwrap();
            if !q.is_truncated() && q.protocol() == IpProtocol::TCP {
                assert!(TcpSegment::parse_verified(q.payload(), q.src(), q.dst()).is_ok());
            }
        }
    }
}

// ---- Parser ----------------------------------------------------------------

const EXAMPLES: [&str; 4] = [
    "table ip filter { chain input { type filter hook input priority 0; policy drop; ct state established,related accept; ip saddr 192.0.2.0/24 tcp dport { 22, 80 } ct state new accept } }",
    NAT,
    FIREWALL,
    "# a comment
table filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid log prefix \"invalid: \" drop
        iif 0 oif 1 ip daddr != { 10.0.0.0/8, 172.16.0.0/12 } accept
        tcp flags syn tcp sport 1-1023 meta mark set 0x10 jump audit
        icmp type { echo-request, echo-reply } icmp code 0 accept
        ip length 1000-1500 meta mark & 0xff == 0x10 reject with tcp reset
        meta l4proto { 47, 50 } queue num 3
        udp dport 9 reject with icmp type host-prohibited
    }
    chain audit { counter; return }
    chain nat_out { type nat hook postrouting priority 100; snat to 198.51.100.2:2000-3000; }
}",
];

#[test]
fn parser_round_trips_the_documented_examples() {
    for text in EXAMPLES {
        let a: Ruleset = text.parse().unwrap_or_else(|e| panic!("{e}"));
        let printed = a.to_string();
        let b: Ruleset = printed.parse().unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(a, b, "{printed}");
        Filter::new(a, FilterConfig::default(), &mut SeededRng::new(1)).unwrap();
    }
}

#[test]
fn parser_builds_the_typed_model() {
    let rs: Ruleset = EXAMPLES[0].parse().unwrap();
    let want = Ruleset::new().table(
        Table::new("filter").chain(
            Chain::base(
                "input",
                BaseChain {
                    chain_type: ChainType::Filter,
                    hook: HookPoint::Input,
                    priority: 0,
                    policy: Policy::Drop,
                },
            )
            .rule(Rule::new(
                vec![Match::CtState(StateSet::of(&[
                    CtState::Established,
                    CtState::Related,
                ]))],
                vec![Action::Accept],
            ))
            .rule(Rule::new(
                vec![
                    Match::Saddr(AddrSet::single(cidr("192.0.2.0/24"))),
                    Match::Protocol(vec![6]),
                    Match::Dport([22u16, 80].iter().fold(PortSet::new(), |mut s, &p| {
                        s.insert(p);
                        s
                    })),
                    Match::CtState(StateSet::of(&[CtState::New])),
                ],
                vec![Action::Accept],
            )),
        ),
    );
    assert_eq!(rs, want);
}

#[test]
fn parse_errors_point_at_the_bad_token() {
    let cases: [(&str, &str, &str); 9] = [
        (
            "table ip t { chain c { tcp dport 99999 accept } }",
            "99999",
            "port",
        ),
        (
            "table ip t { chain c { ip saddr 10.0.0.0/33 drop } }",
            "10.0.0.0/33",
            "address",
        ),
        (
            "table ip t { chain c { frobnicate } }",
            "frobnicate",
            "unknown",
        ),
        (
            "table ip t { chain c { type filter hook sideways priority 0; } }",
            "sideways",
            "hook",
        ),
        ("table ip t { chain c { accept drop } }", "drop", "verdict"),
        (
            "table ip t { chain c { ct state sleepy accept } }",
            "sleepy",
            "established",
        ),
        (
            "table ip t { chain c { policy drop; } }",
            "policy",
            "base chain",
        ),
        (
            "table ip t { chain c { log prefix \"oops } }",
            "\"oops",
            "unterminated",
        ),
        ("table ip t { chain c { accept }", "", "`}`"),
    ];
    for (text, token, msg) in cases {
        let e = text.parse::<Ruleset>().unwrap_err();
        let want = if token.is_empty() {
            text.len()
        } else {
            text.find(token).unwrap()
        };
        assert_eq!(e.offset, want, "{text}: {e}");
        assert!(e.message.contains(msg), "{text}: {e}");
    }
}

// ---- Robustness ------------------------------------------------------------

/// Arbitrary bytes at any hook, and arbitrary text to the parser, never
/// panic.
#[test]
fn arbitrary_input_never_panics() {
    let mut f = filter(EXAMPLES[3]);
    let mut nat = filter(NAT);
    let mut rng = SeededRng::new(5);
    for k in 0..20_000u32 {
        let len = (rng.next_u32() % 80) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        // Often a valid IPv4 header in front, so that deeper code runs.
        if k % 2 == 0 && len >= 20 {
            let base = match k % 6 {
                0 => tcp(
                    L1,
                    1,
                    SERVER,
                    2,
                    3,
                    4,
                    ACK,
                    b"0123456789012345678901234567890123456789",
                ),
                2 => udp(
                    L1,
                    1,
                    SERVER,
                    2,
                    b"0123456789012345678901234567890123456789",
                ),
                _ => icmp_error(SERVER, &udp(L1, 1, SERVER, 2, b"01234567")),
            };
            let cut = len.min(base.len());
            pkt[..cut].copy_from_slice(&base[..cut]);
            if let Some(b) = pkt.get_mut(20 + (rng.next_u32() % 20) as usize) {
                *b = rng.next_u32() as u8;
            }
        }
        let point = HookPoint::ALL[(rng.next_u32() % 5) as usize];
        let now = Instant::from_millis(u64::from(k));
        f.hook(point, &mut pkt, Some(LAN), Some(WAN), now);
        nat.hook(point, &mut pkt, Some(WAN), Some(LAN), now);
    }
    let words = [
        "table",
        "chain",
        "{",
        "}",
        ";",
        "ip",
        "saddr",
        "tcp",
        "dport",
        "accept",
        "jump",
        "type",
        "nat",
        "hook",
        "input",
        "priority",
        "-5",
        "policy",
        "drop",
        "ct",
        "state",
        "new",
        ",",
        "10.0.0.0/8",
        "80-90",
        "\"x",
        "!=",
        "&",
        "(",
        "syn",
        "|",
        "dnat",
        "to",
        "1.2.3.4:5",
    ];
    for _ in 0..20_000 {
        let n = rng.next_u32() % 20;
        let text: Vec<&str> = (0..n)
            .map(|_| words[(rng.next_u32() as usize) % words.len()])
            .collect();
        let _ = text.join(" ").parse::<Ruleset>();
    }
}

/// Splits datagram `d` into two fragments at payload byte `at` (a
/// multiple of 8), RFC 791 §3.2.
fn fragments(d: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
    let ip = Ipv4Packet::parse(d).unwrap();
    let base = Ipv4Repr {
        identification: 0x1234,
        ..Ipv4Repr::new(ip.src(), ip.dst(), ip.protocol())
    };
    let first = Ipv4Repr {
        more_fragments: true,
        ..base
    };
    let second = Ipv4Repr {
        fragment_offset: (at / 8) as u16,
        ..base
    };
    let (a, b) = ip.payload().split_at(at);
    let f1 = a
        .wrap_in(&first)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec();
    let f2 = b
        .wrap_in(&second)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec();
    (f1, f2)
}

/// RFC 791 §3.2 / RFC 3022 §4.1: the first fragment carries the ports
/// and the transport checksum; later fragments follow its verdict and
/// its NAT (address only), and the reassembled datagram verifies.
#[test]
fn fragments_follow_their_first_fragment_through_filter_and_nat() {
    let text = std::format!(
        "{NAT}
         table ip filter {{ chain fwd {{ type filter hook forward priority 0; policy drop;
             ct state established accept; udp dport 53 accept }} }}"
    );
    let mut f = filter(&text);
    let whole = udp(L1, 40000, SERVER, 53, &[0xab; 100]);
    let (mut f1, mut f2) = fragments(&whole, 32);
    assert_eq!(forward(&mut f, &mut f1, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(forward(&mut f, &mut f2, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(addrs(&f1), (ROUTER, SERVER));
    assert_eq!(addrs(&f2), (ROUTER, SERVER));
    assert!(Ipv4Packet::parse_verified(&f2).is_ok());
    // Reassemble and verify the UDP checksum.
    let p1 = Ipv4Packet::parse(&f1).unwrap();
    let p2 = Ipv4Packet::parse(&f2).unwrap();
    let payload: Vec<u8> = [p1.payload(), p2.payload()].concat();
    let joined = payload
        .as_slice()
        .wrap_in(&Ipv4Repr::new(ROUTER, SERVER, IpProtocol::UDP))
        .serialize_vec(0)
        .unwrap();
    assert_checksums(joined.as_slice());

    // A later fragment whose first fragment was not seen is invalid.
    let other = udp(L2, 40000, SERVER, 53, &[0xcd; 100]);
    let (_, mut orphan) = fragments(&other, 32);
    orphan[4] = 0x99; // another identification
    let sum = {
        orphan[10] = 0;
        orphan[11] = 0;
        checksum(&orphan[..20])
    };
    orphan[10..12].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(forward(&mut f, &mut orphan, LAN, WAN, T0), Verdict::Drop);
    // A first fragment the rules drop drags its followers along.
    let blocked = udp(L1, 40000, SERVER, 54, &[0xee; 100]);
    let (mut b1, mut b2) = fragments(&blocked, 32);
    b1[4] = 0x77;
    b2[4] = 0x77;
    for b in [&mut b1, &mut b2] {
        b[10] = 0;
        b[11] = 0;
        let s = checksum(&b[..20]);
        b[10..12].copy_from_slice(&s.to_be_bytes());
    }
    assert_eq!(forward(&mut f, &mut b1, LAN, WAN, T0), Verdict::Drop);
    assert_eq!(forward(&mut f, &mut b2, LAN, WAN, T0), Verdict::Drop);
}

#[test]
fn add_commands_build_the_same_ruleset_as_a_block() {
    let block: Ruleset =
        "table ip filter { chain input { type filter hook input priority 0; policy drop;
        ct state established accept
        tcp dport 22 accept } }"
            .parse()
            .unwrap();
    let mut rs = Ruleset::new();
    for line in [
        "add table ip filter",
        "add chain ip filter input { type filter hook input priority 0; policy drop; }",
        "add rule ip filter input ct state established accept",
        "add rule filter input tcp dport 22 accept",
    ] {
        rs.apply_command(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    assert_eq!(rs, block);
    for (bad, at) in [
        ("add rule ip nope input accept", 12),
        ("add rule ip filter input tcp dport x accept", 35),
        ("add chain ip filter input", 20),
        ("add set ip filter s", 4),
    ] {
        let before = rs.clone();
        assert_eq!(rs.apply_command(bad).unwrap_err().offset, at, "{bad}");
        assert_eq!(rs, before, "unchanged on error");
    }
}

#[allow(clippy::too_many_arguments)]
fn tcp_ws(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    wscale: Option<u8>,
    data: &[u8],
) -> Vec<u8> {
    let (sport, dport) = if src == L1 {
        (40000, 443)
    } else {
        (443, 40000)
    };
    let ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
    let t = TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq_number: SeqNumber(seq),
        ack_number: SeqNumber(ack),
        flags,
        window_len: window,
        window_scale: wscale,
        ..TcpRepr::default()
    };
    data.wrap_in(t.builder(src, dst).unwrap())
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

/// RFC 7323 §2: with both SYNs carrying Window Scale, later windows are
/// scaled, and data that far ahead is in window; without it, it is not.
#[test]
fn tcp_window_tracking_applies_window_scaling() {
    let rules =
        "table ip t { chain f { type filter hook forward priority 0; ct state invalid drop } }";
    // (Also with the first SYN sent twice, its answer lost: the copy
    // keeps the scale it announces — it used to lose it, the other side's
    // SYN not seen yet, and the client's windows were then read unscaled.)
    for (scaled, resent) in [(true, false), (false, false), (true, true)] {
        let mut f = filter(rules);
        let ws = scaled.then_some(7u8);
        let mut go = |p: Vec<u8>, from_lan: bool| {
            let mut p = p;
            if from_lan {
                forward(&mut f, &mut p, LAN, WAN, T0)
            } else {
                forward(&mut f, &mut p, WAN, LAN, T0)
            }
        };
        for _ in 0..1 + usize::from(resent) {
            assert_eq!(
                go(tcp_ws(L1, SERVER, 100, 0, SYN, 64240, ws, b""), true),
                Verdict::Accept
            );
        }
        assert_eq!(
            go(
                tcp_ws(SERVER, L1, 9000, 101, synack(), 65160, ws, b""),
                false
            ),
            Verdict::Accept
        );
        // The client opens a window of 1000 << 7 = 128,000 bytes.
        assert_eq!(
            go(tcp_ws(L1, SERVER, 101, 9001, ACK, 1000, None, b""), true),
            Verdict::Accept
        );
        // The server sends 100,000 bytes ahead.
        let far = tcp_ws(SERVER, L1, 9001 + 100_000, 101, ACK, 500, None, b"x");
        let want = if scaled {
            Verdict::Accept
        } else {
            Verdict::Drop
        };
        assert_eq!(go(far, false), want, "scaled: {scaled}, resent: {resent}");
    }
}

/// A SYN retransmitted with another initial sequence number restarts
/// the tracking of that side (as Linux does in SYN_SENT).
#[test]
fn tcp_syn_with_a_new_isn_restarts_tracking() {
    let rules =
        "table ip t { chain f { type filter hook forward priority 0; ct state invalid drop } }";
    let mut f = filter(rules);
    let mut s1 = tcp_ws(L1, SERVER, 100, 0, SYN, 64240, None, b"");
    assert_eq!(forward(&mut f, &mut s1, LAN, WAN, T0), Verdict::Accept);
    let mut s2 = tcp_ws(L1, SERVER, 3_000_000_000, 0, SYN, 64240, None, b"");
    assert_eq!(forward(&mut f, &mut s2, LAN, WAN, T0), Verdict::Accept);
    let mut sa = tcp_ws(SERVER, L1, 9000, 3_000_000_001, synack(), 65160, None, b"");
    assert_eq!(forward(&mut f, &mut sa, WAN, LAN, T0), Verdict::Accept);
}

/// `queue` hands the datagram to a user queue (netfilter's NFQUEUE).
#[test]
fn queue_returns_the_queue_verdict() {
    let mut f = filter(
        "table ip t { chain in { type filter hook input priority 0; udp dport 5 queue num 7; queue } }",
    );
    let mut p = udp(L1, 1, ROUTER_LAN, 5, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Queue(7));
    let mut p = udp(L1, 1, ROUTER_LAN, 6, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Queue(0));
    assert_eq!(f.stats().queued, 2);
}

/// Marks compare under a mask; interface matches negate.
#[test]
fn mark_mask_and_interface_negation() {
    let mut f = filter(
        "table ip t {
         chain pre { type filter hook prerouting priority 0; udp dport 1 meta mark set 0x1f0 }
         chain in { type filter hook input priority 0; policy accept;
             meta mark & 0xf0 == 0xf0 drop
             iif != 0 drop } }",
    );
    let mut p = udp(L1, 1, ROUTER_LAN, 1, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Drop);
    let mut p = udp(L1, 1, ROUTER_LAN, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, LAN, T0), Verdict::Accept);
    let mut p = udp(SERVER, 1, ROUTER, 2, b"");
    assert_eq!(local_in(&mut f, &mut p, WAN, T0), Verdict::Drop);
}

/// A datagram damaged on the way (a bit flipped after its checksum was
/// computed) is INVALID on arrival and opens nothing: its flipped port
/// would otherwise open a flow that lives five days. With the device's
/// word that the checksum is right, or the check off, it is tracked. A
/// damaged TCP segment of a known flow moves nothing; a damaged UDP
/// datagram of one is not checked (it changes nothing but the flow's
/// timeout, and its receiver drops it).
#[test]
fn a_received_datagram_with_a_bad_checksum_is_invalid_and_not_tracked() {
    let rules =
        "table ip t { chain f { type filter hook forward priority 0; ct state invalid drop } }";
    let mut f = filter(rules);
    for mut bad in [
        tcp(L1, 40000, SERVER, 80, 1000, 0, SYN, b""),
        tcp(L1, 40001, SERVER, 80, 1000, 7, ACK, b"data"),
        udp(L1, 5000, SERVER, 53, b"query"),
        echo(L1, SERVER, true, 9, 1),
    ] {
        // Flip a bit of the source port, or of the echo identifier (the
        // IPv4 header stays right).
        let ihl = usize::from(bad[0] & 0x0f) * 4;
        let at = if bad[9] == 1 { ihl + 4 } else { ihl };
        bad[at] ^= 0x04;
        assert_eq!(forward(&mut f, &mut bad, LAN, WAN, T0), Verdict::Drop);
    }
    assert!(f.conntrack().is_empty());
    assert_eq!(f.stats().bad_checksum, 4);
    // The same datagrams intact are tracked.
    let mut ok = tcp(L1, 40000, SERVER, 80, 1000, 0, SYN, b"");
    assert_eq!(forward(&mut f, &mut ok, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(f.conntrack().len(), 1);
    // A damaged segment of that flow (its window field: a bit that would
    // otherwise count) is invalid too, and the flow stays as it was.
    let before = f.conntrack().iter().next().unwrap();
    let mut bad = tcp(L1, 40000, SERVER, 80, 1000, 0, SYN, b"");
    let ihl = usize::from(bad[0] & 0x0f) * 4;
    bad[ihl + 14] ^= 0x80;
    assert_eq!(
        forward(&mut f, &mut bad, LAN, WAN, T0 + Duration::from_secs(1)),
        Verdict::Drop
    );
    assert_eq!(f.conntrack().iter().next().unwrap(), before);
    assert_eq!(f.stats().bad_checksum, 5);
    // A device that verified the checksum is taken at its word (its
    // datagram may carry a partial checksum, as with checksum offload).
    let mut partial = udp(L1, 5000, SERVER, 53, b"query");
    let ihl = usize::from(partial[0] & 0x0f) * 4;
    partial[ihl + 6] ^= 0x55;
    assert_eq!(
        f.hook_received(&mut partial, LAN, true, T0),
        Verdict::Accept
    );
    assert_eq!(f.conntrack().len(), 1, "tracked at the next hook it meets");
    // Without the check (`nf_conntrack_checksum=0`), tracked as it is.
    let mut lax = FilterConfig::default();
    lax.conntrack.checksum = false;
    let mut f = filter_with(rules, lax);
    let mut bad = tcp(L1, 40000, SERVER, 80, 1000, 0, SYN, b"");
    let ihl = usize::from(bad[0] & 0x0f) * 4;
    bad[ihl] ^= 0x04;
    assert_eq!(forward(&mut f, &mut bad, LAN, WAN, T0), Verdict::Accept);
    assert_eq!(f.conntrack().len(), 1);
}

/// A router's stateful forward chain: what conntrack finds invalid is
/// dropped, replies come in, the LAN goes out.
const STATEFUL: &str = "table ip t { chain f { type filter hook forward priority 0; policy drop;
                        ct state invalid drop
                        ct state established,related accept
                        iif 0 oif 1 accept } }";

/// `p` forwarded from the LAN to the WAN (`out`) or back, at `T0`.
fn fwd(f: &mut Filter, mut p: Vec<u8>, out: bool) -> Verdict {
    if out {
        forward(f, &mut p, LAN, WAN, T0)
    } else {
        forward(f, &mut p, WAN, LAN, T0)
    }
}

/// The TCP state of the one flow tracked.
fn state(f: &Filter) -> TcpState {
    f.conntrack().iter().next().unwrap().tcp_state
}

/// A client opens a new connection on the 4-tuple of one the router
/// still thinks established (both of its resets were lost): the SYN goes
/// through untouched, and the server's SYN-ACK for it starts the flow
/// over, NAT binding kept. A SYN the server answers with an ACK (its old
/// connection lives: RFC 9293 §3.10.7.4) changes nothing.
#[test]
fn a_new_connection_on_a_tuple_still_established_is_let_through_and_resynced() {
    let mut f = filter(STATEFUL);
    assert_eq!(
        fwd(&mut f, tcp(L1, 1, SERVER, 2, 100, 0, SYN, b""), true),
        Verdict::Accept
    );
    let sa = tcp(SERVER, 2, L1, 1, 900, 101, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let ack = tcp(L1, 1, SERVER, 2, 101, 901, ACK, b"x");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);

    // A stray SYN: let through, the old connection's ACK comes back, and
    // the flow goes on as it was.
    let stray = tcp(L1, 1, SERVER, 2, 7_000_000, 0, SYN, b"");
    assert_eq!(fwd(&mut f, stray, true), Verdict::Accept);
    let challenge = tcp(SERVER, 2, L1, 1, 901, 102, ACK, b"");
    assert_eq!(fwd(&mut f, challenge, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);
    // A SYN-ACK that answers no SYN is still invalid.
    let lone = tcp(SERVER, 2, L1, 1, 5_000, 7_000_001, synack(), b"");
    assert_eq!(fwd(&mut f, lone, false), Verdict::Drop);

    // The new connection: SYN, SYN-ACK for it, ACK — the flow restarts.
    let syn = tcp(L1, 1, SERVER, 2, 3_000_000_000, 0, SYN, b"");
    assert_eq!(fwd(&mut f, syn, true), Verdict::Accept);
    assert_eq!(
        state(&f),
        TcpState::Established,
        "nothing changes on the SYN"
    );
    let sa = tcp(SERVER, 2, L1, 1, 40_000, 3_000_000_001, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::SynRecv);
    let ack = tcp(L1, 1, SERVER, 2, 3_000_000_001, 40_001, ACK, b"new");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);
    assert_eq!(f.conntrack().len(), 1);
    // The old connection's sequence space is gone.
    let old = tcp(L1, 1, SERVER, 2, 102, 901, ACK, b"y");
    assert_eq!(fwd(&mut f, old, true), Verdict::Drop);
}

/// A client resets a connection and at once opens the next on the same
/// 4-tuple; its reset of the old one (to a late ACK) follows the new
/// SYN. That reset is let by but must not close the new flow: closed, a
/// SYN sent again and delivered late, after the handshake, would open
/// the flow over, and the data behind it would be invalid (seen in the
/// NAT-to-port-forwarding scan, seed 9961: the router's own stack reset
/// the connection).
#[test]
fn a_late_reset_of_the_last_connection_does_not_close_a_new_one() {
    let mut f = filter(STATEFUL);
    let syn = tcp(L1, 1, SERVER, 2, 5_000_000, 0, SYN, b"");
    assert_eq!(fwd(&mut f, syn.clone(), true), Verdict::Accept);
    let old_rst = tcp(L1, 1, SERVER, 2, 4_000_000, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, old_rst, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::SynSent);
    let sa = tcp(SERVER, 2, L1, 1, 900, 5_000_001, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let ack = tcp(L1, 1, SERVER, 2, 5_000_001, 901, ACK, b"");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);
    // The first SYN sent again, delivered after the handshake.
    assert_eq!(fwd(&mut f, syn, true), Verdict::Accept);
    let data = tcp(L1, 1, SERVER, 2, 5_000_001, 901, ACK, &[1; 500]);
    assert_eq!(fwd(&mut f, data, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);
    assert_eq!(f.conntrack().len(), 1);

    // The client's own reset of a connection still opening (sequence
    // number after its SYN) does close it.
    let mut f = filter(STATEFUL);
    let syn = tcp(L1, 3, SERVER, 2, 7_000, 0, SYN, b"");
    assert_eq!(fwd(&mut f, syn, true), Verdict::Accept);
    let rst = tcp(L1, 3, SERVER, 2, 7_001, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, rst, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Close);
}

/// A segment that is merely late — a duplicate delayed past a window of
/// newer data, an ACK overtaken by later ones — still belongs to its
/// flow: translated and let through, changing nothing. Marked invalid
/// it would reach the router's own stack untranslated, and the reset
/// that answers it could end the connection. Forged segments (ahead of
/// the window, acknowledging the unsent) stay invalid.
#[test]
fn late_segments_belong_to_their_flow_and_change_nothing() {
    let rules = "table ip nat { chain post { type nat hook postrouting priority srcnat; oif 1 masquerade } }
                 table ip t { chain f { type filter hook forward priority 0; policy drop;
                 ct state invalid drop
                 ct state established,related accept
                 iif 0 oif 1 accept } }";
    let mut f = filter(rules);
    let out = |f: &mut Filter, p: Vec<u8>| {
        let mut p = p;
        (forward(f, &mut p, LAN, WAN, T0), p)
    };
    let (v, syn) = out(&mut f, tcp(L1, 1, SERVER, 2, 100, 0, SYN, b""));
    assert_eq!(v, Verdict::Accept);
    let nat = Ipv4Packet::parse(&syn).unwrap().src();
    let nport = u16::from_be_bytes([syn[20], syn[21]]);
    let back = |f: &mut Filter, seq: u32, ack: u32, flags: TcpFlags, data: &[u8]| {
        let mut p = tcp(SERVER, 2, nat, nport, seq, ack, flags, data);
        let v = forward(f, &mut p, WAN, LAN, T0);
        (v, Ipv4Packet::parse(&p).unwrap().dst())
    };
    assert_eq!(back(&mut f, 900, 101, synack(), b"").0, Verdict::Accept);
    assert_eq!(
        out(&mut f, tcp(L1, 1, SERVER, 2, 101, 901, ACK, b"")).0,
        Verdict::Accept
    );
    // The server sends 3 windows' worth (the client's window is 8192),
    // acknowledged as it goes.
    let chunk = [7u8; 4096];
    for k in 0..6u32 {
        let seq = 901 + k * 4096;
        assert_eq!(back(&mut f, seq, 101, ACK, &chunk).0, Verdict::Accept);
        let ack = tcp(L1, 1, SERVER, 2, 101, seq + 4096, ACK, b"");
        assert_eq!(out(&mut f, ack).0, Verdict::Accept);
    }
    let before = f.conntrack().iter().next().unwrap();
    // A copy of the first data segment arrives now, long after: late,
    // so let by and translated back to the client, nothing changed.
    let (v, to) = back(&mut f, 901, 101, ACK, &chunk);
    assert_eq!((v, to), (Verdict::Accept, L1));
    // So is an ACK from before (the client's, overtaken by newer ones).
    assert_eq!(
        out(&mut f, tcp(L1, 1, SERVER, 2, 101, 901, ACK, b"")).0,
        Verdict::Accept
    );
    assert_eq!(f.conntrack().iter().next().unwrap(), before);
    let invalid = f.conntrack().stats().invalid;
    // Forged: data far ahead of the client's window, and an ACK of
    // bytes the server never sent.
    assert_eq!(back(&mut f, 901 + 200_000, 101, ACK, b"x").0, Verdict::Drop);
    let forged = tcp(L1, 1, SERVER, 2, 101, 901 + 200_000, ACK, b"");
    assert_eq!(out(&mut f, forged).0, Verdict::Drop);
    assert_eq!(f.conntrack().stats().invalid, invalid + 2);
}

/// A client's SYN on a 4-tuple whose older connection the server still
/// holds (the router saw it end, or never saw it): the server answers
/// with an ACK of the old connection (RFC 9293 §3.10.7.4), the client
/// resets that connection (the reset is in the old sequence space), and
/// the SYN-ACK that follows starts the flow, whatever the old connection
/// left on the reply side.
#[test]
fn a_syn_answered_from_an_older_connection_gets_through_once_it_is_reset() {
    let mut f = filter(STATEFUL);
    // An older connection's last word seen by the router: a reset.
    assert_eq!(
        fwd(&mut f, tcp(L1, 1, SERVER, 2, 100, 0, SYN, b""), true),
        Verdict::Accept
    );
    let sa = tcp(SERVER, 2, L1, 1, 900, 101, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let rst = tcp(L1, 1, SERVER, 2, 101, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, rst, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Close);
    // (The server never got that reset.) A new SYN reopens the flow.
    let syn = tcp(L1, 1, SERVER, 2, 50, 0, SYN, b"");
    assert_eq!(fwd(&mut f, syn, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::SynSent);
    // The server answers from the old connection (acknowledging beyond
    // the new SYN); the client resets it.
    let old_ack = tcp(SERVER, 2, L1, 1, 901, 101, ACK, b"");
    assert_eq!(fwd(&mut f, old_ack, false), Verdict::Accept);
    let reset = tcp(L1, 1, SERVER, 2, 101, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, reset, true), Verdict::Accept);
    // The SYN again, and now the server's SYN-ACK for it.
    let syn = tcp(L1, 1, SERVER, 2, 50, 0, SYN, b"");
    assert_eq!(fwd(&mut f, syn, true), Verdict::Accept);
    let sa = tcp(SERVER, 2, L1, 1, 5_000_000, 51, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::SynRecv);
    let ack = tcp(L1, 1, SERVER, 2, 51, 5_000_001, ACK, b"hi");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);
}

/// A stateful filter that tracked a connection L1:1 → SERVER:2 (client
/// ISN `isn`, server ISN 900) ended by the server's reset: its flow is
/// closed, and the tuple free for a new connection.
fn reset_by_the_server(isn: u32) -> Filter {
    let mut f = filter(STATEFUL);
    assert_eq!(
        fwd(&mut f, tcp(L1, 1, SERVER, 2, isn, 0, SYN, b""), true),
        Verdict::Accept
    );
    let sa = tcp(SERVER, 2, L1, 1, 900, isn + 1, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let rst = tcp(SERVER, 2, L1, 1, 901, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, rst, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Close);
    f
}

/// RFC 9293 §3.10.7.3: a reset answers a SYN only if it acknowledges
/// it. A late reset of the last connection on the 4-tuple, arriving just
/// after a new SYN reopened the flow, is invalid and leaves the new flow
/// as it is (it used to close it, and the new connection's segments
/// then met a closed flow); a server's refusal, which acknowledges the
/// SYN, closes it.
#[test]
fn a_late_reset_of_the_last_connection_does_not_close_the_new_one() {
    let mut f = reset_by_the_server(100);
    // A new connection; a copy of the reset arrives late.
    assert_eq!(
        fwd(&mut f, tcp(L1, 1, SERVER, 2, 5000, 0, SYN, b""), true),
        Verdict::Accept
    );
    assert_eq!(state(&f), TcpState::SynSent);
    let late = tcp(SERVER, 2, L1, 1, 901, 0, TcpFlags::RST, b"");
    assert_eq!(fwd(&mut f, late, false), Verdict::Drop);
    assert_eq!(state(&f), TcpState::SynSent);
    let sa = tcp(SERVER, 2, L1, 1, 70_000, 5001, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let ack = tcp(L1, 1, SERVER, 2, 5001, 70_001, ACK, b"data");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Established);

    // A refusal acknowledges the SYN: it closes the flow.
    let mut f = filter(STATEFUL);
    assert_eq!(
        fwd(&mut f, tcp(L1, 3, SERVER, 4, 100, 0, SYN, b""), true),
        Verdict::Accept
    );
    let refused = tcp(SERVER, 4, L1, 3, 0, 101, TcpFlags::RST.union(ACK), b"");
    assert_eq!(fwd(&mut f, refused, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::Close);
}

/// Before the answer to its SYN, a client sends nothing but the SYN (or
/// a reset): a segment that comes from it then is of the tuple's last
/// connection, late, and is invalid. It used to be taken, and moved the
/// new flow's sequence tracking 30 KB ahead; the server's segments were
/// then judged against it and found invalid.
#[test]
fn a_late_segment_of_the_last_connection_does_not_move_a_new_flow() {
    let mut f = reset_by_the_server(1000);
    // A new connection; the last one's final ACK arrives late.
    assert_eq!(
        fwd(&mut f, tcp(L1, 1, SERVER, 2, 500, 0, SYN, b""), true),
        Verdict::Accept
    );
    let late = tcp(L1, 1, SERVER, 2, 31_000, 901, ACK, b"");
    assert_eq!(fwd(&mut f, late, true), Verdict::Drop);
    assert_eq!(state(&f), TcpState::SynSent);
    let sa = tcp(SERVER, 2, L1, 1, 80_000, 501, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    let ack = tcp(L1, 1, SERVER, 2, 501, 80_001, ACK, b"hello");
    assert_eq!(fwd(&mut f, ack, true), Verdict::Accept);
    let fin = TcpFlags::FIN.union(ACK);
    let reply = tcp(SERVER, 2, L1, 1, 80_001, 506, fin, b"hello");
    assert_eq!(fwd(&mut f, reply, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::FinWait);
}

/// A restart (`Conntrack::clear`) forgets every flow; new flows open
/// afresh, and a handle to a forgotten flow does not name the new flow
/// that takes its slot.
#[test]
fn clearing_the_table_forgets_flows_and_their_handles() {
    let mut f = filter(STATEFUL);
    let out = tcp(L1, 1000, SERVER, 80, 5, 0, SYN, b"");
    assert_eq!(fwd(&mut f, out, true), Verdict::Accept);
    let t = f.conntrack().iter().next().unwrap().original;
    let (i, g, _) = f.conntrack().find_flow(&t).unwrap();
    f.conntrack_mut().clear();
    assert!(f.conntrack().is_empty());
    assert!(f.conntrack().lookup(&t).is_none());
    // The same flow again, in the same slot, under a new generation.
    let again = tcp(L1, 1000, SERVER, 80, 5, 0, SYN, b"");
    assert_eq!(fwd(&mut f, again, true), Verdict::Accept);
    let (j, h, _) = f.conntrack().find_flow(&t).unwrap();
    assert_eq!(j, i);
    assert_ne!(h, g);
    assert!(f.conntrack().get(i, g).is_none());
    // An answer to the flow before the restart meets the new one.
    let sa = tcp(SERVER, 80, L1, 1000, 70, 6, synack(), b"");
    assert_eq!(fwd(&mut f, sa, false), Verdict::Accept);
    assert_eq!(state(&f), TcpState::SynRecv);
}
