//! EtherType values (IEEE 802.3 §3.2.6 "Length/Type").

use core::fmt;

/// The 16-bit Length/Type field of an Ethernet frame, in host order.
///
/// IEEE 802.3 §3.2.6 gives the field two meanings: values of at least
/// 0x0600 ([`MIN_TYPE`](Self::MIN_TYPE)) name the protocol of the payload
/// (an EtherType); smaller values are the length of an 802.3 frame's
/// LLC payload. The standard leaves 1501..=1535 undefined; this crate
/// treats every value below 0x0600 as a length and checks it against the
/// frame.
///
/// ```
/// use lamina_ethernet::EtherType;
///
/// assert_eq!(EtherType::IPV4.to_string(), "IPv4");
/// assert_eq!(EtherType(0x1234).to_string(), "0x1234");
/// assert!(EtherType(46).is_length() && !EtherType::ARP.is_length());
/// assert!(EtherType::QINQ.is_vlan_tpid());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct EtherType(pub u16);

impl EtherType {
    /// The smallest value that is a type rather than a length (1536).
    pub const MIN_TYPE: u16 = 0x0600;
    /// The largest length of an 802.3 frame's payload (1500).
    pub const MAX_LENGTH: u16 = 1500;

    /// Internet Protocol version 4 (RFC 894).
    pub const IPV4: EtherType = EtherType(0x0800);
    /// Address Resolution Protocol (RFC 826).
    pub const ARP: EtherType = EtherType(0x0806);
    /// Wake-on-LAN magic packet.
    pub const WAKE_ON_LAN: EtherType = EtherType(0x0842);
    /// Transparent Ethernet Bridging (Ethernet in GRE, RFC 1701).
    pub const TRANSPARENT_ETHERNET_BRIDGING: EtherType = EtherType(0x6558);
    /// Reverse ARP (RFC 903).
    pub const RARP: EtherType = EtherType(0x8035);
    /// IEEE 802.1Q customer VLAN tag (C-tag) TPID.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// Internet Protocol version 6 (RFC 8200).
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// IEEE 802.3 MAC control (PAUSE flow control).
    pub const MAC_CONTROL: EtherType = EtherType(0x8808);
    /// MPLS unicast (RFC 3032).
    pub const MPLS: EtherType = EtherType(0x8847);
    /// MPLS multicast (RFC 5332).
    pub const MPLS_MULTICAST: EtherType = EtherType(0x8848);
    /// PPP over Ethernet discovery stage (RFC 2516).
    pub const PPPOE_DISCOVERY: EtherType = EtherType(0x8863);
    /// PPP over Ethernet session stage (RFC 2516).
    pub const PPPOE_SESSION: EtherType = EtherType(0x8864);
    /// EAP over LAN (IEEE 802.1X).
    pub const EAPOL: EtherType = EtherType(0x888e);
    /// IEEE 802.1ad service VLAN tag (S-tag, "QinQ") TPID.
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// ERSPAN type II (GRE protocol type).
    pub const ERSPAN: EtherType = EtherType(0x88be);
    /// Link Layer Discovery Protocol (IEEE 802.1AB).
    pub const LLDP: EtherType = EtherType(0x88cc);
    /// MAC security (IEEE 802.1AE).
    pub const MACSEC: EtherType = EtherType(0x88e5);
    /// Precision Time Protocol over Ethernet (IEEE 1588).
    pub const PTP: EtherType = EtherType(0x88f7);
    /// The pre-standard QinQ outer-tag TPID some switches still send.
    pub const QINQ_LEGACY: EtherType = EtherType(0x9100);

    /// The raw 16-bit value.
    #[inline]
    pub const fn value(self) -> u16 {
        self.0
    }

    /// Whether the field is an 802.3 length (below 0x0600) rather than a
    /// protocol type.
    #[inline]
    pub const fn is_length(self) -> bool {
        self.0 < Self::MIN_TYPE
    }

    /// Whether the field names a protocol (at least 0x0600).
    #[inline]
    pub const fn is_type(self) -> bool {
        !self.is_length()
    }

