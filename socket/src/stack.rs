//! The `std` conveniences: a [`Stack`] that runs an [`Interface`] on a
//! device in a background thread with a real clock, and blocking sockets
//! over it: [`TcpListener`] and [`TcpStream`] (with `std::io::Read` and
//! `Write`), [`UdpSocket`] and [`PingSocket`].
//!
//! The stack thread polls the interface until nothing moves, then sleeps
//! on the device (a TAP's file descriptor) for at most a millisecond;
//! a user call that queues data or frees receive room while it sleeps
//! wakes it at once through a [`Waker`].
//!
//! ```no_run
//! # #[cfg(target_os = "linux")]
//! # fn main() -> std::io::Result<()> {
//! use lamina_netdev::TapDevice;
//! use lamina_socket::stack::Stack;
//!
//! let tap = TapDevice::open("tap0")?;
//! let stack = Stack::builder()
//!     .address("192.0.2.2/24".parse().unwrap())
//!     .gateway("192.0.2.1".parse().unwrap())
//!     .spawn(tap)?;
//! let socket = stack.udp_bind("0.0.0.0:7".parse().unwrap())?;
//! let mut buf = [0u8; 2048];
//! loop {
//!     let (n, from) = socket.recv_from(&mut buf)?;
//!     socket.send_to(&buf[..n], from)?;
//! }
//! # }
//! # #[cfg(not(target_os = "linux"))]
//! # fn main() {}
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;
use std::vec::Vec;

use lamina_ethernet::MacAddr;
use lamina_ipv4::{IfaceId, Ipv4Cidr};
use lamina_netbuf::time::StdClock;
use lamina_netbuf::{Duration, SeededRng};
use lamina_netdev::Device;

use lamina_tcp::{State as TcpState, TcpConfig};

use crate::{
    Error, IcmpSocket, Interface, InterfaceConfig, Socket, SocketHandle, SocketSet, TcpSocket,
};

/// The longest the stack thread sleeps before looking at the sockets
/// again: sends from other threads are noticed within this delay.
const MAX_SLEEP: Duration = Duration::from_millis(1);

/// A device the [`Stack`] thread can wait on.
pub trait WaitDevice: Device {
    /// Blocks until the device may have a frame to receive, or `timeout`
    /// passes. The default sleeps for `timeout`; devices with a file
    /// descriptor wait on it.
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        std::thread::sleep(StdDuration::from_micros(timeout.total_micros()));
        Ok(())
    }

    /// As [`wait`](Self::wait), but also returns early when `waker`
    /// fires (a user thread queued data or read some). The default just
    /// calls [`wait`](Self::wait) (user work is then noticed within the
    /// timeout, at most a millisecond); a device with a descriptor should
    /// poll it together with [`Waker::as_fd`] (as
    /// [`TapDevice`](lamina_netdev::TapDevice) does), one without can
    /// [`Waker::park`].
    fn wait_or_wake(&self, waker: &Waker, timeout: Duration) -> io::Result<()> {
        let _ = waker;
        self.wait(timeout)
    }
}

#[cfg(target_os = "linux")]
impl WaitDevice for lamina_netdev::TapDevice {
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        lamina_netdev::TapDevice::wait(self, Some(timeout)).map(|_| ())
    }

    fn wait_or_wake(&self, waker: &Waker, timeout: Duration) -> io::Result<()> {
        self.wait_with(waker.as_fd(), Some(timeout)).map(|_| ())
    }
}

impl WaitDevice for lamina_netdev::Loopback {
    fn wait_or_wake(&self, waker: &Waker, timeout: Duration) -> io::Result<()> {
        waker.park(timeout);
        Ok(())
    }
}

/// How user threads wake the [`Stack`] thread from its sleep on the
/// device: a byte on a socket pair (which a device's wait polls beside
/// its own descriptor, see [`WaitDevice::wait_or_wake`]) and an unpark
/// of the thread (for devices that just park).
#[derive(Debug)]
pub struct Waker {
    #[cfg(unix)]
    rx: std::os::unix::net::UnixStream,
    #[cfg(unix)]
    tx: std::os::unix::net::UnixStream,
    thread: OnceLock<std::thread::Thread>,
}

