//! Modern virtio (1.x) over PCI: discovery of the transport through the
//! vendor capabilities, the common configuration registers, device status
//! and feature negotiation, and the split virtqueue.
//!
//! [`net::VirtioNet`] builds a network driver on top.

pub mod net;

#[cfg(any(test, all(fuzzing, feature = "std")))]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod model;
#[cfg(test)]
mod tests;

use core::sync::atomic::{Ordering, fence};

use crate::Error;
use crate::hal::{Direction, Dma, Hal, Mmio};
use crate::pci::{self, Bar, CapabilityKind, ConfigAccess, PciAddress, VirtioCap, virtio_cfg};

/// PCI vendor ID of virtio devices (Red Hat, Inc.).
pub const VENDOR_VIRTIO: u16 = 0x1af4;

/// Device status bits (virtio 1.x section 2.1).
pub mod status {
    /// The guest noticed the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest knows how to drive it.
    pub const DRIVER: u8 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u8 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u8 = 8;
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    /// The guest gave up on the device.
    pub const FAILED: u8 = 128;
}

/// Device-independent feature bits.
pub mod feature {
    /// Indirect descriptors.
    pub const INDIRECT_DESC: u64 = 1 << 28;
    /// `used_event`/`avail_event` notification suppression.
    pub const EVENT_IDX: u64 = 1 << 29;
    /// Virtio 1.x (not legacy) semantics.
    pub const VERSION_1: u64 = 1 << 32;
    /// The device sits behind an IOMMU or otherwise needs the platform's
    /// DMA translation: addresses are bus addresses, not physical ones.
    pub const ACCESS_PLATFORM: u64 = 1 << 33;
    /// Packed virtqueues.
    pub const RING_PACKED: u64 = 1 << 34;
}

/// Offsets in the common configuration structure.
mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const MSIX_CONFIG: usize = 0x10;
    pub const NUM_QUEUES: usize = 0x12;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    /// Length of the structure up to `queue_device` inclusive.
    pub const LEN: usize = 0x38;
}

/// "No MSI-X vector".
const NO_VECTOR: u16 = 0xffff;

/// Where the virtio structures of a function live, found from its
/// capability list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioCaps {
    /// Common configuration.
    pub common: VirtioCap,
    /// Notification area (with its offset multiplier).
    pub notify: VirtioCap,
    /// ISR status byte.
    pub isr: VirtioCap,
    /// Device-specific configuration, if the device has one.
    pub device: Option<VirtioCap>,
}

