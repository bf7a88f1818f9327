//! Two and three hosts on in-memory wires with a fake clock: ARP, ping,
//! UDP, ICMP errors delivered to sockets, and a router between subnets.

mod common;

use core::net::{Ipv4Addr, SocketAddrV4};

use common::{Host, run};
use lamina_arp::{ArpOperation, ArpPacket, NeighborState};
use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
use lamina_icmp::IcmpErrorKind;
use lamina_ipv4::{IfaceId, Route};
use lamina_netbuf::{Duration, Instant};
use lamina_netdev::{Device, LinkConfig, RxToken, wire};
use lamina_socket::{Error, IcmpSocket, InterfaceConfig, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn link() -> LinkConfig {
    LinkConfig::new().with_latency(Duration::from_millis(1))
}

fn two_hosts() -> (Host, Host) {
    let (pa, pb) = wire(link());
    let a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
    let b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.2/24")]);
    (a, b)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// RFC 826 then RFC 792: the first ping waits for ARP, the reply comes
/// back with the request's identifier, sequence number and data.
#[test]
fn ping_resolves_the_neighbour_then_gets_its_echo_reply() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, Some(77)).unwrap();
    for seq in 0..5u16 {
        let data = vec![seq as u8; 56];
        a.sockets
            .icmp(ping)
            .unwrap()
            .send_echo(B, seq, &data)
            .unwrap();
        run(&mut [&mut a, &mut b], &mut now, Duration::from_millis(100));
        let r = a.sockets.icmp(ping).unwrap().recv_echo().unwrap();
        assert_eq!((r.src, r.seq_no, r.data), (B, seq, data));
    }
    assert_eq!(
        a.iface
            .neighbors(IfaceId(0))
            .unwrap()
            .state(B)
            .map(|s| s.is_usable()),
        Some(true)
    );
    assert_eq!(b.iface.stats().echo_replies, 5);
}

/// RFC 768: a datagram reaches the socket bound to its port, byte for
/// byte, and the answer comes back to the sender's ephemeral port.
#[test]
fn udp_echo_between_two_hosts_is_byte_exact() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let server = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"x".to_vec(),
        (0..=255u8).collect(),
        vec![0xa5; 1472],
    ];
    for p in &payloads {
        a.sockets
            .udp(client)
            .unwrap()
            .send_to(p, SocketAddrV4::new(B, 7))
            .unwrap();
    }
    run(&mut [&mut a, &mut b], &mut now, secs(1));
    let mut buf = [0u8; 2000];
    for p in &payloads {
        let (n, from) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &p[..]);
        assert_eq!(*from.ip(), A);
        assert!(from.port() >= lamina_socket::EPHEMERAL_FIRST);
        b.sockets
            .udp(server)
            .unwrap()
            .send_to(&buf[..n], from)
            .unwrap();
    }
    run(&mut [&mut a, &mut b], &mut now, secs(2));
    for p in &payloads {
        let (n, from) = a.sockets.udp(client).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&p[..], SocketAddrV4::new(B, 7)));
    }
    assert_eq!(
        a.sockets.udp(client).unwrap().recv_from(&mut buf),
        Err(Error::WouldBlock)
    );
}

/// RFC 1122 §4.1.3.1 and §4.1.3.3: a datagram to a closed port earns
/// Port Unreachable, which the connected sender sees as "connection
/// refused" on its next call.
#[test]
fn closed_port_gives_the_connected_sender_connection_refused() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .bind_udp(client, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 40000))
        .unwrap();
    let peer = SocketAddrV4::new(B, 9999);
    a.sockets.connect_udp(client, peer).unwrap();
    a.sockets.udp(client).unwrap().send(b"anyone?").unwrap();
    run(&mut [&mut a, &mut b], &mut now, secs(1));
    let err = a
        .sockets
        .udp(client)
        .unwrap()
        .recv(&mut [0; 16])
        .unwrap_err();
    assert_eq!(err, Error::Icmp(IcmpErrorKind::ConnectionRefused));
    #[cfg(feature = "std")]
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    // Reported once.
    assert_eq!(
        a.sockets.udp(client).unwrap().recv(&mut [0; 16]),
        Err(Error::WouldBlock)
    );
    assert_eq!(b.iface.icmp_stats().errors_sent, 1);
}

/// Linux semantics: an unconnected socket does not get asynchronous
/// errors unless it asked for them (IP_RECVERR).
#[test]
fn unconnected_socket_sees_errors_only_when_asked() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let quiet = a.sockets.add(UdpSocket::default()).unwrap();
    let loud = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets.udp(loud).unwrap().set_recv_errors(true);
    for h in [quiet, loud] {
        a.sockets
            .udp(h)
            .unwrap()
            .send_to(b"x", SocketAddrV4::new(B, 9))
            .unwrap();
    }
    run(&mut [&mut a, &mut b], &mut now, secs(1));
    assert_eq!(a.sockets.udp(quiet).unwrap().take_error(), None);
    assert_eq!(
        a.sockets.udp(loud).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::ConnectionRefused))
    );
}

/// RFC 1122 §3.2.2.1: when ARP gets no answer the datagram is dropped and
/// the sender learns "host unreachable" from its own stack.
#[test]
fn arp_failure_reports_host_unreachable_to_the_sender() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let ghost = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 99), 5000);
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets.connect_udp(client, ghost).unwrap();
    a.sockets.udp(client).unwrap().send(b"hello?").unwrap();
    run(&mut [&mut a, &mut b], &mut now, secs(10));
    assert_eq!(
        a.sockets.udp(client).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::HostUnreachable))
    );
    assert_eq!(
        a.iface.neighbors(IfaceId(0)).unwrap().stats().requests_sent,
        3,
        "mcast_solicit broadcast requests, then failure"
    );

    // A ping socket learns the same.
    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, None).unwrap();
    a.sockets
        .icmp(ping)
        .unwrap()
        .send_echo(Ipv4Addr::new(192, 0, 2, 98), 1, b"x")
        .unwrap();
    run(&mut [&mut a, &mut b], &mut now, secs(10));
    assert_eq!(
        a.sockets.icmp(ping).unwrap().recv_echo(),
        Err(Error::Icmp(IcmpErrorKind::HostUnreachable))
    );
}

/// A host that changes its hardware address (a replaced card, a
/// failover) announces its addresses again (RFC 5227 §3); its neighbour
/// merges the new address at once (RFC 826), even within the lock time
/// that guards against a flapping one, so pings keep their answers, and
/// frames still sent to the old address are not taken.
#[test]
fn a_new_hardware_address_is_announced_and_learned_at_once() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, Some(9)).unwrap();
    let echo = |a: &mut Host, b: &mut Host, now: &mut Instant, seq: u16| {
        a.sockets
            .icmp(ping)
            .unwrap()
            .send_echo(B, seq, b"hi")
            .unwrap();
        run(&mut [a, b], now, Duration::from_millis(100));
        a.sockets.icmp(ping).unwrap().recv_echo().map(|r| r.seq_no)
    };
    assert_eq!(echo(&mut a, &mut b, &mut now, 1), Ok(1));
    let old = b.iface.hardware_addr(IfaceId(0)).unwrap();
    let new = MacAddr::new(0x02, 0, 0, 0, 0x42, 0);
    b.iface.set_hardware_addr(IfaceId(0), new, now).unwrap();
    assert_eq!(b.iface.hardware_addr(IfaceId(0)), Some(new));
    // The announcement goes out at once and A learns it.
    run(&mut [&mut a, &mut b], &mut now, Duration::from_millis(10));
    let learned = a.iface.neighbors(IfaceId(0)).unwrap().get(B).unwrap();
    assert_eq!(learned.mac, Some(new));
    for seq in 2..5 {
        assert_eq!(echo(&mut a, &mut b, &mut now, seq), Ok(seq));
    }
    // Nothing went to the old address: B took every request.
    assert_eq!(b.iface.stats().echo_replies, 4);
    assert_ne!(old, new);
}

