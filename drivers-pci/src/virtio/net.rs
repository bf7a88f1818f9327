//! The virtio-net driver (modern virtio 1.x over PCI, 1af4:1041).
//!
//! [`VirtioNet`] negotiates `VERSION_1`, `MAC`, `STATUS`, `MRG_RXBUF`,
//! `CSUM`, `GUEST_CSUM` and (when the device requires it)
//! `ACCESS_PLATFORM`, sets up receive queue 0 and transmit queue 1 as split
//! virtqueues with one 2048-byte DMA buffer per descriptor, posts every
//! receive buffer up front, and implements [`Device`]. Each buffer starts
//! with the 12-byte `virtio_net_hdr`; receive tokens lend the frame after
//! it, transmit tokens the room after it. Receive buffers go back to the
//! device in batches; the transmit doorbell rings per frame or, with
//! [`Config::defer_tx_doorbell`], on [`Device::flush`].

use alloc::vec::Vec;

use lamina_netbuf::Instant;
use lamina_netbuf::checksum;
use lamina_netdev::{
    Capabilities, ChecksumCapabilities, ChecksumProto, ChecksumSet, Device, Medium, RxMeta,
    RxToken, Stats, TxMeta, TxToken,
};

use super::{SplitQueue, Transport, VENDOR_VIRTIO, VirtioCaps, desc_flags, feature};
use crate::Error;
use crate::hal::{Direction, Dma, Hal};
use crate::pci::{self, ConfigAccess, Header, PciAddress};

/// Device ID of a modern (non-transitional) virtio-net function.
pub const DEVICE_ID_MODERN: u16 = 0x1041;
/// Device ID of a transitional virtio-net function (driven here through
/// its modern interface).
pub const DEVICE_ID_TRANSITIONAL: u16 = 0x1000;

/// virtio-net feature bits (virtio 1.x section 5.1.3).
pub mod net_feature {
    /// The device computes transmit checksums (partial checksums allowed).
    pub const CSUM: u64 = 1 << 0;
    /// The driver accepts received packets with partial checksums.
    pub const GUEST_CSUM: u64 = 1 << 1;
    /// The device reports its MTU.
    pub const MTU: u64 = 1 << 3;
    /// The device has a MAC address in its configuration.
    pub const MAC: u64 = 1 << 5;
    /// Receive buffers may be merged; the header carries `num_buffers`.
    pub const MRG_RXBUF: u64 = 1 << 15;
    /// The configuration has a link status field.
    pub const STATUS: u64 = 1 << 16;
}

/// Length of `virtio_net_hdr` with `VERSION_1` (it includes
/// `num_buffers`).
pub const HEADER_LEN: usize = 12;
/// Size of each DMA buffer (header plus frame).
pub const BUFFER_SIZE: usize = 2048;
/// The longest frame sent or accepted.
pub const MAX_FRAME_LEN: usize = 1514;

const HDR_F_NEEDS_CSUM: u8 = 1;
const HDR_F_DATA_VALID: u8 = 2;
const GSO_NONE: u8 = 0;

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most receive descriptors (rounded down to a power of two and to the
    /// device's limit; default 256).
    pub rx_queue: u16,
    /// Most transmit descriptors (likewise; default 256).
    pub tx_queue: u16,
    /// Negotiate checksum offload (default on).
    pub checksum_offload: bool,
    /// Notify the device of transmitted frames only on [`Device::flush`]
    /// (or every 32 frames).
    pub defer_tx_doorbell: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rx_queue: 256,
            tx_queue: 256,
            checksum_offload: true,
            defer_tx_doorbell: false,
        }
    }
}

impl Config {
    /// These settings with at most `rx` and `tx` queue entries.
    #[must_use]
    pub const fn with_queues(mut self, rx: u16, tx: u16) -> Config {
        self.rx_queue = rx;
        self.tx_queue = tx;
        self
    }

