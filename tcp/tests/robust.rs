//! Hostile input: arbitrary segments (random flags, numbers near and far
//! from the windows, options, payloads) thrown at a connection in every
//! state never panic, never loop, and leave memory bounded (RFC 9293
//! §3.10.7 must hold for any input; RFC 5961 for blind attacks).

mod common;

use common::*;
use lamina_netbuf::{Duration, Rng, SeededRng};
use lamina_tcp::{
    ChecksumMode, Connection, SackBlock, SackBlocks, SeqNumber, State, TcpConfig, TcpFlags,
    TcpRepr, TcpSegment, Timestamps,
};

fn cfg() -> TcpConfig {
    TcpConfig {
        recv_buffer: 16 * 1024,
        send_buffer: 16 * 1024,
        ..TcpConfig::default()
    }
}

/// A random segment from B to A, often near A's windows.
fn random_segment(rng: &mut SeededRng, rcv: SeqNumber, snd: SeqNumber) -> (TcpRepr, Vec<u8>) {
    let near = |rng: &mut SeededRng, base: SeqNumber| match rng.below(4) {
        0 => SeqNumber(rng.next_u32()),
        1 => base,
        _ => base + rng.in_range(0, 70_000).wrapping_sub(35_000),
    };
    let mut r = TcpRepr {
        src_port: 80,
        dst_port: 40000,
        seq_number: near(rng, rcv),
        ack_number: near(rng, snd),
        flags: TcpFlags::from_bits_truncate(rng.next_u32() as u16),
        window_len: rng.next_u32() as u16,
        ..TcpRepr::default()
    };
    if rng.below(4) == 0 {
        r.flags = TcpFlags::ACK;
    }
    if r.seq_number == rcv {
        // An exact RST ends the connection (tested elsewhere); keep going.
        r.flags.remove(TcpFlags::RST);
    }
    if rng.below(3) == 0 {
        r.timestamps = Some(Timestamps {
            tsval: rng.next_u32(),
            tsecr: rng.next_u32(),
        });
    }
    if rng.below(5) == 0 {
        r.max_seg_size = Some(rng.next_u32() as u16);
        r.window_scale = Some(rng.below(20) as u8);
        r.sack_permitted = true;
    } else if rng.below(3) == 0 {
        let mut b = SackBlocks::new();
        for _ in 0..rng.in_range(1, 3) {
            let left = near(rng, snd);
            let _ = b.push(SackBlock {
                left,
                right: left + rng.below(5000),
            });
        }
        r.sack_blocks = b;
    }
    let len = match rng.below(3) {
        0 => 0,
        1 => rng.below(100) as usize,
        _ => rng.below(1460) as usize,
    };
    let payload = (0..len).map(|_| rng.next_u32() as u8).collect();
    (r, payload)
}

fn hammer(mut sim: Sim, seed: u64, rounds: usize) -> usize {
    let mut rng = SeededRng::new(seed);
    let mut buf = vec![0u8; 70_000];
    let mut sink = vec![0u8; 4096];
    for round in 0..rounds {
        let Some(c) = sim.a.conn.as_mut() else {
            return round;
        };
        if c.is_closed() {
            if c.error() == Some(lamina_tcp::ConnError::TimedOut) {
                // Data the random ACKs never covered: a legitimate end.
                return rounds;
            }
            return round;
        }
        let rcv = sim
            .log
            .iter()
            .rfind(|s| s.from_a)
            .map_or(SeqNumber(0), |s| s.repr.ack_number);
        let snd = sim
            .log
            .iter()
            .rfind(|s| s.from_a)
            .map_or(SeqNumber(0), |s| s.repr.seq_number);
        let (r, payload) = random_segment(&mut rng, rcv, snd);
        let out = lamina_tcp::Outgoing {
            repr: r,
            payload: (&payload, &[]),
            shared: None,
        };
        let n = out.write(B_IP, A_IP, &mut buf, ChecksumMode::Compute);
        let seg = TcpSegment::parse_verified(&buf[..n], B_IP, A_IP).expect("valid");
        let c = sim.a.conn.as_mut().unwrap();
        c.on_segment(&seg, sim.now);
        match rng.below(6) {
            0 => {
                let _ = c.send(&sink[..rng.below(3000) as usize]);
            }
            1 => {
                let _ = c.recv(&mut sink);
            }
            2 => sim.now += Duration::from_millis(u64::from(rng.below(3000))),
            _ => {}
        }
        let c = sim.a.conn.as_mut().unwrap();
        let mut k = 0;
        while let Some(o) = c.poll_transmit(sim.now) {
            let len = o.len();
            let n = o.write(A_IP, B_IP, &mut buf, ChecksumMode::Compute);
            assert_eq!(n, len);
            TcpSegment::parse_verified(&buf[..n], A_IP, B_IP).expect("we emit valid segments");
            k += 1;
            assert!(k < 200, "poll_transmit does not stop");
        }
        assert!(c.recv_queue() <= 16 * 1024);
        assert!(c.send_queue() <= 16 * 1024);
        let _ = c.poll_at();
    }
    rounds
}

