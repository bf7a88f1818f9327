//! The TCP wire format (RFC 9293 §3.1–3.2, RFC 7323, RFC 2018): the
//! header, a borrowed view of a segment with its options, an owned
//! representation and its builder.

use core::net::Ipv4Addr;

use lamina_netbuf::checksum;
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget};
use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::{Error, SeqNumber};

mod flags;
mod options;

pub use flags::TcpFlags;
pub use options::OptionBytes;
use options::OptionSet;
pub use options::{
    MAX_OPTIONS_LEN, SackBlock, SackBlocks, TcpOption, TcpOptionIter, TcpOptions, Timestamps, kind,
};

/// The IPv4 protocol number of TCP (6), as it appears in the
/// pseudo-header.
pub const IP_PROTOCOL: u8 = 6;

/// Length of the fixed TCP header in bytes (data offset 5).
pub const HEADER_LEN: usize = 20;

/// Length of the longest TCP header in bytes (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

/// The fixed 20-byte TCP header (RFC 9293 §3.1), as it lies on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Sequence number.
    pub seq_number: U32,
    /// Acknowledgment number.
    pub ack_number: U32,
    /// Data offset (high 4 bits, in 32-bit words) and the 12 control bits.
    pub offset_flags: U16,
    /// Receive window, unscaled.
    pub window_len: U16,
    /// Checksum over pseudo-header, header and data.
    pub checksum: U16,
    /// Urgent pointer.
    pub urgent_pointer: U16,
}

impl TcpHeader {
    /// The data offset in 32-bit words.
    #[inline]
    pub fn data_offset(&self) -> u8 {
        (self.offset_flags.get() >> 12) as u8
    }

    /// The header length the data offset declares, in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The control bits.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_truncate(self.offset_flags.get())
    }
}

/// How a builder fills the checksum field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Compute the checksum over pseudo-header, header and body.
    #[default]
    Compute,
    /// Leave it to transmit offload: write the folded (uncomplemented)
    /// sum of the pseudo-header, which a device completes by summing from
    /// the TCP header onwards (the convention of Linux `CHECKSUM_PARTIAL`
    /// and virtio-net `NEEDS_CSUM`).
    Offload,
}

/// A borrowed, structurally valid view of a TCP segment.
///
/// [`parse`](Self::parse) checks the data offset and the syntax of every
/// option, so the option accessors never fail. The checksum needs the IP
/// addresses: [`checksum_ok`](Self::checksum_ok) or
/// [`parse_verified`](Self::parse_verified).
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    header: &'a TcpHeader,
    options: &'a [u8],
    payload: &'a [u8],
    /// The header and options, and the payload too where it follows them
    /// in the same buffer: summed in one pass for the checksum.
    head: &'a [u8],
    truncated: bool,
}

/// Two views are equal when they show the same segment: header, options,
/// payload and truncation (whether the payload lies behind the header in
/// one buffer or apart, as [`TcpSegment::parse_split`] takes it, does not
/// matter).
impl PartialEq for TcpSegment<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
            && self.options == other.options
            && self.payload == other.payload
            && self.truncated == other.truncated
    }
}

impl Eq for TcpSegment<'_> {}

