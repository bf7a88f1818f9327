//! PCI configuration space: the type 0 header, base address registers
//! (decoding and sizing), the command register, and the capability list
//! (MSI, MSI-X, virtio vendor capabilities).
//!
//! Everything goes through a [`ConfigAccess`] the integrator supplies (port
//! I/O `0xcf8`/`0xcfc`, ECAM, or Linux's sysfs `config` file). Parsing never
//! trusts the device: a malformed capability list yields an [`Error`]
//! instead of a panic or an endless walk.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// The address of a PCI function: segment (domain), bus, device, function.
///
/// ```
/// use lamina_drivers_pci::pci::PciAddress;
/// let a: PciAddress = "0000:00:03.0".parse().unwrap();
/// assert_eq!((a.bus, a.device, a.function), (0, 3, 0));
/// assert_eq!(a.to_string(), "0000:00:03.0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PciAddress {
    /// PCI segment group (domain).
    pub segment: u16,
    /// Bus number.
    pub bus: u8,
    /// Device number (0 to 31).
    pub device: u8,
    /// Function number (0 to 7).
    pub function: u8,
}

impl PciAddress {
    /// The address `segment:bus:device.function`; `device` is masked to 5
    /// bits and `function` to 3.
    pub const fn new(segment: u16, bus: u8, device: u8, function: u8) -> PciAddress {
        PciAddress {
            segment,
            bus,
            device: device & 0x1f,
            function: function & 0x7,
        }
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.segment, self.bus, self.device, self.function
        )
    }
}

/// The text is not a PCI address of the form `SSSS:BB:DD.F` or `BB:DD.F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseAddressError;

impl fmt::Display for ParseAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid PCI address (expected SSSS:BB:DD.F)")
    }
}

impl core::error::Error for ParseAddressError {}

impl FromStr for PciAddress {
    type Err = ParseAddressError;

    fn from_str(s: &str) -> Result<PciAddress, ParseAddressError> {
        let (rest, function) = s.rsplit_once('.').ok_or(ParseAddressError)?;
        let mut parts = rest.rsplit(':');
        let device = parts.next().ok_or(ParseAddressError)?;
        let bus = parts.next().ok_or(ParseAddressError)?;
        let segment = parts.next().unwrap_or("0");
        if parts.next().is_some() {
            return Err(ParseAddressError);
        }
        let hex16 = |t: &str, max: u16| -> Result<u16, ParseAddressError> {
            if t.is_empty() || t.len() > 4 {
                return Err(ParseAddressError);
            }
            let v = u16::from_str_radix(t, 16).map_err(|_| ParseAddressError)?;
            if v > max {
                return Err(ParseAddressError);
            }
            Ok(v)
        };
        Ok(PciAddress {
            segment: hex16(segment, 0xffff)?,
            bus: hex16(bus, 0xff)? as u8,
            device: hex16(device, 0x1f)? as u8,
            function: hex16(function, 0x7)? as u8,
        })
    }
}

/// Access to configuration space, supplied by the integrator: legacy port
/// I/O, ECAM, Linux's sysfs `config` file, VFIO's config region, or
/// [`MemConfig`] in tests.
///
/// Offsets are bytes from the start of the function's configuration space
/// (0 to 4095). Accesses must be naturally aligned; an implementation
/// returns all ones for a read it cannot perform (as a PCI master abort
/// does) and ignores such a write. Byte and word writes must touch only
/// those bytes: a read-modify-write of the whole dword would clear the
/// write-one-to-clear bits of the status register.
pub trait ConfigAccess {
    /// Reads the dword at `offset` (a multiple of 4).
    fn read32(&mut self, addr: PciAddress, offset: u16) -> u32;
    /// Writes the dword at `offset` (a multiple of 4).
    fn write32(&mut self, addr: PciAddress, offset: u16, value: u32);
    /// Writes the word at `offset` (a multiple of 2).
    fn write16(&mut self, addr: PciAddress, offset: u16, value: u16);
    /// Writes the byte at `offset`.
    fn write8(&mut self, addr: PciAddress, offset: u16, value: u8);

    /// Reads the word at `offset` (a multiple of 2); by default from the
    /// enclosing dword.
    fn read16(&mut self, addr: PciAddress, offset: u16) -> u16 {
        let dword = self.read32(addr, offset & !3);
        (dword >> ((offset & 2) * 8)) as u16
    }

    /// Reads the byte at `offset`; by default from the enclosing dword.
    fn read8(&mut self, addr: PciAddress, offset: u16) -> u8 {
        let dword = self.read32(addr, offset & !3);
        (dword >> ((offset & 3) * 8)) as u8
    }
}

impl<C: ConfigAccess + ?Sized> ConfigAccess for &mut C {
    fn read32(&mut self, addr: PciAddress, offset: u16) -> u32 {
        (**self).read32(addr, offset)
    }
    fn write32(&mut self, addr: PciAddress, offset: u16, value: u32) {
        (**self).write32(addr, offset, value)
    }
    fn write16(&mut self, addr: PciAddress, offset: u16, value: u16) {
        (**self).write16(addr, offset, value)
    }
    fn write8(&mut self, addr: PciAddress, offset: u16, value: u8) {
        (**self).write8(addr, offset, value)
    }
    fn read16(&mut self, addr: PciAddress, offset: u16) -> u16 {
        (**self).read16(addr, offset)
    }
    fn read8(&mut self, addr: PciAddress, offset: u16) -> u8 {
        (**self).read8(addr, offset)
    }
}

