//! The two hosts of the `tcp` benchmarks, Lamina's and smoltcp's, on an
//! in-memory wire: shared by the criterion group (`benches/tcp.rs`) and
//! the `workload` example that runs one of them a given number of times
//! (for instruction counts: `scripts/instr-ratios.sh`).

use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_ethernet::MacAddr;
use lamina_netbuf::{Instant, SeededRng};
use lamina_netdev::{ChecksumCapabilities, Device, LinkConfig, Port, wire};

pub const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Bytes moved per bulk iteration.
pub const BULK: usize = 4 << 20;
/// Socket buffer sizes, both stacks.
pub const BUF: usize = 1 << 20;
/// Socket buffer sizes in the many-connections benchmark, both stacks.
pub const SMALL: usize = 4096;

fn link(mtu: usize) -> LinkConfig {
    let l = LinkConfig::new()
        .with_mtu(mtu)
        .with_queue_len(if mtu > 1500 { 64 } else { 1024 });
    if mtu > 1500 {
        l.with_checksum(ChecksumCapabilities::ALL)
    } else {
        l
    }
}

pub mod lamina_side {
    use super::*;
    use lamina_socket::tcp_proto::{State, TcpConfig};
    use lamina_socket::{Error, Interface, InterfaceConfig, SocketHandle, SocketSet, TcpSocket};

    pub struct Host {
        pub iface: Interface,
        pub dev: Port,
        pub sockets: SocketSet,
    }

    impl Host {
        fn new(dev: Port, n: u8) -> Host {
            let mut rng = SeededRng::new(u64::from(n));
            let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
            let id = iface
                .add_device(&dev, MacAddr::new(2, 0, 0, 0, 0, n))
                .unwrap();
            iface
                .add_address(
                    id,
                    format!("192.0.2.{n}/24").parse().unwrap(),
                    Instant::ZERO,
                )
                .unwrap();
            Host {
                iface,
                dev,
                sockets: SocketSet::new(16_384, &mut rng),
            }
        }

        fn poll(&mut self, now: Instant) -> bool {
            self.iface.poll(now, &mut self.dev, &mut self.sockets)
        }
    }

    fn config() -> TcpConfig {
        TcpConfig {
            send_buffer: BUF,
            recv_buffer: BUF,
            ..TcpConfig::default()
        }
    }

    /// The many-connections benchmark's sockets: small buffers, and (as
    /// on the smoltcp side, whose clock stands still here) no delayed
    /// ACKs.
    fn small() -> TcpConfig {
        TcpConfig {
            send_buffer: SMALL,
            recv_buffer: SMALL,
            delayed_ack: lamina_netbuf::Duration::ZERO,
            ..TcpConfig::default()
        }
    }

    pub struct Pair {
        a: Host,
        b: Host,
        listener: SocketHandle,
        conn: Option<(SocketHandle, SocketHandle)>,
        now: Instant,
    }

