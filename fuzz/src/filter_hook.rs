//! Fuzz target `filter_hook`: `lamina_filter::Filter` as a NAT router and
//! firewall, fed datagrams at the hook points in sequences chosen by the
//! input, with a stepping clock.
//!
//! The filter runs a fixed ruleset ([`RULES`]: masquerade on the WAN
//! interface, SNAT to a small port range on a third interface, port
//! forwards, hairpin NAT, a default-drop firewall with `ct state`, user
//! chains, marks, logs and rejects); the input picks the conntrack bound
//! and then a sequence of operations:
//!
//! - a datagram built from fields (addresses and ports from small pools
//!   or arbitrary; TCP with flags, sequence numbers, window scale; UDP
//!   with or without checksum; ICMP echo and other messages; any other
//!   protocol; whole, first or later fragment; optionally one byte
//!   altered);
//! - the reply to, or the continuation of, a datagram seen before (its
//!   addresses and ports swapped, sequence and acknowledgement numbers
//!   following on), so that flows get established and NAT reverses;
//! - an ICMP error quoting a datagram seen before;
//! - raw bytes;
//! - each sent either to one hook point with arbitrary interfaces, or
//!   along a whole way through the stack as the `Interface` calls the
//!   hooks (forwarded: PreRouting, Forward, PostRouting; received:
//!   PreRouting, Input; sent: Output, PostRouting), stopping at the first
//!   verdict that is not Accept;
//! - steps of the clock, small or large, and garbage collection;
//! - a restart (every flow forgotten) or a reload of the ruleset.
//!
//! After every hook call the target checks:
//!
//! - nothing panics;
//! - the conntrack table never holds more than its bound, its iterator
//!   agrees with its length, and no tuple (original or reply, after NAT)
//!   belongs to two flows;
//! - an accepted datagram whose IPv4 header checksum was right still has
//!   a right one after NAT rewrote it, and likewise its TCP, UDP (a zero
//!   "no checksum" stays zero) or ICMP checksum for an unfragmented
//!   datagram, and the IPv4 header checksum quoted in an ICMP error;
//! - every answer drained from `next_injected` (rejects) is a well-formed
//!   IPv4 datagram with right checksums, or is refused for want of room.

use std::collections::{HashSet, VecDeque};
use std::net::Ipv4Addr;

use arbitrary::{Result, Unstructured};
use lamina_filter::{ConntrackConfig, Filter, FilterConfig, Ruleset};
use lamina_ipv4::IfaceId;
use lamina_ipv4::hook::{HookPoint, PacketHook, Verdict};
use lamina_netbuf::checksum::{Checksum, checksum, ipv4_pseudo_header};
use lamina_netbuf::{Duration, Instant, SeededRng};

/// The router's ruleset. Interfaces: 0 is the LAN (192.168.1.1/24), 1
/// the WAN (198.51.100.2), 2 a second uplink (203.0.113.1).
pub const RULES: &str = r#"
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iif 1 tcp dport 8080 dnat to 192.168.1.10:80
        iif 1 udp dport 5353 dnat to 192.168.1.10:53
        iif 0 ip daddr 198.51.100.2 tcp dport 8080 dnat to 192.168.1.10:80
        iif 2 ip protocol 47 dnat to 192.168.1.20
    }
    chain output {
        type nat hook output priority dstnat; policy accept;
        ip daddr 198.51.100.2 udp dport 5353 dnat to 192.168.1.10:53
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
        oif 2 snat to 203.0.113.1:1000-1003
        oif 0 ip saddr 192.168.1.0/24 ip daddr 192.168.1.10 masquerade
    }
    chain input {
        type nat hook input priority srcnat; policy accept;
        ip saddr 10.0.0.0/8 snat to 192.168.1.99
    }
}
table ip filter {
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        ct state invalid log prefix "invalid " drop
        iif 0 icmp type echo-request accept
        iif 0 tcp dport 22 ip saddr 192.168.1.0/24 ct state new accept
        tcp dport 23 reject with tcp reset
        udp dport 9 reject
        udp dport 19 reject with icmp host-prohibited
        jump services
        log prefix "in-drop "
    }
    chain services {
        meta mark set 5
        udp dport { 7, 53, 123 } accept
        tcp flags & (syn | ack) == syn tcp dport 1000-1100 goto late
        return
    }
    chain late {
        meta mark & 0xff == 5 ip length 40-1500 accept
    }
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif 0 oif 1 accept
        iif 0 oif 2 accept
        ip daddr 192.168.1.10 tcp dport 80 ct state new accept
        ip daddr 192.168.1.10 udp dport 53 accept
        ip daddr 192.168.1.20 ip protocol 47 accept
        iif 0 oif 0 accept
        tcp dport 25 reject with tcp reset
        icmp type { echo-request, destination-unreachable } reject with icmp admin-prohibited
    }
    chain output {
        type filter hook output priority 0; policy accept;
        tcp dport 25 reject with icmp admin-prohibited
        ip daddr 192.0.2.99 drop
    }
}
"#;

