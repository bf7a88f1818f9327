//! [`FakeHal`]: a [`Hal`] backed by heap memory, for tests of drivers and
//! of software device models.
//!
//! DMA regions come from the global allocator and receive made-up bus
//! addresses (starting at `0x4000_0000`, with an unmapped guard page
//! between regions), so that a driver that confuses a pointer with a bus
//! address is caught. A device model reaches DMA memory only through
//! [`FakeHal::dma_read`] and [`FakeHal::dma_write`], which check every
//! access against the allocated regions and report a [`DmaFault`] (as an
//! IOMMU would) instead of touching stray memory.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ptr::NonNull;

use crate::hal::{Direction, Dma, Hal, HalError, Mmio};
use crate::pci::Bar;

/// A device access to a bus address no DMA region covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DmaFault {
    /// The bus address accessed.
    pub bus: u64,
    /// The length of the access.
    pub len: usize,
}

struct Region {
    bus: u64,
    ptr: NonNull<u8>,
    layout: Layout,
}

/// A BAR answered by a register model: index, model, length. Held
/// weakly: a model holds its `FakeHal`, and a strong reference back would
/// keep both alive forever (the mapped `Mmio` holds the strong one).
#[cfg(any(test, fuzzing))]
type ModelBar = (u8, alloc::rc::Weak<dyn crate::hal::RegisterModel>, usize);

#[derive(Default)]
struct Inner {
    regions: RefCell<Vec<Region>>,
    next_bus: Cell<u64>,
    bars: RefCell<Vec<(u8, Region)>>,
    #[cfg(any(test, fuzzing))]
    models: RefCell<Vec<ModelBar>>,
    allocs_left: Cell<Option<usize>>,
    faults: Cell<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // BAR memory is deliberately leaked: an `Mmio` handed out by
        // `map_bar` may outlive every clone of the `FakeHal`.
        for r in self.regions.get_mut().drain(..) {
            // SAFETY: every region was allocated with exactly this layout
            // by `alloc_region` and is freed once (it leaves the list).
            unsafe { dealloc(r.ptr.as_ptr(), r.layout) };
        }
    }
}

/// A heap-backed [`Hal`]; cheap to clone (clones share the memory), so a
/// test keeps one handle for its device model while the driver owns
/// another.
///
/// ```
/// use lamina_drivers_pci::fake::FakeHal;
/// use lamina_drivers_pci::hal::{Direction, Hal};
/// let hal = FakeHal::new();
/// let mut dma = hal.dma_alloc(64, Direction::Both).unwrap();
/// dma.write_u32(8, 0xdead_beef);
/// let mut seen = [0u8; 4];
/// hal.dma_read(dma.bus_addr() + 8, &mut seen).unwrap();
/// assert_eq!(u32::from_le_bytes(seen), 0xdead_beef);
/// assert!(hal.dma_read(dma.bus_addr() + 4096, &mut seen).is_err());
/// // SAFETY: the region came from this HAL and no device uses it.
/// unsafe { hal.dma_free(dma) };
/// assert_eq!(hal.outstanding(), 0);
/// ```
#[derive(Clone, Default)]
pub struct FakeHal {
    inner: Rc<Inner>,
}

impl core::fmt::Debug for FakeHal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FakeHal")
            .field("outstanding", &self.outstanding())
            .field("faults", &self.faults())
            .finish()
    }
}

const BUS_BASE: u64 = 0x4000_0000;

fn alloc_region(size: usize) -> Option<(NonNull<u8>, Layout)> {
    let layout = Layout::from_size_align(size.max(1), 4096).ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    Some((NonNull::new(ptr)?, layout))
}

impl FakeHal {
    /// A HAL with no memory allocated.
    pub fn new() -> FakeHal {
        FakeHal::default()
    }

    /// DMA regions allocated and not yet freed.
    pub fn outstanding(&self) -> usize {
        self.inner.regions.borrow().len()
    }

    /// Device accesses that hit no region so far.
    pub fn faults(&self) -> u64 {
        self.inner.faults.get()
    }

    /// Makes the allocation after the next `n` fail, to test error paths.
    pub fn fail_allocations_after(&self, n: usize) {
        self.inner.allocs_left.set(Some(n));
    }

    /// Gives BAR `index` `len` bytes of plain zeroed memory (registers
    /// without side effects).
    pub fn add_memory_bar(&self, index: u8, len: usize) {
        if let Some((ptr, layout)) = alloc_region(len) {
            self.inner.bars.borrow_mut().push((
                index,
                Region {
                    bus: 0,
                    ptr,
                    layout,
                },
            ));
        }
    }

