//! Tests of echo replies: in place, by copy, and their IP options.

use core::net::Ipv4Addr;
use std::vec;
use std::vec::Vec;

use lamina_ipv4::{
    IpProtocol, Ipv4Option, Ipv4OptionsBuf, Ipv4Packet, Ipv4Repr, RouteOption, TimestampFlag,
    TimestampOption,
};
use lamina_netbuf::checksum;
use lamina_netbuf::rng::{Rng, SeededRng};
use lamina_netbuf::serialize::Serializer;

use crate::*;

const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    data.wrap_in(&IcmpRepr::EchoRequest { ident, seq_no })
        .serialize_vec(0)
        .unwrap()
        .into_vec()
}

fn request_datagram(data: &[u8], ip: &Ipv4Repr) -> Vec<u8> {
    data.wrap_in(&IcmpRepr::EchoRequest {
        ident: 0x4242,
        seq_no: 7,
    })
    .wrap_in(ip)
    .serialize_vec(0)
    .unwrap()
    .into_vec()
}

#[test]
fn reply_returns_identifier_sequence_and_all_the_data_rfc_1122_section_3_2_2_6() {
    // A ping near the reassembly limit: the data comes back entirely.
    let data: Vec<u8> = (0..65_000u32).map(|i| (i * 7) as u8).collect();
    let req = request(0xbeef, 0x0102, &data);
    let req = IcmpPacket::parse_verified(&req).unwrap();
    let reply = EchoReply::new(&req).unwrap().serialize_vec(0).unwrap();
    let reply = IcmpPacket::parse_verified(reply.as_slice()).unwrap();
    assert_eq!(
        reply.message(),
        IcmpMessage::EchoReply {
            ident: 0xbeef,
            seq_no: 0x0102,
            data: &data
        }
    );
}

#[test]
fn reply_refuses_anything_but_an_echo_request_rfc_792() {
    let reply = IcmpRepr::EchoReply {
        ident: 1,
        seq_no: 1,
    };
    let bytes = b"x".wrap_in(&reply).serialize_vec(0).unwrap();
    let p = IcmpPacket::parse(bytes.as_slice()).unwrap();
    assert_eq!(
        EchoReply::new(&p).unwrap_err(),
        Error::NotAnEchoRequest { msg_type: 0 }
    );
    let mut raw = bytes.into_vec();
    let before = raw.clone();
    assert_eq!(
        echo_reply_in_place(&mut raw).unwrap_err(),
        Error::NotAnEchoRequest { msg_type: 0 }
    );
    assert_eq!(raw, before, "a refused message is left untouched");
    assert_eq!(
        echo_reply_in_place(&mut [8, 0, 0]).unwrap_err(),
        Error::Truncated { needed: 8, got: 3 }
    );
}

#[test]
fn reply_can_leave_its_checksum_to_offload() {
    let req = request(1, 2, b"abcd");
    let req = IcmpPacket::parse_verified(&req).unwrap();
    let r = EchoReply::new(&req)
        .unwrap()
        .checksum(lamina_ipv4::ChecksumMode::Offload);
    assert_eq!(r.data(), b"abcd");
    assert_eq!(
        r.repr(),
        &IcmpRepr::EchoReply {
            ident: 1,
            seq_no: 2
        }
    );
    let out = r.serialize_vec(0).unwrap();
    assert_eq!(&out.as_slice()[2..4], &[0, 0]);
}

