//! Fuzz target `router`: a whole Lamina NAT router — an `Interface` with
//! forwarding on, a LAN and a WAN device, and `lamina-filter` as its hooks
//! (masquerade toward the WAN, port forwarding and hairpin NAT, a stateful
//! firewall) — fed frames from both sides, chosen by the input, with a
//! stepping clock in between.
//!
//! Where the `filter_hook` target calls the filter's hooks in the order
//! the `Interface` would, this one lets the `Interface` do it: routing,
//! TTL, fragmentation to a route MTU after NAT, "fragmentation needed"
//! and other ICMP errors quoting translated datagrams, redirects,
//! reassembly, ARP on both links. Frames are built from fields (TCP with
//! any flags, UDP, ICMP echo, other protocols, fragments, TTL and DF),
//! or are replies to and ICMP errors about what the router sent before
//! (so that flows are established, NAT runs backwards and related
//! errors are translated), or raw bytes, or ARP.
//!
//! Checked for every frame the router sends:
//!
//! - it is Ethernet carrying ARP, or IPv4 whose header checksum is right
//!   and, unfragmented, whose TCP, UDP or ICMP checksum is right;
//! - on the WAN, no IPv4 source is a LAN host's address: nothing from
//!   the LAN leaves untranslated (masquerade, RFC 3022);
//! - on the LAN, every IPv4 destination is on the LAN;
//! - no frame exceeds its link's MTU.
//!
//! And after every step: the connection-tracking table, the reassembler
//! and both neighbour caches within their bounds; nothing panics.

use std::net::Ipv4Addr;

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
use lamina_filter::{ConntrackConfig, Filter, FilterConfig, Ruleset};
use lamina_icmp::{IcmpPacket, IcmpRepr};
use lamina_ipv4::reassembly::ReassemblyConfig;
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr, Route};
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Duration, Instant, SeededRng, Serializer};
use lamina_netdev::{Device, LinkConfig, Port, RxToken, TxToken, wire};
use lamina_socket::tcp_proto::{SeqNumber, TcpFlags, TcpRepr, TcpSegment};
use lamina_socket::{Interface, InterfaceConfig, SocketSet};
use lamina_udp::{UdpPacket, UdpRepr};

const LAN_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const WAN_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ROUTER_MAC: [MacAddr; 2] = [
    MacAddr::new(2, 0, 0, 0, 1, 0),
    MacAddr::new(2, 0, 0, 0, 1, 1),
];
const LAN: Ipv4Cidr = match Ipv4Cidr::new(Ipv4Addr::new(192, 168, 1, 0), 24) {
    Ok(c) => c,
    Err(_) => panic!("a valid prefix"),
};

/// Masquerade out of the WAN (1), port forwards and hairpin NAT to the
/// LAN server 192.168.1.10, a default-drop stateful forward chain, an
/// input chain that drops what conntrack finds invalid, and nothing from
/// the WAN addressed to the LAN directly (the LAN is reached through the
/// port forwards only).
const RULES: &str = "
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 198.51.100.2 tcp dport 8080 dnat to 192.168.1.10:80
        ip daddr 198.51.100.2 udp dport 5353 dnat to 192.168.1.10:53
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
        oif 0 ip saddr 192.168.1.0/24 ip daddr 192.168.1.10 masquerade
    }
}
table ip filter {
    chain guard {
        type filter hook prerouting priority -300; policy accept;
        iif 1 ip daddr 192.168.1.0/24 drop
    }
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid drop
        ct state established,related accept
        iif 0 oif 1 accept
        oif 0 ip daddr 192.168.1.10 ct state new accept
    }
    chain input {
        type filter hook input priority 0; policy accept;
        ct state invalid drop
    }
}";

/// A host on one side: LAN hosts 192.168.1.10 to .13; on the WAN the
/// gateway, a neighbour, the router's own WAN address (to reach the
/// port forwards) and two hosts beyond the gateway.
fn host(lan: bool, n: u8) -> Ipv4Addr {
    if lan {
        return match n % 6 {
            4 => WAN_ADDR,
            5 => LAN_ADDR,
            k => Ipv4Addr::new(192, 168, 1, 10 + k),
        };
    }
    match n % 5 {
        0 => GATEWAY,
        1 => Ipv4Addr::new(198, 51, 100, 7),
        2 => WAN_ADDR,
        3 => Ipv4Addr::new(203, 0, 113, 5),
        _ => Ipv4Addr::new(192, 0, 2, 99),
    }
}

