//! SYN cookies: a stateless answer to SYNs when the listener's SYN queue is
//! full (RFC 4987 §3.6).
//!
//! Instead of remembering a half-open connection, the listener encodes
//! what it needs in the initial sequence number of its SYN-ACK and, when
//! the peer's SYN carried timestamps, in the TSval it sends (as Linux
//! does). The ACK completing the handshake brings both back (its
//! acknowledgment number minus one, and its TSecr), and
//! [`SynCookies::decode`] rebuilds the connection's parameters from them —
//! or rejects a forged, stale or mismatched ACK.
//!
//! The 32-bit cookie, before a keyed per-connection offset `H1` is added:
//!
//! | bits | content |
//! |---|---|
//! | 31–27 | a 64-second time counter, modulo 32 |
//! | 26–24 | an index into [`MSS_TABLE`] |
//! | 23–0 | a 24-bit MAC |
//!
//! `H1` (a keyed hash of the 4-tuple and the peer's ISN) makes the ISNs
//! unpredictable off path; the MAC (SipHash-2-4 under a secret 128-bit
//! key, over the 4-tuple, the peer's ISN, the full time counter, the MSS
//! index and the timestamp-carried bits) makes a cookie unforgeable short
//! of 2^24 guesses per try. A cookie is accepted while the counter is the
//! current one or the previous one: for 64 to 128 seconds.
//!
//! With timestamps, the low 5 bits of our TSval carry the peer's window
//! scale (bits 0–3; 15 for none) and SACK-permitted (bit 4); the rest of
//! the TSval is a millisecond clock (`now` in ms, truncated to 32 bits,
//! rounded down to 32 ms). A connection built from a cookie should keep
//! sending TSvals from that clock so that they never go backwards. Without
//! timestamps, window scaling and SACK are not used on such a connection
//! (the cookie has no room for them), as in Linux.

use core::net::SocketAddrV4;

use lamina_netbuf::hash::siphash24;
use lamina_netbuf::{Instant, Rng};

use crate::isn::four_tuple;
use crate::seq::SeqNumber;

/// The MSS values a cookie can encode (3 bits). [`SynCookies::encode`]
/// picks the largest not above the MSS asked for (536, the IPv4 default of
/// RFC 9293 §3.7.1, when all are above it).
pub const MSS_TABLE: [u16; 8] = [536, 1200, 1360, 1400, 1440, 1452, 1460, 8960];

/// Seconds per tick of the cookie's time counter.
pub const COUNTER_PERIOD_SECS: u64 = 64;

/// The connection parameters a cookie carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CookieParams {
    /// The MSS to use towards the peer.
    pub mss: u16,
    /// The peer's window scale shift (RFC 7323 §2), if it offered one.
    pub window_scale: Option<u8>,
    /// The peer sent SACK-permitted (RFC 2018 §2).
    pub sack_permitted: bool,
}

/// A SYN-cookie codec with its secret key.
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddrV4};
/// use lamina_netbuf::{Duration, Instant, SeededRng};
/// use lamina_tcp::SeqNumber;
/// use lamina_tcp::cookie::{CookieParams, SynCookies};
///
/// let cookies = SynCookies::new(&mut SeededRng::new(1));
/// let local = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80);
/// let remote = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
/// let peer_isn = SeqNumber(12345);
/// let params = CookieParams { mss: 1460, window_scale: Some(7), sack_permitted: true };
/// let now = Instant::from_secs(1000);
///
/// // SYN arrives, queue full: answer with a cookie ISN and TSval.
/// let (our_isn, tsval) = cookies.encode(local, remote, peer_isn, params, true, now);
///
/// // The ACK comes back: ack_number - 1 = our_isn, TSecr = tsval.
/// let later = now + Duration::from_millis(30);
/// assert_eq!(cookies.decode(local, remote, peer_isn, our_isn, tsval, later), Some(params));
/// // A forged ISN does not pass.
/// assert_eq!(cookies.decode(local, remote, peer_isn, our_isn + 1, tsval, later), None);
/// ```
#[derive(Clone)]
pub struct SynCookies {
    key: [u64; 2],
}

/// Domain separation for the two keyed hashes.
const TAG_OFFSET: u8 = 1;
const TAG_MAC: u8 = 2;
/// Marks the timestamp-carried bits in the MAC input.
const TS_PRESENT: u8 = 0x80;
const TS_BITS: u32 = 0x1f;
const WS_NONE: u32 = 0x0f;
const SACK_BIT: u32 = 0x10;

