//! What the demo shows, one function per scene. Each prints what it did
//! (unless quiet) and records its checks.

use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_icmp::IcmpErrorKind;
use lamina_ipv4::IfaceId;
use lamina_netbuf::{Duration, Instant};
use lamina_socket::tcp_proto::ConnError;
use lamina_socket::{Error, IcmpSocket, Shutdown, TcpSocket, UdpSocket};

use crate::net::{
    BLOCKED_TCP_PORT, BLOCKED_UDP_PORT, FORWARDED_PORT, LAN_HOST, Net, ROUTER_LAN, ROUTER_WAN,
    WAN_HOST,
};
use crate::report;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One line of the final summary.
pub struct Check {
    pub what: String,
    pub ok: Option<bool>,
    pub detail: String,
}

/// The narrative (unless quiet) and the summary lines.
pub struct Out {
    pub quiet: bool,
    pub checks: Vec<Check>,
}

impl Out {
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            report::line(line);
        }
    }

    /// A pass/fail line of the summary.
    pub fn check(&mut self, what: &str, ok: bool, detail: String) {
        if !ok {
            self.say(format!("    FAILED: {what}: {detail}"));
        }
        self.checks.push(Check {
            what: what.into(),
            ok: Some(ok),
            detail,
        });
    }

    /// A figure of the summary, not a check.
    pub fn figure(&mut self, what: &str, detail: String) {
        self.checks.push(Check {
            what: what.into(),
            ok: None,
            detail,
        });
    }
}

/// How long after `t` it is at `now`.
pub fn since(now: Instant, t: Instant) -> Duration {
    now.saturating_duration_since(t)
}

fn usable(net: &Net, host: Which, iface: IfaceId, ip: Ipv4Addr) -> bool {
    let cache = match host {
        Which::Lan => net.lan.iface.neighbors(iface),
        Which::Router => net.router.iface.neighbors(iface),
    };
    cache
        .and_then(|c| c.state(ip))
        .is_some_and(|s| s.is_usable())
}

#[derive(Clone, Copy)]
enum Which {
    Lan,
    Router,
}

/// ARP resolution and four pings from the LAN host to the WAN server,
/// through the NAT, one second apart.
pub fn ping(net: &mut Net, out: &mut Out) -> Res<()> {
    out.say("[1] ARP and ping: 192.0.2.10 -> 198.51.100.1 through the NAT (clean links)");
    let s = net.lan.sockets.add(IcmpSocket::default())?;
    let ident = net.lan.sockets.bind_icmp(s, Some(0x4c4d))?;
    let data: Vec<u8> = (0..56u8).collect();
    let start = net.now;
    let (mut arp_lan, mut arp_router) = (None, None);
    let mut rtts = Vec::new();
    for seq in 1..=4u16 {
        let sent = net.now;
        net.lan.sockets.icmp(s)?.send_echo(WAN_HOST, seq, &data)?;
        let mut reply = None;
        net.run_until(Duration::from_secs(1), |n| {
            if arp_lan.is_none() && usable(n, Which::Lan, IfaceId(0), ROUTER_LAN) {
                arp_lan = Some(since(n.now, start));
            }
            if arp_router.is_none() && usable(n, Which::Router, crate::net::WAN, WAN_HOST) {
                arp_router = Some(since(n.now, start));
            }
            if let Ok(r) = n.lan.sockets.icmp(s).and_then(|s| s.recv_echo()) {
                reply = Some((r, n.now));
            }
            reply.is_some()
        })?;
        match reply {
            Some((r, at)) if r.src == WAN_HOST && r.seq_no == seq && r.data == data => {
                let rtt = since(at, sent);
                let note = if seq == 1 {
                    " (includes ARP resolution at both hops)"
                } else {
                    ""
                };
                out.say(format!(
                    "    {} bytes from {}: icmp_seq={seq} id={ident:#06x} time={}{note}",
                    r.data.len() + 8,
                    r.src,
                    report::ms(rtt)
                ));
                rtts.push(rtt);
            }
            Some((r, _)) => out.say(format!("    unexpected reply {r:?}")),
            None => out.say(format!("    icmp_seq={seq}: no reply within 1 s")),
        }
        // The next ping one second after this one.
        let next = sent + Duration::from_secs(1);
        if next > net.now {
            net.run_for(since(next, net.now))?;
        }
    }
    if let (Some(a), Some(b)) = (arp_lan, arp_router) {
        out.say(format!(
            "    ARP: the LAN host resolved 192.0.2.1 after {}, the router 198.51.100.1 after {}",
            report::ms(a),
            report::ms(b)
        ));
    }
    for (who, cache) in [
        ("lan host", net.lan.iface.neighbors(IfaceId(0))),
        ("router lan", net.router.iface.neighbors(crate::net::LAN)),
        ("router wan", net.router.iface.neighbors(crate::net::WAN)),
        ("wan server", net.wan.iface.neighbors(IfaceId(0))),
    ] {
        for e in cache.into_iter().flat_map(|c| c.iter()) {
            let mac = e.mac.map_or("?".into(), |m| m.to_string());
            out.say(format!(
                "    arp cache of {who:<10}: {:<15} is at {mac} ({:?})",
                e.ip, e.state
            ));
        }
    }
    let ok = rtts.len() == 4;
    let detail = match (rtts.iter().min(), rtts.iter().max()) {
        (Some(min), Some(max)) => {
            let avg = rtts.iter().map(|d| d.total_micros()).sum::<u64>() / rtts.len() as u64;
            format!(
                "{}/4 replies, rtt min/avg/max {:.3}/{:.3}/{:.3} ms (the first waited for ARP)",
                rtts.len(),
                min.total_micros() as f64 / 1e3,
                avg as f64 / 1e3,
                max.total_micros() as f64 / 1e3,
            )
        }
        _ => "0/4 replies".into(),
    };
    out.check("ARP + ping LAN -> WAN via NAT", ok, detail);
    net.lan.sockets.remove(s);
    Ok(())
}

