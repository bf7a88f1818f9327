//! CIDR blocks and address classification.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use crate::Error;

/// An IPv4 address with a prefix length: `192.0.2.1/24` (RFC 4632).
///
/// The address may have host bits set (an interface address carries its
/// host part); [`normalized`](Self::normalized) clears them to give the
/// network block itself, as a routing table stores it.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_ipv4::Ipv4Cidr;
///
/// let cidr: Ipv4Cidr = "192.0.2.77/24".parse()?;
/// assert_eq!(cidr.network(), Ipv4Addr::new(192, 0, 2, 0));
/// assert_eq!(cidr.broadcast(), Some(Ipv4Addr::new(192, 0, 2, 255)));
/// assert_eq!(cidr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
/// assert!(cidr.contains(Ipv4Addr::new(192, 0, 2, 200)));
/// assert_eq!(cidr.normalized().to_string(), "192.0.2.0/24");
/// # Ok::<(), lamina_ipv4::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    address: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// A CIDR of `address` and `prefix_len`, keeping any host bits.
    /// Fails with [`Error::BadPrefixLength`] if `prefix_len > 32`.
    #[inline]
    pub const fn new(address: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Cidr, Error> {
        if prefix_len > 32 {
            return Err(Error::BadPrefixLength { prefix_len });
        }
        Ok(Ipv4Cidr {
            address,
            prefix_len,
        })
    }

    /// A CIDR of `address` and `prefix_len`, for callers that know the
    /// length is at most 32 (larger values are clamped to 32).
    #[inline]
    pub(crate) const fn new_clamped(address: Ipv4Addr, prefix_len: u8) -> Ipv4Cidr {
        Ipv4Cidr {
            address,
            prefix_len: if prefix_len > 32 { 32 } else { prefix_len },
        }
    }

    /// A CIDR from an address and a dotted netmask (`255.255.255.0` gives
    /// `/24`). Fails with [`Error::BadNetmask`] if the mask's one bits are
    /// not contiguous from the top.
    pub const fn from_netmask(address: Ipv4Addr, netmask: Ipv4Addr) -> Result<Ipv4Cidr, Error> {
        let m = netmask.to_bits();
        let ones = m.leading_ones();
        let rest = match m.checked_shl(ones) {
            Some(r) => r,
            None => 0,
        };
        if rest != 0 {
            return Err(Error::BadNetmask);
        }
        Ok(Ipv4Cidr {
            address,
            prefix_len: ones as u8,
        })
    }

    /// The address, host bits included.
    #[inline]
    pub const fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The prefix length, 0 to 32.
    #[inline]
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    #[inline]
    const fn mask_bits(&self) -> u32 {
        // prefix_len <= 32 by construction; a shift by 32 gives None.
        match u32::MAX.checked_shl(32 - self.prefix_len as u32) {
            Some(m) => m,
            None => 0,
        }
    }

    /// The netmask: `prefix_len` one bits from the top.
    #[inline]
    pub const fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.mask_bits())
    }

    /// The network address: the address with its host bits cleared.
    #[inline]
    pub const fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.address.to_bits() & self.mask_bits())
    }

    /// The directed broadcast address (all host bits set), or `None` for
    /// `/31` (point-to-point links, RFC 3021) and `/32`, which have none.
    #[inline]
    pub const fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        Some(Ipv4Addr::from_bits(
            self.address.to_bits() | !self.mask_bits(),
        ))
    }

    /// The same block with its host bits cleared (`192.0.2.77/24` becomes
    /// `192.0.2.0/24`).
    #[inline]
    pub const fn normalized(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            address: self.network(),
            prefix_len: self.prefix_len,
        }
    }

    /// Whether no host bits are set.
    #[inline]
    pub const fn is_normalized(&self) -> bool {
        self.address.to_bits() & !self.mask_bits() == 0
    }

    /// Whether `addr` lies in this block.
    #[inline]
    pub const fn contains(&self, addr: Ipv4Addr) -> bool {
        (addr.to_bits() ^ self.address.to_bits()) & self.mask_bits() == 0
    }

    /// Whether the whole of `other` lies in this block (its prefix is at
    /// least as long and its network is inside).
    #[inline]
    pub const fn contains_cidr(&self, other: &Ipv4Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.address)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    /// Parses `a.b.c.d/len`, `len` in decimal from 0 to 32.
    fn from_str(s: &str) -> Result<Ipv4Cidr, Error> {
        let (addr, len) = s.split_once('/').ok_or(Error::BadCidrSyntax)?;
        let address: Ipv4Addr = addr.parse().map_err(|_| Error::BadCidrSyntax)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::BadCidrSyntax);
        }
        let n: u16 = len.parse().map_err(|_| Error::BadCidrSyntax)?;
        let prefix_len = u8::try_from(n).map_err(|_| Error::BadPrefixLength { prefix_len: 255 })?;
        Ipv4Cidr::new(address, prefix_len)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Ipv4Cidr {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Ipv4Cidr {
            address: Ipv4Addr::from_bits(u.arbitrary()?),
            prefix_len: u.int_in_range(0..=32)?,
        })
    }
}

