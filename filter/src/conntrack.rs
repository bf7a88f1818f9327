//! Connection tracking: a bounded table of flows keyed by both
//! directions' tuples, with TCP state and window tracking, UDP and ICMP
//! echo pseudo-connections, ICMP errors related to the flow they quote,
//! and timeouts driven by the caller's clock.
//!
//! # Structure and bounds
//!
//! Entries (96 bytes each) live in a slab that grows up to
//! [`ConntrackConfig::max_entries`] (at most 2³⁰);
//! each is reachable from a hash index (chained buckets, twice as many
//! buckets as entries, keyed by a per-table random seed) under its
//! original and its reply tuple, so a lookup in either direction is O(1).
//! The bucket array (4 bytes a bucket, about 8 bytes per allowed entry)
//! is allocated when the table is created.
//! An entry is created only when the datagram that opened the flow is
//! accepted at its last hook (as Linux confirms), so a dropped probe
//! costs nothing.
//!
//! When the table is full, a new flow first reclaims an expired entry,
//! then evicts the oldest flow that has never seen a reply (a SYN flood's
//! victims go first, established flows never); when every entry has seen
//! a reply, the new flow is refused and its datagram dropped
//! ([`ConntrackStats::dropped_full`]).
//!
//! # TCP
//!
//! The state machine follows Linux's (`SYN_SENT`, `SYN_RECV`,
//! `ESTABLISHED`, `FIN_WAIT`, `LAST_ACK`, `TIME_WAIT`, `CLOSE`), each
//! state with its timeout. Each direction keeps the highest sequence end
//! sent, the highest end the peer's acknowledgements and windows allow,
//! and the largest window advertised (scaled per RFC 7323 when both SYNs
//! carried the option). A segment must start at or before what the peer
//! allows and acknowledge nothing unsent; otherwise it is
//! [`CtState::Invalid`] and leaves the entry untouched. One that is merely
//! late — ending more than a peer window before the highest end seen, or
//! acknowledging less than a window behind — belongs to the flow but
//! changes nothing (as Linux has since 2022): a duplicate or an overtaken ACK
//! marked invalid would miss its NAT translation and reach the router's
//! own stack, whose reset could end the connection. A flow picked up
//! in the middle (the first segment is not a SYN, allowed by
//! [`ConntrackConfig::tcp_loose`]) is tracked without window checks, as
//! its scaling is unknown, and keeps the SYN-SENT timeout until a reply
//! comes (a stray or scanning ACK opens no five-day entry).
//!
//! A SYN on a flow that has seen the SYN-ACK (sent again because that
//! SYN-ACK was lost beyond the router, or a new connection on a 4-tuple
//! whose last one ended unseen: both of its resets lost) passes without
//! changing anything; a SYN-ACK that answers it starts the flow over from
//! that SYN. An ACK answering a SYN-SENT flow's SYN (the server still
//! holds an older connection, RFC 9293 §3.10.7.4) passes unchanged too,
//! so that the client's reset can end that connection. A reset answering
//! a SYN-SENT flow must acknowledge its SYN (RFC 9293 §3.10.7.3): a late
//! one of the tuple's last connection does not close the new flow; nor
//! does a reset from the client whose sequence number is not the one
//! after its SYN (its answer to that older connection, or a late reset
//! of the last one): it passes, changing nothing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use lamina_netbuf::{Duration, Instant};

use crate::packet::{L4, Parsed, TCP, TcpInfo, Tuple, UDP};

/// A datagram's relation to the connections tracked (nftables' `ct
/// state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtState {
    /// Opens a flow, or belongs to one that has not seen a reply yet.
    New,
    /// Belongs to a flow that has seen traffic both ways.
    Established,
    /// An ICMP error about a tracked flow.
    Related,
    /// Malformed, out of window, or impossible in its flow's state.
    Invalid,
}

impl CtState {
    /// The bit of this state in a [`StateSet`](crate::StateSet).
    pub const fn bit(self) -> u8 {
        match self {
            CtState::New => 1,
            CtState::Established => 2,
            CtState::Related => 4,
            CtState::Invalid => 8,
        }
    }
}

/// Which way a datagram travels in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// As the flow's first datagram.
    Original,
    /// The other way.
    Reply,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::Original => 0,
            Dir::Reply => 1,
        }
    }
}

/// A TCP connection's tracked state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// Not TCP.
    None,
    /// SYN seen.
    SynSent,
    /// SYN-ACK seen.
    SynRecv,
    /// Handshake complete.
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN.
    LastAck,
    /// The last FIN was acknowledged.
    TimeWait,
    /// Reset.
    Close,
}

