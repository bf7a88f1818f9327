//! Group `route`: longest-prefix match in `lamina_ipv4::RoutingTable`.
//!
//! - `lamina/lookup-100k`: 100,000 random prefixes whose lengths follow a
//!   BGP table's shape (about 60 % /24, 35 % /16 to /23, 5 % /8 to /15,
//!   plus a default route), looked up with 65,536 pre-generated random
//!   addresses; the throughput is in lookups (elements) per second. The
//!   target of the issue is 20 million a second on one core.
//! - `lamina/lookup-1k` against `linear/lookup-1k`: the same on 1,000
//!   prefixes, next to a linear scan for the longest match, the structure
//!   a small stack would otherwise use.
//!
//! Every function sums the interfaces it finds so that no lookup can be
//! optimised away, and the fixtures are checked to agree first.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_ipv4::{IfaceId, Ipv4Cidr, Route, RoutingTable};
use lamina_netbuf::{Rng, SeededRng};

/// A prefix length drawn from the shape of a BGP table.
fn bgp_len(rng: &mut SeededRng) -> u8 {
    match rng.below(100) {
        0..=59 => 24,
        60..=94 => rng.in_range(16, 23) as u8,
        _ => rng.in_range(8, 15) as u8,
    }
}

/// `n` distinct random prefixes with BGP-like lengths, each routed to an
/// interface numbered by its position.
fn random_table(n: usize, seed: u64) -> (RoutingTable, Vec<(Ipv4Cidr, Route)>) {
    let mut rng = SeededRng::new(seed);
    let mut table = RoutingTable::new(n + 1);
    let mut routes = Vec::with_capacity(n + 1);
    let default = Route::via(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0));
    table.set_default_route(default).unwrap();
    routes.push(("0.0.0.0/0".parse().unwrap(), default));
    while routes.len() <= n {
        let len = bgp_len(&mut rng);
        let prefix = Ipv4Cidr::new(Ipv4Addr::from_bits(rng.next_u32()), len)
            .unwrap()
            .normalized();
        let route = Route::on_link(IfaceId(routes.len() as u16));
        if table.insert(prefix, route).is_ok() {
            routes.push((prefix, route));
        }
    }
    (table, routes)
}

fn addresses(n: usize, seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = SeededRng::new(seed);
    (0..n)
        .map(|_| Ipv4Addr::from_bits(rng.next_u32()))
        .collect()
}

fn lamina(table: &RoutingTable, addrs: &[Ipv4Addr]) -> u64 {
    addrs
        .iter()
        .map(|&a| {
            table
                .lookup(a)
                .map_or(0, |m| u64::from(m.route.interface.0))
        })
        .sum()
}

fn linear(routes: &[(Ipv4Cidr, Route)], addrs: &[Ipv4Addr]) -> u64 {
    addrs
        .iter()
        .map(|&a| {
            let mut best: Option<&(Ipv4Cidr, Route)> = None;
            for r in routes {
                if r.0.contains(a) && best.is_none_or(|b| r.0.prefix_len() > b.0.prefix_len()) {
                    best = Some(r);
                }
            }
            best.map_or(0, |b| u64::from(b.1.interface.0))
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let start = std::time::Instant::now();
    let (big, big_routes) = random_table(100_000, 1);
    eprintln!(
        "route: built 100,000 prefixes in {:.0} ms; trie {} KiB",
        start.elapsed().as_secs_f64() * 1e3,
        big.trie_bytes() / 1024
    );
    let (small, small_routes) = random_table(1_000, 2);
    let addrs = addresses(1 << 16, 3);
    let probe = &addrs[..2000];
    assert_eq!(lamina(&big, probe), linear(&big_routes, probe));
    assert_eq!(lamina(&small, &addrs), linear(&small_routes, &addrs));

    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("lamina/lookup-100k", |b| {
        b.iter(|| lamina(black_box(&big), black_box(&addrs)))
    });
    g.bench_function("lamina/lookup-1k", |b| {
        b.iter(|| lamina(black_box(&small), black_box(&addrs)))
    });
    let few = &addrs[..1024];
    g.throughput(Throughput::Elements(few.len() as u64));
    g.bench_function("linear/lookup-1k", |b| {
        b.iter(|| linear(black_box(&small_routes), black_box(few)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
