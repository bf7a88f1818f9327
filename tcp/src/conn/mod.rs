//! The connection state machine (RFC 9293 §3.10), sans-I/O.
//!
//! A [`Connection`] takes received segments ([`Connection::on_segment`])
//! and the caller's clock, and hands back the segments to send
//! ([`Connection::poll_transmit`]) and the next timer
//! ([`Connection::poll_at`]). The application side is
//! [`send`](Connection::send) / [`recv`](Connection::recv) /
//! [`close`](Connection::close) and friends.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::{Duration, Instant};

use crate::SeqNumber;
use crate::assembler::Assembler;
use crate::cc::{AnyCc, CongestionControl};
use crate::config::{Keepalive, TcpConfig};
use crate::rack::Rack;
use crate::recvq::RecvQueue;
use crate::rtt::RttEstimator;
use crate::sack::Scoreboard;
use crate::sendq::SendQueue;
use crate::wire::{ChecksumMode, TcpFlags, TcpRepr, TcpSegment};

mod input;
mod output;

/// The MSS assumed when the peer sends none (RFC 9293 §3.7.1).
const DEFAULT_MSS: u16 = 536;
/// Duplicate ACKs that signal a loss (RFC 5681 §3.2, RFC 6675 DupThresh).
const DUP_THRESH: u32 = 3;

/// The state of a connection (RFC 9293 §3.3.2). `Display` gives the RFC's
/// names (`ESTABLISHED`, `FIN-WAIT-1`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN (a [`Listener`](crate::Listener) is in this state).
    Listen,
    /// SYN sent, waiting for the SYN-ACK.
    SynSent,
    /// SYN received and answered, waiting for the ACK.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// Our FIN sent, waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN acknowledged, waiting for the peer's FIN.
    FinWait2,
    /// The peer's FIN received, waiting for the application to close.
    CloseWait,
    /// Both FINs sent (simultaneous close), waiting for the ACK of ours.
    Closing,
    /// The peer closed first and our FIN is sent, waiting for its ACK.
    LastAck,
    /// Both directions closed; waiting 2*MSL for stray segments.
    TimeWait,
}

impl State {
    /// Whether the state is synchronized (RFC 9293 §3.5: ESTABLISHED and
    /// every state after it).
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        })
    }
}

/// Why a connection failed, or why an operation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The peer answered our SYN with a RST (RFC 9293 §3.10.7.3).
    #[error("connection refused")]
    Refused,
    /// The peer reset the connection (RFC 9293 §3.10.7.4).
    #[error("connection reset by peer")]
    Reset,
    /// Retransmissions, keepalive probes or the user timeout ran out.
    #[error("connection timed out")]
    TimedOut,
    /// The connection was aborted locally.
    #[error("connection aborted")]
    Aborted,
    /// Sending after `shutdown_write`/`close` (RFC 9293 §3.10.2
    /// "connection closing").
    #[error("connection closed for sending")]
    Closed,
    /// An ICMP Destination Unreachable (host, or administratively
    /// prohibited) ended the opening handshake, or was the last sign of
    /// the peer before a timeout (RFC 1122 §4.2.3.9).
    #[error("host unreachable")]
    HostUnreachable,
    /// An ICMP Network Unreachable ended the opening handshake, or was
    /// the last sign of the peer before a timeout.
    #[error("network unreachable")]
    NetworkUnreachable,
}

impl ConnError {
    /// The matching `std::io::ErrorKind`.
    #[cfg(feature = "std")]
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind;
        match self {
            ConnError::Refused => ErrorKind::ConnectionRefused,
            ConnError::Reset => ErrorKind::ConnectionReset,
            ConnError::TimedOut => ErrorKind::TimedOut,
            ConnError::Aborted => ErrorKind::ConnectionAborted,
            ConnError::Closed => ErrorKind::BrokenPipe,
            ConnError::HostUnreachable => ErrorKind::HostUnreachable,
            ConnError::NetworkUnreachable => ErrorKind::NetworkUnreachable,
        }
    }
}

#[cfg(feature = "std")]
impl From<ConnError> for std::io::Error {
    fn from(e: ConnError) -> std::io::Error {
        std::io::Error::new(e.io_kind(), e)
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnStats {
    /// Segments given to [`Connection::on_segment`].
    pub segments_in: u64,
    /// Segments returned by [`Connection::poll_transmit`].
    pub segments_out: u64,
    /// Payload bytes delivered in order into the receive buffer.
    pub bytes_in: u64,
    /// Payload bytes sent (retransmissions included).
    pub bytes_out: u64,
    /// Segments retransmitted (timeout, fast or SACK recovery).
    pub retransmits: u64,
    /// Fast retransmits: loss recoveries entered on duplicate ACKs
    /// (RFC 5681 §3.2).
    pub fast_retransmits: u64,
    /// Loss recoveries driven by the SACK scoreboard (RFC 6675).
    pub sack_recoveries: u64,
    /// Retransmission timeouts (RFC 6298 §5.4).
    pub timeouts: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// Segments received out of order (queued in the reassembler).
    pub out_of_order: u64,
    /// Segments rejected by the sequence-number or ACK checks.
    pub unacceptable: u64,
    /// Segments rejected by PAWS (RFC 7323 §5).
    pub paws_rejected: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Challenge ACKs suppressed by the rate limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// Zero-window probes sent (RFC 9293 §3.8.6.1).
    pub window_probes: u64,
    /// Keepalive probes sent (RFC 9293 §3.8.4).
    pub keepalive_probes: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// Recovery probes sent: the first hole resent when a loss recovery
    /// heard nothing for a probe timeout (see [`Connection`]'s loss
    /// recovery notes).
    pub recovery_probes: u64,
    /// Window updates sent again: after a zero window, the update that
    /// opened it was followed by nothing from the peer for a
    /// retransmission timeout (see [`Connection`]'s notes on flow control).
    pub window_updates_resent: u64,
}

/// A segment to send: the header and the payload, borrowed from the send
/// buffer in up to two slices (a boundary between two of its chunks may
/// cut it).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Header fields and options.
    pub repr: TcpRepr,
    /// Payload, in order: the first slice then the second.
    pub payload: (&'a [u8], &'a [u8]),
    /// A shared, immutable buffer holding the whole payload (`payload.0`
    /// lies in it, `payload.1` is empty), when the connection shares its
    /// payloads ([`Connection::set_share_payloads`]) and this one lies in
    /// one piece: [`share`](Self::share) gives a reference to it that a
    /// device can send and keep without copying.
    pub shared: Option<&'a bytes::Bytes>,
}

impl Outgoing<'_> {
    /// The payload as a shared buffer without copying, when
    /// [`shared`](Self::shared) holds it (see there); `None` otherwise
    /// (copy [`payload`](Self::payload) instead).
    #[inline]
    pub fn share(&self) -> Option<bytes::Bytes> {
        let whole = self.shared?;
        let (a, b) = self.payload;
        if a.is_empty() || !b.is_empty() {
            return None;
        }
        let (base, at) = (whole.as_ptr() as usize, a.as_ptr() as usize);
        // `slice_ref` wants the payload inside the buffer: checked, so
        // that a hand-built `Outgoing` cannot make it panic.
        if at < base || at + a.len() > base + whole.len() {
            return None;
        }
        Some(whole.slice_ref(a))
    }