    pub fn pair(mtu: usize) -> Pair {
        let (da, db) = wire(link(mtu));
        let (a, mut b) = (Host::new(da, 1), Host::new(db, 2));
        let listener = b.sockets.add(TcpSocket::new(config())).unwrap();
        b.sockets
            .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 64)
            .unwrap();
        let mut p = Pair {
            a,
            b,
            listener,
            conn: None,
            now: Instant::ZERO,
        };
        p.conn = Some(p.connect());
        p
    }

    impl Pair {
        /// A new established connection.
        fn connect(&mut self) -> (SocketHandle, SocketHandle) {
            let c = self.a.sockets.add(TcpSocket::new(config())).unwrap();
            self.a
                .sockets
                .connect_tcp(c, SocketAddrV4::new(B, 80), None)
                .unwrap();
            let mut accepted = None;
            for _ in 0..100_000 {
                let now = self.now;
                self.a.poll(now);
                self.b.poll(now);
                if accepted.is_none() {
                    accepted = self.b.sockets.accept_tcp(self.listener).ok();
                }
                if let Some(s) = accepted
                    && self.a.sockets.tcp(c).unwrap().is_established()
                {
                    return (c, s);
                }
            }
            panic!(
                "no connection: client {:?}, accepted {accepted:?}",
                self.a.sockets.tcp(c).unwrap().state()
            );
        }

        /// Moves `data` from A to B on the established connection.
        pub fn bulk(&mut self, data: &[u8], buf: &mut [u8]) -> usize {
            let (c, s) = self.conn.unwrap();
            let (mut sent, mut got) = (0, 0);
            while got < data.len() {
                let now = self.now;
                if sent < data.len() {
                    match self.a.sockets.tcp(c).unwrap().send(&data[sent..]) {
                        Ok(n) => sent += n,
                        Err(Error::WouldBlock) => {}
                        Err(e) => panic!("send: {e}"),
                    }
                }
                self.a.poll(now);
                self.b.poll(now);
                let t = self.b.sockets.tcp(s).unwrap();
                loop {
                    match t.recv(buf) {
                        Ok(n) if n > 0 => got += n,
                        _ => break,
                    }
                }
            }
            got
        }

        /// Opens `n` more connections (in batches) and keeps them all.
        pub fn open_many(&mut self, n: usize) -> Vec<(SocketHandle, SocketHandle)> {
            let mut out = Vec::with_capacity(n);
            let mut clients = Vec::new();
            while out.len() < n {
                let batch = (n - out.len()).min(32);
                for _ in 0..batch {
                    let c = self.a.sockets.add(TcpSocket::new(small())).unwrap();
                    self.a
                        .sockets
                        .connect_tcp(c, SocketAddrV4::new(B, 80), None)
                        .unwrap();
                    clients.push(c);
                }
                let mut accepted = Vec::new();
                for _ in 0..10_000 {
                    let now = self.now;
                    self.a.poll(now);
                    self.b.poll(now);
                    while let Ok(s) = self.b.sockets.accept_tcp(self.listener) {
                        accepted.push(s);
                    }
                    if accepted.len() == clients.len()
                        && clients
                            .iter()
                            .all(|&c| self.a.sockets.tcp(c).unwrap().is_established())
                    {
                        break;
                    }
                }
                assert_eq!(accepted.len(), clients.len(), "connections not accepted");
                // Pair client and server by their addresses.
                for c in clients.drain(..) {
                    let local = self.a.sockets.tcp(c).unwrap().local_addr().unwrap();
                    let s = *accepted
                        .iter()
                        .find(|&&s| self.b.sockets.tcp(s).unwrap().peer_addr() == Some(local))
                        .unwrap();
                    out.push((c, s));
                }
            }
            out
        }

        /// [`ping_pong`](Self::ping_pong) on the pair's own connection.
        pub fn ping_pong_main(&mut self, msg: &[u8], buf: &mut [u8]) {
            let conn = self.conn.unwrap();
            self.ping_pong(conn, msg, buf);
        }

        /// Sends `msg` on `conn` and has the peer echo it back.
        pub fn ping_pong(
            &mut self,
            (c, s): (SocketHandle, SocketHandle),
            msg: &[u8],
            buf: &mut [u8],
        ) {
            assert_eq!(self.a.sockets.tcp(c).unwrap().send(msg), Ok(msg.len()));
            let mut got = 0;
            let mut echoed = 0;
            while got < msg.len() {
                let now = self.now;
                self.a.poll(now);
                self.b.poll(now);
                let t = self.b.sockets.tcp(s).unwrap();
                if let Ok(n) = t.recv(buf)
                    && n > 0
                {
                    assert_eq!(t.send(&buf[..n]), Ok(n));
                    echoed += n;
                }
                let _ = echoed;
                self.b.poll(now);
                self.a.poll(now);
                if let Ok(n) = self.a.sockets.tcp(c).unwrap().recv(buf) {
                    got += n;
                }
            }
        }

        /// Connects, accepts and closes one connection.
        pub fn handshake(&mut self) {
            let (c, s) = self.connect();
            // Both ends close at once, as on the smoltcp side below (its
            // sockets close together too): the FINs cross, and the
            // exchange ends when neither socket is open any more (closed,
            // or resting in TIME-WAIT).
            self.a.sockets.tcp(c).unwrap().close();
            self.b.sockets.tcp(s).unwrap().close();
            let open = |st: State| !matches!(st, State::Closed | State::TimeWait);
            let mut rounds = 0;
            while open(self.a.sockets.tcp(c).unwrap().state())
                || open(self.b.sockets.tcp(s).unwrap().state())
            {
                let now = self.now;
                self.a.poll(now);
                self.b.poll(now);
                rounds += 1;
                assert!(
                    rounds < 100_000,
                    "no close: client {:?}, server {:?}",
                    self.a.sockets.tcp(c).unwrap().state(),
                    self.b.sockets.tcp(s).unwrap().state()
                );
            }
            // What rests in TIME-WAIT is dropped, as smoltcp's side is
            // dropped by its next connect.
            self.b.sockets.remove(s);
            self.a.sockets.remove(c);
        }
    }
}

