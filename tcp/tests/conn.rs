//! Connection and listener behaviour through a simulated network (see
//! `common/mod.rs`), each test naming the RFC section it checks.

mod common;

use common::*;
use lamina_netbuf::Duration;
use lamina_tcp::{
    CcAlgorithm, ConnError, Connection, Keepalive, SeqNumber, State, TcpConfig, TcpFlags, TcpRepr,
    Timestamps,
};

fn cfg() -> TcpConfig {
    TcpConfig::default()
}

// ---------------------------------------------------------------- handshake

#[test]
fn three_way_handshake_negotiates_options_rfc9293_3_5() {
    let mut sim = Sim::established(1, &cfg(), &cfg());
    assert_eq!(sim.a().state(), State::Established);
    assert_eq!(sim.b().state(), State::Established);
    let syn = sim
        .log
        .iter()
        .find(|s| s.has(TcpFlags::SYN) && !s.has(TcpFlags::ACK))
        .unwrap();
    assert_eq!(syn.repr.max_seg_size, Some(1460));
    assert!(syn.repr.sack_permitted);
    assert!(syn.repr.timestamps.is_some());
    // 64 KiB needs a shift of 1 (RFC 7323 §2.3).
    assert_eq!(syn.repr.window_scale, Some(1));
    for c in [sim.a.conn.as_ref().unwrap(), sim.b.conn.as_ref().unwrap()] {
        assert!(c.sack_enabled());
        assert!(c.timestamps_enabled());
        assert_eq!(c.mss(), 1460);
    }
    // Exactly SYN, SYN-ACK, ACK.
    assert_eq!(sim.log.len(), 3, "{:#?}", sim.log);
}

#[test]
fn mss_is_clamped_to_the_route_rfc9293_3_7_1() {
    let mut sim = Sim::client_server(2, &cfg(), &cfg());
    sim.b.mss_limit = 1200;
    sim.run_until(sim.now + Duration::from_secs(2), |s| s.b.conn.is_some());
    sim.run_for(Duration::from_millis(100));
    let synack = sim
        .log
        .iter()
        .find(|s| s.has(TcpFlags::SYN) && s.has(TcpFlags::ACK))
        .unwrap();
    assert_eq!(synack.repr.max_seg_size, Some(1200));
    assert_eq!(sim.a().mss(), 1200);
    assert_eq!(sim.b().mss(), 1200);
}

#[test]
fn options_off_fall_back_to_plain_tcp_rfc7323_rfc2018() {
    let off = TcpConfig {
        sack: false,
        timestamps: false,
        window_scale: false,
        ..cfg()
    };
    let mut sim = Sim::established(3, &off, &cfg());
    let synack = sim
        .log
        .iter()
        .find(|s| s.has(TcpFlags::SYN) && s.has(TcpFlags::ACK))
        .unwrap();
    assert!(synack.repr.timestamps.is_none());
    assert!(!synack.repr.sack_permitted);
    assert!(synack.repr.window_scale.is_none());
    assert!(!sim.b().timestamps_enabled());
    let (x, _) = transfer(&mut sim, 300_000, 0, Duration::from_secs(60));
    assert_eq!(x, pattern(0, 300_000));
}

#[test]
fn syn_to_closed_port_is_refused_rfc9293_3_10_7_1() {
    let mut sim = Sim::new(4);
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &cfg(),
        SeqNumber(1),
        1460,
        sim.now,
    ));
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().error(), Some(ConnError::Refused));
    assert_eq!(sim.b.resets_sent, 1);
    #[cfg(feature = "std")]
    assert_eq!(
        ConnError::Refused.io_kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

#[test]
fn syn_is_retransmitted_with_backoff_then_times_out_rfc6298_5_5() {
    let mut sim = Sim::new(5);
    let c = TcpConfig {
        syn_retries: 3,
        ..cfg()
    };
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &c,
        SeqNumber(1),
        1460,
        sim.now,
    ));
    sim.ab.rule = Some(Box::new(|_| true));
    let start = sim.now;
    sim.run_until(start + Duration::from_secs(60), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().error(), Some(ConnError::TimedOut));
    let times: Vec<u64> = sim
        .segments(true)
        .map(|s| (s.at - start).total_millis())
        .collect();
    // 1 s initial RTO, doubled each time (RFC 6298 §2.1, §5.5).
    assert_eq!(times, vec![0, 1000, 3000, 7000]);
}

#[test]
fn simultaneous_open_reaches_established_rfc9293_3_5_figure_8() {
    let mut sim = Sim::new(6);
    let (a, b) = (a_addr(), b_addr());
    sim.a.conn = Some(Connection::connect(
        a,
        b,
        &cfg(),
        SeqNumber(100),
        1460,
        sim.now,
    ));
    sim.b.conn = Some(Connection::connect(
        b,
        a,
        &cfg(),
        SeqNumber(5000),
        1460,
        sim.now,
    ));
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.a.conn.as_ref().unwrap().state() == State::Established
            && s.b.conn.as_ref().unwrap().state() == State::Established
    });
    assert_eq!(sim.a().state(), State::Established);
    assert_eq!(sim.b().state(), State::Established);
    let (x, y) = transfer(&mut sim, 10_000, 7_000, Duration::from_secs(30));
    assert_eq!(x, pattern(0, 10_000));
    assert_eq!(y, pattern(0, 7_000));
}

// ---------------------------------------------------------------- data

#[test]
fn bulk_transfer_is_byte_exact_both_ways_rfc9293_3_10() {
    let mut sim = Sim::established(7, &cfg(), &cfg());
    let (x, y) = transfer(&mut sim, 4 << 20, 1 << 20, Duration::from_secs(600));
    assert_eq!(x.len(), 4 << 20);
    assert!(x == pattern(0, 4 << 20));
    assert!(y == pattern(0, 1 << 20));
    assert_eq!(sim.a().stats().retransmits, 0);
}

#[test]
fn bulk_transfer_survives_loss_and_reordering_rfc6675_rfc5681() {
    for (seed, alg) in [(8, CcAlgorithm::Cubic), (9, CcAlgorithm::NewReno)] {
        let c = TcpConfig { cc: alg, ..cfg() };
        let mut sim = Sim::established(seed, &c, &c);
        for l in [&mut sim.ab, &mut sim.ba] {
            l.loss_ppm = 50_000;
            l.jitter = Duration::from_millis(3);
        }
        let t0 = sim.now;
        let (x, y) = transfer(&mut sim, 3 << 20, 256 << 10, Duration::from_secs(3000));
        assert_eq!(x.len(), 3 << 20, "{alg:?}");
        assert!(x == pattern(0, 3 << 20));
        assert!(y == pattern(0, 256 << 10));
        let st = *sim.a().stats();
        println!("{alg:?}: {st:?} in {}", sim.now - t0);
        assert!(st.retransmits > 0);
        assert!(st.fast_retransmits > 0, "{st:?}");
    }
}

/// Segmentation offload changes how segments reach the device, not which
/// segments go: a sender batching through `poll_transmit_gso` (cut into
/// pieces as a device would) leaves exactly the segments, at the same
/// times, that sending one by one leaves, and the connection's state
/// follows.
#[test]
fn gso_batches_leave_the_same_segments_as_sending_one_by_one() {
    let run = |gso: usize| {
        let mut sim = Sim::established(31, &cfg(), &cfg());
        sim.a.gso = gso;
        sim.b.gso = gso;
        let start = sim.log.len();
        let (x, y) = transfer(&mut sim, 2 << 20, 300_000, Duration::from_secs(600));
        assert!(x == pattern(0, 2 << 20) && y == pattern(0, 300_000));
        let log: Vec<_> = sim.log[start..]
            .iter()
            .map(|s| (s.at, s.from_a, s.repr, s.len))
            .collect();
        let largest = sim.a.gso_largest;
        (log, *sim.a().stats(), *sim.b().stats(), largest)
    };
    let (plain, pa, pb, _) = run(0);
    let (gso, ga, gb, largest) = run(65_000);
    assert!(largest >= 10 * 1448, "batches went: {largest}");
    assert_eq!(plain.len(), gso.len());
    for (i, (p, g)) in plain.iter().zip(&gso).enumerate() {
        assert_eq!(p, g, "segment {i}");
    }
    assert_eq!((pa, pb), (ga, gb));
    assert!(plain.iter().any(|s| s.3 == 1448), "full segments went");
}

/// The batches themselves: large (at most the limit, every piece full but
/// the last), and byte-exact through loss, reordering and recovery.
#[test]
fn gso_transfer_survives_loss_and_reordering() {
    let mut sim = Sim::established(32, &cfg(), &cfg());
    sim.a.gso = 32 * 1448;
    let mut biggest = 0usize;
    {
        // The batches a lossless start sends.
        let c = sim.a.conn.as_mut().unwrap();
        assert_eq!(c.send(&pattern(0, 60_000)), Ok(60_000));
        let now = sim.now;
        while let Some((o, size)) = c.poll_transmit_gso(now, 32 * 1448) {
            assert!(o.payload_len() <= 32 * 1448);
            if o.payload_len() > 1448 {
                assert_eq!(size, 1448, "cut at the MSS less the timestamps");
            }
            biggest = biggest.max(o.payload_len());
        }
    }
    assert_eq!(
        biggest,
        10 * 1448,
        "the initial window in one batch (RFC 6928)"
    );
    let mut sim = Sim::established(33, &cfg(), &cfg());
    sim.a.gso = 65_000;
    for l in [&mut sim.ab, &mut sim.ba] {
        l.loss_ppm = 30_000;
        l.jitter = Duration::from_millis(2);
    }
    let (x, y) = transfer(&mut sim, 3 << 20, 100_000, Duration::from_secs(3000));
    assert!(x == pattern(0, 3 << 20));
    assert!(y == pattern(0, 100_000));
    assert!(sim.a().stats().retransmits > 0);
}

#[test]
fn bulk_transfer_without_sack_uses_newreno_recovery_rfc6582() {
    let c = TcpConfig {
        sack: false,
        cc: CcAlgorithm::NewReno,
        ..cfg()
    };
    let mut sim = Sim::established(10, &c, &c);
    sim.ab.loss_ppm = 30_000;
    let (x, _) = transfer(&mut sim, 2 << 20, 0, Duration::from_secs(3000));
    assert!(x == pattern(0, 2 << 20));
    assert!(sim.a().stats().fast_retransmits > 0);
    assert_eq!(sim.a().stats().sack_recoveries, 0);
}

// ---------------------------------------------------------------- closing

