//! Fuzz target `stack`: a whole Lamina host — an `Interface` with an
//! Ethernet device and sockets of every kind (a TCP listener and the
//! connections it accepts, a TCP client, UDP, ping and raw sockets) — fed
//! frames chosen by the input, with user calls and a stepping clock in
//! between.
//!
//! Frames are either raw bytes or built from fuzzed fields (Ethernet,
//! IPv4 with fragments, TCP with any flags, numbers near the live
//! connections' and options, UDP, ICMP errors quoting our own traffic,
//! Echo Requests with any TOS and an optional flipped byte, ARP), so
//! that the input reaches the deep states: handshakes, data transfer,
//! reassembly, resets, ICMP error delivery, echo replies, ARP learning.
//! What the host sends is read back from the wire and must parse. The
//! target checks that nothing panics, that every table keeps its bound
//! (sockets, neighbors, reassembly), and that every frame the host sends
//! is a well-formed Ethernet frame carrying ARP or a checksum-valid IPv4
//! datagram (one seed in four runs the host on a link with checksum and
//! TCP segmentation offload: checksums the link vouches for are not
//! checked, and no frame may exceed the MTU; another one in four on a link
//! of MTU 9000 with checksum offload that carries payloads by reference,
//! where the host lends its TCP payloads and the input's frames reach it
//! as headers and a shared payload, split at the TCP header's end or at
//! an odd place). Between frames the input may also change the host as
//! an administrator does (addresses, hardware address, routes and their
//! MTUs, neighbours, the default gateway, forwarding).

use std::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
use lamina_icmp::IcmpRepr;
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Duration, Instant, SeededRng, Serializer};
use lamina_netdev::{Device, LinkConfig, Port, RxToken, TxLimit, TxToken, wire};
use lamina_socket::tcp_proto::{SeqNumber, TcpFlags, TcpRepr, Timestamps};
use lamina_socket::{
    IcmpSocket, Interface, InterfaceConfig, RawSocket, SocketHandle, SocketSet, TcpSocket,
    UdpSocket,
};
use lamina_udp::UdpRepr;

const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const US_MAC: MacAddr = MacAddr::new(2, 0, 0, 0, 0, 2);
const PEER_MAC: MacAddr = MacAddr::new(2, 0, 0, 0, 0, 1);
/// The set's capacity.
const SOCKETS: usize = 16;

/// One step of the input.
#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary bytes as a frame.
    Raw(Vec<u8>),
    /// A TCP segment from a peer.
    Tcp(TcpSeg),
    /// A UDP datagram from a peer.
    Udp {
        peer: u8,
        src_port: u16,
        dst_port: u16,
        payload: Vec<u8>,
    },
    /// An ICMP error quoting a segment of one of our connections (so that
    /// it may pass the window check), or anything.
    IcmpError {
        peer: u8,
        which: u8,
        kind: u8,
        mtu: u16,
        seq_delta: i16,
    },
    /// An IPv4 fragment of a datagram to us.
    Fragment {
        peer: u8,
        ident: u16,
        offset: u16,
        more: bool,
        protocol: u8,
        payload: Vec<u8>,
    },
    /// An ARP packet (request or reply) from a peer.
    Arp {
        peer: u8,
        reply: bool,
        mac: u8,
    },
    /// User calls.
    Accept,
    Send {
        which: u8,
        len: u16,
    },
    Recv {
        which: u8,
        len: u16,
    },
    Close {
        which: u8,
    },
    Abort {
        which: u8,
    },
    Connect {
        peer: u8,
        port: u16,
    },
    Ping {
        peer: u8,
        len: u8,
    },
    /// Let time pass.
    Step(u16),
    /// The administrator changes the host under live traffic (see
    /// `admin`).
    Admin {
        what: u8,
        arg: u16,
    },
    /// A well-formed Echo Request from a peer (which the fast echo path
    /// answers where it can), its IPv4 TOS byte chosen, optionally with
    /// one byte after the Ethernet header flipped.
    EchoRequest {
        peer: u8,
        ident: u16,
        seq_no: u16,
        tos: u8,
        data: Vec<u8>,
        flip: Option<(u16, u8)>,
    },
}

#[derive(Debug, Arbitrary)]
struct TcpSeg {
    peer: u8,
    src_port: u16,
    /// Picks 80 (the listener), a client's port, or any.
    dst_port: (u8, u16),
    /// Relative to a live connection's numbers, or absolute.
    seq: (bool, i32),
    ack: (bool, i32),
    flags: u16,
    window: u16,
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    timestamps: Option<(u32, u32)>,
    payload: Vec<u8>,
}

