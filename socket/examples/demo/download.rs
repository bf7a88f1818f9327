//! The bulk download: the WAN server sends a pseudo-random stream to the
//! LAN host over lossy links, both ends hash it.

use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::{Duration, Rng, SeededRng};
use lamina_socket::tcp_proto::{ConnStats, TcpConfig};
use lamina_socket::{Error, Shutdown, SocketHandle, TcpSocket};
use sha2::{Digest, Sha256};

use crate::net::{Net, WAN_HOST, rng};
use crate::report::{self, Progress};
use crate::scenes::{Out, Res, since};

/// A pseudo-random byte stream (from the seed), hashed as it is made.
struct Source {
    rng: SeededRng,
    left: u64,
    chunk: Vec<u8>,
    at: usize,
    hash: Sha256,
}

impl Source {
    /// The bytes not yet sent of the current chunk, making the next one
    /// when it is used up; empty at the end.
    fn pending(&mut self) -> &[u8] {
        if self.at >= self.chunk.len() && self.left > 0 {
            let n = self.left.min(256 * 1024) as usize;
            self.chunk.resize(n, 0);
            self.rng.fill_bytes(&mut self.chunk);
            self.hash.update(&self.chunk);
            self.left -= n as u64;
            self.at = 0;
        }
        self.chunk.get(self.at..).unwrap_or_default()
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bulk download: `size` bytes from the WAN server to the LAN host
/// over links that lose and reorder frames, checked by SHA-256 computed
/// on both ends.
pub fn download(
    net: &mut Net,
    out: &mut Out,
    size: u64,
    seed: u64,
    loss: f64,
    progress: &mut Progress,
) -> Res<String> {
    let config = TcpConfig {
        send_buffer: 1 << 20,
        recv_buffer: 1 << 20,
        ..TcpConfig::default()
    };
    let listener = net.wan.sockets.add(TcpSocket::new(config.clone()))?;
    net.wan
        .sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)?;
    let client = net.lan.sockets.add(TcpSocket::new(config))?;
    net.lan
        .sockets
        .connect_tcp(client, SocketAddrV4::new(WAN_HOST, 80), None)?;

    let mut src = Source {
        rng: rng(seed, 99),
        left: size,
        chunk: Vec::new(),
        at: 0,
        hash: Sha256::new(),
    };
    let mut sink = Sha256::new();
    let (mut got, mut eof, mut failure) = (0u64, false, None::<String>);
    let (mut server, mut shut) = (None, false);
    let mut buf = vec![0u8; 256 * 1024];
    let mut conntrack = String::new();
    let start = net.now;
    let wall = std::time::Instant::now();
    let mut calls = 0u32;
    let finished = net.run_until(Duration::from_secs(24 * 3600), |n| {
        if server.is_none() {
            server = n.wan.sockets.accept_tcp(listener).ok();
            if server.is_some() {
                conntrack = crate::tables::conntrack(n);
            }
        }
        if let Some(s) = server.and_then(|h| n.wan.sockets.tcp(h).ok()) {
            loop {
                let data = src.pending();
                if data.is_empty() {
                    if !shut {
                        shut = s.shutdown(Shutdown::Write).is_ok();
                    }
                    break;
                }
                match s.send(data) {
                    Ok(k) => src.at += k,
                    Err(Error::WouldBlock) => break,
                    Err(e) => {
                        failure = Some(format!("server send: {e}"));
                        return true;
                    }
                }
            }
        }
        if let Ok(c) = n.lan.sockets.tcp(client) {
            loop {
                match c.recv(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(k) => {
                        sink.update(&buf[..k]);
                        got += k as u64;
                    }
                    Err(Error::WouldBlock) => break,
                    Err(e) => {
                        failure = Some(format!("client recv: {e}"));
                        return true;
                    }
                }
            }
        }
        calls = calls.wrapping_add(1);
        if calls.is_multiple_of(64) {
            let (now, stats) = (n.now, server_stats(n, server));
            progress.update(|| {
                let sim = since(now, start).total_micros() as f64 / 1e6;
                format!(
                    "    download {} / {} ({:.0}%)  simulated {sim:.1} s, {}  wall {:.1} s  retransmits {}",
                    report::bytes(got),
                    report::bytes(size),
                    if size == 0 { 100.0 } else { got as f64 * 100.0 / size as f64 },
                    report::bit_rate(got, sim),
                    wall.elapsed().as_secs_f64(),
                    stats.map_or(0, |s| s.retransmits)
                )
            });
        }
        eof
    })?;
    progress.clear();
    let sim = since(net.now, start);
    let wall = wall.elapsed().as_secs_f64();
    let sent_hash = src.hash.finalize();
    let got_hash = sink.finalize();
    let sender = server_stats(net, server);
    let receiver = net
        .lan
        .sockets
        .tcp(client)
        .ok()
        .and_then(|c| c.connection())
        .map(|c| *c.stats());
    let (srtt, mss) = server
        .and_then(|h| net.wan.sockets.tcp(h).ok())
        .and_then(|s| s.connection())
        .map_or((None, 0), |c| (c.rtt().srtt(), c.mss()));
    if let Some(f) = &failure {
        out.say(format!("    the download failed: {f}"));
    }
    let sim_s = sim.total_micros() as f64 / 1e6;
    out.say(format!(
        "    {} received in {} of simulated time = {} (simulated throughput)",
        report::bytes(got),
        report::secs(sim),
        report::bit_rate(got, sim_s)
    ));
    out.say(format!(
        "    wall clock: {wall:.2} s = {} ({} of simulated traffic per wall second; \
         this machine ran all three nodes)",
        report::mib_rate(got, wall),
        report::bit_rate(got, wall)
    ));
    out.say(format!("    SHA-256 sent     {}", hex(&sent_hash)));
    out.say(format!("    SHA-256 received {}", hex(&got_hash)));
    if let Some(s) = sender {
        out.say(format!(
            "    sender: {} segments, {} retransmitted ({} fast retransmits, {} SACK recoveries, \
             {} timeouts); smoothed RTT {}",
            s.segments_out,
            s.retransmits,
            s.fast_retransmits,
            s.sack_recoveries,
            s.timeouts,
            srtt.map_or("-".into(), report::ms)
        ));
    }
    // Mathis, Semke, Mahdavi, Ott (1997): the rate TCP sustains under
    // random loss p is about MSS / RTT * sqrt(3/2) / sqrt(p). The data
    // crosses both lossy links.
    let p = 1.0 - (1.0 - loss) * (1.0 - loss);
    if let Some(rtt) = srtt.filter(|_| p > 0.0 && mss > 0) {
        let rtt_s = rtt.total_micros() as f64 / 1e6;
        let bound = f64::from(mss) / rtt_s * 1.5f64.sqrt() / p.sqrt();
        out.say(format!(
            "    for comparison, the Mathis et al. estimate of TCP's rate under random loss, \
             MSS/RTT x sqrt(3/2)/sqrt(p) with MSS {mss}, RTT {}, p = {:.1}% over both links: {}",
            report::ms(rtt),
            p * 100.0,
            report::bit_rate(bound as u64, 1.0)
        ));
    }
    if let (Some(r), Some(s)) = (receiver, sender) {
        out.say(format!(
            "    receiver: {} segments, {} of them out of order; the sender got {} duplicate ACKs",
            r.segments_in, r.out_of_order, s.dup_acks
        ));
    }
    let intact = finished && failure.is_none() && got == size && sent_hash == got_hash;
    out.check(
        &format!("{} download, SHA-256", report::bytes(size)),
        intact,
        match &failure {
            Some(f) => f.clone(),
            None => format!(
                "{} of {} bytes, sha256 {}… {}",
                got,
                size,
                hex(&got_hash[..8]),
                if sent_hash == got_hash {
                    "matches the sender's"
                } else {
                    "DIFFERS from the sender's"
                }
            ),
        },
    );
    out.figure(
        "  throughput",
        format!(
            "simulated {} ({} sim); wall {} ({wall:.2} s wall)",
            report::bit_rate(got, sim_s),
            report::secs(sim),
            report::mib_rate(got, wall)
        ),
    );
    out.figure(
        "  retransmissions",
        sender.map_or("-".into(), |s| {
            format!(
                "{} of {} segments ({} fast, {} SACK recoveries, {} RTO)",
                s.retransmits, s.segments_out, s.fast_retransmits, s.sack_recoveries, s.timeouts
            )
        }),
    );
    // Close properly: the client's FIN answers the server's.
    let _ = net.lan.sockets.close_tcp(client);
    if let Some(s) = server {
        let _ = net.wan.sockets.close_tcp(s);
    }
    net.wan.sockets.remove(listener);
    Ok(conntrack)
}

fn server_stats(net: &mut Net, server: Option<SocketHandle>) -> Option<ConnStats> {
    server
        .and_then(|h| net.wan.sockets.tcp(h).ok())
        .and_then(|s| s.connection())
        .map(|c| *c.stats())
}
