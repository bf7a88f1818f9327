//! Whole connection lifecycles at random, over faulty wires: a client
//! host opens connections to a server host's echo and discard services
//! at random moments, writes a random amount in random pieces, and ends
//! each connection one of the ways applications do — half-close and read
//! the echo to its end, close right after writing to discard (the socket
//! handed to the set), abort, or close before the handshake is over (a
//! connect that fails is tried again; some clients share a few local
//! ports, so that a connect meets its 4-tuple in use or in TIME-WAIT).
//! The server accepts, echoes (or discards) what it reads and closes once
//! the client's side has ended, or now and then aborts or closes early.
//! Random buffers; transmit rings that fill; loss, reordering,
//! duplication and corruption in both directions; keepalive on both
//! ends, since a reset can be lost like anything else.
//!
//! Checked for every run: each echo is byte-exact, each close-after-write
//! delivers exactly what was written before the end of stream (a prefix
//! where a side aborted), no connection fails that should not, and once
//! every timer has run out both socket sets hold nothing but the
//! listeners — no socket leaks whatever the order of closes, resets and
//! retransmissions. A connect is refused only where clients share a
//! port. One run in four has perfect wires: there every connection is
//! over within ten seconds of the last one's start, plus what a slow
//! reader's pace takes (nothing stalls waiting for a timer). Applications act as soon as a socket is ready
//! (a connection to accept, data to read, room to write), aborts mostly
//! reset their peer (`abort_tcp`) but one in four vanishes without a
//! word, and failed connects back off. `LAMINA_LIFECYCLE_SEEDS=N` (or
//! `A..B`) runs more.
//!
//! The same runs again through a Lamina router that masquerades the
//! client's LAN behind its WAN address (RFC 3022 NAPT, `lamina-filter`
//! with a stateful firewall that drops what connection tracking finds
//! invalid), faults on both links: every connection still works as
//! above, two connections never share a translated 4-tuple, and once the
//! hosts are done the router's connection-tracking table holds nothing
//! that outlives the closing timeouts (no NAT mapping left behind). And
//! once more to a server on a router's LAN through the ports the router
//! forwards from its WAN address (destination NAT). And from two or
//! three client hosts on one LAN segment behind the masquerade, whose
//! clients bind the same local ports at once: the router must keep their
//! connections and datagrams apart on its one WAN address. And through
//! two masquerading routers in a row (a home router behind a carrier's
//! NAT, RFC 6598's shared address space between them): every
//! translation, every ICMP error and path MTU discovery crossing both.
//! And from a client behind one masquerade to a server behind another
//! router's port forwarding, both home LANs numbered alike.
//! One router in five tracks only 4 to 16 flows: new flows are then
//! refused or evict unanswered ones, which the hosts see as loss; a
//! connection cut that way may end in a reset, and nothing else changes.
//! One faulty run in six with routers restarts one of them (its whole
//! connection-tracking table lost at a random instant): flows go on where
//! the next segment can pick them up midstream (their NAT ports kept),
//! others end in a reset or a timeout, and the tables still drain. And
//! routine operations at random instants change nothing but timing: a
//! router's ruleset reloaded, a neighbour cache flushed, a router's
//! route narrowed under live connections, or gone for a few seconds, a
//! host's or router's hardware address changed (`Chores`). One socket in
//! three has other TCP options (SACK, timestamps or window scaling off,
//! NewReno, a clamped MSS, delayed ACKs off or long, little room for
//! out-of-order data, no SYN cookies: see `tcp_config`). One server
//! connection in three has a slow application (64 B to 8 KiB at a time,
//! at most once every 1, 5 or 20 ms: see `draw_pace`): windows fill and
//! close, zero-window probes and window updates cross the routers and
//! their faults.
//!
//! Datagram runs do the same for UDP and ping: random clients, payloads
//! that need fragmenting, a closed port, both paths (see `datagram_run`).

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::HashMap;

use lamina_arp::NeighborState;
use lamina_ethernet::MacAddr;
use lamina_filter::{Filter, FilterConfig, Ruleset, Tuple};
use lamina_icmp::IcmpErrorKind;
use lamina_ipv4::hook::{NoHooks, PacketHook};
use lamina_ipv4::{IfaceId, Ipv4Cidr, Route};
use lamina_netbuf::{Duration, Instant, Rng, SeededRng};
use lamina_netdev::{FaultConfig, FaultInjector, LinkConfig, Port, TxLimit, hub, wire};
use lamina_socket::tcp_proto::{CcAlgorithm, ConnError, Keepalive, TcpConfig};
use lamina_socket::{
    Error, IcmpSocket, Interface, InterfaceConfig, Shutdown, SocketHandle, SocketSet, TcpSocket,
    UdpSocket,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Through the router: the server on the WAN, the client on the LAN.
const WAN_SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// Double NAT: the carrier's router on the shared address space (RFC
/// 6598) between it and the home router's WAN.
const CARRIER_LAN: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const HOME_WAN: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// From behind one masquerade to another router's forwarded ports: the
/// client's router on the forwarding router's WAN link.
const OTHER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);

/// The port-forwarding router's rules: the WAN address's echo and discard
/// ports go to the server on the LAN (RFC 4787 §7's "port forwarding";
/// the source is kept), and a stateful firewall lets nothing else in.
const FORWARD_RULES: &str = "
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iif 1 tcp dport 7 dnat to 192.168.1.10:7
        iif 1 tcp dport 9 dnat to 192.168.1.10:9
        iif 1 udp dport 7 dnat to 192.168.1.10:7
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid drop
        ct state established,related accept
        iif 1 oif 0 ip daddr 192.168.1.10 ct state new accept
    }
}";

/// The router's rules: masquerade toward the WAN, and a stateful
/// firewall (what conntrack finds invalid is dropped both ways; the WAN
/// may only answer).
const NAT_RULES: &str = "
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid drop
        ct state established,related accept
        iif 0 oif 1 accept
    }
}";
/// Hairpin NAT: the router's public address's service ports go to the
/// server on the LAN, and LAN clients reaching them are masqueraded
/// behind the router's LAN address, so that the server's answers come
/// back through the router.
const HAIRPIN_RULES: &str = "
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 198.51.100.2 tcp dport 7 dnat to 192.168.1.100:7
        ip daddr 198.51.100.2 tcp dport 9 dnat to 192.168.1.100:9
        ip daddr 198.51.100.2 udp dport 7 dnat to 192.168.1.100:7
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 0 ip saddr 192.168.1.0/24 ip daddr 192.168.1.100 masquerade
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid drop
        ct state established,related accept
        iif 0 oif 0 ip daddr 192.168.1.100 ct state new accept
    }
}";

/// The echo service (RFC 862) and the discard service (RFC 863).
const ECHO: u16 = 7;
const DISCARD: u16 = 9;

/// A wire end with faults, behind a transmit ring that may fill.
type Dev = TxLimit<FaultInjector<Port>>;

struct Host<H: PacketHook = NoHooks> {
    iface: Interface<H>,
    devs: Vec<Dev>,
    sockets: SocketSet,
    /// A router's ruleset, as its administrator would reload it.
    rules: Option<&'static str>,
}

impl<H: PacketHook> Host<H> {
    /// Host `n`: device `i` is `devs[i]` with its address, MAC
    /// `02:00:00:00:n:i`.
    fn new(n: u8, config: InterfaceConfig, hooks: H, devs: Vec<(Dev, &str)>) -> Host<H> {
        let mut rng = SeededRng::new(u64::from(n));
        let mut iface = Interface::with_hooks(config, hooks, &mut rng);
        let mut ports = Vec::new();
        for (i, (dev, cidr)) in devs.into_iter().enumerate() {
            let id = iface.add_device(&dev, mac(n, i)).unwrap();
            iface
                .add_address(id, cidr.parse().unwrap(), Instant::ZERO)
                .unwrap();
            ports.push(dev);
        }
        Host {
            iface,
            devs: ports,
            sockets: SocketSet::new(256, &mut rng),
            rules: None,
        }
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.devs[..], &mut self.sockets)
    }

    fn poll_at(&mut self) -> Option<Instant> {
        self.iface.poll_at(&mut self.devs[..], &self.sockets)
    }

    /// Forgets every neighbour it learned (as `ip neigh flush`), keeping
    /// the static entries and those still resolving (whose waiting
    /// datagrams a flush would drop: loss, which lossless runs forbid).
    fn forget_neighbors(&mut self) {
        for i in 0..self.devs.len() as u16 {
            let Some(cache) = self.iface.neighbors_mut(IfaceId(i)) else {
                continue;
            };
            let learned: Vec<Ipv4Addr> = cache
                .iter()
                .filter(|n| n.state != NeighborState::Static && n.queued_packets == 0)
                .map(|n| n.ip)
                .collect();
            for ip in learned {
                cache.remove(ip);
            }
        }
    }

    /// Gives device `i` (if it has one) a new hardware address, unless
    /// its neighbours know it statically (then they could not learn it).
    fn new_mac(&mut self, i: u16, now: Instant) {
        let Some(cache) = self.iface.neighbors(IfaceId(i)) else {
            return;
        };
        if cache.iter().any(|n| n.state == NeighborState::Static) {
            return;
        }
        let old = cache.hardware_addr();
        let mut bytes = *old.as_bytes();
        bytes[5] ^= 0x80;
        let new = MacAddr::new(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
        self.iface.set_hardware_addr(IfaceId(i), new, now).unwrap();
    }

    /// Knows `addr` on device `i` as `peer_mac`, for good.
    fn know(&mut self, i: u16, addr: Ipv4Addr, peer_mac: MacAddr) {
        self.iface
            .neighbors_mut(IfaceId(i))
            .unwrap()
            .insert_static(addr, peer_mac, Instant::ZERO)
            .unwrap();
    }
}

fn mac(n: u8, i: usize) -> MacAddr {
    MacAddr::new(2, 0, 0, 0, n, i as u8)
}

/// How a client connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Shut down writing, read the echo to its end, then close.
    Echo,
    /// Close (the socket handed to the set) right after the last write.
    CloseAfterWrite,
    /// Abort once `after` bytes were written (a RST, data discarded).
    Abort { after: usize },
    /// Close before the handshake is over (nothing written).
    CloseEarly,
}

#[derive(Debug)]
struct Client {
    start: Instant,
    data: Vec<u8>,
    /// Largest piece one `send` offers.
    piece: usize,
    end: End,
    handle: Option<SocketHandle>,
    written: usize,
    echo: Vec<u8>,
    /// Our end is over (closed, handed over, aborted).
    done: bool,
    /// Reads the echo while still writing.
    eager: bool,
    /// This connection as the server counts them (set once established).
    key: Option<Key>,
    /// A local port of its own choosing, from a pool of three that
    /// clients share: a connect may find the 4-tuple busy (in use, or in
    /// TIME-WAIT here or at the server) and is then tried again.
    bind: Option<u16>,
    local: Option<SocketAddrV4>,
    /// The address the server sees for it: `local`, or what the last
    /// router translated it to.
    seen_as: Option<SocketAddrV4>,
    /// What each router translated it to, in order.
    via: Vec<SocketAddrV4>,
    config: TcpConfig,
    /// Connects that failed and were tried again.
    retries: u32,
    /// Reset though the server application did not end it: cut by a
    /// router short of room (see `evictions`).
    lost: bool,
    /// The service: an echo reads back what it writes; a client that
    /// closes right after writing goes to discard (an echo coming back
    /// after its close would be answered with a reset, RFC 9293
    /// §3.10.7.4, as Linux does).
    port: u16,
    /// The client host it runs on.
    host: usize,
}

