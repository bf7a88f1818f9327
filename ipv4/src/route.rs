//! The routing table: longest-prefix match from a destination address to a
//! route (RFC 1812 §5.2.4.3).
//!
//! A [`RoutingTable`] maps normalized prefixes ([`Ipv4Cidr`]) to
//! [`Route`]s: a next hop (or none: the destination is on the link), the
//! interface, an optional per-route MTU, a metric, and any data `T` the
//! owner attaches. [`lookup`](RoutingTable::lookup) returns the route of
//! the longest prefix containing the address; among routes of the same
//! prefix the lowest metric wins (RFC 1812 §5.2.4.3 "Weak TOS" aside, the
//! order Linux uses). `0.0.0.0/0` is the default route.
//!
//! # Calling protocol
//!
//! The table is plain data: it is changed only by the calls below and
//! never by time or traffic.
//!
//! - When an interface gains an address `a/len`, its owner (the
//!   `Interface` of `lamina-socket`) inserts the connected route
//!   `Route::on_link(iface)` for `a/len` normalized, and removes it with
//!   the address.
//! - Static routes and the default gateway are inserted by the integrator
//!   ([`set_default_route`](RoutingTable::set_default_route) is
//!   `replace` at `0.0.0.0/0`).
//! - A route is identified by its prefix and metric, as in Linux:
//!   [`insert`](RoutingTable::insert) refuses a second route with the same
//!   prefix and metric ([`Error::RouteExists`]),
//!   [`replace`](RoutingTable::replace) overwrites it,
//!   [`remove`](RoutingTable::remove) takes it away, and
//!   [`retain`](RoutingTable::retain) removes many at once (for example
//!   every route through an interface that went down).
//! - Every output datagram and every forwarded one is looked up; the
//!   result's [`next_hop`](RouteMatch::next_hop) is the address to resolve
//!   with ARP and its MTU (if any) bounds fragmentation.
//!
//! # Structure and cost
//!
//! Lookups go through a compressed multibit trie of stride 6 in the style
//! of Poptrie (Asai and Ohara, SIGCOMM 2015): each node holds two 64-bit
//! bitmaps, one marking which of its 64 children are nodes and one
//! marking where a new run of identical leaves starts, and the indices of
//! its first child node and first leaf; a child is found by counting the
//! set bits below it. Leaves are pushed down (each holds the answer for
//! its whole range), so a lookup is at most six dependent reads of
//! 24-byte nodes plus one of a 4-byte leaf, with no backtracking, and
//! allocates nothing. The 100,000-prefix benchmark (`benches/`, group
//! `route`) measures it.
//!
//! A change touches only the positions the prefix covers in the node
//! where it ends, and what lies below them; the other positions' leaves
//! and subtrees are kept. Since answers are pushed down to the leaves, a
//! prefix's change costs time proportional to the number of prefixes
//! inside it, plus a constant: a /24 rewrites one node, a /8 everything
//! under the /8. The default route stays outside the trie (it answers
//! where the trie has nothing), so changing the gateway costs nothing, and
//! so does changing the route of an existing prefix (another metric, a
//! replaced gateway).
//!
//! # Memory
//!
//! With `n` prefixes (routes with distinct prefixes), the trie holds at
//! most `1 + 5n` nodes of 24 bytes and `1 + 7n` leaves of 4 bytes (a
//! prefix adds at most one node per level below the root, and at most two
//! leaf runs plus those of its own nodes), and freed blocks are reused or,
//! once they outnumber the live ones, compacted by a rebuild; so the trie
//! stays below `2 × (24 × (1 + 5n) + 4 × (1 + 7n))` bytes, about 300 bytes
//! a prefix at worst and far less in practice (a random table of 100,000
//! BGP-like prefixes holds 147,000 nodes and 255,000 leaves, about 45
//! bytes a prefix; [`compact`](RoutingTable::compact) returns the spare
//! capacity of the arrays after a bulk load). Each route also costs
//! its `Route<T>` in a slot array and an ordered-map entry. The number of
//! routes is capped by [`RoutingTable::new`]'s `max_routes`; inserting
//! past it fails with [`Error::RouteTableFull`].
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::{IfaceId, Route, RoutingTable};
//!
//! let mut table = RoutingTable::new(1024);
//! let eth0 = IfaceId(0);
//! table.insert("192.0.2.0/24".parse()?, Route::on_link(eth0))?;
//! table.set_default_route(Route::via(Ipv4Addr::new(192, 0, 2, 1), eth0))?;
//!
//! let dst = Ipv4Addr::new(203, 0, 113, 9);
//! let m = table.lookup(dst).unwrap();
//! assert_eq!(m.prefix.to_string(), "0.0.0.0/0");
//! assert_eq!(m.next_hop(dst), Ipv4Addr::new(192, 0, 2, 1));
//! let local = Ipv4Addr::new(192, 0, 2, 77);
//! assert_eq!(table.lookup(local).unwrap().next_hop(local), local);
//! # Ok::<(), lamina_ipv4::Error>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use crate::{Error, Ipv4Cidr};

/// The route limit of [`RoutingTable::default`].
pub const DEFAULT_MAX_ROUTES: usize = 65_536;

/// The largest `max_routes` a table accepts (slot indices are 32 bits).
const ROUTES_CAP: usize = (u32::MAX - 1) as usize;

/// Bits consumed per trie level.
const STRIDE: usize = 6;
/// Levels: 6 × 6 = 36 bits cover a 32-bit address.
const LEVELS: usize = 6;
/// Prefix changes beyond which [`RoutingTable::retain`] rebuilds the
/// whole trie rather than each affected part.
const RETAIN_REBUILD_THRESHOLD: usize = 64;

/// A small identifier of a network interface, chosen by the interface's
/// owner (the `Interface` of `lamina-socket` numbers its devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IfaceId(pub u16);

impl fmt::Display for IfaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "if{}", self.0)
    }
}

/// Where datagrams for a prefix go.
///
/// `T` is whatever the table's owner wants to keep with a route (its
/// origin, a preferred source address, a counter); `()` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route<T = ()> {
    /// The gateway to send through, or `None` when the destination is on
    /// the link itself (a connected route).
    pub next_hop: Option<Ipv4Addr>,
    /// The outgoing interface.
    pub interface: IfaceId,
    /// An MTU for this route, below the interface's (`None`: the
    /// interface MTU applies).
    pub mtu: Option<u16>,
    /// The route's cost: among routes of the same prefix the lowest wins.
    /// A prefix holds at most one route per metric.
    pub metric: u32,
    /// The owner's data.
    pub data: T,
}

