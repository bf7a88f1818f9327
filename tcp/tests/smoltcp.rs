//! Interoperability with smoltcp 0.14 in process: our `Connection` or
//! `Listener` against a smoltcp TCP socket on an IP-medium interface,
//! over an in-memory wire with a fake clock (delay, seeded loss and
//! reordering). Transfers both ways are checked byte for byte.

mod common;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use common::pattern;
use lamina_netbuf::{Duration, Instant, Rng, SeededRng};
use lamina_tcp::{ChecksumMode, Connection, Listener, SeqNumber, TcpConfig, TcpSegment};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpCidr, IpProtocol, Ipv4Packet, Ipv4Repr};

const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const THEIRS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// smoltcp's side of the wire: IP packets in and out.
#[derive(Default)]
struct Wire {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct RxTok(Vec<u8>);
struct TxTok<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxTok {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut v = vec![0; len];
        let r = f(&mut v);
        self.0.push(v);
        r
    }
}

impl phy::Device for Wire {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok<'a>;
    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(RxTok, TxTok<'_>)> {
        let p = self.rx.pop_front()?;
        Some((RxTok(p), TxTok(&mut self.tx)))
    }
    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<TxTok<'_>> {
        Some(TxTok(&mut self.tx))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = 1500;
        c
    }
}

fn sm_now(t: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(t.total_micros() as i64)
}

/// Both stacks, the wire between them, and the fault model.
struct Pair {
    now: Instant,
    rng: SeededRng,
    loss_ppm: u32,
    jitter_us: u32,
    delay: Duration,
    /// (deliver at, order, to smoltcp?, IP packet)
    queue: Vec<(Instant, u64, bool, Vec<u8>)>,
    order: u64,
    wire: Wire,
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    conn: Option<Connection>,
    listener: Option<Listener>,
    buf: Vec<u8>,
}

impl Pair {
    fn new(seed: u64, loss_ppm: u32, jitter_us: u32) -> Pair {
        let now = Instant::from_secs(10);
        let mut wire = Wire::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut wire, sm_now(now));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(THEIRS.into(), 24)).unwrap();
        });
        let mut sockets = SocketSet::new(vec![]);
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 256 * 1024]),
            tcp::SocketBuffer::new(vec![0; 256 * 1024]),
        );
        let handle = sockets.add(sock);
        Pair {
            now,
            rng: SeededRng::new(seed),
            loss_ppm,
            jitter_us,
            delay: Duration::from_millis(1),
            queue: Vec::new(),
            order: 0,
            wire,
            iface,
            sockets,
            handle,
            conn: None,
            listener: None,
            buf: vec![0; 2000],
        }
    }

    fn sock(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'_>>(self.handle)
    }

    fn put(&mut self, to_smoltcp: bool, ip: Vec<u8>) {
        if self.loss_ppm > 0 && self.rng.below(1_000_000) < self.loss_ppm {
            return;
        }
        let jitter = if self.jitter_us > 0 {
            Duration::from_micros(u64::from(self.rng.below(self.jitter_us)))
        } else {
            Duration::ZERO
        };
        self.order += 1;
        self.queue
            .push((self.now + self.delay + jitter, self.order, to_smoltcp, ip));
    }

    /// Wraps a TCP segment of ours in an IPv4 header.
    fn ip_wrap(tcp: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src_addr: OURS,
            dst_addr: THEIRS,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.len(),
            hop_limit: 64,
        };
        let mut v = vec![0u8; 20 + tcp.len()];
        repr.emit(
            &mut Ipv4Packet::new_unchecked(&mut v[..]),
            &ChecksumCapabilities::default(),
        );
        v[20..].copy_from_slice(tcp);
        v
    }

    /// One round: everyone transmits, due packets are delivered, time
    /// moves to the next event.
    fn step(&mut self) {
        let now = self.now;
        // Ours.
        let mut out = Vec::new();
        if let Some(l) = self.listener.as_mut() {
            while let Some((_, _, repr)) = l.poll_transmit(now) {
                let o = lamina_tcp::Outgoing {
                    repr,
                    payload: (&[], &[]),
                    shared: None,
                };
                let n = o.write(OURS, THEIRS, &mut self.buf, ChecksumMode::Compute);
                out.push(self.buf[..n].to_vec());
            }
        }
        if let Some(c) = self.conn.as_mut() {
            while let Some(o) = c.poll_transmit(now) {
                let n = o.write(OURS, THEIRS, &mut self.buf, ChecksumMode::Compute);
                out.push(self.buf[..n].to_vec());
            }
        }
        for seg in out {
            let ip = Pair::ip_wrap(&seg);
            self.put(true, ip);
        }
        // smoltcp's.
        self.iface
            .poll(sm_now(now), &mut self.wire, &mut self.sockets);
        for ip in std::mem::take(&mut self.wire.tx) {
            self.put(false, ip);
        }
        // Deliver what is due.
        self.queue.sort_by_key(|e| (e.0, e.1));
        while self.queue.first().is_some_and(|e| e.0 <= now) {
            let (_, _, to_smoltcp, ip) = self.queue.remove(0);
            if to_smoltcp {
                self.wire.rx.push_back(ip);
            } else {
                self.deliver_to_us(&ip);
            }
        }
        self.iface
            .poll(sm_now(now), &mut self.wire, &mut self.sockets);
        // Next event.
        let mut next = self.queue.first().map(|e| e.0);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        consider(self.conn.as_ref().and_then(|c| c.poll_at()));
        consider(self.listener.as_ref().and_then(|l| l.poll_at()));
        consider(
            self.iface
                .poll_at(sm_now(now), &self.sockets)
                .map(|t| Instant::from_micros(t.total_micros() as u64)),
        );
        let step = Duration::from_micros(100);
        self.now = match next {
            Some(t) if t > now => t.min(now + Duration::from_millis(50)),
            _ => now + step,
        };
    }

    fn deliver_to_us(&mut self, ip: &[u8]) {
        let Ok(pkt) = Ipv4Packet::new_checked(ip) else {
            return;
        };
        let src = pkt.src_addr();
        let Ok(seg) = TcpSegment::parse_verified(pkt.payload(), src, OURS) else {
            return;
        };
        let now = self.now;
        let remote = SocketAddrV4::new(src, seg.src_port());
        if let Some(c) = self.conn.as_mut()
            && c.remote() == remote
            && !c.is_closed()
        {
            c.on_segment(&seg, now);
            return;
        }
        let mut reply = None;
        if let Some(l) = self.listener.as_mut() {
            if let lamina_tcp::ListenerVerdict::Reply(r) =
                l.on_segment(OURS, remote, &seg, 1460, now)
            {
                reply = Some(r);
            }
            if self.conn.is_none() {
                self.conn = l.accept().map(|c| *c);
            }
        }
        if let Some(r) = reply {
            let o = lamina_tcp::Outgoing {
                repr: r,
                payload: (&[], &[]),
                shared: None,
            };
            let n = o.write(OURS, src, &mut self.buf, ChecksumMode::Compute);
            let ip = Pair::ip_wrap(&self.buf[..n]);
            self.put(true, ip);
        }
    }

    /// Moves `total` bytes each way (ours to smoltcp and back) and closes.
    fn exchange(&mut self, total: usize, limit: Duration) {
        let deadline = self.now + limit;
        let (mut our_sent, mut our_got) = (0usize, Vec::new());
        let (mut sm_sent, mut sm_got) = (0usize, Vec::new());
        let mut buf = vec![0u8; 65536];
        let mut our_closed = false;
        let mut sm_closed = false;
        while self.now < deadline {
            if let Some(c) = self.conn.as_mut()
                && c.is_established()
            {
                while our_sent < total {
                    match c.send(&pattern(our_sent, (total - our_sent).min(16384))) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => our_sent += n,
                    }
                }
                if our_sent == total && !our_closed {
                    c.shutdown_write();
                    our_closed = true;
                }
                while let Ok(n @ 1..) = c.recv(&mut buf) {
                    our_got.extend_from_slice(&buf[..n]);
                }
            }
            let s = self.sock();
            if s.may_send() {
                while sm_sent < total && s.can_send() {
                    let chunk = pattern(sm_sent, (total - sm_sent).min(16384));
                    match s.send_slice(&chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sm_sent += n,
                    }
                }
                if sm_sent == total && !sm_closed {
                    s.close();
                    sm_closed = true;
                }
            }
            while let Ok(n @ 1..) = s.recv_slice(&mut buf) {
                sm_got.extend_from_slice(&buf[..n]);
            }
            let ours_done = self.conn.as_ref().is_some_and(|c| c.recv_finished());
            if our_got.len() == total && sm_got.len() == total && ours_done {
                break;
            }
            self.step();
        }
        assert_eq!(sm_got.len(), total, "smoltcp received");
        assert_eq!(our_got.len(), total, "we received");
        assert!(sm_got == pattern(0, total), "smoltcp got our bytes exactly");
        assert!(
            our_got == pattern(0, total),
            "we got smoltcp's bytes exactly"
        );
    }
}