#[derive(Debug, Default)]
struct Served {
    got: Vec<u8>,
    echoed: usize,
    eof: bool,
    reset: bool,
    /// The server aborts the connection once it has read this much.
    abort_after: Option<usize>,
    aborted: bool,
    /// The server closes the connection once it has read (and echoed)
    /// this much: data still coming then draws a reset.
    close_after: Option<usize>,
    closed_early: bool,
    /// A slow application: it reads at most `.0` bytes at a time, at most
    /// once every `.1` (windows fill and close, zero-window probes and
    /// window updates cross the routers); `None` reads all there is.
    pace: Option<(usize, Duration)>,
    /// When the slow application reads next.
    read_at: Instant,
}

/// One server connection in three reads slowly (see `Served::pace`),
/// drawn from `pace` (apart from the run's other draws).
fn draw_pace(pace: &mut SeededRng) -> Option<(usize, Duration)> {
    if pace.below(3) != 0 {
        return None;
    }
    let chunk = 64usize << pace.below(8);
    let every = [1, 5, 20][pace.below(3) as usize];
    Some((chunk, Duration::from_millis(every)))
}

/// A connection as the server knows it: the client's address, and which
/// connection from that address it is (a client's port may be used again).
type Key = (SocketAddrV4, u32);

/// The server's side of client `c`'s connection: by the key counted on
/// both sides, or, for a client on a shared port (where a connection the
/// server never accepted would skew the count), by what it received.
fn served_for<'a>(served: &'a HashMap<Key, Served>, c: &Client) -> Option<&'a Served> {
    if c.bind.is_none() {
        return c.key.and_then(|k| served.get(&k));
    }
    let local = c.seen_as?;
    let mut from = served
        .iter()
        .filter(|(k, _)| k.0 == local)
        .map(|(_, st)| st);
    from.find(|st| {
        if c.data.is_empty() {
            st.got.is_empty()
        } else {
            !st.got.is_empty() && c.data.starts_with(&st.got)
        }
    })
}

/// Whether the server ended `c`'s connection early (closed or aborted);
/// for a client on a shared port, any connection from its address.
fn server_ended(served: &HashMap<Key, Served>, c: &Client) -> bool {
    let early = |st: &Served| st.aborted || st.closed_early;
    if c.bind.is_none() {
        return served_for(served, c).is_some_and(early);
    }
    served
        .iter()
        .any(|(k, st)| Some(k.0) == c.seen_as && early(st))
}

/// Keepalive that finds a vanished peer within a minute.
fn probing() -> Keepalive {
    Keepalive {
        idle: Duration::from_secs(20),
        interval: Duration::from_secs(2),
        count: 5,
    }
}

/// Buffers from 1 KiB to 256 KiB, Nagle on or off; and, one socket in
/// three, other options drawn from `opts` (apart from `rng`, so that the
/// run's other draws stay as they were): SACK, timestamps or window
/// scaling off (so the peers negotiate them away), NewReno instead of
/// CUBIC, a clamped MSS (536 to 1460), delayed ACKs off or at 200 ms,
/// room for only 1 to 4 out-of-order ranges or SACKed blocks, no SYN
/// cookies. Every combination must interoperate with every other.
fn tcp_config(rng: &mut SeededRng, opts: &mut SeededRng) -> TcpConfig {
    let size = |rng: &mut SeededRng| 1024usize << rng.below(9);
    let config = TcpConfig {
        send_buffer: size(rng),
        recv_buffer: size(rng),
        nodelay: rng.below(2) == 0,
        ..TcpConfig::default()
    };
    if opts.below(3) != 0 {
        return config;
    }
    let off = |opts: &mut SeededRng| opts.below(3) == 0;
    let default = TcpConfig::default();
    TcpConfig {
        sack: !off(opts),
        timestamps: !off(opts),
        window_scale: !off(opts),
        cc: if off(opts) {
            CcAlgorithm::NewReno
        } else {
            CcAlgorithm::Cubic
        },
        mss: if off(opts) {
            536 + opts.below(925) as u16
        } else {
            default.mss
        },
        delayed_ack: match opts.below(4) {
            0 => Duration::ZERO,
            1 => Duration::from_millis(200),
            _ => default.delayed_ack,
        },
        max_ooo_ranges: if off(opts) {
            1 + opts.below(4) as usize
        } else {
            default.max_ooo_ranges
        },
        max_sack_blocks: if off(opts) {
            1 + opts.below(4) as usize
        } else {
            default.max_sack_blocks
        },
        syn_cookies: !off(opts),
        ..config
    }
}

/// Faults one way on one link: loss up to `max_loss` per mille,
/// reordering, duplication, and corruption in half the runs.
fn faults(rng: &mut SeededRng, max_loss: u32) -> FaultConfig {
    let pct = |rng: &mut SeededRng, max: u32| f64::from(rng.below(max + 1)) / 1000.0;
    FaultConfig::new()
        .with_loss(pct(rng, max_loss))
        .with_reorder(pct(rng, 50), 1 + rng.below(3))
        .with_duplicate(pct(rng, 10))
        .with_corrupt(if rng.below(2) == 0 { pct(rng, 10) } else { 0.0 })
}

/// The client's connections go straight to the server, through a router
/// that masquerades the client's LAN, or through one that forwards its
/// WAN address's service ports to the server on its LAN; or from two or
/// three client hosts on one LAN segment (a hub) behind the masquerade,
/// whose connections the router must keep apart on its one WAN address
/// (their local ports clash: RFC 4787 REQ-3, RFC 5382 REQ-2); or from
/// client hosts on the server's own LAN segment to the router's public
/// address, which the router turns back into the LAN (hairpin NAT: the
/// destination and the source translated, RFC 4787 REQ-9, RFC 5382
/// REQ-8); or through two masquerading routers in a row; or from behind
/// a masquerade to a server behind another router's port forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Nat,
    PortForward,
    NatShared,
    Hairpin,
    DoubleNat,
    NatToForward,
}

/// A wire between two hosts, faults on both ends' transmissions and, one
/// end in three, a transmit ring that fills; whether it corrupts, and
/// whether it may lose a frame (loss, corruption or a full ring).
/// With `clean`, the same draws give a perfect wire; without `corrupt`,
/// one that flips no bits.
fn faulty_wire(
    rng: &mut SeededRng,
    seed: u64,
    max_loss: u32,
    clean: bool,
    corrupt: bool,
) -> (Dev, Dev, bool, bool) {
    let (pa, pb) = wire(link(rng, 512));
    let (mut devs, corrupting, lossy) =
        faulty_ports(rng, seed, vec![pa, pb], max_loss, clean, corrupt);
    let db = devs.pop().unwrap();
    let da = devs.pop().unwrap();
    (da, db, corrupting, lossy)
}

/// A link's latency (0.2 to 2.2 ms) and queue.
fn link(rng: &mut SeededRng, queue: usize) -> LinkConfig {
    LinkConfig::new()
        .with_latency(Duration::from_micros(200 + u64::from(rng.below(2000))))
        .with_queue_len(queue)
}

/// The ends of one link (a wire, or a hub's ports) with faults on each
/// one's transmissions and, one in three, a transmit ring that fills;
/// whether any corrupts, and whether any may lose a frame. With `clean`,
/// the same draws give perfect ends; without `corrupt`, ones that flip
/// no bits.
fn faulty_ports(
    rng: &mut SeededRng,
    seed: u64,
    ports: Vec<Port>,
    max_loss: u32,
    clean: bool,
    corrupt: bool,
) -> (Vec<Dev>, bool, bool) {
    let mut configs: Vec<FaultConfig> = ports.iter().map(|_| faults(rng, max_loss)).collect();
    for f in &mut configs {
        if clean {
            *f = FaultConfig::new();
        }
        if !corrupt {
            f.corrupt = 0.0;
        }
    }
    let corrupting = configs.iter().any(|f| f.corrupt > 0.0);
    // A transmit ring of 1-8 frames a poll.
    let rings: Vec<Option<usize>> = ports
        .iter()
        .map(|_| (rng.below(3) == 0).then(|| 1 + rng.below(8) as usize))
        .map(|r| r.filter(|_| !clean))
        .collect();
    let lossy =
        corrupting || configs.iter().any(|f| f.loss > 0.0) || rings.iter().any(Option::is_some);
    let devs = ports
        .into_iter()
        .zip(configs)
        .zip(rings)
        .enumerate()
        .map(|(i, ((p, f), r))| {
            TxLimit::new(
                FaultInjector::new(p, seed.wrapping_add(i as u64)).with_tx(f),
                r,
            )
        })
        .collect();
    (devs, corrupting, lossy)
}

/// The client hosts, the server host, the routers between them (on the
/// router paths, from the clients' side to the server's), the server's
/// address, and whether no frame can be lost.
struct Net {
    a: Vec<Host>,
    b: Host,
    routers: Vec<Host<Filter>>,
    server: Ipv4Addr,
    lossless: bool,
    /// Some wire flips bits.
    corrupting: bool,
}