impl VirtioCaps {
    /// Walks the capability list of `addr` and keeps the first capability
    /// of each type whose BAR index is valid (virtio 1.x section 4.1.4:
    /// later ones are alternatives).
    ///
    /// # Errors
    ///
    /// Errors of the capability walk, and [`Error::Missing`] if the
    /// common, notify or ISR capability is absent.
    pub fn find<C: ConfigAccess + ?Sized>(
        cfg: &mut C,
        addr: PciAddress,
    ) -> Result<VirtioCaps, Error> {
        let (mut common, mut notify, mut isr, mut device) = (None, None, None, None);
        for cap in pci::capabilities(cfg, addr) {
            let CapabilityKind::Virtio(v) = cap?.kind else {
                continue;
            };
            if v.bar > 5 {
                continue;
            }
            let slot = match v.cfg_type {
                virtio_cfg::COMMON => &mut common,
                virtio_cfg::NOTIFY => &mut notify,
                virtio_cfg::ISR => &mut isr,
                virtio_cfg::DEVICE => &mut device,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        Ok(VirtioCaps {
            common: common.ok_or(Error::Missing("virtio common configuration capability"))?,
            notify: notify.ok_or(Error::Missing("virtio notify capability"))?,
            isr: isr.ok_or(Error::Missing("virtio ISR capability"))?,
            device,
        })
    }
}

/// The modern virtio PCI transport: windows onto the common
/// configuration, notification area, ISR and device configuration.
#[derive(Debug)]
pub struct Transport {
    common: Mmio,
    notify: Mmio,
    notify_multiplier: u32,
    isr: Mmio,
    device: Option<Mmio>,
}

fn window<H: Hal>(
    hal: &H,
    bars: &[Option<Bar>; 6],
    maps: &mut [Option<Mmio>; 6],
    cap: &VirtioCap,
    min_len: usize,
    what: &'static str,
) -> Result<Mmio, Error> {
    let i = usize::from(cap.bar);
    let bar = bars
        .get(i)
        .copied()
        .flatten()
        .filter(Bar::is_memory)
        .ok_or(Error::Missing("memory BAR of a virtio capability"))?;
    let slot = maps.get_mut(i).ok_or(Error::OutOfBounds(what))?;
    if slot.is_none() {
        *slot = Some(hal.map_bar(&bar)?);
    }
    let map = slot.as_ref().ok_or(Error::OutOfBounds(what))?;
    let len = cap.length as usize;
    if len < min_len {
        return Err(Error::OutOfBounds(what));
    }
    map.region(cap.offset as usize, len)
        .ok_or(Error::OutOfBounds(what))
}

impl Transport {
    /// Maps the BARs the capabilities point at and cuts the windows,
    /// checking that each structure lies inside its BAR.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] if a capability names an absent or I/O BAR,
    /// [`Error::OutOfBounds`] if a structure does not fit, [`Error::Hal`]
    /// if a BAR cannot be mapped.
    pub fn new<H: Hal>(
        hal: &H,
        caps: &VirtioCaps,
        bars: &[Option<Bar>; 6],
    ) -> Result<Transport, Error> {
        let mut maps: [Option<Mmio>; 6] = Default::default();
        let common = window(
            hal,
            bars,
            &mut maps,
            &caps.common,
            common::LEN,
            "virtio common configuration",
        )?;
        let notify = window(hal, bars, &mut maps, &caps.notify, 2, "virtio notify area")?;
        let isr = window(hal, bars, &mut maps, &caps.isr, 1, "virtio ISR")?;
        let device = match &caps.device {
            Some(c) => Some(window(
                hal,
                bars,
                &mut maps,
                c,
                0,
                "virtio device configuration",
            )?),
            None => None,
        };
        Ok(Transport {
            common,
            notify,
            notify_multiplier: caps.notify.notify_off_multiplier,
            isr,
            device,
        })
    }

    /// The device status byte.
    pub fn status(&self) -> u8 {
        self.common.read8(common::DEVICE_STATUS)
    }

    /// Sets the device status byte.
    pub fn set_status(&self, s: u8) {
        self.common.write8(common::DEVICE_STATUS, s);
    }

    /// Resets the device and waits until it reads back status 0.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the device does not finish resetting.
    pub fn reset<H: Hal>(&self, hal: &H) -> Result<(), Error> {
        self.set_status(0);
        for _ in 0..1000 {
            if self.status() == 0 {
                return Ok(());
            }
            hal.delay_us(10);
        }
        Err(Error::Timeout("virtio reset"))
    }

    /// The 64 feature bits the device offers.
    pub fn device_features(&self) -> u64 {
        self.common.write32(common::DEVICE_FEATURE_SELECT, 0);
        let lo = self.common.read32(common::DEVICE_FEATURE);
        self.common.write32(common::DEVICE_FEATURE_SELECT, 1);
        let hi = self.common.read32(common::DEVICE_FEATURE);
        u64::from(lo) | u64::from(hi) << 32
    }

    /// Writes the features the driver accepts.
    pub fn set_driver_features(&self, f: u64) {
        self.common.write32(common::DRIVER_FEATURE_SELECT, 0);
        self.common.write32(common::DRIVER_FEATURE, f as u32);
        self.common.write32(common::DRIVER_FEATURE_SELECT, 1);
        self.common
            .write32(common::DRIVER_FEATURE, (f >> 32) as u32);
    }

    /// Runs the initialisation steps up to FEATURES_OK (virtio 1.x section
    /// 3.1.1): reset, ACKNOWLEDGE, DRIVER, negotiate. Accepts the offered
    /// features in `wanted`; every bit of `required` must be offered.
    /// Returns the negotiated set.
    ///
    /// # Errors
    ///
    /// [`Error::Features`] if a required feature is missing or the device
    /// does not accept the set (the device is then marked FAILED),
    /// [`Error::Timeout`] from the reset.
    pub fn negotiate<H: Hal>(&self, hal: &H, wanted: u64, required: u64) -> Result<u64, Error> {
        self.reset(hal)?;
        self.set_status(status::ACKNOWLEDGE);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER);
        let offered = self.device_features();
        if offered & required != required {
            self.set_status(status::FAILED);
            return Err(Error::Features("the device lacks a required feature"));
        }
        let accepted = offered & (wanted | required);
        self.set_driver_features(accepted);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.set_status(s);
        if self.status() & status::FEATURES_OK == 0 {
            self.set_status(status::FAILED);
            return Err(Error::Features(
                "the device refused the negotiated features",
            ));
        }
        Ok(accepted)
    }

    /// Number of queues the device has.
    pub fn num_queues(&self) -> u16 {
        self.common.read16(common::NUM_QUEUES)
    }

    /// Sets DRIVER_OK: the device is live.
    pub fn driver_ok(&self) {
        let s = self.status();
        self.set_status(s | status::DRIVER_OK);
    }

    /// Reads and acknowledges the ISR status (bit 0: a queue was used,
    /// bit 1: the configuration changed).
    pub fn read_isr(&self) -> u8 {
        self.isr.read8(0)
    }

    /// The device-specific configuration window, if any.
    pub fn device_config(&self) -> Option<&Mmio> {
        self.device.as_ref()
    }

    /// The configuration generation counter (changes when the device
    /// updates its configuration; re-read what spans a change).
    pub fn config_generation(&self) -> u8 {
        self.common.read8(common::CONFIG_GENERATION)
    }

    /// Sets up queue `index` with at most `max_size` entries (rounded down
    /// to a power of two and to what the device supports), allocating its
    /// memory from `hal`, and enables it.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] if the queue does not exist, [`Error::OutOfBounds`]
    /// if its notification address is outside the notify window,
    /// [`Error::Hal`] if memory is unavailable.
    pub fn setup_queue<H: Hal>(
        &self,
        hal: &H,
        index: u16,
        max_size: u16,
    ) -> Result<SplitQueue, Error> {
        let c = &self.common;
        c.write16(common::QUEUE_SELECT, index);
        let dev_max = c.read16(common::QUEUE_SIZE);
        if dev_max == 0 || c.read16(common::QUEUE_ENABLE) != 0 {
            return Err(Error::Missing("virtqueue"));
        }
        let size = prev_power_of_two(dev_max.min(max_size).min(32768));
        if size == 0 {
            return Err(Error::InvalidConfig("queue size must be at least 1"));
        }
        let notify_off = usize::from(c.read16(common::QUEUE_NOTIFY_OFF));
        let at = notify_off
            .checked_mul(self.notify_multiplier as usize)
            .ok_or(Error::OutOfBounds("virtio notify address"))?;
        let notify = self
            .notify
            .region(at, 2)
            .ok_or(Error::OutOfBounds("virtio notify address"))?;
        let layout = Layout::new(size);
        let mem = hal.dma_alloc(layout.total, Direction::Both)?;
        if mem.len() < layout.total {
            // Never given to the device: safe to give back.
            free(hal, mem);
            return Err(Error::Hal(crate::HalError::OutOfMemory));
        }
        c.write16(common::QUEUE_SIZE, size);
        c.write16(common::QUEUE_MSIX_VECTOR, NO_VECTOR);
        c.write64_split(common::QUEUE_DESC, mem.bus_addr());
        c.write64_split(common::QUEUE_DRIVER, mem.bus_addr_at(layout.avail));
        c.write64_split(common::QUEUE_DEVICE, mem.bus_addr_at(layout.used));
        c.write16(common::QUEUE_ENABLE, 1);
        c.write16(common::MSIX_CONFIG, NO_VECTOR);
        Ok(SplitQueue {
            index,
            size,
            mem,
            layout,
            avail_idx: 0,
            published: 0,
            last_used: 0,
            notify,
        })
    }
}

/// Gives back a region that was never handed to the device.
fn free<H: Hal>(hal: &H, d: Dma) {
    #[allow(unsafe_code)]
    // SAFETY: callers pass regions allocated by this HAL whose addresses
    // were never written to the device, or belong to a device that was
    // reset.
    unsafe {
        hal.dma_free(d)
    }
}

fn prev_power_of_two(n: u16) -> u16 {
    if n == 0 {
        0
    } else {
        1 << (15 - n.leading_zeros())
    }
}

/// Offsets of the three parts of a split virtqueue in its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    avail: usize,
    used: usize,
    total: usize,
}

