//! Ethernet II and IEEE 802.3 frames: the zero-copy view and the builder.

use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget};
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Ref, Unaligned};

use crate::fcs::{Crc32, crc32};
use crate::{Error, EtherType, MAX_VLAN_TAGS, MacAddr, VlanTag, VlanTags};

/// Bytes of an untagged header: two addresses and the type field.
pub const HEADER_LEN: usize = 14;
/// Bytes each VLAN tag adds to the header.
pub const VLAN_TAG_LEN: usize = 4;
/// Bytes of the frame check sequence.
pub const FCS_LEN: usize = 4;
/// The smallest frame on the wire without its FCS (IEEE 802.3 §4.4.2:
/// 64 bytes with the FCS). The builder pads shorter frames with zeros.
pub const MIN_FRAME_LEN: usize = 60;

/// The fixed part of the header of every Ethernet frame.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EthernetHeader {
    /// Destination address.
    pub dst: MacAddr,
    /// Source address.
    pub src: MacAddr,
    /// The type field right after the source: an EtherType, a VLAN TPID,
    /// or an 802.3 length.
    pub ethertype: U16,
}

/// A borrowed, validated Ethernet frame: Ethernet II or IEEE 802.3, with
/// zero to [`MAX_VLAN_TAGS`] stacked 802.1Q/802.1ad tags, with or without
/// an FCS.
///
/// Parsing checks structure only: the header and every tag are present,
/// no more than [`MAX_VLAN_TAGS`] tags, and an 802.3 length fits. Nothing
/// is copied; the accessors read the caller's bytes.
///
/// ```
/// use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
///
/// let bytes = [
///     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination
///     0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
///     0x81, 0x00, 0x20, 0x0b,             // 802.1Q tag: PCP 1, VID 11
///     0x08, 0x06,                         // ARP
///     0xde, 0xad,                         // payload
/// ];
/// let frame = EthernetFrame::parse(&bytes)?;
/// assert_eq!(frame.dst(), MacAddr::BROADCAST);
/// assert_eq!(frame.ethertype(), EtherType::VLAN);
/// assert_eq!(frame.inner_ethertype(), EtherType::ARP);
/// assert_eq!(frame.vlan_id(), Some(11));
/// assert_eq!(frame.vlan_tags().next().map(|t| t.pcp), Some(1));
/// assert_eq!(frame.payload(), &[0xde, 0xad]);
/// # Ok::<(), lamina_ethernet::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<'a> {
    header: Ref<&'a [u8], EthernetHeader>,
    /// The bytes after the fixed header holding the tags: for each tag,
    /// its TCI then the next type field (`4 * tag count` bytes).
    tags: &'a [u8],
    payload: &'a [u8],
    /// Bytes after an 802.3 payload (padding), FCS excluded.
    trailer: &'a [u8],
    /// The frame without its FCS: what the FCS covers.
    covered: &'a [u8],
    fcs: Option<u32>,
    truncated: bool,
}

/// How lenient a parse is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Truncated,
}

