//! TCP options: their kinds, a decoding iterator, SACK blocks and
//! timestamps, and the layout used when building.

use core::fmt;

use crate::{Error, SeqNumber};

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub const END_OF_LIST: u8 = 0;
    /// No-operation, used for padding (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.2, §3.7.1).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3).
    pub const TIMESTAMPS: u8 = 8;
    /// MD5 signature (RFC 2385, obsoleted by TCP-AO).
    pub const MD5_SIGNATURE: u8 = 19;
    /// User timeout (RFC 5482).
    pub const USER_TIMEOUT: u8 = 28;
    /// TCP authentication option (RFC 5925).
    pub const AUTHENTICATION: u8 = 29;
    /// Multipath TCP (RFC 8684).
    pub const MPTCP: u8 = 30;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FAST_OPEN: u8 = 34;
    /// Accurate ECN, counter order 0 (draft-ietf-tcpm-accurate-ecn).
    pub const ACC_ECN_0: u8 = 172;
    /// Accurate ECN, counter order 1 (draft-ietf-tcpm-accurate-ecn).
    pub const ACC_ECN_1: u8 = 174;
    /// Experiment 1 (RFC 4727, RFC 6994).
    pub const EXPERIMENT_1: u8 = 253;
    /// Experiment 2 (RFC 4727, RFC 6994).
    pub const EXPERIMENT_2: u8 = 254;
}

/// The most bytes of options a header can carry (data offset 15 words
/// minus the 5 of the fixed header).
pub const MAX_OPTIONS_LEN: usize = 40;

/// One SACK block: the received bytes from `left` up to, not including,
/// `right` (RFC 2018 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: SeqNumber,
    /// Sequence number just past the block.
    pub right: SeqNumber,
}

/// Up to four SACK blocks, stored inline (no allocation): the most a SACK
/// option can carry (RFC 2018 §3; three when timestamps are present).
#[derive(Clone, Copy, Default)]
pub struct SackBlocks {
    blocks: [SackBlock; SackBlocks::MAX],
    len: u8,
}

impl SackBlocks {
    /// The most blocks one option holds.
    pub const MAX: usize = 4;

    /// No blocks.
    #[inline]
    pub const fn new() -> SackBlocks {
        SackBlocks {
            blocks: [SackBlock {
                left: SeqNumber(0),
                right: SeqNumber(0),
            }; SackBlocks::MAX],
            len: 0,
        }
    }

    /// The blocks of `blocks`, or `None` if there are more than four.
    pub fn from_slice(blocks: &[SackBlock]) -> Option<SackBlocks> {
        let mut out = SackBlocks::new();
        for b in blocks {
            out.push(*b).ok()?;
        }
        Some(out)
    }

    /// Appends a block, or gives it back if four are already held.
    #[inline]
    pub fn push(&mut self, block: SackBlock) -> Result<(), SackBlock> {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = block;
                self.len += 1;
                Ok(())
            }
            None => Err(block),
        }
    }

    /// Removes every block.
    #[inline]
    pub fn clear(&mut self) {
        *self = SackBlocks::new();
    }

    /// The number of blocks.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The blocks, in option order.
    #[inline]
    pub fn as_slice(&self) -> &[SackBlock] {
        self.blocks.get(..self.len()).unwrap_or(&[])
    }

    /// An iterator over the blocks.
    #[inline]
    pub fn iter(&self) -> core::slice::Iter<'_, SackBlock> {
        self.as_slice().iter()
    }

    /// Bytes of the SACK option carrying these blocks (2 + 8 per block),
    /// or 0 when there are none (no option is sent).
    #[inline]
    pub const fn option_len(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            2 + 8 * self.len as usize
        }
    }

    /// Decodes the data of a SACK option (after kind and length): a
    /// multiple of 8 bytes, 1 to 4 blocks.
    fn decode(data: &[u8]) -> Option<SackBlocks> {
        let (chunks, rest) = data.as_chunks::<8>();
        if !rest.is_empty() || chunks.is_empty() || chunks.len() > SackBlocks::MAX {
            return None;
        }
        let mut out = SackBlocks::new();
        for c in chunks {
            let [a, b, c, d, e, f, g, h] = *c;
            out.push(SackBlock {
                left: SeqNumber(u32::from_be_bytes([a, b, c, d])),
                right: SeqNumber(u32::from_be_bytes([e, f, g, h])),
            })
            .ok()?;
        }
        Some(out)
    }
}

