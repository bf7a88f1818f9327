//! Fuzz target `tcp_conn`: two `lamina_tcp` endpoints wired together
//! through a channel the input controls, with forged segments on the
//! side.
//!
//! A client `Connection` (active open) talks to a `Listener`, whose
//! connection is accepted as soon as its handshake completes. Each side
//! has its own settings (buffers, MSS limit, SACK, timestamps, window
//! scaling, Nagle, congestion control, out-of-order and SACK bounds). The
//! input then picks a sequence of operations:
//!
//! - the channel: deliver one queued segment of either direction (any, so
//!   segments reorder), deliver them all, drop one, duplicate one, flip a
//!   byte of one (its checksum then fails; two flips of one segment can
//!   cancel out in the Internet checksum, and such a segment counts as
//!   forged), or rewrite one field of one and recompute its checksum
//!   (forged);
//! - a segment forged from fields (flags, sequence and acknowledgment
//!   numbers near the ones last seen or arbitrary, window, timestamps,
//!   SACK blocks near the receiver's numbers, MSS and window scale on
//!   SYNs, payload), delivered to either side;
//! - user calls on either side: `send`, `recv`, `peek`, `shutdown_write`,
//!   `shutdown_read`, `close`, `abort`, `set_nodelay`, `set_keepalive`,
//!   `set_user_timeout`;
//! - steps of the clock, small, large, or to the next timer.
//!
//! (What a side queues over a run is bounded, 4,096 segments' worth for
//! the other side's window: the final phase below moves it all, and the
//! work per input stays far below the fuzzer's timeout.)
//!
//! After each, both sides' `poll_transmit` are drained into the channel
//! (through `poll_transmit_gso` for a side whose settings say so, its
//! batches cut into segments as a device's segmentation offload does;
//! another kind of side shares its payloads, `set_share_payloads`, and
//! sends what it lends as a device taking payloads by reference would).
//! The target checks:
//!
//! - nothing panics;
//! - every `Outgoing` writes (`write`) exactly `len()` bytes that re-parse
//!   with `TcpSegment::parse_verified` to the same header and payload;
//! - a shared payload (`share`) is the payload, and its header
//!   (`write_header`) followed by it is what `write` writes; payloads lent
//!   earlier still hold their bytes after later writes and ACKs (checked
//!   every 64 rounds and at the end);
//! - the payload of every segment sent is the sender's own stream at the
//!   offset its sequence number says, within what the user queued; a FIN
//!   comes only after a shutdown, right after the last byte queued;
//! - data never goes past the highest right window edge (`SEG.ACK +
//!   SEG.WND`, scaled as RFC 7323 §2.3 says) the sender was shown, plus
//!   one byte for a zero-window probe (RFC 9293 §3.8.6.1), unless it was
//!   shown a forged segment;
//! - the bytes each user reads are exactly the next bytes of the other
//!   side's stream (a prefix of what was sent), and `peek` shows them too,
//!   unless that side took forged data; once the end of the stream is
//!   reached (`recv_finished`) nothing is missing, unless it was shown a
//!   forged segment (a forged FIN may end it early);
//! - the send and receive queues stay within their buffers and the bytes
//!   in flight within the send buffer plus SYN and FIN;
//! - liveness: when nothing was forged and no user aborted, closed or shut
//!   reading, a final phase delivering every segment in order and
//!   following the timers gets every byte queued to the other side.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Result, Unstructured};
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_tcp::{
    CcAlgorithm, ChecksumMode, Connection, Keepalive, Listener, ListenerVerdict, SackBlock,
    SackBlocks, SeqNumber, TcpConfig, TcpFlags, TcpRepr, TcpSegment, Timestamps,
};

use crate::tcp_listener::build;

const IP: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 80)];
const PORT: [u16; 2] = [40000, 80];
const CLIENT: usize = 0;
const SERVER: usize = 1;
/// Segments a direction of the channel holds at most.
const CHANNEL_MAX: usize = 128;
/// Lent payloads kept to check, at most.
const LENT_MAX: usize = 32;
/// Segments' worth of data a side may queue in one run, at most (see
/// `Run::send`).
const SEGMENTS_MAX: u64 = 4096;

fn addr(side: usize) -> SocketAddrV4 {
    SocketAddrV4::new(IP[side], PORT[side])
}

/// Byte `i` of `side`'s stream: not periodic within any buffer, so a
/// byte at a wrong offset shows.
fn stream(side: usize, i: u64) -> u8 {
    let x = (i as u32).wrapping_mul(0x9e37_79b1) ^ ((i >> 32) as u32);
    ((x >> 24) as u8) ^ (side as u8).wrapping_mul(0x5b)
}

