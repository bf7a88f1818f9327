//! `lamina-filter` in a network: hosts on in-memory wires with a fake
//! clock, with a Lamina router running the filter between them (here
//! rather than in `lamina-filter`, which must not depend on this crate,
//! even for tests): NAT (masquerade) for a LAN host,
//! port forwarding of a LAN service, and a firewall rule set.

use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_filter::{Filter, FilterConfig, Ruleset};
use lamina_ipv4::IfaceId;
use lamina_ipv4::hook::NoHooks;
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::{LinkConfig, wire};
use lamina_socket::{Error, IcmpSocket, InterfaceConfig, SocketHandle, TcpSocket, UdpSocket};

mod common;
use common::{Host, run};

/// Hosts A (192.0.2.10/25) and B (192.0.2.130/25) on two subnets joined
/// by a router (192.0.2.1, 192.0.2.129) that runs `rules`.
fn routed_subnets(rules: Ruleset, seed: u64) -> (Host, Host, Host<Filter>) {
    let filter = Filter::new(rules, FilterConfig::default(), &mut SeededRng::new(seed)).unwrap();
    let (pa, ra) = wire(link());
    let (pb, rb) = wire(link());
    let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.10/25")]);
    let mut b = Host::new(2, InterfaceConfig::default(), vec![(pb, "192.0.2.130/25")]);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let r = Host::with_hooks(
        3,
        config,
        filter,
        vec![(ra, "192.0.2.1/25"), (rb, "192.0.2.129/25")],
    );
    a.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
        .unwrap();
    b.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 129), IfaceId(0))
        .unwrap();
    (a, b, r)
}

fn link() -> LinkConfig {
    LinkConfig::new().with_latency(Duration::from_millis(1))
}

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const WAN_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

const NAT_RULES: &str = "
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iif 1 udp dport 5353 dnat to 192.168.1.10:53
        iif 1 tcp dport 8080 dnat to 192.168.1.10:80
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iif 0 oif 1 accept
        iif 1 ip daddr 192.168.1.10 udp dport 53 ct state new accept
        iif 1 ip daddr 192.168.1.10 tcp dport 80 ct state new accept
    }
}";

/// A LAN host, a NAT router and a WAN host that has no route back to the
/// LAN: only translated traffic can come back.
fn nat_network() -> (Host<NoHooks>, Host<Filter>, Host<NoHooks>) {
    let (lan_a, lan_r) = wire(link());
    let (wan_r, wan_s) = wire(link());
    let mut lan = Host::with_hooks(
        1,
        InterfaceConfig::default(),
        NoHooks,
        vec![(lan_a, "192.168.1.10/24")],
    );
    lan.iface
        .set_default_gateway(ROUTER_LAN, IfaceId(0))
        .unwrap();
    let wan = Host::with_hooks(
        2,
        InterfaceConfig::default(),
        NoHooks,
        vec![(wan_s, "198.51.100.1/24")],
    );
    let rules: Ruleset = NAT_RULES.parse().unwrap();
    let mut filter = Filter::new(rules, FilterConfig::default(), &mut SeededRng::new(9)).unwrap();
    filter.set_interface_address(IfaceId(0), ROUTER_LAN);
    filter.set_interface_address(IfaceId(1), ROUTER_WAN);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let router = Host::with_hooks(
        3,
        config,
        filter,
        vec![(lan_r, "192.168.1.1/24"), (wan_r, "198.51.100.2/24")],
    );
    (lan, router, wan)
}