impl<'a> TcpSegment<'a> {
    /// Parses a segment: the fixed header must be present, the data offset
    /// at least 5 words and within `bytes`, and every option well formed
    /// (length byte at least 2 and within the header; the fixed lengths of
    /// MSS, window scale, SACK-permitted, SACK and timestamps). Unknown
    /// options are skipped by their length. The checksum is not checked.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<TcpSegment<'a>, Error> {
        let s = Self::parse_truncated(bytes)?;
        if s.truncated {
            return Err(Error::Truncated {
                needed: s.header_len(),
                got: bytes.len(),
            });
        }
        Ok(s)
    }

    /// Parses a segment whose header (options included) and payload lie
    /// apart: `header` must be exactly the header its data offset
    /// declares, checked as [`parse`](Self::parse) does; `payload` is the
    /// rest (a payload a device received by reference).
    #[inline]
    pub fn parse_split(header: &'a [u8], payload: &'a [u8]) -> Result<TcpSegment<'a>, Error> {
        let s = Self::parse(header)?;
        if !s.payload.is_empty() {
            return Err(Error::BadHeaderLength {
                header_len: s.header_len(),
            });
        }
        Ok(TcpSegment {
            payload,
            head: header,
            ..s
        })
    }

    /// Parses a segment that a capture may have cut short inside its
    /// options: like [`parse`](Self::parse), but the header may end early
    /// as long as the fixed 20 bytes are present. The options present are
    /// checked (one cut by the end of the buffer is left out), the payload
    /// is empty, and [`is_truncated`](Self::is_truncated) tells.
    #[inline]
    pub fn parse_truncated(bytes: &'a [u8]) -> Result<TcpSegment<'a>, Error> {
        let (header, rest) = TcpHeader::ref_from_prefix(bytes).map_err(|_| Error::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        })?;
        let header_len = header.header_len();
        let Some(options_len) = header_len.checked_sub(HEADER_LEN) else {
            return Err(Error::BadHeaderLength { header_len });
        };
        let (options, payload, truncated) = match rest.split_at_checked(options_len) {
            Some((o, p)) => (o, p, false),
            None => (rest, &[][..], true),
        };
        options::validate(options, truncated)?;
        Ok(TcpSegment {
            header,
            options,
            payload,
            head: bytes,
            truncated,
        })
    }

    /// Parses a segment and verifies its checksum against the
    /// pseudo-header of `src` and `dst` (RFC 9293 §3.1).
    #[inline]
    pub fn parse_verified(
        bytes: &'a [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<TcpSegment<'a>, Error> {
        let s = Self::parse(bytes)?;
        if s.checksum_ok(src, dst) {
            Ok(s)
        } else {
            Err(Error::BadChecksum)
        }
    }

    /// The fixed header.
    #[inline]
    pub fn header(&self) -> &'a TcpHeader {
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.header.seq_number.get())
    }

    /// Acknowledgment number, as sent (meaningful when [`ack`](Self::ack)
    /// is set).
    #[inline]
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.header.ack_number.get())
    }

    /// Data offset in 32-bit words (5 to 15).
    #[inline]
    pub fn data_offset(&self) -> u8 {
        self.header.data_offset()
    }

    /// Header length in bytes, options included (20 to 60).
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header.header_len()
    }

    /// The 12 control bits.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        self.header.flags()
    }

    /// FIN.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// SYN.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// RST.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// PSH.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// ACK.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// URG.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// ECE (ECN-Echo, RFC 3168).
    #[inline]
    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    /// CWR (congestion window reduced, RFC 3168).
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// NS (ECN nonce, RFC 3540; AE in Accurate ECN).
    #[inline]
    pub fn ns(&self) -> bool {
        self.flags().contains(TcpFlags::NS)
    }

    /// The window field, unscaled.
    #[inline]
    pub fn window_len(&self) -> u16 {
        self.header.window_len.get()
    }

    /// The checksum field as sent.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }

    /// The urgent pointer field.
    #[inline]
    pub fn urgent_pointer(&self) -> u16 {
        self.header.urgent_pointer.get()
    }

    /// The raw options area (header bytes after the first 20; what is
    /// present of it when [`is_truncated`](Self::is_truncated)).
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        self.options
    }

    /// The decoded options, in order, up to end-of-list.
    #[inline]
    pub fn options_iter(&self) -> TcpOptions<'a> {
        TcpOptions(TcpOptionIter::new_cut_ok(self.options, self.truncated))
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether the buffer ended inside the header (only possible through
    /// [`parse_truncated`](Self::parse_truncated)).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The sequence space the segment occupies: payload bytes plus one
    /// for SYN and one for FIN (RFC 9293 §3.4, SEG.LEN).
    #[inline]
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// The first MSS option's value (RFC 9293 §3.7.1).
    #[inline]
    pub fn mss(&self) -> Option<u16> {
        if self.no_option_but_timestamps() {
            return None;
        }
        self.options_iter().find_map(|o| match o {
            TcpOption::MaxSegmentSize(m) => Some(m),
            _ => None,
        })
    }

    /// The first window-scale option's shift count, as sent (RFC 7323 §2;
    /// a receiver clamps it to 14).
    #[inline]
    pub fn window_scale(&self) -> Option<u8> {
        if self.no_option_but_timestamps() {
            return None;
        }
        self.options_iter().find_map(|o| match o {
            TcpOption::WindowScale(s) => Some(s),
            _ => None,
        })
    }

    /// Whether a SACK-permitted option is present (RFC 2018 §2).
    #[inline]
    pub fn sack_permitted(&self) -> bool {
        if self.no_option_but_timestamps() {
            return false;
        }
        self.options_iter()
            .any(|o| matches!(o, TcpOption::SackPermitted))
    }

    /// The first SACK option's blocks (RFC 2018 §3).
    #[inline]
    pub fn sack_blocks(&self) -> Option<SackBlocks> {
        if self.no_option_but_timestamps() {
            return None;
        }
        self.options_iter().find_map(|o| match o {
            TcpOption::Sack(b) => Some(b),
            _ => None,
        })
    }

    /// The options a SYN negotiates, found in one walk over the options
    /// (the accessors [`mss`](Self::mss), [`window_scale`](Self::window_scale),
    /// [`sack_permitted`](Self::sack_permitted) and
    /// [`timestamps`](Self::timestamps) each walk them): the first of
    /// each kind counts, as with the accessors.
    #[inline]
    pub fn syn_options(&self) -> SynOptions {
        if let Some(o) = options::full_syn_layout(self.options) {
            return o;
        }
        let mut o = SynOptions::default();
        if self.no_option_but_timestamps() {
            o.timestamps = self.timestamps();
            return o;
        }
        for opt in self.options_iter() {
            match opt {
                TcpOption::MaxSegmentSize(m) if o.mss.is_none() => o.mss = Some(m),
                TcpOption::WindowScale(s) if o.window_scale.is_none() => o.window_scale = Some(s),
                TcpOption::SackPermitted => o.sack_permitted = true,
                TcpOption::Timestamps(t) if o.timestamps.is_none() => o.timestamps = Some(t),
                _ => {}
            }
        }
        o
    }

    /// The first timestamps option (RFC 7323 §3).
    #[inline]
    pub fn timestamps(&self) -> Option<Timestamps> {
        // The layout of nearly every segment of a connection with
        // timestamps (RFC 7323 Appendix A): NOP, NOP, TS.
        if let Some(([1, 1, 8, 10], rest)) = self.options.split_first_chunk::<4>()
            && let Some((v, rest)) = rest.split_first_chunk::<4>()
            && let Some((e, _)) = rest.split_first_chunk::<4>()
        {
            return Some(Timestamps {
                tsval: u32::from_be_bytes(*v),
                tsecr: u32::from_be_bytes(*e),
            });
        }
        if self.options.is_empty() {
            return None;
        }
        if let Some(o) = options::full_syn_layout(self.options) {
            return o.timestamps;
        }
        self.options_iter().find_map(|o| match o {
            TcpOption::Timestamps(t) => Some(t),
            _ => None,
        })
    }

    /// Whether the options are none at all, or only the aligned
    /// timestamps of RFC 7323 Appendix A (NOP, NOP, TS): the two layouts
    /// of nearly every segment, answered without walking the options.
    #[inline]
    fn no_option_but_timestamps(&self) -> bool {
        self.options.is_empty()
            || (self.options.len() == 12 && self.options.get(..4) == Some(&[1, 1, 8, 10][..]))
    }

    /// Whether the checksum verifies against the pseudo-header of `src`
    /// and `dst` (RFC 9293 §3.1). Always false for a truncated segment, or
    /// one too long for the pseudo-header's 16-bit length.
    #[inline]
    pub fn checksum_ok(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.truncated {
            return false;
        }
        let len = HEADER_LEN + self.options.len() + self.payload.len();
        let Ok(len) = u16::try_from(len) else {
            return false;
        };
        let mut sum = checksum::ipv4_pseudo_header(src, dst, IP_PROTOCOL, len);
        if self.head.len() == usize::from(len) {
            // Header, options and payload in one buffer: one pass.
            sum.add_bytes(self.head);
        } else {
            // A payload held apart (`parse_split`).
            sum.add_bytes(self.head);
            sum.add_bytes(self.payload);
        }
        sum.finish() == 0
    }

    /// The owned representation: every header field, and the first of each
    /// option [`TcpRepr`] knows (other options are not kept).
    pub fn to_repr(&self) -> TcpRepr {
        let mut repr = TcpRepr {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            seq_number: self.seq_number(),
            ack_number: self.ack_number(),
            flags: self.flags(),
            window_len: self.window_len(),
            urgent_pointer: self.urgent_pointer(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_blocks: SackBlocks::new(),
            timestamps: None,
        };
        let mut seen_sack = false;
        for opt in self.options_iter() {
            match opt {
                TcpOption::MaxSegmentSize(m) => {
                    repr.max_seg_size.get_or_insert(m);
                }
                TcpOption::WindowScale(s) => {
                    repr.window_scale.get_or_insert(s);
                }
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::Sack(b) if !seen_sack => {
                    seen_sack = true;
                    repr.sack_blocks = b;
                }
                TcpOption::Timestamps(t) => {
                    repr.timestamps.get_or_insert(t);
                }
                _ => {}
            }
        }
        repr
    }
}

/// The options a SYN or SYN-ACK negotiates, from
/// [`TcpSegment::syn_options`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynOptions {
    /// The first MSS option's value (RFC 9293 §3.7.1).
    pub mss: Option<u16>,
    /// The first window-scale option's shift count, as sent (RFC 7323 §2).
    pub window_scale: Option<u8>,
    /// Whether a SACK-permitted option is present (RFC 2018 §2).
    pub sack_permitted: bool,
    /// The first timestamps option (RFC 7323 §3).
    pub timestamps: Option<Timestamps>,
}

