//! The neighbor cache: IPv4 → MAC resolution with the states, timers and
//! bounded queues of RFC 826, RFC 1122 §2.3.2, the RFC 4861 reachability
//! machine (as Linux applies it to ARP) and RFC 5227.
//!
//! # Calling protocol
//!
//! The cache is sans-I/O: it never reads a clock and never sends. Its owner
//! (an interface) drives it:
//!
//! - on output, [`resolve`](NeighborCache::resolve) the next hop of each
//!   IPv4 packet: the packet comes back [`Ready`](Resolution::Ready) with
//!   the MAC to send it to, or it waits inside the cache
//!   ([`Queued`](Resolution::Queued)), or it is refused
//!   ([`Dropped`](Resolution::Dropped), with the reason);
//! - on input, hand every received ARP packet to
//!   [`handle_packet`](NeighborCache::handle_packet);
//! - after either, and whenever [`poll_at`](NeighborCache::poll_at) says,
//!   drain [`poll_transmit`](NeighborCache::poll_transmit) (the ARP
//!   requests, replies and announcements to send) and
//!   [`poll_event`](NeighborCache::poll_event) (queued packets released to
//!   a resolved MAC, queued packets whose resolution failed — answer each
//!   with ICMP host unreachable, RFC 1122 §3.2.2.1 — and address
//!   conflicts).
//!
//! Every method that takes `now` first runs the timers that are due. A
//! late caller gets each due step once, at `now` (a retry is sent late,
//! never as a burst of missed ones), so polling at
//! [`poll_at`](NeighborCache::poll_at) keeps the timing exact.
//!
//! # States
//!
//! | state | MAC usable | leaves on |
//! |---|---|---|
//! | INCOMPLETE | no, packets queue | an answer (→ REACHABLE or STALE); `mcast_solicit` broadcast requests `retrans_time` apart without one (→ FAILED) |
//! | REACHABLE | yes | reachable time elapsed (→ STALE) |
//! | STALE | yes | use (→ DELAY); `gc_stale_time` unused (removed) |
//! | DELAY | yes | confirmation (→ REACHABLE); `delay_first_probe_time` (→ PROBE) |
//! | PROBE | yes | a reply (→ REACHABLE); `ucast_solicit` unicast requests unanswered (→ FAILED) |
//! | FAILED | no, packets dropped as unreachable | `failed_hold_time` (removed); an answer (→ STALE or REACHABLE) |
//! | STATIC | yes | [`remove`](NeighborCache::remove) only |

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use lamina_ethernet::{EtherType, EthernetRepr, MacAddr};
use lamina_netbuf::{Duration, Instant, PacketBuf, PoolBuf, Rng, SeededRng};

use crate::{ArpOperation, ArpRepr, Error, NeighborConfig};

/// Conflict reports kept for [`poll_event`](NeighborCache::poll_event);
/// conflicts beyond these are counted in
/// [`NeighborStats::conflicts`] only.
pub const MAX_PENDING_CONFLICTS: usize = 16;

/// The length of a packet waiting for resolution, for the byte limits of
/// [`NeighborConfig`]. Implemented for the usual buffers.
pub trait PacketLen {
    /// The bytes the packet occupies.
    fn packet_len(&self) -> usize;
}

impl PacketLen for PacketBuf {
    fn packet_len(&self) -> usize {
        self.len()
    }
}

/// The whole pool slot, as the memory it holds (like Linux's `truesize`).
impl PacketLen for PoolBuf {
    fn packet_len(&self) -> usize {
        self.len()
    }
}

impl PacketLen for Vec<u8> {
    fn packet_len(&self) -> usize {
        self.len()
    }
}

impl PacketLen for Box<[u8]> {
    fn packet_len(&self) -> usize {
        self.len()
    }
}

impl PacketLen for &[u8] {
    fn packet_len(&self) -> usize {
        self.len()
    }
}

impl<const N: usize> PacketLen for [u8; N] {
    fn packet_len(&self) -> usize {
        N
    }
}

/// The state of a neighbour entry (RFC 4861 §7.3.2 as Linux applies it to
/// ARP, plus Linux's PERMANENT as [`Static`](Self::Static)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeighborState {
    /// Resolution in progress: broadcast requests are being sent and
    /// packets wait.
    Incomplete,
    /// Recently confirmed reachable.
    Reachable,
    /// Not confirmed recently; usable, and confirmed again when used.
    Stale,
    /// Used while stale; waiting briefly for an upper-layer confirmation
    /// before probing.
    Delay,
    /// Being confirmed with unicast requests.
    Probe,
    /// Resolution or confirmation failed; packets are dropped as
    /// unreachable until the entry is removed.
    Failed,
    /// Added by the user; never expires and never changes from the network.
    Static,
}

impl NeighborState {
    /// Whether an entry in this state has a hardware address that packets
    /// may be sent to.
    pub const fn is_usable(self) -> bool {
        matches!(
            self,
            NeighborState::Reachable
                | NeighborState::Stale
                | NeighborState::Delay
                | NeighborState::Probe
                | NeighborState::Static
        )
    }
}

/// What [`resolve`](NeighborCache::resolve) did with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<P> {
    /// The neighbour is known: send `packet` to `mac` now.
    Ready {
        /// The destination hardware address.
        mac: MacAddr,
        /// The packet, given back.
        packet: P,
    },
    /// The packet waits for resolution; it comes out of
    /// [`poll_event`](NeighborCache::poll_event) later, as
    /// [`Send`](NeighborEvent::Send) or
    /// [`Unreachable`](NeighborEvent::Unreachable). `dropped` older packets
    /// of the same neighbour were dropped to make room (counted in
    /// [`NeighborStats::queue_drops`]).
    Queued {
        /// Older packets dropped from the neighbour's queue.
        dropped: usize,
    },
    /// The packet was not queued.
    Dropped {
        /// The packet, given back.
        packet: P,
        /// Why.
        reason: DropReason,
    },
}