/// The hosts of a run on `path`, their wires drawn from `rng` (perfect
/// ones if `clean`).
fn network(rng: &mut SeededRng, seed: u64, path: Path, clean: bool) -> Net {
    // Corruption reaches ARP, which has no checksum (on Ethernet the
    // frame check sequence would drop such a frame): a flipped bit in a
    // sender address poisons the neighbour entry until it expires. With
    // corruption on, the hosts of a link know each other's address
    // statically.
    let config = |n: u8| host_config(seed, n);
    match path {
        Path::Direct => {
            let (da, db, corrupting, lossy) = faulty_wire(rng, seed, 100, clean, true);
            let mut a = Host::new(1, config(1), NoHooks, vec![(da, "192.0.2.1/24")]);
            let mut b = Host::new(2, config(2), NoHooks, vec![(db, "192.0.2.2/24")]);
            if corrupting {
                a.know(0, SERVER, mac(2, 0));
                b.know(0, Ipv4Addr::new(192, 0, 2, 1), mac(1, 0));
            }
            Net {
                a: vec![a],
                b,
                routers: Vec::new(),
                server: SERVER,
                lossless: !lossy,
                corrupting,
            }
        }
        Path::PortForward => {
            // The client on the WAN, the server on the LAN; the LAN alone
            // flips bits (see below).
            let (da, wan, wan_lossy) = {
                let (da, wan, _, lossy) = faulty_wire(rng, seed, 50, clean, false);
                (da, wan, lossy)
            };
            let (lan, db, lan_corrupts, lan_lossy) =
                faulty_wire(rng, seed ^ 0xa5a5, 50, clean, true);
            let a = Host::new(1, config(1), NoHooks, vec![(da, "198.51.100.1/24")]);
            let mut b = Host::new(2, config(2), NoHooks, vec![(db, "192.168.1.10/24")]);
            b.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
            let mut r = router(rng, seed, FORWARD_RULES, lan, wan);
            if lan_corrupts {
                b.know(0, ROUTER_LAN, mac(3, 0));
                r.know(0, Ipv4Addr::new(192, 168, 1, 10), mac(2, 0));
            }
            Net {
                a: vec![a],
                b,
                routers: vec![r],
                server: ROUTER_WAN,
                lossless: !(lan_lossy || wan_lossy),
                corrupting: lan_corrupts,
            }
        }
        Path::Nat => {
            // Two links of up to 5% loss each way. Only the LAN flips
            // bits: a frame corrupted on both links could carry two
            // flips that cancel in the Internet checksum (a real link's
            // frame check sequence drops a damaged frame).
            let (da, lan, lan_corrupts, lan_lossy) = faulty_wire(rng, seed, 50, clean, true);
            let (wan, db, wan_corrupts, wan_lossy) =
                faulty_wire(rng, seed ^ 0xa5a5, 50, clean, false);
            let mut a = Host::new(1, config(1), NoHooks, vec![(da, "192.168.1.10/24")]);
            a.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
            let mut b = Host::new(2, config(2), NoHooks, vec![(db, "198.51.100.1/24")]);
            let mut r = router(rng, seed, NAT_RULES, lan, wan);
            if lan_corrupts {
                a.know(0, ROUTER_LAN, mac(3, 0));
                r.know(0, Ipv4Addr::new(192, 168, 1, 10), mac(1, 0));
            }
            if wan_corrupts {
                b.know(0, ROUTER_WAN, mac(3, 1));
                r.know(1, WAN_SERVER, mac(2, 0));
            }
            Net {
                a: vec![a],
                b,
                routers: vec![r],
                server: WAN_SERVER,
                lossless: !(lan_lossy || wan_lossy),
                corrupting: lan_corrupts,
            }
        }
        Path::Hairpin => hairpin_network(rng, seed, clean),
        Path::NatToForward => two_routers(rng, seed, clean, true),
        Path::DoubleNat => two_routers(rng, seed, clean, false),
        Path::NatShared => {
            // Two or three client hosts and the router's LAN port on one
            // hub (the LAN alone flips bits, as on the NAT path).
            let n = 2 + rng.below(2) as usize;
            let ports = hub(n + 1, link(rng, 512));
            let (mut lan, lan_corrupts, lan_lossy) =
                faulty_ports(rng, seed, ports, 50, clean, true);
            let (wan, db, wan_corrupts, wan_lossy) =
                faulty_wire(rng, seed ^ 0xa5a5, 50, clean, false);
            let router_lan = lan.remove(0);
            let mut hosts = Vec::new();
            for (k, dev) in lan.into_iter().enumerate() {
                let addr = format!("192.168.1.{}/24", 10 + k);
                let mut h = Host::new(
                    4 + k as u8,
                    config(4 + k as u8),
                    NoHooks,
                    vec![(dev, &addr)],
                );
                h.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
                hosts.push(h);
            }
            let mut b = Host::new(2, config(2), NoHooks, vec![(db, "198.51.100.1/24")]);
            let mut r = router(rng, seed, NAT_RULES, router_lan, wan);
            if lan_corrupts {
                for (k, h) in hosts.iter_mut().enumerate() {
                    h.know(0, ROUTER_LAN, mac(3, 0));
                    r.know(
                        0,
                        Ipv4Addr::new(192, 168, 1, 10 + k as u8),
                        mac(4 + k as u8, 0),
                    );
                }
            }
            if wan_corrupts {
                b.know(0, ROUTER_WAN, mac(3, 1));
                r.know(1, WAN_SERVER, mac(2, 0));
            }
            Net {
                a: hosts,
                b,
                routers: vec![r],
                server: WAN_SERVER,
                lossless: !(lan_lossy || wan_lossy),
                corrupting: lan_corrupts,
            }
        }
    }
}

/// A client behind a masquerading home router (host 9), whose WAN leads
/// to a second router (host 3) in front of the server: with `forward`,
/// a router forwarding its WAN address's service ports to the server on
/// its LAN (both LANs numbered 192.168.1.0/24, their hosts and routers
/// with the same addresses; the routers' WANs on one link); without, a
/// carrier's masquerading router, the shared address space (RFC 6598)
/// between the two, the server beyond. Three links of up to 3.5% loss
/// each way; the client's LAN alone flips bits (as on the NAT path).
fn two_routers(rng: &mut SeededRng, seed: u64, clean: bool, forward: bool) -> Net {
    let config = |n: u8| host_config(seed, n);
    let (da, lan, lan_corrupts, lan_lossy) = faulty_wire(rng, seed, 35, clean, true);
    let (home_wan, far_mid, _, mid_lossy) = faulty_wire(rng, seed ^ 0x5a5a, 35, clean, false);
    let (far_end, db, _, far_lossy) = faulty_wire(rng, seed ^ 0xa5a5, 35, clean, false);
    let mut a = Host::new(1, config(1), NoHooks, vec![(da, "192.168.1.10/24")]);
    a.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
    let (home_addr, home_gateway) = if forward {
        (OTHER_WAN, None)
    } else {
        (HOME_WAN, Some(CARRIER_LAN))
    };
    let mut home = router_at(
        rng,
        seed ^ 0x40e,
        NAT_RULES,
        9,
        [(lan, ROUTER_LAN, 24), (home_wan, home_addr, 24)],
        home_gateway,
    );
    let (far, b, server) = if forward {
        let far = router(rng, seed, FORWARD_RULES, far_end, far_mid);
        let mut b = Host::new(2, config(2), NoHooks, vec![(db, "192.168.1.10/24")]);
        b.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
        (far, b, ROUTER_WAN)
    } else {
        let ends = [(far_mid, CARRIER_LAN, 24), (far_end, ROUTER_WAN, 24)];
        let far = router_at(rng, seed, NAT_RULES, 3, ends, None);
        let b = Host::new(2, config(2), NoHooks, vec![(db, "198.51.100.1/24")]);
        (far, b, WAN_SERVER)
    };
    if lan_corrupts {
        a.know(0, ROUTER_LAN, mac(9, 0));
        home.know(0, Ipv4Addr::new(192, 168, 1, 10), mac(1, 0));
    }
    Net {
        a: vec![a],
        b,
        routers: vec![home, far],
        server,
        lossless: !(lan_lossy || mid_lossy || far_lossy),
        corrupting: lan_corrupts,
    }
}

/// The router (host 3): `lan` its device 0 (192.168.1.1/24), `wan` its
/// device 1 (198.51.100.2/24), forwarding through a `lamina-filter` with
/// `rules`, and its routes perhaps narrowed (`narrow_routes`).
fn router(rng: &mut SeededRng, seed: u64, rules: &'static str, lan: Dev, wan: Dev) -> Host<Filter> {
    router_at(
        rng,
        seed,
        rules,
        3,
        [(lan, ROUTER_LAN, 24), (wan, ROUTER_WAN, 24)],
        None,
    )
}

/// Router host `n` with device 0 (its LAN) and device 1 (its WAN) at
/// the given addresses and prefix lengths, a default route through
/// `gateway` on its WAN if any, forwarding through a `lamina-filter`
/// with `rules`, and its routes perhaps narrowed (`narrow_routes`).
fn router_at(
    rng: &mut SeededRng,
    seed: u64,
    rules: &'static str,
    n: u8,
    ends: [(Dev, Ipv4Addr, u8); 2],
    gateway: Option<Ipv4Addr>,
) -> Host<Filter> {
    let text = rules;
    let rules: Ruleset = rules.parse().unwrap();
    // One router in five tracks at most 4 to 16 flows: past that, a new
    // flow is refused (after reclaiming expired ones and evicting the
    // oldest unanswered), which its sender sees as loss.
    let mut config = FilterConfig::default();
    if rng.below(5) == 0 {
        config.conntrack.max_entries = 4 + rng.below(13) as usize;
    }
    let mut filter = Filter::new(rules, config, &mut SeededRng::new(seed)).unwrap();
    let mut rc = host_config(seed, n);
    rc.forwarding = true;
    let [lan, wan] = ends;
    for (i, (_, addr, _)) in [&lan, &wan].into_iter().enumerate() {
        filter.set_interface_address(IfaceId(i as u16), *addr);
    }
    let cidr = |(_, addr, len): &(Dev, Ipv4Addr, u8)| format!("{addr}/{len}");
    let (lan_cidr, wan_cidr) = (cidr(&lan), cidr(&wan));
    let mut r = Host::new(n, rc, filter, vec![(lan.0, &lan_cidr), (wan.0, &wan_cidr)]);
    r.rules = Some(text);
    if let Some(gw) = gateway {
        r.iface.set_default_gateway(gw, IfaceId(1)).unwrap();
    }
    narrow_routes(rng, &mut r);
    r
}

/// One router run in three, each of the router's routes out of its two
/// devices (to its LAN, to its WAN: the WAN's prefix, or the default
/// route where it has one) carries less than its link: 576 to 1499
/// bytes. Hosts learn it only from the router: TCP by path MTU discovery
/// (the router's "fragmentation needed" translated back to the host that
/// sent a segment), UDP and ping by the router fragmenting what it
/// forwards (fragments of fragments, after NAT).
fn narrow_routes<H: PacketHook>(rng: &mut SeededRng, r: &mut Host<H>) {
    if rng.below(3) != 0 {
        return;
    }
    for i in 0..2u16 {
        if rng.below(2) == 0 {
            narrow_route(r, i, 576 + rng.below(924) as u16);
        }
    }
}

/// Gives the route the router's forwarding out of device `i` uses most
/// (its widest) an MTU of `mtu`.
fn narrow_route<H: PacketHook>(r: &mut Host<H>, i: u16, mtu: u16) {
    let widest = r
        .iface
        .routes()
        .iter()
        .filter(|(_, route)| route.interface == IfaceId(i))
        .min_by_key(|(prefix, _)| prefix.prefix_len())
        .map(|(prefix, route)| (prefix, *route));
    if let Some((prefix, route)) = widest {
        r.iface
            .routes_mut()
            .replace(prefix, route.with_mtu(mtu))
            .unwrap();
    }
}

/// Host `n`'s settings: one host in four (drawn apart from the run)
/// takes at most 1 to 8 frames from a device per round instead of 64,
/// leaving the rest queued for the next (a busy host): timing only.
fn host_config(seed: u64, n: u8) -> InterfaceConfig {
    let mut rng = SeededRng::new(seed ^ 0xb0d9_e700 ^ (u64::from(n) << 40));
    let mut config = InterfaceConfig::default();
    if rng.below(4) == 0 {
        config.budget = 1 + rng.below(8) as usize;
    }
    config
}

/// The hairpin network: the router's LAN port, the server and one to
/// three client hosts on one segment; the router's WAN link leads
/// nowhere. Every datagram crosses the segment twice, so it flips no
/// bits (two flips could cancel in the Internet checksum).
fn hairpin_network(rng: &mut SeededRng, seed: u64, clean: bool) -> Net {
    let n = 1 + rng.below(3) as usize;
    let ports = hub(n + 2, link(rng, 512));
    let (mut lan, _, lossy) = faulty_ports(rng, seed, ports, 50, clean, false);
    let (wan, _nowhere) = wire(link(rng, 16));
    let wan = TxLimit::new(FaultInjector::new(wan, seed), None);
    let router_lan = lan.remove(0);
    let mut b = Host::new(
        2,
        host_config(seed, 2),
        NoHooks,
        vec![(lan.remove(0), "192.168.1.100/24")],
    );
    b.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
    let mut hosts = Vec::new();
    for (k, dev) in lan.into_iter().enumerate() {
        let addr = format!("192.168.1.{}/24", 10 + k);
        let mut h = Host::new(
            4 + k as u8,
            host_config(seed, 4 + k as u8),
            NoHooks,
            vec![(dev, &addr)],
        );
        h.iface.set_default_gateway(ROUTER_LAN, IfaceId(0)).unwrap();
        hosts.push(h);
    }
    let r = router(rng, seed, HAIRPIN_RULES, router_lan, wan);
    Net {
        a: hosts,
        b,
        routers: vec![r],
        server: ROUTER_WAN,
        lossless: !lossy,
        corrupting: false,
    }
}