impl PartialEq for SackBlocks {
    fn eq(&self, other: &SackBlocks) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl core::hash::Hash for SackBlocks {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a SackBlocks {
    type Item = &'a SackBlock;
    type IntoIter = core::slice::Iter<'a, SackBlock>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for SackBlocks {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<SackBlocks> {
        let n = u.int_in_range(0..=SackBlocks::MAX)?;
        let mut out = SackBlocks::new();
        for _ in 0..n {
            let _ = out.push(SackBlock::arbitrary(u)?);
        }
        Ok(out)
    }
}

/// The timestamps option (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the TSval echoed back (meaningful when ACK is set).
    pub tsecr: u32,
}

/// One decoded TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TcpOption<'a> {
    /// End of option list (kind 0); the bytes after it are padding.
    EndOfList,
    /// No-operation (kind 1).
    NoOperation,
    /// Maximum segment size (kind 2, length 4; RFC 9293 §3.7.1).
    MaxSegmentSize(u16),
    /// Window scale shift count (kind 3, length 3; RFC 7323 §2), as sent.
    /// A receiver uses at most 14 (RFC 7323 §2.3).
    WindowScale(u8),
    /// SACK permitted (kind 4, length 2; RFC 2018 §2).
    SackPermitted,
    /// SACK blocks (kind 5, length 10/18/26/34; RFC 2018 §3).
    Sack(SackBlocks),
    /// Timestamps (kind 8, length 10; RFC 7323 §3).
    Timestamps(Timestamps),
    /// Fast Open cookie (kind 34; RFC 7413); empty for a cookie request.
    FastOpen(&'a [u8]),
    /// Multipath TCP (kind 30; RFC 8684): the bytes after kind and length,
    /// starting with the subtype.
    Mptcp(&'a [u8]),
    /// Accurate ECN counters (kinds 172 and 174): the raw counter bytes.
    AccEcn {
        /// 172 (order 0) or 174 (order 1).
        kind: u8,
        /// The counters, three bytes each.
        data: &'a [u8],
    },
    /// Any other option, skipped by its length byte.
    Unknown {
        /// The kind byte.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

impl TcpOption<'_> {
    /// The option's kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            TcpOption::EndOfList => kind::END_OF_LIST,
            TcpOption::NoOperation => kind::NOP,
            TcpOption::MaxSegmentSize(_) => kind::MSS,
            TcpOption::WindowScale(_) => kind::WINDOW_SCALE,
            TcpOption::SackPermitted => kind::SACK_PERMITTED,
            TcpOption::Sack(_) => kind::SACK,
            TcpOption::Timestamps(_) => kind::TIMESTAMPS,
            TcpOption::FastOpen(_) => kind::FAST_OPEN,
            TcpOption::Mptcp(_) => kind::MPTCP,
            TcpOption::AccEcn { kind, .. } | TcpOption::Unknown { kind, .. } => *kind,
        }
    }
}

/// Decodes options from raw bytes: each item is an option, or the error
/// that stops the walk (the iterator then ends).
///
/// Every step consumes at least one byte and is bounded by the slice, so
/// no input loops or panics. After [`TcpOption::EndOfList`] the walk
/// stops.
///
/// ```
/// use lamina_tcp::{Error, TcpOption, TcpOptionIter};
///
/// let opts = [2, 4, 0x05, 0xb4, 1, 3, 3, 7];
/// let mut it = TcpOptionIter::new(&opts);
/// assert_eq!(it.next(), Some(Ok(TcpOption::MaxSegmentSize(1460))));
/// assert_eq!(it.next(), Some(Ok(TcpOption::NoOperation)));
/// assert_eq!(it.next(), Some(Ok(TcpOption::WindowScale(7))));
/// assert_eq!(it.next(), None);
///
/// let bad = [2, 3, 0x05];
/// assert_eq!(
///     TcpOptionIter::new(&bad).next(),
///     Some(Err(Error::BadOptionLength { kind: 2, len: 3 }))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
    /// Whether an option cut off by the end of `rest` ends the walk
    /// quietly (a capture truncated inside the header) instead of being an
    /// error.
    cut_ok: bool,
}