/// A host's MAC: the WAN's hosts all sit behind the gateway but the
/// neighbour.
fn host_mac(lan: bool, addr: Ipv4Addr) -> MacAddr {
    let last = addr.octets()[3];
    MacAddr::new(2, 0, 0, u8::from(lan), 2, last)
}

#[derive(Debug, Arbitrary)]
enum Body {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u16,
        window: u16,
        mss: Option<u16>,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Echo {
        ident: u16,
        seq: u16,
    },
    Other(u8),
}

/// One step of the input.
#[derive(Debug, Arbitrary)]
enum Op {
    /// A datagram from a host on the LAN (`lan`) or the WAN.
    Datagram {
        lan: bool,
        src: u8,
        dst: u8,
        body: Body,
        payload: Vec<u8>,
        ttl: u8,
        dont_frag: bool,
        /// Sent as a fragment: identification, offset (8-byte units),
        /// more fragments.
        frag: Option<(u16, u16, bool)>,
    },
    /// The answer to a frame the router sent (addresses and ports
    /// swapped, numbers following on), from where it went.
    Reply {
        which: u8,
        flags: u16,
        payload: Vec<u8>,
    },
    /// An ICMP error about a frame the router sent, from its destination
    /// or from a router on its way.
    Error {
        which: u8,
        kind: u8,
        mtu: u16,
        from_dst: bool,
    },
    /// Raw bytes into one side.
    Raw { lan: bool, bytes: Vec<u8> },
    /// An ARP request or reply from a host on one side.
    Arp { lan: bool, src: u8, reply: bool },
    /// Let time pass.
    Step(u16),
}

/// A frame the router sent: which side, and its bytes.
type Sent = (bool, Vec<u8>);

/// Every frame on `end` (the router's side `lan`), each checked.
fn drain(end: &mut Port, lan: bool, now: Instant, sent: &mut Vec<Sent>) {
    let max = end.capabilities().max_frame_len();
    while let Some((rx, _)) = end.receive(now) {
        rx.consume(|frame| {
            check(frame, lan, max);
            if sent.len() < 64 {
                sent.push((lan, frame.to_vec()));
            } else {
                let i = frame.len() % sent.len();
                sent[i] = (lan, frame.to_vec());
            }
        });
    }
}

/// The checks of the module docs for one frame out of side `lan`.
fn check(frame: &[u8], lan: bool, max: usize) {
    assert!(frame.len() <= max, "a frame over the MTU: {}", frame.len());
    let eth = EthernetFrame::parse(frame).expect("the router sends Ethernet frames");
    let payload = frame.get(eth.header_len()..).unwrap_or_default();
    match eth.ethertype() {
        EtherType::ARP => {
            lamina_arp::ArpPacket::parse(payload).expect("the router sends valid ARP");
        }
        EtherType::IPV4 => {
            let ip = Ipv4Packet::parse_verified(payload).expect("the router sends valid IPv4");
            if lan {
                assert!(
                    LAN.contains(ip.dst()),
                    "{} sent to the LAN from {}",
                    ip.dst(),
                    ip.src()
                );
            } else {
                // The router's own addresses only (it answers on its LAN
                // address what reached that address from the WAN, as
                // Linux's weak host model does).
                assert!(
                    !LAN.contains(ip.src()) || ip.src() == LAN_ADDR,
                    "a LAN host's datagram left by the WAN untranslated ({} to {}, protocol {:?})",
                    ip.src(),
                    ip.dst(),
                    ip.protocol()
                );
            }
            if ip.is_fragment() {
                return;
            }
            let l4 = ip.payload();
            match ip.protocol() {
                IpProtocol::TCP => {
                    TcpSegment::parse_verified(l4, ip.src(), ip.dst())
                        .expect("forwarded TCP keeps a right checksum");
                }
                IpProtocol::UDP => {
                    UdpPacket::parse_verified(l4, ip.src(), ip.dst())
                        .expect("forwarded UDP keeps a right checksum");
                }
                IpProtocol::ICMP => {
                    IcmpPacket::parse_verified(l4).expect("ICMP keeps a right checksum");
                }
                _ => {}
            }
        }
        other => panic!("the router sent EtherType {other:?}"),
    }
}