impl<'a> EthernetFrame<'a> {
    /// Parses a frame without an FCS (what most NICs and captures hand
    /// over). For an Ethernet II frame the payload is everything after the
    /// header, padding included (the layer above knows its own length);
    /// for an 802.3 frame it is cut at the length field.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<EthernetFrame<'a>, Error> {
        Self::parse_inner(bytes, 0, Mode::Strict)
    }

    /// As [`parse`](Self::parse), but an 802.3 length field longer than the
    /// bytes present (a capture cut short by its snap length) cuts the
    /// payload at the end of the buffer instead of failing;
    /// [`is_truncated`](Self::is_truncated) then tells.
    #[inline]
    pub fn parse_truncated(bytes: &'a [u8]) -> Result<EthernetFrame<'a>, Error> {
        Self::parse_inner(bytes, 0, Mode::Truncated)
    }

    /// Parses a frame whose last four bytes are its FCS. The FCS is
    /// stripped and not checked here (call [`fcs_ok`](Self::fcs_ok), or use
    /// [`parse_with_fcs_verified`](Self::parse_with_fcs_verified)).
    #[inline]
    pub fn parse_with_fcs(bytes: &'a [u8]) -> Result<EthernetFrame<'a>, Error> {
        Self::parse_inner(bytes, FCS_LEN, Mode::Strict)
    }

    /// As [`parse_with_fcs`](Self::parse_with_fcs), and rejects a frame
    /// whose FCS does not match its CRC-32 with [`Error::BadFcs`].
    #[inline]
    pub fn parse_with_fcs_verified(bytes: &'a [u8]) -> Result<EthernetFrame<'a>, Error> {
        let frame = Self::parse_with_fcs(bytes)?;
        match frame.fcs {
            Some(received) => {
                let computed = crc32(frame.covered);
                if computed == received {
                    Ok(frame)
                } else {
                    Err(Error::BadFcs { received, computed })
                }
            }
            None => Ok(frame),
        }
    }

    fn parse_inner(bytes: &'a [u8], fcs_len: usize, mode: Mode) -> Result<Self, Error> {
        let got = bytes.len();
        let truncated = |header_len: usize| Error::Truncated {
            needed: header_len + fcs_len,
            got,
        };
        let (covered, fcs_bytes) = bytes
            .split_at_checked(got.wrapping_sub(fcs_len))
            .filter(|(c, _)| c.len() >= HEADER_LEN)
            .ok_or(truncated(HEADER_LEN))?;
        let fcs = fcs_bytes.first_chunk::<4>().map(|b| u32::from_le_bytes(*b));
        let (header, rest) =
            Ref::<_, EthernetHeader>::from_prefix(covered).map_err(|_| truncated(HEADER_LEN))?;

        let mut ty = header.ethertype.get();
        let mut cursor = rest;
        let mut count = 0usize;
        while EtherType(ty).is_vlan_tpid() {
            if count == MAX_VLAN_TAGS {
                return Err(Error::TooManyVlanTags { max: MAX_VLAN_TAGS });
            }
            let (tag, after) = cursor
                .split_first_chunk::<4>()
                .ok_or(truncated(HEADER_LEN + (count + 1) * VLAN_TAG_LEN))?;
            ty = u16::from_be_bytes([tag[2], tag[3]]);
            cursor = after;
            count += 1;
        }
        let tags = rest.get(..count * VLAN_TAG_LEN).unwrap_or(&[]);

        let (payload, trailer, truncated) = if EtherType(ty).is_length() {
            let length = usize::from(ty);
            match cursor.split_at_checked(length) {
                Some((p, t)) => (p, t, false),
                None if mode == Mode::Truncated => (cursor, &[][..], true),
                None => {
                    return Err(Error::BadLength {
                        length: ty,
                        available: cursor.len(),
                    });
                }
            }
        } else {
            (cursor, &[][..], false)
        };
        Ok(EthernetFrame {
            header,
            tags,
            payload,
            trailer,
            covered,
            fcs,
            truncated,
        })
    }

    /// The fixed header (addresses and the first type field).
    #[inline]
    pub fn header(&self) -> &'a EthernetHeader {
        Ref::into_ref(self.header)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        self.header.dst
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> MacAddr {
        self.header.src
    }

    /// The type field right after the source address, as on the wire: the
    /// outermost TPID for a tagged frame (0x8100, 0x88a8), else the
    /// EtherType or 802.3 length. tshark's `eth.type`.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType(self.header.ethertype.get())
    }

    /// The type field after the last VLAN tag: the protocol of the payload
    /// (or the 802.3 length). The same as [`ethertype`](Self::ethertype)
    /// for an untagged frame.
    #[inline]
    pub fn inner_ethertype(&self) -> EtherType {
        match self.tags.last_chunk::<2>() {
            Some(t) => EtherType(u16::from_be_bytes(*t)),
            None => self.ethertype(),
        }
    }

    /// The 802.3 length field, for an IEEE 802.3 (LLC) frame: `Some` when
    /// [`inner_ethertype`](Self::inner_ethertype) is a length.
    #[inline]
    pub fn length(&self) -> Option<u16> {
        let t = self.inner_ethertype();
        t.is_length().then_some(t.0)
    }

    /// Whether this is an IEEE 802.3 frame with a length field rather than
    /// an Ethernet II frame with a type.
    #[inline]
    pub fn is_ieee802_3(&self) -> bool {
        self.inner_ethertype().is_length()
    }

    /// The number of VLAN tags, 0..=[`MAX_VLAN_TAGS`].
    #[inline]
    pub fn vlan_count(&self) -> usize {
        self.tags.len() / VLAN_TAG_LEN
    }

    /// The VLAN tags, outermost first.
    #[inline]
    pub fn vlan_tags(&self) -> VlanTagIter<'a> {
        VlanTagIter {
            tpid: self.header.ethertype.get(),
            rest: self.tags,
        }
    }

    /// The `index`th tag (0 is the outermost), if present.
    #[inline]
    pub fn vlan_tag(&self, index: usize) -> Option<VlanTag> {
        self.vlan_tags().nth(index)
    }

    /// The outermost tag's VLAN identifier, for a tagged frame.
    #[inline]
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan_tag(0).map(|t| t.vid)
    }

    /// Header length: 14 bytes plus 4 per VLAN tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.tags.len()
    }

    /// The payload: everything after the header for Ethernet II (padding
    /// included, FCS excluded), or the bytes the length field counts for
    /// 802.3.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Bytes after an 802.3 frame's payload and before the FCS (padding);
    /// empty for Ethernet II frames, whose padding is in the payload.
    #[inline]
    pub fn trailer(&self) -> &'a [u8] {
        self.trailer
    }

    /// The frame's bytes without the FCS: header, payload and trailer.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.covered
    }

    /// Whether the payload was cut short of its 802.3 length (only after
    /// [`parse_truncated`](Self::parse_truncated)).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The FCS the frame carries, if it was parsed with one.
    #[inline]
    pub fn fcs(&self) -> Option<u32> {
        self.fcs
    }

    /// Whether the FCS matches the CRC-32 of the frame (computed now, over
    /// the whole frame). A frame parsed without an FCS has nothing to
    /// check and is reported as good.
    #[inline]
    pub fn fcs_ok(&self) -> bool {
        self.fcs
            .is_none_or(|received| crc32(self.covered) == received)
    }

    /// The owned description of the header.
    #[inline]
    pub fn to_repr(&self) -> EthernetRepr {
        let mut vlan = VlanTags::new();
        for tag in self.vlan_tags() {
            // Parsing accepted at most MAX_VLAN_TAGS tags, so this fits.
            let _ = vlan.push(tag);
        }
        EthernetRepr {
            src: self.src(),
            dst: self.dst(),
            ethertype: self.inner_ethertype(),
            vlan,
        }
    }
}