impl Waker {
    fn new() -> io::Result<Waker> {
        #[cfg(unix)]
        {
            let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
            rx.set_nonblocking(true)?;
            tx.set_nonblocking(true)?;
            Ok(Waker {
                rx,
                tx,
                thread: OnceLock::new(),
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Waker {
                thread: OnceLock::new(),
            })
        }
    }

    /// The descriptor that becomes readable when the waker fires.
    #[cfg(unix)]
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.rx)
    }

    /// Parks the calling thread until the waker fires or `timeout`
    /// passes (spurious returns are possible).
    pub fn park(&self, timeout: Duration) {
        std::thread::park_timeout(StdDuration::from_micros(timeout.total_micros()));
    }

    /// Fires: the descriptor becomes readable and the stack thread is
    /// unparked.
    fn wake(&self) {
        #[cfg(unix)]
        {
            use std::io::Write;
            // Full means a byte is already there: awake anyway.
            let _ = (&self.tx).write(&[1]);
        }
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Drains what [`wake`](Self::wake) wrote.
    fn reset(&self) {
        #[cfg(unix)]
        {
            use std::io::Read;
            let mut buf = [0u8; 64];
            while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

struct State {
    iface: Interface,
    sockets: SocketSet,
    stop: bool,
    error: Option<String>,
    /// The stack thread is (about to be) asleep on the device.
    sleeping: bool,
    /// A user thread fired the waker since the stack thread went to
    /// sleep.
    woken: bool,
    /// User threads blocked on one TCP socket, each woken (alone) when a
    /// poll makes its socket ready.
    waiters: Vec<Waiter>,
    next_waiter: u64,
    /// Waiters woken because their socket became ready (not by their
    /// own re-check).
    ready_wakeups: u64,
}

/// A user thread blocked until `interest` holds for socket `handle`.
struct Waiter {
    id: u64,
    handle: SocketHandle,
    interest: Interest,
    cv: Arc<Condvar>,
}

/// What a blocked thread waits for.
#[derive(Clone, Copy)]
enum Interest {
    /// A TCP socket state (readable, writable, connected, closed).
    Tcp(fn(&TcpSocket) -> bool),
    /// A connection to accept on a listening socket (or the listener
    /// gone).
    Accept,
    /// A datagram, or an error, on a UDP socket.
    UdpReadable,
    /// A datagram, or an error, on a ping socket.
    PingReadable,
    /// Anything: woken by every poll that makes progress (room in a
    /// datagram socket's transmit queue, which no flag tells).
    Progress,
}

impl Interest {
    fn holds(self, sockets: &mut SocketSet, h: SocketHandle) -> bool {
        match self {
            Interest::Tcp(ready) => match sockets.get(h) {
                Some(Socket::Tcp(t)) => ready(t),
                _ => true,
            },
            Interest::UdpReadable => match sockets.get(h) {
                Some(Socket::Udp(u)) => u.can_recv() || u.error.is_some(),
                _ => true,
            },
            Interest::PingReadable => match sockets.get(h) {
                Some(Socket::Icmp(i)) => i.can_recv() || i.error.is_some(),
                _ => true,
            },
            Interest::Progress => true,
            Interest::Accept => {
                sockets.tcp_pending(h) > 0
                    || !matches!(sockets.get(h), Some(Socket::Tcp(t)) if t.is_listening())
            }
        }
    }
}

/// The longest a thread blocked on a socket sleeps before it looks again
/// by itself (readiness can also change by a user call of another
/// thread, which wakes nobody).
const WAITER_RECHECK: StdDuration = StdDuration::from_millis(20);

std::thread_local! {
    /// Each user thread's condition variable for [`Waiter`]s.
    static THREAD_CV: Arc<Condvar> = Arc::new(Condvar::new());
}

struct Shared {
    state: Mutex<State>,
    waker: Waker,
    /// The configuration of TCP sockets opened through the stack.
    tcp_config: TcpConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another holder leaves consistent data (every
        // operation completes under the lock or not at all).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a poll that made progress: wakes the threads whose socket is
    /// now ready, each on its own condition variable.
    fn wake_ready(&self, st: &mut State) {
        let State {
            sockets,
            waiters,
            ready_wakeups,
            ..
        } = st;
        waiters.retain(|w| {
            let ready = w.interest.holds(sockets, w.handle);
            if ready {
                w.cv.notify_one();
                *ready_wakeups += 1;
            }
            !ready
        });
    }

    /// Wakes every blocked thread (the stack stopped).
    fn wake_all(&self, st: &mut State) {
        for w in st.waiters.drain(..) {
            w.cv.notify_one();
        }
    }

    /// After a user call touched the sockets: wakes the stack thread if
    /// it sleeps, so that the work is served now rather than at its next
    /// timer.
    fn kick(&self, st: &mut State) {
        if st.sleeping && !st.woken {
            st.woken = true;
            self.waker.wake();
        }
    }
}

/// How to set a [`Stack`] up: addresses, gateway, MAC, configuration.
#[derive(Debug, Clone)]
pub struct StackBuilder {
    config: InterfaceConfig,
    mac: Option<MacAddr>,
    addresses: Vec<Ipv4Cidr>,
    gateway: Option<Ipv4Addr>,
    max_sockets: usize,
    seed: Option<u64>,
    tcp_config: TcpConfig,
}

impl StackBuilder {
    /// Uses `config` for the interface.
    pub fn config(mut self, config: InterfaceConfig) -> StackBuilder {
        self.config = config;
        self
    }

    /// Adds an address with its prefix.
    pub fn address(mut self, cidr: Ipv4Cidr) -> StackBuilder {
        self.addresses.push(cidr);
        self
    }

    /// Sends everything off-link through `gateway`.
    pub fn gateway(mut self, gateway: Ipv4Addr) -> StackBuilder {
        self.gateway = Some(gateway);
        self
    }

    /// Uses `mac` as the hardware address (default: a random locally
    /// administered one).
    pub fn mac(mut self, mac: MacAddr) -> StackBuilder {
        self.mac = Some(mac);
        self
    }

    /// Holds at most `n` sockets (default 1024).
    pub fn max_sockets(mut self, n: usize) -> StackBuilder {
        self.max_sockets = n;
        self
    }

    /// Uses `config` for the TCP sockets opened through the stack
    /// (default: [`TcpConfig::default`] with 1 MiB send and receive
    /// buffers, for throughput on real links).
    pub fn tcp_config(mut self, config: TcpConfig) -> StackBuilder {
        self.tcp_config = config;
        self
    }

    /// Seeds the stack's randomness (default: from the system clock and
    /// the process id).
    pub fn seed(mut self, seed: u64) -> StackBuilder {
        self.seed = Some(seed);
        self
    }

    /// Starts the stack on `device` in a background thread, which runs
    /// until the [`Stack`] is dropped.
    pub fn spawn<D: WaitDevice + Send + 'static>(self, mut device: D) -> io::Result<Stack> {
        let seed = self.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ (u64::from(std::process::id()) << 32)
        });
        let mut rng = SeededRng::new(seed);
        let mac = self.mac.unwrap_or_else(|| {
            let mut m = [0u8; 6];
            lamina_netbuf::Rng::fill_bytes(&mut rng, &mut m);
            m[0] = (m[0] & 0xfe) | 0x02;
            MacAddr(m)
        });
        let clock = StdClock::new();
        let now = clock.now();
        let mut iface = Interface::new(self.config, &mut rng);
        let id = iface.add_device(&device, mac).map_err(io::Error::from)?;
        for a in &self.addresses {
            iface.add_address(id, *a, now).map_err(io::Error::from)?;
        }
        if let Some(gw) = self.gateway {
            iface.set_default_gateway(gw, id).map_err(io::Error::from)?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                iface,
                sockets: SocketSet::new(self.max_sockets, &mut rng),
                stop: false,
                error: None,
                sleeping: false,
                woken: false,
                waiters: Vec::new(),
                next_waiter: 0,
                ready_wakeups: 0,
            }),
            waker: Waker::new()?,
            tcp_config: self.tcp_config,
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("lamina-stack".into())
            .spawn(move || run(&worker, &mut device, clock))?;
        Ok(Stack {
            shared,
            thread: Some(thread),
            mac,
            id,
        })
    }
}