    /// Writes the TCP header (with options and checksum, per `checksum`,
    /// over the pseudo-header, the header and the payload) into
    /// `buf[..header_len]`, for a frame whose payload follows elsewhere
    /// (a shared payload, [`share`](Self::share)). Returns the header
    /// length, or 0 (writing nothing) if `buf` is too short.
    #[inline]
    pub fn write_header(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        buf: &mut [u8],
        checksum: ChecksumMode,
    ) -> usize {
        let Ok(builder) = self.repr.builder(src, dst) else {
            return 0;
        };
        let header_len = builder.header_len();
        let Some(header) = buf.get_mut(..header_len) else {
            return 0;
        };
        builder
            .checksum(checksum)
            .write_header(header, self.payload);
        header_len
    }

    /// Payload bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.0.len() + self.payload.1.len()
    }

    /// Bytes of the whole segment: TCP header, options and payload.
    pub fn len(&self) -> usize {
        self.repr.header_len().unwrap_or(crate::MAX_HEADER_LEN) + self.payload_len()
    }

    /// Whether the segment is empty (never: a header is at least 20
    /// bytes); present for symmetry with [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the whole TCP segment into `buf[..self.len()]`: header and
    /// options, the payload copied after them, and the checksum per
    /// `checksum` with the pseudo-header of `src` and `dst`. Returns the
    /// bytes written, or 0 (writing nothing) if `buf` is too short.
    pub fn write(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        buf: &mut [u8],
        checksum: ChecksumMode,
    ) -> usize {
        let total = self.len();
        let Some(seg) = buf.get_mut(..total) else {
            return 0;
        };
        // (Most segments of a handshake or an exchange of ACKs carry
        // nothing: no call into the copy routine for them.)
        if self.payload.0.is_empty() && self.payload.1.is_empty() {
            return self.write_header(src, dst, seg, checksum);
        }
        let Ok(builder) = self.repr.builder(src, dst) else {
            return 0;
        };
        let builder = builder.checksum(checksum);
        let header_len = builder.header_len();
        let Some((header, body)) = seg.split_at_mut_checked(header_len) else {
            return 0;
        };
        // The payload first, summed as it is copied where the checksum is
        // computed here (one pass over it), then the header around it.
        let (a, b) = body.split_at_mut(self.payload.0.len().min(body.len()));
        let mut sum = lamina_netbuf::checksum::Checksum::new();
        match checksum {
            ChecksumMode::Compute => {
                sum.add_copy(a, self.payload.0);
                if !self.payload.1.is_empty() {
                    sum.add_copy(b, self.payload.1);
                }
            }
            ChecksumMode::Offload => {
                a.copy_from_slice(self.payload.0);
                if let Some(b) = b.get_mut(..self.payload.1.len())
                    && !b.is_empty()
                {
                    b.copy_from_slice(self.payload.1);
                }
            }
        }
        builder.write_header_with_sum(header, body.len(), sum.sum());
        total
    }
}

/// RFC 9293 §3.10.7.1: the reset that answers `seg` when it reached no
/// connection and no listener: `<SEQ=SEG.ACK><CTL=RST>` when it carried an
/// ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. `None` if `seg`
/// is itself a RST (never answer a reset).
pub fn reset_for(seg: &TcpSegment<'_>) -> Option<TcpRepr> {
    if seg.rst() {
        return None;
    }
    let mut repr = TcpRepr {
        src_port: seg.dst_port(),
        dst_port: seg.src_port(),
        ..TcpRepr::default()
    };
    if seg.ack() {
        repr.seq_number = seg.ack_number();
        repr.flags = TcpFlags::RST;
    } else {
        repr.seq_number = SeqNumber(0);
        repr.ack_number = seg.seq_number() + seg.segment_len() as u32;
        repr.flags = TcpFlags::RST | TcpFlags::ACK;
    }
    Some(repr)
}

