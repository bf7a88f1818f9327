use super::*;
use alloc::vec;
use alloc::vec::Vec;
use arbitrary::{Arbitrary, Unstructured};
use lamina_netbuf::serialize::Serializer;
use lamina_netbuf::{Rng, SeededRng};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn build(repr: UdpRepr, mode: ChecksumMode, payload: &[u8]) -> Vec<u8> {
    payload
        .wrap_in(repr.builder(A, B).checksum(mode))
        .serialize_vec(0)
        .expect("buildable")
        .into_vec()
}

/// A DNS-like datagram 5353 -> 53 with payload "abc" and a checksum
/// computed by hand (RFC 768): pseudo-header 0xc000+0x0201+0xc000+0x0202
/// +0x0011+0x000b, header 0x14e9+0x0035+0x000b, data 0x6162+0x6300.
fn sample() -> [u8; 11] {
    let mut p = [
        0x14, 0xe9, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, b'a', b'b', b'c',
    ];
    let words: u32 = 0xc000
        + 0x0201
        + 0xc000
        + 0x0202
        + 0x0011
        + 0x000b
        + 0x14e9
        + 0x0035
        + 0x000b
        + 0x6162
        + 0x6300;
    let folded = (words & 0xffff) + (words >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    let c = !(folded as u16);
    p[6..8].copy_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn parses_every_header_field_rfc768() {
    let bytes = sample();
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.src_port(), 5353);
    assert_eq!(p.dst_port(), 53);
    assert_eq!(p.length(), 11);
    assert_eq!(p.checksum(), u16::from_be_bytes([bytes[6], bytes[7]]));
    assert_eq!(p.payload(), b"abc");
    assert!(!p.is_truncated());
    assert_eq!(p.header().length.get(), 11);
    assert_eq!(
        p.to_repr(),
        UdpRepr {
            src_port: 5353,
            dst_port: 53
        }
    );
}

#[test]
fn hand_computed_checksum_verifies_rfc768() {
    let bytes = sample();
    let p = UdpPacket::parse_verified(&bytes, A, B).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Good);
    assert!(p.checksum_ok(A, B));
    // The pseudo-header covers the addresses: swapping one breaks it.
    assert_eq!(
        p.checksum_status(A, Ipv4Addr::new(192, 0, 2, 3)),
        ChecksumStatus::Bad
    );
}

#[test]
fn rejects_buffer_shorter_than_header() {
    for n in 0..HEADER_LEN {
        assert_eq!(
            UdpPacket::parse(&sample()[..n]),
            Err(Error::Truncated { needed: 8, got: n })
        );
        assert_eq!(
            UdpPacket::parse_truncated(&sample()[..n]),
            Err(Error::Truncated { needed: 8, got: n })
        );
    }
}

#[test]
fn rejects_length_field_below_header_length_rfc768() {
    for len in 0..8u16 {
        let mut bytes = sample();
        bytes[4..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            UdpPacket::parse(&bytes),
            Err(Error::BadLength { length: len })
        );
        assert_eq!(
            UdpPacket::parse_truncated(&bytes),
            Err(Error::BadLength { length: len })
        );
    }
}

#[test]
fn accepts_length_field_of_exactly_eight_rfc768() {
    let mut bytes = sample();
    bytes[4..6].copy_from_slice(&8u16.to_be_bytes());
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.payload(), b"");
}

#[test]
fn strict_parse_rejects_length_beyond_buffer() {
    let bytes = sample();
    assert_eq!(
        UdpPacket::parse(&bytes[..10]),
        Err(Error::Truncated {
            needed: 11,
            got: 10
        })
    );
    assert_eq!(
        UdpPacket::parse_verified(&bytes[..10], A, B),
        Err(Error::Truncated {
            needed: 11,
            got: 10
        })
    );
}

#[test]
fn parse_truncated_reads_a_capture_cut_short() {
    let bytes = sample();
    let p = UdpPacket::parse_truncated(&bytes[..9]).unwrap();
    assert!(p.is_truncated());
    assert_eq!(p.length(), 11);
    assert_eq!(p.dst_port(), 53);
    assert_eq!(p.payload(), b"a");
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Unverifiable);
    assert!(!p.checksum_ok(A, B));
    // A complete datagram is not reported as truncated.
    assert!(!UdpPacket::parse_truncated(&bytes).unwrap().is_truncated());
}