#[test]
fn active_close_passes_fin_wait_and_time_wait_rfc9293_3_6() {
    let mut sim = Sim::established(20, &cfg(), &cfg());
    sim.a().send(b"bye").unwrap();
    sim.a().close();
    assert_eq!(sim.a().state(), State::FinWait1);
    sim.run_until(sim.now + Duration::from_secs(1), |s| {
        s.b.conn.as_ref().unwrap().state() == State::CloseWait
    });
    let mut buf = [0u8; 8];
    assert_eq!(sim.b().recv(&mut buf), Ok(3));
    assert_eq!(sim.b().recv(&mut buf), Ok(0));
    assert!(sim.b().recv_finished());
    sim.settle();
    assert_eq!(sim.a().state(), State::FinWait2);
    sim.b().close();
    assert_eq!(sim.b().state(), State::LastAck);
    sim.run_until(sim.now + Duration::from_secs(1), |s| {
        s.b.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().state(), State::TimeWait);
    assert_eq!(sim.b().error(), None);
    // 2*MSL later (RFC 9293 §3.6.1) the TIME-WAIT ends.
    let entered = sim.now;
    sim.run_until(entered + Duration::from_secs(120), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    let waited = sim.now - entered;
    assert!(
        waited >= Duration::from_secs(59) && waited <= Duration::from_secs(61),
        "{waited}"
    );
    assert_eq!(sim.a().error(), None);
}

#[test]
fn half_close_keeps_the_other_direction_open_rfc9293_3_6() {
    let mut sim = Sim::established(21, &cfg(), &cfg());
    sim.a().shutdown_write();
    sim.settle();
    assert_eq!(sim.a().state(), State::FinWait2);
    assert_eq!(sim.b().state(), State::CloseWait);
    assert_eq!(sim.a().send(b"x"), Err(ConnError::Closed));
    // B keeps sending; A keeps receiving.
    let data = pattern(0, 200_000);
    let mut off = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    sim.run_until(sim.now + Duration::from_secs(30), |s| {
        let b = s.b.conn.as_mut().unwrap();
        if off < data.len() {
            off += b.send(&data[off..]).unwrap();
        } else {
            b.close();
        }
        let a = s.a.conn.as_mut().unwrap();
        while let Ok(n @ 1..) = a.recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        a.recv_finished()
    });
    assert!(got == data);
    sim.settle();
    assert_eq!(sim.a().state(), State::TimeWait);
    assert!(sim.b().is_closed());
}

#[test]
fn simultaneous_close_goes_through_closing_rfc9293_3_6_figure_13() {
    let mut sim = Sim::established(22, &cfg(), &cfg());
    sim.a().close();
    sim.b().close();
    sim.transmit();
    assert_eq!(sim.a().state(), State::FinWait1);
    // Each FIN arrives before the ACK of the other.
    sim.run_until(sim.now + Duration::from_secs(1), |s| {
        s.a.conn.as_ref().unwrap().state() == State::TimeWait
            && s.b.conn.as_ref().unwrap().state() == State::TimeWait
    });
    assert_eq!(sim.a().state(), State::TimeWait);
    assert_eq!(sim.b().state(), State::TimeWait);
    assert!(sim.log.iter().filter(|s| s.has(TcpFlags::FIN)).count() == 2);
}

#[test]
fn time_wait_acknowledges_a_retransmitted_fin_and_restarts_rfc9293_3_10_7_4() {
    let mut sim = Sim::established(23, &cfg(), &cfg());
    sim.a().close();
    sim.settle();
    sim.b().close();
    sim.settle();
    assert_eq!(sim.a().state(), State::TimeWait);
    let fin = sim
        .segments(false)
        .filter(|s| s.has(TcpFlags::FIN))
        .last()
        .unwrap()
        .clone();
    sim.run_for(Duration::from_secs(30));
    // B is gone; its stack would answer our ACK with a RST (which ends
    // TIME-WAIT, as Linux does without RFC 1337): lose A's segments.
    sim.ab.rule = Some(Box::new(|_| true));
    let before = sim.segments(true).count();
    sim.inject(false, &fin.repr);
    sim.transmit();
    let acks: Vec<_> = sim.segments(true).skip(before).collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].repr.ack_number, fin.repr.seq_number + 1);
    // The 2MSL timer restarted: still in TIME-WAIT 40 s later.
    sim.run_for(Duration::from_secs(40));
    assert_eq!(sim.a().state(), State::TimeWait);
    sim.run_for(Duration::from_secs(25));
    assert!(sim.a().is_closed());
}

#[test]
fn time_wait_tuple_is_reused_by_a_newer_syn_rfc9293_3_6_1_rfc6191() {
    let mut sim = Sim::established(24, &cfg(), &cfg());
    // The server closes first, so it holds TIME-WAIT.
    sim.b().close();
    sim.settle();
    sim.a().close();
    sim.settle();
    assert_eq!(sim.b().state(), State::TimeWait);
    assert!(sim.a().is_closed());
    // A new connection on the same 4-tuple, later timestamps.
    sim.run_for(Duration::from_secs(1));
    let isn = sim.snd_nxt(true) + 100_000;
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &cfg(),
        isn,
        1460,
        sim.now,
    ));
    sim.run_until(sim.now + Duration::from_secs(3), |s| {
        s.a.conn.as_ref().unwrap().state() == State::Established
            && s.b.conn.as_ref().unwrap().state() == State::Established
    });
    assert_eq!(sim.a().state(), State::Established);
    assert_eq!(sim.b().state(), State::Established);
}

/// A connection that moved data fast and was reset leaves no TIME-WAIT:
/// the next connection of its 4-tuple may open at once. The server's new
/// ISN must lie beyond every sequence number the old connection used, or
/// the old connection's late segments fall into the new window (RFC 9293
/// §3.4.1; timestamps off, so PAWS cannot catch them). RFC 6528's 4 µs
/// ISN clock (250 kB/s) failed this.
#[test]
fn a_fast_connection_reset_and_reopened_leaves_no_old_numbers_in_the_new_window_rfc9293_3_4_1() {
    let plain = TcpConfig {
        timestamps: false,
        ..cfg()
    };
    // 64 KiB windows over a 20 ms round trip: about 3 MB/s.
    let mut sim = Sim::established(27, &plain, &plain);
    let start = sim.now;
    let total = 4 << 20;
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 65536];
    sim.run_until(start + Duration::from_secs(10), |s| {
        let b = s.b.conn.as_mut().unwrap();
        while sent < total {
            match b.send(&pattern(sent, (total - sent).min(16384))) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        while let Ok(n @ 1..) = s.a.conn.as_mut().unwrap().recv(&mut buf) {
            got += n;
        }
        got == total
    });
    assert_eq!(got, total);
    let secs = (sim.now - start).total_micros() as f64 / 1e6;
    let rate = total as f64 / secs;
    assert!(
        (1e6..16e6).contains(&rate),
        "{rate} B/s: faster than a 4 µs clock, slower than ours"
    );
    // The client resets, and opens the same 4-tuple again.
    sim.a().abort();
    sim.run_for(Duration::from_millis(10));
    assert!(sim.b().is_closed());
    let old_end = sim.snd_nxt(false);
    let old_data: Vec<Seen> = sim
        .segments(false)
        .filter(|s| s.len > 0 && !s.has(TcpFlags::SYN))
        .cloned()
        .collect();
    let isn = sim.snd_nxt(true) + 100_000;
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &plain,
        isn,
        1460,
        sim.now,
    ));
    sim.run_until(sim.now + Duration::from_secs(3), |s| {
        s.a.conn.as_ref().unwrap().is_established()
    });
    assert!(sim.a().is_established());
    let synack = sim
        .segments(false)
        .filter(|s| s.has(TcpFlags::SYN | TcpFlags::ACK))
        .last()
        .unwrap()
        .repr;
    assert!(
        synack.seq_number - old_end > 0,
        "new ISN {} is not past the old connection's {}",
        synack.seq_number.0,
        old_end.0
    );
    // Every old data segment, arriving late, finds no place.
    for old in &old_data {
        let repr = TcpRepr {
            ack_number: sim.snd_nxt(true),
            ..old.repr
        };
        sim.inject_data(false, &repr, &vec![0xee; old.len]);
    }
    assert_eq!(sim.a().recv(&mut buf), Ok(0));
    assert!(!sim.a().can_recv());
}

#[test]
fn close_with_unread_data_resets_rfc2525_2_17() {
    let mut sim = Sim::established(25, &cfg(), &cfg());
    sim.a().send(b"unread").unwrap();
    sim.settle();
    sim.b().close();
    sim.settle();
    assert!(sim.b().is_closed());
    assert!(sim.log.iter().any(|s| !s.from_a && s.has(TcpFlags::RST)));
    assert_eq!(sim.a().error(), Some(ConnError::Reset));
    assert!(sim.a().is_closed());
    let mut buf = [0u8; 4];
    assert_eq!(sim.a().recv(&mut buf), Err(ConnError::Reset));
}

#[test]
fn abort_sends_rst_and_peer_sees_reset_rfc9293_3_10_5() {
    let mut sim = Sim::established(26, &cfg(), &cfg());
    sim.a().send(&[1; 5000]).unwrap();
    sim.a().abort();
    assert!(!sim.a().is_closed(), "the RST is still to be sent");
    sim.settle();
    assert!(sim.a().is_closed());
    assert_eq!(sim.b().error(), Some(ConnError::Reset));
    #[cfg(feature = "std")]
    assert_eq!(
        ConnError::Reset.io_kind(),
        std::io::ErrorKind::ConnectionReset
    );
}

// ---------------------------------------------------------------- RST, RFC 5961

fn exact_rst_to_a(sim: &Sim) -> TcpRepr {
    let seq = sim.rcv_nxt(true);
    sim.repr(false, TcpFlags::RST, seq, SeqNumber(0))
}

#[test]
fn rst_with_exact_sequence_resets_each_synchronized_state_rfc5961_3_2() {
    // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT -> Reset error;
    // CLOSING, LAST-ACK, TIME-WAIT -> closed without error.
    type Setup = fn(&mut Sim);
    let cases: [(State, Setup, Option<ConnError>); 7] = [
        (State::Established, |_| {}, Some(ConnError::Reset)),
        (
            State::FinWait1,
            |s| {
                s.ba.rule = Some(Box::new(|_| true));
                s.a().close();
                s.transmit();
            },
            Some(ConnError::Reset),
        ),
        (
            State::FinWait2,
            |s| {
                s.a().close();
                s.settle();
            },
            Some(ConnError::Reset),
        ),
        (
            State::CloseWait,
            |s| {
                s.b().close();
                s.settle();
            },
            Some(ConnError::Reset),
        ),
        (
            State::Closing,
            |s| {
                s.ba.rule = Some(Box::new(|seg| !seg.has(TcpFlags::FIN)));
                s.ab.rule = Some(Box::new(|seg| !seg.has(TcpFlags::FIN)));
                s.a().close();
                s.b().close();
                s.transmit();
                s.ab.rule = Some(Box::new(|_| true));
                s.run_for(Duration::from_millis(50));
            },
            None,
        ),
        (
            State::LastAck,
            |s| {
                s.b().close();
                s.settle();
                s.ab.rule = Some(Box::new(|_| true));
                s.a().close();
                s.transmit();
            },
            None,
        ),
        (
            State::TimeWait,
            |s| {
                s.a().close();
                s.settle();
                s.b().close();
                s.settle();
            },
            None,
        ),
    ];
    for (i, (state, setup, err)) in cases.into_iter().enumerate() {
        let mut sim = Sim::established(30 + i as u64, &cfg(), &cfg());
        setup(&mut sim);
        assert_eq!(sim.a().state(), state);
        let rst = exact_rst_to_a(&sim);
        sim.inject(false, &rst);
        assert!(sim.a().is_closed(), "{state}: {}", sim.a().state());
        assert_eq!(sim.a().error(), err, "{state}");
    }
}

#[test]
fn rst_in_syn_sent_needs_an_acceptable_ack_rfc9293_3_10_7_3() {
    let mut sim = Sim::new(40);
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &cfg(),
        SeqNumber(1000),
        1460,
        sim.now,
    ));
    sim.ab.rule = Some(Box::new(|_| true));
    sim.transmit();
    // A RST without ACK, or with a wrong ACK, is ignored.
    let bad = sim.repr(false, TcpFlags::RST, SeqNumber(5), SeqNumber(0));
    sim.inject(false, &bad);
    let bad = sim.repr(
        false,
        TcpFlags::RST | TcpFlags::ACK,
        SeqNumber(5),
        SeqNumber(999),
    );
    sim.inject(false, &bad);
    assert_eq!(sim.a().state(), State::SynSent);
    let good = sim.repr(
        false,
        TcpFlags::RST | TcpFlags::ACK,
        SeqNumber(5),
        SeqNumber(1001),
    );
    sim.inject(false, &good);
    assert!(sim.a().is_closed());
    assert_eq!(sim.a().error(), Some(ConnError::Refused));
}

#[test]
fn rst_in_syn_received_after_simultaneous_open_refuses_rfc9293_3_10_7_4() {
    let mut sim = Sim::new(41);
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &cfg(),
        SeqNumber(1000),
        1460,
        sim.now,
    ));
    sim.transmit();
    // B's SYN crosses A's.
    let syn = sim.repr(false, TcpFlags::SYN, SeqNumber(7000), SeqNumber(0));
    sim.inject(false, &syn);
    assert_eq!(sim.a().state(), State::SynReceived);
    let rst = sim.repr(false, TcpFlags::RST, SeqNumber(7001), SeqNumber(0));
    sim.inject(false, &rst);
    assert_eq!(sim.a().error(), Some(ConnError::Refused));
}

#[test]
fn in_window_rst_not_exact_draws_a_rate_limited_challenge_ack_rfc5961_3_2_and_7() {
    let mut sim = Sim::established(42, &cfg(), &cfg());
    let exact = sim.rcv_nxt(true);
    let before = sim.segments(true).count();
    for i in 0..30u32 {
        let rst = sim.repr(false, TcpFlags::RST, exact + 1 + i * 100, SeqNumber(0));
        sim.inject(false, &rst);
        sim.transmit();
    }
    assert_eq!(sim.a().state(), State::Established);
    let sent: Vec<_> = sim.segments(true).skip(before).collect();
    // At most `challenge_ack_limit` (10) per second.
    assert_eq!(sent.len(), 10);
    assert!(
        sent.iter()
            .all(|s| s.repr.ack_number == exact && s.len == 0)
    );
    assert_eq!(sim.a().stats().challenge_acks, 10);
    assert_eq!(sim.a().stats().challenge_acks_suppressed, 20);
    // An out-of-window RST is dropped silently.
    let far = sim.repr(false, TcpFlags::RST, exact + 1_000_000, SeqNumber(0));
    sim.inject(false, &far);
    assert_eq!(sim.a().state(), State::Established);
}

