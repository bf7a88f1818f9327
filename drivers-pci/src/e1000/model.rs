//! A software model of the 82540EM for the unit tests: registers with
//! their side effects (reset, clear-on-read counters and ICR, EEPROM reads
//! through EERD, interrupt mask set/clear) and, when the test ticks it,
//! descriptor processing that reads and writes DMA memory through the
//! fake HAL (so a bad bus address is a recorded fault, not a crash).

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use lamina_netbuf::checksum;

use super::regs::*;
use crate::fake::FakeHal;
use crate::hal::RegisterModel;

/// Length of BAR 0 (128 KiB).
pub const BAR_LEN: usize = 0x2_0000;

/// The checksum context a context descriptor sets.
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    ipcss: usize,
    ipcso: usize,
    ipcse: usize,
    tucss: usize,
    tucso: usize,
}

#[derive(Debug)]
pub struct State {
    regs: Vec<u32>,
    pub eeprom: [u16; 64],
    /// Whether a reset loads RAL0/RAH0 from the EEPROM.
    pub autoload_mac: bool,
    /// Whether EERD reads complete.
    pub eerd_works: bool,
    /// How many CTRL reads after a reset still show RST set.
    pub reset_reads: u32,
    /// `u32::MAX` makes the reset never finish.
    rst_left: u32,
    pub link_up: bool,
    pub resets: u32,
    pub rx_queue: VecDeque<Vec<u8>>,
    pub tx_out: Vec<Vec<u8>>,
    tx_partial: Vec<u8>,
    ctx: Ctx,
    pub contexts_seen: u32,
    /// Replaces the next receive write-backs: (length, status, errors).
    pub rx_override: VecDeque<(u16, u8, u8)>,
    pub rctl_writes: u32,
    pub dma_faults: u32,
}

#[derive(Debug)]
pub struct Model {
    hal: FakeHal,
    pub st: RefCell<State>,
}

pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

impl Model {
    pub fn new(hal: FakeHal) -> Model {
        let mut eeprom = [0u16; 64];
        eeprom[0] = u16::from_le_bytes([MAC[0], MAC[1]]);
        eeprom[1] = u16::from_le_bytes([MAC[2], MAC[3]]);
        eeprom[2] = u16::from_le_bytes([MAC[4], MAC[5]]);
        let m = Model {
            hal,
            st: RefCell::new(State {
                regs: vec![0; BAR_LEN / 4],
                eeprom,
                autoload_mac: true,
                eerd_works: true,
                reset_reads: 1,
                rst_left: 0,
                link_up: true,
                resets: 0,
                rx_queue: VecDeque::new(),
                tx_out: Vec::new(),
                tx_partial: Vec::new(),
                ctx: Ctx::default(),
                contexts_seen: 0,
                rx_override: VecDeque::new(),
                rctl_writes: 0,
                dma_faults: 0,
            }),
        };
        m.st.borrow_mut().power_on();
        m
    }

    /// Reads a register without side effects.
    pub fn reg(&self, off: usize) -> u32 {
        self.st.borrow().r(off)
    }

    /// Sets a register without side effects.
    pub fn set_reg(&self, off: usize, v: u32) {
        self.st.borrow_mut().w(off, v);
    }

    pub fn inject(&self, frame: &[u8]) {
        self.st.borrow_mut().rx_queue.push_back(frame.to_vec());
    }

    pub fn take_tx(&self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.st.borrow_mut().tx_out)
    }

    /// Processes transmit and receive descriptors once.
    pub fn tick(&self) {
        let mut st = self.st.borrow_mut();
        st.process_tx(&self.hal);
        st.process_rx(&self.hal);
    }
}

impl State {
    fn r(&self, off: usize) -> u32 {
        self.regs.get(off / 4).copied().unwrap_or(0)
    }

    fn w(&mut self, off: usize, v: u32) {
        if let Some(r) = self.regs.get_mut(off / 4) {
            *r = v;
        }
    }