/// How long an idle flow is kept, per protocol and TCP state (Linux's
/// defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP `SYN_SENT`.
    pub tcp_syn_sent: Duration,
    /// TCP `SYN_RECV`.
    pub tcp_syn_recv: Duration,
    /// TCP `ESTABLISHED`.
    pub tcp_established: Duration,
    /// TCP `FIN_WAIT` and `LAST_ACK`.
    pub tcp_fin_wait: Duration,
    /// TCP `TIME_WAIT`.
    pub tcp_time_wait: Duration,
    /// TCP `CLOSE`.
    pub tcp_close: Duration,
    /// UDP before any reply.
    pub udp: Duration,
    /// UDP once replied.
    pub udp_stream: Duration,
    /// ICMP echo.
    pub icmp: Duration,
    /// Any other protocol.
    pub generic: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_syn_sent: Duration::from_secs(120),
            tcp_syn_recv: Duration::from_secs(60),
            tcp_established: Duration::from_secs(5 * 24 * 3600),
            tcp_fin_wait: Duration::from_secs(120),
            tcp_time_wait: Duration::from_secs(120),
            tcp_close: Duration::from_secs(10),
            udp: Duration::from_secs(30),
            udp_stream: Duration::from_secs(120),
            icmp: Duration::from_secs(30),
            generic: Duration::from_secs(600),
        }
    }
}

/// Connection-tracking settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConntrackConfig {
    /// Most entries (flows) kept; see the [module docs](self) for what
    /// happens when full.
    pub max_entries: usize,
    /// Idle timeouts.
    pub timeouts: Timeouts,
    /// Pick up TCP flows whose first segment seen is not a SYN (Linux's
    /// `nf_conntrack_tcp_loose`, on by default).
    pub tcp_loose: bool,
    /// Verify the transport checksum of a received datagram (where the
    /// device has not) before it opens a flow, and of every received TCP
    /// segment before it moves one: a damaged one is
    /// [`CtState::Invalid`] and changes nothing (Linux's
    /// `nf_conntrack_checksum`, on by default, which checks every
    /// datagram). A bit flipped on the way could otherwise open a flow
    /// that never ends, or move a flow's window so that its real
    /// segments look invalid. A UDP or ICMP datagram of a known flow is
    /// not checked: it changes nothing but the flow's timeout, and its
    /// receiver drops it.
    pub checksum: bool,
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig {
            max_entries: 65_536,
            timeouts: Timeouts::default(),
            tcp_loose: true,
            checksum: true,
        }
    }
}

/// Counters of the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConntrackStats {
    /// Entries created.
    pub inserted: u64,
    /// Entries removed because they expired.
    pub expired: u64,
    /// Unreplied entries evicted to make room.
    pub evicted: u64,
    /// New flows refused because the table was full of replied flows.
    pub dropped_full: u64,
    /// New flows refused because their reply tuple was already taken.
    pub clashes: u64,
    /// Datagrams found invalid.
    pub invalid: u64,
}

/// One direction's TCP window data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct TcpDir {
    /// Highest sequence end sent.
    end: u32,
    /// Highest sequence end the peer allows.
    maxend: u32,
    /// Largest (scaled) window advertised.
    maxwin: u32,
    /// Window scale shift announced in the SYN.
    scale: u8,
    /// `SCALE_SEEN`, `FIN_SEEN`.
    flags: u8,
}

const F_SCALE: u8 = 1;
const F_FIN: u8 = 2;

const S_SEEN_REPLY: u8 = 1;
const S_SNAT: u8 = 2;
const S_DNAT: u8 = 4;
const S_LIBERAL: u8 = 8;

const NIL: u32 = u32::MAX;

/// A SYN that came on a flow that has seen the SYN-ACK, let through
/// without changing anything: a client whose SYN-ACK was lost sending its
/// SYN again, or one that opens a new connection on a 4-tuple whose last
/// connection ended unseen (both resets lost). If the reply is
/// a SYN-ACK for it, both ends agree on a new connection and the flow
/// starts over from this SYN (as Linux's conntrack does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IgnoredSyn {
    /// Its sequence number plus one.
    end: u32,
    window: u16,
    /// Its window scale option.
    wscale: Option<u8>,
}

