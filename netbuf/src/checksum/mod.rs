//! The Internet checksum (RFC 1071), its IPv4 pseudo-header, and incremental
//! update (RFC 1624).
//!
//! One routine serves every protocol in Lamina. It runs over every byte sent
//! and received, so it is vectorised: on x86-64 it uses AVX-512 (F and BW)
//! or AVX2 when the CPU has them (detected at run time with the `std`
//! feature, or chosen at compile time with `-C target-feature=+avx2` and
//! the like), SSE2 otherwise, and a portable scalar loop on other targets
//! and on x86-64 builds without SSE; inputs under 128 bytes (headers, short
//! payloads) take a plain loop over 64-bit words, cheaper there than any
//! vector kernel's set-up. [`copy_with_sum`] copies and sums in
//! the same pass (AVX-512 and AVX2; a copy then a sum elsewhere and below
//! 256 bytes), for the copies a stack makes into and out of frames anyway.
//! Every path gives bit-identical
//! results; the tests check each one against a naive reference on random
//! inputs, lengths and alignments.
//!
//! ```
//! use lamina_netbuf::checksum::{self, Checksum};
//!
//! // An IPv4 header with its checksum field zeroed...
//! let mut hdr = [
//!     0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
//!     0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
//! ];
//! let c = checksum::checksum(&hdr);
//! assert_eq!(c, 0xb861);
//! hdr[10..12].copy_from_slice(&c.to_be_bytes());
//! // ...verifies to zero once the checksum is in place.
//! assert_eq!(checksum::checksum(&hdr), 0);
//!
//! // Decrementing the TTL updates the checksum without re-summing.
//! let old = u16::from_be_bytes([hdr[8], hdr[9]]);
//! hdr[8] -= 1;
//! let new = u16::from_be_bytes([hdr[8], hdr[9]]);
//! let c2 = checksum::update_u16(c, old, new);
//! hdr[10..12].copy_from_slice(&c2.to_be_bytes());
//! assert_eq!(checksum::checksum(&hdr), 0);
//!
//! // Sums can be built up piecewise, across odd-length pieces.
//! let mut sum = Checksum::new();
//! sum.add_bytes(&hdr[..5]);
//! sum.add_bytes(&hdr[5..]);
//! assert_eq!(sum.finish(), 0);
//! ```

use core::net::Ipv4Addr;

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

/// A running one's-complement sum over a byte stream that may arrive in
/// pieces of any length.
///
/// Add bytes and fields in stream order, then call [`finish`](Self::finish)
/// for the checksum to put on the wire, or [`sum`](Self::sum) for the folded
/// sum itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Unfolded sum of big-endian 16-bit words.
    acc: u64,
    /// Whether an odd number of bytes has been added so far.
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Checksum {
        Checksum { acc: 0, odd: false }
    }

    /// Adds `data` to the sum, continuing from wherever the previous bytes
    /// ended (even or odd offset).
    #[inline(always)]
    pub fn add_bytes(&mut self, data: &[u8]) {
        let s = u64::from(ones_complement_sum(data));
        self.acc += if self.odd {
            u64::from((s as u16).swap_bytes())
        } else {
            s
        };
        self.odd ^= data.len() % 2 == 1;
    }

    /// Copies `src` into `dst` and adds the bytes copied to the sum, as
    /// [`add_bytes`](Self::add_bytes) of them would, reading them once
    /// ([`copy_with_sum`]). Copies `min(dst.len(), src.len())` bytes.
    ///
    /// ```
    /// use lamina_netbuf::checksum::Checksum;
    ///
    /// let (a, b) = (b"odd", b"and even");
    /// let mut out = [0u8; 11];
    /// let (x, y) = out.split_at_mut(3);
    /// let mut sum = Checksum::new();
    /// sum.add_copy(x, a);
    /// sum.add_copy(y, b);
    /// assert_eq!(&out, b"oddand even");
    /// let mut whole = Checksum::new();
    /// whole.add_bytes(b"oddand even");
    /// assert_eq!(sum.finish(), whole.finish());
    /// ```
    #[inline]
    pub fn add_copy(&mut self, dst: &mut [u8], src: &[u8]) {
        let n = dst.len().min(src.len());
        let s = u64::from(copy_with_sum(dst, src));
        self.acc += if self.odd {
            u64::from((s as u16).swap_bytes())
        } else {
            s
        };
        self.odd ^= n % 2 == 1;
    }

    /// Adds a 16-bit field in network byte order.
    #[inline]
    pub fn add_u16(&mut self, v: u16) {
        if self.odd {
            self.add_bytes(&v.to_be_bytes());
        } else {
            self.acc += u64::from(v);
        }
    }

    /// Adds a 32-bit field in network byte order.
    #[inline]
    pub fn add_u32(&mut self, v: u32) {
        if self.odd {
            self.add_bytes(&v.to_be_bytes());
        } else {
            // Whole: the accumulator is folded with end-around carries at
            // 32 and 16 bits, so a 32-bit word counts as its two 16-bit
            // halves (and the optimiser has no halves to gather into
            // vectors, a chain of shuffles longer than the adds).
            self.acc += u64::from(v);
        }
    }

    /// Adds another sum computed over the bytes that follow this one's.
    #[inline]
    pub fn add_checksum(&mut self, other: Checksum) {
        let s = fold(other.acc);
        self.acc += u64::from(if self.odd { s.swap_bytes() } else { s });
        self.odd ^= other.odd;
    }

    /// The folded one's-complement sum (not complemented).
    #[inline]
    pub fn sum(self) -> u16 {
        fold(self.acc)
    }

    /// The checksum: the complement of the folded sum. Over data that
    /// includes a correct checksum field, this is zero.
    #[inline]
    pub fn finish(self) -> u16 {
        !self.sum()
    }
}

