//! The Ethernet/IPv4 ARP packet (RFC 826): view, owned form and builder.

use core::fmt;
use core::net::Ipv4Addr;

use lamina_ethernet::{EtherType, EthernetRepr, MacAddr};
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget};
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Ref, Unaligned};

use crate::Error;

/// Bytes of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// The hardware type of Ethernet (RFC 826; IANA "Hardware Types").
pub const HTYPE_ETHERNET: u16 = 1;

/// An Ethernet/IPv4 ARP packet as it sits on the wire (RFC 826, "Packet
/// format", with `hln` = 6 and `pln` = 4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ArpHeader {
    /// Hardware address space (`ar$hrd`): 1 for Ethernet.
    pub htype: U16,
    /// Protocol address space (`ar$pro`): an EtherType, 0x0800 for IPv4.
    pub ptype: U16,
    /// Hardware address length (`ar$hln`): 6.
    pub hlen: u8,
    /// Protocol address length (`ar$pln`): 4.
    pub plen: u8,
    /// Operation (`ar$op`).
    pub oper: U16,
    /// Sender hardware address (`ar$sha`).
    pub sha: MacAddr,
    /// Sender protocol address (`ar$spa`).
    pub spa: [u8; 4],
    /// Target hardware address (`ar$tha`).
    pub tha: MacAddr,
    /// Target protocol address (`ar$tpa`).
    pub tpa: [u8; 4],
}

/// The ARP operation code (`ar$op`; IANA "ARP Operation Codes").
///
/// Parsing accepts any value; the protocol logic decides what to do with
/// operations it does not handle.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ArpOperation(pub u16);

impl ArpOperation {
    /// ARP request (RFC 826).
    pub const REQUEST: ArpOperation = ArpOperation(1);
    /// ARP reply (RFC 826).
    pub const REPLY: ArpOperation = ArpOperation(2);
    /// Reverse ARP request (RFC 903).
    pub const RARP_REQUEST: ArpOperation = ArpOperation(3);
    /// Reverse ARP reply (RFC 903).
    pub const RARP_REPLY: ArpOperation = ArpOperation(4);
    /// Inverse ARP request (RFC 2390).
    pub const INARP_REQUEST: ArpOperation = ArpOperation(8);
    /// Inverse ARP reply (RFC 2390).
    pub const INARP_REPLY: ArpOperation = ArpOperation(9);

    /// The operation's name, for the values with a constant here.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "request",
            2 => "reply",
            3 => "RARP request",
            4 => "RARP reply",
            8 => "InARP request",
            9 => "InARP reply",
            _ => return None,
        })
    }
}

impl From<u16> for ArpOperation {
    #[inline]
    fn from(v: u16) -> ArpOperation {
        ArpOperation(v)
    }
}

impl From<ArpOperation> for u16 {
    #[inline]
    fn from(op: ArpOperation) -> u16 {
        op.0
    }
}

/// The name for known operations, else the number.
impl fmt::Display for ArpOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "operation {}", self.0),
        }
    }
}

/// As [`Display`](fmt::Display), plus the number: `request (1)`.
impl fmt::Debug for ArpOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => fmt::Display::fmt(self, f),
        }
    }
}

/// A borrowed, validated Ethernet/IPv4 ARP packet.
///
/// Parsing checks that the hardware is Ethernet (type 1, 6-byte addresses)
/// and the protocol IPv4 (0x0800, 4-byte addresses), and that all 28 bytes
/// are present; bytes after them (Ethernet padding) are ignored and
/// available as [`trailer`](Self::trailer). An ARP packet has no payload.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_arp::{ArpOperation, ArpPacket};
///
/// let bytes = [
///     0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,            // Ethernet, IPv4, request
///     0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 192, 0, 2, 1,    // sender
///     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 0, 2, 138,  // target
/// ];
/// let arp = ArpPacket::parse(&bytes)?;
/// assert_eq!(arp.operation(), ArpOperation::REQUEST);
/// assert_eq!(arp.sender_protocol_addr(), Ipv4Addr::new(192, 0, 2, 1));
/// assert_eq!(arp.target_protocol_addr(), Ipv4Addr::new(192, 0, 2, 138));
/// # Ok::<(), lamina_arp::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<'a> {
    header: Ref<&'a [u8], ArpHeader>,
    trailer: &'a [u8],
}

