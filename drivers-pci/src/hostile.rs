//! The drivers against a device that lies: the harness of the
//! `pci_device` fuzz target (compiled for this crate's tests and for
//! fuzzing builds only, where cargo-fuzz sets `cfg(fuzzing)`; not part of
//! the public API).
//!
//! A NIC writes into memory the driver reads back (used rings, descriptor
//! write-backs, received headers) and answers register reads: all of that
//! is input, from hardware that may be faulty, or from a hypervisor the
//! guest does not trust. The input bytes drive one driver (virtio-net or
//! e1000) against the crate's software model of its device, which the
//! input also corrupts: features and queue sizes offered at probe, failing
//! allocations, arbitrary used-ring entries and descriptor write-backs,
//! raw writes anywhere in the rings' DMA memory, arbitrary values in the
//! registers the device owns (status, interrupt causes, head pointers,
//! counters), link changes. Meanwhile the driver sends frames (with and
//! without checksum offload), receives, replies, flushes and acknowledges
//! interrupts.
//!
//! What must hold, whatever the device does:
//! - nothing panics (arithmetic overflow included: fuzzing builds have
//!   debug assertions), and every loop ends;
//! - a frame handed to the stack fits the driver's receive buffer, and a
//!   frame that reaches the wire fits the largest frame the driver sends;
//! - the frames in flight never exceed the transmit ring;
//! - a probe that fails, and a driver that is dropped, give back every
//!   byte of DMA memory they allocated.

use alloc::rc::Rc;
use alloc::vec::Vec;

use lamina_netbuf::Instant;
use lamina_netdev::{ChecksumProto, ChecksumSet, Device, TxMeta, TxToken};

use crate::e1000::{self, E1000, regs};
use crate::fake::FakeHal;
use crate::pci::{Bar, BarKind, PciAddress};
use crate::virtio::net::{self as vnet, VirtioNet};

const NOW: Instant = Instant::ZERO;
/// Operations per input at most (each is cheap; the bound keeps an input's
/// run short).
const MAX_OPS: usize = 512;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Whether the driver came up.
    pub up: bool,
    /// Frames the driver handed up.
    pub received: usize,
    /// Frames the driver accepted for sending.
    pub sent: usize,
    /// Frames that reached the device's wire.
    pub on_wire: usize,
}

/// Runs the drivers against a device the input controls.
pub fn run(data: &[u8]) -> Report {
    let mut input = Input(data);
    let mut report = Report::default();
    if input.u8() & 1 == 0 {
        virtio(&mut input, &mut report);
    } else {
        e1000(&mut input, &mut report);
    }
    report
}

/// The input, read front to back; zeroes once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A value that is usually small (an index or a length near the
    /// interesting ones) and sometimes anything at all.
    fn small_or_any(&mut self, small: u32) -> u32 {
        let b = self.u8();
        if b == 0xff {
            self.u32()
        } else {
            u32::from(b) % small.max(1)
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }

    /// The next operation (0 to 11), while input is left and fewer than
    /// [`MAX_OPS`] ran (`done` counts them).
    fn op(&mut self, done: &mut usize) -> Option<u8> {
        if self.0.is_empty() || *done >= MAX_OPS {
            return None;
        }
        *done += 1;
        Some(self.u8() % 12)
    }
}

/// A frame of `len` bytes that names its own length in every byte after
/// the Ethernet header.
fn frame(len: usize, dst: [u8; 6]) -> Vec<u8> {
    let mut f = alloc::vec![len as u8; len];
    if let Some(d) = f.get_mut(..6) {
        d.copy_from_slice(&dst);
    }
    if let Some(t) = f.get_mut(12..14) {
        t.copy_from_slice(&[0x88, 0xb5]);
    }
    f
}

/// Transmit metadata the input picks: none, or checksums left to the
/// device at arbitrary offsets.
fn tx_meta(input: &mut Input<'_>) -> Option<TxMeta> {
    let bits = input.u8();
    if bits & 0x10 == 0 {
        return None;
    }
    let set = ChecksumProto::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .fold(ChecksumSet::EMPTY, |s, (_, &p)| s.with(p));
    let l3 = input.small_or_any(40) as u16;
    let l4 = l3.wrapping_add(input.small_or_any(80) as u16);
    Some(TxMeta::new().with_checksum_offload(set, l3, l4))
}

