//! Linux user-space backends (feature `linux`): run the drivers of this
//! crate on a real NIC from an ordinary process, as root.
//!
//! - [`SysfsConfig`]: configuration space through
//!   `/sys/bus/pci/devices/<BDF>/config`.
//! - [`SysfsHal`]: BARs mapped from `resource<N>`, DMA memory carved from
//!   2 MiB hugepages and translated to physical addresses through
//!   `/proc/self/pagemap`. No IOMMU protection: the device can reach all
//!   memory. Needs hugepages (`/proc/sys/vm/nr_hugepages`) and root.
//! - [`VfioHal`] and [`VfioConfig`]: the device bound to `vfio-pci`, a
//!   VFIO type1 container, BARs mapped from the device file, and DMA
//!   memory mapped into the IOMMU at I/O virtual addresses this HAL
//!   chooses, so that a wrong address is an IOMMU fault, not a stray write.
//! - [`unbind`], [`bind_driver`]: move a function between kernel drivers.
//!
//! BAR mappings are never unmapped (an [`Mmio`] may outlive the HAL that
//! made it), and a hugepage is unmapped only when no region in it is live.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::string::ToString;
use std::sync::Mutex;
use std::vec::Vec;

use crate::hal::{Direction, Dma, Hal, HalError, Mmio};
use crate::pci::{Bar, ConfigAccess, PciAddress};

/// The sysfs directory of a PCI function.
pub fn device_dir(addr: PciAddress) -> PathBuf {
    PathBuf::from(std::format!("/sys/bus/pci/devices/{addr}"))
}

/// Detaches the function from its kernel driver, if it has one.
///
/// # Errors
///
/// The I/O error of writing the driver's `unbind` file.
pub fn unbind(addr: PciAddress) -> io::Result<()> {
    let unbind = device_dir(addr).join("driver/unbind");
    if unbind.exists() {
        fs::write(unbind, addr.to_string())?;
    }
    Ok(())
}

/// Binds the function to kernel driver `driver` (for example `vfio-pci`
/// or `uio_pci_generic`) through `driver_override`, after unbinding it
/// from its current driver.
///
/// # Errors
///
/// The I/O error of a sysfs write (the driver's module not loaded, no
/// permission).
pub fn bind_driver(addr: PciAddress, driver: &str) -> io::Result<()> {
    let dir = device_dir(addr);
    unbind(addr)?;
    fs::write(dir.join("driver_override"), driver)?;
    fs::write("/sys/bus/pci/drivers_probe", addr.to_string())?;
    if !dir.join("driver").exists() {
        return Err(io::Error::other(std::format!(
            "{addr}: {driver} did not bind"
        )));
    }
    Ok(())
}

/// Configuration space through the sysfs `config` file.
#[derive(Debug)]
pub struct SysfsConfig {
    file: File,
}

impl SysfsConfig {
    /// Opens the `config` file of `addr` for reading and writing.
    ///
    /// # Errors
    ///
    /// The I/O error of opening it.
    pub fn open(addr: PciAddress) -> io::Result<SysfsConfig> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(device_dir(addr).join("config"))?;
        Ok(SysfsConfig { file })
    }

    /// Opens the `config` file read-only (writes are then ignored).
    ///
    /// # Errors
    ///
    /// The I/O error of opening it.
    pub fn open_read_only(addr: PciAddress) -> io::Result<SysfsConfig> {
        Ok(SysfsConfig {
            file: File::open(device_dir(addr).join("config"))?,
        })
    }
}

/// Reads `N` bytes at `offset` of `file` (plus `base`), all ones on error.
fn read_n<const N: usize>(file: &File, offset: u64) -> [u8; N] {
    let mut b = [0u8; N];
    match file.read_exact_at(&mut b, offset) {
        Ok(()) => b,
        Err(_) => [0xff; N],
    }
}

impl ConfigAccess for SysfsConfig {
    fn read32(&mut self, _: PciAddress, offset: u16) -> u32 {
        u32::from_le_bytes(read_n(&self.file, u64::from(offset)))
    }
    fn read16(&mut self, _: PciAddress, offset: u16) -> u16 {
        u16::from_le_bytes(read_n(&self.file, u64::from(offset)))
    }
    fn read8(&mut self, _: PciAddress, offset: u16) -> u8 {
        u8::from_le_bytes(read_n(&self.file, u64::from(offset)))
    }
    fn write32(&mut self, _: PciAddress, offset: u16, value: u32) {
        let _ = self
            .file
            .write_all_at(&value.to_le_bytes(), u64::from(offset));
    }
    fn write16(&mut self, _: PciAddress, offset: u16, value: u16) {
        let _ = self
            .file
            .write_all_at(&value.to_le_bytes(), u64::from(offset));
    }
    fn write8(&mut self, _: PciAddress, offset: u16, value: u8) {
        let _ = self.file.write_all_at(&[value], u64::from(offset));
    }
}

