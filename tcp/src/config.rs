//! Per-connection settings: [`TcpConfig`] and [`Keepalive`].

use lamina_netbuf::Duration;

use crate::cc::CcAlgorithm;

/// Keepalive probing (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): after `idle`
/// without hearing from the peer, send a probe every `interval`; after
/// `count` unanswered probes the connection fails with
/// [`ConnError::TimedOut`](crate::ConnError::TimedOut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (RFC 1122: at least two hours by
    /// default; Linux `tcp_keepalive_time` is 7200 s).
    pub idle: Duration,
    /// Time between unanswered probes (Linux `tcp_keepalive_intvl`, 75 s).
    pub interval: Duration,
    /// Unanswered probes before giving up (Linux `tcp_keepalive_probes`, 9).
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Settings of a connection or listener. [`Default`] gives Linux-like
/// values; every field is public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Largest segment payload this side accepts and sends (the MSS it
    /// announces), before clamping to the route (`mss_limit`). Default
    /// 65495 (the IPv4 maximum): the route's MTU less 40 decides, as Linux
    /// announces it; set it lower to clamp (as `TCP_MAXSEG` does).
    pub mss: u16,
    /// Send buffer size in bytes (allocated once). Default 64 KiB.
    pub send_buffer: usize,
    /// Receive buffer size in bytes (allocated once); the window scale is
    /// the smallest shift that lets the window cover it (RFC 7323 §2).
    /// Default 64 KiB.
    pub recv_buffer: usize,
    /// Disable Nagle's algorithm (RFC 896, RFC 9293 §3.7.4). Default false.
    pub nodelay: bool,
    /// Keepalive probing; `None` (default) disables it.
    pub keepalive: Option<Keepalive>,
    /// Give up with [`ConnError::TimedOut`](crate::ConnError::TimedOut)
    /// when sent data stays unacknowledged this long (RFC 9293 §3.8.3
    /// "USER TIMEOUT"). `None` (default): only `max_retries` applies.
    pub user_timeout: Option<Duration>,
    /// Congestion control algorithm. Default CUBIC.
    pub cc: CcAlgorithm,
    /// Lower bound of the retransmission timeout (Linux 200 ms; RFC 6298
    /// §2.4 suggests 1 s). Default 200 ms.
    pub min_rto: Duration,
    /// Upper bound of the retransmission timeout (RFC 6298 §2.5: at least
    /// 60 s). Default 60 s.
    pub max_rto: Duration,
    /// RTO before any RTT sample (RFC 6298 §2.1). Default 1 s.
    pub initial_rto: Duration,
    /// Consecutive retransmission timeouts of data, or zero-window probes
    /// the peer leaves unanswered, before the connection fails (Linux
    /// `tcp_retries2`). Default 15.
    pub max_retries: u32,
    /// Retransmissions of a SYN or SYN-ACK before giving up (Linux
    /// `tcp_syn_retries` / `tcp_synack_retries`). Default 6 / 5 alike: 6.
    pub syn_retries: u32,
    /// Delayed-ACK timer (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2); clamped
    /// to 200 ms. Zero disables delayed ACKs. Default 40 ms.
    pub delayed_ack: Duration,
    /// TIME-WAIT duration, 2*MSL (RFC 9293 §3.3.2). Default 60 s.
    pub time_wait: Duration,
    /// How long a connection the application has [`close`]d waits in
    /// FIN-WAIT-2 for the peer's FIN before it is dropped (Linux
    /// `tcp_fin_timeout`), so that a peer that never closes cannot pin it.
    /// Default 60 s.
    ///
    /// [`close`]: crate::Connection::close
    pub fin_wait2_timeout: Duration,
    /// Offer and accept SACK (RFC 2018). Default true.
    pub sack: bool,
    /// Offer and accept timestamps (RFC 7323). Default true.
    pub timestamps: bool,
    /// Offer and accept window scaling (RFC 7323). Default true.
    pub window_scale: bool,
    /// Most out-of-order ranges held by the receive reassembler (data
    /// that would need more is dropped and retransmitted by the peer).
    /// Default 32.
    pub max_ooo_ranges: usize,
    /// Most SACKed ranges the sender's scoreboard keeps. Default 32.
    pub max_sack_blocks: usize,
    /// Challenge ACKs (RFC 5961 §7) sent per second per connection, at
    /// most. Default 10.
    pub challenge_ack_limit: u32,
    /// Listener: half-open entries kept before SYN cookies take over.
    /// Default 256.
    pub syn_queue: usize,
    /// Listener: answer with SYN cookies (RFC 4987 §3.6) when the SYN
    /// queue is full; otherwise new SYNs are dropped. Default true.
    pub syn_cookies: bool,
}

impl Default for TcpConfig {
    fn default() -> TcpConfig {
        TcpConfig {
            mss: 65495,
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            nodelay: false,
            keepalive: None,
            user_timeout: None,
            cc: CcAlgorithm::default(),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            initial_rto: Duration::from_secs(1),
            max_retries: 15,
            syn_retries: 6,
            delayed_ack: Duration::from_millis(40),
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            sack: true,
            timestamps: true,
            window_scale: true,
            max_ooo_ranges: 32,
            max_sack_blocks: 32,
            challenge_ack_limit: 10,
            syn_queue: 256,
            syn_cookies: true,
        }
    }
}

impl TcpConfig {
    /// The window-scale shift announced for this receive buffer: the
    /// smallest that lets a 16-bit window cover it, at most 14 (RFC 7323
    /// §2.3). 0 when scaling is disabled.
    pub fn recv_window_scale(&self) -> u8 {
        if !self.window_scale {
            return 0;
        }
        let mut shift = 0u8;
        while shift < 14 && (self.recv_buffer >> shift) > usize::from(u16::MAX) {
            shift += 1;
        }
        shift
    }

    /// The delayed-ACK timeout, capped at 200 ms (RFC 9293 §3.8.6.3).
    pub fn delayed_ack_timeout(&self) -> Duration {
        self.delayed_ack.min(Duration::from_millis(200))
    }
}
