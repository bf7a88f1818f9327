//! pcap and pcapng: reading captures ([`CaptureReader`]), replaying them
//! through the stack ([`PcapReplay`]) and, with feature `std`, recording a
//! device's traffic ([`PcapWriter`]).

#[cfg(feature = "testutils")]
pub mod corpus;
mod reader;
mod replay;
#[cfg(feature = "std")]
mod writer;

#[cfg(feature = "std")]
pub use reader::IoSource;
pub use reader::{
    ByteSource, CaptureFormat, CaptureReader, CapturedFrame, MAX_BLOCK_LEN, MAX_FRAME_LEN,
    SliceSource,
};
pub use replay::{PcapReplay, ReplayRxToken, ReplayTxToken};
#[cfg(feature = "std")]
pub use writer::{
    PcapFormat, PcapNgCapture, PcapNgCaptureRxToken, PcapNgCaptureTxToken, PcapNgFile, PcapWriter,
    PcapWriterRxToken, PcapWriterTxToken,
};

use crate::Medium;

/// `LINKTYPE_ETHERNET`: Ethernet II frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: bare IPv4 or IPv6 packets.
pub const LINKTYPE_RAW: u32 = 101;
/// `LINKTYPE_IPV4`: bare IPv4 packets.
pub const LINKTYPE_IPV4: u32 = 228;

/// The medium a capture of this link type carries, if a [`Medium`] can
/// carry it (the upper 16 bits, libpcap's FCS information, are ignored).
///
/// ```
/// use lamina_netdev::{pcap, Medium};
/// assert_eq!(pcap::medium_of_link_type(0x3000_0001), Some(Medium::Ethernet));
/// assert_eq!(pcap::medium_of_link_type(228), Some(Medium::Ip));
/// assert_eq!(pcap::medium_of_link_type(105), None); // 802.11
/// ```
pub const fn medium_of_link_type(link_type: u32) -> Option<Medium> {
    match reader::mask_link_type(link_type) {
        LINKTYPE_ETHERNET => Some(Medium::Ethernet),
        LINKTYPE_RAW | LINKTYPE_IPV4 => Some(Medium::Ip),
        _ => None,
    }
}

/// The link type a capture of `medium` is written with: Ethernet (1) or
/// raw IP (101).
pub const fn link_type_of_medium(medium: Medium) -> u32 {
    match medium {
        Medium::Ethernet => LINKTYPE_ETHERNET,
        Medium::Ip => LINKTYPE_RAW,
    }
}