/// RFC 5227 §2.3: adding an address announces it with gratuitous ARP.
#[test]
fn adding_an_address_sends_gratuitous_arp() {
    let (pa, mut peer) = wire(LinkConfig::new());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
    a.poll(Instant::ZERO);
    let (rx, _) = peer.receive(Instant::ZERO).expect("an announcement");
    let (op, spa, tpa, dst) = rx.consume(|f| {
        let eth = EthernetFrame::parse(f).unwrap();
        assert_eq!(eth.ethertype(), EtherType::ARP);
        let arp = ArpPacket::parse(eth.payload()).unwrap();
        (
            arp.operation(),
            arp.sender_protocol_addr(),
            arp.target_protocol_addr(),
            eth.dst(),
        )
    });
    assert_eq!((spa, tpa, dst), (A, A, MacAddr::BROADCAST));
    assert!(op == ArpOperation::REQUEST || op == ArpOperation::REPLY);
}

/// RFC 1122 §3.2.2.6: a ping to a directed broadcast is not answered by
/// default (smurf), a ping to us is.
#[test]
fn ping_to_a_broadcast_is_ignored() {
    let (mut a, mut b) = two_hosts();
    let mut now = Instant::ZERO;
    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, None).unwrap();
    a.sockets
        .icmp(ping)
        .unwrap()
        .send_echo(Ipv4Addr::new(192, 0, 2, 255), 1, b"all of you")
        .unwrap();
    run(&mut [&mut a, &mut b], &mut now, secs(1));
    assert_eq!(
        a.sockets.icmp(ping).unwrap().recv_echo(),
        Err(Error::WouldBlock)
    );
    assert_eq!(b.iface.stats().echo_replies, 0);
}

/// A router between 192.0.2.0/25 and 192.0.2.128/25 forwards both ways
/// (RFC 1812 §5.2), decrementing the TTL.
#[test]
fn router_forwards_between_two_subnets_both_ways() {
    let (pa, ra) = wire(link());
    let (pb, rb) = wire(link());
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
    let (a_ip, b_ip) = (Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 130));
    let mut now = Instant::ZERO;

    let pa_h = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(pa_h, None).unwrap();
    let pb_h = b.sockets.add(IcmpSocket::default()).unwrap();
    b.sockets.bind_icmp(pb_h, None).unwrap();
    a.sockets
        .icmp(pa_h)
        .unwrap()
        .send_echo(b_ip, 1, b"a to b")
        .unwrap();
    b.sockets
        .icmp(pb_h)
        .unwrap()
        .send_echo(a_ip, 2, b"b to a")
        .unwrap();
    run(&mut [&mut a, &mut b, &mut r], &mut now, secs(1));
    let ra = a.sockets.icmp(pa_h).unwrap().recv_echo().unwrap();
    assert_eq!((ra.src, ra.seq_no, &ra.data[..]), (b_ip, 1, &b"a to b"[..]));
    let rb = b.sockets.icmp(pb_h).unwrap().recv_echo().unwrap();
    assert_eq!((rb.src, rb.seq_no, &rb.data[..]), (a_ip, 2, &b"b to a"[..]));
    assert_eq!(r.iface.stats().forwarded, 4);

    // UDP through the router, and the TTL seen at the far end.
    let raw = b
        .sockets
        .add(lamina_socket::RawSocket::new(
            lamina_ipv4::IpProtocol::UDP,
            8,
            65536,
        ))
        .unwrap();
    // Other sockets between: a TCP one, a second raw UDP socket (which
    // gets its own copy) and a raw TCP one (which gets none).
    b.sockets
        .add(lamina_socket::TcpSocket::new(Default::default()))
        .unwrap();
    let raw2 = b
        .sockets
        .add(lamina_socket::RawSocket::new(
            lamina_ipv4::IpProtocol::UDP,
            8,
            65536,
        ))
        .unwrap();
    let raw_tcp = b
        .sockets
        .add(lamina_socket::RawSocket::new(
            lamina_ipv4::IpProtocol::TCP,
            8,
            65536,
        ))
        .unwrap();
    let server = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(server, SocketAddrV4::new(b_ip, 7))
        .unwrap();
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .udp(client)
        .unwrap()
        .send_to(b"through", SocketAddrV4::new(b_ip, 7))
        .unwrap();
    run(&mut [&mut a, &mut b, &mut r], &mut now, secs(1));
    let mut buf = [0u8; 64];
    let (n, from) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], *from.ip()), (&b"through"[..], a_ip));
    let (n, _) = b.sockets.raw(raw).unwrap().recv_from(&mut buf).unwrap();
    let ip = lamina_ipv4::Ipv4Packet::parse_verified(&buf[..n]).unwrap();
    assert_eq!(ip.ttl(), 63, "one hop");
    let mut buf2 = [0u8; 64];
    let (n2, _) = b.sockets.raw(raw2).unwrap().recv_from(&mut buf2).unwrap();
    assert_eq!(&buf2[..n2], &buf[..n], "every raw socket of the protocol");
    assert!(
        b.sockets
            .raw(raw_tcp)
            .unwrap()
            .recv_from(&mut buf2)
            .is_err(),
        "not the raw socket of another protocol"
    );
}

/// RFC 1812 §5.3.1: a datagram whose TTL runs out at the router earns
/// Time Exceeded, which reaches the sender's socket.
#[test]
fn ttl_running_out_at_the_router_reaches_the_sender() {
    let (pa, ra) = wire(link());
    let (_pb, rb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::new(
        3,
        config,
        vec![(ra, "192.0.2.1/25"), (rb, "192.0.2.129/25")],
    );
    a.iface
        .routes_mut()
        .insert(
            "192.0.2.128/25".parse().unwrap(),
            Route::via(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0)),
        )
        .unwrap();
    let mut now = Instant::ZERO;
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    let far = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 130), 7);
    a.sockets.connect_udp(client, far).unwrap();
    a.sockets.udp(client).unwrap().set_ttl(1);
    a.sockets.udp(client).unwrap().send(b"short-lived").unwrap();
    run(&mut [&mut a, &mut r], &mut now, secs(1));
    assert_eq!(
        a.sockets.udp(client).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::TtlExceeded))
    );
    assert_eq!(r.iface.stats().forwarded, 0);
}

/// A router with no route answers Network Unreachable (RFC 1812 §5.2.7.1).
#[test]
fn router_without_a_route_answers_network_unreachable() {
    let (pa, ra) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::new(3, config, vec![(ra, "192.0.2.1/25")]);
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    let mut now = Instant::ZERO;
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    let far = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 7);
    a.sockets.connect_udp(client, far).unwrap();
    a.sockets.udp(client).unwrap().send(b"nowhere").unwrap();
    run(&mut [&mut a, &mut r], &mut now, secs(1));
    assert_eq!(
        a.sockets.udp(client).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::NetworkUnreachable))
    );
}

/// Our own address is delivered locally without touching a device.
#[test]
fn datagrams_to_our_own_address_loop_back() {
    let (mut a, _b) = two_hosts();
    let server = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .bind_udp(server, SocketAddrV4::new(A, 53))
        .unwrap();
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .udp(client)
        .unwrap()
        .send_to(b"self", SocketAddrV4::new(A, 53))
        .unwrap();
    a.poll(Instant::ZERO);
    let mut buf = [0u8; 8];
    let (n, from) = a.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], *from.ip()), (&b"self"[..], A));
    assert_eq!(
        a.iface.neighbors(IfaceId(0)).unwrap().state(A),
        None::<NeighborState>
    );
}

/// A hook that records where it was called and drops UDP leaving us.
#[derive(Default)]
struct Recorder {
    seen: Vec<lamina_ipv4::hook::HookPoint>,
}

impl lamina_ipv4::hook::PacketHook for Recorder {
    fn hook(
        &mut self,
        point: lamina_ipv4::hook::HookPoint,
        packet: &mut [u8],
        _input: Option<IfaceId>,
        _output: Option<IfaceId>,
        _now: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        use lamina_ipv4::hook::{HookPoint, Verdict};
        self.seen.push(point);
        let udp = packet.get(9) == Some(&17);
        if udp && point == HookPoint::Output {
            Verdict::Drop
        } else {
            Verdict::Accept
        }
    }
}

