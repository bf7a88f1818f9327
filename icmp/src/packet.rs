//! The ICMPv4 header, the borrowed message view and its typed form.

use core::net::Ipv4Addr;

use lamina_ipv4::{IpProtocol, Ipv4Header, Ipv4Packet};
use lamina_netbuf::checksum;
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::{
    Error, IcmpRepr, IcmpType, ParameterProblemCode, RedirectCode, TimeExceededCode,
    UnreachableCode,
};

/// The length of the common ICMP header: type, code, checksum and four
/// type-specific bytes.
pub const ICMP_HEADER_LEN: usize = 8;

/// The common 8-byte ICMPv4 header, as it lies on the wire (RFC 792).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct IcmpHeader {
    /// The message type.
    pub msg_type: u8,
    /// The code.
    pub code: u8,
    /// The checksum over the whole message.
    pub checksum: U16,
    /// Four type-specific bytes ("rest of header").
    pub rest: [u8; 4],
}

/// A borrowed view of an ICMPv4 message: the whole IPv4 payload.
///
/// [`parse`](Self::parse) checks that the message is long enough for its
/// type's fixed fields, so every accessor and [`message`](Self::message)
/// are infallible. An error message's quote is parsed lazily, leniently,
/// by [`quote`](Self::quote) and [`quoted`](Self::quoted).
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<'a> {
    header: &'a IcmpHeader,
    bytes: &'a [u8],
}

