//! Reassembly of fragmented datagrams (RFC 791 §3.2, RFC 1122 §3.3.2),
//! bounded and strict about overlaps (RFC 5722 applied to IPv4, as Linux
//! does).
//!
//! A [`Reassembler`] collects fragments by their key (source,
//! destination, protocol, identification: [`FragmentKey`]) and hands
//! back each datagram once every byte of it has arrived, in one owned
//! buffer: the first fragment's header, with More Fragments and the
//! offset cleared, the total length set and the checksum recomputed,
//! followed by the contiguous payload.
//!
//! # Calling protocol
//!
//! - For each received datagram that [`is_fragment`](Ipv4Packet::is_fragment)
//!   and is addressed to this host (after its header checksum was
//!   verified), call [`push`](Reassembler::push) with the current time.
//!   [`Reassembly::Complete`] hands back the whole datagram, to deliver
//!   as if it had arrived unfragmented; [`Reassembly::Held`] means more
//!   fragments are awaited; [`Reassembly::Dropped`] says why the fragment
//!   was dropped, and whether its datagram went with it.
//! - Whenever the time reaches [`poll_at`](Reassembler::poll_at), call
//!   [`poll_timeout`](Reassembler::poll_timeout) until it returns `None`.
//!   Each [`Expired`] datagram that had its first fragment carries that
//!   fragment: send its source an ICMP Time Exceeded, code 1 (fragment
//!   reassembly time exceeded), quoting it (RFC 792; RFC 1122 §3.3.2:
//!   only if fragment zero was received).
//!
//! Time only moves through those calls; nothing happens between them.
//!
//! # Overlaps and other inconsistencies
//!
//! A fragment that overlaps one already held, by any amount and whatever
//! its bytes, discards the whole datagram: the "teardrop" family of
//! attacks and the ambiguity of which copy wins (used to slip data past
//! inspection) both disappear. RFC 5722 §4 requires this for IPv6; Linux
//! has applied it to IPv4 since 4.19 and so does this reassembler. The
//! datagram's key is then blacklisted until the datagram's own timeout,
//! so later fragments of it are dropped rather than starting it afresh.
//! The same happens, for a datagram with fragments held, to a fragment
//! that is empty, carries data past 65535 bytes, or disagrees about where
//! the datagram ends (two different last fragments, data past the last
//! one); a fragment with More Fragments whose length is not a multiple
//! of 8 is invalid too (RFC 791 §3.2; Linux trims it instead).
//!
//! An exact duplicate (same offset, same length, same bytes) is tolerated
//! and dropped, keeping the datagram: retransmissions and duplicating
//! links produce those. A fragment of the same offset and length with
//! different bytes counts as an overlap. (Linux also ignores, without
//! comparing bytes, a fragment lying wholly inside data already held;
//! this reassembler treats that as an overlap.)
//!
//! # Bounds
//!
//! - At most [`max_datagrams`](ReassemblyConfig::max_datagrams)
//!   datagrams, blacklisted keys included; a new datagram beyond that
//!   evicts the oldest (the one whose timeout comes first).
//! - At most [`max_bytes`](ReassemblyConfig::max_bytes) charged to held
//!   fragments: each costs its payload plus [`FRAGMENT_OVERHEAD`] bytes
//!   (its allocation and bookkeeping), so floods of tiny fragments count.
//!   A fragment that would exceed it evicts the oldest other datagrams
//!   until it fits; if it cannot fit at all, its datagram is discarded.
//! - At most [`max_fragments`](ReassemblyConfig::max_fragments)
//!   fragments a datagram (FreeBSD's `maxfragsperpacket`); one more
//!   discards it.
//! - Datagrams end at 65535 bytes (RFC 791 §3.1).
//! - Each datagram lives at most [`timeout`](ReassemblyConfig::timeout)
//!   after its first fragment arrived (30 s, Linux's `ipfrag_time`; RFC
//!   1122 §3.3.2 suggests 60 to 120 s).
//!
//! Memory is therefore at most `max_bytes` of fragments plus about 150
//! bytes and `16 × max_fragments` bytes of bookkeeping per datagram.
//! Evictions are counted; every datagram given up is counted in
//! [`reasm_fails`](ReassemblyStats::reasm_fails) (RFC 2011
//! `ipReasmFails`).
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::fragment::Fragmenter;
//! use lamina_ipv4::reassembly::{Reassembler, ReassemblyConfig, Reassembly};
//! use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
//! use lamina_netbuf::{Instant, Serializer};
//!
//! let repr = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2), IpProtocol::UDP);
//! let payload = [9u8; 2000];
//! let fragments: Vec<Vec<u8>> = Fragmenter::new(&repr, &payload, 576)?
//!     .map(|f| f.serialize_vec(0).unwrap().into_vec())
//!     .collect();
//!
//! let mut r = Reassembler::new(ReassemblyConfig::default());
//! let now = Instant::from_secs(1);
//! let mut done = None;
//! for f in fragments.iter().rev() {
//!     match r.push(&Ipv4Packet::parse_verified(f)?, now) {
//!         Reassembly::Complete(d) => done = Some(d),
//!         Reassembly::Held => {}
//!         Reassembly::Dropped(why) => panic!("{why:?}"),
//!     }
//! }
//! let d = done.unwrap();
//! let p = Ipv4Packet::parse_verified(d.as_slice())?;
//! assert!(!p.is_fragment());
//! assert_eq!(p.payload(), &payload[..]);
//! assert_eq!(r.stats().reasm_oks, 1);
//! assert_eq!(r.poll_at(), None);
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use lamina_netbuf::checksum;
use lamina_netbuf::{Duration, Instant, PacketBuf};