/// Polls in a row while they make progress before the stack thread
/// looks at its timers and sleeps (a bound, so that a flood cannot keep
/// it from noticing a stop).
const MAX_BUSY_POLLS: u32 = 64;

fn run<D: WaitDevice>(shared: &Shared, device: &mut D, clock: StdClock) {
    let _ = shared.waker.thread.set(std::thread::current());
    let mut busy = 0u32;
    loop {
        let sleep = {
            let mut st = shared.lock();
            st.sleeping = false;
            if st.woken {
                st.woken = false;
                shared.waker.reset();
            }
            if st.stop {
                return;
            }
            let now = clock.now();
            let progress = {
                let State { iface, sockets, .. } = &mut *st;
                iface.poll(now, &mut *device, sockets)
            };
            if progress {
                shared.wake_ready(&mut st);
            }
            let State { iface, sockets, .. } = &mut *st;
            if progress && busy < MAX_BUSY_POLLS {
                // Batch: more may be waiting on the device or in the
                // sockets; poll again before sleeping (the lock is let go
                // in between for the user threads).
                busy += 1;
                Duration::ZERO
            } else {
                busy = 0;
                let sleep = match iface.poll_at(&mut *device, sockets) {
                    Some(at) => at.saturating_duration_since(now).min(MAX_SLEEP),
                    None => MAX_SLEEP,
                };
                st.sleeping = !sleep.is_zero();
                sleep
            }
        };
        if sleep.is_zero() {
            continue;
        }
        if let Err(e) = device.wait_or_wake(&shared.waker, sleep) {
            let mut st = shared.lock();
            st.error = Some(e.to_string());
            st.stop = true;
            shared.wake_all(&mut st);
            return;
        }
    }
}

/// An [`Interface`] on one device, run by a background thread with the
/// system clock; sockets opened from it block (with optional timeouts).
/// Dropping the stack stops the thread.
pub struct Stack {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    mac: MacAddr,
    id: IfaceId,
}

impl core::fmt::Debug for Stack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack").field("mac", &self.mac).finish()
    }
}