/// A tracked flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conn {
    pub orig: Tuple,
    /// The tuple replies carry (after NAT).
    pub reply: Tuple,
    pub expires: Instant,
    pub tcp_state: TcpState,
    tcp: [TcpDir; 2],
    /// The last segment was a SYN on a flow past the SYN-ACK (see
    /// [`IgnoredSyn`]).
    syn: Option<IgnoredSyn>,
    status: u8,
    next: [u32; 2],
    generation: u32,
    live: bool,
}

impl Conn {
    fn new(orig: Tuple) -> Conn {
        Conn {
            orig,
            reply: orig.invert(),
            expires: Instant::ZERO,
            tcp_state: TcpState::None,
            tcp: [TcpDir::default(); 2],
            syn: None,
            status: 0,
            next: [NIL; 2],
            generation: 0,
            live: false,
        }
    }

    fn tuple(&self, d: usize) -> &Tuple {
        if d == 0 { &self.orig } else { &self.reply }
    }

    /// Whether a reply has been seen.
    pub fn seen_reply(&self) -> bool {
        self.status & S_SEEN_REPLY != 0
    }

    /// Whether a source / destination NAT binding was made.
    pub fn nat_done(&self, snat: bool) -> bool {
        self.status & if snat { S_SNAT } else { S_DNAT } != 0
    }

    /// Records a NAT binding.
    pub fn set_nat(&mut self, snat: bool) {
        self.status |= if snat { S_SNAT } else { S_DNAT };
    }

    /// What datagrams travelling in `dir` look like after NAT.
    pub fn target(&self, dir: Dir) -> Tuple {
        match dir {
            Dir::Original => self.reply.invert(),
            Dir::Reply => self.orig.invert(),
        }
    }

    fn info(&self) -> ConnInfo {
        ConnInfo {
            original: self.orig,
            reply: self.reply,
            tcp_state: self.tcp_state,
            seen_reply: self.seen_reply(),
            expires: self.expires,
        }
    }
}

/// A copy of a tracked flow, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// The tuple of the flow's first datagram.
    pub original: Tuple,
    /// The tuple replies carry (after NAT).
    pub reply: Tuple,
    /// The TCP state ([`TcpState::None`] for other protocols).
    pub tcp_state: TcpState,
    /// Whether traffic was seen both ways.
    pub seen_reply: bool,
    /// When the flow expires unless more traffic comes.
    pub expires: Instant,
}

/// The outcome of tracking one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Track {
    /// An existing flow (`idx`, its generation), the datagram's direction.
    Known(u32, u32, Dir),
    /// A new flow, not in the table until confirmed.
    Pending(alloc::boxed::Box<Conn>),
    /// Not tracked (invalid or untrackable).
    None,
}

/// The connection-tracking table; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Conntrack {
    config: ConntrackConfig,
    entries: Vec<Conn>,
    free: Vec<u32>,
    buckets: Vec<u32>,
    mask: usize,
    seed: [u64; 2],
    count: usize,
    unreplied: VecDeque<(u32, u32)>,
    gc_cursor: usize,
    stats: ConntrackStats,
}

