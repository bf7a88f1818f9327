//! The UDP wire format (RFC 768): the header, a borrowed view of a
//! datagram, an owned representation and its builder.

use core::net::Ipv4Addr;

use lamina_netbuf::checksum::{self, Checksum};
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget};
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::Error;

/// The IPv4 protocol number of UDP (17), as it appears in the
/// pseudo-header.
pub const IP_PROTOCOL: u8 = 17;

/// Length of the UDP header in bytes.
pub const HEADER_LEN: usize = 8;

/// The largest payload a UDP length field can describe (65535 − 8).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

/// The fixed 8-byte UDP header (RFC 768), as it lies on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UdpHeader {
    /// Source port (0 when the sender expects no reply).
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Length of header plus data, in bytes (at least 8).
    pub length: U16,
    /// Checksum over pseudo-header, header and data; 0 means "not
    /// computed".
    pub checksum: U16,
}

/// What a datagram's checksum says, as tshark reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumStatus {
    /// The checksum verifies.
    Good,
    /// The checksum does not verify.
    Bad,
    /// The checksum field is zero: the sender did not compute one
    /// (RFC 768). RFC 1122 §4.1.3.4 lets a receiver accept such datagrams.
    Absent,
    /// The datagram was cut short by the capture (see
    /// [`UdpPacket::parse_truncated`]), so the checksum cannot be checked.
    Unverifiable,
}

/// How a builder fills the checksum field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Compute the full checksum over pseudo-header, header and body,
    /// sending 0xFFFF when it comes out as zero (RFC 768).
    #[default]
    Compute,
    /// Leave it to transmit offload: write the folded (uncomplemented)
    /// sum of the pseudo-header, which a device completes by summing from
    /// the UDP header onwards (the convention of Linux `CHECKSUM_PARTIAL`
    /// and virtio-net `NEEDS_CSUM`).
    Offload,
    /// Send zero, "no checksum" (RFC 768).
    Zero,
}

/// A borrowed, structurally valid view of a UDP datagram.
///
/// Parsing copies nothing: the view points into the caller's bytes.
/// Nothing about the checksum is assumed; ask with
/// [`checksum_status`](Self::checksum_status), or use
/// [`parse_verified`](Self::parse_verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<'a> {
    header: &'a UdpHeader,
    payload: &'a [u8],
    truncated: bool,
}

