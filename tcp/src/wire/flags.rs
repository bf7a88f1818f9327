//! The 12-bit TCP control-bit field.

use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Not, Sub};

/// The TCP control bits: the 12 bits after the data offset (RFC 9293
/// §3.1), the three reserved bits included so that nothing on the wire is
/// lost.
///
/// A small bit set in the style of the `bitflags` crate. [`Display`]
/// prints tcpdump's letters (`S.` for SYN+ACK, `none` when empty); the
/// alternate form `{:#}` prints tshark's twelve-character string
/// (`·······A··S·`), one position per bit from the most significant.
///
/// [`Display`]: fmt::Display
///
/// ```
/// use lamina_tcp::TcpFlags;
///
/// let f = TcpFlags::SYN | TcpFlags::ACK;
/// assert!(f.contains(TcpFlags::SYN));
/// assert_eq!(f.bits(), 0x012);
/// assert_eq!(format!("{f}"), "S.");
/// assert_eq!(format!("{f:#}"), "·······A··S·");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u16);

impl TcpFlags {
    /// FIN: no more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// SYN: synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// PSH: push function.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// ACK: the acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// URG: the urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECE: ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// CWR: congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// NS, the ECN nonce sum of RFC 3540 (historic), reassigned as AE by
    /// Accurate ECN.
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// The three bits still reserved (RFC 9293 §3.1: must be zero when
    /// sent, ignored when received).
    pub const RESERVED: TcpFlags = TcpFlags(0xe00);
    /// Every bit of the field.
    pub const ALL: TcpFlags = TcpFlags(0xfff);

    /// No bits set.
    #[inline]
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The flags from the 12-bit field, or `None` if `bits` has any of the
    /// upper four bits set.
    #[inline]
    pub const fn from_bits(bits: u16) -> Option<TcpFlags> {
        if bits & !Self::ALL.0 == 0 {
            Some(TcpFlags(bits))
        } else {
            None
        }
    }

    /// The flags from the low 12 bits of `bits`.
    #[inline]
    pub const fn from_bits_truncate(bits: u16) -> TcpFlags {
        TcpFlags(bits & Self::ALL.0)
    }

    /// The 12-bit field.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no bit is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits set in either.
    #[inline]
    #[must_use]
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// The bits set in both.
    #[inline]
    #[must_use]
    pub const fn intersection(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & other.0)
    }

    /// The bits of `self` not in `other`.
    #[inline]
    #[must_use]
    pub const fn difference(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }

    /// Sets the bits of `other`.
    #[inline]
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clears the bits of `other`.
    #[inline]
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }

    /// Flips the bits of `other`.
    #[inline]
    pub fn toggle(&mut self, other: TcpFlags) {
        self.0 ^= other.0;
    }

    /// Sets or clears the bits of `other`.
    #[inline]
    pub fn set(&mut self, other: TcpFlags, value: bool) {
        if value {
            self.insert(other)
        } else {
            self.remove(other)
        }
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl BitOrAssign for TcpFlags {
    #[inline]
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.insert(rhs)
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        self.intersection(rhs)
    }
}

impl BitAndAssign for TcpFlags {
    #[inline]
    fn bitand_assign(&mut self, rhs: TcpFlags) {
        self.0 &= rhs.0;
    }
}

impl BitXor for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn bitxor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 ^ rhs.0)
    }
}

impl BitXorAssign for TcpFlags {
    #[inline]
    fn bitxor_assign(&mut self, rhs: TcpFlags) {
        self.toggle(rhs)
    }
}

impl Sub for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn sub(self, rhs: TcpFlags) -> TcpFlags {
        self.difference(rhs)
    }
}

impl Not for TcpFlags {
    type Output = TcpFlags;
    /// The complement within the 12-bit field.
    #[inline]
    fn not(self) -> TcpFlags {
        TcpFlags(!self.0 & Self::ALL.0)
    }
}

/// Names for `Debug`, most significant bit first.
const NAMES: [(TcpFlags, &str); 10] = [
    (TcpFlags::RESERVED, "RESERVED"),
    (TcpFlags::NS, "NS"),
    (TcpFlags::CWR, "CWR"),
    (TcpFlags::ECE, "ECE"),
    (TcpFlags::URG, "URG"),
    (TcpFlags::ACK, "ACK"),
    (TcpFlags::PSH, "PSH"),
    (TcpFlags::RST, "RST"),
    (TcpFlags::SYN, "SYN"),
    (TcpFlags::FIN, "FIN"),
];

impl fmt::Debug for TcpFlags {
    /// `TcpFlags(SYN | ACK)`; reserved bits appear as
    /// `RESERVED(0x...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TcpFlags(")?;
        let mut first = true;
        for (flag, name) in NAMES {
            if !self.intersects(flag) {
                continue;
            }
            if !first {
                f.write_str(" | ")?;
            }
            first = false;
            if flag == TcpFlags::RESERVED {
                write!(f, "{name}({:#05x})", self.0 & flag.0)?;
            } else {
                f.write_str(name)?;
            }
        }
        if first {
            f.write_str("empty")?;
        }
        f.write_str(")")
    }
}

