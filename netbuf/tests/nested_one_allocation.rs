//! Nested serialization builds a three-layer packet in exactly one
//! allocation, with the bytes a hand-assembled frame has: a payload in a toy
//! transport layer (ports, length, checksum over header and body), in a toy
//! network layer (version, total length, header checksum), in a toy link
//! layer (addresses, type, a 46-byte minimum body padded with zeros, and a
//! 4-byte trailer).
//!
//! A counting global allocator records the allocations the current thread
//! makes while a measurement is running, so tests running in parallel on
//! other threads do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lamina_netbuf::PacketBuf;
use lamina_netbuf::checksum::{self, Checksum};
use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};

// ------------------------------------------------------- counting allocator

thread_local! {
    /// Whether this thread is measuring, and how many allocations it made.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts this thread's allocations (including reallocations) while
/// `COUNTING` is set; otherwise exactly `System`.
struct CountingAllocator;

impl CountingAllocator {
    fn record() {
        // `try_with`: the thread-locals may already be gone while a thread
        // exits; those allocations are not ours to count. The cells are
        // const-initialised and need no allocation themselves.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counting touches only
// thread-local integers and never the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::record();
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract for
        // `layout`, which is what `System.alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::record();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::record();
        // SAFETY: `ptr` was allocated by this allocator, that is by
        // `System`, with `layout`; our caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with
        // `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the number of allocations this
/// thread made during it.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.with(Cell::get))
}

// ------------------------------------------------------------ toy layers

/// Transport-like: source port, destination port, length of header and
/// body, and a checksum over header and body.
struct ToyL4 {
    sport: u16,
    dport: u16,
}

impl PacketBuilder for ToyL4 {
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(8, 0, 0, usize::from(u16::MAX) - 8)
    }

    fn serialize(&self, t: SerializeTarget<'_>) {
        let len = (8 + t.body.len()) as u16;
        t.header[0..2].copy_from_slice(&self.sport.to_be_bytes());
        t.header[2..4].copy_from_slice(&self.dport.to_be_bytes());
        t.header[4..6].copy_from_slice(&len.to_be_bytes());
        t.header[6..8].fill(0);
        let mut sum = Checksum::new();
        sum.add_bytes(t.header);
        sum.add_bytes(t.body);
        t.header[6..8].copy_from_slice(&sum.finish().to_be_bytes());
    }
}

/// Network-like: version, hop limit, total length, a checksum over the
/// header alone, source and destination.
struct ToyL3 {
    hops: u8,
    src: [u8; 2],
    dst: [u8; 2],
}

const L3_VERSION: u8 = 0x4a;

impl PacketBuilder for ToyL3 {
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(10, 0, 0, usize::from(u16::MAX) - 10)
    }

    fn serialize(&self, t: SerializeTarget<'_>) {
        let total = (10 + t.body.len()) as u16;
        t.header[0] = L3_VERSION;
        t.header[1] = self.hops;
        t.header[2..4].copy_from_slice(&total.to_be_bytes());
        t.header[4..6].fill(0);
        t.header[6..8].copy_from_slice(&self.src);
        t.header[8..10].copy_from_slice(&self.dst);
        let c = checksum::checksum(t.header);
        t.header[4..6].copy_from_slice(&c.to_be_bytes());
    }
}

/// Link-like: destination, source, type; bodies shorter than 46 bytes are
/// padded with zeros; a 4-byte trailer of a marker and a checksum over
/// header and (padded) body.
struct ToyL2 {
    dst: [u8; 6],
    src: [u8; 6],
    ty: u16,
}

const L2_MIN_BODY: usize = 46;
const L2_TRAILER_MARK: [u8; 2] = [0xfc, 0x5e];

impl PacketBuilder for ToyL2 {
    fn constraints(&self) -> PacketConstraints {
        PacketConstraints::new(14, 4, L2_MIN_BODY, 1500)
    }

    fn serialize(&self, t: SerializeTarget<'_>) {
        t.header[0..6].copy_from_slice(&self.dst);
        t.header[6..12].copy_from_slice(&self.src);
        t.header[12..14].copy_from_slice(&self.ty.to_be_bytes());
        let mut sum = Checksum::new();
        sum.add_bytes(t.header);
        sum.add_bytes(t.body);
        t.footer[0..2].copy_from_slice(&L2_TRAILER_MARK);
        t.footer[2..4].copy_from_slice(&sum.finish().to_be_bytes());
    }
}

const L4: ToyL4 = ToyL4 {
    sport: 0xbeef,
    dport: 7,
};
const L3: ToyL3 = ToyL3 {
    hops: 9,
    src: [10, 1],
    dst: [10, 2],
};
const L2: ToyL2 = ToyL2 {
    dst: [0x02, 0, 0, 0, 0, 0xbb],
    src: [0x02, 0, 0, 0, 0, 0xaa],
    ty: 0x88b5,
};

// ------------------------------------------- the frame, assembled by hand

/// RFC 1071 written out independently of the library: big-endian 16-bit
/// words, an odd last byte padded with zero, end-around carry, complement.
fn rfc1071(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).map_or(0, |&b| u32::from(b));
        sum += hi | lo;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The frame, assembled field by field in order, with each checksum