/// Polls every host until none has anything left to do at `now`.
fn settle<H: PacketHook>(
    hosts: &mut [Host],
    b: &mut Host,
    routers: &mut [Host<H>],
    now: Instant,
) -> bool {
    let mut spins = 0;
    loop {
        let mut busy = b.poll(now);
        for h in hosts.iter_mut() {
            busy |= h.poll(now);
        }
        for r in routers.iter_mut() {
            busy |= r.poll(now);
        }
        if !busy {
            return spins < 100_000;
        }
        spins += 1;
        if spins >= 100_000 {
            return false;
        }
    }
}

/// The earliest timer of any host.
fn next_timer<H: PacketHook>(
    hosts: &mut [Host],
    b: &mut Host,
    routers: &mut [Host<H>],
) -> Option<Instant> {
    hosts
        .iter_mut()
        .map(|h| h.poll_at())
        .chain([b.poll_at()])
        .chain(routers.iter_mut().map(|r| r.poll_at()))
        .flatten()
        .min()
}

/// The sockets with something for their application, and what: listeners
/// with a connection to accept; connections with data or an end to read
/// (`.2`), or with room to send what their application still has to
/// write (`.3`).
fn ready(
    hosts: &[Host],
    b: &Host,
    listeners: &[(SocketHandle, u16)],
    server_socks: &[(SocketHandle, Key, u16)],
    served: &HashMap<Key, Served>,
    clients: &[Client],
) -> Vec<(usize, SocketHandle, bool, bool)> {
    let server = hosts.len();
    let ready = |host: usize, set: &SocketSet, h, writing: bool| match set.get(h) {
        Some(lamina_socket::Socket::Tcp(t)) => {
            let (recv, send) = (t.can_recv(), writing && t.can_send());
            (recv || send).then_some((host, h, recv, send))
        }
        _ => None,
    };
    listeners
        .iter()
        .filter(|&&(l, _)| b.sockets.tcp_pending(l) > 0)
        .map(|&(l, _)| (server, l, true, false))
        .chain(server_socks.iter().filter_map(|&(s, key, _)| {
            let writing = served.get(&key).is_some_and(|st| st.echoed < st.got.len());
            ready(server, &b.sockets, s, writing)
        }))
        .chain(clients.iter().filter_map(|c| {
            let h = c.handle.filter(|_| !c.done)?;
            let writing = c.written < c.data.len();
            ready(c.host, &hosts[c.host].sockets, h, writing)
        }))
        .collect()
}

/// Flows the routers evicted to make room for new ones.
fn evictions(routers: &[Host<Filter>]) -> u64 {
    routers
        .iter()
        .map(|r| r.iface.hooks().conntrack().stats().evicted)
        .sum()
}

/// New flows the routers refused for want of room (nothing evictable).
fn refusals(routers: &[Host<Filter>]) -> u64 {
    routers
        .iter()
        .map(|r| r.iface.hooks().stats().ct_refused)
        .sum()
}

/// Whether a router tracks few flows (see `router_at`).
fn tight_tables(routers: &[Host<Filter>]) -> bool {
    routers
        .iter()
        .any(|r| r.iface.hooks().conntrack().config().max_entries < 64)
}

/// A router restart, drawn apart from the run (the run's other draws
/// stay as they were): one faulty run in six with routers, one of them
/// loses its whole connection-tracking table at an instant in the first
/// 4 s, as a router that reboots. Flows then go on only where the next
/// datagram comes the way that opens them (picked up midstream, their
/// NAT ports kept where free); others end in resets or timeouts, as
/// with eviction.
struct Restart {
    at: Option<(usize, Instant)>,
    /// It happened (to this router).
    done: bool,
    router: Option<usize>,
}

impl Restart {
    fn draw(seed: u64, clean: bool, routers: usize) -> Restart {
        let mut rng = SeededRng::new(seed ^ 0x7e57_a77e);
        let at = (!clean && routers > 0 && rng.below(6) == 0).then(|| {
            (
                rng.below(routers as u32) as usize,
                Instant::from_millis(u64::from(rng.below(4_000))),
            )
        });
        Restart {
            at,
            done: false,
            router: None,
        }
    }

    /// Clears the router's table once its instant has come.
    fn step(&mut self, routers: &mut [Host<Filter>], now: Instant) {
        if let Some((r, at)) = self.at
            && now >= at
        {
            routers[r].iface.hooks_mut().conntrack_mut().clear();
            self.at = None;
            self.done = true;
            self.router = Some(r);
        }
    }

    /// The router that restarted.
    fn router(&self) -> Option<usize> {
        self.router
    }

    /// The next instant the restart needs a poll at.
    fn poll_at(&self) -> Option<Instant> {
        self.at.map(|(_, at)| at)
    }
}

/// Routine operations at random instants, drawn apart from the run: a
/// router's administrator reloading its ruleset (the same rules: flows
/// and their NAT stay), a host's or router's neighbour cache flushed
/// (`ip neigh flush`: what was waiting for resolution is dropped), a
/// router's route narrowed under live connections (a path that changed:
/// TCP learns it by path MTU discovery, datagrams are fragmented), a
/// router's connection tracking swept for expired flows. None
/// may change anything but timing: every check of the run holds. On
/// faulty wires also a route that goes away for up to three seconds and
/// comes back (its traffic answered "unreachable": a soft error to an
/// established connection, RFC 1122 §4.2.3.9).
struct Chores {
    due: Vec<(Instant, Chore)>,
    /// A route went away.
    outaged: bool,
}

#[derive(Debug, Clone)]
enum Chore {
    Reload(usize),
    ForgetClient(usize),
    ForgetServer,
    ForgetRouter(usize),
    /// Router, device, MTU.
    Narrow(usize, u16, u16),
    /// Router, device, for how long: the route out of the device gone
    /// (the router answers "net unreachable"), then back.
    Outage(usize, u16, Duration),
    Restore(usize, Ipv4Cidr, Route),
    /// A router's connection tracking swept for expired flows at once.
    Collect(usize),
    /// A client host, the server or a router's device given a
    /// new hardware address (a replaced card): announced, learned.
    NewMac(Node, u16),
}

/// Which host a chore is for.
#[derive(Debug, Clone, Copy)]
enum Node {
    Client(usize),
    Server,
    Router(usize),
}

impl Chores {
    fn draw(seed: u64, clean: bool, clients: usize, routers: usize) -> Chores {
        let mut rng = SeededRng::new(seed ^ 0xc40_2e5);
        let mut due = Vec::new();
        for _ in 0..rng.below(4) {
            let at = Instant::from_millis(u64::from(rng.below(6_000)));
            let chore = match rng.below(5) {
                0 if routers > 0 => Chore::Reload(rng.below(routers as u32) as usize),
                1 if routers > 0 => Chore::ForgetRouter(rng.below(routers as u32) as usize),
                2 if routers > 0 => Chore::Narrow(
                    rng.below(routers as u32) as usize,
                    rng.below(2) as u16,
                    576 + rng.below(924) as u16,
                ),
                3 if routers > 0 && !clean && rng.below(2) == 0 => Chore::Outage(
                    rng.below(routers as u32) as usize,
                    rng.below(2) as u16,
                    Duration::from_millis(u64::from(100 + rng.below(2_900))),
                ),
                3 => Chore::ForgetServer,
                4 if routers > 0 && rng.below(2) == 0 => {
                    Chore::Collect(rng.below(routers as u32) as usize)
                }
                4 => {
                    let node = match rng.below(3) {
                        0 if routers > 0 => Node::Router(rng.below(routers as u32) as usize),
                        1 => Node::Server,
                        _ => Node::Client(rng.below(clients as u32) as usize),
                    };
                    Chore::NewMac(node, rng.below(2) as u16)
                }
                _ => Chore::ForgetClient(rng.below(clients as u32) as usize),
            };
            due.push((at, chore));
        }
        Chores {
            due,
            outaged: false,
        }
    }

    fn step(
        &mut self,
        hosts: &mut [Host],
        b: &mut Host,
        routers: &mut [Host<Filter>],
        now: Instant,
    ) {
        let mut later = Vec::new();
        self.due.retain(|(at, chore)| {
            if *at > now {
                return true;
            }
            match *chore {
                Chore::Reload(r) => {
                    let r = &mut routers[r];
                    let rules: Ruleset = r.rules.unwrap().parse().unwrap();
                    r.iface.hooks_mut().set_ruleset(rules).unwrap();
                }
                Chore::ForgetClient(h) => hosts[h].forget_neighbors(),
                Chore::ForgetServer => b.forget_neighbors(),
                Chore::ForgetRouter(r) => routers[r].forget_neighbors(),
                Chore::Narrow(r, i, mtu) => narrow_route(&mut routers[r], i, mtu),
                Chore::Outage(r, i, len) => {
                    let routes = routers[r].iface.routes_mut();
                    let widest = routes
                        .iter()
                        .filter(|(_, route)| route.interface == IfaceId(i))
                        .min_by_key(|(prefix, _)| prefix.prefix_len())
                        .map(|(prefix, route)| (prefix, *route));
                    if let Some((prefix, route)) = widest {
                        self.outaged = true;
                        routes.remove(prefix, route.metric);
                        later.push((now + len, Chore::Restore(r, prefix, route)));
                    }
                }
                Chore::Collect(r) => {
                    routers[r].iface.hooks_mut().conntrack_mut().gc(now);
                }
                Chore::NewMac(node, dev) => match node {
                    Node::Client(h) => hosts[h].new_mac(dev, now),
                    Node::Server => b.new_mac(dev, now),
                    Node::Router(r) => routers[r].new_mac(dev, now),
                },
                Chore::Restore(r, prefix, route) => {
                    routers[r].iface.routes_mut().insert(prefix, route).unwrap();
                }
            }
            false
        });
        self.due.extend(later);
    }

    fn poll_at(&self) -> Option<Instant> {
        self.due.iter().map(|&(at, _)| at).min()
    }

    /// Whether a route will go away or a host's hardware address change
    /// (datagrams are then lost: those in flight to the old address).
    fn upsets_delivery(&self) -> bool {
        self.due
            .iter()
            .any(|(_, c)| matches!(c, Chore::Outage(..) | Chore::NewMac(..)))
    }
}

/// How a connection cut by a router, or ended by the server, may end:
/// reset (by the server, or by a router's own stack where the flow is
/// gone), or timed out (reported as the soft error behind the timeout,
/// if any: an unreachable) where the client's segments could not reach
/// the server again: a restarted router cannot pick its flow up (only a
/// plain ACK opens one midstream; a FIN sent again and again does not),
/// or a full router refuses the flow the server's lost reset closed
/// (the client's retransmissions or keepalive probes would draw another
/// reset; seed 54,694: the table held five live flows, nothing
/// evictable), as Linux's would.
fn cut_short(e: Error, unreachable: bool) -> bool {
    e == Error::Tcp(ConnError::Reset)
        || (unreachable
            && matches!(
                e,
                Error::Tcp(
                    ConnError::TimedOut
                        | ConnError::NetworkUnreachable
                        | ConnError::HostUnreachable
                )
            ))
}