use crate::{FragmentKey, IPV4_MAX_HEADER_LEN, IPV4_MAX_PACKET_LEN, Ipv4Packet};

/// Bytes charged for each held fragment on top of its payload.
pub const FRAGMENT_OVERHEAD: usize = 64;

/// Linux's `ipfrag_time`: how long a datagram may take to complete.
pub const DEFAULT_REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReassemblyConfig {
    /// Datagrams in reassembly or blacklisted at once. Default 256.
    pub max_datagrams: usize,
    /// Bytes charged to held fragments (payload plus
    /// [`FRAGMENT_OVERHEAD`] each). Default 4 MiB, Linux's
    /// `ipfrag_high_thresh`.
    pub max_bytes: usize,
    /// Fragments a datagram may have. Default 64.
    pub max_fragments: usize,
    /// Time from a datagram's first fragment to its abandonment. Default
    /// [`DEFAULT_REASSEMBLY_TIMEOUT`].
    pub timeout: Duration,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_datagrams: 256,
            max_bytes: 4 << 20,
            max_fragments: 64,
            timeout: DEFAULT_REASSEMBLY_TIMEOUT,
        }
    }
}

/// Counters, named after RFC 2011's IP-MIB objects where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReassemblyStats {
    /// Fragments received (`ipReasmReqds`).
    pub reasm_reqds: u64,
    /// Datagrams reassembled (`ipReasmOKs`).
    pub reasm_oks: u64,
    /// Datagrams given up for any reason: timeout, overlap, invalid
    /// fragment, eviction, no room (`ipReasmFails`).
    pub reasm_fails: u64,
    /// Datagrams that timed out.
    pub reasm_timeouts: u64,
    /// Datagrams discarded for overlapping fragments (Linux's
    /// `ReasmOverlaps`).
    pub reasm_overlaps: u64,
    /// Datagrams evicted to make room.
    pub reasm_evictions: u64,
    /// Exact duplicate fragments dropped.
    pub duplicates: u64,
    /// Fragments dropped because their datagram was blacklisted.
    pub blacklisted: u64,
    /// Fragments dropped as invalid in themselves (truncated, empty,
    /// misaligned, past 65535 bytes).
    pub invalid: u64,
}

/// Why [`Reassembler::push`] dropped a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FragmentDrop {
    /// The datagram is not a fragment (deliver it as it is).
    NotAFragment,
    /// The view is truncated (from `parse_truncated`).
    Truncated,
    /// An exact duplicate of a fragment held; the datagram is kept.
    Duplicate,
    /// Its datagram was discarded earlier and its key is blacklisted
    /// until that datagram's timeout.
    Blacklisted,
    /// It overlaps a fragment held (or repeats one with other bytes).
    Overlap,
    /// It carries no data.
    ZeroLength,
    /// More Fragments is set and its length is not a multiple of 8 (RFC
    /// 791 §3.2).
    Misaligned,
    /// Its data ends past what a 65535-byte datagram can hold.
    TooLong,
    /// It disagrees with fragments held about where the datagram ends.
    Inconsistent,
    /// The datagram would have more than the configured fragments.
    TooManyFragments,
    /// The datagram cannot fit in the configured bytes.
    NoRoom,
}

impl FragmentDrop {
    /// Whether the fragment's datagram, if it had fragments held, was
    /// discarded with it and its key blacklisted.
    pub fn discards_datagram(&self) -> bool {
        !matches!(
            self,
            FragmentDrop::NotAFragment
                | FragmentDrop::Truncated
                | FragmentDrop::Duplicate
                | FragmentDrop::Blacklisted
        )
    }
}

