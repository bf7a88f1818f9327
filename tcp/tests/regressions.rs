//! Regression tests from fuzzing (`fuzz/`): each once failed.

use lamina_netbuf::{Instant, SeededRng, Serializer, serialize::EmptyBody};
use lamina_tcp::*;
use std::net::{Ipv4Addr, SocketAddrV4};

/// RFC 5681 §3.2 / RFC 9293 §3.8.6: a fast retransmission resends the
/// segment that was sent, no more; it is no way around the peer's window
/// (here one byte). Found by the `tcp_listener` fuzz target.
#[test]
fn fast_retransmit_resends_no_more_than_was_sent() {
    let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 80));
    let (ca, sb) = (SocketAddrV4::new(a, 40000), SocketAddrV4::new(b, 80));
    let ccfg = TcpConfig {
        recv_buffer: 1,
        ..TcpConfig::default()
    };
    let scfg = TcpConfig {
        nodelay: true,
        ..TcpConfig::default()
    };
    let now = Instant::from_secs(1);
    let mut l = Listener::new(sb, scfg, 8, &mut SeededRng::new(1));
    let mut c = Connection::connect(ca, sb, &ccfg, SeqNumber(1000), 1460, now);
    let mut buf = [0u8; 2000];
    // SYN
    let out = c.poll_transmit(now).unwrap();
    let n = out.write(a, b, &mut buf, ChecksumMode::Compute);
    let syn = buf[..n].to_vec();
    l.on_segment(
        b,
        ca,
        &TcpSegment::parse_verified(&syn, a, b).unwrap(),
        1460,
        now,
    );
    let (_, _, synack) = l.poll_transmit(now).unwrap();
    let bytes = EmptyBody
        .wrap_in(synack.builder(b, a).unwrap())
        .serialize_vec(0)
        .unwrap()
        .as_slice()
        .to_vec();
    c.on_segment(&TcpSegment::parse_verified(&bytes, b, a).unwrap(), now);
    let out = c.poll_transmit(now).unwrap();
    let n = out.write(a, b, &mut buf, ChecksumMode::Compute);
    let ack = buf[..n].to_vec();
    l.on_segment(
        b,
        ca,
        &TcpSegment::parse_verified(&ack, a, b).unwrap(),
        1460,
        now,
    );
    let mut s = l.accept().unwrap();
    assert_eq!(s.send(&[7u8; 100]).unwrap(), 100);
    while s.poll_transmit(now).is_some() {}
    // The client's pure ACK arrives three more times (duplicated by the network).
    for _ in 0..3 {
        s.on_segment(&TcpSegment::parse_verified(&ack, a, b).unwrap(), now);
    }
    while let Some(out) = s.poll_transmit(now) {
        assert!(
            out.payload_len() <= 1,
            "sent {} bytes into a 1-byte window",
            out.payload_len()
        );
    }
}

fn seg(repr: &TcpRepr, payload: &[u8], a: Ipv4Addr, b: Ipv4Addr) -> Vec<u8> {
    if payload.is_empty() {
        EmptyBody
            .wrap_in(repr.builder(a, b).unwrap())
            .serialize_vec(0)
            .unwrap()
            .as_slice()
            .to_vec()
    } else {
        payload
            .wrap_in(repr.builder(a, b).unwrap())
            .serialize_vec(0)
            .unwrap()
            .as_slice()
            .to_vec()
    }
}

/// RFC 9293 §3.10.7.4: the window is updated only from an acceptable
/// ACK (SND.UNA =< SEG.ACK); a delayed segment with an older ACK and an
/// older, larger window must not reopen the window. Found by the
/// `tcp_conn` fuzz target.
#[test]
fn an_old_ack_does_not_update_the_send_window() {
    let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 80));
    let (ca, sb) = (SocketAddrV4::new(a, 40000), SocketAddrV4::new(b, 80));
    let scfg = TcpConfig {
        nodelay: true,
        timestamps: false,
        ..TcpConfig::default()
    };
    let now = Instant::from_secs(1);
    let mut l = Listener::new(sb, scfg, 8, &mut SeededRng::new(1));
    let c = SeqNumber(1000);
    let base = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        window_len: 4096,
        ..TcpRepr::default()
    };
    let syn = TcpRepr {
        seq_number: c,
        flags: TcpFlags::SYN,
        ..base
    };
    l.on_segment(
        b,
        ca,
        &TcpSegment::parse_verified(&seg(&syn, &[], a, b), a, b).unwrap(),
        1460,
        now,
    );
    let (_, _, synack) = l.poll_transmit(now).unwrap();
    let s = synack.seq_number;
    let ack = TcpRepr {
        seq_number: c + 1,
        ack_number: s + 1,
        flags: TcpFlags::ACK,
        ..base
    };
    l.on_segment(
        b,
        ca,
        &TcpSegment::parse_verified(&seg(&ack, &[], a, b), a, b).unwrap(),
        1460,
        now,
    );
    let mut srv = l.accept().unwrap();
    assert_eq!(srv.send(&[1u8; 3000]).unwrap(), 3000);
    while srv.poll_transmit(now).is_some() {}
    // The client acknowledges it all, its buffer holding the 3000 bytes: window 1096.
    let ack2 = TcpRepr {
        seq_number: c + 1,
        ack_number: s + 3001,
        window_len: 1096,
        flags: TcpFlags::ACK,
        ..base
    };
    srv.on_segment(
        &TcpSegment::parse_verified(&seg(&ack2, &[], a, b), a, b).unwrap(),
        now,
    );
    // A data segment the client sent before (seq ahead, old ACK and window) arrives late.
    let old = TcpRepr {
        seq_number: c + 101,
        ack_number: s + 1,
        window_len: 4096,
        flags: TcpFlags::ACK,
        ..base
    };
    srv.on_segment(
        &TcpSegment::parse_verified(&seg(&old, &[9u8; 100], a, b), a, b).unwrap(),
        now,
    );
    assert_eq!(srv.send(&[2u8; 5000]).unwrap(), 5000);
    while let Some(out) = srv.poll_transmit(now) {
        let end = (out.repr.seq_number - s) as i64 - 1 + out.payload_len() as i64;
        assert!(end <= 4096, "beyond the offered window");
    }
}
