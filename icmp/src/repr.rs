//! The owned message description, its builder, and the error builder that
//! quotes an offending datagram.

use core::net::Ipv4Addr;

use lamina_ipv4::{ChecksumMode, IPV4_MIN_HEADER_LEN, IPV4_MIN_MTU, Ipv4Header};
use lamina_netbuf::checksum::Checksum;
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};

use crate::packet::{ICMP_HEADER_LEN, Timestamps, fixed_len};
use crate::{
    Error, IcmpType, ParameterProblemCode, RedirectCode, TimeExceededCode, UnreachableCode,
};

/// The largest quote in an error sent in a datagram of at most 576 bytes
/// with a 20-byte IPv4 header (RFC 1812 §4.3.2.3): 576 − 20 − 8.
pub const MAX_ERROR_QUOTE_LEN: usize = IPV4_MIN_MTU - IPV4_MIN_HEADER_LEN - ICMP_HEADER_LEN;

/// The header fields of an ICMPv4 message; the variable part (echo data,
/// an error's quote, router advertisement entries) is the body it wraps.
///
/// It is a [`PacketBuilder`] that writes the type's fixed fields and
/// computes the checksum over them and the body. Bytes the RFCs leave
/// "unused" are written as zero, and so is the code of the messages
/// whose code RFC 792 fixes at 0 (echo, source quench, timestamp,
/// information, address mask, router solicitation): a nonzero code
/// received in one of those is not kept by
/// [`to_repr`](crate::IcmpPacket::to_repr).
///
/// ```
/// use lamina_icmp::{IcmpMessage, IcmpPacket, IcmpRepr};
/// use lamina_netbuf::Serializer;
///
/// let ping = IcmpRepr::EchoRequest { ident: 0x1234, seq_no: 1 };
/// let msg = b"abcdefgh".wrap_in(&ping).serialize_vec(0)?;
/// let p = IcmpPacket::parse_verified(msg.as_slice()).unwrap();
/// assert_eq!(p.to_repr(), ping);
/// assert!(matches!(p.message(), IcmpMessage::EchoRequest { data: b"abcdefgh", .. }));
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpRepr {
    /// Echo Reply (type 0); the body is the echoed data.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
    },
    /// Echo Request (type 8); the body is the data.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
    },
    /// Destination Unreachable (type 3); the body is the quote.
    DestUnreachable {
        /// Why.
        code: UnreachableCode,
        /// Bytes 6–7: the next-hop MTU for code 4 (RFC 1191), zero
        /// otherwise.
        next_hop_mtu: u16,
    },
    /// Source Quench (type 4); the body is the quote.
    SourceQuench,
    /// Redirect (type 5); the body is the quote.
    Redirect {
        /// Which traffic.
        code: RedirectCode,
        /// The better gateway.
        gateway: Ipv4Addr,
    },
    /// Time Exceeded (type 11); the body is the quote.
    TimeExceeded {
        /// TTL or reassembly.
        code: TimeExceededCode,
    },
    /// Parameter Problem (type 12); the body is the quote.
    ParameterProblem {
        /// What kind of problem.
        code: ParameterProblemCode,
        /// The offending octet's offset in the quote (code 0).
        pointer: u8,
    },
    /// Timestamp (type 13), 20 bytes.
    Timestamp(Timestamps),
    /// Timestamp Reply (type 14), 20 bytes.
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
    /// Address Mask Request (type 17), 12 bytes.
    AddressMaskRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The mask field (zero in a request).
        mask: Ipv4Addr,
    },
    /// Address Mask Reply (type 18), 12 bytes.
    AddressMaskReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The subnet mask.
        mask: Ipv4Addr,
    },
    /// Router Advertisement (type 9); the body is the entries (see
    /// [`RouterAddress::to_bytes`](crate::RouterAddress::to_bytes)),
    /// padded with zeros to `num_addrs × addr_entry_size × 4` bytes.
    RouterAdvertisement {
        /// The code (0, or 16 for a mobility agent).
        code: u8,
        /// Num Addrs.
        num_addrs: u8,
        /// Addr Entry Size in words (2; at least 2 when `num_addrs > 0`).
        addr_entry_size: u8,
        /// Lifetime in seconds.
        lifetime: u16,
    },
    /// Router Solicitation (type 10).
    RouterSolicitation,
    /// Any other type, raw; the body is everything after the 8-byte
    /// header.
    Other {
        /// The type (one this crate does not decode).
        msg_type: IcmpType,
        /// The code.
        code: u8,
        /// Bytes 4 to 8.
        rest: [u8; 4],
    },
}

