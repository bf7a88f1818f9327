//! [`PacketBuf`]: an owned packet buffer with head room and tail room.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::Error;
use crate::pool::PoolBuf;

/// Where a [`PacketBuf`]'s bytes live.
enum Storage {
    Vec(Vec<u8>),
    Pool(PoolBuf),
    #[cfg(feature = "bytes")]
    BytesMut(bytes::BytesMut),
}

impl Storage {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Storage::Vec(v) => v,
            Storage::Pool(p) => p,
            #[cfg(feature = "bytes")]
            Storage::BytesMut(b) => b,
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Storage::Vec(v) => v,
            Storage::Pool(p) => p,
            #[cfg(feature = "bytes")]
            Storage::BytesMut(b) => b,
        }
    }
}

/// An owned packet buffer: the packet's bytes with head room before them
/// and tail room after them, like Linux's `sk_buff` data area.
///
/// Each layer on the way down [`push`](Self::push)es its header into the
/// head room and [`put`](Self::put)s any trailer into the tail room; each
/// layer on the way up [`pull`](Self::pull)s its header off the front and
/// [`trim`](Self::trim)s trailers (such as Ethernet padding) off the end.
/// None of these move the packet's bytes unless the room runs out, in which
/// case the buffer grows (one reallocation and copy, with room to spare).
///
/// The storage is a `Vec<u8>`, a slot of a [`BufferPool`](crate::BufferPool)
/// (returned to the pool when the buffer is dropped), or with the `bytes`
/// feature a `BytesMut`. Bytes in the head room and tail room are
/// unspecified: they may hold an earlier packet, so every layer writes every
/// byte of what it pushes or puts.
///
/// ```
/// use lamina_netbuf::PacketBuf;
///
/// let mut buf = PacketBuf::with_headroom(64, 1500);
/// buf.extend_from_slice(b"payload");
/// buf.push(4).copy_from_slice(b"HDR:");
/// assert_eq!(buf.as_slice(), b"HDR:payload");
/// assert_eq!(buf.headroom(), 60);
///
/// let hdr = buf.pull(4).unwrap();
/// assert_eq!(hdr, b"HDR:");
/// buf.trim(3).unwrap();
/// assert_eq!(buf.as_slice(), b"payl");
/// ```
pub struct PacketBuf {
    storage: Storage,
    head: usize,
    tail: usize,
}

impl PacketBuf {
    /// An empty buffer with `headroom` bytes of head room and `capacity`
    /// bytes of tail room, in one allocation.
    pub fn with_headroom(headroom: usize, capacity: usize) -> PacketBuf {
        PacketBuf {
            storage: Storage::Vec(vec![0; headroom.saturating_add(capacity)]),
            head: headroom,
            tail: headroom,
        }
    }

    /// A buffer holding `data` with no head or tail room. Does not copy.
    #[inline]
    pub fn from_vec(data: Vec<u8>) -> PacketBuf {
        let len = data.len();
        PacketBuf {
            storage: Storage::Vec(data),
            head: 0,
            tail: len,
        }
    }

    /// A buffer whose storage is `storage`, holding `storage[start..end]`
    /// as the packet: the bytes before `start` are head room, those after
    /// `end` tail room. Does not copy.
    ///
    /// Returns an error if `start..end` is not a range within `storage`.
    #[inline]
    pub fn from_vec_range(storage: Vec<u8>, start: usize, end: usize) -> Result<PacketBuf, Error> {
        if start > end || end > storage.len() {
            return Err(Error::BufferTooSmall {
                needed: end.max(start),
                available: storage.len(),
            });
        }
        Ok(PacketBuf {
            storage: Storage::Vec(storage),
            head: start,
            tail: end,
        })
    }

    /// An empty buffer in a pool slot, with `headroom` bytes of head room
    /// (clamped to the slot size); the rest of the slot is tail room.
    /// Does not allocate.
    pub fn from_pool(slot: PoolBuf, headroom: usize) -> PacketBuf {
        let head = headroom.min(slot.len());
        PacketBuf {
            storage: Storage::Pool(slot),
            head,
            tail: head,
        }
    }

