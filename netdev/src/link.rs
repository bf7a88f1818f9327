//! In-memory links: a point-to-point [`wire`] and a shared-medium [`hub`],
//! with optional latency and bandwidth driven by the caller's clock.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::mem;

use lamina_netbuf::{Duration, Instant};

use crate::KeptFrame;
use crate::frame::{Frame, FrameQueue, FreeList};
use crate::{
    Capabilities, ChecksumCapabilities, ChecksumProto, ChecksumSet, Device, Error, Medium, RxEvent,
    RxMeta, RxToken, Stats, Tso, TxMeta, TxToken,
};
use bytes::Bytes;

/// How an in-memory link behaves. Start from [`LinkConfig::new`] (or
/// `Default`) and adjust:
///
/// ```
/// use lamina_netdev::LinkConfig;
/// use lamina_netbuf::Duration;
/// let cfg = LinkConfig::new()
///     .with_latency(Duration::from_millis(10))
///     .with_bandwidth(10_000_000)
///     .with_queue_len(32);
/// assert_eq!(cfg.mtu, 1500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LinkConfig {
    /// What the link carries (default Ethernet).
    pub medium: Medium,
    /// The IP MTU of every port (default 1500).
    pub mtu: usize,
    /// Frames each port can have waiting, in flight or arrived (default
    /// 64, at least 1). A frame that finds the receiver's queue full is
    /// dropped and counted in that receiver's `rx_dropped`: tail drop, as
    /// at a bottleneck.
    pub queue_len: usize,
    /// Propagation delay added to every frame (default zero).
    pub latency: Duration,
    /// Line rate in bits per second; `None` (or `Some(0)`) for infinite.
    /// A frame of `n` bytes occupies its sender's transmitter (a wire, full
    /// duplex) or the whole medium (a hub, half duplex) for `8n / rate`
    /// seconds after the previous frame's end; only frame bytes count (no
    /// preamble, FCS or inter-frame gap).
    pub bandwidth: Option<u64>,
    /// Checksum offloads the ports advertise (default none). Checksums the
    /// stack leaves to the device are reported verified to the receiver:
    /// the bytes never leave memory, as with Linux `veth`.
    pub checksum: ChecksumCapabilities,
    /// Burst size the ports advertise.
    pub max_burst: Option<usize>,
    /// Whether the ports advertise TCP segmentation offload (up to a
    /// 64 KiB IPv4 packet; default off). A port cuts a large TCP frame it
    /// is given ([`TxMeta::tso_mss`]) into frames of the MTU with
    /// [`gso::segment_tcp_ipv4`](crate::gso::segment_tcp_ipv4), their
    /// TCP checksums left as offloaded ones are (the receiver is told they
    /// are verified); a piece that finds the receiver's queue full is
    /// dropped as any frame is. Needs TCP checksum offload in
    /// [`checksum`](Self::checksum) to be of use: the stack segments only
    /// what it leaves the checksum of to the device.
    pub tso: bool,
    /// Whether the ports take transmitted payloads by reference
    /// ([`Capabilities::shared_payloads`], default on): a frame sent with
    /// [`TxToken::consume_shared`] travels as its headers and a reference
    /// to the sender's payload, and a receiver polling with
    /// [`Device::poll_rx_keep`] gets it so ([`RxEvent::Shared`]); one
    /// calling [`Device::receive`] gets the frame whole. Off, payloads
    /// are copied into link buffers as any frame is.
    pub shared_payloads: bool,
}

impl LinkConfig {
    /// Ethernet, MTU 1500, 64 frames per port, no latency, unlimited
    /// bandwidth, no offloads.
    pub const fn new() -> LinkConfig {
        LinkConfig {
            medium: Medium::Ethernet,
            mtu: 1500,
            queue_len: 64,
            latency: Duration::ZERO,
            bandwidth: None,
            checksum: ChecksumCapabilities::NONE,
            max_burst: None,
            tso: false,
            shared_payloads: true,
        }
    }

    /// This configuration with payloads taken by reference on or off (see
    /// [`shared_payloads`](Self::shared_payloads)).
    #[must_use]
    pub const fn with_shared_payloads(mut self, on: bool) -> LinkConfig {
        self.shared_payloads = on;
        self
    }

    /// This configuration with another medium.
    #[must_use]
    pub const fn with_medium(mut self, medium: Medium) -> LinkConfig {
        self.medium = medium;
        self
    }

    /// This configuration with another MTU.
    #[must_use]
    pub const fn with_mtu(mut self, mtu: usize) -> LinkConfig {
        self.mtu = mtu;
        self
    }

    /// This configuration with another per-port queue length.
    #[must_use]
    pub const fn with_queue_len(mut self, queue_len: usize) -> LinkConfig {
        self.queue_len = queue_len;
        self
    }

    /// This configuration with a propagation delay.
    #[must_use]
    pub const fn with_latency(mut self, latency: Duration) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This configuration with a line rate in bits per second.
    #[must_use]
    pub const fn with_bandwidth(mut self, bits_per_second: u64) -> LinkConfig {
        self.bandwidth = Some(bits_per_second);
        self
    }

    /// This configuration with checksum offloads.
    #[must_use]
    pub const fn with_checksum(mut self, checksum: ChecksumCapabilities) -> LinkConfig {
        self.checksum = checksum;
        self
    }

    /// This configuration with TCP segmentation offload on (see
    /// [`tso`](Self::tso)).
    #[must_use]
    pub const fn with_tso(mut self) -> LinkConfig {
        self.tso = true;
        self
    }

    /// This configuration advertising a preferred burst size.
    #[must_use]
    pub const fn with_max_burst(mut self, max_burst: usize) -> LinkConfig {
        self.max_burst = Some(max_burst);
        self
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::new(self.medium, self.mtu);
        caps.checksum = self.checksum;
        caps.max_burst = self.max_burst;
        caps.shared_payloads = self.shared_payloads;
        if self.tso {
            caps.tso = Some(Tso::new(GSO_MAX_FRAME.max(caps.max_frame_len())));
        }
        caps
    }
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig::new()
    }
}

