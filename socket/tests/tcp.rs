//! TCP sockets between two interfaces on an in-memory wire, with a fake
//! clock: connection set-up and teardown, transfers byte for byte with
//! and without loss, refusal, accept queues; and what any socket does
//! when its device has no room to transmit (a full ring, a dead NIC).

use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_ethernet::MacAddr;
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::{Device, FaultConfig, FaultInjector, LinkConfig, TxLimit, wire};
use lamina_socket::tcp_proto::{ConnError, ConnStats, State};
use lamina_socket::{
    Error, Interface, InterfaceConfig, InterfaceStats, Shutdown, SocketHandle, SocketSet, TcpSocket,
};

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

struct Host<D: Device> {
    iface: Interface,
    dev: D,
    sockets: SocketSet,
}

impl<D: Device> Host<D> {
    fn new(dev: D, n: u8) -> Host<D> {
        Host::with_capacity(dev, n, 64)
    }

    fn with_capacity(dev: D, n: u8, capacity: usize) -> Host<D> {
        let mut rng = SeededRng::new(u64::from(n));
        let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
        let id = iface
            .add_device(&dev, MacAddr::new(2, 0, 0, 0, 0, n))
            .unwrap();
        let cidr = format!("192.0.2.{n}/24");
        iface
            .add_address(id, cidr.parse().unwrap(), Instant::ZERO)
            .unwrap();
        Host {
            iface,
            dev,
            sockets: SocketSet::new(capacity, &mut rng),
        }
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.dev, &mut self.sockets)
    }

    fn poll_at(&mut self) -> Option<Instant> {
        self.iface.poll_at(&mut self.dev, &self.sockets)
    }

    fn tcp(&mut self, h: SocketHandle) -> &mut TcpSocket {
        self.sockets.tcp(h).unwrap()
    }
}

/// Runs both hosts until `done` holds (checked whenever nothing moves),
/// jumping the clock to the next timer; panics after `limit` of
/// simulated time.
fn run_until<D1: Device, D2: Device>(
    a: &mut Host<D1>,
    b: &mut Host<D2>,
    now: &mut Instant,
    limit: Duration,
    mut done: impl FnMut(&mut Host<D1>, &mut Host<D2>) -> bool,
) {
    let end = *now + limit;
    loop {
        let mut spins = 0;
        while a.poll(*now) | b.poll(*now) {
            spins += 1;
            assert!(spins < 100_000, "no quiescence");
            if done(a, b) {
                return;
            }
        }
        if done(a, b) {
            return;
        }
        let next = [a.poll_at(), b.poll_at()].into_iter().flatten().min();
        let step = match next {
            Some(t) if t > *now => t,
            _ => *now + Duration::from_micros(100),
        };
        assert!(step <= end, "condition not met within {limit:?}");
        *now = step;
    }
}

fn link() -> LinkConfig {
    LinkConfig::new()
        .with_latency(Duration::from_millis(1))
        .with_queue_len(1024)
}

/// Host A connects to host B's listener; returns (client, server).
fn connect<D1: Device, D2: Device>(
    a: &mut Host<D1>,
    b: &mut Host<D2>,
    now: &mut Instant,
    port: u16,
) -> (SocketHandle, SocketHandle) {
    connect_with(
        a,
        b,
        now,
        port,
        &lamina_socket::tcp_proto::TcpConfig::default(),
    )
}

/// [`connect`] with both sockets configured by `config`.
fn connect_with<D1: Device, D2: Device>(
    a: &mut Host<D1>,
    b: &mut Host<D2>,
    now: &mut Instant,
    port: u16,
    config: &lamina_socket::tcp_proto::TcpConfig,
) -> (SocketHandle, SocketHandle) {
    let l = b.sockets.add(TcpSocket::new(config.clone())).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), 8)
        .unwrap();
    connect_to(a, b, now, l, port, config)
}

/// A new socket of A (configured by `config`) connects to port `port`
/// of B, whose listener `l` accepts it; returns (client, server).
fn connect_to<D1: Device, D2: Device>(
    a: &mut Host<D1>,
    b: &mut Host<D2>,
    now: &mut Instant,
    l: SocketHandle,
    port: u16,
    config: &lamina_socket::tcp_proto::TcpConfig,
) -> (SocketHandle, SocketHandle) {
    let c = a.sockets.add(TcpSocket::new(config.clone())).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, port), None)
        .unwrap();
    let mut server = None;
    run_until(a, b, now, Duration::from_secs(30), |a, b| {
        if server.is_none() {
            server = b.sockets.accept_tcp(l).ok();
        }
        server.is_some() && a.tcp(c).is_established()
    });
    (c, server.unwrap())
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

/// Sends `data` from `(x, hx)` to `(y, hy)` while reading there, until all
/// arrived; returns what arrived.
fn transfer<D1: Device, D2: Device>(
    a: &mut Host<D1>,
    b: &mut Host<D2>,
    now: &mut Instant,
    from_a: bool,
    ha: SocketHandle,
    hb: SocketHandle,
    data: &[u8],
) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    run_until(a, b, now, Duration::from_secs(600), |a, b| {
        let (tx, rx) = if from_a {
            (a.tcp(ha), b.tcp(hb))
        } else {
            (b.tcp(hb), a.tcp(ha))
        };
        while sent < data.len() {
            match tx.send(&data[sent..]) {
                Ok(n) => sent += n,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        loop {
            match rx.recv(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        got.len() >= data.len()
    });
    got
}

/// RFC 9293 §3.5 three-way handshake, a transfer each way, and the
/// §3.6 close: the active closer ends in TIME-WAIT, the passive one
/// closed, and both read end of stream.
#[test]
fn connect_transfer_both_ways_and_close_rfc_9293() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    assert_eq!(b.tcp(s).peer_addr(), a.tcp(c).local_addr());
    assert_eq!(b.tcp(s).local_addr(), Some(SocketAddrV4::new(B, 80)));
    let up = pattern(1 << 20, 1);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &up) == up);
    let down = pattern(3 << 19, 2);
    assert!(transfer(&mut a, &mut b, &mut now, false, c, s, &down) == down);

    a.tcp(c).shutdown(Shutdown::Write).unwrap();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |_, b| {
        b.tcp(s).recv_finished()
    });
    let mut buf = [0u8; 8];
    assert_eq!(b.tcp(s).recv(&mut buf), Ok(0), "end of stream");
    // Half-closed: B may still send.
    assert_eq!(b.tcp(s).send(b"late"), Ok(4));
    b.tcp(s).close();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |a, b| {
        a.tcp(c).state() == State::TimeWait && b.tcp(s).state() == State::Closed
    });
    assert_eq!(a.tcp(c).recv(&mut buf), Ok(4));
    assert_eq!(&buf[..4], b"late");
    assert_eq!(a.tcp(c).recv(&mut buf), Ok(0));
    // TIME-WAIT lasts 2 MSL, then the connection is gone.
    run_until(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(300),
        |a, _| a.tcp(c).state() == State::Closed,
    );
}