impl Layout {
    fn new(size: u16) -> Layout {
        let n = usize::from(size);
        // Descriptor table (16-byte aligned at 0), available ring (2-byte
        // alignment), used ring (4-byte alignment; 4096 here for tidiness).
        let avail = 16 * n;
        let avail_len = 6 + 2 * n;
        let used = (avail + avail_len).div_ceil(4096) * 4096;
        let used_len = 6 + 8 * n;
        Layout {
            avail,
            used,
            total: used + used_len,
        }
    }
}

/// Descriptor flags.
pub mod desc_flags {
    /// The buffer continues in the `next` descriptor.
    pub const NEXT: u16 = 1;
    /// The device writes the buffer (otherwise it reads it).
    pub const WRITE: u16 = 2;
}

/// A split virtqueue: descriptor table, available ring and used ring in one
/// DMA region. Descriptor ids are the driver's business; this type only
/// moves them between the rings.
#[derive(Debug)]
pub struct SplitQueue {
    index: u16,
    size: u16,
    mem: Dma,
    layout: Layout,
    /// Next free slot of the available ring (free-running).
    avail_idx: u16,
    /// The index last published to the device.
    published: u16,
    /// Next used ring entry to read (free-running).
    last_used: u16,
    notify: Mmio,
}

impl SplitQueue {
    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// The queue's index on the device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Writes descriptor `id`.
    pub fn set_desc(&mut self, id: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = usize::from(id % self.size) * 16;
        self.mem.write_u64(at, addr);
        self.mem.write_u32(at + 8, len);
        self.mem.write_u16(at + 12, flags);
        self.mem.write_u16(at + 14, next);
    }