impl<'a> ArpPacket<'a> {
    /// Parses an Ethernet/IPv4 ARP packet at the start of `bytes`.
    ///
    /// Errors: [`Error::UnsupportedHardware`] or
    /// [`Error::UnsupportedProtocol`] as soon as the first eight bytes show
    /// another kind of ARP, else [`Error::Truncated`] if fewer than 28 bytes
    /// are present.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<ArpPacket<'a>, Error> {
        let truncated = Error::Truncated {
            needed: PACKET_LEN,
            got: bytes.len(),
        };
        let fixed = bytes.first_chunk::<8>().ok_or(truncated)?;
        let htype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let ptype = u16::from_be_bytes([fixed[2], fixed[3]]);
        let (hlen, plen) = (fixed[4], fixed[5]);
        if htype != HTYPE_ETHERNET || hlen != 6 {
            return Err(Error::UnsupportedHardware { htype, hlen });
        }
        if ptype != EtherType::IPV4.0 || plen != 4 {
            return Err(Error::UnsupportedProtocol { ptype, plen });
        }
        let (header, trailer) = Ref::<_, ArpHeader>::from_prefix(bytes).map_err(|_| truncated)?;
        Ok(ArpPacket { header, trailer })
    }

    /// The whole 28-byte header.
    #[inline]
    pub fn header(&self) -> &'a ArpHeader {
        Ref::into_ref(self.header)
    }

    /// The hardware type: always [`HTYPE_ETHERNET`] after a parse.
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        self.header.htype.get()
    }

    /// The protocol type: always [`EtherType::IPV4`] after a parse.
    #[inline]
    pub fn protocol_type(&self) -> EtherType {
        EtherType(self.header.ptype.get())
    }

    /// The hardware address length: always 6 after a parse.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.header.hlen
    }

    /// The protocol address length: always 4 after a parse.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.header.plen
    }

    /// The operation.
    #[inline]
    pub fn operation(&self) -> ArpOperation {
        ArpOperation(self.header.oper.get())
    }

    /// The sender's hardware address.
    #[inline]
    pub fn sender_hardware_addr(&self) -> MacAddr {
        self.header.sha
    }

    /// The sender's IPv4 address.
    #[inline]
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.spa)
    }

    /// The target's hardware address (all zeros in most requests).
    #[inline]
    pub fn target_hardware_addr(&self) -> MacAddr {
        self.header.tha
    }

    /// The target's IPv4 address.
    #[inline]
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.tpa)
    }

    /// Whether sender and target protocol addresses are equal: a
    /// gratuitous ARP or an RFC 5227 announcement.
    #[inline]
    pub fn is_gratuitous(&self) -> bool {
        self.header.spa == self.header.tpa
    }

    /// Whether this is an RFC 5227 §2.1.1 probe: a request whose sender
    /// protocol address is 0.0.0.0.
    #[inline]
    pub fn is_probe(&self) -> bool {
        self.operation() == ArpOperation::REQUEST && self.header.spa == [0; 4]
    }

    /// The 28 bytes of the packet.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.header().as_bytes()
    }

    /// Bytes after the packet (Ethernet padding), which ARP ignores.
    #[inline]
    pub fn trailer(&self) -> &'a [u8] {
        self.trailer
    }

    /// The owned description of the packet.
    #[inline]
    pub fn to_repr(&self) -> ArpRepr {
        ArpRepr {
            operation: self.operation(),
            sender_hardware_addr: self.sender_hardware_addr(),
            sender_protocol_addr: self.sender_protocol_addr(),
            target_hardware_addr: self.target_hardware_addr(),
            target_protocol_addr: self.target_protocol_addr(),
        }
    }
}