/// RFC 9293 §3.10.7.1: a SYN to a port nobody listens on earns a RST,
/// and the connecting socket fails with "connection refused".
#[test]
fn connecting_to_a_closed_port_is_refused() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, 9999), None)
        .unwrap();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |a, _| {
        !a.tcp(c).is_active()
    });
    assert_eq!(a.tcp(c).send(b"x"), Err(Error::Tcp(ConnError::Refused)));
    assert!(b.iface.stats().tcp_no_socket >= 1);
}

/// Data the client sends right after the handshake, before the server
/// calls accept, is waiting on the accepted socket.
#[test]
fn data_sent_before_accept_is_received() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets.listen_tcp(l, SocketAddrV4::new(B, 7), 4).unwrap();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, 7), None)
        .unwrap();
    let mut sent = false;
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |a, b| {
        if !sent && a.tcp(c).send(b"early bird").is_ok() {
            sent = true;
        }
        sent && b.sockets.tcp_pending(l) == 1 && a.tcp(c).connection().unwrap().in_flight() == 0
    });
    let s = b.sockets.accept_tcp(l).unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(b.tcp(s).recv(&mut buf), Ok(10));
    assert_eq!(&buf[..10], b"early bird");
    assert_eq!(b.sockets.accept_tcp(l), Err(Error::WouldBlock));
}

/// Several clients at once on one listener; each stream stays its own.
#[test]
fn a_listener_serves_several_connections_at_once() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
        .unwrap();
    let clients: Vec<_> = (0..5)
        .map(|_| {
            let c = a.sockets.add(TcpSocket::default()).unwrap();
            a.sockets
                .connect_tcp(c, SocketAddrV4::new(B, 80), None)
                .unwrap();
            c
        })
        .collect();
    let mut servers = Vec::new();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |a, b| {
        while let Ok(s) = b.sockets.accept_tcp(l) {
            servers.push(s);
        }
        servers.len() == 5 && clients.iter().all(|&c| a.tcp(c).is_established())
    });
    let ports: std::collections::BTreeSet<u16> = clients
        .iter()
        .map(|&c| a.tcp(c).local_addr().unwrap().port())
        .collect();
    assert_eq!(ports.len(), 5, "distinct ephemeral ports (RFC 6056)");
    for (i, &c) in clients.iter().enumerate() {
        let msg = format!("client {i}");
        a.tcp(c).send(msg.as_bytes()).unwrap();
    }
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |_, b| {
        servers.iter().all(|&s| b.tcp(s).can_recv())
    });
    for &s in &servers {
        let peer = b.tcp(s).peer_addr().unwrap();
        let i = clients
            .iter()
            .position(|&c| a.tcp(c).local_addr() == Some(peer))
            .unwrap();
        let mut buf = [0u8; 32];
        let n = b.tcp(s).recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("client {i}").as_bytes());
    }
}

/// Many connections at once over a lossy link, each with its own
/// retransmission, delayed-ACK and TIME-WAIT timers (kept by the socket
/// set in a timer heap, not found by scanning every socket): every
/// connection delivers its data byte for byte both ways, and once all
/// are closed with `close_tcp` and their TIME-WAITs (RFC 9293 §3.6.1)
/// have run out, the sets are empty.
#[test]
fn three_hundred_connections_each_keep_their_own_timers() {
    const N: usize = 300;
    let faults = FaultConfig::new().with_loss(0.05);
    let (da, db) = wire(link());
    let da = FaultInjector::new(da, 11).with_tx(faults);
    let db = FaultInjector::new(db, 12).with_tx(faults);
    let mut a = Host::with_capacity(da, 1, N + 1);
    let mut b = Host::with_capacity(db, 2, N + 1);
    let mut now = Instant::ZERO;
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 64)
        .unwrap();
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    // Connect in batches the accept queue holds.
    while clients.len() < N {
        for _ in 0..32.min(N - clients.len()) {
            let c = a.sockets.add(TcpSocket::default()).unwrap();
            a.sockets
                .connect_tcp(c, SocketAddrV4::new(B, 80), None)
                .unwrap();
            clients.push(c);
        }
        run_until(
            &mut a,
            &mut b,
            &mut now,
            Duration::from_secs(120),
            |a, b| {
                while let Ok(s) = b.sockets.accept_tcp(l) {
                    servers.push(s);
                }
                servers.len() == clients.len() && clients.iter().all(|&c| a.tcp(c).is_established())
            },
        );
    }
    // Each client sends its own 3000 bytes; each server echoes them back.
    let msg = |i: usize| pattern(3000, i as u8);
    let peer_of = |a: &mut Host<_>, c| a.tcp(c).local_addr().unwrap();
    let mut pair = Vec::new();
    for (i, &c) in clients.iter().enumerate() {
        let local = peer_of(&mut a, c);
        let s = *servers
            .iter()
            .find(|&&s| b.tcp(s).peer_addr() == Some(local))
            .unwrap();
        assert_eq!(a.tcp(c).send(&msg(i)), Ok(3000));
        pair.push((c, s, Vec::new(), Vec::new()));
    }
    let mut buf = vec![0u8; 4096];
    run_until(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(600),
        |a, b| {
            for (c, s, at_server, back) in pair.iter_mut() {
                while let Ok(n) = b.tcp(*s).recv(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    at_server.extend_from_slice(&buf[..n]);
                    assert_eq!(b.tcp(*s).send(&buf[..n]), Ok(n));
                }
                while let Ok(n) = a.tcp(*c).recv(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    back.extend_from_slice(&buf[..n]);
                }
            }
            pair.iter().all(|p| p.3.len() >= 3000)
        },
    );
    for (i, (_, _, at_server, back)) in pair.iter().enumerate() {
        assert_eq!(at_server, &msg(i), "connection {i} to the server");
        assert_eq!(back, &msg(i), "connection {i} back");
    }
    // Close everything; the orphaned sockets go once closed.
    for &(c, s, _, _) in &pair {
        a.sockets.close_tcp(c).unwrap();
        b.sockets.close_tcp(s).unwrap();
    }
    b.sockets.remove(l);
    let closing = now;
    run_until(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(600),
        |a, b| a.sockets.is_empty() && b.sockets.is_empty(),
    );
    // The active closers waited out TIME-WAIT (60 s by default).
    assert!(now.saturating_duration_since(closing) >= Duration::from_secs(60));
    let (fa, fb) = (a.dev.fault_stats().tx, b.dev.fault_stats().tx);
    assert!(fa.dropped > 0 && fb.dropped > 0, "{fa:?} {fb:?}");
    println!(
        "dropped {} / {} frames; closed after {:?}",
        fa.dropped,
        fb.dropped,
        now.saturating_duration_since(closing)
    );
}