#[test]
fn syn_in_established_draws_a_challenge_ack_rfc5961_4() {
    let mut sim = Sim::established(43, &cfg(), &cfg());
    let exact = sim.rcv_nxt(true);
    let before = sim.segments(true).count();
    for seq in [exact, exact + 10, exact - 5000] {
        let syn = sim.repr(false, TcpFlags::SYN, seq, SeqNumber(0));
        sim.inject(false, &syn);
        sim.transmit();
    }
    assert_eq!(sim.a().state(), State::Established);
    let sent: Vec<_> = sim.segments(true).skip(before).collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|s| s.repr.ack_number == exact && !s.has(TcpFlags::RST))
    );
    let (x, _) = transfer(&mut sim, 50_000, 0, Duration::from_secs(10));
    assert!(x == pattern(0, 50_000));
}

#[test]
fn ack_of_unsent_data_is_dropped_and_answered_rfc5961_5_2() {
    let mut sim = Sim::established(44, &cfg(), &cfg());
    let seq = sim.rcv_nxt(true);
    let una = sim.snd_nxt(true);
    let bad = sim.repr(false, TcpFlags::ACK, seq, una + 10_000);
    let data = [9u8; 100];
    let before = sim.segments(true).count();
    sim.inject_data(false, &bad, &data);
    sim.transmit();
    assert_eq!(
        sim.a().recv_queue(),
        0,
        "the data of an unacceptable ACK is dropped"
    );
    assert_eq!(sim.segments(true).skip(before).count(), 1);
    // Too old (below SND.UNA - MAX.SND.WND): challenge ACK, dropped.
    let old = sim.repr(false, TcpFlags::ACK, seq, una - 2_000_000);
    sim.inject_data(false, &old, &data);
    assert_eq!(sim.a().recv_queue(), 0);
    assert_eq!(sim.a().state(), State::Established);
}

#[test]
fn blind_data_injection_outside_the_window_is_ignored_rfc5961_6() {
    let mut sim = Sim::established(45, &cfg(), &cfg());
    let seq = sim.rcv_nxt(true);
    let ack = sim.snd_nxt(true);
    let r = sim.repr(false, TcpFlags::ACK, seq + 3_000_000, ack);
    sim.inject_data(false, &r, &[0xee; 500]);
    assert_eq!(sim.a().recv_queue(), 0);
    let (x, _) = transfer(&mut sim, 10_000, 20_000, Duration::from_secs(10));
    assert!(x == pattern(0, 10_000));
}

// ---------------------------------------------------------------- retransmission

/// Drops the first A->B segment whose payload starts at byte `offset` of
/// the stream (relative to A's first data byte).
fn drop_data_once(sim: &mut Sim, offsets: &[u32]) {
    let base = sim.snd_nxt(true);
    let mut pending: Vec<SeqNumber> = offsets.iter().map(|o| base + *o).collect();
    sim.ab.rule = Some(Box::new(move |s| {
        if s.len == 0 {
            return false;
        }
        if let Some(i) = pending.iter().position(|p| *p == s.repr.seq_number) {
            pending.remove(i);
            return true;
        }
        false
    }));
}

#[test]
fn lost_segment_is_retransmitted_after_the_rto_rfc6298_5() {
    let mut sim = Sim::established(50, &cfg(), &cfg());
    drop_data_once(&mut sim, &[0]);
    sim.a().send(&[7; 100]).unwrap();
    let t0 = sim.now;
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 100
    });
    let sends: Vec<_> = sim.segments(true).filter(|s| s.len == 100).collect();
    assert_eq!(sends.len(), 2);
    // RTO = max(min_rto, SRTT + 4*RTTVAR) with one 20 ms sample: 200 ms.
    let gap = sends[1].at - t0;
    assert!(
        gap >= Duration::from_millis(200) && gap < Duration::from_millis(300),
        "{gap}"
    );
    assert_eq!(sim.a().stats().timeouts, 1);
    assert_eq!(sim.a().stats().retransmits, 1);
}

#[test]
fn retransmissions_back_off_and_end_in_timeout_rfc6298_5_5_rfc9293_3_8_3() {
    let c = TcpConfig {
        max_retries: 4,
        ..cfg()
    };
    let mut sim = Sim::established(51, &c, &cfg());
    sim.ab.rule = Some(Box::new(|_| true));
    sim.a().send(&[1; 10]).unwrap();
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(600), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().error(), Some(ConnError::TimedOut));
    let times: Vec<u64> = sim
        .segments(true)
        .filter(|s| s.len == 10)
        .map(|s| (s.at - t0).total_millis())
        .collect();
    assert_eq!(times.len(), 5);
    for w in times.windows(3) {
        // Each interval doubles (RFC 6298 §5.5).
        let (d1, d2) = (w[1] - w[0], w[2] - w[1]);
        assert!(d2 >= 2 * d1 - 2 && d2 <= 2 * d1 + 2, "{times:?}");
    }
    // The connection resets the peer when it gives up.
    assert!(sim.segments(true).last().unwrap().has(TcpFlags::RST));
    #[cfg(feature = "std")]
    assert_eq!(ConnError::TimedOut.io_kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn user_timeout_ends_a_stalled_connection_rfc9293_3_8_3() {
    let c = TcpConfig {
        user_timeout: Some(Duration::from_secs(3)),
        ..cfg()
    };
    let mut sim = Sim::established(52, &c, &cfg());
    sim.ab.rule = Some(Box::new(|_| true));
    sim.a().send(&[1; 10]).unwrap();
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(100), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().error(), Some(ConnError::TimedOut));
    let took = sim.now - t0;
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_millis(3100),
        "{took}"
    );
}

#[test]
fn karn_rule_ignores_rtt_of_retransmitted_segments_rfc6298_3() {
    let c = TcpConfig {
        timestamps: false,
        ..cfg()
    };
    let mut sim = Sim::established(53, &c, &c);
    let srtt0 = sim.a().rtt().srtt().unwrap();
    drop_data_once(&mut sim, &[0]);
    sim.a().send(&[7; 100]).unwrap();
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 100
    });
    sim.settle();
    // The ACK came ~220 ms after the first transmission; no sample taken.
    assert_eq!(sim.a().rtt().srtt().unwrap(), srtt0);
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit_rfc5681_3_2() {
    let c = TcpConfig {
        sack: false,
        nodelay: true,
        ..cfg()
    };
    let mut sim = Sim::established(54, &c, &c);
    drop_data_once(&mut sim, &[1448 * 2]);
    sim.a().send(&pattern(0, 1448 * 8)).unwrap();
    let t0 = sim.now;
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 8
    });
    let st = *sim.a().stats();
    assert_eq!(st.fast_retransmits, 1, "{st:?}");
    assert_eq!(st.timeouts, 0);
    assert_eq!(st.retransmits, 1);
    assert!(sim.now - t0 < Duration::from_millis(100));
    let dups = sim
        .segments(false)
        .filter(|s| s.len == 0 && !s.has(TcpFlags::SYN))
        .count();
    assert!(dups >= 3);
}

#[test]
fn sack_recovers_several_losses_in_one_window_rfc6675() {
    let mut sim = Sim::established(55, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    drop_data_once(&mut sim, &[1448, 1448 * 3, 1448 * 5]);
    sim.a().send(&pattern(0, 1448 * 9)).unwrap();
    let t0 = sim.now;
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 9
    });
    let st = *sim.a().stats();
    assert_eq!(sim.b().recv_queue(), 1448 * 9);
    assert_eq!(st.sack_recoveries, 1, "{st:?}");
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert_eq!(
        st.retransmits, 3,
        "only the lost segments are resent: {st:?}"
    );
    assert!(sim.now - t0 < Duration::from_millis(100));
    // The receiver reported the holes in SACK blocks (RFC 2018 §4).
    assert!(sim.segments(false).any(|s| s.repr.sack_blocks.len() >= 2));
    let mut got = vec![0; 1448 * 9];
    sim.b().recv(&mut got).unwrap();
    assert!(got == pattern(0, 1448 * 9));
}

/// With SACK, a duplicate ACK is one that reports new SACK information
/// (RFC 6675 §2, "DupAck"): copies of the last ACK, with its window and
/// no SACK block — as a duplicated segment, a window probe or a spurious
/// retransmission draws — say nothing of a loss and start no recovery,
/// however many come.
#[test]
fn acks_without_new_sack_information_are_not_duplicate_acks_rfc6675_2() {
    let mut sim = Sim::established(73, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    sim.a().send(&[1; 100]).unwrap();
    sim.settle();
    let last = sim.segments(false).last().unwrap().repr;
    assert_eq!(last.flags, TcpFlags::ACK);
    // Four segments leave and are lost: B says nothing more.
    drop_data_once(&mut sim, &[0, 1448, 1448 * 2, 1448 * 3]);
    sim.a().send(&pattern(0, 1448 * 4)).unwrap();
    sim.transmit();
    assert_eq!(sim.segments(true).filter(|s| s.dropped).count(), 4);
    // Three copies of B's last ACK: SND.UNA, the same window, no SACK.
    assert!(last.sack_blocks.is_empty());
    for _ in 0..3 {
        sim.inject(false, &last);
    }
    let st = *sim.a().stats();
    assert_eq!(st.dup_acks, 0, "{st:?}");
    assert_eq!(st.fast_retransmits, 0, "{st:?}");
    assert_eq!(st.retransmits, 0, "{st:?}");
}

#[test]
fn a_lost_retransmission_is_found_by_rack_without_a_timeout_rfc8985_6_2() {
    let mut sim = Sim::established(56, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    // The segment at 1448 is lost, and so is its first retransmission.
    drop_data_once(&mut sim, &[1448, 1448]);
    sim.a().send(&pattern(0, 1448 * 40)).unwrap();
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 40
    });
    let st = *sim.a().stats();
    assert_eq!(sim.b().recv_queue(), 1448 * 40);
    // Data sent after the first retransmission was SACKed before it:
    // RACK declares the retransmission lost and sends it again, with no
    // retransmission timeout (which would cost the whole window).
    assert_eq!(st.timeouts, 0, "{st:?}");
    let copies = sim
        .segments(true)
        .filter(|s| s.len > 0 && s.seq() == sim_seq(&sim, 1448))
        .count();
    assert_eq!(copies, 3, "{st:?}");
    let mut got = vec![0; 1448 * 40];
    sim.b().recv(&mut got).unwrap();
    assert!(got == pattern(0, 1448 * 40));
}

/// RFC 9293 §3.9.1: PSH when nothing more goes out now. A sender with
/// more data queued than its initial window of ten segments (RFC 6928)
/// pushes the tenth (a receiver that delays ACKs, as Linux does until
/// the application has read, answers a pushed segment sooner), and only
/// the last of the stream after that.
#[test]
fn the_last_segment_a_window_allows_is_pushed_rfc9293_3_9_1() {
    let mut sim = Sim::established(65, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    sim.a().send(&pattern(0, 1448 * 14)).unwrap();
    let t0 = sim.now;
    // The first flight, before any ACK returns (RTT 20 ms).
    sim.run_for(Duration::from_millis(5));
    let first: Vec<_> = sim
        .segments(true)
        .filter(|s| s.at >= t0 && s.len > 0)
        .cloned()
        .collect();
    assert_eq!(first.len(), 10);
    let pushed: Vec<bool> = first.iter().map(|s| s.has(TcpFlags::PSH)).collect();
    assert_eq!(pushed.iter().filter(|&&p| p).count(), 1, "{pushed:?}");
    assert!(pushed[9], "{pushed:?}");
    sim.run_for(Duration::from_millis(200));
    let all: Vec<_> = sim
        .segments(true)
        .filter(|s| s.at >= t0 && s.len > 0)
        .cloned()
        .collect();
    assert_eq!(all.len(), 14);
    assert!(all[13].has(TcpFlags::PSH), "the end of the data is pushed");
}

/// A recovery whose retransmission is lost with nothing sent after it:
/// no later segment can show RACK the loss, and the tail loss probe is
/// not for recoveries (RFC 8985 §7). The recovery probe resends the hole
/// after a probe timeout, long before the 200 ms RTO, and without the
/// timeout's collapse of the window.
#[test]
fn a_lost_last_retransmission_is_resent_by_a_recovery_probe_not_the_rto() {
    let mut sim = Sim::established(58, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    // Five segments, all of the data: the second is lost, and so is its
    // retransmission, the last segment the recovery sends.
    drop_data_once(&mut sim, &[1448, 1448]);
    sim.a().send(&pattern(0, 1448 * 5)).unwrap();
    let t0 = sim.now;
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 5
    });
    let st = *sim.a().stats();
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert_eq!(st.recovery_probes, 1, "{st:?}");
    let copies: Vec<_> = sim
        .segments(true)
        .filter(|s| s.len > 0 && s.seq() == sim_seq(&sim, 1448))
        .collect();
    assert_eq!(copies.len(), 3, "{st:?}");
    // RTT 20 ms: the probe goes two SRTTs after the retransmission.
    let gap = copies[2].at - copies[1].at;
    assert!(gap < Duration::from_millis(100), "{gap}");
    assert!(copies[2].at - t0 < Duration::from_millis(150));
    let mut got = vec![0; 1448 * 5];
    sim.b().recv(&mut got).unwrap();
    assert!(got == pattern(0, 1448 * 5));
}

