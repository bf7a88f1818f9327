//! The [`Interface`]: devices, addresses, routes, and the protocol crates
//! composed into a host (or a router).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_arp::{ArpPacket, DropReason, NeighborCache, NeighborConfig, NeighborEvent, Resolution};
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
use lamina_icmp::{
    EchoConfig, EchoReply, ErrorContext, ErrorGenerator, IcmpErrorKind, IcmpMessage, IcmpPacket,
    IcmpRepr, IcmpType, QuotedFlow, QuotedTransport, RateLimitConfig, error_ipv4_repr,
    received_error,
};
use lamina_ipv4::forward::{Arrival, ForwardConfig, ForwardDecision, forward};
use lamina_ipv4::fragment::Fragmenter;
use lamina_ipv4::hook::{HookPoint, NoHooks, PacketHook, Verdict};

use crate::dst_cache::{MacCache, RouteCache, RouteHit};

mod tcp;
use lamina_ipv4::ident::IpIdGenerator;
use lamina_ipv4::reassembly::{Reassembler, Reassembly, ReassemblyConfig};
use lamina_ipv4::{
    IfaceId, IpProtocol, Ipv4Cidr, Ipv4Header, Ipv4Packet, Ipv4Repr, Route, RoutingTable,
};
use lamina_netbuf::checksum::{copy_with_sum, ones_complement_sum};
use lamina_netbuf::{Instant, PacketBuf, Rng, SeededRng, Serializer};
use lamina_netdev::{ChecksumProto, ChecksumSet, Device, Medium, RxEvent, RxMeta, TxMeta, TxToken};
use lamina_udp::{ChecksumPolicy, UdpPacket, UdpRepr, UdpStats};

use crate::devices::{CapsVisitor, DeviceSet, DeviceVisitor, PollAtVisitor};
use crate::set::Socket;
use crate::{Error, SocketSet};

/// The limits and policies of an [`Interface`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InterfaceConfig {
    /// Frames taken from one device per round (NAPI budget; default 64).
    pub budget: usize,
    /// Frames waiting per device for the device to take them (default
    /// 256); beyond, new frames are dropped and counted in
    /// [`InterfaceStats::tx_queue_drops`].
    pub tx_queue_len: usize,
    /// The neighbor cache of each Ethernet device.
    pub neighbor: NeighborConfig,
    /// The ICMP error rate limits (RFC 1812 §4.3.2.8).
    pub icmp_rate: RateLimitConfig,
    /// Which pings are answered.
    pub echo: EchoConfig,
    /// Forward datagrams not addressed to us (a router; default off).
    pub forwarding: bool,
    /// Routes the table holds at most (default 1024).
    pub max_routes: usize,
    /// Addresses per device at most (default 16).
    pub max_addresses: usize,
    /// Devices at most (default 16).
    pub max_devices: usize,
    /// The TTL of datagrams the stack originates (default 64).
    pub ttl: u8,
    /// UDP checksum handling (RFC 1122 §4.1.3.4).
    pub udp_checksum: ChecksumPolicy,
    /// Reassembly limits and timeout.
    pub reassembly: ReassemblyConfig,
    /// What a router forwards (with [`forwarding`](Self::forwarding) on).
    pub forward: ForwardConfig,
    /// A host (forwarding off) follows ICMP Redirects (default on, as
    /// RFC 1122 §3.2.2.2 requires and Linux's `accept_redirects` does):
    /// a redirect from the router it used for a destination, naming
    /// another router on the same link, makes that router the next hop
    /// for the destination for five minutes. Redirects that do not come
    /// from the current first hop, name an address off the link, one of
    /// ours or a broadcast, or concern a datagram we did not send are
    /// ignored (counted in [`InterfaceStats::redirects_ignored`]). At
    /// most 64 destinations are redirected at once; a new one then
    /// replaces the one closest to expiry.
    pub accept_redirects: bool,
}

impl Default for InterfaceConfig {
    fn default() -> InterfaceConfig {
        InterfaceConfig {
            budget: 64,
            tx_queue_len: 256,
            neighbor: NeighborConfig::default(),
            icmp_rate: RateLimitConfig::default(),
            echo: EchoConfig::default(),
            forwarding: false,
            max_routes: 1024,
            max_addresses: 16,
            max_devices: 16,
            ttl: 64,
            udp_checksum: ChecksumPolicy::default(),
            reassembly: ReassemblyConfig::default(),
            forward: ForwardConfig::default(),
            accept_redirects: true,
        }
    }
}

/// Counters of an [`Interface`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct InterfaceStats {
    /// Frames received from the devices.
    pub rx_frames: u64,
    /// Received frames or datagrams dropped as malformed (bad length,
    /// version, checksum).
    pub rx_malformed: u64,
    /// Received frames not for us (another MAC, another host's IP with
    /// forwarding off, an unknown EtherType).
    pub rx_not_for_us: u64,
    /// Datagrams reassembled from fragments.
    pub reassembled: u64,
    /// Datagrams sent in fragments (RFC 2011 `ipFragOKs`).
    pub fragmented: u64,
    /// Datagrams the forwarding rules discarded (martians, source routed,
    /// bad header).
    pub not_forwardable: u64,
    /// Frames handed to the devices.
    pub tx_frames: u64,
    /// Frames dropped because a device's transmit queue was full.
    pub tx_queue_drops: u64,
    /// Datagrams dropped because they exceed the MTU and may not be
    /// fragmented here.
    pub tx_too_big: u64,
    /// Datagrams with no route.
    pub no_route: u64,
    /// Datagrams forwarded.
    pub forwarded: u64,
    /// ICMP Redirects sent (a router forwarding a datagram back onto
    /// the link it came from, to a next hop its source could use
    /// directly, RFC 1812 §5.2.7.2).
    pub redirects_sent: u64,
    /// ICMP Redirects followed (see [`InterfaceConfig::accept_redirects`]).
    pub redirects_accepted: u64,
    /// ICMP Redirects received and ignored.
    pub redirects_ignored: u64,
    /// Datagrams a packet hook dropped (or queued when the queue was
    /// full).
    pub hook_dropped: u64,
    /// Datagrams a packet hook queued for the user ([`Interface::take_queued`]).
    pub hook_queued: u64,
    /// TCP segments received for us with a valid checksum.
    pub tcp_in: u64,
    /// TCP segments sent.
    pub tcp_out: u64,
    /// TCP payloads queued in the buffer they arrived in (given away by
    /// the device, or lent by the sender) instead of copied.
    pub tcp_payloads_kept: u64,
    /// UDP datagrams handed to the device in the buffer it lent, their
    /// payload written there by `send_to` (not copied again).
    pub udp_payloads_lent: u64,
    /// TCP frames handed to the device to be cut into segments (TCP
    /// segmentation offload): each counts once in `tcp_out`.
    pub tcp_gso_frames: u64,
    /// TCP segments cut in software from a larger one the connection
    /// gave (a device without segmentation offload: see
    /// [`Interface::poll`]'s transmit), each written straight into its
    /// frame; each counts in `tcp_out`.
    pub tcp_segments_cut: u64,
    /// TCP segments whose payload the device took by reference
    /// ([`Capabilities::shared_payloads`](lamina_netdev::Capabilities::shared_payloads)):
    /// sent without copying it.
    pub tcp_shared_payloads: u64,
    /// TCP segments dropped as malformed or with a bad checksum.
    pub tcp_malformed: u64,
    /// TCP segments that reached no connection or listener (answered
    /// with a reset unless they were one).
    pub tcp_no_socket: u64,
    /// Echo Requests answered.
    pub echo_replies: u64,
    /// ICMP errors delivered to local sockets (received, or decided by
    /// the local stack).
    pub errors_to_sockets: u64,
}

/// A frame waiting for its device: an IPv4 datagram and the hardware
/// address to send it to (ignored on raw-IP devices).
#[derive(Debug)]
struct Outgoing {
    mac: MacAddr,
    packet: PacketBuf,
    /// Transport checksums the device is to compute (the packet holds
    /// the pseudo-header sum in their place).
    offload: ChecksumSet,
}

#[derive(Debug)]
struct Port {
    medium: Medium,
    mtu: usize,
    mac: MacAddr,
    addrs: Vec<Ipv4Cidr>,
    /// Read through [`Port::neighbors`], changed only through
    /// [`Port::neighbors_mut`] (which forgets `neighbors_due`).
    neighbor_cache: NeighborCache<PacketBuf>,
    /// The neighbor cache's `poll_at()` as last read, while nothing has
    /// changed it since (`None`: unknown): spares polls that find nothing
    /// due a walk of its timers.
    neighbors_due: Option<Option<Instant>>,
    txq: VecDeque<Outgoing>,
    rx_csum: lamina_netdev::ChecksumCapabilities,
    /// The longest frame the device segments (TCP segmentation offload),
    /// or 0 when it cannot.
    tso_max: usize,
    /// The longest frame the device delivers, and whether large UDP
    /// datagrams are being kept (together: read together by every receive
    /// pass, on one cache line).
    rx: RxLimits,
    /// The device takes transmitted payloads by reference (and delivers
    /// received ones so, as `RxEvent::Shared`).
    shared_payloads: bool,
    /// Segments per burst that TCP cuts in software for this device (no
    /// segmentation offload): as many as its transmit ring took last
    /// time, growing by one after each burst it took whole.
    gso_burst: usize,
    /// Recent next-hop hardware addresses (see `dst_cache`).
    macs: MacCache,
}

impl Port {
    #[inline]
    fn neighbors(&self) -> &NeighborCache<PacketBuf> {
        &self.neighbor_cache
    }

    /// The neighbor cache, to change: its `poll_at` must be read again.
    #[inline]
    fn neighbors_mut(&mut self) -> &mut NeighborCache<PacketBuf> {
        self.neighbors_due = None;
        &mut self.neighbor_cache
    }

    /// Whether the neighbor cache may have something due at `now`
    /// (released or failed packets, a timer).
    #[inline]
    fn neighbors_due(&mut self, now: Instant) -> bool {
        let due = match self.neighbors_due {
            Some(due) => due,
            None => {
                let due = self.neighbor_cache.poll_at();
                self.neighbors_due = Some(due);
                due
            }
        };
        due.is_some_and(|t| t <= now)
    }
}

/// One IP host (or router) over one or more devices: its addresses, its
/// routing table, an ARP neighbor cache per Ethernet device, and the
/// protocol logic of `lamina-arp`, `lamina-ipv4`, `lamina-icmp` and
/// `lamina-udp` composed.
///
/// # Calling protocol
///
/// The interface owns neither clock nor devices nor sockets: the caller
/// keeps them and lends them to every call.
///
/// 1. Create it with [`new`](Self::new), register each device with
///    [`add_device`](Self::add_device) (in the order of the
///    [`DeviceSet`] later passed to [`poll`](Self::poll): a device's
///    index in the set is its [`IfaceId`]), and give devices addresses
///    with [`add_address`](Self::add_address) (which announces them with
///    gratuitous ARP and adds the connected route).
/// 2. Call [`poll`](Self::poll) whenever a device may have frames, a
///    socket has data to send, or [`poll_at`](Self::poll_at) says a timer
///    is due. It receives up to a budget of frames per device
///    round-robin, runs the protocols, and flushes transmit; it returns
///    whether anything happened.
///
/// # Behaviour
///
/// - Every datagram passes the packet hooks `H` (`lamina_ipv4::hook`;
///   [`NoHooks`] by default, which compiles to nothing): PreRouting on
///   receipt (before reassembly), Input before local delivery, Forward
///   and PostRouting when forwarded, Output and PostRouting when
///   originated (before fragmentation). A datagram a hook drops is gone
///   without an ICMP error; a local sender sees [`Error::Filtered`].
/// - Frames for another MAC are dropped; ARP goes to the neighbor cache,
///   which answers requests and resolves next hops (RFC 826, RFC 1122
///   §2.3.2).
/// - IPv4 datagrams are checked (header checksum unless the device
///   verified it); those for one of our addresses (any device's: the
///   weak host model of RFC 1122 §3.3.4.2) or a broadcast are delivered:
///   raw sockets get a copy, ICMP Echo Requests are answered (RFC 1122
///   §3.2.2.6), Echo Replies go to the ping socket with their
///   identifier, ICMP errors go to the socket whose datagram they quote
///   (RFC 1122 §4.1.3.3), UDP to the socket bound to the port, and a
///   datagram for a closed port or an unknown protocol earns a
///   rate-limited ICMP error (RFC 1122 §3.2.2.1, §4.1.3.1).
/// - Others are forwarded when [`InterfaceConfig::forwarding`] is on
///   through `lamina_ipv4::forward` (RFC 1812 §5.2: TTL decremented with
///   an incremental checksum update, martians dropped, Time Exceeded at
///   TTL 1, Network Unreachable without a route, Redirect when the source
///   could reach the next hop directly, fragmentation to the next hop's
///   MTU or Fragmentation Needed with it when DF is set).
/// - A next hop whose ARP resolution fails earns ICMP Host Unreachable
///   (RFC 1122 §3.2.2.1); when the datagram was our own, the local socket
///   gets the error directly, as [`Error::Icmp`]`(`[`IcmpErrorKind::HostUnreachable`]`)`.
/// - Fragments for us are reassembled (`lamina_ipv4::reassembly`:
///   bounded, overlapping fragments discard their datagram, Time Exceeded
///   when the first fragment timed out, RFC 1122 §3.3.2); datagrams over
///   the route MTU are fragmented (RFC 791 §2.3), or refused with
///   [`Error::TooLong`] when Don't Fragment is set. IP identifications
///   come from `lamina_ipv4::ident` (RFC 7739); datagrams we send with
///   Don't Fragment set (every TCP segment) carry 0, as RFC 6864 §4.1
///   allows for atomic datagrams and FreeBSD does.
#[derive(Debug)]
pub struct Interface<H: PacketHook = NoHooks> {
    hooks: H,
    config: InterfaceConfig,
    ports: Vec<Port>,
    routes: RoutingTable,
    icmp: ErrorGenerator,
    rng: SeededRng,
    ids: IpIdGenerator,
    reasm: Reassembler,
    loopq: VecDeque<PacketBuf>,
    last_now: Instant,
    stats: InterfaceStats,
    udp_policy: ChecksumPolicy,
    udp_stats: UdpStats,
    route_cache: RouteCache,
    /// Next hops learned from ICMP Redirects.
    redirects: crate::redirect::Redirects,
    /// Every address of every device, flattened for the per-datagram
    /// "is it ours" test.
    local_addrs: Vec<Ipv4Addr>,
    /// Scratch space for datagrams the hooks inject (allocated on first
    /// use, only with hooks that inspect packets).
    inject_buf: Vec<u8>,
    /// Datagrams queued by the hooks for the user.
    queued: VecDeque<QueuedPacket>,
    /// The directed broadcast addresses of our subnets (prefixes up to
    /// /30), likewise.
    bcast_addrs: Vec<Ipv4Addr>,
    /// The last source and destination [`host_to_us`](Self::host_to_us)
    /// accepted: a flow's next datagrams are accepted on one comparison.
    /// Forgotten whenever the addresses change.
    host_ok: Option<(Ipv4Addr, Ipv4Addr)>,
    /// A UDP, echo or raw payload on its way from a socket through the
    /// queued path (kept for reuse).
    udp_scratch: Vec<u8>,
    /// The frame being received, as (address, length), when its device
    /// can give its buffer away: a large in-order TCP payload in it is then
    /// queued where it is instead of copied.
    rx_keepable: Option<(usize, usize)>,
    /// The connection (slot) and offset in the frame of a payload left in
    /// the frame being received, for the buffer to come.
    rx_kept: Option<(u32, usize)>,
    /// The UDP socket whose newest datagram was left in the frame being
    /// received, for the buffer to come.
    rx_kept_udp: Option<crate::SocketHandle>,
    /// The last UDP socket that kept a datagram in the current receive
    /// pass: the buffers it has read out since go back to the device at
    /// the end of the pass.
    udp_keeper: Option<crate::SocketHandle>,
    /// Buffers read out of TCP and UDP receive queues, for their device.
    spare_bufs: Vec<Vec<u8>>,
    /// A frame received as headers and a shared payload, put together
    /// for the general receive path (kept for reuse).
    rx_scratch: Vec<u8>,
    /// A listener's segments on their way out (kept for reuse).
    listener_out: Vec<(
        core::net::SocketAddrV4,
        core::net::SocketAddrV4,
        lamina_tcp::TcpRepr,
    )>,
    /// The devices (a bit per port, the first 64) that refused a transmit
    /// buffer in the current transmit pass: full, for now.
    tx_full: u64,
    /// Whether a device refused a buffer in the last transmit pass: the
    /// direct TCP pass then starts at a connection `tx_rotor` further
    /// along its list.
    tx_rotate: bool,
    /// Advances with each such pass.
    tx_rotor: u32,
}

/// A listener's segments taken per pass of the direct transmit.
const LISTENER_BATCH: usize = 64;

/// Payloads at least this long, in frames filling at least half of the
/// device's largest frame, are queued in their own buffer rather than
/// copied where the device can give buffers away (64 KiB frames; a
/// 1500-byte frame is copied: too small to be worth its buffer).
const KEEP_MIN: usize = 8192;
/// Spare buffers held for the devices, at most.
const SPARE_BUFS: usize = 64;

