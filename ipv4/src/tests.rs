//! Tests of the packet view and builder; options and CIDRs are tested in
//! their modules.

use core::net::Ipv4Addr;
use std::vec::Vec;

use lamina_netbuf::checksum;
use lamina_netbuf::rng::{Rng, SeededRng};
use lamina_netbuf::serialize::{PacketBuilder, Serializer};

use crate::*;

/// A header with the given fields, its checksum filled in, followed by
/// `payload`.
fn datagram(
    ihl_options: &[u8],
    flags_frag: u16,
    total_len: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let hl = 20 + ihl_options.len();
    assert_eq!(hl % 4, 0);
    let total = total_len.unwrap_or((hl + payload.len()) as u16);
    let mut v = Vec::new();
    v.push(0x40 | (hl / 4) as u8);
    v.push(0xb9); // DSCP 46 (EF), ECN 1
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&0x1234u16.to_be_bytes());
    v.extend_from_slice(&flags_frag.to_be_bytes());
    v.extend_from_slice(&[64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7]);
    v.extend_from_slice(ihl_options);
    let c = checksum::checksum(&v);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn reads_every_fixed_field_rfc_791_section_3_1() {
    let d = datagram(&[], 0x4000, None, b"abcd");
    let p = Ipv4Packet::parse_verified(&d).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.ihl(), 5);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.dscp(), 46);
    assert_eq!(p.ecn(), 1);
    assert_eq!(p.total_len(), 24);
    assert_eq!(p.identification(), 0x1234);
    assert!(p.dont_fragment());
    assert!(!p.more_fragments());
    assert!(!p.reserved_flag());
    assert_eq!(p.fragment_offset(), 0);
    assert_eq!(p.ttl(), 64);
    assert_eq!(p.protocol(), IpProtocol::UDP);
    assert_eq!(p.src(), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(p.dst(), Ipv4Addr::new(198, 51, 100, 7));
    assert_eq!(p.checksum(), u16::from_be_bytes([d[10], d[11]]));
    assert!(p.checksum_ok());
    assert_eq!(p.payload(), b"abcd");
    assert_eq!(p.options(), b"");
    assert_eq!(p.header_bytes(), &d[..20]);
    assert_eq!(p.as_bytes(), &d[..]);
    assert!(!p.is_truncated());
}

#[test]
fn trailing_ethernet_padding_is_not_payload_rfc_791_total_length() {
    // A 28-byte datagram padded to Ethernet's 46-byte minimum body.
    let mut d = datagram(&[], 0, None, &[1; 8]);
    d.resize(46, 0);
    let p = Ipv4Packet::parse(&d).unwrap();
    assert_eq!(p.payload(), &[1; 8]);
    assert_eq!(p.as_bytes().len(), 28);
}

#[test]
fn rejects_version_other_than_four_rfc_791() {
    let mut d = datagram(&[], 0, None, b"");
    d[0] = 0x65;
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap_err(),
        Error::BadVersion { version: 6 }
    );
    d[0] = 0x55;
    assert_eq!(
        Ipv4Packet::parse_truncated(&d).unwrap_err(),
        Error::BadVersion { version: 5 }
    );
}

#[test]
fn rejects_ihl_below_five_words_rfc_791() {
    let mut d = datagram(&[], 0, None, b"xxxx");
    d[0] = 0x44;
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap_err(),
        Error::BadHeaderLength { ihl: 4 }
    );
}

#[test]
fn rejects_buffer_shorter_than_fixed_header() {
    let d = datagram(&[], 0, None, b"");
    assert_eq!(
        Ipv4Packet::parse_truncated(&d[..19]).unwrap_err(),
        Error::Truncated {
            needed: 20,
            got: 19
        }
    );
    assert_eq!(
        Ipv4Packet::parse(&[]).unwrap_err(),
        Error::Truncated { needed: 20, got: 0 }
    );
}

#[test]
fn rejects_options_cut_off_even_when_lenient() {
    let d = datagram(&[1, 1, 1, 0], 0, None, b"");
    assert_eq!(
        Ipv4Packet::parse_truncated(&d[..22]).unwrap_err(),
        Error::Truncated {
            needed: 24,
            got: 22
        }
    );
}

#[test]
fn rejects_total_length_below_header_length_rfc_1812_section_5_2_2() {
    let d = datagram(&[1, 1, 1, 1], 0, Some(20), b"");
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap_err(),
        Error::BadTotalLength {
            total_len: 20,
            header_len: 24
        }
    );
    let d = datagram(&[], 0, Some(0), b"");
    assert_eq!(
        Ipv4Packet::parse_truncated(&d).unwrap_err(),
        Error::BadTotalLength {
            total_len: 0,
            header_len: 20
        }
    );
}

