//! A software model of a modern virtio-net PCI device for the unit tests:
//! the common configuration registers (feature windows, status, queue
//! registers), ISR, device configuration and notifications in one BAR, and,
//! when ticked, the device side of the split virtqueues (it consumes the
//! available rings and fills the used rings through the fake HAL).

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::feature;
use super::net::net_feature;
use crate::fake::FakeHal;
use crate::hal::RegisterModel;
use crate::pci::{MemConfig, cap_id, virtio_cfg};

pub const BAR_LEN: usize = 0x4000;
pub const COMMON: usize = 0x0000;
pub const ISR: usize = 0x1000;
pub const DEVICE: usize = 0x2000;
pub const NOTIFY: usize = 0x3000;
pub const NOTIFY_MULT: u32 = 4;
pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];

#[derive(Debug, Clone, Copy, Default)]
pub struct Queue {
    pub max: u16,
    pub size: u16,
    pub enable: u16,
    pub desc: u64,
    pub driver: u64,
    pub device: u64,
    pub last_avail: u16,
    pub used_idx: u16,
}

#[derive(Debug)]
pub struct State {
    pub offered: u64,
    pub accepted: u64,
    dfsel: u32,
    drvsel: u32,
    pub status: u8,
    pub generation: u8,
    qsel: u16,
    pub queues: [Queue; 3],
    pub isr: u8,
    pub link_up: bool,
    pub notifications: [u32; 3],
    pub refuse_features: bool,
    pub rx_queue: VecDeque<(Vec<u8>, [u8; 12])>,
    pub tx_out: Vec<([u8; 12], Vec<u8>)>,
    /// Replaces the next receive used entries: (id, len, num_buffers).
    pub rx_used_override: VecDeque<(u32, u32, u16)>,
    /// Sets VIRTQ_USED_F_NO_NOTIFY in the used rings.
    pub suppress_notify: bool,
    pub faults: u32,
    pub resets: u32,
}

#[derive(Debug)]
pub struct Model {
    hal: FakeHal,
    pub st: RefCell<State>,
}

pub const DEFAULT_FEATURES: u64 = feature::VERSION_1
    | net_feature::MAC
    | net_feature::STATUS
    | net_feature::MRG_RXBUF
    | net_feature::CSUM
    | net_feature::GUEST_CSUM
    | feature::EVENT_IDX;

impl Model {
    pub fn new(hal: FakeHal) -> Model {
        let q = Queue {
            max: 256,
            ..Queue::default()
        };
        Model {
            hal,
            st: RefCell::new(State {
                offered: DEFAULT_FEATURES,
                accepted: 0,
                dfsel: 0,
                drvsel: 0,
                status: 0,
                generation: 0,
                qsel: 0,
                queues: [q; 3],
                isr: 0,
                link_up: true,
                notifications: [0; 3],
                refuse_features: false,
                rx_queue: VecDeque::new(),
                tx_out: Vec::new(),
                rx_used_override: VecDeque::new(),
                suppress_notify: false,
                faults: 0,
                resets: 0,
            }),
        }
    }

    /// Configuration space of a virtio-net function whose structures live
    /// in BAR 4.
    pub fn config_space() -> MemConfig {
        let mut c = MemConfig::new(0x1af4, 0x1041);
        c.set_bar_memory64(4, 0xfe00_0000, BAR_LEN as u64, true);
        c.set_capabilities_pointer(0x40);
        let cap = |t: u8, off: usize, len: usize, extra: Option<u32>| {
            let mut b = vec![if extra.is_some() { 20 } else { 16 }, t, 4, 0, 0, 0];
            b.extend_from_slice(&(off as u32).to_le_bytes());
            b.extend_from_slice(&(len as u32).to_le_bytes());
            if let Some(x) = extra {
                b.extend_from_slice(&x.to_le_bytes());
            }
            b
        };
        c.put_capability(
            0x40,
            cap_id::VENDOR,
            0x54,
            &cap(virtio_cfg::COMMON, COMMON, 0x38, None),
        );
        c.put_capability(
            0x54,
            cap_id::VENDOR,
            0x68,
            &cap(virtio_cfg::ISR, ISR, 1, None),
        );
        c.put_capability(
            0x68,
            cap_id::VENDOR,
            0x7c,
            &cap(virtio_cfg::DEVICE, DEVICE, 0x10, None),
        );
        c.put_capability(
            0x7c,
            cap_id::VENDOR,
            0,
            &cap(virtio_cfg::NOTIFY, NOTIFY, 0x1000, Some(NOTIFY_MULT)),
        );
        c
    }

    pub fn inject(&self, frame: &[u8]) {
        self.inject_with_header(frame, [0; 12]);
    }

    pub fn inject_with_header(&self, frame: &[u8], hdr: [u8; 12]) {
        self.st
            .borrow_mut()
            .rx_queue
            .push_back((frame.to_vec(), hdr));
    }

    pub fn take_tx(&self) -> Vec<([u8; 12], Vec<u8>)> {
        core::mem::take(&mut self.st.borrow_mut().tx_out)
    }

