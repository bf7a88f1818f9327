//! Group `filter`: `lamina_filter::Filter` as a `PacketHook`, called the
//! way the `Interface` calls it, on pre-built IPv4 datagrams.
//!
//! - `chain-10`, `chain-1000`, `chain-10000`: a base chain at Input of N
//!   rules matched linearly (`ip saddr 10.a.b.c drop`, none of which
//!   matches), the datagram matching only the last rule (`udp dport 53
//!   accept`); `chain-10000-none`: the same chain where no rule matches
//!   and the policy accepts. 256 flows, already tracked.
//! - `prefix-set-10000`: one rule `ip saddr { 10,000 prefixes } drop` at
//!   Input, 1,024 datagrams from random sources, about one in eight in
//!   the set (dropped: never tracked, so each is a new flow), the rest
//!   accepted on established flows. The target is 5 million
//!   datagrams a second.
//! - `nat/masquerade`, `nat/unmasquerade`: established masqueraded
//!   flows (1,024 of them), one translation per element: a LAN datagram's
//!   source rewritten at PostRouting, or a WAN reply's destination
//!   rewritten at PreRouting (each datagram copied from its template
//!   first, a 48-byte copy). `nat/forward-path` runs a LAN datagram
//!   through all three hooks of forwarding (PreRouting, Forward,
//!   PostRouting) with the filter chain of a typical router. The issue's
//!   target is 5 million translations a second.
//! - `conntrack/lookup-1m`: `Conntrack::lookup` in a table of 1,000,000
//!   UDP flows, with 4,096 random tuples of tracked flows, half in the
//!   reply direction.
//!
//! Elements are datagrams (or lookups). Every function checks its
//! fixture's verdicts first, so that the measured path is the intended
//! one.
//!
//! Run with `cargo bench -p lamina-benches --bench filter`.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_filter::{
    Action, AddrSet, BaseChain, Chain, ChainType, ConntrackConfig, Filter, FilterConfig, Match,
    Policy, PortSet, Rule, Ruleset, Table, Tuple,
};
use lamina_ipv4::hook::{HookPoint, PacketHook, Verdict};
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Cidr, Ipv4Repr};
use lamina_netbuf::{Instant, Rng, SeededRng, Serializer};
use lamina_udp::UdpRepr;

const LAN: IfaceId = IfaceId(0);
const WAN: IfaceId = IfaceId(1);
const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// A UDP datagram with a 20-byte payload.
fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let udp = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    let ip = Ipv4Repr::new(src, dst, IpProtocol::UDP);
    let body = [0x5a_u8; 20];
    body.as_slice()
        .wrap_in(udp.builder(src, dst))
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec()
}

fn input_chain(policy: Policy, rules: Vec<Rule>) -> Ruleset {
    let mut chain = Chain::base(
        "input",
        BaseChain {
            chain_type: ChainType::Filter,
            hook: HookPoint::Input,
            priority: 0,
            policy,
        },
    );
    chain.rules = rules;
    Ruleset::new().table(Table::new("filter").chain(chain))
}

fn filter(rules: Ruleset, max_entries: usize) -> Filter {
    let config = FilterConfig {
        conntrack: ConntrackConfig {
            max_entries,
            ..ConntrackConfig::default()
        },
        ..FilterConfig::default()
    };
    Filter::new(rules, config, &mut SeededRng::new(7)).unwrap()
}

/// Each datagram through the Input hook; how many were accepted.
fn input(f: &mut Filter, pkts: &mut [Vec<u8>]) -> usize {
    let mut n = 0;
    for p in pkts.iter_mut() {
        n += usize::from(
            f.hook(HookPoint::Input, p, Some(LAN), None, Instant::ZERO) == Verdict::Accept,
        );
    }
    n
}

/// A chain of `n` rules that do not match, then `last` (if any).
fn linear_chain(n: usize, last: Option<Rule>) -> Vec<Rule> {
    let mut rules: Vec<Rule> = (0..n - usize::from(last.is_some()))
        .map(|i| {
            let a = Ipv4Addr::from_bits(0x0a00_0000 | i as u32);
            Rule::new(
                vec![Match::Saddr(AddrSet::single(Ipv4Cidr::new(a, 32).unwrap()))],
                vec![Action::Drop],
            )
        })
        .collect();
    rules.extend(last);
    rules
}