/// What is known of one side.
#[derive(Default)]
struct Side {
    config: TcpConfig,
    mss_limit: u16,
    /// Non-zero: the side transmits through `poll_transmit_gso` with this
    /// payload limit, its batches cut into segments as a device's TCP
    /// segmentation offload would (the wire sees the same segments).
    gso: usize,
    /// The side shares its payloads (`set_share_payloads`).
    share: bool,
    /// Its initial sequence number, once known.
    iss: Option<SeqNumber>,
    /// Bytes the user queued (accepted by `send`).
    sent: u64,
    /// Bytes the user read.
    read: u64,
    /// `shutdown_write` or `close` was called.
    shut: bool,
    /// `shutdown_read` or `close` was called.
    read_shut: bool,
    /// Data was forged into it: what it reads is not checked.
    tainted: bool,
    /// Any segment was forged to it (a FIN may end its stream early).
    forged_in: bool,
    /// The highest `SEG.ACK + SEG.WND` shown to it, as an offset from
    /// `iss + 1`.
    right_edge: Option<i64>,
    /// The highest acknowledgment shown to it (offset from `iss + 1`).
    acked: Option<i64>,
    /// The server's edges before its connection is accepted, absolute
    /// (its ISN is known for sure only then).
    early_edges: Vec<SeqNumber>,
    /// The largest window scale announced in a SYN shown to it.
    wscale: u8,
    /// The last segment delivered to it.
    last_in: Option<TcpRepr>,
}

impl Side {
    /// Offset of `seq` from `iss + 1`.
    fn offset(&self, seq: SeqNumber) -> Option<i64> {
        let iss = self.iss?;
        Some(i64::from(seq.0.wrapping_sub(iss.0.wrapping_add(1)) as i32))
    }
}

struct Run {
    now: Instant,
    client: Connection,
    listener: Listener,
    server: Option<Connection>,
    sides: [Side; 2],
    /// `chan[d]`: segments travelling to side `d`.
    chan: [VecDeque<Vec<u8>>; 2],
    /// Something was forged: no liveness check.
    forged: bool,
    /// A user aborted, closed or shut reading: no liveness check.
    disrupted: bool,
    /// Scratch space for outgoing segments.
    wire: Vec<u8>,
    /// Payloads at least this long reach the connections through
    /// `on_segment_deferring` (left in their buffer, attached after; 0:
    /// never).
    defer_min: usize,
    /// Every how many deferred payloads one is withdrawn instead
    /// (`cancel_payload`, as when a device broke its word); 0: never.
    cancel_every: u8,
    /// Deferred payloads so far.
    deferred: u32,
    /// The final phase: no withdrawal (liveness).
    healing: bool,
    /// Payloads lent by the senders (`Outgoing::share`), with the bytes
    /// they held when lent: they must never change.
    lent: Vec<(Vec<u8>, bytes::Bytes)>,
    /// Rounds of transmission so far (for [`bounds`](Self::bounds)).
    rounds: u32,
}

impl Run {
    fn conn(&mut self, side: usize) -> Option<&mut Connection> {
        if side == CLIENT {
            Some(&mut self.client)
        } else {
            self.server.as_mut()
        }
    }

    /// Checks an outgoing segment of `side` and queues it to the other.
    fn emit(&mut self, side: usize, repr: &TcpRepr, payload: &[u8], wire: &[u8]) {
        let (src, dst) = (IP[side], IP[1 - side]);
        let seg = TcpSegment::parse_verified(wire, src, dst).expect("outgoing re-parses");
        assert_eq!(&seg.to_repr(), repr, "outgoing header changed on the wire");
        assert_eq!(
            seg.payload(),
            payload,
            "outgoing payload changed on the wire"
        );
        assert_eq!(seg.src_port(), PORT[side]);
        let s = &mut self.sides[side];
        if repr.flags.contains(TcpFlags::SYN) {
            match s.iss {
                None => s.iss = Some(repr.seq_number),
                Some(iss) if side == CLIENT => assert_eq!(repr.seq_number, iss, "SYN moved"),
                // The listener may answer several SYNs (cookies, queue)
                // until a connection is accepted.
                Some(_) if self.server.is_none() => s.iss = Some(repr.seq_number),
                Some(_) => {}
            }
        }
        if !repr.flags.contains(TcpFlags::RST)
            && let Some(start) = s.offset(repr.seq_number)
        {
            let start = start + i64::from(repr.flags.contains(TcpFlags::SYN));
            let end = start + payload.len() as i64;
            if !payload.is_empty() {
                assert!(start >= 0, "data before the ISN: offset {start}");
                assert!(
                    end as u64 <= s.sent,
                    "data beyond what the user queued: {start}..{end} of {}",
                    s.sent
                );
                for (k, &b) in payload.iter().enumerate() {
                    assert_eq!(
                        b,
                        stream(side, start as u64 + k as u64),
                        "byte {} of the stream sent wrong",
                        start as u64 + k as u64
                    );
                }
                // RFC 9293 §3.8.6: within the window offered, plus one
                // byte probing a zero window. (A forged segment may set
                // SND.WL1 ahead, after which the RFC's update rule keeps
                // SND.WND while SND.UNA moves: no bound from the edges.)
                if let Some(edge) = s.right_edge
                    && !s.forged_in
                {
                    assert!(
                        end <= edge + 1,
                        "data {start}..{end} beyond the window edge {edge} (highest ACK {:?})",
                        s.acked
                    );
                }
            }
            if repr.flags.contains(TcpFlags::FIN) {
                assert!(s.shut, "FIN without a shutdown");
                assert_eq!(end as u64, s.sent, "FIN not right after the last byte");
            }
        }
        let q = &mut self.chan[1 - side];
        if q.len() >= CHANNEL_MAX {
            q.pop_front();
        }
        q.push_back(wire.to_vec());
    }