/// Why [`resolve`](NeighborCache::resolve) refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Resolution of the neighbour failed recently (the entry is FAILED):
    /// answer with ICMP host unreachable.
    Unreachable,
    /// The table is full of entries that cannot be evicted.
    TableFull,
    /// The packet does not fit the queue limits even alone (larger than
    /// `unres_qlen_bytes`, a limit of zero, or the total limit reached by
    /// other neighbours).
    QueueFull,
    /// The address cannot be resolved with ARP: unspecified, loopback or
    /// one of our own (deliver those locally).
    NotResolvable,
}

/// Something the owner of the cache must act on, from
/// [`poll_event`](NeighborCache::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighborEvent<P> {
    /// A packet that waited for `ip` is released: send it to `mac`. The
    /// packets of one neighbour come out in the order they were queued.
    Send {
        /// The neighbour.
        ip: Ipv4Addr,
        /// Its hardware address.
        mac: MacAddr,
        /// The packet.
        packet: P,
    },
    /// A packet that waited for `ip` is dropped because resolution failed:
    /// answer it with ICMP destination unreachable, host unreachable
    /// (RFC 1122 §3.2.2.1).
    Unreachable {
        /// The neighbour.
        ip: Ipv4Addr,
        /// The packet.
        packet: P,
    },
    /// Another host claims one of our addresses (RFC 5227 §2.4).
    Conflict(Conflict),
}

/// An ARP packet from another host whose sender protocol address is one of
/// ours (RFC 5227 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conflict {
    /// Our address.
    pub ip: Ipv4Addr,
    /// The hardware address of the host claiming it.
    pub mac: MacAddr,
    /// Whether we defended the address with an announcement (RFC 5227
    /// §2.4 (b)). `false` when we defended within the last
    /// `defend_interval`, in which case RFC 5227 says to stop using the
    /// address; the cache leaves that decision to its owner.
    pub defended: bool,
    /// When the conflicting packet arrived.
    pub at: Instant,
}

/// The kind of an [`ArpTransmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// A request resolving or probing a neighbour (broadcast while
    /// INCOMPLETE, unicast while PROBE).
    Request,
    /// A reply to a request for one of our addresses.
    Reply,
    /// A gratuitous announcement of one of our addresses (RFC 5227 §2.3).
    Announcement,
}

/// An ARP packet the cache wants sent, from
/// [`poll_transmit`](NeighborCache::poll_transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpTransmit {
    /// The ARP packet.
    pub packet: ArpRepr,
    /// The Ethernet destination: broadcast, or the neighbour for unicast
    /// probes and replies.
    pub dst: MacAddr,
    /// What it is.
    pub kind: TransmitKind,
}

impl ArpTransmit {
    /// The Ethernet header to carry it: from the packet's sender hardware
    /// address to [`dst`](Self::dst).
    pub const fn ethernet_repr(&self) -> EthernetRepr {
        EthernetRepr::new(self.packet.sender_hardware_addr, self.dst, EtherType::ARP)
    }
}

/// What [`handle_packet`](NeighborCache::handle_packet) did with an ARP
/// packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Received {
    /// Processed by RFC 826 (some of these may be `false` when the packet
    /// concerned other hosts only).
    Processed {
        /// An existing entry for the sender changed ("merge"): a new
        /// hardware address, an unresolved entry resolved, or a
        /// confirmation.
        updated: bool,
        /// A new entry was created for the sender (the packet was for us).
        created: bool,
        /// A reply was queued for transmission.
        replied: bool,
    },
    /// The sender claims one of our addresses (see [`Conflict`]).
    Conflict {
        /// Whether an announcement defends the address.
        defended: bool,
    },
    /// Not processed (counted in [`NeighborStats::ignored`]).
    Ignored(IgnoreReason),
}

/// Why [`handle_packet`](NeighborCache::handle_packet) ignored an ARP
/// packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// Neither request nor reply (RARP, InARP, unknown).
    UnsupportedOperation,
    /// Sent with our own hardware address: our own packet looped back.
    OwnHardwareAddr,
    /// The sender hardware address is multicast, broadcast or zero.
    InvalidSenderHardwareAddr,
    /// The sender protocol address is multicast, broadcast or loopback (or
    /// 0.0.0.0 in a reply).
    InvalidSenderProtocolAddr,
    /// The target protocol address is multicast or loopback.
    InvalidTargetProtocolAddr,
}

/// A snapshot of one entry, from [`get`](NeighborCache::get) and
/// [`iter`](NeighborCache::iter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NeighborInfo {
    /// The neighbour's IPv4 address.
    pub ip: Ipv4Addr,
    /// Its state.
    pub state: NeighborState,
    /// Its hardware address, once known (kept in FAILED, though unusable).
    pub mac: Option<MacAddr>,
    /// Packets waiting (for resolution, or to be drained by
    /// [`poll_event`](NeighborCache::poll_event)).
    pub queued_packets: usize,
    /// Their bytes.
    pub queued_bytes: usize,
    /// The entry's next timer.
    pub expires: Option<Instant>,
}

/// Counters of a [`NeighborCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborStats {
    /// ARP packets handed to [`handle_packet`](NeighborCache::handle_packet).
    pub received: u64,
    /// Of those, ignored ([`Received::Ignored`]).
    pub ignored: u64,
    /// Requests handed out by `poll_transmit`.
    pub requests_sent: u64,
    /// Replies handed out by `poll_transmit`.
    pub replies_sent: u64,
    /// Announcements handed out by `poll_transmit`.
    pub announcements_sent: u64,
    /// Unresolved entries (INCOMPLETE or FAILED) that learned a hardware
    /// address.
    pub resolutions: u64,
    /// Entries that went FAILED.
    pub failures: u64,
    /// Packets reported unreachable (events and immediate drops).
    pub unreachable: u64,
    /// Packets dropped because a queue was full (oldest dropped to make
    /// room, or the new one refused).
    pub queue_drops: u64,
    /// New entries refused because the table was full.
    pub table_full: u64,
    /// Entries evicted to make room for new ones.
    pub evictions: u64,
    /// Packets from other hosts claiming one of our addresses.
    pub conflicts: u64,
    /// ARP packets not queued for transmission because the transmit queue
    /// was full.
    pub tx_drops: u64,
}

