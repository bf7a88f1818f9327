//! IPv4 options (RFC 791 §3.1, RFC 1108, RFC 2113, RFC 7126).
//!
//! The options area is up to 40 bytes after the fixed header. It is a
//! sequence of single-octet options (End of Option List, No Operation) and
//! type-length-value options. [`Ipv4OptionIter`] walks it, yielding typed
//! [`Ipv4Option`]s; each step consumes at least one octet, so iteration
//! always ends. [`Ipv4OptionsBuf`] is the owned form a
//! [`Ipv4Repr`](crate::Ipv4Repr) carries.

use core::fmt;
use core::net::Ipv4Addr;

use crate::error::{BadOptionReason, Error};
use crate::packet::IPV4_MIN_HEADER_LEN;

/// The largest options area: a 15-word header minus the 5-word fixed part.
pub const MAX_OPTIONS_LEN: usize = 40;

/// Option type octets (IANA "IP Option Numbers"). The top bit is the
/// "copied" flag: such options are copied into every fragment.
pub mod option_kind {
    /// End of Option List (RFC 791): one octet, the rest is padding.
    pub const END_OF_LIST: u8 = 0;
    /// No Operation (RFC 791): one octet, used for alignment.
    pub const NO_OPERATION: u8 = 1;
    /// Record Route (RFC 791).
    pub const RECORD_ROUTE: u8 = 7;
    /// Internet Timestamp (RFC 791).
    pub const TIMESTAMP: u8 = 68;
    /// Basic Security (RFC 1108).
    pub const SECURITY: u8 = 130;
    /// Loose Source and Record Route (RFC 791).
    pub const LOOSE_SOURCE_ROUTE: u8 = 131;
    /// Extended Security (RFC 1108).
    pub const EXTENDED_SECURITY: u8 = 133;
    /// Commercial IP Security Option (CIPSO, draft; seen in practice).
    pub const CIPSO: u8 = 134;
    /// Stream Identifier (RFC 791, obsolete per RFC 6814).
    pub const STREAM_ID: u8 = 136;
    /// Strict Source and Record Route (RFC 791).
    pub const STRICT_SOURCE_ROUTE: u8 = 137;
    /// Router Alert (RFC 2113).
    pub const ROUTER_ALERT: u8 = 148;

    /// Whether options of this type are copied into every fragment
    /// (RFC 791 §3.1, the "copied" flag).
    #[inline]
    pub const fn is_copied(kind: u8) -> bool {
        kind & 0x80 != 0
    }
}

/// A Record Route or Source Route option's body (RFC 791 §3.1): a pointer
/// and a list of addresses.
///
/// The pointer counts octets from the start of the option (its type
/// octet) to the next address slot; its smallest legal value is 4. When
/// it exceeds the option length, the route data is full (Record Route) or
/// the source route is exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteOption<'a> {
    /// The pointer octet.
    pub pointer: u8,
    /// The route data: 4 bytes per address slot.
    pub data: &'a [u8],
}

impl<'a> RouteOption<'a> {
    /// Every address slot, recorded or not.
    #[inline]
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        self.data
            .as_chunks::<4>()
            .0
            .iter()
            .map(|c| Ipv4Addr::from(*c))
    }

    /// The number of slots.
    #[inline]
    pub fn slots(&self) -> usize {
        self.data.len() / 4
    }

    /// The number of slots before the pointer: addresses already recorded
    /// (or, for a source route, hops already visited).
    #[inline]
    pub fn filled(&self) -> usize {
        (usize::from(self.pointer).saturating_sub(4) / 4).min(self.slots())
    }

    /// Whether the pointer is past the last slot.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.filled() == self.slots()
    }

    /// The address at the pointer: for a source route, the next hop; for
    /// Record Route, the slot the next router fills. `None` when full.
    #[inline]
    pub fn next_address(&self) -> Option<Ipv4Addr> {
        self.addresses().nth(self.filled())
    }
}