/// Sequence number of byte `offset` of A's stream (A's ISS + 1 + offset).
fn sim_seq(sim: &Sim, offset: u32) -> u32 {
    let first = sim
        .segments(true)
        .find(|s| s.len > 0)
        .map_or(0, |s| s.seq());
    first.wrapping_add(offset)
}

#[test]
fn rack_marks_a_loss_two_dupacks_cannot_by_time_rfc8985_6_2() {
    let mut sim = Sim::established(57, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    // Ten segments; the eighth is lost. Only two arrive after it: two
    // duplicate ACKs, below DupThresh, with too many segments out for
    // early retransmit (RFC 5827).
    drop_data_once(&mut sim, &[1448 * 7]);
    sim.a().send(&pattern(0, 1448 * 10)).unwrap();
    let t0 = sim.now;
    sim.run_until(sim.now + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 10
    });
    let st = *sim.a().stats();
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert_eq!(st.retransmits, 1, "{st:?}");
    // RTT 20 ms: the loss is declared one RTT plus a quarter of the
    // minimum RTT after the segment left, well before a probe timeout
    // (2 SRTT) or the RTO (200 ms) would have fired.
    let resent = sim
        .segments(true)
        .filter(|s| s.len > 0 && s.seq() == sim_seq(&sim, 1448 * 7))
        .nth(1)
        .expect("retransmitted");
    let after = resent.at - t0;
    assert!(after < Duration::from_millis(35), "{after}");
}

#[test]
fn dsack_blocks_below_the_cumulative_ack_are_tolerated_rfc2883() {
    let mut sim = Sim::established(56, &cfg(), &cfg());
    sim.a().send(&pattern(0, 3000)).unwrap();
    sim.settle();
    let seq = sim.rcv_nxt(true);
    let una = sim.snd_nxt(true);
    let mut r = sim.repr(false, TcpFlags::ACK, seq, una);
    r.window_len = 30000;
    r.sack_blocks = lamina_tcp::SackBlocks::from_slice(&[lamina_tcp::SackBlock {
        left: una - 2000,
        right: una - 1000,
    }])
    .unwrap();
    for _ in 0..5 {
        sim.inject(false, &r);
    }
    sim.transmit();
    assert_eq!(sim.a().stats().retransmits, 0);
    assert_eq!(sim.a().state(), State::Established);
}

// ---------------------------------------------------------------- windows

#[test]
fn zero_window_is_probed_with_backoff_then_resumes_rfc9293_3_8_6_1() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    let mut sim = Sim::established(57, &cfg(), &small);
    let data = pattern(0, 20_000);
    let n = sim.a().send(&data).unwrap();
    assert_eq!(n, 20_000);
    // B does not read: two full segments, then the 1200 bytes left of
    // the window once the persist timer fires, then the window is zero.
    sim.run_for(Duration::from_secs(20));
    assert_eq!(sim.b().recv_queue(), 4096);
    let probes: Vec<_> = sim
        .segments(true)
        .filter(|s| s.len == 0 && s.repr.seq_number == s.repr.seq_number)
        .filter(|s| !s.has(TcpFlags::SYN))
        .map(|s| s.at)
        .collect();
    let st = *sim.a().stats();
    assert!(st.window_probes >= 3, "{st:?}");
    assert_eq!(
        st.timeouts, 0,
        "probes do not count as retransmission timeouts"
    );
    // Intervals grow (RFC 9293 §3.8.6.1: exponential backoff).
    let gaps: Vec<_> = probes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).filter(|g| g[1] > g[0]).count() >= 2,
        "{gaps:?}"
    );
    assert_eq!(sim.a().state(), State::Established);
    // B reads: a window update reopens the flow.
    let got = read_at_b(&mut sim, data.len(), Duration::from_secs(120));
    assert!(got == data);
}

/// The window update that opens a zero window is sent again while the
/// peer stays silent — a sender whose persist timer failed (smoltcp 0.14
/// can stop probing after such an update is lost) would otherwise wait
/// for ever — a retransmission timeout on, backing off, six times at
/// most; and not at all when data follows the update.
#[test]
fn the_update_opening_a_zero_window_is_sent_again_while_the_peer_is_silent() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    for silent in [true, false] {
        let mut sim = Sim::established(61, &cfg(), &small);
        sim.a().send(&pattern(0, 20_000)).unwrap();
        sim.run_for(Duration::from_secs(20));
        assert_eq!(sim.b().recv_queue(), 4096);
        if silent {
            // Nothing from A reaches B any more (its probes neither).
            sim.ab.rule = Some(Box::new(|_| true));
        }
        let before = sim.segments(false).count();
        let mut buf = [0u8; 4096];
        assert_eq!(sim.b().recv(&mut buf).unwrap(), 4096);
        sim.run_for(Duration::from_secs(600));
        let resent = sim.b().stats().window_updates_resent;
        if !silent {
            assert_eq!(resent, 0, "data followed the update");
            continue;
        }
        let updates: Vec<_> = sim
            .segments(false)
            .skip(before)
            .filter(|s| s.repr.window_len > 0)
            .map(|s| s.at)
            .collect();
        assert_eq!(updates.len(), 7, "the update and six more: {updates:?}");
        assert_eq!(resent, 6);
        let gaps: Vec<_> = updates.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] > g[0]), "{gaps:?}");
    }
}

/// An ACK that advertises an open window shortly after a zero one (an
/// older zero-window ACK may still overtake it) arms the same resending,
/// even with data received since the update that opened the window: a
/// sender that takes the window of any ACK (smoltcp 0.14) would
/// otherwise be left with the stale zero (smoltcp scan seed 6597).
#[test]
fn an_open_window_soon_after_a_zero_one_is_sent_again_while_the_peer_is_silent() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    let mut sim = Sim::established(62, &cfg(), &small);
    sim.a().send(&pattern(0, 20_000)).unwrap();
    // B's buffer just filled (its ACK announces zero), and B reads at
    // once: the update that opens the window follows the zero closely.
    let start = sim.now;
    assert!(
        sim.run_until(start + Duration::from_secs(5), |s| s.b().recv_queue()
            == 4096)
    );
    let zero_at = sim.now;
    sim.transmit();
    let mut buf = [0u8; 4096];
    assert_eq!(sim.b().recv(&mut buf).unwrap(), 4096);
    // The first segments into the reopened window: B's ACK of them
    // still leaves room (and comes within a timeout of the zero), and
    // then A falls silent (nothing reaches B).
    assert!(sim.run_until(zero_at + Duration::from_secs(5), |s| s.b().recv_queue() > 0));
    assert!(sim.b().recv_queue() < 4096);
    sim.transmit();
    sim.ab.rule = Some(Box::new(|_| true));
    sim.run_for(Duration::from_secs(600));
    let b: Vec<_> = sim
        .segments(false)
        .filter(|s| s.at >= zero_at)
        .map(|s| (s.at, s.repr.ack_number.0, s.repr.window_len))
        .collect();
    assert!(
        sim.b().stats().window_updates_resent >= 1,
        "{:?} {b:?}",
        sim.b().stats()
    );
    // What was sent again is the last ACK: all that was received, and
    // the room left.
    let last = b.last().expect("segments from B");
    assert!(last.2 > 0 && last.2 < 4096, "{b:?}");
}

/// Data that arrives after the update that opened a zero window does not
/// end the watch for a stale zero while the zero is recent: here the last
/// of A's data follows the update, B's ACK of it goes out more than a
/// timeout after the zero, and A says nothing more. A peer that
/// took an overtaken zero-window ACK after sending that data (smoltcp
/// 0.14, smoltcp scan seed 242,556, where that delayed ACK was lost)
/// would wait for ever without the ACK sent again.
#[test]
fn data_soon_after_an_opened_zero_window_keeps_the_update_resending_once_quiet() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    let mut sim = Sim::established(63, &cfg(), &small);
    // A's data: B's buffer and 500 bytes more.
    sim.a().send(&pattern(0, 4096 + 500)).unwrap();
    let start = sim.now;
    assert!(
        sim.run_until(start + Duration::from_secs(5), |s| s.b().recv_queue()
            == 4096)
    );
    sim.transmit();
    let zero_at = sim.now;
    // B reads just within a timeout (200 ms here) of the zero: the
    // update goes out, the last 500 bytes follow it, and B's ACK of them
    // leaves more than a timeout after the zero. Nothing more comes from
    // A (it has sent all it had).
    sim.run_for(Duration::from_millis(190));
    assert_eq!(sim.b().stats().window_probes, 0);
    let mut buf = [0u8; 4096];
    assert_eq!(sim.b().recv(&mut buf).unwrap(), 4096);
    assert!(
        sim.run_until(zero_at + Duration::from_secs(5), |s| s.b().recv_queue()
            == 500)
    );
    let received_at = sim.now;
    sim.run_for(Duration::from_secs(600));
    let b: Vec<_> = sim
        .segments(false)
        .filter(|s| s.at >= received_at)
        .map(|s| (s.at, s.repr.ack_number.0, s.repr.window_len))
        .collect();
    let st = *sim.b().stats();
    assert!(st.window_updates_resent >= 1, "{st:?} {b:?}");
    // Each one acknowledges all of A's data and leaves the window open.
    let last = b.last().expect("segments from B");
    assert!(b.iter().all(|s| s.1 == last.1 && s.2 > 0), "{b:?}");
    assert_eq!(sim.b().recv_queue(), 500);
}

/// RFC 1122 §4.2.2.17 keeps a connection open while the peer answers its
/// zero-window probes, for ever; a peer that stops answering (it vanished
/// behind its zero window, its reset lost) is given up after
/// `max_retries` unanswered probes, as Linux's `tcp_retries2` ends
/// probing. (Probing went on for ever: a port-forwarding lifecycle scan's
/// server socket outlived the hour, seed 33798.)
#[test]
fn a_zero_window_peer_that_stops_answering_probes_times_out_rfc1122_4_2_2_17() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    let a_cfg = TcpConfig {
        max_retries: 4,
        ..cfg()
    };
    let mut sim = Sim::established(58, &a_cfg, &small);
    sim.a().send(&pattern(0, 20_000)).unwrap();
    // B answers its probes for ten minutes: A stays.
    sim.run_for(Duration::from_secs(600));
    assert_eq!(sim.a().state(), State::Established);
    let answered = sim.a().stats().window_probes;
    assert!(answered > 4, "{answered} probes");
    // Then B is gone.
    sim.ba.rule = Some(Box::new(|_| true));
    sim.run_for(Duration::from_secs(600));
    assert_eq!(sim.a().state(), State::Closed);
    assert_eq!(sim.a().error(), Some(ConnError::TimedOut));
    assert_eq!(sim.a().stats().window_probes, answered + 4);
}

/// A receiver whose application does not read keeps the right edge of
/// its window in place while the buffer fills (RFC 9293 §3.8.6.2.2),
/// rounding the scaled window up so as not to shrink it (RFC 7323 §2.4)
/// but never past what the buffer holds: everything the sender may send
/// is taken, nothing is dropped and sent again. (Rounding up at every ACK
/// once pushed the edge ~32 bytes further each time, past the buffer.)
#[test]
fn a_filling_receive_buffer_never_offers_more_than_it_holds_rfc7323_2_4() {
    const BUF: usize = 1 << 20;
    let big = TcpConfig {
        send_buffer: 2 * BUF,
        recv_buffer: BUF,
        ..cfg()
    };
    let mut sim = Sim::established(67, &big, &big);
    let start = sim.rcv_nxt(false);
    let data = pattern(0, 2 * BUF);
    let mut sent = 0;
    // The sender keeps its buffer full; the receiver never reads.
    for _ in 0..100 {
        sent += sim.a().send(&data[sent..]).unwrap_or(0);
        sim.run_for(Duration::from_millis(100));
    }
    // The buffer holds its configured size and the rounding slack (one
    // unit of the scale, 2^5 bytes, less one) at most.
    let held = sim.b().recv_queue();
    assert!((BUF..BUF + 32).contains(&held), "{held}");
    let limit = start + (BUF + 31) as u32;
    for s in sim.segments(false).filter(|s| !s.has(TcpFlags::SYN)) {
        let edge = s.repr.ack_number + (u32::from(s.repr.window_len) << 5);
        assert!(
            !edge.gt(limit),
            "an ACK offered {} bytes past the buffer",
            edge - limit
        );
    }
    let (sa, sb) = (*sim.a().stats(), *sim.b().stats());
    assert_eq!(sa.retransmits, 0, "{sa:?}");
    assert_eq!(sb.out_of_order, 0, "{sb:?}");
    // Reading it all takes the rest.
    let got = read_at_b(&mut sim, data.len(), Duration::from_secs(60));
    assert!(got == data);
    let sa = *sim.a().stats();
    assert_eq!(sa.retransmits, 0, "{sa:?}");
}