/// Every field of a TCP header a user sets, with the options Lamina
/// speaks; the data offset and checksum follow from them.
///
/// `ack_number` is written as given; the ACK bit in `flags` says whether
/// it is significant (see [`ack`](Self::ack)). Options that do not fit in
/// 40 bytes make [`builder`](Self::builder) fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number.
    pub ack_number: SeqNumber,
    /// Control bits (all 12, reserved included).
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window_len: u16,
    /// Urgent pointer field.
    pub urgent_pointer: u16,
    /// MSS option (RFC 9293 §3.7.1).
    pub max_seg_size: Option<u16>,
    /// Window scale option's shift count (RFC 7323 §2).
    pub window_scale: Option<u8>,
    /// SACK-permitted option (RFC 2018 §2).
    pub sack_permitted: bool,
    /// SACK option's blocks; none sends no SACK option (RFC 2018 §3).
    pub sack_blocks: SackBlocks,
    /// Timestamps option (RFC 7323 §3).
    pub timestamps: Option<Timestamps>,
}

impl TcpRepr {
    /// The acknowledgment number if the ACK bit is set.
    #[inline]
    pub fn ack(&self) -> Option<SeqNumber> {
        self.flags
            .contains(TcpFlags::ACK)
            .then_some(self.ack_number)
    }