/// The VLAN tags of an [`EthernetFrame`], outermost first.
#[derive(Debug, Clone)]
pub struct VlanTagIter<'a> {
    tpid: u16,
    rest: &'a [u8],
}

impl Iterator for VlanTagIter<'_> {
    type Item = VlanTag;

    #[inline]
    fn next(&mut self) -> Option<VlanTag> {
        let (tag, rest) = self.rest.split_first_chunk::<4>()?;
        let out = VlanTag::from_tci(EtherType(self.tpid), u16::from_be_bytes([tag[0], tag[1]]));
        self.tpid = u16::from_be_bytes([tag[2], tag[3]]);
        self.rest = rest;
        Some(out)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / VLAN_TAG_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for VlanTagIter<'_> {}

/// The owned description of an Ethernet header: addresses, the payload's
/// type and any VLAN tags.
///
/// As a [`PacketBuilder`] it writes the header (padding the body so the
/// frame is at least [`MIN_FRAME_LEN`] bytes, no FCS); use
/// [`builder`](Self::builder) for the other choices.
///
/// - `ethertype` is the type *after* the tags; the builder writes each
///   tag's TPID in front of it. It must not itself be a VLAN TPID (the
///   frame would read back with one more tag).
/// - For an IEEE 802.3 frame, `ethertype` holds the LLC payload's length
///   and is written as given: the builder cannot tell payload from padding.
///
/// ```
/// use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr, VlanTag, VlanTags};
/// use lamina_netbuf::Serializer;
///
/// let repr = EthernetRepr {
///     src: MacAddr::new(0x02, 0, 0, 0, 0, 1),
///     dst: MacAddr::BROADCAST,
///     ethertype: EtherType::IPV4,
///     vlan: VlanTags::single(VlanTag::new(42)),
/// };
/// let frame = b"payload".wrap_in(repr.builder().with_fcs(true)).serialize_vec(0)?;
/// assert_eq!(frame.len(), 60 + 4); // padded, then the FCS
///
/// let parsed = EthernetFrame::parse_with_fcs_verified(frame.as_slice()).unwrap();
/// assert_eq!(parsed.to_repr(), repr);
/// assert_eq!(&parsed.payload()[..7], b"payload");
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// The payload's EtherType (or 802.3 length), after any tags.
    pub ethertype: EtherType,
    /// VLAN tags, outermost first.
    pub vlan: VlanTags,
}

