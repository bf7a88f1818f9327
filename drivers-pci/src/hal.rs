//! The hardware abstraction layer: what an OS (or a user-space backend)
//! provides so that the drivers can reach a device — DMA memory, BAR
//! mappings, and hooks for IOMMUs or bounce buffers — and the two safe
//! wrappers the drivers use: [`Dma`] for DMA memory and [`Mmio`] for
//! registers.

use core::fmt;
use core::ptr::NonNull;

use crate::pci::Bar;

/// Why the HAL could not do what a driver asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum HalError {
    /// No DMA memory of that size is available.
    #[error("out of DMA memory")]
    OutOfMemory,
    /// The BAR cannot be mapped (I/O space, unknown, too large).
    #[error("cannot map BAR {0}")]
    Map(u8),
    /// The operation is not supported by this HAL.
    #[error("unsupported by this HAL")]
    Unsupported,
}

/// Which way the device moves data through a DMA buffer; lets a HAL with
/// bounce buffers or non-coherent caches copy or flush only what matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The driver writes, the device reads (transmit buffers).
    ToDevice,
    /// The device writes, the driver reads (receive buffers).
    FromDevice,
    /// Both (descriptor rings).
    Both,
}

/// What a driver needs from the platform.
///
/// # Safety
///
/// Implementing this trait promises, for every value the methods return:
///
/// - [`dma_alloc`](Hal::dma_alloc) returns, through [`Dma::from_raw`], a
///   region of `size` bytes (rounded up as the HAL likes) that is
///   zero-filled, aligned to at least 4096 bytes, valid for reads and
///   writes through the returned pointer for as long as the region is not
///   given back to [`dma_free`](Hal::dma_free), used by nothing else, and
///   reachable by the device at the returned bus address as one contiguous
///   range. The memory is cache-coherent with the device, or the HAL
///   makes it so (uncached mapping).
/// - [`map_bar`](Hal::map_bar) returns, through [`Mmio::from_raw`], a
///   mapping of the whole BAR (at least `bar.size` bytes) that is valid for
///   volatile 32-bit reads and writes as long as the `Mmio` (or any region
///   cut from it) exists, mapped uncached, and aliased by no Rust
///   reference.
/// - [`share`](Hal::share) returns a bus address at which the device may
///   access the given buffer until [`unshare`](Hal::unshare) is called.
///
/// These promises are what makes the drivers' `unsafe` blocks sound.
pub unsafe trait Hal {
    /// Allocates `size` bytes of zeroed DMA memory (see the trait's safety
    /// contract). Drivers call it only while initialising, never on the
    /// data path.
    ///
    /// # Errors
    ///
    /// [`HalError::OutOfMemory`] when no memory is left.
    fn dma_alloc(&self, size: usize, direction: Direction) -> Result<Dma, HalError>;

    /// Gives a region back.
    ///
    /// # Safety
    ///
    /// `dma` came from this HAL's [`dma_alloc`](Hal::dma_alloc), and the
    /// device no longer accesses it (it was reset, or the ring holding the
    /// region's address was torn down).
    unsafe fn dma_free(&self, dma: Dma);

    /// Maps the memory BAR `bar` of the device this HAL serves.
    ///
    /// # Errors
    ///
    /// [`HalError::Map`] if the BAR cannot be mapped.
    fn map_bar(&self, bar: &Bar) -> Result<Mmio, HalError>;

    /// Makes `buffer` (memory that did not come from
    /// [`dma_alloc`](Hal::dma_alloc)) reachable by the device and returns
    /// its bus address: an IOMMU mapping, or a copy into a bounce buffer
    /// for [`Direction::ToDevice`]. The drivers of this crate DMA only
    /// from [`dma_alloc`](Hal::dma_alloc) memory and never call it; it is
    /// here for drivers that lend caller memory to a device. The default
    /// says [`HalError::Unsupported`].
    ///
    /// # Errors
    ///
    /// [`HalError::Unsupported`] or [`HalError::OutOfMemory`].
    ///
    /// # Safety
    ///
    /// `buffer` stays valid and is not accessed by the CPU until
    /// [`unshare`](Hal::unshare).
    unsafe fn share(&self, buffer: NonNull<[u8]>, direction: Direction) -> Result<u64, HalError> {
        let _ = (buffer, direction);
        Err(HalError::Unsupported)
    }

    /// Ends a [`share`](Hal::share): removes the mapping, or copies a
    /// bounce buffer back for [`Direction::FromDevice`].
    ///
    /// # Safety
    ///
    /// `bus` and `buffer` come from one earlier successful `share`, and
    /// the device no longer accesses the buffer.
    unsafe fn unshare(&self, bus: u64, buffer: NonNull<[u8]>, direction: Direction) {
        let _ = (bus, buffer, direction);
    }

    /// Waits about `us` microseconds (used only while resetting and
    /// initialising a device). The default spins.
    fn delay_us(&self, us: u32) {
        for _ in 0..u64::from(us) * 100 {
            core::hint::spin_loop();
        }
    }
}

