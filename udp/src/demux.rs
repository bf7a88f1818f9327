//! The port table: which socket a received datagram belongs to, and the
//! bind / connect rules that keep that answer unambiguous.
//!
//! # Calling protocol
//!
//! The socket layer owns the sockets and gives each a handle `H` (any
//! `Copy + Ord` id: an index, a generational key). The table maps local
//! endpoints to handles:
//!
//! - [`bind`](UdpTable::bind) a handle to a local address (or
//!   [`Ipv4Addr::UNSPECIFIED`], any address) and port (or 0: an ephemeral
//!   port drawn at random, RFC 6056). The table does not know which
//!   addresses are ours: check that a specific address is one before
//!   binding (`EADDRNOTAVAIL`).
//! - [`connect`](UdpTable::connect) sets the remote endpoint, and may fix
//!   the local address the route chose; a socket sending before it is
//!   bound is bound first with port 0 (Linux's autobind).
//!   [`disconnect`](UdpTable::disconnect) and
//!   [`unbind`](UdpTable::unbind) undo them.
//! - For each received datagram that passed its checksum
//!   ([`ChecksumPolicy`](crate::ChecksumPolicy)): if its destination is a
//!   unicast address of ours, [`lookup`](UdpTable::lookup) gives the one
//!   socket it belongs to; if it is the limited broadcast, a directed
//!   broadcast of one of our subnets (or a multicast group),
//!   [`lookup_all`](UdpTable::lookup_all) gives every socket that gets a
//!   copy. No socket: count it ([`UdpStats`](crate::UdpStats)) and, for
//!   unicast only, answer with ICMP port unreachable (RFC 1122 §4.1.3.1).
//!
//! # Matching
//!
//! [`lookup`](UdpTable::lookup) prefers, in order: a socket connected to
//! exactly this 4-tuple (local address, local port, remote address,
//! remote port); one connected to the remote and bound to the wildcard
//! address; one bound (unconnected) to the destination address; one bound
//! to the wildcard address. A connected socket receives only from its
//! peer. When several sockets share the best match (allowed by
//! [`reuse_addr`](BindOptions::reuse_addr)), the most recently bound one
//! wins, as in Linux without `SO_REUSEPORT`.
//!
//! Each lookup costs one probe of an open-addressing table keyed by port
//! plus up to four ordered-map lookups among the sockets of that port: no
//! scan over all sockets, however many there are.
//!
//! # Bind conflicts
//!
//! Linux's rule for UDP without `SO_REUSEPORT`: two bindings on the same
//! port conflict when their local addresses are equal or either is the
//! wildcard, unless both set [`reuse_addr`](BindOptions::reuse_addr)
//! (`SO_REUSEADDR`). So `0.0.0.0:53` and `192.0.2.1:53` exclude each
//! other by default, while `192.0.2.1:53` and `192.0.2.2:53` coexist.
//! Connecting does not change the rule: a connected socket holds its
//! local endpoint like any other binding. An ephemeral port is only ever
//! drawn among ports with no binding at all.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::Rng;

use crate::Error;

mod portmap;

use portmap::PortMap;

/// An inclusive range of ports, never containing port 0.
///
/// ```
/// use lamina_udp::PortRange;
///
/// assert_eq!(PortRange::default(), PortRange::new(49152, 65535).unwrap());
/// assert_eq!(PortRange::default().len(), 16384);
/// assert!(PortRange::new(0, 10).is_none());
/// assert!(PortRange::new(2000, 1000).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

impl PortRange {
    /// The IANA dynamic and private ports, 49152 to 65535 (RFC 6335
    /// §6, the range RFC 6056 §3.2 recommends).
    pub const DYNAMIC: PortRange = PortRange {
        lo: 49152,
        hi: 65535,
    };

    /// `lo..=hi`, or `None` if `lo` is 0 or above `hi`.
    #[inline]
    pub const fn new(lo: u16, hi: u16) -> Option<PortRange> {
        if lo == 0 || lo > hi {
            None
        } else {
            Some(PortRange { lo, hi })
        }
    }