/// tcpdump's letters, in tcpdump's order.
const TCPDUMP: [(TcpFlags, char); 9] = [
    (TcpFlags::FIN, 'F'),
    (TcpFlags::SYN, 'S'),
    (TcpFlags::RST, 'R'),
    (TcpFlags::PSH, 'P'),
    (TcpFlags::ACK, '.'),
    (TcpFlags::URG, 'U'),
    (TcpFlags::ECE, 'E'),
    (TcpFlags::CWR, 'W'),
    (TcpFlags::NS, 'e'),
];

/// tshark's letters, one per bit from 0x800 down to 0x001.
const TSHARK: &[u8; 12] = b"RRRACEUAPRSF";

impl fmt::Display for TcpFlags {
    /// tcpdump's form (`FP.`, `S.`, `none`; reserved bits are not shown),
    /// or with `{:#}` tshark's twelve characters with `·` for clear bits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        if f.alternate() {
            for (i, letter) in TSHARK.iter().enumerate() {
                let bit = 0x800u16 >> i;
                if self.0 & bit != 0 {
                    f.write_char(char::from(*letter))?;
                } else {
                    f.write_char('·')?;
                }
            }
            return Ok(());
        }
        let mut any = false;
        for (flag, c) in TCPDUMP {
            if self.contains(flag) {
                f.write_char(c)?;
                any = true;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::LowerHex for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::UpperHex for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(&self.0, f)
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for TcpFlags {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<TcpFlags> {
        Ok(TcpFlags::from_bits_truncate(u16::arbitrary(u)?))
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        <u16 as arbitrary::Arbitrary<'a>>::size_hint(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn bit_positions_match_rfc9293_3_1_and_rfc3168() {
        assert_eq!(TcpFlags::FIN.bits(), 1);
        assert_eq!(TcpFlags::SYN.bits(), 1 << 1);
        assert_eq!(TcpFlags::RST.bits(), 1 << 2);
        assert_eq!(TcpFlags::PSH.bits(), 1 << 3);
        assert_eq!(TcpFlags::ACK.bits(), 1 << 4);
        assert_eq!(TcpFlags::URG.bits(), 1 << 5);
        assert_eq!(TcpFlags::ECE.bits(), 1 << 6);
        assert_eq!(TcpFlags::CWR.bits(), 1 << 7);
        assert_eq!(TcpFlags::NS.bits(), 1 << 8);
        assert_eq!(TcpFlags::RESERVED.bits(), 0b111 << 9);
    }

    #[test]
    fn set_operations_stay_within_twelve_bits() {
        let mut f = TcpFlags::SYN | TcpFlags::ACK;
        assert!(f.contains(TcpFlags::ACK) && !f.contains(TcpFlags::ACK | TcpFlags::FIN));
        assert!(f.intersects(TcpFlags::ACK | TcpFlags::FIN));
        f.remove(TcpFlags::SYN);
        assert_eq!(f, TcpFlags::ACK);
        f.set(TcpFlags::FIN, true);
        f.toggle(TcpFlags::ACK);
        assert_eq!(f, TcpFlags::FIN);
        assert_eq!((!TcpFlags::empty()), TcpFlags::ALL);
        assert_eq!(TcpFlags::ALL - TcpFlags::RESERVED, TcpFlags(0x1ff));
        assert_eq!(TcpFlags::from_bits(0x1000), None);
        assert_eq!(TcpFlags::from_bits_truncate(0xf012), TcpFlags(0x012));
        assert_eq!(format!("{:#06x}", TcpFlags::ALL), "0x0fff");
    }

    #[test]
    fn displays_like_tcpdump() {
        assert_eq!(format!("{}", TcpFlags::SYN), "S");
        assert_eq!(format!("{}", TcpFlags::SYN | TcpFlags::ACK), "S.");
        assert_eq!(
            format!("{}", TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK),
            "FP."
        );
        assert_eq!(
            format!("{}", TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR),
            "SEW"
        );
        assert_eq!(format!("{}", TcpFlags::empty()), "none");
        assert_eq!(format!("{}", TcpFlags::RESERVED), "none");
        assert_eq!(format!("{}", TcpFlags(0x0ff)), "FSRP.UEW");
    }

    #[test]
    fn alternate_display_is_tsharks_flag_string() {
        assert_eq!(format!("{:#}", TcpFlags::SYN), "··········S·");
        assert_eq!(format!("{:#}", TcpFlags(0x0ff)), "····CEUAPRSF");
        assert_eq!(format!("{:#}", TcpFlags::ALL), "RRRACEUAPRSF");
    }

    #[test]
    fn debug_names_each_bit() {
        assert_eq!(
            format!("{:?}", TcpFlags::SYN | TcpFlags::ACK),
            "TcpFlags(ACK | SYN)"
        );
        assert_eq!(format!("{:?}", TcpFlags::empty()), "TcpFlags(empty)");
        assert_eq!(
            format!("{:?}", TcpFlags(0x201)),
            "TcpFlags(RESERVED(0x200) | FIN)"
        );
    }
}