/// The packet hooks see a local datagram at Output and PostRouting, a
/// received one at PreRouting and Input, and a dropped send is reported
/// to the socket.
#[test]
fn packet_hooks_see_local_traffic_and_can_refuse_it() {
    use lamina_ipv4::hook::HookPoint as P;
    use lamina_netbuf::SeededRng;
    use lamina_socket::{Interface, SocketSet};
    let (mut da, mut db) = wire(link());
    let mut rng = SeededRng::new(5);
    let mut a = Interface::with_hooks(InterfaceConfig::default(), Recorder::default(), &mut rng);
    let ia = a.add_device(&da, MacAddr::new(2, 0, 0, 0, 0, 1)).unwrap();
    a.add_address(ia, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let mut b = Interface::new(InterfaceConfig::default(), &mut rng);
    let ib = b.add_device(&db, MacAddr::new(2, 0, 0, 0, 0, 2)).unwrap();
    b.add_address(ib, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let (mut sa, mut sb) = (SocketSet::new(4, &mut rng), SocketSet::new(4, &mut rng));
    let ping = sa.add(IcmpSocket::default()).unwrap();
    sa.bind_icmp(ping, None).unwrap();
    sa.icmp(ping).unwrap().send_echo(B, 1, b"hooked").unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..20 {
        a.poll(now, &mut da, &mut sa);
        b.poll(now, &mut db, &mut sb);
        now += Duration::from_millis(1);
    }
    assert!(sa.icmp(ping).unwrap().recv_echo().is_ok());
    assert_eq!(
        a.hooks().seen,
        [P::Output, P::PostRouting, P::PreRouting, P::Input]
    );

    let udp = sa.add(UdpSocket::default()).unwrap();
    sa.connect_udp(udp, SocketAddrV4::new(B, 7)).unwrap();
    sa.udp(udp).unwrap().send(b"filtered").unwrap();
    a.poll(now, &mut da, &mut sa);
    assert_eq!(sa.udp(udp).unwrap().take_error(), Some(Error::Filtered));
    assert_eq!(a.stats().hook_dropped, 1);
}

/// Steals UDP datagrams at `Input` and answers each with an ICMP port
/// unreachable of its own making, through `next_injected` (what a
/// filter's `reject` does).
#[derive(Default)]
struct Rejecter {
    pending: Vec<Vec<u8>>,
}

impl lamina_ipv4::hook::PacketHook for Rejecter {
    fn hook(
        &mut self,
        point: lamina_ipv4::hook::HookPoint,
        packet: &mut [u8],
        _input: Option<IfaceId>,
        _output: Option<IfaceId>,
        _now: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        use lamina_ipv4::hook::{HookPoint, Verdict};
        if point != HookPoint::Input || packet.get(9) != Some(&17) {
            return Verdict::Accept;
        }
        let ip = lamina_ipv4::Ipv4Packet::parse(packet).unwrap();
        let repr = lamina_ipv4::Ipv4Repr::new(ip.dst(), ip.src(), lamina_ipv4::IpProtocol::ICMP);
        let quote = &packet[..28.min(packet.len())];
        let icmp = lamina_icmp::IcmpRepr::PORT_UNREACHABLE;
        use lamina_netbuf::Serializer;
        let bytes = quote
            .wrap_in(&icmp)
            .wrap_in(&repr)
            .serialize_vec(0)
            .unwrap();
        self.pending.push(bytes.as_slice().to_vec());
        Verdict::Stolen
    }

    fn next_injected(&mut self, buf: &mut [u8], _now: Instant) -> Option<usize> {
        let d = self.pending.pop()?;
        buf.get_mut(..d.len())?.copy_from_slice(&d);
        Some(d.len())
    }
}

/// A hook that steals a datagram and injects its own answer: the answer
/// is routed and sent like our own datagrams, and reaches the sender's
/// socket as "connection refused" (RFC 1122 §4.1.3.3).
#[test]
fn datagrams_a_hook_injects_are_routed_and_sent() {
    use lamina_netbuf::SeededRng;
    use lamina_socket::{Interface, SocketSet};
    let (mut da, mut db) = wire(link());
    let mut rng = SeededRng::new(9);
    let mut a = Interface::new(InterfaceConfig::default(), &mut rng);
    let ia = a.add_device(&da, MacAddr::new(2, 0, 0, 0, 0, 1)).unwrap();
    a.add_address(ia, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let mut b = Interface::with_hooks(InterfaceConfig::default(), Rejecter::default(), &mut rng);
    let ib = b.add_device(&db, MacAddr::new(2, 0, 0, 0, 0, 2)).unwrap();
    b.add_address(ib, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let (mut sa, mut sb) = (SocketSet::new(4, &mut rng), SocketSet::new(4, &mut rng));
    // Even a bound socket on B never sees the datagram: the hook stole it.
    let server = sb.add(UdpSocket::default()).unwrap();
    sb.bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let udp = sa.add(UdpSocket::default()).unwrap();
    sa.connect_udp(udp, SocketAddrV4::new(B, 7)).unwrap();
    sa.udp(udp).unwrap().send(b"knock").unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..20 {
        a.poll(now, &mut da, &mut sa);
        b.poll(now, &mut db, &mut sb);
        now += Duration::from_millis(1);
    }
    let mut buf = [0u8; 16];
    assert_eq!(
        sb.udp(server).unwrap().recv(&mut buf),
        Err(Error::WouldBlock)
    );
    assert_eq!(
        sa.udp(udp).unwrap().take_error(),
        Some(Error::Icmp(IcmpErrorKind::ConnectionRefused))
    );
    assert!(b.hooks().pending.is_empty());
}

/// Rewrites the destination of locally sent datagrams to 192.0.2.77 into
/// B at Output (destination NAT of local traffic), fixing the header
/// checksum, and records the points loopback traffic passes.
#[derive(Default)]
struct OutputDnat {
    loopback_points: Vec<lamina_ipv4::hook::HookPoint>,
}

impl lamina_ipv4::hook::PacketHook for OutputDnat {
    fn hook(
        &mut self,
        point: lamina_ipv4::hook::HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        _now: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        use lamina_ipv4::hook::{HookPoint, Verdict};
        if input.is_none() && output.is_none() && packet.get(16..20) == Some(&A.octets()[..]) {
            self.loopback_points.push(point);
        }
        if point == HookPoint::Output && packet.get(16..20) == Some(&[192, 0, 2, 77][..]) {
            packet[16..20].copy_from_slice(&B.octets());
            packet[10..12].fill(0);
            let sum = lamina_netbuf::checksum::checksum(&packet[..20]);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Verdict::Accept
    }
}

/// A hook that changes the destination at Output gets the datagram routed
/// to the new destination (as Linux re-routes after OUTPUT's DNAT), and
/// datagrams to ourselves pass Output, PostRouting, PreRouting and Input
/// like any other.
#[test]
fn output_dnat_reroutes_and_loopback_passes_every_local_hook() {
    use lamina_ipv4::hook::HookPoint as P;
    use lamina_netbuf::SeededRng;
    use lamina_socket::{Interface, SocketSet};
    let (mut da, mut db) = wire(link());
    let mut rng = SeededRng::new(11);
    let mut a = Interface::with_hooks(InterfaceConfig::default(), OutputDnat::default(), &mut rng);
    let ia = a.add_device(&da, MacAddr::new(2, 0, 0, 0, 0, 1)).unwrap();
    a.add_address(ia, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let mut b = Interface::new(InterfaceConfig::default(), &mut rng);
    let ib = b.add_device(&db, MacAddr::new(2, 0, 0, 0, 0, 2)).unwrap();
    b.add_address(ib, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let (mut sa, mut sb) = (SocketSet::new(4, &mut rng), SocketSet::new(4, &mut rng));
    let ping = sa.add(IcmpSocket::default()).unwrap();
    sa.bind_icmp(ping, None).unwrap();
    sa.icmp(ping)
        .unwrap()
        .send_echo(Ipv4Addr::new(192, 0, 2, 77), 1, b"nat")
        .unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..20 {
        a.poll(now, &mut da, &mut sa);
        b.poll(now, &mut db, &mut sb);
        now += Duration::from_millis(1);
    }
    let reply = sa.icmp(ping).unwrap().recv_echo().expect("B answered");
    assert_eq!(reply.src, B);

    // To ourselves.
    sa.icmp(ping).unwrap().send_echo(A, 2, b"self").unwrap();
    for _ in 0..4 {
        a.poll(now, &mut da, &mut sa);
    }
    assert!(sa.icmp(ping).unwrap().recv_echo().is_ok());
    let points = &a.hooks().loopback_points;
    assert_eq!(
        &points[..4],
        &[P::Output, P::PostRouting, P::PreRouting, P::Input]
    );
}

/// Path MTU discovery (RFC 1191): a router whose next hop carries only
/// 1000 bytes answers a full-sized TCP segment (DF set) with
/// "fragmentation needed"; the sender shrinks its segments and the
/// transfer completes, byte for byte.
#[test]
fn tcp_finds_a_smaller_path_mtu_through_a_router() {
    use lamina_socket::TcpSocket;
    let (pa, ra) = wire(link());
    let (pb, rb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.130/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::new(
        3,
        config,
        vec![(ra, "192.0.2.1/25"), (rb, "192.0.2.129/25")],
    );
    // The far subnet's route carries 1000 bytes at most.
    r.iface
        .routes_mut()
        .replace(
            "192.0.2.128/25".parse().unwrap(),
            Route::on_link(IfaceId(1)).with_mtu(1000),
        )
        .unwrap();
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    b.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 129), IfaceId(0))
        .unwrap();
    let b_ip = Ipv4Addr::new(192, 0, 2, 130);
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(b_ip, 80), None)
        .unwrap();
    let mut now = Instant::ZERO;
    run(&mut [&mut a, &mut b, &mut r], &mut now, secs(1));
    let s = b.sockets.accept_tcp(l).unwrap();
    assert_eq!(a.sockets.tcp(c).unwrap().connection().unwrap().mss(), 1460);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65536];
    for _ in 0..2000 {
        if sent < data.len()
            && let Ok(n) = a.sockets.tcp(c).unwrap().send(&data[sent..])
        {
            sent += n;
        }
        run(
            &mut [&mut a, &mut b, &mut r],
            &mut now,
            Duration::from_millis(10),
        );
        while let Ok(n) = b.sockets.tcp(s).unwrap().recv(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert!(
        got == data,
        "received {} of {} bytes",
        got.len(),
        data.len()
    );
    assert_eq!(a.sockets.tcp(c).unwrap().connection().unwrap().mss(), 960);
    assert!(r.iface.stats().tx_too_big > 0);
}

/// RFC 1122 §4.2.3.9 and §3.2.2.1: connecting to an on-link address
/// nobody answers ARP for fails with "host unreachable" once resolution
/// gives up, not after the SYN retries.
#[test]
fn tcp_connect_to_an_unresolvable_neighbour_is_host_unreachable() {
    use lamina_socket::TcpSocket;
    use lamina_socket::tcp_proto::ConnError;
    let (mut a, _b) = two_hosts();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 99), 80), None)
        .unwrap();
    let mut now = Instant::ZERO;
    run(&mut [&mut a], &mut now, secs(10));
    assert_eq!(
        a.sockets.tcp(c).unwrap().send(b"x"),
        Err(Error::Tcp(ConnError::HostUnreachable))
    );
}

/// A router without a route answers Network Unreachable, a soft error
/// for TCP (RFC 1122 §4.2.3.9): the connection keeps trying, and when it
/// gives up it reports the network as unreachable rather than a bare
/// timeout.
#[test]
fn tcp_reports_the_soft_error_behind_a_connect_timeout() {
    use lamina_socket::TcpSocket;
    use lamina_socket::tcp_proto::ConnError;
    let (pa, ra) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::new(3, config, vec![(ra, "192.0.2.1/25")]);
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(
            c,
            SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 7), 80),
            None,
        )
        .unwrap();
    let mut now = Instant::ZERO;
    run(&mut [&mut a, &mut r], &mut now, secs(30));
    assert!(a.sockets.tcp(c).unwrap().is_active(), "still trying");
    run(&mut [&mut a, &mut r], &mut now, secs(300));
    assert_eq!(
        a.sockets.tcp(c).unwrap().send(b"x"),
        Err(Error::Tcp(ConnError::NetworkUnreachable))
    );
}

/// Queues every received UDP datagram to queue 7.
struct QueueUdp;

impl lamina_ipv4::hook::PacketHook for QueueUdp {
    fn hook(
        &mut self,
        point: lamina_ipv4::hook::HookPoint,
        packet: &mut [u8],
        _input: Option<IfaceId>,
        _output: Option<IfaceId>,
        _now: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        use lamina_ipv4::hook::{HookPoint, Verdict};
        if point == HookPoint::Input && packet.get(9) == Some(&17) {
            Verdict::Queue(7)
        } else {
            Verdict::Accept
        }
    }
}

/// A `Queue` verdict hands the datagram to the user (as NFQUEUE does) and
/// no further: the bound socket does not see it.
#[test]
fn queued_datagrams_reach_the_user_not_the_socket() {
    use lamina_netbuf::SeededRng;
    use lamina_socket::{Interface, SocketSet};
    let (mut da, mut db) = wire(link());
    let mut rng = SeededRng::new(12);
    let mut a = Interface::new(InterfaceConfig::default(), &mut rng);
    let ia = a.add_device(&da, MacAddr::new(2, 0, 0, 0, 0, 1)).unwrap();
    a.add_address(ia, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let mut b = Interface::with_hooks(InterfaceConfig::default(), QueueUdp, &mut rng);
    let ib = b.add_device(&db, MacAddr::new(2, 0, 0, 0, 0, 2)).unwrap();
    b.add_address(ib, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let (mut sa, mut sb) = (SocketSet::new(4, &mut rng), SocketSet::new(4, &mut rng));
    let server = sb.add(UdpSocket::default()).unwrap();
    sb.bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let udp = sa.add(UdpSocket::default()).unwrap();
    sa.connect_udp(udp, SocketAddrV4::new(B, 7)).unwrap();
    sa.udp(udp).unwrap().send(b"inspect me").unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..20 {
        a.poll(now, &mut da, &mut sa);
        b.poll(now, &mut db, &mut sb);
        now += Duration::from_millis(1);
    }
    let q = b.take_queued().expect("queued");
    assert_eq!(q.queue, 7);
    assert_eq!(q.point, lamina_ipv4::hook::HookPoint::Input);
    assert!(q.datagram.ends_with(b"inspect me"));
    assert_eq!(b.take_queued(), None);
    assert_eq!(b.stats().hook_queued, 1);
    let mut buf = [0u8; 16];
    assert_eq!(
        sb.udp(server).unwrap().recv(&mut buf),
        Err(Error::WouldBlock)
    );
}

/// On a device that completes UDP checksums, a datagram goes out with the
/// checksum left to it: the pseudo-header's sum in the field, and the
/// frame marked as offloaded (the wire reports it verified); the peer
/// still gets the payload byte for byte.
#[test]
fn udp_checksums_are_left_to_a_device_that_offers_it() {
    // Bound: the direct path; unbound: the first datagram takes the
    // queued way (autobind). Both leave the checksum to the device.
    for bound in [true, false] {
        udp_checksum_left_to_the_device(bound);
    }
}

/// Host 192.0.2.1 on a wire whose other end is a bare port (frames read
/// raw), and the peer address 192.0.2.9 it knows statically.
fn host_and_bare_peer(link: LinkConfig) -> (Host, lamina_netdev::Port, Ipv4Addr) {
    let (pa, peer) = wire(link);
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
    let peer_ip = Ipv4Addr::new(192, 0, 2, 9);
    a.iface
        .neighbors_mut(IfaceId(0))
        .unwrap()
        .insert_static(peer_ip, MacAddr::new(2, 0, 0, 0, 0, 9), Instant::ZERO)
        .unwrap();
    (a, peer, peer_ip)
}

fn udp_checksum_left_to_the_device(bound: bool) {
    let caps = lamina_netdev::ChecksumCapabilities::ALL;
    let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new().with_checksum(caps));
    let u = a.sockets.add(UdpSocket::default()).unwrap();
    if bound {
        a.sockets
            .bind_udp(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
            .unwrap();
    }
    a.sockets
        .udp(u)
        .unwrap()
        .send_to(b"left to the device", SocketAddrV4::new(peer_ip, 7))
        .unwrap();
    a.poll(Instant::ZERO);
    let mut seen = false;
    while let Some((rx, _)) = peer.receive(Instant::ZERO) {
        let verified = rx.meta().checksum_verified;
        rx.consume(|f| {
            let eth = EthernetFrame::parse(f).unwrap();
            if eth.ethertype() != EtherType::IPV4 {
                return;
            }
            let ip = lamina_ipv4::Ipv4Packet::parse_verified(eth.payload()).unwrap();
            let udp = ip.payload();
            assert_eq!(&udp[8..], b"left to the device");
            let mut pseudo = lamina_netbuf::checksum::Checksum::new();
            pseudo.add_u32(ip.src().to_bits());
            pseudo.add_u32(ip.dst().to_bits());
            pseudo.add_u16(17);
            pseudo.add_u16(udp.len() as u16);
            assert_eq!(
                u16::from_be_bytes([udp[6], udp[7]]),
                pseudo.sum(),
                "partial"
            );
            assert!(verified.contains(lamina_netdev::ChecksumProto::Udp));
            seen = true;
        });
    }
    assert!(seen, "the datagram went out");
}

/// RFC 6864 §4.1: a datagram sent with Don't Fragment set is never
/// fragmented, so its Identification may be anything: it carries 0.
/// Without DF, IDs come from the generator and differ datagram to
/// datagram (RFC 791: unique for the source, destination and protocol
/// while the datagram may be reassembled). Both the direct path (bound
/// socket, resolved neighbour) and the queued one (unbound socket) agree.
#[test]
fn datagrams_with_dont_fragment_carry_id_zero_and_others_fresh_ids_rfc_6864() {
    for bound in [true, false] {
        let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new());
        let mut ids = [Vec::new(), Vec::new()];
        for df in [false, true] {
            let u = a.sockets.add(UdpSocket::default()).unwrap();
            if bound {
                a.sockets
                    .bind_udp(
                        u,
                        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000 + u16::from(df)),
                    )
                    .unwrap();
            }
            a.sockets.udp(u).unwrap().set_dont_fragment(df);
            for i in 0..20u8 {
                a.sockets
                    .udp(u)
                    .unwrap()
                    .send_to(&[i; 30], SocketAddrV4::new(peer_ip, 7))
                    .unwrap();
            }
            a.poll(Instant::ZERO);
            while let Some((rx, _)) = peer.receive(Instant::ZERO) {
                rx.consume(|f| {
                    let eth = EthernetFrame::parse(f).unwrap();
                    if eth.ethertype() != EtherType::IPV4 {
                        return; // the gratuitous ARP
                    }
                    let ip = lamina_ipv4::Ipv4Packet::parse_verified(eth.payload()).unwrap();
                    assert_eq!(ip.dont_fragment(), df);
                    ids[usize::from(df)].push(ip.identification());
                });
            }
        }
        assert_eq!(ids[0].len(), 20);
        assert_eq!(ids[1], vec![0; 20], "DF datagrams (bound: {bound})");
        let mut fresh = ids[0].clone();
        fresh.sort_unstable();
        fresh.dedup();
        assert_eq!(
            fresh.len(),
            20,
            "repeated IDs {:?} (bound: {bound})",
            ids[0]
        );
    }
}

/// Received UDP payloads are verified while they are copied into the
/// socket's queue (RFC 768, RFC 1122 §4.1.3.4): a good datagram arrives
/// byte-exact, one corrupted anywhere in its payload or header never
/// reaches the socket and counts as a checksum error, a zero checksum is
/// accepted; a full queue refuses a good datagram as a buffer error but
/// a corrupted one still as a checksum error.
#[test]
fn udp_payloads_verified_on_their_way_into_the_queue() {
    let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new());
    let mut config = lamina_socket::UdpConfig::default();
    config.rx_packets = 4;
    let u = a.sockets.add(UdpSocket::new(config)).unwrap();
    a.sockets
        .bind_udp(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    // Frames from the peer, built by the wire-format crates.
    let our_mac = a.iface.hardware_addr(IfaceId(0)).unwrap();
    let frame = |payload: &[u8], corrupt: Option<usize>, zero: bool| {
        let mut f = udp_frame((peer_ip, A), our_mac, payload, zero);
        if let Some(at) = corrupt {
            f[14 + 20 + at] ^= 0x01;
        }
        f
    };
    let mut send = |f: Vec<u8>| send_from_peer(&mut peer, &f);
    let recv = |a: &mut Host| {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = a.sockets.udp(u).unwrap().recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    };
    // (Up to 1000 bytes: larger datagrams in frames the device can give
    // away stay in them, verified when read; see the next test.)
    for len in [1usize, 64, 255, 256, 1000] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 13 + len) as u8).collect();
        let before = *a.iface.udp_stats();
        // Corrupted in the payload (first, middle, last byte) and in the
        // header's length-independent fields (ports).
        for at in [8, 8 + len / 2, 8 + len - 1, 0, 2] {
            send(frame(&payload, Some(at), false));
        }
        send(frame(&payload, None, false));
        send(frame(&payload, None, true));
        a.poll(Instant::ZERO);
        let after = *a.iface.udp_stats();
        assert_eq!(
            recv(&mut a),
            [payload.clone(), payload.clone()],
            "len {len}"
        );
        assert_eq!(after.in_csum_errors - before.in_csum_errors, 5, "len {len}");
        assert_eq!(after.in_datagrams - before.in_datagrams, 2, "len {len}");
    }
    // A full queue (4 datagrams): a good datagram is a buffer error, a
    // corrupted one a checksum error.
    let payload = vec![0x5au8; 600];
    for _ in 0..4 {
        send(frame(&payload, None, false));
    }
    a.poll(Instant::ZERO);
    let before = *a.iface.udp_stats();
    send(frame(&payload, None, false));
    send(frame(&payload, Some(300), false));
    a.poll(Instant::ZERO);
    let after = *a.iface.udp_stats();
    assert_eq!(after.rcvbuf_errors - before.rcvbuf_errors, 1);
    assert_eq!(after.in_csum_errors - before.in_csum_errors, 1);
    assert_eq!(recv(&mut a).len(), 4);
    assert_eq!(a.sockets.udp(u).unwrap().rx_dropped(), 1);
}