impl Interface<NoHooks> {
    /// An interface with no device yet and no packet hooks. `rng` seeds
    /// the neighbor caches, the ICMP rate limiter and the IP
    /// identification.
    pub fn new(config: InterfaceConfig, rng: &mut impl Rng) -> Interface<NoHooks> {
        Interface::with_hooks(config, NoHooks, rng)
    }
}

impl<H: PacketHook> Interface<H> {
    /// An interface whose datagrams pass through `hooks` at the five
    /// points of `lamina_ipv4::hook` (a packet filter, NAT).
    pub fn with_hooks(config: InterfaceConfig, hooks: H, rng: &mut impl Rng) -> Interface<H> {
        let mut own = SeededRng::new(rng.next_u64());
        Interface {
            hooks,
            config,
            ports: Vec::new(),
            routes: RoutingTable::new(config.max_routes),
            icmp: ErrorGenerator::new(config.icmp_rate, &mut own),
            ids: IpIdGenerator::new(&mut own),
            reasm: Reassembler::new(config.reassembly),
            rng: own,
            loopq: VecDeque::new(),
            last_now: Instant::ZERO,
            stats: InterfaceStats::default(),
            udp_policy: config.udp_checksum,
            udp_stats: UdpStats::default(),
            route_cache: RouteCache::new(),
            redirects: Default::default(),
            local_addrs: Vec::new(),
            inject_buf: Vec::new(),
            queued: VecDeque::new(),
            bcast_addrs: Vec::new(),
            host_ok: None,
            udp_scratch: Vec::new(),
            rx_keepable: None,
            rx_kept: None,
            rx_kept_udp: None,
            udp_keeper: None,
            rx_scratch: Vec::new(),
            spare_bufs: Vec::new(),
            listener_out: Vec::new(),
            tx_full: 0,
            tx_rotate: false,
            tx_rotor: 0,
        }
    }

    /// The packet hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The packet hooks, to reconfigure them.
    pub fn hooks_mut(&mut self) -> &mut H {
        &mut self.hooks
    }

    /// Runs the hook at `PreRouting` for a datagram received through
    /// `port` (`None`: one of ours, looped back), telling it whether the
    /// device verified its transport checksum; whether it goes on.
    fn hook_received(
        &mut self,
        packet: &mut [u8],
        port: Option<usize>,
        l4_verified: ChecksumSet,
        now: Instant,
    ) -> bool {
        if H::ACCEPTS_ALL {
            return true;
        }
        let Some(input) = port else {
            return self.hook(HookPoint::PreRouting, packet, None, None, now);
        };
        let proto = match packet.get(9) {
            Some(6) => ChecksumProto::Tcp,
            Some(17) => ChecksumProto::Udp,
            Some(1) => ChecksumProto::Icmpv4,
            _ => ChecksumProto::Ipv4,
        };
        let verified = proto != ChecksumProto::Ipv4 && l4_verified.contains(proto);
        let verdict = self
            .hooks
            .hook_received(packet, IfaceId(input as u16), verified, now);
        self.verdict(verdict, HookPoint::PreRouting, packet, port, None)
    }