    /// The packet's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    /// Whether the packet is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tail == self.head
    }

    /// Bytes available in front of the packet without growing.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.head
    }

    /// Bytes available after the packet without growing.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.storage.as_slice().len() - self.tail
    }

    /// Whether the storage is a pool slot (it becomes a `Vec` if the buffer
    /// has to grow).
    pub fn is_pooled(&self) -> bool {
        matches!(self.storage, Storage::Pool(_))
    }

    /// The packet's bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.storage.as_slice()[self.head..self.tail]
    }

    /// The packet's bytes, mutably.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let (h, t) = (self.head, self.tail);
        &mut self.storage.as_mut_slice()[h..t]
    }

    /// Prepends `n` bytes and returns them for the caller to fill. Grows the
    /// head room if needed. Their content is unspecified.
    #[inline]
    pub fn push(&mut self, n: usize) -> &mut [u8] {
        if self.head < n {
            self.grow(n - self.head, 0);
        }
        self.head -= n;
        let h = self.head;
        &mut self.storage.as_mut_slice()[h..h + n]
    }

    /// Removes `n` bytes from the front and returns them.
    #[inline]
    pub fn pull(&mut self, n: usize) -> Result<&mut [u8], Error> {
        if n > self.len() {
            return Err(Error::Underflow {
                requested: n,
                available: self.len(),
            });
        }
        let h = self.head;
        self.head += n;
        Ok(&mut self.storage.as_mut_slice()[h..h + n])
    }

    /// Appends `n` bytes and returns them for the caller to fill. Grows the
    /// tail room if needed. Their content is unspecified.
    #[inline]
    pub fn put(&mut self, n: usize) -> &mut [u8] {
        if self.tailroom() < n {
            self.grow(0, n - self.tailroom());
        }
        let t = self.tail;
        self.tail += n;
        &mut self.storage.as_mut_slice()[t..t + n]
    }

    /// Appends a copy of `data`.
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.put(data.len()).copy_from_slice(data);
    }

    /// Removes `n` bytes from the end.
    #[inline]
    pub fn trim(&mut self, n: usize) -> Result<(), Error> {
        if n > self.len() {
            return Err(Error::Underflow {
                requested: n,
                available: self.len(),
            });
        }
        self.tail -= n;
        Ok(())
    }

    /// Shortens the packet to `len` bytes (no effect if it is not longer),
    /// for example to drop Ethernet padding after an IPv4 total length.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.tail = self.head + len;
        }
    }

    /// Empties the buffer and places the (empty) packet `headroom` bytes
    /// into the storage, for reuse. Grows if the storage is smaller.
    pub fn reset(&mut self, headroom: usize) {
        let cap = self.storage.as_slice().len();
        if headroom > cap {
            self.head = cap;
            self.tail = cap;
            self.grow(0, headroom - cap);
        }
        self.head = headroom;
        self.tail = headroom;
    }

    /// Ensures at least `n` bytes of head room.
    pub fn reserve_headroom(&mut self, n: usize) {
        if self.head < n {
            self.grow(n - self.head, 0);
        }
    }

    /// Ensures at least `n` bytes of tail room.
    pub fn reserve_tailroom(&mut self, n: usize) {
        if self.tailroom() < n {
            self.grow(0, n - self.tailroom());
        }
    }

    /// Moves the packet into a new `Vec` storage with at least `front` more
    /// bytes of head room and `back` more bytes of tail room, doubling so
    /// that repeated growth is amortised.
    #[cold]
    fn grow(&mut self, front: usize, back: usize) {
        let len = self.len();
        let new_head = self.head + front + if front > 0 { self.head.max(32) } else { 0 };
        let tailroom = self.tailroom() + back + if back > 0 { len.max(64) } else { 0 };
        let mut v = vec![0u8; new_head + len + tailroom];
        v[new_head..new_head + len].copy_from_slice(self.as_slice());
        self.storage = Storage::Vec(v);
        self.head = new_head;
        self.tail = new_head + len;
    }

    /// The packet's bytes as a `Vec`. Does not copy when the storage is a
    /// `Vec` with no head room; otherwise copies once.
    pub fn into_vec(self) -> Vec<u8> {
        let (head, tail) = (self.head, self.tail);
        match self.storage {
            Storage::Vec(mut v) if head == 0 => {
                v.truncate(tail);
                v
            }
            storage => storage.as_slice()[head..tail].to_vec(),
        }
    }
}

#[cfg(feature = "bytes")]
impl PacketBuf {
    /// The packet as immutable `Bytes`. Does not copy for `Vec` and
    /// `BytesMut` storage (the head and tail room are released with it);
    /// copies once for a pool slot, which goes back to its pool.
    pub fn freeze(self) -> bytes::Bytes {
        let (head, tail) = (self.head, self.tail);
        match self.storage {
            Storage::Vec(v) => bytes::Bytes::from(v).slice(head..tail),
            Storage::BytesMut(mut b) => {
                b.truncate(tail);
                let _ = b.split_to(head);
                b.freeze()
            }
            Storage::Pool(p) => bytes::Bytes::copy_from_slice(&p[head..tail]),
        }
    }
}

#[cfg(feature = "bytes")]
impl From<bytes::BytesMut> for PacketBuf {
    /// Wraps the `BytesMut` without copying; its bytes are the packet.
    fn from(b: bytes::BytesMut) -> PacketBuf {
        let len = b.len();
        PacketBuf {
            storage: Storage::BytesMut(b),
            head: 0,
            tail: len,
        }
    }
}

#[cfg(feature = "bytes")]
impl From<bytes::Bytes> for PacketBuf {
    /// Takes the `Bytes` over without copying when it is the only reference
    /// to its storage; copies once otherwise.
    fn from(b: bytes::Bytes) -> PacketBuf {
        match b.try_into_mut() {
            Ok(m) => PacketBuf::from(m),
            Err(shared) => PacketBuf::from_vec(shared.to_vec()),
        }
    }
}

