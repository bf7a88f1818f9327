//! Tests of the checksum policy and the counters.

use core::net::Ipv4Addr;
use std::vec::Vec;

use lamina_netbuf::serialize::Serializer;

use crate::*;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn datagram(policy: &ChecksumPolicy, payload: &[u8]) -> Vec<u8> {
    let repr = UdpRepr {
        src_port: 1111,
        dst_port: 2222,
    };
    payload
        .wrap_in(policy.builder(&repr, A, B))
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

#[test]
fn a_good_checksum_is_accepted_and_a_bad_one_discarded_rfc_1122_section_4_1_3_4() {
    let p = ChecksumPolicy::default();
    let mut d = datagram(&p, b"some data");
    assert_eq!(p.parse(&d, A, B, false).unwrap().payload(), b"some data");
    d[10] ^= 0x40;
    assert_eq!(p.parse(&d, A, B, false).unwrap_err(), Error::BadChecksum);
    // The wrong pseudo-header fails too.
    let d = datagram(&p, b"x");
    assert_eq!(p.parse(&d, A, A, false).unwrap_err(), Error::BadChecksum);
}

#[test]
fn a_zero_checksum_is_accepted_unless_configured_otherwise_rfc_1122_section_4_1_3_4() {
    let zero = ChecksumPolicy {
        tx: ChecksumMode::Zero,
        ..ChecksumPolicy::default()
    };
    let d = datagram(&zero, b"no checksum");
    assert_eq!(&d[6..8], &[0, 0]);
    assert!(ChecksumPolicy::default().parse(&d, A, B, false).is_ok());
    let strict = ChecksumPolicy {
        accept_zero: false,
        ..ChecksumPolicy::default()
    };
    assert_eq!(
        strict.parse(&d, A, B, false).unwrap_err(),
        Error::MissingChecksum
    );
    // A device cannot vouch for a checksum that is not there.
    assert_eq!(
        strict.parse(&d, A, B, true).unwrap_err(),
        Error::MissingChecksum
    );
}

#[test]
fn device_verified_checksums_are_trusted() {
    let p = ChecksumPolicy::default();
    let mut d = datagram(&p, b"offloaded");
    d[9] ^= 1;
    assert!(p.parse(&d, A, B, true).is_ok());
    // But a truncated datagram is never accepted as verified.
    let udp = UdpPacket::parse_truncated(&d[..12]).unwrap();
    assert_eq!(p.check(&udp, A, B, true), Err(Error::BadChecksum));
}

#[test]
fn a_computed_zero_is_sent_as_all_ones_rfc_768() {
    // Find a payload whose checksum computes to zero, then check it is
    // sent as 0xFFFF and verifies.
    let p = ChecksumPolicy::default();
    let mut found = false;
    for v in 0..=u16::MAX {
        let d = datagram(&p, &v.to_be_bytes());
        if d[6..8] == [0xff, 0xff] {
            assert!(p.parse(&d, A, B, false).is_ok());
            found = true;
            break;
        }
    }
    assert!(found);
}

#[test]
fn offload_leaves_the_pseudo_header_sum_for_the_device() {
    let p = ChecksumPolicy {
        tx: ChecksumMode::Offload,
        ..ChecksumPolicy::default()
    };
    let d = datagram(&p, b"to the nic");
    assert_ne!(&d[6..8], &[0, 0]);
    assert_eq!(
        ChecksumPolicy::default()
            .parse(&d, A, B, false)
            .unwrap_err(),
        Error::BadChecksum
    );
}

#[test]
fn parse_errors_pass_through() {
    let p = ChecksumPolicy::default();
    assert!(matches!(
        p.parse(&[0; 4], A, B, false),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn counters_follow_rfc_4113_and_linux() {
    let mut s = UdpStats::default();
    s.record_delivered();
    s.record_no_port(false);
    s.record_no_port(true);
    s.record_malformed();
    s.record_checksum_error();
    s.record_rcvbuf_error();
    s.record_rx_error(&Error::MissingChecksum);
    s.record_rx_error(&Error::BadLength { length: 3 });
    s.record_sent();
    s.record_sndbuf_error();
    assert_eq!(
        s,
        UdpStats {
            in_datagrams: 1,
            no_ports: 1,
            in_errors: 5,
            out_datagrams: 1,
            rcvbuf_errors: 1,
            sndbuf_errors: 1,
            in_csum_errors: 2,
            ignored_multi: 1,
        }
    );
}

/// The check split in two (what needs no payload, then the payload's sum
/// from a copy) judges every datagram as the whole check does: good, bad
/// anywhere, zero checksum under either setting, device-verified,
/// truncated.
#[test]
fn the_check_with_the_payload_sum_from_a_copy_agrees_with_the_whole_check() {
    use lamina_netbuf::checksum::copy_with_sum;
    let split = |p: &ChecksumPolicy, bytes: &[u8], dv: bool| -> Result<(), Error> {
        let udp = UdpPacket::parse_truncated(bytes)?;
        if !p.needs_payload_sum(&udp, dv)? {
            return Ok(());
        }
        let mut copy = std::vec![0u8; udp.payload().len()];
        let sum = copy_with_sum(&mut copy, udp.payload());
        assert_eq!(copy, udp.payload());
        p.check_with_sum(&udp, A, B, sum)
    };
    let whole = |p: &ChecksumPolicy, bytes: &[u8], dv: bool| -> Result<(), Error> {
        let udp = UdpPacket::parse_truncated(bytes)?;
        p.check(&udp, A, B, dv)
    };
    let mut cases = 0;
    for tx in [ChecksumMode::Compute, ChecksumMode::Zero] {
        for accept_zero in [true, false] {
            let p = ChecksumPolicy { accept_zero, tx };
            for len in [0usize, 1, 2, 31, 64, 65, 1472] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                let good = datagram(&p, &payload);
                let mut variants = std::vec![good.clone()];
                for flip in [0usize, 6, 7, 8, good.len() - 1] {
                    let mut d = good.clone();
                    d[flip.min(good.len() - 1)] ^= 0x10;
                    variants.push(d);
                }
                // Truncated: the length field claims more than there is.
                variants.push(good[..good.len().saturating_sub(1).max(8)].to_vec());
                for d in &variants {
                    for dv in [false, true] {
                        assert_eq!(
                            split(&p, d, dv),
                            whole(&p, d, dv),
                            "len {len} {d:?} dv {dv}"
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 100);
}
