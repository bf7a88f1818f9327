//! Attaches the Lamina stack to an existing TAP interface and serves,
//! until killed:
//!
//! - ICMP echo (ping);
//! - UDP and TCP echo on port 7 (RFC 862);
//! - TCP discard on port 9 (RFC 863);
//! - HTTP/1.1 on port 80 (RFC 9112): `GET /bytes/N` answers `200 OK` with
//!   `Content-Length: N` and N bytes where byte i is `i % 251`; other
//!   paths get `404`, malformed requests `400`, other methods `405`,
//!   headers over 8 KiB `431`. Connections are kept alive (HTTP/1.1
//!   default) and served concurrently, a thread each.
//!
//! ```text
//! cargo run --release -p lamina-socket --example tap-server -- \
//!     --tap NAME --addr 192.0.2.2/24 [--gateway 192.0.2.1] [--mtu 1500] [--offload]
//! ```
//!
//! `--offload` turns on the kernel's offloads on the TAP (see
//! `TapDevice::with_offloads`: 64 KiB TCP segments from the kernel in one
//! read, transport checksums left to the kernel).
//!
//! It prints one line when ready.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::sync::Arc;

    use lamina_ipv4::Ipv4Cidr;
    use lamina_netdev::TapDevice;
    use lamina_socket::stack::Stack;

    const USAGE: &str =
        "usage: tap-server --tap NAME --addr A.B.C.D/N [--gateway A.B.C.D] [--mtu N] [--offload]";
    let mut tap = None;
    let mut addr: Option<Ipv4Cidr> = None;
    let mut gateway: Option<Ipv4Addr> = None;
    let mut mtu = 1500usize;
    let mut offload = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--tap" => tap = Some(value()?),
            "--addr" => addr = Some(value()?.parse()?),
            "--gateway" => gateway = Some(value()?.parse()?),
            "--mtu" => mtu = value()?.parse()?,
            "--offload" => offload = true,
            _ => return Err(format!("unknown argument {a}; {USAGE}").into()),
        }
    }
    let (Some(tap), Some(addr)) = (tap, addr) else {
        return Err(USAGE.into());
    };

    let device = if offload {
        TapDevice::with_offloads(&tap, mtu)?
    } else {
        TapDevice::with_mtu(&tap, mtu)?
    };
    let mut builder = Stack::builder().address(addr).max_sockets(4096);
    if let Some(gw) = gateway {
        builder = builder.gateway(gw);
    }
    let stack = builder.spawn(device)?;
    let any = |port| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let udp_echo = stack.udp_bind(any(7))?;
    let tcp_echo = stack.tcp_listen(any(7), 256)?;
    let discard = stack.tcp_listen(any(9), 256)?;
    let http = stack.tcp_listen(any(80), 1024)?;
    let body = Arc::new(tcp::body_pattern());

    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = udp_echo.recv_from(&mut buf) {
            let _ = udp_echo.send_to(&buf[..n], from);
        }
    });
    let services = [
        std::thread::spawn(move || tcp::serve(&tcp_echo, |s| tcp::echo(&s))),
        std::thread::spawn(move || tcp::serve(&discard, |s| tcp::discard(&s))),
        std::thread::spawn(move || {
            tcp::serve(&http, move |s| {
                let body = Arc::clone(&body);
                tcp::http(&s, &body)
            })
        }),
    ];
    println!(
        "tap-server ready on {tap}: {addr} (mac {}), ICMP echo, UDP and TCP echo on 7, discard on 9, HTTP on 80",
        stack.mac()
    );
    for s in services {
        let _ = s.join();
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod tcp {
    use std::io::{self, Read, Write};
    use std::time::Duration;

    use lamina_socket::stack::{TcpListener, TcpStream};

    /// The longest request head (request line and headers) accepted.
    const MAX_HEAD: usize = 8 * 1024;
    /// How long a connection may stay idle between requests.
    const IDLE: Duration = Duration::from_secs(60);

    /// Accepts connections forever, each served by `f` on its own
    /// thread.
    pub fn serve<F>(listener: &TcpListener, f: F)
    where
        F: Fn(TcpStream) -> io::Result<()> + Send + Sync + Clone + 'static,
    {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    let f = f.clone();
                    let _ = std::thread::Builder::new()
                        .name("tap-server-conn".into())
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            if let Err(e) = f(s)
                                && !matches!(
                                    e.kind(),
                                    io::ErrorKind::ConnectionReset | io::ErrorKind::TimedOut
                                )
                            {
                                eprintln!("tap-server: connection: {e}");
                            }
                        });
                }
                Err(e) => {
                    eprintln!("tap-server: accept: {e}");
                    return;
                }
            }
        }
    }

    /// RFC 862: everything read is written back; closes after the peer.
    pub fn echo(s: &TcpStream) -> io::Result<()> {
        s.set_read_timeout(Some(IDLE))?;
        let mut buf = vec![0u8; 256 * 1024];
        let (mut r, mut w) = (s, s);
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            w.write_all(&buf[..n])?;
        }
    }

    /// RFC 863: everything read is thrown away.
    pub fn discard(s: &TcpStream) -> io::Result<()> {
        s.set_read_timeout(Some(IDLE))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut r = s;
        while r.read(&mut buf)? > 0 {}
        Ok(())
    }

    /// 251 * 256 bytes of the body pattern, `i % 251`: any body is a
    /// run of slices of it.
    pub fn body_pattern() -> Vec<u8> {
        (0..251 * 256).map(|i| (i % 251) as u8).collect()
    }

    /// One HTTP/1.1 connection: requests served in turn until the client
    /// closes, asks to, or errs; then a lingering close (RFC 9112 §9.6):
    /// our side is shut, and what the client still sends is read and
    /// dropped for a while, so that closing with unread data does not
    /// reset the connection before the client has read our answer.
    pub fn http(s: &TcpStream, pattern: &[u8]) -> io::Result<()> {
        serve_requests(s, pattern)?;
        s.shutdown(std::net::Shutdown::Write)?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut sink = [0u8; 16 * 1024];
        let mut r = s;
        let mut drained = 0usize;
        while drained < (1 << 20) {
            match r.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        Ok(())
    }

    fn serve_requests(s: &TcpStream, pattern: &[u8]) -> io::Result<()> {
        s.set_read_timeout(Some(IDLE))?;
        s.set_nodelay(true)?;
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_HEAD);
        let mut chunk = [0u8; 4096];
        let (mut r, mut w) = (s, s);
        loop {
            // Read until the end of the head.
            let end = loop {
                if let Some(i) = find_head_end(&buf) {
                    break i;
                }
                if buf.len() > MAX_HEAD {
                    respond(&mut w, 431, "Request Header Fields Too Large", true)?;
                    return Ok(());
                }
                let n = match r.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(()),
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head: Vec<u8> = buf.drain(..end).collect();
            let Some(req) = parse_request(&head) else {
                respond(&mut w, 400, "Bad Request", true)?;
                return Ok(());
            };
            if req.has_body {
                // No request bodies here: the connection cannot go on.
                respond(&mut w, 400, "Bad Request", true)?;
                return Ok(());
            }
            let close = req.close;
            let head_only = req.method == "HEAD";
            if req.method != "GET" && !head_only {
                respond(&mut w, 405, "Method Not Allowed", close)?;
            } else if let Some(n) = req
                .path
                .strip_prefix("/bytes/")
                .and_then(|n| n.parse::<u64>().ok())
            {
                let conn = if close { "close" } else { "keep-alive" };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\nConnection: {conn}\r\n\r\n"
                );
                w.write_all(head.as_bytes())?;
                if !head_only {
                    send_body(&mut w, pattern, n)?;
                }
            } else {
                respond(&mut w, 404, "Not Found", close)?;
            }
            if close {
                return Ok(());
            }
        }
    }

    /// Writes `n` bytes of the pattern.
    fn send_body(w: &mut impl Write, pattern: &[u8], n: u64) -> io::Result<()> {
        let mut left = n;
        // The pattern's length is a multiple of 251: every slice starts
        // at phase 0.
        while left > 0 {
            let take = usize::try_from(left).map_or(pattern.len(), |l| l.min(pattern.len()));
            w.write_all(&pattern[..take])?;
            left -= take as u64;
        }
        Ok(())
    }

    fn respond(w: &mut impl Write, code: u16, reason: &str, close: bool) -> io::Result<()> {
        let conn = if close { "close" } else { "keep-alive" };
        let body = format!("{code} {reason}\n");
        let reply = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {conn}\r\n\r\n{body}",
            body.len()
        );
        w.write_all(reply.as_bytes())
    }

    /// Where the head ends (after the blank line), if it does.
    fn find_head_end(buf: &[u8]) -> Option<usize> {
        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
    }

    struct Request<'a> {
        method: &'a str,
        path: &'a str,
        close: bool,
        has_body: bool,
    }

    /// RFC 9112 §3: request line `METHOD SP TARGET SP HTTP/1.x`, then
    /// `name: value` fields. `None` for anything malformed.
    fn parse_request(head: &[u8]) -> Option<Request<'_>> {
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split("\r\n");
        let mut parts = lines.next()?.split(' ');
        let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || method.is_empty()
            || !method.bytes().all(|b| b.is_ascii_uppercase())
            || !path.starts_with('/')
        {
            return None;
        }
        let mut close = match version {
            "HTTP/1.1" => false,
            "HTTP/1.0" => true,
            _ => return None,
        };
        let mut has_body = false;
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            if name.is_empty() || name.contains(' ') {
                return None;
            }
            let value = value.trim();
            if name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        close = false;
                    }
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                || (name.eq_ignore_ascii_case("content-length") && value != "0")
            {
                has_body = true;
            }
        }
        Some(Request {
            method,
            path,
            close,
            has_body,
        })
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tap-server needs Linux TAP devices");
}
