//! TCP sockets: listening and connected, over `lamina-tcp`'s sans-I/O
//! [`Connection`] and [`Listener`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::SocketAddrV4;

use lamina_tcp::{ConnError, Connection, Keepalive, Listener, State, TcpConfig};

use crate::Error;

/// The largest accept backlog a listener takes (Linux's default
/// `somaxconn`).
pub const MAX_BACKLOG: usize = 4096;

/// Which way [`TcpSocket::shutdown`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// No more receiving: data already queued and arriving is discarded.
    Read,
    /// No more sending: a FIN follows the queued data.
    Write,
    /// Both.
    Both,
}

#[derive(Debug)]
pub(crate) enum Inner {
    /// Fresh, or closed and reusable.
    Closed,
    /// `connect` was called: the interface opens the connection on its
    /// next poll, once it knows the source address and route MTU.
    Connecting {
        remote: SocketAddrV4,
        local: SocketAddrV4,
    },
    Listening(Box<Listening>),
    Connected(Box<Connection>),
}

/// A listening socket's state: the listener (SYN queue, handshakes) and
/// the established connections already given sockets of their own but
/// not yet accepted by the user.
#[derive(Debug)]
pub(crate) struct Listening {
    pub(crate) listener: Listener,
    pub(crate) ready: VecDeque<crate::SocketHandle>,
    pub(crate) backlog: usize,
}

/// A TCP socket of a [`SocketSet`](crate::SocketSet), in the manner of
/// BSD sockets: made listening with
/// [`SocketSet::listen_tcp`](crate::SocketSet::listen_tcp) (and then
/// [`SocketSet::accept_tcp`](crate::SocketSet::accept_tcp) gives new
/// sockets for the connections that arrive) or connected with
/// [`SocketSet::connect_tcp`](crate::SocketSet::connect_tcp). All calls
/// are non-blocking: they fail with [`Error::WouldBlock`] when they
/// would have to wait; readiness shows in [`can_send`](Self::can_send),
/// [`can_recv`](Self::can_recv) and
/// [`SocketSet::tcp_pending`](crate::SocketSet::tcp_pending).
///
/// The protocol itself (RFC 9293 with retransmission, SACK, window
/// scaling, timestamps, congestion control...) is `lamina-tcp`'s; see
/// [`TcpConfig`] for every setting.
#[derive(Debug)]
pub struct TcpSocket {
    pub(crate) inner: Inner,
    pub(crate) config: TcpConfig,
    /// The error a connection ended with, kept after it is gone.
    pub(crate) error: Option<Error>,
    /// Given up by its user ([`SocketSet::close_tcp`](crate::SocketSet::close_tcp),
    /// [`SocketSet::abort_tcp`](crate::SocketSet::abort_tcp), or an
    /// unaccepted connection of a closed listener): the interface
    /// removes the socket once its connection has closed.
    pub(crate) orphan: bool,
    /// Unaccepted connections of a listener that was closed: the
    /// interface resets them.
    pub(crate) abandoned: Vec<crate::SocketHandle>,
    /// Given something to send by its user since the interface last served it (data
    /// queued, buffer read, close...): served on the next poll even
    /// without a timer due.
    pub(crate) dirty: bool,
    /// The connection's (or listener's) next timer, as of the last time
    /// the interface served the socket (valid while not `dirty`: every
    /// change to the connection marks it dirty, and serving it refreshes
    /// this).
    pub(crate) timer: Option<lamina_netbuf::Instant>,
    /// Listed in the set's due list (until the interface's next pass
    /// takes it).
    pub(crate) queued: bool,
    /// The deadline of this socket's live entry in the set's timer heap.
    pub(crate) scheduled: Option<lamina_netbuf::Instant>,
    /// Registered as a listener at some point (the set unregisters it on
    /// removal; the others have nothing to unregister).
    pub(crate) listened: bool,
}

impl Default for TcpSocket {
    fn default() -> TcpSocket {
        TcpSocket::new(TcpConfig::default())
    }
}

/// The socket error for a connection error.
pub(crate) fn conn_error(e: ConnError) -> Error {
    Error::Tcp(e)
}

impl TcpSocket {
    /// A closed socket whose connections will use `config`.
    pub fn new(config: TcpConfig) -> TcpSocket {
        TcpSocket {
            inner: Inner::Closed,
            config,
            error: None,
            orphan: false,
            abandoned: Vec::new(),
            dirty: false,
            timer: None,
            queued: false,
            scheduled: None,
            listened: false,
        }
    }

