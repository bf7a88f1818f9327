//! [`TapDevice`]: a Linux TAP interface (feature `std`, Linux only).
//!
//! This is the only module of the crate with `unsafe` code: the
//! `TUNSETIFF` ioctl and `poll(2)`, each block with its safety argument.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use lamina_netbuf::{Duration, Instant};

use crate::{Capabilities, Device, Error, Medium, RxToken, Stats, TxToken};

/// The receive buffer: room for the largest frame the kernel may queue on
/// a TAP whose MTU someone raised to 65535, plus its Ethernet header.
const RX_BUF_LEN: usize = 65_535 + 14 + 1;

/// `struct ifreq` as `TUNSETIFF` uses it: the name, then the flags at the
/// start of the union. Padded to 40 bytes, the size of `struct ifreq` on
/// 64-bit Linux (at least the kernel's size everywhere).
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// A Linux TAP interface opened through `/dev/net/tun`: Ethernet frames
/// written by the kernel's network stack to the interface are received
/// here, and frames transmitted here enter the kernel as if they arrived
/// on the wire.
///
/// The file descriptor is non-blocking: [`receive`](Device::receive)
/// returns `None` when nothing is queued. Poll [`as_raw_fd`](AsRawFd) with
/// your event loop, or block with [`wait`](Self::wait). The device does
/// not configure the interface (addresses, MTU, up/down): do that with
/// `ip`. Opening needs `CAP_NET_ADMIN` (or an existing TAP owned by the
/// user).
///
/// Receive lends the device's own buffer, which the kernel filled by
/// `read(2)`; transmit lends a buffer that goes to the kernel by
/// `write(2)`. A failed write counts in `tx_errors` (`tx_dropped` when the
/// kernel's queue is full); a failed read in `rx_errors`.
///
/// ```no_run
/// use lamina_netdev::{Device, RxToken, TapDevice};
/// use lamina_netbuf::{time::StdClock, Duration};
///
/// let mut tap = TapDevice::open("tap0")?;
/// let clock = StdClock::new();
/// if tap.wait(Some(Duration::from_secs(1)))? {
///     if let Some((rx, _reply)) = tap.receive(clock.now()) {
///         rx.consume(|frame| println!("{} bytes from the kernel", frame.len()));
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TapDevice {
    file: File,
    name: String,
    caps: Capabilities,
    rx_buf: Vec<u8>,
    tx_buf: Vec<u8>,
    stats: Stats,
}

impl TapDevice {
    /// Opens (creating it if needed) the TAP interface `name`, with IP MTU
    /// 1500. An empty name lets the kernel choose one (`tap0`, ...; see
    /// [`name`](Self::name)).
    pub fn open(name: &str) -> io::Result<TapDevice> {
        TapDevice::with_mtu(name, 1500)
    }

    /// Opens the TAP interface `name`; the device accepts frames for an IP
    /// MTU of `mtu` (the interface's own MTU is set with `ip link`).
    pub fn with_mtu(name: &str, mtu: usize) -> io::Result<TapDevice> {
        if name.len() >= libc::IFNAMSIZ || name.bytes().any(|b| b == 0 || b == b'/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name must be shorter than 16 bytes, without NUL or '/'",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: `file` is an open descriptor of /dev/net/tun and `req` a
        // live, writable, `repr(C)` buffer at least as large as the kernel's
        // `struct ifreq`; TUNSETIFF reads the name and flags and writes the
        // chosen name back into it, nothing beyond it.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let name_len = req
            .name
            .iter()
            .position(|c| *c == 0)
            .unwrap_or(libc::IFNAMSIZ);
        let name: Vec<u8> = req.name.iter().take(name_len).map(|c| *c as u8).collect();
        let caps = Capabilities::new(Medium::Ethernet, mtu);
        Ok(TapDevice {
            file,
            name: String::from_utf8_lossy(&name).into_owned(),
            caps,
            rx_buf: vec![0; RX_BUF_LEN],
            tx_buf: vec![0; caps.max_frame_len()],
            stats: Stats::new(),
        })
    }

    /// The interface's name, as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Blocks until a frame can be read or `timeout` passes (`None`: no
    /// limit); says whether a frame is ready.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let timeout_ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.total_micros().div_ceil(1_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: `pfd` is one valid, writable `pollfd` and we pass a
            // count of 1; the descriptor stays open for the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if rc >= 0 {
                return Ok(rc > 0 && pfd.revents & libc::POLLIN != 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl TapDevice {
    /// As [`wait`](Self::wait), but also returns when `extra` becomes
    /// readable (an eventfd, pipe or socket another thread writes to wake
    /// the waiter up): says whether a frame is ready on the TAP. The
    /// caller drains `extra` itself.
    pub fn wait_with(&self, extra: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
        let timeout_ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.total_micros().div_ceil(1_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfds = [
            libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: extra.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // SAFETY: `pfds` is an array of two valid, writable `pollfd`s
            // and we pass its length; both descriptors stay open for the
            // call (`self.file` is owned, `extra` is borrowed for it).
            let rc =
                unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
            if rc >= 0 {
                return Ok(rc > 0 && pfds[0].revents & libc::POLLIN != 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The receive token of a [`TapDevice`].
#[derive(Debug)]
pub struct TapRxToken<'a> {
    frame: &'a mut [u8],
}

/// The transmit token of a [`TapDevice`].
#[derive(Debug)]
pub struct TapTxToken<'a> {
    file: &'a File,
    buf: &'a mut [u8],
    stats: &'a mut Stats,
}

impl RxToken for TapRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(self.frame)
    }
}

impl TxToken for TapTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let Some(frame) = self.buf.get_mut(..len) else {
            self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong {
                len,
                max: self.buf.len(),
            });
        };
        let r = f(frame);
        let mut file = self.file;
        loop {
            match file.write(frame) {
                Ok(n) if n == len => self.stats.count_tx(len),
                Ok(_) => self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.tx_dropped = self.stats.tx_dropped.wrapping_add(1);
                }
                Err(_) => self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1),
            }
            break;
        }
        Ok(r)
    }
}

impl Device for TapDevice {
    type RxToken<'a> = TapRxToken<'a>;
    type TxToken<'a> = TapTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(TapRxToken<'_>, TapTxToken<'_>)> {
        let n = loop {
            match (&self.file).read(&mut self.rx_buf) {
                // A frame that fills the whole buffer may have been cut.
                Ok(n) if n == self.rx_buf.len() => {
                    self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                }
                Ok(0) => return None,
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => {
                    self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                    return None;
                }
            }
        };
        self.stats.count_rx(n);
        Some((
            TapRxToken {
                frame: self.rx_buf.get_mut(..n).unwrap_or_default(),
            },
            TapTxToken {
                file: &self.file,
                buf: &mut self.tx_buf,
                stats: &mut self.stats,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TapTxToken<'_>> {
        Some(TapTxToken {
            file: &self.file,
            buf: &mut self.tx_buf,
            stats: &mut self.stats,
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn stats(&self) -> Stats {
        self.stats
    }
}