/// What an Internet Timestamp option records (RFC 791 §3.1, the `flg`
/// field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampFlag {
    /// 0: timestamps only, 4 bytes per entry.
    TimestampsOnly,
    /// 1: each router records its address and a timestamp, 8 bytes per
    /// entry.
    WithAddresses,
    /// 3: addresses are prespecified; a router whose address is next
    /// fills in its timestamp. 8 bytes per entry.
    Prespecified,
}

impl TimestampFlag {
    /// The flag's value on the wire.
    #[inline]
    pub const fn value(self) -> u8 {
        match self {
            TimestampFlag::TimestampsOnly => 0,
            TimestampFlag::WithAddresses => 1,
            TimestampFlag::Prespecified => 3,
        }
    }

    /// The flag for a wire value, `None` for the undefined ones.
    #[inline]
    pub const fn from_value(v: u8) -> Option<TimestampFlag> {
        match v {
            0 => Some(TimestampFlag::TimestampsOnly),
            1 => Some(TimestampFlag::WithAddresses),
            3 => Some(TimestampFlag::Prespecified),
            _ => None,
        }
    }

    /// Bytes per entry: 4, or 8 with addresses.
    #[inline]
    pub const fn entry_len(self) -> usize {
        match self {
            TimestampFlag::TimestampsOnly => 4,
            _ => 8,
        }
    }
}

/// An Internet Timestamp option's body (RFC 791 §3.1).
///
/// The pointer counts octets from the option's type octet to the next
/// free entry; its smallest legal value is 5, and the area is full when
/// it exceeds the length. `overflow` counts routers that could not record
/// for lack of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOption<'a> {
    /// The pointer octet.
    pub pointer: u8,
    /// The overflow count (high 4 bits of the fourth octet).
    pub overflow: u8,
    /// The flag (low 4 bits of the fourth octet).
    pub flag: TimestampFlag,
    /// The entries, `flag.entry_len()` bytes each.
    pub data: &'a [u8],
}

/// One entry of a [`TimestampOption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimestampEntry {
    /// The router's address, for the flags that carry one.
    pub address: Option<Ipv4Addr>,
    /// Milliseconds since midnight UT, or any value with the high bit set
    /// if non-standard (RFC 791 §3.1).
    pub timestamp: u32,
}

impl<'a> TimestampOption<'a> {
    /// Every entry, filled or not.
    pub fn entries(&self) -> impl Iterator<Item = TimestampEntry> + 'a {
        let with_addr = self.flag != TimestampFlag::TimestampsOnly;
        self.data
            .chunks_exact(self.flag.entry_len())
            .map(move |c| match *c {
                [a, b, cc, d, t0, t1, t2, t3] if with_addr => TimestampEntry {
                    address: Some(Ipv4Addr::new(a, b, cc, d)),
                    timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
                },
                [t0, t1, t2, t3, ..] => TimestampEntry {
                    address: None,
                    timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
                },
                _ => TimestampEntry {
                    address: None,
                    timestamp: 0,
                },
            })
    }

    /// The number of entries the option has room for.
    #[inline]
    pub fn slots(&self) -> usize {
        self.data.len() / self.flag.entry_len()
    }

    /// The number of entries before the pointer (already filled).
    #[inline]
    pub fn filled(&self) -> usize {
        (usize::from(self.pointer).saturating_sub(5) / self.flag.entry_len()).min(self.slots())
    }

    /// Whether the pointer is past the last entry.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.filled() == self.slots()
    }
}