/// Offsets of the configuration-space header registers.
pub mod regs {
    /// Vendor ID (16 bits).
    pub const VENDOR_ID: u16 = 0x00;
    /// Device ID (16 bits).
    pub const DEVICE_ID: u16 = 0x02;
    /// Command register (16 bits).
    pub const COMMAND: u16 = 0x04;
    /// Status register (16 bits).
    pub const STATUS: u16 = 0x06;
    /// Revision ID (8 bits).
    pub const REVISION: u16 = 0x08;
    /// Header type (8 bits; bit 7 = multi-function).
    pub const HEADER_TYPE: u16 = 0x0e;
    /// First base address register.
    pub const BAR0: u16 = 0x10;
    /// Subsystem vendor ID (type 0).
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2c;
    /// Capabilities pointer (8 bits).
    pub const CAPABILITIES_POINTER: u16 = 0x34;
}

/// Bits of the command register.
pub mod command {
    /// Respond to I/O space accesses.
    pub const IO_SPACE: u16 = 1 << 0;
    /// Respond to memory space accesses.
    pub const MEMORY_SPACE: u16 = 1 << 1;
    /// Allow the function to master the bus (DMA, MSI).
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Report parity errors.
    pub const PARITY_ERROR_RESPONSE: u16 = 1 << 6;
    /// Enable SERR#.
    pub const SERR: u16 = 1 << 8;
    /// Disable legacy INTx interrupts.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// Bits of the status register.
pub mod status {
    /// Legacy interrupt pending.
    pub const INTERRUPT: u16 = 1 << 3;
    /// The capability list is present.
    pub const CAPABILITIES_LIST: u16 = 1 << 4;
    /// The function signalled a target abort (write one to clear).
    pub const SIGNALED_TARGET_ABORT: u16 = 1 << 11;
    /// The function received a target abort as master (write one to clear).
    pub const RECEIVED_TARGET_ABORT: u16 = 1 << 12;
    /// The function received a master abort (write one to clear).
    pub const RECEIVED_MASTER_ABORT: u16 = 1 << 13;
    /// The function detected a parity error (write one to clear).
    pub const DETECTED_PARITY_ERROR: u16 = 1 << 15;
}

/// The type 0 (endpoint) configuration header, as read from a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Command register.
    pub command: u16,
    /// Status register.
    pub status: u16,
    /// Revision ID.
    pub revision: u8,
    /// Programming interface.
    pub prog_if: u8,
    /// Subclass code.
    pub subclass: u8,
    /// Class code (2 = network controller).
    pub class: u8,
    /// Cache line size, in dwords.
    pub cache_line_size: u8,
    /// Latency timer.
    pub latency_timer: u8,
    /// Header type without the multi-function bit.
    pub header_type: u8,
    /// The device has more than one function.
    pub multifunction: bool,
    /// Built-in self test register.
    pub bist: u8,
    /// The six raw base address registers.
    pub bars: [u32; 6],
    /// CardBus CIS pointer.
    pub cardbus_cis: u32,
    /// Subsystem vendor ID.
    pub subsystem_vendor_id: u16,
    /// Subsystem ID.
    pub subsystem_id: u16,
    /// Expansion ROM base address.
    pub expansion_rom: u32,
    /// Capabilities pointer (meaningful when the status register says the
    /// list exists).
    pub capabilities_pointer: u8,
    /// Interrupt line (set by firmware).
    pub interrupt_line: u8,
    /// Interrupt pin (0 = none, 1 = INTA# ...).
    pub interrupt_pin: u8,
    /// Min grant.
    pub min_grant: u8,
    /// Max latency.
    pub max_latency: u8,
}

impl Header {
    /// Reads the type 0 header of `addr`.
    ///
    /// # Errors
    ///
    /// [`Error::NoDevice`] if the vendor ID reads `0xffff`,
    /// [`Error::UnsupportedHeaderType`] for bridges and CardBus headers.
    pub fn read<C: ConfigAccess + ?Sized>(cfg: &mut C, addr: PciAddress) -> Result<Header, Error> {
        let mut d = [0u32; 16];
        for (i, dw) in (0u16..).zip(d.iter_mut()) {
            *dw = cfg.read32(addr, i * 4);
        }
        let [
            id,
            cs,
            class,
            misc,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            cis,
            sub,
            rom,
            cap,
            _,
            int,
        ] = d;
        if id & 0xffff == 0xffff {
            return Err(Error::NoDevice);
        }
        let raw_type = (misc >> 16) as u8;
        let header_type = raw_type & 0x7f;
        if header_type != 0 {
            return Err(Error::UnsupportedHeaderType(header_type));
        }
        Ok(Header {
            vendor_id: id as u16,
            device_id: (id >> 16) as u16,
            command: cs as u16,
            status: (cs >> 16) as u16,
            revision: class as u8,
            prog_if: (class >> 8) as u8,
            subclass: (class >> 16) as u8,
            class: (class >> 24) as u8,
            cache_line_size: misc as u8,
            latency_timer: (misc >> 8) as u8,
            header_type,
            multifunction: raw_type & 0x80 != 0,
            bist: (misc >> 24) as u8,
            bars: [b0, b1, b2, b3, b4, b5],
            cardbus_cis: cis,
            subsystem_vendor_id: sub as u16,
            subsystem_id: (sub >> 16) as u16,
            expansion_rom: rom,
            capabilities_pointer: cap as u8,
            interrupt_line: int as u8,
            interrupt_pin: (int >> 8) as u8,
            min_grant: (int >> 16) as u8,
            max_latency: (int >> 24) as u8,
        })
    }

    /// Whether the status register announces a capability list.
    pub const fn has_capabilities(&self) -> bool {
        self.status & status::CAPABILITIES_LIST != 0
    }