#[test]
fn payload_is_cut_at_length_field_ignoring_link_padding() {
    let mut padded = sample().to_vec();
    padded.extend_from_slice(&[0u8; 20]);
    let p = UdpPacket::parse_verified(&padded, A, B).unwrap();
    assert_eq!(p.payload(), b"abc");
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Good);
}

#[test]
fn zero_checksum_means_absent_not_bad_rfc768_rfc1122_4_1_3_4() {
    let mut bytes = sample();
    bytes[6..8].fill(0);
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Absent);
    assert!(p.checksum_ok(A, B));
    assert!(UdpPacket::parse_verified(&bytes, A, B).is_ok());
    assert_eq!(
        UdpPacket::parse_verified_strict(&bytes, A, B),
        Err(Error::MissingChecksum)
    );
    // Even when truncated, a zero field is reported as absent.
    let p = UdpPacket::parse_truncated(&bytes[..9]).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Absent);
}

#[test]
fn detects_corrupted_payload_through_checksum_rfc768() {
    let mut bytes = sample();
    bytes[9] ^= 0x40;
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Bad);
    assert!(!p.checksum_ok(A, B));
    assert_eq!(
        UdpPacket::parse_verified(&bytes, A, B),
        Err(Error::BadChecksum)
    );
    assert_eq!(
        UdpPacket::parse_verified_strict(&bytes, A, B),
        Err(Error::BadChecksum)
    );
}

#[test]
fn builder_reproduces_hand_computed_datagram() {
    let repr = UdpRepr {
        src_port: 5353,
        dst_port: 53,
    };
    assert_eq!(build(repr, ChecksumMode::Compute, b"abc"), sample());
}

#[test]
fn computed_zero_checksum_is_sent_as_all_ones_rfc768() {
    let repr = UdpRepr {
        src_port: 1,
        dst_port: 2,
    };
    // With a two-byte payload equal to the checksum over a zero payload,
    // the sum becomes all ones and the checksum zero.
    let first = build(repr, ChecksumMode::Compute, &[0, 0]);
    let c = u16::from_be_bytes([first[6], first[7]]);
    let bytes = build(repr, ChecksumMode::Compute, &c.to_be_bytes());
    assert_eq!(&bytes[6..8], &[0xff, 0xff]);
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Good);
}

#[test]
fn zero_mode_sends_no_checksum_rfc768() {
    let repr = UdpRepr {
        src_port: 9,
        dst_port: 7,
    };
    let bytes = build(repr, ChecksumMode::Zero, b"echo");
    assert_eq!(&bytes[6..8], &[0, 0]);
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Absent);
}

#[test]
fn offload_mode_leaves_pseudo_header_sum_for_the_device() {
    let repr = UdpRepr {
        src_port: 4000,
        dst_port: 4001,
    };
    let mut bytes = build(repr, ChecksumMode::Offload, b"offloaded payload");
    let len = bytes.len() as u16;
    assert_eq!(
        u16::from_be_bytes([bytes[6], bytes[7]]),
        checksum::ipv4_pseudo_header(A, B, IP_PROTOCOL, len).sum()
    );
    // What a device does: checksum from the UDP header on, field included.
    let c = checksum::checksum(&bytes);
    bytes[6..8].copy_from_slice(&c.to_be_bytes());
    let p = UdpPacket::parse(&bytes).unwrap();
    assert_eq!(p.checksum_status(A, B), ChecksumStatus::Good);
    assert_eq!(
        bytes,
        build(repr, ChecksumMode::Compute, b"offloaded payload")
    );
}