    /// The first port.
    #[inline]
    pub const fn first(&self) -> u16 {
        self.lo
    }

    /// The last port.
    #[inline]
    pub const fn last(&self) -> u16 {
        self.hi
    }

    /// The number of ports (at least 1).
    #[inline]
    pub const fn len(&self) -> u32 {
        self.hi as u32 - self.lo as u32 + 1
    }

    /// Always false: a range holds at least one port.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Whether `port` is in the range.
    #[inline]
    pub const fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

impl Default for PortRange {
    fn default() -> PortRange {
        PortRange::DYNAMIC
    }
}

/// The limits and policies of a [`UdpTable`].
///
/// ```
/// use lamina_udp::{PortRange, UdpTableConfig};
///
/// let mut config = UdpTableConfig::default();
/// config.max_bindings = 1024;
/// config.ephemeral_ports = PortRange::new(32768, 60999).unwrap(); // Linux's
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpTableConfig {
    /// The most bindings at once; [`bind`](UdpTable::bind) beyond it
    /// fails with [`Error::TableFull`]. Default 16384.
    pub max_bindings: usize,
    /// Where port 0 binds are placed (default [`PortRange::DYNAMIC`]).
    pub ephemeral_ports: PortRange,
    /// Deliver broadcasts only to sockets with
    /// [`broadcast`](BindOptions::broadcast) set (default true). Linux
    /// and BSD deliver broadcasts to every matching socket and use
    /// `SO_BROADCAST` only to allow sending them; set false for that.
    pub broadcast_requires_flag: bool,
}

impl Default for UdpTableConfig {
    fn default() -> UdpTableConfig {
        UdpTableConfig {
            max_bindings: 16384,
            ephemeral_ports: PortRange::DYNAMIC,
            broadcast_requires_flag: true,
        }
    }
}

/// Per-socket options that the table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BindOptions {
    /// `SO_REUSEADDR`: share a local endpoint with other bindings that
    /// set it too (see the [bind rule](self#bind-conflicts)).
    pub reuse_addr: bool,
    /// `SO_BROADCAST`: receive broadcasts (when
    /// [`broadcast_requires_flag`](UdpTableConfig::broadcast_requires_flag))
    /// and, for the socket layer to check, send them.
    pub broadcast: bool,
}

/// A binding as the table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingInfo {
    /// The local endpoint; the address may be the wildcard
    /// ([`Ipv4Addr::UNSPECIFIED`]).
    pub local: SocketAddrV4,
    /// The remote endpoint, when connected.
    pub remote: Option<SocketAddrV4>,
    /// The options.
    pub options: BindOptions,
    /// The local address was chosen by the user (not the wildcard and not
    /// fixed by [`connect`](UdpTable::connect)).
    pub addr_locked: bool,
    /// The local port was chosen by the user (not ephemeral).
    pub port_locked: bool,
}

/// A handle with its broadcast flag, in a port's lists.
#[derive(Debug, Clone, Copy)]
struct Member<H> {
    handle: H,
    broadcast: bool,
}

/// Bindings on one local address of a port (or on the whole port).
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    all: u32,
    /// Those without `reuse_addr`.
    exclusive: u32,
}

impl Counts {
    fn add(&mut self, reuse: bool) {
        self.all += 1;
        self.exclusive += u32::from(!reuse);
    }

    fn sub(&mut self, reuse: bool) {
        self.all = self.all.saturating_sub(1);
        if !reuse {
            self.exclusive = self.exclusive.saturating_sub(1);
        }
    }

    fn plus(self, other: Counts) -> Counts {
        Counts {
            all: self.all + other.all,
            exclusive: self.exclusive + other.exclusive,
        }
    }
}

/// The sockets of one port.
#[derive(Debug, Clone)]
struct PortEntry<H> {
    /// Unconnected, by local address (the wildcard included), oldest
    /// first.
    unconnected: BTreeMap<Ipv4Addr, Vec<Member<H>>>,
    /// Connected, by (local address, remote address, remote port).
    connected: BTreeMap<(Ipv4Addr, Ipv4Addr, u16), Vec<Member<H>>>,
    /// Every binding (connected or not), by local address.
    by_addr: BTreeMap<Ipv4Addr, Counts>,
}