pub mod smol_side {
    use super::*;
    use smoltcp::iface::{Interface, SocketHandle, SocketSet};
    use smoltcp::phy::{self, ChecksumCapabilities as SCaps, DeviceCapabilities, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant as SInstant;
    use smoltcp::wire::IpAddress;

    /// A `lamina_netdev::wire` port as a smoltcp device.
    pub struct SmolPort {
        port: Port,
        mtu: usize,
    }

    pub struct Rx<'a>(<Port as Device>::RxToken<'a>);
    pub struct Tx<'a>(<Port as Device>::TxToken<'a>, bool);

    impl phy::RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            lamina_netdev::RxToken::consume(self.0, |b| f(b))
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut token = self.0;
            if self.1 {
                // The device computes (and the peer's verifies) checksums.
                lamina_netdev::TxToken::set_meta(
                    &mut token,
                    lamina_netdev::TxMeta::new().with_checksum_offload(
                        lamina_netdev::ChecksumSet::ALL,
                        14,
                        34,
                    ),
                );
            }
            lamina_netdev::TxToken::consume(token, len, f).expect("frame fits")
        }
    }

    impl phy::Device for SmolPort {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _t: SInstant) -> Option<(Rx<'_>, Tx<'_>)> {
            let offload = self.mtu > 1500;
            self.port
                .receive(Instant::ZERO)
                .map(|(rx, tx)| (Rx(rx), Tx(tx, offload)))
        }

        fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
            let offload = self.mtu > 1500;
            self.port.transmit(Instant::ZERO).map(|t| Tx(t, offload))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = self.mtu + 14;
            if self.mtu > 1500 {
                caps.checksum = SCaps::ignored();
            }
            caps
        }
    }

    pub struct Host {
        iface: Interface,
        dev: SmolPort,
        sockets: SocketSet<'static>,
    }

    impl Host {
        fn new(port: Port, mtu: usize, mac: u8, ip: Ipv4Addr) -> Host {
            let mut dev = SmolPort { port, mtu };
            let iface = crate::smol_iface::smol_interface(&mut dev, mac, ip);
            Host {
                iface,
                dev,
                sockets: SocketSet::new(vec![]),
            }
        }

        fn poll(&mut self) {
            self.iface
                .poll(SInstant::ZERO, &mut self.dev, &mut self.sockets);
        }

        fn socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
            self.sockets.get_mut::<tcp::Socket<'static>>(h)
        }
    }

    fn socket() -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUF]),
            tcp::SocketBuffer::new(vec![0; BUF]),
        );
        // The clock stands still in this benchmark: a delayed ACK would
        // never come (with one 64 KiB segment in flight nothing else
        // forces it). Immediate ACKs are smoltcp's fastest setting here.
        s.set_ack_delay(None);
        s
    }

    /// A socket of the many-connections benchmark: small buffers.
    fn small_socket() -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; SMALL]),
            tcp::SocketBuffer::new(vec![0; SMALL]),
        );
        s.set_ack_delay(None);
        s
    }

    pub struct Pair {
        a: Host,
        b: Host,
        c: SocketHandle,
        s: SocketHandle,
        port: u16,
    }

    pub fn pair(mtu: usize) -> Pair {
        let (da, db) = wire(link(mtu));
        let mut a = Host::new(da, mtu, 1, Ipv4Addr::new(192, 0, 2, 1));
        let mut b = Host::new(db, mtu, 2, B);
        let c = a.sockets.add(socket());
        let s = b.sockets.add(socket());
        let mut p = Pair {
            a,
            b,
            c,
            s,
            port: 49152,
        };
        p.connect();
        p
    }

    impl Pair {
        fn connect(&mut self) {
            self.b.socket(self.s).listen(80).unwrap();
            self.port = if self.port == 65535 {
                49152
            } else {
                self.port + 1
            };
            let cx = self.a.iface.context();
            self.a
                .sockets
                .get_mut::<tcp::Socket<'static>>(self.c)
                .connect(cx, (IpAddress::Ipv4(B), 80), self.port)
                .unwrap();
            for _ in 0..10_000 {
                self.a.poll();
                self.b.poll();
                if self.a.socket(self.c).may_send() && self.b.socket(self.s).may_recv() {
                    return;
                }
            }
            panic!("smoltcp did not connect");
        }

        /// Opens `n` more connections (in batches) and keeps them all.
        pub fn open_many(&mut self, n: usize) -> Vec<(SocketHandle, SocketHandle)> {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let batch = (n - out.len()).min(32);
                let mut pairs = Vec::new();
                for _ in 0..batch {
                    let mut srv = small_socket();
                    srv.listen(80).unwrap();
                    let s = self.b.sockets.add(srv);
                    let c = self.a.sockets.add(small_socket());
                    self.port = if self.port == 65535 {
                        49152
                    } else {
                        self.port + 1
                    };
                    let cx = self.a.iface.context();
                    self.a
                        .sockets
                        .get_mut::<tcp::Socket<'static>>(c)
                        .connect(cx, (IpAddress::Ipv4(B), 80), self.port)
                        .unwrap();
                    pairs.push((c, s));
                }
                for _ in 0..10_000 {
                    self.a.poll();
                    self.b.poll();
                    if pairs.iter().all(|&(c, s)| {
                        self.a.socket(c).state() == tcp::State::Established
                            && self.b.socket(s).state() == tcp::State::Established
                    }) {
                        break;
                    }
                }
                // A listener takes whichever SYN comes: pair by address.
                let servers: Vec<SocketHandle> = pairs.iter().map(|&(_, s)| s).collect();
                for &(c, _) in &pairs {
                    let local = self.a.socket(c).local_endpoint().unwrap();
                    let s = *servers
                        .iter()
                        .find(|&&s| self.b.socket(s).remote_endpoint() == Some(local))
                        .expect("smoltcp connection established");
                    out.push((c, s));
                }
            }
            out
        }

        /// [`ping_pong`](Self::ping_pong) on the pair's own connection.
        pub fn ping_pong_main(&mut self, msg: &[u8], buf: &mut [u8]) {
            let conn = (self.c, self.s);
            self.ping_pong(conn, msg, buf);
        }

        /// Sends `msg` on `conn` and has the peer echo it back.
        pub fn ping_pong(
            &mut self,
            (c, s): (SocketHandle, SocketHandle),
            msg: &[u8],
            buf: &mut [u8],
        ) {
            assert_eq!(self.a.socket(c).send_slice(msg), Ok(msg.len()));
            let mut got = 0;
            while got < msg.len() {
                self.a.poll();
                self.b.poll();
                let t = self.b.socket(s);
                if let Ok(n) = t.recv_slice(buf)
                    && n > 0
                {
                    assert_eq!(t.send_slice(&buf[..n]), Ok(n));
                }
                self.b.poll();
                self.a.poll();
                if let Ok(n) = self.a.socket(c).recv_slice(buf) {
                    got += n;
                }
            }
        }

        pub fn bulk(&mut self, data: &[u8], buf: &mut [u8]) -> usize {
            let (mut sent, mut got) = (0, 0);
            let mut rounds = 0u32;
            while got < data.len() {
                rounds += 1;
                assert!(
                    rounds < 1_000_000,
                    "smoltcp stalled: sent {sent} got {got}, {} / {}",
                    self.a.socket(self.c).state(),
                    self.b.socket(self.s).state()
                );
                let c = self.a.socket(self.c);
                if sent < data.len() && c.can_send() {
                    sent += c.send_slice(&data[sent..]).unwrap();
                }
                self.a.poll();
                self.b.poll();
                let s = self.b.socket(self.s);
                while s.can_recv() {
                    got += s.recv_slice(buf).unwrap();
                }
            }
            got
        }

        pub fn handshake(&mut self) {
            // A fresh pair of sockets in the same sets, as a server's
            // accept and a client's new socket would be.
            self.a.socket(self.c).abort();
            self.b.socket(self.s).abort();
            self.a.poll();
            self.b.poll();
            self.connect();
            self.a.socket(self.c).close();
            self.b.socket(self.s).close();
            for _ in 0..10_000 {
                self.a.poll();
                self.b.poll();
                if !self.b.socket(self.s).is_open() {
                    // smoltcp's TIME-WAIT: the next connect aborts it,
                    // as the clock would have ended it.
                    return;
                }
            }
            panic!("smoltcp did not close");
        }
    }
}
