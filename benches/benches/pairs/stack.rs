//! The two hosts of the `stack` benchmarks, Lamina's and smoltcp's, on
//! an in-memory wire: shared by the criterion group (`benches/stack.rs`)
//! and the `workload` example that runs one of them a given number of
//! times (for instruction counts: `scripts/instr-ratios.sh`).

use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_ethernet::MacAddr;
use lamina_netbuf::{Instant, SeededRng};
use lamina_netdev::{Device, LinkConfig, Port, wire};

pub const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const BATCH: usize = 16;

pub mod lamina_side {
    use super::*;
    use lamina_socket::{
        IcmpSocket, Interface, InterfaceConfig, SocketHandle, SocketSet, UdpSocket,
    };

    pub struct Host {
        pub iface: Interface,
        pub dev: Port,
        pub sockets: SocketSet,
    }

    impl Host {
        fn new(dev: Port, mac: u8, cidr: &str, seed: u64) -> Host {
            let mut rng = SeededRng::new(seed);
            let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
            let id = iface
                .add_device(&dev, MacAddr::new(2, 0, 0, 0, 0, mac))
                .unwrap();
            iface
                .add_address(id, cidr.parse().unwrap(), Instant::ZERO)
                .unwrap();
            Host {
                iface,
                dev,
                sockets: SocketSet::new(16_384, &mut rng),
            }
        }

        pub fn poll(&mut self) {
            self.iface
                .poll(Instant::ZERO, &mut self.dev, &mut self.sockets);
        }
    }

    pub struct Pair {
        pub a: Host,
        pub b: Host,
        pub ping: SocketHandle,
        pub tx: SocketHandle,
        pub rx: SocketHandle,
    }

    pub fn pair() -> Pair {
        let (da, db) = wire(LinkConfig::new().with_queue_len(256));
        let mut a = Host::new(da, 1, "192.0.2.1/24", 1);
        let mut b = Host::new(db, 2, "192.0.2.2/24", 2);
        let ping = a.sockets.add(IcmpSocket::default()).unwrap();
        a.sockets.bind_icmp(ping, Some(0x1234)).unwrap();
        let tx = a.sockets.add(UdpSocket::default()).unwrap();
        a.sockets
            .bind_udp(tx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
            .unwrap();
        let rx = b.sockets.add(UdpSocket::default()).unwrap();
        b.sockets
            .bind_udp(rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
            .unwrap();
        let mut p = Pair { a, b, ping, tx, rx };
        // Resolve ARP both ways.
        assert_eq!(p.ping_once(0, b"warm up"), 7);
        p
    }

    impl Pair {
        /// Binds `n` more (idle) UDP sockets on each host, ports 10000 on.
        pub fn add_idle_udp(&mut self, n: u16) {
            for h in [&mut self.a, &mut self.b] {
                for i in 0..n {
                    let s = h.sockets.add(UdpSocket::default()).unwrap();
                    h.sockets
                        .bind_udp(s, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 10_000 + i))
                        .unwrap();
                }
            }
        }
    }

    impl Pair {
        pub fn ping_once(&mut self, seq: u16, data: &[u8]) -> usize {
            self.a
                .sockets
                .icmp(self.ping)
                .unwrap()
                .send_echo(B, seq, data)
                .unwrap();
            for _ in 0..4 {
                self.a.poll();
                self.b.poll();
                let mut buf = [0u8; 128];
                if let Ok(r) = self
                    .a
                    .sockets
                    .icmp(self.ping)
                    .unwrap()
                    .recv_echo_into(&mut buf)
                {
                    return r.len;
                }
            }
            panic!("no echo reply")
        }

        pub fn udp_batch(&mut self, payload: &[u8], buf: &mut [u8]) -> usize {
            let dst = SocketAddrV4::new(B, 7);
            for _ in 0..BATCH {
                self.a
                    .sockets
                    .udp(self.tx)
                    .unwrap()
                    .send_to(payload, dst)
                    .unwrap();
            }
            self.a.poll();
            self.b.poll();
            let mut n = 0;
            while let Ok((len, _)) = self.b.sockets.udp(self.rx).unwrap().recv_from(buf) {
                n += len;
            }
            n
        }
    }
}

pub mod smol_side {
    use super::*;
    use smoltcp::iface::{Interface, SocketHandle, SocketSet};
    use smoltcp::phy::{self, DeviceCapabilities, Medium};
    use smoltcp::socket::{icmp, udp};
    use smoltcp::time::Instant as SInstant;
    use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};

    /// A `lamina_netdev::wire` port as a smoltcp device.
    pub struct SmolPort(pub Port);