/// Folds a wide one's-complement accumulator to 16 bits with end-around
/// carry.
///
/// Each step adds the two halves and the carry out of that addition, which
/// cannot overflow again (the halves' sum is at most `2 * (2^n - 1)`, so
/// with a carry its low half is at most `2^n - 2`). Only zero folds to
/// zero.
#[inline]
pub(crate) const fn fold(acc: u64) -> u16 {
    let (s, carry) = (acc as u32).overflowing_add((acc >> 32) as u32);
    let acc = s + carry as u32;
    let (s, carry) = (acc as u16).overflowing_add((acc >> 16) as u16);
    s + carry as u16
}

/// The folded one's-complement sum of `data` taken as big-endian 16-bit
/// words, an odd final byte padded with zero (RFC 1071). Not complemented.
#[inline]
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    // The sum is computed over native-endian words; one's-complement
    // addition commutes with byte swapping (RFC 1071 §2(B)), so converting
    // the folded result gives the big-endian sum.
    u16::from_be(fold(native_sum(data)))
}

/// Copies `src` into `dst` and returns the folded one's-complement sum of
/// the bytes copied, as [`ones_complement_sum`] gives it, reading them
/// once: the copy into (or out of) a frame and its checksum in one pass.
/// Copies `min(dst.len(), src.len())` bytes, the first of each.
///
/// ```
/// use lamina_netbuf::checksum::{copy_with_sum, ones_complement_sum};
///
/// let payload: Vec<u8> = (0..1473u32).map(|i| (i * 7) as u8).collect();
/// let mut frame = vec![0u8; payload.len()];
/// let sum = copy_with_sum(&mut frame, &payload);
/// assert_eq!(frame, payload);
/// assert_eq!(sum, ones_complement_sum(&payload));
/// ```
#[inline(always)]
pub fn copy_with_sum(dst: &mut [u8], src: &[u8]) -> u16 {
    let n = dst.len().min(src.len());
    let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) else {
        return 0;
    };
    // A short copy and its sum inline (a few moves and adds); the
    // one-pass kernels from `COPY_MIN` bytes, out of line.
    if n < COPY_MIN {
        d.copy_from_slice(s);
        return ones_complement_sum(s);
    }
    copy_with_sum_long(d, s)
}

/// Below this many bytes [`copy_with_sum`] copies and then sums: cheaper
/// than the one-pass kernels' set-up (masks, horizontal sums).
const COPY_MIN: usize = 256;

/// [`copy_with_sum`] of `src` into `dst` (as long), through the one-pass
/// kernels.
#[inline(never)]
fn copy_with_sum_long(dst: &mut [u8], src: &[u8]) -> u16 {
    u16::from_be(fold(native_copy_sum(dst, src)))
}

/// The one's complement sum of a 20-byte header (an IPv4 header without
/// options, a TCP header without options), as [`ones_complement_sum`]
/// gives it, summed as five 32-bit words in registers: no loop, no
/// dispatch. Longer or shorter input is summed by
/// [`ones_complement_sum`] (so the result is the same for any input).
///
/// ```
/// use lamina_netbuf::checksum::{header20, ones_complement_sum};
///
/// let h = [0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
/// assert_eq!(header20(&h), ones_complement_sum(&h));
/// ```
#[inline(always)]
pub fn header20(data: &[u8]) -> u16 {
    match <&[u8; 20]>::try_from(data) {
        Ok(h) => {
            let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
            u16::from_be(fold(w(0) + w(4) + w(8) + w(12) + w(16)))
        }
        Err(_) => ones_complement_sum(data),
    }
}

/// The Internet checksum of `data`: the complement of its one's-complement
/// sum. Zero when `data` contains a correct checksum field.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !ones_complement_sum(data)
}

/// The sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768) for a
/// transport segment of `length` bytes, ready to have the segment added.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_netbuf::checksum::ipv4_pseudo_header;
///
/// let udp = [0x30, 0x39, 0x00, 0x35, 0x00, 0x0a, 0x00, 0x00, 0x68, 0x69];
/// let mut sum = ipv4_pseudo_header(
///     Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2), 17, udp.len() as u16);
/// sum.add_bytes(&udp);
/// let c = sum.finish();
/// assert_ne!(c, 0);
/// ```
#[inline]
pub fn ipv4_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> Checksum {
    let mut c = Checksum::new();
    c.add_u32(src.to_bits());
    c.add_u32(dst.to_bits());
    c.add_u16(u16::from(protocol));
    c.add_u16(length);
    c
}