/// One random run; panics with the seed in the message when a check
/// fails.
fn lifecycle_run(seed: u64, path: Path) {
    let mut rng = SeededRng::new(seed ^ 0x11fe ^ ((path as u64) << 32));
    // One run in four on perfect wires, where nothing may stall.
    let clean = rng.below(4) == 0;
    let Net {
        a: mut hosts,
        mut b,
        mut routers,
        server,
        ..
    } = network(&mut rng, seed, path, clean);
    let tight = tight_tables(&routers);
    let mut restart = Restart::draw(seed, clean, routers.len());
    let mut chores = Chores::draw(seed, clean, hosts.len(), routers.len());
    // TCP options, drawn apart (see `tcp_config`); so are the server's
    // slow readers (see `draw_pace`).
    let mut opts = SeededRng::new(seed ^ 0x0b7_0b75);
    let mut pace = SeededRng::new(seed ^ 0x0051_0ead);
    // When every application was done, and whether a peer vanished
    // without a word (then only keepalive tells the other end).
    let mut over_at: Option<Instant> = None;
    let mut vanished = false;
    let n_hosts = hosts.len() as u32;

    let mut listeners = Vec::new();
    for port in [ECHO, DISCARD] {
        let l = b
            .sockets
            .add(TcpSocket::new(tcp_config(&mut rng, &mut opts)))
            .unwrap();
        let backlog = 1 + rng.below(16) as usize;
        b.sockets
            .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), backlog)
            .unwrap();
        listeners.push((l, port));
    }

    let most = if rng.below(4) == 0 { 40 } else { 10 };
    let count = 1 + rng.below(most) as usize;
    let mut clients: Vec<Client> = (0..count)
        .map(|i| {
            let len = match rng.below(4) {
                0 => rng.below(100) as usize,
                1 => rng.below(5_000) as usize,
                _ => rng.below(60_000) as usize,
            };
            let end = match rng.below(11) {
                0..=3 => End::Echo,
                4..=7 => End::CloseAfterWrite,
                8 | 9 => End::Abort {
                    after: rng.below(len as u32 + 1) as usize,
                },
                _ => End::CloseEarly,
            };
            let len = if end == End::CloseEarly { 0 } else { len };
            Client {
                start: Instant::from_millis(u64::from(rng.below(2_000))),
                data: (0..len)
                    .map(|k| (k * 31 + i * 7 + seed as usize) as u8)
                    .collect(),
                piece: 1 + rng.below(20_000) as usize,
                end,
                handle: None,
                written: 0,
                echo: Vec::new(),
                done: false,
                local: None,
                seen_as: None,
                via: Vec::new(),
                config: tcp_config(&mut rng, &mut opts),
                retries: 0,
                lost: false,
                eager: rng.below(2) == 0,
                key: None,
                bind: (rng.below(4) == 0).then(|| 40_000 + rng.below(3) as u16),
                port: match end {
                    End::Echo => ECHO,
                    End::CloseAfterWrite => DISCARD,
                    _ => [ECHO, DISCARD][rng.below(2) as usize],
                },
                host: if n_hosts > 1 {
                    rng.below(n_hosts) as usize
                } else {
                    0
                },
            }
        })
        .collect();
    // The server's connections.
    let mut served: HashMap<Key, Served> = HashMap::new();
    // Connections established so far from each client address, as the
    // client counts them and as the server does.
    let mut established: HashMap<SocketAddrV4, u32> = HashMap::new();
    let mut accepted: HashMap<SocketAddrV4, u32> = HashMap::new();
    let mut server_socks: Vec<(SocketHandle, Key, u16)> = Vec::new();

    let mut now = Instant::ZERO;
    let limit = Instant::from_secs(3600);
    let mut buf = vec![0u8; 16_384];
    let ctx = |msg: &str| format!("seed {seed} ({path:?}): {msg}");
    // Rounds run at the current instant without a timer.
    let mut rounds_now = 0;
    loop {
        restart.step(&mut routers, now);
        chores.step(&mut hosts, &mut b, &mut routers, now);
        // A router evicted an unanswered flow for room: a connection may
        // have been cut (its SYN-ACKs dropped as invalid until its
        // server gave up on it), which the client sees as a reset; so
        // may a router's restart.
        let churned = evictions(&routers) > 0 || restart.done;
        // Client applications.
        // One client at a time on each shared port of a host (the next
        // may still find the last one's connection closing, or in
        // TIME-WAIT); other hosts' clients use the same ports at once.
        let mut busy: Vec<(usize, u16)> = clients
            .iter()
            .filter(|c| !c.done && c.handle.is_some())
            .filter_map(|c| Some((c.host, c.bind?)))
            .collect();
        for (i, c) in clients.iter_mut().enumerate() {
            if c.done || now < c.start {
                continue;
            }
            let a = &mut hosts[c.host];
            let h = match c.handle {
                Some(h) => h,
                None if c.bind.is_some_and(|p| busy.contains(&(c.host, p))) => continue,
                None => {
                    busy.extend(c.bind.map(|p| (c.host, p)));
                    let h = a.sockets.add(TcpSocket::new(c.config.clone())).unwrap();
                    // A server's RST can be lost too.
                    a.sockets.tcp(h).unwrap().set_keepalive(Some(probing()));
                    a.sockets
                        .connect_tcp(
                            h,
                            SocketAddrV4::new(server, c.port),
                            c.bind.map(|p| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p)),
                        )
                        .unwrap();
                    c.handle = Some(h);
                    h
                }
            };
            if c.end == End::CloseEarly {
                a.sockets.close_tcp(h).unwrap();
                c.done = true;
                continue;
            }
            let t = a.sockets.tcp(h).unwrap();
            if c.local.is_none() && t.is_established() {
                c.local = t.local_addr();
                // Each router's translation of the connection in turn.
                let via = &mut c.via;
                let mut untracked = None;
                c.seen_as = c.local.and_then(|l| {
                    let mut out = Tuple {
                        src: *l.ip(),
                        dst: server,
                        sport: l.port(),
                        dport: c.port,
                        proto: 6,
                    };
                    for (k, r) in routers.iter().enumerate() {
                        let Some((info, _)) = r.iface.hooks().conntrack().lookup(&out) else {
                            untracked = Some(k);
                            return None;
                        };
                        out = Tuple {
                            src: info.reply.dst,
                            dst: info.reply.src,
                            sport: info.reply.dport,
                            dport: info.reply.sport,
                            proto: 6,
                        };
                        via.push(SocketAddrV4::new(out.src, out.sport));
                    }
                    Some(SocketAddrV4::new(out.src, out.sport))
                });
                if let Some(k) = untracked {
                    // A restart just emptied the table: the server's side
                    // cannot be told; the client still runs to its end.
                    assert!(
                        restart.done,
                        "{}",
                        ctx(&format!(
                            "client {i}: established, not tracked by router {k}"
                        ))
                    );
                    c.lost = true;
                }
                if let Some(l) = c.seen_as {
                    let n = established.entry(l).or_default();
                    c.key = Some((l, *n));
                    *n += 1;
                }
            }
            // A connect that failed (every ARP request or SYN lost: host
            // unreachable, timed out, as with Linux) is tried again with
            // a new socket, as applications do. Refused only on a shared
            // port (the server's TIME-WAIT or a late reset of the
            // tuple's last connection): the services listen, so nothing
            // else may answer a SYN with a reset.
            if c.local.is_none() && !t.is_active() {
                let e = t.take_error();
                assert!(
                    matches!(
                        e,
                        Some(
                            Error::AddrInUse
                                | Error::Tcp(
                                    ConnError::HostUnreachable
                                        | ConnError::TimedOut
                                        | ConnError::Reset
                                )
                        )
                    ) || (e == Some(Error::Tcp(ConnError::Refused)) && c.bind.is_some())
                        // A route gone for a while: the router said so,
                        // and the connect timed out with that word.
                        || (e == Some(Error::Tcp(ConnError::NetworkUnreachable)) && chores.outaged),
                    "{}",
                    ctx(&format!("client {i}: connect ended with {e:?}"))
                );
                a.sockets.remove(h);
                c.handle = None;
                // Again after a pause that doubles (10 ms to 1.28 s), as
                // applications back off.
                c.start = now + Duration::from_millis(10 << c.retries.min(7));
                c.retries += 1;
                continue;
            }
            if let End::Abort { after } = c.end
                && c.written >= after
                && (t.is_established() || t.take_error().is_some())
            {
                // A RST, handed to the set to send; one abort in four
                // vanishes without a word (as a host that loses power),
                // which the server finds out by keepalive or by the RST
                // its next segment draws.
                if after % 4 == 0 {
                    vanished = true;
                    t.abort();
                    a.sockets.remove(h);
                } else {
                    a.sockets.abort_tcp(h).unwrap();
                }
                c.done = true;
                continue;
            }
            while c.written < c.data.len() {
                let upto = match c.end {
                    End::Abort { after } => after.max(c.written + 1).min(c.data.len()),
                    _ => c.data.len(),
                };
                let end = upto.min(c.written + c.piece);
                match t.send(&c.data[c.written..end]) {
                    Ok(0) | Err(Error::WouldBlock) => break,
                    Ok(n) => c.written += n,
                    Err(e) if server_ended(&served, c) || churned => {
                        assert!(
                            cut_short(e, restart.done || refusals(&routers) > 0),
                            "{}",
                            ctx(&format!("client {i}: {e:?}"))
                        );
                        c.lost = !server_ended(&served, c);
                        c.done = true;
                        break;
                    }
                    Err(e) => panic!("{}", ctx(&format!("client {i} send: {e:?}"))),
                }
                if matches!(c.end, End::Abort { after } if c.written >= after) {
                    break;
                }
            }
            if c.done {
                // Reset by the server.
                a.sockets.remove(h);
                continue;
            }
            // An application writes (and ends) once connected; an eager
            // one reads the echo as it comes.
            let finished = c.written == c.data.len() && c.local.is_some();
            let reading = c.eager && c.end == End::Echo && c.local.is_some();
            if !(finished || reading) {
                continue;
            }
            match c.end {
                End::CloseAfterWrite => {
                    a.sockets.close_tcp(h).unwrap();
                    c.done = true;
                }
                End::Echo => {
                    if finished && t.state() == lamina_socket::tcp_proto::State::Established {
                        let _ = t.shutdown(Shutdown::Write);
                    }
                    loop {
                        match t.recv(&mut buf) {
                            Ok(0) => {
                                // (A connection the harness lost track of
                                // may have been one the server closed
                                // early.)
                                if server_ended(&served, c) || c.lost {
                                    assert!(
                                        c.data.starts_with(&c.echo),
                                        "{}",
                                        ctx(&format!("client {i}: echo not a prefix"))
                                    );
                                    a.sockets.close_tcp(h).unwrap();
                                    c.done = true;
                                    break;
                                }
                                assert!(
                                    c.echo == c.data,
                                    "{}",
                                    ctx(&format!(
                                        "client {i}: echo of {} bytes differs ({} back)",
                                        c.data.len(),
                                        c.echo.len()
                                    ))
                                );
                                a.sockets.close_tcp(h).unwrap();
                                c.done = true;
                                break;
                            }
                            Ok(n) => c.echo.extend_from_slice(&buf[..n]),
                            Err(Error::WouldBlock) => break,
                            Err(e) if server_ended(&served, c) || churned => {
                                assert!(
                                    cut_short(e, restart.done || refusals(&routers) > 0),
                                    "{}",
                                    ctx(&format!("client {i}: {e:?}"))
                                );
                                c.lost = !server_ended(&served, c);
                                a.sockets.remove(h);
                                c.done = true;
                                break;
                            }
                            Err(e) => panic!(
                                "{}",
                                ctx(&format!(
                                    "client {i} recv: {e:?} local {:?} seen as {:?} {:?}",
                                    c.local, c.seen_as, c.end
                                ))
                            ),
                        }
                    }
                }
                End::CloseEarly => {}
                End::Abort { .. } => {}
            }
        }

        // The server application.
        for &(listener, port) in &listeners {
            while let Ok(s) = b.sockets.accept_tcp(listener) {
                let peer = b.sockets.tcp(s).unwrap().peer_addr().unwrap();
                // Two live connections with one 4-tuple cannot be (the
                // last may have ended unnoticed yet by the application).
                for &(old, k, service) in server_socks.iter() {
                    assert!(
                        k.0 != peer || service != port || !b.sockets.tcp(old).unwrap().is_active(),
                        "{}",
                        ctx(&format!(
                            "{peer} accepted while its last connection is {:?}",
                            b.sockets.tcp(old).unwrap().state()
                        ))
                    );
                }
                let n = accepted.entry(peer).or_default();
                let key = (peer, *n);
                *n += 1;
                // A client's RST can be lost: a server finds out about a
                // peer that went away by probing it (RFC 9293 §3.8.4).
                b.sockets.tcp(s).unwrap().set_keepalive(Some(probing()));
                let (abort_after, close_after) = match rng.below(16) {
                    0 | 1 => (Some(rng.below(20_000) as usize), None),
                    2 => (None, Some(rng.below(20_000) as usize)),
                    _ => (None, None),
                };
                served.insert(
                    key,
                    Served {
                        abort_after,
                        close_after,
                        pace: draw_pace(&mut pace),
                        read_at: now,
                        ..Served::default()
                    },
                );
                server_socks.push((s, key, port));
            }
        }
        server_socks.retain(|&(s, key, port)| {
            let st = served.get_mut(&key).unwrap();
            let t = b.sockets.tcp(s).unwrap();
            // What the application reads now: all there is, or a slow
            // one's chunk when its time has come.
            let mut left = match st.pace {
                None => usize::MAX,
                Some(_) if now < st.read_at => 0,
                Some((chunk, _)) => chunk,
            };
            while left > 0 {
                let want = buf.len().min(left);
                match t.recv(&mut buf[..want]) {
                    Ok(0) => {
                        st.eof = true;
                        break;
                    }
                    Ok(n) => {
                        st.got.extend_from_slice(&buf[..n]);
                        left -= n;
                        if let Some((_, every)) = st.pace {
                            st.read_at = now + every;
                        }
                    }
                    Err(Error::WouldBlock) => break,
                    Err(_) => {
                        // Reset by an aborting client.
                        st.reset = true;
                        b.sockets.remove(s);
                        return false;
                    }
                }
            }
            if st.close_after.is_some_and(|k| st.got.len() >= k) && st.echoed == st.got.len() {
                b.sockets.close_tcp(s).unwrap();
                st.closed_early = true;
                return false;
            }
            if let Some(k) = st.abort_after
                && st.got.len() >= k
            {
                // A RST; or, one in four, silence (as on the client).
                if k % 4 == 0 {
                    vanished = true;
                    t.abort();
                    b.sockets.remove(s);
                } else {
                    b.sockets.abort_tcp(s).unwrap();
                }
                st.aborted = true;
                return false;
            }
            if port == DISCARD {
                st.echoed = st.got.len();
            }
            while st.echoed < st.got.len() {
                match t.send(&st.got[st.echoed..]) {
                    Ok(0) | Err(Error::WouldBlock) => break,
                    Ok(n) => st.echoed += n,
                    // Reset by an aborting client.
                    Err(_) => {
                        st.reset = true;
                        b.sockets.remove(s);
                        return false;
                    }
                }
            }
            if st.eof && st.echoed == st.got.len() {
                b.sockets.close_tcp(s).unwrap();
                return false;
            }
            true
        });

        let ready_before = ready(&hosts, &b, &listeners, &server_socks, &served, &clients);
        assert!(
            settle(&mut hosts, &mut b, &mut routers, now),
            "{}",
            ctx("no quiescence")
        );
        // What happened while the hosts ran (a connection to accept,
        // data or an end to read, room to write in) the applications see
        // at once, not at the next timer; a few rounds at most at one
        // instant.
        let ready_now = ready(&hosts, &b, &listeners, &server_socks, &served, &clients);
        if ready_now.iter().any(|h| !ready_before.contains(h)) && rounds_now < 8 {
            rounds_now += 1;
            continue;
        }
        rounds_now = 0;
        let all_done = clients.iter().all(|c| c.done) && server_socks.is_empty();
        if all_done && over_at.is_none() {
            over_at = Some(now);
        }
        let timers = next_timer(&mut hosts, &mut b, &mut routers);
        let next_start = clients
            .iter()
            .filter(|c| c.handle.is_none())
            .map(|c| c.start)
            .min();
        // A slow server application with something to read wakes then.
        let next_read = server_socks
            .iter()
            .filter_map(|&(s, key, _)| {
                let st = served.get(&key)?;
                let t = b.sockets.tcp(s).ok()?;
                (st.pace.is_some() && st.read_at > now && (t.can_recv() || t.recv_finished()))
                    .then_some(st.read_at)
            })
            .min();
        let next = [
            timers,
            next_start,
            restart.poll_at(),
            chores.poll_at(),
            next_read,
        ]
        .into_iter()
        .flatten()
        .min();
        if all_done && timers.is_none() {
            break;
        }
        now = match next {
            Some(t) if t > now => t,
            _ => now + Duration::from_millis(1),
        };
        assert!(
            now <= limit,
            "{}",
            ctx(&format!(
                "not over after {limit:?}: clients {:?}, server sockets {}",
                clients
                    .iter()
                    .map(|c| (c.end, c.done, c.written, c.data.len(), c.echo.len()))
                    .collect::<Vec<_>>(),
                server_socks.len()
            ))
        );
    }

    for (i, c) in clients.iter().enumerate() {
        if c.local.is_none() {
            assert!(
                matches!(c.end, End::CloseEarly | End::Abort { .. }),
                "{}",
                ctx(&format!("client {i} never connected"))
            );
        }
        let st = served_for(&served, c);
        if c.lost {
            continue;
        }
        // Ended by the server, or handed to the set and perhaps cut by a
        // restart or by an eviction while it opened (its server reset, or
        // never reached: the router's own reset to the SYN-ACK that met
        // no flow): whatever arrived is a prefix of what was written.
        let cut = (restart.done || evictions(&routers) > 0) && c.end == End::CloseAfterWrite;
        if cut || server_ended(&served, c) {
            if let Some(st) = st {
                assert!(c.data.starts_with(&st.got), "{}", ctx("not a prefix"));
            }
            continue;
        }
        match c.end {
            // On a shared port the server's side cannot always be told
            // apart from an earlier connection's (both empty): the client
            // checked the echo itself.
            End::Echo if c.bind.is_some() => {}
            End::Echo => {
                let st = st.expect("echoed, so accepted");
                assert!(
                    st.eof && !st.reset,
                    "{}",
                    ctx(&format!("client {i}: {st:?}"))
                );
            }
            End::CloseAfterWrite => {
                let st = if c.bind.is_some() {
                    served
                        .iter()
                        .find(|(k, st)| Some(k.0) == c.seen_as && st.eof && st.got == c.data)
                        .map(|(_, st)| st)
                } else {
                    st
                };
                let st = st.unwrap_or_else(|| panic!("{}", ctx(&format!("client {i} not served"))));
                assert!(
                    st.eof && st.got == c.data,
                    "{}",
                    ctx(&format!(
                        "client {i}: the server got {} of {} bytes (eof {}, reset {})",
                        st.got.len(),
                        c.data.len(),
                        st.eof,
                        st.reset
                    ))
                );
            }
            End::CloseEarly => {}
            End::Abort { .. } => {
                // Whatever arrived is a prefix of what was written.
                if let Some(st) = st {
                    assert!(
                        c.data.starts_with(&st.got),
                        "{}",
                        ctx("abort: not a prefix")
                    );
                }
            }
        }
    }
    // On perfect wires every connect succeeds and every connection is
    // over soon after the last one started: nothing waits for a timeout (unless a client's shared
    // port waits out a TIME-WAIT, or a vanished peer is found out by
    // keepalive, or a router's full table refuses connections for a
    // while).
    // What the slowest reader's pace alone takes (its reads one after
    // another, nothing else waiting).
    let paced = served
        .values()
        .filter_map(|st| {
            let (chunk, every) = st.pace?;
            Some(every.saturating_mul(st.got.len().div_ceil(chunk) as u64))
        })
        .max()
        .unwrap_or(Duration::ZERO);
    if clean && !vanished && !tight && clients.iter().all(|c| c.bind.is_none()) {
        let last = clients.iter().map(|c| c.start).max().unwrap_or(now);
        let took = over_at.unwrap_or(now).saturating_duration_since(last);
        assert!(
            took < Duration::from_secs(10) + paced,
            "{}",
            ctx(&format!(
                "a clean run took {took:?} after its last start (slow reads {paced:?})"
            ))
        );
        // And no connect failed.
        for (i, c) in clients.iter().enumerate() {
            assert_eq!(
                c.retries,
                0,
                "{}",
                ctx(&format!("client {i}: a connect failed on perfect wires"))
            );
        }
    }
    for a in &hosts {
        assert_eq!(a.sockets.len(), 0, "{}", ctx("client sockets left"));
    }
    assert_eq!(
        b.sockets.len(),
        2,
        "{}",
        ctx("server sockets left besides the listeners")
    );
    for (k, r) in routers.iter().enumerate() {
        if restart.router() == Some(k) {
            // Flows picked up midstream after the restart may have ended
            // in segments the router never saw as an end (a FIN sent
            // before the restart): as any router, it keeps them.
            continue;
        }
        // Every flow the router tracked has ended: nothing is left but
        // entries in their closing timeouts (the longest, TIME-WAIT's two
        // minutes, from now), so every NAT mapping goes with them. Except
        // where a reset ended a connection: a reset is sent once, and if
        // every copy was lost before the router, the router cannot tell
        // (RFC 5382 REQ-5 keeps such a mapping at least two hours; Linux
        // five days).
        let reset: Vec<SocketAddrV4> = clients
            .iter()
            .filter(|c| matches!(c.end, End::Abort { .. }) || server_ended(&served, c))
            .filter_map(|c| c.via.get(k).copied())
            .collect();
        let ct = r.iface.hooks().conntrack();
        let closing = ct.config().timeouts.tcp_time_wait;
        let left: Vec<_> = ct
            .iter()
            .filter(|f| f.expires > now + closing)
            .filter(|f| !reset.contains(&SocketAddrV4::new(f.reply.dst, f.reply.dport)))
            .collect();
        assert!(
            left.is_empty(),
            "{}",
            ctx(&format!("flows left in the router: {left:?}"))
        );
        assert_eq!(r.sockets.len(), 0);
    }
}

