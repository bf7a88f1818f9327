//! What the filter reads from a datagram: addresses, protocol, ports or
//! ICMP fields, TCP flags and numbers, and, for ICMP errors, the quoted
//! datagram's flow. Everything is read with bounds-checked accessors.

use core::net::Ipv4Addr;

use lamina_ipv4::Ipv4Packet;
use lamina_tcp::TcpSegment;

/// IP protocol numbers the filter knows.
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
pub(crate) const ICMP: u8 = 1;

/// ICMP types the tracker treats specially.
pub(crate) const ECHO_REPLY: u8 = 0;
pub(crate) const ECHO_REQUEST: u8 = 8;

/// A flow's identity in one direction: addresses, protocol and the two
/// "ports". For ICMP echo, the identifier is the requester's port: an
/// Echo Request from A to B is `(A, B, id, 0)` and its reply
/// `(B, A, 0, id)`, so that the reply is the request's inverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port (or ICMP echo identifier of a request).
    pub sport: u16,
    /// Destination port (or ICMP echo identifier of a reply).
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
}

impl Tuple {
    /// The same flow seen from the other end.
    #[inline]
    pub fn invert(&self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
        }
    }
}

/// The TCP fields conntrack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpInfo {
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Payload length plus one for SYN and one for FIN.
    pub seg_len: u32,
    pub wscale: Option<u8>,
}

/// The transport layer as the filter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4 {
    /// Not parsed: unknown protocol, a later fragment, or truncated.
    None,
    /// TCP with its ports and tracking fields.
    Tcp {
        sport: u16,
        dport: u16,
        info: TcpInfo,
    },
    /// UDP.
    Udp { sport: u16, dport: u16 },
    /// An ICMP echo (request or reply) with its identifier.
    IcmpEcho { ty: u8, code: u8, id: u16 },
    /// An ICMP error quoting a datagram whose flow could be read.
    IcmpError { ty: u8, code: u8, inner: Inner },
    /// Any other ICMP message.
    IcmpOther { ty: u8, code: u8 },
}

/// The datagram quoted by an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inner {
    /// Offset of the quoted IPv4 header in the outer datagram.
    pub ip_off: usize,
    /// Length of the quoted IPv4 header.
    pub ihl: usize,
    /// The quoted datagram's own tuple (as it was sent).
    pub tuple: Tuple,
    /// Whether the quote carries the ports / identifier.
    pub has_ports: bool,
}

/// A datagram's header fields, parsed once per hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ihl: usize,
    pub total_len: u16,
    pub ident: u16,
    /// Any fragment (first or later).
    pub fragment: bool,
    pub l4: L4,
}

/// Whether the transport checksum of `whole` (the datagram `p` was read
/// from) is right: TCP and UDP over their pseudo-header (a UDP checksum
/// of zero is none, RFC 768), ICMP over its message. A fragment cannot be
/// checked (its payload is not all there) and passes, as do other
/// protocols.
pub(crate) fn transport_checksum_ok(p: &Parsed, whole: &[u8]) -> bool {
    use lamina_netbuf::checksum::{Checksum, ipv4_pseudo_header};
    if p.fragment {
        return true;
    }
    let Some(body) = whole.get(p.ihl..usize::from(p.total_len)) else {
        return false;
    };
    let Ok(len) = u16::try_from(body.len()) else {
        return false;
    };
    let mut sum = match p.proto {
        TCP => ipv4_pseudo_header(p.src, p.dst, TCP, len),
        UDP if be16(body, 6) == Some(0) => return true,
        UDP => ipv4_pseudo_header(p.src, p.dst, UDP, len),
        ICMP => Checksum::new(),
        _ => return true,
    };
    sum.add_bytes(body);
    sum.finish() == 0
}

#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off + 2)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> Option<u32> {
    Some((u32::from(be16(b, off)?) << 16) | u32::from(be16(b, off + 2)?))
}

impl Parsed {
    /// Reads `bytes`, a datagram from its IPv4 header; `None` when it is
    /// not a well-formed IPv4 datagram.
    pub fn parse(bytes: &[u8]) -> Option<Parsed> {
        let ip = Ipv4Packet::parse(bytes).ok()?;
        let proto = ip.protocol().0;
        let fragment = ip.more_fragments() || ip.fragment_offset() != 0;
        let payload = ip.payload();
        let l4 = if ip.fragment_offset() != 0 {
            L4::None
        } else {
            parse_l4(proto, payload, bytes, ip.header_len())
        };
        Some(Parsed {
            src: ip.src(),
            dst: ip.dst(),
            proto,
            ihl: ip.header_len(),
            total_len: ip.total_len(),
            ident: ip.identification(),
            fragment,
            l4,
        })
    }