    /// Runs the hook at `point`; whether the datagram goes on. `Drop`,
    /// `Stolen` and `Queue` all end its way here; `Queue` leaves a copy
    /// for [`take_queued`](Self::take_queued).
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<usize>,
        output: Option<usize>,
        now: Instant,
    ) -> bool {
        let id = |p: usize| IfaceId(p as u16);
        let verdict = self
            .hooks
            .hook(point, packet, input.map(id), output.map(id), now);
        self.verdict(verdict, point, packet, input, output)
    }

    /// What `verdict`, the hook's at `point` on `packet`, means: whether
    /// the datagram goes on.
    fn verdict(
        &mut self,
        verdict: Verdict,
        point: HookPoint,
        packet: &[u8],
        input: Option<usize>,
        output: Option<usize>,
    ) -> bool {
        let id = |p: usize| IfaceId(p as u16);
        match verdict {
            Verdict::Accept => true,
            Verdict::Stolen => false,
            Verdict::Queue(n) => {
                // NFQUEUE-like: a copy for the user, who reads it with
                // `take_queued` (and may reinject it through a device or
                // a raw socket); the original goes no further.
                if self.queued.len() < MAX_QUEUED {
                    self.queued.push_back(QueuedPacket {
                        queue: n,
                        point,
                        input: input.map(id),
                        output: output.map(id),
                        datagram: packet.to_vec(),
                    });
                    self.stats.hook_queued += 1;
                } else {
                    self.stats.hook_dropped += 1;
                }
                false
            }
            Verdict::Drop => {
                self.stats.hook_dropped += 1;
                false
            }
        }
    }

    /// The next datagram a packet hook queued ([`Verdict::Queue`]) for
    /// user-space inspection, oldest first. At most [`MAX_QUEUED`] wait;
    /// beyond that, queued datagrams are dropped (and counted in
    /// [`InterfaceStats::hook_dropped`]).
    pub fn take_queued(&mut self) -> Option<QueuedPacket> {
        self.queued.pop_front()
    }

    /// The configuration.
    pub fn config(&self) -> &InterfaceConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &InterfaceStats {
        &self.stats
    }

    /// The UDP counters (RFC 4113). A datagram left in its frame's buffer
    /// (see [`UdpSocket`](crate::UdpSocket)) is counted received when
    /// queued; if its checksum then fails as it is read, the socket counts
    /// it ([`UdpSocket::rx_checksum_errors`](crate::UdpSocket::rx_checksum_errors)).
    pub fn udp_stats(&self) -> &UdpStats {
        &self.udp_stats
    }

    /// The ICMP rate limiter (to inspect its bounded table).
    pub fn icmp_rate_limiter(&self) -> &lamina_icmp::RateLimiter {
        self.icmp.limiter()
    }

    /// The ICMP output counters (errors sent, suppressed, rate limited).
    pub fn icmp_stats(&self) -> &lamina_icmp::IcmpOutStats {
        self.icmp.stats()
    }

    /// Turns forwarding on or off.
    pub fn set_forwarding(&mut self, on: bool) {
        self.config.forwarding = on;
    }

    /// Registers the next device of the [`DeviceSet`] (its capabilities
    /// are read now) with hardware address `mac` (ignored on raw-IP
    /// devices) and returns its id.
    pub fn add_device<D: Device>(&mut self, device: &D, mac: MacAddr) -> Result<IfaceId, Error> {
        let caps = device.capabilities();
        if self.ports.len() >= self.config.max_devices {
            return Err(Error::InterfaceFull);
        }
        let id = IfaceId(self.ports.len() as u16);
        self.ports.push(Port {
            medium: caps.medium,
            mtu: caps.mtu,
            mac,
            addrs: Vec::new(),
            neighbor_cache: NeighborCache::new(mac, self.config.neighbor, &mut self.rng),
            neighbors_due: None,
            txq: VecDeque::new(),
            rx_csum: caps.checksum,
            tso_max: caps.tso.map_or(0, |t| t.max_len),
            rx: RxLimits {
                max: caps.max_rx_frame_len(),
                keep_udp: false,
            },
            shared_payloads: caps.shared_payloads,
            gso_burst: tcp::SOFT_GSO_SEGMENTS,
            macs: MacCache::new(),
        });
        self.route_cache.invalidate();
        Ok(id)
    }

    /// Devices registered.
    pub fn device_count(&self) -> usize {
        self.ports.len()
    }

    /// The hardware address of a device.
    pub fn hardware_addr(&self, iface: IfaceId) -> Option<MacAddr> {
        self.ports.get(usize::from(iface.0)).map(|p| p.mac)
    }

    /// Gives device `iface` a new hardware address (a replaced card, a
    /// failover to another port, a rotated address): frames leave with
    /// `mac` from now on, only frames addressed to `mac` (or broadcast)
    /// are taken as ours, and each of the device's addresses is announced
    /// again with gratuitous ARP (RFC 5227 §3), which neighbours merge at
    /// once (RFC 826), so that traffic keeps flowing. The device must
    /// receive frames for `mac` (a NIC filtering by address needs it
    /// programmed). Raw-IP devices send no hardware address: nothing
    /// changes there.
    pub fn set_hardware_addr(
        &mut self,
        iface: IfaceId,
        mac: MacAddr,
        now: Instant,
    ) -> Result<(), Error> {
        let port = self
            .ports
            .get_mut(usize::from(iface.0))
            .ok_or(Error::InvalidHandle)?;
        if port.mac == mac {
            return Ok(());
        }
        port.mac = mac;
        if port.medium == Medium::Ethernet {
            port.neighbors_due = None;
            let cache = &mut port.neighbor_cache;
            cache.set_hardware_addr(mac);
            for cidr in &port.addrs {
                // Ours, so announcing cannot fail.
                let _ = cache.announce(cidr.address(), now);
            }
        }
        Ok(())
    }

    /// Adds `cidr` (an address and its prefix) to device `iface`: the
    /// device answers ARP for it and announces it with gratuitous ARP
    /// (RFC 5227 §2.3), and the connected route for its subnet is added.
    pub fn add_address(
        &mut self,
        iface: IfaceId,
        cidr: Ipv4Cidr,
        now: Instant,
    ) -> Result<(), Error> {
        let max = self.config.max_addresses;
        let port = self
            .ports
            .get_mut(usize::from(iface.0))
            .ok_or(Error::InvalidHandle)?;
        if port.addrs.contains(&cidr) {
            return Ok(());
        }
        if port.addrs.len() >= max {
            return Err(Error::InterfaceFull);
        }
        if port.medium == Medium::Ethernet {
            port.neighbors_mut()
                .add_address(cidr.address(), cidr.prefix_len(), now)
                .map_err(|_| Error::InterfaceFull)?;
        }
        port.addrs.push(cidr);
        let _ = self
            .routes
            .replace(cidr.normalized(), Route::on_link(iface));
        self.address_changed();
        Ok(())
    }

    /// Removes an address and, if no other address of the device is in
    /// the same subnet, its connected route. Returns whether it was there.
    pub fn remove_address(&mut self, iface: IfaceId, addr: Ipv4Addr) -> bool {
        let Some(port) = self.ports.get_mut(usize::from(iface.0)) else {
            return false;
        };
        let Some(pos) = port.addrs.iter().position(|c| c.address() == addr) else {
            return false;
        };
        let cidr = port.addrs.remove(pos);
        port.neighbors_mut().remove_address(addr);
        let net = cidr.normalized();
        if !port.addrs.iter().any(|c| c.normalized() == net) {
            self.routes.remove(net, 0);
        }
        self.address_changed();
        true
    }

    /// The addresses of device `iface`.
    pub fn addresses(&self, iface: IfaceId) -> &[Ipv4Cidr] {
        self.ports
            .get(usize::from(iface.0))
            .map(|p| p.addrs.as_slice())
            .unwrap_or(&[])
    }

    /// Whether `addr` is one of our addresses, on any device.
    #[inline]
    pub fn has_address(&self, addr: Ipv4Addr) -> bool {
        self.local_addrs.contains(&addr)
    }

    /// Rebuilds what depends on the addresses.
    fn address_changed(&mut self) {
        self.route_cache.invalidate();
        self.host_ok = None;
        self.local_addrs = self
            .ports
            .iter()
            .flat_map(|p| p.addrs.iter().map(|c| c.address()))
            .collect();
        self.bcast_addrs = self
            .ports
            .iter()
            .flat_map(|p| p.addrs.iter())
            .filter(|c| c.prefix_len() < 31)
            .filter_map(|c| c.broadcast())
            .collect();
    }

    /// The routing table.
    pub fn routes(&self) -> &RoutingTable {
        &self.routes
    }

    /// The routing table, to add static routes.
    pub fn routes_mut(&mut self) -> &mut RoutingTable {
        self.route_cache.invalidate();
        &mut self.routes
    }

    /// Sends everything without a more specific route through `gateway`
    /// on device `iface`.
    pub fn set_default_gateway(&mut self, gateway: Ipv4Addr, iface: IfaceId) -> Result<(), Error> {
        self.route_cache.invalidate();
        self.routes
            .set_default_route(Route::via(gateway, iface))
            .map(|_| ())
            .map_err(|_| Error::InterfaceFull)
    }

    /// The neighbor cache of device `iface` (to inspect, or add static
    /// entries).
    pub fn neighbors_mut(&mut self, iface: IfaceId) -> Option<&mut NeighborCache<PacketBuf>> {
        self.ports
            .get_mut(usize::from(iface.0))
            .map(|p| p.neighbors_mut())
    }

    /// The neighbor cache of device `iface`.
    pub fn neighbors(&self, iface: IfaceId) -> Option<&NeighborCache<PacketBuf>> {
        self.ports.get(usize::from(iface.0)).map(|p| p.neighbors())
    }

    /// Frames waiting in device `iface`'s transmit queue.
    pub fn tx_queue_len(&self, iface: IfaceId) -> usize {
        self.ports
            .get(usize::from(iface.0))
            .map_or(0, |p| p.txq.len())
    }

    /// Runs the stack once at `now`: receives up to the budget of frames
    /// from each device of `devices` round-robin (going round again while
    /// a device used its whole budget, a few rounds at most), runs the
    /// timers and the protocols, sends what the sockets queued, and hands
    /// queued frames to the devices. Returns whether anything was
    /// received, sent or delivered.
    pub fn poll<S: DeviceSet>(
        &mut self,
        now: Instant,
        mut devices: S,
        sockets: &mut SocketSet,
    ) -> bool {
        self.last_now = self.last_now.max(now);
        let n = devices.len().min(self.ports.len());
        let mut progress = false;
        for _round in 0..8 {
            let mut again = false;
            let mut work = false;
            if !self.loopq.is_empty() {
                work |= self.drain_loopback(now, sockets);
            }
            for i in 0..n {
                let mut v = RxVisitor {
                    iface: &mut *self,
                    sockets: &mut *sockets,
                    port: i,
                    now,
                };
                let handled = devices.visit(i, &mut v).unwrap_or(0);
                work |= handled > 0;
                again |= handled >= self.config.budget;
            }
            if !self.quiet(now, sockets) {
                work |= self.poll_after_rx(now, &mut devices, n, sockets);
            }
            progress |= work;
            if !again && self.loopq.is_empty() {
                break;
            }
        }
        progress
    }

    /// Whether the part of a round after receiving has nothing to do at
    /// `now`: no socket with something to send or a timer due, nothing
    /// queued for a device or waiting for ARP, no neighbour or reassembly
    /// timer due, no packet hook to drain. (Checked inline, so that an
    /// idle round does not enter [`poll_after_rx`](Self::poll_after_rx).)
    #[inline(always)]
    fn quiet(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        hooks_are_noop::<H>()
            && sockets.quiet(now)
            && self.reasm.poll_at().is_none_or(|t| t > now)
            && self.redirects.next_expiry().is_none_or(|t| t > now)
            && self.ports.iter_mut().all(|p| {
                p.txq.is_empty()
                    && p.neighbor_cache.pending_transmits() == 0
                    && !p.neighbors_due(now)
            })
    }

    /// Receives the datagrams looped back to ourselves.
    #[inline(never)]
    fn drain_loopback(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        let mut work = false;
        while let Some(mut pkt) = self.loopq.pop_front() {
            work = true;
            self.ip_input(
                None,
                pkt.as_mut_slice(),
                false,
                true,
                ChecksumSet::ALL,
                sockets,
                now,
            );
        }
        work
    }

    /// The part of a [`poll`](Self::poll) round after receiving: timers,
    /// then transmitting. Out of line: the receive loop around it stays
    /// small.
    #[inline(never)]
    fn poll_after_rx<S: DeviceSet>(
        &mut self,
        now: Instant,
        devices: &mut S,
        n: usize,
        sockets: &mut SocketSet,
    ) -> bool {
        let mut work = false;
        self.tx_rotate = self.tx_full != 0;
        self.tx_full = 0;
        if self.reasm.poll_at().is_some_and(|t| t <= now) {
            self.service_reassembly(now, sockets);
        }
        if self.redirects.next_expiry().is_some_and(|t| t <= now) && self.redirects.expire(now) {
            self.route_cache.invalidate();
        }
        work |= self.drain_injected(now, sockets);
        work |= self.service_neighbors(now, sockets);
        // Transmit: ARP, queued frames, then socket data written
        // straight into the devices' buffers where the path is simple.
        sockets.tcp_collect(now);
        self.tcp_open_pending(now, sockets);
        // (TCP work counts too: a timer's segments, retransmissions and
        // probes, take the direct way like any other.)
        let sockets_idle = !sockets.tx_hint() && sockets.tcp_work().is_empty();
        for i in 0..n {
            if sockets_idle
                && self
                    .ports
                    .get(i)
                    .is_some_and(|p| p.txq.is_empty() && p.neighbors().pending_transmits() == 0)
            {
                continue;
            }
            let mut v = TxVisitor {
                iface: &mut *self,
                sockets: &mut *sockets,
                port: i,
                now,
            };
            work |= devices.visit(i, &mut v).unwrap_or(0) > 0;
        }
        // What is left (unresolved next hops, fragmentation, loopback,
        // other devices' routes) goes the queued way, and TCP.
        let tcp = self.tcp_dispatch(now, sockets);
        if self.dispatch_sockets(now, sockets) || tcp {
            work = true;
            for i in 0..n {
                let mut v = TxVisitor {
                    iface: &mut *self,
                    sockets: &mut *sockets,
                    port: i,
                    now,
                };
                devices.visit(i, &mut v);
            }
        }
        work
    }

    /// When [`poll`](Self::poll) should next run: the earliest timer of
    /// the neighbor caches and of the devices, or the last `now` if
    /// sockets or the loopback queue have something to send; `None` when
    /// nothing waits.
    pub fn poll_at<S: DeviceSet>(&self, mut devices: S, sockets: &SocketSet) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut min = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        for p in &self.ports {
            min(p.neighbors().poll_at());
        }
        min(self.reasm.poll_at());
        min(self.redirects.next_expiry());
        for i in 0..devices.len() {
            min(devices.visit(i, &mut PollAtVisitor).flatten());
        }
        if !self.loopq.is_empty() || sockets.has_pending_tx() {
            min(Some(self.last_now));
        }
        min(sockets.tcp_poll_at().map(|t| t.max(self.last_now)));
        at
    }

    /// The capabilities of every device in `devices`, in order (a check
    /// that the set matches what was registered).
    pub fn device_capabilities<S: DeviceSet>(
        &self,
        mut devices: S,
    ) -> Vec<lamina_netdev::Capabilities> {
        (0..devices.len())
            .filter_map(|i| devices.visit(i, &mut CapsVisitor))
            .collect()
    }

    fn next_ip_id(&mut self, repr: &Ipv4Repr) -> u16 {
        self.ip_id(repr.src, repr.dst, repr.protocol, repr.dont_fragment)
    }

    /// The Identification of a datagram we originate: 0 for an atomic
    /// one (Don't Fragment set; we never fragment those, so nobody
    /// reassembles it and RFC 6864 §4.1 lets its ID be any value — as
    /// FreeBSD sends them), a value of the [`IpIdGenerator`] otherwise.
    /// Every TCP segment is atomic: it saves the generator's work on
    /// each segment.
    #[inline(always)]
    fn ip_id(&mut self, src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, df: bool) -> u16 {
        if df {
            0
        } else {
            self.ids.next_id(src, dst, protocol, &mut self.rng)
        }
    }

    /// The next hop an ICMP Redirect made this host use for `dst`, while
    /// it lasts (see [`InterfaceConfig::accept_redirects`]).
    pub fn redirected_next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.redirects.get(dst).map(|(_, gateway)| gateway)
    }

    /// The reassembler (to inspect its bounded state).
    pub fn reassembler(&self) -> &Reassembler {
        &self.reasm
    }

    /// The routing decision for `dst` (device, next hop, route MTU),
    /// from the destination cache when it holds.
    #[inline(always)]
    fn route_to(&mut self, dst: Ipv4Addr) -> Option<RouteHit> {
        if let Some(hit) = self.route_cache.get(dst) {
            return Some(*hit);
        }
        self.route_miss(dst)
    }

    /// Whether datagrams to `dst` leave by a device that refused a
    /// transmit buffer in this pass.
    #[cold]
    fn way_full(&mut self, dst: Ipv4Addr) -> bool {
        self.route_to(dst)
            .is_some_and(|m| self.tx_full & port_bit(m.port) != 0)
    }

    /// [`route_to`](Self::route_to) past the cache: the table's answer,
    /// cached.
    #[inline(never)]
    fn route_miss(&mut self, dst: Ipv4Addr) -> Option<RouteHit> {
        let m = self.routes.lookup(dst)?;
        let (port, next_hop) = self
            .redirects
            .get(dst)
            .unwrap_or((usize::from(m.route.interface.0), m.next_hop(dst)));
        let hit = RouteHit {
            port,
            next_hop,
            mtu: m.route.mtu,
        };
        self.route_cache.put(dst, hit);
        Some(hit)
    }

    /// The hardware address of the resolved next hop `ip` on `port`, from
    /// the destination cache when it holds; `None` when unresolved.
    #[inline(always)]
    fn neighbor_mac(&mut self, port: usize, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        let p = self.ports.get_mut(port)?;
        let epoch = p.neighbors().epoch();
        if let Some(mac) = p.macs.get(ip, epoch, now) {
            return Some(mac);
        }
        self.neighbor_miss(port, ip, now)
    }

    /// [`neighbor_mac`](Self::neighbor_mac) past the cache: the neighbor
    /// cache's answer, cached while it holds.
    #[inline(never)]
    fn neighbor_miss(&mut self, port: usize, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        let p = self.ports.get_mut(port)?;
        let (mac, until) = p.neighbors_mut().lookup_cacheable(ip, now)?;
        let epoch = p.neighbors().epoch();
        p.macs.put(ip, epoch, mac, until, now);
        Some(mac)
    }

    fn port_of_addr(&self, addr: Ipv4Addr) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.addrs.iter().any(|c| c.address() == addr))
    }

    /// Whether `src` names no host (RFC 1122 §3.2.1.3: broadcast,
    /// multicast, one of our subnets' broadcast addresses): a datagram
    /// from it is dropped.
    #[inline]
    fn names_no_host(&self, src: Ipv4Addr) -> bool {
        src.is_broadcast() || src.is_multicast() || self.is_directed_broadcast(src)
    }

    #[inline]
    fn is_directed_broadcast(&self, addr: Ipv4Addr) -> bool {
        self.bcast_addrs.contains(&addr)
    }

    /// Whether a datagram from `src` to `dst` is one host's to one of our
    /// unicast addresses: `src` names a host (not a broadcast, multicast
    /// or directed broadcast address) and `dst` is ours and no broadcast.
    /// What the fast receive paths require.
    #[inline(always)]
    fn host_to_us(&mut self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.host_ok == Some((src, dst)) {
            return true;
        }
        let ok = !(src.is_broadcast()
            || src.is_multicast()
            || dst.is_broadcast()
            || !self.has_address(dst)
            || self.bcast_addrs.iter().any(|&b| b == src || b == dst));
        if ok {
            self.host_ok = Some((src, dst));
        }
        ok
    }

    /// The fast paths of received frames: one look at the IPv4 protocol
    /// byte and (for ICMP) the message type picks the one that may apply
    /// ([`fast_udp`](Self::fast_udp),
    /// [`fast_echo_reply`](Self::fast_echo_reply),
    /// [`fast_echo`](Self::fast_echo), [`fast_tcp`](Self::fast_tcp),
    /// each of which checks the rest); every other frame goes on to the
    /// general path after this one look instead of being tried by each
    /// in turn. (Each fast path is a function of its own, never inlined:
    /// the receive loop around this stays small.) Returns whether the
    /// frame was handled, and whether a payload was left in it (only
    /// where `can_keep`: the device can give the frame's buffer away).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fast_frame<T: TxToken>(
        &mut self,
        port: usize,
        frame: &mut [u8],
        meta: RxMeta,
        reply: T,
        sockets: &mut SocketSet,
        now: Instant,
        can_keep: bool,
    ) -> Fast {
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        // (Each fast path checks the EtherType and the IHL itself.)
        let done = match frame.get(ETH + 9) {
            // (A large TCP segment may be kept in its buffer: the
            // general path does that.)
            Some(&6) if frame.len() < KEEP_MIN => self.fast_tcp(port, frame, meta, sockets, now),
            Some(&17) => return self.fast_udp(port, frame, meta, sockets, can_keep),
            Some(&1) => match frame.get(ETH + 20) {
                Some(&t) if t == IcmpType::ECHO_REPLY.0 => {
                    self.fast_echo_reply(port, frame, meta, sockets)
                }
                Some(&t) if t == IcmpType::ECHO_REQUEST.0 => {
                    self.fast_echo(port, frame, meta, reply, sockets, now)
                }
                _ => false,
            },
            _ => false,
        };
        if done { Fast::Done } else { Fast::Declined }
    }

    /// The fast path for a ping to one of our unicast addresses on an
    /// Ethernet device (RFC 792, RFC 1122 §3.2.2.6): the ICMP message
    /// becomes its reply where it lies (checksum updated incrementally),
    /// and the reply goes out on the token the device lent with the
    /// frame: headers written from their values, the message copied
    /// behind them. Returns `false`, the frame untouched,
    /// when the general path must handle it (options, fragments,
    /// broadcasts, hooks, an unknown way back, a rate limit...).
    #[inline(never)]
    fn fast_echo<T: TxToken>(
        &mut self,
        port: usize,
        frame: &mut [u8],
        meta: RxMeta,
        reply: T,
        sockets: &SocketSet,
        now: Instant,
    ) -> bool {
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        // A cheap look first: IPv4 (EtherType 0x0800), IHL 5, ICMP (1),
        // type 8. Everything else goes the general way at once.
        if frame.get(12..15) != Some(&[0x08, 0x00, 0x45][..])
            || frame.get(ETH + 9) != Some(&1)
            || frame.get(ETH + 20) != Some(&IcmpType::ECHO_REQUEST.0)
        {
            return false;
        }
        // Raw ICMP sockets want a copy: the general path gives it.
        if !hooks_are_noop::<H>() || sockets.has_raw(IpProtocol::ICMP) {
            return false;
        }
        let Some(p) = self.ports.get(port) else {
            return false;
        };
        if p.medium != Medium::Ethernet || !p.txq.is_empty() {
            return false;
        }
        let our_mac = p.mac;
        let ip_verified = meta
            .checksum_verified
            .intersection(p.rx_csum.rx)
            .contains(ChecksumProto::Ipv4);
        let (src, dst, tos, total) = {
            // The EtherType checked above rules out VLAN tags.
            if frame.get(0..6) != Some(our_mac.as_bytes()) {
                return false;
            }
            let Some(ipb) = frame.get(ETH..) else {
                return false;
            };
            let parsed = parse_ipv4(ipb, ip_verified);
            let Ok(ip) = parsed else { return false };
            if ip.protocol() != IpProtocol::ICMP
                || ip.header_len() != lamina_ipv4::IPV4_MIN_HEADER_LEN
                || ip.is_fragment()
                || ip.payload().first() != Some(&IcmpType::ECHO_REQUEST.0)
            {
                return false;
            }
            let (src, dst) = (ip.src(), ip.dst());
            if src.is_broadcast()
                || src.is_multicast()
                || src.is_unspecified()
                || !self.has_address(dst)
                || self.is_directed_broadcast(src)
            {
                return false;
            }
            // The ICMP checksum covers the data: verified once, here (an
            // Echo Request has at least its 8-byte header, as
            // `IcmpPacket::parse` requires).
            let message = ip.payload();
            if message.len() < 8 || lamina_netbuf::checksum::checksum(message) != 0 {
                return false;
            }
            (src, dst, ip.dscp() << 2, ip.total_len())
        };
        // The way back must be this device, with a known neighbour.
        if !self.config.echo.should_answer(dst, false) {
            return false;
        }
        let Some(hop) = self.direct_hop(port, usize::MAX, src, now) else {
            return false;
        };
        if !self.icmp.reply_allowed(IcmpType::ECHO_REPLY, src, now) {
            return true;
        }
        // The reply (RFC 1122 §3.2.2.6): from the address pinged, the
        // DSCP kept and the ECN field cleared, no fragmentation flags; the
        // ICMP message turned into the reply where it lies, then the
        // headers written from these values straight into the transmit
        // buffer and the message copied behind them.
        let head = EthIpv4Head {
            src_mac: our_mac,
            dst_mac: hop.mac,
            src: dst,
            dst: src,
            tos,
            ttl: self.config.ttl,
            protocol: IpProtocol::ICMP,
            dont_fragment: false,
            id: self.ids.next_id(dst, src, IpProtocol::ICMP, &mut self.rng),
            total,
        };
        let Some(message) = frame.get_mut(EthIpv4Head::LEN..ETH + usize::from(total)) else {
            return false;
        };
        if lamina_icmp::echo_reply_in_place(message).is_err() {
            return false;
        }
        let message = &*message;
        self.stats.rx_frames += 1;
        let sent = went_out(reply.consume(head.frame_len(), |buf| {
            if let Some(body) = head.write_padded(buf).get_mut(..message.len()) {
                body.copy_from_slice(message);
            }
        }));
        if sent {
            self.stats.echo_replies += 1;
            self.stats.tx_frames += 1;
        }
        true
    }

    /// The fast path for a unicast UDP datagram to one of our addresses
    /// on an Ethernet device: the headers are parsed once (Ethernet,
    /// IPv4 without options, UDP) and the payload goes straight to the
    /// socket. Returns `false`, with nothing done, when the general path
    /// must handle the frame (another protocol, options, fragments,
    /// broadcasts, hooks, raw UDP sockets, no socket on the port...);
    /// what it does otherwise is exactly what the general path would.
    #[inline(never)]
    fn fast_udp(
        &mut self,
        port: usize,
        frame: &[u8],
        meta: RxMeta,
        sockets: &mut SocketSet,
        can_keep: bool,
    ) -> Fast {
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        // IPv4 (EtherType 0x0800), IHL 5, UDP (17).
        if !matches!(
            frame.get(12..ETH + 10),
            Some([0x08, 0x00, 0x45, _, _, _, _, _, _, _, _, 17])
        ) {
            return Fast::Declined;
        }
        if !hooks_are_noop::<H>() || sockets.has_any_raw() {
            return Fast::Declined;
        }
        let Some(p) = self.ports.get(port) else {
            return Fast::Declined;
        };
        if p.medium != Medium::Ethernet {
            return Fast::Declined;
        }
        let rx_max = p.rx.max;
        let verified = meta.checksum_verified.intersection(p.rx_csum.rx);
        let Some(ipb) = frame.get(ETH..) else {
            return Fast::Declined;
        };
        // Unicast to our hardware address only: link broadcasts take the
        // general way. (The EtherType checked above rules out VLAN tags:
        // the header is the plain 14 bytes.)
        if frame.get(0..6) != Some(p.mac.as_bytes()) {
            return Fast::Declined;
        }
        let parsed = parse_ipv4(ipb, verified.contains(ChecksumProto::Ipv4));
        let Ok(ip) = parsed else {
            return Fast::Declined;
        };
        if ip.is_fragment() {
            return Fast::Declined;
        }
        let (src, dst) = (ip.src(), ip.dst());
        if !self.host_to_us(src, dst) {
            return Fast::Declined;
        }
        let udp_ok = verified.contains(ChecksumProto::Udp);
        // The checksum is verified while the payload is copied into the
        // socket's queue (one pass over it), where there is a socket and
        // room; otherwise here, as the general path would.
        let verify = match UdpPacket::parse(ip.payload())
            .and_then(|udp| Ok((udp, self.udp_policy.needs_payload_sum(&udp, udp_ok)?)))
        {
            Ok(v) => v,
            Err(e) => {
                self.stats.rx_frames += 1;
                self.udp_stats.record_rx_error(&e);
                return Fast::Done;
            }
        };
        let (udp, verify) = verify;
        // No socket: the general path answers Port Unreachable.
        let Some(h) = sockets.udp_lookup(dst, udp.dst_port(), src, udp.src_port()) else {
            return Fast::Declined;
        };
        self.stats.rx_frames += 1;
        let from = SocketAddrV4::new(src, udp.src_port());
        let len = udp.payload().len();
        if len >= UDP_KEEP_MIN
            && frame.len().saturating_mul(2) >= rx_max
            && rx_max >= KEEP_FRAME_MIN
        {
            if !can_keep {
                // The next pass keeps such datagrams.
                if let Some(p) = self.ports.get_mut(port) {
                    p.rx.keep_udp = true;
                }
            } else if self.fast_udp_keep(sockets, h, from, dst, &udp, verify, frame) {
                return Fast::Kept;
            }
        }
        if !verify || len < COPY_VERIFY_MIN {
            // (A short payload is summed and then copied: cheaper than
            // the copy that sums, below a few hundred bytes.)
            if verify {
                let sum = ones_complement_sum(udp.payload());
                if self.udp_policy.check_with_sum(&udp, src, dst, sum).is_err() {
                    self.udp_stats.record_checksum_error();
                    return Fast::Done;
                }
            }
            self.udp_deliver(sockets, h, from, dst, udp.payload());
            return Fast::Done;
        }
        let policy = self.udp_policy;
        let mut bad = false;
        let queued = match sockets.get_mut_quiet(h) {
            Some(Socket::Udp(u)) if u.has_room(len) => {
                Some(u.deliver_with(from, dst, len, |out| {
                    let sum = copy_with_sum(out, udp.payload());
                    bad = policy.check_with_sum(&udp, src, dst, sum).is_err();
                    !bad
                }))
            }
            _ => None,
        };
        match queued {
            Some(true) => self.udp_stats.record_delivered(),
            Some(false) if bad => self.udp_stats.record_checksum_error(),
            // No room: verified here, then refused (and counted) as the
            // general path does.
            _ => {
                let sum = ones_complement_sum(udp.payload());
                if policy.check_with_sum(&udp, src, dst, sum).is_err() {
                    self.udp_stats.record_checksum_error();
                } else {
                    self.udp_deliver(sockets, h, from, dst, udp.payload());
                }
            }
        }
        Fast::Done
    }

    /// The general receive path, for a frame its device may let us keep
    /// (`can_keep`; `largest`: the device's largest frame): whether a
    /// payload was left in it (a large in-order TCP segment).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn receive_keepable(
        &mut self,
        port: usize,
        frame: &mut [u8],
        meta: RxMeta,
        sockets: &mut SocketSet,
        now: Instant,
        can_keep: bool,
        largest: usize,
    ) -> bool {
        self.cancel_kept(sockets);
        // Only frames filling at least half of a device buffer (of the
        // device's largest frame): a kept buffer then holds at most twice
        // the payload the window counts.
        let keepable =
            can_keep && frame.len() >= KEEP_MIN && frame.len().saturating_mul(2) >= largest;
        if keepable {
            self.rx_keepable = Some((frame.as_ptr() as usize, frame.len()));
        }
        self.receive_frame(port, frame, meta, sockets, now);
        self.rx_keepable = None;
        keepable && self.rx_kept.is_some()
    }

    /// Queues the datagram `udp` in `frame` for socket `h`, left in the
    /// frame's buffer (which the device hands over next), its checksum
    /// verified as it is read if `verify`. `false`, with nothing done,
    /// when the socket has no room.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn fast_udp_keep(
        &mut self,
        sockets: &mut SocketSet,
        h: crate::SocketHandle,
        from: SocketAddrV4,
        dst: Ipv4Addr,
        udp: &UdpPacket<'_>,
        verify: bool,
        frame: &[u8],
    ) -> bool {
        // (A datagram whose buffer never came is withdrawn first.)
        self.cancel_kept(sockets);
        let payload = udp.payload();
        let start = (payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
        let check = verify.then(|| udp.header_sum(*from.ip(), dst));
        let Some(Socket::Udp(u)) = sockets.get_mut_quiet(h) else {
            return false;
        };
        if !u.deliver_kept(from, dst, start, payload.len(), check) {
            return false;
        }
        self.rx_kept_udp = Some(h);
        self.udp_keeper = Some(h);
        self.udp_stats.record_delivered();
        true
    }

    /// Gives the buffer of the frame just kept to the socket that left a
    /// payload in it.
    #[inline]
    fn attach_kept(&mut self, kept: lamina_netdev::KeptFrame, sockets: &mut SocketSet) {
        let Some(h) = self.rx_kept_udp.take() else {
            return self.tcp_attach_kept(kept, sockets);
        };
        let refused = match sockets.get_mut_quiet(h) {
            Some(Socket::Udp(u)) => u.attach_kept(kept.buf, kept.len).err(),
            _ => Some(kept.buf),
        };
        if let Some(buf) = refused
            && self.spare_bufs.len() < SPARE_BUFS
        {
            self.spare_bufs.push(buf);
        }
    }

    /// Withdraws a payload left in a frame whose buffer never came.
    #[inline]
    fn cancel_kept(&mut self, sockets: &mut SocketSet) {
        if let Some(h) = self.rx_kept_udp.take() {
            if let Some(Socket::Udp(u)) = sockets.get_mut_quiet(h) {
                u.cancel_kept();
            }
            return;
        }
        self.tcp_cancel_kept(sockets);
    }

    /// The fast path for an Echo Reply to one of our unicast addresses on
    /// an Ethernet device: parsed once, its data goes straight to the
    /// ping socket bound to its identifier. Returns `false`, with nothing
    /// done, when the general path must handle the frame; what it does
    /// otherwise is exactly what the general path would.
    #[inline(never)]
    fn fast_echo_reply(
        &mut self,
        port: usize,
        frame: &[u8],
        meta: RxMeta,
        sockets: &mut SocketSet,
    ) -> bool {
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        // IPv4 (EtherType 0x0800), IHL 5, ICMP (1), type 0.
        if frame.get(12..15) != Some(&[0x08, 0x00, 0x45][..])
            || frame.get(ETH + 9) != Some(&1)
            || frame.get(ETH + 20) != Some(&IcmpType::ECHO_REPLY.0)
        {
            return false;
        }
        if !hooks_are_noop::<H>() || sockets.has_any_raw() {
            return false;
        }
        let Some(p) = self.ports.get(port) else {
            return false;
        };
        if p.medium != Medium::Ethernet || frame.get(0..6) != Some(p.mac.as_bytes()) {
            return false;
        }
        let verified = meta.checksum_verified.intersection(p.rx_csum.rx);
        let Some(ipb) = frame.get(ETH..) else {
            return false;
        };
        let parsed = parse_ipv4(ipb, verified.contains(ChecksumProto::Ipv4));
        let Ok(ip) = parsed else { return false };
        let (src, dst) = (ip.src(), ip.dst());
        if ip.is_fragment() || !self.host_to_us(src, dst) {
            return false;
        }
        self.stats.rx_frames += 1;
        // The type is an echo reply (checked above): a verified one, or
        // malformed (short, bad checksum).
        let Some((id, data)) = lamina_icmp::verified_echo_reply(ip.payload()) else {
            self.stats.rx_malformed += 1;
            return true;
        };
        if let Some(i) = sockets.icmp_by_ident(id.ident) {
            i.deliver(src, id.seq_no, data);
        }
        true
    }

    /// The way to `dst` when it leaves by device `port` (of MTU
    /// `dev_mtu`) through a resolved neighbour: what the direct transmit
    /// paths need. `None` when it leaves elsewhere or waits for ARP.
    #[inline(always)]
    fn direct_hop(
        &mut self,
        port: usize,
        dev_mtu: usize,
        dst: Ipv4Addr,
        now: Instant,
    ) -> Option<DirectHop> {
        let (hit_port, next_hop, route_mtu) = match self.route_cache.get(dst) {
            Some(h) => (h.port, h.next_hop, h.mtu),
            None => {
                let m = self.route_miss(dst)?;
                (m.port, m.next_hop, m.mtu)
            }
        };
        if hit_port != port {
            return None;
        }
        let mac = self.neighbor_mac(port, next_hop, now)?;
        Some(DirectHop {
            next_hop,
            mtu: route_mtu.map_or(dev_mtu, |r| dev_mtu.min(usize::from(r))),
            mac,
        })
    }

    /// The source address and way out for a datagram to `dst` from
    /// `local` (unspecified: chosen by the route) leaving by device `port`
    /// the direct way, or `None` when it must go the queued way (a
    /// broadcast, loopback or local destination, another device, an
    /// unresolved next hop). `last` remembers the last answer: nothing in a
    /// transmit pass changes routes, addresses or neighbours, so a batch
    /// to one destination resolves it once.
    #[inline(always)]
    fn direct_way(
        &mut self,
        last: &mut Option<(Ipv4Addr, Ipv4Addr, Ipv4Addr, DirectHop)>,
        port: usize,
        dev_mtu: usize,
        dst: Ipv4Addr,
        local: Ipv4Addr,
        now: Instant,
    ) -> Option<(Ipv4Addr, DirectHop)> {
        if let Some((d, l, src, hop)) = *last
            && d == dst
            && l == local
        {
            return Some((src, hop));
        }
        if dst.is_broadcast() || dst.is_loopback() || self.has_address(dst) {
            return None;
        }
        let hop = self.direct_hop(port, dev_mtu, dst, now)?;
        let src = if local.is_unspecified() {
            self.source_for(port, hop.next_hop)?
        } else {
            local
        };
        *last = Some((dst, local, src, hop));
        Some((src, hop))
    }

    /// Writes the sockets' datagrams routed out of device `port` straight
    /// into its transmit buffers: one copy from the socket, the headers
    /// written in place around it. Only the simple case: an Ethernet
    /// device with nothing queued, a resolved next hop, no fragmentation,
    /// no hooks; everything else is left for the queued path. Returns the
    /// frames sent.
    fn egress_direct<D: Device>(
        &mut self,
        port: usize,
        device: &mut D,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> usize {
        if !hooks_are_noop::<H>() {
            return 0;
        }
        let Some(p) = self.ports.get(port) else {
            return 0;
        };
        // (Not `take_tx_hint`: the round's `quiet` check has pruned the
        // list unless TCP work cut it short, and the sockets without
        // datagrams are passed over below in any case.)
        if p.medium != Medium::Ethernet || !sockets.dgram_tx_hint() {
            return 0;
        }
        let (our_mac, mtu) = (p.mac, p.mtu);
        // A device that completes UDP checksums gets them partial.
        let udp_offload = p.rx_csum.tx.contains(ChecksumProto::Udp);
        let mut sent = 0;
        let mut next = 0;
        // The way out of the last destination seen in this pass: nothing
        // in the pass changes routes, addresses or neighbours, so a batch
        // of datagrams to one destination resolves it once.
        let mut last: Option<(Ipv4Addr, Ipv4Addr, Ipv4Addr, DirectHop)> = None;
        while let Some((handle, after)) = sockets.next_with_tx(next) {
            next = after;
            match sockets.get_mut_quiet(handle) {
                Some(Socket::Udp(u)) => {
                    let (n, full) = self.egress_udp(
                        port,
                        device,
                        u,
                        (our_mac, mtu, udp_offload),
                        &mut last,
                        now,
                    );
                    sent += n;
                    if full {
                        return sent;
                    }
                }
                Some(Socket::Icmp(c)) => {
                    let Some(ident) = c.ident else { continue };
                    let ttl = c.ttl;
                    while let Some((&(dst, seq_no), data)) = c.tx.front() {
                        let Some((src, hop)) =
                            self.direct_way(&mut last, port, mtu, dst, Ipv4Addr::UNSPECIFIED, now)
                        else {
                            break;
                        };
                        if 28 + data.len() > hop.mtu {
                            break;
                        }
                        let Some(token) = device.transmit(now) else {
                            self.tx_full |= port_bit(port);
                            return sent;
                        };
                        let f = DirectFrame {
                            src_mac: our_mac,
                            dst_mac: hop.mac,
                            src,
                            dst,
                            ttl,
                            dont_fragment: false,
                            id: self.ids.next_id(src, dst, IpProtocol::ICMP, &mut self.rng),
                            l4: DirectL4::EchoRequest { ident, seq_no },
                            partial: false,
                        };
                        let len = DirectFrame::len(data.len());
                        let r = went_out(token.consume(len, |b| f.write(b, data)));
                        c.tx.drop_front();
                        if r {
                            sent += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        sent
    }

    /// `egress_direct` for one UDP socket: its datagrams written into
    /// lent buffers first (the older), then its queue's, while their way
    /// out is device `port` (`(our MAC, MTU, whether it sums UDP)`); then
    /// buffers lent for its next large ones. Returns the frames sent, and
    /// whether the device ran out of room. (Out of line: the ping's and
    /// TCP's transmit pass stays as compact as before.)
    #[inline(never)]
    fn egress_udp<D: Device>(
        &mut self,
        port: usize,
        device: &mut D,
        u: &mut crate::UdpSocket,
        (our_mac, mtu, udp_offload): (MacAddr, usize, bool),
        last: &mut Option<(Ipv4Addr, Ipv4Addr, Ipv4Addr, DirectHop)>,
        now: Instant,
    ) -> (usize, bool) {
        let Some(l) = u.local else {
            return (0, false);
        };
        let (ttl, df) = (u.ttl, u.dont_fragment);
        let mut sent = 0;
        if let Some(lent) = u.lent.as_deref_mut()
            && !lent.queue.is_empty()
        {
            let (n, full) = self.egress_lent(
                port,
                device,
                lent,
                (l, ttl, df),
                (our_mac, mtu, udp_offload),
                last,
                now,
            );
            sent += n;
            if full {
                return (sent, true);
            }
            if !lent.queue.is_empty() {
                if sent > 0 {
                    lend_buffers(u, device);
                }
                return (sent, false);
            }
        }
        // Each datagram at the head, its way out found (or taken from the
        // last one's), written, dropped.
        while let Some((&d_dst, data)) = u.tx.front() {
            let dst = *d_dst.ip();
            let Some((src, hop)) = self.direct_way(last, port, mtu, dst, *l.ip(), now) else {
                break;
            };
            if 28 + data.len() > hop.mtu {
                break;
            }
            let Some(mut token) = device.transmit(now) else {
                self.tx_full |= port_bit(port);
                return (sent, true);
            };
            let r = if self.udp_policy.tx == lamina_udp::ChecksumMode::Compute {
                let f = self.udp_direct_frame(
                    &mut token,
                    (our_mac, hop.mac),
                    (src, dst),
                    (ttl, df),
                    (l.port(), d_dst.port()),
                    udp_offload,
                );
                let len = DirectFrame::len(data.len());
                went_out(token.consume(len, |b| f.write(b, data)))
            } else {
                let mut repr = Ipv4Repr::new(src, dst, IpProtocol::UDP);
                repr.ttl = ttl;
                repr.dont_fragment = df;
                repr.identification = self.ip_id(src, dst, IpProtocol::UDP, df);
                let udp = UdpRepr {
                    src_port: l.port(),
                    dst_port: d_dst.port(),
                };
                let eth = EthernetRepr::new(our_mac, hop.mac, EtherType::IPV4);
                let frame = data
                    .wrap_in(self.udp_policy.builder(&udp, src, dst))
                    .wrap_in(&repr)
                    .wrap_in(eth);
                match frame.serialized_len() {
                    Ok(len) => token.consume(len, |b| frame.serialize_exact(b)).is_ok(),
                    Err(_) => false,
                }
            };
            u.tx.drop_front();
            if r {
                self.udp_stats.record_sent();
                sent += 1;
            }
        }
        if sent > 0 {
            lend_buffers(u, device);
        }
        (sent, false)
    }

    /// The headers of a UDP datagram sent straight into a device's
    /// buffer: from `src` to `dst` (and the MACs, ours and the next
    /// hop's), with `(ttl, dont_fragment)`, between `(source port,
    /// destination port)`, its checksum left to the device where it sums
    /// UDP (`partial`, the token told so).
    #[inline(always)]
    fn udp_direct_frame<T: TxToken>(
        &mut self,
        token: &mut T,
        (src_mac, dst_mac): (MacAddr, MacAddr),
        (src, dst): (Ipv4Addr, Ipv4Addr),
        (ttl, dont_fragment): (u8, bool),
        (src_port, dst_port): (u16, u16),
        partial: bool,
    ) -> DirectFrame {
        if partial {
            let l3 = lamina_ethernet::HEADER_LEN as u16;
            token.set_meta(TxMeta::new().with_checksum_offload(
                ChecksumSet::of(ChecksumProto::Udp),
                l3,
                l3 + 20,
            ));
        }
        DirectFrame {
            src_mac,
            dst_mac,
            src,
            dst,
            ttl,
            dont_fragment,
            id: self.ip_id(src, dst, IpProtocol::UDP, dont_fragment),
            l4: DirectL4::Udp { src_port, dst_port },
            partial,
        }
    }

    /// Sends a UDP socket's datagrams written into lent buffers (from
    /// `local`, with `ttl` and `dont_fragment`), oldest first, while their
    /// way out is device `port` (as [`egress_udp`](Self::egress_udp)
    /// describes it): the headers written in front of each payload, the
    /// buffer handed over ([`TxToken::consume_owned`]). Stops at the first
    /// that must go the queued way (it and those behind it wait for
    /// [`dispatch_sockets`](Self::dispatch_sockets)). Returns the frames
    /// sent, and whether the device ran out of room. (Out of line: a call
    /// per pass.)
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn egress_lent<D: Device>(
        &mut self,
        port: usize,
        device: &mut D,
        lent: &mut crate::udp::LentTx,
        (local, ttl, df): (SocketAddrV4, u8, bool),
        (our_mac, mtu, udp_offload): (MacAddr, usize, bool),
        last: &mut Option<(Ipv4Addr, Ipv4Addr, Ipv4Addr, DirectHop)>,
        now: Instant,
    ) -> (usize, bool) {
        let mut sent = 0;
        if self.udp_policy.tx != lamina_udp::ChecksumMode::Compute {
            return (0, false);
        }
        while let Some(d) = lent.queue.front() {
            let dst = *d.dst.ip();
            let Some((src, hop)) = self.direct_way(last, port, mtu, dst, *local.ip(), now) else {
                break;
            };
            if 28 + d.len > hop.mtu {
                break;
            }
            let Some(mut token) = device.transmit(now) else {
                self.tx_full |= port_bit(port);
                return (sent, true);
            };
            let f = self.udp_direct_frame(
                &mut token,
                (our_mac, hop.mac),
                (src, dst),
                (ttl, df),
                (local.port(), d.dst.port()),
                udp_offload,
            );
            let Some(mut d) = lent.pop() else {
                break;
            };
            f.write_headers(&mut d.buf, d.len, d.sum);
            let went = match token.consume_owned(d.buf, DirectFrame::len(d.len)) {
                Ok(None) => {
                    self.stats.udp_payloads_lent += 1;
                    true
                }
                Ok(Some(buf)) => {
                    // Copied: the buffer stays the socket's.
                    lent.keep_spare(buf);
                    true
                }
                Err(_) => false,
            };
            if went {
                self.udp_stats.record_sent();
                sent += 1;
            }
        }
        (sent, false)
    }

    /// Handles a frame received as its headers and a payload lent by
    /// reference: a TCP segment for one of our connections takes the
    /// payload as it is ([`tcp_input_shared`](Self::tcp_input_shared));
    /// anything else is put together and received as any frame.
    fn receive_shared(
        &mut self,
        port: usize,
        head: &mut [u8],
        payload: bytes::Bytes,
        meta: RxMeta,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        let payload = match self.tcp_input_shared(port, head, payload, meta, sockets, now) {
            Ok(()) => return,
            Err(p) => p,
        };
        let mut whole = core::mem::take(&mut self.rx_scratch);
        whole.clear();
        whole.extend_from_slice(head);
        whole.extend_from_slice(&payload);
        drop(payload);
        self.receive_frame(port, &mut whole, meta, sockets, now);
        // Kept for the next (a frame at most: the device's largest).
        self.rx_scratch = whole;
    }

    /// Handles one received frame from port `port`. (Inlined into the two
    /// receive loops: the per-frame cost counts.)
    #[inline(always)]
    fn receive_frame(
        &mut self,
        port: usize,
        frame: &mut [u8],
        meta: RxMeta,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        self.stats.rx_frames += 1;
        let Some(p) = self.ports.get_mut(port) else {
            return;
        };
        let verified = meta.checksum_verified.intersection(p.rx_csum.rx);
        let csum_ok = verified.contains(ChecksumProto::Ipv4);
        // The transport checksums the device verified (UDP, TCP).
        let udp_ok = verified.without(ChecksumProto::Ipv4);
        if p.medium == Medium::Ip {
            self.ip_input(Some(port), frame, false, csum_ok, udp_ok, sockets, now);
            return;
        }
        let (dst, ethertype, header_len) = match EthernetFrame::parse(frame) {
            Ok(eth) => (eth.dst(), eth.ethertype(), eth.header_len()),
            Err(_) => {
                self.stats.rx_malformed += 1;
                return;
            }
        };
        let link_broadcast = dst.is_broadcast() || dst.is_multicast();
        if dst != p.mac && !link_broadcast {
            self.stats.rx_not_for_us += 1;
            return;
        }
        let Some(payload) = frame.get_mut(header_len..) else {
            return;
        };
        match ethertype {
            EtherType::ARP => match ArpPacket::parse(payload) {
                Ok(arp) => {
                    p.neighbors_mut().handle_packet(&arp.to_repr(), now);
                }
                Err(_) => self.stats.rx_malformed += 1,
            },
            EtherType::IPV4 => {
                self.ip_input(
                    Some(port),
                    payload,
                    link_broadcast,
                    csum_ok,
                    udp_ok,
                    sockets,
                    now,
                );
            }
            _ => self.stats.rx_not_for_us += 1,
        }
    }

    /// Handles one received IPv4 datagram (`port` is `None` for our own
    /// datagrams looped back).
    #[allow(clippy::too_many_arguments)]
    fn ip_input(
        &mut self,
        port: Option<usize>,
        bytes: &mut [u8],
        link_broadcast: bool,
        csum_verified: bool,
        l4_verified: ChecksumSet,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        let parsed = parse_ipv4(bytes, csum_verified || port.is_none());
        let Ok((total, arrived_for)) = parsed.map(|ip| (usize::from(ip.total_len()), ip.dst()))
        else {
            self.stats.rx_malformed += 1;
            return;
        };
        // The datagram without link padding, for the hooks and beyond.
        let Some(bytes) = bytes.get_mut(..total) else {
            return;
        };
        if !self.hook_received(bytes, port, l4_verified, now) {
            return;
        }
        let (dst, bcast, fragment) = {
            // Read again: a hook may have rewritten the destination.
            let Ok(ip) = Ipv4Packet::parse(bytes) else {
                self.stats.rx_malformed += 1;
                return;
            };
            let (src, dst) = (ip.src(), ip.dst());
            // RFC 1122 §3.2.1.3: a source that names no host is dropped.
            if self.names_no_host(src) {
                self.stats.rx_malformed += 1;
                return;
            }
            let bcast = dst.is_broadcast() || self.is_directed_broadcast(dst);
            (dst, bcast, ip.is_fragment())
        };
        if !bcast && !self.has_address(dst) {
            match port {
                Some(in_port) if self.config.forwarding => {
                    let translated = dst != arrived_for;
                    self.forward(in_port, bytes, link_broadcast, translated, now, sockets);
                }
                _ => self.stats.rx_not_for_us += 1,
            }
            return;
        }
        if fragment {
            let Ok(ip) = Ipv4Packet::parse(bytes) else {
                return;
            };
            if let Reassembly::Complete(mut whole) = self.reasm.push(&ip, now) {
                self.stats.reassembled += 1;
                self.deliver_local(
                    port,
                    whole.as_mut_slice(),
                    link_broadcast,
                    bcast,
                    ChecksumSet::EMPTY,
                    sockets,
                    now,
                );
            }
            return;
        }
        self.deliver_local(
            port,
            bytes,
            link_broadcast,
            bcast,
            l4_verified,
            sockets,
            now,
        );
    }

    /// Delivers a whole datagram addressed to us.
    #[allow(clippy::too_many_arguments)]
    fn deliver_local(
        &mut self,
        port: Option<usize>,
        bytes: &mut [u8],
        link_broadcast: bool,
        bcast: bool,
        l4_verified: ChecksumSet,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        if !self.hook(HookPoint::Input, bytes, port, None, now) {
            return;
        }
        let bytes = &*bytes;
        let Ok(ip) = Ipv4Packet::parse(bytes) else {
            return;
        };
        let (src, dst) = (ip.src(), ip.dst());
        let ctx = ErrorContext {
            link_broadcast,
            dst_is_broadcast: bcast,
            src_is_broadcast: false,
            loopback_interface: port.is_none(),
        };
        let in_port = port.or_else(|| self.port_of_addr(dst)).unwrap_or(0);
        let protocol = ip.protocol();
        let raw_taken = sockets.for_each_raw(protocol, |r| r.deliver(src, ip.as_bytes()));
        match protocol {
            IpProtocol::ICMP => self.icmp_input(in_port, &ip, bcast, sockets, now),
            IpProtocol::UDP => {
                let udp_ok = l4_verified.contains(ChecksumProto::Udp);
                self.udp_input(in_port, &ip, &ctx, udp_ok, sockets, now);
            }
            IpProtocol::TCP => {
                let tcp_ok = l4_verified.contains(ChecksumProto::Tcp);
                self.tcp_input(&ip, bcast || link_broadcast, tcp_ok, sockets, now);
            }
            _ if raw_taken => {}
            _ => self.send_error(
                in_port,
                IcmpRepr::PROTOCOL_UNREACHABLE,
                ip.as_bytes(),
                &ctx,
                now,
                sockets,
            ),
        }
    }

    fn icmp_input(
        &mut self,
        in_port: usize,
        ip: &Ipv4Packet<'_>,
        bcast: bool,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        let Ok(icmp) = IcmpPacket::parse_verified(ip.payload()) else {
            self.stats.rx_malformed += 1;
            return;
        };
        match icmp.message() {
            IcmpMessage::EchoRequest { .. } => {
                if !self.config.echo.should_answer(ip.dst(), bcast)
                    || !self.icmp.reply_allowed(IcmpType::ECHO_REPLY, ip.src(), now)
                {
                    return;
                }
                let Ok(reply) = EchoReply::new(&icmp) else {
                    return;
                };
                // RFC 1122 §3.2.2.6: the reply's source is the request's
                // destination when that was a unicast address of ours.
                let src = if bcast {
                    self.source_for(in_port, ip.src())
                } else {
                    Some(ip.dst())
                };
                let Some(src) = src else { return };
                let mut repr = Ipv4Repr::new(src, ip.src(), IpProtocol::ICMP);
                repr.ttl = self.config.ttl;
                if self.send_ip(repr, reply, now, sockets).is_ok() {
                    self.stats.echo_replies += 1;
                }
            }
            IcmpMessage::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                if let Some(i) = sockets.icmp_by_ident(ident) {
                    i.deliver(ip.src(), seq_no, data);
                }
            }
            IcmpMessage::Redirect { gateway, quote, .. } => {
                self.redirected(in_port, ip, gateway, quote.ipv4().ok(), bcast, now);
            }
            _ => {
                if let Some(err) = received_error(&icmp) {
                    let report = IcmpReport {
                        kind: err.kind,
                        hard: err.hard,
                        // Plausible as reported, or estimated for routers
                        // older than RFC 1191 (which report zero).
                        mtu: err.pmtu_estimate(),
                        quoted_seq: err
                            .quoted_transport
                            .get(4..8)
                            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    };
                    self.error_to_socket(&err.flow, report, sockets, now);
                }
            }
        }
    }

    /// An ICMP Redirect from `ip.src()`: `gateway` is a better next hop
    /// for the destination of `quoted`, a datagram of ours (RFC 1122
    /// §3.2.2.2; a network redirect is taken as a host redirect, as that
    /// section asks). Followed only by a host whose current first hop for
    /// that destination sent it, towards another router on the link it
    /// came by.
    fn redirected(
        &mut self,
        in_port: usize,
        ip: &Ipv4Packet<'_>,
        gateway: Ipv4Addr,
        quoted: Option<Ipv4Packet<'_>>,
        bcast: bool,
        now: Instant,
    ) {
        let from = ip.src();
        let learned = quoted.and_then(|q| {
            let dst = q.dst();
            if self.config.forwarding
                || !self.config.accept_redirects
                || bcast
                || !self.has_address(q.src())
            {
                return None;
            }
            // From the router we use for `dst`, on this link (not for a
            // destination we reach directly).
            let hit = self.route_to(dst)?;
            if hit.port != in_port || hit.next_hop != from || hit.next_hop == dst {
                return None;
            }
            // Towards another router on that link.
            let on_link = self
                .ports
                .get(in_port)
                .is_some_and(|p| p.addrs.iter().any(|c| c.contains(gateway)));
            let usable = on_link
                && gateway != from
                && !self.has_address(gateway)
                && !self.names_no_host(gateway)
                && !gateway.is_unspecified();
            usable.then_some(dst)
        });
        match learned {
            Some(dst) => {
                self.redirects.learn(dst, gateway, in_port, now);
                self.route_cache.invalidate();
                self.stats.redirects_accepted += 1;
            }
            None => self.stats.redirects_ignored += 1,
        }
    }

    fn udp_input(
        &mut self,
        in_port: usize,
        ip: &Ipv4Packet<'_>,
        ctx: &ErrorContext,
        device_verified: bool,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        let (src, dst) = (ip.src(), ip.dst());
        // RFC 1122 §4.1.3.4: a wrong checksum drops the datagram silently;
        // a zero one means none was computed.
        let udp = match self
            .udp_policy
            .parse(ip.payload(), src, dst, device_verified)
        {
            Ok(udp) => udp,
            Err(e) => {
                self.udp_stats.record_rx_error(&e);
                return;
            }
        };
        let from = SocketAddrV4::new(src, udp.src_port());
        if ctx.dst_is_broadcast {
            let targets = sockets.udp_lookup_all(dst, udp.dst_port(), src, udp.src_port());
            if targets.is_empty() {
                self.udp_stats.record_no_port(true);
            }
            for h in targets {
                self.udp_deliver(sockets, h, from, dst, udp.payload());
            }
            return;
        }
        match sockets.udp_lookup(dst, udp.dst_port(), src, udp.src_port()) {
            Some(h) => self.udp_deliver(sockets, h, from, dst, udp.payload()),
            None => {
                self.udp_stats.record_no_port(false);
                // RFC 1122 §4.1.3.1: port unreachable for a closed port.
                self.send_error(
                    in_port,
                    IcmpRepr::PORT_UNREACHABLE,
                    ip.as_bytes(),
                    ctx,
                    now,
                    sockets,
                );
            }
        }
    }

    fn udp_deliver(
        &mut self,
        sockets: &mut SocketSet,
        h: crate::SocketHandle,
        from: SocketAddrV4,
        dst: Ipv4Addr,
        payload: &[u8],
    ) {
        // Quietly: a delivery gives the socket nothing to send.
        let delivered = match sockets.get_mut_quiet(h) {
            Some(Socket::Udp(u)) => u.deliver(from, dst, payload),
            _ => false,
        };
        if delivered {
            self.udp_stats.record_delivered();
        } else {
            self.udp_stats.record_rcvbuf_error();
        }
    }

    /// Delivers an ICMP error (received, or decided locally) to the
    /// socket whose datagram it concerns.
    fn error_to_socket(
        &mut self,
        flow: &QuotedFlow,
        report: IcmpReport,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        let kind = report.kind;
        let err = Error::Icmp(kind);
        match (flow.protocol, flow.transport) {
            (IpProtocol::TCP, QuotedTransport::Ports { src_port, dst_port }) => {
                // The quoted segment is ours: its source is the local end.
                let local = SocketAddrV4::new(flow.src, src_port);
                let remote = SocketAddrV4::new(flow.dst, dst_port);
                if self.tcp_icmp_error(local, remote, report, sockets, now) {
                    self.stats.errors_to_sockets += 1;
                }
            }
            (IpProtocol::UDP, QuotedTransport::Ports { src_port, dst_port }) => {
                let peer = SocketAddrV4::new(flow.dst, dst_port);
                // The quoted datagram is ours: its source is the local end.
                let Some(h) = sockets.udp_lookup(flow.src, src_port, flow.dst, dst_port) else {
                    return;
                };
                if let Ok(u) = sockets.udp(h) {
                    let report = match u.remote {
                        Some(r) => r == peer,
                        None => u.recv_errors,
                    };
                    if report {
                        u.error = Some(err);
                        self.stats.errors_to_sockets += 1;
                    }
                }
            }
            (IpProtocol::ICMP, QuotedTransport::IcmpQuery { ident, .. }) => {
                if let Some(i) = sockets.icmp_by_ident(ident) {
                    i.error = Some(err);
                    self.stats.errors_to_sockets += 1;
                }
            }
            _ => {}
        }
    }

    /// The flow of a datagram we built (for local error delivery).
    fn flow_of(datagram: &[u8]) -> Option<QuotedFlow> {
        let ip = Ipv4Packet::parse(datagram).ok()?;
        let l4 = ip.payload();
        let transport = match ip.protocol() {
            IpProtocol::UDP | IpProtocol::TCP => match (l4.get(0..2), l4.get(2..4)) {
                (Some(a), Some(b)) => QuotedTransport::Ports {
                    src_port: u16::from_be_bytes([a[0], a[1]]),
                    dst_port: u16::from_be_bytes([b[0], b[1]]),
                },
                _ => QuotedTransport::Unknown,
            },
            IpProtocol::ICMP => match (l4.first(), l4.get(4..8)) {
                (Some(&8), Some(r)) => QuotedTransport::IcmpQuery {
                    ident: u16::from_be_bytes([r[0], r[1]]),
                    seq_no: u16::from_be_bytes([r[2], r[3]]),
                },
                _ => QuotedTransport::Unknown,
            },
            _ => QuotedTransport::Unknown,
        };
        Some(QuotedFlow {
            protocol: ip.protocol(),
            src: ip.src(),
            dst: ip.dst(),
            transport,
        })
    }

    /// Sends the ICMP error `repr` about `offending` (received on
    /// `in_port`), if the rules and the rate limit allow.
    fn send_error(
        &mut self,
        in_port: usize,
        repr: IcmpRepr,
        offending: &[u8],
        ctx: &ErrorContext,
        now: Instant,
        sockets: &mut SocketSet,
    ) {
        let Ok(header) = Ipv4Header::peek(offending) else {
            return;
        };
        let offending_dst = header.dst();
        let local = if self.has_address(offending_dst) {
            Some(offending_dst)
        } else {
            self.source_for(in_port, header.src())
        };
        let Some(local) = local else { return };
        let ip = error_ipv4_repr(header, local);
        let Ok(builder) = self.icmp.error(repr, offending, ctx, now) else {
            return;
        };
        let _ = self.send_ip(ip, builder, now, sockets);
    }

    /// An address of `port` to use as source towards `dst`: one in the
    /// same subnet if any, else the first.
    fn source_for(&self, port: usize, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let p = self.ports.get(port)?;
        p.addrs
            .iter()
            .find(|c| c.contains(dst))
            .or_else(|| p.addrs.first())
            .map(|c| c.address())
    }

    /// Routes, addresses and queues an IPv4 datagram we originate. An
    /// unspecified `repr.src` is chosen from the outgoing device. Returns
    /// the error a socket should see when the datagram cannot leave.
    fn send_ip<B: Serializer>(
        &mut self,
        repr: Ipv4Repr,
        body: B,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<(), Error> {
        self.send_ip_with(repr, body, ChecksumSet::EMPTY, now, sockets)
    }

    /// [`send_ip`](Self::send_ip) of a body whose `offload` checksums
    /// were left to the device (only with hooks that accept everything).
    fn send_ip_with<B: Serializer>(
        &mut self,
        mut repr: Ipv4Repr,
        body: B,
        offload: ChecksumSet,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<(), Error> {
        // Where it goes: ourselves (loop back) or a device and next hop.
        let route = self.output_route(&repr)?;
        if repr.src.is_unspecified() {
            repr.src = match route {
                None => repr.dst,
                Some((port, next_hop, _)) => {
                    self.source_for(port, next_hop).ok_or(Error::NoRoute)?
                }
            };
        }
        repr.identification = self.next_ip_id(&repr);
        // Room for any device's link header, should the hooks reroute it.
        let headroom = self
            .ports
            .iter()
            .map(|p| p.medium.header_len())
            .max()
            .unwrap_or(0);
        let mut pkt = body
            .wrap_in(&repr)
            .serialize_vec(headroom)
            .map_err(|_| Error::TooLong)?;
        let out = route.map(|(port, _, _)| port);
        if !self.hook(HookPoint::Output, pkt.as_mut_slice(), None, out, now) {
            return Err(Error::Filtered);
        }
        // Destination NAT at Output: route again to the new destination.
        let route = match Ipv4Header::peek(pkt.as_slice()) {
            Ok(h) if h.dst() != repr.dst => {
                let mut moved = repr;
                moved.dst = h.dst();
                self.output_route(&moved)?
            }
            _ => route,
        };
        let out = route.map(|(port, _, _)| port);
        if !self.hook(HookPoint::PostRouting, pkt.as_mut_slice(), None, out, now) {
            return Err(Error::Filtered);
        }
        let Some((port, next_hop, route_mtu)) = route else {
            if !offload.is_empty() {
                complete_checksums(pkt.as_mut_slice());
            }
            self.loopq.push_back(pkt);
            return Ok(());
        };
        let Some(p) = self.ports.get(port) else {
            return Err(Error::NoRoute);
        };
        let mtu = route_mtu.map_or(p.mtu, |m| p.mtu.min(usize::from(m)));
        let headroom = p.medium.header_len();
        self.emit_datagram(port, next_hop, mtu, headroom, pkt, offload, now, sockets)
    }

    /// The transport checksum offload for `proto` towards `dst`: when the
    /// outgoing device computes that checksum and no hook will look at
    /// (and rewrite) the datagram. (A datagram that ends up looped back or
    /// fragmented gets its checksum completed in software.)
    fn l4_offload(&mut self, dst: Ipv4Addr, proto: ChecksumProto) -> ChecksumSet {
        if !hooks_are_noop::<H>() {
            return ChecksumSet::EMPTY;
        }
        let Some(hit) = self.route_to(dst) else {
            return ChecksumSet::EMPTY;
        };
        match self.ports.get(hit.port) {
            Some(p) if p.rx_csum.tx.contains(proto) => ChecksumSet::of(proto),
            _ => ChecksumSet::EMPTY,
        }
    }

    /// The way out for a datagram of ours: `None` for ourselves (loop
    /// back), else the device, the next hop and the route's MTU.
    #[allow(clippy::type_complexity)]
    fn output_route(
        &mut self,
        repr: &Ipv4Repr,
    ) -> Result<Option<(usize, Ipv4Addr, Option<u16>)>, Error> {
        let dst = repr.dst;
        if self.has_address(dst) || dst.is_loopback() {
            return Ok(None);
        }
        if dst.is_broadcast() {
            let port = if repr.src.is_unspecified() {
                0
            } else {
                self.port_of_addr(repr.src).unwrap_or(0)
            };
            return Ok(Some((port, dst, None)));
        }
        match self.route_to(dst) {
            Some(m) => Ok(Some((m.port, m.next_hop, m.mtu))),
            None => {
                self.stats.no_route += 1;
                Err(Error::NoRoute)
            }
        }
    }

    /// Queues a complete datagram of ours (hooks already run) for
    /// `next_hop` on `port`, fragmenting it to `mtu` if needed.
    #[allow(clippy::too_many_arguments)]
    fn emit_datagram(
        &mut self,
        port: usize,
        next_hop: Ipv4Addr,
        mtu: usize,
        headroom: usize,
        mut pkt: PacketBuf,
        offload: ChecksumSet,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<(), Error> {
        if pkt.len() <= mtu {
            return self.resolve_and_queue(port, next_hop, pkt, offload, now, sockets);
        }
        // Fragments cannot have their transport checksum offloaded.
        if !offload.is_empty() {
            complete_checksums(pkt.as_mut_slice());
        }
        // RFC 791 §2.3: fragment to the route's MTU, unless DF (then the
        // sender learns EMSGSIZE, as Linux reports it).
        let mtu16 = u16::try_from(mtu).unwrap_or(u16::MAX);
        let frames: Vec<PacketBuf> = {
            let ip = Ipv4Packet::parse(pkt.as_slice()).map_err(|_| Error::TooLong)?;
            let fragments = Fragmenter::from_packet(&ip, mtu16).map_err(|_| {
                self.stats.tx_too_big += 1;
                Error::TooLong
            })?;
            fragments
                .map(|f| f.serialize_vec(headroom))
                .collect::<Result<_, _>>()
                .map_err(|_| Error::TooLong)?
        };
        self.stats.fragmented += 1;
        for f in frames {
            self.resolve_and_queue(port, next_hop, f, ChecksumSet::EMPTY, now, sockets)?;
        }
        Ok(())
    }

    /// Sends the datagrams the packet hooks generated themselves
    /// ([`PacketHook::next_injected`]: a filter's rejects), at most
    /// `budget` of them, as locally originated datagrams that do not pass
    /// the hooks again. Returns whether there were any.
    fn drain_injected(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        if hooks_are_noop::<H>() {
            return false;
        }
        let mut any = false;
        for _ in 0..self.config.budget {
            let mut buf = core::mem::take(&mut self.inject_buf);
            buf.resize(usize::from(u16::MAX), 0);
            let n = self.hooks.next_injected(&mut buf, now);
            if let Some(datagram) = n.and_then(|n| buf.get(..n)) {
                any = true;
                self.inject(datagram, now, sockets);
            }
            self.inject_buf = buf;
            if n.is_none() {
                break;
            }
        }
        any
    }

    /// Routes and queues one injected datagram (see
    /// [`drain_injected`](Self::drain_injected)); malformed or unroutable
    /// ones are counted and dropped.
    fn inject(&mut self, datagram: &[u8], now: Instant, sockets: &mut SocketSet) {
        let Ok(ip) = Ipv4Packet::parse(datagram) else {
            self.stats.hook_dropped += 1;
            return;
        };
        let total = usize::from(ip.total_len());
        let dst = ip.dst();
        let Some(datagram) = datagram.get(..total) else {
            return;
        };
        if self.has_address(dst) || dst.is_loopback() {
            let mut pkt = PacketBuf::with_headroom(0, total);
            pkt.extend_from_slice(datagram);
            self.loopq.push_back(pkt);
            return;
        }
        let Some(m) = self.route_to(dst) else {
            self.stats.no_route += 1;
            return;
        };
        let Some(p) = self.ports.get(m.port) else {
            return;
        };
        let mtu = m.mtu.map_or(p.mtu, |r| p.mtu.min(usize::from(r)));
        let headroom = p.medium.header_len();
        let mut pkt = PacketBuf::with_headroom(headroom, total);
        pkt.extend_from_slice(datagram);
        let _ = self.emit_datagram(
            m.port,
            m.next_hop,
            mtu,
            headroom,
            pkt,
            ChecksumSet::EMPTY,
            now,
            sockets,
        );
    }

    /// Finds the hardware address of `next_hop` on `port` and queues the
    /// datagram for the device, or leaves it waiting in the neighbor
    /// cache.
    fn resolve_and_queue(
        &mut self,
        port: usize,
        next_hop: Ipv4Addr,
        mut pkt: PacketBuf,
        offload: ChecksumSet,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<(), Error> {
        let limit = self.config.tx_queue_len;
        if !offload.is_empty() {
            let ready = match self.ports.get(port) {
                Some(p) if p.medium == Medium::Ip => Some(MacAddr::UNSPECIFIED),
                Some(_) => self.neighbor_mac(port, next_hop, now),
                None => None,
            };
            match (ready, self.ports.get_mut(port)) {
                (Some(mac), Some(p)) => {
                    return Self::enqueue(p, limit, &mut self.stats, mac, pkt, offload);
                }
                // Waiting for ARP: the checksum cannot wait for the device.
                _ => complete_checksums(pkt.as_mut_slice()),
            }
        }
        let Some(p) = self.ports.get_mut(port) else {
            return Err(Error::NoRoute);
        };
        let none = ChecksumSet::EMPTY;
        if p.medium == Medium::Ip {
            return Self::enqueue(p, limit, &mut self.stats, MacAddr::UNSPECIFIED, pkt, none);
        }
        match p.neighbors_mut().resolve(next_hop, pkt, now) {
            Resolution::Ready { mac, packet } => {
                Self::enqueue(p, limit, &mut self.stats, mac, packet, none)
            }
            Resolution::Queued { .. } => {
                self.service_neighbors(now, sockets);
                Ok(())
            }
            Resolution::Dropped { reason, .. } => match reason {
                DropReason::Unreachable => Err(Error::Icmp(IcmpErrorKind::HostUnreachable)),
                _ => Err(Error::QueueFull),
            },
        }
    }

    fn enqueue(
        p: &mut Port,
        limit: usize,
        stats: &mut InterfaceStats,
        mac: MacAddr,
        packet: PacketBuf,
        offload: ChecksumSet,
    ) -> Result<(), Error> {
        if p.txq.len() >= limit {
            stats.tx_queue_drops += 1;
            return Err(Error::QueueFull);
        }
        p.txq.push_back(Outgoing {
            mac,
            packet,
            offload,
        });
        Ok(())
    }

    /// Drains the neighbor caches' events: released datagrams go to the
    /// transmit queues, failed ones earn Host Unreachable.
    #[inline]
    fn service_neighbors(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        // The common case, nothing due anywhere, without a call.
        if !self.ports.iter_mut().any(|p| p.neighbors_due(now)) {
            return false;
        }
        self.drain_neighbors(now, sockets)
    }

    /// [`service_neighbors`](Self::service_neighbors) once something is
    /// due.
    #[inline(never)]
    fn drain_neighbors(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        let mut work = false;
        let limit = self.config.tx_queue_len;
        for i in 0..self.ports.len() {
            // Nothing released, failed or due: nothing to drain.
            if self.ports.get_mut(i).is_none_or(|p| !p.neighbors_due(now)) {
                continue;
            }
            while let Some(p) = self.ports.get_mut(i) {
                let Some(ev) = p.neighbors_mut().poll_event(now) else {
                    break;
                };
                work = true;
                match ev {
                    NeighborEvent::Send { mac, packet, .. } => {
                        let none = ChecksumSet::EMPTY;
                        let _ = Self::enqueue(p, limit, &mut self.stats, mac, packet, none);
                    }
                    NeighborEvent::Unreachable { packet, .. } => {
                        self.unreachable(i, packet.as_slice(), now, sockets);
                    }
                    NeighborEvent::Conflict(_) => {}
                }
            }
        }
        work
    }

    /// A datagram whose next hop could not be resolved: RFC 1122
    /// §3.2.2.1 host unreachable, to the local socket for our own
    /// datagrams, as ICMP to the source for forwarded ones.
    fn unreachable(&mut self, port: usize, datagram: &[u8], now: Instant, sockets: &mut SocketSet) {
        let Some(flow) = Self::flow_of(datagram) else {
            return;
        };
        if self.has_address(flow.src) {
            let report = IcmpReport {
                kind: IcmpErrorKind::HostUnreachable,
                hard: true,
                mtu: None,
                quoted_seq: None,
            };
            self.error_to_socket(&flow, report, sockets, now);
        } else {
            let ctx = ErrorContext::default();
            self.send_error(
                port,
                IcmpRepr::HOST_UNREACHABLE,
                datagram,
                &ctx,
                now,
                sockets,
            );
        }
    }

    /// Forwards a datagram received on `in_port` (RFC 1812 §5.2);
    /// `translated`: a hook gave it another destination than it arrived
    /// with (no redirect then).
    fn forward(
        &mut self,
        in_port: usize,
        datagram: &mut [u8],
        link_broadcast: bool,
        translated: bool,
        now: Instant,
        sockets: &mut SocketSet,
    ) {
        let arrival = Arrival {
            interface: IfaceId(in_port as u16),
            link_broadcast,
        };
        let ctx = ErrorContext {
            link_broadcast,
            ..ErrorContext::default()
        };
        let to = match forward(datagram, arrival, &self.routes, &self.config.forward) {
            ForwardDecision::Forward(to) => to,
            ForwardDecision::TimeExceeded => {
                // RFC 1812 §5.3.1.
                self.send_error(
                    in_port,
                    IcmpRepr::TTL_EXCEEDED,
                    datagram,
                    &ctx,
                    now,
                    sockets,
                );
                return;
            }
            ForwardDecision::NoRoute => {
                // RFC 1812 §5.2.7.1.
                self.stats.no_route += 1;
                self.send_error(
                    in_port,
                    IcmpRepr::NET_UNREACHABLE,
                    datagram,
                    &ctx,
                    now,
                    sockets,
                );
                return;
            }
            _ => {
                self.stats.not_forwardable += 1;
                return;
            }
        };
        let out = usize::from(to.interface.0);
        if !self.hook(HookPoint::Forward, datagram, Some(in_port), Some(out), now)
            || !self.hook(
                HookPoint::PostRouting,
                datagram,
                Some(in_port),
                Some(out),
                now,
            )
        {
            return;
        }
        let Some(p) = self.ports.get(out) else { return };
        let mtu = to.route_mtu.map_or(p.mtu, |m| p.mtu.min(usize::from(m)));
        let headroom = p.medium.header_len();
        // RFC 1812 §5.2.7.2: the source has a better first hop. Not for
        // a datagram a hook sent elsewhere than it was addressed (hairpin
        // NAT): the source cannot reach what it addressed by the
        // translated next hop.
        if let Some(gateway) = to.redirect.filter(|_| !translated) {
            self.stats.redirects_sent += 1;
            let redirect = IcmpRepr::Redirect {
                code: lamina_icmp::RedirectCode::Host,
                gateway,
            };
            self.send_error(in_port, redirect, datagram, &ctx, now, sockets);
        }
        let mut frames: Vec<PacketBuf> = Vec::new();
        if to.total_len <= mtu {
            let mut pkt = PacketBuf::with_headroom(headroom, datagram.len());
            pkt.extend_from_slice(datagram.get(..to.total_len).unwrap_or(datagram));
            frames.push(pkt);
        } else {
            let Ok(ip) = Ipv4Packet::parse(datagram) else {
                return;
            };
            let mtu16 = u16::try_from(mtu).unwrap_or(u16::MAX);
            match Fragmenter::from_packet(&ip, mtu16) {
                Ok(fragments) => {
                    for f in fragments {
                        if let Ok(b) = f.serialize_vec(headroom) {
                            frames.push(b);
                        }
                    }
                    self.stats.fragmented += 1;
                }
                Err(lamina_ipv4::Error::FragmentationNeeded { .. }) => {
                    // RFC 1191 §4: DF set, tell the source the MTU.
                    self.stats.tx_too_big += 1;
                    let repr = IcmpRepr::fragmentation_needed(mtu16);
                    self.send_error(in_port, repr, datagram, &ctx, now, sockets);
                    return;
                }
                Err(_) => {
                    self.stats.tx_too_big += 1;
                    return;
                }
            }
        }
        self.stats.forwarded += 1;
        for pkt in frames {
            if let Err(Error::Icmp(IcmpErrorKind::HostUnreachable)) =
                self.resolve_and_queue(out, to.next_hop, pkt, ChecksumSet::EMPTY, now, sockets)
            {
                let repr = IcmpRepr::HOST_UNREACHABLE;
                self.send_error(in_port, repr, datagram, &ctx, now, sockets);
                break;
            }
        }
    }

    /// Runs the reassembler's timeouts: RFC 1122 §3.3.2, Time Exceeded
    /// (reassembly) to the source when the first fragment had arrived.
    fn service_reassembly(&mut self, now: Instant, sockets: &mut SocketSet) {
        while let Some(expired) = self.reasm.poll_timeout(now) {
            let Some(first) = expired.first_fragment else {
                continue;
            };
            let in_port = Ipv4Header::peek(first.as_slice())
                .ok()
                .and_then(|h| self.port_of_addr(h.dst()))
                .unwrap_or(0);
            let ctx = ErrorContext::default();
            let repr = IcmpRepr::REASSEMBLY_TIME_EXCEEDED;
            self.send_error(in_port, repr, first.as_slice(), &ctx, now, sockets);
        }
    }

    /// Turns the sockets' queued datagrams into IPv4 datagrams.
    fn dispatch_sockets(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        if !sockets.take_tx_hint() {
            return false;
        }
        sockets.autobind();
        let mut work = false;
        let mut next = 0;
        while let Some((handle, after)) = sockets.next_with_tx(next) {
            next = after;
            loop {
                // Datagrams for a device that ran out of room in this
                // pass wait in their socket's queue (bounded: the user
                // then hears `QueueFull`) rather than in the device's,
                // where they would be dropped once it is full.
                let full = self.tx_full != 0;
                let job = match sockets.get_mut_quiet(handle) {
                    // A datagram in a lent buffer first (the older): its
                    // payload copied out, the buffer kept for the next.
                    Some(Socket::Udp(u))
                        if u.lent.as_ref().is_some_and(|l| !l.queue.is_empty()) =>
                    {
                        let Some(lent) = u.lent.as_deref_mut() else {
                            break;
                        };
                        match (u.local, lent.queue.front()) {
                            (_, Some(d)) if full && self.way_full(*d.dst.ip()) => break,
                            (Some(local), Some(_)) => {
                                let Some(d) = lent.pop() else {
                                    break;
                                };
                                let mut data = core::mem::take(&mut self.udp_scratch);
                                data.clear();
                                data.extend_from_slice(d.payload());
                                let dst = d.dst;
                                lent.keep_spare(d.buf);
                                Job::Udp(local, u.ttl, u.dont_fragment, dst, data)
                            }
                            _ => break,
                        }
                    }
                    Some(Socket::Udp(u)) => match (u.local, u.tx.front()) {
                        (_, Some((dst, _))) if full && self.way_full(*dst.ip()) => break,
                        (Some(local), Some((&dst, payload))) => {
                            // Copied out (into a buffer kept for reuse) to
                            // free the socket set for `send_ip`.
                            let mut data = core::mem::take(&mut self.udp_scratch);
                            data.clear();
                            data.extend_from_slice(payload);
                            u.tx.drop_front();
                            Job::Udp(local, u.ttl, u.dont_fragment, dst, data)
                        }
                        _ => break,
                    },
                    Some(Socket::Icmp(c)) => match (c.ident, c.tx.front()) {
                        (_, Some((&(dst, _), _))) if full && self.way_full(dst) => break,
                        (Some(ident), Some((&(dst, seq_no), payload))) => {
                            let mut data = core::mem::take(&mut self.udp_scratch);
                            data.clear();
                            data.extend_from_slice(payload);
                            c.tx.drop_front();
                            Job::Echo(ident, c.ttl, dst, seq_no, data)
                        }
                        _ => break,
                    },
                    Some(Socket::Raw(r)) => match r.tx.front() {
                        Some((&dst, _)) if full && self.way_full(dst) => break,
                        Some((&dst, payload)) => {
                            let mut data = core::mem::take(&mut self.udp_scratch);
                            data.clear();
                            data.extend_from_slice(payload);
                            r.tx.drop_front();
                            Job::Raw(r.protocol, r.ttl, dst, data)
                        }
                        _ => break,
                    },
                    _ => break,
                };
                work = true;
                let result = match job {
                    Job::Udp(local, ttl, df, dst, data) => 'udp: {
                        let mut repr = Ipv4Repr::new(*local.ip(), *dst.ip(), IpProtocol::UDP);
                        repr.ttl = ttl;
                        repr.dont_fragment = df;
                        // The source enters the UDP checksum: choose it now.
                        if repr.src.is_unspecified() {
                            match self.pick_source(repr.dst) {
                                Some(src) => repr.src = src,
                                None => {
                                    self.stats.no_route += 1;
                                    break 'udp Err(Error::NoRoute);
                                }
                            }
                        }
                        let udp = UdpRepr {
                            src_port: local.port(),
                            dst_port: dst.port(),
                        };
                        // A device that completes UDP checksums gets them
                        // partial, as on the direct path.
                        let offload = if self.udp_policy.tx == lamina_udp::ChecksumMode::Compute {
                            self.l4_offload(repr.dst, ChecksumProto::Udp)
                        } else {
                            ChecksumSet::EMPTY
                        };
                        let mut builder = self.udp_policy.builder(&udp, repr.src, repr.dst);
                        if !offload.is_empty() {
                            builder = builder.checksum(lamina_udp::ChecksumMode::Offload);
                        }
                        let body = data.as_slice().wrap_in(builder);
                        let r = self.send_ip_with(repr, body, offload, now, sockets);
                        self.udp_scratch = data;
                        match r {
                            Ok(()) => self.udp_stats.record_sent(),
                            Err(Error::QueueFull) => self.udp_stats.record_sndbuf_error(),
                            Err(_) => {}
                        }
                        r
                    }
                    Job::Echo(ident, ttl, dst, seq_no, data) => {
                        let mut repr = Ipv4Repr::new(Ipv4Addr::UNSPECIFIED, dst, IpProtocol::ICMP);
                        repr.ttl = ttl;
                        let echo = IcmpRepr::EchoRequest { ident, seq_no };
                        let r = self.send_ip(repr, data.as_slice().wrap_in(&echo), now, sockets);
                        self.udp_scratch = data;
                        r
                    }
                    Job::Raw(protocol, ttl, dst, data) => {
                        let mut repr = Ipv4Repr::new(Ipv4Addr::UNSPECIFIED, dst, protocol);
                        repr.ttl = ttl;
                        let r = self.send_ip(repr, data.as_slice(), now, sockets);
                        self.udp_scratch = data;
                        r
                    }
                };
                if let Err(e) = result {
                    sockets.set_error(handle, e);
                }
            }
        }
        work
    }

    /// The source address for a datagram to `dst`, from the route.
    fn pick_source(&mut self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.has_address(dst) {
            return Some(dst);
        }
        if dst.is_broadcast() {
            return self.source_for(0, dst);
        }
        let m = self.route_to(dst)?;
        self.source_for(m.port, m.next_hop)
    }
}

/// A resolved next hop on the device a datagram leaves by.
#[derive(Debug, Clone, Copy)]
struct DirectHop {
    next_hop: Ipv4Addr,
    /// The route's MTU, or the device's.
    mtu: usize,
    /// The next hop's hardware address.
    mac: MacAddr,
}

/// An Ethernet header and an IPv4 header without options, as the direct
/// transmit paths write them in one pass (the IPv4 checksum summed from
/// the field values).
#[derive(Debug, Clone, Copy)]
struct EthIpv4Head {
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// The second byte of the IPv4 header (DSCP and ECN).
    tos: u8,
    ttl: u8,
    protocol: IpProtocol,
    dont_fragment: bool,
    id: u16,
    /// The IPv4 total length.
    total: u16,
}

impl EthIpv4Head {
    /// Ethernet and IPv4 headers.
    const LEN: usize = lamina_ethernet::HEADER_LEN + 20;

    #[inline(always)]
    fn write(&self, eth: &mut [u8; lamina_ethernet::HEADER_LEN], ip: &mut [u8; 20]) {
        use lamina_netbuf::checksum::Checksum;
        eth[0..6].copy_from_slice(self.dst_mac.as_bytes());
        eth[6..12].copy_from_slice(self.src_mac.as_bytes());
        eth[12..14].copy_from_slice(&EtherType::IPV4.0.to_be_bytes());
        let flags = if self.dont_fragment { 0x4000u16 } else { 0 };
        let word4 = u16::from_be_bytes([self.ttl, self.protocol.0]);
        let word0 = 0x4500 | u16::from(self.tos);
        let mut ip_sum = Checksum::new();
        ip_sum.add_u16(word0);
        ip_sum.add_u16(self.total);
        ip_sum.add_u16(self.id);
        ip_sum.add_u16(flags);
        ip_sum.add_u16(word4);
        ip_sum.add_u32(self.src.to_bits());
        ip_sum.add_u32(self.dst.to_bits());
        let ip_c = ip_sum.finish();
        ip[0..2].copy_from_slice(&word0.to_be_bytes());
        ip[2..4].copy_from_slice(&self.total.to_be_bytes());
        ip[4..6].copy_from_slice(&self.id.to_be_bytes());
        ip[6..8].copy_from_slice(&flags.to_be_bytes());
        ip[8..10].copy_from_slice(&word4.to_be_bytes());
        ip[10..12].copy_from_slice(&ip_c.to_be_bytes());
        ip[12..16].copy_from_slice(&self.src.octets());
        ip[16..20].copy_from_slice(&self.dst.octets());
    }

    /// The frame's length: both headers and the IPv4 payload
    /// (`total - 20` bytes), padded to the Ethernet minimum.
    #[inline(always)]
    fn frame_len(&self) -> usize {
        (lamina_ethernet::HEADER_LEN + usize::from(self.total)).max(lamina_ethernet::MIN_FRAME_LEN)
    }

    /// Writes both headers at the start of a frame of
    /// [`frame_len`](Self::frame_len) bytes, zeroes the padding after
    /// the IPv4 datagram, and returns the room for its payload.
    #[inline(always)]
    fn write_padded<'b>(&self, frame: &'b mut [u8]) -> &'b mut [u8] {
        let end = lamina_ethernet::HEADER_LEN + usize::from(self.total);
        let (frame, pad) = frame.split_at_mut(end.min(frame.len()));
        zero_padding(pad);
        self.write_into(frame)
    }

    /// Writes both headers at the start of `out` (nothing if it is
    /// shorter); returns what follows them.
    #[inline(always)]
    fn write_into<'b>(&self, out: &'b mut [u8]) -> &'b mut [u8] {
        let Some((eth, rest)) = out.split_first_chunk_mut::<{ lamina_ethernet::HEADER_LEN }>()
        else {
            return &mut [];
        };
        let Some((ip, rest)) = rest.split_first_chunk_mut::<20>() else {
            return &mut [];
        };
        self.write(eth, ip);
        rest
    }
}

/// The transport header of a [`DirectFrame`] (eight bytes either way).
#[derive(Debug, Clone, Copy)]
enum DirectL4 {
    /// UDP (RFC 768), its checksum computed.
    Udp { src_port: u16, dst_port: u16 },
    /// ICMP Echo Request (RFC 792).
    EchoRequest { ident: u16, seq_no: u16 },
}

/// An Ethernet frame carrying one UDP datagram or Echo Request over IPv4
/// without options, written in one pass: what the direct transmit path
/// sends. The bytes are those the layered builders (`EthernetRepr`,
/// `Ipv4Repr`, `UdpBuilder` with a computed checksum or `IcmpRepr`)
/// would write; the checksums are summed from the field values and the
/// payload.
struct DirectFrame {
    /// Our hardware address and the next hop's.
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    dont_fragment: bool,
    id: u16,
    l4: DirectL4,
    /// UDP: leave the checksum to the device (the field holds the
    /// pseudo-header sum, as `TxMeta::checksum_offload` says).
    partial: bool,
}

impl DirectFrame {
    /// Ethernet, IPv4 and transport headers.
    const HEADERS_LEN: usize = lamina_ethernet::HEADER_LEN + 20 + 8;

    /// The frame's length for `payload` bytes (padded to the Ethernet
    /// minimum).
    #[inline]
    fn len(payload: usize) -> usize {
        (Self::HEADERS_LEN + payload).max(lamina_ethernet::MIN_FRAME_LEN)
    }

    /// Writes the frame for `payload` into `out` (zero padding past the
    /// datagram, up to the Ethernet minimum). `out` must hold at least
    /// the headers and the payload; it is left as is otherwise.
    #[inline(always)]
    fn write(&self, out: &mut [u8], payload: &[u8]) {
        let Some((headers, rest)) = out.split_at_mut_checked(Self::HEADERS_LEN) else {
            return;
        };
        let Some((body, pad)) = rest.split_at_mut_checked(payload.len()) else {
            return;
        };
        let partial = self.partial && matches!(self.l4, DirectL4::Udp { .. });
        // The payload is copied and summed in one pass (unless the device
        // sums it).
        let payload_sum = if partial {
            body.copy_from_slice(payload);
            0
        } else {
            copy_with_sum(body, payload)
        };
        zero_padding(pad);
        self.write_headers(headers, payload.len(), payload_sum);
    }

    /// Writes the headers into `headers` (at least
    /// [`HEADERS_LEN`](Self::HEADERS_LEN) bytes; left as they are
    /// otherwise) for a payload of `payload_len` bytes whose ones'
    /// complement sum is `payload_sum` (not read where the device sums
    /// it) behind them.
    #[inline(always)]
    fn write_headers(&self, headers: &mut [u8], payload_len: usize, payload_sum: u16) {
        use lamina_netbuf::checksum::Checksum;
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        let l4_len = 8 + payload_len;
        let total = 20 + l4_len;
        let (Ok(l4_len16), Ok(total16)) = (u16::try_from(l4_len), u16::try_from(total)) else {
            return;
        };
        let partial = self.partial && matches!(self.l4, DirectL4::Udp { .. });
        let Some((eth, ip_l4)) = headers.split_first_chunk_mut::<ETH>() else {
            return;
        };
        let Some((ip, l4)) = ip_l4.split_first_chunk_mut::<20>() else {
            return;
        };
        let protocol = match self.l4 {
            DirectL4::Udp { .. } => IpProtocol::UDP,
            DirectL4::EchoRequest { .. } => IpProtocol::ICMP,
        };
        EthIpv4Head {
            src_mac: self.src_mac,
            dst_mac: self.dst_mac,
            src: self.src,
            dst: self.dst,
            tos: 0,
            ttl: self.ttl,
            protocol,
            dont_fragment: self.dont_fragment,
            id: self.id,
            total: total16,
        }
        .write(eth, ip);
        let (s, d) = (self.src.to_bits(), self.dst.to_bits());
        let mut sum = Checksum::new();
        if !partial {
            sum.add_u16(payload_sum);
        }
        let (w0, w1, w2) = match self.l4 {
            DirectL4::Udp { src_port, dst_port } => {
                // RFC 768: pseudo-header, header (checksum zero), payload.
                sum.add_u32(s);
                sum.add_u32(d);
                sum.add_u16(u16::from(lamina_udp::IP_PROTOCOL));
                sum.add_u16(l4_len16);
                (src_port, dst_port, l4_len16)
            }
            DirectL4::EchoRequest { ident, seq_no } => {
                (u16::from(IcmpType::ECHO_REQUEST.0) << 8, ident, seq_no)
            }
        };
        let c = if partial {
            // The pseudo-header's sum alone, folded: the device adds the
            // header and payload and complements.
            sum.sum()
        } else {
            sum.add_u16(w0);
            sum.add_u16(w1);
            sum.add_u16(w2);
            match (sum.finish(), self.l4) {
                // RFC 768: a computed zero is sent as all ones.
                (0, DirectL4::Udp { .. }) => 0xffff,
                (c, _) => c,
            }
        };
        let (w0, w1, w2, c) = (
            w0.to_be_bytes(),
            w1.to_be_bytes(),
            w2.to_be_bytes(),
            c.to_be_bytes(),
        );
        match self.l4 {
            // Ports, length, checksum.
            DirectL4::Udp { .. } => {
                l4[0..2].copy_from_slice(&w0);
                l4[2..4].copy_from_slice(&w1);
                l4[4..6].copy_from_slice(&w2);
                l4[6..8].copy_from_slice(&c);
            }
            // Type and code, checksum, identifier, sequence number.
            DirectL4::EchoRequest { .. } => {
                l4[0..2].copy_from_slice(&w0);
                l4[2..4].copy_from_slice(&c);
                l4[4..6].copy_from_slice(&w1);
                l4[6..8].copy_from_slice(&w2);
            }
        }
    }
}

/// Received UDP payloads at least this long are verified while they are
/// copied into their socket's queue (`checksum::copy_with_sum`).
const COPY_VERIFY_MIN: usize = 256;

/// Received UDP payloads at least this long, in frames filling at least
/// half of the device's largest frame, stay in their frame's buffer where
/// the device can give it away: verified as the reader copies them out,
/// copied once.
const UDP_KEEP_MIN: usize = 512;

/// Devices whose frames are all shorter than this never have a frame
/// kept (by UDP or TCP).
const KEEP_FRAME_MIN: usize = 2 * UDP_KEEP_MIN;

/// The most datagrams [`Interface::take_queued`] keeps waiting.
pub const MAX_QUEUED: usize = 256;

/// A datagram a packet hook queued for user-space inspection
/// ([`Verdict::Queue`], as Linux's `NFQUEUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPacket {
    /// The queue number the hook chose.
    pub queue: u16,
    /// Where it was queued.
    pub point: HookPoint,
    /// The device it came in on, if any.
    pub input: Option<IfaceId>,
    /// The device it was to leave by, if known.
    pub output: Option<IfaceId>,
    /// The IPv4 datagram, as the hook left it.
    pub datagram: Vec<u8>,
}

/// What an ICMP error (or the local equivalent) says about a flow.
#[derive(Debug, Clone, Copy)]
struct IcmpReport {
    kind: IcmpErrorKind,
    /// Proof rather than a hint (RFC 1122 §4.2.3.9).
    hard: bool,
    /// For "fragmentation needed", the next hop's MTU.
    mtu: Option<u16>,
    /// The quoted TCP sequence number, when the error came from the
    /// network (checked against the window, RFC 5927 §4.1).
    quoted_seq: Option<u32>,
}

/// One datagram taken from a socket.
enum Job {
    Udp(SocketAddrV4, u8, bool, SocketAddrV4, Vec<u8>),
    Echo(u16, u8, Ipv4Addr, u16, Vec<u8>),
    Raw(IpProtocol, u8, Ipv4Addr, Vec<u8>),
}

/// A device's largest received frame, and whether large UDP datagrams
/// from it are being kept in their buffers.
#[derive(Debug, Clone, Copy)]
struct RxLimits {
    /// The longest frame the device delivers (coalesced TCP segments may
    /// exceed the MTU).
    max: usize,
    /// Whether large UDP datagrams arrived lately, to be kept in their
    /// frames' buffers: set when one was copied, cleared by a receive pass
    /// that kept nothing (the keeping receive loop costs every frame a
    /// little; see `RxVisitor`).
    keep_udp: bool,
}

/// What a fast receive path did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    /// Nothing: the general path takes the frame.
    Declined,
    /// Handled it.
    Done,
    /// Handled it, leaving a payload in the frame's buffer: the device is
    /// to hand the buffer over.
    Kept,
}

/// Receives from one device.
struct RxVisitor<'a, H: PacketHook> {
    iface: &'a mut Interface<H>,
    sockets: &'a mut SocketSet,
    port: usize,
    now: Instant,
}

impl<H: PacketHook> DeviceVisitor for RxVisitor<'_, H> {
    type Output = usize;
    fn visit<D: Device>(&mut self, device: &mut D) -> usize {
        let budget = self.iface.config.budget;
        let (iface, sockets, port, now) =
            (&mut *self.iface, &mut *self.sockets, self.port, self.now);
        // A device whose frames are all too small to keep takes the plain
        // receive loop (what keeping costs per frame is not paid there),
        // and so does one whose frames are too small for TCP to keep
        // while no large UDP datagrams arrive (the first such datagram is
        // copied; the passes after it keep them).
        // (Frames with a shared payload come whole there too: stacks
        // share payloads only where frames are large.)
        let (largest, keep_udp) = iface
            .ports
            .get(port)
            .map_or((0, false), |p| (p.rx.max, p.rx.keep_udp));
        if largest < KEEP_MIN && !keep_udp {
            return device.poll_rx(now, budget, |frame, meta, reply| {
                if iface.fast_frame(port, frame, meta, reply, sockets, now, false) == Fast::Declined
                {
                    iface.receive_frame(port, frame, meta, sockets, now);
                }
            });
        }
        // (Inlined into the device's loop: passed by reference to a call,
        // the event is written to memory field by field and read back with
        // wider loads, a store-forwarding stall per frame.)
        let n = device.poll_rx_keep(
            now,
            budget,
            #[inline(always)]
            |event| match event {
                RxEvent::Frame {
                    frame,
                    meta,
                    reply,
                    can_keep,
                } => {
                    match iface.fast_frame(port, frame, meta, reply, sockets, now, can_keep) {
                        Fast::Declined => {}
                        Fast::Done => return false,
                        Fast::Kept => return true,
                    }
                    iface.receive_keepable(port, frame, meta, sockets, now, can_keep, largest)
                }
                RxEvent::Kept(kept) => {
                    iface.attach_kept(kept, sockets);
                    false
                }
                RxEvent::Shared {
                    head,
                    payload,
                    meta,
                    reply: _,
                } => {
                    iface.cancel_kept(sockets);
                    iface.receive_shared(port, head, payload, meta, sockets, now);
                    false
                }
            },
        );
        // A payload whose buffer did not come (a device that broke its
        // word) is withdrawn: the peer sends it again (TCP) or it is lost
        // (UDP).
        self.iface.cancel_kept(self.sockets);
        // Buffers read out of receive queues go back to the device: those
        // of the TCP sockets, and those of the UDP socket that kept
        // datagrams in this pass. A pass that received and kept no UDP
        // datagram ends the keeping.
        while let Some(buf) = self.iface.spare_bufs.pop() {
            device.recycle(buf);
        }
        match self.iface.udp_keeper.take() {
            Some(h) => {
                if let Some(Socket::Udp(u)) = self.sockets.get_mut_quiet(h) {
                    while let Some(buf) = u.take_spare() {
                        device.recycle(buf);
                    }
                }
            }
            None if n > 0 => {
                if let Some(p) = self.iface.ports.get_mut(self.port) {
                    p.rx.keep_udp = false;
                }
            }
            None => {}
        }
        n
    }
}