/// `LAMINA_LIFECYCLE_SEEDS`: how many seeds (`N`), or which (`A..B`);
/// `default` seeds from 0 without it.
/// Runs `run` for each seed of `LAMINA_LIFECYCLE_SEEDS`, or `0..default`.
fn each_seed(default: u64, run: impl Fn(u64)) {
    let (from, to) = seeds(default);
    (from..to).for_each(run);
}

fn seeds(default: u64) -> (u64, u64) {
    let range = std::env::var("LAMINA_LIFECYCLE_SEEDS").ok();
    match range.as_deref().map(|r| r.split_once("..")) {
        Some(Some((a, b))) => (a.parse().unwrap(), b.parse().unwrap()),
        Some(None) => (0, range.as_deref().unwrap().parse().unwrap()),
        None => (0, default),
    }
}

/// Random lifecycles (connections, amounts, ends, faults): every echo
/// exact, every close-after-write delivered whole, and no socket left
/// once the timers have run out (RFC 9293 §3.10.4, §3.10.5, §3.6).
#[test]
fn random_connection_lifecycles_over_faulty_wires_leave_nothing_behind() {
    each_seed(100, |seed| lifecycle_run(seed, Path::Direct));
}

/// The same to a server on a router's LAN, through the ports the router
/// forwards from its WAN address (destination NAT), faults on both
/// links: connections behave as straight ones, and every flow ends.
#[test]
fn random_connection_lifecycles_through_port_forwarding_leave_nothing_behind() {
    each_seed(50, |seed| lifecycle_run(seed, Path::PortForward));
}