impl Conntrack {
    /// An empty table; `seed` keys its hash (draw it from a random source
    /// so that an attacker cannot aim at one bucket).
    pub fn new(config: ConntrackConfig, seed: [u64; 2]) -> Conntrack {
        let max = config.max_entries.clamp(1, 1 << 30);
        let buckets = (max * 2).next_power_of_two();
        Conntrack {
            config: ConntrackConfig {
                max_entries: max,
                ..config
            },
            entries: Vec::new(),
            free: Vec::new(),
            buckets: alloc::vec![NIL; buckets],
            mask: buckets - 1,
            seed,
            count: 0,
            unreplied: VecDeque::new(),
            gc_cursor: 0,
            stats: ConntrackStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ConntrackConfig {
        &self.config
    }

    /// Flows tracked.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The counters.
    pub fn stats(&self) -> &ConntrackStats {
        &self.stats
    }

    /// Every flow tracked (expired ones included until collected).
    pub fn iter(&self) -> impl Iterator<Item = ConnInfo> + '_ {
        self.entries.iter().filter(|c| c.live).map(Conn::info)
    }

    /// The flow a datagram with tuple `t` belongs to, and its direction.
    pub fn lookup(&self, t: &Tuple) -> Option<(ConnInfo, Dir)> {
        let (i, d) = self.find(t)?;
        Some((self.entries.get(i as usize)?.info(), d))
    }

    /// Removes every flow expired at `now`; returns how many.
    pub fn gc(&mut self, now: Instant) -> usize {
        let mut n = 0;
        for i in 0..self.entries.len() {
            if self
                .entries
                .get(i)
                .is_some_and(|c| c.live && c.expires <= now)
            {
                self.remove(i as u32);
                self.stats.expired += 1;
                n += 1;
            }
        }
        n
    }

    /// Removes every flow (as a router that restarts). Each slot keeps
    /// its generation, moved on, so that nothing still naming a removed
    /// flow (a datagram between two hooks) can take the new flow that
    /// reuses its slot for it.
    pub fn clear(&mut self) {
        self.free.clear();
        for (i, c) in self.entries.iter_mut().enumerate().rev() {
            if c.live {
                c.live = false;
                c.generation = c.generation.wrapping_add(1);
            }
            c.next = [NIL; 2];
            self.free.push(i as u32);
        }
        self.buckets.fill(NIL);
        self.unreplied.clear();
        self.count = 0;
    }

    /// Examines up to `budget` entries for expiry (incremental GC).
    pub(crate) fn gc_step(&mut self, now: Instant, budget: usize) {
        let len = self.entries.len();
        if len == 0 {
            return;
        }
        for _ in 0..budget.min(len) {
            self.gc_cursor = (self.gc_cursor + 1) % len;
            let i = self.gc_cursor;
            if self
                .entries
                .get(i)
                .is_some_and(|c| c.live && c.expires <= now)
            {
                self.remove(i as u32);
                self.stats.expired += 1;
            }
        }
    }

    fn hash(&self, t: &Tuple) -> usize {
        let a = (u64::from(u32::from(t.src)) << 32) | u64::from(u32::from(t.dst));
        let b = (u64::from(t.sport) << 32) | (u64::from(t.dport) << 8) | u64::from(t.proto);
        let mut h = (a ^ self.seed[0]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= (b ^ self.seed[1]).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h ^= h >> 31;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 29;
        (h as usize) & self.mask
    }

    fn find(&self, t: &Tuple) -> Option<(u32, Dir)> {
        let mut node = *self.buckets.get(self.hash(t))?;
        while node != NIL {
            let (i, d) = (node >> 1, (node & 1) as usize);
            let c = self.entries.get(i as usize)?;
            if c.tuple(d) == t {
                return Some((i, if d == 0 { Dir::Original } else { Dir::Reply }));
            }
            node = *c.next.get(d)?;
        }
        None
    }

    /// The live flow with tuple `t`: index, generation, direction.
    pub(crate) fn find_flow(&self, t: &Tuple) -> Option<(u32, u32, Dir)> {
        let (i, d) = self.find(t)?;
        Some((i, self.gen_of(i), d))
    }

    /// Whether `t` is some flow's tuple, in either direction.
    pub(crate) fn contains(&self, t: &Tuple) -> bool {
        self.find(t).is_some()
    }

    pub(crate) fn get(&self, idx: u32, generation: u32) -> Option<&Conn> {
        self.entries
            .get(idx as usize)
            .filter(|c| c.live && c.generation == generation)
    }

    pub(crate) fn get_mut(&mut self, idx: u32, generation: u32) -> Option<&mut Conn> {
        self.entries
            .get_mut(idx as usize)
            .filter(|c| c.live && c.generation == generation)
    }

    fn link(&mut self, idx: u32) {
        for d in 0..2 {
            let Some(t) = self.entries.get(idx as usize).map(|c| *c.tuple(d)) else {
                return;
            };
            let b = self.hash(&t);
            let head = self.buckets.get(b).copied().unwrap_or(NIL);
            if let Some(c) = self.entries.get_mut(idx as usize)
                && let Some(n) = c.next.get_mut(d)
            {
                *n = head;
            }
            if let Some(slot) = self.buckets.get_mut(b) {
                *slot = (idx << 1) | d as u32;
            }
        }
    }

    fn unlink(&mut self, idx: u32) {
        for d in 0..2u32 {
            let Some(c) = self.entries.get(idx as usize) else {
                return;
            };
            let me = (idx << 1) | d;
            let my_next = c.next.get(d as usize).copied().unwrap_or(NIL);
            let b = self.hash(c.tuple(d as usize));
            let Some(mut node) = self.buckets.get(b).copied() else {
                return;
            };
            if node == me {
                if let Some(s) = self.buckets.get_mut(b) {
                    *s = my_next;
                }
                continue;
            }
            while node != NIL {
                let (i, nd) = ((node >> 1) as usize, (node & 1) as usize);
                let Some(next) = self.entries.get(i).and_then(|c| c.next.get(nd).copied()) else {
                    break;
                };
                if next == me {
                    if let Some(n) = self.entries.get_mut(i).and_then(|c| c.next.get_mut(nd)) {
                        *n = my_next;
                    }
                    break;
                }
                node = next;
            }
        }
    }

    fn remove(&mut self, idx: u32) {
        self.unlink(idx);
        if let Some(c) = self.entries.get_mut(idx as usize)
            && c.live
        {
            c.live = false;
            c.generation = c.generation.wrapping_add(1);
            c.next = [NIL; 2];
            self.free.push(idx);
            self.count -= 1;
        }
    }

    /// Makes room for one entry; false if the table is full of replied
    /// flows.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.count < self.config.max_entries {
            return true;
        }
        self.gc_step(now, 64);
        if self.count < self.config.max_entries {
            return true;
        }
        while let Some((i, g)) = self.unreplied.pop_front() {
            if self.get(i, g).is_some_and(|c| !c.seen_reply()) {
                self.remove(i);
                self.stats.evicted += 1;
                return true;
            }
        }
        false
    }

