//! Fuzz target `tcp_listener`: a `lamina_tcp::Listener` with a small SYN
//! queue and backlog (SYN cookies on) fed segments from many sources:
//! SYNs with any options, the right final ACKs of handshakes it answered
//! (from its queue or with a cookie), those ACKs altered (numbers, port,
//! TSecr), ACKs forged from arbitrary numbers, segments with arbitrary
//! fields and raw bytes; with a stepping clock, and connections accepted
//! and driven a little.
//!
//! Every segment is built and re-parsed with `TcpSegment::parse_verified`
//! as on a wire. The target checks:
//!
//! - nothing panics; `half_open() <= syn_queue` and `pending() <=
//!   backlog` always;
//! - every SYN-ACK from `poll_transmit`, every `Reply` and every segment
//!   of an accepted connection serialises and re-parses to the same
//!   header;
//! - a handshake completes only with an ACK of a SYN-ACK the listener
//!   sent: from its queue (the acknowledgment number one past that
//!   SYN-ACK's ISN, from the same address and port) or, for a cookie
//!   (RFC 4987 §3.6), one issued in a `Reply` for the same 4-tuple and
//!   peer ISN;
//! - an accepted connection is synchronized (or was reset while it waited);
//! - half-open entries give up after their SYN-ACK retries once the clock
//!   passes every backoff (RFC 9293 §3.8.1, Linux's `tcp_synack_retries`).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Result, Unstructured};
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Duration, Instant, SeededRng, Serializer};
use lamina_tcp::{
    ChecksumMode, Connection, Listener, ListenerVerdict, SackBlock, SackBlocks, SeqNumber,
    TcpConfig, TcpFlags, TcpRepr, TcpSegment, Timestamps,
};

const LOCAL_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 80), Ipv4Addr::new(198, 51, 100, 1)];
const REMOTE_IPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(192, 0, 2, 2),
    Ipv4Addr::new(203, 0, 113, 9),
];
const PORT: u16 = 80;