/// Sends a frame of `len` bytes; returns whether the driver took it.
fn send<D: Device>(dev: &mut D, len: usize, meta: Option<TxMeta>, dst: [u8; 6]) -> bool {
    let Some(mut tx) = dev.transmit(NOW) else {
        return false;
    };
    if let Some(m) = meta {
        tx.set_meta(m);
    }
    let f = frame(len, dst);
    tx.consume(len, |b| b.copy_from_slice(&f)).is_ok()
}

/// Receives up to `budget` frames, replying to some: every frame must fit
/// a receive buffer of `buffer` bytes. Returns the frames received.
fn receive<D: Device>(dev: &mut D, budget: usize, reply: bool, buffer: usize) -> usize {
    dev.poll_rx(NOW, budget, |f, _, tx| {
        assert!(f.len() <= buffer, "a {}-byte frame handed up", f.len());
        if reply && f.len() >= 14 {
            let len = f.len();
            let copy = f.to_vec();
            let _ = tx.consume(len, |b| b.copy_from_slice(&copy));
        }
    })
}

/// Counts the frames the device put on the wire, of the lengths `lens`:
/// each at most `max` bytes, unless the device `tampered` with its
/// transmit descriptors.
fn wire(report: &mut Report, lens: impl Iterator<Item = usize>, tampered: bool, max: usize) {
    for len in lens {
        assert!(tampered || len <= max, "a {len}-byte frame sent");
        report.on_wire += 1;
    }
}

/// The frames in flight never exceed the transmit ring.
fn in_flight(n: usize, ring: usize) {
    assert!(n <= ring, "{n} frames in flight on a ring of {ring}");
}

/// Drops the driver, which must give back all its DMA memory.
fn release<D>(dev: D, hal: &FakeHal) {
    drop(dev);
    assert_eq!(hal.outstanding(), 0, "the dropped driver kept DMA memory");
}

/// The driver's side, the same for both devices: send (op 3), receive
/// and reply (op 4), flush (op 8).
fn driver_op<D: Device>(
    op: u8,
    input: &mut Input<'_>,
    dev: &mut D,
    report: &mut Report,
    buffer: usize,
) {
    match op {
        3 => {
            let len = input.small_or_any(1600) as usize % 4096;
            let meta = tx_meta(input);
            report.sent += usize::from(send(dev, len, meta, [2, 0, 0, 0, 0, 1]));
        }
        4 => {
            let b = input.u8();
            report.received += receive(dev, usize::from(b >> 1), b & 1 != 0, buffer);
        }
        _ => dev.flush(NOW),
    }
}