/// An owned Ethernet/IPv4 ARP packet.
///
/// As a [`PacketBuilder`] it writes all 28 bytes and takes no body: wrap
/// [`EmptyBody`](lamina_netbuf::serialize::EmptyBody) in it, then in the
/// Ethernet header from [`ethernet_repr`](Self::ethernet_repr).
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_arp::{ArpPacket, ArpRepr};
/// use lamina_ethernet::{EthernetFrame, MacAddr};
/// use lamina_netbuf::{serialize::EmptyBody, Serializer};
///
/// let mac = MacAddr::new(0x02, 0, 0, 0, 0, 1);
/// let request = ArpRepr::request(mac, Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
/// let frame = EmptyBody
///     .wrap_in(request)
///     .wrap_in(request.ethernet_repr())
///     .serialize_vec(0)
///     .unwrap();
/// assert_eq!(frame.len(), 60); // 14 + 28, padded
///
/// let eth = EthernetFrame::parse(frame.as_slice()).unwrap();
/// assert_eq!(eth.dst(), MacAddr::BROADCAST);
/// let arp = ArpPacket::parse(eth.payload()).unwrap();
/// assert_eq!(arp.to_repr(), request);
///
/// let theirs = MacAddr::new(0x02, 0, 0, 0, 0, 2);
/// let reply = ArpRepr::reply_to(&request, theirs);
/// assert_eq!(reply.target_hardware_addr, mac);
/// assert_eq!(reply.sender_protocol_addr, Ipv4Addr::new(192, 0, 2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ArpRepr {
    /// The operation.
    pub operation: ArpOperation,
    /// The sender's hardware address.
    pub sender_hardware_addr: MacAddr,
    /// The sender's IPv4 address.
    pub sender_protocol_addr: Ipv4Addr,
    /// The target's hardware address.
    pub target_hardware_addr: MacAddr,
    /// The target's IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// A request asking who has `target_ip` (RFC 826). The target hardware
    /// address is all zeros, as RFC 5227 §2.1.1 recommends.
    #[inline]
    pub const fn request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::REQUEST,
            sender_hardware_addr: sender_mac,
            sender_protocol_addr: sender_ip,
            target_hardware_addr: MacAddr::UNSPECIFIED,
            target_protocol_addr: target_ip,
        }
    }

    /// The reply to `request` from the owner of its target address, whose
    /// hardware address is `our_mac` (RFC 826, "Packet Reception": swap
    /// sender and target, fill in the local hardware address, set the
    /// opcode to reply). The caller checks that `request` is a request for
    /// one of its addresses.
    #[inline]
    pub const fn reply_to(request: &ArpRepr, our_mac: MacAddr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::REPLY,
            sender_hardware_addr: our_mac,
            sender_protocol_addr: request.target_protocol_addr,
            target_hardware_addr: request.sender_hardware_addr,
            target_protocol_addr: request.sender_protocol_addr,
        }
    }

    /// A gratuitous ARP announcing that `ip` is at `mac`: an RFC 5227 §2.3
    /// announcement, a request with sender and target protocol addresses
    /// both `ip` and a zero target hardware address.
    #[inline]
    pub const fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
        ArpRepr::request(mac, ip, ip)
    }

    /// An RFC 5227 §2.1.1 probe asking whether anyone uses `ip`: a request
    /// with sender protocol address 0.0.0.0.
    #[inline]
    pub const fn probe(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
        ArpRepr::request(mac, Ipv4Addr::UNSPECIFIED, ip)
    }

    /// The Ethernet header to carry this packet: from the sender hardware
    /// address, type ARP, to the broadcast address for requests (ARP and
    /// RARP) and to the target hardware address otherwise. A unicast
    /// request (RFC 1122 §2.3.2.1 cache validation) sets `dst` afterwards.
    #[inline]
    pub const fn ethernet_repr(&self) -> EthernetRepr {
        let dst = match self.operation {
            ArpOperation::REQUEST | ArpOperation::RARP_REQUEST => MacAddr::BROADCAST,
            _ => self.target_hardware_addr,
        };
        EthernetRepr::new(self.sender_hardware_addr, dst, EtherType::ARP)
    }

    /// The header as the zerocopy struct.
    #[inline]
    pub const fn header(&self) -> ArpHeader {
        ArpHeader {
            htype: U16::new(HTYPE_ETHERNET),
            ptype: U16::new(EtherType::IPV4.0),
            hlen: 6,
            plen: 4,
            oper: U16::new(self.operation.0),
            sha: self.sender_hardware_addr,
            spa: self.sender_protocol_addr.octets(),
            tha: self.target_hardware_addr,
            tpa: self.target_protocol_addr.octets(),
        }
    }

    /// The 28 wire bytes.
    #[inline]
    pub fn to_bytes(&self) -> [u8; PACKET_LEN] {
        zerocopy::transmute!(self.header())
    }
}