type Setup = fn(&mut Sim);

#[test]
fn arbitrary_segments_never_break_a_connection_in_any_state_rfc9293_3_10_7() {
    let setups: [(State, Setup); 8] = [
        (State::Established, |_| {}),
        (State::FinWait1, |s| {
            s.ba.rule = Some(Box::new(|_| true));
            s.a().close();
            s.transmit();
        }),
        (State::FinWait2, |s| {
            s.a().close();
            s.settle();
        }),
        (State::CloseWait, |s| {
            s.b().close();
            s.settle();
        }),
        (State::Closing, |s| {
            s.ba.rule = Some(Box::new(|seg| !seg.has(TcpFlags::FIN)));
            s.ab.rule = Some(Box::new(|seg| !seg.has(TcpFlags::FIN)));
            s.a().close();
            s.b().close();
            s.transmit();
            s.ab.rule = Some(Box::new(|_| true));
            s.run_for(Duration::from_millis(50));
        }),
        (State::LastAck, |s| {
            s.b().close();
            s.settle();
            s.ab.rule = Some(Box::new(|_| true));
            s.a().close();
            s.transmit();
        }),
        (State::TimeWait, |s| {
            s.a().close();
            s.settle();
            s.b().close();
            s.settle();
        }),
        (State::Established, |s| {
            // With data in flight and out-of-order data held.
            s.ab.rule = Some(Box::new(|_| true));
            let _ = s.a().send(&[1; 10_000]);
            s.transmit();
        }),
    ];
    for (i, (state, setup)) in setups.into_iter().enumerate() {
        let mut sim = Sim::established(100 + i as u64, &cfg(), &cfg());
        setup(&mut sim);
        assert_eq!(sim.a().state(), state);
        let n = hammer(sim, 1000 + i as u64, 4000);
        if matches!(state, State::Established | State::CloseWait) {
            // Nothing but an exact RST or a retransmission timeout may end
            // these (the others close legitimately when a random ACK
            // covers their FIN).
            assert_eq!(n, 4000, "{state}: closed after {n} segments");
        }
    }
}

#[test]
fn arbitrary_segments_never_break_the_handshake_states_rfc9293_3_10_7_3() {
    for seed in 0..20u64 {
        let mut sim = Sim::new(seed);
        sim.a.conn = Some(Connection::connect(
            a_addr(),
            b_addr(),
            &cfg(),
            SeqNumber(seed as u32 * 77),
            1460,
            sim.now,
        ));
        sim.transmit();
        let _ = hammer(sim, seed, 300);
    }
}

#[test]
fn blind_in_window_attacks_do_not_break_a_transfer_rfc5961() {
    let mut sim = Sim::established(120, &cfg(), &cfg());
    let mut rng = SeededRng::new(3);
    let mut sent = 0usize;
    let mut got = Vec::new();
    let total = 300_000;
    let mut buf = vec![0u8; 16384];
    let deadline = sim.now + Duration::from_secs(60);
    let mut attacks = 0;
    sim.run_until(deadline, |s| {
        // A blind attacker knows the ports, not the numbers: RST, SYN and
        // data with random sequence numbers.
        if rng.below(4) == 0 {
            attacks += 1;
            let flags = [TcpFlags::RST, TcpFlags::SYN, TcpFlags::ACK][rng.below(3) as usize];
            let r = s.repr(
                false,
                flags,
                SeqNumber(rng.next_u32()),
                SeqNumber(rng.next_u32()),
            );
            s.inject_data(
                false,
                &r,
                if flags == TcpFlags::ACK { b"evil" } else { b"" },
            );
        }
        let a = s.a.conn.as_mut().unwrap();
        while sent < total {
            match a.send(&pattern(sent, (total - sent).min(4096))) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        let b = s.b.conn.as_mut().unwrap();
        while let Ok(n @ 1..) = b.recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == total
    });
    assert!(attacks > 10);
    assert_eq!(sim.a().state(), State::Established);
    assert!(got == pattern(0, total));
}