/// 256 flows from 192.0.2.0/24 to us, UDP port 53.
fn flows_to_us() -> Vec<Vec<u8>> {
    (0..256u32)
        .map(|i| {
            udp(
                Ipv4Addr::from_bits(0xc000_0200 | (i & 0xff)),
                US,
                40_000 + i as u16,
                53,
            )
        })
        .collect()
}

fn bench_chains(c: &mut Criterion) {
    let mut g = c.benchmark_group("filter");
    let dns = || {
        Rule::new(
            vec![Match::Dport(PortSet::single(53))],
            vec![Action::Accept],
        )
    };
    let cases = [
        ("chain-10", linear_chain(10, Some(dns())), Policy::Drop),
        ("chain-1000", linear_chain(1000, Some(dns())), Policy::Drop),
        (
            "chain-10000",
            linear_chain(10_000, Some(dns())),
            Policy::Drop,
        ),
        (
            "chain-10000-none",
            linear_chain(10_000, None),
            Policy::Accept,
        ),
    ];
    for (name, rules, policy) in cases {
        let mut f = filter(input_chain(policy, rules), 65_536);
        let mut pkts = flows_to_us();
        assert_eq!(input(&mut f, &mut pkts), pkts.len(), "{name}");
        assert_eq!(f.conntrack().len(), pkts.len());
        g.throughput(Throughput::Elements(pkts.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| input(black_box(&mut f), black_box(&mut pkts)))
        });
    }

    // One rule, 10,000 random prefixes (/16 to /32).
    let mut rng = SeededRng::new(11);
    let set: AddrSet = (0..10_000)
        .map(|_| {
            let len = rng.in_range(16, 32) as u8;
            Ipv4Cidr::new(Ipv4Addr::from_bits(rng.next_u32()), len)
                .unwrap()
                .normalized()
        })
        .collect();
    let prefixes = set.prefixes().to_vec();
    let rules = input_chain(
        Policy::Accept,
        vec![Rule::new(
            vec![Match::Saddr(set.clone())],
            vec![Action::Drop],
        )],
    );
    let mut f = filter(rules, 65_536);
    let mut pkts: Vec<Vec<u8>> = (0..1024u32)
        .map(|i| {
            let src = if i % 8 == 0 {
                // An address inside one of the prefixes.
                let p = prefixes[rng.below(prefixes.len() as u32) as usize];
                let host = rng.next_u32()
                    & !u32::MAX
                        .checked_shl(32 - u32::from(p.prefix_len()))
                        .unwrap_or(0);
                Ipv4Addr::from_bits(p.address().to_bits() | host)
            } else {
                Ipv4Addr::from_bits(rng.next_u32())
            };
            udp(src, US, 1024 + i as u16, 53)
        })
        .collect();
    let in_set = pkts
        .iter()
        .filter(|p| set.contains(Ipv4Addr::new(p[12], p[13], p[14], p[15])))
        .count();
    assert_eq!(input(&mut f, &mut pkts), pkts.len() - in_set);
    assert!(in_set >= 128, "{in_set}");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("prefix-set-10000", |b| {
        b.iter(|| input(black_box(&mut f), black_box(&mut pkts)))
    });
    g.finish();
}

const ROUTER_RULES: &str = "
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iif 0 oif 1 accept
    }
}";

