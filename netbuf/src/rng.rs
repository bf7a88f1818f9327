//! Injected randomness: the [`Rng`] trait and a seeded default,
//! [`SeededRng`].
//!
//! Protocols never reach for a global random source. Initial sequence
//! numbers, ephemeral ports and IP identifiers draw from an `Rng` the caller
//! supplies: a hardware source in production, a [`SeededRng`] with a fixed
//! seed in tests so that every run is reproducible.

/// A source of random numbers.
///
/// Only [`next_u64`](Rng::next_u64) must be implemented; the other methods
/// derive from it.
pub trait Rng {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// The next 32 random bits.
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let mut chunks = dest.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let bytes = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&bytes[..rest.len()]);
        }
    }

    /// A uniformly distributed number in `0..bound`, without modulo bias.
    /// Returns 0 when `bound` is 0.
    fn below(&mut self, bound: u32) -> u32 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-and-reject method. The rejection threshold
        // (2^32 mod bound) is below `bound`, so a low half at or above
        // `bound` is accepted without computing it (and its division).
        let mut m = u64::from(self.next_u32()) * u64::from(bound);
        if (m as u32) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (m as u32) < threshold {
                m = u64::from(self.next_u32()) * u64::from(bound);
            }
        }
        (m >> 32) as u32
    }

    /// A uniformly distributed number in `lo..=hi` (`lo` if `hi < lo`).
    fn in_range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u32::MAX {
            return self.next_u32();
        }
        lo + self.below(span + 1)
    }
}

impl<R: Rng + ?Sized> Rng for &mut R {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// A fast, seedable, non-cryptographic generator (xoshiro256**, seeded
/// through SplitMix64).
///
/// The same seed always gives the same sequence, on every platform. It is
/// not suitable where an attacker must not predict values; feed a keyed
/// hash or a hardware source for those (for example TCP ISNs per RFC 6528
/// are a keyed hash whose key should come from a real entropy source).
#[derive(Clone, Debug)]
pub struct SeededRng {
    s: [u64; 4],
}

impl SeededRng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn new(seed: u64) -> SeededRng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        SeededRng {
            s: [next(), next(), next(), next()],
        }
    }
}

impl Rng for SeededRng {
    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SeededRng::new(42);
        let mut b = SeededRng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = SeededRng::new(43);
        assert_ne!(SeededRng::new(42).next_u64(), c.next_u64());
    }

    #[test]
    fn below_stays_in_bounds_and_covers() {
        let mut r = SeededRng::new(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = r.below(7);
            assert!(v < 7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(r.below(0), 0);
    }

    /// The shortcut that skips the threshold's division draws exactly
    /// what the plain multiply-and-reject method draws (same values, same
    /// number of draws), so seeded sequences do not change.
    #[test]
    fn below_matches_plain_multiply_and_reject() {
        fn plain(r: &mut SeededRng, bound: u32) -> u32 {
            let threshold = bound.wrapping_neg() % bound;
            loop {
                let m = u64::from(r.next_u32()) * u64::from(bound);
                if (m as u32) >= threshold {
                    return (m >> 32) as u32;
                }
            }
        }
        for bound in [1u32, 2, 3, 7, 1000, 0x8000_0001, 0xffff_fff0, u32::MAX] {
            let (mut a, mut b) = (
                SeededRng::new(u64::from(bound)),
                SeededRng::new(u64::from(bound)),
            );
            for _ in 0..2000 {
                assert_eq!(a.below(bound), plain(&mut b, bound), "bound {bound}");
            }
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn in_range_is_inclusive() {
        let mut r = SeededRng::new(9);
        let (mut lo_seen, mut hi_seen) = (false, false);
        for _ in 0..10_000 {
            let v = r.in_range(49152, 49160);
            assert!((49152..=49160).contains(&v));
            lo_seen |= v == 49152;
            hi_seen |= v == 49160;
        }
        assert!(lo_seen && hi_seen);
        assert_eq!(r.in_range(5, 5), 5);
        assert_eq!(r.in_range(6, 5), 6);
        let _ = r.in_range(0, u32::MAX);
    }

    #[test]
    fn fill_bytes_handles_odd_lengths() {
        let mut r = SeededRng::new(3);
        let mut buf = [0u8; 13];
        r.fill_bytes(&mut buf);
        assert!(buf.iter().any(|b| *b != 0));
    }
}