/// Hands one device its queued frames and the neighbor cache's ARP
/// packets.
struct TxVisitor<'a, H: PacketHook> {
    iface: &'a mut Interface<H>,
    sockets: &'a mut SocketSet,
    port: usize,
    now: Instant,
}

impl<H: PacketHook> DeviceVisitor for TxVisitor<'_, H> {
    type Output = usize;
    fn visit<D: Device>(&mut self, device: &mut D) -> usize {
        let now = self.now;
        let Some(p) = self.iface.ports.get_mut(self.port) else {
            return 0;
        };
        let mut sent = 0;
        // ARP first: it unblocks everything else.
        while p.neighbors().pending_transmits() > 0 {
            let Some(token) = device.transmit(now) else {
                self.iface.tx_full |= port_bit(self.port);
                return sent_frames(self.iface, device, sent, now);
            };
            let Some(t) = p.neighbors_mut().poll_transmit(now) else {
                break;
            };
            let frame = lamina_netbuf::serialize::EmptyBody
                .wrap_in(t.packet)
                .wrap_in(t.ethernet_repr());
            let Ok(len) = frame.serialized_len() else {
                continue;
            };
            if token.consume(len, |out| frame.serialize_exact(out)).is_ok() {
                sent += 1;
            }
        }
        while !p.txq.is_empty() {
            let Some(token) = device.transmit(now) else {
                self.iface.tx_full |= port_bit(self.port);
                break;
            };
            let Some(o) = p.txq.pop_front() else { break };
            let mut token = token;
            if !o.offload.is_empty() {
                let l3 = p.medium.header_len();
                let ihl = o
                    .packet
                    .as_slice()
                    .first()
                    .map_or(20, |b| usize::from(b & 0x0f) * 4);
                let (l3, l4) = (l3 as u16, (l3 + ihl) as u16);
                token.set_meta(TxMeta::new().with_checksum_offload(o.offload, l3, l4));
            }
            let ok = match p.medium {
                Medium::Ethernet => {
                    let eth = EthernetRepr::new(p.mac, o.mac, EtherType::IPV4);
                    let frame = o.packet.as_slice().wrap_in(eth);
                    match frame.serialized_len() {
                        Ok(len) => token.consume(len, |out| frame.serialize_exact(out)).is_ok(),
                        Err(_) => false,
                    }
                }
                _ => token
                    .consume(o.packet.len(), |out| {
                        out.copy_from_slice(o.packet.as_slice())
                    })
                    .is_ok(),
            };
            if ok {
                sent += 1;
            }
        }
        if p.txq.is_empty() {
            sent += self
                .iface
                .egress_direct(self.port, device, self.sockets, now);
            sent += self
                .iface
                .tcp_egress_direct(self.port, device, self.sockets, now);
        }
        sent_frames(self.iface, device, sent, now)
    }
}