    fn option_set(&self) -> OptionSet<'_> {
        OptionSet {
            mss: self.max_seg_size,
            window_scale: self.window_scale,
            sack_permitted: self.sack_permitted,
            sack_blocks: &self.sack_blocks,
            timestamps: self.timestamps,
        }
    }

    /// The header length the builder will write (20 plus the options,
    /// padded to 4 bytes), or [`Error::OptionsTooLong`].
    pub fn header_len(&self) -> Result<usize, Error> {
        Ok(HEADER_LEN + self.option_set().len()?)
    }

    /// The sequence space a segment with `payload_len` bytes of data and
    /// these flags occupies (payload, plus SYN and FIN).
    #[inline]
    pub fn segment_len(&self, payload_len: usize) -> usize {
        payload_len
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// A builder for this header between `src` and `dst` (the addresses
    /// enter the pseudo-header checksum), computing the checksum. Fails
    /// only if the options do not fit in 40 bytes.
    ///
    /// Options are laid out as Linux does, each on a 4-byte boundary with
    /// NOP padding (`MSS`, `SACKOK TS` or `NOP NOP TS`, `NOP WS`,
    /// `NOP NOP SACK`); if that exceeds 40 bytes they are packed without
    /// NOPs and padded at the end.
    #[inline]
    pub fn builder(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Result<TcpBuilder<'_>, Error> {
        let options_len = self.option_set().len()? as u8;
        Ok(TcpBuilder {
            repr: self,
            src,
            dst,
            checksum: ChecksumMode::Compute,
            options_len,
        })
    }
}

/// Writes a TCP header, options and checksum in front of a body: a
/// [`PacketBuilder`] made by [`TcpRepr::builder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpBuilder<'r> {
    repr: &'r TcpRepr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    checksum: ChecksumMode,
    /// Length of the options area (a multiple of 4, at most 40).
    options_len: u8,
}

