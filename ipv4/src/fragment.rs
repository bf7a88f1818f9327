//! Fragmentation on output (RFC 791 §2.3 and §3.2).
//!
//! A [`Fragmenter`] splits one datagram, given as an [`Ipv4Repr`] and its
//! payload or as a received [`Ipv4Packet`] being forwarded, into
//! [`Fragment`]s that each fit the MTU. It is an iterator and allocates
//! nothing: each fragment is a header and a borrowed slice of the payload,
//! and a [`Serializer`], so it is written straight into the caller's
//! buffer (a device's transmit buffer) through the `lamina-netbuf`
//! serializer, possibly wrapped in a link-layer builder first.
//!
//! The rules (RFC 791 §3.2, RFC 1812 §5.2.6):
//!
//! - every fragment but the last carries a multiple of 8 payload bytes,
//!   as many as fit; offsets count 8-byte units from the start of the
//!   original payload; More Fragments is set on all but the last, and the
//!   last keeps the original's (a fragment of a fragment stays one);
//! - the first fragment carries every option, later fragments only the
//!   options whose type has the "copied" bit (Security, Source Routes,
//!   Router Alert ...), padded to a multiple of 4;
//! - all fragments share the identification, which the sender of a new
//!   datagram chose beforehand (see [`ident`](crate::ident));
//! - a datagram that fits is sent whole, unchanged;
//! - a datagram too big with Don't Fragment set is refused with
//!   [`Error::FragmentationNeeded`] carrying the MTU, for the ICMP
//!   Destination Unreachable, Fragmentation Needed, that a router sends
//!   back (RFC 1191 §4), or for a local sender's path MTU;
//! - an MTU below 68 bytes is refused with [`Error::MtuTooSmall`]: every
//!   IPv4 link carries 68 (RFC 791 §3.2), the largest header and 8 bytes.
//!
//! # Calling protocol
//!
//! The `Interface` of `lamina-socket`, with a datagram to send on a route
//! whose MTU (the smaller of the route's and the interface's) it knows:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::fragment::Fragmenter;
//! use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
//! use lamina_netbuf::Serializer;
//!
//! let mut repr = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 2), IpProtocol::UDP);
//! repr.identification = 0x1234;
//! let payload = [7u8; 3000];
//! let mut tx = [0u8; 1500]; // a device's transmit buffer
//! let mut offsets = Vec::new();
//! for fragment in Fragmenter::new(&repr, &payload, 1500)? {
//!     let len = fragment.serialize_into(&mut tx).unwrap();
//!     let p = Ipv4Packet::parse_verified(&tx[..len])?;
//!     offsets.push((p.fragment_offset_bytes(), p.payload().len(), p.more_fragments()));
//! }
//! assert_eq!(offsets, [(0, 1480, true), (1480, 1480, true), (2960, 40, false)]);
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```

use lamina_netbuf::serialize::Serializer;

use crate::{Error, Ipv4Option, Ipv4OptionsBuf, Ipv4Packet, Ipv4Repr};

/// The smallest MTU of an IPv4 link: a 60-byte header and 8 bytes of data
/// (RFC 791 §3.2, RFC 1122 §3.3.2).
pub const MIN_LINK_MTU: u16 = 68;

/// One fragment: the header to send it with and its part of the payload.
///
/// It is a [`Serializer`]: `fragment.serialize_into(tx)` writes it into a
/// buffer (the header's checksum computed), and
/// `fragment.wrap_in(ethernet)` nests it in a link-layer frame first. To
/// leave the checksum to the device, serialize
/// `fragment.payload.wrap_in(fragment.header.builder().checksum(ChecksumMode::Offload))`
/// instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The fragment's header (offset, More Fragments and options set).
    pub header: Ipv4Repr,
    /// The fragment's payload.
    pub payload: &'a [u8],
}

impl Fragment<'_> {
    /// The fragment's length on the wire: header and payload.
    #[inline]
    pub fn len(&self) -> usize {
        self.header.header_len() + self.payload.len()
    }

    /// Whether the fragment is empty (never: a header is 20 bytes at
    /// least).
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Serializer for Fragment<'_> {
    #[inline]
    fn serialized_len(&self) -> Result<usize, lamina_netbuf::Error> {
        self.payload.wrap_in(&self.header).serialized_len()
    }

    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        self.payload.wrap_in(&self.header).serialize_exact(out)
    }

    #[inline]
    fn append_to(&self, v: &mut alloc::vec::Vec<u8>, zeros: usize) {
        self.payload.wrap_in(&self.header).append_to(v, zeros)
    }

    #[inline]
    fn write_headers(&self, out: &mut [u8]) {
        self.payload.wrap_in(&self.header).write_headers(out)
    }
}

/// Splits a datagram into fragments that fit an MTU; see the [module
/// docs](self).
#[derive(Debug, Clone)]
pub struct Fragmenter<'a> {
    /// The header of the first fragment (all options).
    first: Ipv4Repr,
    /// The header of the others (copied options only).
    rest: Ipv4Repr,
    payload: &'a [u8],
    /// Payload bytes already handed out.
    pos: usize,
    /// Where `payload` starts in the original datagram, in bytes.
    base: usize,
    /// More Fragments of the original, for the last fragment.
    last_mf: bool,
    first_chunk: usize,
    rest_chunk: usize,
    /// The datagram fits: it goes whole.
    whole: bool,
    done: bool,
}

impl<'a> Fragmenter<'a> {
    /// Fragments the datagram `header` + `payload` for `mtu` (the largest
    /// datagram the link carries, header included).
    ///
    /// `header` may itself describe a fragment (More Fragments or an
    /// offset set): its pieces keep their place in the original. Fails
    /// with [`Error::MtuTooSmall`] below 68 bytes,
    /// [`Error::FragmentationNeeded`] if the datagram does not fit and
    /// has Don't Fragment set, [`Error::DatagramTooLong`] if it could not
    /// exist (beyond 65535 bytes), and with an option error if the
    /// header's options are malformed.
    pub fn new(header: &Ipv4Repr, payload: &'a [u8], mtu: u16) -> Result<Fragmenter<'a>, Error> {
        if mtu < MIN_LINK_MTU {
            return Err(Error::MtuTooSmall { mtu });
        }
        let mtu = usize::from(mtu);
        let hl = header.header_len();
        let base = usize::from(header.fragment_offset & 0x1fff) * 8;
        let total = hl + payload.len();
        let extent = base + payload.len() + hl;
        if total > crate::IPV4_MAX_PACKET_LEN || extent > crate::IPV4_MAX_PACKET_LEN {
            return Err(Error::DatagramTooLong {
                len: extent.max(total),
            });
        }
        let whole = total <= mtu;
        if !whole && header.dont_fragment {
            return Err(Error::FragmentationNeeded { mtu: mtu as u16 });
        }
        let mut rest = *header;
        rest.options = copied_options(&header.options)?;
        Ok(Fragmenter {
            first: *header,
            rest,
            payload,
            pos: 0,
            base,
            last_mf: header.more_fragments,
            // Both at least 8: the MTU is at least 68 and a header at
            // most 60 bytes.
            first_chunk: (mtu - hl) & !7,
            rest_chunk: (mtu - rest.header_len()) & !7,
            whole,
            done: false,
        })
    }

    /// Fragments a received datagram being forwarded (its header as
    /// received, TTL already decremented); see [`new`](Self::new).
    ///
    /// `packet` must not be truncated ([`Error::Truncated`] otherwise).
    pub fn from_packet(packet: &Ipv4Packet<'a>, mtu: u16) -> Result<Fragmenter<'a>, Error> {
        if packet.is_truncated() {
            return Err(Error::Truncated {
                needed: usize::from(packet.total_len()),
                got: packet.as_bytes().len(),
            });
        }
        Fragmenter::new(&packet.to_repr(), packet.payload(), mtu)
    }

    /// Whether the datagram is split (false: it goes whole).
    #[inline]
    pub fn is_fragmenting(&self) -> bool {
        !self.whole
    }

    /// The number of fragments still to come.
    pub fn remaining(&self) -> usize {
        if self.done {
            return 0;
        }
        if self.whole {
            return 1;
        }
        let left = self.payload.len() - self.pos;
        let (now, chunk) = if self.pos == 0 {
            (self.first_chunk.min(left), self.rest_chunk)
        } else {
            (0, self.rest_chunk)
        };
        let after = left - now;
        usize::from(now > 0) + after.div_ceil(chunk.max(1))
    }
}

/// The options of `options` that go into every fragment (RFC 791 §3.1,
/// the "copied" flag), packed.
fn copied_options(options: &Ipv4OptionsBuf) -> Result<Ipv4OptionsBuf, Error> {
    let mut out = Ipv4OptionsBuf::new();
    for opt in options.iter() {
        let opt = opt?;
        if opt == Ipv4Option::EndOfList {
            break;
        }
        if opt.is_copied() {
            out.push(&opt)?;
        }
    }
    Ok(out)
}

impl<'a> Iterator for Fragmenter<'a> {
    type Item = Fragment<'a>;

    fn next(&mut self) -> Option<Fragment<'a>> {
        if self.done {
            return None;
        }
        if self.whole {
            self.done = true;
            return Some(Fragment {
                header: self.first,
                payload: self.payload,
            });
        }
        let (template, chunk) = if self.pos == 0 {
            (&self.first, self.first_chunk)
        } else {
            (&self.rest, self.rest_chunk)
        };
        let left = self.payload.get(self.pos..).unwrap_or(&[]);
        let take = left.len().min(chunk);
        let last = take == left.len();
        let mut header = *template;
        header.fragment_offset = ((self.base + self.pos) / 8) as u16;
        header.more_fragments = if last { self.last_mf } else { true };
        let payload = left.get(..take).unwrap_or(&[]);
        self.pos += take;
        self.done = last;
        Some(Fragment { header, payload })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Fragmenter<'_> {}

impl core::iter::FusedIterator for Fragmenter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reassembly::{Reassembler, Reassembly, ReassemblyConfig};
    use crate::{IpProtocol, RouteOption, option_kind};
    use core::net::Ipv4Addr;
    use lamina_netbuf::{Instant, Rng, SeededRng};
    use std::vec::Vec;

    fn repr() -> Ipv4Repr {
        let mut r = Ipv4Repr::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 2),
            IpProtocol::UDP,
        );
        r.identification = 0xbeef;
        r
    }

    fn payload(n: usize, seed: u64) -> Vec<u8> {
        let mut v = std::vec![0u8; n];
        SeededRng::new(seed).fill_bytes(&mut v);
        v
    }

    fn build_all(f: Fragmenter<'_>) -> Vec<Vec<u8>> {
        f.map(|frag| frag.serialize_vec(0).unwrap().into_vec())
            .collect()
    }

    fn reassemble(frags: &[Vec<u8>]) -> Option<Vec<u8>> {
        // Tiny MTUs make far more fragments than the default limit.
        let mut r = Reassembler::new(ReassemblyConfig {
            max_fragments: 8192,
            max_bytes: 1 << 20,
            ..ReassemblyConfig::default()
        });
        let mut out = None;
        for f in frags {
            let p = Ipv4Packet::parse_verified(f).unwrap();
            if !p.is_fragment() {
                return Some(f.clone());
            }
            if let Reassembly::Complete(d) = r.push(&p, Instant::from_secs(1)) {
                out = Some(d.into_vec());
            }
        }
        out
    }

    #[test]
    fn datagram_that_fits_goes_whole() {
        let data = payload(1480, 1);
        let f = Fragmenter::new(&repr(), &data, 1500).unwrap();
        assert!(!f.is_fragmenting());
        assert_eq!(f.len(), 1);
        let frags = build_all(f);
        assert_eq!(frags.len(), 1);
        let p = Ipv4Packet::parse_verified(&frags[0]).unwrap();
        assert!(!p.is_fragment());
        assert_eq!(p.to_repr(), repr());
        assert_eq!(p.payload(), &data[..]);
    }

    #[test]
    fn offsets_are_in_8_byte_units_and_mf_is_set_but_on_the_last_rfc_791_section_3_2() {
        let data = payload(4000, 2);
        let frags = build_all(Fragmenter::new(&repr(), &data, 1006).unwrap());
        // (1006 - 20) & !7 = 984 bytes a fragment.
        let got: Vec<(u16, usize, bool)> = frags
            .iter()
            .map(|f| {
                let p = Ipv4Packet::parse_verified(f).unwrap();
                assert_eq!(p.identification(), 0xbeef);
                assert!(f.len() <= 1006);
                (p.fragment_offset(), p.payload().len(), p.more_fragments())
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 984, true),
                (123, 984, true),
                (246, 984, true),
                (369, 984, true),
                (492, 64, false)
            ]
        );
    }

    #[test]
    fn reassembling_the_fragments_gives_the_original() {
        let mut rng = SeededRng::new(3);
        for _ in 0..300 {
            let mut r = repr();
            r.identification = rng.next_u32() as u16;
            if rng.below(2) == 0 {
                r.options.push(&Ipv4Option::RouterAlert(0)).unwrap();
                r.options
                    .push(&Ipv4Option::RecordRoute(RouteOption {
                        pointer: 4,
                        data: &[0; 8],
                    }))
                    .unwrap();
            }
            let data = payload(rng.below(9000) as usize, rng.next_u64());
            let mtu = rng.in_range(68, 1600) as u16;
            let original = data
                .as_slice()
                .wrap_in(&r)
                .serialize_vec(0)
                .unwrap()
                .into_vec();
            let frags = build_all(Fragmenter::new(&r, &data, mtu).unwrap());
            for f in &frags {
                assert!(f.len() <= usize::from(mtu), "{} > {mtu}", f.len());
            }
            assert!(
                reassemble(&frags).as_deref() == Some(original.as_slice()),
                "mtu {mtu}, {} bytes",
                data.len()
            );
        }
    }

    #[test]
    fn only_copied_options_go_into_later_fragments_rfc_791_section_3_1() {
        let mut r = repr();
        // Record Route (not copied), Router Alert (copied), Security (copied).
        r.options
            .push(&Ipv4Option::RecordRoute(RouteOption {
                pointer: 4,
                data: &[0; 8],
            }))
            .unwrap();
        r.options.push(&Ipv4Option::RouterAlert(0)).unwrap();
        r.options
            .push(&Ipv4Option::Unknown {
                kind: option_kind::SECURITY,
                data: &[0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0],
            })
            .unwrap();
        let data = payload(600, 4);
        let frags = build_all(Fragmenter::new(&r, &data, 300).unwrap());
        assert!(frags.len() > 2);
        let first = Ipv4Packet::parse_verified(&frags[0]).unwrap();
        let kinds = |p: &Ipv4Packet<'_>| -> Vec<u8> {
            p.iter_options().map(|o| o.unwrap().kind()).collect()
        };
        assert_eq!(kinds(&first), [7, 148, 130, 0]);
        for f in &frags[1..] {
            let p = Ipv4Packet::parse_verified(f).unwrap();
            assert_eq!(kinds(&p), [148, 130, 0]);
            assert_eq!(p.header_len(), 36);
            assert!(f.len() <= 300);
        }
        assert_eq!(
            reassemble(&frags).unwrap()[20..first.header_len()],
            frags[0][20..first.header_len()]
        );
    }

    #[test]
    fn dont_fragment_too_big_asks_for_icmp_fragmentation_needed_rfc_1191_section_4() {
        let mut r = repr();
        r.dont_fragment = true;
        let data = payload(1481, 5);
        assert_eq!(
            Fragmenter::new(&r, &data, 1500).unwrap_err(),
            Error::FragmentationNeeded { mtu: 1500 }
        );
        // DF on a datagram that fits is no obstacle.
        assert_eq!(Fragmenter::new(&r, &data[..1480], 1500).unwrap().count(), 1);
    }

    #[test]
    fn mtu_below_68_is_rejected_rfc_791_section_3_2() {
        let data = payload(100, 6);
        assert_eq!(
            Fragmenter::new(&repr(), &data, 67).unwrap_err(),
            Error::MtuTooSmall { mtu: 67 }
        );
        // At 68 even a 60-byte header leaves 8 bytes a fragment.
        let mut r = repr();
        for _ in 0..10 {
            r.options.push(&Ipv4Option::RouterAlert(0)).unwrap();
        }
        assert_eq!(r.header_len(), 60);
        let frags = build_all(Fragmenter::new(&r, &data, 68).unwrap());
        assert_eq!(frags.len(), 13);
        assert!(frags.iter().all(|f| f.len() <= 68));
        assert_eq!(
            reassemble(&frags).unwrap(),
            data.as_slice()
                .wrap_in(&r)
                .serialize_vec(0)
                .unwrap()
                .into_vec()
        );
    }

    #[test]
    fn refragmenting_a_fragment_keeps_its_place_and_its_mf() {
        let data = payload(3000, 7);
        let frags = build_all(Fragmenter::new(&repr(), &data, 1500).unwrap());
        // A router with a smaller MTU further on splits each again.
        let mut pieces = Vec::new();
        for f in &frags {
            let p = Ipv4Packet::parse_verified(f).unwrap();
            pieces.extend(build_all(Fragmenter::from_packet(&p, 576).unwrap()));
        }
        assert!(pieces.len() > frags.len());
        let last = Ipv4Packet::parse_verified(pieces.last().unwrap()).unwrap();
        assert!(!last.more_fragments());
        let mid = Ipv4Packet::parse_verified(&pieces[2]).unwrap();
        assert!(mid.more_fragments());
        let original = data
            .as_slice()
            .wrap_in(&repr())
            .serialize_vec(0)
            .unwrap()
            .into_vec();
        assert_eq!(reassemble(&pieces).unwrap(), original);
    }

    #[test]
    fn remaining_counts_the_fragments_to_come() {
        let data = payload(5000, 8);
        let mut f = Fragmenter::new(&repr(), &data, 1500).unwrap();
        assert_eq!(f.len(), 4);
        f.next();
        assert_eq!(f.len(), 3);
        assert_eq!(f.by_ref().count(), 3);
        assert_eq!(f.len(), 0);
        assert!(f.next().is_none());
        let empty = Fragmenter::new(&repr(), &[], 68).unwrap();
        assert_eq!(empty.len(), 1);
    }

    #[test]
    fn datagrams_beyond_65535_are_refused() {
        let data = payload(65516, 9);
        assert_eq!(
            Fragmenter::new(&repr(), &data, 1500).unwrap_err(),
            Error::DatagramTooLong { len: 65536 }
        );
        let mut r = repr();
        r.fragment_offset = 8000; // 64000 bytes in
        assert!(matches!(
            Fragmenter::new(&r, &data[..2000], 1500),
            Err(Error::DatagramTooLong { .. })
        ));
    }

    #[test]
    fn writes_into_a_caller_buffer_without_allocating() {
        let data = payload(2000, 10);
        let mut tx = [0u8; 1500];
        let mut total = 0;
        for frag in Fragmenter::new(&repr(), &data, 1500).unwrap() {
            let n = frag.serialize_into(&mut tx).unwrap();
            assert_eq!(n, frag.len());
            total += Ipv4Packet::parse_verified(&tx[..n])
                .unwrap()
                .payload()
                .len();
        }
        assert_eq!(total, 2000);
        let mut small = [0u8; 100];
        let mut f = Fragmenter::new(&repr(), &data, 1500).unwrap();
        assert!(f.next().unwrap().serialize_into(&mut small).is_err());
    }
}