/// UDP datagrams from the LAN host to an echo service on the WAN server,
/// masqueraded on the way out and translated back on the way in.
pub fn udp(net: &mut Net, out: &mut Out) -> Res<()> {
    out.say("[2] UDP: 192.0.2.10:40000 -> 198.51.100.1:7 (echo) through the NAT");
    let server = net.wan.sockets.add(UdpSocket::default())?;
    net.wan
        .sockets
        .bind_udp(server, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))?;
    let client = net.lan.sockets.add(UdpSocket::default())?;
    net.lan
        .sockets
        .bind_udp(client, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 40000))?;
    let msgs: Vec<Vec<u8>> = vec![
        b"hello through the NAT".to_vec(),
        (0..=255u8).cycle().take(512).collect(),
        vec![0x5a; 1400],
    ];
    let dst = SocketAddrV4::new(WAN_HOST, 7);
    for m in &msgs {
        net.lan.sockets.udp(client)?.send_to(m, dst)?;
    }
    let start = net.now;
    let (mut seen_from, mut echoed) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 2048];
    net.run_until(Duration::from_secs(2), |n| {
        if let Ok(sock) = n.wan.sockets.udp(server) {
            while let Ok((len, from)) = sock.recv_from(&mut buf) {
                seen_from.push(from);
                let _ = sock.send_to(&buf[..len], from);
            }
        }
        if let Ok(sock) = n.lan.sockets.udp(client) {
            while let Ok((len, from)) = sock.recv_from(&mut buf) {
                echoed.push((buf[..len].to_vec(), from, n.now));
            }
        }
        echoed.len() == msgs.len()
    })?;
    for (from, (data, src, at)) in seen_from.iter().zip(&echoed) {
        out.say(format!(
            "    server got {} bytes from {from}, client got them back from {src} after {}",
            data.len(),
            report::ms(since(*at, start))
        ));
    }
    let masqueraded = seen_from.len() == msgs.len()
        && seen_from
            .iter()
            .all(|f| *f == SocketAddrV4::new(ROUTER_WAN, 40000));
    let intact = echoed.len() == msgs.len()
        && echoed
            .iter()
            .zip(&msgs)
            .all(|((d, src, _), m)| d == m && *src == dst);
    out.check(
        "UDP LAN -> WAN via NAT",
        masqueraded && intact,
        format!(
            "{}/{} echoed intact; the server saw {}",
            echoed.len(),
            msgs.len(),
            seen_from
                .first()
                .map_or("nothing".into(), |f| format!("{f} (masquerade)"))
        ),
    );
    net.lan.sockets.remove(client);
    net.wan.sockets.remove(server);
    Ok(())
}