/// The same through a router that masquerades the client's LAN, with a
/// stateful firewall, faults on both of its links: connections behave
/// as without it, and its connection-tracking table empties (every NAT
/// mapping ends) once the hosts are done (RFC 3022 §2.6, RFC 5382 REQ-5).
#[test]
fn random_connection_lifecycles_through_a_nat_router_leave_nothing_behind() {
    each_seed(50, |seed| lifecycle_run(seed, Path::Nat));
}

/// The same from two or three client hosts on one LAN behind the
/// masquerade, sharing local ports: the router keeps their connections
/// apart on its one address (RFC 5382 REQ-2: a mapping per host and
/// port, never the same external 4-tuple for two), and every mapping
/// ends.
#[test]
fn random_connection_lifecycles_from_hosts_sharing_a_nat_router_leave_nothing_behind() {
    each_seed(50, |seed| lifecycle_run(seed, Path::NatShared));
}

/// The same from client hosts on the server's LAN, through the router's
/// public address (hairpin NAT: each connection translated at both ends,
/// and PMTU errors too).
#[test]
fn random_connection_lifecycles_through_hairpin_nat_leave_nothing_behind() {
    each_seed(30, |seed| lifecycle_run(seed, Path::Hairpin));
}

/// The same through two masquerading routers in a row (double NAT):
/// translated twice each way, and PMTU errors back through both.
#[test]
fn random_connection_lifecycles_through_double_nat_leave_nothing_behind() {
    each_seed(30, |seed| lifecycle_run(seed, Path::DoubleNat));
}

/// The same from behind a masquerade to a server behind another router's
/// port forwarding, both LANs numbered alike.
#[test]
fn random_connection_lifecycles_from_nat_to_port_forwarding_leave_nothing_behind() {
    each_seed(30, |seed| lifecycle_run(seed, Path::NatToForward));
}

/// Whether `got` differs from `want` only in ways the Internet checksum
/// cannot see: the same length and the same 16-bit ones'-complement sum
/// (payloads start at an even offset in UDP and ICMP, so the words line
/// up).
fn checksum_blind(want: &[u8], got: &[u8]) -> bool {
    use lamina_netbuf::checksum::ones_complement_sum as sum;
    // 0x0000 and 0xffff are the same number in ones' complement.
    let norm = |x: u16| if x == 0xffff { 0 } else { x };
    want.len() == got.len() && norm(sum(want)) == norm(sum(got))
}

/// A port nothing listens on.
const CLOSED: u16 = 9999;

/// A UDP client socket of a datagram run.
struct UdpClient {
    handle: SocketHandle,
    /// Connected to its destination (else it uses `send_to`).
    connected: bool,
    /// The echo service, or a closed port.
    port: u16,
    /// Its datagrams: when each goes, and the bytes (the first four are
    /// the client's number and the datagram's, so that every datagram is
    /// unique).
    plan: Vec<(Instant, Vec<u8>)>,
    sent: usize,
    /// Echoes received (their numbers).
    echoed: Vec<u16>,
    /// Port unreachable reported.
    refused: bool,
    /// The client host it runs on.
    host: usize,
}