    /// Decodes the six BARs (without sizes; see [`size_bars`]).
    ///
    /// # Errors
    ///
    /// [`Error::BadBar`] for a 64-bit BAR in slot 5 or a reserved memory
    /// type.
    pub fn decode_bars(&self) -> Result<[Option<Bar>; 6], Error> {
        decode_bars(&self.bars)
    }
}

/// What a base address register maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarKind {
    /// I/O port space.
    Io,
    /// Memory space below 4 GiB.
    Memory32 {
        /// Reads have no side effects.
        prefetchable: bool,
    },
    /// Memory space anywhere in 64 bits (takes two BAR slots).
    Memory64 {
        /// Reads have no side effects.
        prefetchable: bool,
    },
}

/// One decoded base address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bar {
    /// Index of the (first) BAR slot, 0 to 5.
    pub index: u8,
    /// Space and width.
    pub kind: BarKind,
    /// The bus address (I/O port for I/O BARs), flag bits removed.
    pub address: u64,
    /// The size in bytes once sized by [`size_bars`]; 0 if unknown or if
    /// the BAR is unimplemented.
    pub size: u64,
}

impl Bar {
    /// Whether the BAR is memory space (32 or 64 bits).
    pub const fn is_memory(&self) -> bool {
        !matches!(self.kind, BarKind::Io)
    }
}

/// Decodes raw BAR values. A 64-bit BAR fills its own slot and leaves the
/// next one `None`.
///
/// # Errors
///
/// [`Error::BadBar`] for a 64-bit BAR in slot 5 or the reserved memory type
/// `0b11`.
pub fn decode_bars(raw: &[u32; 6]) -> Result<[Option<Bar>; 6], Error> {
    let mut out = [None; 6];
    let mut i = 0usize;
    while i < 6 {
        let v = raw.get(i).copied().unwrap_or(0);
        let index = i as u8;
        if v & 1 == 1 {
            out[i] = Some(Bar {
                index,
                kind: BarKind::Io,
                address: u64::from(v & !0x3),
                size: 0,
            });
            i += 1;
            continue;
        }
        let prefetchable = v & 0x8 != 0;
        match (v >> 1) & 0x3 {
            0b00 => {
                out[i] = Some(Bar {
                    index,
                    kind: BarKind::Memory32 { prefetchable },
                    address: u64::from(v & !0xf),
                    size: 0,
                });
                i += 1;
            }
            0b10 => {
                let Some(&hi) = raw.get(i + 1) else {
                    return Err(Error::BadBar { index });
                };
                out[i] = Some(Bar {
                    index,
                    kind: BarKind::Memory64 { prefetchable },
                    address: u64::from(v & !0xf) | (u64::from(hi) << 32),
                    size: 0,
                });
                i += 2;
            }
            // 0b01 was "below 1 MiB" in PCI 2.x and is reserved now.
            _ => return Err(Error::BadBar { index }),
        }
    }
    Ok(out)
}

/// Decodes and sizes every BAR of `addr` with the write-all-ones protocol.
///
/// I/O and memory decoding are turned off in the command register while
/// the BARs hold all ones, each BAR gets its original value back, and the
/// command register is restored afterwards, so the function keeps working
/// as before. A BAR that reads back zero is unimplemented and reported as
/// `None`.
///
/// # Errors
///
/// As [`decode_bars`], and [`Error::NoDevice`] /
/// [`Error::UnsupportedHeaderType`] from reading the header.
pub fn size_bars<C: ConfigAccess + ?Sized>(
    cfg: &mut C,
    addr: PciAddress,
) -> Result<[Option<Bar>; 6], Error> {
    let header = Header::read(cfg, addr)?;
    let mut bars = header.decode_bars()?;
    let cmd = header.command;
    cfg.write16(
        addr,
        regs::COMMAND,
        cmd & !(command::IO_SPACE | command::MEMORY_SPACE),
    );
    for slot in bars.iter_mut() {
        let Some(bar) = slot.as_mut() else { continue };
        let off = regs::BAR0 + u16::from(bar.index) * 4;
        let size = match bar.kind {
            BarKind::Io => {
                let mask = probe(cfg, addr, off) & !0x3;
                // I/O BARs may implement only the low 16 bits.
                let mask = if mask & 0xffff_0000 == 0 {
                    mask | 0xffff_0000
                } else {
                    mask
                };
                u64::from((!mask).wrapping_add(1))
            }
            BarKind::Memory32 { .. } => {
                let mask = probe(cfg, addr, off) & !0xf;
                u64::from((!mask).wrapping_add(1))
            }
            BarKind::Memory64 { .. } => {
                let lo = probe(cfg, addr, off) & !0xf;
                let hi = probe(cfg, addr, off + 4);
                let mask = u64::from(lo) | (u64::from(hi) << 32);
                if mask == 0 {
                    0
                } else {
                    (!mask).wrapping_add(1)
                }
            }
        };
        if size == 0 || (bar.kind == BarKind::Io && size > 0x1_0000) {
            *slot = None;
        } else {
            bar.size = size;
        }
    }
    cfg.write16(addr, regs::COMMAND, cmd);
    Ok(bars)
}

/// Writes all ones to the dword at `off`, reads back the mask, restores the
/// original value, and returns the mask.
fn probe<C: ConfigAccess + ?Sized>(cfg: &mut C, addr: PciAddress, off: u16) -> u32 {
    let orig = cfg.read32(addr, off);
    cfg.write32(addr, off, 0xffff_ffff);
    let mask = cfg.read32(addr, off);
    cfg.write32(addr, off, orig);
    mask
}