/// The bytes the type's fixed part takes: the common header, plus the
/// timestamps (RFC 792) or the mask (RFC 950).
#[inline]
pub(crate) const fn fixed_len(msg_type: u8) -> usize {
    match msg_type {
        13 | 14 => 20,
        17 | 18 => 12,
        _ => ICMP_HEADER_LEN,
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

impl<'a> IcmpPacket<'a> {
    /// Parses an ICMP message: `bytes` is the whole IPv4 payload. The
    /// checksum is not verified (see [`parse_verified`](Self::parse_verified)).
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<IcmpPacket<'a>, Error> {
        let got = bytes.len();
        let (header, _) = IcmpHeader::ref_from_prefix(bytes).map_err(|_| Error::Truncated {
            needed: ICMP_HEADER_LEN,
            got,
        })?;
        let needed = match header.msg_type {
            9 => {
                // RFC 1256 §3: Num Addrs entries of Addr Entry Size words.
                let [num, size, ..] = header.rest;
                if num > 0 && size < 2 {
                    return Err(Error::BadAddressEntrySize { size });
                }
                ICMP_HEADER_LEN + usize::from(num) * usize::from(size) * 4
            }
            t => fixed_len(t),
        };
        if got < needed {
            return Err(Error::Truncated { needed, got });
        }
        Ok(IcmpPacket { header, bytes })
    }

    /// Like [`parse`](Self::parse), then rejects a bad checksum with
    /// [`Error::BadChecksum`].
    #[inline]
    pub fn parse_verified(bytes: &'a [u8]) -> Result<IcmpPacket<'a>, Error> {
        let p = IcmpPacket::parse(bytes)?;
        if p.checksum_ok() {
            Ok(p)
        } else {
            Err(Error::BadChecksum)
        }
    }

    /// The common header.
    #[inline]
    pub fn header(&self) -> &'a IcmpHeader {
        self.header
    }

    /// The message type.
    #[inline]
    pub fn msg_type(&self) -> IcmpType {
        IcmpType(self.header.msg_type)
    }

    /// The code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.header.code
    }

    /// The checksum field as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }

    /// Whether the checksum over the whole message verifies (RFC 792).
    #[inline]
    pub fn checksum_ok(&self) -> bool {
        checksum::checksum(self.bytes) == 0
    }

    /// Bytes 4 to 8 of the header, whose meaning depends on the type.
    #[inline]
    pub fn rest_of_header(&self) -> [u8; 4] {
        self.header.rest
    }

    /// The whole message.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Everything after the 8-byte common header: echo data, an error's
    /// quote (with any RFC 4884 extensions), the timestamps, ...
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(ICMP_HEADER_LEN..).unwrap_or(&[])
    }

    /// Everything after the type's fixed fields: what a builder takes as
    /// its body. The same as [`payload`](Self::payload) except for
    /// timestamps (after 20 bytes) and address masks (after 12).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.bytes
            .get(fixed_len(self.header.msg_type)..)
            .unwrap_or(&[])
    }

    /// Whether this is an error message (see [`IcmpType::is_error`]).
    #[inline]
    pub fn is_error(&self) -> bool {
        self.msg_type().is_error()
    }

    /// The RFC 4884 length of the original datagram field, in 32-bit
    /// words, when present: byte 5 of Destination Unreachable, Time
    /// Exceeded and Parameter Problem, if nonzero.
    #[inline]
    pub fn rfc4884_length(&self) -> Option<u8> {
        match self.header.msg_type {
            3 | 11 | 12 if self.header.rest[1] != 0 => Some(self.header.rest[1]),
            _ => None,
        }
    }

    /// The RFC 4884 extension structure after the (padded) original
    /// datagram, raw, when the length field is present and bytes follow
    /// it.
    #[inline]
    pub fn extensions(&self) -> Option<&'a [u8]> {
        let words = self.rfc4884_length()?;
        self.payload()
            .get(usize::from(words) * 4..)
            .filter(|e| !e.is_empty())
    }

    /// The next-hop MTU of a "fragmentation needed" Destination
    /// Unreachable (code 4, RFC 1191 §4); zero from routers that predate
    /// it.
    #[inline]
    pub fn next_hop_mtu(&self) -> Option<u16> {
        (self.header.msg_type == 3 && self.header.code == 4).then(|| be16(&self.header.rest, 2))
    }

    /// An error message's quote of the datagram that caused it, `None`
    /// for other messages. With an RFC 4884 length, the quote stops there
    /// and the extensions are left out.
    #[inline]
    pub fn quote(&self) -> Option<Quote<'a>> {
        if !self.is_error() {
            return None;
        }
        let p = self.payload();
        let bytes = match self.rfc4884_length() {
            Some(w) => p.get(..usize::from(w) * 4).unwrap_or(p),
            None => p,
        };
        Some(Quote { bytes })
    }

    /// The quoted datagram parsed leniently
    /// ([`Ipv4Packet::parse_truncated`]: quotes are usually cut 8 bytes
    /// into the transport header).
    #[inline]
    pub fn quoted(&self) -> Result<Ipv4Packet<'a>, Error> {
        self.quote()
            .ok_or(Error::NotAnError {
                msg_type: self.header.msg_type,
            })?
            .ipv4()
            .map_err(Error::BadQuote)
    }

    /// The typed message.
    pub fn message(&self) -> IcmpMessage<'a> {
        let h = self.header;
        let rest = h.rest;
        let ident = be16(&rest, 0);
        let seq_no = be16(&rest, 2);
        let b = self.bytes;
        let quote = || Quote {
            bytes: self.quote().map(|q| q.bytes).unwrap_or(&[]),
        };
        match h.msg_type {
            0 => IcmpMessage::EchoReply {
                ident,
                seq_no,
                data: self.payload(),
            },
            8 => IcmpMessage::EchoRequest {
                ident,
                seq_no,
                data: self.payload(),
            },
            3 => IcmpMessage::DestUnreachable {
                code: UnreachableCode::from(h.code),
                next_hop_mtu: self.next_hop_mtu(),
                quote: quote(),
            },
            4 => IcmpMessage::SourceQuench { quote: quote() },
            5 => IcmpMessage::Redirect {
                code: RedirectCode::from(h.code),
                gateway: Ipv4Addr::from(rest),
                quote: quote(),
            },
            11 => IcmpMessage::TimeExceeded {
                code: TimeExceededCode::from(h.code),
                quote: quote(),
            },
            12 => IcmpMessage::ParameterProblem {
                code: ParameterProblemCode::from(h.code),
                pointer: rest[0],
                quote: quote(),
            },
            13 | 14 => {
                let t = Timestamps {
                    ident,
                    seq_no,
                    originate: be32(b, 8),
                    receive: be32(b, 12),
                    transmit: be32(b, 16),
                };
                if h.msg_type == 13 {
                    IcmpMessage::Timestamp(t)
                } else {
                    IcmpMessage::TimestampReply(t)
                }
            }
            15 => IcmpMessage::InformationRequest { ident, seq_no },
            16 => IcmpMessage::InformationReply { ident, seq_no },
            17 | 18 => {
                let mask = Ipv4Addr::from_bits(be32(b, 8));
                if h.msg_type == 17 {
                    IcmpMessage::AddressMaskRequest {
                        ident,
                        seq_no,
                        mask,
                    }
                } else {
                    IcmpMessage::AddressMaskReply {
                        ident,
                        seq_no,
                        mask,
                    }
                }
            }
            9 => {
                let [num_addrs, addr_entry_size, ..] = rest;
                let n = usize::from(num_addrs) * usize::from(addr_entry_size) * 4;
                let p = self.payload();
                let (entries, trailing) = p.split_at_checked(n).unwrap_or((p, &[]));
                IcmpMessage::RouterAdvertisement(RouterAdvertisement {
                    code: h.code,
                    num_addrs,
                    addr_entry_size,
                    lifetime: seq_no,
                    entries,
                    trailing,
                })
            }
            10 => IcmpMessage::RouterSolicitation,
            t => IcmpMessage::Other {
                msg_type: IcmpType(t),
                code: h.code,
                rest,
                data: self.payload(),
            },
        }
    }

    /// The owned description of the header fields (the body is
    /// [`body`](Self::body)).
    pub fn to_repr(&self) -> IcmpRepr {
        let h = self.header;
        let rest = h.rest;
        let ident = be16(&rest, 0);
        let seq_no = be16(&rest, 2);
        match self.message() {
            IcmpMessage::EchoReply { .. } => IcmpRepr::EchoReply { ident, seq_no },
            IcmpMessage::EchoRequest { .. } => IcmpRepr::EchoRequest { ident, seq_no },
            IcmpMessage::DestUnreachable { code, .. } => IcmpRepr::DestUnreachable {
                code,
                next_hop_mtu: seq_no,
            },
            IcmpMessage::SourceQuench { .. } => IcmpRepr::SourceQuench,
            IcmpMessage::Redirect { code, gateway, .. } => IcmpRepr::Redirect { code, gateway },
            IcmpMessage::TimeExceeded { code, .. } => IcmpRepr::TimeExceeded { code },
            IcmpMessage::ParameterProblem { code, pointer, .. } => {
                IcmpRepr::ParameterProblem { code, pointer }
            }
            IcmpMessage::Timestamp(t) => IcmpRepr::Timestamp(t),
            IcmpMessage::TimestampReply(t) => IcmpRepr::TimestampReply(t),
            IcmpMessage::InformationRequest { ident, seq_no } => {
                IcmpRepr::InformationRequest { ident, seq_no }
            }
            IcmpMessage::InformationReply { ident, seq_no } => {
                IcmpRepr::InformationReply { ident, seq_no }
            }
            IcmpMessage::AddressMaskRequest {
                ident,
                seq_no,
                mask,
            } => IcmpRepr::AddressMaskRequest {
                ident,
                seq_no,
                mask,
            },
            IcmpMessage::AddressMaskReply {
                ident,
                seq_no,
                mask,
            } => IcmpRepr::AddressMaskReply {
                ident,
                seq_no,
                mask,
            },
            IcmpMessage::RouterAdvertisement(ra) => IcmpRepr::RouterAdvertisement {
                code: ra.code,
                num_addrs: ra.num_addrs,
                addr_entry_size: ra.addr_entry_size,
                lifetime: ra.lifetime,
            },
            IcmpMessage::RouterSolicitation => IcmpRepr::RouterSolicitation,
            IcmpMessage::Other {
                msg_type,
                code,
                rest,
                ..
            } => IcmpRepr::Other {
                msg_type,
                code,
                rest,
            },
        }
    }
}