/// RFC 3022 §2.2 (NAPT): a LAN host behind the router pings a WAN host
/// and exchanges UDP with it; the WAN host sees the router's address.
#[test]
fn lan_host_reaches_wan_host_through_masquerade_with_udp_and_ping() {
    let (mut lan, mut router, mut wan) = nat_network();
    let mut now = Instant::ZERO;

    let ping = lan.sockets.add(IcmpSocket::default()).unwrap();
    lan.sockets.bind_icmp(ping, Some(4242)).unwrap();
    let raw = wan
        .sockets
        .add(lamina_socket::RawSocket::new(
            lamina_ipv4::IpProtocol::ICMP,
            8,
            65536,
        ))
        .unwrap();
    for seq in 0..3u16 {
        lan.sockets
            .icmp(ping)
            .unwrap()
            .send_echo(WAN_HOST, seq, b"through the NAT")
            .unwrap();
        run(
            &mut [&mut lan, &mut router, &mut wan],
            &mut now,
            Duration::from_millis(200),
        );
        let r = lan.sockets.icmp(ping).unwrap().recv_echo().unwrap();
        assert_eq!(
            (r.src, r.seq_no, &r.data[..]),
            (WAN_HOST, seq, &b"through the NAT"[..])
        );
    }
    let mut buf = [0u8; 2048];
    let (n, _) = wan.sockets.raw(raw).unwrap().recv_from(&mut buf).unwrap();
    let ip = lamina_ipv4::Ipv4Packet::parse_verified(&buf[..n]).unwrap();
    assert_eq!(
        ip.src(),
        ROUTER_WAN,
        "the WAN host sees the router's address"
    );

    let server = wan.sockets.add(UdpSocket::default()).unwrap();
    wan.sockets
        .bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let client = lan.sockets.add(UdpSocket::default()).unwrap();
    lan.sockets
        .bind_udp(client, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 40000))
        .unwrap();
    let payloads: Vec<Vec<u8>> = vec![b"x".to_vec(), (0..=255u8).collect(), vec![0x5a; 1400]];
    for p in &payloads {
        lan.sockets
            .udp(client)
            .unwrap()
            .send_to(p, SocketAddrV4::new(WAN_HOST, 7))
            .unwrap();
    }
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    for p in &payloads {
        let (n, from) = wan
            .sockets
            .udp(server)
            .unwrap()
            .recv_from(&mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &p[..]);
        assert_eq!(
            from,
            SocketAddrV4::new(ROUTER_WAN, 40000),
            "masqueraded, port kept"
        );
        wan.sockets
            .udp(server)
            .unwrap()
            .send_to(&buf[..n], from)
            .unwrap();
    }
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    for p in &payloads {
        let (n, from) = lan
            .sockets
            .udp(client)
            .unwrap()
            .recv_from(&mut buf)
            .unwrap();
        assert_eq!((&buf[..n], from), (&p[..], SocketAddrV4::new(WAN_HOST, 7)));
    }
    let ct = router.iface.hooks().conntrack();
    assert_eq!(ct.len(), 2, "the ping and the UDP flow");
    assert!(ct.iter().all(|c| c.seen_reply));
}

/// Port forwarding: the WAN host reaches a LAN UDP service at the
/// router's address; the answer comes back from that address.
#[test]
fn port_forward_exposes_a_lan_udp_service() {
    let (mut lan, mut router, mut wan) = nat_network();
    let mut now = Instant::ZERO;
    let service = lan.sockets.add(UdpSocket::default()).unwrap();
    lan.sockets
        .bind_udp(service, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53))
        .unwrap();
    let client = wan.sockets.add(UdpSocket::default()).unwrap();
    wan.sockets
        .bind_udp(client, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 33333))
        .unwrap();
    wan.sockets
        .udp(client)
        .unwrap()
        .send_to(b"who is there?", SocketAddrV4::new(ROUTER_WAN, 5353))
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    let mut buf = [0u8; 256];
    let (n, from) = lan
        .sockets
        .udp(service)
        .unwrap()
        .recv_from(&mut buf)
        .unwrap();
    assert_eq!(&buf[..n], b"who is there?");
    assert_eq!(from, SocketAddrV4::new(WAN_HOST, 33333));
    lan.sockets
        .udp(service)
        .unwrap()
        .send_to(b"the LAN service", from)
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    let (n, from) = wan
        .sockets
        .udp(client)
        .unwrap()
        .recv_from(&mut buf)
        .unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"the LAN service"[..], SocketAddrV4::new(ROUTER_WAN, 5353))
    );

    // Another port of the router is not forwarded, and the forward chain
    // drops what is not translated to the service.
    wan.sockets
        .udp(client)
        .unwrap()
        .send_to(b"nope", SocketAddrV4::new(ROUTER_WAN, 5354))
        .unwrap();
    wan.sockets
        .udp(client)
        .unwrap()
        .send_to(b"nope", SocketAddrV4::new(LAN_HOST, 53))
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    assert!(
        lan.sockets
            .udp(service)
            .unwrap()
            .recv_from(&mut buf)
            .is_err()
    );
}