    pub fn tick(&self) {
        let mut st = self.st.borrow_mut();
        if st.status & super::status::DRIVER_OK == 0 {
            return;
        }
        st.process_tx(&self.hal);
        st.process_rx(&self.hal);
    }
}

impl State {
    fn reset(&mut self) {
        self.resets += 1;
        self.accepted = 0;
        self.status = 0;
        self.isr = 0;
        for q in self.queues.iter_mut() {
            *q = Queue {
                max: q.max,
                ..Queue::default()
            };
        }
    }

    fn q(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(usize::from(self.qsel))
    }

    fn read(&mut self, off: usize) -> u32 {
        match off {
            0x00 => self.dfsel,
            0x04 => match self.dfsel {
                0 => self.offered as u32,
                1 => (self.offered >> 32) as u32,
                _ => 0,
            },
            0x08 => self.drvsel,
            0x0c => match self.drvsel {
                0 => self.accepted as u32,
                1 => (self.accepted >> 32) as u32,
                _ => 0,
            },
            0x12 => 3,
            0x14 => u32::from(self.status),
            0x15 => u32::from(self.generation),
            0x16 => u32::from(self.qsel),
            0x18 => self
                .q()
                .map_or(0, |q| u32::from(if q.size != 0 { q.size } else { q.max })),
            0x1c => self.q().map_or(0, |q| u32::from(q.enable)),
            0x1e => u32::from(self.qsel),
            0x20 => self.q().map_or(0, |q| q.desc as u32),
            0x24 => self.q().map_or(0, |q| (q.desc >> 32) as u32),
            ISR => {
                let v = self.isr;
                self.isr = 0;
                u32::from(v)
            }
            o if (DEVICE..DEVICE + 6).contains(&o) => u32::from(MAC[o - DEVICE]),
            o if o == DEVICE + 6 => u32::from(self.link_up),
            _ => 0,
        }
    }

    fn write(&mut self, off: usize, v: u32) {
        match off {
            0x00 => self.dfsel = v,
            0x08 => self.drvsel = v,
            0x0c => match self.drvsel {
                0 => self.accepted = (self.accepted & !0xffff_ffff) | u64::from(v),
                1 => self.accepted = (self.accepted & 0xffff_ffff) | u64::from(v) << 32,
                _ => {}
            },
            0x14 => {
                let v = v as u8;
                if v == 0 {
                    self.reset();
                    return;
                }
                let mut v = v;
                if v & super::status::FEATURES_OK != 0
                    && self.status & super::status::FEATURES_OK == 0
                {
                    let bad = self.accepted & !self.offered != 0
                        || self.refuse_features
                        || (self.offered & feature::ACCESS_PLATFORM != 0
                            && self.accepted & feature::ACCESS_PLATFORM == 0);
                    if bad {
                        v &= !super::status::FEATURES_OK;
                    }
                }
                self.status = v;
            }
            0x16 => self.qsel = v as u16,
            0x18 => {
                if let Some(q) = self.q()
                    && v as u16 <= q.max
                {
                    q.size = v as u16;
                }
            }
            0x1c => {
                if let Some(q) = self.q() {
                    q.enable = v as u16;
                }
            }
            0x20 => self.set_addr(|q| &mut q.desc, false, v),
            0x24 => self.set_addr(|q| &mut q.desc, true, v),
            0x28 => self.set_addr(|q| &mut q.driver, false, v),
            0x2c => self.set_addr(|q| &mut q.driver, true, v),
            0x30 => self.set_addr(|q| &mut q.device, false, v),
            0x34 => self.set_addr(|q| &mut q.device, true, v),
            o if (NOTIFY..NOTIFY + 0x1000).contains(&o) => {
                let q = (o - NOTIFY) / NOTIFY_MULT as usize;
                if q == v as usize
                    && let Some(n) = self.notifications.get_mut(q)
                {
                    *n += 1;
                }
            }
            _ => {}
        }
    }

    fn set_addr(&mut self, f: impl FnOnce(&mut Queue) -> &mut u64, high: bool, v: u32) {
        if let Some(q) = self.q() {
            let a = f(q);
            *a = if high {
                (*a & 0xffff_ffff) | u64::from(v) << 32
            } else {
                (*a & !0xffff_ffff) | u64::from(v)
            };
        }
    }

    fn rd(&mut self, hal: &FakeHal, bus: u64, out: &mut [u8]) -> bool {
        let ok = hal.dma_read(bus, out).is_ok();
        self.faults += u32::from(!ok);
        ok
    }

    fn wr(&mut self, hal: &FakeHal, bus: u64, data: &[u8]) -> bool {
        let ok = hal.dma_write(bus, data).is_ok();
        self.faults += u32::from(!ok);
        ok
    }

    fn avail_idx(&mut self, hal: &FakeHal, q: &Queue) -> Option<u16> {
        let mut b = [0u8; 2];
        self.rd(hal, q.driver + 2, &mut b)
            .then(|| u16::from_le_bytes(b))
    }

