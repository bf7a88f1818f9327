//! Listener behaviour (RFC 9293 §3.10.7.2, RFC 4987 SYN cookies, accept
//! backlog), SYN floods, memory bounds, and arbitrary segments thrown at a
//! connection in each state.

mod common;

use common::*;
use lamina_netbuf::{Duration, Rng, SeededRng};
use lamina_tcp::{
    Connection, Listener, ListenerVerdict, SeqNumber, State, TcpConfig, TcpFlags, TcpRepr,
    TcpSegment, Timestamps, reset_for,
};
use std::net::{Ipv4Addr, SocketAddrV4};

fn cfg() -> TcpConfig {
    TcpConfig::default()
}

#[test]
fn memory_per_connection_and_syn_entry_is_small() {
    let conn = core::mem::size_of::<Connection>();
    let entry = Listener::syn_entry_size();
    println!("Connection: {conn} bytes (buffers excluded), SYN-queue entry: {entry} bytes");
    println!(
        "config {} cc {} rtt {} ring {} asm {} sb {} stats {}",
        size_of::<TcpConfig>(),
        size_of::<lamina_tcp::AnyCc>(),
        size_of::<lamina_tcp::RttEstimator>(),
        size_of::<lamina_tcp::RingBuffer>(),
        size_of::<lamina_tcp::Assembler>(),
        size_of::<lamina_tcp::Scoreboard>(),
        size_of::<lamina_tcp::ConnStats>()
    );
    assert!(conn < 1024, "{conn}");
    assert!(entry <= 64, "{entry}");
}

fn syn(src: SocketAddrV4, seq: u32, ts: bool) -> TcpRepr {
    TcpRepr {
        src_port: src.port(),
        dst_port: 80,
        seq_number: SeqNumber(seq),
        flags: TcpFlags::SYN,
        window_len: 65535,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: ts.then_some(Timestamps {
            tsval: 12345,
            tsecr: 0,
        }),
        ..TcpRepr::default()
    }
}

/// Feeds `repr` from `src` to the listener, serialised and parsed.
fn feed(
    l: &mut Listener,
    src: SocketAddrV4,
    repr: &TcpRepr,
    now: lamina_netbuf::Instant,
) -> ListenerVerdict {
    let bytes = wire(repr, *src.ip(), B_IP);
    let seg = TcpSegment::parse_verified(&bytes, *src.ip(), B_IP).unwrap();
    l.on_segment(B_IP, src, &seg, 1460, now)
}

fn listener(c: TcpConfig, backlog: usize) -> Listener {
    Listener::new(
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80),
        c,
        backlog,
        &mut SeededRng::new(9),
    )
}

#[test]
fn connections_are_accepted_only_once_established_rfc9293_3_10_7_2() {
    let mut sim = Sim::client_server(70, &cfg(), &cfg());
    sim.ab.rule = Some(Box::new(|s| s.has(TcpFlags::ACK) && !s.has(TcpFlags::SYN)));
    sim.run_for(Duration::from_millis(100));
    let l = sim.b.listener.as_mut().unwrap();
    assert_eq!(l.half_open(), 1);
    assert_eq!(l.pending(), 0);
    assert!(sim.b.conn.is_none());
    sim.ab.rule = None;
    // The SYN-ACK is retransmitted after the initial RTO; the client's
    // ACK then completes the handshake.
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.b().state(), State::Established);
    assert_eq!(sim.b.listener.as_ref().unwrap().half_open(), 0);
}

#[test]
fn syn_ack_is_retransmitted_with_backoff_then_given_up_rfc6298_5_5() {
    let c = TcpConfig {
        syn_retries: 3,
        ..cfg()
    };
    // A client that sends one SYN only.
    let once = TcpConfig {
        syn_retries: 0,
        ..cfg()
    };
    let mut sim = Sim::client_server(71, &once, &c);
    sim.ba.rule = Some(Box::new(|_| true));
    let t0 = sim.now;
    sim.run_for(Duration::from_secs(14));
    assert_eq!(sim.b.listener.as_ref().unwrap().half_open(), 1);
    sim.run_for(Duration::from_secs(16));
    let times: Vec<u64> = sim
        .segments(false)
        .filter(|s| s.has(TcpFlags::SYN))
        .map(|s| (s.at - t0).total_millis())
        .collect();
    // First answer at +10 ms; retransmissions after 1 s, 2 s, 4 s.
    assert_eq!(times, vec![10, 1010, 3010, 7010]);
    let l = sim.b.listener.as_ref().unwrap();
    assert_eq!(l.half_open(), 0, "entry gone after its retries");
    assert!(l.stats().syn_timeouts >= 1);
}