/// A point-to-point link joining two devices: what one end transmits, the
/// other receives, in order, `latency` plus serialization time later.
///
/// Both ends share the link's state through `Rc<RefCell<_>>`: a simulation
/// of hosts runs in one thread, driven by one (fake) clock, so there is no
/// lock on the fast path and the crate needs neither `std` nor `unsafe`.
/// The ends are therefore not `Send`; run each simulated network in one
/// thread.
///
/// ```
/// use lamina_netdev::{wire, Device, LinkConfig, RxToken, TxToken};
/// use lamina_netbuf::{Duration, Instant};
///
/// let (mut a, mut b) = wire(LinkConfig::new().with_latency(Duration::from_millis(3)));
/// let t0 = Instant::ZERO;
/// a.transmit(t0).unwrap().consume(60, |f| f.fill(0xAB))?;
/// assert!(b.receive(t0).is_none(), "still in flight");
/// assert_eq!(b.poll_at(), Some(Instant::from_millis(3)));
/// let (rx, _reply) = b.receive(Instant::from_millis(3)).unwrap();
/// assert_eq!(rx.consume(|f| f.len()), 60);
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
pub fn wire(config: LinkConfig) -> (Port, Port) {
    let link = Rc::new(RefCell::new(Link::new(config, 2, false)));
    (
        Port {
            link: Rc::clone(&link),
            index: 0,
        },
        Port { link, index: 1 },
    )
}

/// A hub of `ports` ports: every frame a port transmits is delivered to all
/// the others (copied for every receiver but one). The medium is shared
/// (half duplex): with a bandwidth limit, one frame at a time occupies it.
///
/// ```
/// use lamina_netdev::{hub, Device, LinkConfig, RxToken, TxToken};
/// use lamina_netbuf::Instant;
///
/// let mut ports = hub(3, LinkConfig::new());
/// let now = Instant::ZERO;
/// ports[0].transmit(now).unwrap().consume(2, |f| f.copy_from_slice(b"hi"))?;
/// assert!(ports[0].receive(now).is_none(), "no echo to the sender");
/// for p in &mut ports[1..] {
///     let (rx, _) = p.receive(now).unwrap();
///     assert_eq!(rx.consume(|f| f.to_vec()), b"hi");
/// }
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
pub fn hub(ports: usize, config: LinkConfig) -> Vec<Port> {
    let link = Rc::new(RefCell::new(Link::new(config, ports, true)));
    (0..ports)
        .map(|index| Port {
            link: Rc::clone(&link),
            index,
        })
        .collect()
}

#[derive(Debug)]
struct Link {
    config: LinkConfig,
    caps: Capabilities,
    ports: Vec<PortState>,
    free: FreeList,
    /// Per transmitter (wire) or for the whole medium (hub): when the last
    /// frame's serialization ends, in nanoseconds.
    busy_until_ns: Vec<u64>,
    shared_medium: bool,
    /// Segmentation offload's working space: the large frame, and a
    /// piece (allocated at first use).
    gso_frame: Vec<u8>,
    gso_piece: Vec<u8>,
}

/// The longest frame a port with segmentation offload takes: a 64 KiB
/// IPv4 packet behind an Ethernet header.
const GSO_MAX_FRAME: usize = 65_535 + 14;

#[derive(Debug)]
struct PortState {
    queue: FrameQueue,
    /// The shared payloads of the queued frames that have one, in order.
    payloads: VecDeque<Bytes>,
    stats: Stats,
}

impl Link {
    fn new(mut config: LinkConfig, ports: usize, shared_medium: bool) -> Link {
        config.queue_len = config.queue_len.max(1);
        let caps = config.capabilities();
        // Every queued frame holds a buffer, and each port can have a receive
        // and a transmit buffer out at once.
        let limit = ports
            .saturating_mul(config.queue_len.saturating_add(2))
            .saturating_add(2);
        Link {
            config,
            caps,
            ports: (0..ports)
                .map(|_| PortState {
                    queue: FrameQueue::with_capacity(config.queue_len),
                    payloads: VecDeque::new(),
                    stats: Stats::new(),
                })
                .collect(),
            free: FreeList::new(caps.max_frame_len(), limit),
            busy_until_ns: alloc::vec![0; if shared_medium { 1 } else { ports }],
            shared_medium,
            gso_frame: Vec::new(),
            gso_piece: Vec::new(),
        }
    }