/// Two hosts on a wire: `client` (bound to an ephemeral port) on A,
/// `server` on B's port 7.
fn udp_client_and_server(
    client: UdpSocket,
) -> (
    Host,
    Host,
    lamina_socket::SocketHandle,
    lamina_socket::SocketHandle,
) {
    let (mut a, mut b) = two_hosts();
    let server = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let client = a.sockets.add(client).unwrap();
    a.sockets
        .bind_udp(client, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    (a, b, client, server)
}

/// Large datagrams to a device that lends its transmit buffers (the
/// wires do) are written straight into them from the second transmit
/// pass on: mixed with small ones, across passes where the lent buffers
/// run short, every datagram arrives byte-exact, verified by the
/// receiver, and in the order sent; the socket keeps as many buffers as
/// its last pass wanted, and gives them back when it sends small ones.
#[test]
fn udp_large_datagrams_are_sent_from_lent_buffers_in_order() {
    let (mut a, mut b, client, server) = udp_client_and_server(UdpSocket::default());
    let mut now = Instant::ZERO;
    let to = SocketAddrV4::new(B, 7);
    let payload = |round: usize, i: usize| -> Vec<u8> {
        // Large (lent), small (queued), and lengths both odd and even.
        let len = match i % 4 {
            0 => 1472,
            1 => 513,
            2 => 40,
            _ => 1000 + round,
        };
        (0..len).map(|k| (k * 31 + i * 7 + round) as u8).collect()
    };
    let mut buf = [0u8; 2000];
    let before = *b.iface.udp_stats();
    let mut sent = 0u64;
    for round in 0..20 {
        // More large datagrams than the last pass lent buffers for in
        // every other round.
        let n = if round % 2 == 0 { 8 } else { 24 };
        let payloads: Vec<Vec<u8>> = (0..n).map(|i| payload(round, i)).collect();
        for p in &payloads {
            a.sockets.udp(client).unwrap().send_to(p, to).unwrap();
        }
        sent += n as u64;
        run(&mut [&mut a, &mut b], &mut now, secs(1));
        for (i, p) in payloads.iter().enumerate() {
            let (len, from) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], &p[..], "round {round} datagram {i}");
            assert_eq!(*from.ip(), A);
        }
        assert_eq!(
            b.sockets.udp(server).unwrap().recv_from(&mut buf),
            Err(Error::WouldBlock)
        );
        // Large ones wanted buffers: the socket holds them for the next
        // (from the second round on: the first went out after ARP, the
        // queued way, and the buffers come with datagrams sent directly).
        let large = payloads.iter().filter(|p| p.len() >= 512).count();
        let lent = a.sockets.udp(client).unwrap().lent_buffers();
        match round {
            0 => assert_eq!(lent, 0),
            1 => assert!(lent >= large, "{lent}"),
            _ => assert_eq!(lent, large, "round {round}"),
        }
    }
    let after = *b.iface.udp_stats();
    assert_eq!(after.in_datagrams - before.in_datagrams, sent);
    assert_eq!(after.in_csum_errors, before.in_csum_errors);
    // And the lent ones went out in their buffers, not copied: from the
    // third round on (the first went out after ARP, the second's pass
    // lent the buffers), the two large datagrams at the head of each
    // round (the first small one sends those behind it to the queue).
    assert_eq!(a.iface.stats().udp_payloads_lent, 2 * 18);
    // Lent datagrams to a neighbour still unresolved (no such host) go
    // the queued way, and those behind them, to B, with them, in order.
    let nobody = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 3), 7);
    let s = a.sockets.udp(client).unwrap();
    assert!(s.lent_buffers() >= 4);
    s.send_to(&payload(0, 0), nobody).unwrap();
    s.send_to(&payload(1, 0), to).unwrap();
    s.send_to(&payload(2, 0), nobody).unwrap();
    s.send_to(&payload(3, 0), to).unwrap();
    run(&mut [&mut a, &mut b], &mut now, secs(5));
    assert_eq!(a.sockets.udp(client).unwrap().send_queue_len(), 0);
    for round in [1, 3] {
        let (len, _) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], &payload(round, 0)[..]);
    }
    assert_eq!(
        b.sockets.udp(server).unwrap().recv_from(&mut buf),
        Err(Error::WouldBlock)
    );
    // Small datagrams only: the buffers go back to the device (after a
    // first pass that still counts the four large ones above, which went
    // the queued way).
    for _ in 0..2 {
        a.sockets
            .udp(client)
            .unwrap()
            .send_to(b"small", to)
            .unwrap();
        run(&mut [&mut a, &mut b], &mut now, secs(1));
        let (len, _) = b.sockets.udp(server).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"small");
    }
    assert_eq!(a.sockets.udp(client).unwrap().lent_buffers(), 0);
}