    /// The settings of new connections (a listener's accepted ones
    /// included).
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// The settings, to change before `connect` or `listen`.
    pub fn config_mut(&mut self) -> &mut TcpConfig {
        &mut self.config
    }

    /// The RFC 9293 state (`Listen` for a listening socket, `SynSent`
    /// while a `connect` waits for the interface).
    pub fn state(&self) -> State {
        match &self.inner {
            Inner::Closed => State::Closed,
            Inner::Connecting { .. } => State::SynSent,
            Inner::Listening(_) => State::Listen,
            Inner::Connected(c) => c.state(),
        }
    }

    /// The local address, once bound.
    pub fn local_addr(&self) -> Option<SocketAddrV4> {
        match &self.inner {
            Inner::Closed => None,
            Inner::Connecting { local, .. } => Some(*local),
            Inner::Listening(l) => Some(l.listener.local()),
            Inner::Connected(c) => Some(c.local()),
        }
    }

    /// The peer, when connecting or connected.
    pub fn peer_addr(&self) -> Option<SocketAddrV4> {
        match &self.inner {
            Inner::Connecting { remote, .. } => Some(*remote),
            Inner::Connected(c) => Some(c.remote()),
            _ => None,
        }
    }

    /// The connection (counters, RTT, congestion state), when there is
    /// one.
    pub fn connection(&self) -> Option<&Connection> {
        match &self.inner {
            Inner::Connected(c) => Some(c),
            _ => None,
        }
    }

    /// The listener (counters, queues), when listening.
    pub fn listener(&self) -> Option<&Listener> {
        match &self.inner {
            Inner::Listening(l) => Some(&l.listener),
            _ => None,
        }
    }

    /// Whether the socket listens.
    pub fn is_listening(&self) -> bool {
        matches!(self.inner, Inner::Listening(_))
    }

    /// Whether the connection is established (data may flow both ways).
    pub fn is_established(&self) -> bool {
        self.connection().is_some_and(Connection::is_established)
    }

    /// Whether a connection is opening or open (not closed, not listening).
    pub fn is_active(&self) -> bool {
        match &self.inner {
            Inner::Connecting { .. } => true,
            Inner::Connected(c) => !c.is_closed(),
            _ => false,
        }
    }

    /// Whether [`send`](Self::send) would take bytes now.
    pub fn can_send(&self) -> bool {
        self.connection().is_some_and(Connection::can_send)
    }

    /// Whether [`recv`](Self::recv) would return bytes now.
    pub fn can_recv(&self) -> bool {
        self.connection().is_some_and(Connection::can_recv)
    }

    /// Whether the peer has closed its side and every byte was read:
    /// [`recv`](Self::recv) returns `Ok(0)`.
    pub fn recv_finished(&self) -> bool {
        self.connection().is_some_and(Connection::recv_finished)
    }