    /// The datagram's tuple, when it belongs to a trackable flow.
    pub fn tuple(&self) -> Option<Tuple> {
        let (sport, dport) = match self.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
            L4::IcmpEcho { ty, id, .. } => {
                if ty == ECHO_REQUEST {
                    (id, 0)
                } else {
                    (0, id)
                }
            }
            L4::IcmpError { .. } | L4::IcmpOther { .. } => return None,
            L4::None if self.fragment || matches!(self.proto, TCP | UDP | ICMP) => return None,
            L4::None => (0, 0),
        };
        Some(Tuple {
            src: self.src,
            dst: self.dst,
            sport,
            dport,
            proto: self.proto,
        })
    }

    /// Source and destination ports (TCP or UDP), for rule matching.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => Some((sport, dport)),
            _ => None,
        }
    }

    /// ICMP type and code, for rule matching.
    pub fn icmp(&self) -> Option<(u8, u8)> {
        match self.l4 {
            L4::IcmpEcho { ty, code, .. }
            | L4::IcmpError { ty, code, .. }
            | L4::IcmpOther { ty, code } => Some((ty, code)),
            _ => None,
        }
    }

    /// TCP flags, for rule matching.
    pub fn tcp_flags(&self) -> Option<u16> {
        match self.l4 {
            L4::Tcp { info, .. } => Some(info.flags),
            _ => None,
        }
    }
}

fn parse_l4(proto: u8, payload: &[u8], whole: &[u8], ihl: usize) -> L4 {
    match proto {
        TCP => match TcpSegment::parse(payload) {
            Ok(seg) => {
                let flags = seg.flags().bits();
                let mut seg_len = seg.payload().len() as u32;
                if seg.syn() {
                    seg_len += 1;
                }
                if seg.fin() {
                    seg_len += 1;
                }
                L4::Tcp {
                    sport: seg.src_port(),
                    dport: seg.dst_port(),
                    info: TcpInfo {
                        flags,
                        seq: seg.seq_number().get(),
                        ack: seg.ack_number().get(),
                        window: seg.window_len(),
                        seg_len,
                        wscale: seg.window_scale(),
                    },
                }
            }
            Err(_) => L4::None,
        },
        UDP => match (be16(payload, 0), be16(payload, 2), payload.len() >= 8) {
            (Some(sport), Some(dport), true) => L4::Udp { sport, dport },
            _ => L4::None,
        },
        ICMP => {
            let (Some(&ty), Some(&code)) = (payload.first(), payload.get(1)) else {
                return L4::None;
            };
            if payload.len() < 8 {
                return L4::None;
            }
            match ty {
                ECHO_REQUEST | ECHO_REPLY => match be16(payload, 4) {
                    Some(id) => L4::IcmpEcho { ty, code, id },
                    None => L4::None,
                },
                3 | 4 | 5 | 11 | 12 => match parse_inner(whole, ihl + 8) {
                    Some(inner) => L4::IcmpError { ty, code, inner },
                    None => L4::IcmpOther { ty, code },
                },
                _ => L4::IcmpOther { ty, code },
            }
        }
        _ => L4::None,
    }
}

/// Reads the datagram quoted at `off` of `whole`.
fn parse_inner(whole: &[u8], off: usize) -> Option<Inner> {
    let quote = whole.get(off..)?;
    let ip = Ipv4Packet::parse_truncated(quote).ok()?;
    let proto = ip.protocol().0;
    let ihl = ip.header_len();
    let l4 = ip.payload();
    if ip.fragment_offset() != 0 {
        return None;
    }
    let (sport, dport, has_ports) = match proto {
        TCP | UDP => match (be16(l4, 0), be16(l4, 2)) {
            (Some(s), Some(d)) => (s, d, true),
            _ => (0, 0, false),
        },
        ICMP => match (l4.first(), be16(l4, 4)) {
            (Some(&ECHO_REQUEST), Some(id)) => (id, 0, true),
            (Some(&ECHO_REPLY), Some(id)) => (0, id, true),
            _ => return None,
        },
        _ => (0, 0, true),
    };
    if !has_ports {
        return None;
    }
    Some(Inner {
        ip_off: off,
        ihl,
        tuple: Tuple {
            src: ip.src(),
            dst: ip.dst(),
            sport,
            dport,
            proto,
        },
        has_ports,
    })
}
