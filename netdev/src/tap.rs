//! [`TapDevice`]: a Linux TAP interface (feature `std`, Linux only).
//!
//! This is the only module of the crate with `unsafe` code: the
//! `TUNSETIFF`, `TUNSETVNETHDRSZ` and `TUNSETOFFLOAD` ioctls and
//! `poll(2)`, each block with its safety argument.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use lamina_netbuf::{Duration, Instant};

use crate::{
    Capabilities, ChecksumCapabilities, ChecksumProto, ChecksumSet, Device, Error, KeptFrame,
    Medium, RxMeta, RxToken, Stats, Tso, TxMeta, TxToken,
};

/// The receive buffer: room for the largest frame the kernel may queue on
/// a TAP whose MTU someone raised to 65535 (or a GSO frame of as much), plus
/// its Ethernet header.
const RX_BUF_LEN: usize = 65_535 + 14 + 1;

/// Receive buffers a TAP keeps for reuse after kept frames come back
/// ([`Device::recycle`]); more are freed.
const POOL_MAX: usize = 64;

/// Length of the `struct virtio_net_hdr` (the legacy layout, 10 bytes) in
/// front of every frame read or written when offloads are on.
const VNET_HDR_LEN: usize = 10;
/// `virtio_net_hdr.flags`: the transport checksum is partial, to be
/// completed from `csum_start` (the packet comes from this host).
const VNET_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.flags`: the checksums were verified.
const VNET_F_DATA_VALID: u8 = 2;
/// `virtio_net_hdr.gso_type`: not a GSO frame.
const VNET_GSO_NONE: u8 = 0;
/// `virtio_net_hdr.gso_type`: a TCP/IPv4 frame to be cut into segments.
const VNET_GSO_TCPV4: u8 = 1;

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
    /// Whether frames carry a virtio-net header (offloads on).
    vnet: bool,
    /// The receive buffer (the frame alone: a virtio-net header is read
    /// apart).
    rx_buf: Vec<u8>,
    /// Receive buffers given back after kept frames, for reuse.
    pool: Vec<Vec<u8>>,
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
        TapDevice::open_inner(name, mtu, false)
    }

    /// As [`with_mtu`](Self::with_mtu), with the kernel's offloads on
    /// (`IFF_VNET_HDR`, `TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4`, as
    /// QEMU and other virtual machine monitors use them):
    ///
    /// - **Receive**: the kernel hands over TCP segments of up to 64 KiB
    ///   in one frame (generic segmentation offload: one `read(2)` instead
    ///   of up to 45, and one segment through the stack), and skips the
    ///   transport checksums of what it sends, which this device reports
    ///   as verified ([`RxMeta::checksum_verified`]): the kernel vouches
    ///   for the frames of its own stack. Frames may thus exceed the MTU.
    /// - **Transmit**: the device advertises TCP and UDP checksum offload
    ///   (the kernel completes or skips the checksum the stack left
    ///   partial, [`TxMeta::checksum_offload`]) and TCP segmentation
    ///   offload up to 64 KiB ([`Capabilities::tso`],
    ///   [`TxMeta::tso_mss`]): one `write(2)` carries what would be up to
    ///   45 segments, which the kernel cuts.
    ///
    /// For a host stack on the TAP. A router should not use it: a frame
    /// received with a partial checksum or over the MTU would leave by
    /// another device as it came (the kernel is not there to complete it).
    pub fn with_offloads(name: &str, mtu: usize) -> io::Result<TapDevice> {
        TapDevice::open_inner(name, mtu, true)
    }

    fn open_inner(name: &str, mtu: usize, vnet: bool) -> io::Result<TapDevice> {
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
            flags: (libc::IFF_TAP | libc::IFF_NO_PI | if vnet { libc::IFF_VNET_HDR } else { 0 })
                as libc::c_short,
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
        let mut caps = Capabilities::new(Medium::Ethernet, mtu);
        let mut hdr_len = 0;
        if vnet {
            let size: libc::c_int = VNET_HDR_LEN as libc::c_int;
            // SAFETY: `file` is the TAP descriptor just set up with
            // IFF_VNET_HDR; TUNSETVNETHDRSZ reads one `int` through the
            // pointer, which points at a live local.
            let rc = unsafe {
                libc::ioctl(
                    file.as_raw_fd(),
                    libc::TUNSETVNETHDRSZ,
                    &size as *const libc::c_int,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            let offloads = libc::c_ulong::from(libc::TUN_F_CSUM | libc::TUN_F_TSO4);
            // SAFETY: TUNSETOFFLOAD takes its argument by value (an
            // `unsigned long` of TUN_F_* flags); no memory is passed.
            let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETOFFLOAD, offloads) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
            caps.checksum = ChecksumCapabilities { rx: l4, tx: l4 };
            // The kernel segments what it is given (`virtio_net_hdr`
            // with GSO_TCPV4): up to an IPv4 packet of 64 KiB.
            caps.tso = Some(Tso::new(65_535 + 14));
            // And coalesces what it sends into frames as long.
            caps.max_rx_len = Some(65_535 + 14);
            hdr_len = VNET_HDR_LEN;
        }
        // A payload lent by reference goes to the kernel with the headers
        // in one `writev`, not copied into the write buffer first.
        caps.shared_payloads = true;
        Ok(TapDevice {
            file,
            name: String::from_utf8_lossy(&name).into_owned(),
            caps,
            vnet,
            rx_buf: vec![0; RX_BUF_LEN],
            pool: Vec::new(),
            tx_buf: vec![0; hdr_len + caps.max_tx_len()],
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
    /// Reads one frame into the receive buffer (from its start), the
    /// virtio-net header (offloads on) into `hdr`; the frame's length.
    fn read_frame(&mut self, hdr: &mut [u8; VNET_HDR_LEN]) -> io::Result<usize> {
        if !self.vnet {
            return (&self.file).read(&mut self.rx_buf);
        }
        let mut iov = [
            io::IoSliceMut::new(hdr),
            io::IoSliceMut::new(&mut self.rx_buf),
        ];
        let n = (&self.file).read_vectored(&mut iov)?;
        if n <= VNET_HDR_LEN {
            // Nothing after the header: not a frame.
            return Err(io::Error::from(io::ErrorKind::InvalidData));
        }
        Ok(n - VNET_HDR_LEN)
    }

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
    /// The device's receive buffer; the frame is `buf[..len]`.
    buf: &'a mut Vec<u8>,
    len: usize,
    meta: RxMeta,
    /// Buffers to replace one given away.
    pool: &'a mut Vec<Vec<u8>>,
}

/// The transmit token of a [`TapDevice`].
#[derive(Debug)]
pub struct TapTxToken<'a> {
    file: &'a File,
    /// The write buffer: the virtio-net header's room (when offloads are
    /// on), then the frame.
    buf: &'a mut [u8],
    /// Whether `buf` starts with a virtio-net header.
    vnet: bool,
    meta: TxMeta,
    stats: &'a mut Stats,
}

impl RxToken for TapRxToken<'_> {
    fn meta(&self) -> RxMeta {
        self.meta
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(self.buf.get_mut(..self.len).unwrap_or_default())
    }

    fn can_keep(&self) -> bool {
        true
    }

    /// A kept frame takes the device's receive buffer with it; a pooled
    /// buffer (or a new one) takes its place.
    fn consume_keep<R, F>(self, f: F) -> (R, Option<KeptFrame>)
    where
        F: FnOnce(&mut [u8]) -> (R, bool),
    {
        let (r, keep) = f(self.buf.get_mut(..self.len).unwrap_or_default());
        if !keep {
            return (r, None);
        }
        let size = self.buf.len();
        let fresh = self.pool.pop().unwrap_or_else(|| vec![0; size]);
        let buf = core::mem::replace(self.buf, fresh);
        (r, Some(KeptFrame { buf, len: self.len }))
    }
}

/// What the virtio-net header `hdr` in front of a received frame tells the
/// stack: the transport checksums that need no verifying (partial ones from
/// this host's kernel, or ones it verified).
fn vnet_rx_meta(hdr: &[u8]) -> RxMeta {
    let flags = hdr.first().copied().unwrap_or(0);
    let mut meta = RxMeta::default();
    if flags & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID) != 0 {
        meta.checksum_verified = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
    }
    meta
}

/// The virtio-net header for a frame transmitted with `meta` (native byte
/// order, the legacy header's): a partial TCP or UDP checksum for the
/// kernel to complete from the transport header, and TCP segmentation.
fn vnet_tx_header(meta: &TxMeta, frame: &[u8]) -> [u8; VNET_HDR_LEN] {
    let mut hdr = [0u8; VNET_HDR_LEN];
    let l4 = usize::from(meta.l4_offset);
    let csum_offset = if meta.checksum_offload.contains(ChecksumProto::Tcp) {
        Some(16u16)
    } else if meta.checksum_offload.contains(ChecksumProto::Udp) {
        Some(6u16)
    } else {
        None
    };
    let Some(csum_offset) = csum_offset else {
        return hdr;
    };
    hdr[0] = VNET_F_NEEDS_CSUM;
    hdr[1] = VNET_GSO_NONE;
    if let Some(mss) = meta.tso_mss
        && meta.checksum_offload.contains(ChecksumProto::Tcp)
    {
        // The TCP header's length is in its data offset (the top nibble
        // of byte 12).
        let tcp_len = frame.get(l4 + 12).map_or(20, |b| usize::from(b >> 4) * 4);
        hdr[1] = VNET_GSO_TCPV4;
        hdr[2..4].copy_from_slice(&((l4 + tcp_len) as u16).to_ne_bytes());
        hdr[4..6].copy_from_slice(&mss.get().to_ne_bytes());
    }
    hdr[6..8].copy_from_slice(&meta.l4_offset.to_ne_bytes());
    hdr[8..10].copy_from_slice(&csum_offset.to_ne_bytes());
    hdr
}

impl TxToken for TapTxToken<'_> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.meta = meta;
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let hdr_len = if self.vnet { VNET_HDR_LEN } else { 0 };
        let Some(all) = self.buf.get_mut(..hdr_len + len) else {
            self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong {
                len,
                max: self.buf.len() - hdr_len,
            });
        };
        let (hdr, frame) = all.split_at_mut(hdr_len);
        let r = f(frame);
        if self.vnet {
            hdr.copy_from_slice(&vnet_tx_header(&self.meta, frame));
        }
        write_frame(
            self.file,
            self.stats,
            &[io::IoSlice::new(all)],
            hdr_len,
            len,
        );
        Ok(r)
    }

    /// Writes the virtio-net header (with offloads on) and the headers `f`
    /// writes into the write buffer, and hands the kernel those and
    /// `payload` in one `writev`: the payload is copied once, by the
    /// kernel, straight from where the stack keeps it.
    fn consume_shared<R, F>(self, head_len: usize, payload: bytes::Bytes, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let hdr_len = if self.vnet { VNET_HDR_LEN } else { 0 };
        let len = head_len.saturating_add(payload.len());
        let max = self.buf.len() - hdr_len;
        let Some(all) = self
            .buf
            .get_mut(..hdr_len + head_len)
            .filter(|_| len <= max)
        else {
            self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong { len, max });
        };
        let (hdr, head) = all.split_at_mut(hdr_len);
        let r = f(head);
        if self.vnet {
            // The header offsets and lengths come from the frame's headers,
            // all in `head`.
            hdr.copy_from_slice(&vnet_tx_header(&self.meta, head));
        }
        let parts = [io::IoSlice::new(all), io::IoSlice::new(&payload)];
        write_frame(self.file, self.stats, &parts, hdr_len, len);
        Ok(r)
    }
}

/// Writes one frame (`parts`, the virtio-net header's `hdr_len` bytes and
/// the frame's `len`) to the TAP, counting the outcome: a full queue
/// drops it, as a NIC's full ring would.
fn write_frame(
    mut file: &File,
    stats: &mut Stats,
    parts: &[io::IoSlice<'_>],
    hdr_len: usize,
    len: usize,
) {
    loop {
        match file.write_vectored(parts) {
            Ok(n) if n == hdr_len + len => stats.count_tx(len),
            Ok(_) => stats.tx_errors = stats.tx_errors.wrapping_add(1),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stats.tx_dropped = stats.tx_dropped.wrapping_add(1);
            }
            Err(_) => stats.tx_errors = stats.tx_errors.wrapping_add(1),
        }
        break;
    }
}

impl Device for TapDevice {
    type RxToken<'a> = TapRxToken<'a>;
    type TxToken<'a> = TapTxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(TapRxToken<'_>, TapTxToken<'_>)> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let n = loop {
            match self.read_frame(&mut hdr) {
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
        let meta = if self.vnet {
            vnet_rx_meta(&hdr)
        } else {
            RxMeta::default()
        };
        self.stats.count_rx(n);
        Some((
            TapRxToken {
                buf: &mut self.rx_buf,
                len: n,
                meta,
                pool: &mut self.pool,
            },
            TapTxToken {
                file: &self.file,
                buf: &mut self.tx_buf,
                vnet: self.vnet,
                meta: TxMeta::new(),
                stats: &mut self.stats,
            },
        ))
    }

    /// Takes back a buffer given away with a kept frame, for the next
    /// frames (up to 64 wait; others are freed).
    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() == self.rx_buf.len() && self.pool.len() < POOL_MAX {
            self.pool.push(buf);
        }
    }

    fn transmit(&mut self, _now: Instant) -> Option<TapTxToken<'_>> {
        Some(TapTxToken {
            file: &self.file,
            buf: &mut self.tx_buf,
            vnet: self.vnet,
            meta: TxMeta::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::num::NonZeroU16;

    #[test]
    fn the_virtio_header_asks_for_checksum_and_segmentation() {
        // Ethernet + IPv4 (20) + TCP with a 32-byte header (data offset 8).
        let mut frame = vec![0u8; 14 + 20 + 32 + 3000];
        frame[14 + 20 + 12] = 8 << 4;
        let tcp = ChecksumSet::of(ChecksumProto::Tcp);
        let plain = vnet_tx_header(&TxMeta::new(), &frame);
        assert_eq!(plain, [0; VNET_HDR_LEN], "nothing asked, nothing offloaded");
        let csum = vnet_tx_header(&TxMeta::new().with_checksum_offload(tcp, 14, 34), &frame);
        assert_eq!(csum[0], VNET_F_NEEDS_CSUM);
        assert_eq!(csum[1], VNET_GSO_NONE);
        assert_eq!(u16::from_ne_bytes([csum[6], csum[7]]), 34, "csum_start");
        assert_eq!(u16::from_ne_bytes([csum[8], csum[9]]), 16, "TCP's field");
        let mss = NonZeroU16::new(1448).unwrap();
        let gso = vnet_tx_header(
            &TxMeta::new()
                .with_checksum_offload(tcp, 14, 34)
                .with_tso_mss(mss),
            &frame,
        );
        assert_eq!(gso[1], VNET_GSO_TCPV4);
        assert_eq!(u16::from_ne_bytes([gso[2], gso[3]]), 34 + 32, "hdr_len");
        assert_eq!(u16::from_ne_bytes([gso[4], gso[5]]), 1448, "gso_size");
        let udp = ChecksumSet::of(ChecksumProto::Udp);
        let u = vnet_tx_header(&TxMeta::new().with_checksum_offload(udp, 14, 34), &frame);
        assert_eq!(u16::from_ne_bytes([u[8], u[9]]), 6, "UDP's field");
    }

    /// A kept frame takes the receive buffer with it (the frame at its
    /// start, its length given); a pooled buffer takes its place, and a
    /// fresh one when the pool is empty.
    #[test]
    fn a_kept_frame_takes_the_buffer_and_the_pool_refills_it() {
        let mut rx_buf = vec![7u8; RX_BUF_LEN];
        let mut pool = vec![vec![1u8; RX_BUF_LEN]];
        let token = TapRxToken {
            buf: &mut rx_buf,
            len: 40_000,
            meta: RxMeta::default(),
            pool: &mut pool,
        };
        assert!(token.can_keep());
        let (seen, kept) = token.consume_keep(|f| (f.len(), true));
        assert_eq!(seen, 40_000);
        let kept = kept.expect("kept");
        assert_eq!(
            (kept.len, kept.buf.len(), kept.buf[0]),
            (40_000, RX_BUF_LEN, 7)
        );
        assert_eq!(rx_buf[0], 1, "the pooled buffer is the device's now");
        assert!(pool.is_empty());
        let token = TapRxToken {
            buf: &mut rx_buf,
            len: 100,
            meta: RxMeta::default(),
            pool: &mut pool,
        };
        let (_, kept2) = token.consume_keep(|_| ((), true));
        assert_eq!(kept2.expect("kept").buf[0], 1);
        assert_eq!((rx_buf.len(), rx_buf[0]), (RX_BUF_LEN, 0), "a fresh buffer");
        // Declined: nothing leaves.
        let token = TapRxToken {
            buf: &mut rx_buf,
            len: 100,
            meta: RxMeta::default(),
            pool: &mut pool,
        };
        assert!(token.consume_keep(|_| ((), false)).1.is_none());
        assert_eq!(rx_buf.len(), RX_BUF_LEN);
    }

    #[test]
    fn received_headers_vouch_for_partial_and_verified_checksums() {
        let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
        let partial = [VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 0, 0, 0, 0, 34, 0, 16, 0];
        assert_eq!(vnet_rx_meta(&partial).checksum_verified, l4);
        let valid = [VNET_F_DATA_VALID, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(vnet_rx_meta(&valid).checksum_verified, l4);
        let none = [0u8; VNET_HDR_LEN];
        assert!(vnet_rx_meta(&none).checksum_verified.is_empty());
        assert!(vnet_rx_meta(&[]).checksum_verified.is_empty());
    }
}