/// A firewall between two routed subnets, exactly as written: default
/// drop, established allowed, UDP port 7 allowed from 192.0.2.0/25 only.
#[test]
fn firewall_rule_set_behaves_exactly_as_written() {
    let rules: Ruleset = "
        table ip filter {
            chain forward {
                type filter hook forward priority 0; policy drop;
                ct state established,related accept
                ip saddr 192.0.2.0/25 udp dport 7 ct state new accept
            }
        }"
    .parse()
    .unwrap();
    let (mut a, mut b, mut r) = routed_subnets(rules, 5);
    let (a_ip, b_ip) = (Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 130));
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 256];

    let udp = |h: &mut Host<NoHooks>, port: u16| {
        let s = h.sockets.add(UdpSocket::default()).unwrap();
        h.sockets
            .bind_udp(s, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
            .unwrap();
        s
    };
    let b7 = udp(&mut b, 7);
    let b8 = udp(&mut b, 8);
    let a7 = udp(&mut a, 7);
    let a_client = udp(&mut a, 40000);
    let b_client = udp(&mut b, 40001);

    // Allowed: A → B:7, and B's answer (established).
    a.sockets
        .udp(a_client)
        .unwrap()
        .send_to(b"ping", SocketAddrV4::new(b_ip, 7))
        .unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    let (n, from) = b.sockets.udp(b7).unwrap().recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"ping"[..], SocketAddrV4::new(a_ip, 40000))
    );
    b.sockets.udp(b7).unwrap().send_to(b"pong", from).unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    let (n, _) = a
        .sockets
        .udp(a_client)
        .unwrap()
        .recv_from(&mut buf)
        .unwrap();
    assert_eq!(&buf[..n], b"pong");
    let dropped_before = r.iface.stats().hook_dropped;

    // Not allowed: another port; port 7 from the other subnet; ping.
    a.sockets
        .udp(a_client)
        .unwrap()
        .send_to(b"x", SocketAddrV4::new(b_ip, 8))
        .unwrap();
    b.sockets
        .udp(b_client)
        .unwrap()
        .send_to(b"x", SocketAddrV4::new(a_ip, 7))
        .unwrap();
    let ping = a.sockets.add(IcmpSocket::default()).unwrap();
    a.sockets.bind_icmp(ping, None).unwrap();
    a.sockets
        .icmp(ping)
        .unwrap()
        .send_echo(b_ip, 1, b"x")
        .unwrap();
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    assert!(b.sockets.udp(b8).unwrap().recv_from(&mut buf).is_err());
    assert!(a.sockets.udp(a7).unwrap().recv_from(&mut buf).is_err());
    assert!(a.sockets.icmp(ping).unwrap().recv_echo().is_err());
    assert_eq!(r.iface.stats().hook_dropped - dropped_before, 3);
    let f = r.iface.hooks();
    assert_eq!(
        f.counters("filter", "forward", 0).unwrap().packets,
        1,
        "the pong"
    );
    assert_eq!(
        f.counters("filter", "forward", 1).unwrap().packets,
        1,
        "the ping to port 7"
    );
}