/// What became of a fragment given to [`Reassembler::push`].
#[derive(Debug)]
pub enum Reassembly {
    /// It completed its datagram, handed back whole (header and payload).
    Complete(PacketBuf),
    /// It is held until the rest arrives.
    Held,
    /// It was dropped.
    Dropped(FragmentDrop),
}

/// A datagram abandoned at its timeout, from
/// [`Reassembler::poll_timeout`].
#[derive(Debug)]
pub struct Expired {
    /// Its key.
    pub key: FragmentKey,
    /// Its first fragment (header and data), if it arrived: the caller
    /// sends ICMP Time Exceeded, code 1, quoting it (RFC 792, RFC 1122
    /// §3.3.2). `None`: no ICMP message.
    pub first_fragment: Option<PacketBuf>,
}

#[derive(Debug)]
struct Piece {
    start: usize,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> usize {
        self.start + self.data.len()
    }
}

#[derive(Debug)]
struct Datagram {
    /// The first fragment's header, `header_len` bytes of it (0: not yet
    /// received).
    header: [u8; IPV4_MAX_HEADER_LEN],
    header_len: usize,
    /// Sorted by start, never overlapping.
    pieces: Vec<Piece>,
    /// The payload length, once the last fragment arrived.
    total: Option<usize>,
    received: usize,
    charged: usize,
}

impl Datagram {
    fn new() -> Datagram {
        Datagram {
            header: [0; IPV4_MAX_HEADER_LEN],
            header_len: 0,
            pieces: Vec::new(),
            total: None,
            received: 0,
            charged: 0,
        }
    }

    fn max_end(&self) -> usize {
        self.pieces.last().map_or(0, Piece::end)
    }

    /// Where a fragment of `start..end` goes, or why it cannot.
    fn place(
        &self,
        start: usize,
        end: usize,
        hl: usize,
        mf: bool,
        data: &[u8],
        max_fragments: usize,
    ) -> Result<Place, FragmentDrop> {
        let first_hl = if start == 0 || self.header_len == 0 {
            hl
        } else {
            self.header_len
        };
        let far = end.max(self.max_end()).max(self.total.unwrap_or(0));
        if far + first_hl > IPV4_MAX_PACKET_LEN {
            return Err(FragmentDrop::TooLong);
        }
        if mf {
            if self.total.is_some_and(|t| end > t) {
                return Err(FragmentDrop::Inconsistent);
            }
        } else if self.total.is_some_and(|t| t != end) || self.max_end() > end {
            return Err(FragmentDrop::Inconsistent);
        }
        let at = self.pieces.partition_point(|p| p.start < start);
        if let Some(p) = self.pieces.get(at)
            && p.start == start
            && p.end() == end
        {
            return if p.data == data {
                Ok(Place::Duplicate)
            } else {
                Err(FragmentDrop::Overlap)
            };
        }
        let before = at.checked_sub(1).and_then(|i| self.pieces.get(i));
        if before.is_some_and(|p| p.end() > start)
            || self.pieces.get(at).is_some_and(|p| p.start < end)
        {
            return Err(FragmentDrop::Overlap);
        }
        if self.pieces.len() >= max_fragments {
            return Err(FragmentDrop::TooManyFragments);
        }
        Ok(Place::At(at))
    }

    fn first_fragment(&self) -> Option<PacketBuf> {
        let header = self
            .header
            .get(..self.header_len)
            .filter(|h| !h.is_empty())?;
        let first = self.pieces.first().filter(|p| p.start == 0)?;
        let mut v = Vec::with_capacity(header.len() + first.data.len());
        v.extend_from_slice(header);
        v.extend_from_slice(&first.data);
        Some(PacketBuf::from_vec(v))
    }

    /// The whole datagram, if every byte is here.
    fn assemble(&self) -> Option<Result<PacketBuf, FragmentDrop>> {
        let total = self.total?;
        if self.received != total || self.header_len == 0 {
            return None;
        }
        let hl = self.header_len;
        let len = hl + total;
        let Ok(len16) = u16::try_from(len) else {
            return Some(Err(FragmentDrop::TooLong));
        };
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(self.header.get(..hl).unwrap_or(&[]));
        for p in &self.pieces {
            v.extend_from_slice(&p.data);
        }
        if let Some([_, _, l0, l1, _, _, f0, f1, _, _, c0, c1]) = v
            .get_mut(..12)
            .and_then(|b| <&mut [u8; 12]>::try_from(b).ok())
        {
            [*l0, *l1] = len16.to_be_bytes();
            // Keep the reserved and DF flags; clear MF and the offset.
            *f0 &= 0xc0;
            *f1 = 0;
            [*c0, *c1] = [0, 0];
        }
        let c = checksum::checksum(v.get(..hl).unwrap_or(&[]));
        if let Some(slot) = v.get_mut(10..12) {
            slot.copy_from_slice(&c.to_be_bytes());
        }
        Some(Ok(PacketBuf::from_vec(v)))
    }
}