/// Property: for random requests (odd and even lengths, any code), the
/// in-place reply is the copied reply, and its incrementally updated
/// checksum verifies (RFC 1624).
#[test]
fn in_place_reply_equals_the_copied_reply_rfc_1624() {
    let mut rng = SeededRng::new(0x1c4e);
    for _ in 0..500 {
        let len = rng.below(300) as usize;
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        let mut req = request(rng.next_u32() as u16, rng.next_u32() as u16, &data);
        // A nonzero code in a request is answered with code 0 both ways.
        if rng.below(4) == 0 {
            let code = rng.below(256) as u8;
            let old = u16::from_be_bytes([req[0], req[1]]);
            let sum = u16::from_be_bytes([req[2], req[3]]);
            req[1] = code;
            let new = checksum::update_u16(sum, old, u16::from_be_bytes([req[0], code]));
            req[2..4].copy_from_slice(&new.to_be_bytes());
        }
        let copied = EchoReply::new(&IcmpPacket::parse_verified(&req).unwrap())
            .unwrap()
            .serialize_vec(0)
            .unwrap()
            .into_vec();
        let mut in_place = req.clone();
        echo_reply_in_place(&mut in_place).unwrap();
        assert!(IcmpPacket::parse_verified(&in_place).is_ok());
        assert_eq!(in_place[..2], copied[..2]);
        assert_eq!(in_place[4..], copied[4..]);
        // One's complement has two zeros; both verify.
        let (a, b) = (
            u16::from_be_bytes([in_place[2], in_place[3]]),
            u16::from_be_bytes([copied[2], copied[3]]),
        );
        assert!(
            a == b || (a | b == 0xffff && a & b == 0),
            "{a:#x} vs {b:#x}"
        );
    }
}

#[test]
fn in_place_reply_of_an_all_zero_echo_has_checksum_0xffff_rfc_1624_section_3() {
    // Identifier 0, sequence number 0, no data: the reply is all zero but
    // its checksum, which must then be 0xffff (the complement of a zero
    // sum), not the 0x0000 that RFC 1624 eqn. 3 alone yields.
    for data in [&[][..], &[0u8; 5][..]] {
        let mut msg = request(0, 0, data);
        assert_eq!(&msg[2..4], &[0xf7, 0xff]);
        echo_reply_in_place(&mut msg).unwrap();
        let copied = EchoReply::new(&IcmpPacket::parse_verified(&request(0, 0, data)).unwrap())
            .unwrap()
            .serialize_vec(0)
            .unwrap();
        assert_eq!(msg, copied.as_slice());
        assert_eq!(&msg[2..4], &[0xff, 0xff]);
        assert!(IcmpPacket::parse_verified(&msg).is_ok());
    }
    // A reply whose words sum to 0xffff keeps its 0x0000 checksum.
    let mut msg = request(0xffff, 0, &[]);
    echo_reply_in_place(&mut msg).unwrap();
    assert_eq!(&msg[2..4], &[0, 0]);
    assert!(IcmpPacket::parse_verified(&msg).is_ok());
}

#[test]
fn datagram_in_place_turns_the_ip_header_around_rfc_1122_section_3_2_2_6() {
    let ip = Ipv4Repr {
        ttl: 3,
        dscp: 10,
        ecn: 3,
        identification: 0x1111,
        dont_fragment: true,
        ..Ipv4Repr::new(PEER, ME, IpProtocol::ICMP)
    };
    let mut frame = request_datagram(b"payload!", &ip);
    // Link padding after the datagram stays as it is.
    frame.extend_from_slice(&[0xee; 6]);
    let fields = ReplyIpFields {
        src: ME,
        ttl: 64,
        identification: 0x2222,
    };
    let id = echo_reply_datagram_in_place(&mut frame, &fields).unwrap();
    assert_eq!(
        id,
        EchoId {
            ident: 0x4242,
            seq_no: 7
        }
    );
    assert_eq!(&frame[frame.len() - 6..], &[0xee; 6]);
    let reply = Ipv4Packet::parse_verified(&frame).unwrap();
    assert_eq!((reply.src(), reply.dst()), (ME, PEER));
    assert_eq!(reply.ttl(), 64);
    assert_eq!(reply.identification(), 0x2222);
    assert_eq!(reply.dscp(), 10);
    assert_eq!(reply.ecn(), 0, "congestion marks are not echoed");
    assert!(!reply.dont_fragment() && !reply.is_fragment());
    assert_eq!(reply.total_len(), 20 + 8 + 8);
    let icmp = IcmpPacket::parse_verified(reply.payload()).unwrap();
    assert_eq!(
        icmp.message(),
        IcmpMessage::EchoReply {
            ident: 0x4242,
            seq_no: 7,
            data: b"payload!"
        }
    );
}