impl<H> PortEntry<H> {
    fn new() -> PortEntry<H> {
        PortEntry {
            unconnected: BTreeMap::new(),
            connected: BTreeMap::new(),
            by_addr: BTreeMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    fn counts(&self, addr: Ipv4Addr) -> Counts {
        self.by_addr.get(&addr).copied().unwrap_or_default()
    }

    /// Whether a new binding to `addr` with `reuse` conflicts.
    fn conflicts(&self, addr: Ipv4Addr, reuse: bool) -> bool {
        let relevant = if addr.is_unspecified() {
            self.by_addr
                .values()
                .fold(Counts::default(), |a, c| a.plus(*c))
        } else {
            self.counts(addr).plus(self.counts(Ipv4Addr::UNSPECIFIED))
        };
        relevant.all > 0 && (!reuse || relevant.exclusive > 0)
    }
}

/// Where a binding's handle sits in its port's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Unconnected(Ipv4Addr),
    Connected(Ipv4Addr, Ipv4Addr, u16),
}

impl Binding {
    fn slot(&self) -> Slot {
        match self.remote {
            None => Slot::Unconnected(self.local),
            Some(r) => Slot::Connected(self.local, *r.ip(), r.port()),
        }
    }

    fn info(&self) -> BindingInfo {
        BindingInfo {
            local: SocketAddrV4::new(self.local, self.port),
            remote: self.remote,
            options: self.options,
            addr_locked: self.addr_locked,
            port_locked: self.port_locked,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Binding {
    local: Ipv4Addr,
    port: u16,
    remote: Option<SocketAddrV4>,
    options: BindOptions,
    addr_locked: bool,
    port_locked: bool,
}

/// The UDP demultiplexer: local (and remote) endpoints to socket handles.
/// See the [module documentation](self) for the calling protocol, the
/// matching order and the bind rule.
///
/// Memory is bounded by [`max_bindings`](UdpTableConfig::max_bindings).
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddrV4};
/// use lamina_netbuf::SeededRng;
/// use lamina_udp::{BindOptions, Error, UdpTable, UdpTableConfig};
///
/// let me = Ipv4Addr::new(192, 0, 2, 1);
/// let peer = Ipv4Addr::new(198, 51, 100, 7);
/// let mut rng = SeededRng::new(1);
/// let mut table = UdpTable::new(UdpTableConfig::default());
///
/// // A server on any address, port 53; a client on an ephemeral port.
/// table.bind(1, Ipv4Addr::UNSPECIFIED, 53, BindOptions::default(), &mut rng)?;
/// let client = table.bind(2, Ipv4Addr::UNSPECIFIED, 0, BindOptions::default(), &mut rng)?;
/// assert!((49152..=65535).contains(&client.port()));
/// table.connect(2, SocketAddrV4::new(peer, 53), Some(me))?;
///
/// assert_eq!(table.lookup(me, 53, peer, 40000), Some(1));
/// assert_eq!(table.lookup(me, client.port(), peer, 53), Some(2));
/// // A connected socket hears only from its peer.
/// assert_eq!(table.lookup(me, client.port(), peer, 54), None);
/// // The port is taken.
/// assert_eq!(
///     table.bind(3, me, 53, BindOptions::default(), &mut rng),
///     Err(Error::AddrInUse { addr: me, port: 53 }),
/// );
/// # Ok::<(), lamina_udp::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct UdpTable<H> {
    config: UdpTableConfig,
    bindings: BTreeMap<H, Binding>,
    ports: PortMap<PortEntry<H>>,
}

impl<H: Copy + Ord> UdpTable<H> {
    /// An empty table.
    pub fn new(config: UdpTableConfig) -> UdpTable<H> {
        UdpTable {
            config,
            bindings: BTreeMap::new(),
            ports: PortMap::new(),
        }
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &UdpTableConfig {
        &self.config
    }

    /// The number of bindings.
    #[inline]
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Whether nothing is bound.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// The number of ports with at least one binding.
    #[inline]
    pub fn ports_in_use(&self) -> usize {
        self.ports.len()
    }

    /// Whether any socket is bound to `port`.
    #[inline]
    pub fn port_in_use(&self, port: u16) -> bool {
        self.ports.contains(port)
    }

    /// The binding of `handle`.
    #[inline]
    pub fn binding(&self, handle: H) -> Option<BindingInfo> {
        self.bindings.get(&handle).map(Binding::info)
    }

    /// Every binding, ordered by handle.
    pub fn iter(&self) -> impl Iterator<Item = (H, BindingInfo)> + '_ {
        self.bindings.iter().map(|(h, b)| (*h, b.info()))
    }

