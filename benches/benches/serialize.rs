//! The cost of nested serialization: an Ethernet + IPv4 + UDP shaped frame
//! with a 1400-byte payload, built through `lamina_netbuf::serialize`'s
//! nested builders and, for comparison, written by hand into a `Vec`.
//!
//! Group `serialize`, functions `lamina-nested` and `hand-written`: both
//! write the same 1442 bytes into a buffer reused across iterations (the
//! nested builders through `serialize_into`, the hand-written code through
//! `clear` + `extend_from_slice` on a `Vec`), with the same checksum
//! routine, so the difference is what the nesting costs. The `-alloc`
//! variants build into a fresh `Vec` per iteration (`serialize_vec` against
//! `Vec::with_capacity`); they add one `malloc`/`free` of 1442 bytes each,
//! whose cost depends on the allocator's state more than on the code.
//!
//! The three layers are small local builders (the real `lamina-ethernet`,
//! `lamina-ipv4` and `lamina-udp` builders live in their own crates); each
//! writes every header field, as those do.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_netbuf::checksum::{self, Checksum};
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};

const PAYLOAD_LEN: usize = 1400;
const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const UDP_LEN: usize = 8;
const FRAME_LEN: usize = ETH_LEN + IP_LEN + UDP_LEN + PAYLOAD_LEN;
const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTO_UDP: u8 = 17;

/// Everything the frame's headers say.
#[derive(Clone, Copy)]
struct Params {
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    ttl: u8,
    src_port: u16,
    dst_port: u16,
}

const PARAMS: Params = Params {
    dst_mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
    src_mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02],
    src_ip: Ipv4Addr::new(192, 0, 2, 1),
    dst_ip: Ipv4Addr::new(198, 51, 100, 7),
    ident: 0x1c46,
    ttl: 64,
    src_port: 49152,
    dst_port: 4789,
};

/// Ethernet II shaped: destination, source, EtherType; bodies padded to 46.
struct Eth<'a>(&'a Params);

impl PacketBuilder for Eth<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(ETH_LEN, 0, 46, 1500)
    }

    #[inline]
    fn serialize(&self, t: SerializeTarget<'_>) {
        let (dst, rest) = t.header.split_at_mut(6);
        let (src, ty) = rest.split_at_mut(6);
        dst.copy_from_slice(&self.0.dst_mac);
        src.copy_from_slice(&self.0.src_mac);
        ty.copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    }
}

/// IPv4 shaped: a 20-byte header with its own checksum (RFC 791).
struct Ip<'a>(&'a Params);

impl PacketBuilder for Ip<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(IP_LEN, 0, 0, usize::from(u16::MAX) - IP_LEN)
    }

    #[inline]
    fn serialize(&self, t: SerializeTarget<'_>) {
        let total = (IP_LEN + t.body.len()) as u16;
        let h = ipv4_header(self.0, total);
        t.header.copy_from_slice(&h);
    }
}

/// UDP shaped: ports, length and the pseudo-header checksum (RFC 768).
struct Udp<'a>(&'a Params);

impl PacketBuilder for Udp<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(UDP_LEN, 0, 0, usize::from(u16::MAX) - UDP_LEN)
    }

    #[inline]
    fn serialize(&self, t: SerializeTarget<'_>) {
        let len = (UDP_LEN + t.body.len()) as u16;
        let mut h = udp_header(self.0, len, 0);
        let c = udp_checksum(self.0, &h, t.body);
        h[6..8].copy_from_slice(&c.to_be_bytes());
        t.header.copy_from_slice(&h);
    }
}

/// The IPv4 header for a packet of `total` bytes, checksum included.
#[inline]
fn ipv4_header(p: &Params, total: u16) -> [u8; IP_LEN] {
    let mut h = [0u8; IP_LEN];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&p.ident.to_be_bytes());
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
    h[8] = p.ttl;
    h[9] = PROTO_UDP;
    h[12..16].copy_from_slice(&p.src_ip.octets());
    h[16..20].copy_from_slice(&p.dst_ip.octets());
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// The UDP header with the given checksum field.
#[inline]
fn udp_header(p: &Params, len: u16, csum: u16) -> [u8; UDP_LEN] {
    let mut h = [0u8; UDP_LEN];
    h[0..2].copy_from_slice(&p.src_port.to_be_bytes());
    h[2..4].copy_from_slice(&p.dst_port.to_be_bytes());
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h[6..8].copy_from_slice(&csum.to_be_bytes());
    h
}

/// The UDP checksum over the pseudo-header, `header` (checksum zeroed) and
/// `body`; zero is sent as 0xffff (RFC 768).
#[inline]
fn udp_checksum(p: &Params, header: &[u8], body: &[u8]) -> u16 {
    let len = (header.len() + body.len()) as u16;
    let mut sum: Checksum = checksum::ipv4_pseudo_header(p.src_ip, p.dst_ip, PROTO_UDP, len);
    sum.add_bytes(header);
    sum.add_bytes(body);
    match sum.finish() {
        0 => 0xffff,
        c => c,
    }
}