/// Datagrams in lent buffers count against the send queue's bounds like
/// the others: with room for four, the fifth is refused, whatever its
/// size, until a pass sends them.
#[test]
fn udp_lent_datagrams_count_against_the_send_queue_bounds() {
    let mut config = lamina_socket::UdpConfig::default();
    config.tx_packets = 4;
    let (mut a, mut b, client, server) = udp_client_and_server(UdpSocket::new(config));
    let mut now = Instant::ZERO;
    let to = SocketAddrV4::new(B, 7);
    let big = vec![7u8; 1400];
    // Two passes (the first resolves B) to get buffers lent.
    for _ in 0..2 {
        for _ in 0..4 {
            a.sockets.udp(client).unwrap().send_to(&big, to).unwrap();
        }
        run(&mut [&mut a, &mut b], &mut now, secs(1));
    }
    assert!(a.sockets.udp(client).unwrap().lent_buffers() >= 4);
    let s = a.sockets.udp(client).unwrap();
    for _ in 0..3 {
        s.send_to(&big, to).unwrap();
    }
    assert_eq!(s.send_queue_len(), 3);
    s.send_to(b"tiny", to).unwrap();
    assert_eq!(s.send_queue_len(), 4);
    assert!(!s.can_send(1400));
    assert!(!s.can_send(4));
    assert_eq!(s.send_to(&big, to), Err(Error::QueueFull));
    assert_eq!(s.send_to(b"x", to), Err(Error::QueueFull));
    run(&mut [&mut a, &mut b], &mut now, secs(1));
    let mut buf = [0u8; 2000];
    let mut got = Vec::new();
    while let Ok((len, _)) = b.sockets.udp(server).unwrap().recv_from(&mut buf) {
        got.push(len);
    }
    assert_eq!(
        got,
        [1400; 11].iter().copied().chain([4]).collect::<Vec<_>>()
    );
    assert!(a.sockets.udp(client).unwrap().can_send(1400));
}