/// The TSval offset (RFC 7323 §5.4) of a connection whose ISN `iss` was
/// chosen at `chosen`: the ISN less its clock (RFC 6528's keyed hash F of
/// the 4-tuple, unpredictable off the path), scrambled. Not the ISN
/// itself: every incarnation of a 4-tuple then keeps one timestamp clock,
/// so that the timestamps of a new incarnation are newer than any of the
/// last one's, and PAWS turns away the last one's late segments (RFC 7323
/// §5.8; Linux keeps one offset per pair of hosts for the same reason).
/// With an offset per incarnation, a late segment of the last connection
/// carried a newer timestamp, was taken where its sequence numbers fell
/// in the new window (after a reset, the new ISN may lie below where the
/// old connection had got to), and then made every real segment of the
/// new connection fail PAWS until it timed out.
pub(crate) fn ts_offset(iss: SeqNumber, chosen: Instant) -> u32 {
    iss.0
        .wrapping_sub(crate::isn::clock(chosen))
        .rotate_left(13)
        ^ 0x5bd1_e995
}

/// Options agreed in the handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated {
    /// The peer's MSS option (or 536).
    pub peer_mss: u16,
    /// Shift applied to the windows the peer announces (None: no scaling).
    pub snd_wscale: Option<u8>,
    /// Whether both sides use SACK.
    pub sack: bool,
    /// The peer's TSval of its SYN when both sides use timestamps.
    pub ts_recent: Option<u32>,
    /// Our TSval clock offset when the SYN-ACK used another clock than
    /// [`ts_offset`] (SYN cookies: a plain millisecond clock).
    pub ts_offset: Option<u32>,
}

/// Where the zero windows this side advertised stand (see
/// `Connection::note_window_sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZeroWindow {
    /// None, or none recent enough to be still on its way.
    Old,
    /// The last window advertised was zero.
    Last,
    /// The window was opened since, within a retransmission timeout.
    Recent,
}

/// A TCP connection: the RFC 9293 state machine with its buffers, timers,
/// loss recovery and congestion control `C`.
///
/// Sans-I/O: feed it segments with [`on_segment`](Self::on_segment), call
/// [`poll_transmit`](Self::poll_transmit) until it returns `None` after
/// every input (segment, `send`, `recv`, `close`, ...) and when the time
/// [`poll_at`](Self::poll_at) gave comes.
///
/// # Loss recovery
///
/// Three duplicate ACKs or RACK (RFC 8985 §6) start a recovery: NewReno
/// (RFC 6582) without SACK, the SACK scoreboard (RFC 6675) with it, RACK's
/// lost segments resent first and new data sent as the pipe allows. A
/// tail loss probe (RFC 8985 §7) guards the end of a flight outside
/// recovery. Inside one, when the ACK clock stops for a probe timeout
/// (two smoothed RTTs plus 2 ms) — the last retransmissions and
/// what followed them lost, or their ACKs — the first hole is resent once
/// (a *recovery probe*, counted in [`ConnStats::recovery_probes`]): RACK
/// cannot see such a loss, since no later segment is delivered, and the
/// retransmission timeout would cost at least 200 ms and the window.
/// The timeout (RFC 6298) stays the last resort.
///
/// # Flow control
///
/// A full receive buffer advertises a zero window; the sender probes it
/// (RFC 9293 §3.8.6.1), and so does this side as a sender (persist timer,
/// backing off). As a receiver it does one thing more than RFC 9293 and
/// Linux: the window update that opens a zero window is sent again, a
/// retransmission timeout later and backing off (at most six times),
/// while the peer sends nothing at all. A sender without a working
/// persist timer (smoltcp 0.14, which can stop probing after a lost
/// update) would otherwise wait for ever; others see one more ACK,
/// counted in [`ConnStats::window_updates_resent`].
#[derive(Debug)]
pub struct Connection<C: CongestionControl = AnyCc> {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    state: State,
    config: TcpConfig,
    error: Option<ConnError>,
    stats: ConnStats,
    cc: C,
    rtt: RttEstimator,

    // ---- send side (RFC 9293 §3.3.1) ----
    iss: SeqNumber,
    snd_una: SeqNumber,
    /// Next sequence number to send (rewound to `snd_una` by a timeout).
    snd_nxt: SeqNumber,
    /// Highest sequence number sent plus one.
    snd_max: SeqNumber,
    snd_wnd: u32,
    max_snd_wnd: u32,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    /// Sequence number of the first byte of `send_buf`.
    buf_seq: SeqNumber,
    send_buf: SendQueue,
    /// Seal transmitted payloads so that a device can take them by
    /// reference ([`Outgoing::shared`]).
    share_payloads: bool,
    /// The application closed the sending direction: a FIN follows the data.
    fin_queued: bool,
    /// MSS for our payload (peer's MSS clamped to the route and config).
    snd_mss: u16,
    /// MSS we announce.
    rcv_mss: u16,
    snd_wscale: u8,
    /// Window scaling in use (both sides offered it).
    wscale_on: bool,

    // ---- receive side ----
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// Right edge of the window last announced (never moved left).
    rcv_adv: SeqNumber,
    rcv_wscale: u8,
    recv_buf: RecvQueue,
    /// While `on_segment_deferring` runs: the length of the segment's
    /// payload, which is left in its buffer rather than copied if it comes
    /// whole and in order (0: none).
    defer_min: u32,
    /// The payload length `on_segment_deferring` left in its buffer.
    deferred: u32,
    assembler: Assembler,
    /// Sequence number of a FIN received ahead of a hole.
    rcv_fin: Option<SeqNumber>,
    fin_received: bool,
    read_closed: bool,
    /// The application called `close` (not just `shutdown_write`): an
    /// orphan, bounded in FIN-WAIT-2.
    orphaned: bool,

    // ---- options ----
    sack: bool,
    ts: bool,
    ts_recent: u32,
    ts_offset: u32,
    last_ack_sent: SeqNumber,

