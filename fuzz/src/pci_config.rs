//! Fuzz target `pci_config`: configuration-space parsing of
//! `lamina-drivers-pci` over a fake 4 KiB space filled from the input.
//!
//! The input picks the mask of writable bits of each BAR, optionally a set
//! of well-formed BARs (built with `MemConfig`'s helpers, whose sizes must
//! then be found exactly), and the raw bytes of the space. The target
//! reads the header, decodes and sizes the BARs, walks the capability list
//! and looks for the virtio capabilities, checking each against an
//! independent reading of the same bytes:
//!
//! - the header fields are the bytes at their offsets;
//! - BAR decoding agrees with a reference decoder (a 64-bit BAR takes two
//!   slots and leaves the second `None`; a 64-bit BAR in slot 5 or a
//!   reserved type is an error), and sizing keeps index, kind and address,
//!   finds the sizes of well-formed BARs, and leaves the configuration
//!   space exactly as it was (BARs and command register restored, status
//!   bits untouched);
//! - the capability walk is bounded (48 entries plus one error), follows
//!   the `next` pointers, visits each offset once inside `0x40..=0xfc`,
//!   decodes each capability from its bytes, and yields nothing after an
//!   error;
//! - `VirtioCaps::find` returns the first usable capability of each type,
//!   or the walk's error, or `Missing`.

use arbitrary::{Result, Unstructured};
use lamina_drivers_pci::Error;
use lamina_drivers_pci::pci::{
    self, Bar, BarKind, CapabilityKind, ConfigAccess, Header, MemConfig, PciAddress, cap_id, regs,
    status, virtio_cfg,
};
use lamina_drivers_pci::virtio::VirtioCaps;

const ADDR: PciAddress = PciAddress::new(0, 0, 3, 0);

/// A BAR laid out with `MemConfig`'s helpers, whose size must be found.
#[derive(Debug, Clone, Copy)]
enum GoodBar {
    Io {
        port: u32,
        size: u32,
    },
    Mem32 {
        address: u32,
        size: u32,
        prefetchable: bool,
    },
    Mem64 {
        address: u64,
        size: u64,
        prefetchable: bool,
    },
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let writable: [u32; 6] = u.arbitrary()?;
    let structured: bool = u.arbitrary()?;
    let mut cfg = MemConfig::new(0, 0);
    // The raw space: whatever the rest of the input says.
    let raw = u.bytes(u.len().min(4096))?;
    if let Some(dst) = cfg.bytes_mut().get_mut(..raw.len()) {
        dst.copy_from_slice(raw);
    }
    for (i, w) in (0u8..).zip(writable) {
        let value = cfg.read32(ADDR, regs::BAR0 + u16::from(i) * 4);
        cfg.set_bar_raw(i, value, w);
    }
    let mut expected = [None; 6];
    if structured {
        // Well-formed type 0 function with BARs whose sizes are known.
        cfg.put8(regs::HEADER_TYPE, 0);
        cfg.put16(regs::VENDOR_ID, 0x1af4);
        let mut slot = 0u8;
        let mut seed = u16::from_le_bytes([raw.first().copied().unwrap_or(0), raw.len() as u8]);
        while slot < 6 {
            seed = seed.wrapping_mul(31421).wrapping_add(6927);
            let shift = u32::from(seed >> 8);
            // Addresses aligned to their sizes, as hardware wires them.
            let bar = match seed % 4 {
                0 => {
                    let size = 4u32 << (shift % 7);
                    GoodBar::Io {
                        port: (u32::from(seed) << 2) & 0xffff & !(size - 1),
                        size,
                    }
                }
                1 | 2 => {
                    let size = 16u32 << (shift % 28);
                    GoodBar::Mem32 {
                        address: (u32::from(seed) << 20) & !(size - 1),
                        size,
                        prefetchable: seed & 0x10 != 0,
                    }
                }
                _ if slot < 5 => {
                    let size = 16u64 << (shift % 40);
                    GoodBar::Mem64 {
                        address: (u64::from(seed) << 32) & !(size - 1),
                        size,
                        prefetchable: seed & 0x10 != 0,
                    }
                }
                _ => GoodBar::Mem32 {
                    address: 0,
                    size: 16,
                    prefetchable: false,
                },
            };
            let size = match bar {
                GoodBar::Io { port, size } => {
                    cfg.set_bar_io(slot, port, size);
                    u64::from(size)
                }
                GoodBar::Mem32 {
                    address,
                    size,
                    prefetchable,
                } => {
                    cfg.set_bar_memory32(slot, address, size, prefetchable);
                    u64::from(size)
                }
                GoodBar::Mem64 {
                    address,
                    size,
                    prefetchable,
                } => {
                    cfg.set_bar_memory64(slot, address, size, prefetchable);
                    size
                }
            };
            expected[usize::from(slot)] = Some(size);
            slot += if matches!(bar, GoodBar::Mem64 { .. }) {
                2
            } else {
                1
            };
        }
    }
    check(&mut cfg, structured.then_some(expected));
    Ok(())
}

