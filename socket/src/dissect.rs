//! A frame dissector built on Lamina's wire crates.
//!
//! [`dissect`] walks one captured frame top to bottom (Ethernet with its
//! VLAN tags, ARP, IPv4, ICMP, TCP, UDP) through the same zero-copy parsers
//! the stack uses, and records every header field in a [`Dissection`]. It
//! never fails: a layer that does not parse ends the walk with an
//! [`error`](Dissection::error) message, and what was decoded before it is
//! kept. Checksums are reported, not enforced (`checksum_ok`), and are
//! `None` where they cannot be verified: a capture cut short, a fragment, a
//! UDP datagram without a checksum.
//!
//! The `decode` example prints dissections as JSON lines or one-line
//! summaries; the capture-corpus tests compare them with tshark.
//!
//! ```
//! use lamina_socket::dissect::{dissect, LinkType};
//!
//! // An ARP request, Ethernet-framed and padded to 60 bytes.
//! let mut frame = vec![0xff; 6];
//! frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
//! frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1, 192, 0, 2, 2]);
//! frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
//! frame.resize(60, 0);
//!
//! let d = dissect(LinkType::Ethernet, &frame, 60);
//! assert_eq!(d.arp.as_ref().map(|a| a.op), Some(1));
//! assert_eq!(
//!     d.to_json(1),
//!     r#"{"frame":1,"len":60,"eth":{"src":"02:00:00:00:00:01","dst":"ff:ff:ff:ff:ff:ff","type":2054},"arp":{"op":1,"spa":"192.0.2.2","tpa":"192.0.2.1"}}"#
//! );
//! assert_eq!(d.summary(1), "1 ARP who-has 192.0.2.1 tell 192.0.2.2 (02:00:00:00:00:01)");
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;
use core::net::Ipv4Addr;

use lamina_arp::ArpPacket;
use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
use lamina_icmp::IcmpPacket;
use lamina_ipv4::{IpProtocol, Ipv4Header, Ipv4Packet};
use lamina_tcp::TcpSegment;
use lamina_udp::{ChecksumStatus, UdpPacket};

/// How a frame's bytes begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II or IEEE 802.3 (pcap link type 1).
    Ethernet,
    /// A bare IPv4 datagram (pcap link types 101 "raw" and 228 "IPv4").
    RawIpv4,
}

impl LinkType {
    /// The link type for a pcap/pcapng `LINKTYPE_*` value (already masked
    /// as libpcap does), or `None` for link types this dissector does not
    /// read.
    pub fn from_pcap(link_type: u32) -> Option<LinkType> {
        match link_type {
            1 => Some(LinkType::Ethernet),
            101 | 228 => Some(LinkType::RawIpv4),
            _ => None,
        }
    }
}

/// The Ethernet header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthInfo {
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// The type field right after the source address (0x8100 for a tagged
    /// frame), or `None` where it is an IEEE 802.3 length.
    pub ethertype: Option<u16>,
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpInfo {
    /// Operation (1 request, 2 reply, ...).
    pub op: u16,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
    /// Sender hardware address.
    pub sha: MacAddr,
}

/// The IPv4 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Info {
    /// Header length in bytes.
    pub ihl: usize,
    /// Total length field.
    pub len: u16,
    /// Identification.
    pub id: u16,
    /// Don't fragment.
    pub df: bool,
    /// More fragments.
    pub mf: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol number.
    pub proto: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Whether the header checksum verifies.
    pub checksum_ok: Option<bool>,
}

/// The ICMP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpInfo {
    /// Message type.
    pub msg_type: u8,
    /// Code.
    pub code: u8,
    /// Whether the checksum verifies (`None` for a message cut short by the
    /// capture or a fragment).
    pub checksum_ok: Option<bool>,
}