impl Route<()> {
    /// A connected route: destinations are on the link of `interface`.
    #[inline]
    pub const fn on_link(interface: IfaceId) -> Route<()> {
        Route {
            next_hop: None,
            interface,
            mtu: None,
            metric: 0,
            data: (),
        }
    }

    /// A route through `gateway`, reached on `interface`.
    #[inline]
    pub const fn via(gateway: Ipv4Addr, interface: IfaceId) -> Route<()> {
        Route {
            next_hop: Some(gateway),
            interface,
            mtu: None,
            metric: 0,
            data: (),
        }
    }
}

impl<T> Route<T> {
    /// The same route with a per-route MTU.
    #[inline]
    pub fn with_mtu(mut self, mtu: u16) -> Route<T> {
        self.mtu = Some(mtu);
        self
    }

    /// The same route with another metric.
    #[inline]
    pub fn with_metric(mut self, metric: u32) -> Route<T> {
        self.metric = metric;
        self
    }

    /// The same route carrying `data`.
    #[inline]
    pub fn with_data<U>(self, data: U) -> Route<U> {
        Route {
            next_hop: self.next_hop,
            interface: self.interface,
            mtu: self.mtu,
            metric: self.metric,
            data,
        }
    }

    /// The address to resolve on the link for a datagram to `dst`: the
    /// gateway, or `dst` itself on a connected route.
    #[inline]
    pub fn next_hop_for(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.next_hop.unwrap_or(dst)
    }
}

/// The answer of [`RoutingTable::lookup`]: the matched prefix and its best
/// route.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch<'a, T = ()> {
    /// The longest prefix containing the address.
    pub prefix: Ipv4Cidr,
    /// Its route with the lowest metric.
    pub route: &'a Route<T>,
}

impl<T> Clone for RouteMatch<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RouteMatch<'_, T> {}

impl<T> RouteMatch<'_, T> {
    /// The address to resolve on the link for a datagram to `dst`: the
    /// gateway, or `dst` itself on a connected route.
    #[inline]
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.route.next_hop_for(dst)
    }
}

/// The routes of one prefix: the best inline (one read on lookup), the
/// others by increasing metric.
#[derive(Debug, Clone)]
struct Slot<T> {
    prefix: Ipv4Cidr,
    best: Route<T>,
    others: Vec<Route<T>>,
}

impl<T> Slot<T> {
    fn routes(&self) -> impl Iterator<Item = &Route<T>> {
        core::iter::once(&self.best).chain(self.others.iter())
    }

    fn count(&self) -> usize {
        1 + self.others.len()
    }
}

/// A routing table with longest-prefix match; see the [module
/// docs](self) for the calling protocol, the structure and the memory
/// bound.
#[derive(Clone)]
pub struct RoutingTable<T = ()> {
    max_routes: usize,
    routes: usize,
    /// Prefix → slot index; ordered, so the prefixes of a range are found
    /// when part of the trie is rebuilt.
    index: BTreeMap<Ipv4Cidr, u32>,
    slots: Vec<Option<Slot<T>>>,
    free_slots: Vec<u32>,
    trie: Trie,
    /// The leaf of the default route (slot + 1, or 0): the answer where
    /// the trie has none, so that `/0` never enters the trie.
    default_leaf: u32,
}

impl<T> Default for RoutingTable<T> {
    /// An empty table of at most [`DEFAULT_MAX_ROUTES`] routes.
    fn default() -> Self {
        RoutingTable::new(DEFAULT_MAX_ROUTES)
    }
}

impl<T> fmt::Debug for RoutingTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingTable")
            .field("routes", &self.routes)
            .field("prefixes", &self.index.len())
            .field("max_routes", &self.max_routes)
            .field("trie_nodes", &self.trie.nodes.len())
            .field("trie_leaves", &self.trie.leaves.len())
            .finish()
    }
}

impl<T> RoutingTable<T> {
    /// An empty table that holds at most `max_routes` routes (at most
    /// 2³² − 2; larger values are clamped).
    pub fn new(max_routes: usize) -> RoutingTable<T> {
        RoutingTable {
            max_routes: max_routes.min(ROUTES_CAP),
            routes: 0,
            index: BTreeMap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            trie: Trie::new(),
            default_leaf: 0,
        }
    }

    /// The number of routes.
    #[inline]
    pub fn len(&self) -> usize {
        self.routes
    }

    /// Whether the table holds no route.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }

    /// The number of distinct prefixes.
    #[inline]
    pub fn prefix_count(&self) -> usize {
        self.index.len()
    }

    /// The configured maximum number of routes.
    #[inline]
    pub fn max_routes(&self) -> usize {
        self.max_routes
    }

