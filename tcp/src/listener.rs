//! Passive open: [`Listener`], with a bounded SYN queue of lightweight
//! half-open entries, SYN cookies when it is full, and a bounded accept
//! queue of established connections.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::{Duration, Instant, Rng};

use crate::SeqNumber;
use crate::cc::AnyCc;
use crate::config::TcpConfig;
use crate::conn::{Connection, Negotiated, reset_for, ts_offset};
use crate::cookie::{CookieParams, SynCookies};
use crate::isn::IsnGenerator;
use crate::wire::{TcpFlags, TcpRepr, TcpSegment, Timestamps};

/// What the caller does after [`Listener::on_segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerVerdict {
    /// Consumed: a SYN queued (its SYN-ACK comes from
    /// [`Listener::poll_transmit`]) or a handshake completed (see
    /// [`Listener::accept`]).
    Handled,
    /// Dropped without an answer: a RST, a SYN or final ACK while the
    /// accept queue is full (the peer retries, as with Linux), a SYN when
    /// the SYN queue is full and cookies are off, or a malformed attempt.
    Dropped,
    /// Send this segment to the segment's source, from `local_ip`: a RST
    /// (RFC 9293 §3.10.7.2: an ACK reaching a listener) or a SYN-ACK
    /// carrying a SYN cookie (stateless, RFC 4987 §3.6).
    Reply(TcpRepr),
}

/// Counters of a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerStats {
    /// SYNs received.
    pub syns: u64,
    /// Handshakes completed (connections queued for accept).
    pub established: u64,
    /// SYN-ACKs answered with a cookie because the SYN queue was full.
    pub cookies_sent: u64,
    /// Connections completed from a valid cookie.
    pub cookies_accepted: u64,
    /// SYNs or final ACKs dropped because the accept queue was full.
    pub accept_overflows: u64,
    /// SYNs dropped because the SYN queue was full (cookies off).
    pub syn_queue_overflows: u64,
    /// Half-open entries that gave up after their SYN-ACK retries.
    pub syn_timeouts: u64,
}

/// A half-open connection: what the SYN told us, nothing more (no
/// buffers). See [`Listener::syn_entry_size`].
#[derive(Debug, Clone, Copy)]
struct HalfOpen {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    iss: SeqNumber,
    irs: SeqNumber,
    ts_recent: Option<u32>,
    created: Instant,
    next_at: Instant,
    peer_mss: u16,
    mss_limit: u16,
    peer_ws: Option<u8>,
    sack: bool,
    retransmits: u8,
    send_now: bool,
    sent: bool,
}

/// A listening endpoint (RFC 9293 LISTEN): answers SYNs, completes
/// handshakes, and hands out connections once established.
///
/// Bounded: at most `config.syn_queue` half-open entries (then SYN
/// cookies, or drops if `config.syn_cookies` is false) and `backlog`
/// established connections waiting in [`accept`](Self::accept) (then the
/// SYN or the final ACK is dropped, as Linux does).
#[derive(Debug)]
pub struct Listener {
    local: SocketAddrV4,
    config: TcpConfig,
    backlog: usize,
    isn: IsnGenerator,
    cookies: SynCookies,
    syn_queue: Vec<HalfOpen>,
    accept_queue: VecDeque<Box<Connection>>,
    stats: ListenerStats,
}

// The methods that feed segments to connections or take segments from
// them (`on_segment`, `establish` and its callers, `poll_transmit`) are
// `#[inline]`: compiled in the crate that calls them, they use that
// crate's copy of the generic `Connection` code. Otherwise a stack runs two
// copies of it — this crate's for connections not accepted yet, its own
// for the rest — twice the instruction cache for every handshake.
impl Listener {
    /// A listener on `local` (the address may be `0.0.0.0`: any local
    /// address). `rng` seeds its ISN generator (RFC 6528) and SYN-cookie
    /// secret.
    pub fn new(
        local: SocketAddrV4,
        config: TcpConfig,
        backlog: usize,
        rng: &mut impl Rng,
    ) -> Listener {
        let isn = IsnGenerator::new(rng);
        let cookies = SynCookies::new(rng);
        Listener {
            local,
            syn_queue: Vec::with_capacity(config.syn_queue.min(64)),
            config,
            backlog: backlog.max(1),
            isn,
            cookies,
            accept_queue: VecDeque::new(),
            stats: ListenerStats::default(),
        }
    }