impl Stack {
    /// A builder with the default configuration, no address.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            config: InterfaceConfig::default(),
            mac: None,
            addresses: Vec::new(),
            gateway: None,
            max_sockets: 1024,
            seed: None,
            tcp_config: TcpConfig {
                send_buffer: 1 << 20,
                recv_buffer: 1 << 20,
                ..TcpConfig::default()
            },
        }
    }

    /// The device's hardware address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Runs `f` on the interface (to read counters, add routes or
    /// addresses) while the stack thread waits.
    pub fn with_interface<R>(&self, f: impl FnOnce(&mut Interface, IfaceId) -> R) -> R {
        let mut st = self.shared.lock();
        f(&mut st.iface, self.id)
    }

    /// Opens a UDP socket bound to `local` (port 0: an ephemeral port).
    pub fn udp_bind(&self, local: SocketAddrV4) -> io::Result<UdpSocket> {
        let mut st = self.shared.lock();
        let h = st.sockets.add(crate::UdpSocket::default())?;
        if let Err(e) = st.sockets.bind_udp(h, local) {
            st.sockets.remove(h);
            return Err(e.into());
        }
        Ok(UdpSocket {
            shared: Arc::clone(&self.shared),
            handle: h,
            timeout: None,
        })
    }

    /// Opens a TCP socket listening on `local` (address `0.0.0.0`: any
    /// of ours; port 0: an ephemeral one) with an accept queue of
    /// `backlog` connections (at most [`MAX_BACKLOG`](crate::MAX_BACKLOG)).
    pub fn tcp_listen(&self, local: SocketAddrV4, backlog: usize) -> io::Result<TcpListener> {
        let mut st = self.shared.lock();
        let h = st
            .sockets
            .add(TcpSocket::new(self.shared.tcp_config.clone()))?;
        if let Err(e) = st.sockets.listen_tcp(h, local, backlog) {
            st.sockets.remove(h);
            return Err(e.into());
        }
        self.shared.kick(&mut st);
        Ok(TcpListener {
            shared: Arc::clone(&self.shared),
            handle: h,
            timeout: AtomicTimeout::default(),
        })
    }

    /// Opens a TCP connection to `remote` from an address of ours and an
    /// ephemeral port, waiting for the handshake to complete. Fails with
    /// `ConnectionRefused` when the peer resets, `TimedOut` when it does
    /// not answer (after the SYN retries of the [`TcpConfig`]).
    pub fn tcp_connect(&self, remote: SocketAddrV4) -> io::Result<TcpStream> {
        self.connect_inner(remote, None)
    }

    /// As [`tcp_connect`](Self::tcp_connect), failing with `TimedOut`
    /// after `timeout`.
    pub fn tcp_connect_timeout(
        &self,
        remote: SocketAddrV4,
        timeout: StdDuration,
    ) -> io::Result<TcpStream> {
        self.connect_inner(remote, Some(timeout))
    }

    fn connect_inner(
        &self,
        remote: SocketAddrV4,
        timeout: Option<StdDuration>,
    ) -> io::Result<TcpStream> {
        let h = {
            let mut st = self.shared.lock();
            let h = st
                .sockets
                .add(TcpSocket::new(self.shared.tcp_config.clone()))?;
            if let Err(e) = st.sockets.connect_tcp(h, remote, None) {
                st.sockets.remove(h);
                return Err(e.into());
            }
            self.shared.kick(&mut st);
            h
        };
        // From here on the stream owns the socket (and closes it when
        // dropped, the failure paths included).
        let stream = TcpStream::new(Arc::clone(&self.shared), h);
        block_tcp(
            &self.shared,
            timeout,
            h,
            |t| !matches!(t.state(), TcpState::SynSent | TcpState::SynReceived),
            |t| {
                if t.is_established() {
                    return Ok(());
                }
                if let Some(e) = t.connection().and_then(|c| c.error()) {
                    return Err(crate::tcp::conn_error(e));
                }
                Err(t.take_error().unwrap_or(Error::NotConnected))
            },
        )?;
        Ok(stream)
    }

    /// Opens a ping socket with a random identifier.
    pub fn ping_socket(&self) -> io::Result<PingSocket> {
        let mut st = self.shared.lock();
        let h = st.sockets.add(IcmpSocket::default())?;
        if let Err(e) = st.sockets.bind_icmp(h, None) {
            st.sockets.remove(h);
            return Err(e.into());
        }
        Ok(PingSocket {
            shared: Arc::clone(&self.shared),
            handle: h,
            timeout: None,
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.stop = true;
        self.shared.wake_all(&mut st);
        drop(st);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long a blocked call may still wait (`None`: no deadline); fails
/// once the stack has stopped or `deadline` has passed.
fn time_left(st: &State, deadline: Option<std::time::Instant>) -> io::Result<Option<StdDuration>> {
    if st.stop {
        return Err(io::Error::new(io::ErrorKind::NotConnected, "stack stopped"));
    }
    let Some(d) = deadline else {
        return Ok(None);
    };
    let left = d.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    }
    Ok(Some(left))
}

/// Sleeps until a poll makes `interest` hold for socket `h` (or
/// [`WAITER_RECHECK`] passes, or `deadline`); fails once the stack has
/// stopped or the deadline has passed.
fn wait_for_socket<'a>(
    mut st: MutexGuard<'a, State>,
    deadline: Option<std::time::Instant>,
    h: SocketHandle,
    interest: Interest,
) -> io::Result<MutexGuard<'a, State>> {
    let wait = time_left(&st, deadline)?.map_or(WAITER_RECHECK, |l| l.min(WAITER_RECHECK));
    let cv = THREAD_CV.with(Arc::clone);
    let id = st.next_waiter;
    st.next_waiter = id.wrapping_add(1);
    st.waiters.push(Waiter {
        id,
        handle: h,
        interest,
        cv: Arc::clone(&cv),
    });
    let mut st = cv
        .wait_timeout(st, wait)
        .map(|(g, _)| g)
        .unwrap_or_else(|e| e.into_inner().0);
    // Woken, the stack thread took the entry away; timed out, it is ours
    // to remove.
    st.waiters.retain(|w| w.id != id);
    Ok(st)
}