fn dword(bytes: &[u8; 4096], off: usize) -> u32 {
    match bytes.get(off..off + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => u32::MAX,
    }
}

/// The reference BAR decoder the crate's must agree with.
/// A decoded BAR without its size: (index, kind, address).
type BarSummary = Option<(u8, BarKind, u64)>;

fn reference_decode(raw: &[u32; 6]) -> core::result::Result<[BarSummary; 6], u8> {
    let mut out = [None; 6];
    let mut i = 0;
    while i < 6 {
        let v = raw[i];
        let idx = i as u8;
        if v & 1 == 1 {
            out[i] = Some((idx, BarKind::Io, u64::from(v & 0xffff_fffc)));
            i += 1;
            continue;
        }
        let prefetchable = v & 8 == 8;
        match v & 0b110 {
            0b000 => {
                out[i] = Some((
                    idx,
                    BarKind::Memory32 { prefetchable },
                    u64::from(v & 0xffff_fff0),
                ));
                i += 1;
            }
            0b100 if i < 5 => {
                let hi = u64::from(raw[i + 1]);
                out[i] = Some((
                    idx,
                    BarKind::Memory64 { prefetchable },
                    (hi << 32) | u64::from(v & 0xffff_fff0),
                ));
                i += 2;
            }
            _ => return Err(idx),
        }
    }
    Ok(out)
}

fn summary(bars: &[Option<Bar>; 6]) -> [BarSummary; 6] {
    bars.map(|b| b.map(|b| (b.index, b.kind, b.address)))
}