    /// Makes BAR `index` answer through a register model.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn add_model_bar(
        &self,
        index: u8,
        model: Rc<dyn crate::hal::RegisterModel>,
        len: usize,
    ) {
        self.inner
            .models
            .borrow_mut()
            .push((index, Rc::downgrade(&model), len));
    }

    fn find(&self, bus: u64, len: usize) -> Option<*mut u8> {
        let regions = self.inner.regions.borrow();
        let end = bus.checked_add(len as u64)?;
        regions.iter().find_map(|r| {
            let r_end = r.bus + r.layout.size() as u64;
            if bus >= r.bus && end <= r_end {
                // SAFETY: `bus - r.bus + len <= size`, inside the region.
                Some(unsafe { r.ptr.as_ptr().add((bus - r.bus) as usize) })
            } else {
                None
            }
        })
    }

    fn fault(&self, bus: u64, len: usize) -> DmaFault {
        self.inner.faults.set(self.inner.faults.get() + 1);
        DmaFault { bus, len }
    }

    /// A device read of `out.len()` bytes at bus address `bus`.
    ///
    /// # Errors
    ///
    /// [`DmaFault`] if the range is not inside one allocated region.
    pub fn dma_read(&self, bus: u64, out: &mut [u8]) -> Result<(), DmaFault> {
        let p = self
            .find(bus, out.len())
            .ok_or_else(|| self.fault(bus, out.len()))?;
        // SAFETY: `find` checked that the range lies in a live region; the
        // region is plain heap memory, and the single-threaded test has no
        // outstanding reference into it while the model runs.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// A device write of `data` at bus address `bus`.
    ///
    /// # Errors
    ///
    /// [`DmaFault`] if the range is not inside one allocated region.
    pub fn dma_write(&self, bus: u64, data: &[u8]) -> Result<(), DmaFault> {
        let p = self
            .find(bus, data.len())
            .ok_or_else(|| self.fault(bus, data.len()))?;
        // SAFETY: as in `dma_read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(())
    }
}

// SAFETY: regions are fresh zeroed heap allocations of at least the size
// asked for, 4096-aligned, owned by the `Dma` until freed; the device
// (a model) reaches them only through `dma_read`/`dma_write` at the bus
// address recorded here. BAR memory is never freed (see `Drop for
// Inner`), so an `Mmio` over it stays valid however long it lives.
unsafe impl Hal for FakeHal {
    fn dma_alloc(&self, size: usize, _direction: Direction) -> Result<Dma, HalError> {
        if let Some(left) = self.inner.allocs_left.get() {
            if left == 0 {
                return Err(HalError::OutOfMemory);
            }
            self.inner.allocs_left.set(Some(left - 1));
        }
        let (ptr, layout) = alloc_region(size).ok_or(HalError::OutOfMemory)?;
        let bus = self.inner.next_bus.get().max(BUS_BASE);
        let span = (layout.size() as u64).div_ceil(4096) * 4096 + 4096;
        self.inner.next_bus.set(bus + span);
        self.inner
            .regions
            .borrow_mut()
            .push(Region { bus, ptr, layout });
        // SAFETY: see the `unsafe impl` comment.
        Ok(unsafe { Dma::from_raw(bus, ptr, size) })
    }

    unsafe fn dma_free(&self, dma: Dma) {
        let mut regions = self.inner.regions.borrow_mut();
        if let Some(i) = regions
            .iter()
            .position(|r| r.bus == dma.bus_addr() && r.ptr == dma.as_ptr())
        {
            let r = regions.swap_remove(i);
            // SAFETY: allocated by `alloc_region` with this layout, removed
            // from the list so freed once; the caller promises the device
            // no longer uses it.
            unsafe { dealloc(r.ptr.as_ptr(), r.layout) };
        }
    }

    fn map_bar(&self, bar: &Bar) -> Result<Mmio, HalError> {
        #[cfg(any(test, fuzzing))]
        if let Some((_, m, len)) = self
            .inner
            .models
            .borrow()
            .iter()
            .find(|(i, _, _)| *i == bar.index)
        {
            // A model its owner dropped answers nothing: unmappable.
            let m = m.upgrade().ok_or(HalError::Map(bar.index))?;
            return Ok(Mmio::emulated(m, *len));
        }
        let bars = self.inner.bars.borrow();
        let (_, r) = bars
            .iter()
            .find(|(i, _)| *i == bar.index)
            .ok_or(HalError::Map(bar.index))?;
        // SAFETY: see the `unsafe impl` comment; the memory is only ever
        // accessed through `Mmio`'s volatile accessors.
        Ok(unsafe { Mmio::from_raw(r.ptr, r.layout.size()) })
    }

    fn delay_us(&self, _us: u32) {}
}