    /// Binds `handle` to `addr` ([`Ipv4Addr::UNSPECIFIED`]: any of ours)
    /// and `port` (0: an ephemeral port, drawn from `rng`), returning the
    /// local endpoint.
    ///
    /// Fails with [`Error::AlreadyBound`], [`Error::TableFull`],
    /// [`Error::AddrInUse`] (see the [bind rule](self#bind-conflicts)) or
    /// [`Error::NoEphemeralPort`]; the table is then unchanged.
    ///
    /// The ephemeral port follows RFC 6056 §3.3.1 (Algorithm 1): a
    /// uniformly random start in the [range](UdpTableConfig::ephemeral_ports),
    /// then the next ports in turn until one is free. It stops after at
    /// most one more port than there are bindings.
    pub fn bind<R: Rng + ?Sized>(
        &mut self,
        handle: H,
        addr: Ipv4Addr,
        port: u16,
        options: BindOptions,
        rng: &mut R,
    ) -> Result<SocketAddrV4, Error> {
        if self.bindings.contains_key(&handle) {
            return Err(Error::AlreadyBound);
        }
        if self.bindings.len() >= self.config.max_bindings {
            return Err(Error::TableFull {
                max: self.config.max_bindings,
            });
        }
        let port_locked = port != 0;
        let port = if port_locked {
            if self
                .ports
                .get(port)
                .is_some_and(|e| e.conflicts(addr, options.reuse_addr))
            {
                return Err(Error::AddrInUse { addr, port });
            }
            port
        } else {
            self.ephemeral_port(rng)?
        };
        let binding = Binding {
            local: addr,
            port,
            remote: None,
            options,
            addr_locked: !addr.is_unspecified(),
            port_locked,
        };
        self.insert(handle, binding)?;
        Ok(SocketAddrV4::new(addr, port))
    }

    /// RFC 6056 Algorithm 1 over ports with no binding at all.
    fn ephemeral_port<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<u16, Error> {
        let range = self.config.ephemeral_ports;
        let n = range.len();
        let start = rng.below(n);
        // At most `ports_in_use` ports are taken, so a free one turns up
        // within that many + 1 steps if the range has one.
        let steps = n.min(
            u32::try_from(self.ports.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1),
        );
        (0..steps)
            .map(|i| {
                let offset = (start + i) % n;
                u16::try_from(u32::from(range.first()) + offset).unwrap_or(range.last())
            })
            .find(|p| !self.ports.contains(*p))
            .ok_or(Error::NoEphemeralPort)
    }

    /// Adds a binding to the handle map and its port's lists.
    fn insert(&mut self, handle: H, b: Binding) -> Result<(), Error> {
        let entry = self
            .ports
            .get_or_insert_with(b.port, PortEntry::new)
            .ok_or(Error::TableFull {
                max: self.config.max_bindings,
            })?;
        let member = Member {
            handle,
            broadcast: b.options.broadcast,
        };
        match b.slot() {
            Slot::Unconnected(a) => entry.unconnected.entry(a).or_default().push(member),
            Slot::Connected(l, r, rp) => {
                entry.connected.entry((l, r, rp)).or_default().push(member)
            }
        }
        entry
            .by_addr
            .entry(b.local)
            .or_default()
            .add(b.options.reuse_addr);
        self.bindings.insert(handle, b);
        Ok(())
    }

