//! [`Filter`]: the ruleset, the connection tracker and NAT behind
//! [`PacketHook`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use lamina_icmp::{ErrorBuilder, ErrorContext, IcmpRepr, UnreachableCode, should_send_error};
use lamina_ipv4::hook::{HookPoint, PacketHook, Verdict};
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Repr};
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Instant, Rng, Serializer};
use lamina_tcp::{SeqNumber, TcpFlags, TcpRepr};

use crate::conntrack::{Conn, Conntrack, ConntrackConfig, CtState, Dir, Track};
use crate::nat::{self, Side};
use crate::packet::{ICMP, L4, Parsed, TCP, Tuple, UDP};
use crate::rules::{
    Action, BuildError, ChainType, Compiled, MAX_JUMP_DEPTH, Match, Policy, RejectWith, Ruleset,
    hook_index,
};

/// Filter settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterConfig {
    /// Connection tracking.
    pub conntrack: ConntrackConfig,
    /// Log records allowed per second (token bucket rate).
    pub log_rate: u32,
    /// Log records allowed in a burst.
    pub log_burst: u32,
    /// Replies (`reject`) waiting for `next_injected`; more are dropped.
    pub max_injected: usize,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            conntrack: ConntrackConfig::default(),
            log_rate: 10,
            log_burst: 5,
            max_injected: 64,
        }
    }
}

/// What the log callback is given.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// The `log` action's prefix.
    pub prefix: &'a str,
    /// Where the datagram was.
    pub point: HookPoint,
    /// Input interface, when known.
    pub input: Option<IfaceId>,
    /// Output interface, when known.
    pub output: Option<IfaceId>,
    /// Its conntrack state.
    pub ct_state: CtState,
    /// The datagram, from its IPv4 header.
    pub packet: &'a [u8],
}

/// A rule's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Datagrams that matched.
    pub packets: u64,
    /// Their bytes (IPv4 total length).
    pub bytes: u64,
}

/// The filter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterStats {
    /// Datagrams dropped (by a rule, a policy, NAT failure or a full
    /// table), rejects included.
    pub dropped: u64,
    /// Datagrams rejected with an answer.
    pub rejected: u64,
    /// Datagrams handed to a queue.
    pub queued: u64,
    /// Datagrams that were not IPv4 the filter could read.
    pub malformed: u64,
    /// Received datagrams whose transport checksum was wrong
    /// ([`ConntrackConfig::checksum`](crate::ConntrackConfig::checksum)):
    /// invalid, not tracked.
    pub bad_checksum: u64,
    /// New flows dropped because NAT found no free tuple or no address.
    pub nat_failed: u64,
    /// New flows dropped because conntrack refused them.
    pub ct_refused: u64,
    /// Answers dropped: the queue was full, or `buf` too small.
    pub injected_dropped: u64,
    /// Log records suppressed by the rate limit.
    pub log_suppressed: u64,
}

type LogFn = Box<dyn FnMut(&LogRecord<'_>) + Send>;

/// The identity of a datagram between two hooks of its way through the
/// stack (fields no hook between them changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    proto: u8,
    ident: u16,
    total_len: u16,
}

impl Fingerprint {
    fn of(p: &Parsed) -> Fingerprint {
        let ports = match p.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
            L4::IcmpEcho { id, .. } => (id, 0),
            _ => (0, 0),
        };
        Fingerprint {
            src: p.src,
            dst: p.dst,
            ports,
            proto: p.proto,
            ident: p.ident,
            total_len: p.total_len,
        }
    }
}

/// The datagram last judged, so that its next hook finds its flow (and
/// mark) even though NAT rewrote it.
#[derive(Debug)]
struct Current {
    fp: Fingerprint,
    point: HookPoint,
    track: Track,
    ct_state: CtState,
    dir: Dir,
    mark: u32,
    frag: Option<(FragKey, Option<Tuple>)>,
}

/// A fragmented datagram's identity as it reached its first hook (RFC
/// 791 §3.2: source, destination, protocol, identification).
type FragKey = (Ipv4Addr, Ipv4Addr, u8, u16);