impl<'a> TcpOptionIter<'a> {
    /// Walks `options`, the bytes after the fixed header.
    #[inline]
    pub fn new(options: &'a [u8]) -> TcpOptionIter<'a> {
        TcpOptionIter {
            rest: options,
            cut_ok: false,
        }
    }

    #[inline]
    pub(crate) fn new_cut_ok(options: &'a [u8], cut_ok: bool) -> TcpOptionIter<'a> {
        TcpOptionIter {
            rest: options,
            cut_ok,
        }
    }

    #[inline]
    fn decode(&mut self) -> Option<Result<TcpOption<'a>, Error>> {
        let (&kind, after_kind) = self.rest.split_first()?;
        match kind {
            kind::END_OF_LIST => {
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            kind::NOP => {
                self.rest = after_kind;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let Some(&len) = after_kind.first() else {
            self.rest = &[];
            return (!self.cut_ok).then_some(Err(Error::TruncatedOption { kind }));
        };
        if len < 2 {
            self.rest = &[];
            return Some(Err(Error::BadOptionLength { kind, len }));
        }
        let Some((option, rest)) = self.rest.split_at_checked(usize::from(len)) else {
            self.rest = &[];
            return (!self.cut_ok).then_some(Err(Error::TruncatedOption { kind }));
        };
        self.rest = rest;
        let data = option.get(2..).unwrap_or(&[]);
        let bad = Err(Error::BadOptionLength { kind, len });
        let opt = match kind {
            kind::MSS => match *data {
                [a, b] => Ok(TcpOption::MaxSegmentSize(u16::from_be_bytes([a, b]))),
                _ => bad,
            },
            kind::WINDOW_SCALE => match *data {
                [s] => Ok(TcpOption::WindowScale(s)),
                _ => bad,
            },
            kind::SACK_PERMITTED => match *data {
                [] => Ok(TcpOption::SackPermitted),
                _ => bad,
            },
            kind::SACK => match SackBlocks::decode(data) {
                Some(blocks) => Ok(TcpOption::Sack(blocks)),
                None => bad,
            },
            kind::TIMESTAMPS => match *data {
                [a, b, c, d, e, f, g, h] => Ok(TcpOption::Timestamps(Timestamps {
                    tsval: u32::from_be_bytes([a, b, c, d]),
                    tsecr: u32::from_be_bytes([e, f, g, h]),
                })),
                _ => bad,
            },
            kind::FAST_OPEN => Ok(TcpOption::FastOpen(data)),
            kind::MPTCP => Ok(TcpOption::Mptcp(data)),
            kind::ACC_ECN_0 | kind::ACC_ECN_1 => Ok(TcpOption::AccEcn { kind, data }),
            _ => Ok(TcpOption::Unknown { kind, data }),
        };
        if opt.is_err() {
            self.rest = &[];
        }
        Some(opt)
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.decode()
    }
}

impl core::iter::FusedIterator for TcpOptionIter<'_> {}

/// The options of a parsed [`TcpSegment`](crate::TcpSegment), which were
/// validated when it was parsed: each item is a [`TcpOption`].
#[derive(Debug, Clone)]
pub struct TcpOptions<'a>(pub(crate) TcpOptionIter<'a>);

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    #[inline]
    fn next(&mut self) -> Option<TcpOption<'a>> {
        // Validated at parse time; an error cannot occur, and would end
        // the walk if it did.
        self.0.next()?.ok()
    }
}

impl core::iter::FusedIterator for TcpOptions<'_> {}

/// Checks that `options` decode without error (all of them, up to
/// end-of-list). `cut_ok` lets an option cut by the end of the slice pass
/// (a truncated capture).
#[inline]
pub(crate) fn validate(options: &[u8], cut_ok: bool) -> Result<(), Error> {
    // The commonest layouts on an established connection: none, and
    // NOP NOP TIMESTAMPS.
    if options.is_empty()
        || matches!(options, [1, 1, 8, 10, _, _, _, _, _, _, _, _])
        || full_syn_layout(options).is_some()
    {
        return Ok(());
    }
    for opt in TcpOptionIter::new_cut_ok(options, cut_ok) {
        opt?;
    }
    Ok(())
}

/// The options of a SYN or SYN-ACK with all four negotiated, in the
/// aligned layout Linux and Lamina send (20 bytes): MSS; SACK-permitted
/// and timestamps; NOP and window scale. Read without walking the options
/// (the same values as the walk finds).
#[inline]
pub(crate) fn full_syn_layout(options: &[u8]) -> Option<crate::wire::SynOptions> {
    let o: &[u8; 20] = options.try_into().ok()?;
    if o[..2] != [2, 4] || o[4..8] != [4, 2, 8, 10] || o[16..19] != [1, 3, 3] {
        return None;
    }
    let be32 = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
    Some(crate::wire::SynOptions {
        mss: Some(u16::from_be_bytes([o[2], o[3]])),
        window_scale: Some(o[19]),
        sack_permitted: true,
        timestamps: Some(Timestamps {
            tsval: be32(8),
            tsecr: be32(12),
        }),
    })
}

/// The options area a [`TcpBuilder`](crate::TcpBuilder) writes, laid out
/// (at most 40 bytes); dereferences to the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OptionBytes {
    pub(crate) bytes: [u8; MAX_OPTIONS_LEN],
    pub(crate) len: u8,
}