    /// When a frame of `len` bytes sent by `sender` at `now` arrives.
    #[inline]
    fn schedule(&mut self, sender: usize, len: usize, now: Instant) -> Instant {
        if self.config.bandwidth.is_none() && self.config.latency.is_zero() {
            return now;
        }
        let slot = if self.shared_medium { 0 } else { sender };
        let now_ns = now.total_micros().saturating_mul(1_000);
        let serialization_ns = match self.config.bandwidth {
            Some(bps) if bps > 0 => {
                let bits = (len as u128).saturating_mul(8);
                let ns = bits.saturating_mul(1_000_000_000).div_ceil(u128::from(bps));
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
            _ => 0,
        };
        let end_ns = match self.busy_until_ns.get_mut(slot) {
            Some(busy) => {
                let end = now_ns.max(*busy).saturating_add(serialization_ns);
                *busy = end;
                end
            }
            None => now_ns,
        };
        Instant::from_micros(end_ns.div_ceil(1_000)).saturating_add(self.config.latency)
    }

    /// A link buffer for a frame of `len` bytes from `sender`, or why
    /// there is none (counted as a transmit error).
    #[inline(always)]
    fn take_buf(&mut self, sender: usize, len: usize) -> Result<Vec<u8>, Error> {
        let max = self.free.buf_len();
        let err = if len > max {
            Error::FrameTooLong { len, max }
        } else if let Some(buf) = self.free.take() {
            return Ok(buf);
        } else {
            Error::NoBuffer
        };
        if let Some(p) = self.ports.get_mut(sender) {
            p.stats.tx_errors = p.stats.tx_errors.wrapping_add(1);
        }
        Err(err)
    }

    /// Segmentation offload's buffer for a frame of `len` bytes from
    /// `sender` (longer than a link buffer), or why there is none.
    fn gso_scratch(&mut self, sender: usize, len: usize) -> Result<Vec<u8>, Error> {
        let max = self.caps.max_tx_len();
        if len > max {
            if let Some(p) = self.ports.get_mut(sender) {
                p.stats.tx_errors = p.stats.tx_errors.wrapping_add(1);
            }
            return Err(Error::FrameTooLong { len, max });
        }
        let mut frame = mem::take(&mut self.gso_frame);
        frame.clear();
        frame.resize(len, 0);
        Ok(frame)
    }

    /// Segmentation offload: `frame` goes out cut into frames of `mss`
    /// payload bytes (IPv4 header at `l3`), each delivered as transmitted;
    /// the buffer is kept for the next.
    fn transmit_segmented(
        &mut self,
        sender: usize,
        frame: Vec<u8>,
        mss: u16,
        l3: u16,
        now: Instant,
        offload: ChecksumSet,
    ) {
        let mut piece = mem::take(&mut self.gso_piece);
        let mut pieces: Vec<(Vec<u8>, usize)> = Vec::new();
        let checksum = if offload.contains(ChecksumProto::Tcp) {
            crate::gso::TcpChecksum::Partial
        } else {
            crate::gso::TcpChecksum::Full
        };
        let cut = crate::gso::segment_tcp_ipv4(
            &frame,
            usize::from(l3),
            usize::from(mss),
            checksum,
            &mut piece,
            |p| match self.free.take() {
                Some(mut buf) if p.len() <= buf.len() => {
                    if let Some(dst) = buf.get_mut(..p.len()) {
                        dst.copy_from_slice(p);
                    }
                    pieces.push((buf, p.len()));
                }
                Some(buf) => self.free.give(buf),
                None => {}
            },
        );
        self.gso_frame = frame;
        self.gso_piece = piece;
        if cut.is_err()
            && let Some(p) = self.ports.get_mut(sender)
        {
            p.stats.tx_errors = p.stats.tx_errors.wrapping_add(1);
        }
        for (buf, n) in pieces {
            self.deliver(sender, buf, n, now, offload);
        }
    }

    /// Hands a frame from `sender` to every other port.
    #[inline]
    fn deliver(
        &mut self,
        sender: usize,
        buf: Vec<u8>,
        len: usize,
        now: Instant,
        offload: ChecksumSet,
    ) {
        self.deliver_with(sender, buf, len, now, offload, None);
    }

    /// As [`deliver`](Self::deliver), for a frame whose payload (after
    /// `buf[..len]`) the sender lent by reference.
    fn deliver_shared(
        &mut self,
        sender: usize,
        buf: Vec<u8>,
        len: usize,
        now: Instant,
        offload: ChecksumSet,
        payload: Bytes,
    ) {
        self.deliver_with(sender, buf, len, now, offload, Some(payload));
    }

    #[inline(always)]
    fn deliver_with(
        &mut self,
        sender: usize,
        buf: Vec<u8>,
        len: usize,
        now: Instant,
        offload: ChecksumSet,
        shared: Option<Bytes>,
    ) {
        let total = len + shared.as_ref().map_or(0, Bytes::len);
        if let Some(p) = self.ports.get_mut(sender) {
            p.stats.count_tx(total);
        }
        let frame = Frame::new(
            buf,
            len,
            self.schedule(sender, total, now),
            offload.intersection(self.caps.checksum.tx),
            shared.is_some(),
        );
        if self.shared_medium {
            self.deliver_to_all(sender, frame, shared);
            return;
        }
        // A wire: exactly one receiver, the other end; the buffer moves.
        match self.ports.get_mut(1 - (sender & 1)) {
            Some(port) => match port.queue.push_back(frame) {
                Ok(()) => {
                    if let Some(p) = shared {
                        port.payloads.push_back(p);
                    }
                }
                Err(frame) => {
                    port.stats.rx_dropped = port.stats.rx_dropped.wrapping_add(1);
                    self.free.give(frame.buf);
                }
            },
            None => self.free.give(frame.buf),
        }
    }

    /// A hub: a copy for every receiver but the last, which gets the
    /// buffer itself.
    fn deliver_to_all(&mut self, sender: usize, frame: Frame, shared: Option<Bytes>) {
        let queue_len = self.config.queue_len;
        let last = (0..self.ports.len()).rev().find(|i| *i != sender);
        let mut original = Some(frame);
        for (i, port) in self.ports.iter_mut().enumerate() {
            if i == sender {
                continue;
            }
            if port.queue.len() >= queue_len {
                port.stats.rx_dropped = port.stats.rx_dropped.wrapping_add(1);
                continue;
            }
            let copy = if Some(i) == last {
                original.take()
            } else {
                match (self.free.take(), original.as_ref()) {
                    (Some(mut buf), Some(src)) => {
                        if let Some(dst) = buf.get_mut(..src.len) {
                            dst.copy_from_slice(src.data());
                        }
                        Some(Frame::new(
                            buf,
                            src.len,
                            src.at,
                            src.rx_meta().checksum_verified,
                            src.shared,
                        ))
                    }
                    (buf, _) => {
                        if let Some(buf) = buf {
                            self.free.give(buf);
                        }
                        None
                    }
                }
            };
            match copy {
                Some(f) => match port.queue.push_back(f) {
                    Ok(()) => {
                        if let Some(p) = &shared {
                            port.payloads.push_back(p.clone());
                        }
                    }
                    // Not full: checked above.
                    Err(f) => {
                        port.stats.rx_dropped = port.stats.rx_dropped.wrapping_add(1);
                        self.free.give(f.buf);
                    }
                },
                None => port.stats.rx_dropped = port.stats.rx_dropped.wrapping_add(1),
            }
        }
        if let Some(f) = original {
            self.free.give(f.buf);
        }
    }
}

/// One end of a [`wire`] or one port of a [`hub`]: a [`Device`].
#[derive(Debug)]
pub struct Port {
    link: Rc<RefCell<Link>>,
    index: usize,
}

impl Port {
    /// This port's number: 0 or 1 on a wire, `0..n` on a hub.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Frames queued towards this port (in flight or arrived).
    pub fn queued(&self) -> usize {
        self.link
            .borrow()
            .ports
            .get(self.index)
            .map_or(0, |p| p.queue.len())
    }

    /// The link's configuration.
    pub fn config(&self) -> LinkConfig {
        self.link.borrow().config
    }
}

/// The receive token of a [`Port`].
#[derive(Debug)]
pub struct PortRxToken<'a> {
    link: &'a RefCell<Link>,
    frame: Frame,
}

/// The transmit token of a [`Port`].
#[derive(Debug)]
pub struct PortTxToken<'a> {
    link: &'a RefCell<Link>,
    index: usize,
    now: Instant,
    /// What the stack asked for this frame.
    plan: TxPlan,
}

/// What a transmit token was told of its frame ([`TxMeta`]): the
/// checksums left to the device (bits 0..8), and the segment size (bits
/// 16..32, zero for none) and IPv4 header offset (bits 32..48) of a
/// segmentation asked for. One word, written and moved whole: as narrow
/// fields, a token built and handed to a receive handler was read back by
/// a wider load than their stores, which stalled every received frame.
#[derive(Debug, Clone, Copy)]
struct TxPlan(u64);

