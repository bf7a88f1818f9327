//! Fragmentation and reassembly through the interface (RFC 791 §2.3 and
//! §3.2, RFC 1122 §3.3.2, RFC 1191): big pings both ways, a router
//! fragmenting to a smaller MTU, Don't Fragment, and the attacks a
//! reassembler must survive.

mod common;

use core::net::{Ipv4Addr, SocketAddrV4};

use common::{Host, run};
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
use lamina_icmp::{IcmpErrorKind, IcmpMessage, IcmpPacket, IcmpRepr, TimeExceededCode};
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::{Duration, Instant, Serializer};
use lamina_netdev::{Device, LinkConfig, Port, RxToken, TxToken, wire};
use lamina_socket::{Error, IcmpSocket, InterfaceConfig, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn link() -> LinkConfig {
    LinkConfig::new().with_latency(Duration::from_millis(1))
}

/// A 4000-byte ping over MTU 1500 goes out in three fragments, is
/// reassembled, and its 4000-byte reply comes back the same way; both
/// directions.
#[test]
fn ping_of_4000_bytes_over_mtu_1500_both_ways() {
    let (pa, pb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.2/24")]);
    let mut now = Instant::ZERO;
    let data: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
    big_ping(&mut a, &mut b, B, &data, &mut now);
    big_ping(&mut b, &mut a, A, &data, &mut now);
    for h in [&a, &b] {
        // Each reassembled one request or one reply, and fragmented one
        // of each.
        assert_eq!(h.iface.stats().reassembled, 2);
        assert_eq!(h.iface.stats().fragmented, 2);
        assert!(h.iface.reassembler().is_empty());
    }
}

fn big_ping(from: &mut Host, to: &mut Host, dst: Ipv4Addr, data: &[u8], now: &mut Instant) {
    let ping = from.sockets.add(IcmpSocket::default()).unwrap();
    from.sockets.bind_icmp(ping, None).unwrap();
    from.sockets
        .icmp(ping)
        .unwrap()
        .send_echo(dst, 9, data)
        .unwrap();
    run(&mut [&mut *from, &mut *to], now, Duration::from_secs(1));
    let r = from.sockets.icmp(ping).unwrap().recv_echo().unwrap();
    assert_eq!((r.src, r.seq_no), (dst, 9));
    assert_eq!(r.data, data);
}

/// A router fragments a datagram for a next hop with a smaller MTU
/// (RFC 1812 §5.2.6), and the far host reassembles it.
#[test]
fn router_fragments_for_a_smaller_next_hop_mtu() {
    let (pa, ra) = wire(link());
    let (pb, rb) = wire(link().with_mtu(576));
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.130/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::new(
        3,
        config,
        vec![(ra, "192.0.2.1/25"), (rb, "192.0.2.129/25")],
    );
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    b.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 129), IfaceId(0))
        .unwrap();
    let b_ip = Ipv4Addr::new(192, 0, 2, 130);
    let mut now = Instant::ZERO;

    let server = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(server, SocketAddrV4::new(b_ip, 7))
        .unwrap();
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    let data = vec![0x5a; 1400];
    a.sockets
        .udp(client)
        .unwrap()
        .send_to(&data, SocketAddrV4::new(b_ip, 7))
        .unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    let mut buf = [0u8; 2000];
    let (n, _) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], &data[..]);
    assert_eq!(r.iface.stats().fragmented, 1);
    assert_eq!(b.iface.stats().reassembled, 1);

    // With Don't Fragment the router answers Fragmentation Needed with its
    // next-hop MTU, which the connected sender sees (RFC 1191 §4).
    let df = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .connect_udp(df, SocketAddrV4::new(b_ip, 7))
        .unwrap();
    a.sockets.udp(df).unwrap().set_dont_fragment(true);
    a.sockets.udp(df).unwrap().send(&data).unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    assert_eq!(
        a.sockets.udp(df).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::MessageTooLong))
    );
    // And locally, a DF datagram over our own MTU is refused.
    a.sockets.udp(df).unwrap().send(&vec![0; 3000]).unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    assert_eq!(
        a.sockets.udp(df).unwrap().take_error(),
        Some(Error::TooLong)
    );
}

/// A host with one end of a wire we drive by hand.
fn victim() -> (Host, Port, MacAddr) {
    let (attacker, pb) = wire(LinkConfig::new());
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.2/24")]);
    // The attacker's address is known, so that answers need no ARP.
    b.iface
        .neighbors_mut(IfaceId(0))
        .unwrap()
        .insert_static(A, MacAddr::new(2, 0, 0, 0, 9, 9), Instant::ZERO)
        .unwrap();
    let mac = b.iface.hardware_addr(IfaceId(0)).unwrap();
    (b, attacker, mac)
}