impl PartialEq<[u8]> for OptionBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for OptionBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl core::ops::Deref for OptionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for OptionBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl OptionBytes {
    /// The options of `set` laid out in a fresh array.
    pub(crate) fn of(set: &OptionSet<'_>) -> Result<OptionBytes, Error> {
        let len = set.len()?;
        let mut bytes = [0; MAX_OPTIONS_LEN];
        set.write(bytes.get_mut(..len).unwrap_or(&mut []));
        Ok(OptionBytes {
            bytes,
            len: len as u8,
        })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// A cursor writing options straight into their final place in a header,
/// summing them as big-endian 16-bit words on the way (so the checksum
/// never reads back bytes it has just written). Bytes past the end of `out`
/// are counted but not written; callers size `out` from
/// [`OptionSet::len`].
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
    sum: u32,
}

/// Writes whole 32-bit words through a [`Writer`] positioned on a 4-byte
/// boundary.
struct WordWriter<'w, 'a> {
    w: &'w mut Writer<'a>,
}

impl WordWriter<'_, '_> {
    #[inline]
    fn word(&mut self, v: u32) {
        let at = self.w.at;
        if let Some(d) = self.w.out.get_mut(at..at + 4) {
            d.copy_from_slice(&v.to_be_bytes());
        }
        self.w.sum += (v >> 16) + (v & 0xffff);
        self.w.at += 4;
    }
}

impl Writer<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        if let Some(d) = self.out.get_mut(self.at) {
            *d = b;
        }
        self.sum += if self.at.is_multiple_of(2) {
            u32::from(b) << 8
        } else {
            u32::from(b)
        };
        self.at += 1;
    }

    #[inline]
    fn put(&mut self, data: &[u8]) {
        for &b in data {
            self.byte(b);
        }
    }

    fn mss(&mut self, mss: u16) {
        let [a, b] = mss.to_be_bytes();
        self.put(&[kind::MSS, 4, a, b]);
    }

    fn window_scale(&mut self, shift: u8) {
        self.put(&[kind::WINDOW_SCALE, 3, shift]);
    }

    fn sack_permitted(&mut self) {
        self.put(&[kind::SACK_PERMITTED, 2]);
    }

    fn timestamps(&mut self, ts: Timestamps) {
        self.put(&[kind::TIMESTAMPS, 10]);
        self.put(&ts.tsval.to_be_bytes());
        self.put(&ts.tsecr.to_be_bytes());
    }

    fn sack(&mut self, blocks: &SackBlocks) {
        if blocks.is_empty() {
            return;
        }
        self.put(&[kind::SACK, blocks.option_len() as u8]);
        for b in blocks {
            self.put(&b.left.0.to_be_bytes());
            self.put(&b.right.0.to_be_bytes());
        }
    }
}

