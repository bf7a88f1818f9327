//! Tuning of the neighbor cache.

use lamina_netbuf::Duration;

/// The limits and timers of a [`NeighborCache`](crate::NeighborCache).
///
/// The defaults follow Linux (`/proc/sys/net/ipv4/neigh/default/*`) where
/// Linux has a knob, and the RFCs where it has none. Build one with
/// [`NeighborConfig::default()`] and change the fields you need:
///
/// ```
/// use lamina_arp::NeighborConfig;
/// use lamina_netbuf::Duration;
///
/// let mut config = NeighborConfig::default();
/// config.max_entries = 256;
/// config.base_reachable_time = Duration::from_secs(15);
/// assert_eq!(config.retrans_time, Duration::from_secs(1));
/// ```
///
/// Durations of zero and limits of zero are accepted and mean what they
/// say (a limit of zero entries refuses every entry); nothing here can make
/// the cache panic or loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NeighborConfig {
    /// How long a confirmed entry stays REACHABLE, before the random
    /// factor: each confirmation draws a reachable time uniformly from
    /// 0.5 to 1.5 times this (RFC 4861 §6.3.2, as Linux does for ARP), so
    /// that entries confirmed together do not expire together. Linux
    /// `base_reachable_time_ms`; default 30 s.
    pub base_reachable_time: Duration,
    /// How long an unused STALE entry is kept before it is removed.
    /// Linux `gc_stale_time`; default 60 s.
    pub gc_stale_time: Duration,
    /// How long an entry stays in DELAY after a STALE entry was used,
    /// waiting for an upper-layer confirmation
    /// ([`confirm`](crate::NeighborCache::confirm)) before it starts
    /// unicast probing. Linux `delay_first_probe_time`; default 5 s.
    pub delay_first_probe_time: Duration,
    /// The interval between two requests for the same neighbour, while
    /// resolving (INCOMPLETE) and while probing (PROBE). Linux
    /// `retrans_time_ms`; default 1 s.
    pub retrans_time: Duration,
    /// The shortest interval between two requests for the same neighbour,
    /// whatever the other timers say: RFC 1122 §2.3.2.1 asks for at most
    /// one request per second per destination (flooding prevention).
    /// Default 1 s; [`Duration::ZERO`] disables the check.
    pub min_request_interval: Duration,
    /// Broadcast requests sent while resolving an unknown neighbour before
    /// giving up (INCOMPLETE → FAILED). Linux `mcast_solicit`; default 3.
    pub mcast_solicit: u32,
    /// Unicast requests sent to confirm a stale neighbour before giving up
    /// (PROBE → FAILED). Linux `ucast_solicit`; default 3.
    pub ucast_solicit: u32,
    /// How long a FAILED entry is kept: while it exists, packets for that
    /// neighbour are dropped at once as unreachable instead of starting a
    /// new resolution, which bounds the requests a host sending to a dead
    /// neighbour causes (`mcast_solicit` every `mcast_solicit ×
    /// retrans_time + failed_hold_time`). Linux has no direct equivalent;
    /// default 3 s.
    pub failed_hold_time: Duration,
    /// After an entry's hardware address changed, further changes within
    /// this time are ignored, unless they come from a gratuitous ARP
    /// (which keeps the first answer when several hosts, such as proxies,
    /// answer one request). Linux `locktime`; default 1 s.
    pub locktime: Duration,
    /// The most entries the cache holds, static ones included. When a new
    /// entry is needed and the table is full, the least recently used
    /// STALE or FAILED entry with no packets waiting (and no request sent
    /// within `min_request_interval`) is evicted; if there is none, the new
    /// entry is refused (and the packet that needed it is dropped). Linux
    /// `gc_thresh3`; default 1024.
    pub max_entries: usize,
    /// The most packets waiting for one neighbour's resolution. When a new
    /// packet would exceed it, the oldest waiting packets are dropped, so
    /// the latest is always kept as RFC 1122 §2.3.2.2 asks (Linux drops the
    /// oldest too). Linux `unres_qlen`; default 16.
    pub unres_qlen: usize,
    /// The most bytes ([`PacketLen`](crate::PacketLen)) waiting for one
    /// neighbour's resolution; the oldest are dropped to make room, and a
    /// packet larger than this alone is refused. Linux
    /// `unres_qlen_bytes`; default 64 KiB.
    pub unres_qlen_bytes: usize,
    /// The most bytes waiting for resolution over all neighbours. A packet
    /// that would exceed it makes room by dropping the oldest packets of
    /// its own neighbour only; if that is not enough, it is refused.
    /// Default 1 MiB.
    pub max_queued_bytes: usize,
    /// The most ARP packets (requests, replies, announcements) waiting in
    /// [`poll_transmit`](crate::NeighborCache::poll_transmit). When full,
    /// new ones are dropped and counted, as if lost on the wire (timers
    /// retry requests). Default 256.
    pub max_pending_transmits: usize,
    /// The most addresses of our own the cache answers for. Default 32.
    pub max_addresses: usize,
    /// Announcements (gratuitous ARP) sent when an address is added or
    /// [`announce`](crate::NeighborCache::announce)d. RFC 5227 §2.3
    /// `ANNOUNCE_NUM`; default 2.
    pub announce_count: u32,
    /// The interval between two announcements. RFC 5227 §2.3
    /// `ANNOUNCE_INTERVAL`; default 2 s.
    pub announce_interval: Duration,
    /// Whether to defend an address when another host claims it: send one
    /// announcement, at most once per
    /// [`defend_interval`](Self::defend_interval) (RFC 5227 §2.4 (b)).
    /// Conflicts are reported either way. Default `true`.
    pub defend: bool,
    /// The least time between two defences of the same address. RFC 5227
    /// §2.4 `DEFEND_INTERVAL`; default 10 s.
    pub defend_interval: Duration,
}

impl NeighborConfig {
    /// The defaults, as a constant (the same as [`Default::default`]).
    pub const DEFAULT: NeighborConfig = NeighborConfig {
        base_reachable_time: Duration::from_secs(30),
        gc_stale_time: Duration::from_secs(60),
        delay_first_probe_time: Duration::from_secs(5),
        retrans_time: Duration::from_secs(1),
        min_request_interval: Duration::from_secs(1),
        mcast_solicit: 3,
        ucast_solicit: 3,
        failed_hold_time: Duration::from_secs(3),
        locktime: Duration::from_secs(1),
        max_entries: 1024,
        unres_qlen: 16,
        unres_qlen_bytes: 64 * 1024,
        max_queued_bytes: 1024 * 1024,
        max_pending_transmits: 256,
        max_addresses: 32,
        announce_count: 2,
        announce_interval: Duration::from_secs(2),
        defend: true,
        defend_interval: Duration::from_secs(10),
    };
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig::DEFAULT
    }
}
