//! Initial sequence numbers per RFC 6528.
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`,
//! where M is a clock and F a keyed pseudorandom function of the
//! connection's 4-tuple: SipHash-2-4 under a 128-bit key drawn once from
//! the injected RNG. Successive incarnations of the same 4-tuple get
//! increasing ISNs (the clock moves on), while an off-path attacker who
//! does not know the key cannot predict the ISN of any connection — not
//! even from the ISNs of its own connections to the same host.
//!
//! # The clock runs at 16 ticks per microsecond
//!
//! RFC 6528 §3 (after RFC 9293 §3.4.1) suggests a clock that ticks every
//! 4 µs: 250,000 sequence numbers a second. A connection that is reset
//! leaves no TIME-WAIT behind, so the next connection of its 4-tuple may
//! open at once — and its ISN must lie beyond every sequence number the
//! old one used, or the old connection's late segments fall into the new
//! window. At 250,000 a second any transfer faster than 250 kB/s outruns
//! the clock. M here ticks every 62.5 ns (16 M a second, as Linux's 64 ns
//! clock), so a reset connection must have moved more than 16 MB per
//! second of its life to reach the next ISN. The clock wraps every
//! 268 seconds; in the 60 seconds of a TIME-WAIT it moves less than a
//! quarter of the sequence space, so an ISN chosen while the peer still
//! holds TIME-WAIT compares as newer than the old connection's numbers
//! (RFC 9293 §3.6.1).

use core::net::SocketAddrV4;

use lamina_netbuf::hash::siphash24;
use lamina_netbuf::{Instant, Rng};

use crate::seq::SeqNumber;

/// The RFC 6528 ISN generator: a secret key, drawn once.
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddrV4};
/// use lamina_netbuf::{Duration, Instant, SeededRng};
/// use lamina_tcp::isn::IsnGenerator;
///
/// let isns = IsnGenerator::new(&mut SeededRng::new(7));
/// let local = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80);
/// let remote = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 49152);
/// let t0 = Instant::from_secs(10);
/// let a = isns.isn(local, remote, t0);
/// // 1 ms later the same 4-tuple gets an ISN 16,000 ticks later.
/// let b = isns.isn(local, remote, t0 + Duration::from_millis(1));
/// assert_eq!(b - a, 16_000);
/// ```
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u64; 2],
}

impl IsnGenerator {
    /// A generator with a fresh secret key from `rng` (RFC 6528 §3: the
    /// key SHOULD be random and of at least 128 bits).
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> IsnGenerator {
        IsnGenerator {
            key: [rng.next_u64(), rng.next_u64()],
        }
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`:
    /// the clock M (16 ticks a microsecond) plus the keyed hash F of the
    /// 4-tuple (RFC 6528 §3).
    pub fn isn(&self, local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> SeqNumber {
        SeqNumber(clock(now).wrapping_add(self.offset(local, remote)))
    }

    /// F(localip, localport, remoteip, remoteport, secretkey) alone: the
    /// per-4-tuple offset added to the clock.
    fn offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let msg = four_tuple(local, remote);
        siphash24(self.key, &msg) as u32
    }
}

/// The ISN clock M at `now`: 16 ticks a microsecond (see the module docs
/// for why not RFC 6528's 4 µs).
pub(crate) fn clock(now: Instant) -> u32 {
    (now.total_micros() << 4) as u32
}

/// The 4-tuple as 12 bytes in network order: local address and port, then
/// remote address and port.
pub(crate) fn four_tuple(local: SocketAddrV4, remote: SocketAddrV4) -> [u8; 12] {
    let mut msg = [0u8; 12];
    let (la, rest) = msg.split_at_mut(4);
    let (lp, rest) = rest.split_at_mut(2);
    let (ra, rp) = rest.split_at_mut(4);
    la.copy_from_slice(&local.ip().octets());
    lp.copy_from_slice(&local.port().to_be_bytes());
    ra.copy_from_slice(&remote.ip().octets());
    rp.copy_from_slice(&remote.port().to_be_bytes());
    msg
}

impl core::fmt::Debug for IsnGenerator {
    /// Never prints the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IsnGenerator").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use core::net::Ipv4Addr;
    use lamina_netbuf::{Duration, SeededRng};

    fn sa(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, last), port)
    }

    #[test]
    fn clock_component_ticks_16_times_a_microsecond() {
        let g = IsnGenerator::new(&mut SeededRng::new(1));
        let (l, r) = (sa(1, 80), sa(2, 5000));
        let t = Instant::from_secs(3);
        let base = g.isn(l, r, t);
        assert_eq!(g.isn(l, r, t + Duration::from_micros(1)), base + 16);
        assert_eq!(g.isn(l, r, t + Duration::from_secs(1)), base + 16_000_000);
        // A TIME-WAIT (60 s) moves it by less than a quarter of the space.
        let later = g.isn(l, r, t + Duration::from_secs(60));
        assert!(later - base < 1 << 30);
        assert!(later - base > 0);
    }

    #[test]
    fn clock_wraps_modulo_2_pow_32() {
        // 2^32 ticks of 62.5 ns: about every 268 seconds.
        let g = IsnGenerator::new(&mut SeededRng::new(1));
        let (l, r) = (sa(1, 80), sa(2, 5000));
        let wrap = Duration::from_micros(1 << 28);
        let t = Instant::from_secs(1);
        assert_eq!(g.isn(l, r, t), g.isn(l, r, t + wrap));
    }

    #[test]
    fn different_four_tuples_get_unrelated_offsets() {
        // RFC 6528 §3: F separates the sequence spaces of connections.
        let g = IsnGenerator::new(&mut SeededRng::new(2));
        let t = Instant::from_secs(1);
        let base = g.isn(sa(1, 80), sa(2, 5000), t);
        let others = [
            g.isn(sa(1, 80), sa(2, 5001), t),
            g.isn(sa(1, 81), sa(2, 5000), t),
            g.isn(sa(1, 80), sa(3, 5000), t),
            g.isn(sa(3, 80), sa(2, 5000), t),
            g.isn(sa(2, 5000), sa(1, 80), t), // reversed direction
        ];
        for o in others {
            assert_ne!(o, base);
        }
    }

    #[test]
    fn keys_differ_between_generators() {
        // RFC 6528 §3: the secret key makes F unpredictable off path.
        let t = Instant::from_secs(1);
        let a = IsnGenerator::new(&mut SeededRng::new(3)).isn(sa(1, 80), sa(2, 9), t);
        let b = IsnGenerator::new(&mut SeededRng::new(4)).isn(sa(1, 80), sa(2, 9), t);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let g = IsnGenerator::new(&mut SeededRng::new(5));
        let s = format!("{g:?}");
        assert!(!s.contains(&format!("{}", g.key[0])));
        assert_eq!(s, "IsnGenerator { .. }");
    }

    #[test]
    fn four_tuple_is_in_network_order() {
        let m = four_tuple(sa(1, 0x0102), sa(2, 0x0304));
        assert_eq!(m, [192, 0, 2, 1, 1, 2, 192, 0, 2, 2, 3, 4]);
    }
}