    /// Drains every sender.
    fn transmit(&mut self) {
        // A segment is at most a 60-byte header and a 64 KiB payload.
        let mut wire = std::mem::take(&mut self.wire);
        wire.resize(70_000, 0);
        for side in [CLIENT, SERVER] {
            let now = self.now;
            let gso = self.sides[side].gso;
            let share = self.sides[side].share;
            let mut n = 0;
            loop {
                let polled = match self.conn(side) {
                    Some(c) if gso > 0 => c.poll_transmit_gso(now, gso),
                    Some(c) => c.poll_transmit(now).map(|o| (o, 0)),
                    None => None,
                };
                let Some((out, size)) = polled else { break };
                n += 1;
                assert!(n <= 10_000, "poll_transmit does not end");
                let payload = [out.payload.0, out.payload.1].concat();
                let size = usize::from(size);
                if gso == 0 || payload.len() <= size {
                    let len = out.write(IP[side], IP[1 - side], &mut wire, ChecksumMode::Compute);
                    assert_eq!(len, out.len(), "write wrote a partial segment");
                    let lent = out.share();
                    if let Some(lent) = &lent {
                        assert!(share, "a payload shared unasked");
                        assert_eq!(
                            &lent[..],
                            &payload[..],
                            "the shared payload is not the payload"
                        );
                        let mut head = [0u8; 60];
                        let h = out.write_header(
                            IP[side],
                            IP[1 - side],
                            &mut head,
                            ChecksumMode::Compute,
                        );
                        assert_eq!(h + lent.len(), len, "header and shared payload lengths");
                        assert_eq!(&head[..h], &wire[..h], "write_header differs from write");
                    }
                    let repr = out.repr;
                    if let Some(lent) = lent
                        && self.lent.len() < LENT_MAX
                    {
                        self.lent.push((payload.clone(), lent));
                    }
                    self.emit(side, &repr, &payload, &wire[..len]);
                    continue;
                }
                // A batch: within the limit, cut as segmentation offload
                // does (the header repeated, PSH and FIN on the last).
                assert!(payload.len() <= gso, "a batch over the limit");
                if let Some(lent) = out.share() {
                    assert!(share, "a batch shared unasked");
                    assert_eq!(&lent[..], &payload[..], "a shared batch is not the payload");
                }
                assert!(size > 0, "a batch without a segment size");
                let chunks: Vec<&[u8]> = payload.chunks(size).collect();
                let last = chunks.len() - 1;
                let first = out.repr;
                for (i, chunk) in chunks.into_iter().enumerate() {
                    assert!(
                        i == last || chunk.len() == size,
                        "a short piece inside a batch"
                    );
                    let mut repr = first;
                    repr.seq_number = first.seq_number + (i * size) as u32;
                    if i != last {
                        repr.flags.remove(TcpFlags::PSH | TcpFlags::FIN);
                    }
                    let piece = lamina_tcp::Outgoing {
                        repr,
                        payload: (chunk, &[]),
                        shared: None,
                    };
                    let len = piece.write(IP[side], IP[1 - side], &mut wire, ChecksumMode::Compute);
                    assert_eq!(len, piece.len(), "write wrote a partial piece");
                    self.emit(side, &repr, chunk, &wire[..len]);
                }
            }
        }
        let mut n = 0;
        while let Some((_, to, repr)) = self.listener.poll_transmit(self.now) {
            n += 1;
            assert!(n <= 10_000, "listener poll_transmit does not end");
            assert_eq!(to, addr(CLIENT));
            let bytes = build(&repr, &[], IP[SERVER], IP[CLIENT]).expect("listener reply builds");
            self.emit(SERVER, &repr, &[], &bytes);
        }
        self.wire = wire;
        self.bounds();
    }