/// The options a [`TcpRepr`](crate::TcpRepr) carries.
pub(crate) struct OptionSet<'r> {
    pub(crate) mss: Option<u16>,
    pub(crate) window_scale: Option<u8>,
    pub(crate) sack_permitted: bool,
    pub(crate) sack_blocks: &'r SackBlocks,
    pub(crate) timestamps: Option<Timestamps>,
}

impl OptionSet<'_> {
    /// Bytes of the aligned layout (Linux's: every option on a 4-byte
    /// boundary, padded with NOPs).
    #[inline]
    fn aligned_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamps.is_some() {
            n += 12; // SACKOK TS, or NOP NOP TS
        } else if self.sack_permitted {
            n += 4; // NOP NOP SACKOK
        }
        if self.window_scale.is_some() {
            n += 4; // NOP WS
        }
        if !self.sack_blocks.is_empty() {
            n += 2 + self.sack_blocks.option_len(); // NOP NOP SACK
        }
        n
    }

    /// Bytes of the packed layout (no NOPs), before end padding.
    #[inline]
    fn packed_len(&self) -> usize {
        let mut n = self.sack_blocks.option_len();
        if self.mss.is_some() {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 3;
        }
        if self.sack_permitted {
            n += 2;
        }
        if self.timestamps.is_some() {
            n += 10;
        }
        n
    }

    /// The options area in bytes (a multiple of 4), or
    /// [`Error::OptionsTooLong`].
    #[inline]
    pub(crate) fn len(&self) -> Result<usize, Error> {
        let aligned = self.aligned_len();
        if aligned <= MAX_OPTIONS_LEN {
            return Ok(aligned);
        }
        let packed = self.packed_len().next_multiple_of(4);
        if packed <= MAX_OPTIONS_LEN {
            Ok(packed)
        } else {
            Err(Error::OptionsTooLong { len: packed })
        }
    }

    /// Writes the options into `out` (which should be [`len`](Self::len)
    /// bytes) and returns their one's-complement sum as 16-bit big-endian
    /// words, unfolded. The layout is Linux's aligned one (MSS; SACKOK+TS or
    /// NOP NOP TS; NOP WS; NOP NOP SACKOK without TS; NOP NOP SACK) when it
    /// fits in 40 bytes, else packed without NOPs and padded at the end
    /// with end-of-list and zeros (RFC 9293 §3.1: the header is padded with
    /// zeros).
    #[inline]
    pub(crate) fn write(&self, out: &mut [u8]) -> u32 {
        let total = out.len();
        let mut w = Writer { out, at: 0, sum: 0 };
        if self.aligned_len() <= MAX_OPTIONS_LEN {
            // Every option of the aligned layout starts on a 4-byte
            // boundary, so it is written (and summed) a 32-bit word at a
            // time.
            let mut words = WordWriter { w: &mut w };
            if let Some(mss) = self.mss {
                words.word(0x0204_0000 | u32::from(mss));
            }
            if let Some(ts) = self.timestamps {
                words.word(if self.sack_permitted {
                    0x0402_080a
                } else {
                    0x0101_080a
                });
                words.word(ts.tsval);
                words.word(ts.tsecr);
            }
            if let Some(ws) = self.window_scale {
                words.word(0x0103_0300 | u32::from(ws));
            }
            if self.timestamps.is_none() && self.sack_permitted {
                words.word(0x0101_0402);
            }
            if !self.sack_blocks.is_empty() {
                let len = self.sack_blocks.option_len() as u32;
                words.word(0x0101_0500 | len);
                for b in self.sack_blocks {
                    words.word(b.left.0);
                    words.word(b.right.0);
                }
            }
        } else {
            if let Some(mss) = self.mss {
                w.mss(mss);
            }
            if let Some(ws) = self.window_scale {
                w.window_scale(ws);
            }
            if self.sack_permitted {
                w.sack_permitted();
            }
            if let Some(ts) = self.timestamps {
                w.timestamps(ts);
            }
            w.sack(self.sack_blocks);
        }
        // End-of-list, then zeros, up to the end of the options area.
        while w.at < total {
            w.byte(kind::END_OF_LIST);
        }
        w.sum
    }
}