/// Moves `data` over a TCP connection between the LAN and WAN hosts
/// (from the WAN side's socket `w` to the LAN side's `l` when `down`,
/// else the other way) while all three run; returns what arrived.
#[allow(clippy::too_many_arguments)]
fn tcp_pump(
    lan: &mut Host<NoHooks>,
    router: &mut Host<Filter>,
    wan: &mut Host<NoHooks>,
    now: &mut Instant,
    down: bool,
    l: SocketHandle,
    w: SocketHandle,
    data: &[u8],
) -> Vec<u8> {
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65536];
    for _ in 0..10_000 {
        if sent < data.len() {
            let tx = if down {
                wan.sockets.tcp(w).unwrap()
            } else {
                lan.sockets.tcp(l).unwrap()
            };
            if let Ok(n) = tx.send(&data[sent..]) {
                sent += n;
            }
        }
        run(&mut [lan, router, wan], now, Duration::from_millis(5));
        let rx = if down {
            lan.sockets.tcp(l).unwrap()
        } else {
            wan.sockets.tcp(w).unwrap()
        };
        while let Ok(n) = rx.recv(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() >= data.len() {
            break;
        }
    }
    got
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// RFC 3022 (NAPT) with TCP: a LAN host downloads 1 MiB from a WAN
/// server through the masquerading router and uploads 256 KiB, byte for
/// byte; the server sees the router's address.
#[test]
fn lan_host_exchanges_tcp_with_a_wan_server_through_masquerade() {
    let (mut lan, mut router, mut wan) = nat_network();
    let mut now = Instant::ZERO;
    let listener = wan.sockets.add(TcpSocket::default()).unwrap();
    wan.sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let c = lan.sockets.add(TcpSocket::default()).unwrap();
    lan.sockets
        .connect_tcp(c, SocketAddrV4::new(WAN_HOST, 80), None)
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    let s = wan
        .sockets
        .accept_tcp(listener)
        .expect("connected through the NAT");
    let peer = wan.sockets.tcp(s).unwrap().peer_addr().unwrap();
    assert_eq!(*peer.ip(), ROUTER_WAN, "the server sees the router");
    let down = pattern(1 << 20);
    let got = tcp_pump(&mut lan, &mut router, &mut wan, &mut now, true, c, s, &down);
    assert!(
        got == down,
        "received {} of {} bytes",
        got.len(),
        down.len()
    );
    let up = pattern(256 << 10);
    let got = tcp_pump(&mut lan, &mut router, &mut wan, &mut now, false, c, s, &up);
    assert!(got == up, "sent {} of {} bytes", got.len(), up.len());
}

/// DNAT port forwarding (RFC 4787 §8 "hairpinning" aside): the WAN host
/// reaches a LAN TCP service at the router's port 8080, and the service
/// sees the WAN host's real address.
#[test]
fn port_forward_exposes_a_lan_tcp_service() {
    let (mut lan, mut router, mut wan) = nat_network();
    let mut now = Instant::ZERO;
    let listener = lan.sockets.add(TcpSocket::default()).unwrap();
    lan.sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let c = wan.sockets.add(TcpSocket::default()).unwrap();
    wan.sockets
        .connect_tcp(c, SocketAddrV4::new(ROUTER_WAN, 8080), None)
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    let s = lan.sockets.accept_tcp(listener).expect("forwarded");
    assert_eq!(
        *lan.sockets.tcp(s).unwrap().peer_addr().unwrap().ip(),
        WAN_HOST
    );
    let data = pattern(300_000);
    let got = tcp_pump(&mut lan, &mut router, &mut wan, &mut now, true, s, c, &data);
    assert!(got == data);
    // Without the forward, the LAN service is out of reach.
    let c2 = wan.sockets.add(TcpSocket::default()).unwrap();
    wan.sockets
        .connect_tcp(c2, SocketAddrV4::new(LAN_HOST, 80), None)
        .unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(5),
    );
    assert!(!wan.sockets.tcp(c2).unwrap().is_established());
    assert!(lan.sockets.accept_tcp(listener).is_err());
}

