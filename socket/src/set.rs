//! The [`SocketSet`] and its handles.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::hash::siphash24;
use lamina_netbuf::{Instant, Rng, SeededRng};
use lamina_tcp::{IsnGenerator, Listener};
use lamina_udp::{BindOptions, PortRange, UdpTable, UdpTableConfig};

use crate::connmap::ConnMap;
use crate::tcp::{Inner, Listening, MAX_BACKLOG};
use crate::{Error, IcmpSocket, RawSocket, TcpSocket, UdpSocket};

/// The first port of the ephemeral range (IANA, RFC 6335 §6).
pub const EPHEMERAL_FIRST: u16 = PortRange::DYNAMIC.first();
/// The last port of the ephemeral range.
pub const EPHEMERAL_LAST: u16 = PortRange::DYNAMIC.last();

fn udp_error(e: lamina_udp::Error) -> Error {
    match e {
        lamina_udp::Error::AddrInUse { .. } => Error::AddrInUse,
        lamina_udp::Error::NoEphemeralPort => Error::AddrNotAvailable,
        lamina_udp::Error::TableFull { .. } => Error::SetFull,
        lamina_udp::Error::AlreadyBound => Error::AlreadyBound,
        lamina_udp::Error::NotBound => Error::NotConnected,
        _ => Error::Unaddressable,
    }
}

/// A socket of any type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Socket {
    /// A TCP socket.
    Tcp(TcpSocket),
    /// A UDP socket.
    Udp(UdpSocket),
    /// An ICMP echo socket.
    Icmp(IcmpSocket),
    /// A raw IPv4 socket.
    Raw(RawSocket),
}

impl From<UdpSocket> for Socket {
    fn from(s: UdpSocket) -> Socket {
        Socket::Udp(s)
    }
}

impl From<TcpSocket> for Socket {
    fn from(s: TcpSocket) -> Socket {
        Socket::Tcp(s)
    }
}

impl From<IcmpSocket> for Socket {
    fn from(s: IcmpSocket) -> Socket {
        Socket::Icmp(s)
    }
}

impl From<RawSocket> for Socket {
    fn from(s: RawSocket) -> Socket {
        Socket::Raw(s)
    }
}

/// Names a socket in a [`SocketSet`]: an index and a generation, so a
/// handle kept after its socket was removed names nothing rather than the
/// socket that took its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    socket: Option<Socket>,
    /// For a TCP socket, its position in `tcp_slots` (removed in O(1)).
    tcp_pos: u32,
    /// For a datagram socket, whether it is in `dgram_tx`.
    tx_listed: bool,
}

/// The sockets an [`Interface`](crate::Interface) serves, at most
/// `capacity` of them.
///
/// A poll costs what the active sockets cost: the TCP sockets with
/// something due (a user call, a segment, an expired timer) and the
/// datagram sockets the user reached since they were last found with
/// nothing to send. Idle sockets cost a poll nothing, however many the
/// set holds. A received TCP segment finds its connection in a hash
/// table keyed with a secret (one probe, usually), so ten thousand open
/// connections cost a segment about what one does. Adding a socket, and
/// removing a TCP one, cost the same with ten sockets or ten thousand
/// (bar the listener and UDP tables' logarithms); removing a datagram
/// socket walks the datagram sockets (they keep the order they were added
/// in, which raw sockets' delivery follows).
#[derive(Debug)]
pub struct SocketSet {
    slots: Vec<Slot>,
    free: Vec<u32>,
    capacity: usize,
    len: usize,
    rng: SeededRng,
    /// UDP bindings. Changed only through
    /// [`udp_table_and_rng`](Self::udp_table_and_rng), which forgets
    /// `udp_memo`.
    udp: UdpTable<SocketHandle>,
    /// The last unicast lookup in `udp` that found a socket: (dst, src)
    /// addresses, (dst, src) ports, and the socket. A run of datagrams
    /// of one flow is demultiplexed once; any change of the bindings
    /// forgets it.
    udp_memo: Option<(u64, u32, SocketHandle)>,
    raw_count: usize,
    /// Bound echo identifiers and the slot of their ICMP socket.
    icmp_idents: Vec<(u16, u32)>,
    /// TCP connections by (local, remote) address: the slot of their
    /// socket.
    tcp_conns: ConnMap,
    /// Listening TCP sockets by local address (`0.0.0.0`: any).
    tcp_listeners: BTreeMap<ListenKey, u32>,
    /// Slots holding a TCP socket.
    tcp_slots: Vec<u32>,
    /// Slots holding a datagram socket (UDP, ICMP, raw): the transmit
    /// scans go over these only, never over the TCP sockets.
    dgram_slots: Vec<u32>,
    /// Datagram sockets the user reached since the interface last found
    /// them with nothing to send (each once, `tx_listed`): the transmit
    /// passes look at these only, so a set of many idle UDP sockets costs
    /// a poll nothing.
    dgram_tx: Vec<u32>,
    /// TCP slots that may have something to do now (a user call, a
    /// segment, an ICMP error), each listed once while its socket's
    /// `queued` flag is set.
    tcp_due: Vec<u32>,
    /// TCP timers as (deadline, slot), earliest first. Entries are not
    /// removed when a timer changes: one counts only while it is its
    /// socket's `scheduled` deadline. Rebuilt when stale entries
    /// outnumber the sockets.
    tcp_timers: BinaryHeap<Reverse<(Instant, u32)>>,
    /// The TCP slots the interface serves on the current pass: the due
    /// ones and those whose timer expired. A poll costs what the active
    /// sockets cost, however many idle connections the set holds.
    tcp_work: Vec<u32>,
    /// A `connect_tcp` since the last transmit pass: the pass opens the
    /// connecting sockets first (their SYNs then go the direct way).
    connects: bool,
    /// RFC 6528 initial sequence numbers of active opens.
    isn: IsnGenerator,
    /// RFC 6056 algorithm 3: the secret of the per-destination offset,
    /// and the shared counter.
    port_key: [u64; 2],
    port_counter: u32,
    /// Whether a socket may have queued something since the interface
    /// last found nothing to send: set by every mutable access from the
    /// user, cleared by [`take_tx_hint`](Self::take_tx_hint). It spares an
    /// idle poll a scan of every socket.
    tx_hint: bool,
}

