//! Writing tests with the fake clock and virtual wires: whole networks in
//! one thread, reproducible to the bit, where a 60-second timeout takes
//! microseconds.
//!
//! Nothing in Lamina reads a clock, so a test owns time: `now` is an
//! [`Instant`](lamina_netbuf::Instant) variable. Each host answers
//! [`poll_at`](crate::Interface::poll_at) with its next timer (and each
//! in-memory device with its next delivery, through
//! [`Device::poll_at`](lamina_netdev::Device::poll_at)), so the test polls
//! every host until nothing moves, then jumps `now` to the earliest of
//! those instants. Idle waiting costs nothing.
//!
//! # The pieces
//!
//! - [`lamina_netdev::wire`]`(config)`: two [`Port`](lamina_netdev::Port)s
//!   joined full duplex; [`lamina_netdev::hub`]`(n, config)`: `n` ports on
//!   a shared medium (every frame to all others). A
//!   [`LinkConfig`](lamina_netdev::LinkConfig) sets latency, bandwidth,
//!   MTU, queue length (tail drop) and checksum offloads.
//! - [`FaultInjector`](lamina_netdev::FaultInjector) wraps any device and
//!   applies a [`FaultConfig`](lamina_netdev::FaultConfig) per direction:
//!   loss, duplication, reordering, single-bit corruption, delay with
//!   jitter, a token-bucket rate limit. Its seed fixes every draw, per
//!   frame (not per poll), so a failing test fails the same way every run;
//!   [`fault_stats`](lamina_netdev::FaultInjector::fault_stats) counts what
//!   it did.
//! - [`TxLimit`](lamina_netdev::TxLimit) wraps any device in a transmit
//!   ring of a few frames that fills, as a NIC's does: `transmit` says
//!   `None` until the stack polls again (or, with `manual`, until the test
//!   calls `refill`). The stack then holds its data back rather than lose
//!   it; a ring of `Some(0)` is a dead transmitter.
//! - [`Interface`](crate::Interface) and [`SocketSet`](crate::SocketSet)
//!   take a [`SeededRng`](lamina_netbuf::SeededRng): ISNs, ports and IP
//!   identifiers are reproducible too.
//! - To see the traffic, wrap a port in
//!   [`pcap::PcapWriter`](lamina_netdev::pcap::PcapWriter) (or every port
//!   of a network in one `pcap::PcapNgFile`, an interface per link) and
//!   open the file in Wireshark (see the [`pcap_replay`](super::pcap_replay)
//!   guide).
//!
//! # Example: 1 MiB of TCP over a lossy, reordering link
//!
//! ```
//! use lamina_ethernet::MacAddr;
//! use lamina_netbuf::{Duration, Instant, SeededRng};
//! use lamina_netdev::{wire, FaultConfig, FaultInjector, LinkConfig, Port};
//! use lamina_socket::{Interface, InterfaceConfig, SocketSet, TcpSocket};
//!
//! /// One simulated host: an interface, its device, its sockets.
//! struct Host { iface: Interface, dev: FaultInjector<Port>, sockets: SocketSet }
//!
//! impl Host {
//!     fn new(n: u8, dev: FaultInjector<Port>, cidr: &str) -> Host {
//!         let mut rng = SeededRng::new(u64::from(n));
//!         let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
//!         let id = iface.add_device(&dev, MacAddr::new(2, 0, 0, 0, 0, n)).unwrap();
//!         iface.add_address(id, cidr.parse().unwrap(), Instant::ZERO).unwrap();
//!         Host { iface, dev, sockets: SocketSet::new(16, &mut rng) }
//!     }
//! }
//!
//! /// Polls every host until none makes progress, then moves the clock to
//! /// the earliest instant any host or device asked for.
//! fn step(hosts: &mut [&mut Host], now: &mut Instant) {
//!     let mut busy = true;
//!     while busy {
//!         busy = false;
//!         for h in hosts.iter_mut() {
//!             busy |= h.iface.poll(*now, &mut h.dev, &mut h.sockets);
//!         }
//!     }
//!     let next = hosts.iter_mut().filter_map(|h| h.iface.poll_at(&mut h.dev, &h.sockets)).min();
//!     // "Now" (sockets with queued data) still lets time move on a little.
//!     *now = next.unwrap_or(*now).max(*now + Duration::from_micros(10));
//! }
//!
//! let link = LinkConfig::new().with_latency(Duration::from_millis(5));
//! let faults = FaultConfig::new().with_loss(0.02).with_reorder(0.01, 3);
//! let (pa, pb) = wire(link);
//! let mut a = Host::new(1, FaultInjector::new(pa, 11).with_tx(faults), "192.0.2.1/24");
//! let mut b = Host::new(2, FaultInjector::new(pb, 22).with_tx(faults), "192.0.2.2/24");
//!
//! let listener = b.sockets.add(TcpSocket::default())?;
//! b.sockets.listen_tcp(listener, "0.0.0.0:80".parse()?, 8)?;
//! let client = a.sockets.add(TcpSocket::default())?;
//! a.sockets.connect_tcp(client, "192.0.2.2:80".parse()?, None)?;
//!
//! let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
//! let (mut sent, mut got, mut server) = (0, Vec::new(), None);
//! let mut now = Instant::ZERO;
//! let mut buf = [0u8; 16 * 1024];
//! while got.len() < data.len() {
//!     assert!(now < Instant::from_secs(120), "stalled at {} bytes", got.len());
//!     if let Ok(n) = a.sockets.tcp(client)?.send(&data[sent..]) {
//!         sent += n;
//!     }
//!     if server.is_none() {
//!         server = b.sockets.accept_tcp(listener).ok();
//!     }
//!     if let Some(s) = server {
//!         while let Ok(n @ 1..) = b.sockets.tcp(s)?.recv(&mut buf) {
//!             got.extend_from_slice(&buf[..n]);
//!         }
//!     }
//!     step(&mut [&mut a, &mut b], &mut now);
//! }
//! assert_eq!(got, data);
//! let stats = a.sockets.tcp(client)?.connection().unwrap().stats();
//! assert!(stats.retransmits > 0 && a.dev.fault_stats().tx.dropped > 0);
//! println!("1 MiB in {} ms of simulated time, {} retransmissions", now.total_millis(), stats.retransmits);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # More hosts
//!
//! A host with several devices polls them as a set: a slice of ports
//! (`&mut devs[..]`) or a tuple of devices of different types (see
//! [`DeviceSet`](crate::devices::DeviceSet)); a device's index in the set
//! is its [`IfaceId`](lamina_ipv4::IfaceId). A router is such a host with
//! [`InterfaceConfig::forwarding`](crate::InterfaceConfig::forwarding) on
//! (or `set_forwarding(true)`), and the hosts behind it point at it with
//! [`set_default_gateway`](crate::Interface::set_default_gateway). Packet
//! hooks (a `lamina-filter` firewall or NAT) go in with
//! [`Interface::with_hooks`](crate::Interface::with_hooks). Three hosts on
//! a hub, one of them answering pings for two addresses:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ethernet::MacAddr;
//! use lamina_ipv4::IfaceId;
//! use lamina_netbuf::{Instant, SeededRng};
//! use lamina_netdev::{hub, LinkConfig, Port};
//! use lamina_socket::{IcmpSocket, Interface, InterfaceConfig, SocketSet};
//!
//! let mut rng = SeededRng::new(3);
//! let now = Instant::ZERO;
//! let mut hosts: Vec<(Interface, Port, SocketSet)> = Vec::new();
//! for (n, port) in hub(3, LinkConfig::new()).into_iter().enumerate() {
//!     let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
//!     iface.add_device(&port, MacAddr::new(2, 0, 0, 0, 0, n as u8 + 1))?;
//!     iface.add_address(IfaceId(0), format!("192.0.2.{}/24", n + 1).parse()?, now)?;
//!     hosts.push((iface, port, SocketSet::new(4, &mut rng)));
//! }
//! hosts[2].0.add_address(IfaceId(0), "192.0.2.33/24".parse()?, now)?;
//!
//! let (iface, port, sockets) = &mut hosts[0];
//! let ping = sockets.add(IcmpSocket::default())?;
//! sockets.bind_icmp(ping, None)?;
//! sockets.icmp(ping)?.send_echo(Ipv4Addr::new(192, 0, 2, 2), 1, b"to two")?;
//! sockets.icmp(ping)?.send_echo(Ipv4Addr::new(192, 0, 2, 33), 2, b"to three")?;
//! iface.poll(now, port, sockets);
//! // No latency: polling every host a few times at the same instant settles it.
//! for _ in 0..4 {
//!     for (iface, port, sockets) in hosts.iter_mut() {
//!         iface.poll(now, port, sockets);
//!     }
//! }
//! let (_, _, sockets) = &mut hosts[0];
//! let mut seqs = vec![sockets.icmp(ping)?.recv_echo()?.seq_no, sockets.icmp(ping)?.recv_echo()?.seq_no];
//! seqs.sort();
//! assert_eq!(seqs, [1, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Habits that keep simulations honest
//!
//! - Bound every loop by simulated time (`assert!(now < limit)`), so a
//!   stall fails instead of hanging.
//! - Assert on counters, not just outcomes: `Interface::stats`, the
//!   devices' [`Stats`](lamina_netdev::Stats), `fault_stats`, and
//!   `TcpSocket::connection().stats()` tell whether loss was really
//!   exercised.
//! - Keep seeds in the test, and vary them in a loop when hunting bugs: a
//!   failing seed replays exactly. Lamina's own scans work so:
//!   `socket/tests/lifecycle.rs` draws whole networks from a seed (faulty
//!   wires, transmit rings, a NAT router or none, one client host or
//!   several behind it, routes narrower than links, clients that connect,
//!   write, half-close, abort or send datagrams at random) and checks
//!   what must hold whatever happened — every byte as sent or not at all,
//!   no socket or conntrack flow left once the timers have run;
//!   `LAMINA_LIFECYCLE_SEEDS=0..100000 cargo test --release -p
//!   lamina-socket --test lifecycle` runs a range, and a failure names
//!   its seed.
//! - Timing belongs in benchmarks (`benches/`), never in assertions.