/// The firewall, exactly as written, with TCP: default drop,
/// established allowed, ssh (TCP 22) allowed from one subnet only. A host
/// of 192.0.2.0/26 connects to B's ssh port; a host of the same link
/// outside that subnet cannot (its SYNs are dropped, it times out); B may
/// not open connections towards either.
#[test]
fn firewall_allows_ssh_from_one_subnet_only() {
    use lamina_netdev::hub;
    let rules: Ruleset = "
        table ip filter {
            chain forward {
                type filter hook forward priority 0; policy drop;
                ct state established,related accept
                ip saddr 192.0.2.0/26 tcp dport 22 ct state new accept
            }
        }"
    .parse()
    .unwrap();
    let filter = Filter::new(rules, FilterConfig::default(), &mut SeededRng::new(5)).unwrap();
    let mut side = hub(3, link()).into_iter();
    let (pa, pc, ra) = (
        side.next().unwrap(),
        side.next().unwrap(),
        side.next().unwrap(),
    );
    let (pb, rb) = wire(link());
    let mut a = Host::with_hooks(
        1,
        InterfaceConfig::default(),
        NoHooks,
        vec![(pa, "192.0.2.10/25")],
    );
    let mut c = Host::with_hooks(
        4,
        InterfaceConfig::default(),
        NoHooks,
        vec![(pc, "192.0.2.100/25")],
    );
    let mut b = Host::with_hooks(
        2,
        InterfaceConfig::default(),
        NoHooks,
        vec![(pb, "192.0.2.130/25")],
    );
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut r = Host::with_hooks(
        3,
        config,
        filter,
        vec![(ra, "192.0.2.1/25"), (rb, "192.0.2.129/25")],
    );
    for h in [&mut a, &mut c] {
        h.iface
            .set_default_gateway(Ipv4Addr::new(192, 0, 2, 1), IfaceId(0))
            .unwrap();
    }
    b.iface
        .set_default_gateway(Ipv4Addr::new(192, 0, 2, 129), IfaceId(0))
        .unwrap();
    let b_ip = Ipv4Addr::new(192, 0, 2, 130);
    let ssh = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(ssh, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 22), 4)
        .unwrap();
    let mut now = Instant::ZERO;
    let ca = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(ca, SocketAddrV4::new(b_ip, 22), None)
        .unwrap();
    let cc = c.sockets.add(TcpSocket::default()).unwrap();
    c.sockets
        .connect_tcp(cc, SocketAddrV4::new(b_ip, 22), None)
        .unwrap();
    run(
        &mut [&mut a, &mut b, &mut c, &mut r],
        &mut now,
        Duration::from_secs(2),
    );
    let s = b.sockets.accept_tcp(ssh).expect("A may connect");
    assert_eq!(
        *b.sockets.tcp(s).unwrap().peer_addr().unwrap().ip(),
        Ipv4Addr::new(192, 0, 2, 10)
    );
    assert!(a.sockets.tcp(ca).unwrap().is_established());
    // Established traffic flows both ways.
    a.sockets.tcp(ca).unwrap().send(b"ls").unwrap();
    run(
        &mut [&mut a, &mut b, &mut c, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    let mut buf = [0u8; 8];
    assert_eq!(b.sockets.tcp(s).unwrap().recv(&mut buf), Ok(2));
    b.sockets.tcp(s).unwrap().send(b"ok").unwrap();
    run(
        &mut [&mut a, &mut b, &mut c, &mut r],
        &mut now,
        Duration::from_secs(1),
    );
    assert_eq!(a.sockets.tcp(ca).unwrap().recv(&mut buf), Ok(2));
    // C never gets in: its SYNs are dropped until it gives up.
    assert!(!c.sockets.tcp(cc).unwrap().is_established());
    assert!(b.sockets.accept_tcp(ssh).is_err());
    run(
        &mut [&mut a, &mut b, &mut c, &mut r],
        &mut now,
        Duration::from_secs(200),
    );
    assert!(matches!(
        c.sockets.tcp(cc).unwrap().send(b"x"),
        Err(Error::Tcp(_))
    ));
    // B may not open a connection towards A (new, not from the subnet).
    let back = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .listen_tcp(back, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 2222), 4)
        .unwrap();
    let cb = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .connect_tcp(
            cb,
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), 2222),
            None,
        )
        .unwrap();
    run(
        &mut [&mut a, &mut b, &mut c, &mut r],
        &mut now,
        Duration::from_secs(5),
    );
    assert!(a.sockets.accept_tcp(back).is_err());
}

