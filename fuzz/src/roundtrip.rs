//! Fuzz target `roundtrip`: arbitrary representations of every layer are
//! built into one Ethernet frame through the nested builders, parsed back
//! with checksums verified, and must come back equal.

use arbitrary::{Arbitrary, Unstructured};
use core::net::Ipv4Addr;
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr};
use lamina_icmp::{IcmpPacket, IcmpRepr};
use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::Serializer;
use lamina_tcp::{TcpRepr, TcpSegment};
use lamina_udp::{UdpPacket, UdpRepr};

#[derive(Debug, Arbitrary)]
enum Transport {
    Tcp(TcpRepr),
    Udp(UdpRepr),
    Icmp(IcmpRepr),
}

#[derive(Debug, Arbitrary)]
struct Frame {
    eth: EthernetRepr,
    ip: Ipv4Repr,
    l4: Transport,
    payload: Vec<u8>,
}

/// Builds the frame `data` describes and checks parse ∘ build = id.
pub fn fuzz(data: &[u8]) {
    let Ok(mut f) = Frame::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    // Make the layers agree with each other, as a real stack does.
    f.eth.ethertype = EtherType::IPV4;
    f.ip.more_fragments = false;
    f.ip.fragment_offset = 0;
    f.ip.protocol = match f.l4 {
        Transport::Tcp(_) => IpProtocol::TCP,
        Transport::Udp(_) => IpProtocol::UDP,
        Transport::Icmp(_) => IpProtocol::ICMP,
    };
    let (src, dst) = (f.ip.src, f.ip.dst);
    let payload = f.payload.as_slice();
    let built = match &f.l4 {
        Transport::Tcp(tcp) => match tcp.builder(src, dst) {
            Ok(b) => payload
                .wrap_in(b)
                .wrap_in(&f.ip)
                .wrap_in(&f.eth)
                .serialize_vec(0),
            Err(_) => return,
        },
        Transport::Udp(udp) => payload
            .wrap_in(udp.builder(src, dst))
            .wrap_in(&f.ip)
            .wrap_in(&f.eth)
            .serialize_vec(0),
        Transport::Icmp(icmp) => payload
            .wrap_in(icmp)
            .wrap_in(&f.ip)
            .wrap_in(&f.eth)
            .serialize_vec(0),
    };
    // Too long for an IPv4 datagram is the only acceptable failure.
    let Ok(frame) = built else { return };

    let eth = EthernetFrame::parse(frame.as_slice()).expect("built frame parses");
    assert_eq!(eth.to_repr(), f.eth);
    let ip = Ipv4Packet::parse_verified(eth.payload()).expect("built datagram parses");
    assert_eq!(ip.to_repr(), f.ip);
    check_l4(&f.l4, ip.payload(), src, dst, payload);
}

fn check_l4(l4: &Transport, bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) {
    match l4 {
        Transport::Tcp(tcp) => {
            let seg = TcpSegment::parse_verified(bytes, src, dst).expect("built segment parses");
            assert_eq!(&seg.to_repr(), tcp);
            assert_eq!(seg.payload(), payload);
        }
        Transport::Udp(udp) => {
            let d = UdpPacket::parse_verified(bytes, src, dst).expect("built datagram parses");
            assert_eq!(&d.to_repr(), udp);
            assert_eq!(d.payload(), payload);
        }
        Transport::Icmp(icmp) => {
            let m = IcmpPacket::parse_verified(bytes).expect("built message parses");
            assert_eq!(&m.to_repr(), icmp);
        }
    }
}