const PAGE: usize = 4096;
const HUGEPAGE: usize = 2 << 20;

/// Translates a virtual address of this process to a physical address
/// through `/proc/self/pagemap` (root only: others read a zero frame
/// number). The page must be resident.
///
/// # Errors
///
/// An I/O error, or `PermissionDenied` if the frame number is hidden,
/// `NotFound` if the page is not present.
pub fn virt_to_phys(vaddr: usize) -> io::Result<u64> {
    let pagemap = File::open("/proc/self/pagemap")?;
    let mut e = [0u8; 8];
    pagemap.read_exact_at(&mut e, (vaddr / PAGE * 8) as u64)?;
    pagemap_entry_to_phys(u64::from_le_bytes(e), vaddr)
}

/// Decodes one pagemap entry for `vaddr` (bit 63: present, bits 0..55:
/// page frame number).
///
/// # Errors
///
/// `NotFound` if the page is not present, `PermissionDenied` if the frame
/// number reads zero.
pub fn pagemap_entry_to_phys(entry: u64, vaddr: usize) -> io::Result<u64> {
    if entry & 1 << 63 == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, "page not present"));
    }
    let pfn = entry & ((1 << 55) - 1);
    if pfn == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "pagemap hides frame numbers (not root?)",
        ));
    }
    Ok(pfn * PAGE as u64 + (vaddr % PAGE) as u64)
}

/// Maps `len` bytes of `file` at `offset`, shared, readable and writable.
fn mmap_file(file: &File, offset: u64, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a fresh shared mapping chosen by the kernel; it aliases no
    // Rust object. The result is checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))
}

/// Anonymous memory: `huge` asks for 2 MiB hugepages, locked and
/// populated.
fn mmap_anon(len: usize, huge: bool) -> io::Result<NonNull<u8>> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
    if huge {
        flags |= libc::MAP_HUGETLB | libc::MAP_LOCKED;
    }
    // SAFETY: a fresh private anonymous mapping; checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let p = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
    if !huge {
        // SAFETY: the mapping just made is `len` bytes long.
        if unsafe { libc::mlock(p.as_ptr().cast(), len) } != 0 {
            let e = io::Error::last_os_error();
            munmap(p, len);
            return Err(e);
        }
    }
    Ok(p)
}

fn munmap(p: NonNull<u8>, len: usize) {
    // SAFETY: callers pass a mapping they made with this length and no
    // longer use.
    unsafe {
        libc::munmap(p.as_ptr().cast(), len);
    }
}

/// One hugepage carved into regions.
#[derive(Debug)]
struct Chunk {
    ptr: NonNull<u8>,
    phys: u64,
    used: usize,
    live: usize,
}

// SAFETY: a chunk is plain memory owned by the HAL; the pointer is only
// dereferenced by `Dma` regions under the HAL contract.
unsafe impl Send for Chunk {}

/// The [`Hal`] over sysfs: BAR mappings of `resource<N>` files and DMA
/// memory from hugepages with physical addresses from `pagemap`.
///
/// Each region lies inside one 2 MiB hugepage (physically contiguous), so
/// a single allocation is at most 2 MiB.
#[derive(Debug)]
pub struct SysfsHal {
    addr: PciAddress,
    chunks: Mutex<Vec<Chunk>>,
}

impl SysfsHal {
    /// A HAL for the function at `addr` (which should already be unbound
    /// from its kernel driver, see [`unbind`]).
    pub fn new(addr: PciAddress) -> SysfsHal {
        SysfsHal {
            addr,
            chunks: Mutex::new(Vec::new()),
        }
    }

    fn new_chunk() -> io::Result<Chunk> {
        let ptr = mmap_anon(HUGEPAGE, true)?;
        match virt_to_phys(ptr.as_ptr() as usize) {
            Ok(phys) => Ok(Chunk {
                ptr,
                phys,
                used: 0,
                live: 0,
            }),
            Err(e) => {
                munmap(ptr, HUGEPAGE);
                Err(e)
            }
        }
    }
}