impl EthernetRepr {
    /// An untagged header.
    #[inline]
    pub const fn new(src: MacAddr, dst: MacAddr, ethertype: EtherType) -> EthernetRepr {
        EthernetRepr {
            src,
            dst,
            ethertype,
            vlan: VlanTags::new(),
        }
    }

    /// Header length: 14 bytes plus 4 per tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.vlan.len() * VLAN_TAG_LEN
    }

    /// The type field right after the source address: the outermost tag's
    /// TPID, or `ethertype` for an untagged frame.
    #[inline]
    pub fn outer_ethertype(&self) -> EtherType {
        self.vlan.first().map_or(self.ethertype, |t| t.tpid)
    }

    /// A builder for this header with the defaults: padding on, no FCS.
    #[inline]
    pub const fn builder(&self) -> EthernetBuilder {
        EthernetBuilder::new(*self)
    }

    /// Writes the header into `out`, which must be exactly
    /// [`header_len`](Self::header_len) bytes (extra bytes are left alone,
    /// missing ones are not written).
    fn write_header(&self, out: &mut [u8]) {
        // Fields go straight into place (no staging buffer to copy from).
        if let Some(d) = out.get_mut(0..6) {
            d.copy_from_slice(&self.dst.0);
        }
        if let Some(d) = out.get_mut(6..12) {
            d.copy_from_slice(&self.src.0);
        }
        let mut at = 12;
        for tag in self.vlan.iter() {
            if let Some(d) = out.get_mut(at..at + VLAN_TAG_LEN) {
                d.copy_from_slice(&tag.to_bytes());
            }
            at += VLAN_TAG_LEN;
        }
        if let Some(d) = out.get_mut(at..at + 2) {
            d.copy_from_slice(&self.ethertype.0.to_be_bytes());
        }
    }
}

/// Generates headers that read back equal: an `ethertype` that is not a
/// VLAN TPID (an 802.3 length is possible).
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for EthernetRepr {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<EthernetRepr> {
        let mut ethertype: EtherType = u.arbitrary()?;
        if ethertype.is_vlan_tpid() {
            ethertype = EtherType::IPV4;
        }
        Ok(EthernetRepr {
            src: u.arbitrary()?,
            dst: u.arbitrary()?,
            ethertype,
            vlan: u.arbitrary()?,
        })
    }
}

impl PacketBuilder for EthernetRepr {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        self.builder().constraints()
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.builder().serialize(target)
    }
}