/// Address classification used by forwarding and input checks (RFC 1122
/// §3.2.1.3, RFC 1812 §4.2.2.11 and §5.3.7, RFC 6890), beyond what
/// [`Ipv4Addr`] offers itself (`is_loopback`, `is_multicast`,
/// `is_broadcast`, `is_unspecified`, `is_private`, `is_link_local`).
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_ipv4::Ipv4AddrExt;
///
/// assert!(Ipv4Addr::new(127, 0, 0, 1).is_martian_source());
/// assert!(Ipv4Addr::new(224, 0, 0, 5).is_martian_source());
/// assert!(!Ipv4Addr::new(192, 0, 2, 1).is_martian_source());
/// assert!(Ipv4Addr::new(240, 0, 0, 1).is_reserved_class_e());
/// ```
pub trait Ipv4AddrExt {
    /// In `0.0.0.0/8`, "this host on this network" (RFC 1122 §3.2.1.3
    /// (a), (b)): valid only as a source during initialization.
    fn is_this_network(&self) -> bool;

    /// In `240.0.0.0/4` (former class E, reserved), excluding the limited
    /// broadcast `255.255.255.255`.
    fn is_reserved_class_e(&self) -> bool;

    /// A source address a router must not forward and a host should
    /// discard (RFC 1812 §5.3.7, RFC 1122 §3.2.1.3): `0.0.0.0/8`,
    /// loopback `127.0.0.0/8`, multicast `224.0.0.0/4`, class E
    /// `240.0.0.0/4`, and the limited broadcast.
    fn is_martian_source(&self) -> bool;

    /// A destination address that must never be forwarded (RFC 1812
    /// §5.3.7): `0.0.0.0/8`, loopback `127.0.0.0/8`, and class E
    /// `240.0.0.0/4` (the limited broadcast is valid but never forwarded
    /// either, see [`Ipv4Addr::is_broadcast`]).
    fn is_martian_destination(&self) -> bool;
}

impl Ipv4AddrExt for Ipv4Addr {
    #[inline]
    fn is_this_network(&self) -> bool {
        self.octets()[0] == 0
    }

    #[inline]
    fn is_reserved_class_e(&self) -> bool {
        self.octets()[0] >= 240 && !self.is_broadcast()
    }

    #[inline]
    fn is_martian_source(&self) -> bool {
        self.is_this_network()
            || self.is_loopback()
            || self.is_multicast()
            || self.octets()[0] >= 240
    }

