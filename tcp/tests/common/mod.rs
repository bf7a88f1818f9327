//! A deterministic in-process network for connection tests: two hosts,
//! each with an optional [`Connection`] and [`Listener`], joined by links
//! with delay, seeded random loss and reordering, and drop rules. Every
//! segment is serialised with `Outgoing::write` and parsed back with
//! `TcpSegment::parse_verified`, so the wire path is exercised. Time is a
//! fake clock advanced to the next event.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Duration, Instant, Rng, SeededRng, Serializer};
use lamina_tcp::{
    ChecksumMode, Connection, Listener, ListenerVerdict, Outgoing, SeqNumber, TcpConfig, TcpFlags,
    TcpRepr, TcpSegment, reset_for,
};

pub const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub fn a_addr() -> SocketAddrV4 {
    SocketAddrV4::new(A_IP, 40000)
}
pub fn b_addr() -> SocketAddrV4 {
    SocketAddrV4::new(B_IP, 80)
}

/// One segment seen on a link (for assertions).
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// true: A to B.
    pub from_a: bool,
    pub repr: TcpRepr,
    pub len: usize,
    pub dropped: bool,
}

impl Seen {
    pub fn has(&self, f: TcpFlags) -> bool {
        self.repr.flags.contains(f)
    }
    pub fn seq(&self) -> u32 {
        self.repr.seq_number.0
    }
}

type Rule = Box<dyn FnMut(&Seen) -> bool>;

/// One direction of the network.
pub struct Link {
    pub delay: Duration,
    /// Loss probability, per million.
    pub loss_ppm: u32,
    /// Extra random delay up to this, for reordering.
    pub jitter: Duration,
    /// Duplication probability, per million.
    pub dup_ppm: u32,
    /// Corruption probability (one byte flipped; the checksum then fails
    /// and the receiver drops it), per million.
    pub corrupt_ppm: u32,
    /// Drop when the rule says so (after `loss`).
    pub rule: Option<Rule>,
    queue: Vec<(Instant, u64, Vec<u8>)>,
}

impl Link {
    pub fn new(delay: Duration) -> Link {
        Link {
            delay,
            loss_ppm: 0,
            jitter: Duration::ZERO,
            dup_ppm: 0,
            corrupt_ppm: 0,
            rule: None,
            queue: Vec::new(),
        }
    }
}

pub struct Host {
    pub ip: Ipv4Addr,
    pub conn: Option<Connection>,
    pub listener: Option<Listener>,
    pub mss_limit: u16,
    /// RSTs the host's "stack" answered with for segments reaching nothing.
    pub resets_sent: usize,
    /// When non-zero, the connection transmits through
    /// `poll_transmit_gso` with this payload limit, and the host cuts what
    /// it gives into segments as a device's TCP segmentation offload does.
    pub gso: usize,
    /// The largest payload one `poll_transmit_gso` call gave.
    pub gso_largest: usize,
}

impl Host {
    fn new(ip: Ipv4Addr) -> Host {
        Host {
            ip,
            conn: None,
            listener: None,
            mss_limit: 1460,
            resets_sent: 0,
            gso: 0,
            gso_largest: 0,
        }
    }
}

pub struct Sim {
    pub now: Instant,
    pub a: Host,
    pub b: Host,
    pub ab: Link,
    pub ba: Link,
    pub log: Vec<Seen>,
    pub rng: SeededRng,
    /// Replies (listener or stack RSTs) waiting to be sent: (from_a, bytes).
    replies: VecDeque<(bool, Vec<u8>)>,
    order: u64,
    pub buf: Vec<u8>,
}