/// Builds an Ethernet frame from an [`EthernetRepr`], with the choice of
/// minimum-size padding and an FCS footer.
///
/// - Padding (on by default): the body is padded with zeros so that header
///   plus body is at least [`MIN_FRAME_LEN`] (60) bytes, tags included.
/// - FCS (off by default, as most NICs append it): four bytes after the
///   body, the CRC-32 of header, body and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetBuilder {
    /// The header to write.
    pub repr: EthernetRepr,
    /// Whether to pad to the minimum frame size.
    pub pad: bool,
    /// Whether to append the FCS.
    pub fcs: bool,
}

impl EthernetBuilder {
    /// A builder with padding on and no FCS.
    #[inline]
    pub const fn new(repr: EthernetRepr) -> EthernetBuilder {
        EthernetBuilder {
            repr,
            pad: true,
            fcs: false,
        }
    }

    /// Turns the FCS footer on or off.
    #[inline]
    pub const fn with_fcs(mut self, fcs: bool) -> EthernetBuilder {
        self.fcs = fcs;
        self
    }

    /// Turns minimum-size padding on or off (off for links that need none,
    /// such as TAP devices, loopback, or a NIC that pads itself).
    #[inline]
    pub const fn with_padding(mut self, pad: bool) -> EthernetBuilder {
        self.pad = pad;
        self
    }
}

