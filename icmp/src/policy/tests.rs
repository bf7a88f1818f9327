//! Tests of the rules on when an ICMP error may be sent.

use core::net::Ipv4Addr;
use std::vec::Vec;

use lamina_ipv4::{IpProtocol, Ipv4Header, Ipv4Repr};
use lamina_netbuf::serialize::Serializer;

use crate::*;

const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn datagram(ip: &Ipv4Repr, body: &[u8]) -> Vec<u8> {
    body.wrap_in(ip).serialize_vec(0).unwrap().into_vec()
}

fn udp(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    datagram(
        &Ipv4Repr::new(src, dst, IpProtocol::UDP),
        &[0x30, 0x39, 0, 53, 0, 8, 0, 0],
    )
}

fn icmp_of_type(t: u8) -> Vec<u8> {
    datagram(
        &Ipv4Repr::new(PEER, ME, IpProtocol::ICMP),
        &[t, 0, 0, 0, 0, 0, 0, 0],
    )
}

const NONE: ErrorContext = ErrorContext {
    link_broadcast: false,
    dst_is_broadcast: false,
    src_is_broadcast: false,
    loopback_interface: false,
};

#[test]
fn an_ordinary_unicast_datagram_may_earn_an_error() {
    assert_eq!(should_send_error(&udp(PEER, ME), &NONE), Ok(()));
}

#[test]
fn never_an_error_about_an_icmp_error_rfc_1122_section_3_2_2() {
    for t in [3, 4, 5, 11, 12] {
        assert_eq!(
            should_send_error(&icmp_of_type(t), &NONE),
            Err(Suppression::AboutIcmpError),
            "type {t}"
        );
    }
}

#[test]
fn icmp_queries_may_earn_an_error_rfc_1122_section_3_2_2() {
    for t in [0, 8, 9, 10, 13, 14, 15, 16, 17, 18] {
        assert_eq!(
            should_send_error(&icmp_of_type(t), &NONE),
            Ok(()),
            "type {t}"
        );
    }
}

#[test]
fn unknown_or_unreadable_icmp_types_count_as_errors() {
    for t in [1, 2, 6, 7, 19, 40, 255] {
        assert_eq!(
            should_send_error(&icmp_of_type(t), &NONE),
            Err(Suppression::AboutIcmpError),
            "type {t}"
        );
    }
    let mut empty = datagram(&Ipv4Repr::new(PEER, ME, IpProtocol::ICMP), &[]);
    assert_eq!(
        should_send_error(&empty, &NONE),
        Err(Suppression::AboutIcmpError)
    );
    // Link padding after an empty ICMP datagram is not a type octet.
    empty.extend_from_slice(&[8; 6]);
    assert_eq!(
        should_send_error(&empty, &NONE),
        Err(Suppression::AboutIcmpError)
    );
}

#[test]
fn never_an_error_about_a_broadcast_or_multicast_destination_rfc_1812_section_4_3_2_7() {
    assert_eq!(
        should_send_error(&udp(PEER, Ipv4Addr::BROADCAST), &NONE),
        Err(Suppression::BroadcastDestination)
    );
    assert_eq!(
        should_send_error(&udp(PEER, Ipv4Addr::UNSPECIFIED), &NONE),
        Err(Suppression::BroadcastDestination)
    );
    let directed = ErrorContext {
        dst_is_broadcast: true,
        ..NONE
    };
    assert_eq!(
        should_send_error(&udp(PEER, Ipv4Addr::new(192, 0, 2, 255)), &directed),
        Err(Suppression::BroadcastDestination)
    );
    assert_eq!(
        should_send_error(&udp(PEER, Ipv4Addr::new(224, 0, 0, 251)), &NONE),
        Err(Suppression::MulticastDestination)
    );
}

#[test]
fn never_an_error_about_a_link_layer_broadcast_rfc_1122_section_3_2_2() {
    let ctx = ErrorContext {
        link_broadcast: true,
        ..NONE
    };
    assert_eq!(
        should_send_error(&udp(PEER, ME), &ctx),
        Err(Suppression::LinkBroadcast)
    );
}

#[test]
fn never_an_error_about_a_non_initial_fragment_rfc_1122_section_3_2_2() {
    let later = Ipv4Repr {
        fragment_offset: 185,
        ..Ipv4Repr::new(PEER, ME, IpProtocol::UDP)
    };
    assert_eq!(
        should_send_error(&datagram(&later, &[0; 16]), &NONE),
        Err(Suppression::NonInitialFragment)
    );
    // The first fragment may earn one (reassembly timeout, RFC 792).
    let first = Ipv4Repr {
        more_fragments: true,
        ..Ipv4Repr::new(PEER, ME, IpProtocol::UDP)
    };
    assert_eq!(
        should_send_error(&datagram(&first, &[0; 16]), &NONE),
        Ok(())
    );
}