fn check(cfg: &mut MemConfig, expected_sizes: Option<[Option<u64>; 6]>) {
    let bytes = *cfg.bytes_mut();
    let d = |off: usize| dword(&bytes, off);

    // The header.
    let header = Header::read(cfg, ADDR);
    let vendor = d(0) as u16;
    let header_type = (d(0x0c) >> 16) as u8 & 0x7f;
    match &header {
        Err(Error::NoDevice) => assert_eq!(vendor, 0xffff),
        Err(Error::UnsupportedHeaderType(t)) => {
            assert_ne!(vendor, 0xffff);
            assert_eq!(*t, header_type);
            assert_ne!(*t, 0);
        }
        Err(e) => panic!("unexpected header error {e:?}"),
        Ok(h) => {
            assert_ne!(vendor, 0xffff);
            assert_eq!(header_type, 0);
            assert_eq!((h.vendor_id, h.device_id), (vendor, (d(0) >> 16) as u16));
            assert_eq!((h.command, h.status), (d(4) as u16, (d(4) >> 16) as u16));
            assert_eq!(h.class, bytes[0x0b]);
            assert_eq!(h.multifunction, bytes[0x0e] & 0x80 != 0);
            assert_eq!(h.capabilities_pointer, bytes[0x34]);
            assert_eq!(h.interrupt_pin, bytes[0x3d]);
            for (i, b) in h.bars.iter().enumerate() {
                assert_eq!(*b, d(0x10 + 4 * i));
            }
            assert_eq!(
                h.has_capabilities(),
                h.status & status::CAPABILITIES_LIST != 0
            );
        }
    }

    // BAR decoding against the reference.
    let raw_bars: [u32; 6] = core::array::from_fn(|i| d(0x10 + 4 * i));
    let decoded = pci::decode_bars(&raw_bars);
    match (&decoded, reference_decode(&raw_bars)) {
        (Ok(bars), Ok(want)) => {
            assert_eq!(summary(bars), want);
            for (i, b) in bars.iter().enumerate() {
                if let Some(b) = b {
                    assert_eq!(usize::from(b.index), i);
                    assert_eq!(b.size, 0);
                    assert_eq!(b.is_memory(), b.kind != BarKind::Io);
                    if matches!(b.kind, BarKind::Memory64 { .. }) {
                        assert!(i < 5 && bars[i + 1].is_none(), "64-bit BAR takes two slots");
                    }
                }
            }
        }
        (Err(Error::BadBar { index }), Err(want)) => assert_eq!(*index, want),
        (got, want) => panic!("decode_bars {got:?}, reference {want:?}"),
    }
    if let Ok(h) = &header {
        assert_eq!(h.decode_bars(), decoded);
    }

    // Sizing: same BARs, restored space.
    let sized = pci::size_bars(cfg, ADDR);
    assert_eq!(*cfg.bytes_mut(), bytes, "size_bars must restore the space");
    match (&header, &decoded, &sized) {
        (Err(e), _, Err(s)) => assert_eq!(e, s),
        (Ok(_), Err(e), Err(s)) => assert_eq!(e, s),
        (Ok(_), Ok(dec), Ok(sized)) => {
            for (i, (s, d)) in sized.iter().zip(dec).enumerate() {
                if let Some(s) = s {
                    let d = d.expect("sizing never invents a BAR");
                    assert_eq!((s.index, s.kind, s.address), (d.index, d.kind, d.address));
                    assert!(s.size > 0);
                    if s.kind == BarKind::Io {
                        assert!(s.size <= 0x1_0000);
                    }
                }
                if let Some(want) = expected_sizes.and_then(|e| e[i]) {
                    assert_eq!(s.map(|s| s.size), Some(want), "BAR {i} size");
                }
            }
        }
        (h, d, s) => panic!("header {h:?}, decode {d:?}, size {s:?}"),
    }

    // The capability walk.
    let announced = (d(4) >> 16) as u16 & status::CAPABILITIES_LIST != 0 && (d(4) >> 16) != 0xffff;
    let mut it = pci::capabilities(cfg, ADDR);
    let mut items = Vec::new();
    for item in it.by_ref().take(100) {
        items.push(item);
    }
    assert!(items.len() <= 49, "walk must be bounded: {}", items.len());
    assert!(it.next().is_none() && it.next().is_none());
    if !announced {
        assert!(items.is_empty());
    }
    let mut expect_next = if announced {
        u16::from(bytes[0x34]) & !3
    } else {
        0
    };
    let mut seen = Vec::new();
    for (n, item) in items.iter().enumerate() {
        match item {
            Ok(c) => {
                assert_eq!(c.offset, expect_next);
                assert!((0x40..=0xfc).contains(&c.offset) && c.offset % 4 == 0);
                assert!(!seen.contains(&c.offset));
                seen.push(c.offset);
                let o = usize::from(c.offset);
                assert_eq!(c.id, bytes[o]);
                check_kind(&bytes, c.offset, c.id, &c.kind);
                expect_next = u16::from(bytes[o + 1]) & !3;
            }
            Err(e) => {
                assert_eq!(n + 1, items.len(), "nothing follows an error");
                match *e {
                    Error::CapabilityOutOfRange { offset } => {
                        assert_eq!(offset, expect_next);
                        assert!(!(0x40..=0xfc).contains(&offset));
                    }
                    Error::CapabilityLoop { offset } => {
                        assert_eq!(offset, expect_next);
                        assert!(seen.contains(&offset) || seen.len() >= 48);
                    }
                    Error::CapabilityTooShort { offset } => {
                        assert_eq!(offset, expect_next);
                        let id = bytes[usize::from(offset)];
                        assert!(id == cap_id::MSIX || id == cap_id::VENDOR);
                    }
                    ref other => panic!("unexpected walk error {other:?}"),
                }
            }
        }
    }
    if items.last().is_none_or(|i| i.is_ok()) {
        assert_eq!(expect_next, 0, "a walk ends at a zero pointer or an error");
    }

    // The virtio capabilities: the first usable of each type.
    let first = |t: u8| {
        items.iter().find_map(|i| match i {
            Ok(c) => match c.kind {
                CapabilityKind::Virtio(v) if v.cfg_type == t && v.bar <= 5 => Some(v),
                _ => None,
            },
            Err(_) => None,
        })
    };
    let walk_error = items.iter().find_map(|i| i.as_ref().err().cloned());
    match VirtioCaps::find(cfg, ADDR) {
        Ok(v) => {
            assert!(walk_error.is_none());
            assert_eq!(Some(v.common), first(virtio_cfg::COMMON));
            assert_eq!(Some(v.notify), first(virtio_cfg::NOTIFY));
            assert_eq!(Some(v.isr), first(virtio_cfg::ISR));
            assert_eq!(v.device, first(virtio_cfg::DEVICE));
        }
        Err(Error::Missing(_)) => {
            assert!(walk_error.is_none());
            assert!(
                first(virtio_cfg::COMMON).is_none()
                    || first(virtio_cfg::NOTIFY).is_none()
                    || first(virtio_cfg::ISR).is_none()
            );
        }
        Err(e) => assert_eq!(Some(e), walk_error),
    }
    assert_eq!(*cfg.bytes_mut(), bytes, "reading never writes");
}