    /// Removes a binding from the handle map and its port's lists.
    fn take(&mut self, handle: H) -> Option<Binding> {
        let b = self.bindings.remove(&handle)?;
        if let Some(entry) = self.ports.get_mut(b.port) {
            fn drop_member<K: Ord, H: PartialEq>(
                map: &mut BTreeMap<K, Vec<Member<H>>>,
                key: K,
                h: H,
            ) {
                if let Some(list) = map.get_mut(&key) {
                    list.retain(|m| m.handle != h);
                    if list.is_empty() {
                        map.remove(&key);
                    }
                }
            }
            match b.slot() {
                Slot::Unconnected(a) => drop_member(&mut entry.unconnected, a, handle),
                Slot::Connected(l, r, rp) => drop_member(&mut entry.connected, (l, r, rp), handle),
            }
            if let Some(c) = entry.by_addr.get_mut(&b.local) {
                c.sub(b.options.reuse_addr);
                if c.all == 0 {
                    entry.by_addr.remove(&b.local);
                }
            }
            if entry.is_empty() {
                self.ports.remove(b.port);
            }
        }
        Some(b)
    }

    /// Connects `handle` to `remote`: from now on it receives only from
    /// `remote`, and [`lookup`](Self::lookup) prefers it. `local_addr` is
    /// the source address the route chose; it fixes the local address of
    /// a socket bound to the wildcard (as Linux does), and is ignored
    /// when the binding already has a specific address. Connecting again
    /// replaces the remote. Returns the local endpoint.
    ///
    /// Fails with [`Error::NotBound`] (bind with port 0 first: autobind)
    /// or [`Error::InvalidRemote`] for port 0 or the unspecified address.
    pub fn connect(
        &mut self,
        handle: H,
        remote: SocketAddrV4,
        local_addr: Option<Ipv4Addr>,
    ) -> Result<SocketAddrV4, Error> {
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(Error::InvalidRemote(remote));
        }
        let mut b = self.take(handle).ok_or(Error::NotBound)?;
        if b.local.is_unspecified()
            && let Some(a) = local_addr
        {
            b.local = a;
        }
        b.remote = Some(remote);
        let local = SocketAddrV4::new(b.local, b.port);
        self.insert(handle, b)?;
        Ok(local)
    }

    /// Dissolves `handle`'s association (`connect` with `AF_UNSPEC`), as
    /// Linux does: the remote is forgotten, a local address that
    /// [`connect`](Self::connect) fixed goes back to the wildcard, and a
    /// socket whose port was ephemeral loses its binding altogether (it is
    /// bound again on its next send). Returns the local endpoint, or
    /// `None` if the socket is now unbound.
    pub fn disconnect(&mut self, handle: H) -> Result<Option<SocketAddrV4>, Error> {
        let mut b = self.take(handle).ok_or(Error::NotBound)?;
        if !b.port_locked {
            return Ok(None);
        }
        b.remote = None;
        if !b.addr_locked {
            b.local = Ipv4Addr::UNSPECIFIED;
        }
        let local = SocketAddrV4::new(b.local, b.port);
        self.insert(handle, b)?;
        Ok(Some(local))
    }

    /// Removes `handle`'s binding (on close), returning what it was.
    pub fn unbind(&mut self, handle: H) -> Option<BindingInfo> {
        self.take(handle).map(|b| b.info())
    }

    /// Sets or clears `handle`'s broadcast flag.
    pub fn set_broadcast(&mut self, handle: H, on: bool) -> Result<(), Error> {
        let b = self.bindings.get_mut(&handle).ok_or(Error::NotBound)?;
        b.options.broadcast = on;
        let (port, slot) = (b.port, b.slot());
        let entry = self.ports.get_mut(port).ok_or(Error::NotBound)?;
        let list = match slot {
            Slot::Unconnected(a) => entry.unconnected.get_mut(&a),
            Slot::Connected(l, r, rp) => entry.connected.get_mut(&(l, r, rp)),
        };
        for m in list.into_iter().flatten() {
            if m.handle == handle {
                m.broadcast = on;
            }
        }
        Ok(())
    }