#[test]
fn never_an_error_to_a_source_that_is_not_a_single_host_rfc_1812_section_4_3_2_7() {
    for src in [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(0, 1, 2, 3),
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(240, 0, 0, 1),
    ] {
        assert_eq!(
            should_send_error(&udp(src, ME), &NONE),
            Err(Suppression::SourceNotUnicast),
            "{src}"
        );
    }
    let directed = ErrorContext {
        src_is_broadcast: true,
        ..NONE
    };
    assert_eq!(
        should_send_error(&udp(Ipv4Addr::new(192, 0, 2, 255), ME), &directed),
        Err(Suppression::SourceNotUnicast)
    );
}

#[test]
fn loopback_sources_are_answered_on_the_loopback_interface_rfc_1122_section_3_2_1_3() {
    let lo = ErrorContext {
        loopback_interface: true,
        ..NONE
    };
    let local = Ipv4Addr::new(127, 0, 0, 1);
    assert_eq!(should_send_error(&udp(local, local), &lo), Ok(()));
}

#[test]
fn unreadable_datagrams_earn_nothing() {
    assert_eq!(should_send_error(&[], &NONE), Err(Suppression::Unreadable));
    assert_eq!(
        should_send_error(&[0x45; 19], &NONE),
        Err(Suppression::Unreadable)
    );
    let mut v6 = udp(PEER, ME);
    v6[0] = 0x65;
    assert_eq!(should_send_error(&v6, &NONE), Err(Suppression::Unreadable));
    let mut short_ihl = udp(PEER, ME);
    short_ihl[0] = 0x44;
    assert_eq!(
        should_send_error(&short_ihl, &NONE),
        Err(Suppression::Unreadable)
    );
    // IHL of 15 (60 bytes) on a 28-byte datagram.
    let mut long_ihl = udp(PEER, ME);
    long_ihl[0] = 0x4f;
    assert_eq!(
        should_send_error(&long_ihl, &NONE),
        Err(Suppression::Unreadable)
    );
}

#[test]
fn suppression_indices_follow_all() {
    for (i, s) in Suppression::ALL.iter().enumerate() {
        assert_eq!(s.index(), i);
        assert!(!std::format!("{s}").is_empty());
    }
}

#[test]
fn named_errors_carry_their_codes_rfc_792_rfc_1191() {
    assert_eq!(
        (
            IcmpRepr::PORT_UNREACHABLE.msg_type(),
            IcmpRepr::PORT_UNREACHABLE.code()
        ),
        (IcmpType::DEST_UNREACHABLE, 3)
    );
    assert_eq!(IcmpRepr::PROTOCOL_UNREACHABLE.code(), 2);
    assert_eq!(IcmpRepr::HOST_UNREACHABLE.code(), 1);
    assert_eq!(IcmpRepr::NET_UNREACHABLE.code(), 0);
    assert_eq!(IcmpRepr::TTL_EXCEEDED.code(), 0);
    assert_eq!(IcmpRepr::REASSEMBLY_TIME_EXCEEDED.code(), 1);
    assert_eq!(
        IcmpRepr::fragmentation_needed(1400),
        IcmpRepr::DestUnreachable {
            code: UnreachableCode::FragmentationNeeded,
            next_hop_mtu: 1400
        }
    );
    assert_eq!(
        IcmpRepr::parameter_problem(9),
        IcmpRepr::ParameterProblem {
            code: ParameterProblemCode::Pointer,
            pointer: 9
        }
    );
    for r in [
        IcmpRepr::PORT_UNREACHABLE,
        IcmpRepr::TTL_EXCEEDED,
        IcmpRepr::parameter_problem(0),
    ] {
        assert!(r.is_error());
    }
}

#[test]
fn error_header_goes_back_to_the_source_with_network_control_precedence_rfc_1812_section_4_3_2_5() {
    let d = udp(PEER, ME);
    let ip = error_ipv4_repr(Ipv4Header::peek(&d).unwrap(), ME);
    assert_eq!((ip.src, ip.dst, ip.protocol), (ME, PEER, IpProtocol::ICMP));
    assert_eq!(ip.dscp >> 3, 6, "precedence 6");
    assert!(ip.options.is_empty());
}