    /// The route for `dst`: the longest prefix containing it, and among
    /// that prefix's routes the one of lowest metric. `None` if no prefix
    /// (not even a default route) contains it.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<RouteMatch<'_, T>> {
        let mut leaf = self.trie.lookup(dst.to_bits());
        if leaf == 0 {
            leaf = self.default_leaf;
        }
        let slot = self.slots.get((leaf as usize).wrapping_sub(1))?.as_ref()?;
        Some(RouteMatch {
            prefix: slot.prefix,
            route: &slot.best,
        })
    }

    /// The best (lowest-metric) route of exactly `prefix`.
    pub fn get(&self, prefix: Ipv4Cidr) -> Option<&Route<T>> {
        self.slot(prefix).map(|s| &s.best)
    }

    /// Every route of exactly `prefix`, by increasing metric.
    pub fn routes_of(&self, prefix: Ipv4Cidr) -> impl Iterator<Item = &Route<T>> {
        self.slot(prefix).into_iter().flat_map(Slot::routes)
    }

    /// The best default route (`0.0.0.0/0`), if any.
    pub fn default_route(&self) -> Option<&Route<T>> {
        self.get(Ipv4Cidr::new_clamped(Ipv4Addr::UNSPECIFIED, 0))
    }

    /// Every route, by prefix (address, then length) and then metric.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Cidr, &Route<T>)> {
        self.index.values().flat_map(move |&s| {
            self.slots
                .get(s as usize)
                .and_then(Option::as_ref)
                .into_iter()
                .flat_map(|slot| slot.routes().map(move |r| (slot.prefix, r)))
        })
    }

    fn slot(&self, prefix: Ipv4Cidr) -> Option<&Slot<T>> {
        let s = *self.index.get(&prefix)?;
        self.slots.get(s as usize)?.as_ref()
    }

    fn slot_mut(&mut self, prefix: Ipv4Cidr) -> Option<&mut Slot<T>> {
        let s = *self.index.get(&prefix)?;
        self.slots.get_mut(s as usize)?.as_mut()
    }

    /// Adds `route` for `prefix`.
    ///
    /// Fails with [`Error::PrefixNotNormalized`] if `prefix` has host bits
    /// set, [`Error::RouteExists`] if the prefix already has a route of
    /// the same metric, and [`Error::RouteTableFull`] at the configured
    /// maximum. On error the table is unchanged.
    pub fn insert(&mut self, prefix: Ipv4Cidr, route: Route<T>) -> Result<(), Error> {
        if !prefix.is_normalized() {
            return Err(Error::PrefixNotNormalized);
        }
        if let Some(slot) = self.slot(prefix)
            && slot.routes().any(|r| r.metric == route.metric)
        {
            return Err(Error::RouteExists);
        }
        if self.routes >= self.max_routes {
            return Err(Error::RouteTableFull {
                max: self.max_routes,
            });
        }
        self.add(prefix, route);
        Ok(())
    }

    /// Sets the route of `prefix` with `route`'s metric, returning the one
    /// it replaces, or adds it if there was none (then it can fail with
    /// [`Error::RouteTableFull`]). Fails with
    /// [`Error::PrefixNotNormalized`] if `prefix` has host bits set.
    pub fn replace(
        &mut self,
        prefix: Ipv4Cidr,
        route: Route<T>,
    ) -> Result<Option<Route<T>>, Error> {
        if !prefix.is_normalized() {
            return Err(Error::PrefixNotNormalized);
        }
        if let Some(slot) = self.slot_mut(prefix) {
            if slot.best.metric == route.metric {
                return Ok(Some(core::mem::replace(&mut slot.best, route)));
            }
            if let Some(r) = slot.others.iter_mut().find(|r| r.metric == route.metric) {
                return Ok(Some(core::mem::replace(r, route)));
            }
        }
        if self.routes >= self.max_routes {
            return Err(Error::RouteTableFull {
                max: self.max_routes,
            });
        }
        self.add(prefix, route);
        Ok(None)
    }

    /// Sets the default route (`0.0.0.0/0`) of `route`'s metric; see
    /// [`replace`](Self::replace).
    pub fn set_default_route(&mut self, route: Route<T>) -> Result<Option<Route<T>>, Error> {
        self.replace(Ipv4Cidr::new_clamped(Ipv4Addr::UNSPECIFIED, 0), route)
    }

    /// Adds a route known to be new and within the limit.
    fn add(&mut self, prefix: Ipv4Cidr, route: Route<T>) {
        self.routes += 1;
        if let Some(slot) = self.slot_mut(prefix) {
            if route.metric < slot.best.metric {
                let old = core::mem::replace(&mut slot.best, route);
                slot.others.insert(0, old);
            } else {
                let at = slot.others.partition_point(|r| r.metric < route.metric);
                slot.others.insert(at, route);
            }
            return;
        }
        let slot = Slot {
            prefix,
            best: route,
            others: Vec::new(),
        };
        let s = match self.free_slots.pop() {
            Some(s) => {
                if let Some(place) = self.slots.get_mut(s as usize) {
                    *place = Some(slot);
                }
                s
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(prefix, s);
        self.sync(prefix);
    }

    /// Brings the lookup structure in line with the index after `prefix`
    /// gained or lost its last route.
    fn sync(&mut self, prefix: Ipv4Cidr) {
        if prefix.prefix_len() == 0 {
            self.default_leaf = self.index.get(&prefix).map_or(0, |&s| s + 1);
        } else {
            self.trie.update(&self.index, prefix);
        }
    }

    /// Removes the route of `prefix` with `metric`, returning it.
    pub fn remove(&mut self, prefix: Ipv4Cidr, metric: u32) -> Option<Route<T>> {
        let slot = self.slot_mut(prefix)?;
        if slot.best.metric != metric {
            let at = slot.others.iter().position(|r| r.metric == metric)?;
            let r = slot.others.remove(at);
            self.routes -= 1;
            return Some(r);
        }
        if !slot.others.is_empty() {
            let next = slot.others.remove(0);
            let r = core::mem::replace(&mut slot.best, next);
            self.routes -= 1;
            return Some(r);
        }
        let s = self.index.remove(&prefix)?;
        let old = self.slots.get_mut(s as usize)?.take()?;
        self.free_slots.push(s);
        self.routes -= 1;
        self.sync(prefix);
        Some(old.best)
    }

    /// Removes every route of `prefix`, returning how many there were.
    pub fn remove_prefix(&mut self, prefix: Ipv4Cidr) -> usize {
        let Some(s) = self.index.remove(&prefix) else {
            return 0;
        };
        let n = self
            .slots
            .get_mut(s as usize)
            .and_then(Option::take)
            .map_or(0, |slot| slot.count());
        self.free_slots.push(s);
        self.routes -= n;
        self.sync(prefix);
        n
    }

    /// Keeps only the routes for which `keep` returns true (for example,
    /// `|_, r| r.interface != down` when an interface goes down).
    pub fn retain(&mut self, mut keep: impl FnMut(Ipv4Cidr, &Route<T>) -> bool) {
        let mut emptied = Vec::new();
        for (s, place) in self.slots.iter_mut().enumerate() {
            let Some(slot) = place else { continue };
            let before = slot.count();
            let prefix = slot.prefix;
            slot.others.retain(|r| keep(prefix, r));
            if !keep(prefix, &slot.best) {
                if slot.others.is_empty() {
                    emptied.push((prefix, s as u32));
                    self.routes -= before;
                    *place = None;
                    continue;
                }
                slot.best = slot.others.remove(0);
            }
            self.routes -= before - slot.count();
        }
        for &(prefix, s) in &emptied {
            self.index.remove(&prefix);
            self.free_slots.push(s);
        }
        if emptied.len() > RETAIN_REBUILD_THRESHOLD {
            self.trie.rebuild_all(&self.index);
            self.sync(Ipv4Cidr::new_clamped(Ipv4Addr::UNSPECIFIED, 0));
        } else {
            for &(prefix, _) in &emptied {
                self.sync(prefix);
            }
        }
    }

    /// Removes every route.
    pub fn clear(&mut self) {
        self.routes = 0;
        self.index.clear();
        self.slots.clear();
        self.free_slots.clear();
        self.trie = Trie::new();
        self.default_leaf = 0;
    }

    /// Rebuilds the lookup structure without free blocks and gives the
    /// arrays' spare capacity back to the allocator: worth calling after
    /// loading a large table. Takes time linear in the number of
    /// prefixes.
    pub fn compact(&mut self) {
        self.trie.rebuild_all(&self.index);
        self.trie.nodes.shrink_to_fit();
        self.trie.leaves.shrink_to_fit();
        self.slots.shrink_to_fit();
    }

    /// The bytes the trie's arrays occupy (capacity, free blocks
    /// included); the slots and the ordered index come on top, about
    /// `size_of::<Route<T>>() + 48` bytes a prefix.
    pub fn trie_bytes(&self) -> usize {
        self.trie.nodes.capacity() * core::mem::size_of::<Node>()
            + self.trie.leaves.capacity() * core::mem::size_of::<u32>()
    }
}

/// A trie node: which of the 64 children are nodes (`vector`), where runs
/// of equal leaves start among the others (`leafvec`), and where its
/// children and leaves begin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Node {
    vector: u64,
    leafvec: u64,
    base_node: u32,
    base_leaf: u32,
}