    /// The payloads lent so far still hold the bytes they held when lent.
    fn check_lent(&self) {
        for (bytes, lent) in &self.lent {
            assert_eq!(&lent[..], &bytes[..], "a lent payload changed");
        }
    }

    fn bounds(&mut self) {
        // Lent payloads every 64th round and at the end of the run: a
        // payload overwritten stays changed, and comparing up to
        // `LENT_MAX` of them after every round made long inputs (a
        // 1-byte window draining a 70 KB buffer) take seconds.
        self.rounds = self.rounds.wrapping_add(1);
        if self.rounds.is_multiple_of(64) {
            self.check_lent();
        }
        for (side, c) in [(CLIENT, Some(&self.client)), (SERVER, self.server.as_ref())] {
            let Some(c) = c else { continue };
            let cfg = &self.sides[side].config;
            assert!(c.send_queue() <= cfg.send_buffer.max(1), "send queue");
            assert!(c.recv_queue() <= cfg.recv_buffer.max(1), "receive queue");
            assert!(
                c.in_flight() as usize <= cfg.send_buffer.max(1) + 2,
                "{} in flight",
                c.in_flight()
            );
        }
        assert!(self.listener.pending() <= 1);
    }

    /// Delivers wire bytes to `side`; returns whether they parsed.
    fn deliver(&mut self, side: usize, bytes: &[u8]) -> bool {
        let (src, dst) = (IP[1 - side], IP[side]);
        let Ok(seg) = TcpSegment::parse_verified(bytes, src, dst) else {
            return false;
        };
        // The socket layer's demultiplexing: other ports reach neither.
        if seg.src_port() != PORT[1 - side] || seg.dst_port() != PORT[side] {
            return false;
        }
        let repr = seg.to_repr();
        let s = &mut self.sides[side];
        if repr.flags.contains(TcpFlags::SYN)
            && let Some(ws) = repr.window_scale
        {
            s.wscale = s.wscale.max(ws.min(14));
        }
        if repr.flags.contains(TcpFlags::ACK)
            && !repr.flags.contains(TcpFlags::RST)
            && let Some(ack) = s.offset(repr.ack_number)
        {
            let shift = if repr.flags.contains(TcpFlags::SYN) {
                0
            } else {
                s.wscale
            };
            let edge = ack + (i64::from(repr.window_len) << shift);
            if ack <= s.sent as i64 + 2 {
                s.acked = s.acked.max(Some(ack));
            }
            s.right_edge = Some(s.right_edge.map_or(edge, |e| e.max(edge)));
        }
        if side == SERVER
            && self.server.is_none()
            && repr.flags.contains(TcpFlags::ACK)
            && s.early_edges.len() < 256
        {
            let shift = if repr.flags.contains(TcpFlags::SYN) {
                0
            } else {
                s.wscale
            };
            s.early_edges
                .push(repr.ack_number + (u32::from(repr.window_len) << shift));
        }
        s.last_in = Some(repr);
        let now = self.now;
        let (defer_min, cancel_every, healing) = (self.defer_min, self.cancel_every, self.healing);
        let deliver_conn = |c: &mut Connection, deferred: &mut u32| {
            if defer_min == 0 {
                c.on_segment(&seg, now);
                return;
            }
            // The payload left in "its buffer" (here a copy of it between
            // junk bytes), attached after, or withdrawn now and then.
            let n = c.on_segment_deferring(&seg, now, defer_min);
            if n == 0 {
                return;
            }
            assert_eq!(n, seg.payload().len(), "a payload deferred in part");
            *deferred += 1;
            if !healing && cancel_every > 0 && deferred.is_multiple_of(u32::from(cancel_every)) {
                assert_eq!(c.cancel_payload(), n);
                return;
            }
            if deferred.is_multiple_of(3) {
                // A payload lent by reference, as a device sharing
                // payloads delivers it.
                let lent = bytes::Bytes::copy_from_slice(seg.payload());
                assert!(
                    c.attach_shared_payload(lent),
                    "the shared payload did not attach"
                );
                return;
            }
            let mut buf = vec![0xa5; (*deferred % 7) as usize];
            let start = buf.len();
            buf.extend_from_slice(seg.payload());
            buf.extend_from_slice(&[0x5a; 3]);
            assert!(c.attach_payload(buf, start), "the payload did not attach");
            while c.take_spare_buffer().is_some() {}
        };
        if side == CLIENT {
            deliver_conn(&mut self.client, &mut self.deferred);
        } else if let Some(c) = self.server.as_mut() {
            deliver_conn(c, &mut self.deferred);
        } else {
            let v = self.listener.on_segment(
                IP[SERVER],
                addr(CLIENT),
                &seg,
                self.sides[SERVER].mss_limit,
                now,
            );
            if let ListenerVerdict::Reply(r) = v {
                let b = build(&r, &[], IP[SERVER], IP[CLIENT]).expect("listener reply builds");
                self.emit(SERVER, &r, &[], &b);
            }
            if let Some(c) = self.listener.accept() {
                assert!(
                    c.is_established() || c.error().is_some(),
                    "accepted in {:?} without an error",
                    c.state()
                );
                let mut c = *c;
                c.set_share_payloads(self.sides[SERVER].share);
                self.server = Some(c);
                // The ACK that completed the handshake acknowledged the
                // ISN (of a queued SYN-ACK or a cookie); the window edges
                // shown so far count from it.
                let s = &mut self.sides[SERVER];
                s.iss = Some(seg.ack_number() - 1);
                s.right_edge = None;
                for e in std::mem::take(&mut s.early_edges) {
                    let e = s.offset(e);
                    s.right_edge = s.right_edge.max(e);
                }
            }
        }
        self.bounds();
        true
    }