fn bench_nat(c: &mut Criterion) {
    let mut g = c.benchmark_group("filter");
    let mut f = filter(ROUTER_RULES.parse().unwrap(), 65_536);
    f.set_interface_address(WAN, ROUTER_WAN);
    let now = Instant::ZERO;
    // 1,024 LAN flows, forwarded once (bound), and one reply each.
    let out: Vec<Vec<u8>> = (0..1024u32)
        .map(|i| {
            udp(
                Ipv4Addr::from_bits(0xc0a8_0000 | (i + 2)),
                SERVER,
                30_000 + (i % 64) as u16,
                443,
            )
        })
        .collect();
    let mut back = Vec::new();
    for p in &out {
        let mut p = p.clone();
        let path = [
            (HookPoint::PreRouting, Some(LAN), None),
            (HookPoint::Forward, Some(LAN), Some(WAN)),
            (HookPoint::PostRouting, None, Some(WAN)),
        ];
        for (point, i, o) in path {
            assert_eq!(f.hook(point, &mut p, i, o, now), Verdict::Accept);
        }
        assert_eq!(Ipv4Addr::new(p[12], p[13], p[14], p[15]), ROUTER_WAN);
        let sport = u16::from_be_bytes([p[20], p[21]]);
        back.push(udp(SERVER, ROUTER_WAN, 443, sport));
    }
    assert_eq!(f.conntrack().len(), out.len());
    let mut scratch = out.clone();
    // Replies are established now.
    for (p, orig) in scratch.iter_mut().zip(&back) {
        p.clone_from(orig);
        let v = f.hook(HookPoint::PreRouting, p, Some(WAN), None, now);
        assert_eq!(v, Verdict::Accept);
        assert_eq!(Ipv4Addr::new(p[16], p[17], p[18], p[19]).octets()[0], 192);
    }

    g.throughput(Throughput::Elements(out.len() as u64));
    let translate = |f: &mut Filter,
                     scratch: &mut [Vec<u8>],
                     templates: &[Vec<u8>],
                     point: HookPoint,
                     i: Option<IfaceId>,
                     o: Option<IfaceId>| {
        let mut n = 0;
        for (p, t) in scratch.iter_mut().zip(templates) {
            p.copy_from_slice(t);
            n += usize::from(f.hook(point, p, i, o, now) == Verdict::Accept);
        }
        n
    };
    g.bench_function("nat/masquerade", |b| {
        b.iter(|| {
            translate(
                black_box(&mut f),
                &mut scratch,
                &out,
                HookPoint::PostRouting,
                None,
                Some(WAN),
            )
        })
    });
    g.bench_function("nat/unmasquerade", |b| {
        b.iter(|| {
            translate(
                black_box(&mut f),
                &mut scratch,
                &back,
                HookPoint::PreRouting,
                Some(WAN),
                None,
            )
        })
    });
    g.bench_function("nat/forward-path", |b| {
        b.iter(|| {
            let mut n = 0;
            for (p, t) in scratch.iter_mut().zip(&out) {
                p.copy_from_slice(t);
                n += usize::from(
                    f.hook(HookPoint::PreRouting, p, Some(LAN), None, now) == Verdict::Accept
                        && f.hook(HookPoint::Forward, p, Some(LAN), Some(WAN), now)
                            == Verdict::Accept
                        && f.hook(HookPoint::PostRouting, p, None, Some(WAN), now)
                            == Verdict::Accept,
                );
            }
            n
        })
    });
    g.finish();
}

fn bench_conntrack(c: &mut Criterion) {
    const N: u32 = 1_000_000;
    let start = std::time::Instant::now();
    let mut f = filter(Ruleset::new(), N as usize);
    let flow = |i: u32| Tuple {
        src: Ipv4Addr::from_bits(0x0a00_0000 | (i >> 4)),
        dst: US,
        sport: 1024 + (i & 15) as u16,
        dport: 53,
        proto: 17,
    };
    let mut buf = udp(Ipv4Addr::UNSPECIFIED, US, 0, 53);
    let template = buf.clone();
    for i in 0..N {
        let t = flow(i);
        buf.copy_from_slice(&template);
        // Only the addresses and ports change: the UDP checksum is not
        // looked at, the IPv4 header checksum is recomputed.
        buf[12..16].copy_from_slice(&t.src.octets());
        buf[20..22].copy_from_slice(&t.sport.to_be_bytes());
        buf[10..12].fill(0);
        let sum = lamina_netbuf::checksum::checksum(&buf[..20]);
        buf[10..12].copy_from_slice(&sum.to_be_bytes());
        let v = f.hook(HookPoint::Input, &mut buf, Some(LAN), None, Instant::ZERO);
        assert_eq!(v, Verdict::Accept);
    }
    assert_eq!(f.conntrack().len(), N as usize);
    eprintln!(
        "filter: tracked {N} flows in {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let mut rng = SeededRng::new(5);
    let probes: Vec<Tuple> = (0..4096)
        .map(|k| {
            let t = flow(rng.below(N));
            if k % 2 == 0 { t } else { t.invert() }
        })
        .collect();
    let ct = f.conntrack();
    assert!(probes.iter().all(|t| ct.lookup(t).is_some()));

    let mut g = c.benchmark_group("filter");
    g.throughput(Throughput::Elements(probes.len() as u64));
    g.bench_function("conntrack/lookup-1m", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|t| ct.lookup(black_box(t)).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_chains, bench_nat, bench_conntrack);
criterion_main!(benches);