/// One datagram run: UDP clients send to the server's echo service (and,
/// connected, to a port nothing listens on), ping sockets ping it, with
/// payloads up to 4000 bytes (fragmented on the way and reassembled,
/// through the router's NAT on that path). Checks that every datagram
/// the server or a client gets is one that was sent, byte for byte; that
/// the echo service's clients never hear of an error; that a connected
/// client of the closed port hears "connection refused" (RFC 1122
/// §4.1.3.3) when nothing can be lost on the way; that the server sees
/// each client socket as one address (the NAT binding holds); and that
/// once the timers have run no reassembly and no flow is left anywhere.
fn datagram_run(seed: u64, path: Path) {
    let mut rng = SeededRng::new(seed ^ 0xda7a ^ ((path as u64) << 32));
    // One run in four on perfect wires, where every echo and every
    // "connection refused" must arrive.
    let clean = rng.below(4) == 0;
    let Net {
        a: mut hosts,
        mut b,
        mut routers,
        server,
        lossless,
        corrupting,
    } = network(&mut rng, seed, path, clean);
    let mut restart = Restart::draw(seed, clean, routers.len());
    let mut chores = Chores::draw(seed, clean, hosts.len(), routers.len());
    // A router's full table drops datagrams of new flows; a restarted
    // one those of flows whose next datagram comes the other way.
    let lossless =
        lossless && !tight_tables(&routers) && restart.at.is_none() && !chores.upsets_delivery();
    let n_hosts = hosts.len() as u32;
    let pick_host = |rng: &mut SeededRng| {
        if n_hosts > 1 {
            rng.below(n_hosts) as usize
        } else {
            0
        }
    };
    // Sockets bound so far on each host.
    let mut bound = vec![0u16; hosts.len()];
    // A datagram whose fragments each had a bit flipped may pass its
    // checksum: two flips can cancel in a ones'-complement sum. Such a
    // datagram is told apart (its sum equals the original's) and only
    // allowed where bits are flipped.
    let blind = |want: &[u8], got: &[u8]| corrupting && checksum_blind(want, got);
    let ctx = |msg: &str| format!("datagram seed {seed} ({path:?}): {msg}");
    let echo = b.sockets.add(UdpSocket::default()).unwrap();
    b.sockets
        .bind_udp(echo, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, ECHO))
        .unwrap();

    let size = |rng: &mut SeededRng| match rng.below(4) {
        0 => 4 + rng.below(60) as usize,
        1 | 2 => 4 + rng.below(1468) as usize,
        _ => 4 + rng.below(3996) as usize,
    };
    let mut clients = Vec::new();
    let mut refusing = 0;
    for i in 0..1 + rng.below(8) as u16 {
        let host = pick_host(&mut rng);
        let a = &mut hosts[host];
        let h = a.sockets.add(UdpSocket::default()).unwrap();
        // At most three clients of the closed port, one or two datagrams
        // each: their port unreachables fit in the server's ICMP burst
        // toward one destination (6, RFC 1812 §4.3.2.8 rate limiting).
        let port = if refusing < 3 && rng.below(4) == 0 {
            refusing += 1;
            CLOSED
        } else {
            ECHO
        };
        let connected = port == CLOSED || rng.below(2) == 0;
        if connected {
            a.sockets
                .connect_udp(h, SocketAddrV4::new(server, port))
                .unwrap();
        } else {
            // Behind a shared masquerade, the hosts' sockets use the same
            // ports (41000, 41001, ... on each), which the router keeps
            // apart.
            let port = if n_hosts > 1 {
                bound[host] += 1;
                41_000 + bound[host]
            } else {
                0
            };
            a.sockets
                .bind_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                .unwrap();
        }
        let count = if port == CLOSED {
            1 + rng.below(2)
        } else {
            1 + rng.below(20)
        };
        let mut plan = (0..count)
            .map(|_| {
                let at = Instant::from_millis(u64::from(rng.below(5_000)));
                let data: Vec<u8> = (0..size(&mut rng))
                    .map(|x| (x as u64 ^ seed) as u8)
                    .collect();
                (at, data)
            })
            .collect::<Vec<_>>();
        // Numbered in the order they go.
        plan.sort_by_key(|(at, _)| *at);
        for (k, (_, data)) in plan.iter_mut().enumerate() {
            data[..2].copy_from_slice(&i.to_be_bytes());
            data[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        }
        clients.push(UdpClient {
            handle: h,
            connected,
            port,
            plan,
            sent: 0,
            echoed: Vec::new(),
            refused: false,
            host,
        });
    }
    // Ping sockets: each sends a few echo requests.
    let mut pingers = Vec::new();
    for _ in 0..rng.below(3) {
        let host = pick_host(&mut rng);
        let a = &mut hosts[host];
        let h = a.sockets.add(IcmpSocket::default()).unwrap();
        a.sockets.bind_icmp(h, None).unwrap();
        let plan: Vec<(Instant, Vec<u8>)> = (0..1 + rng.below(6))
            .map(|_| {
                let at = Instant::from_millis(u64::from(rng.below(5_000)));
                (at, (0..size(&mut rng)).map(|x| (x * 7) as u8).collect())
            })
            .collect();
        let mut plan = plan;
        plan.sort_by_key(|(at, _)| *at);
        pingers.push((h, plan, 0usize, Vec::new(), host));
    }

    // What each client sends, to know another's echo by.
    let clients_sent: Vec<Vec<Vec<u8>>> = clients
        .iter()
        .map(|c| c.plan.iter().map(|(_, d)| d.clone()).collect())
        .collect();
    // Each client socket as the server sees it.
    let mut seen: HashMap<u16, SocketAddrV4> = HashMap::new();
    let mut now = Instant::ZERO;
    let mut buf = vec![0u8; 8192];
    loop {
        restart.step(&mut routers, now);
        chores.step(&mut hosts, &mut b, &mut routers, now);
        // A router that evicted flows, or lost them all, may map a
        // client's flow anew.
        let remapped = evictions(&routers) > 0 || restart.done;
        for (i, c) in clients.iter_mut().enumerate() {
            let u = hosts[c.host].sockets.udp(c.handle).unwrap();
            while let Some((at, data)) = c.plan.get(c.sent)
                && *at <= now
            {
                let r = if c.connected {
                    u.send(data)
                } else {
                    u.send_to(data, SocketAddrV4::new(server, c.port))
                };
                match r {
                    Ok(()) => c.sent += 1,
                    Err(Error::QueueFull) => break,
                    Err(Error::Icmp(IcmpErrorKind::ConnectionRefused)) if c.port == CLOSED => {
                        c.refused = true
                    }
                    Err(Error::Icmp(IcmpErrorKind::ReassemblyTimeExceeded))
                        if c.connected && !lossless => {}
                    Err(Error::Icmp(IcmpErrorKind::HostUnreachable)) if !lossless => {}
                    // A route gone for a while: the router says so.
                    Err(Error::Icmp(IcmpErrorKind::NetworkUnreachable)) if chores.outaged => {}
                    Err(e) => panic!("{}", ctx(&format!("client {i} send: {e:?}"))),
                }
            }
            loop {
                match u.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        assert_eq!(from, SocketAddrV4::new(server, ECHO), "{}", ctx("source"));
                        let k = u16::from_be_bytes([buf[2], buf[3]]);
                        let sent = c.plan.get(usize::from(k)).map(|(_, d)| &d[..]);
                        let got = &buf[..n];
                        // A router that evicted a flow may give its port
                        // to a new one, which then receives the late
                        // echoes of the old (Linux's NAT alike): another
                        // client's datagram, but one it sent, intact.
                        let j = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                        if j != i && remapped {
                            let theirs = clients_sent.get(j).and_then(|p| p.get(usize::from(k)));
                            assert!(
                                theirs.is_some_and(|d| d == got || blind(d, got)),
                                "{}",
                                ctx(&format!(
                                    "client {i}: echo {k} of client {j} is not what was sent"
                                ))
                            );
                            continue;
                        }
                        assert!(
                            usize::from(k) < c.sent
                                && sent.is_some_and(|d| d == got || blind(d, got)),
                            "{}",
                            ctx(&format!("client {i}: echo {k} is not what was sent"))
                        );
                        c.echoed.push(k);
                    }
                    Err(Error::WouldBlock) => break,
                    Err(Error::Icmp(IcmpErrorKind::ConnectionRefused)) if c.port == CLOSED => {
                        c.refused = true
                    }
                    // What a lossy path can cost a connected socket
                    // (RFC 1122 §4.1.3.3 passes every error on): its
                    // fragments not all arriving, or ARP giving up.
                    Err(Error::Icmp(IcmpErrorKind::ReassemblyTimeExceeded))
                        if c.connected && !lossless => {}
                    // Its own datagram's next hop unresolved: reported
                    // connected or not (a send's own failure).
                    Err(Error::Icmp(IcmpErrorKind::HostUnreachable)) if !lossless => {}
                    // A route gone for a while: the router says so.
                    Err(Error::Icmp(IcmpErrorKind::NetworkUnreachable)) if chores.outaged => {}
                    Err(e) => panic!("{}", ctx(&format!("client {i} ({}): {e:?}", c.port))),
                }
            }
        }
        for (p, (h, plan, sent, got, host)) in pingers.iter_mut().enumerate() {
            let s = hosts[*host].sockets.icmp(*h).unwrap();
            while let Some((at, data)) = plan.get(*sent)
                && *at <= now
            {
                match s.send_echo(server, *sent as u16, data) {
                    Ok(()) => *sent += 1,
                    Err(Error::QueueFull) => break,
                    // An earlier request's error, reported by this call
                    // (which sent nothing): what loss explains only.
                    Err(Error::Icmp(
                        IcmpErrorKind::HostUnreachable | IcmpErrorKind::ReassemblyTimeExceeded,
                    )) if !lossless => {}
                    Err(Error::Icmp(IcmpErrorKind::NetworkUnreachable)) if chores.outaged => {}
                    Err(e) => panic!("{}", ctx(&format!("pinger {p}: {e:?}"))),
                }
            }
            loop {
                let r = match s.recv_echo() {
                    Ok(r) => r,
                    Err(Error::WouldBlock) => break,
                    Err(Error::Icmp(
                        IcmpErrorKind::HostUnreachable | IcmpErrorKind::ReassemblyTimeExceeded,
                    )) if !lossless => continue,
                    Err(Error::Icmp(IcmpErrorKind::NetworkUnreachable)) if chores.outaged => {
                        continue;
                    }
                    Err(e) => panic!("{}", ctx(&format!("pinger {p}: {e:?}"))),
                };
                let k = usize::from(r.seq_no);
                assert!(
                    r.src == server
                        && k < *sent
                        && (plan[k].1 == r.data || blind(&plan[k].1, &r.data)),
                    "{}",
                    ctx(&format!("pinger {p}: reply {k} is not what was sent"))
                );
                got.push(k);
            }
        }
        // The echo service.
        loop {
            let u = b.sockets.udp(echo).unwrap();
            match u.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let i = u16::from_be_bytes([buf[0], buf[1]]);
                    let k = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                    let c = clients
                        .get(usize::from(i))
                        .unwrap_or_else(|| panic!("{}", ctx("a datagram from no client")));
                    let want = c.plan.get(k).map(|(_, d)| &d[..]).unwrap_or_default();
                    assert!(
                        c.port == ECHO
                            && k < c.sent
                            && (want == &buf[..n] || blind(want, &buf[..n])),
                        "{}",
                        ctx(&format!("client {i}: datagram {k} is not what was sent"))
                    );
                    // Through the router too, a client socket keeps one
                    // address while its flow lives, and no two client
                    // sockets are seen as one (their hosts may share a
                    // port behind the masquerade) — unless a router
                    // evicted flows for room, when both may change.
                    if remapped {
                        seen.insert(i, from);
                    } else {
                        let first = *seen.entry(i).or_insert(from);
                        assert_eq!(first, from, "{}", ctx(&format!("client {i} seen as two")));
                        assert!(
                            !seen.iter().any(|(&j, &addr)| j != i && addr == from),
                            "{}",
                            ctx(&format!("client {i} seen as another client, {from}"))
                        );
                    }
                    let _ = u.send_to(&buf[..n], from);
                }
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("{}", ctx(&format!("echo service: {e:?}"))),
            }
        }

        assert!(
            settle(&mut hosts, &mut b, &mut routers, now),
            "{}",
            ctx("no quiescence")
        );
        // What arrived while the hosts ran is read at once, not at the
        // next timer (maybe half a minute on, past a NAT binding's
        // timeout: the echo then met no flow and drew "port
        // unreachable").
        let unread = b.sockets.udp(echo).unwrap().can_recv()
            || clients
                .iter()
                .any(|c| hosts[c.host].sockets.udp(c.handle).unwrap().can_recv())
            || pingers
                .iter()
                .any(|(h, _, _, _, host)| hosts[*host].sockets.icmp(*h).unwrap().can_recv());
        if unread {
            continue;
        }
        let timers = next_timer(&mut hosts, &mut b, &mut routers);
        let next_send = clients
            .iter()
            .filter_map(|c| c.plan.get(c.sent).map(|(at, _)| *at))
            .chain(
                pingers
                    .iter()
                    .filter_map(|(_, p, k, _, _)| p.get(*k).map(|(at, _)| *at)),
            )
            .min();
        let next = [timers, next_send, restart.poll_at(), chores.poll_at()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        now = if next > now {
            next
        } else {
            now + Duration::from_millis(1)
        };
        assert!(now <= Instant::from_secs(3600), "{}", ctx("not over"));
    }

    for (i, c) in clients.iter().enumerate() {
        if c.port == CLOSED && lossless {
            assert!(
                c.refused,
                "{}",
                ctx(&format!("client {i} was never told the port is closed"))
            );
        }
        if c.port == ECHO && lossless {
            // Every one echoed (a duplicating wire may bring some twice).
            let mut got = c.echoed.clone();
            got.sort_unstable();
            got.dedup();
            assert_eq!(
                got.len(),
                c.plan.len(),
                "{}",
                ctx(&format!("client {i}: echoes lost"))
            );
        }
    }
    for (p, (_, plan, _, got, _)) in pingers.iter().enumerate() {
        let mut got = got.clone();
        got.sort_unstable();
        got.dedup();
        if lossless {
            assert_eq!(
                got.len(),
                plan.len(),
                "{}",
                ctx(&format!("pinger {p}: replies lost"))
            );
        }
    }
    // Nothing waits for fragments any more, and no flow outlives its
    // timeout (UDP's two minutes once replied, ICMP's thirty seconds).
    for (name, r) in hosts
        .iter()
        .map(|a| ("client", a.iface.reassembler()))
        .chain([("server", b.iface.reassembler())])
    {
        assert!(
            r.is_empty(),
            "{}",
            ctx(&format!("{name} still reassembling"))
        );
    }
    for r in routers.iter_mut() {
        assert!(
            r.iface.reassembler().is_empty(),
            "{}",
            ctx("router still reassembling")
        );
        let ct = r.iface.hooks_mut().conntrack_mut();
        let left = ct
            .iter()
            .filter(|f| f.expires > now + Duration::from_secs(120))
            .count();
        assert_eq!(left, 0, "{}", ctx("flows that outlive their timeouts"));
        ct.gc(now + Duration::from_secs(121));
        assert!(ct.is_empty(), "{}", ctx("flows left"));
    }
}

/// Random UDP and ping traffic, fragments included, straight to the
/// server: every datagram arrives as sent or not at all, errors reach
/// the sockets they concern and no other, nothing is left reassembling.
#[test]
fn random_datagrams_over_faulty_wires_arrive_intact_or_not_at_all() {
    each_seed(100, |seed| datagram_run(seed, Path::Direct));
}

/// The same to a server behind a port-forwarding router: UDP to the
/// forwarded port reaches it and comes back from the router's address;
/// the closed port and the pings are the router's own to answer.
#[test]
fn random_datagrams_through_port_forwarding_arrive_intact_or_not_at_all() {
    each_seed(100, |seed| datagram_run(seed, Path::PortForward));
}

/// The same through the NAT router: translated both ways (fragments and
/// ICMP errors included), one binding per client socket, and the flows
/// end (RFC 4787 REQ-1, REQ-5; RFC 5508 §7).
#[test]
fn random_datagrams_through_a_nat_router_arrive_intact_or_not_at_all() {
    each_seed(100, |seed| datagram_run(seed, Path::Nat));
}

/// The same from two or three hosts behind one masquerade, their
/// unconnected sockets on the same ports: each socket keeps one external
/// address and no two share one (RFC 4787 REQ-1, REQ-3), replies and
/// errors reach the socket they concern.
#[test]
fn random_datagrams_from_hosts_sharing_a_nat_router_arrive_intact_or_not_at_all() {
    each_seed(100, |seed| datagram_run(seed, Path::NatShared));
}

/// The same from client hosts on the server's LAN to the router's public
/// address: echoes come back from that address, the closed port and the
/// pings are the router's own to answer.
#[test]
fn random_datagrams_through_hairpin_nat_arrive_intact_or_not_at_all() {
    each_seed(60, |seed| datagram_run(seed, Path::Hairpin));
}

/// The same through two masquerading routers in a row: fragments,
/// "port unreachable" and the echo replies translated twice.
#[test]
fn random_datagrams_through_double_nat_arrive_intact_or_not_at_all() {
    each_seed(60, |seed| datagram_run(seed, Path::DoubleNat));
}

/// The same from behind a masquerade to a server behind another router's
/// port forwarding.
#[test]
fn random_datagrams_from_nat_to_port_forwarding_arrive_intact_or_not_at_all() {
    each_seed(60, |seed| datagram_run(seed, Path::NatToForward));
}