impl SynCookies {
    /// A codec with a fresh secret key from `rng`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> SynCookies {
        SynCookies {
            key: [rng.next_u64(), rng.next_u64()],
        }
    }

    /// The ISN to put in our SYN-ACK answering a SYN from `remote` to
    /// `local` with sequence number `peer_isn`, encoding `params.mss`
    /// (rounded down to [`MSS_TABLE`]) and the time; and, when the SYN
    /// carried timestamps, the TSval to send, whose low bits encode
    /// `params.window_scale` (capped at 14, RFC 7323 §2.3) and
    /// `params.sack_permitted`. Without timestamps the TSval is `None` and
    /// those two parameters are not kept.
    pub fn encode(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNumber,
        params: CookieParams,
        peer_has_timestamps: bool,
        now: Instant,
    ) -> (SeqNumber, Option<u32>) {
        let idx = MSS_TABLE
            .iter()
            .rposition(|&m| m <= params.mss)
            .unwrap_or(0) as u8;
        let (tsval, ts_tag) = if peer_has_timestamps {
            let ws = params
                .window_scale
                .map_or(WS_NONE, |w| u32::from(w.min(14)));
            let bits = ws | if params.sack_permitted { SACK_BIT } else { 0 };
            let clock = (now.total_millis() as u32) & !TS_BITS;
            (Some(clock | bits), TS_PRESENT | bits as u8)
        } else {
            (None, 0)
        };
        let count = counter(now);
        let mac = self.mac(local, remote, peer_isn, count, idx, ts_tag);
        let word = ((count as u32 & 0x1f) << 27) | (u32::from(idx) << 24) | mac;
        let isn = word.wrapping_add(self.offset(local, remote, peer_isn));
        (SeqNumber(isn), tsval)
    }

    /// Checks the ACK completing a handshake answered with a cookie:
    /// `our_isn` is its acknowledgment number minus one, `peer_isn` its
    /// sequence number minus one, `tsecr` its TSecr if it carries
    /// timestamps. Returns the encoded parameters if the cookie is
    /// authentic for this 4-tuple and peer ISN and at most one counter
    /// period old (64 to 128 seconds); `None` otherwise, including when the
    /// SYN had timestamps but the ACK has none (RFC 7323 §3.2 requires them
    /// on every segment once negotiated).
    pub fn decode(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNumber,
        our_isn: SeqNumber,
        tsecr: Option<u32>,
        now: Instant,
    ) -> Option<CookieParams> {
        let word = our_isn
            .get()
            .wrapping_sub(self.offset(local, remote, peer_isn));
        let now_count = counter(now);
        let age = (now_count as u32).wrapping_sub(word >> 27) & 0x1f;
        if age > 1 {
            return None;
        }
        let count = now_count.checked_sub(u64::from(age))?;
        let idx = ((word >> 24) & 0x7) as u8;
        let mac = word & 0x00ff_ffff;
        let mss = *MSS_TABLE.get(usize::from(idx))?;
        // With a TSecr, first the timestamp-carried bits; then (a peer that
        // sent no timestamps in its SYN but echoes one now) none.
        if let Some(t) = tsecr {
            let bits = t & TS_BITS;
            let tag = TS_PRESENT | bits as u8;
            if self.mac(local, remote, peer_isn, count, idx, tag) == mac {
                let ws = bits & WS_NONE;
                return Some(CookieParams {
                    mss,
                    window_scale: (ws != WS_NONE).then_some(ws as u8),
                    sack_permitted: bits & SACK_BIT != 0,
                });
            }
        }
        (self.mac(local, remote, peer_isn, count, idx, 0) == mac).then_some(CookieParams {
            mss,
            window_scale: None,
            sack_permitted: false,
        })
    }

    /// `H1`: the per-connection offset hiding the cookie's structure.
    fn offset(&self, local: SocketAddrV4, remote: SocketAddrV4, peer_isn: SeqNumber) -> u32 {
        let mut msg = [0u8; 17];
        let (tuple, rest) = msg.split_at_mut(12);
        tuple.copy_from_slice(&four_tuple(local, remote));
        let (isn, tag) = rest.split_at_mut(4);
        isn.copy_from_slice(&peer_isn.get().to_be_bytes());
        tag.fill(TAG_OFFSET);
        siphash24(self.key, &msg) as u32
    }

    /// The 24-bit MAC.
    fn mac(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNumber,
        count: u64,
        idx: u8,
        ts_tag: u8,
    ) -> u32 {
        let mut msg = [0u8; 27];
        let (tuple, rest) = msg.split_at_mut(12);
        tuple.copy_from_slice(&four_tuple(local, remote));
        let (isn, rest) = rest.split_at_mut(4);
        isn.copy_from_slice(&peer_isn.get().to_be_bytes());
        let (cnt, rest) = rest.split_at_mut(8);
        cnt.copy_from_slice(&count.to_be_bytes());
        if let [i, t, tag] = rest {
            *i = idx;
            *t = ts_tag;
            *tag = TAG_MAC;
        }
        (siphash24(self.key, &msg) as u32) & 0x00ff_ffff
    }
}