#[test]
fn builder_writes_every_header_byte() {
    let repr = UdpRepr {
        src_port: 0,
        dst_port: 0,
    };
    for mode in [
        ChecksumMode::Compute,
        ChecksumMode::Offload,
        ChecksumMode::Zero,
    ] {
        let s = b"xy".wrap_in(repr.builder(A, B).checksum(mode));
        let mut dirty = [0xa5u8; 10];
        let mut clean = [0u8; 10];
        assert_eq!(s.serialize_into(&mut dirty), Ok(10));
        assert_eq!(s.serialize_into(&mut clean), Ok(10));
        assert_eq!(dirty, clean, "{mode:?}");
    }
}

#[test]
fn builder_refuses_body_longer_than_length_field_allows_rfc768() {
    let repr = UdpRepr::default();
    let body = vec![0u8; MAX_PAYLOAD_LEN + 1];
    assert_eq!(
        body.as_slice().wrap_in(repr.builder(A, B)).serialized_len(),
        Err(lamina_netbuf::Error::BodyTooLong {
            len: MAX_PAYLOAD_LEN + 1,
            max: MAX_PAYLOAD_LEN
        })
    );
    let body = vec![0x5au8; MAX_PAYLOAD_LEN];
    let bytes = build(repr, ChecksumMode::Compute, &body);
    let p = UdpPacket::parse_verified(&bytes, A, B).unwrap();
    assert_eq!(p.length(), u16::MAX);
}

fn random_bytes(rng: &mut SeededRng, max: u32) -> Vec<u8> {
    let mut v = vec![0u8; rng.below(max) as usize];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn property_build_then_parse_gives_back_the_repr() {
    let mut rng = SeededRng::new(0x0d9_768);
    for _ in 0..2000 {
        let seed = random_bytes(&mut rng, 64);
        let mut u = Unstructured::new(&seed);
        let Ok(repr) = UdpRepr::arbitrary(&mut u) else {
            continue;
        };
        let src = Ipv4Addr::from_bits(rng.next_u32());
        let dst = Ipv4Addr::from_bits(rng.next_u32());
        let payload = random_bytes(&mut rng, 600);
        let mode = match rng.below(3) {
            0 => ChecksumMode::Compute,
            1 => ChecksumMode::Offload,
            _ => ChecksumMode::Zero,
        };
        let bytes = payload
            .as_slice()
            .wrap_in(repr.builder(src, dst).checksum(mode))
            .serialize_vec(0)
            .unwrap();
        let p = UdpPacket::parse(bytes.as_slice()).unwrap();
        assert_eq!(p.to_repr(), repr);
        assert_eq!(p.payload(), payload.as_slice());
        assert_eq!(usize::from(p.length()), payload.len() + HEADER_LEN);
        match mode {
            ChecksumMode::Compute => assert_eq!(p.checksum_status(src, dst), ChecksumStatus::Good),
            ChecksumMode::Zero => assert_eq!(p.checksum_status(src, dst), ChecksumStatus::Absent),
            ChecksumMode::Offload => assert_eq!(
                p.checksum(),
                checksum::ipv4_pseudo_header(src, dst, IP_PROTOCOL, p.length()).sum()
            ),
        }
    }
}

#[test]
fn property_parse_of_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(768);
    let valid = sample();
    for i in 0..20_000 {
        let bytes = if i % 2 == 0 {
            random_bytes(&mut rng, 40)
        } else {
            // Mutations of a valid datagram reach deeper.
            let mut b = valid.to_vec();
            let flips = rng.below(4) + 1;
            for _ in 0..flips {
                let at = rng.below(b.len() as u32) as usize;
                b[at] = rng.next_u32() as u8;
            }
            b.truncate(rng.below(b.len() as u32 + 1) as usize);
            b
        };
        for p in [
            UdpPacket::parse(&bytes),
            UdpPacket::parse_truncated(&bytes),
            UdpPacket::parse_verified(&bytes, A, B),
            UdpPacket::parse_verified_strict(&bytes, A, B),
        ]
        .into_iter()
        .flatten()
        {
            let _ = (p.src_port(), p.dst_port(), p.checksum(), p.to_repr());
            let _ = p.checksum_status(A, B);
            assert!(p.payload().len() + HEADER_LEN <= usize::from(p.length()));
            assert!(p.payload().len() + HEADER_LEN <= bytes.len());
        }
    }
}