/// The fields of a Timestamp or Timestamp Reply (RFC 792): times in
/// milliseconds since midnight UT (or any value with the high bit set if
/// non-standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Timestamps {
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq_no: u16,
    /// When the sender last touched the request.
    pub originate: u32,
    /// When the echoer first touched it.
    pub receive: u32,
    /// When the echoer last touched the reply.
    pub transmit: u32,
}

/// A Router Advertisement (RFC 1256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvertisement<'a> {
    /// The code: 0, or 16 from a mobility agent that does not route
    /// common traffic (RFC 5944).
    pub code: u8,
    /// Num Addrs: how many entries follow.
    pub num_addrs: u8,
    /// Addr Entry Size, in 32-bit words (2 for RFC 1256 entries).
    pub addr_entry_size: u8,
    /// Lifetime in seconds.
    pub lifetime: u16,
    /// The entries, raw.
    pub entries: &'a [u8],
    /// Bytes after the entries (for example a mobility agent extension,
    /// RFC 5944 §2.1.1).
    pub trailing: &'a [u8],
}

/// One address of a [`RouterAdvertisement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouterAddress {
    /// The router's address.
    pub address: Ipv4Addr,
    /// Its preference as a default router (signed; `0x80000000` means
    /// never use it as a default).
    pub preference: i32,
}