impl PacketBuilder for EthernetBuilder {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        let header_len = self.repr.header_len();
        let min_body = if self.pad {
            MIN_FRAME_LEN.saturating_sub(header_len)
        } else {
            0
        };
        let footer = if self.fcs { FCS_LEN } else { 0 };
        PacketConstraints::new(header_len, footer, min_body, usize::MAX)
    }

    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        self.repr.write_header(target.header);
        if self.fcs {
            let mut crc = Crc32::new();
            crc.update(target.header);
            crc.update(target.body);
            for (o, b) in target.footer.iter_mut().zip(crc.finish().to_le_bytes()) {
                *o = b;
            }
        } else {
            target.footer.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fcs::RESIDUE;
    use alloc::vec::Vec;
    use lamina_netbuf::Serializer;
    use lamina_netbuf::serialize::EmptyBody;

    const DST: [u8; 6] = [0xff; 6];
    const SRC: [u8; 6] = [0x6c, 0xf0, 0x49, 0xb2, 0xde, 0x6e];

    fn frame(types: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&DST);
        f.extend_from_slice(&SRC);
        for (i, t) in types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                // The TCI of the tag this TPID introduced: PCP i, VID 100+i.
                f.extend_from_slice(&(((i as u16) << 13) | (100 + i as u16)).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// RFC 894: destination, source, 16-bit type, then the datagram.
    #[test]
    fn parses_an_untagged_ethernet_ii_frame_per_rfc_894() {
        let bytes = frame(&[0x0800], &[0x45, 0, 0, 20]);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(f.dst(), MacAddr::BROADCAST);
        assert_eq!(f.src(), MacAddr(SRC));
        assert_eq!(f.ethertype(), EtherType::IPV4);
        assert_eq!(f.inner_ethertype(), EtherType::IPV4);
        assert_eq!(f.vlan_count(), 0);
        assert_eq!(f.vlan_id(), None);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[0x45, 0, 0, 20]);
        assert_eq!(f.length(), None);
        assert!(!f.is_ieee802_3() && !f.is_truncated());
        assert_eq!(f.fcs(), None);
        assert!(f.fcs_ok());
        assert_eq!(f.as_bytes(), &bytes[..]);
        assert_eq!(f.header().ethertype.get(), 0x0800);
    }

    #[test]
    fn accepts_a_header_with_an_empty_payload() {
        let bytes = frame(&[0x86dd], &[]);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(f.payload(), &[] as &[u8]);
    }

    /// IEEE 802.1Q-2018 §9.5–9.6: TPID 0x8100 then PCP/DEI/VID, then the
    /// EtherType of the payload.
    #[test]
    fn reads_pcp_dei_and_vid_of_an_802_1q_tag() {
        let mut bytes = frame(&[0x8100], &[]);
        bytes.extend_from_slice(&[0xb0, 0x49, 0x08, 0x06, 1, 2, 3]);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(f.ethertype(), EtherType::VLAN);
        assert_eq!(f.inner_ethertype(), EtherType::ARP);
        assert_eq!(f.vlan_count(), 1);
        let tag = f.vlan_tag(0).unwrap();
        assert_eq!(tag.tpid, EtherType::VLAN);
        assert_eq!((tag.pcp, tag.dei, tag.vid), (5, true, 0x049));
        assert_eq!(f.vlan_id(), Some(0x049));
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload(), &[1, 2, 3]);
        assert_eq!(f.vlan_tag(1), None);
    }

    /// IEEE 802.1ad (802.1Q-2018 §9.5): an S-tag (0x88a8) outside a C-tag
    /// (0x8100); also the legacy 0x9100 outer TPID.
    #[test]
    fn reads_stacked_qinq_tags_outermost_first() {
        for outer in [0x88a8, 0x9100, 0x8100] {
            let bytes = frame(&[outer, 0x8100, 0x0800], &[0x45]);
            let f = EthernetFrame::parse(&bytes).unwrap();
            assert_eq!(f.ethertype(), EtherType(outer));
            assert_eq!(f.inner_ethertype(), EtherType::IPV4);
            let tags: Vec<VlanTag> = f.vlan_tags().collect();
            assert_eq!(
                tags,
                [
                    VlanTag::from_tci(EtherType(outer), 100),
                    VlanTag::from_tci(EtherType::VLAN, (1 << 13) | 101),
                ]
            );
            assert_eq!(f.vlan_tags().len(), 2);
            assert_eq!(f.header_len(), 22);
            assert_eq!(f.payload(), &[0x45]);
        }
    }

    #[test]
    fn accepts_max_vlan_tags_and_rejects_one_more() {
        let mut types = [0x8100u16; MAX_VLAN_TAGS + 1];
        types[MAX_VLAN_TAGS] = 0x0800;
        let bytes = frame(&types, &[9]);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(f.vlan_count(), MAX_VLAN_TAGS);
        assert_eq!(f.to_repr().vlan.len(), MAX_VLAN_TAGS);

        let mut types = [0x88a8u16; MAX_VLAN_TAGS + 2];
        types[MAX_VLAN_TAGS + 1] = 0x0800;
        let bytes = frame(&types, &[9]);
        assert_eq!(
            EthernetFrame::parse(&bytes).unwrap_err(),
            Error::TooManyVlanTags { max: MAX_VLAN_TAGS }
        );
    }

    #[test]
    fn rejects_a_header_cut_short() {
        let bytes = frame(&[0x0800], &[]);
        for n in 0..HEADER_LEN {
            assert_eq!(
                EthernetFrame::parse(&bytes[..n]).unwrap_err(),
                Error::Truncated { needed: 14, got: n }
            );
        }
        let bytes = frame(&[0x88a8, 0x8100, 0x0800], &[]);
        for n in 14..18 {
            assert_eq!(
                EthernetFrame::parse(&bytes[..n]).unwrap_err(),
                Error::Truncated { needed: 18, got: n }
            );
        }
        for n in 18..22 {
            assert_eq!(
                EthernetFrame::parse(&bytes[..n]).unwrap_err(),
                Error::Truncated { needed: 22, got: n }
            );
        }
        assert!(EthernetFrame::parse(&bytes).is_ok());
    }

    /// IEEE 802.3 §3.2.6: a Length/Type below 0x0600 is the length of the
    /// MAC client data; what follows is padding.
    #[test]
    fn cuts_an_802_3_payload_at_its_length_field() {
        let mut payload = [0x42, 0x42, 0x03, 0, 0, 0].to_vec();
        payload.resize(46, 0);
        let bytes = frame(&[6], &payload);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert!(f.is_ieee802_3());
        assert_eq!(f.length(), Some(6));
        assert_eq!(f.ethertype(), EtherType(6));
        assert_eq!(f.payload(), &[0x42, 0x42, 0x03, 0, 0, 0]);
        assert_eq!(f.trailer().len(), 40);
        assert_eq!(f.as_bytes().len(), 60);
    }

    #[test]
    fn reads_an_802_3_frame_inside_a_vlan_tag() {
        let bytes = frame(&[0x8100, 3], &[0xaa, 0xaa, 0x03, 0xff]);
        let f = EthernetFrame::parse(&bytes).unwrap();
        assert_eq!(f.vlan_id(), Some(100));
        assert_eq!(f.length(), Some(3));
        assert_eq!(f.payload(), &[0xaa, 0xaa, 0x03]);
        assert_eq!(f.trailer(), &[0xff]);
    }

    #[test]
    fn rejects_an_802_3_length_longer_than_the_frame() {
        let bytes = frame(&[100], &[0u8; 99]);
        assert_eq!(
            EthernetFrame::parse(&bytes).unwrap_err(),
            Error::BadLength {
                length: 100,
                available: 99
            }
        );
        // A capture cut by its snap length still decodes leniently.
        let f = EthernetFrame::parse_truncated(&bytes).unwrap();
        assert!(f.is_truncated());
        assert_eq!(f.payload().len(), 99);
        assert_eq!(f.length(), Some(100));
        let whole = frame(&[100], &[0u8; 100]);
        assert!(
            !EthernetFrame::parse_truncated(&whole)
                .unwrap()
                .is_truncated()
        );
    }

    /// IEEE 802.3 §3.2.9: the FCS is the last four bytes, the CRC-32 of
    /// everything from the destination address on, sent LSB first.
    #[test]
    fn strips_and_checks_the_fcs() {
        let mut bytes = frame(&[0x0806], &[7u8; 46]);
        let fcs = crc32(&bytes);
        bytes.extend_from_slice(&fcs.to_le_bytes());
        let f = EthernetFrame::parse_with_fcs(&bytes).unwrap();
        assert_eq!(f.fcs(), Some(fcs));
        assert!(f.fcs_ok());
        assert_eq!(f.payload(), &[7u8; 46]);
        assert_eq!(f.as_bytes().len(), 60);
        assert!(EthernetFrame::parse_with_fcs_verified(&bytes).is_ok());

        bytes[20] ^= 1;
        let f = EthernetFrame::parse_with_fcs(&bytes).unwrap();
        assert!(!f.fcs_ok());
        assert_eq!(
            EthernetFrame::parse_with_fcs_verified(&bytes).unwrap_err(),
            Error::BadFcs {
                received: fcs,
                computed: crc32(&bytes[..60])
            }
        );
    }

    #[test]
    fn needs_room_for_the_fcs_after_the_header() {
        let bytes = frame(&[0x0800], &[1, 2, 3, 4]);
        assert_eq!(
            EthernetFrame::parse_with_fcs(&bytes[..17]).unwrap_err(),
            Error::Truncated {
                needed: 18,
                got: 17
            }
        );
        assert_eq!(
            EthernetFrame::parse_with_fcs(&bytes[..2]).unwrap_err(),
            Error::Truncated { needed: 18, got: 2 }
        );
        let f = EthernetFrame::parse_with_fcs(&bytes).unwrap();
        assert_eq!(f.payload(), &[] as &[u8]);
        assert_eq!(f.fcs(), Some(0x0403_0201));
    }

    /// IEEE 802.3 §4.2.3.3 / §4.4.2: frames shorter than the minimum (64
    /// bytes with FCS) are padded after the data.
    #[test]
    fn pads_short_frames_to_60_bytes() {
        let repr = EthernetRepr::new(MacAddr(SRC), MacAddr::BROADCAST, EtherType::ARP);
        let built = [5u8; 28].wrap_in(repr).serialize_vec(0).unwrap();
        assert_eq!(built.len(), 60);
        assert_eq!(&built.as_slice()[14..42], &[5u8; 28]);
        assert!(built.as_slice()[42..].iter().all(|b| *b == 0));

        let tagged = EthernetRepr {
            vlan: VlanTags::double(VlanTag::new(1), VlanTag::new(2)),
            ..repr
        };
        let built = EmptyBody.wrap_in(tagged).serialize_vec(0).unwrap();
        assert_eq!(built.len(), 60, "tags count towards the 60 bytes");

        let built = [5u8; 100].wrap_in(repr).serialize_vec(0).unwrap();
        assert_eq!(built.len(), 114, "long frames are not padded");

        let unpadded = [5u8; 28]
            .wrap_in(repr.builder().with_padding(false))
            .serialize_vec(0)
            .unwrap();
        assert_eq!(unpadded.len(), 42);
    }

    #[test]
    fn fcs_covers_header_body_and_padding() {
        let repr = EthernetRepr {
            vlan: VlanTags::single(VlanTag::new(7)),
            ..EthernetRepr::new(MacAddr(SRC), MacAddr::BROADCAST, EtherType::IPV4)
        };
        let built = [1u8, 2, 3]
            .wrap_in(repr.builder().with_fcs(true))
            .serialize_vec(0)
            .unwrap();
        let b = built.as_slice();
        assert_eq!(b.len(), 64);
        assert_eq!(&b[60..], &crc32(&b[..60]).to_le_bytes());
        assert_eq!(crc32(b), RESIDUE);
        let f = EthernetFrame::parse_with_fcs_verified(b).unwrap();
        assert_eq!(f.to_repr(), repr);
        assert_eq!(&f.payload()[..3], &[1, 2, 3]);
    }

    #[test]
    fn writes_every_header_and_footer_byte() {
        let repr = EthernetRepr {
            vlan: VlanTags::double(VlanTag::from_tci(EtherType::QINQ, 0xffff), VlanTag::new(0)),
            ..EthernetRepr::new(MacAddr::UNSPECIFIED, MacAddr::UNSPECIFIED, EtherType(0))
        };
        for fcs in [false, true] {
            let s = [0u8; 40].wrap_in(repr.builder().with_fcs(fcs));
            let mut dirty = [0xa5u8; 80];
            let mut clean = [0u8; 80];
            let n = s.serialize_into(&mut dirty).unwrap();
            assert_eq!(s.serialize_into(&mut clean).unwrap(), n);
            assert_eq!(&dirty[..n], &clean[..n]);
        }
    }

    #[test]
    fn writes_tags_then_the_inner_type() {
        let repr = EthernetRepr {
            src: MacAddr(SRC),
            dst: MacAddr::BROADCAST,
            ethertype: EtherType::IPV4,
            vlan: VlanTags::double(
                VlanTag {
                    tpid: EtherType::QINQ,
                    pcp: 3,
                    dei: true,
                    vid: 666,
                },
                VlanTag::new(200),
            ),
        };
        assert_eq!(repr.header_len(), 22);
        assert_eq!(repr.outer_ethertype(), EtherType::QINQ);
        let b = EmptyBody.wrap_in(repr).serialize_vec(0).unwrap();
        assert_eq!(
            &b.as_slice()[12..22],
            &[0x88, 0xa8, 0x72, 0x9a, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00]
        );
    }

    #[test]
    fn parse_to_repr_build_gives_identical_bytes() {
        let cases = [
            frame(&[0x0800], &[0x45; 50]),
            frame(&[0x8100, 0x86dd], &[1; 47]),
            frame(&[0x88a8, 0x8100, 0x0806], &[2; 38]),
            frame(&[0x8100, 0x0800], &[3; 9]),
        ];
        for bytes in cases {
            let f = EthernetFrame::parse(&bytes).unwrap();
            let built = f
                .payload()
                .wrap_in(f.to_repr().builder().with_padding(false))
                .serialize_vec(0)
                .unwrap();
            assert_eq!(built.as_slice(), &bytes[..]);
            let mut with_fcs = bytes.clone();
            with_fcs.extend_from_slice(&crc32(&bytes).to_le_bytes());
            let built = f
                .payload()
                .wrap_in(f.to_repr().builder().with_padding(false).with_fcs(true))
                .serialize_vec(0)
                .unwrap();
            assert_eq!(built.as_slice(), &with_fcs[..]);
        }
    }
}