    /// These settings with checksum offload on or off.
    #[must_use]
    pub const fn with_checksum_offload(mut self, on: bool) -> Config {
        self.checksum_offload = on;
        self
    }

    /// These settings with the transmit doorbell deferred to `flush`.
    #[must_use]
    pub const fn with_deferred_tx_doorbell(mut self, on: bool) -> Config {
        self.defer_tx_doorbell = on;
        self
    }
}

#[derive(Debug)]
struct RxQueue {
    q: SplitQueue,
    bufs: Dma,
    /// Buffers re-queued but not yet published.
    unposted: u16,
    /// Skipping the extra buffers of a merged (multi-buffer) packet.
    skip: u16,
    /// Per buffer id: in the device's hands (published, not yet
    /// returned).
    posted: Vec<bool>,
    /// Ids re-queued since the last publication.
    queued: Vec<u16>,
    guest_csum: bool,
    stats: Stats,
}

#[derive(Debug)]
struct TxQueue {
    q: SplitQueue,
    bufs: Dma,
    /// Descriptor ids not in the device's hands.
    free: Vec<u16>,
    /// Per descriptor id: handed to the device and not yet returned.
    busy: Vec<bool>,
    unflushed: u16,
    defer: bool,
    offload: ChecksumSet,
    stats: Stats,
}

/// A virtio-net device driven through the HAL `H`.
///
/// Dropping it resets the device and frees its DMA memory.
#[derive(Debug)]
pub struct VirtioNet<H: Hal> {
    hal: H,
    transport: Transport,
    rx: Option<RxQueue>,
    tx: Option<TxQueue>,
    features: u64,
    mac: [u8; 6],
    caps: Capabilities,
}

impl<H: Hal> VirtioNet<H> {
    /// Finds the device at `addr`: checks its IDs, locates the virtio
    /// structures, sizes the BARs, enables memory space and bus mastering,
    /// and initialises it.
    ///
    /// # Errors
    ///
    /// [`Error::WrongDevice`] for another device, errors of
    /// [`VirtioCaps::find`], [`Transport::new`] and [`VirtioNet::new`].
    pub fn probe<C: ConfigAccess + ?Sized>(
        cfg: &mut C,
        addr: PciAddress,
        hal: H,
        config: Config,
    ) -> Result<VirtioNet<H>, Error> {
        let h = Header::read(cfg, addr)?;
        if h.vendor_id != VENDOR_VIRTIO
            || !(h.device_id == DEVICE_ID_MODERN || h.device_id == DEVICE_ID_TRANSITIONAL)
        {
            return Err(Error::WrongDevice {
                vendor: h.vendor_id,
                device: h.device_id,
            });
        }
        let caps = VirtioCaps::find(cfg, addr)?;
        let bars = pci::size_bars(cfg, addr)?;
        pci::enable_memory_and_bus_master(cfg, addr);
        let transport = Transport::new(&hal, &caps, &bars)?;
        VirtioNet::new(hal, transport, config)
    }