// SAFETY: regions are cut from locked hugepages (physically contiguous, 2
// MiB each, never moved by the kernel), zeroed before being handed out,
// 4096-aligned, disjoint, and their bus address is the physical address
// from pagemap (no IOMMU). A hugepage is unmapped only when none of its
// regions is live. BAR mappings are shared mappings of the `resource<N>`
// files, which the kernel keeps valid until unmapped, and are never
// unmapped.
unsafe impl Hal for SysfsHal {
    fn dma_alloc(&self, size: usize, _direction: Direction) -> Result<Dma, HalError> {
        let len = size.max(1).div_ceil(PAGE) * PAGE;
        if len > HUGEPAGE {
            return Err(HalError::OutOfMemory);
        }
        let mut chunks = self.chunks.lock().map_err(|_| HalError::OutOfMemory)?;
        let i = match chunks.iter().position(|c| HUGEPAGE - c.used >= len) {
            Some(i) => i,
            None => {
                chunks.push(SysfsHal::new_chunk().map_err(|_| HalError::OutOfMemory)?);
                chunks.len() - 1
            }
        };
        let c = chunks.get_mut(i).ok_or(HalError::OutOfMemory)?;
        // SAFETY: `used + len <= HUGEPAGE`, inside the mapping.
        let ptr = unsafe { c.ptr.as_ptr().add(c.used) };
        // SAFETY: the range is inside the chunk and belongs to no live
        // region.
        unsafe { core::ptr::write_bytes(ptr, 0, len) };
        let bus = c.phys + c.used as u64;
        c.used += len;
        c.live += 1;
        let ptr = NonNull::new(ptr).ok_or(HalError::OutOfMemory)?;
        // SAFETY: see the `unsafe impl` comment.
        Ok(unsafe { Dma::from_raw(bus, ptr, size) })
    }

    unsafe fn dma_free(&self, dma: Dma) {
        let Ok(mut chunks) = self.chunks.lock() else {
            return;
        };
        let p = dma.as_ptr().as_ptr() as usize;
        if let Some(i) = chunks.iter().position(|c| {
            let base = c.ptr.as_ptr() as usize;
            (base..base + HUGEPAGE).contains(&p)
        }) {
            let c = &mut chunks[i];
            c.live -= 1;
            if c.live == 0 {
                // Every region is gone: the page can be reused from the
                // start.
                c.used = 0;
            }
        }
    }

    fn map_bar(&self, bar: &Bar) -> Result<Mmio, HalError> {
        if !bar.is_memory() {
            return Err(HalError::Map(bar.index));
        }
        let path = device_dir(self.addr).join(std::format!("resource{}", bar.index));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|_| HalError::Map(bar.index))?;
        let len = match file.metadata() {
            Ok(m) if m.len() > 0 => m.len() as usize,
            _ => bar.size as usize,
        };
        let ptr = mmap_file(&file, 0, len).map_err(|_| HalError::Map(bar.index))?;
        // SAFETY: see the `unsafe impl` comment; the mapping is `len`
        // bytes, page aligned, and never unmapped.
        Ok(unsafe { Mmio::from_raw(ptr, len) })
    }

    fn delay_us(&self, us: u32) {
        std::thread::sleep(std::time::Duration::from_micros(u64::from(us)));
    }
}

impl Drop for SysfsHal {
    fn drop(&mut self) {
        if let Ok(chunks) = self.chunks.get_mut() {
            for c in chunks.drain(..) {
                if c.live == 0 {
                    munmap(c.ptr, HUGEPAGE);
                }
            }
        }
    }
}

// --- VFIO ---------------------------------------------------------------

const VFIO_TYPE: u32 = b';' as u32;
const fn vfio_io(nr: u32) -> u32 {
    VFIO_TYPE << 8 | nr
}
const VFIO_GET_API_VERSION: u32 = vfio_io(100);
const VFIO_CHECK_EXTENSION: u32 = vfio_io(101);
const VFIO_SET_IOMMU: u32 = vfio_io(102);
const VFIO_GROUP_GET_STATUS: u32 = vfio_io(103);
const VFIO_GROUP_SET_CONTAINER: u32 = vfio_io(104);
const VFIO_GROUP_GET_DEVICE_FD: u32 = vfio_io(106);
const VFIO_DEVICE_GET_REGION_INFO: u32 = vfio_io(108);
const VFIO_DEVICE_RESET: u32 = vfio_io(111);
const VFIO_IOMMU_MAP_DMA: u32 = vfio_io(113);
const VFIO_IOMMU_UNMAP_DMA: u32 = vfio_io(114);
const VFIO_API_VERSION: i32 = 0;
const VFIO_TYPE1_IOMMU: libc::c_ulong = 1;
const VFIO_GROUP_FLAGS_VIABLE: u32 = 1;
const VFIO_REGION_INFO_FLAG_MMAP: u32 = 1 << 2;
const VFIO_PCI_CONFIG_REGION_INDEX: u32 = 7;
const VFIO_DMA_MAP_FLAG_READ: u32 = 1;
const VFIO_DMA_MAP_FLAG_WRITE: u32 = 2;