/// A 4 MiB transfer over links that lose 5% of frames and reorder
/// others arrives byte for byte (retransmission, SACK recovery).
#[test]
fn a_transfer_survives_loss_and_reordering() {
    let (da, db) = wire(link());
    let faults = FaultConfig::new().with_loss(0.05).with_reorder(0.05, 3);
    let da = FaultInjector::new(da, 7).with_tx(faults);
    let db = FaultInjector::new(db, 8).with_tx(faults);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(4 << 20, 3);
    let got = transfer(&mut a, &mut b, &mut now, true, c, s, &data);
    assert!(got == data, "stream corrupted");
    let stats = *a.tcp(c).connection().unwrap().stats();
    assert!(stats.retransmits > 0, "{stats:?}");
}

/// `close_tcp` closes gracefully and frees the socket once the
/// connection is done; the peer reads end of stream.
#[test]
fn close_tcp_frees_the_socket_after_the_fin_exchange() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    a.tcp(c).send(b"bye").unwrap();
    let before = a.sockets.len();
    a.sockets.close_tcp(c).unwrap();
    assert!(a.sockets.tcp(c).is_err(), "the handle is gone");
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |_, b| {
        b.tcp(s).state() == State::CloseWait
    });
    let mut buf = [0u8; 8];
    assert_eq!(b.tcp(s).recv(&mut buf), Ok(3));
    assert_eq!(b.tcp(s).recv(&mut buf), Ok(0));
    b.sockets.close_tcp(s).unwrap();
    run_until(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(300),
        |a, _| a.sockets.len() == before - 1,
    );
}

/// `abort_tcp` resets the connection and frees the socket once the RST
/// is out: the peer learns at once (`remove` after `abort` would leave
/// it to find out by its next segment or by keepalive).
#[test]
fn abort_tcp_resets_the_peer_and_frees_the_socket() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    a.tcp(c).send(b"discarded").unwrap();
    let before = a.sockets.len();
    a.sockets.abort_tcp(c).unwrap();
    assert!(a.sockets.tcp(c).is_err(), "the handle is gone");
    let start = now;
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |a, b| {
        a.sockets.len() == before - 1 && !b.tcp(s).is_active()
    });
    assert!(now - start < Duration::from_millis(100), "reset at once");
    let mut buf = [0u8; 16];
    assert_eq!(
        b.tcp(s).recv(&mut buf),
        Err(Error::Tcp(lamina_socket::tcp_proto::ConnError::Reset))
    );
    assert_eq!(a.sockets.len(), before - 1);
}

/// 64 MiB from one Lamina host to another over links with the given
/// faults in both directions, byte for byte.
fn faulty_transfer(faults: FaultConfig, seed: u64) {
    let (da, db) = wire(link());
    let da = FaultInjector::new(da, seed).with_tx(faults);
    let db = FaultInjector::new(db, seed + 1).with_tx(faults);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(64 << 20, seed as u8);
    let got = transfer(&mut a, &mut b, &mut now, true, c, s, &data);
    assert!(got == data, "stream corrupted");
    let fa = a.dev.fault_stats().tx;
    let fb = b.dev.fault_stats().tx;
    let applied =
        |c: lamina_netdev::FaultCounters| c.dropped + c.reordered + c.duplicated + c.corrupted;
    assert!(applied(fa) > 0 && applied(fb) > 0, "{fa:?} {fb:?}");
}

#[test]
fn sixty_four_mib_survive_10_percent_loss() {
    faulty_transfer(FaultConfig::new().with_loss(0.10), 10);
}

#[test]
fn sixty_four_mib_survive_5_percent_reordering() {
    faulty_transfer(FaultConfig::new().with_reorder(0.05, 3), 20);
}

#[test]
fn sixty_four_mib_survive_1_percent_duplication() {
    faulty_transfer(FaultConfig::new().with_duplicate(0.01), 30);
}

/// Corrupted frames fail their checksums (IPv4 or TCP, RFC 9293 §3.1) and
/// are dropped; the data is retransmitted.
#[test]
fn sixty_four_mib_survive_1_percent_corruption() {
    faulty_transfer(FaultConfig::new().with_corrupt(0.01), 40);
}

#[test]
fn sixty_four_mib_survive_loss_reordering_duplication_and_corruption_at_once() {
    let all = FaultConfig::new()
        .with_loss(0.10)
        .with_reorder(0.05, 3)
        .with_duplicate(0.01)
        .with_corrupt(0.01);
    faulty_transfer(all, 50);
}

/// Over a device that computes and verifies checksums (offload), TCP
/// leaves them to it: the transfer is byte-exact although neither stack
/// computes a TCP checksum, and the first segments, built before ARP
/// resolved, get their checksum completed in software.
#[test]
fn a_transfer_with_checksum_offload() {
    let (da, db) = wire(link().with_checksum(lamina_netdev::ChecksumCapabilities::ALL));
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(8 << 20, 9);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &data) == data);
    assert_eq!(
        a.iface.stats().tcp_malformed + b.iface.stats().tcp_malformed,
        0
    );
}

/// Over a plain device (no segmentation offload, checksums in software)
/// the sender still takes new data in bursts and cuts them itself: the
/// stream arrives byte for byte both ways, every frame within the MTU,
/// and most segments were cut from bursts.
#[test]
fn a_transfer_over_a_plain_device_is_cut_in_software() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(8 << 20, 11);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &data) == data);
    assert!(transfer(&mut a, &mut b, &mut now, false, c, s, &data) == data);
    for (h, dev) in [(&a.iface, &a.dev), (&b.iface, &b.dev)] {
        let st = h.stats();
        assert!(
            st.tcp_segments_cut > 5_000,
            "{} segments cut: {st:?}",
            st.tcp_segments_cut
        );
        assert_eq!(st.tcp_gso_frames, 0, "no offload to use: {st:?}");
        let rx = dev.stats();
        assert!(rx.rx_bytes <= rx.rx_packets * 1514, "{rx:?}");
    }
    assert_eq!(a.tcp(c).connection().unwrap().stats().retransmits, 0);
}

