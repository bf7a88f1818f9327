//! The destination cache: the routing decision and the next hop's
//! hardware address for recently used destinations, so that a datagram
//! on a hot path costs two array probes instead of a trie walk and a
//! neighbor-cache search (Linux keeps the same in its `dst_entry`s).
//!
//! Entries are never trusted beyond what made them: a route entry holds
//! while the interface's route epoch is unchanged (bumped by every change
//! of routes, addresses or devices); a hardware address holds while its
//! neighbor cache's [`epoch`](lamina_arp::NeighborCache::epoch) is
//! unchanged and, for a REACHABLE entry, until its reachable time ends
//! ([`lookup_cacheable`](lamina_arp::NeighborCache::lookup_cacheable));
//! for an entry watched on every use (STALE, DELAY, PROBE), at the same
//! instant only (a repeated lookup then would change nothing).
//! Both caches are direct-mapped and fixed in size: a collision just
//! replaces the older entry.

use core::net::Ipv4Addr;

use lamina_ethernet::MacAddr;
use lamina_netbuf::Instant;

/// Route entries kept (a power of two).
const ROUTE_SLOTS: usize = 64;
/// Hardware-address entries kept per device (a power of two).
const MAC_SLOTS: usize = 16;

/// A routing decision: the device, the next hop and the route's MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteHit {
    pub(crate) port: usize,
    pub(crate) next_hop: Ipv4Addr,
    pub(crate) mtu: Option<u16>,
}

#[derive(Debug, Clone, Copy)]
struct RouteSlot {
    dst: Ipv4Addr,
    /// The route epoch the entry was made in; 0 never matches.
    epoch: u64,
    hit: RouteHit,
}

/// Recent routing decisions by destination.
#[derive(Debug, Clone)]
pub(crate) struct RouteCache {
    slots: [RouteSlot; ROUTE_SLOTS],
    /// The current epoch, starting at 1.
    epoch: u64,
}

/// Slot of `ip` in a table of `n` (a power of two) entries: a
/// multiplicative hash, so that neighbouring addresses spread out.
#[inline]
fn slot_of(ip: Ipv4Addr, n: usize) -> usize {
    let h = ip.to_bits().wrapping_mul(0x9e37_79b1);
    (h >> (32 - n.trailing_zeros())) as usize
}

impl RouteCache {
    pub(crate) fn new() -> RouteCache {
        RouteCache {
            slots: [RouteSlot {
                dst: Ipv4Addr::UNSPECIFIED,
                epoch: 0,
                hit: RouteHit {
                    port: 0,
                    next_hop: Ipv4Addr::UNSPECIFIED,
                    mtu: None,
                },
            }; ROUTE_SLOTS],
            epoch: 1,
        }
    }

    /// Forgets every entry (routes, addresses or devices changed).
    pub(crate) fn invalidate(&mut self) {
        self.epoch = self.epoch.wrapping_add(1).max(1);
    }

    /// The cached decision for `dst`, if still valid, where it lies
    /// (callers on the hot path read its fields there: a copy of the
    /// whole `Option` went through the stack and its `None` test read
    /// part of it back, a store-forwarding stall).
    #[inline(always)]
    pub(crate) fn get(&self, dst: Ipv4Addr) -> Option<&RouteHit> {
        let s = self.slots.get(slot_of(dst, ROUTE_SLOTS))?;
        (s.epoch == self.epoch && s.dst == dst).then_some(&s.hit)
    }