#[repr(C)]
#[derive(Debug, Default)]
struct GroupStatus {
    argsz: u32,
    flags: u32,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct RegionInfo {
    argsz: u32,
    flags: u32,
    index: u32,
    cap_offset: u32,
    size: u64,
    offset: u64,
}

#[repr(C)]
#[derive(Debug, Default)]
struct DmaMap {
    argsz: u32,
    flags: u32,
    vaddr: u64,
    iova: u64,
    size: u64,
}

#[repr(C)]
#[derive(Debug, Default)]
struct DmaUnmap {
    argsz: u32,
    flags: u32,
    iova: u64,
    size: u64,
}

/// `ioctl` with a pointer argument; the caller passes a struct of the
/// layout the request expects.
fn ioctl_ptr<T>(fd: &File, req: u32, arg: &mut T) -> io::Result<i32> {
    // SAFETY: `arg` is a live, exclusively borrowed `#[repr(C)]` struct
    // whose layout matches what `req` reads and writes (the VFIO ABI, with
    // `argsz` set by the caller).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `ioctl` with an integer argument.
fn ioctl_val(fd: &File, req: u32, arg: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: these requests take a plain integer argument.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The IOMMU group number of a function.
///
/// # Errors
///
/// `NotFound` if the function has no IOMMU group (no IOMMU).
pub fn iommu_group(addr: PciAddress) -> io::Result<u32> {
    let link = fs::read_link(device_dir(addr).join("iommu_group"))?;
    link.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no IOMMU group"))
}

/// Lowest and highest I/O virtual address handed out. The top stays below
/// the x86 MSI window at `0xfee0_0000`.
const IOVA_BASE: u64 = 0x1000_0000;
const IOVA_END: u64 = 0xfee0_0000;

#[derive(Debug)]
struct VfioRegion {
    iova: u64,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: plain memory owned by the HAL (see `Chunk`).
unsafe impl Send for VfioRegion {}

#[derive(Debug)]
struct VfioState {
    next_iova: u64,
    regions: Vec<VfioRegion>,
}

/// The [`Hal`] over VFIO type1: the device is bound to `vfio-pci` (see
/// [`bind_driver`]), alone in its IOMMU group or with the whole group
/// bound; DMA memory is mapped into the IOMMU at I/O virtual addresses
/// from `0x1000_0000` up.
#[derive(Debug)]
pub struct VfioHal {
    container: File,
    // Kept open: closing the group detaches the container.
    _group: File,
    device: File,
    state: Mutex<VfioState>,
}

impl VfioHal {
    /// Opens the VFIO container, the function's group and the device.
    ///
    /// # Errors
    ///
    /// An I/O error from any step, or `Unsupported` if the kernel lacks the
    /// type1 IOMMU or the group is not viable (another device of the group
    /// is still bound to a host driver).
    pub fn open(addr: PciAddress) -> io::Result<VfioHal> {
        let group_no = iommu_group(addr)?;
        let rw = |p: &str| OpenOptions::new().read(true).write(true).open(p);
        let container = rw("/dev/vfio/vfio")?;
        if ioctl_val(&container, VFIO_GET_API_VERSION, 0)? != VFIO_API_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "VFIO API version",
            ));
        }
        if ioctl_val(&container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU)? != 1 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no VFIO type1 IOMMU",
            ));
        }
        let group = rw(&std::format!("/dev/vfio/{group_no}"))?;
        let mut st = GroupStatus {
            argsz: core::mem::size_of::<GroupStatus>() as u32,
            flags: 0,
        };
        ioctl_ptr(&group, VFIO_GROUP_GET_STATUS, &mut st)?;
        if st.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "IOMMU group not viable: bind every device in it to vfio-pci",
            ));
        }
        let mut cfd: i32 = container.as_raw_fd();
        ioctl_ptr(&group, VFIO_GROUP_SET_CONTAINER, &mut cfd)?;
        ioctl_val(&container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)?;
        let name = std::ffi::CString::new(addr.to_string()).map_err(io::Error::other)?;
        // SAFETY: the request takes a NUL-terminated device name.
        let fd = unsafe {
            libc::ioctl(
                group.as_raw_fd(),
                VFIO_GROUP_GET_DEVICE_FD as _,
                name.as_ptr(),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor the kernel just gave us and
        // nothing else owns.
        let device = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // A reset is best effort: not every device supports it.
        let _ = ioctl_val(&device, VFIO_DEVICE_RESET, 0);
        Ok(VfioHal {
            container,
            _group: group,
            device,
            state: Mutex::new(VfioState {
                next_iova: IOVA_BASE,
                regions: Vec::new(),
            }),
        })
    }

    fn region_info(&self, index: u32) -> io::Result<RegionInfo> {
        let mut info = RegionInfo {
            argsz: core::mem::size_of::<RegionInfo>() as u32,
            index,
            ..RegionInfo::default()
        };
        ioctl_ptr(&self.device, VFIO_DEVICE_GET_REGION_INFO, &mut info)?;
        Ok(info)
    }

    /// Configuration space through the VFIO device's config region.
    ///
    /// # Errors
    ///
    /// The error of querying the region.
    pub fn config(&self) -> io::Result<VfioConfig> {
        let info = self.region_info(VFIO_PCI_CONFIG_REGION_INDEX)?;
        Ok(VfioConfig {
            device: self.device.try_clone()?,
            base: info.offset,
        })
    }

    /// Maps the `len` bytes at `ptr` into the IOMMU at `iova`.
    fn map(&self, ptr: NonNull<u8>, iova: u64, len: usize) -> io::Result<()> {
        let mut m = DmaMap {
            argsz: core::mem::size_of::<DmaMap>() as u32,
            flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            vaddr: ptr.as_ptr() as u64,
            iova,
            size: len as u64,
        };
        ioctl_ptr(&self.container, VFIO_IOMMU_MAP_DMA, &mut m).map(|_| ())
    }
}

