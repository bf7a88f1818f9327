//! The portable kernel: 32-bit words accumulated into 64-bit sums.
//!
//! Summing 32-bit words instead of 16-bit ones is equivalent modulo 0xffff
//! (2^16 ≡ 1), and halves the number of additions. A 64-bit accumulator
//! takes 2^32 such additions before it can overflow; the long-input loop
//! folds its accumulators into the total every [`BLOCK_CHUNKS`] chunks, far
//! below that, so no slice is too long.

/// Below this length the plain word loop beats the unrolled one (whose
/// set-up costs more than it saves on a few words).
const UNROLL_MIN: usize = 64;

/// 16-byte chunks per block of the unrolled loop: each of its four
/// accumulators then takes `2^20` additions (16 MiB per block) of values below `2^32`.
const BLOCK_CHUNKS: usize = 1 << 20;

/// Adds two one's-complement partial sums, carrying around the 64-bit end.
///
/// 2^64 − 1 is a multiple of 0xffff, so the end-around carry preserves the
/// sum modulo 0xffff, which is all that the folded result depends on.
#[inline]
pub(super) const fn add_end_around(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + carry as u64
}

/// Unfolded sum of `data` as native-endian 16-bit words, an odd final byte
/// padded with zero.
#[inline]
pub(super) fn native_sum(data: &[u8]) -> u64 {
    if data.len() < UNROLL_MIN {
        return word_sum(data);
    }
    let (chunks, rest) = data.as_chunks::<16>();
    let mut total = short_sum(rest);
    for block in chunks.chunks(BLOCK_CHUNKS) {
        // Four independent accumulators keep the additions in flight (and
        // let the compiler vectorise the loop).
        let mut acc = [0u64; 4];
        for chunk in block {
            for (a, word) in acc.iter_mut().zip(chunk.as_chunks::<4>().0) {
                *a += u64::from(u32::from_ne_bytes(*word));
            }
        }
        total = add_end_around(total, (acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
    total
}

/// Sum of a small input (up to a few hundred bytes: a header, a short
/// payload): 64-bit words added with end-around carry, one add-with-carry
/// per eight bytes and no set-up, then [`short_sum`] of the rest (under
/// eight bytes). The vector kernels' set-up and horizontal sums cost more
/// than they save at these lengths.
#[inline]
pub(super) fn word_sum(data: &[u8]) -> u64 {
    let (words, rest) = data.as_chunks::<8>();
    let mut sum = short_sum(rest);
    for word in words {
        sum = add_end_around(sum, u64::from_ne_bytes(*word));
    }
    sum
}

/// Sum of a short input: 32-bit words, then at most one 16-bit word and
/// one odd byte.
///
/// Callers pass a few dozen bytes (a header, or the tail of a longer
/// input); the 64-bit sum could only overflow beyond 2^34 bytes.
#[inline]
pub(super) fn short_sum(data: &[u8]) -> u64 {
    let (words, rest) = data.as_chunks::<4>();
    let mut sum = 0u64;
    for word in words {
        sum += u64::from(u32::from_ne_bytes(*word));
    }
    let (pair, rest) = rest.as_chunks::<2>();
    if let [pair] = pair {
        sum += u64::from(u16::from_ne_bytes(*pair));
    }
    if let [last] = rest {
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    sum
}
