//! x86-64 kernels: SSE2 (the x86-64 baseline), AVX2 and AVX-512 (F + BW).
//!
//! Each accumulates sums of 16-bit word pairs in 32-bit lanes, four
//! independent accumulators at a time, over blocks of at most
//! [`BLOCK_STEPS`] steps so that no lane can overflow; after each block the
//! lanes are folded to 17 bits, added across, and carried into a 64-bit
//! total.
//!
//! - SSE2 and AVX2 flip each word's top bit and multiply-add the pairs
//!   against ones (`pmaddwd`), which treats them as signed: three
//!   instructions per vector. The bias this introduces is known (`0x10000`
//!   per lane per step) and added back once per block.
//! - AVX-512, and the short ends of every kernel, split each 32-bit lane
//!   into its low and high halves with a mask and a shift and add them: four
//!   instructions, all "light" ones (logic, shift, add, masked load), the
//!   class that costs the least frequency on CPUs that throttle for 512-bit
//!   code.
//!
//! Short and ragged ends cost one vector, not a scalar loop: AVX-512 loads
//! the last partial vector with a byte mask (masked-off bytes are never
//! read), and SSE2/AVX2 reload the last full vector ending at the data's
//! final even byte and clear the bytes already summed with a mask.
//!
//! Dispatch prefers AVX-512, then AVX2, then SSE2. A kernel is used when
//! the build targets it (`-C target-feature`), or, with the `std` feature,
//! when the CPU reports it at run time; the choice is made once and cached
//! in an atomic, so each call pays one relaxed load and a compare. Builds
//! that disable SSE (for example `x86_64-unknown-none`) get the scalar
//! kernel only.

use super::scalar;

/// Below this many bytes [`native_sum`] adds 64-bit words in a plain loop
/// (`scalar::word_sum`): fewer instructions than a vector kernel's set-up,
/// dispatch and horizontal sum. (Builds without SSE have no vector
/// kernel to weigh it against.)
#[cfg(target_feature = "sse2")]
const WORD_MAX: usize = 128;

/// Unfolded native-endian sum through the best kernel this build and CPU
/// support.
#[inline]
pub(super) fn native_sum(data: &[u8]) -> u64 {
    #[cfg(target_feature = "sse2")]
    {
        if data.len() < WORD_MAX {
            return scalar::word_sum(data);
        }
        match level::get() {
            // SAFETY: `level::get` reports AVX-512 F and BW only when the
            // build targets them or the CPU has them.
            level::AVX512 => unsafe { simd::avx512_kernel(data) },
            // SAFETY: likewise for AVX2.
            level::AVX2 => unsafe { simd::avx2_kernel(data) },
            // SAFETY: this build enables SSE2 (`cfg(target_feature)`).
            _ => unsafe { simd::sse2_kernel(data) },
        }
    }
    #[cfg(not(target_feature = "sse2"))]
    {
        scalar::native_sum(data)
    }
}

/// Copies `src` into `dst` (the same length) and returns the unfolded
/// native-endian sum of the bytes, reading them once where the CPU has
/// AVX-512 (F + BW) or AVX2; elsewhere a copy and then [`native_sum`].
#[inline]
pub(super) fn native_copy_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    #[cfg(target_feature = "sse2")]
    {
        if src.len() >= simd::VECTOR_MIN {
            match level::get() {
                // SAFETY: `level::get` reports AVX-512 F and BW only when
                // the build targets them or the CPU has them.
                level::AVX512 => return unsafe { simd::avx512_copy_kernel(dst, src) },
                // SAFETY: likewise for AVX2.
                level::AVX2 => return unsafe { simd::avx2_copy_kernel(dst, src) },
                _ => {}
            }
        }
    }
    dst.copy_from_slice(src);
    native_sum(src)
}

/// The SSE2 kernel, or the scalar one where SSE2 is disabled.
#[inline]
pub(super) fn sse2_sum(data: &[u8]) -> u64 {
    #[cfg(target_feature = "sse2")]
    {
        // SAFETY: this build enables SSE2 (`cfg(target_feature)`).
        unsafe { simd::sse2_kernel(data) }
    }
    #[cfg(not(target_feature = "sse2"))]
    {
        scalar::native_sum(data)
    }
}