const ADDRS: [Ipv4Addr; 11] = [
    Ipv4Addr::new(192, 168, 1, 10),
    Ipv4Addr::new(192, 168, 1, 20),
    Ipv4Addr::new(192, 168, 1, 1),
    Ipv4Addr::new(198, 51, 100, 2),
    Ipv4Addr::new(198, 51, 100, 1),
    Ipv4Addr::new(203, 0, 113, 7),
    Ipv4Addr::new(10, 1, 2, 3),
    Ipv4Addr::new(203, 0, 113, 1),
    Ipv4Addr::new(192, 0, 2, 99),
    Ipv4Addr::new(192, 168, 1, 99),
    Ipv4Addr::BROADCAST,
];

const PORTS: [u16; 16] = [
    22, 23, 25, 53, 80, 8080, 5353, 7, 9, 19, 123, 1000, 1001, 40000, 40001, 0,
];

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;

fn addr(u: &mut Unstructured<'_>) -> Result<Ipv4Addr> {
    let i: u8 = u.arbitrary()?;
    Ok(match ADDRS.get(usize::from(i % 16)) {
        Some(a) => *a,
        None => Ipv4Addr::from_bits(u.arbitrary()?),
    })
}

fn port(u: &mut Unstructured<'_>) -> Result<u16> {
    let i: u8 = u.arbitrary()?;
    Ok(match PORTS.get(usize::from(i % 20)) {
        Some(p) => *p,
        None => u.arbitrary()?,
    })
}

/// The transport part of a datagram to build.
#[derive(Debug, Clone)]
enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        wscale: Option<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
        zero_checksum: bool,
    },
    Echo {
        reply: bool,
        id: u16,
        seq: u16,
    },
    Icmp {
        ty: u8,
        code: u8,
        rest: [u8; 4],
    },
    Other(u8),
}

/// A datagram to build.
#[derive(Debug, Clone)]
struct Spec {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    ttl: u8,
    l4: L4,
    payload: usize,
    /// `None`: whole; `Some((cut, first))`: the first fragment (up to
    /// `cut` 8-byte units of the transport segment) or the rest.
    frag: Option<(u8, bool)>,
}

fn spec(u: &mut Unstructured<'_>) -> Result<Spec> {
    let l4 = match u.int_in_range(0..=5u8)? {
        0 | 1 => L4::Tcp {
            sport: port(u)?,
            dport: port(u)?,
            flags: u.arbitrary()?,
            seq: u.arbitrary()?,
            ack: u.arbitrary()?,
            win: u.arbitrary()?,
            wscale: u.arbitrary()?,
        },
        2 => L4::Udp {
            sport: port(u)?,
            dport: port(u)?,
            zero_checksum: u.ratio(1, 4)?,
        },
        3 => L4::Echo {
            reply: u.arbitrary()?,
            id: u.arbitrary()?,
            seq: u.arbitrary()?,
        },
        4 => L4::Icmp {
            ty: u.arbitrary()?,
            code: u.arbitrary()?,
            rest: u.arbitrary()?,
        },
        _ => L4::Other(u.arbitrary()?),
    };
    Ok(Spec {
        src: addr(u)?,
        dst: addr(u)?,
        ident: u.arbitrary()?,
        ttl: u.int_in_range(1..=255)?,
        l4,
        payload: usize::from(u.int_in_range(0..=200u8)?),
        frag: if u.ratio(1, 8)? {
            Some((u.int_in_range(1..=8)?, u.arbitrary()?))
        } else {
            None
        },
    })
}