/// The TCP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (whether or not ACK is set).
    pub ack: u32,
    /// Header length in bytes.
    pub hdr_len: usize,
    /// The 12 flag bits (reserved, NS, CWR, ECE, URG, ACK, PSH, RST, SYN,
    /// FIN).
    pub flags: u16,
    /// Window field (unscaled).
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale shift option.
    pub wscale: Option<u8>,
    /// SACK-permitted option present.
    pub sack_perm: bool,
    /// Timestamp value option.
    pub tsval: Option<u32>,
    /// Payload bytes captured.
    pub payload_len: usize,
    /// Whether the checksum verifies.
    pub checksum_ok: Option<bool>,
}

/// The UDP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpInfo {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Length field.
    pub len: u16,
    /// Whether the checksum verifies.
    pub checksum_ok: Option<bool>,
}

/// Everything decoded from one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dissection {
    /// The frame's length on the wire.
    pub len: usize,
    /// Ethernet header (absent for raw IP captures).
    pub eth: Option<EthInfo>,
    /// VLAN IDs, outermost first.
    pub vlan: Vec<u16>,
    /// ARP packet.
    pub arp: Option<ArpInfo>,
    /// IPv4 header.
    pub ipv4: Option<Ipv4Info>,
    /// ICMP header.
    pub icmp: Option<IcmpInfo>,
    /// TCP header.
    pub tcp: Option<TcpInfo>,
    /// UDP header.
    pub udp: Option<UdpInfo>,
    /// Why the walk stopped early: the first layer that did not parse.
    pub error: Option<String>,
    /// Whether that layer is well-formed but of a kind Lamina does not
    /// implement (ARP for hardware other than Ethernet or protocols other
    /// than IPv4), rather than malformed.
    pub unsupported: bool,
}

/// Dissects one frame of `link` type. `orig_len` is its length on the wire
/// (which a capture may have cut short).
pub fn dissect(link: LinkType, frame: &[u8], orig_len: usize) -> Dissection {
    let mut d = Dissection {
        len: orig_len,
        ..Dissection::default()
    };
    match link {
        LinkType::Ethernet => ethernet(&mut d, frame),
        LinkType::RawIpv4 => ipv4(&mut d, frame),
    }
    d
}

fn fail(d: &mut Dissection, layer: &str, err: impl core::fmt::Display) {
    let mut s = String::new();
    let _ = write!(s, "{layer}: {err}");
    d.error = Some(s);
}

fn ethernet(d: &mut Dissection, frame: &[u8]) {
    let eth = match EthernetFrame::parse_truncated(frame) {
        Ok(eth) => eth,
        Err(e) => return fail(d, "ethernet", e),
    };
    let outer = eth.ethertype();
    d.eth = Some(EthInfo {
        src: eth.src(),
        dst: eth.dst(),
        ethertype: (!outer.is_length()).then_some(outer.0),
    });
    d.vlan = eth.vlan_tags().map(|t| t.vid).collect();
    if eth.is_ieee802_3() {
        return;
    }
    match eth.inner_ethertype() {
        EtherType::IPV4 => ipv4(d, eth.payload()),
        EtherType::ARP => arp(d, eth.payload()),
        _ => {}
    }
}

fn arp(d: &mut Dissection, bytes: &[u8]) {
    match ArpPacket::parse(bytes) {
        Ok(p) => {
            d.arp = Some(ArpInfo {
                op: p.operation().0,
                spa: p.sender_protocol_addr(),
                tpa: p.target_protocol_addr(),
                sha: p.sender_hardware_addr(),
            })
        }
        Err(e) => {
            d.unsupported = matches!(
                e,
                lamina_arp::Error::UnsupportedHardware { .. }
                    | lamina_arp::Error::UnsupportedProtocol { .. }
            );
            fail(d, "arp", e)
        }
    }
}

