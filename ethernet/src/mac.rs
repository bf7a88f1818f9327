//! MAC (IEEE 802 EUI-48) addresses.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::Error;

/// A 48-bit IEEE 802 MAC address, stored in transmission order.
///
/// The type is one byte-aligned array, so it can sit directly in zerocopy
/// header structs ([`EthernetHeader`](crate::EthernetHeader), ARP).
///
/// It prints as six lowercase, colon-separated hex pairs and parses from
/// colon- or hyphen-separated hex:
///
/// ```
/// use lamina_ethernet::MacAddr;
///
/// let mac: MacAddr = "02-00-5E-10-00-01".parse()?;
/// assert_eq!(mac.to_string(), "02:00:5e:10:00:01");
/// assert!(mac.is_local() && mac.is_unicast());
/// assert!("02:00:5e:10:00".parse::<MacAddr>().is_err());
/// # Ok::<(), lamina_ethernet::Error>(())
/// ```
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(transparent)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address, `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address, `00:00:00:00:00:00` (an ARP request's unknown
    /// target).
    pub const UNSPECIFIED: MacAddr = MacAddr([0; 6]);

    /// An address from its six octets in transmission order.
    #[inline]
    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) -> MacAddr {
        MacAddr([a, b, c, d, e, f])
    }

    /// The first six bytes of `bytes` as an address, or `None` if there
    /// are fewer than six.
    #[inline]
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        bytes.first_chunk::<6>().map(|b| MacAddr(*b))
    }

    /// The six octets in transmission order.
    #[inline]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The octets as a slice.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is `ff:ff:ff:ff:ff:ff`.
    #[inline]
    pub const fn is_broadcast(&self) -> bool {
        u64::from_be_bytes([
            0, 0, self.0[0], self.0[1], self.0[2], self.0[3], self.0[4], self.0[5],
        ]) == 0xffff_ffff_ffff
    }

    /// Whether this is `00:00:00:00:00:00`.
    #[inline]
    pub const fn is_unspecified(&self) -> bool {
        u64::from_be_bytes([
            0, 0, self.0[0], self.0[1], self.0[2], self.0[3], self.0[4], self.0[5],
        ]) == 0
    }

    /// Whether the individual/group bit (the least significant bit of the
    /// first octet, IEEE 802 §8.2) is set: a multicast address. Broadcast is
    /// a multicast address too.
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether the address names a single station (group bit clear).
    #[inline]
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the universal/local bit (the second least significant bit of
    /// the first octet) is set: a locally administered address, as used by
    /// virtual interfaces.
    #[inline]
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// Whether the address is universally administered (an OUI assigned by
    /// the IEEE): the universal/local bit is clear.
    #[inline]
    pub const fn is_universal(&self) -> bool {
        !self.is_local()
    }

    /// The Ethernet group address an IPv4 multicast group maps to
    /// (RFC 1112 §6.4): `01:00:5e` followed by the low 23 bits of the
    /// group. The caller checks that `group` is a multicast address; any
    /// address is mapped the same way.
    #[inline]
    pub const fn from_ipv4_multicast(group: Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
}

impl From<[u8; 6]> for MacAddr {
    #[inline]
    fn from(octets: [u8; 6]) -> MacAddr {
        MacAddr(octets)
    }
}

impl From<MacAddr> for [u8; 6] {
    #[inline]
    fn from(mac: MacAddr) -> [u8; 6] {
        mac.0
    }
}

impl AsRef<[u8]> for MacAddr {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The value of one ASCII hex digit.
#[inline]
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    /// Parses six groups of one or two hex digits (either case), separated
    /// all by `:` or all by `-`: `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`,
    /// `0:1:2:a:b:c`. Anything else is [`Error::BadMacAddr`].
    fn from_str(s: &str) -> Result<MacAddr, Error> {
        let sep = if s.contains(':') { ':' } else { '-' };
        let mut out = [0u8; 6];
        let mut groups = s.split(sep);
        for slot in &mut out {
            let group = groups.next().ok_or(Error::BadMacAddr)?.as_bytes();
            *slot = match *group {
                [d] => hex_digit(d).ok_or(Error::BadMacAddr)?,
                [h, l] => {
                    let h = hex_digit(h).ok_or(Error::BadMacAddr)?;
                    let l = hex_digit(l).ok_or(Error::BadMacAddr)?;
                    (h << 4) | l
                }
                _ => return Err(Error::BadMacAddr),
            };
        }
        if groups.next().is_some() {
            return Err(Error::BadMacAddr);
        }
        Ok(MacAddr(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn broadcast_is_multicast_and_not_unicast() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::BROADCAST.is_unicast());
        assert!(!MacAddr::UNSPECIFIED.is_broadcast());
        assert!(MacAddr::UNSPECIFIED.is_unspecified());
        assert!(!MacAddr::new(0xff, 0xff, 0xff, 0xff, 0xff, 0xfe).is_broadcast());
    }

    /// IEEE 802-2014 §8.2: the I/G bit is the LSB of the first octet and
    /// the U/L bit the next one.
    #[test]
    fn group_and_local_bits_follow_ieee_802_8_2() {
        let universal_unicast = MacAddr::new(0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e);
        assert!(universal_unicast.is_unicast() && universal_unicast.is_universal());
        let local_unicast = MacAddr::new(0x02, 0, 0, 0, 0, 1);
        assert!(local_unicast.is_unicast() && local_unicast.is_local());
        let multicast = MacAddr::new(0x01, 0x00, 0x5e, 0, 0, 1);
        assert!(multicast.is_multicast() && multicast.is_universal());
        let local_multicast = MacAddr::new(0x03, 0, 0, 0, 0, 1);
        assert!(local_multicast.is_multicast() && local_multicast.is_local());
    }

    #[test]
    fn displays_lowercase_colon_separated() {
        let mac = MacAddr::new(0xAB, 0x0c, 0xDE, 0x01, 0x00, 0xff);
        assert_eq!(mac.to_string(), "ab:0c:de:01:00:ff");
        assert_eq!(alloc::format!("{mac:?}"), "ab:0c:de:01:00:ff");
    }

    #[test]
    fn parses_colon_and_hyphen_forms() {
        let want = MacAddr::new(0x6c, 0xf0, 0x49, 0xb2, 0xde, 0x6e);
        assert_eq!("6c:f0:49:b2:de:6e".parse(), Ok(want));
        assert_eq!("6C-F0-49-B2-DE-6E".parse(), Ok(want));
        assert_eq!(
            "0:1:2:a:b:c".parse(),
            Ok(MacAddr::new(0, 1, 2, 0xa, 0xb, 0xc))
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            ":",
            "6c:f0:49:b2:de",
            "6c:f0:49:b2:de:6e:",
            "6c:f0:49:b2:de:6e:00",
            "6c:f0:49-b2:de:6e",
            "6c:f0:49:b2:de:6g",
            "6c:f0:49:b2:de:+e",
            "6c:f0:49:b2:de:06e",
            "6c::49:b2:de:6e",
            "6cf049b2de6e",
            " 6c:f0:49:b2:de:6e",
            "6c:f0:49:b2:de:é",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(Error::BadMacAddr), "{bad:?}");
        }
    }

    #[test]
    fn display_then_parse_is_identity() {
        for seed in 0u8..=255 {
            let mac = MacAddr([
                seed,
                seed ^ 0x5a,
                seed.wrapping_mul(7),
                0,
                0xff,
                seed.rotate_left(3),
            ]);
            assert_eq!(mac.to_string().parse(), Ok(mac));
        }
    }

    /// RFC 1112 §6.4: the low-order 23 bits of the group go into
    /// 01-00-5E-00-00-00.
    #[test]
    fn maps_ipv4_multicast_groups_per_rfc_1112_6_4() {
        assert_eq!(
            MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 251)),
            MacAddr::new(0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb)
        );
        assert_eq!(
            MacAddr::from_ipv4_multicast(Ipv4Addr::new(239, 255, 255, 250)),
            MacAddr::new(0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa)
        );
        assert_eq!(
            MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 128, 0, 1)),
            MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1))
        );
    }

    #[test]
    fn converts_to_and_from_arrays_and_slices() {
        let o = [1, 2, 3, 4, 5, 6];
        assert_eq!(MacAddr::from(o).octets(), o);
        assert_eq!(<[u8; 6]>::from(MacAddr(o)), o);
        assert_eq!(
            MacAddr::from_slice(&[1, 2, 3, 4, 5, 6, 7]),
            Some(MacAddr(o))
        );
        assert_eq!(MacAddr::from_slice(&[1, 2, 3, 4, 5]), None);
    }
}