/// A region of DMA memory: a bus address for the device and a pointer for
/// the CPU, created only by a [`Hal`].
///
/// Accessors are bounds-checked: an offset or length outside the region
/// gives `None` (or does nothing), never undefined behaviour. Scalar
/// accessors are volatile, for descriptors that the device reads and
/// writes concurrently; byte slices are for buffers the device has handed
/// back (or not yet been given).
///
/// Dropping a `Dma` leaks it; give it back with [`Hal::dma_free`].
pub struct Dma {
    bus: u64,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Dma` owns its region exclusively (the `Hal` contract says the
// memory is used by nothing else), like a `Box<[u8]>`; moving it to another
// thread moves that ownership.
unsafe impl Send for Dma {}

impl fmt::Debug for Dma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dma")
            .field("bus", &format_args!("{:#x}", self.bus))
            .field("len", &self.len)
            .finish()
    }
}

macro_rules! dma_scalar {
    ($read:ident, $write:ident, $t:ty) => {
        /// Volatile read of a little-endian value at `offset` (which must
        /// be aligned to the value's size); `None` outside the region or
        /// misaligned.
        #[inline]
        pub fn $read(&self, offset: usize) -> Option<$t> {
            let p = self.checked(offset, core::mem::size_of::<$t>())?;
            // SAFETY: `checked` ensured the value lies inside the region,
            // which the `Hal` contract makes valid for reads, and that the
            // address is aligned for the type.
            let v = unsafe { core::ptr::read_volatile(p.cast::<$t>()) };
            Some(<$t>::from_le(v))
        }

        /// Volatile write of a little-endian value at `offset` (aligned);
        /// returns `false` (writing nothing) outside the region or
        /// misaligned.
        #[inline]
        pub fn $write(&mut self, offset: usize, value: $t) -> bool {
            let Some(p) = self.checked(offset, core::mem::size_of::<$t>()) else {
                return false;
            };
            // SAFETY: as for the read; `&mut self` means no slice of the
            // region is lent out meanwhile.
            unsafe { core::ptr::write_volatile(p.cast::<$t>(), value.to_le()) };
            true
        }
    };
}

impl Dma {
    /// Wraps a region a HAL allocated.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads and writes of `len` bytes, aligned to at
    /// least 8, exclusively owned by the new `Dma` until it is freed, and
    /// the device reaches the same bytes at bus address `bus` (see the
    /// [`Hal`] contract).
    pub unsafe fn from_raw(bus: u64, ptr: NonNull<u8>, len: usize) -> Dma {
        Dma { bus, ptr, len }
    }

    /// The bus address of the first byte.
    #[inline]
    pub fn bus_addr(&self) -> u64 {
        self.bus
    }

    /// The bus address of byte `offset` (not checked against the length).
    #[inline]
    pub fn bus_addr_at(&self, offset: usize) -> u64 {
        self.bus.wrapping_add(offset as u64)
    }

    /// The CPU pointer to the first byte.
    #[inline]
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn checked(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if end > self.len || !offset.is_multiple_of(size) {
            return None;
        }
        // SAFETY: `offset + size <= len`, so the result stays inside the
        // region the pointer was created for.
        Some(unsafe { self.ptr.as_ptr().add(offset) })
    }

    dma_scalar!(read_u8, write_u8, u8);
    dma_scalar!(read_u16, write_u16, u16);
    dma_scalar!(read_u32, write_u32, u32);
    dma_scalar!(read_u64, write_u64, u64);

    /// The bytes `offset..offset + len`, or `None` outside the region.
    #[inline]
    pub fn slice(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: the range lies in the region (checked above), valid for
        // reads by the `Hal` contract; `&self` rules out a live `&mut`.
        Some(unsafe { core::slice::from_raw_parts(self.ptr.as_ptr().add(offset), len) })
    }

    /// The bytes `offset..offset + len` for writing, or `None` outside the
    /// region. Callers lend only buffers the device does not own at the
    /// moment (a descriptor it completed, or one not yet posted).
    #[inline]
    pub fn slice_mut(&mut self, offset: usize, len: usize) -> Option<&mut [u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: the range lies in the region (checked above), valid for
        // writes by the `Hal` contract; `&mut self` makes the borrow unique.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(offset), len) })
    }
}

/// A memory-mapped register block: volatile 32-bit (and 16/8-bit) access
/// at bounds-checked offsets. Created only by a [`Hal`] (through the unsafe
/// [`Mmio::from_raw`]); a smaller window can be cut with
/// [`Mmio::region`].
///
/// An access outside the block or misaligned reads all ones (as a read of
/// absent PCI memory does) and writes nothing.
pub struct Mmio {
    backend: Backend,
    base: usize,
    len: usize,
}

#[derive(Clone)]
enum Backend {
    Mapped(NonNull<u8>),
    #[cfg(any(test, fuzzing))]
    Emulated(alloc::rc::Rc<dyn RegisterModel>),
}

/// Register semantics for tests: a software device model answering
/// register reads and writes.
#[cfg(any(test, fuzzing))]
pub(crate) trait RegisterModel {
    fn read32(&self, offset: usize) -> u32;
    fn write32(&self, offset: usize, value: u32);
    fn read16(&self, offset: usize) -> u16 {
        (self.read32(offset & !3) >> ((offset & 2) * 8)) as u16
    }
    fn write16(&self, offset: usize, value: u16);
    fn read8(&self, offset: usize) -> u8 {
        (self.read32(offset & !3) >> ((offset & 3) * 8)) as u8
    }
    fn write8(&self, offset: usize, value: u8);
}

// SAFETY: an `Mmio` is a mapping of device registers; register access from
// another thread is as valid as from this one (the `Hal` contract makes the
// mapping valid for its whole lifetime, wherever it is used). In fuzzing
// builds (kept `Send` there, so that code which sends a driver to another
// thread still builds under cargo-fuzz) an `Mmio` may instead be emulated,
// holding an `Rc`: only `FakeHal::map_bar` makes one, for a register model
// that crate-internal code registered (`add_model_bar` is not public), and
// that code (the `hostile` harness) never leaves its thread. Every `Mmio`
// code outside this crate can obtain is a mapping.
#[cfg(not(test))]
unsafe impl Send for Mmio {}

impl fmt::Debug for Mmio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mmio")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}

macro_rules! mmio_access {
    ($read:ident, $write:ident, $t:ty, $mread:ident, $mwrite:ident) => {
        /// Volatile read at `offset` (naturally aligned); all ones outside
        /// the block.
        #[inline]
        pub fn $read(&self, offset: usize) -> $t {
            let size = core::mem::size_of::<$t>();
            let Some(off) = self.checked(offset, size) else {
                return <$t>::MAX;
            };
            match &self.backend {
                Backend::Mapped(p) => {
                    // SAFETY: `checked` keeps the access inside the mapping
                    // and aligned; the `Hal` contract makes the mapping
                    // valid for volatile access while `self` lives.
                    let v = unsafe { core::ptr::read_volatile(p.as_ptr().add(off).cast::<$t>()) };
                    <$t>::from_le(v)
                }
                #[cfg(any(test, fuzzing))]
                Backend::Emulated(m) => m.$mread(off),
            }
        }

        /// Volatile write at `offset` (naturally aligned); ignored outside
        /// the block.
        #[inline]
        pub fn $write(&self, offset: usize, value: $t) {
            let size = core::mem::size_of::<$t>();
            let Some(off) = self.checked(offset, size) else {
                return;
            };
            match &self.backend {
                Backend::Mapped(p) => {
                    // SAFETY: as for the read.
                    unsafe {
                        core::ptr::write_volatile(p.as_ptr().add(off).cast::<$t>(), value.to_le())
                    }
                }
                #[cfg(any(test, fuzzing))]
                Backend::Emulated(m) => m.$mwrite(off, value),
            }
        }
    };
}

impl Mmio {
    /// Wraps a mapping of `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is aligned to 4 and valid for volatile reads and writes of
    /// `len` bytes for as long as the returned `Mmio` and every region cut
    /// from it exist, and no Rust reference aliases that memory (see the
    /// [`Hal`] contract).
    pub unsafe fn from_raw(ptr: NonNull<u8>, len: usize) -> Mmio {
        Mmio {
            backend: Backend::Mapped(ptr),
            base: 0,
            len,
        }
    }