/// What the first fragment of a datagram earned, for the later ones,
/// which carry no transport header.
#[derive(Debug, Clone, Copy)]
struct FragEntry {
    key: FragKey,
    /// The first fragment's flow (before NAT).
    flow: Tuple,
    /// Hooks (bits of `hook_index`) where the first fragment was accepted.
    hooks: u8,
    ct_state: CtState,
    expires: Instant,
}

/// Datagrams whose first fragment is remembered.
const MAX_FRAGS: usize = 64;
/// How long (RFC 791 §3.2's reassembly timer, as Linux's 30 s).
const FRAG_TIMEOUT: lamina_netbuf::Duration = lamina_netbuf::Duration::from_secs(30);

/// What a chain decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Continue,
    Accept,
    Drop,
    Reject(RejectWith),
    Queue(u16),
    Nat(Action),
}

/// A netfilter-style packet filter, connection tracker and NAT; see the
/// [crate docs](crate).
pub struct Filter {
    rules: Compiled,
    ct: Conntrack,
    config: FilterConfig,
    addrs: Vec<Option<Ipv4Addr>>,
    injected: VecDeque<Vec<u8>>,
    logger: Option<LogFn>,
    log_tokens: u64,
    log_last: Instant,
    cur: Option<Current>,
    frags: VecDeque<FragEntry>,
    port_seed: u64,
    stats: FilterStats,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("tables", &self.rules.names)
            .field("conntrack", &self.ct.len())
            .field("injected", &self.injected.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Netfilter's NAT priorities: destination NAT before the filter chains,
/// source NAT after.
const DNAT_PRIORITY: i32 = -100;
const SNAT_PRIORITY: i32 = 100;

impl Filter {
    /// A filter running `ruleset`; `rng` keys the conntrack hash and
    /// seeds NAT port choice.
    pub fn new(
        ruleset: Ruleset,
        config: FilterConfig,
        rng: &mut impl Rng,
    ) -> Result<Filter, BuildError> {
        let rules = Compiled::build(ruleset)?;
        let seed = [rng.next_u64(), rng.next_u64()];
        Ok(Filter {
            rules,
            ct: Conntrack::new(config.conntrack, seed),
            config,
            addrs: Vec::new(),
            injected: VecDeque::new(),
            logger: None,
            log_tokens: u64::from(config.log_burst) * 1_000_000,
            log_last: Instant::ZERO,
            cur: None,
            frags: VecDeque::new(),
            port_seed: rng.next_u64(),
            stats: FilterStats::default(),
        })
    }

    /// Replaces the ruleset (counters restart; tracked flows stay).
    pub fn set_ruleset(&mut self, ruleset: Ruleset) -> Result<(), BuildError> {
        self.rules = Compiled::build(ruleset)?;
        self.cur = None;
        Ok(())
    }

    /// Tells the filter `iface`'s address, for `masquerade` and as the
    /// source of ICMP answers to datagrams received there.
    pub fn set_interface_address(&mut self, iface: IfaceId, addr: Ipv4Addr) {
        let i = usize::from(iface.0);
        if self.addrs.len() <= i {
            self.addrs.resize(i + 1, None);
        }
        if let Some(a) = self.addrs.get_mut(i) {
            *a = Some(addr);
        }
    }

    /// Calls `f` for each `log` action that fires, at most
    /// [`FilterConfig::log_rate`] a second after a burst of
    /// [`FilterConfig::log_burst`].
    pub fn set_logger(&mut self, f: impl FnMut(&LogRecord<'_>) + Send + 'static) {
        self.logger = Some(Box::new(f));
    }

    /// The connection tracker.
    pub fn conntrack(&self) -> &Conntrack {
        &self.ct
    }

    /// The connection tracker, to collect or clear it.
    pub fn conntrack_mut(&mut self) -> &mut Conntrack {
        &mut self.ct
    }

    /// The counters.
    pub fn stats(&self) -> &FilterStats {
        &self.stats
    }

    /// The counters of rule `rule` of chain `chain` in table `table`.
    pub fn counters(&self, table: &str, chain: &str, rule: usize) -> Option<Counters> {
        let ti = self.rules.names.iter().position(|(t, _)| t == table)?;
        let ci = self
            .rules
            .names
            .get(ti)?
            .1
            .iter()
            .position(|c| c == chain)?;
        let r = self.rules.tables.get(ti)?.get(ci)?.rules.get(rule)?;
        Some(Counters {
            packets: r.packets,
            bytes: r.bytes,
        })
    }

    /// Answers waiting for [`next_injected`](PacketHook::next_injected).
    pub fn injected_len(&self) -> usize {
        self.injected.len()
    }

    /// Judges `pkt` at `point`; `l4_verified`: a received datagram whose
    /// transport checksum its device verified.
    fn judge(
        &mut self,
        point: HookPoint,
        pkt: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
        l4_verified: bool,
    ) -> Verdict {
        let Some(p) = Parsed::parse(pkt) else {
            self.stats.malformed += 1;
            self.stats.dropped += 1;
            self.cur = None;
            return Verdict::Drop;
        };
        let fp = Fingerprint::of(&p);
        let follows = |prev: HookPoint| {
            matches!(
                (prev, point),
                (HookPoint::PreRouting, HookPoint::Input | HookPoint::Forward)
                    | (
                        HookPoint::Forward | HookPoint::Output,
                        HookPoint::PostRouting
                    )
            )
        };
        let later_fragment = p.fragment && p.l4 == L4::None;
        let (mut track, ct_state, dir, mut mark, frag) = match self.cur.take() {
            Some(c) if c.fp == fp && follows(c.point) => {
                (c.track, c.ct_state, c.dir, c.mark, c.frag)
            }
            _ => {
                let frag = p
                    .fragment
                    .then(|| ((p.src, p.dst, p.proto, p.ident), p.tuple()));
                let (t, s) = if later_fragment {
                    // The flow of its first fragment, if that was seen.
                    let entry = frag.and_then(|(k, _)| self.frag_entry(k, now));
                    match entry {
                        Some(e) => match self.ct.find_flow(&e.flow) {
                            Some((i, g, d)) => (Track::Known(i, g, d), e.ct_state),
                            None => (Track::None, e.ct_state),
                        },
                        None => (Track::None, CtState::Invalid),
                    }
                } else {
                    // What was damaged on the way must not open or move a
                    // flow: checked where the device did not.
                    let verify = point == HookPoint::PreRouting
                        && !l4_verified
                        && self.config.conntrack.checksum;
                    let mut bad = false;
                    let bytes: &[u8] = pkt;
                    let tracked = self.ct.track(&p, now, || {
                        bad = verify && !crate::packet::transport_checksum_ok(&p, bytes);
                        !bad
                    });
                    if bad {
                        self.stats.bad_checksum += 1;
                    }
                    tracked
                };
                let d = match &t {
                    Track::Known(_, _, d) => *d,
                    _ => Dir::Original,
                };
                (t, s, d, 0, frag)
            }
        };
        let hi = hook_index(point);
        // A later fragment follows its first fragment's verdict at each
        // hook (it has no ports for the rules to look at).
        let bypass = later_fragment
            && frag
                .and_then(|(k, _)| self.frag_entry(k, now))
                .is_some_and(|e| e.hooks & (1 << hi) != 0);

        let nat_side = match point {
            HookPoint::PreRouting | HookPoint::Output => Some((Side::Dst, DNAT_PRIORITY)),
            HookPoint::PostRouting | HookPoint::Input => Some((Side::Src, SNAT_PRIORITY)),
            HookPoint::Forward => None,
        };
        let len = u64::from(p.total_len);
        let mut nat_applied = false;
        let mut nat_changed = false;
        let mut verdict = Outcome::Accept;
        let n_chains = if bypass {
            0
        } else {
            self.rules.hooks.get(hi).map_or(0, Vec::len)
        };
        for k in 0..n_chains {
            let Some(&(prio, t, c)) = self.rules.hooks.get(hi).and_then(|l| l.get(k)) else {
                break;
            };
            if let Some((side, np)) = nat_side
                && !nat_applied
                && prio > np
            {
                nat_applied = true;
                nat_changed |= self.apply_nat(pkt, &p, side, &track, dir);
            }
            let Some(base) = self
                .rules
                .tables
                .get(t as usize)
                .and_then(|ch| ch.get(c as usize))
                .and_then(|ch| ch.base)
            else {
                continue;
            };
            if base.chain_type == ChainType::Nat && !matches!(track, Track::Pending(_)) {
                continue;
            }
            // Chains after the NAT point see the translated datagram.
            let view;
            let pv = if nat_changed {
                view = Parsed::parse(pkt).unwrap_or(p);
                &view
            } else {
                &p
            };
            let mut ctx = Ctx {
                p: pv,
                pkt,
                input,
                output,
                ct_state,
                mark,
                point,
            };
            let out = run_chain(
                &mut self.rules,
                t,
                c,
                &mut ctx,
                len,
                &mut LogSink {
                    logger: &mut self.logger,
                    tokens: &mut self.log_tokens,
                    last: &mut self.log_last,
                    rate: self.config.log_rate,
                    burst: self.config.log_burst,
                    suppressed: &mut self.stats.log_suppressed,
                    now,
                },
            );
            mark = ctx.mark;
            let out = match out {
                Outcome::Continue => match base.policy {
                    Policy::Accept => Outcome::Accept,
                    Policy::Drop => Outcome::Drop,
                },
                o => o,
            };
            match out {
                Outcome::Accept | Outcome::Continue => {}
                Outcome::Nat(action) => {
                    if let Track::Pending(conn) = &mut track {
                        if !self.bind(conn, &action, output) {
                            self.stats.nat_failed += 1;
                            verdict = Outcome::Drop;
                            break;
                        }
                        // Bound after the NAT point: translate at the end.
                        nat_applied = false;
                    }
                }
                other => {
                    verdict = other;
                    break;
                }
            }
        }
        match verdict {
            Outcome::Drop => {
                self.stats.dropped += 1;
                return Verdict::Drop;
            }
            Outcome::Reject(with) => {
                self.stats.dropped += 1;
                self.stats.rejected += 1;
                self.reject(pkt, &p, with, input);
                return Verdict::Drop;
            }
            Outcome::Queue(n) => {
                self.stats.queued += 1;
                return Verdict::Queue(n);
            }
            _ => {}
        }
        if let Some((side, _)) = nat_side
            && !nat_applied
        {
            nat_changed |= self.apply_nat(pkt, &p, side, &track, dir);
        }
        // (Output is never the last: PostRouting follows it, for a
        // datagram looped back to this host too, and destination NAT at
        // Output may have sent it elsewhere.)
        let last = matches!(point, HookPoint::PostRouting | HookPoint::Input);
        if last && let Track::Pending(conn) = track {
            let conn = *conn;
            match self.ct.confirm(conn, now) {
                Some((i, g)) => track = Track::Known(i, g, Dir::Original),
                None => {
                    self.stats.ct_refused += 1;
                    self.stats.dropped += 1;
                    return Verdict::Drop;
                }
            }
        }
        if let Some((key, Some(flow))) = frag
            && !later_fragment
        {
            self.remember_fragment(key, flow, hi, ct_state, now);
        }
        if !last {
            let fp = if nat_changed {
                Parsed::parse(pkt).map_or(fp, |q| Fingerprint::of(&q))
            } else {
                fp
            };
            self.cur = Some(Current {
                fp,
                point,
                track,
                ct_state,
                dir,
                mark,
                frag,
            });
        }
        Verdict::Accept
    }

    fn frag_entry(&self, key: FragKey, now: Instant) -> Option<FragEntry> {
        self.frags
            .iter()
            .find(|e| e.key == key && e.expires > now)
            .copied()
    }

    /// Records that the first fragment `key` of `flow` was accepted at
    /// hook `hi` (bounded: the oldest record goes first).
    fn remember_fragment(
        &mut self,
        key: FragKey,
        flow: Tuple,
        hi: usize,
        ct_state: CtState,
        now: Instant,
    ) {
        if let Some(e) = self.frags.iter_mut().find(|e| e.key == key) {
            e.hooks |= 1 << hi;
            e.flow = flow;
            e.expires = now + FRAG_TIMEOUT;
            return;
        }
        if self.frags.len() >= MAX_FRAGS {
            self.frags.pop_front();
        }
        self.frags.push_back(FragEntry {
            key,
            flow,
            hooks: 1 << hi,
            ct_state,
            expires: now + FRAG_TIMEOUT,
        });
    }

    /// Rewrites `side` of the datagram to its flow's NAT target; whether
    /// anything changed.
    fn apply_nat(&self, pkt: &mut [u8], p: &Parsed, side: Side, track: &Track, dir: Dir) -> bool {
        let (conn, dir) = match track {
            Track::Known(i, g, _) => match self.ct.get(*i, *g) {
                Some(c) => (c, dir),
                None => return false,
            },
            Track::Pending(c) => (&**c, Dir::Original),
            Track::None => return false,
        };
        // The original direction's destination and the reply's source
        // change under DNAT; the other ends under SNAT. Only those: an
        // ICMP error from a router on the way keeps its own source.
        let snat_side = match dir {
            Dir::Original => Side::Src,
            Dir::Reply => Side::Dst,
        };
        if !conn.nat_done(side == snat_side) {
            return false;
        }
        nat::apply(pkt, p, side, &conn.target(dir))
    }

    /// Binds a new flow to a NAT action; false when no tuple is free or
    /// the address is unknown.
    fn bind(&mut self, conn: &mut Conn, action: &Action, output: Option<IfaceId>) -> bool {
        let mut target = conn.target(Dir::Original);
        let has_ports = matches!(conn.orig.proto, TCP | UDP);
        match action {
            Action::Dnat { addr, port } => {
                if conn.nat_done(false) {
                    return true;
                }
                target.dst = *addr;
                if has_ports && let Some(p) = port {
                    target.dport = *p;
                }
                if target != conn.orig && self.ct.contains(&target.invert()) {
                    return false;
                }
                conn.reply = target.invert();
                conn.set_nat(false);
                true
            }
            Action::Snat { addr, ports } => self.bind_src(conn, target, *addr, *ports),
            Action::Masquerade { ports } => {
                let Some(addr) = output
                    .and_then(|o| self.addrs.get(usize::from(o.0)).copied())
                    .flatten()
                else {
                    return false;
                };
                self.bind_src(conn, target, addr, *ports)
            }
            _ => true,
        }
    }

    fn bind_src(
        &mut self,
        conn: &mut Conn,
        mut target: Tuple,
        addr: Ipv4Addr,
        ports: Option<(u16, u16)>,
    ) -> bool {
        if conn.nat_done(true) {
            return true;
        }
        target.src = addr;
        let echo = conn.orig.proto == ICMP;
        let has_ports = matches!(conn.orig.proto, TCP | UDP) || echo;
        let free = |t: &Tuple, ct: &Conntrack| !ct.contains(&t.invert()) && !ct.contains(t);
        let keep_ok =
            ports.is_none_or(|(a, b)| a.min(b) <= target.sport && target.sport <= a.max(b));
        if keep_ok && free(&target, &self.ct) {
            conn.reply = target.invert();
            conn.set_nat(true);
            return true;
        }
        if !has_ports {
            return false;
        }
        // RFC 4787 §4.2.1 / RFC 6056: another port of the range, from a
        // keyed pseudo-random start.
        let (lo, hi) = ports.unwrap_or(if echo {
            (0, u16::MAX)
        } else if target.sport < 1024 {
            (1, 1023)
        } else {
            (1024, u16::MAX)
        });
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let span = u32::from(hi) - u32::from(lo) + 1;
        self.port_seed = self
            .port_seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let start = (self.port_seed >> 33) as u32 % span;
        for k in 0..span.min(4096) {
            let port = lo as u32 + (start + k) % span;
            target.sport = port as u16;
            if free(&target, &self.ct) {
                conn.reply = target.invert();
                conn.set_nat(true);
                return true;
            }
        }
        false
    }

    /// Queues the answer of a `reject` rule about `pkt`.
    fn reject(&mut self, pkt: &[u8], p: &Parsed, with: RejectWith, input: Option<IfaceId>) {
        if should_send_error(pkt, &ErrorContext::default()).is_err() {
            return;
        }
        let answer = match (with, p.l4) {
            (RejectWith::TcpReset, L4::Tcp { sport, dport, info }) => {
                if info.flags & 0x04 != 0 {
                    return;
                }
                // RFC 9293 §3.10.7.1: a reset that the sender accepts.
                let (seq, ack, flags) = if info.flags & 0x10 != 0 {
                    (info.ack, 0, TcpFlags::RST)
                } else {
                    (
                        0,
                        info.seq.wrapping_add(info.seg_len),
                        TcpFlags::RST.union(TcpFlags::ACK),
                    )
                };
                let repr = TcpRepr {
                    src_port: dport,
                    dst_port: sport,
                    seq_number: SeqNumber(seq),
                    ack_number: SeqNumber(ack),
                    flags,
                    ..TcpRepr::default()
                };
                let ip = Ipv4Repr::new(p.dst, p.src, IpProtocol::TCP);
                let Ok(b) = repr.builder(p.dst, p.src) else {
                    return;
                };
                EmptyBody.wrap_in(b).wrap_in(&ip).serialize_vec(0)
            }
            (with, _) => {
                let code = match with {
                    RejectWith::Icmp(c) => c,
                    RejectWith::TcpReset => UnreachableCode::PortUnreachable,
                };
                let Ok(err) = ErrorBuilder::new(
                    IcmpRepr::DestUnreachable {
                        code,
                        next_hop_mtu: 0,
                    },
                    pkt,
                ) else {
                    return;
                };
                let src = input
                    .and_then(|i| self.addrs.get(usize::from(i.0)).copied())
                    .flatten()
                    .unwrap_or(p.dst);
                let ip = Ipv4Repr {
                    dscp: lamina_icmp::policy::ERROR_DSCP,
                    ..Ipv4Repr::new(src, p.src, IpProtocol::ICMP)
                };
                err.wrap_in(&ip).serialize_vec(0)
            }
        };
        let Ok(buf) = answer else { return };
        if self.injected.len() >= self.config.max_injected {
            self.stats.injected_dropped += 1;
            return;
        }
        self.injected.push_back(buf.as_slice().to_vec());
    }
}

/// The datagram and what is known about it, for matching.
struct Ctx<'a> {
    p: &'a Parsed,
    pkt: &'a [u8],
    input: Option<IfaceId>,
    output: Option<IfaceId>,
    ct_state: CtState,
    mark: u32,
    point: HookPoint,
}

struct LogSink<'a> {
    logger: &'a mut Option<LogFn>,
    tokens: &'a mut u64,
    last: &'a mut Instant,
    rate: u32,
    burst: u32,
    suppressed: &'a mut u64,
    now: Instant,
}

impl LogSink<'_> {
    fn log(&mut self, prefix: &str, ctx: &Ctx<'_>) {
        let Some(f) = self.logger.as_mut() else {
            return;
        };
        // Token bucket in micro-tokens: `rate` a second, `burst` at most.
        let cap = u64::from(self.burst) * 1_000_000;
        let dt = self
            .now
            .saturating_duration_since(*self.last)
            .total_micros();
        *self.last = self.now.max(*self.last);
        *self.tokens = self
            .tokens
            .saturating_add(dt.saturating_mul(u64::from(self.rate)))
            .min(cap);
        if *self.tokens < 1_000_000 {
            *self.suppressed += 1;
            return;
        }
        *self.tokens -= 1_000_000;
        f(&LogRecord {
            prefix,
            point: ctx.point,
            input: ctx.input,
            output: ctx.output,
            ct_state: ctx.ct_state,
            packet: ctx.pkt,
        });
    }
}