fn check_kind(bytes: &[u8; 4096], offset: u16, id: u8, kind: &CapabilityKind) {
    let o = usize::from(offset);
    let w16 = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let d = |at: usize| dword(bytes, at);
    match (id, kind) {
        (cap_id::MSI, CapabilityKind::Msi(m)) => {
            assert_eq!(m.control, w16(o + 2));
            assert!((1..=32).contains(&m.max_vectors()));
        }
        (cap_id::MSIX, CapabilityKind::MsiX(m)) => {
            assert!(o + 12 <= 0x100);
            assert_eq!(m.control, w16(o + 2));
            assert_eq!(u32::from(m.table_bar) | m.table_offset, d(o + 4));
            assert_eq!(u32::from(m.pba_bar) | m.pba_offset, d(o + 8));
            assert!(m.table_bar < 8 && m.pba_bar < 8);
            assert!((1..=2048).contains(&m.table_size()));
        }
        (cap_id::VENDOR, CapabilityKind::Virtio(v)) => {
            let len = usize::from(bytes[o + 2]);
            assert!(len >= 16 && o + len <= 0x100);
            assert_eq!(v.cfg_type, bytes[o + 3]);
            assert_eq!((v.bar, v.id), (bytes[o + 4], bytes[o + 5]));
            assert_eq!((v.offset, v.length), (d(o + 8), d(o + 12)));
            if v.cfg_type == virtio_cfg::NOTIFY {
                assert!(len >= 20);
                assert_eq!(v.notify_off_multiplier, d(o + 16));
            } else {
                assert_eq!(v.notify_off_multiplier, 0);
            }
        }
        (cap_id::VENDOR, CapabilityKind::Vendor) => {
            let len = usize::from(bytes[o + 2]);
            assert!(len < 16 || o + len > 0x100);
        }
        (cap_id::POWER_MANAGEMENT, CapabilityKind::PowerManagement)
        | (cap_id::PCI_EXPRESS, CapabilityKind::PciExpress) => {}
        (
            cap_id::MSI
            | cap_id::MSIX
            | cap_id::VENDOR
            | cap_id::POWER_MANAGEMENT
            | cap_id::PCI_EXPRESS,
            k,
        ) => panic!("capability {id:#x} decoded as {k:?}"),
        (_, CapabilityKind::Other) => {}
        (_, k) => panic!("capability {id:#x} decoded as {k:?}"),
    }
}