/// An IPv4 header (no options) for `payload_len` bytes, checksummed.
fn ip_header(s: &Spec, proto: u8, payload_len: usize, more: bool, offset: u16) -> [u8; 20] {
    let total = (20 + payload_len) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&s.ident.to_be_bytes());
    let frag = (u16::from(more) << 13) | (offset & 0x1fff);
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = s.ttl;
    h[9] = proto;
    h[12..16].copy_from_slice(&s.src.octets());
    h[16..20].copy_from_slice(&s.dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, seg: &[u8]) -> u16 {
    let mut c = ipv4_pseudo_header(src, dst, proto, seg.len() as u16);
    c.add_bytes(seg);
    c.finish()
}

/// The datagram `s` describes, checksums right.
fn build(s: &Spec) -> Vec<u8> {
    let payload: Vec<u8> = (0..s.payload).map(|i| (i as u8) ^ 0xa5).collect();
    let (proto, seg) = match s.l4 {
        L4::Tcp {
            sport,
            dport,
            flags,
            seq,
            ack,
            win,
            wscale,
        } => {
            let opt_len = if wscale.is_some() { 4 } else { 0 };
            let mut seg = vec![0u8; 20 + opt_len];
            seg[0..2].copy_from_slice(&sport.to_be_bytes());
            seg[2..4].copy_from_slice(&dport.to_be_bytes());
            seg[4..8].copy_from_slice(&seq.to_be_bytes());
            seg[8..12].copy_from_slice(&ack.to_be_bytes());
            seg[12] = ((20 + opt_len as u8) / 4) << 4;
            seg[13] = flags;
            seg[14..16].copy_from_slice(&win.to_be_bytes());
            if let Some(shift) = wscale {
                seg[20..24].copy_from_slice(&[1, 3, 3, shift]);
            }
            seg.extend_from_slice(&payload);
            let c = transport_checksum(s.src, s.dst, TCP, &seg);
            seg[16..18].copy_from_slice(&c.to_be_bytes());
            (TCP, seg)
        }
        L4::Udp {
            sport,
            dport,
            zero_checksum,
        } => {
            let mut seg = vec![0u8; 8];
            seg[0..2].copy_from_slice(&sport.to_be_bytes());
            seg[2..4].copy_from_slice(&dport.to_be_bytes());
            seg[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            seg.extend_from_slice(&payload);
            if !zero_checksum {
                let c = match transport_checksum(s.src, s.dst, UDP, &seg) {
                    0 => 0xffff,
                    c => c,
                };
                seg[6..8].copy_from_slice(&c.to_be_bytes());
            }
            (UDP, seg)
        }
        L4::Echo { reply, id, seq } => {
            let mut seg = vec![if reply { 0 } else { 8 }, 0, 0, 0];
            seg.extend_from_slice(&id.to_be_bytes());
            seg.extend_from_slice(&seq.to_be_bytes());
            seg.extend_from_slice(&payload);
            let c = checksum(&seg);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
            (ICMP, seg)
        }
        L4::Icmp { ty, code, rest } => {
            let mut seg = vec![ty, code, 0, 0];
            seg.extend_from_slice(&rest);
            seg.extend_from_slice(&payload);
            let c = checksum(&seg);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
            (ICMP, seg)
        }
        L4::Other(p) => (p, payload),
    };
    let (more, offset, body) = match s.frag {
        None => (false, 0, &seg[..]),
        Some((cut, first)) => {
            let at = (usize::from(cut) * 8).min(seg.len() & !7);
            if first {
                (true, 0, &seg[..at])
            } else {
                (false, (at / 8) as u16, &seg[at..])
            }
        }
    };
    let mut d = ip_header(s, proto, body.len(), more, offset).to_vec();
    d.extend_from_slice(body);
    d
}

/// An ICMP error of type `ty` from `from` about `quoted` (its first
/// `quote_len` bytes), sent to the quoted datagram's source.
fn icmp_error(
    quoted: &[u8],
    from: Ipv4Addr,
    ty: u8,
    code: u8,
    quote_len: usize,
) -> Option<Vec<u8>> {
    let src = quoted.get(12..16)?;
    let to = Ipv4Addr::new(src[0], src[1], src[2], src[3]);
    let quote = quoted.get(..quote_len.min(quoted.len()))?;
    let mut seg = vec![ty, code, 0, 0, 0, 0, 0, 0];
    seg.extend_from_slice(quote);
    let c = checksum(&seg);
    seg[2..4].copy_from_slice(&c.to_be_bytes());
    let s = Spec {
        src: from,
        dst: to,
        ident: 0,
        ttl: 64,
        l4: L4::Other(ICMP),
        payload: 0,
        frag: None,
    };
    let mut d = ip_header(&s, ICMP, seg.len(), false, 0).to_vec();
    d.extend_from_slice(&seg);
    Some(d)
}

/// A datagram's fields, read back from its bytes.
#[derive(Debug, Clone, Copy)]
struct Seen {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    l4: Option<Seen4>,
}

#[derive(Debug, Clone, Copy)]
enum Seen4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        len: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    Echo {
        reply: bool,
        id: u16,
    },
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn seen(d: &[u8]) -> Option<Seen> {
    let ihl = usize::from(d.first()? & 0x0f) * 4;
    let total = usize::from(be16(d, 2)?).min(d.len());
    let src = Ipv4Addr::from_bits(be32(d, 12)?);
    let dst = Ipv4Addr::from_bits(be32(d, 16)?);
    let l4 = d.get(ihl..total)?;
    let l4 = match *d.get(9)? {
        TCP => {
            let flags = *l4.get(13)?;
            let off = usize::from(l4.get(12)? >> 4) * 4;
            let len = l4.len().saturating_sub(off) as u32
                + u32::from(flags & 0x02 != 0)
                + u32::from(flags & 0x01 != 0);
            Some(Seen4::Tcp {
                sport: be16(l4, 0)?,
                dport: be16(l4, 2)?,
                seq: be32(l4, 4)?,
                ack: be32(l4, 8)?,
                len,
            })
        }
        UDP => Some(Seen4::Udp {
            sport: be16(l4, 0)?,
            dport: be16(l4, 2)?,
        }),
        ICMP => match l4.first()? {
            0 | 8 => Some(Seen4::Echo {
                reply: l4.first() == Some(&0),
                id: be16(l4, 4)?,
            }),
            _ => None,
        },
        _ => None,
    };
    Some(Seen { src, dst, l4 })
}

/// A datagram that follows `d`: its reply (`reverse`) or the next one
/// the same way.
fn follow(u: &mut Unstructured<'_>, d: &[u8], reverse: bool) -> Result<Option<Spec>> {
    let Some(s) = seen(d) else {
        return Ok(None);
    };
    let (src, dst) = if reverse {
        (s.dst, s.src)
    } else {
        (s.src, s.dst)
    };
    let slack: i8 = u.arbitrary()?;
    let l4 = match s.l4 {
        Some(Seen4::Tcp {
            sport,
            dport,
            seq,
            ack,
            len,
        }) => {
            let (sport, dport, seq, ack) = if reverse {
                (dport, sport, ack, seq.wrapping_add(len))
            } else {
                (sport, dport, seq.wrapping_add(len), ack)
            };
            L4::Tcp {
                sport,
                dport,
                flags: *u.choose(&[0x10, 0x12, 0x18, 0x11, 0x14, 0x04, 0x02])?,
                seq: seq.wrapping_add(slack as i32 as u32),
                ack,
                win: u.arbitrary()?,
                wscale: if u.ratio(1, 4)? { Some(7) } else { None },
            }
        }
        Some(Seen4::Udp { sport, dport }) => {
            let (sport, dport) = if reverse {
                (dport, sport)
            } else {
                (sport, dport)
            };
            L4::Udp {
                sport,
                dport,
                zero_checksum: u.ratio(1, 8)?,
            }
        }
        Some(Seen4::Echo { reply, id }) => L4::Echo {
            reply: reply != reverse,
            id,
            seq: u.arbitrary()?,
        },
        None => L4::Other(*d.get(9).unwrap_or(&0)),
    };
    Ok(Some(Spec {
        src,
        dst,
        ident: u.arbitrary()?,
        ttl: 64,
        l4,
        payload: usize::from(u.int_in_range(0..=64u8)?),
        frag: None,
    }))
}

/// Which checksums of a datagram are right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sums {
    ip: bool,
    /// The transport checksum, where it can be checked (unfragmented
    /// TCP, UDP, ICMP); for UDP, `Some(true)` also when absent.
    l4: Option<bool>,
    udp_absent: bool,
    /// The IPv4 header checksum quoted in an ICMP error.
    quoted_ip: Option<bool>,
}