/// A device with TCP segmentation offload: the sender hands it batches
/// of full segments in one frame (up to 64 KiB), the wire cuts them to
/// its MTU, and the stream arrives byte for byte both ways; with loss,
/// reordering and duplication on the cut frames too.
#[test]
fn a_transfer_over_a_device_with_segmentation_offload() {
    let tso = || {
        link()
            .with_checksum(lamina_netdev::ChecksumCapabilities::ALL)
            .with_tso()
    };
    let (da, db) = wire(tso());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(16 << 20, 6);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &data) == data);
    assert!(transfer(&mut a, &mut b, &mut now, false, c, s, &data) == data);
    for h in [&a.iface, &b.iface] {
        let st = h.stats();
        assert!(st.tcp_gso_frames > 100, "batches went: {st:?}");
        assert_eq!(st.tcp_malformed, 0);
    }
    // Every frame that arrived was cut to the MTU.
    let rx = b.dev.stats();
    assert!(rx.rx_packets > 11_000, "{rx:?}");
    assert!(rx.rx_bytes <= rx.rx_packets * 1514, "{rx:?}");

    let faults = FaultConfig::new()
        .with_loss(0.03)
        .with_reorder(0.03, 3)
        .with_duplicate(0.01);
    let (da, db) = wire(tso());
    // Faults on what the wire delivers: single segments, as on a link.
    let da = FaultInjector::new(da, 61).with_rx(faults);
    let db = FaultInjector::new(db, 62).with_rx(faults);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(8 << 20, 7);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &data) == data);
    assert!(a.iface.stats().tcp_gso_frames > 10);
    let lost = b.dev.fault_stats().rx.dropped;
    assert!(lost > 0 && a.tcp(c).connection().unwrap().stats().retransmits > 0);
}

/// 64 KiB frames whose buffers the wire gives away: large payloads are
/// queued in the frames they arrived in (no copy into the receive
/// buffer) and read out of them, byte for byte, with `peek` and `recv`
/// in pieces of odd sizes; the buffers go back to the wire.
#[test]
fn large_payloads_are_queued_in_their_own_frames_and_read_exactly() {
    let (a, b) = queue_large_payloads(false, 3);
    assert_eq!(a.tcp_shared_payloads, 0);
    assert!(b.tcp_payloads_kept > 100, "{b:?}");
}

/// The same over a wire that takes payloads by reference: the sender
/// lends its send buffer's bytes (no copy into the frame) and the
/// receiver queues them where they are (no copy into its buffer), so
/// the stream is copied twice in all, by the two applications; what the
/// sender lent stays intact while it writes on.
#[test]
fn payloads_lent_by_reference_arrive_byte_exact() {
    let (a, b) = queue_large_payloads(true, 5);
    assert!(a.tcp_shared_payloads > 200, "{a:?}");
    assert!(b.tcp_payloads_kept > 200, "{b:?}");
}

/// Lent payloads under 5% loss, 3% reordering, 2% duplication and 1%
/// corruption each way (the injector passes an untouched frame's payload
/// on by reference and copies the others): sealed segments are
/// retransmitted, and both streams arrive byte for byte.
#[test]
fn lent_payloads_survive_loss_reordering_duplication_and_corruption() {
    let jumbo = link()
        .with_mtu(65535)
        .with_queue_len(64)
        .with_checksum(lamina_netdev::ChecksumCapabilities::ALL);
    assert!(jumbo.shared_payloads);
    let faults = FaultConfig::new()
        .with_loss(0.05)
        .with_reorder(0.03, 3)
        .with_duplicate(0.02)
        .with_corrupt(0.01);
    let (da, db) = wire(jumbo);
    let da = FaultInjector::new(da, 31).with_tx(faults);
    let db = FaultInjector::new(db, 32).with_tx(faults);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(16 << 20, 8);
    assert!(transfer(&mut a, &mut b, &mut now, true, c, s, &data) == data);
    assert!(transfer(&mut a, &mut b, &mut now, false, c, s, &data) == data);
    for (h, conn) in [(&mut a, c), (&mut b, s)] {
        let shared = h.iface.stats().tcp_shared_payloads;
        assert!(shared > 100, "{:?}", h.iface.stats());
        let st = h.tcp(conn).connection().unwrap().stats();
        assert!(st.retransmits > 10, "{st:?}");
    }
    assert!(a.dev.fault_stats().tx.dropped > 10);
}

/// Moves 16 MiB from A to B over a 64 KiB-MTU wire with checksum offload
/// (payloads by reference or not), read
/// with `peek` and `recv` in pieces of odd sizes; returns the stats of
/// both interfaces.
fn queue_large_payloads(shared: bool, seed: u8) -> (InterfaceStats, InterfaceStats) {
    let jumbo = link()
        .with_mtu(65535)
        .with_queue_len(64)
        .with_checksum(lamina_netdev::ChecksumCapabilities::ALL)
        .with_shared_payloads(shared);
    let (da, db) = wire(jumbo);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(16 << 20, seed);
    let mut sent = 0;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 100_003];
    let mut peeked = vec![0u8; 777];
    run_until(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(600),
        |a, b| {
            while sent < data.len() {
                match a.tcp(c).send(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            loop {
                // Peek first: it must show what recv then gives.
                let p = b.tcp(s).peek(&mut peeked).unwrap_or(0);
                let want = (got.len() % 65_521).max(1).min(buf.len());
                match b.tcp(s).recv(&mut buf[..want]) {
                    Ok(0) | Err(Error::WouldBlock) => break,
                    Ok(n) => {
                        assert_eq!(&peeked[..p.min(n)], &buf[..p.min(n)]);
                        got.extend_from_slice(&buf[..n]);
                    }
                    Err(e) => panic!("recv: {e}"),
                }
            }
            got.len() >= data.len()
        },
    );
    assert!(got == data, "stream corrupted");
    (*a.iface.stats(), *b.iface.stats())
}

/// The same with 5% loss, 5% reordering, 2% duplication and 1% corruption
/// each way: kept
/// frames mix with out-of-order data copied into the ring, and the
/// stream still arrives byte for byte.
#[test]
fn kept_payloads_mix_with_out_of_order_data_under_faults() {
    let jumbo = link()
        .with_mtu(65535)
        .with_queue_len(64)
        .with_checksum(lamina_netdev::ChecksumCapabilities::ALL);
    let faults = FaultConfig::new()
        .with_loss(0.05)
        .with_reorder(0.05, 3)
        .with_duplicate(0.02)
        .with_corrupt(0.01);
    let (da, db) = wire(jumbo);
    let da = FaultInjector::new(da, 21).with_tx(faults);
    let db = FaultInjector::new(db, 22).with_tx(faults);
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let (c, s) = connect(&mut a, &mut b, &mut now, 80);
    let data = pattern(16 << 20, 4);
    let got = transfer(&mut a, &mut b, &mut now, true, c, s, &data);
    assert!(got == data, "stream corrupted");
    let back = transfer(&mut a, &mut b, &mut now, false, c, s, &data);
    assert!(back == data, "stream corrupted on the way back");
    let kept = |h: &Host<_>| h.iface.stats().tcp_payloads_kept;
    assert!(kept(&a) > 50 && kept(&b) > 50, "{} {}", kept(&a), kept(&b));
    let out_of_order = |h: &mut Host<_>, x| h.tcp(x).connection().unwrap().stats().out_of_order;
    assert!(out_of_order(&mut a, c) > 0 && out_of_order(&mut b, s) > 0);
}

/// Kept frames with both directions at once, receive buffers of only a
/// few 64 KiB frames (windows that close and reopen as the reader goes),
/// reads of changing sizes, and the fault mix above, over several seeds:
/// every byte arrives in order both ways.
#[test]
fn kept_payloads_survive_full_duplex_small_windows_across_seeds() {
    use lamina_socket::tcp_proto::TcpConfig;
    for seed in 0..6u64 {
        let jumbo = link()
            .with_mtu(65535)
            .with_queue_len(64)
            .with_checksum(lamina_netdev::ChecksumCapabilities::ALL);
        let faults = FaultConfig::new()
            .with_loss(0.03)
            .with_reorder(0.03, 2)
            .with_duplicate(0.01)
            .with_corrupt(0.01);
        let (da, db) = wire(jumbo);
        let da = FaultInjector::new(da, 100 + seed).with_tx(faults);
        let db = FaultInjector::new(db, 200 + seed).with_tx(faults);
        let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
        let mut now = Instant::ZERO;
        let cfg = TcpConfig {
            recv_buffer: 192 * 1024 + 17 * seed as usize,
            send_buffer: 256 * 1024,
            ..TcpConfig::default()
        };
        let (c, s) = connect_with(&mut a, &mut b, &mut now, 80, &cfg);
        let (to_b, to_a) = (
            pattern(3 << 20, seed as u8),
            pattern(3 << 20, seed as u8 ^ 0x55),
        );
        let (mut sent_ab, mut sent_ba) = (0, 0);
        let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 200_000];
        let mut turn = seed as usize;
        run_until(
            &mut a,
            &mut b,
            &mut now,
            Duration::from_secs(600),
            |a, b| {
                turn += 1;
                if sent_ab < to_b.len()
                    && let Ok(n) = a.tcp(c).send(&to_b[sent_ab..])
                {
                    sent_ab += n;
                }
                if sent_ba < to_a.len()
                    && let Ok(n) = b.tcp(s).send(&to_a[sent_ba..])
                {
                    sent_ba += n;
                }
                // Readers of changing appetite: sometimes none at all.
                let want = [0, 1, 1500, 65_536, 100_003, 200_000][turn % 6];
                if let Ok(n) = b.tcp(s).recv(&mut buf[..want]) {
                    got_b.extend_from_slice(&buf[..n]);
                }
                let want = [200_000, 7, 0, 65_535, 4096, 131_072][turn % 6];
                if let Ok(n) = a.tcp(c).recv(&mut buf[..want]) {
                    got_a.extend_from_slice(&buf[..n]);
                }
                got_b.len() >= to_b.len() && got_a.len() >= to_a.len()
            },
        );
        assert!(got_b == to_b, "seed {seed}: A to B corrupted");
        assert!(got_a == to_a, "seed {seed}: B to A corrupted");
        let kept = |h: &Host<_>| h.iface.stats().tcp_payloads_kept;
        assert!(kept(&a) > 0 && kept(&b) > 0, "seed {seed}");
    }
}