/// Whether `m` holds for the datagram.
fn matches(m: &Match, ctx: &Ctx<'_>) -> bool {
    let p = ctx.p;
    match m {
        Match::Iif(i) => ctx.input == Some(*i),
        Match::Oif(o) => ctx.output == Some(*o),
        Match::Saddr(s) => s.contains(p.src),
        Match::Daddr(s) => s.contains(p.dst),
        Match::Protocol(list) => list.contains(&p.proto),
        Match::Sport(s) => p.ports().is_some_and(|(sp, _)| s.contains(sp)),
        Match::Dport(s) => p.ports().is_some_and(|(_, dp)| s.contains(dp)),
        Match::IcmpType(list) => p.icmp().is_some_and(|(t, _)| list.contains(&t)),
        Match::IcmpCode(c) => p.icmp().is_some_and(|(_, code)| code == *c),
        Match::TcpFlags { mask, value } => p.tcp_flags().is_some_and(|f| f & mask == *value),
        Match::Length { min, max } => *min <= p.total_len && p.total_len <= *max,
        Match::Mark { mask, value } => ctx.mark & mask == *value,
        Match::CtState(set) => set.contains(ctx.ct_state),
        // nft semantics: `tcp dport != 22` does not match a datagram
        // without ports.
        Match::Not(inner) => applies(inner, p) && !matches(inner, ctx),
    }
}