enum Place {
    At(usize),
    Duplicate,
}

#[derive(Debug)]
enum State {
    Collecting(Datagram),
    Blacklisted,
}

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    seq: u64,
    state: State,
}

/// A bounded IPv4 reassembler; see the [module docs](self).
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    entries: BTreeMap<FragmentKey, Entry>,
    /// (deadline, creation sequence) → key: timeouts and eviction order.
    order: BTreeMap<(Instant, u64), FragmentKey>,
    seq: u64,
    bytes: usize,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// An empty reassembler with the given limits.
    pub fn new(config: ReassemblyConfig) -> Reassembler {
        Reassembler {
            config,
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            seq: 0,
            bytes: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Datagrams in reassembly or blacklisted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held or blacklisted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes charged to held fragments (at most
    /// [`max_bytes`](ReassemblyConfig::max_bytes)).
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// When [`poll_timeout`](Self::poll_timeout) next has work: the
    /// earliest timeout of a datagram held or blacklisted.
    #[inline]
    pub fn poll_at(&self) -> Option<Instant> {
        self.order.first_key_value().map(|(&(t, _), _)| t)
    }

    /// Removes the next datagram whose timeout is at or before `now`,
    /// reporting it if it was being collected (blacklisted keys expire
    /// silently). Call until it returns `None`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Expired> {
        loop {
            let (&(deadline, seq), &key) = self.order.first_key_value()?;
            if deadline > now {
                return None;
            }
            self.order.remove(&(deadline, seq));
            if self.entries.get(&key).map(|e| e.seq) != Some(seq) {
                continue;
            }
            let Some(entry) = self.entries.remove(&key) else {
                continue;
            };
            if let State::Collecting(d) = entry.state {
                self.bytes -= d.charged;
                self.stats.reasm_timeouts += 1;
                self.stats.reasm_fails += 1;
                return Some(Expired {
                    key,
                    first_fragment: d.first_fragment(),
                });
            }
        }
    }

    /// Drops everything held and every blacklisted key (the counters
    /// stay).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Takes in a fragment received at `now`; see the [module
    /// docs](self).
    pub fn push(&mut self, packet: &Ipv4Packet<'_>, now: Instant) -> Reassembly {
        if !packet.is_fragment() {
            return Reassembly::Dropped(FragmentDrop::NotAFragment);
        }
        self.stats.reasm_reqds += 1;
        if packet.is_truncated() {
            self.stats.invalid += 1;
            return Reassembly::Dropped(FragmentDrop::Truncated);
        }
        let key = packet.fragment_key();
        let data = packet.payload();
        let start = usize::from(packet.fragment_offset_bytes());
        let end = start + data.len();
        let mf = packet.more_fragments();
        let hl = packet.header_len();
        let invalid = if data.is_empty() {
            Some(FragmentDrop::ZeroLength)
        } else if mf && !data.len().is_multiple_of(8) {
            Some(FragmentDrop::Misaligned)
        } else if end + hl > IPV4_MAX_PACKET_LEN {
            Some(FragmentDrop::TooLong)
        } else {
            None
        };
        let exists = match self.entries.get(&key) {
            Some(Entry {
                state: State::Blacklisted,
                ..
            }) => {
                self.stats.blacklisted += 1;
                return Reassembly::Dropped(FragmentDrop::Blacklisted);
            }
            Some(_) => true,
            None => false,
        };
        if let Some(why) = invalid {
            self.stats.invalid += 1;
            if exists {
                self.discard(&key);
            }
            return Reassembly::Dropped(why);
        }
        if !exists {
            if self.config.max_datagrams == 0 {
                self.stats.reasm_fails += 1;
                return Reassembly::Dropped(FragmentDrop::NoRoom);
            }
            while self.entries.len() >= self.config.max_datagrams {
                if !self.evict_oldest(None) {
                    break;
                }
            }
            self.seq += 1;
            let deadline = now.saturating_add(self.config.timeout);
            self.order.insert((deadline, self.seq), key);
            self.entries.insert(
                key,
                Entry {
                    deadline,
                    seq: self.seq,
                    state: State::Collecting(Datagram::new()),
                },
            );
        }
        let max_fragments = self.config.max_fragments;
        let place = match self.entries.get(&key) {
            Some(Entry {
                state: State::Collecting(d),
                ..
            }) => d.place(start, end, hl, mf, data, max_fragments),
            _ => return Reassembly::Dropped(FragmentDrop::Blacklisted),
        };
        let at = match place {
            Ok(Place::At(at)) => at,
            Ok(Place::Duplicate) => {
                self.stats.duplicates += 1;
                return Reassembly::Dropped(FragmentDrop::Duplicate);
            }
            Err(why) => {
                if why == FragmentDrop::Overlap {
                    self.stats.reasm_overlaps += 1;
                }
                self.discard(&key);
                return Reassembly::Dropped(why);
            }
        };
        let charge = data.len() + FRAGMENT_OVERHEAD;
        while self.bytes + charge > self.config.max_bytes {
            if !self.evict_oldest(Some(&key)) {
                self.discard(&key);
                return Reassembly::Dropped(FragmentDrop::NoRoom);
            }
        }
        let Some(Entry {
            state: State::Collecting(d),
            ..
        }) = self.entries.get_mut(&key)
        else {
            return Reassembly::Dropped(FragmentDrop::Blacklisted);
        };
        d.pieces.insert(
            at,
            Piece {
                start,
                data: data.to_vec(),
            },
        );
        d.received += data.len();
        d.charged += charge;
        self.bytes += charge;
        if !mf {
            d.total = Some(end);
        }
        if start == 0
            && let Some(dst) = d.header.get_mut(..hl)
        {
            dst.copy_from_slice(packet.header_bytes());
            d.header_len = hl;
        }
        match d.assemble() {
            None => Reassembly::Held,
            Some(Ok(buf)) => {
                self.remove(&key);
                self.stats.reasm_oks += 1;
                Reassembly::Complete(buf)
            }
            Some(Err(why)) => {
                self.discard(&key);
                Reassembly::Dropped(why)
            }
        }
    }

    /// Removes `key`'s entry altogether, releasing its bytes.
    fn remove(&mut self, key: &FragmentKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&(entry.deadline, entry.seq));
        if let State::Collecting(d) = &entry.state {
            self.bytes -= d.charged;
        }
        Some(entry)
    }

    /// Gives up `key`'s datagram: its fragments go, its key stays
    /// blacklisted until its timeout.
    fn discard(&mut self, key: &FragmentKey) {
        if let Some(entry) = self.entries.get_mut(key)
            && let State::Collecting(d) = &entry.state
        {
            self.bytes -= d.charged;
            entry.state = State::Blacklisted;
            self.stats.reasm_fails += 1;
        }
    }

    /// Evicts the oldest entry other than `keep`; false if there is none.
    fn evict_oldest(&mut self, keep: Option<&FragmentKey>) -> bool {
        let Some(key) = self.order.values().find(|k| Some(*k) != keep).copied() else {
            return false;
        };
        if let Some(Entry {
            state: State::Collecting(_),
            ..
        }) = self.remove(&key)
        {
            self.stats.reasm_evictions += 1;
            self.stats.reasm_fails += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragment::Fragmenter;
    use crate::{IpProtocol, Ipv4Repr};
    use core::net::Ipv4Addr;
    use lamina_netbuf::{Rng, SeededRng, Serializer};
    use std::vec::Vec;

    const T0: Instant = Instant::from_secs(100);

    fn repr(id: u16) -> Ipv4Repr {
        let mut r = Ipv4Repr::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            IpProtocol::UDP,
        );
        r.identification = id;
        r
    }

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut v = std::vec![0u8; n];
        SeededRng::new(seed).fill_bytes(&mut v);
        v
    }

    fn whole(r: &Ipv4Repr, payload: &[u8]) -> Vec<u8> {
        payload.wrap_in(r).serialize_vec(0).unwrap().into_vec()
    }

    fn fragments(r: &Ipv4Repr, payload: &[u8], mtu: u16) -> Vec<Vec<u8>> {
        Fragmenter::new(r, payload, mtu)
            .unwrap()
            .map(|f| f.serialize_vec(0).unwrap().into_vec())
            .collect()
    }

    /// A raw fragment: `len` payload bytes of value `fill` at byte offset
    /// `offset`.
    fn frag(id: u16, offset: usize, len: usize, mf: bool, fill: u8) -> Vec<u8> {
        let mut r = repr(id);
        r.fragment_offset = (offset / 8) as u16;
        r.more_fragments = mf;
        whole(&r, &std::vec![fill; len])
    }

    fn push(r: &mut Reassembler, bytes: &[u8], now: Instant) -> Reassembly {
        r.push(&Ipv4Packet::parse_verified(bytes).unwrap(), now)
    }

    fn held(x: Reassembly) {
        assert!(matches!(x, Reassembly::Held), "{x:?}");
    }

    fn dropped(x: Reassembly, why: FragmentDrop) {
        match x {
            Reassembly::Dropped(w) => assert_eq!(w, why),
            other => panic!("{other:?}"),
        }
    }

    fn complete(x: Reassembly) -> Vec<u8> {
        match x {
            Reassembly::Complete(b) => b.into_vec(),
            other => panic!("{other:?}"),
        }
    }

    fn run_order(order: &[usize], frags: &[Vec<u8>]) -> Vec<u8> {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let (last, rest) = order.split_last().unwrap();
        for &i in rest {
            held(push(&mut r, &frags[i], T0));
        }
        let out = complete(push(&mut r, &frags[*last], T0));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
        assert_eq!(r.stats().reasm_oks, 1);
        assert_eq!(r.stats().reasm_reqds, frags.len() as u64);
        out
    }

    #[test]
    fn reassembles_in_order_rfc_791_section_3_2() {
        let p = data(5000, 1);
        let frags = fragments(&repr(1), &p, 1500);
        let order: Vec<usize> = (0..frags.len()).collect();
        assert_eq!(run_order(&order, &frags), whole(&repr(1), &p));
    }

    #[test]
    fn reassembles_in_reverse_order_last_fragment_first() {
        let p = data(5000, 2);
        let frags = fragments(&repr(2), &p, 1500);
        let order: Vec<usize> = (0..frags.len()).rev().collect();
        assert_eq!(run_order(&order, &frags), whole(&repr(2), &p));
    }

    #[test]
    fn reassembles_in_random_orders() {
        let mut rng = SeededRng::new(3);
        for round in 0..200 {
            let p = data(rng.in_range(1, 20_000) as usize, round);
            let r = repr(round as u16);
            let frags = fragments(&r, &p, rng.in_range(68, 1500) as u16);
            if frags.len() < 2 || frags.len() > 64 {
                continue;
            }
            let mut order: Vec<usize> = (0..frags.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u32 + 1) as usize);
            }
            assert_eq!(run_order(&order, &frags), whole(&r, &p));
        }
    }

    #[test]
    fn reassembled_header_has_mf_and_offset_cleared_and_a_valid_checksum() {
        let mut r = repr(4);
        r.dscp = 10;
        r.ttl = 7;
        let p = data(3000, 4);
        let frags = fragments(&r, &p, 1000);
        let mut re = Reassembler::new(ReassemblyConfig::default());
        let mut out = None;
        for f in &frags {
            if let Reassembly::Complete(b) = push(&mut re, f, T0) {
                out = Some(b);
            }
        }
        let out = out.unwrap();
        let v = Ipv4Packet::parse_verified(out.as_slice()).unwrap();
        assert!(!v.more_fragments());
        assert_eq!(v.fragment_offset(), 0);
        assert_eq!(v.total_len(), 3020);
        assert_eq!(v.to_repr(), r);
    }

    #[test]
    fn exact_duplicates_are_tolerated() {
        let p = data(3000, 5);
        let frags = fragments(&repr(5), &p, 1500);
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frags[0], T0));
        dropped(push(&mut r, &frags[0], T0), FragmentDrop::Duplicate);
        held(push(&mut r, &frags[2], T0));
        dropped(push(&mut r, &frags[2], T0), FragmentDrop::Duplicate);
        assert_eq!(complete(push(&mut r, &frags[1], T0)), whole(&repr(5), &p));
        assert_eq!(r.stats().duplicates, 2);
        assert_eq!(r.stats().reasm_fails, 0);
    }

    #[test]
    fn same_range_with_other_bytes_is_an_overlap_rfc_5722_section_4() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(6, 0, 16, true, 0xaa), T0));
        dropped(
            push(&mut r, &frag(6, 0, 16, true, 0xbb), T0),
            FragmentDrop::Overlap,
        );
        dropped(
            push(&mut r, &frag(6, 16, 8, false, 0xaa), T0),
            FragmentDrop::Blacklisted,
        );
        assert_eq!(r.stats().reasm_overlaps, 1);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn teardrop_overlap_discards_the_whole_datagram_and_blacklists_it_rfc_5722_section_4() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        // Teardrop: the second fragment starts inside the first.
        held(push(&mut r, &frag(7, 0, 48, true, 1), T0));
        dropped(
            push(&mut r, &frag(7, 24, 40, false, 2), T0),
            FragmentDrop::Overlap,
        );
        assert_eq!(r.bytes_held(), 0);
        // What would have completed it no longer can, until the timeout.
        dropped(
            push(&mut r, &frag(7, 48, 16, false, 3), T0),
            FragmentDrop::Blacklisted,
        );
        assert_eq!(r.poll_at(), Some(T0 + DEFAULT_REASSEMBLY_TIMEOUT));
        assert!(r.poll_timeout(T0 + DEFAULT_REASSEMBLY_TIMEOUT).is_none());
        assert!(r.is_empty());
        // Afterwards the key is free again.
        held(push(
            &mut r,
            &frag(7, 0, 48, true, 1),
            T0 + Duration::from_secs(31),
        ));
        assert_eq!(r.stats().reasm_fails, 1);
        assert_eq!(r.stats().blacklisted, 1);
    }

    #[test]
    fn tiny_overlapping_fragments_are_caught_in_every_position() {
        // Overlaps from the left, from the right, contained, containing.
        for (a, b) in [
            ((8, 16), (0, 16)),
            ((8, 16), (16, 16)),
            ((0, 32), (8, 8)),
            ((8, 8), (0, 32)),
        ] {
            let mut r = Reassembler::new(ReassemblyConfig::default());
            held(push(&mut r, &frag(8, a.0, a.1, true, 1), T0));
            dropped(
                push(&mut r, &frag(8, b.0, b.1, true, 1), T0),
                FragmentDrop::Overlap,
            );
        }
        // Adjacent is not overlapping.
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(8, 8, 8, true, 1), T0));
        held(push(&mut r, &frag(8, 16, 8, true, 1), T0));
        held(push(&mut r, &frag(8, 0, 8, true, 1), T0));
        let out = complete(push(&mut r, &frag(8, 24, 3, false, 1), T0));
        assert_eq!(out.len(), 20 + 27);
    }

    #[test]
    fn zero_length_fragment_discards_its_datagram() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(9, 0, 16, true, 1), T0));
        dropped(
            push(&mut r, &frag(9, 16, 0, true, 1), T0),
            FragmentDrop::ZeroLength,
        );
        dropped(
            push(&mut r, &frag(9, 16, 8, false, 1), T0),
            FragmentDrop::Blacklisted,
        );
        // Alone, it only drops itself.
        dropped(
            push(&mut r, &frag(10, 16, 0, true, 1), T0),
            FragmentDrop::ZeroLength,
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn non_last_fragment_must_be_a_multiple_of_8_rfc_791_section_3_2() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        dropped(
            push(&mut r, &frag(11, 0, 12, true, 1), T0),
            FragmentDrop::Misaligned,
        );
        assert!(r.is_empty());
        assert_eq!(r.stats().invalid, 1);
    }

    #[test]
    fn fragments_beyond_65535_are_rejected_rfc_791_section_3_1() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        // Offset 65512 + 20-byte header + 8 bytes = 65540.
        dropped(
            push(&mut r, &frag(12, 65512, 8, false, 1), T0),
            FragmentDrop::TooLong,
        );
        // 65496 + 16 + 20 = 65532 fits.
        held(push(&mut r, &frag(12, 65496, 16, false, 1), T0));
        // A first fragment with 40 bytes of options pushes it over.
        let mut first = repr(12);
        first.more_fragments = true;
        for _ in 0..10 {
            first
                .options
                .push(&crate::Ipv4Option::RouterAlert(0))
                .unwrap();
        }
        let f = whole(&first, &[1; 8]);
        dropped(push(&mut r, &f, T0), FragmentDrop::TooLong);
    }

    #[test]
    fn conflicting_ends_discard_the_datagram() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(13, 16, 8, false, 1), T0));
        dropped(
            push(&mut r, &frag(13, 32, 8, false, 1), T0),
            FragmentDrop::Inconsistent,
        );
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(14, 16, 8, false, 1), T0));
        dropped(
            push(&mut r, &frag(14, 24, 8, true, 1), T0),
            FragmentDrop::Inconsistent,
        );
        let mut r = Reassembler::new(ReassemblyConfig::default());
        held(push(&mut r, &frag(15, 40, 8, true, 1), T0));
        dropped(
            push(&mut r, &frag(15, 16, 8, false, 1), T0),
            FragmentDrop::Inconsistent,
        );
    }

    #[test]
    fn timeout_reports_the_first_fragment_for_icmp_rfc_1122_section_3_3_2() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let f0 = frag(16, 0, 16, true, 0x5a);
        held(push(&mut r, &f0, T0));
        held(push(
            &mut r,
            &frag(17, 16, 8, true, 1),
            T0 + Duration::from_secs(5),
        ));
        assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(30)));
        assert!(r.poll_timeout(T0 + Duration::from_secs(29)).is_none());
        let e = r.poll_timeout(T0 + Duration::from_secs(30)).unwrap();
        assert_eq!(e.key.identification, 16);
        assert_eq!(e.first_fragment.unwrap().as_slice(), &f0[..]);
        assert!(r.poll_timeout(T0 + Duration::from_secs(30)).is_none());
        assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(35)));
        // No first fragment: no ICMP message.
        let e = r.poll_timeout(T0 + Duration::from_secs(40)).unwrap();
        assert_eq!(e.key.identification, 17);
        assert!(e.first_fragment.is_none());
        assert_eq!(r.stats().reasm_timeouts, 2);
        assert_eq!(r.stats().reasm_fails, 2);
        assert_eq!(r.bytes_held(), 0);
        assert_eq!(r.poll_at(), None);
    }

    #[test]
    fn full_table_evicts_the_oldest_datagram() {
        let config = ReassemblyConfig {
            max_datagrams: 4,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(config);
        for id in 0..6u16 {
            held(push(
                &mut r,
                &frag(id, 0, 8, true, 1),
                T0 + Duration::from_secs(u64::from(id)),
            ));
            assert!(r.len() <= 4);
        }
        assert_eq!(r.stats().reasm_evictions, 2);
        // The survivors are the newest.
        complete(push(&mut r, &frag(5, 8, 8, false, 1), T0));
        // Datagram 0 was evicted: its next fragment starts it afresh.
        held(push(&mut r, &frag(0, 8, 8, false, 1), T0));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn byte_limit_evicts_older_datagrams_and_refuses_what_cannot_fit() {
        let config = ReassemblyConfig {
            max_bytes: 3 * (1000 + FRAGMENT_OVERHEAD),
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(config);
        for id in 0..5u16 {
            held(push(&mut r, &frag(id, 0, 1000, true, 1), T0));
            assert!(r.bytes_held() <= config.max_bytes);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.stats().reasm_evictions, 2);
        // A datagram bigger than the whole budget is refused.
        let mut r = Reassembler::new(ReassemblyConfig {
            max_bytes: 1000,
            ..ReassemblyConfig::default()
        });
        held(push(&mut r, &frag(1, 0, 800, true, 1), T0));
        dropped(
            push(&mut r, &frag(1, 800, 800, true, 1), T0),
            FragmentDrop::NoRoom,
        );
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn fragments_per_datagram_are_limited() {
        let config = ReassemblyConfig {
            max_fragments: 3,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(config);
        for i in 0..3 {
            held(push(&mut r, &frag(1, i * 8, 8, true, 1), T0));
        }
        dropped(
            push(&mut r, &frag(1, 24, 8, true, 1), T0),
            FragmentDrop::TooManyFragments,
        );
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn unfragmented_datagrams_are_not_taken() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        dropped(
            push(&mut r, &whole(&repr(1), b"abc"), T0),
            FragmentDrop::NotAFragment,
        );
        assert_eq!(r.stats().reasm_reqds, 0);
    }

    #[test]
    fn flood_of_random_fragments_stays_within_bounds() {
        let config = ReassemblyConfig {
            max_datagrams: 32,
            max_bytes: 64 * 1024,
            max_fragments: 16,
            timeout: Duration::from_secs(30),
        };
        let mut r = Reassembler::new(config);
        let mut rng = SeededRng::new(17);
        let mut now = T0;
        let mut completed = 0;
        for _ in 0..50_000 {
            now += Duration::from_millis(u64::from(rng.below(3)));
            let mut h = Ipv4Repr::new(
                Ipv4Addr::from_bits(0x0a00_0000 | rng.below(64)),
                Ipv4Addr::new(192, 0, 2, 2),
                IpProtocol(rng.below(3) as u8),
            );
            h.identification = rng.below(4) as u16;
            let span = if rng.below(8) == 0 { 8192 } else { 64 };
            h.fragment_offset = rng.below(span) as u16;
            h.more_fragments = rng.below(4) != 0;
            let len = match rng.below(4) {
                0 => rng.below(9) as usize,
                1 => 8 * rng.below(4) as usize,
                _ => rng.below(1500) as usize,
            };
            let bytes = whole(&h, &std::vec![rng.below(2) as u8; len]);
            let p = Ipv4Packet::parse_verified(&bytes).unwrap();
            if !p.is_fragment() {
                continue;
            }
            if let Reassembly::Complete(d) = r.push(&p, now) {
                completed += 1;
                assert!(Ipv4Packet::parse_verified(d.as_slice()).is_ok());
            }
            assert!(r.len() <= config.max_datagrams);
            assert!(r.bytes_held() <= config.max_bytes);
            while r.poll_timeout(now).is_some() {}
        }
        let s = *r.stats();
        assert!(s.reasm_oks == completed);
        assert!(
            s.reasm_overlaps > 0 && s.reasm_evictions > 0 && s.blacklisted > 0,
            "{s:?}"
        );
        // Every byte is accounted for once everything times out.
        while r.poll_timeout(Instant::MAX).is_some() {}
        assert_eq!(r.bytes_held(), 0);
        assert!(r.is_empty());
    }
}