/// The cookie time counter at `now`.
fn counter(now: Instant) -> u64 {
    now.secs() / COUNTER_PERIOD_SECS
}

impl core::fmt::Debug for SynCookies {
    /// Never prints the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SynCookies").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use lamina_netbuf::{Duration, SeededRng};

    fn local() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80)
    }
    fn remote() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000)
    }
    fn cookies() -> SynCookies {
        SynCookies::new(&mut SeededRng::new(42))
    }
    const PEER: SeqNumber = SeqNumber(0xdead_beef);
    const FULL: CookieParams = CookieParams {
        mss: 1460,
        window_scale: Some(7),
        sack_permitted: true,
    };

    #[test]
    fn round_trips_mss_window_scale_and_sack_with_timestamps() {
        // RFC 4987 §3.6: the cookie carries the SYN's essential state.
        let c = cookies();
        let now = Instant::from_secs(5000);
        for ws in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                let p = CookieParams {
                    mss: 1460,
                    window_scale: ws,
                    sack_permitted: sack,
                };
                let (isn, ts) = c.encode(local(), remote(), PEER, p, true, now);
                assert!(ts.is_some());
                assert_eq!(c.decode(local(), remote(), PEER, isn, ts, now), Some(p));
            }
        }
    }

    #[test]
    fn window_scale_above_14_is_capped() {
        // RFC 7323 §2.3: a shift above 14 is used as 14.
        let c = cookies();
        let now = Instant::from_secs(5000);
        let p = CookieParams {
            window_scale: Some(200),
            ..FULL
        };
        let (isn, ts) = c.encode(local(), remote(), PEER, p, true, now);
        let got = c.decode(local(), remote(), PEER, isn, ts, now).unwrap();
        assert_eq!(got.window_scale, Some(14));
    }

    #[test]
    fn without_timestamps_only_the_mss_survives() {
        let c = cookies();
        let now = Instant::from_secs(5000);
        let (isn, ts) = c.encode(local(), remote(), PEER, FULL, false, now);
        assert_eq!(ts, None);
        let got = c.decode(local(), remote(), PEER, isn, None, now).unwrap();
        assert_eq!(
            got,
            CookieParams {
                mss: 1460,
                window_scale: None,
                sack_permitted: false
            }
        );
        // A TSecr the peer made up (it never got a TSval) changes nothing.
        let got = c.decode(local(), remote(), PEER, isn, Some(0x1234_5677), now);
        assert_eq!(got.map(|p| p.window_scale), Some(None));
    }

    #[test]
    fn mss_rounds_down_to_the_table() {
        let c = cookies();
        let now = Instant::from_secs(5000);
        for (asked, got) in [
            (1460, 1460),
            (1380, 1360),
            (9000, 8960),
            (1500, 1460),
            (100, 536),
        ] {
            let p = CookieParams { mss: asked, ..FULL };
            let (isn, ts) = c.encode(local(), remote(), PEER, p, true, now);
            let d = c.decode(local(), remote(), PEER, isn, ts, now).unwrap();
            assert_eq!(d.mss, got, "{asked}");
        }
    }

    #[test]
    fn tsval_is_a_millisecond_clock_with_the_option_bits_below() {
        let c = cookies();
        let now = Instant::from_millis(1_000_077);
        let (_, ts) = c.encode(local(), remote(), PEER, FULL, true, now);
        let ts = ts.unwrap();
        assert_eq!(ts & !0x1f, 1_000_077 & !0x1f);
        assert_eq!(ts & 0x0f, 7);
        assert_eq!(ts & 0x10, 0x10);
    }

    #[test]
    fn accepts_for_one_counter_period_and_rejects_older_cookies() {
        // A cookie is good for 64 to 128 seconds ("about 2 minutes").
        let c = cookies();
        let t = Instant::from_secs(64 * 100 + 10);
        let (isn, ts) = c.encode(local(), remote(), PEER, FULL, true, t);
        let at = |s: u64| c.decode(local(), remote(), PEER, isn, ts, t + Duration::from_secs(s));
        assert_eq!(at(0), Some(FULL));
        assert_eq!(at(100), Some(FULL)); // next counter value
        assert_eq!(at(118), None); // two periods on
        assert_eq!(at(64 * 32), None); // the 5-bit counter wrapped
        // A cookie from the future is refused too.
        let before = t.checked_sub(Duration::from_secs(64)).unwrap();
        assert_eq!(c.decode(local(), remote(), PEER, isn, ts, before), None);
    }

    #[test]
    fn counter_wrap_between_encode_and_decode_is_accepted() {
        let c = cookies();
        let t = Instant::from_secs(64 * 31 + 60); // counter 31
        let (isn, ts) = c.encode(local(), remote(), PEER, FULL, true, t);
        let later = t + Duration::from_secs(10); // counter 32 (0 mod 32)
        assert_eq!(
            c.decode(local(), remote(), PEER, isn, ts, later),
            Some(FULL)
        );
    }

    #[test]
    fn rejects_another_tuple_peer_isn_key_or_missing_timestamps() {
        let c = cookies();
        let now = Instant::from_secs(5000);
        let (isn, ts) = c.encode(local(), remote(), PEER, FULL, true, now);
        let other = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 3), 40000);
        assert_eq!(c.decode(local(), other, PEER, isn, ts, now), None);
        assert_eq!(c.decode(local(), remote(), PEER + 1, isn, ts, now), None);
        let stranger = SynCookies::new(&mut SeededRng::new(43));
        assert_eq!(stranger.decode(local(), remote(), PEER, isn, ts, now), None);
        // RFC 7323 §3.2: timestamps negotiated but absent from the ACK.
        assert_eq!(c.decode(local(), remote(), PEER, isn, None, now), None);
    }

    #[test]
    fn tampered_option_bits_are_rejected() {
        // The MAC covers the TSval bits: a peer cannot claim options its
        // SYN did not offer.
        let c = cookies();
        let now = Instant::from_secs(5000);
        let p = CookieParams {
            window_scale: None,
            sack_permitted: false,
            ..FULL
        };
        let (isn, ts) = c.encode(local(), remote(), PEER, p, true, now);
        let ts = ts.unwrap();
        for forged in [ts ^ 0x10, (ts & !0x0f) | 3] {
            assert_eq!(
                c.decode(local(), remote(), PEER, isn, Some(forged), now),
                None
            );
        }
        // Only the low bits matter: a different clock part still decodes.
        assert_eq!(
            c.decode(local(), remote(), PEER, isn, Some(ts ^ 0x4000), now),
            Some(p)
        );
    }

    /// Property test: guessed or corrupted ISNs almost never pass (24-bit
    /// MAC), and cookies for different SYNs look unrelated.
    #[test]
    fn forged_cookies_are_rejected() {
        let c = cookies();
        let mut rng = SeededRng::new(0x5eed_000a);
        let now = Instant::from_secs(7777);
        let mut accepted = 0;
        for _ in 0..2000 {
            let peer = SeqNumber(rng.next_u32());
            let (isn, ts) = c.encode(local(), remote(), peer, FULL, true, now);
            assert_eq!(c.decode(local(), remote(), peer, isn, ts, now), Some(FULL));
            let flip = 1u32 << rng.below(32);
            if c.decode(
                local(),
                remote(),
                peer,
                SeqNumber(isn.get() ^ flip),
                ts,
                now,
            )
            .is_some()
            {
                accepted += 1;
            }
            if c.decode(local(), remote(), peer, SeqNumber(rng.next_u32()), ts, now)
                .is_some()
            {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0);
        let (a, _) = c.encode(local(), remote(), PEER, FULL, true, now);
        let (b, _) = c.encode(local(), remote(), PEER + 1, FULL, true, now);
        assert!((a.get() ^ b.get()).count_ones() > 4);
    }

    /// Property test: any parameters, 4-tuple, peer ISN and time round-trip
    /// (normalised: MSS to the table, WS capped at 14, options dropped
    /// without timestamps) while the cookie is fresh.
    #[test]
    fn random_parameters_round_trip() {
        let mut rng = SeededRng::new(0x5eed_000e);
        for _ in 0..2000 {
            let c = SynCookies::new(&mut rng);
            let ip = |r: &mut SeededRng| Ipv4Addr::from(r.next_u32());
            let l = SocketAddrV4::new(ip(&mut rng), rng.next_u32() as u16);
            let r = SocketAddrV4::new(ip(&mut rng), rng.next_u32() as u16);
            let peer = SeqNumber(rng.next_u32());
            let p = CookieParams {
                mss: rng.next_u32() as u16,
                window_scale: (rng.below(2) == 0).then(|| rng.below(20) as u8),
                sack_permitted: rng.below(2) == 0,
            };
            let has_ts = rng.below(2) == 0;
            let now = Instant::from_micros(rng.next_u64() >> 12);
            let (isn, ts) = c.encode(l, r, peer, p, has_ts, now);
            let later = now + Duration::from_secs(u64::from(rng.below(64)));
            let mss = MSS_TABLE
                .iter()
                .rev()
                .copied()
                .find(|&m| m <= p.mss)
                .unwrap_or(536);
            let expect = CookieParams {
                mss,
                window_scale: if has_ts {
                    p.window_scale.map(|w| w.min(14))
                } else {
                    None
                },
                sack_permitted: has_ts && p.sack_permitted,
            };
            assert_eq!(c.decode(l, r, peer, isn, ts, later), Some(expect));
        }
    }
}