    fn recv(&mut self, side: usize, n: usize) {
        let mut buf = vec![0u8; n];
        let Some(c) = self.conn(side) else { return };
        let mut peeked = vec![0u8; n];
        let p = c.peek(&mut peeked);
        let Ok(got) = c.recv(&mut buf) else { return };
        assert_eq!(p, got, "peek and recv disagree on the length");
        assert_eq!(peeked[..p], buf[..got], "peek and recv disagree");
        let other = self.sides[1 - side].sent;
        let s = &mut self.sides[side];
        if !s.tainted {
            assert!(
                s.read + got as u64 <= other,
                "read {} bytes, {} were sent",
                s.read + got as u64,
                other
            );
            for (k, &b) in buf[..got].iter().enumerate() {
                assert_eq!(
                    b,
                    stream(1 - side, s.read + k as u64),
                    "received byte {} wrong",
                    s.read + k as u64
                );
            }
        }
        s.read += got as u64;
        // RFC 9293 §3.10.7.4: a FIN comes after all the data; once it has
        // been read up to, nothing of the stream is missing.
        let finished = self.conn(side).is_some_and(|c| c.recv_finished());
        let s = &self.sides[side];
        if finished && !s.forged_in && !s.read_shut {
            assert_eq!(s.read, other, "end of stream before all the data");
        }
    }

    fn send(&mut self, side: usize, n: usize) {
        let from = self.sides[side].sent;
        // At most `SEGMENTS_MAX` segments' worth for the other side's
        // window (its receive buffer, or the smallest MSS): the final
        // phase moves it all, and a 1-byte window moves one byte a
        // round. Unbounded, a 70 KB queue to a 1-byte window took 70,000
        // rounds and, under the fuzzer's sanitizers on a busy machine,
        // past its timeout.
        let window = self.sides[1 - side].config.recv_buffer.clamp(1, 64) as u64;
        let room = (SEGMENTS_MAX * window).saturating_sub(from);
        let n = n.min(usize::try_from(room).unwrap_or(usize::MAX));
        if n == 0 {
            return;
        }
        let data: Vec<u8> = (0..n as u64).map(|k| stream(side, from + k)).collect();
        let Some(c) = self.conn(side) else { return };
        if let Ok(got) = c.send(&data) {
            assert!(got <= n);
            assert!(!self.sides[side].shut, "send accepted after a shutdown");
            self.sides[side].sent += got as u64;
        }
    }
}

fn config(u: &mut Unstructured<'_>) -> Result<TcpConfig> {
    Ok(TcpConfig {
        mss: u.int_in_range(64..=1460)?,
        send_buffer: *u.choose(&[1usize, 100, 1000, 4096, 16_384, 70_000])?,
        recv_buffer: *u.choose(&[1usize, 100, 1000, 4096, 16_384, 70_000, 300_000])?,
        nodelay: u.arbitrary()?,
        cc: if u.arbitrary()? {
            CcAlgorithm::NewReno
        } else {
            CcAlgorithm::Cubic
        },
        sack: u.ratio(3, 4)?,
        timestamps: u.ratio(3, 4)?,
        window_scale: u.ratio(3, 4)?,
        max_ooo_ranges: u.int_in_range(0..=4)?,
        max_sack_blocks: u.int_in_range(0..=4)?,
        delayed_ack: Duration::from_millis(u.int_in_range(0..=200)?),
        min_rto: Duration::from_millis(u.int_in_range(1..=300)?),
        max_retries: u.int_in_range(1..=15)?,
        syn_queue: u.int_in_range(0..=2)?,
        ..TcpConfig::default()
    })
}