/// Serialises `repr` with `payload` from `src` to `dst`; `None` if its
/// options do not fit.
pub(crate) fn build(
    repr: &TcpRepr,
    payload: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Option<Vec<u8>> {
    let builder = repr.builder(src, dst).ok()?;
    let bytes = if payload.is_empty() {
        EmptyBody.wrap_in(builder).serialize_vec(0).ok()?
    } else {
        payload.wrap_in(builder).serialize_vec(0).ok()?
    };
    Some(bytes.as_slice().to_vec())
}

/// Builds `repr` as the listener's side sends it and checks it re-parses
/// to the same header.
fn check_reply(repr: &TcpRepr, local: Ipv4Addr, remote: Ipv4Addr) {
    let bytes = build(repr, &[], local, remote).expect("a listener's segment builds");
    let seg = TcpSegment::parse_verified(&bytes, local, remote).expect("reply re-parses");
    assert_eq!(&seg.to_repr(), repr, "reply changed on the wire");
}

fn remote(u: &mut Unstructured<'_>) -> Result<SocketAddrV4> {
    if u.ratio(1, 8)? {
        return Ok(SocketAddrV4::new(
            Ipv4Addr::from_bits(u.arbitrary()?),
            u.arbitrary()?,
        ));
    }
    Ok(SocketAddrV4::new(
        *u.choose(&REMOTE_IPS)?,
        40000 + u16::from(u.int_in_range(0..=3u8)?),
    ))
}

/// A SYN-ACK the listener sent: `(local, remote, its ISN, peer ISN, its
/// TSval)`.
type Issued = (
    SocketAddrV4,
    SocketAddrV4,
    SeqNumber,
    SeqNumber,
    Option<u32>,
);

struct Run {
    l: Listener,
    syn_queue: usize,
    backlog: usize,
    cookies_on: bool,
    now: Instant,
    /// SYN-ACKs from `poll_transmit` (half-open entries).
    queued: Vec<Issued>,
    /// SYN-ACKs carrying cookies, from `Reply`.
    cookies: Vec<Issued>,
    cookie_set: HashSet<(SocketAddrV4, SocketAddrV4, u32, u32)>,
    accepted: Vec<Connection>,
}

impl Run {
    fn deliver(&mut self, local_ip: Ipv4Addr, from: SocketAddrV4, bytes: &[u8]) {
        let Ok(seg) = TcpSegment::parse_verified(bytes, *from.ip(), local_ip) else {
            return;
        };
        self.deliver_seg(local_ip, from, &seg);
    }

    fn deliver_seg(&mut self, local_ip: Ipv4Addr, from: SocketAddrV4, seg: &TcpSegment<'_>) {
        let local = SocketAddrV4::new(local_ip, PORT);
        let before = *self.l.stats();
        let pending = self.l.pending();
        let mss_limit = 1460;
        let v = self.l.on_segment(local_ip, from, seg, mss_limit, self.now);
        let after = *self.l.stats();
        if let ListenerVerdict::Reply(repr) = &v {
            check_reply(repr, local_ip, *from.ip());
            if repr.flags == TcpFlags::SYN | TcpFlags::ACK {
                assert!(seg.syn() && !seg.ack(), "a SYN-ACK answers a SYN");
                assert_eq!(repr.ack_number, seg.seq_number() + 1);
                assert_eq!(after.cookies_sent, before.cookies_sent + 1);
                // RFC 4987 §3.6: cookies only when the queue is full.
                assert!(self.cookies_on, "a cookie with cookies off");
                assert_eq!(
                    self.l.half_open(),
                    self.syn_queue,
                    "a cookie with room queued"
                );
                self.cookies.push((
                    local,
                    from,
                    repr.seq_number,
                    seg.seq_number(),
                    repr.timestamps.map(|t| t.tsval),
                ));
                self.cookie_set
                    .insert((local, from, repr.seq_number.0, seg.seq_number().0));
            } else {
                assert!(repr.flags.contains(TcpFlags::RST), "reply {:?}", repr.flags);
                assert!(!seg.rst(), "never answer a RST");
            }
        }
        if after.established > before.established {
            assert_eq!(after.established, before.established + 1);
            assert_eq!(v, ListenerVerdict::Handled);
            assert!(seg.ack() && !seg.syn() && !seg.rst());
            let our_isn = seg.ack_number() - 1;
            let peer_isn = seg.seq_number() - 1;
            if after.cookies_accepted > before.cookies_accepted {
                // RFC 4987 §3.6: only a cookie we issued passes.
                assert!(
                    self.cookie_set
                        .contains(&(local, from, our_isn.0, peer_isn.0)),
                    "forged cookie accepted: {local} {from} isn {our_isn} peer {peer_isn}"
                );
            } else {
                assert!(
                    self.queued
                        .iter()
                        .any(|&(l, r, iss, _, _)| l == local && r == from && iss == our_isn),
                    "handshake completed without our SYN-ACK's ISN: {local} {from} ack {}",
                    seg.ack_number()
                );
            }
            assert_eq!(self.l.pending(), pending + 1);
        }
        self.bounds();
    }

    fn bounds(&self) {
        assert!(
            self.l.half_open() <= self.syn_queue,
            "{} half-open > {}",
            self.l.half_open(),
            self.syn_queue
        );
        assert!(
            self.l.pending() <= self.backlog,
            "{} pending > {}",
            self.l.pending(),
            self.backlog
        );
    }

    fn poll(&mut self) {
        let mut n = 0;
        while let Some((local, remote, repr)) = self.l.poll_transmit(self.now) {
            n += 1;
            assert!(n <= 1000, "poll_transmit does not end");
            assert_eq!(local.port(), PORT);
            check_reply(&repr, *local.ip(), *remote.ip());
            if repr.flags == TcpFlags::SYN | TcpFlags::ACK {
                self.queued.push((
                    local,
                    remote,
                    repr.seq_number,
                    repr.ack_number - 1,
                    repr.timestamps.map(|t| t.tsval),
                ));
                if self.queued.len() > 64 {
                    self.queued.remove(0);
                }
            }
            self.bounds();
        }
    }
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn options(u: &mut Unstructured<'_>, repr: &mut TcpRepr) -> Result<()> {
    if u.arbitrary()? {
        repr.max_seg_size = Some(u.arbitrary()?);
    }
    if u.arbitrary()? {
        repr.window_scale = Some(u.int_in_range(0..=15)?);
    }
    repr.sack_permitted = u.arbitrary()?;
    if u.arbitrary()? {
        repr.timestamps = Some(Timestamps {
            tsval: u.arbitrary()?,
            tsecr: u.arbitrary()?,
        });
    }
    Ok(())
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let syn_queue = usize::from(u.int_in_range(0..=3u8)?);
    let backlog = usize::from(u.int_in_range(1..=3u8)?);
    let config = TcpConfig {
        syn_queue,
        syn_cookies: !u.ratio(1, 8)?,
        syn_retries: u.int_in_range(0..=3)?,
        timestamps: u.ratio(3, 4)?,
        sack: u.ratio(3, 4)?,
        window_scale: u.ratio(3, 4)?,
        recv_buffer: usize::from(u.int_in_range(1..=8u8)?) * 8192,
        send_buffer: 8192,
        ..TcpConfig::default()
    };
    let bind = if u.arbitrary()? {
        Ipv4Addr::UNSPECIFIED
    } else {
        LOCAL_IPS[0]
    };
    let l = Listener::new(
        SocketAddrV4::new(bind, PORT),
        config.clone(),
        backlog,
        &mut SeededRng::new(u.arbitrary()?),
    );
    let mut r = Run {
        l,
        syn_queue,
        backlog,
        cookies_on: config.syn_cookies,
        now: Instant::from_secs(u64::from(u.arbitrary::<u16>()?)),
        queued: Vec::new(),
        cookies: Vec::new(),
        cookie_set: HashSet::new(),
        accepted: Vec::new(),
    };
    let mut steps = 0;
    while !u.is_empty() && steps < 200 {
        steps += 1;
        let local_ip = *u.choose(&LOCAL_IPS)?;
        match u.int_in_range(0..=10u8)? {
            // A SYN.
            0 | 1 => {
                let from = remote(u)?;
                let mut repr = TcpRepr {
                    src_port: from.port(),
                    dst_port: PORT,
                    seq_number: SeqNumber(u.arbitrary()?),
                    flags: TcpFlags::SYN,
                    window_len: u.arbitrary()?,
                    ..TcpRepr::default()
                };
                options(u, &mut repr)?;
                if let Some(b) = build(&repr, &[], *from.ip(), local_ip) {
                    r.deliver(local_ip, from, &b);
                }
            }
            // The right final ACK of a SYN-ACK sent (queue or cookie),
            // possibly with data and FIN, possibly altered.
            2..=4 => {
                let pool = if u.arbitrary()? {
                    &r.cookies
                } else {
                    &r.queued
                };
                let Some(&(local, from, iss, irs, tsval)) =
                    pool.get(usize::from(u.arbitrary::<u8>()?) % pool.len().max(1))
                else {
                    continue;
                };
                let mut repr = TcpRepr {
                    src_port: from.port(),
                    dst_port: PORT,
                    seq_number: irs + 1,
                    ack_number: iss + 1,
                    flags: TcpFlags::ACK,
                    window_len: u.arbitrary()?,
                    timestamps: tsval.map(|t| Timestamps {
                        tsval: 1000,
                        tsecr: t,
                    }),
                    ..TcpRepr::default()
                };
                let mut from = from;
                if u.ratio(1, 3)? {
                    match u.int_in_range(0..=4u8)? {
                        0 => repr.ack_number += u32::from(u.int_in_range(1..=u8::MAX)?),
                        1 => repr.ack_number -= u32::from(u.int_in_range(1..=u8::MAX)?),
                        2 => repr.seq_number += u.arbitrary::<u32>()?,
                        3 => from.set_port(from.port() ^ 1),
                        _ => {
                            repr.timestamps = Some(Timestamps {
                                tsval: u.arbitrary()?,
                                tsecr: u.arbitrary()?,
                            })
                        }
                    }
                }
                if u.ratio(1, 4)? {
                    repr.flags |= TcpFlags::FIN;
                }
                let payload = vec![0x5a; usize::from(u.int_in_range(0..=40u8)?)];
                if let Some(b) = build(&repr, &payload, *from.ip(), *local.ip()) {
                    r.deliver(*local.ip(), from, &b);
                }
            }
            // An ACK forged from arbitrary numbers.
            5 => {
                let from = remote(u)?;
                let mut repr = TcpRepr {
                    src_port: from.port(),
                    dst_port: PORT,
                    seq_number: SeqNumber(u.arbitrary()?),
                    ack_number: SeqNumber(u.arbitrary()?),
                    flags: TcpFlags::ACK,
                    window_len: u.arbitrary()?,
                    ..TcpRepr::default()
                };
                if u.arbitrary()? {
                    repr.timestamps = Some(Timestamps {
                        tsval: u.arbitrary()?,
                        tsecr: u.arbitrary()?,
                    });
                }
                if let Some(b) = build(&repr, &[], *from.ip(), local_ip) {
                    r.deliver(local_ip, from, &b);
                }
            }
            // Any fields, any flags, any options.
            6 => {
                let from = remote(u)?;
                let mut repr = TcpRepr {
                    src_port: from.port(),
                    dst_port: u.arbitrary()?,
                    seq_number: SeqNumber(u.arbitrary()?),
                    ack_number: SeqNumber(u.arbitrary()?),
                    flags: TcpFlags::from_bits_truncate(u.arbitrary()?),
                    window_len: u.arbitrary()?,
                    urgent_pointer: u.arbitrary()?,
                    ..TcpRepr::default()
                };
                options(u, &mut repr)?;
                if u.arbitrary()? {
                    let mut blocks = SackBlocks::new();
                    for _ in 0..u.int_in_range(0..=4u8)? {
                        let _ = blocks.push(SackBlock {
                            left: SeqNumber(u.arbitrary()?),
                            right: SeqNumber(u.arbitrary()?),
                        });
                    }
                    repr.sack_blocks = blocks;
                }
                let payload = vec![0xa5; usize::from(u.int_in_range(0..=64u8)?)];
                if let Some(b) = build(&repr, &payload, *from.ip(), local_ip) {
                    r.deliver(local_ip, from, &b);
                }
            }
            // Raw bytes, checksum unchecked.
            7 => {
                let from = remote(u)?;
                let n = usize::from(u.arbitrary::<u8>()?).min(u.len());
                let bytes = u.bytes(n)?;
                if let Ok(seg) = TcpSegment::parse(bytes) {
                    r.deliver_seg(local_ip, from, &seg);
                }
            }
            8 => {
                let step = match u.int_in_range(0..=2u8)? {
                    0 => Duration::from_millis(u.int_in_range(0..=500)?),
                    1 => Duration::from_secs(u.int_in_range(0..=70)?),
                    _ => Duration::from_secs(u.int_in_range(0..=600)?),
                };
                r.now += step;
            }
            9 => r.poll(),
            _ => {
                if let Some(mut c) = r.l.accept() {
                    // Synchronized, or reset while it waited (as Linux,
                    // which hands it out to fail with ECONNRESET).
                    assert!(
                        c.is_established() || c.error().is_some(),
                        "accepted in {:?} without an error",
                        c.state()
                    );
                    let _ = c.send(b"hello");
                    let mut buf = [0u8; 64];
                    let _ = c.recv(&mut buf);
                    let mut wire = [0u8; 2000];
                    let mut k = 0;
                    let (a, b) = (*c.local().ip(), *c.remote().ip());
                    while let Some(out) = c.poll_transmit(r.now) {
                        k += 1;
                        assert!(k <= 100, "poll_transmit does not end");
                        let n = out.write(a, b, &mut wire, ChecksumMode::Compute);
                        assert_eq!(n, out.len());
                        let seg = TcpSegment::parse_verified(&wire[..n], a, b)
                            .expect("accepted connection's segment re-parses");
                        assert_eq!(seg.to_repr(), out.repr);
                    }
                    if r.accepted.len() < 4 {
                        r.accepted.push(*c);
                    }
                }
                r.bounds();
            }
        }
        r.bounds();
    }
    // Past every SYN-ACK backoff, every half-open entry has given up.
    for _ in 0..12 {
        r.now += config.max_rto + Duration::from_secs(1);
        r.poll();
    }
    assert_eq!(
        r.l.half_open(),
        0,
        "half-open entries outlive their retries"
    );
    Ok(())
}