    #[cfg(any(test, fuzzing))]
    pub(crate) fn emulated(model: alloc::rc::Rc<dyn RegisterModel>, len: usize) -> Mmio {
        Mmio {
            backend: Backend::Emulated(model),
            base: 0,
            len,
        }
    }

    /// Length of the block in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The window `offset..offset + len` of this block as its own `Mmio`,
    /// or `None` if it does not fit.
    pub fn region(&self, offset: usize, len: usize) -> Option<Mmio> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        Some(Mmio {
            backend: self.backend.clone(),
            base: self.base + offset,
            len,
        })
    }

    /// Offset from the mapping's start, if the access fits and is aligned.
    #[inline]
    fn checked(&self, offset: usize, size: usize) -> Option<usize> {
        let end = offset.checked_add(size)?;
        let abs = self.base.checked_add(offset)?;
        (end <= self.len && abs.is_multiple_of(size)).then_some(abs)
    }

    mmio_access!(read32, write32, u32, read32, write32);
    mmio_access!(read16, write16, u16, read16, write16);
    mmio_access!(read8, write8, u8, read8, write8);

    /// Writes a 64-bit value as two 32-bit writes, low half first.
    #[inline]
    pub fn write64_split(&self, offset: usize, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset.wrapping_add(4), (value >> 32) as u32);
    }

    /// Reads a 64-bit value as two 32-bit reads, low half first.
    #[inline]
    pub fn read64_split(&self, offset: usize) -> u64 {
        u64::from(self.read32(offset)) | (u64::from(self.read32(offset.wrapping_add(4))) << 32)
    }
}