    /// The socket a unicast datagram from `src:src_port` to
    /// `dst:dst_port` belongs to (see [matching](self#matching)), or
    /// `None`: no socket, answer with port unreachable.
    pub fn lookup(&self, dst: Ipv4Addr, dst_port: u16, src: Ipv4Addr, src_port: u16) -> Option<H> {
        let e = self.ports.get(dst_port)?;
        let newest = |l: &Vec<Member<H>>| l.last().map(|m| m.handle);
        let any = Ipv4Addr::UNSPECIFIED;
        if !e.connected.is_empty() {
            if let Some(h) = e.connected.get(&(dst, src, src_port)).and_then(newest) {
                return Some(h);
            }
            if let Some(h) = e.connected.get(&(any, src, src_port)).and_then(newest) {
                return Some(h);
            }
        }
        // The common case, one local address (often the wildcard) on the
        // port: one look at it instead of two searches.
        if e.unconnected.len() == 1 {
            return e
                .unconnected
                .first_key_value()
                .filter(|(a, _)| **a == dst || **a == any)
                .and_then(|(_, l)| newest(l));
        }
        e.unconnected
            .get(&dst)
            .and_then(newest)
            .or_else(|| e.unconnected.get(&any).and_then(newest))
    }

    /// Every socket that gets a copy of a broadcast (or multicast)
    /// datagram from `src:src_port` to `dst:dst_port`: those bound to the
    /// wildcard address or to `dst` itself, unconnected or connected to
    /// exactly `src:src_port`, with the broadcast flag when
    /// [`broadcast_requires_flag`](UdpTableConfig::broadcast_requires_flag).
    /// A socket bound to one of our unicast addresses gets no broadcasts,
    /// as in Linux.
    ///
    /// ```
    /// use core::net::Ipv4Addr;
    /// use lamina_netbuf::SeededRng;
    /// use lamina_udp::{BindOptions, UdpTable, UdpTableConfig};
    ///
    /// let mut rng = SeededRng::new(1);
    /// let mut table = UdpTable::new(UdpTableConfig::default());
    /// let shared = BindOptions { reuse_addr: true, broadcast: true };
    /// table.bind(1, Ipv4Addr::UNSPECIFIED, 67, shared, &mut rng)?;
    /// table.bind(2, Ipv4Addr::UNSPECIFIED, 67, shared, &mut rng)?;
    /// let plain = BindOptions { reuse_addr: true, broadcast: false };
    /// table.bind(3, Ipv4Addr::UNSPECIFIED, 67, plain, &mut rng)?;
    ///
    /// let client = Ipv4Addr::UNSPECIFIED;
    /// let mut got: Vec<_> = table.lookup_all(Ipv4Addr::BROADCAST, 67, client, 68).collect();
    /// got.sort();
    /// assert_eq!(got, [1, 2]);
    /// # Ok::<(), lamina_udp::Error>(())
    /// ```
    pub fn lookup_all(
        &self,
        dst: Ipv4Addr,
        dst_port: u16,
        src: Ipv4Addr,
        src_port: u16,
    ) -> impl Iterator<Item = H> + '_ {
        let any = Ipv4Addr::UNSPECIFIED;
        let need_flag = self.config.broadcast_requires_flag;
        let lists = self.ports.get(dst_port).map(|e| {
            let dst_list = if dst == any {
                None
            } else {
                e.unconnected.get(&dst)
            };
            let conn_dst = if dst == any {
                None
            } else {
                e.connected.get(&(dst, src, src_port))
            };
            [
                conn_dst,
                e.connected.get(&(any, src, src_port)),
                dst_list,
                e.unconnected.get(&any),
            ]
        });
        lists
            .into_iter()
            .flatten()
            .flatten()
            .flatten()
            .filter(move |m| m.broadcast || !need_flag)
            .map(|m| m.handle)
    }
}

#[cfg(test)]
mod tests;
