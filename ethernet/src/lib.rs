//! Ethernet for the [Lamina](https://github.com/lamina-net/lamina) TCP/IPv4
//! stack: MAC addresses, EtherTypes, Ethernet II and IEEE 802.3 frames with
//! stacked 802.1Q/802.1ad VLAN tags, and the CRC-32 frame check sequence.
//!
//! # Example
//!
//! Build a tagged frame around a payload, then read it back:
//!
//! ```
//! use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr, VlanTag, VlanTags};
//! use lamina_netbuf::Serializer;
//!
//! let repr = EthernetRepr {
//!     src: "02:00:00:00:00:01".parse()?,
//!     dst: MacAddr::BROADCAST,
//!     ethertype: EtherType::ARP,
//!     vlan: VlanTags::double(
//!         VlanTag { tpid: EtherType::QINQ, pcp: 0, dei: false, vid: 666 },
//!         VlanTag::new(200),
//!     ),
//! };
//! let frame = b"28 bytes of ARP would go here".wrap_in(repr).serialize_vec(0)?;
//! assert_eq!(frame.len(), 22 + 38); // 22-byte header, body padded to 60
//!
//! let parsed = EthernetFrame::parse(frame.as_slice())?;
//! assert_eq!(parsed.ethertype(), EtherType::QINQ);
//! assert_eq!(parsed.inner_ethertype(), EtherType::ARP);
//! let vids: Vec<u16> = parsed.vlan_tags().map(|t| t.vid).collect();
//! assert_eq!(vids, [666, 200]);
//! assert_eq!(parsed.to_repr(), repr);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`MacAddr`]: a 48-bit address (`Display` as `aa:bb:cc:dd:ee:ff`,
//!   `FromStr` from `:`- or `-`-separated hex), usable inside zerocopy
//!   header structs.
//! - [`EtherType`]: the Length/Type field, with named constants.
//! - [`EthernetFrame`]: a zero-copy view. [`parse`](EthernetFrame::parse)
//!   takes a frame without FCS, [`parse_with_fcs`](EthernetFrame::parse_with_fcs)
//!   one with, and [`fcs_ok`](EthernetFrame::fcs_ok) /
//!   [`parse_with_fcs_verified`](EthernetFrame::parse_with_fcs_verified)
//!   check it. Up to [`MAX_VLAN_TAGS`] tags are read; an 802.3 frame's
//!   payload is cut at its length field.
//! - [`EthernetRepr`] / [`EthernetBuilder`]: the owned header and its
//!   [`PacketBuilder`](lamina_netbuf::PacketBuilder), which pads to the
//!   60-byte minimum and can append the FCS.
//! - [`fcs`]: the IEEE 802.3 CRC-32 (slicing-by-8).
//!
//! The crate is `#![no_std]`, allocates nothing, and has no `unsafe`. The
//! `std` feature (default) only forwards to `lamina-netbuf`; `arbitrary`
//! implements `arbitrary::Arbitrary` for the owned types.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod ethertype;
pub mod fcs;
mod frame;
mod mac;
mod vlan;

pub use error::Error;
pub use ethertype::EtherType;
pub use frame::{
    EthernetBuilder, EthernetFrame, EthernetHeader, EthernetRepr, FCS_LEN, HEADER_LEN,
    MIN_FRAME_LEN, VLAN_TAG_LEN, VlanTagIter,
};
pub use mac::MacAddr;
pub use vlan::{MAX_VID, MAX_VLAN_TAGS, VlanTag, VlanTags};