    /// Initialises the device behind `transport`.
    ///
    /// # Errors
    ///
    /// [`Error::Features`] if the device is not a virtio 1.x device,
    /// [`Error::Missing`] if it lacks the two queues or a MAC address,
    /// [`Error::Hal`] if memory is unavailable, [`Error::Timeout`] if it
    /// does not reset.
    pub fn new(hal: H, transport: Transport, config: Config) -> Result<VirtioNet<H>, Error> {
        let mut wanted = net_feature::MAC
            | net_feature::STATUS
            | net_feature::MRG_RXBUF
            | feature::ACCESS_PLATFORM;
        if config.checksum_offload {
            wanted |= net_feature::CSUM | net_feature::GUEST_CSUM;
        }
        let features = transport.negotiate(&hal, wanted, feature::VERSION_1)?;
        let result = Self::setup(&hal, &transport, features, &config);
        match result {
            Ok((rx, tx, mac)) => {
                let mut cs = ChecksumCapabilities::NONE;
                if features & net_feature::CSUM != 0 {
                    cs.tx = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
                }
                if features & net_feature::GUEST_CSUM != 0 {
                    cs.rx = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
                }
                let burst = usize::from(rx.q.size().min(tx.q.size()) / 2).max(1);
                let dev = VirtioNet {
                    hal,
                    transport,
                    rx: Some(rx),
                    tx: Some(tx),
                    features,
                    mac,
                    caps: Capabilities::new(Medium::Ethernet, 1500)
                        .with_checksum(cs)
                        .with_max_burst(burst),
                };
                dev.transport.driver_ok();
                Ok(dev)
            }
            Err(e) => {
                transport.set_status(super::status::FAILED);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn setup(
        hal: &H,
        t: &Transport,
        features: u64,
        config: &Config,
    ) -> Result<(RxQueue, TxQueue, [u8; 6]), Error> {
        if t.num_queues() < 2 {
            return Err(Error::Missing("receive and transmit virtqueues"));
        }
        let mac = read_mac(t, features)?;
        let rxq = t.setup_queue(hal, 0, config.rx_queue)?;
        let txq = match t.setup_queue(hal, 1, config.tx_queue) {
            Ok(q) => q,
            Err(e) => {
                reset_and_free(hal, t, [Some(rxq)], []);
                return Err(e);
            }
        };
        let rx_n = usize::from(rxq.size());
        let tx_n = usize::from(txq.size());
        let rx_bufs = match hal.dma_alloc(rx_n * BUFFER_SIZE, Direction::FromDevice) {
            Ok(d) if d.len() >= rx_n * BUFFER_SIZE => d,
            other => {
                reset_and_free(hal, t, [Some(rxq), Some(txq)], [other.ok()]);
                return Err(Error::Hal(crate::HalError::OutOfMemory));
            }
        };
        let tx_bufs = match hal.dma_alloc(tx_n * BUFFER_SIZE, Direction::ToDevice) {
            Ok(d) if d.len() >= tx_n * BUFFER_SIZE => d,
            other => {
                let extra = other.ok();
                reset_and_free(hal, t, [Some(rxq), Some(txq)], [Some(rx_bufs), extra]);
                return Err(Error::Hal(crate::HalError::OutOfMemory));
            }
        };
        let mut rx = RxQueue {
            q: rxq,
            bufs: rx_bufs,
            unposted: 0,
            skip: 0,
            posted: Vec::with_capacity(rx_n),
            queued: Vec::with_capacity(rx_n),
            guest_csum: features & net_feature::GUEST_CSUM != 0,
            stats: Stats::new(),
        };
        rx.posted.resize(rx_n, true);
        for id in 0..rx.q.size() {
            let bus = rx.bufs.bus_addr_at(usize::from(id) * BUFFER_SIZE);
            rx.q.set_desc(id, bus, BUFFER_SIZE as u32, desc_flags::WRITE, 0);
            rx.q.push_avail(id);
        }
        rx.q.kick();
        let mut free = Vec::with_capacity(tx_n);
        free.extend((0..txq.size()).rev());
        let mut busy = Vec::with_capacity(tx_n);
        busy.resize(tx_n, false);
        let offload = if features & net_feature::CSUM != 0 {
            ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp)
        } else {
            ChecksumSet::EMPTY
        };
        let tx = TxQueue {
            q: txq,
            bufs: tx_bufs,
            free,
            busy,
            unflushed: 0,
            defer: config.defer_tx_doorbell,
            offload,
            stats: Stats::new(),
        };
        Ok((rx, tx, mac))
    }

    /// The MAC address (from the device configuration).
    pub fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    /// The negotiated feature bits.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// Whether the link is up (always, if the device has no `STATUS`
    /// feature).
    pub fn link_up(&self) -> bool {
        if self.features & net_feature::STATUS == 0 {
            return true;
        }
        self.transport
            .device_config()
            .is_some_and(|d| d.read16(6) & 1 != 0)
    }

    /// Reads and acknowledges the ISR status (bit 0: a queue was used;
    /// bit 1: the configuration changed).
    pub fn ack_interrupt(&mut self) -> u8 {
        self.transport.read_isr()
    }

    /// The device status byte (for diagnostics).
    pub fn device_status(&self) -> u8 {
        self.transport.status()
    }

    /// Transmit descriptors in the device's hands.
    pub fn tx_in_flight(&self) -> usize {
        self.tx
            .as_ref()
            .map_or(0, |t| usize::from(t.q.size()) - t.free.len())
    }

    /// The HAL this driver uses.
    pub fn hal(&self) -> &H {
        &self.hal
    }
}

fn reset_and_free<H: Hal>(
    hal: &H,
    t: &Transport,
    queues: impl IntoIterator<Item = Option<SplitQueue>>,
    regions: impl IntoIterator<Item = Option<Dma>>,
) {
    // Reset first: the device must stop using the queues before their
    // memory goes back. If it does not reset, leak rather than free.
    if t.reset(hal).is_err() {
        return;
    }
    for q in queues.into_iter().flatten() {
        q.free(hal);
    }
    for d in regions.into_iter().flatten() {
        super::free(hal, d);
    }
}

fn read_mac(t: &Transport, features: u64) -> Result<[u8; 6], Error> {
    if features & net_feature::MAC == 0 {
        return Err(Error::Missing(
            "MAC address (the device offers no MAC feature)",
        ));
    }
    let dev = t
        .device_config()
        .filter(|d| d.len() >= 6)
        .ok_or(Error::Missing("virtio-net device configuration"))?;
    for _ in 0..10 {
        let before = t.config_generation();
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = dev.read8(i);
        }
        if t.config_generation() == before {
            return Ok(mac);
        }
    }
    Err(Error::Timeout("a stable virtio-net configuration"))
}

impl RxQueue {
    /// Gives buffer `id` back to the device (published in batches).
    fn recycle(&mut self, id: u16) {
        let bus = self.bufs.bus_addr_at(usize::from(id) * BUFFER_SIZE);
        self.q
            .set_desc(id, bus, BUFFER_SIZE as u32, desc_flags::WRITE, 0);
        self.q.push_avail(id);
        if self.queued.len() < self.queued.capacity() {
            self.queued.push(id);
        }
        self.unposted += 1;
        if self.unposted >= 32.min(self.q.size() / 2).max(1) {
            self.post();
        }
    }