/// Updates a checksum for one 16-bit field changing from `old` to `new`,
/// without re-summing the data (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// `checksum` and the result are the values as stored in the header. The
/// field must lie at an even offset from the start of the checksummed data.
///
/// One's-complement arithmetic has two zeros: where the updated data sum
/// to zero this gives `0x0000`, which is right unless every byte covered
/// (checksum field aside) is zero, in which case a full recomputation
/// gives `0xffff` and only that verifies. Callers that can produce
/// all-zero data (an ICMP echo reply with zero identifier, sequence and
/// data) must handle that case.
#[inline]
pub const fn update_u16(checksum: u16, old: u16, new: u16) -> u16 {
    let acc = (!checksum) as u64 + (!old) as u64 + new as u64;
    !fold(acc)
}

/// Updates a checksum for a 32-bit field (an address, a sequence number)
/// changing from `old` to `new`. See [`update_u16`].
#[inline]
pub const fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let acc = (!checksum) as u64
        + (!(old >> 16) & 0xffff) as u64
        + (!old & 0xffff) as u64
        + (new >> 16) as u64
        + (new & 0xffff) as u64;
    !fold(acc)
}

/// Updates a checksum for a run of bytes changing from `old` to `new` (the
/// same length, at an even offset). See [`update_u16`].
///
/// Returns `None` if the lengths differ.
#[inline]
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> Option<u16> {
    if old.len() != new.len() {
        return None;
    }
    let acc = u64::from(!checksum)
        + u64::from(!ones_complement_sum(old))
        + u64::from(ones_complement_sum(new));
    Some(!fold(acc))
}

/// Unfolded sum of `data` as native-endian 16-bit words (odd byte padded),
/// through the fastest available kernel.
#[inline]
fn native_sum(data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        x86::native_sum(data)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        scalar::native_sum(data)
    }
}

/// As [`native_sum`] of `src`, copying it into `dst` (as long) on the
/// way.
#[inline]
fn native_copy_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        x86::native_copy_sum(dst, src)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dst.copy_from_slice(src);
        scalar::native_sum(src)
    }
}

/// The individual kernels, exposed for tests and benchmarks that compare
/// them. Each returns the same folded big-endian sum as
/// [`ones_complement_sum`].
#[doc(hidden)]
pub mod kernels {
    /// The portable scalar kernel.
    pub fn scalar(data: &[u8]) -> u16 {
        u16::from_be(super::fold(super::scalar::native_sum(data)))
    }

    /// The SSE2 kernel (x86-64 baseline; the scalar kernel in builds
    /// without SSE).
    #[cfg(target_arch = "x86_64")]
    pub fn sse2(data: &[u8]) -> u16 {
        u16::from_be(super::fold(super::x86::sse2_sum(data)))
    }

    /// The AVX2 kernel, or `None` when the CPU lacks AVX2.
    #[cfg(target_arch = "x86_64")]
    pub fn avx2(data: &[u8]) -> Option<u16> {
        super::x86::avx2_sum(data).map(|s| u16::from_be(super::fold(s)))
    }

    /// The AVX-512 (F + BW) kernel, or `None` when the CPU lacks it.
    #[cfg(target_arch = "x86_64")]
    pub fn avx512(data: &[u8]) -> Option<u16> {
        super::x86::avx512_sum(data).map(|s| u16::from_be(super::fold(s)))
    }

    /// The AVX2 copying kernel (`src` into `dst`, as long), or `None`
    /// when the CPU lacks AVX2.
    #[cfg(target_arch = "x86_64")]
    pub fn avx2_copy(dst: &mut [u8], src: &[u8]) -> Option<u16> {
        if dst.len() != src.len() {
            return None;
        }
        super::x86::avx2_copy_sum(dst, src).map(|s| u16::from_be(super::fold(s)))
    }

    /// The AVX-512 copying kernel (`src` into `dst`, as long), or `None`
    /// when the CPU lacks AVX-512 F and BW.
    #[cfg(target_arch = "x86_64")]
    pub fn avx512_copy(dst: &mut [u8], src: &[u8]) -> Option<u16> {
        if dst.len() != src.len() {
            return None;
        }
        super::x86::avx512_copy_sum(dst, src).map(|s| u16::from_be(super::fold(s)))
    }

    /// A deliberately naive reference: big-endian words summed one at a
    /// time with end-around carry, exactly as RFC 1071 describes.
    pub fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            sum += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
            sum = (sum & 0xffff) + (sum >> 16);
            i += 2;
        }
        if i < data.len() {
            sum += u32::from(data[i]) << 8;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }
}

#[cfg(test)]
mod tests;
