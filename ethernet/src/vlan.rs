//! IEEE 802.1Q VLAN tags and a small fixed-capacity stack of them.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use crate::{Error, EtherType};

/// The most VLAN tags a frame may stack, for both parsing and
/// [`VlanTags`]. A frame with more is [`Error::TooManyVlanTags`]. Two
/// cover 802.1ad QinQ; four leave room for the triple tagging some
/// carriers use.
pub const MAX_VLAN_TAGS: usize = 4;

/// The largest VLAN identifier (0xFFF is reserved, IEEE 802.1Q §9.6).
pub const MAX_VID: u16 = 0x0fff;

/// One VLAN tag: the tag protocol identifier and the tag control
/// information (IEEE 802.1Q-2018 §9.6).
///
/// On the wire a tag is four bytes, the TPID then the TCI, placed between
/// the source address and the type field:
///
/// ```text
///  TPID (16) | PCP (3) | DEI (1) | VID (12)
/// ```
///
/// Building masks `pcp` to three bits and `vid` to twelve.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct VlanTag {
    /// Tag protocol identifier: [`EtherType::VLAN`] (802.1Q C-tag),
    /// [`EtherType::QINQ`] (802.1ad S-tag) or [`EtherType::QINQ_LEGACY`].
    pub tpid: EtherType,
    /// Priority code point (802.1p class of service), 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator (formerly CFI).
    pub dei: bool,
    /// VLAN identifier, 0..=4095. VID 0 marks a priority-only tag; 4095 is
    /// reserved.
    pub vid: u16,
}

impl VlanTag {
    /// An 802.1Q (C-tag) with priority 0 for VLAN `vid`.
    #[inline]
    pub const fn new(vid: u16) -> VlanTag {
        VlanTag {
            tpid: EtherType::VLAN,
            pcp: 0,
            dei: false,
            vid: vid & MAX_VID,
        }
    }

    /// A tag from its TPID and the 16-bit tag control information.
    #[inline]
    pub const fn from_tci(tpid: EtherType, tci: u16) -> VlanTag {
        VlanTag {
            tpid,
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & MAX_VID,
        }
    }

    /// The 16-bit tag control information: PCP, DEI and VID packed.
    #[inline]
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & MAX_VID)
    }

    /// Whether the tag carries only a priority (VID 0, 802.1Q §9.6).
    #[inline]
    pub const fn is_priority_only(&self) -> bool {
        self.vid == 0
    }

    /// The tag's four wire bytes: TPID then TCI.
    #[inline]
    pub const fn to_bytes(&self) -> [u8; 4] {
        let [a, b] = self.tpid.0.to_be_bytes();
        let [c, d] = self.tci().to_be_bytes();
        [a, b, c, d]
    }
}

/// Generates tags as parsing returns them: a VLAN TPID, PCP 0..=7, VID
/// 0..=4095.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for VlanTag {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<VlanTag> {
        let tpid = *u.choose(&[EtherType::VLAN, EtherType::QINQ, EtherType::QINQ_LEGACY])?;
        Ok(VlanTag::from_tci(tpid, u.arbitrary()?))
    }
}

/// Up to [`MAX_VLAN_TAGS`] VLAN tags, outermost first, stored inline (no
/// allocation). Dereferences to a slice.
///
/// ```
/// use lamina_ethernet::{EtherType, VlanTag, VlanTags};
///
/// let mut tags = VlanTags::new();
/// tags.push(VlanTag { tpid: EtherType::QINQ, pcp: 0, dei: false, vid: 666 })?;
/// tags.push(VlanTag::new(200))?;
/// assert_eq!(tags.len(), 2);
/// assert_eq!(tags[1].vid, 200);
/// # Ok::<(), lamina_ethernet::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct VlanTags {
    tags: [VlanTag; MAX_VLAN_TAGS],
    len: u8,
}

impl VlanTags {
    /// No tags.
    #[inline]
    pub const fn new() -> VlanTags {
        VlanTags {
            tags: [VlanTag::new(0); MAX_VLAN_TAGS],
            len: 0,
        }
    }

    /// One tag.
    #[inline]
    pub const fn single(tag: VlanTag) -> VlanTags {
        let mut t = VlanTags::new();
        t.tags[0] = tag;
        t.len = 1;
        t
    }

    /// Two tags, outer (the S-tag in 802.1ad) then inner.
    #[inline]
    pub const fn double(outer: VlanTag, inner: VlanTag) -> VlanTags {
        let mut t = VlanTags::single(outer);
        t.tags[1] = inner;
        t.len = 2;
        t
    }