fn inject(port: &mut Port, to: MacAddr, ip: &Ipv4Repr, payload: &[u8], now: Instant) {
    let eth = EthernetRepr::new(MacAddr::new(2, 0, 0, 0, 9, 9), to, EtherType::IPV4);
    let frame = payload.wrap_in(ip).wrap_in(eth).serialize_vec(0).unwrap();
    port.transmit(now)
        .unwrap()
        .consume(frame.len(), |b| b.copy_from_slice(frame.as_slice()))
        .unwrap();
}

/// The ICMP messages that reached the attacker.
fn icmp_received(port: &mut Port, now: Instant) -> Vec<IcmpRepr> {
    let mut out = Vec::new();
    while let Some((rx, _)) = port.receive(now) {
        rx.consume(|f| {
            let Ok(eth) = EthernetFrame::parse(f) else {
                return;
            };
            if eth.ethertype() != EtherType::IPV4 {
                return;
            }
            let Ok(ip) = Ipv4Packet::parse_verified(eth.payload()) else {
                return;
            };
            if ip.protocol() == IpProtocol::ICMP
                && let Ok(icmp) = IcmpPacket::parse_verified(ip.payload())
            {
                out.push(icmp.to_repr());
            }
        });
    }
    out
}

fn fragment(id: u16, offset_units: u16, more: bool) -> Ipv4Repr {
    let mut ip = Ipv4Repr::new(A, B, IpProtocol::UDP);
    ip.identification = id;
    ip.fragment_offset = offset_units;
    ip.more_fragments = more;
    ip
}

/// RFC 1122 §3.3.2: a datagram whose first fragment arrived but whose
/// rest never does is dropped at the timeout, and its source gets Time
/// Exceeded (fragment reassembly); nothing stays behind.
#[test]
fn reassembly_timeout_sends_time_exceeded_and_frees_everything() {
    let (mut b, mut attacker, mac) = victim();
    let mut now = Instant::ZERO;
    let udp_head = [0x30, 0x39, 0x00, 0x07, 0x00, 0x30, 0x00, 0x00];
    let mut first = udp_head.to_vec();
    first.resize(24, 0xee);
    inject(&mut attacker, mac, &fragment(1, 0, true), &first, now);
    b.poll(now);
    assert_eq!(b.iface.reassembler().len(), 1);
    icmp_received(&mut attacker, now);

    let mut got = Vec::new();
    while !b.iface.reassembler().is_empty() {
        now = b.poll_at().expect("the reassembly timer");
        b.poll(now);
        got.extend(icmp_received(&mut attacker, now));
    }
    let timeout = InterfaceConfig::default().reassembly.timeout;
    assert!(
        now >= Instant::ZERO + timeout,
        "not before the timeout: {now:?}"
    );
    assert_eq!(b.iface.reassembler().bytes_held(), 0);
    assert_eq!(
        got,
        [IcmpRepr::TimeExceeded {
            code: TimeExceededCode::FragmentReassembly
        }]
    );
}

/// Teardrop (overlapping fragments) and friends: the datagram is
/// discarded, nothing is delivered, nothing is held (RFC 5722's rule,
/// applied to IPv4 by `lamina-ipv4`).
#[test]
fn overlapping_fragments_are_discarded_and_nothing_is_delivered() {
    let (mut b, mut attacker, mac) = victim();
    let server = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let mut now = Instant::ZERO;
    let udp = |len: u16| {
        let mut v = vec![0x30, 0x39, 0x00, 0x07];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v
    };
    for id in 0..50u16 {
        // Classic teardrop: the second fragment starts inside the first.
        let mut one = udp(40);
        one.resize(24, 1);
        inject(&mut attacker, mac, &fragment(id, 0, true), &one, now);
        inject(&mut attacker, mac, &fragment(id, 2, false), &[2u8; 24], now);
        b.poll(now);
        now += Duration::from_millis(1);
    }
    assert_eq!(
        b.sockets.udp(server).unwrap().recv_from(&mut [0; 64]),
        Err(Error::WouldBlock)
    );
    assert_eq!(b.iface.stats().reassembled, 0);
    assert_eq!(b.iface.reassembler().bytes_held(), 0);
    // Blacklisted keys expire with their timeout: then nothing at all.
    now += Duration::from_secs(120);
    b.poll(now);
    assert!(b.iface.reassembler().is_empty());

    // The same datagram, well formed, is delivered.
    let mut one = udp(40);
    one.resize(24, 1);
    inject(&mut attacker, mac, &fragment(999, 0, true), &one, now);
    inject(
        &mut attacker,
        mac,
        &fragment(999, 3, false),
        &[2u8; 16],
        now,
    );
    b.poll(now);
    let mut buf = [0u8; 64];
    let (n, _) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!(n, 32);
    let _ = IcmpMessage::EchoReply {
        ident: 0,
        seq_no: 0,
        data: &[],
    };
}
