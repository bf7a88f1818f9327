//! The owned IPv4 header description and its builder.

use core::net::Ipv4Addr;

use lamina_netbuf::checksum;
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget};

use crate::IpProtocol;
use crate::options::Ipv4OptionsBuf;
use crate::packet::{IPV4_MAX_PACKET_LEN, IPV4_MIN_HEADER_LEN};

/// Whether a builder computes its checksum or leaves it to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Compute and write the checksum.
    #[default]
    Compute,
    /// Write zero in the checksum field: the device fills it in (transmit
    /// checksum offload).
    Offload,
}

/// Every field of an IPv4 header a sender chooses. The total length and
/// the header checksum are computed when building.
///
/// `Ipv4Repr` is a [`PacketBuilder`]: wrap a body in it and the header is
/// written in front, its total length taken from the body and its
/// checksum computed (see [`builder`](Self::builder) to leave the
/// checksum to the device).
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let repr = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2), IpProtocol::UDP);
/// let pkt = b"payload".wrap_in(&repr).serialize_vec(0)?;
/// let view = Ipv4Packet::parse_verified(pkt.as_slice()).unwrap();
/// assert_eq!(view.total_len(), 27);
/// assert_eq!(view.to_repr(), repr);
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The payload's protocol.
    pub protocol: IpProtocol,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated Services Code Point; masked to 6 bits when built.
    pub dscp: u8,
    /// Explicit Congestion Notification; masked to 2 bits when built.
    pub ecn: u8,
    /// Identification.
    pub identification: u16,
    /// The reserved flag; must be false except to reproduce a received
    /// header (RFC 791 §3.1).
    pub reserved_flag: bool,
    /// Don't Fragment.
    pub dont_fragment: bool,
    /// More Fragments.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units; masked to 13 bits when built.
    pub fragment_offset: u16,
    /// Options, padded with End of Option List to a multiple of 4 when
    /// built.
    pub options: Ipv4OptionsBuf,
}

impl Ipv4Repr {
    /// A header from `src` to `dst` carrying `protocol`, with TTL 64 (RFC
    /// 1700's default) and every other field zero or empty.
    pub const fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol) -> Ipv4Repr {
        Ipv4Repr {
            src,
            dst,
            protocol,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            identification: 0,
            reserved_flag: false,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
            options: Ipv4OptionsBuf::new(),
        }
    }

    /// The header length in bytes: 20 plus the padded options.
    #[inline]
    pub const fn header_len(&self) -> usize {
        IPV4_MIN_HEADER_LEN + self.options.padded_len()
    }

    /// The largest body the total length can describe: 65535 minus the
    /// header.
    #[inline]
    pub const fn max_body_len(&self) -> usize {
        IPV4_MAX_PACKET_LEN - self.header_len()
    }

    /// A builder for this header that can leave the checksum to the
    /// device.
    #[inline]
    pub fn builder(&self) -> Ipv4Builder<'_> {
        Ipv4Builder {
            repr: self,
            checksum: ChecksumMode::Compute,
        }
    }

    /// Writes the header for a body of `body_len` bytes into `out`, which
    /// must be exactly [`header_len`](Self::header_len) bytes (otherwise
    /// nothing is written). Every byte is written.
    pub fn emit(&self, out: &mut [u8], body_len: usize, mode: ChecksumMode) {
        if out.len() != self.header_len() {
            return;
        }
        let total = u16::try_from(self.header_len().saturating_add(body_len)).unwrap_or(u16::MAX);
        let flags_frag = (u16::from(self.reserved_flag) << 15)
            | (u16::from(self.dont_fragment) << 14)
            | (u16::from(self.more_fragments) << 13)
            | (self.fragment_offset & 0x1fff);
        let word0 = u16::from_be_bytes([
            0x40 | (self.header_len() / 4) as u8,
            (self.dscp << 2) | (self.ecn & 0x03),
        ]);
        let word4 = u16::from_be_bytes([self.ttl, self.protocol.0]);
        // Each field is stored once, straight into place, and the checksum
        // is summed from the values rather than read back from the bytes
        // just written (that would stall on store-to-load forwarding).
        let (fixed, opts) = out.split_at_mut(IPV4_MIN_HEADER_LEN);
        fixed[0..2].copy_from_slice(&word0.to_be_bytes());
        fixed[2..4].copy_from_slice(&total.to_be_bytes());
        fixed[4..6].copy_from_slice(&self.identification.to_be_bytes());
        fixed[6..8].copy_from_slice(&flags_frag.to_be_bytes());
        fixed[8..10].copy_from_slice(&word4.to_be_bytes());
        fixed[12..16].copy_from_slice(&self.src.octets());
        fixed[16..20].copy_from_slice(&self.dst.octets());
        let given = self.options.as_bytes();
        if !opts.is_empty() {
            let (o, pad) = opts.split_at_mut(given.len().min(opts.len()));
            o.copy_from_slice(given.get(..o.len()).unwrap_or(&[]));
            pad.fill(0);
        }
        let c = if mode == ChecksumMode::Compute {
            let mut sum = checksum::Checksum::new();
            sum.add_u16(word0);
            sum.add_u16(total);
            sum.add_u16(self.identification);
            sum.add_u16(flags_frag);
            sum.add_u16(word4);
            sum.add_u32(self.src.to_bits());
            sum.add_u32(self.dst.to_bits());
            if !given.is_empty() {
                sum.add_bytes(given);
            }
            sum.finish()
        } else {
            0
        };
        fixed[10..12].copy_from_slice(&c.to_be_bytes());
    }
}

impl PacketBuilder for Ipv4Repr {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(self.header_len(), 0, 0, self.max_body_len())
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.emit(target.header, target.body.len(), ChecksumMode::Compute);
    }
}

/// An [`Ipv4Repr`] with a choice of checksum handling; see
/// [`Ipv4Repr::builder`].
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Builder<'r> {
    repr: &'r Ipv4Repr,
    checksum: ChecksumMode,
}

impl Ipv4Builder<'_> {
    /// Sets how the header checksum is produced.
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> Self {
        self.checksum = mode;
        self
    }
}

impl PacketBuilder for Ipv4Builder<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        self.repr.constraints()
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.repr
            .emit(target.header, target.body.len(), self.checksum);
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Ipv4Repr {
    /// Any header: fields within their bit widths, well-formed options.
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Ipv4Repr {
            src: Ipv4Addr::from_bits(u.arbitrary()?),
            dst: Ipv4Addr::from_bits(u.arbitrary()?),
            protocol: u.arbitrary()?,
            ttl: u.arbitrary()?,
            dscp: u.int_in_range(0..=63)?,
            ecn: u.int_in_range(0..=3)?,
            identification: u.arbitrary()?,
            reserved_flag: u.arbitrary()?,
            dont_fragment: u.arbitrary()?,
            more_fragments: u.arbitrary()?,
            fragment_offset: u.int_in_range(0..=0x1fff)?,
            options: u.arbitrary()?,
        })
    }
}