/// The test network's peers: a few addresses of the subnet (and one off
/// it, behind no route).
fn peer(n: u8) -> Ipv4Addr {
    match n % 5 {
        4 => Ipv4Addr::new(198, 51, 100, 1),
        k => Ipv4Addr::new(192, 0, 2, 10 + k),
    }
}

/// The host's device: the wire's port, behind a transmit ring (of
/// `limit` frames a poll; `None`: as the port is). A full ring refuses
/// buffers, as a NIC's does.
type HostDev = TxLimit<Port>;

struct Host {
    iface: Interface,
    dev: HostDev,
    sockets: SocketSet,
    listener: SocketHandle,
    tcp: Vec<SocketHandle>,
    udp: SocketHandle,
    ping: SocketHandle,
}

/// Reads everything the host sent and checks each frame.
fn drain(wire_end: &mut Port, now: Instant, seen: &mut Vec<(SocketAddrV4, u32, u32)>) {
    let max = wire_end.capabilities().max_frame_len();
    while let Some((rx, _)) = wire_end.receive(now) {
        let verified = rx.meta().checksum_verified;
        rx.consume(|frame| check_frame(frame, max, verified, seen));
    }
}

/// Where a frame sent with a shared payload is split: after its TCP
/// header for most frames that have one, else at an odd place.
fn split_point(frame: &[u8]) -> usize {
    let tcp_end = EthernetFrame::parse(frame).ok().and_then(|eth| {
        let ip = Ipv4Packet::parse(frame.get(eth.header_len()..)?).ok()?;
        let tcp = ip.payload();
        let off = usize::from(tcp.get(12)? >> 4) * 4;
        Some(eth.header_len() + ip.header_len() + off)
    });
    match tcp_end {
        Some(end) if !frame.len().is_multiple_of(5) => end.min(frame.len()),
        _ => frame.len() % 97,
    }
}

/// A frame the host sent must be Ethernet with ARP or a valid IPv4
/// datagram (checksums too, but those the link offloaded), no longer than
/// the MTU allows (what a device with segmentation offload was given is
/// cut); TCP segments are remembered (peer, seq, ack) so that the input
/// can answer near them.
fn check_frame(
    frame: &[u8],
    max: usize,
    verified: lamina_netdev::ChecksumSet,
    seen: &mut Vec<(SocketAddrV4, u32, u32)>,
) {
    use lamina_netdev::ChecksumProto;
    assert!(frame.len() <= max, "a frame over the MTU: {}", frame.len());
    let eth = EthernetFrame::parse(frame).expect("the host sends Ethernet frames");
    let payload = frame.get(eth.header_len()..).unwrap_or_default();
    match eth.ethertype() {
        EtherType::ARP => {
            lamina_arp::ArpPacket::parse(payload).expect("the host sends valid ARP");
        }
        EtherType::IPV4 => {
            let ip = if verified.contains(ChecksumProto::Ipv4) {
                Ipv4Packet::parse(payload)
            } else {
                Ipv4Packet::parse_verified(payload)
            }
            .expect("the host sends valid IPv4");
            if ip.protocol() == IpProtocol::TCP && !ip.is_fragment() {
                let seg = if verified.contains(ChecksumProto::Tcp) {
                    lamina_socket::tcp_proto::TcpSegment::parse(ip.payload())
                } else {
                    lamina_socket::tcp_proto::TcpSegment::parse_verified(
                        ip.payload(),
                        ip.src(),
                        ip.dst(),
                    )
                }
                .expect("the host sends valid TCP");
                if seen.len() < 64 {
                    seen.push((
                        SocketAddrV4::new(ip.dst(), seg.dst_port()),
                        seg.seq_number().0,
                        seg.ack_number().0,
                    ));
                }
            }
        }
        other => panic!("the host sent EtherType {other:?}"),
    }
}

fn frame_of(src: Ipv4Addr, body: impl Serializer, protocol: IpProtocol) -> Option<Vec<u8>> {
    frame_with(&Ipv4Repr::new(src, US, protocol), body)
}

