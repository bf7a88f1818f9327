//! The IPv4 header and the borrowed packet view (RFC 791 §3.1).

use core::net::Ipv4Addr;

use lamina_netbuf::checksum;
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::options::{self, Ipv4OptionIter, Ipv4OptionsBuf};
use crate::{Error, IpProtocol, Ipv4Repr};

/// The length of the fixed header, without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;
/// The longest header: IHL 15, 40 bytes of options.
pub const IPV4_MAX_HEADER_LEN: usize = 60;
/// The largest datagram the total length field can describe.
pub const IPV4_MAX_PACKET_LEN: usize = 65535;
/// The datagram size every host must accept (RFC 791 §3.1, RFC 1122
/// §3.3.3), which bounds ICMP errors (RFC 1812 §4.3.2.3).
pub const IPV4_MIN_MTU: usize = 576;

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// The fixed 20-byte IPv4 header, as it lies on the wire.
///
/// The fields are raw network-order storage; the methods decode them.
/// Reading it from any 20 bytes never fails beyond length, so a decoder
/// can report the fixed fields of a header whose options are malformed or
/// were cut off by a capture ([`Ipv4Header::peek`]); use
/// [`Ipv4Packet`] for a checked view.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ipv4Header {
    /// Version (high 4 bits) and IHL in 32-bit words (low 4 bits).
    pub version_ihl: u8,
    /// DSCP (high 6 bits, RFC 2474) and ECN (low 2 bits, RFC 3168).
    pub dscp_ecn: u8,
    /// Total length of the datagram in bytes, header included.
    pub total_len: U16,
    /// Identification, for reassembly.
    pub identification: U16,
    /// Flags (reserved, DF, MF) and fragment offset in 8-byte units.
    pub flags_frag: U16,
    /// Time to live.
    pub ttl: u8,
    /// The payload's protocol.
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

impl Ipv4Header {
    /// Reads the fixed header at the start of `bytes`, checking nothing
    /// but length: for the fields of a header that
    /// [`Ipv4Packet::parse`] rejects (malformed options, options cut off
    /// by a capture, a quote in an ICMP Parameter Problem).
    #[inline]
    pub fn peek(bytes: &[u8]) -> Result<&Ipv4Header, Error> {
        Ipv4Header::ref_from_prefix(bytes)
            .map(|(h, _)| h)
            .map_err(|_| Error::Truncated {
                needed: IPV4_MIN_HEADER_LEN,
                got: bytes.len(),
            })
    }

    /// The version field (4 for IPv4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// The Internet Header Length field, in 32-bit words.
    #[inline]
    pub fn ihl(&self) -> u8 {
        self.version_ihl & 0x0f
    }

    /// The header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// Differentiated Services Code Point (RFC 2474).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn >> 2
    }

    /// Explicit Congestion Notification (RFC 3168): 0 not ECT, 1 ECT(1),
    /// 2 ECT(0), 3 CE.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn & 0x03
    }

    /// The total length field.
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.total_len.get()
    }

    /// The identification field.
    #[inline]
    pub fn identification(&self) -> u16 {
        self.identification.get()
    }

    /// The reserved flag (bit 0 of the flags; "evil bit", RFC 3514). Must
    /// be zero on send.
    #[inline]
    pub fn reserved_flag(&self) -> bool {
        self.flags_frag.get() & FLAG_RESERVED != 0
    }

    /// Don't Fragment.
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.flags_frag.get() & FLAG_DF != 0
    }

    /// More Fragments.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.flags_frag.get() & FLAG_MF != 0
    }

    /// The fragment offset in 8-byte units, as on the wire.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        self.flags_frag.get() & OFFSET_MASK
    }

    /// The fragment offset in bytes (at most 65528).
    #[inline]
    pub fn fragment_offset_bytes(&self) -> u16 {
        self.fragment_offset() << 3
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.ttl
    }

    /// The payload's protocol.
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.protocol)
    }

    /// The header checksum field as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.checksum.get()
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst)
    }
}

/// The key that groups fragments of one datagram for reassembly (RFC 791
/// §3.2: source, destination, protocol and identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragmentKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub protocol: IpProtocol,
    /// Identification.
    pub identification: u16,
}

/// A borrowed, checked view of an IPv4 datagram.
///
/// Its invariants, established by [`parse`](Self::parse): the version is
/// 4, the header (IHL ≥ 5, options included) is complete, the total
/// length covers the header, and every option up to End of Option List is
/// well formed. The payload ends at the total length, so link-layer
/// padding after the datagram is not payload; in the lenient
/// [`parse_truncated`](Self::parse_truncated) it may end earlier, and
/// [`is_truncated`](Self::is_truncated) says so.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<'a> {
    header: &'a Ipv4Header,
    /// Header (options included) and payload, as present.
    bytes: &'a [u8],
    options: &'a [u8],
    payload: &'a [u8],
    truncated: bool,
}