    #[inline]
    fn is_martian_destination(&self) -> bool {
        self.is_this_network() || self.is_loopback() || self.is_reserved_class_e()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn rejects_prefix_longer_than_32() {
        assert_eq!(
            Ipv4Cidr::new(a("192.0.2.0"), 33),
            Err(Error::BadPrefixLength { prefix_len: 33 })
        );
        assert_eq!(
            "192.0.2.0/33".parse::<Ipv4Cidr>(),
            Err(Error::BadPrefixLength { prefix_len: 33 })
        );
        assert!(Ipv4Cidr::new(a("192.0.2.0"), 32).is_ok());
    }

    #[test]
    fn network_broadcast_and_netmask_follow_rfc_4632() {
        let c = Ipv4Cidr::new(a("198.51.100.77"), 26).unwrap();
        assert_eq!(c.network(), a("198.51.100.64"));
        assert_eq!(c.broadcast(), Some(a("198.51.100.127")));
        assert_eq!(c.netmask(), a("255.255.255.192"));
        assert!(!c.is_normalized());
        assert!(c.normalized().is_normalized());
        assert_eq!(c.normalized().address(), a("198.51.100.64"));
    }

    #[test]
    fn zero_prefix_contains_everything() {
        let c = Ipv4Cidr::new(a("10.1.2.3"), 0).unwrap();
        assert_eq!(c.netmask(), a("0.0.0.0"));
        assert_eq!(c.network(), a("0.0.0.0"));
        assert_eq!(c.broadcast(), Some(a("255.255.255.255")));
        assert!(c.contains(a("203.0.113.9")));
        assert!(c.contains_cidr(&Ipv4Cidr::new(a("192.0.2.0"), 24).unwrap()));
    }

    #[test]
    fn point_to_point_prefixes_have_no_broadcast_rfc_3021() {
        assert_eq!(Ipv4Cidr::new(a("192.0.2.0"), 31).unwrap().broadcast(), None);
        let host = Ipv4Cidr::new(a("192.0.2.9"), 32).unwrap();
        assert_eq!(host.broadcast(), None);
        assert!(host.contains(a("192.0.2.9")));
        assert!(!host.contains(a("192.0.2.8")));
        assert_eq!(host.netmask(), a("255.255.255.255"));
    }

    #[test]
    fn contains_cidr_requires_a_longer_prefix_inside() {
        let outer = Ipv4Cidr::new(a("192.0.2.0"), 24).unwrap();
        assert!(outer.contains_cidr(&Ipv4Cidr::new(a("192.0.2.128"), 25).unwrap()));
        assert!(outer.contains_cidr(&outer));
        assert!(!outer.contains_cidr(&Ipv4Cidr::new(a("192.0.0.0"), 16).unwrap()));
        assert!(!outer.contains_cidr(&Ipv4Cidr::new(a("192.0.3.0"), 25).unwrap()));
    }

    #[test]
    fn display_and_from_str_round_trip() {
        let c: Ipv4Cidr = "192.0.2.0/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.0.2.0/24");
        assert_eq!(c, Ipv4Cidr::new(a("192.0.2.0"), 24).unwrap());
        for bad in [
            "192.0.2.0",
            "192.0.2.0/",
            "192.0.2/24",
            "192.0.2.0/+4",
            "192.0.2.0/1000",
            "/24",
            "x/1",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn from_netmask_rejects_holes() {
        let c = Ipv4Cidr::from_netmask(a("192.0.2.1"), a("255.255.254.0")).unwrap();
        assert_eq!(c.prefix_len(), 23);
        assert_eq!(
            Ipv4Cidr::from_netmask(a("192.0.2.1"), a("0.0.0.0"))
                .unwrap()
                .prefix_len(),
            0
        );
        assert_eq!(
            Ipv4Cidr::from_netmask(a("192.0.2.1"), a("255.255.255.255"))
                .unwrap()
                .prefix_len(),
            32
        );
        assert_eq!(
            Ipv4Cidr::from_netmask(a("192.0.2.1"), a("255.0.255.0")),
            Err(Error::BadNetmask)
        );
    }

    #[test]
    fn martian_sources_per_rfc_1812_section_5_3_7() {
        for m in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(a(m).is_martian_source(), "{m}");
        }
        for ok in ["192.0.2.1", "10.0.0.1", "223.255.255.255"] {
            assert!(!a(ok).is_martian_source(), "{ok}");
        }
    }

    #[test]
    fn martian_destinations_exclude_multicast_and_broadcast() {
        assert!(a("0.0.0.1").is_martian_destination());
        assert!(a("127.1.1.1").is_martian_destination());
        assert!(a("250.0.0.1").is_martian_destination());
        assert!(!a("255.255.255.255").is_martian_destination());
        assert!(!a("224.0.0.5").is_martian_destination());
        assert!(!a("255.255.255.255").is_reserved_class_e());
    }
}