/// The frame through the nested builders: one allocation, each header
/// written in place around the payload.
fn nested(p: &Params, payload: &[u8]) -> lamina_netbuf::PacketBuf {
    payload
        .wrap_in(Udp(p))
        .wrap_in(Ip(p))
        .wrap_in(Eth(p))
        .serialize_vec(0)
        .expect("a 1442-byte frame fits every layer")
}

/// The frame through the nested builders into a caller's buffer.
fn nested_into(p: &Params, payload: &[u8], buf: &mut [u8]) -> usize {
    payload
        .wrap_in(Udp(p))
        .wrap_in(Ip(p))
        .wrap_in(Eth(p))
        .serialize_into(buf)
        .expect("the buffer holds a 1442-byte frame")
}

/// The same frame written by hand into a reused `Vec`.
fn hand_written_into(p: &Params, payload: &[u8], v: &mut Vec<u8>) -> usize {
    let udp_len = (UDP_LEN + payload.len()) as u16;
    let ip_len = IP_LEN as u16 + udp_len;
    v.clear();
    v.extend_from_slice(&p.dst_mac);
    v.extend_from_slice(&p.src_mac);
    v.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    v.extend_from_slice(&ipv4_header(p, ip_len));
    v.extend_from_slice(&udp_header(p, udp_len, 0));
    v.extend_from_slice(payload);
    let udp = &v[ETH_LEN + IP_LEN..];
    let c = udp_checksum(p, &udp[..UDP_LEN], &udp[UDP_LEN..]);
    v[ETH_LEN + IP_LEN + 6..ETH_LEN + IP_LEN + 8].copy_from_slice(&c.to_be_bytes());
    v.len()
}

/// The same frame written by hand: headers and payload appended to a
/// `Vec` of the right capacity, checksums patched in afterwards.
fn hand_written(p: &Params, payload: &[u8]) -> Vec<u8> {
    let udp_len = (UDP_LEN + payload.len()) as u16;
    let ip_len = IP_LEN as u16 + udp_len;
    let mut v = Vec::with_capacity(ETH_LEN + usize::from(ip_len));
    v.extend_from_slice(&p.dst_mac);
    v.extend_from_slice(&p.src_mac);
    v.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    v.extend_from_slice(&ipv4_header(p, ip_len));
    v.extend_from_slice(&udp_header(p, udp_len, 0));
    v.extend_from_slice(payload);
    let udp = &v[ETH_LEN + IP_LEN..];
    let c = udp_checksum(p, &udp[..UDP_LEN], &udp[UDP_LEN..]);
    v[ETH_LEN + IP_LEN + 6..ETH_LEN + IP_LEN + 8].copy_from_slice(&c.to_be_bytes());
    v
}

fn serialize(c: &mut Criterion) {
    let payload = lamina_benches::test_bytes(PAYLOAD_LEN, 0x5e71a1);

    // Outside the timed loops: both ways give the same, valid frame.
    let a = nested(&PARAMS, &payload);
    let b = hand_written(&PARAMS, &payload);
    assert_eq!(
        a.as_slice(),
        b.as_slice(),
        "nested and hand-written frames differ"
    );
    assert_eq!(b.len(), FRAME_LEN);
    assert_eq!(checksum::checksum(&b[ETH_LEN..ETH_LEN + IP_LEN]), 0);
    let mut udp = checksum::ipv4_pseudo_header(
        PARAMS.src_ip,
        PARAMS.dst_ip,
        PROTO_UDP,
        (UDP_LEN + PAYLOAD_LEN) as u16,
    );
    udp.add_bytes(&b[ETH_LEN + IP_LEN..]);
    assert_eq!(udp.finish(), 0, "UDP checksum must verify");

    let mut group = c.benchmark_group("serialize");
    group.throughput(Throughput::Bytes(FRAME_LEN as u64));
    let mut out = vec![0u8; 2048];
    let mut reused = Vec::with_capacity(2048);
    let n = nested_into(&PARAMS, &payload, &mut out);
    let m = hand_written_into(&PARAMS, &payload, &mut reused);
    assert_eq!(
        &out[..n],
        &reused[..m],
        "nested and hand-written frames differ"
    );
    group.bench_function("lamina-nested", |b| {
        b.iter(|| nested_into(black_box(&PARAMS), black_box(&payload), black_box(&mut out)))
    });
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            hand_written_into(
                black_box(&PARAMS),
                black_box(&payload),
                black_box(&mut reused),
            )
        })
    });
    group.bench_function("lamina-nested-alloc", |b| {
        b.iter(|| nested(black_box(&PARAMS), black_box(&payload)))
    });
    group.bench_function("hand-written-alloc", |b| {
        b.iter(|| hand_written(black_box(&PARAMS), black_box(&payload)))
    });
    group.finish();
}

criterion_group!(benches, serialize);
criterion_main!(benches);