/// `reject` through a real router: the filter answers a forwarded TCP SYN
/// with a RST and a UDP datagram with ICMP port unreachable, sent by the
/// Interface from what the filter injects; the clients see "connection
/// refused" at once rather than a timeout.
#[test]
fn reject_rules_answer_through_the_router() {
    let rules: Ruleset = "
        table ip filter {
            chain forward {
                type filter hook forward priority 0; policy accept;
                tcp dport 23 reject with tcp reset
                udp dport 69 reject with icmp type port-unreachable
            }
        }"
    .parse()
    .unwrap();
    let (mut a, mut b, mut r) = routed_subnets(rules, 6);
    let b_ip = Ipv4Addr::new(192, 0, 2, 130);
    // Something listens on B's telnet port: only the filter stops it.
    let telnet = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(telnet, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 23), 4)
        .unwrap();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(b_ip, 23), None)
        .unwrap();
    let u = a.sockets.add(UdpSocket::default()).unwrap();
    a.sockets
        .connect_udp(u, SocketAddrV4::new(b_ip, 69))
        .unwrap();
    a.sockets.udp(u).unwrap().send(b"tftp?").unwrap();
    let mut now = Instant::ZERO;
    run(
        &mut [&mut a, &mut b, &mut r],
        &mut now,
        Duration::from_millis(100),
    );
    assert_eq!(
        a.sockets.tcp(c).unwrap().send(b"x"),
        Err(Error::Tcp(lamina_socket::tcp_proto::ConnError::Refused))
    );
    assert_eq!(
        a.sockets.udp(u).unwrap().take_error(),
        Some(Error::Icmp(lamina_icmp::IcmpErrorKind::ConnectionRefused))
    );
    assert!(b.sockets.accept_tcp(telnet).is_err());
}

/// Records what `hook_received` is told of each received datagram.
#[derive(Default)]
struct Told(Vec<(u8, bool)>);

impl lamina_ipv4::hook::PacketHook for Told {
    fn hook(
        &mut self,
        _: lamina_ipv4::hook::HookPoint,
        _: &mut [u8],
        _: Option<IfaceId>,
        _: Option<IfaceId>,
        _: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        lamina_ipv4::hook::Verdict::Accept
    }

    fn hook_received(
        &mut self,
        packet: &mut [u8],
        _: IfaceId,
        l4_verified: bool,
        _: Instant,
    ) -> lamina_ipv4::hook::Verdict {
        self.0.push((packet[9], l4_verified));
        lamina_ipv4::hook::Verdict::Accept
    }
}

/// The `Interface` tells a hook at PreRouting whether the device verified
/// a datagram's transport checksum, so that connection tracking need not
/// do it again (and does not misjudge a partial checksum that an
/// offloading device left): yes where the link verifies TCP and UDP, no
/// on a plain link, and no for ICMP, which that link does not verify.
#[test]
fn hooks_learn_whether_the_device_verified_the_transport_checksum() {
    use lamina_netdev::{ChecksumCapabilities, ChecksumProto, ChecksumSet};
    for verifying in [false, true] {
        let mut config = link();
        if verifying {
            let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
            config = config.with_checksum(ChecksumCapabilities { tx: l4, rx: l4 });
        }
        let (pa, pb) = wire(config);
        let mut a = Host::new(1, InterfaceConfig::default(), vec![(pa, "192.0.2.1/24")]);
        let mut b = Host::with_hooks(
            2,
            InterfaceConfig::default(),
            Told::default(),
            vec![(pb, "192.0.2.2/24")],
        );
        let mut now = Instant::ZERO;
        // A ping first: it resolves the neighbour (a datagram that waits
        // for ARP gets its checksums in software, not from the device).
        let p = a.sockets.add(IcmpSocket::default()).unwrap();
        a.sockets.bind_icmp(p, None).unwrap();
        a.sockets
            .icmp(p)
            .unwrap()
            .send_echo(Ipv4Addr::new(192, 0, 2, 2), 1, b"ping")
            .unwrap();
        run(&mut [&mut a, &mut b], &mut now, Duration::from_secs(1));
        let u = a.sockets.add(UdpSocket::default()).unwrap();
        a.sockets
            .udp(u)
            .unwrap()
            .send_to(b"hello", SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 9))
            .unwrap();
        run(&mut [&mut a, &mut b], &mut now, Duration::from_secs(1));
        let told = &b.iface.hooks().0;
        assert!(told.contains(&(17, verifying)), "{verifying}: {told:?}");
        assert!(told.contains(&(1, false)), "{verifying}: {told:?}");
    }
}