#[test]
fn datagram_in_place_refuses_options_fragments_and_other_protocols() {
    let fields = ReplyIpFields {
        src: ME,
        ttl: 64,
        identification: 1,
    };
    let mut opts = Ipv4OptionsBuf::new();
    opts.push(&Ipv4Option::RouterAlert(0)).unwrap();
    let cases = [
        Ipv4Repr {
            options: opts,
            ..Ipv4Repr::new(PEER, ME, IpProtocol::ICMP)
        },
        Ipv4Repr {
            more_fragments: true,
            ..Ipv4Repr::new(PEER, ME, IpProtocol::ICMP)
        },
        Ipv4Repr {
            fragment_offset: 10,
            ..Ipv4Repr::new(PEER, ME, IpProtocol::ICMP)
        },
        Ipv4Repr::new(PEER, ME, IpProtocol::UDP),
    ];
    for ip in cases {
        let mut frame = request_datagram(b"data", &ip);
        let before = frame.clone();
        assert!(matches!(
            echo_reply_datagram_in_place(&mut frame, &fields),
            Err(Error::NotInPlaceEligible { .. })
        ));
        assert_eq!(frame, before);
    }
    // Not an echo request inside: nothing is written either.
    let mut frame = b"data"
        .wrap_in(&IcmpRepr::EchoReply {
            ident: 1,
            seq_no: 1,
        })
        .wrap_in(&Ipv4Repr::new(PEER, ME, IpProtocol::ICMP))
        .serialize_vec(0)
        .unwrap()
        .into_vec();
    let before = frame.clone();
    assert!(echo_reply_datagram_in_place(&mut frame, &fields).is_err());
    assert_eq!(frame, before);
    // Garbage never panics.
    let mut rng = SeededRng::new(5);
    for len in 0..80 {
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        if let Some(b) = junk.first_mut() {
            *b = 0x45;
        }
        let _ = echo_reply_datagram_in_place(&mut junk, &fields);
    }
}

#[test]
fn echo_to_broadcast_is_ignored_by_default_rfc_1122_section_3_2_2_6() {
    let c = EchoConfig::default();
    assert!(c.should_answer(ME, false));
    assert!(!c.should_answer(Ipv4Addr::BROADCAST, false));
    assert!(!c.should_answer(Ipv4Addr::new(192, 0, 2, 255), true));
    assert!(!c.should_answer(Ipv4Addr::new(239, 1, 2, 3), false));
    let answer_all = EchoConfig {
        ignore_broadcasts: false,
        ..c
    };
    assert!(answer_all.should_answer(Ipv4Addr::BROADCAST, false));
    let silent = EchoConfig {
        ignore_all: true,
        ..c
    };
    assert!(!silent.should_answer(ME, false));
}

fn first_option(buf: &Ipv4OptionsBuf) -> Ipv4Option<'_> {
    buf.iter().next().unwrap().unwrap()
}

#[test]
fn record_route_is_returned_with_this_host_added_rfc_1122_section_3_2_2_6() {
    let hop = Ipv4Addr::new(198, 51, 100, 1);
    let mut slots = [0u8; 12];
    slots[..4].copy_from_slice(&hop.octets());
    let mut req = Ipv4OptionsBuf::new();
    req.push(&Ipv4Option::NoOperation).unwrap();
    req.push(&Ipv4Option::RecordRoute(RouteOption {
        pointer: 8,
        data: &slots,
    }))
    .unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, 0).unwrap();
    let Ipv4Option::RecordRoute(rr) = first_option(&out.options) else {
        panic!("no record route");
    };
    assert_eq!(rr.pointer, 12);
    assert_eq!(
        rr.addresses().collect::<Vec<_>>(),
        [hop, ME, Ipv4Addr::UNSPECIFIED]
    );
    assert_eq!(out.first_hop, None);

    // A full Record Route comes back unchanged.
    let full = [1u8; 8];
    let mut req = Ipv4OptionsBuf::new();
    req.push(&Ipv4Option::RecordRoute(RouteOption {
        pointer: 12,
        data: &full,
    }))
    .unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, 0).unwrap();
    assert_eq!(out.options.as_bytes(), req.as_bytes());
}

