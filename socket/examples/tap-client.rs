//! A TCP client over the Lamina stack on a TAP interface.
//!
//! ```text
//! cargo run --release -p lamina-socket --example tap-client -- \
//!     --tap NAME --addr 192.0.2.2/24 [--gateway A.B.C.D] [--mtu 1500] [--offload] \
//!     (--get http://192.0.2.1:PORT/PATH | --put FILE --to A.B.C.D:PORT)
//! ```
//!
//! - `--get URL` fetches with HTTP/1.1 (RFC 9112) and writes the body to
//!   stdout, whether framed by `Content-Length`, chunked, or by the close
//!   of the connection. The host must be an IPv4 address. Any status but
//!   2xx is a failure.
//! - `--put FILE --to ADDR` sends the file on a raw TCP connection, closes
//!   the sending direction, writes whatever the peer sends back to stdout
//!   until it closes (so that `--to` an echo service returns the file),
//!   and closes.
//!
//! - `--offload` turns on the kernel's offloads on the TAP (see
//!   `TapDevice::with_offloads`).
//!
//! Errors go to stderr and the exit code is non-zero; a summary line
//! (bytes, seconds, Gbit/s) goes to stderr on success.

#[cfg(all(target_os = "linux", feature = "std"))]
fn main() {
    if let Err(e) = client::run() {
        eprintln!("tap-client: {e}");
        std::process::exit(1);
    }
}

#[cfg(all(target_os = "linux", feature = "std"))]
mod client {
    use std::io::{self, Read, Write};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::{Duration, Instant};

    use lamina_ipv4::Ipv4Cidr;
    use lamina_netdev::TapDevice;
    use lamina_socket::stack::{Stack, TcpStream};

    type BoxError = Box<dyn std::error::Error>;

    const USAGE: &str = "usage: tap-client --tap NAME --addr A.B.C.D/N [--gateway A.B.C.D] \
        [--mtu N] [--offload] (--get http://A.B.C.D[:PORT]/PATH | --put FILE --to A.B.C.D:PORT)";
    /// The longest response head accepted.
    const MAX_HEAD: usize = 64 * 1024;
    /// How long a read or write may wait before the transfer is declared
    /// stuck.
    const STALL: Duration = Duration::from_secs(30);

    enum Job {
        Get(String),
        Put(String, SocketAddrV4),
    }