    // ---- ACK generation ----
    ack_now: bool,
    /// Duplicate ACKs owed: one per out-of-order segment (RFC 5681 §4.2),
    /// even when several arrived between two `poll_transmit` calls.
    acks_owed: u8,
    /// Data segments still to acknowledge at once (quick ACKs, as Linux
    /// does after a silence longer than the RTO: the peer has likely
    /// timed out and restarts from one segment, which a delayed ACK
    /// would hold for the whole timer).
    quick_acks: u8,
    /// When in-order data last arrived.
    last_data_at: Option<Instant>,
    delack_at: Option<Instant>,
    unacked_bytes: u32,
    /// The largest in-order payload received: the peer's segment size,
    /// which may be well below the MSS we announced (it is bounded by
    /// its own), as Linux's `rcv_mss` estimate.
    rcv_seg_max: u32,
    /// A reset to send, by its sequence number.
    pending_rst: Option<SeqNumber>,
    /// A probe (window or keepalive, `<SEQ=SND.UNA-1>`) to send.
    probe_now: bool,
    /// A probe went and its answer (an ACK of SND.UNA) has not come:
    /// that ACK is not a duplicate ACK (see `process_ack`).
    probe_answer_owed: bool,
    challenge_window: Instant,
    challenge_count: u32,

    // ---- retransmission ----
    rto_at: Option<Instant>,
    retries: u32,
    /// Segment being timed for RTT without timestamps (Karn's rule).
    rtt_timing: Option<(SeqNumber, Instant)>,
    /// Last forward progress while data is outstanding (user timeout).
    progress_at: Instant,
    last_send: Instant,
    persist_at: Option<Instant>,
    persist_backoff: u8,
    /// Zero-window probes sent since the peer last answered anything.
    probes_unanswered: u32,
    /// Our zero windows: the last one advertised at `zero_window_ms` (the
    /// clock in milliseconds, wrapping).
    zero_window: ZeroWindow,
    zero_window_ms: u32,
    /// When to send the update that opened our zero window again, if the
    /// peer has sent nothing since (RCV.NXT still `wnd_update_mark`), and
    /// how many times it was sent again. (`Instant::MAX`: not armed; an
    /// `Option` would take the connection past 1 KiB.)
    wnd_update_at: Instant,
    wnd_update_mark: SeqNumber,
    wnd_update_tries: u8,

    // ---- loss recovery ----
    dupacks: u32,
    /// RFC 6582 `recover` / RFC 6675 RecoveryPoint while in recovery.
    recovery: Option<SeqNumber>,
    recover: SeqNumber,
    /// NewReno: retransmit the segment at `snd_una` next.
    rexmit_una: bool,
    /// RFC 8985 §7 tail loss probe: when it fires, whether one is due now,
    /// and whether one is out in this episode (at most one).
    tlp_at: Option<Instant>,
    tlp_fire: bool,
    tlp_out: bool,
    /// The last soft ICMP error, reported if the connection times out.
    soft_error: Option<ConnError>,
    /// RFC 8985 RACK: send times of the segments in flight, for
    /// time-based loss detection (SACK connections, allocated with the
    /// first data segment sent).
    rack: Option<Box<Rack>>,
    high_rxt: SeqNumber,
    scoreboard: Scoreboard,

    // ---- keepalive / TIME-WAIT ----
    last_recv: Instant,
    keepalive_probes: u32,
    time_wait_at: Option<Instant>,
}

impl Connection<AnyCc> {
    /// Active open (RFC 9293 §3.10.1): the connection is in SYN-SENT with
    /// its SYN ready for [`poll_transmit`](Self::poll_transmit).
    ///
    /// `isn` should come from an [`IsnGenerator`](crate::IsnGenerator)
    /// (RFC 6528); `mss_limit` is the route MTU minus 40 (IPv4 and TCP
    /// headers), which clamps the MSS both announced and used.
    pub fn connect(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        isn: SeqNumber,
        mss_limit: u16,
        now: Instant,
    ) -> Connection {
        let cc = Self::initial_cc(config, mss_limit);
        Connection::connect_with(local, remote, config, isn, mss_limit, now, cc)
    }

    /// The congestion controller `config` asks for, at the MSS the route
    /// allows.
    fn initial_cc(config: &TcpConfig, mss_limit: u16) -> AnyCc {
        AnyCc::new(config.cc, u32::from(config.mss.min(mss_limit)))
    }
}

impl Connection<AnyCc> {
    /// [`connect`](Connection::connect), the connection built on the heap
    /// (where a socket keeps it): no move of its kilobyte of state from
    /// the stack.
    pub fn connect_boxed(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        isn: SeqNumber,
        mss_limit: u16,
        now: Instant,
    ) -> Box<Connection> {
        let cc = Self::initial_cc(config, mss_limit);
        let mut c = Connection::new_boxed(local, remote, config, isn, mss_limit, now, cc);
        c.state = State::SynSent;
        c
    }
}

impl<C: CongestionControl> Connection<C> {
    /// [`connect`](Connection::connect) with a congestion controller of
    /// the caller's choice.
    pub fn connect_with(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        isn: SeqNumber,
        mss_limit: u16,
        now: Instant,
        cc: C,
    ) -> Connection<C> {
        let mut c = Connection::new_raw(local, remote, config, isn, mss_limit, now, cc);
        c.state = State::SynSent;
        c
    }

    /// [`new_raw`](Self::new_raw) on the heap: one copy of the code for
    /// the connections of both ends (a connect, a listener's handshake),
    /// out of line. Built into each, the kilobyte of initialisation was
    /// instruction-cache footprint paid twice per connection.
    #[inline(never)]
    fn new_boxed(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        isn: SeqNumber,
        mss_limit: u16,
        now: Instant,
        cc: C,
    ) -> Box<Connection<C>> {
        Box::new(Connection::new_raw(
            local, remote, config, isn, mss_limit, now, cc,
        ))
    }

