//! What a device can do: [`Capabilities`], [`Medium`] and checksum offloads.

use core::fmt;

/// What a device carries at layer 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Medium {
    /// Ethernet II frames: a 14-byte header (destination, source,
    /// EtherType) before the payload; no preamble and no FCS.
    #[default]
    Ethernet,
    /// Bare IP packets with no link header (a TUN device, a point-to-point
    /// link, `LINKTYPE_RAW` captures).
    Ip,
}

impl Medium {
    /// Length of the link header the stack writes before the IP packet:
    /// 14 for Ethernet (without VLAN tags), 0 for raw IP.
    pub const fn header_len(self) -> usize {
        match self {
            Medium::Ethernet => 14,
            Medium::Ip => 0,
        }
    }
}

/// A protocol whose checksum a device may compute on transmit or verify on
/// receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumProto {
    /// The IPv4 header checksum (RFC 791 section 3.1).
    Ipv4,
    /// The TCP checksum over pseudo-header and segment (RFC 9293 section 3.1).
    Tcp,
    /// The UDP checksum over pseudo-header and datagram (RFC 768).
    Udp,
    /// The ICMPv4 checksum (RFC 792).
    Icmpv4,
}

impl ChecksumProto {
    /// Every protocol, in declaration order.
    pub const ALL: [ChecksumProto; 4] = [
        ChecksumProto::Ipv4,
        ChecksumProto::Tcp,
        ChecksumProto::Udp,
        ChecksumProto::Icmpv4,
    ];

    const fn bit(self) -> u8 {
        match self {
            ChecksumProto::Ipv4 => 1,
            ChecksumProto::Tcp => 2,
            ChecksumProto::Udp => 4,
            ChecksumProto::Icmpv4 => 8,
        }
    }
}

/// A set of [`ChecksumProto`]s: which checksums a device offloads, or which
/// it verified for one frame.
///
/// ```
/// use lamina_netdev::{ChecksumProto, ChecksumSet};
/// let set = ChecksumSet::EMPTY.with(ChecksumProto::Tcp).with(ChecksumProto::Udp);
/// assert!(set.contains(ChecksumProto::Tcp));
/// assert!(!set.contains(ChecksumProto::Ipv4));
/// assert_eq!(set.intersection(ChecksumSet::of(ChecksumProto::Udp)), ChecksumSet::of(ChecksumProto::Udp));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChecksumSet(u8);

impl ChecksumSet {
    /// The set as bits (one per [`ChecksumProto`]).
    #[inline]
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// The set of `bits` (as [`bits`](Self::bits) gives them).
    #[inline]
    pub(crate) const fn from_bits(bits: u8) -> ChecksumSet {
        ChecksumSet(bits & Self::ALL.0)
    }

    /// No protocol.
    pub const EMPTY: ChecksumSet = ChecksumSet(0);
    /// Every protocol.
    pub const ALL: ChecksumSet = ChecksumSet(0b1111);

    /// The set holding only `proto`.
    pub const fn of(proto: ChecksumProto) -> ChecksumSet {
        ChecksumSet(proto.bit())
    }

    /// This set plus `proto`.
    #[must_use]
    pub const fn with(self, proto: ChecksumProto) -> ChecksumSet {
        ChecksumSet(self.0 | proto.bit())
    }

    /// This set without `proto`.
    #[must_use]
    pub const fn without(self, proto: ChecksumProto) -> ChecksumSet {
        ChecksumSet(self.0 & !proto.bit())
    }

    /// Whether `proto` is in the set.
    pub const fn contains(self, proto: ChecksumProto) -> bool {
        self.0 & proto.bit() != 0
    }

    /// Protocols in either set.
    #[must_use]
    pub const fn union(self, other: ChecksumSet) -> ChecksumSet {
        ChecksumSet(self.0 | other.0)
    }

