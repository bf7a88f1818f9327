//! Segment generation and timers: what to send now, and when to look
//! again.

use lamina_netbuf::Instant;

use super::{Connection, DUP_THRESH, Outgoing, State, ZeroWindow};
use crate::cc::CongestionControl;
use crate::rack::Rack;
use crate::wire::{SackBlocks, TcpFlags, TcpRepr, Timestamps};
use crate::{ConnError, SeqNumber};
use alloc::boxed::Box;

/// Bytes the timestamps option takes in a segment (10, padded to 12).
const TS_OPTION_LEN: u16 = 12;
/// Most times the update that opened a zero window is sent again (see
/// `Connection::note_window_sent`).
const WND_UPDATE_RESENDS: u8 = 6;

/// What one data segment carries.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seq: SeqNumber,
    len: u32,
    fin: bool,
}

impl<C: CongestionControl> Connection<C> {
    /// The next segment to send now, if any: SYN, SYN-ACK, data (new or
    /// retransmitted), FIN, ACK, window update, zero-window or keepalive
    /// probe, RST. Call until it returns `None`. Expired timers are handled
    /// here too. The payload is borrowed from the send buffer (no copy);
    /// serialise it with [`Outgoing::write`].
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing<'_>> {
        if self.pending_rst.is_none() {
            self.on_timers(now);
        }
        if let Some(seq) = self.pending_rst.take() {
            let rst = self.rst_repr(seq);
            self.stats.segments_out += 1;
            return Some(Outgoing {
                repr: rst,
                payload: (&[], &[]),
                shared: None,
            });
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => {
                self.ack_now = false;
                if self.snd_nxt == self.iss {
                    return Some(self.emit_syn(now));
                }
                return None;
            }
            State::SynReceived if self.snd_nxt == self.iss => {
                return Some(self.emit_syn(now));
            }
            _ => {}
        }
        if let Some(plan) = self.plan_data(now) {
            return Some(self.emit_data(plan, now));
        }
        self.poll_control(now)
    }

    /// As [`poll_transmit`](Self::poll_transmit), for a device with TCP
    /// segmentation offload: where new data goes out in full segments, up
    /// to `max_payload` bytes of it leave as one large segment, with the
    /// payload size (`.1`) the device cuts it into: every piece full but
    /// the last, PSH and FIN (when set) for the last piece, the header
    /// (ACK, window, options) repeated in each, as Linux's and virtio's
    /// segmentation do. The connection's state afterwards is the same as
    /// if the pieces had been sent one by one at `now` (each counts as a
    /// segment and is logged for RACK on its own), so loss recovery works
    /// on segments. Anything else (retransmissions, a short segment, a
    /// SYN, an ACK) comes alone, with `.1` equal to its payload length.
    pub fn poll_transmit_gso(
        &mut self,
        now: Instant,
        max_payload: usize,
    ) -> Option<(Outgoing<'_>, u16)> {
        let synchronized_data = self.pending_rst.is_none()
            && !matches!(
                self.state,
                State::Closed | State::Listen | State::SynSent | State::SynReceived
            );
        if !synchronized_data {
            return self
                .poll_transmit(now)
                .map(|o| (o, o.payload_len().min(usize::from(u16::MAX)) as u16));
        }
        self.on_timers(now);
        if self.pending_rst.is_some() {
            return self
                .poll_transmit(now)
                .map(|o| (o, o.payload_len().min(usize::from(u16::MAX)) as u16));
        }
        if matches!(self.state, State::Closed | State::Listen) {
            // A timer ended the connection (as `poll_transmit` checks).
            return None;
        }
        let Some(first) = self.plan_data(now) else {
            return self.poll_control(now).map(|o| (o, 0));
        };
        let full = self.max_payload(&self.sack_blocks_now());
        let batch = first.seq == self.snd_max
            && !first.fin
            && first.len == full
            && (2 * full as usize) <= max_payload;
        if !batch {
            return Some(self.emit_data(first, now)).map(|o| (o, first.len as u16));
        }
        let mut flags = self.record_send(first, now);
        let mut total = first.len;
        while total as usize + full as usize <= max_payload {
            // Peek at the next plan only where it can only be more new
            // data right behind (no timers ran, nothing was received).
            let Some(next) = self.plan_data(now) else {
                break;
            };
            if next.seq != first.seq + total || next.len > full {
                // Not new data in sequence: left for the next call.
                // (`plan_data` takes nothing but a loss probe's flag,
                // which new data in flight makes moot.)
                break;
            }
            flags = self.record_send(next, now);
            total += next.len;
            if next.len < full || next.fin {
                break;
            }
        }
        let repr = self.header(first.seq, flags, now);
        let offset = (first.seq - self.buf_seq).max(0) as usize;
        let (payload, shared) = self
            .send_buf
            .prepare(offset, total as usize, self.share_payloads);
        Some((
            Outgoing {
                repr,
                payload,
                shared,
            },
            full as u16,
        ))
    }

    /// The segments [`poll_transmit`](Self::poll_transmit) sends when no
    /// data goes: a window probe, or an ACK.
    #[inline(always)]
    fn poll_control(&mut self, now: Instant) -> Option<Outgoing<'_>> {
        // An ACK owed goes before a probe, and the probe does not stand
        // for it: a probe's sequence number (SND.UNA − 1) lies outside the
        // peer's window, so the peer answers it without reading its
        // acknowledgment (RFC 9293 §3.10.7.4). Sent as the probe alone, an
        // ACK that fell due with the persist timer never arrived: a peer
        // with a closed window, retransmitting its last segment on each
        // timeout, got a probe back each time (both timers backing off in
        // step) and ran out of retries.
        if self.ack_now || self.acks_owed > 0 {
            self.acks_owed = self.acks_owed.saturating_sub(1);
            let repr = self.header(self.ack_seq(), TcpFlags::ACK, now);
            return Some(self.finish(repr));
        }
        if self.probe_now {
            self.probe_now = false;
            self.probe_answer_owed = true;
            // A delayed ACK still goes when its timer says (the probe
            // settles nothing).
            let (delack_at, unacked) = (self.delack_at, self.unacked_bytes);
            let repr = self.header(self.snd_una - 1, TcpFlags::ACK, now);
            self.delack_at = delack_at;
            self.unacked_bytes = unacked;
            return Some(self.finish(repr));
        }
        None
    }

    /// When to call [`poll_transmit`](Self::poll_transmit) next for a
    /// timer (retransmission, delayed ACK, persist, keepalive, user
    /// timeout, TIME-WAIT end). `Some(Instant::ZERO)` — any past instant —
    /// means a segment is ready now. `None`: nothing is pending. New data
    /// and ACKs prompted by an input are not timers: call `poll_transmit`
    /// after every input anyway.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.pending_rst.is_some() {
            return Some(Instant::ZERO);
        }
        if self.state == State::Closed {
            return None;
        }
        if self.ack_now
            || self.acks_owed > 0
            || self.probe_now
            || self.rexmit_una
            || self.tlp_fire
            || (matches!(self.state, State::SynSent | State::SynReceived)
                && self.snd_nxt == self.iss)
        {
            return Some(Instant::ZERO);
        }
        self.next_timer()
    }

    /// Whether one of the connection's timers (retransmission, loss
    /// probe, delayed ACK, persist, keepalive, user timeout, TIME-WAIT end)
    /// has expired at `now`: [`poll_transmit`](Self::poll_transmit) would
    /// act on it. (A caller holding segments back, for a device with no
    /// room, still lets timers run: retransmissions back off and a dead
    /// path ends in a timeout.)
    pub fn timer_expired(&self, now: Instant) -> bool {
        self.state != State::Closed && self.next_timer().is_some_and(|at| at <= now)
    }

    /// The earliest of the connection's timers.
    fn next_timer(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        consider(self.time_wait_at);
        consider(self.rto_at);
        consider(self.tlp_at);
        consider(self.delack_at);
        consider(self.persist_at);
        consider((self.wnd_update_at != Instant::MAX).then_some(self.wnd_update_at));
        consider(self.rack.as_ref().and_then(|r| r.timer()));
        if let Some(ut) = self.config.user_timeout
            && self.snd_max.gt(self.snd_una)
        {
            consider(Some(self.progress_at.saturating_add(ut)));
        }
        consider(self.keepalive_deadline());
        at
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        let ka = self.config.keepalive?;
        // Every synchronized state with nothing outstanding (RFC 9293
        // §3.8.4; Linux probes in all but SYN-SENT and CLOSED): in
        // FIN-WAIT-2 too, where an application that shut down writing
        // waits for the peer's data and FIN — a peer that vanished (its
        // RST lost) would otherwise leave it waiting for ever.
        if !matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        ) || self.snd_max.gt(self.snd_una)
            || self.unsent() > 0
        {
            return None;
        }
        Some(
            self.last_recv
                .saturating_add(ka.idle)
                .saturating_add(ka.interval.saturating_mul(u64::from(self.keepalive_probes))),
        )
    }

    /// Expired timers (RFC 6298 §5, RFC 9293 §3.8).
    #[inline(always)]
    fn on_timers(&mut self, now: Instant) {
        if let Some(t) = self.time_wait_at
            && now >= t
        {
            self.enter_closed();
            return;
        }
        if self.state == State::Closed {
            return;
        }
        if let Some(ut) = self.config.user_timeout
            && self.snd_max.gt(self.snd_una)
            && now.saturating_duration_since(self.progress_at) >= ut
        {
            self.fail(ConnError::TimedOut, true);
            return;
        }
        if let Some(t) = self.tlp_at
            && now >= t
        {
            // RFC 8985 §7.3: a probe, so that a tail loss is reported by
            // SACK and repaired by fast recovery rather than a timeout.
            self.tlp_at = None;
            if self.snd_max.gt(self.snd_una) {
                self.tlp_out = true;
                if self.recovery.is_none() {
                    self.tlp_fire = true;
                    self.stats.loss_probes += 1;
                } else {
                    // A recovery that heard nothing for a probe timeout:
                    // its last retransmissions (and whatever followed
                    // them) were lost, or their ACKs were, and no later
                    // segment will tell RACK. Resend the first hole once
                    // now rather than wait for the RTO (which would also
                    // collapse the window): its ACK, or D-SACK, restarts
                    // the ACK clock. RFC 8985 §7 leaves recoveries to
                    // RACK; this covers the case RACK cannot see.
                    self.rexmit_una = true;
                    self.stats.recovery_probes += 1;
                }
            }
        }
        if let Some(t) = self.rto_at
            && now >= t
        {
            self.tlp_at = None;
            self.tlp_fire = false;
            self.on_rto(now);
            if self.state == State::Closed {
                return;
            }
        }
        if let Some(t) = self.rack.as_ref().and_then(|r| r.timer())
            && now >= t
        {
            // RFC 8985 §6.3: the reordering window of a segment passed.
            self.rack_detect(now);
        }
        if let Some(t) = self.delack_at
            && now >= t
        {
            self.delack_at = None;
            self.ack_now = true;
        }
        if let Some(t) = self.persist_at
            && now >= t
        {
            // RFC 9293 §3.8.6.1: probe the zero window, backing off. A
            // peer that answers keeps the connection for ever (RFC 1122
            // §4.2.2.17); one that answers none of `max_retries` probes
            // is gone (as Linux's `tcp_retries2` ends its probing), or a
            // peer that vanished behind a zero window would hold the
            // connection and its buffers for ever.
            if self.probes_unanswered >= self.config.max_retries {
                self.fail(ConnError::TimedOut, true);
                return;
            }
            self.probes_unanswered += 1;
            self.probe_now = true;
            self.stats.window_probes += 1;
            self.persist_backoff = (self.persist_backoff + 1).min(16);
            self.persist_at = Some(now.saturating_add(self.persist_interval()));
        }
        if self.wnd_update_at != Instant::MAX && now >= self.wnd_update_at {
            self.on_window_update_timer(now);
        }
        if let Some(t) = self.keepalive_deadline()
            && now >= t
        {
            let count = self.config.keepalive.map_or(0, |k| k.count);
            if self.keepalive_probes >= count {
                self.fail(ConnError::TimedOut, true);
                return;
            }
            self.keepalive_probes += 1;
            self.stats.keepalive_probes += 1;
            self.probe_now = true;
        }
    }

    fn persist_interval(&self) -> lamina_netbuf::Duration {
        let base = self.rtt.rto();
        base.saturating_mul(1u64 << self.persist_backoff.min(16))
            .min(self.config.max_rto)
    }

    /// RFC 6298 §5.4–5.7 (and RFC 5681 §3.1 for the window).
    fn on_rto(&mut self, now: Instant) {
        self.stats.timeouts += 1;
        self.retries += 1;
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        let limit = if handshake {
            self.config.syn_retries
        } else {
            self.config.max_retries
        };
        if self.retries > limit {
            self.fail(ConnError::TimedOut, !handshake);
            return;
        }
        self.rtt.backoff();
        self.rtt_timing = None;
        if handshake {
            self.snd_nxt = self.iss;
        } else {
            let flight = (self.snd_max - self.snd_una).max(0) as u32;
            if flight > 0 {
                self.cc.on_rto(flight, now);
            }
            self.recover = self.snd_max;
            self.recovery = None;
            self.dupacks = 0;
            self.rexmit_una = false;
            self.snd_nxt = self.snd_una;
            self.high_rxt = self.snd_una;
            // A zero window with data in flight has no persist timer: the
            // retransmission timer probes it (RFC 9293 §3.8.6.1), or a
            // window update that was lost, or overtaken by an older ACK
            // announcing zero, would leave both sides waiting for ever
            // (the retransmission, held back by the window, sends nothing).
            if self.snd_wnd == 0 {
                self.probe_now = true;
                self.stats.window_probes += 1;
            }
            // RFC 2018 §8: the receiver may have reneged; start afresh.
            self.scoreboard.clear();
            if let Some(r) = self.rack.as_mut() {
                r.on_rto();
            }
        }
        self.rto_at = Some(now.saturating_add(self.rtt.rto()));
    }

    /// The sequence number of a pure ACK: the highest sent (SND.MAX), as
    /// Linux does, not SND.NXT, which a retransmission timeout rewinds: a
    /// peer that already holds data beyond the rewound point finds a
    /// zero-length segment below its RCV.NXT unacceptable (RFC 9293
    /// §3.10.7.4) and ignores the acknowledgment it carries (two sides
    /// after timeouts then drop each other's ACKs for ever). Never beyond
    /// the right edge of the peer's window, should that have shrunk
    /// (then the edge, or SND.NXT if that is further).
    fn ack_seq(&self) -> SeqNumber {
        let edge = self.snd_una + self.snd_wnd;
        if self.snd_max.le(edge) {
            self.snd_max
        } else if self.snd_nxt.lt(edge) {
            edge
        } else {
            self.snd_nxt
        }
    }

    /// Bytes in flight during recovery. With every segment's fate in
    /// RACK's log: sent, less SACKed, less marked lost and not sent again
    /// (RFC 8985 with RFC 6675's pipe: a retransmitted segment counts
    /// once). Otherwise RFC 6675's pipe from the scoreboard and DupThresh.
    fn pipe(&self, mss: u32) -> u32 {
        let flight = (self.snd_max - self.snd_una).max(0) as u32;
        match self.rack.as_ref() {
            Some(r) if r.covers(self.snd_max) => flight
                .saturating_sub(self.scoreboard.sacked_bytes())
                .saturating_sub(r.lost_bytes()),
            _ => self
                .scoreboard
                .pipe(self.snd_una, self.snd_max, self.high_rxt, mss, DUP_THRESH),
        }
    }

    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// Options overhead of our next segment: timestamps and SACK blocks.
    fn sack_blocks_now(&self) -> SackBlocks {
        if self.sack && !self.assembler.is_empty() && !self.read_closed {
            let max = if self.ts { 3 } else { 4 };
            self.assembler.sack_blocks(self.rcv_nxt, max)
        } else {
            SackBlocks::new()
        }
    }

    fn max_payload(&self, sack: &SackBlocks) -> u32 {
        let mut opt = if self.ts { TS_OPTION_LEN } else { 0 };
        if !sack.is_empty() {
            opt += 4 + 8 * sack.len() as u16;
        }
        u32::from(self.snd_mss.saturating_sub(opt).max(1))
    }

    /// RFC 8985 §7.3: the tail loss probe: one new segment if the peer's
    /// window allows (whatever the congestion window), else the last
    /// segment sent, again.
    fn plan_probe(&self, max_payload: u32) -> Option<Plan> {
        let data_end = self.buf_seq + self.send_buf.len() as u32;
        let fin_seq = self.fin_seq();
        let unsent = self.unsent();
        let wnd_end = self.snd_una + self.snd_wnd;
        let wnd_room = (wnd_end - self.snd_nxt).max(0) as u32;
        if unsent > 0 && wnd_room > 0 && self.snd_nxt == self.snd_max {
            let seq = self.snd_nxt;
            let len = unsent.min(max_payload).min(wnd_room);
            let fin = fin_seq == Some(seq + len);
            return Some(Plan { seq, len, fin });
        }
        let end = if self.snd_max.lt(data_end) {
            self.snd_max
        } else {
            data_end
        };
        let start = end - max_payload.min((end - self.snd_una).max(0) as u32);
        let len = (end - start).max(0) as u32;
        let fin = fin_seq == Some(start + len) && fin_seq.is_some_and(|f| f.lt(self.snd_max));
        (len > 0 || fin).then_some(Plan {
            seq: start,
            len,
            fin,
        })
    }

    /// Chooses the data segment (with or without FIN) to send now.
    #[inline(always)]
    fn plan_data(&mut self, now: Instant) -> Option<Plan> {
        if !self.can_send_data() {
            return None;
        }
        // Nothing to send at all, the usual answer after a burst (and to
        // every call that follows a segment): no loss recovery, no loss
        // probe, no byte and no FIN waiting. What follows would conclude
        // the same after working out the windows.
        if self.recovery.is_none()
            && !self.tlp_fire
            && self.unsent() == 0
            && self.fin_seq() != Some(self.snd_nxt)
        {
            return None;
        }
        let sack = self.sack_blocks_now();
        let max_payload = self.max_payload(&sack);
        if self.tlp_fire {
            self.tlp_fire = false;
            if let Some(plan) = self.plan_probe(max_payload) {
                return Some(plan);
            }
        }
        // SMSS: a full segment's payload (RFC 5681 §2), for the window
        // arithmetic.
        let mss = self.smss();
        let data_end = self.buf_seq + self.send_buf.len() as u32;
        let fin_seq = self.fin_seq();

        // Loss recovery retransmissions.
        if self.recovery.is_some() {
            if self.rexmit_una {
                self.rexmit_una = false;
                let seq = self.snd_una;
                // A retransmission resends what was sent, no further: new
                // data must wait for the windows.
                let sent_end = if self.snd_max.lt(data_end) {
                    self.snd_max
                } else {
                    data_end
                };
                let len = ((sent_end - seq).max(0) as u32).min(max_payload);
                let fin = fin_seq == Some(seq + len) && fin_seq.is_some_and(|f| f.lt(self.snd_max));
                if len > 0 || fin {
                    return Some(Plan { seq, len, fin });
                }
            } else if self.sack {
                let pipe = self.pipe(mss);
                if pipe < self.cc.window() {
                    // RACK's lost segments first (RFC 8985 §6.2 step 5),
                    // whether sent once or retransmitted already.
                    if let Some((seq, l)) = self.rack.as_ref().and_then(|r| r.next_lost())
                        && seq.ge(self.snd_una)
                        && seq.lt(self.snd_max)
                    {
                        let avail = (data_end - seq).max(0) as u32;
                        let len = l.min(max_payload).min(avail);
                        let fin = fin_seq == Some(seq + len);
                        if len > 0 || fin {
                            return Some(Plan { seq, len, fin });
                        }
                    }
                    let wnd_end = self.snd_una + self.snd_wnd;
                    let new_end = if wnd_end.lt(data_end) {
                        wnd_end
                    } else {
                        data_end
                    };
                    if let Some((seq, l)) = self.scoreboard.next_seg(
                        self.snd_una,
                        self.snd_max,
                        self.high_rxt,
                        new_end,
                        mss,
                        DUP_THRESH,
                    ) && seq.lt(self.snd_max)
                        && seq.ge(self.snd_una)
                    {
                        let avail = (data_end - seq).max(0) as u32;
                        let len = l.min(max_payload).min(avail);
                        let fin = fin_seq == Some(seq + len);
                        if len > 0 || fin {
                            return Some(Plan { seq, len, fin });
                        }
                    }
                }
            }
        }

        // New data, or go-back-N after a timeout (snd_nxt < snd_max).
        let flight = match self.recovery {
            Some(_) if self.sack => self.pipe(mss),
            Some(_) => ((self.snd_max - self.snd_una).max(0) as u32)
                .saturating_sub(self.dupacks.saturating_mul(mss)),
            None => (self.snd_nxt - self.snd_una).max(0) as u32,
        };
        // RFC 3042 limited transmit: each of the first two duplicate ACKs
        // lets one new segment out beyond cwnd, to draw the third.
        let limited = if self.recovery.is_none() && self.snd_nxt == self.snd_max {
            self.dupacks.min(2) * mss
        } else {
            0
        };
        let cwnd_room = self
            .cc
            .window()
            .saturating_add(limited)
            .saturating_sub(flight);
        let wnd_end = self.snd_una + self.snd_wnd;
        let wnd_room = (wnd_end - self.snd_nxt).max(0) as u32;
        let unsent = self.unsent();
        let len = unsent.min(max_payload).min(wnd_room).min(cwnd_room);
        let seq = self.snd_nxt;
        // The FIN takes a sequence number of the peer's window like a byte
        // of data (as Linux's `tcp_snd_wnd_test` counts it): sent past
        // the window's edge, the ACKs that follow it lie past that edge
        // too, and a stateful firewall between us (Linux's conntrack, or
        // ours) finds them invalid — a router that then answers them
        // itself resets the connection.
        let fin_waits = unsent == 0 && fin_seq == Some(seq);
        if len == 0 {
            if fin_waits && wnd_room > 0 {
                return Some(Plan {
                    seq,
                    len: 0,
                    fin: true,
                });
            }
            // RFC 9293 §3.8.6.1: a zero window with data (or the FIN)
            // waiting and nothing in flight arms the persist timer.
            if (unsent > 0 || fin_waits)
                && wnd_room == 0
                && self.snd_max == self.snd_una
                && self.persist_at.is_none()
            {
                self.persist_at = Some(now.saturating_add(self.persist_interval()));
            }
            return None;
        }
        let retransmission = seq.lt(self.snd_max);
        let idle = self.snd_max == self.snd_una;
        if self.probe_now && idle && len > 0 {
            // The persist timer fired on a window too small for the SWS
            // rule: send what fits (the RFC 9293 §3.8.6.2.1 override).
            self.probe_now = false;
            let fin = fin_seq == Some(seq + len) && len < wnd_room;
            return Some(Plan { seq, len, fin });
        }
        if len < max_payload && !retransmission {
            // Nagle (RFC 9293 §3.7.4) and sender-side SWS avoidance
            // (§3.8.6.2.1): a short segment only if it empties the queue
            // and nothing is outstanding (or Nagle is off), or if it is at
            // least half the largest window the peer offered.
            let all = len == unsent;
            let ok = (all && (self.config.nodelay || idle || self.fin_queued))
                || (self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2);
            if !ok {
                if idle && len < unsent && len == wnd_room && self.persist_at.is_none() {
                    // Held back by a small window with nothing in flight:
                    // nothing would wake us but the persist timer.
                    self.persist_at = Some(now.saturating_add(self.persist_interval()));
                }
                return None;
            }
        }
        let fin = fin_seq == Some(seq + len) && len < wnd_room;
        Some(Plan { seq, len, fin })
    }

    #[inline(always)]
    fn emit_data(&mut self, plan: Plan, now: Instant) -> Outgoing<'_> {
        let flags = self.record_send(plan, now);
        let repr = self.header(plan.seq, flags, now);
        let offset = (plan.seq - self.buf_seq).max(0) as usize;
        let (payload, shared) =
            self.send_buf
                .prepare(offset, plan.len as usize, self.share_payloads);
        Outgoing {
            repr,
            payload,
            shared,
        }
    }

    /// Everything sending the data segment of `plan` changes (sequence
    /// variables, timers, RTT timing, RACK's log, statistics), and the
    /// segment's flags; the header is made by the caller.
    #[inline(always)]
    fn record_send(&mut self, plan: Plan, now: Instant) -> TcpFlags {
        let Plan { seq, len, fin } = plan;
        let end = seq + len + u32::from(fin);
        if seq.lt(self.snd_max) {
            self.stats.retransmits += 1;
            if self.rtt_timing.is_some_and(|(e, _)| e.gt(seq)) {
                // Karn's rule: a retransmitted segment is not timed.
                self.rtt_timing = None;
            }
            if self.high_rxt.lt(end) && self.recovery.is_some() {
                self.high_rxt = end;
            }
        } else {
            if self.snd_max == self.snd_una {
                // RFC 5681 §4.1: restart after an idle period.
                if now.saturating_duration_since(self.last_send) > self.rtt.rto() {
                    self.cc.on_idle_restart(now);
                }
                self.progress_at = now;
            }
            if !self.ts && self.rtt_timing.is_none() {
                self.rtt_timing = Some((end, now));
            }
        }
        let new_data = end.gt(self.snd_max);
        if self.sack && self.state.is_synchronized() {
            // The log comes with the first data (a connection that only
            // ever sends its FIN needs none); from then on the FIN is
            // tracked like data, so that a lost one marked for
            // retransmission is marked sent again once it goes.
            if len > 0 && self.rack.is_none() {
                let cap = self.config.send_buffer / self.smss().max(1) as usize + 16;
                self.rack = Some(Box::new(Rack::new(cap)));
            }
            if let Some(r) = self.rack.as_mut() {
                r.on_send(seq, end, now, seq.lt(self.snd_max));
            }
        }
        if seq == self.snd_nxt || self.snd_nxt.lt(end) && self.recovery.is_none() {
            self.snd_nxt = end;
        }
        if end.gt(self.snd_max) {
            self.snd_max = end;
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(now.saturating_add(self.rtt.rto()));
        }
        if new_data || self.recovery.is_some() {
            // RFC 8985 §7.2: the probe timer restarts with new data (and,
            // in a recovery, with every retransmission: see `on_timers`).
            self.arm_tlp(now);
        }
        self.last_send = now;
        self.stats.bytes_out += u64::from(len);
        let mut flags = TcpFlags::ACK;
        let data_end = self.buf_seq + self.send_buf.len() as u32;
        // PSH when nothing more goes out now (RFC 9293 §3.9.1): the send
        // buffer is empty, or this segment fills the congestion or the
        // peer's window. A receiver that delays ACKs (Linux does, up to
        // its delayed-ACK timer, while the application has not read)
        // answers a pushed segment once it is read, rather than on its
        // timer, which would otherwise idle a window-limited sender.
        let flight = (self.snd_max - self.snd_una).max(0) as u32;
        let wnd_end = self.snd_una + self.snd_wnd;
        if len > 0
            && (seq + len == data_end
                || (new_data
                    && (flight.saturating_add(self.smss()) > self.cc.window()
                        || (seq + len).ge(wnd_end))))
        {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        self.stats.segments_out += 1;
        flags
    }

    fn emit_syn(&mut self, now: Instant) -> Outgoing<'_> {
        let passive = self.state == State::SynReceived;
        if self.snd_max.gt(self.iss) {
            self.stats.retransmits += 1;
            self.rtt_timing = None;
        } else if !self.ts {
            self.rtt_timing = Some((self.iss + 1, now));
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.iss + 1;
        if self.rto_at.is_none() {
            self.rto_at = Some(now.saturating_add(self.rtt.rto()));
        }
        self.last_send = now;
        let window = (self.recv_window_max()).min(u32::from(u16::MAX)) as u16;
        let mut repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: self.iss,
            flags: TcpFlags::SYN,
            window_len: window,
            max_seg_size: Some(self.rcv_mss),
            ..TcpRepr::default()
        };
        if passive {
            repr.flags |= TcpFlags::ACK;
            repr.ack_number = self.rcv_nxt;
            self.last_ack_sent = self.rcv_nxt;
            self.rcv_adv = self.rcv_nxt + u32::from(window);
            if self.wscale_on {
                repr.window_scale = Some(self.rcv_wscale);
            }
            repr.sack_permitted = self.sack;
            if self.ts {
                repr.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: self.ts_recent,
                });
            }
        } else {
            if self.config.window_scale {
                repr.window_scale = Some(self.rcv_wscale);
            }
            repr.sack_permitted = self.config.sack;
            if self.config.timestamps {
                repr.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: 0,
                });
            }
        }
        self.ack_now = false;
        self.stats.segments_out += 1;
        Outgoing {
            repr,
            payload: (&[], &[]),
            shared: None,
        }
    }

    /// The header of a synchronized-state segment at `seq`: ACK number,
    /// window (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, never
    /// shrinking), timestamps and SACK blocks. Records that an ACK went
    /// out.
    fn header(&mut self, seq: SeqNumber, flags: TcpFlags, now: Instant) -> TcpRepr {
        let sack_blocks = self.sack_blocks_now();
        let ws = self.rcv_wscale;
        let max = self.recv_window_max();
        let cur = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        let threshold = (self.recv_buf.capacity() as u32 / 2)
            .min(u32::from(self.rcv_mss))
            .max(1);
        let field = if max.saturating_sub(cur) >= threshold {
            max >> ws
        } else {
            // Keep the right edge where it was: rounded up so as not to
            // shrink it by the scaling, if the buffer holds what the peer
            // may then send (the slack beyond the configured size covers
            // one rounding). Rounding up at every ACK while the buffer
            // fills would push the edge a little further each time, past
            // the buffer, and data sent there would be dropped: then the
            // edge steps back, by less than one unit of the scale
            // (RFC 7323 §2.4).
            let up = cur.saturating_add((1u32 << ws) - 1) >> ws;
            if (up << ws) <= self.recv_room() {
                up
            } else {
                cur >> ws
            }
        };
        let field = field.min(u32::from(u16::MAX));
        self.note_window_sent(field, now);
        let right = self.rcv_nxt + (field << ws);
        if right.gt(self.rcv_adv) {
            self.rcv_adv = right;
        }
        self.last_ack_sent = self.rcv_nxt;
        self.ack_now = false;
        self.delack_at = None;
        self.unacked_bytes = 0;
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            ack_number: self.rcv_nxt,
            flags,
            window_len: field as u16,
            timestamps: self.ts.then(|| Timestamps {
                tsval: self.ts_now(now),
                tsecr: self.ts_recent,
            }),
            sack_blocks,
            ..TcpRepr::default()
        }
    }

    /// Records the window a segment advertises. An update that opens a
    /// zero window is the one segment whose loss a peer without a
    /// working persist timer never recovers from (smoltcp 0.14, told
    /// zero, may wait for ever with data to send: RFC 9293 §3.8.6.1 makes
    /// probing the sender's duty, and Linux's receiver trusts it); so is
    /// an old zero-window ACK that overtakes it, for a peer that takes
    /// the window of any ACK (no SND.WL1/WL2 check, as smoltcp 0.14). So
    /// an open window advertised within a retransmission timeout of a
    /// zero one is sent again, a timeout on and backing off, up to
    /// [`WND_UPDATE_RESENDS`] times, while the peer sends nothing; data
    /// from the peer within three timeouts of the zero restarts the
    /// watch (the stale zero may land after that data was sent).
    #[inline]
    fn note_window_sent(&mut self, field: u32, now: Instant) {
        if field == 0 {
            self.zero_window = ZeroWindow::Last;
            self.zero_window_ms = now.total_millis() as u32;
            self.wnd_update_at = Instant::MAX;
            return;
        }
        if self.zero_window == ZeroWindow::Old {
            return;
        }
        let opening = self.zero_window == ZeroWindow::Last;
        let since = self.ms_since_zero_window(now);
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if !receiving || (!opening && since > self.rtt.rto().total_millis()) {
            // Nothing announcing zero is still on its way.
            self.zero_window = ZeroWindow::Old;
            return;
        }
        self.zero_window = ZeroWindow::Recent;
        // The update that opens the window, or a later ACK with something
        // received since the timer was set: (re)arm it. An update sent
        // again, or another ACK with nothing received in between, keeps
        // the timer as it is.
        if opening || self.wnd_update_at == Instant::MAX || self.rcv_nxt != self.wnd_update_mark {
            self.arm_window_watch(now);
        }
    }

    /// Milliseconds from the last zero window advertised to `now`.
    #[inline]
    fn ms_since_zero_window(&self, now: Instant) -> u64 {
        u64::from((now.total_millis() as u32).wrapping_sub(self.zero_window_ms))
    }

    /// (Re)starts the window-update watch from what was received by
    /// `now`: the update is sent again a timeout on unless the peer
    /// sends something first.
    #[inline]
    fn arm_window_watch(&mut self, now: Instant) {
        self.wnd_update_at = now.saturating_add(self.rtt.rto());
        self.wnd_update_mark = self.rcv_nxt;
        self.wnd_update_tries = 0;
    }

    /// The window update timer (see
    /// [`note_window_sent`](Self::note_window_sent)) expired at `now`.
    fn on_window_update_timer(&mut self, now: Instant) {
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if !receiving || self.wnd_update_tries >= WND_UPDATE_RESENDS {
            self.wnd_update_at = Instant::MAX;
            return;
        }
        if self.rcv_nxt != self.wnd_update_mark {
            // The peer sent data since: it saw an open window. But a
            // zero-window ACK overtaken on the way may still have reached
            // it afterwards, and our ACK of that data may be lost (or sent
            // late, delayed): watch one more timeout, from the new data,
            // while the zero is that recent (smoltcp scan seed 242,556).
            if self.ms_since_zero_window(now) < self.rtt.rto().total_millis().saturating_mul(3) {
                self.arm_window_watch(now);
            } else {
                self.wnd_update_at = Instant::MAX;
            }
            return;
        }
        self.wnd_update_tries += 1;
        self.stats.window_updates_resent += 1;
        self.ack_now = true;
        let wait = self
            .rtt
            .rto()
            .saturating_mul(1u64 << self.wnd_update_tries)
            .min(self.config.max_rto);
        self.wnd_update_at = now.saturating_add(wait);
    }

    fn finish(&mut self, repr: TcpRepr) -> Outgoing<'_> {
        self.stats.segments_out += 1;
        Outgoing {
            repr,
            payload: (&[], &[]),
            shared: None,
        }
    }
}