// SAFETY: regions are fresh, locked anonymous mappings (zeroed by the
// kernel), page aligned, mapped into the IOMMU as one contiguous range at
// the recorded I/O virtual address, and unmapped from the IOMMU before
// their memory is released. BARs are shared mappings of the device file,
// never unmapped.
unsafe impl Hal for VfioHal {
    fn dma_alloc(&self, size: usize, _direction: Direction) -> Result<Dma, HalError> {
        let len = size.max(1).div_ceil(PAGE) * PAGE;
        let mut st = self.state.lock().map_err(|_| HalError::OutOfMemory)?;
        let iova = st.next_iova;
        if iova + len as u64 > IOVA_END {
            return Err(HalError::OutOfMemory);
        }
        let ptr = mmap_anon(len, false).map_err(|_| HalError::OutOfMemory)?;
        if self.map(ptr, iova, len).is_err() {
            munmap(ptr, len);
            return Err(HalError::OutOfMemory);
        }
        // A guard page between regions: an overrun faults.
        st.next_iova = iova + len as u64 + PAGE as u64;
        st.regions.push(VfioRegion { iova, ptr, len });
        // SAFETY: see the `unsafe impl` comment.
        Ok(unsafe { Dma::from_raw(iova, ptr, size) })
    }

    unsafe fn dma_free(&self, dma: Dma) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let Some(i) = st.regions.iter().position(|r| r.iova == dma.bus_addr()) else {
            return;
        };
        let r = st.regions.swap_remove(i);
        let mut u = DmaUnmap {
            argsz: core::mem::size_of::<DmaUnmap>() as u32,
            flags: 0,
            iova: r.iova,
            size: r.len as u64,
        };
        if ioctl_ptr(&self.container, VFIO_IOMMU_UNMAP_DMA, &mut u).is_ok() {
            munmap(r.ptr, r.len);
        }
    }

    fn map_bar(&self, bar: &Bar) -> Result<Mmio, HalError> {
        let err = HalError::Map(bar.index);
        if !bar.is_memory() {
            return Err(err);
        }
        let info = self.region_info(u32::from(bar.index)).map_err(|_| err)?;
        if info.flags & VFIO_REGION_INFO_FLAG_MMAP == 0 || info.size == 0 {
            return Err(err);
        }
        let len = info.size as usize;
        let ptr = mmap_file(&self.device, info.offset, len).map_err(|_| err)?;
        // SAFETY: see the `unsafe impl` comment.
        Ok(unsafe { Mmio::from_raw(ptr, len) })
    }

    fn delay_us(&self, us: u32) {
        std::thread::sleep(std::time::Duration::from_micros(u64::from(us)));
    }
}