impl<'a> Ipv4Packet<'a> {
    /// Parses a complete datagram. Bytes beyond the total length (link
    /// padding) are ignored; a buffer shorter than the total length is
    /// [`Error::Truncated`]. The checksum is not verified (see
    /// [`parse_verified`](Self::parse_verified)), for devices with receive
    /// checksum offload.
    #[inline(always)]
    pub fn parse(bytes: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        if let Some(p) = Ipv4Packet::plain(bytes) {
            return Ok(p);
        }
        Ipv4Packet::parse_general(bytes)
    }

    /// [`parse`](Self::parse) of anything but the common datagram.
    #[inline(never)]
    fn parse_general(bytes: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        Ipv4Packet::parse_inner(bytes, false)
    }

    /// Parses a datagram that may have been cut short (a capture's
    /// snaplen, or the quote in an ICMP error): the header and its options
    /// must be complete, the payload is whatever follows, up to the total
    /// length.
    #[inline]
    pub fn parse_truncated(bytes: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        Ipv4Packet::parse_inner(bytes, true)
    }

    /// Like [`parse`](Self::parse), then rejects a bad header checksum
    /// with [`Error::BadChecksum`] (RFC 1812 §5.2.2).
    #[inline(always)]
    pub fn parse_verified(bytes: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        // The common datagram (no options, complete) is checked without
        // the general parse: one look at the version/IHL byte and the
        // total length, and the 20-byte checksum summed in registers.
        if let Some(p) = Ipv4Packet::plain(bytes) {
            return if lamina_netbuf::checksum::header20(p.header.as_bytes()) == 0xffff {
                Ok(p)
            } else {
                Err(Error::BadChecksum)
            };
        }
        Ipv4Packet::parse_verified_general(bytes)
    }

    /// [`parse_verified`](Self::parse_verified) of anything but the
    /// common datagram.
    #[inline(never)]
    fn parse_verified_general(bytes: &'a [u8]) -> Result<Ipv4Packet<'a>, Error> {
        let p = Ipv4Packet::parse(bytes)?;
        if p.checksum_ok() {
            Ok(p)
        } else {
            Err(Error::BadChecksum)
        }
    }

    /// The view of a complete datagram without options (version 4, IHL 5,
    /// `20 <= total length <= len`), its checksum unchecked; `None` for
    /// anything else, which the general parse handles.
    #[inline(always)]
    fn plain(bytes: &'a [u8]) -> Option<Ipv4Packet<'a>> {
        let (head, _) = bytes.split_first_chunk::<IPV4_MIN_HEADER_LEN>()?;
        if head[0] != 0x45 {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let datagram = bytes.get(..total)?;
        let payload = datagram.get(IPV4_MIN_HEADER_LEN..)?;
        let (header, _) = Ipv4Header::ref_from_prefix(datagram).ok()?;
        Some(Ipv4Packet {
            header,
            bytes: datagram,
            options: &[],
            payload,
            truncated: false,
        })
    }

    #[inline]
    fn parse_inner(bytes: &'a [u8], lenient: bool) -> Result<Ipv4Packet<'a>, Error> {
        if let Some(p) = Ipv4Packet::plain(bytes) {
            return Ok(p);
        }
        let got = bytes.len();
        let (header, _) = Ipv4Header::ref_from_prefix(bytes).map_err(|_| Error::Truncated {
            needed: IPV4_MIN_HEADER_LEN,
            got,
        })?;
        if header.version() != 4 {
            return Err(Error::BadVersion {
                version: header.version(),
            });
        }
        let ihl = header.ihl();
        if ihl < 5 {
            return Err(Error::BadHeaderLength { ihl });
        }
        let header_len = header.header_len();
        let total = usize::from(header.total_len());
        if got < header_len {
            return Err(Error::Truncated {
                needed: header_len,
                got,
            });
        }
        if total < header_len {
            return Err(Error::BadTotalLength {
                total_len: header.total_len(),
                header_len,
            });
        }
        // Header errors come before the datagram length, so that strict
        // and lenient parsing agree on them.
        let options = bytes.get(IPV4_MIN_HEADER_LEN..header_len).unwrap_or(&[]);
        if !options.is_empty() {
            options::validate(options)?;
        }
        let (bytes, truncated) = match bytes.get(..total) {
            Some(b) => (b, false),
            None if lenient => (bytes, true),
            None => return Err(Error::Truncated { needed: total, got }),
        };
        let payload = bytes.get(header_len..).unwrap_or(&[]);
        Ok(Ipv4Packet {
            header,
            bytes,
            options,
            payload,
            truncated,
        })
    }

    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a Ipv4Header {
        self.header
    }

    /// The version (always 4 in a parsed view).
    #[inline]
    pub fn version(&self) -> u8 {
        self.header.version()
    }

    /// The IHL field, in 32-bit words.
    #[inline]
    pub fn ihl(&self) -> u8 {
        self.header.ihl()
    }

    /// The header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header.header_len()
    }

    /// Differentiated Services Code Point (RFC 2474).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.header.dscp()
    }

    /// Explicit Congestion Notification (RFC 3168).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.header.ecn()
    }

    /// The total length field.
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.header.total_len()
    }

