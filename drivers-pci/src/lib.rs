//! PCI and NIC drivers for the [Lamina](https://github.com/lamina-net/lamina)
//! network stack, behind a HAL so that an OS (or a user-space program) can
//! embed them.
//!
//! # Example
//!
//! Parsing the configuration space of a (fake) e1000:
//!
//! ```
//! use lamina_drivers_pci::pci::{self, BarKind, Header, MemConfig, PciAddress};
//!
//! let addr: PciAddress = "0000:00:03.0".parse().unwrap();
//! let mut cfg = MemConfig::new(0x8086, 0x100e);
//! cfg.set_bar_memory32(0, 0xfebc_0000, 128 * 1024, false);
//! cfg.set_bar_io(1, 0xc000, 64);
//!
//! let header = Header::read(&mut cfg, addr)?;
//! assert_eq!((header.vendor_id, header.device_id), (0x8086, 0x100e));
//! let bars = pci::size_bars(&mut cfg, addr)?;
//! let bar0 = bars[0].unwrap();
//! assert_eq!(bar0.kind, BarKind::Memory32 { prefetchable: false });
//! assert_eq!((bar0.address, bar0.size), (0xfebc_0000, 0x20000));
//! pci::enable_memory_and_bus_master(&mut cfg, addr);
//! assert_eq!(pci::capabilities(&mut cfg, addr).count(), 0);
//! # Ok::<(), lamina_drivers_pci::Error>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`pci`]: configuration space over a [`ConfigAccess`](pci::ConfigAccess)
//!   the integrator supplies — the type 0 header, BAR decoding and sizing,
//!   the command register, and a bounded walk of the capability list (MSI,
//!   MSI-X, virtio vendor capabilities).
//! - [`hal`]: the `unsafe trait` [`Hal`] an integrator implements (DMA
//!   memory, BAR mapping, IOMMU/bounce-buffer hooks) and the safe wrappers
//!   [`Dma`] and [`Mmio`] the drivers use.
//! - [`e1000`]: the Intel 82540EM family (QEMU's default NIC) as a
//!   `lamina-netdev` [`Device`](lamina_netdev::Device).
//! - [`virtio`]: the modern virtio 1.x PCI transport (capability
//!   discovery, feature negotiation, split virtqueues) and
//!   [`virtio::net::VirtioNet`], the virtio-net driver, also a `Device`.
//! - [`fake`] (feature `std`): [`FakeHal`](fake::FakeHal), heap memory with
//!   checked, IOMMU-like device access, for tests.
//! - `linux` (feature `linux`): user-space backends — sysfs configuration
//!   access, a sysfs/hugepage/pagemap HAL and a VFIO type1 HAL — used by
//!   the `nic-ping` example (the whole Lamina stack on a NIC) and by
//!   `scripts/qemu-drivers.sh`, which tests the drivers against QEMU's
//!   e1000 and virtio-net models.
//!
//! Drivers are `#![no_std]`, generic over the HAL, and allocate only while
//! initialising: every ring and buffer is DMA memory taken once.
//!
//! # Embedding: your `Hal`
//!
//! An OS brings the drivers up with two things of its own: a
//! [`ConfigAccess`](pci::ConfigAccess) (port I/O or ECAM) and a [`Hal`].
//! Read the `Hal` safety contract first: the drivers' soundness rests on
//! it. A sketch for a kernel that identity-maps physical memory and has no
//! IOMMU (it needs hardware, so it is only compiled):
//!
//! ```no_run
//! extern crate alloc;
//! use alloc::alloc::{alloc_zeroed, dealloc, Layout};
//! use core::ptr::NonNull;
//! use lamina_drivers_pci::e1000::{self, E1000};
//! use lamina_drivers_pci::hal::{Direction, Dma, Hal, HalError, Mmio};
//! use lamina_drivers_pci::pci::{Bar, ConfigAccess, PciAddress};
//!
//! struct KernelHal;
//!
//! // SAFETY: the allocator returns zeroed memory, 4096-aligned and (the
//! // kernel's heap being identity-mapped) physically contiguous, so its
//! // address is its bus address; BARs lie in uncached, identity-mapped
//! // memory that nothing else references.
//! unsafe impl Hal for KernelHal {
//!     fn dma_alloc(&self, size: usize, _dir: Direction) -> Result<Dma, HalError> {
//!         let layout = Layout::from_size_align(size.max(1), 4096).map_err(|_| HalError::OutOfMemory)?;
//!         // SAFETY: the layout is non-zero in size.
//!         let ptr = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(HalError::OutOfMemory)?;
//!         // SAFETY: fresh, exclusively owned, identity-mapped memory.
//!         Ok(unsafe { Dma::from_raw(ptr.as_ptr() as u64, ptr, size) })
//!     }
//!     unsafe fn dma_free(&self, dma: Dma) {
//!         if let Ok(layout) = Layout::from_size_align(dma.len().max(1), 4096) {
//!             // SAFETY: allocated by `dma_alloc` with this layout.
//!             unsafe { dealloc(dma.as_ptr().as_ptr(), layout) }
//!         }
//!     }
//!     fn map_bar(&self, bar: &Bar) -> Result<Mmio, HalError> {
//!         let ptr = NonNull::new(bar.address as *mut u8).ok_or(HalError::Map(bar.index))?;
//!         // SAFETY: the BAR's whole range is mapped uncached at its address.
//!         Ok(unsafe { Mmio::from_raw(ptr, bar.size as usize) })
//!     }
//! }
//!
//! /// PCI Express ECAM: configuration space memory-mapped from `base`.
//! struct Ecam { base: usize }
//! impl Ecam {
//!     fn at<T>(&self, a: PciAddress, offset: u16) -> *mut T {
//!         let function = (usize::from(a.bus) << 20) | (usize::from(a.device) << 15)
//!             | (usize::from(a.function) << 12);
//!         (self.base + function + usize::from(offset)) as *mut T
//!     }
//! }
//! // SAFETY (of each access below): ECAM is mapped uncached for every bus
//! // of segment 0, and the trait's callers pass naturally aligned offsets.
//! impl ConfigAccess for Ecam {
//!     fn read32(&mut self, a: PciAddress, offset: u16) -> u32 {
//!         unsafe { self.at::<u32>(a, offset).read_volatile() }
//!     }
//!     fn write32(&mut self, a: PciAddress, offset: u16, value: u32) {
//!         unsafe { self.at::<u32>(a, offset).write_volatile(value) }
//!     }
//!     fn write16(&mut self, a: PciAddress, offset: u16, value: u16) {
//!         unsafe { self.at::<u16>(a, offset).write_volatile(value) }
//!     }
//!     fn write8(&mut self, a: PciAddress, offset: u16, value: u8) {
//!         unsafe { self.at::<u8>(a, offset).write_volatile(value) }
//!     }
//! }
//!
//! let mut ecam = Ecam { base: 0xb000_0000 };
//! let nic = E1000::probe(&mut ecam, "0000:00:03.0".parse()?, KernelHal, e1000::Config::default())?;
//! // `nic` is a `lamina_netdev::Device`: give it to a `lamina_socket::Interface`.
//! assert_ne!(nic.mac_address(), [0; 6]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For tests without hardware, [`FakeHal`](fake::FakeHal) stands in; on
//! Linux, the `linux` feature has sysfs and VFIO backends (the `nic-ping`
//! example runs the whole stack on them).
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod e1000;
mod error;
#[cfg(any(test, feature = "std"))]
#[allow(unsafe_code)]
pub mod fake;
#[allow(unsafe_code)]
pub mod hal;
#[cfg(any(test, all(fuzzing, feature = "std")))]
#[doc(hidden)]
pub mod hostile;
#[cfg(all(feature = "linux", target_os = "linux"))]
#[allow(unsafe_code)]
pub mod linux;
pub mod pci;
pub mod virtio;

pub use error::Error;
pub use hal::{Direction, Dma, Hal, HalError, Mmio};