    /// Protocols in both sets.
    #[must_use]
    pub const fn intersection(self, other: ChecksumSet) -> ChecksumSet {
        ChecksumSet(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for ChecksumSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(ChecksumProto::ALL.iter().filter(|p| self.contains(**p)))
            .finish()
    }
}

/// Checksum offloads per protocol and direction.
///
/// - `tx`: for these protocols the stack may leave the checksum to the
///   device. It then describes the frame in
///   [`TxMeta`](crate::TxMeta) (`checksum_offload`, header offsets) and
///   writes the checksum field as the partial sum the device expects
///   (the pseudo-header sum for TCP/UDP, as Linux's `CHECKSUM_PARTIAL`).
/// - `rx`: the device may verify these checksums on receive; it reports per
///   frame which ones it verified in [`RxMeta`](crate::RxMeta)
///   (`checksum_verified`), and the stack skips exactly those. A frame
///   whose checksum failed is either dropped by the device (counted in
///   `rx_errors`) or delivered without the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChecksumCapabilities {
    /// Checksums the device verifies on receive.
    pub rx: ChecksumSet,
    /// Checksums the device computes on transmit.
    pub tx: ChecksumSet,
}

impl ChecksumCapabilities {
    /// No offload: the stack computes and verifies every checksum.
    pub const NONE: ChecksumCapabilities = ChecksumCapabilities {
        rx: ChecksumSet::EMPTY,
        tx: ChecksumSet::EMPTY,
    };
    /// Every checksum offloaded in both directions.
    pub const ALL: ChecksumCapabilities = ChecksumCapabilities {
        rx: ChecksumSet::ALL,
        tx: ChecksumSet::ALL,
    };
}

/// TCP segmentation offload: the device cuts one large TCP/IPv4 frame into
/// segments of the MSS given in [`TxMeta::tso_mss`](crate::TxMeta::tso_mss),
/// replicating and fixing up the headers (IPv4 total length, ID and
/// checksum; TCP sequence number, flags and checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Tso {
    /// The longest frame, headers included, the stack may hand over with
    /// segmentation requested.
    pub max_len: usize,
}

impl Tso {
    /// Segmentation of frames up to `max_len` bytes.
    pub const fn new(max_len: usize) -> Tso {
        Tso { max_len }
    }
}

/// What a device can do, so that the stack honours what the hardware does.
///
/// ```
/// use lamina_netdev::{Capabilities, ChecksumCapabilities, Medium};
/// let caps = Capabilities::new(Medium::Ethernet, 1500).with_checksum(ChecksumCapabilities::ALL);
/// assert_eq!(caps.max_frame_len(), 1514);
/// assert_eq!(caps.max_tx_len(), 1514);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// What the device carries.
    pub medium: Medium,
    /// The IP MTU: the longest IP packet one frame carries (1500 on
    /// standard Ethernet). The link header is not included; see
    /// [`max_frame_len`](Self::max_frame_len).
    pub mtu: usize,
    /// The most frames the stack should hand over (or take) in one burst
    /// before doing other work; `None` for no preference.
    pub max_burst: Option<usize>,
    /// Checksum offloads.
    pub checksum: ChecksumCapabilities,
    /// TCP segmentation offload, if the device can segment.
    pub tso: Option<Tso>,
    /// The longest frame the device may deliver, when larger than
    /// [`max_frame_len`](Self::max_frame_len): a device whose peer hands
    /// it coalesced TCP segments (generic receive offload, a TAP with
    /// offloads) says so here. `None`: no longer than `max_frame_len`.
    pub max_rx_len: Option<usize>,
    /// Whether the device takes a transmitted payload by reference
    /// ([`TxToken::consume_shared`](crate::TxToken::consume_shared) keeps
    /// the shared buffer instead of copying it): an in-memory link, a
    /// loopback, a scatter-gather NIC. A stack then lends it the bytes of
    /// its send buffer rather than copying them into the frame. Every
    /// device accepts `consume_shared`; one without this copies.
    pub shared_payloads: bool,
}

impl Capabilities {
    /// A device of `medium` with IP MTU `mtu`, no burst preference, no
    /// offloads.
    pub const fn new(medium: Medium, mtu: usize) -> Capabilities {
        Capabilities {
            medium,
            mtu,
            max_burst: None,
            checksum: ChecksumCapabilities::NONE,
            tso: None,
            max_rx_len: None,
            shared_payloads: false,
        }
    }