fn ipv4(d: &mut Dissection, bytes: &[u8]) {
    let ip = match Ipv4Packet::parse_truncated(bytes) {
        Ok(ip) => ip,
        Err(e) => {
            // Malformed or cut-off options: the fixed header's fields are
            // still worth showing, as tshark does, before the error.
            if let Some(h) = Ipv4Header::peek(bytes).ok().filter(|h| h.version() == 4) {
                d.ipv4 = Some(Ipv4Info {
                    ihl: h.header_len(),
                    len: h.total_len(),
                    id: h.identification(),
                    df: h.dont_fragment(),
                    mf: h.more_fragments(),
                    frag_offset: h.fragment_offset_bytes(),
                    ttl: h.ttl(),
                    proto: h.protocol().0,
                    src: h.src(),
                    dst: h.dst(),
                    checksum_ok: bytes
                        .get(..h.header_len())
                        .map(|hdr| lamina_netbuf::checksum::checksum(hdr) == 0),
                });
            }
            return fail(d, "ipv4", e);
        }
    };
    let (src, dst) = (ip.src(), ip.dst());
    d.ipv4 = Some(Ipv4Info {
        ihl: ip.header_len(),
        len: ip.total_len(),
        id: ip.identification(),
        df: ip.dont_fragment(),
        mf: ip.more_fragments(),
        frag_offset: ip.fragment_offset_bytes(),
        ttl: ip.ttl(),
        proto: ip.protocol().0,
        src,
        dst,
        checksum_ok: Some(ip.checksum_ok()),
    });
    // Only a first fragment (or an unfragmented datagram) carries the
    // transport header; only a whole, uncut datagram can be checksummed.
    let Some(l4) = ip.l4_payload() else { return };
    let whole = !ip.is_truncated() && !ip.more_fragments();
    match ip.protocol() {
        IpProtocol::ICMP => match IcmpPacket::parse(l4) {
            Ok(icmp) => {
                d.icmp = Some(IcmpInfo {
                    msg_type: icmp.msg_type().0,
                    code: icmp.code(),
                    checksum_ok: whole.then(|| icmp.checksum_ok()),
                })
            }
            Err(e) => fail(d, "icmp", e),
        },
        IpProtocol::TCP => match TcpSegment::parse_truncated(l4) {
            Ok(tcp) => {
                let whole = whole && !tcp.is_truncated();
                d.tcp = Some(TcpInfo {
                    sport: tcp.src_port(),
                    dport: tcp.dst_port(),
                    seq: tcp.seq_number().0,
                    ack: tcp.ack_number().0,
                    hdr_len: tcp.header_len(),
                    flags: tcp.flags().bits(),
                    window: tcp.window_len(),
                    mss: tcp.mss(),
                    wscale: tcp.window_scale(),
                    sack_perm: tcp.sack_permitted(),
                    tsval: tcp.timestamps().map(|t| t.tsval),
                    payload_len: tcp.payload().len(),
                    checksum_ok: whole.then(|| tcp.checksum_ok(src, dst)),
                })
            }
            Err(e) => fail(d, "tcp", e),
        },
        IpProtocol::UDP => match UdpPacket::parse_truncated(l4) {
            Ok(udp) => {
                let checksum_ok = if whole {
                    match udp.checksum_status(src, dst) {
                        ChecksumStatus::Good => Some(true),
                        ChecksumStatus::Bad => Some(false),
                        _ => None,
                    }
                } else {
                    None
                };
                d.udp = Some(UdpInfo {
                    sport: udp.src_port(),
                    dport: udp.dst_port(),
                    len: udp.length(),
                    checksum_ok,
                })
            }
            Err(e) => fail(d, "udp", e),
        },
        _ => {}
    }
}

/// Appends `s` as a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt<T: core::fmt::Display>(out: &mut String, key: &str, v: Option<T>) {
    match v {
        Some(v) => {
            let _ = write!(out, ",\"{key}\":{v}");
        }
        None => {
            let _ = write!(out, ",\"{key}\":null");
        }
    }
}

