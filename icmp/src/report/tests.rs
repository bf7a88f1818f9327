//! Tests of received errors turned into socket errors.

use core::net::Ipv4Addr;
use std::vec::Vec;

use lamina_ipv4::{IpProtocol, Ipv4Repr};
use lamina_netbuf::serialize::Serializer;

use crate::*;

const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);

/// A UDP datagram we sent, 40000 → 53, `n` bytes of payload.
fn sent_udp(n: usize) -> Vec<u8> {
    let mut body = std::vec![0x9c, 0x40, 0x00, 0x35, 0, (8 + n) as u8, 0, 0];
    body.resize(8 + n, 0xab);
    body.as_slice()
        .wrap_in(&Ipv4Repr::new(ME, PEER, IpProtocol::UDP))
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

fn error_about(repr: IcmpRepr, sent: &[u8]) -> Vec<u8> {
    ErrorBuilder::new(repr, sent)
        .unwrap()
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

fn received(bytes: &[u8]) -> Option<ReceivedError<'_>> {
    received_error(&IcmpPacket::parse_verified(bytes).unwrap())
}

#[test]
fn port_unreachable_is_connection_refused_for_the_quoted_udp_flow_rfc_1122_section_4_1_3_3() {
    let sent = sent_udp(4);
    let msg = error_about(IcmpRepr::PORT_UNREACHABLE, &sent);
    let e = received(&msg).unwrap();
    assert_eq!(e.kind, IcmpErrorKind::ConnectionRefused);
    assert_eq!((e.msg_type, e.code), (IcmpType::DEST_UNREACHABLE, 3));
    assert!(e.hard);
    assert_eq!(
        e.flow,
        QuotedFlow {
            protocol: IpProtocol::UDP,
            src: ME,
            dst: PEER,
            transport: QuotedTransport::Ports {
                src_port: 40000,
                dst_port: 53
            },
        }
    );
    assert_eq!(e.flow.ports(), Some((40000, 53)));
    assert_eq!(e.flow.icmp_ident(), None);
    assert_eq!(e.quoted_total_len, 20 + 12);
    assert_eq!(&e.quoted_transport[..4], &[0x9c, 0x40, 0x00, 0x35]);
    assert_eq!(e.pmtu_estimate(), None);
}

#[test]
fn every_unreachable_code_has_its_kind_and_hardness_rfc_1122_section_4_2_3_9() {
    use IcmpErrorKind as K;
    let table = [
        (0, K::NetworkUnreachable, false),
        (1, K::HostUnreachable, false),
        (2, K::ProtocolUnreachable, true),
        (3, K::ConnectionRefused, true),
        (4, K::MessageTooLong, false),
        (5, K::SourceRouteFailed, false),
        (6, K::NetworkUnreachable, true),
        (7, K::HostUnreachable, true),
        (8, K::HostUnreachable, true),
        (9, K::AdministrativelyProhibited, true),
        (10, K::AdministrativelyProhibited, true),
        (11, K::NetworkUnreachable, false),
        (12, K::HostUnreachable, false),
        (13, K::AdministrativelyProhibited, true),
        (14, K::HostUnreachable, true),
        (15, K::HostUnreachable, true),
        (16, K::HostUnreachable, false),
        (200, K::HostUnreachable, false),
    ];
    let sent = sent_udp(0);
    for (code, kind, hard) in table {
        let repr = IcmpRepr::DestUnreachable {
            code: UnreachableCode::from(code),
            next_hop_mtu: 0,
        };
        let msg = error_about(repr, &sent);
        let e = received(&msg).unwrap();
        assert_eq!((e.kind, e.hard), (kind, hard), "code {code}");
        assert_eq!(unreachable_is_hard(UnreachableCode::from(code)), hard);
    }
}

#[test]
fn time_exceeded_and_parameter_problem_are_soft_rfc_1122_section_4_2_3_9() {
    let sent = sent_udp(0);
    let e_ttl = error_about(IcmpRepr::TTL_EXCEEDED, &sent);
    let e = received(&e_ttl).unwrap();
    assert_eq!((e.kind, e.hard), (IcmpErrorKind::TtlExceeded, false));
    let e_reasm = error_about(IcmpRepr::REASSEMBLY_TIME_EXCEEDED, &sent);
    assert_eq!(
        received(&e_reasm).unwrap().kind,
        IcmpErrorKind::ReassemblyTimeExceeded
    );
    let e_pp = error_about(IcmpRepr::parameter_problem(9), &sent);
    let e = received(&e_pp).unwrap();
    assert_eq!(
        (e.kind, e.hard, e.pointer),
        (IcmpErrorKind::ParameterProblem, false, Some(9))
    );
}

#[test]
fn hard_errors_abort_only_unsynchronized_tcp_connections_rfc_5927_section_4_1() {
    let sent = sent_udp(0);
    let refused = error_about(IcmpRepr::PORT_UNREACHABLE, &sent);
    let e = received(&refused).unwrap();
    assert!(e.should_abort(false));
    assert!(!e.should_abort(true));
    let host = error_about(IcmpRepr::HOST_UNREACHABLE, &sent);
    let e = received(&host).unwrap();
    assert!(!e.should_abort(false) && !e.should_abort(true));
}

#[test]
fn fragmentation_needed_gives_the_path_mtu_rfc_1191_section_5() {
    let sent = sent_udp(1472); // a 1500-byte datagram
    // A plausible next-hop MTU is used as is.
    let m = error_about(IcmpRepr::fragmentation_needed(1400), &sent);
    let e = received(&m).unwrap();
    assert_eq!(e.kind, IcmpErrorKind::MessageTooLong);
    assert_eq!(e.next_hop_mtu, Some(1400));
    assert_eq!(e.quoted_total_len, 1500);
    assert_eq!(e.pmtu_estimate(), Some(1400));
    // An old router reports zero: the next plateau below 1500.
    let m = error_about(IcmpRepr::fragmentation_needed(0), &sent);
    assert_eq!(received(&m).unwrap().pmtu_estimate(), Some(1492));
    // Nonsense (not below what we sent, or below 68): plateau too.
    let m = error_about(IcmpRepr::fragmentation_needed(9000), &sent);
    assert_eq!(received(&m).unwrap().pmtu_estimate(), Some(1492));
    let m = error_about(IcmpRepr::fragmentation_needed(20), &sent);
    assert_eq!(received(&m).unwrap().pmtu_estimate(), Some(1492));
}

#[test]
fn plateaus_follow_rfc_1191_section_7() {
    assert_eq!(plateau_below(65535), 32000);
    assert_eq!(plateau_below(32000), 17914);
    assert_eq!(plateau_below(576), 508);
    assert_eq!(plateau_below(69), 68);
    assert_eq!(plateau_below(0), 68);
}

#[test]
fn quoted_echo_finds_the_ping_socket_by_identifier() {
    let ping = b"data"
        .wrap_in(&IcmpRepr::EchoRequest {
            ident: 0x77,
            seq_no: 3,
        })
        .wrap_in(&Ipv4Repr::new(ME, PEER, IpProtocol::ICMP))
        .serialize_vec(0)
        .unwrap();
    let m = error_about(IcmpRepr::TTL_EXCEEDED, ping.as_slice());
    let e = received(&m).unwrap();
    assert_eq!(
        e.flow.transport,
        QuotedTransport::IcmpQuery {
            ident: 0x77,
            seq_no: 3
        }
    );
    assert_eq!(e.flow.icmp_ident(), Some(0x77));
    assert_eq!(e.flow.ports(), None);
}

#[test]
fn quoted_later_fragment_or_unknown_protocol_has_no_transport_ids() {
    let later = [0u8; 16]
        .wrap_in(&Ipv4Repr {
            fragment_offset: 100,
            ..Ipv4Repr::new(ME, PEER, IpProtocol::UDP)
        })
        .serialize_vec(0)
        .unwrap();
    // ErrorBuilder quotes anything readable; build by hand.
    let m = error_about(IcmpRepr::HOST_UNREACHABLE, later.as_slice());
    assert_eq!(
        received(&m).unwrap().flow.transport,
        QuotedTransport::Unknown
    );
    let gre = [0u8; 8]
        .wrap_in(&Ipv4Repr::new(ME, PEER, IpProtocol(47)))
        .serialize_vec(0)
        .unwrap();
    let m = error_about(IcmpRepr::HOST_UNREACHABLE, gre.as_slice());
    let e = received(&m).unwrap();
    assert_eq!(e.flow.protocol, IpProtocol(47));
    assert_eq!(e.flow.transport, QuotedTransport::Unknown);
}

#[test]
fn redirects_quench_queries_and_unreadable_quotes_are_not_socket_errors_rfc_6633_section_2() {
    let sent = sent_udp(0);
    let redirect = error_about(
        IcmpRepr::Redirect {
            code: RedirectCode::Host,
            gateway: PEER,
        },
        &sent,
    );
    assert!(received(&redirect).is_none());
    let quench = error_about(IcmpRepr::SourceQuench, &sent);
    assert!(received(&quench).is_none());
    let echo = b"x"
        .wrap_in(&IcmpRepr::EchoRequest {
            ident: 1,
            seq_no: 1,
        })
        .serialize_vec(0)
        .unwrap();
    assert!(received(echo.as_slice()).is_none());
    // An error quoting fewer than 20 bytes.
    let short = b"0123456789"
        .wrap_in(&IcmpRepr::PORT_UNREACHABLE)
        .serialize_vec(0)
        .unwrap();
    assert!(received(short.as_slice()).is_none());
}

#[cfg(feature = "std")]
#[test]
fn kinds_map_to_io_error_kinds() {
    use std::io::ErrorKind as K;
    let table = [
        (IcmpErrorKind::NetworkUnreachable, K::NetworkUnreachable),
        (IcmpErrorKind::HostUnreachable, K::HostUnreachable),
        (IcmpErrorKind::ProtocolUnreachable, K::ConnectionRefused),
        (IcmpErrorKind::ConnectionRefused, K::ConnectionRefused),
        (IcmpErrorKind::MessageTooLong, K::InvalidInput),
        (IcmpErrorKind::SourceRouteFailed, K::HostUnreachable),
        (
            IcmpErrorKind::AdministrativelyProhibited,
            K::HostUnreachable,
        ),
        (IcmpErrorKind::TtlExceeded, K::TimedOut),
        (IcmpErrorKind::ReassemblyTimeExceeded, K::TimedOut),
        (IcmpErrorKind::ParameterProblem, K::InvalidData),
    ];
    for (kind, io) in table {
        assert_eq!(K::from(kind), io);
        assert!(!std::format!("{kind}").is_empty());
    }
}