/// Waits for `f` to stop returning [`Error::WouldBlock`] /
/// [`Error::QueueFull`], up to `timeout`.
fn block<T>(
    shared: &Shared,
    timeout: Option<StdDuration>,
    h: SocketHandle,
    interest: Interest,
    mut f: impl FnMut(&mut SocketSet) -> Result<T, Error>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut st = shared.lock();
    loop {
        if let Some(e) = &st.error {
            return Err(io::Error::other(e.clone()));
        }
        let r = f(&mut st.sockets);
        shared.kick(&mut st);
        match r {
            Err(Error::WouldBlock | Error::QueueFull) => {}
            other => return other.map_err(io::Error::from),
        }
        st = wait_for_socket(st, deadline, h, interest)?;
    }
}

/// A blocking UDP socket of a [`Stack`], in the manner of
/// `std::net::UdpSocket`. Closed when dropped.
pub struct UdpSocket {
    shared: Arc<Shared>,
    handle: SocketHandle,
    timeout: Option<StdDuration>,
}

impl core::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("handle", &self.handle)
            .finish()
    }
}

impl UdpSocket {
    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        let mut st = self.shared.lock();
        st.sockets
            .udp(self.handle)?
            .local_addr()
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// Sets the timeout of blocking calls (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<StdDuration>) {
        self.timeout = timeout;
    }

    /// Allows sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        let mut st = self.shared.lock();
        st.sockets.udp(self.handle)?.set_broadcast(on);
        Ok(())
    }

    /// Connects to `peer` (see [`SocketSet::connect_udp`]).
    pub fn connect(&self, peer: SocketAddrV4) -> io::Result<()> {
        let mut st = self.shared.lock();
        st.sockets.connect_udp(self.handle, peer)?;
        Ok(())
    }

    /// Sends `data` to `dst`, waiting for room in the transmit queue.
    pub fn send_to(&self, data: &[u8], dst: SocketAddrV4) -> io::Result<usize> {
        let h = self.handle;
        block(&self.shared, self.timeout, h, Interest::Progress, |s| {
            s.udp(h)?.send_to(data, dst)
        })?;
        Ok(data.len())
    }

    /// Sends `data` to the connected peer.
    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        let h = self.handle;
        block(&self.shared, self.timeout, h, Interest::Progress, |s| {
            s.udp(h)?.send(data)
        })?;
        Ok(data.len())
    }

    /// Waits for a datagram and copies it into `buf` (cut to its length).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddrV4)> {
        let h = self.handle;
        block(&self.shared, self.timeout, h, Interest::UdpReadable, |s| {
            s.udp(h)?.recv_from(buf)
        })
    }

    /// Waits for a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.shared.lock().sockets.remove(self.handle);
    }
}

/// A blocking ping socket of a [`Stack`]. Closed when dropped.
pub struct PingSocket {
    shared: Arc<Shared>,
    handle: SocketHandle,
    timeout: Option<StdDuration>,
}

impl core::fmt::Debug for PingSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PingSocket")
            .field("handle", &self.handle)
            .finish()
    }
}

impl PingSocket {
    /// Sets the timeout of blocking calls (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<StdDuration>) {
        self.timeout = timeout;
    }

    /// Sends an Echo Request to `dst`.
    pub fn send(&self, dst: Ipv4Addr, seq_no: u16, data: &[u8]) -> io::Result<()> {
        let h = self.handle;
        block(&self.shared, self.timeout, h, Interest::Progress, |s| {
            s.icmp(h)?.send_echo(dst, seq_no, data)
        })
    }

    /// Waits for an Echo Reply.
    pub fn recv(&self) -> io::Result<crate::EchoResponse> {
        let h = self.handle;
        block(&self.shared, self.timeout, h, Interest::PingReadable, |s| {
            s.icmp(h)?.recv_echo()
        })
    }
}

impl Drop for PingSocket {
    fn drop(&mut self) {
        self.shared.lock().sockets.remove(self.handle);
    }
}

