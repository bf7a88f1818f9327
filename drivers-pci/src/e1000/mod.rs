//! The Intel 8254x ("e1000") driver: the 82540EM that QEMU emulates
//! (8086:100e) and its close relatives.
//!
//! [`E1000`] resets the card, reads its MAC address (from the receive
//! address registers the card loads from its EEPROM, or from the EEPROM
//! itself), sets up one receive and one transmit ring of legacy
//! descriptors with a 2048-byte DMA buffer per descriptor, all allocated
//! once, and then implements [`Device`]: a receive token lends the frame
//! in its DMA buffer, a transmit token lends the buffer of the next free
//! transmit descriptor. Nothing is allocated or copied on the data path.
//!
//! The driver runs polled by default (interrupts masked, NAPI-style
//! [`Device::poll_rx`] budgets); an OS that wants interrupts unmasks them
//! with [`E1000::enable_interrupts`] and acknowledges them with
//! [`E1000::interrupt_causes`].
//!
//! Offloads: receive checksums (IPv4, TCP, UDP) reported per frame, and
//! transmit checksums through a context descriptor (IPv4 header, TCP, UDP;
//! one context is cached so that a flow of like frames costs one
//! descriptor each).
//!
//! Note on QEMU: its e1000 model stops accepting frames for one second
//! after every write to `RCTL`; [`E1000::new`] writes it once, and
//! [`E1000::set_promiscuous`] writes it again.

pub mod regs;

#[cfg(any(test, all(fuzzing, feature = "std")))]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod model;
#[cfg(test)]
mod tests;

use core::cell::Cell;

use lamina_netbuf::Instant;
use lamina_netbuf::checksum;
use lamina_netdev::{
    Capabilities, ChecksumCapabilities, ChecksumProto, ChecksumSet, Device, Medium, RxMeta,
    RxToken, Stats, TxMeta, TxToken,
};

use crate::Error;
use crate::hal::{Direction, Dma, Hal, Mmio};
use crate::pci::{self, Bar, ConfigAccess, Header, PciAddress};
use regs::*;

/// PCI vendor ID of Intel.
pub const VENDOR_INTEL: u16 = 0x8086;

/// Device IDs of the 8254x parts this driver accepts: the 82540EM/EP
/// (QEMU's default `e1000`, and LOM variants) and the 82545EM/GM and
/// 82544 (QEMU's `e1000-82544gc` and `e1000-82545em`).
pub const DEVICE_IDS: &[u16] = &[
    0x100e, // 82540EM desktop
    0x1015, // 82540EM LOM
    0x1016, // 82540EP LOM
    0x1017, // 82540EP
    0x101e, // 82540EP LP
    0x100f, // 82545EM copper
    0x1026, // 82545GM copper
    0x100c, // 82544GC copper
    0x1004, // 82543GC copper
];

/// Size of each receive and transmit buffer. Frames of up to 1514 bytes
/// (1518 with a VLAN tag) fit; long packets are not enabled.
pub const BUFFER_SIZE: usize = 2048;

/// The longest frame the driver sends or accepts, without FCS.
pub const MAX_FRAME_LEN: usize = 1514;

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Receive descriptors: a multiple of 8 from 8 to 4096 (default 256).
    pub rx_ring: u16,
    /// Transmit descriptors: a multiple of 8 from 8 to 4096 (default 256).
    pub tx_ring: u16,
    /// Accept every frame (unicast and multicast promiscuous).
    pub promiscuous: bool,
    /// Use checksum offload in both directions (default on).
    pub checksum_offload: bool,
    /// Write the transmit tail register only on [`Device::flush`] (or every
    /// 32 frames) instead of after every frame: fewer register writes
    /// (costly under virtualisation), but the stack must call `flush`.
    pub defer_tx_doorbell: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rx_ring: 256,
            tx_ring: 256,
            promiscuous: false,
            checksum_offload: true,
            defer_tx_doorbell: false,
        }
    }
}

impl Config {
    /// These settings with `rx` receive and `tx` transmit descriptors.
    #[must_use]
    pub const fn with_rings(mut self, rx: u16, tx: u16) -> Config {
        self.rx_ring = rx;
        self.tx_ring = tx;
        self
    }

