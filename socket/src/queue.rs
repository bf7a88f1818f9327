//! A FIFO bounded in packets and in bytes.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Something whose payload size counts against a byte limit.
pub(crate) trait Sized2 {
    fn size(&self) -> usize;
}

/// A FIFO holding at most `max_packets` items and `max_bytes` payload
/// bytes; a push that would exceed either is refused (tail drop).
#[derive(Debug, Clone)]
pub(crate) struct Bounded<T> {
    items: VecDeque<T>,
    bytes: usize,
    max_packets: usize,
    max_bytes: usize,
}

impl<T: Sized2> Bounded<T> {
    pub(crate) fn new(max_packets: usize, max_bytes: usize) -> Bounded<T> {
        Bounded {
            items: VecDeque::new(),
            bytes: 0,
            max_packets,
            max_bytes,
        }
    }

    /// Whether an item of `size` bytes would be accepted now.
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.items.len() < self.max_packets && self.bytes.saturating_add(size) <= self.max_bytes
    }

    /// Whether an item of `size` bytes could ever be accepted.
    pub(crate) fn fits(&self, size: usize) -> bool {
        self.max_packets > 0 && size <= self.max_bytes
    }

    pub(crate) fn push(&mut self, item: T) -> Result<(), T> {
        if !self.has_room(item.size()) {
            return Err(item);
        }
        self.bytes += item.size();
        self.items.push_back(item);
        Ok(())
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front()?;
        self.bytes -= item.size();
        Some(item)
    }

    pub(crate) fn peek(&self) -> Option<&T> {
        self.items.front()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Payload buffers kept for reuse (at most [`SPARE_BUFFERS`] of at most
/// [`SPARE_CAPACITY`] bytes), so that a steady flow of datagrams through
/// a socket allocates nothing once warm.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spares {
    bufs: Vec<Vec<u8>>,
}

/// Payload buffers a socket keeps for reuse.
pub(crate) const SPARE_BUFFERS: usize = 32;
/// The largest buffer a socket keeps for reuse (a full Ethernet frame's
/// payload, rounded up).
pub(crate) const SPARE_CAPACITY: usize = 2048;

impl Spares {
    /// A buffer holding a copy of `data`, reused if one is spare.
    pub(crate) fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        match self.bufs.pop() {
            Some(mut v) if data.len() <= v.capacity() => {
                v.clear();
                v.extend_from_slice(data);
                v
            }
            _ => data.to_vec(),
        }
    }

    /// Keeps `v` for reuse if there is room.
    pub(crate) fn recycle(&mut self, v: Vec<u8>) {
        if self.bufs.len() < SPARE_BUFFERS && v.capacity() <= SPARE_CAPACITY {
            self.bufs.push(v);
        }
    }
}