pub fn wire(repr: &TcpRepr, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    EmptyBody
        .wrap_in(repr.builder(src, dst).expect("options fit"))
        .serialize_vec(0)
        .expect("serialize")
        .as_slice()
        .to_vec()
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::from_secs(1000),
            a: Host::new(A_IP),
            b: Host::new(B_IP),
            ab: Link::new(Duration::from_millis(10)),
            ba: Link::new(Duration::from_millis(10)),
            log: Vec::new(),
            rng: SeededRng::new(seed),
            replies: VecDeque::new(),
            order: 0,
            buf: vec![0; 70_000],
        }
    }

    /// A client connection on A towards a listener on B.
    pub fn client_server(seed: u64, ca: &TcpConfig, cb: &TcpConfig) -> Sim {
        let mut sim = Sim::new(seed);
        let mut rng = SeededRng::new(seed ^ 0xabcdef);
        sim.b.listener = Some(Listener::new(b_addr(), cb.clone(), 16, &mut rng));
        let isn = SeqNumber(rng.next_u32());
        sim.a.conn = Some(Connection::connect(
            a_addr(),
            b_addr(),
            ca,
            isn,
            sim.a.mss_limit,
            sim.now,
        ));
        sim
    }

    /// Connects client and server and returns once both are established.
    pub fn established(seed: u64, ca: &TcpConfig, cb: &TcpConfig) -> Sim {
        let mut sim = Sim::client_server(seed, ca, cb);
        let deadline = sim.now + Duration::from_secs(5);
        sim.run_until(deadline, |s| {
            s.b.conn.as_ref().is_some_and(|c| c.is_established())
                && s.a.conn.as_ref().is_some_and(|c| c.is_established())
        });
        assert!(sim.a().is_established(), "client state {}", sim.a().state());
        sim
    }

    pub fn a(&mut self) -> &mut Connection {
        self.a.conn.as_mut().expect("A has a connection")
    }
    pub fn b(&mut self) -> &mut Connection {
        self.b.conn.as_mut().expect("B has a connection")
    }

    /// Sends every segment both hosts have ready now.
    pub fn transmit(&mut self) {
        for from_a in [true, false] {
            loop {
                let now = self.now;
                let (host, peer_ip) = if from_a {
                    (&mut self.a, B_IP)
                } else {
                    (&mut self.b, A_IP)
                };
                let mut out: Option<Vec<u8>> = None;
                if let Some(l) = host.listener.as_mut()
                    && let Some((local, _remote, repr)) = l.poll_transmit(now)
                {
                    out = Some(wire(&repr, *local.ip(), peer_ip));
                }
                if out.is_none() && host.gso > 0 {
                    let ip = host.ip;
                    if let Some(c) = host.conn.as_mut()
                        && let Some((o, size)) = c.poll_transmit_gso(now, host.gso)
                    {
                        host.gso_largest = host.gso_largest.max(o.payload_len());
                        let pieces = gso_segments(&o, size, ip, peer_ip);
                        for p in pieces {
                            self.put_on_link(from_a, p);
                        }
                        continue;
                    }
                }
                if out.is_none()
                    && let Some(c) = host.conn.as_mut()
                    && let Some(o) = c.poll_transmit(now)
                {
                    let n = o.write(host.ip, peer_ip, &mut self.buf, ChecksumMode::Compute);
                    assert_eq!(n, o.len(), "write fills len()");
                    out = Some(self.buf[..n].to_vec());
                }
                if out.is_none()
                    && let Some(pos) = self.replies.iter().position(|r| r.0 == from_a)
                {
                    out = self.replies.remove(pos).map(|r| r.1);
                }
                match out {
                    Some(bytes) => self.put_on_link(from_a, bytes),
                    None => break,
                }
            }
        }
    }

    fn put_on_link(&mut self, from_a: bool, bytes: Vec<u8>) {
        let (src, dst) = if from_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
        let seg = TcpSegment::parse_verified(&bytes, src, dst).expect("we build valid segments");
        let mut seen = Seen {
            at: self.now,
            from_a,
            repr: seg.to_repr(),
            len: seg.payload().len(),
            dropped: false,
        };
        let link = if from_a { &mut self.ab } else { &mut self.ba };
        let mut drop = link.loss_ppm > 0 && self.rng.below(1_000_000) < link.loss_ppm;
        if let Some(rule) = link.rule.as_mut()
            && rule(&seen)
        {
            drop = true;
        }
        seen.dropped = drop;
        self.log.push(seen);
        if drop {
            return;
        }
        let jitter = if link.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(u64::from(
                self.rng.below(link.jitter.total_micros() as u32 + 1),
            ))
        };
        let mut bytes = bytes;
        if link.corrupt_ppm > 0 && self.rng.below(1_000_000) < link.corrupt_ppm {
            let i = self.rng.below(bytes.len() as u32) as usize;
            bytes[i] ^= 1 << self.rng.below(8);
        }
        if link.dup_ppm > 0 && self.rng.below(1_000_000) < link.dup_ppm {
            self.order += 1;
            let later = self.now + link.delay + jitter + Duration::from_millis(1);
            link.queue.push((later, self.order, bytes.clone()));
        }
        self.order += 1;
        link.queue
            .push((self.now + link.delay + jitter, self.order, bytes));
    }

    /// Injects raw segment bytes as if sent by A (`from_a`) or B, now.
    pub fn inject(&mut self, from_a: bool, repr: &TcpRepr) {
        let (src, dst) = if from_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
        let bytes = wire(repr, src, dst);
        self.deliver(!from_a, &bytes);
    }

    /// Injects a segment with payload.
    pub fn inject_data(&mut self, from_a: bool, repr: &TcpRepr, payload: &[u8]) {
        let (src, dst) = if from_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
        let mut buf = vec![0u8; 70_000];
        let out = lamina_tcp::Outgoing {
            repr: *repr,
            payload: (payload, &[]),
            shared: None,
        };
        let n = out.write(src, dst, &mut buf, ChecksumMode::Compute);
        self.deliver(!from_a, &buf[..n]);
    }

    /// Delivers `bytes` to host A (`to_a`) or B.
    pub fn deliver(&mut self, to_a: bool, bytes: &[u8]) {
        let (src, dst) = if to_a { (B_IP, A_IP) } else { (A_IP, B_IP) };
        let Ok(seg) = TcpSegment::parse_verified(bytes, src, dst) else {
            return;
        };
        let now = self.now;
        let host = if to_a { &mut self.a } else { &mut self.b };
        let remote = SocketAddrV4::new(src, seg.src_port());
        let conn_matches = host.conn.as_ref().is_some_and(|c| {
            c.remote() == remote && c.local().port() == seg.dst_port() && !c.is_closed()
        });
        if conn_matches {
            let c = host.conn.as_mut().expect("matched");
            let reuse = c.accepts_syn_for_reuse(&seg);
            c.on_segment(&seg, now);
            if !(reuse && host.listener.is_some()) {
                return;
            }
        }
        if let Some(l) = host.listener.as_mut()
            && seg.dst_port() == l.local().port()
        {
            match l.on_segment(dst, remote, &seg, host.mss_limit, now) {
                ListenerVerdict::Reply(repr) => {
                    let b = wire(&repr, dst, src);
                    self.replies.push_back((to_a, b));
                }
                ListenerVerdict::Handled => {
                    let free = host.conn.as_ref().is_none_or(|c| c.is_closed());
                    if free && let Some(c) = l.accept() {
                        host.conn = Some(*c);
                    }
                }
                ListenerVerdict::Dropped => {}
            }
            return;
        }
        if let Some(r) = reset_for(&seg) {
            host.resets_sent += 1;
            let b = wire(&r, dst, src);
            self.replies.push_back((to_a, b));
        }
    }

    /// Delivers every segment due by now.
    pub fn receive(&mut self) -> bool {
        let mut any = false;
        for to_a in [false, true] {
            loop {
                let link = if to_a { &mut self.ba } else { &mut self.ab };
                let now = self.now;
                let next = link
                    .queue
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.0 <= now)
                    .min_by_key(|(_, e)| (e.0, e.1))
                    .map(|(i, _)| i);
                let Some(i) = next else { break };
                let (_, _, bytes) = link.queue.remove(i);
                self.deliver(to_a, &bytes);
                any = true;
            }
        }
        any
    }

    /// The next instant anything happens (delivery or timer).
    pub fn next_event(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut c = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for l in [&self.ab, &self.ba] {
            c(l.queue.iter().map(|e| e.0).min());
        }
        for h in [&self.a, &self.b] {
            c(h.conn.as_ref().and_then(|c| c.poll_at()));
            c(h.listener.as_ref().and_then(|l| l.poll_at()));
        }
        t
    }

    /// One round: transmit, deliver, advance the clock to the next event
    /// (at most `deadline`). Returns false when nothing is left to do.
    pub fn step(&mut self, deadline: Instant) -> bool {
        self.transmit();
        if self.receive() {
            return true;
        }
        self.transmit();
        match self.next_event() {
            Some(t) if t <= self.now => {
                // Something is due now; transmit handled timers. Avoid
                // spinning: move a microsecond on.
                self.now += Duration::from_micros(1);
                true
            }
            Some(t) if t <= deadline => {
                self.now = t;
                true
            }
            _ => false,
        }
    }

    /// Runs until `done` holds or nothing happens before `deadline`.
    pub fn run_until(&mut self, deadline: Instant, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
        let mut guard = 0u64;
        loop {
            if done(self) {
                return true;
            }
            if self.now > deadline || !self.step(deadline) {
                return done(self);
            }
            guard += 1;
            assert!(guard < 50_000_000, "simulation does not converge");
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline, |_| false);
        self.now = self.now.max(deadline);
    }

    pub fn segments(&self, from_a: bool) -> impl Iterator<Item = &Seen> {
        self.log.iter().filter(move |s| s.from_a == from_a)
    }
}