impl TxPlan {
    /// Nothing asked.
    const NONE: TxPlan = TxPlan(0);

    #[inline]
    fn new(meta: &TxMeta) -> TxPlan {
        let tso = meta.tso_mss.map_or(0, |m| {
            u64::from(m.get()) << 16 | u64::from(meta.l3_offset) << 32
        });
        TxPlan(u64::from(meta.checksum_offload.bits()) | tso)
    }

    #[inline]
    fn offload(self) -> ChecksumSet {
        ChecksumSet::from_bits(self.0 as u8)
    }

    /// The segment size and the IPv4 header's offset.
    #[inline]
    fn tso(self) -> Option<(u16, u16)> {
        let mss = (self.0 >> 16) as u16;
        (mss != 0).then_some((mss, (self.0 >> 32) as u16))
    }
}

impl RxToken for PortRxToken<'_> {
    #[inline]
    fn meta(&self) -> RxMeta {
        self.frame.rx_meta()
    }

    #[inline]
    fn consume<R, F>(mut self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(self.frame.data_mut())
    }

    #[inline]
    fn can_keep(&self) -> bool {
        true
    }

    /// A kept buffer leaves the link's bounded set of buffers (a new one is
    /// allocated in its place when needed); [`Port::recycle`] takes it
    /// back.
    #[inline]
    fn consume_keep<R, F>(mut self, f: F) -> (R, Option<KeptFrame>)
    where
        F: FnOnce(&mut [u8]) -> (R, bool),
    {
        let (r, keep) = f(self.frame.data_mut());
        if !keep {
            return (r, None);
        }
        let buf = mem::take(&mut self.frame.buf);
        self.link.borrow_mut().free.release();
        let len = self.frame.len;
        (r, Some(KeptFrame { buf, len }))
    }
}

impl Drop for PortRxToken<'_> {
    #[inline]
    fn drop(&mut self) {
        let buf = mem::take(&mut self.frame.buf);
        self.link.borrow_mut().free.give(buf);
    }
}

impl TxToken for PortTxToken<'_> {
    #[inline]
    fn set_meta(&mut self, meta: TxMeta) {
        self.plan = TxPlan::new(&meta);
    }

    #[inline]
    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        // The buffer first (a link buffer, or segmentation offload's own
        // for a frame to cut), then `f` once, with the link not borrowed.
        let (mut buf, segment) = {
            let mut link = self.link.borrow_mut();
            match self.plan.tso() {
                Some((mss, l3)) if link.config.tso && len > link.free.buf_len() => {
                    (link.gso_scratch(self.index, len)?, Some((mss, l3)))
                }
                _ => (link.take_buf(self.index, len)?, None),
            }
        };
        let r = f(buf.get_mut(..len).unwrap_or_default());
        let mut link = self.link.borrow_mut();
        match segment {
            Some((mss, l3)) => {
                link.transmit_segmented(self.index, buf, mss, l3, self.now, self.plan.offload())
            }
            None => link.deliver(self.index, buf, len, self.now, self.plan.offload()),
        }
        Ok(r)
    }

    /// Takes a buffer this link lent ([`Port`]'s `tx_buffer`, or any of the
    /// link's size) as the frame, without a copy, while the link has fewer
    /// than its bound of buffers; copies it otherwise.
    #[inline]
    fn consume_owned(self, buf: Vec<u8>, len: usize) -> Result<Option<Vec<u8>>, Error> {
        let mut link = self.link.borrow_mut();
        if len <= buf.len() && link.free.rejoin(&buf) {
            link.deliver(self.index, buf, len, self.now, self.plan.offload());
            return Ok(None);
        }
        drop(link);
        crate::device::copy_owned(self, buf, len)
    }

    /// Keeps `payload` by reference: the frame travels as the headers in a
    /// link buffer and the shared payload, and reaches a receiver that
    /// polls with [`Device::poll_rx_keep`] as [`RxEvent::Shared`] (others
    /// get it whole). A frame to segment is copied as by the default.
    #[inline]
    fn consume_shared<R, F>(self, head_len: usize, payload: Bytes, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let len = head_len.saturating_add(payload.len());
        let mut buf = {
            let mut link = self.link.borrow_mut();
            let fits = len <= link.free.buf_len();
            let segmented = self.plan.tso().is_some() && link.config.tso;
            if !link.config.shared_payloads || (!fits && segmented) {
                drop(link);
                return self.consume(len, |buf| {
                    crate::device::split_copy(buf, head_len, &payload, f)
                });
            }
            link.take_buf(self.index, len)?
        };
        let r = f(buf.get_mut(..head_len).unwrap_or_default());
        let mut link = self.link.borrow_mut();
        if payload.is_empty() {
            link.deliver(self.index, buf, head_len, self.now, self.plan.offload());
        } else {
            link.deliver_shared(
                self.index,
                buf,
                head_len,
                self.now,
                self.plan.offload(),
                payload,
            );
        }
        Ok(r)
    }
}

impl Device for Port {
    type RxToken<'a> = PortRxToken<'a>;
    type TxToken<'a> = PortTxToken<'a>;

    #[inline]
    fn receive(&mut self, now: Instant) -> Option<(PortRxToken<'_>, PortTxToken<'_>)> {
        let (frame, _, shared) = self.pop_frame(now)?;
        if shared {
            return Some(self.flattened(frame, now));
        }
        // (Built here rather than by `tokens`: measured, the per-frame
        // path of every small frame comes out shorter.)
        Some((
            PortRxToken {
                link: &self.link,
                frame,
            },
            PortTxToken {
                link: &self.link,
                index: self.index,
                now,
                plan: TxPlan::NONE,
            },
        ))
    }