/// Moves 256 KiB over a TCP connection through the NAT router whose
/// route to `narrow` (on its device `iface`) carries 1000 bytes: between
/// the LAN host and the WAN host's port 80 (masquerade), or, when
/// `forwarded`, between the WAN host and the LAN host's port 80 by the
/// router's port 8080; from the LAN side when `up`. Checks that it all
/// arrives and that the router said "fragmentation needed"; returns the
/// sending connection's MSS.
fn transfer_over_a_narrow_route(narrow: &str, iface: u16, forwarded: bool, up: bool) -> u16 {
    use lamina_ipv4::Route;
    let (mut lan, mut router, mut wan) = nat_network();
    router
        .iface
        .routes_mut()
        .replace(
            narrow.parse().unwrap(),
            Route::on_link(IfaceId(iface)).with_mtu(1000),
        )
        .unwrap();
    let mut now = Instant::ZERO;
    let (server, client) = if forwarded {
        (&mut lan, &mut wan)
    } else {
        (&mut wan, &mut lan)
    };
    let listener = server.sockets.add(TcpSocket::default()).unwrap();
    server
        .sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let to = if forwarded {
        SocketAddrV4::new(ROUTER_WAN, 8080)
    } else {
        SocketAddrV4::new(WAN_HOST, 80)
    };
    let c = client.sockets.add(TcpSocket::default()).unwrap();
    client.sockets.connect_tcp(c, to, None).unwrap();
    run(
        &mut [&mut lan, &mut router, &mut wan],
        &mut now,
        Duration::from_secs(1),
    );
    let server = if forwarded { &mut lan } else { &mut wan };
    let s = server.sockets.accept_tcp(listener).expect("connected");
    let (l, w) = if forwarded { (s, c) } else { (c, s) };
    let data = pattern(256 << 10);
    let got = tcp_pump(&mut lan, &mut router, &mut wan, &mut now, !up, l, w, &data);
    assert!(got == data, "moved {} of {} bytes", got.len(), data.len());
    assert!(router.iface.stats().tx_too_big > 0);
    let sender = if up {
        lan.sockets.tcp(l)
    } else {
        wan.sockets.tcp(w)
    };
    sender.unwrap().connection().unwrap().mss()
}

/// Path MTU discovery through the masquerade (RFC 1191, RFC 5508 §7):
/// the router's route to the WAN carries 1000 bytes, the LAN host's
/// full-sized segments (DF set) draw "fragmentation needed", which must
/// reach the LAN host (not the router's own WAN address, the segment's
/// source once translated); the upload then completes.
#[test]
fn path_mtu_discovery_works_through_masquerade() {
    assert_eq!(
        transfer_over_a_narrow_route("198.51.100.0/24", 1, false, true),
        960
    );
}

/// The same through port forwarding: the router's route back to the WAN
/// carries 1000 bytes, so the LAN server's full-sized replies draw
/// "fragmentation needed", which must reach the server (not the router's
/// WAN address, the replies' source once translated back); the download
/// from the forwarded service then completes.
#[test]
fn path_mtu_discovery_works_through_port_forwarding() {
    assert_eq!(
        transfer_over_a_narrow_route("198.51.100.0/24", 1, true, true),
        960
    );
}