#[test]
fn retransmitted_syn_gets_the_same_syn_ack_rfc9293_3_10_7_4() {
    let mut l = listener(cfg(), 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let now = lamina_netbuf::Instant::from_secs(1);
    assert_eq!(
        feed(&mut l, src, &syn(src, 100, true), now),
        ListenerVerdict::Handled
    );
    let (_, _, a) = l.poll_transmit(now).unwrap();
    assert!(l.poll_transmit(now).is_none());
    assert_eq!(
        feed(&mut l, src, &syn(src, 100, true), now),
        ListenerVerdict::Handled
    );
    let (_, _, b) = l.poll_transmit(now).unwrap();
    assert_eq!(a.seq_number, b.seq_number);
    assert_eq!(b.ack_number, SeqNumber(101));
    assert_eq!(b.window_scale, Some(1));
    assert!(b.sack_permitted);
    assert_eq!(b.timestamps.unwrap().tsecr, 12345);
    assert_eq!(l.half_open(), 1);
}

#[test]
fn rst_removes_a_half_open_entry_and_stray_ack_gets_rst_rfc9293_3_10_7_2() {
    let mut l = listener(cfg(), 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let now = lamina_netbuf::Instant::from_secs(1);
    feed(&mut l, src, &syn(src, 100, false), now);
    let (_, _, sa) = l.poll_transmit(now).unwrap();
    // A RST with the wrong sequence number is ignored.
    let mut rst = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(5000),
        flags: TcpFlags::RST,
        ..TcpRepr::default()
    };
    assert_eq!(feed(&mut l, src, &rst, now), ListenerVerdict::Dropped);
    assert_eq!(l.half_open(), 1);
    rst.seq_number = SeqNumber(101);
    assert_eq!(feed(&mut l, src, &rst, now), ListenerVerdict::Dropped);
    assert_eq!(l.half_open(), 0);
    // An ACK for nothing: <SEQ=SEG.ACK><CTL=RST>.
    let ack = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(101),
        ack_number: sa.seq_number + 1,
        flags: TcpFlags::ACK,
        ..TcpRepr::default()
    };
    match feed(&mut l, src, &ack, now) {
        ListenerVerdict::Reply(r) => {
            assert_eq!(r.flags, TcpFlags::RST);
            assert_eq!(r.seq_number, sa.seq_number + 1);
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn reset_for_follows_rfc9293_3_10_7_1() {
    let bytes = wire(&syn(SocketAddrV4::new(A_IP, 7), 41, false), A_IP, B_IP);
    let seg = TcpSegment::parse(&bytes).unwrap();
    let r = reset_for(&seg).unwrap();
    assert_eq!(r.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!((r.seq_number, r.ack_number), (SeqNumber(0), SeqNumber(42)));
    assert_eq!((r.src_port, r.dst_port), (80, 7));
    let rst = TcpRepr {
        flags: TcpFlags::RST,
        ..TcpRepr::default()
    };
    let bytes = wire(&rst, A_IP, B_IP);
    assert!(reset_for(&TcpSegment::parse(&bytes).unwrap()).is_none());
}

fn cookie_round_trip(ts: bool) -> Connection {
    let c = TcpConfig {
        syn_queue: 0,
        ..cfg()
    };
    let mut l = listener(c, 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let now = lamina_netbuf::Instant::from_secs(100);
    let sa = match feed(&mut l, src, &syn(src, 100, ts), now) {
        ListenerVerdict::Reply(r) => r,
        v => panic!("{v:?}"),
    };
    assert_eq!(l.half_open(), 0, "no state kept for a cookie");
    assert_eq!(sa.flags, TcpFlags::SYN | TcpFlags::ACK);
    let ack = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(101),
        ack_number: sa.seq_number + 1,
        flags: TcpFlags::ACK,
        window_len: 1000,
        timestamps: sa.timestamps.map(|t| Timestamps {
            tsval: 12346,
            tsecr: t.tsval,
        }),
        ..TcpRepr::default()
    };
    // A forged ACK (wrong cookie) gets a RST, not a connection.
    let mut forged = ack;
    forged.ack_number += 12345;
    assert!(matches!(
        feed(&mut l, src, &forged, now),
        ListenerVerdict::Reply(_)
    ));
    assert_eq!(l.pending(), 0);
    assert_eq!(
        feed(&mut l, src, &ack, now + Duration::from_millis(20)),
        ListenerVerdict::Handled
    );
    assert_eq!(l.stats().cookies_accepted, 1);
    let conn = l.accept().unwrap();
    assert_eq!(conn.state(), State::Established);
    *conn
}

#[test]
fn syn_cookies_round_trip_with_timestamps_keep_options_rfc4987_3_6() {
    let conn = cookie_round_trip(true);
    assert!(conn.sack_enabled());
    assert!(conn.timestamps_enabled());
    assert!(conn.mss() >= 1400);
}

#[test]
fn syn_cookies_without_timestamps_drop_ws_and_sack_rfc4987_3_6() {
    let conn = cookie_round_trip(false);
    assert!(!conn.sack_enabled());
    assert!(!conn.timestamps_enabled());
}

#[test]
fn full_syn_queue_without_cookies_drops_syns() {
    let c = TcpConfig {
        syn_queue: 2,
        syn_cookies: false,
        ..cfg()
    };
    let mut l = listener(c, 4);
    let now = lamina_netbuf::Instant::from_secs(1);
    for port in 0..5u16 {
        let src = SocketAddrV4::new(A_IP, 6000 + port);
        let v = feed(&mut l, src, &syn(src, 1, false), now);
        assert_eq!(
            v,
            if port < 2 {
                ListenerVerdict::Handled
            } else {
                ListenerVerdict::Dropped
            }
        );
    }
    assert_eq!(l.half_open(), 2);
    assert_eq!(l.stats().syn_queue_overflows, 3);
}

#[test]
fn full_accept_queue_drops_syn_and_final_ack_like_linux() {
    let mut l = listener(cfg(), 1);
    let now = lamina_netbuf::Instant::from_secs(1);
    let complete = |l: &mut Listener, port: u16| {
        let src = SocketAddrV4::new(A_IP, port);
        feed(l, src, &syn(src, 1, false), now);
        let sa = l.poll_transmit(now).map(|x| x.2);
        sa.map(|sa| {
            let ack = TcpRepr {
                src_port: port,
                dst_port: 80,
                seq_number: SeqNumber(2),
                ack_number: sa.seq_number + 1,
                flags: TcpFlags::ACK,
                window_len: 100,
                ..TcpRepr::default()
            };
            feed(l, src, &ack, now)
        })
    };
    assert_eq!(complete(&mut l, 1), Some(ListenerVerdict::Handled));
    assert_eq!(l.pending(), 1);
    // Backlog 1 is full: the next SYN is dropped.
    let src = SocketAddrV4::new(A_IP, 2);
    assert_eq!(
        feed(&mut l, src, &syn(src, 1, false), now),
        ListenerVerdict::Dropped
    );
    assert!(l.accept().is_some());
    // A handshake whose final ACK arrives while the queue is full again.
    let src3 = SocketAddrV4::new(A_IP, 3);
    feed(&mut l, src3, &syn(src3, 1, false), now);
    let sa3 = l.poll_transmit(now).unwrap().2;
    assert_eq!(complete(&mut l, 4), Some(ListenerVerdict::Handled));
    let ack3 = TcpRepr {
        src_port: 3,
        dst_port: 80,
        seq_number: SeqNumber(2),
        ack_number: sa3.seq_number + 1,
        flags: TcpFlags::ACK,
        window_len: 100,
        ..TcpRepr::default()
    };
    assert_eq!(feed(&mut l, src3, &ack3, now), ListenerVerdict::Dropped);
    assert_eq!(l.half_open(), 1, "the entry stays for the retried ACK");
    l.accept();
    assert_eq!(feed(&mut l, src3, &ack3, now), ListenerVerdict::Handled);
    assert!(l.stats().accept_overflows >= 2);
}

#[test]
fn final_ack_carrying_data_delivers_it_rfc9293_3_10_7_4() {
    let mut l = listener(cfg(), 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let now = lamina_netbuf::Instant::from_secs(1);
    feed(&mut l, src, &syn(src, 100, false), now);
    let sa = l.poll_transmit(now).unwrap().2;
    let ack = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(101),
        ack_number: sa.seq_number + 1,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 100,
        ..TcpRepr::default()
    };
    let out = lamina_tcp::Outgoing {
        repr: ack,
        payload: (b"GET / HTTP/1.1\r\n", b"\r\n"),
        shared: None,
    };
    let mut buf = [0u8; 100];
    let n = out.write(A_IP, B_IP, &mut buf, lamina_tcp::ChecksumMode::Compute);
    let seg = TcpSegment::parse_verified(&buf[..n], A_IP, B_IP).unwrap();
    assert_eq!(
        l.on_segment(B_IP, src, &seg, 1460, now),
        ListenerVerdict::Handled
    );
    let mut c = l.accept().unwrap();
    let mut got = [0u8; 64];
    assert_eq!(c.recv(&mut got), Ok(18));
    assert_eq!(&got[..18], b"GET / HTTP/1.1\r\n\r\n");
    // The window of the final ACK is scaled by the SYN's shift (7).
    assert!(c.can_send());
}

#[test]
fn syn_flood_is_bounded_and_a_real_client_still_connects_rfc4987() {
    let mut sim = Sim::client_server(72, &cfg(), &cfg());
    let mut rng = SeededRng::new(5);
    let now = sim.now;
    let mut cookies = 0;
    {
        let l = sim.b.listener.as_mut().unwrap();
        for _ in 0..100_000 {
            let ip = Ipv4Addr::from(rng.next_u32() | 0x0100_0000);
            let src = SocketAddrV4::new(ip, rng.below(60000) as u16 + 1024);
            let bytes = wire(&syn(src, rng.next_u32(), rng.below(2) == 0), ip, B_IP);
            let seg = TcpSegment::parse_verified(&bytes, ip, B_IP).unwrap();
            match l.on_segment(B_IP, src, &seg, 1460, now) {
                ListenerVerdict::Reply(_) => cookies += 1,
                ListenerVerdict::Handled => {}
                ListenerVerdict::Dropped => panic!("a SYN was dropped"),
            }
        }
        assert_eq!(l.half_open(), cfg().syn_queue);
        // Drain the SYN-ACKs the queued half-open entries owe.
        while l.poll_transmit(now).is_some() {}
    }
    assert_eq!(cookies, 100_000 - cfg().syn_queue);
    sim.run_until(sim.now + Duration::from_secs(3), |s| {
        s.a.conn.as_ref().unwrap().state() == State::Established
    });
    assert_eq!(sim.a().state(), State::Established);
    let (x, _) = transfer(&mut sim, 100_000, 0, Duration::from_secs(20));
    assert!(x == pattern(0, 100_000));
}

#[test]
fn data_arriving_before_the_lost_final_ack_completes_the_handshake_rfc9293_3_10_7_4() {
    let mut sim = Sim::client_server(73, &cfg(), &cfg());
    // Lose the client's first segment after the SYN: its first data,
    // which also carried the handshake's ACK.
    let mut lost = 0;
    sim.ab.rule = Some(Box::new(move |s| {
        let drop = !s.has(TcpFlags::SYN) && lost < 1;
        if drop {
            lost += 1;
        }
        drop
    }));
    sim.run_until(sim.now + Duration::from_secs(1), |s| {
        s.a.conn.as_ref().unwrap().state() == State::Established
    });
    sim.a().set_nodelay(true);
    sim.a().send(&pattern(0, 1448)).unwrap();
    sim.transmit();
    sim.a().send(&pattern(1448, 1448)).unwrap();
    sim.run_for(Duration::from_millis(30));
    // The second data segment (sequence beyond IRS+1) established it; the
    // first comes again soon (RACK, RFC 8985, once the duplicate ACK
    // that SACKs the second is a reordering window old).
    assert_eq!(sim.b().state(), State::Established);
    sim.settle();
    assert_eq!(sim.b().recv_queue(), 2896);
}

#[test]
fn connection_waiting_in_accept_queue_still_receives_and_acks() {
    let mut l = listener(cfg(), 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let now = lamina_netbuf::Instant::from_secs(1);
    feed(&mut l, src, &syn(src, 100, false), now);
    let sa = l.poll_transmit(now).unwrap().2;
    let mut ack = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(101),
        ack_number: sa.seq_number + 1,
        flags: TcpFlags::ACK,
        window_len: 100,
        ..TcpRepr::default()
    };
    assert_eq!(feed(&mut l, src, &ack, now), ListenerVerdict::Handled);
    assert_eq!(l.pending(), 1);
    // Data before the application accepts: buffered, not reset.
    ack.flags = TcpFlags::ACK | TcpFlags::PSH;
    let out = lamina_tcp::Outgoing {
        repr: ack,
        payload: (b"early", &[]),
        shared: None,
    };
    let mut buf = [0u8; 100];
    let n = out.write(A_IP, B_IP, &mut buf, lamina_tcp::ChecksumMode::Compute);
    let seg = TcpSegment::parse_verified(&buf[..n], A_IP, B_IP).unwrap();
    assert_eq!(
        l.on_segment(B_IP, src, &seg, 1460, now),
        ListenerVerdict::Handled
    );
    // Its delayed ACK comes out of the listener.
    let at = l.poll_at().unwrap();
    assert!(at > now && at <= now + Duration::from_millis(200));
    let (local, remote, repr) = l.poll_transmit(at).unwrap();
    assert_eq!((local.port(), remote), (80, src));
    assert_eq!(repr.ack_number, SeqNumber(106));
    let mut c = l.accept().unwrap();
    let mut got = [0u8; 16];
    assert_eq!(c.recv(&mut got), Ok(5));
    // A queued connection reset by its peer leaves the queue.
    let src2 = SocketAddrV4::new(A_IP, 5001);
    feed(&mut l, src2, &syn(src2, 100, false), now);
    let sa = l.poll_transmit(now).unwrap().2;
    let ack = TcpRepr {
        src_port: 5001,
        dst_port: 80,
        seq_number: SeqNumber(101),
        ack_number: sa.seq_number + 1,
        flags: TcpFlags::ACK,
        window_len: 100,
        ..TcpRepr::default()
    };
    feed(&mut l, src2, &ack, now);
    assert_eq!(l.pending(), 1);
    let rst = TcpRepr {
        flags: TcpFlags::RST,
        ..ack
    };
    assert_eq!(feed(&mut l, src2, &rst, now), ListenerVerdict::Handled);
    assert!(l.poll_transmit(now).is_none());
    assert_eq!(l.pending(), 0);
}

/// RFC 7323 §5.8 with §5.4's offset: every incarnation of a 4-tuple keeps
/// one timestamp clock, whatever its ISN. A listener's SYN-ACKs for the
/// same client 5 ms apart (the first incarnation reset, a second one
/// opened) carry TSvals 5 apart, so that the last incarnation's late
/// segments are older by PAWS; and the client's SYNs likewise. (The
/// offset came from the whole ISN, clock included: each incarnation had
/// its own, a late segment of the last one could carry a newer timestamp
/// than the new connection's, was taken, and made every real segment of
/// the new connection fail PAWS — a lifecycle scan's connection timed
/// out so, Direct seed 41701.) Another 4-tuple has another offset.
#[test]
fn incarnations_of_a_4_tuple_share_one_timestamp_clock_rfc7323_5_8() {
    let mut l = listener(cfg(), 4);
    let src = SocketAddrV4::new(A_IP, 5000);
    let t1 = lamina_netbuf::Instant::from_secs(7);
    feed(&mut l, src, &syn(src, 100, true), t1);
    let (_, _, first) = l.poll_transmit(t1).unwrap();
    // The client resets it, and opens again 5 ms later.
    let rst = TcpRepr {
        src_port: 5000,
        dst_port: 80,
        seq_number: SeqNumber(101),
        flags: TcpFlags::RST,
        ..TcpRepr::default()
    };
    feed(&mut l, src, &rst, t1);
    assert_eq!(l.half_open(), 0);
    let t2 = t1 + Duration::from_millis(5);
    feed(&mut l, src, &syn(src, 90_000, true), t2);
    let (_, _, second) = l.poll_transmit(t2).unwrap();
    assert_ne!(first.seq_number, second.seq_number, "a new ISN");
    let ts = |r: &TcpRepr| r.timestamps.unwrap().tsval;
    assert_eq!(ts(&second).wrapping_sub(ts(&first)), 5);
    // Another client port: another clock.
    let other = SocketAddrV4::new(A_IP, 5001);
    feed(&mut l, other, &syn(other, 100, true), t2);
    let (_, _, third) = l.poll_transmit(t2).unwrap();
    assert_ne!(ts(&third), ts(&second));

    // The client's SYNs too.
    let isns = lamina_tcp::IsnGenerator::new(&mut SeededRng::new(3));
    let server = SocketAddrV4::new(B_IP, 80);
    let syn_tsval = |t: lamina_netbuf::Instant| {
        let isn = isns.isn(src, server, t);
        let mut c = Connection::connect(src, server, &cfg(), isn, 1460, t);
        let out = c.poll_transmit(t).unwrap();
        out.repr.timestamps.unwrap().tsval
    };
    assert_eq!(syn_tsval(t2).wrapping_sub(syn_tsval(t1)), 5);
}