/// Sets bits in the command register (read, or, write), leaving the
/// status register untouched.
pub fn set_command_bits<C: ConfigAccess + ?Sized>(cfg: &mut C, addr: PciAddress, bits: u16) {
    let cmd = cfg.read16(addr, regs::COMMAND);
    if cmd & bits != bits {
        cfg.write16(addr, regs::COMMAND, cmd | bits);
    }
}

/// Enables memory-space decoding and bus mastering, which a NIC needs for
/// MMIO and DMA.
pub fn enable_memory_and_bus_master<C: ConfigAccess + ?Sized>(cfg: &mut C, addr: PciAddress) {
    set_command_bits(cfg, addr, command::MEMORY_SPACE | command::BUS_MASTER);
}

/// Capability IDs.
pub mod cap_id {
    /// Power management.
    pub const POWER_MANAGEMENT: u8 = 0x01;
    /// Message signalled interrupts.
    pub const MSI: u8 = 0x05;
    /// Vendor specific (virtio uses it).
    pub const VENDOR: u8 = 0x09;
    /// PCI Express.
    pub const PCI_EXPRESS: u8 = 0x10;
    /// MSI-X.
    pub const MSIX: u8 = 0x11;
}

/// The kinds of virtio PCI capability (`cfg_type`, virtio 1.x section
/// 4.1.4).
pub mod virtio_cfg {
    /// Common configuration.
    pub const COMMON: u8 = 1;
    /// Notifications.
    pub const NOTIFY: u8 = 2;
    /// ISR status.
    pub const ISR: u8 = 3;
    /// Device-specific configuration.
    pub const DEVICE: u8 = 4;
    /// Configuration access through config space.
    pub const PCI: u8 = 5;
}

/// An MSI capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Msi {
    /// Message control register.
    pub control: u16,
}

impl Msi {
    /// MSI is enabled.
    pub const fn enabled(&self) -> bool {
        self.control & 1 != 0
    }
    /// The function supports 64-bit message addresses.
    pub const fn is_64bit(&self) -> bool {
        self.control & (1 << 7) != 0
    }
    /// The function supports per-vector masking.
    pub const fn per_vector_masking(&self) -> bool {
        self.control & (1 << 8) != 0
    }
    /// How many vectors the function can request (1 to 32).
    pub const fn max_vectors(&self) -> u8 {
        let log2 = (self.control >> 1) & 0x7;
        1 << if log2 > 5 { 5 } else { log2 }
    }
}

/// An MSI-X capability: where the vector table and pending-bit array live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsiX {
    /// Message control register.
    pub control: u16,
    /// BAR holding the vector table.
    pub table_bar: u8,
    /// Offset of the table in that BAR.
    pub table_offset: u32,
    /// BAR holding the pending-bit array.
    pub pba_bar: u8,
    /// Offset of the pending-bit array in that BAR.
    pub pba_offset: u32,
}

impl MsiX {
    /// Number of table entries (1 to 2048).
    pub const fn table_size(&self) -> u16 {
        (self.control & 0x7ff) + 1
    }
    /// MSI-X is enabled.
    pub const fn enabled(&self) -> bool {
        self.control & (1 << 15) != 0
    }
    /// All vectors are masked.
    pub const fn function_masked(&self) -> bool {
        self.control & (1 << 14) != 0
    }
}

/// A virtio vendor-specific capability (`struct virtio_pci_cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtioCap {
    /// Which structure it locates (see [`virtio_cfg`]).
    pub cfg_type: u8,
    /// BAR holding the structure.
    pub bar: u8,
    /// Identifies multiple capabilities of the same type.
    pub id: u8,
    /// Offset of the structure within the BAR.
    pub offset: u32,
    /// Length of the structure in bytes.
    pub length: u32,
    /// For [`virtio_cfg::NOTIFY`]: the multiplier applied to a queue's
    /// `queue_notify_off`; 0 otherwise.
    pub notify_off_multiplier: u32,
}

/// What a capability is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapabilityKind {
    /// Message signalled interrupts.
    Msi(Msi),
    /// MSI-X.
    MsiX(MsiX),
    /// A virtio vendor capability.
    Virtio(VirtioCap),
    /// Power management.
    PowerManagement,
    /// PCI Express.
    PciExpress,
    /// Another vendor-specific capability (too short for virtio's layout).
    Vendor,
    /// A capability this crate does not decode.
    Other,
}

/// One entry of the capability list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capability {
    /// Offset in configuration space.
    pub offset: u16,
    /// Capability ID.
    pub id: u8,
    /// The decoded capability.
    pub kind: CapabilityKind,
}

/// Walks the capability list of a function, decoding each entry.
///
/// The walk is bounded: at most 48 entries (the most that fit in
/// `0x40..0x100` at four bytes each), every pointer must lie in
/// `0x40..=0xfc`, and a pointer to an entry already visited ends the walk
/// with [`Error::CapabilityLoop`]. After an error the iterator yields
/// nothing more.
///
/// The iterator mutably borrows the [`ConfigAccess`]; collect what you
/// need before touching the device again.
#[derive(Debug)]
pub struct Capabilities<'c, C: ConfigAccess + ?Sized> {
    cfg: &'c mut C,
    addr: PciAddress,
    next: u16,
    visited: u64,
    count: u8,
    done: bool,
}