/// An Ethernet frame carrying `body` over IPv4 from `src` to `dst`, from
/// side `lan`'s host to the router.
fn frame(lan: bool, ip: &Ipv4Repr, body: impl Serializer) -> Option<Vec<u8>> {
    let side = usize::from(!lan);
    let eth = EthernetRepr::new(host_mac(lan, ip.src), ROUTER_MAC[side], EtherType::IPV4);
    body.wrap_in(ip)
        .wrap_in(eth)
        .serialize_vec(0)
        .ok()
        .map(|b| b.as_slice().to_vec())
}

fn datagram(
    lan: bool,
    ip: Ipv4Repr,
    body: &Body,
    payload: &[u8],
    frag: Option<(u16, u16, bool)>,
) -> Option<Vec<u8>> {
    let (src, dst) = (ip.src, ip.dst);
    let payload = payload.get(..payload.len().min(1400)).unwrap_or_default();
    let mut ip = ip;
    if let Some((ident, offset, more)) = frag {
        // A fragment: the transport header (if any) is in the payload.
        ip.identification = ident;
        ip.fragment_offset = offset & 0x1fff;
        ip.more_fragments = more;
        ip.protocol = match body {
            Body::Tcp { .. } => IpProtocol::TCP,
            Body::Udp { .. } => IpProtocol::UDP,
            Body::Echo { .. } => IpProtocol::ICMP,
            Body::Other(p) => IpProtocol(*p),
        };
        return frame(lan, &ip, payload);
    }
    match *body {
        Body::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            mss,
        } => {
            ip.protocol = IpProtocol::TCP;
            let repr = TcpRepr {
                src_port,
                dst_port,
                seq_number: SeqNumber(seq),
                ack_number: SeqNumber(ack),
                flags: TcpFlags::from_bits_truncate(flags),
                window_len: window,
                max_seg_size: mss,
                ..TcpRepr::default()
            };
            let b = repr.builder(src, dst).ok()?;
            frame(lan, &ip, payload.wrap_in(b))
        }
        Body::Udp { src_port, dst_port } => {
            ip.protocol = IpProtocol::UDP;
            let b = UdpRepr { src_port, dst_port }.builder(src, dst);
            frame(lan, &ip, payload.wrap_in(b))
        }
        Body::Echo { ident, seq } => {
            ip.protocol = IpProtocol::ICMP;
            let repr = IcmpRepr::EchoRequest { ident, seq_no: seq };
            frame(lan, &ip, payload.wrap_in(&repr))
        }
        Body::Other(p) => {
            ip.protocol = IpProtocol(p);
            frame(lan, &ip, payload)
        }
    }
}

/// The answer to a frame the router sent on side `lan`: from its
/// destination back to its source, ports swapped, acknowledging it.
fn reply(sent: &Sent, flags: u16, payload: &[u8]) -> Option<Vec<u8>> {
    let (lan, bytes) = sent;
    let eth = EthernetFrame::parse(bytes).ok()?;
    let ip = Ipv4Packet::parse(bytes.get(eth.header_len()..)?).ok()?;
    let back = Ipv4Repr::new(ip.dst(), ip.src(), ip.protocol());
    let l4 = ip.payload();
    let payload = payload.get(..payload.len().min(1400)).unwrap_or_default();
    let ports = |b: &[u8]| -> Option<(u16, u16)> {
        Some((
            u16::from_be_bytes([*b.first()?, *b.get(1)?]),
            u16::from_be_bytes([*b.get(2)?, *b.get(3)?]),
        ))
    };
    match ip.protocol() {
        IpProtocol::TCP => {
            let seg = TcpSegment::parse(l4).ok()?;
            let len = seg.payload().len() as u32
                + u32::from(seg.flags().intersects(TcpFlags::SYN | TcpFlags::FIN));
            let repr = TcpRepr {
                src_port: seg.dst_port(),
                dst_port: seg.src_port(),
                seq_number: SeqNumber(seg.ack_number().0),
                ack_number: SeqNumber(seg.seq_number().0.wrapping_add(len)),
                flags: TcpFlags::from_bits_truncate(flags),
                window_len: 65535,
                ..TcpRepr::default()
            };
            let b = repr.builder(back.src, back.dst).ok()?;
            frame(*lan, &back, payload.wrap_in(b))
        }
        IpProtocol::UDP => {
            let (s, d) = ports(l4)?;
            let b = UdpRepr {
                src_port: d,
                dst_port: s,
            }
            .builder(back.src, back.dst);
            frame(*lan, &back, payload.wrap_in(b))
        }
        IpProtocol::ICMP => {
            let (ident, seq_no) = ports(l4.get(4..)?)?;
            let repr = IcmpRepr::EchoReply { ident, seq_no };
            frame(*lan, &back, payload.wrap_in(&repr))
        }
        _ => None,
    }
}

