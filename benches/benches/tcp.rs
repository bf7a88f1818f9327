//! Benchmark group `tcp` (criterion): two whole stacks with TCP on an
//! in-memory wire, Lamina's against smoltcp's, on the same device (a
//! `lamina_netdev::wire` port, adapted to smoltcp's `phy::Device`).
//!
//! - `lamina/bulk-1500`, `smoltcp/bulk-1500`: one established connection
//!   moves [`BULK`] bytes from one host to the other per iteration over
//!   an Ethernet link of MTU 1500, every checksum computed and verified in
//!   software (elements: bytes).
//! - `lamina/bulk-65535`, `smoltcp/bulk-65535`: the same over a link of
//!   MTU 65535 whose device computes and verifies checksums (Lamina uses
//!   the offload; smoltcp is told to ignore checksums).
//! - `memcpy/bulk`: the same bytes copied twice (into a send buffer and
//!   out of a receive buffer), the floor any socket API pays.
//! - `passes/bulk-1500`: the same bytes through every pass a transfer at
//!   MTU 1500 with software checksums makes over them, and nothing else
//!   (`lamina_benches::Passes`: into the send buffer, into each frame
//!   while summed, summed again by the receiver, into the receive buffer,
//!   out to the user): the floor for `bulk-1500` of a stack that copies
//!   in and out of socket buffers, as both do.
//! - `lamina/handshake`, `smoltcp/handshake`: connect, accept, exchange
//!   nothing, then both ends close at once (their FINs cross) until
//!   neither socket is open, closed or in TIME-WAIT (elements:
//!   connections).
//!
//! - `lamina/ping-pong-1`, `smoltcp/ping-pong-1`, `lamina/ping-pong-10k`,
//!   `smoltcp/ping-pong-10k`: one 64-byte message sent on an established
//!   connection and echoed back by the peer, with 1 or 10,000
//!   established connections open on both hosts (all but one idle):
//!   what activity costs when a host holds many connections (elements:
//!   round trips).
//!
//! Both stacks copy the payload in and out of their socket buffers with
//! the same calls a user makes, and use 1 MiB socket buffers. The wire
//! offers to take payloads by reference (`Capabilities::shared_payloads`);
//! Lamina uses that at MTU 65535 (the frame refers to its send buffer and
//! the receiver queues the payload where it is), smoltcp's device API has
//! no way to. With `LinkConfig::with_shared_payloads(false)` Lamina
//! copies into the frame as smoltcp does (1.2x smoltcp instead of 1.6x
//! or more on this machine).
//!
//! Run with `cargo bench -p lamina-benches --bench tcp`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "pairs/tcp.rs"]
mod pairs;
#[path = "pairs/smol_iface.rs"]
mod smol_iface;
use pairs::{BUF, BULK, lamina_side, smol_side};

fn tcp(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.sample_size(20);
    let data: Vec<u8> = lamina_benches::test_bytes(BULK, 7);
    let mut buf = vec![0u8; 1 << 20];
    g.throughput(Throughput::Bytes(BULK as u64));
    for mtu in [1500usize, 65535] {
        let mut l = lamina_side::pair(mtu);
        g.bench_function(format!("lamina/bulk-{mtu}"), |b| {
            b.iter(|| assert_eq!(l.bulk(&data, &mut buf), BULK))
        });
        let mut s = smol_side::pair(mtu);
        g.bench_function(format!("smoltcp/bulk-{mtu}"), |b| {
            b.iter(|| assert_eq!(s.bulk(&data, &mut buf), BULK))
        });
    }
    let mut send = vec![0u8; BUF];
    g.bench_function("memcpy/bulk", |b| {
        b.iter(|| {
            for chunk in data.chunks(BUF) {
                send[..chunk.len()].copy_from_slice(chunk);
                black_box(&mut send);
                buf[..chunk.len()].copy_from_slice(&send[..chunk.len()]);
                black_box(&mut buf);
            }
        })
    });

    let mut passes = lamina_benches::Passes::new(BUF);
    g.bench_function("passes/bulk-1500", |b| {
        b.iter(|| black_box(passes.run(&data, &mut buf)))
    });

    g.throughput(Throughput::Elements(1));
    let mut l = lamina_side::pair(1500);
    g.bench_function("lamina/handshake", |b| b.iter(|| l.handshake()));
    let mut s = smol_side::pair(1500);
    g.bench_function("smoltcp/handshake", |b| b.iter(|| s.handshake()));

    // Activity among many connections: the pairs already hold one
    // connection each; open the rest, then ping-pong on the last one.
    let msg = [0x5au8; 64];
    for n in [1usize, 10_000] {
        let mut l = lamina_side::pair(1500);
        let conns = l.open_many(n - 1);
        let conn = conns.last().copied();
        let name = if n == 1 {
            "1".into()
        } else {
            format!("{}k", n / 1000)
        };
        g.bench_function(format!("lamina/ping-pong-{name}"), |b| {
            b.iter(|| match conn {
                Some(c) => l.ping_pong(c, &msg, &mut buf),
                None => l.ping_pong_main(&msg, &mut buf),
            })
        });
        drop(l);
        let mut s = smol_side::pair(1500);
        let conns = s.open_many(n - 1);
        let conn = conns.last().copied();
        g.bench_function(format!("smoltcp/ping-pong-{name}"), |b| {
            b.iter(|| match conn {
                Some(c) => s.ping_pong(c, &msg, &mut buf),
                None => s.ping_pong_main(&msg, &mut buf),
            })
        });
    }
    g.finish();
}

criterion_group!(benches, tcp);
criterion_main!(benches);