    /// The address listened on.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// The settings given to accepted connections.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &ListenerStats {
        &self.stats
    }

    /// Established connections waiting in the accept queue.
    pub fn pending(&self) -> usize {
        self.accept_queue.len()
    }

    /// Half-open entries in the SYN queue.
    pub fn half_open(&self) -> usize {
        self.syn_queue.len()
    }

    /// Bytes of one SYN-queue entry (memory per half-open connection).
    pub const fn syn_entry_size() -> usize {
        core::mem::size_of::<HalfOpen>()
    }

    /// The next established connection, if any. Until accepted, a
    /// connection lives in the listener: segments for it go through
    /// [`on_segment`](Self::on_segment) and its ACKs come out of
    /// [`poll_transmit`](Self::poll_transmit). Boxed, as it was queued
    /// (a connection is a few hundred bytes: moved by pointer).
    pub fn accept(&mut self) -> Option<Box<Connection>> {
        self.accept_queue.pop_front()
    }

    fn find(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<usize> {
        self.syn_queue
            .iter()
            .position(|e| e.remote == remote && e.local == local)
    }

    fn our_mss(&self, mss_limit: u16) -> u16 {
        self.config.mss.min(mss_limit).max(64)
    }

    /// A segment to our port that matched no connection. `local_ip` is the
    /// datagram's destination, `remote` its source address and port,
    /// `mss_limit` the route MTU minus 40.
    #[inline]
    pub fn on_segment(
        &mut self,
        local_ip: Ipv4Addr,
        remote: SocketAddrV4,
        seg: &TcpSegment<'_>,
        mss_limit: u16,
        now: Instant,
    ) -> ListenerVerdict {
        let local = SocketAddrV4::new(local_ip, self.local.port());
        // A connection waiting in the accept queue is still reached
        // through the listener (the socket layer does not see it yet):
        // its data is buffered and acknowledged, its RSTs honoured.
        if let Some(c) = self
            .accept_queue
            .iter_mut()
            .find(|c| c.remote() == remote && c.local() == local)
        {
            c.on_segment(seg, now);
            return ListenerVerdict::Handled;
        }
        let entry = self.find(local, remote);
        if seg.rst() {
            // RFC 9293 §3.10.7.2: a RST to LISTEN is ignored; one that
            // matches a half-open entry exactly (RFC 5961 §3.2) ends it.
            if let Some(i) = entry
                && self
                    .syn_queue
                    .get(i)
                    .is_some_and(|e| seg.seq_number() == e.irs + 1)
            {
                self.syn_queue.swap_remove(i);
            }
            return ListenerVerdict::Dropped;
        }
        if let Some(i) = entry {
            return self.on_half_open(i, seg, now);
        }
        if seg.syn() && !seg.ack() {
            return self.on_syn(local, remote, seg, mss_limit, now);
        }
        if seg.ack()
            && !seg.syn()
            && self.config.syn_cookies
            && let Some(v) = self.on_cookie_ack(local, remote, seg, mss_limit, now)
        {
            return v;
        }
        if seg.ack() {
            return reset_for(seg).map_or(ListenerVerdict::Dropped, ListenerVerdict::Reply);
        }
        ListenerVerdict::Dropped
    }

    fn on_syn(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpSegment<'_>,
        mss_limit: u16,
        now: Instant,
    ) -> ListenerVerdict {
        self.stats.syns += 1;
        if self.accept_queue.len() >= self.backlog {
            self.stats.accept_overflows += 1;
            return ListenerVerdict::Dropped;
        }
        let our_mss = self.our_mss(mss_limit);
        let opts = seg.syn_options();
        let peer_mss = opts.mss.unwrap_or(536);
        let peer_ws = opts.window_scale.filter(|_| self.config.window_scale);
        let sack = opts.sack_permitted && self.config.sack;
        let peer_ts = opts.timestamps.filter(|_| self.config.timestamps);
        if self.syn_queue.len() < self.config.syn_queue {
            let iss = self.isn.isn(local, remote, now);
            self.syn_queue.push(HalfOpen {
                local,
                remote,
                iss,
                irs: seg.seq_number(),
                ts_recent: peer_ts.map(|t| t.tsval),
                created: now,
                next_at: now,
                peer_mss,
                mss_limit,
                peer_ws,
                sack,
                retransmits: 0,
                send_now: true,
                sent: false,
            });
            return ListenerVerdict::Handled;
        }
        if !self.config.syn_cookies {
            self.stats.syn_queue_overflows += 1;
            return ListenerVerdict::Dropped;
        }
        // SYN cookie: all the state goes into our ISN (and TSval).
        let params = CookieParams {
            mss: peer_mss.min(our_mss),
            window_scale: peer_ws,
            sack_permitted: sack,
        };
        let (iss, tsval) = self.cookies.encode(
            local,
            remote,
            seg.seq_number(),
            params,
            peer_ts.is_some(),
            now,
        );
        self.stats.cookies_sent += 1;
        let mut repr = self.syn_ack_repr(local, remote, iss, seg.seq_number(), our_mss);
        // Without timestamps the cookie cannot carry WS or SACK: offer
        // neither (as Linux does).
        if let (Some(tsval), Some(peer)) = (tsval, peer_ts) {
            repr.timestamps = Some(Timestamps {
                tsval,
                tsecr: peer.tsval,
            });
            repr.window_scale = peer_ws.map(|_| self.config.recv_window_scale());
            repr.sack_permitted = sack;
        }
        ListenerVerdict::Reply(repr)
    }

    fn syn_ack_repr(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        irs: SeqNumber,
        our_mss: u16,
    ) -> TcpRepr {
        TcpRepr {
            src_port: local.port(),
            dst_port: remote.port(),
            seq_number: iss,
            ack_number: irs + 1,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window_len: self.config.recv_buffer.min(usize::from(u16::MAX)) as u16,
            max_seg_size: Some(our_mss),
            ..TcpRepr::default()
        }
    }

    /// A segment for a half-open entry (RFC 9293 §3.10.7.4 in
    /// SYN-RECEIVED).
    #[inline]
    fn on_half_open(&mut self, i: usize, seg: &TcpSegment<'_>, now: Instant) -> ListenerVerdict {
        let Some(e) = self.syn_queue.get_mut(i) else {
            return ListenerVerdict::Dropped;
        };
        if seg.syn() {
            if !seg.ack() && seg.seq_number() == e.irs {
                // The peer retransmitted its SYN: answer again.
                e.send_now = true;
                return ListenerVerdict::Handled;
            }
            return ListenerVerdict::Dropped;
        }
        if !seg.ack() {
            return ListenerVerdict::Dropped;
        }
        if seg.ack_number() != e.iss + 1 {
            return reset_for(seg).map_or(ListenerVerdict::Dropped, ListenerVerdict::Reply);
        }
        // The final ACK may be lost and data segments arrive first: any
        // segment within the window our SYN-ACK offered completes the
        // handshake (RFC 9293 §3.10.7.4; data beyond RCV.NXT is queued).
        let window = self.config.recv_buffer.min(usize::from(u16::MAX)) as u32;
        if !seg.seq_number().in_window(e.irs + 1, window.max(1)) {
            return ListenerVerdict::Dropped;
        }
        if self.accept_queue.len() >= self.backlog {
            // Linux: drop the final ACK, keep the entry; the SYN-ACK is
            // retransmitted and the peer's ACK retried.
            self.stats.accept_overflows += 1;
            return ListenerVerdict::Dropped;
        }
        let e = self.syn_queue.swap_remove(i);
        let neg = Negotiated {
            peer_mss: e.peer_mss,
            snd_wscale: e.peer_ws,
            sack: e.sack,
            ts_recent: e.ts_recent,
            // The clock the SYN-ACK used (its ISN was chosen then).
            ts_offset: Some(ts_offset(e.iss, e.created)),
        };
        let rtt = (e.retransmits == 0).then(|| now.saturating_duration_since(e.created));
        self.establish(
            e.local,
            e.remote,
            e.iss,
            e.irs,
            neg,
            e.mss_limit,
            rtt,
            seg,
            now,
        );
        ListenerVerdict::Handled
    }

    #[inline]
    fn on_cookie_ack(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpSegment<'_>,
        mss_limit: u16,
        now: Instant,
    ) -> Option<ListenerVerdict> {
        let our_isn = seg.ack_number() - 1;
        let peer_isn = seg.seq_number() - 1;
        let tsecr = seg.timestamps().map(|t| t.tsecr);
        let params = self
            .cookies
            .decode(local, remote, peer_isn, our_isn, tsecr, now)?;
        if self.accept_queue.len() >= self.backlog {
            self.stats.accept_overflows += 1;
            return Some(ListenerVerdict::Dropped);
        }
        self.stats.cookies_accepted += 1;
        let neg = Negotiated {
            peer_mss: params.mss,
            snd_wscale: params.window_scale,
            sack: params.sack_permitted,
            ts_recent: seg.timestamps().map(|t| t.tsval),
            // The cookie's TSval was a millisecond clock with its low 5
            // bits reused: continue above it so TSvals never go back
            // (RFC 7323 §5.5: monotonic).
            ts_offset: Some(32),
        };
        self.establish(
            local, remote, our_isn, peer_isn, neg, mss_limit, None, seg, now,
        );
        Some(ListenerVerdict::Handled)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn establish(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        irs: SeqNumber,
        neg: Negotiated,
        mss_limit: u16,
        rtt: Option<Duration>,
        seg: &TcpSegment<'_>,
        now: Instant,
    ) {
        let mss = u32::from(self.our_mss(mss_limit).min(neg.peer_mss));
        let cc = AnyCc::new(self.config.cc, mss);
        // Boxed once here: the accept queue and the socket that takes the
        // connection move a pointer, not the connection.
        let mut conn = Connection::from_handshake(
            local,
            remote,
            &self.config,
            iss,
            irs,
            neg,
            mss_limit,
            rtt,
            now,
            cc,
        );
        // The final ACK may carry data, a window, a FIN.
        conn.on_segment(seg, now);
        self.stats.established += 1;
        self.accept_queue.push_back(conn);
    }

    /// The next segment to send: a SYN-ACK (first transmissions and
    /// retransmissions, RFC 6298 backoff from the initial RTO), or an ACK
    /// of a connection waiting to be accepted: `(local, remote, header)`
    /// (never any payload).
    /// Entries whose retries ran out (`config.syn_retries`) are dropped
    /// here. Call until `None`.
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddrV4, SocketAddrV4, TcpRepr)> {
        // Connections not accepted yet: their ACKs (they carry no data,
        // the application has not written to them).
        for c in self.accept_queue.iter_mut() {
            if let Some(out) = c.poll_transmit(now)
                && out.payload_len() == 0
            {
                let repr = out.repr;
                return Some((c.local(), c.remote(), repr));
            }
        }
        // Reset or timed-out ones are dropped from the queue.
        self.accept_queue.retain(|c| !c.is_closed());
        let retries = self.config.syn_retries;
        let before = self.syn_queue.len();
        self.syn_queue
            .retain(|e| now < e.next_at || u32::from(e.retransmits) < retries);
        self.stats.syn_timeouts += (before - self.syn_queue.len()) as u64;
        let initial_rto = self.config.initial_rto;
        let max_rto = self.config.max_rto;
        let i = self
            .syn_queue
            .iter()
            .position(|e| e.send_now || now >= e.next_at)?;
        let e = *self.syn_queue.get(i)?;
        // Every SYN-ACK after the first counts, timer-driven or answering
        // a retransmitted SYN (as Linux counts `num_retrans`).
        let retransmits = if e.sent {
            e.retransmits.saturating_add(1)
        } else {
            e.retransmits
        };
        let backoff = initial_rto
            .saturating_mul(1u64 << u32::from(retransmits).min(16))
            .min(max_rto);
        if let Some(slot) = self.syn_queue.get_mut(i) {
            slot.send_now = false;
            slot.sent = true;
            slot.retransmits = retransmits;
            slot.next_at = now.saturating_add(backoff);
        }
        let mut repr =
            self.syn_ack_repr(e.local, e.remote, e.iss, e.irs, self.our_mss(e.mss_limit));
        if e.peer_ws.is_some() {
            repr.window_scale = Some(self.config.recv_window_scale());
        }
        repr.sack_permitted = e.sack;
        if let Some(tsecr) = e.ts_recent {
            repr.timestamps = Some(Timestamps {
                tsval: (now.total_millis() as u32).wrapping_add(ts_offset(e.iss, e.created)),
                tsecr,
            });
        }
        Some((e.local, e.remote, repr))
    }

    /// When a SYN-ACK is due (`Some(Instant::ZERO)`: now).
    pub fn poll_at(&self) -> Option<Instant> {
        let queued = self.accept_queue.iter().filter_map(|c| c.poll_at()).min();
        let half_open = self
            .syn_queue
            .iter()
            .map(|e| if e.send_now { Instant::ZERO } else { e.next_at })
            .min();
        match (queued, half_open) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