/// A timeout shared by reference: microseconds, 0 for none.
#[derive(Debug, Default)]
struct AtomicTimeout(AtomicU64);

impl AtomicTimeout {
    fn get(&self) -> Option<StdDuration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            us => Some(StdDuration::from_micros(us)),
        }
    }

    /// As `std::net::TcpStream::set_read_timeout`: a zero duration is
    /// refused.
    fn set(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        let us = match timeout {
            None => 0,
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ));
            }
            Some(d) => u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1),
        };
        self.0.store(us, Ordering::Relaxed);
        Ok(())
    }
}

/// Waits, up to `timeout`, until `ready` holds for the TCP socket `h`
/// (looked at without touching it), then runs `op` on it; again while
/// `op` says [`Error::WouldBlock`]. A socket that is gone counts as
/// ready (`op` then reports it).
fn block_tcp<T>(
    shared: &Shared,
    timeout: Option<StdDuration>,
    h: SocketHandle,
    ready: fn(&TcpSocket) -> bool,
    mut op: impl FnMut(&mut TcpSocket) -> Result<T, Error>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut st = shared.lock();
    loop {
        if let Some(e) = &st.error {
            return Err(io::Error::other(e.clone()));
        }
        let is_ready = match st.sockets.get(h) {
            Some(Socket::Tcp(t)) => ready(t),
            _ => true,
        };
        if is_ready {
            let r = st.sockets.tcp(h).and_then(&mut op);
            shared.kick(&mut st);
            match r {
                Err(Error::WouldBlock) => {}
                other => return other.map_err(io::Error::from),
            }
        }
        st = wait_for_socket(st, deadline, h, Interest::Tcp(ready))?;
    }
}

/// Whether a read would not wait: bytes, end of stream, or a connection
/// that is over (the read reports how).
fn read_ready(t: &TcpSocket) -> bool {
    t.can_recv()
        || t.recv_finished()
        || !t.is_active()
        || t.connection().is_some_and(|c| c.error().is_some())
}

/// Whether a write would not wait: room in the send buffer, or a
/// connection that cannot send any more (the write reports why).
fn write_ready(t: &TcpSocket) -> bool {
    t.can_send()
        || !t.is_active()
        || t.connection().is_some_and(|c| {
            c.error().is_some()
                || !matches!(
                    c.state(),
                    TcpState::SynSent
                        | TcpState::SynReceived
                        | TcpState::Established
                        | TcpState::CloseWait
                )
        })
}

/// A blocking listening TCP socket of a [`Stack`], in the manner of
/// `std::net::TcpListener`. Stops listening when dropped (connections
/// not yet accepted are reset).
///
/// ```no_run
/// # fn demo(stack: &lamina_socket::stack::Stack) -> std::io::Result<()> {
/// use std::io::{Read, Write};
///
/// let listener = stack.tcp_listen("0.0.0.0:7".parse().unwrap(), 128)?;
/// for stream in listener.incoming() {
///     let mut stream = stream?;
///     std::thread::spawn(move || {
///         let mut buf = [0u8; 4096];
///         while let Ok(n @ 1..) = stream.read(&mut buf) {
///             if stream.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # Ok(())
/// # }
/// ```
pub struct TcpListener {
    shared: Arc<Shared>,
    handle: SocketHandle,
    timeout: AtomicTimeout,
}

impl core::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpListener")
            .field("handle", &self.handle)
            .finish()
    }
}

impl TcpListener {
    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        let mut st = self.shared.lock();
        st.sockets
            .tcp(self.handle)?
            .local_addr()
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// Sets how long [`accept`](Self::accept) waits (`None`: forever;
    /// zero is refused).
    pub fn set_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.timeout.set(timeout)
    }

    /// Waits for an established connection and gives its stream and the
    /// peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        let l = self.handle;
        let mut st = self.shared.lock();
        let deadline = self.timeout.get().map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(e) = &st.error {
                return Err(io::Error::other(e.clone()));
            }
            if st.sockets.tcp_pending(l) > 0 {
                match st.sockets.accept_tcp(l) {
                    Ok(h) => {
                        let peer = st.sockets.tcp(h).ok().and_then(|t| t.peer_addr());
                        self.shared.kick(&mut st);
                        drop(st);
                        let stream = TcpStream::new(Arc::clone(&self.shared), h);
                        let peer = peer.ok_or_else(|| io::Error::from(Error::NotConnected))?;
                        return Ok((stream, peer));
                    }
                    Err(Error::WouldBlock) => {}
                    Err(e) => return Err(e.into()),
                }
            } else if !matches!(st.sockets.get(l), Some(Socket::Tcp(t)) if t.is_listening()) {
                return Err(Error::InvalidState.into());
            }
            st = wait_for_socket(st, deadline, l, Interest::Accept)?;
        }
    }

    /// The connections as they arrive, forever (as
    /// `std::net::TcpListener::incoming`).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let _ = st.sockets.close_tcp(self.handle);
        self.shared.kick(&mut st);
    }
}

