//! The Internet checksum (RFC 1071): Lamina's kernel against smoltcp's and
//! the `internet-checksum` crate on the same bytes, with a plain copy of
//! those bytes as the memory-bandwidth yardstick.
//!
//! Group `checksum`, functions `lamina/<size>`, `smoltcp/<size>`,
//! `internet-checksum/<size>` and `memcpy/<size>` for sizes of 64 B, 1500 B
//! and 64 KiB; and a copy with its checksum, the way a stack fills or
//! empties a frame: `lamina-copy-sum/<size>` in one pass
//! (`checksum::copy_with_sum`), `memcpy-then-sum/<size>` as a copy and
//! then a sum of the copy.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [usize; 3] = [64, 1500, 65536];

fn checksum(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in SIZES {
        let data = lamina_benches::test_bytes(size, 0x1071 + size as u64);

        // All three must agree on the bytes being measured.
        let lamina = lamina_netbuf::checksum::checksum(&data);
        let smol = !smoltcp::wire::checksum::data(&data);
        let mut ic = internet_checksum::Checksum::new();
        ic.add_bytes(&data);
        assert_eq!(lamina, smol, "smoltcp disagrees at {size} bytes");
        assert_eq!(
            lamina.to_be_bytes(),
            ic.checksum(),
            "internet-checksum disagrees"
        );

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("lamina", size), &data, |b, d| {
            b.iter(|| lamina_netbuf::checksum::checksum(black_box(d.as_slice())))
        });
        group.bench_with_input(BenchmarkId::new("smoltcp", size), &data, |b, d| {
            b.iter(|| smoltcp::wire::checksum::data(black_box(d.as_slice())))
        });
        group.bench_with_input(
            BenchmarkId::new("internet-checksum", size),
            &data,
            |b, d| {
                b.iter(|| {
                    let mut c = internet_checksum::Checksum::new();
                    c.add_bytes(black_box(d.as_slice()));
                    c.checksum()
                })
            },
        );
        let mut dst = vec![0u8; size];
        // A copy into (or out of) a frame and its checksum: in one pass,
        // and as a copy followed by a sum.
        group.bench_with_input(BenchmarkId::new("lamina-copy-sum", size), &data, |b, d| {
            b.iter(|| {
                let s = lamina_netbuf::checksum::copy_with_sum(&mut dst, black_box(d.as_slice()));
                black_box(&dst);
                s
            })
        });
        group.bench_with_input(BenchmarkId::new("memcpy-then-sum", size), &data, |b, d| {
            b.iter(|| {
                dst.copy_from_slice(black_box(d.as_slice()));
                black_box(&dst);
                lamina_netbuf::checksum::ones_complement_sum(black_box(&dst))
            })
        });
        group.bench_with_input(BenchmarkId::new("memcpy", size), &data, |b, d| {
            b.iter(|| {
                dst.copy_from_slice(black_box(d.as_slice()));
                black_box(&dst);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, checksum);
criterion_main!(benches);