    /// Sets only the length of descriptor `id`.
    pub fn set_desc_len(&mut self, id: u16, len: u32) {
        let at = usize::from(id % self.size) * 16 + 8;
        self.mem.write_u32(at, len);
    }

    /// Queues descriptor chain head `id` in the available ring; the device
    /// sees it after [`publish`](Self::publish).
    pub fn push_avail(&mut self, id: u16) {
        let slot = usize::from(self.avail_idx % self.size);
        self.mem.write_u16(self.layout.avail + 4 + 2 * slot, id);
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Makes the pushed entries visible to the device; returns whether
    /// anything new was published.
    pub fn publish(&mut self) -> bool {
        if self.published == self.avail_idx {
            return false;
        }
        // The ring entries (and the descriptors and buffers they name)
        // must be visible before the index that exposes them.
        fence(Ordering::Release);
        self.mem.write_u16(self.layout.avail + 2, self.avail_idx);
        self.published = self.avail_idx;
        true
    }

    /// Publishes and, unless the device asked not to be notified, writes
    /// the queue's doorbell.
    pub fn kick(&mut self) {
        if self.publish() {
            // The index write must be visible before the flags are read.
            fence(Ordering::SeqCst);
            let flags = self.mem.read_u16(self.layout.used).unwrap_or(0);
            if flags & 1 == 0 {
                self.notify.write16(0, self.index);
            }
        }
    }

    /// The next used entry `(id, len)`, if the device returned one.
    pub fn pop_used(&mut self) -> Option<(u32, u32)> {
        let idx = self.mem.read_u16(self.layout.used + 2)?;
        if idx == self.last_used {
            return None;
        }
        // Read the entry (and the buffer) only after seeing the index.
        fence(Ordering::Acquire);
        let slot = usize::from(self.last_used % self.size);
        let at = self.layout.used + 4 + 8 * slot;
        let id = self.mem.read_u32(at)?;
        let len = self.mem.read_u32(at + 4)?;
        self.last_used = self.last_used.wrapping_add(1);
        Some((id, len))
    }

    /// Entries in the used ring not yet popped; a device claiming more
    /// than the ring holds is clamped to the ring size.
    pub fn used_pending(&self) -> u16 {
        let idx = self
            .mem
            .read_u16(self.layout.used + 2)
            .unwrap_or(self.last_used);
        idx.wrapping_sub(self.last_used).min(self.size)
    }

    /// Gives the queue's memory back.
    fn free<H: Hal>(self, hal: &H) {
        free(hal, self.mem);
    }
}