/// The capability list of `addr` (empty when the status register says
/// there is none).
pub fn capabilities<C: ConfigAccess + ?Sized>(
    cfg: &mut C,
    addr: PciAddress,
) -> Capabilities<'_, C> {
    let status = cfg.read16(addr, regs::STATUS);
    let next = if status & status::CAPABILITIES_LIST != 0 && status != 0xffff {
        u16::from(cfg.read8(addr, regs::CAPABILITIES_POINTER))
    } else {
        0
    };
    Capabilities {
        cfg,
        addr,
        next,
        visited: 0,
        count: 0,
        done: false,
    }
}

impl<C: ConfigAccess + ?Sized> Capabilities<'_, C> {
    fn decode(&mut self, offset: u16, id: u8) -> Result<CapabilityKind, Error> {
        let cfg = &mut *self.cfg;
        let addr = self.addr;
        // Every decoded field must stay inside standard config space.
        let fits = |len: u16| offset.checked_add(len).is_some_and(|end| end <= 0x100);
        Ok(match id {
            cap_id::MSI => CapabilityKind::Msi(Msi {
                control: cfg.read16(addr, offset + 2),
            }),
            cap_id::MSIX => {
                if !fits(12) {
                    return Err(Error::CapabilityTooShort { offset });
                }
                let table = cfg.read32(addr, offset + 4);
                let pba = cfg.read32(addr, offset + 8);
                CapabilityKind::MsiX(MsiX {
                    control: cfg.read16(addr, offset + 2),
                    table_bar: (table & 0x7) as u8,
                    table_offset: table & !0x7,
                    pba_bar: (pba & 0x7) as u8,
                    pba_offset: pba & !0x7,
                })
            }
            cap_id::VENDOR => {
                let cap_len = cfg.read8(addr, offset + 2);
                if cap_len < 16 || !fits(u16::from(cap_len)) {
                    return Ok(CapabilityKind::Vendor);
                }
                let word = cfg.read32(addr, offset);
                let cfg_type = (word >> 24) as u8;
                let bars = cfg.read32(addr, offset + 4);
                let mut cap = VirtioCap {
                    cfg_type,
                    bar: bars as u8,
                    id: (bars >> 8) as u8,
                    offset: cfg.read32(addr, offset + 8),
                    length: cfg.read32(addr, offset + 12),
                    notify_off_multiplier: 0,
                };
                if cfg_type == virtio_cfg::NOTIFY {
                    if cap_len < 20 {
                        return Err(Error::CapabilityTooShort { offset });
                    }
                    cap.notify_off_multiplier = cfg.read32(addr, offset + 16);
                }
                CapabilityKind::Virtio(cap)
            }
            cap_id::POWER_MANAGEMENT => CapabilityKind::PowerManagement,
            cap_id::PCI_EXPRESS => CapabilityKind::PciExpress,
            _ => CapabilityKind::Other,
        })
    }
}

impl<C: ConfigAccess + ?Sized> Iterator for Capabilities<'_, C> {
    type Item = Result<Capability, Error>;

    fn next(&mut self) -> Option<Result<Capability, Error>> {
        if self.done {
            return None;
        }
        // The low two bits of a capability pointer are reserved.
        let offset = self.next & !3;
        if offset == 0 {
            self.done = true;
            return None;
        }
        if !(0x40..=0xfc).contains(&offset) {
            self.done = true;
            return Some(Err(Error::CapabilityOutOfRange { offset }));
        }
        let bit = 1u64 << (offset / 4 - 0x10);
        if self.visited & bit != 0 || self.count >= 48 {
            self.done = true;
            return Some(Err(Error::CapabilityLoop { offset }));
        }
        self.visited |= bit;
        self.count += 1;
        let head = self.cfg.read16(self.addr, offset);
        let id = head as u8;
        self.next = head >> 8;
        match self.decode(offset, id) {
            Ok(kind) => Some(Ok(Capability { offset, id, kind })),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Enables or disables MSI-X for the function whose MSI-X capability is at
/// `cap_offset` (leaving the function mask clear).
pub fn set_msix_enabled<C: ConfigAccess + ?Sized>(
    cfg: &mut C,
    addr: PciAddress,
    cap_offset: u16,
    enabled: bool,
) {
    let ctl = cfg.read16(addr, cap_offset + 2);
    let ctl = if enabled {
        (ctl | 1 << 15) & !(1 << 14)
    } else {
        ctl & !(1 << 15)
    };
    cfg.write16(addr, cap_offset + 2, ctl);
}

/// One function's configuration space in memory, for tests and examples:
/// 4096 bytes with BAR sizing behaviour (the bits below each BAR's size
/// read as zero, or as the flag bits) and read-only vendor/device IDs.
///
/// ```
/// use lamina_drivers_pci::pci::{self, MemConfig, PciAddress};
/// let mut cfg = MemConfig::new(0x8086, 0x100e);
/// cfg.set_bar_memory32(0, 0xfebc_0000, 0x20000, false);
/// let bars = pci::size_bars(&mut cfg, PciAddress::default()).unwrap();
/// assert_eq!(bars[0].unwrap().size, 0x20000);
/// ```
#[derive(Clone)]
pub struct MemConfig {
    bytes: [u8; 4096],
    /// Per BAR dword: bits that software can write (the rest keep their
    /// value).
    bar_writable: [u32; 6],
}

impl fmt::Debug for MemConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemConfig")
            .field("header", &self.bytes.get(..64))
            .finish_non_exhaustive()
    }
}

impl MemConfig {
    /// A type 0 function with these IDs, class 2 (network), no BARs and
    /// no capabilities.
    pub fn new(vendor_id: u16, device_id: u16) -> MemConfig {
        let mut c = MemConfig {
            bytes: [0; 4096],
            bar_writable: [0; 6],
        };
        c.put16(0, vendor_id);
        c.put16(2, device_id);
        c.put8(0x0b, 0x02);
        c
    }