/// RFC 4987: 100,000 SYNs from spoofed sources (a SYN flood) fill the
/// listener's SYN queue, which then answers with SYN cookies; a real
/// client still connects and exchanges data, and every table stays
/// within its bound.
#[test]
fn a_syn_flood_does_not_keep_a_real_client_out() {
    use lamina_ethernet::{EtherType, EthernetRepr};
    use lamina_ipv4::{IpProtocol, Ipv4Repr};
    use lamina_netbuf::{Rng, Serializer};
    use lamina_netdev::{Port, TxToken, hub};
    use lamina_socket::tcp_proto::{SeqNumber, TcpFlags, TcpRepr};

    let mut ports = hub(3, link().with_queue_len(4096)).into_iter();
    let (pa, pb, mut attacker) = (
        ports.next().unwrap(),
        ports.next().unwrap(),
        ports.next().unwrap(),
    );
    let (mut a, mut b) = (Host::new(pa, 1), Host::new(pb, 2));
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
        .unwrap();
    let b_mac = MacAddr::new(2, 0, 0, 0, 0, 2);
    let mut rng = SeededRng::new(99);
    let mut now = Instant::ZERO;
    let mut flood = |a: &mut Host<Port>, b: &mut Host<Port>, now: &mut Instant, n: usize| {
        for _ in 0..n {
            // Spoofed on-link sources, so that answers need ARP too.
            let src = Ipv4Addr::new(192, 0, 2, 100 + (rng.next_u32() % 150) as u8);
            let syn = TcpRepr {
                src_port: (rng.next_u32() % 60_000) as u16 + 1024,
                dst_port: 80,
                seq_number: SeqNumber(rng.next_u32()),
                flags: TcpFlags::SYN,
                window_len: 65_535,
                max_seg_size: Some(1460),
                ..TcpRepr::default()
            };
            let frame = lamina_netbuf::serialize::EmptyBody
                .wrap_in(syn.builder(src, B).unwrap())
                .wrap_in(&Ipv4Repr::new(src, B, IpProtocol::TCP))
                .wrap_in(EthernetRepr::new(
                    MacAddr::new(2, 0, 0, 0, 9, 9),
                    b_mac,
                    EtherType::IPV4,
                ))
                .serialize_vec(0)
                .unwrap();
            // 100,000 SYNs a second.
            *now += Duration::from_micros(10);
            let now = *now;
            if let Some(t) = attacker.transmit(now) {
                let _ = t.consume(frame.len(), |buf| buf.copy_from_slice(frame.as_slice()));
            }
            // Keep the attacker's own receive queue drained.
            while let Some((rx, _)) = attacker.receive(now) {
                drop(rx);
            }
            b.poll(now);
            // The real client keeps up with what the hub shows it.
            a.poll(now);
        }
    };
    flood(&mut a, &mut b, &mut now, 50_000);
    // A real client connects in the middle of the flood.
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, 80), None)
        .unwrap();
    let mut server = None;
    for _ in 0..200 {
        flood(&mut a, &mut b, &mut now, 250);
        a.poll(now);
        b.poll(now);
        if server.is_none() {
            server = b.sockets.accept_tcp(l).ok();
        }
        if server.is_some() && a.tcp(c).is_established() {
            break;
        }
    }
    let s = server.expect("the real client got in");
    assert!(a.tcp(c).is_established());
    // The flood goes on to 100,000 SYNs; the connection lives through it.
    flood(&mut a, &mut b, &mut now, 50_000);
    assert!(a.tcp(c).is_established() && b.tcp(s).is_established());
    a.tcp(c).send(b"through the flood").unwrap();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |_, b| {
        b.tcp(s).can_recv()
    });
    let mut buf = [0u8; 32];
    assert_eq!(b.tcp(s).recv(&mut buf), Ok(17));
    // Bounded: the listener's queues, the neighbor cache, the socket set.
    let config = b.tcp(l).config().clone();
    let listener = b.tcp(l).listener().unwrap();
    assert!(listener.half_open() <= config.syn_queue);
    let stats = *listener.stats();
    assert!(stats.syns >= 100_000, "{stats:?}");
    assert!(stats.cookies_sent > 0, "{stats:?}");
    let neighbors = b.iface.neighbors(lamina_ipv4::IfaceId(0)).unwrap();
    assert!(neighbors.len() <= lamina_arp::NeighborConfig::DEFAULT.max_entries);
    assert!(b.sockets.len() <= 64);
}

