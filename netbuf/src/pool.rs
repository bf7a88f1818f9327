//! [`BufferPool`]: fixed-size buffers recycled without allocation.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::Error;

/// A bounded pool of equally sized byte buffers.
///
/// Every buffer is allocated when the pool is created; afterwards
/// [`try_alloc`](Self::try_alloc) and dropping a [`PoolBuf`] never touch
/// the allocator, so drivers can use the pool on their fast path. When all
/// buffers are out, `try_alloc` fails with [`Error::PoolExhausted`] instead
/// of allocating more: memory use is fixed by configuration.
///
/// The pool is cheap to clone (clones share the buffers) and can be used
/// from several threads; its lock is held only to push or pop one buffer.
///
/// ```
/// use lamina_netbuf::{BufferPool, PacketBuf, Error};
///
/// let pool = BufferPool::new(2, 2048);
/// let a = pool.try_alloc()?;
/// let b = pool.try_alloc()?;
/// assert!(matches!(pool.try_alloc(), Err(Error::PoolExhausted { capacity: 2 })));
/// drop(a);
/// let mut pkt = PacketBuf::from_pool(pool.try_alloc()?, 128);
/// pkt.extend_from_slice(b"frame");
/// assert_eq!(pkt.headroom(), 128);
/// # drop(b);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct BufferPool {
    shared: Arc<Shared>,
}

struct Shared {
    buf_size: usize,
    capacity: usize,
    free: SpinLock<Vec<Box<[u8]>>>,
}

impl BufferPool {
    /// A pool of `count` buffers of `buf_size` bytes each, all allocated
    /// now.
    pub fn new(count: usize, buf_size: usize) -> BufferPool {
        let mut free = Vec::with_capacity(count);
        for _ in 0..count {
            free.push(vec![0u8; buf_size].into_boxed_slice());
        }
        BufferPool {
            shared: Arc::new(Shared {
                buf_size,
                capacity: count,
                free: SpinLock::new(free),
            }),
        }
    }

    /// Takes a buffer out of the pool, or fails if all are in use. Its
    /// content is whatever its previous user left.
    pub fn try_alloc(&self) -> Result<PoolBuf, Error> {
        match self.shared.free.with(|free| free.pop()) {
            Some(data) => Ok(PoolBuf {
                data: Some(data),
                pool: Arc::clone(&self.shared),
            }),
            None => Err(Error::PoolExhausted {
                capacity: self.shared.capacity,
            }),
        }
    }

    /// Buffers currently free.
    pub fn available(&self) -> usize {
        self.shared.free.with(|free| free.len())
    }

    /// Total number of buffers.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Size of each buffer in bytes.
    pub fn buf_size(&self) -> usize {
        self.shared.buf_size
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("buf_size", &self.buf_size())
            .field("capacity", &self.capacity())
            .field("available", &self.available())
            .finish()
    }
}

/// A buffer on loan from a [`BufferPool`]; it goes back to the pool when
/// dropped. Dereferences to its bytes (all `buf_size` of them).
pub struct PoolBuf {
    data: Option<Box<[u8]>>,
    pool: Arc<Shared>,
}

impl Deref for PoolBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data.as_deref().unwrap_or(&[])
    }
}

impl DerefMut for PoolBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.data.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            // The free list was created with capacity for every buffer, so
            // this push never reallocates.
            self.pool.free.with(|free| free.push(data));
        }
    }
}

impl fmt::Debug for PoolBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuf").field("len", &self.len()).finish()
    }
}

/// A minimal spin lock, so the pool works without `std` and without an OS.
/// Critical sections are a single `Vec` push or pop.
struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (see `with`), so
// sharing the lock between threads is sound whenever `T` may be sent
// between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        // SAFETY: we hold the lock (set `locked` with Acquire), so no other
        // reference to the value exists until we release it below.
        let r = f(unsafe { &mut *self.value.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_recycled() {
        let pool = BufferPool::new(3, 64);
        let bufs: Vec<_> = (0..3).map(|_| pool.try_alloc().unwrap()).collect();
        assert_eq!(pool.available(), 0);
        assert_eq!(
            pool.try_alloc().unwrap_err(),
            Error::PoolExhausted { capacity: 3 }
        );
        drop(bufs);
        assert_eq!(pool.available(), 3);
        let b = pool.try_alloc().unwrap();
        assert_eq!(b.len(), 64);
    }

    #[test]
    fn recycles_the_same_memory() {
        let pool = BufferPool::new(1, 32);
        let mut b = pool.try_alloc().unwrap();
        b[0] = 0xaa;
        let p = b.as_ptr();
        drop(b);
        let b = pool.try_alloc().unwrap();
        assert_eq!(b.as_ptr(), p);
        assert_eq!(b[0], 0xaa);
    }

    #[cfg(feature = "std")]
    #[test]
    fn usable_from_several_threads() {
        let pool = BufferPool::new(8, 16);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        if let Ok(mut b) = pool.try_alloc() {
                            b[0] = b[0].wrapping_add(1);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(pool.available(), 8);
    }
}
