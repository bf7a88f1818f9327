//! Interfaces over sets of devices of different types, faulty links, and
//! broadcasts.

mod common;

use core::net::{Ipv4Addr, SocketAddrV4};

use common::{Host, run};
use lamina_ethernet::MacAddr;
use lamina_ipv4::IfaceId;
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::fault::{FaultConfig, FaultInjector};
use lamina_netdev::{LinkConfig, wire};
use lamina_socket::{Error, IcmpSocket, Interface, InterfaceConfig, SocketSet, UdpSocket};

fn link() -> LinkConfig {
    LinkConfig::new().with_latency(Duration::from_millis(1))
}

/// A router whose two devices are of different types (a wire port and a
/// fault injector around one) in a tuple, forwarding a ping both ways.
#[test]
fn router_over_a_tuple_of_different_device_types() {
    let (pa, ra) = wire(link());
    let (pb, rb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.130/25")]);
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    b.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 129), IfaceId(0))
        .unwrap();
    let mut rng = SeededRng::new(3);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Interface::new(config, &mut rng);
    let mut r_devs = (
        ra,
        FaultInjector::new(rb, 7).with_rx(FaultConfig::new().with_duplicate(1.0)),
    );
    let r0 = r
        .add_device(&r_devs.0, MacAddr::new(2, 0, 0, 0, 3, 0))
        .unwrap();
    let r1 = r
        .add_device(&r_devs.1, MacAddr::new(2, 0, 0, 0, 3, 1))
        .unwrap();
    r.add_address(r0, "192.0.2.1/25".parse().unwrap(), Instant::ZERO)
        .unwrap();
    r.add_address(r1, "192.0.2.129/25".parse().unwrap(), Instant::ZERO)
        .unwrap();
    let mut r_sockets = SocketSet::new(4, &mut rng);

    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, None).unwrap();
    let b_ip = Ipv4Addr::new(192, 0, 2, 130);
    a.sockets
        .icmp(ping)
        .unwrap()
        .send_echo(b_ip, 1, b"across")
        .unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..200 {
        a.poll(now);
        b.poll(now);
        r.poll(now, (&mut r_devs.0, &mut r_devs.1), &mut r_sockets);
        now += Duration::from_micros(250);
    }
    let reply = a.sockets.icmp(ping).unwrap().recv_echo().unwrap();
    assert_eq!((reply.src, &reply.data[..]), (b_ip, &b"across"[..]));
    assert_eq!(
        r.device_capabilities((&mut r_devs.0, &mut r_devs.1)).len(),
        2
    );
    // Frames from B arrive twice at the router: both copies are forwarded
    // (IP does not deduplicate), and A's socket sees the duplicate reply.
    assert!(r.stats().forwarded >= 3);
}

/// RFC 1122 §3.2.1.2 and §4.1.3.4: a corrupted frame fails its IPv4 or
/// UDP checksum and is dropped; what reaches the socket is byte-exact.
#[test]
fn corrupted_frames_are_dropped_never_delivered_altered() {
    let (pa, pb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
    let mut rng = SeededRng::new(4);
    let mut b = Interface::new(InterfaceConfig::default(), &mut rng);
    let mut dev_b = FaultInjector::new(pb, 11).with_rx(FaultConfig::new().with_corrupt(0.3));
    let ib = b
        .add_device(&dev_b, MacAddr::new(2, 0, 0, 0, 2, 0))
        .unwrap();
    b.add_address(ib, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    // Static neighbours: ARP over the corrupting link is not the point.
    b.neighbors_mut(ib)
        .unwrap()
        .insert_static(
            Ipv4Addr::new(192, 0, 2, 1),
            MacAddr::new(2, 0, 0, 0, 1, 0),
            Instant::ZERO,
        )
        .unwrap();
    a.iface
        .neighbors_mut(IfaceId(0))
        .unwrap()
        .insert_static(
            Ipv4Addr::new(192, 0, 2, 2),
            MacAddr::new(2, 0, 0, 0, 2, 0),
            Instant::ZERO,
        )
        .unwrap();
    let mut sb = SocketSet::new(4, &mut rng);
    let server = sb.add(UdpSocket::default()).unwrap();
    sb.bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let client = a.sockets.add(UdpSocket::default()).unwrap();
    let payload: Vec<u8> = (0..200u32).map(|i| (i * 13) as u8).collect();
    let mut now = Instant::ZERO;
    let mut got = 0;
    for _ in 0..200 {
        a.sockets
            .udp(client)
            .unwrap()
            .send_to(&payload, SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 9))
            .unwrap();
        for _ in 0..3 {
            a.poll(now);
            b.poll(now, &mut dev_b, &mut sb);
            now += Duration::from_millis(1);
        }
        let mut buf = [0u8; 512];
        while let Ok((n, _)) = sb.udp(server).unwrap().recv_from(&mut buf) {
            assert_eq!(&buf[..n], &payload[..], "an altered datagram was delivered");
            got += 1;
        }
    }
    assert!(got > 50 && got < 200, "{got} of 200 delivered");
    let dropped = b.stats().rx_malformed + b.udp_stats().in_csum_errors + b.udp_stats().in_errors;
    assert!(dropped > 0);
}

/// RFC 919 / RFC 1122 §3.3.6: a datagram to the limited broadcast reaches
/// every host on the link, and every socket bound to the port there; it
/// is sent only with the broadcast flag.
#[test]
fn udp_broadcast_reaches_every_host_and_socket() {
    let mut ports = lamina_netdev::hub(3, link()).into_iter();
    let (p0, p1, p2) = (
        ports.next().unwrap(),
        ports.next().unwrap(),
        ports.next().unwrap(),
    );
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(p0, "192.0.2.1/24")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(p1, "192.0.2.2/24")]);
    let mut c = Host::new(3, InterfaceConfig::default(), vec![(p2, "192.0.2.3/24")]);
    let mut listeners = Vec::new();
    for h in [&mut b, &mut c] {
        let s = h.sockets.add(UdpSocket::default()).unwrap();
        h.sockets
            .bind_udp(s, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67))
            .unwrap();
        listeners.push(s);
    }
    let sender = a.sockets.add(UdpSocket::default()).unwrap();
    let all = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);
    assert_eq!(
        a.sockets.udp(sender).unwrap().send_to(b"anyone", all),
        Err(Error::Unaddressable)
    );
    a.sockets.udp(sender).unwrap().set_broadcast(true);
    a.sockets
        .udp(sender)
        .unwrap()
        .send_to(b"anyone", all)
        .unwrap();
    // And a directed broadcast of the subnet.
    let directed = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 255), 67);
    a.sockets
        .udp(sender)
        .unwrap()
        .send_to(b"subnet", directed)
        .unwrap();
    let mut now = Instant::ZERO;
    run(
        &mut [&mut a, &mut b, &mut c],
        &mut now,
        Duration::from_secs(1),
    );
    for (h, s) in [(&mut b, listeners[0]), (&mut c, listeners[1])] {
        let mut buf = [0u8; 16];
        let (n, from) = h.sockets.udp(s).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], *from.ip()),
            (&b"anyone"[..], Ipv4Addr::new(192, 0, 2, 1))
        );
        let (n, _) = h.sockets.udp(s).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"subnet");
    }
    // No ICMP error about a broadcast (RFC 1122 §3.2.2).
    assert_eq!(b.iface.icmp_stats().errors_sent, 0);
}