impl RouterAddress {
    /// The 8-byte entry as it goes on the wire (Addr Entry Size 2): use
    /// these as the body of an [`IcmpRepr::RouterAdvertisement`].
    #[inline]
    pub fn to_bytes(&self) -> [u8; 8] {
        let [a, b, c, d] = self.address.octets();
        let [e, f, g, h] = self.preference.to_be_bytes();
        [a, b, c, d, e, f, g, h]
    }
}

impl<'a> RouterAdvertisement<'a> {
    /// The advertised addresses with their preferences (extra words of
    /// larger entries are skipped).
    pub fn addresses(&self) -> impl Iterator<Item = RouterAddress> + 'a {
        let size = (usize::from(self.addr_entry_size) * 4).max(8);
        self.entries.chunks(size).filter_map(|e| match *e {
            [a, b, c, d, p0, p1, p2, p3, ..] => Some(RouterAddress {
                address: Ipv4Addr::new(a, b, c, d),
                preference: i32::from_be_bytes([p0, p1, p2, p3]),
            }),
            _ => None,
        })
    }
}

/// An error message's quote of the datagram that caused it: the original
/// IPv4 header and at least 8 bytes of its payload (RFC 792, RFC 1122
/// §3.2.2), often more (RFC 1812 §4.3.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote<'a> {
    bytes: &'a [u8],
}

