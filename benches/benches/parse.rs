//! Group `parse`: a 74-byte SYN with options and a 1514-byte data frame,
//! parsed through Ethernet, IPv4 and TCP.
//!
//! - `lamina/*`: zero-copy views of all three layers, structure checked,
//!   checksums not verified (receive offload), against
//! - `etherparse/*`: `SlicedPacket::from_ethernet` (slicing, no checksums);
//! - `lamina-verify/*`: views with the IPv4 and TCP checksums verified and
//!   converted to owned `Repr`s, against
//! - `smoltcp/*`: `new_checked` + `Repr::parse` at each layer with
//!   checksums verified (smoltcp's default capabilities).
//!
//! Every function returns the TCP ports, sequence number and payload
//! length so that no work can be optimised away, and the fixtures are
//! checked to give the same answer through every parser first.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_benches::{data_frame, syn_frame};
use lamina_ethernet::EthernetFrame;
use lamina_ipv4::Ipv4Packet;
use lamina_tcp::TcpSegment;

type Summary = (u16, u16, u32, usize);

fn lamina(frame: &[u8]) -> Option<Summary> {
    let eth = EthernetFrame::parse(frame).ok()?;
    let ip = Ipv4Packet::parse(eth.payload()).ok()?;
    let tcp = TcpSegment::parse(ip.payload()).ok()?;
    Some((
        tcp.src_port(),
        tcp.dst_port(),
        tcp.seq_number().0,
        tcp.payload().len(),
    ))
}

fn lamina_verify(frame: &[u8]) -> Option<Summary> {
    let eth = EthernetFrame::parse(frame).ok()?;
    let eth_repr = eth.to_repr();
    let ip = Ipv4Packet::parse_verified(eth.payload()).ok()?;
    let ip_repr = ip.to_repr();
    let tcp = TcpSegment::parse_verified(ip.payload(), ip_repr.src, ip_repr.dst).ok()?;
    let repr = tcp.to_repr();
    black_box(&eth_repr);
    Some((
        repr.src_port,
        repr.dst_port,
        repr.seq_number.0,
        tcp.payload().len(),
    ))
}

fn etherparse(frame: &[u8]) -> Option<Summary> {
    use etherparse::{SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    match p.transport? {
        TransportSlice::Tcp(t) => Some((
            t.source_port(),
            t.destination_port(),
            t.sequence_number(),
            t.payload().len(),
        )),
        _ => None,
    }
}

fn smoltcp(frame: &[u8]) -> Option<Summary> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetFrame, EthernetRepr, IpAddress, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
    };
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let eth_repr = EthernetRepr::parse(&eth).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ip_repr = Ipv4Repr::parse(&ip, &caps).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let repr = TcpRepr::parse(
        &tcp,
        &IpAddress::Ipv4(ip_repr.src_addr),
        &IpAddress::Ipv4(ip_repr.dst_addr),
        &caps,
    )
    .ok()?;
    black_box(&eth_repr);
    Some((
        repr.src_port,
        repr.dst_port,
        repr.seq_number.0 as u32,
        repr.payload.len(),
    ))
}

fn parse(c: &mut Criterion) {
    let frames = [("syn", syn_frame()), ("data", data_frame())];
    for (_, f) in &frames {
        let want = lamina(f);
        assert!(want.is_some());
        assert_eq!(lamina_verify(f), want);
        assert_eq!(etherparse(f), want);
        assert_eq!(smoltcp(f), want);
    }
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    for (name, f) in &frames {
        g.bench_function(format!("lamina/{name}"), |b| {
            b.iter(|| lamina(black_box(f)))
        });
        g.bench_function(format!("etherparse/{name}"), |b| {
            b.iter(|| etherparse(black_box(f)))
        });
        g.bench_function(format!("lamina-verify/{name}"), |b| {
            b.iter(|| lamina_verify(black_box(f)))
        });
        g.bench_function(format!("smoltcp/{name}"), |b| {
            b.iter(|| smoltcp(black_box(f)))
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