    /// Inserts a new flow (the datagram that opened it was accepted).
    /// Returns its index and generation, or `None` when refused (the table
    /// is full, or the reply tuple is taken).
    pub(crate) fn confirm(&mut self, mut conn: Conn, now: Instant) -> Option<(u32, u32)> {
        if self.contains(&conn.orig) || self.contains(&conn.reply) {
            self.stats.clashes += 1;
            return None;
        }
        if !self.make_room(now) {
            self.stats.dropped_full += 1;
            return None;
        }
        conn.live = true;
        let idx = match self.free.pop() {
            Some(i) => {
                let g = self.entries.get(i as usize).map_or(0, |c| c.generation);
                conn.generation = g;
                if let Some(slot) = self.entries.get_mut(i as usize) {
                    *slot = conn;
                }
                i
            }
            None => {
                self.entries.push(conn);
                (self.entries.len() - 1) as u32
            }
        };
        self.link(idx);
        self.count += 1;
        self.stats.inserted += 1;
        let generation = self.entries.get(idx as usize).map_or(0, |c| c.generation);
        self.unreplied.push_back((idx, generation));
        if self.unreplied.len() > 2 * self.config.max_entries {
            let entries = &self.entries;
            self.unreplied.retain(|&(i, g)| {
                entries
                    .get(i as usize)
                    .is_some_and(|c| c.live && c.generation == g && !c.seen_reply())
            });
        }
        Some((idx, generation))
    }

    /// Tracks datagram `p`: finds or prepares its flow, updates TCP
    /// state, and says its [`CtState`]. `intact` says whether the
    /// datagram is undamaged (its transport checksum): asked, once, only
    /// where the answer matters — before a datagram opens a flow and
    /// before a TCP segment moves one (a damaged UDP datagram on a known
    /// flow changes nothing but its timeout, and its receiver drops it).
    /// A damaged one is [`CtState::Invalid`] and changes nothing.
    pub(crate) fn track(
        &mut self,
        p: &Parsed,
        now: Instant,
        intact: impl FnOnce() -> bool,
    ) -> (Track, CtState) {
        // Asked once; a later question has the same (good) answer.
        let mut once = Some(intact);
        let mut intact = move || once.take().is_none_or(|f| f());
        self.gc_step(now, 2);
        if let L4::IcmpError { inner, .. } = p.l4 {
            // RFC 792: the quote is of a datagram sent the other way.
            let key = inner.tuple.invert();
            return match self.find(&key) {
                Some((i, d)) if self.get(i, self.gen_of(i)).is_some_and(|c| c.expires > now) => {
                    (Track::Known(i, self.gen_of(i), d), CtState::Related)
                }
                _ => {
                    self.stats.invalid += 1;
                    (Track::None, CtState::Invalid)
                }
            };
        }
        let Some(t) = p.tuple() else {
            self.stats.invalid += 1;
            return (Track::None, CtState::Invalid);
        };
        if let Some((i, d)) = self.find(&t) {
            let g = self.gen_of(i);
            let expired = self.get(i, g).is_none_or(|c| c.expires <= now);
            let reopen = p.proto == TCP
                && d == Dir::Original
                && matches!(p.l4, L4::Tcp { info, .. } if info.flags & 0x17 == 0x02)
                && self
                    .get(i, g)
                    .is_some_and(|c| matches!(c.tcp_state, TcpState::TimeWait | TcpState::Close));
            if (expired || reopen) && !intact() {
                return (Track::None, CtState::Invalid);
            }
            if expired || reopen {
                self.remove(i);
                if expired {
                    self.stats.expired += 1;
                }
            } else {
                if p.proto == TCP && !intact() {
                    return (Track::None, CtState::Invalid);
                }
                let timeouts = self.config.timeouts;
                let Some(c) = self.get_mut(i, g) else {
                    return (Track::None, CtState::Invalid);
                };
                let ok = update(c, d, p, now, &timeouts);
                if !ok {
                    self.stats.invalid += 1;
                    return (Track::None, CtState::Invalid);
                }
                let state = if d == Dir::Original && !c.seen_reply() {
                    CtState::New
                } else {
                    CtState::Established
                };
                return (Track::Known(i, g, d), state);
            }
        }
        if !intact() {
            return (Track::None, CtState::Invalid);
        }
        match self.open(t, p, now) {
            Some(c) => (Track::Pending(alloc::boxed::Box::new(c)), CtState::New),
            None => {
                self.stats.invalid += 1;
                (Track::None, CtState::Invalid)
            }
        }
    }