fn sums(d: &[u8]) -> Option<Sums> {
    if d.first()? >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(d.first()? & 0x0f) * 4;
    let total = usize::from(be16(d, 2)?);
    if ihl < 20 || total < ihl || total > d.len() {
        return None;
    }
    let ip = checksum(d.get(..ihl)?) == 0;
    let frag = be16(d, 6)? & 0x3fff != 0;
    let src = Ipv4Addr::from_bits(be32(d, 12)?);
    let dst = Ipv4Addr::from_bits(be32(d, 16)?);
    let seg = d.get(ihl..total)?;
    let mut s = Sums {
        ip,
        l4: None,
        udp_absent: false,
        quoted_ip: None,
    };
    if frag {
        return Some(s);
    }
    match *d.get(9)? {
        TCP if seg.len() >= 20 => s.l4 = Some(transport_checksum(src, dst, TCP, seg) == 0),
        UDP if seg.len() >= 8 => {
            s.udp_absent = be16(seg, 6)? == 0;
            s.l4 = Some(s.udp_absent || transport_checksum(src, dst, UDP, seg) == 0);
        }
        ICMP if seg.len() >= 8 => {
            let mut c = Checksum::new();
            c.add_bytes(seg);
            s.l4 = Some(c.finish() == 0);
            if matches!(seg.first(), Some(3 | 4 | 5 | 11 | 12))
                && let Some(q) = seg.get(8..)
                && q.first().is_some_and(|b| b >> 4 == 4)
            {
                let qihl = usize::from(q.first()? & 0x0f) * 4;
                if qihl >= 20 {
                    s.quoted_ip = q.get(..qihl).map(|h| checksum(h) == 0);
                }
            }
        }
        _ => {}
    }
    Some(s)
}

