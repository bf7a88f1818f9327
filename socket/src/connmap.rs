//! The TCP demultiplexing table: connection keys (local and remote
//! address packed into a `u128`) to socket slots, in one open-addressing
//! array with linear probing.
//!
//! Every received segment looks its connection up here, so the lookup is
//! one keyed hash and, usually, one cache line: a search tree costs a
//! comparison per level and a cache miss per node once thousands of
//! connections are open. The hash is keyed with a secret (the folded
//! 128-bit product of the key's halves, each mixed with a secret word), so
//! a peer choosing its addresses and ports cannot aim them at one chain
//! (hash flooding) without seeing inside the host; Linux keys its
//! connection hash the same way.
//!
//! Bounds: the table holds at most as many entries as the socket set has
//! slots (one per connected socket); its array doubles when half full and
//! never shrinks, so it is at most four times the most connections open
//! at once (an entry: the 128-bit key and a 32-bit slot), and lookups
//! stay short. Removal shifts the following entries of the chain back (no
//! tombstones), so a long-lived table never degrades.

use alloc::vec::Vec;

/// An empty entry's value.
const EMPTY: u32 = u32::MAX;

/// The array length of a new table.
const INITIAL: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u128,
    /// The slot, or [`EMPTY`].
    value: u32,
}

const VACANT: Entry = Entry {
    key: 0,
    value: EMPTY,
};

/// Connection keys to slots; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct ConnMap {
    entries: Vec<Entry>,
    len: usize,
    /// The hash's secret words.
    seed: [u64; 2],
}

impl ConnMap {
    /// An empty table whose hash is keyed with `seed` (secret, random).
    pub(crate) fn new(seed: [u64; 2]) -> ConnMap {
        ConnMap {
            entries: Vec::new(),
            len: 0,
            seed,
        }
    }

    /// Entries in the table.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    /// Where `key`'s chain starts.
    #[inline]
    fn home(&self, key: u128) -> usize {
        let a = (key as u64) ^ self.seed[0];
        let b = ((key >> 64) as u64) ^ self.seed[1];
        let p = u128::from(a) * u128::from(b);
        let h = (p as u64) ^ ((p >> 64) as u64);
        // The high bits mix the most input bits: fold them down.
        ((h ^ (h >> 29)) as usize) & self.mask()
    }

    /// The position of `key`, if present.
    #[inline]
    fn find(&self, key: u128) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let e = self.entries.get(i)?;
            if e.value == EMPTY {
                return None;
            }
            if e.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot of `key`.
    #[inline]
    pub(crate) fn get(&self, key: u128) -> Option<u32> {
        self.find(key)
            .and_then(|i| self.entries.get(i))
            .map(|e| e.value)
    }

    /// Whether `key` is present.
    #[inline]
    pub(crate) fn contains_key(&self, key: u128) -> bool {
        self.find(key).is_some()
    }