#[test]
fn strict_parse_rejects_datagram_shorter_than_total_length() {
    let d = datagram(&[], 0, Some(100), b"abc");
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap_err(),
        Error::Truncated {
            needed: 100,
            got: 23
        }
    );
}

#[test]
fn lenient_parse_reads_a_snaplen_truncated_datagram() {
    let d = datagram(&[], 0, Some(1500), b"abc");
    let p = Ipv4Packet::parse_truncated(&d).unwrap();
    assert!(p.is_truncated());
    assert_eq!(p.total_len(), 1500);
    assert_eq!(p.payload(), b"abc");
    assert!(p.checksum_ok());
    // A complete datagram is not truncated in lenient mode either.
    let d = datagram(&[], 0, None, b"abc");
    assert!(!Ipv4Packet::parse_truncated(&d).unwrap().is_truncated());
}

#[test]
fn parse_verified_rejects_a_bad_header_checksum_rfc_1812_section_5_2_2() {
    let mut d = datagram(&[], 0, None, b"abc");
    d[8] = 63; // TTL changed, checksum not updated
    assert!(!Ipv4Packet::parse(&d).unwrap().checksum_ok());
    assert_eq!(
        Ipv4Packet::parse_verified(&d).unwrap_err(),
        Error::BadChecksum
    );
    // The checksum covers the header only, not the payload.
    let mut d = datagram(&[], 0, None, b"abc");
    d[21] ^= 0xff;
    assert!(Ipv4Packet::parse_verified(&d).is_ok());
}

#[test]
fn rejects_option_longer_than_header_rfc_791() {
    // Record Route claiming 39 bytes in a 4-byte options area.
    let d = datagram(&[7, 39, 4, 0], 0, None, b"");
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap_err(),
        Error::BadOption {
            kind: 7,
            offset: 21,
            reason: BadOptionReason::PastEnd
        }
    );
    assert!(Ipv4Packet::parse_truncated(&d).is_err());
}

#[test]
fn exposes_options_raw_and_iterated_rfc_791() {
    let opts = [148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    let d = datagram(&opts, 0, None, b"x");
    let p = Ipv4Packet::parse_verified(&d).unwrap();
    assert_eq!(p.header_len(), 32);
    assert_eq!(p.options(), &opts);
    let items: Vec<_> = p.iter_options().collect::<Result<_, _>>().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0], Ipv4Option::RouterAlert(0));
    assert!(matches!(items[1], Ipv4Option::RecordRoute(r) if r.slots() == 1 && r.filled() == 0));
    assert_eq!(items[2], Ipv4Option::EndOfList);
    assert_eq!(p.payload(), b"x");
}

#[test]
fn decodes_flags_and_offset_in_units_and_bytes_rfc_791() {
    let d = datagram(&[], 0x8000 | 0x2000 | 185, None, &[0; 8]);
    let p = Ipv4Packet::parse(&d).unwrap();
    assert!(p.reserved_flag());
    assert!(!p.dont_fragment());
    assert!(p.more_fragments());
    assert_eq!(p.fragment_offset(), 185);
    assert_eq!(p.fragment_offset_bytes(), 1480);
    let d = datagram(&[], 0x1fff, None, &[0; 8]);
    assert_eq!(
        Ipv4Packet::parse(&d).unwrap().fragment_offset_bytes(),
        65528
    );
}

#[test]
fn first_fragment_exposes_the_l4_header_rfc_791_section_2_3() {
    let d = datagram(&[], 0x2000, None, &[0x30, 0x39, 0, 53]);
    let p = Ipv4Packet::parse(&d).unwrap();
    assert!(p.is_fragment());
    assert!(p.is_first_fragment());
    assert!(!p.is_last_fragment());
    assert_eq!(p.l4_payload(), Some(&[0x30, 0x39, 0, 53][..]));
    assert_eq!(p.fragment_range(), 0..4);
}

#[test]
fn later_fragment_exposes_no_l4_header_rfc_791_section_2_3() {
    let d = datagram(&[], 185, None, &[9; 16]);
    let p = Ipv4Packet::parse(&d).unwrap();
    assert!(p.is_fragment());
    assert!(!p.is_first_fragment());
    assert!(p.is_last_fragment());
    assert_eq!(p.l4_payload(), None);
    assert_eq!(p.payload(), &[9; 16]);
    assert_eq!(p.fragment_range(), 1480..1496);
    assert_eq!(
        p.fragment_key(),
        FragmentKey {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            protocol: IpProtocol::UDP,
            identification: 0x1234,
        }
    );
}