/// Checks that NAT kept every checksum that was right before it right.
fn check_rewrite(before: Option<Sums>, after: &[u8]) {
    let Some(b) = before else { return };
    let a = sums(after).expect("an accepted datagram stays readable");
    if b.ip {
        assert!(a.ip, "IPv4 header checksum broken by the filter");
    }
    if b.l4 == Some(true) {
        assert_eq!(a.l4, Some(true), "transport checksum broken by the filter");
        assert_eq!(a.udp_absent, b.udp_absent, "UDP checksum presence changed");
    }
    if b.quoted_ip == Some(true) {
        assert_eq!(a.quoted_ip, Some(true), "quoted IPv4 checksum broken");
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy)]
enum Way {
    At(HookPoint, Option<IfaceId>, Option<IfaceId>),
    Forward(IfaceId, IfaceId),
    Receive(IfaceId),
    Send(IfaceId),
}

fn iface(u: &mut Unstructured<'_>) -> Result<IfaceId> {
    Ok(IfaceId(u16::from(u.int_in_range(0..=3u8)?)))
}

fn way(u: &mut Unstructured<'_>) -> Result<Way> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => Way::At(
            *u.choose(&[
                HookPoint::PreRouting,
                HookPoint::Input,
                HookPoint::Forward,
                HookPoint::Output,
                HookPoint::PostRouting,
            ])?,
            if u.arbitrary()? {
                Some(iface(u)?)
            } else {
                None
            },
            if u.arbitrary()? {
                Some(iface(u)?)
            } else {
                None
            },
        ),
        1 => Way::Forward(iface(u)?, iface(u)?),
        2 => Way::Receive(iface(u)?),
        _ => Way::Send(iface(u)?),
    })
}