/// Large datagrams (1472 bytes: whole frames of the link) are copied
/// while no such datagram came in the last receive pass, and then left
/// in their frames' buffers: the socket verifies each as it is read (as
/// Linux does), drops and counts the corrupt ones there, and reads on to
/// the next; a cut read still checks the whole datagram; `peek` passes
/// over a corrupt one.
#[test]
fn udp_large_datagrams_stay_in_their_frames_and_are_verified_when_read() {
    let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new());
    let u = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .bind_udp(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let our_mac = a.iface.hardware_addr(IfaceId(0)).unwrap();
    let payload = |tag: u8| -> Vec<u8> { (0..1472).map(|i| (i * 7) as u8 ^ tag).collect() };
    let frame = |p: &[u8], corrupt: Option<usize>| {
        let mut f = udp_frame((peer_ip, A), our_mac, p, false);
        if let Some(at) = corrupt {
            f[14 + 20 + at] ^= 0x40;
        }
        f
    };
    let send = |peer: &mut lamina_netdev::Port, f: Vec<u8>| send_from_peer(peer, &f);
    let mut buf = vec![0u8; 2048];
    for round in 0..50u8 {
        let before = *a.iface.udp_stats();
        let errors = a.sockets.udp(u).unwrap().rx_checksum_errors();
        // Good, corrupt in the payload, good, corrupt in the last byte,
        // good, corrupt in the checksum field.
        send(&mut peer, frame(&payload(round), None));
        send(&mut peer, frame(&payload(round), Some(8 + 700)));
        send(&mut peer, frame(&payload(round.wrapping_add(1)), None));
        send(&mut peer, frame(&payload(round), Some(8 + 1471)));
        send(&mut peer, frame(&payload(round.wrapping_add(2)), None));
        send(&mut peer, frame(&payload(round), Some(6)));
        a.poll(Instant::ZERO);
        let after = *a.iface.udp_stats();
        let s = a.sockets.udp(u).unwrap();
        if round == 0 {
            // The first pass copies (verifying on the way): the corrupt
            // ones never reach the queue.
            assert_eq!(after.in_csum_errors - before.in_csum_errors, 3);
            assert_eq!(s.recv_queue_len(), 3);
        } else {
            // Later passes keep them all; the corrupt ones are found when
            // read.
            assert_eq!(after.in_csum_errors, before.in_csum_errors, "round {round}");
            assert_eq!(s.recv_queue_len(), 6, "round {round}");
        }
        assert_eq!(
            after.in_datagrams - before.in_datagrams,
            s.recv_queue_len() as u64
        );
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (1472, SocketAddrV4::new(peer_ip, 4000)));
        assert_eq!(buf[..n], payload(round)[..]);
        let (peeked, _, _) = s.peek().unwrap();
        assert_eq!(peeked, &payload(round.wrapping_add(1))[..], "round {round}");
        // A read cut short still verifies the whole datagram.
        let mut short = [0u8; 5];
        assert_eq!(s.recv_from(&mut short).unwrap().0, 5);
        assert_eq!(short[..], payload(round.wrapping_add(1))[..5]);
        assert_eq!(s.recv_from(&mut buf).unwrap().0, 1472);
        assert_eq!(buf[..1472], payload(round.wrapping_add(2))[..]);
        assert_eq!(s.recv_from(&mut buf), Err(lamina_socket::Error::WouldBlock));
        assert!(!s.can_recv());
        let found = s.rx_checksum_errors() - errors;
        assert_eq!(found, if round == 0 { 0 } else { 3 }, "round {round}");
    }
    // Only corrupt datagrams waiting: the read finds nothing, and `peek`
    // nothing either.
    send(&mut peer, frame(&payload(9), Some(8)));
    send(&mut peer, frame(&payload(9), Some(9)));
    a.poll(Instant::ZERO);
    let s = a.sockets.udp(u).unwrap();
    assert!(s.can_recv());
    assert_eq!(
        s.peek().map(|p| p.0.len()),
        Err(lamina_socket::Error::WouldBlock)
    );
    let errors = s.rx_checksum_errors();
    assert_eq!(s.recv_from(&mut buf), Err(lamina_socket::Error::WouldBlock));
    assert_eq!(s.rx_checksum_errors() - errors, 2);
    assert!(!s.can_recv());
    // A pass with no large datagram ends the keeping: the next large one
    // is copied again, and a corrupt one counted by the interface.
    send(&mut peer, udp_frame((peer_ip, A), our_mac, b"small", false));
    a.poll(Instant::ZERO);
    let before = *a.iface.udp_stats();
    send(&mut peer, frame(&payload(3), Some(8 + 3)));
    a.poll(Instant::ZERO);
    assert_eq!(
        a.iface.udp_stats().in_csum_errors - before.in_csum_errors,
        1
    );
    let s = a.sockets.udp(u).unwrap();
    assert_eq!(
        s.recv_from(&mut buf),
        Ok((5, SocketAddrV4::new(peer_ip, 4000)))
    );
    assert_eq!(s.recv_from(&mut buf), Err(lamina_socket::Error::WouldBlock));
}