    /// As [`Device::poll_rx_keep`]'s default, but a frame whose payload
    /// came by reference reaches the handler as [`RxEvent::Shared`]
    /// (headers and payload apart, nothing copied).
    #[inline(always)]
    fn poll_rx_keep<F>(&mut self, now: Instant, budget: usize, mut handler: F) -> usize
    where
        F: FnMut(RxEvent<'_, PortTxToken<'_>>) -> bool,
    {
        let mut done = 0;
        while done < budget {
            let Some((mut frame, meta, shared)) = self.pop_frame(now) else {
                break;
            };
            let reply = PortTxToken {
                link: &self.link,
                index: self.index,
                now,
                plan: TxPlan::NONE,
            };
            if shared {
                self.shared_event(frame, meta, reply, &mut handler);
            } else {
                // As `poll_rx`, without tokens: the buffer goes back to
                // the free list, or to the handler when it keeps it.
                let keep = handler(RxEvent::Frame {
                    frame: frame.data_mut(),
                    meta,
                    reply,
                    can_keep: true,
                });
                let mut link = self.link.borrow_mut();
                if keep {
                    link.free.release();
                    drop(link);
                    handler(RxEvent::Kept(KeptFrame {
                        buf: frame.buf,
                        len: frame.len,
                    }));
                } else {
                    link.free.give(frame.buf);
                }
            }
            done += 1;
        }
        done
    }
    /// As the default, without a receive token per frame: each frame is
    /// taken from the queue, handed over, and its buffer given back.
    #[inline]
    fn poll_rx<F>(&mut self, now: Instant, budget: usize, mut handler: F) -> usize
    where
        F: FnMut(&mut [u8], RxMeta, PortTxToken<'_>),
    {
        let mut done = 0;
        while done < budget {
            let Some((frame, meta, shared)) = self.pop_frame(now) else {
                break;
            };
            // By value through the rare path: a frame whose address is
            // taken (`append`) lives in memory on every path, its fields
            // reloaded after wider copies of them (store-forwarding
            // stalls).
            let mut frame = if shared { self.whole(frame) } else { frame };
            let reply = PortTxToken {
                link: &self.link,
                index: self.index,
                now,
                plan: TxPlan::NONE,
            };
            handler(frame.data_mut(), meta, reply);
            self.link.borrow_mut().free.give(frame.buf);
            done += 1;
        }
        done
    }

    #[inline]
    fn transmit(&mut self, now: Instant) -> Option<PortTxToken<'_>> {
        Some(PortTxToken {
            link: &self.link,
            index: self.index,
            now,
            plan: TxPlan::NONE,
        })
    }

    /// Takes back a kept frame's buffer into the link's free list (one of
    /// the link's size, while the link has fewer than its bound).
    /// (Inlined: a buffer handed over through memory was read back by
    /// wider loads than its fields' stores, a stall per buffer.)
    #[inline(always)]
    fn recycle(&mut self, buf: Vec<u8>) {
        self.link.borrow_mut().free.adopt(buf);
    }

    /// A buffer from the link's free list (allocated while the link is
    /// below its bound), lent: it leaves the bounded set until it comes
    /// back as a frame through `consume_owned`, or through
    /// [`recycle`](Device::recycle).
    #[inline]
    fn tx_buffer(&mut self) -> Option<Vec<u8>> {
        self.link.borrow_mut().free.lend()
    }

    fn capabilities(&self) -> Capabilities {
        self.link.borrow().caps
    }

    fn stats(&self) -> Stats {
        self.link
            .borrow()
            .ports
            .get(self.index)
            .map_or_else(Stats::new, |p| p.stats)
    }

    fn poll_at(&self) -> Option<Instant> {
        let link = self.link.borrow();
        link.ports.get(self.index)?.queue.front().map(|f| f.at)
    }
}

impl Port {
    /// The next frame due at `now`, counted with its own bytes only (a
    /// payload lent by reference that follows it is counted when taken,
    /// by [`take_shared`](Self::take_shared)), what the receiver is told
    /// of it, and whether such a payload follows. Not a tuple with the
    /// payload: moved as a pair, the frame's last bytes were copied
    /// through the stack by overlapping loads that stalled on the stores
    /// before them (over a quarter of the samples of a ping's receive
    /// loop). The metadata and the flag are read in the queue, not from
    /// the moved frame, for the same reason.
    #[inline(always)]
    fn pop_frame(&mut self, now: Instant) -> Option<(Frame, RxMeta, bool)> {
        let mut link = self.link.borrow_mut();
        let port = link.ports.get_mut(self.index)?;
        let front = port.queue.front()?;
        if front.at > now {
            return None;
        }
        let (meta, shared) = (front.rx_meta(), front.shared);
        let frame = port.queue.pop_front()?;
        port.stats.count_rx(frame.len);
        Some((frame, meta, shared))
    }

    /// `frame` (popped, its `shared` set) with the payload that followed
    /// it appended.
    #[cold]
    #[inline(never)]
    fn whole(&self, mut frame: Frame) -> Frame {
        if let Some(payload) = self.take_shared() {
            frame.append(&payload);
        }
        frame
    }