/// A segment forged for `side`, near what it last saw.
fn forge(u: &mut Unstructured<'_>, r: &Run, side: usize) -> Result<(TcpRepr, Vec<u8>)> {
    let last = r.sides[side].last_in.unwrap_or_default();
    let near = |u: &mut Unstructured<'_>, s: SeqNumber| -> Result<SeqNumber> {
        Ok(if u.ratio(1, 8)? {
            SeqNumber(u.arbitrary()?)
        } else {
            s.wrapping_add(i32::from(u.arbitrary::<i16>()?) as u32)
        })
    };
    let flags = if u.ratio(1, 8)? {
        TcpFlags::from_bits_truncate(u.arbitrary()?)
    } else {
        *u.choose(&[
            TcpFlags::ACK,
            TcpFlags::ACK | TcpFlags::PSH,
            TcpFlags::ACK | TcpFlags::FIN,
            TcpFlags::RST,
            TcpFlags::RST | TcpFlags::ACK,
            TcpFlags::SYN,
            TcpFlags::SYN | TcpFlags::ACK,
            TcpFlags::ACK | TcpFlags::URG,
        ])?
    };
    let mut repr = TcpRepr {
        src_port: PORT[1 - side],
        dst_port: PORT[side],
        seq_number: near(u, last.seq_number)?,
        ack_number: near(u, last.ack_number)?,
        flags,
        window_len: u.arbitrary()?,
        urgent_pointer: u.arbitrary()?,
        ..TcpRepr::default()
    };
    if flags.contains(TcpFlags::SYN) {
        if u.arbitrary()? {
            repr.max_seg_size = Some(u.arbitrary()?);
        }
        if u.arbitrary()? {
            repr.window_scale = Some(u.int_in_range(0..=15)?);
        }
        repr.sack_permitted = u.arbitrary()?;
    }
    if u.ratio(2, 3)? {
        let base = last.timestamps.unwrap_or(Timestamps { tsval: 0, tsecr: 0 });
        repr.timestamps = Some(Timestamps {
            tsval: base
                .tsval
                .wrapping_add(i32::from(u.arbitrary::<i8>()?) as u32),
            tsecr: if u.ratio(1, 4)? {
                u.arbitrary()?
            } else {
                base.tsecr
            },
        });
    }
    if u.arbitrary()? {
        let mut blocks = SackBlocks::new();
        for _ in 0..u.int_in_range(0..=4u8)? {
            let left = near(u, last.ack_number)?;
            let len = u32::from(u.arbitrary::<u16>()?) % 8000;
            let _ = blocks.push(SackBlock {
                left,
                right: left + len,
            });
        }
        repr.sack_blocks = blocks;
    }
    let n = usize::from(u.arbitrary::<u8>()?) % 100;
    let payload: Vec<u8> = if u.ratio(1, 2)? {
        Vec::new()
    } else {
        (0..n).map(|i| i as u8 ^ 0xc3).collect()
    };
    Ok((repr, payload))
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let now = Instant::from_millis(u64::from(u.arbitrary::<u32>()?));
    let mut sides: [Side; 2] = Default::default();
    for s in &mut sides {
        s.config = config(u)?;
        s.mss_limit = u.int_in_range(64..=1460)?;
        // Derived, not drawn: inputs keep their meaning (and segmentation
        // offload leaves the same segments on the wire anyway).
        let m = usize::from(s.mss_limit);
        s.gso = if m % 3 == 0 { m * (1 + m % 45) } else { 0 };
        // Sharing sides: one kind in three, and half the segmentation
        // offload ones.
        s.share = m % 3 == 1 || (m % 3 == 0 && m % 2 == 0);
    }
    let isn = SeqNumber(u.arbitrary()?);
    let mut client = Connection::connect(
        addr(CLIENT),
        addr(SERVER),
        &sides[CLIENT].config,
        isn,
        sides[CLIENT].mss_limit,
        now,
    );
    client.set_share_payloads(sides[CLIENT].share);
    let listener = Listener::new(
        addr(SERVER),
        sides[SERVER].config.clone(),
        1,
        &mut SeededRng::new(u.arbitrary()?),
    );
    let mut r = Run {
        now,
        client,
        listener,
        server: None,
        sides,
        chan: [VecDeque::new(), VecDeque::new()],
        forged: false,
        disrupted: false,
        lent: Vec::new(),
        rounds: 0,
        wire: Vec::new(),
        defer_min: match u.int_in_range(0..=3u8)? {
            0 | 1 => 0,
            2 => 1,
            _ => usize::from(u.arbitrary::<u16>()? % 2048),
        },
        cancel_every: u.int_in_range(0..=5u8)?,
        deferred: 0,
        healing: false,
    };
    r.transmit();
    let mut steps = 0;
    while !u.is_empty() && steps < 300 {
        steps += 1;
        let side = usize::from(u.arbitrary::<bool>()?);
        match u.int_in_range(0..=19u8)? {
            // Deliver one queued segment (any: reordering).
            0..=4 => {
                let i = usize::from(u.arbitrary::<u8>()?);
                let q = &mut r.chan[side];
                if !q.is_empty() {
                    let i = i % q.len();
                    if let Some(b) = q.remove(i) {
                        r.deliver(side, &b);
                    }
                }
            }
            5 => {
                while let Some(b) = r.chan[side].pop_front() {
                    r.deliver(side, &b);
                }
            }
            // Lose one.
            6 => {
                let i = usize::from(u.arbitrary::<u8>()?);
                let q = &mut r.chan[side];
                if !q.is_empty() {
                    let i = i % q.len();
                    q.remove(i);
                }
            }
            // Duplicate one.
            7 => {
                let i = usize::from(u.arbitrary::<u8>()?);
                let q = &mut r.chan[side];
                if !q.is_empty() && q.len() < CHANNEL_MAX {
                    let i = i % q.len();
                    if let Some(b) = q.get(i).cloned() {
                        q.push_back(b);
                    }
                }
            }
            // Corrupt one byte (the checksum catches it, unless an
            // earlier corruption of the same segment cancels it out: the
            // Internet checksum misses some two-byte errors, and the
            // fuzzer finds them; what then gets through is forged).
            8 => {
                let i = usize::from(u.arbitrary::<u8>()?);
                let at = usize::from(u.arbitrary::<u16>()?);
                let x: u8 = u.int_in_range(1..=255)?;
                let q = &mut r.chan[side];
                if !q.is_empty() {
                    let i = i % q.len();
                    if let Some(b) = q.get_mut(i)
                        && !b.is_empty()
                    {
                        let at = at % b.len();
                        b[at] ^= x;
                        if TcpSegment::parse_verified(b, IP[1 - side], IP[side]).is_ok() {
                            r.forged = true;
                            r.sides[side].forged_in = true;
                            r.sides[side].tainted = true;
                        }
                    }
                }
            }
            // Rewrite one field of a queued segment, checksum recomputed.
            9 => {
                let i = usize::from(u.arbitrary::<u8>()?);
                let len = r.chan[side].len();
                if len == 0 {
                    continue;
                }
                let Some(b) = r.chan[side].get(i % len).cloned() else {
                    continue;
                };
                let Ok(seg) = TcpSegment::parse(&b) else {
                    continue;
                };
                let mut repr = seg.to_repr();
                let d = i32::from(u.arbitrary::<i16>()?) as u32;
                match u.int_in_range(0..=5u8)? {
                    0 => repr.seq_number += d,
                    1 => repr.ack_number += d,
                    2 => repr.window_len = u.arbitrary()?,
                    3 => repr.flags = TcpFlags::from_bits_truncate(u.arbitrary()?),
                    4 => {
                        if let Some(t) = repr.timestamps.as_mut() {
                            t.tsval = t.tsval.wrapping_add(d);
                        }
                    }
                    _ => repr.sack_blocks.clear(),
                }
                if let Some(nb) = build(&repr, seg.payload(), IP[1 - side], IP[side]) {
                    r.forged = true;
                    r.sides[side].forged_in = true;
                    if !seg.payload().is_empty() {
                        r.sides[side].tainted = true;
                    }
                    r.chan[side].remove(i % len);
                    r.deliver(side, &nb);
                }
            }
            // A forged segment.
            10 => {
                let (repr, payload) = forge(u, &r, side)?;
                if let Some(b) = build(&repr, &payload, IP[1 - side], IP[side]) {
                    r.forged = true;
                    r.sides[side].forged_in = true;
                    if !payload.is_empty() {
                        r.sides[side].tainted = true;
                    }
                    r.deliver(side, &b);
                }
            }
            11 | 12 => {
                let n = *u.choose(&[1usize, 10, 100, 1000, 5000, 70_000])?;
                r.send(side, n);
            }
            13 | 14 => {
                let n = *u.choose(&[1usize, 10, 100, 1000, 5000, 70_000])?;
                r.recv(side, n);
            }
            15 => {
                let what = u.int_in_range(0..=8u8)?;
                let ka = Keepalive {
                    idle: Duration::from_secs(u.int_in_range(1..=100)?),
                    interval: Duration::from_secs(u.int_in_range(1..=10)?),
                    count: u.int_in_range(1..=3)?,
                };
                let ut = Duration::from_secs(u.int_in_range(1..=100)?);
                let Some(c) = r.conn(side) else { continue };
                match what {
                    0 => {
                        c.shutdown_write();
                        r.sides[side].shut = true;
                    }
                    1 => {
                        c.shutdown_read();
                        r.sides[side].read_shut = true;
                        r.disrupted = true;
                    }
                    2 => {
                        c.close();
                        r.sides[side].shut = true;
                        r.sides[side].read_shut = true;
                        r.disrupted = true;
                    }
                    3 => {
                        c.abort();
                        r.disrupted = true;
                    }
                    4 => c.set_nodelay(true),
                    5 => c.set_nodelay(false),
                    6 => c.set_keepalive(Some(ka)),
                    7 => c.set_keepalive(None),
                    _ => c.set_user_timeout(Some(ut)),
                }
            }
            16 | 17 => {
                r.now += Duration::from_millis(u.int_in_range(0..=300)?);
            }
            18 => {
                r.now += Duration::from_secs(u.int_in_range(0..=600)?);
            }
            _ => {
                // To the next timer.
                let next = [
                    r.client.poll_at(),
                    r.server.as_ref().and_then(|c| c.poll_at()),
                    r.listener.poll_at(),
                ]
                .into_iter()
                .flatten()
                .min();
                if let Some(t) = next {
                    r.now = r.now.max(t);
                }
            }
        }
        r.transmit();
    }
    heal(&mut r);
    r.check_lent();
    Ok(())
}