/// A frame from the peer to us carrying `body` under the IPv4 header `ip`.
fn frame_with(ip: &Ipv4Repr, body: impl Serializer) -> Option<Vec<u8>> {
    let eth = EthernetRepr::new(PEER_MAC, US_MAC, EtherType::IPV4);
    body.wrap_in(ip)
        .wrap_in(eth)
        .serialize_vec(0)
        .ok()
        .map(|b| b.as_slice().to_vec())
}

fn tcp_frame(s: &TcpSeg, host: &Host, seen: &[(SocketAddrV4, u32, u32)]) -> Option<Vec<u8>> {
    let src = peer(s.peer);
    let dst_port = match s.dst_port.0 % 3 {
        0 => 80,
        1 => host
            .tcp
            .get(usize::from(s.dst_port.1) % host.tcp.len().max(1))
            .and_then(|&h| host.sockets.get(h))
            .and_then(|sock| match sock {
                lamina_socket::Socket::Tcp(t) => t.local_addr().map(|a| a.port()),
                _ => None,
            })
            .unwrap_or(80),
        _ => s.dst_port.1,
    };
    // Numbers near what we sent this peer last, or anything.
    let last = seen
        .iter()
        .rev()
        .find(|(to, _, _)| *to.ip() == src)
        .copied();
    let (our_seq, our_ack) = last.map_or((0, 0), |(_, seq, ack)| (seq, ack));
    let seq = if s.seq.0 {
        our_ack.wrapping_add(s.seq.1 as u32)
    } else {
        s.seq.1 as u32
    };
    let ack = if s.ack.0 {
        our_seq.wrapping_add(s.ack.1 as u32)
    } else {
        s.ack.1 as u32
    };
    let repr = TcpRepr {
        src_port: s.src_port,
        dst_port,
        seq_number: SeqNumber(seq),
        ack_number: SeqNumber(ack),
        flags: TcpFlags::from_bits_truncate(s.flags),
        window_len: s.window,
        max_seg_size: s.mss,
        window_scale: s.window_scale,
        sack_permitted: s.sack_permitted,
        timestamps: s
            .timestamps
            .map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
        ..TcpRepr::default()
    };
    let builder = repr.builder(src, US).ok()?;
    let payload = s
        .payload
        .get(..s.payload.len().min(1400))
        .unwrap_or_default();
    frame_of(src, payload.wrap_in(builder), IpProtocol::TCP)
}