impl SocketSet {
    /// An empty set holding at most `capacity` sockets; `rng` seeds the
    /// choice of ephemeral ports and echo identifiers (RFC 6056 §3.3.1:
    /// random, so they are hard to guess).
    pub fn new(capacity: usize, rng: &mut impl Rng) -> SocketSet {
        // (The draws in this order: seeds depend on it.)
        let own_rng = SeededRng::new(rng.next_u64());
        let isn = IsnGenerator::new(rng);
        let port_key = [rng.next_u64(), rng.next_u64()];
        SocketSet {
            slots: Vec::new(),
            free: Vec::new(),
            capacity: capacity.min(u32::MAX as usize),
            len: 0,
            rng: own_rng,
            udp: UdpTable::new(udp_table_config(capacity)),
            udp_memo: None,
            raw_count: 0,
            icmp_idents: Vec::new(),
            tcp_conns: ConnMap::new(conn_map_seed(&port_key)),
            tcp_listeners: BTreeMap::new(),
            tcp_slots: Vec::new(),
            dgram_slots: Vec::new(),
            dgram_tx: Vec::new(),
            tcp_due: Vec::new(),
            tcp_timers: BinaryHeap::new(),
            tcp_work: Vec::new(),
            connects: false,
            isn,
            port_key,
            port_counter: 0,
            tx_hint: false,
        }
    }

    /// Sockets in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a socket; fails with [`Error::SetFull`] at capacity.
    pub fn add(&mut self, socket: impl Into<Socket>) -> Result<SocketHandle, Error> {
        if self.len >= self.capacity {
            return Err(Error::SetFull);
        }
        let socket = Some(socket.into());
        if matches!(socket, Some(Socket::Raw(_))) {
            self.raw_count += 1;
        }
        let is_tcp = matches!(socket, Some(Socket::Tcp(_)));
        self.len += 1;
        self.tx_hint = true;
        let tcp_pos = self.tcp_slots.len() as u32;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(index as usize)
        {
            slot.socket = socket;
            slot.tcp_pos = tcp_pos;
            slot.tx_listed = !is_tcp;
            if is_tcp {
                self.tcp_slots.push(index);
            } else {
                self.dgram_slots.push(index);
                // It may come with datagrams queued.
                self.dgram_tx.push(index);
            }
            return Ok(SocketHandle {
                index,
                generation: slot.generation,
            });
        }
        let index = self.slots.len() as u32;
        if is_tcp {
            self.tcp_slots.push(index);
        } else {
            self.dgram_slots.push(index);
            self.dgram_tx.push(index);
        }
        self.slots.push(Slot {
            generation: 0,
            socket,
            tcp_pos,
            tx_listed: !is_tcp,
        });
        Ok(SocketHandle {
            index,
            generation: 0,
        })
    }

    /// Removes a socket and gives it back; its handle names nothing from
    /// now on. A TCP connection goes with it without a word to the peer:
    /// [`close_tcp`](Self::close_tcp) and [`abort_tcp`](Self::abort_tcp)
    /// tell the peer first.
    pub fn remove(&mut self, handle: SocketHandle) -> Option<Socket> {
        let index = handle.index;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        // What the removal undoes is read in place: the socket (a few
        // hundred bytes) moves once, out of its slot to the caller.
        let mut tcp = None;
        match slot.socket.as_mut()? {
            Socket::Tcp(t) => {
                // The connection goes with the socket, silently: close or
                // abort it and poll first to tell the peer (or use
                // `close_tcp` / `abort_tcp`). A listener's unaccepted
                // connections are reset.
                let key = match &t.inner {
                    Inner::Connected(c) => Some(ConnKey::new(c.local(), c.remote())),
                    _ => None,
                };
                let mut abandoned = core::mem::take(&mut t.abandoned);
                if let Inner::Listening(l) = &mut t.inner {
                    abandoned.extend(l.ready.drain(..));
                }
                tcp = Some((key, t.listened, abandoned));
            }
            Socket::Raw(_) => self.raw_count -= 1,
            Socket::Icmp(_) => self.icmp_idents.retain(|&(_, i)| i != index),
            Socket::Udp(_) => {}
        }
        let socket = slot.socket.take();
        slot.generation = slot.generation.wrapping_add(1);
        let tcp_pos = slot.tcp_pos as usize;
        if core::mem::take(&mut slot.tx_listed) {
            self.dgram_tx.retain(|&i| i != index);
        }
        self.free.push(index);
        self.len -= 1;
        let Some((key, listened, abandoned)) = tcp else {
            // Each kind's own registrations only.
            self.dgram_slots.retain(|&i| i != index);
            if let Some(Socket::Udp(_)) = &socket {
                self.udp_table().unbind(handle);
            }
            return socket;
        };
        // Out of the list in O(1): the last entry takes its place (a
        // server closing connections among thousands pays no scan).
        if self.tcp_slots.get(tcp_pos) == Some(&index) {
            self.tcp_slots.swap_remove(tcp_pos);
            if let Some(&moved) = self.tcp_slots.get(tcp_pos)
                && let Some(m) = self.slots.get_mut(moved as usize)
            {
                m.tcp_pos = tcp_pos as u32;
            }
        } else {
            self.tcp_slots.retain(|&i| i != index);
        }
        // Its connection's demultiplexing entry by key (not a scan of
        // every connection), if it is still this slot's; a connected
        // socket stays `Connected`, so nothing else can name the slot.
        if let Some(key) = key
            && self.tcp_conns.get(key.0) == Some(index)
        {
            self.tcp_conns.remove(key.0);
        }
        // A listener closed by its user stays registered until purged:
        // the few listeners are scanned.
        if listened {
            self.tcp_listeners.retain(|_, i| *i != index);
        }
        if !abandoned.is_empty() {
            self.abandon(&abandoned);
        }
        socket
    }

    /// The socket `handle` names.
    #[inline]
    pub fn get_mut(&mut self, handle: SocketHandle) -> Option<&mut Socket> {
        // A TCP socket marks itself dirty when a call gives it something
        // to send; the set notes that the user was here, and which TCP
        // socket to look at on the next poll.
        self.tx_hint = true;
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        match &mut slot.socket {
            Some(Socket::Tcp(t)) if !t.queued => {
                t.queued = true;
                self.tcp_due.push(handle.index);
            }
            Some(Socket::Tcp(_)) => {}
            Some(_) if !slot.tx_listed => {
                slot.tx_listed = true;
                self.dgram_tx.push(handle.index);
            }
            _ => {}
        }
        slot.socket.as_mut()
    }

    /// As [`get_mut`](Self::get_mut), for the interface's own accesses
    /// (which queue nothing to send).
    pub(crate) fn get_mut_quiet(&mut self, handle: SocketHandle) -> Option<&mut Socket> {
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        slot.socket.as_mut()
    }

