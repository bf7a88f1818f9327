//! Group `emit`: the 74-byte SYN and the 1514-byte data frame of the
//! `parse` group built from owned representations, checksums computed,
//! into a reused buffer.
//!
//! - `lamina/*`: `payload.wrap_in(tcp).wrap_in(ipv4).wrap_in(eth)`
//!   serialized in one pass (the TCP builder, which lays out the options,
//!   is made inside the timed loop);
//! - `smoltcp/*`: `EthernetRepr::emit`, `Ipv4Repr::emit`, `TcpRepr::emit`
//!   with checksums (smoltcp's default capabilities).
//!
//! Both outputs are parsed back before timing to check they carry the same
//! segment.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_benches::{data_frame, syn_frame};
use lamina_ethernet::{EthernetFrame, EthernetRepr};
use lamina_ipv4::{Ipv4Packet, Ipv4Repr};
use lamina_netbuf::Serializer;
use lamina_tcp::{TcpRepr, TcpSegment};

struct Lamina {
    eth: EthernetRepr,
    ip: Ipv4Repr,
    tcp: TcpRepr,
    payload: Vec<u8>,
}

impl Lamina {
    fn from_frame(f: &[u8]) -> Lamina {
        let eth = EthernetFrame::parse(f).expect("fixture");
        let ip = Ipv4Packet::parse(eth.payload()).expect("fixture");
        let tcp = TcpSegment::parse(ip.payload()).expect("fixture");
        Lamina {
            eth: eth.to_repr(),
            ip: ip.to_repr(),
            tcp: tcp.to_repr(),
            payload: tcp.payload().to_vec(),
        }
    }

    fn emit(&self, buf: &mut [u8]) -> usize {
        let Ok(tcp) = self.tcp.builder(self.ip.src, self.ip.dst) else {
            return 0;
        };
        self.payload
            .as_slice()
            .wrap_in(tcp)
            .wrap_in(&self.ip)
            .wrap_in(&self.eth)
            .serialize_into(buf)
            .unwrap_or(0)
    }
}

/// smoltcp's representations of the fixture, made once (the TCP repr
/// borrows its payload from the fixture, as smoltcp's sockets lend theirs).
struct Smol<'a> {
    eth: smoltcp::wire::EthernetRepr,
    ip: smoltcp::wire::Ipv4Repr,
    tcp: smoltcp::wire::TcpRepr<'a>,
}

impl<'a> Smol<'a> {
    fn from_frame(frame: &'a [u8]) -> Smol<'a> {
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::{
            EthernetFrame, EthernetRepr, IpAddress, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
        };
        let caps = ChecksumCapabilities::default();
        let eth = EthernetFrame::new_checked(frame).expect("fixture");
        let eth_repr = EthernetRepr::parse(&eth).expect("fixture");
        let ip = Ipv4Packet::new_checked(eth.payload()).expect("fixture");
        let ip_repr = Ipv4Repr::parse(&ip, &caps).expect("fixture");
        let tcp = TcpPacket::new_checked(ip.payload()).expect("fixture");
        let tcp_repr = TcpRepr::parse(
            &tcp,
            &IpAddress::Ipv4(ip_repr.src_addr),
            &IpAddress::Ipv4(ip_repr.dst_addr),
            &caps,
        )
        .expect("fixture");
        Smol {
            eth: eth_repr,
            ip: ip_repr,
            tcp: tcp_repr,
        }
    }

    fn emit(&self, buf: &mut [u8]) -> usize {
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::{EthernetFrame, IpAddress, Ipv4Packet, TcpPacket};
        let caps = ChecksumCapabilities::default();
        let total = 14 + self.ip.buffer_len() + self.tcp.buffer_len();
        let Some(out) = buf.get_mut(..total) else {
            return 0;
        };
        self.eth.emit(&mut EthernetFrame::new_unchecked(&mut *out));
        self.ip
            .emit(&mut Ipv4Packet::new_unchecked(&mut out[14..]), &caps);
        self.tcp.emit(
            &mut TcpPacket::new_unchecked(&mut out[34..]),
            &IpAddress::Ipv4(self.ip.src_addr),
            &IpAddress::Ipv4(self.ip.dst_addr),
            &caps,
        );
        total
    }
}

/// The TCP summary of a built frame, parsed back with checksums verified.
fn check(frame: &[u8]) -> (u16, u16, u32, Vec<u8>) {
    let eth = EthernetFrame::parse(frame).expect("built frame parses");
    let ip = Ipv4Packet::parse_verified(eth.payload()).expect("built datagram verifies");
    let tcp =
        TcpSegment::parse_verified(ip.payload(), ip.src(), ip.dst()).expect("segment verifies");
    (
        tcp.src_port(),
        tcp.dst_port(),
        tcp.seq_number().0,
        tcp.payload().to_vec(),
    )
}

fn emit(c: &mut Criterion) {
    let frames = [("syn", syn_frame()), ("data", data_frame())];
    let mut g = c.benchmark_group("emit");
    g.throughput(Throughput::Elements(1));
    for (name, f) in &frames {
        let ours = Lamina::from_frame(f);
        let mut a = vec![0u8; 2048];
        let mut b = vec![0u8; 2048];
        let na = ours.emit(&mut a);
        let smol = Smol::from_frame(f);
        let nb = smol.emit(&mut b);
        assert_eq!(na, f.len());
        assert_eq!(
            &a[..na],
            &f[..],
            "lamina rebuilds the fixture byte for byte"
        );
        assert_eq!(check(&a[..na]), check(&b[..nb]));

        g.bench_function(format!("lamina/{name}"), |bench| {
            bench.iter(|| ours.emit(black_box(&mut a)))
        });
        g.bench_function(format!("smoltcp/{name}"), |bench| {
            bench.iter(|| smol.emit(black_box(&mut b)))
        });
    }
    g.finish();
}

criterion_group!(benches, emit);
criterion_main!(benches);