/// Counts the `sent` frames of a transmit visit and, if there were any,
/// tells the device to send them on.
#[inline(always)]
fn sent_frames<H: PacketHook, D: Device>(
    iface: &mut Interface<H>,
    device: &mut D,
    sent: usize,
    now: Instant,
) -> usize {
    if sent > 0 {
        iface.stats.tx_frames += sent as u64;
        device.flush(now);
    }
    sent
}

/// Port `port`'s bit in [`Interface::tx_full`] (none past the 64th).
#[inline]
fn port_bit(port: usize) -> u64 {
    1u64.checked_shl(port as u32).unwrap_or(0)
}

/// Zeroes a frame's padding (none at all, usually: filling an empty
/// slice still called `memset`).
#[inline(always)]
fn zero_padding(pad: &mut [u8]) {
    if !pad.is_empty() {
        pad.fill(0);
    }
}

/// Lends UDP socket `u` as many transmit buffers of `device` (the one
/// its datagrams just went out by) as it queued large payloads since the
/// last time (at most `udp::TX_LENT_MAX`), and gives back those beyond.
/// Nothing for a device that lends none.
#[inline]
fn lend_buffers<D: Device>(u: &mut crate::UdpSocket, device: &mut D) {
    let want = usize::from(core::mem::take(&mut u.tx_large)).min(crate::udp::TX_LENT_MAX);
    let have = u.lent.as_ref().map_or(0, |l| l.spare.len());
    if want != have {
        lend_buffers_slow(u, device, want);
    }
}

