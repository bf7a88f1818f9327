//! Segment arrival (RFC 9293 §3.10.7).

use lamina_netbuf::{Duration, Instant};

use super::{Connection, DEFAULT_MSS, DUP_THRESH, Negotiated, State};
use crate::cc::{AckEvent, CongestionControl};
use crate::wire::TcpSegment;
use crate::{ConnError, SeqNumber};

/// Quick ACKs after a silence (Linux's `TCP_MAX_QUICKACKS`).
const QUICK_ACKS: u8 = 16;

impl<C: CongestionControl> Connection<C> {
    /// Processes a received segment, already checksum-verified and
    /// demultiplexed to this connection's 4-tuple. Call
    /// [`poll_transmit`](Self::poll_transmit) afterwards: the segment may
    /// call for an ACK, a retransmission or new data.
    ///
    /// In CLOSED the segment is ignored (the socket layer answers it with
    /// [`reset_for`](crate::reset_for)).
    pub fn on_segment(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        self.stats.segments_in += 1;
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_syn_sent(seg, now),
            State::TimeWait if self.accepts_syn_for_reuse(seg) => {
                // RFC 9293 §3.6.1: a new incarnation may start; this one
                // ends now and the SYN goes to the listener.
                self.enter_closed();
            }
            _ => self.on_synchronized(seg, now),
        }
    }

    /// RFC 9293 §3.10.7.3.
    fn on_syn_sent(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        let ack = seg.ack_number();
        let ack_ok = seg.ack() && ack.gt(self.iss) && ack.le(self.snd_max);
        if seg.ack() && !ack_ok {
            if !seg.rst() {
                self.pending_rst = Some(ack);
            }
            self.stats.unacceptable += 1;
            return;
        }
        if seg.rst() {
            // RFC 5961 §3.2 in SYN-SENT: only a RST acknowledging our SYN.
            if ack_ok {
                self.fail(ConnError::Refused, false);
            }
            return;
        }
        if !seg.syn() {
            return;
        }
        self.irs = seg.seq_number();
        self.rcv_nxt = self.irs + 1;
        // Our SYN announced this window (unscaled, RFC 7323 §2.2).
        self.rcv_adv = self.rcv_nxt + self.recv_window_max().min(u32::from(u16::MAX));
        self.last_recv = now;
        let opts = seg.syn_options();
        let neg = Negotiated {
            peer_mss: opts.mss.unwrap_or(DEFAULT_MSS),
            snd_wscale: opts.window_scale,
            sack: opts.sack_permitted,
            ts_recent: opts.timestamps.map(|t| t.tsval),
            ts_offset: None,
        };
        self.apply_negotiated(neg);
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        self.snd_wnd = u32::from(seg.window_len());
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq_number();
        self.snd_wl2 = ack;
        self.ack_now = true;
        if ack_ok {
            if self.ts {
                if let Some(t) = opts.timestamps {
                    self.rtt_from_tsecr(t.tsecr, now);
                }
            } else if let Some((end, sent)) = self.rtt_timing.take()
                && ack.ge(end)
            {
                self.rtt.sample(now.saturating_duration_since(sent));
            }
            self.snd_una = ack;
            self.rto_at = None;
            self.retries = 0;
            self.rtt.reset_backoff();
            self.enter_established(now);
        } else {
            // Simultaneous open (RFC 9293 §3.5 figure 8): answer with a
            // SYN-ACK, retransmitting our SYN with the ACK bit.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
            self.rtt_timing = None;
        }
    }

    fn enter_established(&mut self, now: Instant) {
        self.state = if self.fin_queued {
            State::FinWait1
        } else {
            State::Established
        };
        self.snd_nxt = self.snd_nxt.max(self.snd_una);
        self.recover = self.iss;
        self.high_rxt = self.snd_una;
        self.cc.set_mss(self.smss());
        self.progress_at = now;
        self.last_send = now;
    }

    fn rtt_from_tsecr(&mut self, tsecr: u32, now: Instant) {
        if tsecr == 0 {
            return;
        }
        let ms = self.ts_now(now).wrapping_sub(tsecr);
        // A bogus echo (from the future or older than a minute) is ignored.
        if (ms as i32) >= 0 && ms < 60_000 {
            self.rtt.sample(Duration::from_millis(u64::from(ms)));
        }
    }

    /// RFC 9293 §3.10.7.4, for SYN-RECEIVED and the synchronized states.
    fn on_synchronized(&mut self, seg: &TcpSegment<'_>, now: Instant) {
        let mut seq = seg.seq_number();
        let mut payload = seg.payload();
        let mut syn = seg.syn();
        // In SYN-RECEIVED after a simultaneous open the peer's SYN-ACK
        // repeats its SYN: skip the SYN, keep the ACK.
        if syn && self.state == State::SynReceived && seq == self.irs && seg.ack() {
            syn = false;
            seq += 1;
        }
        let seg_seq = seq;
        let seg_len = payload.len() as u32 + u32::from(syn) + u32::from(seg.fin());

        // RFC 7323 §5.3: PAWS.
        if self.ts
            && !seg.rst()
            && let Some(t) = seg.timestamps()
            && (t.tsval.wrapping_sub(self.ts_recent) as i32) < 0
        {
            self.stats.paws_rejected += 1;
            self.ack_now = true;
            return;
        }

        // First: sequence number acceptability (§3.10.7.4 table).
        let wnd = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            // An empty segment exactly at the right edge is taken too (as
            // Linux's `tcp_sequence` does): a peer that filled the window
            // sends its ACKs there, and dropping them stalls the
            // connection (RFC 9293 §3.10.7.4's "special allowance").
            (0, _) => seq.in_window(self.rcv_nxt, wnd) || seq == self.rcv_nxt + wnd,
            (_, 0) => false,
            (_, _) => {
                seq.in_window(self.rcv_nxt, wnd)
                    || (seq + (seg_len - 1)).in_window(self.rcv_nxt, wnd)
            }
        };
        // A zero window still takes ACKs, RSTs and the in-order probe
        // (RFC 9293 §3.10.7.4: "special allowance").
        let zero_window_ok = wnd == 0 && seq == self.rcv_nxt;
        // A duplicate of data received since our last ACK (a tail loss
        // probe, a retransmission racing our delayed ACK) still carries
        // the peer's news in its ACK field: taken for that, its data
        // dropped as old (Linux's `tcp_sequence` accepts from its
        // `rcv_wup`, the point its last ACK announced). Dropping it whole
        // would leave our own data unacknowledged until its RTO. The
        // window is narrow (what arrived since that ACK), so RFC 5961's
        // blind-injection bound stands.
        let since_our_ack = seg_len > 0
            && !syn
            && !seg.rst()
            && (seq + seg_len).ge(self.last_ack_sent)
            && (seq + seg_len).le(self.rcv_nxt)
            && self.state.is_synchronized();
        if !acceptable && !zero_window_ok {
            if !seg.rst() {
                self.ack_now = true;
                if self.state == State::TimeWait && seg.fin() {
                    self.time_wait_at = Some(now.saturating_add(self.config.time_wait));
                }
            }
            if !since_our_ack {
                if !seg.rst() {
                    self.stats.unacceptable += 1;
                }
                return;
            }
        }
        self.last_recv = now;
        self.keepalive_probes = 0;

        // Second: RST (RFC 5961 §3.2).
        if seg.rst() {
            if seq == self.rcv_nxt {
                match self.state {
                    State::SynReceived => self.fail(ConnError::Refused, false),
                    State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                        self.fail(ConnError::Reset, false)
                    }
                    _ => self.enter_closed(),
                }
            } else {
                self.challenge_ack(now);
            }
            return;
        }

        // Fourth: SYN in a synchronized state (RFC 5961 §4).
        if syn {
            self.challenge_ack(now);
            return;
        }

        // Fifth: ACK.
        if !seg.ack() {
            return;
        }
        let ack = seg.ack_number();
        if self.state == State::SynReceived {
            if ack.gt(self.snd_una) && ack.le(self.snd_max) {
                self.snd_una = ack;
                self.rto_at = None;
                self.retries = 0;
                self.snd_wnd = u32::from(seg.window_len()) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = ack;
                self.enter_established(now);
            } else {
                self.pending_rst = Some(ack);
                return;
            }
        }
        // RFC 5961 §5.2: acceptable ACKs lie in
        // [SND.UNA - MAX.SND.WND, SND.NXT].
        if ack.gt(self.snd_max) {
            self.stats.unacceptable += 1;
            self.ack_now = true;
            return;
        }
        if ack.lt(self.snd_una - self.max_snd_wnd.max(1)) {
            self.stats.unacceptable += 1;
            self.challenge_ack(now);
            return;
        }
        // RFC 7323 §4.3: remember the peer's TSval when the segment covers
        // the last ACK we sent.
        if self.ts
            && let Some(t) = seg.timestamps()
            && seq.le(self.last_ack_sent)
        {
            self.ts_recent = t.tsval;
        }
        self.process_ack(seg, seq, ack, payload.len(), now);
        if self.state == State::Closed {
            return;
        }

        // Seventh: data.
        if !payload.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if seq.lt(self.rcv_nxt) {
                        let skip = (self.rcv_nxt - seq) as usize;
                        payload = payload.get(skip..).unwrap_or(&[]);
                        seq = self.rcv_nxt;
                        // Part was a duplicate: say where we are at once.
                        self.ack_now = true;
                    }
                    self.receive_data(seq, payload, now);
                }
                _ => {}
            }
        }

        // Eighth: FIN.
        if seg.fin() {
            let fin_seq = seg_seq + (seg_len - 1);
            if fin_seq.ge(self.rcv_nxt) && !self.fin_received {
                self.rcv_fin = Some(fin_seq);
            }
        }
        self.check_fin(now);
    }

    /// Cumulative ACK, duplicate ACKs and the send window (§3.10.7.4
    /// fifth step; RFC 5681, RFC 6582, RFC 6675).
    fn process_ack(
        &mut self,
        seg: &TcpSegment<'_>,
        seq: SeqNumber,
        ack: SeqNumber,
        payload_len: usize,
        now: Instant,
    ) {
        // The peer answers: its window may stay shut as long as it likes.
        self.probes_unanswered = 0;
        let new_wnd = u32::from(seg.window_len()) << self.snd_wscale;
        let flight_before = (self.snd_max - self.snd_una).max(0) as u32;
        let flight_una = self.snd_una;
        let mut newly_sacked = 0;
        if self.sack {
            if let Some(blocks) = seg.sack_blocks() {
                let una = if ack.gt(self.snd_una) {
                    ack
                } else {
                    self.snd_una
                };
                let upd = self.scoreboard.on_ack(una, self.snd_max, blocks.as_slice());
                newly_sacked = upd.newly_sacked;
                if let Some(r) = self.rack.as_mut() {
                    let b = blocks.as_slice();
                    r.on_ack(una, b.get(usize::from(upd.dsack)..).unwrap_or(&[]), now);
                    if upd.dsack {
                        r.on_dsack(self.snd_max);
                    }
                }
            } else if ack.gt(self.snd_una) {
                self.scoreboard.on_ack(ack, self.snd_max, &[]);
                if let Some(r) = self.rack.as_mut() {
                    r.on_ack(ack, &[], now);
                }
            }
        }

        if ack.gt(self.snd_una) {
            let acked = (ack - self.snd_una) as u32;
            // Release acknowledged data.
            let data_end = self.buf_seq + self.send_buf.len() as u32;
            let upto = if ack.gt(data_end) { data_end } else { ack };
            let n = (upto - self.buf_seq).max(0) as usize;
            self.send_buf.consume(n);
            self.buf_seq += n as u32;
            self.snd_una = ack;
            if self.snd_nxt.lt(ack) {
                self.snd_nxt = ack;
            }
            if self.high_rxt.lt(ack) {
                self.high_rxt = ack;
            }
            self.retries = 0;
            self.rtt.reset_backoff();
            self.progress_at = now;
            self.persist_backoff = 0;
            // A probe answer still to come acknowledges less: an old ACK.
            self.probe_answer_owed = false;

            // RTT: timestamps (RFC 7323 §4.1) or one timed segment with
            // Karn's rule (RFC 6298 §3).
            let mut sample = None;
            if self.ts {
                if let Some(t) = seg.timestamps()
                    && t.tsecr != 0
                {
                    let ms = self.ts_now(now).wrapping_sub(t.tsecr);
                    if (ms as i32) >= 0 && ms < 60_000 {
                        sample = Some(Duration::from_millis(u64::from(ms)));
                    }
                }
            } else if let Some((end, sent)) = self.rtt_timing
                && ack.ge(end)
            {
                sample = Some(now.saturating_duration_since(sent));
                self.rtt_timing = None;
            }
            if let Some(s) = sample {
                self.rtt.sample(s);
            }

            match self.recovery {
                Some(point) if ack.ge(point) => {
                    // RFC 6582 §3.2 step 3 / RFC 6675 §5: full ACK.
                    self.recovery = None;
                    self.dupacks = 0;
                    self.rexmit_una = false;
                    self.cc.on_recovery_exit(now);
                    if let Some(r) = self.rack.as_mut() {
                        r.on_recovery_exit();
                    }
                }
                Some(_) => {
                    // Partial ACK: NewReno retransmits the next hole
                    // (RFC 6582 §3.2 step 4); SACK's NextSeg finds it.
                    if !self.sack {
                        self.rexmit_una = true;
                        self.dupacks = 1;
                    }
                }
                None => {
                    self.dupacks = 0;
                    let cwnd = self.cc.window();
                    let ev = AckEvent {
                        acked,
                        rtt: sample,
                        in_flight: flight_before.saturating_sub(acked),
                        app_limited: flight_before.saturating_add(self.smss()) < cwnd
                            && self.unsent() == 0,
                    };
                    self.cc.on_ack(&ev, now);
                }
            }
            self.rto_at = if self.snd_max.gt(self.snd_una) {
                Some(now.saturating_add(self.rtt.rto()))
            } else {
                None
            };
            // Progress: a new tail loss probe episode.
            self.tlp_out = false;
            self.arm_tlp(now);

            // Our FIN acknowledged?
            let fin_acked = self.fin_seq().is_some_and(|f| self.snd_una.gt(f));
            if fin_acked {
                match self.state {
                    State::FinWait1 => {
                        self.state = State::FinWait2;
                        if self.orphaned {
                            // Bounded wait for the peer's FIN (the
                            // TIME-WAIT timer doubles as this one).
                            self.time_wait_at =
                                Some(now.saturating_add(self.config.fin_wait2_timeout));
                        }
                    }
                    State::Closing => self.enter_time_wait(now),
                    State::LastAck => {
                        self.enter_closed();
                        return;
                    }
                    _ => {}
                }
            }
        } else if self.probe_answer_owed
            && ack == self.snd_una
            && payload_len == 0
            && !seg.fin()
            && new_wnd == self.snd_wnd
            && newly_sacked == 0
        {
            // The answer to our probe (RFC 9293 §3.8.6.1 zero-window probe
            // or §3.8.4 keep-alive, <SEQ=SND.UNA-1>, which the peer must
            // acknowledge, §3.10.7.4) is not a duplicate ACK. It has the
            // form of one (RFC 5681 §2: no data, SND.UNA, the same window),
            // but a duplicate ACK reports a segment that arrived beyond a
            // hole (RFC 5681 §4.2); this one reports the probe. A window
            // update that overtook it lets data out, in flight when the
            // answer comes: counted, it made an early retransmit (RFC 5827,
            // one ACK with one segment out) on a lossless path. The first
            // such ACK after a probe is taken for its answer, whatever is
            // outstanding; an ACK with new SACK information is always a
            // duplicate ACK. (An answer that changed the window does not
            // clear this: one duplicate ACK may go uncounted then, until
            // SND.UNA advances.)
            self.probe_answer_owed = false;
        } else if ack == self.snd_una
            && payload_len == 0
            && !seg.fin()
            && (if self.sack {
                newly_sacked > 0
            } else {
                new_wnd == self.snd_wnd
            })
            && self.snd_max.gt(self.snd_una)
        {
            // RFC 5681 §2: a duplicate ACK (no data, SND.UNA, the same
            // window, data outstanding). With SACK, RFC 6675 §2's "DupAck"
            // instead: an ACK that reports new SACK information, whatever
            // its window (receivers such as Linux change the window in
            // each), and only such an ACK: one that reports nothing new —
            // drawn by a duplicated segment, a probe or a retransmission
            // that was not needed — says nothing of a loss (Linux, too,
            // counts SACKed segments there, not ACKs).
            self.stats.dup_acks += 1;
            self.dupacks += 1;
            if self.recovery.is_none() {
                let lost = self.dupacks >= DUP_THRESH
                    || (self.sack
                        && newly_sacked > 0
                        && self
                            .scoreboard
                            .is_lost(self.snd_una, self.smss(), DUP_THRESH));
                // RFC 5827 early retransmit: with fewer than four segments
                // outstanding and nothing new to send, fewer duplicate ACKs
                // can ever come; one less than the outstanding count will do.
                // Not where RACK runs (with SACK): its timer finds those
                // losses (RFC 8985 §6.2), and one duplicate ACK — the answer
                // to a probe, a retransmission that was not needed — made a
                // spurious retransmission (as Linux, which dropped early
                // retransmit for RACK).
                let mss = self.smss();
                let oseg = flight_before.div_ceil(mss);
                let early = self.rack.is_none()
                    && self.unsent() == 0
                    && self.fin_seq().is_none_or(|f| self.snd_max.gt(f))
                    && oseg < 4
                    && self.dupacks >= oseg.saturating_sub(1).max(1);
                if (lost || early) && self.may_enter_recovery() {
                    self.enter_recovery(now);
                }
            }
        }
        // RFC 8985 §6.2: time-based loss detection on every ACK that
        // delivered something (it also finds lost retransmissions).
        if ack.ge(self.snd_una) && (ack.gt(flight_una) || newly_sacked > 0) {
            self.rack_detect(now);
        }

        // Window update (§3.10.7.4: SND.WL1 / SND.WL2 rule), only for an
        // acceptable ACK (SND.UNA =< SEG.ACK): an older one, from a
        // segment delayed in the network, carries an older window and is
        // ignored for it, whatever its sequence number. An ACK that moves
        // SND.UNA always brings the window, as in Linux: the peer sent it
        // after everything it acknowledged before, even when it rides on
        // an older sequence number (a retransmission of the peer's).
        // Without this, SND.WND would keep counting from the new SND.UNA
        // and stretch past any edge the peer offered.
        if ack.ge(self.snd_una)
            && (ack.gt(flight_una)
                || self.snd_wl1.lt(seq)
                || (self.snd_wl1 == seq && self.snd_wl2.le(ack)))
        {
            self.snd_wnd = new_wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(new_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if new_wnd > 0 {
                self.persist_at = None;
                self.persist_backoff = 0;
            }
        }
    }

    /// RACK loss detection (RFC 8985 §6.2 step 5); a loss found outside
    /// recovery starts one (§6.2: "enter fast recovery").
    pub(super) fn rack_detect(&mut self, now: Instant) {
        let in_recovery = self.recovery.is_some();
        let srtt = self.rtt.srtt();
        let Some(r) = self.rack.as_mut() else {
            return;
        };
        if r.detect_loss(now, srtt, in_recovery) && !in_recovery && self.may_enter_recovery() {
            self.enter_recovery(now);
        }
    }

    /// Not again for losses of the window already recovered from: RFC
    /// 6582 §3.2 step 2 (the cumulative ACK must cover more than
    /// `recover`); with SACK, RFC 6675 §5.1 lets a new recovery start
    /// once it covers `recover` (a loss of the very next segment after a
    /// recovery would otherwise wait for the timeout).
    fn may_enter_recovery(&self) -> bool {
        self.snd_una.gt(self.recover) || (self.sack && self.snd_una == self.recover)
    }

    /// Enters fast retransmit / fast recovery (RFC 5681 §3.2, RFC 6582,
    /// RFC 6675 §5).
    fn enter_recovery(&mut self, now: Instant) {
        self.tlp_at = None;
        self.tlp_fire = false;
        let flight = (self.snd_max - self.snd_una).max(0) as u32;
        self.recovery = Some(self.snd_max);
        self.recover = self.snd_max;
        self.cc.on_loss(flight, now);
        self.stats.fast_retransmits += 1;
        // What an earlier recovery already retransmitted, and whose
        // acknowledgment is still on its way, is not sent again.
        self.high_rxt = self.high_rxt.max(self.snd_una);
        self.rtt_timing = None;
        if self.sack {
            self.stats.sack_recoveries += 1;
        }
        // The first retransmission goes at once either way.
        self.rexmit_una = true;
    }

    /// Places payload starting at `seq` (>= RCV.NXT) into the receive
    /// buffer, in order or through the reassembler.
    fn receive_data(&mut self, seq: SeqNumber, data: &[u8], now: Instant) {
        if data.is_empty() {
            return;
        }
        let offset = (seq - self.rcv_nxt).max(0) as usize;
        if self.read_closed {
            // Discard, but acknowledge in-order data so the peer moves on.
            if offset == 0 {
                self.rcv_nxt += data.len() as u32;
                self.ack_now = true;
            }
            return;
        }
        if offset == 0 && self.assembler.is_empty() {
            // Not with a FIN waiting beyond (it would be taken at the new
            // RCV.NXT, and a withdrawn payload could not give it back).
            let n = if self.defer_min > 0
                && data.len() == self.defer_min as usize
                && self.rcv_fin.is_none()
                && self.recv_buf.defer(data.len())
            {
                // Left in the segment's buffer (see `on_segment_deferring`).
                self.deferred = data.len() as u32;
                data.len()
            } else {
                self.recv_buf.write(data)
            };
            self.rcv_nxt += n as u32;
            self.stats.bytes_in += n as u64;
            if n < data.len() {
                self.ack_now = true;
            }
            self.unacked_bytes = self.unacked_bytes.saturating_add(n as u32);
            // After a silence longer than the RTO the peer has likely
            // timed out and sends one segment at a time: acknowledge the
            // next segments at once rather than on the delayed-ACK timer.
            if self
                .last_data_at
                .is_some_and(|t| now.saturating_duration_since(t) > self.rtt.rto())
            {
                self.quick_acks = QUICK_ACKS;
            }
            self.last_data_at = Some(now);
            // RFC 9293 §3.8.6.3: ACK at least every second full segment;
            // otherwise within the delayed-ACK timeout. Counted in bytes,
            // as Linux does: more than one full segment's worth waiting
            // is acknowledged at once, so that a full segment followed by
            // a short one (the end of a write) is not held for the timer
            // while its sender, with two segments out, expects an ACK
            // within its probe timeout (RFC 8985 §7.2). A full segment is
            // the peer's: the largest it sent, at least 536 bytes (the
            // default MSS), at most what we announced.
            let delay = self.config.delayed_ack_timeout();
            let announced = u32::from(self.rcv_mss) - if self.ts { 12 } else { 0 };
            self.rcv_seg_max = self.rcv_seg_max.max(data.len() as u32);
            let full = self.rcv_seg_max.clamp(announced.min(536), announced);
            if self.quick_acks > 0 {
                self.quick_acks -= 1;
                self.ack_now = true;
            } else if self.unacked_bytes > full || delay.is_zero() {
                self.ack_now = true;
            } else if self.delack_at.is_none() {
                self.delack_at = Some(now.saturating_add(delay));
            }
            return;
        }
        // Out of order, or filling a hole: ACK at once (RFC 5681 §4.2).
        self.ack_now = true;
        self.last_data_at = Some(now);
        let n = self.recv_buf.write_at(offset, data);
        if n == 0 {
            return;
        }
        if offset > 0 {
            self.stats.out_of_order += 1;
            self.acks_owed = self.acks_owed.saturating_add(1).min(16);
        }
        if self.assembler.add(offset, n).is_err() {
            return;
        }
        let k = self.assembler.remove_front();
        if k > 0 {
            self.recv_buf.commit(k);
            self.rcv_nxt += k as u32;
            self.stats.bytes_in += k as u64;
        }
    }

    /// Consumes the peer's FIN once everything before it has arrived.
    fn check_fin(&mut self, now: Instant) {
        let Some(fin) = self.rcv_fin else { return };
        if fin != self.rcv_nxt {
            return;
        }
        self.rcv_fin = None;
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 => {
                let fin_acked = self.fin_seq().is_some_and(|f| self.snd_una.gt(f));
                if fin_acked {
                    self.enter_time_wait(now);
                } else {
                    self.state = State::Closing;
                }
            }
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.rto_at = None;
        self.persist_at = None;
        self.delack_at = None;
        self.time_wait_at = Some(now.saturating_add(self.config.time_wait));
    }
}