    fn add(&mut self, off: usize, v: u32) {
        let x = self.r(off).wrapping_add(v);
        self.w(off, x);
    }

    fn power_on(&mut self) {
        self.regs.iter_mut().for_each(|r| *r = 0);
        if self.autoload_mac {
            let [a, b] = self.eeprom[0].to_le_bytes();
            let [c, d] = self.eeprom[1].to_le_bytes();
            let [e, f] = self.eeprom[2].to_le_bytes();
            self.w(RAL0, u32::from_le_bytes([a, b, c, d]));
            self.w(RAH0, u32::from_le_bytes([e, f, 0, 0]) | RAH_AV);
        }
        self.w(CTRL, CTRL_FD | CTRL_ASDE);
        self.tx_partial.clear();
        self.ctx = Ctx::default();
    }

    fn status(&self) -> u32 {
        if self.link_up {
            STATUS_FD | STATUS_LU | 2 << STATUS_SPEED_SHIFT
        } else {
            STATUS_FD
        }
    }

    fn read(&mut self, off: usize) -> u32 {
        match off {
            CTRL => {
                if self.rst_left > 0 {
                    if self.rst_left != u32::MAX {
                        self.rst_left -= 1;
                    }
                    self.r(CTRL) | CTRL_RST
                } else {
                    self.r(CTRL)
                }
            }
            STATUS => self.status(),
            ICR => {
                let v = self.r(ICR);
                self.w(ICR, 0);
                v
            }
            0x4000..=0x40ff => {
                let v = self.r(off);
                self.w(off, 0);
                v
            }
            _ => self.r(off),
        }
    }

    fn write(&mut self, off: usize, v: u32) {
        match off {
            CTRL => {
                if v & CTRL_RST != 0 {
                    self.resets += 1;
                    self.power_on();
                    self.rst_left = self.reset_reads;
                } else {
                    self.w(CTRL, v & !(CTRL_RST | CTRL_PHY_RST));
                }
            }
            STATUS => {}
            EERD => {
                if v & EERD_START != 0 && self.eerd_works {
                    let addr = (v >> EERD_ADDR_SHIFT) & 0xff;
                    let data = self.eeprom.get(addr as usize).copied().unwrap_or(0xffff);
                    self.w(
                        EERD,
                        (addr << EERD_ADDR_SHIFT) | EERD_DONE | u32::from(data) << EERD_DATA_SHIFT,
                    );
                } else {
                    self.w(EERD, v & !EERD_DONE);
                }
            }
            ICR => {
                let x = self.r(ICR) & !v;
                self.w(ICR, x);
            }
            ICS => self.add_cause(v),
            IMS => {
                let x = self.r(IMS) | v;
                self.w(IMS, x);
            }
            IMC => {
                let x = self.r(IMS) & !v;
                self.w(IMS, x);
            }
            RCTL => {
                self.rctl_writes += 1;
                self.w(RCTL, v);
            }
            0x4000..=0x40ff => {}
            _ => self.w(off, v),
        }
    }

    fn add_cause(&mut self, c: u32) {
        let x = self.r(ICR) | c;
        self.w(ICR, x);
    }

    fn dma_read(&mut self, hal: &FakeHal, bus: u64, out: &mut [u8]) -> bool {
        let ok = hal.dma_read(bus, out).is_ok();
        if !ok {
            self.dma_faults += 1;
        }
        ok
    }

    fn dma_write(&mut self, hal: &FakeHal, bus: u64, data: &[u8]) -> bool {
        let ok = hal.dma_write(bus, data).is_ok();
        if !ok {
            self.dma_faults += 1;
        }
        ok
    }