impl Node {
    /// No child nodes and a single leaf run: the node's whole range has
    /// one answer, so its parent can hold a leaf instead.
    fn is_trivial(&self) -> bool {
        self.vector == 0 && self.leafvec.count_ones() == 1
    }
}

/// A prefix as the builder sees it: network bits, length, leaf value.
#[derive(Debug, Clone, Copy)]
struct Entry {
    net: u32,
    len: u8,
    leaf: u32,
}

/// The 6-bit child index of `addr` at `depth` (bits beyond 32 are zero).
#[inline(always)]
fn chunk(addr: u32, depth: usize) -> usize {
    ((u64::from(addr) << (32 + STRIDE * depth)) >> 58) as usize
}

/// The number of set bits of `bits` at positions `0..=v`.
#[inline(always)]
fn rank(bits: u64, v: usize) -> usize {
    (bits << (63 - v)).count_ones() as usize
}

/// A netmask of `len` (0 to 32) bits.
#[inline]
fn mask(len: usize) -> u32 {
    u32::MAX.checked_shl(32 - len as u32).unwrap_or(0)
}

/// The compressed multibit trie. Leaf values are slot indices plus one;
/// 0 means no prefix longer than `/0` matches (the table then answers
/// with its default route). `nodes[0]` is the root.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    /// Freed blocks by size − 1 (1 to 64 nodes, 1 to 64 leaves).
    free_nodes: Vec<Vec<u32>>,
    free_leaves: Vec<Vec<u32>>,
    garbage_nodes: usize,
    garbage_leaves: usize,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            nodes: alloc::vec![Node {
                vector: 0,
                leafvec: 1,
                base_node: 0,
                base_leaf: 0,
            }],
            leaves: alloc::vec![0],
            free_nodes: (0..64).map(|_| Vec::new()).collect(),
            free_leaves: (0..64).map(|_| Vec::new()).collect(),
            garbage_nodes: 0,
            garbage_leaves: 0,
        }
    }

    #[inline]
    fn lookup(&self, addr: u32) -> u32 {
        let Some(mut node) = self.nodes.first() else {
            return 0;
        };
        let mut key = u64::from(addr) << 32;
        for _ in 0..LEVELS {
            let v = (key >> 58) as usize;
            if (node.vector >> v) & 1 != 0 {
                let i = (node.base_node as usize + rank(node.vector, v)).wrapping_sub(1);
                node = match self.nodes.get(i) {
                    Some(n) => n,
                    None => return 0,
                };
                key <<= STRIDE;
            } else {
                let i = (node.base_leaf as usize + rank(node.leafvec, v)).wrapping_sub(1);
                return self.leaves.get(i).copied().unwrap_or(0);
            }
        }
        0
    }

    fn node(&self, i: u32) -> Node {
        self.nodes.get(i as usize).copied().unwrap_or_default()
    }

    fn set_node(&mut self, i: u32, n: Node) {
        if let Some(place) = self.nodes.get_mut(i as usize) {
            *place = n;
        }
    }

    /// The child descriptor at position `v` of `node` (which must be a
    /// child position).
    fn child(&self, node: &Node, v: usize) -> Node {
        self.node((node.base_node as usize + rank(node.vector, v)).wrapping_sub(1) as u32)
    }

    /// The leaf value at position `v` of `node` (which must be a leaf
    /// position).
    fn leaf(&self, node: &Node, v: usize) -> u32 {
        let i = (node.base_leaf as usize + rank(node.leafvec, v)).wrapping_sub(1);
        self.leaves.get(i).copied().unwrap_or(0)
    }

    fn alloc_nodes(&mut self, values: &[Node]) -> u32 {
        let n = values.len();
        if n == 0 {
            return 0;
        }
        let b = match self.free_nodes.get_mut(n - 1).and_then(Vec::pop) {
            Some(b) => {
                self.garbage_nodes -= n;
                b
            }
            None => {
                let b = self.nodes.len();
                self.nodes.resize(b + n, Node::default());
                b as u32
            }
        };
        if let Some(dst) = self.nodes.get_mut(b as usize..b as usize + n) {
            dst.copy_from_slice(values);
        }
        b
    }

    fn alloc_leaves(&mut self, values: &[u32]) -> u32 {
        let n = values.len();
        if n == 0 {
            return 0;
        }
        let b = match self.free_leaves.get_mut(n - 1).and_then(Vec::pop) {
            Some(b) => {
                self.garbage_leaves -= n;
                b
            }
            None => {
                let b = self.leaves.len();
                self.leaves.resize(b + n, 0);
                b as u32
            }
        };
        if let Some(dst) = self.leaves.get_mut(b as usize..b as usize + n) {
            dst.copy_from_slice(values);
        }
        b
    }

    /// Returns `node`'s own blocks (children and leaves, not what lies
    /// below the children) to the free lists.
    fn free_blocks(&mut self, node: &Node) {
        let children = node.vector.count_ones() as usize;
        if let Some(list) = children
            .checked_sub(1)
            .and_then(|k| self.free_nodes.get_mut(k))
        {
            list.push(node.base_node);
            self.garbage_nodes += children;
        }
        let leaves = node.leafvec.count_ones() as usize;
        if let Some(list) = leaves
            .checked_sub(1)
            .and_then(|k| self.free_leaves.get_mut(k))
        {
            list.push(node.base_leaf);
            self.garbage_leaves += leaves;
        }
    }

    /// Returns every block below `node` (not `node` itself) to the free
    /// lists.
    fn free_below(&mut self, node: &Node) {
        for i in 0..node.vector.count_ones() {
            let child = self.node(node.base_node + i);
            self.free_below(&child);
        }
        self.free_blocks(node);
    }

    /// Stores a node's blocks: its children (by position, where `vector`
    /// is set) and the leaf runs of `values` at the other positions.
    fn store(&mut self, vector: u64, children: &[Node; 64], values: &[u32; 64]) -> Node {
        let mut kids = [Node::default(); 64];
        let mut k = 0;
        let mut runs = [0u32; 64];
        let mut n = 0;
        let mut leafvec = 0u64;
        let mut prev = None;
        for v in 0..64 {
            if (vector >> v) & 1 != 0 {
                if let (Some(dst), Some(src)) = (kids.get_mut(k), children.get(v)) {
                    *dst = *src;
                }
                k += 1;
                continue;
            }
            let value = values.get(v).copied().unwrap_or(0);
            if prev != Some(value) {
                leafvec |= 1 << v;
                if let Some(r) = runs.get_mut(n) {
                    *r = value;
                }
                n += 1;
                prev = Some(value);
            }
        }
        let base_node = self.alloc_nodes(kids.get(..k).unwrap_or(&[]));
        let base_leaf = self.alloc_leaves(runs.get(..n).unwrap_or(&[]));
        Node {
            vector,
            leafvec,
            base_node,
            base_leaf,
        }
    }

    /// Builds a fresh node at `depth` whose range holds `list` (sorted by
    /// network then length, all longer than the node's own prefix of
    /// `6 × depth` bits), `default` answering where no prefix of `list`
    /// does.
    fn build(&mut self, depth: usize, default: u32, list: &[Entry]) -> Node {
        let own = STRIDE * depth;
        let split = own + STRIDE;
        let mut values = [default; 64];
        let mut vector = 0u64;
        // In (network, length) order a prefix comes before every prefix
        // it contains, so writing in order leaves the longest match.
        for e in list {
            let len = usize::from(e.len);
            if len <= own {
                continue;
            }
            let pos = chunk(e.net, depth);
            if len <= split {
                let span = 1usize << (split - len);
                if let Some(range) = values.get_mut(pos..pos + span) {
                    range.fill(e.leaf);
                }
            } else if depth + 1 < LEVELS {
                vector |= 1 << pos;
            }
        }
        let mut children = [Node::default(); 64];
        // A position's longer prefixes are contiguous in `list`, after
        // any shorter prefix starting at the same position.
        let mut i = 0;
        while let Some(e) = list.get(i) {
            let pos = chunk(e.net, depth);
            if usize::from(e.len) <= split || (vector >> pos) & 1 == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while list.get(i).is_some_and(|x| chunk(x.net, depth) == pos) {
                i += 1;
            }
            let child = self.build(
                depth + 1,
                values.get(pos).copied().unwrap_or(default),
                list.get(start..i).unwrap_or(&[]),
            );
            if let Some(slot) = children.get_mut(pos) {
                *slot = child;
            }
        }
        self.store(vector, &children, &values)
    }

    /// The prefixes of `index` within `lo..=hi` longer than `min_len`
    /// bits, as builder entries (the default route never is one).
    fn collect(index: &BTreeMap<Ipv4Cidr, u32>, lo: u32, hi: u32, min_len: usize) -> Vec<Entry> {
        let from = Ipv4Cidr::new_clamped(Ipv4Addr::from_bits(lo), 0);
        let to = Ipv4Cidr::new_clamped(Ipv4Addr::from_bits(hi), 32);
        index
            .range(from..=to)
            .filter(|(c, _)| usize::from(c.prefix_len()) > min_len)
            .map(|(c, &s)| Entry {
                net: c.address().to_bits(),
                len: c.prefix_len(),
                leaf: s + 1,
            })
            .collect()
    }

    /// The leaf of the longest prefix of `index` containing `addr` whose
    /// length is in `min_len..=max_len` (at least 1), or `otherwise`.
    fn longest_of(
        index: &BTreeMap<Ipv4Cidr, u32>,
        addr: u32,
        min_len: usize,
        max_len: usize,
        otherwise: u32,
    ) -> u32 {
        (min_len.max(1)..=max_len.min(32))
            .rev()
            .find_map(|l| {
                index.get(&Ipv4Cidr::new_clamped(
                    Ipv4Addr::from_bits(addr & mask(l)),
                    l as u8,
                ))
            })
            .map_or(otherwise, |&s| s + 1)
    }

    /// Rebuilds everything from `index`, compacting the arrays.
    fn rebuild_all(&mut self, index: &BTreeMap<Ipv4Cidr, u32>) {
        let list = Trie::collect(index, 0, u32::MAX, 0);
        *self = Trie::new();
        self.leaves.clear();
        let root = self.build(0, 0, &list);
        self.set_node(0, root);
    }

    /// Rebuilds positions `p0..p1` of the node `at` (at `depth`, its
    /// range starting at `lo`) from `index`, keeping the other positions'
    /// leaves and subtrees as they are.
    fn update_positions(
        &mut self,
        index: &BTreeMap<Ipv4Cidr, u32>,
        at: u32,
        depth: usize,
        lo: u32,
        p0: usize,
        p1: usize,
    ) {
        let own = STRIDE * depth;
        let split = own + STRIDE;
        let old = self.node(at);
        let mut children = [Node::default(); 64];
        let mut values = [0u32; 64];
        for v in 0..64 {
            if (old.vector >> v) & 1 != 0 {
                if let Some(c) = children.get_mut(v) {
                    *c = self.child(&old, v);
                }
            } else if let Some(x) = values.get_mut(v) {
                *x = self.leaf(&old, v);
            }
        }
        // Everything about to be replaced goes back to the free lists
        // first (its contents are copied above), so the new blocks can
        // reuse it.
        let mut vector = old.vector;
        for v in p0..p1.min(64) {
            if (old.vector >> v) & 1 != 0 {
                self.free_below(&children.get(v).copied().unwrap_or_default());
                vector &= !(1 << v);
            }
        }
        self.free_blocks(&old);
        let node_default = Trie::longest_of(index, lo, 1, own, 0);
        for v in p0..p1.min(64) {
            let pos_lo = lo | ((v as u64) << 32 >> split) as u32;
            let value = Trie::longest_of(index, pos_lo, own + 1, split, node_default);
            if let Some(x) = values.get_mut(v) {
                *x = value;
            }
            if depth + 1 < LEVELS {
                let pos_hi = pos_lo | !mask(split);
                let list = Trie::collect(index, pos_lo, pos_hi, split);
                if !list.is_empty() {
                    let child = self.build(depth + 1, value, &list);
                    if let Some(c) = children.get_mut(v) {
                        *c = child;
                    }
                    vector |= 1 << v;
                }
            }
        }
        let new = self.store(vector, &children, &values);
        self.set_node(at, new);
    }

    /// Brings the trie in line with `index` after `prefix` (not `/0`) was
    /// added to or removed from it.
    fn update(&mut self, index: &BTreeMap<Ipv4Cidr, u32>, prefix: Ipv4Cidr) {
        let len = usize::from(prefix.prefix_len());
        if len == 0 {
            return;
        }
        // The deepest level whose nodes contain the whole prefix, and the
        // deepest existing node on the way there.
        let target = (len - 1) / STRIDE;
        let net = prefix.network().to_bits();
        let mut path = [0u32; LEVELS];
        let mut depth = 0;
        while depth < target {
            let node = self.node(path[depth]);
            let v = chunk(net, depth);
            if (node.vector >> v) & 1 == 0 {
                break;
            }
            path[depth + 1] = (node.base_node as usize + rank(node.vector, v) - 1) as u32;
            depth += 1;
        }
        // The positions the prefix covers there: its span if it ends in
        // this node, else the one position on its way down.
        let own = STRIDE * depth;
        let p0 = chunk(net, depth);
        let span = if len <= own + STRIDE {
            1 << (own + STRIDE - len)
        } else {
            1
        };
        self.update_positions(index, path[depth], depth, net & mask(own), p0, p0 + span);
        // A node left with one answer folds into its parent.
        while depth > 0 && self.node(path[depth]).is_trivial() {
            depth -= 1;
            let own = STRIDE * depth;
            let p = chunk(net, depth);
            self.update_positions(index, path[depth], depth, net & mask(own), p, p + 1);
        }
        let live_nodes = self.nodes.len() - self.garbage_nodes;
        let live_leaves = self.leaves.len() - self.garbage_leaves;
        if self.garbage_nodes > live_nodes.max(1024) || self.garbage_leaves > live_leaves.max(4096)
        {
            self.rebuild_all(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::{Rng, SeededRng};
    use std::string::ToString;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// The reference: a linear scan for the longest prefix, then the
    /// lowest metric.
    fn naive(routes: &[(Ipv4Cidr, Route<u32>)], dst: Ipv4Addr) -> Option<(Ipv4Cidr, &Route<u32>)> {
        routes
            .iter()
            .filter(|(p, _)| p.contains(dst))
            .min_by_key(|(p, r)| (core::cmp::Reverse(p.prefix_len()), r.metric))
            .map(|(p, r)| (*p, r))
    }

    #[test]
    fn empty_table_has_no_route() {
        let t: RoutingTable = RoutingTable::new(10);
        assert!(t.lookup(a("192.0.2.1")).is_none());
        assert!(t.lookup(a("0.0.0.0")).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn longest_prefix_wins_rfc_1812_section_5_2_4_3() {
        let mut t = RoutingTable::new(100);
        t.insert(c("10.0.0.0/8"), Route::on_link(IfaceId(1)))
            .unwrap();
        t.insert(c("10.1.0.0/16"), Route::on_link(IfaceId(2)))
            .unwrap();
        t.insert(c("10.1.2.0/24"), Route::on_link(IfaceId(3)))
            .unwrap();
        t.insert(c("10.1.2.128/25"), Route::on_link(IfaceId(4)))
            .unwrap();
        t.insert(c("10.1.2.200/32"), Route::on_link(IfaceId(5)))
            .unwrap();
        let iface = |s: &str| t.lookup(a(s)).map(|m| m.route.interface.0);
        assert_eq!(iface("10.200.0.1"), Some(1));
        assert_eq!(iface("10.1.200.1"), Some(2));
        assert_eq!(iface("10.1.2.1"), Some(3));
        assert_eq!(iface("10.1.2.129"), Some(4));
        assert_eq!(iface("10.1.2.200"), Some(5));
        assert_eq!(iface("10.1.2.201"), Some(4));
        assert_eq!(iface("11.0.0.0"), None);
        assert_eq!(
            t.lookup(a("10.1.2.200")).unwrap().prefix,
            c("10.1.2.200/32")
        );
    }

    #[test]
    fn default_route_catches_everything_else() {
        let mut t = RoutingTable::new(100);
        let gw = a("192.0.2.1");
        assert_eq!(t.set_default_route(Route::via(gw, IfaceId(0))), Ok(None));
        t.insert(c("192.0.2.0/24"), Route::on_link(IfaceId(0)))
            .unwrap();
        let m = t.lookup(a("198.51.100.1")).unwrap();
        assert_eq!(m.prefix, c("0.0.0.0/0"));
        assert_eq!(m.next_hop(a("198.51.100.1")), gw);
        assert_eq!(
            t.lookup(a("255.255.255.255")).unwrap().prefix,
            c("0.0.0.0/0")
        );
        assert_eq!(
            t.lookup(a("192.0.2.9")).unwrap().next_hop(a("192.0.2.9")),
            a("192.0.2.9")
        );
        assert_eq!(t.default_route().unwrap().next_hop, Some(gw));
        // Replacing the default gateway returns the old route.
        let old = t
            .set_default_route(Route::via(a("192.0.2.254"), IfaceId(0)))
            .unwrap();
        assert_eq!(old.unwrap().next_hop, Some(gw));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn host_routes_and_last_level_prefixes_match_exactly() {
        let mut t = RoutingTable::new(100);
        for (i, p) in [
            "203.0.113.0/31",
            "203.0.113.2/32",
            "203.0.113.4/30",
            "203.0.113.252/30",
        ]
        .iter()
        .enumerate()
        {
            t.insert(c(p), Route::on_link(IfaceId(i as u16))).unwrap();
        }
        let got: Vec<Option<u16>> = (0..=255u8)
            .map(|x| {
                t.lookup(Ipv4Addr::new(203, 0, 113, x))
                    .map(|m| m.route.interface.0)
            })
            .collect();
        for (x, g) in got.iter().enumerate() {
            let want = match x {
                0 | 1 => Some(0),
                2 => Some(1),
                4..=7 => Some(2),
                252..=255 => Some(3),
                _ => None,
            };
            assert_eq!(*g, want, "203.0.113.{x}");
        }
    }

    #[test]
    fn ties_are_broken_by_lowest_metric() {
        let mut t = RoutingTable::new(100);
        let p = c("198.51.100.0/24");
        t.insert(p, Route::on_link(IfaceId(1)).with_metric(100))
            .unwrap();
        t.insert(p, Route::on_link(IfaceId(2)).with_metric(10))
            .unwrap();
        t.insert(p, Route::on_link(IfaceId(3)).with_metric(50))
            .unwrap();
        assert_eq!(
            t.lookup(a("198.51.100.1")).unwrap().route.interface,
            IfaceId(2)
        );
        let metrics: Vec<u32> = t.routes_of(p).map(|r| r.metric).collect();
        assert_eq!(metrics, [10, 50, 100]);
        assert_eq!(
            t.insert(p, Route::on_link(IfaceId(4)).with_metric(50)),
            Err(Error::RouteExists)
        );
        assert_eq!(t.remove(p, 10).unwrap().interface, IfaceId(2));
        assert_eq!(
            t.lookup(a("198.51.100.1")).unwrap().route.interface,
            IfaceId(3)
        );
        assert_eq!(t.remove(p, 7), None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove_prefix(p), 2);
        assert!(t.lookup(a("198.51.100.1")).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn replace_changes_the_route_of_the_same_metric() {
        let mut t = RoutingTable::new(100);
        let p = c("198.51.100.0/24");
        t.insert(p, Route::via(a("192.0.2.1"), IfaceId(1)).with_mtu(1400))
            .unwrap();
        let old = t
            .replace(p, Route::via(a("192.0.2.2"), IfaceId(1)))
            .unwrap()
            .unwrap();
        assert_eq!(old.mtu, Some(1400));
        let m = t.lookup(a("198.51.100.3")).unwrap();
        assert_eq!(m.route.next_hop, Some(a("192.0.2.2")));
        assert_eq!(m.route.mtu, None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn rejects_prefixes_with_host_bits() {
        let mut t = RoutingTable::new(100);
        assert_eq!(
            t.insert(c("192.0.2.1/24"), Route::on_link(IfaceId(0))),
            Err(Error::PrefixNotNormalized)
        );
        assert_eq!(
            t.replace(c("192.0.2.1/24"), Route::on_link(IfaceId(0))),
            Err(Error::PrefixNotNormalized)
        );
        assert!(t.is_empty());
    }

    #[test]
    fn insert_fails_when_full() {
        let mut t = RoutingTable::new(2);
        t.insert(c("192.0.2.0/24"), Route::on_link(IfaceId(0)))
            .unwrap();
        t.insert(c("192.0.2.0/24"), Route::on_link(IfaceId(1)).with_metric(1))
            .unwrap();
        assert_eq!(
            t.insert(c("198.51.100.0/24"), Route::on_link(IfaceId(0))),
            Err(Error::RouteTableFull { max: 2 })
        );
        assert_eq!(
            t.set_default_route(Route::on_link(IfaceId(0))),
            Err(Error::RouteTableFull { max: 2 })
        );
        // Replacing an existing route needs no room.
        assert!(
            t.replace(c("192.0.2.0/24"), Route::on_link(IfaceId(2)))
                .is_ok()
        );
        assert_eq!(t.len(), 2);
        assert!(t.lookup(a("198.51.100.1")).is_none());
    }

    #[test]
    fn retain_removes_routes_of_a_downed_interface() {
        let mut t = RoutingTable::new(100);
        t.insert(c("10.0.0.0/8"), Route::on_link(IfaceId(1)))
            .unwrap();
        t.insert(c("10.1.0.0/16"), Route::on_link(IfaceId(2)))
            .unwrap();
        t.insert(c("10.1.0.0/16"), Route::on_link(IfaceId(1)).with_metric(5))
            .unwrap();
        t.insert(c("10.1.1.0/24"), Route::on_link(IfaceId(2)))
            .unwrap();
        t.retain(|_, r| r.interface != IfaceId(2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(a("10.1.1.1")).unwrap().prefix, c("10.1.0.0/16"));
        assert_eq!(t.lookup(a("10.1.1.1")).unwrap().route.interface, IfaceId(1));
        let all: Vec<(Ipv4Cidr, u16)> = t.iter().map(|(p, r)| (p, r.interface.0)).collect();
        assert_eq!(all, [(c("10.0.0.0/8"), 1), (c("10.1.0.0/16"), 1)]);
    }

    #[test]
    fn iter_lists_routes_by_prefix_then_metric() {
        let mut t = RoutingTable::new(100);
        t.insert(c("192.0.2.0/24"), Route::on_link(IfaceId(0)).with_metric(9))
            .unwrap();
        t.insert(c("10.0.0.0/8"), Route::on_link(IfaceId(0)))
            .unwrap();
        t.insert(c("192.0.2.0/24"), Route::on_link(IfaceId(0)).with_metric(3))
            .unwrap();
        t.insert(c("192.0.2.0/25"), Route::on_link(IfaceId(0)))
            .unwrap();
        let all: Vec<std::string::String> = t
            .iter()
            .map(|(p, r)| std::format!("{p}@{}", r.metric))
            .collect();
        assert_eq!(
            all,
            [
                "10.0.0.0/8@0",
                "192.0.2.0/24@3",
                "192.0.2.0/24@9",
                "192.0.2.0/25@0"
            ]
        );
        assert_eq!(t.prefix_count(), 3);
        assert_eq!(IfaceId(3).to_string(), "if3");
    }

    #[test]
    fn route_data_travels_with_the_route() {
        let mut t: RoutingTable<&str> = RoutingTable::new(10);
        t.insert(
            c("192.0.2.0/24"),
            Route::on_link(IfaceId(0)).with_data("connected"),
        )
        .unwrap();
        assert_eq!(t.lookup(a("192.0.2.5")).unwrap().route.data, "connected");
    }

    /// A random prefix drawn near a few hot spots so that prefixes nest
    /// and share trie nodes at every level.
    fn random_prefix(rng: &mut SeededRng, hot: &[u32]) -> Ipv4Cidr {
        let base = hot[rng.below(hot.len() as u32) as usize]
            ^ rng.next_u32().checked_shr(rng.in_range(4, 32)).unwrap_or(0);
        let len = match rng.below(10) {
            0 => rng.below(8) as u8,
            1..=3 => rng.in_range(8, 23) as u8,
            4..=6 => 24,
            _ => rng.in_range(25, 32) as u8,
        };
        Ipv4Cidr::new(Ipv4Addr::from_bits(base), len)
            .unwrap()
            .normalized()
    }

    fn probe_addresses(
        rng: &mut SeededRng,
        routes: &[(Ipv4Cidr, Route<u32>)],
        hot: &[u32],
    ) -> Vec<Ipv4Addr> {
        let mut v = Vec::new();
        for (p, _) in routes {
            let net = p.network().to_bits();
            let last = net | !p.netmask().to_bits();
            for x in [net, last, net.wrapping_sub(1), last.wrapping_add(1)] {
                v.push(Ipv4Addr::from_bits(x));
            }
        }
        for _ in 0..500 {
            v.push(Ipv4Addr::from_bits(rng.next_u32()));
            let h = hot[rng.below(hot.len() as u32) as usize];
            v.push(Ipv4Addr::from_bits(
                h ^ rng.next_u32().checked_shr(rng.in_range(0, 32)).unwrap_or(0),
            ));
        }
        v
    }

    fn check_against_naive(
        t: &RoutingTable<u32>,
        routes: &[(Ipv4Cidr, Route<u32>)],
        probes: &[Ipv4Addr],
    ) {
        for &dst in probes {
            let got = t.lookup(dst).map(|m| (m.prefix, m.route));
            let want = naive(routes, dst);
            assert_eq!(got, want, "lookup of {dst}");
        }
    }

    #[test]
    fn lookup_equals_a_linear_longest_prefix_scan_on_random_tables() {
        let mut rng = SeededRng::new(0x5eed_0001);
        let mut cases = 0;
        for round in 0..40 {
            let hot: Vec<u32> = (0..1 + round % 7).map(|_| rng.next_u32()).collect();
            let mut t = RoutingTable::new(10_000);
            let mut routes: Vec<(Ipv4Cidr, Route<u32>)> = Vec::new();
            let n = 1 + rng.below(if round % 5 == 0 { 2000 } else { 150 }) as usize;
            for i in 0..n {
                let p = random_prefix(&mut rng, &hot);
                let metric = rng.below(3);
                let r = Route::on_link(IfaceId(i as u16))
                    .with_metric(metric)
                    .with_data(i as u32);
                match t.insert(p, r) {
                    Ok(()) => routes.push((p, r)),
                    Err(Error::RouteExists) => {
                        assert!(routes.iter().any(|(q, x)| *q == p && x.metric == metric));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(t.len(), routes.len());
            let probes = probe_addresses(&mut rng, &routes, &hot);
            cases += probes.len();
            check_against_naive(&t, &routes, &probes);

            // Remove a random half (by route and by whole prefix), then
            // compare again.
            let mut k = 0;
            while k < routes.len() {
                if rng.below(2) == 0 {
                    let (p, r) = routes[k];
                    if rng.below(4) == 0 {
                        let n = t.remove_prefix(p);
                        let before = routes.len();
                        routes.retain(|(q, _)| *q != p);
                        assert_eq!(n, before - routes.len());
                    } else {
                        assert_eq!(t.remove(p, r.metric), Some(r));
                        routes.remove(k);
                    }
                } else {
                    k += 1;
                }
            }
            assert_eq!(t.len(), routes.len());
            let probes = probe_addresses(&mut rng, &routes, &hot);
            cases += probes.len();
            check_against_naive(&t, &routes, &probes);

            // And after adding some back, including a default route.
            if round % 3 == 0 {
                let r = Route::on_link(IfaceId(999)).with_metric(7).with_data(999);
                if t.insert(c("0.0.0.0/0"), r).is_ok() {
                    routes.push((c("0.0.0.0/0"), r));
                }
            }
            for i in 0..50 {
                let p = random_prefix(&mut rng, &hot);
                let r = Route::on_link(IfaceId(i))
                    .with_metric(3)
                    .with_data(5000 + u32::from(i));
                if t.insert(p, r).is_ok() {
                    routes.push((p, r));
                }
            }
            let probes = probe_addresses(&mut rng, &routes, &hot);
            cases += probes.len();
            check_against_naive(&t, &routes, &probes);
        }
        assert!(cases > 10_000, "{cases}");
    }

    #[test]
    fn removing_everything_leaves_an_empty_compact_trie() {
        let mut rng = SeededRng::new(7);
        let hot = [0x0a00_0000u32, 0xc000_0200];
        let mut t = RoutingTable::new(100_000);
        let mut ps = Vec::new();
        for _ in 0..3000 {
            let p = random_prefix(&mut rng, &hot);
            if t.insert(p, Route::on_link(IfaceId(0))).is_ok() {
                ps.push(p);
            }
        }
        let before = t.lookup(a("10.0.0.1")).map(|m| m.prefix);
        let bytes = t.trie_bytes();
        t.compact();
        assert!(t.trie_bytes() <= bytes);
        assert_eq!(t.lookup(a("10.0.0.1")).map(|m| m.prefix), before);
        for p in &ps {
            assert_eq!(t.remove_prefix(*p), 1);
        }
        assert!(t.is_empty());
        assert!(t.lookup(a("10.0.0.1")).is_none());
        // Removal folds emptied nodes into their parents: only the root
        // is live.
        assert_eq!(t.trie.nodes.len() - t.trie.garbage_nodes, 1);
        assert!(t.trie.node(0).is_trivial());
    }

    #[test]
    fn churn_keeps_memory_bounded_by_live_prefixes() {
        let mut rng = SeededRng::new(99);
        let hot: Vec<u32> = (0..4).map(|_| rng.next_u32()).collect();
        let mut t = RoutingTable::new(100_000);
        let mut live: Vec<Ipv4Cidr> = Vec::new();
        for step in 0..20_000 {
            if live.len() < 500 || rng.below(2) == 0 {
                let p = random_prefix(&mut rng, &hot);
                if t.insert(p, Route::on_link(IfaceId(0))).is_ok() {
                    live.push(p);
                }
            } else {
                let p = live.swap_remove(rng.below(live.len() as u32) as usize);
                assert_eq!(t.remove_prefix(p), 1);
            }
            if step % 1000 == 0 {
                let n = t.prefix_count();
                assert!(
                    t.trie.nodes.len() <= 2 * (1 + 5 * n) + 1024,
                    "{} nodes for {n}",
                    t.trie.nodes.len()
                );
                assert!(
                    t.trie.leaves.len() <= 2 * (1 + 7 * n) + 4096,
                    "{} leaves for {n}",
                    t.trie.leaves.len()
                );
            }
        }
    }

    #[test]
    fn chunks_and_ranks() {
        assert_eq!(chunk(0xffff_ffff, 0), 63);
        assert_eq!(chunk(0xffff_ffff, 5), 0b11_0000);
        assert_eq!(chunk(0x0400_0000, 0), 1);
        assert_eq!(rank(0b1011, 0), 1);
        assert_eq!(rank(0b1011, 2), 2);
        assert_eq!(rank(u64::MAX, 63), 64);
        assert_eq!(mask(0), 0);
        assert_eq!(mask(32), u32::MAX);
        assert_eq!(mask(24), 0xffff_ff00);
    }
}