/// One address of ours.
#[derive(Debug, Clone, Copy)]
struct OurAddress {
    ip: Ipv4Addr,
    prefix_len: u8,
    announce_left: u32,
    next_announce: Option<Instant>,
    last_defended: Option<Instant>,
}

impl OurAddress {
    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0)
    }

    fn same_subnet(&self, ip: Ipv4Addr) -> bool {
        let m = self.mask();
        u32::from(ip) & m == u32::from(self.ip) & m
    }

    /// The subnet's directed broadcast, if the prefix has one (RFC 3021:
    /// not /31 or /32).
    fn is_directed_broadcast(&self, ip: Ipv4Addr) -> bool {
        self.prefix_len <= 30 && self.same_subnet(ip) && u32::from(ip) | self.mask() == u32::MAX
    }
}

struct Entry<P> {
    state: NeighborState,
    mac: Option<MacAddr>,
    /// Packets with the length they were accounted with.
    queue: VecDeque<(P, usize)>,
    queue_bytes: usize,
    /// In the `ready` list: the queue drains through `poll_event`.
    ready: bool,
    timer: Option<Instant>,
    /// Requests sent in the current INCOMPLETE or PROBE phase.
    probes: u32,
    last_request: Option<Instant>,
    mac_changed: Instant,
    /// Last use or update, for eviction.
    touched: Instant,
    /// FAILED and past `failed_hold_time`: removed once drained.
    hold_expired: bool,
}

impl<P> Entry<P> {
    fn new(state: NeighborState, mac: Option<MacAddr>, now: Instant) -> Entry<P> {
        Entry {
            state,
            mac,
            queue: VecDeque::new(),
            queue_bytes: 0,
            ready: false,
            timer: None,
            probes: 0,
            last_request: None,
            mac_changed: now,
            touched: now,
            hold_expired: false,
        }
    }

    /// When the next request may go (RFC 1122 §2.3.2.1). Entries are not
    /// removed by timers or eviction before then either, so the limit
    /// holds across entries for the same address.
    fn request_allowed_at(&self, config: &NeighborConfig) -> Option<Instant> {
        self.last_request
            .map(|t| t.saturating_add(config.min_request_interval))
    }

    fn info(&self, ip: Ipv4Addr) -> NeighborInfo {
        NeighborInfo {
            ip,
            state: self.state,
            mac: self.mac,
            queued_packets: self.queue.len(),
            queued_bytes: self.queue_bytes,
            expires: self.timer,
        }
    }

    /// Moves to `state` with its timer at `at`.
    fn enter(
        &mut self,
        timers: &mut Timers,
        ip: Ipv4Addr,
        state: NeighborState,
        at: Option<Instant>,
    ) {
        self.state = state;
        self.probes = 0;
        timers.epoch = timers.epoch.wrapping_add(1);
        self.set_timer(timers, ip, at);
    }

    fn set_timer(&mut self, timers: &mut Timers, ip: Ipv4Addr, at: Option<Instant>) {
        if let Some(old) = self.timer.take() {
            timers.set.remove(&(old, ip));
        }
        if let Some(at) = at {
            timers.set.insert((at, ip));
        }
        self.timer = at;
    }
}

/// Where an IPv4 destination goes at the link layer.
enum Dest {
    Unicast,
    Broadcast,
    Multicast,
    Local,
    Invalid,
}

/// The entries' timers, in firing order, and a counter of changes.
#[derive(Debug, Clone, Default)]
struct Timers {
    set: BTreeSet<(Instant, Ipv4Addr)>,
    /// Bumped on every change that could alter a lookup's answer: state
    /// transitions, entries added or removed, address changes.
    epoch: u64,
}

/// The ARP neighbor cache of one interface, generic over the packets that
/// wait for resolution (`P`: a [`PacketBuf`], a pool buffer, ...).
///
/// See the [module documentation](self) for the calling protocol and the
/// state machine, and [`NeighborConfig`] for every limit. Memory is bounded
/// by configuration: at most `max_entries` entries, `unres_qlen` packets
/// and `unres_qlen_bytes` bytes per entry, `max_queued_bytes` bytes in all,
/// `max_pending_transmits` ARP packets to send, [`MAX_PENDING_CONFLICTS`]
/// conflict reports and `max_addresses` addresses of ours.
pub struct NeighborCache<P> {
    config: NeighborConfig,
    mac: MacAddr,
    rng: SeededRng,
    addresses: Vec<OurAddress>,
    entries: BTreeMap<Ipv4Addr, Entry<P>>,
    timers: Timers,
    /// Entries whose queue drains through `poll_event`, each at most once.
    ready: VecDeque<Ipv4Addr>,
    tx: VecDeque<ArpTransmit>,
    conflicts: VecDeque<Conflict>,
    queued_bytes: usize,
    stats: NeighborStats,
}