    /// These capabilities with transmit payloads taken by reference (see
    /// [`shared_payloads`](Self::shared_payloads)).
    #[must_use]
    pub const fn with_shared_payloads(mut self) -> Capabilities {
        self.shared_payloads = true;
        self
    }

    /// These capabilities with received frames up to `len` bytes long
    /// (see [`max_rx_len`](Self::max_rx_len)).
    #[must_use]
    pub const fn with_max_rx_len(mut self, len: usize) -> Capabilities {
        self.max_rx_len = Some(len);
        self
    }

    /// The longest frame the device delivers: the larger of
    /// [`max_frame_len`](Self::max_frame_len) and
    /// [`max_rx_len`](Self::max_rx_len).
    pub const fn max_rx_frame_len(&self) -> usize {
        let plain = self.max_frame_len();
        match self.max_rx_len {
            Some(len) if len > plain => len,
            _ => plain,
        }
    }

    /// These capabilities with checksum offloads.
    #[must_use]
    pub const fn with_checksum(mut self, checksum: ChecksumCapabilities) -> Capabilities {
        self.checksum = checksum;
        self
    }

    /// These capabilities with TCP segmentation offload.
    #[must_use]
    pub const fn with_tso(mut self, tso: Tso) -> Capabilities {
        self.tso = Some(tso);
        self
    }

    /// These capabilities with a preferred burst size.
    #[must_use]
    pub const fn with_max_burst(mut self, max_burst: usize) -> Capabilities {
        self.max_burst = Some(max_burst);
        self
    }

    /// The longest frame without segmentation: the MTU plus the link
    /// header (1514 for Ethernet with MTU 1500).
    pub const fn max_frame_len(&self) -> usize {
        self.mtu.saturating_add(self.medium.header_len())
    }

    /// The longest frame a transmit token accepts: the larger of
    /// [`max_frame_len`](Self::max_frame_len) and the TSO limit.
    pub const fn max_tx_len(&self) -> usize {
        let plain = self.max_frame_len();
        match self.tso {
            Some(tso) if tso.max_len > plain => tso.max_len,
            _ => plain,
        }
    }
}

impl Default for Capabilities {
    /// Ethernet with an MTU of 1500 and no offloads.
    fn default() -> Capabilities {
        Capabilities::new(Medium::Ethernet, 1500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_set_operations_are_set_algebra() {
        let tcp_udp = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
        assert!(tcp_udp.contains(ChecksumProto::Udp));
        assert!(!tcp_udp.contains(ChecksumProto::Icmpv4));
        assert_eq!(
            tcp_udp.without(ChecksumProto::Tcp),
            ChecksumSet::of(ChecksumProto::Udp)
        );
        assert_eq!(tcp_udp.union(ChecksumSet::ALL), ChecksumSet::ALL);
        assert!(
            tcp_udp
                .intersection(ChecksumSet::of(ChecksumProto::Ipv4))
                .is_empty()
        );
        for p in ChecksumProto::ALL {
            assert!(ChecksumSet::ALL.contains(p));
            assert!(!ChecksumSet::EMPTY.contains(p));
        }
        assert_eq!(alloc::format!("{tcp_udp:?}"), "{Tcp, Udp}");
    }

    #[test]
    fn max_frame_len_adds_the_link_header_to_the_ip_mtu() {
        assert_eq!(
            Capabilities::new(Medium::Ethernet, 1500).max_frame_len(),
            1514
        );
        assert_eq!(Capabilities::new(Medium::Ip, 1500).max_frame_len(), 1500);
        assert_eq!(
            Capabilities::new(Medium::Ethernet, usize::MAX).max_frame_len(),
            usize::MAX
        );
    }

    #[test]
    fn max_tx_len_grows_with_tso_only() {
        let caps = Capabilities::default().with_tso(Tso::new(65_535 + 14));
        assert_eq!(caps.max_tx_len(), 65_549);
        let caps = Capabilities::default().with_tso(Tso::new(100));
        assert_eq!(caps.max_tx_len(), 1514);
    }
}