    fn gen_of(&self, i: u32) -> u32 {
        self.entries.get(i as usize).map_or(0, |c| c.generation)
    }

    /// A new flow for the first datagram `p`, or `None` when that
    /// datagram cannot open one (a TCP segment other than SYN, unless
    /// loose; an ICMP echo reply).
    fn open(&self, t: Tuple, p: &Parsed, now: Instant) -> Option<Conn> {
        let to = &self.config.timeouts;
        let mut c = Conn::new(t);
        match p.l4 {
            L4::Tcp { info, .. } => {
                let syn_only = info.flags & 0x17 == 0x02;
                let ack_only = info.flags & 0x17 == 0x10;
                let end = info.seq.wrapping_add(info.seg_len);
                let win = u32::from(info.window).max(1);
                if syn_only {
                    c.tcp_state = TcpState::SynSent;
                    let s = &mut c.tcp[0];
                    s.end = end;
                    s.maxend = end;
                    s.maxwin = win;
                    if let Some(sc) = info.wscale {
                        s.scale = sc.min(14);
                        s.flags |= F_SCALE;
                    }
                    c.expires = now + to.tcp_syn_sent;
                } else if ack_only && self.config.tcp_loose {
                    // Picked up midstream: no history, no window checks;
                    // the established timeout once answered.
                    c.tcp_state = TcpState::Established;
                    c.status |= S_LIBERAL;
                    let s = &mut c.tcp[0];
                    s.end = end;
                    s.maxwin = win;
                    s.maxend = end.wrapping_add(win);
                    c.expires = now + to.tcp_syn_sent;
                } else {
                    return None;
                }
            }
            L4::Udp { .. } => c.expires = now + to.udp,
            L4::IcmpEcho { ty, .. } => {
                if ty != crate::packet::ECHO_REQUEST {
                    return None;
                }
                c.expires = now + to.icmp;
            }
            _ => c.expires = now + to.generic,
        }
        Some(c)
    }
}

#[inline]
fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

#[inline]
fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// Updates `c` for datagram `p` travelling in `dir`; false when the
/// datagram is invalid for the flow (the entry is then untouched).
fn update(c: &mut Conn, dir: Dir, p: &Parsed, now: Instant, to: &Timeouts) -> bool {
    if dir == Dir::Reply {
        if let L4::Tcp { info, .. } = p.l4 {
            if !tcp_update(c, dir, &info, now, to) {
                return false;
            }
            c.status |= S_SEEN_REPLY;
            return true;
        }
        c.status |= S_SEEN_REPLY;
    }
    match p.l4 {
        L4::Tcp { info, .. } => tcp_update(c, dir, &info, now, to),
        L4::Udp { .. } if p.proto == UDP => {
            c.expires = now
                + if c.seen_reply() {
                    to.udp_stream
                } else {
                    to.udp
                };
            true
        }
        L4::IcmpEcho { .. } => {
            c.expires = now + to.icmp;
            true
        }
        _ => {
            c.expires = now + to.generic;
            true
        }
    }
}

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