#[test]
fn unfragmented_datagram_is_not_a_fragment() {
    let d = datagram(&[], 0x4000, None, b"");
    let p = Ipv4Packet::parse(&d).unwrap();
    assert!(!p.is_fragment() && !p.is_first_fragment() && !p.is_last_fragment());
    assert_eq!(p.l4_payload(), Some(&[][..]));
}

#[test]
fn builds_the_rfc_1071_example_header() {
    // The header from lamina-netbuf's checksum example (checksum 0xb861).
    let repr = Ipv4Repr {
        ttl: 64,
        dont_fragment: true,
        ..Ipv4Repr::new(
            Ipv4Addr::new(192, 168, 0, 1),
            Ipv4Addr::new(192, 168, 0, 199),
            IpProtocol::UDP,
        )
    };
    let body = [0u8; 0x73 - 20];
    let pkt = body.as_slice().wrap_in(&repr).serialize_vec(0).unwrap();
    assert_eq!(
        &pkt.as_slice()[..20],
        &[
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7
        ]
    );
}

#[test]
fn builder_writes_every_header_byte_over_a_dirty_buffer() {
    let mut repr = Ipv4Repr::new(
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
        IpProtocol::TCP,
    );
    repr.options.push(&Ipv4Option::NoOperation).unwrap();
    let mut clean = [0u8; 64];
    let mut dirty = [0xffu8; 64];
    let n = b"hi".wrap_in(&repr).serialize_into(&mut clean).unwrap();
    assert_eq!(b"hi".wrap_in(&repr).serialize_into(&mut dirty).unwrap(), n);
    assert_eq!(clean[..n], dirty[..n]);
    // The option is padded with End of Option List to a 4-byte boundary.
    assert_eq!(&clean[20..24], &[1, 0, 0, 0]);
    assert_eq!(clean[0], 0x46);
}

#[test]
fn checksum_offload_leaves_the_field_zero() {
    let repr = Ipv4Repr::new(
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
        IpProtocol::ICMP,
    );
    let pkt = b"x"
        .wrap_in(repr.builder().checksum(ChecksumMode::Offload))
        .serialize_vec(0)
        .unwrap();
    let p = Ipv4Packet::parse(pkt.as_slice()).unwrap();
    assert_eq!(p.checksum(), 0);
    assert!(!p.checksum_ok());
    let pkt = b"x".wrap_in(repr.builder()).serialize_vec(0).unwrap();
    assert!(Ipv4Packet::parse_verified(pkt.as_slice()).is_ok());
}

#[test]
fn max_body_len_is_65535_minus_the_header() {
    let mut repr = Ipv4Repr::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, IpProtocol::UDP);
    assert_eq!(repr.max_body_len(), 65515);
    repr.options.push(&Ipv4Option::RouterAlert(0)).unwrap();
    assert_eq!(repr.max_body_len(), 65511);
    assert_eq!(repr.constraints().max_body_len, 65511);
    let big = std::vec![0u8; 65512];
    assert!(big.as_slice().wrap_in(&repr).serialized_len().is_err());
    let ok = &big[..65511];
    let pkt = ok.wrap_in(&repr).serialize_vec(0).unwrap();
    assert_eq!(
        Ipv4Packet::parse(pkt.as_slice()).unwrap().total_len(),
        65535
    );
}

#[test]
fn protocol_numbers_display_their_names() {
    assert_eq!(std::format!("{}", IpProtocol::ICMP), "ICMP");
    assert_eq!(std::format!("{}", IpProtocol::GRE), "GRE");
    assert_eq!(std::format!("{}", IpProtocol(200)), "200");
    assert_eq!(u8::from(IpProtocol::ESP), 50);
    assert_eq!(IpProtocol::AH.0, 51);
    assert!(IpProtocol::TCP.has_ports() && !IpProtocol::ICMP.has_ports());
}