struct Run {
    filter: Filter,
    max: usize,
    now: Instant,
    /// Datagrams seen (as sent, and as accepted), the newest last.
    history: VecDeque<Vec<u8>>,
}

impl Run {
    fn remember(&mut self, d: &[u8]) {
        if self.history.len() >= 16 {
            self.history.pop_front();
        }
        self.history.push_back(d.to_vec());
    }

    fn send(&mut self, mut d: Vec<u8>, w: Way) {
        self.remember(&d);
        let steps: &[(HookPoint, Option<IfaceId>, Option<IfaceId>)] = &match w {
            Way::At(p, i, o) => vec![(p, i, o)],
            Way::Forward(i, o) => vec![
                (HookPoint::PreRouting, Some(i), None),
                (HookPoint::Forward, Some(i), Some(o)),
                (HookPoint::PostRouting, None, Some(o)),
            ],
            Way::Receive(i) => vec![
                (HookPoint::PreRouting, Some(i), None),
                (HookPoint::Input, Some(i), None),
            ],
            Way::Send(o) => vec![
                (HookPoint::Output, None, Some(o)),
                (HookPoint::PostRouting, None, Some(o)),
            ],
        };
        for &(point, i, o) in steps {
            let before = sums(&d);
            let v = self.filter.hook(point, &mut d, i, o, self.now);
            self.check_bounds();
            if v != Verdict::Accept {
                return;
            }
            check_rewrite(before, &d);
        }
        self.remember(&d);
    }

    fn check_bounds(&self) {
        let ct = self.filter.conntrack();
        assert!(ct.len() <= self.max, "{} flows > {}", ct.len(), self.max);
        assert_eq!(ct.iter().count(), ct.len());
        // Each tuple names one flow, whichever way it is read: NAT never
        // binds a tuple another flow uses (RFC 4787 §4.2.1's uniqueness).
        let mut tuples = HashSet::new();
        for c in ct.iter() {
            assert!(tuples.insert(c.original), "tuple used twice: {c:?}");
            if c.reply != c.original {
                assert!(tuples.insert(c.reply), "reply tuple used twice: {c:?}");
            }
        }
        let st = self.filter.stats();
        assert!(st.rejected <= st.dropped);
    }