#[test]
fn timestamp_option_gets_this_hosts_entry_rfc_791_section_3_1() {
    let ts = 0x0102_0304;
    // Timestamps only.
    let mut req = Ipv4OptionsBuf::new();
    let data = [0u8; 8];
    req.push(&Ipv4Option::Timestamp(TimestampOption {
        pointer: 5,
        overflow: 0,
        flag: TimestampFlag::TimestampsOnly,
        data: &data,
    }))
    .unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, ts).unwrap();
    let Ipv4Option::Timestamp(t) = first_option(&out.options) else {
        panic!()
    };
    assert_eq!((t.pointer, t.overflow), (9, 0));
    assert_eq!(t.entries().next().unwrap().timestamp, ts);

    // With addresses.
    let mut req = Ipv4OptionsBuf::new();
    let data = [0u8; 16];
    req.push(&Ipv4Option::Timestamp(TimestampOption {
        pointer: 5,
        overflow: 0,
        flag: TimestampFlag::WithAddresses,
        data: &data,
    }))
    .unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, ts).unwrap();
    let Ipv4Option::Timestamp(t) = first_option(&out.options) else {
        panic!()
    };
    assert_eq!(t.pointer, 13);
    let e = t.entries().next().unwrap();
    assert_eq!((e.address, e.timestamp), (Some(ME), ts));

    // Prespecified: only when our address is next.
    for (next, stamped) in [(ME, true), (PEER, false)] {
        let mut data = [0u8; 8];
        data[..4].copy_from_slice(&next.octets());
        let mut req = Ipv4OptionsBuf::new();
        req.push(&Ipv4Option::Timestamp(TimestampOption {
            pointer: 5,
            overflow: 0,
            flag: TimestampFlag::Prespecified,
            data: &data,
        }))
        .unwrap();
        let out = echo_reply_options(req.as_bytes(), PEER, ME, ts).unwrap();
        let Ipv4Option::Timestamp(t) = first_option(&out.options) else {
            panic!()
        };
        assert_eq!(t.pointer == 13, stamped);
        assert_eq!(t.entries().next().unwrap().timestamp == ts, stamped);
    }

    // Full: the overflow count goes up, and stops at 15.
    for (overflow, expect) in [(0, 1), (15, 15)] {
        let data = [0u8; 4];
        let mut req = Ipv4OptionsBuf::new();
        req.push(&Ipv4Option::Timestamp(TimestampOption {
            pointer: 9,
            overflow,
            flag: TimestampFlag::TimestampsOnly,
            data: &data,
        }))
        .unwrap();
        let out = echo_reply_options(req.as_bytes(), PEER, ME, ts).unwrap();
        let Ipv4Option::Timestamp(t) = first_option(&out.options) else {
            panic!()
        };
        assert_eq!((t.pointer, t.overflow), (9, expect));
    }
}

#[test]
fn source_route_is_reversed_rfc_1122_section_3_2_1_8() {
    // S → R1 → R2 → us: the option arrives holding the recorded R1', R2'.
    let (r1, r2) = (
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(203, 0, 113, 1),
    );
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&r1.octets());
    data[4..].copy_from_slice(&r2.octets());
    for strict in [false, true] {
        let route = RouteOption {
            pointer: 12,
            data: &data,
        };
        let mut req = Ipv4OptionsBuf::new();
        req.push(&if strict {
            Ipv4Option::StrictSourceRoute(route)
        } else {
            Ipv4Option::LooseSourceRoute(route)
        })
        .unwrap();
        let out = echo_reply_options(req.as_bytes(), PEER, ME, 0).unwrap();
        // Back through R2, then R1, then to S.
        assert_eq!(out.first_hop, Some(r2));
        let (Ipv4Option::LooseSourceRoute(r) | Ipv4Option::StrictSourceRoute(r)) =
            first_option(&out.options)
        else {
            panic!()
        };
        assert_eq!(
            matches!(first_option(&out.options), Ipv4Option::StrictSourceRoute(_)),
            strict
        );
        assert_eq!(r.pointer, 4);
        assert_eq!(r.addresses().collect::<Vec<_>>(), [r1, PEER]);
    }
    // Nothing recorded: no route back, straight to the source.
    let mut req = Ipv4OptionsBuf::new();
    req.push(&Ipv4Option::LooseSourceRoute(RouteOption {
        pointer: 4,
        data: &data,
    }))
    .unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, 0).unwrap();
    assert_eq!(out.first_hop, None);
    assert!(out.options.is_empty());
}