/// RFC 5927 §4.1 and RFC 1191: an ICMP "fragmentation needed" quoting a
/// sequence number outside the connection's window (a blind attacker's
/// guess) changes nothing; one quoting an in-flight segment shrinks the
/// segments to the reported MTU.
#[test]
fn icmp_errors_must_quote_a_sequence_number_in_the_window() {
    use lamina_ethernet::{EtherType, EthernetRepr};
    use lamina_icmp::IcmpRepr;
    use lamina_ipv4::{IpProtocol, Ipv4Repr};
    use lamina_netbuf::Serializer;
    use lamina_netdev::{Port, TxToken, hub};

    let mut ports = hub(3, link()).into_iter();
    let (pa, pb, mut attacker) = (
        ports.next().unwrap(),
        ports.next().unwrap(),
        ports.next().unwrap(),
    );
    let (mut a, mut b) = (Host::new(pa, 1), Host::new(pb, 2));
    let mut now = Instant::ZERO;
    let (c, _s) = connect(&mut a, &mut b, &mut now, 80);
    let local = a.tcp(c).local_addr().unwrap();
    let a_ip = *local.ip();
    // Data in flight, not yet acknowledged.
    a.tcp(c).send(&[7u8; 1000]).unwrap();
    a.poll(now);
    assert!(a.tcp(c).connection().unwrap().in_flight() > 0);
    let seq_in_flight = {
        // The sequence number of the first unacknowledged byte: read it
        // back from the segment A just put on the wire.
        let mut seq = None;
        while let Some((rx, _)) = attacker.receive(now) {
            lamina_netdev::RxToken::consume(rx, |f| {
                if f.len() > 54 && f[23] == 6 {
                    seq = Some(u32::from_be_bytes([f[38], f[39], f[40], f[41]]));
                }
            });
        }
        seq.expect("A sent its data")
    };
    let send_frag_needed = |attacker: &mut Port, seq: u32, now: Instant| {
        let mut quote = Vec::new();
        let inner = Ipv4Repr::new(a_ip, B, IpProtocol::TCP);
        let tcp_head = [
            local.port().to_be_bytes().as_slice(),
            &80u16.to_be_bytes(),
            &seq.to_be_bytes(),
        ]
        .concat();
        quote.extend_from_slice(
            tcp_head
                .as_slice()
                .wrap_in(&inner)
                .serialize_vec(0)
                .unwrap()
                .as_slice(),
        );
        // The quoted datagram claimed 1500 bytes.
        quote[2..4].copy_from_slice(&1500u16.to_be_bytes());
        let frame = quote
            .as_slice()
            .wrap_in(&IcmpRepr::fragmentation_needed(600))
            .wrap_in(&Ipv4Repr::new(B, a_ip, IpProtocol::ICMP))
            .wrap_in(EthernetRepr::new(
                MacAddr::new(2, 0, 0, 0, 0, 2),
                MacAddr::new(2, 0, 0, 0, 0, 1),
                EtherType::IPV4,
            ))
            .serialize_vec(0)
            .unwrap();
        let t = attacker.transmit(now).unwrap();
        t.consume(frame.len(), |buf| buf.copy_from_slice(frame.as_slice()))
            .unwrap();
    };
    // A blind guess, half the sequence space away.
    send_frag_needed(&mut attacker, seq_in_flight.wrapping_add(1 << 31), now);
    now += Duration::from_millis(2);
    a.poll(now);
    assert_eq!(a.tcp(c).connection().unwrap().mss(), 1460);
    // The real thing.
    send_frag_needed(&mut attacker, seq_in_flight, now);
    now += Duration::from_millis(2);
    a.poll(now);
    assert_eq!(a.tcp(c).connection().unwrap().mss(), 560);
}

/// Every frame the direct transmit path writes is a well-formed Ethernet
/// frame: at least the 60-byte minimum with zero padding after the IPv4
/// datagram, a valid IPv4 header checksum and a TCP checksum that
/// verifies (RFC 9293 §3.1), for data segments, pure ACKs (54 bytes
/// before padding without timestamps), SYNs, the listener's SYN-ACK and
/// FINs. A third port on the hub sees every frame.
#[test]
fn tcp_frames_are_padded_to_the_ethernet_minimum_and_their_checksums_verify() {
    // (Also: every segment goes with Don't Fragment and ID 0.)
    use lamina_ipv4::{IpProtocol, Ipv4Packet};
    use lamina_socket::tcp_proto::TcpConfig;
    use lamina_tcp::TcpSegment;
    let mut ports = lamina_netdev::hub(3, link().with_queue_len(65_536));
    let mut sniffer = ports.pop().unwrap();
    let (pb, pa) = (ports.pop().unwrap(), ports.pop().unwrap());
    let (mut a, mut b) = (Host::new(pa, 1), Host::new(pb, 2));
    let mut now = Instant::ZERO;
    let config = TcpConfig {
        timestamps: false,
        ..TcpConfig::default()
    };
    let (c, s) = connect_with(&mut a, &mut b, &mut now, 80, &config);
    let data = pattern(5000, 3);
    let got = transfer(&mut a, &mut b, &mut now, true, c, s, &data);
    assert_eq!(got, data);
    let got = transfer(&mut a, &mut b, &mut now, false, c, s, &data);
    assert_eq!(got, data);
    a.tcp(c).close();
    b.tcp(s).close();
    let done = |st: State| matches!(st, State::TimeWait | State::Closed);
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(10), |a, b| {
        done(a.tcp(c).state()) && done(b.tcp(s).state())
    });
    let (mut frames, mut short, mut flags_seen) = (0, 0, 0u16);
    while let Some((rx, _)) = sniffer.receive(now) {
        lamina_netdev::RxToken::consume(rx, |f: &mut [u8]| {
            assert!(
                f.len() >= lamina_ethernet::MIN_FRAME_LEN,
                "{} bytes",
                f.len()
            );
            if f[12..14] != [0x08, 0x00] {
                return;
            }
            let ip = Ipv4Packet::parse_verified(&f[14..]).expect("IPv4 header checksum");
            if ip.protocol() != IpProtocol::TCP {
                return;
            }
            // Every segment is atomic (DF, RFC 6864 §4.1): ID 0.
            assert!(ip.dont_fragment());
            assert_eq!(ip.identification(), 0);
            let end = 14 + usize::from(ip.total_len());
            assert!(f[end..].iter().all(|&x| x == 0), "padding not zero");
            short += usize::from(end < lamina_ethernet::MIN_FRAME_LEN);
            let seg =
                TcpSegment::parse_verified(ip.payload(), ip.src(), ip.dst()).expect("TCP checksum");
            flags_seen |= seg.flags().bits();
            frames += 1;
        });
    }
    assert!(frames > 10, "{frames} TCP frames seen");
    assert!(short > 0, "no segment needed padding");
    // SYN, FIN, ACK and PSH all went by.
    assert_eq!(flags_seen & 0x1b, 0x1b, "flags {flags_seen:#x}");
}