#[inline(never)]
fn lend_buffers_slow<D: Device>(u: &mut crate::UdpSocket, device: &mut D, want: usize) {
    if let Some(lent) = u.lent.as_deref_mut() {
        while lent.spare.len() > want {
            match lent.spare.pop() {
                Some(buf) => device.recycle(buf),
                None => break,
            }
        }
    }
    while u.lent.as_ref().map_or(0, |l| l.spare.len()) < want {
        let Some(buf) = device.tx_buffer() else {
            break;
        };
        u.lent.get_or_insert_default().spare.push(buf);
    }
}

/// Whether a transmit token's frame went out. (A `match` rather than
/// `is_ok`: the success path then drops nothing, where dropping the whole
/// result called the error's drop code on every frame.)
#[inline(always)]
fn went_out<T>(r: Result<T, lamina_netdev::Error>) -> bool {
    match r {
        Ok(_) => true,
        Err(e) => {
            drop(e);
            false
        }
    }
}

/// Parses an IPv4 datagram, verifying its header checksum unless it is
/// known good already (`verified`: the device checked it, or we built it).
#[inline(always)]
fn parse_ipv4(bytes: &[u8], verified: bool) -> Result<Ipv4Packet<'_>, lamina_ipv4::Error> {
    if verified {
        Ipv4Packet::parse(bytes)
    } else {
        Ipv4Packet::parse_verified(bytes)
    }
}