/// Random bytes, and valid datagrams with random bytes flipped: no parse
/// entry point panics, and a successful strict parse satisfies the view's
/// invariants.
#[test]
fn parse_of_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(0x1_0004);
    let base = datagram(
        &[
            68, 12, 5, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 131, 7, 4, 192, 0, 2, 1, 0,
        ],
        0x2000,
        None,
        &[7; 30],
    );
    let mut buf = [0u8; 120];
    for i in 0..20_000 {
        let len = rng.below(buf.len() as u32 + 1) as usize;
        let data = &mut buf[..len];
        if i % 2 == 0 {
            rng.fill_bytes(data);
            if len > 0 {
                data[0] = 0x40 | (data[0] & 0x0f);
            }
        } else {
            let n = len.min(base.len());
            data[..n].copy_from_slice(&base[..n]);
            for _ in 0..rng.in_range(1, 4) {
                if n > 0 {
                    let at = rng.below(n as u32) as usize;
                    data[at] = rng.next_u32() as u8;
                }
            }
        }
        let data = &buf[..len];
        for p in [
            Ipv4Packet::parse(data),
            Ipv4Packet::parse_truncated(data),
            Ipv4Packet::parse_verified(data),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(p.version(), 4);
            assert!(p.header_len() >= 20 && p.header_len() <= data.len());
            assert_eq!(p.header_len() + p.payload().len(), p.as_bytes().len());
            assert!(p.as_bytes().len() <= usize::from(p.total_len()));
            assert!(p.iter_options().all(|o| o.is_ok()));
            let _ = (
                p.checksum_ok(),
                p.l4_payload(),
                p.fragment_range(),
                p.fragment_key(),
            );
            let r = p.to_repr();
            assert_eq!(r.header_len(), p.header_len());
        }
        for o in Ipv4OptionIter::new(data).take(64) {
            if let Ok(Ipv4Option::Timestamp(t)) = o {
                let _ = t.entries().count();
            }
        }
    }
}

#[cfg(feature = "arbitrary")]
#[test]
fn build_then_parse_gives_back_the_repr() {
    use arbitrary::{Arbitrary, Unstructured};
    let mut rng = SeededRng::new(791);
    let mut seed = [0u8; 256];
    let (mut built, mut with_options) = (0, 0);
    for _ in 0..5_000 {
        rng.fill_bytes(&mut seed);
        let mut u = Unstructured::new(&seed);
        let Ok(repr) = Ipv4Repr::arbitrary(&mut u) else {
            continue;
        };
        built += 1;
        with_options += usize::from(!repr.options.is_empty());
        let body_len = rng.below(64) as usize;
        let body = &seed[..body_len];
        let pkt = body.wrap_in(&repr).serialize_vec(0).unwrap();
        let p =
            Ipv4Packet::parse_verified(pkt.as_slice()).unwrap_or_else(|e| panic!("{repr:?}: {e}"));
        assert_eq!(p.to_repr(), repr);
        assert_eq!(p.payload(), body);
        // And parse → to_repr → build gives back identical bytes.
        let again = p.payload().wrap_in(p.to_repr()).serialize_vec(0).unwrap();
        assert_eq!(again.as_slice(), pkt.as_slice());
    }
    // The generator is not vacuous: nearly every input gives a header,
    // most of them with options.
    assert!(built > 4_900, "{built}");
    assert!(with_options > 2_500, "{with_options}");
}

/// Datagrams without options take a shorter way through `parse` and
/// `parse_verified`; it must decide exactly as the general rules do
/// (RFC 791 §3.1, RFC 1812 §5.2.2): accepted when 20 ≤ total length ≤
/// the buffer (and, verified, the checksum holds), the payload being
/// bytes 20 to the total length; otherwise the general path's error.
#[test]
fn datagrams_without_options_follow_the_general_rules_rfc_791_rfc_1812() {
    let mut rng = SeededRng::new(0x45);
    for round in 0..20_000u32 {
        let len = 20 + rng.below(60) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        b[0] = 0x45;
        let total = match round % 4 {
            0 => rng.below(20) as u16,
            1 => (len + 1 + rng.below(8) as usize) as u16,
            _ => (20 + rng.below(len as u32 - 19)) as u16,
        };
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b[10..12].fill(0);
        if round % 3 != 0 {
            let c = checksum::checksum(&b[..20]);
            b[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let t = usize::from(total);
        let sum_ok = checksum::checksum(&b[..20]) == 0;
        let parsed = Ipv4Packet::parse(&b);
        let verified = Ipv4Packet::parse_verified(&b);
        if t < 20 {
            assert!(matches!(parsed, Err(Error::BadTotalLength { .. })), "{b:?}");
            assert!(verified.is_err());
        } else if t > len {
            assert!(matches!(parsed, Err(Error::Truncated { .. })), "{b:?}");
            assert!(verified.is_err());
        } else {
            let p = parsed.unwrap();
            assert_eq!(p.payload(), &b[20..t]);
            assert_eq!(p.as_bytes(), &b[..t]);
            assert!(p.options().is_empty() && !p.is_truncated());
            assert_eq!(p.checksum_ok(), sum_ok);
            match verified {
                Ok(v) => {
                    assert!(sum_ok);
                    assert_eq!(v.payload(), p.payload());
                    assert_eq!(v.as_bytes(), p.as_bytes());
                }
                Err(e) => {
                    assert!(!sum_ok);
                    assert_eq!(e, Error::BadChecksum);
                }
            }
        }
    }
}