impl IcmpRepr {
    /// The message type.
    pub const fn msg_type(&self) -> IcmpType {
        IcmpType(match self {
            IcmpRepr::EchoReply { .. } => 0,
            IcmpRepr::DestUnreachable { .. } => 3,
            IcmpRepr::SourceQuench => 4,
            IcmpRepr::Redirect { .. } => 5,
            IcmpRepr::EchoRequest { .. } => 8,
            IcmpRepr::RouterAdvertisement { .. } => 9,
            IcmpRepr::RouterSolicitation => 10,
            IcmpRepr::TimeExceeded { .. } => 11,
            IcmpRepr::ParameterProblem { .. } => 12,
            IcmpRepr::Timestamp(_) => 13,
            IcmpRepr::TimestampReply(_) => 14,
            IcmpRepr::InformationRequest { .. } => 15,
            IcmpRepr::InformationReply { .. } => 16,
            IcmpRepr::AddressMaskRequest { .. } => 17,
            IcmpRepr::AddressMaskReply { .. } => 18,
            IcmpRepr::Other { msg_type, .. } => msg_type.0,
        })
    }

    /// The code.
    pub const fn code(&self) -> u8 {
        match self {
            IcmpRepr::DestUnreachable { code, .. } => code.value(),
            IcmpRepr::Redirect { code, .. } => code.value(),
            IcmpRepr::TimeExceeded { code } => code.value(),
            IcmpRepr::ParameterProblem { code, .. } => code.value(),
            IcmpRepr::RouterAdvertisement { code, .. } | IcmpRepr::Other { code, .. } => *code,
            _ => 0,
        }
    }

    /// Whether this is an error message (it quotes a datagram).
    pub const fn is_error(&self) -> bool {
        self.msg_type().is_error()
    }

    /// The length of the fixed part this builder writes: 8 bytes, 12 for
    /// address masks, 20 for timestamps.
    pub const fn header_len(&self) -> usize {
        fixed_len(self.msg_type().0)
    }

    /// The smallest body: the advertised entries of a router
    /// advertisement, zero otherwise.
    pub const fn min_body_len(&self) -> usize {
        match self {
            IcmpRepr::RouterAdvertisement {
                num_addrs,
                addr_entry_size,
                ..
            } => *num_addrs as usize * *addr_entry_size as usize * 4,
            _ => 0,
        }
    }

    /// A builder for this message that can leave the checksum out.
    #[inline]
    pub fn builder(&self) -> IcmpBuilder<'_> {
        IcmpBuilder {
            repr: self,
            checksum: ChecksumMode::Compute,
        }
    }

    /// The fixed part, checksum zero, in the first
    /// [`header_len`](Self::header_len) bytes of the result.
    fn fixed(&self) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = self.msg_type().0;
        h[1] = self.code();
        let rest: [u8; 4] = match *self {
            IcmpRepr::EchoReply { ident, seq_no }
            | IcmpRepr::EchoRequest { ident, seq_no }
            | IcmpRepr::InformationRequest { ident, seq_no }
            | IcmpRepr::InformationReply { ident, seq_no }
            | IcmpRepr::Timestamp(Timestamps { ident, seq_no, .. })
            | IcmpRepr::TimestampReply(Timestamps { ident, seq_no, .. })
            | IcmpRepr::AddressMaskRequest { ident, seq_no, .. }
            | IcmpRepr::AddressMaskReply { ident, seq_no, .. } => {
                let [a, b] = ident.to_be_bytes();
                let [c, d] = seq_no.to_be_bytes();
                [a, b, c, d]
            }
            IcmpRepr::DestUnreachable { next_hop_mtu, .. } => {
                let [c, d] = next_hop_mtu.to_be_bytes();
                [0, 0, c, d]
            }
            IcmpRepr::Redirect { gateway, .. } => gateway.octets(),
            IcmpRepr::ParameterProblem { pointer, .. } => [pointer, 0, 0, 0],
            IcmpRepr::RouterAdvertisement {
                num_addrs,
                addr_entry_size,
                lifetime,
                ..
            } => {
                let [c, d] = lifetime.to_be_bytes();
                [num_addrs, addr_entry_size, c, d]
            }
            IcmpRepr::Other { rest, .. } => rest,
            IcmpRepr::SourceQuench
            | IcmpRepr::TimeExceeded { .. }
            | IcmpRepr::RouterSolicitation => [0; 4],
        };
        h[4..8].copy_from_slice(&rest);
        match *self {
            IcmpRepr::Timestamp(t) | IcmpRepr::TimestampReply(t) => {
                h[8..12].copy_from_slice(&t.originate.to_be_bytes());
                h[12..16].copy_from_slice(&t.receive.to_be_bytes());
                h[16..20].copy_from_slice(&t.transmit.to_be_bytes());
            }
            IcmpRepr::AddressMaskRequest { mask, .. } | IcmpRepr::AddressMaskReply { mask, .. } => {
                h[8..12].copy_from_slice(&mask.octets());
            }
            _ => {}
        }
        h
    }

    /// Writes the fixed part into `header` (exactly
    /// [`header_len`](Self::header_len) bytes, otherwise nothing is
    /// written) for a `body` already in place after it, with the checksum
    /// over both unless `mode` leaves it to the device.
    pub fn emit(&self, header: &mut [u8], body: &[u8], mode: ChecksumMode) {
        let fixed = self.fixed();
        let Some(src) = fixed.get(..header.len()) else {
            return;
        };
        if header.len() != self.header_len() {
            return;
        }
        header.copy_from_slice(src);
        if mode == ChecksumMode::Compute {
            let mut c = Checksum::new();
            c.add_bytes(header);
            c.add_bytes(body);
            let sum = c.finish();
            if let Some(field) = header.get_mut(2..4) {
                field.copy_from_slice(&sum.to_be_bytes());
            }
        }
    }
}