fn tcp_update(c: &mut Conn, dir: Dir, info: &TcpInfo, now: Instant, to: &Timeouts) -> bool {
    let d = dir.index();
    let flags = info.flags;
    let syn = flags & SYN != 0;
    let ack_set = flags & ACK != 0;
    // Flag combinations no stack sends.
    if (syn && flags & (RST | FIN) != 0) || (!ack_set && flags & (FIN) != 0 && !syn) {
        return false;
    }
    let before = *c;
    let ignored = c.syn.take();
    use TcpState as S;
    if syn
        && !ack_set
        && dir == Dir::Original
        && matches!(
            c.tcp_state,
            S::SynRecv | S::Established | S::FinWait | S::LastAck
        )
    {
        // A new connection on this 4-tuple, or a stray SYN (which the
        // receiver answers with an ACK, RFC 9293 §3.10.7.4), or, after
        // the SYN-ACK, the SYN sent again because the SYN-ACK was lost
        // beyond us: let it by, change nothing, and see what the reply
        // says (a SYN-ACK for it starts the flow over from it).
        c.syn = Some(IgnoredSyn {
            end: info.seq.wrapping_add(1),
            window: info.window,
            wscale: info.wscale,
        });
        return true;
    }
    if let Some(s0) = ignored
        && syn
        && ack_set
        && dir == Dir::Reply
        && info.ack == s0.end
    {
        // Both ends are in a new connection: start the flow over from
        // the SYN, as if it had opened it.
        c.tcp = [TcpDir::default(); 2];
        c.status &= !S_LIBERAL;
        c.tcp_state = S::SynSent;
        let s = &mut c.tcp[0];
        s.end = s0.end;
        s.maxend = s0.end;
        s.maxwin = u32::from(s0.window).max(1);
        if let Some(sc) = s0.wscale {
            s.scale = sc.min(14);
            s.flags |= F_SCALE;
        }
    }
    if c.tcp_state == S::SynSent && dir == Dir::Original && !syn && flags & RST == 0 {
        // Nothing but the SYN (or a reset) comes from the client before
        // the answer to it: a segment that does is of the tuple's last
        // connection, late, and must not move the new flow (Linux's
        // table has it invalid too).
        return false;
    }
    if c.tcp_state == S::SynSent
        && dir == Dir::Reply
        && flags & RST != 0
        && !(ack_set && info.ack == c.tcp[0].end)
    {
        // RFC 9293 §3.10.7.3: in SYN-SENT only a reset that acknowledges
        // the SYN is the answer to it; another (the last connection's on
        // this 4-tuple, reordered) must not close the new flow.
        return false;
    }
    if c.tcp_state == S::SynSent
        && dir == Dir::Original
        && flags & RST != 0
        && info.seq != c.tcp[0].end
    {
        // The client's own reset of this connection carries the sequence
        // number after its SYN; another is of the tuple's last connection
        // (late, or the client's answer to the peer's old half, RFC 9293
        // §3.10.7.3): it may still end that one at the peer, so let it
        // by, but it must not close the new flow (a SYN sent again behind
        // it would then open the flow over, mid-connection).
        return true;
    }
    if c.tcp_state == S::SynSent && dir == Dir::Reply && !syn && flags & RST == 0 {
        // An ACK answering a SYN: the peer still holds an older
        // connection on this 4-tuple (RFC 9293 §3.10.7.4; RFC 5961 §4).
        // The client answers it with a reset, which ends that one; it
        // belongs to no sequence space tracked here, so let it by and
        // change nothing (Linux ignores it too).
        return true;
    }
    if syn && !ack_set && dir == Dir::Original && c.tcp_state == TcpState::SynSent {
        // A SYN again (perhaps with a new initial sequence number): start
        // this side afresh.
        if let Some(s) = c.tcp.get_mut(0) {
            *s = TcpDir::default();
        }
    }
    match window_ok(c, d, info) {
        Window::Ok => {}
        // Merely late (a duplicate, a retransmission of what was
        // acknowledged, an ACK overtaken by newer ones): let by as part
        // of the flow, changing nothing. Marked invalid, it would miss
        // its NAT translation and reach the router itself, whose answer
        // (a reset) could end the connection.
        Window::Old => {
            *c = before;
            c.syn = None;
            return true;
        }
        Window::Bad => {
            *c = before;
            return false;
        }
    }
    let state = c.tcp_state;
    let next = if flags & RST != 0 {
        S::Close
    } else if syn && ack_set {
        match (state, dir) {
            (S::SynSent | S::SynRecv, Dir::Reply) => S::SynRecv,
            (S::SynRecv, Dir::Original) => S::SynRecv,
            _ => state,
        }
    } else if syn {
        match (state, dir) {
            (S::SynSent, Dir::Original) => S::SynSent,
            // Simultaneous open.
            (S::SynSent, Dir::Reply) => S::SynRecv,
            _ => {
                *c = before;
                return false;
            }
        }
    } else if flags & FIN != 0 {
        if let Some(s) = c.tcp.get_mut(d) {
            s.flags |= F_FIN;
        }
        let both = c.tcp.iter().all(|s| s.flags & F_FIN != 0);
        match state {
            S::SynRecv | S::Established => S::FinWait,
            S::FinWait if both => S::LastAck,
            other => other,
        }
    } else {
        match (state, dir) {
            (S::SynRecv, Dir::Original) => S::Established,
            (S::LastAck, _) => S::TimeWait,
            (other, _) => other,
        }
    };
    c.tcp_state = next;
    c.expires = now
        + match next {
            S::SynSent => to.tcp_syn_sent,
            S::SynRecv => to.tcp_syn_recv,
            // Picked up midstream and never answered: perhaps no
            // connection at all (a stray or scanning ACK), which must not
            // hold an entry and its NAT port for days.
            S::Established if !c.seen_reply() && dir == Dir::Original => to.tcp_syn_sent,
            S::Established => to.tcp_established,
            S::FinWait | S::LastAck => to.tcp_fin_wait,
            S::TimeWait => to.tcp_time_wait,
            S::Close | S::None => to.tcp_close,
        };
    true
}