    #[inline(always)]
    fn new_raw(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        isn: SeqNumber,
        mss_limit: u16,
        now: Instant,
        cc: C,
    ) -> Connection<C> {
        let rcv_mss = config.mss.min(mss_limit).max(64);
        Connection {
            local,
            remote,
            state: State::Closed,
            config: config.clone(),
            error: None,
            stats: ConnStats::default(),
            cc,
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            iss: isn,
            snd_una: isn,
            snd_nxt: isn,
            snd_max: isn,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: isn,
            buf_seq: isn + 1,
            send_buf: SendQueue::new(config.send_buffer.max(1)),
            share_payloads: false,
            fin_queued: false,
            snd_mss: rcv_mss,
            rcv_mss,
            snd_wscale: 0,
            wscale_on: config.window_scale,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wscale: config.recv_window_scale(),
            // Room for the rounding of scaled windows: an advertised right
            // edge kept in place may reach up to 2^scale - 1 bytes past the
            // configured buffer (RFC 7323 §2.4), and what the peer sends
            // there must fit.
            recv_buf: RecvQueue::new(
                config.recv_buffer.max(1) + (1usize << config.recv_window_scale()) - 1,
            ),
            defer_min: 0,
            deferred: 0,
            assembler: Assembler::new(config.max_ooo_ranges.max(1)),
            rcv_fin: None,
            fin_received: false,
            read_closed: false,
            orphaned: false,
            sack: config.sack,
            ts: config.timestamps,
            ts_recent: 0,
            // RFC 7323 §5.4: an offset per 4-tuple (see `ts_offset`).
            ts_offset: ts_offset(isn, now),
            last_ack_sent: SeqNumber(0),
            ack_now: false,
            acks_owed: 0,
            quick_acks: 0,
            last_data_at: None,
            delack_at: None,
            unacked_bytes: 0,
            rcv_seg_max: 0,
            pending_rst: None,
            probe_now: false,
            probe_answer_owed: false,
            challenge_window: now,
            challenge_count: 0,
            rto_at: None,
            retries: 0,
            rtt_timing: None,
            progress_at: now,
            last_send: now,
            persist_at: None,
            persist_backoff: 0,
            probes_unanswered: 0,
            zero_window: ZeroWindow::Old,
            zero_window_ms: 0,
            wnd_update_at: Instant::MAX,
            wnd_update_mark: isn,
            wnd_update_tries: 0,
            dupacks: 0,
            recovery: None,
            recover: isn,
            rexmit_una: false,
            tlp_at: None,
            tlp_fire: false,
            tlp_out: false,
            soft_error: None,
            rack: None,
            high_rxt: isn,
            scoreboard: Scoreboard::new(config.max_sack_blocks.max(1)),
            last_recv: now,
            keepalive_probes: 0,
            time_wait_at: None,
        }
    }

