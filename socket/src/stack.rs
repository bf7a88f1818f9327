//! The `std` conveniences: a [`Stack`] that runs an [`Interface`] on a
//! device in a background thread with a real clock, and blocking sockets
//! over it.
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;
use std::vec::Vec;

use lamina_ethernet::MacAddr;
use lamina_ipv4::{IfaceId, Ipv4Cidr};
use lamina_netbuf::time::StdClock;
use lamina_netbuf::{Duration, SeededRng};
use lamina_netdev::Device;

use crate::{Error, IcmpSocket, Interface, InterfaceConfig, SocketHandle, SocketSet};

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
}

#[cfg(target_os = "linux")]
impl WaitDevice for lamina_netdev::TapDevice {
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        lamina_netdev::TapDevice::wait(self, Some(timeout)).map(|_| ())
    }
}

impl WaitDevice for lamina_netdev::Loopback {}

struct State {
    iface: Interface,
    sockets: SocketSet,
    stop: bool,
    error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    /// Notified after every poll that made progress.
    progress: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another holder leaves consistent data (every
        // operation completes under the lock or not at all).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
            }),
            progress: Condvar::new(),
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

fn run<D: WaitDevice>(shared: &Shared, device: &mut D, clock: StdClock) {
    loop {
        let sleep = {
            let mut st = shared.lock();
            if st.stop {
                return;
            }
            let now = clock.now();
            let State { iface, sockets, .. } = &mut *st;
            if iface.poll(now, &mut *device, sockets) {
                shared.progress.notify_all();
            }
            match iface.poll_at(&mut *device, sockets) {
                Some(at) => at.saturating_duration_since(now).min(MAX_SLEEP),
                None => MAX_SLEEP,
            }
        };
        if !sleep.is_zero()
            && let Err(e) = device.wait(sleep)
        {
            let mut st = shared.lock();
            st.error = Some(e.to_string());
            st.stop = true;
            shared.progress.notify_all();
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
        self.shared.lock().stop = true;
        self.shared.progress.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits for `f` to stop returning [`Error::WouldBlock`] /
/// [`Error::QueueFull`], up to `timeout`.
fn block<T>(
    shared: &Shared,
    timeout: Option<StdDuration>,
    mut f: impl FnMut(&mut SocketSet) -> Result<T, Error>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut st = shared.lock();
    loop {
        if let Some(e) = &st.error {
            return Err(io::Error::other(e.clone()));
        }
        match f(&mut st.sockets) {
            Err(Error::WouldBlock | Error::QueueFull) => {}
            other => return other.map_err(io::Error::from),
        }
        if st.stop {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "stack stopped"));
        }
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
                }
                left
            }
            None => StdDuration::from_secs(3600),
        };
        st = shared
            .progress
            .wait_timeout(st, wait)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
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
        block(&self.shared, self.timeout, |s| s.udp(h)?.send_to(data, dst))?;
        Ok(data.len())
    }

    /// Sends `data` to the connected peer.
    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        let h = self.handle;
        block(&self.shared, self.timeout, |s| s.udp(h)?.send(data))?;
        Ok(data.len())
    }

    /// Waits for a datagram and copies it into `buf` (cut to its length).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddrV4)> {
        let h = self.handle;
        block(&self.shared, self.timeout, |s| s.udp(h)?.recv_from(buf))
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
        block(&self.shared, self.timeout, |s| {
            s.icmp(h)?.send_echo(dst, seq_no, data)
        })
    }

    /// Waits for an Echo Reply.
    pub fn recv(&self) -> io::Result<crate::EchoResponse> {
        let h = self.handle;
        block(&self.shared, self.timeout, |s| s.icmp(h)?.recv_echo())
    }
}

impl Drop for PingSocket {
    fn drop(&mut self) {
        self.shared.lock().sockets.remove(self.handle);
    }
}