/// An ICMP error about a frame the router sent, quoting its IP header
/// and first eight bytes, from its destination or from a router on the
/// way (the gateway, or a LAN host).
fn error(sent: &Sent, kind: u8, mtu: u16, from_dst: bool) -> Option<Vec<u8>> {
    let (lan, bytes) = sent;
    let eth = EthernetFrame::parse(bytes).ok()?;
    let quoted = bytes.get(eth.header_len()..)?;
    let ip = Ipv4Packet::parse(quoted).ok()?;
    let quote = quoted.get(..(ip.header_len() + 8).min(quoted.len()))?;
    let from = match (from_dst, lan) {
        (true, _) => ip.dst(),
        (false, true) => Ipv4Addr::new(192, 168, 1, 13),
        (false, false) => GATEWAY,
    };
    let repr = match kind % 5 {
        0 => IcmpRepr::fragmentation_needed(mtu),
        1 => IcmpRepr::PORT_UNREACHABLE,
        2 => IcmpRepr::HOST_UNREACHABLE,
        3 => IcmpRepr::TTL_EXCEEDED,
        _ => IcmpRepr::PROTOCOL_UNREACHABLE,
    };
    let back = Ipv4Repr::new(from, ip.src(), IpProtocol::ICMP);
    frame(*lan, &back, quote.wrap_in(&repr))
}

fn arp(lan: bool, src: Ipv4Addr, reply: bool) -> Option<Vec<u8>> {
    let side = usize::from(!lan);
    let router = if lan { LAN_ADDR } else { WAN_ADDR };
    let mac = host_mac(lan, src);
    let repr = if reply {
        lamina_arp::ArpRepr::reply_to(
            &lamina_arp::ArpRepr::request(ROUTER_MAC[side], router, src),
            mac,
        )
    } else {
        lamina_arp::ArpRepr::request(mac, src, router)
    };
    EmptyBody
        .wrap_in(repr)
        .wrap_in(EthernetRepr::new(mac, MacAddr::BROADCAST, EtherType::ARP))
        .serialize_vec(0)
        .ok()
        .map(|b| b.as_slice().to_vec())
}