/// On a lossless link nothing is ever sent twice, whatever the two
/// applications do: writes and reads of random sizes at random moments,
/// buffers from 1 KiB to 1 MiB, MSSs from 536 to 8960 bytes on either
/// side, Nagle, SACK, timestamps and window scaling each on or off. A
/// retransmission there is a sender that gave up on an ACK the receiver
/// was still entitled to delay, or a receiver that offered what it could
/// not take. (This found two: a window edge
/// that crept past the buffer, and delayed ACKs held for two of *our*
/// MSS when the peer's segments were smaller, which fired the peer's loss
/// probes — and, the probe answered by a plain ACK, an early retransmit.)
#[test]
fn a_lossless_link_never_sees_a_retransmission_whatever_the_applications_do() {
    use lamina_netbuf::Rng;
    for seed in 0..100u64 {
        let mut rng = lamina_netbuf::SeededRng::new(seed);
        let (ca, cb) = (random_config(&mut rng, true), random_config(&mut rng, true));
        let mut sim = Sim::established(seed, &ca, &cb);
        let data = pattern(0, 300_000);
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 70_000];
        let deadline = sim.now + Duration::from_secs(600);
        while got.len() < data.len() {
            assert!(sim.now < deadline, "seed {seed}: stalled at {}", got.len());
            if sent < data.len() {
                let n = (rng.below(20_000) as usize + 1).min(data.len() - sent);
                sent += sim.a().send(&data[sent..sent + n]).unwrap_or(0);
            }
            if rng.below(3) == 0 {
                let n = rng.below(buf.len() as u32) as usize + 1;
                if let Ok(k) = sim.b().recv(&mut buf[..n]) {
                    got.extend_from_slice(&buf[..k]);
                }
            }
            sim.run_for(Duration::from_millis(u64::from(rng.below(30))));
        }
        assert!(got == data, "seed {seed}: the stream arrived altered");
        let (sa, sb) = (*sim.a().stats(), *sim.b().stats());
        let setup = (ca.recv_buffer, ca.mss, cb.recv_buffer, cb.mss);
        assert_eq!(sa.retransmits, 0, "seed {seed} {setup:?}: {sa:?}");
        assert_eq!(sb.out_of_order, 0, "seed {seed} {setup:?}: {sb:?}");
    }
}

/// Both directions at once, 0–10% loss and up to 2 ms of reordering each
/// way, random configurations (buffers 1 KiB–1 MiB, MSS 536–8960, SACK,
/// timestamps and window scaling each on or off) and applications
/// (writes and reads of random sizes at random moments): every transfer
/// completes, byte for byte, and no connection fails. (A 5000-pair scan
/// of this found a connection that waited for ever on a stale zero
/// window: `a_stale_zero_window_with_data_in_flight_is_probed_on_the_rto_rfc9293_3_8_6_1`.)
#[test]
fn duplex_transfers_under_loss_and_reordering_always_complete() {
    use lamina_netbuf::Rng;
    for seed in 0..300u64 {
        let mut rng = lamina_netbuf::SeededRng::new(seed ^ 0x5eed);
        let (ca, cb) = (random_config(&mut rng, true), random_config(&mut rng, true));
        let mut sim = Sim::established(seed, &ca, &cb);
        let loss = [0, 10_000, 30_000, 100_000][rng.below(4) as usize];
        let jitter = Duration::from_millis(u64::from(rng.below(3)));
        for l in [&mut sim.ab, &mut sim.ba] {
            l.loss_ppm = loss;
            l.jitter = jitter;
        }
        let data = pattern(0, 100_000);
        let (mut sent, mut got) = ([0usize; 2], [Vec::new(), Vec::new()]);
        let mut buf = vec![0u8; 70_000];
        let deadline = sim.now + Duration::from_secs(900);
        while got.iter().any(|g| g.len() < data.len()) {
            assert!(sim.now < deadline, "seed {seed}: stalled");
            for (i, c) in [sim.a.conn.as_mut(), sim.b.conn.as_mut()]
                .into_iter()
                .enumerate()
            {
                let c = c.unwrap();
                assert!(c.error().is_none(), "seed {seed}: {:?}", c.error());
                if sent[i] < data.len() {
                    let n = (rng.below(20_000) as usize + 1).min(data.len() - sent[i]);
                    sent[i] += c.send(&data[sent[i]..sent[i] + n]).unwrap_or(0);
                }
                if rng.below(3) == 0 {
                    let n = rng.below(buf.len() as u32) as usize + 1;
                    if let Ok(k) = c.recv(&mut buf[..n]) {
                        got[i].extend_from_slice(&buf[..k]);
                    }
                }
            }
            sim.run_for(Duration::from_millis(u64::from(rng.below(30))));
        }
        assert!(got[0] == data && got[1] == data, "seed {seed}: altered");
    }
}

/// A zero window that arrives after the update that reopened it (two
/// ACKs with the same numbers, reordered) leaves the sender with data in
/// flight and a window of zero: no persist timer runs then, so the
/// retransmission timer must probe (RFC 9293 §3.8.6.1) — the peer's
/// answer brings the open window and the data goes. (Its retransmission,
/// held back by the window, used to send nothing, until the retries ran
/// out.)
#[test]
fn a_stale_zero_window_with_data_in_flight_is_probed_on_the_rto_rfc9293_3_8_6_1() {
    let mut sim = Sim::established(69, &cfg(), &cfg());
    // The data segment is lost, so it stays in flight.
    drop_data_once(&mut sim, &[0]);
    let data = pattern(0, 1000);
    sim.a().send(&data).unwrap();
    sim.transmit();
    // A stale ACK from B announcing a zero window, with the numbers of
    // B's last ACK: A takes the window (RFC 9293 §3.10.7.4, SND.WL1/WL2).
    let mut stale = sim.repr(false, TcpFlags::ACK, sim.snd_nxt(false), sim.rcv_nxt(false));
    stale.window_len = 0;
    sim.inject(false, &stale);
    let got = read_at_b(&mut sim, data.len(), Duration::from_secs(30));
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
    assert_eq!(sim.a().state(), State::Established);
    assert!(sim.a().stats().window_probes >= 1);
}

/// The peer's answer to a zero-window probe is an ACK of SND.UNA that
/// may reach the sender after a window update that overtook it and after
/// the new data that update let out: it has the form of a duplicate ACK
/// (RFC 5681 §2: no data, SND.UNA, the same window, data outstanding) but
/// reports no segment beyond a hole, only the probe (RFC 9293 §3.8.6.1).
/// Without SACK, one duplicate ACK with one segment outstanding is an
/// early retransmit (RFC 5827): on this lossless link it sent the new
/// segment twice.
#[test]
fn the_answer_to_a_zero_window_probe_is_not_a_duplicate_ack_rfc5681_2() {
    let plain = TcpConfig {
        sack: false,
        ..cfg()
    };
    let small = TcpConfig {
        recv_buffer: 1024,
        ..cfg()
    };
    let mut sim = Sim::established(71, &plain, &small);
    let una = sim.snd_nxt(true) + 1024;
    // Two segments' worth: the second is all A has left to send.
    let data = pattern(0, 2048);
    assert_eq!(sim.a().send(&data).unwrap(), data.len());
    // A fills B's 1 KiB and B, not reading, closes its window: A waits
    // for its persist timer.
    sim.run_for(Duration::from_millis(150));
    assert_eq!(sim.b().recv_queue(), 1024);
    let probe_at = sim.a().poll_at().expect("the persist timer runs");
    assert!(probe_at > sim.now + Duration::from_millis(5));
    assert_eq!(sim.a().stats().window_probes, 0);
    // B reads 5 ms before the probe leaves: its window update reaches A
    // before the probe's answer, and A sends its next 1024 bytes at once.
    sim.run_for(probe_at - Duration::from_millis(5) - sim.now);
    let mut got = vec![0u8; 1024];
    assert_eq!(sim.b().recv(&mut got).unwrap(), 1024);
    sim.transmit();
    let rest = read_at_b(&mut sim, data.len() - 1024, Duration::from_secs(10));
    got.extend_from_slice(&rest);
    assert!(got == data);
    sim.settle();
    // The probe's answer reached A while A's next segment was out...
    let at = |from_a: bool, f: &dyn Fn(&Seen) -> bool| {
        sim.segments(from_a).find(|s| f(s)).map(|s| s.at).unwrap()
    };
    let probe = at(true, &|s| s.len == 0 && s.repr.seq_number == una - 1);
    let delay = sim.ab.delay;
    let answer = at(false, &|s| {
        s.len == 0 && s.repr.ack_number == una && s.at >= probe + delay
    });
    let next = at(true, &|s| s.len > 0 && s.repr.seq_number == una);
    assert!(next < answer + delay, "{next:?} {answer:?}");
    // ...and was not taken for a duplicate ACK.
    let st = *sim.a().stats();
    assert_eq!(st.window_probes, 1, "{st:?}");
    assert_eq!(st.dup_acks, 0, "{st:?}");
    assert_eq!(st.fast_retransmits, 0, "{st:?}");
    assert_eq!(st.retransmits, 0, "{st:?}");
}

/// A zero-window probe (<SEQ=SND.UNA-1>) lies outside the peer's
/// window: the peer answers it without reading its acknowledgment (RFC
/// 9293 §3.10.7.4). An ACK the prober owes when its persist timer fires
/// must still reach the peer, in a segment the peer accepts (RFC 9293
/// §3.8.6.1). Here A's window is closed and B probes it; A's data reaches
/// B as B's persist timer expires. With the ACK folded into the probe, A
/// never learnt its data arrived and retransmitted it on every timeout —
/// and when those timeouts and B's persist timer backed off in step, each
/// retransmission drew a probe again, until A ran out of retries (found
/// by the lamina-socket lifecycle scan).
#[test]
fn an_ack_owed_goes_out_beside_a_zero_window_probe_rfc9293_3_8_6_1() {
    let small = TcpConfig {
        recv_buffer: 1024,
        ..cfg()
    };
    let mut sim = Sim::established(5, &small, &cfg());
    // B fills A's window; A's application does not read.
    assert_eq!(sim.b().send(&pattern(0, 4096)).unwrap(), 4096);
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.a().recv_queue(), 1024);
    assert_eq!(sim.b().stats().window_probes, 0);
    let probe_at = sim.b().poll_at().expect("B's persist timer runs");
    assert!(probe_at > sim.now);
    // A sends; its segment reaches B as B's persist timer expires, and
    // B's next transmit pass (receive, then transmit, as an interface's
    // poll goes) finds both the probe and an ACK due.
    // (Two full segments: B acknowledges them at once.)
    assert_eq!(sim.a().send(&pattern(1, 2896)).unwrap(), 2896);
    let delay = sim.ab.delay;
    sim.ab.delay = probe_at - sim.now;
    sim.transmit();
    sim.ab.delay = delay;
    sim.now = probe_at;
    assert!(sim.receive());
    sim.transmit();
    assert_eq!(sim.b().stats().window_probes, 1);
    // B's ACK reaches A one link delay later (before anything A could
    // retransmit now, a loss probe or a timeout, would be answered).
    sim.run_until(probe_at + delay, |s| s.a().send_queue() == 0);
    assert_eq!(sim.a().send_queue(), 0, "A's data still unacknowledged");
    assert_eq!(sim.a().stats().timeouts, 0);
}

/// Reads at B, as its application would, until `want` bytes arrived (or
/// `limit` passed); returns them.
fn read_at_b(sim: &mut Sim, want: usize, limit: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    sim.run_until(sim.now + limit, |s| {
        let b = s.b.conn.as_mut().unwrap();
        while let Ok(n @ 1..) = b.recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == want
    });
    got
}