impl<'a> UdpPacket<'a> {
    /// Parses a datagram: the header must be complete, its length field
    /// at least 8 and no longer than `bytes`. Bytes beyond the length
    /// field (link-layer padding) are not part of the payload. The
    /// checksum is not checked.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<UdpPacket<'a>, Error> {
        let p = Self::parse_truncated(bytes)?;
        if p.truncated {
            return Err(Error::Truncated {
                needed: usize::from(p.length()),
                got: bytes.len(),
            });
        }
        Ok(p)
    }

    /// Parses a datagram that a capture may have cut short: like
    /// [`parse`](Self::parse), but a buffer shorter than the length field
    /// is accepted (the payload is what is present) and reported by
    /// [`is_truncated`](Self::is_truncated). The header itself must be
    /// complete.
    #[inline]
    pub fn parse_truncated(bytes: &'a [u8]) -> Result<UdpPacket<'a>, Error> {
        let (header, rest) = UdpHeader::ref_from_prefix(bytes).map_err(|_| Error::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        })?;
        let length = header.length.get();
        let Some(payload_len) = usize::from(length).checked_sub(HEADER_LEN) else {
            return Err(Error::BadLength { length });
        };
        let (payload, truncated) = match rest.get(..payload_len) {
            Some(p) => (p, false),
            None => (rest, true),
        };
        Ok(UdpPacket {
            header,
            payload,
            truncated,
        })
    }

    /// Parses a datagram and verifies its checksum against the
    /// pseudo-header of `src` and `dst`. A zero checksum ("not computed")
    /// is accepted, as RFC 1122 §4.1.3.4 allows; see
    /// [`parse_verified_strict`](Self::parse_verified_strict) to refuse it.
    #[inline]
    pub fn parse_verified(
        bytes: &'a [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<UdpPacket<'a>, Error> {
        let p = Self::parse(bytes)?;
        match p.checksum_status(src, dst) {
            ChecksumStatus::Good | ChecksumStatus::Absent => Ok(p),
            ChecksumStatus::Bad | ChecksumStatus::Unverifiable => Err(Error::BadChecksum),
        }
    }

    /// Like [`parse_verified`](Self::parse_verified), but a zero checksum
    /// is an [`Error::MissingChecksum`] (for applications that require
    /// checksums).
    #[inline]
    pub fn parse_verified_strict(
        bytes: &'a [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<UdpPacket<'a>, Error> {
        let p = Self::parse(bytes)?;
        match p.checksum_status(src, dst) {
            ChecksumStatus::Good => Ok(p),
            ChecksumStatus::Absent => Err(Error::MissingChecksum),
            ChecksumStatus::Bad | ChecksumStatus::Unverifiable => Err(Error::BadChecksum),
        }
    }

    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a UdpHeader {
        self.header
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }

    /// The length field: header plus data, as the sender declared it.
    #[inline]
    pub fn length(&self) -> u16 {
        self.header.length.get()
    }

    /// The checksum field as sent (0 = not computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }

    /// The data after the header, cut at the length field (and, for a
    /// truncated capture, at the end of the buffer).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether the buffer held fewer bytes than the length field declares
    /// (only possible through [`parse_truncated`](Self::parse_truncated)).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Checks the checksum against the pseudo-header of `src` and `dst`
    /// (RFC 768). A zero field is [`ChecksumStatus::Absent`]; a truncated
    /// datagram is [`ChecksumStatus::Unverifiable`].
    #[inline]
    pub fn checksum_status(&self, src: Ipv4Addr, dst: Ipv4Addr) -> ChecksumStatus {
        if self.checksum() == 0 || self.truncated {
            return self.checksum_status_with_sum(src, dst, 0);
        }
        let payload_sum = checksum::ones_complement_sum(self.payload);
        self.checksum_status_with_sum(src, dst, payload_sum)
    }

    /// As [`checksum_status`](Self::checksum_status), with the payload's
    /// one's-complement sum ([`checksum::ones_complement_sum`] of
    /// [`payload`](Self::payload)) already known: summed by whoever
    /// copied the payload out ([`checksum::copy_with_sum`]), so that the
    /// bytes are read once. The pseudo-header and the header are summed
    /// here.
    ///
    /// ```
    /// use core::net::Ipv4Addr;
    /// use lamina_netbuf::checksum::copy_with_sum;
    /// use lamina_netbuf::Serializer;
    /// use lamina_udp::{ChecksumStatus, UdpPacket, UdpRepr};
    ///
    /// let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    /// let repr = UdpRepr { src_port: 1000, dst_port: 2000 };
    /// let dgram = b"data".wrap_in(repr.builder(a, b)).serialize_vec(0)?.into_vec();
    /// let udp = UdpPacket::parse(&dgram).unwrap();
    /// let mut copy = [0u8; 4];
    /// let sum = copy_with_sum(&mut copy, udp.payload());
    /// assert_eq!(udp.checksum_status_with_sum(a, b, sum), ChecksumStatus::Good);
    /// assert_eq!(udp.checksum_status_with_sum(a, b, sum ^ 1), ChecksumStatus::Bad);
    /// # Ok::<(), lamina_netbuf::Error>(())
    /// ```
    #[inline]
    pub fn checksum_status_with_sum(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_sum: u16,
    ) -> ChecksumStatus {
        if self.checksum() == 0 {
            ChecksumStatus::Absent
        } else if self.truncated {
            ChecksumStatus::Unverifiable
        } else {
            let mut sum = self.header_checksum(src, dst);
            sum.add_u16(payload_sum);
            if sum.finish() == 0 {
                ChecksumStatus::Good
            } else {
                ChecksumStatus::Bad
            }
        }
    }

    /// The folded one's-complement sum of the pseudo-header of `src` and
    /// `dst` and of the UDP header (checksum field included): what a
    /// receiver that verifies the payload later keeps (Linux verifies a
    /// datagram's checksum as the reader copies it out). The datagram is
    /// intact when this sum and the payload's, added, fold to `0xFFFF`
    /// (their [`Checksum::finish`] is zero); that holds only when the
    /// checksum field is not zero and the datagram is not truncated
    /// ([`checksum_status_with_sum`](Self::checksum_status_with_sum)
    /// gives the whole verdict).
    ///
    /// ```
    /// use core::net::Ipv4Addr;
    /// use lamina_netbuf::checksum::Checksum;
    /// use lamina_netbuf::Serializer;
    /// use lamina_udp::{UdpPacket, UdpRepr};
    ///
    /// let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    /// let repr = UdpRepr { src_port: 1000, dst_port: 2000 };
    /// let dgram = b"later".wrap_in(repr.builder(a, b)).serialize_vec(0)?.into_vec();
    /// let udp = UdpPacket::parse(&dgram).unwrap();
    /// let kept = udp.header_sum(a, b);
    /// // ... and when the payload is read:
    /// let mut sum = Checksum::new();
    /// sum.add_u16(kept);
    /// sum.add_bytes(udp.payload());
    /// assert_eq!(sum.finish(), 0);
    /// # Ok::<(), lamina_netbuf::Error>(())
    /// ```
    #[inline]
    pub fn header_sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        self.header_checksum(src, dst).sum()
    }

    /// The pseudo-header and the header, summed.
    #[inline(always)]
    fn header_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Checksum {
        let mut sum = checksum::ipv4_pseudo_header(src, dst, IP_PROTOCOL, self.length());
        // The header as two 32-bit words (even length: the payload's sum
        // follows at an even offset).
        let h = self.header.as_bytes();
        if let Some((a, rest)) = h.split_first_chunk::<4>()
            && let Some(b) = rest.first_chunk::<4>()
        {
            sum.add_u32(u32::from_be_bytes(*a));
            sum.add_u32(u32::from_be_bytes(*b));
        }
        sum
    }

    /// Whether the datagram may be accepted as far as the checksum goes:
    /// true when it verifies or is absent (RFC 1122 §4.1.3.4), false when
    /// it is bad or cannot be checked. Use
    /// [`checksum_status`](Self::checksum_status) to tell these apart.
    #[inline]
    pub fn checksum_ok(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        matches!(
            self.checksum_status(src, dst),
            ChecksumStatus::Good | ChecksumStatus::Absent
        )
    }

    /// The owned representation of the header's user-set fields.
    #[inline]
    pub fn to_repr(&self) -> UdpRepr {
        UdpRepr {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
        }
    }
}