/// The entry point.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let seed: u64 = u.arbitrary()?;
    let filter_config = FilterConfig {
        conntrack: ConntrackConfig {
            max_entries: u.int_in_range(1..=32)?,
            tcp_loose: u.arbitrary()?,
            ..ConntrackConfig::default()
        },
        ..FilterConfig::default()
    };
    let rules: Ruleset = RULES.parse().expect("the router's rules parse");
    let mut filter = Filter::new(rules, filter_config, &mut SeededRng::new(seed))
        .expect("the router's rules build");
    filter.set_interface_address(IfaceId(0), LAN_ADDR);
    filter.set_interface_address(IfaceId(1), WAN_ADDR);
    let mut config = InterfaceConfig::default();
    config.forwarding = true;
    config.neighbor.max_entries = u.int_in_range(1..=8)?;
    config.reassembly = ReassemblyConfig {
        max_datagrams: u.int_in_range(1..=8)?,
        max_bytes: u.int_in_range(1000..=20_000)?,
        ..ReassemblyConfig::default()
    };
    // The WAN link narrower than the LAN, one seed in two: datagrams
    // forwarded out of it are fragmented, or draw "fragmentation needed".
    let wan_mtu = if seed.is_multiple_of(2) {
        1500
    } else {
        576 + (seed >> 8) % 900
    };
    let (lan_ours, mut lan_end) = wire(LinkConfig::new().with_queue_len(256));
    let (wan_ours, mut wan_end) = wire(
        LinkConfig::new()
            .with_queue_len(256)
            .with_mtu(wan_mtu as usize),
    );
    let mut rng = SeededRng::new(seed);
    let mut iface = Interface::with_hooks(config, filter, &mut rng);
    let lan_id = iface.add_device(&lan_ours, ROUTER_MAC[0]).expect("LAN");
    let wan_id = iface.add_device(&wan_ours, ROUTER_MAC[1]).expect("WAN");
    let zero = Instant::ZERO;
    iface
        .add_address(lan_id, Ipv4Cidr::new(LAN_ADDR, 24).expect("cidr"), zero)
        .expect("LAN address");
    iface
        .add_address(wan_id, Ipv4Cidr::new(WAN_ADDR, 24).expect("cidr"), zero)
        .expect("WAN address");
    iface
        .set_default_gateway(GATEWAY, wan_id)
        .expect("default route");
    // A route to the LAN narrower than its link, one seed in four.
    if (seed >> 20).is_multiple_of(4) {
        let mtu = 576 + ((seed >> 24) % 900) as u16;
        let _ = iface
            .routes_mut()
            .replace(LAN, Route::on_link(lan_id).with_mtu(mtu));
    }
    // The hosts' MACs known for good, or learned by ARP.
    if u.arbitrary()? {
        for lan in [true, false] {
            let id = if lan { lan_id } else { wan_id };
            for n in 0..6 {
                let a = host(lan, n);
                if a != WAN_ADDR && a != LAN_ADDR {
                    let _ = iface
                        .neighbors_mut(id)
                        .map(|c| c.insert_static(a, host_mac(lan, a), zero));
                }
            }
        }
    }
    let mut sockets = SocketSet::new(4, &mut rng);
    let mut devices = [lan_ours, wan_ours];
    let mut now = zero;
    let mut sent: Vec<Sent> = Vec::new();
    for _ in 0..u.int_in_range(0..=200)? {
        let op: Op = u.arbitrary()?;
        let input = match &op {
            Op::Datagram {
                lan,
                src,
                dst,
                body,
                payload,
                ttl,
                dont_frag,
                frag,
            } => {
                let mut ip = Ipv4Repr::new(host(*lan, *src), host(!*lan, *dst), IpProtocol::UDP);
                ip.ttl = *ttl;
                ip.dont_fragment = *dont_frag;
                datagram(*lan, ip, body, payload, *frag).map(|f| (*lan, f))
            }
            Op::Reply {
                which,
                flags,
                payload,
            } => {
                let s = sent.get(usize::from(*which) % sent.len().max(1));
                s.and_then(|s| reply(s, *flags, payload).map(|f| (s.0, f)))
            }
            Op::Error {
                which,
                kind,
                mtu,
                from_dst,
            } => {
                let s = sent.get(usize::from(*which) % sent.len().max(1));
                s.and_then(|s| error(s, *kind, *mtu, *from_dst).map(|f| (s.0, f)))
            }
            Op::Raw { lan, bytes } => Some((*lan, bytes.clone())),
            Op::Arp { lan, src, reply } => arp(*lan, host(*lan, *src), *reply).map(|f| (*lan, f)),
            Op::Step(ms) => {
                now += Duration::from_millis(u64::from(*ms) * 8);
                None
            }
        };
        if let Some((lan, bytes)) = input
            && !bytes.is_empty()
        {
            let end = if lan { &mut lan_end } else { &mut wan_end };
            if let Some(t) = end.transmit(now) {
                let _ = t.consume(bytes.len(), |b| b.copy_from_slice(&bytes));
            }
        }
        for _ in 0..4 {
            if !iface.poll(now, &mut devices[..], &mut sockets) {
                break;
            }
        }
        drain(&mut lan_end, true, now, &mut sent);
        drain(&mut wan_end, false, now, &mut sent);
        check_bounds(&iface);
    }
    Ok(())
}

/// Every table of the router within its bound.
fn check_bounds(iface: &Interface<Filter>) {
    let ct = iface.hooks().conntrack();
    assert!(
        ct.len() <= ct.config().max_entries,
        "conntrack over its bound"
    );
    assert_eq!(ct.iter().count(), ct.len());
    let r = iface.reassembler();
    assert!(
        r.len() <= r.config().max_datagrams,
        "reassembly over its bound"
    );
    assert!(r.bytes_held() <= r.config().max_bytes);
    for id in [IfaceId(0), IfaceId(1)] {
        let n = iface.neighbors(id).expect("two devices");
        assert!(
            n.len() <= n.config().max_entries,
            "neighbours over their bound"
        );
    }
}