fn virtio(input: &mut Input<'_>, report: &mut Report) {
    use crate::virtio::model::{BAR_LEN, MAC, Model};
    let flags = input.u8();
    let config = vnet::Config::default()
        .with_queues(input.small_or_any(72) as u16, input.small_or_any(72) as u16)
        .with_checksum_offload(flags & 1 != 0)
        .with_deferred_tx_doorbell(flags & 2 != 0);
    let hal = FakeHal::new();
    let model = Rc::new(Model::new(hal.clone()));
    {
        let mut st = model.st.borrow_mut();
        if flags & 4 != 0 {
            st.offered = u64::from(input.u32()) | (u64::from(input.u32()) << 32);
        }
        st.refuse_features = flags & 8 != 0;
        if flags & 0x10 != 0 {
            let max = input.small_or_any(512) as u16;
            for q in &mut st.queues {
                q.max = max;
            }
        }
        st.link_up = flags & 0x20 == 0;
    }
    hal.add_model_bar(4, model.clone(), BAR_LEN);
    if flags & 0x40 != 0 {
        hal.fail_allocations_after(usize::from(input.u8() % 16));
    }
    let mut cfg = Model::config_space();
    let probed = VirtioNet::probe(&mut cfg, PciAddress::new(0, 0, 4, 0), hal.clone(), config);
    let Ok(mut dev) = probed else {
        assert_eq!(hal.outstanding(), 0, "a failed probe kept DMA memory");
        return;
    };
    hal.fail_allocations_after(usize::MAX);
    report.up = true;
    let tx_ring = usize::from(model.st.borrow().queues[1].size);
    let buffer = vnet::BUFFER_SIZE;
    let mut tampered = false;
    let mut ops = 0;
    while let Some(op) = input.op(&mut ops) {
        match op {
            0 => {
                let len = input.small_or_any(1600) as usize % 4096;
                let hdr: [u8; 12] = core::array::from_fn(|_| input.u8());
                model.inject_with_header(&frame(len, MAC), hdr);
            }
            1 => {
                let id = input.small_or_any(300);
                let len = input.small_or_any(2100);
                let nb = input.small_or_any(6) as u16;
                model
                    .st
                    .borrow_mut()
                    .rx_used_override
                    .push_back((id, len, nb));
            }
            2 => model.tick(),
            3 | 4 | 8 => driver_op(op, input, &mut dev, report, buffer),
            5 => {
                // Anything written anywhere in a queue's memory (its
                // descriptors and available ring included: the device can
                // reach them).
                let q = usize::from(input.u8() % 2);
                let (desc, device, size) = {
                    let st = model.st.borrow();
                    let q = st.queues[q];
                    (q.desc, q.device, u64::from(q.size))
                };
                let span = (device + 4 + 8 * size).saturating_sub(desc);
                let at = desc + u64::from(input.u32()) % span.max(1);
                let n = usize::from(input.u8() % 9);
                // (The device reads its transmit descriptors back: what
                // it sends after this is its own doing.)
                tampered |= q == 1 && at < device;
                let _ = hal.dma_write(at, &input.bytes(n));
            }
            6 => {
                // The used ring's index moved by the device alone.
                let q = usize::from(input.u8() % 2);
                let device = model.st.borrow().queues[q].device;
                let _ = hal.dma_write(device + 2, &input.u16().to_le_bytes());
            }
            7 => {
                let mut st = model.st.borrow_mut();
                st.link_up = !st.link_up;
                st.isr = input.u8();
                st.generation = st.generation.wrapping_add(input.u8() & 1);
                if input.u8() & 1 != 0 {
                    st.status |= input.u8() & 0xc0;
                }
                drop(st);
                let _ = dev.link_up();
                let _ = dev.ack_interrupt();
                let _ = dev.device_status();
            }
            9 => {
                let mut st = model.st.borrow_mut();
                st.suppress_notify = !st.suppress_notify;
            }
            10 => {
                let out = model.take_tx();
                wire(
                    report,
                    out.iter().map(|(_, f)| f.len()),
                    tampered,
                    vnet::MAX_FRAME_LEN,
                );
            }
            _ => {
                let _ = dev.stats();
                let _ = dev.capabilities();
            }
        }
        in_flight(dev.tx_in_flight(), tx_ring);
    }
    release(dev, &hal);
}