/// Removing sockets keeps the listener table right: an accepted
/// connection's socket removed leaves the listener serving; the listener
/// removed frees its port, which a new socket listens on and serves.
#[test]
fn removed_sockets_leave_the_listener_table_right() {
    let (da, db) = wire(link());
    let (mut a, mut b) = (Host::new(da, 1), Host::new(db, 2));
    let mut now = Instant::ZERO;
    let any80 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80);
    let config = lamina_socket::tcp_proto::TcpConfig::default();
    let accept_one = |a: &mut Host<_>, b: &mut Host<_>, now: &mut Instant, l| {
        connect_to(a, b, now, l, 80, &config)
    };
    let l = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets.listen_tcp(l, any80, 8).unwrap();
    let (c1, s1) = accept_one(&mut a, &mut b, &mut now, l);
    b.sockets.remove(s1);
    a.sockets.remove(c1);
    // The listener still listens.
    let (c2, s2) = accept_one(&mut a, &mut b, &mut now, l);
    a.sockets.remove(c2);
    b.sockets.remove(s2);
    // Its port is free once it is removed, for a new listener.
    b.sockets.remove(l);
    let l2 = b.sockets.add(TcpSocket::default()).unwrap();
    assert_eq!(b.sockets.listen_tcp(l2, any80, 8), Ok(any80));
    let (c3, s3) = accept_one(&mut a, &mut b, &mut now, l2);
    a.sockets.remove(c3);
    b.sockets.remove(s3);
    // A listener on another port in the freed slot gets nothing meant for
    // port 80 once the listener of port 80 is gone: that is refused.
    b.sockets.remove(l2);
    let l3 = b.sockets.add(TcpSocket::default()).unwrap();
    b.sockets
        .listen_tcp(l3, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 81), 8)
        .unwrap();
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, 80), None)
        .unwrap();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(30), |a, _| {
        a.tcp(c).state() == State::Closed
    });
    assert_eq!(a.tcp(c).send(b"x"), Err(Error::Tcp(ConnError::Refused)));
    assert_eq!(b.sockets.accept_tcp(l3), Err(Error::WouldBlock));
}

/// A device with a transmit ring of `cap` frames, as a NIC has: no
/// transmit token while the ring is full. The ring empties (its frames
/// are on the wire) whenever the device is polled for received frames,
/// that is once per interface poll: at most `cap` frames leave per poll.
type Ring = TxLimit<lamina_netdev::Port>;

/// Host A on a [`Ring`] of `cap` frames a poll, host B on the wire's
/// other end.
fn ring_hosts(cap: usize) -> (Host<Ring>, Host<lamina_netdev::Port>) {
    let (da, db) = wire(link());
    (Host::new(TxLimit::new(da, Some(cap)), 1), Host::new(db, 2))
}

/// Polls A alone (B silent) from `now`, its clock jumping to each timer,
/// until its socket `c` is no longer active; panics after ten minutes.
fn run_a_until_inactive(a: &mut Host<Ring>, c: SocketHandle, mut now: Instant) {
    let end = now + Duration::from_secs(600);
    while a.tcp(c).is_active() {
        a.poll(now);
        now = match a.poll_at() {
            Some(t) if t > now => t,
            _ => now + Duration::from_millis(1),
        };
        assert!(now < end, "still {:?}", a.tcp(c).state());
    }
}

/// What [`slow_reader_transfer`] saw: A's interface counters, the
/// longest A's transmit queue was, both connections' counters.
struct SlowReader<D: Device> {
    a: Host<D>,
    stats: InterfaceStats,
    max_txq: usize,
    sender: ConnStats,
    receiver: ConnStats,
}