impl PacketBuilder for IcmpRepr {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        self.builder().constraints()
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.emit(target.header, target.body, ChecksumMode::Compute);
    }
}

/// An [`IcmpRepr`] with a choice of checksum handling; see
/// [`IcmpRepr::builder`].
#[derive(Debug, Clone, Copy)]
pub struct IcmpBuilder<'r> {
    repr: &'r IcmpRepr,
    checksum: ChecksumMode,
}

impl IcmpBuilder<'_> {
    /// Sets how the checksum is produced.
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> Self {
        self.checksum = mode;
        self
    }
}

impl PacketBuilder for IcmpBuilder<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        let hl = self.repr.header_len();
        // An ICMP message is the payload of an IPv4 datagram without
        // options.
        let max = lamina_ipv4::IPV4_MAX_PACKET_LEN - IPV4_MIN_HEADER_LEN - hl;
        PacketConstraints::new(hl, 0, self.repr.min_body_len(), max)
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.repr.emit(target.header, target.body, self.checksum);
    }
}

/// The part of `offending` an error about it should quote: its IPv4
/// header and as much of its payload as fits in `max_len` bytes, but never
/// less than the header plus 8 bytes of payload (RFC 1122 §3.2.2, RFC 1812
/// §4.3.2.3). Link padding after the total length is left out.
///
/// Only the fixed header is checked (version 4, IHL ≥ 5, the header
/// present), so a datagram with malformed options can still be quoted in a
/// Parameter Problem.
pub fn quote_for_error(offending: &[u8], max_len: usize) -> Result<&[u8], Error> {
    let got = offending.len();
    let h = Ipv4Header::peek(offending).map_err(Error::BadQuote)?;
    if h.version() != 4 {
        return Err(Error::BadQuote(lamina_ipv4::Error::BadVersion {
            version: h.version(),
        }));
    }
    if h.ihl() < 5 {
        return Err(Error::BadQuote(lamina_ipv4::Error::BadHeaderLength {
            ihl: h.ihl(),
        }));
    }
    let hl = h.header_len();
    if got < hl {
        return Err(Error::BadQuote(lamina_ipv4::Error::Truncated {
            needed: hl,
            got,
        }));
    }
    let total = usize::from(h.total_len());
    let datagram = if total >= hl { total.min(got) } else { got };
    let min = (hl + 8).min(datagram);
    let len = datagram.min(max_len).max(min);
    offending
        .get(..len)
        .ok_or(Error::BadQuote(lamina_ipv4::Error::Truncated {
            needed: len,
            got,
        }))
}

/// An ICMP error message quoting the datagram that caused it: a
/// [`Serializer`] to wrap in the outgoing IPv4 header.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{ErrorBuilder, IcmpPacket, IcmpRepr, UnreachableCode};
/// use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// // A UDP datagram to a closed port...
/// let udp = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2), IpProtocol::UDP);
/// let offending = [0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, b'h', b'i', b'!', b'!']
///     .wrap_in(&udp).serialize_vec(0)?;
/// // ...earns a port unreachable, quoting it, inside an IPv4 header.
/// let err = ErrorBuilder::new(
///     IcmpRepr::DestUnreachable { code: UnreachableCode::PortUnreachable, next_hop_mtu: 0 },
///     offending.as_slice(),
/// ).unwrap();
/// let reply = Ipv4Repr::new(udp.dst, udp.src, IpProtocol::ICMP);
/// let pkt = err.wrap_in(&reply).serialize_vec(0)?;
///
/// let ip = Ipv4Packet::parse_verified(pkt.as_slice()).unwrap();
/// let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
/// assert_eq!(icmp.quote().unwrap().ports(), Some((12345, 53)));
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorBuilder<'a> {
    repr: IcmpRepr,
    quote: &'a [u8],
    checksum: ChecksumMode,
}