/// Whether the datagram has the field `m` looks at.
fn applies(m: &Match, p: &Parsed) -> bool {
    match m {
        Match::Sport(_) | Match::Dport(_) => p.ports().is_some(),
        Match::IcmpType(_) | Match::IcmpCode(_) => p.icmp().is_some(),
        Match::TcpFlags { .. } => p.tcp_flags().is_some(),
        _ => true,
    }
}

/// Runs base chain `c` of table `t`: the first verdict, or `Continue`
/// when the chain ends without one (its policy applies).
fn run_chain(
    rules: &mut Compiled,
    t: u32,
    c: u32,
    ctx: &mut Ctx<'_>,
    len: u64,
    log: &mut LogSink<'_>,
) -> Outcome {
    let Some(chains) = rules.tables.get_mut(t as usize) else {
        return Outcome::Continue;
    };
    let mut stack = [(0u32, 0usize); MAX_JUMP_DEPTH + 1];
    let mut sp = 0usize;
    let (mut chain, mut ri) = (c, 0usize);
    loop {
        let Some(ch) = chains.get_mut(chain as usize) else {
            return Outcome::Drop;
        };
        let Some(r) = ch.rules.get_mut(ri) else {
            // End of chain: back to the caller, or the policy.
            if sp == 0 {
                return Outcome::Continue;
            }
            sp -= 1;
            let Some(&(c2, r2)) = stack.get(sp) else {
                return Outcome::Drop;
            };
            (chain, ri) = (c2, r2);
            continue;
        };
        ri += 1;
        if !r.rule.matches.iter().all(|m| matches(m, ctx)) {
            continue;
        }
        r.packets += 1;
        r.bytes += len;
        let target = r.target;
        let mut next: Option<Outcome> = None;
        let mut jump = None;
        for a in &r.rule.actions {
            match a {
                Action::Log(prefix) => log.log(prefix, ctx),
                Action::SetMark(m) => ctx.mark = *m,
                Action::Accept => next = Some(Outcome::Accept),
                Action::Drop => next = Some(Outcome::Drop),
                Action::Reject(w) => next = Some(Outcome::Reject(*w)),
                Action::Queue(n) => next = Some(Outcome::Queue(*n)),
                Action::Jump(_) => jump = Some(true),
                Action::Goto(_) => jump = Some(false),
                Action::Return => {}
                nat @ (Action::Snat { .. } | Action::Masquerade { .. } | Action::Dnat { .. }) => {
                    next = Some(Outcome::Nat(nat.clone()))
                }
            }
        }
        if let Some(o) = next {
            return o;
        }
        if matches!(r.rule.actions.last(), Some(Action::Return)) {
            if sp == 0 {
                return Outcome::Continue;
            }
            sp -= 1;
            let Some(&(c2, r2)) = stack.get(sp) else {
                return Outcome::Drop;
            };
            (chain, ri) = (c2, r2);
            continue;
        }
        match jump {
            Some(true) => {
                let Some(slot) = stack.get_mut(sp) else {
                    return Outcome::Drop;
                };
                *slot = (chain, ri);
                sp += 1;
                (chain, ri) = (target, 0);
            }
            Some(false) => (chain, ri) = (target, 0),
            None => {}
        }
    }
}

impl PacketHook for Filter {
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
    ) -> Verdict {
        self.judge(point, packet, input, output, now, false)
    }

    fn hook_received(
        &mut self,
        packet: &mut [u8],
        input: IfaceId,
        l4_verified: bool,
        now: Instant,
    ) -> Verdict {
        self.judge(
            HookPoint::PreRouting,
            packet,
            Some(input),
            None,
            now,
            l4_verified,
        )
    }

    fn next_injected(&mut self, buf: &mut [u8], _now: Instant) -> Option<usize> {
        while let Some(d) = self.injected.pop_front() {
            if let Some(dst) = buf.get_mut(..d.len()) {
                dst.copy_from_slice(&d);
                return Some(d.len());
            }
            self.stats.injected_dropped += 1;
        }
        None
    }
}