    /// Hands `frame`, popped with its `shared` flag set, to a keeping
    /// receiver as [`RxEvent::Shared`]: its headers and the payload that
    /// followed it, apart.
    #[cold]
    #[inline(never)]
    fn shared_event<F>(&self, frame: Frame, meta: RxMeta, reply: PortTxToken<'_>, handler: &mut F)
    where
        F: FnMut(RxEvent<'_, PortTxToken<'_>>) -> bool,
    {
        let Some(payload) = self.take_shared() else {
            // (A flag without its payload: not sent by this link.)
            self.link.borrow_mut().free.give(frame.buf);
            return;
        };
        let mut rx = PortRxToken {
            link: &self.link,
            frame,
        };
        handler(RxEvent::Shared {
            head: rx.frame.data_mut(),
            payload,
            meta,
            reply,
        });
    }

    /// The payload lent by reference that follows the frame last popped
    /// (one whose `shared` is set), counted as received bytes.
    #[cold]
    fn take_shared(&self) -> Option<Bytes> {
        let mut link = self.link.borrow_mut();
        let port = link.ports.get_mut(self.index)?;
        let payload = port.payloads.pop_front()?;
        port.stats.rx_bytes = port.stats.rx_bytes.wrapping_add(payload.len() as u64);
        Some(payload)
    }

    /// A frame whose payload came by reference, handed over whole by
    /// [`Device::receive`]: the payload copied behind the headers (a link
    /// buffer holds any frame the link carries).
    #[cold]
    fn flattened(&self, frame: Frame, now: Instant) -> (PortRxToken<'_>, PortTxToken<'_>) {
        self.tokens(self.whole(frame), now)
    }

    /// The tokens to hand `frame` over, with one to reply.
    #[inline(always)]
    fn tokens(&self, frame: Frame, now: Instant) -> (PortRxToken<'_>, PortTxToken<'_>) {
        (
            PortRxToken {
                link: &self.link,
                frame,
            },
            PortTxToken {
                link: &self.link,
                index: self.index,
                now,
                plan: TxPlan::NONE,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port with segmentation offload cuts a large TCP frame into
    /// frames of the MTU, delivered in order, their payloads the frame's.
    #[test]
    fn a_tso_port_cuts_large_frames() {
        let caps = ChecksumCapabilities::ALL;
        let (mut a, mut b) = wire(LinkConfig::new().with_checksum(caps).with_tso());
        assert!(a.capabilities().max_tx_len() > 60_000);
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let mut frame = alloc::vec![0u8; 14 + 20 + 20];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        frame[14 + 9] = 6;
        frame[34 + 12] = 5 << 4;
        frame[34 + 13] = 0x18;
        frame.extend_from_slice(&payload);
        let mut tx = a.transmit(Instant::ZERO).unwrap();
        let mss = core::num::NonZeroU16::new(1460).unwrap();
        tx.set_meta(
            TxMeta::new()
                .with_checksum_offload(ChecksumSet::of(ChecksumProto::Tcp), 14, 34)
                .with_tso_mss(mss),
        );
        tx.consume(frame.len(), |f| f.copy_from_slice(&frame))
            .unwrap();
        let mut got = Vec::new();
        let mut n = 0;
        while let Some((rx, _)) = b.receive(Instant::ZERO) {
            assert!(rx.meta().checksum_verified.contains(ChecksumProto::Tcp));
            rx.consume(|f| {
                assert!(f.len() <= 1514);
                got.extend_from_slice(&f[54..]);
            });
            n += 1;
        }
        assert_eq!(n, 7);
        assert_eq!(got, payload);
        assert_eq!(b.stats().rx_packets, 7);
    }
    use crate::RxEvent;
    use alloc::vec;

    fn send(p: &mut Port, now: Instant, tag: u8, len: usize) {
        p.transmit(now)
            .unwrap()
            .consume(len, |f| {
                f.fill(0);
                f[0] = tag;
            })
            .unwrap();
    }

    fn recv(p: &mut Port, now: Instant) -> Option<(u8, usize, RxMeta)> {
        let (rx, _) = p.receive(now)?;
        let meta = rx.meta();
        Some(rx.consume(|f| (f[0], f.len(), meta)))
    }

    #[test]
    fn wire_delivers_after_latency_and_reports_poll_at() {
        let (mut a, mut b) = wire(LinkConfig::new().with_latency(Duration::from_millis(2)));
        let t0 = Instant::from_millis(10);
        send(&mut a, t0, 1, 60);
        assert_eq!(b.poll_at(), Some(Instant::from_millis(12)));
        assert!(recv(&mut b, Instant::from_micros(11_999)).is_none());
        let (tag, len, meta) = recv(&mut b, Instant::from_millis(12)).unwrap();
        assert_eq!((tag, len), (1, 60));
        assert_eq!(meta.timestamp, Some(Instant::from_millis(12)));
        assert_eq!(b.poll_at(), None);
        assert!(recv(&mut a, Instant::MAX).is_none(), "no echo");
    }

    #[test]
    fn bandwidth_serializes_back_to_back_frames() {
        // 1 Mbit/s: 125 bytes take exactly 1 ms on the wire.
        let (mut a, mut b) = wire(
            LinkConfig::new()
                .with_bandwidth(1_000_000)
                .with_latency(Duration::from_millis(5)),
        );
        for tag in 0..3 {
            send(&mut a, Instant::ZERO, tag, 125);
        }
        for (tag, ms) in [(0, 6), (1, 7), (2, 8)] {
            assert_eq!(b.poll_at(), Some(Instant::from_millis(ms)));
            assert!(recv(&mut b, Instant::from_micros(ms * 1000 - 1)).is_none());
            assert_eq!(recv(&mut b, Instant::from_millis(ms)).unwrap().0, tag);
        }
        // Once the link is idle, a frame starts at its own `now`.
        send(&mut a, Instant::from_millis(100), 9, 125);
        assert_eq!(b.poll_at(), Some(Instant::from_millis(106)));
    }

    #[test]
    fn wire_is_full_duplex() {
        let (mut a, mut b) = wire(LinkConfig::new().with_bandwidth(1_000_000));
        send(&mut a, Instant::ZERO, 1, 125);
        send(&mut b, Instant::ZERO, 2, 125);
        // Both directions finish after 1 ms: neither waited for the other.
        assert_eq!(a.poll_at(), Some(Instant::from_millis(1)));
        assert_eq!(b.poll_at(), Some(Instant::from_millis(1)));
        assert_eq!(recv(&mut a, Instant::from_millis(1)).unwrap().0, 2);
        assert_eq!(recv(&mut b, Instant::from_millis(1)).unwrap().0, 1);
    }

    #[test]
    fn sub_microsecond_serialization_accumulates_in_nanoseconds() {
        // 10 Gbit/s: a 125-byte frame takes 100 ns; ten take 1 us.
        let (mut a, mut b) = wire(LinkConfig::new().with_bandwidth(10_000_000_000));
        for tag in 0..10 {
            send(&mut a, Instant::ZERO, tag, 125);
        }
        let mut arrivals = vec![];
        while let Some((_, _, meta)) = recv(&mut b, Instant::MAX) {
            arrivals.push(meta.timestamp.unwrap().total_micros());
        }
        assert_eq!(arrivals, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn full_receive_queue_drops_and_counts_at_the_receiver() {
        let (mut a, mut b) = wire(LinkConfig::new().with_queue_len(3));
        for tag in 0..5 {
            send(&mut a, Instant::ZERO, tag, 60);
        }
        assert_eq!(b.queued(), 3);
        assert_eq!(b.stats().rx_dropped, 2);
        assert_eq!(a.stats().tx_packets, 5);
        let tags: Vec<u8> =
            core::iter::from_fn(|| recv(&mut b, Instant::ZERO).map(|r| r.0)).collect();
        assert_eq!(tags, [0, 1, 2], "tail drop keeps the oldest");
    }

    #[test]
    fn hub_delivers_to_every_other_port() {
        let mut ports = hub(4, LinkConfig::new());
        send(&mut ports[2], Instant::ZERO, 7, 100);
        for (i, p) in ports.iter_mut().enumerate() {
            let got = recv(p, Instant::ZERO);
            if i == 2 {
                assert!(got.is_none());
            } else {
                assert_eq!(got.map(|g| (g.0, g.1)), Some((7, 100)), "port {i}");
            }
        }
        assert_eq!(ports[2].stats().tx_packets, 1);
        assert_eq!(ports[0].stats().rx_packets, 1);
    }

    #[test]
    fn hub_medium_is_shared_half_duplex() {
        let mut ports = hub(3, LinkConfig::new().with_bandwidth(1_000_000));
        send(&mut ports[0], Instant::ZERO, 1, 125);
        send(&mut ports[1], Instant::ZERO, 2, 125);
        // The second sender waited for the first frame to leave the medium.
        assert_eq!(ports[2].poll_at(), Some(Instant::from_millis(1)));
        assert_eq!(recv(&mut ports[2], Instant::from_millis(1)).unwrap().0, 1);
        assert_eq!(ports[2].poll_at(), Some(Instant::from_millis(2)));
        assert_eq!(ports[0].poll_at(), Some(Instant::from_millis(2)));
    }

    #[test]
    fn oversized_transmit_fails_and_counts() {
        let (mut a, b) = wire(LinkConfig::new().with_mtu(100).with_medium(Medium::Ip));
        let err = a
            .transmit(Instant::ZERO)
            .unwrap()
            .consume(101, |_| ())
            .unwrap_err();
        assert!(matches!(err, Error::FrameTooLong { len: 101, max: 100 }));
        assert_eq!(a.stats().tx_errors, 1);
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn reply_token_from_receive_sends_back_over_the_wire() {
        let (mut a, mut b) = wire(LinkConfig::new());
        send(&mut a, Instant::ZERO, 1, 60);
        let n = b.poll_rx(Instant::ZERO, 8, |frame, _, reply| {
            let len = frame.len();
            frame[0] = 2; // rewrite in place, then echo
            reply
                .consume(len, |out| out.copy_from_slice(frame))
                .unwrap();
        });
        assert_eq!(n, 1);
        assert_eq!(recv(&mut a, Instant::ZERO).unwrap().0, 2);
    }

    #[test]
    fn steady_traffic_stays_within_the_buffer_bound() {
        let (mut a, mut b) = wire(LinkConfig::new().with_queue_len(8));
        for round in 0..500u32 {
            for _ in 0..(round % 11) {
                send(&mut a, Instant::ZERO, 0, 1514);
                send(&mut b, Instant::ZERO, 0, 64);
            }
            while recv(&mut b, Instant::ZERO).is_some() {}
            while recv(&mut a, Instant::ZERO).is_some() {}
        }
        let link = a.link.borrow();
        assert!(link.free.allocated_for_tests() <= 2 * (8 + 2) + 2);
    }

    #[test]
    fn a_kept_frame_leaves_the_link_and_comes_back_with_recycle() {
        let (mut a, mut b) = wire(LinkConfig::new().with_queue_len(4));
        send(&mut a, Instant::ZERO, 7, 100);
        let before = a.link.borrow().free.allocated_for_tests();
        let mut events = alloc::vec::Vec::new();
        let n = b.poll_rx_keep(Instant::ZERO, 8, |ev| match ev {
            RxEvent::Frame {
                frame, can_keep, ..
            } => {
                events.push((frame[0], frame.len(), can_keep));
                true
            }
            RxEvent::Kept(k) => {
                assert_eq!((k.buf[0], k.len), (7, 100));
                events.push((k.buf[0], usize::MAX, false));
                drop(k);
                false
            }
            RxEvent::Shared { .. } => panic!("sent whole"),
        });
        assert_eq!(n, 1);
        assert_eq!(events, [(7, 100, true), (7, usize::MAX, false)]);
        // The buffer left the link's accounting...
        assert_eq!(a.link.borrow().free.allocated_for_tests(), before - 1);
        // ...and a buffer of the link's size comes back in.
        let buf = vec![0u8; a.link.borrow().free.buf_len()];
        b.recycle(buf);
        assert_eq!(a.link.borrow().free.allocated_for_tests(), before);
        // One of another size is refused (dropped).
        b.recycle(vec![0u8; 10]);
        assert_eq!(a.link.borrow().free.allocated_for_tests(), before);
    }

    #[test]
    fn a_lent_buffer_goes_out_as_the_frame_itself() {
        let (mut a, mut b) = wire(LinkConfig::new().with_queue_len(4));
        let before = a.link.borrow().free.allocated_for_tests();
        let mut buf = a.tx_buffer().expect("a wire lends buffers");
        assert_eq!(buf.len(), a.capabilities().max_frame_len());
        // Lent: out of the link's accounting until it comes back.
        assert_eq!(a.link.borrow().free.allocated_for_tests(), before);
        let addr = buf.as_ptr() as usize;
        buf[..60].fill(9);
        buf[0] = 42;
        let t = a.transmit(Instant::ZERO).unwrap();
        assert!(matches!(t.consume_owned(buf, 60), Ok(None)));
        // Sent as it is: the receiver sees the bytes, in that very buffer.
        let mut seen = None;
        b.poll_rx_keep(Instant::ZERO, 4, |ev| match ev {
            RxEvent::Frame { frame, .. } => {
                seen = Some((frame[0], frame[59], frame.len(), frame.as_ptr() as usize));
                false
            }
            _ => false,
        });
        assert_eq!(seen, Some((42, 9, 60, addr)));
        assert_eq!(a.link.borrow().free.allocated_for_tests(), before + 1);
        // A buffer of another size is copied, and given back.
        let t = a.transmit(Instant::ZERO).unwrap();
        let back = t.consume_owned(vec![5u8; 80], 70).unwrap();
        assert_eq!(back.map(|b| b.len()), Some(80));
        let mut len = 0;
        b.poll_rx(Instant::ZERO, 4, |frame, _, _| len = frame.len());
        assert_eq!(len, 70);
        // A length beyond the buffer fails.
        let t = a.transmit(Instant::ZERO).unwrap();
        assert!(matches!(
            t.consume_owned(vec![0u8; 10], 11),
            Err(Error::FrameTooLong { len: 11, max: 10 })
        ));
    }

    #[test]
    fn a_frame_not_asked_for_is_not_kept() {
        let (mut a, mut b) = wire(LinkConfig::new());
        send(&mut a, Instant::ZERO, 1, 60);
        let mut kept = 0;
        b.poll_rx_keep(Instant::ZERO, 8, |ev| {
            if let RxEvent::Kept(_) = ev {
                kept += 1;
            }
            false
        });
        assert_eq!(kept, 0);
        // The buffer went back to the free list.
        send(&mut a, Instant::ZERO, 2, 60);
        assert_eq!(recv(&mut b, Instant::ZERO).map(|r| r.0), Some(2));
    }

    /// Sends `head` then a shared `payload` from `a`.
    fn send_shared(a: &mut Port, head: &[u8], payload: &Bytes) -> Result<(), Error> {
        a.transmit(Instant::ZERO)
            .unwrap()
            .consume_shared(head.len(), payload.clone(), |h| h.copy_from_slice(head))
    }

    #[test]
    fn a_shared_payload_travels_by_reference_to_a_keeping_receiver() {
        let (mut a, mut b) = wire(LinkConfig::new().with_mtu(9000));
        assert!(a.capabilities().shared_payloads);
        let payload = Bytes::from((0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        send_shared(&mut a, b"headers", &payload).unwrap();
        assert_eq!(a.stats().tx_bytes, 5007);
        let mut got = None;
        let n = b.poll_rx_keep(Instant::ZERO, 8, |ev| {
            match ev {
                RxEvent::Shared { head, payload, .. } => got = Some((head.to_vec(), payload)),
                _ => panic!("expected the payload by reference"),
            }
            false
        });
        assert_eq!(n, 1);
        let (head, p) = got.unwrap();
        assert_eq!(head, b"headers");
        // The very bytes the sender lent, not a copy.
        assert_eq!(p.as_ptr(), payload.as_ptr());
        assert_eq!(p, payload);
        assert_eq!(b.stats().rx_bytes, 5007);
    }

    #[test]
    fn a_shared_payload_reaches_a_plain_receiver_whole() {
        let (mut a, mut b) = wire(LinkConfig::new());
        let payload = Bytes::from_static(b" and the payload");
        send_shared(&mut a, b"headers", &payload).unwrap();
        let (rx, _) = b.receive(Instant::ZERO).unwrap();
        assert_eq!(rx.consume(|f| f.to_vec()), b"headers and the payload");
        assert_eq!((b.stats().rx_packets, b.stats().rx_bytes), (1, 23));
        // The buffer went back: steady traffic stays within the bound.
        for _ in 0..1000 {
            send_shared(&mut a, b"h", &payload).unwrap();
            let (rx, _) = b.receive(Instant::ZERO).unwrap();
            rx.consume(|f| assert_eq!(f.len(), 17));
        }
        assert!(a.link.borrow().free.allocated_for_tests() <= 4);
    }

    /// The port's own batched receive (no token per frame): frames in
    /// order up to the budget, only those due, a shared payload handed
    /// over whole, a working reply token, every buffer given back.
    #[test]
    fn poll_rx_hands_frames_over_in_order_within_budget_and_gives_buffers_back() {
        let (mut a, mut b) = wire(LinkConfig::new().with_latency(Duration::from_millis(1)));
        let t0 = Instant::from_millis(5);
        for tag in 0..5u8 {
            send(&mut a, t0, tag, 60 + usize::from(tag));
        }
        send_shared(&mut a, b"headers", &Bytes::from_static(b" and payload")).unwrap();
        // Not due yet: nothing.
        assert_eq!(b.poll_rx(t0, 64, |_, _, _| panic!("early")), 0);
        let due = t0 + Duration::from_millis(1);
        let mut seen = Vec::new();
        let n = b.poll_rx(due, 3, |f, meta, reply| {
            assert_eq!(meta.timestamp, Some(due));
            seen.push((f[0], f.len()));
            // The reply token sends back to `a`.
            reply.consume(60, |r| r[0] = 100 + f[0]).unwrap();
        });
        assert_eq!(n, 3, "the budget");
        assert_eq!(seen, [(0, 60), (1, 61), (2, 62)]);
        let mut rest = Vec::new();
        let n = b.poll_rx(due, 64, |f, _, _| rest.push(f.to_vec()));
        assert_eq!(n, 3);
        assert_eq!((rest[0][0], rest[0].len()), (3, 63));
        assert_eq!((rest[1][0], rest[1].len()), (4, 64));
        assert_eq!(rest[2], b"headers and payload", "the shared payload, whole");
        assert_eq!(b.stats().rx_packets, 6);
        let replies: Vec<u8> = (0..3)
            .filter_map(|_| recv(&mut a, due + Duration::from_millis(1)))
            .map(|r| r.0)
            .collect();
        assert_eq!(replies, [100, 101, 102]);
        // Buffers went back: steady traffic stays within the bound.
        for _ in 0..1000 {
            send(&mut a, due, 9, 100);
            assert_eq!(
                b.poll_rx(due + Duration::from_millis(1), 64, |_, _, _| ()),
                1
            );
        }
        assert!(a.link.borrow().free.allocated_for_tests() <= 12);
    }

    #[test]
    fn a_shared_frame_over_the_mtu_fails_and_without_sharing_is_copied() {
        let (mut a, mut b) = wire(LinkConfig::new());
        let big = Bytes::from(vec![1u8; 1501]);
        assert!(matches!(
            send_shared(&mut a, b"0123456789abcd", &big),
            Err(Error::FrameTooLong { len: 1515, .. })
        ));
        assert_eq!(a.stats().tx_errors, 1);
        let (mut a, mut b2) = wire(LinkConfig::new().with_shared_payloads(false));
        assert!(!a.capabilities().shared_payloads);
        send_shared(&mut a, b"h", &Bytes::from_static(b"ello")).unwrap();
        b2.poll_rx_keep(Instant::ZERO, 1, |ev| {
            match ev {
                RxEvent::Frame { frame, .. } => assert_eq!(frame, b"hello"),
                _ => panic!("a link without sharing copies"),
            }
            false
        });
        assert!(b.receive(Instant::ZERO).is_none());
    }

    #[test]
    fn a_hub_gives_every_receiver_the_shared_payload() {
        let mut ports = hub(3, LinkConfig::new());
        let payload = Bytes::from_static(b"-payload");
        send_shared(&mut ports[0], b"head", &payload).unwrap();
        for p in &mut ports[1..] {
            let mut seen = 0;
            p.poll_rx_keep(Instant::ZERO, 4, |ev| {
                match ev {
                    RxEvent::Shared { head, payload, .. } => {
                        assert_eq!((&*head, &payload[..]), (&b"head"[..], &b"-payload"[..]));
                        seen += 1;
                    }
                    _ => panic!("expected a shared payload"),
                }
                false
            });
            assert_eq!(seen, 1);
        }
    }
}
