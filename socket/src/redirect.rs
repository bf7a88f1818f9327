//! Next hops learned from ICMP Redirects (RFC 1122 §3.2.2.2, §3.3.1.2):
//! for one destination, a better first-hop router on the same link, for
//! a while.
//!
//! The table is small and bounded ([`Redirects::MAX`] destinations): a
//! redirect for a destination already there replaces its entry; one for
//! a new destination when the table is full takes the place of the entry
//! closest to expiry. Lookups scan it, but only on a destination-cache
//! miss (the cache is emptied whenever an entry comes or goes).

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use lamina_netbuf::{Duration, Instant};

/// One learned next hop.
#[derive(Debug, Clone, Copy)]
struct Learned {
    dst: Ipv4Addr,
    gateway: Ipv4Addr,
    port: usize,
    expires: Instant,
}

/// The learned next hops of an `Interface`.
#[derive(Debug, Default)]
pub(crate) struct Redirects {
    entries: Vec<Learned>,
    /// The earliest expiry, kept for the idle check.
    next: Option<Instant>,
}

impl Redirects {
    /// Destinations the table holds at most.
    pub(crate) const MAX: usize = 64;

    /// How long a learned next hop is used (as Linux keeps a redirect's
    /// route exception: its `gc_timeout`, five minutes) unless another
    /// redirect renews it.
    pub(crate) const LIFETIME: Duration = Duration::from_secs(300);

    /// The device and next hop learned for `dst`, if any.
    pub(crate) fn get(&self, dst: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
        self.entries
            .iter()
            .find(|e| e.dst == dst)
            .map(|e| (e.port, e.gateway))
    }

    /// Learns `gateway` on device `port` as the next hop for `dst` until
    /// `now` plus [`LIFETIME`](Self::LIFETIME).
    pub(crate) fn learn(&mut self, dst: Ipv4Addr, gateway: Ipv4Addr, port: usize, now: Instant) {
        let e = Learned {
            dst,
            gateway,
            port,
            expires: now.saturating_add(Self::LIFETIME),
        };
        if let Some(old) = self.entries.iter_mut().find(|o| o.dst == dst) {
            *old = e;
        } else if self.entries.len() < Self::MAX {
            self.entries.push(e);
        } else if let Some(oldest) = self.entries.iter_mut().min_by_key(|o| o.expires) {
            *oldest = e;
        }
        self.next = self.entries.iter().map(|o| o.expires).min();
    }

    /// The earliest expiry.
    #[inline]
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.next
    }

    /// Forgets what expired by `now`; whether anything did.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.expires > now);
        self.next = self.entries.iter().map(|o| o.expires).min();
        self.entries.len() != before
    }

    /// Learned destinations.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(203, 0, 113, n)
    }

    #[test]
    fn a_full_table_replaces_the_entry_closest_to_expiry() {
        let gw = Ipv4Addr::new(192, 0, 2, 2);
        let mut r = Redirects::default();
        for i in 0..Redirects::MAX {
            r.learn(ip(i as u8), gw, 0, Instant::from_secs(i as u64));
        }
        assert_eq!(r.len(), Redirects::MAX);
        r.learn(ip(200), gw, 0, Instant::from_secs(1000));
        assert_eq!(r.len(), Redirects::MAX);
        assert_eq!(r.get(ip(0)), None, "the oldest went");
        assert_eq!(r.get(ip(200)), Some((0, gw)));
        // A renewal replaces in place.
        let gw2 = Ipv4Addr::new(192, 0, 2, 3);
        r.learn(ip(1), gw2, 0, Instant::from_secs(1000));
        assert_eq!(r.len(), Redirects::MAX);
        assert_eq!(r.get(ip(1)), Some((0, gw2)));
        assert_eq!(
            r.next_expiry(),
            Some(Instant::from_secs(2).saturating_add(Redirects::LIFETIME))
        );
    }

    #[test]
    fn entries_expire_after_their_lifetime() {
        let gw = Ipv4Addr::new(192, 0, 2, 2);
        let mut r = Redirects::default();
        r.learn(ip(1), gw, 0, Instant::ZERO);
        r.learn(ip(2), gw, 0, Instant::from_secs(100));
        let first = Instant::ZERO.saturating_add(Redirects::LIFETIME);
        assert_eq!(r.next_expiry(), Some(first));
        assert!(!r.expire(Instant::from_secs(299)));
        assert!(r.expire(first));
        assert_eq!((r.get(ip(1)), r.len()), (None, 1));
        assert!(r.expire(Instant::from_secs(400)));
        assert_eq!((r.len(), r.next_expiry()), (0, None));
    }
}