fn e1000(input: &mut Input<'_>, report: &mut Report) {
    use crate::e1000::model::{BAR_LEN, Model};
    let flags = input.u8();
    let config = e1000::Config::default()
        .with_rings(input.small_or_any(72) as u16, input.small_or_any(72) as u16)
        .with_promiscuous(flags & 1 != 0)
        .with_checksum_offload(flags & 2 != 0)
        .with_deferred_tx_doorbell(flags & 4 != 0);
    let hal = FakeHal::new();
    let model = Rc::new(Model::new(hal.clone()));
    {
        let mut st = model.st.borrow_mut();
        st.autoload_mac = flags & 8 != 0;
        st.eerd_works = flags & 0x10 == 0;
        st.reset_reads = if flags & 0x20 != 0 {
            u32::MAX
        } else {
            u32::from(input.u8() % 4)
        };
        st.link_up = flags & 0x40 == 0;
        for w in st.eeprom.iter_mut().take(3) {
            *w = input.u16();
        }
    }
    hal.add_model_bar(0, model.clone(), BAR_LEN);
    if input.u8() & 1 != 0 {
        hal.fail_allocations_after(usize::from(input.u8() % 8));
    }
    let bar = Bar {
        index: 0,
        kind: BarKind::Memory32 {
            prefetchable: false,
        },
        address: 0xfebc_0000,
        size: BAR_LEN as u64,
    };
    let probed = E1000::new(hal.clone(), &bar, config);
    let Ok(mut dev) = probed else {
        assert_eq!(hal.outstanding(), 0, "a failed init kept DMA memory");
        return;
    };
    hal.fail_allocations_after(usize::MAX);
    report.up = true;
    let mac = dev.mac_address();
    let tx_ring = (model.reg(regs::TDLEN) / 16) as usize;
    let buffer = e1000::BUFFER_SIZE;
    let mut tampered = false;
    // Registers the card owns (it may write any value into them).
    const OWNED: [usize; 10] = [
        regs::STATUS,
        regs::ICR,
        regs::RDH,
        regs::TDH,
        regs::EERD,
        regs::GPRC,
        regs::GORCL,
        regs::GORCH,
        regs::MPC,
        regs::CRCERRS,
    ];
    let mut ops = 0;
    while let Some(op) = input.op(&mut ops) {
        match op {
            0 => {
                let len = input.small_or_any(3100) as usize % 8192;
                model.inject(&frame(len, mac));
            }
            1 => {
                let len = input.small_or_any(2100) as u16;
                let (status, errors) = (input.u8(), input.u8());
                model
                    .st
                    .borrow_mut()
                    .rx_override
                    .push_back((len, status, errors));
            }
            2 => model.tick(),
            3 | 4 | 8 => driver_op(op, input, &mut dev, report, buffer),
            5 | 6 => {
                // Anything written anywhere in a descriptor ring.
                let tx = input.u8() & 1 != 0;
                let (lo, hi, len) = if tx {
                    (regs::TDBAL, regs::TDBAH, regs::TDLEN)
                } else {
                    (regs::RDBAL, regs::RDBAH, regs::RDLEN)
                };
                // (The card reads its transmit descriptors back: what it
                // sends after this is its own doing.)
                tampered |= tx;
                let base = u64::from(model.reg(lo)) | (u64::from(model.reg(hi)) << 32);
                let span = u64::from(model.reg(len)).max(1);
                let at = base + u64::from(input.u32()) % span;
                let n = usize::from(input.u8() % 17);
                let _ = hal.dma_write(at, &input.bytes(n));
            }
            7 => {
                let reg = OWNED[usize::from(input.u8()) % OWNED.len()];
                model.set_reg(reg, input.u32());
                let _ = dev.interrupt_causes();
                let _ = dev.link_status();
                let _ = dev.hw_counters();
                let _ = dev.stats();
            }
            9 => match input.u8() % 4 {
                0 => dev.set_promiscuous(input.u8() & 1 != 0),
                1 => dev.set_all_multicast(input.u8() & 1 != 0),
                2 => {
                    let m: [u8; 6] = core::array::from_fn(|_| input.u8());
                    dev.add_multicast(m);
                }
                _ => dev.clear_multicast(),
            },
            10 => {
                let out = model.take_tx();
                wire(
                    report,
                    out.iter().map(Vec::len),
                    tampered,
                    e1000::MAX_FRAME_LEN,
                );
            }
            _ => {
                model.st.borrow_mut().link_up ^= true;
                let _ = dev.capabilities();
            }
        }
        in_flight(dev.tx_in_flight(), tx_ring);
    }
    release(dev, &hal);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordinary traffic through both drivers: the harness itself works
    /// (frames go both ways) before any lie is told.
    #[test]
    fn plain_traffic_runs_through_both_drivers() {
        for device in [0u8, 1] {
            let mut data = alloc::vec![device, 0x03, 16, 16];
            if device == 1 {
                data = alloc::vec![
                    device, 0x02, 16, 16, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0
                ];
            }
            for _ in 0..40 {
                // inject 100 bytes, tick, receive 8 with replies, send 60,
                // flush, tick, take what was sent.
                data.extend_from_slice(&[0, 100]);
                if device == 0 {
                    data.extend_from_slice(&[0; 12]);
                }
                data.extend_from_slice(&[2, 4, 17, 3, 60, 0, 8, 2, 10]);
            }
            let r = run(&data);
            assert!(r.up, "device {device}");
            assert_eq!(r.received, 40, "device {device}");
            // Each round sends one frame and replies to the one received.
            assert_eq!(r.sent, 40, "device {device}");
            assert_eq!(r.on_wire, 80, "device {device}");
        }
    }

    /// Every committed seed of the `pci_device` fuzz target replays here,
    /// on stable (the fuzz crate's own replay cannot reach this harness:
    /// outside tests it exists only in fuzzing builds).
    #[cfg(feature = "std")]
    #[test]
    fn fuzz_corpus_replays() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/pci_device");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            std::eprintln!(
                "skipped: no corpus at {} (a packaged crate has none)",
                dir.display()
            );
            return;
        };
        let mut n = 0;
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() {
                run(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        assert!(n > 0, "no seeds in {}", dir.display());
    }
}