    /// A connection whose handshake a [`Listener`](crate::Listener)
    /// completed (our SYN-ACK acknowledged): ESTABLISHED.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_handshake(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        config: &TcpConfig,
        iss: SeqNumber,
        irs: SeqNumber,
        neg: Negotiated,
        mss_limit: u16,
        rtt: Option<Duration>,
        now: Instant,
        cc: C,
    ) -> Box<Connection<C>> {
        let mut c = Connection::new_boxed(local, remote, config, iss, mss_limit, now, cc);
        c.irs = irs;
        c.rcv_nxt = irs + 1;
        // The window our SYN-ACK announced (unscaled).
        c.rcv_adv = c.rcv_nxt + c.recv_window_max().min(u32::from(u16::MAX));
        c.last_ack_sent = c.rcv_nxt;
        c.snd_una = iss + 1;
        c.snd_nxt = iss + 1;
        c.snd_max = iss + 1;
        c.high_rxt = iss + 1;
        c.buf_seq = iss + 1;
        c.snd_wl1 = irs;
        c.snd_wl2 = iss + 1;
        c.apply_negotiated(neg);
        if let Some(sample) = rtt {
            c.rtt.sample(sample);
        }
        c.state = State::Established;
        c.cc.set_mss(c.smss());
        c
    }

    fn apply_negotiated(&mut self, neg: Negotiated) {
        self.snd_mss = neg.peer_mss.min(self.rcv_mss).max(64);
        match neg.snd_wscale {
            Some(s) if self.config.window_scale => {
                self.snd_wscale = s.min(14);
                self.wscale_on = true;
            }
            _ => {
                self.wscale_on = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack = self.config.sack && neg.sack;
        match neg.ts_recent {
            Some(v) if self.config.timestamps => {
                self.ts = true;
                self.ts_recent = v;
                if let Some(off) = neg.ts_offset {
                    self.ts_offset = off;
                }
            }
            _ => self.ts = false,
        }
    }

    /// Our address and port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// The peer's address and port.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// The RFC 9293 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The error that ended the connection, if any.
    pub fn error(&self) -> Option<ConnError> {
        self.error
    }

    /// Counters.
    pub fn stats(&self) -> &ConnStats {
        &self.stats
    }

    /// The congestion controller.
    pub fn congestion(&self) -> &C {
        &self.cc
    }

    /// The retransmission timer's estimator (SRTT, RTTVAR, RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The MSS used for our segments' payload (before options).
    pub fn mss(&self) -> u16 {
        self.snd_mss
    }

    /// The settings in force.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Whether timestamps (RFC 7323) are in use.
    pub fn timestamps_enabled(&self) -> bool {
        self.ts
    }

    /// Whether SACK (RFC 2018) is in use.
    pub fn sack_enabled(&self) -> bool {
        self.sack
    }

    /// Bytes sent but not yet acknowledged (sequence space).
    pub fn in_flight(&self) -> u32 {
        (self.snd_max - self.snd_una) as u32
    }

    /// Whether to seal transmitted payloads so that a device can send
    /// them by reference (off by default): segments then come with
    /// [`Outgoing::shared`] where their payload lies in one piece of the
    /// send buffer. Worth it only toward a device that takes payloads by
    /// reference: sealing costs a little per segment, and a sealed chunk
    /// is reused only once the device and its receivers let go of it.
    ///
    /// ```
    /// use core::net::{Ipv4Addr, SocketAddrV4};
    /// use lamina_netbuf::Instant;
    /// use lamina_tcp::{ChecksumMode, Connection, SeqNumber, TcpConfig};
    ///
    /// let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    /// let now = Instant::ZERO;
    /// let mut c = Connection::connect(
    ///     SocketAddrV4::new(a, 40000),
    ///     SocketAddrV4::new(b, 80),
    ///     &TcpConfig::default(),
    ///     SeqNumber(1),
    ///     1460,
    ///     now,
    /// );
    /// c.set_share_payloads(true);
    /// let syn = c.poll_transmit(now).unwrap();
    /// assert!(syn.share().is_none()); // a SYN has no payload to lend
    /// # let _ = ChecksumMode::Offload;
    /// ```
    ///
    /// Once established, a data segment's [`Outgoing::share`] gives its
    /// payload as a `bytes::Bytes` (no copy) and
    /// [`Outgoing::write_header`] writes the header (checksum included)
    /// that goes in front of it.
    pub fn set_share_payloads(&mut self, on: bool) {
        self.share_payloads = on;
    }

    /// Whether payloads are shared ([`set_share_payloads`](Self::set_share_payloads)).
    pub fn share_payloads(&self) -> bool {
        self.share_payloads
    }

    /// Bytes queued in the send buffer (sent or not, unacknowledged).
    pub fn send_queue(&self) -> usize {
        self.send_buf.len()
    }

    /// Bytes readable now.
    pub fn recv_queue(&self) -> usize {
        self.recv_buf.len()
    }

    /// Queues `data` for sending; returns how much fit (`Ok(0)` when the
    /// send buffer is full). Allowed from SYN-SENT on (data waits for the
    /// handshake). Fails after `shutdown_write`/`close`
    /// ([`ConnError::Closed`]) or once the connection failed.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, ConnError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fin_queued {
            return Err(ConnError::Closed);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {
                Ok(self.send_buf.write(data))
            }
            _ => Err(ConnError::Closed),
        }
    }

    /// Reads received bytes into `buf`. `Ok(0)` is end of stream only when
    /// [`recv_finished`](Self::recv_finished); otherwise nothing is
    /// readable yet ([`can_recv`](Self::can_recv) tells). A reset or
    /// timed-out connection gives its error.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ConnError> {
        if self.recv_buf.is_empty() {
            if let Some(e) = self.error {
                return Err(e);
            }
            return Ok(0);
        }
        let n = self.recv_buf.read(buf);
        if n > 0 {
            self.maybe_window_update();
        }
        Ok(n)
    }

    /// As [`on_segment`](Self::on_segment), for a segment whose buffer the
    /// caller can hand over: a payload of at least `min_len` bytes (and no
    /// FIN) that comes whole at RCV.NXT and fits is taken as received
    /// without being copied, and its length returned (0 when the payload was copied as
    /// usual, or there was none). The caller must then give the buffer
    /// holding it to [`attach_payload`](Self::attach_payload) before
    /// anything else touches the connection, or withdraw it with
    /// [`cancel_payload`](Self::cancel_payload); until then the bytes are
    /// counted, not readable.
    ///
    /// This saves the copy into the receive buffer for large segments
    /// (64 KiB frames): [`recv`](Self::recv) copies straight out of the
    /// segment's own buffer.
    pub fn on_segment_deferring(
        &mut self,
        seg: &TcpSegment<'_>,
        now: Instant,
        min_len: usize,
    ) -> usize {
        self.deferred = 0;
        // Only a whole payload (not one trimmed to RCV.NXT): the caller
        // knows where the segment's payload starts, not where a part of it
        // does.
        let len = seg.payload().len();
        self.defer_min = if seg.fin() || len < min_len.max(1) {
            0
        } else {
            u32::try_from(len).unwrap_or(0)
        };
        self.on_segment(seg, now);
        self.defer_min = 0;
        core::mem::take(&mut self.deferred) as usize
    }

    /// The buffer of the payload [`on_segment_deferring`](Self::on_segment_deferring)
    /// left in place: `buf[start..start + len]` is that payload. False when
    /// no payload is pending or `buf` is too short (nothing changes).
    pub fn attach_payload(&mut self, buf: Vec<u8>, start: usize) -> bool {
        self.recv_buf.attach(buf, start)
    }

    /// As [`attach_payload`](Self::attach_payload), for a payload the
    /// sender lent by reference (a device's shared payload): `payload` is
    /// exactly the segment's payload, queued where it is. False when no
    /// payload of its length is pending (nothing changes).
    pub fn attach_shared_payload(&mut self, payload: bytes::Bytes) -> bool {
        self.recv_buf.attach_shared(payload)
    }

    /// Withdraws the payload [`on_segment_deferring`](Self::on_segment_deferring)
    /// left in place when its buffer cannot be had: the bytes count as never
    /// received (the peer retransmits them). Returns their length.
    pub fn cancel_payload(&mut self) -> usize {
        let n = self.recv_buf.cancel_pending();
        if n > 0 {
            self.rcv_nxt -= n as u32;
            self.stats.bytes_in = self.stats.bytes_in.saturating_sub(n as u64);
            self.unacked_bytes = self.unacked_bytes.saturating_sub(n as u32);
        }
        n
    }

    /// A buffer handed over with [`attach_payload`](Self::attach_payload)
    /// that has been read to its end, for its device to reuse.
    pub fn take_spare_buffer(&mut self) -> Option<Vec<u8>> {
        self.recv_buf.take_spare()
    }

    /// Copies readable bytes into `buf` without consuming them.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        self.recv_buf.peek(buf)
    }

    /// After the application read: announce a window that opened by at
    /// least the receiver's SWS threshold (RFC 9293 §3.8.6.2.2).
    fn maybe_window_update(&mut self) {
        if !self.state.is_synchronized() && self.state != State::SynReceived {
            return;
        }
        let cur = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        let free = self.recv_window_max();
        let threshold = (self.recv_buf.capacity() as u32 / 2)
            .min(u32::from(self.rcv_mss))
            .max(1);
        if free >= cur.saturating_add(threshold) {
            self.ack_now = true;
        }
    }

    /// Closes the sending direction: a FIN follows the queued data
    /// (RFC 9293 §3.10.4).
    pub fn shutdown_write(&mut self) {
        if self.fin_queued {
            return;
        }
        match self.state {
            State::SynSent | State::SynReceived => self.fin_queued = true,
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => {}
        }
    }

    /// Closes the receiving direction: buffered and later data is
    /// discarded (still acknowledged).
    pub fn shutdown_read(&mut self) {
        self.read_closed = true;
        self.recv_buf.clear();
        self.assembler.clear();
    }

    /// Graceful close (RFC 9293 §3.10.4): both directions. If received
    /// data was left unread, the connection is reset instead (RFC 2525
    /// §2.17, as Linux does). In SYN-SENT the connection just ends.
    pub fn close(&mut self) {
        match self.state {
            State::Closed | State::Listen | State::SynSent => {
                self.enter_closed();
            }
            _ => {
                if !self.recv_buf.is_empty() && !self.read_closed {
                    self.abort();
                    return;
                }
                self.shutdown_read();
                self.shutdown_write();
                self.orphaned = true;
                if self.state == State::FinWait2 && self.time_wait_at.is_none() {
                    self.time_wait_at =
                        Some(self.last_recv.saturating_add(self.config.fin_wait2_timeout));
                }
            }
        }
    }

    /// Abort (RFC 9293 §3.10.5): a RST is sent in synchronized states and
    /// the connection is closed at once; queued data is discarded.
    pub fn abort(&mut self) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.pending_rst = Some(self.snd_nxt);
        }
        if self.error.is_none() && self.state != State::Closed && self.state != State::TimeWait {
            self.error = Some(ConnError::Aborted);
        }
        self.enter_closed();
    }

    /// Whether [`send`](Self::send) can queue at least one byte.
    pub fn can_send(&self) -> bool {
        self.error.is_none()
            && !self.fin_queued
            && matches!(
                self.state,
                State::SynSent | State::SynReceived | State::Established | State::CloseWait
            )
            && self.send_buf.free() > 0
    }

    /// Whether [`recv`](Self::recv) has bytes to give.
    pub fn can_recv(&self) -> bool {
        !self.recv_buf.is_empty()
    }

    /// Whether the peer closed its direction (FIN received) and every byte
    /// before it was read: `recv` returning 0 then means end of stream.
    pub fn recv_finished(&self) -> bool {
        self.recv_buf.is_empty() && (self.fin_received || self.read_closed)
    }

    /// Whether the connection is gone (CLOSED with nothing left to send,
    /// or TIME-WAIT expired): the socket layer may free it.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed && self.pending_rst.is_none()
    }

    /// Whether the handshake completed at some point and data may flow.
    pub fn is_established(&self) -> bool {
        self.state.is_synchronized()
    }

    /// Turns Nagle's algorithm off (`true`) or on (RFC 9293 §3.7.4).
    pub fn set_nodelay(&mut self, on: bool) {
        self.config.nodelay = on;
    }

    /// Sets keepalive probing (`None` disables it).
    pub fn set_keepalive(&mut self, keepalive: Option<Keepalive>) {
        self.config.keepalive = keepalive;
        self.keepalive_probes = 0;
    }

    /// Sets the user timeout (RFC 9293 §3.8.3).
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.config.user_timeout = timeout;
    }

    /// Whether an ICMP error quoting a segment with sequence number `seq`
    /// can be about this connection (RFC 5927 §4.1): SND.UNA <= seq <
    /// SND.NXT, or exactly SND.UNA when nothing is in flight. Blind
    /// attackers, who do not know the window, fail this check.
    pub fn accepts_icmp_about(&self, seq: SeqNumber) -> bool {
        seq == self.snd_una || (seq.ge(self.snd_una) && seq.lt(self.snd_max))
    }

    /// An ICMP Destination Unreachable about this connection's segments
    /// (RFC 1122 §4.2.3.9, RFC 5927 §4): `hard` errors (protocol or port
    /// unreachable, and the other codes the caller deems hard) end a
    /// connection that is still opening, with `error`; every other case
    /// is a soft error, remembered and reported only if the connection
    /// later times out (as Linux does), because an attacker can forge
    /// ICMP without seeing the connection.
    pub fn on_icmp_unreachable(&mut self, hard: bool, error: ConnError) {
        let opening = matches!(self.state, State::SynSent | State::SynReceived);
        if hard && opening {
            self.fail(error, false);
        } else if self.state != State::Closed {
            self.soft_error = Some(error);
        }
    }

    /// An ICMP "fragmentation needed" (RFC 1191 §4, RFC 5927 §7): the
    /// path carries at most `mtu` bytes, so segments shrink to fit (never
    /// below 536 bytes of payload, the RFC 9293 default MSS, whatever a
    /// forged message claims) and what is in flight is sent again at the
    /// new size at once, without a congestion response (the loss was not
    /// congestion). Returns whether the MSS went down.
    pub fn on_path_mtu(&mut self, mtu: u16, now: Instant) -> bool {
        let mss = mtu.saturating_sub(40).max(DEFAULT_MSS);
        if mss >= self.snd_mss || self.state == State::Closed {
            return false;
        }
        self.snd_mss = mss;
        self.cc.set_mss(self.smss());
        if self.state.is_synchronized() && self.snd_max.gt(self.snd_una) {
            self.snd_nxt = self.snd_una;
            self.high_rxt = self.snd_una;
            self.recovery = None;
            self.dupacks = 0;
            self.rtt_timing = None;
            self.scoreboard.clear();
            if let Some(r) = self.rack.as_mut() {
                r.on_rto();
            }
            self.rto_at = Some(now.saturating_add(self.rtt.rto()));
        }
        true
    }

    /// RFC 9293 §3.6.1 and RFC 6191: whether this SYN, arriving for a
    /// connection in TIME-WAIT, may open a new incarnation of the 4-tuple
    /// (its timestamp is newer than the last seen, or without timestamps
    /// its sequence number is beyond ours). [`on_segment`](Self::on_segment)
    /// closes the connection on such a SYN; the socket layer then frees it
    /// and hands the SYN to the listener.
    pub fn accepts_syn_for_reuse(&self, seg: &TcpSegment<'_>) -> bool {
        if self.state != State::TimeWait || !seg.syn() || seg.ack() || seg.rst() {
            return false;
        }
        match (self.ts, seg.timestamps()) {
            (true, Some(t)) => t.tsval.wrapping_sub(self.ts_recent) as i32 > 0,
            _ => seg.seq_number().gt(self.rcv_nxt),
        }
    }

    fn enter_closed(&mut self) {
        self.state = State::Closed;
        self.rto_at = None;
        self.delack_at = None;
        self.persist_at = None;
        self.time_wait_at = None;
        self.ack_now = false;
        self.acks_owed = 0;
        self.probe_now = false;
        self.probe_answer_owed = false;
        self.send_buf.clear();
        self.fin_queued = false;
        self.rack = None;
    }

    fn fail(&mut self, err: ConnError, send_rst: bool) {
        // RFC 1122 §4.2.3.9: a timeout reports the soft error behind it.
        let err = match (err, self.soft_error) {
            (ConnError::TimedOut, Some(soft)) => soft,
            _ => err,
        };
        if send_rst && (self.state.is_synchronized() || self.state == State::SynReceived) {
            self.pending_rst = Some(self.snd_nxt);
        }
        self.error = Some(err);
        self.recv_buf.clear();
        self.assembler.clear();
        self.enter_closed();
    }

    fn rst_repr(&self, seq: SeqNumber) -> TcpRepr {
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            flags: TcpFlags::RST,
            ..TcpRepr::default()
        }
    }

    /// The most window the receive buffer can offer now (bytes), capped to
    /// what the scaled 16-bit field can say.
    /// SMSS as RFC 5681 §2 defines it for the congestion window: the
    /// payload of a full-sized segment, options (timestamps) excluded, so
    /// that a window of one segment holds one whole segment.
    /// RFC 8985 §7.2: the probe timeout, two smoothed RTTs (plus the
    /// peer's worst-case delayed ACK when a single segment is out), never
    /// beyond the retransmission timer.
    pub(crate) fn arm_tlp(&mut self, now: Instant) {
        self.tlp_at = None;
        if !self.sack
            || self.tlp_out
            || !self.snd_max.gt(self.snd_una)
            || !self.state.is_synchronized()
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        // RFC 8985 §7.2: two smoothed RTTs; plus 2 ms (as Linux adds two
        // jiffies), so that a receiver's scheduling noise on a fast path
        // does not fire probes for segments it is about to acknowledge.
        let mut pto = srtt
            .saturating_mul(2)
            .saturating_add(Duration::from_millis(2));
        // A lone segment's ACK may be delayed (RFC 8985 §7.2), but not
        // one that fills a hole (RFC 5681 §4.2): no allowance in recovery.
        if self.recovery.is_none() && (self.snd_max - self.snd_una).max(0) as u32 <= self.smss() {
            pto = pto.saturating_add(Duration::from_millis(200));
        }
        let at = now.saturating_add(pto);
        if self.rto_at.is_none_or(|rto| at < rto) {
            self.tlp_at = Some(at);
        }
    }

    pub(crate) fn smss(&self) -> u32 {
        let ts = if self.ts { 12 } else { 0 };
        u32::from(self.snd_mss.saturating_sub(ts).max(1))
    }

    fn recv_window_max(&self) -> u32 {
        // The slack for scaled-window rounding is never offered itself.
        let slack = self.recv_buf.capacity() - self.config.recv_buffer.max(1);
        let free = (self.recv_room() as usize).saturating_sub(slack);
        let cap = u32::from(u16::MAX) << self.rcv_wscale;
        (free as u32).min(cap)
    }

    /// Bytes the receive buffer can still take beyond RCV.NXT, the
    /// rounding slack included (all of it once reading is shut down: what
    /// arrives then is acknowledged and dropped).
    pub(crate) fn recv_room(&self) -> u32 {
        let room = if self.read_closed {
            self.recv_buf.capacity()
        } else {
            self.recv_buf.free()
        };
        u32::try_from(room).unwrap_or(u32::MAX)
    }

    /// Current TSval (RFC 7323 §5.4: a 1 ms clock plus an offset).
    fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Sets a challenge ACK to go out, subject to the rate limit
    /// (RFC 5961 §7).
    fn challenge_ack(&mut self, now: Instant) {
        if now.saturating_duration_since(self.challenge_window) >= Duration::SECOND {
            self.challenge_window = now;
            self.challenge_count = 0;
        }
        if self.challenge_count < self.config.challenge_ack_limit {
            self.challenge_count += 1;
            self.ack_now = true;
            self.stats.challenge_acks += 1;
        } else {
            self.stats.challenge_acks_suppressed += 1;
        }
    }

    /// Bytes of data (excluding SYN and FIN) from `snd_nxt` to the end of
    /// the send buffer.
    fn unsent(&self) -> u32 {
        let end = self.buf_seq + self.send_buf.len() as u32;
        (end - self.snd_nxt).max(0) as u32
    }

    /// Sequence number of our FIN (just past the data) if one is queued.
    fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_queued
            .then(|| self.buf_seq + self.send_buf.len() as u32)
    }
}