    /// Sets `key`'s slot to `value` (below `u32::MAX`), replacing any.
    pub(crate) fn insert(&mut self, key: u128, value: u32) {
        debug_assert!(value != EMPTY);
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(key);
        while let Some(e) = self.entries.get_mut(i) {
            if e.value == EMPTY {
                *e = Entry { key, value };
                self.len += 1;
                return;
            }
            if e.key == key {
                e.value = value;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `key`; returns its slot.
    pub(crate) fn remove(&mut self, key: u128) -> Option<u32> {
        let mut hole = self.find(key)?;
        let mask = self.mask();
        let value = self.entries.get(hole)?.value;
        // Backward shift: an entry after the hole moves into it unless its
        // chain starts after the hole (cyclically), where it already is
        // reachable without crossing the hole.
        let mut i = (hole + 1) & mask;
        while let Some(&e) = self.entries.get(i) {
            if e.value == EMPTY {
                break;
            }
            let home = self.home(e.key);
            // Distance from home to i, and from home to the hole.
            if (i.wrapping_sub(home) & mask) >= (hole.wrapping_sub(home) & mask) {
                if let Some(h) = self.entries.get_mut(hole) {
                    *h = e;
                }
                hole = i;
            }
            i = (i + 1) & mask;
        }
        if let Some(h) = self.entries.get_mut(hole) {
            *h = VACANT;
        }
        self.len -= 1;
        Some(value)
    }

    /// Doubles the array (or makes the first) and reinserts everything.
    fn grow(&mut self) {
        let size = (self.entries.len() * 2).max(INITIAL);
        let old = core::mem::replace(&mut self.entries, alloc::vec![VACANT; size]);
        self.len = 0;
        for e in old {
            if e.value != EMPTY {
                self.insert(e.key, e.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use lamina_netbuf::{Rng, SeededRng};

    /// Every chain is intact: each entry is reachable from its home
    /// without crossing an empty entry.
    fn check_chains(m: &ConnMap) {
        let mask = m.mask();
        for (i, e) in m.entries.iter().enumerate() {
            if e.value == EMPTY {
                continue;
            }
            let mut j = m.home(e.key);
            while j != i {
                assert_ne!(m.entries[j].value, EMPTY, "entry {i} cut off from its home");
                j = (j + 1) & mask;
            }
        }
    }

    #[test]
    fn random_inserts_and_removes_agree_with_an_ordered_map() {
        for seed in 0..8u64 {
            let mut rng = SeededRng::new(seed);
            let mut m = ConnMap::new([rng.next_u64(), rng.next_u64()]);
            let mut model = BTreeMap::new();
            // Few distinct keys (many collisions of the same key) in some
            // rounds, many in others.
            let spread = [8u64, 64, 4096, u64::MAX][(seed % 4) as usize];
            for step in 0..20_000u32 {
                let key = (u128::from(rng.next_u64() % spread) << 40) | 0xc000_0201;
                match rng.next_u64() % 3 {
                    0 | 1 => {
                        m.insert(key, step);
                        model.insert(key, step);
                    }
                    _ => assert_eq!(m.remove(key), model.remove(&key)),
                }
                assert_eq!(m.get(key), model.get(&key).copied());
                if step % 997 == 0 {
                    check_chains(&m);
                    for (k, v) in &model {
                        assert_eq!(m.get(*k), Some(*v));
                    }
                }
            }
            assert_eq!(m.len(), model.len());
            check_chains(&m);
            for (k, v) in &model {
                assert_eq!(m.get(*k), Some(*v));
                assert!(m.contains_key(*k));
            }
        }
    }

    #[test]
    fn the_array_stays_at_most_half_full_and_removal_empties_it() {
        let mut m = ConnMap::new([1, 2]);
        assert_eq!(m.get(5), None);
        assert_eq!(m.remove(5), None);
        for k in 0..10_000u128 {
            m.insert(k * 0x1_0001, k as u32);
            assert!(m.len() * 2 <= m.entries.len());
        }
        assert_eq!(m.entries.len(), 32_768);
        for k in 0..10_000u128 {
            assert_eq!(m.remove(k * 0x1_0001), Some(k as u32));
        }
        assert_eq!(m.len(), 0);
        assert!(m.entries.iter().all(|e| e.value == EMPTY));
    }

    #[test]
    fn keys_of_one_server_spread_over_the_array() {
        // A server's connections differ only in the remote address and
        // port: they must not pile up in a few chains.
        let mut rng = SeededRng::new(7);
        let mut m = ConnMap::new([rng.next_u64(), rng.next_u64()]);
        let local = (u128::from(0xc000_0202u32) << 64) | (80u128 << 48);
        for i in 0..4096u128 {
            let remote = (u128::from(0xc000_0300u32 + (i as u32 >> 8)) << 16) | (1024 + i % 256);
            m.insert(local | remote, i as u32);
        }
        let mask = m.mask();
        let longest = m
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.value != EMPTY)
            .map(|(i, e)| (i.wrapping_sub(m.home(e.key)) & mask) + 1)
            .max()
            .unwrap_or(0);
        assert!(longest < 40, "a probe of {longest} entries");
    }
}