    /// An empty slot: every read returns all ones.
    pub fn absent() -> MemConfig {
        MemConfig {
            bytes: [0xff; 4096],
            bar_writable: [0; 6],
        }
    }

    /// The raw bytes, for tests that build malformed spaces.
    pub fn bytes_mut(&mut self) -> &mut [u8; 4096] {
        &mut self.bytes
    }

    /// Writes a byte directly (no register semantics).
    pub fn put8(&mut self, offset: u16, v: u8) {
        if let Some(b) = self.bytes.get_mut(usize::from(offset)) {
            *b = v;
        }
    }

    /// Writes a little-endian word directly.
    pub fn put16(&mut self, offset: u16, v: u16) {
        for (i, b) in (0u16..).zip(v.to_le_bytes()) {
            self.put8(offset.wrapping_add(i), b);
        }
    }

    /// Writes a little-endian dword directly.
    pub fn put32(&mut self, offset: u16, v: u32) {
        for (i, b) in (0u16..).zip(v.to_le_bytes()) {
            self.put8(offset.wrapping_add(i), b);
        }
    }

    fn get32(&self, offset: u16) -> u32 {
        let o = usize::from(offset);
        match self.bytes.get(o..o + 4) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => u32::MAX,
        }
    }

    /// Defines BAR `index` as 32-bit memory of `size` bytes (a power of
    /// two, at least 16) at `address`.
    pub fn set_bar_memory32(&mut self, index: u8, address: u32, size: u32, prefetchable: bool) {
        let flags = if prefetchable { 0x8 } else { 0 };
        self.set_bar_raw(index, (address & !0xf) | flags, !(size.max(16) - 1));
    }

    /// Defines BARs `index` and `index + 1` as one 64-bit memory BAR.
    pub fn set_bar_memory64(&mut self, index: u8, address: u64, size: u64, prefetchable: bool) {
        let flags = 0x4 | if prefetchable { 0x8 } else { 0 };
        let mask = !(size.max(16) - 1);
        self.set_bar_raw(index, (address as u32 & !0xf) | flags, mask as u32);
        self.set_bar_raw(index + 1, (address >> 32) as u32, (mask >> 32) as u32);
    }

    /// Defines BAR `index` as `size` bytes of I/O space at `port`.
    pub fn set_bar_io(&mut self, index: u8, port: u32, size: u32) {
        self.set_bar_raw(index, (port & !0x3) | 1, !(size.max(4) - 1) & 0xffff);
    }

    /// Sets a BAR's raw value and the mask of bits software may write.
    pub fn set_bar_raw(&mut self, index: u8, value: u32, writable: u32) {
        if let Some(w) = self.bar_writable.get_mut(usize::from(index)) {
            *w = writable;
            self.put32(regs::BAR0 + u16::from(index) * 4, value);
        }
    }

    /// Sets the capability pointer and the status bit announcing it.
    pub fn set_capabilities_pointer(&mut self, ptr: u8) {
        self.put8(regs::CAPABILITIES_POINTER, ptr);
        let st = u16::from_le_bytes([self.bytes[6], self.bytes[7]]);
        self.put16(regs::STATUS, st | status::CAPABILITIES_LIST);
    }

    /// Writes a capability with `id`, link `next` and `body` (the bytes
    /// after the two-byte header) at `offset`.
    pub fn put_capability(&mut self, offset: u8, id: u8, next: u8, body: &[u8]) {
        let o = u16::from(offset);
        self.put8(o, id);
        self.put8(o + 1, next);
        for (i, b) in (2u16..).zip(body) {
            self.put8(o + i, *b);
        }
    }

    fn write_masked(&mut self, offset: u16, value: u32, byte_mask: u32) {
        let dw = offset & !3;
        let old = self.get32(dw);
        let shift = u32::from(offset & 3) * 8;
        let value = value << shift;
        let mask = byte_mask << shift;
        let mut writable = mask;
        if (regs::BAR0..regs::BAR0 + 24).contains(&dw) {
            writable &= self
                .bar_writable
                .get(usize::from((dw - regs::BAR0) / 4))
                .copied()
                .unwrap_or(0);
        } else if dw == 0 || dw == 8 {
            writable = 0; // IDs and class are read-only
        } else if dw == regs::COMMAND {
            // Status bits are write-one-to-clear.
            let st_clear = value & mask & 0xffff_0000;
            let new = (old & !writable) | (value & writable & 0xffff);
            let new = (new & 0xffff) | ((old & 0xffff_0000) & !st_clear);
            self.put32(dw, new);
            return;
        }
        self.put32(dw, (old & !writable) | (value & writable));
    }
}