impl<'a> Quote<'a> {
    /// The quoted bytes, raw.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The quoted datagram parsed leniently (the header and options must
    /// be whole and valid; the payload may be cut short).
    #[inline]
    pub fn ipv4(&self) -> Result<Ipv4Packet<'a>, lamina_ipv4::Error> {
        Ipv4Packet::parse_truncated(self.bytes)
    }

    /// The quoted fixed header, read without checking the options: a
    /// Parameter Problem may well quote a header whose options are bad.
    /// `None` if fewer than 20 bytes are quoted or the version is not 4.
    #[inline]
    pub fn header(&self) -> Option<&'a Ipv4Header> {
        Ipv4Header::peek(self.bytes)
            .ok()
            .filter(|h| h.version() == 4 && h.ihl() >= 5)
    }

    /// The quoted transport-layer bytes (usually the first 8 of the
    /// transport header): after the quoted header, up to its total length,
    /// for a datagram at fragment offset 0. `None` for a later fragment or
    /// a header cut short.
    #[inline]
    pub fn l4_bytes(&self) -> Option<&'a [u8]> {
        let h = self.header()?;
        if h.fragment_offset() != 0 {
            return None;
        }
        let hl = h.header_len();
        let total = usize::from(h.total_len());
        let end = if total >= hl {
            total.min(self.bytes.len())
        } else {
            self.bytes.len()
        };
        self.bytes.get(hl..end.max(hl))
    }

    /// The quoted protocol.
    #[inline]
    pub fn protocol(&self) -> Option<IpProtocol> {
        self.header().map(|h| h.protocol())
    }

    /// The source and destination ports of a quoted TCP, UDP, UDP-Lite,
    /// SCTP or DCCP header: what finds the socket the error is for.
    #[inline]
    pub fn ports(&self) -> Option<(u16, u16)> {
        if !self.protocol()?.has_ports() {
            return None;
        }
        match *self.l4_bytes()? {
            [a, b, c, d, ..] => Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))),
            _ => None,
        }
    }

    /// The identifier and sequence number of a quoted ICMP query (echo,
    /// timestamp, information, address mask): what finds the ping socket.
    #[inline]
    pub fn icmp_ident_seq(&self) -> Option<(u16, u16)> {
        if self.protocol()? != IpProtocol::ICMP {
            return None;
        }
        match *self.l4_bytes()? {
            [t, _, _, _, a, b, c, d, ..] if IcmpType(t).is_query() => {
                Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))
            }
            _ => None,
        }
    }
}

/// A typed ICMPv4 message, borrowing its variable parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpMessage<'a> {
    /// Echo Reply (type 0, RFC 792).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The echoed data.
        data: &'a [u8],
    },
    /// Echo Request (type 8, RFC 792).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// Destination Unreachable (type 3).
    DestUnreachable {
        /// Why.
        code: UnreachableCode,
        /// The next-hop MTU, for code 4 only (RFC 1191 §4).
        next_hop_mtu: Option<u16>,
        /// The offending datagram.
        quote: Quote<'a>,
    },
    /// Source Quench (type 4; RFC 6633 deprecates sending it).
    SourceQuench {
        /// The offending datagram.
        quote: Quote<'a>,
    },
    /// Redirect (type 5).
    Redirect {
        /// Which traffic to redirect.
        code: RedirectCode,
        /// The gateway to use instead.
        gateway: Ipv4Addr,
        /// The redirected datagram.
        quote: Quote<'a>,
    },
    /// Time Exceeded (type 11).
    TimeExceeded {
        /// TTL or reassembly.
        code: TimeExceededCode,
        /// The offending datagram.
        quote: Quote<'a>,
    },
    /// Parameter Problem (type 12).
    ParameterProblem {
        /// What kind of problem.
        code: ParameterProblemCode,
        /// For code 0, the offset of the offending octet in the quoted
        /// datagram.
        pointer: u8,
        /// The offending datagram.
        quote: Quote<'a>,
    },
    /// Timestamp (type 13).
    Timestamp(Timestamps),
    /// Timestamp Reply (type 14).
    TimestampReply(Timestamps),
    /// Information Request (type 15).
    InformationRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
    },
    /// Information Reply (type 16).
    InformationReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
    },
    /// Address Mask Request (type 17, RFC 950).
    AddressMaskRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The mask field (zero in a request).
        mask: Ipv4Addr,
    },
    /// Address Mask Reply (type 18, RFC 950).
    AddressMaskReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The subnet mask.
        mask: Ipv4Addr,
    },
    /// Router Advertisement (type 9, RFC 1256).
    RouterAdvertisement(RouterAdvertisement<'a>),
    /// Router Solicitation (type 10, RFC 1256).
    RouterSolicitation,
    /// Any other type, raw.
    Other {
        /// The type.
        msg_type: IcmpType,
        /// The code.
        code: u8,
        /// Bytes 4 to 8.
        rest: [u8; 4],
        /// Everything after the 8-byte header.
        data: &'a [u8],
    },
}