    /// Takes the error the connection ended with, if any.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    fn conn_mut(&mut self) -> Result<&mut Connection, Error> {
        match &mut self.inner {
            Inner::Connected(c) => Ok(c),
            Inner::Connecting { .. } => Err(Error::WouldBlock),
            _ => Err(self.error.take().unwrap_or(Error::NotConnected)),
        }
    }

    /// Queues `data` for sending: the bytes taken (as many as the send
    /// buffer has room for). Fails with [`Error::WouldBlock`] when the
    /// buffer is full or the connection is not established yet, and with
    /// the connection's error once it failed.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        let c = self.conn_mut()?;
        if let Some(e) = c.error() {
            return Err(conn_error(e));
        }
        if !c.is_established() && c.state() != State::CloseWait {
            return match c.state() {
                State::SynSent | State::SynReceived => Err(Error::WouldBlock),
                _ => Err(conn_error(ConnError::Closed)),
            };
        }
        match c.send(data).map_err(conn_error)? {
            0 if !data.is_empty() => Err(Error::WouldBlock),
            n => {
                self.dirty = true;
                Ok(n)
            }
        }
    }

    /// Reads received bytes into `buf`: how many; `Ok(0)` when the peer
    /// closed and everything was read. Fails with [`Error::WouldBlock`]
    /// when nothing is there yet, and with the connection's error (reset,
    /// timed out) once it failed.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let c = self.conn_mut()?;
        if buf.is_empty() {
            return Ok(0);
        }
        match c.recv(buf) {
            Ok(0) if c.recv_finished() => Ok(0),
            Ok(0) => match c.error() {
                Some(e) => Err(conn_error(e)),
                None => Err(Error::WouldBlock),
            },
            Ok(n) => {
                // The window opened: an update may be due.
                self.dirty = true;
                Ok(n)
            }
            Err(e) => Err(conn_error(e)),
        }
    }

    /// Copies received bytes into `buf` without consuming them.
    pub fn peek(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let c = self.conn_mut()?;
        match c.peek(buf) {
            0 if !c.recv_finished() && !buf.is_empty() => Err(Error::WouldBlock),
            n => Ok(n),
        }
    }

    /// Closes one or both directions: `Write` sends a FIN after the
    /// queued data, `Read` discards what arrives from now on.
    pub fn shutdown(&mut self, how: Shutdown) -> Result<(), Error> {
        let c = self.conn_mut()?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            c.shutdown_read();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            c.shutdown_write();
        }
        self.dirty = true;
        Ok(())
    }

    /// Closes gracefully: queued data is sent, then a FIN (RFC 9293
    /// §3.10.4). A listening socket stops listening (its queued
    /// connections are reset).
    pub fn close(&mut self) {
        self.dirty = true;
        match &mut self.inner {
            Inner::Connected(c) => c.close(),
            Inner::Listening(l) => {
                self.abandoned.extend(l.ready.drain(..));
                self.inner = Inner::Closed;
            }
            Inner::Connecting { .. } => self.inner = Inner::Closed,
            Inner::Closed => {}
        }
    }

    /// Aborts: a RST to the peer, queued data discarded (RFC 9293
    /// §3.10.5; `SO_LINGER` with a zero timeout).
    pub fn abort(&mut self) {
        self.dirty = true;
        match &mut self.inner {
            Inner::Connected(c) => c.abort(),
            Inner::Listening(_) => self.close(),
            Inner::Connecting { .. } => self.inner = Inner::Closed,
            Inner::Closed => {}
        }
    }

    /// Disables (or enables) Nagle's algorithm (RFC 896) for the
    /// connection and future ones.
    pub fn set_nodelay(&mut self, on: bool) {
        self.config.nodelay = on;
        if let Inner::Connected(c) = &mut self.inner {
            c.set_nodelay(on);
            // Data Nagle held back may go now.
            self.dirty = true;
        }
    }

    /// Sets keepalive probing (RFC 1122 §4.2.3.6), or turns it off.
    pub fn set_keepalive(&mut self, keepalive: Option<Keepalive>) {
        self.config.keepalive = keepalive;
        if let Inner::Connected(c) = &mut self.inner {
            c.set_keepalive(keepalive);
            self.dirty = true;
        }
    }

    /// Sets the user timeout (RFC 9293 §3.10.8; Linux's
    /// `TCP_USER_TIMEOUT`): unacknowledged data older than this ends the
    /// connection.
    pub fn set_user_timeout(&mut self, timeout: Option<lamina_netbuf::Duration>) {
        self.config.user_timeout = timeout;
        if let Inner::Connected(c) = &mut self.inner {
            c.set_user_timeout(timeout);
            self.dirty = true;
        }
    }

    /// The congestion control algorithm of connections opened from now
    /// on.
    pub fn set_congestion(&mut self, cc: lamina_tcp::CcAlgorithm) {
        self.config.cc = cc;
    }

    /// Whether the socket needs the interface: something to send or a
    /// timer due at `now`.
    pub(crate) fn poll_at(&self) -> Option<lamina_netbuf::Instant> {
        if self.dirty || !self.abandoned.is_empty() {
            return Some(lamina_netbuf::Instant::ZERO);
        }
        match &self.inner {
            Inner::Closed => None,
            Inner::Connecting { .. } => Some(lamina_netbuf::Instant::ZERO),
            Inner::Listening(_) | Inner::Connected(_) => self.timer,
        }
    }

    /// Served by the interface: nothing pending but the timers, which
    /// are read once here rather than on every poll.
    pub(crate) fn served(&mut self) {
        self.dirty = false;
        self.timer = match &self.inner {
            Inner::Closed | Inner::Connecting { .. } => None,
            Inner::Listening(l) => l.listener.poll_at(),
            Inner::Connected(c) => c.poll_at(),
        };
    }
}