    pub struct Rx<'a>(<Port as Device>::RxToken<'a>);
    pub struct Tx<'a>(<Port as Device>::TxToken<'a>);

    impl phy::RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            lamina_netdev::RxToken::consume(self.0, |b| f(b))
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            lamina_netdev::TxToken::consume(self.0, len, f).expect("frame fits")
        }
    }

    impl phy::Device for SmolPort {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _t: SInstant) -> Option<(Rx<'_>, Tx<'_>)> {
            self.0
                .receive(Instant::ZERO)
                .map(|(rx, tx)| (Rx(rx), Tx(tx)))
        }

        fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
            self.0.transmit(Instant::ZERO).map(Tx)
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = 1514;
            caps
        }
    }

    pub struct Host {
        pub iface: Interface,
        pub dev: SmolPort,
        pub sockets: SocketSet<'static>,
    }

    impl Host {
        fn new(port: Port, mac: u8, ip: Ipv4Addr) -> Host {
            let mut dev = SmolPort(port);
            let iface = crate::smol_iface::smol_interface(&mut dev, mac, ip);
            Host {
                iface,
                dev,
                sockets: SocketSet::new(vec![]),
            }
        }

        pub fn poll(&mut self) {
            self.iface
                .poll(SInstant::ZERO, &mut self.dev, &mut self.sockets);
        }
    }

    pub struct Pair {
        pub a: Host,
        pub b: Host,
        pub ping: SocketHandle,
        pub tx: SocketHandle,
        pub rx: SocketHandle,
    }

    fn udp_socket() -> udp::Socket<'static> {
        udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 256 * 1024]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 256 * 1024]),
        )
    }

    pub fn pair() -> Pair {
        let (da, db) = wire(LinkConfig::new().with_queue_len(256));
        let mut a = Host::new(da, 1, A);
        let mut b = Host::new(db, 2, B);
        let mut ping = icmp::Socket::new(
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 65536]),
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 65536]),
        );
        ping.bind(icmp::Endpoint::Ident(0x1234)).unwrap();
        let ping = a.sockets.add(ping);
        let mut tx = udp_socket();
        tx.bind(5000).unwrap();
        let tx = a.sockets.add(tx);
        let mut rx = udp_socket();
        rx.bind(7).unwrap();
        let rx = b.sockets.add(rx);
        let mut p = Pair { a, b, ping, tx, rx };
        // ARP resolution: smoltcp drops the first packet while it asks,
        // so ping until answered.
        let mut ok = false;
        for _ in 0..8 {
            if p.try_ping(0, b"warm up").is_some() {
                ok = true;
                break;
            }
        }
        assert!(
            ok,
            "smoltcp warm-up ping unanswered: a {:?} b {:?}",
            p.a.dev.0.stats(),
            p.b.dev.0.stats()
        );
        p
    }

    impl Pair {
        /// Binds `n` more (idle) UDP sockets on each host, ports 10000 on
        /// (small buffers: they never hold anything).
        pub fn add_idle_udp(&mut self, n: u16) {
            for h in [&mut self.a, &mut self.b] {
                for i in 0..n {
                    let mut s = udp::Socket::new(
                        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 1], vec![0; 64]),
                        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 1], vec![0; 64]),
                    );
                    s.bind(10_000 + i).unwrap();
                    h.sockets.add(s);
                }
            }
        }

        fn try_ping(&mut self, seq: u16, data: &[u8]) -> Option<usize> {
            let repr = Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: seq,
                data,
            };
            let caps = DeviceCapabilities::default();
            {
                let s = self.a.sockets.get_mut::<icmp::Socket<'_>>(self.ping);
                let buf = s.send(repr.buffer_len(), IpAddress::Ipv4(B)).unwrap();
                repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps.checksum);
            }
            for _ in 0..4 {
                self.a.poll();
                self.b.poll();
                let s = self.a.sockets.get_mut::<icmp::Socket<'_>>(self.ping);
                if let Ok((payload, _)) = s.recv() {
                    let p = Icmpv4Packet::new_checked(payload).ok()?;
                    let r = Icmpv4Repr::parse(&p, &caps.checksum).ok()?;
                    if let Icmpv4Repr::EchoReply { data, .. } = r {
                        return Some(data.len());
                    }
                }
            }
            None
        }

        pub fn ping_once(&mut self, seq: u16, data: &[u8]) -> usize {
            self.try_ping(seq, data).expect("echo reply")
        }

        pub fn udp_batch(&mut self, payload: &[u8], buf: &mut [u8]) -> usize {
            let dst = (IpAddress::Ipv4(B), 7);
            for _ in 0..BATCH {
                self.a
                    .sockets
                    .get_mut::<udp::Socket<'_>>(self.tx)
                    .send_slice(payload, dst)
                    .unwrap();
            }
            self.a.poll();
            self.b.poll();
            let mut n = 0;
            let s = self.b.sockets.get_mut::<udp::Socket<'_>>(self.rx);
            while let Ok((len, _)) = s.recv_slice(buf) {
                n += len;
            }
            n
        }
    }
}