/// Deterministic test data: byte i is `i % 251`.
pub fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

/// Transfers `total` bytes from A to B (and `back` from B to A) through the
/// simulation, then closes both sides; returns what each side received.
pub fn transfer(sim: &mut Sim, total: usize, back: usize, limit: Duration) -> (Vec<u8>, Vec<u8>) {
    let deadline = sim.now + limit;
    let mut sent = [0usize; 2];
    let mut got: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut closed = [false; 2];
    let want = [total, back];
    let mut buf = vec![0u8; 65536];
    sim.run_until(deadline, |s| {
        for (i, host) in [&mut s.a, &mut s.b].into_iter().enumerate() {
            let Some(c) = host.conn.as_mut() else {
                continue;
            };
            while sent[i] < want[i] {
                let chunk = pattern(sent[i], (want[i] - sent[i]).min(16384));
                match c.send(&chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent[i] += n,
                }
            }
            if sent[i] == want[i] && !closed[i] {
                c.shutdown_write();
                closed[i] = true;
            }
            while let Ok(n) = c.recv(&mut buf) {
                if n == 0 {
                    break;
                }
                got[1 - i].extend_from_slice(&buf[..n]);
            }
        }
        let fin = |c: &Option<Connection>| c.as_ref().is_some_and(|c| c.recv_finished());
        got[0].len() == total && got[1].len() == back && fin(&s.a.conn) && fin(&s.b.conn)
    });
    let [x, y] = got;
    (x, y)
}