fn our_config() -> TcpConfig {
    TcpConfig {
        send_buffer: 256 * 1024,
        recv_buffer: 256 * 1024,
        ..TcpConfig::default()
    }
}

fn our_client_to_smoltcp_server(seed: u64, loss_ppm: u32, jitter_us: u32, total: usize) {
    let mut p = Pair::new(seed, loss_ppm, jitter_us);
    p.sock().listen(80).unwrap();
    p.conn = Some(Connection::connect(
        SocketAddrV4::new(OURS, 49152),
        SocketAddrV4::new(THEIRS, 80),
        &our_config(),
        SeqNumber(0xfff0_0000),
        1460,
        p.now,
    ));
    p.exchange(total, Duration::from_secs(3600));
}

fn smoltcp_client_to_our_server(seed: u64, loss_ppm: u32, jitter_us: u32, total: usize) {
    let mut p = Pair::new(seed, loss_ppm, jitter_us);
    let mut rng = SeededRng::new(seed);
    p.listener = Some(Listener::new(
        SocketAddrV4::new(OURS, 80),
        our_config(),
        4,
        &mut rng,
    ));
    let cx = p.iface.context();
    let s = p.sockets.get_mut::<tcp::Socket<'_>>(p.handle);
    s.connect(cx, (OURS, 80), 49153).unwrap();
    p.exchange(total, Duration::from_secs(3600));
}

#[test]
fn our_client_and_smoltcp_server_exchange_byte_exact() {
    our_client_to_smoltcp_server(1, 0, 0, 16 << 20);
}

#[test]
fn smoltcp_client_and_our_server_exchange_byte_exact() {
    smoltcp_client_to_our_server(2, 0, 0, 16 << 20);
}

#[test]
fn our_client_and_smoltcp_server_under_loss_and_reordering() {
    our_client_to_smoltcp_server(3, 50_000, 2000, 2 << 20);
}

#[test]
fn smoltcp_client_and_our_server_under_loss_and_reordering() {
    smoltcp_client_to_our_server(4, 50_000, 2000, 2 << 20);
}