    fn pop_avail(&mut self, hal: &FakeHal, qi: usize) -> Option<u16> {
        let q = *self.queues.get(qi)?;
        if q.enable == 0 || q.size == 0 {
            return None;
        }
        if self.avail_idx(hal, &q)? == q.last_avail {
            return None;
        }
        let mut b = [0u8; 2];
        let at = q.driver + 4 + 2 * u64::from(q.last_avail % q.size);
        if !self.rd(hal, at, &mut b) {
            return None;
        }
        self.queues[qi].last_avail = q.last_avail.wrapping_add(1);
        Some(u16::from_le_bytes(b))
    }

    fn push_used(&mut self, hal: &FakeHal, qi: usize, id: u32, len: u32) {
        let q = self.queues[qi];
        let at = q.device + 4 + 8 * u64::from(q.used_idx % q.size);
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&id.to_le_bytes());
        e[4..].copy_from_slice(&len.to_le_bytes());
        if !self.wr(hal, at, &e) {
            return;
        }
        let idx = q.used_idx.wrapping_add(1);
        self.queues[qi].used_idx = idx;
        let flags: u16 = u16::from(self.suppress_notify);
        let mut hdr = [0u8; 4];
        hdr[..2].copy_from_slice(&flags.to_le_bytes());
        hdr[2..].copy_from_slice(&idx.to_le_bytes());
        self.wr(hal, q.device, &hdr);
        self.isr |= 1;
    }

    fn desc(&mut self, hal: &FakeHal, qi: usize, id: u16) -> Option<(u64, u32, u16, u16)> {
        let q = self.queues[qi];
        if id >= q.size {
            return None;
        }
        let mut d = [0u8; 16];
        if !self.rd(hal, q.desc + 16 * u64::from(id), &mut d) {
            return None;
        }
        Some((
            u64::from_le_bytes(d[..8].try_into().ok()?),
            u32::from_le_bytes(d[8..12].try_into().ok()?),
            u16::from_le_bytes([d[12], d[13]]),
            u16::from_le_bytes([d[14], d[15]]),
        ))
    }

    fn process_tx(&mut self, hal: &FakeHal) {
        while let Some(head) = self.pop_avail(hal, 1) {
            let mut bytes = Vec::new();
            let mut id = head;
            let size = self.queues[1].size;
            for _ in 0..size {
                let Some((addr, len, flags, next)) = self.desc(hal, 1, id) else {
                    break;
                };
                // (A descriptor may hold anything once the hostile-device
                // harness wrote into the table: no buffer is over 64 KiB.)
                if flags & 2 != 0 || len > 0x1_0000 {
                    break;
                }
                let mut b = vec![0u8; len as usize];
                if !self.rd(hal, addr, &mut b) {
                    break;
                }
                bytes.extend_from_slice(&b);
                if flags & 1 == 0 {
                    break;
                }
                id = next;
            }
            if bytes.len() >= 12 {
                let mut hdr = [0u8; 12];
                hdr.copy_from_slice(&bytes[..12]);
                let frame = bytes.split_off(12);
                self.tx_out.push((hdr, frame));
            }
            self.push_used(hal, 1, u32::from(head), 0);
        }
    }

    fn process_rx(&mut self, hal: &FakeHal) {
        while !self.rx_queue.is_empty() || !self.rx_used_override.is_empty() {
            let Some(id) = self.pop_avail(hal, 0) else {
                break;
            };
            if let Some((oid, len, nb)) = self.rx_used_override.pop_front() {
                // A misbehaving device: an arbitrary used entry, with
                // `num_buffers` written into the real buffer's header.
                if let Some((addr, _, _, _)) = self.desc(hal, 0, id) {
                    self.wr(hal, addr + 10, &nb.to_le_bytes());
                }
                self.push_used(hal, 0, oid, len);
                continue;
            }
            let Some((frame, mut hdr)) = self.rx_queue.pop_front() else {
                break;
            };
            let Some((addr, len, flags, _)) = self.desc(hal, 0, id) else {
                break;
            };
            if flags & 2 == 0 || (len as usize) < 12 + frame.len() {
                self.faults += 1;
                break;
            }
            hdr[10..12].copy_from_slice(&1u16.to_le_bytes());
            let mut buf = hdr.to_vec();
            buf.extend_from_slice(&frame);
            if !self.wr(hal, addr, &buf) {
                break;
            }
            self.push_used(hal, 0, u32::from(id), buf.len() as u32);
        }
    }
}

impl RegisterModel for Model {
    fn read32(&self, offset: usize) -> u32 {
        self.st.borrow_mut().read(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.st.borrow_mut().write(offset, value);
    }
    fn read16(&self, offset: usize) -> u16 {
        self.st.borrow_mut().read(offset) as u16
    }
    fn write16(&self, offset: usize, value: u16) {
        self.st.borrow_mut().write(offset, u32::from(value));
    }
    fn read8(&self, offset: usize) -> u8 {
        self.st.borrow_mut().read(offset) as u8
    }
    fn write8(&self, offset: usize, value: u8) {
        self.st.borrow_mut().write(offset, u32::from(value));
    }
}