impl Sim {
    /// The sequence number host A (`of_a`) expects next from its peer: the
    /// ACK number of the last segment it sent.
    pub fn rcv_nxt(&self, of_a: bool) -> SeqNumber {
        self.segments(of_a)
            .filter(|s| s.has(TcpFlags::ACK))
            .last()
            .map(|s| s.repr.ack_number)
            .expect("host sent an ACK")
    }

    /// The next sequence number host A (`of_a`) will use: past the end of
    /// everything it sent.
    pub fn snd_nxt(&self, of_a: bool) -> SeqNumber {
        self.segments(of_a)
            .map(|s| {
                let r = &s.repr;
                r.seq_number + r.segment_len(s.len) as u32
            })
            .reduce(|a, b| a.max(b))
            .expect("host sent something")
    }

    /// A segment header from one host to the other with the right ports.
    pub fn repr(&self, from_a: bool, flags: TcpFlags, seq: SeqNumber, ack: SeqNumber) -> TcpRepr {
        let (s, d) = if from_a {
            (a_addr(), b_addr())
        } else {
            (b_addr(), a_addr())
        };
        TcpRepr {
            src_port: s.port(),
            dst_port: d.port(),
            seq_number: seq,
            ack_number: ack,
            flags,
            window_len: 1000,
            ..TcpRepr::default()
        }
    }

    /// Lets everything in flight settle (no segment for `quiet`).
    pub fn settle(&mut self) {
        self.run_for(Duration::from_millis(500));
    }
}

/// Cuts a segment from `poll_transmit_gso` into segments of `size` payload
/// bytes as TCP segmentation offload does (RFC-less, as Linux's
/// `tcp_gso_segment`): the header repeated with the sequence number
/// advanced, PSH and FIN on the last piece only. Checks the promises the
/// connection makes: every piece full but the last, at most 64 KiB.
pub fn gso_segments(o: &Outgoing<'_>, size: u16, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<Vec<u8>> {
    let mut payload = o.payload.0.to_vec();
    payload.extend_from_slice(o.payload.1);
    let size = usize::from(size);
    if payload.len() <= size || size == 0 {
        let mut buf = vec![0u8; o.len()];
        let n = o.write(src, dst, &mut buf, ChecksumMode::Compute);
        assert_eq!(n, o.len());
        return vec![buf];
    }
    assert!(payload.len() <= 65_535, "a GSO segment fits an IPv4 packet");
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            assert!(
                i == last || chunk.len() == size,
                "all pieces full but the last"
            );
            let mut repr = o.repr;
            repr.seq_number = o.repr.seq_number + (i * size) as u32;
            if i != last {
                repr.flags.remove(TcpFlags::PSH | TcpFlags::FIN);
            }
            let piece = Outgoing {
                repr,
                payload: (chunk, &[]),
                shared: None,
            };
            let mut buf = vec![0u8; piece.len()];
            let n = piece.write(src, dst, &mut buf, ChecksumMode::Compute);
            assert_eq!(n, piece.len());
            buf
        })
        .collect()
}