    /// Remembers the decision for `dst`.
    #[inline]
    pub(crate) fn put(&mut self, dst: Ipv4Addr, hit: RouteHit) {
        let epoch = self.epoch;
        if let Some(s) = self.slots.get_mut(slot_of(dst, ROUTE_SLOTS)) {
            *s = RouteSlot { dst, epoch, hit };
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct MacSlot {
    ip: Ipv4Addr,
    /// Whether the slot holds an entry at all.
    used: bool,
    /// The neighbor cache's epoch when made.
    epoch: u64,
    /// Valid before this instant (at it only, with `instant`); `None`:
    /// until the epoch changes.
    until: Option<Instant>,
    /// Valid at the instant `until` only: an entry the neighbor cache
    /// watches on every use (STALE, DELAY, PROBE), whose lookup, repeated
    /// at the same instant under the same epoch, changes nothing.
    instant: bool,
    mac: MacAddr,
}

/// Recent next-hop hardware addresses of one device.
#[derive(Debug, Clone)]
pub(crate) struct MacCache {
    slots: [MacSlot; MAC_SLOTS],
}

impl MacCache {
    pub(crate) fn new() -> MacCache {
        MacCache {
            slots: [MacSlot {
                ip: Ipv4Addr::UNSPECIFIED,
                used: false,
                epoch: 0,
                until: None,
                instant: false,
                mac: MacAddr::UNSPECIFIED,
            }; MAC_SLOTS],
        }
    }

    /// The cached address of `ip`, if still valid for `epoch` at `now`.
    #[inline(always)]
    pub(crate) fn get(&self, ip: Ipv4Addr, epoch: u64, now: Instant) -> Option<MacAddr> {
        let s = self.slots.get(slot_of(ip, MAC_SLOTS))?;
        let fresh = match s.until {
            None => true,
            Some(u) if s.instant => now == u,
            Some(u) => now < u,
        };
        (s.used && s.epoch == epoch && s.ip == ip && fresh).then_some(s.mac)
    }

    /// Remembers `mac` for `ip` (as `lookup_cacheable` answered under
    /// `epoch`). Answers valid only at this instant are kept for this
    /// instant: a batch of datagrams to a neighbor in DELAY looks it up
    /// once.
    #[inline]
    pub(crate) fn put(
        &mut self,
        ip: Ipv4Addr,
        epoch: u64,
        mac: MacAddr,
        until: Option<Instant>,
        now: Instant,
    ) {
        if until.is_some_and(|u| u < now) {
            return;
        }
        if let Some(s) = self.slots.get_mut(slot_of(ip, MAC_SLOTS)) {
            *s = MacSlot {
                ip,
                used: true,
                epoch,
                until,
                instant: until == Some(now),
                mac,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(x: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, x)
    }

    #[test]
    fn a_route_entry_holds_until_the_epoch_changes() {
        let mut c = RouteCache::new();
        assert_eq!(c.get(ip(9)), None);
        let hit = RouteHit {
            port: 1,
            next_hop: ip(1),
            mtu: Some(1400),
        };
        c.put(ip(9), hit);
        assert_eq!(c.get(ip(9)), Some(&hit));
        assert_eq!(c.get(ip(10)), None);
        c.invalidate();
        assert_eq!(c.get(ip(9)), None);
    }

    #[test]
    fn a_mac_entry_holds_for_its_epoch_and_time_only() {
        let mut c = MacCache::new();
        let mac = MacAddr::new(2, 0, 0, 0, 0, 9);
        let t = Instant::from_micros(1000);
        c.put(ip(9), 7, mac, Some(Instant::from_micros(2000)), t);
        assert_eq!(c.get(ip(9), 7, t), Some(mac));
        assert_eq!(c.get(ip(9), 8, t), None, "the neighbor cache changed");
        assert_eq!(c.get(ip(9), 7, Instant::from_micros(2000)), None, "expired");
        // Valid only now (a DELAY entry: another lookup at the same
        // instant changes nothing in the neighbor cache): kept for this
        // instant, not the next.
        c.put(ip(10), 7, mac, Some(t), t);
        assert_eq!(c.get(ip(10), 7, t), Some(mac));
        assert_eq!(c.get(ip(10), 7, Instant::from_micros(1001)), None);
        assert_eq!(c.get(ip(10), 8, t), None, "the neighbor cache changed");
        // Already past: not kept.
        c.put(ip(12), 7, mac, Some(t), Instant::from_micros(1001));
        assert_eq!(c.get(ip(12), 7, Instant::from_micros(1001)), None);
        // Static: kept until the epoch moves.
        c.put(ip(11), 7, mac, None, t);
        assert_eq!(
            c.get(ip(11), 7, Instant::from_micros(u64::MAX / 2)),
            Some(mac)
        );
    }

    #[test]
    fn the_initial_slots_never_match() {
        let r = RouteCache::new();
        assert_eq!(r.get(Ipv4Addr::UNSPECIFIED), None);
        let m = MacCache::new();
        assert_eq!(m.get(Ipv4Addr::UNSPECIFIED, u64::MAX, Instant::ZERO), None);
    }
}