    fn process_tx(&mut self, hal: &FakeHal) {
        if self.r(TCTL) & TCTL_EN == 0 {
            return;
        }
        let n = self.r(TDLEN) / 16;
        let base = u64::from(self.r(TDBAL)) | u64::from(self.r(TDBAH)) << 32;
        if n == 0 || self.r(TDT) >= n {
            return;
        }
        for _ in 0..n {
            let head = self.r(TDH);
            if head == self.r(TDT) || head >= n {
                break;
            }
            let at = base + u64::from(head) * 16;
            let mut d = [0u8; 16];
            if !self.dma_read(hal, at, &mut d) {
                break;
            }
            let cmd = d[11];
            let addr = u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]));
            if cmd & TXD_CMD_DEXT != 0 {
                let dtyp = d[10] >> 4;
                if dtyp == 0 {
                    self.ctx = Ctx {
                        ipcss: usize::from(d[0]),
                        ipcso: usize::from(d[1]),
                        ipcse: usize::from(u16::from_le_bytes([d[2], d[3]])),
                        tucss: usize::from(d[4]),
                        tucso: usize::from(d[5]),
                    };
                    self.contexts_seen += 1;
                } else {
                    let len = (u32::from_le_bytes([d[8], d[9], d[10], 0]) & 0xf_ffff) as usize;
                    let popts = d[13];
                    let mut buf = vec![0u8; len];
                    if !self.dma_read(hal, addr, &mut buf) {
                        break;
                    }
                    self.tx_partial.extend_from_slice(&buf);
                    if cmd & TXD_CMD_EOP != 0 {
                        let mut frame = core::mem::take(&mut self.tx_partial);
                        self.insert_checksums(&mut frame, popts);
                        self.finish_tx(frame);
                    }
                }
            } else {
                let len = usize::from(u16::from_le_bytes([d[8], d[9]]));
                let mut buf = vec![0u8; len];
                if !self.dma_read(hal, addr, &mut buf) {
                    break;
                }
                self.tx_partial.extend_from_slice(&buf);
                if cmd & TXD_CMD_EOP != 0 {
                    let frame = core::mem::take(&mut self.tx_partial);
                    self.finish_tx(frame);
                }
            }
            if cmd & TXD_CMD_RS != 0 && !self.dma_write(hal, at + 12, &[d[12] | TXD_STAT_DD]) {
                break;
            }
            self.w(TDH, (head + 1) % n);
            self.add_cause(INT_TXDW);
        }
    }

    fn insert_checksums(&self, frame: &mut [u8], popts: u8) {
        let c = self.ctx;
        // (Whatever the context says: a descriptor the driver did not
        // write, in the hostile-device harness, may hold anything.)
        if popts & POPTS_IXSM != 0
            && c.ipcss <= c.ipcse
            && c.ipcse < frame.len()
            && c.ipcso + 2 <= frame.len()
        {
            frame[c.ipcso..c.ipcso + 2].fill(0);
            let sum = checksum::checksum(&frame[c.ipcss..=c.ipcse]);
            frame[c.ipcso..c.ipcso + 2].copy_from_slice(&sum.to_be_bytes());
        }
        if popts & POPTS_TXSM != 0 && c.tucso + 2 <= frame.len() && c.tucss < frame.len() {
            // The field holds the pseudo-header sum; sum to the end.
            let sum = checksum::checksum(&frame[c.tucss..]);
            frame[c.tucso..c.tucso + 2].copy_from_slice(&sum.to_be_bytes());
        }
    }

    fn finish_tx(&mut self, frame: Vec<u8>) {
        let len = frame.len() as u32;
        // The card pads short frames (TCTL.PSP) and adds the FCS.
        self.add(GPTC, 1);
        self.add(TPT, 1);
        self.add(GOTCL, len.max(60) + 4);
        self.tx_out.push(frame);
    }

    fn rx_checksums(&self, frame: &[u8]) -> (u8, u8) {
        let rxcsum = self.r(RXCSUM);
        let mut status = RXD_STAT_IXSM;
        let mut errors = 0;
        if frame.len() < 34 || frame[12..14] != [0x08, 0x00] || rxcsum == 0 {
            return (status, errors);
        }
        let ihl = usize::from(frame[14] & 0xf) * 4;
        let Some(ip) = frame.get(14..14 + ihl) else {
            return (status, errors);
        };
        status &= !RXD_STAT_IXSM;
        if rxcsum & RXCSUM_IPOFL != 0 {
            if checksum::checksum(ip) == 0 {
                status |= RXD_STAT_IPCS;
            } else {
                errors |= RXD_ERR_IPE;
            }
        }
        let proto = ip[9];
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if rxcsum & RXCSUM_TUOFL != 0
            && (proto == 6 || proto == 17)
            && total >= ihl
            && let Some(seg) = frame.get(14 + ihl..14 + total)
        {
            let src = core::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = core::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let mut sum = checksum::ipv4_pseudo_header(src, dst, proto, seg.len() as u16);
            sum.add_bytes(seg);
            if sum.finish() == 0 {
                status |= RXD_STAT_TCPCS;
            } else {
                errors |= RXD_ERR_TCPE;
            }
        }
        (status, errors)
    }

    fn process_rx(&mut self, hal: &FakeHal) {
        if self.r(RCTL) & RCTL_EN == 0 {
            return;
        }
        let n = self.r(RDLEN) / 16;
        let base = u64::from(self.r(RDBAL)) | u64::from(self.r(RDBAH)) << 32;
        // (A head or tail past the ring, which the hostile-device harness
        // may set, stops the receive unit.)
        if n == 0 || self.r(RDT) >= n || self.r(RDH) >= n {
            return;
        }
        while let Some(frame) = self.rx_queue.pop_front() {
            // A frame needs as many free descriptors as 2048-byte pieces.
            let pieces = frame.len().div_ceil(2048).max(1) as u32;
            let free = (self.r(RDT) + n - self.r(RDH)) % n;
            if free < pieces {
                self.add(RNBC, 1);
                self.rx_queue.push_front(frame);
                break;
            }
            let (csum_status, csum_errors) = self.rx_checksums(&frame);
            let mut ok = true;
            for (i, piece) in frame.chunks(2048).enumerate() {
                let head = self.r(RDH);
                let at = base + u64::from(head) * 16;
                let mut d = [0u8; 16];
                if !self.dma_read(hal, at, &mut d) {
                    ok = false;
                    break;
                }
                let addr = u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]));
                if !self.dma_write(hal, addr, piece) {
                    ok = false;
                    break;
                }
                let last = i + 1 == pieces as usize;
                let (len, status, errors) = self.rx_override.pop_front().unwrap_or((
                    piece.len() as u16,
                    RXD_STAT_DD | if last { RXD_STAT_EOP | csum_status } else { 0 },
                    if last { csum_errors } else { 0 },
                ));
                let mut wb = [0u8; 8];
                wb[..2].copy_from_slice(&len.to_le_bytes());
                wb[4] = status;
                wb[5] = errors;
                if !self.dma_write(hal, at + 8, &wb) {
                    ok = false;
                    break;
                }
                self.w(RDH, (head + 1) % n);
            }
            if !ok {
                break;
            }
            self.add(GPRC, 1);
            self.add(TPR, 1);
            self.add(GORCL, frame.len() as u32 + 4);
            self.add_cause(INT_RXT0);
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
    fn write16(&self, offset: usize, value: u16) {
        let mut st = self.st.borrow_mut();
        let shift = (offset & 2) * 8;
        let old = st.r(offset & !3) & !(0xffff << shift);
        st.write(offset & !3, old | u32::from(value) << shift);
    }
    fn write8(&self, offset: usize, value: u8) {
        let mut st = self.st.borrow_mut();
        let shift = (offset & 3) * 8;
        let old = st.r(offset & !3) & !(0xff << shift);
        st.write(offset & !3, old | u32::from(value) << shift);
    }
}

impl State {
    pub fn set_rst_stuck(&mut self) {
        self.reset_reads = u32::MAX;
    }
}