    /// The identification field.
    #[inline]
    pub fn identification(&self) -> u16 {
        self.header.identification()
    }

    /// The reserved flag ("evil bit").
    #[inline]
    pub fn reserved_flag(&self) -> bool {
        self.header.reserved_flag()
    }

    /// Don't Fragment.
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.header.dont_fragment()
    }

    /// More Fragments.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.header.more_fragments()
    }

    /// The fragment offset in 8-byte units.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        self.header.fragment_offset()
    }

    /// The fragment offset in bytes.
    #[inline]
    pub fn fragment_offset_bytes(&self) -> u16 {
        self.header.fragment_offset_bytes()
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.header.ttl()
    }

    /// The payload's protocol.
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        self.header.protocol()
    }

    /// The header checksum field as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.header.checksum()
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        self.header.src()
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        self.header.dst()
    }

    /// Whether the header checksum verifies (RFC 791 §3.1).
    #[inline]
    pub fn checksum_ok(&self) -> bool {
        checksum::header20(self.header_bytes()) == 0xffff
    }

    /// The options area (header bytes 20 to IHL × 4), padding included.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        self.options
    }

    /// Iterates over the options. The view was validated, so every item
    /// is `Ok`.
    #[inline]
    pub fn iter_options(&self) -> Ipv4OptionIter<'a> {
        Ipv4OptionIter::new(self.options)
    }

    /// The whole header, options included.
    #[inline]
    pub fn header_bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.header_len()).unwrap_or(&[])
    }

    /// The payload: after the header, up to the total length (or the end
    /// of the buffer if truncated).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Header and payload: the datagram as present, without link padding.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the buffer ended before the total length (only from
    /// [`parse_truncated`](Self::parse_truncated)).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Whether this is a fragment: More Fragments set or a nonzero offset
    /// (RFC 791 §2.3).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.header.flags_frag.get() & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Whether this is the first fragment of a fragmented datagram: offset
    /// 0 with More Fragments.
    #[inline]
    pub fn is_first_fragment(&self) -> bool {
        self.more_fragments() && self.fragment_offset() == 0
    }

    /// Whether this is the last fragment of a fragmented datagram: no More
    /// Fragments, nonzero offset.
    #[inline]
    pub fn is_last_fragment(&self) -> bool {
        !self.more_fragments() && self.fragment_offset() != 0
    }

    /// The bytes where the transport header starts: the payload of a
    /// datagram with offset 0 (unfragmented or first fragment), `None` for
    /// later fragments, whose payload is the middle of the transport data.
    #[inline]
    pub fn l4_payload(&self) -> Option<&'a [u8]> {
        (self.fragment_offset() == 0).then_some(self.payload)
    }

    /// The reassembly key of this datagram (RFC 791 §3.2).
    #[inline]
    pub fn fragment_key(&self) -> FragmentKey {
        FragmentKey {
            src: self.src(),
            dst: self.dst(),
            protocol: self.protocol(),
            identification: self.identification(),
        }
    }

    /// The byte range this fragment covers in the reassembled payload:
    /// from [`fragment_offset_bytes`](Self::fragment_offset_bytes) to that
    /// plus the payload length (which may exceed 65535 in a malicious
    /// fragment; a reassembler must check).
    #[inline]
    pub fn fragment_range(&self) -> core::ops::Range<usize> {
        let start = usize::from(self.fragment_offset_bytes());
        start..start + self.payload.len()
    }

    /// The owned header description.
    #[inline]
    pub fn to_repr(&self) -> Ipv4Repr {
        Ipv4Repr {
            src: self.src(),
            dst: self.dst(),
            protocol: self.protocol(),
            ttl: self.ttl(),
            dscp: self.dscp(),
            ecn: self.ecn(),
            identification: self.identification(),
            reserved_flag: self.reserved_flag(),
            dont_fragment: self.dont_fragment(),
            more_fragments: self.more_fragments(),
            fragment_offset: self.fragment_offset(),
            options: Ipv4OptionsBuf::from_valid(self.options).unwrap_or_default(),
        }
    }
}