/// `kernel`'s answer where this build and CPU reach level `min`
/// ([`level::AVX2`] or [`level::AVX512`]: the build targets it or, with
/// `std`, the CPU reports it); `None` elsewhere, `kernel` not run.
#[cfg(target_feature = "sse2")]
#[inline]
fn at_level<T>(min: u8, kernel: impl FnOnce() -> T) -> Option<T> {
    (level::get() >= min).then(kernel)
}

/// The AVX2 kernel, or `None` if neither the build nor (with `std`) the CPU
/// provides AVX2.
#[inline]
pub(super) fn avx2_sum(data: &[u8]) -> Option<u64> {
    #[cfg(target_feature = "sse2")]
    // SAFETY: `at_level` runs it only where the build targets AVX2 or the
    // CPU has it.
    return at_level(level::AVX2, || unsafe { simd::avx2_kernel(data) });
    #[cfg(not(target_feature = "sse2"))]
    {
        let _ = data;
        None
    }
}

/// The AVX-512 kernel, or `None` if neither the build nor (with `std`) the
/// CPU provides AVX-512 F and BW.
#[inline]
pub(super) fn avx512_sum(data: &[u8]) -> Option<u64> {
    #[cfg(target_feature = "sse2")]
    // SAFETY: `at_level` runs it only where the build targets AVX-512 F
    // and BW or the CPU has both.
    return at_level(level::AVX512, || unsafe { simd::avx512_kernel(data) });
    #[cfg(not(target_feature = "sse2"))]
    {
        let _ = data;
        None
    }
}

/// The AVX2 copy kernel (`src` into `dst`, as long), or `None` as
/// [`avx2_sum`].
#[inline]
pub(super) fn avx2_copy_sum(dst: &mut [u8], src: &[u8]) -> Option<u64> {
    #[cfg(target_feature = "sse2")]
    // SAFETY: as in `avx2_sum`.
    return at_level(level::AVX2, || unsafe { simd::avx2_copy_kernel(dst, src) });
    #[cfg(not(target_feature = "sse2"))]
    {
        let _ = (dst, src);
        None
    }
}

/// The AVX-512 copy kernel (`src` into `dst`, as long), or `None` as
/// [`avx512_sum`].
#[inline]
pub(super) fn avx512_copy_sum(dst: &mut [u8], src: &[u8]) -> Option<u64> {
    #[cfg(target_feature = "sse2")]
    // SAFETY: as in `avx512_sum`.
    return at_level(level::AVX512, || unsafe {
        simd::avx512_copy_kernel(dst, src)
    });
    #[cfg(not(target_feature = "sse2"))]
    {
        let _ = (dst, src);
        None
    }
}

/// Which vector kernel this build and CPU can run.
#[cfg(target_feature = "sse2")]
mod level {
    /// SSE2 only (the x86-64 baseline).
    pub(super) const SSE2: u8 = 1;
    /// AVX2 (and SSE2).
    pub(super) const AVX2: u8 = 2;
    /// AVX-512 F and BW (and AVX2).
    pub(super) const AVX512: u8 = 3;

    /// The best level available.
    #[inline]
    pub(super) fn get() -> u8 {
        if cfg!(all(target_feature = "avx512f", target_feature = "avx512bw")) {
            return AVX512;
        }
        #[cfg(feature = "std")]
        {
            cached()
        }
        #[cfg(not(feature = "std"))]
        {
            if cfg!(target_feature = "avx2") {
                AVX2
            } else {
                SSE2
            }
        }
    }

    /// The level detected at run time, cached (0 until first detected).
    #[cfg(feature = "std")]
    static LEVEL: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

    #[cfg(feature = "std")]
    #[inline]
    fn cached() -> u8 {
        // Relaxed is enough: every thread that detects stores the same
        // value, and nothing else is published through it.
        match LEVEL.load(core::sync::atomic::Ordering::Relaxed) {
            0 => detect(),
            level => level,
        }
    }

    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    fn detect() -> u8 {
        let level = if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
        {
            AVX512
        } else if cfg!(target_feature = "avx2") || std::is_x86_feature_detected!("avx2") {
            AVX2
        } else {
            SSE2
        };
        LEVEL.store(level, core::sync::atomic::Ordering::Relaxed);
        level
    }
}