impl ConfigAccess for MemConfig {
    fn read32(&mut self, _: PciAddress, offset: u16) -> u32 {
        if offset & 3 != 0 {
            return u32::MAX;
        }
        self.get32(offset)
    }
    fn write32(&mut self, _: PciAddress, offset: u16, value: u32) {
        if offset & 3 == 0 && offset < 4096 {
            self.write_masked(offset, value, u32::MAX);
        }
    }
    fn write16(&mut self, _: PciAddress, offset: u16, value: u16) {
        if offset & 1 == 0 && offset < 4096 {
            self.write_masked(offset, u32::from(value), 0xffff);
        }
    }
    fn write8(&mut self, _: PciAddress, offset: u16, value: u8) {
        if offset < 4096 {
            self.write_masked(offset, u32::from(value), 0xff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const A: PciAddress = PciAddress::new(0, 0, 3, 0);

    /// An e1000-like function: BAR0 128 KiB memory, BAR1 I/O 64 ports.
    fn e1000_like() -> MemConfig {
        let mut c = MemConfig::new(0x8086, 0x100e);
        c.put16(regs::COMMAND, command::IO_SPACE | command::MEMORY_SPACE);
        c.set_bar_memory32(0, 0xfebc_0000, 0x2_0000, false);
        c.set_bar_io(1, 0xc000, 0x40);
        c
    }

    #[test]
    fn parses_the_type0_header_fields() {
        let mut c = e1000_like();
        c.put16(0x2c, 0x1af4);
        c.put16(0x2e, 0x1100);
        c.put8(0x3c, 11);
        c.put8(0x3d, 1);
        c.put8(0x08, 3);
        let h = Header::read(&mut c, A).unwrap();
        assert_eq!(
            (h.vendor_id, h.device_id, h.class, h.revision),
            (0x8086, 0x100e, 2, 3)
        );
        assert_eq!((h.subsystem_vendor_id, h.subsystem_id), (0x1af4, 0x1100));
        assert_eq!((h.interrupt_line, h.interrupt_pin), (11, 1));
        assert!(!h.has_capabilities());
        assert!(!h.multifunction);
    }

    #[test]
    fn absent_function_is_no_device() {
        assert_eq!(
            Header::read(&mut MemConfig::absent(), A),
            Err(Error::NoDevice)
        );
    }

    #[test]
    fn bridge_header_is_rejected_as_unsupported() {
        let mut c = MemConfig::new(0x8086, 0x1234);
        c.put8(regs::HEADER_TYPE, 0x81);
        assert_eq!(
            Header::read(&mut c, A),
            Err(Error::UnsupportedHeaderType(1))
        );
    }

    #[test]
    fn decodes_io_mem32_and_mem64_bars() {
        let raw = [
            0xfebc_0000,
            0xc001,
            0xfe00_000c,
            0x0000_0001,
            0xe000_0008,
            0,
        ];
        let bars = decode_bars(&raw).unwrap();
        assert_eq!(
            bars[0].unwrap().kind,
            BarKind::Memory32 {
                prefetchable: false
            }
        );
        assert_eq!(
            bars[1].unwrap(),
            Bar {
                index: 1,
                kind: BarKind::Io,
                address: 0xc000,
                size: 0
            }
        );
        let b2 = bars[2].unwrap();
        assert_eq!(b2.kind, BarKind::Memory64 { prefetchable: true });
        assert_eq!(b2.address, 0x1_fe00_0000);
        assert!(bars[3].is_none(), "upper half of a 64-bit BAR is no BAR");
        assert_eq!(
            bars[4].unwrap().kind,
            BarKind::Memory32 { prefetchable: true }
        );
    }

    #[test]
    fn rejects_64bit_bar_in_last_slot_and_reserved_type() {
        assert_eq!(
            decode_bars(&[0, 0, 0, 0, 0, 0x4]),
            Err(Error::BadBar { index: 5 })
        );
        assert_eq!(
            decode_bars(&[0x2, 0, 0, 0, 0, 0]),
            Err(Error::BadBar { index: 0 })
        );
    }

    #[test]
    fn sizing_finds_sizes_and_restores_bars_and_command() {
        let mut c = e1000_like();
        c.set_bar_memory64(2, 0x8_0000_0000, 0x4000, true);
        let before: Vec<u32> = (0..6).map(|i| c.read32(A, regs::BAR0 + i * 4)).collect();
        let cmd = c.read16(A, regs::COMMAND);
        let bars = size_bars(&mut c, A).unwrap();
        assert_eq!(bars[0].unwrap().size, 0x2_0000);
        assert_eq!(bars[1].unwrap().size, 0x40);
        let b2 = bars[2].unwrap();
        assert_eq!((b2.address, b2.size), (0x8_0000_0000, 0x4000));
        assert!(bars[3].is_none() && bars[4].is_none() && bars[5].is_none());
        let after: Vec<u32> = (0..6).map(|i| c.read32(A, regs::BAR0 + i * 4)).collect();
        assert_eq!(before, after);
        assert_eq!(c.read16(A, regs::COMMAND), cmd);
    }

    #[test]
    fn sizing_does_not_clear_status_error_bits() {
        let mut c = e1000_like();
        c.put16(
            regs::STATUS,
            status::RECEIVED_MASTER_ABORT | status::CAPABILITIES_LIST,
        );
        size_bars(&mut c, A).unwrap();
        enable_memory_and_bus_master(&mut c, A);
        assert_eq!(
            c.read16(A, regs::STATUS),
            status::RECEIVED_MASTER_ABORT | status::CAPABILITIES_LIST
        );
        let cmd = c.read16(A, regs::COMMAND);
        assert_eq!(cmd & (command::MEMORY_SPACE | command::BUS_MASTER), 0x6);
    }

    fn virtio_like() -> MemConfig {
        let mut c = MemConfig::new(0x1af4, 0x1041);
        c.set_bar_memory64(4, 0xfe00_0000, 0x4000, true);
        c.set_capabilities_pointer(0x98);
        // MSI-X: 3 vectors, table in BAR1 at 0, PBA in BAR1 at 0x800.
        c.put_capability(
            0x98,
            cap_id::MSIX,
            0x84,
            &[2, 0, 1, 0, 0, 0, 0x01, 0x08, 0, 0],
        );
        let vcap = |t: u8, off: u32, len: u32| {
            let mut b = Vec::from([16u8, t, 4, 0, 0, 0]);
            b.extend_from_slice(&off.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b
        };
        c.put_capability(
            0x84,
            cap_id::VENDOR,
            0x70,
            &vcap(virtio_cfg::COMMON, 0, 0x1000),
        );
        let mut notify = vcap(virtio_cfg::NOTIFY, 0x3000, 0x1000);
        notify[0] = 20;
        notify.extend_from_slice(&4u32.to_le_bytes());
        c.put_capability(0x70, cap_id::VENDOR, 0x60, &notify);
        c.put_capability(0x60, cap_id::MSI, 0x40, &[0x80 | 0x4, 0x01]);
        c.put_capability(0x40, 0x0a, 0, &[]);
        c
    }

    #[test]
    fn walks_msix_virtio_and_msi_capabilities() {
        let mut c = virtio_like();
        let caps: Vec<Capability> = capabilities(&mut c, A).collect::<Result<_, _>>().unwrap();
        assert_eq!(caps.len(), 5);
        let CapabilityKind::MsiX(m) = caps[0].kind else {
            panic!("{caps:?}")
        };
        assert_eq!((m.table_size(), m.table_bar, m.table_offset), (3, 1, 0));
        assert_eq!((m.pba_bar, m.pba_offset), (1, 0x800));
        let CapabilityKind::Virtio(v) = caps[1].kind else {
            panic!()
        };
        assert_eq!(
            (v.cfg_type, v.bar, v.offset, v.length),
            (virtio_cfg::COMMON, 4, 0, 0x1000)
        );
        let CapabilityKind::Virtio(n) = caps[2].kind else {
            panic!()
        };
        assert_eq!(
            (n.cfg_type, n.offset, n.notify_off_multiplier),
            (virtio_cfg::NOTIFY, 0x3000, 4)
        );
        let CapabilityKind::Msi(msi) = caps[3].kind else {
            panic!()
        };
        assert!(msi.is_64bit() && msi.per_vector_masking() && !msi.enabled());
        assert_eq!(msi.max_vectors(), 4);
        assert_eq!((caps[4].id, caps[4].kind), (0x0a, CapabilityKind::Other));
    }

    #[test]
    fn capability_loop_is_detected_not_followed_forever() {
        let mut c = MemConfig::new(1, 2);
        c.set_capabilities_pointer(0x40);
        c.put_capability(0x40, 0x01, 0x50, &[]);
        c.put_capability(0x50, 0x01, 0x40, &[]);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], Err(Error::CapabilityLoop { offset: 0x40 }));
        // A self-loop, too.
        c.put_capability(0x40, 0x01, 0x40, &[]);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r.last(), Some(&Err(Error::CapabilityLoop { offset: 0x40 })));
    }

    #[test]
    fn capability_pointer_into_the_header_is_out_of_range() {
        let mut c = MemConfig::new(1, 2);
        c.set_capabilities_pointer(0x10);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r, [Err(Error::CapabilityOutOfRange { offset: 0x10 })]);
    }

