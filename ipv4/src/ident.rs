//! IP Identification values that do not leak a global counter (RFC 7739
//! §5.3, RFC 6864).
//!
//! A single counter shared by all destinations tells anyone who receives
//! two datagrams how many the host sent in between (idle scans, counting
//! hosts behind a NAT, predicting IDs to inject forged fragments: RFC
//! 7739 §3 and §4). [`IpIdGenerator`] keeps instead a fixed table of
//! 16-bit counters. A datagram's (source, destination, protocol) is hashed
//! with SipHash-2-4 under a secret key drawn from the injected
//! [`Rng`]: the hash picks a counter and gives an offset, and the ID is
//! the counter plus the offset. Each counter starts at a random value and
//! advances by a random step from 1 to
//! [`max_increment`](IpIdGenerator::max_increment). So IDs towards one
//! destination change with every datagram but reveal nothing about
//! traffic to others, except to an observer who shares a counter by
//! chance (one in [`buckets`](IpIdGenerator::buckets)), and even then
//! only blurred by the random steps.
//!
//! # Calling protocol
//!
//! The sender of a new datagram (not a router forwarding one) calls
//! [`next_id`](IpIdGenerator::next_id) and puts the value in
//! [`Ipv4Repr::identification`](crate::Ipv4Repr::identification) before
//! building or fragmenting it. An atomic datagram (Don't Fragment set and
//! not a fragment) may carry any value, since nobody reassembles it (RFC
//! 6864 §4.1); calling `next_id` for it too is harmless and keeps
//! middleboxes that look at IDs content, but a sender may use 0 and save
//! the hash.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::IpProtocol;
//! use lamina_ipv4::ident::IpIdGenerator;
//! use lamina_netbuf::SeededRng;
//!
//! let mut rng = SeededRng::new(42); // a real entropy source in production
//! let mut ids = IpIdGenerator::new(&mut rng);
//! let (src, dst) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 7));
//! let a = ids.next_id(src, dst, IpProtocol::UDP, &mut rng);
//! let b = ids.next_id(src, dst, IpProtocol::UDP, &mut rng);
//! assert_ne!(a, b);
//! ```

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use lamina_netbuf::Rng;
use lamina_netbuf::hash::siphash24;

use crate::IpProtocol;

/// The number of counters of [`IpIdGenerator::new`] (8 KiB of state).
pub const DEFAULT_ID_BUCKETS: usize = 4096;

/// The largest step of a counter by default.
pub const DEFAULT_MAX_INCREMENT: u16 = 8;

/// A generator of IP Identification values; see the [module docs](self).
#[derive(Clone)]
pub struct IpIdGenerator {
    key: [u64; 2],
    counters: Vec<u16>,
    max_increment: u16,
    /// The last flow hashed, and its counter's index and offset: a stack
    /// sends runs of datagrams to one destination, and the keyed hash is
    /// the generator's main cost. Caching it changes no result.
    last: Option<(u64, u8, usize, u16)>,
    /// `log2(max_increment)` when that is a power of two (its steps then
    /// come from the pool of random bits).
    step_bits: Option<u32>,
    /// Random bits not yet used for steps (a power-of-two
    /// `max_increment` takes `log2` of them per step, so one draw from
    /// the caller's generator serves many datagrams).
    pool: u64,
    /// How many steps `pool` still holds.
    pool_steps: u32,
}

impl core::fmt::Debug for IpIdGenerator {
    /// Shows the size, never the key or the counters.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IpIdGenerator")
            .field("buckets", &self.counters.len())
            .field("max_increment", &self.max_increment)
            .finish_non_exhaustive()
    }
}