/// A random configuration for the property tests: buffers 1 KiB–1 MiB,
/// MSS 536–8960, Nagle on or off and, with `options`, SACK, timestamps
/// and window scaling each on or off.
fn random_config(rng: &mut lamina_netbuf::SeededRng, options: bool) -> TcpConfig {
    use lamina_netbuf::Rng;
    const BUFS: [usize; 8] = [1024, 3000, 4096, 8192, 65535, 65536, 100_000, 1 << 20];
    const MSS: [u16; 4] = [536, 1000, 1460, 8960];
    let mut c = TcpConfig {
        send_buffer: BUFS[rng.below(8) as usize],
        recv_buffer: BUFS[rng.below(8) as usize],
        mss: MSS[rng.below(4) as usize],
        nodelay: rng.below(2) == 0,
        ..cfg()
    };
    if options {
        c.sack = rng.below(4) != 0;
        c.timestamps = rng.below(4) != 0;
        c.window_scale = rng.below(4) != 0;
    }
    c
}

#[test]
fn receiver_avoids_silly_window_updates_rfc9293_3_8_6_2_2() {
    let small = TcpConfig {
        recv_buffer: 8192,
        ..cfg()
    };
    let mut sim = Sim::established(58, &cfg(), &small);
    sim.a().send(&pattern(0, 8192 + 3000)).unwrap();
    sim.run_for(Duration::from_millis(100));
    // Five full segments; the 952 bytes left of the window wait (the
    // sender's SWS rule).
    assert_eq!(sim.b().recv_queue(), 5 * 1448);
    let before = sim.segments(false).count();
    // Reading 100 bytes opens less than one MSS: no update.
    let mut buf = [0u8; 100];
    sim.b().recv(&mut buf).unwrap();
    sim.transmit();
    assert_eq!(sim.segments(false).count(), before);
    // Reading past an MSS does announce the window.
    let mut buf = [0u8; 2000];
    sim.b().recv(&mut buf).unwrap();
    sim.transmit();
    let upd: Vec<_> = sim.segments(false).skip(before).collect();
    assert_eq!(upd.len(), 1);
    assert!(upd[0].repr.window_len > 0);
}

#[test]
fn sender_avoids_silly_window_segments_rfc9293_3_8_6_2_1() {
    let mut sim = Sim::established(59, &cfg(), &cfg());
    // With data in flight, small writes wait (Nagle + SWS).
    sim.a().send(&[1; 2000]).unwrap();
    sim.transmit();
    for _ in 0..10 {
        sim.a().send(&[2; 10]).unwrap();
        sim.transmit();
    }
    let small = sim
        .segments(true)
        .filter(|s| s.len > 0 && s.len < 100)
        .count();
    assert_eq!(small, 0);
    sim.settle();
    assert_eq!(sim.b().recv_queue(), 2100);
}

#[test]
fn nagle_coalesces_small_writes_and_nodelay_does_not_rfc896_rfc9293_3_7_4() {
    for nodelay in [false, true] {
        let c = TcpConfig { nodelay, ..cfg() };
        let mut sim = Sim::established(60, &c, &cfg());
        for _ in 0..5 {
            sim.a().send(&[3; 10]).unwrap();
            sim.transmit();
        }
        sim.settle();
        let segs = sim.segments(true).filter(|s| s.len > 0).count();
        if nodelay {
            assert_eq!(segs, 5);
        } else {
            assert_eq!(segs, 2, "one now, the rest once the first is acked");
        }
        assert_eq!(sim.b().recv_queue(), 50);
    }
}

#[test]
fn delayed_ack_waits_for_timer_or_second_segment_rfc9293_3_8_6_3() {
    let mut sim = Sim::established(61, &cfg(), &cfg());
    sim.a().send(&[1; 100]).unwrap();
    let t0 = sim.now;
    sim.run_for(Duration::from_millis(200));
    let ack = sim.segments(false).find(|s| s.at > t0).unwrap().clone();
    // Arrives at +10 ms, ACKed 40 ms later.
    assert_eq!((ack.at - t0).total_millis(), 50);
    // Two full segments: ACKed at once.
    sim.a().send(&[1; 2896]).unwrap();
    let t1 = sim.now;
    sim.run_for(Duration::from_millis(200));
    let ack = sim.segments(false).find(|s| s.at > t1).unwrap().clone();
    assert_eq!((ack.at - t1).total_millis(), 10);
}

/// "Full" is the peer's segment size, not the MSS we announced: a peer
/// whose own MSS is smaller sends 988-byte segments to our 8960-byte
/// MSS, and a full one followed by a short one (the end of its write) is
/// acknowledged on arrival, as Linux does (its `rcv_mss` estimate) — held
/// for the timer, it fires the sender's loss probe, which with two
/// segments out allows no delayed-ACK time (RFC 8985 §7.2).
#[test]
fn a_full_segment_of_the_peers_size_and_a_short_one_are_acked_at_once_rfc9293_3_8_6_3() {
    // (No Nagle: the short segment goes with the full one.)
    let small = TcpConfig {
        mss: 1000,
        nodelay: true,
        ..cfg()
    };
    let big = TcpConfig { mss: 8960, ..cfg() };
    let mut sim = Sim::established(68, &small, &big);
    // Quick ACKs of the start spent.
    for _ in 0..20 {
        sim.a().send(&[1; 100]).unwrap();
        sim.run_for(Duration::from_millis(100));
    }
    sim.a().send(&[2; 1024]).unwrap();
    let t = sim.now;
    sim.run_for(Duration::from_millis(200));
    let data: Vec<_> = sim
        .segments(true)
        .filter(|s| s.at >= t && s.len > 0)
        .map(|s| s.len)
        .collect();
    assert_eq!(data, [988, 36]);
    let ack = sim.segments(false).find(|s| s.at > t).unwrap().clone();
    assert_eq!((ack.at - t).total_millis(), 10, "acknowledged on arrival");
    assert_eq!(sim.a().stats().retransmits, 0);
}

/// After a silence longer than the RTO (the sender most likely timed out
/// and restarts from one segment), lone segments are acknowledged at
/// once — as Linux's quick-ACK mode does — instead of on the delayed-ACK
/// timer, which would hold every round trip of the restart by 40 ms.
#[test]
fn lone_segments_after_a_silence_longer_than_the_rto_are_acked_at_once() {
    let mut sim = Sim::established(64, &cfg(), &cfg());
    sim.a().send(&[1; 100]).unwrap();
    sim.run_for(Duration::from_millis(100));
    // 2 s of silence (the RTO here is the 200 ms minimum).
    sim.run_for(Duration::from_secs(2));
    for i in 0..3 {
        sim.a().send(&[2; 100]).unwrap();
        let t = sim.now;
        sim.run_for(Duration::from_millis(100));
        let ack = sim.segments(false).find(|s| s.at > t).unwrap().clone();
        // Arrives at +10 ms and is answered on arrival.
        assert_eq!((ack.at - t).total_millis(), 10, "segment {i}");
    }
    // Data that keeps flowing is delayed as usual again once the quick
    // ACKs are spent (16, as Linux's TCP_MAX_QUICKACKS).
    for _ in 0..16 {
        sim.a().send(&[3; 100]).unwrap();
        sim.run_for(Duration::from_millis(100));
    }
    sim.a().send(&[4; 100]).unwrap();
    let t = sim.now;
    sim.run_for(Duration::from_millis(100));
    let ack = sim.segments(false).find(|s| s.at > t).unwrap().clone();
    assert_eq!((ack.at - t).total_millis(), 50);
}

#[test]
fn out_of_order_segment_is_acked_immediately_and_reassembled_rfc5681_4_2() {
    let mut sim = Sim::established(62, &cfg(), &cfg());
    let seq = sim.rcv_nxt(false);
    let ack = sim.snd_nxt(false);
    let r = |s: SeqNumber| {
        let mut r = sim.repr(true, TcpFlags::ACK, s, ack);
        r.window_len = 1000;
        r
    };
    let (r1, r2) = (r(seq), r(seq + 100));
    let before = sim.segments(false).count();
    sim.inject_data(true, &r2, &[2; 100]);
    sim.transmit();
    let out: Vec<_> = sim.segments(false).skip(before).cloned().collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].repr.ack_number, seq);
    assert_eq!(out[0].repr.sack_blocks.as_slice()[0].left, seq + 100);
    assert_eq!(sim.b().recv_queue(), 0);
    sim.inject_data(true, &r1, &[1; 100]);
    sim.transmit();
    assert_eq!(sim.b().recv_queue(), 200);
    let last = sim.segments(false).last().unwrap();
    assert_eq!(last.repr.ack_number, seq + 200);
    assert!(last.repr.sack_blocks.is_empty());
}

#[test]
fn reassembly_is_bounded_by_max_ranges_rfc9293_3_10_7_4() {
    let c = TcpConfig {
        max_ooo_ranges: 4,
        ..cfg()
    };
    let mut sim = Sim::established(63, &cfg(), &c);
    let seq = sim.rcv_nxt(false);
    let ack = sim.snd_nxt(false);
    for i in 0..50u32 {
        let mut r = sim.repr(true, TcpFlags::ACK, seq + 10 + i * 20, ack);
        r.window_len = 1000;
        sim.inject_data(true, &r, &[5; 10]);
    }
    assert_eq!(sim.b().recv_queue(), 0);
    // Then a real transfer still works.
    let (x, _) = transfer(&mut sim, 100_000, 0, Duration::from_secs(20));
    assert!(x == pattern(0, 100_000));
}

#[test]
fn window_scaling_allows_windows_beyond_64k_rfc7323_2() {
    let big = TcpConfig {
        send_buffer: 1 << 20,
        recv_buffer: 1 << 20,
        ..cfg()
    };
    let mut sim = Sim::established(64, &big, &big);
    let syn = sim.log[0].clone();
    assert_eq!(syn.repr.window_scale, Some(5));
    let (x, _) = transfer(&mut sim, 4 << 20, 0, Duration::from_secs(60));
    assert!(x == pattern(0, 4 << 20));
    // More than 64 KiB in flight at some point: windows bigger than the
    // 16-bit field were used.
    let max_win = sim
        .segments(false)
        .filter(|s| !s.has(TcpFlags::SYN))
        .map(|s| u32::from(s.repr.window_len) << 5)
        .max()
        .unwrap();
    assert!(max_win > 65535);
}

#[test]
fn sequence_numbers_wrap_around_rfc9293_3_4() {
    let mut sim = Sim::new(65);
    let mut rng = lamina_netbuf::SeededRng::new(1);
    sim.b.listener = Some(lamina_tcp::Listener::new(b_addr(), cfg(), 4, &mut rng));
    sim.a.conn = Some(Connection::connect(
        a_addr(),
        b_addr(),
        &cfg(),
        SeqNumber(u32::MAX - 5000),
        1460,
        sim.now,
    ));
    sim.run_until(sim.now + Duration::from_secs(2), |s| s.b.conn.is_some());
    let (x, y) = transfer(&mut sim, 1 << 20, 100_000, Duration::from_secs(60));
    assert!(x == pattern(0, 1 << 20));
    assert!(y == pattern(0, 100_000));
    assert_eq!(sim.a().stats().retransmits, 0);
}

// ---------------------------------------------------------------- timestamps, keepalive

#[test]
fn paws_drops_segments_with_old_timestamps_rfc7323_5() {
    let mut sim = Sim::established(66, &cfg(), &cfg());
    sim.a().send(b"hello").unwrap();
    sim.settle();
    let seq = sim.rcv_nxt(false);
    let ack = sim.snd_nxt(false);
    let last_ts = sim.segments(true).last().unwrap().repr.timestamps.unwrap();
    let mut r = sim.repr(true, TcpFlags::ACK | TcpFlags::PSH, seq, ack);
    r.window_len = 1000;
    r.timestamps = Some(Timestamps {
        tsval: last_ts.tsval.wrapping_sub(1000),
        tsecr: 0,
    });
    let before = sim.segments(false).count();
    sim.inject_data(true, &r, b"stale");
    sim.transmit();
    assert_eq!(sim.b().recv_queue(), 5, "old duplicate not accepted");
    assert_eq!(sim.b().stats().paws_rejected, 1);
    assert_eq!(
        sim.segments(false).count(),
        before + 1,
        "answered with an ACK"
    );
    // A fresh timestamp is accepted.
    r.timestamps = Some(Timestamps {
        tsval: last_ts.tsval.wrapping_add(1),
        tsecr: 0,
    });
    sim.inject_data(true, &r, b"fresh");
    assert_eq!(sim.b().recv_queue(), 10);
}