#[cfg(target_feature = "sse2")]
mod simd {
    use super::scalar::{self, add_end_around};
    use core::arch::x86_64::*;

    /// Steps per accumulator per block before the 32-bit lanes are folded:
    /// `16384 * 0x1fffe < 2^31`, and the biased `pmaddwd` sums stay within
    /// `±2^30`.
    const BLOCK_STEPS: usize = 16_384;

    /// Below this many bytes the vector set-up is not worth it (and a
    /// 20-byte IPv4 header is summed faster by the scalar loop).
    pub(super) const VECTOR_MIN: usize = 32;

    /// 32 zero bytes then 32 `0xff` bytes: any window of it is a mask that
    /// keeps a vector's last bytes.
    static TAIL_MASK: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut i = 32;
        while i < 64 {
            t[i] = 0xff;
            i += 1;
        }
        t
    };

    /// A mask of `N` bytes whose last `keep` bytes are `0xff`, the rest zero.
    #[inline]
    fn tail_mask<const N: usize>(keep: usize) -> Option<&'static [u8; N]> {
        let start = (32 + keep).checked_sub(N)?;
        TAIL_MASK.get(start..start + N)?.try_into().ok()
    }

    /// The `N` bytes of `data` that end at `end`, if there are that many.
    #[inline]
    fn window<const N: usize>(data: &[u8], end: usize) -> Option<&[u8; N]> {
        data.get(end.checked_sub(N)?..end)?.try_into().ok()
    }

    /// How a ragged end of `tail.len() < N` bytes (at the end of `data`) is
    /// summed by the SSE2 and AVX2 kernels: the `N`-byte window of `data`
    /// ending at its last even byte, masked to the tail's even part, plus
    /// the odd last byte as a scalar. `None` when `data` is shorter than
    /// `N` (the caller then sums the tail with the scalar loop).
    #[inline]
    fn ragged_end<'a, const N: usize>(
        data: &'a [u8],
        tail: &[u8],
    ) -> Option<(&'a [u8; N], &'static [u8; N], u64)> {
        let odd = tail.len() % 2;
        let window = window::<N>(data, data.len() - odd)?;
        let mask = tail_mask::<N>(tail.len() - odd)?;
        let last = match (odd, tail.last()) {
            (1, Some(&b)) => u64::from(u16::from_ne_bytes([b, 0])),
            _ => 0,
        };
        Some((window, mask, last))
    }

    // ---------------------------------------------------------------- SSE2

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load128(bytes: &[u8; 16]) -> __m128i {
        // SAFETY: `bytes` is 16 readable bytes; `loadu` needs no alignment.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    /// Low plus high 16-bit half of each 32-bit lane (at most `0x1fffe`).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn halves128(v: __m128i) -> __m128i {
        _mm_add_epi32(
            _mm_and_si128(v, _mm_set1_epi32(0xffff)),
            _mm_srli_epi32::<16>(v),
        )
    }

    /// Each 32-bit lane: the sum of its two 16-bit words minus `0x10000`.
    ///
    /// Flipping a word's top bit turns it into the signed value `w - 0x8000`,
    /// exactly, so `pmaddwd` against ones adds the pair as signed numbers:
    /// three instructions per vector instead of four for [`halves128`].
    /// [`block_bias`] adds the `0x10000` per step back.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn pairs_biased128(v: __m128i) -> __m128i {
        _mm_madd_epi16(
            _mm_xor_si128(v, _mm_set1_epi16(i16::MIN)),
            _mm_set1_epi16(1),
        )
    }

    /// What a lane of [`pairs_biased128`] (or `256`) sums lacks after `steps`
    /// steps. With at most [`BLOCK_STEPS`] steps the biased lane stays within
    /// `±2^30` and the true lane sum below `2^31`, so the 32-bit wrapping
    /// addition of this bias gives the true sum exactly.
    #[inline]
    fn block_bias(steps: usize) -> i32 {
        (steps.min(BLOCK_STEPS) << 16) as i32
    }

    /// Sum of the four lanes, which must not overflow 32 bits.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn hsum128(v: __m128i) -> u64 {
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b10_11_00_01>(v));
        u64::from(_mm_cvtsi128_si32(v) as u32)
    }

    /// The SSE2 kernel (any length).
    #[target_feature(enable = "sse2")]
    pub(super) fn sse2_kernel(data: &[u8]) -> u64 {
        let (vectors, tail) = data.as_chunks::<16>();
        let (quads, singles) = vectors.as_chunks::<4>();
        let mut total = 0u64;
        for block in quads.chunks(BLOCK_STEPS) {
            let mut acc = [_mm_setzero_si128(); 4];
            for quad in block {
                for (a, v) in acc.iter_mut().zip(quad) {
                    *a = _mm_add_epi32(*a, pairs_biased128(load128(v)));
                }
            }
            let unbias = _mm_set1_epi32(block_bias(block.len()));
            let [a0, a1, a2, a3] = acc.map(|a| halves128(_mm_add_epi32(a, unbias)));
            let sum = _mm_add_epi32(_mm_add_epi32(a0, a1), _mm_add_epi32(a2, a3));
            total = add_end_around(total, hsum128(sum));
        }
        // At most three vectors and a masked one: lanes stay below 2^20.
        let mut acc = _mm_setzero_si128();
        for v in singles {
            acc = _mm_add_epi32(acc, halves128(load128(v)));
        }
        if !tail.is_empty() {
            match ragged_end::<16>(data, tail) {
                Some((window, mask, last)) => {
                    let v = _mm_and_si128(load128(window), load128(mask));
                    acc = _mm_add_epi32(acc, halves128(v));
                    total = add_end_around(total, last);
                }
                None => total = add_end_around(total, scalar::short_sum(tail)),
            }
        }
        add_end_around(total, hsum128(acc))
    }

    // ---------------------------------------------------------------- AVX2

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load256(bytes: &[u8; 32]) -> __m256i {
        // SAFETY: `bytes` is 32 readable bytes; `loadu` needs no alignment.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
    }

    /// Low plus high 16-bit half of each 32-bit lane (at most `0x1fffe`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn halves256(v: __m256i) -> __m256i {
        _mm256_add_epi32(
            _mm256_and_si256(v, _mm256_set1_epi32(0xffff)),
            _mm256_srli_epi32::<16>(v),
        )
    }

    /// Each 32-bit lane: the sum of its two 16-bit words minus `0x10000`
    /// (see [`pairs_biased128`]).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pairs_biased256(v: __m256i) -> __m256i {
        _mm256_madd_epi16(
            _mm256_xor_si256(v, _mm256_set1_epi16(i16::MIN)),
            _mm256_set1_epi16(1),
        )
    }

    /// Sum of the eight lanes, which must not overflow 32 bits.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum256(v: __m256i) -> u64 {
        let v = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        hsum128(v)
    }

    /// The AVX2 kernel (any length).
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_kernel(data: &[u8]) -> u64 {
        let (vectors, tail) = data.as_chunks::<32>();
        let (quads, singles) = vectors.as_chunks::<4>();
        let mut total = 0u64;
        for block in quads.chunks(BLOCK_STEPS) {
            let mut acc = [_mm256_setzero_si256(); 4];
            for quad in block {
                for (a, v) in acc.iter_mut().zip(quad) {
                    *a = _mm256_add_epi32(*a, pairs_biased256(load256(v)));
                }
            }
            let unbias = _mm256_set1_epi32(block_bias(block.len()));
            let [a0, a1, a2, a3] = acc.map(|a| halves256(_mm256_add_epi32(a, unbias)));
            let sum = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
            total = add_end_around(total, hsum256(sum));
        }
        // At most three vectors and a masked one: lanes stay below 2^20.
        let mut acc = _mm256_setzero_si256();
        for v in singles {
            acc = _mm256_add_epi32(acc, halves256(load256(v)));
        }
        if !tail.is_empty() {
            match ragged_end::<32>(data, tail) {
                Some((window, mask, last)) => {
                    let v = _mm256_and_si256(load256(window), load256(mask));
                    acc = _mm256_add_epi32(acc, halves256(v));
                    total = add_end_around(total, last);
                }
                None => total = add_end_around(total, scalar::short_sum(tail)),
            }
        }
        add_end_around(total, hsum256(acc))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store256(bytes: &mut [u8; 32], v: __m256i) {
        // An opaque store, as `store512` explains.
        // SAFETY: `bytes` is 32 writable bytes; `vmovdqu` needs no
        // alignment, and writes nothing else.
        unsafe {
            core::arch::asm!(
                "vmovdqu ymmword ptr [{p}], {v}",
                p = in(reg) bytes.as_mut_ptr(),
                v = in(ymm_reg) v,
                options(nostack, preserves_flags),
            );
        }
    }

    /// The AVX2 kernel that also copies: `src` into `dst` (which must be
    /// as long; the caller checks), summed as [`avx2_kernel`] sums it,
    /// each vector loaded once for both. (A copy of `avx2_kernel`'s loops
    /// with the stores added, not one generic body: the generic one,
    /// indexing the destination per vector, measured 40% slower.)
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_copy_kernel(dst: &mut [u8], src: &[u8]) -> u64 {
        let (vectors, tail) = src.as_chunks::<32>();
        let (dvectors, dtail) = dst.as_chunks_mut::<32>();
        let (quads, singles) = vectors.as_chunks::<4>();
        let (dquads, dsingles) = dvectors.as_chunks_mut::<4>();
        let mut total = 0u64;
        for (block, dblock) in quads
            .chunks(BLOCK_STEPS)
            .zip(dquads.chunks_mut(BLOCK_STEPS))
        {
            let mut acc = [_mm256_setzero_si256(); 4];
            for (quad, dquad) in block.iter().zip(dblock) {
                for ((a, v), d) in acc.iter_mut().zip(quad).zip(dquad) {
                    let x = load256(v);
                    store256(d, x);
                    *a = _mm256_add_epi32(*a, pairs_biased256(x));
                }
            }
            let unbias = _mm256_set1_epi32(block_bias(block.len()));
            let [a0, a1, a2, a3] = acc.map(|a| halves256(_mm256_add_epi32(a, unbias)));
            let sum = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
            total = add_end_around(total, hsum256(sum));
        }
        let mut acc = _mm256_setzero_si256();
        for (v, d) in singles.iter().zip(dsingles) {
            let x = load256(v);
            store256(d, x);
            acc = _mm256_add_epi32(acc, halves256(x));
        }
        if !tail.is_empty() {
            dtail.copy_from_slice(tail);
            match ragged_end::<32>(src, tail) {
                Some((window, mask, last)) => {
                    let v = _mm256_and_si256(load256(window), load256(mask));
                    acc = _mm256_add_epi32(acc, halves256(v));
                    total = add_end_around(total, last);
                }
                None => total = add_end_around(total, scalar::short_sum(tail)),
            }
        }
        add_end_around(total, hsum256(acc))
    }

    // ------------------------------------------------------------- AVX-512

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load512(bytes: &[u8; 64]) -> __m512i {
        // SAFETY: `bytes` is 64 readable bytes; `loadu` needs no alignment.
        unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
    }

    /// Low plus high 16-bit half of each 32-bit lane (at most `0x1fffe`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn halves512(v: __m512i) -> __m512i {
        _mm512_add_epi32(
            _mm512_and_si512(v, _mm512_set1_epi32(0xffff)),
            _mm512_srli_epi32::<16>(v),
        )
    }

    /// Sum of the sixteen lanes, which must not overflow 32 bits.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn hsum512(v: __m512i) -> u64 {
        u64::from(_mm512_reduce_add_epi32(v) as u32)
    }

    /// The first `min(bytes.len(), 64)` bytes of `bytes` in a vector, the
    /// rest of it zero. The zero above an odd last byte is the RFC 1071
    /// padding.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load512_partial(bytes: &[u8]) -> __m512i {
        let keep = match bytes.len() {
            n @ 0..64 => (1u64 << n) - 1,
            _ => u64::MAX,
        };
        // SAFETY: `keep` selects only bytes within `bytes`, all readable;
        // bytes masked off are not accessed (AVX-512 masked loads suppress
        // faults on them) and the load needs no alignment.
        unsafe { _mm512_maskz_loadu_epi8(keep, bytes.as_ptr().cast()) }
    }

    /// The AVX-512 kernel (any length).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn avx512_kernel(data: &[u8]) -> u64 {
        if data.len() <= 64 {
            // A minimum-size frame or a header: one masked load, no loop.
            return hsum512(halves512(load512_partial(data)));
        }
        let (quads, mut rest) = data.as_chunks::<256>();
        let mut total = 0u64;
        for block in quads.chunks(BLOCK_STEPS) {
            let mut acc = [_mm512_setzero_si512(); 4];
            for quad in block {
                for (a, v) in acc.iter_mut().zip(quad.as_chunks::<64>().0) {
                    *a = _mm512_add_epi32(*a, halves512(load512(v)));
                }
            }
            let [a0, a1, a2, a3] = acc.map(|a| halves512(a));
            let sum = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
            total = add_end_around(total, hsum512(sum));
        }
        // The last 0..256 bytes, whole or partial vectors alike through
        // masked loads, with no scalar tail: at most four steps, so the
        // lanes stay below 2^20.
        let mut acc = _mm512_setzero_si512();
        while !rest.is_empty() {
            acc = _mm512_add_epi32(acc, halves512(load512_partial(rest)));
            rest = rest.get(64..).unwrap_or_default();
        }
        add_end_around(total, hsum512(acc))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn store512(bytes: &mut [u8; 64], v: __m512i) {
        // The store is an instruction the optimiser cannot see through: a
        // loop that stores what it loads would otherwise be split into a
        // call to `memcpy` and a loop that sums, reading the data twice.
        // SAFETY: `bytes` is 64 writable bytes; `vmovdqu64` needs no
        // alignment, and writes nothing else.
        unsafe {
            core::arch::asm!(
                "vmovdqu64 zmmword ptr [{p}], {v}",
                p = in(reg) bytes.as_mut_ptr(),
                v = in(zmm_reg) v,
                options(nostack, preserves_flags),
            );
        }
    }

    /// Stores the first `min(bytes.len(), 64)` bytes of `v` into `bytes`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn store512_partial(bytes: &mut [u8], v: __m512i) {
        let keep = match bytes.len() {
            n @ 0..64 => (1u64 << n) - 1,
            _ => u64::MAX,
        };
        // SAFETY: `keep` selects only bytes within `bytes`, all writable;
        // bytes masked off are not accessed (masked stores suppress faults
        // on them) and the store needs no alignment.
        unsafe { _mm512_mask_storeu_epi8(bytes.as_mut_ptr().cast(), keep, v) }
    }

    /// The AVX-512 kernel that also copies: `src` into `dst` (which must
    /// be as long; the caller checks), summed as [`avx512_kernel`] sums
    /// it, each vector loaded once for both (its loops, with the stores
    /// added: see `avx2_copy_kernel`).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn avx512_copy_kernel(dst: &mut [u8], src: &[u8]) -> u64 {
        let (quads, rest) = src.as_chunks::<256>();
        let (dquads, drest) = dst.as_chunks_mut::<256>();
        let mut total = 0u64;
        for (block, dblock) in quads
            .chunks(BLOCK_STEPS)
            .zip(dquads.chunks_mut(BLOCK_STEPS))
        {
            let mut acc = [_mm512_setzero_si512(); 4];
            for (quad, dquad) in block.iter().zip(dblock) {
                let vs = quad.as_chunks::<64>().0;
                let ds = dquad.as_chunks_mut::<64>().0;
                for ((a, v), d) in acc.iter_mut().zip(vs).zip(ds) {
                    let x = load512(v);
                    store512(d, x);
                    *a = _mm512_add_epi32(*a, halves512(x));
                }
            }
            let [a0, a1, a2, a3] = acc.map(|a| halves512(a));
            let sum = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
            total = add_end_around(total, hsum512(sum));
        }
        // The last 0..256 bytes through masked loads and stores: at most
        // four steps, so the lanes stay below 2^20.
        let mut acc = _mm512_setzero_si512();
        let (vs, tail) = rest.as_chunks::<64>();
        let (ds, dtail) = drest.as_chunks_mut::<64>();
        for (v, d) in vs.iter().zip(ds) {
            let x = load512(v);
            store512(d, x);
            acc = _mm512_add_epi32(acc, halves512(x));
        }
        if !tail.is_empty() {
            let x = load512_partial(tail);
            store512_partial(dtail, x);
            acc = _mm512_add_epi32(acc, halves512(x));
        }
        add_end_around(total, hsum512(acc))
    }
}