    /// Whether the value is a VLAN tag protocol identifier this crate
    /// parses as a tag: 802.1Q (0x8100), 802.1ad (0x88a8) or the legacy
    /// QinQ value 0x9100.
    #[inline]
    pub const fn is_vlan_tpid(self) -> bool {
        matches!(self.0, 0x8100 | 0x88a8 | 0x9100)
    }

    /// The protocol's short name, for the values with a constant here.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0800 => "IPv4",
            0x0806 => "ARP",
            0x0842 => "Wake-on-LAN",
            0x6558 => "TEB",
            0x8035 => "RARP",
            0x8100 => "802.1Q",
            0x86dd => "IPv6",
            0x8808 => "MAC-Control",
            0x8847 => "MPLS",
            0x8848 => "MPLS-multicast",
            0x8863 => "PPPoE-Discovery",
            0x8864 => "PPPoE-Session",
            0x888e => "EAPOL",
            0x88a8 => "802.1ad",
            0x88be => "ERSPAN",
            0x88cc => "LLDP",
            0x88e5 => "MACsec",
            0x88f7 => "PTP",
            0x9100 => "QinQ-legacy",
            _ => return None,
        })
    }
}

impl From<u16> for EtherType {
    #[inline]
    fn from(v: u16) -> EtherType {
        EtherType(v)
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(t: EtherType) -> u16 {
        t.0
    }
}

/// The name for known types, `length N` for 802.3 lengths, and the value
/// as `0x` and four hex digits otherwise.
impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if self.is_length() => write!(f, "length {}", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

/// As [`Display`](fmt::Display), plus the hex value for named types:
/// `IPv4 (0x0800)`.
impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => fmt::Display::fmt(self, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    /// IEEE 802.3 §3.2.6: values at or above 1536 (0x0600) are types,
    /// values up to 1500 are lengths.
    #[test]
    fn splits_length_from_type_at_0x0600() {
        assert!(EtherType(0).is_length());
        assert!(EtherType(1500).is_length());
        assert!(EtherType(0x05ff).is_length());
        assert!(EtherType(0x0600).is_type());
        assert!(EtherType::IPV4.is_type());
        assert!(EtherType(0xffff).is_type());
    }

    /// IEEE 802.1Q-2018 §9.5 (C-VLAN 0x8100, S-VLAN 0x88a8).
    #[test]
    fn recognises_vlan_tpids() {
        assert!(EtherType::VLAN.is_vlan_tpid());
        assert!(EtherType::QINQ.is_vlan_tpid());
        assert!(EtherType::QINQ_LEGACY.is_vlan_tpid());
        assert!(!EtherType::IPV4.is_vlan_tpid());
        assert!(!EtherType(0x9200).is_vlan_tpid());
    }

    #[test]
    fn formats_name_or_hex() {
        assert_eq!(EtherType::ARP.to_string(), "ARP");
        assert_eq!(EtherType::IPV6.to_string(), "IPv6");
        assert_eq!(EtherType(0x1234).to_string(), "0x1234");
        assert_eq!(EtherType(0x0026).to_string(), "length 38");
        assert_eq!(format!("{:?}", EtherType::VLAN), "802.1Q (0x8100)");
        assert_eq!(format!("{:?}", EtherType(0xabcd)), "0xabcd");
    }

    #[test]
    fn every_named_constant_has_a_name() {
        for t in [
            EtherType::IPV4,
            EtherType::ARP,
            EtherType::WAKE_ON_LAN,
            EtherType::TRANSPARENT_ETHERNET_BRIDGING,
            EtherType::RARP,
            EtherType::VLAN,
            EtherType::IPV6,
            EtherType::MAC_CONTROL,
            EtherType::MPLS,
            EtherType::MPLS_MULTICAST,
            EtherType::PPPOE_DISCOVERY,
            EtherType::PPPOE_SESSION,
            EtherType::EAPOL,
            EtherType::QINQ,
            EtherType::ERSPAN,
            EtherType::LLDP,
            EtherType::MACSEC,
            EtherType::PTP,
            EtherType::QINQ_LEGACY,
        ] {
            assert!(t.name().is_some(), "{:#06x}", t.0);
            assert_eq!(u16::from(t), t.value());
        }
    }
}