    /// Appends `tag` inside the existing ones, or fails with
    /// [`Error::TooManyVlanTags`] when the stack is full.
    #[inline]
    pub fn push(&mut self, tag: VlanTag) -> Result<(), Error> {
        let slot = self
            .tags
            .get_mut(usize::from(self.len))
            .ok_or(Error::TooManyVlanTags { max: MAX_VLAN_TAGS })?;
        *slot = tag;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the innermost tag.
    #[inline]
    pub fn pop(&mut self) -> Option<VlanTag> {
        let last = usize::from(self.len).checked_sub(1)?;
        self.len -= 1;
        self.tags.get(last).copied()
    }

    /// The tags, outermost first.
    #[inline]
    pub fn as_slice(&self) -> &[VlanTag] {
        self.tags.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Default for VlanTags {
    fn default() -> VlanTags {
        VlanTags::new()
    }
}

impl Deref for VlanTags {
    type Target = [VlanTag];
    #[inline]
    fn deref(&self) -> &[VlanTag] {
        self.as_slice()
    }
}

impl PartialEq for VlanTags {
    fn eq(&self, other: &VlanTags) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for VlanTags {}

impl Hash for VlanTags {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for VlanTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl TryFrom<&[VlanTag]> for VlanTags {
    type Error = Error;

    /// The tags of `tags`, or [`Error::TooManyVlanTags`] if there are more
    /// than [`MAX_VLAN_TAGS`].
    fn try_from(tags: &[VlanTag]) -> Result<VlanTags, Error> {
        let mut out = VlanTags::new();
        for tag in tags {
            out.push(*tag)?;
        }
        Ok(out)
    }
}

impl<'t> IntoIterator for &'t VlanTags {
    type Item = &'t VlanTag;
    type IntoIter = core::slice::Iter<'t, VlanTag>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// Zero to [`MAX_VLAN_TAGS`] tags, each as [`VlanTag`]'s `Arbitrary`.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for VlanTags {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<VlanTags> {
        let n = u.int_in_range(0..=MAX_VLAN_TAGS)?;
        let mut tags = VlanTags::new();
        for _ in 0..n {
            tags.push(u.arbitrary()?)
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IEEE 802.1Q-2018 §9.6: PCP is the top three bits of the TCI, DEI
    /// the next, VID the low twelve.
    #[test]
    fn packs_and_unpacks_the_tci_per_802_1q_9_6() {
        let tag = VlanTag::from_tci(EtherType::VLAN, 0xb06f);
        assert_eq!((tag.pcp, tag.dei, tag.vid), (5, true, 0x06f));
        assert_eq!(tag.tci(), 0xb06f);
        let masked = VlanTag {
            tpid: EtherType::QINQ,
            pcp: 0xff,
            dei: false,
            vid: 0xffff,
        };
        assert_eq!(masked.tci(), 0xefff);
        assert_eq!(masked.to_bytes(), [0x88, 0xa8, 0xef, 0xff]);
        assert!(VlanTag::new(0).is_priority_only());
    }

    #[test]
    fn stack_is_bounded() {
        let mut tags = VlanTags::new();
        for vid in 0..MAX_VLAN_TAGS as u16 {
            tags.push(VlanTag::new(vid)).unwrap();
        }
        assert_eq!(
            tags.push(VlanTag::new(9)),
            Err(Error::TooManyVlanTags { max: MAX_VLAN_TAGS })
        );
        assert_eq!(tags.len(), MAX_VLAN_TAGS);
        assert_eq!(tags.pop(), Some(VlanTag::new(MAX_VLAN_TAGS as u16 - 1)));
        let too_many = [VlanTag::new(1); MAX_VLAN_TAGS + 1];
        assert!(VlanTags::try_from(&too_many[..]).is_err());
        assert_eq!(
            VlanTags::try_from(&too_many[..2]),
            Ok(VlanTags::double(VlanTag::new(1), VlanTag::new(1)))
        );
    }

    #[test]
    fn equality_ignores_unused_slots() {
        let mut a = VlanTags::single(VlanTag::new(7));
        a.push(VlanTag::new(8)).unwrap();
        a.pop();
        assert_eq!(a, VlanTags::single(VlanTag::new(7)));
        assert_ne!(a, VlanTags::new());
        assert_eq!(VlanTags::new().pop(), None);
    }
}