/// An Ethernet frame from the bare peer (MAC 02:..:09) carrying a UDP
/// datagram from port 4000 to port 7, `src` to `dst`, built by the
/// wire-format crates (with no checksum when `zero`).
fn udp_frame((src, dst): (Ipv4Addr, Ipv4Addr), to: MacAddr, payload: &[u8], zero: bool) -> Vec<u8> {
    use lamina_netbuf::Serializer;
    let policy = lamina_udp::ChecksumPolicy {
        tx: if zero {
            lamina_udp::ChecksumMode::Zero
        } else {
            lamina_udp::ChecksumMode::Compute
        },
        ..Default::default()
    };
    let udp = lamina_udp::UdpRepr {
        src_port: 4000,
        dst_port: 7,
    };
    let ip = lamina_ipv4::Ipv4Repr::new(src, dst, lamina_ipv4::IpProtocol::UDP);
    peer_frame(&ip, to, payload.wrap_in(policy.builder(&udp, src, dst)))
}

/// An Ethernet frame from the bare peer (MAC 02:..:09) to `to` carrying
/// `body` under the IPv4 header `ip` (padded to the Ethernet minimum).
fn peer_frame(
    ip: &lamina_ipv4::Ipv4Repr,
    to: MacAddr,
    body: impl lamina_netbuf::Serializer,
) -> Vec<u8> {
    use lamina_netbuf::Serializer;
    let eth =
        lamina_ethernet::EthernetRepr::new(MacAddr::new(2, 0, 0, 0, 0, 9), to, EtherType::IPV4);
    body.wrap_in(ip)
        .wrap_in(eth)
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

/// Sends frame `f` from the bare peer.
fn send_from_peer(peer: &mut lamina_netdev::Port, f: &[u8]) {
    let t = peer.transmit(Instant::ZERO).unwrap();
    lamina_netdev::TxToken::consume(t, f.len(), |b| b.copy_from_slice(f)).unwrap();
}

/// A removed address takes no more datagrams, right after it took some
/// (the receive path's memory of the last flow addressed to us is
/// forgotten with the address); the address left still takes them.
#[test]
fn a_removed_address_takes_no_more_datagrams() {
    let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new());
    let second = Ipv4Addr::new(192, 0, 2, 5);
    a.iface
        .add_address(IfaceId(0), "192.0.2.5/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let u = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .bind_udp(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let our_mac = a.iface.hardware_addr(IfaceId(0)).unwrap();
    let mut deliver = |a: &mut Host, dst: Ipv4Addr| {
        send_from_peer(
            &mut peer,
            &udp_frame((peer_ip, dst), our_mac, b"to you", false),
        );
        a.poll(Instant::ZERO);
        let mut buf = [0u8; 64];
        let mut n = 0;
        while a.sockets.udp(u).unwrap().recv_from(&mut buf).is_ok() {
            n += 1;
        }
        n
    };
    assert_eq!(deliver(&mut a, second), 1);
    assert_eq!(deliver(&mut a, second), 1);
    assert!(a.iface.remove_address(IfaceId(0), second));
    assert_eq!(deliver(&mut a, second), 0, "delivered to a removed address");
    assert_eq!(deliver(&mut a, A), 1);
}

/// One link (a hub) with host H (192.0.2.10, default route via R1), R1
/// (192.0.2.1, which reaches 203.0.113.0/24 through R2) and R2
/// (192.0.2.2, with 203.0.113.1 on a second link to host F,
/// 203.0.113.10); a spare hub port for a host of the test's own.
struct Redirecting {
    h: Host,
    r1: Host,
    r2: Host,
    f: Host,
    spare: Option<lamina_netdev::Port>,
}

const F: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const R2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn redirecting() -> Redirecting {
    let mut lan = lamina_netdev::hub(4, link()).into_iter();
    let (r2_far, pf) = wire(link());
    let mut h = Host::new(
        1,
        InterfaceConfig::default(),
        vec![(lan.next().unwrap(), "192.0.2.10/24")],
    );
    let mut router = InterfaceConfig::default();
    router.forwarding = true;
    let mut r1 = Host::new(2, router, vec![(lan.next().unwrap(), "192.0.2.1/24")]);
    let r2 = Host::new(
        3,
        router,
        vec![
            (lan.next().unwrap(), "192.0.2.2/24"),
            (r2_far, "203.0.113.1/24"),
        ],
    );
    let mut f = Host::new(4, InterfaceConfig::default(), vec![(pf, "203.0.113.10/24")]);
    h.iface.set_default_gateway(A, IfaceId(0)).unwrap();
    r1.iface
        .routes_mut()
        .replace(
            "203.0.113.0/24".parse().unwrap(),
            Route::via(R2, IfaceId(0)),
        )
        .unwrap();
    f.iface
        .set_default_gateway(Ipv4Addr::new(203, 0, 113, 1), IfaceId(0))
        .unwrap();
    Redirecting {
        h,
        r1,
        r2,
        f,
        spare: lan.next(),
    }
}

impl Redirecting {
    /// H pings F once; whether the reply came.
    fn ping(&mut self, ping: lamina_socket::SocketHandle, seq: u16, now: &mut Instant) -> bool {
        self.h
            .sockets
            .icmp(ping)
            .unwrap()
            .send_echo(F, seq, b"which way?")
            .unwrap();
        let Redirecting { h, r1, r2, f, .. } = self;
        run(&mut [h, r1, r2, f], now, Duration::from_millis(100));
        self.h.sockets.icmp(ping).unwrap().recv_echo().is_ok()
    }
}

/// RFC 1122 §3.2.2.2 and RFC 1812 §5.2.7.2: H's first datagram to F goes
/// to its default router R1, which forwards it back onto the same link
/// to R2 and tells H so with a Redirect; H then sends to F through R2
/// directly, until the learned next hop expires (five minutes) and the
/// first hop is R1 again.
#[test]
fn a_host_follows_a_redirect_from_its_router_until_it_expires() {
    let mut n = redirecting();
    let mut now = Instant::ZERO;
    let ping = n.h.sockets.add(IcmpSocket::default()).unwrap();
    n.h.sockets.bind_icmp(ping, Some(9)).unwrap();
    for seq in 0..5 {
        assert!(n.ping(ping, seq, &mut now), "reply {seq}");
    }
    assert_eq!(
        n.r1.iface.stats().forwarded,
        1,
        "R1 forwarded the first only"
    );
    assert_eq!(n.r1.iface.stats().redirects_sent, 1);
    assert_eq!(n.h.iface.stats().redirects_accepted, 1);
    assert_eq!(n.h.iface.redirected_next_hop(F), Some(R2));
    assert_eq!(n.r2.iface.stats().forwarded, 10, "five each way");
    // Five minutes on, R1 is the first hop again (and redirects again).
    let Redirecting { h, r1, r2, f, .. } = &mut n;
    run(&mut [h, r1, r2, f], &mut now, Duration::from_secs(301));
    assert_eq!(n.h.iface.redirected_next_hop(F), None);
    assert!(n.ping(ping, 5, &mut now));
    assert_eq!(n.r1.iface.stats().forwarded, 2);
    assert_eq!(n.r1.iface.stats().redirects_sent, 2);
    assert_eq!(n.h.iface.redirected_next_hop(F), Some(R2));
}

/// RFC 1122 §3.2.2.2: a Redirect that does not come from the host's
/// current first hop for the destination, or names a gateway off the
/// link, or concerns a datagram the host did not send, is ignored; a
/// host with `accept_redirects` off ignores them all.
#[test]
fn a_host_ignores_redirects_it_should_not_trust() {
    use lamina_icmp::{IcmpRepr, RedirectCode};
    use lamina_ipv4::{IpProtocol, Ipv4Repr};
    use lamina_netbuf::Serializer;
    let mut n = redirecting();
    let mut now = Instant::ZERO;
    // Another host on the link, M, and a raw ICMP socket on it and on R1.
    let m_addr = Ipv4Addr::new(192, 0, 2, 66);
    let mut m = Host::new(
        5,
        InterfaceConfig::default(),
        vec![(n.spare.take().unwrap(), "192.0.2.66/24")],
    );
    let raw = |h: &mut Host| {
        h.sockets
            .add(lamina_socket::RawSocket::new(IpProtocol::ICMP, 8, 65536))
            .unwrap()
    };
    let (raw_m, raw_r1) = (raw(&mut m), raw(&mut n.r1));
    // A redirect (its ICMP message) about a datagram from `src` to F.
    let redirect = |src: Ipv4Addr, gateway: Ipv4Addr| {
        let offending = b"some datagram of H's"
            .wrap_in(&Ipv4Repr::new(src, F, IpProtocol::UDP))
            .serialize_vec(0)
            .unwrap();
        let e = lamina_icmp::ErrorBuilder::new(
            IcmpRepr::Redirect {
                code: RedirectCode::Host,
                gateway,
            },
            offending.as_slice(),
        )
        .unwrap();
        let whole = e
            .wrap_in(&Ipv4Repr::new(m_addr, H, IpProtocol::ICMP))
            .serialize_vec(0)
            .unwrap();
        whole.as_slice()[20..].to_vec()
    };
    const H: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    let send =
        |from_r1: bool, msg: Vec<u8>, n: &mut Redirecting, m: &mut Host, now: &mut Instant| {
            let (host, sock) = if from_r1 {
                (&mut n.r1, raw_r1)
            } else {
                (&mut *m, raw_m)
            };
            host.sockets.raw(sock).unwrap().send_to(&msg, H).unwrap();
            let Redirecting { h, r1, r2, f, .. } = n;
            run(&mut [h, r1, r2, f, m], now, Duration::from_millis(100));
        };
    // From M, which is not H's router for F.
    send(false, redirect(H, m_addr), &mut n, &mut m, &mut now);
    // From R1, but naming a gateway off the link.
    let off_link = Ipv4Addr::new(198, 51, 100, 7);
    send(true, redirect(H, off_link), &mut n, &mut m, &mut now);
    // From R1, about a datagram H did not send.
    send(true, redirect(m_addr, R2), &mut n, &mut m, &mut now);
    assert_eq!(n.h.iface.stats().redirects_ignored, 3);
    assert_eq!(n.h.iface.stats().redirects_accepted, 0);
    assert_eq!(n.h.iface.redirected_next_hop(F), None);

    // A host that does not take redirects.
    let mut n = redirecting();
    let mut config = InterfaceConfig::default();
    config.accept_redirects = false;
    let lan = n.h.devs.remove(0);
    n.h = Host::new(1, config, vec![(lan, "192.0.2.10/24")]);
    n.h.iface.set_default_gateway(A, IfaceId(0)).unwrap();
    let ping = n.h.sockets.add(IcmpSocket::default()).unwrap();
    n.h.sockets.bind_icmp(ping, Some(9)).unwrap();
    let mut now = Instant::ZERO;
    for seq in 0..3 {
        assert!(n.ping(ping, seq, &mut now));
    }
    assert_eq!(n.h.iface.stats().redirects_ignored, 3, "one per datagram");
    assert_eq!(n.r1.iface.stats().forwarded, 3, "all through R1");
}

/// RFC 792 and RFC 1122 §3.2.2.6: every Echo Request to our address is
/// answered with its identifier, sequence number and data, from the
/// address pinged to the request's source, the DSCP kept and the ECN
/// field cleared (RFC 3168: only an ECN-capable transport sets ECT, and
/// ICMP is not one), without fragmentation flags, the checksums
/// verifying (an all-zero reply's ICMP checksum is 0xffff, RFC 1624),
/// short frames padded to the Ethernet minimum; a request with a bad
/// ICMP checksum is dropped.
#[test]
fn echo_requests_are_answered_with_the_dscp_kept_and_ecn_cleared() {
    use lamina_icmp::{IcmpMessage, IcmpPacket, IcmpRepr};
    use lamina_netbuf::Serializer;
    let (mut a, mut peer, peer_ip) = host_and_bare_peer(LinkConfig::new());
    let a_mac = a.iface.hardware_addr(IfaceId(0)).unwrap();
    let peer_mac = MacAddr::new(2, 0, 0, 0, 0, 9);
    // (identifier, sequence number, data, TOS byte, corrupt)
    let cases: [(u16, u16, Vec<u8>, u8, bool); 7] = [
        (0x1234, 1, (0..56u8).collect(), 0xb9, false),
        (0x1234, 2, Vec::new(), 0x03, false),
        (7, 3, vec![0xa5; 17], 0x00, false),
        (
            7,
            4,
            (0..1200u32).map(|i| (i % 251) as u8).collect(),
            0x28,
            false,
        ),
        (0, 0, vec![0; 30], 0x00, false),
        (9, 5, vec![1, 2, 3], 0xfe, false),
        (9, 6, vec![1, 2, 3], 0x00, true),
    ];
    let mut now = Instant::ZERO;
    for (ident, seq_no, data, tos, corrupt) in &cases {
        let mut ip = lamina_ipv4::Ipv4Repr::new(peer_ip, A, lamina_ipv4::IpProtocol::ICMP);
        (ip.dscp, ip.ecn) = (tos >> 2, tos & 3);
        ip.identification = 0x4242;
        let icmp = IcmpRepr::EchoRequest {
            ident: *ident,
            seq_no: *seq_no,
        };
        let mut frame = peer_frame(&ip, a_mac, data.as_slice().wrap_in(&icmp));
        if *corrupt {
            frame[14 + 28] ^= 0x10; // the first byte of data
        }
        send_from_peer(&mut peer, &frame);
        a.poll(now);
        let mut replies = Vec::new();
        while let Some((rx, _)) = peer.receive(now) {
            rx.consume(|f| {
                if EthernetFrame::parse(f).unwrap().ethertype() == EtherType::IPV4 {
                    replies.push(f.to_vec());
                }
            });
        }
        now += Duration::from_secs(1);
        if *corrupt {
            assert!(replies.is_empty(), "a corrupted request is not answered");
            continue;
        }
        assert_eq!(replies.len(), 1, "one reply to seq {seq_no}");
        let f = &replies[0];
        assert_eq!(f.len(), (14 + 28 + data.len()).max(60), "frame length");
        let eth = EthernetFrame::parse(f).unwrap();
        assert_eq!((eth.dst(), eth.src()), (peer_mac, a_mac));
        let ip = lamina_ipv4::Ipv4Packet::parse_verified(eth.payload()).unwrap();
        assert_eq!((ip.src(), ip.dst()), (A, peer_ip));
        assert_eq!(ip.header_len(), 20);
        assert_eq!(usize::from(ip.total_len()), 28 + data.len());
        assert_eq!((ip.dscp(), ip.ecn()), (tos >> 2, 0), "TOS {tos:#x}");
        assert_eq!(ip.ttl(), 64);
        assert!(!ip.dont_fragment() && !ip.is_fragment());
        assert_eq!(ip.protocol(), lamina_ipv4::IpProtocol::ICMP);
        assert!(
            f[14 + usize::from(ip.total_len())..]
                .iter()
                .all(|b| *b == 0),
            "zero padding"
        );
        let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
        assert_eq!(
            icmp.message(),
            IcmpMessage::EchoReply {
                ident: *ident,
                seq_no: *seq_no,
                data: data.as_slice()
            }
        );
        if *ident == 0 {
            assert_eq!(icmp.checksum(), 0xffff, "all-zero reply");
        }
    }
    assert_eq!(a.iface.stats().echo_replies, 6);
}