    fn drain(&mut self, room: usize) {
        let mut buf = vec![0u8; room];
        let mut n = 0;
        while let Some(len) = self.filter.next_injected(&mut buf, self.now) {
            n += 1;
            assert!(n <= 64 + 1, "more answers than the queue holds");
            let d = buf.get(..len).expect("length within the buffer");
            let s = sums(d).expect("an answer is IPv4");
            assert!(s.ip, "answer's IPv4 checksum");
            assert_eq!(s.l4, Some(true), "answer's transport checksum");
            assert_eq!(usize::from(be16(d, 2).unwrap_or(0)), len);
        }
    }
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let max = u.int_in_range(1..=32)?;
    let config = FilterConfig {
        conntrack: ConntrackConfig {
            max_entries: max,
            tcp_loose: u.arbitrary()?,
            ..ConntrackConfig::default()
        },
        log_rate: u.int_in_range(0..=20)?,
        log_burst: u.int_in_range(0..=5)?,
        max_injected: 64,
    };
    let rules: Ruleset = RULES.parse().expect("the fuzz ruleset parses");
    let mut filter = Filter::new(rules, config, &mut SeededRng::new(u.arbitrary()?))
        .expect("the fuzz ruleset builds");
    filter.set_interface_address(IfaceId(0), Ipv4Addr::new(192, 168, 1, 1));
    filter.set_interface_address(IfaceId(1), Ipv4Addr::new(198, 51, 100, 2));
    filter.set_interface_address(IfaceId(2), Ipv4Addr::new(203, 0, 113, 1));
    filter.set_logger(|r| assert!(r.packet.len() >= 20));
    let mut r = Run {
        filter,
        max,
        now: Instant::from_secs(1),
        history: VecDeque::new(),
    };
    let mut steps = 0;
    while !u.is_empty() && steps < 128 {
        steps += 1;
        match u.int_in_range(0..=9u8)? {
            0..=2 => {
                let s = spec(u)?;
                let mut d = build(&s);
                if u.ratio(1, 16)? {
                    let at = usize::from(u.arbitrary::<u8>()?) % d.len().max(1);
                    if let Some(b) = d.get_mut(at) {
                        *b ^= u.int_in_range(1..=255)?;
                    }
                }
                let w = way(u)?;
                r.send(d, w);
            }
            3 | 4 => {
                let k = usize::from(u.arbitrary::<u8>()?);
                let reverse = u.ratio(2, 3)?;
                let from = r
                    .history
                    .len()
                    .checked_sub(1 + k % 16)
                    .and_then(|i| r.history.get(i));
                if let Some(d) = from.cloned()
                    && let Some(s) = follow(u, &d, reverse)?
                {
                    let w = way(u)?;
                    r.send(build(&s), w);
                }
            }
            5 => {
                let k = usize::from(u.arbitrary::<u8>()?);
                let from = r
                    .history
                    .len()
                    .checked_sub(1 + k % 16)
                    .and_then(|i| r.history.get(i));
                let ty = *u.choose(&[3u8, 11, 12, 4, 5])?;
                let code = u.int_in_range(0..=15)?;
                let quote_len = *u.choose(&[28usize, 48, 576, 8])?;
                let sender = addr(u)?;
                if let Some(d) = from.cloned()
                    && let Some(e) = icmp_error(&d, sender, ty, code, quote_len)
                {
                    let w = way(u)?;
                    r.send(e, w);
                }
            }
            6 => {
                let len = usize::from(u.arbitrary::<u8>()?);
                let d = u.bytes(len.min(u.len()))?.to_vec();
                let w = way(u)?;
                r.send(d, w);
            }
            7 => {
                let step = match u.int_in_range(0..=3u8)? {
                    0 => Duration::from_millis(u.int_in_range(0..=100)?),
                    1 => Duration::from_secs(u.int_in_range(0..=120)?),
                    2 => Duration::from_secs(u.int_in_range(0..=3600)?),
                    _ => Duration::from_secs(u.int_in_range(0..=500_000)?),
                };
                r.now += step;
            }
            8 => match u.arbitrary::<u8>()? % 8 {
                // A restart: every flow forgotten.
                0 => {
                    r.filter.conntrack_mut().clear();
                    assert!(r.filter.conntrack().is_empty());
                }
                // The ruleset reloaded: flows stay.
                1 => {
                    let before = r.filter.conntrack().len();
                    let rules: Ruleset = RULES.parse().expect("the target's ruleset parses");
                    r.filter
                        .set_ruleset(rules)
                        .expect("the target's ruleset builds");
                    assert_eq!(r.filter.conntrack().len(), before);
                }
                _ => {
                    r.filter.conntrack_mut().gc(r.now);
                }
            },
            _ => {
                let room = *u.choose(&[1500usize, 40, 0, 65_535])?;
                r.drain(room);
            }
        }
        r.check_bounds();
    }
    r.drain(1500);
    Ok(())
}