/// And the other way through the masquerade: the router's route to the
/// LAN carries 1000 bytes, so the WAN server's full-sized segments draw
/// "fragmentation needed" after the router translated them back to the
/// LAN host; the error's quote must show them as the server sent them
/// (to the router's address) for the server to find its connection. It
/// used to keep the LAN host's address, and the download stalled until
/// the server gave up.
#[test]
fn path_mtu_discovery_works_for_downloads_through_masquerade() {
    assert_eq!(
        transfer_over_a_narrow_route("192.168.1.0/24", 0, false, false),
        960
    );
}

/// Hairpin NAT (RFC 4787 REQ-9, RFC 5382 REQ-8): a LAN host reaches a
/// LAN service through the router's public address and port; the router
/// translates both ways on its LAN interface, and the exchange works. It
/// sends the client no ICMP Redirect (RFC 1812 §5.2.7.2) though the
/// datagram leaves by the interface it came in on: the client addressed
/// the router's public address, and a redirect naming the server as the
/// next hop for it would send the client's later datagrams to a host
/// that does not own that address (a host that honours redirects, as
/// Linux does by default, would lose the service).
#[test]
fn hairpin_nat_reaches_a_lan_service_without_a_redirect() {
    const RULES: &str = "
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 198.51.100.2 udp dport 5353 dnat to 192.168.1.10:53
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
        oif 0 ip saddr 192.168.1.0/24 ip daddr 192.168.1.10 masquerade
    }
}";
    let ports = lamina_netdev::hub(3, link());
    let mut ports = ports.into_iter();
    let (p_server, p_client, p_router) = (
        ports.next().unwrap(),
        ports.next().unwrap(),
        ports.next().unwrap(),
    );
    let (wan_r, _wan_far) = wire(link());
    let mut server = Host::new(
        1,
        InterfaceConfig::default(),
        vec![(p_server, "192.168.1.10/24")],
    );
    let mut client = Host::new(
        2,
        InterfaceConfig::default(),
        vec![(p_client, "192.168.1.20/24")],
    );
    for h in [&mut server, &mut client] {
        h.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
    }
    let rules: Ruleset = RULES.parse().unwrap();
    let mut filter = Filter::new(rules, FilterConfig::default(), &mut SeededRng::new(3)).unwrap();
    filter.set_interface_address(IfaceId(0), ROUTER_LAN);
    filter.set_interface_address(IfaceId(1), ROUTER_WAN);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    let mut router = Host::with_hooks(
        3,
        config,
        filter,
        vec![(p_router, "192.168.1.1/24"), (wan_r, "198.51.100.2/24")],
    );
    let service = server.sockets.add(UdpSocket::default()).unwrap();
    server
        .sockets
        .bind_udp(service, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53))
        .unwrap();
    let u = client.sockets.add(UdpSocket::default()).unwrap();
    client
        .sockets
        .bind_udp(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 41000))
        .unwrap();
    let raw = client
        .sockets
        .add(lamina_socket::RawSocket::new(
            lamina_ipv4::IpProtocol::ICMP,
            8,
            65536,
        ))
        .unwrap();
    let mut now = Instant::ZERO;
    let public = SocketAddrV4::new(ROUTER_WAN, 5353);
    let mut buf = [0u8; 2048];
    for i in 0..3u8 {
        client
            .sockets
            .udp(u)
            .unwrap()
            .send_to(&[i; 32], public)
            .unwrap();
        run(
            &mut [&mut client, &mut router, &mut server],
            &mut now,
            Duration::from_millis(100),
        );
        let (n, from) = server
            .sockets
            .udp(service)
            .unwrap()
            .recv_from(&mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &[i; 32]);
        assert_eq!(*from.ip(), ROUTER_LAN, "the server sees the router");
        server
            .sockets
            .udp(service)
            .unwrap()
            .send_to(b"answer", from)
            .unwrap();
        run(
            &mut [&mut client, &mut router, &mut server],
            &mut now,
            Duration::from_millis(100),
        );
        let (n, from) = client.sockets.udp(u).unwrap().recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"answer"[..], public));
    }
    while let Ok((n, _)) = client.sockets.raw(raw).unwrap().recv_from(&mut buf) {
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        assert!(
            n > ihl && buf[ihl] != 5,
            "an ICMP Redirect reached the client"
        );
    }
}