impl Dissection {
    /// The dissection as one line of JSON, with the keys `frame`, `len`,
    /// `eth{src,dst,type}`, `vlan` (IDs, outer first),
    /// `arp{op,spa,tpa}`,
    /// `ipv4{ihl,len,id,df,mf,frag_offset,ttl,proto,src,dst,checksum_ok}`,
    /// `icmp{type,code}`,
    /// `tcp{sport,dport,seq,ack,hdr_len,flags,window,mss,wscale,sack_perm,tsval,checksum_ok}`,
    /// `udp{sport,dport,len,checksum_ok}` and `error`, each present only
    /// where that layer was decoded. Lengths and offsets are in bytes;
    /// `checksum_ok` is `null` where it cannot be verified, and the TCP
    /// options `mss`, `wscale` and `tsval` are present only when the
    /// segment carries them.
    pub fn to_json(&self, frame: u64) -> String {
        let mut o = String::with_capacity(256);
        let _ = write!(o, "{{\"frame\":{frame},\"len\":{}", self.len);
        if let Some(e) = &self.eth {
            let _ = write!(o, ",\"eth\":{{\"src\":\"{}\",\"dst\":\"{}\"", e.src, e.dst);
            json_opt(&mut o, "type", e.ethertype);
            o.push('}');
        }
        if !self.vlan.is_empty() {
            o.push_str(",\"vlan\":[");
            for (i, v) in self.vlan.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                let _ = write!(o, "{v}");
            }
            o.push(']');
        }
        if let Some(a) = &self.arp {
            let _ = write!(
                o,
                ",\"arp\":{{\"op\":{},\"spa\":\"{}\",\"tpa\":\"{}\"}}",
                a.op, a.spa, a.tpa
            );
        }
        if let Some(ip) = &self.ipv4 {
            let _ = write!(
                o,
                ",\"ipv4\":{{\"ihl\":{},\"len\":{},\"id\":{},\"df\":{},\"mf\":{},\"frag_offset\":{},\"ttl\":{},\"proto\":{},\"src\":\"{}\",\"dst\":\"{}\"",
                ip.ihl,
                ip.len,
                ip.id,
                ip.df,
                ip.mf,
                ip.frag_offset,
                ip.ttl,
                ip.proto,
                ip.src,
                ip.dst
            );
            json_opt(&mut o, "checksum_ok", ip.checksum_ok);
            o.push('}');
        }
        if let Some(i) = &self.icmp {
            let _ = write!(
                o,
                ",\"icmp\":{{\"type\":{},\"code\":{}}}",
                i.msg_type, i.code
            );
        }
        if let Some(t) = &self.tcp {
            let _ = write!(
                o,
                ",\"tcp\":{{\"sport\":{},\"dport\":{},\"seq\":{},\"ack\":{},\"hdr_len\":{},\"flags\":{},\"window\":{}",
                t.sport, t.dport, t.seq, t.ack, t.hdr_len, t.flags, t.window
            );
            if let Some(v) = t.mss {
                let _ = write!(o, ",\"mss\":{v}");
            }
            if let Some(v) = t.wscale {
                let _ = write!(o, ",\"wscale\":{v}");
            }
            let _ = write!(o, ",\"sack_perm\":{}", t.sack_perm);
            if let Some(v) = t.tsval {
                let _ = write!(o, ",\"tsval\":{v}");
            }
            json_opt(&mut o, "checksum_ok", t.checksum_ok);
            o.push('}');
        }
        if let Some(u) = &self.udp {
            let _ = write!(
                o,
                ",\"udp\":{{\"sport\":{},\"dport\":{},\"len\":{}",
                u.sport, u.dport, u.len
            );
            json_opt(&mut o, "checksum_ok", u.checksum_ok);
            o.push('}');
        }
        if let Some(e) = &self.error {
            o.push_str(",\"error\":");
            json_str(&mut o, e);
        }
        o.push('}');
        o
    }

    /// A one-line, tcpdump-like summary of the frame.
    pub fn summary(&self, frame: u64) -> String {
        let mut s = String::new();
        let _ = write!(s, "{frame}");
        if !self.vlan.is_empty() {
            s.push_str(" vlan");
            for v in &self.vlan {
                let _ = write!(s, " {v}");
            }
        }
        let bad = |ok: Option<bool>| {
            if ok == Some(false) {
                " [bad checksum]"
            } else {
                ""
            }
        };
        if let Some(a) = &self.arp {
            match a.op {
                1 => {
                    let _ = write!(s, " ARP who-has {} tell {} ({})", a.tpa, a.spa, a.sha);
                }
                2 => {
                    let _ = write!(s, " ARP reply {} is-at {}", a.spa, a.sha);
                }
                op => {
                    let _ = write!(s, " ARP op {op} {} -> {}", a.spa, a.tpa);
                }
            }
        } else if let Some(ip) = &self.ipv4 {
            let frag = if ip.mf || ip.frag_offset != 0 {
                let mut f = String::new();
                let _ = write!(
                    f,
                    " frag id {} offset {}{}",
                    ip.id,
                    ip.frag_offset,
                    if ip.mf { "+" } else { "" }
                );
                f
            } else {
                String::new()
            };
            if let Some(t) = &self.tcp {
                let _ = write!(
                    s,
                    " {}:{} > {}:{} TCP [{}] seq {} ack {} win {} len {}",
                    ip.src,
                    t.sport,
                    ip.dst,
                    t.dport,
                    tcp_flags(t.flags),
                    t.seq,
                    t.ack,
                    t.window,
                    t.payload_len
                );
                if let Some(m) = t.mss {
                    let _ = write!(s, " mss {m}");
                }
                if let Some(w) = t.wscale {
                    let _ = write!(s, " wscale {w}");
                }
                if t.sack_perm {
                    s.push_str(" sackOK");
                }
                if let Some(ts) = t.tsval {
                    let _ = write!(s, " TS {ts}");
                }
                s.push_str(bad(t.checksum_ok));
            } else if let Some(u) = &self.udp {
                let _ = write!(
                    s,
                    " {}:{} > {}:{} UDP len {}{}",
                    ip.src,
                    u.sport,
                    ip.dst,
                    u.dport,
                    u.len,
                    bad(u.checksum_ok)
                );
            } else if let Some(i) = &self.icmp {
                let _ = write!(
                    s,
                    " {} > {} ICMP type {} code {}{}",
                    ip.src,
                    ip.dst,
                    i.msg_type,
                    i.code,
                    bad(i.checksum_ok)
                );
            } else {
                let _ = write!(
                    s,
                    " {} > {} proto {} len {}",
                    ip.src,
                    ip.dst,
                    IpProtocol(ip.proto),
                    ip.len
                );
            }
            s.push_str(&frag);
            let _ = write!(s, " ttl {}", ip.ttl);
            if ip.checksum_ok == Some(false) {
                s.push_str(" [bad ip checksum]");
            }
        } else if let Some(e) = &self.eth {
            match e.ethertype {
                Some(t) => {
                    let _ = write!(s, " {} > {} {}", e.src, e.dst, EtherType(t));
                }
                None => {
                    let _ = write!(s, " {} > {} 802.3", e.src, e.dst);
                }
            }
        }
        if let Some(e) = &self.error {
            let _ = write!(s, " [error: {e}]");
        }
        s
    }
}

/// tcpdump's flag letters.
fn tcp_flags(bits: u16) -> String {
    let names = [
        (0x002, 'S'),
        (0x001, 'F'),
        (0x004, 'R'),
        (0x008, 'P'),
        (0x020, 'U'),
        (0x040, 'E'),
        (0x080, 'W'),
        (0x100, 'N'),
    ];
    let mut s: String = names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, c)| *c)
        .collect();
    if bits & 0x010 != 0 {
        s.push('.');
    }
    if s.is_empty() { "none".to_string() } else { s }
}