/// The fields of a UDP header a user chooses; the length and checksum
/// follow from the body and the addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// A builder for this header between `src` and `dst` (the addresses
    /// enter the pseudo-header checksum), computing the checksum.
    #[inline]
    pub fn builder(&self, src: Ipv4Addr, dst: Ipv4Addr) -> UdpBuilder {
        UdpBuilder {
            repr: *self,
            src,
            dst,
            checksum: ChecksumMode::Compute,
        }
    }
}

/// Writes a UDP header in front of a body: a
/// [`PacketBuilder`] made by [`UdpRepr::builder`].
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_netbuf::Serializer;
/// use lamina_udp::{ChecksumMode, UdpPacket, UdpRepr};
///
/// let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
/// let repr = UdpRepr { src_port: 5353, dst_port: 53 };
/// let offloaded = b"query"
///     .wrap_in(repr.builder(a, b).checksum(ChecksumMode::Offload))
///     .serialize_vec(0)?;
/// // The device would complete the checksum; until then it does not verify.
/// assert!(!UdpPacket::parse(offloaded.as_slice()).unwrap().checksum_ok(a, b));
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpBuilder {
    repr: UdpRepr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    checksum: ChecksumMode,
}

impl UdpBuilder {
    /// Chooses how the checksum field is filled (default
    /// [`ChecksumMode::Compute`]).
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> UdpBuilder {
        self.checksum = mode;
        self
    }

    /// The header fields this builder writes.
    #[inline]
    pub fn repr(&self) -> &UdpRepr {
        &self.repr
    }
}

impl PacketBuilder for UdpBuilder {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(HEADER_LEN, 0, 0, MAX_PAYLOAD_LEN)
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        // The constraints cap the body at MAX_PAYLOAD_LEN, so this fits;
        // saturate rather than wrap should a caller break the contract.
        let length = u16::try_from(target.body.len() + HEADER_LEN).unwrap_or(u16::MAX);
        let mut header = UdpHeader {
            src_port: U16::new(self.repr.src_port),
            dst_port: U16::new(self.repr.dst_port),
            length: U16::new(length),
            checksum: U16::ZERO,
        };
        let pseudo = checksum::ipv4_pseudo_header(self.src, self.dst, IP_PROTOCOL, length);
        let field = match self.checksum {
            ChecksumMode::Compute => {
                let mut sum: Checksum = pseudo;
                sum.add_bytes(header.as_bytes());
                sum.add_bytes(target.body);
                match sum.finish() {
                    // RFC 768: a computed zero is sent as all ones.
                    0 => 0xffff,
                    c => c,
                }
            }
            ChecksumMode::Offload => pseudo.sum(),
            ChecksumMode::Zero => 0,
        };
        header.checksum = U16::new(field);
        let _ = header.write_to_prefix(target.header);
    }
}

#[cfg(test)]
mod tests;
