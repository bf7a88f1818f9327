//! Embedding Lamina in your own OS: your clock, your randomness, your
//! `Device`, your `Hal`, and the loop that drives them.
//!
//! Lamina reads no clock, starts no thread and touches no hardware: you
//! supply those and call two functions. Every library crate is
//! `#![no_std]` and needs only `alloc` (a global allocator); turn the
//! default `std` feature off:
//!
//! ```toml
//! [dependencies]
//! lamina-socket = { version = "0.1", default-features = false }
//! lamina-netdev = { version = "0.1", default-features = false }
//! lamina-netbuf = { version = "0.1", default-features = false }
//! lamina-drivers-pci = { version = "0.1", default-features = false } # only for its NIC drivers
//! ```
//!
//! Without `std` the checksum picks its SIMD kernel at compile time: build
//! with `-C target-feature=+avx2` (or `+avx512bw`) if your CPUs have it.
//! Every Lamina library crate builds for bare-metal `x86_64-unknown-none`.
//!
//! # Your clock
//!
//! Time is a [`lamina_netbuf::Instant`]: microseconds since an epoch you
//! choose (boot is fine; only differences matter). Convert whatever your
//! timer counts:
//!
//! ```
//! use lamina_netbuf::Instant;
//!
//! /// A free-running counter at `hz` ticks per second (TSC, HPET, CNTVCT).
//! struct TickClock { hz: u64 }
//! impl TickClock {
//!     fn now(&self, ticks: u64) -> Instant {
//!         // u128 so that a fast counter cannot overflow the product.
//!         Instant::from_micros((u128::from(ticks) * 1_000_000 / u128::from(self.hz)) as u64)
//!     }
//! }
//! let clock = TickClock { hz: 2_500_000_000 };
//! assert_eq!(clock.now(5_000_000_000), Instant::from_secs(2));
//! ```
//!
//! # Your randomness
//!
//! Initial sequence numbers, SYN-cookie and ISN keys, ephemeral ports and
//! IP identifiers come from the [`lamina_netbuf::Rng`] you pass to
//! [`Interface::new`](crate::Interface::new) and
//! [`SocketSet::new`](crate::SocketSet::new). [`lamina_netbuf::SeededRng`]
//! is reproducible, not secret: in production seed it from real entropy
//! (RDSEED, a hardware RNG, a boot-time seed), or implement `Rng` yourself,
//! which only needs `next_u64`.
//!
//! # Your `Device`
//!
//! A driver implements [`lamina_netdev::Device`]. `receive` lends a received
//! frame ([`RxToken`](lamina_netdev::RxToken)) together with a
//! [`TxToken`](lamina_netdev::TxToken) for a reply; `transmit` lends a
//! buffer to build a frame in, or says `None` when the ring is full
//! (back-pressure: the stack keeps the frame and tries later; a TCP
//! connection keeps the rest of its window in its send buffer rather than
//! queue it for the device, and [`Interface::poll_at`](crate::Interface::poll_at)
//! asks for the next poll at once). In a real
//! driver the tokens borrow DMA buffers and descriptors; here a toy NIC
//! keeps its rings in `Vec`s, and the whole stack answers an ARP request
//! that "arrived" on it:
//!
//! ```
//! use std::collections::VecDeque; // alloc::collections in a no_std kernel
//! use core::net::Ipv4Addr;
//! use lamina_arp::{ArpOperation, ArpPacket, ArpRepr};
//! use lamina_ethernet::{EthernetFrame, MacAddr};
//! use lamina_netbuf::{serialize::EmptyBody, Instant, SeededRng, Serializer};
//! use lamina_netdev::{Capabilities, Device, Error, Medium, RxToken, Stats, TxToken};
//! use lamina_socket::{Interface, InterfaceConfig, SocketSet};
//!
//! /// The rings of a toy NIC: frames the hardware received, frames it sent.
//! #[derive(Default)]
//! struct ToyNic { rx: VecDeque<Vec<u8>>, tx: Vec<Vec<u8>>, stats: Stats }
//!
//! struct ToyRx(Vec<u8>);
//! struct ToyTx<'a> { tx: &'a mut Vec<Vec<u8>>, stats: &'a mut Stats }
//!
//! impl RxToken for ToyRx {
//!     fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
//!         f(&mut self.0) // a driver would recycle the descriptor afterwards
//!     }
//! }
//! impl TxToken for ToyTx<'_> {
//!     fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> Result<R, Error> {
//!         if len > 1514 {
//!             return Err(Error::FrameTooLong { len, max: 1514 });
//!         }
//!         let mut buf = vec![0; len]; // a driver writes into the descriptor's buffer
//!         let r = f(&mut buf);
//!         self.stats.count_tx(len);
//!         self.tx.push(buf); // ...and rings the doorbell, now or in `flush`
//!         Ok(r)
//!     }
//! }
//! impl Device for ToyNic {
//!     type RxToken<'a> = ToyRx;
//!     type TxToken<'a> = ToyTx<'a>;
//!     fn receive(&mut self, _now: Instant) -> Option<(ToyRx, ToyTx<'_>)> {
//!         let frame = self.rx.pop_front()?;
//!         self.stats.count_rx(frame.len());
//!         Some((ToyRx(frame), ToyTx { tx: &mut self.tx, stats: &mut self.stats }))
//!     }
//!     fn transmit(&mut self, _now: Instant) -> Option<ToyTx<'_>> {
//!         let room = self.tx.len() < 256; // a full ring says None
//!         room.then(|| ToyTx { tx: &mut self.tx, stats: &mut self.stats })
//!     }
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::new(Medium::Ethernet, 1500)
//!     }
//!     fn stats(&self) -> Stats {
//!         self.stats
//!     }
//! }
//!
//! let (our_mac, our_ip) = (MacAddr::new(2, 0, 0, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1));
//! let mut rng = SeededRng::new(0x5eed); // from real entropy in production
//! let mut nic = ToyNic::default();
//! let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
//! let id = iface.add_device(&nic, our_mac)?;
//! iface.add_address(id, "192.0.2.1/24".parse()?, Instant::ZERO)?;
//! let mut sockets = SocketSet::new(16, &mut rng);
//!
//! // A neighbour asks who has 192.0.2.1.
//! let ask = ArpRepr::request(MacAddr::new(2, 0, 0, 0, 0, 2), Ipv4Addr::new(192, 0, 2, 2), our_ip);
//! let frame = EmptyBody.wrap_in(ask).wrap_in(ask.ethernet_repr()).serialize_vec(0)?;
//! nic.rx.push_back(frame.into_vec());
//!
//! iface.poll(Instant::from_millis(1), &mut nic, &mut sockets);
//!
//! // Among what the NIC sent (gratuitous announcements first): the reply.
//! let replied = nic.tx.iter().any(|f| {
//!     let eth = EthernetFrame::parse(f).unwrap();
//!     let arp = ArpPacket::parse(eth.payload()).unwrap();
//!     arp.operation() == ArpOperation::REPLY && arp.sender_protocol_addr() == our_ip
//! });
//! assert!(replied);
//! assert_eq!(nic.stats().rx_packets, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The interface receives in bursts through `Device::poll_rx` (and
//! `poll_rx_keep` where frames are large enough to keep), whose defaults
//! call `receive` once per frame. A driver that walks its ring in a loop
//! may implement both itself and skip the token per frame: take the next
//! frame, call the handler with it (and a token for a reply), give the
//! buffer back. The in-memory wire does; on small frames that cut its
//! cost per datagram by about a tenth.
//!
//! Checksum offloads go in the [`Capabilities`](lamina_netdev::Capabilities)
//! you report, per frame through `TxToken::set_meta` and `RxToken::meta`.
//! Several devices go to `poll` as a tuple or a slice
//! ([`DeviceSet`](crate::devices::DeviceSet)).
//!
//! A driver whose receive buffers can leave it (and be refilled from a
//! pool) may also answer `RxToken::can_keep` with `true` and implement
//! `consume_keep` and `Device::recycle`: the interface then queues large
//! TCP payloads (frames of 8 KiB and more, filling at least half of the
//! largest frame) in the buffer they arrived in instead of copying them,
//! and hands each buffer back through `recycle` once the application has
//! read it. The defaults (never keep) are always correct.
//!
//! A device that segments TCP itself says so with
//! [`Capabilities::tso`](lamina_netdev::Capabilities::tso) (and TCP
//! checksum offload): the interface then hands it batches of full
//! segments in one frame of up to 64 KiB, with the segment size in
//! `TxMeta::tso_mss` and the header offsets beside it; cut them as
//! [`lamina_netdev::gso::segment_tcp_ipv4`] does (which a driver may
//! also call, to segment in software). A device whose peer coalesces
//! received segments (GRO, a TAP with offloads) reports its longest
//! frame in [`Capabilities::max_rx_len`](lamina_netdev::Capabilities::max_rx_len),
//! so that the interface knows such frames are worth keeping.
//! `TapDevice::with_offloads` does both, with the Linux kernel on the
//! other side.
//!
//! A device that can send a payload from memory it does not own (a
//! scatter-gather NIC that pins the buffer until the frame is out, a
//! loopback or in-process link) sets
//! [`Capabilities::shared_payloads`](lamina_netdev::Capabilities::shared_payloads)
//! and implements `TxToken::consume_shared`: on routes whose MTU is at
//! least 8 KiB, the interface then hands it the headers to write and a
//! `bytes::Bytes` referring to the connection's send buffer, so the
//! payload is never copied on the way out (a device that keeps the
//! `Bytes` until its DMA completes is all it takes). A receiving device
//! may deliver such a frame as `RxEvent::Shared` (headers and payload
//! apart): the interface queues a large TCP payload where it is. The
//! default `consume_shared` copies, so every device is correct without
//! it.
//!
//! # Your `Hal`, for the PCI drivers
//!
//! `lamina-drivers-pci` brings e1000 and virtio-net drivers that already
//! implement `Device`. They reach the hardware through two traits you
//! implement: `pci::ConfigAccess` (configuration space through port I/O or
//! ECAM) and the `unsafe trait Hal`: zeroed, contiguous, 4 KiB-aligned DMA
//! memory with its bus address, BAR mappings, an optional IOMMU or
//! bounce-buffer hook, a delay. The trait's safety contract is what makes
//! the drivers sound; read it before writing one. Then
//! `E1000::probe(&mut config_access, pci_address, your_hal, Config::default())`
//! gives a `Device`. The crate's documentation has
//! [a compiled sketch](https://docs.rs/lamina-drivers-pci/latest/lamina_drivers_pci/#embedding-your-hal)
//! of both traits for a kernel that identity-maps physical memory; for
//! tests its `fake::FakeHal` (feature `std`) is heap memory with checked,
//! IOMMU-like device access, and on Linux the `linux` feature has sysfs and
//! VFIO HALs (the `nic-ping` example runs this whole stack on them).
//!
//! # The loop
//!
//! [`Interface::poll`](crate::Interface::poll) does the pending work at
//! `now` and says whether anything moved;
//! [`Interface::poll_at`](crate::Interface::poll_at) says when there is
//! next something to do. Your network task polls until nothing moves, lets
//! the applications use their sockets, and sleeps until that instant or a
//! NIC interrupt, whichever comes first (a deadline already past returns at
//! once: socket calls only queue work, and `poll_at` then answers "now").
//! Here with a fake clock, a loopback NIC and a datagram to ourselves:
//!
//! ```
//! use core::cell::Cell;
//! use lamina_ethernet::MacAddr;
//! use lamina_netbuf::{Duration, Instant, SeededRng};
//! use lamina_netdev::{Device, Loopback};
//! use lamina_socket::{Interface, InterfaceConfig, SocketSet, UdpSocket};
//!
//! /// A kernel's network task: `clock` reads your timer, `serve` runs the
//! /// applications (false: stop), `sleep` waits for the deadline (`None`:
//! /// none) or an interrupt.
//! fn network_task<D: Device>(
//!     iface: &mut Interface,
//!     nic: &mut D,
//!     sockets: &mut SocketSet,
//!     clock: impl Fn() -> Instant,
//!     mut serve: impl FnMut(&mut SocketSet) -> bool,
//!     mut sleep: impl FnMut(Option<Instant>),
//! ) {
//!     loop {
//!         let now = clock();
//!         while iface.poll(now, &mut *nic, sockets) {}
//!         if !serve(sockets) {
//!             return;
//!         }
//!         sleep(iface.poll_at(&mut *nic, sockets));
//!     }
//! }
//!
//! let mut rng = SeededRng::new(7);
//! let mut nic = Loopback::default();
//! let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
//! let id = iface.add_device(&nic, MacAddr::new(2, 0, 0, 0, 0, 1))?;
//! iface.add_address(id, "192.0.2.1/24".parse()?, Instant::ZERO)?;
//! let mut sockets = SocketSet::new(4, &mut rng);
//! let udp = sockets.add(UdpSocket::default())?;
//! sockets.bind_udp(udp, "192.0.2.1:7".parse()?)?;
//!
//! let time = Cell::new(Instant::ZERO);
//! let (mut sent, mut got) = (false, Vec::new());
//! network_task(&mut iface, &mut nic, &mut sockets, || time.get(),
//!     |s| {
//!         let sock = s.udp(udp).unwrap();
//!         if !sent {
//!             sent = sock.send_to(b"to myself", "192.0.2.1:7".parse().unwrap()).is_ok();
//!         }
//!         let mut buf = [0u8; 64];
//!         if let Ok((n, _from)) = sock.recv_from(&mut buf) {
//!             got.extend_from_slice(&buf[..n]);
//!         }
//!         got.is_empty()
//!     },
//!     // A fake sleep: jump to the deadline, or a little when there is none.
//!     |deadline| time.set(deadline.unwrap_or(time.get() + Duration::from_millis(10)).max(time.get())),
//! );
//! assert_eq!(got, b"to myself");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The [`testing`](super::testing) guide runs whole networks this way.