    fn post(&mut self) {
        if self.unposted > 0 {
            self.unposted = 0;
            for id in self.queued.drain(..) {
                if let Some(p) = self.posted.get_mut(usize::from(id)) {
                    *p = true;
                }
            }
            self.q.kick();
        }
    }

    /// The next good packet: `(id, frame length, verified checksums)`.
    fn next_packet(&mut self) -> Option<(u16, usize, ChecksumSet)> {
        let bound = self.q.size();
        for _ in 0..bound {
            let Some((id, len)) = self.q.pop_used() else {
                self.post();
                return None;
            };
            let Ok(id) = u16::try_from(id) else {
                // An id the driver never gave out: nothing to recycle.
                self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                continue;
            };
            // An id out of range, or one the device does not hold (returned
            // twice): never lend or re-post a buffer twice.
            match self.posted.get_mut(usize::from(id)) {
                Some(p) if *p => *p = false,
                _ => {
                    self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                    continue;
                }
            }
            let len = len as usize;
            if self.skip > 0 {
                self.skip -= 1;
                self.recycle(id);
                continue;
            }
            let off = usize::from(id) * BUFFER_SIZE;
            let hdr_ok = (HEADER_LEN + 14..=BUFFER_SIZE).contains(&len);
            let num_buffers = self.bufs.read_u16(off + 10).unwrap_or(0);
            if !hdr_ok || num_buffers > 1 {
                // A merged packet (longer than our buffers, never sent for
                // frames up to 1514 bytes) or a length the buffer cannot
                // hold: drop it, with the rest of its buffers.
                self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                if hdr_ok {
                    self.skip = num_buffers.saturating_sub(1).min(self.q.size());
                }
                self.recycle(id);
                continue;
            }
            let flags = self.bufs.read_u8(off).unwrap_or(0);
            let mut verified = ChecksumSet::EMPTY;
            if self.guest_csum {
                if flags & HDR_F_NEEDS_CSUM != 0 {
                    // A partial checksum from a local sender: complete it.
                    let start = usize::from(self.bufs.read_u16(off + 6).unwrap_or(0));
                    let field = usize::from(self.bufs.read_u16(off + 8).unwrap_or(0));
                    let frame_len = len - HEADER_LEN;
                    if let Some(frame) = self.bufs.slice_mut(off + HEADER_LEN, frame_len)
                        && complete_checksum(frame, start, field)
                    {
                        verified = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
                    }
                } else if flags & HDR_F_DATA_VALID != 0 {
                    verified = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
                }
            }
            return Some((id, len - HEADER_LEN, verified));
        }
        None
    }
}

/// Writes the checksum of `frame[start..]` at `start + field`, where the
/// field holds the pseudo-header sum. Returns whether the offsets fit.
fn complete_checksum(frame: &mut [u8], start: usize, field: usize) -> bool {
    let Some(at) = start.checked_add(field) else {
        return false;
    };
    if at.checked_add(2).is_none_or(|end| end > frame.len()) {
        return false;
    }
    let Some(seg) = frame.get(start..) else {
        return false;
    };
    let c = checksum::checksum(seg);
    if let Some(f) = frame.get_mut(at..at + 2) {
        f.copy_from_slice(&c.to_be_bytes());
    }
    true
}

impl TxQueue {
    /// Takes back descriptors the device has finished with.
    fn reclaim(&mut self) {
        while let Some((id, _)) = self.q.pop_used() {
            // Ignore ids the driver never gave out or already has back.
            let slot = usize::try_from(id).ok().and_then(|i| self.busy.get_mut(i));
            match slot {
                Some(busy) if *busy => {
                    *busy = false;
                    self.free.push(id as u16);
                }
                _ => self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1),
            }
        }
    }

