//! A small open-addressing hash map keyed by port: linear probing,
//! Fibonacci hashing, backward-shift deletion, at most half full. Lookups
//! touch one or two slots on average, whatever the number of ports.

use alloc::vec::Vec;

/// The smallest table allocated.
const MIN_SLOTS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct PortMap<V> {
    slots: Vec<Option<(u16, V)>>,
    /// log2(slots.len()), when allocated.
    bits: u32,
    len: usize,
}

impl<V> PortMap<V> {
    pub(crate) const fn new() -> PortMap<V> {
        PortMap {
            slots: Vec::new(),
            bits: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The home slot of `port` (the table must be allocated).
    #[inline]
    fn home(&self, port: u16) -> usize {
        // Fibonacci hashing: the top `bits` bits of port × 2^32/φ.
        let h = u32::from(port).wrapping_mul(0x9e37_79b9);
        (h >> (32 - self.bits)) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `port`, if any.
    #[inline]
    fn find(&self, port: u16) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(port);
        loop {
            match self.slots.get(i)? {
                None => return None,
                Some((p, _)) if *p == port => return Some(i),
                Some(_) => i = (i + 1) & self.mask(),
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, port: u16) -> Option<&V> {
        let i = self.find(port)?;
        self.slots.get(i)?.as_ref().map(|(_, v)| v)
    }

    #[inline]
    pub(crate) fn contains(&self, port: u16) -> bool {
        self.find(port).is_some()
    }

    pub(crate) fn get_mut(&mut self, port: u16) -> Option<&mut V> {
        let i = self.find(port)?;
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    /// The value of `port`, inserted with `make` if absent. `None` only
    /// if the table could not take it (it always can: it is kept at most
    /// half full).
    pub(crate) fn get_or_insert_with(
        &mut self,
        port: u16,
        make: impl FnOnce() -> V,
    ) -> Option<&mut V> {
        let i = match self.find(port) {
            Some(i) => i,
            None => {
                if (self.len + 1) * 2 > self.slots.len() {
                    self.grow();
                }
                let mut i = self.home(port);
                while matches!(self.slots.get(i), Some(Some(_))) {
                    i = (i + 1) & self.mask();
                }
                *self.slots.get_mut(i)? = Some((port, make()));
                self.len += 1;
                i
            }
        };
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    /// Removes `port`, shifting later members of its probe run back so
    /// that no tombstones are needed.
    pub(crate) fn remove(&mut self, port: u16) -> Option<V> {
        let mut hole = self.find(port)?;
        let (_, value) = self.slots.get_mut(hole)?.take()?;
        self.len -= 1;
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        while let Some(Some((p, _))) = self.slots.get(j) {
            let home = self.home(*p);
            // Move the entry at `j` into the hole unless its home lies
            // cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                let moved = self.slots.get_mut(j).and_then(Option::take);
                if let Some(slot) = self.slots.get_mut(hole) {
                    *slot = moved;
                }
                hole = j;
            }
            j = (j + 1) & mask;
        }
        Some(value)
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = core::mem::take(&mut self.slots);
        self.slots.resize_with(new_len, || None);
        self.bits = new_len.trailing_zeros();
        for (port, v) in old.into_iter().flatten() {
            let mut i = self.home(port);
            while matches!(self.slots.get(i), Some(Some(_))) {
                i = (i + 1) & self.mask();
            }
            if let Some(slot) = self.slots.get_mut(i) {
                *slot = Some((port, v));
            }
        }
    }

    /// Every port and its value, in no particular order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &V)> {
        self.slots.iter().flatten().map(|(p, v)| (*p, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use lamina_netbuf::{Rng, SeededRng};

    /// Property: random inserts and removes agree with a BTreeMap, and
    /// the table never gets more than half full.
    #[test]
    fn agrees_with_a_btreemap_under_random_operations() {
        let mut rng = SeededRng::new(0x90a7);
        for round in 0..20 {
            let mut map = PortMap::new();
            let mut model = BTreeMap::new();
            // Small key spaces force long probe runs and wrap-around.
            let space = [64u32, 1000, 65536][round % 3];
            for step in 0..4000u32 {
                let port = rng.below(space) as u16;
                if rng.below(3) == 0 {
                    assert_eq!(map.remove(port), model.remove(&port));
                } else {
                    *map.get_or_insert_with(port, || 0).unwrap() += step;
                    *model.entry(port).or_insert(0) += step;
                }
                assert_eq!(map.len(), model.len());
                assert!(map.len() * 2 <= map.slots.len().max(1));
            }
            for (p, v) in &model {
                assert_eq!(map.get(*p), Some(v));
            }
            let mut seen: Vec<_> = map.iter().map(|(p, v)| (p, *v)).collect();
            seen.sort_unstable();
            assert_eq!(seen, model.into_iter().collect::<Vec<_>>());
        }
    }
}