impl<'a> ErrorBuilder<'a> {
    /// An error `repr` quoting `offending` (a whole IPv4 datagram as
    /// received) up to [`MAX_ERROR_QUOTE_LEN`], so that the error fits in
    /// 576 bytes behind a 20-byte IPv4 header.
    #[inline]
    pub fn new(repr: IcmpRepr, offending: &'a [u8]) -> Result<ErrorBuilder<'a>, Error> {
        ErrorBuilder::with_max_quote_len(repr, offending, MAX_ERROR_QUOTE_LEN)
    }

    /// Like [`new`](Self::new) with another quote limit (for example
    /// when the outgoing header has options).
    pub fn with_max_quote_len(
        repr: IcmpRepr,
        offending: &'a [u8],
        max_quote_len: usize,
    ) -> Result<ErrorBuilder<'a>, Error> {
        if !repr.is_error() {
            return Err(Error::NotAnError {
                msg_type: repr.msg_type().0,
            });
        }
        Ok(ErrorBuilder {
            repr,
            quote: quote_for_error(offending, max_quote_len)?,
            checksum: ChecksumMode::Compute,
        })
    }

    /// Sets how the checksum is produced.
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> Self {
        self.checksum = mode;
        self
    }

    /// The bytes that will be quoted.
    #[inline]
    pub fn quote(&self) -> &'a [u8] {
        self.quote
    }

    /// The error message's header fields.
    #[inline]
    pub fn repr(&self) -> &IcmpRepr {
        &self.repr
    }
}

impl Serializer for ErrorBuilder<'_> {
    #[inline]
    fn serialized_len(&self) -> Result<usize, lamina_netbuf::Error> {
        self.quote
            .wrap_in(self.repr.builder().checksum(self.checksum))
            .serialized_len()
    }

    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        self.quote
            .wrap_in(self.repr.builder().checksum(self.checksum))
            .serialize_exact(out)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for IcmpRepr {
    /// Any message whose fields survive a round trip: an `Other` type is
    /// never one this crate decodes, and a router advertisement with
    /// entries has an entry size of at least 2.
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let ident = u.arbitrary()?;
        let seq_no = u.arbitrary()?;
        Ok(match u.int_in_range(0..=15)? {
            0 => IcmpRepr::EchoReply { ident, seq_no },
            1 => IcmpRepr::EchoRequest { ident, seq_no },
            2 => IcmpRepr::DestUnreachable {
                code: u.arbitrary()?,
                next_hop_mtu: u.arbitrary()?,
            },
            3 => IcmpRepr::SourceQuench,
            4 => IcmpRepr::Redirect {
                code: u.arbitrary()?,
                gateway: Ipv4Addr::from_bits(u.arbitrary()?),
            },
            5 => IcmpRepr::TimeExceeded {
                code: u.arbitrary()?,
            },
            6 => IcmpRepr::ParameterProblem {
                code: u.arbitrary()?,
                pointer: u.arbitrary()?,
            },
            7 => IcmpRepr::Timestamp(u.arbitrary()?),
            8 => IcmpRepr::TimestampReply(u.arbitrary()?),
            9 => IcmpRepr::InformationRequest { ident, seq_no },
            10 => IcmpRepr::InformationReply { ident, seq_no },
            11 => IcmpRepr::AddressMaskRequest {
                ident,
                seq_no,
                mask: Ipv4Addr::from_bits(u.arbitrary()?),
            },
            12 => IcmpRepr::AddressMaskReply {
                ident,
                seq_no,
                mask: Ipv4Addr::from_bits(u.arbitrary()?),
            },
            13 => {
                let num_addrs = u.int_in_range(0..=4)?;
                let addr_entry_size = if num_addrs == 0 {
                    u.arbitrary()?
                } else {
                    u.int_in_range(2..=4)?
                };
                IcmpRepr::RouterAdvertisement {
                    code: u.arbitrary()?,
                    num_addrs,
                    addr_entry_size,
                    lifetime: u.arbitrary()?,
                }
            }
            14 => IcmpRepr::RouterSolicitation,
            _ => {
                let t: u8 = u.arbitrary()?;
                IcmpRepr::Other {
                    msg_type: IcmpType(if IcmpType(t).name().is_some() {
                        t | 0x80
                    } else {
                        t
                    }),
                    code: u.arbitrary()?,
                    rest: u.arbitrary()?,
                }
            }
        })
    }
}