fn setup(u: &mut Unstructured<'_>) -> Result<(Host, Port)> {
    let seed: u64 = u.arbitrary()?;
    // One seed in four: a link with checksum and segmentation offload
    // (derived, so that inputs keep their meaning).
    let link = LinkConfig::new().with_queue_len(256);
    let link = match seed % 4 {
        0 => link
            .with_checksum(lamina_netdev::ChecksumCapabilities::ALL)
            .with_tso(),
        1 => link
            .with_mtu(9000)
            .with_checksum(lamina_netdev::ChecksumCapabilities::ALL),
        _ => link,
    };
    let (ours, theirs) = wire(link);
    let mut rng = SeededRng::new(seed);
    let mut config = InterfaceConfig::default();
    config.forwarding = u.arbitrary()?;
    let mut iface = Interface::new(config, &mut rng);
    let id = iface.add_device(&ours, US_MAC).expect("one device");
    iface
        .add_address(id, "192.0.2.2/24".parse().expect("cidr"), Instant::ZERO)
        .expect("address");
    if u.arbitrary()? {
        let _ = iface.set_default_gateway(Ipv4Addr::new(192, 0, 2, 10), IfaceId(0));
    }
    // The peers' MACs are known (as after ARP), or to be learned.
    if u.arbitrary()? {
        for n in 0..4 {
            let _ = iface
                .neighbors_mut(IfaceId(0))
                .map(|c| c.insert_static(peer(n), PEER_MAC, Instant::ZERO));
        }
    }
    let mut sockets = SocketSet::new(SOCKETS, &mut rng);
    let listener = sockets.add(TcpSocket::default()).expect("room");
    sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .expect("listen");
    let udp = sockets.add(UdpSocket::default()).expect("room");
    sockets
        .bind_udp(udp, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .expect("bind");
    let ping = sockets.add(IcmpSocket::default()).expect("room");
    sockets.bind_icmp(ping, None).expect("bind");
    let _raw = sockets.add(RawSocket::new(IpProtocol(253), 8, 4096));
    Ok((
        Host {
            iface,
            // One seed in three: a transmit ring of 0 to 5 frames a poll
            // (derived from the seed, so that inputs keep their meaning).
            dev: TxLimit::new(
                ours,
                (seed >> 8)
                    .is_multiple_of(3)
                    .then_some(((seed >> 16) % 6) as usize),
            )
            .manual(),
            sockets,
            listener,
            tcp: Vec::new(),
            udp,
            ping,
        },
        theirs,
    ))
}

/// One administrative change, as an operator makes them on a live host:
/// a second address added or removed, the main one removed and added
/// again, the hardware address changed (and changed back: frames to the
/// old one are then not for us), a host route with a small MTU added or
/// removed, the connected route's MTU changed, a neighbour forgotten, a
/// default gateway set, forwarding switched. Failures (a full table, an
/// address already there) are what the API reports; none may panic.
fn admin(iface: &mut Interface, what: u8, arg: u16, now: Instant) {
    let dev = IfaceId(0);
    match what % 9 {
        0 => {
            let extra = Ipv4Addr::new(192, 0, 2, 100 + (arg % 4) as u8);
            if iface.has_address(extra) {
                iface.remove_address(dev, extra);
            } else {
                let cidr = lamina_ipv4::Ipv4Cidr::new(extra, 24 + (arg >> 8) as u8 % 9);
                if let Ok(cidr) = cidr {
                    let _ = iface.add_address(dev, cidr, now);
                }
            }
        }
        1 => {
            iface.remove_address(dev, US);
            let _ = iface.add_address(dev, "192.0.2.2/24".parse().expect("cidr"), now);
        }
        2 => {
            let mac = if iface.hardware_addr(dev) == Some(US_MAC) {
                MacAddr::new(2, 0, 0, 0, 0x0a, arg as u8)
            } else {
                US_MAC
            };
            let _ = iface.set_hardware_addr(dev, mac, now);
        }
        3 => {
            let host = lamina_ipv4::Ipv4Cidr::new(peer(arg as u8), 32).expect("a /32");
            let route = lamina_ipv4::Route::on_link(dev).with_mtu(68 + arg % 1500);
            let _ = iface.routes_mut().replace(host, route);
        }
        4 => {
            let host = lamina_ipv4::Ipv4Cidr::new(peer(arg as u8), 32).expect("a /32");
            iface.routes_mut().remove_prefix(host);
        }
        5 => {
            let subnet: lamina_ipv4::Ipv4Cidr = "192.0.2.0/24".parse().expect("cidr");
            let route = lamina_ipv4::Route::on_link(dev);
            let route = if arg & 1 == 0 {
                route.with_mtu(68 + (arg >> 1) % 1500)
            } else {
                route
            };
            let _ = iface.routes_mut().replace(subnet, route);
        }
        6 => {
            if let Some(cache) = iface.neighbors_mut(dev) {
                cache.remove(peer(arg as u8));
            }
        }
        7 => {
            let _ = iface.set_default_gateway(peer(arg as u8), dev);
        }
        _ => iface.set_forwarding(arg & 1 == 1),
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let (mut host, mut peer_end) = setup(u)?;
    let peer_end_shares = peer_end.capabilities().shared_payloads && peer_end.config().mtu > 1500;
    let mut now = Instant::ZERO;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    for _ in 0..u.int_in_range(0..=200)? {
        let op: Op = u.arbitrary()?;
        let frame = match &op {
            Op::Raw(bytes) => Some(bytes.clone()),
            Op::Tcp(s) => tcp_frame(s, &host, &seen),
            Op::EchoRequest {
                peer: p,
                ident,
                seq_no,
                tos,
                data,
                flip,
            } => {
                let src = peer(*p);
                let mut ip = Ipv4Repr::new(src, US, IpProtocol::ICMP);
                (ip.dscp, ip.ecn) = (tos >> 2, tos & 3);
                let icmp = IcmpRepr::EchoRequest {
                    ident: *ident,
                    seq_no: *seq_no,
                };
                frame_with(&ip, data.as_slice().wrap_in(&icmp)).map(|mut f| {
                    if let Some((at, x)) = flip {
                        let i = 14 + usize::from(*at) % f.len().saturating_sub(14).max(1);
                        if let Some(b) = f.get_mut(i) {
                            *b ^= x;
                        }
                    }
                    f
                })
            }
            Op::Udp {
                peer: p,
                src_port,
                dst_port,
                payload,
            } => {
                let src = peer(*p);
                let repr = UdpRepr {
                    src_port: *src_port,
                    dst_port: *dst_port,
                };
                let b = repr.builder(src, US);
                frame_of(src, payload.as_slice().wrap_in(b), IpProtocol::UDP)
            }
            Op::IcmpError {
                peer: p,
                which,
                kind,
                mtu,
                seq_delta,
            } => {
                let src = peer(*p);
                // Quote a segment we sent (to whoever), nudged.
                let quoted = seen
                    .get(usize::from(*which) % seen.len().max(1))
                    .copied()
                    .unwrap_or((SocketAddrV4::new(src, 80), 0, 0));
                let local_port = host
                    .tcp
                    .first()
                    .and_then(|&h| host.sockets.get(h))
                    .and_then(|s| match s {
                        lamina_socket::Socket::Tcp(t) => t.local_addr().map(|a| a.port()),
                        _ => None,
                    })
                    .unwrap_or(80);
                let seq = quoted.1.wrapping_add(*seq_delta as u32);
                let head = [
                    local_port.to_be_bytes().as_slice(),
                    &quoted.0.port().to_be_bytes(),
                    &seq.to_be_bytes(),
                ]
                .concat();
                let inner = Ipv4Repr::new(US, *quoted.0.ip(), IpProtocol::TCP);
                let quote = head.as_slice().wrap_in(&inner).serialize_vec(0).ok();
                let repr = match kind % 4 {
                    0 => IcmpRepr::fragmentation_needed(*mtu),
                    1 => IcmpRepr::PORT_UNREACHABLE,
                    2 => IcmpRepr::HOST_UNREACHABLE,
                    _ => IcmpRepr::TTL_EXCEEDED,
                };
                quote.and_then(|q| frame_of(src, q.as_slice().wrap_in(&repr), IpProtocol::ICMP))
            }
            Op::Fragment {
                peer: p,
                ident,
                offset,
                more,
                protocol,
                payload,
            } => {
                let src = peer(*p);
                let mut ip = Ipv4Repr::new(src, US, IpProtocol(*protocol));
                ip.identification = *ident;
                ip.more_fragments = *more;
                ip.fragment_offset = offset & 0x1fff;
                let eth = EthernetRepr::new(PEER_MAC, US_MAC, EtherType::IPV4);
                let payload = payload.get(..payload.len().min(1400)).unwrap_or_default();
                payload
                    .wrap_in(&ip)
                    .wrap_in(eth)
                    .serialize_vec(0)
                    .ok()
                    .map(|b| b.as_slice().to_vec())
            }
            Op::Arp {
                peer: p,
                reply,
                mac,
            } => {
                let sha = MacAddr::new(2, 0, 0, 0, 9, *mac);
                let arp = if *reply {
                    lamina_arp::ArpRepr::reply_to(
                        &lamina_arp::ArpRepr::request(US_MAC, US, peer(*p)),
                        sha,
                    )
                } else {
                    lamina_arp::ArpRepr::request(sha, peer(*p), US)
                };
                EmptyBody
                    .wrap_in(arp)
                    .wrap_in(EthernetRepr::new(sha, MacAddr::BROADCAST, EtherType::ARP))
                    .serialize_vec(0)
                    .ok()
                    .map(|b| b.as_slice().to_vec())
            }
            _ => None,
        };
        if let Some(frame) = frame
            && !frame.is_empty()
            && let Some(t) = peer_end.transmit(now)
        {
            if peer_end_shares {
                let (head, payload) = frame.split_at(split_point(&frame));
                let payload = bytes::Bytes::copy_from_slice(payload);
                let _ = t.consume_shared(head.len(), payload, |b| b.copy_from_slice(head));
            } else {
                let _ = t.consume(frame.len(), |b| b.copy_from_slice(&frame));
            }
        }
        match op {
            Op::Accept => {
                if let Ok(h) = host.sockets.accept_tcp(host.listener) {
                    host.tcp.push(h);
                }
            }
            Op::Send { which, len } => {
                if let Some(&h) = host.tcp.get(usize::from(which) % host.tcp.len().max(1))
                    && let Ok(t) = host.sockets.tcp(h)
                {
                    let data = vec![0x5a; usize::from(len)];
                    let _ = t.send(&data);
                }
                // Short datagrams are queued; long ones go into buffers
                // the wire lends the socket.
                let datagram: &[u8] = if len >= 512 {
                    &vec![0xa5; usize::from(len).min(1472)]
                } else {
                    b"fuzz"
                };
                let _ = host
                    .sockets
                    .udp(host.udp)
                    .map(|s| s.send_to(datagram, SocketAddrV4::new(peer(which), 7)));
            }
            Op::Recv { which, len } => {
                let n = usize::from(len).min(buf.len());
                if let Some(&h) = host.tcp.get(usize::from(which) % host.tcp.len().max(1))
                    && let Ok(t) = host.sockets.tcp(h)
                {
                    let _ = t.recv(&mut buf[..n]);
                }
                if let Ok(s) = host.sockets.udp(host.udp) {
                    // A peeked datagram is the one read next.
                    let peeked = s.peek().map(|(p, from, _)| (p.to_vec(), from));
                    match (peeked, s.recv_from(&mut buf[..n])) {
                        (Ok((p, from)), Ok((got, src))) => {
                            assert_eq!(from, src);
                            assert_eq!(got, p.len().min(n));
                            assert_eq!(buf[..got], p[..got]);
                        }
                        // (A pending ICMP error is reported first.)
                        (Ok(_), Err(lamina_socket::Error::WouldBlock)) => {
                            panic!("peeked, then nothing to read")
                        }
                        _ => {}
                    }
                }
                let _ = host.sockets.icmp(host.ping).map(|s| s.recv_echo());
            }
            Op::Close { which } if !host.tcp.is_empty() => {
                let i = usize::from(which) % host.tcp.len();
                let h = host.tcp.swap_remove(i);
                let _ = host.sockets.close_tcp(h);
            }
            Op::Abort { which } => {
                if let Some(&h) = host.tcp.get(usize::from(which) % host.tcp.len().max(1))
                    && let Ok(t) = host.sockets.tcp(h)
                {
                    t.abort();
                }
            }
            Op::Connect { peer: p, port } => {
                if let Ok(h) = host.sockets.add(TcpSocket::default()) {
                    if host
                        .sockets
                        .connect_tcp(h, SocketAddrV4::new(peer(p), port.max(1)), None)
                        .is_ok()
                    {
                        host.tcp.push(h);
                    } else {
                        host.sockets.remove(h);
                    }
                }
            }
            Op::Ping { peer: p, len } => {
                let data = vec![1u8; usize::from(len)];
                let _ = host
                    .sockets
                    .icmp(host.ping)
                    .map(|s| s.send_echo(peer(p), 1, &data));
            }
            Op::Step(ms) => now += Duration::from_millis(u64::from(ms)),
            Op::Admin { what, arg } => admin(&mut host.iface, what, arg, now),
            _ => {}
        }
        host.dev.refill();
        host.iface.poll(now, &mut host.dev, &mut host.sockets);
        drain(&mut peer_end, now, &mut seen);
        // Bounds.
        assert!(host.sockets.len() <= SOCKETS);
        let neighbors = host.iface.neighbors(IfaceId(0)).expect("device 0");
        assert!(neighbors.len() <= lamina_arp::NeighborConfig::DEFAULT.max_entries);
        let r = host.iface.reassembler();
        assert!(r.len() <= InterfaceConfig::default().reassembly.max_datagrams);
        // No timer is missed: the interface asks to be polled no later
        // than any connection or listener wants (the set keeps them in a
        // timer heap and a due list, not by scanning every socket).
        let at = host.iface.poll_at(&mut host.dev, &host.sockets);
        for &h in host.tcp.iter().chain([&host.listener]) {
            let wanted = match host.sockets.get(h) {
                Some(lamina_socket::Socket::Tcp(t)) => t
                    .connection()
                    .and_then(|c| c.poll_at())
                    .or_else(|| t.listener().and_then(|l| l.poll_at())),
                _ => None,
            };
            if let Some(w) = wanted {
                assert!(
                    at.is_some_and(|a| a <= w.max(now)),
                    "poll_at {at:?} later than a socket's timer {w:?} (now {now:?})"
                );
            }
        }
    }
    // Time heals: ten minutes on (the ring no longer short of room),
    // every timer has run and the TCP connections that saw no peer have
    // given up.
    host.dev.set_limit(None);
    for _ in 0..60 {
        now += Duration::from_secs(10);
        host.iface.poll(now, &mut host.dev, &mut host.sockets);
        drain(&mut peer_end, now, &mut seen);
    }
    Ok(())
}

/// The target's body: never panics on any input.
pub fn fuzz(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
}
