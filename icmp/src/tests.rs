//! Tests of the message view, the typed messages and the builders.

use core::net::Ipv4Addr;
use std::vec;
use std::vec::Vec;

use lamina_ipv4::{ChecksumMode, IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::checksum;
use lamina_netbuf::rng::{Rng, SeededRng};
use lamina_netbuf::serialize::Serializer;

use crate::*;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// A message of `type`/`code` with `rest` and `payload`, checksum filled.
fn msg(t: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(payload);
    let c = checksum::checksum(&v);
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

/// A UDP datagram A:12345 → B:53 with `n` payload bytes.
fn udp_datagram(n: usize) -> Vec<u8> {
    let mut udp = vec![0x30, 0x39, 0x00, 0x35, 0, (8 + n) as u8, 0, 0];
    udp.extend((0..n).map(|i| i as u8));
    let ip = Ipv4Repr::new(A, B, IpProtocol::UDP);
    udp.as_slice()
        .wrap_in(&ip)
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

#[test]
fn reads_echo_request_fields_rfc_792() {
    let m = msg(8, 0, [0x12, 0x34, 0x00, 0x07], b"ping data");
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert_eq!(p.msg_type(), IcmpType::ECHO_REQUEST);
    assert_eq!(p.code(), 0);
    assert!(p.checksum_ok());
    assert_eq!(p.payload(), b"ping data");
    assert_eq!(p.body(), b"ping data");
    assert!(!p.is_error());
    assert_eq!(p.quote(), None);
    assert_eq!(
        p.message(),
        IcmpMessage::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"ping data"
        }
    );
    assert_eq!(
        p.to_repr(),
        IcmpRepr::EchoRequest {
            ident: 0x1234,
            seq_no: 7
        }
    );
}

#[test]
fn echo_reply_round_trips_with_its_data_rfc_792() {
    let r = IcmpRepr::EchoReply {
        ident: 1,
        seq_no: 65535,
    };
    let m = b"xyz".wrap_in(&r).serialize_vec(0).unwrap();
    let p = IcmpPacket::parse_verified(m.as_slice()).unwrap();
    assert_eq!(p.to_repr(), r);
    assert!(matches!(
        p.message(),
        IcmpMessage::EchoReply {
            seq_no: 65535,
            data: b"xyz",
            ..
        }
    ));
}

#[test]
fn rejects_message_shorter_than_eight_bytes_rfc_792() {
    let m = msg(8, 0, [0; 4], b"");
    assert_eq!(
        IcmpPacket::parse(&m[..7]).unwrap_err(),
        Error::Truncated { needed: 8, got: 7 }
    );
    assert!(IcmpPacket::parse(&m).is_ok());
}

#[test]
fn parse_verified_rejects_bad_checksum_over_the_data_rfc_792() {
    let mut m = msg(0, 0, [0; 4], b"data");
    assert!(IcmpPacket::parse_verified(&m).is_ok());
    m[9] ^= 1;
    assert!(!IcmpPacket::parse(&m).unwrap().checksum_ok());
    assert_eq!(
        IcmpPacket::parse_verified(&m).unwrap_err(),
        Error::BadChecksum
    );
}

#[test]
fn timestamp_needs_twenty_bytes_rfc_792() {
    let m = msg(
        13,
        0,
        [0, 1, 0, 2],
        &[0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30],
    );
    let p = IcmpPacket::parse_verified(&m).unwrap();
    let want = Timestamps {
        ident: 1,
        seq_no: 2,
        originate: 10,
        receive: 20,
        transmit: 30,
    };
    assert_eq!(p.message(), IcmpMessage::Timestamp(want));
    assert_eq!(p.body(), b"");
    assert_eq!(
        IcmpPacket::parse(&m[..19]).unwrap_err(),
        Error::Truncated {
            needed: 20,
            got: 19
        }
    );
    let r = IcmpRepr::TimestampReply(want);
    let m = [].as_slice().wrap_in(&r).serialize_vec(0).unwrap();
    assert_eq!(m.len(), 20);
    assert_eq!(
        IcmpPacket::parse_verified(m.as_slice()).unwrap().to_repr(),
        r
    );
}

#[test]
fn address_mask_needs_twelve_bytes_rfc_950() {
    let m = msg(18, 0, [0xb2, 0x0c, 0, 0], &[255, 255, 255, 0]);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert_eq!(
        p.message(),
        IcmpMessage::AddressMaskReply {
            ident: 0xb20c,
            seq_no: 0,
            mask: Ipv4Addr::new(255, 255, 255, 0)
        }
    );
    assert_eq!(
        IcmpPacket::parse(&m[..11]).unwrap_err(),
        Error::Truncated {
            needed: 12,
            got: 11
        }
    );
    let r = IcmpRepr::AddressMaskRequest {
        ident: 1,
        seq_no: 2,
        mask: Ipv4Addr::UNSPECIFIED,
    };
    let m = [].as_slice().wrap_in(&r).serialize_vec(0).unwrap();
    assert_eq!(m.len(), 12);
    assert_eq!(
        IcmpPacket::parse_verified(m.as_slice()).unwrap().to_repr(),
        r
    );
}

#[test]
fn information_request_and_reply_carry_ident_and_seq_rfc_792() {
    let m = msg(15, 0, [0, 9, 0, 10], b"");
    assert_eq!(
        IcmpPacket::parse(&m).unwrap().message(),
        IcmpMessage::InformationRequest {
            ident: 9,
            seq_no: 10
        }
    );
    let m = msg(16, 0, [0, 9, 0, 10], b"");
    assert_eq!(
        IcmpPacket::parse(&m).unwrap().to_repr(),
        IcmpRepr::InformationReply {
            ident: 9,
            seq_no: 10
        }
    );
}

#[test]
fn unreachable_codes_zero_to_fifteen_are_typed_rfc_1812_section_5_2_7_1() {
    for c in 0..=15u8 {
        let code = UnreachableCode::from(c);
        assert!(!matches!(code, UnreachableCode::Other(_)), "code {c}");
        assert_eq!(code.value(), c);
    }
    assert_eq!(UnreachableCode::from(3), UnreachableCode::PortUnreachable);
    assert_eq!(
        UnreachableCode::from(13),
        UnreachableCode::CommunicationProhibited
    );
    assert_eq!(UnreachableCode::from(16), UnreachableCode::Other(16));
    assert_eq!(RedirectCode::from(3), RedirectCode::TosHost);
    assert_eq!(
        TimeExceededCode::from(1),
        TimeExceededCode::FragmentReassembly
    );
    assert_eq!(
        ParameterProblemCode::from(2),
        ParameterProblemCode::BadLength
    );
    assert_eq!(
        ParameterProblemCode::from(3),
        ParameterProblemCode::Other(3)
    );
}

#[test]
fn fragmentation_needed_exposes_next_hop_mtu_rfc_1191_section_4() {
    let quote = udp_datagram(8);
    let m = msg(3, 4, [0, 0, 0x05, 0xdc], &quote[..28]);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert_eq!(p.next_hop_mtu(), Some(1500));
    assert!(matches!(
        p.message(),
        IcmpMessage::DestUnreachable {
            code: UnreachableCode::FragmentationNeeded,
            next_hop_mtu: Some(1500),
            ..
        }
    ));
    // Other codes have no MTU.
    let m = msg(3, 3, [0, 0, 0, 0], &quote[..28]);
    let p = IcmpPacket::parse(&m).unwrap();
    assert_eq!(p.next_hop_mtu(), None);
    assert!(matches!(
        p.message(),
        IcmpMessage::DestUnreachable {
            next_hop_mtu: None,
            ..
        }
    ));
}

#[test]
fn error_quote_exposes_the_original_header_and_ports_rfc_1122_section_3_2_2() {
    let d = udp_datagram(100);
    // The usual quote: header + 8 bytes of UDP.
    let m = msg(3, 3, [0; 4], &d[..28]);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    let q = p.quote().unwrap();
    assert_eq!(q.bytes(), &d[..28]);
    let inner = p.quoted().unwrap();
    assert!(inner.is_truncated());
    assert_eq!(inner.total_len(), 128);
    assert_eq!((inner.src(), inner.dst()), (A, B));
    assert_eq!(q.protocol(), Some(IpProtocol::UDP));
    assert_eq!(q.l4_bytes(), Some(&d[20..28]));
    assert_eq!(q.ports(), Some((12345, 53)));
    assert_eq!(q.icmp_ident_seq(), None);
}

#[test]
fn quoted_echo_gives_ident_and_sequence_rfc_792() {
    let echo = b"abcd".wrap_in(IcmpRepr::EchoRequest {
        ident: 0xbeef,
        seq_no: 3,
    });
    let d = echo
        .wrap_in(Ipv4Repr::new(A, B, IpProtocol::ICMP))
        .serialize_vec(0)
        .unwrap();
    let m = msg(11, 0, [0; 4], &d.as_slice()[..28]);
    let q = IcmpPacket::parse(&m).unwrap().quote().unwrap();
    assert_eq!(q.icmp_ident_seq(), Some((0xbeef, 3)));
    assert_eq!(q.ports(), None);
}

#[test]
fn quote_of_later_fragment_has_no_transport_header_rfc_791_section_2_3() {
    let mut d = udp_datagram(8);
    d[6..8].copy_from_slice(&185u16.to_be_bytes());
    let m = msg(11, 1, [0; 4], &d);
    let q = IcmpPacket::parse(&m).unwrap().quote().unwrap();
    assert_eq!(q.l4_bytes(), None);
    assert_eq!(q.ports(), None);
}

#[test]
fn parameter_problem_quoting_bad_options_still_finds_ports_rfc_792() {
    // A header with a malformed option (length 1) at offset 20.
    let mut d = vec![
        0x46, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    d.extend_from_slice(&[0x99, 1, 0, 0]);
    d.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    let m = msg(12, 0, [21, 0, 0, 0], &d);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert!(matches!(
        p.message(),
        IcmpMessage::ParameterProblem {
            code: ParameterProblemCode::Pointer,
            pointer: 21,
            ..
        }
    ));
    assert!(matches!(
        p.quoted(),
        Err(Error::BadQuote(lamina_ipv4::Error::BadOption { .. }))
    ));
    let q = p.quote().unwrap();
    assert_eq!(q.header().map(|h| h.dst()), Some(B));
    assert_eq!(q.ports(), Some((12345, 53)));
}

#[test]
fn redirect_exposes_gateway_and_code_rfc_792() {
    let d = udp_datagram(8);
    let m = msg(5, 1, [192, 0, 2, 254], &d[..28]);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert!(matches!(
        p.message(),
        IcmpMessage::Redirect { code: RedirectCode::Host, gateway, .. } if gateway == Ipv4Addr::new(192, 0, 2, 254)
    ));
    assert_eq!(
        p.to_repr(),
        IcmpRepr::Redirect {
            code: RedirectCode::Host,
            gateway: Ipv4Addr::new(192, 0, 2, 254)
        }
    );
}

#[test]
fn source_quench_is_an_error_with_a_quote_rfc_792() {
    let d = udp_datagram(8);
    let m = msg(4, 0, [0; 4], &d[..28]);
    let p = IcmpPacket::parse(&m).unwrap();
    assert!(p.is_error());
    assert!(
        matches!(p.message(), IcmpMessage::SourceQuench { quote } if quote.ports() == Some((12345, 53)))
    );
}

#[test]
fn rfc_4884_length_bounds_the_quote_and_exposes_extensions() {
    // Time Exceeded with a 128-byte (32-word) original datagram field,
    // then a 12-byte extension structure (RFC 4884 §4.1, §7).
    let d = udp_datagram(100);
    let mut body = d[..128].to_vec();
    body.extend_from_slice(&[0x20, 0, 0x7d, 0xf4, 0, 8, 1, 1, 0, 1, 0x61, 1]);
    let m = msg(11, 0, [0, 32, 0, 0], &body);
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert_eq!(p.rfc4884_length(), Some(32));
    assert_eq!(p.quote().unwrap().bytes().len(), 128);
    assert_eq!(p.extensions(), Some(&body[128..]));
    // Without the length field there are no extensions.
    let m = msg(11, 0, [0; 4], &body);
    let p = IcmpPacket::parse(&m).unwrap();
    assert_eq!(p.rfc4884_length(), None);
    assert_eq!(p.extensions(), None);
    assert_eq!(p.quote().unwrap().bytes().len(), body.len());
}

#[test]
fn router_advertisement_lists_addresses_rfc_1256_section_3() {
    let e1 = RouterAddress {
        address: Ipv4Addr::new(192, 0, 2, 1),
        preference: 10,
    };
    let e2 = RouterAddress {
        address: Ipv4Addr::new(192, 0, 2, 2),
        preference: i32::MIN,
    };
    let mut entries = e1.to_bytes().to_vec();
    entries.extend_from_slice(&e2.to_bytes());
    let r = IcmpRepr::RouterAdvertisement {
        code: 0,
        num_addrs: 2,
        addr_entry_size: 2,
        lifetime: 1800,
    };
    let m = entries.as_slice().wrap_in(&r).serialize_vec(0).unwrap();
    let p = IcmpPacket::parse_verified(m.as_slice()).unwrap();
    assert_eq!(p.to_repr(), r);
    let IcmpMessage::RouterAdvertisement(ra) = p.message() else {
        panic!()
    };
    assert_eq!(ra.lifetime, 1800);
    assert_eq!(ra.addresses().collect::<Vec<_>>(), [e1, e2]);
    assert_eq!(ra.trailing, b"");
    // Entries missing: truncated.
    assert_eq!(
        IcmpPacket::parse(&m.as_slice()[..20]).unwrap_err(),
        Error::Truncated {
            needed: 24,
            got: 20
        }
    );
}

#[test]
fn router_advertisement_rejects_entry_size_below_two_rfc_1256_section_3() {
    let m = msg(9, 0, [1, 1, 0, 30], &[0; 8]);
    assert_eq!(
        IcmpPacket::parse(&m).unwrap_err(),
        Error::BadAddressEntrySize { size: 1 }
    );
}

#[test]
fn router_solicitation_and_unknown_types_rfc_1256() {
    let m = msg(10, 0, [0; 4], b"");
    assert_eq!(
        IcmpPacket::parse(&m).unwrap().message(),
        IcmpMessage::RouterSolicitation
    );
    let m = msg(42, 5, [1, 2, 3, 4], b"raw");
    let p = IcmpPacket::parse_verified(&m).unwrap();
    assert_eq!(
        p.message(),
        IcmpMessage::Other {
            msg_type: IcmpType(42),
            code: 5,
            rest: [1, 2, 3, 4],
            data: b"raw"
        }
    );
    assert_eq!(p.quoted().unwrap_err(), Error::NotAnError { msg_type: 42 });
    let r = p.to_repr();
    let again = p.body().wrap_in(&r).serialize_vec(0).unwrap();
    assert_eq!(again.as_slice(), &m[..]);
}

#[test]
fn error_builder_quotes_header_and_eight_bytes_at_least_rfc_1122_section_3_2_2() {
    // A datagram with 3 bytes of payload is quoted whole.
    let d = udp_datagram(0);
    let short = &d[..23];
    let e = ErrorBuilder::new(IcmpRepr::SourceQuench, short).unwrap();
    assert_eq!(e.quote(), short);
    // Even a limit of 0 keeps the header and 8 bytes.
    let d = udp_datagram(100);
    let e = ErrorBuilder::with_max_quote_len(IcmpRepr::SourceQuench, &d, 0).unwrap();
    assert_eq!(e.quote(), &d[..28]);
}

#[test]
fn error_builder_keeps_the_error_within_576_bytes_rfc_1812_section_4_3_2_3() {
    let d = udp_datagram(200);
    let mut big = d.clone();
    big.resize(1400, 0xaa);
    // Grow the datagram to 1400 bytes (total length and checksum fixed).
    let len = big.len() as u16;
    big[2..4].copy_from_slice(&len.to_be_bytes());
    big[10..12].fill(0);
    let c = checksum::checksum(&big[..20]);
    big[10..12].copy_from_slice(&c.to_be_bytes());
    let repr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::FragmentationNeeded,
        next_hop_mtu: 1280,
    };
    let e = ErrorBuilder::new(repr, &big).unwrap();
    let pkt = e
        .wrap_in(Ipv4Repr::new(B, A, IpProtocol::ICMP))
        .serialize_vec(0)
        .unwrap();
    assert_eq!(pkt.len(), 576);
    let outer = Ipv4Packet::parse_verified(pkt.as_slice()).unwrap();
    let icmp = IcmpPacket::parse_verified(outer.payload()).unwrap();
    assert_eq!(icmp.next_hop_mtu(), Some(1280));
    assert_eq!(icmp.quote().unwrap().bytes(), &big[..548]);
}

#[test]
fn error_builder_leaves_link_padding_out_of_the_quote() {
    let d = udp_datagram(2);
    let mut padded = d.clone();
    padded.resize(46, 0);
    let e = ErrorBuilder::new(
        IcmpRepr::TimeExceeded {
            code: TimeExceededCode::TtlExceeded,
        },
        &padded,
    )
    .unwrap();
    assert_eq!(e.quote(), &d[..]);
}

#[test]
fn error_builder_refuses_non_errors_and_non_ipv4_quotes() {
    let d = udp_datagram(8);
    assert_eq!(
        ErrorBuilder::new(
            IcmpRepr::EchoReply {
                ident: 0,
                seq_no: 0
            },
            &d
        )
        .unwrap_err(),
        Error::NotAnError { msg_type: 0 }
    );
    let mut v6 = d.clone();
    v6[0] = 0x60;
    assert_eq!(
        ErrorBuilder::new(IcmpRepr::SourceQuench, &v6).unwrap_err(),
        Error::BadQuote(lamina_ipv4::Error::BadVersion { version: 6 })
    );
    assert!(matches!(
        quote_for_error(&d[..19], 100),
        Err(Error::BadQuote(lamina_ipv4::Error::Truncated {
            needed: 20,
            got: 19
        }))
    ));
    let mut bad_ihl = d.clone();
    bad_ihl[0] = 0x43;
    assert!(matches!(
        quote_for_error(&bad_ihl, 100),
        Err(Error::BadQuote(_))
    ));
}

#[test]
fn builder_writes_every_byte_and_can_leave_checksum_to_offload() {
    let r = IcmpRepr::ParameterProblem {
        code: ParameterProblemCode::Pointer,
        pointer: 9,
    };
    let mut clean = [0u8; 40];
    let mut dirty = [0xffu8; 40];
    let n = b"body".wrap_in(&r).serialize_into(&mut clean).unwrap();
    b"body".wrap_in(&r).serialize_into(&mut dirty).unwrap();
    assert_eq!(clean[..n], dirty[..n]);
    assert_eq!(&clean[..8], &[12, 0, clean[2], clean[3], 9, 0, 0, 0]);
    let off = b"body"
        .wrap_in(r.builder().checksum(ChecksumMode::Offload))
        .serialize_vec(0)
        .unwrap();
    assert_eq!(&off.as_slice()[2..4], &[0, 0]);
}

/// Random bytes and mutated valid messages: no entry point panics, and
/// every accessor of a parsed message works.
#[test]
fn parse_of_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(792);
    let d = udp_datagram(20);
    let seeds = [
        msg(3, 4, [0, 0, 5, 0xdc], &d),
        msg(11, 0, [0, 7, 0, 0], &d),
        msg(9, 0, [2, 2, 0, 9], &[1; 16]),
        msg(13, 0, [0; 4], &[0; 12]),
        msg(12, 0, [20, 0, 0, 0], &d[..28]),
    ];
    let mut buf = [0u8; 96];
    for i in 0..20_000 {
        let len = rng.below(buf.len() as u32 + 1) as usize;
        if i % 2 == 0 {
            rng.fill_bytes(&mut buf[..len]);
            if len > 0 {
                buf[0] %= 20;
            }
        } else {
            let s = &seeds[i % seeds.len()];
            let n = len.min(s.len());
            buf[..n].copy_from_slice(&s[..n]);
            for _ in 0..rng.in_range(1, 4) {
                if n > 0 {
                    let at = rng.below(n as u32) as usize;
                    buf[at] = rng.next_u32() as u8;
                }
            }
        }
        let data = &buf[..len];
        let _ = IcmpPacket::parse_verified(data);
        if let Ok(p) = IcmpPacket::parse(data) {
            let _ = (
                p.checksum_ok(),
                p.payload(),
                p.body(),
                p.extensions(),
                p.next_hop_mtu(),
            );
            let _ = p.message();
            let r = p.to_repr();
            assert_eq!(r.msg_type(), p.msg_type());
            if let Some(q) = p.quote() {
                let _ = (
                    q.ipv4(),
                    q.l4_bytes(),
                    q.ports(),
                    q.icmp_ident_seq(),
                    p.quoted(),
                );
            }
            if let IcmpMessage::RouterAdvertisement(ra) = p.message() {
                assert_eq!(ra.addresses().count(), usize::from(ra.num_addrs));
            }
        }
        let _ = quote_for_error(data, rng.below(600) as usize);
    }
}

#[cfg(feature = "arbitrary")]
#[test]
fn build_then_parse_gives_back_the_repr() {
    use arbitrary::{Arbitrary, Unstructured};
    let mut rng = SeededRng::new(1256);
    let mut seed = [0u8; 128];
    let mut kinds = std::collections::HashSet::new();
    for _ in 0..5_000 {
        rng.fill_bytes(&mut seed);
        let mut u = Unstructured::new(&seed);
        let repr = IcmpRepr::arbitrary(&mut u).unwrap();
        kinds.insert(core::mem::discriminant(&repr));
        let body = &seed[..rng.below(48) as usize];
        let m = body.wrap_in(&repr).serialize_vec(0).unwrap();
        let p =
            IcmpPacket::parse_verified(m.as_slice()).unwrap_or_else(|e| panic!("{repr:?}: {e}"));
        assert_eq!(p.to_repr(), repr);
        let mut padded = body.to_vec();
        padded.resize(body.len().max(repr.min_body_len()), 0);
        assert_eq!(p.body(), &padded[..]);
        let again = p.body().wrap_in(p.to_repr()).serialize_vec(0).unwrap();
        assert_eq!(again.as_slice(), m.as_slice());
    }
    assert_eq!(kinds.len(), 16, "every message kind generated");
}