    fn doorbell(&mut self) {
        if self.unflushed > 0 {
            self.unflushed = 0;
            self.q.kick();
        }
    }
}

/// The receive token of a [`VirtioNet`].
#[derive(Debug)]
pub struct VirtioRxToken<'a> {
    rx: &'a mut RxQueue,
    id: u16,
    len: usize,
    verified: ChecksumSet,
}

impl RxToken for VirtioRxToken<'_> {
    fn meta(&self) -> RxMeta {
        let mut m = RxMeta::default();
        m.checksum_verified = self.verified;
        m
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let off = usize::from(self.id) * BUFFER_SIZE + HEADER_LEN;
        let mut empty = [0u8; 0];
        let frame = match self.rx.bufs.slice_mut(off, self.len) {
            Some(s) => s,
            None => &mut empty,
        };
        f(frame)
    }
}

impl Drop for VirtioRxToken<'_> {
    fn drop(&mut self) {
        self.rx.recycle(self.id);
    }
}

/// The transmit token of a [`VirtioNet`].
#[derive(Debug)]
pub struct VirtioTxToken<'a> {
    tx: &'a mut TxQueue,
    meta: TxMeta,
}

impl TxToken for VirtioTxToken<'_> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.meta = meta;
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, lamina_netdev::Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let tx = self.tx;
        if len > MAX_FRAME_LEN {
            tx.stats.tx_errors = tx.stats.tx_errors.wrapping_add(1);
            return Err(lamina_netdev::Error::FrameTooLong {
                len,
                max: MAX_FRAME_LEN,
            });
        }
        tx.reclaim();
        let Some(id) = tx.free.pop() else {
            tx.stats.tx_errors = tx.stats.tx_errors.wrapping_add(1);
            return Err(lamina_netdev::Error::NoBuffer);
        };
        let off = usize::from(id) * BUFFER_SIZE;
        let Some(buf) = tx.bufs.slice_mut(off, HEADER_LEN + len) else {
            tx.free.push(id);
            return Err(lamina_netdev::Error::NoBuffer);
        };
        let (hdr, frame) = buf.split_at_mut(HEADER_LEN);
        let r = f(frame);
        hdr.fill(0);
        hdr[1] = GSO_NONE;
        let want = self.meta.checksum_offload.intersection(tx.offload);
        let l4 = usize::from(self.meta.l4_offset);
        let field = if want.contains(ChecksumProto::Tcp) {
            Some(16)
        } else if want.contains(ChecksumProto::Udp) {
            Some(6)
        } else {
            None
        };
        if let Some(field) = field
            && l4 + field + 2 <= len
        {
            hdr[0] = HDR_F_NEEDS_CSUM;
            hdr[6..8].copy_from_slice(&(l4 as u16).to_le_bytes());
            hdr[8..10].copy_from_slice(&(field as u16).to_le_bytes());
        } else if let Some(field) = field {
            // Offsets that make no sense for the device: best effort in
            // software, within the frame.
            let _ = complete_checksum(frame, l4, field);
        }
        let bus = tx.bufs.bus_addr_at(off);
        tx.q.set_desc(id, bus, (HEADER_LEN + len) as u32, 0, 0);
        if let Some(b) = tx.busy.get_mut(usize::from(id)) {
            *b = true;
        }
        tx.q.push_avail(id);
        tx.unflushed += 1;
        tx.stats.count_tx(len);
        if !tx.defer || tx.unflushed >= 32 {
            tx.doorbell();
        }
        Ok(r)
    }
}