/// A TCP connection from the WAN server to the router's port 8080,
/// forwarded (DNAT) to a service on the LAN host's port 80.
pub fn port_forward(net: &mut Net, out: &mut Out) -> Res<()> {
    out.say(format!(
        "[3] Port forward: 198.51.100.1 -> {ROUTER_WAN}:{FORWARDED_PORT} (DNAT to 192.0.2.10:80)"
    ));
    let listener = net.lan.sockets.add(TcpSocket::default())?;
    net.lan
        .sockets
        .listen_tcp(listener, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)?;
    let client = net.wan.sockets.add(TcpSocket::default())?;
    net.wan
        .sockets
        .connect_tcp(client, SocketAddrV4::new(ROUTER_WAN, FORWARDED_PORT), None)?;
    let request = b"GET / HTTP/1.0\r\n\r\n";
    let response = b"HTTP/1.0 200 OK\r\n\r\nhello from the LAN, through the port forward\n";
    let start = net.now;
    let (mut service, mut connected_at, mut requested) = (None, None, false);
    let (mut got_request, mut got_response, mut eof) = (Vec::new(), Vec::new(), false);
    let mut buf = [0u8; 512];
    net.run_until(Duration::from_secs(5), |n| {
        if service.is_none() {
            service = n.lan.sockets.accept_tcp(listener).ok();
        }
        let Ok(c) = n.wan.sockets.tcp(client) else {
            return true;
        };
        if c.is_established() && connected_at.is_none() {
            connected_at = Some(since(n.now, start));
        }
        if c.is_established() && !requested && c.send(request).is_ok() {
            requested = true;
        }
        while let Ok(len) = c.recv(&mut buf) {
            if len == 0 {
                eof = true;
                break;
            }
            got_response.extend_from_slice(&buf[..len]);
        }
        if let Some(s) = service.and_then(|h| n.lan.sockets.tcp(h).ok())
            && got_request.len() < request.len()
        {
            while let Ok(len) = s.recv(&mut buf) {
                if len == 0 {
                    break;
                }
                got_request.extend_from_slice(&buf[..len]);
            }
            if got_request.len() >= request.len() {
                let _ = s.send(response);
                let _ = s.shutdown(Shutdown::Write);
            }
        }
        eof
    })?;
    let peer = service
        .and_then(|h| net.lan.sockets.tcp(h).ok())
        .and_then(|s| s.peer_addr());
    let local = net
        .wan
        .sockets
        .tcp(client)
        .ok()
        .and_then(|c| c.local_addr());
    if let (Some(at), Some(peer)) = (connected_at, peer) {
        out.say(format!(
            "    connected after {}; the LAN service sees the client as {peer}",
            report::ms(at)
        ));
    }
    out.say(format!(
        "    request {:?}, response {:?}",
        String::from_utf8_lossy(&got_request),
        String::from_utf8_lossy(&got_response)
    ));
    let ok = got_request == request
        && got_response == response
        && eof
        && peer.is_some_and(|p| *p.ip() == WAN_HOST && Some(p) == local);
    out.check(
        "port forward WAN -> LAN",
        ok,
        format!(
            "{ROUTER_WAN}:{FORWARDED_PORT} -> {LAN_HOST}:80; the service saw {}",
            peer.map_or("no connection".into(), |p| p.to_string())
        ),
    );
    // Close both ends properly (FIN both ways).
    net.wan.sockets.close_tcp(client)?;
    if let Some(s) = service {
        net.lan.sockets.close_tcp(s)?;
    }
    net.lan.sockets.remove(listener);
    net.run_for(Duration::from_millis(100))?;
    Ok(())
}