/// What the window check finds of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Within bounds (the window data was updated).
    Ok,
    /// Entirely before what the flow has moved past: its end before one
    /// window behind the sender's highest, or its acknowledgement more
    /// than a window behind the receiver's highest. Late, not forged.
    Old,
    /// Beyond what the peer allows, or acknowledging data never sent.
    Bad,
}

/// The window check of the module docs; updates the window data when the
/// segment passes.
fn window_ok(c: &mut Conn, d: usize, info: &TcpInfo) -> Window {
    let liberal = c.status & S_LIBERAL != 0;
    let [s0, s1] = &mut c.tcp;
    let (sender, receiver) = if d == 0 { (s0, s1) } else { (s1, s0) };
    let syn = info.flags & SYN != 0;
    let seq = info.seq;
    let end = seq.wrapping_add(info.seg_len);
    let mut ack = info.ack;
    if sender.maxwin == 0 {
        // The first segment this way.
        if syn {
            sender.end = end;
            sender.maxend = end;
            sender.maxwin = u32::from(info.window).max(1);
            if let Some(sc) = info.wscale {
                sender.scale = sc.min(14);
                sender.flags |= F_SCALE;
            }
            // RFC 7323 §2.2: scaling only when both SYNs carry the option
            // (known once the other side's SYN has been seen: not on a
            // retransmitted first SYN, which must keep its scale).
            if receiver.maxwin != 0 && sender.flags & receiver.flags & F_SCALE == 0 {
                sender.scale = 0;
                receiver.scale = 0;
            }
        } else {
            sender.end = end;
            let w = u32::from(info.window) << sender.scale;
            sender.maxwin = w.max(1);
            sender.maxend = end.wrapping_add(sender.maxwin);
            if receiver.maxwin == 0 {
                receiver.end = ack;
                receiver.maxend = ack;
            }
        }
    }
    if info.flags & ACK == 0 {
        ack = receiver.end;
    }
    let win = if syn {
        u32::from(info.window)
    } else {
        u32::from(info.window) << sender.scale
    };
    if !(liberal || receiver.maxwin == 0) {
        if !(seq_le(seq, sender.maxend) && seq_le(ack, receiver.end)) {
            return Window::Bad;
        }
        if !(seq_ge(end, sender.end.wrapping_sub(receiver.maxwin.max(1)))
            && seq_ge(ack, receiver.end.wrapping_sub(sender.maxwin.max(66_000))))
        {
            return Window::Old;
        }
    }
    if sender.maxwin < win {
        sender.maxwin = win;
    }
    if seq_ge(end, sender.end) {
        sender.end = end;
    }
    if receiver.maxwin != 0 && seq_ge(end, sender.maxend) {
        receiver.maxwin = receiver
            .maxwin
            .wrapping_add(end.wrapping_sub(sender.maxend));
    }
    let allowed = ack.wrapping_add(win.max(1));
    if seq_ge(allowed, receiver.maxend) || receiver.maxend == 0 {
        receiver.maxend = allowed;
    }
    Window::Ok
}

/// The size of one entry, for memory planning.
pub const ENTRY_SIZE: usize = core::mem::size_of::<Conn>();