/// The iterator of [`TcpListener::incoming`]: never ends; each item is
/// [`TcpListener::accept`]'s stream.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A blocking TCP connection of a [`Stack`], in the manner of
/// `std::net::TcpStream`: [`Read`](io::Read) and [`Write`](io::Write)
/// (on `&TcpStream` too, so that one thread may read while another
/// writes). Dropping it closes the connection gracefully: queued data is
/// still sent, then a FIN (RFC 9293 §3.10.4); see
/// [`set_linger`](Self::set_linger).
///
/// ```no_run
/// # fn demo(stack: &lamina_socket::stack::Stack) -> std::io::Result<()> {
/// use std::io::{Read, Write};
///
/// let mut s = stack.tcp_connect("192.0.2.1:80".parse().unwrap())?;
/// s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
/// let mut reply = Vec::new();
/// s.read_to_end(&mut reply)?;
/// # Ok(())
/// # }
/// ```
pub struct TcpStream {
    shared: Arc<Shared>,
    handle: SocketHandle,
    read_timeout: AtomicTimeout,
    write_timeout: AtomicTimeout,
    /// `None`: close in the background; else how long `drop` waits for
    /// the close to be acknowledged (zero: abort with a RST).
    linger: Mutex<Option<StdDuration>>,
}

impl core::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpStream")
            .field("handle", &self.handle)
            .finish()
    }
}