/// Sends 8 MiB from A to B with 1 MiB socket buffers, B reading only
/// when its buffer is full: each read reopens a whole window at once.
fn slow_reader_transfer<D: Device>(
    mut a: Host<D>,
    mut b: Host<lamina_netdev::Port>,
) -> SlowReader<D> {
    const BUF: usize = 1 << 20;
    let mut now = Instant::ZERO;
    let config = lamina_socket::tcp_proto::TcpConfig {
        send_buffer: BUF,
        recv_buffer: BUF,
        ..Default::default()
    };
    let (c, s) = connect_with(&mut a, &mut b, &mut now, 80, &config);
    let data = pattern(8 << 20, 3);
    let (mut sent, mut got) = (0, Vec::with_capacity(data.len()));
    let mut buf = vec![0u8; 65536];
    let mut max_txq = 0;
    while got.len() < data.len() {
        // The sender keeps its buffer full until the receiver's is.
        run_until(&mut a, &mut b, &mut now, Duration::from_secs(60), |a, b| {
            max_txq = max_txq.max(a.iface.tx_queue_len(lamina_ipv4::IfaceId(0)));
            while sent < data.len() {
                match a.tcp(c).send(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            let arrived = b.tcp(s).connection().unwrap().stats().bytes_in as usize;
            arrived - got.len() >= BUF.min(data.len() - got.len())
        });
        loop {
            match b.tcp(s).recv(&mut buf) {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
    assert!(got == data, "the stream arrived altered");
    SlowReader {
        stats: *a.iface.stats(),
        max_txq,
        sender: *a.tcp(c).connection().unwrap().stats(),
        receiver: *b.tcp(s).connection().unwrap().stats(),
        a,
    }
}

/// A receiver that reads only once its buffer is full takes every byte
/// the sender sends into the window it offered: the right edge it keeps
/// in place while the buffer fills (rounded up to the window scale, RFC
/// 7323 §2.4) never passes what the buffer holds. On a lossless link
/// nothing arrives out of order and nothing is sent twice.
#[test]
fn a_slow_reader_takes_every_byte_of_the_window_it_offered_rfc7323_2_4() {
    let (da, db) = wire(link());
    let r = slow_reader_transfer(Host::new(da, 1), Host::new(db, 2));
    assert_eq!(r.sender.retransmits, 0, "{:?}", r.sender);
    assert_eq!(r.receiver.out_of_order, 0, "{:?}", r.receiver);
}

/// A sender whose device refuses frames while its transmit ring is full
/// (virtio's and e1000's do) keeps the rest of its window in the
/// connection until the ring has room, however much a reopened window
/// lets it send: at most the rest of one burst cut in software (16
/// segments) waits in the interface's transmit queue (where a window's
/// worth would overflow it), nothing is dropped, sent out of order or
/// twice.
#[test]
fn a_full_transmit_ring_holds_segments_back_instead_of_dropping_them() {
    for cap in [1, 4, 16] {
        let (a, b) = ring_hosts(cap);
        let r = slow_reader_transfer(a, b);
        assert!(r.a.dev.refused() > 0, "the ring never filled (cap {cap})");
        assert!(r.max_txq < 16, "cap {cap}: {} segments queued", r.max_txq);
        assert_eq!(r.stats.tx_queue_drops, 0, "cap {cap}: {:?}", r.stats);
        assert_eq!(r.sender.retransmits, 0, "cap {cap}: {:?}", r.sender);
    }
}

/// A connection with data in flight whose device then refuses every
/// frame (a dead NIC) still runs its retransmission timer: the
/// retransmissions back off and the connection ends timed out (RFC 9293
/// §3.8.3) rather than wait for the device for ever.
#[test]
fn a_connection_whose_device_dies_times_out() {
    let (mut a, mut b) = ring_hosts(usize::MAX);
    let mut now = Instant::ZERO;
    let config = lamina_socket::tcp_proto::TcpConfig {
        max_retries: 3,
        ..Default::default()
    };
    let (c, _) = connect_with(&mut a, &mut b, &mut now, 80, &config);
    // Data goes out; B never answers again, and A's device dies.
    a.tcp(c).send(&pattern(20_000, 1)).unwrap();
    a.poll(now);
    a.dev.set_limit(Some(0));
    run_a_until_inactive(&mut a, c, now);
    assert!(a.dev.refused() > 0);
    assert_eq!(a.tcp(c).send(b"x"), Err(Error::Tcp(ConnError::TimedOut)));
}

/// A connect whose device refuses every frame ends (its SYN retries, or
/// the next hop's resolution, give up) instead of waiting for ever.
#[test]
fn a_connect_over_a_dead_device_gives_up() {
    let (mut a, _) = ring_hosts(0);
    let c = a.sockets.add(TcpSocket::default()).unwrap();
    a.sockets
        .connect_tcp(c, SocketAddrV4::new(B, 80), None)
        .unwrap();
    run_a_until_inactive(&mut a, c, Instant::ZERO);
    assert!(a.dev.refused() > 0);
    assert!(a.tcp(c).send(b"x").is_err());
}

/// Connections that share a device with too little room for them all
/// take turns at it: when the first of three 1 MiB transfers through a
/// four-frame transmit ring completes, the others are nearly done too
/// (without turns, whoever the transmit pass visited first took the ring
/// every time, and the others waited).
#[test]
fn connections_sharing_a_full_device_take_turns() {
    let (mut a, mut b) = ring_hosts(4);
    let mut now = Instant::ZERO;
    let config = lamina_socket::tcp_proto::TcpConfig {
        send_buffer: 1 << 20,
        recv_buffer: 1 << 20,
        ..Default::default()
    };
    let l = b.sockets.add(TcpSocket::new(config.clone())).unwrap();
    b.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 8)
        .unwrap();
    let pairs: Vec<_> = (0..3)
        .map(|_| connect_to(&mut a, &mut b, &mut now, l, 80, &config))
        .collect();
    let data = pattern(1 << 20, 5);
    for &(c, _) in &pairs {
        assert_eq!(a.tcp(c).send(&data), Ok(data.len()));
    }
    let mut got = [0usize; 3];
    let mut buf = vec![0u8; 65536];
    let end = now + Duration::from_secs(10);
    while got.iter().all(|&g| g < data.len()) {
        a.poll(now);
        b.poll(now);
        for (g, &(_, s)) in got.iter_mut().zip(&pairs) {
            while let Ok(n @ 1..) = b.tcp(s).recv(&mut buf) {
                *g += n;
            }
        }
        now += Duration::from_micros(100);
        assert!(now < end, "{got:?}");
    }
    assert!(a.dev.refused() > 0);
    let least = *got.iter().min().unwrap();
    assert!(
        least * 4 >= data.len() * 3,
        "one done while another had {least} of {} bytes: {got:?}",
        data.len()
    );
}

/// A UDP sender faster than its device's transmit ring: what the ring
/// cannot take waits in the socket's queue, whose bound the sender hears
/// as `QueueFull`; nothing is dropped at the interface, and on a
/// lossless link every datagram arrives, in order.
#[test]
fn udp_datagrams_wait_in_their_socket_while_the_device_is_full() {
    let (mut a, mut b) = ring_hosts(4);
    let mut now = Instant::ZERO;
    let tx = a.sockets.add(lamina_socket::UdpSocket::default()).unwrap();
    a.sockets
        .bind_udp(tx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
        .unwrap();
    // Room at the receiver for everything: only the sender's device is
    // short of it.
    let mut config = lamina_socket::UdpConfig::default();
    config.rx_packets = 4096;
    config.rx_bytes = 4 << 20;
    let rx = b
        .sockets
        .add(lamina_socket::UdpSocket::new(config))
        .unwrap();
    b.sockets
        .bind_udp(rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    // The next hop resolved first (what waits for ARP has its own small
    // queue, with drops when it overflows: that is not this test).
    let mut buf = [0u8; 64];
    a.sockets
        .udp(tx)
        .unwrap()
        .send_to(b"hi", SocketAddrV4::new(B, 7))
        .unwrap();
    run_until(&mut a, &mut b, &mut now, Duration::from_secs(5), |_, b| {
        b.sockets.udp(rx).unwrap().recv_from(&mut buf).is_ok()
    });
    const N: u32 = 2000;
    let (mut sent, mut blocked, mut got) = (0u32, 0u32, Vec::new());
    let end = now + Duration::from_secs(60);
    while got.len() < N as usize {
        while sent < N {
            match a
                .sockets
                .udp(tx)
                .unwrap()
                .send_to(&sent.to_be_bytes(), SocketAddrV4::new(B, 7))
            {
                Ok(()) => sent += 1,
                Err(Error::QueueFull) => {
                    blocked += 1;
                    break;
                }
                Err(e) => panic!("send_to: {e}"),
            }
        }
        a.poll(now);
        b.poll(now);
        while let Ok((n, _)) = b.sockets.udp(rx).unwrap().recv_from(&mut buf) {
            got.push(u32::from_be_bytes(buf[..n].try_into().unwrap()));
        }
        now += Duration::from_micros(100);
        assert!(
            now < end,
            "{} of {N} arrived, {sent} sent: {:?} {:?} {:?}",
            got.len(),
            a.iface.stats(),
            b.iface.udp_stats(),
            b.dev.stats()
        );
    }
    assert!(a.dev.refused() > 0 && blocked > 0);
    assert_eq!(a.iface.stats().tx_queue_drops, 0, "{:?}", a.iface.stats());
    assert!(got.iter().copied().eq(0..N), "lost or reordered");
}