/// Configuration space through a VFIO device's config region.
#[derive(Debug)]
pub struct VfioConfig {
    device: File,
    base: u64,
}

impl ConfigAccess for VfioConfig {
    fn read32(&mut self, _: PciAddress, offset: u16) -> u32 {
        u32::from_le_bytes(read_n(&self.device, self.base + u64::from(offset)))
    }
    fn read16(&mut self, _: PciAddress, offset: u16) -> u16 {
        u16::from_le_bytes(read_n(&self.device, self.base + u64::from(offset)))
    }
    fn read8(&mut self, _: PciAddress, offset: u16) -> u8 {
        u8::from_le_bytes(read_n(&self.device, self.base + u64::from(offset)))
    }
    fn write32(&mut self, _: PciAddress, offset: u16, value: u32) {
        let _ = self
            .device
            .write_all_at(&value.to_le_bytes(), self.base + u64::from(offset));
    }
    fn write16(&mut self, _: PciAddress, offset: u16, value: u16) {
        let _ = self
            .device
            .write_all_at(&value.to_le_bytes(), self.base + u64::from(offset));
    }
    fn write8(&mut self, _: PciAddress, offset: u16, value: u8) {
        let _ = self
            .device
            .write_all_at(&[value], self.base + u64::from(offset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagemap_entries_decode_present_pages_only() {
        let present = 1u64 << 63 | 0x12345;
        assert_eq!(
            pagemap_entry_to_phys(present, 0x7000_0abc).unwrap(),
            0x1234_5abc
        );
        let absent = 0x12345;
        assert_eq!(
            pagemap_entry_to_phys(absent, 0).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let hidden = 1u64 << 63;
        assert_eq!(
            pagemap_entry_to_phys(hidden, 0).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn vfio_ioctl_numbers_match_the_kernel_abi() {
        // linux/vfio.h: _IO(';', VFIO_BASE + n) with VFIO_BASE = 100.
        assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
        assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
        assert_eq!(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
        assert_eq!(VFIO_IOMMU_MAP_DMA, 0x3b71);
        assert_eq!(core::mem::size_of::<RegionInfo>(), 32);
        assert_eq!(core::mem::size_of::<DmaMap>(), 32);
        assert_eq!(core::mem::size_of::<DmaUnmap>(), 24);
    }

    #[test]
    fn sysfs_config_reads_the_same_ids_as_sysfs_attributes() {
        // Read-only: look at the first PCI function of this machine, if any.
        let Some(entry) = fs::read_dir("/sys/bus/pci/devices")
            .ok()
            .and_then(|mut d| d.next())
        else {
            std::eprintln!("skipping: no PCI devices visible in sysfs");
            return;
        };
        let Ok(entry) = entry else { return };
        let name = entry.file_name();
        let Some(addr) = name.to_str().and_then(|n| n.parse::<PciAddress>().ok()) else {
            return;
        };
        let Ok(mut cfg) = SysfsConfig::open_read_only(addr) else {
            std::eprintln!("skipping: cannot open {addr} config");
            return;
        };
        let vendor = fs::read_to_string(entry.path().join("vendor")).unwrap_or_default();
        let vendor = u16::from_str_radix(vendor.trim().trim_start_matches("0x"), 16).unwrap_or(0);
        assert_eq!(cfg.read16(addr, 0), vendor);
        let h = crate::pci::Header::read(&mut cfg, addr);
        if let Ok(h) = h {
            assert_eq!(h.vendor_id, vendor);
        }
    }

    #[test]
    fn virt_to_phys_translates_a_locked_page_as_root() {
        let Ok(p) = mmap_anon(PAGE, false) else {
            std::eprintln!("skipping: cannot lock memory");
            return;
        };
        match virt_to_phys(p.as_ptr() as usize + 5) {
            Ok(phys) => assert_eq!(phys % PAGE as u64, 5),
            Err(e) => std::eprintln!("skipping: {e}"),
        }
        munmap(p, PAGE);
    }
}
