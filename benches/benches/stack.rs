//! Benchmark group `stack` (criterion): two whole stacks on an in-memory
//! wire, Lamina's
//! `Interface` against smoltcp's, on the same device (a
//! `lamina_netdev::wire` port, adapted to smoltcp's `phy::Device`).
//!
//! - `lamina/ping`, `smoltcp/ping`: one ping and its reply per iteration
//!   (elements = round trips).
//! - `lamina/udp-64`, `smoltcp/udp-64`, `lamina/udp-1472`,
//!   `smoltcp/udp-1472`: a batch of datagrams from one host's UDP socket
//!   to the other's per iteration (elements = datagrams).
//! - `lamina/udp-64-10k`, `smoltcp/udp-64-10k`: the 64-byte batch with
//!   10,000 more UDP sockets bound (idle) on each host: what a datagram
//!   costs when a host holds many sockets (elements = datagrams).
//! - `lamina/idle-poll`, `smoltcp/idle-poll`: one `poll` of a host with
//!   nothing to do (what an event loop pays for every wake-up).
//!
//! Both stacks resolve ARP before the measurement, compute and verify
//! every checksum, and copy payloads in and out of their sockets. Each
//! drives the wire through its own device interface: Lamina receives
//! bursts through `Device::poll_rx`, smoltcp frame by frame through its
//! tokens (mapped onto the wire's `receive`).
//!
//! Run with `cargo bench -p lamina-benches --bench stack`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "pairs/stack.rs"]
mod pairs;
#[path = "pairs/smol_iface.rs"]
mod smol_iface;
use pairs::{BATCH, lamina_side, smol_side};

fn stack(c: &mut Criterion) {
    let mut g = c.benchmark_group("stack");
    let data = [0x42u8; 56];

    g.throughput(Throughput::Elements(1));
    // Each function right after its peer's (as the UDP ones below): on a
    // shared machine whose speed drifts from minute to minute, the two
    // measurements of a ratio are then one measurement apart, not three.
    let mut l = lamina_side::pair();
    let mut s = smol_side::pair();
    let mut seq = 0u16;
    g.bench_function("lamina/ping", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(l.ping_once(seq, &data))
        })
    });
    g.bench_function("smoltcp/ping", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(s.ping_once(seq, &data))
        })
    });
    g.bench_function("lamina/idle-poll", |b| b.iter(|| l.a.poll()));
    g.bench_function("smoltcp/idle-poll", |b| b.iter(|| s.a.poll()));

    let mut buf = vec![0u8; 2048];
    for size in [64usize, 1472] {
        let payload = vec![0x5au8; size];
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function(format!("lamina/udp-{size}"), |b| {
            b.iter(|| {
                let n = l.udp_batch(&payload, &mut buf);
                assert_eq!(n, BATCH * size);
            })
        });
        g.bench_function(format!("smoltcp/udp-{size}"), |b| {
            b.iter(|| {
                let n = s.udp_batch(&payload, &mut buf);
                assert_eq!(n, BATCH * size);
            })
        });
    }

    // The same exchange among many idle sockets.
    let payload = [0x5au8; 64];
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut l = lamina_side::pair();
    l.add_idle_udp(10_000);
    g.bench_function("lamina/udp-64-10k", |b| {
        b.iter(|| assert_eq!(l.udp_batch(&payload, &mut buf), BATCH * 64))
    });
    let mut s = smol_side::pair();
    s.add_idle_udp(10_000);
    g.bench_function("smoltcp/udp-64-10k", |b| {
        b.iter(|| assert_eq!(s.udp_batch(&payload, &mut buf), BATCH * 64))
    });
    g.finish();
}

criterion_group!(benches, stack);
criterion_main!(benches);
