//! PCI and NIC drivers for the [Lamina](https://github.com/lamina-net/lamina)
//! network stack, behind a HAL so that an OS (or a user-space program) can
//! embed them.
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
#[cfg(all(feature = "linux", target_os = "linux"))]
#[allow(unsafe_code)]
pub mod linux;
pub mod pci;
pub mod virtio;

pub use error::Error;
pub use hal::{Direction, Dma, Hal, HalError, Mmio};