/// Attempts the firewall refuses: TCP to port 23 (a reset from the
/// router) and UDP to port 69 (ICMP port unreachable from the router),
/// although the WAN server listens on both.
pub fn blocked(net: &mut Net, out: &mut Out) -> Res<()> {
    out.say(format!(
        "[4] Firewall: 192.0.2.10 -> 198.51.100.1 tcp/{BLOCKED_TCP_PORT} and udp/{BLOCKED_UDP_PORT} \
         (the server listens on both; the router's rules reject them)"
    ));
    let telnet = net.wan.sockets.add(TcpSocket::default())?;
    net.wan.sockets.listen_tcp(
        telnet,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, BLOCKED_TCP_PORT),
        4,
    )?;
    let tftp = net.wan.sockets.add(UdpSocket::default())?;
    net.wan.sockets.bind_udp(
        tftp,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, BLOCKED_UDP_PORT),
    )?;
    let c = net.lan.sockets.add(TcpSocket::default())?;
    net.lan
        .sockets
        .connect_tcp(c, SocketAddrV4::new(WAN_HOST, BLOCKED_TCP_PORT), None)?;
    let u = net.lan.sockets.add(UdpSocket::default())?;
    net.lan
        .sockets
        .connect_udp(u, SocketAddrV4::new(WAN_HOST, BLOCKED_UDP_PORT))?;
    // A TFTP read request (RFC 1350): opcode 1, file name, mode.
    net.lan
        .sockets
        .udp(u)?
        .send(b"\x00\x01demo.txt\x00octet\x00")?;
    let start = net.now;
    let (mut tcp_err, mut udp_err) = (None, None);
    net.run_until(Duration::from_secs(3), |n| {
        if tcp_err.is_none()
            && let Ok(s) = n.lan.sockets.tcp(c)
            && !s.is_active()
        {
            let e = s.send(b"x").err();
            tcp_err = Some((e, since(n.now, start)));
        }
        if udp_err.is_none()
            && let Some(e) = n.lan.sockets.udp(u).ok().and_then(|s| s.take_error())
        {
            udp_err = Some((e, since(n.now, start)));
        }
        tcp_err.is_some() && udp_err.is_some()
    })?;
    let reached = net.wan.sockets.tcp_pending(telnet) > 0
        || net.wan.sockets.udp(tftp).is_ok_and(|s| s.can_recv());
    let tcp_ok = matches!(tcp_err, Some((Some(Error::Tcp(ConnError::Refused)), _)));
    let udp_ok = matches!(
        udp_err,
        Some((Error::Icmp(IcmpErrorKind::ConnectionRefused), _))
    );
    let describe = |e: &Option<(Option<Error>, Duration)>| match e {
        Some((Some(e), t)) => format!("{e} after {}", report::ms(*t)),
        Some((None, t)) => format!("closed without error after {}", report::ms(*t)),
        None => "no answer within 3 s".into(),
    };
    let tcp_text = describe(&tcp_err);
    let udp_text = describe(&udp_err.map(|(e, t)| (Some(e), t)));
    out.say(format!(
        "    tcp/{BLOCKED_TCP_PORT}: {tcp_text} (a TCP RST sent by the router's `reject with tcp reset`)"
    ));
    out.say(format!(
        "    udp/{BLOCKED_UDP_PORT}: {udp_text} (ICMP port unreachable from the router's `reject`)"
    ));
    out.check(
        &format!("blocked tcp/{BLOCKED_TCP_PORT} refused"),
        tcp_ok && !reached,
        format!("{tcp_text} (RST from the router's firewall)"),
    );
    out.check(
        &format!("blocked udp/{BLOCKED_UDP_PORT} refused"),
        udp_ok && !reached,
        format!("{udp_text} (ICMP port unreachable from the router)"),
    );
    for h in [c, u] {
        net.lan.sockets.remove(h);
    }
    for h in [telnet, tftp] {
        net.wan.sockets.remove(h);
    }
    Ok(())
}