/// Whether `H` accepts everything unseen ([`PacketHook::ACCEPTS_ALL`], as
/// [`NoHooks`] does): the fast paths that write a frame straight into a
/// device buffer (which cannot be taken back) are used only then; with
/// real hooks every datagram goes the general way, which runs them before
/// anything is committed.
fn hooks_are_noop<H: PacketHook>() -> bool {
    H::ACCEPTS_ALL
}

/// Completes the transport checksum of an IPv4 datagram built for
/// checksum offload (its checksum field holding the pseudo-header sum):
/// for when the datagram ends up not going to an offloading device.
fn complete_checksums(datagram: &mut [u8]) {
    use lamina_netbuf::checksum;
    let Ok(h) = Ipv4Header::peek(datagram) else {
        return;
    };
    let (src, dst, protocol) = (h.src(), h.dst(), h.protocol());
    let Some(hl) = datagram.first().map(|b| usize::from(b & 0x0f) * 4) else {
        return;
    };
    let field = match protocol {
        IpProtocol::TCP => 16,
        IpProtocol::UDP => 6,
        _ => return,
    };
    let total = Ipv4Header::peek(datagram).map_or(0, |h| usize::from(h.total_len()));
    let Some(segment) = datagram.get_mut(hl..total) else {
        return;
    };
    let Ok(len) = u16::try_from(segment.len()) else {
        return;
    };
    if let Some(f) = segment.get_mut(field..field + 2) {
        f.fill(0);
    }
    let mut sum = checksum::ipv4_pseudo_header(src, dst, protocol.0, len);
    sum.add_bytes(segment);
    let mut c = sum.finish();
    if protocol == IpProtocol::UDP && c == 0 {
        c = 0xffff;
    }
    if let Some(f) = segment.get_mut(field..field + 2) {
        f.copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass writer of the direct path sends the bytes the layered
    /// builders would (RFC 791 header and checksum, RFC 768 checksum over
    /// the pseudo-header with a zero result sent as all ones, Ethernet
    /// padding to the minimum frame).
    #[test]
    fn udp_frame_writer_matches_the_layered_builders() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(198, 51, 100, 200);
        let (mac_a, mac_b) = (
            MacAddr::new(2, 0, 0, 0, 0, 1),
            MacAddr::new(2, 0, 0, 0, 0, 2),
        );
        for (len, df, ttl, id) in [
            (0usize, false, 64u8, 0u16),
            (1, true, 1, 0xffff),
            (17, false, 255, 0x1234),
            (64, true, 64, 7),
            (1472, false, 64, 0x8000),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = DirectFrame {
                src_mac: mac_a,
                dst_mac: mac_b,
                src,
                dst,
                ttl,
                dont_fragment: df,
                id,
                l4: DirectL4::Udp {
                    src_port: 5000,
                    dst_port: 7,
                },
                partial: false,
            };
            let n = DirectFrame::len(len);
            let mut fast = alloc::vec![0xeeu8; n];
            f.write(&mut fast, &payload);
            // Left to the device: the same frame but the checksum field,
            // which holds the pseudo-header's sum; summing from the UDP
            // header on (the device's work) gives the full checksum.
            let mut partial = alloc::vec![0xeeu8; n];
            DirectFrame { partial: true, ..f }.write(&mut partial, &payload);
            let ck = 14 + 20 + 6;
            assert_eq!(partial[..ck], fast[..ck]);
            assert_eq!(partial[ck + 2..], fast[ck + 2..]);
            let mut pseudo = lamina_netbuf::checksum::Checksum::new();
            pseudo.add_u32(src.to_bits());
            pseudo.add_u32(dst.to_bits());
            pseudo.add_u16(17);
            pseudo.add_u16((8 + len) as u16);
            assert_eq!(
                u16::from_be_bytes([partial[ck], partial[ck + 1]]),
                pseudo.sum()
            );
            let completed = match lamina_netbuf::checksum::checksum(&partial[34..34 + 8 + len]) {
                0 => 0xffff,
                c => c,
            };
            assert_eq!(completed.to_be_bytes(), [fast[ck], fast[ck + 1]], "{len}");

            let mut repr = Ipv4Repr::new(src, dst, IpProtocol::UDP);
            repr.ttl = ttl;
            repr.dont_fragment = df;
            repr.identification = id;
            let udp = UdpRepr {
                src_port: 5000,
                dst_port: 7,
            };
            let frame = payload
                .as_slice()
                .wrap_in(ChecksumPolicy::default().builder(&udp, src, dst))
                .wrap_in(&repr)
                .wrap_in(EthernetRepr::new(mac_a, mac_b, EtherType::IPV4));
            let mut layered = alloc::vec![0u8; frame.serialized_len().unwrap()];
            frame.serialize_exact(&mut layered);
            assert_eq!(fast, layered, "payload of {len} bytes");
        }
    }

    /// The Echo Request the direct path writes is the one `IcmpRepr`
    /// builds (RFC 792: type 8, code 0, checksum over the ICMP message).
    #[test]
    fn echo_frame_writer_matches_the_layered_builders() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(192, 0, 2, 2);
        let (mac_a, mac_b) = (
            MacAddr::new(2, 0, 0, 0, 0, 1),
            MacAddr::new(2, 0, 0, 0, 0, 2),
        );
        for (len, ident, seq_no) in [
            (0usize, 0u16, 0u16),
            (1, 0x1234, 1),
            (56, 0xffff, 0xfffe),
            (1000, 7, 9),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            let f = DirectFrame {
                src_mac: mac_a,
                dst_mac: mac_b,
                src,
                dst,
                ttl: 64,
                dont_fragment: false,
                id: 0x4242,
                l4: DirectL4::EchoRequest { ident, seq_no },
                partial: false,
            };
            let mut fast = alloc::vec![0xeeu8; DirectFrame::len(len)];
            f.write(&mut fast, &payload);

            let mut repr = Ipv4Repr::new(src, dst, IpProtocol::ICMP);
            repr.identification = 0x4242;
            let echo = IcmpRepr::EchoRequest { ident, seq_no };
            let frame = payload
                .as_slice()
                .wrap_in(&echo)
                .wrap_in(&repr)
                .wrap_in(EthernetRepr::new(mac_a, mac_b, EtherType::IPV4));
            let mut layered = alloc::vec![0u8; frame.serialized_len().unwrap()];
            frame.serialize_exact(&mut layered);
            assert_eq!(fast, layered, "echo data of {len} bytes");
        }
    }

    /// A checksum that sums to zero goes out as 0xffff (RFC 768).
    #[test]
    fn udp_frame_writer_sends_a_zero_checksum_as_all_ones() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let f = |payload: &[u8]| {
            let w = DirectFrame {
                src_mac: MacAddr::new(2, 0, 0, 0, 0, 1),
                dst_mac: MacAddr::new(2, 0, 0, 0, 0, 2),
                src,
                dst,
                ttl: 64,
                dont_fragment: false,
                id: 1,
                l4: DirectL4::Udp {
                    src_port: 1,
                    dst_port: 2,
                },
                partial: false,
            };
            let mut out = alloc::vec![0u8; 60];
            w.write(&mut out, payload);
            u16::from_be_bytes([out[40], out[41]])
        };
        // A two-byte payload whose checksum computes to zero: the checksum
        // with a zero payload is the complement of the other words' sum,
        // so adding it as the payload brings the sum to 0xffff.
        let word = f(&[0, 0]);
        let zero = f(&word.to_be_bytes());
        assert_eq!(zero, 0xffff);
    }
}