#[test]
fn rtt_is_measured_from_timestamps_rfc7323_4() {
    let mut sim = Sim::established(67, &cfg(), &cfg());
    let srtt0 = sim.a().rtt().srtt().unwrap();
    assert!(
        srtt0 <= Duration::from_millis(25),
        "handshake RTT 20 ms: {srtt0}"
    );
    sim.ab.delay = Duration::from_millis(50);
    sim.ba.delay = Duration::from_millis(50);
    let (x, _) = transfer(&mut sim, 400_000, 0, Duration::from_secs(30));
    assert_eq!(x.len(), 400_000);
    // Every sample is 100 ms; SRTT moves toward it by 1/8 per sample.
    let srtt = sim.a().rtt().srtt().unwrap();
    assert!(
        srtt >= Duration::from_millis(70) && srtt <= Duration::from_millis(100),
        "{srtt}"
    );
}

#[test]
fn keepalive_probes_idle_peer_and_times_out_when_silent_rfc9293_3_8_4() {
    let ka = Keepalive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    };
    let c = TcpConfig {
        keepalive: Some(ka),
        ..cfg()
    };
    let mut sim = Sim::established(68, &c, &cfg());
    // An answering peer keeps it alive.
    sim.run_for(Duration::from_secs(35));
    assert_eq!(sim.a().state(), State::Established);
    let probes = sim.a().stats().keepalive_probes;
    assert!(probes >= 3, "{probes}");
    // A silent peer: 3 probes then TimedOut.
    sim.ba.rule = Some(Box::new(|_| true));
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(60), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(sim.a().error(), Some(ConnError::TimedOut));
    assert_eq!(sim.a().stats().keepalive_probes, probes + 3);
}

/// Keepalive runs in FIN-WAIT-2 as well (RFC 9293 §3.8.4: any idle
/// synchronized connection; Linux probes in every state but SYN-SENT and
/// CLOSED): A shut down writing and waits for B's data and FIN, and B
/// vanished (its reset lost). Without probes A waited for ever; the
/// first probe draws a RST from B's host, which has no connection left
/// (found by the lamina-socket lifecycle scan).
#[test]
fn keepalive_finds_a_vanished_peer_from_fin_wait_2_rfc9293_3_8_4() {
    let c = TcpConfig {
        keepalive: Some(Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(2),
            count: 3,
        }),
        ..cfg()
    };
    let mut sim = Sim::established(69, &c, &cfg());
    sim.a().shutdown_write();
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.a().state(), State::FinWait2);
    // B's connection vanishes without a word reaching A.
    sim.b.conn = None;
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(60), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    assert_eq!(
        sim.a().error(),
        Some(ConnError::Reset),
        "{:?}",
        sim.a().state()
    );
    assert_eq!(sim.a().stats().keepalive_probes, 1);
    assert!(sim.now >= t0 + Duration::from_secs(9));
}

// ---------------------------------------------------------------- congestion control

#[test]
fn first_flight_is_ten_segments_rfc6928() {
    let mut sim = Sim::established(80, &cfg(), &cfg());
    sim.ab.rule = Some(Box::new(|_| true));
    sim.a().send(&pattern(0, 60_000)).unwrap();
    sim.transmit();
    let data: Vec<_> = sim.segments(true).filter(|s| s.len > 0).collect();
    assert_eq!(data.len(), 10);
    assert!(data.iter().all(|s| s.len == 1448));
    assert_eq!(sim.a().in_flight(), 14480);
}

#[test]
fn congestion_control_is_chosen_per_connection() {
    for (alg, name) in [
        (CcAlgorithm::Cubic, "cubic"),
        (CcAlgorithm::NewReno, "newreno"),
    ] {
        let c = TcpConfig { cc: alg, ..cfg() };
        let mut sim = Sim::established(81, &c, &cfg());
        assert_eq!(
            lamina_tcp::CongestionControl::name(sim.a().congestion()),
            name
        );
    }
}

#[test]
fn slow_start_grows_the_window_with_acks_rfc5681_3_1() {
    let mut sim = Sim::established(82, &cfg(), &cfg());
    let w0 = lamina_tcp::CongestionControl::window(sim.a().congestion());
    let (x, _) = transfer(&mut sim, 200_000, 0, Duration::from_secs(10));
    assert_eq!(x.len(), 200_000);
    let w1 = lamina_tcp::CongestionControl::window(sim.a().congestion());
    assert!(w1 > w0, "{w0} -> {w1}");
}

#[test]
fn shutdown_read_discards_data_but_keeps_acknowledging() {
    let mut sim = Sim::established(83, &cfg(), &cfg());
    sim.b().shutdown_read();
    let (_, _) = transfer(&mut sim, 100_000, 0, Duration::from_secs(10));
    assert_eq!(sim.b().recv_queue(), 0);
    assert!(sim.b().recv_finished());
    // A's data was all acknowledged.
    assert_eq!(sim.a().in_flight(), 0);
    assert_eq!(sim.a().send_queue(), 0);
}

/// One small exchange, so that the peer has announced its scaled window
/// (a changed window makes an ACK no duplicate, RFC 5681 §2).
fn warm_up(sim: &mut Sim) {
    sim.a().send(b"warm").unwrap();
    sim.settle();
    let mut buf = [0u8; 8];
    sim.b().recv(&mut buf).unwrap();
}

#[test]
fn limited_transmit_sends_new_data_on_the_first_two_dup_acks_rfc3042() {
    let c = TcpConfig {
        sack: false,
        nodelay: true,
        ..cfg()
    };
    let mut sim = Sim::established(84, &c, &c);
    warm_up(&mut sim);
    sim.ab.rule = Some(Box::new(|_| true));
    let una = sim.snd_nxt(true);
    sim.a().send(&pattern(0, 1448 * 20)).unwrap();
    sim.transmit();
    assert_eq!(sim.segments(true).filter(|s| s.len >= 1000).count(), 10);
    let seq = sim.snd_nxt(false);
    let win = sim.segments(false).last().unwrap().repr.window_len;
    let mut dup = sim.repr(false, TcpFlags::ACK, seq, una);
    dup.window_len = win;
    let count = |sim: &Sim| sim.segments(true).filter(|s| s.len >= 1000).count();
    for (i, expect_new) in [(1, 11), (2, 12)] {
        sim.inject(false, &dup);
        sim.transmit();
        assert_eq!(count(&sim), expect_new, "dup ACK {i}");
        let last = sim.segments(true).last().unwrap();
        assert!(
            last.repr.seq_number.gt(una),
            "new data, not a retransmission"
        );
    }
    sim.inject(false, &dup);
    sim.transmit();
    let last = sim
        .segments(true)
        .filter(|s| s.len >= 1000)
        .nth(12)
        .unwrap();
    assert_eq!(last.repr.seq_number, una, "third dup ACK: fast retransmit");
    assert_eq!(sim.a().stats().fast_retransmits, 1);
}

#[test]
fn early_retransmit_with_few_segments_outstanding_rfc5827() {
    let c = TcpConfig {
        sack: false,
        nodelay: true,
        ..cfg()
    };
    let mut sim = Sim::established(85, &c, &c);
    warm_up(&mut sim);
    drop_data_once(&mut sim, &[0]);
    sim.a().send(&pattern(0, 1448 * 3)).unwrap();
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 3
    });
    let st = *sim.a().stats();
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert_eq!(st.fast_retransmits, 1);
    assert!(sim.now - t0 < Duration::from_millis(100));
}

#[test]
fn lost_fast_retransmission_is_detected_by_later_sacks_rfc6675() {
    let mut sim = Sim::established(86, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    // The segment at offset 1448 is lost, and so is its first retransmission.
    drop_data_once(&mut sim, &[1448, 1448]);
    sim.a().send(&pattern(0, 1448 * 30)).unwrap();
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == 1448 * 30
    });
    let st = *sim.a().stats();
    assert_eq!(sim.b().recv_queue(), 1448 * 30);
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert!(
        sim.now - t0 < Duration::from_millis(200),
        "{}",
        sim.now - t0
    );
}

#[test]
fn transfer_survives_loss_reordering_duplication_and_corruption_at_once() {
    let mut sim = Sim::established(87, &cfg(), &cfg());
    for l in [&mut sim.ab, &mut sim.ba] {
        l.loss_ppm = 20_000;
        l.jitter = Duration::from_millis(4);
        l.dup_ppm = 10_000;
        l.corrupt_ppm = 10_000;
    }
    let (x, y) = transfer(&mut sim, 2 << 20, 512 << 10, Duration::from_secs(3000));
    assert!(x == pattern(0, 2 << 20));
    assert!(y == pattern(0, 512 << 10));
}

#[test]
fn closed_connection_does_not_wait_forever_in_fin_wait_2() {
    let mut sim = Sim::established(88, &cfg(), &cfg());
    sim.a().close();
    sim.settle();
    assert_eq!(sim.a().state(), State::FinWait2);
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(120), |s| {
        s.a.conn.as_ref().unwrap().is_closed()
    });
    let waited = sim.now - t0;
    assert!(waited <= Duration::from_secs(61), "{waited}");
    assert_eq!(sim.a().error(), None);
    // A half-close (shutdown_write only) keeps waiting: the application
    // still reads.
    let mut sim = Sim::established(89, &cfg(), &cfg());
    sim.a().shutdown_write();
    sim.run_for(Duration::from_secs(300));
    assert_eq!(sim.a().state(), State::FinWait2);
}

#[test]
fn time_wait_reuse_without_timestamps_needs_a_higher_sequence_rfc9293_3_6_1() {
    let c = TcpConfig {
        timestamps: false,
        ..cfg()
    };
    let mut sim = Sim::established(90, &c, &c);
    sim.b().close();
    sim.settle();
    sim.a().close();
    sim.settle();
    assert_eq!(sim.b().state(), State::TimeWait);
    let next = sim.snd_nxt(true);
    // A SYN below RCV.NXT does not reuse the tuple...
    let old = sim.repr(true, TcpFlags::SYN, next - 10, SeqNumber(0));
    let bytes = wire(&old, A_IP, B_IP);
    let seg = lamina_tcp::TcpSegment::parse(&bytes).unwrap();
    assert!(!sim.b().accepts_syn_for_reuse(&seg));
    // ...one above it does.
    let new = sim.repr(true, TcpFlags::SYN, next + 1000, SeqNumber(0));
    let bytes = wire(&new, A_IP, B_IP);
    let seg = lamina_tcp::TcpSegment::parse(&bytes).unwrap();
    assert!(sim.b().accepts_syn_for_reuse(&seg));
}

/// RFC 6675 §2 ("DupAck"): an ACK that does not advance SND.UNA but
/// reports new SACK information counts as a duplicate even when its
/// window changed (Linux moves the window in every one); three of them
/// start loss recovery at once rather than after a timeout.
#[test]
fn acks_with_new_sack_blocks_count_as_duplicates_whatever_their_window_rfc6675_2() {
    let mut sim = Sim::established(91, &cfg(), &cfg());
    // Everything A sends is lost: B will not answer by itself.
    sim.ab.rule = Some(Box::new(|s| s.len > 0));
    sim.a().set_nodelay(true);
    sim.a().send(&pattern(0, 8 * 1448)).unwrap();
    sim.transmit();
    let una = sim
        .segments(true)
        .find(|s| s.len > 0)
        .map(|s| s.repr.seq_number)
        .expect("data sent");
    let seq = sim.rcv_nxt(true);
    for i in 0..3u32 {
        let mut r = sim.repr(false, TcpFlags::ACK, seq, una);
        r.window_len = 20_000 + 100 * i as u16;
        r.sack_blocks = lamina_tcp::SackBlocks::from_slice(&[lamina_tcp::SackBlock {
            left: una + 1448 * (i + 1),
            right: una + 1448 * (i + 2),
        }])
        .unwrap();
        sim.inject(false, &r);
    }
    sim.transmit();
    let st = *sim.a().stats();
    assert_eq!(st.dup_acks, 3, "{st:?}");
    assert_eq!(st.fast_retransmits, 1, "{st:?}");
    assert_eq!(st.timeouts, 0);
}

/// RFC 9293 §3.10.7.4 as Linux applies it: an empty segment exactly at
/// the right edge of our window is processed and its acknowledgment
/// taken. A peer that sent a window's worth of data (lost on the way)
/// sends its ACKs there; dropping them as out of window stalled transfers
/// against Linux.
#[test]
fn an_ack_at_the_right_edge_of_the_window_is_taken() {
    let small = TcpConfig {
        recv_buffer: 4096,
        ..cfg()
    };
    let mut sim = Sim::established(92, &small, &cfg());
    // A's advertised window (unscaled with so small a buffer).
    let wnd = sim
        .segments(true)
        .last()
        .map(|s| u32::from(s.repr.window_len))
        .expect("A spoke");
    assert!(wnd > 0);
    // A sends data, which B never receives.
    sim.ab.rule = Some(Box::new(|_| true));
    sim.a().send(&pattern(0, 1000)).unwrap();
    sim.transmit();
    assert!(sim.a().in_flight() > 0);
    // B's ACK of it, sequenced after a window's worth of B's own data.
    let edge = sim.rcv_nxt(true) + wnd;
    let r = sim.repr(false, TcpFlags::ACK, edge, sim.snd_nxt(true));
    sim.inject(false, &r);
    assert_eq!(
        sim.a().in_flight(),
        0,
        "the ACK at the right edge was taken"
    );
}