impl From<Vec<u8>> for PacketBuf {
    fn from(v: Vec<u8>) -> PacketBuf {
        PacketBuf::from_vec(v)
    }
}

impl From<&[u8]> for PacketBuf {
    fn from(data: &[u8]) -> PacketBuf {
        PacketBuf::from_vec(data.to_vec())
    }
}

impl AsRef<[u8]> for PacketBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsMut<[u8]> for PacketBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl Clone for PacketBuf {
    /// Copies the packet with the same head and tail room into a `Vec`
    /// storage.
    fn clone(&self) -> PacketBuf {
        let mut b = PacketBuf::with_headroom(self.headroom(), self.len() + self.tailroom());
        b.extend_from_slice(self.as_slice());
        b
    }
}

impl PartialEq for PacketBuf {
    fn eq(&self, other: &PacketBuf) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for PacketBuf {}

impl fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketBuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .field("pooled", &self.is_pooled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_trim_keep_bytes_in_place() {
        let mut b = PacketBuf::with_headroom(16, 32);
        b.extend_from_slice(&[1, 2, 3]);
        b.push(2).copy_from_slice(&[9, 9]);
        b.put(1)[0] = 7;
        assert_eq!(b.as_slice(), &[9, 9, 1, 2, 3, 7]);
        assert_eq!((b.headroom(), b.tailroom()), (14, 28));
        assert_eq!(b.pull(2).unwrap(), &[9, 9]);
        b.trim(1).unwrap();
        assert_eq!(b.as_slice(), &[1, 2, 3]);
        assert_eq!(
            b.pull(4),
            Err(Error::Underflow {
                requested: 4,
                available: 3
            })
            .map(|x: &mut [u8]| x)
        );
        assert!(b.trim(4).is_err());
    }

    #[test]
    fn grows_on_demand_and_keeps_content() {
        let mut b = PacketBuf::from_vec(alloc::vec![5; 10]);
        assert_eq!((b.headroom(), b.tailroom()), (0, 0));
        b.push(20).fill(1);
        b.put(100).fill(2);
        assert_eq!(b.len(), 130);
        assert_eq!(&b.as_slice()[..20], &[1; 20]);
        assert_eq!(&b.as_slice()[20..30], &[5; 10]);
        assert_eq!(&b.as_slice()[30..], &[2; 100][..]);
        b.reserve_headroom(500);
        assert!(b.headroom() >= 500);
        b.reserve_tailroom(700);
        assert!(b.tailroom() >= 700);
        assert_eq!(b.len(), 130);
    }

    #[test]
    fn truncate_drops_trailing_padding() {
        let mut b = PacketBuf::from_vec(alloc::vec![0; 60]);
        b.truncate(42);
        assert_eq!(b.len(), 42);
        b.truncate(100);
        assert_eq!(b.len(), 42);
    }

    #[test]
    fn from_vec_range_validates() {
        let b = PacketBuf::from_vec_range(alloc::vec![0; 10], 2, 8).unwrap();
        assert_eq!((b.headroom(), b.len(), b.tailroom()), (2, 6, 2));
        assert!(PacketBuf::from_vec_range(alloc::vec![0; 10], 8, 2).is_err());
        assert!(PacketBuf::from_vec_range(alloc::vec![0; 10], 0, 11).is_err());
    }

    #[test]
    fn into_vec_avoids_copy_without_headroom() {
        let v = alloc::vec![1, 2, 3, 4];
        let ptr = v.as_ptr();
        let mut b = PacketBuf::from_vec(v);
        b.trim(1).unwrap();
        let out = b.into_vec();
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(out.as_ptr(), ptr);
    }

    #[test]
    fn reset_reuses_storage() {
        let mut b = PacketBuf::with_headroom(0, 100);
        b.extend_from_slice(&[1; 50]);
        b.reset(40);
        assert_eq!((b.len(), b.headroom(), b.tailroom()), (0, 40, 60));
        b.reset(300);
        assert_eq!(b.headroom(), 300);
    }

    #[cfg(feature = "bytes")]
    #[test]
    fn bytes_round_trip_without_copy() {
        let mut m = bytes::BytesMut::with_capacity(64);
        m.extend_from_slice(b"hello world");
        let ptr = m.as_ptr();
        let mut b = PacketBuf::from(m);
        b.pull(6).unwrap();
        let frozen = b.freeze();
        assert_eq!(&frozen[..], b"world");
        assert_eq!(frozen.as_ptr(), ptr.wrapping_add(6));

        let unique = bytes::Bytes::from(alloc::vec![1u8, 2, 3]);
        let p = unique.as_ptr();
        let b = PacketBuf::from(unique);
        assert_eq!(b.as_slice().as_ptr(), p);

        let v = PacketBuf::with_headroom(8, 8);
        let mut v = v;
        v.extend_from_slice(b"abc");
        assert_eq!(&v.freeze()[..], b"abc");
    }
}