impl TcpBuilder<'_> {
    /// Chooses how the checksum field is filled (default
    /// [`ChecksumMode::Compute`]).
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> Self {
        self.checksum = mode;
        self
    }

    /// The header fields this builder writes.
    #[inline]
    pub fn repr(&self) -> &TcpRepr {
        self.repr
    }

    /// The header length it writes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + usize::from(self.options_len)
    }

    /// The options area it writes, laid out (for inspection; serializing
    /// writes the options straight into the header).
    pub fn options(&self) -> OptionBytes {
        OptionBytes::of(&self.repr.option_set()).unwrap_or(OptionBytes {
            bytes: [0; options::MAX_OPTIONS_LEN],
            len: 0,
        })
    }
}

impl PacketBuilder for TcpBuilder<'_> {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        let header_len = self.header_len();
        PacketConstraints::new(header_len, 0, 0, usize::from(u16::MAX) - header_len)
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.write_header(target.header, (target.body, &[]));
    }
}

impl TcpBuilder<'_> {
    /// Writes the header (options and checksum included) into
    /// `header[..header_len()]` for a body held apart, in two pieces
    /// (`body.0` then `body.1`): what [`PacketBuilder::serialize`] does
    /// when the body follows the header in the same buffer, for a frame
    /// whose payload a device sends from elsewhere (by reference).
    #[inline(always)]
    pub fn write_header(&self, header: &mut [u8], body: (&[u8], &[u8])) {
        let body_sum = match self.checksum {
            ChecksumMode::Compute => {
                let mut sum = checksum::Checksum::new();
                sum.add_bytes(body.0);
                if !body.1.is_empty() {
                    sum.add_bytes(body.1);
                }
                sum.sum()
            }
            ChecksumMode::Offload => 0,
        };
        self.write_header_with_sum(header, body.0.len() + body.1.len(), body_sum);
    }

    /// As [`write_header`](Self::write_header) for a body of `body_len`
    /// bytes whose one's-complement sum ([`checksum::Checksum::sum`] of
    /// its bytes) is `body_sum`: summed by whoever copied the body into
    /// place ([`checksum::Checksum::add_copy`]), so that the payload is
    /// read once. (`body_sum` is not used with
    /// [`ChecksumMode::Offload`].)
    #[inline(always)]
    pub fn write_header_with_sum(&self, header: &mut [u8], body_len: usize, body_sum: u16) {
        // Every field is written once, straight into place, and the
        // checksum is summed from the values rather than read back from
        // the bytes just written (reading them back stalls on
        // store-to-load forwarding).
        let r = &self.repr;
        let header_len = self.header_len();
        let offset_flags = ((header_len / 4) as u16) << 12 | r.flags.bits();
        let h = header;
        if h.len() < HEADER_LEN {
            return;
        }
        let (fixed, opts) = h.split_at_mut(HEADER_LEN);
        put16(fixed, 0, r.src_port);
        put16(fixed, 2, r.dst_port);
        put32(fixed, 4, r.seq_number.0);
        put32(fixed, 8, r.ack_number.0);
        put16(fixed, 12, offset_flags);
        put16(fixed, 14, r.window_len);
        put16(fixed, 18, r.urgent_pointer);
        let options_sum = self.repr.option_set().write(opts);
        // The constraints cap header plus body at 65535.
        let total = u16::try_from(header_len + body_len).unwrap_or(u16::MAX);
        let pseudo = checksum::ipv4_pseudo_header(self.src, self.dst, IP_PROTOCOL, total);
        let field = match self.checksum {
            ChecksumMode::Compute => {
                let mut sum = pseudo;
                sum.add_u16(r.src_port);
                sum.add_u16(r.dst_port);
                sum.add_u32(r.seq_number.0);
                sum.add_u32(r.ack_number.0);
                sum.add_u16(offset_flags);
                sum.add_u16(r.window_len);
                sum.add_u16(r.urgent_pointer);
                sum.add_u32(options_sum);
                // The header is a whole number of 32-bit words: the body's
                // sum follows at an even offset.
                sum.add_u16(body_sum);
                sum.finish()
            }
            ChecksumMode::Offload => pseudo.sum(),
        };
        put16(fixed, 16, field);
    }
}

/// Writes `v` big-endian at `at` (no-op past the end: callers size the
/// slice).
#[inline(always)]
fn put16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(d) = buf.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes `v` big-endian at `at`.
#[inline(always)]
fn put32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(d) = buf.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