#[test]
fn other_options_are_not_returned_and_malformed_ones_are_errors() {
    let mut req = Ipv4OptionsBuf::new();
    req.push(&Ipv4Option::RouterAlert(0)).unwrap();
    let out = echo_reply_options(req.as_bytes(), PEER, ME, 0).unwrap();
    assert!(out.options.is_empty());
    // A length octet pointing past the end.
    assert!(matches!(
        echo_reply_options(&[7, 40, 4], PEER, ME, 0),
        Err(Error::Ipv4(_))
    ));
    // Random areas never panic.
    let mut rng = SeededRng::new(77);
    for _ in 0..2000 {
        let mut area = vec![0u8; rng.below(41) as usize];
        rng.fill_bytes(&mut area);
        if let Some(b) = area.first_mut() {
            *b = [7, 68, 131, 137][rng.below(4) as usize];
        }
        let _ = echo_reply_options(&area, PEER, ME, 1);
    }
}

/// `verified_echo_reply` against the parse it stands in for
/// (`parse_verified`, then `message`): the same answer for echo replies of
/// every length, replies whose checksum or length is wrong, another type,
/// a nonzero code, and random bytes.
#[test]
fn verified_echo_reply_agrees_with_the_parsed_message() {
    let parsed = |m: &[u8]| match IcmpPacket::parse_verified(m).map(|p| p.message()) {
        Ok(IcmpMessage::EchoReply {
            ident,
            seq_no,
            data,
        }) => Some((ident, seq_no, data.to_vec())),
        _ => None,
    };
    let direct = |m: &[u8]| verified_echo_reply(m).map(|(id, d)| (id.ident, id.seq_no, d.to_vec()));
    let mut rng = SeededRng::new(0x0e_c4_0e);
    let mut seen = [0usize; 2];
    for len in 0..300usize {
        let data: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        let reply = data
            .wrap_in(&IcmpRepr::EchoReply {
                ident: len as u16,
                seq_no: !(len as u16),
            })
            .serialize_vec(0)
            .unwrap()
            .into_vec();
        assert_eq!(
            direct(&reply),
            Some((len as u16, !(len as u16), data.clone()))
        );
        let mut variants = vec![
            reply.clone(),
            reply[..reply.len() - 1].to_vec(),
            reply[..reply.len().min(7)].to_vec(),
            request(1, 2, &data),
            data.clone(),
        ];
        let mut flipped = reply.clone();
        let at = rng.next_u32() as usize % flipped.len();
        flipped[at] ^= 1 << (rng.next_u32() % 8);
        variants.push(flipped);
        // A nonzero code, the checksum kept right: still an echo reply.
        let mut coded = reply.clone();
        coded[1] = 3;
        let c = u16::from_be_bytes([coded[2], coded[3]]);
        let c = checksum::update_u16(c, 0, 3);
        coded[2..4].copy_from_slice(&c.to_be_bytes());
        variants.push(coded);
        for v in &variants {
            let want = parsed(v);
            seen[usize::from(want.is_some())] += 1;
            assert_eq!(direct(v), want, "{v:02x?}");
        }
    }
    assert!(
        seen[0] > 600 && seen[1] > 600,
        "both answers exercised: {seen:?}"
    );
}