impl PacketBuilder for ArpRepr {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(PACKET_LEN, 0, 0, 0)
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        for (o, b) in target.header.iter_mut().zip(self.to_bytes()) {
            *o = b;
        }
        target.footer.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::Serializer;
    use lamina_netbuf::serialize::EmptyBody;

    const MAC_A: MacAddr = MacAddr::new(0x02, 0x00, 0x5e, 0x10, 0x00, 0x01);
    const MAC_B: MacAddr = MacAddr::new(0x02, 0x00, 0x5e, 0x10, 0x00, 0x02);
    const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 138);

    /// Who has 192.0.2.138? Tell 192.0.2.1 (at 02:00:5e:10:00:01).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, // hrd: Ethernet
        0x08, 0x00, // pro: IPv4
        0x06, 0x04, // hln, pln
        0x00, 0x01, // op: request
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, // sha
        192, 0, 2, 1, // spa
        0, 0, 0, 0, 0, 0, // tha
        192, 0, 2, 138, // tpa
    ];

    /// RFC 826 "Packet format": hrd, pro, hln, pln, op, sha, spa, tha, tpa.
    #[test]
    fn reads_every_field_in_rfc_826_order() {
        let p = ArpPacket::parse(&REQUEST).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), EtherType::IPV4);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(p.operation(), ArpOperation::REQUEST);
        assert_eq!(p.sender_hardware_addr(), MAC_A);
        assert_eq!(p.sender_protocol_addr(), IP_A);
        assert_eq!(p.target_hardware_addr(), MacAddr::UNSPECIFIED);
        assert_eq!(p.target_protocol_addr(), IP_B);
        assert_eq!(p.as_bytes(), &REQUEST);
        assert_eq!(p.trailer(), &[] as &[u8]);
        assert_eq!(p.header().oper.get(), 1);
        assert!(!p.is_gratuitous() && !p.is_probe());
        assert_eq!(p.to_repr(), ArpRepr::request(MAC_A, IP_A, IP_B));
    }

    #[test]
    fn ignores_ethernet_padding_after_the_packet() {
        let mut padded = REQUEST.to_vec();
        padded.extend_from_slice(&[0xee; 18]);
        let p = ArpPacket::parse(&padded).unwrap();
        assert_eq!(p.trailer(), &[0xee; 18]);
        assert_eq!(p.as_bytes(), &REQUEST);
        assert_eq!(p.to_repr(), ArpPacket::parse(&REQUEST).unwrap().to_repr());
    }

    #[test]
    fn rejects_a_packet_cut_short() {
        for n in 0..PACKET_LEN {
            assert_eq!(
                ArpPacket::parse(&REQUEST[..n]).unwrap_err(),
                Error::Truncated { needed: 28, got: n },
                "{n} bytes"
            );
        }
    }

    /// RFC 826: a receiver that does not speak the hardware or protocol
    /// type (or their lengths) discards the packet.
    #[test]
    fn rejects_other_hardware_and_protocol_types() {
        let mut p = REQUEST;
        p[1] = 6; // IEEE 802 networks
        assert_eq!(
            ArpPacket::parse(&p).unwrap_err(),
            Error::UnsupportedHardware { htype: 6, hlen: 6 }
        );
        let mut p = REQUEST;
        p[4] = 8;
        assert_eq!(
            ArpPacket::parse(&p).unwrap_err(),
            Error::UnsupportedHardware { htype: 1, hlen: 8 }
        );
        let mut p = REQUEST;
        p[2..4].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(
            ArpPacket::parse(&p).unwrap_err(),
            Error::UnsupportedProtocol {
                ptype: 0x86dd,
                plen: 4
            }
        );
        let mut p = REQUEST;
        p[5] = 16;
        assert_eq!(
            ArpPacket::parse(&p).unwrap_err(),
            Error::UnsupportedProtocol {
                ptype: 0x0800,
                plen: 16
            }
        );
        // The type check needs only the first eight bytes.
        let mut p = REQUEST;
        p[0] = 0xff;
        assert!(matches!(
            ArpPacket::parse(&p[..8]),
            Err(Error::UnsupportedHardware { htype: 0xff01, .. })
        ));
    }

    #[test]
    fn accepts_any_operation_code() {
        for op in [0u16, 3, 4, 8, 9, 10, 0xffff] {
            let mut p = REQUEST;
            p[6..8].copy_from_slice(&op.to_be_bytes());
            assert_eq!(ArpPacket::parse(&p).unwrap().operation(), ArpOperation(op));
        }
    }

    #[test]
    fn builds_the_28_bytes_exactly() {
        let repr = ArpRepr::request(MAC_A, IP_A, IP_B);
        assert_eq!(repr.to_bytes(), REQUEST);
        let built = EmptyBody.wrap_in(repr).serialize_vec(0).unwrap();
        assert_eq!(built.as_slice(), &REQUEST);
        let mut dirty = [0x55u8; 40];
        assert_eq!(EmptyBody.wrap_in(repr).serialize_into(&mut dirty), Ok(28));
        assert_eq!(&dirty[..28], &REQUEST);
    }

    #[test]
    fn takes_no_body() {
        let repr = ArpRepr::request(MAC_A, IP_A, IP_B);
        assert!(b"x".wrap_in(repr).serialized_len().is_err());
    }

    /// RFC 826 "Packet Reception": the reply swaps sender and target and
    /// puts the local hardware address in the sender field.
    #[test]
    fn reply_swaps_sender_and_target_per_rfc_826() {
        let request = ArpRepr::request(MAC_A, IP_A, IP_B);
        let reply = ArpRepr::reply_to(&request, MAC_B);
        assert_eq!(
            reply,
            ArpRepr {
                operation: ArpOperation::REPLY,
                sender_hardware_addr: MAC_B,
                sender_protocol_addr: IP_B,
                target_hardware_addr: MAC_A,
                target_protocol_addr: IP_A,
            }
        );
        let eth = reply.ethernet_repr();
        assert_eq!(
            (eth.src, eth.dst, eth.ethertype),
            (MAC_B, MAC_A, EtherType::ARP)
        );
    }

    /// RFC 5227 §2.3 (announcement) and §2.1.1 (probe).
    #[test]
    fn announcements_and_probes_follow_rfc_5227() {
        let g = ArpRepr::gratuitous(MAC_A, IP_A);
        assert_eq!(g.operation, ArpOperation::REQUEST);
        assert_eq!(g.sender_protocol_addr, IP_A);
        assert_eq!(g.target_protocol_addr, IP_A);
        assert_eq!(g.target_hardware_addr, MacAddr::UNSPECIFIED);
        let bytes = g.to_bytes();
        let p = ArpPacket::parse(&bytes).unwrap();
        assert!(p.is_gratuitous() && !p.is_probe());

        let probe = ArpRepr::probe(MAC_A, IP_B);
        assert_eq!(probe.sender_protocol_addr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(probe.target_protocol_addr, IP_B);
        let bytes = probe.to_bytes();
        assert!(ArpPacket::parse(&bytes).unwrap().is_probe());
        assert_eq!(probe.ethernet_repr().dst, MacAddr::BROADCAST);
    }

    #[test]
    fn names_operations() {
        use alloc::format;
        assert_eq!(format!("{}", ArpOperation::REPLY), "reply");
        assert_eq!(format!("{:?}", ArpOperation::REQUEST), "request (1)");
        assert_eq!(format!("{}", ArpOperation::RARP_REPLY), "RARP reply");
        assert_eq!(format!("{:?}", ArpOperation(77)), "operation 77");
        assert_eq!(u16::from(ArpOperation::from(9)), 9);
    }
}