/// patched in once the bytes it covers are final.
fn hand_assembled(payload: &[u8]) -> Vec<u8> {
    // L4.
    let mut l4 = Vec::new();
    l4.extend_from_slice(&L4.sport.to_be_bytes());
    l4.extend_from_slice(&L4.dport.to_be_bytes());
    l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    let c = rfc1071(&l4);
    l4[6..8].copy_from_slice(&c.to_be_bytes());

    // L3.
    let mut l3 = vec![L3_VERSION, L3.hops];
    l3.extend_from_slice(&((10 + l4.len()) as u16).to_be_bytes());
    l3.extend_from_slice(&[0, 0]);
    l3.extend_from_slice(&L3.src);
    l3.extend_from_slice(&L3.dst);
    let c = rfc1071(&l3);
    l3[4..6].copy_from_slice(&c.to_be_bytes());
    l3.extend_from_slice(&l4);

    // L2: header, body padded to the minimum, trailer.
    let mut l2 = Vec::new();
    l2.extend_from_slice(&L2.dst);
    l2.extend_from_slice(&L2.src);
    l2.extend_from_slice(&L2.ty.to_be_bytes());
    l2.extend_from_slice(&l3);
    while l2.len() < 14 + L2_MIN_BODY {
        l2.push(0);
    }
    let c = rfc1071(&l2);
    l2.extend_from_slice(&L2_TRAILER_MARK);
    l2.extend_from_slice(&c.to_be_bytes());
    l2
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 37 + 11) as u8).collect()
}

// ------------------------------------------------------------------ tests

#[test]
fn three_nested_layers_serialize_in_exactly_one_allocation() {
    let data = payload(300);
    let (frame, allocations) = count_allocations(|| {
        data.as_slice()
            .wrap_in(L4)
            .wrap_in(L3)
            .wrap_in(L2)
            .serialize_vec(0)
    });
    let frame = frame.expect("a 336-byte frame fits every layer");
    assert_eq!(allocations, 1, "one buffer for the whole frame");
    assert_eq!(frame.len(), 14 + 10 + 8 + 300 + 4);
    assert_eq!(frame.as_slice(), hand_assembled(&data).as_slice());
}

#[test]
fn headroom_is_reserved_in_the_same_single_allocation() {
    let data = payload(100);
    let (frame, allocations) = count_allocations(|| {
        data.as_slice()
            .wrap_in(L4)
            .wrap_in(L3)
            .wrap_in(L2)
            .serialize_vec(64)
    });
    let frame = frame.expect("fits");
    assert_eq!(allocations, 1);
    assert_eq!(frame.headroom(), 64);
    assert_eq!(frame.as_slice(), hand_assembled(&data).as_slice());
}

#[test]
fn short_payload_is_padded_with_zeros_to_the_link_minimum() {
    // 5 + 8 + 10 = 23 bytes of L3 packet: 23 bytes of padding to reach 46.
    let data = payload(5);
    let (frame, allocations) = count_allocations(|| {
        data.as_slice()
            .wrap_in(L4)
            .wrap_in(L3)
            .wrap_in(L2)
            .serialize_vec(0)
    });
    let frame = frame.expect("fits");
    assert_eq!(allocations, 1);
    assert_eq!(frame.len(), 14 + L2_MIN_BODY + 4);
    let want = hand_assembled(&data);
    assert_eq!(frame.as_slice(), want.as_slice());
    assert!(
        frame.as_slice()[14 + 23..14 + L2_MIN_BODY]
            .iter()
            .all(|&b| b == 0)
    );
    // The inner checksums cover only their own lengths, not the padding.
    assert_eq!(checksum::checksum(&frame.as_slice()[14..24]), 0);
    assert_eq!(checksum::checksum(&frame.as_slice()[24..37]), 0);
}

#[test]
fn an_empty_payload_is_padded_too() {
    let (frame, allocations) = count_allocations(|| {
        [].as_slice()
            .wrap_in(L4)
            .wrap_in(L3)
            .wrap_in(L2)
            .serialize_vec(0)
    });
    assert_eq!(allocations, 1);
    assert_eq!(
        frame.expect("fits").as_slice(),
        hand_assembled(&[]).as_slice()
    );
}

#[test]
fn padding_is_zeroed_when_a_dirty_buffer_is_reused() {
    // A buffer that held something else: every byte 0xff.
    let mut buf = PacketBuf::with_headroom(0, 256);
    buf.put(256).fill(0xff);
    for len in [0, 1, 5, 27, 28, 29, 100] {
        let data = payload(len);
        let (result, allocations) = count_allocations(|| {
            data.as_slice()
                .wrap_in(L4)
                .wrap_in(L3)
                .wrap_in(L2)
                .serialize_to_buf(&mut buf, 16)
        });
        result.expect("fits");
        assert_eq!(allocations, 0, "the reused buffer is big enough");
        assert_eq!(buf.headroom(), 16);
        assert_eq!(
            buf.as_slice(),
            hand_assembled(&data).as_slice(),
            "payload {len}"
        );
        // Dirty the storage again for the next round.
        buf.reset(0);
        buf.put(256).fill(0xff);
    }
}

#[test]
fn serialize_into_a_dirty_slice_writes_every_byte() {
    let data = payload(3);
    let want = hand_assembled(&data);
    let mut out = [0xffu8; 128];
    let (n, allocations) = count_allocations(|| {
        data.as_slice()
            .wrap_in(L4)
            .wrap_in(L3)
            .wrap_in(L2)
            .serialize_into(&mut out)
    });
    assert_eq!(allocations, 0);
    assert_eq!(n, Ok(want.len()));
    assert_eq!(&out[..want.len()], want.as_slice());
    assert!(
        out[want.len()..].iter().all(|&b| b == 0xff),
        "nothing written past the frame"
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the guard: a counter that never counts would pass the tests
    // above.
    let (v, allocations) = count_allocations(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(v.len(), 10);
    assert_eq!(allocations, 1);
}