impl IpIdGenerator {
    /// A generator of [`DEFAULT_ID_BUCKETS`] counters, its key and
    /// counters drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> IpIdGenerator {
        IpIdGenerator::with_buckets(rng, DEFAULT_ID_BUCKETS, DEFAULT_MAX_INCREMENT)
    }

    /// A generator of `buckets` counters (rounded up to a power of two,
    /// from 1 to 65536) stepping by 1 to `max_increment` (at least 1).
    ///
    /// More buckets make sharing a counter with another destination
    /// rarer; larger steps blur what a counter shared by chance reveals,
    /// but wrap a destination's IDs sooner (after 65536 /
    /// ((1 + `max_increment`) / 2) datagrams instead of 65536).
    pub fn with_buckets<R: Rng + ?Sized>(
        rng: &mut R,
        buckets: usize,
        max_increment: u16,
    ) -> IpIdGenerator {
        let n = buckets.clamp(1, 1 << 16).next_power_of_two();
        let key = [rng.next_u64(), rng.next_u64()];
        let mut bytes = alloc::vec![0u8; n * 2];
        rng.fill_bytes(&mut bytes);
        let counters = bytes
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        let max_increment = max_increment.max(1);
        IpIdGenerator {
            key,
            counters,
            max_increment,
            last: None,
            step_bits: max_increment
                .is_power_of_two()
                .then(|| max_increment.trailing_zeros()),
            pool: 0,
            pool_steps: 0,
        }
    }

    /// The number of counters.
    pub fn buckets(&self) -> usize {
        self.counters.len()
    }

    /// The largest step of a counter.
    pub fn max_increment(&self) -> u16 {
        self.max_increment
    }

    /// A uniform draw from `0..max_increment`: for a power of two, the
    /// next bits of the pool (refilled from `rng` when spent); otherwise
    /// one draw from `rng`.
    #[inline(always)]
    fn step<R: Rng + ?Sized>(&mut self, rng: &mut R) -> u16 {
        let m = self.max_increment;
        let Some(bits) = self.step_bits else {
            return rng.below(u32::from(m)) as u16;
        };
        if bits == 0 {
            return 0;
        }
        if self.pool_steps == 0 {
            self.pool = rng.next_u64();
            self.pool_steps = 64 / bits;
        }
        self.pool_steps -= 1;
        let s = (self.pool & u64::from(m - 1)) as u16;
        self.pool >>= bits;
        s
    }

    /// The Identification for the next datagram from `src` to `dst`
    /// carrying `protocol`; `rng` draws the counter's step.
    #[inline(always)]
    pub fn next_id<R: Rng + ?Sized>(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        rng: &mut R,
    ) -> u16 {
        let flow = (u64::from(src.to_bits()) << 32) | u64::from(dst.to_bits());
        let (index, offset) = match self.last {
            Some((f, p, i, o)) if f == flow && p == protocol.0 => (i, o),
            _ => self.hash_flow(flow, src, dst, protocol),
        };
        let step = 1 + self.step(rng);
        match self.counters.get_mut(index) {
            Some(c) => {
                let id = c.wrapping_add(offset);
                *c = c.wrapping_add(step);
                id
            }
            None => offset,
        }
    }

    /// Hashes a flow: its counter's index and its offset (remembered as
    /// the last flow).
    #[inline(never)]
    fn hash_flow(
        &mut self,
        flow: u64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: IpProtocol,
    ) -> (usize, u16) {
        let mut msg = [0u8; 9];
        let (s, rest) = msg.split_at_mut(4);
        s.copy_from_slice(&src.octets());
        let (d, p) = rest.split_at_mut(4);
        d.copy_from_slice(&dst.octets());
        p.fill(protocol.0);
        let h = siphash24(self.key, &msg);
        let index = (h as usize) & (self.counters.len() - 1);
        let offset = (h >> 48) as u16;
        self.last = Some((flow, protocol.0, index, offset));
        (index, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::SeededRng;
    use std::collections::HashSet;

    fn a(x: u32) -> Ipv4Addr {
        Ipv4Addr::from_bits(0xc633_6400 | x)
    }

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    #[test]
    fn successive_ids_to_one_destination_differ_rfc_6864_section_4_2() {
        let mut rng = SeededRng::new(1);
        let mut g = IpIdGenerator::new(&mut rng);
        let mut prev = g.next_id(SRC, a(7), IpProtocol::UDP, &mut rng);
        let mut seen = HashSet::new();
        for _ in 0..5000 {
            let id = g.next_id(SRC, a(7), IpProtocol::UDP, &mut rng);
            assert_ne!(id, prev);
            // Steps of 1 to 8: no repeat within 65536 / 8 datagrams.
            assert!(seen.insert(id));
            let step = id.wrapping_sub(prev);
            assert!((1..=DEFAULT_MAX_INCREMENT).contains(&step), "{step}");
            prev = id;
        }
    }

    #[test]
    fn ids_to_different_destinations_do_not_follow_one_counter_rfc_7739_section_5_3() {
        let mut rng = SeededRng::new(2);
        let mut g = IpIdGenerator::new(&mut rng);
        // Interleave datagrams to many destinations, as a busy host does:
        // with a global counter each ID would be the previous one plus one.
        let ids: std::vec::Vec<u16> = (0..2000)
            .map(|i| g.next_id(SRC, a(i % 200), IpProtocol::TCP, &mut rng))
            .collect();
        let close = ids
            .windows(2)
            .filter(|w| w[1].wrapping_sub(w[0]) <= DEFAULT_MAX_INCREMENT)
            .count();
        // By chance, about 8 in 65536 pairs.
        assert!(close < 10, "{close} consecutive pairs look sequential");
    }

    #[test]
    fn protocol_and_source_select_other_counters() {
        let mut rng = SeededRng::new(3);
        let mut g = IpIdGenerator::new(&mut rng);
        let x = g.next_id(SRC, a(1), IpProtocol::UDP, &mut rng);
        let y = g.next_id(SRC, a(1), IpProtocol::TCP, &mut rng);
        let z = g.next_id(Ipv4Addr::new(192, 0, 2, 2), a(1), IpProtocol::UDP, &mut rng);
        assert!(y.wrapping_sub(x) > 8 && z.wrapping_sub(x) > 8);
    }

    #[test]
    fn different_secrets_give_unrelated_ids() {
        let mut r1 = SeededRng::new(4);
        let mut r2 = SeededRng::new(5);
        let mut g1 = IpIdGenerator::new(&mut r1);
        let mut g2 = IpIdGenerator::new(&mut r2);
        let same = (0..100)
            .filter(|&i| {
                g1.next_id(SRC, a(i), IpProtocol::UDP, &mut r1)
                    == g2.next_id(SRC, a(i), IpProtocol::UDP, &mut r2)
            })
            .count();
        assert!(same < 3);
    }

    #[test]
    fn bucket_count_is_a_bounded_power_of_two() {
        let mut rng = SeededRng::new(6);
        assert_eq!(IpIdGenerator::with_buckets(&mut rng, 0, 0).buckets(), 1);
        assert_eq!(
            IpIdGenerator::with_buckets(&mut rng, 1000, 1).buckets(),
            1024
        );
        assert_eq!(
            IpIdGenerator::with_buckets(&mut rng, usize::MAX, 1).buckets(),
            65536
        );
        let mut one = IpIdGenerator::with_buckets(&mut rng, 1, 0);
        assert_eq!(one.max_increment(), 1);
        let x = one.next_id(SRC, a(1), IpProtocol::UDP, &mut rng);
        let y = one.next_id(SRC, a(1), IpProtocol::UDP, &mut rng);
        assert_eq!(y, x.wrapping_add(1));
        assert!(!std::format!("{one:?}").contains("key"));
    }

    /// Every step from 1 to `max_increment` is taken about equally often,
    /// for powers of two (bits of one random draw shared by several
    /// steps) and other values (one draw per step) alike.
    #[test]
    fn steps_cover_1_to_max_increment_uniformly() {
        for max in [2u16, 5, 8, 16, 1024] {
            let mut rng = SeededRng::new(u64::from(max));
            let mut g = IpIdGenerator::with_buckets(&mut rng, 64, max);
            let mut counts = std::vec![0u32; usize::from(max) + 1];
            let mut prev = g.next_id(SRC, a(9), IpProtocol::TCP, &mut rng);
            let n = 400 * u32::from(max.min(64));
            for _ in 0..n {
                let id = g.next_id(SRC, a(9), IpProtocol::TCP, &mut rng);
                let step = usize::from(id.wrapping_sub(prev));
                assert!((1..=usize::from(max)).contains(&step), "{max}: {step}");
                counts[step] += 1;
                prev = id;
            }
            if max <= 16 {
                let expect = n / u32::from(max);
                for (step, &c) in counts.iter().enumerate().skip(1) {
                    assert!(
                        c > expect * 3 / 4 && c < expect * 5 / 4,
                        "max {max}: step {step} taken {c} times, expected about {expect}"
                    );
                }
            } else {
                // 25,600 draws over 1024 steps: both halves are used.
                let low: u32 = counts[1..=512].iter().sum();
                assert!(low > n * 2 / 5 && low < n * 3 / 5, "{low} of {n}");
            }
        }
    }
}