/// RFC 8985 §7 (tail loss probe): when the last segments of a burst are
/// lost, nothing comes back to trigger fast retransmit; a probe after two
/// round trips draws a SACK that reveals the loss, and recovery repairs
/// it long before the retransmission timer would.
#[test]
fn a_tail_loss_is_repaired_by_a_probe_not_a_timeout_rfc8985_7() {
    let mut sim = Sim::established(93, &cfg(), &cfg());
    // Teach the RTT estimator first.
    sim.a().send(&pattern(0, 20_000)).unwrap();
    sim.settle();
    let base = sim.b().recv_queue();
    // Of the next six segments, the last two are lost.
    let mut n = 0;
    sim.ab.rule = Some(Box::new(move |s| {
        if s.len > 0 {
            n += 1;
            n > 4 && n <= 6
        } else {
            false
        }
    }));
    sim.a().set_nodelay(true);
    sim.a().send(&pattern(20_000, 6 * 1448)).unwrap();
    let t0 = sim.now;
    sim.run_until(t0 + Duration::from_secs(5), |s| {
        s.b.conn.as_ref().unwrap().recv_queue() == base + 6 * 1448
    });
    let st = *sim.a().stats();
    assert_eq!(sim.b().recv_queue(), base + 6 * 1448);
    assert_eq!(st.timeouts, 0, "{st:?}");
    assert!(
        sim.now - t0 < Duration::from_millis(150),
        "{:?}",
        sim.now - t0
    );
}

/// RFC 9293 §3.8.6 / §3.10.7.4: an ACK that moves SND.UNA on an older
/// segment of the peer's (its retransmission, SEG.SEQ < SND.WL1) brings
/// its window, as in Linux: the send window counts from that ACK, never
/// from an older one. (Once the window was kept from the older ACK while
/// SND.UNA moved, so data went past every edge the peer offered. Found
/// by the `tcp_conn` fuzz target.)
#[test]
fn an_ack_moving_snd_una_on_an_older_segment_brings_its_window() {
    let c = TcpConfig {
        timestamps: false,
        sack: false,
        window_scale: false,
        nodelay: true,
        ..cfg()
    };
    // B's buffer (400 bytes) makes a 200-byte window worth sending into
    // (sender-side SWS avoidance wants half the largest window offered).
    let cb = TcpConfig {
        recv_buffer: 400,
        ..c.clone()
    };
    let mut sim = Sim::established(58, &c, &cb);
    // From here on B is played by hand.
    sim.ba.rule = Some(Box::new(|_| true));
    sim.ab.rule = Some(Box::new(|_| true));
    let a0 = sim.snd_nxt(true);
    let s = sim.snd_nxt(false);
    // B offers a window of 200 bytes.
    let mut w = sim.repr(false, TcpFlags::ACK, s, a0);
    w.window_len = 200;
    sim.inject(false, &w);
    sim.a().send(&pattern(0, 2000)).unwrap();
    sim.transmit();
    sim.run_for(Duration::from_millis(1));
    // B's second data segment arrives first (out of order): it
    // acknowledges 100 bytes and offers 300 more (edge a0+400, and A
    // sends up to it); SND.WL1 becomes S+10.
    let mut r2 = sim.repr(false, TcpFlags::ACK | TcpFlags::PSH, s + 10, a0 + 100);
    r2.window_len = 300;
    sim.inject_data(false, &r2, &[2; 10]);
    sim.run_for(Duration::from_millis(1));
    // Then its first segment (seq S < SND.WL1), which fills the hole,
    // acknowledges all 400 bytes and offers 200 more: edge a0+600.
    let mut r1 = r2;
    r1.seq_number = s;
    r1.ack_number = a0 + 400;
    r1.window_len = 200;
    sim.inject_data(false, &r1, &[1; 10]);
    sim.run_for(Duration::from_millis(50));
    let sent: Vec<_> = sim
        .segments(true)
        .filter(|x| x.len > 0)
        .map(|x| ((x.repr.seq_number - a0) as u32, x.len))
        .collect();
    assert!(
        sent.iter().all(|&(o, l)| o + l as u32 <= 600),
        "sent beyond the offered edge a0+600: {sent:?}"
    );
    assert_eq!(sent.iter().map(|&(_, l)| l).sum::<usize>(), 600, "{sent:?}");
}

/// RFC 9293 §3.10.7.4: a zero-length segment is acceptable only at or
/// after the receiver's RCV.NXT. After a retransmission timeout rewinds
/// SND.NXT, a pure ACK must still carry the highest sequence number sent
/// (as Linux's do): the peer may hold everything up to it, and would
/// drop an ACK numbered at the rewound SND.NXT unread. (Two sides in
/// timeout recovery once dropped each other's ACKs for ever. Found by the
/// `tcp_conn` fuzz target.)
#[test]
fn a_pure_ack_after_a_timeout_carries_the_highest_sequence_sent_rfc9293_3_10_7_4() {
    let mut sim = Sim::established(59, &cfg(), &cfg());
    sim.a().set_nodelay(true);
    // B receives everything, but its ACKs are lost: A times out, rewinds
    // SND.NXT and resends the first segment.
    sim.ba.rule = Some(Box::new(|_| true));
    let a0 = sim.snd_nxt(true);
    let s = sim.snd_nxt(false);
    sim.a().send(&pattern(0, 1448 * 4)).unwrap();
    sim.transmit();
    sim.run_for(Duration::from_millis(250));
    assert_eq!(sim.a().stats().timeouts, 1);
    let top = a0 + 1448 * 4;
    // Data from B that acknowledges nothing new arrives; A answers with a
    // pure ACK (delayed; its window for new data is full).
    let before = sim.segments(true).count();
    let mut r = sim.repr(false, TcpFlags::ACK | TcpFlags::PSH, s, a0);
    r.window_len = 65535;
    sim.inject_data(false, &r, &[9; 10]);
    sim.run_for(Duration::from_millis(250));
    let acks: Vec<_> = sim
        .segments(true)
        .skip(before)
        .filter(|x| x.len == 0)
        .map(|x| x.repr.seq_number)
        .collect();
    assert!(!acks.is_empty());
    assert!(
        acks.iter().all(|&q| q == top),
        "pure ACKs numbered {acks:?}, highest sent {top:?}"
    );
}

/// RFC 9293 §3.1: a segment written with its payload in two pieces (a
/// send buffer's wrap), each of any length, odd or even, short or long
/// (the copy that sums takes over from 256 bytes), carries the checksum
/// of its bytes: the receiving side verifies it over the whole segment,
/// and the payload arrives as the pieces in order. With the checksum left
/// to the device, the field holds the pseudo-header's sum, as
/// `write_header` writes it.
#[test]
fn a_segment_written_from_two_pieces_checksums_every_byte_rfc9293_3_1() {
    use lamina_tcp::{ChecksumMode, Outgoing, TcpSegment};
    use std::net::Ipv4Addr;
    let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 29 + 11) as u8).collect();
    let repr = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq_number: SeqNumber(7),
        ack_number: SeqNumber(9),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 1000,
        timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
        ..TcpRepr::default()
    };
    let mut buf = vec![0u8; 4000];
    let mut header_only = vec![0u8; 100];
    for (x, y) in [
        (0, 0),
        (1, 0),
        (0, 1),
        (1, 1),
        (3, 254),
        (255, 1),
        (256, 0),
        (257, 300),
        (1, 1459),
        (1000, 461),
        (1448, 0),
        (731, 733),
    ] {
        let out = Outgoing {
            repr,
            payload: (&data[..x], &data[x..x + y]),
            shared: None,
        };
        let n = out.write(a, b, &mut buf, ChecksumMode::Compute);
        assert_eq!(n, out.len(), "{x}+{y}");
        let seg = TcpSegment::parse_verified(&buf[..n], a, b)
            .unwrap_or_else(|e| panic!("{x}+{y}: {e:?}"));
        assert_eq!(seg.payload(), &data[..x + y], "{x}+{y}");
        // Offload: the pseudo-header's sum, what the header alone gets.
        let n = out.write(a, b, &mut buf, ChecksumMode::Offload);
        let h = out.write_header(a, b, &mut header_only, ChecksumMode::Offload);
        assert_eq!(buf[..h], header_only[..h], "{x}+{y} offload header");
        assert_eq!(&buf[h..n], &data[..x + y], "{x}+{y} offload payload");
    }
}

/// A duplicate of data received since our last ACK — a tail loss probe
/// that raced our delayed ACK — is taken for its ACK field (its data is
/// old): what it acknowledges of ours is released at once, not after our
/// RTO. As Linux accepts from `rcv_wup`; a duplicate of data older than
/// our last ACK, or data beyond the window, still is not (RFC 9293
/// §3.10.7.4, RFC 5961 §5.2).
#[test]
fn a_duplicate_since_our_last_ack_still_acknowledges_rfc9293_3_10_7_4() {
    let no_ts = TcpConfig {
        timestamps: false,
        ..cfg()
    };
    let mut sim = Sim::established(61, &no_ts, &no_ts);
    // B sends 300 bytes, which A has not acknowledged yet.
    assert_eq!(sim.b().send(&[7; 300]), Ok(300));
    sim.transmit();
    let b_una = sim.rcv_nxt(true);
    let b_nxt = sim.snd_nxt(false);
    assert_eq!(b_nxt - b_una, 300);
    assert_eq!(sim.b().send_queue(), 300);
    // A's 100 bytes reach B (B's ACK for them is delayed: not sent).
    let seq = sim.rcv_nxt(false);
    let d1 = sim.repr(true, TcpFlags::ACK | TcpFlags::PSH, seq, b_una);
    sim.inject_data(true, &d1, &[1; 100]);
    assert_eq!(sim.b().recv_queue(), 100);
    // A's probe: the same 100 bytes, now acknowledging B's 300.
    let probe = sim.repr(true, TcpFlags::ACK | TcpFlags::PSH, seq, b_nxt);
    sim.inject_data(true, &probe, &[1; 100]);
    assert_eq!(
        sim.b().send_queue(),
        0,
        "B's data acknowledged by the probe"
    );
    assert_eq!(sim.b().recv_queue(), 100, "the duplicate data is dropped");
    assert_eq!(sim.b().stats().unacceptable, 0);
    // Ending before B's last ACK (sent now, for all 100 bytes): dropped
    // whole, as before.
    sim.transmit();
    assert_eq!(sim.b().send(&[8; 50]), Ok(50));
    sim.transmit();
    let b_nxt2 = sim.snd_nxt(false);
    let old = sim.repr(true, TcpFlags::ACK, seq, b_nxt2);
    sim.inject_data(true, &old, &[1; 60]);
    assert_eq!(
        sim.b().send_queue(),
        50,
        "an ACK on data before our last ACK is not taken"
    );
    assert_eq!(sim.b().stats().unacceptable, 1);
}

/// The FIN takes a place in the peer's window as a byte of data does:
/// data that fills the window to its edge goes without it, and the FIN
/// follows once the window opens. Sent past the edge, the ACKs after it
/// lie past the edge too, and a stateful firewall between the hosts
/// (Linux's conntrack) finds them invalid — a port-forwarding router
/// then answers them itself, with a reset (found by the lifecycle scan
/// through port forwarding).
#[test]
fn the_fin_waits_for_room_in_the_peers_window_rfc9293_3_8_6() {
    let plain = TcpConfig {
        window_scale: false,
        ..cfg()
    };
    let small = TcpConfig {
        recv_buffer: 4096,
        window_scale: false,
        ..cfg()
    };
    let mut sim = Sim::established(62, &plain, &small);
    let data = pattern(0, 4096);
    assert_eq!(sim.a().send(&data), Ok(4096));
    sim.a().shutdown_write();
    sim.run_for(Duration::from_millis(500));
    assert_eq!(sim.b().recv_queue(), 4096, "the data fills B's window");
    assert!(
        !sim.segments(true).any(|s| s.has(TcpFlags::FIN)),
        "no FIN past the window's edge"
    );
    let mut buf = vec![0u8; 8192];
    assert_eq!(sim.b().recv(&mut buf), Ok(4096));
    sim.run_for(Duration::from_millis(500));
    assert!(sim.segments(true).any(|s| s.has(TcpFlags::FIN)));
    assert!(
        sim.b().recv_finished(),
        "B has the FIN: {:?}",
        sim.b().state()
    );
}