/// Everything delivered in order, timers followed, both users reading:
/// without forgery or disruption every byte queued arrives. Rounds that
/// move data are not limited (a 1-byte window moves one byte a round);
/// a round that moves segments but lets nothing be read takes 10 ms; 500
/// rounds in a row without a byte read, or no timer left, is a stall.
fn heal(r: &mut Run) {
    r.healing = true;
    let mut idle = 0;
    let mut stalled = false;
    for _ in 0..200_000 {
        let mut moved = false;
        for side in [CLIENT, SERVER] {
            while let Some(b) = r.chan[side].pop_front() {
                moved = true;
                r.deliver(side, &b);
            }
        }
        let read_before = r.sides[CLIENT].read + r.sides[SERVER].read;
        for side in [CLIENT, SERVER] {
            let n = r.conn(side).map_or(0, |c| c.recv_queue());
            if n > 0 {
                r.recv(side, n);
            }
        }
        if r.sides[CLIENT].read + r.sides[SERVER].read > read_before {
            idle = 0;
            moved = true;
        } else {
            idle += 1;
            if idle > 500 {
                stalled = true;
                break;
            }
            if moved {
                // Segments move but nothing can be read (a hole the
                // sender has yet to fill: a lost retransmission waits for
                // the retransmission timeout, RFC 6582 §3.2): such a
                // round trip takes time too.
                r.now += Duration::from_millis(10);
            }
        }
        r.transmit();
        if moved || !r.chan.iter().all(VecDeque::is_empty) {
            continue;
        }
        let done =
            r.server.is_some() && (0..2).all(|side| r.sides[side].read == r.sides[1 - side].sent);
        if done {
            return;
        }
        let next = [
            r.client.poll_at(),
            r.server.as_ref().and_then(|c| c.poll_at()),
            r.listener.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) => r.now = r.now.max(t).max(r.now + Duration::from_millis(1)),
            None => {
                stalled = true;
                break;
            }
        }
    }
    if !stalled || r.forged || r.disrupted {
        return;
    }
    let Some(server) = r.server.as_ref() else {
        return;
    };
    if r.client.error().is_some() || server.error().is_some() {
        return;
    }
    for side in [CLIENT, SERVER] {
        assert_eq!(
            r.sides[side].read,
            r.sides[1 - side].sent,
            "side {side} got {} of {} bytes (client {:?}, server {:?})",
            r.sides[side].read,
            r.sides[1 - side].sent,
            r.client.state(),
            server.state()
        );
    }
}
