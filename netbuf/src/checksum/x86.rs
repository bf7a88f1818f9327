//! x86-64 kernels: SSE2 (the x86-64 baseline) and AVX2.
//!
//! Both split every 32-bit lane into its low and high 16-bit halves (a mask
//! and a shift, no shuffles), add the two halves, and accumulate into 32-bit
//! lanes. Each lane grows by at most `0x1fffe` per step, so a block of at
//! most [`BLOCK_STEPS`] steps cannot overflow; after each block the lanes
//! are widened into a 64-bit total. Four independent accumulators keep the
//! adds in flight.
//!
//! Kernel builds that disable SSE (for example `x86_64-unknown-none`) get the
//! scalar kernel instead.

use super::scalar;

/// Steps (of four vectors each) per block before the 32-bit lanes are
/// widened: `16384 * 0x1fffe < 2^32`.
const BLOCK_STEPS: usize = 16_384;

/// Below this many bytes the vector set-up is not worth it.
const VECTOR_MIN: usize = 32;

/// Unfolded native-endian sum through the best kernel this build and CPU
/// support.
#[inline]
pub(super) fn native_sum(data: &[u8]) -> u64 {
    if data.len() < VECTOR_MIN {
        return scalar::native_sum(data);
    }
    #[cfg(target_feature = "avx2")]
    {
        // SAFETY: this build targets CPUs with AVX2 (`target_feature`).
        unsafe { avx2_kernel(data) }
    }
    #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU reported AVX2 support at run time.
            return unsafe { avx2_kernel(data) };
        }
        sse2_sum(data)
    }
    #[cfg(all(not(target_feature = "avx2"), not(feature = "std")))]
    {
        sse2_sum(data)
    }
}

/// The SSE2 kernel, or the scalar one where SSE is disabled.
#[inline]
pub(super) fn sse2_sum(data: &[u8]) -> u64 {
    #[cfg(target_feature = "sse2")]
    {
        // SAFETY: this build enables SSE2 (`cfg(target_feature)`).
        unsafe { sse2_kernel(data) }
    }
    #[cfg(not(target_feature = "sse2"))]
    {
        scalar::native_sum(data)
    }
}

/// The AVX2 kernel, or `None` if the CPU lacks AVX2 (or, without `std`,
/// if the build does not target it).
pub(super) fn avx2_sum(data: &[u8]) -> Option<u64> {
    #[cfg(target_feature = "avx2")]
    {
        // SAFETY: this build targets CPUs with AVX2 (`target_feature`).
        Some(unsafe { avx2_kernel(data) })
    }
    #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU reported AVX2 support at run time.
            Some(unsafe { avx2_kernel(data) })
        } else {
            None
        }
    }
    #[cfg(all(not(target_feature = "avx2"), not(feature = "std")))]
    {
        let _ = data;
        None
    }
}

#[cfg(target_feature = "sse2")]
#[target_feature(enable = "sse2")]
fn sse2_kernel(data: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    const STEP: usize = 64;
    let mask = _mm_set1_epi32(0xffff);
    let mut total = 0u64;
    // Blocks are whole multiples of STEP, so only the last one has a tail.
    for block in data.chunks(STEP * BLOCK_STEPS) {
        let mut acc = [_mm_setzero_si128(); 4];
        let mut steps = block.chunks_exact(STEP);
        for step in &mut steps {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: `step` is exactly 64 bytes, so bytes
                // `16 * i .. 16 * i + 16` (i < 4) are in bounds;
                // `loadu` has no alignment requirement.
                let v = unsafe { _mm_loadu_si128(step.as_ptr().add(16 * i).cast()) };
                let h = _mm_add_epi32(_mm_and_si128(v, mask), _mm_srli_epi32::<16>(v));
                *a = _mm_add_epi32(*a, h);
            }
        }
        for a in acc {
            let mut lanes = [0u32; 4];
            // SAFETY: `lanes` is 16 writable bytes; `storeu` is unaligned.
            unsafe { _mm_storeu_si128(lanes.as_mut_ptr().cast(), a) };
            total += lanes.iter().map(|&l| u64::from(l)).sum::<u64>();
        }
        total += scalar::native_sum(steps.remainder());
    }
    total
}

#[target_feature(enable = "avx2")]
fn avx2_kernel(data: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    const STEP: usize = 128;
    let mask = _mm256_set1_epi32(0xffff);
    let mut total = 0u64;
    // Blocks are whole multiples of STEP, so only the last one has a tail.
    for block in data.chunks(STEP * BLOCK_STEPS) {
        let mut acc = [_mm256_setzero_si256(); 4];
        let mut steps = block.chunks_exact(STEP);
        for step in &mut steps {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: `step` is exactly 128 bytes, so bytes
                // `32 * i .. 32 * i + 32` (i < 4) are in bounds;
                // `loadu` has no alignment requirement.
                let v = unsafe { _mm256_loadu_si256(step.as_ptr().add(32 * i).cast()) };
                let h = _mm256_add_epi32(_mm256_and_si256(v, mask), _mm256_srli_epi32::<16>(v));
                *a = _mm256_add_epi32(*a, h);
            }
        }
        let mut rest = steps.remainder();
        // One more accumulator pass over whole 32-byte vectors of the tail.
        while rest.len() >= 32 {
            // SAFETY: `rest` has at least 32 bytes; `loadu` is unaligned.
            let v = unsafe { _mm256_loadu_si256(rest.as_ptr().cast()) };
            let h = _mm256_add_epi32(_mm256_and_si256(v, mask), _mm256_srli_epi32::<16>(v));
            acc[0] = _mm256_add_epi32(acc[0], h);
            rest = &rest[32..];
        }
        for a in acc {
            let mut lanes = [0u32; 8];
            // SAFETY: `lanes` is 32 writable bytes; `storeu` is unaligned.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), a) };
            total += lanes.iter().map(|&l| u64::from(l)).sum::<u64>();
        }
        total += scalar::native_sum(rest);
    }
    total
}