impl<H: Hal> Device for VirtioNet<H> {
    type RxToken<'a>
        = VirtioRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = VirtioTxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(VirtioRxToken<'_>, VirtioTxToken<'_>)> {
        let rx = self.rx.as_mut()?;
        let tx = self.tx.as_mut()?;
        let (id, len, verified) = rx.next_packet()?;
        rx.stats.count_rx(len);
        Some((
            VirtioRxToken {
                rx,
                id,
                len,
                verified,
            },
            VirtioTxToken {
                tx,
                meta: TxMeta::new(),
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<VirtioTxToken<'_>> {
        let tx = self.tx.as_mut()?;
        tx.reclaim();
        if tx.free.is_empty() {
            tx.doorbell();
            return None;
        }
        Some(VirtioTxToken {
            tx,
            meta: TxMeta::new(),
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn stats(&self) -> Stats {
        let mut s = Stats::new();
        if let Some(rx) = &self.rx {
            s += rx.stats;
        }
        if let Some(tx) = &self.tx {
            s += tx.stats;
        }
        s
    }

    fn flush(&mut self, _now: Instant) {
        if let Some(tx) = self.tx.as_mut() {
            tx.doorbell();
        }
        if let Some(rx) = self.rx.as_mut() {
            rx.post();
        }
    }
}

impl<H: Hal> Drop for VirtioNet<H> {
    fn drop(&mut self) {
        let rx = self.rx.take();
        let tx = self.tx.take();
        let (rq, rb) = rx.map(|r| (r.q, r.bufs)).unzip();
        let (tq, tb) = tx.map(|t| (t.q, t.bufs)).unzip();
        reset_and_free(&self.hal, &self.transport, [rq, tq], [rb, tb]);
    }
}