/// One IPv4 option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Option<'a> {
    /// End of Option List (type 0): the octets after it are padding.
    EndOfList,
    /// No Operation (type 1).
    NoOperation,
    /// Record Route (type 7).
    RecordRoute(RouteOption<'a>),
    /// Loose Source and Record Route (type 131).
    LooseSourceRoute(RouteOption<'a>),
    /// Strict Source and Record Route (type 137).
    StrictSourceRoute(RouteOption<'a>),
    /// Internet Timestamp (type 68).
    Timestamp(TimestampOption<'a>),
    /// Router Alert (type 148, RFC 2113): the 16-bit value (0: routers
    /// shall examine the packet).
    RouterAlert(u16),
    /// Any other option (Security, Stream ID, CIPSO, experimental ...),
    /// kept raw: its type octet and the bytes after the length octet.
    Unknown {
        /// The option type octet.
        kind: u8,
        /// The option data, after the type and length octets.
        data: &'a [u8],
    },
}

impl<'a> Ipv4Option<'a> {
    /// The option type octet.
    #[inline]
    pub fn kind(&self) -> u8 {
        match self {
            Ipv4Option::EndOfList => option_kind::END_OF_LIST,
            Ipv4Option::NoOperation => option_kind::NO_OPERATION,
            Ipv4Option::RecordRoute(_) => option_kind::RECORD_ROUTE,
            Ipv4Option::LooseSourceRoute(_) => option_kind::LOOSE_SOURCE_ROUTE,
            Ipv4Option::StrictSourceRoute(_) => option_kind::STRICT_SOURCE_ROUTE,
            Ipv4Option::Timestamp(_) => option_kind::TIMESTAMP,
            Ipv4Option::RouterAlert(_) => option_kind::ROUTER_ALERT,
            Ipv4Option::Unknown { kind, .. } => *kind,
        }
    }

    /// Whether the option is copied into every fragment (RFC 791 §3.1).
    #[inline]
    pub fn is_copied(&self) -> bool {
        option_kind::is_copied(self.kind())
    }

    /// The option's length on the wire, type octet included.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        match self {
            Ipv4Option::EndOfList | Ipv4Option::NoOperation => 1,
            Ipv4Option::RecordRoute(r)
            | Ipv4Option::LooseSourceRoute(r)
            | Ipv4Option::StrictSourceRoute(r) => 3 + r.data.len(),
            Ipv4Option::Timestamp(t) => 4 + t.data.len(),
            Ipv4Option::RouterAlert(_) => 4,
            Ipv4Option::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `out`, returning its length.
    /// `out` must hold [`encoded_len`](Self::encoded_len) bytes and the
    /// length must fit in the length octet; the result is not validated.
    fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        let len_octet = u8::try_from(len).ok()?;
        let (head, body) = out.split_at_mut(len.min(2));
        match (self, head) {
            (Ipv4Option::EndOfList | Ipv4Option::NoOperation, [k]) => *k = self.kind(),
            (_, [k, l]) => {
                *k = self.kind();
                *l = len_octet;
            }
            _ => return None,
        }
        match self {
            Ipv4Option::EndOfList | Ipv4Option::NoOperation => {}
            Ipv4Option::RecordRoute(r)
            | Ipv4Option::LooseSourceRoute(r)
            | Ipv4Option::StrictSourceRoute(r) => {
                let (p, rest) = body.split_first_mut()?;
                *p = r.pointer;
                rest.copy_from_slice(r.data);
            }
            Ipv4Option::Timestamp(t) => {
                let (p, rest) = body.split_first_mut()?;
                *p = t.pointer;
                let (of, rest) = rest.split_first_mut()?;
                *of = (t.overflow << 4) | t.flag.value();
                rest.copy_from_slice(t.data);
            }
            Ipv4Option::RouterAlert(v) => body.copy_from_slice(&v.to_be_bytes()),
            Ipv4Option::Unknown { data, .. } => body.copy_from_slice(data),
        }
        Some(len)
    }
}

/// Decodes the option starting at `pos` of `area`, returning it and its
/// length. `pos` must be within `area`.
#[inline]
fn decode(area: &[u8], pos: usize) -> Result<(Ipv4Option<'_>, usize), Error> {
    let rest = area.get(pos..).unwrap_or(&[]);
    let offset = IPV4_MIN_HEADER_LEN + pos;
    let bad = |kind: u8, at: usize, reason: BadOptionReason| Error::BadOption {
        kind,
        offset: offset + at,
        reason,
    };
    let (&kind, after_kind) = match rest.split_first() {
        Some(x) => x,
        None => return Err(bad(0, 0, BadOptionReason::MissingLength)),
    };
    match kind {
        option_kind::END_OF_LIST => return Ok((Ipv4Option::EndOfList, 1)),
        option_kind::NO_OPERATION => return Ok((Ipv4Option::NoOperation, 1)),
        _ => {}
    }
    let len = match after_kind.first() {
        Some(&l) => usize::from(l),
        None => return Err(bad(kind, 0, BadOptionReason::MissingLength)),
    };
    if len < 2 {
        return Err(bad(kind, 1, BadOptionReason::LengthTooShort));
    }
    let body = match rest.get(2..len) {
        Some(b) => b,
        None => return Err(bad(kind, 1, BadOptionReason::PastEnd)),
    };
    let opt = match kind {
        option_kind::RECORD_ROUTE
        | option_kind::LOOSE_SOURCE_ROUTE
        | option_kind::STRICT_SOURCE_ROUTE => {
            // RFC 791: type, length, pointer, then 4-byte addresses.
            let (&pointer, data) =
                body.split_first()
                    .ok_or(bad(kind, 1, BadOptionReason::BadLength))?;
            if data.len() % 4 != 0 {
                return Err(bad(kind, 1, BadOptionReason::BadLength));
            }
            let p = usize::from(pointer);
            if p < 4 || (p <= len && p % 4 != 0) {
                return Err(bad(kind, 2, BadOptionReason::BadPointer));
            }
            let r = RouteOption { pointer, data };
            match kind {
                option_kind::RECORD_ROUTE => Ipv4Option::RecordRoute(r),
                option_kind::LOOSE_SOURCE_ROUTE => Ipv4Option::LooseSourceRoute(r),
                _ => Ipv4Option::StrictSourceRoute(r),
            }
        }
        option_kind::TIMESTAMP => {
            // RFC 791: type, length, pointer, overflow/flag, entries.
            let (&pointer, body) =
                body.split_first()
                    .ok_or(bad(kind, 1, BadOptionReason::BadLength))?;
            let (&of, data) = body
                .split_first()
                .ok_or(bad(kind, 1, BadOptionReason::BadLength))?;
            let flag = TimestampFlag::from_value(of & 0x0f).ok_or(bad(
                kind,
                3,
                BadOptionReason::BadTimestampFlag,
            ))?;
            let entry = flag.entry_len();
            if data.len() % entry != 0 {
                return Err(bad(kind, 1, BadOptionReason::BadLength));
            }
            let p = usize::from(pointer);
            if p < 5 || (p <= len && (p - 5) % entry != 0) {
                return Err(bad(kind, 2, BadOptionReason::BadPointer));
            }
            Ipv4Option::Timestamp(TimestampOption {
                pointer,
                overflow: of >> 4,
                flag,
                data,
            })
        }
        option_kind::ROUTER_ALERT => match *body {
            // RFC 2113 §2.1: length 4, a 2-octet value.
            [a, b] => Ipv4Option::RouterAlert(u16::from_be_bytes([a, b])),
            _ => return Err(bad(kind, 1, BadOptionReason::BadLength)),
        },
        _ => Ipv4Option::Unknown { kind, data: body },
    };
    Ok((opt, len))
}

/// An iterator over an options area, yielding each option or the first
/// error. It stops after End of Option List, at the end of the area, and
/// after an error, so it never loops.
#[derive(Debug, Clone)]
pub struct Ipv4OptionIter<'a> {
    area: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Ipv4OptionIter<'a> {
    /// Iterates over `area`, an options area as it follows the fixed
    /// header (error offsets count from the start of the header, so from
    /// 20 here).
    #[inline]
    pub fn new(area: &'a [u8]) -> Ipv4OptionIter<'a> {
        Ipv4OptionIter {
            area,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Ipv4OptionIter<'a> {
    type Item = Result<Ipv4Option<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.area.len() {
            return None;
        }
        match decode(self.area, self.pos) {
            Ok((opt, len)) => {
                self.pos += len;
                if opt == Ipv4Option::EndOfList {
                    self.done = true;
                }
                Some(Ok(opt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Ipv4OptionIter<'_> {}

/// Checks every option of an options area (up to End of Option List).
#[inline]
pub(crate) fn validate(area: &[u8]) -> Result<(), Error> {
    Ipv4OptionIter::new(area).try_for_each(|o| o.map(|_| ()))
}

/// The owned options of an [`Ipv4Repr`](crate::Ipv4Repr): up to 40 bytes
/// of well-formed options, in a fixed buffer (no allocation).
///
/// Building pads the options to a multiple of 4 bytes with End of Option
/// List octets (zeros); a repr read back from a packet holds the whole
/// options area, padding included.
///
/// ```
/// use lamina_ipv4::{Ipv4Option, Ipv4OptionsBuf, RouteOption};
///
/// let mut opts = Ipv4OptionsBuf::new();
/// opts.push(&Ipv4Option::RouterAlert(0))?;
/// opts.push(&Ipv4Option::RecordRoute(RouteOption { pointer: 4, data: &[0; 8] }))?;
/// assert_eq!(opts.len(), 4 + 11);
/// assert_eq!(opts.padded_len(), 16);
/// assert_eq!(opts.iter().count(), 2);
/// # Ok::<(), lamina_ipv4::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Ipv4OptionsBuf {
    len: u8,
    bytes: [u8; MAX_OPTIONS_LEN],
}

impl Ipv4OptionsBuf {
    /// No options.
    #[inline]
    pub const fn new() -> Ipv4OptionsBuf {
        Ipv4OptionsBuf {
            len: 0,
            bytes: [0; MAX_OPTIONS_LEN],
        }
    }

    /// Options from raw bytes, which must be at most 40 bytes of
    /// well-formed options (bytes after an End of Option List are padding
    /// and not checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Ipv4OptionsBuf, Error> {
        validate(bytes)?;
        Ipv4OptionsBuf::from_valid(bytes).ok_or(Error::OptionsTooLong { len: bytes.len() })
    }

    /// Copies options already validated.
    #[inline]
    pub(crate) fn from_valid(bytes: &[u8]) -> Option<Ipv4OptionsBuf> {
        let mut b = Ipv4OptionsBuf::new();
        b.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        b.len = bytes.len() as u8;
        Some(b)
    }

    /// Appends `option`, checking that it is well formed where it lands
    /// (offsets in errors count from the start of the header) and fits in
    /// 40 bytes. On error the buffer is unchanged.
    pub fn push(&mut self, option: &Ipv4Option<'_>) -> Result<(), Error> {
        let start = usize::from(self.len);
        let olen = option.encoded_len();
        let end = start + olen;
        if end > MAX_OPTIONS_LEN {
            return Err(Error::OptionsTooLong { len: end });
        }
        let bad_len = Error::BadOption {
            kind: option.kind(),
            offset: IPV4_MIN_HEADER_LEN + start + 1,
            reason: BadOptionReason::BadLength,
        };
        let mut tmp = self.bytes;
        let slot = tmp.get_mut(start..end).ok_or(bad_len)?;
        option.encode(slot).ok_or(bad_len)?;
        match decode(tmp.get(..end).unwrap_or(&[]), start) {
            Ok((_, n)) if n == olen => {}
            Ok(_) => return Err(bad_len),
            Err(e) => return Err(e),
        }
        self.bytes = tmp;
        self.len = end as u8;
        Ok(())
    }

    /// The option bytes, unpadded.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The length in bytes, unpadded.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no options.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length once padded to a multiple of 4, as it goes on the wire.
    #[inline]
    pub const fn padded_len(&self) -> usize {
        (self.len as usize + 3) & !3
    }

    /// Iterates over the options.
    #[inline]
    pub fn iter(&self) -> Ipv4OptionIter<'_> {
        Ipv4OptionIter::new(self.as_bytes())
    }

    /// Removes every option.
    #[inline]
    pub fn clear(&mut self) {
        *self = Ipv4OptionsBuf::new();
    }
}

impl Default for Ipv4OptionsBuf {
    fn default() -> Self {
        Ipv4OptionsBuf::new()
    }
}

impl PartialEq for Ipv4OptionsBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Ipv4OptionsBuf {}

impl core::hash::Hash for Ipv4OptionsBuf {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Ipv4OptionsBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Ipv4OptionsBuf {
    /// Well-formed options of every kind, padded with End of Option List
    /// to a multiple of 4 (the form a packet carries).
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut buf = Ipv4OptionsBuf::new();
        let mut scratch = [0u8; MAX_OPTIONS_LEN];
        u.fill_buffer(&mut scratch)?;
        for _ in 0..u.int_in_range(0..=8)? {
            let room = MAX_OPTIONS_LEN - buf.len();
            if room == 0 {
                break;
            }
            let opt = match u.int_in_range(0..=7)? {
                0 => Ipv4Option::EndOfList,
                1 => Ipv4Option::NoOperation,
                2..=4 if room >= 3 => {
                    let n = u.int_in_range(0..=(room - 3) / 4)?;
                    let r = RouteOption {
                        pointer: 4 + 4 * u.int_in_range(0..=n)? as u8,
                        data: scratch.get(..4 * n).unwrap_or(&[]),
                    };
                    match u.int_in_range(0..=2)? {
                        0 => Ipv4Option::RecordRoute(r),
                        1 => Ipv4Option::LooseSourceRoute(r),
                        _ => Ipv4Option::StrictSourceRoute(r),
                    }
                }
                5 if room >= 4 => {
                    let flag = *u.choose(&[
                        TimestampFlag::TimestampsOnly,
                        TimestampFlag::WithAddresses,
                        TimestampFlag::Prespecified,
                    ])?;
                    let e = flag.entry_len();
                    let n = u.int_in_range(0..=(room - 4) / e)?;
                    Ipv4Option::Timestamp(TimestampOption {
                        pointer: 5 + (e * u.int_in_range(0..=n)?) as u8,
                        overflow: u.int_in_range(0..=15)?,
                        flag,
                        data: scratch.get(..e * n).unwrap_or(&[]),
                    })
                }
                6 if room >= 4 => Ipv4Option::RouterAlert(u.arbitrary()?),
                _ if room >= 2 => {
                    let kind = loop {
                        let k: u8 = u.arbitrary()?;
                        if !matches!(k, 0 | 1 | 7 | 68 | 131 | 137 | 148) {
                            break k;
                        }
                        if u.is_empty() {
                            break option_kind::SECURITY;
                        }
                    };
                    let n = u.int_in_range(0..=room - 2)?;
                    Ipv4Option::Unknown {
                        kind,
                        data: scratch.get(..n).unwrap_or(&[]),
                    }
                }
                _ => Ipv4Option::NoOperation,
            };
            buf.push(&opt)
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
            if opt == Ipv4Option::EndOfList {
                break;
            }
        }
        // Pad as a packet would carry them.
        buf.len = buf.padded_len() as u8;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn all(area: &[u8]) -> Result<Vec<Ipv4Option<'_>>, Error> {
        Ipv4OptionIter::new(area).collect()
    }

    #[test]
    fn iterates_nop_and_stops_at_end_of_list_rfc_791() {
        // NOP, NOP, EOL, then padding that is not parsed (0xff would be a
        // malformed option otherwise).
        let opts = all(&[1, 1, 0, 0xff]).unwrap();
        assert_eq!(
            opts,
            [
                Ipv4Option::NoOperation,
                Ipv4Option::NoOperation,
                Ipv4Option::EndOfList
            ]
        );
    }

    #[test]
    fn decodes_record_route_with_pointer_rfc_791() {
        let area = [7, 11, 8, 192, 0, 2, 1, 0, 0, 0, 0, 0];
        let opts = all(&area).unwrap();
        let Ipv4Option::RecordRoute(r) = opts[0] else {
            panic!("{opts:?}")
        };
        assert_eq!(r.pointer, 8);
        assert_eq!(r.slots(), 2);
        assert_eq!(r.filled(), 1);
        assert!(!r.is_full());
        assert_eq!(r.next_address(), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            r.addresses().collect::<Vec<_>>(),
            [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::UNSPECIFIED]
        );
        assert_eq!(opts[1], Ipv4Option::EndOfList);
    }

    #[test]
    fn route_pointer_past_length_means_full_rfc_791() {
        let area = [131, 7, 8, 192, 0, 2, 9, 0];
        let Ipv4Option::LooseSourceRoute(r) = all(&area).unwrap()[0] else {
            panic!()
        };
        assert!(r.is_full());
        assert_eq!(r.next_address(), None);
    }

    #[test]
    fn rejects_route_pointer_below_four_rfc_791() {
        assert_eq!(
            all(&[137, 7, 3, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                kind: 137,
                offset: 22,
                reason: BadOptionReason::BadPointer
            })
        );
    }

    #[test]
    fn rejects_misaligned_route_pointer_rfc_791() {
        assert!(matches!(
            all(&[7, 11, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                reason: BadOptionReason::BadPointer,
                ..
            })
        ));
    }

    #[test]
    fn rejects_route_with_partial_address_rfc_791() {
        assert!(matches!(
            all(&[7, 6, 4, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                reason: BadOptionReason::BadLength,
                ..
            })
        ));
        assert!(matches!(
            all(&[7, 2, 0, 0]),
            Err(Error::BadOption {
                reason: BadOptionReason::BadLength,
                ..
            })
        ));
    }

    #[test]
    fn decodes_every_timestamp_flag_rfc_791() {
        // flg 0: timestamps only, one filled of two.
        let area = [68, 12, 9, 0x20, 0, 0, 0, 7, 0, 0, 0, 0];
        let Ipv4Option::Timestamp(t) = all(&area).unwrap()[0] else {
            panic!()
        };
        assert_eq!(t.flag, TimestampFlag::TimestampsOnly);
        assert_eq!(t.overflow, 2);
        assert_eq!((t.slots(), t.filled()), (2, 1));
        assert_eq!(
            t.entries().next(),
            Some(TimestampEntry {
                address: None,
                timestamp: 7
            })
        );
        // flg 1: address and timestamp, full.
        let area = [68, 12, 13, 0x01, 192, 0, 2, 1, 0, 0, 1, 0];
        let Ipv4Option::Timestamp(t) = all(&area).unwrap()[0] else {
            panic!()
        };
        assert_eq!(t.flag, TimestampFlag::WithAddresses);
        assert!(t.is_full());
        assert_eq!(
            t.entries().collect::<Vec<_>>(),
            [TimestampEntry {
                address: Some(Ipv4Addr::new(192, 0, 2, 1)),
                timestamp: 256
            }]
        );
        // flg 3: prespecified addresses.
        let area = [68, 12, 5, 0x03, 192, 0, 2, 1, 0, 0, 0, 0];
        let Ipv4Option::Timestamp(t) = all(&area).unwrap()[0] else {
            panic!()
        };
        assert_eq!(t.flag, TimestampFlag::Prespecified);
        assert_eq!(t.filled(), 0);
    }

    #[test]
    fn rejects_undefined_timestamp_flag_rfc_791() {
        assert_eq!(
            all(&[68, 12, 5, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                kind: 68,
                offset: 23,
                reason: BadOptionReason::BadTimestampFlag
            })
        );
    }

    #[test]
    fn rejects_timestamp_with_partial_entry_rfc_791() {
        // flg 1 needs 8-byte entries: 10 bytes of data is malformed (as in
        // tcpdump's ip_ts_opts_asan capture).
        assert!(matches!(
            all(&[68, 14, 5, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                reason: BadOptionReason::BadLength,
                ..
            })
        ));
    }

    #[test]
    fn rejects_timestamp_pointer_below_five_or_misaligned_rfc_791() {
        for p in [0u8, 4, 6, 7, 8] {
            assert!(
                matches!(
                    all(&[68, 12, p, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                    Err(Error::BadOption {
                        reason: BadOptionReason::BadPointer,
                        ..
                    })
                ),
                "pointer {p}"
            );
        }
    }

    #[test]
    fn router_alert_must_have_length_four_rfc_2113() {
        assert_eq!(all(&[148, 4, 0, 1]).unwrap(), [Ipv4Option::RouterAlert(1)]);
        assert_eq!(
            all(&[148, 5, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadOption {
                kind: 148,
                offset: 21,
                reason: BadOptionReason::BadLength
            })
        );
        assert!(all(&[148, 2, 0, 0]).is_err());
    }

    #[test]
    fn keeps_security_and_unknown_options_raw_rfc_1108() {
        let area = [130, 6, 0xab, 0xcd, 0xef, 0x01, 136, 4, 0x12, 0x34];
        assert_eq!(
            all(&area).unwrap(),
            [
                Ipv4Option::Unknown {
                    kind: 130,
                    data: &[0xab, 0xcd, 0xef, 0x01]
                },
                Ipv4Option::Unknown {
                    kind: 136,
                    data: &[0x12, 0x34]
                },
            ]
        );
        assert!(
            Ipv4Option::Unknown {
                kind: 130,
                data: &[]
            }
            .is_copied()
        );
        assert!(
            !Ipv4Option::RecordRoute(RouteOption {
                pointer: 4,
                data: &[]
            })
            .is_copied()
        );
    }

    #[test]
    fn rejects_option_length_below_two_rfc_791() {
        for l in [0u8, 1] {
            assert_eq!(
                all(&[0x99, l, 0, 0]),
                Err(Error::BadOption {
                    kind: 0x99,
                    offset: 21,
                    reason: BadOptionReason::LengthTooShort
                })
            );
        }
    }

    #[test]
    fn rejects_option_longer_than_options_area_rfc_791() {
        assert_eq!(
            all(&[1, 0x99, 4, 0]),
            Err(Error::BadOption {
                kind: 0x99,
                offset: 22,
                reason: BadOptionReason::PastEnd
            })
        );
    }

    #[test]
    fn rejects_option_type_without_length_octet_rfc_791() {
        assert_eq!(
            all(&[1, 1, 1, 7]),
            Err(Error::BadOption {
                kind: 7,
                offset: 23,
                reason: BadOptionReason::MissingLength
            })
        );
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut it = Ipv4OptionIter::new(&[0x99, 0, 1, 1]);
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
    }

    #[test]
    fn push_rejects_malformed_and_oversized_options() {
        let mut b = Ipv4OptionsBuf::new();
        let bad = Ipv4Option::RecordRoute(RouteOption {
            pointer: 2,
            data: &[0; 4],
        });
        assert!(matches!(
            b.push(&bad),
            Err(Error::BadOption { offset: 22, .. })
        ));
        assert!(b.is_empty());
        assert!(
            b.push(&Ipv4Option::Unknown {
                kind: 1,
                data: &[1, 2]
            })
            .is_err(),
            "an 'unknown' NOP with data is not what it claims"
        );
        let big = Ipv4Option::Unknown {
            kind: 0x99,
            data: &[0; 38],
        };
        b.push(&big).unwrap();
        assert_eq!(b.len(), 40);
        assert_eq!(
            b.push(&Ipv4Option::NoOperation),
            Err(Error::OptionsTooLong { len: 41 })
        );
        assert_eq!(
            Ipv4OptionsBuf::from_bytes(&[1; 41]),
            Err(Error::OptionsTooLong { len: 41 })
        );
    }

    #[test]
    fn push_encodes_what_decode_reads() {
        let mut b = Ipv4OptionsBuf::new();
        let opts = [
            Ipv4Option::NoOperation,
            Ipv4Option::RouterAlert(0),
            Ipv4Option::StrictSourceRoute(RouteOption {
                pointer: 8,
                data: &[192, 0, 2, 1, 192, 0, 2, 2],
            }),
            Ipv4Option::Timestamp(TimestampOption {
                pointer: 13,
                overflow: 15,
                flag: TimestampFlag::WithAddresses,
                data: &[192, 0, 2, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0],
            }),
            Ipv4Option::EndOfList,
        ];
        for o in &opts {
            b.push(o).unwrap();
        }
        assert_eq!(b.iter().collect::<Result<Vec<_>, _>>().unwrap(), opts);
        assert_eq!(b.len(), 1 + 4 + 11 + 20 + 1);
        assert_eq!(b.padded_len(), 40);
    }
}