    /// The UDP socket `handle` names.
    #[inline]
    pub fn udp(&mut self, handle: SocketHandle) -> Result<&mut UdpSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Udp(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The ICMP echo socket `handle` names.
    #[inline]
    pub fn icmp(&mut self, handle: SocketHandle) -> Result<&mut IcmpSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Icmp(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The raw socket `handle` names.
    #[inline]
    pub fn raw(&mut self, handle: SocketHandle) -> Result<&mut RawSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Raw(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Binds the UDP socket `handle` to `local`. Port 0 picks a free
    /// ephemeral port at random (RFC 6056 §3.3.1). Fails with
    /// [`Error::AddrInUse`] if another UDP socket holds the port on an
    /// overlapping address, [`Error::AlreadyBound`] if the socket is
    /// bound, and [`Error::AddrNotAvailable`] if no ephemeral port is
    /// free. Returns the address bound.
    pub fn bind_udp(
        &mut self,
        handle: SocketHandle,
        local: SocketAddrV4,
    ) -> Result<SocketAddrV4, Error> {
        self.udp(handle)?;
        let options = BindOptions::default();
        let (table, rng) = self.udp_table_and_rng();
        let bound = table
            .bind(handle, *local.ip(), local.port(), options, rng)
            .map_err(udp_error)?;
        self.udp(handle)?.local = Some(bound);
        Ok(bound)
    }

    /// Connects the UDP socket `handle` to `peer` (binding it to an
    /// ephemeral port first if needed): [`UdpSocket::send`] goes to
    /// `peer`, only datagrams from `peer` are received, and ICMP errors
    /// about traffic to `peer` are reported. Datagrams already queued
    /// from other sources stay.
    pub fn connect_udp(&mut self, handle: SocketHandle, peer: SocketAddrV4) -> Result<(), Error> {
        if peer.port() == 0 || peer.ip().is_unspecified() {
            return Err(Error::Unaddressable);
        }
        if self.udp(handle)?.local.is_none() {
            self.bind_udp(handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        }
        let local = self
            .udp_table()
            .connect(handle, peer, None)
            .map_err(udp_error)?;
        let s = self.udp(handle)?;
        s.local = Some(local);
        s.remote = Some(peer);
        Ok(())
    }

    /// Dissolves the association of the UDP socket `handle`, as Linux's
    /// `connect(AF_UNSPEC)`: the peer is forgotten, and a socket whose
    /// port was ephemeral is unbound (it is bound again on its next send).
    pub fn disconnect_udp(&mut self, handle: SocketHandle) -> Result<(), Error> {
        self.udp(handle)?;
        let local = self.udp_table().disconnect(handle).unwrap_or(None);
        let s = self.udp(handle)?;
        s.local = local;
        s.remote = None;
        Ok(())
    }

    /// The UDP socket for a unicast datagram from `src:src_port` to
    /// `dst:dst_port`: connected 4-tuple first, then the bound address,
    /// then the wildcard.
    #[inline]
    pub(crate) fn udp_lookup(
        &mut self,
        dst: Ipv4Addr,
        dst_port: u16,
        src: Ipv4Addr,
        src_port: u16,
    ) -> Option<SocketHandle> {
        let addrs = (u64::from(dst.to_bits()) << 32) | u64::from(src.to_bits());
        let ports = (u32::from(dst_port) << 16) | u32::from(src_port);
        if let Some((a, p, h)) = self.udp_memo
            && a == addrs
            && p == ports
        {
            return Some(h);
        }
        self.udp_lookup_table(addrs, ports)
    }

    /// [`udp_lookup`](Self::udp_lookup) past the memo.
    #[inline(never)]
    fn udp_lookup_table(&mut self, addrs: u64, ports: u32) -> Option<SocketHandle> {
        let (dst, src) = (
            Ipv4Addr::from_bits((addrs >> 32) as u32),
            Ipv4Addr::from_bits(addrs as u32),
        );
        let h = self
            .udp
            .lookup(dst, (ports >> 16) as u16, src, ports as u16)?;
        self.udp_memo = Some((addrs, ports, h));
        Some(h)
    }

    /// The UDP bindings, to change them: forgets the lookup memo.
    #[inline]
    fn udp_table(&mut self) -> &mut UdpTable<SocketHandle> {
        self.udp_table_and_rng().0
    }

    /// [`udp_table`](Self::udp_table) with the set's generator beside it
    /// (binding draws ephemeral ports). The one way to change the
    /// bindings: it forgets the lookup memo.
    #[inline]
    fn udp_table_and_rng(&mut self) -> (&mut UdpTable<SocketHandle>, &mut SeededRng) {
        self.udp_memo = None;
        (&mut self.udp, &mut self.rng)
    }

    /// Every UDP socket that gets a copy of a broadcast.
    pub(crate) fn udp_lookup_all(
        &self,
        dst: Ipv4Addr,
        dst_port: u16,
        src: Ipv4Addr,
        src_port: u16,
    ) -> Vec<SocketHandle> {
        self.udp.lookup_all(dst, dst_port, src, src_port).collect()
    }

    /// Binds the ICMP socket `handle` to echo identifier `ident`, or a
    /// random free one for `None`. Fails with [`Error::AddrInUse`] if
    /// another ICMP socket holds it.
    pub fn bind_icmp(&mut self, handle: SocketHandle, ident: Option<u16>) -> Result<u16, Error> {
        if self.icmp(handle)?.ident.is_some() {
            return Err(Error::AlreadyBound);
        }
        // The bound identifiers only (not a scan of every socket).
        let taken = |set: &SocketSet, id: u16| set.icmp_idents.iter().any(|&(i, _)| i == id);
        let id = match ident {
            Some(id) if taken(self, id) => return Err(Error::AddrInUse),
            Some(id) => id,
            None => {
                let start = self.rng.below(1 << 16);
                (0..1u32 << 16)
                    .map(|i| ((start + i) & 0xffff) as u16)
                    .find(|&id| !taken(self, id))
                    .ok_or(Error::AddrNotAvailable)?
            }
        };
        self.icmp(handle)?.ident = Some(id);
        self.icmp_idents.push((id, handle.index));
        Ok(id)
    }

    /// Gives every unbound UDP socket with datagrams to send an
    /// ephemeral port.
    pub(crate) fn autobind(&mut self) {
        let unbound = |s: &Slot| matches!(&s.socket, Some(Socket::Udp(u)) if u.local.is_none() && !u.tx_is_empty());
        let needed = self
            .dgram_slots
            .iter()
            .any(|&i| self.slots.get(i as usize).is_some_and(unbound));
        if !needed {
            return;
        }
        let pending: Vec<SocketHandle> = self
            .dgram_slots
            .iter()
            .filter_map(|&index| {
                let s = self.slots.get(index as usize)?;
                unbound(s).then_some(SocketHandle {
                    index,
                    generation: s.generation,
                })
            })
            .collect();
        for h in pending {
            if self
                .bind_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .is_err()
                && let Ok(u) = self.udp(h)
            {
                // No port: the datagrams cannot leave.
                u.drop_tx();
                u.error = Some(Error::AddrNotAvailable);
            }
        }
    }
}

fn udp_table_config(capacity: usize) -> UdpTableConfig {
    let mut c = UdpTableConfig::default();
    c.max_bindings = capacity;
    // Linux and BSD deliver broadcasts to every matching socket;
    // `SO_BROADCAST` only allows sending them.
    c.broadcast_requires_flag = false;
    c
}

impl SocketSet {
    /// The first datagram socket at position `from` or later of the list
    /// of those the user reached with datagrams to send, and the position
    /// after it (to iterate while mutating the set).
    #[inline]
    pub(crate) fn next_with_tx(&self, from: usize) -> Option<(SocketHandle, usize)> {
        let rest = self.dgram_tx.get(from..)?;
        rest.iter().enumerate().find_map(|(k, &index)| {
            let slot = self.slots.get(index as usize)?;
            slot.socket.as_ref().is_some_and(Socket::has_tx).then_some((
                SocketHandle {
                    index,
                    generation: slot.generation,
                },
                from + k + 1,
            ))
        })
    }

    /// Whether any socket has datagrams to send.
    pub(crate) fn has_pending_tx(&self) -> bool {
        self.tx_hint
            && self.dgram_tx.iter().any(|&i| {
                self.slots
                    .get(i as usize)
                    .and_then(|s| s.socket.as_ref())
                    .is_some_and(Socket::has_tx)
            })
    }

    /// Notes that a socket may have something to send.
    pub(crate) fn hint_tx(&mut self) {
        self.tx_hint = true;
    }

    /// Whether a socket may have queued something since the interface
    /// last found nothing to send.
    pub(crate) fn tx_hint(&self) -> bool {
        self.tx_hint
    }

    /// Whether a datagram socket may have something to send: the hint,
    /// as [`take_tx_hint`](Self::take_tx_hint) left it, cleared here when
    /// no datagram socket is listed (a TCP segment's hint), without
    /// looking at the sockets again.
    #[inline]
    pub(crate) fn dgram_tx_hint(&mut self) -> bool {
        if !self.tx_hint {
            return false;
        }
        if self.dgram_tx.is_empty() {
            self.tx_hint = false;
            return false;
        }
        true
    }

    /// Whether any socket has datagrams to send, clearing the hint when
    /// none has (so that the next idle call costs one load).
    #[inline]
    pub(crate) fn take_tx_hint(&mut self) -> bool {
        if !self.tx_hint {
            return false;
        }
        // The sockets with nothing left to send leave the list (until the
        // user reaches them again). One socket is the common case (an
        // application's socket reached again and again): checked without
        // the general loop.
        let slots = &mut self.slots;
        let mut listed = |i: u32| match slots.get_mut(i as usize) {
            Some(slot) => {
                slot.tx_listed = slot.socket.as_ref().is_some_and(Socket::has_tx);
                slot.tx_listed
            }
            None => false,
        };
        if let [index] = self.dgram_tx[..] {
            if !listed(index) {
                self.dgram_tx.clear();
            }
        } else {
            self.dgram_tx.retain(|&i| listed(i));
        }
        let pending = !self.dgram_tx.is_empty();
        if !pending {
            self.tx_hint = false;
        }
        pending
    }

    /// The TCP socket `handle` names.
    #[inline]
    pub fn tcp(&mut self, handle: SocketHandle) -> Result<&mut TcpSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Tcp(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Makes the TCP socket `handle` listen on `local` (address
    /// `0.0.0.0`: any of ours; port 0: an ephemeral one) with an accept
    /// queue of `backlog` established connections (at most
    /// [`MAX_BACKLOG`]). Fails with [`Error::AddrInUse`] when another
    /// socket listens there, [`Error::InvalidState`] unless the socket is
    /// closed.
    pub fn listen_tcp(
        &mut self,
        handle: SocketHandle,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<SocketAddrV4, Error> {
        if !matches!(self.tcp(handle)?.inner, Inner::Closed) {
            return Err(Error::InvalidState);
        }
        self.purge_stale_listeners();
        let local = if local.port() == 0 {
            let port = self
                .free_listen_port(*local.ip())
                .ok_or(Error::AddrNotAvailable)?;
            SocketAddrV4::new(*local.ip(), port)
        } else {
            local
        };
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port());
        let clash = self.tcp_listeners.contains_key(&ListenKey::new(local))
            || self.tcp_listeners.contains_key(&ListenKey::new(any))
            || (local.ip().is_unspecified()
                && self.tcp_listeners.keys().any(|l| l.port() == local.port()));
        if clash {
            return Err(Error::AddrInUse);
        }
        let listener = {
            let t = self.tcp(handle)?;
            let config = t.config.clone();
            Listener::new(local, config, backlog.clamp(1, MAX_BACKLOG), &mut self.rng)
        };
        let t = self.tcp(handle)?;
        t.inner = Inner::Listening(Box::new(Listening {
            listener,
            ready: alloc::collections::VecDeque::new(),
            backlog: backlog.clamp(1, MAX_BACKLOG),
        }));
        // Served (and its timers read) on the next poll.
        t.dirty = true;
        t.listened = true;
        self.tcp_listeners
            .insert(ListenKey::new(local), handle.index);
        Ok(local)
    }

    /// Opens a connection from the TCP socket `handle` to `remote`, from
    /// `local` if given (else an address of the outgoing device and an
    /// ephemeral port chosen per RFC 6056). The SYN leaves on the next
    /// poll of the interface; the socket is established once
    /// [`TcpSocket::is_established`] says so, or failed with the error
    /// its calls then return (refused, timed out...).
    pub fn connect_tcp(
        &mut self,
        handle: SocketHandle,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
    ) -> Result<(), Error> {
        if remote.port() == 0
            || remote.ip().is_unspecified()
            || remote.ip().is_broadcast()
            || remote.ip().is_multicast()
        {
            return Err(Error::Unaddressable);
        }
        if !matches!(self.tcp(handle)?.inner, Inner::Closed) {
            return Err(Error::InvalidState);
        }
        let local = local.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        self.tcp(handle)?.inner = Inner::Connecting { remote, local };
        self.connects = true;
        Ok(())
    }

    /// Whether a `connect_tcp` came since the last call (see `connects`).
    #[inline]
    pub(crate) fn take_connects(&mut self) -> bool {
        core::mem::take(&mut self.connects)
    }

    /// The next established connection of the listening socket
    /// `handle`, as a socket of the set; [`Error::WouldBlock`] when none
    /// waits. (The interface gives each established connection its socket
    /// as soon as the handshake completes, within the backlog and the
    /// set's capacity, so that data arriving before `accept` is
    /// received.)
    pub fn accept_tcp(&mut self, handle: SocketHandle) -> Result<SocketHandle, Error> {
        let index = handle.index;
        let t = self.tcp(handle)?;
        let Inner::Listening(l) = &mut t.inner else {
            return Err(Error::InvalidState);
        };
        let h = l.ready.pop_front().ok_or(Error::WouldBlock)?;
        // Room freed in the backlog: take the next one from the listener.
        self.drain_listener(index);
        Ok(h)
    }

    /// Gives the established connections waiting in the listener of slot
    /// `index` sockets of their own, while the backlog and the set have
    /// room.
    pub(crate) fn drain_listener(&mut self, index: u32) {
        loop {
            if self.len >= self.capacity {
                return;
            }
            let (conn, config) = match self.tcp_at(index).map(|t| (&mut t.inner, &t.config)) {
                Some((Inner::Listening(l), config))
                    if l.ready.len() < l.backlog && l.listener.pending() > 0 =>
                {
                    match l.listener.accept() {
                        Some(c) => (c, config.clone()),
                        None => return,
                    }
                }
                _ => return,
            };
            let key = ConnKey::new(conn.local(), conn.remote());
            let mut socket = TcpSocket::new(config);
            socket.inner = Inner::Connected(conn);
            socket.dirty = true;
            let Ok(h) = self.add(socket) else { return };
            self.tcp_mark(h.index);
            self.tcp_conns.insert(key.0, h.index);
            if let Some(Inner::Listening(l)) = self.tcp_at(index).map(|t| &mut t.inner) {
                l.ready.push_back(h);
            }
        }
    }

    /// Closes the TCP socket `handle` gracefully (RFC 9293 §3.10.4) and
    /// gives it to the set, which removes it once the connection has
    /// closed: the handle names nothing from now on. As `close(2)` does.
    pub fn close_tcp(&mut self, handle: SocketHandle) -> Result<(), Error> {
        self.tcp(handle)?.close();
        self.hand_over(handle)
    }

    /// Leaves the TCP socket `handle`, closed or aborted, to the set: it
    /// goes once its connection has ended (at once if it has).
    fn hand_over(&mut self, handle: SocketHandle) -> Result<(), Error> {
        let t = self.tcp(handle)?;
        if t.is_active() {
            t.orphan = true;
            // The handle is invalidated now; the slot lives on.
            if let Some(slot) = self.slots.get_mut(handle.index as usize) {
                slot.generation = slot.generation.wrapping_add(1);
            }
        } else {
            let abandoned = core::mem::take(&mut self.tcp(handle)?.abandoned);
            self.remove(handle);
            self.abandon(&abandoned);
        }
        Ok(())
    }

    /// Aborts the TCP socket `handle` (a RST to the peer, queued data
    /// discarded: RFC 9293 §3.10.5) and gives it to the set, which
    /// removes it once the RST has gone out: the handle names nothing from
    /// now on. As `close(2)` with `SO_LINGER` set to zero does. (An
    /// [`abort`](TcpSocket::abort) followed at once by
    /// [`remove`](Self::remove) sends nothing: the peer finds out only
    /// when its next segment draws a RST, or by keepalive.)
    pub fn abort_tcp(&mut self, handle: SocketHandle) -> Result<(), Error> {
        self.tcp(handle)?.abort();
        self.hand_over(handle)
    }

    /// Resets the unaccepted connections of a closed listener and leaves
    /// their sockets to be removed once the reset has gone out.
    pub(crate) fn abandon(&mut self, handles: &[SocketHandle]) {
        for &h in handles {
            if let Ok(t) = self.tcp(h) {
                t.abort();
                t.orphan = true;
            }
        }
    }

    /// The handle of the socket in slot `index`.
    pub(crate) fn handle_at(&self, index: u32) -> Option<SocketHandle> {
        let slot = self.slots.get(index as usize)?;
        slot.socket.as_ref()?;
        Some(SocketHandle {
            index,
            generation: slot.generation,
        })
    }

    /// Established connections waiting in the listening socket
    /// `handle`'s accept queue.
    pub fn tcp_pending(&self, handle: SocketHandle) -> usize {
        match self.get(handle) {
            Some(Socket::Tcp(t)) => match &t.inner {
                Inner::Listening(l) => l.ready.len() + l.listener.pending(),
                _ => 0,
            },
            _ => 0,
        }
    }

    /// The socket `handle` names, to read.
    pub fn get(&self, handle: SocketHandle) -> Option<&Socket> {
        let slot = self.slots.get(handle.index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        slot.socket.as_ref()
    }

    /// A port nobody listens on, for a listener on `ip` bound to port 0.
    fn free_listen_port(&mut self, ip: Ipv4Addr) -> Option<u16> {
        let (first, last) = (EPHEMERAL_FIRST, EPHEMERAL_LAST);
        let span = u32::from(last - first) + 1;
        let start = self.rng.below(span);
        (0..span)
            .map(|i| first + ((start + i) % span) as u16)
            .find(|&p| {
                !self
                    .tcp_listeners
                    .contains_key(&ListenKey::new(SocketAddrV4::new(ip, p)))
                    && !self
                        .tcp_listeners
                        .contains_key(&ListenKey::new(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p)))
            })
    }

    /// RFC 6056 §3.3.3 (algorithm 3, "simple hash-based"): the local port
    /// of a connection from `local_ip` to `remote`: a keyed hash of the
    /// addresses picks where to start in the ephemeral range, a counter
    /// moves on, and the first port whose 4-tuple is free (and where no
    /// listener sits) wins.
    pub(crate) fn tcp_ephemeral_port(
        &mut self,
        local_ip: Ipv4Addr,
        remote: SocketAddrV4,
    ) -> Option<u16> {
        let (first, last) = (EPHEMERAL_FIRST, EPHEMERAL_LAST);
        let span = u32::from(last - first) + 1;
        let mut msg = [0u8; 10];
        msg[..4].copy_from_slice(&local_ip.octets());
        msg[4..8].copy_from_slice(&remote.ip().octets());
        msg[8..].copy_from_slice(&remote.port().to_be_bytes());
        let offset = siphash24(self.port_key, &msg) as u32;
        for i in 0..span {
            let next = self.port_counter.wrapping_add(i);
            let port = first + (offset.wrapping_add(next) % span) as u16;
            let local = SocketAddrV4::new(local_ip, port);
            let listened = self.tcp_listeners.contains_key(&ListenKey::new(local))
                || self
                    .tcp_listeners
                    .contains_key(&ListenKey::new(SocketAddrV4::new(
                        Ipv4Addr::UNSPECIFIED,
                        port,
                    )));
            if !listened && !self.tcp_conns.contains_key(ConnKey::new(local, remote).0) {
                self.port_counter = next.wrapping_add(1);
                return Some(port);
            }
        }
        None
    }

    /// The initial sequence number of an active open (RFC 6528).
    pub(crate) fn tcp_isn(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        now: lamina_netbuf::Instant,
    ) -> lamina_tcp::SeqNumber {
        self.isn.isn(local, remote, now)
    }

    /// The slot of the connection `(local, remote)`.
    pub(crate) fn tcp_conn_slot(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<u32> {
        self.tcp_conns.get(ConnKey::new(local, remote).0)
    }

    /// The slot of the listener for `local` (exact, then any address).
    pub(crate) fn tcp_listener_slot(&self, local: SocketAddrV4) -> Option<u32> {
        self.tcp_listeners
            .get(&ListenKey::new(local))
            .copied()
            .or_else(|| {
                self.tcp_listeners
                    .get(&ListenKey::new(SocketAddrV4::new(
                        Ipv4Addr::UNSPECIFIED,
                        local.port(),
                    )))
                    .copied()
            })
    }

    /// Registers the connection `(local, remote)` of slot `index`.
    pub(crate) fn tcp_register(&mut self, local: SocketAddrV4, remote: SocketAddrV4, index: u32) {
        self.tcp_conns.insert(ConnKey::new(local, remote).0, index);
    }

    /// Forgets the connection `(local, remote)` (it closed).
    pub(crate) fn tcp_unregister(&mut self, local: SocketAddrV4, remote: SocketAddrV4) {
        self.tcp_conns.remove(ConnKey::new(local, remote).0);
    }

    /// Forgets the listeners whose socket no longer listens (closed by
    /// its user).
    pub(crate) fn purge_stale_listeners(&mut self) {
        let slots = &self.slots;
        self.tcp_listeners.retain(|_, i| {
            matches!(
                slots.get(*i as usize).and_then(|s| s.socket.as_ref()),
                Some(Socket::Tcp(t)) if t.is_listening()
            )
        });
    }

    /// The TCP socket in slot `index`.
    pub(crate) fn tcp_at(&mut self, index: u32) -> Option<&mut TcpSocket> {
        match self.slots.get_mut(index as usize)?.socket.as_mut()? {
            Socket::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The earliest timer of any TCP socket, or earlier: the due sockets'
    /// own answers and the earliest timer entry, which may be stale (a
    /// timer that moved or a socket removed since) and so only early, never
    /// late.
    pub(crate) fn tcp_poll_at(&self) -> Option<Instant> {
        let timers = self.tcp_timers.peek().map(|Reverse((at, _))| *at);
        self.tcp_due
            .iter()
            .filter_map(|&i| match self.slots.get(i as usize)?.socket.as_ref()? {
                Socket::Tcp(t) => t.poll_at(),
                _ => None,
            })
            .chain(timers)
            .min()
    }

    /// Lists the TCP socket in slot `index` for the next pass of the
    /// interface (once until that pass takes it).
    pub(crate) fn tcp_mark(&mut self, index: u32) {
        if let Some(Slot {
            socket: Some(Socket::Tcp(t)),
            ..
        }) = self.slots.get_mut(index as usize)
            && !t.queued
        {
            t.queued = true;
            self.tcp_due.push(index);
        }
    }

    /// Records the timer the TCP socket in slot `index` has after being
    /// served. A live entry at or before the timer is kept (a timer that
    /// moved later, as the RTO does with every ACK, costs no new entry:
    /// the old one brings the socket back early, once, and it is
    /// rescheduled then); an earlier timer gets a new entry.
    pub(crate) fn tcp_schedule(&mut self, index: u32) {
        let Some(Slot {
            socket: Some(Socket::Tcp(t)),
            ..
        }) = self.slots.get_mut(index as usize)
        else {
            return;
        };
        let Some(at) = t.timer else {
            return;
        };
        if t.scheduled.is_some_and(|s| s <= at) {
            return;
        }
        t.scheduled = Some(at);
        self.tcp_timers.push(Reverse((at, index)));
        if self.tcp_timers.len() > 2 * self.tcp_slots.len() + 64 {
            self.rebuild_tcp_timers();
        }
    }

    /// Drops the stale timer entries: one entry per socket with a timer.
    fn rebuild_tcp_timers(&mut self) {
        let mut entries = core::mem::take(&mut self.tcp_timers).into_vec();
        entries.clear();
        for &index in &self.tcp_slots {
            if let Some(Slot {
                socket: Some(Socket::Tcp(t)),
                ..
            }) = self.slots.get_mut(index as usize)
            {
                t.scheduled = t.timer;
                if let Some(at) = t.timer {
                    entries.push(Reverse((at, index)));
                }
            }
        }
        self.tcp_timers = BinaryHeap::from(entries);
    }

    /// Whether a transmit pass at `now` has nothing to do for the
    /// sockets: no datagram socket with something to send, no TCP socket
    /// due or with a timer expired.
    #[inline(always)]
    pub(crate) fn quiet(&mut self, now: Instant) -> bool {
        self.tcp_due.is_empty()
            && !self.take_tx_hint()
            && self
                .tcp_timers
                .peek()
                .is_none_or(|Reverse((at, _))| *at > now)
    }

    /// Starts a pass of the interface over the TCP sockets at `now`: the
    /// work list gets the due sockets and those whose timer expired.
    #[inline]
    pub(crate) fn tcp_collect(&mut self, now: Instant) {
        self.tcp_work.clear();
        if self.tcp_due.is_empty()
            && self
                .tcp_timers
                .peek()
                .is_none_or(|Reverse((at, _))| *at > now)
        {
            return;
        }
        self.tcp_collect_due(now);
    }

    /// The work of [`tcp_collect`](Self::tcp_collect) when there is some.
    fn tcp_collect_due(&mut self, now: Instant) {
        for &index in &self.tcp_due {
            if let Some(Slot {
                socket: Some(Socket::Tcp(t)),
                ..
            }) = self.slots.get_mut(index as usize)
            {
                t.queued = false;
            }
        }
        // The work list is empty here (`tcp_collect` cleared it): the due
        // list becomes it whole, without a copy.
        if self.tcp_work.is_empty() {
            core::mem::swap(&mut self.tcp_work, &mut self.tcp_due);
        } else {
            self.tcp_work.append(&mut self.tcp_due);
        }
        while let Some(&Reverse((at, index))) = self.tcp_timers.peek() {
            if at > now {
                break;
            }
            self.tcp_timers.pop();
            if let Some(Slot {
                socket: Some(Socket::Tcp(t)),
                ..
            }) = self.slots.get_mut(index as usize)
                && t.scheduled == Some(at)
            {
                t.scheduled = None;
                self.tcp_work.push(index);
            }
        }
    }

    /// The TCP slots of the current pass.
    pub(crate) fn tcp_work(&self) -> &[u32] {
        &self.tcp_work
    }

    /// Ends the current pass (its sockets are served).
    pub(crate) fn tcp_work_done(&mut self) {
        self.tcp_work.clear();
    }

    /// The ICMP socket bound to echo identifier `ident`.
    pub(crate) fn icmp_by_ident(&mut self, ident: u16) -> Option<&mut IcmpSocket> {
        let &(_, index) = self.icmp_idents.iter().find(|(id, _)| *id == ident)?;
        match self.slots.get_mut(index as usize)?.socket.as_mut()? {
            Socket::Icmp(i) => Some(i),
            _ => None,
        }
    }

    /// Whether any raw socket exists.
    pub(crate) fn has_any_raw(&self) -> bool {
        self.raw_count > 0
    }

    /// Whether a raw socket for `protocol` exists (a look at the
    /// datagram sockets only, never at the TCP ones).
    pub(crate) fn has_raw(&self, protocol: lamina_ipv4::IpProtocol) -> bool {
        self.raw_count > 0
            && self.dgram_slots.iter().any(|&i| {
                matches!(
                    self.slots.get(i as usize).and_then(|s| s.socket.as_ref()),
                    Some(Socket::Raw(r)) if r.protocol == protocol
                )
            })
    }

    /// Calls `f` with every raw socket for `protocol`, in the order they
    /// were added; whether there was one. Visits the datagram sockets
    /// only: a host with many TCP connections pays nothing more per
    /// packet for having a raw socket.
    pub(crate) fn for_each_raw(
        &mut self,
        protocol: lamina_ipv4::IpProtocol,
        mut f: impl FnMut(&mut RawSocket),
    ) -> bool {
        if self.raw_count == 0 {
            return false;
        }
        let mut any = false;
        for &i in &self.dgram_slots {
            if let Some(Socket::Raw(r)) = self
                .slots
                .get_mut(i as usize)
                .and_then(|s| s.socket.as_mut())
                && r.protocol == protocol
            {
                f(r);
                any = true;
            }
        }
        any
    }

    /// Stores an error for the socket to report on its next call.
    pub(crate) fn set_error(&mut self, handle: SocketHandle, e: Error) {
        match self.get_mut_quiet(handle) {
            Some(Socket::Udp(u)) => u.error = Some(e),
            Some(Socket::Icmp(i)) => i.error = Some(e),
            _ => {}
        }
    }
}

impl Socket {
    #[inline]
    fn has_tx(&self) -> bool {
        match self {
            Socket::Udp(u) => !u.tx_is_empty(),
            Socket::Icmp(i) => !i.tx.is_empty(),
            Socket::Raw(r) => !r.tx.is_empty(),
            // TCP sockets are served by their own pass.
            Socket::Tcp(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::SeededRng;

    fn set(cap: usize) -> SocketSet {
        SocketSet::new(cap, &mut SeededRng::new(3))
    }

    #[test]
    fn a_stale_handle_names_nothing_after_its_slot_is_reused() {
        let mut s = set(4);
        let h1 = s.add(UdpSocket::default()).unwrap();
        assert!(s.remove(h1).is_some());
        let h2 = s.add(IcmpSocket::default()).unwrap();
        assert_ne!(h1, h2);
        assert!(s.get_mut(h1).is_none());
        assert_eq!(s.udp(h1).unwrap_err(), Error::InvalidHandle);
        assert!(s.icmp(h2).is_ok());
        assert_eq!(s.udp(h2).unwrap_err(), Error::InvalidHandle, "wrong type");
    }

    /// TCP sockets leave the list the timer heap is rebuilt from in O(1),
    /// in any order, mixed with datagram sockets and slot reuse: the
    /// list always holds exactly the live TCP sockets' slots.
    #[test]
    fn the_tcp_slot_list_follows_adds_and_removes_in_any_order() {
        let mut s = set(64);
        let mut rng = SeededRng::new(9);
        let mut live: Vec<(SocketHandle, bool)> = Vec::new();
        for _ in 0..5000 {
            if live.len() < 48 && (live.is_empty() || rng.below(3) != 0) {
                let tcp = rng.below(2) == 0;
                let h = if tcp {
                    s.add(TcpSocket::new(lamina_tcp::TcpConfig::default()))
                } else {
                    s.add(UdpSocket::default())
                }
                .unwrap();
                live.push((h, tcp));
            } else {
                let (h, _) = live.swap_remove(rng.below(live.len() as u32) as usize);
                assert!(s.remove(h).is_some());
            }
            let mut want: Vec<u32> = live.iter().filter(|l| l.1).map(|l| l.0.index).collect();
            let mut got = s.tcp_slots.clone();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want);
            for (pos, &index) in s.tcp_slots.iter().enumerate() {
                assert_eq!(s.slots[index as usize].tcp_pos as usize, pos);
            }
        }
    }

    /// Only the datagram sockets the user reached are looked at for
    /// datagrams to send, and they leave the list once found idle: a set
    /// of many idle UDP sockets costs a transmit pass nothing.
    /// The UDP lookup memo answers only while the bindings are unchanged:
    /// a connect, a disconnect, a remove and a new bind each make the
    /// next lookup search again.
    #[test]
    fn the_udp_lookup_memo_follows_every_change_of_the_bindings() {
        let mut rng = SeededRng::new(3);
        let mut s = SocketSet::new(8, &mut rng);
        let (me, peer, other) = (
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 9),
            Ipv4Addr::new(192, 0, 2, 10),
        );
        let a = s.add(UdpSocket::default()).unwrap();
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), None);
        s.bind_udp(a, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
            .unwrap();
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), Some(a));
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), Some(a), "memo");
        // Connected elsewhere: the flow's datagrams are no longer its.
        s.connect_udp(a, SocketAddrV4::new(other, 53)).unwrap();
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), None);
        assert_eq!(s.udp_lookup(me, 7, other, 53), Some(a));
        s.disconnect_udp(a).unwrap();
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), Some(a));
        s.remove(a);
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), None, "removed");
        // A new socket in the same slot, bound to the port: found anew.
        let b = s.add(UdpSocket::default()).unwrap();
        s.bind_udp(b, SocketAddrV4::new(me, 7)).unwrap();
        assert_eq!(s.udp_lookup(me, 7, peer, 5000), Some(b));
    }

    #[test]
    fn only_datagram_sockets_reached_since_the_last_pass_are_scanned() {
        let mut s = set(2000);
        let handles: Vec<SocketHandle> = (0..1000)
            .map(|_| s.add(UdpSocket::default()).unwrap())
            .collect();
        // Freshly added: listed until a pass finds them idle.
        assert_eq!(s.dgram_tx.len(), 1000);
        assert!(!s.take_tx_hint());
        assert!(s.dgram_tx.is_empty());
        assert!(s.slots.iter().all(|sl| !sl.tx_listed));
        // Reached: listed once, however often.
        let dst = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 9);
        for &h in &handles[10..13] {
            s.bind_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .unwrap();
        }
        s.udp(handles[11]).unwrap().send_to(b"x", dst).unwrap();
        s.udp(handles[11]).unwrap().send_to(b"y", dst).unwrap();
        assert_eq!(s.dgram_tx.len(), 3);
        assert!(s.take_tx_hint());
        // The idle two left; the one with datagrams stays.
        assert_eq!(s.dgram_tx, [handles[11].index]);
        let (h, after) = s.next_with_tx(0).unwrap();
        assert_eq!(h, handles[11]);
        assert!(s.next_with_tx(after).is_none());
        // Removed while listed: gone from the list.
        s.remove(handles[11]);
        assert!(s.dgram_tx.is_empty());
        assert!(!s.take_tx_hint());
        // A reused slot starts listed, and a TCP socket never is.
        let u = s.add(UdpSocket::default()).unwrap();
        let t = s
            .add(TcpSocket::new(lamina_tcp::TcpConfig::default()))
            .unwrap();
        let _ = s.tcp(t).unwrap();
        assert_eq!(s.dgram_tx, [u.index]);
    }

    #[test]
    fn refuses_sockets_beyond_capacity() {
        let mut s = set(2);
        s.add(UdpSocket::default()).unwrap();
        let h = s.add(UdpSocket::default()).unwrap();
        assert_eq!(s.add(UdpSocket::default()).unwrap_err(), Error::SetFull);
        s.remove(h);
        assert!(s.add(UdpSocket::default()).is_ok());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn udp_port_conflicts_are_refused_and_freed_on_remove() {
        let mut s = set(8);
        let a = s.add(UdpSocket::default()).unwrap();
        let b = s.add(UdpSocket::default()).unwrap();
        let any7 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7);
        assert_eq!(s.bind_udp(a, any7), Ok(any7));
        assert_eq!(s.bind_udp(a, any7), Err(Error::AlreadyBound));
        // A specific address overlaps the wildcard.
        let spec = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 7);
        assert_eq!(s.bind_udp(b, spec), Err(Error::AddrInUse));
        s.remove(a);
        assert_eq!(s.bind_udp(b, spec), Ok(spec));
    }

    /// RFC 6056 §3.3.1: port 0 draws a free port of the ephemeral range.
    #[test]
    fn port_zero_picks_distinct_ephemeral_ports() {
        let mut s = set(64);
        let mut ports = alloc::collections::BTreeSet::new();
        for _ in 0..32 {
            let h = s.add(UdpSocket::default()).unwrap();
            let p = s
                .bind_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .unwrap()
                .port();
            assert!((EPHEMERAL_FIRST..=EPHEMERAL_LAST).contains(&p));
            assert!(ports.insert(p));
        }
    }

    #[test]
    fn echo_identifiers_are_unique() {
        let mut s = set(4);
        let a = s.add(IcmpSocket::default()).unwrap();
        let b = s.add(IcmpSocket::default()).unwrap();
        assert_eq!(s.bind_icmp(a, Some(9)), Ok(9));
        assert_eq!(s.bind_icmp(b, Some(9)), Err(Error::AddrInUse));
        let id = s.bind_icmp(b, None).unwrap();
        assert_ne!(id, 9);
    }

    #[test]
    fn connecting_an_unbound_socket_binds_it() {
        let mut s = set(4);
        let h = s.add(UdpSocket::default()).unwrap();
        let peer = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 53);
        s.connect_udp(h, peer).unwrap();
        let u = s.udp(h).unwrap();
        assert_eq!(u.peer_addr(), Some(peer));
        assert!(u.local_addr().is_some_and(|l| l.port() >= EPHEMERAL_FIRST));
        assert_eq!(
            s.connect_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53)),
            Err(Error::Unaddressable)
        );
        s.disconnect_udp(h).unwrap();
        assert_eq!(s.udp(h).unwrap().peer_addr(), None);
    }
}

/// The secret of the connection table's hash, derived from the ephemeral
/// port secret (a keyed hash of a label: neither reveals the other).
fn conn_map_seed(port_key: &[u64; 2]) -> [u64; 2] {
    [
        siphash24(*port_key, b"tcp demux 0"),
        siphash24(*port_key, b"tcp demux 1"),
    ]
}

/// A TCP connection's (local, remote) addresses packed into one integer:
/// the demultiplexing table hashes and compares one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ConnKey(u128);

impl ConnKey {
    fn new(local: SocketAddrV4, remote: SocketAddrV4) -> ConnKey {
        ConnKey(
            (u128::from(local.ip().to_bits()) << 64)
                | (u128::from(local.port()) << 48)
                | (u128::from(remote.ip().to_bits()) << 16)
                | u128::from(remote.port()),
        )
    }
}

/// A listener's local address packed into one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ListenKey(u64);

impl ListenKey {
    fn new(local: SocketAddrV4) -> ListenKey {
        ListenKey((u64::from(local.ip().to_bits()) << 16) | u64::from(local.port()))
    }

    fn port(self) -> u16 {
        self.0 as u16
    }
}