    /// These settings with promiscuous mode on or off.
    #[must_use]
    pub const fn with_promiscuous(mut self, on: bool) -> Config {
        self.promiscuous = on;
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

/// Link state read from the `STATUS` register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkStatus {
    /// The link is up.
    pub up: bool,
    /// Speed in Mb/s (10, 100 or 1000).
    pub speed_mbps: u16,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Interrupt causes read from `ICR` (reading acknowledges them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InterruptCauses(pub u32);

impl InterruptCauses {
    /// Transmit descriptor written back.
    pub const TX_DONE: u32 = INT_TXDW;
    /// Link status changed.
    pub const LINK_CHANGE: u32 = INT_LSC;
    /// Receive descriptor minimum threshold reached (ring running low).
    pub const RX_LOW: u32 = INT_RXDMT0;
    /// Receiver overrun (frames dropped).
    pub const RX_OVERRUN: u32 = INT_RXO;
    /// Receive timer expired (frames arrived).
    pub const RX_TIMER: u32 = INT_RXT0;
    /// What a polled driver typically enables.
    pub const DEFAULT: u32 = INT_TXDW | INT_LSC | INT_RXDMT0 | INT_RXO | INT_RXT0;

    /// Whether frames may be waiting to be received.
    pub const fn rx(self) -> bool {
        self.0 & (INT_RXT0 | INT_RXDMT0 | INT_RXO) != 0
    }

    /// Whether transmit descriptors completed.
    pub const fn tx(self) -> bool {
        self.0 & (INT_TXDW | INT_TXQE) != 0
    }

    /// Whether the link changed.
    pub const fn link(self) -> bool {
        self.0 & INT_LSC != 0
    }
}

/// Counters accumulated from the card's statistics registers (which clear
/// on read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct HwCounters {
    /// Good packets received (GPRC).
    pub good_rx_packets: u64,
    /// Good packets transmitted (GPTC).
    pub good_tx_packets: u64,
    /// Good octets received (GORC).
    pub good_rx_octets: u64,
    /// Good octets transmitted (GOTC).
    pub good_tx_octets: u64,
    /// Broadcast packets received (BPRC).
    pub broadcast_rx: u64,
    /// Multicast packets received (MPRC).
    pub multicast_rx: u64,
    /// CRC errors (CRCERRS).
    pub crc_errors: u64,
    /// Alignment errors (ALGNERRC).
    pub alignment_errors: u64,
    /// Symbol errors (SYMERRS).
    pub symbol_errors: u64,
    /// Receive errors (RXERRC).
    pub rx_errors: u64,
    /// Missed packets: dropped for lack of room (MPC).
    pub missed: u64,
    /// Receive-no-buffer events (RNBC).
    pub rx_no_buffer: u64,
    /// Undersize, fragment, oversize and jabber frames (RUC+RFC+ROC+RJC).
    pub rx_length_errors: u64,
    /// Excessive and late collisions (ECOL+LATECOL).
    pub tx_aborted: u64,
    /// Collisions (COLC).
    pub collisions: u64,
    /// Total packets received (TPR).
    pub total_rx_packets: u64,
    /// Total packets transmitted (TPT).
    pub total_tx_packets: u64,
}

/// The receive ring: descriptors, buffers, and the driver's position.
#[derive(Debug)]
struct RxRing {
    desc: Dma,
    bufs: Dma,
    len: u16,
    /// Next descriptor the driver expects the card to complete.
    next: u16,
    /// Descriptors handed back to the driver's side but not yet to the
    /// card (RDT not yet moved past them).
    unposted: u16,
    /// Checksum offload enabled.
    csum: bool,
    /// Inside a frame spread over several descriptors: drop up to and
    /// including the next end-of-packet descriptor.
    discarding: bool,
    stats: Stats,
}

/// The transmit ring.
#[derive(Debug)]
struct TxRing {
    desc: Dma,
    bufs: Dma,
    len: u16,
    /// Next descriptor to fill (the shadow of TDT).
    tail: u16,
    /// Oldest descriptor not yet seen done.
    clean: u16,
    /// Descriptors filled since the last TDT write.
    unflushed: u16,
    defer: bool,
    /// Offloads advertised.
    offload: ChecksumSet,
    /// The last context descriptor written (ipcss, ipcso, ipcse, tucss,
    /// tucso, tucmd), so that like frames skip it.
    context: Option<[u16; 6]>,
    stats: Stats,
}

/// An 8254x NIC driven through the HAL `H`.
///
/// Created by [`E1000::probe`] (from PCI configuration space) or
/// [`E1000::new`] (from an already enabled BAR 0). Dropping it resets the
/// card (stopping DMA) and frees its DMA memory.
#[derive(Debug)]
pub struct E1000<H: Hal> {
    hal: H,
    regs: Mmio,
    /// `None` only while being dropped.
    rx: Option<RxRing>,
    tx: Option<TxRing>,
    mac: [u8; 6],
    rctl: u32,
    caps: Capabilities,
    hw: Cell<HwCounters>,
}

fn ring_ok(n: u16) -> bool {
    (8..=4096).contains(&n) && n.is_multiple_of(8)
}

impl<H: Hal> E1000<H> {
    /// Finds the card at `addr`: checks its IDs against [`DEVICE_IDS`],
    /// sizes BAR 0, enables memory space and bus mastering, and calls
    /// [`E1000::new`].
    ///
    /// # Errors
    ///
    /// [`Error::WrongDevice`] for another device, [`Error::Missing`] if
    /// BAR 0 is not memory, and everything [`E1000::new`] returns.
    pub fn probe<C: ConfigAccess + ?Sized>(
        cfg: &mut C,
        addr: PciAddress,
        hal: H,
        config: Config,
    ) -> Result<E1000<H>, Error> {
        let h = Header::read(cfg, addr)?;
        if h.vendor_id != VENDOR_INTEL || !DEVICE_IDS.contains(&h.device_id) {
            return Err(Error::WrongDevice {
                vendor: h.vendor_id,
                device: h.device_id,
            });
        }
        let bars = pci::size_bars(cfg, addr)?;
        let bar0 = bars[0]
            .filter(Bar::is_memory)
            .ok_or(Error::Missing("memory BAR 0"))?;
        pci::enable_memory_and_bus_master(cfg, addr);
        E1000::new(hal, &bar0, config)
    }

    /// Maps `bar0`, resets the card and brings it up as configured.
    /// Memory space and bus mastering must already be enabled.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a bad ring size, [`Error::Hal`] if DMA
    /// memory or the mapping is unavailable, [`Error::Timeout`] if the card
    /// does not finish its reset, [`Error::Missing`] if no valid MAC
    /// address is found.
    pub fn new(hal: H, bar0: &Bar, config: Config) -> Result<E1000<H>, Error> {
        if !ring_ok(config.rx_ring) || !ring_ok(config.tx_ring) {
            return Err(Error::InvalidConfig(
                "ring sizes must be multiples of 8 in 8..=4096",
            ));
        }
        let regs = hal.map_bar(bar0)?;
        if regs.len() < 0x1_0000 {
            return Err(Error::OutOfBounds("BAR 0 smaller than the register file"));
        }
        // Stop everything before the reset, so no DMA is in flight.
        reset(&hal, &regs)?;
        let mac = read_mac(&hal, &regs)?;

        let rx_n = usize::from(config.rx_ring);
        let tx_n = usize::from(config.tx_ring);
        let mut regions: [Option<Dma>; 4] = [None, None, None, None];
        let sizes = [
            (rx_n * DESC_LEN, Direction::Both),
            (rx_n * BUFFER_SIZE, Direction::FromDevice),
            (tx_n * DESC_LEN, Direction::Both),
            (tx_n * BUFFER_SIZE, Direction::ToDevice),
        ];
        for (slot, (size, dir)) in regions.iter_mut().zip(sizes) {
            match hal.dma_alloc(size, dir) {
                Ok(d) if d.len() >= size => *slot = Some(d),
                other => {
                    if let Ok(d) = other {
                        // SAFETY: just allocated by this HAL, never given
                        // to the device.
                        unsafe_free(&hal, d);
                    }
                    for d in regions.iter_mut().filter_map(Option::take) {
                        unsafe_free(&hal, d);
                    }
                    return Err(Error::Hal(crate::HalError::OutOfMemory));
                }
            }
        }
        let [Some(rxd), Some(rxb), Some(txd), Some(txb)] = regions else {
            return Err(Error::Hal(crate::HalError::OutOfMemory));
        };

        let offload = if config.checksum_offload {
            ChecksumSet::of(ChecksumProto::Ipv4)
                .with(ChecksumProto::Tcp)
                .with(ChecksumProto::Udp)
        } else {
            ChecksumSet::EMPTY
        };
        let caps = Capabilities::new(Medium::Ethernet, 1500)
            .with_checksum(ChecksumCapabilities {
                rx: offload,
                tx: offload,
            })
            .with_max_burst(usize::from(config.rx_ring.min(config.tx_ring) / 2));
        let mut dev = E1000 {
            hal,
            regs,
            rx: Some(RxRing {
                desc: rxd,
                bufs: rxb,
                len: config.rx_ring,
                next: 0,
                unposted: 0,
                csum: config.checksum_offload,
                discarding: false,
                stats: Stats::new(),
            }),
            tx: Some(TxRing {
                desc: txd,
                bufs: txb,
                len: config.tx_ring,
                tail: 0,
                clean: 0,
                unflushed: 0,
                defer: config.defer_tx_doorbell,
                offload,
                context: None,
                stats: Stats::new(),
            }),
            mac,
            rctl: 0,
            caps,
            hw: Cell::new(HwCounters::default()),
        };
        dev.init(&config);
        Ok(dev)
    }

    fn init(&mut self, config: &Config) {
        let r = &self.regs;
        // Link: auto-speed detection, set link up, no forced speed/duplex,
        // no PHY or link reset, no VLAN mode.
        let ctrl = r.read32(CTRL);
        let ctrl = (ctrl | CTRL_ASDE | CTRL_SLU)
            & !(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_FRCSPD | CTRL_FRCDPLX | CTRL_VME);
        r.write32(CTRL, ctrl);

        // Receive address 0 valid, multicast table empty.
        let [m0, m1, m2, m3, m4, m5] = self.mac;
        r.write32(RAL0, u32::from_le_bytes([m0, m1, m2, m3]));
        r.write32(RAH0, u32::from(u16::from_le_bytes([m4, m5])) | RAH_AV);
        for i in 0..128 {
            r.write32(MTA + 4 * i, 0);
        }
        // Clear the statistics registers (they clear on read).
        let _ = read_counters(r);

        if let Some(rx) = self.rx.as_mut() {
            for i in 0..usize::from(rx.len) {
                let bus = rx.bufs.bus_addr_at(i * BUFFER_SIZE);
                write_rx_desc(&mut rx.desc, i, bus);
            }
            r.write64_split(RDBAL, rx.desc.bus_addr());
            r.write32(RDLEN, u32::from(rx.len) * DESC_LEN as u32);
            r.write32(RDH, 0);
            // All but one descriptor belong to the card (head == tail
            // would mean "empty").
            r.write32(RDT, u32::from(rx.len - 1));
            r.write32(RDTR, 0);
            r.write32(
                RXCSUM,
                if rx.csum {
                    RXCSUM_IPOFL | RXCSUM_TUOFL
                } else {
                    0
                },
            );
        }
        if let Some(tx) = self.tx.as_mut() {
            for i in 0..usize::from(tx.len) {
                // Mark every descriptor done, so the first reclaim does not
                // stall on stale state.
                tx.desc.write_u64(i * DESC_LEN, 0);
                tx.desc.write_u64(i * DESC_LEN + 8, 0);
            }
            r.write64_split(TDBAL, tx.desc.bus_addr());
            r.write32(TDLEN, u32::from(tx.len) * DESC_LEN as u32);
            r.write32(TDH, 0);
            r.write32(TDT, 0);
            r.write32(TIDV, 0);
            r.write32(TIPG, 10 | 8 << 10 | 6 << 20);
            r.write32(
                TCTL,
                TCTL_EN | TCTL_PSP | 0x10 << TCTL_CT_SHIFT | 0x40 << TCTL_COLD_SHIFT,
            );
        }
        r.write32(ITR, 0);
        // Polled mode: every interrupt masked; acknowledge leftovers.
        r.write32(IMC, u32::MAX);
        let _ = r.read32(ICR);

        // RCTL last and once (QEMU pauses reception after each write).
        self.rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_BSIZE_2048 | RCTL_RDMTS_HALF;
        if config.promiscuous {
            self.rctl |= RCTL_UPE | RCTL_MPE;
        }
        r.write32(RCTL, self.rctl);
    }

    /// The card's MAC address.
    pub fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    /// The link state.
    pub fn link_status(&self) -> LinkStatus {
        let s = self.regs.read32(STATUS);
        LinkStatus {
            up: s & STATUS_LU != 0,
            speed_mbps: match (s >> STATUS_SPEED_SHIFT) & 3 {
                0 => 10,
                1 => 100,
                _ => 1000,
            },
            full_duplex: s & STATUS_FD != 0,
        }
    }

    /// Reads and acknowledges the pending interrupt causes (`ICR` clears
    /// on read). Works in polled mode too: the causes are latched even
    /// while masked.
    pub fn interrupt_causes(&mut self) -> InterruptCauses {
        InterruptCauses(self.regs.read32(ICR))
    }

    /// Unmasks the interrupt causes in `mask` (see [`InterruptCauses`]).
    pub fn enable_interrupts(&mut self, mask: u32) {
        self.regs.write32(IMS, mask);
    }

    /// Masks every interrupt (polled mode).
    pub fn disable_interrupts(&mut self) {
        self.regs.write32(IMC, u32::MAX);
    }

    /// The interrupt mask currently set.
    pub fn interrupt_mask(&self) -> u32 {
        self.regs.read32(IMS)
    }

    fn write_rctl(&mut self, rctl: u32) {
        if rctl != self.rctl {
            self.rctl = rctl;
            self.regs.write32(RCTL, rctl);
        }
    }

    /// Turns unicast and multicast promiscuous mode on or off. (Under QEMU
    /// this pauses reception for one second.)
    pub fn set_promiscuous(&mut self, on: bool) {
        let bits = RCTL_UPE | RCTL_MPE;
        self.write_rctl(if on {
            self.rctl | bits
        } else {
            self.rctl & !bits
        });
    }

    /// Accepts every multicast frame, or only those in the multicast table.
    pub fn set_all_multicast(&mut self, on: bool) {
        self.write_rctl(if on {
            self.rctl | RCTL_MPE
        } else {
            self.rctl & !RCTL_MPE
        });
    }

    /// The multicast table bit for `mac` (filter type 0: bits 47:36).
    fn mta_bit(mac: &[u8; 6]) -> (usize, u32) {
        let hash = (u16::from(mac[4]) >> 4 | u16::from(mac[5]) << 4) & 0xfff;
        (usize::from(hash >> 5), 1 << (hash & 0x1f))
    }

    /// Accepts multicast frames to `mac` (an imperfect hash filter: a few
    /// other groups may pass too; the stack filters exactly).
    pub fn add_multicast(&mut self, mac: [u8; 6]) {
        let (reg, bit) = Self::mta_bit(&mac);
        let off = MTA + 4 * reg;
        let v = self.regs.read32(off);
        self.regs.write32(off, v | bit);
    }

    /// Empties the multicast table.
    pub fn clear_multicast(&mut self) {
        for i in 0..128 {
            self.regs.write32(MTA + 4 * i, 0);
        }
    }

    /// Reads the statistics registers and adds them to the running totals.
    /// [`Device::stats`] does this too.
    pub fn hw_counters(&self) -> HwCounters {
        let mut acc = self.hw.get();
        let d = read_counters(&self.regs);
        add_counters(&mut acc, &d);
        self.hw.set(acc);
        acc
    }

    /// Frames waiting in the transmit ring (written, not yet completed by
    /// the card).
    pub fn tx_in_flight(&self) -> usize {
        self.tx
            .as_ref()
            .map_or(0, |t| usize::from((t.tail + t.len - t.clean) % t.len))
    }

    /// The HAL this driver uses.
    pub fn hal(&self) -> &H {
        &self.hal
    }
}

/// Frees a region during a failed initialisation.
fn unsafe_free<H: Hal>(hal: &H, d: Dma) {
    #[allow(unsafe_code)]
    // SAFETY: callers pass regions this HAL just allocated whose addresses
    // were never written to the card.
    unsafe {
        hal.dma_free(d)
    }
}

/// Masks interrupts, stops both units, resets the card and waits for the
/// reset to finish.
fn reset<H: Hal>(hal: &H, r: &Mmio) -> Result<(), Error> {
    r.write32(IMC, u32::MAX);
    r.write32(RCTL, 0);
    r.write32(TCTL, TCTL_PSP);
    let _ = r.read32(STATUS);
    hal.delay_us(10_000);
    r.write32(CTRL, r.read32(CTRL) | CTRL_RST);
    // The manual asks for at least 1 µs before the next access.
    hal.delay_us(10);
    let mut done = false;
    for _ in 0..1000 {
        if r.read32(CTRL) & CTRL_RST == 0 {
            done = true;
            break;
        }
        hal.delay_us(10);
    }
    if !done {
        return Err(Error::Timeout("e1000 reset"));
    }
    r.write32(IMC, u32::MAX);
    let _ = r.read32(ICR);
    Ok(())
}

fn mac_ok(mac: &[u8; 6]) -> bool {
    mac != &[0; 6] && mac != &[0xff; 6] && mac[0] & 1 == 0
}

/// The MAC address from RAL0/RAH0 if the card loaded a valid one, else
/// from EEPROM words 0 to 2 through `EERD`.
fn read_mac<H: Hal>(hal: &H, r: &Mmio) -> Result<[u8; 6], Error> {
    let ral = r.read32(RAL0).to_le_bytes();
    let rah = r.read32(RAH0);
    let [a, b, c, d] = ral;
    let [e, f, _, _] = rah.to_le_bytes();
    let mac = [a, b, c, d, e, f];
    if rah & RAH_AV != 0 && mac_ok(&mac) {
        return Ok(mac);
    }
    let mut mac = [0u8; 6];
    for (word, chunk) in (0u32..).zip(mac.chunks_exact_mut(2)) {
        r.write32(EERD, EERD_START | word << EERD_ADDR_SHIFT);
        let mut value = None;
        for _ in 0..1000 {
            let v = r.read32(EERD);
            if v & EERD_DONE != 0 {
                value = Some((v >> EERD_DATA_SHIFT) as u16);
                break;
            }
            hal.delay_us(5);
        }
        let v = value.ok_or(Error::Timeout("EEPROM read"))?;
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    if mac_ok(&mac) {
        Ok(mac)
    } else {
        Err(Error::Missing("valid MAC address"))
    }
}

fn read_counters(r: &Mmio) -> HwCounters {
    let rd = |o| u64::from(r.read32(o));
    // The high octet registers must be read after the low ones.
    let gorc = rd(GORCL) | rd(GORCH) << 32;
    let gotc = rd(GOTCL) | rd(GOTCH) << 32;
    HwCounters {
        good_rx_packets: rd(GPRC),
        good_tx_packets: rd(GPTC),
        good_rx_octets: gorc,
        good_tx_octets: gotc,
        broadcast_rx: rd(BPRC),
        multicast_rx: rd(MPRC),
        crc_errors: rd(CRCERRS),
        alignment_errors: rd(ALGNERRC),
        symbol_errors: rd(SYMERRS),
        rx_errors: rd(RXERRC),
        missed: rd(MPC),
        rx_no_buffer: rd(RNBC),
        rx_length_errors: rd(RUC) + rd(RFC) + rd(ROC) + rd(RJC),
        tx_aborted: rd(ECOL) + rd(LATECOL),
        collisions: rd(COLC),
        total_rx_packets: rd(TPR),
        total_tx_packets: rd(TPT),
    }
}

fn add_counters(acc: &mut HwCounters, d: &HwCounters) {
    let pairs: [(&mut u64, u64); 17] = [
        (&mut acc.good_rx_packets, d.good_rx_packets),
        (&mut acc.good_tx_packets, d.good_tx_packets),
        (&mut acc.good_rx_octets, d.good_rx_octets),
        (&mut acc.good_tx_octets, d.good_tx_octets),
        (&mut acc.broadcast_rx, d.broadcast_rx),
        (&mut acc.multicast_rx, d.multicast_rx),
        (&mut acc.crc_errors, d.crc_errors),
        (&mut acc.alignment_errors, d.alignment_errors),
        (&mut acc.symbol_errors, d.symbol_errors),
        (&mut acc.rx_errors, d.rx_errors),
        (&mut acc.missed, d.missed),
        (&mut acc.rx_no_buffer, d.rx_no_buffer),
        (&mut acc.rx_length_errors, d.rx_length_errors),
        (&mut acc.tx_aborted, d.tx_aborted),
        (&mut acc.collisions, d.collisions),
        (&mut acc.total_rx_packets, d.total_rx_packets),
        (&mut acc.total_tx_packets, d.total_tx_packets),
    ];
    for (a, v) in pairs {
        *a = a.wrapping_add(v);
    }
}

fn write_rx_desc(desc: &mut Dma, i: usize, buf_bus: u64) {
    desc.write_u64(i * DESC_LEN, buf_bus);
    // Length, checksum, status, errors, special: all zero.
    desc.write_u64(i * DESC_LEN + 8, 0);
}

impl RxRing {
    /// Finds the next good completed frame: skips (and recycles) bad
    /// descriptors; returns the index and length of a good one.
    fn next_frame(&mut self, regs: &Mmio) -> Option<(u16, usize, ChecksumSet)> {
        // Bounded: at most one pass over the ring.
        for _ in 0..self.len {
            let i = usize::from(self.next);
            let base = i * DESC_LEN;
            let status = self.desc.read_u8(base + 12)?;
            if status & RXD_STAT_DD == 0 {
                self.post(regs);
                return None;
            }
            let len = usize::from(self.desc.read_u16(base + 8)?);
            let errors = self.desc.read_u8(base + 13)?;
            let eop = status & RXD_STAT_EOP != 0;
            if self.discarding || !eop {
                // A frame spread over several buffers (never sent by a
                // sane card with 2048-byte buffers and long packets off):
                // one error for the whole frame, every piece dropped.
                if !self.discarding {
                    self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                }
                self.discarding = !eop;
                self.recycle(regs);
                continue;
            }
            if errors & RXD_ERR_FRAME != 0 || len == 0 || len > BUFFER_SIZE {
                // A frame with a receive error, or a nonsensical length.
                self.stats.rx_errors = self.stats.rx_errors.wrapping_add(1);
                self.recycle(regs);
                continue;
            }
            let mut verified = ChecksumSet::EMPTY;
            if self.csum && status & RXD_STAT_IXSM == 0 {
                if status & RXD_STAT_IPCS != 0 && errors & RXD_ERR_IPE == 0 {
                    verified = verified.with(ChecksumProto::Ipv4);
                }
                if status & RXD_STAT_TCPCS != 0 && errors & RXD_ERR_TCPE == 0 {
                    // The card reports TCP and UDP with one bit; the frame
                    // carries only one of them.
                    verified = verified.with(ChecksumProto::Tcp).with(ChecksumProto::Udp);
                }
            }
            return Some((self.next, len, verified));
        }
        None
    }

    /// Gives descriptor `next` back to the driver's free list and moves on.
    fn recycle(&mut self, regs: &Mmio) {
        let i = usize::from(self.next);
        let bus = self.bufs.bus_addr_at(i * BUFFER_SIZE);
        write_rx_desc(&mut self.desc, i, bus);
        self.next = (self.next + 1) % self.len;
        self.unposted += 1;
        if self.unposted >= 32.min(self.len / 2) {
            self.post(regs);
        }
    }

    /// Hands the recycled descriptors to the card: the tail moves to the
    /// one before `next` (the card owns `RDH..RDT`, exclusive).
    fn post(&mut self, regs: &Mmio) {
        if self.unposted > 0 {
            self.unposted = 0;
            let tail = (self.next + self.len - 1) % self.len;
            regs.write32(RDT, u32::from(tail));
        }
    }
}

impl TxRing {
    /// Advances `clean` past descriptors the card has completed.
    fn reclaim(&mut self) {
        while self.clean != self.tail {
            let base = usize::from(self.clean) * DESC_LEN;
            match self.desc.read_u8(base + 12) {
                Some(s) if s & TXD_STAT_DD != 0 => self.clean = (self.clean + 1) % self.len,
                _ => break,
            }
        }
    }

    /// Free descriptors (one is always left empty so that a full ring is
    /// told apart from an empty one).
    fn free(&self) -> u16 {
        self.len - 1 - (self.tail + self.len - self.clean) % self.len
    }

    fn doorbell(&mut self, regs: &Mmio) {
        if self.unflushed > 0 {
            self.unflushed = 0;
            regs.write32(TDT, u32::from(self.tail));
        }
    }

    /// Writes a context descriptor for `meta` if one is needed and differs
    /// from the cached one; returns the POPTS bits for the data descriptor.
    fn offload(&mut self, meta: &TxMeta, len: usize) -> Option<(Option<[u16; 6]>, u8)> {
        let want = meta.checksum_offload.intersection(self.offload);
        if want.is_empty() {
            return Some((None, 0));
        }
        let l3 = usize::from(meta.l3_offset);
        let l4 = usize::from(meta.l4_offset);
        let tcp = want.contains(ChecksumProto::Tcp);
        let udp = want.contains(ChecksumProto::Udp);
        let field = if tcp { 16 } else { 6 };
        // The context fields are bytes: offsets must fit, and the headers
        // must lie inside the frame.
        if l3 + 20 > l4 || l4 + field + 2 > len || l4 + field > 255 || l4 > 255 {
            return None;
        }
        let tucmd = u16::from(TUCMD_IP) | if tcp { u16::from(TUCMD_TCP) } else { 0 };
        let ctx = [
            l3 as u16,
            (l3 + 10) as u16,
            (l4 - 1) as u16,
            l4 as u16,
            (l4 + field) as u16,
            tucmd,
        ];
        let mut popts = 0;
        if want.contains(ChecksumProto::Ipv4) {
            popts |= POPTS_IXSM;
        }
        if tcp || udp {
            popts |= POPTS_TXSM;
        }
        let new = if self.context == Some(ctx) {
            None
        } else {
            Some(ctx)
        };
        Some((new, popts))
    }

    fn write_context(&mut self, ctx: [u16; 6]) {
        let base = usize::from(self.tail) * DESC_LEN;
        let [ipcss, ipcso, ipcse, tucss, tucso, tucmd] = ctx;
        let d = &mut self.desc;
        d.write_u32(
            base,
            u32::from(ipcss as u8) | u32::from(ipcso as u8) << 8 | u32::from(ipcse) << 16,
        );
        // TUCSE = 0: checksum to the end of the frame.
        d.write_u32(
            base + 4,
            u32::from(tucss as u8) | u32::from(tucso as u8) << 8,
        );
        let tucmd = (tucmd as u8) | TXD_CMD_DEXT | TXD_CMD_RS;
        d.write_u32(base + 8, u32::from(tucmd) << 24);
        d.write_u32(base + 12, 0);
        self.context = Some(ctx);
        self.tail = (self.tail + 1) % self.len;
        self.unflushed += 1;
    }
}

/// Computes in software the checksums the card cannot take (offsets out
/// of the context descriptor's reach); `set` holds only advertised ones.
fn software_checksums(frame: &mut [u8], set: ChecksumSet, l3: usize, l4: usize) {
    if set.contains(ChecksumProto::Ipv4)
        && l3 + 20 <= l4
        && let Some(h) = frame.get_mut(l3..l4)
    {
        h[10] = 0;
        h[11] = 0;
        let c = checksum::checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let field = if set.contains(ChecksumProto::Tcp) {
        16
    } else if set.contains(ChecksumProto::Udp) {
        6
    } else {
        return;
    };
    if let Some(seg) = frame.get_mut(l4..)
        && seg.len() >= field + 2
    {
        // The field holds the pseudo-header sum: summing the segment with
        // it in place and complementing gives the checksum.
        let mut c = checksum::checksum(seg);
        if c == 0 && field == 6 {
            c = 0xffff;
        }
        seg[field..field + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// The receive token of an [`E1000`]: lends the frame in its DMA buffer;
/// the descriptor goes back to the card when the token is dropped.
#[derive(Debug)]
pub struct E1000RxToken<'a> {
    ring: &'a mut RxRing,
    regs: &'a Mmio,
    idx: u16,
    len: usize,
    verified: ChecksumSet,
}

impl RxToken for E1000RxToken<'_> {
    fn meta(&self) -> RxMeta {
        let mut m = RxMeta::default();
        m.checksum_verified = self.verified;
        m
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let off = usize::from(self.idx) * BUFFER_SIZE;
        let mut empty = [0u8; 0];
        let frame = match self.ring.bufs.slice_mut(off, self.len) {
            Some(s) => s,
            None => &mut empty,
        };
        f(frame)
        // `Drop` recycles the descriptor.
    }
}

impl Drop for E1000RxToken<'_> {
    fn drop(&mut self) {
        self.ring.recycle(self.regs);
    }
}

/// The transmit token of an [`E1000`]: lends the buffer of the next free
/// transmit descriptor.
#[derive(Debug)]
pub struct E1000TxToken<'a> {
    ring: &'a mut TxRing,
    regs: &'a Mmio,
    meta: TxMeta,
}

impl TxToken for E1000TxToken<'_> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.meta = meta;
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, lamina_netdev::Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let ring = self.ring;
        if len > MAX_FRAME_LEN {
            ring.stats.tx_errors = ring.stats.tx_errors.wrapping_add(1);
            return Err(lamina_netdev::Error::FrameTooLong {
                len,
                max: MAX_FRAME_LEN,
            });
        }
        ring.reclaim();
        let plan = ring.offload(&self.meta, len);
        let need = match plan {
            Some((Some(_), _)) => 2,
            _ => 1,
        };
        if ring.free() < need {
            ring.stats.tx_errors = ring.stats.tx_errors.wrapping_add(1);
            return Err(lamina_netdev::Error::NoBuffer);
        }
        let popts = match plan {
            Some((ctx, popts)) => {
                if let Some(ctx) = ctx {
                    ring.write_context(ctx);
                }
                popts
            }
            None => 0,
        };
        let idx = usize::from(ring.tail);
        let off = idx * BUFFER_SIZE;
        let Some(buf) = ring.bufs.slice_mut(off, len) else {
            ring.stats.tx_errors = ring.stats.tx_errors.wrapping_add(1);
            return Err(lamina_netdev::Error::NoBuffer);
        };
        let r = f(buf);
        if plan.is_none()
            && let Some(buf) = ring.bufs.slice_mut(off, len)
        {
            let set = self.meta.checksum_offload.intersection(ring.offload);
            let (l3, l4) = (self.meta.l3_offset, self.meta.l4_offset);
            software_checksums(buf, set, usize::from(l3), usize::from(l4));
        }
        let bus = ring.bufs.bus_addr_at(off);
        let base = idx * DESC_LEN;
        ring.desc.write_u64(base, bus);
        if popts != 0 {
            let cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS | TXD_CMD_DEXT;
            ring.desc
                .write_u32(base + 8, len as u32 | TXD_DTYP_DATA | u32::from(cmd) << 24);
            ring.desc.write_u32(base + 12, u32::from(popts) << 8);
        } else {
            // Legacy descriptor: length, CSO 0, CMD, status 0, CSS 0.
            let cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
            ring.desc
                .write_u32(base + 8, len as u32 | u32::from(cmd) << 24);
            ring.desc.write_u32(base + 12, 0);
        }
        ring.tail = (ring.tail + 1) % ring.len;
        ring.unflushed += 1;
        ring.stats.count_tx(len);
        if !ring.defer || ring.unflushed >= 32 {
            ring.doorbell(self.regs);
        }
        Ok(r)
    }
}

impl<H: Hal> Device for E1000<H> {
    type RxToken<'a>
        = E1000RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = E1000TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(E1000RxToken<'_>, E1000TxToken<'_>)> {
        let regs = &self.regs;
        let rx = self.rx.as_mut()?;
        let tx = self.tx.as_mut()?;
        let (idx, len, verified) = rx.next_frame(regs)?;
        rx.stats.count_rx(len);
        tx.reclaim();
        Some((
            E1000RxToken {
                ring: rx,
                regs,
                idx,
                len,
                verified,
            },
            E1000TxToken {
                ring: tx,
                regs,
                meta: TxMeta::new(),
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<E1000TxToken<'_>> {
        let tx = self.tx.as_mut()?;
        tx.reclaim();
        // Room for a context descriptor and a data descriptor.
        if tx.free() < 2 {
            tx.doorbell(&self.regs);
            return None;
        }
        Some(E1000TxToken {
            ring: tx,
            regs: &self.regs,
            meta: TxMeta::new(),
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Software counts of frames handed over in each direction, plus the
    /// card's error counters: `rx_dropped` = missed packets (MPC),
    /// `rx_errors` = frames the driver discarded + CRC, alignment, symbol,
    /// receive and length errors, `tx_errors` = refused transmits +
    /// aborted (excessive/late collision) frames.
    fn stats(&self) -> Stats {
        let hw = self.hw_counters();
        let mut s = Stats::new();
        if let Some(rx) = &self.rx {
            s += rx.stats;
        }
        if let Some(tx) = &self.tx {
            s += tx.stats;
        }
        s.rx_dropped = s.rx_dropped.wrapping_add(hw.missed);
        s.rx_errors = s
            .rx_errors
            .wrapping_add(hw.crc_errors)
            .wrapping_add(hw.alignment_errors)
            .wrapping_add(hw.symbol_errors)
            .wrapping_add(hw.rx_errors)
            .wrapping_add(hw.rx_length_errors);
        s.tx_errors = s.tx_errors.wrapping_add(hw.tx_aborted);
        s
    }

    fn flush(&mut self, _now: Instant) {
        if let Some(tx) = self.tx.as_mut() {
            tx.doorbell(&self.regs);
        }
        if let Some(rx) = self.rx.as_mut() {
            rx.post(&self.regs);
        }
    }
}

impl<H: Hal> Drop for E1000<H> {
    fn drop(&mut self) {
        // Stop DMA before freeing the memory the card points at.
        if reset(&self.hal, &self.regs).is_err() {
            // The card did not come out of reset; it may still be running.
            // Leaking the rings is the only safe choice.
            return;
        }
        let rings = self.rx.take().map(|r| [r.desc, r.bufs]);
        let rings = rings.into_iter().flatten();
        let tx = self
            .tx
            .take()
            .map(|t| [t.desc, t.bufs])
            .into_iter()
            .flatten();
        for d in rings.chain(tx) {
            #[allow(unsafe_code)]
            // SAFETY: the regions were allocated by this HAL in `new`; the
            // card was just reset, which stops its DMA engines and clears
            // the ring base registers.
            unsafe {
                self.hal.dma_free(d)
            }
        }
    }
}
