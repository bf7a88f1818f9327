//! The [`SocketSet`] and its handles.

use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_netbuf::{Rng, SeededRng};
use lamina_udp::{BindOptions, PortRange, UdpTable, UdpTableConfig};

use crate::{Error, IcmpSocket, RawSocket, UdpSocket};

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
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Socket {
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

#[derive(Debug, Clone)]
struct Slot {
    generation: u32,
    socket: Option<Socket>,
}

/// The sockets an [`Interface`](crate::Interface) serves, at most
/// `capacity` of them.
#[derive(Debug, Clone)]
pub struct SocketSet {
    slots: Vec<Slot>,
    free: Vec<u32>,
    capacity: usize,
    len: usize,
    rng: SeededRng,
    udp: UdpTable<SocketHandle>,
    raw_count: usize,
    /// Bound echo identifiers and the slot of their ICMP socket.
    icmp_idents: Vec<(u16, u32)>,
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
        SocketSet {
            slots: Vec::new(),
            free: Vec::new(),
            capacity: capacity.min(u32::MAX as usize),
            len: 0,
            rng: SeededRng::new(rng.next_u64()),
            udp: UdpTable::new(udp_table_config(capacity)),
            raw_count: 0,
            icmp_idents: Vec::new(),
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
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(index as usize)
        {
            slot.socket = socket;
            return Ok(SocketHandle {
                index,
                generation: slot.generation,
            });
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 0,
            socket,
        });
        Ok(SocketHandle {
            index,
            generation: 0,
        })
    }

    /// Removes a socket and gives it back; its handle names nothing from
    /// now on.
    pub fn remove(&mut self, handle: SocketHandle) -> Option<Socket> {
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        let s = slot.socket.take()?;
        if matches!(s, Socket::Raw(_)) {
            self.raw_count -= 1;
        }
        self.icmp_idents.retain(|&(_, i)| i != handle.index);
        slot.generation = slot.generation.wrapping_add(1);
        self.udp.unbind(handle);
        self.free.push(handle.index);
        self.len -= 1;
        Some(s)
    }

    /// The socket `handle` names.
    pub fn get_mut(&mut self, handle: SocketHandle) -> Option<&mut Socket> {
        self.tx_hint = true;
        self.get_mut_quiet(handle)
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
    pub fn udp(&mut self, handle: SocketHandle) -> Result<&mut UdpSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Udp(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The ICMP echo socket `handle` names.
    pub fn icmp(&mut self, handle: SocketHandle) -> Result<&mut IcmpSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Icmp(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The raw socket `handle` names.
    pub fn raw(&mut self, handle: SocketHandle) -> Result<&mut RawSocket, Error> {
        match self.get_mut(handle) {
            Some(Socket::Raw(s)) => Ok(s),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Every socket, mutable.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Socket> {
        self.slots.iter_mut().filter_map(|s| s.socket.as_mut())
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
        let bound = self
            .udp
            .bind(handle, *local.ip(), local.port(), options, &mut self.rng)
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
        let local = self.udp.connect(handle, peer, None).map_err(udp_error)?;
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
        let local = self.udp.disconnect(handle).unwrap_or(None);
        let s = self.udp(handle)?;
        s.local = local;
        s.remote = None;
        Ok(())
    }

    /// The UDP socket for a unicast datagram from `src:src_port` to
    /// `dst:dst_port`: connected 4-tuple first, then the bound address,
    /// then the wildcard.
    pub(crate) fn udp_lookup(
        &self,
        dst: Ipv4Addr,
        dst_port: u16,
        src: Ipv4Addr,
        src_port: u16,
    ) -> Option<SocketHandle> {
        self.udp.lookup(dst, dst_port, src, src_port)
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
        let taken = |set: &SocketSet, id: u16| {
            set.slots
                .iter()
                .any(|s| matches!(&s.socket, Some(Socket::Icmp(i)) if i.ident == Some(id)))
        };
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
        let needed = self.slots.iter().any(
            |s| matches!(&s.socket, Some(Socket::Udp(u)) if u.local.is_none() && !u.tx.is_empty()),
        );
        if !needed {
            return;
        }
        let pending: Vec<SocketHandle> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                matches!(&s.socket, Some(Socket::Udp(u)) if u.local.is_none() && !u.tx.is_empty())
            })
            .map(|(i, s)| SocketHandle {
                index: i as u32,
                generation: s.generation,
            })
            .collect();
        for h in pending {
            if self
                .bind_udp(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .is_err()
                && let Ok(u) = self.udp(h)
            {
                // No port: the datagrams cannot leave.
                while u.tx.pop().is_some() {}
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
    /// The first socket at index `from` or later with datagrams to send,
    /// and the index after it (to iterate while mutating the set).
    pub(crate) fn next_with_tx(&self, from: usize) -> Option<(SocketHandle, usize)> {
        let rest = self.slots.get(from..)?;
        let i = rest
            .iter()
            .position(|s| s.socket.as_ref().is_some_and(Socket::has_tx))?;
        let index = from + i;
        let generation = rest.get(i)?.generation;
        let handle = SocketHandle {
            index: index as u32,
            generation,
        };
        Some((handle, index + 1))
    }

    /// Whether any socket has datagrams to send.
    pub(crate) fn has_pending_tx(&self) -> bool {
        self.tx_hint
            && self
                .slots
                .iter()
                .any(|s| s.socket.as_ref().is_some_and(Socket::has_tx))
    }

    /// Whether a socket may have queued something since the interface
    /// last found nothing to send.
    pub(crate) fn tx_hint(&self) -> bool {
        self.tx_hint
    }

    /// Whether any socket has datagrams to send, clearing the hint when
    /// none has (so that the next idle call costs one load).
    pub(crate) fn take_tx_hint(&mut self) -> bool {
        let pending = self.has_pending_tx();
        if !pending {
            self.tx_hint = false;
        }
        pending
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

    /// Whether a raw socket for `protocol` exists.
    pub(crate) fn has_raw(&self, protocol: lamina_ipv4::IpProtocol) -> bool {
        self.raw_count > 0
            && self
                .slots
                .iter()
                .any(|s| matches!(&s.socket, Some(Socket::Raw(r)) if r.protocol == protocol))
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
    fn has_tx(&self) -> bool {
        match self {
            Socket::Udp(u) => !u.tx.is_empty(),
            Socket::Icmp(i) => !i.tx.is_empty(),
            Socket::Raw(r) => !r.tx.is_empty(),
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