impl<P> fmt::Debug for NeighborCache<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeighborCache")
            .field("mac", &self.mac)
            .field("addresses", &self.addresses.len())
            .field("entries", &self.entries.len())
            .field("queued_bytes", &self.queued_bytes)
            .field("pending_transmits", &self.tx.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn push_tx(
    tx: &mut VecDeque<ArpTransmit>,
    cap: usize,
    stats: &mut NeighborStats,
    t: ArpTransmit,
) -> bool {
    if tx.len() >= cap {
        stats.tx_drops += 1;
        false
    } else {
        tx.push_back(t);
        true
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl<P: PacketLen> NeighborCache<P> {
    /// An empty cache for an interface whose hardware address is
    /// `hardware_addr`. `rng` seeds the cache's own generator, which
    /// randomises reachable times.
    pub fn new(
        hardware_addr: MacAddr,
        config: NeighborConfig,
        rng: &mut impl Rng,
    ) -> NeighborCache<P> {
        NeighborCache {
            config,
            mac: hardware_addr,
            rng: SeededRng::new(rng.next_u64()),
            addresses: Vec::new(),
            entries: BTreeMap::new(),
            timers: Timers::default(),
            ready: VecDeque::new(),
            tx: VecDeque::new(),
            conflicts: VecDeque::new(),
            queued_bytes: 0,
            stats: NeighborStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NeighborConfig {
        &self.config
    }

    /// Our hardware address.
    pub fn hardware_addr(&self) -> MacAddr {
        self.mac
    }

    /// Changes our hardware address (for packets built from now on). Call
    /// [`announce`](Self::announce) for each address to tell the
    /// neighbours.
    pub fn set_hardware_addr(&mut self, mac: MacAddr) {
        self.mac = mac;
        self.timers.epoch = self.timers.epoch.wrapping_add(1);
    }

    /// The counters.
    pub fn stats(&self) -> &NeighborStats {
        &self.stats
    }

    /// Entries in the table, static ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of all packets waiting in the cache.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// ARP packets waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmits(&self) -> usize {
        self.tx.len()
    }

    /// The entry for `ip`, if any.
    pub fn get(&self, ip: Ipv4Addr) -> Option<NeighborInfo> {
        self.entries.get(&ip).map(|e| e.info(ip))
    }

    /// The state of the entry for `ip`, if any.
    pub fn state(&self, ip: Ipv4Addr) -> Option<NeighborState> {
        self.entries.get(&ip).map(|e| e.state)
    }

    /// Every entry, by address.
    pub fn iter(&self) -> impl Iterator<Item = NeighborInfo> + '_ {
        self.entries.iter().map(|(ip, e)| e.info(*ip))
    }

    /// Our addresses with their prefix lengths, in the order added.
    pub fn addresses(&self) -> impl Iterator<Item = (Ipv4Addr, u8)> + '_ {
        self.addresses.iter().map(|a| (a.ip, a.prefix_len))
    }

    /// Whether `ip` is one of our addresses.
    pub fn is_our_address(&self, ip: Ipv4Addr) -> bool {
        self.addresses.iter().any(|a| a.ip == ip)
    }

    /// Adds `ip/prefix_len` to our addresses: the cache answers requests
    /// for it, uses it as the sender of requests for neighbours on its
    /// subnet, and announces it (`announce_count` gratuitous ARPs,
    /// `announce_interval` apart, the first at once; RFC 5227 §2.3). Any
    /// neighbour entry for `ip`, or for the directed broadcast of its
    /// subnet (which from now on maps straight to the broadcast MAC), is
    /// removed with its waiting packets. Adding an address already ours
    /// only updates its prefix length (and likewise removes an entry for
    /// the new prefix's directed broadcast).
    pub fn add_address(&mut self, ip: Ipv4Addr, prefix_len: u8, now: Instant) -> Result<(), Error> {
        if prefix_len > 32 {
            return Err(Error::InvalidPrefixLen { prefix_len });
        }
        if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
            return Err(Error::InvalidAddress { ip });
        }
        let address = OurAddress {
            ip,
            prefix_len,
            announce_left: 0,
            next_announce: None,
            last_defended: None,
        };
        // The subnet's directed broadcast is no neighbour any more.
        let broadcast = Ipv4Addr::from(u32::from(ip) | !address.mask());
        let broadcast = address
            .is_directed_broadcast(broadcast)
            .then_some(broadcast);
        self.timers.epoch = self.timers.epoch.wrapping_add(1);
        if let Some(a) = self.addresses.iter_mut().find(|a| a.ip == ip) {
            a.prefix_len = prefix_len;
            if let Some(b) = broadcast {
                self.remove_entry(b);
            }
            return Ok(());
        }
        if self.addresses.len() >= self.config.max_addresses {
            return Err(Error::TooManyAddresses {
                max: self.config.max_addresses,
            });
        }
        self.remove_entry(ip);
        if let Some(b) = broadcast {
            self.remove_entry(b);
        }
        self.addresses.push(address);
        self.announce(ip, now)
    }

    /// Removes `ip` from our addresses; `false` if it was not ours.
    pub fn remove_address(&mut self, ip: Ipv4Addr) -> bool {
        let before = self.addresses.len();
        self.addresses.retain(|a| a.ip != ip);
        self.timers.epoch = self.timers.epoch.wrapping_add(1);
        before != self.addresses.len()
    }

    /// (Re)starts the announcements of our address `ip`:
    /// `announce_count` gratuitous ARPs `announce_interval` apart, the
    /// first at once (RFC 5227 §2.3). Use it after a hardware address
    /// change or a failover.
    pub fn announce(&mut self, ip: Ipv4Addr, now: Instant) -> Result<(), Error> {
        let count = self.config.announce_count;
        let a = self
            .addresses
            .iter_mut()
            .find(|a| a.ip == ip)
            .ok_or(Error::NotOurAddress { ip })?;
        a.announce_left = count;
        a.next_announce = (count > 0).then_some(now);
        self.handle_timeout(now);
        Ok(())
    }

    fn classify(&self, ip: Ipv4Addr) -> Dest {
        if ip.is_unspecified() || ip.is_loopback() {
            Dest::Invalid
        } else if ip.is_broadcast() {
            Dest::Broadcast
        } else if ip.is_multicast() {
            Dest::Multicast
        } else if self.is_our_address(ip) {
            Dest::Local
        } else if self.addresses.iter().any(|a| a.is_directed_broadcast(ip)) {
            Dest::Broadcast
        } else {
            Dest::Unicast
        }
    }

    /// Finds the hardware address for the next hop `ip` and hands the
    /// packet back to send now, or keeps it until resolution ends (RFC
    /// 1122 §2.3.2.2: queue at least one packet per unresolved neighbour).
    ///
    /// - Limited and (for our subnets) directed broadcasts resolve to the
    ///   broadcast address, multicast groups to their RFC 1112 §6.4 MAC.
    /// - A usable entry returns [`Ready`](Resolution::Ready); a STALE one
    ///   moves to DELAY (it is in use and must be confirmed). While packets
    ///   released earlier still wait in [`poll_event`](Self::poll_event),
    ///   the packet queues behind them so that order holds.
    /// - An unknown neighbour gets an INCOMPLETE entry (evicting if the
    ///   table is full) and a broadcast request at once; the packet queues.
    ///   Further requests follow from the timers, never more than one per
    ///   `min_request_interval` (RFC 1122 §2.3.2.1).
    /// - A FAILED neighbour drops the packet as
    ///   [`Unreachable`](DropReason::Unreachable) until the entry expires.
    pub fn resolve(&mut self, ip: Ipv4Addr, packet: P, now: Instant) -> Resolution<P> {
        self.handle_timeout(now);
        match self.classify(ip) {
            Dest::Unicast => {}
            Dest::Broadcast => {
                return Resolution::Ready {
                    mac: MacAddr::BROADCAST,
                    packet,
                };
            }
            Dest::Multicast => {
                return Resolution::Ready {
                    mac: MacAddr::from_ipv4_multicast(ip),
                    packet,
                };
            }
            Dest::Local | Dest::Invalid => {
                return Resolution::Dropped {
                    packet,
                    reason: DropReason::NotResolvable,
                };
            }
        }
        if let Some(e) = self.entries.get_mut(&ip) {
            e.touched = now;
            match (e.state, e.mac) {
                (NeighborState::Failed, _) => {
                    self.stats.unreachable += 1;
                    return Resolution::Dropped {
                        packet,
                        reason: DropReason::Unreachable,
                    };
                }
                (state, Some(mac)) if state.is_usable() && !e.ready => {
                    if state == NeighborState::Stale {
                        let at = now.saturating_add(self.config.delay_first_probe_time);
                        e.enter(&mut self.timers, ip, NeighborState::Delay, Some(at));
                    }
                    return Resolution::Ready { mac, packet };
                }
                _ => return self.enqueue(ip, packet),
            }
        }
        if !self.fits_alone(packet.packet_len()) {
            self.stats.queue_drops += 1;
            return Resolution::Dropped {
                packet,
                reason: DropReason::QueueFull,
            };
        }
        if !self.insert_entry(ip, Entry::new(NeighborState::Incomplete, None, now), now) {
            self.stats.table_full += 1;
            return Resolution::Dropped {
                packet,
                reason: DropReason::TableFull,
            };
        }
        let r = self.enqueue(ip, packet);
        self.solicit(ip, now);
        r
    }

    /// The hardware address for `ip` if it is usable now, without queueing
    /// anything or starting a resolution. It counts as a use: a STALE entry
    /// moves to DELAY. Unlike [`resolve`](Self::resolve) it does not keep
    /// the order with packets still waiting in
    /// [`poll_event`](Self::poll_event).
    pub fn lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        self.handle_timeout(now);
        match self.classify(ip) {
            Dest::Unicast => {}
            Dest::Broadcast => return Some(MacAddr::BROADCAST),
            Dest::Multicast => return Some(MacAddr::from_ipv4_multicast(ip)),
            Dest::Local | Dest::Invalid => return None,
        }
        let e = self.entries.get_mut(&ip)?;
        if !e.state.is_usable() {
            return None;
        }
        e.touched = now;
        if e.state == NeighborState::Stale {
            let at = now.saturating_add(self.config.delay_first_probe_time);
            e.enter(&mut self.timers, ip, NeighborState::Delay, Some(at));
        }
        e.mac
    }

    /// As [`lookup`](Self::lookup), and also until when the answer holds
    /// as long as [`epoch`](Self::epoch) does not change: the end of a
    /// REACHABLE entry's reachable time, `None` (for ever) for a static
    /// entry or a broadcast or multicast address, and `Some(now)` (this
    /// instant only) for an entry that must be watched on every use
    /// (STALE, DELAY, PROBE). A caller may keep the address in a
    /// destination cache on that basis and skip the lookup while it
    /// holds: no state transition is missed, because entries that use
    /// changes (STALE → DELAY) are never cacheable beyond `now`.
    pub fn lookup_cacheable(
        &mut self,
        ip: Ipv4Addr,
        now: Instant,
    ) -> Option<(MacAddr, Option<Instant>)> {
        let mac = self.lookup(ip, now)?;
        let until = match self.entries.get(&ip) {
            None => None,
            Some(e) => match e.state {
                NeighborState::Static => None,
                NeighborState::Reachable => Some(e.timer.unwrap_or(now)),
                _ => Some(now),
            },
        };
        Some((mac, until))
    }

    /// A counter that changes whenever an answer of
    /// [`lookup`](Self::lookup) might: a state transition, an entry added
    /// or removed, a change of our addresses or hardware address. With
    /// [`lookup_cacheable`](Self::lookup_cacheable) it lets an owner cache
    /// answers safely.
    pub fn epoch(&self) -> u64 {
        self.timers.epoch
    }

    /// An upper layer saw forward progress with `ip` (a TCP ACK for new
    /// data, as Linux's `neigh_confirm`): the entry becomes REACHABLE
    /// again (RFC 4861 §7.3.1). Returns whether there was a usable,
    /// non-static entry to confirm.
    pub fn confirm(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        self.handle_timeout(now);
        let Some(e) = self.entries.get_mut(&ip) else {
            return false;
        };
        if !e.state.is_usable() || e.state == NeighborState::Static {
            return false;
        }
        e.touched = now;
        let at = now.saturating_add(Self::reachable_time(&mut self.rng, &self.config));
        e.enter(&mut self.timers, ip, NeighborState::Reachable, Some(at));
        true
    }

    /// Adds or replaces a static entry: `ip` is at `mac` until
    /// [`remove`](Self::remove)d; ARP packets never change it. Packets
    /// waiting for `ip` are released to `mac`. Fails if the table is full
    /// and nothing can be evicted, or if `ip` or `mac` cannot name one
    /// neighbour.
    pub fn insert_static(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) -> Result<(), Error> {
        self.handle_timeout(now);
        if mac.is_multicast() || mac.is_unspecified() {
            return Err(Error::InvalidHardwareAddress { mac });
        }
        if !matches!(self.classify(ip), Dest::Unicast) {
            return Err(Error::InvalidAddress { ip });
        }
        if !self.entries.contains_key(&ip)
            && !self.insert_entry(ip, Entry::new(NeighborState::Static, Some(mac), now), now)
        {
            return Err(Error::TableFull);
        }
        if let Some(e) = self.entries.get_mut(&ip) {
            e.mac = Some(mac);
            e.mac_changed = now;
            e.hold_expired = false;
            e.enter(&mut self.timers, ip, NeighborState::Static, None);
            if !e.ready && !e.queue.is_empty() {
                e.ready = true;
                self.ready.push_back(ip);
            }
        }
        Ok(())
    }

    /// Removes the entry for `ip` (static or not), dropping any packets
    /// waiting for it. Returns whether there was one.
    pub fn remove(&mut self, ip: Ipv4Addr) -> bool {
        self.remove_entry(ip)
    }

    /// Processes a received ARP packet (RFC 826 "Packet Reception"):
    ///
    /// - only requests and replies are processed; packets with our own
    ///   hardware address as sender (loops), a group or zero sender
    ///   hardware address, or a sender protocol address that is not
    ///   unicast are ignored;
    /// - a sender claiming one of our addresses is a conflict (RFC 5227
    ///   §2.4): reported through [`poll_event`](Self::poll_event), defended
    ///   with one announcement at most every `defend_interval`, and nothing
    ///   is learned from it;
    /// - RFC 5227 probes (sender 0.0.0.0) teach nothing but are answered;
    /// - "merge": an existing entry for the sender takes the sender's
    ///   hardware address (static entries excepted; a change within
    ///   `locktime` of the last one is ignored unless the packet is
    ///   gratuitous). A reply addressed to us confirms the entry
    ///   (REACHABLE); otherwise a new address, or an entry that was
    ///   unresolved, becomes STALE;
    /// - only a packet whose target protocol address is ours creates an
    ///   entry for its sender (STALE);
    /// - a request for one of our addresses is answered.
    pub fn handle_packet(&mut self, arp: &ArpRepr, now: Instant) -> Received {
        self.handle_timeout(now);
        self.stats.received += 1;
        let op = arp.operation;
        let (sha, spa, tpa) = (
            arp.sender_hardware_addr,
            arp.sender_protocol_addr,
            arp.target_protocol_addr,
        );
        let probe = spa.is_unspecified();
        let reason = if op != ArpOperation::REQUEST && op != ArpOperation::REPLY {
            Some(IgnoreReason::UnsupportedOperation)
        } else if sha == self.mac {
            Some(IgnoreReason::OwnHardwareAddr)
        } else if sha.is_multicast() || sha.is_unspecified() {
            Some(IgnoreReason::InvalidSenderHardwareAddr)
        } else if probe && op != ArpOperation::REQUEST
            || !probe && !matches!(self.classify(spa), Dest::Unicast | Dest::Local)
        {
            Some(IgnoreReason::InvalidSenderProtocolAddr)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.ignored += 1;
            return Received::Ignored(reason);
        }
        if self.is_our_address(spa) {
            return self.conflict(spa, sha, now);
        }
        if tpa.is_multicast() || tpa.is_loopback() {
            self.stats.ignored += 1;
            return Received::Ignored(IgnoreReason::InvalidTargetProtocolAddr);
        }
        let for_us = self.is_our_address(tpa);
        let (mut updated, mut created) = (false, false);
        if !probe {
            if self.entries.contains_key(&spa) {
                let confirmed = op == ArpOperation::REPLY && for_us;
                updated = self.learn(spa, sha, confirmed, spa == tpa, now);
            } else if for_us {
                created =
                    self.insert_entry(spa, Entry::new(NeighborState::Stale, Some(sha), now), now);
                if created {
                    let at = now.saturating_add(self.config.gc_stale_time);
                    if let Some(e) = self.entries.get_mut(&spa) {
                        e.set_timer(&mut self.timers, spa, Some(at));
                    }
                } else {
                    self.stats.table_full += 1;
                }
            }
        }
        let replied = for_us
            && op == ArpOperation::REQUEST
            && push_tx(
                &mut self.tx,
                self.config.max_pending_transmits,
                &mut self.stats,
                ArpTransmit {
                    packet: ArpRepr::reply_to(arp, self.mac),
                    dst: sha,
                    kind: TransmitKind::Reply,
                },
            );
        Received::Processed {
            updated,
            created,
            replied,
        }
    }

    /// The next ARP packet to send, if any (requests, replies,
    /// announcements, in the order they were decided). Runs the timers
    /// due at `now` first.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<ArpTransmit> {
        self.handle_timeout(now);
        let t = self.tx.pop_front()?;
        match t.kind {
            TransmitKind::Request => self.stats.requests_sent += 1,
            TransmitKind::Reply => self.stats.replies_sent += 1,
            TransmitKind::Announcement => self.stats.announcements_sent += 1,
        }
        Some(t)
    }

    /// The next event, if any: conflicts first, then released packets,
    /// neighbour by neighbour in the order they were resolved (or failed),
    /// each neighbour's packets in the order they were queued. Runs the
    /// timers due at `now` first.
    pub fn poll_event(&mut self, now: Instant) -> Option<NeighborEvent<P>> {
        self.handle_timeout(now);
        if let Some(c) = self.conflicts.pop_front() {
            return Some(NeighborEvent::Conflict(c));
        }
        while let Some(&ip) = self.ready.front() {
            let Some(e) = self.entries.get_mut(&ip) else {
                self.ready.pop_front();
                continue;
            };
            let Some((packet, len)) = e.queue.pop_front() else {
                self.finish_drain(ip, now);
                continue;
            };
            e.queue_bytes = e.queue_bytes.saturating_sub(len);
            self.queued_bytes = self.queued_bytes.saturating_sub(len);
            let mac = if e.state.is_usable() { e.mac } else { None };
            if mac.is_some() {
                e.touched = now;
                if e.state == NeighborState::Stale {
                    let at = now.saturating_add(self.config.delay_first_probe_time);
                    e.enter(&mut self.timers, ip, NeighborState::Delay, Some(at));
                }
            }
            if e.queue.is_empty() {
                self.finish_drain(ip, now);
            }
            return Some(match mac {
                Some(mac) => NeighborEvent::Send { ip, mac, packet },
                None => {
                    self.stats.unreachable += 1;
                    NeighborEvent::Unreachable { ip, packet }
                }
            });
        }
        None
    }

    /// When to call again: the earliest timer (a request to retry, a state
    /// to age, an entry to remove, an announcement to send), or
    /// [`Instant::ZERO`] ("now") when `poll_transmit` or `poll_event` have
    /// something to hand out; `None` when there is nothing to do until new
    /// input arrives.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.tx.is_empty() || !self.conflicts.is_empty() || !self.ready.is_empty() {
            return Some(Instant::ZERO);
        }
        let entry = self.timers.set.first().map(|(at, _)| *at);
        let announce = self.addresses.iter().filter_map(|a| a.next_announce).min();
        earliest(entry, announce)
    }

    /// Runs every timer due at `now`. The other methods that take `now`
    /// call it first, so an owner that polls them needs no separate call.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, ip)) = self.timers.set.first() {
            if at > now {
                break;
            }
            self.timers.set.pop_first();
            if let Some(e) = self.entries.get_mut(&ip)
                && e.timer == Some(at)
            {
                e.timer = None;
                self.fire(ip, now);
            }
        }
        let mac = self.mac;
        for a in &mut self.addresses {
            if let Some(at) = a.next_announce
                && at <= now
            {
                push_tx(
                    &mut self.tx,
                    self.config.max_pending_transmits,
                    &mut self.stats,
                    ArpTransmit {
                        packet: ArpRepr::gratuitous(mac, a.ip),
                        dst: MacAddr::BROADCAST,
                        kind: TransmitKind::Announcement,
                    },
                );
                a.announce_left = a.announce_left.saturating_sub(1);
                a.next_announce = (a.announce_left > 0)
                    .then(|| now.saturating_add(self.config.announce_interval));
            }
        }
    }

    /// A timer of the entry for `ip` expired.
    fn fire(&mut self, ip: Ipv4Addr, now: Instant) {
        let Some(e) = self.entries.get_mut(&ip) else {
            return;
        };
        match e.state {
            NeighborState::Incomplete | NeighborState::Probe => self.solicit(ip, now),
            NeighborState::Delay => {
                e.enter(&mut self.timers, ip, NeighborState::Probe, None);
                self.solicit(ip, now);
            }
            NeighborState::Reachable => {
                let at = now.saturating_add(self.config.gc_stale_time);
                e.enter(&mut self.timers, ip, NeighborState::Stale, Some(at));
            }
            // Entries whose packets still drain are removed (or re-armed)
            // when the drain ends.
            NeighborState::Stale => {
                if let Some(allowed) = e.request_allowed_at(&self.config)
                    && allowed > now
                {
                    e.set_timer(&mut self.timers, ip, Some(allowed));
                } else if !e.ready {
                    self.remove_entry(ip);
                }
            }
            NeighborState::Failed => {
                if e.ready {
                    e.hold_expired = true;
                } else {
                    self.remove_entry(ip);
                }
            }
            NeighborState::Static => {}
        }
    }

    /// Sends the next request for an INCOMPLETE or PROBE entry, or fails
    /// it when its requests are spent.
    fn solicit(&mut self, ip: Ipv4Addr, now: Instant) {
        let Some(e) = self.entries.get_mut(&ip) else {
            return;
        };
        let (limit, dst) = match (e.state, e.mac) {
            (NeighborState::Incomplete, _) => (self.config.mcast_solicit, MacAddr::BROADCAST),
            (NeighborState::Probe, Some(mac)) => (self.config.ucast_solicit, mac),
            (NeighborState::Probe, None) => (0, MacAddr::BROADCAST),
            _ => return,
        };
        // RFC 1122 §2.3.2.1: at most one request per destination per
        // `min_request_interval`. Checked before giving up too, so that a
        // failed entry, once removed, cannot let a new request out early.
        if let Some(allowed) = e.request_allowed_at(&self.config)
            && allowed > now
        {
            e.set_timer(&mut self.timers, ip, Some(allowed));
            return;
        }
        if e.probes >= limit {
            self.fail(ip, now);
            return;
        }
        let src = self
            .addresses
            .iter()
            .find(|a| a.same_subnet(ip))
            .or(self.addresses.first())
            .map_or(Ipv4Addr::UNSPECIFIED, |a| a.ip);
        e.probes += 1;
        e.last_request = Some(now);
        let at = now.saturating_add(self.config.retrans_time);
        e.set_timer(&mut self.timers, ip, Some(at));
        push_tx(
            &mut self.tx,
            self.config.max_pending_transmits,
            &mut self.stats,
            ArpTransmit {
                packet: ArpRepr::request(self.mac, src, ip),
                dst,
                kind: TransmitKind::Request,
            },
        );
    }

    fn fail(&mut self, ip: Ipv4Addr, now: Instant) {
        let Some(e) = self.entries.get_mut(&ip) else {
            return;
        };
        self.stats.failures += 1;
        e.hold_expired = false;
        let at = now.saturating_add(self.config.failed_hold_time);
        e.enter(&mut self.timers, ip, NeighborState::Failed, Some(at));
        if !e.ready && !e.queue.is_empty() {
            e.ready = true;
            self.ready.push_back(ip);
        }
    }

    /// RFC 826 merge into the existing entry for `ip`. Returns whether the
    /// entry changed.
    fn learn(
        &mut self,
        ip: Ipv4Addr,
        mac: MacAddr,
        confirmed: bool,
        gratuitous: bool,
        now: Instant,
    ) -> bool {
        let Some(e) = self.entries.get_mut(&ip) else {
            return false;
        };
        if e.state == NeighborState::Static {
            return false;
        }
        let changed = e.mac != Some(mac);
        let locked = now < e.mac_changed.saturating_add(self.config.locktime);
        if e.state.is_usable() && changed && locked && !gratuitous {
            return false;
        }
        if changed {
            e.mac = Some(mac);
            e.mac_changed = now;
        }
        e.touched = now;
        let unresolved = matches!(e.state, NeighborState::Incomplete | NeighborState::Failed);
        if unresolved {
            self.stats.resolutions += 1;
            e.hold_expired = false;
        }
        if confirmed {
            let at = now.saturating_add(Self::reachable_time(&mut self.rng, &self.config));
            e.enter(&mut self.timers, ip, NeighborState::Reachable, Some(at));
        } else if changed || unresolved {
            let at = now.saturating_add(self.config.gc_stale_time);
            e.enter(&mut self.timers, ip, NeighborState::Stale, Some(at));
        }
        if !e.ready && !e.queue.is_empty() {
            e.ready = true;
            self.ready.push_back(ip);
        }
        // Released packets use the entry: a stale one must be confirmed.
        if e.ready && e.state == NeighborState::Stale {
            let at = now.saturating_add(self.config.delay_first_probe_time);
            e.enter(&mut self.timers, ip, NeighborState::Delay, Some(at));
        }
        changed || unresolved || confirmed
    }

    fn conflict(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) -> Received {
        self.stats.conflicts += 1;
        let mut defended = false;
        if let Some(a) = self.addresses.iter_mut().find(|a| a.ip == ip) {
            let quiet = a
                .last_defended
                .is_none_or(|t| now.saturating_duration_since(t) >= self.config.defend_interval);
            if self.config.defend && quiet {
                defended = push_tx(
                    &mut self.tx,
                    self.config.max_pending_transmits,
                    &mut self.stats,
                    ArpTransmit {
                        packet: ArpRepr::gratuitous(self.mac, ip),
                        dst: MacAddr::BROADCAST,
                        kind: TransmitKind::Announcement,
                    },
                );
                if defended {
                    a.last_defended = Some(now);
                }
            }
        }
        if self.conflicts.len() < MAX_PENDING_CONFLICTS {
            self.conflicts.push_back(Conflict {
                ip,
                mac,
                defended,
                at: now,
            });
        }
        Received::Conflict { defended }
    }

    /// A reachable time drawn from 0.5 to 1.5 × `base_reachable_time`.
    fn reachable_time(rng: &mut SeededRng, config: &NeighborConfig) -> Duration {
        let permille = u128::from(500 + rng.below(1001));
        let micros = u128::from(config.base_reachable_time.total_micros()) * permille / 1000;
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The front of `ready` (which is `ip`) has drained.
    fn finish_drain(&mut self, ip: Ipv4Addr, now: Instant) {
        self.ready.pop_front();
        let Some(e) = self.entries.get_mut(&ip) else {
            return;
        };
        e.ready = false;
        match e.state {
            NeighborState::Failed if e.hold_expired => {
                self.remove_entry(ip);
            }
            NeighborState::Stale if e.timer.is_none() => {
                let at = now.saturating_add(self.config.gc_stale_time);
                e.set_timer(&mut self.timers, ip, Some(at));
            }
            _ => {}
        }
    }

    /// Whether a packet of `len` bytes could ever be queued.
    fn fits_alone(&self, len: usize) -> bool {
        self.config.unres_qlen > 0
            && len <= self.config.unres_qlen_bytes
            && self.queued_bytes.saturating_add(len) <= self.config.max_queued_bytes
    }

    /// Queues `packet` on the existing entry for `ip`, dropping its oldest
    /// packets to make room.
    fn enqueue(&mut self, ip: Ipv4Addr, packet: P) -> Resolution<P> {
        let len = packet.packet_len();
        let c = &self.config;
        let Some(e) = self.entries.get_mut(&ip) else {
            return Resolution::Dropped {
                packet,
                reason: DropReason::NotResolvable,
            };
        };
        let others = self.queued_bytes.saturating_sub(e.queue_bytes);
        if c.unres_qlen == 0
            || len > c.unres_qlen_bytes
            || others.saturating_add(len) > c.max_queued_bytes
        {
            self.stats.queue_drops += 1;
            return Resolution::Dropped {
                packet,
                reason: DropReason::QueueFull,
            };
        }
        let mut dropped = 0;
        while e.queue.len() >= c.unres_qlen
            || e.queue_bytes.saturating_add(len) > c.unres_qlen_bytes
            || self.queued_bytes.saturating_add(len) > c.max_queued_bytes
        {
            let Some((_, old)) = e.queue.pop_front() else {
                break;
            };
            e.queue_bytes = e.queue_bytes.saturating_sub(old);
            self.queued_bytes = self.queued_bytes.saturating_sub(old);
            dropped += 1;
        }
        self.stats.queue_drops += dropped as u64;
        e.queue.push_back((packet, len));
        e.queue_bytes = e.queue_bytes.saturating_add(len);
        self.queued_bytes = self.queued_bytes.saturating_add(len);
        Resolution::Queued { dropped }
    }

    /// Inserts a new entry, evicting one if the table is full (the least
    /// recently used STALE or FAILED entry with no packets and no request
    /// within `min_request_interval`). Returns `false` if there is no room.
    fn insert_entry(&mut self, ip: Ipv4Addr, entry: Entry<P>, now: Instant) -> bool {
        if self.entries.len() >= self.config.max_entries {
            let victim = self
                .entries
                .iter()
                .filter(|(_, e)| {
                    matches!(e.state, NeighborState::Stale | NeighborState::Failed)
                        && !e.ready
                        && e.queue.is_empty()
                        && e.request_allowed_at(&self.config).is_none_or(|t| t <= now)
                })
                .min_by_key(|(_, e)| e.touched)
                .map(|(ip, _)| *ip);
            match victim {
                Some(v) => {
                    self.remove_entry(v);
                    self.stats.evictions += 1;
                }
                None => return false,
            }
        }
        self.entries.insert(ip, entry);
        self.timers.epoch = self.timers.epoch.wrapping_add(1);
        true
    }

    fn remove_entry(&mut self, ip: Ipv4Addr) -> bool {
        let Some(e) = self.entries.remove(&ip) else {
            return false;
        };
        if let Some(at) = e.timer {
            self.timers.set.remove(&(at, ip));
        }
        self.timers.epoch = self.timers.epoch.wrapping_add(1);
        if e.ready {
            self.ready.retain(|r| *r != ip);
        }
        self.queued_bytes = self.queued_bytes.saturating_sub(e.queue_bytes);
        true
    }
}

#[cfg(test)]
mod tests;