    pub fn run() -> Result<(), BoxError> {
        let mut tap = None;
        let mut addr: Option<Ipv4Cidr> = None;
        let mut gateway: Option<Ipv4Addr> = None;
        let mut mtu = 1500usize;
        let mut offload = false;
        let mut get = None;
        let mut put = None;
        let mut to: Option<SocketAddrV4> = None;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--tap" => tap = Some(value()?),
                "--addr" => addr = Some(value()?.parse()?),
                "--gateway" => gateway = Some(value()?.parse()?),
                "--mtu" => mtu = value()?.parse()?,
                "--offload" => offload = true,
                "--get" => get = Some(value()?),
                "--put" => put = Some(value()?),
                "--to" => to = Some(value()?.parse()?),
                _ => return Err(format!("unknown argument {a}; {USAGE}").into()),
            }
        }
        let (Some(tap), Some(addr)) = (tap, addr) else {
            return Err(USAGE.into());
        };
        let job = match (get, put, to) {
            (Some(url), None, None) => Job::Get(url),
            (None, Some(file), Some(to)) => Job::Put(file, to),
            _ => return Err(USAGE.into()),
        };

        let device = if offload {
            TapDevice::with_offloads(&tap, mtu)?
        } else {
            TapDevice::with_mtu(&tap, mtu)?
        };
        let mut builder = Stack::builder().address(addr);
        if let Some(gw) = gateway {
            builder = builder.gateway(gw);
        }
        let stack = builder.spawn(device)?;
        let start = Instant::now();
        let bytes = match job {
            Job::Get(url) => get_url(&stack, &url)?,
            Job::Put(file, to) => put_file(&stack, &file, to)?,
        };
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "tap-client: {bytes} bytes in {secs:.3} s ({:.3} Gbit/s)",
            bytes as f64 * 8.0 / secs.max(1e-9) / 1e9
        );
        Ok(())
    }

    fn connect(stack: &Stack, to: SocketAddrV4) -> Result<TcpStream, BoxError> {
        let s = stack
            .tcp_connect_timeout(to, Duration::from_secs(10))
            .map_err(|e| format!("connect to {to}: {e}"))?;
        s.set_read_timeout(Some(STALL))?;
        s.set_write_timeout(Some(STALL))?;
        // The process ends right after: let the close finish first.
        s.set_linger(Some(Duration::from_secs(5)));
        Ok(s)
    }

    /// `http://A.B.C.D[:PORT]/PATH` as the address and the request
    /// target.
    fn parse_url(url: &str) -> Result<(SocketAddrV4, String), BoxError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("only http:// URLs are supported")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let addr = match authority.split_once(':') {
            Some((host, port)) => SocketAddrV4::new(host.parse()?, port.parse()?),
            None => SocketAddrV4::new(authority.parse()?, 80),
        };
        Ok((addr, path.to_owned()))
    }

    fn get_url(stack: &Stack, url: &str) -> Result<u64, BoxError> {
        let (addr, path) = parse_url(url)?;
        let mut s = connect(stack, addr)?;
        let host = if addr.port() == 80 {
            addr.ip().to_string()
        } else {
            addr.to_string()
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lamina-tap-client\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes())?;

        let mut reader = Buffered::new(&s);
        let head = reader.read_head()?;
        let (status, framing) = parse_response_head(&head)?;
        if !(200..300).contains(&status) {
            return Err(format!("HTTP status {status}").into());
        }
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let n = match framing {
            Framing::Length(n) => reader.copy_exact(&mut out, n)?,
            Framing::Chunked => reader.copy_chunked(&mut out)?,
            Framing::Close => reader.copy_to_end(&mut out)?,
        };
        out.flush()?;
        Ok(n)
    }

    fn put_file(stack: &Stack, file: &str, to: SocketAddrV4) -> Result<u64, BoxError> {
        let mut f = std::fs::File::open(file).map_err(|e| format!("{file}: {e}"))?;
        let s = connect(stack, to)?;
        // The peer may answer while we send (an echo service): read in a
        // second thread so that neither side waits on the other.
        let sent = std::thread::scope(|scope| -> Result<u64, BoxError> {
            let reader = scope.spawn(|| -> io::Result<u64> {
                let stdout = io::stdout();
                let mut out = stdout.lock();
                let n = io::copy(&mut &s, &mut out)?;
                out.flush()?;
                Ok(n)
            });
            let mut buf = vec![0u8; 256 * 1024];
            let mut sent = 0u64;
            let mut w = &s;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n])?;
                sent += n as u64;
            }
            s.shutdown(std::net::Shutdown::Write)?;
            reader.join().map_err(|_| "the reading thread panicked")??;
            Ok(sent)
        })?;
        Ok(sent)
    }

    enum Framing {
        Length(u64),
        Chunked,
        Close,
    }

    /// RFC 9112 §4 and §6: the status code and how the body is framed.
    fn parse_response_head(head: &[u8]) -> Result<(u16, Framing), BoxError> {
        let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8")?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().ok_or("empty response")?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(format!("not an HTTP/1.x response: {status_line:?}").into());
        }
        let status: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut framing = Framing::Close;
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("bad header line {line:?}"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                if value
                    .rsplit(',')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
                {
                    framing = Framing::Chunked;
                }
            } else if name.eq_ignore_ascii_case("content-length")
                && !matches!(framing, Framing::Chunked)
            {
                framing = Framing::Length(
                    value
                        .parse()
                        .map_err(|_| format!("bad Content-Length {value:?}"))?,
                );
            }
        }
        Ok((status, framing))
    }

    /// A read buffer over the stream, for the head and the chunk framing.
    struct Buffered<'a> {
        s: &'a TcpStream,
        buf: Vec<u8>,
        start: usize,
        end: usize,
    }

    impl<'a> Buffered<'a> {
        fn new(s: &'a TcpStream) -> Buffered<'a> {
            Buffered {
                s,
                buf: vec![0u8; 256 * 1024],
                start: 0,
                end: 0,
            }
        }

        fn buffered(&self) -> &[u8] {
            &self.buf[self.start..self.end]
        }

        /// Reads more; false at end of stream.
        fn fill(&mut self) -> io::Result<bool> {
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let mut r = self.s;
            let n = r.read(&mut self.buf[self.end..])?;
            self.end += n;
            Ok(n > 0)
        }

        fn eof() -> io::Error {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed before the end of the body",
            )
        }

        /// The head, up to and including the blank line.
        fn read_head(&mut self) -> Result<Vec<u8>, BoxError> {
            loop {
                if let Some(i) = self.buffered().windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = self.buffered()[..i + 4].to_vec();
                    self.start += i + 4;
                    return Ok(head);
                }
                if self.end - self.start > MAX_HEAD {
                    return Err("response head too long".into());
                }
                if !self.fill()? {
                    return Err("the server closed before the end of the head".into());
                }
            }
        }

        /// One CRLF-terminated line, without the CRLF.
        fn read_line(&mut self) -> io::Result<String> {
            loop {
                if let Some(i) = self.buffered().windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&self.buffered()[..i]).into_owned();
                    self.start += i + 2;
                    return Ok(line);
                }
                if self.end - self.start > MAX_HEAD {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                }
                if !self.fill()? {
                    return Err(Self::eof());
                }
            }
        }

        fn copy_exact(&mut self, out: &mut impl Write, n: u64) -> io::Result<u64> {
            let mut left = n;
            while left > 0 {
                if self.start == self.end && !self.fill()? {
                    return Err(Self::eof());
                }
                let avail = self.end - self.start;
                let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
                out.write_all(&self.buf[self.start..self.start + take])?;
                self.start += take;
                left -= take as u64;
            }
            Ok(n)
        }

        fn copy_to_end(&mut self, out: &mut impl Write) -> io::Result<u64> {
            let mut n = 0u64;
            loop {
                out.write_all(self.buffered())?;
                n += (self.end - self.start) as u64;
                self.start = self.end;
                if !self.fill()? {
                    return Ok(n);
                }
            }
        }

        /// RFC 9112 §7.1: `size[;ext] CRLF data CRLF` ..., `0 CRLF`,
        /// trailers, `CRLF`.
        fn copy_chunked(&mut self, out: &mut impl Write) -> io::Result<u64> {
            let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
            let mut total = 0u64;
            loop {
                let line = self.read_line()?;
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailer fields, up to the blank line.
                    while !self.read_line()?.is_empty() {}
                    return Ok(total);
                }
                total += self.copy_exact(out, size)?;
                if !self.read_line()?.is_empty() {
                    return Err(bad("chunk data not followed by CRLF".into()));
                }
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", feature = "std")))]
fn main() {
    eprintln!("tap-client needs Linux TAP devices");
    std::process::exit(1);
}