    #[test]
    fn pointer_low_bits_are_ignored_and_no_status_bit_means_no_list() {
        let mut c = MemConfig::new(1, 2);
        c.set_capabilities_pointer(0x43);
        c.put_capability(0x40, cap_id::POWER_MANAGEMENT, 0, &[]);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].as_ref().unwrap().kind, CapabilityKind::PowerManagement);
        c.put16(regs::STATUS, 0);
        assert_eq!(capabilities(&mut c, A).count(), 0);
    }

    #[test]
    fn truncated_virtio_notify_capability_is_an_error() {
        let mut c = MemConfig::new(0x1af4, 0x1041);
        c.set_capabilities_pointer(0x40);
        c.put_capability(0x40, cap_id::VENDOR, 0, &[16, virtio_cfg::NOTIFY, 0, 0]);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r, [Err(Error::CapabilityTooShort { offset: 0x40 })]);
        // A vendor capability too short for virtio is just "vendor".
        c.put_capability(0x40, cap_id::VENDOR, 0, &[4, 0]);
        let r: Vec<_> = capabilities(&mut c, A).collect();
        assert_eq!(r[0].as_ref().unwrap().kind, CapabilityKind::Vendor);
    }

    #[test]
    fn arbitrary_config_spaces_never_panic_or_hang() {
        // A simple deterministic generator over many random spaces.
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..500 {
            let mut c = MemConfig::new(0x1af4, 0x1041);
            for b in c.bytes_mut().iter_mut().skip(4).take(252) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            c.bytes_mut()[0x0e] &= 0x80;
            let n = capabilities(&mut c, A).count();
            assert!(n <= 49);
            let _ = size_bars(&mut c, A);
        }
    }

    #[test]
    fn msix_enable_sets_enable_and_clears_function_mask() {
        let mut c = virtio_like();
        c.put16(0x98 + 2, 2 | 1 << 14);
        set_msix_enabled(&mut c, A, 0x98, true);
        assert_eq!(c.read16(A, 0x9a), 2 | 1 << 15);
        set_msix_enabled(&mut c, A, 0x98, false);
        assert_eq!(c.read16(A, 0x9a), 2);
    }

    #[test]
    fn address_parsing_accepts_short_form_and_rejects_garbage() {
        assert_eq!(
            "00:1f.7".parse::<PciAddress>(),
            Ok(PciAddress::new(0, 0, 0x1f, 7))
        );
        for bad in [
            "",
            "0000:00:20.0",
            "0000:00:03.8",
            "x:00:03.0",
            "1:2:3:4.0",
            "00:03",
        ] {
            assert!(bad.parse::<PciAddress>().is_err(), "{bad}");
        }
    }
}