impl TcpStream {
    fn new(shared: Arc<Shared>, handle: SocketHandle) -> TcpStream {
        TcpStream {
            shared,
            handle,
            read_timeout: AtomicTimeout::default(),
            write_timeout: AtomicTimeout::default(),
            linger: Mutex::new(None),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TcpSocket) -> R) -> io::Result<R> {
        let mut st = self.shared.lock();
        let r = f(st.sockets.tcp(self.handle)?);
        self.shared.kick(&mut st);
        Ok(r)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.with(|t| t.local_addr())?
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        self.with(|t| t.peer_addr())?
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// The RFC 9293 state of the connection.
    pub fn state(&self) -> io::Result<TcpState> {
        self.with(|t| t.state())
    }

    /// Closes the reading, writing or both halves (`Write` sends a FIN
    /// after the queued data; `Read` discards what arrives).
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => crate::Shutdown::Read,
            std::net::Shutdown::Write => crate::Shutdown::Write,
            std::net::Shutdown::Both => crate::Shutdown::Both,
        };
        self.with(|t| t.shutdown(how))?.map_err(io::Error::from)
    }

    /// Disables Nagle's algorithm (RFC 896) when `on`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.with(|t| t.set_nodelay(on))
    }

    /// Whether Nagle's algorithm is disabled.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with(|t| t.config().nodelay)
    }

    /// Sets how long a read waits (`None`: forever; zero is refused).
    /// A read that times out fails with `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.read_timeout.set(timeout)
    }

    /// Sets how long a write waits for room (`None`: forever; zero is
    /// refused).
    pub fn set_write_timeout(&self, timeout: Option<StdDuration>) -> io::Result<()> {
        self.write_timeout.set(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<StdDuration> {
        self.read_timeout.get()
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<StdDuration> {
        self.write_timeout.get()
    }

    /// As `SO_LINGER`: with `Some(t)`, dropping the stream waits up to
    /// `t` for the queued data and the FIN to be acknowledged (a zero
    /// `t` aborts with a RST instead, RFC 9293 §3.10.5); with `None`
    /// (the default) the close goes on in the background.
    pub fn set_linger(&self, linger: Option<StdDuration>) {
        *self.linger.lock().unwrap_or_else(|e| e.into_inner()) = linger;
    }

    /// Copies received bytes into `buf` without consuming them, waiting
    /// for some as a read does.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        block_tcp(
            &self.shared,
            self.read_timeout.get(),
            self.handle,
            read_ready,
            |t| t.peek(buf),
        )
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        block_tcp(
            &self.shared,
            self.read_timeout.get(),
            self.handle,
            read_ready,
            |t| t.recv(buf),
        )
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        block_tcp(
            &self.shared,
            self.write_timeout.get(),
            self.handle,
            write_ready,
            |t| t.send(buf),
        )
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let linger = *self.linger.lock().unwrap_or_else(|e| e.into_inner());
        match linger {
            Some(t) if t.is_zero() => {
                let _ = self.with(|s| s.abort());
            }
            Some(t) => {
                let _ = self.with(|s| s.close());
                // Done once our FIN is acknowledged (or the connection
                // is over).
                let _ = block_tcp(
                    &self.shared,
                    Some(t),
                    self.handle,
                    |s| {
                        !s.is_active()
                            || matches!(
                                s.state(),
                                TcpState::FinWait2 | TcpState::TimeWait | TcpState::Closed
                            )
                    },
                    |_| Ok(()),
                );
            }
            None => {}
        }
        let mut st = self.shared.lock();
        let _ = st.sockets.close_tcp(self.handle);
        self.shared.kick(&mut st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::Shutdown;
    use std::vec;

    use lamina_netdev::{Capabilities, Loopback, Medium};

    const ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    fn stack() -> Stack {
        let dev = Loopback::new(Capabilities::new(Medium::Ethernet, 1500), 256);
        Stack::builder()
            .address("192.0.2.2/24".parse().unwrap())
            .seed(42)
            .spawn(dev)
            .unwrap()
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// A blocking connection carries 4 MiB each way byte for byte, with
    /// one thread writing while another reads (RFC 9293 §3.9.1 SEND and
    /// RECEIVE), and the FIN reads as end of stream (§3.10.4).
    #[test]
    fn blocking_streams_carry_data_both_ways_and_end_with_eof() {
        let stack = stack();
        let listener = stack
            .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7), 8)
            .unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), 7);
        let server = std::thread::spawn(move || {
            let (s, peer) = listener.accept().unwrap();
            assert_eq!(*peer.ip(), ADDR);
            // Echo until the client closes its side.
            let mut buf = vec![0u8; 100_000];
            let (mut r, mut w) = (&s, &s);
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).unwrap();
            }
        });
        let client = stack.tcp_connect(SocketAddrV4::new(ADDR, 7)).unwrap();
        assert_eq!(client.peer_addr().unwrap(), SocketAddrV4::new(ADDR, 7));
        assert_eq!(*client.local_addr().unwrap().ip(), ADDR);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        let data = pattern(4 << 20);
        let got = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut got = Vec::new();
                (&client).read_to_end(&mut got).unwrap();
                got
            });
            (&client).write_all(&data).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            reader.join().unwrap()
        });
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed bytes differ");
        server.join().unwrap();
        // The blocked readers and writers were woken by their sockets
        // becoming ready, not only by their own periodic re-check.
        assert!(stack.shared.lock().ready_wakeups > 0);
    }

    /// RFC 9293 §3.10.7.1: a SYN to a port nobody listens on is answered
    /// with a RST, which `connect` reports as `ConnectionRefused`.
    #[test]
    fn connecting_to_a_closed_port_is_refused() {
        let stack = stack();
        let e = stack
            .tcp_connect_timeout(SocketAddrV4::new(ADDR, 9), StdDuration::from_secs(10))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    }

    /// Timeouts of `accept` and `read` fail with `TimedOut`; zero
    /// durations are refused as std's are.
    #[test]
    fn accept_and_read_time_out() {
        let stack = stack();
        let listener = stack
            .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 8)
            .unwrap();
        listener
            .set_timeout(Some(StdDuration::from_millis(50)))
            .unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::TimedOut);
        assert_eq!(
            listener
                .set_timeout(Some(StdDuration::ZERO))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        listener.set_timeout(None).unwrap();

        let mut client = stack.tcp_connect(SocketAddrV4::new(ADDR, 80)).unwrap();
        let (server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(StdDuration::from_millis(50)))
            .unwrap();
        assert_eq!(client.read_timeout(), Some(StdDuration::from_millis(50)));
        let mut buf = [0u8; 16];
        assert_eq!(
            client.read(&mut buf).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        // Data that arrives later is read.
        (&server).write_all(b"late").unwrap();
        let mut got = [0u8; 4];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        assert_eq!(client.state().unwrap(), TcpState::Established);
    }

    /// Dropping a stream closes it gracefully (RFC 9293 §3.10.4): the
    /// peer reads what was written, then end of stream; `peek` leaves
    /// data in place.
    #[test]
    fn dropping_a_stream_sends_its_data_then_a_fin() {
        let stack = stack();
        let listener = stack.tcp_listen(SocketAddrV4::new(ADDR, 0), 8).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_ne!(port, 0);
        let mut client = stack.tcp_connect(SocketAddrV4::new(ADDR, port)).unwrap();
        client.write_all(b"hello, goodbye").unwrap();
        client.set_linger(Some(StdDuration::from_secs(5)));
        let server = listener.incoming().next().unwrap().unwrap();
        drop(client);
        let mut peeked = [0u8; 5];
        let n = server.peek(&mut peeked).unwrap();
        assert_eq!(&peeked[..n], &b"hello"[..n]);
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello, goodbye");
    }

    /// SO_LINGER with a zero timeout aborts: the peer sees a reset
    /// (RFC 9293 §3.10.5).
    #[test]
    fn zero_linger_resets_the_connection() {
        let stack = stack();
        let listener = stack
            .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7), 8)
            .unwrap();
        let client = stack.tcp_connect(SocketAddrV4::new(ADDR, 7)).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_linger(Some(StdDuration::ZERO));
        drop(client);
        server
            .set_read_timeout(Some(StdDuration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 8];
        let e = (&server).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
        // Writing after the reset fails too.
        assert!((&server).write(b"x").is_err());
    }
}
